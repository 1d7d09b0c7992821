//! Settings → AI (admins): the feature switches, the endpoint (its API key write-only: set, replace or remove),
//! prices and monthly limits, the handoff message, automatic-reply streak and business hours, and a "Test
//! connection" button; Settings → AI usage: a month's figures against the limits with a daily bar chart drawn
//! server-side as SVG (estimated days marked). Plain forms that work without JavaScript.
//!
//! The page never echoes the API key, not even after a failed submit.

use super::crm::message_of;
use super::pages::{Errors, Shell};
use super::{redirect_with, render, simple_page, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use kith_app::ai::llm;
use kith_app::ai::metering::{self, UsageView};
use kith_app::ai::settings::{self, AiSettingsInput, AiSettingsView, EndpointInput, Features, LimitSet};
use kith_app::{AppError, Context};
use kith_domain::business_hours::{BusinessHours, OpeningSpan, WEEKDAYS};
use serde::Deserialize;
use std::collections::HashMap;

const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn is_admin(ctx: &Context) -> bool {
    ctx.effective_role() >= kith_domain::Role::Admin
}

fn forbidden() -> Response {
    simple_page(StatusCode::FORBIDDEN, "Not allowed", "Only admins of this workspace see and change the AI settings.")
}

/// Micro-units as a decimal amount: 150000 → "0.15".
pub fn micros_text(m: i64) -> String {
    let sign = if m < 0 { "-" } else { "" };
    let m = m.unsigned_abs();
    let (whole, frac) = (m / 1_000_000, m % 1_000_000);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{}", format!("{frac:06}").trim_end_matches('0'))
    }
}

/// A decimal amount (up to six decimals) as micro-units; empty is None.
fn parse_micros(s: &str) -> Result<Option<i64>, &'static str> {
    let s = s.trim().replace(',', ".");
    if s.is_empty() {
        return Ok(None);
    }
    const MSG: &str = "must be an amount like 0.15 (up to six decimals)";
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(MSG);
    }
    if frac.len() > 6 || !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(if s.starts_with('-') { "must be zero or more" } else { MSG });
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| MSG)? };
    let frac: i64 = format!("{frac:0<6}").parse().map_err(|_| MSG)?;
    whole.checked_mul(1_000_000).and_then(|w| w.checked_add(frac)).map(Some).ok_or(MSG)
}

fn parse_count(s: &str) -> Result<Option<i64>, &'static str> {
    let s = s.trim().replace([',', '_', ' '], "");
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        Ok(_) => Err("must be zero or more"),
        Err(_) => Err("must be a whole number"),
    }
}

pub struct Switch {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub on: bool,
}

fn switches(f: &Features) -> Vec<Switch> {
    let s = |name, label, help, on| Switch { name, label, help, on };
    vec![
        s("auto_reply", "Automatic replies", "Answer customers on channels set to “Answer automatically”, from the knowledge base, and hand off to a person when unsure.", f.auto_reply),
        s("suggestions", "Reply suggestions", "Draft replies for agents in the inbox (channels set to “Suggest replies”, or on request).", f.suggestions),
        s("summaries", "Summaries", "Summarise a contact's timeline or a document when someone asks.", f.summaries),
        s("drafting", "Drafting", "Draft a document from a template and instructions.", f.drafting),
        s("questions", "Questions over your data", "Answer questions about the CRM's records, within what the asker may see.", f.questions),
        s("speech", "Text to speech", "Read a document or summary aloud (needs a speech model).", f.speech),
    ]
}

/// One limit row: the form values of soft and hard.
pub struct LimitRow {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub soft: String,
    pub hard: String,
    pub soft_error: Option<String>,
    pub hard_error: Option<String>,
}

