use kith_providers::{
    ChannelKind, DeliveryState, InboundEvent, InboundMessage, MediaRef, SendError, Sender, Sent, StatusUpdate,
};

#[test]
fn channel_kind_names_round_trip() {
    let names = ["twilio_sms", "whatsapp", "messenger", "instagram", "telegram", "viber", "email"];
    assert_eq!(ChannelKind::ALL.len(), names.len());
    for (kind, name) in ChannelKind::ALL.into_iter().zip(names) {
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.to_string(), name);
        assert_eq!(ChannelKind::parse(name), Some(kind));
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<ChannelKind>(&format!("\"{name}\"")).unwrap(), kind);
    }
    assert_eq!(ChannelKind::parse("sms"), None);
    assert_eq!(ChannelKind::parse("WhatsApp"), None);
}

#[test]
fn delivery_state_names_round_trip() {
    let names = ["queued", "sent", "delivered", "read", "failed"];
    for (state, name) in DeliveryState::ALL.into_iter().zip(names) {
        assert_eq!(state.as_str(), name);
        assert_eq!(DeliveryState::parse(name), Some(state));
        assert_eq!(serde_json::to_string(&state).unwrap(), format!("\"{name}\""));
    }
    assert_eq!(DeliveryState::parse("undelivered"), None);
}

fn message() -> InboundEvent {
    InboundEvent::Message(InboundMessage {
        route: Some("106540352242922".into()),
        provider_message_id: "wamid.1".into(),
        from: Sender {
            channel_user_id: "16505551234".into(),
            phone_e164: Some("+16505551234".into()),
            email: None,
            display_name: Some("Sheena Nelson".into()),
        },
        to: Some("15550783881".into()),
        text: "hi".into(),
        media: vec![MediaRef {
            url: None,
            provider_media_id: Some("m1".into()),
            content_type: Some("image/jpeg".into()),
        }],
        sent_at_ms: Some(1_749_416_383_000),
    })
}

fn status() -> InboundEvent {
    InboundEvent::Status(StatusUpdate {
        route: None,
        provider_message_id: "SM1".into(),
        state: DeliveryState::Delivered,
        error_code: None,
        error_message: None,
        at_ms: None,
    })
}

#[test]
fn provider_event_ids() {
    assert_eq!(message().provider_event_id(), "wamid.1");
    assert_eq!(status().provider_event_id(), "status:SM1:delivered");
    assert_eq!(message().route(), Some("106540352242922"));
    assert_eq!(status().route(), None);
}

#[test]
fn neutral_types_survive_json() {
    for event in [message(), status()] {
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<InboundEvent>(&json).unwrap(), event);
    }
    let sent = Sent { provider_message_id: "SM1".into() };
    assert_eq!(serde_json::from_str::<Sent>(&serde_json::to_string(&sent).unwrap()).unwrap(), sent);
    for err in [
        SendError::RateLimited { retry_after_ms: Some(1000) },
        SendError::Transient("HTTP 503".into()),
        SendError::Permanent { code: "21211".into(), message: "invalid To".into() },
    ] {
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(serde_json::from_str::<SendError>(&json).unwrap(), err);
    }
}

#[test]
fn send_error_texts_and_retryability() {
    assert_eq!(
        SendError::RateLimited { retry_after_ms: Some(35_000) }.to_string(),
        "rate limited by the provider (retry after 35000 ms)"
    );
    assert_eq!(SendError::RateLimited { retry_after_ms: None }.to_string(), "rate limited by the provider");
    assert!(SendError::RateLimited { retry_after_ms: None }.is_retryable());
    assert!(SendError::Transient("x".into()).is_retryable());
    assert!(!SendError::Permanent { code: "1".into(), message: "x".into() }.is_retryable());
}
