//! The inbox: raw inbound events, conversations, messages, read state,
//! labels, channel user ids of contacts, early status callbacks and the
//! consent ledger. Bodies and raw events arrive sealed. Conversation reads
//! go through the one visibility filter, applied to the conversation's
//! contact: whoever may see the contact sees its conversations.

use crate::sql::Sql;
use crate::visibility::push_filter;
use crate::{dialect, Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use kith_domain::visibility::Viewer;
use uuid::Uuid;

// ---------------------------------------------------------------- events

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InboundEventRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub channel_id: Uuid,
    pub provider_event_id: String,
    /// `message` or `status`.
    pub kind: String,
    /// Sealed provider-neutral JSON of the event.
    pub payload: Vec<u8>,
    pub received_ms: i64,
    pub processed_ms: Option<i64>,
    pub error: Option<String>,
}

/// Store an event unless the channel already has one with this provider id.
/// True when it is new.
pub async fn insert_event(tx: &mut Tx, e: &InboundEventRow) -> Result<bool> {
    const SQL: &str =
        "INSERT INTO inbound_events (id, org_id, channel_id, provider_event_id, kind, payload, received_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(e.id)
        .bind(e.org_id)
        .bind(e.channel_id)
        .bind(&e.provider_event_id)
        .bind(&e.kind)
        .bind(&e.payload)
        .bind(e.received_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

const EVENT: &str = "id, org_id, channel_id, provider_event_id, kind, payload, received_ms, processed_ms, error";

pub async fn get_event(db: &Db, id: Uuid) -> Result<Option<InboundEventRow>> {
    let sql = format!("SELECT {EVENT} FROM inbound_events WHERE id = $1");
    Ok(on_read!(db, |p| sqlx::query_as::<_, InboundEventRow>(&sql).bind(id).fetch_optional(p).await?))
}

pub async fn mark_event_processed(tx: &mut Tx, id: Uuid, now: i64, error: Option<&str>) -> Result<()> {
    const SQL: &str = "UPDATE inbound_events SET processed_ms = $2, error = $3 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(now).bind(error).execute(c).await?.rows_affected());
    Ok(())
}

/// Events of a channel, newest first (the raw event log).
pub async fn list_events(db: &Db, org_id: Uuid, channel_id: Uuid, page: &PageRequest) -> Result<Page<InboundEventRow>> {
    let sql = format!(
        "SELECT {EVENT} FROM inbound_events WHERE channel_id = $1 AND org_id = $2
           AND (received_ms < $3 OR (received_ms = $3 AND id < $4)) ORDER BY received_ms DESC, id DESC LIMIT $5"
    );
    let (k, id) = page.after.map(|c| (c.key, c.id)).unwrap_or((i64::MAX, Uuid::max()));
    let rows = on_read!(db, |p| sqlx::query_as::<_, InboundEventRow>(&sql)
        .bind(channel_id)
        .bind(org_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.received_ms, id: r.id }))
}

// ------------------------------------------------------- contact matching

/// Hold, until the transaction ends, the lock that serialises inbound
/// matching for one key (a workspace + sender handle): two messages from a
/// new sender then create one contact and one conversation. SQLite's single
/// writer already serialises; PostgreSQL takes an advisory lock.
pub async fn lock_inbound_key(tx: &mut Tx, key: i64) -> Result<()> {
    if let Some(sql) = dialect::advisory_xact_lock_sql(tx.backend()) {
        on_tx!(tx, |c| sqlx::query(sql).bind(key).execute(c).await?.rows_affected());
    }
    Ok(())
}

/// A workspace-shared contact (never a personal one) known by this channel
/// user id (`kind` is the channel kind).
pub async fn find_contact_by_channel_id(tx: &mut Tx, org_id: Uuid, kind: &str, value: &str) -> Result<Option<Uuid>> {
    const SQL: &str = "SELECT r.id FROM contact_channel_ids h JOIN contacts r ON r.id = h.contact_id
                       WHERE h.org_id = $1 AND h.kind = $2 AND h.value = $3 AND r.visibility <> 'personal'
                       ORDER BY r.created_ms, r.id LIMIT 1";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, Uuid>(SQL).bind(org_id).bind(kind).bind(value).fetch_optional(c).await?))
}

/// A workspace-shared contact holding this e-mail or phone handle, read in
/// the matching transaction (so that it sees what the lock holder wrote).
pub async fn find_shared_by_handle_tx(tx: &mut Tx, org_id: Uuid, kind: &str, value: &str) -> Result<Option<Uuid>> {
    const SQL: &str = "SELECT r.id FROM contact_handles h JOIN contacts r ON r.id = h.contact_id
                       WHERE h.org_id = $1 AND h.kind = $2 AND h.value = $3 AND r.visibility <> 'personal'
                       ORDER BY r.created_ms, r.id LIMIT 1";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, Uuid>(SQL).bind(org_id).bind(kind).bind(value).fetch_optional(c).await?))
}

pub async fn add_channel_id(
    tx: &mut Tx,
    org_id: Uuid,
    contact_id: Uuid,
    kind: &str,
    value: &str,
    now: i64,
) -> Result<()> {
    const SQL: &str = "INSERT INTO contact_channel_ids (org_id, contact_id, kind, value, created_ms)
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(contact_id)
        .bind(kind)
        .bind(value)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// A contact's channel user ids, as `(kind, value)`.
pub async fn channel_ids_of(db: &Db, org_id: Uuid, contact_id: Uuid) -> Result<Vec<(String, String)>> {
    const SQL: &str = "SELECT kind, value FROM contact_channel_ids WHERE org_id = $1 AND contact_id = $2
                       ORDER BY kind, value LIMIT 100";
    Ok(on_read!(db, |p| sqlx::query_as::<_, (String, String)>(SQL).bind(org_id).bind(contact_id).fetch_all(p).await?))
}

// ---------------------------------------------------------- conversations

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub channel_id: Uuid,
    pub contact_id: Uuid,
    /// The contact's address on the channel: where replies go.
    pub peer: String,
    /// `open`, `pending`, `snoozed` or `resolved`.
    pub status: String,
    pub snoozed_until_ms: Option<i64>,
    pub assignee_user_id: Option<Uuid>,
    pub assignee_team_id: Option<Uuid>,
    pub last_message_ms: i64,
    pub last_inbound_ms: Option<i64>,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A conversation as a viewer lists it: with its channel, its contact's
/// name fields and the viewer's read mark.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub channel_id: Uuid,
    pub contact_id: Uuid,
    pub peer: String,
    pub status: String,
    pub snoozed_until_ms: Option<i64>,
    pub assignee_user_id: Option<Uuid>,
    pub assignee_team_id: Option<Uuid>,
    pub last_message_ms: i64,
    pub last_inbound_ms: Option<i64>,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub channel_kind: String,
    pub channel_name: String,
    pub first_name: String,
    pub last_name: String,
    pub emails: String,
    pub phones: String,
    pub last_read_ms: Option<i64>,
}

const CONVERSATION: &str = "id, org_id, channel_id, contact_id, peer, status, snoozed_until_ms, assignee_user_id,
    assignee_team_id, last_message_ms, last_inbound_ms, version, created_ms, updated_ms";

const VIEW: &str =
    "v.id, v.org_id, v.channel_id, v.contact_id, v.peer, v.status, v.snoozed_until_ms, v.assignee_user_id,
    v.assignee_team_id, v.last_message_ms, v.last_inbound_ms, v.version, v.created_ms, v.updated_ms,
    ch.kind AS channel_kind, ch.name AS channel_name, r.first_name, r.last_name, r.emails, r.phones,
    rd.last_read_ms";

/// Insert unless the (channel, contact) pair already has a conversation that
/// is not resolved. True when inserted.
pub async fn insert_conversation(tx: &mut Tx, r: &ConversationRow) -> Result<bool> {
    const SQL: &str = "INSERT INTO conversations (id, org_id, channel_id, contact_id, peer, status, snoozed_until_ms,
                         assignee_user_id, assignee_team_id, last_message_ms, last_inbound_ms, version, created_ms,
                         updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(r.channel_id)
        .bind(r.contact_id)
        .bind(&r.peer)
        .bind(&r.status)
        .bind(r.snoozed_until_ms)
        .bind(r.assignee_user_id)
        .bind(r.assignee_team_id)
        .bind(r.last_message_ms)
        .bind(r.last_inbound_ms)
        .bind(r.version)
        .bind(r.created_ms)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// The conversation of (channel, contact) that is not resolved, if any.
pub async fn current_conversation(tx: &mut Tx, channel_id: Uuid, contact_id: Uuid) -> Result<Option<ConversationRow>> {
    let sql = format!(
        "SELECT {CONVERSATION} FROM conversations WHERE channel_id = $1 AND contact_id = $2 AND status <> 'resolved'"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, ConversationRow>(&sql)
        .bind(channel_id)
        .bind(contact_id)
        .fetch_optional(c)
        .await?))
}

pub async fn get_conversation(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<ConversationRow>> {
    let sql = format!("SELECT {CONVERSATION} FROM conversations WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, ConversationRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

pub async fn get_conversation_tx(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<Option<ConversationRow>> {
    let sql = format!("SELECT {CONVERSATION} FROM conversations WHERE org_id = $1 AND id = $2");
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, ConversationRow>(&sql).bind(org_id).bind(id).fetch_optional(c).await?))
}

/// A message sent at `at_ms` was stored at `now`: move the conversation's
/// clocks forward (`last_inbound_ms` is the arrival time, which read marks
/// compare with) and, for an inbound one, wake it if it was snoozed.
pub async fn note_message(tx: &mut Tx, id: Uuid, at_ms: i64, inbound: bool, now: i64) -> Result<()> {
    const IN: &str = "UPDATE conversations SET
                        last_message_ms = CASE WHEN last_message_ms > $2 THEN last_message_ms ELSE $2 END,
                        last_inbound_ms = CASE WHEN last_inbound_ms > $3 THEN last_inbound_ms ELSE $3 END,
                        version = CASE WHEN status = 'snoozed' THEN version + 1 ELSE version END,
                        snoozed_until_ms = CASE WHEN status = 'snoozed' THEN NULL ELSE snoozed_until_ms END,
                        status = CASE WHEN status = 'snoozed' THEN 'open' ELSE status END,
                        updated_ms = $3
                      WHERE id = $1";
    const OUT: &str = "UPDATE conversations SET
                        last_message_ms = CASE WHEN last_message_ms > $2 THEN last_message_ms ELSE $2 END,
                        updated_ms = $3
                      WHERE id = $1";
    let sql = if inbound { IN } else { OUT };
    on_tx!(tx, |c| sqlx::query(sql).bind(id).bind(at_ms).bind(now).execute(c).await?.rows_affected());
    Ok(())
}

/// Write status, snooze and assignment if the stored version is still `r.version - 1`.
pub async fn update_conversation(tx: &mut Tx, r: &ConversationRow) -> Result<bool> {
    const SQL: &str = "UPDATE conversations SET status = $3, snoozed_until_ms = $4, assignee_user_id = $5,
                         assignee_team_id = $6, version = $7, updated_ms = $8
                       WHERE org_id = $1 AND id = $2 AND version = $7 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.org_id)
        .bind(r.id)
        .bind(&r.status)
        .bind(r.snoozed_until_ms)
        .bind(r.assignee_user_id)
        .bind(r.assignee_team_id)
        .bind(r.version)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Open a snoozed conversation whose time has come: only if it is still
/// snoozed until exactly `until_ms` (a later snooze, a reply that woke it,
/// or a new status since then leave it alone).
pub async fn wake_snoozed(tx: &mut Tx, org_id: Uuid, id: Uuid, until_ms: i64, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE conversations SET status = 'open', snoozed_until_ms = NULL, version = version + 1,
                         updated_ms = CASE WHEN updated_ms >= $4 THEN updated_ms + 1 ELSE $4 END
                       WHERE org_id = $1 AND id = $2 AND status = 'snoozed' AND snoozed_until_ms = $3
                         AND snoozed_until_ms <= $4";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(id)
        .bind(until_ms)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Who is assigned, for list filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssigneeFilter {
    #[default]
    Any,
    User(Uuid),
    Unassigned,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub status: Option<String>,
    pub assignee: AssigneeFilter,
    pub channel_id: Option<Uuid>,
    pub label: Option<String>,
    pub contact_id: Option<Uuid>,
}

fn view_head(viewer: &Viewer) -> Sql {
    let mut sql = Sql::new(&format!(
        "SELECT {VIEW} FROM conversations v JOIN contacts r ON r.id = v.contact_id
         JOIN channels ch ON ch.id = v.channel_id
         LEFT JOIN conversation_reads rd ON rd.conversation_id = v.id AND rd.user_id = "
    ));
    sql.bind(viewer.user_id).push(" WHERE v.org_id = ").bind(viewer.org_id);
    sql
}

/// One conversation, if it is in the viewer's workspace and they may see its contact.
pub async fn get_visible(db: &Db, viewer: &Viewer, id: Uuid) -> Result<Option<ConversationView>> {
    let mut sql = view_head(viewer);
    sql.push(" AND v.id = ").bind(id).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql.fetch_optional(db).await
}

/// Conversations the viewer may see, most recent activity first.
pub async fn list_visible(
    db: &Db,
    viewer: &Viewer,
    f: &ConversationFilter,
    page: &PageRequest,
) -> Result<Page<ConversationView>> {
    let mut sql = view_head(viewer);
    if let Some(status) = &f.status {
        sql.push(" AND v.status = ").bind(status.as_str());
    }
    match f.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::User(u) => {
            sql.push(" AND v.assignee_user_id = ").bind(u);
        }
        AssigneeFilter::Unassigned => {
            sql.push(" AND v.assignee_user_id IS NULL");
        }
    }
    if let Some(ch) = f.channel_id {
        sql.push(" AND v.channel_id = ").bind(ch);
    }
    if let Some(c) = f.contact_id {
        sql.push(" AND v.contact_id = ").bind(c);
    }
    if let Some(label) = &f.label {
        sql.push(" AND EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = v.id AND l.label = ")
            .bind(label.as_str())
            .push(")");
    }
    if let Some(after) = page.after {
        sql.push(" AND (v.last_message_ms < ")
            .bind(after.key)
            .push(" OR (v.last_message_ms = ")
            .bind(after.key)
            .push(" AND v.id < ")
            .bind(after.id)
            .push("))");
    }
    sql.push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" ORDER BY v.last_message_ms DESC, v.id DESC LIMIT ").bind(page.fetch_limit());
    let rows: Vec<ConversationView> = sql.fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.last_message_ms, id: r.id }))
}

