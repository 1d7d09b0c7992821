//! Settings pages: profile, security, workspace, members and invitations,
//! teams, API tokens, audit log. Each POST redirects back with a message,
//! or re-renders its page with the errors next to the fields.

use super::pages::*;
use super::{redirect_with, render, Flash, UiCtx};
use crate::extract::RequestOrigin;
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kith_app::identity::SessionAuth;
use kith_app::{AppError, Context};
use kith_domain::page::{Cursor, PageRequest};
use kith_domain::time::now_ms;
use kith_domain::Role;
use serde::Deserialize;
use uuid::Uuid;

/// An id from the path; anything that is not one is simply not found.
fn path_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::try_parse(raw).map_err(|_| AppError::NotFound)
}

const ROLES: [&str; 4] = ["viewer", "member", "admin", "owner"];

fn back(state: &WebState, to: &str, result: Result<(), AppError>, ok: &str) -> Response {
    let flash = match result {
        Ok(()) => Flash::success(ok),
        Err(e) => Flash::error(crate::error::ApiError::from(e).message),
    };
    redirect_with(to, flash, state.config.secure_cookies)
}

#[derive(Deserialize, Default)]
pub struct CursorQuery {
    cursor: Option<String>,
}

impl CursorQuery {
    fn page(&self) -> PageRequest {
        PageRequest::new(Some(50), self.cursor.as_deref().and_then(Cursor::decode))
    }
}

// ---------- profile ----------

pub async fn profile_page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    profile_view(&state, &ui, &auth, &ctx, auth.user.name.clone(), Errors::default()).await
}

async fn profile_view(
    state: &WebState,
    ui: &UiCtx,
    auth: &SessionAuth,
    ctx: &Context,
    name: String,
    errors: Errors,
) -> Response {
    let shell = Shell::build(state, ui, auth, Some(ctx), "Profile", "settings", "profile").await;
    render(&ProfilePage {
        shell,
        name,
        email: auth.user.email.clone(),
        errors,
        verified: auth.user.email_verified_ms.is_some(),
        can_verify: state.app.mailer().is_some(),
    })
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: Option<i64>,
}

pub async fn profile(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(f): Form<NameForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    match kith_app::identity::update_profile(&state.app, auth.user.id, &f.name).await {
        Ok(()) => redirect_with("/settings/profile", Flash::success("Profile saved."), state.config.secure_cookies),
        Err(e) => profile_view(&state, &ui, &auth, &ctx, f.name, Errors::from_app(e)).await,
    }
}

pub async fn resend_verification(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
) -> Response {
    let (auth, _) = signed_in!(state, ui);
    let result = kith_app::identity::resend_verification(&state.app, auth.user.id, &origin).await.map(|_| ());
    back(&state, "/settings/profile", result, "We sent a confirmation link to your e-mail address.")
}

// ---------- security ----------

async fn security_view(
    state: &WebState,
    ui: &UiCtx,
    auth: &SessionAuth,
    ctx: &Context,
    errors: Errors,
    enrolment: Option<(String, String)>,
    recovery_codes: Vec<String>,
) -> Response {
    let sessions = kith_app::identity::list_sessions(&state.app, auth.user.id).await.unwrap_or_default();
    let summary = kith_app::identity::security_summary(&state.app, auth.user.id).await.ok();
    let shell = Shell::build(state, ui, auth, Some(ctx), "Security", "settings", "security").await;
    render(&SecurityPage {
        shell,
        two_factor: summary.as_ref().is_some_and(|s| s.totp_enabled),
        recovery_left: summary.as_ref().map(|s| s.recovery_codes_left).unwrap_or(0),
        sessions: sessions
            .into_iter()
            .map(|s| SessionItem {
                id: s.id.to_string(),
                device: s.user_agent.as_deref().map(describe_agent).unwrap_or_else(|| "Unknown device".into()),
                ip: s.ip.unwrap_or_default(),
                created: When::new(s.created_ms),
                last_seen: When::new(s.last_seen_ms),
                current: s.id == auth.session.id,
            })
            .collect(),
        errors,
        enrolment: enrolment.map(|(secret, uri)| {
            let qr = qr_data_uri(&uri);
            (secret, uri, qr)
        }),
        recovery_codes,
    })
}

