use super::dto::{MeOut, UserOut, WorkspaceOut};
use crate::error::{ApiError, ErrorBody};
use axum::{Extension, Json};
use kith_app::identity::Me;
use kith_app::Context;

/// The caller: their user and the workspace their token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_me(Extension(ctx): Extension<Context>, Extension(me): Extension<Me>) -> Result<Json<MeOut>, ApiError> {
    let user = me.user;
    let w = me.workspace;
    Ok(Json(MeOut {
        user: UserOut {
            id: user.id,
            email: user.email,
            name: user.name,
            email_verified: user.email_verified_ms.is_some(),
            two_factor_enabled: user.totp_enabled,
            created_at_ms: user.created_ms,
        },
        workspace: WorkspaceOut {
            id: w.id,
            name: w.name,
            role: ctx.role,
            version: w.version,
            created_at_ms: w.created_ms,
            updated_at_ms: w.updated_ms,
        },
        credential: "token".into(),
    }))
}
