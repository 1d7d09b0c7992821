//! The rest of the CRM over the API: deals and pipelines (ETags, stage moves,
//! the board), notes (private ones stay private), tasks and activities,
//! timelines, search, and imports as multipart uploads run by the worker.
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

async fn delete(s: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let (st, b, _) = send(s, Method::DELETE, path, token, None, None).await;
    (st, b)
}

/// POST that must succeed with 201; the created object.
async fn create(s: &TestServer, path: &str, token: &str, body: Value) -> Value {
    let (st, created) = post(s, path, token, body.clone()).await;
    assert_eq!(st, 201, "{}: POST {path} {body} → {created}", s.label);
    created
}

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
    let inv = create(s, "/api/v1/invitations", owner_token, json!({"email": email, "role": role})).await;
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

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn deals_move_through_stages_with_etags_and_fill_the_board() {
    for s in spawn_all().await {
        let (_, t) = s.user_with_token("owner@example.com").await;
        let (st, big, etag) = send(
            &s,
            Method::POST,
            "/api/v1/deals",
            &t,
            Some(json!({"title": " Big one ", "value_minor": 500_000, "currency": "EUR", "tags": ["Q3"]})),
            None,
        )
        .await;
        assert_eq!((st, etag.as_str()), (201, "\"1\""), "{}: {big}", s.label);
        assert_eq!((big["title"].as_str(), big["status"].as_str()), (Some("Big one"), Some("open")));
        assert_eq!(big["tags"], json!(["Q3"]));

        // The first deal made the default pipeline; the deal is in its first stage.
        let (st, pipelines) = get(&s, "/api/v1/pipelines", &t).await;
        assert_eq!((st, pipelines["data"].as_array().unwrap().len()), (200, 1), "{}: {pipelines}", s.label);
        assert_eq!(pipelines["next_cursor"], Value::Null);
        let pipeline = &pipelines["data"][0];
        let stage = |i: usize| pipeline["stages"][i]["id"].as_str().unwrap().to_string();
        let stage_name = |i: usize| pipeline["stages"][i]["name"].as_str().unwrap().to_string();
        assert_eq!(big["pipeline_id"], pipeline["id"]);
        assert_eq!(big["stage_id"].as_str(), Some(stage(0).as_str()));
        let path = format!("/api/v1/deals/{}", id(&big));

        // A move with the current ETag succeeds; one with the old ETag is a 412 and changes nothing.
        let (st, moved, etag) =
            send(&s, Method::PATCH, &path, &t, Some(json!({"stage_id": stage(1)})), Some("\"1\"")).await;
        assert_eq!((st, etag.as_str()), (200, "\"2\""), "{}: {moved}", s.label);
        assert_eq!(moved["stage_id"].as_str(), Some(stage(1).as_str()));
        assert_eq!(moved["value_minor"], 500_000, "fields left out keep their value");
        let (st, body, _) =
            send(&s, Method::PATCH, &path, &t, Some(json!({"stage_id": stage(2)})), Some("\"1\"")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"), "{}", s.label);
        let (st, read, etag) = send(&s, Method::GET, &path, &t, None, None).await;
        assert_eq!((st, etag.as_str(), read["stage_id"].as_str()), (200, "\"2\"", Some(stage(1).as_str())));

        // The timeline has both stage changes, newest first, with the stages' names.
        let (st, timeline) = get(&s, &format!("{path}/timeline"), &t).await;
        assert_eq!(st, 200, "{}: {timeline}", s.label);
        let items = timeline["data"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{}: {timeline}", s.label);
        assert!(items.iter().all(|i| i["kind"] == "stage_change"));
        let change = &items[0]["stage_change"];
        assert_eq!(
            (change["from_stage"].as_str(), change["to_stage"].as_str()),
            (Some(stage_name(0).as_str()), Some(stage_name(1).as_str())),
            "{}: {change}",
            s.label
        );
        assert_eq!(items[1]["stage_change"]["from_stage"], Value::Null, "the first entry is where it started");
        assert_eq!(items[1]["stage_change"]["to_stage"].as_str(), Some(stage_name(0).as_str()));
        let (_, first) = get(&s, &format!("{path}/timeline?limit=1"), &t).await;
        assert_eq!(first["data"].as_array().unwrap().len(), 1);
        let cursor = first["next_cursor"].as_str().unwrap().to_string();
        let (_, second) = get(&s, &format!("{path}/timeline?limit=1&cursor={cursor}"), &t).await;
        assert_eq!((ids(&second), &second["next_cursor"]), (vec![id(&items[1])], &Value::Null), "{}", s.label);

        // The board counts the open deals per stage, with totals per currency.
        let small = create(
            &s,
            "/api/v1/deals",
            &t,
            json!({"title": "Small", "value_minor": 1_000, "currency": "EUR", "stage_id": stage(1)}),
        )
        .await;
        create(
            &s,
            "/api/v1/deals",
            &t,
            json!({"title": "Dollars", "value_minor": 700, "currency": "USD", "stage_id": stage(1)}),
        )
        .await;
        let won =
            create(&s, "/api/v1/deals", &t, json!({"title": "Done", "stage_id": stage(1), "status": "won"})).await;
        assert!(won["closed_at_ms"].is_i64());
        let (st, board) = get(&s, "/api/v1/deals/board", &t).await;
        assert_eq!(st, 200, "{}: {board}", s.label);
        assert_eq!(board["pipeline"]["id"], pipeline["id"]);
        let columns = board["columns"].as_array().unwrap();
        assert_eq!(columns.len(), pipeline["stages"].as_array().unwrap().len());
        assert_eq!((columns[0]["count"].as_i64(), columns[0]["deals"].as_array().unwrap().len()), (Some(0), 0));
        let qualified = &columns[1];
        assert_eq!(qualified["count"], 3, "{}: open deals only: {qualified}", s.label);
        let mut totals: Vec<(String, i64)> = qualified["totals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["currency"].as_str().unwrap().to_string(), t["value_minor"].as_i64().unwrap()))
            .collect();
        totals.sort();
        assert_eq!(totals, vec![("EUR".to_string(), 501_000), ("USD".to_string(), 700)], "{}", s.label);
        assert!(!ids(&json!({"data": qualified["deals"]})).contains(&id(&won)));
        let (st, again) =
            get(&s, &format!("/api/v1/deals/board?pipeline={}", pipeline["id"].as_str().unwrap()), &t).await;
        assert_eq!((st, &again["columns"][1]["count"]), (200, &json!(3)));
        let (st, body) = get(&s, "/api/v1/deals/board?pipeline=nope", &t).await;
        assert_eq!((st, first_field(&body)), (422, "pipeline"));
        let (st, _) = get(&s, &format!("/api/v1/deals/board?pipeline={}", Uuid::now_v7()), &t).await;
        assert_eq!(st, 404);

        // List filters: the shared ones and pipeline, stage and status.
        let (_, list) = get(&s, &format!("/api/v1/deals?stage={}&status=open&sort=created_at", stage(1)), &t).await;
        assert_eq!(ids(&list)[..2], [id(&big), id(&small)], "{}: {list}", s.label);
        assert_eq!(ids(&list).len(), 3);
        let (_, list) = get(&s, "/api/v1/deals?status=won", &t).await;
        assert_eq!(ids(&list), vec![id(&won)]);
        let (_, list) =
            get(&s, &format!("/api/v1/deals?pipeline={}&tag=q3", pipeline["id"].as_str().unwrap()), &t).await;
        assert_eq!(ids(&list), vec![id(&big)]);
        let (_, list) = get(&s, &format!("/api/v1/deals?pipeline={}", Uuid::now_v7()), &t).await;
        assert_eq!(ids(&list), Vec::<String>::new());
        let (_, page) = get(&s, "/api/v1/deals?limit=2", &t).await;
        assert_eq!(ids(&page).len(), 2);
        assert!(page["next_cursor"].is_string());
        for (query, field) in
            [("status=closed", "status"), ("stage=x", "stage"), ("company=x", "company"), ("colour=red", "colour")]
        {
            let (st, body) = get(&s, &format!("/api/v1/deals?{query}"), &t).await;
            assert_eq!((st, first_field(&body)), (422, field), "{}: {query} → {body}", s.label);
        }

        // Bad input names the field; a stage of no pipeline is refused.
        for (body, field) in [
            (json!({}), "title"),
            (json!({"title": "X", "value_minor": -1}), "value_minor"),
            (json!({"title": "X", "stage_id": Uuid::now_v7()}), "stage_id"),
            (json!({"title": "X", "status": "maybe"}), "status"),
        ] {
            let (st, answer) = post(&s, "/api/v1/deals", &t, body.clone()).await;
            assert_eq!((st, first_field(&answer)), (422, field), "{}: {body} → {answer}", s.label);
        }

        assert_eq!(delete(&s, &path, &t).await.0, 204);
        let (st, body) = get(&s, &path, &t).await;
        assert_eq!((st, code(&body)), (404, "not_found"));
        assert_eq!(get(&s, &format!("{path}/timeline"), &t).await.0, 404);
    }
}

#[tokio::test]
async fn pipelines_holding_deals_cannot_go() {
    for s in spawn_all().await {
        let (owner, o) = s.user_with_token("owner@example.com").await;
        let (_, m) = join(&s, owner.org_id, &o, "m@example.com", "member").await;
        let (st, p, etag) = send(
            &s,
            Method::POST,
            "/api/v1/pipelines",
            &o,
            Some(json!({"name": "Partners", "stages": [{"name": "Intro"}, {"name": "Signed", "probability": 100}]})),
            None,
        )
        .await;
        assert_eq!((st, etag.as_str()), (201, "\"1\""), "{}: {p}", s.label);
        let path = format!("/api/v1/pipelines/{}", id(&p));
        let (intro, signed) = (p["stages"][0]["id"].clone(), p["stages"][1]["id"].clone());
        assert_eq!(p["stages"][1]["probability"], 100);

        let (st, body) = post(&s, "/api/v1/pipelines", &m, json!({"name": "Mine"})).await;
        assert_eq!((st, code(&body)), (403, "forbidden"), "{}: members do not shape pipelines", s.label);
        let (st, body) = post(&s, "/api/v1/pipelines", &o, json!({"name": "Empty", "stages": []})).await;
        assert_eq!((st, first_field(&body)), (422, "stages"));
        assert_eq!(get(&s, &path, &m).await.0, 200, "{}: everyone reads them", s.label);

        let deal = create(&s, "/api/v1/deals", &m, json!({"title": "Reseller", "pipeline_id": id(&p)})).await;
        assert_eq!(deal["stage_id"], intro);

        let (st, body) = delete(&s, &path, &o).await;
        assert_eq!((st, code(&body)), (409, "in_use"), "{}: {body}", s.label);
        // Removing the stage the deal is in is refused too; the pipeline is unchanged.
        let (st, body, _) = send(
            &s,
            Method::PATCH,
            &path,
            &o,
            Some(json!({"stages": [{"id": signed, "name": "Signed"}]})),
            Some("\"1\""),
        )
        .await;
        assert_eq!((st, code(&body)), (409, "in_use"), "{}: {body}", s.label);
        let (st, read, etag) = send(&s, Method::GET, &path, &o, None, None).await;
        assert_eq!((st, etag.as_str(), read["stages"].as_array().unwrap().len()), (200, "\"1\"", 2), "{}", s.label);

        // Renaming and adding a stage with the current ETag works; the old ETag is then stale.
        let (st, changed, etag) = send(
            &s,
            Method::PATCH,
            &path,
            &o,
            Some(json!({"name": "Resellers", "stages": [
                {"id": intro, "name": "Intro call"}, {"name": "Trial"}, {"id": signed, "name": "Signed"}
            ]})),
            Some("\"1\""),
        )
        .await;
        assert_eq!((st, etag.as_str()), (200, "\"2\""), "{}: {changed}", s.label);
        let names: Vec<&str> =
            changed["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Intro call", "Trial", "Signed"]);
        assert_eq!(changed["stages"][0]["id"], intro, "a kept stage keeps its id");
        let (st, body, _) = send(&s, Method::PATCH, &path, &o, Some(json!({"name": "X"})), Some("\"1\"")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"));

        // Once its deals are gone, the pipeline can go.
        assert_eq!(delete(&s, &format!("/api/v1/deals/{}", id(&deal)), &m).await.0, 204);
        assert_eq!(delete(&s, &path, &m).await.0, 403);
        assert_eq!(delete(&s, &path, &o).await.0, 204);
        assert_eq!(get(&s, &path, &o).await.0, 404);
        assert_eq!(delete(&s, &path, &o).await.0, 404);
    }
}

#[tokio::test]
async fn a_private_note_is_its_authors_alone() {
    for s in spawn_all().await {
        let (owner, o) = s.user_with_token("owner@example.com").await;
        let (_, a) = join(&s, owner.org_id, &o, "a@example.com", "member").await;
        let (_, b) = join(&s, owner.org_id, &o, "b@example.com", "member").await;
        let contact = create(&s, "/api/v1/contacts", &a, json!({"first_name": "Ada", "visibility": "everyone"})).await;
        let cid = id(&contact);
        let (st, private, etag) = send(
            &s,
            Method::POST,
            "/api/v1/notes",
            &a,
            Some(json!({"record_type": "contact", "record_id": cid, "body": "Pineapple strategy", "is_private": true})),
            None,
        )
        .await;
        assert_eq!((st, etag.as_str()), (201, "\"1\""), "{}: {private}", s.label);
        let shared = create(
            &s,
            "/api/v1/notes",
            &a,
            json!({"record_type": "contact", "record_id": cid, "body": "Quarterly review went well"}),
        )
        .await;
        let (private, shared) = (id(&private), id(&shared));
        let notes = format!("/api/v1/notes?record_type=contact&record_id={cid}");
        let timeline = format!("/api/v1/contacts/{cid}/timeline");
        let note_ids = |list: &Value| -> Vec<String> {
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|i| i["note"]["id"].as_str().map(str::to_string))
                .collect()
        };

        // The author sees both everywhere.
        let (st, list) = get(&s, &notes, &a).await;
        assert_eq!((st, ids(&list)), (200, vec![shared.clone(), private.clone()]), "{}: newest first", s.label);
        let (_, items) = get(&s, &timeline, &a).await;
        assert_eq!(note_ids(&items), vec![shared.clone(), private.clone()], "{}", s.label);
        let (_, hits) = get(&s, "/api/v1/search?q=pineapple", &a).await;
        assert_eq!(ids(&hits), vec![private.clone()], "{}: {hits}", s.label);
        assert_eq!(
            (hits["data"][0]["kind"].as_str(), hits["data"][0]["record_id"].as_str()),
            (Some("note"), Some(cid.as_str()))
        );

        // Another member, and the workspace's owner, do not see the private note at all.
        for (who, token) in [("member", &b), ("owner", &o)] {
            let (st, body) = get(&s, &format!("/api/v1/notes/{private}"), token).await;
            assert_eq!((st, code(&body)), (404, "not_found"), "{}: {who} read it", s.label);
            let (_, list) = get(&s, &notes, token).await;
            assert_eq!(ids(&list), vec![shared.clone()], "{}: {who} lists it", s.label);
            let (_, items) = get(&s, &timeline, token).await;
            assert_eq!(note_ids(&items), vec![shared.clone()], "{}: {who} sees it on the timeline", s.label);
            assert_eq!(items["data"].as_array().unwrap().len(), 1, "{}: no empty entry either", s.label);
            let (_, hits) = get(&s, "/api/v1/search?q=pineapple", token).await;
            assert_eq!(hits["data"], json!([]), "{}: {who} finds it", s.label);
            let (_, hits) = get(&s, "/api/v1/search?q=quarterly", token).await;
            assert_eq!(ids(&hits), vec![shared.clone()], "{}: {who} finds the shared one", s.label);
            assert_eq!(patch(&s, &format!("/api/v1/notes/{private}"), token, json!({"body": "x"})).await.0, 404);
            assert_eq!(delete(&s, &format!("/api/v1/notes/{private}"), token).await.0, 404);
        }
        // Only the author edits a note; stale ETags are refused.
        let path = format!("/api/v1/notes/{shared}");
        let (st, body) = patch(&s, &path, &b, json!({"body": "mine now"})).await;
        assert_eq!((st, code(&body)), (403, "forbidden"), "{}", s.label);
        let (st, changed, etag) =
            send(&s, Method::PATCH, &path, &a, Some(json!({"body": "Quarterly review went great"})), Some("\"1\""))
                .await;
        assert_eq!((st, etag.as_str(), changed["body"].as_str()), (200, "\"2\"", Some("Quarterly review went great")));
        let (st, body, _) = send(&s, Method::PATCH, &path, &a, Some(json!({"body": "x"})), Some("\"1\"")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"));
        // Making it private hides it from the others from then on.
        let (st, _) = patch(&s, &path, &a, json!({"is_private": true})).await;
        assert_eq!(st, 200);
        assert_eq!(get(&s, &path, &b).await.0, 404, "{}", s.label);
        let (_, hits) = get(&s, "/api/v1/search?q=quarterly", &b).await;
        assert_eq!(hits["data"], json!([]), "{}", s.label);

        // The list needs its record; bad input names the field.
        for (query, field) in [
            ("record_id=x", "record_type"),
            ("record_type=contact", "record_id"),
            ("record_type=person&record_id=x", "record_type"),
            ("record_type=contact&record_id=x", "record_id"),
            ("record_type=contact&record_id=x&limit=2", "limit"),
        ] {
            let (st, body) = get(&s, &format!("/api/v1/notes?{query}"), &a).await;
            assert_eq!((st, first_field(&body)), (422, field), "{}: {query} → {body}", s.label);
        }
        let (st, _) = get(&s, &format!("/api/v1/notes?record_type=contact&record_id={}", Uuid::now_v7()), &a).await;
        assert_eq!(st, 404);
        let (st, body) =
            post(&s, "/api/v1/notes", &a, json!({"record_type": "contact", "record_id": cid, "body": " "})).await;
        assert_eq!((st, first_field(&body)), (422, "body"));
        assert_eq!(delete(&s, &path, &a).await.0, 204);
        assert_eq!(get(&s, &path, &a).await.0, 404);
    }
}

#[tokio::test]
async fn task_views_and_activities_on_the_timeline() {
    for s in spawn_all().await {
        let (owner, o) = s.user_with_token("owner@example.com").await;
        let (m_id, m) = join(&s, owner.org_id, &o, "m@example.com", "member").await;
        let contact = create(&s, "/api/v1/contacts", &m, json!({"first_name": "Grace"})).await;
        let cid = id(&contact);
        let now = now_ms();
        let hour = 3_600_000;
        let mut made = std::collections::HashMap::new();
        for (name, body) in [
            ("late", json!({"title": "Late", "due_at_ms": now - 2 * hour})),
            ("soon", json!({"title": "Soon", "due_at_ms": now + hour, "record_type": "contact", "record_id": cid})),
            ("later", json!({"title": "Later", "due_at_ms": now + 48 * hour})),
            ("whenever", json!({"title": "Whenever"})),
            ("finished", json!({"title": "Finished", "due_at_ms": now - hour, "done": true})),
        ] {
            let task = create(&s, "/api/v1/tasks", &m, body).await;
            assert_eq!(task["assignee_id"].as_str(), Some(m_id.to_string().as_str()), "the creator by default");
            made.insert(name, id(&task));
        }
        let view = |names: &[&str]| -> Vec<String> { names.iter().map(|n| made[n].clone()).collect() };
        let day_end = now + 3 * hour;
        for (query, expect) in [
            (format!("view=overdue&day_end_ms={day_end}"), view(&["late"])),
            (format!("view=today&day_end_ms={day_end}"), view(&["soon"])),
            ("view=open".into(), view(&["late", "soon", "later", "whenever"])),
            ("".into(), view(&["late", "soon", "later", "whenever"])),
            ("view=done&assignee=me".into(), view(&["finished"])),
        ] {
            let (st, list) = get(&s, &format!("/api/v1/tasks?{query}"), &m).await;
            assert_eq!((st, ids(&list)), (200, expect), "{}: {query}", s.label);
        }
        // Keyset pages through the open view.
        let (_, first) = get(&s, "/api/v1/tasks?limit=3", &m).await;
        assert_eq!(ids(&first), view(&["late", "soon", "later"]));
        let cursor = first["next_cursor"].as_str().unwrap();
        let (_, rest) = get(&s, &format!("/api/v1/tasks?limit=3&cursor={cursor}"), &m).await;
        assert_eq!((ids(&rest), &rest["next_cursor"]), (view(&["whenever"]), &Value::Null), "{}", s.label);
        // Someone else's tasks: admins and owners only.
        let (_, list) = get(&s, &format!("/api/v1/tasks?assignee={m_id}"), &o).await;
        assert_eq!(ids(&list).len(), 4, "{}", s.label);
        let (st, _) = get(&s, &format!("/api/v1/tasks?assignee={}", owner.user_id), &m).await;
        assert_eq!(st, 403);
        for (query, field) in [
            ("view=someday", "view"),
            ("assignee=bob", "assignee"),
            ("day_end_ms=noon", "day_end_ms"),
            ("mine=1", "mine"),
        ] {
            let (st, body) = get(&s, &format!("/api/v1/tasks?{query}"), &m).await;
            assert_eq!((st, first_field(&body)), (422, field), "{}: {query} → {body}", s.label);
        }

        // Completing with the current ETag moves it to done; the old ETag is stale.
        let path = format!("/api/v1/tasks/{}", made["late"]);
        let (st, done, etag) = send(&s, Method::PATCH, &path, &m, Some(json!({"done": true})), Some("\"1\"")).await;
        assert_eq!((st, etag.as_str(), done["done"].as_bool()), (200, "\"2\"", Some(true)), "{}: {done}", s.label);
        let (st, body, _) = send(&s, Method::PATCH, &path, &m, Some(json!({"done": false})), Some("\"1\"")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"));
        let (_, list) = get(&s, "/api/v1/tasks?view=done", &m).await;
        assert_eq!(ids(&list).len(), 2);

        // An activity, and the task about the contact, are on its timeline.
        let (st, call, etag) = send(
            &s,
            Method::POST,
            "/api/v1/activities",
            &m,
            Some(json!({"kind": "call", "subject": "Intro call", "duration_s": 600, "record_type": "contact", "record_id": cid})),
            None,
        )
        .await;
        assert_eq!((st, etag.as_str()), (201, "\"1\""), "{}: {call}", s.label);
        let apath = format!("/api/v1/activities/{}", id(&call));
        let (st, read) = get(&s, &apath, &m).await;
        assert_eq!((st, read["subject"].as_str()), (200, Some("Intro call")));
        let (st, changed, _) =
            send(&s, Method::PATCH, &apath, &m, Some(json!({"subject": "Intro call (long)"})), Some("\"1\"")).await;
        assert_eq!((st, changed["version"].as_i64()), (200, Some(2)), "{}: {changed}", s.label);
        let (st, body, _) = send(&s, Method::PATCH, &apath, &m, Some(json!({"subject": "x"})), Some("\"1\"")).await;
        assert_eq!((st, code(&body)), (412, "stale_version"));
        let (st, body) =
            post(&s, "/api/v1/activities", &m, json!({"kind": "call", "record_type": "contact", "record_id": cid}))
                .await;
        assert_eq!((st, first_field(&body)), (422, "subject"));
        let (_, items) = get(&s, &format!("/api/v1/contacts/{cid}/timeline"), &m).await;
        let kinds: Vec<&str> = items["data"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["activity", "task"], "{}: {items}", s.label);
        assert_eq!(items["data"][0]["activity"]["subject"], "Intro call (long)");
        assert_eq!(items["data"][1]["task"]["id"].as_str(), Some(made["soon"].as_str()));
        assert_eq!(get(&s, "/api/v1/activities", &m).await.0, 405, "activities are listed on timelines");
        assert_eq!(delete(&s, &apath, &m).await.0, 204);
        assert_eq!(get(&s, &apath, &m).await.0, 404);
        assert_eq!(delete(&s, &path, &m).await.0, 204);
        assert_eq!(get(&s, &path, &m).await.0, 404);
    }
}

#[tokio::test]
async fn search_finds_phones_as_typed_and_exact_note_words() {
    for s in spawn_all().await {
        let (_, t) = s.user_with_token("owner@example.com").await;
        let grace = create(
            &s,
            "/api/v1/contacts",
            &t,
            json!({"first_name": "Grace", "last_name": "Hopper", "phones": [{"value": "+1 415 555 0100"}]}),
        )
        .await;
        create(&s, "/api/v1/contacts", &t, json!({"first_name": "Alan", "phones": [{"value": "+44 20 7946 0958"}]}))
            .await;
        let acme = create(&s, "/api/v1/companies", &t, json!({"name": "Zeppelin Works"})).await;
        let note = create(
            &s,
            "/api/v1/notes",
            &t,
            json!({"record_type": "contact", "record_id": id(&grace), "body": "Signed the zeppelin contract today."}),
        )
        .await;

        for typed in ["+1 (415) 555-0100", "(415) 555-0100", "415.555.0100"] {
            let (st, hits) = get(&s, &format!("/api/v1/search?q={}", urlencode(typed)), &t).await;
            assert_eq!(st, 200, "{}: {hits}", s.label);
            assert_eq!(ids(&hits), vec![id(&grace)], "{}: {typed} → {hits}", s.label);
            assert_eq!(hits["data"][0]["kind"], "contact");
        }
        let (_, hits) = get(&s, "/api/v1/search?q=hopp", &t).await;
        assert_eq!(ids(&hits), vec![id(&grace)], "{}: names by prefix", s.label);
        // Note text matches exact words only; the company matches by prefix.
        let (_, hits) = get(&s, "/api/v1/search?q=zeppelin", &t).await;
        let mut found = ids(&hits);
        found.sort();
        let mut expect = vec![id(&acme), id(&note)];
        expect.sort();
        assert_eq!(found, expect, "{}: {hits}", s.label);
        let hit = hits["data"].as_array().unwrap().iter().find(|h| h["kind"] == "note").unwrap();
        assert_eq!(
            (hit["record_type"].as_str(), hit["record_id"].as_str()),
            (Some("contact"), Some(id(&grace).as_str()))
        );
        assert_eq!(hit["title"], "Grace Hopper");
        let (_, hits) = get(&s, "/api/v1/search?q=contr", &t).await;
        assert_eq!(hits["data"], json!([]), "{}: no prefixes of sealed text", s.label);
        let (_, hits) = get(&s, "/api/v1/search?q=zeppelin&limit=1", &t).await;
        assert_eq!(hits["data"].as_array().unwrap().len(), 1);

        for q in ["", "%20%20%20"] {
            let (st, hits) = get(&s, &format!("/api/v1/search?q={q}"), &t).await;
            assert_eq!((st, &hits["data"]), (200, &json!([])), "{}: {q:?}", s.label);
        }
        let (st, hits) = get(&s, "/api/v1/search", &t).await;
        assert_eq!((st, &hits["data"]), (200, &json!([])));
        let long = "a".repeat(501);
        let (st, body) = get(&s, &format!("/api/v1/search?q={long}"), &t).await;
        assert_eq!((st, first_field(&body)), (422, "q"), "{}", s.label);
        assert_eq!(get(&s, &format!("/api/v1/search?q={}", "a".repeat(500)), &t).await.0, 200);
        for (query, field) in [("q=a&limit=0", "limit"), ("q=a&type=note", "type")] {
            let (st, body) = get(&s, &format!("/api/v1/search?{query}"), &t).await;
            assert_eq!((st, first_field(&body)), (422, field), "{}: {query}", s.label);
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const BOUNDARY: &str = "kith-test-boundary-7MA4YWxkTrZu0gW";

/// One field of a form: name, file name (for a file), content.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// A multipart/form-data body.
fn form(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(f) = file_name {
            body.extend_from_slice(format!("; filename=\"{f}\"\r\nContent-Type: text/csv").as_bytes());
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(s: &TestServer, token: &str, body: Vec<u8>) -> reqwest::Response {
    client()
        .post(s.url("/api/v1/imports"))
        .bearer_auth(token)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Run import jobs until this import has finished; its final state. (A
/// worker of the test server, if it runs one, may take the job instead.)
async fn finished(s: &TestServer, token: &str, import_id: &str) -> Value {
    let mut registry = kith_app::worker::Registry::default();
    kith_app::crm::imports::register(&mut registry);
    let worker = kith_app::worker::Worker::new(s.app.clone(), registry);
    for _ in 0..200 {
        while worker.run_once().await.unwrap() > 0 {}
        let (st, import) = get(s, &format!("/api/v1/imports/{import_id}"), token).await;
        assert_eq!(st, 200, "{}: {import}", s.label);
        if import["status"] == "done" || import["status"] == "failed" {
            return import;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{}: import {import_id} did not finish", s.label);
}

/// A HubSpot export with a UTF-8 BOM (on the first column, which must still
/// be read as "First Name") and one bad record (the 2nd: an e-mail that is not one).
const HUBSPOT: &str = "\u{feff}First Name,Last Name,Email,Phone Number,Company Name,Lifecycle Stage\r\n\
Ada,Lovelace,ada@engine.test,+44 20 7946 0958,Analytical Engines,lead\r\n\
Alan,Turing,not-an-address,,Bletchley,lead\r\n\
Katherine,Johnson,katherine@nasa.test,+1 757 555 0101,NASA,customer\r\n";

#[tokio::test]
async fn a_multipart_hubspot_import_runs_and_reports_its_bad_row() {
    for s in spawn_all().await {
        let (_, t) = s.user_with_token("owner@example.com").await;
        // Options may come before or after the file.
        let body = form(&[
            ("dedupe", None, b"update"),
            ("file", Some("hubspot.csv"), HUBSPOT.as_bytes()),
            ("preset", None, b"hubspot"),
        ]);
        let resp = upload(&s, &t, body).await;
        let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        let (st, queued) = json(resp).await;
        assert_eq!(st, 202, "{}: {queued}", s.label);
        let iid = id(&queued);
        assert_eq!(location.as_deref(), Some(format!("/api/v1/imports/{iid}").as_str()));
        assert_eq!(
            (queued["status"].as_str(), queued["preset"].as_str(), queued["format"].as_str()),
            (Some("queued"), Some("hubspot"), Some("csv")),
            "{}: {queued}",
            s.label
        );
        assert_eq!(
            (queued["file_name"].as_str(), queued["file_bytes"].as_i64()),
            (Some("hubspot.csv"), Some(HUBSPOT.len() as i64))
        );
        assert_eq!((queued["dedupe"].as_str(), queued["dry_run"].as_bool()), (Some("update"), Some(false)));

        let done = finished(&s, &t, &iid).await;
        assert_eq!(done["status"], "done", "{}: {done}", s.label);
        assert_eq!(
            (done["total"].as_i64(), done["created"].as_i64(), done["updated"].as_i64(), done["failed"].as_i64()),
            (Some(3), Some(2), Some(0), Some(1)),
            "{}: {done}",
            s.label
        );
        assert!(done["finished_at_ms"].is_i64());
        let (_, contacts) = get(&s, "/api/v1/contacts?sort=created_at", &t).await;
        let names: Vec<&str> =
            contacts["data"].as_array().unwrap().iter().map(|c| c["first_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ada", "Katherine"], "{}: the BOM is not part of the first column", s.label);
        assert_eq!(contacts["data"][0]["emails"][0]["value"], "ada@engine.test");

        let resp = client().get(s.url(&format!("/api/v1/imports/{iid}/report"))).bearer_auth(&t).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert!(header("content-type").starts_with("text/csv"), "{}", header("content-type"));
        assert_eq!(header("content-disposition"), format!("attachment; filename=\"import-{iid}-report.csv\""));
        assert_eq!(header("x-content-type-options"), "nosniff");
        let report = resp.text().await.unwrap();
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines[0], "row,severity,code,message", "{}: {report}", s.label);
        let errors: Vec<&&str> = lines.iter().filter(|l| l.contains(",error,")).collect();
        assert_eq!(errors.len(), 1, "{}: {report}", s.label);
        assert!(errors[0].starts_with("2,") && errors[0].contains("invalid_email"), "{}: record 2 → {report}", s.label);

        let (st, list) = get(&s, "/api/v1/imports", &t).await;
        assert_eq!((st, ids(&list)), (200, vec![iid.clone()]));
        let (_, page) = get(&s, "/api/v1/imports?limit=1", &t).await;
        assert_eq!(page["next_cursor"], Value::Null);

        // A second upload of the same file creates nothing new.
        let resp = upload(&s, &t, form(&[("file", Some("again.csv"), HUBSPOT.as_bytes())])).await;
        let (st, again) = json(resp).await;
        assert_eq!((st, again["preset"].as_str()), (202, Some("hubspot")), "{}: detected from the header", s.label);
        let again = finished(&s, &t, &id(&again)).await;
        assert_eq!((again["created"].as_i64(), again["updated"].as_i64()), (Some(0), Some(2)), "{}: {again}", s.label);
        let (_, list) = get(&s, "/api/v1/imports?limit=1", &t).await;
        assert!(list["next_cursor"].is_string());
    }
}

#[tokio::test]
async fn uploads_stream_past_the_json_limit_but_refuse_bad_forms() {
    for s in spawn_all().await {
        let (owner, t) = s.user_with_token("owner@example.com").await;

        // 2 MiB: over the 1 MiB JSON limit (and the 1 MiB storage chunks), fine for an upload.
        let mut big = String::from("First Name,Last Name,Email\r\n");
        let mut i = 0;
        while big.len() < 2 * 1024 * 1024 {
            big.push_str(&format!("Person{i},Number{i},person{i}@bulk.test\r\n"));
            i += 1;
        }
        // A refused upload leaves nothing stored, even when its chunks were already
        // written (the form field after the file is the mistake here).
        let parts = form(&[("file", Some("big.csv"), big.as_bytes()), ("owner", None, b"me")]);
        let (st, body) = json(upload(&s, &t, parts).await).await;
        assert_eq!((st, first_field(&body)), (422, "owner"), "{}: {body}", s.label);
        let mut stored = usize::MAX;
        for _ in 0..100 {
            // The abandoned chunks are deleted by a task of their own.
            stored =
                kith_testkit::raw_bytes(&s.raw_url, "SELECT data FROM file_chunks").await.iter().map(Vec::len).sum();
            if stored == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(stored, 0, "{}: the abandoned upload's chunks are gone", s.label);
        // A dry run: nothing would change if a worker ran it.
        let resp = upload(&s, &t, form(&[("file", Some("big.csv"), big.as_bytes()), ("dry_run", None, b"true")])).await;
        let (st, queued) = json(resp).await;
        assert_eq!(st, 202, "{}: {queued}", s.label);
        assert_eq!((queued["file_bytes"].as_i64(), queued["dry_run"].as_bool()), (Some(big.len() as i64), Some(true)));
        assert_eq!(queued["preset"], "generic");
        // JSON bodies keep their 1 MiB limit.
        let padding = "x".repeat(2 * 1024 * 1024);
        let (st, body) = post(&s, "/api/v1/contacts", &t, json!({"first_name": padding})).await;
        assert_eq!((st, code(&body)), (413, "payload_too_large"), "{}", s.label);

        let csv: &[u8] = b"First Name,Email\r\nAda,ada@example.com\r\n";
        let cases: Vec<(Vec<Part>, &str)> = vec![
            (vec![("preset", None, b"hubspot")], "file"),
            (vec![("file", Some("x.csv"), csv), ("preset", None, b"zoho")], "preset"),
            (vec![("preset", None, b"zoho"), ("file", Some("x.csv"), csv)], "preset"),
            (vec![("file", Some("x.csv"), csv), ("dedupe", None, b"merge")], "dedupe"),
            (vec![("file", Some("x.csv"), csv), ("dry_run", None, b"yes")], "dry_run"),
            (vec![("file", Some("x.csv"), csv), ("mapping", None, b"[1]")], "mapping"),
            (vec![("file", Some("x.csv"), csv), ("mapping", None, br#"{"columns": {"Fax": "phone"}}"#)], "mapping"),
            (vec![("file", Some("x.csv"), csv), ("owner", None, b"me")], "owner"),
            (vec![("file", Some("x.csv"), csv), ("file", Some("y.csv"), csv)], "file"),
            (vec![("preset", None, b"generic"), ("preset", None, b"hubspot"), ("file", Some("x.csv"), csv)], "preset"),
            (vec![("file", Some("empty.csv"), b"")], "file"),
        ];
        for (parts, field) in cases {
            let (st, body) = json(upload(&s, &t, form(&parts)).await).await;
            assert_eq!((st, first_field(&body)), (422, field), "{}: {body}", s.label);
        }
        // Not multipart: 415, whatever the body.
        let r =
            client().post(s.url("/api/v1/imports")).bearer_auth(&t).json(&json!({"file": "x"})).send().await.unwrap();
        let (st, body) = json(r).await;
        assert_eq!((st, code(&body)), (415, "unsupported_media_type"), "{}: {body}", s.label);
        let r = client().post(s.url("/api/v1/imports")).bearer_auth(&t).body(csv.to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 415);
        // An upload is streamed, so it cannot carry an Idempotency-Key.
        let r = client()
            .post(s.url("/api/v1/imports"))
            .bearer_auth(&t)
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("idempotency-key", "upload-1")
            .body(form(&[("file", Some("x.csv"), csv)]))
            .send()
            .await
            .unwrap();
        let (st, body) = json(r).await;
        assert_eq!((st, first_field(&body)), (422, "Idempotency-Key"), "{}: {body}", s.label);

        // None of that queued anything.
        let (_, list) = get(&s, "/api/v1/imports", &t).await;
        assert_eq!(ids(&list), vec![id(&queued)], "{}", s.label);

        // Viewers may not import.
        let (_, v) = join(&s, owner.org_id, &t, "viewer@example.com", "viewer").await;
        let (st, body) = json(upload(&s, &v, form(&[("file", Some("x.csv"), csv)])).await).await;
        assert_eq!((st, code(&body)), (403, "forbidden"), "{}: {body}", s.label);
    }
}

#[tokio::test]
async fn another_workspaces_deals_notes_and_imports_are_not_found() {
    for s in spawn_all().await {
        let (_, t1) = s.user_with_token("one@example.com").await;
        let (_, t2) = s.user_with_token("two@example.com").await;
        let contact = create(&s, "/api/v1/contacts", &t1, json!({"first_name": "Ada"})).await;
        let deal = create(&s, "/api/v1/deals", &t1, json!({"title": "Theirs", "contact_ids": [id(&contact)]})).await;
        let note =
            create(&s, "/api/v1/notes", &t1, json!({"record_type": "deal", "record_id": id(&deal), "body": "secret"}))
                .await;
        let task =
            create(&s, "/api/v1/tasks", &t1, json!({"title": "Call", "record_type": "deal", "record_id": id(&deal)}))
                .await;
        let activity = create(
            &s,
            "/api/v1/activities",
            &t1,
            json!({"kind": "email", "subject": "Hi", "record_type": "deal", "record_id": id(&deal)}),
        )
        .await;
        let resp = upload(&s, &t1, form(&[("file", Some("x.csv"), b"First Name\r\nAda\r\n")])).await;
        let (st, import) = json(resp).await;
        assert_eq!(st, 202);
        let pipeline = deal["pipeline_id"].as_str().unwrap().to_string();
        let (deal, note, task, activity, import) = (id(&deal), id(&note), id(&task), id(&activity), id(&import));

        let mut calls = Vec::new();
        for (kind, id, change) in [
            ("deals", &deal, json!({"title": "pwned"})),
            ("notes", &note, json!({"body": "pwned"})),
            ("tasks", &task, json!({"title": "pwned"})),
            ("activities", &activity, json!({"subject": "pwned"})),
            ("pipelines", &pipeline, json!({"name": "pwned"})),
        ] {
            calls.push((Method::GET, format!("/api/v1/{kind}/{id}"), None));
            calls.push((Method::PATCH, format!("/api/v1/{kind}/{id}"), Some(change)));
            calls.push((Method::DELETE, format!("/api/v1/{kind}/{id}"), None));
        }
        for path in [
            format!("/api/v1/deals/{deal}/timeline"),
            format!("/api/v1/contacts/{}/timeline", id(&contact)),
            format!("/api/v1/notes?record_type=deal&record_id={deal}"),
            format!("/api/v1/deals/board?pipeline={pipeline}"),
            format!("/api/v1/imports/{import}"),
            format!("/api/v1/imports/{import}/report"),
        ] {
            calls.push((Method::GET, path, None));
        }
        for (method, path, body) in calls {
            let (st, answer, _) = send(&s, method.clone(), &path, &t2, body, None).await;
            assert_eq!((st, code(&answer)), (404, "not_found"), "{}: {method} {path} → {answer}", s.label);
        }
        // Nor can workspace 2 attach things to workspace 1's records.
        let (st, body) =
            post(&s, "/api/v1/notes", &t2, json!({"record_type": "deal", "record_id": deal, "body": "x"})).await;
        assert_eq!((st, first_field(&body)), (422, "record_id"), "{}", s.label);
        let (st, body) = post(&s, "/api/v1/deals", &t2, json!({"title": "x", "pipeline_id": pipeline})).await;
        assert_eq!((st, first_field(&body)), (422, "pipeline_id"), "{}", s.label);
        for path in
            ["/api/v1/deals", "/api/v1/imports", "/api/v1/tasks", "/api/v1/pipelines", "/api/v1/search?q=secret"]
        {
            let (st, list) = get(&s, path, &t2).await;
            assert_eq!((st, &list["data"]), (200, &json!([])), "{}: {path}", s.label);
        }
        let (_, hits) = get(&s, "/api/v1/search?q=ada", &t2).await;
        assert_eq!(hits["data"], json!([]));
        // Everything of workspace 1 is intact.
        let (st, read) = get(&s, &format!("/api/v1/deals/{deal}"), &t1).await;
        assert_eq!((st, read["title"].as_str()), (200, Some("Theirs")));
        let (st, read) = get(&s, &format!("/api/v1/notes/{note}"), &t1).await;
        assert_eq!((st, read["body"].as_str()), (200, Some("secret")));
        assert_eq!(get(&s, &format!("/api/v1/imports/{import}"), &t1).await.0, 200);
    }
}

#[tokio::test]
async fn openapi_document_lists_the_rest_of_the_crm() {
    let s = spawn_app().await;
    let (st, doc) = json(client().get(s.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!(st, 200);
    for (path, methods) in [
        ("/api/v1/deals", &["get", "post"][..]),
        ("/api/v1/deals/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/deals/board", &["get"][..]),
        ("/api/v1/pipelines", &["get", "post"][..]),
        ("/api/v1/pipelines/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/notes", &["get", "post"][..]),
        ("/api/v1/notes/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/activities", &["post"][..]),
        ("/api/v1/activities/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/tasks", &["get", "post"][..]),
        ("/api/v1/tasks/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/contacts/{id}/timeline", &["get"][..]),
        ("/api/v1/companies/{id}/timeline", &["get"][..]),
        ("/api/v1/deals/{id}/timeline", &["get"][..]),
        ("/api/v1/search", &["get"][..]),
        ("/api/v1/imports", &["get", "post"][..]),
        ("/api/v1/imports/{id}", &["get"][..]),
        ("/api/v1/imports/{id}/report", &["get"][..]),
    ] {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} missing from the OpenAPI document");
        }
    }
    let params = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let deal_params = params("/api/v1/deals");
    for p in ["limit", "cursor", "sort", "tag", "owner", "updated_since", "pipeline", "stage", "status"] {
        assert!(deal_params.iter().any(|x| x == p), "deals list lacks {p}: {deal_params:?}");
    }
    let task_params = params("/api/v1/tasks");
    for p in ["view", "assignee", "day_end_ms", "limit", "cursor"] {
        assert!(task_params.iter().any(|x| x == p), "tasks list lacks {p}: {task_params:?}");
    }
    let upload = &doc["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"]["multipart/form-data"];
    assert!(upload.is_object(), "the upload is documented as multipart: {upload}");
    assert!(doc["paths"]["/api/v1/imports/{id}/report"]["get"]["responses"]["200"]["content"]["text/csv"].is_object());
    for schema in [
        "Deal",
        "DealInput",
        "Board",
        "Pipeline",
        "PipelineInput",
        "Note",
        "NoteInput",
        "Task",
        "TaskInput",
        "Activity",
        "ActivityInput",
        "TimelineItem",
        "SearchHit",
        "Import",
        "ImportForm",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
}
