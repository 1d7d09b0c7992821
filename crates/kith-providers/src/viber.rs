//! Viber REST Bot API (`reference/protocols.md` section 3.2).

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::http::{endpoint, execute};
use crate::json::{id_at, int_at, obj_at, parse_object, str_at, Object};
use crate::{
    ct_eq, DeliveryState, InboundEvent, InboundMessage, MediaRef, ParseError, SendError, Sender, Sent, StatusUpdate,
};

pub const DEFAULT_API_BASE: &str = "https://chatapi.viber.com/pa";

/// The request header every API call authenticates with.
pub const AUTH_HEADER: &str = "X-Viber-Auth-Token";
/// The webhook request header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Viber-Content-Signature";

/// Viber's `status` for "too many requests".
pub const STATUS_TOO_MANY_REQUESTS: i64 = 12;

/// The callback events [`Client::set_webhook`] subscribes to (`message` is always sent).
pub const EVENT_TYPES: [&str; 6] =
    ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"];

// ---------------------------------------------------------------------------------------------------------------
// Webhook authentication

/// Lowercase hex HMAC-SHA256 of `body` keyed by the bot's auth token: the `X-Viber-Content-Signature` value.
pub fn sign(auth_token: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `X-Viber-Content-Signature` over the raw request body (hex digits in either case). An empty token or
/// header never verifies.
pub fn verify_signature(auth_token: &str, body: &[u8], header_value: &str) -> bool {
    if auth_token.is_empty() {
        return false;
    }
    let Ok(given) = hex::decode(header_value.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    !given.is_empty() && ct_eq(&mac.finalize().into_bytes(), &given)
}

// ---------------------------------------------------------------------------------------------------------------
// Webhook payloads

/// Parses one Viber callback. `message` gives an [`InboundEvent::Message`]; `delivered`, `seen` and `failed` give an
/// [`InboundEvent::Status`] for the message token; `webhook`, `subscribed`, `unsubscribed`, `conversation_started`
/// and unknown events give none.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let root = parse_object(body)?;
    let event = str_at(&root, "event").ok_or_else(|| ParseError::missing("event"))?;
    let timestamp = int_at(&root, "timestamp", "timestamp")?;
    let state = match event {
        "message" => return parse_message(&root, timestamp).map(|m| vec![InboundEvent::Message(m)]),
        "delivered" => DeliveryState::Delivered,
        "seen" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        _ => return Ok(vec![]),
    };
    let token = id_at(&root, "message_token").ok_or_else(|| ParseError::missing("message_token"))?;
    Ok(vec![InboundEvent::Status(StatusUpdate {
        route: None,
        provider_message_id: token,
        state,
        error_code: None,
        error_message: str_at(&root, "desc").map(str::to_string),
        at_ms: timestamp,
    })])
}

fn parse_message(root: &Object, timestamp: Option<i64>) -> Result<InboundMessage, ParseError> {
    let token = id_at(root, "message_token").ok_or_else(|| ParseError::missing("message_token"))?;
    let sender = obj_at(root, "sender", "sender")?.ok_or_else(|| ParseError::missing("sender"))?;
    let sender_id = id_at(sender, "id").ok_or_else(|| ParseError::missing("sender.id"))?;
    let message = obj_at(root, "message", "message")?.ok_or_else(|| ParseError::missing("message"))?;
    let kind = str_at(message, "type").unwrap_or("text");
    let caption = str_at(message, "text").unwrap_or_default().to_string();
    let media_url = str_at(message, "media").map(str::to_string);

    let mut media = Vec::new();
    let text = match kind {
        "picture" | "video" | "file" | "sticker" | "gif" => {
            if media_url.is_some() {
                let content_type = match kind {
                    "picture" => Some("image/*"),
                    "video" => Some("video/*"),
                    _ => None,
                };
                media.push(MediaRef {
                    url: media_url,
                    provider_media_id: None,
                    content_type: content_type.map(str::to_string),
                });
            }
            caption
        }
        "url" => media_url.unwrap_or(caption),
        "location" => {
            let location = obj_at(message, "location", "message.location")?;
            let coord = |k: &str| location.and_then(|l| l.get(k)).and_then(Value::as_f64);
            match (coord("lat"), coord("lon")) {
                (Some(lat), Some(lon)) => format!("{lat}, {lon}"),
                _ => caption,
            }
        }
        "contact" => {
            let contact = obj_at(message, "contact", "message.contact")?;
            [contact.and_then(|c| str_at(c, "name")), contact.and_then(|c| str_at(c, "phone_number"))]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        }
        _ => caption,
    };

    Ok(InboundMessage {
        route: None,
        provider_message_id: token,
        from: Sender {
            channel_user_id: sender_id,
            phone_e164: None,
            email: None,
            display_name: str_at(sender, "name").map(str::to_string),
        },
        to: None,
        text,
        media,
        sent_at_ms: timestamp,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Client

/// The Viber REST client. The base (normally `https://chatapi.viber.com/pa`) is operator configuration; the auth
/// token is given per call and sent in [`AUTH_HEADER`].
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    api_base: String,
}

impl Client {
    pub fn new(http: reqwest::Client, api_base: impl Into<String>) -> Self {
        Client { http, api_base: api_base.into() }
    }

    /// `send_message` with a text. Only users who subscribed or started a conversation can be messaged. The
    /// result's id is the `message_token`, as status callbacks name it.
    pub async fn send_message(
        &self,
        auth_token: &str,
        receiver: &str,
        sender_name: &str,
        text: &str,
    ) -> Result<Sent, SendError> {
        let payload = json!({
            "receiver": receiver,
            "min_api_version": 1,
            "sender": {"name": sender_name},
            "type": "text",
            "text": text,
        });
        let reply = self.call(auth_token, "send_message", &payload).await?;
        match id_at(&reply, "message_token") {
            Some(token) => Ok(Sent { provider_message_id: token }),
            None => Err(SendError::permanent("invalid_response", "Viber returned no message_token")),
        }
    }

    /// `set_webhook` for [`EVENT_TYPES`]. Viber calls the URL with a `webhook` event before answering, so the
    /// endpoint must already accept it. An empty `url` removes the webhook.
    pub async fn set_webhook(&self, auth_token: &str, url: &str) -> Result<(), SendError> {
        let payload = json!({"url": url, "event_types": EVENT_TYPES, "send_name": true, "send_photo": false});
        self.call(auth_token, "set_webhook", &payload).await.map(drop)
    }

    /// POSTs to an API endpoint and returns the reply object when its `status` is 0.
    pub async fn call(&self, auth_token: &str, method: &str, payload: &Value) -> Result<Object, SendError> {
        let url = endpoint(&self.api_base, &[method])?;
        tracing::debug!(provider = "viber", method, "calling the REST API");
        let resp = execute(self.http.post(url).header(AUTH_HEADER, auth_token).json(payload)).await?;
        if !resp.is_success() {
            return Err(resp.generic_error());
        }
        let Some(reply) = resp.json().and_then(|v| v.as_object().cloned()) else {
            return Err(SendError::permanent("invalid_response", format!("Viber replied: {}", resp.snippet())));
        };
        match reply.get("status").and_then(Value::as_i64) {
            Some(0) => Ok(reply),
            Some(STATUS_TOO_MANY_REQUESTS) => Err(SendError::RateLimited { retry_after_ms: resp.retry_after_ms }),
            Some(status) => Err(SendError::Permanent {
                code: status.to_string(),
                message: str_at(&reply, "status_message").unwrap_or("no status message").to_string(),
            }),
            None => Err(SendError::permanent("invalid_response", format!("Viber replied: {}", resp.snippet()))),
        }
    }
}
