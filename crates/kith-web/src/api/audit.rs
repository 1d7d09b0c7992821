use super::dto::{AuditEntryOut, AuditList};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{field_error, ListQuery};
use crate::state::WebState;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use kith_app::Context;
use kith_domain::page::Cursor;

/// The workspace's audit trail, newest first (admins).
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", params(ListQuery),
    responses((status = 200, body = AuditList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Extension(ctx): Extension<Context>,
    Query(q): Query<ListQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let page = q.page()?;
    let before = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(Cursor::decode(c).ok_or_else(|| field_error("cursor", "is not a cursor from this API"))?),
    };
    let (rows, next) = kith_app::audit::list(&state.app, &ctx, before, page.limit).await?;
    Ok(Json(AuditList {
        data: rows.into_iter().map(AuditEntryOut::from).collect(),
        next_cursor: next.map(|c| c.encode()),
    }))
}
