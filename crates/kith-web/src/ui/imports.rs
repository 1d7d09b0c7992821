//! Contacts → Import: a three-step wizard. (1) Upload: a real multipart form
//! whose file is streamed into storage as it arrives and kept *staged*, not
//! queued. (2) Columns: the detected preset, each column of the file with a
//! target to choose, and the first rows; confirming queues the import on the
//! stored file (uploaded once). (3) Progress: counters that a small script
//! refreshes from `/contacts/import/{id}.json` until the job is done, and the
//! per-row report as CSV.

use super::crm::{load_error, message_of, not_found_page, parse_id, render_status};
use super::pages::{Errors, Opt, OptGroup, Shell, When};
use super::{redirect_with, simple_page, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::{Extension, Form};
use kith_app::crm::custom_fields;
use kith_app::crm::imports::{self, Confirm, Dedupe, Import, ImportOptions, Preset, Upload};
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use kith_domain::page::PageRequest;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// The largest upload the wizard takes: the same as `POST /api/v1/imports`
/// (`api::imports::MAX_UPLOAD_BYTES`). The file goes to storage in 1 MiB
/// chunks, so memory does not grow with it.
pub const MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;
/// Where the upload form posts; the session layer streams this one body
/// instead of reading it whole, and [`upload`] checks its CSRF field.
pub const UPLOAD_PATH: &str = "/contacts/import";
/// Rows the columns step shows.
const PREVIEW_ROWS: usize = 5;
/// The form's small text fields.
const MAX_TEXT_BYTES: usize = 1024;

// ---------- labels ----------

const PRESETS: [(&str, &str); 4] =
    [("hubspot", "HubSpot"), ("salesforce", "Salesforce"), ("pipedrive", "Pipedrive"), ("generic", "Generic CSV")];

fn preset_label(p: &str) -> &'static str {
    match p {
        "vcard" => "vCard",
        other => PRESETS.iter().find(|(k, _)| *k == other).map(|(_, l)| *l).unwrap_or("Generic CSV"),
    }
}

const DEDUPES: [(&str, &str, &str); 3] = [
    (
        "update",
        "Update the existing contact",
        "Fill in and add to a contact with the same e-mail or phone. Nothing is removed.",
    ),
    ("skip", "Skip the row", "Leave the existing contact as it is; the row is counted as skipped."),
    ("create", "Create a new contact anyway", "Always add a new contact, even if that makes a duplicate."),
];

fn dedupe_label(d: Dedupe) -> &'static str {
    match d {
        Dedupe::Update => "Update existing contacts",
        Dedupe::Skip => "Skip existing contacts",
        Dedupe::Create => "Always create new contacts",
    }
}

fn status_label(status: &str, dry_run: bool) -> &'static str {
    match (status, dry_run) {
        (imports::STAGED, _) => "Waiting for you to check the columns",
        ("queued", _) => "Waiting to start",
        ("running", false) => "Importing",
        ("running", true) => "Checking (dry run)",
        ("done", false) => "Done",
        ("done", true) => "Dry run done",
        ("failed", _) => "Failed",
        _ => "Closed",
    }
}