/// Replace a conversation's labels.
pub async fn set_labels(tx: &mut Tx, org_id: Uuid, conversation_id: Uuid, labels: &[String]) -> Result<()> {
    const DEL: &str = "DELETE FROM conversation_labels WHERE conversation_id = $1";
    const INS: &str = "INSERT INTO conversation_labels (org_id, conversation_id, label) VALUES ($1, $2, $3)
                       ON CONFLICT DO NOTHING";
    on_tx!(tx, |c| sqlx::query(DEL).bind(conversation_id).execute(c).await?.rows_affected());
    for label in labels {
        on_tx!(tx, |c| sqlx::query(INS)
            .bind(org_id)
            .bind(conversation_id)
            .bind(label)
            .execute(c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// Labels of these conversations, as `(conversation_id, label)` sorted by label.
pub async fn labels_of(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new("SELECT conversation_id, label FROM conversation_labels WHERE org_id = ");
    sql.bind(org_id).push(" AND conversation_id IN (").bind_list(ids.iter().copied()).push(") ORDER BY label");
    sql.fetch_all(db).await
}

/// Move a user's read mark forward to `at_ms`.
pub async fn mark_read(tx: &mut Tx, conversation_id: Uuid, user_id: Uuid, at_ms: i64) -> Result<()> {
    const SQL: &str = "INSERT INTO conversation_reads (conversation_id, user_id, last_read_ms) VALUES ($1, $2, $3)
                       ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_ms =
                         CASE WHEN conversation_reads.last_read_ms > excluded.last_read_ms
                              THEN conversation_reads.last_read_ms ELSE excluded.last_read_ms END";
    on_tx!(tx, |c| sqlx::query(SQL).bind(conversation_id).bind(user_id).bind(at_ms).execute(c).await?.rows_affected());
    Ok(())
}

// --------------------------------------------------------------- messages

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub conversation_id: Uuid,
    pub channel_id: Uuid,
    /// `in` or `out`.
    pub direction: String,
    /// `message` or `note` (a private note of the team).
    pub kind: String,
    /// Sealed text.
    pub body: Vec<u8>,
    /// Sealed JSON list of media references.
    pub media: Option<Vec<u8>>,
    /// JSON list of mentioned user ids (notes).
    pub mentions: String,
    pub author_user_id: Option<Uuid>,
    pub provider_message_id: Option<String>,
    /// `received`, `queued`, `sent`, `delivered`, `read`, `failed`.
    pub state: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub sent_ms: Option<i64>,
}

const MESSAGE: &str = "id, org_id, conversation_id, channel_id, direction, kind, body, media, mentions,
    author_user_id, provider_message_id, state, error_code, error_message, created_ms, updated_ms, sent_ms";

/// Insert unless the channel already holds a message with this provider id.
/// True when inserted.
pub async fn insert_message(tx: &mut Tx, m: &MessageRow) -> Result<bool> {
    const SQL: &str = "INSERT INTO messages (id, org_id, conversation_id, channel_id, direction, kind, body, media,
                         mentions, author_user_id, provider_message_id, state, error_code, error_message, created_ms,
                         updated_ms, sent_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
                       ON CONFLICT DO NOTHING";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(m.id)
        .bind(m.org_id)
        .bind(m.conversation_id)
        .bind(m.channel_id)
        .bind(&m.direction)
        .bind(&m.kind)
        .bind(&m.body)
        .bind(&m.media)
        .bind(&m.mentions)
        .bind(m.author_user_id)
        .bind(&m.provider_message_id)
        .bind(&m.state)
        .bind(&m.error_code)
        .bind(&m.error_message)
        .bind(m.created_ms)
        .bind(m.updated_ms)
        .bind(m.sent_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn get_message(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<MessageRow>> {
    let sql = format!("SELECT {MESSAGE} FROM messages WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, MessageRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

pub async fn get_message_tx(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<Option<MessageRow>> {
    let sql = format!("SELECT {MESSAGE} FROM messages WHERE org_id = $1 AND id = $2");
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, MessageRow>(&sql).bind(org_id).bind(id).fetch_optional(c).await?))
}

pub async fn message_by_provider_id(tx: &mut Tx, channel_id: Uuid, provider_id: &str) -> Result<Option<MessageRow>> {
    let sql = format!("SELECT {MESSAGE} FROM messages WHERE channel_id = $1 AND provider_message_id = $2");
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, MessageRow>(&sql)
        .bind(channel_id)
        .bind(provider_id)
        .fetch_optional(c)
        .await?))
}

/// Many messages by id (timeline previews).
pub async fn get_messages(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<MessageRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(&format!("SELECT {MESSAGE} FROM messages WHERE org_id = "));
    sql.bind(org_id).push(" AND id IN (").bind_list(ids.iter().copied()).push(")");
    sql.fetch_all(db).await
}

/// A page of a conversation's messages: newest first, or oldest first when `ascending`.
pub async fn list_messages(
    db: &Db,
    org_id: Uuid,
    conversation_id: Uuid,
    ascending: bool,
    page: &PageRequest,
) -> Result<Page<MessageRow>> {
    let (cmp, order, start) =
        if ascending { (">", "ASC", (i64::MIN, Uuid::nil())) } else { ("<", "DESC", (i64::MAX, Uuid::max())) };
    let (k, id) = page.after.map(|c| (c.key, c.id)).unwrap_or(start);
    let mut sql = Sql::new(&format!("SELECT {MESSAGE} FROM messages WHERE org_id = "));
    sql.bind(org_id)
        .push(" AND conversation_id = ")
        .bind(conversation_id)
        .push(&format!(" AND (created_ms {cmp} "))
        .bind(k)
        .push(" OR (created_ms = ")
        .bind(k)
        .push(&format!(" AND id {cmp} "))
        .bind(id)
        .push(&format!(")) ORDER BY created_ms {order}, id {order} LIMIT "))
        .bind(page.fetch_limit());
    let rows: Vec<MessageRow> = sql.fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

/// Move a message to `state` if it is still in `from_state` (a
/// compare-and-set, so concurrent callbacks cannot move it backwards).
#[allow(clippy::too_many_arguments)]
pub async fn set_message_state(
    tx: &mut Tx,
    id: Uuid,
    from_state: &str,
    state: &str,
    error_code: Option<&str>,
    error_message: Option<&str>,
    sent_ms: Option<i64>,
    now: i64,
) -> Result<bool> {
    const SQL: &str = "UPDATE messages SET state = $3, error_code = COALESCE($4, error_code),
                         error_message = COALESCE($5, error_message), sent_ms = COALESCE(sent_ms, $6), updated_ms = $7
                       WHERE id = $1 AND state = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(from_state)
        .bind(state)
        .bind(error_code)
        .bind(error_message)
        .bind(sent_ms)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Record the provider's id of a message once the provider accepted it.
/// A queued message was taken by its provider: record the provider's id and
/// move it to `sent`, in one statement. False (nothing written) when it is no
/// longer `queued`; the caller then records the id alone.
pub async fn set_sent(tx: &mut Tx, id: Uuid, provider_id: &str, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE messages SET provider_message_id = $2, state = 'sent', sent_ms = COALESCE(sent_ms, $3),
                         updated_ms = $3
                       WHERE id = $1 AND state = 'queued'";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(provider_id).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn set_provider_message_id(tx: &mut Tx, id: Uuid, provider_id: &str) -> Result<()> {
    const SQL: &str = "UPDATE messages SET provider_message_id = $2 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(provider_id).execute(c).await?.rows_affected());
    Ok(())
}

// ------------------------------------------------------- pending statuses

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingStatusRow {
    pub channel_id: Uuid,
    pub provider_message_id: String,
    pub org_id: Uuid,
    pub state: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub at_ms: i64,
}

pub async fn get_pending(tx: &mut Tx, channel_id: Uuid, provider_id: &str) -> Result<Option<PendingStatusRow>> {
    const SQL: &str = "SELECT channel_id, provider_message_id, org_id, state, error_code, error_message, at_ms
                       FROM pending_statuses WHERE channel_id = $1 AND provider_message_id = $2";
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, PendingStatusRow>(SQL)
        .bind(channel_id)
        .bind(provider_id)
        .fetch_optional(c)
        .await?))
}

/// Store (or replace) the early status of a message not seen yet.
pub async fn put_pending(tx: &mut Tx, p: &PendingStatusRow) -> Result<()> {
    const SQL: &str = "INSERT INTO pending_statuses (channel_id, provider_message_id, org_id, state, error_code,
                         error_message, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
                       ON CONFLICT (channel_id, provider_message_id) DO UPDATE SET state = excluded.state,
                         error_code = excluded.error_code, error_message = excluded.error_message, at_ms = excluded.at_ms";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(p.channel_id)
        .bind(&p.provider_message_id)
        .bind(p.org_id)
        .bind(&p.state)
        .bind(&p.error_code)
        .bind(&p.error_message)
        .bind(p.at_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn delete_pending(tx: &mut Tx, channel_id: Uuid, provider_id: &str) -> Result<()> {
    const SQL: &str = "DELETE FROM pending_statuses WHERE channel_id = $1 AND provider_message_id = $2";
    on_tx!(tx, |c| sqlx::query(SQL).bind(channel_id).bind(provider_id).execute(c).await?.rows_affected());
    Ok(())
}

// ---------------------------------------------------------------- consent

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub contact_id: Uuid,
    pub channel_kind: String,
    pub channel_id: Option<Uuid>,
    /// `opt_in` or `opt_out`.
    pub kind: String,
    /// `keyword`, `api` or `import`.
    pub source: String,
    pub message_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub at_ms: i64,
}

pub async fn insert_consent(tx: &mut Tx, r: &ConsentRow) -> Result<()> {
    const SQL: &str = "INSERT INTO consent_events (id, org_id, contact_id, channel_kind, channel_id, kind, source,
                         message_id, actor_id, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(r.contact_id)
        .bind(&r.channel_kind)
        .bind(r.channel_id)
        .bind(&r.kind)
        .bind(&r.source)
        .bind(r.message_id)
        .bind(r.actor_id)
        .bind(r.at_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

const CURRENT_CONSENT: &str = "SELECT kind FROM consent_events WHERE org_id = $1 AND contact_id = $2
                               AND channel_kind = $3 ORDER BY at_ms DESC, id DESC LIMIT 1";

/// The contact's current consent on a channel kind: the newest ledger entry.
pub async fn current_consent(db: &Db, org_id: Uuid, contact_id: Uuid, channel_kind: &str) -> Result<Option<String>> {
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, String>(CURRENT_CONSENT)
        .bind(org_id)
        .bind(contact_id)
        .bind(channel_kind)
        .fetch_optional(p)
        .await?))
}

/// Same, read in the transaction that is about to queue a message.
pub async fn current_consent_tx(
    tx: &mut Tx,
    org_id: Uuid,
    contact_id: Uuid,
    channel_kind: &str,
) -> Result<Option<String>> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, String>(CURRENT_CONSENT)
        .bind(org_id)
        .bind(contact_id)
        .bind(channel_kind)
        .fetch_optional(c)
        .await?))
}

/// The ledger of a contact, newest first.
pub async fn consent_history(db: &Db, org_id: Uuid, contact_id: Uuid) -> Result<Vec<ConsentRow>> {
    const SQL: &str = "SELECT id, org_id, contact_id, channel_kind, channel_id, kind, source, message_id, actor_id, at_ms
                       FROM consent_events WHERE org_id = $1 AND contact_id = $2 ORDER BY at_ms DESC, id DESC LIMIT 200";
    Ok(on_read!(db, |p| sqlx::query_as::<_, ConsentRow>(SQL).bind(org_id).bind(contact_id).fetch_all(p).await?))
}

// ------------------------------------------------------------------ merges

/// Two contacts merged: the inbox of `from` moves to `into` (its
/// conversations, channel user ids and consent ledger). Where both have a
/// conversation on one channel that is not resolved, `from`'s is resolved
/// first (one current conversation per channel and contact).
pub async fn move_contact(tx: &mut Tx, org_id: Uuid, from: Uuid, into: Uuid) -> Result<()> {
    const RESOLVE: &str = "UPDATE conversations SET status = 'resolved', snoozed_until_ms = NULL
                           WHERE org_id = $1 AND contact_id = $2 AND status <> 'resolved'
                             AND EXISTS (SELECT 1 FROM conversations w WHERE w.contact_id = $3
                                           AND w.channel_id = conversations.channel_id AND w.status <> 'resolved')";
    const MOVE: &str = "UPDATE conversations SET contact_id = $3 WHERE org_id = $1 AND contact_id = $2";
    const IDS: &str = "INSERT INTO contact_channel_ids (org_id, contact_id, kind, value, created_ms)
                       SELECT org_id, $3, kind, value, created_ms FROM contact_channel_ids
                       WHERE org_id = $1 AND contact_id = $2 ON CONFLICT DO NOTHING";
    const CONSENT: &str = "UPDATE consent_events SET contact_id = $3 WHERE org_id = $1 AND contact_id = $2";
    for sql in [RESOLVE, MOVE, IDS, CONSENT] {
        on_tx!(tx, |c| sqlx::query(sql).bind(org_id).bind(from).bind(into).execute(c).await?.rows_affected());
    }
    Ok(())
}
