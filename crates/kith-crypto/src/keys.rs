use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::CryptoError;
use crate::token::{hmac_sha256, random_bytes, sha256};

const KEY_ID_DOMAIN: &[u8] = b"kith-key-id\0";
const DERIVE_DOMAIN: &[u8] = b"kith-derive-v1\0";

/// A 256-bit symmetric key. The bytes are wiped when the value is dropped.
///
/// Wiping is best effort: moves of the value may leave copies on the stack
/// that Rust gives us no way to reach.
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        Self(random_bytes::<32>())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Accepts exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::MalformedKey)?;
        Ok(Self(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard, padded base64 (the form used for `KITH_MASTER_KEY`).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard padded base64, ignoring surrounding whitespace (key
    /// files usually end with a newline).
    pub fn from_base64(s: &str) -> Result<Self, CryptoError> {
        let decoded = Zeroizing::new(STANDARD.decode(s.trim()).map_err(|_| CryptoError::MalformedKey)?);
        Self::from_slice(&decoded)
    }

    /// A short, stable name for this key (8 lowercase hex chars) so that
    /// sealed data and logs can say which key was used without revealing it.
    /// Domain-separated so it can never collide with another use of SHA-256
    /// over the key.
    pub fn id(&self) -> String {
        let mut input = Zeroizing::new(Vec::with_capacity(KEY_ID_DOMAIN.len() + 32));
        input.extend_from_slice(KEY_ID_DOMAIN);
        input.extend_from_slice(&self.0);
        hex::encode(&sha256(&input)[..4])
    }

    /// Derives an independent subkey for `purpose` (e.g. `"user-secrets"`).
    /// Deterministic, so the same master key always yields the same subkey;
    /// distinct purposes give unrelated keys.
    pub fn derive(&self, purpose: &str) -> SecretKey {
        let mut message = Vec::with_capacity(DERIVE_DOMAIN.len() + purpose.len());
        message.extend_from_slice(DERIVE_DOMAIN);
        message.extend_from_slice(purpose.as_bytes());
        SecretKey(hmac_sha256(&self.0, &message))
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self(self.0)
    }
}

/// Constant-time, so comparing keys cannot leak how many bytes matched.
impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretKey {}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Shows only the key id: key bytes must never reach logs or panic messages.
impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_whitespace() {
        let key = SecretKey::generate();
        let text = format!("  {}\n", key.to_base64());
        assert_eq!(SecretKey::from_base64(&text).unwrap(), key);
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        assert!(matches!(SecretKey::from_slice(&[0u8; 31]), Err(CryptoError::MalformedKey)));
        let short = STANDARD.encode([1u8; 16]);
        assert!(matches!(SecretKey::from_base64(&short), Err(CryptoError::MalformedKey)));
        assert!(matches!(SecretKey::from_base64("not base64!"), Err(CryptoError::MalformedKey)));
    }

    #[test]
    fn id_matches_definition() {
        let key = SecretKey::from_bytes([7u8; 32]);
        let mut input = b"kith-key-id\0".to_vec();
        input.extend_from_slice(&[7u8; 32]);
        let expected = hex::encode(&sha256(&input)[..4]);
        assert_eq!(key.id(), expected);
        assert_eq!(key.id().len(), 8);
        assert!(key.id().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn derive_is_deterministic_and_purpose_bound() {
        let key = SecretKey::from_bytes([9u8; 32]);
        assert_eq!(key.derive("user-secrets"), key.derive("user-secrets"));
        assert_ne!(key.derive("user-secrets"), key.derive("search"));
        assert_ne!(&key.derive("user-secrets"), &key);
        let mut msg = b"kith-derive-v1\0".to_vec();
        msg.extend_from_slice(b"search");
        assert_eq!(key.derive("search").as_bytes(), &hmac_sha256(&[9u8; 32], &msg));
    }

    #[test]
    fn debug_shows_only_id() {
        let key = SecretKey::from_bytes([0xAB; 32]);
        let shown = format!("{key:?}");
        assert_eq!(shown, format!("SecretKey({})", key.id()));
        assert!(!shown.contains(&key.to_base64()));
        assert!(!shown.contains(&hex::encode(key.as_bytes())));
    }
}
