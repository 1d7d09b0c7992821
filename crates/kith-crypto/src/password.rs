use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::CryptoError;
use crate::token::random_bytes;

// Argon2id parameters: the OWASP Password Storage Cheat Sheet's minimum
// recommendation (19 MiB of memory, 2 passes, 1 lane). Memory hardness is
// what makes GPU/ASIC guessing expensive; these values keep a sign-in at
// tens of milliseconds on small self-hosted machines while staying within
// the recommended floor. Raising them is safe at any time: stored hashes
// carry their own parameters and keep verifying.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_PARALLELISM: u32 = 1;

// Upper bounds on parameters read back from a stored hash. A hash written by
// someone with database access could otherwise ask for terabytes of memory
// and take the process down during a sign-in attempt.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;

/// A fixed Argon2id hash (of a random password nobody knows) with the current
/// parameters, for [`dummy_verify`]. Generated once with [`hash_password`].
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$aOK/VqXC4QNfzOCLsQ3fMA$GUWgBSSyQzDo++1VZxVjDBgRsSPv0mGF1Q3LpRXkrWc";

fn hasher() -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, None)
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with Argon2id and a fresh 16-byte random salt, returning
/// the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|e| CryptoError::PasswordHash(e.to_string()))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))
}

/// Checks `password` against a stored PHC string, using the parameters stored
/// in it. Anything that is not a well-formed Argon2id hash within sane cost
/// limits is simply `false`.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_MEMORY_KIB || params.t_cost() > MAX_ITERATIONS || params.p_cost() > MAX_PARALLELISM {
        return false;
    }
    // The verifier re-hashes with the hash's own parameters and compares the
    // outputs in constant time.
    Argon2::default().verify_password(password.as_bytes(), &hash).is_ok()
}

/// Spends the same work as a real [`verify_password`] and throws the result
/// away. Call it when the account does not exist, so response timing does not
/// reveal which email addresses have accounts.
pub fn dummy_verify(password: &str) {
    std::hint::black_box(verify_password(password, DUMMY_HASH));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_uses_current_parameters() {
        let hash = PasswordHash::new(DUMMY_HASH).expect("dummy hash parses");
        assert_eq!(hash.algorithm, Algorithm::Argon2id.ident());
        let params = Params::try_from(&hash).unwrap();
        assert_eq!(params.m_cost(), ARGON2_MEMORY_KIB);
        assert_eq!(params.t_cost(), ARGON2_ITERATIONS);
        assert_eq!(params.p_cost(), ARGON2_PARALLELISM);
        assert_eq!(hash.version, Some(Version::V0x13.into()));
    }

    #[test]
    fn other_algorithms_are_refused() {
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, None).unwrap(),
        );
        let salt = SaltString::encode_b64(&[5u8; 16]).unwrap();
        let phc = argon2i.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(phc.starts_with("$argon2i$"));
        assert!(!verify_password("pw", &phc));
    }

    #[test]
    fn excessive_cost_is_refused_without_running() {
        let phc = "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                   0000000000000000000000000000000000000000000";
        // Well-formed, so only the cost check can refuse it.
        assert!(PasswordHash::new(phc).is_ok());
        assert!(!verify_password("pw", phc));
    }
}
