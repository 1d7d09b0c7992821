//! Saved views: a named list query (filters and sort, in the same query
//! string the list endpoints take) and a column choice, private or shared.
//! Anyone may save their own; sharing with the workspace is for members and
//! up; only the owner (or an admin, for shared views) changes one.

use super::need;
use crate::{App, AppError, Result};
use kith_domain::crm::RecordType;
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::validate::clean_name;
use kith_domain::{new_id, Context};
use kith_store::saved_views::{self as rows, ViewRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_VIEWS_PER_USER: i64 = 200;
const COLUMN_KEYS: [&str; 16] = [
    "name",
    "email",
    "phone",
    "company",
    "title",
    "owner",
    "tags",
    "updated",
    "created",
    "source",
    "domain",
    "industry",
    "value",
    "stage",
    "status",
    "expected_close",
];

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewInput {
    #[serde(default)]
    pub record_type: Option<RecordType>,
    #[serde(default)]
    pub name: Option<String>,
    /// The list query string, e.g. `tag=vip&owner=me&sort=-updated_at`.
    #[serde(default)]
    pub query: Option<String>,
    /// Column keys in order; `cf.<key>` for custom fields.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub shared: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct View {
    pub id: Uuid,
    pub record_type: RecordType,
    pub name: String,
    pub query: String,
    pub columns: Vec<String>,
    pub shared: bool,
    pub owner_id: Uuid,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl From<ViewRow> for View {
    fn from(v: ViewRow) -> View {
        View {
            id: v.id,
            record_type: RecordType::parse(&v.record_type).unwrap_or(RecordType::Contact),
            name: v.name,
            query: v.query,
            columns: serde_json::from_str(&v.columns).unwrap_or_default(),
            shared: v.shared,
            owner_id: v.owner_id,
            version: v.version,
            created_at_ms: v.created_ms,
            updated_at_ms: v.updated_ms,
        }
    }
}

fn check_query(q: &str) -> Result<String> {
    let q = q.trim().trim_start_matches('?');
    if q.len() > 2000 || q.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(AppError::field("query", "must be a URL query string of at most 2000 characters"));
    }
    // The list endpoint validates parameters when the view is used; here
    // only reject what can never be a list parameter.
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split('=').next().unwrap_or("");
        let known = ["limit", "sort", "tag", "owner", "company", "updated_since", "pipeline", "stage", "status"];
        if !(known.contains(&key) || key.starts_with("cf.")) {
            return Err(AppError::field("query", format!("{key:?} is not a list parameter")));
        }
        if key == "cursor" {
            return Err(AppError::field("query", "a view does not keep a page position"));
        }
    }
    Ok(q.to_string())
}

fn check_columns(columns: &[String]) -> Result<Vec<String>> {
    if columns.len() > 40 {
        return Err(AppError::field("columns", "at most 40 columns"));
    }
    for c in columns {
        let custom = c.strip_prefix("cf.").is_some_and(|k| kith_domain::crm::check_field_key(k).is_ok());
        if !custom && !COLUMN_KEYS.contains(&c.as_str()) {
            return Err(AppError::field(
                "columns",
                format!("{c:?} is not a column ({} or cf.<key>)", COLUMN_KEYS.join(", ")),
            ));
        }
    }
    Ok(columns.to_vec())
}

pub async fn create(app: &App, ctx: &Context, input: &ViewInput) -> Result<View> {
    need(ctx, Action::ReadRecords)?;
    let record_type = input.record_type.ok_or_else(|| AppError::field("record_type", "is required"))?;
    let name = clean_name(input.name.as_deref().unwrap_or(""), 80).map_err(|m| AppError::field("name", m))?;
    let shared = input.shared.unwrap_or(false);
    if shared && !ctx.can(Action::WriteRecords) {
        return Err(AppError::Forbidden);
    }
    let now = now_ms();
    let row = ViewRow {
        id: new_id(),
        org_id: ctx.org_id,
        owner_id: ctx.user_id(),
        record_type: record_type.as_str().into(),
        name,
        query: check_query(input.query.as_deref().unwrap_or(""))?,
        columns: serde_json::to_string(&check_columns(input.columns.as_deref().unwrap_or(&[]))?).expect("json"),
        shared,
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    let mut tx = app.db().begin().await?;
    if rows::count_for_owner(&mut tx, ctx.org_id, ctx.user_id()).await? >= MAX_VIEWS_PER_USER {
        return Err(AppError::field("name", format!("at most {MAX_VIEWS_PER_USER} saved views per person")));
    }
    rows::insert(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn list(app: &App, ctx: &Context, record_type: RecordType) -> Result<Vec<View>> {
    need(ctx, Action::ReadRecords)?;
    Ok(rows::list(app.db(), ctx.org_id, ctx.user_id(), record_type.as_str())
        .await?
        .into_iter()
        .map(View::from)
        .collect())
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<View> {
    need(ctx, Action::ReadRecords)?;
    Ok(rows::get(app.db(), ctx.org_id, ctx.user_id(), id).await?.ok_or(AppError::NotFound)?.into())
}

fn may_change(ctx: &Context, v: &ViewRow) -> Result<()> {
    if changeable(ctx, v.owner_id, v.shared) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn changeable(ctx: &Context, owner_id: Uuid, shared: bool) -> bool {
    owner_id == ctx.user_id() || (shared && ctx.effective_role() >= Role::Admin)
}

/// Whether `ctx` may rename, change or delete `view` (its owner; an admin for a shared one).
pub fn can_change(ctx: &Context, view: &View) -> bool {
    changeable(ctx, view.owner_id, view.shared)
}

pub async fn update(app: &App, ctx: &Context, id: Uuid, input: &ViewInput, if_version: Option<i64>) -> Result<View> {
    need(ctx, Action::ReadRecords)?;
    let mut v = rows::get(app.db(), ctx.org_id, ctx.user_id(), id).await?.ok_or(AppError::NotFound)?;
    may_change(ctx, &v)?;
    if if_version.is_some_and(|x| x != v.version) {
        return Err(AppError::StaleVersion);
    }
    if input.record_type.is_some_and(|t| t.as_str() != v.record_type) {
        return Err(AppError::field("record_type", "cannot change"));
    }
    if let Some(n) = &input.name {
        v.name = clean_name(n, 80).map_err(|m| AppError::field("name", m))?;
    }
    if let Some(q) = &input.query {
        v.query = check_query(q)?;
    }
    if let Some(c) = &input.columns {
        v.columns = serde_json::to_string(&check_columns(c)?).expect("json");
    }
    if let Some(shared) = input.shared {
        if shared && !ctx.can(Action::WriteRecords) {
            return Err(AppError::Forbidden);
        }
        v.shared = shared;
    }
    v.version += 1;
    v.updated_ms = now_ms().max(v.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    if !rows::update(&mut tx, &v).await? {
        return Err(AppError::StaleVersion);
    }
    tx.commit().await?;
    Ok(v.into())
}

pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::ReadRecords)?;
    let v = rows::get(app.db(), ctx.org_id, ctx.user_id(), id).await?.ok_or(AppError::NotFound)?;
    may_change(ctx, &v)?;
    let mut tx = app.db().begin().await?;
    rows::delete(&mut tx, ctx.org_id, id).await?;
    tx.commit().await?;
    Ok(())
}
