//! Memberships: which users belong to a workspace, with which role.

use crate::workspaces::after;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MembershipRow {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub version: i64,
    pub created_ms: i64,
}

/// A member as listed: membership plus the user's name and e-mail.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub version: i64,
    pub created_ms: i64,
}

pub async fn insert(tx: &mut Tx, m: &MembershipRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO memberships (org_id, user_id, role, version, created_ms) VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(m.org_id)
        .bind(m.user_id)
        .bind(&m.role)
        .bind(m.version)
        .bind(m.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

const GET: &str =
    "SELECT org_id, user_id, role, version, created_ms FROM memberships WHERE org_id = $1 AND user_id = $2";

pub async fn get(db: &Db, org_id: Uuid, user_id: Uuid) -> Result<Option<MembershipRow>> {
    Ok(on_read!(db, |p| sqlx::query_as::<_, MembershipRow>(GET).bind(org_id).bind(user_id).fetch_optional(p).await?))
}

pub async fn get_tx(tx: &mut Tx, org_id: Uuid, user_id: Uuid) -> Result<Option<MembershipRow>> {
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, MembershipRow>(GET).bind(org_id).bind(user_id).fetch_optional(c).await?))
}

pub async fn get_member(db: &Db, org_id: Uuid, user_id: Uuid) -> Result<Option<MemberRow>> {
    const SQL: &str = "SELECT m.user_id, u.email, u.name, m.role, m.version, m.created_ms
                       FROM memberships m JOIN users u ON u.id = m.user_id
                       WHERE m.org_id = $1 AND m.user_id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, MemberRow>(SQL).bind(org_id).bind(user_id).fetch_optional(p).await?))
}

pub async fn list(db: &Db, org_id: Uuid, page: &PageRequest) -> Result<Page<MemberRow>> {
    const SQL: &str = "SELECT m.user_id, u.email, u.name, m.role, m.version, m.created_ms
                       FROM memberships m JOIN users u ON u.id = m.user_id
                       WHERE m.org_id = $1 AND (m.created_ms > $2 OR (m.created_ms = $2 AND m.user_id > $3))
                       ORDER BY m.created_ms, m.user_id LIMIT $4";
    let (k, id) = after(page);
    let rows = on_read!(db, |p| sqlx::query_as::<_, MemberRow>(SQL)
        .bind(org_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.user_id }))
}

pub async fn count_owners(tx: &mut Tx, org_id: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).fetch_one(c).await?))
}

/// Change a role if the caller saw the current version; the new version, or None when stale/missing.
pub async fn set_role(
    tx: &mut Tx,
    org_id: Uuid,
    user_id: Uuid,
    role: &str,
    expected_version: Option<i64>,
) -> Result<Option<i64>> {
    const SQL: &str = "UPDATE memberships SET role = $3, version = version + 1
                       WHERE org_id = $1 AND user_id = $2 AND ($4 IS NULL OR version = $4) RETURNING version";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(org_id)
        .bind(user_id)
        .bind(role)
        .bind(expected_version)
        .fetch_optional(c)
        .await?))
}

/// Remove a member, and their team memberships and tokens in this workspace.
pub async fn delete(tx: &mut Tx, org_id: Uuid, user_id: Uuid) -> Result<bool> {
    on_tx!(tx, |c| sqlx::query("DELETE FROM team_members WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query("DELETE FROM api_tokens WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    let n = on_tx!(tx, |c| sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Limit a member to the records they own (or lift the limit).
pub async fn set_own_records_only(tx: &mut Tx, org_id: Uuid, user_id: Uuid, limited: bool) -> Result<bool> {
    const SQL: &str =
        "UPDATE memberships SET own_records_only = $3, version = version + 1 WHERE org_id = $1 AND user_id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(user_id).bind(limited).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn own_records_only(db: &Db, org_id: Uuid, user_id: Uuid) -> Result<bool> {
    const SQL: &str = "SELECT own_records_only FROM memberships WHERE org_id = $1 AND user_id = $2";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, bool>(SQL).bind(org_id).bind(user_id).fetch_optional(p).await?)
        .unwrap_or(false))
}
