//! `/api/v1/imports`: contact imports from CSV (HubSpot, Salesforce,
//! Pipedrive or any sheet) or vCard. The upload is `multipart/form-data`,
//! streamed into storage chunk by chunk as it arrives (never held whole in
//! memory); the import then runs as a background job, so the POST answers 202
//! and the client polls `GET /api/v1/imports/{id}`.

use super::dto::ImportList;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{field_error, parse_id, ApiQuery, ListQuery};
use crate::state::WebState;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::imports::{self as app, Dedupe, Import, ImportOptions, Preset, Upload};
use kith_app::{Context, ErrorCode};
use serde::Deserialize;

/// The largest upload `POST /api/v1/imports` accepts (the rest of the API
/// keeps [`super::MAX_BODY_BYTES`]). Memory use does not grow with it: the
/// file goes to storage in 1 MiB chunks. 512 MiB is millions of CSV rows,
/// far beyond an export of any CRM this replaces.
pub const MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;
/// The largest text field of the form (`mapping` is the only long one).
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;

/// The form `POST /api/v1/imports` takes (this only describes it in the
/// OpenAPI document). Fields may come in any order.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// Required: the CSV or vCard file (UTF-8 with or without BOM, UTF-16 or Windows-1252).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `hubspot`, `salesforce`, `pipedrive` or `generic`; detected from the header row when absent.
    preset: Option<String>,
    /// JSON `{"columns": {"<column>": "<target>"}}`; the preset's mapping when absent.
    mapping: Option<String>,
    /// What to do with a contact that already exists: `update` (default), `skip` or `create`.
    dedupe: Option<Dedupe>,
    /// `true` counts what would happen without writing anything; default `false`.
    dry_run: Option<bool>,
}

/// The form's text fields as read so far.
#[derive(Default)]
struct Choices {
    preset: Option<Preset>,
    mapping: Option<String>,
    dedupe: Option<Dedupe>,
    dry_run: Option<bool>,
    seen: Vec<String>,
}

impl Choices {
    fn set(&mut self, name: &str, value: &str) -> Result<(), ApiError> {
        if self.seen.iter().any(|s| s == name) {
            return Err(field_error(name, "is given more than once"));
        }
        self.seen.push(name.to_string());
        let value = value.trim();
        // An empty field is the same as none (HTML forms send every field).
        if value.is_empty() {
            return Ok(());
        }
        match name {
            "preset" => {
                let preset = Preset::parse(value)
                    .ok_or_else(|| field_error(name, "must be hubspot, salesforce, pipedrive or generic"))?;
                self.preset = Some(preset);
            }
            "mapping" => {
                // The columns are checked against the file's header when the upload ends.
                if !serde_json::from_str::<serde_json::Value>(value).is_ok_and(|v| v.is_object()) {
                    return Err(field_error(name, "must be a JSON object: {\"columns\": {...}}"));
                }
                self.mapping = Some(value.to_string());
            }
            "dedupe" => {
                self.dedupe =
                    Some(Dedupe::parse(value).ok_or_else(|| field_error(name, "must be update, skip or create"))?);
            }
            "dry_run" => {
                self.dry_run = Some(match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(field_error(name, "must be true or false")),
                });
            }
            _ => unreachable!("only the form's text fields are set"),
        }
        Ok(())
    }

    fn apply(&self, options: &mut ImportOptions) {
        options.preset = self.preset;
        options.mapping.clone_from(&self.mapping);
        options.dedupe = self.dedupe.unwrap_or(Dedupe::Update);
        options.dry_run = self.dry_run.unwrap_or(false);
    }
}

/// An upload that is aborted (its stored chunks deleted) unless it was
/// finished — also when the client goes away mid-upload and axum drops the
/// handler, which is why this is a guard and not an explicit call.
struct Pending(Option<Upload>);

impl Pending {
    fn upload(&mut self) -> &mut Upload {
        self.0.as_mut().expect("an upload until finished")
    }

