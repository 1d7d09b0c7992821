//! Outbound sending: rate-limit slots per sender, the send details of
//! outbound messages, failed sends and channel health figures, and canned
//! responses. The rules (how long to wait, what is held) live in kith-app;
//! this module only moves rows.

use crate::inbox::MessageRow;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

// ------------------------------------------------------------ send slots

/// A sender's (or a sender-recipient pair's) slot state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SlotRow {
    pub next_ms: i64,
    pub tail_ms: i64,
    /// How far the waiting line has been moved back in all (see migration 0017).
    pub shift_ms: i64,
}

/// Read a slot row, creating it when missing, and hold it for the rest of
/// the transaction: the upsert takes the row lock on PostgreSQL (a second
/// worker waits here until the first commits), and SQLite's single writer
/// serialises anyway. Lock several scopes in a fixed order (callers sort).
pub async fn lock_slot(tx: &mut Tx, org_id: Uuid, channel_id: Uuid, scope: &str, now: i64) -> Result<SlotRow> {
    const SQL: &str = "INSERT INTO send_slots (channel_id, scope, org_id, next_ms, tail_ms, updated_ms)
                       VALUES ($1, $2, $3, 0, 0, $4)
                       ON CONFLICT (channel_id, scope) DO UPDATE SET updated_ms = excluded.updated_ms
                       RETURNING next_ms, tail_ms, shift_ms";
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, SlotRow>(SQL)
        .bind(channel_id)
        .bind(scope)
        .bind(org_id)
        .bind(now)
        .fetch_one(c)
        .await?))
}

/// A slot row as last committed, without a lock (None: the scope has no row
/// yet). With [`swap_slot`], a claim that only moves the sender on, or only
/// learns that it must wait, takes no transaction.
pub async fn peek_slot(db: &Db, channel_id: Uuid, scope: &str) -> Result<Option<SlotRow>> {
    const SQL: &str = "SELECT next_ms, tail_ms, shift_ms FROM send_slots WHERE channel_id = $1 AND scope = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, SlotRow>(SQL).bind(channel_id).bind(scope).fetch_optional(p).await?))
}

