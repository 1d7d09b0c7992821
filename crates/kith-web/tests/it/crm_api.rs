//! The CRM over the API: contacts, companies, tags and custom fields — input
//! checks, ETags, list filters and pagination, and who sees what (promise 2).
//! Every test runs on each backend.

use crate::helpers::{client, code, json};
use kith_testkit::{spawn_all, spawn_app, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

/// One request with a bearer token: status, JSON body and ETag ("" if none).
async fn send(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (u16, Value, String) {
    let mut req = client().request(method, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    let resp = req.send().await.unwrap();
    let etag = resp.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (status, body) = json(resp).await;
    (status, body, etag)
}

async fn get(s: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let (st, b, _) = send(s, Method::GET, path, token, None, None).await;
    (st, b)
}

async fn post(s: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (st, b, _) = send(s, Method::POST, path, token, Some(body), None).await;
    (st, b)
}

async fn patch(s: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (st, b, _) = send(s, Method::PATCH, path, token, Some(body), None).await;
    (st, b)
}

async fn delete(s: &TestServer, path: &str, token: &str) -> u16 {
    send(s, Method::DELETE, path, token, None, None).await.0
}

/// The ids of a list answer, in order.
fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap_or_else(|| panic!("not a list: {list}")).iter().map(id).collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

fn first_field(body: &Value) -> &str {
    body["error"]["fields"][0]["field"].as_str().unwrap_or("")
}

/// Invite `email` into the owner's workspace as `role`, accept, and return
/// the new member's user id and an API token.
async fn join(s: &TestServer, org_id: Uuid, owner_token: &str, email: &str, role: &str) -> (Uuid, String) {
    let (st, inv) = post(s, "/api/v1/invitations", owner_token, json!({"email": email, "role": role})).await;
    assert_eq!(st, 201, "{}: {inv}", s.label);
    let secret = inv["link"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let joined = kith_app::identity::sign_up(
        &s.app,
        kith_app::identity::SignUp {
            email: email.into(),
            name: email.split('@').next().unwrap().into(),
            password: kith_testkit::app::PASSWORD.into(),
            workspace_name: None,
            invitation: Some(secret),
        },
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(joined.org_id, org_id);
    let (_, token) = kith_app::tokens::create_for_member(&s.app, org_id, email, "t").await.unwrap();
    (joined.user_id, token)
}

async fn new_contact(s: &TestServer, token: &str, body: Value) -> String {
    let (st, c) = post(s, "/api/v1/contacts", token, body).await;
    assert_eq!(st, 201, "{}: {c}", s.label);
    id(&c)
}

#[tokio::test]
async fn contact_crud_round_trip_with_etags() {
    for s in spawn_all().await {
        let (_, t) = s.user_with_token("owner@example.com").await;
        let (st, created, etag) = send(
            &s,
            Method::POST,
            "/api/v1/contacts",
            &t,
            Some(json!({
                "first_name": " Ada ",
                "last_name": "Lovelace",
                "emails": [{"value": "Ada@Example.COM", "label": "work"}],
                "phones": [{"value": "+1 415 555 0100", "label": "mobile"}],
                "addresses": [{"label": "home", "city": "London", "country": "GB"}],
                "social": {"linkedin": "ada"},
                "birthday": "1815-12-10",
                "tags": ["VIP", "lead", "vip"],
            })),
            None,
        )
        .await;
        assert_eq!(st, 201, "{}: {created}", s.label);
        assert_eq!(etag, "\"1\"");
        assert_eq!(created["first_name"], "Ada");
        assert_eq!(created["display_name"], "Ada Lovelace");
        assert_eq!(created["emails"], json!([{"value": "ada@example.com", "label": "work"}]));
        assert_eq!(
            created["phones"],
            json!([{"value": "+14155550100", "raw": "+1 415 555 0100", "label": "mobile", "valid": true}])
        );
        assert_eq!(created["addresses"][0]["city"], "London");
        assert_eq!(created["addresses"][0]["street"], Value::Null);
        assert_eq!(created["social"], json!({"linkedin": "ada"}));
        assert_eq!(created["birthday"], "1815-12-10");
        assert_eq!(created["tags"], json!(["lead", "VIP"]), "tags are unique without regard to case, name-ordered");
        assert_eq!(created["visibility"], "everyone");
        assert_eq!(created["version"], 1);
        let cid = id(&created);
        let path = format!("/api/v1/contacts/{cid}");

        let (st, read, etag) = send(&s, Method::GET, &path, &t, None, None).await;
        assert_eq!((st, etag.as_str()), (200, "\"1\""));
        assert_eq!(read, created);

        // A change with the current ETag succeeds and answers the new one;
        // fields left out keep their values.
        let (st, changed, etag2) = send(
            &s,
            Method::PATCH,
            &path,
            &t,
            Some(json!({"title": "Countess", "tags": ["VIP"], "phones": [{"value": "+44 20 7946 0958"}]})),
            Some("\"1\""),
        )
        .await;
        assert_eq!(st, 200, "{}: {changed}", s.label);
        assert_eq!(etag2, "\"2\"");
        assert_eq!(changed["title"], "Countess");
        assert_eq!(changed["tags"], json!(["VIP"]));
        assert_eq!(changed["phones"][0]["value"], "+442079460958");
        assert_eq!(changed["emails"], created["emails"]);
        assert!(changed["updated_at_ms"].as_i64() > created["updated_at_ms"].as_i64());

        // The ETag read before that change is stale: 412, nothing written.
        let (st, body, _) = send(&s, Method::PATCH, &path, &t, Some(json!({"title": "Stale"})), Some(&etag)).await;
        assert_eq!((st, code(&body)), (412, "stale_version"), "{}", s.label);
        let (_, read) = get(&s, &path, &t).await;
        assert_eq!(read["title"], "Countess");
        assert_eq!(read["version"], 2);

        // POST with an Idempotency-Key runs once; the replay is the first answer.
        let again = |key: &'static str| {
            client()
                .post(s.url("/api/v1/contacts"))
                .bearer_auth(&t)
                .header("idempotency-key", key)
                .json(&json!({"first_name": "Once"}))
                .send()
        };
        let first = again("c-1").await.unwrap();
        assert_eq!(first.status(), 201);
        let first = first.text().await.unwrap();
        let replay = again("c-1").await.unwrap();
        assert_eq!(replay.status(), 201);
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        assert_eq!(replay.headers()["etag"], "\"1\"");
        assert_eq!(replay.text().await.unwrap(), first);
        let (_, list) = get(&s, "/api/v1/contacts", &t).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 2, "{}: one contact per key", s.label);

        assert_eq!(delete(&s, &path, &t).await, 204);
        let (st, body) = get(&s, &path, &t).await;
        assert_eq!((st, code(&body)), (404, "not_found"));
        assert_eq!(delete(&s, &path, &t).await, 404);
        let (st, _) = patch(&s, &path, &t, json!({"title": "Ghost"})).await;
        assert_eq!(st, 404);
    }
}

#[tokio::test]
async fn company_crud_and_contacts_at_a_company() {
    for s in spawn_all().await {
        let (_, t) = s.user_with_token("owner@example.com").await;
        let (st, acme, etag) = send(
            &s,
            Method::POST,
            "/api/v1/companies",
            &t,
            Some(json!({"name": "Acme", "domain": "https://www.Acme.com/about", "address": {"city": "Berlin"}})),
            None,
        )
        .await;
        assert_eq!((st, etag.as_str()), (201, "\"1\""), "{}: {acme}", s.label);
        assert_eq!(acme["domain"], "acme.com");
        let acme_id = id(&acme);
        let (_, other) = post(&s, "/api/v1/companies", &t, json!({"name": "Other"})).await;
        let (st, body) = post(&s, "/api/v1/companies", &t, json!({"domain": "acme.org"})).await;
        assert_eq!((st, first_field(&body)), (422, "name"), "a company needs a name");

        let ada = new_contact(&s, &t, json!({"first_name": "Ada", "company_id": acme_id})).await;
        new_contact(&s, &t, json!({"first_name": "Bob", "company_id": id(&other)})).await;
        new_contact(&s, &t, json!({"first_name": "Cy"})).await;
        let (st, list) = get(&s, &format!("/api/v1/contacts?company={acme_id}"), &t).await;
        assert_eq!(st, 200);
        assert_eq!(ids(&list), vec![ada.clone()]);
        // `company` is a contact filter; companies have none.
        let (st, body) = get(&s, &format!("/api/v1/companies?company={acme_id}"), &t).await;
        assert_eq!((st, first_field(&body)), (422, "company"));

        let path = format!("/api/v1/companies/{acme_id}");
        let (st, changed, etag2) =
            send(&s, Method::PATCH, &path, &t, Some(json!({"industry": "Anvils"})), Some("\"1\"")).await;
        assert_eq!((st, etag2.as_str()), (200, "\"2\""), "{}: {changed}", s.label);
        assert_eq!(changed["industry"], "Anvils");
        assert_eq!(changed["address"]["city"], "Berlin");
        let (st, body, _) = send(&s, Method::PATCH, &path, &t, Some(json!({"name": "X"})), Some("\"1\"")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"));
        let (_, list) = get(&s, "/api/v1/companies?sort=created_at", &t).await;
        assert_eq!(ids(&list), vec![acme_id.clone(), id(&other)]);

        // Deleting the company leaves its contacts, without a company.
        assert_eq!(delete(&s, &path, &t).await, 204);
        assert_eq!(get(&s, &path, &t).await.0, 404);
        let (st, contact) = get(&s, &format!("/api/v1/contacts/{ada}"), &t).await;
        assert_eq!(st, 200);
        assert_eq!(contact["company_id"], Value::Null, "{}", s.label);
    }
}

#[tokio::test]
async fn contact_bad_input_is_422_naming_the_field() {
    for s in spawn_all().await {
        let (_, t) = s.user_with_token("owner@example.com").await;
        let (st, _) = post(
            &s,
            "/api/v1/custom-fields",
            &t,
            json!({"record_type": "contact", "key": "score", "label": "Score", "kind": "number"}),
        )
        .await;
        assert_eq!(st, 201);
        let cases = [
            (json!({"emails": [{"value": "not-an-address"}]}), "emails[0].value"),
            (json!({"first_name": "A", "emails": [{"value": "a@example.com"}, {"value": "b@"}]}), "emails[1].value"),
            (json!({"phones": [{"value": "call me"}]}), "phones[0].value"),
            (json!({"phones": [{"value": "+1 555"}]}), "phones[0].value"),
            (json!({"first_name": "A", "nickname": "x"}), "nickname"),
            (json!({"first_name": 5}), "first_name"),
            (json!({"emails": [{"value": "a@example.com", "kind": "work"}]}), "emails[0].kind"),
            (json!({"emails": [{"label": "work"}]}), "emails[0].value"),
            (json!({"first_name": "A", "company_id": "not-a-uuid"}), "company_id"),
            (json!({"first_name": "A", "visibility": "secret"}), "visibility"),
            (json!({"first_name": "A", "custom": {"nope": 1}}), "custom.nope"),
            (json!({"first_name": "A", "custom": {"score": "high"}}), "custom.score"),
            (json!({"first_name": "A", "birthday": "2026-02-30"}), "birthday"),
            (json!({"first_name": "A", "time_zone": "Not a zone!"}), "time_zone"),
            (json!({"title": "CEO"}), "first_name"),
            (json!({}), "first_name"),
        ];
        for (body, field) in cases {
            let (st, answer) = post(&s, "/api/v1/contacts", &t, body.clone()).await;
            assert_eq!((st, code(&answer)), (422, "validation_failed"), "{}: {body} → {answer}", s.label);
            let fields: Vec<&str> = answer["error"]["fields"]
                .as_array()
                .unwrap_or_else(|| panic!("{body} → {answer}"))
                .iter()
                .map(|f| f["field"].as_str().unwrap())
                .collect();
            assert_eq!(fields, vec![field], "{}: {body} → {answer}", s.label);
        }
        // Not JSON at all, or not JSON: 422 and 415 as everywhere.
        let r = client()
            .post(s.url("/api/v1/contacts"))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(json(r).await.0, 422);
        let r = client().post(s.url("/api/v1/contacts")).bearer_auth(&t).body("first_name=A").send().await.unwrap();
        assert_eq!(json(r).await.0, 415);

        // A company of another workspace cannot be linked, and nothing is created.
        let (_, t2) = s.user_with_token("other@example.com").await;
        let (_, foreign) = post(&s, "/api/v1/companies", &t2, json!({"name": "Theirs"})).await;
        let (st, body) = post(&s, "/api/v1/contacts", &t, json!({"first_name": "A", "company_id": id(&foreign)})).await;
        assert_eq!((st, first_field(&body)), (422, "company_id"), "{}: {body}", s.label);
        let (_, list) = get(&s, "/api/v1/contacts", &t).await;
        assert_eq!(ids(&list), Vec::<String>::new(), "{}: no bad input created anything", s.label);

        // Bad changes leave the contact as it was.
        let cid = new_contact(&s, &t, json!({"first_name": "A", "custom": {"score": 3}})).await;
        let path = format!("/api/v1/contacts/{cid}");
        let (st, body) = patch(&s, &path, &t, json!({"custom": {"score": true}})).await;
        assert_eq!((st, first_field(&body)), (422, "custom.score"));
        let (st, body) = patch(&s, &path, &t, json!({"first_name": ""})).await;
        assert_eq!((st, first_field(&body)), (422, "first_name"), "removing the only name is refused");
        let (st, body, _) = send(&s, Method::PATCH, &path, &t, Some(json!({"title": "x"})), Some("\"7\"")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"));
        let (st, body, _) = send(&s, Method::PATCH, &path, &t, Some(json!({"title": "x"})), Some("garbage")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"));
        let (_, read) = get(&s, &path, &t).await;
        assert_eq!((read["version"].as_i64(), &read["custom"]), (Some(1), &json!({"score": 3})), "{}", s.label);
        // `null` clears a custom field.
        let (st, read) = patch(&s, &path, &t, json!({"custom": {"score": null}})).await;
        assert_eq!((st, &read["custom"]), (200, &json!({})));
    }
}

#[tokio::test]
async fn visibility_holds_through_the_api() {
    for s in spawn_all().await {
        let (owner, o) = s.user_with_token("owner@example.com").await;
        let (a_id, a) = join(&s, owner.org_id, &o, "a@example.com", "member").await;
        let (b_id, b) = join(&s, owner.org_id, &o, "b@example.com", "member").await;
        let (_, admin) = join(&s, owner.org_id, &o, "admin@example.com", "admin").await;
        let listed = |list: &Value, cid: &str| ids(list).iter().any(|x| x == cid);

        // Personal: only its creator, whatever the others' roles (promise 2).
        let personal = new_contact(&s, &a, json!({"first_name": "Secret", "visibility": "personal"})).await;
        let path = format!("/api/v1/contacts/{personal}");
        for (who, token) in [("member", &b), ("owner", &o), ("admin", &admin)] {
            let (st, body) = get(&s, &path, token).await;
            assert_eq!((st, code(&body)), (404, "not_found"), "{}: {who} read a personal contact", s.label);
            let (st, _) = patch(&s, &path, token, json!({"title": "seen"})).await;
            assert_eq!(st, 404, "{}: {who} changed a personal contact", s.label);
            assert_eq!(delete(&s, &path, token).await, 404, "{}: {who} deleted a personal contact", s.label);
            let (_, list) = get(&s, "/api/v1/contacts", token).await;
            assert!(!listed(&list, &personal), "{}: {who} lists a personal contact", s.label);
            let (_, list) = get(&s, &format!("/api/v1/contacts?owner={a_id}"), token).await;
            assert!(!listed(&list, &personal), "{}: {who} finds it by owner", s.label);
        }
        let (st, read) = get(&s, &path, &a).await;
        assert_eq!((st, read["title"].clone()), (200, Value::Null), "{}: nobody else changed it", s.label);
        let (_, list) = get(&s, "/api/v1/contacts", &a).await;
        assert!(listed(&list, &personal));

        // Owner-only: its owner, and admins and owners of the workspace.
        let owned = new_contact(&s, &a, json!({"first_name": "Mine", "visibility": "owner"})).await;
        let path = format!("/api/v1/contacts/{owned}");
        assert_eq!(get(&s, &path, &b).await.0, 404, "{}", s.label);
        assert_eq!(patch(&s, &path, &b, json!({"title": "x"})).await.0, 404);
        assert_eq!(delete(&s, &path, &b).await, 404);
        let (_, list) = get(&s, "/api/v1/contacts", &b).await;
        assert!(!listed(&list, &owned));
        for token in [&admin, &o] {
            assert_eq!(get(&s, &path, token).await.0, 200, "{}", s.label);
            let (_, list) = get(&s, "/api/v1/contacts", token).await;
            assert!(listed(&list, &owned));
        }

        // Team: members of the team, once they join it.
        let (st, team) = post(&s, "/api/v1/teams", &o, json!({"name": "Sales"})).await;
        assert_eq!(st, 201);
        let team_id = id(&team);
        let (st, body) = post(&s, "/api/v1/contacts", &a, json!({"first_name": "T", "visibility": "team"})).await;
        assert_eq!((st, first_field(&body)), (422, "team_id"), "a team record needs a team");
        let teamed = new_contact(&s, &a, json!({"first_name": "Team", "visibility": "team", "team_id": team_id})).await;
        let path = format!("/api/v1/contacts/{teamed}");
        assert_eq!(get(&s, &path, &b).await.0, 404, "{}", s.label);
        let (_, list) = get(&s, "/api/v1/contacts", &b).await;
        assert!(!listed(&list, &teamed));
        let r = client()
            .put(s.url(&format!("/api/v1/teams/{team_id}/members/{b_id}")))
            .bearer_auth(&o)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(get(&s, &path, &b).await.0, 200, "{}", s.label);
        let (_, list) = get(&s, "/api/v1/contacts", &b).await;
        assert!(listed(&list, &teamed));
        assert_eq!(patch(&s, &path, &b, json!({"title": "Buyer"})).await.0, 200);
        // A member who only sees a team record may edit it but not move it.
        let (st, body) = patch(&s, &path, &b, json!({"visibility": "personal"})).await;
        assert_eq!((st, body["error"]["code"].as_str()), (403, Some("forbidden")), "{}: {body}", s.label);

        // Companies follow the same rules.
        let (st, company) =
            post(&s, "/api/v1/companies", &a, json!({"name": "Hidden", "visibility": "personal"})).await;
        assert_eq!(st, 201);
        let path = format!("/api/v1/companies/{}", id(&company));
        for token in [&b, &o] {
            assert_eq!(get(&s, &path, token).await.0, 404, "{}", s.label);
            assert_eq!(delete(&s, &path, token).await, 404);
            let (_, list) = get(&s, "/api/v1/companies", token).await;
            assert!(!listed(&list, &id(&company)));
        }
        // Nor can it be linked to by someone who cannot see it.
        let (st, body) = post(&s, "/api/v1/contacts", &b, json!({"first_name": "Z", "company_id": id(&company)})).await;
        assert_eq!((st, first_field(&body)), (422, "company_id"));
    }
}

#[tokio::test]
async fn another_workspaces_crm_ids_are_not_found() {
    for s in spawn_all().await {
        let (_, t1) = s.user_with_token("one@example.com").await;
        let (_, t2) = s.user_with_token("two@example.com").await;
        let contact = new_contact(&s, &t1, json!({"first_name": "Ada", "tags": ["VIP"]})).await;
        let (_, company) = post(&s, "/api/v1/companies", &t1, json!({"name": "Acme"})).await;
        let (_, field) = post(
            &s,
            "/api/v1/custom-fields",
            &t1,
            json!({"record_type": "contact", "key": "tier", "kind": "select", "options": ["gold"]}),
        )
        .await;
        let (_, tags) = get(&s, "/api/v1/tags", &t1).await;
        let tag = id(&tags["data"][0]);
        let (company, field) = (id(&company), id(&field));

        let mut calls = Vec::new();
        for (kind, id, change) in [
            ("contacts", &contact, json!({"title": "pwned"})),
            ("companies", &company, json!({"name": "pwned"})),
            ("custom-fields", &field, json!({"label": "pwned"})),
        ] {
            calls.push((Method::GET, format!("/api/v1/{kind}/{id}"), None));
            calls.push((Method::PATCH, format!("/api/v1/{kind}/{id}"), Some(change)));
            calls.push((Method::DELETE, format!("/api/v1/{kind}/{id}"), None));
        }
        calls.push((Method::PATCH, format!("/api/v1/tags/{tag}"), Some(json!({"name": "pwned"}))));
        calls.push((Method::DELETE, format!("/api/v1/tags/{tag}"), None));
        for (method, path, body) in calls {
            let (st, answer, _) = send(&s, method.clone(), &path, &t2, body, None).await;
            assert_eq!((st, code(&answer)), (404, "not_found"), "{}: {method} {path} → {answer}", s.label);
        }
        // Lists and filters do not reach across either.
        for path in [
            "/api/v1/contacts".to_string(),
            format!("/api/v1/contacts?company={company}"),
            "/api/v1/contacts?tag=VIP".to_string(),
            "/api/v1/companies".to_string(),
            "/api/v1/tags".to_string(),
            "/api/v1/custom-fields?record_type=contact".to_string(),
        ] {
            let (st, list) = get(&s, &path, &t2).await;
            assert_eq!(st, 200, "{}: {path}", s.label);
            assert_eq!(list["data"], json!([]), "{}: {path}", s.label);
        }
        let (st, body) = get(&s, "/api/v1/contacts?cf.tier=gold", &t2).await;
        assert_eq!((st, first_field(&body)), (422, "cf.tier"), "{}: another workspace's fields are unknown", s.label);
        // Everything of workspace 1 is intact.
        let (st, read) = get(&s, &format!("/api/v1/contacts/{contact}"), &t1).await;
        assert_eq!((st, read["version"].as_i64()), (200, Some(1)));
        assert_eq!(get(&s, &format!("/api/v1/companies/{company}"), &t1).await.0, 200);
        assert_eq!(get(&s, &format!("/api/v1/custom-fields/{field}"), &t1).await.0, 200);
        let (_, tags) = get(&s, "/api/v1/tags", &t1).await;
        assert_eq!(tags["data"][0]["name"], "VIP");
    }
}

#[tokio::test]
async fn contact_lists_paginate_and_filter() {
    for s in spawn_all().await {
        let (owner, t) = s.user_with_token("owner@example.com").await;
        let (m_id, _) = join(&s, owner.org_id, &t, "m@example.com", "member").await;
        for body in [
            json!({"record_type": "contact", "key": "tier", "kind": "select", "options": ["Gold", "silver"]}),
            json!({"record_type": "contact", "key": "score", "kind": "number"}),
            json!({"record_type": "contact", "key": "since", "kind": "date"}),
            json!({"record_type": "contact", "key": "note", "kind": "text"}),
        ] {
            assert_eq!(post(&s, "/api/v1/custom-fields", &t, body).await.0, 201);
        }
        let c: Vec<String> = vec![
            new_contact(
                &s,
                &t,
                json!({"first_name": "C0", "tags": ["VIP"], "custom": {"tier": "Gold", "score": 3, "note": "Big Fish"}}),
            )
            .await,
            new_contact(&s, &t, json!({"first_name": "C1", "custom": {"tier": "silver", "score": 7, "since": "2024-05-01"}}))
                .await,
            new_contact(
                &s,
                &t,
                json!({"first_name": "C2", "tags": ["vip", "Lead"], "custom": {"tier": "Gold", "score": 10.5, "since": "2025-01-01"}}),
            )
            .await,
            new_contact(&s, &t, json!({"first_name": "C3", "owner_id": m_id})).await,
            new_contact(&s, &t, json!({"first_name": "C4"})).await,
        ];
        // Touch C1 so it is no longer in creation order.
        assert_eq!(patch(&s, &format!("/api/v1/contacts/{}", c[1]), &t, json!({"title": "x"})).await.0, 200);

        let mut stamps = Vec::new();
        for cid in &c {
            let (_, read) = get(&s, &format!("/api/v1/contacts/{cid}"), &t).await;
            stamps.push((
                read["updated_at_ms"].as_i64().unwrap(),
                read["created_at_ms"].as_i64().unwrap(),
                cid.clone(),
            ));
        }
        let mut by_updated = stamps.clone();
        by_updated.sort_by(|x, y| (y.0, &y.2).cmp(&(x.0, &x.2)));
        let expected: Vec<String> = by_updated.into_iter().map(|x| x.2).collect();

        // Pages of two: every contact exactly once, newest change first, in three pages.
        let (mut seen, mut cursor, mut pages) = (Vec::new(), String::new(), 0);
        loop {
            let (st, page) = get(&s, &format!("/api/v1/contacts?limit=2&cursor={cursor}"), &t).await;
            assert_eq!(st, 200, "{}: {page}", s.label);
            pages += 1;
            assert!(page["data"].as_array().unwrap().len() <= 2);
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(n) => cursor = n.to_string(),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{}", s.label);
        assert_eq!(seen, expected, "{}", s.label);
        let (_, all) = get(&s, "/api/v1/contacts?sort=-updated_at", &t).await;
        assert_eq!(ids(&all), expected);

        let mut by_created = stamps.clone();
        by_created.sort_by(|x, y| (x.1, &x.2).cmp(&(y.1, &y.2)));
        let (mut seen, mut cursor) = (Vec::new(), String::new());
        loop {
            let (_, page) = get(&s, &format!("/api/v1/contacts?sort=created_at&limit=2&cursor={cursor}"), &t).await;
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(n) => cursor = n.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, by_created.into_iter().map(|x| x.2).collect::<Vec<_>>(), "{}", s.label);

        let query = |q: &'static str| {
            let (s, t) = (&s, &t);
            async move {
                let (st, list) = get(s, &format!("/api/v1/contacts?{q}"), t).await;
                assert_eq!(st, 200, "{}: {q} → {list}", s.label);
                let mut found = ids(&list);
                found.sort();
                found
            }
        };
        let set = |idx: &[usize]| {
            let mut v: Vec<String> = idx.iter().map(|i| c[*i].clone()).collect();
            v.sort();
            v
        };
        assert_eq!(query("tag=vip").await, set(&[0, 2]), "{}", s.label);
        assert_eq!(query("tag=VIP,lead").await, set(&[2]));
        assert_eq!(query("tag=vip&tag=Lead").await, set(&[2]));
        assert_eq!(query("tag=nosuch").await, set(&[]), "an unknown tag is an empty list");
        assert_eq!(query("tag=vip,nosuch").await, set(&[]));
        assert_eq!(query("owner=me").await, set(&[0, 1, 2, 4]), "{}", s.label);
        let by_member = format!("/api/v1/contacts?owner={m_id}");
        assert_eq!(ids(&get(&s, &by_member, &t).await.1), vec![c[3].clone()]);
        assert_eq!(query("cf.tier=Gold").await, set(&[0, 2]), "{}", s.label);
        assert_eq!(query("cf.tier=gold").await, set(&[0, 2]), "options match without regard to case");
        assert_eq!(query("cf.tier=silver").await, set(&[1]));
        assert_eq!(query("cf.score.gt=5").await, set(&[1, 2]), "{}", s.label);
        assert_eq!(query("cf.score.lt=5").await, set(&[0]));
        assert_eq!(query("cf.score=10.5").await, set(&[2]));
        assert_eq!(query("cf.tier=gold&cf.score.gt=5").await, set(&[2]));
        assert_eq!(query("cf.since.gt=2024-12-31").await, set(&[2]));
        assert_eq!(query("cf.note=big%20fish").await, set(&[0]), "text matches without regard to case");
        assert_eq!(query("updated_since=0").await, set(&[0, 1, 2, 3, 4]));
        assert_eq!(query("updated_since=99999999999999").await, set(&[]));
        assert_eq!(query("tag=vip&cf.score.gt=5&owner=me&limit=1&cursor=").await.len(), 1);

        // Mistakes are 422s that name the parameter, never a wider list.
        for (q, field) in [
            ("cf.nope=1", "cf.nope"),
            ("cf.score.gt=abc", "cf.score.gt"),
            ("cf.score=", "cf.score"),
            ("cf.tier.gt=a", "cf.tier.gt"),
            ("cf.since.lt=2026-02-30", "cf.since.lt"),
            ("cf.score.between=1", "cf.score.between"),
            ("colour=red", "colour"),
            ("cursor=zzz", "cursor"),
            ("sort=value", "sort"),
            ("sort=name,-name", "sort"),
            ("sort=name,title,source,created_at", "sort"),
            ("sort=last_name&cursor=zzz", "cursor"),
            ("limit=0", "limit"),
            ("limit=2&limit=3", "limit"),
            ("owner=someone", "owner"),
            ("company=acme", "company"),
            ("updated_since=yesterday", "updated_since"),
        ] {
            let (st, body) = get(&s, &format!("/api/v1/contacts?{q}"), &t).await;
            assert_eq!((st, code(&body)), (422, "validation_failed"), "{}: {q} → {body}", s.label);
            assert_eq!(first_field(&body), field, "{}: {q} → {body}", s.label);
        }
        // Several mistakes are reported together.
        let (_, body) = get(&s, "/api/v1/contacts?sort=x&owner=y&cf.nope=1", &t).await;
        assert_eq!(body["error"]["fields"].as_array().unwrap().len(), 3, "{body}");
    }
}

#[tokio::test]
async fn tags_are_unique_and_admins_change_them() {
    for s in spawn_all().await {
        let (owner, o) = s.user_with_token("owner@example.com").await;
        let (_, m) = join(&s, owner.org_id, &o, "m@example.com", "member").await;
        let (st, hot) = post(&s, "/api/v1/tags", &m, json!({"name": "Hot lead", "color": "red"})).await;
        assert_eq!(st, 201, "{}: {hot}", s.label);
        assert_eq!((hot["name"].as_str(), hot["color"].as_str()), (Some("Hot lead"), Some("red")));
        let (st, body) = post(&s, "/api/v1/tags", &m, json!({"name": "hot LEAD"})).await;
        assert_eq!((st, code(&body)), (409, "already_exists"), "{}", s.label);
        let (st, body) = post(&s, "/api/v1/tags", &m, json!({"name": "x", "color": "mauve"})).await;
        assert_eq!((st, first_field(&body)), (422, "color"));
        let (st, body) = post(&s, "/api/v1/tags", &m, json!({"name": "  "})).await;
        assert_eq!((st, first_field(&body)), (422, "name"));
        let (st, body) = post(&s, "/api/v1/tags", &m, json!({"name": "x", "colour": "red"})).await;
        assert_eq!((st, first_field(&body)), (422, "colour"));

        // Renaming, recolouring and deleting are for admins.
        let path = format!("/api/v1/tags/{}", id(&hot));
        let (st, body) = patch(&s, &path, &m, json!({"name": "Warm lead"})).await;
        assert_eq!((st, code(&body)), (403, "forbidden"), "{}", s.label);
        assert_eq!(delete(&s, &path, &m).await, 403);
        let cid = new_contact(&s, &m, json!({"first_name": "Ada", "tags": ["Hot lead"]})).await;
        let (st, warm) = patch(&s, &path, &o, json!({"name": "Warm lead"})).await;
        assert_eq!(st, 200, "{}: {warm}", s.label);
        assert_eq!((warm["name"].as_str(), warm["color"].as_str()), (Some("Warm lead"), Some("red")));
        let (_, contact) = get(&s, &format!("/api/v1/contacts/{cid}"), &m).await;
        assert_eq!(contact["tags"], json!(["Warm lead"]), "records follow a rename");

        // Name order, paged by the last name seen.
        for name in ["beta", "Alpha", "Gamma"] {
            assert_eq!(post(&s, "/api/v1/tags", &m, json!({"name": name})).await.0, 201);
        }
        let (st, body) = patch(&s, &path, &o, json!({"name": "ALPHA"})).await;
        assert_eq!((st, code(&body)), (409, "already_exists"));
        let (st, page1) = get(&s, "/api/v1/tags?limit=2", &m).await;
        assert_eq!(st, 200);
        let names = |p: &Value| p["data"].as_array().unwrap().iter().map(|t| t["name"].clone()).collect::<Vec<_>>();
        assert_eq!(names(&page1), vec![json!("Alpha"), json!("beta")], "{}", s.label);
        let cursor = page1["next_cursor"].as_str().expect("a second page").to_string();
        let (_, page2) = get(&s, &format!("/api/v1/tags?limit=2&cursor={cursor}"), &m).await;
        assert_eq!(names(&page2), vec![json!("Gamma"), json!("Warm lead")]);
        assert_eq!(page2["next_cursor"], Value::Null);
        let (st, body) = get(&s, "/api/v1/tags?sort=name", &m).await;
        assert_eq!((st, first_field(&body)), (422, "sort"), "unknown parameters are refused");
        let (st, _) = get(&s, "/api/v1/tags?limit=none", &m).await;
        assert_eq!(st, 422);

        assert_eq!(delete(&s, &path, &o).await, 204);
        assert_eq!(delete(&s, &path, &o).await, 404);
        let (_, contact) = get(&s, &format!("/api/v1/contacts/{cid}"), &m).await;
        assert_eq!(contact["tags"], json!([]), "{}: a deleted tag leaves its records", s.label);
        let (st, _) = get(&s, &path, &o).await;
        assert_eq!(st, 405, "tags are read through the list");
    }
}

#[tokio::test]
async fn custom_fields_are_managed_by_admins() {
    for s in spawn_all().await {
        let (owner, o) = s.user_with_token("owner@example.com").await;
        let (_, m) = join(&s, owner.org_id, &o, "m@example.com", "member").await;
        let tier = json!({"record_type": "contact", "key": "tier", "label": "Tier", "kind": "select",
                          "options": ["gold", "silver"]});
        let (st, field, etag) = send(&s, Method::POST, "/api/v1/custom-fields", &o, Some(tier.clone()), None).await;
        assert_eq!((st, etag.as_str()), (201, "\"1\""), "{}: {field}", s.label);
        assert_eq!(field["options"], json!(["gold", "silver"]));
        assert_eq!((field["kind"].as_str(), field["required"].as_bool()), (Some("select"), Some(false)));
        let (st, body) = post(&s, "/api/v1/custom-fields", &o, tier.clone()).await;
        assert_eq!((st, code(&body)), (409, "already_exists"), "{}", s.label);
        let (st, body) =
            post(&s, "/api/v1/custom-fields", &m, json!({"record_type": "contact", "key": "x", "kind": "text"})).await;
        assert_eq!((st, code(&body)), (403, "forbidden"), "{}", s.label);
        for (body, field_name) in [
            (json!({"record_type": "contact", "key": "level", "kind": "select"}), "options"),
            (json!({"record_type": "contact", "key": "n", "kind": "number", "options": ["a"]}), "options"),
            (json!({"record_type": "contact", "key": "Bad Key", "kind": "text"}), "key"),
            (json!({"record_type": "contact", "key": "k", "kind": "colour"}), "kind"),
            (json!({"record_type": "task", "key": "k", "kind": "text"}), "record_type"),
            (json!({"key": "k", "kind": "text"}), "record_type"),
        ] {
            let (st, answer) = post(&s, "/api/v1/custom-fields", &o, body.clone()).await;
            assert_eq!((st, first_field(&answer)), (422, field_name), "{}: {body} → {answer}", s.label);
        }

        // Listing needs a record type.
        let (st, body) = get(&s, "/api/v1/custom-fields", &m).await;
        assert_eq!((st, first_field(&body)), (422, "record_type"));
        let (st, body) = get(&s, "/api/v1/custom-fields?record_type=task", &m).await;
        assert_eq!((st, first_field(&body)), (422, "record_type"));
        let (st, body) = get(&s, "/api/v1/custom-fields?record_type=contact&x=1", &m).await;
        assert_eq!((st, first_field(&body)), (422, "x"));
        let (st, list) = get(&s, "/api/v1/custom-fields?record_type=contact", &m).await;
        assert_eq!(st, 200);
        assert_eq!(ids(&list), vec![id(&field)]);
        assert_eq!(list["next_cursor"], Value::Null);
        let (_, list) = get(&s, "/api/v1/custom-fields?record_type=company", &m).await;
        assert_eq!(list["data"], json!([]));

        // Key and kind are fixed; the rest changes with If-Match.
        let path = format!("/api/v1/custom-fields/{}", id(&field));
        let (st, _, etag) = send(&s, Method::GET, &path, &m, None, None).await;
        assert_eq!((st, etag.as_str()), (200, "\"1\""));
        let (st, body) = patch(&s, &path, &o, json!({"kind": "number"})).await;
        assert_eq!((st, first_field(&body)), (422, "kind"), "{}", s.label);
        let (st, body) = patch(&s, &path, &o, json!({"key": "level"})).await;
        assert_eq!((st, first_field(&body)), (422, "key"));
        let (st, body) = patch(&s, &path, &m, json!({"label": "Level"})).await;
        assert_eq!((st, code(&body)), (403, "forbidden"));
        let (st, changed, etag) = send(
            &s,
            Method::PATCH,
            &path,
            &o,
            Some(json!({"label": "Level", "options": ["gold", "silver", "bronze"]})),
            Some("\"1\""),
        )
        .await;
        assert_eq!((st, etag.as_str()), (200, "\"2\""), "{}: {changed}", s.label);
        assert_eq!(changed["label"], "Level");
        assert_eq!(changed["options"], json!(["gold", "silver", "bronze"]));
        let (st, body, _) = send(&s, Method::PATCH, &path, &o, Some(json!({"label": "Old"})), Some("\"1\"")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"), "{}", s.label);
        // The new option is usable at once.
        new_contact(&s, &m, json!({"first_name": "A", "custom": {"tier": "bronze"}})).await;

        assert_eq!(delete(&s, &path, &m).await, 403);
        assert_eq!(delete(&s, &path, &o).await, 204);
        assert_eq!(get(&s, &path, &o).await.0, 404);
        let (st, body) = get(&s, "/api/v1/contacts?cf.tier=bronze", &m).await;
        assert_eq!((st, first_field(&body)), (422, "cf.tier"), "a deleted field is no longer a filter");
    }
}

#[tokio::test]
async fn openapi_document_lists_the_crm_paths() {
    let s = spawn_app().await;
    let (st, doc) = json(client().get(s.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!(st, 200);
    for (path, methods) in [
        ("/api/v1/contacts", &["get", "post"][..]),
        ("/api/v1/contacts/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/companies", &["get", "post"][..]),
        ("/api/v1/companies/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/tags", &["get", "post"][..]),
        ("/api/v1/tags/{id}", &["patch", "delete"][..]),
        ("/api/v1/custom-fields", &["get", "post"][..]),
        ("/api/v1/custom-fields/{id}", &["get", "patch", "delete"][..]),
    ] {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} missing from the OpenAPI document");
        }
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/contacts"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["limit", "cursor", "sort", "tag", "owner", "company", "updated_since"] {
        assert!(params.contains(&p), "contacts list lacks {p}: {params:?}");
    }
    for schema in ["Contact", "ContactInput", "Company", "CompanyInput", "Tag", "CustomField", "CustomFieldInput"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
}

#[tokio::test]
async fn duplicates_are_listed_and_merged_through_the_api() {
    for s in spawn_all().await {
        let (_, t1) = s.user_with_token("dupes@example.com").await;
        let (_, t2) = s.user_with_token("stranger@example.com").await;
        let keep =
            new_contact(&s, &t1, json!({"first_name": "Nellie", "emails": [{"value": "nellie@bly.test"}]})).await;
        let other = new_contact(
            &s,
            &t1,
            json!({"last_name": "Bly", "emails": [{"value": "NELLIE@bly.test"}], "phones": [{"value": "+1 212 555 0111"}]}),
        )
        .await;
        let (st, list) = get(&s, &format!("/api/v1/contacts/{keep}/duplicates"), &t1).await;
        assert_eq!(st, 200, "{}: {list}", s.label);
        assert_eq!(list["data"][0]["contact"]["id"], other, "{}", s.label);
        assert_eq!(list["data"][0]["reasons"], json!(["email"]), "{}", s.label);
        let (st, _) = get(&s, &format!("/api/v1/contacts/{keep}/duplicates"), &t2).await;
        assert_eq!(st, 404, "{}: another workspace", s.label);
        let (st, body) = post(&s, &format!("/api/v1/contacts/{keep}/merge"), &t2, json!({"other_id": other})).await;
        assert_eq!(st, 404, "{}: {body}", s.label);
        let (st, body) = post(&s, &format!("/api/v1/contacts/{keep}/merge"), &t1, json!({"other": other})).await;
        assert_eq!(st, 422, "{}: {body}", s.label);
        let (st, merged) = post(&s, &format!("/api/v1/contacts/{keep}/merge"), &t1, json!({"other_id": other})).await;
        assert_eq!(st, 200, "{}: {merged}", s.label);
        assert_eq!((merged["first_name"].as_str(), merged["last_name"].as_str()), (Some("Nellie"), Some("Bly")));
        assert_eq!(merged["phones"][0]["value"], "+12125550111", "{}", s.label);
        assert_eq!(get(&s, &format!("/api/v1/contacts/{other}"), &t1).await.0, 404, "{}", s.label);
        let (_, list) = get(&s, &format!("/api/v1/contacts/{keep}/duplicates"), &t1).await;
        assert_eq!(list["data"], json!([]), "{}: nothing left to merge", s.label);
    }
}

#[tokio::test]
async fn batches_answer_per_item() {
    for s in spawn_all().await {
        let (_, t) = s.user_with_token("batch@example.com").await;
        let body = json!({"create": [
            {"first_name": "One", "emails": [{"value": "one@batch.test"}]},
            {"first_name": "Two", "emails": [{"value": "not-an-email"}]},
            {"first_name": "Three", "nickname": "x"},
            {"first_name": "Four"}
        ]});
        let (st, r) = post(&s, "/api/v1/contacts/batch", &t, body).await;
        assert_eq!(st, 200, "{}: {r}", s.label);
        let statuses: Vec<u64> =
            r["results"].as_array().unwrap().iter().map(|i| i["status"].as_u64().unwrap()).collect();
        assert_eq!(statuses, [201, 422, 422, 201], "{}: {r}", s.label);
        assert_eq!((r["succeeded"].as_u64(), r["failed"].as_u64()), (Some(2), Some(2)), "{}", s.label);
        assert_eq!(r["results"][1]["error"]["fields"][0]["field"], "emails[0].value", "{}", s.label);
        let one = r["results"][0]["data"]["id"].as_str().unwrap().to_string();
        let four = r["results"][3]["data"]["id"].as_str().unwrap().to_string();
        let (_, list) = get(&s, "/api/v1/contacts", &t).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 2, "{}: only the good items exist", s.label);

        let body = json!({"update": [
            {"id": one, "if_version": 1, "changes": {"title": "Chief"}},
            {"id": four, "if_version": 7, "changes": {"title": "Stale"}},
            {"id": Uuid::now_v7(), "changes": {"title": "Ghost"}}
        ]});
        let req = client().request(Method::PATCH, s.url("/api/v1/contacts/batch")).bearer_auth(&t).json(&body);
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{}", s.label);
        let r: Value = resp.json().await.unwrap();
        let statuses: Vec<u64> =
            r["results"].as_array().unwrap().iter().map(|i| i["status"].as_u64().unwrap()).collect();
        assert_eq!(statuses, [200, 412, 404], "{}: {r}", s.label);
        assert_eq!(r["results"][0]["data"]["title"], "Chief", "{}", s.label);

        let many: Vec<Value> = (0..1001).map(|i| json!({"first_name": format!("P{i}")})).collect();
        let (st, r) = post(&s, "/api/v1/contacts/batch", &t, json!({"create": many})).await;
        assert_eq!(st, 422, "{}: {r}", s.label);
        let (st, _) = post(&s, "/api/v1/contacts/batch", &t, json!({"create": []})).await;
        assert_eq!(st, 422, "{}", s.label);
        let deals: Vec<Value> = (0..3).map(|i| json!({"title": format!("Deal {i}"), "value_minor": 100 * i})).collect();
        let (st, r) = post(&s, "/api/v1/deals/batch", &t, json!({"create": deals})).await;
        assert_eq!((st, r["succeeded"].as_u64()), (200, Some(3)), "{}: {r}", s.label);
    }
}

#[tokio::test]
async fn views_and_bulk_through_the_api() {
    for s in spawn_all().await {
        let (_, t) = s.user_with_token("views@example.com").await;
        let (st, v) = post(
            &s,
            "/api/v1/views",
            &t,
            json!({"record_type": "contact", "name": "Hot", "query": "tag=hot", "columns": ["name", "email"]}),
        )
        .await;
        assert_eq!(st, 201, "{}: {v}", s.label);
        let (_, list) = get(&s, "/api/v1/views?record_type=contact", &t).await;
        assert_eq!(list["data"][0]["name"], "Hot", "{}", s.label);
        let (st, _) = get(&s, "/api/v1/views", &t).await;
        assert_eq!(st, 422, "{}: record_type is required", s.label);
        let a = new_contact(&s, &t, json!({"first_name": "A"})).await;
        let b = new_contact(&s, &t, json!({"first_name": "B"})).await;
        let (st, job) = post(
            &s,
            "/api/v1/bulk",
            &t,
            json!({"record_type": "contact", "action": "tag", "ids": [a, b], "tag": "hot"}),
        )
        .await;
        assert_eq!((st, job["total"].as_i64()), (202, Some(2)), "{}: {job}", s.label);
        let id = id(&job);
        // Test servers run no workers: run the queue here.
        let w = kith_app::worker::Worker::new(s.app.clone(), kith_app::worker::Registry::standard());
        while w.run_once().await.unwrap() > 0 {}
        let (_, j) = get(&s, &format!("/api/v1/bulk/{id}"), &t).await;
        assert_eq!((j["status"].as_str(), j["done"].as_i64()), (Some("done"), Some(2)), "{}: {j}", s.label);
        let (_, hot) = get(&s, "/api/v1/contacts?tag=hot", &t).await;
        assert_eq!(hot["data"].as_array().unwrap().len(), 2, "{}", s.label);
        let (st, _) =
            post(&s, "/api/v1/bulk", &t, json!({"record_type": "contact", "action": "explode", "ids": [a]})).await;
        assert_eq!(st, 422, "{}", s.label);
    }
}
