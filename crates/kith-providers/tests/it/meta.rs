use kith_providers::meta::{parse, sign, verify_handshake, verify_signature, Client};
use kith_providers::{DeliveryState, InboundEvent, ParseError, SendError};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

// ----- protocols.md 2.6 vectors -----

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_BODY: &[u8] = b"Hello, World!";
const GITHUB_HEADER: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const DERIVED_BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;
const DERIVED_HEADER: &str = "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756";

#[test]
fn cross_vendor_and_derived_vectors() {
    assert_eq!(sign(GITHUB_SECRET, GITHUB_BODY), GITHUB_HEADER);
    assert!(verify_signature(GITHUB_SECRET, GITHUB_BODY, GITHUB_HEADER));
    assert_eq!(sign("test_app_secret", DERIVED_BODY), DERIVED_HEADER);
    assert!(verify_signature("test_app_secret", DERIVED_BODY, DERIVED_HEADER));
    // The derived body parses to no events.
    assert_eq!(parse(DERIVED_BODY).unwrap(), vec![]);
    // Upper-case hex and prefix are accepted; surrounding whitespace too.
    assert!(verify_signature(GITHUB_SECRET, GITHUB_BODY, &GITHUB_HEADER.to_uppercase()));
    assert!(verify_signature(GITHUB_SECRET, GITHUB_BODY, &format!(" {GITHUB_HEADER} ")));
}

#[test]
fn rejects_tampering() {
    assert!(!verify_signature(GITHUB_SECRET, b"Hello, World?", GITHUB_HEADER));
    assert!(!verify_signature(GITHUB_SECRET, b"Hello, World!\n", GITHUB_HEADER));
    assert!(!verify_signature("it's a Secret to Everybody", GITHUB_BODY, GITHUB_HEADER));
    assert!(!verify_signature("", GITHUB_BODY, GITHUB_HEADER));
    assert!(!verify_signature(GITHUB_SECRET, GITHUB_BODY, ""));
    assert!(!verify_signature(GITHUB_SECRET, GITHUB_BODY, "sha256="));
    assert!(!verify_signature(GITHUB_SECRET, GITHUB_BODY, &GITHUB_HEADER[7..]), "prefix required");
    assert!(!verify_signature(GITHUB_SECRET, GITHUB_BODY, &GITHUB_HEADER.replace("sha256", "sha1")));
    assert!(!verify_signature(GITHUB_SECRET, GITHUB_BODY, &GITHUB_HEADER[..GITHUB_HEADER.len() - 2]));
    assert!(!verify_signature(GITHUB_SECRET, GITHUB_BODY, "sha256=zz"));
    // Re-serialised JSON does not match (2.6 step 1).
    assert!(!verify_signature(
        "test_app_secret",
        br#"{"object": "whatsapp_business_account", "entry": []}"#,
        DERIVED_HEADER
    ));
}

#[test]
fn handshake() {
    assert_eq!(verify_handshake("subscribe", "my-token", "1158201444", "my-token"), Some("1158201444".into()));
    assert_eq!(verify_handshake("subscribe", "wrong", "1158201444", "my-token"), None);
    assert_eq!(verify_handshake("unsubscribe", "my-token", "1158201444", "my-token"), None);
    assert_eq!(verify_handshake("subscribe", "", "1158201444", ""), None, "an unset token never verifies");
    assert_eq!(verify_handshake("subscribe", "my-token", "", "my-token"), None);
}

// ----- parser: 2.3 WhatsApp -----