pub(super) fn size_text(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// Targets a column can feed, by group; `custom:<key>` for the workspace's fields.
const TARGETS: [(&str, &[(&str, &str)]); 5] = [
    ("Name", &[("first_name", "First name"), ("last_name", "Last name"), ("full_name", "Full name (split in two)")]),
    (
        "E-mail and phone",
        &[
            ("email", "E-mail"),
            ("email:work", "E-mail (work)"),
            ("email:home", "E-mail (home)"),
            ("phone", "Phone"),
            ("phone:mobile", "Phone (mobile)"),
            ("phone:work", "Phone (work)"),
            ("phone:home", "Phone (home)"),
        ],
    ),
    ("Work", &[("company", "Company"), ("title", "Job title")]),
    (
        "Address",
        &[
            ("street", "Street"),
            ("city", "City"),
            ("region", "Region or state"),
            ("postal_code", "Postal code"),
            ("country", "Country"),
        ],
    ),
    (
        "Other",
        &[
            ("tags", "Tags (comma-separated)"),
            ("website", "Website"),
            ("birthday", "Birthday"),
            ("time_zone", "Time zone"),
            ("source", "Source"),
        ],
    ),
];

fn target_groups(current: &str, custom: &[(String, String)]) -> Vec<OptGroup> {
    let mut groups = vec![OptGroup { label: String::new(), opts: vec![Opt::new("ignore", "Don't import", current)] }];
    let mut known = current == "ignore";
    for (label, items) in TARGETS {
        known |= items.iter().any(|(v, _)| *v == current);
        groups.push(OptGroup {
            label: label.to_string(),
            opts: items.iter().map(|(v, l)| Opt::new(*v, *l, current)).collect(),
        });
    }
    if !custom.is_empty() {
        known |= custom.iter().any(|(k, _)| format!("custom:{k}") == current);
        groups.push(OptGroup {
            label: "Custom fields".into(),
            opts: custom.iter().map(|(k, l)| Opt::new(format!("custom:{k}"), l.clone(), current)).collect(),
        });
    }
    if !known {
        // A target the preset chose that the list does not name (e.g. `phone:fax`).
        let label = match current.split_once(':') {
            Some(("email", l)) => format!("E-mail ({l})"),
            Some(("phone", l)) => format!("Phone ({l})"),
            Some(("custom", k)) => format!("Custom field {k} (not defined)"),
            _ => current.to_string(),
        };
        groups[0].opts.push(Opt::new(current, label, current));
    }
    groups
}

// ---------- views ----------

pub struct ImportItem {
    pub file_name: String,
    pub status: String,
    pub status_label: &'static str,
    pub dry_run: bool,
    pub created: When,
    pub summary: String,
    pub url: String,
}

fn summary(i: &Import) -> String {
    match i.status.as_str() {
        imports::STAGED | "queued" => size_text(i.file_bytes),
        "failed" => i.error.clone().unwrap_or_default(),
        _ => {
            let mut parts = vec![format!("{} created", i.created), format!("{} updated", i.updated)];
            if i.skipped > 0 {
                parts.push(format!("{} skipped", i.skipped));
            }
            if i.failed > 0 {
                parts.push(format!("{} failed", i.failed));
            }
            parts.join(" · ")
        }
    }
}

fn item_of(i: &Import) -> ImportItem {
    let url = if i.status == imports::STAGED {
        format!("/contacts/import/{}/map", i.id)
    } else {
        format!("/contacts/import/{}", i.id)
    };
    ImportItem {
        file_name: i.file_name.clone(),
        status: i.status.clone(),
        status_label: status_label(&i.status, i.dry_run),
        dry_run: i.dry_run,
        created: When::new(i.created_at_ms),
        summary: summary(i),
        url,
    }
}

#[derive(Template)]
#[template(path = "contacts_import.html")]
pub struct UploadPage {
    pub shell: Shell,
    pub presets: Vec<Opt>,
    pub dedupes: Vec<DedupeChoice>,
    pub dry_run: bool,
    pub errors: Errors,
    pub recent: Vec<ImportItem>,
    pub max_mb: usize,
}

pub struct MapColumn {
    pub index: usize,
    pub key: String,
    pub samples: String,
    pub groups: Vec<OptGroup>,
}

pub struct PreviewRowView {
    pub line: i64,
    pub cells: Vec<String>,
    pub error: String,
}

#[derive(Template)]
#[template(path = "contacts_import_map.html")]
pub struct MapPage {
    pub shell: Shell,
    pub id: String,
    pub file_name: String,
    pub size: String,
    pub vcard: bool,
    pub preset: String,
    pub preset_name: &'static str,
    pub presets: Vec<Opt>,
    pub columns: Vec<MapColumn>,
    pub headers: Vec<String>,
    pub rows: Vec<PreviewRowView>,
    pub dedupes: Vec<DedupeChoice>,
    pub dry_run: bool,
    pub errors: Errors,
}

/// What the progress page shows and its script refreshes.
#[derive(Serialize)]
pub struct ImportStatus {
    pub id: String,
    pub status: String,
    pub status_label: &'static str,
    pub total: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub warnings: i64,
    pub error: String,
    /// Done or failed: nothing changes any more.
    pub finished: bool,
    pub running: bool,
    /// The report has rows (failed rows or warnings).
    pub has_issues: bool,
    pub ok: bool,
}

impl ImportStatus {
    fn of(i: &Import) -> ImportStatus {
        let finished = i.status == "done" || i.status == "failed";
        ImportStatus {
            id: i.id.to_string(),
            status: i.status.clone(),
            status_label: status_label(&i.status, i.dry_run),
            total: i.total,
            created: i.created,
            updated: i.updated,
            skipped: i.skipped,
            failed: i.failed,
            warnings: i.warnings,
            error: i.error.clone().unwrap_or_default(),
            finished,
            running: !finished,
            has_issues: i.failed > 0 || i.warnings > 0,
            ok: i.status == "done",
        }
    }
}

#[derive(Template)]
#[template(path = "contacts_import_progress.html")]
pub struct ProgressPage {
    pub shell: Shell,
    pub s: ImportStatus,
    pub file_name: String,
    pub size: String,
    pub preset: &'static str,
    pub dedupe: &'static str,
    pub dry_run: bool,
    pub started: When,
    /// A dry run (running, or finished with its file kept) offers "Run this import for real".
    pub rerun: bool,
}

// ---------- step 1: upload ----------

fn preset_opts(current: &str) -> Vec<Opt> {
    let mut opts = vec![Opt::new("", "Detect from the columns", current)];
    opts.extend(PRESETS.iter().map(|(v, l)| Opt::new(*v, *l, current)));
    opts
}

/// One choice of what to do with a contact that exists.
pub struct DedupeChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub checked: bool,
}

