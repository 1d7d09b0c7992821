//! Notes on a contact, company or deal. The body is sealed (promise 3) and
//! searchable only through blind-index tokens. A private note is seen by its
//! author alone, whatever the record's visibility or the reader's role.

use super::timeline::{self, Entry};
use super::{need, record_placement};
use crate::{App, AppError, Result};
use kith_domain::crm::RecordType;
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::visibility::{Placement, Viewer, Visibility};
use kith_domain::{new_id, Context};
use kith_store::notes::{self as rows, NoteRow};
use kith_store::records::{self, SearchDoc};
use kith_store::timeline as timeline_rows;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_NOTE_CHARS: usize = 100_000;
const TABLE: &str = "notes";
const BODY: &str = "body";

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    #[serde(default)]
    pub record_type: Option<RecordType>,
    #[serde(default)]
    pub record_id: Option<Uuid>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_private: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Note {
    pub id: Uuid,
    pub record_type: RecordType,
    pub record_id: Uuid,
    pub body: String,
    pub is_private: bool,
    pub author_id: Uuid,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

pub(crate) async fn open(app: &App, row: NoteRow) -> Result<Note> {
    let plain = app.keyring().open(app.db(), row.org_id, TABLE, BODY, row.id, &row.body).await?;
    Ok(Note {
        id: row.id,
        record_type: RecordType::parse(&row.record_type).unwrap_or(RecordType::Contact),
        record_id: row.record_id,
        body: String::from_utf8_lossy(&plain).into_owned(),
        is_private: row.is_private,
        author_id: row.author_id,
        version: row.version,
        created_at_ms: row.created_ms,
        updated_at_ms: row.updated_ms,
    })
}

fn check_body(body: &str) -> Result<String> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::field("body", "must not be empty"));
    }
    if body.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::field("body", format!("must be at most {MAX_NOTE_CHARS} characters")));
    }
    if body.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(AppError::field("body", "must not contain control characters"));
    }
    Ok(body.to_string())
}

/// The search document of a note: blind tokens of its words, placed like its
/// record (or as the author's alone when private).
async fn search_doc(app: &App, row: &NoteRow, body: &str, parent: Placement, title: &str) -> Result<SearchDoc> {
    let key = app.keyring().search_key(app.db(), row.org_id).await?;
    let placement = if row.is_private {
        Placement {
            visibility: Visibility::Personal,
            owner_id: Some(row.author_id),
            team_id: None,
            created_by: row.author_id,
        }
    } else {
        parent
    };
    Ok(SearchDoc {
        org_id: row.org_id,
        record_type: "note".into(),
        record_id: row.id,
        parent: Some((row.record_type.clone(), row.record_id)),
        title: title.to_string(),
        terms: kith_crypto::blind_tokens(&key, body).join(" "),
        placement,
        updated_ms: row.updated_ms,
    })
}

