//! Tasks: a title, a due time, an assignee, an optional reminder, optionally
//! about a record (then it shows on that record's timeline and follows its
//! visibility). The task inbox lists what is overdue, due today, open or done.

use super::contacts::double_option;
use super::timeline::{self, Entry};
use super::{need, record_placement};
use crate::{App, AppError, Result};
use kith_domain::crm::RecordType;
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::visibility::Viewer;
use kith_domain::{new_id, Context};
use kith_store::tasks::{self as rows, TaskBucket, TaskRow};
use kith_store::timeline as timeline_rows;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub due_at_ms: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub reminder_at_ms: Option<Option<i64>>,
    /// A member; defaults to the creator.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    #[serde(default)]
    pub record_type: Option<RecordType>,
    #[serde(default)]
    pub record_id: Option<Uuid>,
    #[serde(default)]
    pub done: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    pub due_at_ms: Option<i64>,
    pub reminder_at_ms: Option<i64>,
    pub assignee_id: Option<Uuid>,
    pub done: bool,
    pub done_at_ms: Option<i64>,
    pub record_type: Option<RecordType>,
    pub record_id: Option<Uuid>,
    pub created_by: Uuid,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl From<TaskRow> for Task {
    fn from(t: TaskRow) -> Task {
        Task {
            id: t.id,
            title: t.title,
            due_at_ms: t.due_ms,
            reminder_at_ms: t.reminder_ms,
            assignee_id: t.assignee_id,
            done: t.done_ms.is_some(),
            done_at_ms: t.done_ms,
            record_type: t.record_type.as_deref().and_then(RecordType::parse),
            record_id: t.record_id,
            created_by: t.created_by,
            version: t.version,
            created_at_ms: t.created_ms,
            updated_at_ms: t.updated_ms,
        }
    }
}

/// Sane bounds for times given in ms: years 2000–2200.
fn check_time(field: &str, t: Option<i64>) -> Result<Option<i64>> {
    match t {
        Some(ms) if !(946_684_800_000..=7_258_118_400_000).contains(&ms) => {
            Err(AppError::field(field, "must be a time in Unix milliseconds"))
        }
        other => Ok(other),
    }
}

/// The actor may see a task: it is about a record they see, or about none
/// (then everyone in the workspace sees it), or it is theirs.
async fn visible(app: &App, ctx: &Context, row: &TaskRow) -> Result<bool> {
    if row.assignee_id == Some(ctx.user_id()) || row.created_by == ctx.user_id() {
        return Ok(true);
    }
    match (row.record_type.as_deref().and_then(RecordType::parse), row.record_id) {
        (Some(t), Some(id)) => Ok(record_placement(app, &Viewer::of(ctx), t, id).await?.is_some()),
        _ => Ok(true),
    }
}

