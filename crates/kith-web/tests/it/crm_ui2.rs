//! The data pages over plain HTTP, as a browser without JavaScript uses them:
//! the contact import wizard (multipart upload → columns and preview →
//! confirm → progress → report), the lists' export links, Settings → Data
//! export, Settings → Webhooks (the secret shown once), the workspace's
//! phone country code and the "own records only" member limit. Who may do
//! what: a member is refused the admin pages. Every test runs on each backend.

use crate::helpers::{browser, form_value, text_of};
use kith_testkit::{spawn_all, TestServer};
use reqwest::Client;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

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

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// A page is strict-CSP clean: no inline script or style.
async fn strict_page(c: &Client, url: &str) -> String {
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    assert!(header(&r, "content-security-policy").contains("script-src 'self'"), "{url}");
    let html = r.text().await.unwrap();
    assert!(!html.contains(" style="), "{url}: inline style");
    for tag in html.split("<script").skip(1) {
        assert!(tag.trim_start().starts_with("type=\"module\" src="), "{url}: inline script {tag:.80}");
    }
    assert!(!html.contains(" onclick=") && !html.contains(" onload="), "{url}: inline handler");
    html
}

async fn sign_up(s: &TestServer, name: &str, email: &str, workspace: &str) -> Client {
    let c = browser();
    let (_, html) = page(&c, &s.url("/signup")).await;
    let csrf = form_value(&html, "_csrf");
    let r = post(
        &c,
        &s.url("/signup"),
        &[("_csrf", &csrf), ("name", name), ("email", email), ("password", PASSWORD), ("workspace_name", workspace)],
    )
    .await;
    assert_eq!(r.status(), 303, "{}: sign-up of {email}", s.label);
    c
}

async fn invite(s: &TestServer, owner: &Client, name: &str, email: &str, role: &str) -> Client {
    let csrf = csrf_of(s, owner).await;
    let r =
        post(owner, &s.url("/settings/members/invite"), &[("_csrf", &csrf), ("email", email), ("role", role)]).await;
    let link = text_of(&r.text().await.unwrap(), "invite-link");
    let c = browser();
    let (_, html) = page(&c, &link).await;
    let csrf = form_value(&html, "_csrf");
    let path = link.trim_start_matches(&s.base).to_string();
    let r = post(&c, &s.url(&path), &[("_csrf", &csrf), ("name", name), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), 303, "{}: {email} joins", s.label);
    c
}

async fn csrf_of(s: &TestServer, c: &Client) -> String {
    let (_, html) = page(c, &s.url("/contacts")).await;
    form_value(&html, "_csrf")
}