/// One weekday of business hours: two optional spans.
pub struct DayRow {
    pub key: &'static str,
    pub name: &'static str,
    pub spans: [(String, String); 2],
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings_ai.html")]
pub struct AiPage {
    pub shell: Shell,
    pub general_error: Option<String>,
    pub notice: Option<String>,
    pub notice_hard: bool,
    pub version: i64,
    pub switches: Vec<Switch>,
    pub base_url: String,
    pub chat_model: String,
    pub embedding_model: String,
    pub speech_model: String,
    pub speech_voice: String,
    pub key_set: bool,
    pub prompt_price: String,
    pub completion_price: String,
    pub limits: Vec<LimitRow>,
    pub handoff_message: String,
    pub max_auto_replies: String,
    pub hours_on: bool,
    pub time_zone: String,
    pub days: Vec<DayRow>,
    pub store_prompts: bool,
    pub errors: Errors,
}

fn f(form: &HashMap<String, String>, k: &str) -> String {
    form.get(k).map(|v| v.trim().to_string()).unwrap_or_default()
}

fn on(form: &HashMap<String, String>, k: &str) -> bool {
    matches!(form.get(k).map(String::as_str), Some("on" | "1" | "true"))
}

/// The page's values from stored settings.
fn values_of(s: &AiSettingsView) -> HashMap<String, String> {
    let mut v = HashMap::new();
    let mut put = |k: &str, val: String| {
        v.insert(k.to_string(), val);
    };
    for sw in switches(&s.features) {
        if sw.on {
            put(&format!("feature_{}", sw.name), "on".into());
        }
    }
    if let Some(e) = &s.endpoint {
        put("base_url", e.base_url.clone());
        put("chat_model", e.chat_model.clone());
        put("embedding_model", e.embedding_model.clone().unwrap_or_default());
        put("speech_model", e.speech_model.clone().unwrap_or_default());
        put("speech_voice", e.speech_voice.clone().unwrap_or_default());
    }
    put("prompt_price", micros_text(s.prices.prompt_micros_per_million));
    put("completion_price", micros_text(s.prices.completion_micros_per_million));
    for (kind, set) in [("soft", s.limits.soft), ("hard", s.limits.hard)] {
        put(&format!("{kind}_messages"), set.messages.map(|n| n.to_string()).unwrap_or_default());
        put(&format!("{kind}_tokens"), set.tokens.map(|n| n.to_string()).unwrap_or_default());
        put(&format!("{kind}_cost"), set.cost_micros.map(micros_text).unwrap_or_default());
    }
    put("handoff_message", s.handoff_message.clone());
    put("max_auto_replies", s.max_auto_replies.to_string());
    if let Some(h) = &s.business_hours {
        put("hours_on", "on".into());
        put("time_zone", h.time_zone.clone());
        let mut used: HashMap<&str, usize> = HashMap::new();
        for span in &h.spans {
            let slot = used.entry(span.day.as_str()).or_default();
            if *slot < 2 {
                put(&format!("bh_{}_{}_open", span.day, slot), span.open.clone());
                put(&format!("bh_{}_{}_close", span.day, slot), span.close.clone());
            }
            *slot += 1;
        }
    }
    if s.store_prompts {
        put("store_prompts", "on".into());
    }
    v
}

async fn view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    values: Option<HashMap<String, String>>,
    errors: Errors,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let stored = match settings::get(&state.app, ctx).await {
        Ok(s) => s,
        Err(e) => return super::error_page(&e.into()),
    };
    let usage = metering::usage(&state.app, ctx, None).await.ok();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let v = values.unwrap_or_else(|| values_of(&stored));
    let features = Features {
        auto_reply: on(&v, "feature_auto_reply"),
        suggestions: on(&v, "feature_suggestions"),
        summaries: on(&v, "feature_summaries"),
        drafting: on(&v, "feature_drafting"),
        questions: on(&v, "feature_questions"),
        speech: on(&v, "feature_speech"),
    };
    let limit_row = |key: &'static str, label: &'static str, unit: &'static str| LimitRow {
        key,
        label,
        unit,
        soft: f(&v, &format!("soft_{key}")),
        hard: f(&v, &format!("hard_{key}")),
        soft_error: errors
            .say(&format!("limits.soft.{}", if key == "cost" { "cost_micros" } else { key }), "The soft limit"),
        hard_error: errors
            .say(&format!("limits.hard.{}", if key == "cost" { "cost_micros" } else { key }), "The hard limit"),
    };
    let days = WEEKDAYS
        .iter()
        .zip(DAY_NAMES)
        .map(|(key, name)| DayRow {
            key,
            name,
            spans: [0, 1]
                .map(|slot| (f(&v, &format!("bh_{key}_{slot}_open")), f(&v, &format!("bh_{key}_{slot}_close")))),
            error: errors.get(&format!("bh_{key}")).cloned(),
        })
        .collect();
    let limits = vec![
        limit_row("messages", "AI messages", "calls"),
        limit_row("tokens", "Tokens", "prompt + completion"),
        limit_row("cost", "Cost", "in your currency"),
    ];
    let mut shown: Vec<String> = [
        "endpoint.base_url",
        "endpoint.chat_model",
        "endpoint.embedding_model",
        "endpoint.speech_model",
        "endpoint.speech_voice",
        "endpoint.api_key",
        "prices.prompt_micros_per_million",
        "prices.completion_micros_per_million",
        "handoff_message",
        "max_auto_replies",
        "business_hours.time_zone",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for kind in ["soft", "hard"] {
        for k in ["messages", "tokens", "cost_micros"] {
            shown.push(format!("limits.{kind}.{k}"));
        }
    }
    shown.extend(WEEKDAYS.iter().map(|d| format!("bh_{d}")));
    let shown_refs: Vec<&str> = shown.iter().map(String::as_str).collect();
    let errors = errors.only(&shown_refs);
    let (notice, notice_hard) = match &usage {
        Some(u) if u.hard_limit_reached => (
            Some(format!(
                "This month's hard AI limit is reached ({}): AI calls stop and conversations go to people until the limit is raised or the month ends.",
                u.month
            )),
            true,
        ),
        Some(u) if u.soft_limit_reached => (
            Some(format!("This month's AI usage crossed a soft limit ({}). Admins were told by e-mail; AI features keep working.", u.month)),
            false,
        ),
        _ => (None, false),
    };
    let shell = Shell::build(state, ui, &auth, Some(ctx), "AI settings", "settings", "ai").await;
    let page = AiPage {
        shell,
        general_error: errors.general.clone(),
        notice,
        notice_hard,
        version: stored.version,
        switches: switches(&features),
        base_url: f(&v, "base_url"),
        chat_model: f(&v, "chat_model"),
        embedding_model: f(&v, "embedding_model"),
        speech_model: f(&v, "speech_model"),
        speech_voice: f(&v, "speech_voice"),
        key_set: stored.endpoint.as_ref().is_some_and(|e| e.api_key_set),
        prompt_price: f(&v, "prompt_price"),
        completion_price: f(&v, "completion_price"),
        limits,
        handoff_message: f(&v, "handoff_message"),
        max_auto_replies: f(&v, "max_auto_replies"),
        hours_on: on(&v, "hours_on"),
        time_zone: f(&v, "time_zone"),
        days,
        store_prompts: on(&v, "store_prompts"),
        errors,
    };
    (status, render(&page)).into_response()
}

