//! Local stand-in servers and a log recorder shared by the outbound tests.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use axum::Router;
use kith_infra::outbound::{OutboundClient, OutboundConfig};
use tokio::net::TcpListener;

/// The hostname the "public server" test seam pins to 127.0.0.1.
pub const PUBLIC_HOST: &str = "public.test";

/// Binds 127.0.0.1:0. The port is known before the router is built, so
/// routes can redirect back to the same server by address.
pub async fn bind_v4() -> (TcpListener, u16) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind 127.0.0.1:0");
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Binds [::1]:0, or says why not (IPv6 may be disabled in a container).
pub async fn bind_v6() -> Option<(TcpListener, u16)> {
    match TcpListener::bind("[::1]:0").await {
        Ok(listener) => {
            let port = listener.local_addr().unwrap().port();
            Some((listener, port))
        }
        Err(e) => {
            eprintln!("skipping the [::1] part: cannot bind [::1]:0 ({e})");
            None
        }
    }
}

pub fn serve(listener: TcpListener, router: Router) {
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
}

/// A client with the address checks on, which treats `public.test` as a
/// public host living on 127.0.0.1 (see `OutboundClient::with_pinned_hosts`).
pub fn guarded_with_public_host(config: OutboundConfig) -> OutboundClient {
    OutboundClient::with_pinned_hosts(config, &[(PUBLIC_HOST, IpAddr::V4(Ipv4Addr::LOCALHOST))]).expect("client")
}

pub fn guarded() -> OutboundClient {
    OutboundClient::new(OutboundConfig::default()).expect("client")
}

pub fn permissive() -> OutboundClient {
    OutboundClient::new(OutboundConfig { allow_private_networks: true, ..OutboundConfig::default() }).expect("client")
}

/// A port nothing listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let (listener, port) = bind_v4().await;
    drop(listener);
    port
}

/// A minimal `tracing` subscriber that keeps every event emitted by
/// kith_infra as text, so tests can assert what reaches the logs.
#[derive(Clone, Default)]
pub struct LogRecorder {
    lines: Arc<Mutex<Vec<String>>>,
}

impl LogRecorder {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

struct FieldsToText(String);

impl tracing::field::Visit for FieldsToText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl tracing::Subscriber for LogRecorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if !event.metadata().target().starts_with("kith_infra") {
            return;
        }
        let mut text = FieldsToText(String::new());
        event.record(&mut text);
        self.lines.lock().unwrap().push(text.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