    async fn finish(mut self) -> Result<Import, ApiError> {
        let upload = self.0.take().expect("an upload until finished");
        Ok(upload.finish().await?)
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

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::PayloadTooLarge, "the upload is larger than 512 MiB")
    } else {
        ApiError::bad_request(format!("the form cannot be read: {}", e.body_text()))
    }
}

/// A text field, refused beyond [`MAX_TEXT_FIELD_BYTES`].
async fn text(mut field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            return Err(field_error(name, "is too long"));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| field_error(name, "must be UTF-8 text"))
}

/// Upload a file to import contacts from (members and up).
///
/// The body is `multipart/form-data` (anything else is a 415) with a `file`
/// field and optional `preset`, `mapping`, `dedupe` and `dry_run` fields, in
/// any order; any other field is a 422. Uploads may be up to 512 MiB. The
/// answer is 202 with the queued import and its `Location`; poll it until
/// `status` is `done` or `failed`, then read the per-row report.
///
/// `Idempotency-Key` is refused (422) here: the upload is streamed, not kept,
/// so it cannot be compared with a retry. Before retrying a failed upload,
/// look at `GET /api/v1/imports`; a re-run of the same file with `dedupe`
/// `update` or `skip` creates no duplicates.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses((status = 202, body = Import, headers(("Location" = String, description = "The import's URL"))),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.trim_start().to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the file as multipart/form-data, in a field named `file`",
        ));
    }
    let mut form = Multipart::from_request(req, &state)
        .await
        .map_err(|e| ApiError::bad_request(format!("the form cannot be read: {}", e.body_text())))?;
    let mut choices = Choices::default();
    let mut pending: Option<Pending> = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                if pending.is_some() {
                    return Err(field_error("file", "is given more than once"));
                }
                let file_name = field.file_name().filter(|n| !n.trim().is_empty()).unwrap_or("upload").to_string();
                let mut options =
                    ImportOptions { file_name, preset: None, mapping: None, dedupe: Dedupe::Update, dry_run: false };
                choices.apply(&mut options);
                let mut upload = Pending(Some(app::begin(&state.app, &ctx, options)?));
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    upload.upload().write(&chunk).await?;
                }
                pending = Some(upload);
            }
            "preset" | "mapping" | "dedupe" | "dry_run" => {
                let value = text(field, &name).await?;
                choices.set(&name, &value)?;
            }
            "" => return Err(ApiError::bad_request("every field of the form needs a name")),
            other => return Err(field_error(other, "is not a field of this form")),
        }
    }
    let Some(mut upload) = pending else {
        return Err(field_error("file", "is required"));
    };
    // Text fields sent after the file count too.
    choices.apply(upload.upload().options_mut());
    let import = upload.finish().await?;
    let location = format!("/api/v1/imports/{}", import.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(import)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportListQuery {
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The workspace's imports, newest first.
#[utoipa::path(get, path = "/api/v1/imports", tag = "imports", params(ImportListQuery),
    responses((status = 200, body = ImportList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<ImportListQuery>,
) -> Result<Json<ImportList>, ApiError> {
    let page = ListQuery { limit: q.limit, cursor: q.cursor }.page()?;
    let found = app::list(&state.app, &ctx, &page).await?;
    Ok(Json(ImportList::from_page(found, |i| i)))
}

/// One import: `status` is `queued`, `running`, `done` or `failed` (then
/// `error` says why); the counters grow as batches commit.
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", params(("id" = String, Path)),
    responses((status = 200, body = Import), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<Import>, ApiError> {
    Ok(Json(app::get(&state.app, &ctx, parse_id(&id)?).await?))
}

/// The per-row report of an import as a CSV download: `row`, `severity`
/// (`error` or `warning`), `code`, `message`.
#[utoipa::path(get, path = "/api/v1/imports/{id}/report", tag = "imports", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let csv = app::report_csv(&state.app, &ctx, id).await?;
    let disposition = format!("attachment; filename=\"import-{id}-report.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        csv,
    ))
}
