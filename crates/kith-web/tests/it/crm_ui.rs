//! The CRM pages over plain HTTP forms, as a browser without JavaScript uses
//! them: lists, new-record forms with errors beside the fields, record pages
//! with inline edit (stale versions refused), notes, tasks, activities,
//! search, the board's move endpoint (form and JSON), the task inbox and the
//! pipelines settings. Who sees what: another workspace's record and another
//! member's personal contact are "not found". Every test runs on each backend.

use crate::helpers::{browser, form_value, text_of};
use kith_testkit::{spawn_all, TestServer};
use reqwest::Client;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

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

/// A page is strict-CSP clean: no inline script or style, the policy sent.
async fn strict_page(c: &Client, url: &str) -> String {
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    assert_eq!(r.headers().get("content-security-policy").unwrap().to_str().unwrap(), CSP, "{url}");
    let html = r.text().await.unwrap();
    assert!(!html.contains(" style="), "{url}: inline style");
    for tag in html.split("<script").skip(1) {
        assert!(tag.trim_start().starts_with("type=\"module\" src="), "{url}: inline script {tag:.80}");
    }
    assert!(!html.contains(" onclick=") && !html.contains(" onload="), "{url}: inline handler");
    html
}

/// Sign up through the form: a browser signed in to its own new workspace.
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

/// The owner invites `email` as `role`; the invitee accepts in a new browser.
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

/// The id at the end of a redirect to a record (`/contacts/<id>`).
fn id_from(location: &str, prefix: &str) -> String {
    let id = location.strip_prefix(prefix).unwrap_or_else(|| panic!("{location} is not under {prefix}"));
    uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("no id in {location}"));
    id.to_string()
}

/// Every value of `attr="…"` in a page, in order.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    html.split(&needle).skip(1).map(|rest| rest.split('"').next().unwrap().to_string()).collect()
}

