//! Time-based one-time passwords (RFC 6238) for two-step sign-in, with the
//! base32 and `otpauth://` helpers authenticator apps expect.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::token::random_bytes;

/// Authenticator apps universally assume these three values, so they are
/// fixed rather than configurable.
const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;
const MODULUS: u32 = 1_000_000;

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new shared secret: 20 bytes, the HMAC-SHA1 output size RFC 4226
/// recommends.
pub fn generate_secret() -> Vec<u8> {
    random_bytes::<20>().to_vec()
}

/// RFC 4648 base32, uppercase, without `=` padding (the form used in
/// `otpauth://` URIs).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 as people type or paste it: any case, spaces and `=`
/// ignored. `None` on any other character or an impossible length.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    let mut symbols = 0usize;
    for c in s.chars() {
        if c == '=' || c.is_whitespace() {
            continue;
        }
        let upper = c.to_ascii_uppercase();
        let value = match upper {
            'A'..='Z' => upper as u32 - 'A' as u32,
            '2'..='7' => upper as u32 - '2' as u32 + 26,
            _ => return None,
        };
        symbols += 1;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        // Keep only the bits not yet emitted so the buffer never overflows.
        buffer &= (1 << bits) - 1;
    }
    // 1, 3 or 6 trailing symbols cannot come from any whole number of bytes.
    if matches!(symbols % 8, 1 | 3 | 6) {
        return None;
    }
    Some(out)
}

fn code_for_step(secret: &[u8], step: u64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // RFC 4226 dynamic truncation.
    let offset = usize::from(digest[19] & 0x0f);
    let bin = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    bin % MODULUS
}

fn format_code(code: u32) -> String {
    format!("{code:0width$}", width = DIGITS)
}

/// The 6-digit code for the 30-second step containing `unix_seconds`.
pub fn code_at(secret: &[u8], unix_seconds: u64) -> String {
    format_code(code_for_step(secret, unix_seconds / STEP_SECONDS))
}

/// Checks `code` against the steps within `skew_steps` of `unix_seconds`
/// (clocks drift and people type slowly) and returns the step that matched.
/// Callers store that step and refuse codes for it or earlier ones, so a code
/// seen over someone's shoulder cannot be replayed.
///
/// Every candidate step is compared, in constant time, even after a match, so
/// timing does not reveal which step (if any) matched.
pub fn verify(secret: &[u8], code: &str, unix_seconds: u64, skew_steps: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = unix_seconds / STEP_SECONDS;
    let first = current.saturating_sub(skew_steps);
    let last = current.saturating_add(skew_steps);
    let mut matched = None;
    for step in first..=last {
        let expected = format_code(code_for_step(secret, step));
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://totp/...` URI that authenticator apps read from a QR code.
/// The issuer appears both in the label and as a parameter, as the Key URI
/// format recommends; an empty issuer is left out.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let secret = base32_encode(secret);
    let account = percent_encode(account);
    if issuer.is_empty() {
        return format!(
            "otpauth://totp/{account}?secret={secret}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
        );
    }
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(percent_encode("a b@c:d"), "a%20b%40c%3Ad");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn otpauth_uri_shape() {
        let uri = otpauth_uri("Kith Co", "ann@example.com", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Kith%20Co:ann%40example.com?secret=MZXW6YTBOI&issuer=Kith%20Co\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(otpauth_uri("", "ann", b"f"), "otpauth://totp/ann?secret=MY&algorithm=SHA1&digits=6&period=30");
    }

    #[test]
    fn base32_rejects_bad_input() {
        assert_eq!(base32_decode("MZ1"), None);
        assert_eq!(base32_decode("M"), None);
        assert_eq!(base32_decode("MZX"), None);
        assert_eq!(base32_decode(""), Some(vec![]));
    }

    #[test]
    fn verify_rejects_non_digits() {
        let secret = b"12345678901234567890";
        assert_eq!(verify(secret, "12345", 59, 1), None);
        assert_eq!(verify(secret, "1234567", 59, 1), None);
        assert_eq!(verify(secret, "28708a", 59, 1), None);
        assert_eq!(verify(secret, "", 59, 1), None);
    }

    #[test]
    fn verify_near_epoch_does_not_underflow() {
        let secret = b"12345678901234567890";
        let code = code_at(secret, 0);
        assert_eq!(verify(secret, &code, 0, 5), Some(0));
    }

    #[test]
    fn generated_secret_is_20_bytes() {
        assert_eq!(generate_secret().len(), 20);
        assert_ne!(generate_secret(), generate_secret());
    }
}
