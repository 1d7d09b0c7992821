//! E-mail (RFC 5322 / MIME) into the provider-neutral inbound message.
//!
//! Pure: bytes in, [`InboundEmail`] out; no network, no database. The IMAP
//! client that fetches the bytes lives in `kith-infra::imap`, the poller that
//! stores them in `kith-app::inbox::email`.
//!
//! * Threading keys: `Message-ID`, `In-Reply-To` and `References`, kept
//!   without angle brackets (`abc@example.com`), as mail-parser gives them. A
//!   message without a Message-ID gets a stable one made from a hash of its
//!   bytes (`<sha256>@kith.invalid`), so that fetching it twice still
//!   deduplicates.
//! * Bodies: the plain-text part is the body shown when there is one; for an
//!   HTML-only message the text is derived from the *sanitised* HTML. HTML
//!   is always sanitised with ammonia (scripts, styles, event handlers,
//!   `javascript:` URLs and forms removed) before it leaves this module.
//! * Attachments are listed (name, type, size) with their decoded bytes, up
//!   to [`MAX_ATTACHMENT_BYTES`] each and [`MAX_ATTACHMENTS_TOTAL`] in all;
//!   a part over a cap is listed with `omitted` set and no bytes. The bytes
//!   never go into the serialised event: the app stores them first.
//!
//! Parsing uses `mail-parser` (0.11: the 1.x line needs a newer compiler than
//! this workspace's minimum), which decodes MIME, encoded words and the
//! usual legacy charsets without copying the message.

use crate::{InboundMessage, ParseError, Sender};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest body text kept (characters); the rest is cut with a note.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// The most HTML sanitised and kept (bytes, before sanitising).
pub const MAX_HTML_BYTES: usize = 512 * 1024;
/// References kept per message (the newest ones): enough to thread, bounded.
pub const MAX_REFERENCES: usize = 50;
/// Attachments listed per message.
pub const MAX_ATTACHMENTS: usize = 100;
/// The largest attachment whose bytes are kept.
pub const MAX_ATTACHMENT_BYTES: u64 = 25 * 1024 * 1024;
/// The most attachment bytes kept per message.
pub const MAX_ATTACHMENTS_TOTAL: u64 = 25 * 1024 * 1024;

/// An attachment as the message describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// Inline parts (images an HTML body shows through `cid:`).
    pub inline: bool,
    /// The decoded bytes (empty when omitted); never serialised.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// True when the bytes were over a cap and not kept.
    #[serde(default)]
    pub omitted: bool,
    /// Where the application stored the bytes (its attachment id); set by the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_as: Option<String>,
    /// SHA-256 of the stored bytes, hex; set by the app with `stored_as`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One parsed e-mail: the neutral message plus what only e-mail has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEmail {
    /// `provider_message_id` is the Message-ID; `from.channel_user_id` and
    /// `from.email` the sender's address (lower case); `to` the first
    /// recipient; `text` the body shown.
    pub message: InboundMessage,
    /// Where replies go: `Reply-To` when present, else the sender.
    pub reply_to: String,
    pub subject: String,
    pub in_reply_to: Vec<String>,
    /// Oldest first, as in the header.
    pub references: Vec<String>,
    /// The sanitised HTML body, when the message has one.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// True when the body shown was derived from the HTML part.
    pub text_from_html: bool,
}

impl InboundEmail {
    /// Every Message-ID this message answers, nearest first: In-Reply-To,
    /// then References from the newest back.
    pub fn thread_ids(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in self.in_reply_to.iter().chain(self.references.iter().rev()) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        out
    }
}

