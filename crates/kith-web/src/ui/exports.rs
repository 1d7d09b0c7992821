//! Exports. The lists' "Export" menus stream what the list shows (its
//! filters, the viewer's visibility) as CSV, JSON or vCard; Settings → Data
//! export starts a whole-workspace ZIP (admins), lists the exports, and lets
//! their requester download a finished one.

use super::crm::{load_error, message_of, not_found_page, parse_id};
use super::pages::{Shell, When};
use super::{redirect_with, render, Flash, UiCtx};
use crate::extract::RequestOrigin;
use crate::state::WebState;
use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::Extension;
use kith_app::crm::exports::{self, Export, ViewFormat};
use kith_app::records::{ListFilter, SortKey};
use kith_app::AppError;
use kith_domain::crm::RecordType;
use kith_domain::page::PageRequest;
use serde::Serialize;

/// A response that streams `first` and then every later chunk `next` yields.
fn stream_body<S, F, Fut>(first: Vec<u8>, state: S, next: F) -> Body
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<(std::io::Result<Bytes>, S)>> + Send + 'static,
{
    let head = futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) });
    let rest = futures_util::stream::unfold(state, next);
    Body::from_stream(futures_util::StreamExt::chain(head, rest))
}

fn attachment(resp: &mut Response, content_type: &'static str, file_name: &str) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
}

/// Today as `YYYY-MM-DD` (UTC), for file names.
fn today() -> String {
    super::pages::iso_ms(kith_domain::time::now_ms())[..10].to_string()
}

/// Stream one list as a file.
async fn view_export(
    state: &WebState,
    ctx: &kith_app::Context,
    rt: RecordType,
    filter: ListFilter,
    format: ViewFormat,
) -> Response {
    let mut export = match exports::export_view(&state.app, ctx, rt, filter, SortKey::default(), format).await {
        Ok(e) => e,
        Err(AppError::Validation(_)) => return not_found_page(),
        Err(e) => return load_error(e),
    };
    // The first page before the answer starts, so that a failure is a page, not a cut file.
    let first = match export.next_chunk().await {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => return load_error(e),
    };
    let body = stream_body(first, Some(export), |state| async move {
        let mut export = state?;
        match export.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok(Bytes::from(bytes)), Some(export))),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "view export failed part way");
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    let mut resp = Response::new(body);
    let name = format!("{}-{}.{}", exports::plural(rt), today(), format.extension());
    attachment(&mut resp, format.content_type(), &name);
    resp
}

/// The format of `/contacts/export.csv` and its siblings.
fn format_of(matched: &MatchedPath) -> Option<ViewFormat> {
    let ext = matched.as_str().rsplit('.').next()?;
    ViewFormat::parse(ext)
}

/// `/contacts/export.{csv,json,vcf}`, `/companies/export.{csv,json}` and
/// `/deals/export.{csv,json}`: what the list shows with its filters (or the
/// ticked records, `ids=`).
pub async fn records(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    matched: MatchedPath,
    RawQuery(raw): RawQuery,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(format) = format_of(&matched) else { return not_found_page() };
    let rt = match matched.as_str().split('/').nth(1) {
        Some("companies") => RecordType::Company,
        Some("deals") => RecordType::Deal,
        _ => RecordType::Contact,
    };
    let st = super::lists::ListState::parse(rt, raw.as_deref());
    let filter = match st.list_filter(&state, &ctx).await {
        Ok(f) => f,
        Err(_) => return not_found_page(),
    };
    view_export(&state, &ctx, rt, filter, format).await
}

// ---------- Settings → Data export ----------

#[derive(Serialize)]
pub struct ExportStatus {
    pub id: String,
    pub status: String,
    pub status_label: &'static str,
    pub records: i64,
    pub size: String,
    pub error: String,
    pub running: bool,
    pub finished: bool,
    /// Finished, and the viewer asked for it (only they may download it).
    pub downloadable: bool,
}

