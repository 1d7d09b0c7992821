//! The workspace's AI settings: which features are on (all off for a new workspace, promise 8), the
//! OpenAI-compatible endpoint and its sealed API key, prices, monthly limits, the handoff message and business
//! hours.
//!
//! Admins read and change them; every other use goes through [`load`], which opens the key for the one call
//! that needs it. The key is never serialized: [`AiSettingsView`] only says whether one is set.

use crate::audit::{self, AuditEvent};
use crate::error::Validator;
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::business_hours::BusinessHours;
use kith_domain::time::now_ms;
use kith_domain::{Context, Role};
use kith_store::ai::{self as rows, SettingsRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const TABLE: &str = "ai_settings";

pub const DEFAULT_HANDOFF_MESSAGE: &str =
    "Thanks for your message. A member of our team will reply as soon as possible.";
pub const DEFAULT_MAX_AUTO_REPLIES: u32 = 3;
pub const DEFAULT_SPEECH_VOICE: &str = "alloy";
/// The feature switches, by the names metering records.
pub const FEATURES: [&str; 6] = ["auto_reply", "suggestions", "summaries", "drafting", "questions", "speech"];

/// Feature switches. Automatic features run only when on; on-demand ones only when on and a user starts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Features {
    pub auto_reply: bool,
    pub suggestions: bool,
    pub summaries: bool,
    pub drafting: bool,
    pub questions: bool,
    pub speech: bool,
}

impl Features {
    /// The switch of a feature name; None for names without one.
    pub fn get(&self, name: &str) -> Option<bool> {
        Some(match name {
            "auto_reply" => self.auto_reply,
            "suggestions" => self.suggestions,
            "summaries" => self.summaries,
            "drafting" => self.drafting,
            "questions" => self.questions,
            "speech" => self.speech,
            _ => return None,
        })
    }
}

/// The workspace's OpenAI-compatible endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// Opened from its sealed column by [`load`]; never serialized.
    #[serde(skip)]
    pub api_key: Option<String>,
    pub chat_model: String,
    pub embedding_model: Option<String>,
    pub speech_model: Option<String>,
    #[serde(default)]
    pub speech_voice: Option<String>,
}

/// Prices in micro-units of the workspace's currency per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Prices {
    pub prompt_micros_per_million: i64,
    pub completion_micros_per_million: i64,
}

impl Prices {
    /// The cost of a call in micro-units, rounded up (a call is never free when its tokens are priced).
    pub fn cost(&self, prompt_tokens: i64, completion_tokens: i64) -> i64 {
        let total = prompt_tokens.max(0) as i128 * self.prompt_micros_per_million as i128
            + completion_tokens.max(0) as i128 * self.completion_micros_per_million as i128;
        let micros = (total + 999_999) / 1_000_000;
        micros.min(i64::MAX as i128) as i64
    }
}

/// Monthly limits; None is no limit. `tokens` counts prompt and completion tokens together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSet {
    pub messages: Option<i64>,
    pub tokens: Option<i64>,
    pub cost_micros: Option<i64>,
}

impl LimitSet {
    pub fn is_empty(&self) -> bool {
        self.messages.is_none() && self.tokens.is_none() && self.cost_micros.is_none()
    }

    /// Whether usage has reached any of these limits.
    pub fn reached(&self, messages: i64, tokens: i64, cost_micros: i64) -> bool {
        self.messages.is_some_and(|l| messages >= l)
            || self.tokens.is_some_and(|l| tokens >= l)
            || self.cost_micros.is_some_and(|l| cost_micros >= l)
    }
}

/// Hard limits stop AI calls (and hand conversations to people); soft limits warn admins once a month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub hard: LimitSet,
    pub soft: LimitSet,
}

/// Everything the AI features need to know about the workspace. Stored as JSON: a field added later reads as its
/// default from rows saved before it existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AiSettings {
    pub features: Features,
    pub endpoint: Option<Endpoint>,
    pub prices: Prices,
    pub limits: Limits,
    pub handoff_message: String,
    /// None: always open.
    pub business_hours: Option<BusinessHours>,
    /// Automatic replies in a row without a new customer message.
    pub max_auto_replies: u32,
    /// Keep each call's prompt (sealed) with its record.
    pub store_prompts: bool,
    /// 0 until first saved.
    #[serde(skip)]
    pub version: i64,
    #[serde(skip)]
    pub updated_ms: i64,
}

impl Default for AiSettings {
    fn default() -> Self {
        AiSettings {
            features: Features::default(),
            endpoint: None,
            prices: Prices::default(),
            limits: Limits::default(),
            handoff_message: DEFAULT_HANDOFF_MESSAGE.into(),
            business_hours: None,
            max_auto_replies: DEFAULT_MAX_AUTO_REPLIES,
            store_prompts: false,
            version: 0,
            updated_ms: 0,
        }
    }
}

