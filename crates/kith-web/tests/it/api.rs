use crate::helpers::{client, code, json};
use kith_testkit::{spawn_all, spawn_app};
use serde_json::json;

#[tokio::test]
async fn me_requires_a_valid_token() {
    for s in spawn_all().await {
        let c = client();
        let (acct, token) = s.user_with_token("ada@example.com").await;
        let (st, body) = json(c.get(s.url("/api/v1/me")).send().await.unwrap()).await;
        assert_eq!((st, code(&body)), (401, "unauthenticated"), "{}", s.label);
        let (st, _) = json(c.get(s.url("/api/v1/me")).bearer_auth("kith_pat_nope").send().await.unwrap()).await;
        assert_eq!(st, 401);
        let (st, body) = json(c.get(s.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(st, 200, "{}: {body}", s.label);
        assert_eq!(body["user"]["email"], "ada@example.com");
        assert_eq!(body["workspace"]["id"], acct.org_id.to_string());
        assert_eq!(body["workspace"]["role"], "owner");
        // Revoked tokens stop working at once.
        let (_, list) = json(c.get(s.url("/api/v1/tokens")).bearer_auth(&token).send().await.unwrap()).await;
        let id = list["data"][0]["id"].as_str().unwrap().to_string();
        assert!(list["data"][0].get("token").is_none(), "secrets are never listed");
        let r = c.delete(s.url(&format!("/api/v1/tokens/{id}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(c.get(s.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap().status(), 401);
    }
}

#[tokio::test]
async fn teams_crud_with_etags_and_pagination() {
    for s in spawn_all().await {
        let c = client();
        let (_, t) = s.user_with_token("owner@example.com").await;
        for i in 0..5 {
            let (st, _) = json(
                c.post(s.url("/api/v1/teams"))
                    .bearer_auth(&t)
                    .json(&json!({"name": format!("Team {i}")}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(st, 201, "{}", s.label);
        }
        // Pages of 2: every team exactly once, then a null cursor.
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let (st, page) = json(
                c.get(s.url(&format!("/api/v1/teams?limit=2&cursor={cursor}"))).bearer_auth(&t).send().await.unwrap(),
            )
            .await;
            assert_eq!(st, 200);
            assert!(page["data"].as_array().unwrap().len() <= 2);
            seen.extend(page["data"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(n) => cursor = n.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, (0..5).map(|i| format!("Team {i}")).collect::<Vec<_>>(), "{}", s.label);
        // Limits clamp; bad limits and cursors are clear errors.
        let (st, _) = json(c.get(s.url("/api/v1/teams?limit=100000")).bearer_auth(&t).send().await.unwrap()).await;
        assert_eq!(st, 200);
        let (st, body) = json(c.get(s.url("/api/v1/teams?limit=abc")).bearer_auth(&t).send().await.unwrap()).await;
        assert_eq!((st, code(&body)), (422, "validation_failed"));
        assert_eq!(body["error"]["fields"][0]["field"], "limit");
        let (st, _) = json(c.get(s.url("/api/v1/teams?cursor=zzz")).bearer_auth(&t).send().await.unwrap()).await;
        assert_eq!(st, 422);

        // ETag / If-Match: a stale write is 412 and changes nothing.
        let (_, list) = json(c.get(s.url("/api/v1/teams?limit=1")).bearer_auth(&t).send().await.unwrap()).await;
        let id = list["data"][0]["id"].as_str().unwrap().to_string();
        let r = c.get(s.url(&format!("/api/v1/teams/{id}"))).bearer_auth(&t).send().await.unwrap();
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let r = c
            .patch(s.url(&format!("/api/v1/teams/{id}")))
            .bearer_auth(&t)
            .header("if-match", &etag)
            .json(&json!({"name": "Renamed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let new_etag = r.headers()["etag"].to_str().unwrap().to_string();
        assert_ne!(etag, new_etag);
        let (st, body) = json(
            c.patch(s.url(&format!("/api/v1/teams/{id}")))
                .bearer_auth(&t)
                .header("if-match", &etag)
                .json(&json!({"name": "Stale"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((st, code(&body)), (412, "stale_version"), "{}", s.label);
        let (_, team) = json(c.get(s.url(&format!("/api/v1/teams/{id}"))).bearer_auth(&t).send().await.unwrap()).await;
        assert_eq!(team["name"], "Renamed");
        let (st, body) = json(
            c.post(s.url("/api/v1/teams")).bearer_auth(&t).json(&json!({"name": "Renamed"})).send().await.unwrap(),
        )
        .await;
        assert_eq!((st, code(&body)), (409, "already_exists"));
        assert_eq!(c.delete(s.url(&format!("/api/v1/teams/{id}"))).bearer_auth(&t).send().await.unwrap().status(), 204);
        assert_eq!(c.get(s.url(&format!("/api/v1/teams/{id}"))).bearer_auth(&t).send().await.unwrap().status(), 404);
    }
}

#[tokio::test]
async fn bad_input_gets_stable_codes() {
    let s = spawn_app().await;
    let c = client();
    let (_, t) = s.user_with_token("ada@example.com").await;
    let post = |body: &'static str, ct: &'static str| {
        c.post(s.url("/api/v1/teams")).bearer_auth(&t).header("content-type", ct).body(body)
    };
    let (st, b) = json(post("{", "application/json").send().await.unwrap()).await;
    assert_eq!((st, code(&b)), (422, "validation_failed"));
    let (st, b) = json(post("{\"name\": 5}", "application/json").send().await.unwrap()).await;
    assert_eq!((st, code(&b)), (422, "validation_failed"));
    let (st, b) = json(post("{\"name\": \"x\", \"colour\": 1}", "application/json").send().await.unwrap()).await;
    assert_eq!((st, code(&b)), (422, "validation_failed"), "unknown fields are rejected");
    let (st, b) = json(post("name=x", "application/x-www-form-urlencoded").send().await.unwrap()).await;
    assert_eq!((st, code(&b)), (415, "unsupported_media_type"));
    let (st, b) = json(post("{\"name\": \"   \"}", "application/json").send().await.unwrap()).await;
    assert_eq!((st, code(&b)), (422, "validation_failed"));
    assert_eq!(b["error"]["fields"][0]["field"], "name");
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = c
        .post(s.url("/api/v1/teams"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let (st, b) = json(r).await;
    assert_eq!((st, code(&b)), (413, "payload_too_large"));
    let (st, b) = json(c.get(s.url("/api/v1/teams/not-a-uuid")).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!((st, code(&b)), (404, "not_found"));
    let (st, b) = json(c.get(s.url("/api/v1/nothing-here")).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!((st, code(&b)), (404, "not_found"));
    let (st, b) = json(c.put(s.url("/api/v1/me")).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!((st, code(&b)), (405, "method_not_allowed"));
    // Nothing was half-written by any of the above.
    let (_, list) = json(c.get(s.url("/api/v1/teams")).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_and_scope() {
    for s in spawn_all().await {
        let c = client();
        let (_, t) = s.user_with_token("ada@example.com").await;
        let send = |key: &str, name: &str| {
            c.post(s.url("/api/v1/teams"))
                .bearer_auth(&t)
                .header("idempotency-key", key)
                .json(&json!({"name": name}))
                .send()
        };
        let first = send("k-1", "Sales").await.unwrap();
        assert_eq!(first.status(), 201);
        let first_body = first.text().await.unwrap();
        let again = send("k-1", "Sales").await.unwrap();
        assert_eq!(again.status(), 201, "{}", s.label);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.text().await.unwrap(), first_body, "a replay returns the first response");
        let (st, b) = json(send("k-1", "Support").await.unwrap()).await;
        assert_eq!((st, code(&b)), (422, "idempotency_key_reused"));
        // A failed request (4xx) is stored too, and replayed as such.
        let (st, _) = json(send("k-2", "Sales").await.unwrap()).await;
        assert_eq!(st, 409);
        let (_, list) = json(c.get(s.url("/api/v1/teams")).bearer_auth(&t).send().await.unwrap()).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "{}: the double click created one team", s.label);
        // The stored response is sealed: its text is not in the database.
        let row: Vec<u8> = raw_idempotency_response(&s).await;
        assert!(!row.windows(5).any(|w| w == b"Sales"), "{}: idempotent responses are stored sealed", s.label);
    }
}

async fn raw_idempotency_response(s: &kith_testkit::TestServer) -> Vec<u8> {
    kith_testkit::raw_bytes(&s.raw_url, "SELECT response FROM idempotency_keys WHERE response IS NOT NULL")
        .await
        .concat()
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let db = kith_testkit::TestDb::sqlite().await;
    let s = kith_testkit::spawn_with(
        db,
        kith_testkit::app::test_settings(),
        kith_web::WebConfig { api_rate_per_second: 1, ..Default::default() },
    )
    .await;
    let c = client();
    let (_, t) = s.user_with_token("ada@example.com").await;
    let mut limited = None;
    for _ in 0..10 {
        let r = c.get(s.url("/api/v1/me")).bearer_auth(&t).send().await.unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the burst of 2 runs out within 10 requests");
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let (_, b) = json(r).await;
    assert_eq!(code(&b), "rate_limited");
}

#[tokio::test]
async fn roles_and_last_owner_through_the_api() {
    for s in spawn_all().await {
        let c = client();
        let (owner, t) = s.user_with_token("owner@example.com").await;
        // Invite a member and let them join.
        let (st, inv) = json(
            c.post(s.url("/api/v1/invitations"))
                .bearer_auth(&t)
                .json(&json!({"email": "mia@example.com", "role": "member"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 201, "{}: {inv}", s.label);
        let link = inv["link"].as_str().unwrap().to_string();
        let secret = link.rsplit('/').next().unwrap().to_string();
        let joined = kith_app::identity::sign_up(
            &s.app,
            kith_app::identity::SignUp {
                email: "mia@example.com".into(),
                name: "Mia".into(),
                password: kith_testkit::app::PASSWORD.into(),
                workspace_name: None,
                invitation: Some(secret),
            },
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!(joined.org_id, owner.org_id);
        let (_, mia_token) =
            kith_app::tokens::create_for_member(&s.app, owner.org_id, "mia@example.com", "t").await.unwrap();
        // A member cannot change roles or read the audit log.
        let (st, b) = json(
            c.patch(s.url(&format!("/api/v1/members/{}", owner.user_id)))
                .bearer_auth(&mia_token)
                .json(&json!({"role": "viewer"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((st, code(&b)), (403, "forbidden"));
        assert_eq!(c.get(s.url("/api/v1/audit-log")).bearer_auth(&mia_token).send().await.unwrap().status(), 403);
        // The last owner cannot step down or leave.
        let (st, b) = json(
            c.patch(s.url(&format!("/api/v1/members/{}", owner.user_id)))
                .bearer_auth(&t)
                .json(&json!({"role": "admin"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((st, code(&b)), (409, "last_owner"), "{}", s.label);
        let (st, b) =
            json(c.delete(s.url(&format!("/api/v1/members/{}", owner.user_id))).bearer_auth(&t).send().await.unwrap())
                .await;
        assert_eq!((st, code(&b)), (409, "last_owner"));
        // Members list shows both; the audit log records the join.
        let (_, members) = json(c.get(s.url("/api/v1/members")).bearer_auth(&t).send().await.unwrap()).await;
        assert_eq!(members["data"].as_array().unwrap().len(), 2);
        let (_, log) = json(c.get(s.url("/api/v1/audit-log")).bearer_auth(&t).send().await.unwrap()).await;
        let actions: Vec<&str> =
            log["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"member.joined") && actions.contains(&"member.invited"), "{actions:?}");
        // A viewer-scoped token of the owner cannot manage anything.
        let (st, created) = json(
            c.post(s.url("/api/v1/tokens"))
                .bearer_auth(&t)
                .json(&json!({"name": "read only", "scope": "viewer"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 201);
        let ro = created["token"].as_str().unwrap().to_string();
        let (st, _) =
            json(c.post(s.url("/api/v1/teams")).bearer_auth(&ro).json(&json!({"name": "nope"})).send().await.unwrap())
                .await;
        assert_eq!(st, 403, "{}", s.label);
        assert_eq!(c.get(s.url("/api/v1/teams")).bearer_auth(&ro).send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let s = spawn_app().await;
    let (st, doc) = json(client().get(s.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!(st, 200);
    for path in [
        "/api/v1/me",
        "/api/v1/workspaces",
        "/api/v1/workspaces/{id}",
        "/api/v1/members",
        "/api/v1/members/{user_id}",
        "/api/v1/teams",
        "/api/v1/teams/{id}",
        "/api/v1/teams/{id}/members",
        "/api/v1/teams/{id}/members/{user_id}",
        "/api/v1/invitations",
        "/api/v1/invitations/{id}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/audit-log",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
