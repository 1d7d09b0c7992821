//! Workspaces (organizations): the unit of isolation. Every tenant row carries `org_id`.

use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: Uuid,
    pub name: String,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A workspace as one member sees it: with their role.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MyWorkspaceRow {
    pub id: Uuid,
    pub name: String,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub role: String,
}

pub async fn insert(tx: &mut Tx, w: &WorkspaceRow) -> Result<()> {
    const SQL: &str = "INSERT INTO workspaces (id, name, version, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(w.id)
        .bind(&w.name)
        .bind(w.version)
        .bind(w.created_ms)
        .bind(w.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<WorkspaceRow>> {
    const SQL: &str = "SELECT id, name, version, created_ms, updated_ms FROM workspaces WHERE id = $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, WorkspaceRow>(SQL).bind(id).fetch_optional(p).await?))
}

/// The workspaces a user belongs to, oldest membership first, keyset-paged by workspace id.
pub async fn list_for_user(db: &Db, user_id: Uuid, page: &PageRequest) -> Result<Page<MyWorkspaceRow>> {
    const SQL: &str = "SELECT w.id, w.name, w.version, w.created_ms, w.updated_ms, m.role
                       FROM memberships m JOIN workspaces w ON w.id = m.org_id
                       WHERE m.user_id = $1 AND (w.created_ms > $2 OR (w.created_ms = $2 AND w.id > $3))
                       ORDER BY w.created_ms, w.id LIMIT $4";
    let (k, id) = after(page);
    let rows = on_read!(db, |p| sqlx::query_as::<_, MyWorkspaceRow>(SQL)
        .bind(user_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

/// Rename if the caller saw the current version; returns the new version, or
/// `None` when the version was stale (or the workspace is gone).
pub async fn rename(tx: &mut Tx, id: Uuid, name: &str, expected_version: Option<i64>, now: i64) -> Result<Option<i64>> {
    const SQL: &str = "UPDATE workspaces SET name = $2, version = version + 1, updated_ms = $3
                       WHERE id = $1 AND ($4 IS NULL OR version = $4) RETURNING version";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(id)
        .bind(name)
        .bind(now)
        .bind(expected_version)
        .fetch_optional(c)
        .await?))
}

/// Take the workspace's row lock for the rest of the transaction. Membership
/// changes call this first so that "is this the last owner?" cannot race on
/// PostgreSQL (SQLite has one writer anyway).
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<bool> {
    const SQL: &str = "UPDATE workspaces SET updated_ms = updated_ms WHERE id = $1";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<bool> {
    let n =
        on_tx!(tx, |c| sqlx::query("DELETE FROM workspaces WHERE id = $1").bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// Every workspace id (key rotation walks them all, in pages).
pub async fn ids_after(db: &Db, after: Uuid, limit: i64) -> Result<Vec<Uuid>> {
    const SQL: &str = "SELECT id FROM workspaces WHERE id > $1 ORDER BY id LIMIT $2";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, Uuid>(SQL).bind(after).bind(limit).fetch_all(p).await?))
}

/// Keyset bounds for a page ordered by (key, id): before the first row when no cursor.
pub(crate) fn after(page: &PageRequest) -> (i64, Uuid) {
    page.after.map(|c| (c.key, c.id)).unwrap_or((i64::MIN, Uuid::nil()))
}

/// Country calling code used for phones written without one ('' = none).
pub async fn phone_country_code(db: &Db, id: Uuid) -> Result<String> {
    const SQL: &str = "SELECT phone_country_code FROM workspaces WHERE id = $1";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, String>(SQL).bind(id).fetch_optional(p).await?).unwrap_or_default())
}

pub async fn set_phone_country_code(tx: &mut Tx, id: Uuid, code: &str, now: i64) -> Result<()> {
    const SQL: &str =
        "UPDATE workspaces SET phone_country_code = $2, version = version + 1, updated_ms = $3 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(code).bind(now).execute(c).await?.rows_affected());
    Ok(())
}
