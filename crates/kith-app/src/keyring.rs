//! The keyring: the master key (from the operator), each workspace's data
//! keys (random, stored wrapped by the master key), and the key for user
//! secrets (derived from the master key).
//!
//! Sealing always uses a workspace's newest key; opening picks the key by the
//! version in the sealed value's header, so rotation keeps old values readable.

use crate::{AppError, Result};
use kith_crypto::{SealScope, SecretKey};
use kith_store::keyring::{self as key_rows, WorkspaceKeyRow};
use kith_store::{Db, Tx};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// The master key in force, and older ones still needed to unwrap keys that
/// have not been rewrapped yet (during a master-key rotation).
#[derive(Clone, Debug)]
pub struct MasterKeys {
    pub current: SecretKey,
    pub previous: Vec<SecretKey>,
}

impl MasterKeys {
    pub fn single(key: SecretKey) -> MasterKeys {
        MasterKeys { current: key, previous: Vec::new() }
    }

    fn by_id(&self, id: &str) -> Option<&SecretKey> {
        std::iter::once(&self.current).chain(self.previous.iter()).find(|k| k.id() == id)
    }
}

/// A workspace's unwrapped data keys by version.
struct WorkspaceKeys {
    current: u32,
    keys: BTreeMap<u32, SecretKey>,
}

pub struct Keyring {
    master: MasterKeys,
    user_secrets: SecretKey,
    cache: RwLock<HashMap<Uuid, Arc<WorkspaceKeys>>>,
}

/// The AAD binding a wrapped key to its workspace and version.
fn wrap_context(org_id: Uuid, version: i64) -> Vec<u8> {
    let mut ctx = b"kith.workspace-key.v1\0".to_vec();
    ctx.extend_from_slice(org_id.as_bytes());
    ctx.extend_from_slice(&version.to_be_bytes());
    ctx
}

impl Keyring {
    pub fn new(master: MasterKeys) -> Keyring {
        let user_secrets = master.current.derive("user-secrets");
        Keyring { master, user_secrets, cache: RwLock::new(HashMap::new()) }
    }

    pub fn master_key_id(&self) -> String {
        self.master.current.id()
    }

    /// Create a new data key version for a workspace (its first one at
    /// creation, a new one at rotation) inside the caller's transaction.
    pub async fn add_workspace_key(&self, tx: &mut Tx, org_id: Uuid, now: i64) -> Result<i64> {
        let existing = key_rows::list_tx(tx, org_id).await?;
        let version = existing.first().map(|k| k.version + 1).unwrap_or(1);
        let key = SecretKey::generate();
        let wrapped = kith_crypto::wrap_key(&self.master.current, &wrap_context(org_id, version), &key);
        key_rows::insert(
            tx,
            &WorkspaceKeyRow { org_id, version, master_key_id: self.master.current.id(), wrapped, created_ms: now },
        )
        .await?;
        self.forget(org_id);
        Ok(version)
    }

    /// Drop a workspace's cached keys (after rotation, or on another node's change).
    pub fn forget(&self, org_id: Uuid) {
        self.cache.write().expect("keyring lock").remove(&org_id);
    }

    async fn workspace_keys(&self, db: &Db, org_id: Uuid) -> Result<Arc<WorkspaceKeys>> {
        if let Some(k) = self.cache.read().expect("keyring lock").get(&org_id) {
            return Ok(k.clone());
        }
        let rows = key_rows::list(db, org_id).await?;
        let mut keys = BTreeMap::new();
        for row in &rows {
            let master = self.master.by_id(&row.master_key_id).ok_or_else(|| {
                AppError::Internal(format!("workspace key wrapped by unknown master key {}", row.master_key_id))
            })?;
            let key = kith_crypto::unwrap_key(master, &wrap_context(org_id, row.version), &row.wrapped)?;
            keys.insert(row.version as u32, key);
        }
        let current = *keys.keys().next_back().ok_or_else(|| AppError::Internal("workspace has no data key".into()))?;
        let loaded = Arc::new(WorkspaceKeys { current, keys });
        self.cache.write().expect("keyring lock").insert(org_id, loaded.clone());
        Ok(loaded)
    }

