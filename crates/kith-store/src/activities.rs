//! Calls, meetings and e-mails logged by hand. Subject and body are sealed
//! bytes; this module never sees plaintext.

use crate::sql::Sql;
use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: Uuid,
    pub org_id: Uuid,
    /// `call`, `meeting` or `email`.
    pub kind: String,
    pub subject: Vec<u8>,
    pub body: Option<Vec<u8>>,
    pub occurred_ms: i64,
    pub duration_s: Option<i64>,
    pub record_type: String,
    pub record_id: Uuid,
    pub actor_id: Uuid,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str = "id, org_id, kind, subject, body, occurred_ms, duration_s, record_type, record_id, actor_id,
    version, created_ms, updated_ms";

pub async fn insert(tx: &mut Tx, a: &ActivityRow) -> Result<()> {
    const SQL: &str = "INSERT INTO activities (id, org_id, kind, subject, body, occurred_ms, duration_s, record_type,
                         record_id, actor_id, version, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(a.id)
        .bind(a.org_id)
        .bind(&a.kind)
        .bind(&a.subject)
        .bind(&a.body)
        .bind(a.occurred_ms)
        .bind(a.duration_s)
        .bind(&a.record_type)
        .bind(a.record_id)
        .bind(a.actor_id)
        .bind(a.version)
        .bind(a.created_ms)
        .bind(a.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn update(tx: &mut Tx, a: &ActivityRow) -> Result<bool> {
    const SQL: &str = "UPDATE activities SET kind = $3, subject = $4, body = $5, occurred_ms = $6, duration_s = $7,
                         version = $8, updated_ms = $9 WHERE org_id = $1 AND id = $2 AND version = $8 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(a.org_id)
        .bind(a.id)
        .bind(&a.kind)
        .bind(&a.subject)
        .bind(&a.body)
        .bind(a.occurred_ms)
        .bind(a.duration_s)
        .bind(a.version)
        .bind(a.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM activities WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<ActivityRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM activities WHERE org_id = "));
    sql.bind(org_id).push(" AND id = ").bind(id);
    sql.fetch_optional(db).await
}

pub async fn get_many(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<ActivityRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM activities WHERE org_id = "));
    sql.bind(org_id).push(" AND id IN (").bind_list(ids.iter().copied()).push(")");
    sql.fetch_all(db).await
}