impl AiSettings {
    /// `Ok` when the feature's switch is on; `ai_feature_disabled` otherwise. Names without a switch (the
    /// connection test, knowledge-base embeddings, which an admin opts into by naming an embedding model) pass.
    pub fn require(&self, feature: &str) -> Result<()> {
        match self.features.get(feature) {
            Some(false) => Err(AppError::Ai(
                ErrorCode::AiFeatureDisabled,
                format!("the AI feature `{feature}` is turned off for this workspace; an admin can turn it on in the AI settings"),
            )),
            _ => Ok(()),
        }
    }

    /// The endpoint, or `ai_not_configured`.
    pub fn require_endpoint(&self) -> Result<&Endpoint> {
        self.endpoint.as_ref().ok_or_else(|| {
            AppError::Ai(ErrorCode::AiNotConfigured, "no AI endpoint is configured for this workspace".into())
        })
    }

    pub fn chat_model(&self) -> Option<&str> {
        self.endpoint.as_ref().map(|e| e.chat_model.as_str())
    }

    pub fn embedding_model(&self) -> Option<&str> {
        self.endpoint.as_ref().and_then(|e| e.embedding_model.as_deref())
    }

    pub fn speech_model(&self) -> Option<&str> {
        self.endpoint.as_ref().and_then(|e| e.speech_model.as_deref())
    }

    /// Whether the business is open at `at_ms` (always, without business hours).
    pub fn is_open(&self, at_ms: i64) -> bool {
        self.business_hours.as_ref().is_none_or(|h| h.is_open(at_ms))
    }
}

/// The endpoint as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub base_url: String,
    pub chat_model: String,
    pub embedding_model: Option<String>,
    pub speech_model: Option<String>,
    pub speech_voice: Option<String>,
    /// Whether an API key is stored (it is never shown).
    pub api_key_set: bool,
}

/// The settings as clients see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AiSettingsView {
    pub features: Features,
    pub endpoint: Option<EndpointView>,
    pub prices: Prices,
    pub limits: Limits,
    pub handoff_message: String,
    #[schema(value_type = Option<Object>)]
    pub business_hours: Option<BusinessHours>,
    pub max_auto_replies: u32,
    pub store_prompts: bool,
    /// 0 until first saved; send it back in `If-Match`.
    pub version: i64,
    pub updated_at_ms: Option<i64>,
}

impl AiSettingsView {
    fn of(s: &AiSettings) -> Self {
        AiSettingsView {
            features: s.features,
            endpoint: s.endpoint.as_ref().map(|e| EndpointView {
                base_url: e.base_url.clone(),
                chat_model: e.chat_model.clone(),
                embedding_model: e.embedding_model.clone(),
                speech_model: e.speech_model.clone(),
                speech_voice: e.speech_voice.clone(),
                api_key_set: e.api_key.is_some(),
            }),
            prices: s.prices,
            limits: s.limits,
            handoff_message: s.handoff_message.clone(),
            business_hours: s.business_hours.clone(),
            max_auto_replies: s.max_auto_replies,
            store_prompts: s.store_prompts,
            version: s.version,
            updated_at_ms: (s.version > 0).then_some(s.updated_ms),
        }
    }
}

/// The endpoint as an admin sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointInput {
    pub base_url: String,
    /// A new key (set or replace). Absent or null keeps the stored one.
    pub api_key: Option<String>,
    /// Remove the stored key (for endpoints without one, like a local Ollama).
    pub remove_api_key: bool,
    pub chat_model: String,
    pub embedding_model: Option<String>,
    pub speech_model: Option<String>,
    pub speech_voice: Option<String>,
}

/// The whole settings as an admin sends them (`PUT`: what is left out takes its default).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AiSettingsInput {
    pub features: Features,
    /// Null: no endpoint (the stored key is wiped).
    pub endpoint: Option<EndpointInput>,
    pub prices: Prices,
    pub limits: Limits,
    pub handoff_message: String,
    #[schema(value_type = Option<Object>)]
    pub business_hours: Option<BusinessHours>,
    pub max_auto_replies: u32,
    pub store_prompts: bool,
}

impl Default for AiSettingsInput {
    fn default() -> Self {
        let d = AiSettings::default();
        AiSettingsInput {
            features: d.features,
            endpoint: None,
            prices: d.prices,
            limits: d.limits,
            handoff_message: d.handoff_message,
            business_hours: None,
            max_auto_replies: d.max_auto_replies,
            store_prompts: false,
        }
    }
}

