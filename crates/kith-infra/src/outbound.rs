//! The SSRF-guarded HTTP client.
//!
//! Every fetch of a URL that a workspace supplies (website import, outgoing
//! webhooks, a workspace's own LLM endpoint) goes through [`OutboundClient`],
//! so that a workspace cannot make the server reach loopback, private,
//! link-local or cloud-metadata addresses on its behalf.
//!
//! The destination is checked at the last moment that matters — when a name
//! is turned into addresses — rather than by resolving once up front and
//! trusting the answer later (which DNS rebinding defeats):
//!
//! * **Hostnames** are resolved by [`GuardedResolver`], which drops forbidden
//!   addresses before the connector ever sees them. The connection can only
//!   go to an address that passed the check.
//! * **IP-literal hosts** (`http://10.0.0.1/`, `http://[::1]/`, and the odd
//!   spellings the `url` crate normalises to them, such as `http://2130706433/`
//!   or `http://0177.0.0.1/`) never reach a resolver: the connector parses
//!   them directly. They are checked by [`OutboundClient::check_url`] before
//!   the first request and by the redirect policy on every hop.
//! * **Redirects** are followed by our own policy, which caps the chain and
//!   re-applies the URL checks to each `Location`; a redirect to a hostname
//!   goes through the resolver again on the new connection.
//!
//! System proxies are disabled: a proxy resolves names itself, which would
//! skip the resolver check entirely.
//!
//! Operators running a local model, or tests, set
//! [`OutboundConfig::allow_private_networks`] (`KITH_ALLOW_PRIVATE_NETWORKS`),
//! which turns every address check off.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use url::{Host, Url};

/// How the guarded client behaves.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Turns every address check off (scheme and credential checks stay).
    pub allow_private_networks: bool,
    /// Total deadline for one request, from connecting to the end of the body.
    pub timeout: Duration,
    /// Deadline for establishing the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// More redirects than this in one request is an error.
    pub max_redirects: usize,
    pub user_agent: String,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_redirects: 5,
            user_agent: format!("Kith/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("url is not allowed: {0}")]
    InvalidUrl(String),
    #[error("destination address is not allowed: {0}")]
    ForbiddenAddress(String),
    /// Any other failure. The URL inside the error has its query and fragment
    /// removed, since they may carry tokens and errors end up in logs.
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
}

impl From<reqwest::Error> for OutboundError {
    /// Turns a refusal by the resolver or the redirect policy back into the
    /// variant it stands for; reqwest wraps it a few layers deep, so walk the
    /// source chain looking for our own error type.
    fn from(mut err: reqwest::Error) -> Self {
        let mut cause: Option<&(dyn StdError + 'static)> = Some(&err);
        while let Some(current) = cause {
            if let Some(refusal) = current.downcast_ref::<Refusal>() {
                return refusal.clone().into();
            }
            cause = current.source();
        }
        if let Some(url) = err.url_mut() {
            url.set_query(None);
            url.set_fragment(None);
        }
        OutboundError::Request(err)
    }
}

/// The HTTP client every workspace-supplied URL is fetched with. Cheap to
/// clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct OutboundClient {
    http: reqwest::Client,
    allow_private_networks: bool,
}

impl OutboundClient {
    pub fn new(config: OutboundConfig) -> Result<Self, OutboundError> {
        Self::build(config, HashMap::new())
    }

    /// **Test seam — do not use in production code.**
    ///
    /// Like [`OutboundClient::new`], but each `(hostname, ip)` pair makes that
    /// hostname resolve to `ip` *without* the address check. Integration tests
    /// use it to stand up a "public" server on a loopback port: the first hop
    /// to `http://public.test:PORT/` is trusted, while everything after it
    /// (redirects to IP literals, to `localhost`, to any other name) still
    /// goes through the full checks. That is the only way to exercise the
    /// redirect policy offline, since with `allow_private_networks` the
    /// checks would be off for every hop.
    ///
    /// Only the exact names given are trusted, and nothing in the
    /// application's configuration reaches this constructor.
    #[doc(hidden)]
    pub fn with_pinned_hosts(config: OutboundConfig, pins: &[(&str, IpAddr)]) -> Result<Self, OutboundError> {
        let mut pinned: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for (name, ip) in pins {
            pinned.entry(name.to_ascii_lowercase()).or_default().push(*ip);
        }
        Self::build(config, pinned)
    }

