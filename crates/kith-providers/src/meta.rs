//! Meta: WhatsApp Cloud API, Messenger and Instagram messaging (`reference/protocols.md` section 2). The three
//! share the webhook signature (2.6), the verification handshake (2.5), the Graph API error shape (2.7) and, for
//! Messenger and Instagram, the webhook and Send API shapes (2.4).
//!
//! Every event carries a `route`: the WhatsApp `phone_number_id`, or the page / Instagram account id of the entry,
//! so one webhook endpoint can serve many connected numbers and pages.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::http::{endpoint, execute, RawResponse};
use crate::json::{arr_at, id_at, int_at, obj_at, objects, parse_object, secs_to_ms, str_at, Object};
use crate::{
    ct_eq, DeliveryState, InboundEvent, InboundMessage, MediaRef, ParseError, SendError, Sender, Sent, StatusUpdate,
};

pub const DEFAULT_GRAPH_BASE: &str = "https://graph.facebook.com/v21.0";

/// Graph API error codes that mean "slow down" (2.7): WhatsApp throughput (130429) and pair rate (131056), app
/// (4), user (17), page (32), API-call (613) and WhatsApp Business Account (80007) rate limits.
pub const RATE_LIMIT_CODES: [i64; 7] = [4, 17, 32, 613, 80007, 130429, 131056];

/// "More than 24 hours since the customer last replied": send a template instead.
pub const ERROR_OUTSIDE_WINDOW: i64 = 131047;

// ---------------------------------------------------------------------------------------------------------------
// Webhook authentication

/// `sha256=` + lowercase hex HMAC-SHA256 of `body` keyed by the App Secret: the `X-Hub-Signature-256` value (2.6).
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `X-Hub-Signature-256` over the raw request body (2.6). The hex digits may be in either case. An empty
/// secret or a header without the `sha256=` prefix never verifies.
pub fn verify_signature(app_secret: &str, body: &[u8], header_value: &str) -> bool {
    if app_secret.is_empty() {
        return false;
    }
    let header = header_value.trim();
    let Some(hex_sig) = header.get(..7).filter(|p| p.eq_ignore_ascii_case("sha256=")).map(|_| &header[7..]) else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    ct_eq(&mac.finalize().into_bytes(), &given)
}

/// The `GET` verification handshake (2.5): when `hub.mode` is `subscribe` and `hub.verify_token` equals the
/// configured token, the `hub.challenge` to answer with (HTTP 200, text/plain); otherwise `None` (answer 403).
/// An empty configured token never verifies.
pub fn verify_handshake(mode: &str, token: &str, challenge: &str, expected_verify_token: &str) -> Option<String> {
    let token_ok = !expected_verify_token.is_empty() && ct_eq(token.as_bytes(), expected_verify_token.as_bytes());
    (mode == "subscribe" && token_ok && !challenge.is_empty()).then(|| challenge.to_string())
}

// ---------------------------------------------------------------------------------------------------------------
// Webhook payloads

/// Parses a Meta webhook POST body: WhatsApp (`object` = `whatsapp_business_account`, 2.3), Messenger (`page`) or
/// Instagram (`instagram`, 2.4). Batched entries, changes and messages all come out, in order. Other objects, other
/// fields (`comments`, template status…), echoes of our own sends, reactions and edits give no event.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let root = parse_object(body)?;
    let object = str_at(&root, "object").ok_or_else(|| ParseError::missing("object"))?;
    let entries = objects(arr_at(&root, "entry", "entry")?, "entry")?;
    let mut events = Vec::new();
    match object {
        "whatsapp_business_account" => {
            for entry in entries {
                parse_whatsapp_entry(entry, &mut events)?;
            }
        }
        "page" | "instagram" => {
            for entry in entries {
                parse_messaging_entry(entry, &mut events)?;
            }
        }
        other => tracing::debug!(object = other, "meta webhook for an object we do not handle: ignored"),
    }
    Ok(events)
}