pub async fn page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    if !is_admin(&ctx) {
        return forbidden();
    }
    view(&state, &ui, &ctx, None, Errors::default()).await
}

/// The form as the settings input, with the field names of the errors it produced itself.
fn input_of(
    form: &HashMap<String, String>,
    key_set: bool,
) -> (AiSettingsInput, Vec<kith_app::error::FieldError>, Vec<String>) {
    let mut errs = Vec::new();
    let mut bad = |field: &str, message: &str| {
        errs.push(kith_app::error::FieldError { field: field.to_string(), message: message.to_string() })
    };
    let mut input = AiSettingsInput {
        features: Features {
            auto_reply: on(form, "feature_auto_reply"),
            suggestions: on(form, "feature_suggestions"),
            summaries: on(form, "feature_summaries"),
            drafting: on(form, "feature_drafting"),
            questions: on(form, "feature_questions"),
            speech: on(form, "feature_speech"),
        },
        ..Default::default()
    };
    let base_url = f(form, "base_url");
    let chat_model = f(form, "chat_model");
    let new_key = f(form, "api_key");
    let key_action = f(form, "key_action");
    if !base_url.is_empty() || !chat_model.is_empty() {
        let opt = |k: &str| Some(f(form, k)).filter(|s| !s.is_empty());
        input.endpoint = Some(EndpointInput {
            base_url,
            api_key: Some(new_key.clone()).filter(|k| !k.is_empty() && key_action != "remove"),
            remove_api_key: key_set && key_action == "remove",
            chat_model,
            embedding_model: opt("embedding_model"),
            speech_model: opt("speech_model"),
            speech_voice: opt("speech_voice"),
        });
    }
    match parse_micros(&f(form, "prompt_price")) {
        Ok(v) => input.prices.prompt_micros_per_million = v.unwrap_or(0),
        Err(m) => bad("prices.prompt_micros_per_million", m),
    }
    match parse_micros(&f(form, "completion_price")) {
        Ok(v) => input.prices.completion_micros_per_million = v.unwrap_or(0),
        Err(m) => bad("prices.completion_micros_per_million", m),
    }
    for kind in ["soft", "hard"] {
        let mut set = LimitSet::default();
        match parse_count(&f(form, &format!("{kind}_messages"))) {
            Ok(v) => set.messages = v,
            Err(m) => bad(&format!("limits.{kind}.messages"), m),
        }
        match parse_count(&f(form, &format!("{kind}_tokens"))) {
            Ok(v) => set.tokens = v,
            Err(m) => bad(&format!("limits.{kind}.tokens"), m),
        }
        match parse_micros(&f(form, &format!("{kind}_cost"))) {
            Ok(v) => set.cost_micros = v,
            Err(m) => bad(&format!("limits.{kind}.cost_micros"), m),
        }
        if kind == "soft" {
            input.limits.soft = set;
        } else {
            input.limits.hard = set;
        }
    }
    input.handoff_message = form.get("handoff_message").cloned().unwrap_or_default();
    match f(form, "max_auto_replies").parse::<u32>() {
        Ok(n) => input.max_auto_replies = n,
        Err(_) => bad("max_auto_replies", "must be a whole number from 1 to 20"),
    }
    // Each span's index, to file its errors under its weekday.
    let mut span_days = Vec::new();
    if on(form, "hours_on") {
        let mut spans = Vec::new();
        for day in WEEKDAYS {
            for slot in 0..2 {
                let open = f(form, &format!("bh_{day}_{slot}_open"));
                let close = f(form, &format!("bh_{day}_{slot}_close"));
                if open.is_empty() && close.is_empty() {
                    continue;
                }
                spans.push(OpeningSpan { day: day.to_string(), open, close });
                span_days.push(day.to_string());
            }
        }
        input.business_hours = Some(BusinessHours { time_zone: f(form, "time_zone"), spans });
    }
    input.store_prompts = on(form, "store_prompts");
    (input, errs, span_days)
}

