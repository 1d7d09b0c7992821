//! Attachments of e-mail channels against real servers (pymap for IMAP,
//! aiosmtpd for SMTP), both backends: a fetched e-mail's parts are stored
//! in the object store and listed on the message (bytes and hash intact),
//! and a reply carrying an uploaded file goes out as a real MIME attachment.
//! Uploads never sent with a message are swept (row and object) after a day
//! by the scheduled `attachments.sweep` job.

use crate::support::*;
use futures_util::StreamExt;
use kith_app::inbox::attachments;
use kith_app::inbox::channels::{self, NewChannel};
use kith_app::inbox::conversations::{self, ConversationQuery};
use kith_app::inbox::email;
use kith_app::inbox::messages;
use kith_app::inbox::outbound::{self, OutboundMessage};
use kith_app::worker::{Registry, Worker};
use kith_app::App;
use kith_domain::PageRequest;
use kith_testkit::imap::ImapServer;
use kith_testkit::smtp::{ServerTls, SmtpServer};
use kith_testkit::TestApp;
use serde_json::{Map, Value};

const ADDRESS: &str = "files@kith.test";

async fn drain(app: &App) {
    let w = Worker::new(app.clone(), Registry::standard());
    while w.run_once().await.unwrap() > 0 {}
}

#[tokio::test]
async fn email_attachments_in_and_out() {
    for t in TestApp::all().await {
        let Some(smtp) = SmtpServer::start(ServerTls::None) else { return };
        let Some(imap) = ImapServer::start(kith_testkit::smtp::USER, kith_testkit::smtp::PASSWORD) else { return };
        let (app, l) = (&t.app, t.label);
        let owner = t.user("files@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
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
        config.insert("smtp_port".into(), Value::from(smtp.port));
        let input = NewChannel { kind: "email".into(), name: "Files".into(), config };
        let ch = channels::create(app, &o, &input).await.unwrap().id;
        email::poll_once(app, o.org_id, ch).await.unwrap();

        // "Hello PDF" and a tiny PNG, base64 in the message.
        let raw = format!(
            "From: Ana <ana@example.com>\r\nTo: {ADDRESS}\r\nSubject: Invoice\r\nMessage-ID: <att1@example.com>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
             --m\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
             --m\r\nContent-Type: application/pdf; name=\"../invoice.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"../invoice.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8gUERG\r\n\
             --m\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"dot.png\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--m--\r\n"
        );
        imap.append(raw.as_bytes());
        let r = email::poll_once(app, o.org_id, ch).await.unwrap();
        assert_eq!(r.stored, 1, "{l}: {r:?}");
        drain(app).await;

        let q = ConversationQuery { channel_id: Some(ch), ..Default::default() };
        let conv = conversations::list(app, &o, &q, &PageRequest::default()).await.unwrap().items[0].id;
        let thread = messages::list(app, &o, conv, true, &PageRequest::default()).await.unwrap().items;
        let files = &thread[0].attachments;
        assert_eq!(files.len(), 2, "{l}: {files:?}");
        let first = (files[0].name.as_str(), files[0].content_type.as_str(), files[0].size);
        assert_eq!(first, ("invoice.pdf", "application/pdf", 9), "{l}");
        assert_eq!(files[0].sha256, hex::encode(kith_crypto::sha256(b"Hello PDF")), "{l}");
        assert_eq!(files[1].name, "dot.png", "{l}");
        let (_, mut object) = attachments::download(app, &o, files[0].id).await.unwrap();
        let mut bytes = Vec::new();
        while let Some(chunk) = object.body.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(bytes, b"Hello PDF", "{l}");
        let details = email::details(app, &o, thread[0].id).await.unwrap().unwrap();
        assert!(details.attachments.iter().all(|a| a.stored && a.attachment_id.is_some()), "{l}");
        // The raw event keeps no bytes.
        let payloads = kith_testkit::raw_bytes(&t.db.raw_url, "SELECT payload FROM inbound_events").await;
        assert!(payloads.iter().all(|p| !p.windows(8).any(|w| w == b"SGVsbG8g")), "{l}");

        // A reply with an uploaded file: a MIME attachment over SMTP.
        let body = kith_app::objects::once(b"quarterly numbers".to_vec().into());
        let up = attachments::upload(app, &o, conv, "Q3 report.txt", Some("text/plain"), body).await.unwrap();
        let reply = OutboundMessage { attachment_ids: vec![up.id], ..OutboundMessage::text("Here you are.") };
        outbound::send(app, &o, conv, &reply).await.unwrap();
        drain(app).await;
        let sent = smtp.only_message();
        assert_eq!(sent["content_type"], "multipart/mixed", "{l}: {sent}");
        let parts = sent["parts"].as_array().unwrap();
        let file = parts.iter().find(|p| p["filename"] == "Q3 report.txt").unwrap_or_else(|| panic!("{l}: {sent}"));
        let got = match &file["body"] {
            Value::String(s) => s.clone().into_bytes(),
            other => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(other["base64"].as_str().unwrap()).unwrap()
            }
        };
        assert_eq!(got, b"quarterly numbers", "{l}");
        assert!(parts.iter().any(|p| p["body"].as_str().is_some_and(|b| b.contains("Here you are."))), "{l}");
    }
}

