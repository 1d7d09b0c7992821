//! What the CRM pages share: money, phone and time formatting, the people
//! and placement choices of record forms, the record timeline, and the
//! quick-add forms (note, task, activity) of every record page.

use super::pages::{days_from_civil, sentence, Errors, Link, Opt, Placement, RecordView, Shell, TimelineView, When};
use super::{redirect_with, simple_page, Flash, UiCtx};
use crate::state::WebState;
use axum::extract::{MatchedPath, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use kith_app::crm::{activities, notes, tasks, timeline};
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use kith_domain::page::{Cursor, PageRequest};
use kith_domain::visibility::Visibility;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

// ---------- formatting ----------

/// Minor units with two decimals and the currency code: `EUR 12,500.00`.
pub fn fmt_money(minor: i64, currency: &str) -> String {
    let neg = minor < 0;
    let abs = minor.unsigned_abs();
    let major = (abs / 100).to_string();
    let mut grouped = String::with_capacity(major.len() + major.len() / 3);
    for (i, ch) in major.chars().enumerate() {
        if i > 0 && (major.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{currency} {}{grouped}.{:02}", if neg { "-" } else { "" }, abs % 100)
}

/// A decimal amount as typed (`990`, `990.5`, `1,234.56`, `1 234,56` is not
/// accepted) into minor units.
pub fn parse_money(raw: &str) -> Result<i64, &'static str> {
    const BAD: &str = "must be an amount such as 1250 or 1250.50";
    let t: String = raw.trim().chars().filter(|c| *c != ',' && *c != '_' && *c != ' ').collect();
    if t.is_empty() {
        return Ok(0);
    }
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(BAD);
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(BAD);
    }
    if frac.len() > 2 {
        return Err("must have at most two decimals");
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| "is too large")? };
    let cents: i64 = format!("{frac:0<2}").parse().map_err(|_| BAD)?;
    whole.checked_mul(100).and_then(|w| w.checked_add(cents)).ok_or("is too large")
}

/// Minor units back into what the value field shows: `990.00`.
pub fn minor_to_input(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor.rem_euclid(100))
}

/// Country calling codes of one and two digits; anything else is read as three.
const CC_1: [&str; 2] = ["1", "7"];
const CC_2: [&str; 45] = [
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49", "51",
    "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90",
    "91", "92", "93", "94", "95", "98", "99",
];

/// E.164 grouped for reading: `+1 415 555 0100`, `+44 20 7946 0958`, `+49 30 1234 5678`.
/// Anything that is not E.164 is shown as stored.
pub fn fmt_phone(value: &str) -> String {
    let Some(digits) = value.strip_prefix('+') else { return value.to_string() };
    if digits.len() < 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return value.to_string();
    }
    let cc_len = if CC_1.contains(&&digits[..1]) {
        1
    } else if CC_2.contains(&&digits[..2]) {
        2
    } else {
        3
    };
    let (cc, rest) = digits.split_at(cc_len);
    let groups: Vec<&str> = if cc == "1" && rest.len() == 10 {
        vec![&rest[..3], &rest[3..6], &rest[6..]]
    } else {
        // A first (area) group of two, then groups of three to four, as even as they come.
        let (first, tail) = rest.split_at(2.min(rest.len()));
        let mut out = vec![first];
        let k = tail.len().div_ceil(4);
        let mut at = 0;
        for i in 0..k {
            let size = (tail.len() - at) / (k - i);
            out.push(&tail[at..at + size]);
            at += size;
        }
        out
    };
    format!("+{cc} {}", groups.join(" "))
}

/// "Ada Lovelace" → "AL".
pub fn initials(name: &str) -> String {
    let s: String = name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect();
    if s.is_empty() {
        "?".into()
    } else {
        s.to_uppercase()
    }
}

/// Names and e-mails, tags or phones typed into one box, comma-separated.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split([',', '\n', ';']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

// ---------- times typed in the viewer's zone ----------

