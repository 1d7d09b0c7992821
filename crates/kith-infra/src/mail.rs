//! Outgoing e-mail over SMTP.
//!
//! The operator names one submission server with `KITH_SMTP_URL`:
//!
//! | URL                                | transport                                          |
//! |------------------------------------|----------------------------------------------------|
//! | `smtp://user:pass@host:587`        | STARTTLS, required: a server that does not offer it, or offers a certificate we cannot verify, is an error — never a silent fall-back to plain text |
//! | `smtps://user:pass@host:465`       | implicit TLS from the first byte                   |
//! | `smtp+plain://host:25`             | no TLS at all — for a relay on the same host, and tests |
//!
//! User and password are optional and percent-decoded (`p%40ss` is `p@ss`).
//! Certificates are checked against the Mozilla roots (webpki-roots) with
//! rustls; there is no switch to accept invalid certificates.
//!
//! [`Mailer::new`] checks the configuration without touching the network;
//! [`Mailer::send`] opens one connection per message, so a `Mailer` holds no
//! sockets and is cheap to clone into job handlers.
//!
//! Errors never carry the SMTP password (it is scrubbed from any text that
//! comes back from the server or the TLS stack) nor the recipient address or
//! message text, since they end up in logs and the job table.
//! [`MailError::is_permanent`] tells the job queue whether a retry can help.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use percent_encoding::percent_decode_str;
use url::Url;

/// A sensible default for [`MailConfig::timeout`].
pub const DEFAULT_MAIL_TIMEOUT: Duration = Duration::from_secs(30);

/// Operator configuration.
///
/// `url` is `KITH_SMTP_URL` (see the module documentation for the schemes);
/// `from` is the sender of every message, e.g. `Kith <kith@example.com>`;
/// `timeout` bounds the whole delivery of one message — connecting, TLS and
/// the SMTP dialogue together.
#[derive(Clone)]
pub struct MailConfig {
    pub url: String,
    pub from: String,
    pub timeout: Duration,
}

/// Shows the URL with its password replaced by `***`.
impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("url", &redacted_url(&self.url))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn redacted_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // Cannot fail: a URL with a password has a host.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparseable>".to_owned(),
    }
}

/// One message to one recipient.
#[derive(Clone, Debug)]
pub struct OutgoingMail {
    /// `anna@example.com` or `Anna Müller <anna@example.com>`; exactly one.
    pub to: String,
    pub subject: String,
    /// The plain-text body; always sent.
    pub text: String,
    /// When present, the message is `multipart/alternative` (text, then HTML).
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The operator's settings are unusable; found by [`Mailer::new`].
    #[error("invalid mail configuration: {0}")]
    Config(String),
    /// The message cannot be sent as given (bad recipient, CR/LF in a header
    /// field); found before any network traffic.
    #[error("invalid message: {0}")]
    Message(String),
    /// The server answered a command with a negative reply: 4xx (try again
    /// later) or 5xx (do not). The text is the server's, password scrubbed.
    #[error("mail rejected by the server with {code}: {message}")]
    Rejected { code: u16, message: String },
    /// No usable conversation with the server: connection refused, DNS, TLS
    /// (including a server that does not offer STARTTLS), time-out, or a
    /// broken reply.
    #[error("mail delivery failed: {0}")]
    Transport(String),
}

impl MailError {
    /// Whether sending the same message again cannot succeed: an invalid
    /// message or configuration, or a 5xx reply from the server. Connection
    /// failures, time-outs and 4xx replies are transient.
    pub fn is_permanent(&self) -> bool {
        match self {
            MailError::Config(_) | MailError::Message(_) => true,
            MailError::Rejected { code, .. } => *code >= 500,
            MailError::Transport(_) => false,
        }
    }
}

/// How the connection is secured, chosen by the URL scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    StartTls,
    ImplicitTls,
    Plain,
}

impl Security {
    fn scheme(self) -> &'static str {
        match self {
            Security::StartTls => "smtp",
            Security::ImplicitTls => "smtps",
            Security::Plain => "smtp+plain",
        }
    }
}

/// Sends mail through the configured server. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of generated Message-IDs: the sender's domain.
    id_domain: String,
    /// `scheme://host:port`, for errors and Debug; never has credentials.
    endpoint: String,
    user: Option<String>,
    /// Kept only to scrub it from error texts.
    password: Option<String>,
    timeout: Duration,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("endpoint", &self.endpoint)
            .field("from", &self.from.to_string())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn config_err(text: impl Into<String>) -> MailError {
    MailError::Config(text.into())
}