async fn create_contact(s: &TestServer, c: &Client, fields: &[(&str, &str)]) -> String {
    let csrf = csrf_of(s, c).await;
    let mut form = vec![("_csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let r = post(c, &s.url("/contacts/new"), &form).await;
    assert_eq!(r.status(), 303, "{}: {:?}", s.label, r.text().await.unwrap());
    id_from(&location(&r), "/contacts/")
}

#[tokio::test]
async fn contacts_list_form_record_page_search_and_delete() {
    for s in spawn_all().await {
        let ada = sign_up(&s, "Ada Lovelace", "ada@example.com", "Acme").await;
        let html = strict_page(&ada, &s.url("/contacts")).await;
        assert!(
            html.contains("No contacts yet") && html.contains("href=\"/contacts/new\""),
            "{}: empty state",
            s.label
        );
        assert!(html.contains("href=\"/contacts\" aria-current=\"page\""), "{}: the sidebar link is current", s.label);
        let form = strict_page(&ada, &s.url("/contacts/new")).await;
        assert!(form.contains("<label for=\"first_name\">First name</label>"));
        let csrf = form_value(&form, "_csrf");

        // Errors stand next to their fields, and what was typed is kept.
        let r = post(
            &ada,
            &s.url("/contacts/new"),
            &[
                ("_csrf", &csrf),
                ("first_name", "Grace"),
                ("email", "nope"),
                ("phone", "12"),
                ("visibility", "everyone"),
            ],
        )
        .await;
        assert_eq!(r.status(), 422, "{}", s.label);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("id=\"email-error\">E-mail is not an e-mail address.</p>"),
            "{}: {}",
            s.label,
            &body[body.find("email").unwrap_or(0)..][..400.min(body.len())]
        );
        assert!(body.contains("id=\"phone-error\">"), "{}: the phone error is beside the phone", s.label);
        assert!(body.contains("value=\"nope\"") && body.contains("value=\"Grace\""), "typed values are kept");
        let r = post(&ada, &s.url("/contacts/new"), &[("_csrf", &csrf), ("visibility", "everyone")]).await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("A contact needs a name, an e-mail address or a phone number."));

        // Created: redirect to the record with a message.
        let id = create_contact(
            &s,
            &ada,
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("email", "grace@navy.example"),
                ("phone", "+1 (415) 555-0100"),
                ("title", "Rear admiral"),
                ("tags", "vip, navy"),
                ("visibility", "everyone"),
            ],
        )
        .await;
        let html = strict_page(&ada, &s.url(&format!("/contacts/{id}"))).await;
        assert!(html.contains("Contact Grace Hopper created."), "{}: flash", s.label);
        assert!(html.contains("<h1>Grace Hopper</h1>") && html.contains("+1 415 555 0100"), "{}", s.label);
        assert!(html.contains("id=\"timeline\""), "the record page has a timeline");
        assert!(!strict_page(&ada, &s.url(&format!("/contacts/{id}"))).await.contains("created."), "flash once");

        // The list: phone readable, tags, relative time with the exact one as a fallback.
        let list = strict_page(&ada, &s.url("/contacts")).await;
        assert!(list.contains("Grace Hopper") && list.contains("+1 415 555 0100") && list.contains(">vip</a>"));
        assert!(list.contains("<time datetime=\"") && list.contains(" UTC</time>"), "{}: time fallback", s.label);
        assert!(strict_page(&ada, &s.url("/contacts?tag=VIP")).await.contains("Grace Hopper"), "tag filter");
        assert!(strict_page(&ada, &s.url("/contacts?tag=other")).await.contains("No contacts match"));
        assert!(strict_page(&ada, &s.url("/contacts?mine=1")).await.contains("Grace Hopper"), "mine");

        // Inline edit with the version shown; a stale form is refused with a message.
        let edit = [
            ("_csrf", csrf.as_str()),
            ("version", "1"),
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("email", "grace@navy.example, amazing.grace@example.com"),
            ("phone", "+1 415 555 0100"),
            ("title", "Commodore"),
            ("tags", "vip"),
            ("visibility", "everyone"),
        ];
        let r = post(&ada, &s.url(&format!("/contacts/{id}")), &edit).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, format!("/contacts/{id}")), "{}", s.label);
        let html = strict_page(&ada, &s.url(&format!("/contacts/{id}"))).await;
        assert!(html.contains("Saved.") && html.contains("Commodore") && html.contains("amazing.grace@example.com"));
        let r = post(&ada, &s.url(&format!("/contacts/{id}")), &edit).await;
        assert_eq!(r.status(), 303, "{}: stale", s.label);
        let html = strict_page(&ada, &s.url(&format!("/contacts/{id}"))).await;
        assert!(html.contains("Someone else changed this"), "{}: stale edit explained", s.label);
        let mut bad = edit.to_vec();
        bad[1] = ("version", "2");
        bad[5] = ("phone", "call me maybe");
        let r = post(&ada, &s.url(&format!("/contacts/{id}")), &bad).await;
        assert_eq!(r.status(), 422);
        let body = r.text().await.unwrap();
        assert!(body.contains("id=\"phone-error\"") && body.contains("value=\"call me maybe\""), "{}", s.label);

        // Quick-add forms: a private note, a task, a logged call.
        let url = s.url(&format!("/contacts/{id}/notes"));
        let r = post(&ada, &url, &[("_csrf", &csrf), ("body", "Met at the COBOL conference"), ("private", "1")]).await;
        assert_eq!(location(&r), format!("/contacts/{id}#timeline"));
        let r = post(&ada, &url, &[("_csrf", &csrf), ("body", "  ")]).await;
        assert_eq!(r.status(), 303);
        let html = strict_page(&ada, &s.url(&format!("/contacts/{id}"))).await;
        assert!(html.contains("The text must not be empty."), "{}: an empty note is refused", s.label);
        let r = post(
            &ada,
            &s.url(&format!("/contacts/{id}/tasks")),
            &[("_csrf", &csrf), ("title", "Send the proposal"), ("due_date", "2030-01-02"), ("due_time", "09:30")],
        )
        .await;
        assert_eq!(r.status(), 303);
        let r = post(
            &ada,
            &s.url(&format!("/contacts/{id}/activities")),
            &[("_csrf", &csrf), ("kind", "call"), ("subject", "Intro call"), ("minutes", "15")],
        )
        .await;
        assert_eq!(r.status(), 303);
        let html = strict_page(&ada, &s.url(&format!("/contacts/{id}"))).await;
        for want in [
            "Met at the COBOL conference",
            "Private",
            "Send the proposal",
            "2030-01-02 09:30 UTC",
            "Intro call · 15 min",
        ] {
            assert!(html.contains(want), "{}: timeline lacks {want:?}", s.label);
        }

        // Search: the page groups by kind; notes lead to their record.
        let html = strict_page(&ada, &s.url("/search?q=grace")).await;
        assert!(html.contains("Contacts") && html.contains(&format!("href=\"/contacts/{id}\"")), "{}", s.label);
        assert!(html.contains("value=\"grace\""), "the box keeps the query");
        let html = strict_page(&ada, &s.url("/search?q=COBOL")).await;
        assert!(html.contains("Notes") && html.contains(&format!("/contacts/{id}#timeline")), "{}", s.label);
        assert!(strict_page(&ada, &s.url("/search?q=zzzqqq")).await.contains("Nothing found"));
        let r = ada.get(s.url("/search.json?q=hopp")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let hits: Value = r.json().await.unwrap();
        assert_eq!(hits[0]["kind"], "contact", "{}: {hits}", s.label);
        assert_eq!(hits[0]["url"], format!("/contacts/{id}"));
        assert_eq!(hits[0]["title"], "Grace Hopper");
        let r = browser().get(s.url("/search.json?q=hopp")).send().await.unwrap();
        assert_eq!(r.status(), 401, "the palette's endpoint needs a session");

        // Delete asks first (a page that works without script), then goes.
        let html = strict_page(&ada, &s.url(&format!("/contacts/{id}/delete"))).await;
        assert!(html.contains("Delete Grace Hopper?") && html.contains("btn-danger"));
        let r = post(&ada, &s.url(&format!("/contacts/{id}/delete")), &[("_csrf", &csrf)]).await;
        assert_eq!(location(&r), "/contacts");
        let (st, html) = page(&ada, &s.url(&format!("/contacts/{id}"))).await;
        assert_eq!(st, 404, "{}", s.label);
        assert!(html.contains("not shared with you"));
        let (st, _) = page(&ada, &s.url("/contacts/not-an-id")).await;
        assert_eq!(st, 404);
    }
}

