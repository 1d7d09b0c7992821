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
