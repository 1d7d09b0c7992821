//! The redirect policy, tested through the `with_pinned_hosts` seam: the
//! client keeps every check on, but trusts the name `public.test` to live on
//! 127.0.0.1. The first hop can then reach a local server that plays a
//! public website, and everything it redirects to is judged for real.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Path;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use kith_infra::outbound::{OutboundConfig, OutboundError};

use crate::support::{bind_v4, guarded_with_public_host, serve, LogRecorder, PUBLIC_HOST};

fn redirect_to(location: String) -> impl IntoResponse {
    (StatusCode::FOUND, [(LOCATION, location)])
}

/// A "public" site: `/go/{n}` redirects to the n-th target below, `/down/{n}`
/// redirects n times before answering, `/target` counts its visits.
async fn public_site(targets: Vec<String>) -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let (listener, port) = bind_v4().await;
    let counted = hits.clone();
    let router = Router::new()
        .route(
            "/go/{n}",
            get(move |Path(n): Path<usize>| {
                let location = targets[n].replace("{port}", &port.to_string());
                async move { redirect_to(location) }
            }),
        )
        .route(
            "/down/{n}",
            get(|Path(n): Path<usize>| async move {
                if n == 0 {
                    "landed".into_response()
                } else {
                    redirect_to(format!("/down/{}", n - 1)).into_response()
                }
            }),
        )
        .route(
            "/target",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { "target" }
            }),
        );
    serve(listener, router);
    (port, hits)
}

#[tokio::test]
async fn the_seam_trusts_only_the_pinned_name() {
    let (port, hits) = public_site(vec![format!("http://{PUBLIC_HOST}:{{port}}/target")]).await;
    let client = guarded_with_public_host(OutboundConfig::default());

    // Redirect within the pinned host: allowed, lands on /target.
    let response =
        client.get(&format!("http://{PUBLIC_HOST}:{port}/go/0")).await.expect("pinned host is treated as public");
    assert_eq!(response.text().await.unwrap(), "target");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // The same server by address is still refused: only the name is trusted.
    match client.get(&format!("http://127.0.0.1:{port}/target")).await {
        Err(OutboundError::ForbiddenAddress(_)) => {}
        other => panic!("expected ForbiddenAddress, got {other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn redirects_to_forbidden_destinations_are_refused() {
    let targets = vec![
        "http://127.0.0.1:{port}/target".to_string(),
        "http://[::1]:{port}/target".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[::ffff:127.0.0.1]:{port}/target".to_string(),
        "http://2130706433:{port}/target".to_string(),
        "http://0177.0.0.1:{port}/target".to_string(),
        "http://10.0.0.1/".to_string(),
        // A hostname: the policy lets it through, the resolver refuses it on
        // the new connection.
        "http://localhost:{port}/target".to_string(),
    ];
    let count = targets.len();
    let (port, hits) = public_site(targets).await;
    let client = guarded_with_public_host(OutboundConfig::default());

    for n in 0..count {
        let url = format!("http://{PUBLIC_HOST}:{port}/go/{n}");
        match client.get(&url).await {
            Err(OutboundError::ForbiddenAddress(detail)) => {
                assert!(!detail.is_empty())
            }
            other => panic!("redirect #{n}: expected ForbiddenAddress, got {other:?}"),
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no redirect may land");
}

#[tokio::test]
async fn redirects_to_other_schemes_or_credentials_are_invalid() {
    let targets = vec![
        "ftp://example.com/file".to_string(),
        "gopher://example.com/".to_string(),
        "http://user:pass@{host}:{port}/target".replace("{host}", PUBLIC_HOST),
        // Not a valid request URI at all (no authority): reqwest does not
        // even consult the policy and hands back the 302 unfollowed.
        "file:///etc/passwd".to_string(),
    ];
    let (port, hits) = public_site(targets).await;
    let client = guarded_with_public_host(OutboundConfig::default());

    for n in 0..3 {
        let url = format!("http://{PUBLIC_HOST}:{port}/go/{n}");
        match client.get(&url).await {
            Err(OutboundError::InvalidUrl(_)) => {}
            other => panic!("redirect #{n}: expected InvalidUrl, got {other:?}"),
        }
    }
    let unfollowed =
        client.get(&format!("http://{PUBLIC_HOST}:{port}/go/3")).await.expect("the redirect response itself");
    assert_eq!(unfollowed.status(), 302);
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn at_most_max_redirects_are_followed() {
    let (port, _) = public_site(vec![]).await;
    let client = guarded_with_public_host(OutboundConfig { max_redirects: 3, ..OutboundConfig::default() });

    let response =
        client.get(&format!("http://{PUBLIC_HOST}:{port}/down/3")).await.expect("exactly max_redirects is fine");
    assert_eq!(response.text().await.unwrap(), "landed");

    match client.get(&format!("http://{PUBLIC_HOST}:{port}/down/4")).await {
        Err(OutboundError::Request(e)) => {
            assert!(e.is_redirect(), "{e:?}");
            let source = std::error::Error::source(&e).expect("a cause");
            assert_eq!(source.to_string(), "too many redirects (more than 3)");
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }

    // The default allows five.
    let client = guarded_with_public_host(OutboundConfig::default());
    client.get(&format!("http://{PUBLIC_HOST}:{port}/down/5")).await.expect("five redirects");
    assert!(client.get(&format!("http://{PUBLIC_HOST}:{port}/down/6")).await.is_err());
}

#[tokio::test]
async fn logs_carry_no_query_strings() {
    let (port, _) = public_site(vec![
        "http://{port}.invalid/?token=SECRET-TWO".to_string(),
        "http://127.0.0.1:{port}/target?token=SECRET-THREE".to_string(),
    ])
    .await;
    let client = guarded_with_public_host(OutboundConfig::default());
    let recorder = LogRecorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let ok = client
        .get(&format!("http://{PUBLIC_HOST}:{port}/down/1?token=SECRET-ONE"))
        .await
        .expect("redirect within the site");
    assert_eq!(ok.status(), 200);
    let err = client.get(&format!("http://{PUBLIC_HOST}:{port}/go/1?token=SECRET-ONE")).await.expect_err("refused");
    assert!(!err.to_string().contains("SECRET"), "{err}");

    let lines = recorder.lines();
    assert!(lines.iter().any(|l| l.contains(PUBLIC_HOST)), "expected the host in the logs: {lines:?}");
    assert!(lines.iter().any(|l| l.contains("/go/1")), "expected the path in the logs: {lines:?}");
    for line in &lines {
        assert!(!line.contains("SECRET"), "{line}");
    }
}