fn parse_whatsapp_entry(entry: &Object, events: &mut Vec<InboundEvent>) -> Result<(), ParseError> {
    for change in objects(arr_at(entry, "changes", "entry.changes")?, "entry.changes")? {
        if str_at(change, "field") != Some("messages") {
            continue;
        }
        let Some(value) = obj_at(change, "value", "entry.changes.value")? else {
            continue;
        };
        let messages = objects(arr_at(value, "messages", "value.messages")?, "value.messages")?;
        let statuses = objects(arr_at(value, "statuses", "value.statuses")?, "value.statuses")?;
        if messages.is_empty() && statuses.is_empty() {
            continue;
        }
        let metadata = obj_at(value, "metadata", "value.metadata")?;
        let route = metadata
            .and_then(|m| id_at(m, "phone_number_id"))
            .ok_or_else(|| ParseError::missing("value.metadata.phone_number_id"))?;
        let display_number = metadata.and_then(|m| str_at(m, "display_phone_number")).map(str::to_string);
        let contacts = objects(arr_at(value, "contacts", "value.contacts")?, "value.contacts")?;

        for message in messages {
            if let Some(m) = whatsapp_message(message, &route, display_number.as_deref(), &contacts)? {
                events.push(InboundEvent::Message(m));
            }
        }
        for status in statuses {
            if let Some(s) = whatsapp_status(status, &route)? {
                events.push(InboundEvent::Status(s));
            }
        }
    }
    Ok(())
}

