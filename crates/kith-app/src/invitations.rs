//! Invitations: an admin invites an address with a role; the link's secret is
//! shown to the inviter (and e-mailed when SMTP is configured) and works once.

use crate::audit::{self, AuditEvent, Origin};
use crate::identity::{join_through_invitation, SessionAuth};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::validate::normalize_email;
use kith_domain::{new_id, Context};
use kith_store::invitations::{self as rows, InvitationRow};
use kith_store::{users, workspaces};
use uuid::Uuid;

pub const INVITATION_PREFIX: &str = "kith_inv";

/// A new invitation and the link that redeems it.
#[derive(Debug, Clone)]
pub struct Invited {
    pub invitation: InvitationRow,
    pub link: String,
    /// An e-mail with the link was queued (SMTP is configured).
    pub emailed: bool,
}

pub async fn create(app: &App, ctx: &Context, email: &str, role: Role, origin: &Origin) -> Result<Invited> {
    if !ctx.can(Action::ManageInvitations) {
        return Err(AppError::Forbidden);
    }
    if !ctx.effective_role().may_grant(role) {
        return Err(AppError::field("role", "you cannot invite someone with a higher role than yours"));
    }
    let email = normalize_email(email).ok_or_else(|| AppError::field("email", "is not a valid e-mail address"))?;
    if let Some(user) = users::find_by_email(app.db(), &email).await? {
        if kith_store::members::get(app.db(), ctx.org_id, user.id).await?.is_some() {
            return Err(AppError::Conflict(ErrorCode::AlreadyMember, "this person is already a member"));
        }
    }
    let inviter = users::get(app.db(), ctx.user_id()).await?.ok_or(AppError::NotFound)?;
    let workspace = workspaces::get(app.db(), ctx.org_id).await?.ok_or(AppError::NotFound)?;
    let secret = kith_crypto::random_token(INVITATION_PREFIX);
    let link = format!("{}/invite/{}", app.settings().public_url.trim_end_matches('/'), secret);
    let now = now_ms();
    let invitation = InvitationRow {
        id: new_id(),
        org_id: ctx.org_id,
        email,
        role: role.as_str().into(),
        token_hash: kith_crypto::token_hash(&secret).to_vec(),
        invited_by: ctx.user_id(),
        created_ms: now,
        expires_ms: now + app.settings().invitation_ttl_ms,
        accepted_ms: None,
        accepted_by: None,
        revoked_ms: None,
    };
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &invitation).await?;
    let event = AuditEvent::new("member.invited", "invitation", invitation.id)
        .with_detail(format!("{} as {}", invitation.email, invitation.role));
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), event, origin, now).await?;
    let subject = format!("{} invited you to {} on Kith", inviter.name, workspace.name);
    let text = format!(
        "{} ({}) invited you to join {} on Kith as {}.\n\nAccept the invitation:\n{}\n\nThe link works once and expires in {} days. If you did not expect this, ignore this e-mail.\n",
        inviter.name,
        inviter.email,
        workspace.name,
        invitation.role,
        link,
        app.settings().invitation_ttl_ms / kith_domain::time::DAY_MS
    );
    let emailed = crate::mail::queue(app, &mut tx, &invitation.email, &subject, &text).await?;
    tx.commit().await?;
    Ok(Invited { invitation, link, emailed })
}

pub async fn list(app: &App, ctx: &Context, page: &PageRequest) -> Result<Page<InvitationRow>> {
    if !ctx.can(Action::ManageInvitations) {
        return Err(AppError::Forbidden);
    }
    Ok(rows::list_open(app.db(), ctx.org_id, page).await?)
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<InvitationRow> {
    if !ctx.can(Action::ManageInvitations) {
        return Err(AppError::Forbidden);
    }
    rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)
}

pub async fn revoke(app: &App, ctx: &Context, id: Uuid, origin: &Origin) -> Result<()> {
    if !ctx.can(Action::ManageInvitations) {
        return Err(AppError::Forbidden);
    }
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    if !rows::revoke(&mut tx, ctx.org_id, id, now).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        ctx.org_id,
        Some(ctx.user_id()),
        AuditEvent::new("invitation.revoked", "invitation", id),
        origin,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What the invitation page shows before anyone accepts.
#[derive(Debug, Clone)]
pub struct InvitationPreview {
    pub workspace_name: String,
    pub email: String,
    pub role: String,
    /// Whether an account with the invited address exists (sign in, or sign up).
    pub account_exists: bool,
}

pub async fn preview(app: &App, secret: &str) -> Result<InvitationPreview> {
    let inv =
        rows::find_by_token(app.db(), &kith_crypto::token_hash(secret)).await?.ok_or(AppError::InvitationInvalid)?;
    if inv.accepted_ms.is_some() || inv.revoked_ms.is_some() || inv.expires_ms <= now_ms() {
        return Err(AppError::InvitationInvalid);
    }
    let workspace = workspaces::get(app.db(), inv.org_id).await?.ok_or(AppError::InvitationInvalid)?;
    let account_exists = users::find_by_email(app.db(), &inv.email).await?.is_some();
    Ok(InvitationPreview { workspace_name: workspace.name, email: inv.email, role: inv.role, account_exists })
}

/// A signed-in user accepts: they join the workspace. The invitation must be
/// for their address.
pub async fn accept(app: &App, auth: &SessionAuth, secret: &str, origin: &Origin) -> Result<Uuid> {
    let inv =
        rows::find_by_token(app.db(), &kith_crypto::token_hash(secret)).await?.ok_or(AppError::InvitationInvalid)?;
    if inv.email != auth.user.email {
        return Err(AppError::Conflict(
            ErrorCode::InvitationInvalid,
            "this invitation was sent to another address; sign in with that one",
        ));
    }
    let mut tx = app.db().begin().await?;
    join_through_invitation(&mut tx, &inv, auth.user.id, origin, now_ms()).await?;
    tx.commit().await?;
    Ok(inv.org_id)
}
