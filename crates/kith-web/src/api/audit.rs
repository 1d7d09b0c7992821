use super::dto::{AuditEntryOut, AuditList};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ListQuery;
use crate::state::WebState;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use kith_app::Context;

/// The workspace's audit trail, newest first (admins).
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", params(ListQuery),
    responses((status = 200, body = AuditList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<ListQuery>,
) -> Result<Json<AuditList>, ApiError> {
    // The audit cursor is the same opaque form as every list's: its key is the sequence number.
    let page = q.page()?;
    let before = page.after;
    let (rows, next) = kith_app::audit::list(&state.app, &ctx, before, page.limit).await?;
    Ok(Json(AuditList {
        data: rows.into_iter().map(AuditEntryOut::from).collect(),
        next_cursor: next.map(|c| c.encode()),
    }))
}
