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
