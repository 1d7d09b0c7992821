//! Users: the people who sign in. Not tenant data — a user may belong to many workspaces.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub is_operator: bool,
    pub email_verified_ms: Option<i64>,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub totp_last_step: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The fields of a user anyone in their workspace may see: no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub email_verified_ms: Option<i64>,
    pub totp_enabled: bool,
    pub created_ms: i64,
}

impl From<UserRow> for UserSummary {
    fn from(u: UserRow) -> Self {
        UserSummary {
            id: u.id,
            email: u.email,
            name: u.name,
            email_verified_ms: u.email_verified_ms,
            totp_enabled: u.totp_enabled,
            created_ms: u.created_ms,
        }
    }
}

pub async fn insert(tx: &mut Tx, u: &UserRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO users (id, email, name, password_hash, is_operator, email_verified_ms, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(u.id)
        .bind(&u.email)
        .bind(&u.name)
        .bind(&u.password_hash)
        .bind(u.is_operator)
        .bind(u.email_verified_ms)
        .bind(u.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<UserRow>> {
    Ok(on_read!(db, |p| sqlx::query_as::<_, UserRow>(BY_ID).bind(id).fetch_optional(p).await?))
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserRow>> {
    Ok(on_read!(db, |p| sqlx::query_as::<_, UserRow>(BY_EMAIL).bind(email).fetch_optional(p).await?))
}

/// Same lookup inside a write transaction (sign-up checks and inserts atomically).
pub async fn find_by_email_tx(tx: &mut Tx, email: &str) -> Result<Option<UserRow>> {
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, UserRow>(BY_EMAIL).bind(email).fetch_optional(c).await?))
}

/// Take the sign-up lock (see [`crate::dialect::lock_users_sql`]).
pub async fn lock_for_signup(tx: &mut Tx) -> Result<()> {
    if let Some(sql) = crate::dialect::lock_users_sql(tx.backend()) {
        on_tx!(tx, |c| sqlx::query(sql).execute(c).await?.rows_affected());
    }
    Ok(())
}

pub async fn count(tx: &mut Tx) -> Result<i64> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users").fetch_one(c).await?))
}

pub async fn set_password(tx: &mut Tx, id: Uuid, hash: &str, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE users SET password_hash = $2, updated_ms = $3 WHERE id = $1";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(hash).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn set_name(tx: &mut Tx, id: Uuid, name: &str, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE users SET name = $2, updated_ms = $3 WHERE id = $1";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(name).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn mark_email_verified(tx: &mut Tx, id: Uuid, now: i64) -> Result<()> {
    const SQL: &str =
        "UPDATE users SET email_verified_ms = $2, updated_ms = $2 WHERE id = $1 AND email_verified_ms IS NULL";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(now).execute(c).await?.rows_affected());
    Ok(())
}

/// Store a (sealed) TOTP secret awaiting confirmation, or clear it (`None`).
pub async fn set_totp(tx: &mut Tx, id: Uuid, sealed_secret: Option<&[u8]>, enabled: bool, now: i64) -> Result<()> {
    const SQL: &str =
        "UPDATE users SET totp_secret = $2, totp_enabled = $3, totp_last_step = 0, updated_ms = $4 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(sealed_secret)
        .bind(enabled)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Record that a TOTP time step was used; false when it (or a later one) was
/// used already — a code cannot be replayed.
pub async fn use_totp_step(tx: &mut Tx, id: Uuid, step: i64) -> Result<bool> {
    const SQL: &str = "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(step).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn replace_recovery_codes(tx: &mut Tx, user_id: Uuid, hashes: &[[u8; 32]]) -> Result<()> {
    on_tx!(tx, |c| sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    for h in hashes {
        on_tx!(tx, |c| sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(&h[..])
            .execute(c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// Spend a recovery code; true when it existed and was unused.
pub async fn use_recovery_code(tx: &mut Tx, user_id: Uuid, hash: &[u8; 32], now: i64) -> Result<bool> {
    const SQL: &str =
        "UPDATE recovery_codes SET used_ms = $3 WHERE user_id = $1 AND code_hash = $2 AND used_ms IS NULL";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(user_id).bind(&hash[..]).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn unused_recovery_codes(db: &Db, user_id: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_ms IS NULL";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, i64>(SQL).bind(user_id).fetch_one(p).await?))
}

const BY_ID: &str = "SELECT id, email, name, password_hash, is_operator, email_verified_ms, totp_secret, totp_enabled, totp_last_step, created_ms, updated_ms FROM users WHERE id = $1";
const BY_EMAIL: &str = "SELECT id, email, name, password_hash, is_operator, email_verified_ms, totp_secret, totp_enabled, totp_last_step, created_ms, updated_ms FROM users WHERE email = $1";

pub async fn count_all(db: &Db) -> Result<i64> {
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users").fetch_one(p).await?))
}

/// Users holding a TOTP secret, in id order (key rotation reseals them).
pub async fn totp_secrets_after(db: &Db, after: Uuid, limit: i64) -> Result<Vec<(Uuid, Vec<u8>)>> {
    const SQL: &str =
        "SELECT id, totp_secret FROM users WHERE id > $1 AND totp_secret IS NOT NULL ORDER BY id LIMIT $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, (Uuid, Vec<u8>)>(SQL).bind(after).bind(limit).fetch_all(p).await?))
}

pub async fn replace_totp_secret(tx: &mut Tx, id: Uuid, sealed: &[u8]) -> Result<()> {
    on_tx!(tx, |c| sqlx::query("UPDATE users SET totp_secret = $2 WHERE id = $1")
        .bind(id)
        .bind(sealed)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// A member and their workspace in one read (`GET /me`).
pub async fn get_with_workspace(
    db: &Db,
    user_id: Uuid,
    org_id: Uuid,
) -> Result<Option<(UserRow, crate::workspaces::WorkspaceRow)>> {
    #[derive(sqlx::FromRow)]
    struct Joined {
        #[sqlx(flatten)]
        user: UserRow,
        w_id: Uuid,
        w_name: String,
        w_version: i64,
        w_created_ms: i64,
        w_updated_ms: i64,
    }
    const SQL: &str = "SELECT u.id, u.email, u.name, u.password_hash, u.is_operator, u.email_verified_ms, u.totp_secret, u.totp_enabled,
                              u.totp_last_step, u.created_ms, u.updated_ms,
                              w.id AS w_id, w.name AS w_name, w.version AS w_version, w.created_ms AS w_created_ms, w.updated_ms AS w_updated_ms
                       FROM memberships m JOIN users u ON u.id = m.user_id JOIN workspaces w ON w.id = m.org_id
                       WHERE m.user_id = $1 AND m.org_id = $2";
    let row = on_read!(db, |p| sqlx::query_as::<_, Joined>(SQL).bind(user_id).bind(org_id).fetch_optional(p).await?);
    Ok(row.map(|j| {
        let w = crate::workspaces::WorkspaceRow {
            id: j.w_id,
            name: j.w_name,
            version: j.w_version,
            created_ms: j.w_created_ms,
            updated_ms: j.w_updated_ms,
        };
        (j.user, w)
    }))
}
