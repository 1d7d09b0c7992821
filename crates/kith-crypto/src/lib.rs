//! Cryptographic primitives for Kith.
//!
//! This crate is the one place where Kith touches raw cryptography: master and
//! workspace keys, sealing sensitive column values (XChaCha20-Poly1305 bound
//! to the workspace, table, column and row they belong to), wrapping data keys
//! under the master key, blind-index tokens for searching sealed text,
//! Argon2id password hashing, API tokens, TOTP and recovery codes.
//!
//! It holds primitives only: no database, no configuration, no I/O beyond
//! asking the operating system for randomness. Callers decide which key to use
//! (by key id or version) and where the results are stored.
//!
//! Rules this crate must keep:
//! - Never log, print or `Debug`-format key material, plaintext, passwords or
//!   tokens. [`SecretKey`]'s `Debug` shows only its key id.
//! - Never pick keys itself (from config, environment or files); every
//!   operation is handed the key it must use.
//! - Fail closed: anything malformed or unauthenticated is an error (or
//!   `false`/`None`), never a panic and never a partially trusted result.

mod blind;
mod error;
mod keys;
mod password;
mod seal;
mod token;
pub mod totp;

pub use blind::{blind_token, blind_tokens, normalize_word};
pub use error::CryptoError;
pub use keys::SecretKey;
pub use password::{
    dummy_verify, hash_password, verify_password, ARGON2_ITERATIONS, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM,
};
pub use seal::{open, seal, sealed_key_version, unwrap_key, wrap_key, SealScope};
pub use token::{constant_time_eq, hmac_sha256, random_bytes, random_token, recovery_codes, sha256, token_hash};
