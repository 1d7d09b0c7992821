//! Object storage for files the workspaces keep (attachments): a local
//! folder by default, or any S3-compatible store by URL (DESIGN.md, Files).
//!
//! * Keys are made by Kith (`org/<org_id>/…`) and checked anyway by
//!   [`check_key`]: ASCII letters, digits, `.`, `_`, `-` and `/`-separated
//!   segments, none empty, none starting with a dot — so a key can never
//!   leave the store's folder or bucket.
//! * [`ObjectStore::put_stream`] takes the bytes as a stream, counts and
//!   hashes them (SHA-256) and refuses more than the given cap with
//!   [`ObjectError::TooLarge`] — nothing is kept then.
//! * [`ObjectStore::get`] streams the object back; [`ObjectStore::delete`]
//!   and [`ObjectStore::delete_prefix`] remove one object or every object
//!   under a prefix (a workspace's, a conversation's).
//!
//! The local backend writes to a temporary file in the same folder, syncs
//! it and renames it into place, so a reader never sees half an object. The
//! S3 backend ([`s3`]) speaks path-style HTTP with SigV4 ([`sigv4`]).

pub mod local;
pub mod s3;
pub mod sigv4;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use std::path::PathBuf;
use std::sync::Arc;

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, Result<Bytes, ObjectError>>;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    #[error("the object is larger than {max} bytes")]
    TooLarge { max: u64 },
    #[error("object store configuration: {0}")]
    Config(String),
    #[error("object store I/O: {0}")]
    Io(String),
    #[error("object store: {0}")]
    Remote(String),
}

impl From<std::io::Error> for ObjectError {
    fn from(e: std::io::Error) -> Self {
        ObjectError::Io(e.to_string())
    }
}

/// Where objects live.
#[derive(Debug, Clone)]
pub enum ObjectStoreConfig {
    /// A folder (created when missing).
    Local(PathBuf),
    S3(s3::S3Config),
}

impl ObjectStoreConfig {
    /// `s3://bucket?endpoint=…&region=…` or a folder path (`file:///path` or
    /// a plain path). S3 credentials are passed separately (never in the URL).
    pub fn parse(value: &str, credentials: Option<sigv4::Credentials>) -> Result<Self, ObjectError> {
        let value = value.trim();
        if value.starts_with("s3://") {
            let creds = credentials.ok_or_else(|| {
                ObjectError::Config("an s3:// object store needs an access key id and a secret access key".into())
            })?;
            return Ok(ObjectStoreConfig::S3(s3::S3Config::parse(value, creds)?));
        }
        if let Some(path) = value.strip_prefix("file://") {
            return Ok(ObjectStoreConfig::Local(PathBuf::from(path)));
        }
        if value.is_empty() || value.contains("://") {
            // The value is not echoed: a mistyped URL may hold a secret.
            return Err(ObjectError::Config("use s3://bucket?endpoint=…&region=… or a folder path".into()));
        }
        Ok(ObjectStoreConfig::Local(PathBuf::from(value)))
    }
}

/// What a put stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutInfo {
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// An object being read.
pub struct Object {
    pub size: u64,
    pub body: ByteStream,
}

#[derive(Clone)]
enum Backend {
    Local(local::LocalStore),
    S3(s3::S3Store),
}

/// The object store (cheap to clone).
#[derive(Clone)]
pub struct ObjectStore {
    backend: Arc<Backend>,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe().as_str())
    }
}

impl ObjectStore {
    pub fn new(config: &ObjectStoreConfig) -> Result<ObjectStore, ObjectError> {
        let backend = match config {
            ObjectStoreConfig::Local(dir) => Backend::Local(local::LocalStore::new(dir)?),
            ObjectStoreConfig::S3(c) => Backend::S3(s3::S3Store::new(c.clone())?),
        };
        Ok(ObjectStore { backend: Arc::new(backend) })
    }

    /// The store in words, without secrets (logs).
    pub fn describe(&self) -> String {
        match &*self.backend {
            Backend::Local(l) => format!("folder {}", l.root().display()),
            Backend::S3(s) => s.describe(),
        }
    }