/// "Firefox on Linux" from a user-agent string; enough to recognise a session.
fn describe_agent(ua: &str) -> String {
    let browser = ["Edg/", "OPR/", "Firefox/", "Chrome/", "Safari/", "curl/"]
        .iter()
        .find(|b| ua.contains(*b))
        .map(|b| match *b {
            "Edg/" => "Edge",
            "OPR/" => "Opera",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            "Safari/" => "Safari",
            _ => "curl",
        })
        .unwrap_or("Browser");
    let os = ["Windows", "Mac OS X", "Android", "iPhone", "Linux"].iter().find(|o| ua.contains(*o)).map(|o| {
        if *o == "Mac OS X" {
            "macOS"
        } else {
            o
        }
    });
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

pub async fn security_page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    security_view(&state, &ui, &auth, &ctx, Errors::default(), None, vec![]).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub async fn change_password(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    match kith_app::identity::change_password(&state.app, &auth, &f.current_password, &f.new_password).await {
        Ok(()) => redirect_with(
            "/settings/security",
            Flash::success("Password changed. Your other sessions are signed out."),
            state.config.secure_cookies,
        ),
        Err(e) => security_view(&state, &ui, &auth, &ctx, Errors::from_app(e), None, vec![]).await,
    }
}

pub async fn totp_start(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    match kith_app::identity::begin_totp(&state.app, &auth.user).await {
        Ok(e) => {
            security_view(&state, &ui, &auth, &ctx, Errors::default(), Some((e.secret_base32, e.otpauth_uri)), vec![])
                .await
        }
        Err(e) => security_view(&state, &ui, &auth, &ctx, Errors::from_app(e), None, vec![]).await,
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn totp_confirm(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(f): Form<CodeForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    match kith_app::identity::confirm_totp(&state.app, auth.user.id, &f.code).await {
        Ok(codes) => security_view(&state, &ui, &auth, &ctx, Errors::default(), None, codes).await,
        Err(_) => {
            // Show the same secret again so the user can retry.
            let enrolment = kith_app::identity::security_summary(&state.app, auth.user.id)
                .await
                .ok()
                .and_then(|s| s.pending_enrolment)
                .map(|e| (e.secret_base32, e.otpauth_uri));
            let errors = Errors::from_app(AppError::field(
                "code",
                "That code did not match. Check the time on your phone and try the current code.",
            ));
            security_view(&state, &ui, &auth, &ctx, errors, enrolment, vec![]).await
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordOnly {
    #[serde(default)]
    password: String,
}

pub async fn totp_disable(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(f): Form<PasswordOnly>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    match kith_app::identity::disable_totp(&state.app, &auth.user, &f.password).await {
        Ok(()) => redirect_with(
            "/settings/security",
            Flash::success("Two-factor sign-in is off."),
            state.config.secure_cookies,
        ),
        Err(e) => security_view(&state, &ui, &auth, &ctx, Errors::from_app(e), None, vec![]).await,
    }
}

pub async fn revoke_session(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (auth, _) = signed_in!(state, ui);
    let result = async { kith_app::identity::revoke_session(&state.app, auth.user.id, path_id(&id)?).await }.await;
    back(&state, "/settings/security", result, "Session signed out.")
}

// ---------- workspace ----------

pub async fn workspace_page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let w = match kith_app::workspaces::get(&state.app, &ctx, ctx.org_id).await {
        Ok(w) => w,
        Err(e) => return super::error_page(&e.into()),
    };
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Workspace", "settings", "workspace").await;
    let phone_code = kith_app::workspaces::phone_country_code(&state.app, &ctx).await.unwrap_or_default();
    render(&WorkspacePage { shell, name: w.name, version: w.version, errors: Errors::default(), phone_code })
}

#[derive(Deserialize)]
pub struct PhoneCodeForm {
    #[serde(default)]
    phone_country_code: String,
}

pub async fn set_phone_code(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<PhoneCodeForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    match kith_app::workspaces::set_phone_country_code(&state.app, &ctx, &f.phone_country_code, &origin).await {
        Ok(code) => {
            let message = if code.is_empty() {
                "Phone country code cleared: phone numbers must now start with + and their country code.".to_string()
            } else {
                format!("Phone numbers typed without a country code are now read as +{code}.")
            };
            redirect_with("/settings/workspace", Flash::success(message), state.config.secure_cookies)
        }
        Err(AppError::Forbidden) => super::error_page(&AppError::Forbidden.into()),
        Err(e) => {
            let w = match kith_app::workspaces::get(&state.app, &ctx, ctx.org_id).await {
                Ok(w) => w,
                Err(e) => return super::error_page(&e.into()),
            };
            let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Workspace", "settings", "workspace").await;
            let page = WorkspacePage {
                shell,
                name: w.name,
                version: w.version,
                errors: Errors::from_app(e),
                phone_code: f.phone_country_code,
            };
            (axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
        }
    }
}

pub async fn rename_workspace(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<NameForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    match kith_app::workspaces::rename(&state.app, &ctx, ctx.org_id, &f.name, f.version, &origin).await {
        Ok(_) => {
            redirect_with("/settings/workspace", Flash::success("Workspace renamed."), state.config.secure_cookies)
        }
        Err(e) => {
            let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Workspace", "settings", "workspace").await;
            let phone_code = kith_app::workspaces::phone_country_code(&state.app, &ctx).await.unwrap_or_default();
            render(&WorkspacePage {
                shell,
                name: f.name,
                version: f.version.unwrap_or(0),
                errors: Errors::from_app(e),
                phone_code,
            })
        }
    }
}

// ---------- members and invitations ----------

struct InviteDraft {
    email: String,
    role: String,
    errors: Errors,
    new_link: Option<String>,
    emailed_to: Option<String>,
}

async fn members_view(
    state: &WebState,
    ui: &UiCtx,
    auth: &SessionAuth,
    ctx: &Context,
    page: PageRequest,
    draft: InviteDraft,
) -> Response {
    let members = match kith_app::members::list(&state.app, ctx, &page).await {
        Ok(p) => p,
        Err(e) => return super::error_page(&e.into()),
    };
    let invitations = kith_app::invitations::list(&state.app, ctx, &PageRequest::new(Some(200), None))
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let now = now_ms();
    let shell = Shell::build(state, ui, auth, Some(ctx), "Members", "settings", "members").await;
    let roles: Vec<&'static str> =
        ROLES.iter().copied().filter(|r| Role::parse(r).is_some_and(|r| ctx.effective_role().may_grant(r))).collect();
    let mut items = Vec::with_capacity(members.items.len());
    for m in members.items {
        // The limit matters for members and viewers; admins manage it.
        let limitable = shell.is_admin && Role::parse(&m.role).is_some_and(|r| r < Role::Admin);
        let own_only = match limitable {
            true => kith_app::members::own_records_only(&state.app, ctx, m.user_id).await.ok(),
            false => None,
        };
        items.push(MemberItem {
            is_self: m.user_id == auth.user.id,
            user_id: m.user_id.to_string(),
            name: m.name,
            email: m.email,
            role: m.role,
            joined: When::new(m.created_ms),
            own_only,
        });
    }
    render(&MembersPage {
        shell,
        next_cursor: members.next.map(|c| c.encode()),
        members: items,
        invitations: invitations
            .into_iter()
            .map(|i| InvitationItem {
                id: i.id.to_string(),
                email: i.email,
                role: i.role,
                expires: When::new(i.expires_ms),
                expired: i.expires_ms <= now,
            })
            .collect(),
        invite_email: draft.email,
        invite_role: draft.role,
        errors: draft.errors,
        new_link: draft.new_link,
        emailed_to: draft.emailed_to,
        roles,
    })
}

pub async fn members_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<CursorQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let draft = InviteDraft {
        email: String::new(),
        role: "member".into(),
        errors: Errors::default(),
        new_link: None,
        emailed_to: None,
    };
    members_view(&state, &ui, &auth, &ctx, q.page(), draft).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn invite(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<InviteForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let result = match Role::parse(&f.role) {
        Some(role) => kith_app::invitations::create(&state.app, &ctx, &f.email, role, &origin).await,
        None => Err(AppError::field("role", "choose one of viewer, member, admin, owner")),
    };
    let draft = match result {
        // The link is a secret: shown on this response only, never in a cookie or URL.
        Ok(invited) => InviteDraft {
            email: String::new(),
            role: "member".into(),
            errors: Errors::default(),
            emailed_to: invited.emailed.then(|| invited.invitation.email.clone()),
            new_link: Some(invited.link),
        },
        Err(e) => {
            InviteDraft { email: f.email, role: f.role, errors: Errors::from_app(e), new_link: None, emailed_to: None }
        }
    };
    members_view(&state, &ui, &auth, &ctx, PageRequest::default(), draft).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn change_role(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    Form(f): Form<RoleForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = match (Uuid::try_parse(&user_id), Role::parse(&f.role)) {
        (Ok(user_id), Some(role)) => {
            kith_app::members::change_role(&state.app, &ctx, user_id, role, None, &origin).await.map(|_| ())
        }
        (Err(_), _) => Err(AppError::NotFound),
        (_, None) => Err(AppError::field("role", "is not a role")),
    };
    back(&state, "/settings/members", result, "Role changed.")
}

#[derive(Deserialize)]
pub struct OwnRecordsForm {
    #[serde(default)]
    own_only: Option<String>,
}

/// Limit a member to the records they own, or lift the limit.
pub async fn set_own_records(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    Form(f): Form<OwnRecordsForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let limited = f.own_only.as_deref().is_some_and(|v| !v.is_empty() && v != "0");
    let result = async {
        let user_id = path_id(&user_id)?;
        kith_app::members::set_own_records_only(&state.app, &ctx, user_id, limited, &origin).await?;
        Ok(kith_app::members::get(&state.app, &ctx, user_id).await.map(|m| m.name).unwrap_or_default())
    }
    .await;
    let name = match result {
        Ok(name) => name,
        Err(AppError::Forbidden) => return super::error_page(&AppError::Forbidden.into()),
        Err(e) => return back(&state, "/settings/members", Err(e), ""),
    };
    let ok = if limited {
        format!("{name} now sees only the contacts, companies and deals they own.")
    } else {
        format!("{name} now sees every record shared with them.")
    };
    back(&state, "/settings/members", Ok(()), ok.trim())
}

pub async fn remove_member(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let target =
        if user_id == "me" { Ok(auth.user.id) } else { Uuid::try_parse(&user_id).map_err(|_| AppError::NotFound) };
    let leaving = target.as_ref().is_ok_and(|id| *id == auth.user.id);
    let result = match target {
        Ok(id) => kith_app::members::remove(&state.app, &ctx, id, &origin).await,
        Err(e) => Err(e),
    };
    if leaving && result.is_ok() {
        // Land in another workspace, or on the page to create one.
        let next = kith_app::workspaces::list_mine(&state.app, auth.user.id, &PageRequest::new(Some(1), None))
            .await
            .ok()
            .and_then(|p| p.items.first().map(|w| w.id));
        match next {
            Some(org) => {
                let _ = kith_app::identity::switch_workspace(&state.app, &auth, org).await;
                return redirect_with("/", Flash::success("You left the workspace."), state.config.secure_cookies);
            }
            None => return Redirect::to("/workspaces/new").into_response(),
        }
    }
    let to = if leaving { "/settings/workspace" } else { "/settings/members" };
    back(&state, to, result, "Member removed.")
}

pub async fn revoke_invitation(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = async { kith_app::invitations::revoke(&state.app, &ctx, path_id(&id)?, &origin).await }.await;
    back(&state, "/settings/members", result, "Invitation revoked.")
}

// ---------- teams ----------

async fn teams_view(
    state: &WebState,
    ui: &UiCtx,
    auth: &SessionAuth,
    ctx: &Context,
    page: PageRequest,
    name: String,
    errors: Errors,
) -> Response {
    let teams = match kith_app::teams::list(&state.app, ctx, &page).await {
        Ok(p) => p,
        Err(e) => return super::error_page(&e.into()),
    };
    let shell = Shell::build(state, ui, auth, Some(ctx), "Teams", "settings", "teams").await;
    render(&TeamsPage {
        shell,
        next_cursor: teams.next.map(|c| c.encode()),
        teams: teams
            .items
            .into_iter()
            .map(|t| TeamItem { id: t.id.to_string(), name: t.name, created: When::new(t.created_ms) })
            .collect(),
        name,
        errors,
    })
}

pub async fn teams_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<CursorQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    teams_view(&state, &ui, &auth, &ctx, q.page(), String::new(), Errors::default()).await
}

pub async fn create_team(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<NameForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    match kith_app::teams::create(&state.app, &ctx, &f.name, &origin).await {
        Ok(t) => redirect_with(
            &format!("/settings/teams/{}", t.id),
            Flash::success("Team created."),
            state.config.secure_cookies,
        ),
        Err(e) => teams_view(&state, &ui, &auth, &ctx, PageRequest::default(), f.name, Errors::from_app(e)).await,
    }
}

async fn team_view(
    state: &WebState,
    ui: &UiCtx,
    auth: &SessionAuth,
    ctx: &Context,
    id: &str,
    errors: Errors,
) -> Response {
    let Ok(team_id) = Uuid::try_parse(id) else {
        return super::error_page(&crate::error::ApiError::not_found());
    };
    let team = match kith_app::teams::get(&state.app, ctx, team_id).await {
        Ok(t) => t,
        Err(e) => return super::error_page(&e.into()),
    };
    let all = PageRequest::new(Some(200), None);
    let in_team =
        kith_app::teams::list_members(&state.app, ctx, team_id, &all).await.map(|p| p.items).unwrap_or_default();
    let everyone = kith_app::members::list(&state.app, ctx, &all).await.map(|p| p.items).unwrap_or_default();
    let candidates = everyone
        .into_iter()
        .filter(|m| !in_team.iter().any(|t| t.user_id == m.user_id))
        .map(|m| TeamMemberItem { user_id: m.user_id.to_string(), name: m.name, email: m.email })
        .collect();
    let shell = Shell::build(state, ui, auth, Some(ctx), &team.name, "settings", "teams").await;
    render(&TeamPage {
        shell,
        id: team.id.to_string(),
        name: team.name,
        version: team.version,
        members: in_team
            .into_iter()
            .map(|m| TeamMemberItem { user_id: m.user_id.to_string(), name: m.name, email: m.email })
            .collect(),
        candidates,
        errors,
    })
}

pub async fn team_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    team_view(&state, &ui, &auth, &ctx, &id, Errors::default()).await
}

pub async fn rename_team(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    Form(f): Form<NameForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let Ok(team_id) = Uuid::try_parse(&id) else {
        return super::error_page(&crate::error::ApiError::not_found());
    };
    match kith_app::teams::rename(&state.app, &ctx, team_id, &f.name, f.version, &origin).await {
        Ok(_) => redirect_with(
            &format!("/settings/teams/{id}"),
            Flash::success("Team renamed."),
            state.config.secure_cookies,
        ),
        Err(e) => team_view(&state, &ui, &auth, &ctx, &id, Errors::from_app(e)).await,
    }
}

pub async fn delete_team(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = async { kith_app::teams::delete(&state.app, &ctx, path_id(&id)?, &origin).await }.await;
    back(&state, "/settings/teams", result, "Team deleted.")
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    user_id: String,
}

pub async fn add_team_member(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    Form(f): Form<UserForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = match (Uuid::try_parse(&id), Uuid::try_parse(&f.user_id)) {
        (Ok(team), Ok(user)) => kith_app::teams::add_member(&state.app, &ctx, team, user, &origin).await,
        _ => Err(AppError::NotFound),
    };
    back(&state, &format!("/settings/teams/{id}"), result, "Added to the team.")
}

pub async fn remove_team_member(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path((id, user_id)): Path<(String, String)>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = match (Uuid::try_parse(&id), Uuid::try_parse(&user_id)) {
        (Ok(team), Ok(user)) => kith_app::teams::remove_member(&state.app, &ctx, team, user, &origin).await,
        _ => Err(AppError::NotFound),
    };
    back(&state, &format!("/settings/teams/{id}"), result, "Removed from the team.")
}

// ---------- API tokens ----------

async fn tokens_view(
    state: &WebState,
    ui: &UiCtx,
    auth: &SessionAuth,
    ctx: &Context,
    name: String,
    errors: Errors,
    new_token: Option<String>,
) -> Response {
    let tokens = kith_app::tokens::list(&state.app, ctx, &PageRequest::new(Some(200), None))
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let shell = Shell::build(state, ui, auth, Some(ctx), "API tokens", "settings", "tokens").await;
    let scopes = ROLES.iter().copied().filter(|r| Role::parse(r).is_some_and(|r| r <= ctx.role)).collect();
    render(&TokensPage {
        shell,
        tokens: tokens
            .into_iter()
            .map(|t| TokenItem {
                id: t.id.to_string(),
                scope: kith_app::tokens::scope_label(&t.scopes).to_string(),
                name: t.name,
                created: When::new(t.created_ms),
                last_used: t.last_used_ms.map(When::new),
            })
            .collect(),
        name,
        errors,
        new_token,
        scopes,
    })
}

pub async fn tokens_page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    tokens_view(&state, &ui, &auth, &ctx, String::new(), Errors::default(), None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

pub async fn create_token(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<TokenForm>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let scope = if f.scope.is_empty() {
        Ok(None)
    } else {
        Role::parse(&f.scope).map(Some).ok_or_else(|| AppError::field("scope", "is not a role"))
    };
    let result = match scope {
        Ok(scope) => kith_app::tokens::create(&state.app, &ctx, &f.name, scope, &origin).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((_, secret)) => tokens_view(&state, &ui, &auth, &ctx, String::new(), Errors::default(), Some(secret)).await,
        Err(e) => tokens_view(&state, &ui, &auth, &ctx, f.name, Errors::from_app(e), None).await,
    }
}

pub async fn revoke_token(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = async { kith_app::tokens::revoke(&state.app, &ctx, path_id(&id)?, &origin).await }.await;
    back(&state, "/settings/tokens", result, "Token revoked.")
}

// ---------- audit ----------

pub async fn audit_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<CursorQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let before = q.cursor.as_deref().and_then(Cursor::decode);
    let (rows, next) = match kith_app::audit::list(&state.app, &ctx, before, 100).await {
        Ok(v) => v,
        Err(e) => return super::error_page(&e.into()),
    };
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Audit log", "settings", "audit").await;
    render(&AuditPage {
        shell,
        next_cursor: next.map(|c| c.encode()),
        entries: rows
            .into_iter()
            .map(|r| AuditItem {
                at: When::new(r.at_ms),
                actor: r.actor_email.unwrap_or_else(|| "system".into()),
                action: r.action,
                target: r
                    .target_type
                    .map(|t| format!("{t} {}", r.target_id.map(|i| i.to_string()).unwrap_or_default()))
                    .unwrap_or_default(),
                ip: r.ip.unwrap_or_default(),
                detail: r.detail.unwrap_or_default(),
            })
            .collect(),
    })
}
