use kith_providers::viber::{parse, sign, verify_signature, Client};
use kith_providers::{DeliveryState, InboundEvent, ParseError, SendError};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

// ----- protocols.md 3.2 [SDK-VECTOR] (viber-bot-python tests/api/test_api.py = viber-bot-node) -----

const TOKEN: &str = "44dafb7e0f40021e-61a47a1e6778d187-f2c5a676a07050b3";
const BODY: &[u8] = br#"{"event":"webhook","timestamp":4977069964384421269,"message_token":1478683725125}"#;
const SIGNATURE: &str = "d21b343448c8aee33b8e93768ef6ceb64a6ba6163099973a2b8bd028fea510ef";

#[test]
fn sdk_vector() {
    assert_eq!(sign(TOKEN, BODY), SIGNATURE);
    assert!(verify_signature(TOKEN, BODY, SIGNATURE));
    assert!(verify_signature(TOKEN, BODY, &SIGNATURE.to_uppercase()));
    // The vector's body is the webhook check: no events.
    assert_eq!(parse(BODY).unwrap(), vec![]);
}

#[test]
fn rejects_tampering() {
    let tampered = br#"{"event":"webhook","timestamp":4977069964384421268,"message_token":1478683725125}"#;
    assert!(!verify_signature(TOKEN, tampered, SIGNATURE));
    assert!(!verify_signature(TOKEN, &[BODY, b"\n"].concat(), SIGNATURE));
    assert!(!verify_signature("44dafb7e0f40021e-61a47a1e6778d187-f2c5a676a07050b4", BODY, SIGNATURE));
    assert!(!verify_signature("", BODY, SIGNATURE));
    assert!(!verify_signature(TOKEN, BODY, ""), "missing header");
    assert!(!verify_signature(TOKEN, BODY, &SIGNATURE[..62]));
    assert!(!verify_signature(TOKEN, BODY, &format!("sha256={SIGNATURE}")));
    assert!(!verify_signature(TOKEN, BODY, "not hex"));
}

// ----- parser -----

#[test]
fn parses_a_text_message() {
    // Shape of viber-bot-python tests/api/test_data/unicode_request.
    let body = r#"{"event":"message","timestamp":1457764197627,"message_token":4912661846655238145,
        "sender":{"id":"01234567890A=","name":"Ирина","avatar":"http://avatar.example.com","api_version":2},
        "message":{"type":"text","text":"Привет, how are you?","tracking_data":"tracking data"},"silent":false}"#;
    let events = parse(body.as_bytes()).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.provider_message_id, "4912661846655238145", "a 64-bit token is kept exact");
    assert_eq!(m.from.channel_user_id, "01234567890A=");
    assert_eq!(m.from.display_name.as_deref(), Some("Ирина"));
    assert_eq!(m.text, "Привет, how are you?");
    assert_eq!(m.sent_at_ms, Some(1_457_764_197_627));
    assert_eq!((m.route.as_deref(), m.to.as_deref()), (None, None));
}

#[test]
fn parses_a_picture_with_caption() {
    let body = json!({"event": "message", "timestamp": 1700000000000i64, "message_token": 5741311803571721087u64,
        "sender": {"id": "U1==", "name": "Ana"},
        "message": {"type": "picture", "text": "our shop", "media": "https://dl-media.viber.com/1.jpg",
                    "thumbnail": "https://dl-media.viber.com/1t.jpg", "file_name": "1.jpg", "size": 1234}});
    let events = parse(body.to_string().as_bytes()).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.text, "our shop");
    assert_eq!(m.media.len(), 1);
    assert_eq!(m.media[0].url.as_deref(), Some("https://dl-media.viber.com/1.jpg"));
    assert_eq!(m.media[0].content_type.as_deref(), Some("image/*"));

    let location = json!({"event": "message", "timestamp": 1, "message_token": 2, "sender": {"id": "U"},
        "message": {"type": "location", "location": {"lat": 50.5, "lon": 30.25}}});
    let events = parse(location.to_string().as_bytes()).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.text, "50.5, 30.25");
}

#[test]
fn parses_delivery_callbacks() {
    for (event, state) in
        [("delivered", DeliveryState::Delivered), ("seen", DeliveryState::Read), ("failed", DeliveryState::Failed)]
    {
        let mut body = json!({"event": event, "timestamp": 1457764197627i64,
            "message_token": 4912661846655238145u64, "user_id": "01234567890A="});
        if event == "failed" {
            body["desc"] = json!("failure description");
        }
        let events = parse(body.to_string().as_bytes()).unwrap();
        let [InboundEvent::Status(s)] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!(s.provider_message_id, "4912661846655238145");
        assert_eq!(s.state, state);
        assert_eq!(s.at_ms, Some(1_457_764_197_627));
        assert_eq!(s.error_message.as_deref(), (event == "failed").then_some("failure description"));
        assert_eq!(events[0].provider_event_id(), format!("status:4912661846655238145:{}", state.as_str()));
    }
}

