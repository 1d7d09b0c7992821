//! API tokens: named, scoped, stored as SHA-256, revocable.

use crate::workspaces::after;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub scopes: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

pub async fn insert(tx: &mut Tx, t: &TokenRow) -> Result<()> {
    const SQL: &str = "INSERT INTO api_tokens (id, org_id, user_id, name, token_hash, scopes, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(t.id)
        .bind(t.org_id)
        .bind(t.user_id)
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(&t.scopes)
        .bind(t.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// An unrevoked token by hash: the hot path of every API request (one indexed read).
pub async fn find_active(db: &Db, token_hash: &[u8]) -> Result<Option<TokenRow>> {
    const SQL: &str = "SELECT id, org_id, user_id, name, token_hash, scopes, created_ms, last_used_ms, revoked_ms
                       FROM api_tokens WHERE token_hash = $1 AND revoked_ms IS NULL";
    Ok(on_read!(db, |p| sqlx::query_as::<_, TokenRow>(SQL).bind(token_hash).fetch_optional(p).await?))
}

/// An unrevoked token and its member's current role, in one indexed read:
/// the hot path of every API request. None when the member has left.
pub async fn find_active_with_role(db: &Db, token_hash: &[u8]) -> Result<Option<(TokenRow, String)>> {
    Ok(find_active_for_request(db, token_hash).await?.map(|r| (r.token, r.role)))
}

/// Everything an API request learns from its token, in one read: the token,
/// the member's role, and the display fields of the user and the workspace
/// (so `/me` needs no second read).
#[derive(Debug, Clone)]
pub struct TokenHolder {
    pub token: TokenRow,
    pub role: String,
    pub user: crate::users::UserSummary,
    pub workspace: crate::workspaces::WorkspaceRow,
}

pub async fn find_active_for_request(db: &Db, token_hash: &[u8]) -> Result<Option<TokenHolder>> {
    #[derive(sqlx::FromRow)]
    struct Joined {
        #[sqlx(flatten)]
        token: TokenRow,
        role: String,
        u_email: String,
        u_name: String,
        u_email_verified_ms: Option<i64>,
        u_totp_enabled: bool,
        u_created_ms: i64,
        w_name: String,
        w_version: i64,
        w_created_ms: i64,
        w_updated_ms: i64,
    }
    const SQL: &str = "SELECT t.id, t.org_id, t.user_id, t.name, t.token_hash, t.scopes, t.created_ms, t.last_used_ms, t.revoked_ms, m.role,
                              u.email AS u_email, u.name AS u_name, u.email_verified_ms AS u_email_verified_ms,
                              u.totp_enabled AS u_totp_enabled, u.created_ms AS u_created_ms,
                              w.name AS w_name, w.version AS w_version, w.created_ms AS w_created_ms, w.updated_ms AS w_updated_ms
                       FROM api_tokens t
                       JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id
                       JOIN users u ON u.id = t.user_id
                       JOIN workspaces w ON w.id = t.org_id
                       WHERE t.token_hash = $1 AND t.revoked_ms IS NULL";
    let row = on_read!(db, |p| sqlx::query_as::<_, Joined>(SQL).bind(token_hash).fetch_optional(p).await?);
    Ok(row.map(|j| TokenHolder {
        user: crate::users::UserSummary {
            id: j.token.user_id,
            email: j.u_email,
            name: j.u_name,
            email_verified_ms: j.u_email_verified_ms,
            totp_enabled: j.u_totp_enabled,
            created_ms: j.u_created_ms,
        },
        workspace: crate::workspaces::WorkspaceRow {
            id: j.token.org_id,
            name: j.w_name,
            version: j.w_version,
            created_ms: j.w_created_ms,
            updated_ms: j.w_updated_ms,
        },
        token: j.token,
        role: j.role,
    }))
}

pub async fn list_for_user(db: &Db, org_id: Uuid, user_id: Uuid, page: &PageRequest) -> Result<Page<TokenRow>> {
    const SQL: &str = "SELECT id, org_id, user_id, name, token_hash, scopes, created_ms, last_used_ms, revoked_ms
                       FROM api_tokens WHERE org_id = $1 AND user_id = $2 AND revoked_ms IS NULL
                         AND (created_ms > $3 OR (created_ms = $3 AND id > $4))
                       ORDER BY created_ms, id LIMIT $5";
    let (k, id) = after(page);
    let rows = on_read!(db, |p| sqlx::query_as::<_, TokenRow>(SQL)
        .bind(org_id)
        .bind(user_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

pub async fn revoke(tx: &mut Tx, org_id: Uuid, user_id: Uuid, id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str =
        "UPDATE api_tokens SET revoked_ms = $4 WHERE org_id = $1 AND user_id = $2 AND id = $3 AND revoked_ms IS NULL";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(user_id)
        .bind(id)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Record use, at most once a minute per token, so reads stay reads.
pub async fn touch(tx: &mut Tx, id: Uuid, now: i64) -> Result<()> {
    const SQL: &str =
        "UPDATE api_tokens SET last_used_ms = $2 WHERE id = $1 AND (last_used_ms IS NULL OR last_used_ms < $3)";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(now).bind(now - 60_000).execute(c).await?.rows_affected());
    Ok(())
}
