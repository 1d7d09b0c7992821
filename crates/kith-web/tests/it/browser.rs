//! The main flow in Debian's Chromium, driven through chromedriver:
//! sign-up → two-factor → sign-in with 2FA → invite → accept → switch workspace.
//! Skips (or fails under KITH_TEST_REQUIRE_ALL) when Chromium or chromedriver
//! is missing. Set KITH_TEST_SCREENSHOTS=<dir> to keep a PNG of each step.

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
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
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
