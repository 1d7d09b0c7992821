//! E-mail channels: the poller's place in each mailbox (with a lease, so one
//! node polls a mailbox at a time), threading lookups by Message-ID, and the
//! sealed e-mail parts of messages.

use crate::inbox::ConversationRow;
use crate::{Db, Result, Tx};
use uuid::Uuid;

/// A connected e-mail channel, as the poller supervisor lists them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailChannelRef {
    pub id: Uuid,
    pub org_id: Uuid,
    pub version: i64,
}

/// Every connected e-mail channel of every workspace (bounded).
pub async fn active_channels(db: &Db, limit: i64) -> Result<Vec<EmailChannelRef>> {
    const SQL: &str = "SELECT id, org_id, version FROM channels WHERE kind = 'email' AND deleted_ms IS NULL
                       ORDER BY created_ms, id LIMIT $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, EmailChannelRef>(SQL).bind(limit).fetch_all(p).await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailboxState {
    pub channel_id: Uuid,
    pub org_id: Uuid,
    pub uid_validity: i64,
    pub last_uid: i64,
    pub lease_owner: Option<Uuid>,
    pub lease_until_ms: i64,
    pub last_poll_ms: Option<i64>,
    pub last_error: Option<String>,
    pub updated_ms: i64,
}

pub async fn mailbox(db: &Db, channel_id: Uuid) -> Result<Option<MailboxState>> {
    const SQL: &str = "SELECT channel_id, org_id, uid_validity, last_uid, lease_owner, lease_until_ms, last_poll_ms,
                         last_error, updated_ms FROM email_mailboxes WHERE channel_id = $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, MailboxState>(SQL).bind(channel_id).fetch_optional(p).await?))
}

/// Take (or extend) the lease on a channel's mailbox for `owner` until
/// `until`: granted when nobody holds it, it ran out, or `owner` holds it.
/// True when `owner` holds it now.
pub async fn claim(db: &Db, channel_id: Uuid, org_id: Uuid, owner: Uuid, now: i64, until: i64) -> Result<bool> {
    const SQL: &str = "INSERT INTO email_mailboxes (channel_id, org_id, lease_owner, lease_until_ms, updated_ms)
                       VALUES ($1, $2, $3, $5, $4)
                       ON CONFLICT (channel_id) DO UPDATE SET lease_owner = excluded.lease_owner,
                         lease_until_ms = excluded.lease_until_ms
                       WHERE email_mailboxes.lease_until_ms < $4 OR email_mailboxes.lease_owner = $3
                         OR email_mailboxes.lease_owner IS NULL";
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, |c| sqlx::query(SQL)
        .bind(channel_id)
        .bind(org_id)
        .bind(owner)
        .bind(now)
        .bind(until)
        .execute(c)
        .await?
        .rows_affected());
    tx.commit().await?;
    Ok(n == 1)
}

/// Give the lease up (at shutdown), if `owner` still holds it.
pub async fn release(db: &Db, channel_id: Uuid, owner: Uuid) -> Result<()> {
    const SQL: &str = "UPDATE email_mailboxes SET lease_owner = NULL, lease_until_ms = 0
                       WHERE channel_id = $1 AND lease_owner = $2";
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| sqlx::query(SQL).bind(channel_id).bind(owner).execute(c).await?.rows_affected());
    tx.commit().await?;
    Ok(())
}

/// Move the cursor, in the transaction that stores what was fetched, if
/// `owner` still holds the lease. False when the lease was lost (another
/// node polls now): the caller rolls back.
pub async fn advance(
    tx: &mut Tx,
    channel_id: Uuid,
    owner: Uuid,
    uid_validity: i64,
    last_uid: i64,
    now: i64,
) -> Result<bool> {
    const SQL: &str = "UPDATE email_mailboxes SET uid_validity = $3, last_uid = $4, last_poll_ms = $5,
                         last_error = NULL, updated_ms = $5
                       WHERE channel_id = $1 AND lease_owner = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(channel_id)
        .bind(owner)
        .bind(uid_validity)
        .bind(last_uid)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Record how the last poll went (None: fine).
pub async fn note_poll(db: &Db, channel_id: Uuid, owner: Uuid, error: Option<&str>, now: i64) -> Result<()> {
    const SQL: &str = "UPDATE email_mailboxes SET last_poll_ms = $3, last_error = $4, updated_ms = $3
                       WHERE channel_id = $1 AND lease_owner = $2";
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| sqlx::query(SQL)
        .bind(channel_id)
        .bind(owner)
        .bind(now)
        .bind(error)
        .execute(c)
        .await?
        .rows_affected());
    tx.commit().await?;
    Ok(())
}

/// The conversation (not resolved) holding the newest message of the
/// channel whose Message-ID is one of `ids`: where a reply belongs.
pub async fn thread_conversation(tx: &mut Tx, channel_id: Uuid, ids: &[String]) -> Result<Option<ConversationRow>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let mut sql = crate::sql::Sql::new(
        "SELECT c.id, c.org_id, c.channel_id, c.contact_id, c.peer, c.status, c.snoozed_until_ms, c.assignee_user_id,
           c.assignee_team_id, c.last_message_ms, c.last_inbound_ms, c.version, c.created_ms, c.updated_ms
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.channel_id = ",
    );
    sql.bind(channel_id)
        .push(" AND c.status <> 'resolved' AND m.provider_message_id IN (")
        .bind_list(ids.iter().cloned())
        .push(") ORDER BY m.created_ms DESC, m.id DESC LIMIT 1");
    Ok(sql.fetch_all_tx::<ConversationRow>(tx).await?.into_iter().next())
}

/// The newest inbound message of a conversation: (message id, Message-ID).
pub async fn last_inbound(db: &Db, org_id: Uuid, conversation_id: Uuid) -> Result<Option<(Uuid, Option<String>)>> {
    const SQL: &str = "SELECT id, provider_message_id FROM messages
                       WHERE org_id = $1 AND conversation_id = $2 AND direction = 'in' AND kind = 'message'
                       ORDER BY created_ms DESC, id DESC LIMIT 1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, (Uuid, Option<String>)>(SQL)
        .bind(org_id)
        .bind(conversation_id)
        .fetch_optional(p)
        .await?))
}

pub async fn insert_parts(tx: &mut Tx, message_id: Uuid, org_id: Uuid, sealed: &[u8]) -> Result<()> {
    const SQL: &str =
        "INSERT INTO email_messages (message_id, org_id, parts) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    on_tx!(tx, |c| sqlx::query(SQL).bind(message_id).bind(org_id).bind(sealed).execute(c).await?.rows_affected());
    Ok(())
}

/// The sealed e-mail parts of a message, if it is an e-mail.
pub async fn parts(db: &Db, org_id: Uuid, message_id: Uuid) -> Result<Option<Vec<u8>>> {
    const SQL: &str = "SELECT parts FROM email_messages WHERE org_id = $1 AND message_id = $2";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, Vec<u8>>(SQL).bind(org_id).bind(message_id).fetch_optional(p).await?))
}
