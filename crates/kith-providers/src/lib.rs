//! Messaging provider contracts for Kith, written against `reference/protocols.md`.
//!
//! One module per provider, each with three parts and nothing else:
//! * a pure webhook verifier (no I/O, constant-time comparison),
//! * a parser from the provider's webhook payload into the provider-neutral [`InboundEvent`],
//! * an HTTP client whose base URL is operator configuration (tests point it at a local stand-in).
//!
//! No database, no application rules (opt-out keywords, quiet hours, "never regress a status" live in the app).
//! Every secret (auth token, app secret, bot token) is a parameter of the call that needs it; none is stored in a
//! client, and none is logged.

use serde::{Deserialize, Serialize};

pub mod email;
mod error;
mod http;
mod json;
pub mod llm;
pub mod meta;
pub mod telegram;
pub mod twilio;
pub mod viber;

pub use error::{ParseError, SendError};

/// The kind of channel a conversation runs on. Stored as its [`ChannelKind::as_str`] name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    TwilioSms,
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
    Viber,
    Email,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 7] = [
        ChannelKind::TwilioSms,
        ChannelKind::Whatsapp,
        ChannelKind::Messenger,
        ChannelKind::Instagram,
        ChannelKind::Telegram,
        ChannelKind::Viber,
        ChannelKind::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::TwilioSms => "twilio_sms",
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Messenger => "messenger",
            ChannelKind::Instagram => "instagram",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Viber => "viber",
            ChannelKind::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who sent an inbound message, as the provider identifies them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// The provider's id for the person on this channel (E.164 number for SMS, wa_id, PSID, IGSID, Telegram user
    /// id, Viber user id).
    pub channel_user_id: String,
    pub phone_e164: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

impl Sender {
    /// A sender known only by its channel id.
    pub fn id_only(channel_user_id: impl Into<String>) -> Self {
        Sender { channel_user_id: channel_user_id.into(), phone_e164: None, email: None, display_name: None }
    }
}

/// A piece of media attached to an inbound message: either a URL (Twilio, Messenger, Instagram, Viber) or a
/// provider media id to download through the provider's API (WhatsApp media id, Telegram file_id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    pub url: Option<String>,
    pub provider_media_id: Option<String>,
    /// MIME type when the provider states one. Messenger/Instagram only give a family: `image/*`, `video/*`,
    /// `audio/*`.
    pub content_type: Option<String>,
}

/// A message a person sent to the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// Meta only: the phone_number_id (WhatsApp), page id (Messenger) or Instagram account id the entry is
    /// addressed to. `None` for the other providers.
    pub route: Option<String>,
    /// The provider's message id. Telegram message ids are per chat, so Telegram's is `"<chat_id>:<message_id>"`.
    pub provider_message_id: String,
    pub from: Sender,
    /// The workspace-side address the message was sent to: Twilio `To` number, WhatsApp display phone number,
    /// Messenger/Instagram recipient id. Telegram: the chat id the message was posted in (the reply target; equal
    /// to the sender's id in private chats). Viber: `None`.
    pub to: Option<String>,
    /// Text body, or the media caption; may be empty for media-only messages.
    pub text: String,
    pub media: Vec<MediaRef>,
    /// When the provider says the message was sent, in Unix milliseconds.
    pub sent_at_ms: Option<i64>,
}

/// Delivery state of an outbound message, as reported by a provider's status callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Queued,
        DeliveryState::Sent,
        DeliveryState::Delivered,
        DeliveryState::Read,
        DeliveryState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider's report on an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// Meta only (WhatsApp phone_number_id, page id, Instagram account id); `None` elsewhere.
    pub route: Option<String>,
    pub provider_message_id: String,
    pub state: DeliveryState,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// When the provider says the state was reached, in Unix milliseconds.
    pub at_ms: Option<i64>,
}

/// One provider-neutral event parsed from a webhook. One webhook may carry several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboundEvent {
    Message(InboundMessage),
    Status(StatusUpdate),
    /// An e-mail fetched over IMAP: the neutral message plus its threading headers, HTML and attachments.
    Email(Box<email::InboundEmail>),
}

impl InboundEvent {
    /// A stable key to deduplicate provider retries: the message id for messages, `"status:<id>:<state>"` for
    /// statuses (a provider may report several states for one message, each once).
    pub fn provider_event_id(&self) -> String {
        match self {
            InboundEvent::Message(m) => m.provider_message_id.clone(),
            InboundEvent::Status(s) => format!("status:{}:{}", s.provider_message_id, s.state.as_str()),
            InboundEvent::Email(e) => e.message.provider_message_id.clone(),
        }
    }

    pub fn route(&self) -> Option<&str> {
        match self {
            InboundEvent::Message(m) => m.route.as_deref(),
            InboundEvent::Status(s) => s.route.as_deref(),
            InboundEvent::Email(_) => None,
        }
    }
}

/// A message the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub provider_message_id: String,
}

/// Constant-time equality of two byte strings (the length itself is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