pub(crate) fn need_admin(ctx: &Context) -> Result<()> {
    if ctx.effective_role() >= Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The workspace's settings with the API key opened. A workspace that never saved any gets the defaults: every
/// feature off, no endpoint, the default handoff message, always open.
pub async fn load(app: &App, org_id: Uuid) -> Result<AiSettings> {
    let Some(row) = rows::get_settings(app.db(), org_id).await? else {
        return Ok(AiSettings::default());
    };
    from_row(app, row).await
}

async fn from_row(app: &App, row: SettingsRow) -> Result<AiSettings> {
    let mut s: AiSettings =
        serde_json::from_str(&row.settings).map_err(|e| AppError::Internal(format!("stored AI settings: {e}")))?;
    s.version = row.version;
    s.updated_ms = row.updated_ms;
    if let (Some(endpoint), Some(sealed)) = (s.endpoint.as_mut(), row.api_key.as_deref()) {
        let key = app.keyring().open(app.db(), row.org_id, TABLE, "api_key", row.org_id, sealed).await?;
        endpoint.api_key = Some(String::from_utf8(key).map_err(|_| AppError::Internal("stored API key".into()))?);
    }
    Ok(s)
}

/// What a page or a status needs to know without making a call: the feature switches and which models are set.
/// Read from the settings' JSON alone — the sealed API key is never opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Switches {
    pub features: Features,
    /// An endpoint is configured.
    pub endpoint: bool,
    pub embedding_model: bool,
    pub speech_model: bool,
}

/// The workspace's feature switches (all off when it never saved settings), without opening the API key.
pub async fn switches(app: &App, org_id: Uuid) -> Result<Switches> {
    let Some(json) = kith_store::ai_assist::settings_json(app.db(), org_id).await? else {
        return Ok(Switches::default());
    };
    let s: AiSettings =
        serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("stored AI settings: {e}")))?;
    Ok(Switches {
        features: s.features,
        endpoint: s.endpoint.is_some(),
        embedding_model: s.embedding_model().is_some(),
        speech_model: s.speech_model().is_some(),
    })
}

/// The settings for an admin.
pub async fn get(app: &App, ctx: &Context) -> Result<AiSettingsView> {
    need_admin(ctx)?;
    Ok(AiSettingsView::of(&load(app, ctx.org_id).await?))
}

fn check_model(v: &mut Validator, field: &str, name: &str) -> Option<String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 200
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._:/@+-".contains(c));
    v.check(
        field,
        if ok { Ok(name.to_string()) } else { Err("must be a model name (letters, digits and . _ : / @ + -)") },
    )
}

fn check_optional_model(v: &mut Validator, field: &str, name: &Option<String>) -> Option<Option<String>> {
    match name.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(n) => check_model(v, field, n).map(Some),
    }
}

fn check_limit_set(v: &mut Validator, prefix: &str, l: &LimitSet) {
    for (name, value) in [("messages", l.messages), ("tokens", l.tokens), ("cost_micros", l.cost_micros)] {
        if value.is_some_and(|n| n < 0) {
            v.check::<()>(&format!("{prefix}.{name}"), Err("must be zero or more"));
        }
    }
}

