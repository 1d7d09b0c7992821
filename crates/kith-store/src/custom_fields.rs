//! Definitions of custom fields per record type (values live in
//! `custom_values` and in each record's `custom` JSON).

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomFieldRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub record_type: String,
    pub key: String,
    pub label: String,
    pub kind: String,
    /// JSON list of option strings (select, multi-select).
    pub options: String,
    pub required: bool,
    pub position: i64,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

pub async fn insert(tx: &mut Tx, f: &CustomFieldRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO custom_fields (id, org_id, record_type, key, label, kind, options, required, position,
                         version, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(f.id)
        .bind(f.org_id)
        .bind(&f.record_type)
        .bind(&f.key)
        .bind(&f.label)
        .bind(&f.kind)
        .bind(&f.options)
        .bind(f.required)
        .bind(f.position)
        .bind(f.version)
        .bind(f.created_ms)
        .bind(f.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Label, options and required flag may change; key and kind may not
/// (stored values depend on them).
pub async fn update(tx: &mut Tx, f: &CustomFieldRow) -> Result<bool> {
    const SQL: &str = "UPDATE custom_fields SET label = $3, options = $4, required = $5, position = $6, version = $7,
                         updated_ms = $8 WHERE org_id = $1 AND id = $2 AND version = $7 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(f.org_id)
        .bind(f.id)
        .bind(&f.label)
        .bind(&f.options)
        .bind(f.required)
        .bind(f.position)
        .bind(f.version)
        .bind(f.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM custom_fields WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<CustomFieldRow>> {
    const SQL: &str = "SELECT id, org_id, record_type, key, label, kind, options, required, position, version,
                              created_ms, updated_ms FROM custom_fields WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, CustomFieldRow>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Every field of one record type, in display order (a workspace has tens,
/// not thousands: the list is bounded by what a settings page can show).
pub async fn list_for(db: &Db, org_id: Uuid, record_type: &str) -> Result<Vec<CustomFieldRow>> {
    const SQL: &str = "SELECT id, org_id, record_type, key, label, kind, options, required, position, version,
                              created_ms, updated_ms FROM custom_fields
                       WHERE org_id = $1 AND record_type = $2 ORDER BY position, key LIMIT 500";
    Ok(on_read!(db, |p| sqlx::query_as::<_, CustomFieldRow>(SQL).bind(org_id).bind(record_type).fetch_all(p).await?))
}

pub async fn count_for(tx: &mut Tx, org_id: Uuid, record_type: &str) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM custom_fields WHERE org_id = $1 AND record_type = $2";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).bind(record_type).fetch_one(c).await?))
}