fn dedupe_opts(current: &str) -> Vec<DedupeChoice> {
    DEDUPES.iter().map(|(value, label, help)| DedupeChoice { value, label, help, checked: *value == current }).collect()
}

async fn upload_view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    choices: &Choices,
    errors: Errors,
    status: StatusCode,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let recent = imports::list(&state.app, ctx, &PageRequest::new(Some(10), None))
        .await
        .map(|p| p.items)
        .unwrap_or_default()
        .iter()
        .map(item_of)
        .collect();
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Import contacts", "contacts", "").await;
    render_status(
        status,
        &UploadPage {
            shell,
            presets: preset_opts(choices.preset.map(|p| p.as_str()).unwrap_or("")),
            dedupes: dedupe_opts(choices.dedupe.map(dedupe_str).unwrap_or("update")),
            dry_run: choices.dry_run,
            errors,
            recent,
            max_mb: MAX_UPLOAD_BYTES / (1024 * 1024),
        },
    )
}

fn dedupe_str(d: Dedupe) -> &'static str {
    match d {
        Dedupe::Update => "update",
        Dedupe::Skip => "skip",
        Dedupe::Create => "create",
    }
}

pub async fn page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    upload_view(&state, &ui, &ctx, &Choices::default(), Errors::default(), StatusCode::OK).await
}

/// The upload form's choices.
#[derive(Default)]
struct Choices {
    preset: Option<Preset>,
    dedupe: Option<Dedupe>,
    dry_run: bool,
}

impl Choices {
    fn apply(&self, options: &mut ImportOptions) {
        options.preset = self.preset;
        options.dedupe = self.dedupe.unwrap_or(Dedupe::Update);
        options.dry_run = self.dry_run;
    }
}

/// An upload that is aborted (its chunks deleted) unless it was staged —
/// also when the browser goes away mid-upload and the handler is dropped.
struct Pending(Option<Upload>);

impl Pending {
    fn upload(&mut self) -> &mut Upload {
        self.0.as_mut().expect("an upload until staged")
    }

