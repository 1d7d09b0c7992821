//! Server-side sign-in sessions. The browser holds a random token; we keep its hash.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: Vec<u8>,
    pub current_org_id: Option<Uuid>,
    pub mfa_pending: bool,
    pub csrf_secret: Vec<u8>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub expires_ms: i64,
}

pub async fn insert(tx: &mut Tx, s: &SessionRow) -> Result<()> {
    const SQL: &str = "INSERT INTO login_sessions (id, user_id, token_hash, current_org_id, mfa_pending, csrf_secret, ip, user_agent, created_ms, last_seen_ms, expires_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(s.id)
        .bind(s.user_id)
        .bind(&s.token_hash)
        .bind(s.current_org_id)
        .bind(s.mfa_pending)
        .bind(&s.csrf_secret)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.created_ms)
        .bind(s.last_seen_ms)
        .bind(s.expires_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// A live session by its token hash.
pub async fn find_live(db: &Db, token_hash: &[u8], now: i64) -> Result<Option<SessionRow>> {
    const SQL: &str = "SELECT id, user_id, token_hash, current_org_id, mfa_pending, csrf_secret, ip, user_agent, created_ms, last_seen_ms, expires_ms
                       FROM login_sessions WHERE token_hash = $1 AND expires_ms > $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, SessionRow>(SQL).bind(token_hash).bind(now).fetch_optional(p).await?))
}

pub async fn list_for_user(db: &Db, user_id: Uuid, now: i64) -> Result<Vec<SessionRow>> {
    const SQL: &str = "SELECT id, user_id, token_hash, current_org_id, mfa_pending, csrf_secret, ip, user_agent, created_ms, last_seen_ms, expires_ms
                       FROM login_sessions WHERE user_id = $1 AND expires_ms > $2 ORDER BY last_seen_ms DESC LIMIT 200";
    Ok(on_read!(db, |p| sqlx::query_as::<_, SessionRow>(SQL).bind(user_id).bind(now).fetch_all(p).await?))
}

/// Slide the session's expiry; called at most once a minute per session.
pub async fn touch(tx: &mut Tx, id: Uuid, now: i64, expires_ms: i64) -> Result<()> {
    const SQL: &str = "UPDATE login_sessions SET last_seen_ms = $2, expires_ms = $3 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(now).bind(expires_ms).execute(c).await?.rows_affected());
    Ok(())
}

pub async fn set_current_org(tx: &mut Tx, id: Uuid, org_id: Option<Uuid>) -> Result<()> {
    on_tx!(tx, |c| sqlx::query("UPDATE login_sessions SET current_org_id = $2 WHERE id = $1")
        .bind(id)
        .bind(org_id)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn complete_mfa(tx: &mut Tx, id: Uuid) -> Result<()> {
    on_tx!(tx, |c| sqlx::query("UPDATE login_sessions SET mfa_pending = $2 WHERE id = $1")
        .bind(id)
        .bind(false)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Revoke one of a user's sessions; scoped by user so nobody revokes another's.
pub async fn delete(tx: &mut Tx, user_id: Uuid, id: Uuid) -> Result<bool> {
    let n = on_tx!(tx, |c| sqlx::query("DELETE FROM login_sessions WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Revoke every session of a user except `keep` (after a password change or reset).
pub async fn delete_all_except(tx: &mut Tx, user_id: Uuid, keep: Option<Uuid>) -> Result<u64> {
    const SQL: &str = "DELETE FROM login_sessions WHERE user_id = $1 AND ($2 IS NULL OR id <> $2)";
    Ok(on_tx!(tx, |c| sqlx::query(SQL).bind(user_id).bind(keep).execute(c).await?.rows_affected()))
}