pub async fn create(app: &App, ctx: &Context, input: &NoteInput) -> Result<Note> {
    need(ctx, Action::WriteRecords)?;
    let record_type = input.record_type.ok_or_else(|| AppError::field("record_type", "is required"))?;
    let record_id = input.record_id.ok_or_else(|| AppError::field("record_id", "is required"))?;
    let body = check_body(input.body.as_deref().unwrap_or(""))?;
    let (parent, title) = record_placement(app, &Viewer::of(ctx), record_type, record_id)
        .await?
        .ok_or_else(|| AppError::field("record_id", "no such record"))?;
    let now = now_ms();
    let id = new_id();
    let sealed = app.keyring().seal(app.db(), ctx.org_id, TABLE, BODY, id, body.as_bytes()).await?;
    let row = NoteRow {
        id,
        org_id: ctx.org_id,
        record_type: record_type.as_str().into(),
        record_id,
        body: sealed,
        is_private: input.is_private.unwrap_or(false),
        author_id: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    let doc = search_doc(app, &row, &body, parent, &title).await?;
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    timeline::append(
        &mut tx,
        Entry {
            org_id: ctx.org_id,
            record: (record_type, record_id),
            at_ms: now,
            kind: timeline::NOTE,
            ref_id: id,
            actor_id: Some(ctx.user_id()),
            private_to: row.is_private.then_some(ctx.user_id()),
            summary: serde_json::json!({}),
        },
    )
    .await?;
    records::upsert_search_doc(&mut tx, &doc).await?;
    tx.commit().await?;
    open(app, row).await
}

/// A note the actor may read: its record is visible to them, and it is
/// shared or theirs.
async fn readable(app: &App, ctx: &Context, id: Uuid) -> Result<(NoteRow, Placement, String)> {
    let row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if row.is_private && row.author_id != ctx.user_id() {
        return Err(AppError::NotFound);
    }
    let record_type = RecordType::parse(&row.record_type).ok_or(AppError::NotFound)?;
    let (placement, title) =
        record_placement(app, &Viewer::of(ctx), record_type, row.record_id).await?.ok_or(AppError::NotFound)?;
    Ok((row, placement, title))
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Note> {
    need(ctx, Action::ReadRecords)?;
    let (row, _, _) = readable(app, ctx, id).await?;
    open(app, row).await
}

/// Notes of one record the actor may read, newest first (at most 200; the
/// timeline pages through all of them).
pub async fn of_record(app: &App, ctx: &Context, record_type: RecordType, record_id: Uuid) -> Result<Vec<Note>> {
    need(ctx, Action::ReadRecords)?;
    record_placement(app, &Viewer::of(ctx), record_type, record_id).await?.ok_or(AppError::NotFound)?;
    let found = rows::of_record(app.db(), ctx.org_id, record_type.as_str(), record_id, ctx.user_id(), 200).await?;
    let mut out = Vec::with_capacity(found.len());
    for row in found {
        out.push(open(app, row).await?);
    }
    Ok(out)
}

/// Notes by id for a timeline page (the caller checked the record).
pub(crate) async fn load_many(app: &App, ctx: &Context, ids: &[Uuid]) -> Result<Vec<Note>> {
    let mut out = Vec::new();
    for row in rows::get_many(app.db(), ctx.org_id, ids).await? {
        if row.is_private && row.author_id != ctx.user_id() {
            continue;
        }
        out.push(open(app, row).await?);
    }
    Ok(out)
}

/// Only the author edits a note.
pub async fn update(app: &App, ctx: &Context, id: Uuid, input: &NoteInput, if_version: Option<i64>) -> Result<Note> {
    need(ctx, Action::WriteRecords)?;
    let (current, parent, title) = readable(app, ctx, id).await?;
    if current.author_id != ctx.user_id() {
        return Err(AppError::Forbidden);
    }
    if if_version.is_some_and(|v| v != current.version) {
        return Err(AppError::StaleVersion);
    }
    if input.record_type.is_some_and(|t| t.as_str() != current.record_type)
        || input.record_id.is_some_and(|r| r != current.record_id)
    {
        return Err(AppError::field("record_id", "a note cannot move to another record"));
    }
    let now = now_ms();
    let mut row = current.clone();
    let body = match &input.body {
        Some(b) => check_body(b)?,
        None => open(app, current.clone()).await?.body,
    };
    row.body = app.keyring().seal(app.db(), ctx.org_id, TABLE, BODY, id, body.as_bytes()).await?;
    row.is_private = input.is_private.unwrap_or(row.is_private);
    row.version += 1;
    row.updated_ms = now.max(current.updated_ms + 1);
    let doc = search_doc(app, &row, &body, parent, &title).await?;
    let mut tx = app.db().begin().await?;
    if !rows::update(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    timeline_rows::update_for_ref(&mut tx, ctx.org_id, id, row.created_ms, row.is_private.then_some(row.author_id))
        .await?;
    records::upsert_search_doc(&mut tx, &doc).await?;
    tx.commit().await?;
    open(app, row).await
}

/// The author, or an admin for a shared note, deletes it.
pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::WriteRecords)?;
    let (row, _, _) = readable(app, ctx, id).await?;
    if row.author_id != ctx.user_id() && ctx.effective_role() < Role::Admin {
        return Err(AppError::Forbidden);
    }
    let mut tx = app.db().begin().await?;
    rows::delete(&mut tx, ctx.org_id, id).await?;
    timeline_rows::delete_for_ref(&mut tx, ctx.org_id, id).await?;
    records::delete_search_doc(&mut tx, ctx.org_id, id).await?;
    tx.commit().await?;
    Ok(())
}