fn whatsapp_message(
    message: &Object,
    route: &str,
    display_number: Option<&str>,
    contacts: &[&Object],
) -> Result<Option<InboundMessage>, ParseError> {
    let id = id_at(message, "id").ok_or_else(|| ParseError::missing("value.messages.id"))?;
    let kind = str_at(message, "type").unwrap_or("text");
    if matches!(kind, "reaction" | "system" | "request_welcome") {
        return Ok(None);
    }
    // `from` is the wa_id (the phone number's digits); newer payloads may carry only a business-scoped user id.
    let wa_id = id_at(message, "from");
    let user_id = id_at(message, "from_user_id").or_else(|| id_at(message, "user_id"));
    let channel_user_id =
        wa_id.clone().or(user_id.clone()).ok_or_else(|| ParseError::missing("value.messages.from"))?;
    let contact = contacts
        .iter()
        .find(|c| {
            let cid = id_at(c, "wa_id").or_else(|| id_at(c, "user_id"));
            cid.is_some() && (cid == wa_id || cid == user_id)
        })
        .or(if contacts.len() == 1 { contacts.first() } else { None });
    let display_name = contact
        .and_then(|c| obj_at(c, "profile", "value.contacts.profile").ok().flatten())
        .and_then(|p| str_at(p, "name"))
        .map(str::to_string);
    let sent_at_ms = int_at(message, "timestamp", "value.messages.timestamp")?.map(secs_to_ms);

    let mut text = String::new();
    let mut media = Vec::new();
    let body = message.get(kind).and_then(Value::as_object);
    match kind {
        "text" => text = body.and_then(|b| str_at(b, "body")).unwrap_or_default().to_string(),
        "image" | "video" | "audio" | "document" | "sticker" | "voice" => {
            if let Some(b) = body {
                text = str_at(b, "caption").unwrap_or_default().to_string();
                media.push(MediaRef {
                    url: str_at(b, "url").map(str::to_string),
                    provider_media_id: id_at(b, "id"),
                    content_type: str_at(b, "mime_type").map(str::to_string),
                });
            }
        }
        "button" => text = body.and_then(|b| str_at(b, "text")).unwrap_or_default().to_string(),
        "interactive" => {
            if let Some(b) = body {
                text = ["button_reply", "list_reply"]
                    .iter()
                    .filter_map(|k| b.get(*k).and_then(Value::as_object))
                    .find_map(|r| str_at(r, "title"))
                    .unwrap_or_default()
                    .to_string();
            }
        }
        "location" => {
            if let Some(b) = body {
                let coords =
                    match (b.get("latitude").and_then(Value::as_f64), b.get("longitude").and_then(Value::as_f64)) {
                        (Some(lat), Some(lon)) => Some(format!("{lat}, {lon}")),
                        _ => None,
                    };
                text = [str_at(b, "name").map(str::to_string), str_at(b, "address").map(str::to_string), coords]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        "contacts" => {
            let shared = arr_at(message, "contacts", "value.messages.contacts")?;
            text = shared
                .iter()
                .filter_map(|c| c.get("name")?.get("formatted_name")?.as_str())
                .collect::<Vec<_>>()
                .join("\n");
        }
        _ => {}
    }

    Ok(Some(InboundMessage {
        route: Some(route.to_string()),
        provider_message_id: id,
        from: Sender {
            phone_e164: wa_id.as_deref().filter(|w| w.bytes().all(|b| b.is_ascii_digit())).map(|w| format!("+{w}")),
            channel_user_id,
            email: None,
            display_name,
        },
        to: display_number.map(str::to_string),
        text,
        media,
        sent_at_ms,
    }))
}

fn whatsapp_status(status: &Object, route: &str) -> Result<Option<StatusUpdate>, ParseError> {
    let id = id_at(status, "id").ok_or_else(|| ParseError::missing("value.statuses.id"))?;
    let raw = str_at(status, "status").ok_or_else(|| ParseError::missing("value.statuses.status"))?;
    let state = match raw {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" | "played" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        other => {
            tracing::debug!(status = other, "whatsapp status we do not map: ignored");
            return Ok(None);
        }
    };
    let errors = objects(arr_at(status, "errors", "value.statuses.errors")?, "value.statuses.errors")?;
    let (error_code, error_message) = match errors.first() {
        Some(e) => (id_at(e, "code"), error_text(e)),
        None => (None, None),
    };
    Ok(Some(StatusUpdate {
        route: Some(route.to_string()),
        provider_message_id: id,
        state,
        error_code,
        error_message,
        at_ms: int_at(status, "timestamp", "value.statuses.timestamp")?.map(secs_to_ms),
    }))
}

/// `message` (or `title`), with `error_data.details` when it adds something.
fn error_text(e: &Object) -> Option<String> {
    let main = str_at(e, "message").or_else(|| str_at(e, "title"));
    let details = e.get("error_data").and_then(|d| d.get("details")).and_then(Value::as_str).filter(|d| !d.is_empty());
    match (main, details) {
        (Some(m), Some(d)) if m != d => Some(format!("{m} ({d})")),
        (Some(m), _) => Some(m.to_string()),
        (None, Some(d)) => Some(d.to_string()),
        (None, None) => None,
    }
}

fn parse_messaging_entry(entry: &Object, events: &mut Vec<InboundEvent>) -> Result<(), ParseError> {
    let items = objects(arr_at(entry, "messaging", "entry.messaging")?, "entry.messaging")?;
    if items.is_empty() {
        return Ok(());
    }
    let route = id_at(entry, "id").ok_or_else(|| ParseError::missing("entry.id"))?;
    for item in items {
        let sender = obj_at(item, "sender", "messaging.sender")?.and_then(|s| id_at(s, "id"));
        let recipient = obj_at(item, "recipient", "messaging.recipient")?.and_then(|s| id_at(s, "id"));
        let timestamp = int_at(item, "timestamp", "messaging.timestamp")?;

        if let Some(message) = obj_at(item, "message", "messaging.message")? {
            if message.get("is_echo").and_then(Value::as_bool) == Some(true)
                || message.get("is_deleted").and_then(Value::as_bool) == Some(true)
            {
                continue;
            }
            let mid = id_at(message, "mid").ok_or_else(|| ParseError::missing("messaging.message.mid"))?;
            let sender = sender.clone().ok_or_else(|| ParseError::missing("messaging.sender.id"))?;
            let mut media = Vec::new();
            for attachment in objects(arr_at(message, "attachments", "message.attachments")?, "message.attachments")? {
                let payload = obj_at(attachment, "payload", "message.attachments.payload")?;
                let url = payload.and_then(|p| str_at(p, "url")).map(str::to_string);
                if url.is_none() {
                    continue;
                }
                let family = match str_at(attachment, "type") {
                    Some("image") => Some("image/*"),
                    Some("video") => Some("video/*"),
                    Some("audio") => Some("audio/*"),
                    _ => None,
                };
                media.push(MediaRef { url, provider_media_id: None, content_type: family.map(str::to_string) });
            }
            events.push(InboundEvent::Message(InboundMessage {
                route: Some(route.clone()),
                provider_message_id: mid,
                from: Sender::id_only(sender),
                to: recipient.clone(),
                text: str_at(message, "text").unwrap_or_default().to_string(),
                media,
                sent_at_ms: timestamp,
            }));
        } else if let Some(postback) = obj_at(item, "postback", "messaging.postback")? {
            // A button tap; newer payloads give it a mid, older ones nothing to deduplicate on.
            let (Some(mid), Some(sender)) = (id_at(postback, "mid"), sender.clone()) else {
                continue;
            };
            events.push(InboundEvent::Message(InboundMessage {
                route: Some(route.clone()),
                provider_message_id: mid,
                from: Sender::id_only(sender),
                to: recipient.clone(),
                text: str_at(postback, "title").unwrap_or_default().to_string(),
                media: Vec::new(),
                sent_at_ms: timestamp,
            }));
        } else if let Some(delivery) = obj_at(item, "delivery", "messaging.delivery")? {
            let at_ms = int_at(delivery, "watermark", "messaging.delivery.watermark")?.or(timestamp);
            for mid in arr_at(delivery, "mids", "messaging.delivery.mids")?.iter().filter_map(Value::as_str) {
                events.push(status(&route, mid, DeliveryState::Delivered, at_ms));
            }
        } else if let Some(read) = obj_at(item, "read", "messaging.read")? {
            // Instagram names the message; Messenger gives only a watermark ("everything before this time"),
            // which is not a message id: that form gives no event.
            if let Some(mid) = id_at(read, "mid") {
                let at_ms = int_at(read, "watermark", "messaging.read.watermark")?.or(timestamp);
                events.push(status(&route, &mid, DeliveryState::Read, at_ms));
            }
        }
    }
    Ok(())
}

fn status(route: &str, mid: &str, state: DeliveryState, at_ms: Option<i64>) -> InboundEvent {
    InboundEvent::Status(StatusUpdate {
        route: Some(route.to_string()),
        provider_message_id: mid.to_string(),
        state,
        error_code: None,
        error_message: None,
        at_ms,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Client

/// The Graph API client for sending. The base (normally `https://graph.facebook.com/v{NN}.0`, or
/// `https://graph.instagram.com/v{NN}.0` for Instagram-Login tokens) is operator configuration, version included.
/// Tokens are given per call and sent as `Authorization: Bearer`.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    graph_base: String,
}

impl Client {
    pub fn new(http: reqwest::Client, graph_base: impl Into<String>) -> Self {
        Client { http, graph_base: graph_base.into() }
    }

    /// A WhatsApp text message (2.2), allowed within 24 hours of the customer's last message.
    pub async fn send_whatsapp_text(
        &self,
        phone_number_id: &str,
        access_token: &str,
        to: &str,
        body: &str,
    ) -> Result<Sent, SendError> {
        let payload = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": false, "body": body},
        });
        let resp = self.post(phone_number_id, access_token, &payload).await?;
        whatsapp_message_id(&resp)
    }

    /// A WhatsApp media message by link (Cloud API `image`, `video`, `audio` or `document`): WhatsApp fetches
    /// `link` itself. `caption` goes with image, video and document; `filename` with document only.
    pub async fn send_whatsapp_media(
        &self,
        phone_number_id: &str,
        access_token: &str,
        to: &str,
        media: &OutboundMedia<'_>,
    ) -> Result<Sent, SendError> {
        let kind = media.whatsapp_kind();
        let mut object = json!({"link": media.link});
        if kind != "audio" && !media.caption.is_empty() {
            object["caption"] = json!(media.caption);
        }
        if kind == "document" && !media.file_name.is_empty() {
            object["filename"] = json!(media.file_name);
        }
        let payload = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": kind,
            kind: object,
        });
        let resp = self.post(phone_number_id, access_token, &payload).await?;
        whatsapp_message_id(&resp)
    }

    /// A WhatsApp template message (2.2), the only kind allowed outside the 24-hour window. `variables` fill the
    /// body's `{{1}}`, `{{2}}`… in order; no variables sends no components.
    pub async fn send_whatsapp_template(
        &self,
        phone_number_id: &str,
        access_token: &str,
        to: &str,
        template_name: &str,
        language: &str,
        variables: &[String],
    ) -> Result<Sent, SendError> {
        let mut template = json!({"name": template_name, "language": {"code": language}});
        if !variables.is_empty() {
            let parameters: Vec<Value> = variables.iter().map(|v| json!({"type": "text", "text": v})).collect();
            template["components"] = json!([{"type": "body", "parameters": parameters}]);
        }
        let payload = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": template,
        });
        let resp = self.post(phone_number_id, access_token, &payload).await?;
        whatsapp_message_id(&resp)
    }

    /// A Messenger text reply (2.4): `POST /{page_id}/messages` (or `/me/messages`) with
    /// `messaging_type: RESPONSE`, allowed within 24 hours of the person's last message.
    pub async fn send_messenger_text(
        &self,
        page_id_or_me: &str,
        page_access_token: &str,
        recipient_id: &str,
        body: &str,
    ) -> Result<Sent, SendError> {
        let payload = json!({
            "recipient": {"id": recipient_id},
            "messaging_type": "RESPONSE",
            "message": {"text": body},
        });
        let resp = self.post(page_id_or_me, page_access_token, &payload).await?;
        messenger_message_id(&resp)
    }

    /// A Messenger message carrying one file by URL (2.4; the Send API's `attachment` with `is_reusable: false`):
    /// Meta downloads `media.link` itself. A Send API message holds a text or an attachment, never both, so
    /// `media.caption` is not sent here: the caller sends the text as a message of its own.
    pub async fn send_messenger_attachment(
        &self,
        page_id_or_me: &str,
        page_access_token: &str,
        recipient_id: &str,
        media: &OutboundMedia<'_>,
    ) -> Result<Sent, SendError> {
        let payload = json!({
            "recipient": {"id": recipient_id},
            "messaging_type": "RESPONSE",
            "message": {"attachment": {
                "type": media.messenger_kind(),
                "payload": {"url": media.link, "is_reusable": false},
            }},
        });
        let resp = self.post(page_id_or_me, page_access_token, &payload).await?;
        messenger_message_id(&resp)
    }

    /// An Instagram text reply: the Messenger Send API body posted to `/{page_id}/messages` (Facebook Login) or
    /// `/{ig_id}/messages` on a graph.instagram.com base (2.4).
    pub async fn send_instagram_text(
        &self,
        page_or_ig_id: &str,
        access_token: &str,
        recipient_id: &str,
        body: &str,
    ) -> Result<Sent, SendError> {
        self.send_messenger_text(page_or_ig_id, access_token, recipient_id, body).await
    }

    /// An Instagram message carrying one image, video or audio file by URL (the Messenger body of
    /// [`Client::send_messenger_attachment`]). Instagram takes no other files: anything else is refused here with
    /// `unsupported_attachment`, without a request (callers check [`instagram_accepts`] before queueing).
    pub async fn send_instagram_attachment(
        &self,
        page_or_ig_id: &str,
        access_token: &str,
        recipient_id: &str,
        media: &OutboundMedia<'_>,
    ) -> Result<Sent, SendError> {
        if !instagram_accepts(media.content_type) {
            return Err(SendError::permanent(
                "unsupported_attachment",
                "Instagram takes png, jpeg and gif images, mp4, ogg, avi, mov and webm videos, aac, m4a and wav audio only",
            ));
        }
        self.send_messenger_attachment(page_or_ig_id, access_token, recipient_id, media).await
    }

    async fn post(&self, node: &str, token: &str, payload: &Value) -> Result<RawResponse, SendError> {
        let url = endpoint(&self.graph_base, &[node, "messages"])?;
        tracing::debug!(provider = "meta", "sending message");
        let resp = execute(self.http.post(url).bearer_auth(token).json(payload)).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(graph_error(&resp))
        }
    }
}