    async fn stage(mut self) -> Result<Import, AppError> {
        self.0.take().expect("an upload until staged").stage().await
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(upload) = self.0.take() else { return };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(error = %e, "could not delete an abandoned upload");
                }
            });
        }
    }
}

/// A small text field of the form.
async fn text_field(mut field: Field<'_>) -> Result<String, MultipartError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        if bytes.len() + chunk.len() <= MAX_TEXT_BYTES {
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

enum UploadError {
    /// Not from our form (no or a wrong `_csrf` first).
    Forbidden,
    TooLarge,
    Unreadable,
    App(AppError),
}

impl From<MultipartError> for UploadError {
    fn from(e: MultipartError) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            UploadError::TooLarge
        } else {
            UploadError::Unreadable
        }
    }
}

impl From<AppError> for UploadError {
    fn from(e: AppError) -> Self {
        UploadError::App(e)
    }
}

/// Read the form: `_csrf` first (the session layer left this body unread),
/// then the choices and the file, which is streamed into storage.
async fn receive(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    req: Request,
    choices: &mut Choices,
) -> Result<Import, UploadError> {
    let mut form = Multipart::from_request(req, state).await.map_err(|_| UploadError::Unreadable)?;
    let first = form.next_field().await?.ok_or(UploadError::Forbidden)?;
    if first.name() != Some("_csrf") {
        return Err(UploadError::Forbidden);
    }
    let sent = text_field(first).await?;
    if !kith_crypto::constant_time_eq(sent.as_bytes(), ui.csrf.as_bytes()) {
        return Err(UploadError::Forbidden);
    }
    let mut pending: Option<Pending> = None;
    while let Some(mut field) = form.next_field().await? {
        match field.name().unwrap_or("") {
            "preset" => choices.preset = Preset::parse(&text_field(field).await?),
            "dedupe" => choices.dedupe = Dedupe::parse(&text_field(field).await?),
            "dry_run" => choices.dry_run = !text_field(field).await?.is_empty(),
            "file" if pending.is_none() => {
                let file_name = field.file_name().map(str::trim).unwrap_or("").to_string();
                if file_name.is_empty() {
                    // No file chosen: the browser sends an empty part.
                    while field.chunk().await?.is_some() {}
                    continue;
                }
                let options =
                    ImportOptions { file_name, preset: None, mapping: None, dedupe: Dedupe::Update, dry_run: false };
                let mut upload = Pending(Some(imports::begin(&state.app, ctx, options)?));
                while let Some(chunk) = field.chunk().await? {
                    upload.upload().write(&chunk).await?;
                }
                pending = Some(upload);
            }
            _ => while field.chunk().await?.is_some() {},
        }
    }
    let Some(mut upload) = pending else {
        return Err(AppError::field("file", "choose a CSV or vCard file to import").into());
    };
    choices.apply(upload.upload().options_mut());
    Ok(upload.stage().await?)
}

