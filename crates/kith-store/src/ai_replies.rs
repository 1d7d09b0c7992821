//! What the assistant did about each inbound message (`ai_replies`), the
//! conversation's pause after a handoff, and the counts the auto-reply
//! rules need. Never decides anything: `kith_app::ai::autoreply` does.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AiReplyRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub conversation_id: Uuid,
    pub inbound_message_id: Uuid,
    /// `auto` or `suggest`.
    pub mode: String,
    /// `replied`, `suggested`, `handoff` or `skipped`.
    pub outcome: String,
    pub reason: String,
    pub reply_message_id: Option<Uuid>,
    /// The sealed draft of a suggestion.
    pub draft: Option<Vec<u8>>,
    /// JSON list of `{chunk_id, entry_id, title}`.
    pub citations: String,
    pub confidence: Option<f64>,
    pub call_id: Option<Uuid>,
    pub overhead_ms: i64,
    pub model_ms: i64,
    pub created_ms: i64,
}

const COLUMNS: &str = "id, org_id, conversation_id, inbound_message_id, mode, outcome, reason, reply_message_id,
                       draft, citations, confidence, call_id, overhead_ms, model_ms, created_ms";

/// Record the outcome for an inbound message; `false` when one is already
/// recorded (a re-run of the job), in which case the caller rolls back.
pub async fn insert(tx: &mut Tx, r: &AiReplyRow) -> Result<bool> {
    let sql = format!(
        "INSERT INTO ai_replies ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (inbound_message_id) DO NOTHING"
    );
    let n = on_tx!(tx, |c| sqlx::query(&sql)
        .bind(r.id)
        .bind(r.org_id)
        .bind(r.conversation_id)
        .bind(r.inbound_message_id)
        .bind(&r.mode)
        .bind(&r.outcome)
        .bind(&r.reason)
        .bind(r.reply_message_id)
        .bind(&r.draft)
        .bind(&r.citations)
        .bind(r.confidence)
        .bind(r.call_id)
        .bind(r.overhead_ms)
        .bind(r.model_ms)
        .bind(r.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn by_inbound(db: &Db, org_id: Uuid, inbound_message_id: Uuid) -> Result<Option<AiReplyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM ai_replies WHERE org_id = $1 AND inbound_message_id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, AiReplyRow>(&sql)
        .bind(org_id)
        .bind(inbound_message_id)
        .fetch_optional(p)
        .await?))
}

/// The newest outcomes of a conversation, newest first.
pub async fn recent(db: &Db, org_id: Uuid, conversation_id: Uuid, limit: i64) -> Result<Vec<AiReplyRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ai_replies WHERE org_id = $1 AND conversation_id = $2
         ORDER BY created_ms DESC, id DESC LIMIT $3"
    );
    Ok(on_read!(db, |p| sqlx::query_as::<_, AiReplyRow>(&sql)
        .bind(org_id)
        .bind(conversation_id)
        .bind(limit)
        .fetch_all(p)
        .await?))
}

/// The outcomes whose reply messages are among `message_ids` (to mark the
/// assistant's messages and their citations in a thread).
pub async fn by_reply_messages(db: &Db, org_id: Uuid, message_ids: &[Uuid]) -> Result<Vec<AiReplyRow>> {
    if message_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = crate::sql::Sql::new(&format!("SELECT {COLUMNS} FROM ai_replies WHERE org_id = "));
    sql.bind(org_id).push(" AND reply_message_id IN (").bind_list(message_ids.iter().copied()).push(")");
    sql.fetch_all(db).await
}

/// When the assistant was paused in the conversation (after a handoff).
pub async fn paused_ms(tx: &mut Tx, org_id: Uuid, conversation_id: Uuid) -> Result<Option<i64>> {
    const SQL: &str = "SELECT ai_paused_ms FROM conversations WHERE org_id = $1 AND id = $2";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, Option<i64>>(SQL)
        .bind(org_id)
        .bind(conversation_id)
        .fetch_optional(c)
        .await?)
    .flatten())
}

pub async fn paused_ms_read(db: &Db, org_id: Uuid, conversation_id: Uuid) -> Result<Option<i64>> {
    const SQL: &str = "SELECT ai_paused_ms FROM conversations WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, Option<i64>>(SQL)
        .bind(org_id)
        .bind(conversation_id)
        .fetch_optional(p)
        .await?)
    .flatten())
}

/// Pause (`Some(time)`) or resume (`None`) the assistant in a conversation.
pub async fn set_paused(tx: &mut Tx, org_id: Uuid, conversation_id: Uuid, at_ms: Option<i64>) -> Result<()> {
    const SQL: &str = "UPDATE conversations SET ai_paused_ms = $3 WHERE org_id = $1 AND id = $2";
    on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(conversation_id).bind(at_ms).execute(c).await?.rows_affected());
    Ok(())
}

/// The newest inbound message of a conversation: its id and time.
pub async fn newest_inbound(tx: &mut Tx, conversation_id: Uuid) -> Result<Option<(Uuid, i64)>> {
    const SQL: &str = "SELECT id, created_ms FROM messages WHERE conversation_id = $1 AND direction = 'in'
                       AND kind = 'message' ORDER BY created_ms DESC, id DESC LIMIT 1";
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, (Uuid, i64)>(SQL).bind(conversation_id).fetch_optional(c).await?))
}

/// Automatic messages sent in a conversation after `since_ms`, counted up
/// to `cap` (the rule only needs to know whether the cap is reached).
pub async fn automated_since(tx: &mut Tx, conversation_id: Uuid, since_ms: i64, cap: i64) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM messages m
                         JOIN outbound_messages o ON o.message_id = m.id
                       WHERE m.conversation_id = $1 AND m.direction = 'out' AND m.created_ms >= $2
                         AND o.origin = 'automated' LIMIT $3) t";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(conversation_id)
        .bind(since_ms)
        .bind(cap)
        .fetch_one(c)
        .await?))
}
