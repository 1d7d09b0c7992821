//! Task reminders: due reminders are e-mailed once to the assignee, through
//! a real SMTP server (aiosmtpd), on both backends.

use crate::support::*;
use kith_app::crm::{reminders, tasks};
use kith_app::worker::{Registry, Worker};
use kith_domain::time::{now_ms, MINUTE_MS};
use kith_testkit::smtp::{ServerTls, SmtpServer};
use kith_testkit::{app::test_settings, TestApp, TestDb};

#[tokio::test]
async fn a_due_reminder_is_mailed_once_and_a_future_or_done_one_is_not() {
    let Some(smtp) = SmtpServer::start(ServerTls::None) else { return };
    for db in TestDb::all().await {
        let mut settings = test_settings();
        settings.mail = Some(kith_app::MailConfig {
            url: smtp.url("smtp+plain"),
            from: "Kith <kith@example.test>".into(),
            timeout: std::time::Duration::from_secs(10),
        });
        let t = TestApp::new(db, settings);
        let (app, l) = (&t.app, t.label);
        let owner = t.user(&format!("remind-{l}@crm.test")).await;
        let o = owner_ctx(app, &owner).await;
        let now = now_ms();
        let task = |title: &str, reminder: i64| tasks::TaskInput {
            title: Some(title.into()),
            due_at_ms: Some(Some(now + 60 * MINUTE_MS)),
            reminder_at_ms: Some(Some(reminder)),
            ..Default::default()
        };
        tasks::create(app, &o, &task(&format!("Call Ada back ({l})"), now - MINUTE_MS)).await.unwrap();
        tasks::create(app, &o, &task("Later", now + 30 * MINUTE_MS)).await.unwrap();
        let done = tasks::create(app, &o, &task("Already done", now - MINUTE_MS)).await.unwrap();
        let finish = tasks::TaskInput { done: Some(true), ..Default::default() };
        tasks::update(app, &o, done.id, &finish, None).await.unwrap();
        let before = smtp.messages().len();

        assert_eq!(reminders::send_due(app, now).await.unwrap(), 1, "{l}: only the due, open task");
        assert_eq!(reminders::send_due(app, now).await.unwrap(), 0, "{l}: and only once");
        let mut registry = Registry::default();
        kith_app::mail::register(&mut registry);
        let w = Worker::new(app.clone(), registry);
        while w.run_once().await.unwrap() > 0 {}
        let reminders: Vec<String> =
            smtp.messages()[before..].iter().map(|m| m.to_string()).filter(|m| m.contains("Reminder:")).collect();
        assert_eq!(reminders.len(), 1, "{l}: one reminder mail (sign-up mails aside)");
        assert!(reminders[0].contains(&format!("Call Ada back ({l})")) && reminders[0].contains(&owner.email), "{l}");
    }
}
