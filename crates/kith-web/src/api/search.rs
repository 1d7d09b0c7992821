//! `/api/v1/search`: one box over contacts (names, e-mails, phones in any
//! format), companies, deals and notes (exact words), through the same
//! visibility filter as every list.

use super::dto::SearchResults;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{field_error, parse_limit, ApiQuery};
use crate::state::WebState;
use axum::extract::State;
use axum::{Extension, Json};
use kith_app::crm::search;
use kith_app::Context;
use serde::Deserialize;

/// Longer queries are refused rather than cut: only the first few words count anyway.
pub const MAX_QUERY_CHARS: usize = 500;
const DEFAULT_LIMIT: u32 = 20;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for, at most 500 characters; empty finds nothing.
    q: Option<String>,
    /// Results, 1–50 (larger values are clamped to 50); default 20.
    limit: Option<String>,
}

/// Records and notes matching `q`, best first.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    let limit = parse_limit(q.limit.as_deref())?.unwrap_or(DEFAULT_LIMIT);
    let text = q.q.unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(field_error("q", "must be at most 500 characters"));
    }
    if text.trim().is_empty() {
        return Ok(Json(SearchResults { data: Vec::new(), next_cursor: None }));
    }
    let data = search::search(&state.app, &ctx, &text, limit).await?;
    Ok(Json(SearchResults { data, next_cursor: None }))
}
