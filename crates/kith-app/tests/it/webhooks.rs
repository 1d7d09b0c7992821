//! Outbound webhooks against a local receiver: signed deliveries in the
//! transaction of the change, retries, parking, replay, no personal records.

use crate::support::*;
use axum::http::{HeaderMap, StatusCode};
use kith_app::crm::contacts::{self, ContactInput};
use kith_app::webhooks::{self, EndpointInput};
use kith_app::worker::{Registry, Worker};
use kith_app::{App, AppError};
use kith_domain::visibility::Visibility;
use kith_domain::{PageRequest, Role};
use kith_testkit::TestApp;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answer: Arc<AtomicU16>,
}

async fn receiver() -> (Receiver, String) {
    let r = Receiver { answer: Arc::new(AtomicU16::new(200)), ..Default::default() };
    let state = r.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                state.seen.lock().unwrap().push((headers, body));
                StatusCode::from_u16(state.answer.load(Ordering::SeqCst)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (r, format!("http://{addr}/hook"))
}

async fn drain(app: &App) {
    let mut registry = Registry::default();
    webhooks::register(&mut registry);
    let w = Worker::new(app.clone(), registry);
    while w.run_once().await.unwrap() > 0 {}
}

fn person(name: &str) -> ContactInput {
    ContactInput { first_name: Some(name.into()), ..Default::default() }
}

#[tokio::test]
async fn record_changes_are_delivered_signed_retried_parked_and_replayed() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("hooks@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "hm@crm.test", Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        let (rx, url) = receiver().await;

        let input = EndpointInput { url: Some(url.clone()), ..Default::default() };
        assert!(matches!(webhooks::create(app, &m, &input).await, Err(AppError::Forbidden)), "{l}: admins only");
        let bad = EndpointInput { url: Some("ftp://example.com/x".into()), ..Default::default() };
        assert_eq!(invalid_fields(l, "ftp url", webhooks::create(app, &o, &bad).await), ["url"], "{l}");
        let bad = EndpointInput {
            url: Some(url.clone()),
            events: Some(vec!["contact.exploded".into()]),
            ..Default::default()
        };
        assert_eq!(invalid_fields(l, "unknown event", webhooks::create(app, &o, &bad).await), ["events"], "{l}");
        let endpoint = webhooks::create(app, &o, &input).await.unwrap();
        let secret = endpoint.secret.clone().expect("the secret is shown once");
        assert!(webhooks::get(app, &o, endpoint.id).await.unwrap().secret.is_none(), "{l}: and never again");
        let raw = kith_testkit::raw_bytes(&t.db.raw_url, "SELECT secret FROM webhook_endpoints").await;
        assert!(!String::from_utf8_lossy(&raw[0]).contains(&secret[6..]), "{l}: stored sealed");

        let c = contacts::create(app, &m, &person("Hook")).await.unwrap();
        contacts::create(app, &m, &ContactInput { visibility: Some(Visibility::Personal), ..person("Private") })
            .await
            .unwrap();
        drain(app).await;
        {
            let seen = rx.seen.lock().unwrap();
            assert_eq!(seen.len(), 1, "{l}: one event; the personal contact is never announced");
            let (headers, body) = &seen[0];
            let id = headers["webhook-id"].to_str().unwrap();
            let ts: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
            let expected = webhooks::sign(&secret, id, ts, body.as_bytes()).unwrap();
            assert_eq!(headers["webhook-signature"].to_str().unwrap(), expected, "{l}: Standard Webhooks signature");
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(
                (v["type"].as_str(), v["data"]["id"].as_str()),
                (Some("contact.created"), Some(c.id.to_string().as_str()))
            );
        }

        // The receiver fails: the delivery stays pending and is retried later;
        // out of tries it is parked; a replay sends it again.
        rx.answer.store(503, Ordering::SeqCst);
        contacts::delete(app, &m, c.id, &nowhere()).await.unwrap();
        drain(app).await;
        let log = webhooks::deliveries(app, &o, endpoint.id, &PageRequest::default()).await.unwrap();
        let failed = log.items.iter().find(|d| d.event_type == "contact.deleted").unwrap().clone();
        assert_eq!((failed.status.as_str(), failed.attempts, failed.last_status), ("pending", 1, Some(503)), "{l}");
        kith_testkit::raw_execute(
            &t.db.raw_url,
            "UPDATE jobs SET max_attempts = 2, run_at_ms = 0 WHERE kind = 'webhook.deliver' AND status = 'queued'",
        )
        .await;
        drain(app).await;
        let log = webhooks::deliveries(app, &o, endpoint.id, &PageRequest::default()).await.unwrap();
        let parked = log.items.iter().find(|d| d.id == failed.id).unwrap();
        assert_eq!((parked.status.as_str(), parked.attempts), ("parked", 2), "{l}: gave up and parked");
        rx.answer.store(204, Ordering::SeqCst);
        webhooks::replay(app, &o, endpoint.id, failed.id).await.unwrap();
        drain(app).await;
        let log = webhooks::deliveries(app, &o, endpoint.id, &PageRequest::default()).await.unwrap();
        let replayed = log.items.iter().find(|d| d.id == failed.id).unwrap();
        assert_eq!((replayed.status.as_str(), replayed.last_status), ("delivered", Some(204)), "{l}: replayed");
        assert_eq!(rx.seen.lock().unwrap().len(), 4, "{l}: first try, retry, replay after the created event");

        // Disabled endpoints get nothing; other workspaces cannot see this one.
        let off = EndpointInput { enabled: Some(false), ..Default::default() };
        webhooks::update(app, &o, endpoint.id, &off, None).await.unwrap();
        contacts::create(app, &m, &person("Quiet")).await.unwrap();
        drain(app).await;
        assert_eq!(rx.seen.lock().unwrap().len(), 4, "{l}: disabled");
        let stranger = owner_ctx(app, &t.user("x@crm.test").await).await;
        assert!(matches!(webhooks::get(app, &stranger, endpoint.id).await, Err(AppError::NotFound)), "{l}");
    }
}
