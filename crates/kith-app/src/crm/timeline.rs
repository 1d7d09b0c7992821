//! One timeline per contact, company and deal. Every capability appends an
//! [`Entry`] pointing at its own row in the same transaction as the change;
//! reading a page turns entries back into items, one loader per kind. A new
//! kind (messages, meetings, documents, payments) adds a constant, appends
//! entries, and adds its loader to [`page`].

use super::{need, record_placement};
use crate::{App, AppError, Result};
use kith_domain::crm::RecordType;
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::visibility::Viewer;
use kith_domain::{new_id, Context};
use kith_store::timeline::{self as rows, TimelineRow};
use kith_store::Tx;
use serde::Serialize;
use uuid::Uuid;

pub const NOTE: &str = "note";
pub const TASK: &str = "task";
pub const ACTIVITY: &str = "activity";
pub const STAGE_CHANGE: &str = "stage_change";
/// An inbox message to or from the contact (the body's first characters).
pub const MESSAGE: &str = "message";

/// What a capability appends.
pub struct Entry {
    pub org_id: Uuid,
    pub record: (RecordType, Uuid),
    pub at_ms: i64,
    pub kind: &'static str,
    pub ref_id: Uuid,
    pub actor_id: Option<Uuid>,
    /// Only this user sees the entry (a private note).
    pub private_to: Option<Uuid>,
    /// Non-sensitive facts needed to show the entry without another read.
    pub summary: serde_json::Value,
}

pub async fn append(tx: &mut Tx, e: Entry) -> Result<()> {
    let row = TimelineRow {
        id: new_id(),
        org_id: e.org_id,
        record_type: e.record.0.as_str().into(),
        record_id: e.record.1,
        at_ms: e.at_ms,
        kind: e.kind.into(),
        ref_id: e.ref_id,
        actor_id: e.actor_id,
        private_to: e.private_to,
        summary: e.summary.to_string(),
    };
    Ok(rows::insert(tx, &row).await?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StageChange {
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    pub from_stage: Option<String>,
    pub to_stage: Option<String>,
}

/// One line of a timeline; exactly one of the detail fields is set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineItem {
    pub id: Uuid,
    pub kind: String,
    pub at_ms: i64,
    pub actor_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<super::notes::Note>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<super::tasks::Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<super::activities::Activity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_change: Option<StageChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<crate::inbox::messages::MessagePreview>,
}

/// A page of a record's timeline, newest first. The record must be visible
/// to the actor; private entries of other people are never read.
pub async fn page(
    app: &App,
    ctx: &Context,
    record_type: RecordType,
    record_id: Uuid,
    req: &PageRequest,
) -> Result<Page<TimelineItem>> {
    need(ctx, Action::ReadRecords)?;
    let viewer = Viewer::of(ctx);
    record_placement(app, &viewer, record_type, record_id).await?.ok_or(AppError::NotFound)?;
    let entries = rows::list(app.db(), ctx.org_id, record_type.as_str(), record_id, ctx.user_id(), req).await?;
    let ids_of =
        |kind: &str| -> Vec<Uuid> { entries.items.iter().filter(|e| e.kind == kind).map(|e| e.ref_id).collect() };
    let notes = super::notes::load_many(app, ctx, &ids_of(NOTE)).await?;
    let tasks = super::tasks::load_many(app, ctx, &ids_of(TASK)).await?;
    let activities = super::activities::load_many(app, ctx, &ids_of(ACTIVITY)).await?;
    let messages = crate::inbox::messages::previews(app, ctx, &ids_of(MESSAGE)).await?;
    let stage_names = stage_names(app, ctx, &entries.items).await?;
    let next = entries.next;
    let items = entries
        .items
        .into_iter()
        .map(|e| {
            let mut item = TimelineItem {
                id: e.id,
                kind: e.kind.clone(),
                at_ms: e.at_ms,
                actor_id: e.actor_id,
                note: None,
                task: None,
                activity: None,
                stage_change: None,
                message: None,
            };
            match e.kind.as_str() {
                NOTE => item.note = notes.iter().find(|n| n.id == e.ref_id).cloned(),
                TASK => item.task = tasks.iter().find(|t| t.id == e.ref_id).cloned(),
                ACTIVITY => item.activity = activities.iter().find(|a| a.id == e.ref_id).cloned(),
                MESSAGE => item.message = messages.iter().find(|m| m.id == e.ref_id).cloned(),
                STAGE_CHANGE => {
                    let s: serde_json::Value = serde_json::from_str(&e.summary).unwrap_or_default();
                    let id = |k: &str| s.get(k).and_then(|v| v.as_str()).and_then(|v| Uuid::parse_str(v).ok());
                    let name = |id: Option<Uuid>| {
                        id.and_then(|id| stage_names.iter().find(|(s, _)| *s == id).map(|(_, n)| n.clone()))
                    };
                    if let Some(to) = id("to_stage_id") {
                        item.stage_change = Some(StageChange {
                            from_stage_id: id("from_stage_id"),
                            to_stage_id: to,
                            from_stage: name(id("from_stage_id")),
                            to_stage: name(Some(to)),
                        });
                    }
                }
                _ => {}
            }
            item
        })
        .collect();
    Ok(Page { items, next })
}

async fn stage_names(app: &App, ctx: &Context, entries: &[TimelineRow]) -> Result<Vec<(Uuid, String)>> {
    if !entries.iter().any(|e| e.kind == STAGE_CHANGE) {
        return Ok(vec![]);
    }
    let pipelines = super::pipelines::list(app, ctx).await?;
    Ok(pipelines.into_iter().flat_map(|p| p.stages.into_iter().map(|s| (s.id, s.name))).collect())
}