    /// Store a stream under `key` (replacing what was there), at most `max` bytes.
    pub async fn put_stream(&self, key: &str, body: ByteStream, max: u64) -> Result<PutInfo, ObjectError> {
        check_key(key)?;
        match &*self.backend {
            Backend::Local(l) => l.put(key, body, max).await,
            Backend::S3(s) => s.put(key, body, max).await,
        }
    }

    /// Store bytes under `key`.
    pub async fn put(&self, key: &str, bytes: impl Into<Bytes>) -> Result<PutInfo, ObjectError> {
        let bytes: Bytes = bytes.into();
        let max = bytes.len() as u64;
        self.put_stream(key, once(bytes), max).await
    }

    /// The object, streamed; None when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Object>, ObjectError> {
        check_key(key)?;
        match &*self.backend {
            Backend::Local(l) => l.get(key).await,
            Backend::S3(s) => s.get(key).await,
        }
    }

    /// The whole object in memory (small objects only).
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        let Some(mut obj) = self.get(key).await? else { return Ok(None) };
        let mut out = Vec::with_capacity(obj.size.min(64 * 1024 * 1024) as usize);
        while let Some(chunk) = obj.body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Some(out))
    }

    /// Remove one object (no error when it is already gone).
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        check_key(key)?;
        match &*self.backend {
            Backend::Local(l) => l.delete(key).await,
            Backend::S3(s) => s.delete(key).await,
        }
    }

    /// Remove every object whose key starts with `prefix` (a folder-like
    /// prefix ending in `/`, e.g. `org/<id>/`); returns how many went.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, ObjectError> {
        let Some(folder) = prefix.strip_suffix('/') else {
            return Err(ObjectError::InvalidKey("a prefix ends with /".into()));
        };
        check_key(folder)?;
        match &*self.backend {
            Backend::Local(l) => l.delete_prefix(folder).await,
            Backend::S3(s) => s.delete_prefix(prefix).await,
        }
    }
}

/// A stream of one chunk.
pub fn once(bytes: Bytes) -> ByteStream {
    futures_util::stream::once(async move { Ok(bytes) }).boxed()
}

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 512;

/// Refuse a key that is not made of plain segments (see the module doc).
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    let bad =
        |why: &str| Err(ObjectError::InvalidKey(format!("{why}: {:?}", key.chars().take(80).collect::<String>())));
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return bad("empty or too long");
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return bad("empty segment or one starting with a dot");
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
            return bad("characters other than letters, digits, . _ -");
        }
    }
    Ok(())
}

/// Counts and hashes bytes passing through, up to a cap.
pub(crate) struct Meter {
    hasher: sha2::Sha256,
    size: u64,
    max: u64,
}

impl Meter {
    pub fn new(max: u64) -> Meter {
        Meter { hasher: <sha2::Sha256 as sha2::Digest>::new(), size: 0, max }
    }

    pub fn add(&mut self, chunk: &[u8]) -> Result<(), ObjectError> {
        self.size += chunk.len() as u64;
        if self.size > self.max {
            return Err(ObjectError::TooLarge { max: self.max });
        }
        sha2::Digest::update(&mut self.hasher, chunk);
        Ok(())
    }

    pub fn finish(self) -> PutInfo {
        PutInfo { size: self.size, sha256: hex::encode(sha2::Digest::finalize(self.hasher)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_segments() {
        assert!(check_key("org/0190aa/att/abc.bin").is_ok());
        for bad in ["", "/abs", "a//b", "../x", "a/../b", "a/.hidden", "a\\b", "a b", "é", "a/b/", "a\0b"] {
            assert!(check_key(bad).is_err(), "{bad:?} passed");
        }
        assert!(check_key(&"a".repeat(MAX_KEY_LEN + 1)).is_err());
    }

    #[test]
    fn config_parsing() {
        assert!(matches!(ObjectStoreConfig::parse("/var/kith/files", None), Ok(ObjectStoreConfig::Local(_))));
        assert!(matches!(ObjectStoreConfig::parse("file:///tmp/x", None), Ok(ObjectStoreConfig::Local(_))));
        assert!(ObjectStoreConfig::parse("s3://bucket", None).is_err());
        assert!(ObjectStoreConfig::parse("ftp://x", None).is_err());
    }
}