/// Check an admin's input; returns the settings to store (without the key) and what to do with the key.
fn validate(app: &App, input: &AiSettingsInput) -> Result<(AiSettings, KeyChange)> {
    let mut v = Validator::default();
    let mut key = KeyChange::Keep;
    let endpoint = match &input.endpoint {
        None => {
            key = KeyChange::Remove;
            None
        }
        Some(e) => {
            let base = e.base_url.trim();
            let url = if base.is_empty() {
                v.check::<()>("endpoint.base_url", Err("is required"));
                None
            } else {
                match app.outbound().check_url(base) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Some(base.trim_end_matches('/').to_string()),
                    Ok(_) => v.check("endpoint.base_url", Err("must be an http or https URL")),
                    Err(e) => v.check(
                        "endpoint.base_url",
                        Err(format!("{e} (a local model needs KITH_ALLOW_PRIVATE_NETWORKS=true on the server)")),
                    ),
                }
            };
            let chat = check_model(&mut v, "endpoint.chat_model", &e.chat_model);
            let embedding = check_optional_model(&mut v, "endpoint.embedding_model", &e.embedding_model);
            let speech = check_optional_model(&mut v, "endpoint.speech_model", &e.speech_model);
            let voice = check_optional_model(&mut v, "endpoint.speech_voice", &e.speech_voice);
            match e.api_key.as_deref().map(str::trim) {
                Some(k) if !k.is_empty() => {
                    if e.remove_api_key {
                        v.check::<()>("endpoint.api_key", Err("give a new key or remove it, not both"));
                    } else if k.len() > 1000 || k.chars().any(|c| c.is_control() || c.is_whitespace()) {
                        v.check::<()>("endpoint.api_key", Err("must be one line of at most 1000 characters"));
                    } else {
                        key = KeyChange::Set(k.to_string());
                    }
                }
                _ if e.remove_api_key => key = KeyChange::Remove,
                _ => {}
            }
            match (url, chat, embedding, speech, voice) {
                (Some(base_url), Some(chat_model), Some(embedding_model), Some(speech_model), Some(speech_voice)) => {
                    Some(Endpoint { base_url, api_key: None, chat_model, embedding_model, speech_model, speech_voice })
                }
                _ => None,
            }
        }
    };
    if input.prices.prompt_micros_per_million < 0 {
        v.check::<()>("prices.prompt_micros_per_million", Err("must be zero or more"));
    }
    if input.prices.completion_micros_per_million < 0 {
        v.check::<()>("prices.completion_micros_per_million", Err("must be zero or more"));
    }
    check_limit_set(&mut v, "limits.hard", &input.limits.hard);
    check_limit_set(&mut v, "limits.soft", &input.limits.soft);
    let handoff = input.handoff_message.trim();
    if handoff.is_empty() || handoff.chars().count() > 1000 {
        v.check::<()>("handoff_message", Err("must be text of 1 to 1000 characters"));
    }
    if let Some(h) = &input.business_hours {
        for (field, message) in h.problems() {
            v.check::<()>(&format!("business_hours.{field}"), Err(message));
        }
    }
    if !(1..=20).contains(&input.max_auto_replies) {
        v.check::<()>("max_auto_replies", Err("must be from 1 to 20"));
    }
    v.finish()?;
    let business_hours = input.business_hours.as_ref().map(|h| BusinessHours {
        time_zone: kith_domain::quiet_hours::zone(&h.time_zone).map(|z| z.name.to_string()).unwrap_or_default(),
        spans: h.spans.clone(),
    });
    let settings = AiSettings {
        features: input.features,
        endpoint,
        prices: input.prices,
        limits: input.limits,
        handoff_message: handoff.to_string(),
        business_hours,
        max_auto_replies: input.max_auto_replies,
        store_prompts: input.store_prompts,
        version: 0,
        updated_ms: 0,
    };
    Ok((settings, key))
}

/// Check an input without saving it (a form that found errors of its own shows these beside them).
pub fn check(app: &App, input: &AiSettingsInput) -> Result<()> {
    validate(app, input).map(|_| ())
}

enum KeyChange {
    Keep,
    Set(String),
    Remove,
}

/// Replace the settings (admins only). `if_match` is the version the admin read; a stale one is refused.
pub async fn update(
    app: &App,
    ctx: &Context,
    input: &AiSettingsInput,
    if_match: Option<i64>,
) -> Result<AiSettingsView> {
    need_admin(ctx)?;
    let (mut settings, key) = validate(app, input)?;
    let org_id = ctx.org_id;
    let sealed_new = match &key {
        KeyChange::Set(k) => Some(app.keyring().seal(app.db(), org_id, TABLE, "api_key", org_id, k.as_bytes()).await?),
        _ => None,
    };
    let mut tx = app.db().begin().await?;
    let current = rows::get_settings_tx(&mut tx, org_id).await?;
    let version = current.as_ref().map_or(0, |r| r.version);
    if if_match.is_some_and(|v| v != version) {
        return Err(AppError::StaleVersion);
    }
    let key_note = match &key {
        KeyChange::Set(_) => Some("set"),
        KeyChange::Remove if current.as_ref().is_some_and(|r| r.api_key.is_some()) => Some("removed"),
        _ => None,
    };
    let api_key = match key {
        KeyChange::Set(_) => sealed_new,
        KeyChange::Remove => None,
        KeyChange::Keep if settings.endpoint.is_some() => current.as_ref().and_then(|r| r.api_key.clone()),
        KeyChange::Keep => None,
    };
    let now = now_ms();
    let row = SettingsRow {
        org_id,
        settings: serde_json::to_string(&settings).map_err(|e| AppError::Internal(e.to_string()))?,
        api_key,
        version: version + 1,
        updated_ms: now,
    };
    if !rows::put_settings(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    // The key itself never reaches the audit detail; only whether it changed.
    let detail = match &key_note {
        Some(note) => format!("api key {note}"),
        None => String::new(),
    };
    let mut event = AuditEvent::new("ai_settings.updated", TABLE, org_id);
    if !detail.is_empty() {
        event = event.with_detail(detail);
    }
    audit::record(&mut tx, org_id, Some(ctx.user_id()), event, &audit::Origin::default(), now).await?;
    tx.commit().await?;
    settings.version = row.version;
    settings.updated_ms = now;
    if let Some(e) = settings.endpoint.as_mut() {
        e.api_key = row.api_key.as_ref().map(|_| String::new());
    }
    Ok(AiSettingsView::of(&settings))
}