pub async fn upload(State(state): State<WebState>, Extension(ui): Extension<UiCtx>, req: Request) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let mut choices = Choices::default();
    match receive(&state, &ui, &ctx, req, &mut choices).await {
        Ok(staged) => Redirect::to(&format!("/contacts/import/{}/map", staged.id)).into_response(),
        Err(UploadError::Forbidden) => simple_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Your form expired or came from another site. Go back, reload the page and try again.",
        ),
        Err(UploadError::TooLarge) => {
            let errors = Errors::from_app(AppError::field(
                "file",
                format!("is larger than {} MB; split it into smaller files", MAX_UPLOAD_BYTES / (1024 * 1024)),
            ));
            upload_view(&state, &ui, &ctx, &choices, errors, StatusCode::PAYLOAD_TOO_LARGE).await
        }
        Err(UploadError::Unreadable) => {
            let errors =
                Errors::from_app(AppError::field("file", "could not be received; check your connection and try again"));
            upload_view(&state, &ui, &ctx, &choices, errors, StatusCode::BAD_REQUEST).await
        }
        Err(UploadError::App(AppError::Forbidden)) => super::error_page(&AppError::Forbidden.into()),
        Err(UploadError::App(e)) => {
            let errors = Errors::from_app(e).only(&["file"]);
            upload_view(&state, &ui, &ctx, &choices, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------- step 2: columns ----------

#[derive(Deserialize, Default)]
pub struct MapQuery {
    #[serde(default)]
    preset: Option<String>,
}

/// The workspace's contact custom fields: (key, label).
async fn custom_targets(state: &WebState, ctx: &Context) -> Vec<(String, String)> {
    custom_fields::list(&state.app, ctx, RecordType::Contact)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|f| (f.key, f.label))
        .collect()
}

/// The columns page. `chosen` keeps what was picked when the form comes back with an error.
async fn map_view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    id: Uuid,
    preset: Option<Preset>,
    chosen: Option<(&HashMap<String, String>, Dedupe, bool)>,
    errors: Errors,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let preview = match imports::preview(&state.app, ctx, id, preset, PREVIEW_ROWS).await {
        Ok(p) => p,
        // Already queued (or discarded): its page says what happened.
        Err(AppError::Conflict(..)) => return Redirect::to(&format!("/contacts/import/{id}")).into_response(),
        Err(e) => return load_error(e),
    };
    let imp = &preview.import;
    let vcard = imp.format == "vcard";
    let custom = custom_targets(state, ctx).await;
    let columns = preview
        .columns
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let current = chosen
                .and_then(|(m, _, _)| m.get(&format!("col_{index}")).cloned())
                .unwrap_or_else(|| c.target.clone());
            let samples: Vec<&str> = preview
                .rows
                .iter()
                .filter_map(|r| r.cells.get(index).map(String::as_str))
                .filter(|v| !v.is_empty())
                .take(3)
                .collect();
            MapColumn {
                index,
                key: c.key.clone(),
                samples: samples.join(" · "),
                groups: target_groups(&current, &custom),
            }
        })
        .collect();
    let preset_str = preview.preset.map(|p| p.as_str()).unwrap_or("vcard");
    let (dedupe, dry_run) = chosen.map(|(_, d, r)| (d, r)).unwrap_or((imp.dedupe, imp.dry_run));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Import contacts: check the columns", "contacts", "").await;
    render_status(
        status,
        &MapPage {
            shell,
            id: imp.id.to_string(),
            file_name: imp.file_name.clone(),
            size: size_text(imp.file_bytes),
            vcard,
            preset: preset_str.to_string(),
            preset_name: preset_label(preset_str),
            presets: PRESETS.iter().map(|(v, l)| Opt::new(*v, *l, preset_str)).collect(),
            columns,
            headers: preview.columns.iter().map(|c| c.key.clone()).collect(),
            rows: preview
                .rows
                .into_iter()
                .map(|r| PreviewRowView { line: r.line, cells: r.cells, error: r.error.unwrap_or_default() })
                .collect(),
            dedupes: dedupe_opts(dedupe_str(dedupe)),
            dry_run,
            errors,
        },
    )
}

pub async fn map_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<MapQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let preset = q.preset.as_deref().and_then(Preset::parse);
    map_view(&state, &ui, &ctx, id, preset, None, Errors::default()).await
}

pub async fn confirm(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let preset = f.get("preset").and_then(|p| Preset::parse(p));
    let dedupe = f.get("dedupe").and_then(|d| Dedupe::parse(d)).unwrap_or(Dedupe::Update);
    let dry_run = f.get("dry_run").is_some_and(|v| !v.is_empty());
    // The columns by their names in the file, as the preview lists them.
    let mapping = match imports::preview(&state.app, &ctx, id, preset, 0).await {
        Ok(p) if p.import.format == "csv" => {
            let columns: serde_json::Map<String, serde_json::Value> = p
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let target = f.get(&format!("col_{i}")).cloned().unwrap_or_else(|| c.target.clone());
                    (c.key.clone(), serde_json::Value::String(target))
                })
                .collect();
            Some(serde_json::json!({ "columns": columns }).to_string())
        }
        Ok(_) => None,
        // Already queued: confirm answers with the import it became.
        Err(AppError::Conflict(..)) => None,
        Err(e) => return load_error(e),
    };
    let choices = Confirm { preset, mapping, dedupe, dry_run };
    match imports::confirm(&state.app, &ctx, id, &choices).await {
        Ok(import) => {
            let what = if import.dry_run { "Dry run started: nothing will be saved." } else { "Import started." };
            redirect_with(&format!("/contacts/import/{}", import.id), Flash::success(what), state.config.secure_cookies)
        }
        Err(AppError::NotFound) => not_found_page(),
        Err(AppError::Conflict(..)) => redirect_with(
            "/contacts/import",
            Flash::error("That upload was already imported or discarded. Upload the file again to import it."),
            state.config.secure_cookies,
        ),
        Err(e) => {
            let errors = Errors::message(message_of(e));
            map_view(&state, &ui, &ctx, id, preset, Some((&f, dedupe, dry_run)), errors).await
        }
    }
}