/// A file to send by URL: the provider downloads `link` (a short-lived signed link).
#[derive(Debug, Clone, Copy)]
pub struct OutboundMedia<'a> {
    pub link: &'a str,
    pub content_type: &'a str,
    pub file_name: &'a str,
    /// The message text sent with the file (empty for none).
    pub caption: &'a str,
}

impl OutboundMedia<'_> {
    /// The Cloud API message type for the content type (WhatsApp shows jpeg and png as images, mp4 and 3gpp as
    /// video; anything else goes as a document).
    pub fn whatsapp_kind(&self) -> &'static str {
        match self.content_type {
            "image/jpeg" | "image/png" => "image",
            "video/mp4" | "video/3gpp" => "video",
            t if t.starts_with("audio/") && self.caption.is_empty() => "audio",
            _ => "document",
        }
    }
}

impl OutboundMedia<'_> {
    /// The Messenger / Instagram Send API attachment type (2.4): jpeg, png and gif show as images, other
    /// `video/*` and `audio/*` as video and audio players; anything else (webp and svg included, which Messenger
    /// does not show as images) goes as a `file`.
    pub fn messenger_kind(&self) -> &'static str {
        messenger_kind(self.content_type)
    }
}

fn messenger_kind(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" | "image/png" | "image/gif" => "image",
        t if t.starts_with("video/") => "video",
        t if t.starts_with("audio/") => "audio",
        _ => "file",
    }
}

