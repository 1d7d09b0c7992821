//! `/api/v1`: JSON over HTTP with bearer tokens. Bare objects, `{data,
//! next_cursor}` lists, one error shape, `Idempotency-Key` on POST, `ETag` and
//! `If-Match` on versioned resources, and an OpenAPI document generated from
//! the handlers' annotations.

mod audit;
mod auth;
mod companies;
mod contacts;
mod custom_fields;
mod dto;
mod idempotency;
mod me;
mod members;
pub mod openapi;
mod records;
mod tags;
mod teams;
mod tokens;
mod workspaces;

use crate::error::ApiError;
use crate::state::WebState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, put};
use axum::Router;

/// The largest JSON body any endpoint of this API accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn routes(state: WebState) -> Router<WebState> {
    let authed = Router::new()
        .route("/me", get(me::get_me))
        .route("/workspaces", get(workspaces::list).post(workspaces::create))
        .route("/workspaces/{id}", get(workspaces::get).patch(workspaces::update))
        .route("/members", get(members::list))
        .route("/members/{user_id}", get(members::get).patch(members::update).delete(members::remove))
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/{id}", get(teams::get).patch(teams::update).delete(teams::delete))
        .route("/teams/{id}/members", get(teams::list_members))
        .route("/teams/{id}/members/{user_id}", put(teams::add_member).delete(teams::remove_member))
        .route("/invitations", get(members::list_invitations).post(members::invite))
        .route("/invitations/{id}", get(members::get_invitation).delete(members::revoke_invitation))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/audit-log", get(audit::list))
        .route("/contacts", get(contacts::list).post(contacts::create))
        .route("/contacts/{id}", get(contacts::get).patch(contacts::update).delete(contacts::delete))
        .route("/contacts/{id}/duplicates", get(contacts::duplicates))
        .route("/contacts/{id}/merge", axum::routing::post(contacts::merge))
        .route("/companies", get(companies::list).post(companies::create))
        .route("/companies/{id}", get(companies::get).patch(companies::update).delete(companies::delete))
        .route("/tags", get(tags::list).post(tags::create))
        .route("/tags/{id}", patch(tags::update).delete(tags::delete))
        .route("/custom-fields", get(custom_fields::list).post(custom_fields::create))
        .route(
            "/custom-fields/{id}",
            get(custom_fields::get).patch(custom_fields::update).delete(custom_fields::delete),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(axum::middleware::from_fn_with_state(state, auth::require_token));
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .merge(authed)
        .fallback(|| async { ApiError::new(kith_app::ErrorCode::NotFound, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(kith_app::ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