pub async fn save(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    if !is_admin(&ctx) {
        return forbidden();
    }
    let key_set = settings::get(&state.app, &ctx).await.ok().and_then(|s| s.endpoint).is_some_and(|e| e.api_key_set);
    let (input, mut form_errors, span_days) = input_of(&form, key_set);
    let version = f(&form, "version").parse::<i64>().ok();
    let result = if form_errors.is_empty() {
        settings::update(&state.app, &ctx, &input, version).await
    } else {
        // Show the other fields' errors too, without saving; the form's own win for the same field.
        let more = match settings::check(&state.app, &input) {
            Err(AppError::Validation(list)) => list,
            _ => vec![],
        };
        let mine: Vec<String> = form_errors.iter().map(|e| e.field.clone()).collect();
        Err(AppError::Validation(more.into_iter().filter(|e| !mine.contains(&e.field)).collect()))
    };
    match result {
        Ok(_) => redirect_with("/settings/ai", Flash::success("AI settings saved."), state.config.secure_cookies),
        Err(AppError::Validation(list)) => {
            form_errors.extend(list);
            // Span errors go to their weekday's row.
            for e in form_errors.iter_mut() {
                if let Some(rest) = e.field.strip_prefix("business_hours.spans[") {
                    if let Some(day) =
                        rest.split(']').next().and_then(|i| i.parse::<usize>().ok()).and_then(|i| span_days.get(i))
                    {
                        let what = if rest.ends_with(".open") { "Opening time" } else { "Closing time" };
                        e.message = super::pages::sentence(what, &e.message);
                        e.field = format!("bh_{day}");
                    }
                }
            }
            view(&state, &ui, &ctx, Some(form), Errors::from_app(AppError::Validation(form_errors))).await
        }
        Err(e) => view(&state, &ui, &ctx, Some(form), Errors::from_app(e)).await,
    }
}