#[test]
fn lifecycle_events_give_nothing() {
    for body in [
        json!({"event": "webhook", "timestamp": 1, "message_token": 2}),
        json!({"event": "subscribed", "timestamp": 1, "user": {"id": "U", "name": "A"}, "message_token": 3}),
        json!({"event": "unsubscribed", "timestamp": 1, "user_id": "U", "message_token": 4}),
        json!({"event": "conversation_started", "timestamp": 1, "message_token": 5, "type": "open",
               "user": {"id": "U", "name": "A"}, "subscribed": false}),
    ] {
        assert_eq!(parse(body.to_string().as_bytes()).unwrap(), vec![], "{body}");
    }
}

#[test]
fn malformed_callbacks_are_errors() {
    assert!(matches!(parse(b"\x00\x01"), Err(ParseError::Json(_))));
    assert_eq!(parse(b"{}"), Err(ParseError::MissingField("event".into())));
    assert_eq!(
        parse(br#"{"event":"message","sender":{"id":"U"},"message":{"type":"text","text":"x"}}"#),
        Err(ParseError::MissingField("message_token".into()))
    );
    assert_eq!(
        parse(br#"{"event":"message","message_token":1,"message":{"type":"text","text":"x"}}"#),
        Err(ParseError::MissingField("sender".into()))
    );
    assert_eq!(
        parse(br#"{"event":"message","message_token":1,"sender":{"name":"A"},"message":{}}"#),
        Err(ParseError::MissingField("sender.id".into()))
    );
    assert_eq!(parse(br#"{"event":"delivered","timestamp":1}"#), Err(ParseError::MissingField("message_token".into())));
    assert!(matches!(
        parse(br#"{"event":"seen","timestamp":"soon","message_token":1}"#),
        Err(ParseError::InvalidField { .. })
    ));
}

// ----- client -----

#[tokio::test]
async fn send_message_and_set_webhook() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/pa/send_message"))
        .and(header("X-Viber-Auth-Token", TOKEN))
        .and(body_json(json!({"receiver": "01234567890A=", "min_api_version": 1, "sender": {"name": "Kith CRM"},
            "type": "text", "text": "Hello"})))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"status":0,"status_message":"ok","message_token":5741311803571721087,"chat_hostname":"SN-CHAT-05_"}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/pa/set_webhook"))
        .and(header("X-Viber-Auth-Token", TOKEN))
        .and(body_json(json!({"url": "https://kith.example.com/hooks/viber/ch1",
            "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"],
            "send_name": true, "send_photo": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": 0, "status_message": "ok",
            "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]})))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(crate::http(), format!("{}/pa/", server.uri()));
    let sent = client.send_message(TOKEN, "01234567890A=", "Kith CRM", "Hello").await.unwrap();
    assert_eq!(sent.provider_message_id, "5741311803571721087");
    client.set_webhook(TOKEN, "https://kith.example.com/hooks/viber/ch1").await.unwrap();
}

async fn send_against(response: ResponseTemplate) -> SendError {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(response).mount(&server).await;
    Client::new(crate::http(), server.uri()).send_message(TOKEN, "U", "Kith", "x").await.unwrap_err()
}

#[tokio::test]
async fn errors_map_to_send_errors() {
    let err =
        send_against(ResponseTemplate::new(200).set_body_json(json!({"status": 6, "status_message": "notSubscribed"})))
            .await;
    assert_eq!(err, SendError::Permanent { code: "6".into(), message: "notSubscribed".into() });
    let err = send_against(
        ResponseTemplate::new(200).set_body_json(json!({"status": 2, "status_message": "invalidAuthToken"})),
    )
    .await;
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "2"), "{err:?}");
    let err = send_against(
        ResponseTemplate::new(200).set_body_json(json!({"status": 12, "status_message": "tooManyRequests"})),
    )
    .await;
    assert_eq!(err, SendError::RateLimited { retry_after_ms: None });
    let err = send_against(ResponseTemplate::new(429).insert_header("Retry-After", "9")).await;
    assert_eq!(err, SendError::RateLimited { retry_after_ms: Some(9_000) });
    let err = send_against(ResponseTemplate::new(500)).await;
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    let err = send_against(ResponseTemplate::new(200).set_body_string("<html>")).await;
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "invalid_response"), "{err:?}");
    let err = Client::new(crate::http(), crate::closed_base()).send_message(TOKEN, "U", "K", "x").await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
}