/// The content types Instagram messaging takes, as Meta's Instagram "Send a Message" page lists them: png, jpeg
/// and gif images (up to 8 MB), mp4, ogg, avi, mov and webm videos, aac, m4a, wav and mp4 audio (up to 25 MB).
/// Documents are not listed there (only on the attachment-upload page, for pdf), so none is sent.
pub const INSTAGRAM_TYPES: [&str; 15] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "video/mp4",
    "video/ogg",
    "video/x-msvideo",
    "video/avi",
    "video/quicktime",
    "video/webm",
    "audio/aac",
    "audio/mp4",
    "audio/x-m4a",
    "audio/m4a",
    "audio/wav",
    "audio/x-wav",
];

/// Whether Instagram messaging takes a file of this content type ([`INSTAGRAM_TYPES`]).
pub fn instagram_accepts(content_type: &str) -> bool {
    INSTAGRAM_TYPES.contains(&content_type)
}

fn messenger_message_id(resp: &RawResponse) -> Result<Sent, SendError> {
    let id = resp.json().and_then(|j| j.get("message_id").and_then(Value::as_str).map(str::to_string));
    match id.filter(|s| !s.is_empty()) {
        Some(id) => Ok(Sent { provider_message_id: id }),
        None => Err(no_id(resp)),
    }
}

