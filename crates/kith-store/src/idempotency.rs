//! Stored outcomes of POST requests sent with an `Idempotency-Key`.

use crate::{Db, Result, Tx};
use uuid::Uuid;

/// Which request a key belongs to: workspace + credential + method + path + key.
#[derive(Debug, Clone)]
pub struct IdemScope<'a> {
    pub org_id: Uuid,
    pub credential_id: Uuid,
    pub method: &'a str,
    pub path: &'a str,
    pub key: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdemRow {
    pub request_hash: Vec<u8>,
    pub status_code: Option<i64>,
    pub response: Option<Vec<u8>>,
    pub created_ms: i64,
}

/// Reserve the key for a request. `None` when we got it; otherwise the row
/// that holds it (finished or still running).
pub async fn reserve(db: &Db, s: &IdemScope<'_>, request_hash: &[u8], now: i64) -> Result<Option<IdemRow>> {
    const INSERT: &str =
        "INSERT INTO idempotency_keys (org_id, credential_id, method, path, idem_key, request_hash, created_ms)
                          VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
    const GET: &str = "SELECT request_hash, status_code, response, created_ms FROM idempotency_keys
                       WHERE org_id = $1 AND credential_id = $2 AND method = $3 AND path = $4 AND idem_key = $5";
    let mut tx = db.begin().await?;
    let inserted = on_tx!(&mut tx, |c| sqlx::query(INSERT)
        .bind(s.org_id)
        .bind(s.credential_id)
        .bind(s.method)
        .bind(s.path)
        .bind(s.key)
        .bind(request_hash)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    let existing = if inserted == 1 {
        None
    } else {
        on_tx!(&mut tx, |c| sqlx::query_as::<_, IdemRow>(GET)
            .bind(s.org_id)
            .bind(s.credential_id)
            .bind(s.method)
            .bind(s.path)
            .bind(s.key)
            .fetch_optional(c)
            .await?)
    };
    tx.commit().await?;
    Ok(existing)
}

/// Store the (sealed) response of the request that held the key.
pub async fn finish(db: &Db, s: &IdemScope<'_>, status: i64, response: &[u8]) -> Result<()> {
    const SQL: &str = "UPDATE idempotency_keys SET status_code = $6, response = $7
                       WHERE org_id = $1 AND credential_id = $2 AND method = $3 AND path = $4 AND idem_key = $5";
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| sqlx::query(SQL)
        .bind(s.org_id)
        .bind(s.credential_id)
        .bind(s.method)
        .bind(s.path)
        .bind(s.key)
        .bind(status)
        .bind(response)
        .execute(c)
        .await?
        .rows_affected());
    tx.commit().await?;
    Ok(())
}

/// Let the key go (the request failed before changing anything), so a retry can run.
pub async fn release(db: &Db, s: &IdemScope<'_>) -> Result<()> {
    const SQL: &str = "DELETE FROM idempotency_keys WHERE org_id = $1 AND credential_id = $2 AND method = $3 AND path = $4 AND idem_key = $5 AND status_code IS NULL";
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| sqlx::query(SQL)
        .bind(s.org_id)
        .bind(s.credential_id)
        .bind(s.method)
        .bind(s.path)
        .bind(s.key)
        .execute(c)
        .await?
        .rows_affected());
    tx.commit().await?;
    Ok(())
}

/// Forget keys older than `before_ms` (a scheduled clean-up).
pub async fn purge_before(tx: &mut Tx, before_ms: i64) -> Result<u64> {
    Ok(on_tx!(tx, |c| sqlx::query("DELETE FROM idempotency_keys WHERE created_ms < $1")
        .bind(before_ms)
        .execute(c)
        .await?
        .rows_affected()))
}
