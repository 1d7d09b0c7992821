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
// Outbound files

/// The longest text a `picture` message carries; a longer text goes as a message of its own.
pub const MAX_PICTURE_TEXT: usize = 120;
/// The largest image sent as a `picture` (Viber's picture limit on some clients is 1 MB); a larger jpeg, png or
/// gif goes as a `file`.
pub const MAX_PICTURE_BYTES: u64 = 1024 * 1024;
/// The largest `file` or `video` Viber takes.
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
/// The longest `file_name`, extension included.
pub const MAX_FILE_NAME_CHARS: usize = 256;
/// Extensions Viber refuses to carry as files (executables and scripts), lower case.
pub const FORBIDDEN_EXTENSIONS: [&str; 52] = [
    "apk", "app", "asp", "aspx", "bat", "bin", "cab", "chm", "cmd", "com", "cpl", "dll", "dmg", "exe", "gadget", "hta",
    "inf", "ins", "inx", "ipa", "isu", "jar", "job", "js", "jse", "lnk", "msc", "msh", "msh1", "msh2", "msi", "msp",
    "paf", "pif", "ps1", "ps1xml", "ps2", "psc1", "psc2", "reg", "rgs", "scr", "sct", "sh", "shb", "shs", "u3p", "vb",
    "vbe", "vbs", "ws", "wsf",
];

/// A file to send by URL: Viber downloads `link` (a short-lived signed link whose last path segment ends in the
/// file's extension, as Viber wants for pictures and videos).
#[derive(Debug, Clone, Copy)]
pub struct OutboundFile<'a> {
    pub link: &'a str,
    pub content_type: &'a str,
    pub file_name: &'a str,
    pub size: u64,
    /// The message text (empty for none); sent as the picture's `text` when it fits.
    pub caption: &'a str,
}

/// The `send_message` type for a file: `picture` for jpeg, png and gif up to [`MAX_PICTURE_BYTES`], `video` for
/// mp4 (the only video Viber plays inline), `file` for anything else.
pub fn media_kind(content_type: &str, size: u64) -> &'static str {
    match content_type {
        "image/jpeg" | "image/png" | "image/gif" if size <= MAX_PICTURE_BYTES => "picture",
        "video/mp4" => "video",
        _ => "file",
    }
}

/// Whether a text goes with a picture as its `text` ([`MAX_PICTURE_TEXT`] characters at most).
pub fn caption_fits(text: &str) -> bool {
    text.chars().count() <= MAX_PICTURE_TEXT
}

/// Whether the text of a message goes separately from its file: always for a video or a file, and for a picture
/// when it is longer than [`MAX_PICTURE_TEXT`].
pub fn text_goes_apart(file: &OutboundFile<'_>) -> bool {
    !file.caption.is_empty() && (media_kind(file.content_type, file.size) != "picture" || !caption_fits(file.caption))
}

/// Why Viber would refuse a file, if it would: over [`MAX_FILE_BYTES`], a name over [`MAX_FILE_NAME_CHARS`], or a
/// [`FORBIDDEN_EXTENSIONS`] extension.
pub fn check_file(file_name: &str, size: u64) -> Result<(), &'static str> {
    if size > MAX_FILE_BYTES {
        return Err("Viber takes files of at most 50 MB");
    }
    if file_name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err("Viber takes file names of at most 256 characters");
    }
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    if FORBIDDEN_EXTENSIONS.contains(&ext.as_str()) {
        return Err("Viber does not carry executable files (such as .exe, .bat, .js, .apk)");
    }
    Ok(())
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
        self.send(auth_token, &payload).await
    }

    /// `send_message` with one file by URL, which Viber downloads: a `picture` (with `file.caption` as its `text`
    /// when given), a `video` (with `size`) or a `file` (with `size` and `file_name`), as [`media_kind`] decides.
    /// Text does not go with a video or a file, nor a caption over [`MAX_PICTURE_TEXT`] characters with a
    /// picture: the caller sends it as a message of its own. A file Viber refuses ([`check_file`]) is refused here
    /// with `unsupported_attachment`, without a request.
    pub async fn send_media(
        &self,
        auth_token: &str,
        receiver: &str,
        sender_name: &str,
        file: &OutboundFile<'_>,
    ) -> Result<Sent, SendError> {
        if let Err(why) = check_file(file.file_name, file.size) {
            return Err(SendError::permanent("unsupported_attachment", why));
        }
        let kind = media_kind(file.content_type, file.size);
        let mut payload = json!({
            "receiver": receiver,
            "min_api_version": 1,
            "sender": {"name": sender_name},
            "type": kind,
            "media": file.link,
        });
        match kind {
            "picture" => {
                if caption_fits(file.caption) && !file.caption.is_empty() {
                    payload["text"] = json!(file.caption);
                }
            }
            "video" => payload["size"] = json!(file.size),
            _ => {
                payload["size"] = json!(file.size);
                payload["file_name"] = json!(file.file_name);
            }
        }
        self.send(auth_token, &payload).await
    }

    async fn send(&self, auth_token: &str, payload: &Value) -> Result<Sent, SendError> {
        let reply = self.call(auth_token, "send_message", payload).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_files() {
        assert_eq!(media_kind("image/png", 1000), "picture");
        assert_eq!(media_kind("image/jpeg", MAX_PICTURE_BYTES + 1), "file");
        assert_eq!(media_kind("image/webp", 10), "file");
        assert_eq!(media_kind("video/mp4", 10), "video");
        assert_eq!(media_kind("video/quicktime", 10), "file");
        assert_eq!(media_kind("application/pdf", 10), "file");
    }

    #[test]
    fn files_viber_refuses() {
        assert!(check_file("quote.pdf", 10).is_ok());
        assert!(check_file("no-extension", 10).is_ok());
        assert!(check_file("setup.EXE", 10).is_err());
        assert!(check_file("run.sh", 10).is_err());
        assert!(check_file("a.pdf", MAX_FILE_BYTES + 1).is_err());
        assert!(check_file(&format!("{}.pdf", "a".repeat(253)), 10).is_err());
        assert!(FORBIDDEN_EXTENSIONS.iter().all(|e| e.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())));
    }

    #[test]
    fn text_with_a_file() {
        fn f<'a>(content_type: &'a str, caption: &'a str) -> OutboundFile<'a> {
            OutboundFile { link: "https://x/f.png", content_type, file_name: "f.png", size: 10, caption }
        }
        let long = "x".repeat(MAX_PICTURE_TEXT + 1);
        assert!(!text_goes_apart(&f("image/png", "short")));
        assert!(!text_goes_apart(&f("application/pdf", "")));
        assert!(text_goes_apart(&f("image/png", &long)));
        assert!(text_goes_apart(&f("application/pdf", "a quote")));
    }
}
