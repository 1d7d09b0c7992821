//! Channels: a workspace connects a provider account by giving its
//! credentials. Every setting is stored in one sealed JSON (promise 3); the
//! non-secret ones are also kept in clear for display, and the API only
//! ever says which secrets are set. Disconnecting wipes the sealed
//! credentials at once (promise 4) and stops routing; the conversations stay.
//!
//! Telegram and Viber are told where to deliver on connect (in the request,
//! with a timeout); a refusal undoes the connection.

use super::{CachedChannel, INTERACTIVE_TIMEOUT};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_store::channels::{self as rows, ChannelRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

const TABLE: &str = "channels";
pub const MAX_CHANNELS: i64 = 100;
const MAX_VALUE_CHARS: usize = 2000;

/// The settings of one kind of channel.
struct Spec {
    /// Must be present (after a PATCH, too).
    required: &'static [&'static str],
    /// May be present.
    optional: &'static [&'static str],
    /// Never shown; only named in `secrets_set`.
    secrets: &'static [&'static str],
    /// The setting Meta routes batched entries by.
    route: Option<&'static str>,
    /// Numbers (ports).
    numeric: &'static [&'static str],
}

/// A free-form setting every kind takes: the reply to HELP/INFO.
const HELP_TEXT: &str = "help_text";
/// Generated for Telegram: the secret the provider echoes in a header.
const WEBHOOK_SECRET: &str = "webhook_secret";

fn spec(kind: &str) -> Option<Spec> {
    Some(match kind {
        "twilio_sms" => Spec {
            required: &["account_sid", "auth_token"],
            optional: &["from", "messaging_service_sid", HELP_TEXT],
            secrets: &["auth_token"],
            route: None,
            numeric: &[],
        },
        "whatsapp" => Spec {
            required: &["phone_number_id", "access_token", "app_secret", "verify_token"],
            optional: &[HELP_TEXT],
            secrets: &["access_token", "app_secret", "verify_token"],
            route: Some("phone_number_id"),
            numeric: &[],
        },
        "messenger" => Spec {
            required: &["page_id", "page_access_token", "app_secret", "verify_token"],
            optional: &[HELP_TEXT],
            secrets: &["page_access_token", "app_secret", "verify_token"],
            route: Some("page_id"),
            numeric: &[],
        },
        "instagram" => Spec {
            required: &["instagram_account_id", "page_access_token", "app_secret", "verify_token"],
            optional: &["page_id", HELP_TEXT],
            secrets: &["page_access_token", "app_secret", "verify_token"],
            route: Some("instagram_account_id"),
            numeric: &[],
        },
        "telegram" => Spec {
            required: &["bot_token"],
            optional: &[HELP_TEXT],
            secrets: &["bot_token", WEBHOOK_SECRET],
            route: None,
            numeric: &[],
        },
        "viber" => Spec {
            required: &["auth_token"],
            optional: &["sender_name", HELP_TEXT],
            secrets: &["auth_token"],
            route: None,
            numeric: &[],
        },
        "email" => Spec {
            required: &["address", "imap_host", "imap_port", "smtp_host", "smtp_port", "username", "password"],
            optional: &[HELP_TEXT],
            secrets: &["password"],
            route: None,
            numeric: &["imap_port", "smtp_port"],
        },
        _ => return None,
    })
}