#[test]
fn whatsapp_text_message_from_the_reference() {
    let body = br#"{"object":"whatsapp_business_account",
 "entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
   "messaging_product":"whatsapp",
   "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
   "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
   "messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=","timestamp":"1749416383","type":"text",
                "text":{"body":"Does it come in another color?"}}]}}]}]}"#;
    let events = parse(body).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.route.as_deref(), Some("106540352242922"));
    assert_eq!(m.provider_message_id, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=");
    assert_eq!(m.from.channel_user_id, "16505551234");
    assert_eq!(m.from.phone_e164.as_deref(), Some("+16505551234"));
    assert_eq!(m.from.display_name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(m.to.as_deref(), Some("15550783881"));
    assert_eq!(m.text, "Does it come in another color?");
    assert_eq!(m.sent_at_ms, Some(1_749_416_383_000));
    assert!(m.media.is_empty());
}

#[test]
fn whatsapp_batched_entries_route_to_their_numbers() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "WABA1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550000001", "phone_number_id": "PN1"},
                "contacts": [
                    {"profile": {"name": "Ann"}, "wa_id": "4915112345678"},
                    {"profile": {"name": "Bob"}, "wa_id": "33612345678"}
                ],
                "messages": [
                    {"from": "33612345678", "id": "wamid.B1", "timestamp": "1700000001", "type": "image",
                     "image": {"caption": "the receipt", "mime_type": "image/jpeg", "sha256": "abc", "id": "MEDIA1"}},
                    {"from": "4915112345678", "id": "wamid.A1", "timestamp": "1700000002", "type": "text",
                     "text": {"body": "hallo"}}
                ]
            }}]},
            {"id": "WABA2", "changes": [
                {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                {"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550000002", "phone_number_id": "PN2"},
                    "contacts": [{"profile": {"name": "Cy"}, "wa_id": "447700900123"}],
                    "messages": [{"from": "447700900123", "id": "wamid.C1", "timestamp": 1700000003, "type": "document",
                        "document": {"filename": "quote.pdf", "mime_type": "application/pdf", "id": "MEDIA2"}}]
                }}
            ]}
        ]
    });
    let events = parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(events.len(), 3);
    let messages: Vec<_> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => m,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(messages[0].route.as_deref(), Some("PN1"));
    assert_eq!(messages[0].provider_message_id, "wamid.B1");
    assert_eq!(messages[0].from.display_name.as_deref(), Some("Bob"), "contact matched by wa_id");
    assert_eq!(messages[0].text, "the receipt");
    assert_eq!(messages[0].media[0].provider_media_id.as_deref(), Some("MEDIA1"));
    assert_eq!(messages[0].media[0].content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(messages[1].route.as_deref(), Some("PN1"));
    assert_eq!(messages[1].from.display_name.as_deref(), Some("Ann"));
    assert_eq!(messages[1].text, "hallo");
    assert_eq!(messages[2].route.as_deref(), Some("PN2"));
    assert_eq!(messages[2].from.phone_e164.as_deref(), Some("+447700900123"));
    assert_eq!(messages[2].media[0].provider_media_id.as_deref(), Some("MEDIA2"));
    assert_eq!(messages[2].media[0].content_type.as_deref(), Some("application/pdf"));
    assert_eq!(messages[2].sent_at_ms, Some(1_700_000_003_000), "numeric timestamps accepted too");
}

#[test]
fn whatsapp_statuses_with_errors() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "statuses": [
                {"id": "wamid.S1", "status": "sent", "timestamp": "1504902988", "recipient_id": "16315551181",
                 "conversation": {"id": "CONVERSATION_ID", "expiration_timestamp": "1504903988", "origin": {"type": "marketing"}},
                 "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": "marketing"}},
                {"id": "wamid.S1", "status": "read", "timestamp": "1504902999", "recipient_id": "16315551181"},
                {"id": "wamid.S2", "status": "failed", "timestamp": "1504903000", "recipient_id": "16315551181",
                 "errors": [{"code": 131047, "title": "Re-engagement message",
                             "message": "Re-engagement message",
                             "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]},
                {"id": "wamid.S3", "status": "played", "timestamp": "1504903001", "recipient_id": "16315551181"},
                {"id": "wamid.S4", "status": "some_future_status", "timestamp": "1504903002"}
            ]
        }}]}]
    });
    let events = parse(body.to_string().as_bytes()).unwrap();
    let statuses: Vec<_> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Status(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(statuses.len(), 4, "the unknown status is skipped");
    assert_eq!(statuses[0].state, DeliveryState::Sent);
    assert_eq!(statuses[0].route.as_deref(), Some("106540352242922"));
    assert_eq!(statuses[0].at_ms, Some(1_504_902_988_000));
    assert_eq!(statuses[1].state, DeliveryState::Read);
    assert_eq!(statuses[2].state, DeliveryState::Failed);
    assert_eq!(statuses[2].error_code.as_deref(), Some("131047"));
    assert!(statuses[2].error_message.as_deref().unwrap().contains("more than 24 hours"));
    assert_eq!(statuses[3].state, DeliveryState::Read);
    assert_eq!(events[1].provider_event_id(), "status:wamid.S1:read");
}