fn whatsapp_message_id(resp: &RawResponse) -> Result<Sent, SendError> {
    let id = resp.json().and_then(|j| {
        j.get("messages")?.as_array()?.first()?.get("id")?.as_str().filter(|s| !s.is_empty()).map(str::to_string)
    });
    match id {
        Some(id) => Ok(Sent { provider_message_id: id }),
        None => Err(no_id(resp)),
    }
}

fn no_id(resp: &RawResponse) -> SendError {
    SendError::permanent(
        "invalid_response",
        format!("Meta accepted the request but returned no message id: {}", resp.snippet()),
    )
}

/// The Graph API error shape (2.7) as a [`SendError`]: rate-limit codes and HTTP 429 → rate limited; 5xx or an
/// error flagged `is_transient` (or code 2, "service temporarily unavailable") → transient; anything else →
/// permanent with Meta's code.
fn graph_error(resp: &RawResponse) -> SendError {
    let error = resp.json().and_then(|j| j.get("error").and_then(Value::as_object).cloned());
    let Some(error) = error else {
        return resp.generic_error();
    };
    let code = error.get("code").and_then(Value::as_i64);
    if resp.status == 429 || code.is_some_and(|c| RATE_LIMIT_CODES.contains(&c)) {
        return SendError::RateLimited { retry_after_ms: resp.retry_after_ms };
    }
    let message = error_text(&error).unwrap_or_else(|| resp.snippet());
    let transient = error.get("is_transient").and_then(Value::as_bool) == Some(true) || code == Some(2);
    if (500..=599).contains(&resp.status) || resp.status == 408 || transient {
        return SendError::Transient(format!("Meta HTTP {}: {message}", resp.status));
    }
    match code {
        Some(code) => SendError::Permanent { code: code.to_string(), message },
        None => SendError::permanent(format!("http_{}", resp.status), message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messenger_attachment_types() {
        let kind = |ct| OutboundMedia { link: "", content_type: ct, file_name: "", caption: "" }.messenger_kind();
        assert_eq!((kind("image/jpeg"), kind("image/gif"), kind("image/svg+xml")), ("image", "image", "file"));
        assert_eq!((kind("video/mp4"), kind("audio/ogg"), kind("application/pdf")), ("video", "audio", "file"));
        assert!(
            instagram_accepts("image/png") && instagram_accepts("audio/x-m4a") && instagram_accepts("video/quicktime")
        );
        assert!(!instagram_accepts("application/pdf") && !instagram_accepts("image/webp"));
        assert!(!instagram_accepts("audio/mpeg") && !instagram_accepts("video/x-matroska"), "not on Meta's list");
        for t in INSTAGRAM_TYPES {
            assert_ne!(messenger_kind(t), "file", "{t} goes as an image, a video or audio");
        }
    }
}
