use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Letters and digits that cannot be confused with one another when read
/// aloud or copied from paper: no `i`, `l`, `o`, `0` or `1`.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// `N` bytes straight from the operating system's randomness.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng.fill_bytes(&mut out);
    out
}

/// A new bearer token: `prefix_` followed by 32 random bytes in unpadded
/// base64url (43 chars). The prefix (e.g. `kith_pat`) lets secret scanners
/// and humans recognise a leaked token; an empty prefix gives the bare value.
pub fn random_token(prefix: &str) -> String {
    let body = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    if prefix.is_empty() {
        body
    } else {
        format!("{prefix}_{body}")
    }
}

/// What gets stored for a token. Tokens carry 256 bits of randomness, so a
/// plain fast hash is enough: there is nothing to brute-force.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Compares in time that depends only on the lengths, never on where the
/// first difference is. Lengths are not treated as secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `n` one-time recovery codes shaped like `abcd-efgh-jkmn`: 12 characters
/// from a 31-symbol alphabet, about 59 bits each.
pub fn recovery_codes(n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let mut code = String::with_capacity(14);
            for i in 0..12 {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                // gen_range samples without modulo bias.
                let idx = OsRng.gen_range(0..RECOVERY_ALPHABET.len());
                code.push(char::from(RECOVERY_ALPHABET[idx]));
            }
            code
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vector() {
        assert_eq!(hex::encode(sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(token_hash("abc"), sha256(b"abc"));
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(random_bytes::<32>(), random_bytes::<32>());
        assert_eq!(random_bytes::<0>(), [0u8; 0]);
    }

    #[test]
    fn empty_prefix_has_no_underscore_separator() {
        let t = random_token("");
        assert_eq!(t.len(), 43);
    }

    #[test]
    fn recovery_codes_shape() {
        let codes = recovery_codes(10);
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 14);
            let parts: Vec<&str> = code.split('-').collect();
            assert_eq!(parts.len(), 3);
            for part in parts {
                assert_eq!(part.len(), 4);
                assert!(part.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)));
            }
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert!(recovery_codes(0).is_empty());
    }
}
