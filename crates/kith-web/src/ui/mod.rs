//! The server-rendered UI. Every page is a real URL with a form that works
//! without JavaScript; the session middleware here resolves the browser's
//! session once per request, enforces CSRF on every POST, and carries flash
//! messages across redirects.

// Handlers return a ready `Response` as the error of early exits (redirects, error
// pages); boxing them would only add noise.
#![allow(clippy::result_large_err)]

/// Resolve the signed-in context or return the redirect the caller should send.
macro_rules! signed_in {
    ($state:expr, $ui:expr) => {
        match $crate::ui::require_context(&$state, &$ui).await {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

mod ai_settings;
mod assistant;
mod auth;
mod bulk;
mod channels_settings;
mod companies;
mod contacts;
mod cookies;
mod crm;
mod deals;
mod exports;
mod home;
mod imports;
mod inbox;
mod inbox_files;
mod knowledge;
mod lists;
mod pages;
mod pipelines;
mod search;
mod settings;
mod tasks;
mod webhooks;

use crate::state::WebState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kith_app::identity::SessionAuth;
use kith_app::Context;

pub use cookies::Flash;

/// What every UI handler knows about the browser.
#[derive(Clone)]
pub struct UiCtx {
    pub auth: Option<SessionAuth>,
    /// The CSRF token to embed in this page's forms.
    pub csrf: String,
    pub flash: Option<Flash>,
}

impl UiCtx {
    /// The signed-in user, or a redirect to sign-in.
    pub fn require(&self) -> Result<&SessionAuth, Response> {
        match &self.auth {
            Some(a) if !a.session.mfa_pending => Ok(a),
            Some(_) => Err(Redirect::to("/signin/2fa").into_response()),
            None => Err(Redirect::to("/signin").into_response()),
        }
    }
}

/// The workspace context of the signed-in user (their current workspace), or
/// a redirect to create one.
pub async fn require_context(state: &WebState, ui: &UiCtx) -> Result<(SessionAuth, Context), Response> {
    let auth = ui.require()?.clone();
    match kith_app::identity::session_context(&state.app, &auth, None).await {
        Ok(Some(ctx)) => Ok((auth, ctx)),
        Ok(None) => Err(Redirect::to("/workspaces/new").into_response()),
        Err(e) => Err(error_page(&e.into())),
    }
}

pub fn routes(state: WebState) -> Router<WebState> {
    Router::new()
        .route("/", get(home::home))
        .route("/signup", get(auth::signup_page).post(auth::signup))
        .route("/signin", get(auth::signin_page).post(auth::signin))
        .route("/signin/2fa", get(auth::mfa_page).post(auth::mfa))
        .route("/signout", post(auth::signout))
        .route("/invite/{secret}", get(auth::invite_page).post(auth::invite_accept))
        .route("/reset-password", get(auth::reset_request_page).post(auth::reset_request))
        .route("/reset-password/{token}", get(auth::reset_page).post(auth::reset))
        .route("/verify-email/{token}", get(auth::verify_email))
        .route("/settings/profile/verify", post(settings::resend_verification))
        .route("/switch", post(home::switch))
        .route("/workspaces/new", get(home::new_workspace_page).post(home::new_workspace))
        .route("/settings", get(|| async { Redirect::to("/settings/profile") }))
        .route("/settings/profile", get(settings::profile_page).post(settings::profile))
        .route("/settings/security", get(settings::security_page))
        .route("/settings/security/password", post(settings::change_password))
        .route("/settings/security/2fa/start", post(settings::totp_start))
        .route("/settings/security/2fa/confirm", post(settings::totp_confirm))
        .route("/settings/security/2fa/disable", post(settings::totp_disable))
        .route("/settings/security/sessions/{id}/revoke", post(settings::revoke_session))
        .route("/settings/workspace", get(settings::workspace_page).post(settings::rename_workspace))
        .route("/settings/members", get(settings::members_page))
        .route("/settings/members/invite", post(settings::invite))
        .route("/settings/members/{user_id}/role", post(settings::change_role))
        .route("/settings/members/{user_id}/own-records", post(settings::set_own_records))
        .route("/settings/workspace/phone", post(settings::set_phone_code))
        .route("/settings/exports", get(exports::page).post(exports::start))
        .route("/settings/exports/{id}", get(exports::status))
        .route("/settings/exports/{id}/download", get(exports::download))
        .route("/settings/webhooks", get(webhooks::page).post(webhooks::create))
        .route("/settings/webhooks/{id}", get(webhooks::endpoint_page))
        .route("/settings/webhooks/{id}/toggle", post(webhooks::toggle))
        .route("/settings/webhooks/{id}/delete", post(webhooks::delete))
        .route("/settings/webhooks/{id}/deliveries/{delivery_id}/replay", post(webhooks::replay))
        .route("/settings/members/{user_id}/remove", post(settings::remove_member))
        .route("/settings/invitations/{id}/revoke", post(settings::revoke_invitation))
        .route("/settings/teams", get(settings::teams_page).post(settings::create_team))
        .route("/settings/teams/{id}", get(settings::team_page))
        .route("/settings/teams/{id}/rename", post(settings::rename_team))
        .route("/settings/teams/{id}/delete", post(settings::delete_team))
        .route("/settings/teams/{id}/members", post(settings::add_team_member))
        .route("/settings/teams/{id}/members/{user_id}/remove", post(settings::remove_team_member))
        .route("/settings/tokens", get(settings::tokens_page).post(settings::create_token))
        .route("/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route("/settings/audit", get(settings::audit_page))
        .route("/settings/pipelines", get(pipelines::page).post(pipelines::create))
        .route("/settings/pipelines/{id}", post(pipelines::update))
        .route("/contacts", get(lists::contacts_page))
        .route("/contacts/new", get(contacts::new_page).post(contacts::create))
        .route(
            imports::UPLOAD_PATH,
            get(imports::page).post(imports::upload).layer(DefaultBodyLimit::max(imports::MAX_UPLOAD_BYTES)),
        )
        .route("/contacts/import/{id}", get(imports::progress))
        .route("/contacts/import/{id}/map", get(imports::map_page).post(imports::confirm))
        .route("/contacts/import/{id}/discard", post(imports::discard))
        .route("/contacts/import/{id}/run", post(imports::run_for_real))
        .route("/contacts/import/{id}/report.csv", get(imports::report))
        .route("/contacts/export.csv", get(exports::records))
        .route("/contacts/export.json", get(exports::records))
        .route("/contacts/export.vcf", get(exports::records))
        .route("/contacts/{id}", get(contacts::page).post(contacts::update))
        .route("/contacts/{id}/delete", get(contacts::delete_page).post(contacts::delete))
        .route("/contacts/{id}/merge", post(contacts::merge))
        .route("/contacts/{id}/summary", post(contacts::summarise))
        .route("/contacts/{id}/speech", post(contacts::speak))
        .route("/contacts/{id}/notes", post(crm::add_note))
        .route("/contacts/{id}/tasks", post(crm::add_task))
        .route("/contacts/{id}/activities", post(crm::add_activity))
        .route("/companies", get(lists::companies_page))
        .route("/companies/new", get(companies::new_page).post(companies::create))
        .route("/companies/export.csv", get(exports::records))
        .route("/companies/export.json", get(exports::records))
        .route("/companies/{id}", get(companies::page).post(companies::update))
        .route("/companies/{id}/delete", get(companies::delete_page).post(companies::delete))
        .route("/companies/{id}/notes", post(crm::add_note))
        .route("/companies/{id}/tasks", post(crm::add_task))
        .route("/companies/{id}/activities", post(crm::add_activity))
        .route("/deals", get(lists::deals_page))
        .route("/deals/new", get(deals::new_page).post(deals::create))
        .route("/deals/export.csv", get(exports::records))
        .route("/deals/export.json", get(exports::records))
        .route("/deals/board", get(deals::board_page))
        .route("/deals/{id}", get(deals::page).post(deals::update))
        .route("/deals/{id}/stage", post(deals::move_stage))
        .route("/deals/{id}/delete", get(deals::delete_page).post(deals::delete))
        .route("/deals/{id}/contacts", post(deals::link_contact))
        .route("/deals/{id}/contacts/{contact_id}/remove", post(deals::unlink_contact))
        .route("/deals/{id}/notes", post(crm::add_note))
        .route("/deals/{id}/tasks", post(crm::add_task))
        .route("/deals/{id}/activities", post(crm::add_activity))
        .route("/views", post(lists::create_view))
        .route("/views/{id}", post(lists::update_view))
        .route("/views/{id}/delete", get(lists::delete_view_page).post(lists::delete_view))
        .route("/bulk", post(bulk::start))
        .route("/bulk/{id}", get(bulk::progress))
        .route("/tasks", get(tasks::page).post(tasks::create))
        .route("/tasks/{id}/done", post(tasks::set_done))
        .route("/search", get(search::page))
        .route("/search.json", get(search::json))
        .route("/events", get(crate::events::stream))
        .route("/inbox", get(inbox::page))
        .route("/inbox/rows", get(inbox::rows))
        .route("/inbox/c/{id}", get(inbox::thread))
        .route("/inbox/files/{id}", get(inbox_files::download))
        .route(
            "/inbox/c/{id}/attachments",
            post(inbox_files::upload).layer(DefaultBodyLimit::max(crate::api::attachments::MAX_UPLOAD_BODY)),
        )
        .route("/inbox/c/{id}/attachments/{attachment_id}", axum::routing::delete(inbox_files::remove))
        .route("/inbox/c/{id}/row", get(inbox::row))
        .route("/inbox/c/{id}/head", get(inbox::head))
        .route("/inbox/c/{id}/messages", get(inbox::messages_after).post(inbox::compose))
        .route("/inbox/c/{id}/messages/{message_id}", get(inbox::message_one))
        .route("/inbox/c/{id}/status", post(inbox::set_status))
        .route("/inbox/c/{id}/assign", post(inbox::assign))
        .route("/inbox/c/{id}/labels", post(inbox::set_labels))
        .route("/inbox/c/{id}/read", post(inbox::mark_read))
        .route("/inbox/c/{id}/ai/resume", post(inbox::ai_resume))
        .route("/inbox/c/{id}/suggest", post(inbox::suggest))
        .route("/settings/ai", get(ai_settings::page).post(ai_settings::save))
        .route("/settings/ai/test", post(ai_settings::test))
        .route("/settings/ai/usage", get(ai_settings::usage_page))
        .route("/settings/channels", get(channels_settings::page).post(channels_settings::connect))
        .route("/settings/knowledge", get(knowledge::page).post(knowledge::create))
        .route(knowledge::UPLOAD_PATH, post(knowledge::upload))
        .route("/settings/knowledge/{id}", get(knowledge::edit).post(knowledge::save))
        .route("/settings/knowledge/{id}/reindex", post(knowledge::reindex))
        .route("/settings/knowledge/{id}/summary", post(knowledge::summarise))
        .route("/settings/knowledge/{id}/speech", post(knowledge::speak))
        .route("/assistant", get(assistant::page))
        .route("/assistant/ask", post(assistant::ask))
        .route("/assistant/draft", post(assistant::draft))
        .route("/ai/speech/{id}", get(assistant::speech_file))
        .route("/ai/speech/{id}/delete", post(assistant::delete_speech))
        .route("/settings/knowledge/{id}/delete", get(knowledge::confirm_delete).post(knowledge::delete))
        .route("/settings/channels/{id}/ai", post(channels_settings::set_ai_mode))
        .route("/settings/channels/{id}/failed/{message_id}/retry", post(channels_settings::retry_failed))
        .route(
            "/settings/channels/{id}/disconnect",
            get(channels_settings::disconnect_page).post(channels_settings::disconnect),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state, session_layer))
}

/// The header that carries the session's CSRF token on the UI's DELETE,
/// PUT and PATCH requests (sent by `assets/inbox.js`).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Largest form body the UI accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

async fn session_layer(State(state): State<WebState>, req: Request, next: Next) -> Response {
    let jar = cookies::Jar::from_headers(req.headers());
    let secure = state.config.secure_cookies;
    let auth = match jar.get(cookies::session_name(secure)) {
        Some(token) => kith_app::identity::authenticate_session(&state.app, token).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "session lookup failed");
            None
        }),
        None => None,
    };
    // Signed-in forms carry a token derived from the session's secret; anonymous
    // forms (sign-in, sign-up) a random value that must match a cookie (double submit).
    let mut new_pre_cookie = None;
    let csrf = match &auth {
        Some(a) => hex::encode(kith_crypto::hmac_sha256(&a.session.csrf_secret, b"kith.csrf.v1")),
        None => match jar.get(cookies::PRE_SESSION) {
            Some(v) if v.len() == 43 => v.to_string(),
            _ => {
                let v = kith_crypto::random_token("");
                new_pre_cookie = Some(v.clone());
                v
            }
        },
    };
    let flash = jar.get(cookies::FLASH).and_then(Flash::decode);
    let had_flash = jar.get(cookies::FLASH).is_some();

    let (parts, body) = req.into_parts();
    let req = if parts.method == Method::POST && is_upload(&parts) {
        if !same_origin(&parts) {
            return forbidden("This form came from another site.");
        }
        // Streamed, not read here: the import handler checks the `_csrf`
        // field, which its form sends before the file.
        Request::from_parts(parts, body)
    } else if parts.method == Method::POST {
        if !same_origin(&parts) {
            return forbidden("This form came from another site.");
        }
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return simple_page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    "That form was larger than Kith accepts.",
                )
            }
        };
        let sent: Option<String> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v));
        let valid = sent.is_some_and(|s| kith_crypto::constant_time_eq(s.as_bytes(), csrf.as_bytes()));
        if !valid {
            return forbidden("Your form expired or came from another site. Go back, reload the page and try again.");
        }
        Request::from_parts(parts, axum::body::Body::from(bytes))
    } else if matches!(parts.method, Method::DELETE | Method::PUT | Method::PATCH) {
        // Only the page's script sends these (a form cannot): the token
        // travels in a header, and the refusal is JSON for the script.
        let sent = parts.headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
        if !same_origin(&parts) || !kith_crypto::constant_time_eq(sent, csrf.as_bytes()) {
            let error = "Your page expired. Reload it and try again.";
            return (StatusCode::FORBIDDEN, axum::Json(serde_json::json!({"ok": false, "error": error})))
                .into_response();
        }
        Request::from_parts(parts, body)
    } else {
        Request::from_parts(parts, body)
    };

    let mut req = req;
    req.extensions_mut().insert(UiCtx { auth, csrf, flash });
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    if let Some(v) = new_pre_cookie {
        if let Ok(h) = HeaderValue::from_str(&cookies::set(cookies::PRE_SESSION, &v, None, secure)) {
            headers.append("set-cookie", h);
        }
    }
    let sets_flash = headers.get_all("set-cookie").iter().any(|v| v.as_bytes().starts_with(cookies::FLASH.as_bytes()));
    if had_flash && !sets_flash {
        if let Ok(h) = HeaderValue::from_str(&cookies::clear(cookies::FLASH, secure)) {
            headers.append("set-cookie", h);
        }
    }
    resp
}

