//! Settings → Knowledge: the assistant's knowledge base. Every member sees
//! the entries with their indexing status and can try a question against
//! them (the passages the assistant would use, with their confidence);
//! admins add FAQs, offers, texts and websites, upload documents, edit,
//! re-index and delete (after a confirmation page).
//!
//! Forms work without JavaScript: the document upload is a real multipart
//! form whose first field is `_csrf` (the session layer lets this one path
//! through unread, as it does the contacts import).

use super::crm::{message_of, parse_id};
use super::pages::{ConfirmPage, Errors, Shell, When};
use super::{redirect_with, render, simple_page, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use kith_app::ai::knowledge::{self, KnowledgeEntry, KnowledgePatch, NewKnowledge};
use kith_app::ai::retrieval::{self, Passage};
use kith_app::{AppError, Context};
use kith_domain::page::PageRequest;
use kith_domain::Role;
use serde::Deserialize;
use std::collections::HashMap;

/// The document upload's path (the session layer streams it, unread).
pub const UPLOAD_PATH: &str = "/settings/knowledge/upload";

const KINDS: [(&str, &str); 5] =
    [("faq", "FAQ"), ("offer", "Offer"), ("text", "Text"), ("document", "Document"), ("website", "Website")];

fn kind_label(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).map(|(_, l)| *l).unwrap_or("Entry")
}

pub struct EntryItem {
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    pub summary: String,
    pub status: String,
    pub status_label: &'static str,
    pub busy: bool,
    pub done: i64,
    pub total: i64,
    pub chunks: i64,
    pub error: Option<String>,
    pub problems: usize,
    pub updated: When,
}

fn item_of(e: &KnowledgeEntry) -> EntryItem {
    let summary = match e.kind.as_str() {
        "faq" => e.answer.clone().unwrap_or_default(),
        "website" => match e.page_limit {
            Some(n) => format!("Up to {n} pages of this site"),
            None => String::new(),
        },
        _ => e.body.clone().unwrap_or_default(),
    };
    // Stored document text keeps its headings as Markdown; a summary is prose.
    let flat: String = summary
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut summary: String = flat.chars().take(160).collect();
    if flat.chars().nth(160).is_some() {
        summary.push('…');
    }
    EntryItem {
        id: e.id.to_string(),
        kind: kind_label(&e.kind),
        title: e.question.clone().unwrap_or_else(|| e.title.clone()),
        summary,
        status_label: match e.status.as_str() {
            "queued" => "Waiting",
            "indexing" => "Indexing",
            "ready" => "Ready",
            _ => "Failed",
        },
        busy: e.status == "queued" || e.status == "indexing",
        status: e.status.clone(),
        done: e.progress_done,
        total: e.progress_total.max(e.progress_done),
        chunks: e.chunk_count,
        error: e.error.clone(),
        problems: e.pages_failed.len(),
        updated: When::new(e.updated_at_ms),
    }
}

pub struct PassageItem {
    pub kind: &'static str,
    pub title: String,
    pub text: String,
    pub confidence: String,
    pub percent: i64,
    pub strong: bool,
}

fn passage_of(p: &Passage) -> PassageItem {
    PassageItem {
        kind: kind_label(&p.entry_kind),
        title: p.title.clone(),
        text: p.text.chars().take(600).collect(),
        confidence: format!("{:.2}", p.confidence),
        percent: (p.confidence * 100.0).round() as i64,
        strong: p.confidence >= retrieval::FAQ_THRESHOLD,
    }
}

pub struct KindTab {
    pub label: &'static str,
    pub url: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "settings_knowledge.html")]
pub struct KnowledgePage {
    pub shell: Shell,
    pub can_edit: bool,
    pub entries: Vec<EntryItem>,
    pub more: bool,
    pub any_busy: bool,
    pub q: String,
    pub tried: bool,
    pub passages: Vec<PassageItem>,
    pub threshold: String,
    pub tabs: Vec<KindTab>,
    pub add: &'static str,
    pub values: HashMap<String, String>,
    pub errors: Errors,
}

impl KnowledgePage {
    fn value(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or("")
    }
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    add: String,
}

fn can_edit(ctx: &Context) -> bool {
    ctx.effective_role() >= Role::Admin
}

/// The entry behind an editor page (edit, delete, summary, speech), or the
/// page to answer instead: not found, or forbidden to non-admins.
async fn entry_for_editor(state: &WebState, ctx: &Context, id: &str) -> Result<KnowledgeEntry, Response> {
    let Some(id) = parse_id(id) else { return Err(super::crm::not_found_page()) };
    let e = knowledge::get(&state.app, ctx, id).await.map_err(super::crm::load_error)?;
    if !can_edit(ctx) {
        return Err(forbidden());
    }
    Ok(e)
}

