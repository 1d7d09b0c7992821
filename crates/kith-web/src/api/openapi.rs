//! The OpenAPI document, assembled from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Kith API", description = "Kith's REST API. Lists are `{data, next_cursor}`; errors are `{error: {code, message, fields?}}`."),
    paths(
        super::me::get_me,
        super::workspaces::list, super::workspaces::create, super::workspaces::get, super::workspaces::update,
        super::members::list, super::members::get, super::members::update, super::members::remove,
        super::members::list_invitations, super::members::invite, super::members::get_invitation, super::members::revoke_invitation,
        super::teams::list, super::teams::create, super::teams::get, super::teams::update, super::teams::delete,
        super::teams::list_members, super::teams::add_member, super::teams::remove_member,
        super::tokens::list, super::tokens::create, super::tokens::revoke,
        super::audit::list,
        super::contacts::list, super::contacts::create, super::contacts::get, super::contacts::update, super::contacts::delete,
        super::contacts::duplicates, super::contacts::merge,
        super::views::list, super::views::create, super::views::get, super::views::update, super::views::delete,
        super::views::start_bulk, super::views::get_bulk,
        super::batch::create_contacts, super::batch::update_contacts, super::batch::create_companies,
        super::batch::update_companies, super::batch::create_deals, super::batch::update_deals,
        super::ai::get_settings, super::ai::put_settings, super::ai::test_settings, super::ai::usage,
        super::ai::list_calls,
        super::channels::list, super::channels::create, super::channels::get, super::channels::update,
        super::channels::delete, super::channels::events, super::channels::replay_event,
        super::channels::failed_sends, super::channels::retry_failed_send,
        super::canned::list, super::canned::create, super::canned::get, super::canned::update, super::canned::delete,
        super::conversations::list, super::conversations::get, super::conversations::update,
        super::conversations::messages, super::conversations::send, super::conversations::add_note,
        super::conversations::mark_read, super::conversations::ai_status, super::conversations::ai_resume,
        super::conversations::suggestion,
        super::attachments::upload, super::attachments::download, super::attachments::delete,
        super::webhooks::list, super::webhooks::create, super::webhooks::get, super::webhooks::update,
        super::webhooks::delete, super::webhooks::deliveries, super::webhooks::replay,
        super::companies::list, super::companies::create, super::companies::get, super::companies::update, super::companies::delete,
        super::tags::list, super::tags::create, super::tags::update, super::tags::delete,
        super::custom_fields::list, super::custom_fields::create, super::custom_fields::get, super::custom_fields::update,
        super::custom_fields::delete,
        super::deals::list, super::deals::create, super::deals::get, super::deals::update, super::deals::delete,
        super::deals::board,
        super::pipelines::list, super::pipelines::create, super::pipelines::get, super::pipelines::update,
        super::pipelines::delete,
        super::notes::list, super::notes::create, super::notes::get, super::notes::update, super::notes::delete,
        super::activities::create, super::activities::get, super::activities::update, super::activities::delete,
        super::tasks::list, super::tasks::create, super::tasks::get, super::tasks::update, super::tasks::delete,
        super::timeline::contact, super::timeline::company, super::timeline::deal,
        super::search::search,
        super::assist::contact_summary, super::assist::ask, super::assist::related, super::assist::draft,
        super::assist::speech, super::assist::speech_file, super::assist::delete_speech,
        super::assist::knowledge_summary,
        super::knowledge::list, super::knowledge::create, super::knowledge::get, super::knowledge::update,
        super::knowledge::delete, super::knowledge::search,
        super::imports::create, super::imports::list, super::imports::get, super::imports::report,
        super::exports::contacts, super::exports::companies, super::exports::deals,
        super::exports::create, super::exports::list, super::exports::get, super::exports::download,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
