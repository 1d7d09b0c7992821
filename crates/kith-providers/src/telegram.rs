//! Telegram Bot API (`reference/protocols.md` section 3.1).
//!
//! The bot token is part of every request path (`/bot<TOKEN>/<method>`), so the client never logs a URL, strips
//! URLs from transport errors, and scrubs the token from every error text it returns.
//!
//! Telegram message ids are unique per chat only: a message's provider id here is `"<chat_id>:<message_id>"`, both
//! for inbound messages and for [`Client::send_message`] results.

use serde_json::{json, Value};

use crate::http::{endpoint, execute, seconds_to_ms};
use crate::json::{arr_at, id_at, int_at, obj_at, objects, parse_object, secs_to_ms, str_at, Object};
use crate::{ct_eq, InboundEvent, InboundMessage, MediaRef, ParseError, SendError, Sender, Sent};

pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";

/// The webhook request header that carries the `secret_token` given to `setWebhook`.
pub const SECRET_TOKEN_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// Checks the `X-Telegram-Bot-Api-Secret-Token` header: nothing is signed, the header must equal the configured
/// secret exactly (constant-time). A missing header or an empty configured secret never verifies.
pub fn verify_secret_token(header_value: Option<&str>, expected: &str) -> bool {
    match header_value {
        Some(given) if !expected.is_empty() => ct_eq(given.as_bytes(), expected.as_bytes()),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Webhook payloads

/// Parses one webhook `Update`. A `message` gives one [`InboundEvent::Message`]; every other update kind (edits,
/// channel posts, callback queries, member changes…) gives none. `update_id` must be present.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let update = parse_object(body)?;
    int_at(&update, "update_id", "update_id")?.ok_or_else(|| ParseError::missing("update_id"))?;
    let Some(message) = obj_at(&update, "message", "message")? else {
        return Ok(vec![]);
    };
    let message_id = int_at(message, "message_id", "message.message_id")?
        .ok_or_else(|| ParseError::missing("message.message_id"))?;
    let chat_id = obj_at(message, "chat", "message.chat")?
        .and_then(|c| id_at(c, "id"))
        .ok_or_else(|| ParseError::missing("message.chat.id"))?;

    // `from` is absent for messages sent on behalf of a chat; then the chat is the sender.
    let from = obj_at(message, "from", "message.from")?;
    let sender_chat = obj_at(message, "sender_chat", "message.sender_chat")?;
    let sender = match from.and_then(|f| id_at(f, "id")) {
        Some(id) => {
            Sender { channel_user_id: id, phone_e164: None, email: None, display_name: from.and_then(person_name) }
        }
        None => Sender {
            channel_user_id: sender_chat.and_then(|c| id_at(c, "id")).unwrap_or_else(|| chat_id.clone()),
            phone_e164: None,
            email: None,
            display_name: sender_chat.and_then(|c| str_at(c, "title")).map(str::to_string),
        },
    };

    let text = str_at(message, "text").or_else(|| str_at(message, "caption")).unwrap_or_default().to_string();

    let mut media = Vec::new();
    let photos = objects(arr_at(message, "photo", "message.photo")?, "message.photo")?;
    // Telegram sends each photo in several sizes; keep the largest.
    if let Some(photo) = photos.iter().max_by_key(|p| {
        let dim = |k: &str| p.get(k).and_then(Value::as_i64).unwrap_or(0);
        (dim("width").saturating_mul(dim("height")), dim("file_size"))
    }) {
        if let Some(file_id) = str_at(photo, "file_id") {
            media.push(MediaRef {
                url: None,
                provider_media_id: Some(file_id.to_string()),
                content_type: Some("image/jpeg".to_string()),
            });
        }
    }
    for kind in ["document", "video", "audio", "voice", "animation", "video_note", "sticker"] {
        if let Some(file) = obj_at(message, kind, "message.<media>")? {
            if let Some(file_id) = str_at(file, "file_id") {
                media.push(MediaRef {
                    url: None,
                    provider_media_id: Some(file_id.to_string()),
                    content_type: str_at(file, "mime_type").map(str::to_string),
                });
            }
        }
    }

    Ok(vec![InboundEvent::Message(InboundMessage {
        route: None,
        provider_message_id: format!("{chat_id}:{message_id}"),
        from: sender,
        to: Some(chat_id),
        text,
        media,
        sent_at_ms: int_at(message, "date", "message.date")?.map(secs_to_ms),
    })])
}

/// "First Last", or the username when there is no name.
fn person_name(user: &Object) -> Option<String> {
    let name = [str_at(user, "first_name"), str_at(user, "last_name")].into_iter().flatten().collect::<Vec<_>>();
    if name.is_empty() {
        str_at(user, "username").map(str::to_string)
    } else {
        Some(name.join(" "))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Client

/// The Bot API client. The base (normally `https://api.telegram.org`) is operator configuration; the bot token is
/// given per call.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    api_base: String,
}

impl Client {
    pub fn new(http: reqwest::Client, api_base: impl Into<String>) -> Self {
        Client { http, api_base: api_base.into() }
    }

    /// `sendMessage`. `chat_id` is a numeric chat id (sent as a number) or `@channelusername`. The result's id is
    /// `"<chat_id>:<message_id>"`.
    pub async fn send_message(&self, bot_token: &str, chat_id: &str, text: &str) -> Result<Sent, SendError> {
        let chat: Value = match chat_id.trim().parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(chat_id),
        };
        let result = self.call(bot_token, "sendMessage", &json!({"chat_id": chat, "text": text})).await?;
        sent_id(&result, chat_id)
    }

    /// `sendPhoto` (jpeg, png, webp) or `sendDocument` (anything else) with the file's URL, which Telegram
    /// downloads, and `caption` (at most 1,024 characters). The result's id is `"<chat_id>:<message_id>"`.
    pub async fn send_media(
        &self,
        bot_token: &str,
        chat_id: &str,
        media: &crate::meta::OutboundMedia<'_>,
    ) -> Result<Sent, SendError> {
        if media.caption.chars().count() > 1024 {
            return Err(SendError::permanent(
                "caption_too_long",
                "Telegram takes at most 1,024 characters with a file",
            ));
        }
        let (method, field) = match media.content_type {
            "image/jpeg" | "image/png" | "image/webp" => ("sendPhoto", "photo"),
            _ => ("sendDocument", "document"),
        };
        let chat: Value = match chat_id.trim().parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(chat_id),
        };
        let mut payload = json!({"chat_id": chat, field: media.link});
        if !media.caption.is_empty() {
            payload["caption"] = json!(media.caption);
        }
        let result = self.call(bot_token, method, &payload).await?;
        sent_id(&result, chat_id)
    }

    /// `setWebhook` with the `secret_token` Telegram will send back in [`SECRET_TOKEN_HEADER`] (1–256 characters
    /// of `A-Z a-z 0-9 _ -`; an empty string sets none, which leaves the webhook unauthenticated).
    pub async fn set_webhook(&self, bot_token: &str, url: &str, secret_token: &str) -> Result<(), SendError> {
        let mut payload = json!({"url": url});
        if !secret_token.is_empty() {
            payload["secret_token"] = json!(secret_token);
        }
        self.call(bot_token, "setWebhook", &payload).await.map(drop)
    }

    /// `deleteWebhook`.
    pub async fn delete_webhook(&self, bot_token: &str) -> Result<(), SendError> {
        self.call(bot_token, "deleteWebhook", &json!({})).await.map(drop)
    }

    /// Calls a Bot API method with a JSON body and returns its `result`. Errors never contain the token.
    pub async fn call(&self, bot_token: &str, method: &str, payload: &Value) -> Result<Value, SendError> {
        if bot_token.is_empty() {
            return Err(SendError::permanent("invalid_request", "no bot token"));
        }
        let bot = format!("bot{bot_token}");
        let url = endpoint(&self.api_base, &[&bot, method]).map_err(|e| redact_error(e, bot_token))?;
        tracing::debug!(provider = "telegram", method, "calling the Bot API");
        let resp = execute(self.http.post(url).json(payload)).await.map_err(|e| redact_error(e, bot_token))?;
        let body = resp.json();
        let envelope = body.as_ref().and_then(Value::as_object);
        let ok = envelope.and_then(|e| e.get("ok")).and_then(Value::as_bool);
        if resp.is_success() && ok == Some(true) {
            return Ok(envelope.and_then(|e| e.get("result")).cloned().unwrap_or(Value::Null));
        }
        let Some(envelope) = envelope.filter(|_| ok == Some(false)) else {
            return Err(redact_error(resp.generic_error(), bot_token));
        };
        let code = envelope.get("error_code").and_then(Value::as_i64).unwrap_or(i64::from(resp.status));
        let description = redact(str_at(envelope, "description").unwrap_or("no description"), bot_token);
        if code == 429 || resp.status == 429 {
            let retry_after = envelope
                .get("parameters")
                .and_then(|p| p.get("retry_after"))
                .and_then(Value::as_f64)
                .and_then(seconds_to_ms)
                .or(resp.retry_after_ms);
            return Err(SendError::RateLimited { retry_after_ms: retry_after });
        }
        if (500..=599).contains(&code) || (500..=599).contains(&resp.status) {
            return Err(SendError::Transient(format!("Telegram error {code}: {description}")));
        }
        Err(SendError::Permanent { code: code.to_string(), message: description })
    }
}