async fn view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    q: &str,
    add: &str,
    values: HashMap<String, String>,
    errors: Errors,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let list = match knowledge::list(&state.app, ctx, None, &PageRequest::new(Some(200), None)).await {
        Ok(l) => l,
        Err(e) => return super::error_page(&e.into()),
    };
    let q = q.trim();
    let passages = if q.is_empty() {
        vec![]
    } else {
        match retrieval::search(&state.app, ctx, q, 5).await {
            Ok(p) => p.iter().map(passage_of).collect(),
            Err(e) => return super::error_page(&e.into()),
        }
    };
    let add = KINDS.iter().map(|(k, _)| *k).find(|k| *k == add).unwrap_or("faq");
    let tabs = KINDS
        .iter()
        .map(|(k, l)| KindTab { label: l, url: format!("/settings/knowledge?add={k}#add"), current: *k == add })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let entries: Vec<EntryItem> = list.items.iter().map(item_of).collect();
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Knowledge", "settings", "knowledge").await;
    let page = KnowledgePage {
        shell,
        can_edit: can_edit(ctx),
        any_busy: entries.iter().any(|e| e.busy),
        entries,
        more: list.next.is_some(),
        q: q.to_string(),
        tried: !q.is_empty(),
        passages,
        threshold: format!("{:.2}", retrieval::FAQ_THRESHOLD),
        tabs,
        add,
        values,
        errors,
    };
    (status, render(&page)).into_response()
}

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<PageQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    view(&state, &ui, &ctx, &q.q, &q.add, HashMap::new(), Errors::default()).await
}

fn opt(form: &HashMap<String, String>, key: &str) -> Option<String> {
    form.get(key).cloned()
}

