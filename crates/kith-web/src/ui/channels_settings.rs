//! Settings → Channels (admins): the connected channels with their health
//! (status, last event), which secrets are set (never their values), the
//! webhook URL to give the provider, the AI mode; a connect form per kind
//! with the fields of issue #4 §1; disconnect after a confirmation page.

use super::crm::{message_of, parse_id};
use super::inbox::kind_label;
use super::pages::{ConfirmPage, Errors, Opt, Shell, When};
use super::{redirect_with, render, simple_page, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use kith_app::inbox::channels::{self, AiMode, Channel, ChannelPatch, NewChannel};
use kith_app::inbox::outbound;
use kith_app::{AppError, Context};
use kith_domain::Action;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One setting of a kind's connect form.
struct Setting {
    key: &'static str,
    label: &'static str,
    secret: bool,
    required: bool,
    numeric: bool,
    help: &'static str,
}

const fn field(key: &'static str, label: &'static str, help: &'static str) -> Setting {
    Setting { key, label, secret: false, required: true, numeric: false, help }
}

const fn secret(key: &'static str, label: &'static str, help: &'static str) -> Setting {
    Setting { key, label, secret: true, required: true, numeric: false, help }
}

const fn optional(key: &'static str, label: &'static str, help: &'static str) -> Setting {
    Setting { key, label, secret: false, required: false, numeric: false, help }
}

const fn port(key: &'static str, label: &'static str, help: &'static str) -> Setting {
    Setting { key, label, secret: false, required: true, numeric: true, help }
}

const META_SECRET: &str = "From the Meta app's dashboard (App settings → Basic); signs every webhook.";
const META_VERIFY: &str = "A phrase you choose; enter the same one in Meta's webhook settings.";

/// The kinds in the order the page offers them, with their settings (issue #4 §1).
fn settings_of(kind: &str) -> Option<(&'static str, Vec<Setting>)> {
    Some(match kind {
        "twilio_sms" => (
            "Text messages through a Twilio number or Messaging Service. Give Twilio this channel's webhook URL (shown after connecting) for incoming messages.",
            vec![
                field("account_sid", "Account SID", "Starts with AC; on the Twilio console's home page."),
                secret("auth_token", "Auth token", "Next to the Account SID; it also checks Twilio's signatures."),
                optional("from", "From number", "The Twilio number to send from, as +14155550100. Or give a Messaging Service instead."),
                optional("messaging_service_sid", "Messaging Service SID", "Starts with MG; used when there is no From number."),
            ],
        ),
        "whatsapp" => (
            "WhatsApp Business through Meta's Cloud API. Give Meta this channel's webhook URL and your verify token.",
            vec![
                field("phone_number_id", "Phone number ID", "In WhatsApp Manager → API setup."),
                secret("access_token", "Access token", "A permanent system-user token with whatsapp_business_messaging."),
                secret("app_secret", "App secret", META_SECRET),
                secret("verify_token", "Verify token", META_VERIFY),
            ],
        ),
        "messenger" => (
            "Messages to a Facebook Page. Give Meta this channel's webhook URL and your verify token.",
            vec![
                field("page_id", "Page ID", "In the Page's About section, or the Meta app's Messenger settings."),
                secret("page_access_token", "Page access token", "With pages_messaging."),
                secret("app_secret", "App secret", META_SECRET),
                secret("verify_token", "Verify token", META_VERIFY),
            ],
        ),
        "instagram" => (
            "Instagram direct messages of a professional account. Give Meta this channel's webhook URL and your verify token.",
            vec![
                field("instagram_account_id", "Instagram account ID", "The Instagram professional account's id."),
                secret("page_access_token", "Page access token", "Of the Facebook Page linked to the account, with instagram_manage_messages."),
                secret("app_secret", "App secret", META_SECRET),
                secret("verify_token", "Verify token", META_VERIFY),
            ],
        ),
        "telegram" => (
            "A Telegram bot. Kith tells Telegram where to deliver when you connect.",
            vec![secret("bot_token", "Bot token", "From @BotFather, like 123456:ABC-DEF….")],
        ),
        "viber" => (
            "A Viber bot. Kith tells Viber where to deliver when you connect.",
            vec![secret("auth_token", "Auth token", "From the Viber Admin Panel of your bot.")],
        ),
        "email" => (
            "A mailbox: Kith reads new mail over IMAP and sends replies over SMTP.",
            vec![
                field("address", "E-mail address", "The address customers write to."),
                field("imap_host", "IMAP server", "e.g. imap.example.com"),
                port("imap_port", "IMAP port", "993 for TLS."),
                field("smtp_host", "SMTP server", "e.g. smtp.example.com"),
                port("smtp_port", "SMTP port", "465 for TLS, 587 for STARTTLS."),
                field("username", "Username", "Usually the address itself."),
                secret("password", "Password", "An app password if the provider offers them."),
            ],
        ),
        _ => return None,
    })
}

pub struct KindTab {
    pub label: &'static str,
    pub url: String,
    pub current: bool,
}

pub struct FieldView {
    pub id: String,
    pub name: &'static str,
    pub label: &'static str,
    pub input_type: &'static str,
    pub value: String,
    pub help: &'static str,
    pub error: Option<String>,
    pub required: bool,
}

pub struct ChannelItem {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub status: String,
    pub active: bool,
    pub last_event: Option<When>,
    pub secrets: String,
    pub settings: Vec<(String, String)>,
    pub webhook_url: String,
    pub ai_opts: Vec<Opt>,
    pub version: i64,
    /// "12 sent in the last 24 hours, 1 failed (8%)".
    pub sends: String,
    /// More than a tenth of the last day's sends failed.
    pub unhealthy: bool,
    /// The newest failed sends, retryable.
    pub failed: Vec<FailedItem>,
}

pub struct FailedItem {
    pub message_id: String,
    pub conversation_url: String,
    pub error: String,
    pub at: When,
}

fn item_of(c: &Channel) -> ChannelItem {
    let settings = c
        .config
        .iter()
        .filter(|(k, _)| k.as_str() != "help_text")
        .map(|(k, v)| {
            let label = settings_of(&c.kind)
                .and_then(|(_, list)| list.iter().find(|s| s.key == k).map(|s| s.label))
                .unwrap_or(k.as_str())
                .to_string();
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (label, value)
        })
        .collect();
    let secret_label = |k: &String| {
        settings_of(&c.kind)
            .and_then(|(_, list)| list.iter().find(|s| s.key == k).map(|s| s.label.to_string()))
            .unwrap_or_else(|| k.replace('_', " "))
    };
    let mode = c.ai_mode.as_str();
    let h = &c.health;
    let sends = match (h.sends_24h, h.failed_24h) {
        (0, _) => "Nothing sent in the last 24 hours".to_string(),
        (n, 0) => format!("{n} sent in the last 24 hours, none failed"),
        (n, f) => format!("{n} sent in the last 24 hours, {f} failed ({:.0}%)", h.error_rate_24h * 100.0),
    };
    ChannelItem {
        sends,
        unhealthy: h.sends_24h > 0 && h.error_rate_24h > 0.1,
        failed: vec![],
        id: c.id.to_string(),
        kind: kind_label(&c.kind),
        name: c.name.clone(),
        active: c.status == "active",
        status: c.status.clone(),
        last_event: c.last_event_at_ms.map(When::new),
        secrets: c.secrets_set.iter().map(secret_label).collect::<Vec<_>>().join(", "),
        settings,
        webhook_url: c.webhook_url.clone(),
        ai_opts: vec![
            Opt::new("off", "Off", mode),
            Opt::new("suggest", "Suggest replies", mode),
            Opt::new("auto", "Answer automatically", mode),
        ],
        version: c.version,
    }
}

#[derive(Template)]
#[template(path = "channels_settings.html")]
pub struct ChannelsPage {
    pub shell: Shell,
    pub channels: Vec<ChannelItem>,
    pub tabs: Vec<KindTab>,
    pub kind: String,
    pub kind_label: &'static str,
    pub intro: &'static str,
    pub name: String,
    pub name_error: Option<String>,
    pub general_error: Option<String>,
    pub fields: Vec<FieldView>,
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    kind: String,
}

fn forbidden() -> Response {
    simple_page(StatusCode::FORBIDDEN, "Not allowed", "Only admins of this workspace connect and change channels.")
}

async fn view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    kind: &str,
    values: &HashMap<String, String>,
    errors: Errors,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let kind = if settings_of(kind).is_some() { kind } else { "twilio_sms" };
    let (intro, settings) = settings_of(kind).expect("known kind");
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let list = match channels::list(&state.app, ctx).await {
        Ok(l) => l,
        Err(e) => return super::error_page(&e.into()),
    };
    let fields = settings
        .iter()
        .map(|s| FieldView {
            id: format!("ch-{}", s.key),
            name: s.key,
            label: s.label,
            input_type: if s.secret {
                "password"
            } else if s.numeric {
                "number"
            } else {
                "text"
            },
            // Secrets are never echoed back, not even after a failed submit.
            value: if s.secret { String::new() } else { values.get(s.key).cloned().unwrap_or_default() },
            help: s.help,
            error: errors.say(&format!("config.{}", s.key), s.label),
            required: s.required,
        })
        .collect();
    let shown: Vec<String> =
        settings.iter().map(|s| format!("config.{}", s.key)).chain(["name".to_string(), "kind".to_string()]).collect();
    let shown_refs: Vec<&str> = shown.iter().map(String::as_str).collect();
    let name_error = errors.say("name", "Name").or_else(|| errors.say("kind", "Kind"));
    let errors = errors.only(&shown_refs);
    let tabs = channels::KINDS
        .iter()
        .map(|k| KindTab {
            label: kind_label(k),
            url: format!("/settings/channels?kind={k}#connect"),
            current: *k == kind,
        })
        .collect();
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Channels", "settings", "channels").await;
    let mut channels = Vec::with_capacity(list.len());
    for c in &list {
        let mut item = item_of(c);
        if c.health.failed_24h > 0 {
            let page = kith_domain::page::PageRequest::new(Some(5), None);
            let failed =
                outbound::failed_sends(&state.app, ctx, c.id, &page).await.map(|p| p.items).unwrap_or_default();
            item.failed = failed
                .into_iter()
                .filter(|f| f.state == "failed")
                .map(|f| FailedItem {
                    message_id: f.message_id.to_string(),
                    conversation_url: format!("/inbox/c/{}", f.conversation_id),
                    error: match (f.error_message, f.error_code) {
                        (Some(m), Some(code)) => format!("{m} ({code})"),
                        (Some(m), None) => m,
                        (None, Some(code)) => code,
                        (None, None) => "No reason given".into(),
                    },
                    at: When::new(f.failed_at_ms),
                })
                .collect();
        }
        channels.push(item);
    }
    let page = ChannelsPage {
        shell,
        channels,
        tabs,
        kind: kind.to_string(),
        kind_label: kind_label(kind),
        intro,
        name: values.get("name").cloned().unwrap_or_default(),
        name_error,
        general_error: errors.general.clone(),
        fields,
    };
    (status, render(&page)).into_response()
}

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<PageQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    if !ctx.can(Action::ManageChannels) {
        return forbidden();
    }
    view(&state, &ui, &ctx, &q.kind, &HashMap::new(), Errors::default()).await
}

