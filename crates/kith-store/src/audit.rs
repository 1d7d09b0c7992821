//! The append-only audit log. The chain (hashes over structural fields) lives
//! in `audit_log`; erasable personal details live beside it in `audit_details`.
//! This module never updates or deletes a chain row.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub seq: i64,
    pub at_ms: i64,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// A chain row with its (possibly erased) details, for listing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntryRow {
    pub id: Uuid,
    pub seq: i64,
    pub at_ms: i64,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuditDetails {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// The chain's head for a workspace: the next sequence number and the hash to
/// link to. Takes the head row's lock (PostgreSQL) so appends serialize.
pub async fn advance_head(tx: &mut Tx, org_id: Uuid, genesis: &[u8]) -> Result<(i64, Vec<u8>)> {
    const INIT: &str =
        "INSERT INTO audit_heads (org_id, seq, head_hash) VALUES ($1, 0, $2) ON CONFLICT (org_id) DO NOTHING";
    const NEXT: &str = "UPDATE audit_heads SET seq = seq + 1 WHERE org_id = $1 RETURNING seq, head_hash";
    on_tx!(tx, |c| sqlx::query(INIT).bind(org_id).bind(genesis).execute(&mut *c).await?.rows_affected());
    let row: (i64, Vec<u8>) = on_tx!(tx, |c| sqlx::query_as(NEXT).bind(org_id).fetch_one(c).await?);
    Ok(row)
}

/// Write a chain row (whose hash the caller computed from `prev_hash`) and move the head to it.
pub async fn insert(tx: &mut Tx, row: &AuditRow, details: &AuditDetails) -> Result<()> {
    const SQL: &str =
        "INSERT INTO audit_log (id, org_id, seq, at_ms, actor_id, action, target_type, target_id, prev_hash, hash)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    const HEAD: &str = "UPDATE audit_heads SET head_hash = $2 WHERE org_id = $1";
    const DETAILS: &str =
        "INSERT INTO audit_details (audit_id, org_id, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(row.id)
        .bind(row.org_id)
        .bind(row.seq)
        .bind(row.at_ms)
        .bind(row.actor_id)
        .bind(&row.action)
        .bind(&row.target_type)
        .bind(row.target_id)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(HEAD).bind(row.org_id).bind(&row.hash).execute(&mut *c).await?.rows_affected());
    if details.ip.is_some() || details.user_agent.is_some() || details.detail.is_some() {
        on_tx!(tx, |c| sqlx::query(DETAILS)
            .bind(row.id)
            .bind(row.org_id)
            .bind(&details.ip)
            .bind(&details.user_agent)
            .bind(&details.detail)
            .execute(c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// Newest first, keyset-paged by sequence number.
pub async fn list(db: &Db, org_id: Uuid, before_seq: Option<i64>, limit: i64) -> Result<Vec<AuditEntryRow>> {
    const SQL: &str =
        "SELECT a.id, a.seq, a.at_ms, a.actor_id, u.email AS actor_email, a.action, a.target_type, a.target_id,
                              d.ip, d.user_agent, d.detail
                       FROM audit_log a
                       LEFT JOIN audit_details d ON d.audit_id = a.id
                       LEFT JOIN users u ON u.id = a.actor_id
                       WHERE a.org_id = $1 AND a.seq < $2
                       ORDER BY a.seq DESC LIMIT $3";
    Ok(on_read!(db, |p| sqlx::query_as::<_, AuditEntryRow>(SQL)
        .bind(org_id)
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(p)
        .await?))
}

/// Chain rows in order, for verification, `limit` at a time after `after_seq`.
pub async fn chain_after(db: &Db, org_id: Uuid, after_seq: i64, limit: i64) -> Result<Vec<AuditRow>> {
    const SQL: &str = "SELECT id, org_id, seq, at_ms, actor_id, action, target_type, target_id, prev_hash, hash
                       FROM audit_log WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    Ok(on_read!(db, |p| sqlx::query_as::<_, AuditRow>(SQL)
        .bind(org_id)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(p)
        .await?))
}

pub async fn head(db: &Db, org_id: Uuid) -> Result<Option<(i64, Vec<u8>)>> {
    const SQL: &str = "SELECT seq, head_hash FROM audit_heads WHERE org_id = $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, (i64, Vec<u8>)>(SQL).bind(org_id).fetch_optional(p).await?))
}

/// Erase the personal details of every entry about or by a user: the chain stays intact.
pub async fn erase_details_of_actor(tx: &mut Tx, org_id: Uuid, actor_id: Uuid) -> Result<u64> {
    const SQL: &str = "DELETE FROM audit_details WHERE org_id = $1 AND audit_id IN
                         (SELECT id FROM audit_log WHERE org_id = $1 AND actor_id = $2)";
    Ok(on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(actor_id).execute(c).await?.rows_affected()))
}
