//! API tokens: created by a member for one workspace, shown once, stored as a
//! hash, scoped to at most a role (default: whatever the member's role allows).

use crate::audit::{self, AuditEvent, Origin};
use crate::identity::Me;
use crate::{App, AppError, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::validate::clean_name;
use kith_domain::{new_id, Actor, Context, Credential};
use kith_store::tokens::{self as rows, TokenRow};
use kith_store::{members, users};
use uuid::Uuid;

pub const TOKEN_PREFIX: &str = "kith_pat";
/// Stored when a token follows the member's role as it changes.
const SCOPE_INHERIT: &str = "inherit";

/// A token's scope: a fixed highest role, or the member's role.
pub fn parse_scope(stored: &str) -> Option<Role> {
    if stored == SCOPE_INHERIT {
        Some(Role::Owner)
    } else {
        Role::parse(stored.strip_prefix("role:")?)
    }
}

pub fn scope_label(stored: &str) -> &str {
    if stored == SCOPE_INHERIT {
        "role"
    } else {
        stored.strip_prefix("role:").unwrap_or(stored)
    }
}

/// Create a token for the acting member. `scope` may narrow, never widen.
pub async fn create(
    app: &App,
    ctx: &Context,
    name: &str,
    scope: Option<Role>,
    origin: &Origin,
) -> Result<(TokenRow, String)> {
    if !ctx.can(Action::ManageOwnTokens) {
        return Err(AppError::Forbidden);
    }
    let name = clean_name(name, 80).map_err(|m| AppError::field("name", m))?;
    // A token minting a token passes on its own limit: "your role" from a
    // member-scoped token means member, never the owner behind it.
    let inherited = match ctx.actor.credential {
        Credential::Token { scope, .. } if scope < Role::Owner => Some(scope.min(ctx.role)),
        _ => None,
    };
    let stored_scope = match scope.or(inherited) {
        None => SCOPE_INHERIT.to_string(),
        Some(role) if role <= ctx.effective_role() => format!("role:{}", role.as_str()),
        Some(_) => return Err(AppError::field("scope", "cannot exceed your own role")),
    };
    create_unchecked(app, ctx.org_id, ctx.user_id(), &name, &stored_scope, origin).await
}

/// Used by `kith admin create-token` (the operator acts for the member).
pub async fn create_for_member(app: &App, org_id: Uuid, email: &str, name: &str) -> Result<(TokenRow, String)> {
    let email = kith_domain::validate::normalize_email(email)
        .ok_or_else(|| AppError::field("email", "is not a valid e-mail address"))?;
    let user = users::find_by_email(app.db(), &email).await?.ok_or(AppError::NotFound)?;
    members::get(app.db(), org_id, user.id).await?.ok_or(AppError::NotFound)?;
    let name = clean_name(name, 80).map_err(|m| AppError::field("name", m))?;
    create_unchecked(app, org_id, user.id, &name, SCOPE_INHERIT, &Origin::default()).await
}

async fn create_unchecked(
    app: &App,
    org_id: Uuid,
    user_id: Uuid,
    name: &str,
    scope: &str,
    origin: &Origin,
) -> Result<(TokenRow, String)> {
    let secret = kith_crypto::random_token(TOKEN_PREFIX);
    let now = now_ms();
    let row = TokenRow {
        id: new_id(),
        org_id,
        user_id,
        name: name.to_string(),
        token_hash: kith_crypto::token_hash(&secret).to_vec(),
        scopes: scope.to_string(),
        created_ms: now,
        last_used_ms: None,
        revoked_ms: None,
    };
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    audit::record(&mut tx, org_id, Some(user_id), AuditEvent::new("token.created", "api_token", row.id), origin, now)
        .await?;
    tx.commit().await?;
    Ok((row, secret))
}

pub async fn list(app: &App, ctx: &Context, page: &PageRequest) -> Result<Page<TokenRow>> {
    Ok(rows::list_for_user(app.db(), ctx.org_id, ctx.user_id(), page).await?)
}

pub async fn revoke(app: &App, ctx: &Context, id: Uuid, origin: &Origin) -> Result<()> {
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    if !rows::revoke(&mut tx, ctx.org_id, ctx.user_id(), id, now).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        ctx.org_id,
        Some(ctx.user_id()),
        AuditEvent::new("token.revoked", "api_token", id),
        origin,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The context of a bearer token: its workspace, its member, its scope.
/// None for an unknown or revoked token, or a member who has left.
pub async fn authenticate(app: &App, secret: &str) -> Result<Option<Context>> {
    Ok(authenticate_with_me(app, secret).await?.map(|(ctx, _)| ctx))
}

/// Authenticate and, from the same read, describe the caller (for `/me`).
pub async fn authenticate_with_me(app: &App, secret: &str) -> Result<Option<(Context, Me)>> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some(holder) = rows::find_active_for_request(app.db(), &kith_crypto::token_hash(secret)).await? else {
        return Ok(None);
    };
    let token = holder.token;
    let role = Role::parse(&holder.role).ok_or_else(|| AppError::Internal(format!("unknown role {}", holder.role)))?;
    let scope = parse_scope(&token.scopes).unwrap_or(Role::Viewer);
    let now = now_ms();
    if token.last_used_ms.is_none_or(|t| now - t > 60_000) {
        let mut tx = app.db().begin().await?;
        rows::touch(&mut tx, token.id, now).await?;
        tx.commit().await?;
    }
    let ctx = Context {
        org_id: token.org_id,
        actor: Actor { user_id: token.user_id, credential: Credential::Token { id: token.id, scope } },
        role,
    };
    Ok(Some((ctx, Me { user: holder.user, workspace: holder.workspace })))
}
