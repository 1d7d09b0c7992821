//! The record lists as a browser without JavaScript uses them: saved views
//! (save with the chosen columns, apply, rename, share, delete), sorting by
//! two keys from the headings and the sort form, the bulk bar (tag with a
//! progress page to "Done", delete after a page naming the count, export of
//! the ticked rows), and the people of a deal. Every test runs on each backend.

use crate::helpers::{browser, form_value};
use kith_testkit::{spawn_all, TestServer};
use reqwest::Client;
use serde_json::{json, Value};

async fn page(c: &Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(c: &Client, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    c.post(url).form(form).send().await.unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// A page is strict-CSP clean: no inline script or style.
async fn strict_page(c: &Client, url: &str) -> String {
    let (st, html) = page(c, url).await;
    assert_eq!(st, 200, "{url}: {html:.300}");
    assert!(!html.contains(" style="), "{url}: inline style");
    for tag in html.split("<script").skip(1) {
        assert!(tag.trim_start().starts_with("type=\"module\" src="), "{url}: inline script {tag:.80}");
    }
    html
}

/// A browser signed in as `email`.
async fn signin(s: &TestServer, email: &str) -> Client {
    let c = browser();
    let (_, html) = page(&c, &s.url("/signin")).await;
    let csrf = form_value(&html, "_csrf");
    let r =
        post(&c, &s.url("/signin"), &[("_csrf", &csrf), ("email", email), ("password", kith_testkit::app::PASSWORD)])
            .await;
    assert_eq!(r.status(), 303, "{}: sign-in of {email}", s.label);
    c
}

/// A user with an API token (for setting things up) and a browser signed in as them.
async fn user(s: &TestServer, email: &str) -> (String, Client) {
    let (_, token) = s.user_with_token(email).await;
    (token, signin(s, email).await)
}

/// Invite `email` into the owner's workspace as `role`; their token and browser.
async fn join(s: &TestServer, owner_token: &str, email: &str, role: &str) -> (String, Client) {
    let inv = api(s, owner_token, "/api/v1/invitations", json!({"email": email, "role": role})).await;
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
    let (_, token) = kith_app::tokens::create_for_member(&s.app, joined.org_id, email, "t").await.unwrap();
    (token, signin(s, email).await)
}

async fn api(s: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new().post(s.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}: {path} → {}", s.label, r.status());
    r.json().await.unwrap()
}

async fn csrf_of(s: &TestServer, c: &Client) -> String {
    form_value(&page(c, &s.url("/contacts")).await.1, "_csrf")
}

/// The names in the list's name column, top to bottom.
fn names(html: &str) -> Vec<String> {
    html.split("<td class=\"col-name\"><a href=\"")
        .skip(1)
        .map(|part| part.split_once("\">").unwrap().1.split('<').next().unwrap().to_string())
        .collect()
}

/// The column headings of the list's table.
fn headings(html: &str) -> Vec<String> {
    let head = html.split("<thead>").nth(1).unwrap().split("</thead>").next().unwrap();
    head.split("<th ")
        .skip(1)
        .map(|th| {
            let inner = th.split_once('>').unwrap().1.split("</th>").next().unwrap();
            // The text before any tag inside (a sort link holds it).
            let text = inner.trim_start_matches(|c| c != '>' && inner.starts_with('<'));
            let text = if inner.starts_with('<') { text.trim_start_matches('>') } else { inner };
            text.split('<').next().unwrap().to_string()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// Run the background jobs until none is due.
async fn drain(s: &TestServer) {
    let worker = kith_app::worker::Worker::new(s.app.clone(), kith_app::worker::Registry::standard());
    while worker.run_once().await.unwrap() > 0 {}
}

#[tokio::test]
async fn saved_views_keep_filters_sort_and_columns() {
    for s in spawn_all().await {
        let l = s.label;
        let (token, ada) = user(&s, "ada@views.test").await;
        api(
            &s,
            &token,
            "/api/v1/custom-fields",
            json!({"record_type": "contact", "key": "tier", "label": "Tier", "kind": "text"}),
        )
        .await;
        for (first, last, tier, tags) in [
            ("Grace", "Hopper", "Gold", vec!["vip"]),
            ("Alan", "Turing", "Silver", vec!["vip"]),
            ("Kay", "Moon", "", vec![]),
        ] {
            let mut body =
                json!({"first_name": first, "last_name": last, "tags": tags, "phones": [{"value": "+14155550100"}]});
            if !tier.is_empty() {
                body["custom"] = json!({"tier": tier});
            }
            api(&s, &token, "/api/v1/contacts", body).await;
        }

        // The default list: the standard columns, no custom field.
        let html = strict_page(&ada, &s.url("/contacts")).await;
        assert_eq!(headings(&html), ["Name", "E-mail", "Phone", "Company", "Owner", "Tags", "Updated"], "{l}");
        assert!(html.contains("View:</span> <span class=\"view-name\">All contacts</span>"), "{l}");
        assert!(html.contains("No saved views yet"), "{l}");

        // Columns chosen in the column form, filtered by tag, sorted by last name.
        let url = "/contacts?tag=vip&sort=last_name&col=name&col=cf.tier&col=phone";
        let html = strict_page(&ada, &s.url(url)).await;
        assert_eq!(headings(&html), ["Name", "Phone", "Tier"], "{l}");
        assert_eq!(names(&html), ["Grace Hopper", "Alan Turing"], "{l}");
        assert!(html.contains("<td class=\"clip\" data-label=\"Tier\">Gold</td>"), "{l}: the custom value");
        let query = form_value(&html, "query");
        assert_eq!(query, "tag=vip&amp;sort=last_name", "{l}: what the save form keeps");
        assert_eq!(form_value(&html, "cols"), "name,phone,cf.tier", "{l}");

        // Save it as a private view: back on the view's own address.
        let csrf = csrf_of(&s, &ada).await;
        let r = post(
            &ada,
            &s.url("/views"),
            &[
                ("_csrf", &csrf),
                ("record_type", "contact"),
                ("name", "VIP tiers"),
                ("query", "tag=vip&sort=last_name"),
                ("cols", "name,phone,cf.tier"),
                ("back", url),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        let view_url = location(&r);
        assert!(
            view_url.starts_with("/contacts?tag=vip&sort=last_name&cols=name%2Cphone%2Ccf.tier&view="),
            "{view_url}"
        );
        let view_id = view_url.rsplit("view=").next().unwrap().to_string();
        let html = strict_page(&ada, &s.url(&view_url)).await;
        assert!(html.contains("View VIP tiers saved; only you see it."), "{l}");
        assert!(html.contains("<span class=\"view-name\">VIP tiers</span>"), "{l}: the picker names it");
        assert_eq!(headings(&html), ["Name", "Phone", "Tier"], "{l}");
        assert!(!html.contains(">Update view</button>"), "{l}: nothing changed yet");

        // The picker's link applies it (a redirect to the full address).
        let r = ada.get(s.url(&format!("/contacts?view={view_id}"))).send().await.unwrap();
        assert_eq!((r.status().as_u16(), location(&r)), (303, view_url.clone()), "{l}");
        let html = strict_page(&ada, &s.url("/contacts")).await;
        assert!(html.contains(&format!("href=\"/contacts?view={view_id}\">VIP tiers</a>")), "{l}: listed");

        // Changed sort: "Update view" keeps it.
        let changed = format!("/contacts?tag=vip&sort=-last_name&cols=name%2Cphone%2Ccf.tier&view={view_id}");
        let html = strict_page(&ada, &s.url(&changed)).await;
        assert_eq!(names(&html), ["Alan Turing", "Grace Hopper"], "{l}");
        assert!(html.contains(">Update view</button>"), "{l}");
        let r = post(
            &ada,
            &s.url(&format!("/views/{view_id}")),
            &[("_csrf", &csrf), ("query", "tag=vip&sort=-last_name"), ("cols", "name,cf.tier"), ("back", &changed)],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        let html = strict_page(&ada, &s.url(&location(&r))).await;
        assert_eq!(headings(&html), ["Name", "Tier"], "{l}");
        assert_eq!(names(&html), ["Alan Turing", "Grace Hopper"], "{l}");

        // Rename and share it; a member sees it, may not change it.
        let r = post(
            &ada,
            &s.url(&format!("/views/{view_id}")),
            &[("_csrf", &csrf), ("name", "Top tiers"), ("sharing", "1"), ("shared", "1")],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        assert!(strict_page(&ada, &s.url(&location(&r))).await.contains("<span class=\"view-name\">Top tiers</span>"));
        let (_, bob) = join(&s, &token, "bob@views.test", "member").await;
        let html = strict_page(&bob, &s.url("/contacts")).await;
        assert!(html.contains("Shared with the workspace") && html.contains(">Top tiers</a>"), "{l}: bob sees it");
        let bob_csrf = csrf_of(&s, &bob).await;
        let r = post(&bob, &s.url(&format!("/views/{view_id}")), &[("_csrf", &bob_csrf), ("name", "Mine now")]).await;
        let html = strict_page(&bob, &s.url(&location(&r))).await;
        assert!(html.contains("flash-error"), "{l}: bob may not rename it");
        assert!(!html.contains("Rename “Top tiers”"), "{l}: nor is he offered to");
        // A private view of Bob's is his alone.
        let r = post(
            &bob,
            &s.url("/views"),
            &[("_csrf", &bob_csrf), ("record_type", "contact"), ("name", "Bob's list"), ("query", ""), ("cols", "")],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        assert!(!strict_page(&ada, &s.url("/contacts")).await.contains("Bob&#x27;s list"), "{l}");

        // Delete: a page asks first (without the script's dialog), then it is gone.
        let html = strict_page(&ada, &s.url(&format!("/views/{view_id}/delete"))).await;
        assert!(html.contains("Delete the view Top tiers?"), "{l}");
        let r = post(&ada, &s.url(&format!("/views/{view_id}/delete")), &[("_csrf", &csrf)]).await;
        assert_eq!(location(&r), "/contacts", "{l}");
        let html = strict_page(&ada, &s.url("/contacts")).await;
        assert!(html.contains("View Top tiers deleted.") && html.contains("No saved views yet"), "{l}");
        let r = ada.get(s.url(&format!("/contacts?view={view_id}"))).send().await.unwrap();
        assert_eq!(location(&r), "/contacts", "{l}: a gone view says so");
    }
}

#[tokio::test]
async fn lists_sort_by_two_keys_from_headings_and_the_sort_form() {
    for s in spawn_all().await {
        let l = s.label;
        let (token, ada) = user(&s, "ada@sort.test").await;
        for (first, last) in [("Zoe", "Adams"), ("Amy", "Baker"), ("Bea", "adams"), ("Cal", "Baker"), ("Dan", "Clark")]
        {
            api(&s, &token, "/api/v1/contacts", json!({"first_name": first, "last_name": last})).await;
        }
        // Default: most recently changed first.
        let html = strict_page(&ada, &s.url("/contacts")).await;
        assert_eq!(names(&html), ["Dan Clark", "Cal Baker", "Bea adams", "Amy Baker", "Zoe Adams"], "{l}");
        // The Name heading sorts by name; again, the other way round.
        let link = html.split("<a class=\"sort-link\" href=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(link, "/contacts?sort=name", "{l}");
        let html = strict_page(&ada, &s.url(link)).await;
        assert_eq!(names(&html), ["Amy Baker", "Bea adams", "Cal Baker", "Dan Clark", "Zoe Adams"], "{l}");
        assert!(html.contains(
            "<th scope=\"col\" aria-sort=\"ascending\"><a class=\"sort-link\" href=\"/contacts?sort=-name\""
        ));

        // Two keys: last name A→Z (any case), then first name Z→A.
        let html = strict_page(&ada, &s.url("/contacts?sort=last_name,-first_name")).await;
        assert_eq!(names(&html), ["Zoe Adams", "Bea adams", "Cal Baker", "Amy Baker", "Dan Clark"], "{l}");
        assert!(html.contains("data-sort=\"last_name,-first_name\""), "{l}: for shift-click");
        assert!(html.contains("sorted by Last name A→Z, then First name Z→A"), "{l}");
        // The same from the sort form's "then by" selects.
        let html2 = strict_page(&ada, &s.url("/contacts?sort1=last_name&sort2=-first_name&sort3=")).await;
        assert_eq!(names(&html2), names(&html), "{l}");
        assert!(html2.contains("<option value=\"-first_name\" selected>First name Z→A</option>"), "{l}");

        // Pages of two keep the order, with the filters and sort in the next link.
        let mut seen = Vec::new();
        let mut url = "/contacts?sort=last_name,-first_name".to_string();
        for _ in 0..3 {
            let html = strict_page(&ada, &s.url(&url)).await;
            seen.extend(names(&html));
            match html.split("<a class=\"btn btn-secondary btn-sm\" href=\"").nth(1) {
                Some(rest) if rest.contains(">Next page</a>") => {
                    url = rest.split('"').next().unwrap().replace("&amp;", "&");
                }
                _ => break,
            }
        }
        assert_eq!(seen.len(), 5, "{l}");
        // A bad sort says so and falls back to the default order.
        let html = strict_page(&ada, &s.url("/contacts?sort=shoe_size")).await;
        assert!(html.contains("This list cannot be sorted that way (&quot;shoe_size&quot; is not a sort field"), "{l}");
        assert_eq!(names(&html).len(), 5, "{l}");
    }
}

#[tokio::test]
async fn bulk_tag_with_progress_delete_with_its_count_and_export() {
    for s in spawn_all().await {
        let l = s.label;
        let (token, ada) = user(&s, "ada@bulk.test").await;
        let mut ids = Vec::new();
        for (first, last) in [("Grace", "Hopper"), ("Alan", "Turing"), ("Kay", "Moon"), ("Lin", "Shaw")] {
            let c = api(&s, &token, "/api/v1/contacts", json!({"first_name": first, "last_name": last})).await;
            ids.push(c["id"].as_str().unwrap().to_string());
        }
        let html = strict_page(&ada, &s.url("/contacts")).await;
        assert!(html.contains("form=\"bulk\" aria-label=\"Select Grace Hopper\""), "{l}: a box per row");
        let csrf = form_value(&html, "_csrf");

        // Nothing ticked: told so, nothing happens.
        let r = post(
            &ada,
            &s.url("/bulk"),
            &[("_csrf", &csrf), ("record_type", "contact"), ("action", "tag"), ("tag", "x"), ("back", "/contacts")],
        )
        .await;
        assert_eq!(location(&r), "/contacts", "{l}");
        assert!(strict_page(&ada, &s.url("/contacts")).await.contains("Tick the contacts to act on first"), "{l}");

        // Tag two: the job's page, waiting, then done.
        let r = post(
            &ada,
            &s.url("/bulk"),
            &[
                ("_csrf", &csrf),
                ("record_type", "contact"),
                ("action", "tag"),
                ("tag", "Hot"),
                ("id", &ids[0]),
                ("id", &ids[1]),
                ("back", "/contacts?sort=name"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{l}");
        let progress = location(&r);
        assert!(progress.starts_with("/bulk/") && progress.ends_with("?back=%2Fcontacts%3Fsort%3Dname"), "{progress}");
        let html = strict_page(&ada, &s.url(&progress)).await;
        assert!(html.contains("<h1>Tag 2 contacts</h1>") && html.contains("Waiting to start"), "{l}");
        assert!(html.contains("data-poll=\"/bulk/") && html.contains("href=\"/contacts?sort=name\""), "{l}");
        let json_url = format!("{}.json", progress.split('?').next().unwrap());
        let status: Value = ada.get(s.url(&json_url)).send().await.unwrap().json().await.unwrap();
        assert_eq!((status["finished"].as_bool(), status["total"].as_i64()), (Some(false), Some(2)), "{l}");
        drain(&s).await;
        let status: Value = ada.get(s.url(&json_url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(status["status_label"], "Done", "{l}");
        assert_eq!(
            (status["done"].as_i64(), status["failed"].as_i64(), status["finished"].as_bool()),
            (Some(2), Some(0), Some(true))
        );
        let html = strict_page(&ada, &s.url(&progress)).await;
        assert!(!html.contains("data-poll=") && html.contains("value=\"2\""), "{l}: finished, full bar");
        let tagged = strict_page(&ada, &s.url("/contacts?tag=hot")).await;
        assert_eq!(names(&tagged).len(), 2, "{l}");

        // Export the ticked rows: a CSV of those two only.
        let r = post(
            &ada,
            &s.url("/bulk"),
            &[("_csrf", &csrf), ("record_type", "contact"), ("action", "export"), ("id", &ids[2]), ("id", &ids[3])],
        )
        .await;
        let export = location(&r);
        assert!(export.starts_with("/contacts/export.csv?ids="), "{export}");
        let csv = ada.get(s.url(&export)).send().await.unwrap().text().await.unwrap();
        assert!(csv.contains("Kay") && csv.contains("Lin") && !csv.contains("Grace"), "{l}: {csv}");

        // Delete every contact matching a filter: a page names the count first.
        let r = post(
            &ada,
            &s.url("/bulk"),
            &[
                ("_csrf", &csrf),
                ("record_type", "contact"),
                ("action", "delete"),
                ("all", "1"),
                ("q", "tag=hot"),
                ("back", "/contacts?tag=hot"),
            ],
        )
        .await;
        assert_eq!(r.status(), 200, "{l}");
        let html = r.text().await.unwrap();
        assert!(html.contains("<h1>Delete 2 contacts?</h1>") && html.contains(">Delete 2 contacts</button>"), "{l}");
        assert_eq!(names(&strict_page(&ada, &s.url("/contacts")).await).len(), 4, "{l}: nothing deleted yet");
        let r = post(
            &ada,
            &s.url("/bulk"),
            &[
                ("_csrf", &csrf),
                ("record_type", "contact"),
                ("action", "delete"),
                ("confirmed", "1"),
                ("all", "1"),
                ("q", "tag=hot"),
                ("back", "/contacts"),
            ],
        )
        .await;
        assert!(location(&r).starts_with("/bulk/"), "{l}");
        drain(&s).await;
        let html = strict_page(&ada, &s.url("/contacts")).await;
        assert_eq!(names(&html), ["Lin Shaw", "Kay Moon"], "{l}");

        // A viewer gets no boxes and no bar.
        let (_, vic) = join(&s, &token, "vic@bulk.test", "viewer").await;
        let html = strict_page(&vic, &s.url("/contacts")).await;
        assert!(!html.contains("id=\"bulk\"") && !html.contains("name=\"id\""), "{l}");
        // Who can see a contact: the viewer reads it, a writer has it in the form (once).
        let pia = api(&s, &token, "/api/v1/contacts", json!({"first_name": "Pia"})).await;
        let pia = format!("/contacts/{}", pia["id"].as_str().unwrap());
        let html = strict_page(&vic, &s.url(&pia)).await;
        assert!(html.contains("<dt>Visible to</dt>") && !html.contains("Who can see it"), "{l}");
        let html = strict_page(&ada, &s.url(&pia)).await;
        assert!(!html.contains("<dt>Visible to</dt>") && html.contains("Who can see it"), "{l}");
    }
}

#[tokio::test]
async fn a_deals_people_are_linked_and_unlinked_on_its_page() {
    for s in spawn_all().await {
        let l = s.label;
        let (token, ada) = user(&s, "ada@deal.test").await;
        let grace = api(&s, &token, "/api/v1/contacts", json!({"first_name": "Grace", "last_name": "Hopper"})).await;
        let alan = api(&s, &token, "/api/v1/contacts", json!({"first_name": "Alan", "last_name": "Turing"})).await;
        let (grace, alan) = (grace["id"].as_str().unwrap().to_string(), alan["id"].as_str().unwrap().to_string());
        let deal = api(&s, &token, "/api/v1/deals", json!({"title": "Compiler", "contact_ids": [grace]})).await;
        let deal = deal["id"].as_str().unwrap().to_string();
        let url = format!("/deals/{deal}");
        let html = strict_page(&ada, &s.url(&url)).await;
        assert!(
            html.contains(&format!("action=\"/deals/{deal}/contacts/{grace}/remove\"")),
            "{l}: Grace can be unlinked"
        );
        assert!(html.contains(&format!("<option value=\"{alan}\">Alan Turing</option>")), "{l}: Alan can be linked");
        assert!(!html.contains(&format!("<option value=\"{grace}\">")), "{l}: Grace is linked already");
        let csrf = form_value(&html, "_csrf");

        let r = post(&ada, &s.url(&format!("{url}/contacts")), &[("_csrf", &csrf), ("contact_id", &alan)]).await;
        assert_eq!(location(&r), format!("{url}#people"), "{l}");
        let html = strict_page(&ada, &s.url(&url)).await;
        assert!(html.contains("Alan Turing is linked to this deal."), "{l}");
        assert!(html.contains(&format!("href=\"/contacts/{alan}\">Alan Turing</a>")), "{l}");
        let r = post(&ada, &s.url(&format!("{url}/contacts/{grace}/remove")), &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 303, "{l}");
        let html = strict_page(&ada, &s.url(&url)).await;
        assert!(html.contains("Grace Hopper is no longer linked to this deal."), "{l}");
        assert!(!html.contains(&format!("href=\"/contacts/{grace}\"")), "{l}");
        let (_, d) = {
            let r = reqwest::Client::new()
                .get(s.url(&format!("/api/v1/deals/{deal}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        };
        assert_eq!(d["contact_ids"], json!([alan]), "{l}");

        // Bob's personal contact cannot be linked by Ada; his own link to it stays when she edits.
        let (bob_token, bob) = join(&s, &token, "bob@deal.test", "member").await;
        let secret =
            api(&s, &bob_token, "/api/v1/contacts", json!({"first_name": "Secret", "visibility": "personal"})).await;
        let secret = secret["id"].as_str().unwrap().to_string();
        let r = post(&ada, &s.url(&format!("{url}/contacts")), &[("_csrf", &csrf), ("contact_id", &secret)]).await;
        assert_eq!(r.status(), 303, "{l}");
        assert!(strict_page(&ada, &s.url(&url)).await.contains("Contact id is not a contact you can see."), "{l}");
        let bob_csrf = csrf_of(&s, &bob).await;
        let r = post(&bob, &s.url(&format!("{url}/contacts")), &[("_csrf", &bob_csrf), ("contact_id", &secret)]).await;
        assert_eq!(r.status(), 303, "{l}");
        let r = post(&ada, &s.url(&format!("{url}/contacts/{alan}/remove")), &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 303, "{l}");
        let d: Value = reqwest::Client::new()
            .get(s.url(&format!("/api/v1/deals/{deal}")))
            .bearer_auth(&bob_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["contact_ids"], json!([secret]), "{l}: Ada's unlink left Bob's link alone");
    }
}

const BOUNDARY: &str = "kith-ui3-boundary-Qx81";

#[tokio::test]
async fn a_dry_run_is_run_for_real_from_its_report() {
    for s in spawn_all().await {
        let l = s.label;
        let (_, ada) = user(&s, "ada@dry.test").await;
        let csrf = csrf_of(&s, &ada).await;
        let csv = "First Name,Last Name,Email\nGrace,Hopper,grace@navy.example\nAlan,Turing,not-an-email\n";
        let mut body = Vec::new();
        for (name, file, value) in
            [("_csrf", None, csrf.as_str()), ("dedupe", None, "update"), ("file", Some("people.csv"), csv)]
        {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
            );
            if let Some(f) = file {
                body.extend_from_slice(format!("; filename=\"{f}\"\r\nContent-Type: text/csv").as_bytes());
            }
            body.extend_from_slice(format!("\r\n\r\n{value}\r\n").as_bytes());
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let r = ada
            .post(s.url("/contacts/import"))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{l}");
        let map = location(&r);
        let r = post(&ada, &s.url(&map), &[("_csrf", &csrf), ("dedupe", "update"), ("dry_run", "1")]).await;
        assert_eq!(r.status(), 303, "{l}");
        let dry = location(&r);
        drain(&s).await;
        let html = strict_page(&ada, &s.url(&dry)).await;
        assert!(html.contains("Dry run: nothing was saved.") && html.contains(">Run this import for real</button>"));
        assert!(names(&strict_page(&ada, &s.url("/contacts")).await).is_empty(), "{l}: nothing imported yet");

        let r = post(&ada, &s.url(&format!("{dry}/run")), &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 303, "{l}");
        let real = location(&r);
        assert!(real.starts_with("/contacts/import/") && real != dry, "{real}");
        drain(&s).await;
        let html = strict_page(&ada, &s.url(&real)).await;
        assert!(html.contains("Importing for real now") && !html.contains("Dry run of"), "{l}");
        assert!(
            html.contains("<dd data-field=\"created\">1</dd>") && html.contains("<dd data-field=\"failed\">1</dd>")
        );
        assert_eq!(names(&strict_page(&ada, &s.url("/contacts")).await), ["Grace Hopper"], "{l}");

        // Once only: the dry run's file went with it.
        let html = strict_page(&ada, &s.url(&dry)).await;
        assert!(!html.contains(">Run this import for real</button>") && html.contains("upload the file again"), "{l}");
        let r = post(&ada, &s.url(&format!("{dry}/run")), &[("_csrf", &csrf)]).await;
        assert_eq!(location(&r), dry, "{l}");
        assert!(strict_page(&ada, &s.url(&dry)).await.contains("no longer kept"), "{l}");
        assert_eq!(names(&strict_page(&ada, &s.url("/contacts")).await).len(), 1, "{l}");
    }
}