// ----- parser: 2.4 Messenger and Instagram -----

#[test]
fn messenger_message_from_the_reference() {
    let body = br#"{"object":"page","entry":[{"id":"PAGE_ID","time":1457764198246,"messaging":[{"sender":{"id":"USER_PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1457764197627,"message":{"mid":"mid.1457764197618:41d102a3e1ae206a38","text":"hello, world!"}}]}]}"#;
    let events = parse(body).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.route.as_deref(), Some("PAGE_ID"));
    assert_eq!(m.provider_message_id, "mid.1457764197618:41d102a3e1ae206a38");
    assert_eq!(m.from.channel_user_id, "USER_PSID");
    assert_eq!(m.from.phone_e164, None);
    assert_eq!(m.to.as_deref(), Some("PAGE_ID"));
    assert_eq!(m.text, "hello, world!");
    assert_eq!(m.sent_at_ms, Some(1_457_764_197_627), "Messenger timestamps are already milliseconds");
}

#[test]
fn messenger_batch_with_attachments_delivery_read_and_echo() {
    let body = json!({"object": "page", "entry": [
        {"id": "PAGE1", "time": 1, "messaging": [
            {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE1"}, "timestamp": 1700000000000i64,
             "message": {"mid": "m_1", "attachments": [
                 {"type": "image", "payload": {"url": "https://scontent.example/1.jpg"}},
                 {"type": "file", "payload": {"url": "https://cdn.example/a.pdf"}},
                 {"type": "template", "payload": {"template_type": "generic"}}
             ]}},
            {"sender": {"id": "PAGE1"}, "recipient": {"id": "PSID1"}, "timestamp": 1700000000001i64,
             "message": {"mid": "m_echo", "is_echo": true, "app_id": 1517776481860111i64, "text": "our reply"}},
            {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE1"}, "timestamp": 1700000000002i64,
             "delivery": {"mids": ["m_out1", "m_out2"], "watermark": 1700000000000i64}},
            {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE1"}, "timestamp": 1700000000003i64,
             "read": {"watermark": 1700000000000i64}},
            {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE1"}, "timestamp": 1700000000004i64,
             "reaction": {"reaction": "love", "emoji": "❤", "action": "react", "mid": "m_out1"}}
        ]},
        {"id": "PAGE2", "time": 2, "messaging": [
            {"sender": {"id": "PSID2"}, "recipient": {"id": "PAGE2"}, "timestamp": 1700000000005i64,
             "message": {"mid": "m_2", "text": "other page"}}
        ]}
    ]});
    let events = parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(events.len(), 4, "{events:#?}");
    let InboundEvent::Message(first) = &events[0] else { panic!() };
    assert_eq!(first.route.as_deref(), Some("PAGE1"));
    assert_eq!(first.text, "");
    assert_eq!(first.media.len(), 2);
    assert_eq!(first.media[0].url.as_deref(), Some("https://scontent.example/1.jpg"));
    assert_eq!(first.media[0].content_type.as_deref(), Some("image/*"));
    assert_eq!(first.media[1].content_type, None);
    for (event, mid) in events[1..3].iter().zip(["m_out1", "m_out2"]) {
        let InboundEvent::Status(s) = event else { panic!("{event:?}") };
        assert_eq!(s.provider_message_id, mid);
        assert_eq!(s.state, DeliveryState::Delivered);
        assert_eq!(s.route.as_deref(), Some("PAGE1"));
        assert_eq!(s.at_ms, Some(1_700_000_000_000));
    }
    let InboundEvent::Message(last) = &events[3] else { panic!() };
    assert_eq!(last.route.as_deref(), Some("PAGE2"));
    assert_eq!(last.text, "other page");
}

