//! Teams inside a workspace; a member may belong to several.

use crate::workspaces::after;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamMemberRow {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub created_ms: i64,
}

pub async fn insert(tx: &mut Tx, t: &TeamRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO teams (id, org_id, name, version, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(t.id)
        .bind(t.org_id)
        .bind(&t.name)
        .bind(t.version)
        .bind(t.created_ms)
        .bind(t.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<TeamRow>> {
    const SQL: &str =
        "SELECT id, org_id, name, version, created_ms, updated_ms FROM teams WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, TeamRow>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}

pub async fn list(db: &Db, org_id: Uuid, page: &PageRequest) -> Result<Page<TeamRow>> {
    const SQL: &str = "SELECT id, org_id, name, version, created_ms, updated_ms FROM teams
                       WHERE org_id = $1 AND (created_ms > $2 OR (created_ms = $2 AND id > $3))
                       ORDER BY created_ms, id LIMIT $4";
    let (k, id) = after(page);
    let rows = on_read!(db, |p| sqlx::query_as::<_, TeamRow>(SQL)
        .bind(org_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

pub async fn rename(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    name: &str,
    expected_version: Option<i64>,
    now: i64,
) -> Result<Option<i64>> {
    const SQL: &str = "UPDATE teams SET name = $3, version = version + 1, updated_ms = $4
                       WHERE org_id = $1 AND id = $2 AND ($5 IS NULL OR version = $5) RETURNING version";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(org_id)
        .bind(id)
        .bind(name)
        .bind(now)
        .bind(expected_version)
        .fetch_optional(c)
        .await?))
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    on_tx!(tx, |c| sqlx::query("DELETE FROM team_members WHERE org_id = $1 AND team_id = $2")
        .bind(org_id)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    let n = on_tx!(tx, |c| sqlx::query("DELETE FROM teams WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Add a member to a team; false when already there.
pub async fn add_member(tx: &mut Tx, org_id: Uuid, team_id: Uuid, user_id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str = "INSERT INTO team_members (org_id, team_id, user_id, created_ms) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (team_id, user_id) DO NOTHING";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(team_id)
        .bind(user_id)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn remove_member(tx: &mut Tx, org_id: Uuid, team_id: Uuid, user_id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM team_members WHERE org_id = $1 AND team_id = $2 AND user_id = $3";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(team_id).bind(user_id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn list_members(db: &Db, org_id: Uuid, team_id: Uuid, page: &PageRequest) -> Result<Page<TeamMemberRow>> {
    const SQL: &str = "SELECT tm.user_id, u.email, u.name, tm.created_ms
                       FROM team_members tm JOIN users u ON u.id = tm.user_id
                       WHERE tm.org_id = $1 AND tm.team_id = $2 AND (tm.created_ms > $3 OR (tm.created_ms = $3 AND tm.user_id > $4))
                       ORDER BY tm.created_ms, tm.user_id LIMIT $5";
    let (k, id) = after(page);
    let rows = on_read!(db, |p| sqlx::query_as::<_, TeamMemberRow>(SQL)
        .bind(org_id)
        .bind(team_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.user_id }))
}

/// The teams a member belongs to (bounded: a person is in few teams).
pub async fn team_ids_of(db: &Db, org_id: Uuid, user_id: Uuid) -> Result<Vec<Uuid>> {
    const SQL: &str = "SELECT team_id FROM team_members WHERE org_id = $1 AND user_id = $2 LIMIT 1000";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, Uuid>(SQL).bind(org_id).bind(user_id).fetch_all(p).await?))
}
