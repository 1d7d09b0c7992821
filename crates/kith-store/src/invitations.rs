//! Invitations to join a workspace, redeemed through a secret link.

use crate::workspaces::after;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub role: String,
    pub token_hash: Vec<u8>,
    pub invited_by: Uuid,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub accepted_ms: Option<i64>,
    pub accepted_by: Option<Uuid>,
    pub revoked_ms: Option<i64>,
}

pub async fn insert(tx: &mut Tx, i: &InvitationRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_ms, expires_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(i.id)
        .bind(i.org_id)
        .bind(&i.email)
        .bind(&i.role)
        .bind(&i.token_hash)
        .bind(i.invited_by)
        .bind(i.created_ms)
        .bind(i.expires_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<InvitationRow>> {
    const SQL: &str = "SELECT id, org_id, email, role, token_hash, invited_by, created_ms, expires_ms, accepted_ms, accepted_by, revoked_ms
                       FROM invitations WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, InvitationRow>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}

pub async fn find_by_token(db: &Db, token_hash: &[u8]) -> Result<Option<InvitationRow>> {
    const SQL: &str = "SELECT id, org_id, email, role, token_hash, invited_by, created_ms, expires_ms, accepted_ms, accepted_by, revoked_ms
                       FROM invitations WHERE token_hash = $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, InvitationRow>(SQL).bind(token_hash).fetch_optional(p).await?))
}

/// Invitations not yet accepted or revoked (expired ones included, marked by their time).
pub async fn list_open(db: &Db, org_id: Uuid, page: &PageRequest) -> Result<Page<InvitationRow>> {
    const SQL: &str = "SELECT id, org_id, email, role, token_hash, invited_by, created_ms, expires_ms, accepted_ms, accepted_by, revoked_ms
                       FROM invitations
                       WHERE org_id = $1 AND accepted_ms IS NULL AND revoked_ms IS NULL
                         AND (created_ms > $2 OR (created_ms = $2 AND id > $3))
                       ORDER BY created_ms, id LIMIT $4";
    let (k, id) = after(page);
    let rows = on_read!(db, |p| sqlx::query_as::<_, InvitationRow>(SQL)
        .bind(org_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

pub async fn revoke(tx: &mut Tx, org_id: Uuid, id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE invitations SET revoked_ms = $3 WHERE org_id = $1 AND id = $2 AND accepted_ms IS NULL AND revoked_ms IS NULL";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// Mark an invitation used, once: false when it was already used, revoked or expired.
pub async fn accept(tx: &mut Tx, id: Uuid, user_id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE invitations SET accepted_ms = $3, accepted_by = $2
                       WHERE id = $1 AND accepted_ms IS NULL AND revoked_ms IS NULL AND expires_ms > $3";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(user_id).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}
