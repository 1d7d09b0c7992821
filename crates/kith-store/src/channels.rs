//! Inbox channels: one row per connected provider account. Credentials
//! arrive here sealed (`config`); this module never sees them in clear.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: Uuid,
    pub org_id: Uuid,
    /// `twilio_sms`, `whatsapp`, `messenger`, `instagram`, `telegram`, `viber`, `email`.
    pub kind: String,
    pub name: String,
    /// Sealed JSON of every setting and credential; None once disconnected.
    pub config: Option<Vec<u8>>,
    /// JSON object of the non-secret settings.
    pub public_config: String,
    /// JSON list of the names of the secrets that are set.
    pub secrets_set: String,
    /// Meta's routing id (phone_number_id, page id, Instagram account id).
    pub route_key: Option<String>,
    /// `off`, `suggest` or `auto`.
    pub ai_mode: String,
    /// `active` or `deleted`.
    pub status: String,
    pub created_by: Uuid,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub deleted_ms: Option<i64>,
}

/// What a provider webhook needs to verify and route a request: read by
/// channel id alone (the URL carries it), before anyone is authenticated.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HookChannelRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub kind: String,
    pub config: Option<Vec<u8>>,
    pub route_key: Option<String>,
}

const COLUMNS: &str = "id, org_id, kind, name, config, public_config, secrets_set, route_key, ai_mode, status,
    created_by, version, created_ms, updated_ms, deleted_ms";

pub async fn insert(tx: &mut Tx, r: &ChannelRow) -> Result<()> {
    const SQL: &str = "INSERT INTO channels (id, org_id, kind, name, config, public_config, secrets_set, route_key,
                         ai_mode, status, created_by, version, created_ms, updated_ms, deleted_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(&r.kind)
        .bind(&r.name)
        .bind(&r.config)
        .bind(&r.public_config)
        .bind(&r.secrets_set)
        .bind(&r.route_key)
        .bind(&r.ai_mode)
        .bind(&r.status)
        .bind(r.created_by)
        .bind(r.version)
        .bind(r.created_ms)
        .bind(r.updated_ms)
        .bind(r.deleted_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Write the editable fields if the stored version is still `r.version - 1`
/// and the channel is still connected.
pub async fn update(tx: &mut Tx, r: &ChannelRow) -> Result<bool> {
    const SQL: &str = "UPDATE channels SET name = $3, config = $4, public_config = $5, secrets_set = $6,
                         route_key = $7, ai_mode = $8, version = $9, updated_ms = $10
                       WHERE org_id = $1 AND id = $2 AND version = $9 - 1 AND deleted_ms IS NULL";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.org_id)
        .bind(r.id)
        .bind(&r.name)
        .bind(&r.config)
        .bind(&r.public_config)
        .bind(&r.secrets_set)
        .bind(&r.route_key)
        .bind(r.ai_mode.as_str())
        .bind(r.version)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Disconnect: wipe the sealed credentials and stop routing. The row stays
/// (its conversations keep pointing at it), marked deleted.
pub async fn disconnect(tx: &mut Tx, org_id: Uuid, id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE channels SET config = NULL, secrets_set = '[]', route_key = NULL, status = 'deleted',
                         deleted_ms = $3, updated_ms = $3, version = version + 1
                       WHERE org_id = $1 AND id = $2 AND deleted_ms IS NULL";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// A connected channel of the workspace.
pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<ChannelRow>> {
    let sql = format!("SELECT {COLUMNS} FROM channels WHERE org_id = $1 AND id = $2 AND deleted_ms IS NULL");
    Ok(on_read!(db, |p| sqlx::query_as::<_, ChannelRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// A channel of the workspace, connected or not (to show a conversation's channel).
pub async fn get_any(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<ChannelRow>> {
    let sql = format!("SELECT {COLUMNS} FROM channels WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, ChannelRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Same, inside a transaction.
pub async fn get_any_tx(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<Option<ChannelRow>> {
    let sql = format!("SELECT {COLUMNS} FROM channels WHERE org_id = $1 AND id = $2");
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, ChannelRow>(&sql).bind(org_id).bind(id).fetch_optional(c).await?))
}

/// The connected channels of a workspace (a handful; bounded).
pub async fn list(db: &Db, org_id: Uuid) -> Result<Vec<ChannelRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM channels WHERE org_id = $1 AND deleted_ms IS NULL ORDER BY created_ms, id LIMIT 200"
    );
    Ok(on_read!(db, |p| sqlx::query_as::<_, ChannelRow>(&sql).bind(org_id).fetch_all(p).await?))
}

pub async fn count_active(tx: &mut Tx, org_id: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM channels WHERE org_id = $1 AND deleted_ms IS NULL";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).fetch_one(c).await?))
}

/// A connected channel by id alone, for a provider webhook.
pub async fn get_for_hook(db: &Db, id: Uuid) -> Result<Option<HookChannelRow>> {
    const SQL: &str = "SELECT id, org_id, kind, config, route_key FROM channels WHERE id = $1 AND deleted_ms IS NULL";
    Ok(on_read!(db, |p| sqlx::query_as::<_, HookChannelRow>(SQL).bind(id).fetch_optional(p).await?))
}

/// The connected channel of a workspace that Meta addresses as `route_key`.
pub async fn by_route(db: &Db, org_id: Uuid, route_key: &str) -> Result<Option<HookChannelRow>> {
    const SQL: &str = "SELECT id, org_id, kind, config, route_key FROM channels
                       WHERE org_id = $1 AND route_key = $2 AND deleted_ms IS NULL";
    Ok(on_read!(db, |p| sqlx::query_as::<_, HookChannelRow>(SQL)
        .bind(org_id)
        .bind(route_key)
        .fetch_optional(p)
        .await?))
}

/// When each of these channels last received an event (per-channel health).
pub async fn last_events(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<(Uuid, i64)>> {
    let mut out = Vec::with_capacity(ids.len());
    const SQL: &str = "SELECT MAX(received_ms) FROM inbound_events WHERE channel_id = $1 AND org_id = $2";
    for id in ids {
        let last: Option<i64> =
            on_read!(db, |p| sqlx::query_scalar::<_, Option<i64>>(SQL).bind(*id).bind(org_id).fetch_one(p).await?);
        if let Some(last) = last {
            out.push((*id, last));
        }
    }
    Ok(out)
}

/// Remove a channel that never got going (its webhook registration was
/// refused at connect time); nothing points at it yet.
pub async fn delete_unused(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<()> {
    const SQL: &str = "DELETE FROM channels WHERE org_id = $1 AND id = $2
                       AND NOT EXISTS (SELECT 1 FROM conversations WHERE channel_id = $2)";
    on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(())
}