pub struct ExportItem {
    pub s: ExportStatus,
    pub by: String,
    pub created: When,
    pub expires: When,
}

fn export_status(e: &Export, viewer: uuid::Uuid) -> ExportStatus {
    let finished = e.status == "done" || e.status == "failed";
    ExportStatus {
        id: e.id.to_string(),
        status: e.status.clone(),
        status_label: match e.status.as_str() {
            "queued" => "Waiting to start",
            "running" => "Writing",
            "done" => "Ready",
            "failed" => "Failed",
            _ => "Unknown",
        },
        records: e.records,
        size: if e.file_bytes > 0 { super::imports::size_text(e.file_bytes) } else { String::new() },
        error: e.error.clone().unwrap_or_default(),
        running: !finished,
        finished,
        downloadable: e.status == "done" && e.created_by == viewer,
    }
}

#[derive(Template)]
#[template(path = "settings_exports.html")]
pub struct ExportsPage {
    pub shell: Shell,
    pub exports: Vec<ExportItem>,
    pub next_cursor: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub struct CursorQuery {
    #[serde(default)]
    cursor: Option<String>,
}

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<CursorQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let page = PageRequest::new(Some(50), q.cursor.as_deref().and_then(kith_domain::page::Cursor::decode));
    let list = match exports::list_exports(&state.app, &ctx, &page).await {
        Ok(l) => l,
        Err(e) => return super::error_page(&e.into()),
    };
    let people = super::crm::People::load(&state, &ctx).await;
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Data export", "settings", "exports").await;
    render(&ExportsPage {
        shell,
        next_cursor: list.next.map(|c| c.encode()),
        exports: list
            .items
            .iter()
            .map(|e| ExportItem {
                s: export_status(e, auth.user.id),
                by: people.name(Some(e.created_by)),
                created: When::new(e.created_at_ms),
                expires: When::new(e.expires_at_ms),
            })
            .collect(),
    })
}

pub async fn start(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    match exports::start_workspace_export(&state.app, &ctx, &origin).await {
        Ok(_) => redirect_with(
            "/settings/exports",
            Flash::success("Export started. It is listed below; download it here when it is ready."),
            state.config.secure_cookies,
        ),
        Err(AppError::Forbidden) => super::error_page(&AppError::Forbidden.into()),
        Err(e) => redirect_with("/settings/exports", Flash::error(message_of(e)), state.config.secure_cookies),
    }
}

/// `/settings/exports/{id}.json`: one export's status, for the page's script.
pub async fn status(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(raw): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let Some(id) = raw.strip_suffix(".json").and_then(parse_id) else {
        return Redirect::to("/settings/exports").into_response();
    };
    match exports::get_export(&state.app, &ctx, id).await {
        Ok(e) => Json(export_status(&e, auth.user.id)).into_response(),
        Err(e) => {
            (crate::error::status_of(crate::error::ApiError::from(e).code), Json(serde_json::json!({}))).into_response()
        }
    }
}

pub async fn download(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let mut dl = match exports::download(&state.app, &ctx, id, &origin).await {
        Ok(d) => d,
        Err(AppError::Forbidden) => {
            return super::simple_page(
                StatusCode::FORBIDDEN,
                "Not yours to download",
                "Only the person who started an export may download it: it holds their personal records and \
                 private notes. Start an export of your own.",
            )
        }
        Err(e) => return load_error(e),
    };
    let first = match dl.next_chunk().await {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => return load_error(e),
    };
    let size = dl.export.file_bytes;
    let body = stream_body(first, Some(dl), |state| async move {
        let mut dl = state?;
        match dl.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok(Bytes::from(bytes)), Some(dl))),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "export download failed part way");
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    let mut resp = Response::new(body);
    attachment(&mut resp, "application/zip", &format!("kith-export-{}.zip", today()));
    if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
        resp.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    resp
}