/// A Message-ID as stored: trimmed, without angle brackets; None when empty
/// or implausible (spaces, control characters, over 998 octets).
pub fn normalize_message_id(raw: &str) -> Option<String> {
    let id = raw.trim().trim_start_matches('<').trim_end_matches('>').trim();
    let ok = !id.is_empty() && id.len() <= 998 && !id.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| id.to_string())
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => vec![],
    };
    let mut out: Vec<String> = Vec::new();
    for r in raw {
        // A text value may still hold several ids when the header was unusual.
        for piece in r.split(|c: char| c.is_whitespace() || c == ',') {
            if let Some(id) = normalize_message_id(piece) {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
    }
    out
}

/// Cut a string to at most `max` characters, on a character boundary.
fn cut_chars(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (s[..i].to_string(), true),
        None => (s.to_string(), false),
    }
}

/// Cut to at most `max` bytes, on a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// HTML made safe to show: no scripts, styles, event handlers, forms,
/// frames or `javascript:` URLs; links open without a referrer.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default().link_rel(Some("noopener noreferrer nofollow")).clean(html).to_string()
}

/// Plain text of (already sanitised) HTML.
fn text_of_html(html: &str) -> String {
    mail_parser::decoders::html::html_to_text(html).trim().to_string()
}

fn lower_address(a: Option<&str>) -> Option<String> {
    a.map(|s| s.trim().to_lowercase()).filter(|s| s.contains('@'))
}

