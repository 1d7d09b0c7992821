//! Template structs: what each page shows, already formatted. The templates
//! themselves live in `crates/kith-web/templates/`.

use super::{Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use kith_app::error::FieldError;
use kith_app::identity::SessionAuth;
use kith_app::Context;
use std::collections::HashMap;

/// The frame around every signed-in page: sidebar, switcher, top bar.
pub struct Shell {
    pub title: String,
    pub css: String,
    pub js: String,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub user_name: String,
    pub user_email: String,
    pub initials: String,
    pub org_name: String,
    pub role: String,
    pub is_admin: bool,
    pub workspaces: Vec<WorkspaceItem>,
    /// Which nav item is current (`home`, `settings`).
    pub active: &'static str,
    /// Which settings tab is current.
    pub tab: &'static str,
}

pub struct WorkspaceItem {
    pub id: String,
    pub name: String,
    pub current: bool,
}

impl Shell {
    pub async fn build(
        state: &WebState,
        ui: &UiCtx,
        auth: &SessionAuth,
        ctx: Option<&Context>,
        title: &str,
        active: &'static str,
        tab: &'static str,
    ) -> Shell {
        let page = kith_domain::PageRequest::new(Some(50), None);
        let list =
            kith_app::workspaces::list_mine(&state.app, auth.user.id, &page).await.map(|p| p.items).unwrap_or_default();
        let current = ctx.map(|c| c.org_id);
        let org_name = list.iter().find(|w| Some(w.id) == current).map(|w| w.name.clone()).unwrap_or_default();
        Shell {
            title: title.to_string(),
            css: crate::assets::css_url(),
            js: crate::assets::js_url(),
            csrf: ui.csrf.clone(),
            flash: ui.flash.clone(),
            user_name: auth.user.name.clone(),
            user_email: auth.user.email.clone(),
            initials: initials(&auth.user.name),
            org_name,
            role: ctx.map(|c| c.role.as_str().to_string()).unwrap_or_default(),
            is_admin: ctx.is_some_and(|c| c.can(kith_domain::Action::ManageMembers)),
            workspaces: list
                .into_iter()
                .map(|w| WorkspaceItem { id: w.id.to_string(), name: w.name, current: Some(w.id) == current })
                .collect(),
            active,
            tab,
        }
    }
}

fn initials(name: &str) -> String {
    name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect::<String>().to_uppercase()
}

/// Field errors of a submitted form, by field name.
#[derive(Default)]
pub struct Errors {
    fields: HashMap<String, String>,
    pub general: Option<String>,
}

impl Errors {
    pub fn from_app(err: kith_app::AppError) -> Errors {
        match err {
            kith_app::AppError::Validation(list) => Errors::from_fields(list),
            other => Errors { general: Some(crate::error::ApiError::from(other).message), ..Default::default() },
        }
    }

    fn from_fields(list: Vec<FieldError>) -> Errors {
        Errors { fields: list.into_iter().map(|f| (f.field, f.message)).collect(), general: None }
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.fields.get(field)
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }
}

/// "2026-11-25 14:03 UTC" — the no-JavaScript form; the script shows local relative time.
pub fn fmt_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000) / 60_000;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 60, rem % 60)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A QR code of `text` as an SVG data URI (images from `data:` are allowed by the CSP).
pub fn qr_data_uri(text: &str) -> String {
    use base64::Engine;
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else { return String::new() };
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(176, 176).quiet_zone(true).build();
    format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg))
}

/// A time as the templates show it.
pub struct When {
    pub ms: i64,
    pub text: String,
}

impl When {
    pub fn new(ms: i64) -> When {
        When { ms, text: fmt_ms(ms) }
    }
}

// ---------- anonymous pages ----------

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: String,
    pub message: String,
    pub css: String,
}

pub struct AuthFrame {
    pub title: String,
    pub css: String,
    pub js: String,
    pub csrf: String,
    pub flash: Option<Flash>,
}

