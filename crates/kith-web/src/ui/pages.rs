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
    /// A page that uses the whole width (boards, record pages).
    pub wide: bool,
    /// What the top-bar search box shows (the query on the search page).
    pub search_q: String,
    /// The signed-in user may change records (create, edit, delete).
    pub can_write: bool,
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
            wide: false,
            search_q: String::new(),
            can_write: ctx.is_some_and(|c| c.can(kith_domain::Action::WriteRecords)),
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

    /// The error of `field` as a sentence about the field called `label`:
    /// "E-mail is not an e-mail address."
    pub fn say(&self, field: &str, label: &str) -> Option<String> {
        self.fields.get(field).map(|m| sentence(label, m))
    }

    /// File errors of fields whose name starts with `prefix` (e.g. `emails[0].value`)
    /// under the name of the form field that holds them.
    pub fn rename(mut self, prefix: &str, to: &str) -> Errors {
        let keys: Vec<String> = self.fields.keys().filter(|k| k.starts_with(prefix) && *k != to).cloned().collect();
        for k in keys {
            if let Some(m) = self.fields.remove(&k) {
                self.fields.entry(to.to_string()).or_insert(m);
            }
        }
        self
    }

    /// Errors of fields the form does not show go to the general message, so
    /// nothing is silently dropped.
    pub fn only(mut self, shown: &[&str]) -> Errors {
        let hidden: Vec<String> = self.fields.keys().filter(|k| !shown.contains(&k.as_str())).cloned().collect();
        for k in hidden {
            if let Some(m) = self.fields.remove(&k) {
                let line = sentence(&k.replace('_', " "), &m);
                self.general = Some(match self.general.take() {
                    Some(g) => format!("{g} {line}"),
                    None => line,
                });
            }
        }
        self
    }

    /// Only a message above the form.
    pub fn message(text: String) -> Errors {
        Errors { general: Some(text), ..Default::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }
}

