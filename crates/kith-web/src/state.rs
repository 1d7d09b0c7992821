use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use kith_app::App;
use std::sync::Arc;

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` and send HSTS: on when the public URL is https.
    pub secure_cookies: bool,
    /// API requests per second allowed per token (0 = unlimited), with a burst of twice that.
    pub api_rate_per_second: u32,
    /// Trust `X-Forwarded-For` for the client address (behind a proxy you run).
    pub trust_forwarded_for: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig { secure_cookies: false, api_rate_per_second: 50, trust_forwarded_for: false }
    }
}

#[derive(Clone)]
pub struct WebState {
    pub app: App,
    pub config: Arc<WebConfig>,
    pub metrics: Arc<Metrics>,
    pub(crate) limiter: Arc<RateLimiter>,
    /// Flips to true when the server starts shutting down: long-lived
    /// responses (the `/events` stream) end so the graceful shutdown can finish.
    pub(crate) closing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl WebState {
    pub fn new(app: App, config: WebConfig) -> WebState {
        let limiter = Arc::new(RateLimiter::new(config.api_rate_per_second));
        let closing = Arc::new(tokio::sync::watch::Sender::new(false));
        WebState { app, config: Arc::new(config), metrics: Arc::new(Metrics::default()), limiter, closing }
    }
}
