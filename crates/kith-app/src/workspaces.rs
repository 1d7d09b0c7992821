//! Workspaces: create, list the caller's, read, rename.

use crate::audit::{self, AuditEvent, Origin};
use crate::{App, AppError, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::validate::clean_name;
use kith_domain::Context;
use kith_store::workspaces::{self as rows, MyWorkspaceRow, WorkspaceRow};
use uuid::Uuid;

/// A signed-in user creates another workspace, of which they are the owner.
pub async fn create(app: &App, user_id: Uuid, name: &str, origin: &Origin) -> Result<WorkspaceRow> {
    let name = clean_name(name, 120).map_err(|m| AppError::field("name", m))?;
    let mut tx = app.db().begin().await?;
    let id = crate::identity::create_workspace_in(app, &mut tx, user_id, &name, origin, now_ms()).await?;
    tx.commit().await?;
    rows::get(app.db(), id).await?.ok_or(AppError::NotFound)
}

pub async fn list_mine(app: &App, user_id: Uuid, page: &PageRequest) -> Result<Page<MyWorkspaceRow>> {
    Ok(rows::list_for_user(app.db(), user_id, page).await?)
}

/// The workspace of the context (a member reads their own workspace; any other id is not found).
pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<WorkspaceRow> {
    if id != ctx.org_id || !ctx.can(Action::ReadWorkspace) {
        return Err(AppError::NotFound);
    }
    rows::get(app.db(), id).await?.ok_or(AppError::NotFound)
}

pub async fn rename(
    app: &App,
    ctx: &Context,
    id: Uuid,
    name: &str,
    if_version: Option<i64>,
    origin: &Origin,
) -> Result<WorkspaceRow> {
    if id != ctx.org_id {
        return Err(AppError::NotFound);
    }
    if !ctx.can(Action::RenameWorkspace) {
        return Err(AppError::Forbidden);
    }
    let name = clean_name(name, 120).map_err(|m| AppError::field("name", m))?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    if rows::rename(&mut tx, id, &name, if_version, now).await?.is_none() {
        return Err(AppError::StaleVersion);
    }
    audit::record(&mut tx, id, Some(ctx.user_id()), AuditEvent::new("workspace.renamed", "workspace", id), origin, now)
        .await?;
    tx.commit().await?;
    rows::get(app.db(), id).await?.ok_or(AppError::NotFound)
}

/// The calling code used for phone numbers written without one ('' = none).
pub async fn phone_country_code(app: &App, ctx: &Context) -> Result<String> {
    if !ctx.can(Action::ReadWorkspace) {
        return Err(AppError::NotFound);
    }
    app.phone_country_code(ctx.org_id).await
}

/// Set the calling code for phone numbers typed without `+country`
/// (admins and owners): 1–3 digits such as `1` or `44`, a leading `+`
/// allowed; empty means numbers must include their country code.
pub async fn set_phone_country_code(app: &App, ctx: &Context, code: &str, origin: &Origin) -> Result<String> {
    if !ctx.can(Action::RenameWorkspace) {
        return Err(AppError::Forbidden);
    }
    let code = code.trim();
    let code = code.strip_prefix('+').unwrap_or(code).trim();
    if !code.is_empty() && (code.len() > 3 || !code.bytes().all(|b| b.is_ascii_digit()) || code.starts_with('0')) {
        return Err(AppError::field("phone_country_code", "must be 1 to 3 digits, such as 1 or 44, or empty"));
    }
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    rows::set_phone_country_code(&mut tx, ctx.org_id, code, now).await?;
    let event = AuditEvent::new("workspace.phone_country_code_changed", "workspace", ctx.org_id)
        .with_detail(if code.is_empty() { "none".to_string() } else { format!("+{code}") });
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), event, origin, now).await?;
    tx.commit().await?;
    Ok(code.to_string())
}