/// Add an FAQ, offer, text or website (the document upload has its own form).
pub async fn create(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let kind = form.get("kind").cloned().unwrap_or_default();
    let mut input = NewKnowledge { kind: kind.clone(), ..Default::default() };
    match kind.as_str() {
        "faq" => {
            input.question = opt(&form, "question");
            input.answer = opt(&form, "answer");
        }
        "website" => {
            let urls: Vec<String> = form
                .get("urls")
                .map(|u| u.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
                .unwrap_or_default();
            input.urls = Some(urls);
            input.page_limit =
                form.get("page_limit").map(|s| s.trim()).filter(|s| !s.is_empty()).map(|n| n.parse().unwrap_or(-1));
        }
        _ => {
            input.title = opt(&form, "title");
            input.body = opt(&form, "body");
        }
    }
    match knowledge::create(&state.app, &ctx, &input).await {
        Ok(e) => redirect_with(
            "/settings/knowledge",
            Flash::success(format!("{} added; it is being indexed.", kind_label(&e.kind))),
            state.config.secure_cookies,
        ),
        Err(AppError::Forbidden) => forbidden(),
        Err(e) => {
            let errors = Errors::from_app(e).rename("urls", "urls");
            view(&state, &ui, &ctx, "", &kind, form, errors).await
        }
    }
}

fn forbidden() -> Response {
    simple_page(StatusCode::FORBIDDEN, "Not allowed", "Only admins of this workspace change the knowledge base.")
}

async fn text_field(mut field: Field<'_>) -> Option<String> {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = field.chunk().await {
        if bytes.len() + chunk.len() > 4096 {
            return None;
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).ok()
}

/// Upload a document: `_csrf` first, then `file`.
pub async fn upload(State(state): State<WebState>, Extension(ui): Extension<UiCtx>, req: Request) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let forged =
        || simple_page(StatusCode::FORBIDDEN, "Not allowed", "Your form expired. Reload the page and try again.");
    let Ok(mut form) = Multipart::from_request(req, &state).await else { return forged() };
    let Ok(Some(first)) = form.next_field().await else { return forged() };
    if first.name() != Some("_csrf") {
        return forged();
    }
    let sent = text_field(first).await.unwrap_or_default();
    if !kith_crypto::constant_time_eq(sent.as_bytes(), ui.csrf.as_bytes()) {
        return forged();
    }
    let mut result: Result<KnowledgeEntry, AppError> = Err(AppError::field("file", "choose a file to upload"));
    while let Ok(Some(mut field)) = form.next_field().await {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("").to_string();
        let declared = field.content_type().map(str::to_string);
        let mut bytes = Vec::new();
        let mut too_large = false;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > knowledge::MAX_DOCUMENT_BYTES {
                        too_large = true;
                        break;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => {
                    too_large = true;
                    break;
                }
            }
        }
        result = if too_large {
            Err(AppError::field("file", "is larger than 20 MiB"))
        } else if name.is_empty() && bytes.is_empty() {
            Err(AppError::field("file", "choose a file to upload"))
        } else {
            knowledge::upload(&state.app, &ctx, &name, declared.as_deref(), bytes).await
        };
        break;
    }
    match result {
        Ok(e) => redirect_with(
            "/settings/knowledge",
            Flash::success(format!("{} uploaded; its text is being indexed.", e.title)),
            state.config.secure_cookies,
        ),
        Err(AppError::Forbidden) => forbidden(),
        Err(e) => {
            let errors = match e {
                AppError::Validation(_) => Errors::from_app(e),
                other => Errors::from_app(AppError::field("file", message_of(other))),
            };
            view(&state, &ui, &ctx, "", "document", HashMap::new(), errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "settings_knowledge_edit.html")]
pub struct EditPage {
    pub shell: Shell,
    pub id: String,
    pub kind: String,
    pub kind_label: &'static str,
    pub version: i64,
    pub first: String,
    pub second: String,
    pub page_limit: String,
    pub status_label: &'static str,
    pub chunks: i64,
    pub error: Option<String>,
    pub problems: Vec<(String, String)>,
    pub errors: Errors,
    /// The summary card: the switch, the last summary asked for, and its audio.
    pub assist: DocAssist,
}

/// The knowledge editor's summary and speech card.
#[derive(Default)]
pub struct DocAssist {
    pub summaries_on: bool,
    /// Why "Summarise" is not offered (the feature is off), said with who can turn it on.
    pub summaries_off: String,
    pub speech_ready: bool,
    /// Why "Listen" is not offered: speech off, or no speech model (speech has no reduced form).
    pub speech_unavailable: String,
    pub summary: Option<super::pages::SummaryCard>,
    /// `model` or `extractive`.
    pub summary_mode: String,
    /// A speech file to play: its id and when the retention deletes it.
    pub audio: Option<(String, When)>,
    pub speech_error: Option<String>,
}

async fn doc_assist(state: &WebState, ctx: &Context) -> DocAssist {
    let sw = kith_app::ai::settings::switches(&state.app, ctx.org_id).await.unwrap_or_default();
    let speech_unavailable = if !sw.features.speech {
        super::assistant::enable_hint(ctx, "Text to speech")
    } else if !sw.speech_model {
        "Listening is unavailable: text to speech needs an AI endpoint with a speech model, and none is set. \
         You can set one in Settings → AI."
            .into()
    } else {
        String::new()
    };
    DocAssist {
        summaries_on: sw.features.summaries,
        summaries_off: super::assistant::enable_hint(ctx, "Summaries"),
        speech_ready: sw.features.speech && sw.speech_model,
        speech_unavailable,
        ..Default::default()
    }
}

async fn edit_view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    e: &KnowledgeEntry,
    errors: Errors,
    form: Option<&HashMap<String, String>>,
) -> Response {
    let assist = doc_assist(state, ctx).await;
    edit_view_with(state, ui, ctx, e, errors, form, assist).await
}