/// An upload never sent and older than a day goes (row and object) when the
/// scheduled sweep runs; a recent upload and a sent one stay; a second run
/// finds nothing.
#[tokio::test]
async fn unsent_uploads_older_than_a_day_are_swept() {
    for db in kith_testkit::TestDb::all().await {
        let (base, sends) = crate::inbox::twilio_stand_in().await;
        let settings = kith_app::AppSettings {
            provider_bases: kith_app::ProviderBases { twilio: base, ..Default::default() },
            ..kith_testkit::app::test_settings()
        };
        let t = TestApp::new(db, settings);
        let (app, l) = (&t.app, t.label);
        let owner = t.user("sweep@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = crate::inbox::twilio_channel(app, &o).await;
        crate::inbox::deliver(app, ch, &crate::inbox::sms("SMsweep1", "+15557770001", "hi")).await.unwrap();
        crate::inbox::drain(app).await;
        let q = ConversationQuery { channel_id: Some(ch), ..Default::default() };
        let conv = conversations::list(app, &o, &q, &PageRequest::default()).await.unwrap().items[0].id;
        let put = |name: &'static str| {
            let o = o.clone();
            async move {
                let body = kith_app::objects::once(name.as_bytes().to_vec().into());
                attachments::upload(app, &o, conv, name, Some("text/plain"), body).await.unwrap()
            }
        };
        let old = put("old.txt").await;
        let sent = put("sent.txt").await;
        let reply = OutboundMessage { attachment_ids: vec![sent.id], ..OutboundMessage::text("with a file") };
        outbound::send(app, &o, conv, &reply).await.unwrap();
        crate::inbox::drain(app).await;
        assert_eq!(sends.load(std::sync::atomic::Ordering::SeqCst), 1, "{l}");
        // Both made two days ago; then a fresh upload.
        kith_testkit::raw_execute(&t.db.raw_url, "UPDATE attachments SET created_ms = created_ms - 172800000").await;
        let recent = put("recent.txt").await;
        let key = |id| attachments::object_key(o.org_id, id);
        for a in [&old, &sent, &recent] {
            assert!(app.objects().get_bytes(&key(a.id)).await.unwrap().is_some(), "{l}: {}", a.name);
        }

        // The schedule is installed at start-up; make it due and let a worker run it.
        kith_app::worker::install_standard_schedules(app).await.unwrap();
        let due = "UPDATE job_schedules SET next_run_ms = 0 WHERE name = 'attachments-sweep'";
        assert_eq!(kith_testkit::raw_execute(&t.db.raw_url, due).await, 1, "{l}: scheduled");
        drain(app).await;
        assert!(matches!(attachments::get(app, &o, old.id).await, Err(kith_app::AppError::NotFound)), "{l}");
        assert_eq!(app.objects().get_bytes(&key(old.id)).await.unwrap(), None, "{l}: its object is gone");
        for a in [&sent, &recent] {
            assert_eq!(attachments::get(app, &o, a.id).await.unwrap().id, a.id, "{l}");
            assert_eq!(
                app.objects().get_bytes(&key(a.id)).await.unwrap().as_deref(),
                Some(a.name.as_bytes()),
                "{l}: {} kept",
                a.name
            );
        }
        let left = "SELECT COUNT(*) FROM attachments";
        assert_eq!(kith_testkit::raw_i64(&t.db.raw_url, left).await, 2, "{l}");
        // Idempotent: nothing more to do, now or later today.
        let now = kith_domain::time::now_ms();
        assert_eq!(attachments::sweep_unsent(app, now).await.unwrap(), 0, "{l}");
        // A day on, the recent upload goes too; the sent one never does.
        assert_eq!(attachments::sweep_unsent(app, now + attachments::UNSENT_TTL_MS + 1).await.unwrap(), 1, "{l}");
        assert_eq!(app.objects().get_bytes(&key(recent.id)).await.unwrap(), None, "{l}");
        assert_eq!(kith_testkit::raw_i64(&t.db.raw_url, left).await, 1, "{l}");
    }
}