/// Parse one message as fetched (the full RFC 5322 bytes).
pub fn parse(raw: &[u8]) -> Result<InboundEmail, ParseError> {
    let msg = MessageParser::default().parse(raw).ok_or_else(|| ParseError::invalid("message", "not an e-mail"))?;
    let from = msg.from().and_then(|a| a.first()).ok_or_else(|| ParseError::missing("From"))?;
    let address = lower_address(from.address()).ok_or_else(|| ParseError::invalid("From", "no address"))?;
    let display_name = from.name().map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    let reply_to = msg.reply_to().and_then(|a| a.first()).and_then(|a| lower_address(a.address()));
    let to = msg.to().and_then(|a| a.first()).and_then(|a| lower_address(a.address()));

    let message_id = msg.message_id().and_then(normalize_message_id).unwrap_or_else(|| {
        let digest = Sha256::digest(raw);
        format!("{}@kith.invalid", hex::encode(digest))
    });
    let in_reply_to = id_list(msg.in_reply_to());
    let mut references = id_list(msg.references());
    if references.len() > MAX_REFERENCES {
        references.drain(..references.len() - MAX_REFERENCES);
    }

    let html = msg
        .html_bodies()
        .find(|p| p.is_text_html())
        .and_then(|p| p.text_contents())
        .map(|h| sanitize_html(cut_bytes(h, MAX_HTML_BYTES)));
    let plain = msg.text_bodies().find(|p| p.is_text() && !p.is_text_html()).and_then(|p| p.text_contents());
    let (text, text_from_html) = match (plain, &html) {
        (Some(t), _) => (t.trim_end().to_string(), false),
        (None, Some(h)) => (text_of_html(h), true),
        (None, None) => (String::new(), false),
    };
    let (mut text, cut) = cut_chars(&text, MAX_TEXT_CHARS);
    if cut {
        text.push_str("\n\n[… the rest of this e-mail was cut]");
    }

    let mut kept_total = 0u64;
    let attachments = msg
        .attachments()
        .take(MAX_ATTACHMENTS)
        .map(|p| {
            let size = p.contents().len() as u64;
            let keep = size <= MAX_ATTACHMENT_BYTES && kept_total + size <= MAX_ATTACHMENTS_TOTAL;
            if keep {
                kept_total += size;
            }
            (p, keep)
        })
        .map(|(p, keep)| Attachment {
            name: p.attachment_name().map(|n| cut_chars(n.trim(), 255).0),
            content_type: p
                .content_type()
                .map(|c| match c.subtype() {
                    Some(sub) => format!("{}/{}", c.ctype(), sub),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_lowercase(),
            size: p.contents().len() as u64,
            inline: p.content_disposition().is_some_and(|d| d.is_inline()),
            data: if keep { p.contents().to_vec() } else { Vec::new() },
            omitted: !keep,
            stored_as: None,
            sha256: None,
        })
        .collect();

    let subject = msg.subject().map(|s| cut_chars(s.trim(), 998).0).unwrap_or_default();
    let sent_at_ms = msg.date().map(|d| d.to_timestamp().saturating_mul(1000)).filter(|t| *t > 0);
    Ok(InboundEmail {
        message: InboundMessage {
            route: None,
            provider_message_id: message_id,
            from: Sender {
                channel_user_id: address.clone(),
                phone_e164: None,
                email: Some(address.clone()),
                display_name,
            },
            to,
            text,
            media: vec![],
            sent_at_ms,
        },
        reply_to: reply_to.unwrap_or(address),
        subject,
        in_reply_to,
        references,
        html,
        attachments,
        text_from_html,
    })
}

/// The subject of a reply: `Re: ` once, never stacked.
pub fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    let lower = s.to_lowercase();
    if lower.starts_with("re:") || lower.starts_with("aw:") || lower.starts_with("sv:") {
        s.to_string()
    } else if s.is_empty() {
        "Re: your message".to_string()
    } else {
        format!("Re: {s}")
    }
}

/// The References of a reply to `parent_id` (RFC 5322 §3.6.4): the parent's
/// References (or its In-Reply-To when it has none) followed by the parent's
/// id, at most [`MAX_REFERENCES`] (the first and the newest are kept).
pub fn reply_references(parent_references: &[String], parent_in_reply_to: &[String], parent_id: &str) -> Vec<String> {
    let mut refs: Vec<String> = if parent_references.is_empty() {
        parent_in_reply_to.iter().take(1).cloned().collect()
    } else {
        parent_references.to_vec()
    };
    refs.retain(|r| r != parent_id);
    refs.push(parent_id.to_string());
    if refs.len() > MAX_REFERENCES {
        let first = refs[0].clone();
        let keep = refs.split_off(refs.len() - (MAX_REFERENCES - 1));
        refs = std::iter::once(first).chain(keep).collect();
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN_REPLY: &[u8] = b"From: \"Ana Lima\" <Ana@Example.COM>\r\n\
To: support@kith.test\r\n\
Subject: Re: Order 42\r\n\
Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
Message-ID: <reply-1@example.com>\r\n\
In-Reply-To: <out-1@kith.test>\r\n\
References: <first@example.com>\r\n <out-1@kith.test>\r\n\
\r\n\
Thanks, that works.\r\n";

    #[test]
    fn parses_headers_and_threading_keys() {
        let e = parse(PLAIN_REPLY).unwrap();
        assert_eq!(e.message.provider_message_id, "reply-1@example.com");
        assert_eq!(e.message.from.email.as_deref(), Some("ana@example.com"));
        assert_eq!(e.message.from.display_name.as_deref(), Some("Ana Lima"));
        assert_eq!(e.message.to.as_deref(), Some("support@kith.test"));
        assert_eq!(e.subject, "Re: Order 42");
        assert_eq!(e.in_reply_to, vec!["out-1@kith.test"]);
        assert_eq!(e.references, vec!["first@example.com", "out-1@kith.test"]);
        assert_eq!(e.thread_ids(), vec!["out-1@kith.test", "first@example.com"]);
        assert_eq!(e.message.text, "Thanks, that works.");
        assert_eq!(e.message.sent_at_ms, Some(1_700_000_000_000));
        assert_eq!(e.reply_to, "ana@example.com");
        assert!(e.html.is_none() && e.attachments.is_empty());
    }

    #[test]
    fn html_is_sanitised_and_plain_text_preferred() {
        let raw = b"From: bob@example.com\r\nTo: s@kith.test\r\nSubject: Hi\r\nMessage-ID: <h1@example.com>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain words\r\n\
--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p onclick=\"x()\">Hello <b>there</b></p>\
<script>alert(1)</script><img src=\"x\" onerror=\"alert(2)\"><a href=\"javascript:alert(3)\">link</a>\r\n\
--b--\r\n";
        let e = parse(raw).unwrap();
        assert_eq!(e.message.text, "Plain words");
        assert!(!e.text_from_html);
        let html = e.html.unwrap();
        assert!(html.contains("<b>there</b>"), "{html}");
        for bad in ["<script", "alert(1)", "onerror", "onclick", "javascript:"] {
            assert!(!html.contains(bad), "{bad} survived: {html}");
        }
    }

    #[test]
    fn html_only_gives_text_from_the_sanitised_html() {
        let raw = b"From: bob@example.com\r\nSubject: Hi\r\nContent-Type: text/html\r\n\r\n\
<div>Visible</div><script>var secret = 1;</script>\r\n";
        let e = parse(raw).unwrap();
        assert!(e.text_from_html);
        assert!(e.message.text.contains("Visible"), "{}", e.message.text);
        assert!(!e.message.text.contains("secret"), "{}", e.message.text);
        // No Message-ID: a stable one from the bytes.
        assert!(e.message.provider_message_id.ends_with("@kith.invalid"));
        assert_eq!(parse(raw).unwrap().message.provider_message_id, e.message.provider_message_id);
    }

    #[test]
    fn attachments_are_listed() {
        let raw = b"From: c@example.com\r\nSubject: Doc\r\nMessage-ID: <a1@example.com>\r\n\
Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
--m\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8gUERG\r\n--m--\r\n";
        let e = parse(raw).unwrap();
        assert_eq!(e.message.text, "See attached.");
        assert_eq!(
            e.attachments,
            vec![Attachment {
                name: Some("invoice.pdf".into()),
                content_type: "application/pdf".into(),
                size: 9,
                inline: false,
                data: b"Hello PDF".to_vec(),
                omitted: false,
                stored_as: None,
                sha256: None,
            }]
        );
        // The bytes never go into the serialised event.
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("Hello") && !json.contains("SGVsbG8"), "{json}");
    }

    #[test]
    fn attachments_over_the_cap_are_listed_without_bytes() {
        use base64::Engine;
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_ATTACHMENT_BYTES as usize + 1]);
        let lines: Vec<&str> = big.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let raw = format!(
            "From: c@example.com\r\nSubject: Big\r\nMessage-ID: <big@example.com>\r\n\
             Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
             --m\r\nContent-Type: text/plain\r\n\r\nTwo files.\r\n\
             --m\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"big.zip\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
             --m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"small.txt\"\r\n\r\n\
             small\r\n--m--\r\n",
            lines.join("\r\n")
        );
        let e = parse(raw.as_bytes()).unwrap();
        assert_eq!(e.attachments.len(), 2);
        let (big, small) = (&e.attachments[0], &e.attachments[1]);
        assert!(big.omitted && big.data.is_empty() && big.size == MAX_ATTACHMENT_BYTES + 1);
        assert!(!small.omitted && small.data == b"small");
    }

    #[test]
    fn refuses_what_is_no_email() {
        assert!(parse(b"").is_err());
        assert!(parse(b"Subject: no sender\r\n\r\nbody").is_err());
    }

    #[test]
    fn reply_headers() {
        assert_eq!(reply_subject("Order 42"), "Re: Order 42");
        assert_eq!(reply_subject("RE: Order 42"), "RE: Order 42");
        let refs = reply_references(&["a@x".into(), "b@x".into()], &[], "c@x");
        assert_eq!(refs, vec!["a@x", "b@x", "c@x"]);
        assert_eq!(reply_references(&[], &["p@x".into()], "c@x"), vec!["p@x", "c@x"]);
        let long: Vec<String> = (0..80).map(|i| format!("{i}@x")).collect();
        let refs = reply_references(&long, &[], "new@x");
        assert_eq!(refs.len(), MAX_REFERENCES);
        assert_eq!(refs[0], "0@x");
        assert_eq!(refs.last().unwrap(), "new@x");
        assert_eq!(normalize_message_id(" <a b@x> "), None);
        assert_eq!(normalize_message_id("<ok@x>").as_deref(), Some("ok@x"));
    }
}
