//! Twilio Programmable Messaging (SMS/MMS): `reference/protocols.md` section 1.
//!
//! * [`verify_signature`] / [`verify_signature_json`]: the `X-Twilio-Signature` algorithm of 1.6, port variants
//!   included.
//! * [`parse_form`]: inbound messages (1.4) and status callbacks (1.5) into [`InboundEvent`]s.
//! * [`Client::send_sms`]: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (1.2) with the error shape of 1.3.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::http::{endpoint, execute};
use crate::{
    ct_eq, DeliveryState, InboundEvent, InboundMessage, MediaRef, ParseError, SendError, Sender, Sent, StatusUpdate,
};

/// Twilio's code for "too many requests".
pub const ERROR_TOO_MANY_REQUESTS: i64 = 20429;
/// Twilio's code for "the recipient replied STOP": sends to them fail until they opt in again.
pub const ERROR_RECIPIENT_OPTED_OUT: i64 = 21610;

/// Twilio caps a message at 10 media; read a few more so nothing is lost, but never loop on a forged count.
const MAX_MEDIA: usize = 20;

// ---------------------------------------------------------------------------------------------------------------
// Signature

/// The two forms of `url` the signature may have been computed over (1.6 step 5): without the port, and with the
/// scheme's default port (`:443` for https, `:80` otherwise). A URL that names a non-default port keeps that port
/// in the second form. The first element is the form without the port.
pub fn signature_urls(url: &str) -> Vec<String> {
    let Some(parts) = Authority::locate(url) else {
        return vec![url.to_string()];
    };
    let without = format!("{}{}", &url[..parts.host_end], &url[parts.authority_end..]);
    let with = match parts.port {
        Some(_) => url.to_string(),
        None => {
            let default = if url[..parts.scheme_end].eq_ignore_ascii_case("https") { 443 } else { 80 };
            format!("{}:{default}{}", &url[..parts.host_end], &url[parts.authority_end..])
        }
    };
    if without == with {
        vec![without]
    } else {
        vec![without, with]
    }
}

/// Byte offsets into a URL string: where the scheme ends, where the host ends, where the authority ends.
struct Authority<'a> {
    scheme_end: usize,
    host_end: usize,
    authority_end: usize,
    port: Option<&'a str>,
}

impl<'a> Authority<'a> {
    fn locate(url: &'a str) -> Option<Self> {
        let scheme_end = url.find("://")?;
        let auth_start = scheme_end + 3;
        let authority_end = url[auth_start..].find(['/', '?', '#']).map_or(url.len(), |i| auth_start + i);
        let authority = &url[auth_start..authority_end];
        let host_start = authority.rfind('@').map_or(0, |i| i + 1);
        let host = &authority[host_start..];
        // An IPv6 literal's colons are inside the brackets.
        let colon = if host.starts_with('[') {
            let close = host.find(']')?;
            host[close..].find(':').map(|i| close + i)
        } else {
            host.rfind(':')
        };
        match colon {
            Some(c) => {
                let port = &host[c + 1..];
                Some(Authority { scheme_end, host_end: auth_start + host_start + c, authority_end, port: Some(port) })
            }
            None => Some(Authority { scheme_end, host_end: authority_end, authority_end, port: None }),
        }
    }
}

/// The base64 HMAC-SHA1 that Twilio sends in `X-Twilio-Signature` for a form POST to `url` with `params`
/// (1.6 steps 1–3): the URL as given, then for each parameter name in sorted order, each of its distinct values in
/// sorted order as `name + value`. Useful to stand-in servers that post signed callbacks.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(url.as_bytes());
    for (k, v) in pairs {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks `X-Twilio-Signature` of a form-encoded POST. `full_url` is the public URL Twilio called (scheme, host,
/// path and query, as received; rebuild it from the proxy's forwarded headers behind a reverse proxy);
/// `form_params` are all the decoded body parameters, repeated keys included ([`form_pairs`] gives them). For a
/// GET webhook pass no parameters. The URL is tried without its port and with the default port (1.6 step 5).
/// An empty token or header never verifies.
pub fn verify_signature(
    auth_token: &str,
    full_url: &str,
    form_params: &[(String, String)],
    header_value: &str,
) -> bool {
    let header = header_value.trim();
    if auth_token.is_empty() || header.is_empty() {
        return false;
    }
    // Evaluate every variant so the time taken does not depend on which one matched.
    signature_urls(full_url)
        .iter()
        .map(|u| ct_eq(compute_signature(auth_token, u, form_params).as_bytes(), header.as_bytes()))
        .fold(false, |acc, ok| acc | ok)
}

/// Checks `X-Twilio-Signature` of a webhook with a JSON body (1.6 step 6): the URL's `bodySHA256` query parameter
/// must be the hex SHA-256 of the raw body, and the signature is computed over the URL alone.
pub fn verify_signature_json(auth_token: &str, full_url: &str, body: &[u8], header_value: &str) -> bool {
    let Some(query) = full_url.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or_default()) else {
        return false;
    };
    let Some(expected_hash) =
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "bodySHA256").map(|(_, v)| v.into_owned())
    else {
        return false;
    };
    let actual_hash = hex::encode(Sha256::digest(body));
    let body_ok = ct_eq(actual_hash.as_bytes(), expected_hash.to_ascii_lowercase().as_bytes());
    let signature_ok = verify_signature(auth_token, full_url, &[], header_value);
    body_ok & signature_ok
}

