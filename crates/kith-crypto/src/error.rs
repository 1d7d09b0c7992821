/// Everything that can go wrong in this crate.
///
/// Messages are deliberately vague about *why* opening failed: a wrong key and
/// a tampered value look the same to an attacker and to the caller.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("malformed key")]
    MalformedKey,
    #[error("malformed sealed value")]
    Malformed,
    #[error("sealed value could not be opened: wrong key or wrong scope")]
    OpenFailed,
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}