/// A backlog larger than one batch (450 old unsent uploads; 200 a
/// transaction) goes in one run, objects too; sent uploads of the same age
/// stay.
#[tokio::test]
async fn the_sweep_works_through_a_backlog_in_batches() {
    for db in kith_testkit::TestDb::all().await {
        let (base, _) = crate::inbox::twilio_stand_in().await;
        let settings = kith_app::AppSettings {
            provider_bases: kith_app::ProviderBases { twilio: base, ..Default::default() },
            ..kith_testkit::app::test_settings()
        };
        let t = TestApp::new(db, settings);
        let (app, l) = (&t.app, t.label);
        let owner = t.user("backlog@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = crate::inbox::twilio_channel(app, &o).await;
        crate::inbox::deliver(app, ch, &crate::inbox::sms("SMbacklog", "+15557770002", "hi")).await.unwrap();
        crate::inbox::drain(app).await;
        let q = ConversationQuery { channel_id: Some(ch), ..Default::default() };
        let conv = conversations::list(app, &o, &q, &PageRequest::default()).await.unwrap().items[0].id;
        let thread = messages::list(app, &o, conv, true, &PageRequest::default()).await.unwrap().items;
        let two_days_ago = kith_domain::time::now_ms() - 2 * attachments::UNSENT_TTL_MS;
        let row = |message_id: Option<uuid::Uuid>, part: i64| {
            let id = kith_domain::new_id();
            kith_store::attachments::AttachmentRow {
                id,
                org_id: o.org_id,
                conversation_id: conv,
                message_id,
                part,
                direction: if message_id.is_some() { "in" } else { "out" }.into(),
                name: vec![],
                content_type: "text/plain".into(),
                byte_size: 1,
                sha256: String::new(),
                object_key: attachments::object_key(o.org_id, id),
                uploaded_by: None,
                created_ms: two_days_ago,
                provider_message_id: None,
            }
        };
        let unsent: Vec<_> = (0..450).map(|_| row(None, 0)).collect();
        let sent = row(Some(thread[0].id), 0);
        let mut tx = app.db().begin().await.unwrap();
        for r in unsent.iter().chain([&sent]) {
            assert!(kith_store::attachments::insert(&mut tx, r).await.unwrap(), "{l}");
        }
        tx.commit().await.unwrap();
        for r in [&unsent[0], &unsent[449], &sent] {
            app.objects().put(&r.object_key, b"x".to_vec()).await.unwrap();
        }

        let n = attachments::sweep_unsent(app, kith_domain::time::now_ms()).await.unwrap();
        assert_eq!(n, 450, "{l}");
        let left = "SELECT COUNT(*) FROM attachments";
        assert_eq!(kith_testkit::raw_i64(&t.db.raw_url, left).await, 1, "{l}: the sent one stays");
        assert_eq!(app.objects().get_bytes(&unsent[0].object_key).await.unwrap(), None, "{l}");
        assert_eq!(app.objects().get_bytes(&unsent[449].object_key).await.unwrap(), None, "{l}");
        assert!(app.objects().get_bytes(&sent.object_key).await.unwrap().is_some(), "{l}");
    }
}
