//! Saved list views: a name, the list's query string and the columns shown;
//! private to their owner or shared with the workspace.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ViewRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub owner_id: Uuid,
    pub record_type: String,
    pub name: String,
    pub query: String,
    pub columns: String,
    pub shared: bool,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str =
    "id, org_id, owner_id, record_type, name, query, columns, shared, version, created_ms, updated_ms";

pub async fn insert(tx: &mut Tx, v: &ViewRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO saved_views (id, org_id, owner_id, record_type, name, query, columns, shared, version,
                         created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(v.id)
        .bind(v.org_id)
        .bind(v.owner_id)
        .bind(&v.record_type)
        .bind(&v.name)
        .bind(&v.query)
        .bind(&v.columns)
        .bind(v.shared)
        .bind(v.version)
        .bind(v.created_ms)
        .bind(v.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn update(tx: &mut Tx, v: &ViewRow) -> Result<bool> {
    const SQL: &str = "UPDATE saved_views SET name = $3, query = $4, columns = $5, shared = $6, version = $7,
                         updated_ms = $8 WHERE org_id = $1 AND id = $2 AND version = $7 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(v.org_id)
        .bind(v.id)
        .bind(&v.name)
        .bind(&v.query)
        .bind(&v.columns)
        .bind(v.shared)
        .bind(v.version)
        .bind(v.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM saved_views WHERE org_id = $1 AND id = $2";
    Ok(on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected()) == 1)
}

/// A view `viewer` may use: theirs or shared.
pub async fn get(db: &Db, org_id: Uuid, viewer: Uuid, id: Uuid) -> Result<Option<ViewRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM saved_views WHERE org_id = $1 AND id = $2 AND (shared = TRUE OR owner_id = $3)");
    Ok(on_read!(db, |p| sqlx::query_as::<_, ViewRow>(&sql)
        .bind(org_id)
        .bind(id)
        .bind(viewer)
        .fetch_optional(p)
        .await?))
}

/// Views of one record type `viewer` may use, by name (bounded per workspace).
pub async fn list(db: &Db, org_id: Uuid, viewer: Uuid, record_type: &str) -> Result<Vec<ViewRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM saved_views WHERE org_id = $1 AND record_type = $2 AND (shared = TRUE OR owner_id = $3)
         ORDER BY name, id LIMIT 500"
    );
    Ok(on_read!(db, |p| sqlx::query_as::<_, ViewRow>(&sql)
        .bind(org_id)
        .bind(record_type)
        .bind(viewer)
        .fetch_all(p)
        .await?))
}

pub async fn count_for_owner(tx: &mut Tx, org_id: Uuid, owner: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM saved_views WHERE org_id = $1 AND owner_id = $2";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).bind(owner).fetch_one(c).await?))
}
