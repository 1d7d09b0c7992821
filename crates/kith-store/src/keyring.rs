//! Wrapped workspace data keys. The store only keeps ciphertext; wrapping and
//! unwrapping happen in kith-app with the master key.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceKeyRow {
    pub org_id: Uuid,
    pub version: i64,
    pub master_key_id: String,
    pub wrapped: Vec<u8>,
    pub created_ms: i64,
}

pub async fn insert(tx: &mut Tx, k: &WorkspaceKeyRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO workspace_keys (org_id, version, master_key_id, wrapped, created_ms) VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(k.org_id)
        .bind(k.version)
        .bind(&k.master_key_id)
        .bind(&k.wrapped)
        .bind(k.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Every key version of a workspace, newest first (bounded by rotations).
pub async fn list(db: &Db, org_id: Uuid) -> Result<Vec<WorkspaceKeyRow>> {
    const SQL: &str = "SELECT org_id, version, master_key_id, wrapped, created_ms FROM workspace_keys WHERE org_id = $1 ORDER BY version DESC";
    Ok(on_read!(db, |p| sqlx::query_as::<_, WorkspaceKeyRow>(SQL).bind(org_id).fetch_all(p).await?))
}

pub async fn list_tx(tx: &mut Tx, org_id: Uuid) -> Result<Vec<WorkspaceKeyRow>> {
    const SQL: &str = "SELECT org_id, version, master_key_id, wrapped, created_ms FROM workspace_keys WHERE org_id = $1 ORDER BY version DESC";
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, WorkspaceKeyRow>(SQL).bind(org_id).fetch_all(c).await?))
}

/// Replace the wrapping of one key version (master key rotation).
pub async fn rewrap(tx: &mut Tx, org_id: Uuid, version: i64, master_key_id: &str, wrapped: &[u8]) -> Result<()> {
    const SQL: &str = "UPDATE workspace_keys SET master_key_id = $3, wrapped = $4 WHERE org_id = $1 AND version = $2";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(version)
        .bind(master_key_id)
        .bind(wrapped)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}
