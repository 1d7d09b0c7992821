//! Single-use secrets sent by e-mail: password reset, e-mail verification.

use crate::{Result, Tx};
use uuid::Uuid;

pub async fn insert(
    tx: &mut Tx,
    token_hash: &[u8],
    purpose: &str,
    user_id: Uuid,
    now: i64,
    expires_ms: i64,
) -> Result<()> {
    const SQL: &str = "INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(token_hash)
        .bind(purpose)
        .bind(user_id)
        .bind(now)
        .bind(expires_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Spend a token: the user it was for, once, while unexpired.
pub async fn consume(tx: &mut Tx, token_hash: &[u8], purpose: &str, now: i64) -> Result<Option<Uuid>> {
    const SQL: &str = "UPDATE one_time_tokens SET used_ms = $3
                       WHERE token_hash = $1 AND purpose = $2 AND used_ms IS NULL AND expires_ms > $3
                       RETURNING user_id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, Uuid>(SQL)
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(c)
        .await?))
}
