//! The main flows in Debian's Chromium, driven through chromedriver:
//! sign-up → two-factor → sign-in with 2FA → invite → accept → switch workspace;
//! and the CRM: contact → note → command palette → deal → keyboard move on the board.
//! Skips (or fails under KITH_TEST_REQUIRE_ALL) when Chromium or chromedriver
//! is missing. Set KITH_TEST_SCREENSHOTS=<dir> to keep a PNG of each step.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use kith_testkit::{spawn_app, TempDir};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Driver {
    child: Child,
    url: String,
    _profiles: Vec<TempDir>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(program: &str) -> Option<String> {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!path.is_empty()).then_some(path)
}

async fn start_driver() -> Option<Driver> {
    let (Some(driver), Some(_)) = (find("chromedriver"), find("chromium")) else {
        kith_testkit::skip_or_fail(
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(Driver { child, url: format!("http://127.0.0.1:{port}"), _profiles: Vec::new() })
}

async fn browser(driver: &mut Driver) -> Client {
    let profile = TempDir::new();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": find("chromium").unwrap(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                     format!("--user-data-dir={}", profile.path().display())]
        }
    });
    driver._profiles.push(profile);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .expect("webdriver session")
}

async fn shot(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("KITH_TEST_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

async fn fill(c: &Client, id: &str, text: &str) {
    let el = c.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("#{id}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn submit(c: &Client, form_action: &str) {
    c.find(Locator::Css(&format!("form[action='{form_action}'] button[type=submit]")))
        .await
        .unwrap_or_else(|e| panic!("{form_action}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn wait_path(c: &Client, path: &str) {
    let started = Instant::now();
    loop {
        if c.current_url().await.unwrap().path() == path {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "expected {path}, at {}", c.current_url().await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text(c: &Client, css: &str) -> String {
    let started = Instant::now();
    loop {
        let el = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        // The page may be replaced between finding and reading (a form just posted).
        match el.text().await {
            Ok(t) => return t,
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
}

/// Wait until the address starts with `prefix` (a new record's page).
async fn wait_path_prefix(c: &Client, prefix: &str) -> String {
    let started = Instant::now();
    loop {
        let path = c.current_url().await.unwrap().path().to_string();
        if path.starts_with(prefix) {
            return path;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "expected {prefix}…, at {path}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The path once the browser has left `from` (a form posted from it navigated).
async fn wait_path_leaving(c: &Client, from: &str) -> String {
    let started = Instant::now();
    loop {
        let path = c.current_url().await.unwrap().path().to_string();
        if path != from {
            return path;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still at {from}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn totp(secret_b32: &str, offset_s: u64) -> String {
    let secret = kith_crypto::totp::base32_decode(secret_b32).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    kith_crypto::totp::code_at(&secret, now + offset_s)
}

#[tokio::test]
async fn signup_2fa_invite_accept_switch_in_chromium() {
    let Some(mut driver) = start_driver().await else { return };
    let s = spawn_app().await;
    let ada = browser(&mut driver).await;

    ada.goto(&s.url("/signup")).await.unwrap();
    shot(&ada, "01-signup").await;
    fill(&ada, "name", "Ada Lovelace").await;
    fill(&ada, "email", "ada@example.com").await;
    fill(&ada, "password", "correct horse battery").await;
    fill(&ada, "workspace_name", "Acme Law").await;
    submit(&ada, "/signup").await;
    wait_path(&ada, "/").await;
    assert!(text(&ada, "h1").await.contains("Welcome, Ada"));
    shot(&ada, "02-home").await;

    ada.goto(&s.url("/settings/security")).await.unwrap();
    submit(&ada, "/settings/security/2fa/start").await;
    let secret = text(&ada, "#totp-secret").await;
    shot(&ada, "03-2fa-setup").await;
    fill(&ada, "code", &totp(&secret, 0)).await;
    submit(&ada, "/settings/security/2fa/confirm").await;
    assert!(!text(&ada, "#recovery-codes").await.is_empty());
    shot(&ada, "04-recovery-codes").await;

    submit(&ada, "/signout").await;
    wait_path(&ada, "/signin").await;
    fill(&ada, "email", "ada@example.com").await;
    fill(&ada, "password", "correct horse battery").await;
    submit(&ada, "/signin").await;
    wait_path(&ada, "/signin/2fa").await;
    shot(&ada, "05-2fa-step").await;
    fill(&ada, "code", &totp(&secret, 30)).await;
    submit(&ada, "/signin/2fa").await;
    wait_path(&ada, "/").await;

    ada.goto(&s.url("/settings/members")).await.unwrap();
    fill(&ada, "invite-email", "mia@example.com").await;
    submit(&ada, "/settings/members/invite").await;
    let link = text(&ada, "#invite-link").await;
    shot(&ada, "06-invited").await;

    let mia = browser(&mut driver).await;
    mia.goto(&link).await.unwrap();
    assert!(text(&mia, "h2").await.contains("Join Acme Law"));
    shot(&mia, "07-invitation").await;
    fill(&mia, "name", "Mia Wong").await;
    fill(&mia, "password", "another good password").await;
    mia.find(Locator::Css("form.form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_path(&mia, "/").await;
    assert!(text(&mia, ".topbar-title").await.contains("Acme Law"));

    mia.goto(&s.url("/workspaces/new")).await.unwrap();
    fill(&mia, "name", "Mia Consulting").await;
    submit(&mia, "/workspaces/new").await;
    wait_path(&mia, "/").await;
    assert!(text(&mia, ".topbar-title").await.contains("Mia Consulting"));
    shot(&mia, "08-own-workspace").await;

    // The switcher submits on change (JavaScript), landing in Acme Law.
    mia.find(Locator::Id("ws-select")).await.unwrap().select_by_label("Acme Law").await.unwrap();
    let started = Instant::now();
    while !text(&mia, ".topbar-title").await.contains("Acme Law") {
        assert!(started.elapsed() < Duration::from_secs(10), "switcher did not switch");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(&mia, "09-switched").await;
    mia.close().await.unwrap();
    ada.close().await.unwrap();
}

/// A screenshot at a laptop's and a phone's size (then back to the laptop's).
async fn shots(c: &Client, name: &str) {
    if std::env::var("KITH_TEST_SCREENSHOTS").is_err() {
        return;
    }
    for (w, h) in [(1280, 800), (390, 844)] {
        viewport(c, w, h).await;
        shot(c, &format!("{name}-{w}")).await;
    }
    viewport(c, 1280, 800).await;
}

/// Size the window so that the page itself (the viewport) is `w`×`h`.
async fn viewport(c: &Client, w: u32, h: u32) {
    c.set_window_size(w, h).await.unwrap();
    let inner = c.execute("return [window.innerWidth, window.innerHeight]", vec![]).await.unwrap();
    let (iw, ih) = (inner[0].as_u64().unwrap_or(w as u64) as u32, inner[1].as_u64().unwrap_or(h as u64) as u32);
    c.set_window_size(w + w.saturating_sub(iw), h + h.saturating_sub(ih)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// Press keys together (modifiers first), then release them.
async fn press(c: &Client, keys: &[char]) {
    let mut seq = KeyActions::new("keyboard".into());
    for k in keys {
        seq = seq.then(KeyAction::Down { value: *k });
    }
    for k in keys.iter().rev() {
        seq = seq.then(KeyAction::Up { value: *k });
    }
    c.perform_actions(seq).await.unwrap();
}

async fn wait_for(c: &Client, what: &str, check: impl AsyncFn() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = c;
}

#[tokio::test]
async fn crm_contact_note_palette_deal_board_in_chromium() {
    let Some(mut driver) = start_driver().await else { return };
    let s = spawn_app().await;
    let c = browser(&mut driver).await;

    c.goto(&s.url("/signup")).await.unwrap();
    fill(&c, "name", "Ada Lovelace").await;
    fill(&c, "email", "ada@example.com").await;
    fill(&c, "password", "correct horse battery").await;
    fill(&c, "workspace_name", "Acme Law").await;
    submit(&c, "/signup").await;
    wait_path(&c, "/").await;

    c.goto(&s.url("/contacts")).await.unwrap();
    assert!(text(&c, ".empty-state").await.contains("No contacts yet"));
    shots(&c, "crm-01-contacts-empty").await;

    // A company, then people (the first one is the one this flow follows).
    c.goto(&s.url("/companies/new")).await.unwrap();
    fill(&c, "name", "Analytical Engines Ltd").await;
    fill(&c, "domain", "engines.example").await;
    submit(&c, "/companies/new").await;
    wait_path_prefix(&c, "/companies/0").await;
    assert!(text(&c, "h1").await.contains("Analytical Engines"));
    let people = [
        ("Charles", "Babbage", "charles@engines.example", "+44 20 7946 0958", "Inventor", "vip, founder"),
        ("Grace", "Hopper", "grace@navy.example", "+1 415 555 0100", "Rear admiral", "navy"),
        ("Alan", "Turing", "alan@bletchley.example", "+44 1908 640404", "Cryptanalyst", "vip"),
        ("Katherine", "Johnson", "katherine@nasa.example", "+1 757 864 1000", "Mathematician", ""),
    ];
    let mut first_url = String::new();
    for (i, (first, last, email, phone, title, tags)) in people.iter().enumerate() {
        c.goto(&s.url("/contacts/new")).await.unwrap();
        fill(&c, "first_name", first).await;
        fill(&c, "last_name", last).await;
        fill(&c, "email", email).await;
        fill(&c, "phone", phone).await;
        fill(&c, "title", title).await;
        fill(&c, "tags", tags).await;
        if i == 0 {
            c.find(Locator::Id("company_id")).await.unwrap().select_by_label("Analytical Engines Ltd").await.unwrap();
        }
        submit(&c, "/contacts/new").await;
        let path = wait_path_prefix(&c, "/contacts/0").await;
        if i == 0 {
            first_url = path;
        }
    }
    c.goto(&s.url("/contacts")).await.unwrap();
    assert!(text(&c, "table").await.contains("+1 415 555 0100"));
    shots(&c, "crm-02-contacts").await;

    // A note on Charles, from the composer above his timeline.
    c.goto(&s.url(&first_url)).await.unwrap();
    fill(&c, "note-body", "Wants a quote for the difference engine").await;
    submit(&c, &format!("{first_url}/notes")).await;
    assert!(text(&c, ".timeline").await.contains("difference engine"));
    assert!(text(&c, ".flash").await.contains("Note added"));
    shots(&c, "crm-03-contact").await;

    // The palette finds him by a word of the note; Enter opens his page.
    c.goto(&s.url("/contacts")).await.unwrap();
    press(&c, &[Key::Control.into(), 'k']).await;
    let input = c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("#palette-input")).await.unwrap();
    input.send_keys("difference").await.unwrap();
    let found = text(&c, "#palette-list [role=option][aria-selected=true]").await;
    assert!(found.contains("Charles Babbage"), "{found}");
    shots(&c, "crm-04-palette").await;
    press(&c, &[Key::Control.into(), 'k']).await;
    press(&c, &[Key::Control.into(), 'k']).await;
    c.find(Locator::Id("palette-input")).await.unwrap().send_keys("babb").await.unwrap();
    wait_for(&c, "a palette hit", async || {
        c.find(Locator::Css("#palette-list [role=option][aria-selected=true]")).await.is_ok_and(|_| true)
    })
    .await;
    let found = text(&c, "#palette-list [role=option][aria-selected=true]").await;
    assert!(found.contains("Charles Babbage"), "{found}");
    press(&c, &[Key::Enter.into()]).await;
    wait_path(&c, &first_url).await;

    // A deal with him, then onto the board.
    c.find(Locator::Css("a[href^='/deals/new?contact=']")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/deals/new").await;
    fill(&c, "title", "Difference engine No. 2").await;
    fill(&c, "value", "990").await;
    fill(&c, "currency", "EUR").await;
    submit(&c, "/deals/new").await;
    wait_path_prefix(&c, "/deals/0").await;
    assert!(text(&c, ".record-sub").await.contains("EUR 990.00"));
    c.goto(&s.url("/deals/new")).await.unwrap();
    fill(&c, "title", "Bombe maintenance").await;
    fill(&c, "value", "12500").await;
    fill(&c, "currency", "GBP").await;
    submit(&c, "/deals/new").await;
    wait_path_prefix(&c, "/deals/0").await;
    assert!(text(&c, "h1").await.contains("Bombe"));

    c.goto(&s.url("/deals/board")).await.unwrap();
    let first_col = ".board-col:nth-child(1)";
    let second_col = ".board-col:nth-child(2)";
    assert_eq!(text(&c, &format!("{first_col} [data-count]")).await, "2");
    assert_eq!(text(&c, &format!("{second_col} [data-count]")).await, "0");
    // Keyboard: focus the card, press ] to move it one stage on.
    c.execute(
        "Array.from(document.querySelectorAll('.deal-card-title')).find(a => a.textContent.includes('Difference')).focus()",
        vec![],
    )
    .await
    .unwrap();
    press(&c, &[']']).await;
    wait_for(&c, "the card in the next column", async || {
        c.find(Locator::Css(&format!("{second_col} .deal-card"))).await.is_ok()
    })
    .await;
    assert!(text(&c, &format!("{second_col} .deal-card")).await.contains("Difference engine"));
    assert_eq!(text(&c, &format!("{second_col} [data-count]")).await, "1");
    assert_eq!(text(&c, &format!("{first_col} [data-count]")).await, "1");
    assert!(text(&c, &format!("{second_col} [data-totals]")).await.contains("EUR 990.00"));
    let focused = c.execute("return document.activeElement.textContent", vec![]).await.unwrap();
    assert!(focused.as_str().unwrap_or("").contains("Difference"), "focus stays on the card: {focused}");
    // Alt+→ moves it once more; the server has it there after a reload.
    press(&c, &[Key::Alt.into(), Key::Right.into()]).await;
    let third_col = ".board-col:nth-child(3)";
    wait_for(&c, "the card in the third column", async || {
        c.find(Locator::Css(&format!("{third_col} .deal-card"))).await.is_ok()
    })
    .await;
    c.refresh().await.unwrap();
    assert!(text(&c, &format!("{third_col} .deal-card")).await.contains("Difference engine"));
    shots(&c, "crm-05-board").await;

    // The deal's timeline has both moves.
    c.find(Locator::Css(&format!("{third_col} .deal-card-title"))).await.unwrap().click().await.unwrap();
    let timeline = text(&c, ".timeline").await;
    assert!(timeline.contains("Moved from Qualified to Proposal") && timeline.contains("Moved from Lead to Qualified"));
    shots(&c, "crm-06-deal").await;

    // Tasks: add one from the inbox, one overdue; tick the overdue one.
    c.goto(&s.url("/tasks")).await.unwrap();
    fill(&c, "task-title", "Send the engine quote").await;
    submit(&c, "/tasks").await;
    assert!(text(&c, ".table-tasks").await.contains("Send the engine quote"));
    c.goto(&s.url(&first_url)).await.unwrap();
    c.execute("document.querySelector('details.compose-more').open = true", vec![]).await.unwrap();
    fill(&c, "task-title", "Call Charles back").await;
    c.execute("document.getElementById('task-date').value = '2024-01-05'", vec![]).await.unwrap();
    submit(&c, &format!("{first_url}/tasks")).await;
    assert!(text(&c, ".flash").await.contains("Task added"));
    c.goto(&s.url("/tasks?view=overdue")).await.unwrap();
    assert!(text(&c, ".table-tasks").await.contains("Call Charles back"));
    c.goto(&s.url("/tasks?view=open")).await.unwrap();
    shots(&c, "crm-07-tasks").await;
    c.find(Locator::Css(".table-tasks input[type=checkbox]")).await.unwrap().click().await.unwrap();
    assert!(text(&c, ".flash").await.contains("Done:"));

    c.goto(&s.url("/search?q=engine")).await.unwrap();
    assert!(
        text(&c, ".search-group").await.contains("Analytical Engines") || text(&c, "main").await.contains("Difference")
    );
    shots(&c, "crm-08-search").await;

    // The other pages, for the eye: a company, the deals table, a form with errors, pipelines.
    c.find(Locator::Css("a[href^='/companies/0']")).await.unwrap().click().await.unwrap();
    wait_path_prefix(&c, "/companies/0").await;
    shots(&c, "crm-09-company").await;
    c.goto(&s.url("/deals")).await.unwrap();
    assert!(text(&c, "table").await.contains("EUR 990.00"));
    shots(&c, "crm-10-deals-table").await;
    c.goto(&s.url("/contacts/new")).await.unwrap();
    fill(&c, "email", "not an address").await;
    submit(&c, "/contacts/new").await;
    assert!(text(&c, "#email-error").await.contains("is not an e-mail address"));
    shots(&c, "crm-11-contact-errors").await;
    c.goto(&s.url("/settings/pipelines")).await.unwrap();
    shots(&c, "crm-12-pipelines").await;
    c.close().await.unwrap();
}

/// Background jobs (imports, exports, webhooks, bulk actions) for a browser test, as the
/// shipped binary's worker runs them; stopped when dropped.
struct Jobs(tokio::task::JoinHandle<()>);

impl Jobs {
    fn start(app: kith_app::App) -> Jobs {
        Jobs(tokio::spawn(async move {
            let worker = kith_app::worker::Worker::new(app, kith_app::worker::Registry::standard());
            loop {
                let _ = worker.run_once().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }))
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test]
async fn import_wizard_exports_and_webhooks_in_chromium() {
    let Some(mut driver) = start_driver().await else { return };
    let s = spawn_app().await;
    let c = browser(&mut driver).await;
    let files = TempDir::new();
    let csv = files.path().join("hubspot-contacts.csv");
    std::fs::write(
        &csv,
        "Record ID,First Name,Last Name,Email,Phone Number,Lifecycle Stage,Company Name,Job Title\n\
         1001,Grace,Hopper,grace@navy.example,+1 415 555 0100,lead,US Navy,Rear admiral\n\
         1002,Alan,Turing,not-an-email,+44 20 7946 0958,customer,Bletchley Park,Cryptanalyst\n\
         1003,Katherine,Johnson,katherine@nasa.example,+1 757 864 1000,customer,NASA,Mathematician\n\
         1004,Charles,Babbage,charles@engines.example,,lead,Analytical Engines Ltd,Inventor\n\
         1005,Ada,Byron,ada.byron@example.com,,customer,,Countess\n\
         1006,Hedy,Lamarr,hedy@example.com,,lead,MGM,Inventor\n",
    )
    .unwrap();

    c.goto(&s.url("/signup")).await.unwrap();
    fill(&c, "name", "Ada Lovelace").await;
    fill(&c, "email", "ada@example.com").await;
    fill(&c, "password", "correct horse battery").await;
    fill(&c, "workspace_name", "Acme Law").await;
    submit(&c, "/signup").await;
    wait_path(&c, "/").await;

    // Step 1: the upload form (a real file input).
    c.goto(&s.url("/contacts")).await.unwrap();
    c.find(Locator::Css("a[href='/contacts/import']")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/contacts/import").await;
    shots(&c, "data-01-import-upload").await;
    c.find(Locator::Id("import-file")).await.unwrap().send_keys(&csv.display().to_string()).await.unwrap();
    submit(&c, "/contacts/import").await;
    let map = wait_path_prefix(&c, "/contacts/import/0").await;
    assert!(map.ends_with("/map"), "{map}");

    // Step 2: the columns, as detected, and the first rows.
    assert!(text(&c, ".page-header").await.contains("HubSpot"));
    assert!(text(&c, ".table-preview").await.contains("not-an-email"));
    c.find(Locator::Id("col-5")).await.unwrap().select_by_value("tags").await.unwrap();
    shots(&c, "data-02-import-columns").await;
    c.find(Locator::Css(&format!("form[method=post][action='{map}'] button.btn-primary")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The map page's path has the same prefix: wait for the browser to leave it.
    let progress = wait_path_leaving(&c, &map).await;
    assert!(progress.starts_with("/contacts/import/0"), "{progress}");
    assert!(!progress.ends_with("/map"));
    assert!(text(&c, ".import-status .badge").await.contains("Waiting to start"));
    shots(&c, "data-03-import-waiting").await;

    // Step 3: with the worker running, the page updates itself to "Done".
    let jobs = Jobs::start(s.app.clone());
    wait_for(&c, "the import to finish", async || text(&c, ".import-status .badge").await.contains("Done")).await;
    assert_eq!(text(&c, "[data-field=created]").await, "5");
    assert_eq!(text(&c, "[data-field=failed]").await, "1");
    assert!(c.find(Locator::Css("a[href$='/report.csv']")).await.unwrap().is_displayed().await.unwrap());
    shots(&c, "data-04-import-done").await;

    // The export menu on the list.
    c.goto(&s.url("/contacts")).await.unwrap();
    assert!(text(&c, "table").await.contains("Grace Hopper"));
    c.find(Locator::Css("details.menu > summary")).await.unwrap().click().await.unwrap();
    assert!(c.find(Locator::Css("a[href='/contacts/export.vcf']")).await.unwrap().is_displayed().await.unwrap());
    shots(&c, "data-05-export-menu").await;
    c.find(Locator::Css("details.menu > summary")).await.unwrap().click().await.unwrap();
    c.goto(&s.url("/contacts/import")).await.unwrap();
    shots(&c, "data-06-import-list").await;

    // Webhooks: the secret shown once, then the delivery log.
    c.goto(&s.url("/settings/webhooks")).await.unwrap();
    fill(&c, "webhook-url", "http://127.0.0.1:9/hooks/kith").await;
    fill(&c, "webhook-description", "Billing sync").await;
    c.find(Locator::Css("input[name=events][value='contact.created']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("input[name=events][value='deal.updated']")).await.unwrap().click().await.unwrap();
    submit(&c, "/settings/webhooks").await;
    assert!(text(&c, "#webhook-secret").await.starts_with("whsec_"));
    shots(&c, "data-07-webhook-created").await;
    c.goto(&s.url("/contacts/new")).await.unwrap();
    fill(&c, "first_name", "Barbara").await;
    fill(&c, "last_name", "Liskov").await;
    submit(&c, "/contacts/new").await;
    wait_path_prefix(&c, "/contacts/0").await;
    c.goto(&s.url("/settings/webhooks")).await.unwrap();
    assert!(!text(&c, "main").await.contains("whsec_"));
    shots(&c, "data-08-webhooks").await;
    c.find(Locator::Css("a.btn[href^='/settings/webhooks/']")).await.unwrap().click().await.unwrap();
    wait_for(&c, "a logged attempt", async || {
        c.refresh().await.unwrap();
        text(&c, "main").await.contains("contact.created") && text(&c, "main").await.contains("HTTP")
            || text(&c, "main").await.contains("error")
            || text(&c, ".badge-delivery-pending").await.contains("pending")
    })
    .await;
    shots(&c, "data-09-webhook-deliveries").await;

    // Data export: confirm, watch it get ready, the download link appears.
    c.goto(&s.url("/settings/exports")).await.unwrap();
    c.execute("window.confirm = () => true", vec![]).await.unwrap();
    submit(&c, "/settings/exports").await;
    wait_for(&c, "the export to be ready", async || {
        c.find(Locator::Css("a[href$='/download']")).await.is_ok_and(|_| true)
            && text(&c, "tbody .badge").await.contains("Ready")
    })
    .await;
    shots(&c, "data-10-exports").await;

    // Workspace and members settings.
    c.goto(&s.url("/settings/workspace")).await.unwrap();
    fill(&c, "phone_country_code", "44").await;
    submit(&c, "/settings/workspace/phone").await;
    assert!(text(&c, ".flash").await.contains("+44"));
    shots(&c, "data-11-workspace").await;

    // A member to limit to their own records (accepting over plain HTTP).
    c.goto(&s.url("/settings/members")).await.unwrap();
    fill(&c, "invite-email", "bob@example.com").await;
    submit(&c, "/settings/members/invite").await;
    let link = text(&c, "#invite-link").await;
    let bob = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let html = bob.get(&link).send().await.unwrap().text().await.unwrap();
    let csrf = html.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let accepted = bob
        .post(&link)
        .form(&[("_csrf", csrf.as_str()), ("name", "Bob Member"), ("password", "another good password")])
        .send()
        .await
        .unwrap();
    assert!(accepted.status().is_success(), "{}", accepted.status());
    c.goto(&s.url("/settings/members")).await.unwrap();
    c.find(Locator::Css("form.own-form input[name=own_only]")).await.unwrap().click().await.unwrap();
    assert!(text(&c, ".flash").await.contains("only the contacts, companies and deals they own"));
    shots(&c, "data-12-members").await;
    drop(jobs);
    c.close().await.unwrap();
}

#[tokio::test]
async fn lists_views_columns_sort_bulk_and_deal_people_in_chromium() {
    let Some(mut driver) = start_driver().await else { return };
    let s = spawn_app().await;
    let (_, token) = s.user_with_token("ada@lists.example").await;
    let api = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| api.post(s.url(path)).bearer_auth(&token).json(&body).send();
    post(
        "/api/v1/custom-fields",
        serde_json::json!({"record_type": "contact", "key": "tier", "label": "Tier", "kind": "text"}),
    )
    .await
    .unwrap();
    let people = [
        ("Grace", "Hopper", "grace@navy.example", "Rear admiral", "Gold", "vip"),
        ("Alan", "Turing", "alan@bletchley.example", "Cryptanalyst", "Silver", "vip"),
        ("Katherine", "Johnson", "katherine@nasa.example", "Mathematician", "Gold", ""),
        ("Charles", "Babbage", "charles@engines.example", "Inventor", "Bronze", "founder"),
        ("Ada", "Byron", "ada.byron@example.com", "Countess", "Gold", "vip"),
        ("Hedy", "Lamarr", "hedy@example.com", "Inventor", "Silver", ""),
        ("Barbara", "Liskov", "barbara@mit.example", "Professor", "Gold", ""),
    ];
    for (first, last, email, title, tier, tags) in people {
        let tags: Vec<&str> = tags.split(',').filter(|t| !t.is_empty()).collect();
        let r = post(
            "/api/v1/contacts",
            serde_json::json!({"first_name": first, "last_name": last, "emails": [{"value": email}], "title": title,
                               "tags": tags, "custom": {"tier": tier}, "phones": [{"value": "+14155550100"}]}),
        )
        .await
        .unwrap();
        assert!(r.status().is_success());
    }
    let c = browser(&mut driver).await;
    c.goto(&s.url("/signin")).await.unwrap();
    fill(&c, "email", "ada@lists.example").await;
    fill(&c, "password", kith_testkit::app::PASSWORD).await;
    submit(&c, "/signin").await;
    wait_path(&c, "/").await;

    // Columns: Job title and Tier instead of Phone and Company.
    c.goto(&s.url("/contacts")).await.unwrap();
    c.execute("document.querySelector('fieldset.col-choices').closest('details').open = true", vec![]).await.unwrap();
    for (key, on) in [("phone", false), ("company", false), ("title", true), ("cf.tier", true)] {
        let el = c.find(Locator::Css(&format!("fieldset.col-choices input[value='{key}']"))).await.unwrap();
        if el.is_selected().await.unwrap() != on {
            el.click().await.unwrap();
        }
    }
    shots(&c, "lists-00-columns-menu").await;
    c.find(Locator::Css("fieldset.col-choices ~ button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for(&c, "the chosen columns", async || text(&c, "thead").await.contains("Tier")).await;
    let head = text(&c, "thead").await;
    assert!(head.contains("Job title") && !head.contains("Phone"), "{head}");

    // Sort: click Name, then shift-click Job title for a second key.
    c.find(Locator::Css("a.sort-link[data-sort-key='name']")).await.unwrap().click().await.unwrap();
    wait_for(&c, "sorted by name", async || c.current_url().await.unwrap().query().unwrap_or("").contains("sort=name"))
        .await;
    assert!(text(&c, "table.table-records tbody tr:first-child").await.contains("Ada Byron"));
    c.execute(
        "document.querySelector(\"a.sort-link[data-sort-key='title']\").dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, shiftKey: true}))",
        vec![],
    )
    .await
    .unwrap();
    wait_for(&c, "a second sort key", async || {
        c.current_url().await.unwrap().query().unwrap_or("").contains("sort=name%2Ctitle")
    })
    .await;
    assert!(text(&c, "th[aria-sort='ascending']").await.contains("Name"));
    c.execute("document.querySelector('form[aria-label^=\\'Sort\\']').closest('details').open = true", vec![])
        .await
        .unwrap();
    shots(&c, "lists-00-sort-menu").await;
    c.execute("document.querySelector('form[aria-label^=\\'Sort\\']').closest('details').open = false", vec![])
        .await
        .unwrap();

    // Filter by the tag, then save it all as a view.
    c.find(Locator::Id("filter-tag")).await.unwrap().select_by_label("vip").await.unwrap();
    wait_for(&c, "the tag filter", async || c.current_url().await.unwrap().query().unwrap_or("").contains("tag=vip"))
        .await;
    c.execute("document.querySelector('form[action=\\'/views\\']').closest('details').open = true", vec![])
        .await
        .unwrap();
    fill(&c, "view-name", "VIP table").await;
    c.find(Locator::Css("form[action='/views'] button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for(&c, "the saved view", async || text(&c, ".view-name").await.contains("VIP table")).await;
    assert_eq!(c.find_all(Locator::Css("table.table-records tbody tr")).await.unwrap().len(), 3);
    c.execute("document.querySelector('details.view-menu').open = true", vec![]).await.unwrap();
    shots(&c, "lists-01-view-picker").await;
    c.execute("document.querySelector('details.view-menu').open = false", vec![]).await.unwrap();

    // Bulk: tick the first row, shift-click the third (a range), tag them.
    c.goto(&s.url("/contacts?sort=name")).await.unwrap();
    let boxes = c.find_all(Locator::Css("tbody input[name=id]")).await.unwrap();
    boxes[0].click().await.unwrap();
    c.execute(
        "document.querySelectorAll('tbody input[name=id]')[2].dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, shiftKey: true}))",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(text(&c, "[data-bulk-count]").await, "3 contacts selected");
    fill(&c, "bulk-tag", "shortlist").await;
    shots(&c, "lists-02-bulk-bar").await;
    c.find(Locator::Css("button[name=action][value=tag]")).await.unwrap().click().await.unwrap();
    wait_path_prefix(&c, "/bulk/").await;
    assert!(text(&c, "h1").await.contains("Tag 3 contacts"));
    let jobs = Jobs::start(s.app.clone());
    wait_for(&c, "the bulk job to finish", async || text(&c, ".bulk-status .badge").await.contains("Done")).await;
    assert_eq!(text(&c, "[data-field=done]").await, "3");
    let value = c.execute("return document.querySelector('progress.progress').value", vec![]).await.unwrap();
    assert_eq!(value.as_f64(), Some(3.0));
    shots(&c, "lists-03-bulk-done").await;
    c.find(Locator::Css("a.btn-primary[data-if=finished]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/contacts").await;
    c.goto(&s.url("/contacts?tag=shortlist")).await.unwrap();
    assert_eq!(c.find_all(Locator::Css("table.table-records tbody tr")).await.unwrap().len(), 3);
    drop(jobs);

    // The saved view from the picker, at a phone's size too.
    c.goto(&s.url("/contacts")).await.unwrap();
    c.find(Locator::Css("details.view-menu > summary")).await.unwrap().click().await.unwrap();
    c.find(Locator::LinkText("VIP table")).await.unwrap().click().await.unwrap();
    wait_for(&c, "the view applied", async || text(&c, ".view-name").await.contains("VIP table")).await;
    assert!(text(&c, "thead").await.contains("Tier"));
    shots(&c, "lists-04-view").await;

    // A deal's people: link one more from its page.
    let deal: serde_json::Value =
        post("/api/v1/deals", serde_json::json!({"title": "Compiler"})).await.unwrap().json().await.unwrap();
    let url = format!("/deals/{}", deal["id"].as_str().unwrap());
    c.goto(&s.url(&url)).await.unwrap();
    assert!(text(&c, "#people").await.contains("No people linked"));
    c.find(Locator::Id("link-contact")).await.unwrap().select_by_label("Grace Hopper").await.unwrap();
    c.find(Locator::Css(&format!("form[action='{url}/contacts'] button"))).await.unwrap().click().await.unwrap();
    wait_for(&c, "the linked person", async || text(&c, "#people").await.contains("Grace Hopper")).await;
    shots(&c, "lists-05-deal-people").await;
    c.close().await.unwrap();
}