pub async fn create(app: &App, ctx: &Context, input: &TaskInput) -> Result<Task> {
    need(ctx, Action::WriteRecords)?;
    let title = kith_domain::validate::clean_name(input.title.as_deref().unwrap_or(""), 300)
        .map_err(|m| AppError::field("title", m))?;
    let due = check_time("due_at_ms", input.due_at_ms.flatten())?;
    let reminder = check_time("reminder_at_ms", input.reminder_at_ms.flatten())?;
    let assignee = input.assignee_id.unwrap_or(Some(ctx.user_id()));
    if let Some(a) = assignee {
        if kith_store::members::get(app.db(), ctx.org_id, a).await?.is_none() {
            return Err(AppError::field("assignee_id", "is not a member of this workspace"));
        }
    }
    let record = match (input.record_type, input.record_id) {
        (Some(t), Some(id)) => {
            record_placement(app, &Viewer::of(ctx), t, id)
                .await?
                .ok_or_else(|| AppError::field("record_id", "no such record"))?;
            Some((t, id))
        }
        (None, None) => None,
        _ => return Err(AppError::field("record_id", "give both record_type and record_id, or neither")),
    };
    let now = now_ms();
    let row = TaskRow {
        id: new_id(),
        org_id: ctx.org_id,
        title,
        due_ms: due,
        reminder_ms: reminder,
        reminded_ms: None,
        assignee_id: assignee,
        done_ms: input.done.unwrap_or(false).then_some(now),
        record_type: record.map(|(t, _)| t.as_str().to_string()),
        record_id: record.map(|(_, id)| id),
        created_by: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    if let Some(record) = record {
        timeline::append(
            &mut tx,
            Entry {
                org_id: ctx.org_id,
                record,
                at_ms: now,
                kind: timeline::TASK,
                ref_id: row.id,
                actor_id: Some(ctx.user_id()),
                private_to: None,
                summary: serde_json::json!({}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(row.into())
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Task> {
    need(ctx, Action::ReadRecords)?;
    let row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if !visible(app, ctx, &row).await? {
        return Err(AppError::NotFound);
    }
    Ok(row.into())
}

pub(crate) async fn load_many(app: &App, ctx: &Context, ids: &[Uuid]) -> Result<Vec<Task>> {
    Ok(rows::get_many(app.db(), ctx.org_id, ids).await?.into_iter().map(Task::from).collect())
}

/// Which tasks the inbox shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskView {
    Overdue,
    Today,
    Open,
    Done,
}

/// Tasks assigned to `assignee` (default: the actor) in one view, by due
/// time. `day_end_ms` is the end of the user's day (the client knows its zone).
pub async fn list(
    app: &App,
    ctx: &Context,
    assignee: Option<Uuid>,
    view: TaskView,
    day_end_ms: Option<i64>,
    page: &PageRequest,
) -> Result<Page<Task>> {
    need(ctx, Action::ReadRecords)?;
    let assignee = assignee.unwrap_or(ctx.user_id());
    if assignee != ctx.user_id() && ctx.effective_role() < Role::Admin {
        return Err(AppError::Forbidden);
    }
    let now = now_ms();
    let end = day_end_ms.unwrap_or(now - now.rem_euclid(86_400_000) + 86_400_000);
    let bucket = match view {
        TaskView::Overdue => TaskBucket::Overdue,
        TaskView::Today => TaskBucket::Today,
        TaskView::Open => TaskBucket::Open,
        TaskView::Done => TaskBucket::Done,
    };
    Ok(rows::list(app.db(), ctx.org_id, Some(assignee), bucket, now, end, page).await?.map(Task::from))
}

pub async fn update(app: &App, ctx: &Context, id: Uuid, input: &TaskInput, if_version: Option<i64>) -> Result<Task> {
    need(ctx, Action::WriteRecords)?;
    let current = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if !visible(app, ctx, &current).await? {
        return Err(AppError::NotFound);
    }
    if if_version.is_some_and(|v| v != current.version) {
        return Err(AppError::StaleVersion);
    }
    if input.record_id.is_some_and(|r| Some(r) != current.record_id) {
        return Err(AppError::field("record_id", "a task cannot move to another record"));
    }
    let now = now_ms();
    let mut row = current.clone();
    if let Some(t) = &input.title {
        row.title = kith_domain::validate::clean_name(t, 300).map_err(|m| AppError::field("title", m))?;
    }
    if let Some(due) = input.due_at_ms {
        row.due_ms = check_time("due_at_ms", due)?;
    }
    if let Some(rem) = input.reminder_at_ms {
        row.reminder_ms = check_time("reminder_at_ms", rem)?;
        row.reminded_ms = None;
    }
    if let Some(a) = input.assignee_id {
        if let Some(a) = a {
            if kith_store::members::get(app.db(), ctx.org_id, a).await?.is_none() {
                return Err(AppError::field("assignee_id", "is not a member of this workspace"));
            }
        }
        row.assignee_id = a;
    }
    if let Some(done) = input.done {
        row.done_ms = match (done, current.done_ms) {
            (true, Some(t)) => Some(t),
            (true, None) => Some(now),
            (false, _) => None,
        };
    }
    row.version += 1;
    row.updated_ms = now.max(current.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    if !rows::update(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    tx.commit().await?;
    Ok(row.into())
}

pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::WriteRecords)?;
    let row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if !visible(app, ctx, &row).await? {
        return Err(AppError::NotFound);
    }
    let mut tx = app.db().begin().await?;
    rows::delete(&mut tx, ctx.org_id, id).await?;
    timeline_rows::delete_for_ref(&mut tx, ctx.org_id, id).await?;
    tx.commit().await?;
    Ok(())
}