#[tokio::test]
async fn other_workspaces_and_other_members_personal_contacts_are_not_found() {
    for s in spawn_all().await {
        let ada = sign_up(&s, "Ada", "ada@example.com", "Acme").await;
        let shared = create_contact(&s, &ada, &[("first_name", "Shared"), ("visibility", "everyone")]).await;
        let mia = invite(&s, &ada, "Mia", "mia@example.com", "member").await;
        let max = invite(&s, &ada, "Max", "max@example.com", "member").await;
        let secret = create_contact(&s, &mia, &[("first_name", "Secret"), ("visibility", "personal")]).await;
        let (st, html) = page(&mia, &s.url(&format!("/contacts/{secret}"))).await;
        assert_eq!(st, 200, "{}: its creator sees it", s.label);
        assert!(html.contains("Only me"));
        let (st, html) = page(&max, &s.url(&format!("/contacts/{secret}"))).await;
        assert_eq!(st, 404, "{}: another member does not", s.label);
        assert!(html.contains("Not found"));
        assert!(!strict_page(&max, &s.url("/contacts")).await.contains("Secret"), "nor in the list");
        assert!(!strict_page(&max, &s.url("/search?q=secret")).await.contains("Secret"), "nor in search");
        let csrf = csrf_of(&s, &max).await;
        let r = post(&max, &s.url(&format!("/contacts/{secret}/notes")), &[("_csrf", &csrf), ("body", "hi")]).await;
        assert_eq!(r.status(), 303);
        let (_, html) = page(&max, &s.url("/contacts")).await;
        assert!(html.contains("flash-error"), "{}: a note on an unseen record is refused", s.label);
        assert_eq!(page(&max, &s.url(&format!("/contacts/{shared}"))).await.0, 200);

        // Another workspace's record is not found at all, and not editable.
        let bob = sign_up(&s, "Bob", "bob@example.com", "Bobco").await;
        let (st, _) = page(&bob, &s.url(&format!("/contacts/{shared}"))).await;
        assert_eq!(st, 404, "{}", s.label);
        let csrf = csrf_of(&s, &bob).await;
        let r = post(&bob, &s.url(&format!("/contacts/{shared}")), &[("_csrf", &csrf), ("first_name", "Hacked")]).await;
        assert_eq!(r.status(), 404);
        let r = post(&bob, &s.url(&format!("/contacts/{shared}/delete")), &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 404);
        assert!(strict_page(&ada, &s.url(&format!("/contacts/{shared}"))).await.contains("<h1>Shared</h1>"));
    }
}

