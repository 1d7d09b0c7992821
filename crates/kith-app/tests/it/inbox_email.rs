//! E-mail channels against real servers the tests start: pymap (IMAP, with
//! IDLE) receives messages through Python's imaplib APPEND, aiosmtpd
//! captures what the `inbox.send` job submits. Both backends.
//!
//! Covered: a fetched e-mail becomes a message in a conversation with a new
//! shared contact (never the personal one with the same address); HTML is
//! sanitised; the same message fetched twice is stored once; a reply joins
//! the conversation whose message it names in In-Reply-To/References; each
//! poll resumes after the last UID stored; the background poller picks mail
//! up through IDLE and resumes after a restart; a reply goes out over SMTP
//! with From/To/Subject/In-Reply-To/References, and the customer's answer to
//! it threads back.

use crate::support::*;
use kith_app::crm::contacts::{self, ContactInput, LabeledValue};
use kith_app::inbox::channels::{self, NewChannel};
use kith_app::inbox::conversations::{self, ConversationQuery};
use kith_app::inbox::email::{self, PollerOptions};
use kith_app::inbox::messages::{self, NewMessage};
use kith_app::worker::{Registry, Worker};
use kith_app::App;
use kith_domain::visibility::Visibility;
use kith_domain::{Context, PageRequest};
use kith_testkit::imap::ImapServer;
use kith_testkit::smtp::{ServerTls, SmtpServer};
use kith_testkit::TestApp;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

const ADDRESS: &str = "support@kith.test";

async fn drain(app: &App) {
    let w = Worker::new(app.clone(), Registry::standard());
    while w.run_once().await.unwrap() > 0 {}
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    kith_testkit::raw_i64(&t.db.raw_url, sql).await
}

async fn email_channel(app: &App, ctx: &Context, imap: &ImapServer, smtp_port: u16) -> Uuid {
    let mut config = Map::new();
    for (k, v) in [
        ("address", ADDRESS),
        ("imap_host", "127.0.0.1"),
        ("smtp_host", "127.0.0.1"),
        ("username", imap.user.as_str()),
        ("password", imap.password.as_str()),
    ] {
        config.insert(k.into(), Value::String(v.into()));
    }
    config.insert("imap_port".into(), Value::from(imap.port));
    config.insert("smtp_port".into(), Value::from(smtp_port));
    let input = NewChannel { kind: "email".into(), name: "Support".into(), config };
    channels::create(app, ctx, &input).await.unwrap().id
}

fn mail(from: &str, id: &str, subject: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
         Message-ID: <{id}>\r\n{extra_headers}MIME-Version: 1.0\r\n{body}"
    )
    .into_bytes()
}

fn plain(text: &str) -> String {
    format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n")
}

async fn conversations_of(app: &App, ctx: &Context, channel: Uuid) -> Vec<conversations::Conversation> {
    let q = ConversationQuery { channel_id: Some(channel), ..Default::default() };
    conversations::list(app, ctx, &q, &PageRequest::default()).await.unwrap().items
}

async fn thread(app: &App, ctx: &Context, conversation: Uuid) -> Vec<messages::Message> {
    messages::list(app, ctx, conversation, true, &PageRequest::default()).await.unwrap().items
}

/// The value of a header in a raw message, unfolded.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw).replace("\r\n ", " ").replace("\r\n\t", " ");
    head.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