/// The viewer's offset from UTC in minutes as JavaScript reports it
/// (`getTimezoneOffset`: UTC minus local), from the cookie the script sets;
/// 0 (UTC) without JavaScript.
pub fn tz_offset(headers: &HeaderMap) -> i64 {
    super::cookies::Jar::from_headers(headers)
        .get("kith_tzo")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|m| (-16 * 60..=16 * 60).contains(m))
        .unwrap_or(0)
}

/// The end of the viewer's day, in Unix ms.
pub fn day_end(headers: &HeaderMap) -> i64 {
    let off = tz_offset(headers) * 60_000;
    let local = kith_domain::time::now_ms() - off;
    local - local.rem_euclid(86_400_000) + 86_400_000 + off
}

/// `YYYY-MM-DD` and `HH:MM` in the viewer's zone → Unix ms. No time: 17:00.
pub fn local_ms(date: &str, time: &str, offset_min: i64) -> Result<Option<i64>, &'static str> {
    let date = date.trim();
    let time = time.trim();
    if date.is_empty() {
        return if time.is_empty() { Ok(None) } else { Err("needs a date as well as a time") };
    }
    kith_domain::crm::check_date(date).map_err(|_| "must be a date YYYY-MM-DD")?;
    let y: i64 = date[..4].parse().map_err(|_| "must be a date")?;
    let m: u32 = date[5..7].parse().map_err(|_| "must be a date")?;
    let d: u32 = date[8..10].parse().map_err(|_| "must be a date")?;
    let (h, min) = if time.is_empty() {
        (17, 0)
    } else {
        let (h, mi) = time.split_once(':').ok_or("must be a time HH:MM")?;
        let h: i64 = h.parse().map_err(|_| "must be a time HH:MM")?;
        let mi: i64 = mi.get(..2).unwrap_or(mi).parse().map_err(|_| "must be a time HH:MM")?;
        if !(0..24).contains(&h) || !(0..60).contains(&mi) {
            return Err("must be a time HH:MM");
        }
        (h, mi)
    };
    let local = days_from_civil(y, m, d) * 86_400_000 + (h * 60 + min) * 60_000;
    Ok(Some(local + offset_min * 60_000))
}

// ---------- people, teams and placement ----------

/// Workspace members by id, for owner and author names.
pub struct People(HashMap<Uuid, String>);

impl People {
    pub async fn load(state: &WebState, ctx: &Context) -> People {
        let all = PageRequest::new(Some(200), None);
        let list = kith_app::members::list(&state.app, ctx, &all).await.map(|p| p.items).unwrap_or_default();
        People(list.into_iter().map(|m| (m.user_id, m.name)).collect())
    }

    /// The members as the options of a select, by name.
    pub fn opts(&self, current: &str) -> Vec<Opt> {
        let mut list: Vec<Opt> = self.0.iter().map(|(id, n)| Opt::new(id.to_string(), n.clone(), current)).collect();
        list.sort_by_key(|o| o.label.to_lowercase());
        list
    }

    pub fn name(&self, id: Option<Uuid>) -> String {
        match id {
            Some(id) => self.0.get(&id).cloned().unwrap_or_else(|| "Former member".into()),
            None => String::new(),
        }
    }
}

pub const VISIBILITIES: [(&str, &str); 4] = [
    ("everyone", "Everyone in the workspace"),
    ("team", "A team"),
    ("owner", "Owner and admins"),
    ("personal", "Only me"),
];

pub fn visibility_label(v: Visibility) -> &'static str {
    VISIBILITIES.iter().find(|(k, _)| *k == v.as_str()).map(|(_, l)| *l).unwrap_or("")
}

/// The visibility and team choices of a record form.
pub async fn placement(state: &WebState, ctx: &Context, visibility: &str, team_id: &str) -> Placement {
    let teams = kith_app::teams::list(&state.app, ctx, &PageRequest::new(Some(200), None))
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let mut team_opts = vec![Opt::new("", "No team", team_id)];
    team_opts.extend(teams.into_iter().map(|t| Opt::new(t.id.to_string(), t.name, team_id)));
    Placement {
        visibilities: VISIBILITIES.iter().map(|(v, l)| Opt::new(*v, *l, visibility)).collect(),
        teams: team_opts,
    }
}

