use std::time::Duration;

use kith_providers::telegram::{parse, verify_secret_token, Client};
use kith_providers::{InboundEvent, ParseError, SendError};
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const SECRET_HALF: &str = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

#[test]
fn secret_token_header() {
    assert!(verify_secret_token(Some("s3cr3t_Token-1"), "s3cr3t_Token-1"));
    assert!(!verify_secret_token(Some("s3cr3t_Token-2"), "s3cr3t_Token-1"));
    assert!(!verify_secret_token(Some("s3cr3t_Token-1 "), "s3cr3t_Token-1"));
    assert!(!verify_secret_token(Some("s3cr3t"), "s3cr3t_Token-1"));
    assert!(!verify_secret_token(None, "s3cr3t_Token-1"), "missing header");
    assert!(!verify_secret_token(Some(""), ""), "no configured secret never verifies");
    assert!(!verify_secret_token(None, ""));
}

#[test]
fn parses_a_private_text_message() {
    let body = json!({"update_id": 10000, "message": {
        "message_id": 1365, "date": 1441645532,
        "from": {"id": 1111111, "is_bot": false, "first_name": "Test", "last_name": "Lastname", "username": "Test", "language_code": "en"},
        "chat": {"id": 1111111, "type": "private", "first_name": "Test", "last_name": "Lastname", "username": "Test"},
        "text": "/start"
    }});
    let events = parse(body.to_string().as_bytes()).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.provider_message_id, "1111111:1365");
    assert_eq!(m.from.channel_user_id, "1111111");
    assert_eq!(m.from.display_name.as_deref(), Some("Test Lastname"));
    assert_eq!(m.to.as_deref(), Some("1111111"));
    assert_eq!(m.text, "/start");
    assert_eq!(m.sent_at_ms, Some(1_441_645_532_000));
    assert_eq!(m.route, None);
}

#[test]
fn parses_a_group_photo_with_caption() {
    let body = json!({"update_id": 10001, "message": {
        "message_id": 7, "date": 1700000000,
        "from": {"id": 42, "is_bot": false, "first_name": "Ada"},
        "chat": {"id": -1001234567890i64, "type": "supergroup", "title": "Customers"},
        "caption": "our invoice",
        "photo": [
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 67, "file_size": 1200},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 960, "file_size": 98000},
            {"file_id": "medium", "file_unique_id": "m", "width": 320, "height": 240, "file_size": 14000}
        ]
    }});
    let events = parse(body.to_string().as_bytes()).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.provider_message_id, "-1001234567890:7", "Telegram ids are per chat");
    assert_eq!(m.from.channel_user_id, "42");
    assert_eq!(m.from.display_name.as_deref(), Some("Ada"));
    assert_eq!(m.to.as_deref(), Some("-1001234567890"));
    assert_eq!(m.text, "our invoice");
    assert_eq!(m.media.len(), 1);
    assert_eq!(m.media[0].provider_media_id.as_deref(), Some("large"));
    assert_eq!(m.media[0].content_type.as_deref(), Some("image/jpeg"));
}

#[test]
fn parses_a_document() {
    let body = json!({"update_id": 3, "message": {
        "message_id": 8, "date": 1700000000,
        "from": {"id": 42, "is_bot": false, "first_name": "Ada", "username": "ada"},
        "chat": {"id": 42, "type": "private"},
        "document": {"file_name": "quote.pdf", "mime_type": "application/pdf", "file_id": "DOC1", "file_unique_id": "u"}
    }});
    let events = parse(body.to_string().as_bytes()).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.text, "");
    assert_eq!(m.media[0].provider_media_id.as_deref(), Some("DOC1"));
    assert_eq!(m.media[0].content_type.as_deref(), Some("application/pdf"));
}

