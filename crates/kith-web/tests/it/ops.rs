use crate::helpers::client;
use kith_testkit::spawn_app;

#[tokio::test]
async fn health_ready_metrics_and_headers() {
    let s = spawn_app().await;
    let c = client();
    let r = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(c.get(s.url("/readyz")).send().await.unwrap().status(), 200);
    let m = c.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("kith_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"2xx\"} 1"), "{m}");
    assert!(m.contains("kith_process_resident_memory_bytes"));
    // A caller's request id is echoed when it is sane, replaced when not.
    let r = c.get(s.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = c.get(s.url("/healthz")).header("x-request-id", "bad id <script>").send().await.unwrap();
    assert_ne!(r.headers()["x-request-id"], "bad id <script>");
}

#[tokio::test]
async fn assets_are_content_hashed_and_cached() {
    let s = spawn_app().await;
    let c = client();
    let page = c.get(s.url("/signin")).send().await.unwrap().text().await.unwrap();
    let css = page.split("href=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(css.starts_with("/assets/app.") && css.ends_with(".css"), "{css}");
    let r = c.get(s.url(&css)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(c.get(s.url("/assets/app.0000.css")).send().await.unwrap().status(), 404);
    assert!(!page.contains("<script>") && !page.contains("style="), "no inline script or style");
}
