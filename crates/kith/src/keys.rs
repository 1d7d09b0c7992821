//! Where the master key comes from: `KITH_MASTER_KEY` (base64), or a key
//! file (`KITH_MASTER_KEY_FILE`, default `<data>/master.key`), generated with
//! mode 0600 on first start. A key file may hold older keys on later lines,
//! still needed during a rotation.

use anyhow::{bail, Context as _, Result};
use kith_app::MasterKeys;
use kith_crypto::SecretKey;
use std::io::Write;
use std::path::Path;

pub enum Source {
    Env,
    File,
}

pub fn load(path: &Path, create: bool) -> Result<(MasterKeys, Source)> {
    if let Ok(text) = std::env::var("KITH_MASTER_KEY") {
        let current = SecretKey::from_base64(&text).context("KITH_MASTER_KEY is not a base64 32-byte key")?;
        let previous = match std::env::var("KITH_MASTER_KEY_PREVIOUS") {
            Ok(list) => list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| SecretKey::from_base64(s).context("KITH_MASTER_KEY_PREVIOUS holds a malformed key"))
                .collect::<Result<Vec<_>>>()?,
            Err(_) => Vec::new(),
        };
        return Ok((MasterKeys { current, previous }, Source::Env));
    }
    if !path.exists() {
        if !create {
            bail!("no master key at {} (and KITH_MASTER_KEY is not set)", path.display());
        }
        let key = SecretKey::generate();
        write_key_file(path, &[&key])?;
        tracing::warn!(
            path = %path.display(),
            "GENERATED A NEW MASTER KEY. It encrypts every workspace's keys: back it up separately. \
             A backup of the data folder now carries its own key; set KITH_MASTER_KEY_FILE to keep the key elsewhere."
        );
        return Ok((MasterKeys::single(key), Source::File));
    }
    check_permissions(path);
    let text = std::fs::read_to_string(path).with_context(|| format!("reading master key {}", path.display()))?;
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| SecretKey::from_base64(l).with_context(|| format!("malformed key in {}", path.display())));
    let current = keys.next().with_context(|| format!("{} holds no key", path.display()))??;
    let previous = keys.collect::<Result<Vec<_>>>()?;
    Ok((MasterKeys { current, previous }, Source::File))
}

/// Write keys (current first) atomically with mode 0600.
pub fn write_key_file(path: &Path, keys: &[&SecretKey]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    writeln!(f, "# Kith master key: the first line is current; later lines are older keys kept during a rotation.")?;
    for k in keys {
        writeln!(f, "{}", k.to_base64())?;
    }
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn check_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the master key file is readable by other users; run chmod 600 on it");
            }
        }
    }
}
