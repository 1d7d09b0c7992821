//! Promise 1: a token of workspace A never reads, lists, changes or learns
//! the existence of anything in workspace B — the answer is the same 404 as
//! for an id that does not exist. Tried on every endpoint with an id.

use crate::helpers::{client, code, json};
use kith_testkit::spawn_all;
use serde_json::json;

#[tokio::test]
async fn another_workspaces_ids_are_not_found_everywhere() {
    for s in spawn_all().await {
        let c = client();
        let (_, a) = s.user_with_token("a@example.com").await;
        let (b_acct, b) = s.user_with_token("b@example.com").await;
        let (_, team) =
            json(c.post(s.url("/api/v1/teams")).bearer_auth(&b).json(&json!({"name": "B team"})).send().await.unwrap())
                .await;
        let team_id = team["id"].as_str().unwrap().to_string();
        let (_, inv) = json(
            c.post(s.url("/api/v1/invitations"))
                .bearer_auth(&b)
                .json(&json!({"email": "x@example.com"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let inv_id = inv["id"].as_str().unwrap().to_string();
        let (_, toks) = json(c.get(s.url("/api/v1/tokens")).bearer_auth(&b).send().await.unwrap()).await;
        let tok_id = toks["data"][0]["id"].as_str().unwrap().to_string();
        let (b_org, b_user) = (b_acct.org_id.to_string(), b_acct.user_id.to_string());
        let missing = uuid::Uuid::now_v7().to_string();

        let calls: Vec<(&str, String, Option<serde_json::Value>)> = vec![
            ("GET", format!("/api/v1/workspaces/{b_org}"), None),
            ("PATCH", format!("/api/v1/workspaces/{b_org}"), Some(json!({"name": "pwned"}))),
            ("GET", format!("/api/v1/members/{b_user}"), None),
            ("PATCH", format!("/api/v1/members/{b_user}"), Some(json!({"role": "viewer"}))),
            ("DELETE", format!("/api/v1/members/{b_user}"), None),
            ("GET", format!("/api/v1/teams/{team_id}"), None),
            ("PATCH", format!("/api/v1/teams/{team_id}"), Some(json!({"name": "pwned"}))),
            ("DELETE", format!("/api/v1/teams/{team_id}"), None),
            ("GET", format!("/api/v1/teams/{team_id}/members"), None),
            ("PUT", format!("/api/v1/teams/{team_id}/members/{b_user}"), None),
            ("DELETE", format!("/api/v1/teams/{team_id}/members/{b_user}"), None),
            ("GET", format!("/api/v1/invitations/{inv_id}"), None),
            ("DELETE", format!("/api/v1/invitations/{inv_id}"), None),
            ("DELETE", format!("/api/v1/tokens/{tok_id}"), None),
        ];
        for (method, path, body) in calls {
            let foreign = send(&c, &s.url(&path), method, &a, body.clone()).await;
            // The same request with an id that exists nowhere answers identically.
            let nowhere = path
                .replace(&b_org, &missing)
                .replace(&b_user, &missing)
                .replace(&team_id, &missing)
                .replace(&inv_id, &missing)
                .replace(&tok_id, &missing);
            let absent = send(&c, &s.url(&nowhere), method, &a, body).await;
            assert_eq!(foreign.0, 404, "{}: {method} {path} answered {:?}", s.label, foreign);
            assert_eq!(code(&foreign.1), "not_found", "{method} {path}");
            assert_eq!(foreign, absent, "{}: {method} {path} must not differ from a missing id", s.label);
        }
        // Lists never show B's rows, and B's data is untouched.
        let (_, teams) = json(c.get(s.url("/api/v1/teams")).bearer_auth(&a).send().await.unwrap()).await;
        assert!(teams["data"].as_array().unwrap().is_empty(), "{}", s.label);
        let (_, members) = json(c.get(s.url("/api/v1/members")).bearer_auth(&a).send().await.unwrap()).await;
        assert_eq!(members["data"].as_array().unwrap().len(), 1);
        let (_, log) = json(c.get(s.url("/api/v1/audit-log")).bearer_auth(&a).send().await.unwrap()).await;
        assert!(log["data"].as_array().unwrap().iter().all(|e| e["target_id"] != team_id.as_str()));
        let (st, t) =
            json(c.get(s.url(&format!("/api/v1/teams/{team_id}"))).bearer_auth(&b).send().await.unwrap()).await;
        assert_eq!((st, t["name"].as_str()), (200, Some("B team")));
        assert_eq!(
            c.get(s.url("/api/v1/me")).bearer_auth(&b).send().await.unwrap().status(),
            200,
            "B's token still works"
        );
    }
}

async fn send(
    c: &reqwest::Client,
    url: &str,
    method: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = c.request(m, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    json(req.send().await.unwrap()).await
}

/// The same promise for a browser session: posting another workspace's ids
/// to the settings forms changes nothing and reveals nothing.
#[tokio::test]
async fn a_session_cannot_touch_another_workspace_through_the_ui() {
    use crate::helpers::{browser, form_value};
    for s in spawn_all().await {
        let c = client();
        let (b_acct, b) = s.user_with_token("b@example.com").await;
        let (_, team) =
            json(c.post(s.url("/api/v1/teams")).bearer_auth(&b).json(&json!({"name": "B team"})).send().await.unwrap())
                .await;
        let team_id = team["id"].as_str().unwrap().to_string();
        let (_, inv) = json(
            c.post(s.url("/api/v1/invitations"))
                .bearer_auth(&b)
                .json(&json!({"email": "x@example.com"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let inv_id = inv["id"].as_str().unwrap().to_string();

        // A signs up in the browser (own workspace).
        let a = browser();
        let html = a.get(s.url("/signup")).send().await.unwrap().text().await.unwrap();
        let csrf = form_value(&html, "_csrf");
        let form = [
            ("_csrf", csrf.as_str()),
            ("name", "A"),
            ("email", "a@example.com"),
            ("password", "correct horse battery"),
            ("workspace_name", "A Inc"),
        ];
        assert_eq!(a.post(s.url("/signup")).form(&form).send().await.unwrap().status(), 303);
        let html = a.get(s.url("/settings/teams")).send().await.unwrap().text().await.unwrap();
        let csrf = form_value(&html, "_csrf");
        let b_user = b_acct.user_id.to_string();
        let posts = [
            format!("/settings/teams/{team_id}/delete"),
            format!("/settings/teams/{team_id}/rename"),
            format!("/settings/teams/{team_id}/members/{b_user}/remove"),
            format!("/settings/members/{b_user}/role"),
            format!("/settings/members/{b_user}/remove"),
            format!("/settings/invitations/{inv_id}/revoke"),
        ];
        for path in &posts {
            let r = a
                .post(s.url(path))
                .form(&[("_csrf", csrf.as_str()), ("name", "pwned"), ("role", "viewer")])
                .send()
                .await
                .unwrap();
            let body = r.text().await.unwrap();
            assert!(!body.contains("B team"), "{}: {path} leaked B's data", s.label);
        }
        let (st, page) =
            a.get(s.url(&format!("/settings/teams/{team_id}"))).send().await.map(|r| (r.status().as_u16(), r)).unwrap();
        assert_eq!(st, 404, "{}", s.label);
        assert!(!page.text().await.unwrap().contains("B team"));
        let (st, t) =
            json(c.get(s.url(&format!("/api/v1/teams/{team_id}"))).bearer_auth(&b).send().await.unwrap()).await;
        assert_eq!((st, t["name"].as_str()), (200, Some("B team")), "{}: B's team is untouched", s.label);
        let (st, _) =
            json(c.get(s.url(&format!("/api/v1/invitations/{inv_id}"))).bearer_auth(&b).send().await.unwrap()).await;
        assert_eq!(st, 200, "B's invitation is still open");
        let (_, m) =
            json(c.get(s.url(&format!("/api/v1/members/{b_user}"))).bearer_auth(&b).send().await.unwrap()).await;
        assert_eq!(m["role"], "owner");
    }
}