#[test]
fn instagram_message_and_read() {
    let body = json!({"object": "instagram", "entry": [{"id": "IG_ACCOUNT_ID", "time": 1700000000000i64, "messaging": [
        {"sender": {"id": "IGSID"}, "recipient": {"id": "IG_ACCOUNT_ID"}, "timestamp": 1700000000000i64,
         "message": {"mid": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx", "text": "is this still available?"}},
        {"sender": {"id": "IGSID"}, "recipient": {"id": "IG_ACCOUNT_ID"}, "timestamp": 1700000000100i64,
         "read": {"mid": "aWdfOUT"}}
    ]}]});
    let events = parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(events.len(), 2);
    let InboundEvent::Message(m) = &events[0] else { panic!() };
    assert_eq!(m.route.as_deref(), Some("IG_ACCOUNT_ID"));
    assert_eq!(m.from.channel_user_id, "IGSID");
    assert_eq!(m.text, "is this still available?");
    let InboundEvent::Status(s) = &events[1] else { panic!() };
    assert_eq!((s.provider_message_id.as_str(), s.state), ("aWdfOUT", DeliveryState::Read));
    assert_eq!(s.at_ms, Some(1_700_000_000_100));

    // Instagram comments arrive as `changes`: not messages.
    let comments = json!({"object": "instagram", "entry": [{"id": "IG", "time": 1, "changes": [
        {"field": "comments", "value": {"id": "c1", "text": "nice"}}]}]});
    assert_eq!(parse(comments.to_string().as_bytes()).unwrap(), vec![]);
}

#[test]
fn malformed_payloads_are_errors() {
    assert!(matches!(parse(b""), Err(ParseError::Json(_))));
    assert!(matches!(parse(b"{not json"), Err(ParseError::Json(_))));
    assert!(matches!(parse(b"[]"), Err(ParseError::InvalidField { .. })));
    assert_eq!(parse(br#"{"entry":[]}"#), Err(ParseError::MissingField("object".into())));
    assert!(matches!(parse(br#"{"object":"page","entry":{}}"#), Err(ParseError::InvalidField { .. })));
    assert!(matches!(parse(br#"{"object":"page","entry":[1]}"#), Err(ParseError::InvalidField { .. })));
    // A message without an id cannot be deduplicated.
    let no_id = json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "PN"}, "messages": [{"from": "1", "type": "text", "text": {"body": "x"}}]}}]}]});
    assert!(matches!(parse(no_id.to_string().as_bytes()), Err(ParseError::MissingField(_))));
    // Messages without a phone_number_id cannot be routed.
    let no_route = json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "messages": [{"from": "1", "id": "wamid.x", "type": "text", "text": {"body": "x"}}]}}]}]});
    assert!(matches!(parse(no_route.to_string().as_bytes()), Err(ParseError::MissingField(_))));
    let bad_ts = json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "PN"},
        "messages": [{"from": "1", "id": "wamid.x", "timestamp": "yesterday", "type": "text"}]}}]}]});
    assert!(matches!(parse(bad_ts.to_string().as_bytes()), Err(ParseError::InvalidField { .. })));
    let no_sender =
        json!({"object": "page", "entry": [{"id": "P", "messaging": [{"message": {"mid": "m", "text": "x"}}]}]});
    assert!(matches!(parse(no_sender.to_string().as_bytes()), Err(ParseError::MissingField(_))));
    // Objects we do not handle are not errors.
    assert_eq!(parse(br#"{"object":"user","entry":[{"id":"1","changes":[]}]}"#).unwrap(), vec![]);
}

// ----- client: 2.2, 2.4, 2.7 -----

#[tokio::test]
async fn whatsapp_text_send() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v21.0/106540352242922/messages"))
        .and(header("authorization", "Bearer EAAG-token"))
        .and(body_json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
            "type": "text", "text": {"preview_url": false, "body": "Hello"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(crate::http(), format!("{}/v21.0", server.uri()));
    let sent = client.send_whatsapp_text("106540352242922", "EAAG-token", "16505551234", "Hello").await.unwrap();
    assert_eq!(sent.provider_message_id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
}

#[tokio::test]
async fn whatsapp_template_send() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v21.0/PN1/messages"))
        .and(header("authorization", "Bearer tok"))
        .and(body_json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "template",
            "template": {"name": "order_update", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "#123"}, {"type": "text", "text": "Friday"}]}]}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.T1"}]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v21.0/PN1/messages"))
        .and(body_json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.T2"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(crate::http(), format!("{}/v21.0/", server.uri()));
    let sent = client
        .send_whatsapp_template("PN1", "tok", "16505551234", "order_update", "en_US", &["#123".into(), "Friday".into()])
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "wamid.T1");
    let sent = client.send_whatsapp_template("PN1", "tok", "16505551234", "hello_world", "en_US", &[]).await.unwrap();
    assert_eq!(sent.provider_message_id, "wamid.T2");
}