    fn build(config: OutboundConfig, pinned: HashMap<String, Vec<IpAddr>>) -> Result<Self, OutboundError> {
        let allow_private = config.allow_private_networks;
        let resolver = GuardedResolver { allow_private_networks: allow_private, pinned: Arc::new(pinned) };
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(resolver))
            .redirect(redirect_policy(config.max_redirects, allow_private))
            // A proxy would resolve names itself, bypassing GuardedResolver.
            .no_proxy()
            // The Referer would hand the previous URL, query tokens included,
            // to whatever host a redirect points at.
            .referer(false)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent)
            .build()?;
        Ok(Self { http, allow_private_networks: allow_private })
    }

    /// The guarded client, for building requests other than a plain GET.
    ///
    /// Hostnames and redirects are always checked by it, but an IP-literal
    /// host in the *first* URL is not (the connector skips DNS for it), so
    /// send what you build through [`OutboundClient::send`], or pass the URL
    /// through [`OutboundClient::check_url`] first.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Parses `url` and refuses it unless it is `http`/`https`, carries no
    /// credentials and has a host. An IP-literal host is checked against
    /// [`is_forbidden_ip`] here; hostnames are checked when they resolve.
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        // The parse error text never repeats the input, so it is safe to show.
        let parsed = Url::parse(url).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        if let Err(refusal) = check_target(&parsed, self.allow_private_networks) {
            tracing::debug!(url = %Loggable(&parsed), reason = %refusal, "outbound url refused");
            return Err(refusal.into());
        }
        Ok(parsed)
    }

    /// `check_url`, then a GET with the guarded client.
    pub async fn get(&self, url: &str) -> Result<reqwest::Response, OutboundError> {
        let url = self.check_url(url)?;
        tracing::debug!(url = %Loggable(&url), "outbound GET");
        Ok(self.http.get(url).send().await?)
    }

    /// Checks the request's URL like [`OutboundClient::check_url`], then sends
    /// it with the guarded client — even if `request` was built from another
    /// `reqwest::Client`, so an unguarded client cannot slip through here.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, OutboundError> {
        let (_, request) = request.build_split();
        let request = request?;
        if let Err(refusal) = check_target(request.url(), self.allow_private_networks) {
            tracing::debug!(url = %Loggable(request.url()), reason = %refusal, "outbound url refused");
            return Err(refusal.into());
        }
        tracing::debug!(method = %request.method(), url = %Loggable(request.url()), "outbound request");
        Ok(self.http.execute(request).await?)
    }
}

/// Whether an address is off limits for workspace-supplied URLs: anything
/// that is not a routable public unicast address. IPv6 forms that carry an
/// IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that IPv4
/// address, since that is where the packets end up.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

/// IPv4 ranges that are not public unicast (RFC 6890 and friends).
const FORBIDDEN_V4: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),       // "this network"; 0.0.0.0 reaches the local host
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // carrier-grade NAT, often internal in clouds
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, including 169.254.169.254 metadata
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, including broadcast 255.255.255.255
];

/// IPv6 ranges that are not public unicast and carry no IPv4 address worth
/// judging instead.
const FORBIDDEN_V6: &[(u128, u32)] = &[
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // discard-only 100::/64
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48), // local-use NAT64, network-specific layout
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 32), // Teredo: tunnel whose client address is obfuscated
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // documentation
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // unique local (the IPv6 "private")
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // link-local
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10), // deprecated site-local
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),  // multicast
];

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    FORBIDDEN_V4.iter().any(|&(net, prefix)| same_prefix_u32(bits, u32::from_be_bytes(net), prefix))
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if ip.is_unspecified() || ip.is_loopback() {
        return true;
    }
    if let Some(v4) = embedded_v4(ip) {
        return is_forbidden_v4(v4);
    }
    let bits = u128::from(ip);
    FORBIDDEN_V6.iter().any(|&(net, prefix)| same_prefix_u128(bits, net, prefix))
}

/// The IPv4 address an IPv6 address stands for, for the forms whose packets
/// are delivered to that IPv4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    let judged_by_low32: [(u128, u32); 4] = [
        (0x0000_0000_0000_0000_0000_ffff_0000_0000, 96), // IPv4-mapped ::ffff:a.b.c.d
        (0x0000_0000_0000_0000_ffff_0000_0000_0000, 96), // IPv4-translated ::ffff:0:a.b.c.d
        (0x0000_0000_0000_0000_0000_0000_0000_0000, 96), // IPv4-compatible ::a.b.c.d
        (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96), // well-known NAT64 prefix
    ];
    if judged_by_low32.iter().any(|&(net, prefix)| same_prefix_u128(bits, net, prefix)) {
        return Some(low32);
    }
    // 6to4: 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
    if same_prefix_u128(bits, 0x2002 << 112, 16) {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    None
}

fn same_prefix_u32(a: u32, b: u32, prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    a & mask == b & mask
}

