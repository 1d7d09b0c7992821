//! Reading a mailbox over IMAP (RFC 3501 / 9051) for an e-mail channel:
//! connect, log in, `SELECT INBOX`, list the UIDs above the last one seen,
//! fetch messages one by one, and wait for news with IDLE (RFC 2177) — or,
//! when the server has no IDLE, a plain wait followed by `NOOP`.
//!
//! Why `async-imap` (0.11, tokio runtime, no default features): its response
//! parser (`imap-proto`) already handles literals, unsolicited responses
//! during FETCH and IDLE, and the odd orderings real servers produce; a
//! hand-written client would have to relearn those. It adds a small tree
//! (nom, imap-proto, async-channel) and no TLS of its own: TLS is rustls with
//! the `ring` provider and the webpki roots, the stack lettre and reqwest
//! already use here.
//!
//! Security, decided per connection and not configurable by a workspace:
//! * The host is resolved once and every address is checked against the
//!   SSRF rules of [`crate::outbound`] (no loopback, private, link-local or
//!   metadata addresses) unless the operator allows private networks; the
//!   connection goes to the checked address.
//! * Port 993 is implicit TLS; any other port needs STARTTLS (a server
//!   that does not offer it is an error, never a silent plain login) —
//!   except on a loopback address, where the connection stays plain (a test
//!   peer or a local bridge: nothing crosses a network). Certificates are
//!   always verified.
//! * Errors never carry the password (the server's text is scrubbed).

use crate::outbound::is_forbidden_ip;
use async_imap::extensions::idle::IdleResponse;
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

/// How long connecting, TLS, login and each command may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The IMAP port with TLS from the first byte.
pub const IMPLICIT_TLS_PORT: u16 = 993;

/// Where and as whom to log in.
#[derive(Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// The operator's `allow_private_networks` (local servers, tests).
    pub allow_private_networks: bool,
    pub timeout: Duration,
}

impl fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The host resolves to no address we may connect to.
    #[error("{0}")]
    Address(String),
    /// Connection, TLS or protocol trouble; worth retrying later.
    #[error("IMAP connection failed: {0}")]
    Connection(String),
    /// The server refused the credentials.
    #[error("IMAP login refused: {0}")]
    Login(String),
    /// The server said NO/BAD to a command.
    #[error("IMAP server error: {0}")]
    Server(String),
    #[error("IMAP server did not answer within {0} s")]
    Timeout(u64),
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    ImplicitTls,
    StartTls,
    Plain,
}

/// The choice described in the module documentation.
pub fn security_for(port: u16, addr: &SocketAddr, implicit_tls_port: u16) -> Security {
    if port == implicit_tls_port {
        Security::ImplicitTls
    } else if addr.ip().is_loopback() {
        Security::Plain
    } else {
        Security::StartTls
    }
}

/// Why a host cannot be connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// DNS failed (may pass).
    Dns(String),
    /// Every address is one the SSRF rules refuse (will not pass).
    Refused(String),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Dns(s) | ResolveError::Refused(s) => f.write_str(s),
        }
    }
}

/// Resolve `host` and keep the first address the SSRF rules allow.
pub async fn resolve_checked(host: &str, port: u16, allow_private: bool) -> Result<SocketAddr, ResolveError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ResolveError::Dns(format!("cannot resolve {host}: {e}")))?
        .collect();
    addrs.iter().copied().find(|a| allow_private || !is_forbidden_ip(a.ip())).ok_or_else(|| {
        ResolveError::Refused(format!(
            "{host} resolves to no public address (private and loopback addresses are refused)"
        ))
    })
}

/// A TLS client configuration with the webpki roots and the ring provider.
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A TCP stream, plain or wrapped in TLS.
#[derive(Debug)]
pub enum MailStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for MailStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

async fn wrap_tls(tcp: TcpStream, host: &str) -> Result<MailStream, ImapError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| ImapError::Connection(format!("{host:?} is not a valid TLS server name")))?;
    let tls = tokio_rustls::TlsConnector::from(tls_config())
        .connect(name, tcp)
        .await
        .map_err(|e| ImapError::Connection(format!("TLS with {host}: {e}")))?;
    Ok(MailStream::Tls(Box::new(tls)))
}

/// One message as fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    /// The whole message, or only its header when it was over the size limit.
    pub raw: Vec<u8>,
    /// The size the server gives for the whole message.
    pub size: u64,
    /// True when only the header was fetched (the message was too large).
    pub header_only: bool,
}