impl AuthFrame {
    pub fn new(ui: &UiCtx, title: &str) -> AuthFrame {
        AuthFrame {
            title: title.into(),
            css: crate::assets::css_url(),
            js: crate::assets::js_url(),
            csrf: ui.csrf.clone(),
            flash: ui.flash.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "signup.html")]
pub struct SignupPage {
    pub frame: AuthFrame,
    pub email: String,
    pub name: String,
    pub workspace_name: String,
    pub errors: Errors,
    /// No user exists yet: this account will run the instance.
    pub first_user: bool,
    pub closed: bool,
}

#[derive(Template)]
#[template(path = "signin.html")]
pub struct SigninPage {
    pub frame: AuthFrame,
    pub email: String,
    pub errors: Errors,
}

#[derive(Template)]
#[template(path = "mfa.html")]
pub struct MfaPage {
    pub frame: AuthFrame,
    pub errors: Errors,
}

#[derive(Template)]
#[template(path = "invite.html")]
pub struct InvitePage {
    pub frame: AuthFrame,
    pub secret: String,
    pub workspace_name: String,
    pub email: String,
    pub role: String,
    pub account_exists: bool,
    /// Signed in as the invited address: one click joins.
    pub signed_in_as: Option<String>,
    pub errors: Errors,
    pub name: String,
}

#[derive(Template)]
#[template(path = "reset_request.html")]
pub struct ResetRequestPage {
    pub frame: AuthFrame,
    pub mail_configured: bool,
    pub sent: bool,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage {
    pub frame: AuthFrame,
    pub token: String,
    pub errors: Errors,
}

// ---------- signed-in pages ----------

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub shell: Shell,
    pub member_count: usize,
    pub more_members: bool,
    pub team_count: usize,
    pub two_factor: bool,
}

#[derive(Template)]
#[template(path = "new_workspace.html")]
pub struct NewWorkspacePage {
    pub shell: Shell,
    pub name: String,
    pub errors: Errors,
    pub has_any: bool,
}

#[derive(Template)]
#[template(path = "settings_profile.html")]
pub struct ProfilePage {
    pub shell: Shell,
    pub name: String,
    pub email: String,
    pub errors: Errors,
    pub verified: bool,
    /// SMTP is configured, so a confirmation e-mail can be sent.
    pub can_verify: bool,
}

pub struct SessionItem {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: When,
    pub last_seen: When,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "settings_security.html")]
pub struct SecurityPage {
    pub shell: Shell,
    pub two_factor: bool,
    pub recovery_left: i64,
    pub sessions: Vec<SessionItem>,
    pub errors: Errors,
    /// During enrolment: the secret to type into an authenticator app, its
    /// otpauth link, and the same link as a QR code (an SVG data URI).
    pub enrolment: Option<(String, String, String)>,
    /// Right after enabling: the recovery codes, shown once.
    pub recovery_codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "settings_workspace.html")]
pub struct WorkspacePage {
    pub shell: Shell,
    pub name: String,
    pub version: i64,
    pub errors: Errors,
}

pub struct MemberItem {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub joined: When,
    pub is_self: bool,
}

pub struct InvitationItem {
    pub id: String,
    pub email: String,
    pub role: String,
    pub expires: When,
    pub expired: bool,
}

impl MembersPage {
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

#[derive(Template)]
#[template(path = "settings_members.html")]
pub struct MembersPage {
    pub shell: Shell,
    pub members: Vec<MemberItem>,
    pub next_cursor: Option<String>,
    pub invitations: Vec<InvitationItem>,
    pub invite_email: String,
    pub invite_role: String,
    pub errors: Errors,
    /// The link of an invitation just created (shown once).
    pub new_link: Option<String>,
    /// The invitation just created was also e-mailed to this address.
    pub emailed_to: Option<String>,
    pub roles: Vec<&'static str>,
}

pub struct TeamItem {
    pub id: String,
    pub name: String,
    pub created: When,
}

#[derive(Template)]
#[template(path = "settings_teams.html")]
pub struct TeamsPage {
    pub shell: Shell,
    pub teams: Vec<TeamItem>,
    pub next_cursor: Option<String>,
    pub name: String,
    pub errors: Errors,
}

pub struct TeamMemberItem {
    pub user_id: String,
    pub name: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "settings_team.html")]
pub struct TeamPage {
    pub shell: Shell,
    pub id: String,
    pub name: String,
    pub version: i64,
    pub members: Vec<TeamMemberItem>,
    /// Workspace members not yet in the team, for the add form.
    pub candidates: Vec<TeamMemberItem>,
    pub errors: Errors,
}

pub struct TokenItem {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub created: When,
    pub last_used: Option<When>,
}

#[derive(Template)]
#[template(path = "settings_tokens.html")]
pub struct TokensPage {
    pub shell: Shell,
    pub tokens: Vec<TokenItem>,
    pub name: String,
    pub errors: Errors,
    pub new_token: Option<String>,
    pub scopes: Vec<&'static str>,
}

pub struct AuditItem {
    pub at: When,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "settings_audit.html")]
pub struct AuditPage {
    pub shell: Shell,
    pub entries: Vec<AuditItem>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::fmt_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::fmt_ms(1_764_000_000_000), "2025-11-24 16:00 UTC");
        assert_eq!(super::fmt_ms(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
