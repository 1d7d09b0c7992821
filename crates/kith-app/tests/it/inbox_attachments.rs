//! Attachments of e-mail channels against real servers (pymap for IMAP,
//! aiosmtpd for SMTP), both backends: a fetched e-mail's parts are stored
//! in the object store and listed on the message (bytes and hash intact),
//! and a reply carrying an uploaded file goes out as a real MIME attachment.

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
