//! Canned responses: workspace-wide reply texts with `{{variables}}`
//! (`kith_domain::template`). Members read them; members who may write
//! records create, change and delete them. A body is checked when it is
//! saved: an unknown variable is a validation error then, never at send
//! time.

use crate::{App, AppError, ErrorCode, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_store::outbound::{self as rows, CannedRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_CANNED: i64 = 1000;
const MAX_NAME_CHARS: usize = 100;
const MAX_BODY_CHARS: usize = super::messages::MAX_BODY_CHARS;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CannedResponse {
    pub id: Uuid,
    pub name: String,
    /// The text, with variables such as `{{contact.first_name}}` or
    /// `{{contact.first_name|there}}` (a fallback when the value is empty).
    pub body: String,
    /// The variables the body uses.
    pub variables: Vec<String>,
    pub created_by: Option<Uuid>,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCannedResponse {
    pub name: String,
    pub body: String,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedResponsePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

fn to_api(r: CannedRow) -> CannedResponse {
    let variables = kith_domain::template::parse(&r.body)
        .map(|t| t.variables().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    CannedResponse {
        id: r.id,
        name: r.name,
        body: r.body,
        variables,
        created_by: r.created_by,
        version: r.version,
        created_at_ms: r.created_ms,
        updated_at_ms: r.updated_ms,
    }
}

fn need(ctx: &Context, action: Action) -> Result<()> {
    if ctx.can(action) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn check(name: &str, body: &str) -> Result<(String, String)> {
    let mut v = crate::error::Validator::default();
    let name = v.check("name", kith_domain::validate::clean_name(name, MAX_NAME_CHARS));
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        v.check::<()>("body", Err(format!("must be 1 to {MAX_BODY_CHARS} characters")));
    } else if let Err(e) = kith_domain::template::parse(body) {
        v.check::<()>("body", Err(e.to_string()));
    }
    v.finish()?;
    Ok((name.expect("checked"), body.to_string()))
}

fn name_taken(e: kith_store::StoreError) -> AppError {
    if e.is_duplicate() {
        AppError::Conflict(ErrorCode::AlreadyExists, "a canned response with that name exists")
    } else {
        e.into()
    }
}

pub async fn create(app: &App, ctx: &Context, input: &NewCannedResponse) -> Result<CannedResponse> {
    need(ctx, Action::WriteRecords)?;
    let (name, body) = check(&input.name, &input.body)?;
    let now = now_ms();
    let row = CannedRow {
        id: new_id(),
        org_id: ctx.org_id,
        name,
        body,
        created_by: Some(ctx.user_id()),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    let mut tx = app.db().begin().await?;
    if rows::count_canned(&mut tx, ctx.org_id).await? >= MAX_CANNED {
        return Err(AppError::field("name", format!("a workspace has at most {MAX_CANNED} canned responses")));
    }
    rows::insert_canned(&mut tx, &row).await.map_err(name_taken)?;
    tx.commit().await?;
    Ok(to_api(row))
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<CannedResponse> {
    need(ctx, Action::ReadRecords)?;
    Ok(to_api(rows::get_canned(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?))
}

pub async fn list(app: &App, ctx: &Context, page: &PageRequest) -> Result<Page<CannedResponse>> {
    need(ctx, Action::ReadRecords)?;
    Ok(rows::list_canned(app.db(), ctx.org_id, page).await?.map(to_api))
}

pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &CannedResponsePatch,
    if_version: Option<i64>,
) -> Result<CannedResponse> {
    need(ctx, Action::WriteRecords)?;
    let mut row = rows::get_canned(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if if_version.is_some_and(|v| v != row.version) {
        return Err(AppError::StaleVersion);
    }
    let (name, body) = check(input.name.as_deref().unwrap_or(&row.name), input.body.as_deref().unwrap_or(&row.body))?;
    row.name = name;
    row.body = body;
    row.version += 1;
    row.updated_ms = now_ms().max(row.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    if !rows::update_canned(&mut tx, &row).await.map_err(name_taken)? {
        return Err(AppError::StaleVersion);
    }
    tx.commit().await?;
    Ok(to_api(row))
}

pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::WriteRecords)?;
    let mut tx = app.db().begin().await?;
    if !rows::delete_canned(&mut tx, ctx.org_id, id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}