#[tokio::test]
async fn companies_deals_and_the_board_move() {
    for s in spawn_all().await {
        let ada = sign_up(&s, "Ada Lovelace", "ada@example.com", "Acme").await;
        let csrf = csrf_of(&s, &ada).await;
        assert!(strict_page(&ada, &s.url("/companies")).await.contains("No companies yet"));
        let r =
            post(&ada, &s.url("/companies/new"), &[("_csrf", &csrf), ("name", " "), ("domain", "not a domain")]).await;
        assert_eq!(r.status(), 422);
        let body = r.text().await.unwrap();
        assert!(body.contains("id=\"domain-error\">Website must be a domain such as example.com.</p>"), "{}", s.label);
        let r = post(
            &ada,
            &s.url("/companies/new"),
            &[
                ("_csrf", &csrf),
                ("name", "Initech"),
                ("domain", "https://www.initech.example/about"),
                ("visibility", "everyone"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{}", s.label);
        let company = id_from(&location(&r), "/companies/");
        let contact = create_contact(
            &s,
            &ada,
            &[("first_name", "Peter"), ("last_name", "Gibbons"), ("company_id", &company), ("visibility", "everyone")],
        )
        .await;
        let html = strict_page(&ada, &s.url(&format!("/companies/{company}"))).await;
        assert!(html.contains("initech.example") && html.contains(&format!("href=\"/contacts/{contact}\"")));
        assert!(strict_page(&ada, &s.url("/contacts")).await.contains(&format!("href=\"/companies/{company}\"")));

        // The board makes the default pipeline; its stages in order.
        let board = strict_page(&ada, &s.url("/deals/board")).await;
        assert!(board.contains("No open deals"), "{}", s.label);
        let stages = attrs(&board, "data-stage");
        assert_eq!(stages.len(), 5, "{}: {stages:?}", s.label);
        let new = strict_page(&ada, &s.url(&format!("/deals/new?contact={contact}"))).await;
        assert!(new.contains(&format!("<option value=\"{contact}\" selected>")), "{}: contact preselected", s.label);
        assert!(new.contains(&format!("<option value=\"{company}\" selected>")), "{}: and its company", s.label);
        let mut deal_form = vec![
            ("_csrf", csrf.as_str()),
            ("title", "Printer upgrade"),
            ("value", "12.345"),
            ("currency", "eur"),
            ("stage_id", &stages[0]),
            ("company_id", &company),
            ("contact_ids", &contact),
            ("visibility", "everyone"),
        ];
        let r = post(&ada, &s.url("/deals/new"), &deal_form).await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("id=\"value-error\">Value must have at most two decimals.</p>"));
        deal_form[2] = ("value", "9,900.5");
        let r = post(&ada, &s.url("/deals/new"), &deal_form).await;
        assert_eq!(r.status(), 303, "{}: {}", s.label, r.text().await.unwrap());
        let deal = id_from(&location(&r), "/deals/");
        let html = strict_page(&ada, &s.url(&format!("/deals/{deal}"))).await;
        assert!(html.contains("EUR 9,900.50") && html.contains("Peter Gibbons") && html.contains("Initech"));
        assert!(html.contains("Created in Lead"), "{}: the stage history starts", s.label);
        let board = strict_page(&ada, &s.url("/deals/board")).await;
        assert!(board.contains("data-minor=\"990050\"") && board.contains(">EUR 9,900.50</span>"), "{}", s.label);
        assert!(board.contains(&format!("data-deal=\"{deal}\" data-version=\"1\"")));

        // The script's move: JSON in, JSON out; a stale version is refused.
        let json_move = |version: &'static str, stage: String| {
            let c = ada.clone();
            let url = s.url(&format!("/deals/{deal}/stage"));
            let csrf = csrf.clone();
            async move {
                let r = c
                    .post(url)
                    .header("accept", "application/json")
                    .form(&[("_csrf", csrf.as_str()), ("version", version), ("stage_id", &stage)])
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            }
        };
        let (st, body) = json_move("1", stages[1].clone()).await;
        assert_eq!(st, 200, "{}: {body}", s.label);
        assert_eq!(body["ok"], true);
        assert_eq!(body["version"], 2);
        assert_eq!(body["stage"], "Qualified");
        let (st, body) = json_move("1", stages[2].clone()).await;
        assert_eq!(st, 412, "{}: stale", s.label);
        assert_eq!(body["ok"], false);
        assert!(body["error"].as_str().unwrap().contains("Someone else changed this deal"));
        let r = ada
            .post(s.url(&format!("/deals/{deal}/stage")))
            .header("accept", "application/json")
            .form(&[("version", "2"), ("stage_id", stages[2].as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "no CSRF token, no move");
        let board = strict_page(&ada, &s.url("/deals/board")).await;
        let qualified = board.split(&format!("data-stage=\"{}\"", stages[1])).nth(1).unwrap();
        assert!(qualified.split("data-stage=").next().unwrap().contains("Printer upgrade"), "{}: moved", s.label);

        // The plain form on each card: redirect back to the board.
        let r = post(
            &ada,
            &s.url(&format!("/deals/{deal}/stage")),
            &[("_csrf", &csrf), ("version", "2"), ("stage_id", &stages[2]), ("return_to", "/deals/board")],
        )
        .await;
        assert_eq!(location(&r), "/deals/board", "{}", s.label);
        let r = post(
            &ada,
            &s.url(&format!("/deals/{deal}/stage")),
            &[("_csrf", &csrf), ("version", "3"), ("stage_id", &stages[3]), ("return_to", "https://evil.example/")],
        )
        .await;
        assert_eq!(location(&r), format!("/deals/{deal}"), "never back to another site");
        let html = strict_page(&ada, &s.url(&format!("/deals/{deal}"))).await;
        assert!(html.contains("Moved from Proposal to Negotiation") && html.contains("Moved from Lead to Qualified"));
        let table = strict_page(&ada, &s.url("/deals")).await;
        assert!(table.contains("Printer upgrade") && table.contains("EUR 9,900.50") && table.contains("Negotiation"));
        assert!(strict_page(&ada, &s.url(&format!("/companies/{company}"))).await.contains("Printer upgrade"));
        assert!(strict_page(&ada, &s.url(&format!("/contacts/{contact}"))).await.contains("Printer upgrade"));

        // Edit the deal: won.
        let r = post(
            &ada,
            &s.url(&format!("/deals/{deal}")),
            &[
                ("_csrf", &csrf),
                ("version", "4"),
                ("title", "Printer upgrade"),
                ("value", "10000"),
                ("currency", "EUR"),
                ("status", "won"),
                ("company_id", &company),
                ("visibility", "everyone"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{}", s.label);
        let html = strict_page(&ada, &s.url(&format!("/deals/{deal}"))).await;
        assert!(html.contains("EUR 10,000.00") && html.contains("badge-won"), "{}", s.label);
    }
}

#[tokio::test]
async fn task_inbox_and_pipeline_settings() {
    for s in spawn_all().await {
        let ada = sign_up(&s, "Ada", "ada@example.com", "Acme").await;
        let csrf = csrf_of(&s, &ada).await;
        for view in ["overdue", "today", "open", "done"] {
            let html = strict_page(&ada, &s.url(&format!("/tasks?view={view}"))).await;
            assert!(html.contains(&format!("href=\"/tasks?view={view}\" aria-current=\"page\"")), "{view}");
        }
        assert_eq!(page(&ada, &s.url("/tasks?view=someday")).await.0, 404);
        let r = post(&ada, &s.url("/tasks"), &[("_csrf", &csrf), ("title", " ")]).await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("id=\"task-title-error\">The task must not be empty.</p>"));
        let r = post(&ada, &s.url("/tasks"), &[("_csrf", &csrf), ("title", "Renew"), ("due_time", "10:00")]).await;
        assert_eq!(r.status(), 422, "a time without a date");
        let r =
            post(&ada, &s.url("/tasks"), &[("_csrf", &csrf), ("title", "File the taxes"), ("due_date", "2020-04-15")])
                .await;
        assert_eq!(r.status(), 303, "{}", s.label);
        let overdue = strict_page(&ada, &s.url("/tasks?view=overdue")).await;
        assert!(overdue.contains("File the taxes") && overdue.contains("is-overdue"), "{}", s.label);
        let task = attrs(&overdue, "action")
            .into_iter()
            .find(|a| a.starts_with("/tasks/") && a.ends_with("/done"))
            .expect("a done form per task");
        let r =
            post(&ada, &s.url(&task), &[("_csrf", &csrf), ("version", "1"), ("done", "1"), ("return_to", "/tasks")])
                .await;
        assert_eq!(location(&r), "/tasks");
        assert!(strict_page(&ada, &s.url("/tasks")).await.contains("Done: File the taxes."));
        assert!(!strict_page(&ada, &s.url("/tasks?view=overdue")).await.contains("File the taxes"));
        let done = strict_page(&ada, &s.url("/tasks?view=done")).await;
        assert!(done.contains("File the taxes") && done.contains(" checked"), "{}", s.label);
        let r = post(&ada, &s.url(&task), &[("_csrf", &csrf), ("version", "1"), ("return_to", "/tasks")]).await;
        assert_eq!(r.status(), 303);
        assert!(strict_page(&ada, &s.url("/tasks")).await.contains("Someone else changed"), "{}: stale", s.label);

        // Pipelines: create, rename a stage, and be told a stage in use cannot go.
        let html = strict_page(&ada, &s.url("/settings/pipelines")).await;
        assert!(html.contains("href=\"/settings/pipelines\" aria-current=\"page\">Pipelines</a>"));
        let r = post(&ada, &s.url("/settings/pipelines"), &[("_csrf", &csrf), ("name", "Partners")]).await;
        assert_eq!(location(&r), "/settings/pipelines", "{}", s.label);
        let html = strict_page(&ada, &s.url("/settings/pipelines")).await;
        let section = html.split("<h2>Partners</h2>").nth(1).unwrap();
        let action = attrs(section, "action")[0].clone();
        let version = form_value(section, "version");
        let ids: Vec<String> = (0..5).map(|i| form_value(section, &format!("s{i}_id"))).collect();
        let mut form: Vec<(String, String)> =
            vec![("_csrf".into(), csrf.clone()), ("version".into(), version), ("name".into(), "Partners".into())];
        for (i, id) in ids.iter().enumerate() {
            form.push((format!("s{i}_id"), id.clone()));
            form.push((format!("s{i}_pos"), (i + 1).to_string()));
            form.push((format!("s{i}_name"), if i == 0 { "Intro".into() } else { format!("Step {i}") }));
            form.push((format!("s{i}_prob"), (i * 20).to_string()));
        }
        form.push(("s5_name".into(), "Signed".into()));
        form.push(("s5_prob".into(), "100".into()));
        let r = ada.post(s.url(&action)).form(&form).send().await.unwrap();
        assert_eq!(location(&r), "/settings/pipelines", "{}", s.label);
        let html = strict_page(&ada, &s.url("/settings/pipelines")).await;
        assert!(html.contains("value=\"Intro\"") && html.contains("value=\"Signed\""), "{}", s.label);
        let pipeline = action.trim_start_matches("/settings/pipelines/").to_string();
        let board = strict_page(&ada, &s.url(&format!("/deals/board?pipeline={pipeline}"))).await;
        assert!(board.contains(">Intro</h2>") && board.contains(">Signed</h2>"), "{}", s.label);
        let r = post(
            &ada,
            &s.url("/deals/new"),
            &[("_csrf", &csrf), ("title", "Reseller"), ("stage_id", &ids[0]), ("visibility", "everyone")],
        )
        .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let html = strict_page(&ada, &s.url("/settings/pipelines")).await;
        let section = html.split("<h2>Partners</h2>").nth(1).unwrap();
        let version = form_value(section, "version");
        let mut form: Vec<(String, String)> =
            vec![("_csrf".into(), csrf.clone()), ("version".into(), version), ("name".into(), "Partners".into())];
        for (i, id) in ids.iter().enumerate() {
            form.push((format!("s{i}_id"), id.clone()));
            form.push((format!("s{i}_name"), format!("Step {i}")));
        }
        form.push(("s0_remove".into(), "1".into()));
        let r = ada.post(s.url(&action)).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 422, "{}", s.label);
        assert!(r.text().await.unwrap().contains("still holds deals"), "{}: the conflict is explained", s.label);
    }
}