#[tokio::test]
async fn fetched_mail_threads_is_sanitised_deduplicated_and_resumes_after_the_last_uid() {
    for t in TestApp::all().await {
        let Some(imap) = ImapServer::start("kith-imap", "imap-Pa55:word") else { return };
        let (app, l) = (&t.app, t.label);
        let owner = t.user("mail@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = email_channel(app, &o, &imap, 25).await;
        let mine = contacts::create(
            app,
            &o,
            &ContactInput {
                first_name: Some("Private".into()),
                emails: Some(vec![LabeledValue { value: "ana@example.com".into(), label: None }]),
                visibility: Some(Visibility::Personal),
                ..Default::default()
            },
        )
        .await
        .unwrap();

        // An empty mailbox: nothing fetched, the cursor set.
        let r = email::poll_once(app, o.org_id, ch).await.unwrap();
        assert_eq!(r.fetched, 0, "{l}");

        let first = mail(
            "\"Ana Lima\" <Ana@Example.com>",
            "m1@example.com",
            "Order 42",
            "Content-Type: multipart/alternative; boundary=\"b\"\r\n",
            "\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWhere is my order?\r\n\
             --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Where is <b>my order</b>?</p>\
             <script>alert('x')</script><img src=\"cid:1\" onerror=\"alert('y')\">\r\n--b--\r\n",
        );
        imap.append(&first);
        let r = email::poll_once(app, o.org_id, ch).await.unwrap();
        assert_eq!((r.fetched, r.stored, r.duplicates), (1, 1, 0), "{l}: {r:?}");
        drain(app).await;

        let convs = conversations_of(app, &o, ch).await;
        assert_eq!(convs.len(), 1, "{l}");
        let conv = &convs[0];
        assert_ne!(conv.contact.id, mine.id, "{l}: never the personal contact");
        let shared = contacts::get(app, &o, conv.contact.id).await.unwrap();
        assert_eq!(shared.visibility, Visibility::Everyone, "{l}");
        let msgs = thread(app, &o, conv.id).await;
        assert_eq!(msgs.len(), 1, "{l}");
        assert_eq!(msgs[0].body, "Where is my order?", "{l}: the plain part is the body");
        let d = email::details(app, &o, msgs[0].id).await.unwrap().expect("e-mail details");
        assert_eq!(d.subject, "Order 42", "{l}");
        assert_eq!(d.message_id, "m1@example.com", "{l}");
        let html = d.html.expect("html kept");
        assert!(html.contains("<b>my order</b>"), "{l}: {html}");
        for bad in ["<script", "alert(", "onerror"] {
            assert!(!html.contains(bad), "{l}: {bad} survived: {html}");
        }
        // Sealed: the text is nowhere in clear in the database.
        assert_eq!(count(&t, "SELECT COUNT(*) FROM email_messages").await, 1, "{l}");

        // The same message again (a second copy in the mailbox): stored once.
        imap.append(&first);
        let r = email::poll_once(app, o.org_id, ch).await.unwrap();
        assert_eq!((r.fetched, r.stored, r.duplicates), (1, 0, 1), "{l}: only the new UID, a duplicate: {r:?}");
        drain(app).await;
        assert_eq!(thread(app, &o, conv.id).await.len(), 1, "{l}");

        // A colleague of Ana's answers in the thread: same conversation. A
        // stranger writes anew: a new one. HTML-only text is derived.
        imap.append(&mail(
            "bob@example.com",
            "m2@example.com",
            "Re: Order 42",
            "In-Reply-To: <m1@example.com>\r\nReferences: <m1@example.com>\r\n",
            &plain("Adding Bob here."),
        ));
        imap.append(&mail(
            "carol@example.org",
            "m3@example.org",
            "Hello",
            "",
            "Content-Type: text/html\r\n\r\n<div>Hi <i>there</i></div><script>steal()</script>\r\n",
        ));
        let r = email::poll_once(app, o.org_id, ch).await.unwrap();
        assert_eq!((r.fetched, r.stored), (2, 2), "{l}: resumed after the last UID: {r:?}");
        drain(app).await;
        let msgs = thread(app, &o, conv.id).await;
        assert_eq!(msgs.len(), 2, "{l}: Bob's reply joined Ana's conversation");
        assert_eq!(msgs[1].body, "Adding Bob here.", "{l}");
        let convs = conversations_of(app, &o, ch).await;
        assert_eq!(convs.len(), 2, "{l}: Carol has her own");
        let carol = convs.iter().find(|c| c.id != conv.id).unwrap();
        let body = &thread(app, &o, carol.id).await[0].body;
        assert!(body.contains("Hi") && body.contains("there") && !body.contains("steal"), "{l}: {body}");

        // Nothing new: nothing fetched.
        let r = email::poll_once(app, o.org_id, ch).await.unwrap();
        assert_eq!(r.fetched, 0, "{l}");
        assert_eq!(count(&t, "SELECT COUNT(*) FROM inbound_events").await, 3, "{l}");

        // A wrong password is the password's fault, and is never repeated back.
        let mut patch = Map::new();
        patch.insert("password".into(), Value::String("wrong-Secret-77".into()));
        let patch = channels::ChannelPatch { config: Some(patch), ..Default::default() };
        channels::update(app, &o, ch, &patch, None).await.unwrap();
        match email::poll_once(app, o.org_id, ch).await {
            Err(kith_app::AppError::Validation(fields)) => {
                assert_eq!(fields[0].field, "config.password", "{l}");
                assert!(!fields[0].message.contains("wrong-Secret-77"), "{l}: {}", fields[0].message);
            }
            other => panic!("{l}: a refused login, got {other:?}"),
        }
    }
}

/// Quick scans and retries; an IDLE window longer than any wait below, so
/// mail that shows up in time was announced by IDLE, not found by a re-poll.
fn fast() -> PollerOptions {
    PollerOptions {
        scan_every: Duration::from_millis(200),
        idle_window: Duration::from_secs(60),
        poll_every: Duration::from_millis(300),
        lease: Duration::from_secs(180),
        retry_min: Duration::from_millis(200),
        retry_max: Duration::from_secs(2),
        timeout: Duration::from_secs(10),
    }
}

/// Drain jobs until `done` holds (or fail after 20 s).
async fn until<F, Fut>(app: &App, what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        drain(app).await;
        if done().await {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_poller_idles_resumes_after_restart_and_replies_thread_over_smtp() {
    each_backend_concurrently(|t| async move {
        let Some(smtp) = SmtpServer::start(ServerTls::None) else { return };
        // One account for both, as a mailbox provider gives it.
        let Some(imap) = ImapServer::start(kith_testkit::smtp::USER, kith_testkit::smtp::PASSWORD) else { return };
        let (app, l) = (&t.app, t.label);
        let owner = t.user("idle@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = email_channel(app, &o, &imap, smtp.port).await;

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let pollers = tokio::spawn(email::run_pollers_with(app.clone(), stopped, fast()));

        imap.append(&mail(
            "Ana Lima <ana@example.com>",
            "q1@example.com",
            "Order 42",
            "References: <q0@example.com>\r\n",
            &plain("Any news?"),
        ));
        until(app, "the first e-mail", || async { !conversations_of(app, &o, ch).await.is_empty() }).await;
        let conv = conversations_of(app, &o, ch).await.remove(0);

        // A reply goes out through SMTP, threaded.
        let reply = messages::send(app, &o, conv.id, &NewMessage { body: "It ships today.".into() }).await.unwrap();
        drain(app).await;
        let sent = smtp.only_message();
        let raw = sent["raw"].as_str().unwrap();
        assert!(sent["from"].as_str().unwrap().contains(ADDRESS), "{l}: {sent:#}");
        assert_eq!(sent["to"].as_str().unwrap(), "ana@example.com", "{l}");
        assert_eq!(sent["rcpt_tos"], serde_json::json!(["ana@example.com"]), "{l}");
        assert_eq!(sent["subject"].as_str().unwrap(), "Re: Order 42", "{l}");
        assert_eq!(header(raw, "In-Reply-To").as_deref(), Some("<q1@example.com>"), "{l}: {raw}");
        assert_eq!(header(raw, "References").as_deref(), Some("<q0@example.com> <q1@example.com>"), "{l}: {raw}");
        assert_eq!(sent["parts"][0]["body"].as_str().unwrap().trim(), "It ships today.", "{l}");
        let our_id = header(raw, "Message-ID").unwrap();
        assert!(our_id.ends_with("@kith.test>"), "{l}: {our_id}");
        let out = thread(app, &o, conv.id).await.into_iter().find(|m| m.id == reply.id).unwrap();
        assert_eq!(out.state, "sent", "{l}");

        // Ana answers our reply (naming only our Message-ID): same conversation.
        let ours = our_id.trim_start_matches('<').trim_end_matches('>').to_string();
        imap.append(&mail(
            "ana@example.com",
            "q2@example.com",
            "Re: Order 42",
            &format!("In-Reply-To: <{ours}>\r\n"),
            &plain("Great, thanks!"),
        ));
        until(app, "the answer", || async { thread(app, &o, conv.id).await.len() == 3 }).await;

        // Restart: stop the pollers, mail arrives meanwhile, start again.
        stop.send(true).unwrap();
        pollers.await.unwrap();
        imap.append(&mail("dan@example.net", "q3@example.net", "Question", "", &plain("Open on Sunday?")));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let pollers = tokio::spawn(email::run_pollers_with(app.clone(), stopped, fast()));
        until(app, "the mail that came during the restart", || async {
            conversations_of(app, &o, ch).await.len() == 2
        })
        .await;
        assert_eq!(count(&t, "SELECT COUNT(*) FROM inbound_events").await, 3, "{l}: nothing fetched twice");
        let cursor = count(&t, "SELECT last_uid FROM email_mailboxes").await;
        assert!(cursor > 0, "{l}");
        // Disconnecting the channel stops its poller, which lets the mailbox go.
        channels::delete(app, &o, ch).await.unwrap();
        let started = Instant::now();
        while count(&t, "SELECT COUNT(*) FROM email_mailboxes WHERE lease_owner IS NULL").await != 1 {
            assert!(started.elapsed() < Duration::from_secs(20), "{l}: the poller did not stop");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.send(true).unwrap();
        pollers.await.unwrap();
    })
    .await;
}