impl Mailer {
    /// Checks the URL and sender and prepares the transport. Does no I/O.
    pub fn new(config: &MailConfig) -> Result<Mailer, MailError> {
        // The parse error never quotes the input, which may hold a password.
        let url = Url::parse(config.url.trim()).map_err(|e| config_err(format!("the SMTP URL is not a URL ({e})")))?;
        let security = match url.scheme() {
            "smtp" => Security::StartTls,
            "smtps" => Security::ImplicitTls,
            "smtp+plain" => Security::Plain,
            other => {
                return Err(config_err(format!(
                    "unsupported SMTP URL scheme {other:?}: use smtp:// (STARTTLS), smtps:// (implicit TLS) or \
                     smtp+plain:// (no TLS)"
                )))
            }
        };
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
            _ => return Err(config_err("the SMTP URL has no host")),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(config_err("the SMTP URL must be scheme://[user:password@]host[:port] with no path or query"));
        }
        let port = url.port().unwrap_or(match security {
            Security::StartTls => 587,
            Security::ImplicitTls => 465,
            Security::Plain => 25,
        });

        let decode = |part: &str, what: &str| {
            percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| config_err(format!("the SMTP {what} in the URL is not valid UTF-8 once percent-decoded")))
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u, "user")?),
        };
        let password = match url.password() {
            None => None,
            Some(p) => Some(decode(p, "password")?),
        };
        if user.is_none() && password.is_some() {
            return Err(config_err("the SMTP URL has a password but no user"));
        }

        if has_control(&config.from) {
            return Err(config_err("the sender address contains control characters"));
        }
        let from = Mailbox::from_str(config.from.trim())
            .map_err(|e| config_err(format!("the sender {:?} is not a valid mailbox ({e})", config.from)))?;
        let id_domain = from.email.domain().to_owned();

        if config.timeout.is_zero() {
            return Err(config_err("the mail timeout must be greater than zero"));
        }

        let tls_parameters = || {
            TlsParameters::new(host.clone()).map_err(|e| config_err(format!("cannot set up TLS for {host:?} ({e})")))
        };
        let tls = match security {
            Security::StartTls => Tls::Required(tls_parameters()?),
            Security::ImplicitTls => Tls::Wrapper(tls_parameters()?),
            Security::Plain => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let Some(user) = &user {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone().unwrap_or_default()));
        }

        let endpoint = match url.host() {
            Some(url::Host::Ipv6(_)) => format!("{}://[{host}]:{port}", security.scheme()),
            _ => format!("{}://{host}:{port}", security.scheme()),
        };
        Ok(Mailer {
            transport: builder.build(),
            from,
            id_domain,
            endpoint,
            user,
            password: password.filter(|p| !p.is_empty()),
            timeout: config.timeout,
        })
    }

    /// Delivers one message to the server: a new connection, TLS as
    /// configured, AUTH when a user is set, then the message.
    pub async fn send(&self, msg: &OutgoingMail) -> Result<(), MailError> {
        let message = self.build(msg)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) => Err(self.delivery_error(&e)),
            Err(_elapsed) => Err(MailError::Transport(format!(
                "{}: no answer within {} ms",
                self.endpoint,
                self.timeout.as_millis()
            ))),
        }
    }

    /// The RFC 5322 message, with every check that needs no network.
    fn build(&self, msg: &OutgoingMail) -> Result<Message, MailError> {
        // Refuse rather than clean: a CR or LF here is either a bug or an
        // attempt to add headers (Bcc:) or recipients.
        if has_control(&msg.to) {
            return Err(MailError::Message("the recipient contains a line break or control character".into()));
        }
        if has_control(&msg.subject) {
            return Err(MailError::Message("the subject contains a line break or control character".into()));
        }
        // Exactly one mailbox: a list ("a@x, b@y") does not parse as one.
        let to = Mailbox::from_str(msg.to.trim())
            .map_err(|e| MailError::Message(format!("the recipient is not a single valid mailbox ({e})")))?;

        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject.as_str())
            .message_id(Some(format!("<{}@{}>", uuid::Uuid::new_v4().simple(), self.id_domain)));
        let built = match &msg.html {
            None => builder.singlepart(SinglePart::plain(msg.text.clone())),
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(msg.text.clone(), html.clone())),
        };
        built.map_err(|e| MailError::Message(format!("cannot build the message ({e})")))
    }

    fn delivery_error(&self, e: &lettre::transport::smtp::Error) -> MailError {
        match e.status() {
            Some(code) => {
                // The source of a reply error is the server's text.
                let said = std::error::Error::source(e).map_or_else(|| e.to_string(), |s| s.to_string());
                let message = format!("{} answered: {}", self.endpoint, self.scrub(said));
                MailError::Rejected { code: u16::from(code), message }
            }
            None => MailError::Transport(format!("{}: {}", self.endpoint, self.scrub(e.to_string()))),
        }
    }

    /// Removes the password (as given and as it would appear in the URL) from
    /// text that came back from the server or a library.
    fn scrub(&self, mut text: String) -> String {
        if let Some(password) = &self.password {
            let encoded =
                percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC).to_string();
            for form in [password.as_str(), encoded.as_str()] {
                if text.contains(form) {
                    text = text.replace(form, "***");
                }
            }
        }
        text
    }
}

/// CR, LF or any other control character except tab.
fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\t')
}