pub const KINDS: [&str; 7] = ["twilio_sms", "whatsapp", "messenger", "instagram", "telegram", "viber", "email"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AiMode {
    Off,
    Suggest,
    Auto,
}

impl AiMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AiMode::Off => "off",
            AiMode::Suggest => "suggest",
            AiMode::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> AiMode {
        match s {
            "suggest" => AiMode::Suggest,
            "auto" => AiMode::Auto,
            _ => AiMode::Off,
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// `twilio_sms`, `whatsapp`, `messenger`, `instagram`, `telegram`, `viber` or `email`.
    pub kind: String,
    pub name: String,
    /// Settings and credentials of the kind (see the API guide).
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub ai_mode: Option<AiMode>,
    /// Settings to replace; the others keep their value. `null` removes an optional one.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Channel {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    /// The non-secret settings.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Names of the secrets that are set (their values are never shown).
    pub secrets_set: Vec<String>,
    pub ai_mode: AiMode,
    pub status: String,
    /// Where the provider must deliver (configure it in the provider's console for Twilio and Meta).
    pub webhook_url: String,
    /// When this channel last received an event.
    pub last_event_at_ms: Option<i64>,
    /// Last event, last send and the send error rate of the last 24 hours.
    pub health: super::outbound::ChannelHealth,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The webhook path of a channel kind.
pub fn hook_path(kind: &str, id: Uuid) -> String {
    let provider = match kind {
        "twilio_sms" => "twilio",
        "whatsapp" | "messenger" | "instagram" => "meta",
        other => other,
    };
    format!("/hooks/{provider}/{id}")
}

fn to_channel(app: &App, r: ChannelRow, last_event: Option<i64>) -> Channel {
    Channel {
        webhook_url: format!("{}{}", app.settings().public_url, hook_path(&r.kind, r.id)),
        id: r.id,
        kind: r.kind,
        name: r.name,
        config: serde_json::from_str(&r.public_config).unwrap_or_default(),
        secrets_set: serde_json::from_str(&r.secrets_set).unwrap_or_default(),
        ai_mode: AiMode::parse(&r.ai_mode),
        status: r.status,
        last_event_at_ms: last_event,
        health: super::outbound::ChannelHealth { last_event_at_ms: last_event, ..Default::default() },
        version: r.version,
        created_at_ms: r.created_ms,
        updated_at_ms: r.updated_ms,
    }
}

fn need(ctx: &Context, action: Action) -> Result<()> {
    if ctx.can(action) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn check_name(name: &str) -> Result<String> {
    kith_domain::validate::clean_name(name, 100).map_err(|m| AppError::field("name", m))
}

/// Check a whole config against its kind: known keys, required ones present,
/// text values (ports as numbers). Returns the normalised config.
fn check_config(kind: &str, config: &Map<String, Value>) -> Result<Map<String, Value>> {
    let spec = spec(kind).ok_or_else(|| AppError::field("kind", format!("must be one of {}", KINDS.join(", "))))?;
    let mut v = crate::error::Validator::default();
    let mut out = Map::new();
    for (key, value) in config {
        let field = format!("config.{key}");
        if key == super::ratelimit::SETTING {
            // Per-sender rate limits (non-secret, any kind): see `ratelimit`.
            if let Some(limits) = v.check(&field, super::ratelimit::check_setting(value)) {
                out.insert(key.clone(), limits);
            }
            continue;
        }
        let known = spec.required.contains(&key.as_str())
            || spec.optional.contains(&key.as_str())
            || (key == WEBHOOK_SECRET && kind == "telegram");
        if !known {
            v.check::<()>(&field, Err(format!("is not a setting of a {kind} channel")));
            continue;
        }
        if spec.numeric.contains(&key.as_str()) {
            let n = value.as_u64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
            match n.filter(|n| (1..=65535).contains(n)) {
                Some(n) => {
                    out.insert(key.clone(), Value::from(n));
                }
                None => {
                    v.check::<()>(&field, Err("must be a port number (1-65535)"));
                }
            }
            continue;
        }
        match value.as_str().map(str::trim) {
            Some(s) if !s.is_empty() && s.chars().count() <= MAX_VALUE_CHARS => {
                out.insert(key.clone(), Value::String(s.to_string()));
            }
            Some(_) => {
                v.check::<()>(&field, Err(format!("must be text of 1 to {MAX_VALUE_CHARS} characters")));
            }
            None => {
                v.check::<()>(&field, Err("must be text"));
            }
        }
    }
    for key in spec.required {
        if !config.contains_key(*key) {
            v.check::<()>(&format!("config.{key}"), Err("is required"));
        }
    }
    if kind == "twilio_sms" && !out.contains_key("from") && !out.contains_key("messaging_service_sid") {
        v.check::<()>("config.from", Err("give `from` (a number) or `messaging_service_sid`"));
    }
    if kind == "email" {
        if let Some(a) = out.get("address").and_then(Value::as_str) {
            if kith_domain::validate::normalize_email(a).is_none() {
                v.check::<()>("config.address", Err("is not an e-mail address"));
            }
        }
    }
    v.finish()?;
    Ok(out)
}

/// Split a checked config into (public JSON, names of secrets set, route key).
fn split(kind: &str, config: &Map<String, Value>) -> (Map<String, Value>, Vec<String>, Option<String>) {
    let spec = spec(kind).expect("checked kind");
    let mut public = Map::new();
    let mut secrets = Vec::new();
    for (k, v) in config {
        if spec.secrets.contains(&k.as_str()) {
            secrets.push(k.clone());
        } else {
            public.insert(k.clone(), v.clone());
        }
    }
    secrets.sort();
    let route = spec.route.and_then(|r| config.get(r)).and_then(Value::as_str).map(str::to_string);
    (public, secrets, route)
}

async fn seal_config(app: &App, org_id: Uuid, id: Uuid, config: &Map<String, Value>) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(config).map_err(|e| AppError::Internal(e.to_string()))?;
    app.keyring().seal(app.db(), org_id, TABLE, "config", id, &json).await
}

/// Open a channel's sealed settings (for sending and for webhooks).
pub(crate) async fn open_config(
    app: &App,
    org_id: Uuid,
    id: Uuid,
    sealed: Option<&[u8]>,
) -> Result<Map<String, Value>> {
    let sealed = sealed.ok_or(AppError::NotFound)?;
    let json = app.keyring().open(app.db(), org_id, TABLE, "config", id, sealed).await?;
    serde_json::from_slice(&json).map_err(|e| AppError::Internal(e.to_string()))
}

fn route_taken(e: kith_store::StoreError) -> AppError {
    if e.is_duplicate() {
        AppError::Conflict(ErrorCode::AlreadyExists, "another channel of this workspace already uses that account")
    } else {
        e.into()
    }
}

pub async fn create(app: &App, ctx: &Context, input: &NewChannel) -> Result<Channel> {
    need(ctx, Action::ManageChannels)?;
    let name = check_name(&input.name)?;
    let kind = input.kind.trim().to_string();
    let mut config = check_config(&kind, &input.config)?;
    config.remove(WEBHOOK_SECRET);
    if kind == "telegram" {
        // Telegram allows A-Z a-z 0-9 _ - up to 256 characters.
        config.insert(WEBHOOK_SECRET.into(), Value::String(hex::encode(kith_crypto::random_bytes::<24>())));
    }
    let (public, secrets, route_key) = split(&kind, &config);
    let id = new_id();
    let now = now_ms();
    let row = ChannelRow {
        id,
        org_id: ctx.org_id,
        kind: kind.clone(),
        name,
        config: Some(seal_config(app, ctx.org_id, id, &config).await?),
        public_config: Value::Object(public).to_string(),
        secrets_set: serde_json::to_string(&secrets).expect("json"),
        route_key,
        ai_mode: AiMode::Off.as_str().into(),
        status: "active".into(),
        created_by: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
        deleted_ms: None,
    };
    let mut tx = app.db().begin().await?;
    if rows::count_active(&mut tx, ctx.org_id).await? >= MAX_CHANNELS {
        return Err(AppError::field("kind", format!("a workspace has at most {MAX_CHANNELS} channels")));
    }
    rows::insert(&mut tx, &row).await.map_err(route_taken)?;
    tx.commit().await?;
    // The provider may call back at once (Viber does): the channel exists first.
    if let Err(e) = register_webhook(app, &row, &config).await {
        let mut tx = app.db().begin().await?;
        rows::delete_unused(&mut tx, ctx.org_id, id).await?;
        tx.commit().await?;
        app.inbox().forget(id);
        return Err(e);
    }
    Ok(to_channel(app, row, None))
}

/// Tell Telegram or Viber where to deliver; the others are configured in
/// the provider's console with [`Channel::webhook_url`].
async fn register_webhook(app: &App, row: &ChannelRow, config: &Map<String, Value>) -> Result<()> {
    let url = format!("{}{}", app.settings().public_url, hook_path(&row.kind, row.id));
    let text = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let call = async {
        match row.kind.as_str() {
            "telegram" => {
                app.inbox().telegram().set_webhook(&text("bot_token"), &url, &text(WEBHOOK_SECRET)).await.map(Some)
            }
            "viber" => app.inbox().viber().set_webhook(&text("auth_token"), &url).await.map(Some),
            _ => Ok(None),
        }
    };
    match tokio::time::timeout(INTERACTIVE_TIMEOUT, call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(channel_id = %row.id, kind = %row.kind, error = %e, "webhook registration refused");
            let field = if row.kind == "telegram" { "config.bot_token" } else { "config.auth_token" };
            Err(AppError::field(field, format!("the provider refused to register the webhook: {e}")))
        }
        Err(_) => Err(AppError::field(
            if row.kind == "telegram" { "config.bot_token" } else { "config.auth_token" },
            "the provider did not answer in time; try again",
        )),
    }
}

pub async fn list(app: &App, ctx: &Context) -> Result<Vec<Channel>> {
    need(ctx, Action::ReadRecords)?;
    let rows = rows::list(app.db(), ctx.org_id).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let last = rows::last_events(app.db(), ctx.org_id, &ids).await?;
    let health = super::outbound::health(app, ctx.org_id, &ids, &last).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let at = last.iter().find(|(id, _)| *id == r.id).map(|(_, at)| *at);
            let h = health.iter().find(|(id, _)| *id == r.id).map(|(_, h)| h.clone());
            let mut c = to_channel(app, r, at);
            if let Some(h) = h {
                c.health = h;
            }
            c
        })
        .collect())
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Channel> {
    need(ctx, Action::ReadRecords)?;
    let row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    let events = rows::last_events(app.db(), ctx.org_id, &[id]).await?;
    let mut c = to_channel(app, row, events.first().map(|(_, at)| *at));
    if let Some((_, h)) = super::outbound::health(app, ctx.org_id, &[id], &events).await?.pop() {
        c.health = h;
    }
    Ok(c)
}

pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &ChannelPatch,
    if_version: Option<i64>,
) -> Result<Channel> {
    need(ctx, Action::ManageChannels)?;
    let mut row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if if_version.is_some_and(|v| v != row.version) {
        return Err(AppError::StaleVersion);
    }
    if let Some(name) = &input.name {
        row.name = check_name(name)?;
    }
    if let Some(mode) = input.ai_mode {
        row.ai_mode = mode.as_str().into();
    }
    if let Some(patch) = &input.config {
        let mut config = open_config(app, ctx.org_id, id, row.config.as_deref()).await?;
        let generated = config.remove(WEBHOOK_SECRET);
        for (k, v) in patch {
            if k == WEBHOOK_SECRET {
                return Err(AppError::field(&format!("config.{k}"), "is generated by Kith"));
            }
            if v.is_null() {
                config.remove(k);
            } else {
                config.insert(k.clone(), v.clone());
            }
        }
        let mut config = check_config(&row.kind, &config)?;
        if let Some(secret) = generated {
            config.insert(WEBHOOK_SECRET.into(), secret);
        }
        let (public, secrets, route_key) = split(&row.kind, &config);
        row.config = Some(seal_config(app, ctx.org_id, id, &config).await?);
        row.public_config = Value::Object(public).to_string();
        row.secrets_set = serde_json::to_string(&secrets).expect("json");
        row.route_key = route_key;
    }
    row.version += 1;
    row.updated_ms = now_ms().max(row.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    if !rows::update(&mut tx, &row).await.map_err(route_taken)? {
        return Err(AppError::StaleVersion);
    }
    tx.commit().await?;
    app.inbox().forget(id);
    if input.config.is_some() {
        let config = open_config(app, ctx.org_id, id, row.config.as_deref()).await?;
        register_webhook(app, &row, &config).await?;
    }
    let last = rows::last_events(app.db(), ctx.org_id, &[id]).await?.first().map(|(_, at)| *at);
    Ok(to_channel(app, row, last))
}

/// Disconnect: the sealed credentials are deleted now and webhooks to the
/// channel are refused from now on; conversations and messages stay.
pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::ManageChannels)?;
    let mut tx = app.db().begin().await?;
    if !rows::disconnect(&mut tx, ctx.org_id, id, now_ms()).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    app.inbox().forget(id);
    Ok(())
}

/// A connected channel with its credentials open, for webhooks: cached per
/// process (see `CHANNEL_CACHE_TTL`), one read on a miss.
pub(crate) async fn for_hook(app: &App, id: Uuid) -> Result<Arc<CachedChannel>> {
    if let Some(c) = app.inbox().cached(id) {
        return Ok(c);
    }
    let row = rows::get_for_hook(app.db(), id).await?.ok_or(AppError::NotFound)?;
    let config = open_config(app, row.org_id, row.id, row.config.as_deref()).await?;
    let c = Arc::new(CachedChannel { org_id: row.org_id, kind: row.kind, route_key: row.route_key, config });
    app.inbox().remember(id, c.clone());
    Ok(c)
}

/// The connected channel of a workspace that Meta addresses as `route_key`.
pub(crate) async fn by_route(app: &App, org_id: Uuid, route_key: &str) -> Result<Option<(Uuid, String)>> {
    Ok(rows::by_route(app.db(), org_id, route_key).await?.map(|r| (r.id, r.kind)))
}