/// Visibility and team as the form sent them.
pub type PlacementParts = (Option<Visibility>, Option<Option<Uuid>>);

pub fn parse_placement(visibility: &str, team_id: &str) -> Result<PlacementParts, AppError> {
    let vis = match visibility.trim() {
        "" => None,
        v => Some(Visibility::parse(v).ok_or_else(|| AppError::field("visibility", "is not a choice"))?),
    };
    let team = match team_id.trim() {
        "" => None,
        t => Some(Uuid::try_parse(t).map_err(|_| AppError::field("team_id", "is not a team"))?),
    };
    // A record for a team keeps its team; any other visibility drops it.
    let team = match vis {
        Some(Visibility::Team) => Some(team),
        Some(_) => Some(None),
        None => team.map(Some),
    };
    Ok((vis, team))
}

pub fn parse_opt_id(field: &str, raw: &str) -> Result<Option<Uuid>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        v => Uuid::try_parse(v).map(Some).map_err(|_| AppError::field(field, "is not one of the choices")),
    }
}

/// Companies for a select (the most recently changed 200).
pub async fn company_opts(state: &WebState, ctx: &Context, current: &str) -> Vec<Opt> {
    let list = kith_app::crm::companies::list(
        &state.app,
        ctx,
        &Default::default(),
        Default::default(),
        &PageRequest::new(Some(200), None),
    )
    .await
    .map(|p| p.items)
    .unwrap_or_default();
    let mut opts = vec![Opt::new("", "No company", current)];
    let mut named: Vec<Opt> = list.into_iter().map(|c| Opt::new(c.id.to_string(), c.name, current)).collect();
    named.sort_by_key(|o| o.label.to_lowercase());
    opts.extend(named);
    opts
}

// ---------- errors and redirects ----------

pub fn not_found_page() -> Response {
    simple_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "This record does not exist, or it is not shared with you. Check the link, or search for it.",
    )
}

/// An error while loading a record page: not found (also for records of other
/// workspaces and ones the viewer may not see) or the generic page.
pub fn load_error(e: AppError) -> Response {
    match e {
        AppError::NotFound => not_found_page(),
        other => super::error_page(&other.into()),
    }
}

pub fn parse_id(raw: &str) -> Option<Uuid> {
    Uuid::try_parse(raw).ok()
}

/// Field names as people read them, for messages outside their form.
fn label_of(field: &str) -> String {
    let base = field.split(['[', '.']).next().unwrap_or(field);
    match base {
        "body" => "The text".into(),
        "title" => "Title".into(),
        "subject" => "Subject".into(),
        "record_id" | "record_type" => "The record".into(),
        "due_at_ms" => "Due".into(),
        "duration_s" => "Duration".into(),
        "stage_id" => "Stage".into(),
        "stages" => "Stages".into(),
        other => {
            let t = other.replace('_', " ");
            let mut c = t.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    }
}

/// One line saying what went wrong, for a flash message.
pub fn message_of(e: AppError) -> String {
    match e {
        AppError::Validation(list) => {
            list.iter().map(|f| sentence(&label_of(&f.field), &f.message)).collect::<Vec<_>>().join(" ")
        }
        AppError::StaleVersion => {
            "Someone else changed this while you were editing. Nothing was saved; here is the current version.".into()
        }
        other => sentence("", &crate::error::ApiError::from(other).message),
    }
}

pub fn done(state: &WebState, to: &str, result: Result<(), AppError>, ok: &str) -> Response {
    let flash = match result {
        Ok(()) => Flash::success(ok),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with(to, flash, state.config.secure_cookies)
}

/// A path on this site to return to (never another origin).
pub fn local_path(raw: Option<&str>) -> Option<String> {
    let p = raw?.trim();
    (p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() < 2000).then(|| p.to_string())
}

/// The client asked for JSON (a script's fetch), not a page.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"))
}

pub fn with_wide(mut shell: Shell) -> Shell {
    shell.wide = true;
    shell
}

/// `?a=1&b=2` from pairs, skipping empty values.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs.iter().copied().filter(|(_, v)| !v.is_empty()).collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
    }
}

