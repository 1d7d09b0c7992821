//! Notes on records. The body column holds sealed bytes only; this module
//! never sees plaintext.

use crate::sql::Sql;
use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoteRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub record_type: String,
    pub record_id: Uuid,
    /// Sealed (table `notes`, column `body`, this row's id).
    pub body: Vec<u8>,
    pub is_private: bool,
    pub author_id: Uuid,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str =
    "id, org_id, record_type, record_id, body, is_private, author_id, version, created_ms, updated_ms";

pub async fn insert(tx: &mut Tx, n: &NoteRow) -> Result<()> {
    const SQL: &str = "INSERT INTO notes (id, org_id, record_type, record_id, body, is_private, author_id, version,
                         created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(n.id)
        .bind(n.org_id)
        .bind(&n.record_type)
        .bind(n.record_id)
        .bind(&n.body)
        .bind(n.is_private)
        .bind(n.author_id)
        .bind(n.version)
        .bind(n.created_ms)
        .bind(n.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn update(tx: &mut Tx, n: &NoteRow) -> Result<bool> {
    const SQL: &str = "UPDATE notes SET body = $3, is_private = $4, version = $5, updated_ms = $6
                       WHERE org_id = $1 AND id = $2 AND version = $5 - 1";
    let c = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(n.org_id)
        .bind(n.id)
        .bind(&n.body)
        .bind(n.is_private)
        .bind(n.version)
        .bind(n.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(c == 1)
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM notes WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<NoteRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM notes WHERE org_id = "));
    sql.bind(org_id).push(" AND id = ").bind(id);
    sql.fetch_optional(db).await
}

pub async fn get_many(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<NoteRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM notes WHERE org_id = "));
    sql.bind(org_id).push(" AND id IN (").bind_list(ids.iter().copied()).push(")");
    sql.fetch_all(db).await
}

/// Notes of one record that `viewer_id` may read (shared ones and their own private ones), newest first.
pub async fn of_record(
    db: &Db,
    org_id: Uuid,
    record_type: &str,
    record_id: Uuid,
    viewer_id: Uuid,
    limit: i64,
) -> Result<Vec<NoteRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM notes WHERE org_id = "));
    sql.bind(org_id)
        .push(" AND record_type = ")
        .bind(record_type)
        .push(" AND record_id = ")
        .bind(record_id)
        .push(" AND (is_private = FALSE OR author_id = ")
        .bind(viewer_id)
        .push(") ORDER BY created_ms DESC, id DESC LIMIT ")
        .bind(limit);
    sql.fetch_all(db).await
}

/// Move every note of one record to another (duplicate merge).
pub async fn reparent(tx: &mut Tx, org_id: Uuid, record_type: &str, from: Uuid, to: Uuid) -> Result<u64> {
    const SQL: &str = "UPDATE notes SET record_id = $4 WHERE org_id = $1 AND record_type = $2 AND record_id = $3";
    Ok(on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(record_type)
        .bind(from)
        .bind(to)
        .execute(c)
        .await?
        .rows_affected()))
}
