//! Exports over the API: streamed view exports with their headers and the
//! list's filters, `/contacts/export` not taken for an id, and the
//! workspace export from POST to download — who may, and who may not.

use crate::helpers::{client, code, json};
use kith_app::crm::deals::{self, DealInput};
use kith_app::crm::exports;
use kith_app::worker::{Registry, Worker};
use kith_domain::time::{now_ms, UtcDateTime};
use kith_domain::{Actor, Context, Credential, Role};
use kith_testkit::{spawn_all, TestServer};
use reqwest::Response;
use serde_json::{json, Value};
use uuid::Uuid;

async fn get(s: &TestServer, path: &str, token: &str) -> Response {
    client().get(s.url(path)).bearer_auth(token).send().await.unwrap()
}

async fn post(s: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    json(client().post(s.url(path)).bearer_auth(token).json(&body).send().await.unwrap()).await
}

fn header<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// Invite `email` as `role` into the workspace and return an API token.
async fn join(s: &TestServer, owner_token: &str, email: &str, role: &str) -> (Uuid, String) {
    let (st, inv) = post(s, "/api/v1/invitations", owner_token, json!({"email": email, "role": role})).await;
    assert_eq!(st, 201, "{}: {inv}", s.label);
    let secret = inv["link"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let joined = kith_app::identity::sign_up(
        &s.app,
        kith_app::identity::SignUp {
            email: email.into(),
            name: "someone".into(),
            password: kith_testkit::app::PASSWORD.into(),
            workspace_name: None,
            invitation: Some(secret),
        },
        &Default::default(),
    )
    .await
    .unwrap();
    let (_, token) = kith_app::tokens::create_for_member(&s.app, joined.org_id, email, "t").await.unwrap();
    (joined.user_id, token)
}

async fn run_jobs(s: &TestServer) {
    let mut registry = Registry::default();
    exports::register(&mut registry);
    let w = Worker::new(s.app.clone(), registry);
    while w.run_once().await.unwrap() > 0 {}
}

fn today() -> String {
    UtcDateTime::from_ms(now_ms()).date()
}

#[tokio::test]
async fn view_exports_stream_with_headers_and_the_lists_filters() {
    for s in spawn_all().await {
        let l = s.label;
        let (owner, t) = s.user_with_token("owner@exports.test").await;
        for (i, name) in ["Ada", "Grace", "=cmd|' /C calc'!A0"].iter().enumerate() {
            let tags = if i == 0 { json!(["vip"]) } else { json!([]) };
            let body = json!({"first_name": name, "emails": [{"value": format!("p{i}@exports.test")}], "tags": tags});
            assert_eq!(post(&s, "/api/v1/contacts", &t, body).await.0, 201, "{l}");
        }

        let resp = get(&s, "/api/v1/contacts/export?format=csv", &t).await;
        assert_eq!(resp.status(), 200, "{l}");
        assert_eq!(header(&resp, "content-type"), "text/csv; charset=utf-8", "{l}");
        let disposition = format!("attachment; filename=\"contacts-{}.csv\"", today());
        assert_eq!(header(&resp, "content-disposition"), disposition, "{l}");
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff", "{l}");
        let csv = resp.text().await.unwrap();
        assert!(csv.starts_with("\u{feff}ID,First Name,Last Name,Email"), "{l}: {csv}");
        assert_eq!(csv.lines().count(), 4, "{l}: header and three contacts");
        assert!(csv.contains("'=cmd|' /C calc'!A0"), "{l}: formula defused: {csv}");

        // Default format is CSV; the list's filters apply.
        let resp = get(&s, "/api/v1/contacts/export?tag=vip", &t).await;
        assert_eq!(header(&resp, "content-type"), "text/csv; charset=utf-8", "{l}");
        let csv = resp.text().await.unwrap();
        assert_eq!(csv.lines().count(), 2, "{l}: only the tagged contact: {csv}");
        assert!(csv.contains("Ada") && !csv.contains("Grace"), "{l}");

        let resp = get(&s, "/api/v1/contacts/export?format=json&sort=created_at", &t).await;
        assert_eq!(header(&resp, "content-type"), "application/json", "{l}");
        assert!(header(&resp, "content-disposition").ends_with(".json\""), "{l}");
        let items: Vec<Value> = resp.json().await.unwrap();
        let names: Vec<&str> = items.iter().map(|c| c["first_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ada", "Grace", "=cmd|' /C calc'!A0"], "{l}: JSON is not escaped, and sorted");
        let (_, one) = json(get(&s, &format!("/api/v1/contacts/{}", items[0]["id"].as_str().unwrap()), &t).await).await;
        assert_eq!(items[0], one, "{l}: the API's object");

        let resp = get(&s, "/api/v1/contacts/export?format=vcard", &t).await;
        assert_eq!(header(&resp, "content-type"), "text/vcard", "{l}");
        assert!(header(&resp, "content-disposition").ends_with(".vcf\""), "{l}");
        assert_eq!(resp.text().await.unwrap().matches("BEGIN:VCARD").count(), 3, "{l}");

        // Deals: CSV and JSON with the deal filters; no vCard.
        let ctx = Context {
            org_id: owner.org_id,
            actor: Actor { user_id: owner.user_id, credential: Credential::Cli },
            role: Role::Owner,
        };
        deals::create(&s.app, &ctx, &DealInput { title: Some("Big one".into()), ..Default::default() }).await.unwrap();
        let resp = get(&s, "/api/v1/deals/export?format=vcard", &t).await;
        let (st, body) = json(resp).await;
        assert_eq!((st, code(&body)), (422, "validation_failed"), "{l}: {body}");
        assert_eq!(body["error"]["fields"][0]["field"], "format", "{l}");
        let resp = get(&s, "/api/v1/deals/export?format=csv&status=open", &t).await;
        assert_eq!(resp.status(), 200, "{l}");
        assert!(header(&resp, "content-disposition").starts_with("attachment; filename=\"deals-"), "{l}");
        assert!(resp.text().await.unwrap().contains("Big one"), "{l}");
        let resp = get(&s, "/api/v1/deals/export?format=json&status=won", &t).await;
        assert_eq!(resp.text().await.unwrap(), "[]\n", "{l}: filtered to nothing");
        let resp = get(&s, "/api/v1/companies/export?format=json", &t).await;
        assert_eq!((resp.status().as_u16(), resp.text().await.unwrap()), (200, "[]\n".into()), "{l}");

        // Parameters an export does not take.
        for bad in ["format=xml", "limit=5", "cursor=x", "bogus=1", "format=csv&format=json", "status=open"] {
            let (st, body) = json(get(&s, &format!("/api/v1/contacts/export?{bad}"), &t).await).await;
            assert_eq!(st, 422, "{l}: {bad}: {body}");
        }
    }
}

#[tokio::test]
async fn export_is_a_route_not_a_record_id() {
    for s in spawn_all().await {
        let l = s.label;
        let (_, t) = s.user_with_token("route@exports.test").await;
        for path in ["/api/v1/contacts/export", "/api/v1/companies/export", "/api/v1/deals/export"] {
            let resp = get(&s, path, &t).await;
            assert_eq!(resp.status(), 200, "{l}: {path} is the export, not a record called `export`");
            assert_eq!(header(&resp, "content-type"), "text/csv; charset=utf-8", "{l}: {path}");
        }
        // An id still reaches the record route.
        let (st, body) = json(get(&s, &format!("/api/v1/contacts/{}", Uuid::now_v7()), &t).await).await;
        assert_eq!((st, code(&body)), (404, "not_found"), "{l}");
        let (st, _) = json(client().get(s.url("/api/v1/contacts/export")).send().await.unwrap()).await;
        assert_eq!(st, 401, "{l}: a token is needed");
        let (_, doc) = json(client().get(s.url("/api/v1/openapi.json")).send().await.unwrap()).await;
        for p in ["/api/v1/contacts/export", "/api/v1/exports", "/api/v1/exports/{id}/download"] {
            assert!(doc["paths"][p].is_object(), "{l}: {p} documented");
        }
    }
}

#[tokio::test]
async fn the_workspace_export_flow_over_the_api() {
    for s in spawn_all().await {
        let l = s.label;
        let (_, t) = s.user_with_token("flow@exports.test").await;
        let (_, member) = join(&s, &t, "member@exports.test", "member").await;
        let (_, admin) = join(&s, &t, "admin@exports.test", "admin").await;
        let (_, stranger) = s.user_with_token("stranger@exports.test").await;
        let body = json!({"first_name": "Zip", "emails": [{"value": "zip@exports.test"}]});
        assert_eq!(post(&s, "/api/v1/contacts", &t, body).await.0, 201, "{l}");

        let (st, body) = post(&s, "/api/v1/exports", &member, json!({"scope": "workspace"})).await;
        assert_eq!((st, code(&body)), (403, "forbidden"), "{l}: members export views, not the workspace");
        let (st, _) = post(&s, "/api/v1/exports", &t, json!({"scope": "everything"})).await;
        assert_eq!(st, 422, "{l}");
        let resp = client().post(s.url("/api/v1/exports")).bearer_auth(&t).json(&json!({"scope": "workspace"}));
        let resp = resp.send().await.unwrap();
        let location = header(&resp, "location").to_string();
        let (st, created) = json(resp).await;
        assert_eq!((st, created["status"].as_str()), (202, Some("queued")), "{l}: {created}");
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(location, format!("/api/v1/exports/{id}"), "{l}");
        let download = format!("/api/v1/exports/{id}/download");
        let (st, body) = json(get(&s, &download, &t).await).await;
        assert_eq!(st, 409, "{l}: not done yet: {body}");

        run_jobs(&s).await;
        let (st, done) = json(get(&s, &location, &t).await).await;
        assert_eq!((st, done["status"].as_str()), (200, Some("done")), "{l}: {done}");
        let (_, list) = json(get(&s, "/api/v1/exports", &t).await).await;
        assert_eq!(list["data"][0]["id"], id.as_str(), "{l}: {list}");
        assert_eq!(list["next_cursor"], Value::Null, "{l}");

        let resp = get(&s, &download, &t).await;
        assert_eq!(resp.status(), 200, "{l}");
        assert_eq!(header(&resp, "content-type"), "application/zip", "{l}");
        let disposition = format!("attachment; filename=\"kith-export-{}.zip\"", today());
        assert_eq!(header(&resp, "content-disposition"), disposition, "{l}");
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff", "{l}");
        assert_eq!(header(&resp, "content-length"), done["file_bytes"].to_string(), "{l}");
        let zip = resp.bytes().await.unwrap();
        assert!(zip.starts_with(b"PK\x03\x04"), "{l}");
        let end = zip.len() - 22;
        assert_eq!(&zip[end..end + 4], b"PK\x05\x06", "{l}: end of central directory");
        assert_eq!(u16::from_le_bytes([zip[end + 10], zip[end + 11]]), 10, "{l}: ten files");
        let text = String::from_utf8_lossy(&zip);
        assert!(text.contains("zip@exports.test"), "{l}: stored, not compressed");

        // Only the requester opens it; others in the workspace see it or not at all.
        assert_eq!(get(&s, &location, &admin).await.status(), 200, "{l}: admins see it");
        let (st, body) = json(get(&s, &download, &admin).await).await;
        assert_eq!(st, 403, "{l}: {body}");
        assert_eq!(get(&s, &location, &member).await.status(), 404, "{l}");
        assert_eq!(get(&s, &download, &member).await.status(), 404, "{l}");
        let (_, list) = json(get(&s, "/api/v1/exports", &member).await).await;
        assert_eq!(list["data"], json!([]), "{l}");
        // Another workspace: not found, exactly like an id that does not exist.
        assert_eq!(get(&s, &location, &stranger).await.status(), 404, "{l}");
        assert_eq!(get(&s, &download, &stranger).await.status(), 404, "{l}");
        assert_eq!(get(&s, &format!("/api/v1/exports/{}", Uuid::now_v7()), &t).await.status(), 404, "{l}");
        assert_eq!(get(&s, "/api/v1/exports/not-an-id/download", &t).await.status(), 404, "{l}");
    }
}
