//! `/api/v1`: the on-demand AI features — a contact's summary, questions over the CRM, related contacts, drafts
//! and text-to-speech (see `kith_app::ai::assist`). Answers say how they were made (`mode`): by the workspace's
//! model, or in the reduced form used without an AI endpoint.
//!
//! Stored speech is served as a download unless it is a plain audio type, never sniffed.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{parse_id, ApiJson};
use crate::state::WebState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kith_app::ai::assist::{self, Answer, Draft, DraftInput, RelatedContact, SpeechFile, Summary};
use kith_app::ai::documents;
use kith_app::{AppError, Context};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A contact's summary from what the caller may see of its timeline (notes, tasks, activities, messages) and
/// deals. `mode` is `model` (feature `summaries`, metered, `call_id` set) or `extractive` when the workspace has
/// no AI endpoint: sentences picked from the record itself.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/summary", tag = "ai", params(("id" = String, Path)),
    responses((status = 200, body = Summary), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn contact_summary(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(assist::contact_summary(&state.app, &ctx, parse_id(&id)?).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionInput {
    /// At most 500 characters.
    pub question: String,
}

/// A question over the workspace's CRM records (feature `questions`). Records are found by the question's words
/// through the same visibility filter as search; only their fields reach the model, and `records` lists them
/// (`cited` when the answer refers to them). Without an AI endpoint `mode` is `records`: the matching records are
/// the answer.
#[utoipa::path(post, path = "/api/v1/ai/questions", tag = "ai", request_body = QuestionInput,
    responses((status = 200, body = Answer), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn ask(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<QuestionInput>,
) -> Result<Json<Answer>, ApiError> {
    Ok(Json(assist::ask(&state.app, &ctx, &body.question).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RelatedList {
    pub data: Vec<RelatedContact>,
    /// Always null: the list is short (at most 20) and complete.
    pub next_cursor: Option<String>,
}

/// Contacts sharing the contact's company, e-mail domain (free-mail domains excluded) or a deal, among those the
/// caller may see; most shared attributes first. No model call.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/related", tag = "ai", params(("id" = String, Path)),
    responses((status = 200, body = RelatedList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn related(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<RelatedList>, ApiError> {
    let data = assist::related_contacts(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(Json(RelatedList { data, next_cursor: None }))
}

/// A draft (feature `drafting`): the template's `{{variables}}` filled in for the contact, then rewritten by the
/// model per the instructions. Without an AI endpoint (or without instructions) `mode` is `template`: the rendered
/// template as it stands.
#[utoipa::path(post, path = "/api/v1/ai/drafts", tag = "ai", request_body = DraftInput,
    responses((status = 200, body = Draft), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn draft(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<DraftInput>,
) -> Result<Json<Draft>, ApiError> {
    Ok(Json(assist::draft(&state.app, &ctx, &body).await?))
}

/// A knowledge-base entry's summary (feature `summaries`): a document's or text's body, an offer, an FAQ, or an
/// imported website's passages. `mode` is `model` (metered against the entry, `call_id` set) or `extractive`
/// without an AI endpoint: the text's most representative sentences, in its order.
#[utoipa::path(post, path = "/api/v1/knowledge/{id}/summary", tag = "ai", params(("id" = String, Path)),
    responses((status = 200, body = Summary), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn knowledge_summary(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(documents::summary(&state.app, &ctx, parse_id(&id)?).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeechInput {
    /// The text to speak (at most 4096 characters), or leave it out and give `contact_id` (or `knowledge_id`) to
    /// speak that record's summary.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    /// A knowledge-base entry whose summary to speak.
    #[serde(default)]
    pub knowledge_id: Option<Uuid>,
}

/// Text-to-speech (feature `speech`): the audio is stored as a file that only the caller can fetch, deleted after
/// 30 days (`expires_at_ms`) or when the caller deletes it. Speech has no reduced form: without an endpoint or a
/// speech model it is `ai_not_configured` (409).
#[utoipa::path(post, path = "/api/v1/ai/speech", tag = "ai", request_body = SpeechInput,
    responses((status = 201, body = SpeechFile), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn speech(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<SpeechInput>,
) -> Result<impl IntoResponse, ApiError> {
    let file = match (body.text, body.contact_id, body.knowledge_id) {
        (Some(text), None, None) => assist::speak(&state.app, &ctx, &text).await?,
        (None, Some(id), None) => assist::speak_summary(&state.app, &ctx, id).await?,
        (None, None, Some(id)) => documents::speak_summary(&state.app, &ctx, id).await?,
        _ => return Err(AppError::field("text", "give one of text, contact_id or knowledge_id").into()),
    };
    Ok((StatusCode::CREATED, Json(file)))
}

/// Stored speech audio. Plain audio types play inline; anything else the endpoint returned comes as an
/// attachment. Never sniffed.
#[utoipa::path(get, path = "/api/v1/ai/speech/{file_id}", tag = "ai", params(("file_id" = String, Path)),
    responses((status = 200, description = "The audio", content((Vec<u8> = "audio/mpeg"))),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn speech_file(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(file_id): Path<String>,
) -> Result<Response, ApiError> {
    let (content_type, audio) = assist::speech_file(&state.app, &ctx, parse_id(&file_id)?).await?;
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
    Ok(resp)
}

/// Delete one of your speech files now (otherwise it is deleted 30 days after it was made). Anyone else's is 404.
#[utoipa::path(delete, path = "/api/v1/ai/speech/{file_id}", tag = "ai", params(("file_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_speech(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(file_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    assist::delete_speech(&state.app, &ctx, parse_id(&file_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
