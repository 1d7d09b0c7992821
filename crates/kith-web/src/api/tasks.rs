//! `/api/v1/tasks`: to-dos with a due time and an assignee, optionally about
//! a record (then they follow its visibility and show on its timeline).

use super::dto::TaskList;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{etag, field_error, if_match, parse_id, ApiJson, ApiQuery, ListQuery};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use kith_app::crm::tasks::{self as app, Task, TaskInput, TaskView};
use kith_app::Context;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// `overdue`, `today`, `open` (default) or `done`.
    view: Option<String>,
    /// A user id, or `me` (default). Only admins list other people's tasks.
    assignee: Option<String>,
    /// The end of the caller's day (ms since 1970), for `today` and `overdue`;
    /// default: the end of the day in UTC.
    day_end_ms: Option<String>,
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<String>,
    /// The `next_cursor` of the previous page (with the same view).
    cursor: Option<String>,
}

/// One view of someone's tasks, by due time.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskListQuery),
    responses((status = 200, body = TaskList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<TaskListQuery>,
) -> Result<Json<TaskList>, ApiError> {
    let view = match q.view.as_deref() {
        None | Some("") | Some("open") => TaskView::Open,
        Some("overdue") => TaskView::Overdue,
        Some("today") => TaskView::Today,
        Some("done") => TaskView::Done,
        Some(_) => return Err(field_error("view", "must be overdue, today, open or done")),
    };
    let assignee = match q.assignee.as_deref() {
        None | Some("") | Some("me") => None,
        Some(a) => Some(Uuid::try_parse(a).map_err(|_| field_error("assignee", "must be a user id or `me`"))?),
    };
    let day_end_ms = match q.day_end_ms.as_deref() {
        None | Some("") => None,
        Some(d) => Some(
            d.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| field_error("day_end_ms", "must be a time in milliseconds since 1970"))?,
        ),
    };
    let page = ListQuery { limit: q.limit, cursor: q.cursor }.page()?;
    let found = app::list(&state.app, &ctx, assignee, view, day_end_ms, &page).await?;
    Ok(Json(TaskList::from_page(found, |t| t)))
}

/// Create a task (`title` is required). The assignee defaults to the
/// creator; `record_type` and `record_id` go together.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = TaskInput,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Task), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiJson(body): ApiJson<TaskInput>,
) -> Result<impl IntoResponse, ApiError> {
    let task = app::create(&state.app, &ctx, &body).await?;
    Ok((StatusCode::CREATED, [etag(task.version)], Json(task)))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let task = app::get(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(([etag(task.version)], Json(task)))
}

/// Change a task; `done: true` completes it, `false` reopens it. A task never
/// moves to another record. Send `If-Match` with the ETag you read.
#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "tasks", request_body = TaskInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Task), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TaskInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let task = app::update(&state.app, &ctx, id, &body, if_match(&headers)?).await?;
    Ok(([etag(task.version)], Json(task)))
}

#[utoipa::path(delete, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app::delete(&state.app, &ctx, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