/// Write `new` over a slot row if it still holds `old`, in one statement;
/// false when another claim changed it since it was read.
pub async fn swap_slot(db: &Db, channel_id: Uuid, scope: &str, old: SlotRow, new: SlotRow, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE send_slots SET next_ms = $6, tail_ms = $7, shift_ms = $8, updated_ms = $9
                       WHERE channel_id = $1 AND scope = $2 AND next_ms = $3 AND tail_ms = $4 AND shift_ms = $5";
    let n = on_write!(db, |p| sqlx::query(SQL)
        .bind(channel_id)
        .bind(scope)
        .bind(old.next_ms)
        .bind(old.tail_ms)
        .bind(old.shift_ms)
        .bind(new.next_ms)
        .bind(new.tail_ms)
        .bind(new.shift_ms)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Write a slot row locked by [`lock_slot`] in this transaction.
pub async fn set_slot(tx: &mut Tx, channel_id: Uuid, scope: &str, slot: SlotRow) -> Result<()> {
    const SQL: &str =
        "UPDATE send_slots SET next_ms = $3, tail_ms = $4, shift_ms = $5 WHERE channel_id = $1 AND scope = $2";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(channel_id)
        .bind(scope)
        .bind(slot.next_ms)
        .bind(slot.tail_ms)
        .bind(slot.shift_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

// ------------------------------------------------------ outbound details

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboundRow {
    pub message_id: Uuid,
    pub org_id: Uuid,
    /// `manual`, `automated` or `bulk`.
    pub origin: String,
    /// Sealed JSON of a WhatsApp template (name, language, variables).
    pub template: Option<Vec<u8>>,
    pub canned_response_id: Option<Uuid>,
    /// The rate-limit slot the send waits for.
    pub slot_ms: Option<i64>,
    /// The sender's line shift when that slot was handed out.
    pub slot_shift_ms: Option<i64>,
    /// Quiet hours hold the send until then.
    pub hold_until_ms: Option<i64>,
    /// How often a provider throttled this send.
    pub throttled: i64,
}

const OUTBOUND: &str =
    "message_id, org_id, origin, template, canned_response_id, slot_ms, slot_shift_ms, hold_until_ms, throttled";

pub async fn insert_outbound(tx: &mut Tx, r: &OutboundRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO outbound_messages (message_id, org_id, origin, template, canned_response_id, slot_ms,
                         slot_shift_ms, hold_until_ms, throttled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.message_id)
        .bind(r.org_id)
        .bind(&r.origin)
        .bind(&r.template)
        .bind(r.canned_response_id)
        .bind(r.slot_ms)
        .bind(r.slot_shift_ms)
        .bind(r.hold_until_ms)
        .bind(r.throttled)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get_outbound(db: &Db, org_id: Uuid, message_id: Uuid) -> Result<Option<OutboundRow>> {
    let sql = format!("SELECT {OUTBOUND} FROM outbound_messages WHERE message_id = $1 AND org_id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, OutboundRow>(&sql).bind(message_id).bind(org_id).fetch_optional(p).await?))
}

/// Everything a send job reads before its provider call, read in one
/// statement: a send used to make six reads, each a round trip to the
/// database (on SQLite, to its worker thread), and at hundreds of sends a
/// second those round trips were most of what a send cost.
#[derive(Debug, Clone)]
pub struct SendContext {
    pub message: MessageRow,
    /// None when the conversation is gone.
    pub conversation: Option<crate::inbox::ConversationRow>,
    /// None when the channel's row is gone (a disconnected one is kept, with `deleted_ms`).
    pub channel: Option<crate::channels::ChannelRow>,
    pub outbound: Option<OutboundRow>,
    /// The contact's current consent on the channel's kind (the newest
    /// ledger entry), if any.
    pub consent: Option<String>,
    /// Whether files are attached to the message.
    pub has_files: bool,
}

const SEND_CONTEXT: &str = "SELECT m.id, m.org_id, m.conversation_id, m.channel_id, m.direction, m.kind, m.body,
        m.media, m.mentions, m.author_user_id, m.provider_message_id, m.state, m.error_code, m.error_message,
        m.created_ms, m.updated_ms, m.sent_ms,
        c.id AS c_id, c.contact_id AS c_contact_id, c.peer AS c_peer, c.status AS c_status,
        c.snoozed_until_ms AS c_snoozed_until_ms, c.assignee_user_id AS c_assignee_user_id,
        c.assignee_team_id AS c_assignee_team_id, c.last_message_ms AS c_last_message_ms,
        c.last_inbound_ms AS c_last_inbound_ms, c.version AS c_version, c.created_ms AS c_created_ms,
        c.updated_ms AS c_updated_ms,
        ch.id AS ch_id, ch.kind AS ch_kind, ch.name AS ch_name, ch.config AS ch_config,
        ch.public_config AS ch_public_config, ch.secrets_set AS ch_secrets_set, ch.route_key AS ch_route_key,
        ch.ai_mode AS ch_ai_mode, ch.status AS ch_status, ch.created_by AS ch_created_by, ch.version AS ch_version,
        ch.created_ms AS ch_created_ms, ch.updated_ms AS ch_updated_ms, ch.deleted_ms AS ch_deleted_ms,
        o.message_id AS o_message_id, o.origin AS o_origin, o.template AS o_template,
        o.canned_response_id AS o_canned_response_id, o.slot_ms AS o_slot_ms, o.slot_shift_ms AS o_slot_shift_ms,
        o.hold_until_ms AS o_hold_until_ms, o.throttled AS o_throttled,
        (SELECT e.kind FROM consent_events e
         WHERE e.org_id = m.org_id AND e.contact_id = c.contact_id AND e.channel_kind = ch.kind
         ORDER BY e.at_ms DESC, e.id DESC LIMIT 1) AS consent,
        CAST(CASE WHEN EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = m.id) THEN 1 ELSE 0 END AS BIGINT)
          AS has_files
     FROM messages m
     LEFT JOIN conversations c ON c.id = m.conversation_id AND c.org_id = m.org_id
     LEFT JOIN channels ch ON ch.id = m.channel_id AND ch.org_id = m.org_id
     LEFT JOIN outbound_messages o ON o.message_id = m.id AND o.org_id = m.org_id
     WHERE m.org_id = $1 AND m.id = $2";

/// What a send of message `message_id` needs ([`SendContext`]); None when
/// the message is not in the workspace.
pub async fn send_context(db: &Db, org_id: Uuid, message_id: Uuid) -> Result<Option<SendContext>> {
    use sqlx::{FromRow, Row};
    Ok(on_read!(db, |p| {
        let Some(row) = sqlx::query(SEND_CONTEXT).bind(org_id).bind(message_id).fetch_optional(p).await? else {
            return Ok(None);
        };
        let message = MessageRow::from_row(&row)?;
        let conversation = match row.try_get::<Option<Uuid>, _>("c_id")? {
            None => None,
            Some(id) => Some(crate::inbox::ConversationRow {
                id,
                org_id: message.org_id,
                channel_id: message.channel_id,
                contact_id: row.try_get("c_contact_id")?,
                peer: row.try_get("c_peer")?,
                status: row.try_get("c_status")?,
                snoozed_until_ms: row.try_get("c_snoozed_until_ms")?,
                assignee_user_id: row.try_get("c_assignee_user_id")?,
                assignee_team_id: row.try_get("c_assignee_team_id")?,
                last_message_ms: row.try_get("c_last_message_ms")?,
                last_inbound_ms: row.try_get("c_last_inbound_ms")?,
                version: row.try_get("c_version")?,
                created_ms: row.try_get("c_created_ms")?,
                updated_ms: row.try_get("c_updated_ms")?,
            }),
        };
        let channel = match row.try_get::<Option<Uuid>, _>("ch_id")? {
            None => None,
            Some(id) => Some(crate::channels::ChannelRow {
                id,
                org_id: message.org_id,
                kind: row.try_get("ch_kind")?,
                name: row.try_get("ch_name")?,
                config: row.try_get("ch_config")?,
                public_config: row.try_get("ch_public_config")?,
                secrets_set: row.try_get("ch_secrets_set")?,
                route_key: row.try_get("ch_route_key")?,
                ai_mode: row.try_get("ch_ai_mode")?,
                status: row.try_get("ch_status")?,
                created_by: row.try_get("ch_created_by")?,
                version: row.try_get("ch_version")?,
                created_ms: row.try_get("ch_created_ms")?,
                updated_ms: row.try_get("ch_updated_ms")?,
                deleted_ms: row.try_get("ch_deleted_ms")?,
            }),
        };
        let outbound = match row.try_get::<Option<Uuid>, _>("o_message_id")? {
            None => None,
            Some(message_id) => Some(OutboundRow {
                message_id,
                org_id: message.org_id,
                origin: row.try_get("o_origin")?,
                template: row.try_get("o_template")?,
                canned_response_id: row.try_get("o_canned_response_id")?,
                slot_ms: row.try_get("o_slot_ms")?,
                slot_shift_ms: row.try_get("o_slot_shift_ms")?,
                hold_until_ms: row.try_get("o_hold_until_ms")?,
                throttled: row.try_get("o_throttled")?,
            }),
        };
        let consent = row.try_get("consent")?;
        let has_files = row.try_get::<i64, _>("has_files")? != 0;
        Some(SendContext { message, conversation, channel, outbound, consent, has_files })
    }))
}

/// The send details of several messages (for showing held messages).
pub async fn get_outbound_many(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<OutboundRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = crate::sql::Sql::new(&format!("SELECT {OUTBOUND} FROM outbound_messages WHERE org_id = "));
    sql.bind(org_id).push(" AND message_id IN (").bind_list(ids.iter().copied()).push(")");
    sql.fetch_all(db).await
}

/// Set the slot a message waits for, and when quiet hours hold it until
/// (creating its details row when the message has none).
pub async fn set_schedule(
    tx: &mut Tx,
    org_id: Uuid,
    message_id: Uuid,
    slot_ms: Option<i64>,
    hold_until_ms: Option<i64>,
) -> Result<()> {
    const SQL: &str =
        "INSERT INTO outbound_messages (message_id, org_id, slot_ms, hold_until_ms) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (message_id) DO UPDATE SET slot_ms = excluded.slot_ms,
                         hold_until_ms = excluded.hold_until_ms";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(message_id)
        .bind(org_id)
        .bind(slot_ms)
        .bind(hold_until_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Give a message the rate-limit slot it waits for, with the sender's line
/// shift at that moment (creating its details row when the message has none).
pub async fn reserve_slot(tx: &mut Tx, org_id: Uuid, message_id: Uuid, slot_ms: i64, shift_ms: i64) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(RESERVE_SLOT)
        .bind(message_id)
        .bind(org_id)
        .bind(slot_ms)
        .bind(shift_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// [`reserve_slot`] as a statement of its own (after a [`swap_slot`]).
pub async fn reserve_slot_now(db: &Db, org_id: Uuid, message_id: Uuid, slot_ms: i64, shift_ms: i64) -> Result<()> {
    on_write!(db, |p| sqlx::query(RESERVE_SLOT)
        .bind(message_id)
        .bind(org_id)
        .bind(slot_ms)
        .bind(shift_ms)
        .execute(p)
        .await?
        .rows_affected());
    Ok(())
}

const RESERVE_SLOT: &str = "INSERT INTO outbound_messages (message_id, org_id, slot_ms, slot_shift_ms, hold_until_ms)
                            VALUES ($1, $2, $3, $4, NULL)
                            ON CONFLICT (message_id) DO UPDATE SET slot_ms = excluded.slot_ms,
                              slot_shift_ms = excluded.slot_shift_ms, hold_until_ms = NULL";

/// Count one more provider throttle of a message; the new count.
pub async fn bump_throttled(tx: &mut Tx, org_id: Uuid, message_id: Uuid) -> Result<i64> {
    const SQL: &str = "INSERT INTO outbound_messages (message_id, org_id, throttled) VALUES ($1, $2, 1)
                       ON CONFLICT (message_id) DO UPDATE SET throttled = outbound_messages.throttled + 1
                       RETURNING throttled";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(message_id).bind(org_id).fetch_one(c).await?))
}

// ------------------------------------------------- failed sends, health

/// Outbound messages of a channel that failed before the provider took
/// them (no provider id), newest first.
pub async fn list_failed(db: &Db, org_id: Uuid, channel_id: Uuid, page: &PageRequest) -> Result<Page<MessageRow>> {
    const SQL: &str = "SELECT id, org_id, conversation_id, channel_id, direction, kind, body, media, mentions,
        author_user_id, provider_message_id, state, error_code, error_message, created_ms, updated_ms, sent_ms
        FROM messages WHERE channel_id = $1 AND org_id = $2 AND direction = 'out' AND state = 'failed'
          AND provider_message_id IS NULL AND (created_ms < $3 OR (created_ms = $3 AND id < $4))
        ORDER BY created_ms DESC, id DESC LIMIT $5";
    let (k, id) = page.after.map(|c| (c.key, c.id)).unwrap_or((i64::MAX, Uuid::max()));
    let rows = on_read!(db, |p| sqlx::query_as::<_, MessageRow>(SQL)
        .bind(channel_id)
        .bind(org_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

/// Put a failed send back in the queue (cleared of its error) if it is
/// still failed and never reached the provider. True when it was.
pub async fn requeue_failed(tx: &mut Tx, org_id: Uuid, message_id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE messages SET state = 'queued', error_code = NULL, error_message = NULL, updated_ms = $3
                       WHERE id = $1 AND org_id = $2 AND direction = 'out' AND kind = 'message'
                         AND state = 'failed' AND provider_message_id IS NULL";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(message_id).bind(org_id).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// Outbound figures of one channel since a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct SendStats {
    pub total: i64,
    pub failed: i64,
    pub last_out_ms: Option<i64>,
}

/// Messages sent (or tried) on each channel since `since_ms`, and how many
/// of them failed. Reads the channel's outbound index over that span only.
pub async fn send_stats(db: &Db, org_id: Uuid, channel_ids: &[Uuid], since_ms: i64) -> Result<Vec<(Uuid, SendStats)>> {
    const SQL: &str = "SELECT COUNT(*) AS total,
          CAST(COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed,
          MAX(created_ms) AS last_out_ms
        FROM messages WHERE channel_id = $1 AND org_id = $2 AND direction = 'out' AND kind = 'message'
          AND created_ms >= $3";
    let mut out = Vec::with_capacity(channel_ids.len());
    for id in channel_ids {
        let s = on_read!(db, |p| sqlx::query_as::<_, SendStats>(SQL)
            .bind(id)
            .bind(org_id)
            .bind(since_ms)
            .fetch_one(p)
            .await?);
        out.push((*id, s));
    }
    Ok(out)
}

/// When this contact last wrote on this channel (over all of its
/// conversations there).
pub async fn last_inbound(tx: &mut Tx, org_id: Uuid, channel_id: Uuid, contact_id: Uuid) -> Result<Option<i64>> {
    const SQL: &str = "SELECT MAX(last_inbound_ms) FROM conversations
                       WHERE org_id = $1 AND contact_id = $2 AND channel_id = $3";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, Option<i64>>(SQL)
        .bind(org_id)
        .bind(contact_id)
        .bind(channel_id)
        .fetch_one(c)
        .await?))
}

// ------------------------------------------------------ canned responses

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CannedRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub body: String,
    pub created_by: Option<Uuid>,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const CANNED: &str = "id, org_id, name, body, created_by, version, created_ms, updated_ms";

pub async fn insert_canned(tx: &mut Tx, r: &CannedRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO canned_responses (id, org_id, name, body, created_by, version, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(&r.name)
        .bind(&r.body)
        .bind(r.created_by)
        .bind(r.version)
        .bind(r.created_ms)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get_canned(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<CannedRow>> {
    let sql = format!("SELECT {CANNED} FROM canned_responses WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, CannedRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Canned responses, newest first (keyset pages by creation time).
pub async fn list_canned(db: &Db, org_id: Uuid, page: &PageRequest) -> Result<Page<CannedRow>> {
    let sql = format!(
        "SELECT {CANNED} FROM canned_responses WHERE org_id = $1
           AND (created_ms < $2 OR (created_ms = $2 AND id < $3)) ORDER BY created_ms DESC, id DESC LIMIT $4"
    );
    let (k, id) = page.after.map(|c| (c.key, c.id)).unwrap_or((i64::MAX, Uuid::max()));
    let rows = on_read!(db, |p| sqlx::query_as::<_, CannedRow>(&sql)
        .bind(org_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

/// Write name and body if the stored version is still `r.version - 1`.
pub async fn update_canned(tx: &mut Tx, r: &CannedRow) -> Result<bool> {
    const SQL: &str = "UPDATE canned_responses SET name = $3, body = $4, version = $5, updated_ms = $6
                       WHERE org_id = $1 AND id = $2 AND version = $5 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.org_id)
        .bind(r.id)
        .bind(&r.name)
        .bind(&r.body)
        .bind(r.version)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete_canned(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM canned_responses WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn count_canned(tx: &mut Tx, org_id: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM canned_responses WHERE org_id = $1";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).fetch_one(c).await?))
}
