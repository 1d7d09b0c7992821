//! With SMTP configured: invitations, address confirmation and password
//! reset go out as e-mail through the job queue, to a real SMTP server.

use crate::helpers::{browser, form_value};
use kith_app::worker::{Registry, Worker};
use kith_testkit::smtp::{ServerTls, SmtpServer};
use kith_testkit::{app::test_settings, spawn_with, TestDb};

async fn deliver(app: &kith_app::App) {
    let worker = Worker::new(app.clone(), Registry::standard());
    while worker.run_once().await.unwrap() > 0 {}
}

fn link_in(message: &serde_json::Value, path: &str) -> String {
    let body = message["body"].as_str().or_else(|| message["text"].as_str()).unwrap_or_default().to_string();
    let raw = if body.is_empty() { message.to_string() } else { body };
    let start = raw.find(path).unwrap_or_else(|| panic!("no {path} link in {message:#}"));
    let from = raw[..start].rfind("http").unwrap();
    raw[from..].split(|c: char| c.is_whitespace() || c == '"' || c == '\\').next().unwrap().to_string()
}

#[tokio::test]
async fn invitation_confirmation_and_reset_arrive_by_email() {
    let Some(smtp) = SmtpServer::start(ServerTls::None) else { return };
    let mut settings = test_settings();
    settings.mail = Some(kith_app::MailConfig {
        url: smtp.url("smtp+plain"),
        from: "Kith <kith@example.test>".into(),
        timeout: std::time::Duration::from_secs(10),
    });
    let s = spawn_with(
        TestDb::sqlite().await,
        settings,
        kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() },
    )
    .await;

    // Sign-up queues a confirmation e-mail; its link confirms the address.
    let c = browser();
    let html = c.get(s.url("/signup")).send().await.unwrap().text().await.unwrap();
    let csrf = form_value(&html, "_csrf");
    let form = [
        ("_csrf", csrf.as_str()),
        ("name", "Ada"),
        ("email", "ada@example.com"),
        ("password", "correct horse battery"),
        ("workspace_name", "Acme"),
    ];
    assert_eq!(c.post(s.url("/signup")).form(&form).send().await.unwrap().status(), 303);
    deliver(&s.app).await;
    let confirm = smtp.only_message();
    assert!(confirm.to_string().contains("ada@example.com"));
    let link = link_in(&confirm, "/verify-email/");
    let r = c.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 303, "the confirmation link works");
    let profile = c.get(s.url("/settings/profile")).send().await.unwrap().text().await.unwrap();
    assert!(
        profile.contains("Confirmed") && !profile.contains("Not confirmed"),
        "the profile shows the address confirmed"
    );
    assert_eq!(c.get(&link).send().await.unwrap().status(), 410, "and works once");

    // An invitation is e-mailed; the page says so.
    let html = c.get(s.url("/settings/members")).send().await.unwrap().text().await.unwrap();
    let csrf = form_value(&html, "_csrf");
    let page = c
        .post(s.url("/settings/members/invite"))
        .form(&[("_csrf", csrf.as_str()), ("email", "mia@example.com"), ("role", "member")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("We e-mailed the invitation to mia@example.com"));
    deliver(&s.app).await;
    let all = smtp.messages();
    let invite = all.iter().find(|m| m.to_string().contains("mia@example.com")).expect("invitation mail");
    let link = link_in(invite, "/invite/");
    let mia = browser();
    let html = mia.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Join Acme"));

    // Password reset by e-mailed link; the same answer for unknown addresses.
    let anon = browser();
    let html = anon.get(s.url("/reset-password")).send().await.unwrap().text().await.unwrap();
    let csrf = form_value(&html, "_csrf");
    let sent = anon
        .post(s.url("/reset-password"))
        .form(&[("_csrf", csrf.as_str()), ("email", "ada@example.com")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let unknown = anon
        .post(s.url("/reset-password"))
        .form(&[("_csrf", csrf.as_str()), ("email", "who@example.com")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(sent, unknown, "addresses cannot be probed");
    deliver(&s.app).await;
    let all = smtp.messages();
    assert_eq!(all.len(), 3, "confirmation, invitation, one reset (none for the unknown address)");
    let reset = all.iter().find(|m| m.to_string().contains("Reset your Kith password")).expect("reset mail");
    let link = link_in(reset, "/reset-password/");
    let html = anon.get(&link).send().await.unwrap().text().await.unwrap();
    let csrf = form_value(&html, "_csrf");
    let path = link.trim_start_matches(&s.base).to_string();
    let r = anon
        .post(s.url(&path))
        .form(&[("_csrf", csrf.as_str()), ("password", "a brand new password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let signed = kith_app::identity::sign_in(
        &s.app,
        kith_app::identity::SignIn { email: "ada@example.com".into(), password: "a brand new password".into() },
        &Default::default(),
    )
    .await;
    assert!(signed.is_ok(), "the new password works");

    // Job payloads are sealed: no link or address in the jobs table.
    let payloads = kith_testkit::raw_bytes(&s.raw_url, "SELECT payload FROM jobs").await.concat();
    assert!(!payloads.windows(11).any(|w| w == b"example.com"));
}
