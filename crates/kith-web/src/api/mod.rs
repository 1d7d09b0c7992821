//! `/api/v1`: JSON over HTTP with bearer tokens. Bare objects, `{data,
//! next_cursor}` lists, one error shape, `Idempotency-Key` on POST, `ETag` and
//! `If-Match` on versioned resources, and an OpenAPI document generated from
//! the handlers' annotations.

mod activities;
mod ai;
mod assist;
pub(crate) mod attachments;
mod audit;
mod auth;
mod batch;
mod canned;
mod channels;
mod companies;
mod contacts;
pub(crate) mod conversations;
mod custom_fields;
mod deals;
mod dto;
mod exports;
mod idempotency;
mod imports;
mod knowledge;
mod me;
mod members;
mod notes;
pub mod openapi;
mod pipelines;
pub(crate) mod records;
mod search;
mod tags;
mod tasks;
mod teams;
mod timeline;
mod tokens;
mod views;
mod webhooks;
mod workspaces;

use crate::error::ApiError;
use crate::state::WebState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};
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
        .route("/contacts/{id}/summary", post(assist::contact_summary))
        .route("/contacts/{id}/related", get(assist::related))
        .route("/ai/questions", post(assist::ask))
        .route("/ai/drafts", post(assist::draft))
        .route("/ai/speech", post(assist::speech))
        .route("/ai/speech/{file_id}", get(assist::speech_file).delete(assist::delete_speech))
        .route("/knowledge/{id}/summary", post(assist::knowledge_summary))
        .route("/views", get(views::list).post(views::create))
        .route("/views/{id}", get(views::get).patch(views::update).delete(views::delete))
        .route("/bulk", post(views::start_bulk))
        .route("/bulk/{id}", get(views::get_bulk))
        .route(
            "/contacts/batch",
            post(batch::create_contacts)
                .patch(batch::update_contacts)
                .layer(DefaultBodyLimit::max(batch::MAX_BODY_BYTES)),
        )
        .route(
            "/companies/batch",
            post(batch::create_companies)
                .patch(batch::update_companies)
                .layer(DefaultBodyLimit::max(batch::MAX_BODY_BYTES)),
        )
        .route(
            "/deals/batch",
            post(batch::create_deals).patch(batch::update_deals).layer(DefaultBodyLimit::max(batch::MAX_BODY_BYTES)),
        )
        .route("/ai/settings", get(ai::get_settings).put(ai::put_settings))
        .route("/ai/settings/test", post(ai::test_settings))
        .route("/ai/usage", get(ai::usage))
        .route("/ai/calls", get(ai::list_calls))
        .route("/channels", get(channels::list).post(channels::create))
        .route("/channels/{id}", get(channels::get).patch(channels::update).delete(channels::delete))
        .route("/channels/{id}/events", get(channels::events))
        .route("/channels/{id}/events/{event_id}/replay", post(channels::replay_event))
        .route("/channels/{id}/failed-sends", get(channels::failed_sends))
        .route("/channels/{id}/failed-sends/{message_id}/retry", post(channels::retry_failed_send))
        .route("/canned-responses", get(canned::list).post(canned::create))
        .route("/canned-responses/{id}", get(canned::get).patch(canned::update).delete(canned::delete))
        .route("/attachments", post(attachments::upload).layer(DefaultBodyLimit::max(attachments::MAX_UPLOAD_BODY)))
        .route("/attachments/{id}", get(attachments::download).delete(attachments::delete))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::get).patch(conversations::update))
        .route("/conversations/{id}/messages", get(conversations::messages).post(conversations::send))
        .route("/conversations/{id}/notes", post(conversations::add_note))
        .route("/conversations/{id}/read", post(conversations::mark_read))
        .route("/conversations/{id}/ai", get(conversations::ai_status))
        .route("/conversations/{id}/ai/resume", post(conversations::ai_resume))
        .route("/conversations/{id}/suggestion", post(conversations::suggestion))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::get).patch(webhooks::update).delete(webhooks::delete))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/webhooks/{id}/deliveries/{delivery_id}/replay", axum::routing::post(webhooks::replay))
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
        .route("/contacts/{id}/timeline", get(timeline::contact))
        .route("/companies/{id}/timeline", get(timeline::company))
        .route("/deals", get(deals::list).post(deals::create))
        .route("/deals/board", get(deals::board))
        .route("/deals/{id}", get(deals::get).patch(deals::update).delete(deals::delete))
        .route("/deals/{id}/timeline", get(timeline::deal))
        .route("/pipelines", get(pipelines::list).post(pipelines::create))
        .route("/pipelines/{id}", get(pipelines::get).patch(pipelines::update).delete(pipelines::delete))
        .route("/notes", get(notes::list).post(notes::create))
        .route("/notes/{id}", get(notes::get).patch(notes::update).delete(notes::delete))
        .route("/activities", post(activities::create))
        .route("/activities/{id}", get(activities::get).patch(activities::update).delete(activities::delete))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/{id}", get(tasks::get).patch(tasks::update).delete(tasks::delete))
        .route("/search", get(search::search))
        .route(
            "/knowledge",
            get(knowledge::list).post(knowledge::create).layer(DefaultBodyLimit::max(knowledge::MAX_UPLOAD_BYTES)),
        )
        .route("/knowledge/search", get(knowledge::search))
        .route("/knowledge/{id}", get(knowledge::get).patch(knowledge::update).delete(knowledge::delete))
        // Only the upload gets past the 1 MiB JSON limit; it is streamed, not buffered.
        .route(
            "/imports",
            post(imports::create).layer(DefaultBodyLimit::max(imports::MAX_UPLOAD_BYTES)).get(imports::list),
        )
        .route("/imports/{id}", get(imports::get))
        .route("/imports/{id}/report", get(imports::report))
        // Static segments win over `{id}`: `/contacts/export` is never read as an id.
        .route("/contacts/export", get(exports::contacts))
        .route("/companies/export", get(exports::companies))
        .route("/deals/export", get(exports::deals))
        .route("/exports", get(exports::list).post(exports::create))
        .route("/exports/{id}", get(exports::get))
        .route("/exports/{id}/download", get(exports::download))
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