/// The decoded `name=value` pairs of a form-encoded body, in order, repeated keys kept (what
/// [`verify_signature`] needs). Invalid UTF-8 is replaced, as a form decoder does.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Webhook payloads

/// Parses a form-encoded Twilio webhook: an inbound message (1.4) gives one [`InboundEvent::Message`], a status
/// callback (1.5) one [`InboundEvent::Status`]. A status Twilio does not document as a delivery step (`receiving`,
/// `received`) or that is new to us gives no event. Unknown parameters are ignored.
pub fn parse_form(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let pairs = form_pairs(body);
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());

    let sid = get("MessageSid")
        .or_else(|| get("SmsMessageSid"))
        .or_else(|| get("SmsSid"))
        .ok_or_else(|| ParseError::missing("MessageSid"))?;

    // Status callbacks carry `MessageStatus`; inbound messages carry `SmsStatus=received` (and maybe
    // `MessageStatus=received`).
    let status = get("MessageStatus").or_else(|| get("SmsStatus"));
    if let Some(status) = status.filter(|s| !matches!(*s, "received" | "receiving")) {
        let Some(state) = delivery_state(status) else {
            tracing::debug!(status, "twilio status callback with an unmapped status: ignored");
            return Ok(vec![]);
        };
        return Ok(vec![InboundEvent::Status(StatusUpdate {
            route: None,
            provider_message_id: sid.to_string(),
            state,
            error_code: get("ErrorCode").map(str::to_string),
            error_message: get("ErrorMessage").map(str::to_string),
            at_ms: None,
        })]);
    }

    let from = get("From").ok_or_else(|| ParseError::missing("From"))?;
    let num_media = match get("NumMedia") {
        None => 0,
        Some(n) => n.trim().parse::<usize>().map_err(|_| ParseError::invalid("NumMedia", "not a count"))?,
    };
    let media = (0..num_media.min(MAX_MEDIA))
        .filter_map(|i| {
            let url = get(&format!("MediaUrl{i}"))?;
            Some(MediaRef {
                url: Some(url.to_string()),
                provider_media_id: None,
                content_type: get(&format!("MediaContentType{i}")).map(str::to_string),
            })
        })
        .collect();

    Ok(vec![InboundEvent::Message(InboundMessage {
        route: None,
        provider_message_id: sid.to_string(),
        from: Sender { channel_user_id: from.to_string(), phone_e164: e164(from), email: None, display_name: None },
        to: get("To").map(str::to_string),
        text: pairs.iter().find(|(k, _)| k == "Body").map(|(_, v)| v.clone()).unwrap_or_default(),
        media,
        sent_at_ms: None,
    })])
}

/// Twilio's message status (1.2 enum) as a delivery state. `receiving`/`received` are inbound states, not steps of
/// an outbound message.
pub fn delivery_state(status: &str) -> Option<DeliveryState> {
    Some(match status {
        "accepted" | "scheduled" | "queued" | "sending" => DeliveryState::Queued,
        "sent" => DeliveryState::Sent,
        "delivered" | "partially_delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" | "undelivered" | "canceled" => DeliveryState::Failed,
        _ => return None,
    })
}

/// `from` (or the number inside a `whatsapp:`/`sms:` address) when it looks like an E.164 number.
fn e164(from: &str) -> Option<String> {
    let number = from.rsplit_once(':').map_or(from, |(_, n)| n);
    let digits = number.strip_prefix('+')?;
    let ok = (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    ok.then(|| number.to_string())
}

// ---------------------------------------------------------------------------------------------------------------
// Client

/// Who a message is sent from (1.2: either `From` or `MessagingServiceSid` is required).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwilioSender {
    /// A number, short code or alphanumeric sender id (`From`).
    From(String),
    /// A Messaging Service (`MG…`): Twilio picks the sender.
    MessagingServiceSid(String),
}

/// The Twilio REST client. Credentials are given per call; the base URL (normally `https://api.twilio.com`) is
/// operator configuration. Timeouts come from the `reqwest::Client`.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
}

pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

impl Client {
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Client { http, base_url: base_url.into() }
    }

    /// Sends an SMS/MMS. `account_sid`/`auth_token` are the Basic-auth pair (an API key `SK…`/secret pair works
    /// as well for the auth, with the account SID in the path). Not idempotent on Twilio's side (1.7): a
    /// [`SendError::Transient`] after a timeout may mean the message was sent.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_sms(
        &self,
        account_sid: &str,
        auth_token: &str,
        sender: &TwilioSender,
        to: &str,
        body: &str,
        media_urls: &[String],
        status_callback: Option<&str>,
    ) -> Result<Sent, SendError> {
        self.send_sms_as(account_sid, account_sid, auth_token, sender, to, body, media_urls, status_callback).await
    }

    /// [`Client::send_sms`] authenticating with an API key (`SK…` and its secret) instead of the account SID.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_sms_as(
        &self,
        account_sid: &str,
        username: &str,
        password: &str,
        sender: &TwilioSender,
        to: &str,
        body: &str,
        media_urls: &[String],
        status_callback: Option<&str>,
    ) -> Result<Sent, SendError> {
        let url = endpoint(&self.base_url, &["2010-04-01", "Accounts", account_sid, "Messages.json"])?;
        let mut form: Vec<(&str, &str)> = vec![("To", to)];
        match sender {
            TwilioSender::From(from) => form.push(("From", from)),
            TwilioSender::MessagingServiceSid(sid) => form.push(("MessagingServiceSid", sid)),
        }
        if !body.is_empty() || media_urls.is_empty() {
            form.push(("Body", body));
        }
        for media in media_urls {
            form.push(("MediaUrl", media));
        }
        if let Some(callback) = status_callback {
            form.push(("StatusCallback", callback));
        }
        tracing::debug!(provider = "twilio", "sending message");
        let resp = execute(self.http.post(url).basic_auth(username, Some(password)).form(&form)).await?;
        if resp.is_success() {
            let json = resp.json().unwrap_or_default();
            return match json.get("sid").and_then(|v| v.as_str()).filter(|s| !s.is_empty()) {
                Some(sid) => Ok(Sent { provider_message_id: sid.to_string() }),
                None => Err(SendError::permanent(
                    "invalid_response",
                    format!("Twilio accepted the request but returned no message sid: {}", resp.snippet()),
                )),
            };
        }
        let json = resp.json();
        let code = json.as_ref().and_then(|j| j.get("code")).and_then(json_code);
        let message = json
            .as_ref()
            .and_then(|j| j.get("message").or_else(|| j.get("title")).or_else(|| j.get("detail")))
            .and_then(|m| m.as_str())
            .map(str::to_string);
        if resp.status == 429 || code.as_deref() == Some("20429") {
            return Err(SendError::RateLimited { retry_after_ms: resp.retry_after_ms });
        }
        if (500..=599).contains(&resp.status) || resp.status == 408 {
            return Err(SendError::Transient(format!(
                "Twilio HTTP {}: {}",
                resp.status,
                message.unwrap_or_else(|| resp.snippet())
            )));
        }
        match code {
            Some(code) => Err(SendError::Permanent { code, message: message.unwrap_or_else(|| resp.snippet()) }),
            None => Err(resp.generic_error()),
        }
    }
}

/// A provider error code given as a number or a string.
fn json_code(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_variants() {
        assert_eq!(
            signature_urls("https://mycompany.com/myapp.php?foo=1&bar=2"),
            vec!["https://mycompany.com/myapp.php?foo=1&bar=2", "https://mycompany.com:443/myapp.php?foo=1&bar=2"]
        );
        assert_eq!(
            signature_urls("http://mycompany.com:1234/x"),
            vec!["http://mycompany.com/x", "http://mycompany.com:1234/x"]
        );
        assert_eq!(signature_urls("http://user:pw@h:8080"), vec!["http://user:pw@h", "http://user:pw@h:8080"]);
        assert_eq!(signature_urls("https://[::1]/a"), vec!["https://[::1]/a", "https://[::1]:443/a"]);
        assert_eq!(signature_urls("https://[::1]:8443/a"), vec!["https://[::1]/a", "https://[::1]:8443/a"]);
        assert_eq!(signature_urls("no-scheme"), vec!["no-scheme"]);
    }

    #[test]
    fn e164_detection() {
        assert_eq!(e164("+14158675309").as_deref(), Some("+14158675309"));
        assert_eq!(e164("whatsapp:+14158675309").as_deref(), Some("+14158675309"));
        assert_eq!(e164("14158675309"), None);
        assert_eq!(e164("MyBrand"), None);
        assert_eq!(e164("+1"), None);
    }
}