/// "E-mail" + "is not an e-mail address" → "E-mail is not an e-mail address.";
/// a message that is already a sentence of its own is only capitalised.
pub fn sentence(label: &str, message: &str) -> String {
    let m = message.trim().trim_end_matches('.');
    let about_field = ["is ", "must ", "has ", "lists ", "should ", "needs ", "was ", "cannot ", "no such"]
        .iter()
        .any(|p| m.starts_with(p));
    if about_field {
        format!("{label} {m}.")
    } else {
        let mut c = m.chars();
        match c.next() {
            Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str()),
            None => String::new(),
        }
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

/// "2026-11-25T14:03:00Z", for `<time datetime>`.
pub fn iso_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (already checked).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time as the templates show it.
pub struct When {
    pub ms: i64,
    pub text: String,
    pub iso: String,
}

impl When {
    pub fn new(ms: i64) -> When {
        When { ms, text: fmt_ms(ms), iso: iso_ms(ms) }
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
    /// Calling code for phones typed without `+country` ('' = none).
    pub phone_code: String,
}

pub struct MemberItem {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub joined: When,
    pub is_self: bool,
    /// "Own records only", for members and viewers (admins see every shared record anyway).
    pub own_only: Option<bool>,
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

// ---------- CRM ----------

/// One `<option>`.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Opt {
    pub fn new(value: impl Into<String>, label: impl Into<String>, current: &str) -> Opt {
        let value = value.into();
        Opt { selected: value == current, value, label: label.into() }
    }
}

/// Options under a heading (`<optgroup>`), e.g. the stages of each pipeline.
pub struct OptGroup {
    pub label: String,
    pub opts: Vec<Opt>,
}

/// A link to a record: where and what it is called.
pub struct Link {
    pub url: String,
    pub name: String,
}

/// The choices every record form offers for where a record sits.
pub struct Placement {
    pub visibilities: Vec<Opt>,
    pub teams: Vec<Opt>,
}

pub struct TimelineView {
    /// `note`, `task`, `activity`, `stage`.
    pub kind: &'static str,
    /// A word for the marker: "Note", "Call", "Task", "Stage".
    pub label: String,
    pub title: String,
    pub body: String,
    pub actor: String,
    pub at: When,
    pub private: bool,
    pub done: bool,
    pub due: Option<When>,
}

/// What the shared parts of a record page (timeline, quick-add forms) need.
pub struct RecordView {
    /// `/contacts/<id>`.
    pub path: String,
    pub timeline: Vec<TimelineView>,
    /// The next (older) page of the timeline.
    pub older_url: Option<String>,
    /// The first page is shown (quick-add forms sit above it).
    pub newest: bool,
}

/// The contact form as typed (or as stored, on the record page).
#[derive(Default)]
pub struct ContactForm {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub company_id: String,
    pub title: String,
    pub visibility: String,
    pub team_id: String,
    pub tags: String,
    pub version: i64,
}

#[derive(Template)]
#[template(path = "contact_new.html")]
pub struct ContactNewPage {
    pub shell: Shell,
    pub form: ContactForm,
    pub errors: Errors,
    pub companies: Vec<Opt>,
    pub place: Placement,
}

pub struct DealMini {
    pub id: String,
    pub title: String,
    pub value: String,
    pub stage: String,
    pub status: String,
}

pub struct ContactMini {
    pub id: String,
    pub name: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "contact.html")]
pub struct ContactPage {
    pub shell: Shell,
    pub id: String,
    pub name: String,
    pub initials: String,
    pub subtitle: String,
    pub company: Option<Link>,
    pub emails: Vec<String>,
    pub phones: Vec<(String, String)>,
    pub tags: Vec<Link>,
    pub owner: String,
    pub visibility: String,
    pub created: When,
    pub updated: When,
    pub form: ContactForm,
    pub errors: Errors,
    pub companies: Vec<Opt>,
    pub place: Placement,
    pub rec: RecordView,
    pub deals: Vec<DealMini>,
    /// Contacts that look like the same person, with why.
    pub duplicates: Vec<ContactMini>,
    pub version: i64,
    /// Contacts sharing company, e-mail domain or a deal.
    pub related_contacts: Vec<ContactMini>,
    /// The workspace's summaries feature is on (the Summarise button shows).
    pub can_summarise: bool,
    /// A summary asked for with the Summarise button.
    pub summary: Option<SummaryCard>,
    /// Speech is on and a speech model is set (the Listen button shows).
    pub can_listen: bool,
    /// The spoken summary: the stored file's id and when the retention deletes it; or why there is none.
    pub audio: Option<(String, When)>,
    pub speech_error: Option<String>,
}

/// A contact's summary as the page shows it, labelled by how it was made.
pub struct SummaryCard {
    /// "AI summary" or "Extractive summary (no AI endpoint)".
    pub label: String,
    pub text: String,
    /// Why there is no summary (limit reached, the endpoint failed).
    pub error: Option<String>,
}

#[derive(Default)]
pub struct CompanyForm {
    pub name: String,
    pub domain: String,
    pub industry: String,
    pub size: String,
    pub visibility: String,
    pub team_id: String,
    pub tags: String,
    pub version: i64,
}

#[derive(Template)]
#[template(path = "company_new.html")]
pub struct CompanyNewPage {
    pub shell: Shell,
    pub form: CompanyForm,
    pub errors: Errors,
    pub place: Placement,
}

#[derive(Template)]
#[template(path = "company.html")]
pub struct CompanyPage {
    pub shell: Shell,
    pub id: String,
    pub name: String,
    pub initials: String,
    pub domain: String,
    pub tags: Vec<Link>,
    pub owner: String,
    pub visibility: String,
    pub created: When,
    pub updated: When,
    pub form: CompanyForm,
    pub errors: Errors,
    pub place: Placement,
    pub rec: RecordView,
    pub contacts: Vec<ContactMini>,
    pub more_contacts: bool,
    pub deals: Vec<DealMini>,
}

#[derive(Default)]
pub struct DealForm {
    pub title: String,
    pub value: String,
    pub currency: String,
    pub stage_id: String,
    pub expected_close: String,
    pub company_id: String,
    pub contact_ids: Vec<String>,
    pub status: String,
    pub lost_reason: String,
    pub visibility: String,
    pub team_id: String,
    pub tags: String,
    pub version: i64,
}

#[derive(Template)]
#[template(path = "deal_new.html")]
pub struct DealNewPage {
    pub shell: Shell,
    pub form: DealForm,
    pub errors: Errors,
    pub stages: Vec<OptGroup>,
    pub companies: Vec<Opt>,
    pub contacts: Vec<Opt>,
    pub place: Placement,
}

#[derive(Template)]
#[template(path = "deal.html")]
pub struct DealPage {
    pub shell: Shell,
    pub id: String,
    pub title: String,
    pub value: String,
    pub status: String,
    pub pipeline: Link,
    pub stage: String,
    pub stage_opts: Vec<Opt>,
    pub version: i64,
    pub company: Option<Link>,
    pub contacts: Vec<ContactMini>,
    /// People who could be linked ("Choose a person…" first).
    pub contact_opts: Vec<Opt>,
    pub tags: Vec<Link>,
    pub owner: String,
    pub visibility: String,
    pub created: When,
    pub updated: When,
    pub closed: Option<When>,
    pub form: DealForm,
    pub errors: Errors,
    pub statuses: Vec<Opt>,
    pub companies: Vec<Opt>,
    pub place: Placement,
    pub rec: RecordView,
}

pub struct TotalView {
    pub currency: String,
    pub minor: i64,
    pub text: String,
}

pub struct CardView {
    pub id: String,
    pub title: String,
    pub value: String,
    pub value_minor: i64,
    pub currency: String,
    pub owner: String,
    pub owner_initials: String,
    pub stage_id: String,
    pub version: i64,
    pub close: String,
}

pub struct ColumnView {
    pub id: String,
    pub name: String,
    pub probability: i64,
    pub count: i64,
    pub totals: Vec<TotalView>,
    pub cards: Vec<CardView>,
}

impl ColumnView {
    /// More deals than cards: the column shows the most recent ones.
    pub fn more(&self) -> bool {
        self.count > self.cards.len() as i64
    }
}

#[derive(Template)]
#[template(path = "deals_board.html")]
pub struct BoardPage {
    pub shell: Shell,
    pub pipelines: Vec<Opt>,
    pub pipeline_id: String,
    pub pipeline_name: String,
    pub columns: Vec<ColumnView>,
    /// Where a move from this page returns to.
    pub here: String,
    pub empty: bool,
}

pub struct TaskItem {
    pub id: String,
    pub title: String,
    pub done: bool,
    pub version: i64,
    pub due: Option<When>,
    pub overdue: bool,
    pub record: Option<Link>,
}

#[derive(Template)]
#[template(path = "tasks.html")]
pub struct TasksPage {
    pub shell: Shell,
    pub view: &'static str,
    pub tasks: Vec<TaskItem>,
    pub next_url: Option<String>,
    pub form: super::crm::TaskForm,
    pub errors: Errors,
    pub here: String,
}

pub struct SearchGroup {
    pub label: &'static str,
    pub hits: Vec<SearchLine>,
}

pub struct SearchLine {
    pub title: String,
    pub url: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub shell: Shell,
    pub q: String,
    pub groups: Vec<SearchGroup>,
    pub total: usize,
}

pub struct StageItem {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub probability: String,
}

pub struct PipelineItem {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub stages: Vec<StageItem>,
    /// This pipeline's form failed: its message and what was typed are shown.
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings_pipelines.html")]
pub struct PipelinesPage {
    pub shell: Shell,
    pub can_manage: bool,
    pub pipelines: Vec<PipelineItem>,
    pub name: String,
    pub errors: Errors,
}

impl BoardPage {
    pub fn table_url(&self) -> String {
        format!("/deals?pipeline={}", self.pipeline_id)
    }

    pub fn board_link(&self) -> &str {
        &self.here
    }

    pub fn is_board(&self) -> bool {
        true
    }
}

impl ContactPage {
    pub fn record_name(&self) -> &str {
        &self.name
    }

    pub fn delete_note(&self) -> &'static str {
        "Its notes and logged activities are deleted for everyone; its tasks stay in the task lists. This cannot be undone."
    }
}

impl CompanyPage {
    pub fn record_name(&self) -> &str {
        &self.name
    }

    pub fn delete_note(&self) -> &'static str {
        "Its notes and logged activities are deleted for everyone; its people and deals stay. This cannot be undone."
    }
}

impl DealPage {
    pub fn record_name(&self) -> &str {
        &self.title
    }

    pub fn delete_note(&self) -> &'static str {
        "Its stage history, notes and logged activities are deleted for everyone. This cannot be undone."
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub shell: Shell,
    pub heading: String,
    pub message: String,
    pub action: String,
    pub button: String,
    pub cancel: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_and_days() {
        assert_eq!(super::iso_ms(1_764_000_000_000), "2025-11-24T16:00:00Z");
        assert_eq!(super::days_from_civil(2000, 2, 29), 951_782_400_000 / 86_400_000);
        assert_eq!(super::days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn sentences() {
        assert_eq!(super::sentence("E-mail", "is not an e-mail address"), "E-mail is not an e-mail address.");
        assert_eq!(super::sentence("Phone", "a phone number has 8 digits"), "A phone number has 8 digits.");
    }

    #[test]
    fn formats_utc() {
        assert_eq!(super::fmt_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::fmt_ms(1_764_000_000_000), "2025-11-24 16:00 UTC");
        assert_eq!(super::fmt_ms(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