/// "Test connection": a tiny metered call; the endpoint's own error is shown as it said it.
pub async fn test(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    if !is_admin(&ctx) {
        return forbidden();
    }
    let flash = match llm::test_connection(&state.app, &ctx).await {
        Ok(r) => Flash::success(format!(
            "Connected: {} answered “{}” in {} ms ({} + {} tokens{}).",
            r.model,
            if r.reply.is_empty() { "(nothing)".to_string() } else { r.reply },
            r.latency_ms,
            r.prompt_tokens,
            r.completion_tokens,
            if r.estimated { ", estimated: the endpoint reports no usage" } else { "" }
        )),
        Err(e) => Flash::error(format!("Connection test failed: {}", message_of(e))),
    };
    redirect_with("/settings/ai#endpoint", flash, state.config.secure_cookies)
}

// ---------- usage ----------

/// A figure against its limits.
pub struct Figure {
    pub label: &'static str,
    pub value: String,
    pub note: String,
    /// `(max, value)` for a `<progress>` when a limit is set.
    pub bar: Option<(i64, i64)>,
    pub limit_text: String,
    pub over_soft: bool,
    pub over_hard: bool,
}

/// One bar of the chart.
pub struct Bar {
    pub x: String,
    pub y: String,
    pub height: String,
    pub label: String,
    pub day: u32,
    pub estimated: bool,
    pub show_day: bool,
}

#[derive(Template)]
#[template(path = "settings_ai_usage.html")]
pub struct UsagePage {
    pub shell: Shell,
    pub month: String,
    /// "December 2026".
    pub month_title: String,
    pub prev: String,
    pub next: Option<String>,
    pub usage: UsageView,
    pub figures: Vec<Figure>,
    pub bars: Vec<Bar>,
    pub chart_max: String,
    pub chart_width: i64,
    pub any_estimated: bool,
    pub error: Option<String>,
    /// The month's calls, newest first, one keyset page.
    pub calls: Vec<CallItem>,
    pub call_features: Vec<super::pages::Opt>,
    pub feature: String,
    /// The link to the next (older) page of calls, and whether this page is not the first.
    pub calls_next: Option<String>,
    pub calls_first: Option<String>,
    pub calls_error: Option<String>,
}

/// One call in the usage page's table.
pub struct CallItem {
    pub when: super::pages::When,
    pub feature: String,
    /// A link to what the call was about, and its label.
    pub about: Option<(String, String)>,
    pub model: String,
    pub tokens: String,
    pub estimated: bool,
    pub cost: String,
    pub latency: String,
    pub outcome: String,
    pub outcome_class: &'static str,
    pub error: Option<String>,
}

/// Calls per page of the usage page's table.
const CALLS_PER_PAGE: u32 = 25;

fn feature_label(f: &str) -> &str {
    match f {
        "auto_reply" => "Auto-reply",
        "suggestions" => "Suggestion",
        "summaries" => "Summary",
        "drafting" => "Draft",
        "questions" => "Question",
        "speech" => "Speech",
        "test" => "Connection test",
        "knowledge" => "Knowledge embeddings",
        "related_contacts" => "Related contacts",
        other => other,
    }
}

