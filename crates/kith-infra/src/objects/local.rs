//! The local-folder backend: one file per object at `<root>/<key>`,
//! written to `<root>/.tmp/<random>` first, synced and renamed into place
//! (atomic on one file system). Keys were checked by the caller.

use super::{ByteStream, Meter, Object, ObjectError, PutInfo};
use bytes::Bytes;
use futures_util::stream::StreamExt;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes read per chunk when streaming an object out.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: &Path) -> Result<LocalStore, ObjectError> {
        std::fs::create_dir_all(root.join(".tmp"))
            .map_err(|e| ObjectError::Config(format!("cannot create the object folder {}: {e}", root.display())))?;
        Ok(LocalStore { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(key.split('/'));
        p
    }

    pub async fn put(&self, key: &str, mut body: ByteStream, max: u64) -> Result<PutInfo, ObjectError> {
        let tmp = self.root.join(".tmp").join(uuid::Uuid::new_v4().simple().to_string());
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut meter = Meter::new(max);
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                meter.add(&chunk)?;
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            drop(file);
            let dest = self.path(key);
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(&tmp, &dest).await?;
            Ok::<PutInfo, ObjectError>(meter.finish())
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    pub async fn get(&self, key: &str) -> Result<Option<Object>, ObjectError> {
        let file = match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let meta = file.metadata().await?;
        if !meta.is_file() {
            return Ok(None);
        }
        let body = futures_util::stream::try_unfold(file, |mut file| async move {
            let mut buf = vec![0u8; READ_CHUNK];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), file)))
        })
        .boxed();
        Ok(Some(Object { size: meta.len(), body }))
    }

    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove the folder `<root>/<folder>` and everything in it.
    pub async fn delete_prefix(&self, folder: &str) -> Result<u64, ObjectError> {
        let dir = self.path(folder);
        let count = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || count_files(&dir)
        })
        .await
        .map_err(|e| ObjectError::Io(e.to_string()))?;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(count),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

fn count_files(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}
