//! Settings → Webhooks (admins): endpoints with the events they get, the
//! signing secret shown once after creation, enable/disable, delete, and a
//! per-endpoint delivery log with a replay button per delivery.

use super::crm::{message_of, not_found_page, parse_id};
use super::pages::{Errors, Shell, When};
use super::{redirect_with, render, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use kith_app::webhooks::{self, Delivery, Endpoint, EndpointInput, EVENT_TYPES};
use kith_app::{AppError, Context};
use kith_domain::page::{Cursor, PageRequest};
use serde::Deserialize;

pub struct EndpointItem {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: String,
    pub enabled: bool,
    pub version: i64,
    pub created: When,
}

fn events_text(events: &[String]) -> String {
    if events.iter().any(|e| e == "*") {
        "All events".into()
    } else {
        events.join(", ")
    }
}

fn item_of(e: &Endpoint) -> EndpointItem {
    EndpointItem {
        id: e.id.to_string(),
        url: e.url.clone(),
        description: e.description.clone(),
        events: events_text(&e.events),
        enabled: e.enabled,
        version: e.version,
        created: When::new(e.created_at_ms),
    }
}

/// One event checkbox of the form.
pub struct EventOpt {
    pub value: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "settings_webhooks.html")]
pub struct WebhooksPage {
    pub shell: Shell,
    pub endpoints: Vec<EndpointItem>,
    pub url: String,
    pub description: String,
    pub all_events: bool,
    pub events: Vec<EventOpt>,
    pub errors: Errors,
    /// Right after creation: the endpoint's URL and its signing secret (shown once).
    pub created: Option<(String, String)>,
}

pub struct DeliveryItem {
    pub id: String,
    pub event: String,
    pub status: String,
    pub attempts: i64,
    pub last: String,
    pub created: When,
}

fn delivery_of(d: &Delivery) -> DeliveryItem {
    let last = match (d.last_status, &d.last_error) {
        (Some(code), _) if d.status == "delivered" => format!("HTTP {code}"),
        (_, Some(err)) => err.clone(),
        (Some(code), None) => format!("HTTP {code}"),
        (None, None) => String::new(),
    };
    DeliveryItem {
        id: d.id.to_string(),
        event: d.event_type.clone(),
        status: d.status.clone(),
        attempts: d.attempts,
        last,
        created: When::new(d.created_at_ms),
    }
}

#[derive(Template)]
#[template(path = "settings_webhook.html")]
pub struct WebhookPage {
    pub shell: Shell,
    pub endpoint: EndpointItem,
    pub deliveries: Vec<DeliveryItem>,
    pub next_cursor: Option<String>,
}

struct Draft {
    url: String,
    description: String,
    all: bool,
    events: Vec<String>,
}

async fn view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    draft: Draft,
    errors: Errors,
    created: Option<(String, String)>,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let list = match webhooks::list(&state.app, ctx).await {
        Ok(l) => l,
        Err(e) => return super::error_page(&e.into()),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Webhooks", "settings", "webhooks").await;
    let page = WebhooksPage {
        shell,
        endpoints: list.iter().map(item_of).collect(),
        url: draft.url,
        description: draft.description,
        all_events: draft.all,
        events: EVENT_TYPES
            .iter()
            .map(|e| EventOpt { value: e, checked: draft.events.iter().any(|x| x == e) })
            .collect(),
        errors,
        created,
    };
    (status, render(&page)).into_response()
}

pub async fn page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let draft = Draft { url: String::new(), description: String::new(), all: true, events: vec![] };
    view(&state, &ui, &ctx, draft, Errors::default(), None).await
}

pub async fn create(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let events: Vec<String> = pairs.iter().filter(|(k, _)| k == "events").map(|(_, v)| v.clone()).collect();
    let all = get("scope") != "some";
    let draft = Draft { url: get("url"), description: get("description"), all, events };
    let input = EndpointInput {
        url: Some(draft.url.clone()),
        events: Some(if all { vec!["*".into()] } else { draft.events.clone() }),
        description: Some(draft.description.clone()),
        enabled: Some(true),
    };
    match webhooks::create(&state.app, &ctx, &input).await {
        // The secret is shown on this response only: never in a cookie or URL.
        Ok(e) => {
            let blank = Draft { url: String::new(), description: String::new(), all: true, events: vec![] };
            let created = e.secret.clone().map(|s| (e.url.clone(), s));
            view(&state, &ui, &ctx, blank, Errors::default(), created).await
        }
        Err(AppError::Forbidden) => super::error_page(&AppError::Forbidden.into()),
        Err(e) => {
            let errors = Errors::from_app(e).only(&["url", "events", "description"]);
            view(&state, &ui, &ctx, draft, errors, None).await
        }
    }
}

#[derive(Deserialize)]
pub struct ToggleForm {
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    version: Option<i64>,
}

pub async fn toggle(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(f): Form<ToggleForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let enabled = f.enabled == "1";
    let input = EndpointInput { enabled: Some(enabled), ..Default::default() };
    let flash = match webhooks::update(&state.app, &ctx, id, &input, f.version).await {
        Ok(_) if enabled => Flash::success("Endpoint enabled: new events are sent to it."),
        Ok(_) => Flash::success("Endpoint disabled: no new events are sent to it until you enable it."),
        Err(AppError::Forbidden) => return super::error_page(&AppError::Forbidden.into()),
        Err(AppError::NotFound) => return not_found_page(),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with("/settings/webhooks", flash, state.config.secure_cookies)
}

pub async fn delete(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let flash = match webhooks::delete(&state.app, &ctx, id).await {
        Ok(()) => Flash::success("Endpoint deleted, with its delivery log."),
        Err(AppError::Forbidden) => return super::error_page(&AppError::Forbidden.into()),
        Err(AppError::NotFound) => return not_found_page(),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with("/settings/webhooks", flash, state.config.secure_cookies)
}

#[derive(Deserialize, Default)]
pub struct CursorQuery {
    #[serde(default)]
    cursor: Option<String>,
}

pub async fn endpoint_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<CursorQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let endpoint = match webhooks::get(&state.app, &ctx, id).await {
        Ok(e) => e,
        Err(AppError::NotFound) => return not_found_page(),
        Err(e) => return super::error_page(&e.into()),
    };
    let page = PageRequest::new(Some(50), q.cursor.as_deref().and_then(Cursor::decode));
    let list = match webhooks::deliveries(&state.app, &ctx, id, &page).await {
        Ok(l) => l,
        Err(e) => return super::error_page(&e.into()),
    };
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Webhook deliveries", "settings", "webhooks").await;
    render(&WebhookPage {
        shell,
        endpoint: item_of(&endpoint),
        deliveries: list.items.iter().map(delivery_of).collect(),
        next_cursor: list.next.map(|c| c.encode()),
    })
}

pub async fn replay(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path((id, delivery)): Path<(String, String)>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let (Some(id), Some(delivery)) = (parse_id(&id), parse_id(&delivery)) else { return not_found_page() };
    let flash = match webhooks::replay(&state.app, &ctx, id, delivery).await {
        Ok(_) => Flash::success("Delivery queued again; its status updates here once it has been sent."),
        Err(AppError::Forbidden) => return super::error_page(&AppError::Forbidden.into()),
        Err(AppError::NotFound) => return not_found_page(),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with(&format!("/settings/webhooks/{id}"), flash, state.config.secure_cookies)
}