// ---------- timeline ----------

pub fn record_url(t: RecordType, id: Uuid) -> String {
    match t {
        RecordType::Contact => format!("/contacts/{id}"),
        RecordType::Company => format!("/companies/{id}"),
        RecordType::Deal => format!("/deals/{id}"),
    }
}

/// A page of a record's timeline, ready for the template.
pub async fn record_view(
    state: &WebState,
    ctx: &Context,
    people: &People,
    rt: RecordType,
    id: Uuid,
    cursor: Option<&str>,
) -> RecordView {
    let path = record_url(rt, id);
    let after = cursor.and_then(Cursor::decode);
    let page = timeline::page(&state.app, ctx, rt, id, &PageRequest::new(Some(30), after)).await;
    let (items, next) = match page {
        Ok(p) => (p.items, p.next),
        Err(e) => {
            tracing::warn!(error = %e, "timeline failed");
            (vec![], None)
        }
    };
    let timeline = items
        .into_iter()
        .filter_map(|item| {
            let actor = people.name(item.actor_id);
            let base = |kind, label: &str| TimelineView {
                kind,
                label: label.to_string(),
                title: String::new(),
                body: String::new(),
                actor: actor.clone(),
                at: When::new(item.at_ms),
                private: false,
                done: false,
                due: None,
            };
            if let Some(n) = item.note {
                return Some(TimelineView { body: n.body, private: n.is_private, ..base("note", "Note") });
            }
            if let Some(t) = item.task {
                return Some(TimelineView {
                    title: t.title,
                    done: t.done,
                    due: t.due_at_ms.map(When::new),
                    ..base("task", "Task")
                });
            }
            if let Some(a) = item.activity {
                let label = match a.kind {
                    activities::ActivityKind::Call => "Call",
                    activities::ActivityKind::Meeting => "Meeting",
                    activities::ActivityKind::Email => "E-mail",
                };
                let mut title = a.subject;
                if let Some(d) = a.duration_s.filter(|d| *d > 0) {
                    title.push_str(&format!(" · {} min", (d + 59) / 60));
                }
                return Some(TimelineView { title, body: a.body.unwrap_or_default(), ..base("activity", label) });
            }
            if let Some(s) = item.stage_change {
                let to = s.to_stage.unwrap_or_else(|| "a stage since removed".into());
                let title = match s.from_stage_id {
                    None => format!("Created in {to}"),
                    Some(_) => {
                        format!("Moved from {} to {to}", s.from_stage.unwrap_or_else(|| "a stage since removed".into()))
                    }
                };
                return Some(TimelineView { title, ..base("stage", "Stage") });
            }
            None
        })
        .collect();
    RecordView {
        older_url: next.map(|c| format!("{path}?older={}#timeline", c.encode())),
        newest: after.is_none(),
        path,
        timeline,
    }
}

/// Which record a quick-add form is about, from the route that took it.
fn record_of(matched: &MatchedPath, id: &str) -> Option<(RecordType, Uuid)> {
    let id = parse_id(id)?;
    let t = match matched.as_str().split('/').nth(1)? {
        "contacts" => RecordType::Contact,
        "companies" => RecordType::Company,
        "deals" => RecordType::Deal,
        _ => return None,
    };
    Some((t, id))
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    private: Option<String>,
}