    /// Seal a workspace value, bound to its table, column and row.
    pub async fn seal(
        &self,
        db: &Db,
        org_id: Uuid,
        table: &str,
        column: &str,
        row_id: Uuid,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let keys = self.workspace_keys(db, org_id).await?;
        let scope = SealScope { org_id, table, column, row_id };
        Ok(kith_crypto::seal(&keys.keys[&keys.current], keys.current, &scope, plaintext))
    }

    pub async fn open(
        &self,
        db: &Db,
        org_id: Uuid,
        table: &str,
        column: &str,
        row_id: Uuid,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        let keys = self.workspace_keys(db, org_id).await?;
        let version = kith_crypto::sealed_key_version(sealed)?;
        let key = keys.keys.get(&version).ok_or(kith_crypto::CryptoError::OpenFailed)?;
        Ok(kith_crypto::open(key, &SealScope { org_id, table, column, row_id }, sealed)?)
    }

    /// The workspace's key for blind-index search tokens. Derived from its
    /// first data key so that rotation does not change existing tokens.
    pub async fn search_key(&self, db: &Db, org_id: Uuid) -> Result<SecretKey> {
        let keys = self.workspace_keys(db, org_id).await?;
        let (_, first) =
            keys.keys.iter().next().ok_or_else(|| AppError::Internal("workspace has no data key".into()))?;
        Ok(first.derive("blind-index"))
    }

    /// Seal a per-user secret (a TOTP seed): not tied to any workspace.
    pub fn seal_user_secret(&self, user_id: Uuid, column: &str, plaintext: &[u8]) -> Vec<u8> {
        kith_crypto::seal(&self.user_secrets, 0, &user_scope(user_id, column), plaintext)
    }

    pub fn open_user_secret(&self, user_id: Uuid, column: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        Ok(kith_crypto::open(&self.user_secrets, &user_scope(user_id, column), sealed)?)
    }

    /// Seal instance-level data that belongs to no workspace (e-mail job
    /// payloads for people not yet in one), bound to its table, column and row.
    pub fn seal_instance(&self, table: &str, column: &str, row_id: Uuid, plaintext: &[u8]) -> Vec<u8> {
        let scope = SealScope { org_id: Uuid::nil(), table, column, row_id };
        kith_crypto::seal(&self.user_secrets, 0, &scope, plaintext)
    }

    pub fn open_instance(&self, table: &str, column: &str, row_id: Uuid, sealed: &[u8]) -> Result<Vec<u8>> {
        let scope = SealScope { org_id: Uuid::nil(), table, column, row_id };
        Ok(kith_crypto::open(&self.user_secrets, &scope, sealed)?)
    }

    /// Rewrap every stored workspace key under the current master key.
    /// Returns how many keys were rewrapped.
    pub async fn rewrap_all(&self, db: &Db) -> Result<u64> {
        let mut count = 0;
        let mut after = Uuid::nil();
        loop {
            let orgs = kith_store::workspaces::ids_after(db, after, 500).await?;
            let Some(last) = orgs.last().copied() else {
                break;
            };
            for org_id in orgs {
                let mut tx = db.begin().await?;
                for row in key_rows::list_tx(&mut tx, org_id).await? {
                    if row.master_key_id == self.master.current.id() {
                        continue;
                    }
                    let old = self.master.by_id(&row.master_key_id).ok_or_else(|| {
                        AppError::Internal(format!("no master key {} to unwrap with", row.master_key_id))
                    })?;
                    let ctx = wrap_context(org_id, row.version);
                    let key = kith_crypto::unwrap_key(old, &ctx, &row.wrapped)?;
                    let wrapped = kith_crypto::wrap_key(&self.master.current, &ctx, &key);
                    key_rows::rewrap(&mut tx, org_id, row.version, &self.master.current.id(), &wrapped).await?;
                    count += 1;
                }
                tx.commit().await?;
                self.forget(org_id);
            }
            after = last;
        }
        Ok(count)
    }

    /// The user-secret key an older master key would have derived (for resealing at rotation).
    pub fn previous_user_secret_keys(&self) -> Vec<SecretKey> {
        self.master.previous.iter().map(|k| k.derive("user-secrets")).collect()
    }
}

fn user_scope(user_id: Uuid, column: &str) -> SealScope<'_> {
    SealScope { org_id: Uuid::nil(), table: "users", column, row_id: user_id }
}
