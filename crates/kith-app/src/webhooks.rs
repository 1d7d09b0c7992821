//! Outbound webhooks: a workspace subscribes URLs to record events and Kith
//! POSTs each event to them, signed per Standard Webhooks
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC>`).
//!
//! An event is stored (sealed) and its delivery job enqueued in the same
//! transaction as the change it reports, so nothing is announced that did
//! not happen and nothing that happened is lost. Deliveries go through the
//! SSRF-guarded client, retry with exponential backoff for more than a day,
//! then are parked; the delivery log shows every attempt and any delivery
//! can be replayed. Personal records never produce events (promise 2): a
//! workspace-wide endpoint must not learn about one user's private contacts.

use crate::worker::{self, JobError, Registry};
use crate::{App, AppError, Result};
use base64::Engine;
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_store::webhooks::{self as rows, DeliveryRow, EndpointRow};
use kith_store::Tx;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const JOB: &str = "webhook.deliver";
/// With backoff doubling up to an hour, 36 tries span more than 24 hours.
pub const MAX_ATTEMPTS: i64 = 36;
pub const MAX_ENDPOINTS: i64 = 20;
const TABLE: &str = "webhook_endpoints";

/// Every event type an endpoint can subscribe to.
pub const EVENT_TYPES: [&str; 10] = [
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "contact.merged",
    "company.created",
    "company.updated",
    "company.deleted",
    "deal.created",
    "deal.updated",
    "deal.deleted",
];

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    #[serde(default)]
    pub url: Option<String>,
    /// Event types, or `["*"]` for all (default).
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Only in the answer to its creation: the `whsec_…` signing secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Endpoint {
    fn from_row(r: EndpointRow, secret: Option<String>) -> Endpoint {
        Endpoint {
            id: r.id,
            url: r.url,
            events: serde_json::from_str(&r.events).unwrap_or_default(),
            description: r.description,
            enabled: r.enabled,
            secret,
            version: r.version,
            created_at_ms: r.created_ms,
            updated_at_ms: r.updated_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `parked` (gave up; replay to try again).
    pub status: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
}

impl From<DeliveryRow> for Delivery {
    fn from(d: DeliveryRow) -> Delivery {
        Delivery {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at_ms: d.created_ms,
            delivered_at_ms: d.delivered_ms,
        }
    }
}

fn need_admin(ctx: &Context) -> Result<()> {
    if ctx.can(Action::ManageCrmSettings) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The Standard Webhooks signature of one message: `v1,<base64>` of
/// HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's bytes
/// (base64 after `whsec_`).
pub fn sign(secret: &str, msg_id: &str, timestamp_s: i64, body: &[u8]) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut message = format!("{msg_id}.{timestamp_s}.").into_bytes();
    message.extend_from_slice(body);
    let mac = kith_crypto::hmac_sha256(&key, &message);
    Some(format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac)))
}

fn check_events(events: &[String]) -> Result<Vec<String>> {
    if events.is_empty() {
        return Err(AppError::field("events", "subscribe to at least one event type, or [\"*\"]"));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(AppError::field("events", format!("{e:?} is not an event type ({})", EVENT_TYPES.join(", "))));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

fn check_url(app: &App, url: &str) -> Result<String> {
    let url = url.trim();
    let parsed = app.outbound().check_url(url).map_err(|e| AppError::field("url", e.to_string()))?;
    if parsed.scheme() != "https" && !app.settings().allow_private_networks {
        return Err(AppError::field("url", "must be an https:// URL"));
    }
    Ok(parsed.to_string())
}

pub async fn create(app: &App, ctx: &Context, input: &EndpointInput) -> Result<Endpoint> {
    need_admin(ctx)?;
    let url = check_url(app, input.url.as_deref().ok_or_else(|| AppError::field("url", "is required"))?)?;
    let events = check_events(input.events.as_deref().unwrap_or(&["*".to_string()]))?;
    let description = input.description.as_deref().unwrap_or("").trim().chars().take(200).collect::<String>();
    let secret =
        format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(kith_crypto::random_bytes::<24>()));
    let id = new_id();
    let now = now_ms();
    let row = EndpointRow {
        id,
        org_id: ctx.org_id,
        url,
        secret: app.keyring().seal(app.db(), ctx.org_id, TABLE, "secret", id, secret.as_bytes()).await?,
        events: serde_json::to_string(&events).expect("json"),
        description,
        enabled: input.enabled.unwrap_or(true),
        created_by: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    let mut tx = app.db().begin().await?;
    if rows::count_endpoints(&mut tx, ctx.org_id).await? >= MAX_ENDPOINTS {
        return Err(AppError::field("url", format!("a workspace has at most {MAX_ENDPOINTS} webhook endpoints")));
    }
    rows::insert_endpoint(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(Endpoint::from_row(row, Some(secret)))
}

pub async fn list(app: &App, ctx: &Context) -> Result<Vec<Endpoint>> {
    need_admin(ctx)?;
    Ok(rows::list_endpoints(app.db(), ctx.org_id).await?.into_iter().map(|r| Endpoint::from_row(r, None)).collect())
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Endpoint> {
    need_admin(ctx)?;
    Ok(Endpoint::from_row(rows::get_endpoint(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?, None))
}

pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &EndpointInput,
    if_version: Option<i64>,
) -> Result<Endpoint> {
    need_admin(ctx)?;
    let mut row = rows::get_endpoint(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if if_version.is_some_and(|v| v != row.version) {
        return Err(AppError::StaleVersion);
    }
    if let Some(url) = &input.url {
        row.url = check_url(app, url)?;
    }
    if let Some(events) = &input.events {
        row.events = serde_json::to_string(&check_events(events)?).expect("json");
    }
    if let Some(d) = &input.description {
        row.description = d.trim().chars().take(200).collect();
    }
    row.enabled = input.enabled.unwrap_or(row.enabled);
    row.version += 1;
    row.updated_ms = now_ms().max(row.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    if !rows::update_endpoint(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    tx.commit().await?;
    Ok(Endpoint::from_row(row, None))
}

pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need_admin(ctx)?;
    let mut tx = app.db().begin().await?;
    if !rows::delete_endpoint(&mut tx, ctx.org_id, id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

pub async fn deliveries(app: &App, ctx: &Context, endpoint_id: Uuid, page: &PageRequest) -> Result<Page<Delivery>> {
    need_admin(ctx)?;
    rows::get_endpoint(app.db(), ctx.org_id, endpoint_id).await?.ok_or(AppError::NotFound)?;
    Ok(rows::list_deliveries(app.db(), ctx.org_id, endpoint_id, page).await?.map(Delivery::from))
}

/// Send a delivery again (after the endpoint was fixed, or a parked one).
pub async fn replay(app: &App, ctx: &Context, endpoint_id: Uuid, delivery_id: Uuid) -> Result<Delivery> {
    need_admin(ctx)?;
    let d = rows::get_delivery(app.db(), ctx.org_id, delivery_id).await?.ok_or(AppError::NotFound)?;
    if d.endpoint_id != endpoint_id {
        return Err(AppError::NotFound);
    }
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    rows::requeue(&mut tx, ctx.org_id, delivery_id, now).await?;
    let payload = serde_json::json!({"delivery_id": delivery_id});
    worker::enqueue_with_attempts(&mut tx, JOB, Some(ctx.org_id), &payload, now, MAX_ATTEMPTS).await?;
    tx.commit().await?;
    Ok(rows::get_delivery(app.db(), ctx.org_id, delivery_id).await?.ok_or(AppError::NotFound)?.into())
}

/// Announce `event_type` about one record to every subscribed endpoint, in
/// the caller's transaction. The body is `{"type", "timestamp_ms", "data"}`;
/// `data` carries the record's type, id and version (consumers fetch the
/// record through the API, where visibility applies). Personal records are
/// never announced.
pub(crate) async fn emit(
    app: &App,
    tx: &mut Tx,
    org_id: Uuid,
    event_type: &str,
    record_id: Uuid,
    version: Option<i64>,
    personal: bool,
) -> Result<()> {
    if personal {
        return Ok(());
    }
    let endpoints = rows::enabled_endpoints_tx(tx, org_id).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let record_type = event_type.split('.').next().unwrap_or("");
    let body = serde_json::json!({
        "type": event_type,
        "timestamp_ms": now,
        "data": {"record_type": record_type, "id": record_id, "version": version},
    })
    .to_string();
    for (endpoint_id, events) in endpoints {
        let events: Vec<String> = serde_json::from_str(&events).unwrap_or_default();
        if !events.iter().any(|e| e == "*" || e == event_type) {
            continue;
        }
        let id = new_id();
        let sealed = app.keyring().seal(app.db(), org_id, "webhook_deliveries", "payload", id, body.as_bytes()).await?;
        let row = DeliveryRow {
            id,
            org_id,
            endpoint_id,
            event_type: event_type.into(),
            payload: sealed,
            status: "pending".into(),
            attempts: 0,
            last_status: None,
            last_error: None,
            created_ms: now,
            updated_ms: now,
            delivered_ms: None,
        };
        rows::insert_delivery(tx, &row).await?;
        worker::enqueue_with_attempts(
            tx,
            JOB,
            Some(org_id),
            &serde_json::json!({"delivery_id": id}),
            now,
            MAX_ATTEMPTS,
        )
        .await?;
    }
    Ok(())
}

pub fn register(registry: &mut Registry) {
    registry.register(JOB, deliver);
}

#[derive(Deserialize)]
struct JobPayload {
    delivery_id: Uuid,
}

async fn deliver(app: App, job: kith_store::jobs::ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: JobPayload =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("bad payload: {e}")))?;
    let org_id = job.org_id.ok_or_else(|| JobError::permanent("delivery without a workspace"))?;
    let Some(d) = rows::get_delivery(app.db(), org_id, payload.delivery_id).await.map_err(AppError::from)? else {
        return Ok(()); // the endpoint was deleted with its deliveries
    };
    if d.status == "delivered" {
        return Ok(());
    }
    let Some(endpoint) = rows::get_endpoint(app.db(), org_id, d.endpoint_id).await.map_err(AppError::from)? else {
        return Ok(());
    };
    let keyring = app.keyring();
    let body = keyring.open(app.db(), org_id, "webhook_deliveries", "payload", d.id, &d.payload).await?;
    let secret = keyring.open(app.db(), org_id, TABLE, "secret", endpoint.id, &endpoint.secret).await?;
    let secret = String::from_utf8_lossy(&secret).into_owned();
    let timestamp = now_ms() / 1000;
    let msg_id = format!("msg_{}", d.id.simple());
    let signature =
        sign(&secret, &msg_id, timestamp, &body).ok_or_else(|| JobError::permanent("bad endpoint secret"))?;
    let request = app
        .outbound()
        .http()
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body);
    let outcome = app.outbound().send(request).await;
    let last_try = job.attempts >= job.max_attempts;
    let (status, http, error) = match outcome {
        Ok(resp) if resp.status().is_success() => ("delivered", Some(resp.status().as_u16() as i64), None),
        Ok(resp) => {
            let code = resp.status().as_u16();
            (if last_try { "parked" } else { "pending" }, Some(code as i64), Some(format!("HTTP {code}")))
        }
        // The error text names the failure, never the URL's query (it may hold a token).
        Err(e) => (if last_try { "parked" } else { "pending" }, None, Some(e.to_string())),
    };
    let mut tx = app.db().begin().await.map_err(AppError::from)?;
    rows::record_attempt(&mut tx, d.id, status, http, error.as_deref(), now_ms()).await.map_err(AppError::from)?;
    tx.commit().await.map_err(AppError::from)?;
    match error {
        None => Ok(()),
        Some(e) => Err(JobError::from(format!("delivery {}: {e}", d.id))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn standard_webhooks_signature_vector() {
        // The test vector of the Standard Webhooks specification's reference libraries.
        let sig = super::sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        assert_eq!(super::sign("not-a-secret", "m", 1, b""), None);
    }
}
