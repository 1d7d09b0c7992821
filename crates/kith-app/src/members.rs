//! Members of a workspace: list, change roles, remove, leave. The workspace
//! always keeps at least one owner.

use crate::audit::{self, AuditEvent, Origin};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::Context;
use kith_store::members::{self as rows, MemberRow};
use kith_store::workspaces;
use uuid::Uuid;

pub async fn list(app: &App, ctx: &Context, page: &PageRequest) -> Result<Page<MemberRow>> {
    if !ctx.can(Action::ReadMembers) {
        return Err(AppError::Forbidden);
    }
    Ok(rows::list(app.db(), ctx.org_id, page).await?)
}

pub async fn get(app: &App, ctx: &Context, user_id: Uuid) -> Result<MemberRow> {
    if !ctx.can(Action::ReadMembers) {
        return Err(AppError::Forbidden);
    }
    rows::get_member(app.db(), ctx.org_id, user_id).await?.ok_or(AppError::NotFound)
}

fn role_of(m: &rows::MembershipRow) -> Result<Role> {
    Role::parse(&m.role).ok_or_else(|| AppError::Internal(format!("unknown role {}", m.role)))
}

/// Change a member's role. Admins manage roles up to admin; only owners touch owners.
pub async fn change_role(
    app: &App,
    ctx: &Context,
    user_id: Uuid,
    role: Role,
    if_version: Option<i64>,
    origin: &Origin,
) -> Result<MemberRow> {
    if !ctx.can(Action::ManageMembers) {
        return Err(AppError::Forbidden);
    }
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    workspaces::lock(&mut tx, ctx.org_id).await?;
    let current = rows::get_tx(&mut tx, ctx.org_id, user_id).await?.ok_or(AppError::NotFound)?;
    let current_role = role_of(&current)?;
    let actor = ctx.effective_role();
    if !actor.may_grant(role) || !actor.may_grant(current_role) {
        return Err(AppError::Forbidden);
    }
    if current_role == Role::Owner && role != Role::Owner && rows::count_owners(&mut tx, ctx.org_id).await? <= 1 {
        return Err(AppError::Conflict(
            ErrorCode::LastOwner,
            "a workspace needs at least one owner; make someone else owner first",
        ));
    }
    if rows::set_role(&mut tx, ctx.org_id, user_id, role.as_str(), if_version).await?.is_none() {
        return Err(AppError::StaleVersion);
    }
    let event = AuditEvent::new("member.role_changed", "user", user_id).with_detail(format!(
        "{} -> {}",
        current_role.as_str(),
        role.as_str()
    ));
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), event, origin, now).await?;
    tx.commit().await?;
    rows::get_member(app.db(), ctx.org_id, user_id).await?.ok_or(AppError::NotFound)
}

/// Remove a member (admins; owners for owners), or leave (anyone, `user_id` = self).
pub async fn remove(app: &App, ctx: &Context, user_id: Uuid, origin: &Origin) -> Result<()> {
    let leaving = user_id == ctx.user_id();
    if !leaving && !ctx.can(Action::ManageMembers) {
        return Err(AppError::Forbidden);
    }
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    workspaces::lock(&mut tx, ctx.org_id).await?;
    let current = rows::get_tx(&mut tx, ctx.org_id, user_id).await?.ok_or(AppError::NotFound)?;
    let current_role = role_of(&current)?;
    if !leaving && !ctx.effective_role().may_grant(current_role) {
        return Err(AppError::Forbidden);
    }
    if current_role == Role::Owner && rows::count_owners(&mut tx, ctx.org_id).await? <= 1 {
        return Err(AppError::Conflict(
            ErrorCode::LastOwner,
            "the last owner cannot leave; make someone else owner first",
        ));
    }
    rows::delete(&mut tx, ctx.org_id, user_id).await?;
    let action = if leaving { "member.left" } else { "member.removed" };
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), AuditEvent::new(action, "user", user_id), origin, now)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Limit a member to the CRM records they own ("my records"), or lift it.
/// Admins and owners see every shared record regardless, so the limit only
/// matters for members and viewers.
pub async fn set_own_records_only(
    app: &App,
    ctx: &Context,
    user_id: Uuid,
    limited: bool,
    origin: &Origin,
) -> Result<()> {
    if !ctx.can(Action::ManageMembers) {
        return Err(AppError::Forbidden);
    }
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    if !rows::set_own_records_only(&mut tx, ctx.org_id, user_id, limited).await? {
        return Err(AppError::NotFound);
    }
    let event = AuditEvent::new("member.record_limit_changed", "user", user_id).with_detail(if limited {
        "own records only"
    } else {
        "all shared records"
    });
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), event, origin, now).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn own_records_only(app: &App, ctx: &Context, user_id: Uuid) -> Result<bool> {
    if !ctx.can(Action::ReadMembers) {
        return Err(AppError::Forbidden);
    }
    Ok(rows::own_records_only(app.db(), ctx.org_id, user_id).await?)
}
