//! Files kept in the database in ordered chunks (import uploads, export
//! results): every node reads them, and they go with the workspace.

use crate::{Db, Result, Tx};
use uuid::Uuid;

/// Chunk size: large enough to keep the row count low, small enough that
/// reading one never holds much memory.
pub const CHUNK_BYTES: usize = 1024 * 1024;

pub async fn append_chunk(tx: &mut Tx, file_id: Uuid, org_id: Uuid, seq: i64, data: &[u8]) -> Result<()> {
    const SQL: &str = "INSERT INTO file_chunks (file_id, org_id, seq, data) VALUES ($1, $2, $3, $4)";
    on_tx!(tx, |c| sqlx::query(SQL).bind(file_id).bind(org_id).bind(seq).bind(data).execute(c).await?.rows_affected());
    Ok(())
}

pub async fn chunk(db: &Db, org_id: Uuid, file_id: Uuid, seq: i64) -> Result<Option<Vec<u8>>> {
    const SQL: &str = "SELECT data FROM file_chunks WHERE file_id = $1 AND org_id = $2 AND seq = $3";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, Vec<u8>>(SQL)
        .bind(file_id)
        .bind(org_id)
        .bind(seq)
        .fetch_optional(p)
        .await?))
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, file_id: Uuid) -> Result<u64> {
    const SQL: &str = "DELETE FROM file_chunks WHERE file_id = $1 AND org_id = $2";
    Ok(on_tx!(tx, |c| sqlx::query(SQL).bind(file_id).bind(org_id).execute(c).await?.rows_affected()))
}