#[test]
fn other_updates_give_no_events() {
    for body in [
        json!({"update_id": 1, "edited_message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "text": "x"}}),
        json!({"update_id": 2, "callback_query": {"id": "1", "from": {"id": 1, "is_bot": false, "first_name": "A"}}}),
        json!({"update_id": 3, "my_chat_member": {}}),
    ] {
        assert_eq!(parse(body.to_string().as_bytes()).unwrap(), vec![]);
    }
}

#[test]
fn malformed_updates_are_errors() {
    assert!(matches!(parse(b"nope"), Err(ParseError::Json(_))));
    assert!(matches!(parse(b"42"), Err(ParseError::InvalidField { .. })));
    assert_eq!(parse(br#"{"message":{}}"#), Err(ParseError::MissingField("update_id".into())));
    assert_eq!(
        parse(br#"{"update_id":1,"message":{"date":1,"chat":{"id":1}}}"#),
        Err(ParseError::MissingField("message.message_id".into()))
    );
    assert_eq!(
        parse(br#"{"update_id":1,"message":{"message_id":1,"chat":{}}}"#),
        Err(ParseError::MissingField("message.chat.id".into()))
    );
    assert!(matches!(parse(br#"{"update_id":1,"message":"text"}"#), Err(ParseError::InvalidField { .. })));
    assert!(matches!(
        parse(br#"{"update_id":1,"message":{"message_id":1,"chat":{"id":1},"photo":{}}}"#),
        Err(ParseError::InvalidField { .. })
    ));
}

// ----- client -----

#[tokio::test]
async fn send_message_posts_to_the_bot_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_json(json!({"chat_id": 1111111, "text": "Hello"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {
            "message_id": 1366, "date": 1441645600, "chat": {"id": 1111111, "type": "private"}, "text": "Hello"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_json(json!({"chat_id": "@kith_news", "text": "News"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {
            "message_id": 5, "date": 1441645600, "chat": {"id": -1009876, "type": "channel"}}})))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(crate::http(), server.uri());
    assert_eq!(client.send_message(TOKEN, "1111111", "Hello").await.unwrap().provider_message_id, "1111111:1366");
    assert_eq!(client.send_message(TOKEN, "@kith_news", "News").await.unwrap().provider_message_id, "-1009876:5");
}

#[tokio::test]
async fn webhook_management() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/tg/bot{TOKEN}/setWebhook")))
        .and(body_json(json!({"url": "https://kith.example.com/hooks/telegram/ch1", "secret_token": "s3cr3t_Token-1"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "result": true, "description": "Webhook was set"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/tg/bot{TOKEN}/deleteWebhook")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "result": true, "description": "Webhook was deleted"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(crate::http(), format!("{}/tg", server.uri()));
    client.set_webhook(TOKEN, "https://kith.example.com/hooks/telegram/ch1", "s3cr3t_Token-1").await.unwrap();
    client.delete_webhook(TOKEN).await.unwrap();
}

fn assert_no_token(err: &SendError) {
    for text in [err.to_string(), format!("{err:?}"), serde_json::to_string(err).unwrap()] {
        assert!(!text.contains(TOKEN) && !text.contains(SECRET_HALF), "token leaked: {text}");
    }
}

async fn send_against(response: ResponseTemplate) -> SendError {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(response).mount(&server).await;
    let err = Client::new(crate::http(), server.uri()).send_message(TOKEN, "1", "x").await.unwrap_err();
    assert_no_token(&err);
    err
}

#[tokio::test]
async fn errors_map_and_never_show_the_token() {
    let err = send_against(ResponseTemplate::new(429).set_body_json(json!({
        "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 35", "parameters": {"retry_after": 35}
    })))
    .await;
    assert_eq!(err, SendError::RateLimited { retry_after_ms: Some(35_000) });

    let err = send_against(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "4")
            .set_body_json(json!({"ok": false, "error_code": 429, "description": "Too Many Requests"})),
    )
    .await;
    assert_eq!(err, SendError::RateLimited { retry_after_ms: Some(4_000) });

    let err = send_against(
        ResponseTemplate::new(400)
            .set_body_json(json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"})),
    )
    .await;
    assert_eq!(err, SendError::Permanent { code: "400".into(), message: "Bad Request: chat not found".into() });

    let err = send_against(ResponseTemplate::new(403).set_body_json(
        json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
    ))
    .await;
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "403"), "{err:?}");

    let err = send_against(
        ResponseTemplate::new(401)
            .set_body_json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
    )
    .await;
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "401"), "{err:?}");

    let err = send_against(
        ResponseTemplate::new(502).set_body_json(json!({"ok": false, "error_code": 502, "description": "Bad Gateway"})),
    )
    .await;
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");

    // A proxy page that echoes the request path: the token is scrubbed from the message.
    let err =
        send_against(ResponseTemplate::new(404).set_body_string(format!("Cannot POST /bot{TOKEN}/sendMessage"))).await;
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "http_404"), "{err:?}");
    let err =
        send_against(ResponseTemplate::new(500).set_body_string(format!("upstream /bot{TOKEN}/sendMessage"))).await;
    assert!(matches!(err, SendError::Transient(ref m) if m.contains("<redacted>")), "{err:?}");
}

#[tokio::test]
async fn transport_errors_never_show_the_token() {
    // reqwest puts the URL (with the token) in its error text; the client must not.
    let err = Client::new(crate::http(), crate::closed_base()).send_message(TOKEN, "1", "x").await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert_no_token(&err);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let err = Client::new(http, server.uri()).set_webhook(TOKEN, "https://x", "s").await.unwrap_err();
    assert!(matches!(err, SendError::Transient(ref m) if m.contains("timed out")), "{err:?}");
    assert_no_token(&err);
}