pub async fn add_note(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    matched: MatchedPath,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some((rt, id)) = record_of(&matched, &id) else { return not_found_page() };
    let input = notes::NoteInput {
        record_type: Some(rt),
        record_id: Some(id),
        body: Some(f.body),
        is_private: Some(f.private.is_some()),
    };
    let result = notes::create(&state.app, &ctx, &input).await.map(|_| ());
    let ok = if f.private.is_some() { "Private note added; only you can see it." } else { "Note added." };
    done(&state, &format!("{}#timeline", record_url(rt, id)), result, ok)
}

#[derive(Deserialize, Default)]
pub struct TaskForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub due_date: String,
    #[serde(default)]
    pub due_time: String,
}

impl TaskForm {
    /// The task input of this form, about `record` if given.
    pub fn input(&self, headers: &HeaderMap, record: Option<(RecordType, Uuid)>) -> Result<tasks::TaskInput, AppError> {
        let due =
            local_ms(&self.due_date, &self.due_time, tz_offset(headers)).map_err(|m| AppError::field("due_date", m))?;
        Ok(tasks::TaskInput {
            title: Some(self.title.clone()),
            due_at_ms: Some(due),
            record_type: record.map(|r| r.0),
            record_id: record.map(|r| r.1),
            ..Default::default()
        })
    }
}

pub async fn add_task(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    matched: MatchedPath,
    Path(id): Path<String>,
    Form(f): Form<TaskForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some((rt, id)) = record_of(&matched, &id) else { return not_found_page() };
    let result = match f.input(&headers, Some((rt, id))) {
        Ok(input) => tasks::create(&state.app, &ctx, &input).await.map(|_| ()),
        Err(e) => Err(e),
    };
    done(&state, &format!("{}#timeline", record_url(rt, id)), result, "Task added. It is in your task list too.")
}

#[derive(Deserialize)]
pub struct ActivityForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    minutes: String,
}

pub async fn add_activity(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    matched: MatchedPath,
    Path(id): Path<String>,
    Form(f): Form<ActivityForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some((rt, id)) = record_of(&matched, &id) else { return not_found_page() };
    let to = format!("{}#timeline", record_url(rt, id));
    let kind = match f.kind.as_str() {
        "call" => activities::ActivityKind::Call,
        "meeting" => activities::ActivityKind::Meeting,
        "email" => activities::ActivityKind::Email,
        _ => return done(&state, &to, Err(AppError::field("kind", "must be a call, a meeting or an e-mail")), ""),
    };
    let occurred = match local_ms(&f.date, &f.time, tz_offset(&headers)) {
        Ok(v) => v,
        Err(m) => return done(&state, &to, Err(AppError::field("date", m)), ""),
    };
    let duration = match f.minutes.trim() {
        "" => None,
        m => match m.parse::<i64>() {
            Ok(n) if (0..=10_080).contains(&n) => Some(n * 60),
            _ => return done(&state, &to, Err(AppError::field("minutes", "must be a number of minutes")), ""),
        },
    };
    let input = activities::ActivityInput {
        kind: Some(kind),
        subject: Some(f.subject),
        body: Some(f.body),
        occurred_at_ms: occurred,
        duration_s: duration,
        record_type: Some(rt),
        record_id: Some(id),
    };
    let result = activities::create(&state.app, &ctx, &input).await.map(|_| ());
    done(&state, &to, result, "Activity logged.")
}

/// Tags of a record as a form shows them.
pub fn tags_text(tags: &[String]) -> String {
    tags.join(", ")
}

/// A link to the company of a record, when the viewer may see it.
pub async fn company_link(state: &WebState, ctx: &Context, id: Option<Uuid>) -> Option<Link> {
    let c = kith_app::crm::companies::get(&state.app, ctx, id?).await.ok()?;
    Some(Link { url: format!("/companies/{}", c.id), name: c.name })
}

/// Validation errors of a record form keep the page; others become the general message.
pub fn form_errors(e: AppError, shown: &[&str]) -> Errors {
    match e {
        AppError::StaleVersion => Errors::message(message_of(AppError::StaleVersion)),
        other => Errors::from_app(other).rename("emails", "email").rename("phones", "phone").only(shown),
    }
}

