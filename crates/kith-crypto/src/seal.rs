use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::SecretKey;
use crate::token::random_bytes;

/// Format byte of a sealed value; bump it if the layout or AAD ever changes.
const SEAL_FORMAT_V1: u8 = 1;
/// Format byte of a wrapped key.
const WRAP_FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// format byte + key version.
const SEAL_HEADER_LEN: usize = 1 + 4;
const AAD_DOMAIN: &[u8] = b"kith.seal.v1\0";

/// What a sealed value is bound to (associated data).
///
/// Binding the location means a sealed value copied into another workspace,
/// table, column or row will not open: an attacker with write access to the
/// database cannot move ciphertexts around to get them decrypted elsewhere.
///
/// `table` and `column` are code-defined identifiers and must not contain NUL
/// (NUL separates them in the associated data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealScope<'a> {
    pub org_id: Uuid,
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: Uuid,
}

impl SealScope<'_> {
    /// `"kith.seal.v1\0" || org_id || table || 0 || column || 0 || row_id`
    fn aad(&self) -> Vec<u8> {
        debug_assert!(!self.table.contains('\0') && !self.column.contains('\0'));
        let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + 32 + self.table.len() + self.column.len() + 2);
        aad.extend_from_slice(AAD_DOMAIN);
        aad.extend_from_slice(self.org_id.as_bytes());
        aad.extend_from_slice(self.table.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.column.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.row_id.as_bytes());
        aad
    }
}

fn cipher(key: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.as_bytes().into())
}

/// Encrypts `plaintext` for one cell of the database.
///
/// Layout: `[1][key_version u32 BE][24-byte nonce][ciphertext || tag]`.
/// The 24-byte nonce is random: XChaCha20's nonce is large enough that random
/// nonces will not collide for any realistic number of values under one key.
pub fn seal(key: &SecretKey, key_version: u32, scope: &SealScope<'_>, plaintext: &[u8]) -> Vec<u8> {
    let nonce = random_bytes::<NONCE_LEN>();
    let aad = scope.aad();
    let ciphertext = cipher(key)
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
        // Encryption only fails for inputs larger than ~256 GiB.
        .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");

    let mut out = Vec::with_capacity(SEAL_HEADER_LEN + NONCE_LEN + ciphertext.len());
    out.push(SEAL_FORMAT_V1);
    out.extend_from_slice(&key_version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Reads which key version sealed this value, so the caller can pick the key.
/// The version is not trusted on its own: a tampered version just selects a
/// key under which [`open`] then fails.
pub fn sealed_key_version(sealed: &[u8]) -> Result<u32, CryptoError> {
    if sealed.len() < SEAL_HEADER_LEN + NONCE_LEN + TAG_LEN || sealed[0] != SEAL_FORMAT_V1 {
        return Err(CryptoError::Malformed);
    }
    let version: [u8; 4] = sealed[1..SEAL_HEADER_LEN].try_into().map_err(|_| CryptoError::Malformed)?;
    Ok(u32::from_be_bytes(version))
}

/// Decrypts a value made by [`seal`]. The caller has already chosen `key`
/// from the header's key version.
pub fn open(key: &SecretKey, scope: &SealScope<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    sealed_key_version(sealed)?;
    let (nonce, ciphertext) = sealed[SEAL_HEADER_LEN..].split_at(NONCE_LEN);
    let aad = scope.aad();
    cipher(key)
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
        .map_err(|_| CryptoError::OpenFailed)
}

/// Encrypts one key under another (e.g. a workspace data key under the master
/// key). `context` is bound as associated data, so a wrapped key copied to
/// another workspace's record will not unwrap.
///
/// Layout: `[1][24-byte nonce][32-byte ciphertext || tag]`.
pub fn wrap_key(wrapping: &SecretKey, context: &[u8], key: &SecretKey) -> Vec<u8> {
    let nonce = random_bytes::<NONCE_LEN>();
    let ciphertext = cipher(wrapping)
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: key.as_bytes(), aad: context })
        .expect("XChaCha20-Poly1305 encryption cannot fail for a 32-byte input");

    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(WRAP_FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

pub fn unwrap_key(wrapping: &SecretKey, context: &[u8], wrapped: &[u8]) -> Result<SecretKey, CryptoError> {
    if wrapped.len() != 1 + NONCE_LEN + 32 + TAG_LEN || wrapped[0] != WRAP_FORMAT_V1 {
        return Err(CryptoError::Malformed);
    }
    let (nonce, ciphertext) = wrapped[1..].split_at(NONCE_LEN);
    let plain = Zeroizing::new(
        cipher(wrapping)
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context })
            .map_err(|_| CryptoError::OpenFailed)?,
    );
    SecretKey::from_slice(&plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_layout() {
        let scope = SealScope { org_id: Uuid::from_u128(1), table: "t", column: "c", row_id: Uuid::from_u128(2) };
        let mut expected = b"kith.seal.v1\0".to_vec();
        expected.extend_from_slice(&1u128.to_be_bytes());
        expected.extend_from_slice(b"t\0c\0");
        expected.extend_from_slice(&2u128.to_be_bytes());
        assert_eq!(scope.aad(), expected);
    }

    #[test]
    fn layout_sizes() {
        let key = SecretKey::generate();
        let scope = SealScope { org_id: Uuid::nil(), table: "contacts", column: "notes", row_id: Uuid::nil() };
        let sealed = seal(&key, 3, &scope, b"hello");
        assert_eq!(sealed.len(), 1 + 4 + 24 + 5 + 16);
        assert_eq!(sealed[0], 1);
        assert_eq!(&sealed[1..5], &3u32.to_be_bytes());
        assert_eq!(wrap_key(&key, b"ctx", &key).len(), 1 + 24 + 32 + 16);
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let key = SecretKey::generate();
        let scope = SealScope { org_id: Uuid::nil(), table: "a", column: "b", row_id: Uuid::nil() };
        let sealed = seal(&key, 0, &scope, b"");
        assert_eq!(open(&key, &scope, &sealed).unwrap(), b"");
    }
}
