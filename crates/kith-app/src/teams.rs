//! Teams inside a workspace. Members read them; admins manage them.

use crate::audit::{self, AuditEvent, Origin};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::validate::clean_name;
use kith_domain::{new_id, Context};
use kith_store::members;
use kith_store::teams::{self as rows, TeamMemberRow, TeamRow};
use uuid::Uuid;

fn need(ctx: &Context, action: Action) -> Result<()> {
    if ctx.can(action) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn duplicate_name(e: kith_store::StoreError) -> AppError {
    if e.is_duplicate() {
        AppError::Conflict(ErrorCode::AlreadyExists, "a team with this name exists")
    } else {
        e.into()
    }
}

pub async fn create(app: &App, ctx: &Context, name: &str, origin: &Origin) -> Result<TeamRow> {
    need(ctx, Action::ManageTeams)?;
    let name = clean_name(name, 80).map_err(|m| AppError::field("name", m))?;
    let now = now_ms();
    let team = TeamRow { id: new_id(), org_id: ctx.org_id, name, version: 1, created_ms: now, updated_ms: now };
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &team).await.map_err(duplicate_name)?;
    audit::record(
        &mut tx,
        ctx.org_id,
        Some(ctx.user_id()),
        AuditEvent::new("team.created", "team", team.id),
        origin,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(team)
}

pub async fn list(app: &App, ctx: &Context, page: &PageRequest) -> Result<Page<TeamRow>> {
    need(ctx, Action::ReadTeams)?;
    Ok(rows::list(app.db(), ctx.org_id, page).await?)
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<TeamRow> {
    need(ctx, Action::ReadTeams)?;
    rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)
}

pub async fn rename(
    app: &App,
    ctx: &Context,
    id: Uuid,
    name: &str,
    if_version: Option<i64>,
    origin: &Origin,
) -> Result<TeamRow> {
    need(ctx, Action::ManageTeams)?;
    let name = clean_name(name, 80).map_err(|m| AppError::field("name", m))?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    if rows::rename(&mut tx, ctx.org_id, id, &name, if_version, now).await.map_err(duplicate_name)?.is_none() {
        drop(tx);
        // Tell a missing team from a stale version.
        rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
        return Err(AppError::StaleVersion);
    }
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), AuditEvent::new("team.renamed", "team", id), origin, now)
        .await?;
    tx.commit().await?;
    get(app, ctx, id).await
}

pub async fn delete(app: &App, ctx: &Context, id: Uuid, origin: &Origin) -> Result<()> {
    need(ctx, Action::ManageTeams)?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    if !rows::delete(&mut tx, ctx.org_id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), AuditEvent::new("team.deleted", "team", id), origin, now)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn add_member(app: &App, ctx: &Context, team_id: Uuid, user_id: Uuid, origin: &Origin) -> Result<()> {
    need(ctx, Action::ManageTeams)?;
    rows::get(app.db(), ctx.org_id, team_id).await?.ok_or(AppError::NotFound)?;
    members::get(app.db(), ctx.org_id, user_id)
        .await?
        .ok_or_else(|| AppError::field("user_id", "is not a member of this workspace"))?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    if rows::add_member(&mut tx, ctx.org_id, team_id, user_id, now).await? {
        let event = AuditEvent::new("team.member_added", "team", team_id).with_detail(user_id.to_string());
        audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), event, origin, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn remove_member(app: &App, ctx: &Context, team_id: Uuid, user_id: Uuid, origin: &Origin) -> Result<()> {
    need(ctx, Action::ManageTeams)?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    if !rows::remove_member(&mut tx, ctx.org_id, team_id, user_id).await? {
        return Err(AppError::NotFound);
    }
    let event = AuditEvent::new("team.member_removed", "team", team_id).with_detail(user_id.to_string());
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), event, origin, now).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_members(app: &App, ctx: &Context, team_id: Uuid, page: &PageRequest) -> Result<Page<TeamMemberRow>> {
    need(ctx, Action::ReadTeams)?;
    rows::get(app.db(), ctx.org_id, team_id).await?.ok_or(AppError::NotFound)?;
    Ok(rows::list_members(app.db(), ctx.org_id, team_id, page).await?)
}