/// Connect: the form's fields of its kind become the channel's config.
pub async fn connect(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    if !ctx.can(Action::ManageChannels) {
        return forbidden();
    }
    let kind = form.get("kind").cloned().unwrap_or_default();
    let Some((_, settings)) = settings_of(&kind) else {
        return view(&state, &ui, &ctx, "", &form, Errors::message("Choose a kind of channel.".into())).await;
    };
    let mut config = Map::new();
    for s in &settings {
        let v = form.get(s.key).map(|v| v.trim()).unwrap_or("");
        if !v.is_empty() {
            config.insert(s.key.to_string(), Value::String(v.to_string()));
        }
    }
    let input = NewChannel { kind: kind.clone(), name: form.get("name").cloned().unwrap_or_default(), config };
    match channels::create(&state.app, &ctx, &input).await {
        Ok(c) => {
            let next = match c.kind.as_str() {
                "telegram" | "viber" => "Kith registered its webhook with the provider.".to_string(),
                "email" => "Kith reads new mail from it.".to_string(),
                _ => format!("Now give the provider its webhook URL: {}", c.webhook_url),
            };
            let flash = Flash::success(format!("{} connected. {next}", c.name));
            redirect_with(&format!("/settings/channels#channel-{}", c.id), flash, state.config.secure_cookies)
        }
        Err(e) => view(&state, &ui, &ctx, &kind, &form, Errors::from_app(e)).await,
    }
}