fn same_prefix_u128(a: u128, b: u128, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    a & mask == b & mask
}

/// Why a destination was refused. It travels inside reqwest's errors (from
/// the resolver and the redirect policy) and is recovered by
/// `OutboundError::from`, so it must be a concrete type we can downcast to.
#[derive(Debug, Clone)]
struct Refusal {
    kind: RefusalKind,
    detail: String,
}

#[derive(Debug, Clone, Copy)]
enum RefusalKind {
    Url,
    Address,
}

impl Refusal {
    fn url(detail: impl Into<String>) -> Self {
        Self { kind: RefusalKind::Url, detail: detail.into() }
    }

    fn address(detail: impl Into<String>) -> Self {
        Self { kind: RefusalKind::Address, detail: detail.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RefusalKind::Url => write!(f, "url is not allowed: {}", self.detail),
            RefusalKind::Address => {
                write!(f, "destination address is not allowed: {}", self.detail)
            }
        }
    }
}

impl StdError for Refusal {}

impl From<Refusal> for OutboundError {
    fn from(refusal: Refusal) -> Self {
        match refusal.kind {
            RefusalKind::Url => OutboundError::InvalidUrl(refusal.detail),
            RefusalKind::Address => OutboundError::ForbiddenAddress(refusal.detail),
        }
    }
}

/// The checks that need only the URL: scheme, credentials, host, and the
/// address itself when the host is an IP literal. Shared by `check_url`,
/// `send` and the redirect policy so the rules exist once.
fn check_target(url: &Url, allow_private_networks: bool) -> Result<(), Refusal> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(Refusal::url(format!("scheme {other:?} is not http(s)"))),
    }
    // Credentials in a workspace URL are at best a leak into logs and
    // headers, at worst a way to disguise the real host.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::url("credentials in the url"));
    }
    let ip = match url.host() {
        None => return Err(Refusal::url("no host")),
        // Checked by GuardedResolver when the connection is made.
        Some(Host::Domain(_)) => return Ok(()),
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    if !allow_private_networks && is_forbidden_ip(ip) {
        return Err(Refusal::address(ip.to_string()));
    }
    Ok(())
}

/// Follows at most `max` redirects, each to a URL that passes `check_target`.
fn redirect_policy(max: usize, allow_private_networks: bool) -> Policy {
    Policy::custom(move |attempt| {
        // `previous` starts with the original URL, so it holds one entry more
        // than the number of redirects followed so far.
        if attempt.previous().len() > max {
            return attempt.error(TooManyRedirects { max });
        }
        match check_target(attempt.url(), allow_private_networks) {
            Ok(()) => {
                tracing::debug!(to = %Loggable(attempt.url()), "following redirect");
                attempt.follow()
            }
            Err(refusal) => {
                tracing::debug!(to = %Loggable(attempt.url()), reason = %refusal, "redirect refused");
                attempt.error(refusal)
            }
        }
    })
}

#[derive(Debug)]
struct TooManyRedirects {
    max: usize,
}

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "too many redirects (more than {})", self.max)
    }
}

impl StdError for TooManyRedirects {}

/// Resolves hostnames with the system resolver and drops every forbidden
/// address, so the connector can only ever dial an allowed one.
struct GuardedResolver {
    allow_private_networks: bool,
    /// Test seam, see `OutboundClient::with_pinned_hosts`.
    pinned: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        // Port 0 is replaced by the URL's port (or the scheme default).
        if let Some(ips) = self.pinned.get(&host) {
            let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
            return Box::pin(std::future::ready(Ok(Box::new(addrs.into_iter()) as Addrs)));
        }
        let allow_private = self.allow_private_networks;
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if resolved.is_empty() {
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host} has no addresses"),
                )) as _);
            }
            if allow_private {
                return Ok(Box::new(resolved.into_iter()) as Addrs);
            }
            let total = resolved.len();
            let allowed: Vec<SocketAddr> = resolved.into_iter().filter(|addr| !is_forbidden_ip(addr.ip())).collect();
            if allowed.is_empty() {
                tracing::debug!(%host, "refused: resolves only to forbidden addresses");
                return Err(Box::new(Refusal::address(format!("{host} resolves only to forbidden addresses"))) as _);
            }
            if allowed.len() < total {
                tracing::debug!(
                    %host,
                    dropped = total - allowed.len(),
                    "dropped forbidden addresses from resolution"
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Displays a URL for logs: scheme, host, port and path only. The query and
/// fragment may carry tokens; credentials are refused anyway but never shown.
struct Loggable<'a>(&'a Url);

impl fmt::Display for Loggable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        write!(f, "{}://{}", url.scheme(), url.host_str().unwrap_or(""))?;
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())
    }
}
