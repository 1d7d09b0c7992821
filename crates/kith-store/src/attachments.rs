//! Attachments of inbox messages: one row per file kept in the object store
//! (the bytes live there under `object_key`; the sealed file name, type,
//! size and SHA-256 live here). Every query is scoped by workspace.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub conversation_id: Uuid,
    /// None for an upload not yet sent with a message.
    pub message_id: Option<Uuid>,
    /// Order within the message (inbound: the provider's media index).
    pub part: i64,
    /// `in` or `out`.
    pub direction: String,
    /// Sealed (`attachments.name`).
    pub name: Vec<u8>,
    pub content_type: String,
    pub byte_size: i64,
    pub sha256: String,
    pub object_key: String,
    pub uploaded_by: Option<Uuid>,
    pub created_ms: i64,
    /// Outbound on channels that carry one file per provider message: the
    /// provider's id of the message that carried this file, once sent.
    pub provider_message_id: Option<String>,
}

const COLUMNS: &str = "id, org_id, conversation_id, message_id, part, direction, name, content_type, byte_size, \
                       sha256, object_key, uploaded_by, created_ms, provider_message_id";

/// Insert; false when the message already has an attachment at this part.
pub async fn insert(tx: &mut Tx, r: &AttachmentRow) -> Result<bool> {
    const SQL: &str = "INSERT INTO attachments (id, org_id, conversation_id, message_id, part, direction, name,
                         content_type, byte_size, sha256, object_key, uploaded_by, created_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                       ON CONFLICT (message_id, part) DO NOTHING";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(r.conversation_id)
        .bind(r.message_id)
        .bind(r.part)
        .bind(&r.direction)
        .bind(&r.name)
        .bind(&r.content_type)
        .bind(r.byte_size)
        .bind(&r.sha256)
        .bind(&r.object_key)
        .bind(r.uploaded_by)
        .bind(r.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<AttachmentRow>> {
    let sql = format!("SELECT {COLUMNS} FROM attachments WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, AttachmentRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// The attachments of some messages, in message and part order.
pub async fn for_messages(db: &Db, org_id: Uuid, message_ids: &[Uuid]) -> Result<Vec<AttachmentRow>> {
    if message_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = crate::sql::Sql::new(&format!("SELECT {COLUMNS} FROM attachments WHERE org_id = "));
    sql.bind(org_id)
        .push(" AND message_id IN (")
        .bind_list(message_ids.iter().copied())
        .push(") ORDER BY message_id, part");
    sql.fetch_all::<AttachmentRow>(db).await
}

/// The parts of a message that are stored already.
pub async fn parts_of(db: &Db, org_id: Uuid, message_id: Uuid) -> Result<Vec<i64>> {
    const SQL: &str = "SELECT part FROM attachments WHERE org_id = $1 AND message_id = $2 ORDER BY part";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).bind(message_id).fetch_all(p).await?))
}

/// Give an unsent upload to a message (as part `part`); false when it is not
/// an unsent upload of this conversation.
pub async fn link(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    conversation_id: Uuid,
    message_id: Uuid,
    part: i64,
) -> Result<bool> {
    const SQL: &str = "UPDATE attachments SET message_id = $4, part = $5
                       WHERE org_id = $1 AND id = $2 AND conversation_id = $3 AND message_id IS NULL
                         AND direction = 'out'";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(id)
        .bind(conversation_id)
        .bind(message_id)
        .bind(part)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Remove one row (the caller removes the object).
pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM attachments WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// Delete one upload of a conversation if it is still unsent; false when
/// there is no such row, or it was linked to a message meanwhile (on
/// PostgreSQL the `message_id IS NULL` test is made again after a
/// concurrent reply that linked it commits, so a sent file is never
/// deleted). The caller removes the object once this commits.
pub async fn delete_unsent_one(tx: &mut Tx, org_id: Uuid, conversation_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM attachments
                       WHERE org_id = $1 AND conversation_id = $2 AND id = $3 AND message_id IS NULL";
    let n =
        on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(conversation_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// The object keys of every attachment in a contact's conversations (their
/// rows cascade when the contact goes; the objects must be removed too).
pub async fn keys_of_contact(tx: &mut Tx, org_id: Uuid, contact_id: Uuid) -> Result<Vec<String>> {
    const SQL: &str = "SELECT a.object_key FROM attachments a JOIN conversations c ON c.id = a.conversation_id
                       WHERE a.org_id = $1 AND c.org_id = $1 AND c.contact_id = $2";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, String>(SQL).bind(org_id).bind(contact_id).fetch_all(c).await?))
}

/// Record the provider message that carried an outbound file (sent as a
/// message of its own); false when it has one already.
pub async fn set_provider_message_id(tx: &mut Tx, org_id: Uuid, id: Uuid, provider_message_id: &str) -> Result<bool> {
    const SQL: &str = "UPDATE attachments SET provider_message_id = $3
                       WHERE org_id = $1 AND id = $2 AND provider_message_id IS NULL";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(id)
        .bind(provider_message_id)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// An upload never sent with a message, as the sweep sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnsentUpload {
    pub id: Uuid,
    pub org_id: Uuid,
    pub object_key: String,
}

/// Delete up to `limit` uploads (of every workspace) that were never sent
/// with a message and were made before `before_ms`, oldest first, and
/// return them (the caller removes their objects once this commits). The
/// rows are read and deleted in the caller's transaction; the delete checks
/// `message_id IS NULL` again so that an upload linked meanwhile (on
/// PostgreSQL, by a concurrent reply) is kept, and only what was deleted
/// is returned.
pub async fn delete_unsent(tx: &mut Tx, before_ms: i64, limit: i64) -> Result<Vec<UnsentUpload>> {
    const PICK: &str = "SELECT id, org_id, object_key FROM attachments
                        WHERE message_id IS NULL AND created_ms < $1 ORDER BY created_ms LIMIT $2";
    const DELETE: &str = "DELETE FROM attachments WHERE org_id = $1 AND id = $2 AND message_id IS NULL";
    let picked =
        on_tx!(tx, |c| sqlx::query_as::<_, UnsentUpload>(PICK).bind(before_ms).bind(limit).fetch_all(c).await?);
    let mut gone = Vec::with_capacity(picked.len());
    for u in picked {
        let n = on_tx!(tx, |c| sqlx::query(DELETE).bind(u.org_id).bind(u.id).execute(c).await?.rows_affected());
        if n == 1 {
            gone.push(u);
        }
    }
    Ok(gone)
}

/// The message one of whose files went as the provider message
/// `provider_message_id` on a channel (a status callback names it).
pub async fn message_of_sent_file(
    tx: &mut Tx,
    org_id: Uuid,
    channel_id: Uuid,
    provider_message_id: &str,
) -> Result<Option<Uuid>> {
    const SQL: &str = "SELECT a.message_id FROM attachments a JOIN messages m ON m.id = a.message_id
                       WHERE a.org_id = $1 AND a.provider_message_id = $3 AND m.org_id = $1 AND m.channel_id = $2";
    let id = on_tx!(tx, |c| sqlx::query_scalar::<_, Option<Uuid>>(SQL)
        .bind(org_id)
        .bind(channel_id)
        .bind(provider_message_id)
        .fetch_optional(c)
        .await?);
    Ok(id.flatten())
}