async fn edit_view_with(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    e: &KnowledgeEntry,
    errors: Errors,
    form: Option<&HashMap<String, String>>,
    assist: DocAssist,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let (first, second) = match e.kind.as_str() {
        "faq" => (e.question.clone().unwrap_or_default(), e.answer.clone().unwrap_or_default()),
        "website" => (e.urls.clone().unwrap_or_default().join("\n"), String::new()),
        _ => (e.title.clone(), e.body.clone().unwrap_or_default()),
    };
    let pick = |key: &str, stored: String| form.and_then(|f| f.get(key).cloned()).unwrap_or(stored);
    let (k1, k2) = match e.kind.as_str() {
        "faq" => ("question", "answer"),
        "website" => ("urls", "page_limit"),
        _ => ("title", "body"),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Edit knowledge", "settings", "knowledge").await;
    let page = EditPage {
        shell,
        id: e.id.to_string(),
        kind: e.kind.clone(),
        kind_label: kind_label(&e.kind),
        version: e.version,
        first: pick(k1, first),
        second: pick(k2, second),
        page_limit: pick("page_limit", e.page_limit.map(|n| n.to_string()).unwrap_or_default()),
        status_label: item_of(e).status_label,
        chunks: e.chunk_count,
        error: e.error.clone(),
        problems: e.pages_failed.iter().map(|p| (p.url.clone(), p.error.clone())).collect(),
        errors,
        assist,
    };
    (status, render(&page)).into_response()
}

pub async fn edit(State(state): State<WebState>, Extension(ui): Extension<UiCtx>, Path(id): Path<String>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let e = match entry_for_editor(&state, &ctx, &id).await {
        Ok(e) => e,
        Err(page) => return page,
    };
    edit_view(&state, &ui, &ctx, &e, Errors::default(), None).await
}

pub async fn save(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let e = match knowledge::get(&state.app, &ctx, id).await {
        Ok(e) => e,
        Err(e) => return super::crm::load_error(e),
    };
    let mut patch = KnowledgePatch::default();
    match e.kind.as_str() {
        "faq" => {
            patch.question = opt(&form, "question");
            patch.answer = opt(&form, "answer");
        }
        "website" => {
            patch.urls = form
                .get("urls")
                .map(|u| u.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect());
            patch.page_limit = form.get("page_limit").map(|s| s.trim().parse().unwrap_or(-1));
        }
        _ => {
            patch.title = opt(&form, "title");
            patch.body = opt(&form, "body");
        }
    }
    let version = form.get("version").and_then(|v| v.parse().ok());
    match knowledge::update(&state.app, &ctx, id, &patch, version).await {
        Ok(_) => redirect_with(
            "/settings/knowledge",
            Flash::success("Saved; it is being indexed again."),
            state.config.secure_cookies,
        ),
        Err(AppError::Forbidden) => forbidden(),
        Err(err) => edit_view(&state, &ui, &ctx, &e, Errors::from_app(err), Some(&form)).await,
    }
}

/// Index an entry again (a website: crawl it again).
pub async fn reindex(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let flash = match knowledge::reindex(&state.app, &ctx, id).await {
        Ok(_) => Flash::success("Queued for indexing."),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with("/settings/knowledge", flash, state.config.secure_cookies)
}

pub async fn confirm_delete(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let e = match entry_for_editor(&state, &ctx, &id).await {
        Ok(e) => e,
        Err(page) => return page,
    };
    let id = e.id;
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Delete knowledge", "settings", "knowledge").await;
    render(&ConfirmPage {
        shell,
        heading: format!("Delete “{}”?", e.question.clone().unwrap_or(e.title.clone())),
        message: "The assistant stops using it at once: its passages are deleted with it. This cannot be undone."
            .into(),
        action: format!("/settings/knowledge/{id}/delete"),
        button: "Delete".into(),
        cancel: "/settings/knowledge".into(),
    })
}

pub async fn delete(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let flash = match knowledge::delete(&state.app, &ctx, id).await {
        Ok(()) => Flash::success("Deleted from the knowledge base."),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with("/settings/knowledge", flash, state.config.secure_cookies)
}

fn summary_label(mode: &str) -> &'static str {
    if mode == kith_app::ai::assist::MODE_MODEL {
        "AI summary"
    } else {
        "Extractive summary (no AI endpoint): sentences picked from the text"
    }
}

/// The editor again with the entry's summary (by the model, or extractive without an AI endpoint).
pub async fn summarise(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let e = match entry_for_editor(&state, &ctx, &id).await {
        Ok(e) => e,
        Err(page) => return page,
    };
    let id = e.id;
    let mut assist = doc_assist(&state, &ctx).await;
    assist.summary = Some(match kith_app::ai::documents::summary(&state.app, &ctx, id).await {
        Ok(s) => {
            let label = summary_label(&s.mode);
            assist.summary_mode = s.mode;
            super::pages::SummaryCard { label: label.into(), text: s.text, error: None }
        }
        Err(err) => {
            super::pages::SummaryCard { label: "No summary".into(), text: String::new(), error: Some(message_of(err)) }
        }
    });
    edit_view_with(&state, &ui, &ctx, &e, Errors::default(), None, assist).await
}

/// The editor again with the entry's summary spoken: an audio player for the stored file, or why not.
pub async fn speak(State(state): State<WebState>, Extension(ui): Extension<UiCtx>, Path(id): Path<String>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let e = match entry_for_editor(&state, &ctx, &id).await {
        Ok(e) => e,
        Err(page) => return page,
    };
    let id = e.id;
    let mut assist = doc_assist(&state, &ctx).await;
    match kith_app::ai::documents::summary_spoken(&state.app, &ctx, id).await {
        Ok((s, f)) => {
            assist.summary =
                Some(super::pages::SummaryCard { label: summary_label(&s.mode).into(), text: s.text, error: None });
            assist.summary_mode = s.mode;
            assist.audio = Some((f.file_id.to_string(), When::new(f.expires_at_ms)));
        }
        Err(err) => assist.speech_error = Some(message_of(err)),
    }
    edit_view_with(&state, &ui, &ctx, &e, Errors::default(), None, assist).await
}