fn call_item(c: &kith_app::ai::calls::AiCall) -> CallItem {
    let about = match (c.conversation_id, c.record_type.as_deref(), c.record_id) {
        (Some(id), _, _) => Some((format!("/inbox/c/{id}"), "Conversation".to_string())),
        (None, Some("contact"), Some(id)) => Some((format!("/contacts/{id}"), "Contact".into())),
        (None, Some("company"), Some(id)) => Some((format!("/companies/{id}"), "Company".into())),
        (None, Some("deal"), Some(id)) => Some((format!("/deals/{id}"), "Deal".into())),
        (None, Some("knowledge"), Some(id)) => Some((format!("/settings/knowledge/{id}"), "Knowledge entry".into())),
        _ => None,
    };
    let outcome_class = match c.outcome.as_str() {
        "ok" => "badge-ok",
        "failed" | "refused" => "badge-danger",
        _ => "badge-warn",
    };
    CallItem {
        when: super::pages::When::new(c.created_at_ms),
        feature: feature_label(&c.feature).to_string(),
        about,
        model: c.model.clone(),
        tokens: group(c.prompt_tokens + c.completion_tokens),
        estimated: c.tokens_estimated,
        cost: micros_text(c.cost_micros),
        latency: format!("{} ms", group(c.latency_ms)),
        outcome: match c.outcome.as_str() {
            "ok" => "OK".into(),
            "failed" => "Failed".into(),
            "refused" => "Refused (limit)".into(),
            "pending" => "In flight".into(),
            "abandoned" => "Abandoned".into(),
            other => other.to_string(),
        },
        outcome_class,
        error: c.error.clone(),
    }
}

