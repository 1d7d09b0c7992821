//! The one Chromium start-up shared by the AI browser tests (settings and usage, knowledge base, assist): a
//! chromedriver on a free port with a fresh profile, headless Chromium at 1280×800 (dark with KITH_TEST_DARK=1),
//! sign-in, and screenshots into KITH_TEST_SCREENSHOTS (default /tmp). Skips, or fails under
//! KITH_TEST_REQUIRE_ALL, when Chromium or chromedriver is missing. The driver stops when dropped.

use fantoccini::{Client, ClientBuilder, Locator};
use kith_testkit::{TempDir, TestServer};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running chromedriver (stopped on drop) and the browser profile it uses.
pub struct Driver {
    child: Child,
    _profile: TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(program: &str) -> Option<String> {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().ok()?;
    let p = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!p.is_empty()).then_some(p)
}

/// Start chromedriver and a headless Chromium session; None (after `skip_or_fail`) when they are not installed.
pub async fn start() -> Option<(Driver, Client)> {
    let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
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
    let profile = TempDir::new();
    let mut caps = json!({"goog:chromeOptions": {"binary": chromium, "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,800",
        format!("--user-data-dir={}", profile.path().display())]}});
    if std::env::var("KITH_TEST_DARK").is_ok_and(|v| v == "1") {
        caps["goog:chromeOptions"]["args"].as_array_mut().unwrap().push(json!("--force-dark-mode"));
    }
    let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("webdriver session");
    Some((Driver { child, _profile: profile }, b))
}

/// Where screenshots go (created).
pub fn shot_dir() -> String {
    let dir = std::env::var("KITH_TEST_SCREENSHOTS").unwrap_or_else(|_| "/tmp".into());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Save a screenshot as `<dir>/<name>.png`.
pub async fn shot(b: &Client, name: &str) {
    std::fs::write(format!("{}/{name}.png", shot_dir()), b.screenshot().await.unwrap()).unwrap();
}

/// Sign in through the form with the test password and wait for the home page.
pub async fn sign_in(b: &Client, s: &TestServer, email: &str) {
    b.goto(&s.url("/signin")).await.unwrap();
    b.find(Locator::Id("email")).await.unwrap().send_keys(email).await.unwrap();
    b.find(Locator::Id("password")).await.unwrap().send_keys(kith_testkit::app::PASSWORD).await.unwrap();
    b.find(Locator::Css("form[action='/signin'] button[type=submit]")).await.unwrap().click().await.unwrap();
    let started = Instant::now();
    while b.current_url().await.unwrap().path() != "/" {
        assert!(started.elapsed() < Duration::from_secs(20), "sign-in did not reach the home page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
