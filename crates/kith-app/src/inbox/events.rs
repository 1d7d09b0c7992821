//! The raw inbound event log of a channel (admins): what each provider
//! delivered and when it was processed, and a replay that runs the
//! processing job again (a no-op for an event already processed — the job
//! is idempotent — so it serves events whose job died).

use super::PROCESS_JOB;
use crate::{App, AppError, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::Context;
use kith_store::inbox::{self as rows, InboundEventRow};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboundEventInfo {
    pub id: Uuid,
    pub channel_id: Uuid,
    /// The provider's id of the message (or `status:<id>:<state>`).
    pub provider_event_id: String,
    /// `message` or `status`.
    pub kind: String,
    pub received_at_ms: i64,
    /// Null until processed.
    pub processed_at_ms: Option<i64>,
    pub error: Option<String>,
}

impl From<InboundEventRow> for InboundEventInfo {
    fn from(r: InboundEventRow) -> Self {
        InboundEventInfo {
            id: r.id,
            channel_id: r.channel_id,
            provider_event_id: r.provider_event_id,
            kind: r.kind,
            received_at_ms: r.received_ms,
            processed_at_ms: r.processed_ms,
            error: r.error,
        }
    }
}

async fn channel_of(app: &App, ctx: &Context, channel_id: Uuid) -> Result<()> {
    if !ctx.can(Action::ManageChannels) {
        return Err(AppError::Forbidden);
    }
    kith_store::channels::get_any(app.db(), ctx.org_id, channel_id).await?.ok_or(AppError::NotFound)?;
    Ok(())
}

/// A channel's events, newest first (also of a disconnected channel).
pub async fn list(app: &App, ctx: &Context, channel_id: Uuid, page: &PageRequest) -> Result<Page<InboundEventInfo>> {
    channel_of(app, ctx, channel_id).await?;
    Ok(rows::list_events(app.db(), ctx.org_id, channel_id, page).await?.map(InboundEventInfo::from))
}

/// Queue the processing of one event again.
pub async fn replay(app: &App, ctx: &Context, channel_id: Uuid, event_id: Uuid) -> Result<InboundEventInfo> {
    channel_of(app, ctx, channel_id).await?;
    let row = rows::get_event(app.db(), event_id)
        .await?
        .filter(|e| e.org_id == ctx.org_id && e.channel_id == channel_id)
        .ok_or(AppError::NotFound)?;
    let mut tx = app.db().begin().await?;
    crate::worker::enqueue(&mut tx, PROCESS_JOB, Some(ctx.org_id), &serde_json::json!({"event_id": row.id}), now_ms())
        .await?;
    tx.commit().await?;
    Ok(row.into())
}
