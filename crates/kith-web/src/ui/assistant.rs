//! The Assistant page: ask a question over the CRM (answers link to the records they rest on, found through the
//! same visibility filter as search) and draft a text from a template plus instructions. Plain forms that work
//! without JavaScript (POST, the page again with the answer); with JavaScript the buttons say they are working.
//! A feature that is off says so, and who can turn it on. Also the session route that plays stored speech.

use super::crm::{message_of, parse_id, record_url};
use super::pages::{Opt, Shell};
use super::{redirect_with, render, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use kith_app::ai::assist::{self, DraftInput};
use kith_app::ai::settings::{self, Switches};
use kith_app::crm::contacts;
use kith_app::records::{ListFilter, SortKey};
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use kith_domain::page::PageRequest;
use serde::Deserialize;

/// Contacts offered for a draft's variables (the most recently updated the user may see).
const CONTACT_CHOICES: u32 = 100;

/// Who can turn a feature on, said to whoever reads it.
pub fn enable_hint(ctx: &Context, feature_label: &str) -> String {
    if ctx.effective_role() >= kith_domain::Role::Admin {
        format!("{feature_label} is turned off for this workspace. You can turn it on in Settings → AI.")
    } else {
        format!(
            "{feature_label} is turned off for this workspace. An owner or admin of the workspace can turn it on in \
             Settings → AI."
        )
    }
}

pub struct RecordLink {
    pub url: String,
    pub name: String,
    pub kind: &'static str,
    pub cited: bool,
}

pub struct AnswerView {
    pub label: &'static str,
    pub mode: String,
    pub text: String,
    pub records: Vec<RecordLink>,
}

pub struct DraftView {
    pub label: &'static str,
    pub mode: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "assistant.html")]
pub struct AssistantPage {
    pub shell: Shell,
    pub is_admin: bool,
    pub questions_on: bool,
    pub drafting_on: bool,
    pub questions_off: String,
    pub drafting_off: String,
    /// Without an endpoint the answers come in their reduced form: said before asking.
    pub no_endpoint: bool,
    pub question: String,
    pub answer: Option<AnswerView>,
    pub ask_error: Option<String>,
    pub template: String,
    pub instructions: String,
    pub contacts: Vec<Opt>,
    pub draft: Option<DraftView>,
    pub draft_error: Option<String>,
    pub draft_field_errors: Vec<(String, String)>,
}

impl AssistantPage {
    fn field_error(&self, field: &str) -> Option<&str> {
        self.draft_field_errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }
}

#[derive(Deserialize, Default)]
pub struct AskForm {
    #[serde(default)]
    question: String,
}

#[derive(Deserialize, Default)]
pub struct DraftForm {
    #[serde(default)]
    template: String,
    #[serde(default)]
    instructions: String,
    #[serde(default)]
    contact_id: String,
}

async fn contact_opts(state: &WebState, ctx: &Context, current: &str) -> Vec<Opt> {
    let mut opts = vec![Opt::new("", "No contact", current)];
    let page = PageRequest::new(Some(CONTACT_CHOICES), None);
    if let Ok(p) = contacts::list(&state.app, ctx, &ListFilter::default(), SortKey::UpdatedDesc, &page).await {
        opts.extend(p.items.into_iter().map(|c| Opt::new(c.id.to_string(), c.display_name, current)));
    }
    opts
}

async fn record_link(state: &WebState, ctx: &Context, r: &assist::UsedRecord) -> RecordLink {
    let (url, kind) = match r.kind.as_str() {
        "contact" => (record_url(RecordType::Contact, r.id), "Contact"),
        "company" => (record_url(RecordType::Company, r.id), "Company"),
        "deal" => (record_url(RecordType::Deal, r.id), "Deal"),
        _ => {
            // A note opens the record it is on, at its timeline.
            let url = match kith_app::crm::notes::get(&state.app, ctx, r.id).await {
                Ok(n) => format!("{}#timeline", record_url(n.record_type, n.record_id)),
                Err(_) => "/search".into(),
            };
            (url, "Note")
        }
    };
    RecordLink { url, name: r.name.clone(), kind, cited: r.cited }
}

fn draft_errors(e: &AppError) -> Vec<(String, String)> {
    match e {
        AppError::Validation(list) => list.iter().map(|f| (f.field.clone(), f.message.clone())).collect(),
        _ => Vec::new(),
    }
}

#[derive(Default)]
struct Outcome {
    question: String,
    answer: Option<AnswerView>,
    ask_error: Option<String>,
    form: DraftForm,
    draft: Option<DraftView>,
    draft_error: Option<String>,
    draft_field_errors: Vec<(String, String)>,
}

