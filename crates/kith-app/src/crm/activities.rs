//! Calls, meetings and e-mails logged by hand against a record. Subject and
//! body are sealed (meeting titles and descriptions are promise 3).

use super::timeline::{self, Entry};
use super::{need, record_placement};
use crate::{App, AppError, Result};
use kith_domain::crm::RecordType;
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::visibility::Viewer;
use kith_domain::{new_id, Context};
use kith_store::activities::{self as rows, ActivityRow};
use kith_store::timeline as timeline_rows;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const TABLE: &str = "activities";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActivityKind {
    Call,
    Meeting,
    Email,
}

impl ActivityKind {
    fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Call => "call",
            ActivityKind::Meeting => "meeting",
            ActivityKind::Email => "email",
        }
    }

    fn parse(s: &str) -> ActivityKind {
        match s {
            "meeting" => ActivityKind::Meeting,
            "email" => ActivityKind::Email,
            _ => ActivityKind::Call,
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    #[serde(default)]
    pub kind: Option<ActivityKind>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// When it happened; defaults to now.
    #[serde(default)]
    pub occurred_at_ms: Option<i64>,
    #[serde(default)]
    pub duration_s: Option<i64>,
    #[serde(default)]
    pub record_type: Option<RecordType>,
    #[serde(default)]
    pub record_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub id: Uuid,
    pub kind: ActivityKind,
    pub subject: String,
    pub body: Option<String>,
    pub occurred_at_ms: i64,
    pub duration_s: Option<i64>,
    pub record_type: RecordType,
    pub record_id: Uuid,
    pub actor_id: Uuid,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

async fn open(app: &App, row: ActivityRow) -> Result<Activity> {
    let keyring = app.keyring();
    let subject = keyring.open(app.db(), row.org_id, TABLE, "subject", row.id, &row.subject).await?;
    let body = match &row.body {
        Some(b) => Some(
            String::from_utf8_lossy(&keyring.open(app.db(), row.org_id, TABLE, "body", row.id, b).await?).into_owned(),
        ),
        None => None,
    };
    Ok(Activity {
        id: row.id,
        kind: ActivityKind::parse(&row.kind),
        subject: String::from_utf8_lossy(&subject).into_owned(),
        body,
        occurred_at_ms: row.occurred_ms,
        duration_s: row.duration_s,
        record_type: RecordType::parse(&row.record_type).unwrap_or(RecordType::Contact),
        record_id: row.record_id,
        actor_id: row.actor_id,
        version: row.version,
        created_at_ms: row.created_ms,
        updated_at_ms: row.updated_ms,
    })
}

fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<Option<String>> {
    let t = s.trim();
    if t.is_empty() {
        return if required { Err(AppError::field(field, "must not be empty")) } else { Ok(None) };
    }
    if t.chars().count() > max {
        return Err(AppError::field(field, format!("must be at most {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(AppError::field(field, "must not contain control characters"));
    }
    Ok(Some(t.to_string()))
}

pub async fn create(app: &App, ctx: &Context, input: &ActivityInput) -> Result<Activity> {
    need(ctx, Action::WriteRecords)?;
    let record_type = input.record_type.ok_or_else(|| AppError::field("record_type", "is required"))?;
    let record_id = input.record_id.ok_or_else(|| AppError::field("record_id", "is required"))?;
    let kind = input.kind.ok_or_else(|| AppError::field("kind", "is required: call, meeting or email"))?;
    let subject = check_text("subject", input.subject.as_deref().unwrap_or(""), 300, true)?.unwrap_or_default();
    let body = check_text("body", input.body.as_deref().unwrap_or(""), 100_000, false)?;
    if input.duration_s.is_some_and(|d| !(0..=7 * 86_400).contains(&d)) {
        return Err(AppError::field("duration_s", "must be 0 to 604800 seconds"));
    }
    record_placement(app, &Viewer::of(ctx), record_type, record_id)
        .await?
        .ok_or_else(|| AppError::field("record_id", "no such record"))?;
    let now = now_ms();
    let occurred = input.occurred_at_ms.unwrap_or(now);
    let id = new_id();
    let keyring = app.keyring();
    let row = ActivityRow {
        id,
        org_id: ctx.org_id,
        kind: kind.as_str().into(),
        subject: keyring.seal(app.db(), ctx.org_id, TABLE, "subject", id, subject.as_bytes()).await?,
        body: match &body {
            Some(b) => Some(keyring.seal(app.db(), ctx.org_id, TABLE, "body", id, b.as_bytes()).await?),
            None => None,
        },
        occurred_ms: occurred,
        duration_s: input.duration_s,
        record_type: record_type.as_str().into(),
        record_id,
        actor_id: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    timeline::append(
        &mut tx,
        Entry {
            org_id: ctx.org_id,
            record: (record_type, record_id),
            at_ms: occurred,
            kind: timeline::ACTIVITY,
            ref_id: id,
            actor_id: Some(ctx.user_id()),
            private_to: None,
            summary: serde_json::json!({"kind": kind.as_str()}),
        },
    )
    .await?;
    tx.commit().await?;
    open(app, row).await
}

async fn readable(app: &App, ctx: &Context, id: Uuid) -> Result<ActivityRow> {
    let row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    let t = RecordType::parse(&row.record_type).ok_or(AppError::NotFound)?;
    record_placement(app, &Viewer::of(ctx), t, row.record_id).await?.ok_or(AppError::NotFound)?;
    Ok(row)
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Activity> {
    need(ctx, Action::ReadRecords)?;
    open(app, readable(app, ctx, id).await?).await
}

pub(crate) async fn load_many(app: &App, ctx: &Context, ids: &[Uuid]) -> Result<Vec<Activity>> {
    let mut out = Vec::new();
    for row in rows::get_many(app.db(), ctx.org_id, ids).await? {
        out.push(open(app, row).await?);
    }
    Ok(out)
}

pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &ActivityInput,
    if_version: Option<i64>,
) -> Result<Activity> {
    need(ctx, Action::WriteRecords)?;
    let current = readable(app, ctx, id).await?;
    if if_version.is_some_and(|v| v != current.version) {
        return Err(AppError::StaleVersion);
    }
    if input.record_id.is_some_and(|r| r != current.record_id) {
        return Err(AppError::field("record_id", "an activity cannot move to another record"));
    }
    let keyring = app.keyring();
    let mut row = current.clone();
    if let Some(k) = input.kind {
        row.kind = k.as_str().into();
    }
    if let Some(s) = &input.subject {
        let s = check_text("subject", s, 300, true)?.unwrap_or_default();
        row.subject = keyring.seal(app.db(), ctx.org_id, TABLE, "subject", id, s.as_bytes()).await?;
    }
    if let Some(b) = &input.body {
        row.body = match check_text("body", b, 100_000, false)? {
            Some(b) => Some(keyring.seal(app.db(), ctx.org_id, TABLE, "body", id, b.as_bytes()).await?),
            None => None,
        };
    }
    if let Some(t) = input.occurred_at_ms {
        row.occurred_ms = t;
    }
    if let Some(d) = input.duration_s {
        if !(0..=7 * 86_400).contains(&d) {
            return Err(AppError::field("duration_s", "must be 0 to 604800 seconds"));
        }
        row.duration_s = Some(d);
    }
    row.version += 1;
    row.updated_ms = now_ms().max(current.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    if !rows::update(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    timeline_rows::update_for_ref(&mut tx, ctx.org_id, id, row.occurred_ms, None).await?;
    tx.commit().await?;
    open(app, row).await
}

/// The person who logged it, or an admin, deletes it.
pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::WriteRecords)?;
    let row = readable(app, ctx, id).await?;
    if row.actor_id != ctx.user_id() && ctx.effective_role() < Role::Admin {
        return Err(AppError::Forbidden);
    }
    let mut tx = app.db().begin().await?;
    rows::delete(&mut tx, ctx.org_id, id).await?;
    timeline_rows::delete_for_ref(&mut tx, ctx.org_id, id).await?;
    tx.commit().await?;
    Ok(())
}