#[derive(Deserialize, Default)]
pub struct UsageQuery {
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    feature: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn figure(
    label: &'static str,
    value: i64,
    text: String,
    note: String,
    soft: Option<i64>,
    hard: Option<i64>,
    fmt: fn(i64) -> String,
) -> Figure {
    let limit_text = match (soft, hard) {
        (None, None) => "No limit".to_string(),
        (Some(s), None) => format!("Soft limit {}", fmt(s)),
        (None, Some(h)) => format!("Hard limit {}", fmt(h)),
        (Some(s), Some(h)) => format!("Soft {} · hard {}", fmt(s), fmt(h)),
    };
    Figure {
        label,
        value: text,
        note,
        bar: hard.or(soft).filter(|m| *m > 0).map(|m| (m, value.min(m))),
        limit_text,
        over_soft: soft.is_some_and(|s| value >= s),
        over_hard: hard.is_some_and(|h| value >= h),
    }
}

pub async fn usage_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<UsageQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    if !is_admin(&ctx) {
        return forbidden();
    }
    let (u, error) = match metering::usage(&state.app, &ctx, q.month.as_deref()).await {
        Ok(u) => (u, None),
        Err(e @ AppError::Validation(_)) => {
            let message = message_of(e);
            match metering::usage(&state.app, &ctx, None).await {
                Ok(u) => (u, Some(format!("{message} Showing this month instead."))),
                Err(e) => return super::error_page(&e.into()),
            }
        }
        Err(e) => return super::error_page(&e.into()),
    };
    let (prev, next) = metering::adjacent_months(&u.month).expect("a valid month");
    let current = metering::current_month();
    let next = (next <= current).then_some(next);
    let tokens = u.prompt_tokens + u.completion_tokens;
    let l = u.limits;
    let estimated_note = if u.estimated_calls > 0 {
        format!("{} of them estimated (the endpoint sent no usage)", group(u.estimated_calls))
    } else {
        String::new()
    };
    let figures = vec![
        figure(
            "AI messages",
            u.messages,
            group(u.messages),
            match (u.failed_calls, u.refused_calls) {
                (0, 0) => "successful calls".into(),
                (f, 0) => format!("successful calls; {f} failed"),
                (0, r) => format!("successful calls; {r} refused by the hard limit"),
                (f, r) => format!("successful calls; {f} failed, {r} refused"),
            },
            l.soft.messages,
            l.hard.messages,
            group,
        ),
        figure(
            "Tokens",
            tokens,
            group(tokens),
            format!(
                "{} prompt + {} completion{}",
                group(u.prompt_tokens),
                group(u.completion_tokens),
                if estimated_note.is_empty() { String::new() } else { format!("; {estimated_note}") }
            ),
            l.soft.tokens,
            l.hard.tokens,
            group,
        ),
        figure(
            "Cost",
            u.cost_micros,
            micros_text(u.cost_micros),
            "at the prices in the AI settings".into(),
            l.soft.cost_micros,
            l.hard.cost_micros,
            micros_text,
        ),
    ];
    // The chart: tokens per day, one bar each, in an SVG whose coordinates are computed here (no inline style).
    let max = u.days.iter().map(|d| d.prompt_tokens + d.completion_tokens).max().unwrap_or(0).max(1);
    const H: f64 = 120.0;
    const STEP: i64 = 22;
    let bars = u
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let t = d.prompt_tokens + d.completion_tokens;
            let h = if t == 0 { 0.0 } else { (t as f64 / max as f64 * H).max(2.0) };
            let day: u32 = d.date[8..].parse().unwrap_or(0);
            Bar {
                x: format!("{}", i as i64 * STEP + 4),
                y: format!("{:.1}", H - h + 10.0),
                height: format!("{h:.1}"),
                label: format!(
                    "{}: {} tokens, {} messages, cost {}{}",
                    d.date,
                    group(t),
                    group(d.messages),
                    micros_text(d.cost_micros),
                    if d.estimated_calls > 0 {
                        format!(" ({} calls estimated)", d.estimated_calls)
                    } else {
                        String::new()
                    }
                ),
                day,
                estimated: d.estimated_calls > 0,
                show_day: day == 1 || day.is_multiple_of(5),
            }
        })
        .collect();
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "AI usage", "settings", "ai_usage").await;
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month_title = metering::parse_month(&u.month)
        .map(|(y, m)| format!("{} {y}", MONTHS[(m - 1) as usize]))
        .unwrap_or_else(|| u.month.clone());
    // The month's calls: one keyset page, optionally of one feature.
    let feature = q.feature.clone().unwrap_or_default();
    let after = q.cursor.as_deref().and_then(kith_domain::page::Cursor::decode);
    let req = kith_domain::page::PageRequest::new(Some(CALLS_PER_PAGE), after);
    let (calls, calls_next, calls_error) =
        match kith_app::ai::calls::list(&state.app, &ctx, Some(&u.month), Some(&feature), &req).await {
            Ok(p) => {
                let next = p.next.map(|c| {
                    let f = if feature.is_empty() { String::new() } else { format!("&feature={feature}") };
                    format!("/settings/ai/usage?month={}{f}&cursor={}#calls", u.month, c.encode())
                });
                (p.items.iter().map(call_item).collect(), next, None)
            }
            Err(e) => (Vec::new(), None, Some(message_of(e))),
        };
    let calls_first = q.cursor.as_ref().map(|_| {
        let f = if feature.is_empty() { String::new() } else { format!("&feature={feature}") };
        format!("/settings/ai/usage?month={}{f}#calls", u.month)
    });
    let mut call_features = vec![super::pages::Opt::new("", "All features", &feature)];
    for f in settings::FEATURES.iter().chain(kith_app::ai::calls::OTHER_FEATURES.iter()) {
        call_features.push(super::pages::Opt::new(*f, feature_label(f), &feature));
    }
    render(&UsagePage {
        calls,
        call_features,
        feature,
        calls_next,
        calls_first,
        calls_error,
        shell,
        month_title,
        month: u.month.clone(),
        prev,
        next,
        chart_max: group(max),
        chart_width: u.days.len() as i64 * STEP + 8,
        any_estimated: u.days.iter().any(|d| d.estimated_calls > 0),
        figures,
        bars,
        usage: u,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_micros("0.15"), Ok(Some(150_000)));
        assert_eq!(parse_micros("2,5"), Ok(Some(2_500_000)));
        assert_eq!(parse_micros(".000001"), Ok(Some(1)));
        assert_eq!(parse_micros(""), Ok(None));
        assert!(parse_micros("0.0000001").is_err());
        assert!(parse_micros("-1").is_err());
        assert!(parse_micros("abc").is_err());
        assert_eq!(micros_text(150_000), "0.15");
        assert_eq!(micros_text(2_000_000), "2");
        assert_eq!(micros_text(1), "0.000001");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(parse_count("1,000"), Ok(Some(1000)));
        assert!(parse_count("-3").is_err());
    }
}
