//! Real requests against local servers: loopback refused by default, allowed
//! with `allow_private_networks`, hostnames refused through the resolver.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use kith_infra::outbound::OutboundError;

use crate::support::{bind_v4, bind_v6, closed_port, guarded, permissive, serve, LogRecorder};

fn ok_router(hits: Arc<AtomicUsize>) -> Router {
    let post_hits = hits.clone();
    Router::new()
        .route(
            "/ok",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { "ok" }
            }),
        )
        .route(
            "/hook",
            post(move |body: String| {
                post_hits.fetch_add(1, Ordering::SeqCst);
                async move { format!("got {body}") }
            }),
        )
}

fn assert_forbidden(result: Result<reqwest::Response, OutboundError>, what: &str) {
    match result {
        Err(OutboundError::ForbiddenAddress(detail)) => {
            assert!(!detail.is_empty(), "{what}: empty detail")
        }
        Err(other) => panic!("{what}: expected ForbiddenAddress, got {other:?}"),
        Ok(response) => panic!("{what}: expected ForbiddenAddress, got {}", response.status()),
    }
}

#[tokio::test]
async fn loopback_ipv4_is_refused_by_default_and_allowed_when_configured() {
    let hits = Arc::new(AtomicUsize::new(0));
    let (listener, port) = bind_v4().await;
    serve(listener, ok_router(hits.clone()));
    let url = format!("http://127.0.0.1:{port}/ok");

    assert_forbidden(guarded().get(&url).await, &url);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the server must not be reached");

    let response = permissive().get(&url).await.expect("allowed");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn loopback_ipv6_is_refused_by_default_and_allowed_when_configured() {
    let Some((listener, port)) = bind_v6().await else {
        return;
    };
    let hits = Arc::new(AtomicUsize::new(0));
    serve(listener, ok_router(hits.clone()));

    for url in [format!("http://[::1]:{port}/ok"), format!("http://[0:0:0:0:0:0:0:1]:{port}/ok")] {
        assert_forbidden(guarded().get(&url).await, &url);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let response = permissive().get(&format!("http://[::1]:{port}/ok")).await.expect("allowed");
    assert_eq!(response.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn decimal_and_octal_ipv4_forms_are_refused_but_do_reach_loopback_when_allowed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let (listener, port) = bind_v4().await;
    serve(listener, ok_router(hits.clone()));

    let spellings = [
        format!("http://2130706433:{port}/ok"),
        format!("http://0177.0.0.1:{port}/ok"),
        format!("http://0x7f.1:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
    ];
    for url in &spellings {
        assert_forbidden(guarded().get(url).await, url);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    // Proof that these spellings really are the loopback server. (The mapped
    // IPv6 form needs a dual-stack socket, so only the IPv4 forms here.)
    for url in &spellings[..3] {
        let response = permissive().get(url).await.expect(url);
        assert_eq!(response.status(), 200, "{url}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn localhost_hostname_is_refused_by_the_resolver() {
    let hits = Arc::new(AtomicUsize::new(0));
    let (listener, port) = bind_v4().await;
    serve(listener, ok_router(hits.clone()));

    for host in ["localhost", "LOCALHOST", "localhost."] {
        let url = format!("http://{host}:{port}/ok");
        // check_url passes it on: it is a hostname, judged when resolved.
        guarded().check_url(&url).expect("hostnames pass check_url");
        match guarded().get(&url).await {
            Err(OutboundError::ForbiddenAddress(detail)) => {
                assert!(detail.contains("forbidden"), "{detail}")
            }
            // "localhost." may not resolve at all on some systems; that is
            // also a refusal, just not ours.
            Err(OutboundError::Request(e)) if host.ends_with('.') => {
                eprintln!("{url}: did not resolve ({e})")
            }
            other => panic!("{url}: expected ForbiddenAddress, got {other:?}"),
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let response = permissive().get(&format!("http://localhost:{port}/ok")).await.expect("allowed");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn requests_built_from_http_are_checked_by_send() {
    let hits = Arc::new(AtomicUsize::new(0));
    let (listener, port) = bind_v4().await;
    serve(listener, ok_router(hits.clone()));
    let url = format!("http://127.0.0.1:{port}/hook");

    let client = guarded();
    assert_forbidden(client.send(client.http().post(&url).body("x")).await, &url);
    // Even a request built from an unguarded client is sent by the guarded one.
    let foreign = reqwest::Client::new().post(&url).body("x");
    assert_forbidden(client.send(foreign).await, &url);
    // A hostname through the resolver, via http() directly.
    let via_http =
        client.http().post(format!("http://localhost:{port}/hook")).send().await.map_err(OutboundError::from);
    assert_forbidden(via_http, "http() with localhost");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let client = permissive();
    let response = client.send(client.http().post(&url).body("x")).await.expect("allowed");
    assert_eq!(response.text().await.unwrap(), "got x");
}

#[tokio::test]
async fn request_errors_drop_the_query_string() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/cb?token=SECRET-TOKEN#frag");
    let recorder = LogRecorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let err = permissive().get(&url).await.expect_err("nothing listens");
    assert!(matches!(err, OutboundError::Request(_)), "{err:?}");
    let text = format!("{err} / {err:?}");
    assert!(!text.contains("SECRET-TOKEN"), "{text}");
    assert!(!text.contains("frag"), "{text}");
    assert!(text.contains("/cb"), "the path is kept: {text}");

    let lines = recorder.lines();
    assert!(!lines.is_empty(), "expected a log line for the request");
    for line in lines {
        assert!(!line.contains("SECRET-TOKEN"), "{line}");
    }
}
