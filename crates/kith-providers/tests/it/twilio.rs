use std::time::Duration;

use base64::Engine as _;
use kith_providers::twilio::{
    compute_signature, form_pairs, parse_form, signature_urls, verify_signature, verify_signature_json, Client,
    TwilioSender,
};
use kith_providers::{DeliveryState, InboundEvent, ParseError, SendError};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

// ----- protocols.md 1.6 [SDK-VECTOR] (twilio-python tests/unit/test_request_validator.py) -----

const TOKEN: &str = "12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

fn params() -> Vec<(String, String)> {
    [
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn sdk_vector_signature() {
    assert_eq!(compute_signature(TOKEN, URL, &params()), EXPECTED);
    assert!(verify_signature(TOKEN, URL, &params(), EXPECTED));
}

#[test]
fn sdk_vector_string_to_sign() {
    // The documented string-to-sign, signed directly, gives the same signature.
    let s = "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212";
    assert_eq!(compute_signature(TOKEN, s, &[]), EXPECTED);
}

#[test]
fn sdk_vector_port_variants() {
    // https with a non-default port validates against the port-stripped signature.
    assert!(verify_signature(TOKEN, "https://mycompany.com:1234/myapp.php?foo=1&bar=2", &params(), EXPECTED));
    // The header may carry the signature computed with the default port inserted.
    assert!(verify_signature(TOKEN, URL, &params(), "kvajT1Ptam85bY51eRf/AJRuM3w="));
    assert!(verify_signature(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", &params(), EXPECTED));
    assert!(verify_signature(
        TOKEN,
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        &params(),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    ));
    assert!(verify_signature(
        TOKEN,
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &params(),
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    ));
    assert!(verify_signature(
        TOKEN,
        "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
        &params(),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    ));
    assert_eq!(
        signature_urls("http://mycompany.com/myapp.php?foo=1&bar=2"),
        vec!["http://mycompany.com/myapp.php?foo=1&bar=2", "http://mycompany.com:80/myapp.php?foo=1&bar=2"]
    );
}

#[test]
fn sdk_vector_duplicate_keys() {
    let params: Vec<(String, String)> =
        [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert!(verify_signature(TOKEN, URL, &params, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
    // Order of arrival does not matter.
    let mut reversed = params.clone();
    reversed.reverse();
    assert!(verify_signature(TOKEN, URL, &reversed, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
}

#[test]
fn sdk_vector_json_body() {
    let body = br#"{"property": "value", "boolean": true}"#;
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    assert!(verify_signature_json(TOKEN, url, body, "a9nBmqA0ju/hNViExpshrM61xv4="));
    // Tampered body: the hash no longer matches the URL's.
    assert!(!verify_signature_json(
        TOKEN,
        url,
        br#"{"property": "value", "boolean": false}"#,
        "a9nBmqA0ju/hNViExpshrM61xv4="
    ));
    // No bodySHA256 in the URL.
    assert!(!verify_signature_json(TOKEN, URL, body, "a9nBmqA0ju/hNViExpshrM61xv4="));
    // Wrong token.
    assert!(!verify_signature_json("54321", url, body, "a9nBmqA0ju/hNViExpshrM61xv4="));
}

#[test]
fn rejects_tampering() {
    // Tampered parameter value, added parameter, removed parameter.
    let mut tampered = params();
    tampered[1].1 = "1235".into();
    assert!(!verify_signature(TOKEN, URL, &tampered, EXPECTED));
    let mut added = params();
    added.push(("Extra".into(), "1".into()));
    assert!(!verify_signature(TOKEN, URL, &added, EXPECTED));
    assert!(!verify_signature(TOKEN, URL, &params()[1..], EXPECTED));
    // Tampered URL: query, path, host, scheme.
    assert!(!verify_signature(TOKEN, "https://mycompany.com/myapp.php?foo=2&bar=2", &params(), EXPECTED));
    assert!(!verify_signature(TOKEN, "https://mycompany.com/other.php?foo=1&bar=2", &params(), EXPECTED));
    assert!(!verify_signature(TOKEN, "https://evil.com/myapp.php?foo=1&bar=2", &params(), EXPECTED));
    assert!(!verify_signature(
        TOKEN,
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &params(),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    ));
    // Wrong port: the signature for :1234 does not validate for :4321, nor the https :443 one for http.
    assert!(!verify_signature(
        TOKEN,
        "http://mycompany.com:4321/myapp.php?foo=1&bar=2",
        &params(),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    ));
    assert!(!verify_signature(
        TOKEN,
        "http://mycompany.com:443/myapp.php?foo=1&bar=2",
        &params(),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    ));
    // Wrong secret, missing or mangled header.
    assert!(!verify_signature("54321", URL, &params(), EXPECTED));
    assert!(!verify_signature("", URL, &params(), EXPECTED));
    assert!(!verify_signature(TOKEN, URL, &params(), ""));
    assert!(!verify_signature(TOKEN, URL, &params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
    assert!(!verify_signature(TOKEN, URL, &params(), "rsoydt4t1cutdk1pdd93/vvr8b8="));
}

// ----- parser: 1.4 inbound, 1.5 status callbacks -----

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

#[test]
fn parses_inbound_sms_and_its_signature_round_trips() {
    let body = form(&[
        ("ToCountry", "US"),
        ("SmsMessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("NumMedia", "0"),
        ("SmsSid", "SM0123456789abcdef0123456789abcdef"),
        ("SmsStatus", "received"),
        ("Body", "Hello there & welcome = yes"),
        ("To", "+15557654321"),
        ("NumSegments", "1"),
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "+15551234567"),
        ("ApiVersion", "2010-04-01"),
    ]);
    let events = parse_form(&body).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("one message expected: {events:?}") };
    assert_eq!(m.provider_message_id, "SM0123456789abcdef0123456789abcdef");
    assert_eq!(m.from.channel_user_id, "+15551234567");
    assert_eq!(m.from.phone_e164.as_deref(), Some("+15551234567"));
    assert_eq!(m.to.as_deref(), Some("+15557654321"));
    assert_eq!(m.text, "Hello there & welcome = yes");
    assert!(m.media.is_empty());
    assert_eq!(m.route, None);
    assert_eq!(events[0].provider_event_id(), "SM0123456789abcdef0123456789abcdef");

    // What the web layer does: decode the pairs, verify, then parse.
    let url = "https://kith.example.com/hooks/twilio/sms";
    let pairs = form_pairs(&body);
    let signature = compute_signature("tok", url, &pairs);
    assert!(verify_signature("tok", url, &pairs, &signature));
    assert!(verify_signature("tok", "https://kith.example.com:443/hooks/twilio/sms", &pairs, &signature));
}

#[test]
fn parses_inbound_mms_with_media() {
    let body = form(&[
        ("MessageSid", "MM1"),
        ("From", "+15551234567"),
        ("To", "+15557654321"),
        ("Body", ""),
        ("NumMedia", "2"),
        ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0"),
        ("MediaContentType0", "image/jpeg"),
        ("MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"),
        ("MediaContentType1", "video/mp4"),
    ]);
    let events = parse_form(&body).unwrap();
    let [InboundEvent::Message(m)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(m.text, "");
    assert_eq!(m.media.len(), 2);
    assert_eq!(
        m.media[0].url.as_deref(),
        Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0")
    );
    assert_eq!(m.media[0].content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(m.media[1].content_type.as_deref(), Some("video/mp4"));
    assert_eq!(m.media[1].provider_media_id, None);
}

#[test]
fn parses_status_callbacks() {
    let body = form(&[
        ("SmsSid", "SM1"),
        ("SmsStatus", "delivered"),
        ("MessageStatus", "delivered"),
        ("To", "+15551234567"),
        ("MessageSid", "SM1"),
        ("AccountSid", "AC1"),
        ("From", "+15557654321"),
        ("ApiVersion", "2010-04-01"),
        ("RawDlrDoneDate", "2409271200"),
    ]);
    let events = parse_form(&body).unwrap();
    let [InboundEvent::Status(s)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(s.provider_message_id, "SM1");
    assert_eq!(s.state, DeliveryState::Delivered);
    assert_eq!(s.error_code, None);
    assert_eq!(events[0].provider_event_id(), "status:SM1:delivered");

    let body = form(&[
        ("MessageSid", "SM2"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30008"),
        ("ErrorMessage", "Unknown error"),
    ]);
    let events = parse_form(&body).unwrap();
    let [InboundEvent::Status(s)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(s.state, DeliveryState::Failed);
    assert_eq!(s.error_code.as_deref(), Some("30008"));
    assert_eq!(s.error_message.as_deref(), Some("Unknown error"));

    for (raw, state) in [
        ("queued", DeliveryState::Queued),
        ("sending", DeliveryState::Queued),
        ("sent", DeliveryState::Sent),
        ("read", DeliveryState::Read),
        ("failed", DeliveryState::Failed),
        ("canceled", DeliveryState::Failed),
    ] {
        let events = parse_form(&form(&[("MessageSid", "SM3"), ("MessageStatus", raw)])).unwrap();
        let [InboundEvent::Status(s)] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!(s.state, state, "{raw}");
    }
    // A status Twilio adds later is not an error.
    assert_eq!(parse_form(&form(&[("MessageSid", "SM3"), ("MessageStatus", "teleported")])).unwrap(), vec![]);
}

#[test]
fn malformed_forms_are_errors() {
    assert_eq!(parse_form(b""), Err(ParseError::MissingField("MessageSid".into())));
    assert_eq!(
        parse_form(&form(&[("From", "+15551234567"), ("Body", "x")])),
        Err(ParseError::MissingField("MessageSid".into()))
    );
    assert_eq!(
        parse_form(&form(&[("MessageSid", "SM1"), ("Body", "x")])),
        Err(ParseError::MissingField("From".into()))
    );
    assert!(matches!(
        parse_form(&form(&[("MessageSid", "SM1"), ("From", "+1555"), ("NumMedia", "lots")])),
        Err(ParseError::InvalidField { .. })
    ));
    assert!(parse_form(b"\xff\xfe\x00{not a form}").is_err());
    // A forged huge media count neither panics nor loops.
    let events = parse_form(&form(&[("MessageSid", "SM1"), ("From", "+15551234567"), ("NumMedia", "99999999999")]));
    assert!(matches!(events.as_deref(), Ok([InboundEvent::Message(m)]) if m.media.is_empty()));
}

// ----- client: 1.2 send, 1.3 errors -----

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

#[tokio::test]
async fn send_sms_posts_the_documented_form() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .and(header("authorization", basic("AC123", "secret-token").as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "error_code": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(crate::http(), server.uri());
    let sent = client
        .send_sms(
            "AC123",
            "secret-token",
            &TwilioSender::From("+15557654321".into()),
            "+15551234567",
            "Hi & bye",
            &["https://example.com/a.jpg".into(), "https://example.com/b.png".into()],
            Some("https://kith.example.com/hooks/twilio/status"),
        )
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "SM0123456789abcdef0123456789abcdef");

    let requests = server.received_requests().await.unwrap();
    let fields = form_pairs(&requests[0].body);
    let get = |k: &str| fields.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    assert_eq!(get("To"), ["+15551234567"]);
    assert_eq!(get("From"), ["+15557654321"]);
    assert_eq!(get("Body"), ["Hi & bye"]);
    assert_eq!(get("MediaUrl"), ["https://example.com/a.jpg", "https://example.com/b.png"]);
    assert_eq!(get("StatusCallback"), ["https://kith.example.com/hooks/twilio/status"]);
    assert!(get("MessagingServiceSid").is_empty());
}

#[tokio::test]
async fn send_sms_through_a_messaging_service_under_a_base_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/twilio/2010-04-01/Accounts/AC9/Messages.json"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM9"})))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(crate::http(), format!("{}/twilio/", server.uri()));
    let sent = client
        .send_sms("AC9", "t", &TwilioSender::MessagingServiceSid("MG1".into()), "+15551234567", "x", &[], None)
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "SM9");
    let fields = form_pairs(&server.received_requests().await.unwrap()[0].body);
    assert!(fields.contains(&("MessagingServiceSid".into(), "MG1".into())));
    assert!(!fields.iter().any(|(k, _)| k == "From" || k == "StatusCallback" || k == "MediaUrl"));
}

async fn send_against(response: ResponseTemplate) -> Result<kith_providers::Sent, SendError> {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(response).mount(&server).await;
    Client::new(crate::http(), server.uri())
        .send_sms("AC1", "t", &TwilioSender::From("+15557654321".into()), "+15551234567", "x", &[], None)
        .await
}

#[tokio::test]
async fn send_sms_maps_errors() {
    let err = send_against(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "7")
            .set_body_json(serde_json::json!({"code": 20429, "message": "Too Many Requests", "status": 429})),
    )
    .await
    .unwrap_err();
    assert_eq!(err, SendError::RateLimited { retry_after_ms: Some(7000) });

    // Error 20429 in the body is a rate limit whatever the status.
    let err = send_against(
        ResponseTemplate::new(400).set_body_json(serde_json::json!({"code": 20429, "message": "Too Many Requests"})),
    )
    .await
    .unwrap_err();
    assert_eq!(err, SendError::RateLimited { retry_after_ms: None });

    let err = send_against(ResponseTemplate::new(400).set_body_json(serde_json::json!({
        "code": 21211,
        "message": "The 'To' number +1555 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400
    })))
    .await
    .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            code: "21211".into(),
            message: "The 'To' number +1555 is not a valid phone number.".into()
        }
    );

    let err = send_against(
        ResponseTemplate::new(400)
            .set_body_json(serde_json::json!({"code": 21610, "message": "Attempt to send to unsubscribed recipient"})),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "21610"));

    let err = send_against(ResponseTemplate::new(500).set_body_string("oops")).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    let err = send_against(ResponseTemplate::new(503)).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");

    // 401 without Twilio's shape: permanent, named by the HTTP status.
    let err = send_against(ResponseTemplate::new(401).set_body_string("Unauthorized")).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "http_401"), "{err:?}");

    // 201 without a sid: the message may be out; do not retry blindly.
    let err = send_against(ResponseTemplate::new(201).set_body_string("{}")).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "invalid_response"), "{err:?}");
}

#[tokio::test]
async fn send_sms_transport_failures_are_transient() {
    let client = Client::new(crate::http(), crate::closed_base());
    let err = client
        .send_sms("AC1", "t", &TwilioSender::From("+1".into()), "+15551234567", "x", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let err = Client::new(http, server.uri())
        .send_sms("AC1", "t", &TwilioSender::From("+1".into()), "+15551234567", "x", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Transient(ref m) if m.contains("timed out")), "{err:?}");

    let err = Client::new(crate::http(), "not a url")
        .send_sms("AC1", "t", &TwilioSender::From("+1".into()), "+15551234567", "x", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { ref code, .. } if code == "invalid_base_url"), "{err:?}");
}