async fn view(state: &WebState, ui: &UiCtx, ctx: &Context, status: StatusCode, o: Outcome) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let sw: Switches = settings::switches(&state.app, ctx.org_id).await.unwrap_or_default();
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Assistant", "assistant", "").await;
    let page = AssistantPage {
        shell,
        is_admin: ctx.effective_role() >= kith_domain::Role::Admin,
        questions_on: sw.features.questions,
        drafting_on: sw.features.drafting,
        questions_off: enable_hint(ctx, "Questions over the CRM"),
        drafting_off: enable_hint(ctx, "Drafting"),
        no_endpoint: !sw.endpoint,
        question: o.question,
        answer: o.answer,
        ask_error: o.ask_error,
        contacts: contact_opts(state, ctx, &o.form.contact_id).await,
        template: o.form.template,
        instructions: o.form.instructions,
        draft: o.draft,
        draft_error: o.draft_error,
        draft_field_errors: o.draft_field_errors,
    };
    (status, render(&page)).into_response()
}

pub async fn page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    view(&state, &ui, &ctx, StatusCode::OK, Outcome::default()).await
}

pub async fn ask(State(state): State<WebState>, Extension(ui): Extension<UiCtx>, Form(f): Form<AskForm>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let mut o = Outcome { question: f.question.clone(), ..Default::default() };
    let status = match assist::ask(&state.app, &ctx, &f.question).await {
        Ok(a) => {
            let mut records = Vec::new();
            for r in &a.records {
                records.push(record_link(&state, &ctx, r).await);
            }
            let model = a.mode == assist::MODE_MODEL;
            o.answer = Some(AnswerView {
                label: if model { "AI answer" } else { "Matching records (no AI endpoint)" },
                mode: a.mode,
                text: a.answer,
                records,
            });
            StatusCode::OK
        }
        Err(e) => {
            let status =
                if matches!(e, AppError::Validation(_)) { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            o.ask_error = Some(message_of(e));
            status
        }
    };
    view(&state, &ui, &ctx, status, o).await
}

pub async fn draft(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(f): Form<DraftForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let contact_id = match f.contact_id.trim() {
        "" => None,
        s => match parse_id(s) {
            Some(id) => Some(id),
            None => {
                let o = Outcome {
                    draft_field_errors: vec![("contact_id".into(), "is not a contact".into())],
                    form: f,
                    ..Default::default()
                };
                return view(&state, &ui, &ctx, StatusCode::UNPROCESSABLE_ENTITY, o).await;
            }
        },
    };
    let input = DraftInput { template: f.template.clone(), instructions: f.instructions.clone(), contact_id };
    let mut o = Outcome { form: f, ..Default::default() };
    let status = match assist::draft(&state.app, &ctx, &input).await {
        Ok(d) => {
            let label = if d.mode == assist::MODE_MODEL {
                "AI draft"
            } else if o.form.instructions.trim().is_empty() {
                "Template filled in (no instructions given)"
            } else {
                "Template filled in (no AI endpoint)"
            };
            o.draft = Some(DraftView { label, mode: d.mode, text: d.text });
            StatusCode::OK
        }
        Err(e) => {
            let fields = draft_errors(&e);
            if fields.is_empty() {
                o.draft_error = Some(message_of(e));
                StatusCode::OK
            } else {
                o.draft_field_errors = fields;
                StatusCode::UNPROCESSABLE_ENTITY
            }
        }
    };
    view(&state, &ui, &ctx, status, o).await
}

/// Stored speech for the signed-in user who made it: plain audio types play inline, anything else downloads;
/// never sniffed, never cached by shared caches. Anyone else's file is "not found".
pub async fn speech_file(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let (content_type, audio) = match assist::speech_file(&state.app, &ctx, id).await {
        Ok(v) => v,
        Err(e) => return super::crm::load_error(e),
    };
    let safe = assist::is_safe_audio(&content_type);
    let ct = if safe { content_type } else { "application/octet-stream".into() };
    let mut resp = Response::new(Body::from(audio));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    let disposition = if safe { "inline" } else { "attachment; filename=\"speech.bin\"" };
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(disposition));
    resp
}

#[derive(Deserialize, Default)]
pub struct DeleteSpeechForm {
    #[serde(default)]
    back: String,
}

/// Delete one of your speech files now, and go back to the page it was played on.
pub async fn delete_speech(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(f): Form<DeleteSpeechForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    // Only a path of this site (no scheme, no host) is a place to go back to.
    let local = f.back.starts_with('/') && !f.back.starts_with("//") && !f.back.contains(['\\', '\r', '\n']);
    let back = if local { f.back.as_str() } else { "/assistant" };
    let flash = match assist::delete_speech(&state.app, &ctx, id).await {
        Ok(()) => Flash::success("The audio was deleted."),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with(back, flash, state.config.secure_cookies)
}