pub async fn discard(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let flash = match imports::discard(&state.app, &ctx, id).await {
        Ok(()) => Flash::success("Upload discarded; nothing was imported."),
        Err(AppError::NotFound) => return not_found_page(),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with("/contacts/import", flash, state.config.secure_cookies)
}

// ---------- step 3: progress ----------

/// `/contacts/import/{id}` (the page) and `/contacts/import/{id}.json` (its counters).
pub async fn progress(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(raw): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let (raw_id, json) = match raw.strip_suffix(".json") {
        Some(id) => (id, true),
        None => (raw.as_str(), false),
    };
    let Some(id) = parse_id(raw_id) else { return not_found_page() };
    let import = match imports::get(&state.app, &ctx, id).await {
        Ok(i) => i,
        Err(AppError::NotFound) if json => return (StatusCode::NOT_FOUND, Json(serde_json::json!({}))).into_response(),
        Err(e) => return load_error(e),
    };
    if let Some(next) = import.replaced_by() {
        let to = if json { format!("/contacts/import/{next}.json") } else { format!("/contacts/import/{next}") };
        return Redirect::to(&to).into_response();
    }
    if json {
        return Json(ImportStatus::of(&import)).into_response();
    }
    match import.status.as_str() {
        imports::STAGED => return Redirect::to(&format!("/contacts/import/{id}/map")).into_response(),
        imports::DISCARDED => {
            return redirect_with(
                "/contacts/import",
                Flash::error("That upload was discarded; nothing was imported."),
                state.config.secure_cookies,
            )
        }
        _ => {}
    }
    let shell =
        Shell::build(&state, &ui, &auth, Some(&ctx), &format!("Import of {}", import.file_name), "contacts", "").await;
    super::render(&ProgressPage {
        shell,
        s: ImportStatus::of(&import),
        file_name: import.file_name.clone(),
        size: size_text(import.file_bytes),
        preset: preset_label(&import.preset),
        dedupe: dedupe_label(import.dedupe),
        dry_run: import.dry_run,
        started: When::new(import.created_at_ms),
        rerun: import.dry_run
            && (matches!(import.status.as_str(), "queued" | "running")
                || kith_app::crm::import_rerun::can_run_for_real(&state.app, &ctx, &import).await),
    })
}

/// `POST /contacts/import/{id}/run`: the import a finished dry run was, for real.
pub async fn run_for_real(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    match kith_app::crm::import_rerun::run_for_real(&state.app, &ctx, id).await {
        Ok(import) => redirect_with(
            &format!("/contacts/import/{}", import.id),
            Flash::success("Importing for real now, with the dry run's file and choices."),
            state.config.secure_cookies,
        ),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => {
            redirect_with(&format!("/contacts/import/{id}"), Flash::error(message_of(e)), state.config.secure_cookies)
        }
    }
}

/// The per-row report: row, severity, code, message.
pub async fn report(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    match imports::report_csv(&state.app, &ctx, id).await {
        Ok(bytes) => {
            let mut resp = bytes.into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"import-{id}-report.csv\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            resp
        }
        Err(e) => load_error(e),
    }
}