/// The id of a sent message: `"<chat_id>:<message_id>"`.
fn sent_id(result: &Value, chat_id: &str) -> Result<Sent, SendError> {
    let message = result.as_object();
    let message_id = message.and_then(|m| id_at(m, "message_id"));
    let chat_id = message
        .and_then(|m| m.get("chat"))
        .and_then(Value::as_object)
        .and_then(|c| id_at(c, "id"))
        .unwrap_or_else(|| chat_id.to_string());
    match message_id {
        Some(id) => Ok(Sent { provider_message_id: format!("{chat_id}:{id}") }),
        None => Err(SendError::permanent("invalid_response", "Telegram returned no message_id")),
    }
}

/// `text` with the bot token (and its secret half, in case the colon was percent-encoded) replaced.
fn redact(text: &str, bot_token: &str) -> String {
    if bot_token.is_empty() {
        return text.to_string();
    }
    let mut out = text.replace(bot_token, "<redacted>");
    if let Some((_, secret)) = bot_token.split_once(':') {
        if secret.len() >= 8 {
            out = out.replace(secret, "<redacted>");
        }
    }
    out
}

fn redact_error(err: SendError, bot_token: &str) -> SendError {
    match err {
        SendError::RateLimited { .. } => err,
        SendError::Transient(m) => SendError::Transient(redact(&m, bot_token)),
        SendError::Permanent { code, message } => {
            SendError::Permanent { code: redact(&code, bot_token), message: redact(&message, bot_token) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        let token = "123456:ABCdefGHIjklMNOpqr";
        assert_eq!(redact("x bot123456:ABCdefGHIjklMNOpqr/y", token), "x bot<redacted>/y");
        assert_eq!(redact("bot123456%3AABCdefGHIjklMNOpqr", token), "bot123456%3A<redacted>");
        assert_eq!(redact("nothing", token), "nothing");
    }
}