#[tokio::test]
async fn messenger_and_instagram_send() {
    let server = MockServer::start().await;
    for (node, token, mid) in [("me", "page-token", "m_AG5Hz2U"), ("17841400000000000", "ig-token", "aWdf_IG")] {
        Mock::given(method("POST"))
            .and(path(format!("/v21.0/{node}/messages")))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .and(body_json(
                json!({"recipient": {"id": "PSID"}, "messaging_type": "RESPONSE", "message": {"text": "hi"}}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "PSID", "message_id": mid})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = Client::new(crate::http(), format!("{}/v21.0", server.uri()));
    assert_eq!(
        client.send_messenger_text("me", "page-token", "PSID", "hi").await.unwrap().provider_message_id,
        "m_AG5Hz2U"
    );
    assert_eq!(
        client.send_instagram_text("17841400000000000", "ig-token", "PSID", "hi").await.unwrap().provider_message_id,
        "aWdf_IG"
    );
}

async fn send_against(response: ResponseTemplate) -> SendError {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(response).mount(&server).await;
    Client::new(crate::http(), server.uri()).send_whatsapp_text("PN", "t", "1", "x").await.unwrap_err()
}

fn graph_error(code: i64, message: &str) -> serde_json::Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": format!("details of {code}")},
        "fbtrace_id": "AbCdEf"}})
}

#[tokio::test]
async fn graph_errors_map_to_send_errors() {
    let err =
        send_against(ResponseTemplate::new(400).set_body_json(graph_error(131047, "Re-engagement message"))).await;
    assert_eq!(
        err,
        SendError::Permanent { code: "131047".into(), message: "Re-engagement message (details of 131047)".into() }
    );
    let err =
        send_against(ResponseTemplate::new(401).set_body_json(graph_error(190, "Error validating access token"))).await;
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "190"), "{err:?}");

    for code in [130429, 131056, 4, 80007] {
        let err = send_against(ResponseTemplate::new(400).set_body_json(graph_error(code, "rate"))).await;
        assert_eq!(err, SendError::RateLimited { retry_after_ms: None }, "code {code}");
    }
    let err = send_against(
        ResponseTemplate::new(429).insert_header("Retry-After", "12").set_body_json(graph_error(130429, "throughput")),
    )
    .await;
    assert_eq!(err, SendError::RateLimited { retry_after_ms: Some(12_000) });
    let err = send_against(ResponseTemplate::new(429).insert_header("Retry-After", "3")).await;
    assert_eq!(err, SendError::RateLimited { retry_after_ms: Some(3_000) });

    let err = send_against(ResponseTemplate::new(500).set_body_json(graph_error(1, "An unknown error occurred"))).await;
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    let err = send_against(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>")).await;
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    let mut transient = graph_error(131000, "Something went wrong");
    transient["error"]["is_transient"] = json!(true);
    let err = send_against(ResponseTemplate::new(400).set_body_json(transient)).await;
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");

    let err = send_against(ResponseTemplate::new(400).set_body_string("not json")).await;
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "http_400"), "{err:?}");
    let err = send_against(ResponseTemplate::new(200).set_body_json(json!({"messages": []}))).await;
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "invalid_response"), "{err:?}");

    let err =
        Client::new(crate::http(), crate::closed_base()).send_whatsapp_text("PN", "t", "1", "x").await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
}
