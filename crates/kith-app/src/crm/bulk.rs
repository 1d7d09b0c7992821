//! Bulk actions on selected records (tag, untag, assign an owner, delete),
//! run as a job with progress. Each record goes through the same use case as
//! a single edit, so roles, visibility and placement rules hold per record;
//! records the actor may not touch count as failed, the rest go on.

use super::need;
use crate::audit::Origin;
use crate::worker::{self, JobError, Registry};
use crate::{App, AppError, Result};
use kith_domain::crm::RecordType;
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::visibility::Viewer;
use kith_domain::{new_id, Actor, Context, Credential};
use kith_store::bulk::{self as rows, BulkRow};
use kith_store::list_sort::{Sort, SortedPageRequest};
use kith_store::records::ListFilter;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const JOB: &str = "crm.bulk";
pub const MAX_IDS: usize = 10_000;
/// Progress is committed after this many records.
const STEP: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkKind {
    Tag,
    Untag,
    Assign,
    Delete,
}

impl BulkKind {
    fn as_str(self) -> &'static str {
        match self {
            BulkKind::Tag => "tag",
            BulkKind::Untag => "untag",
            BulkKind::Assign => "assign",
            BulkKind::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    pub record_type: RecordType,
    pub action: BulkKind,
    /// The selected records (up to 10,000).
    pub ids: Vec<Uuid>,
    /// For `tag` / `untag`: the tag name.
    #[serde(default)]
    pub tag: Option<String>,
    /// For `assign`: the new owner (a member).
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Params {
    ids: Vec<Uuid>,
    tag: Option<String>,
    owner_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bulk {
    pub id: Uuid,
    pub record_type: String,
    pub action: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

impl From<BulkRow> for Bulk {
    fn from(b: BulkRow) -> Bulk {
        Bulk {
            id: b.id,
            record_type: b.record_type,
            action: b.action,
            status: b.status,
            total: b.total,
            done: b.done,
            failed: b.failed,
            error: b.error,
            created_at_ms: b.created_ms,
            finished_at_ms: b.finished_ms,
        }
    }
}

pub async fn start(app: &App, ctx: &Context, input: &BulkInput) -> Result<Bulk> {
    need(ctx, Action::WriteRecords)?;
    let mut ids: Vec<Uuid> = Vec::with_capacity(input.ids.len());
    for id in &input.ids {
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(AppError::field("ids", format!("select 1 to {MAX_IDS} records")));
    }
    match input.action {
        BulkKind::Tag | BulkKind::Untag => {
            let tag = input.tag.as_deref().unwrap_or("");
            kith_domain::validate::clean_name(tag, 60).map_err(|m| AppError::field("tag", m))?;
        }
        BulkKind::Assign => {
            let owner = input.owner_id.ok_or_else(|| AppError::field("owner_id", "is required"))?;
            if kith_store::members::get(app.db(), ctx.org_id, owner).await?.is_none() {
                return Err(AppError::field("owner_id", "is not a member of this workspace"));
            }
        }
        BulkKind::Delete => {}
    }
    let now = now_ms();
    let row = BulkRow {
        id: new_id(),
        org_id: ctx.org_id,
        created_by: ctx.user_id(),
        record_type: input.record_type.as_str().into(),
        action: input.action.as_str().into(),
        params: serde_json::to_string(&Params { ids: ids.clone(), tag: input.tag.clone(), owner_id: input.owner_id })
            .expect("json"),
        status: "queued".into(),
        total: ids.len() as i64,
        done: 0,
        failed: 0,
        error: None,
        created_ms: now,
        updated_ms: now,
        finished_ms: None,
    };
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    worker::enqueue(&mut tx, JOB, Some(ctx.org_id), &serde_json::json!({"bulk_id": row.id}), now).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// The ids of every record of `record_type` that `filter` shows the actor
/// ("select all matching"), at most [`MAX_IDS`]: more is a validation error
/// naming the limit, so an action never stops at an arbitrary record.
pub async fn ids_matching(app: &App, ctx: &Context, record_type: RecordType, filter: &ListFilter) -> Result<Vec<Uuid>> {
    use super::{companies, contacts, deals};
    need(ctx, Action::ReadRecords)?;
    let sort = Sort::parse(record_type, "created_at").map_err(AppError::Internal)?;
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = SortedPageRequest::new(Some(200), after);
        let (found, next) = match record_type {
            RecordType::Contact => {
                let p = contacts::list_sorted(app, ctx, filter, &sort, &page).await?;
                (p.items.into_iter().map(|c| c.id).collect::<Vec<_>>(), p.next)
            }
            RecordType::Company => {
                let p = companies::list_sorted(app, ctx, filter, &sort, &page).await?;
                (p.items.into_iter().map(|c| c.id).collect(), p.next)
            }
            RecordType::Deal => {
                let p = deals::list_sorted(app, ctx, filter, &sort, &page).await?;
                (p.items.into_iter().map(|d| d.id).collect(), p.next)
            }
        };
        ids.extend(found);
        if ids.len() > MAX_IDS {
            return Err(AppError::field(
                "ids",
                format!("more than {MAX_IDS} records match; narrow the filters and act on fewer at once"),
            ));
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(ids),
        }
    }
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Bulk> {
    need(ctx, Action::ReadRecords)?;
    Ok(rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?.into())
}

pub fn register(registry: &mut Registry) {
    registry.register(JOB, run);
}

#[derive(Deserialize)]
struct JobPayload {
    bulk_id: Uuid,
}

async fn run(app: App, job: kith_store::jobs::ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: JobPayload =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("bad payload: {e}")))?;
    let org_id = job.org_id.ok_or_else(|| JobError::permanent("bulk job without a workspace"))?;
    let Some(b) = rows::get(app.db(), org_id, payload.bulk_id).await.map_err(AppError::from)? else { return Ok(()) };
    if b.status == "done" || b.status == "failed" {
        return Ok(());
    }
    let finish = |status: &'static str, done: i64, failed: i64| {
        let app = app.clone();
        async move {
            let mut tx = app.db().begin().await?;
            rows::progress(&mut tx, b.id, status, done, failed, now_ms(), status != "running").await?;
            tx.commit().await?;
            Ok::<_, AppError>(())
        }
    };
    let Some(member) = kith_store::members::get(app.db(), org_id, b.created_by).await.map_err(AppError::from)? else {
        finish("failed", b.done, b.failed).await?;
        return Ok(());
    };
    let ctx = Context {
        org_id,
        actor: Actor { user_id: b.created_by, credential: Credential::Cli },
        role: Role::parse(&member.role).unwrap_or(Role::Viewer),
    };
    let params: Params =
        serde_json::from_str(&b.params).map_err(|e| JobError::permanent(format!("bad params: {e}")))?;
    let record_type = RecordType::parse(&b.record_type).ok_or_else(|| JobError::permanent("bad record type"))?;
    // Resume after a restart: records before `done + failed` were handled.
    let start = (b.done + b.failed) as usize;
    let (mut done, mut failed) = (b.done, b.failed);
    for (i, id) in params.ids.iter().enumerate().skip(start) {
        match apply(&app, &ctx, record_type, &b.action, &params, *id).await {
            Ok(()) => done += 1,
            Err(AppError::Store(e)) => return Err(AppError::Store(e).into()),
            Err(_) => failed += 1,
        }
        if (i + 1) % STEP == 0 {
            finish("running", done, failed).await?;
        }
    }
    finish("done", done, failed).await?;
    Ok(())
}

async fn apply(app: &App, ctx: &Context, t: RecordType, action: &str, p: &Params, id: Uuid) -> Result<()> {
    use super::{companies, contacts, deals};
    let origin = Origin::default();
    match action {
        "delete" => match t {
            RecordType::Contact => contacts::delete(app, ctx, id, &origin).await,
            RecordType::Company => companies::delete(app, ctx, id, &origin).await,
            RecordType::Deal => deals::delete(app, ctx, id, &origin).await,
        },
        "assign" => {
            let owner = Some(p.owner_id);
            match t {
                RecordType::Contact => {
                    let input = contacts::ContactInput { owner_id: owner, ..Default::default() };
                    contacts::update(app, ctx, id, &input, None).await.map(|_| ())
                }
                RecordType::Company => {
                    let input = companies::CompanyInput { owner_id: owner, ..Default::default() };
                    companies::update(app, ctx, id, &input, None).await.map(|_| ())
                }
                RecordType::Deal => {
                    let input = deals::DealInput { owner_id: owner, ..Default::default() };
                    deals::update(app, ctx, id, &input, None).await.map(|_| ())
                }
            }
        }
        "tag" | "untag" => {
            // The record must be one the actor sees and may edit.
            super::need(ctx, Action::WriteRecords)?;
            super::record_placement(app, &Viewer::of(ctx), t, id).await?.ok_or(AppError::NotFound)?;
            let name = p.tag.clone().unwrap_or_default();
            let mut tx = app.db().begin().await?;
            if action == "tag" {
                let tag_ids = super::resolve_tags(&mut tx, ctx.org_id, &[name], now_ms()).await?;
                kith_store::records::add_record_tags(&mut tx, ctx.org_id, t.as_str(), id, &tag_ids).await?;
            } else if let Some(tag) =
                kith_store::records::find_tag_by_key(&mut tx, ctx.org_id, &name.to_lowercase()).await?
            {
                kith_store::records::remove_record_tag(&mut tx, ctx.org_id, t.as_str(), id, tag.id).await?;
            }
            tx.commit().await?;
            Ok(())
        }
        other => Err(AppError::Internal(format!("unknown bulk action {other}"))),
    }
}
