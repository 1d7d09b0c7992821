//! Failure counters behind sign-in throttling (per account, per IP).

use crate::{Db, Result, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThrottleRow {
    pub failures: i64,
    pub last_failure_ms: i64,
    pub next_allowed_ms: i64,
}

pub async fn get(db: &Db, key: &str) -> Result<Option<ThrottleRow>> {
    const SQL: &str = "SELECT failures, last_failure_ms, next_allowed_ms FROM auth_throttle WHERE throttle_key = $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, ThrottleRow>(SQL).bind(key).fetch_optional(p).await?))
}

/// Count one more failure; `delay_for(failures)` decides the wait before the next try.
/// Failures older than `window_ms` start the count again.
pub async fn record_failure(
    tx: &mut Tx,
    key: &str,
    now: i64,
    window_ms: i64,
    delay_for: impl Fn(i64) -> i64,
) -> Result<i64> {
    const UPSERT: &str = "INSERT INTO auth_throttle (throttle_key, failures, last_failure_ms, next_allowed_ms) VALUES ($1, 1, $2, $2)
                          ON CONFLICT (throttle_key) DO UPDATE SET
                            failures = CASE WHEN auth_throttle.last_failure_ms < $3 THEN 1 ELSE auth_throttle.failures + 1 END,
                            last_failure_ms = $2
                          RETURNING failures";
    let failures = on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(UPSERT)
        .bind(key)
        .bind(now)
        .bind(now - window_ms)
        .fetch_one(c)
        .await?);
    let next = now + delay_for(failures);
    on_tx!(tx, |c| sqlx::query("UPDATE auth_throttle SET next_allowed_ms = $2 WHERE throttle_key = $1")
        .bind(key)
        .bind(next)
        .execute(c)
        .await?
        .rows_affected());
    Ok(failures)
}

pub async fn clear(tx: &mut Tx, key: &str) -> Result<()> {
    on_tx!(tx, |c| sqlx::query("DELETE FROM auth_throttle WHERE throttle_key = $1")
        .bind(key)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}
