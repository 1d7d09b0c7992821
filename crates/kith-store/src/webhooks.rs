//! Webhook endpoints and their deliveries. Secrets and payloads arrive here
//! sealed; this module never sees them in clear.

use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    /// Sealed `whsec_…` secret.
    pub secret: Vec<u8>,
    /// JSON list of event types, or `["*"]`.
    pub events: String,
    pub description: String,
    pub enabled: bool,
    pub created_by: Uuid,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: String,
    /// Sealed JSON body.
    pub payload: Vec<u8>,
    /// `pending`, `delivered` or `parked`.
    pub status: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub delivered_ms: Option<i64>,
}

const ENDPOINT: &str =
    "id, org_id, url, secret, events, description, enabled, created_by, version, created_ms, updated_ms";
const DELIVERY: &str = "id, org_id, endpoint_id, event_type, payload, status, attempts, last_status, last_error,
    created_ms, updated_ms, delivered_ms";

pub async fn insert_endpoint(tx: &mut Tx, e: &EndpointRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO webhook_endpoints (id, org_id, url, secret, events, description, enabled, created_by,
                         version, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(e.id)
        .bind(e.org_id)
        .bind(&e.url)
        .bind(&e.secret)
        .bind(&e.events)
        .bind(&e.description)
        .bind(e.enabled)
        .bind(e.created_by)
        .bind(e.version)
        .bind(e.created_ms)
        .bind(e.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn update_endpoint(tx: &mut Tx, e: &EndpointRow) -> Result<bool> {
    const SQL: &str =
        "UPDATE webhook_endpoints SET url = $3, events = $4, description = $5, enabled = $6, version = $7,
                         updated_ms = $8 WHERE org_id = $1 AND id = $2 AND version = $7 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(e.org_id)
        .bind(e.id)
        .bind(&e.url)
        .bind(&e.events)
        .bind(&e.description)
        .bind(e.enabled)
        .bind(e.version)
        .bind(e.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete_endpoint(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2";
    Ok(on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected()) == 1)
}

pub async fn get_endpoint(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<EndpointRow>> {
    let sql = format!("SELECT {ENDPOINT} FROM webhook_endpoints WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, EndpointRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Every endpoint of a workspace (a handful; bounded).
pub async fn list_endpoints(db: &Db, org_id: Uuid) -> Result<Vec<EndpointRow>> {
    let sql = format!("SELECT {ENDPOINT} FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_ms LIMIT 100");
    Ok(on_read!(db, |p| sqlx::query_as::<_, EndpointRow>(&sql).bind(org_id).fetch_all(p).await?))
}

/// Enabled endpoints, read inside the transaction that emits an event.
pub async fn enabled_endpoints_tx(tx: &mut Tx, org_id: Uuid) -> Result<Vec<(Uuid, String)>> {
    const SQL: &str = "SELECT id, events FROM webhook_endpoints WHERE org_id = $1 AND enabled = TRUE LIMIT 100";
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, (Uuid, String)>(SQL).bind(org_id).fetch_all(c).await?))
}

pub async fn count_endpoints(tx: &mut Tx, org_id: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = $1";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).fetch_one(c).await?))
}

pub async fn insert_delivery(tx: &mut Tx, d: &DeliveryRow) -> Result<()> {
    const SQL: &str = "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, event_type, payload, status, attempts,
                         created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(d.id)
        .bind(d.org_id)
        .bind(d.endpoint_id)
        .bind(&d.event_type)
        .bind(&d.payload)
        .bind(&d.status)
        .bind(d.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get_delivery(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<DeliveryRow>> {
    let sql = format!("SELECT {DELIVERY} FROM webhook_deliveries WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, DeliveryRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Deliveries of one endpoint, newest first.
pub async fn list_deliveries(
    db: &Db,
    org_id: Uuid,
    endpoint_id: Uuid,
    page: &PageRequest,
) -> Result<Page<DeliveryRow>> {
    let sql = format!(
        "SELECT {DELIVERY} FROM webhook_deliveries WHERE org_id = $1 AND endpoint_id = $2
           AND (created_ms < $3 OR (created_ms = $3 AND id < $4)) ORDER BY created_ms DESC, id DESC LIMIT $5"
    );
    let (k, id) = page.after.map(|c| (c.key, c.id)).unwrap_or((i64::MAX, Uuid::max()));
    let rows = on_read!(db, |p| sqlx::query_as::<_, DeliveryRow>(&sql)
        .bind(org_id)
        .bind(endpoint_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

/// Record one attempt's outcome.
pub async fn record_attempt(
    tx: &mut Tx,
    id: Uuid,
    status: &str,
    http_status: Option<i64>,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    const SQL: &str = "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_status = $3,
                         last_error = $4, updated_ms = $5,
                         delivered_ms = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_ms END
                       WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(status)
        .bind(http_status)
        .bind(error)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Back to pending for a manual replay.
pub async fn requeue(tx: &mut Tx, org_id: Uuid, id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE webhook_deliveries SET status = 'pending', updated_ms = $3 WHERE org_id = $1 AND id = $2";
    Ok(on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).bind(now).execute(c).await?.rows_affected()) == 1)
}