/// The forms whose body is a file: the contact import's upload, the
/// knowledge document upload and the inbox composer's attachments.
fn is_upload(parts: &axum::http::request::Parts) -> bool {
    let multipart = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    let path = parts.uri.path();
    multipart && (path == imports::UPLOAD_PATH || path == knowledge::UPLOAD_PATH || inbox_files::is_upload_path(path))
}

/// A POST must come from our own pages: when the browser says where it came
/// from (`Origin`), that must be this host.
fn same_origin(parts: &axum::http::request::Parts) -> bool {
    let Some(origin) = parts.headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        return false;
    }
    let host = parts.headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").map(|(_, rest)| rest == host).unwrap_or(false)
}

pub fn render<T: askama::Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub fn simple_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page =
        pages::MessagePage { title: title.to_string(), message: message.to_string(), css: crate::assets::css_url() };
    (status, render(&page)).into_response()
}

fn forbidden(message: &str) -> Response {
    simple_page(StatusCode::FORBIDDEN, "Not allowed", message)
}

async fn not_found() -> Response {
    simple_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address. Check the link, or go back to the start.",
    )
}

/// A page for an error outside any form.
pub fn error_page(err: &crate::error::ApiError) -> Response {
    let status = crate::error::status_of(err.code);
    simple_page(status, "Something went wrong", &err.message)
}

/// Redirect with a message for the next page.
pub fn redirect_with(to: &str, flash: Flash, secure: bool) -> Response {
    let mut resp = Redirect::to(to).into_response();
    if let Ok(h) = HeaderValue::from_str(&cookies::set(cookies::FLASH, &flash.encode(), Some(60), secure)) {
        resp.headers_mut().append("set-cookie", h);
    }
    resp
}
