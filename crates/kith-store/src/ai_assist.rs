//! Rows of the AI assistant's on-demand features: stored speech (with the retention that deletes it), the cache
//! of contact-profile vectors behind related contacts, the settings' feature switches read without the sealed
//! key, and the admins' filtered list of calls. Every statement is scoped to its workspace, except the retention
//! sweep, which runs for all workspaces by design.

use crate::ai::CallRow;
use crate::sql::Sql;
use crate::{Db, Result, Tx};
use uuid::Uuid;

/// The settings JSON alone (never the sealed API key): enough to read feature switches and which models are set.
pub async fn settings_json(db: &Db, org_id: Uuid) -> Result<Option<String>> {
    const SQL: &str = "SELECT settings FROM ai_settings WHERE org_id = $1";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, String>(SQL).bind(org_id).fetch_optional(p).await?))
}

/// One stored speech file.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SpeechRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_by: Uuid,
    /// `text`, `contact` or `knowledge`.
    pub source_type: String,
    pub source_id: Option<Uuid>,
    pub content_type: String,
    pub bytes: i64,
    pub call_id: Option<Uuid>,
    pub created_ms: i64,
}

pub async fn insert_speech(tx: &mut Tx, r: &SpeechRow) -> Result<()> {
    const SQL: &str = "INSERT INTO ai_speech_files (id, org_id, created_by, source_type, source_id, content_type,
                         bytes, call_id, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(r.created_by)
        .bind(&r.source_type)
        .bind(r.source_id)
        .bind(&r.content_type)
        .bind(r.bytes)
        .bind(r.call_id)
        .bind(r.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get_speech(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<SpeechRow>> {
    const SQL: &str = "SELECT id, org_id, created_by, source_type, source_id, content_type, bytes, call_id, created_ms
                       FROM ai_speech_files WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, SpeechRow>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Delete a speech file and its audio, when `created_by` made it. True when it was there.
pub async fn delete_speech(tx: &mut Tx, org_id: Uuid, id: Uuid, created_by: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM ai_speech_files WHERE org_id = $1 AND id = $2 AND created_by = $3";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).bind(created_by).execute(c).await?.rows_affected());
    if n == 1 {
        crate::files::delete(tx, org_id, id).await?;
    }
    Ok(n == 1)
}

/// Delete up to `limit` speech files (all workspaces) created before `before_ms`, with their audio; returns how
/// many. Oldest first, by the `created_ms` index.
pub async fn purge_speech(tx: &mut Tx, before_ms: i64, limit: i64) -> Result<u64> {
    const PICK: &str = "SELECT org_id, id FROM ai_speech_files WHERE created_ms < $1 ORDER BY created_ms LIMIT $2";
    const DEL: &str = "DELETE FROM ai_speech_files WHERE org_id = $1 AND id = $2";
    let rows: Vec<(Uuid, Uuid)> = on_tx!(tx, |c| sqlx::query_as(PICK).bind(before_ms).bind(limit).fetch_all(c).await?);
    for (org_id, id) in &rows {
        on_tx!(tx, |c| sqlx::query(DEL).bind(*org_id).bind(*id).execute(c).await?.rows_affected());
        crate::files::delete(tx, *org_id, *id).await?;
    }
    Ok(rows.len() as u64)
}

/// A cached contact-profile vector.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactVector {
    pub contact_id: Uuid,
    pub model: String,
    pub fingerprint: String,
    pub vector: Vec<u8>,
}

/// The cached vectors of these contacts (any model; the caller checks model and fingerprint).
pub async fn contact_vectors(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<ContactVector>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(ids.len());
    // One statement per 100 ids keeps the parameter count portable.
    for part in ids.chunks(100) {
        let mut sql = Sql::new("");
        sql.push_bound(
            "SELECT contact_id, model, fingerprint, vector FROM ai_contact_vectors WHERE org_id = $1 AND contact_id IN (",
            [org_id.into()],
        );
        sql.bind_list(part.iter().copied());
        sql.push(")");
        out.extend(sql.fetch_all::<ContactVector>(db).await?);
    }
    Ok(out)
}

/// Store (or replace) a contact's vector.
pub async fn put_contact_vector(
    tx: &mut Tx,
    org_id: Uuid,
    contact_id: Uuid,
    model: &str,
    fingerprint: &str,
    vector: &[u8],
    now: i64,
) -> Result<()> {
    const SQL: &str = "INSERT INTO ai_contact_vectors (org_id, contact_id, model, fingerprint, vector, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (org_id, contact_id) DO UPDATE SET model = excluded.model,
                         fingerprint = excluded.fingerprint, vector = excluded.vector, updated_ms = excluded.updated_ms";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(contact_id)
        .bind(model)
        .bind(fingerprint)
        .bind(vector)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Forget a contact's cached vector (the contact changed or was deleted).
pub async fn forget_contact_vector(tx: &mut Tx, org_id: Uuid, contact_id: Uuid) -> Result<()> {
    const SQL: &str = "DELETE FROM ai_contact_vectors WHERE org_id = $1 AND contact_id = $2";
    on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(contact_id).execute(c).await?.rows_affected());
    Ok(())
}

/// Calls created in `[from_ms, to_ms)`, of `feature` when given, newest first, after the keyset `(created_ms, id)`
/// when given. Reads by `(org_id, feature, created_ms)` or `(org_id, created_ms)`.
pub async fn list_calls(
    db: &Db,
    org_id: Uuid,
    from_ms: i64,
    to_ms: i64,
    feature: Option<&str>,
    after: Option<(i64, Uuid)>,
    limit: i64,
) -> Result<Vec<CallRow>> {
    const ALL: &str = "SELECT id, feature, conversation_id, record_type, record_id, model, prompt_tokens,
                         completion_tokens, tokens_estimated, cost_micros, latency_ms, status, error, NULL AS prompt,
                         created_ms
                       FROM ai_calls
                       WHERE org_id = $1 AND created_ms >= $2 AND created_ms < $3
                         AND (created_ms < $4 OR (created_ms = $4 AND id < $5))
                       ORDER BY created_ms DESC, id DESC LIMIT $6";
    const ONE: &str = "SELECT id, feature, conversation_id, record_type, record_id, model, prompt_tokens,
                         completion_tokens, tokens_estimated, cost_micros, latency_ms, status, error, NULL AS prompt,
                         created_ms
                       FROM ai_calls
                       WHERE org_id = $1 AND feature = $7 AND created_ms >= $2 AND created_ms < $3
                         AND (created_ms < $4 OR (created_ms = $4 AND id < $5))
                       ORDER BY created_ms DESC, id DESC LIMIT $6";
    let (at, id) = after.unwrap_or((i64::MAX, Uuid::max()));
    let sql = if feature.is_some() { ONE } else { ALL };
    Ok(on_read!(db, |p| {
        let mut q =
            sqlx::query_as::<_, CallRow>(sql).bind(org_id).bind(from_ms).bind(to_ms).bind(at).bind(id).bind(limit);
        if let Some(f) = feature {
            q = q.bind(f);
        }
        q.fetch_all(p).await?
    }))
}
