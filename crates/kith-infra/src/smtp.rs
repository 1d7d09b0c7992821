//! Sending one reply of an e-mail channel through the workspace's own SMTP
//! submission server (RFC 6409), with the threading headers a mail client
//! needs to put it in the right thread: `Message-ID`, `In-Reply-To` and
//! `References`.
//!
//! [`crate::mail`] is the operator's one server for Kith's own mail
//! (invitations, resets); this module is per channel, with settings a
//! workspace admin entered, so it applies the same rules as
//! [`crate::imap`]: the host is resolved once and checked against the SSRF
//! rules (unless the operator allows private networks) and the connection
//! goes to that address; port 465 is implicit TLS, any other port requires
//! STARTTLS, except on a loopback address (a local relay, a test peer),
//! which stays plain. Certificates are always verified. Errors never carry
//! the password, the recipient or the text.

use crate::imap::{resolve_checked, security_for, ResolveError, Security};
use crate::mail::MailError;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The SMTP port with TLS from the first byte.
pub const IMPLICIT_TLS_PORT: u16 = 465;

#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub allow_private_networks: bool,
    pub timeout: Duration,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// One reply. Ids are without angle brackets (`abc@example.com`).
#[derive(Debug, Clone)]
pub struct ThreadedMail {
    /// The channel's address; `from_name` is shown beside it.
    pub from: String,
    pub from_name: Option<String>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// Oldest first.
    pub references: Vec<String>,
    /// Files sent as MIME attachments (`multipart/mixed` after the text).
    pub attachments: Vec<MailAttachment>,
}

/// One file of a reply.
#[derive(Clone)]
pub struct MailAttachment {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

impl fmt::Debug for MailAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailAttachment").field("name", &self.name).field("bytes", &self.data.len()).finish()
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\t')
}

fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && !id.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// The RFC 5322 message, with every check that needs no network.
pub fn build(mail: &ThreadedMail) -> Result<Message, MailError> {
    for (what, value) in [("recipient", &mail.to), ("subject", &mail.subject), ("sender", &mail.from)] {
        if has_control(value) {
            return Err(MailError::Message(format!("the {what} contains a line break or control character")));
        }
    }
    let ids = std::iter::once(&mail.message_id).chain(mail.in_reply_to.iter()).chain(mail.references.iter());
    if let Some(bad) = ids.into_iter().find(|id| !is_plain_id(id)) {
        return Err(MailError::Message(format!("{bad:?} is not a message id")));
    }
    let name = mail.from_name.as_deref().map(|n| n.replace(|c: char| c.is_control(), " "));
    let from = Mailbox::new(
        name,
        mail.from.trim().parse().map_err(|e| MailError::Message(format!("the sender is not an address ({e})")))?,
    );
    let to = Mailbox::from_str(mail.to.trim())
        .map_err(|e| MailError::Message(format!("the recipient is not a single valid mailbox ({e})")))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.as_str())
        .message_id(Some(format!("<{}>", mail.message_id)));
    if let Some(parent) = &mail.in_reply_to {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    if !mail.references.is_empty() {
        let refs: Vec<String> = mail.references.iter().map(|r| format!("<{r}>")).collect();
        builder = builder.references(refs.join(" "));
    }
    let built = if mail.attachments.is_empty() {
        builder.header(ContentType::TEXT_PLAIN).body(mail.text.clone())
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone()));
        for a in &mail.attachments {
            let name: String = a.name.chars().filter(|c| !c.is_control()).collect();
            let ct = ContentType::parse(&a.content_type)
                .unwrap_or(ContentType::parse("application/octet-stream").expect("valid"));
            parts = parts.singlepart(Attachment::new(name).body(a.data.clone(), ct));
        }
        builder.multipart(parts)
    };
    built.map_err(|e| MailError::Message(format!("cannot build the message ({e})")))
}

fn scrub(text: String, password: &str) -> String {
    if password.is_empty() {
        text
    } else {
        text.replace(password, "***")
    }
}

/// Deliver one reply: resolve and check the host, connect (TLS as above),
/// AUTH, send.
pub async fn send(config: &SmtpConfig, mail: &ThreadedMail) -> Result<(), MailError> {
    let message = build(mail)?;
    let addr =
        resolve_checked(&config.host, config.port, config.allow_private_networks).await.map_err(|e| match e {
            ResolveError::Dns(s) => MailError::Transport(s),
            ResolveError::Refused(s) => MailError::Config(s),
        })?;
    let tls_parameters = || {
        TlsParameters::new(config.host.clone())
            .map_err(|e| MailError::Config(format!("cannot set up TLS for {:?} ({e})", config.host)))
    };
    let tls = match security_for(config.port, &addr, IMPLICIT_TLS_PORT) {
        Security::ImplicitTls => Tls::Wrapper(tls_parameters()?),
        Security::StartTls => Tls::Required(tls_parameters()?),
        Security::Plain => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(tls)
        .timeout(Some(config.timeout));
    if !config.username.is_empty() {
        builder = builder.credentials(Credentials::new(config.username.clone(), config.password.clone()));
    }
    let transport = builder.build();
    let endpoint = format!("{}:{}", config.host, config.port);
    match tokio::time::timeout(config.timeout, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(match e.status() {
            Some(code) => {
                let said = std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string());
                MailError::Rejected {
                    code: u16::from(code),
                    message: format!("{endpoint} answered: {}", scrub(said, &config.password)),
                }
            }
            None => MailError::Transport(format!("{endpoint}: {}", scrub(e.to_string(), &config.password))),
        }),
        Err(_) => Err(MailError::Transport(format!("{endpoint}: no answer within {} s", config.timeout.as_secs()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> ThreadedMail {
        ThreadedMail {
            from: "support@kith.test".into(),
            from_name: Some("Support".into()),
            to: "ana@example.com".into(),
            subject: "Re: Order 42".into(),
            text: "On its way.".into(),
            message_id: "m1@kith.test".into(),
            in_reply_to: Some("c1@example.com".into()),
            references: vec!["c0@example.com".into(), "c1@example.com".into()],
            attachments: vec![],
        }
    }

    #[test]
    fn attachments_are_mime_parts() {
        let a = MailAttachment {
            name: "in\r\nvoice.pdf".into(),
            content_type: "application/pdf".into(),
            data: b"%PDF-1\x00\xff".to_vec(),
        };
        let m = ThreadedMail { attachments: vec![a], ..mail() };
        let text = String::from_utf8(build(&m).unwrap().formatted()).unwrap();
        assert!(text.contains("multipart/mixed"), "{text}");
        assert!(text.contains("Content-Disposition: attachment; filename=\"invoice.pdf\""), "{text}");
        assert!(text.contains("JVBERi0xAP8="), "{text}");
        assert!(text.contains("On its way."), "{text}");
    }

    #[test]
    fn threading_headers_are_written() {
        let text = String::from_utf8(build(&mail()).unwrap().formatted()).unwrap();
        assert!(text.contains("Message-ID: <m1@kith.test>"), "{text}");
        assert!(text.contains("In-Reply-To: <c1@example.com>"), "{text}");
        assert!(text.contains("References: <c0@example.com> <c1@example.com>"), "{text}");
    }

    #[test]
    fn header_injection_is_refused() {
        let bad = ThreadedMail { subject: "x\r\nBcc: all@example.com".into(), ..mail() };
        assert!(matches!(build(&bad), Err(MailError::Message(_))));
        let bad = ThreadedMail { in_reply_to: Some("a> <b".into()), ..mail() };
        assert!(matches!(build(&bad), Err(MailError::Message(_))));
    }
}
