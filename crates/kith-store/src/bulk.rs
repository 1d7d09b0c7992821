//! Bulk actions over many records, run as jobs with progress.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BulkRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_by: Uuid,
    pub record_type: String,
    /// `tag`, `untag`, `assign` or `delete`.
    pub action: String,
    pub params: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
}

pub async fn insert(tx: &mut Tx, b: &BulkRow) -> Result<()> {
    const SQL: &str = "INSERT INTO bulk_actions (id, org_id, created_by, record_type, action, params, status, total,
                         created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(b.id)
        .bind(b.org_id)
        .bind(b.created_by)
        .bind(&b.record_type)
        .bind(&b.action)
        .bind(&b.params)
        .bind(&b.status)
        .bind(b.total)
        .bind(b.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<BulkRow>> {
    const SQL: &str = "SELECT id, org_id, created_by, record_type, action, params, status, total, done, failed, error,
                              created_ms, updated_ms, finished_ms FROM bulk_actions WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, BulkRow>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}

pub async fn progress(
    tx: &mut Tx,
    id: Uuid,
    status: &str,
    done: i64,
    failed: i64,
    now: i64,
    finished: bool,
) -> Result<()> {
    const SQL: &str = "UPDATE bulk_actions SET status = $2, done = $3, failed = $4, updated_ms = $5,
                         finished_ms = CASE WHEN $6 THEN $5 ELSE finished_ms END WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(status)
        .bind(done)
        .bind(failed)
        .bind(now)
        .bind(finished)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}