/// A logged-in session with INBOX selected.
pub struct Mailbox {
    session: Option<Session<MailStream>>,
    uid_validity: u32,
    uid_next: Option<u32>,
    idle: bool,
    timeout: Duration,
    password: String,
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox").field("uid_validity", &self.uid_validity).field("idle", &self.idle).finish()
    }
}

async fn timed<T>(limit: Duration, f: impl std::future::Future<Output = Result<T, ImapError>>) -> Result<T, ImapError> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r,
        Err(_) => Err(ImapError::Timeout(limit.as_secs())),
    }
}

fn scrub(text: String, password: &str) -> String {
    if password.is_empty() {
        text
    } else {
        text.replace(password, "***")
    }
}

impl Mailbox {
    /// Connect, secure, log in and select INBOX.
    pub async fn open(config: &ImapConfig) -> Result<Mailbox, ImapError> {
        let t = config.timeout;
        timed(t, Self::open_inner(config)).await
    }

    async fn open_inner(config: &ImapConfig) -> Result<Mailbox, ImapError> {
        let addr =
            resolve_checked(&config.host, config.port, config.allow_private_networks).await.map_err(|e| match e {
                ResolveError::Dns(s) => ImapError::Connection(s),
                ResolveError::Refused(s) => ImapError::Address(s),
            })?;
        let tcp = TcpStream::connect(addr).await.map_err(|e| ImapError::Connection(format!("{addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let security = security_for(config.port, &addr, IMPLICIT_TLS_PORT);
        let stream = match security {
            Security::ImplicitTls => wrap_tls(tcp, &config.host).await?,
            Security::Plain => MailStream::Plain(tcp),
            Security::StartTls => {
                let mut plain = Client::new(tcp);
                greeting(&mut plain).await?;
                plain.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| {
                    ImapError::Connection(format!("the server does not offer STARTTLS on port {} ({e})", config.port))
                })?;
                wrap_tls(plain.into_inner(), &config.host).await?
            }
        };
        let mut client = Client::new(stream);
        if security != Security::StartTls {
            greeting(&mut client).await?;
        }
        let mut session = client
            .login(&config.username, &config.password)
            .await
            .map_err(|(e, _)| ImapError::Login(scrub(e.to_string(), &config.password)))?;
        let caps = session.capabilities().await.map_err(|e| ImapError::Server(e.to_string()))?;
        let idle = caps.has_str("IDLE");
        let mailbox = session.select("INBOX").await.map_err(|e| ImapError::Server(format!("SELECT INBOX: {e}")))?;
        Ok(Mailbox {
            session: Some(session),
            uid_validity: mailbox.uid_validity.unwrap_or(0),
            uid_next: mailbox.uid_next,
            idle,
            timeout: config.timeout,
            password: config.password.clone(),
        })
    }

    /// The mailbox's UIDVALIDITY: when it changes, UIDs seen before mean nothing.
    pub fn uid_validity(&self) -> u32 {
        self.uid_validity
    }

    /// UIDNEXT at selection time, when the server gave it.
    pub fn uid_next(&self) -> Option<u32> {
        self.uid_next
    }

    /// Whether the server announced IDLE.
    pub fn supports_idle(&self) -> bool {
        self.idle
    }

    fn session(&mut self) -> Result<&mut Session<MailStream>, ImapError> {
        self.session.as_mut().ok_or_else(|| ImapError::Connection("the session was lost during IDLE".into()))
    }

    fn err(&self, e: async_imap::error::Error) -> ImapError {
        ImapError::Server(scrub(e.to_string(), &self.password))
    }

    /// UIDs above `last_uid`, ascending, at most `limit` (the oldest first).
    pub async fn uids_after(&mut self, last_uid: u32, limit: usize) -> Result<Vec<u32>, ImapError> {
        let t = self.timeout;
        let query = format!("UID {}:*", last_uid.saturating_add(1));
        let found = timed(t, async { self.session()?.uid_search(&query).await.map_err(|e| self.err(e)) }).await?;
        // `n:*` always matches the highest UID, even one below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last_uid).collect();
        uids.sort_unstable();
        uids.truncate(limit);
        Ok(uids)
    }

    /// UIDs of messages that arrived on or after `date` (`1-Jan-2024`),
    /// ascending; the newest `limit` of them.
    pub async fn uids_since(&mut self, date: &str, limit: usize) -> Result<Vec<u32>, ImapError> {
        let t = self.timeout;
        let query = format!("SINCE {date}");
        let found = timed(t, async { self.session()?.uid_search(&query).await.map_err(|e| self.err(e)) }).await?;
        let mut uids: Vec<u32> = found.into_iter().collect();
        uids.sort_unstable();
        let skip = uids.len().saturating_sub(limit);
        Ok(uids.split_off(skip))
    }

    /// One message by UID (without setting \Seen); only its header when it
    /// is larger than `max_bytes`. None when it is gone (expunged).
    pub async fn fetch(&mut self, uid: u32, max_bytes: u64) -> Result<Option<Fetched>, ImapError> {
        let t = self.timeout;
        let set = uid.to_string();
        let size = timed(t, async {
            let session = self.session()?;
            let items: Vec<_> = session
                .uid_fetch(&set, "(UID RFC822.SIZE)")
                .await
                .map_err(|e| ImapError::Server(e.to_string()))?
                .try_collect()
                .await
                .map_err(|e| ImapError::Server(e.to_string()))?;
            Ok(items.iter().find(|f| f.uid == Some(uid)).map(|f| f.size.unwrap_or(0) as u64))
        })
        .await?;
        let Some(size) = size else { return Ok(None) };
        let header_only = size > max_bytes;
        let query = if header_only { "(UID BODY.PEEK[HEADER])" } else { "(UID BODY.PEEK[])" };
        // A large message may take longer than one command's timeout.
        let limit = t + Duration::from_millis(size.min(max_bytes) / 50);
        let raw = timed(limit, async {
            let session = self.session()?;
            let items: Vec<_> = session
                .uid_fetch(&set, query)
                .await
                .map_err(|e| ImapError::Server(e.to_string()))?
                .try_collect()
                .await
                .map_err(|e| ImapError::Server(e.to_string()))?;
            Ok(items
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| if header_only { f.header() } else { f.body() })
                .map(<[u8]>::to_vec))
        })
        .await?;
        Ok(raw.map(|raw| Fetched { uid, raw, size, header_only }))
    }

    /// Wait up to `max` for the mailbox to change: IDLE when the server has
    /// it (returns early on news), else sleep for `poll` (at most `max`) and
    /// send NOOP. Either way the caller then looks for new UIDs.
    pub async fn wait_for_change(&mut self, max: Duration, poll: Duration) -> Result<(), ImapError> {
        if !self.idle {
            tokio::time::sleep(poll.min(max)).await;
            let t = self.timeout;
            return timed(t, async { self.session()?.noop().await.map_err(|e| ImapError::Server(e.to_string())) })
                .await;
        }
        let session = self.session.take().ok_or_else(|| ImapError::Connection("no session".into()))?;
        let mut handle = session.idle();
        timed(self.timeout, async { handle.init().await.map_err(|e| ImapError::Server(format!("IDLE: {e}"))) }).await?;
        let (wait, _stop) = handle.wait_with_timeout(max);
        let outcome = wait.await.map_err(|e| ImapError::Connection(format!("during IDLE: {e}")))?;
        let session = timed(self.timeout, async {
            handle.done().await.map_err(|e| ImapError::Connection(format!("ending IDLE: {e}")))
        })
        .await?;
        self.session = Some(session);
        match outcome {
            IdleResponse::NewData(_) | IdleResponse::Timeout | IdleResponse::ManualInterrupt => Ok(()),
        }
    }

    /// Log out politely (errors ignored: the connection is dropped anyway).
    pub async fn close(mut self) {
        if let Some(mut s) = self.session.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.logout()).await;
        }
    }
}

async fn greeting<T>(client: &mut Client<T>) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + fmt::Debug + Send,
{
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ImapError::Connection("the server closed the connection before greeting".into())),
        Err(e) => Err(ImapError::Connection(format!("reading the greeting: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_follows_port_and_address() {
        let public: SocketAddr = "203.0.113.5:143".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:1143".parse().unwrap();
        assert_eq!(security_for(993, &public, IMPLICIT_TLS_PORT), Security::ImplicitTls);
        assert_eq!(security_for(143, &public, IMPLICIT_TLS_PORT), Security::StartTls);
        assert_eq!(security_for(1143, &local, IMPLICIT_TLS_PORT), Security::Plain);
        assert_eq!(security_for(993, &local, IMPLICIT_TLS_PORT), Security::ImplicitTls);
    }

    #[tokio::test]
    async fn private_addresses_need_the_operator() {
        assert!(resolve_checked("127.0.0.1", 143, false).await.is_err());
        assert!(resolve_checked("127.0.0.1", 143, true).await.is_ok());
    }

    #[test]
    fn passwords_are_scrubbed() {
        assert_eq!(scrub("bad login for s3cret".into(), "s3cret"), "bad login for ***");
    }
}