/// Stage names by id (and the pipeline of each), for deal lists.
pub struct Stages(HashMap<Uuid, (String, Uuid)>);

impl Stages {
    pub async fn load(state: &WebState, ctx: &Context) -> Stages {
        let list = kith_app::crm::pipelines::list(&state.app, ctx).await.unwrap_or_default();
        Stages(list.into_iter().flat_map(|p| p.stages.into_iter().map(move |s| (s.id, (s.name, p.id)))).collect())
    }

    pub fn name(&self, id: Uuid) -> String {
        self.0.get(&id).map(|(n, _)| n.clone()).unwrap_or_default()
    }
}

pub fn deal_mini(d: &kith_app::crm::deals::Deal, stages: &Stages) -> super::pages::DealMini {
    super::pages::DealMini {
        id: d.id.to_string(),
        title: d.title.clone(),
        value: fmt_money(d.value_minor, &d.currency),
        stage: stages.name(d.stage_id),
        status: d.status.as_str().to_string(),
    }
}

/// Render a page with a status other than 200 (a form with errors: 422).
pub fn render_status<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    use axum::response::IntoResponse;
    (status, super::render(page)).into_response()
}

/// Tags as links to the list filtered by each.
pub fn tag_links(list: &str, tags: &[String]) -> Vec<Link> {
    tags.iter().map(|t| Link { url: format!("{list}{}", query_string(&[("tag", t)])), name: t.clone() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money() {
        assert_eq!(fmt_money(99_000, "EUR"), "EUR 990.00");
        assert_eq!(fmt_money(1_250_050, "USD"), "USD 12,500.50");
        assert_eq!(fmt_money(5, "USD"), "USD 0.05");
        assert_eq!(fmt_money(100_000_000, "GBP"), "GBP 1,000,000.00");
        assert_eq!(parse_money("990"), Ok(99_000));
        assert_eq!(parse_money("990.5"), Ok(99_050));
        assert_eq!(parse_money("1,234.56"), Ok(123_456));
        assert_eq!(parse_money(".5"), Ok(50));
        assert_eq!(parse_money(""), Ok(0));
        assert!(parse_money("12.345").is_err());
        assert!(parse_money("ten").is_err());
        assert!(parse_money("-5").is_err());
        assert_eq!(minor_to_input(99_050), "990.50");
    }

    #[test]
    fn phones() {
        assert_eq!(fmt_phone("+14155550100"), "+1 415 555 0100");
        assert_eq!(fmt_phone("+442079460958"), "+44 20 7946 0958");
        assert_eq!(fmt_phone("+493012345678"), "+49 30 1234 5678");
        assert_eq!(fmt_phone("+33612345678"), "+33 61 234 5678");
        assert_eq!(fmt_phone("+35312345678"), "+353 12 345 678");
        assert_eq!(fmt_phone("call me"), "call me");
    }

    #[test]
    fn local_times() {
        // 2025-11-24 16:00 UTC; in UTC+1 (offset -60) the same wall time is 15:00 UTC.
        assert_eq!(local_ms("2025-11-24", "16:00", 0), Ok(Some(1_764_000_000_000)));
        assert_eq!(local_ms("2025-11-24", "16:00", -60), Ok(Some(1_764_000_000_000 - 3_600_000)));
        assert_eq!(local_ms("", "", 0), Ok(None));
        assert!(local_ms("", "10:00", 0).is_err());
        assert!(local_ms("2025-13-01", "", 0).is_err());
        assert!(local_ms("2025-11-24", "25:00", 0).is_err());
    }

    #[test]
    fn places() {
        assert_eq!(local_path(Some("/deals/board?pipeline=x")).as_deref(), Some("/deals/board?pipeline=x"));
        assert_eq!(local_path(Some("//evil.example")), None);
        assert_eq!(local_path(Some("https://evil.example")), None);
        assert_eq!(query_string(&[("a", "1"), ("b", "")]), "?a=1");
    }
}