#[derive(Deserialize, Default)]
pub struct AiForm {
    #[serde(default)]
    ai_mode: String,
    #[serde(default)]
    version: Option<i64>,
}

pub async fn set_ai_mode(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(f): Form<AiForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let to = format!("/settings/channels#channel-{id}");
    let mode = match f.ai_mode.as_str() {
        "off" | "suggest" | "auto" => AiMode::parse(&f.ai_mode),
        _ => {
            let e = AppError::field("ai_mode", "must be off, suggest or auto");
            return redirect_with(&to, Flash::error(message_of(e)), state.config.secure_cookies);
        }
    };
    let patch = ChannelPatch { ai_mode: Some(mode), ..Default::default() };
    let flash = match channels::update(&state.app, &ctx, id, &patch, f.version).await {
        Ok(c) => Flash::success(format!("AI mode of {} saved.", c.name)),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with(&to, flash, state.config.secure_cookies)
}

pub async fn disconnect_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    if !ctx.can(Action::ManageChannels) {
        return forbidden();
    }
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let c = match channels::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(e) => return super::crm::load_error(e),
    };
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Disconnect a channel", "settings", "channels").await;
    render(&ConfirmPage {
        shell,
        heading: format!("Disconnect {}?", c.name),
        message: format!(
            "Kith deletes this {} channel's stored credentials now and refuses its webhooks from then on; replies \
             not yet sent fail. Its conversations and messages stay in the inbox. To use it again, connect it anew.",
            kind_label(&c.kind)
        ),
        action: format!("/settings/channels/{id}/disconnect"),
        button: "Disconnect".into(),
        cancel: "/settings/channels".into(),
    })
}

pub async fn disconnect(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let flash = match channels::delete(&state.app, &ctx, id).await {
        Ok(()) => Flash::success("Channel disconnected; its credentials are deleted. Its conversations stay."),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with("/settings/channels", flash, state.config.secure_cookies)
}

/// Queue a failed send again (the consent ledger is read again first).
pub async fn retry_failed(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path((id, message_id)): Path<(String, String)>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let (Some(id), Some(message_id)) = (parse_id(&id), parse_id(&message_id)) else {
        return super::crm::not_found_page();
    };
    let flash = match outbound::retry_failed(&state.app, &ctx, id, message_id).await {
        Ok(_) => Flash::success("Queued again; the thread shows how it goes."),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with(&format!("/settings/channels#channel-{id}"), flash, state.config.secure_cookies)
}