async fn create_contact(s: &TestServer, c: &Client, fields: &[(&str, &str)]) -> String {
    let csrf = csrf_of(s, c).await;
    let mut form = vec![("_csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let r = post(c, &s.url("/contacts/new"), &form).await;
    assert_eq!(r.status(), 303, "{}: {:?}", s.label, r.text().await.unwrap());
    location(&r).trim_start_matches("/contacts/").to_string()
}

const BOUNDARY: &str = "kith-ui-boundary-f8Qz1x";

/// A multipart/form-data body: (name, file name, content) in order.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
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

async fn upload(s: &TestServer, c: &Client, body: Vec<u8>) -> reqwest::Response {
    c.post(s.url("/contacts/import"))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn json(c: &Client, url: &str) -> (u16, Value) {
    let r = c.get(url).header("accept", "application/json").send().await.unwrap();
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null))
}

/// Run the background jobs of imports, exports and webhooks until none is due.
async fn drain(s: &TestServer) {
    let mut registry = kith_app::worker::Registry::default();
    kith_app::crm::imports::register(&mut registry);
    kith_app::crm::exports::register(&mut registry);
    kith_app::webhooks::register(&mut registry);
    let worker = kith_app::worker::Worker::new(s.app.clone(), registry);
    while worker.run_once().await.unwrap() > 0 {}
}

const HUBSPOT_CSV: &str = "Record ID,First Name,Last Name,Email,Phone Number,Lifecycle Stage,Company Name\n\
1001,Grace,Hopper,grace@navy.example,+1 415 555 0100,lead,US Navy\n\
1002,Alan,Turing,not-an-email,+44 20 7946 0958,customer,Bletchley\n\
1003,Katherine,Johnson,katherine@nasa.example,,customer,NASA\n";

#[tokio::test]
async fn import_wizard_upload_columns_progress_and_report() {
    for s in spawn_all().await {
        let ada = sign_up(&s, "Ada Lovelace", "ada@example.com", "Acme").await;
        let list = strict_page(&ada, &s.url("/contacts")).await;
        assert!(list.contains("href=\"/contacts/import\""), "{}: the list links the wizard", s.label);
        let html = strict_page(&ada, &s.url("/contacts/import")).await;
        assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("No imports yet"), "{}", s.label);
        let csrf = form_value(&html, "_csrf");

        // Not from our form: no token, or a wrong one, first.
        let r = upload(&s, &ada, multipart(&[("file", Some("c.csv"), HUBSPOT_CSV.as_bytes())])).await;
        assert_eq!(r.status(), 403, "{}", s.label);
        let r = upload(&s, &ada, multipart(&[("_csrf", None, b"nope"), ("file", Some("c.csv"), b"a,b\n1,2\n")])).await;
        assert_eq!(r.status(), 403, "{}", s.label);
        // No file chosen: the form again, the error beside the field.
        let r = upload(
            &s,
            &ada,
            multipart(&[("_csrf", None, csrf.as_bytes()), ("dedupe", None, b"skip"), ("file", Some(""), b"")]),
        )
        .await;
        assert_eq!(r.status(), 422, "{}", s.label);
        let body = r.text().await.unwrap();
        assert!(body.contains("id=\"import-file-error\">Choose a CSV or vCard file to import.</p>"), "{}", s.label);
        assert!(body.contains("value=\"skip\" checked"), "{}: choices are kept", s.label);

        // Step 1: the upload is staged, not queued.
        let r = upload(
            &s,
            &ada,
            multipart(&[
                ("_csrf", None, csrf.as_bytes()),
                ("preset", None, b""),
                ("dedupe", None, b"update"),
                ("file", Some("hubspot-contacts.csv"), HUBSPOT_CSV.as_bytes()),
            ]),
        )
        .await;
        assert_eq!(r.status(), 303, "{}: {}", s.label, r.text().await.unwrap_or_default());
        let map_url = location(&r);
        let staged = map_url.trim_start_matches("/contacts/import/").trim_end_matches("/map").to_string();
        assert!(uuid::Uuid::parse_str(&staged).is_ok(), "{map_url}");
        let (_, st) = json(&ada, &s.url(&format!("/contacts/import/{staged}.json"))).await;
        assert_eq!(st["status"], "staged", "{}", s.label);

        // Step 2: the detected preset, every column with a target, the first rows.
        let map = strict_page(&ada, &s.url(&map_url)).await;
        assert!(map.contains("<strong class=\"text\">HubSpot</strong>"), "{}: preset detected", s.label);
        for h in ["Record ID", "First Name", "Email", "Phone Number", "Lifecycle Stage", "Company Name"] {
            assert!(map.contains(&format!(">{h}</label>")), "{}: column {h}", s.label);
        }
        assert!(map.contains("name=\"col_1\""), "{}", s.label);
        assert!(map.contains("<option value=\"first_name\" selected>First name</option>"), "{}", s.label);
        assert!(map.contains("<option value=\"company\" selected>Company</option>"), "{}", s.label);
        assert!(map.contains("<td>not-an-email</td>") && map.contains("<td>Katherine</td>"), "{}: preview", s.label);
        // Nothing imported yet.
        assert!(strict_page(&ada, &s.url("/contacts")).await.contains("No contacts yet"), "{}", s.label);

        // Confirm with "Lifecycle Stage" (column 5) as tags.
        let form = [("_csrf", csrf.as_str()), ("preset", "hubspot"), ("col_5", "tags"), ("dedupe", "update")];
        let r = post(&ada, &s.url(&map_url), &form).await;
        assert_eq!(r.status(), 303, "{}", s.label);
        let progress = location(&r);
        let id = progress.trim_start_matches("/contacts/import/").to_string();
        assert_ne!(id, staged);
        // Sending the form twice queues one import.
        let r = post(&ada, &s.url(&map_url), &form).await;
        assert_eq!(location(&r), progress, "{}: a second confirm lands on the same import", s.label);
        let r = ada.get(s.url(&format!("/contacts/import/{staged}"))).send().await.unwrap();
        assert_eq!(location(&r), progress, "{}", s.label);

        // Step 3: progress refreshes from JSON until the job is done.
        let html = strict_page(&ada, &s.url(&progress)).await;
        assert!(html.contains(&format!("data-poll=\"/contacts/import/{id}.json\"")), "{}", s.label);
        assert!(html.contains("Waiting to start") && html.contains("<progress"), "{}", s.label);
        let (code, st) = json(&ada, &s.url(&format!("/contacts/import/{id}.json"))).await;
        assert_eq!((code, st["status"].as_str(), st["finished"].as_bool()), (200, Some("queued"), Some(false)));
        drain(&s).await;
        let (_, st) = json(&ada, &s.url(&format!("/contacts/import/{id}.json"))).await;
        assert_eq!(st["status"], "done", "{}: {st}", s.label);
        assert_eq!((st["total"].as_i64(), st["created"].as_i64(), st["failed"].as_i64()), (Some(3), Some(2), Some(1)));
        assert_eq!(st["has_issues"], true);
        let html = strict_page(&ada, &s.url(&progress)).await;
        assert!(!html.contains("data-poll="), "{}: no polling once done", s.label);
        assert!(
            html.contains("<dd data-field=\"created\">2</dd>") && html.contains("<dd data-field=\"failed\">1</dd>")
        );
        let report_link = format!("href=\"/contacts/import/{id}/report.csv\"");
        assert!(html.contains(&report_link) && !html.contains(&format!("{report_link} download hidden")));

        // The report: an attachment, never sniffed, with the bad row.
        let r = ada.get(s.url(&format!("/contacts/import/{id}/report.csv"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(header(&r, "content-type").starts_with("text/csv"));
        assert!(header(&r, "content-disposition").starts_with("attachment; filename="), "{}", s.label);
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        let report = r.text().await.unwrap();
        assert!(report.starts_with("row,severity,code,message"), "{report}");
        assert!(report.lines().any(|l| l.starts_with("2,error,invalid_email")), "{}: {report}", s.label);

        // The people are there, tagged from the column chosen on step 2.
        let list = strict_page(&ada, &s.url("/contacts")).await;
        assert!(list.contains("Grace Hopper") && list.contains("Katherine Johnson") && !list.contains("Turing"));
        assert!(list.contains(">lead</a>") && list.contains(">customer</a>"), "{}: tags", s.label);
        let html = strict_page(&ada, &s.url("/contacts/import")).await;
        assert!(html.contains("hubspot-contacts.csv") && html.contains("2 created"), "{}: recent imports", s.label);

        // An upload can be discarded instead; it then leaves no trace in the list.
        let r = upload(
            &s,
            &ada,
            multipart(&[
                ("_csrf", None, csrf.as_bytes()),
                ("file", Some("second.csv"), b"Name,Email\nBob,b@x.example\n"),
            ]),
        )
        .await;
        let second = location(&r);
        assert!(second.ends_with("/map"), "{}", s.label);
        let map = strict_page(&ada, &s.url(&second)).await;
        assert!(map.contains("Generic CSV"), "{}", s.label);
        let r = post(&ada, &s.url(&second.replace("/map", "/discard")), &[("_csrf", &csrf)]).await;
        assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/contacts/import"));
        assert!(!strict_page(&ada, &s.url("/contacts/import")).await.contains("second.csv"), "{}", s.label);
        let r = ada.get(s.url(&second)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{}: a discarded upload's columns page goes away", s.label);

        // A dry run counts without saving.
        let r = upload(
            &s,
            &ada,
            multipart(&[
                ("_csrf", None, csrf.as_bytes()),
                ("dry_run", None, b"1"),
                ("file", Some("again.csv"), b"First Name,Email\nLin,lin@x.example\n"),
            ]),
        )
        .await;
        let map_url = location(&r);
        let map = strict_page(&ada, &s.url(&map_url)).await;
        assert!(map.contains("name=\"dry_run\" value=\"1\" checked") && map.contains("Start dry run"), "{}", s.label);
        let r = post(&ada, &s.url(&map_url), &[("_csrf", &csrf), ("dry_run", "1")]).await;
        let progress = location(&r);
        drain(&s).await;
        let html = strict_page(&ada, &s.url(&progress)).await;
        assert!(html.contains("Dry run done") && html.contains("Would create"), "{}", s.label);
        assert!(!strict_page(&ada, &s.url("/contacts")).await.contains("Lin"), "{}: nothing saved", s.label);

        // A vCard file maps itself; its first cards are shown.
        let vcf = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Liskov;Barbara;;;\r\nFN:Barbara Liskov\r\nEMAIL:barbara@mit.example\r\nEND:VCARD\r\n";
        let r =
            upload(&s, &ada, multipart(&[("_csrf", None, csrf.as_bytes()), ("file", Some("people.vcf"), vcf)])).await;
        let map_url = location(&r);
        let map = strict_page(&ada, &s.url(&map_url)).await;
        assert!(map.contains("A vCard file") && map.contains("<td>Barbara Liskov</td>"), "{}: {map}", s.label);
        assert!(!map.contains("name=\"col_0\""), "{}: no columns to map", s.label);
        let r = post(&ada, &s.url(&map_url), &[("_csrf", &csrf)]).await;
        let progress = location(&r);
        drain(&s).await;
        assert!(strict_page(&ada, &s.url(&progress)).await.contains("<dd data-field=\"created\">1</dd>"));
        assert!(strict_page(&ada, &s.url("/contacts")).await.contains("Barbara Liskov"), "{}", s.label);

        // A file larger than any form body (3 MB) streams through and is copied on confirm.
        let mut big = String::from("First Name,Last Name,Email\n");
        for i in 0..80_000 {
            big.push_str(&format!("Person,Number {i},p{i}@bulk.example\n"));
        }
        assert!(big.len() > 3_000_000);
        let r =
            upload(&s, &ada, multipart(&[("_csrf", None, csrf.as_bytes()), ("file", Some("big.csv"), big.as_bytes())]))
                .await;
        assert_eq!(r.status(), 303, "{}: a big upload", s.label);
        let map_url = location(&r);
        assert!(strict_page(&ada, &s.url(&map_url)).await.contains("<td>Number 4</td>"), "{}", s.label);
        let r = post(&ada, &s.url(&map_url), &[("_csrf", &csrf)]).await;
        let (_, st) = json(&ada, &s.url(&format!("{}.json", location(&r)))).await;
        assert_eq!(st["status"], "queued", "{}", s.label);
        let html = strict_page(&ada, &s.url("/contacts/import")).await;
        assert!(html.contains("big.csv") && html.contains("MB</td>"), "{}", s.label);
        // (Not run here: 80,000 rows take a while.)
    }
}

#[tokio::test]
async fn list_exports_follow_filters_and_the_workspace_export_downloads() {
    for s in spawn_all().await {
        let ada = sign_up(&s, "Ada Lovelace", "ada@example.com", "Acme").await;
        create_contact(
            &s,
            &ada,
            &[("first_name", "Grace"), ("last_name", "Hopper"), ("title", "=SUM(A1:A9)"), ("tags", "vip")],
        )
        .await;
        create_contact(&s, &ada, &[("first_name", "Alan"), ("last_name", "Turing"), ("email", "alan@example.com")])
            .await;

        let html = strict_page(&ada, &s.url("/contacts?tag=vip")).await;
        assert!(html.contains("<details class=\"menu\">"), "{}: the export menu", s.label);
        assert!(html.contains("href=\"/contacts/export.csv?tag=vip\""), "{}: with the filter", s.label);
        assert!(html.contains("href=\"/contacts/export.vcf?tag=vip\""), "{}", s.label);

        let r = ada.get(s.url("/contacts/export.csv?tag=vip")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", s.label);
        assert!(header(&r, "content-type").starts_with("text/csv"));
        let disposition = header(&r, "content-disposition");
        assert!(disposition.starts_with("attachment; filename=\"contacts-") && disposition.ends_with(".csv\""));
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        let csv = r.text().await.unwrap();
        assert!(csv.contains("'=SUM(A1:A9)"), "{}: formulas are defused: {csv}", s.label);
        assert!(csv.contains("Grace") && !csv.contains("Turing"), "{}: only the filtered list", s.label);

        let r = ada.get(s.url("/contacts/export.json")).send().await.unwrap();
        assert!(header(&r, "content-type").starts_with("application/json"));
        let all: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(all.as_array().map(Vec::len), Some(2), "{}", s.label);
        let r = ada.get(s.url("/contacts/export.json?tag=no-such-tag")).send().await.unwrap();
        assert_eq!(r.text().await.unwrap().trim(), "[]", "{}: an unknown tag exports nothing", s.label);
        let vcf = ada.get(s.url("/contacts/export.vcf?tag=vip")).send().await.unwrap().text().await.unwrap();
        assert!(vcf.starts_with("BEGIN:VCARD") && vcf.contains("Hopper") && !vcf.contains("Turing"));

        let csrf = csrf_of(&s, &ada).await;
        let r = post(&ada, &s.url("/companies/new"), &[("_csrf", &csrf), ("name", "Initech")]).await;
        assert_eq!(r.status(), 303);
        assert!(strict_page(&ada, &s.url("/companies")).await.contains("href=\"/companies/export.json\""));
        let csv = ada.get(s.url("/companies/export.csv")).send().await.unwrap().text().await.unwrap();
        assert!(csv.contains("Initech"), "{}", s.label);
        assert_eq!(ada.get(s.url("/companies/export.vcf")).send().await.unwrap().status(), 404);

        let board = strict_page(&ada, &s.url("/deals/board")).await;
        let stage = board.split("data-stage=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let deal = [
            ("_csrf", csrf.as_str()),
            ("title", "Printer upgrade"),
            ("value", "990"),
            ("currency", "EUR"),
            ("stage_id", &stage),
            ("visibility", "everyone"),
        ];
        assert_eq!(post(&ada, &s.url("/deals/new"), &deal).await.status(), 303);
        assert!(strict_page(&ada, &s.url("/deals?status=open"))
            .await
            .contains("href=\"/deals/export.csv?status=open\""));
        let open = ada.get(s.url("/deals/export.csv?status=open")).send().await.unwrap().text().await.unwrap();
        let won = ada.get(s.url("/deals/export.csv?status=won")).send().await.unwrap().text().await.unwrap();
        assert!(open.contains("Printer upgrade") && !won.contains("Printer upgrade"), "{}", s.label);
        assert_eq!(ada.get(s.url("/deals/export.csv?status=nope")).send().await.unwrap().status(), 404);

        // Settings → Data export: started, polled while it runs, then downloaded.
        let html = strict_page(&ada, &s.url("/settings/exports")).await;
        assert!(html.contains("No exports yet") && html.contains("Start export"), "{}", s.label);
        let r = post(&ada, &s.url("/settings/exports"), &[("_csrf", &csrf)]).await;
        assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/settings/exports"));
        let html = strict_page(&ada, &s.url("/settings/exports")).await;
        let id = html.split("data-poll=\"/settings/exports/").nth(1).expect("a running export polls").split('.').next();
        let id = id.unwrap().to_string();
        let (_, st) = json(&ada, &s.url(&format!("/settings/exports/{id}.json"))).await;
        assert_eq!((st["status"].as_str(), st["downloadable"].as_bool()), (Some("queued"), Some(false)));
        drain(&s).await;
        let (_, st) = json(&ada, &s.url(&format!("/settings/exports/{id}.json"))).await;
        assert_eq!((st["status"].as_str(), st["finished"].as_bool()), (Some("done"), Some(true)), "{}", s.label);
        let html = strict_page(&ada, &s.url("/settings/exports")).await;
        assert!(html.contains(&format!("href=\"/settings/exports/{id}/download\">")), "{}", s.label);
        let r = ada.get(s.url(&format!("/settings/exports/{id}/download"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-type"), "application/zip");
        assert!(header(&r, "content-disposition").starts_with("attachment; filename=\"kith-export-"));
        let zip = r.bytes().await.unwrap();
        assert!(zip.starts_with(b"PK"), "{}: a ZIP", s.label);
    }
}

#[tokio::test]
async fn webhooks_show_the_secret_once_and_log_deliveries() {
    for s in spawn_all().await {
        let ada = sign_up(&s, "Ada Lovelace", "ada@example.com", "Acme").await;
        let html = strict_page(&ada, &s.url("/settings/webhooks")).await;
        assert!(html.contains("No endpoints yet") && html.contains("aria-current=\"page\">Webhooks</a>"));
        let csrf = form_value(&html, "_csrf");
        // Errors stand by their fields, and what was typed stays.
        let r = post(
            &ada,
            &s.url("/settings/webhooks"),
            &[("_csrf", &csrf), ("url", "ftp://x"), ("description", "Billing"), ("scope", "all")],
        )
        .await;
        assert_eq!(r.status(), 422, "{}", s.label);
        let body = r.text().await.unwrap();
        assert!(body.contains("id=\"webhook-url-error\"") && body.contains("value=\"Billing\""), "{}", s.label);
        let r = post(
            &ada,
            &s.url("/settings/webhooks"),
            &[("_csrf", &csrf), ("url", "http://127.0.0.1:9/hook"), ("scope", "some")],
        )
        .await;
        assert_eq!(r.status(), 422, "{}: no event chosen", s.label);
        assert!(r.text().await.unwrap().contains("id=\"webhook-events-error\""));

        let r = post(
            &ada,
            &s.url("/settings/webhooks"),
            &[
                ("_csrf", &csrf),
                ("url", "http://127.0.0.1:9/hook"),
                ("description", "Billing sync"),
                ("scope", "some"),
                ("events", "contact.created"),
                ("events", "deal.updated"),
            ],
        )
        .await;
        assert_eq!(r.status(), 200, "{}", s.label);
        let html = r.text().await.unwrap();
        let secret = text_of(&html, "webhook-secret");
        assert!(secret.starts_with("whsec_"), "{}: the secret, once: {secret}", s.label);
        assert!(html.contains("data-copy-target=\"#webhook-secret\""));
        assert!(html.contains("contact.created, deal.updated"), "{}", s.label);
        let again = strict_page(&ada, &s.url("/settings/webhooks")).await;
        assert!(!again.contains("whsec_") && !again.contains(&secret), "{}: never again", s.label);
        let endpoint = again.split("href=\"/settings/webhooks/").nth(1).unwrap().split('"').next().unwrap().to_string();

        // A change makes a delivery; it fails (nothing listens) and is logged; replay queues it again.
        create_contact(&s, &ada, &[("first_name", "Grace"), ("visibility", "everyone")]).await;
        drain(&s).await;
        let html = strict_page(&ada, &s.url(&format!("/settings/webhooks/{endpoint}"))).await;
        assert!(html.contains("<code>contact.created</code>"), "{}: {html}", s.label);
        assert!(html.contains("badge-delivery-pending") && html.contains(">1</td>"), "{}: one attempt", s.label);
        let replay = html.split("action=\"").find(|a| a.contains("/replay")).unwrap().split('"').next().unwrap();
        let r = post(&ada, &s.url(replay), &[("_csrf", &csrf)]).await;
        assert_eq!(location(&r), format!("/settings/webhooks/{endpoint}"));

        // Disable, enable, delete.
        let version = form_value(&again, "version");
        let toggle = format!("/settings/webhooks/{endpoint}/toggle");
        let r = post(&ada, &s.url(&toggle), &[("_csrf", &csrf), ("enabled", "0"), ("version", &version)]).await;
        assert_eq!(r.status(), 303);
        let html = strict_page(&ada, &s.url("/settings/webhooks")).await;
        assert!(html.contains("<span class=\"badge\">Disabled</span>") && html.contains(">Enable</button>"));
        let r = post(&ada, &s.url(&format!("/settings/webhooks/{endpoint}/delete")), &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        assert!(strict_page(&ada, &s.url("/settings/webhooks")).await.contains("No endpoints yet"));

        // A member is refused every admin page and action.
        let bob = invite(&s, &ada, "Bob Member", "bob@example.com", "member").await;
        let bob_csrf = csrf_of(&s, &bob).await;
        let tabs = strict_page(&bob, &s.url("/settings/profile")).await;
        assert!(!tabs.contains("href=\"/settings/webhooks\"") && !tabs.contains("href=\"/settings/exports\""));
        assert_eq!(page(&bob, &s.url("/settings/webhooks")).await.0, 403, "{}", s.label);
        let r =
            post(&bob, &s.url("/settings/webhooks"), &[("_csrf", &bob_csrf), ("url", "http://127.0.0.1:9/x")]).await;
        assert_eq!(r.status(), 403);
        let html = strict_page(&bob, &s.url("/settings/exports")).await;
        assert!(!html.contains("Start export") && html.contains("Only admins and owners"), "{}", s.label);
        assert_eq!(post(&bob, &s.url("/settings/exports"), &[("_csrf", &bob_csrf)]).await.status(), 403);
        let r =
            post(&bob, &s.url("/settings/workspace/phone"), &[("_csrf", &bob_csrf), ("phone_country_code", "1")]).await;
        assert_eq!(r.status(), 403);
    }
}

#[tokio::test]
async fn phone_country_code_and_own_records_only() {
    for s in spawn_all().await {
        let ada = sign_up(&s, "Ada Lovelace", "ada@example.com", "Acme").await;
        let csrf = csrf_of(&s, &ada).await;
        // Without a code a national number is refused.
        let r =
            post(&ada, &s.url("/contacts/new"), &[("_csrf", &csrf), ("first_name", "Liz"), ("phone", "020 7946 0958")])
                .await;
        assert_eq!(r.status(), 422, "{}", s.label);
        let html = strict_page(&ada, &s.url("/settings/workspace")).await;
        assert!(html.contains("id=\"phone_country_code\"") && html.contains("placeholder=\"none\" value=\"\""));
        let r =
            post(&ada, &s.url("/settings/workspace/phone"), &[("_csrf", &csrf), ("phone_country_code", "4444")]).await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("id=\"phone_country_code-error\""), "{}", s.label);
        let r =
            post(&ada, &s.url("/settings/workspace/phone"), &[("_csrf", &csrf), ("phone_country_code", "+44")]).await;
        assert_eq!(r.status(), 303, "{}", s.label);
        assert!(strict_page(&ada, &s.url("/settings/workspace")).await.contains("value=\"44\""));
        let liz = create_contact(&s, &ada, &[("first_name", "Liz"), ("phone", "020 7946 0958")]).await;
        let html = strict_page(&ada, &s.url(&format!("/contacts/{liz}"))).await;
        assert!(html.contains("+44 20 7946 0958") && html.contains("tel:+442079460958"), "{}", s.label);

        // Own records only: Bob sees the shared contact, then only his own.
        let bob = invite(&s, &ada, "Bob Member", "bob@example.com", "member").await;
        let members = strict_page(&ada, &s.url("/settings/members")).await;
        let bob_id = members.split("action=\"/settings/members/").find(|p| p.contains("/own-records\"")).unwrap();
        let bob_id = bob_id.split('/').next().unwrap().to_string();
        assert!(!members.contains("name=\"own_only\" value=\"1\" checked"), "{}", s.label);
        assert!(members.contains("limits a member or viewer to the contacts, companies and deals they own"));
        assert!(strict_page(&bob, &s.url("/contacts")).await.contains("Liz"), "{}", s.label);
        let own = format!("/settings/members/{bob_id}/own-records");
        let r = post(&ada, &s.url(&own), &[("_csrf", &csrf), ("own_only", "1")]).await;
        assert_eq!(r.status(), 303, "{}", s.label);
        assert!(strict_page(&ada, &s.url("/settings/members")).await.contains("name=\"own_only\" value=\"1\" checked"));
        let bob_list = strict_page(&bob, &s.url("/contacts")).await;
        assert!(!bob_list.contains("Liz") && bob_list.contains("No contacts yet"), "{}", s.label);
        let bob_csv = bob.get(s.url("/contacts/export.json")).send().await.unwrap().text().await.unwrap();
        assert_eq!(bob_csv.trim(), "[]", "{}: exports follow the limit", s.label);
        create_contact(&s, &bob, &[("first_name", "Bobs"), ("last_name", "Own")]).await;
        assert!(strict_page(&bob, &s.url("/contacts")).await.contains("Bobs Own"));
        let r = post(&ada, &s.url(&own), &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        assert!(strict_page(&bob, &s.url("/contacts")).await.contains("Liz"), "{}: lifted", s.label);
        // A member cannot change it.
        let bob_csrf = csrf_of(&s, &bob).await;
        assert_eq!(post(&bob, &s.url(&own), &[("_csrf", &bob_csrf), ("own_only", "1")]).await.status(), 403);
    }
}
