//! The OpenAI-compatible client against stand-ins that reproduce OpenAI's, Ollama's and llama.cpp's answers.

use std::time::{Duration, Instant};

use kith_providers::llm::{
    ChatMessage, ChatRequest, LlmClient, LlmErrorKind, RetryPolicy, StreamEvent, Timeouts, Usage,
};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

const KEY: &str = "sk-test-0123456789";

fn fast_retry() -> RetryPolicy {
    RetryPolicy { max_retries: 2, base_delay: Duration::from_millis(20), max_delay: Duration::from_secs(2) }
}

fn client(base: &str) -> LlmClient {
    let timeouts = Timeouts {
        request: Duration::from_millis(800),
        first_byte: Duration::from_millis(800),
        idle: Duration::from_millis(500),
        stream_total: Duration::from_secs(5),
    };
    LlmClient::new(crate::http(), &format!("{base}/v1"), Some(KEY.into()), timeouts).unwrap().with_retry(fast_retry())
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "gpt-test".into(),
        messages: vec![ChatMessage::system("Answer briefly."), ChatMessage::user("What are your opening hours?")],
        temperature: Some(0.2),
        max_tokens: Some(200),
    }
}

fn completion(content: &str, usage: Option<(i64, i64)>) -> Value {
    let mut v = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    });
    if let Some((p, c)) = usage {
        v["usage"] = json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
    }
    v
}

/// An SSE body as OpenAI streams it: one chunk per piece, an optional usage chunk with empty choices, `[DONE]`.
fn sse(pieces: &[&str], usage: Option<(i64, i64)>, done: bool) -> String {
    let mut out = String::new();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null})
    };
    out.push_str(&format!("data: {}\n\n", chunk(json!({"role": "assistant", "content": ""}), Value::Null)));
    for p in pieces {
        out.push_str(&format!("data: {}\n\n", chunk(json!({"content": p}), Value::Null)));
    }
    if done {
        out.push_str(&format!("data: {}\n\n", chunk(json!({}), json!("stop"))));
        if let Some((p, c)) = usage {
            let u = json!({"id": "c1", "object": "chat.completion.chunk", "choices": [],
                           "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}});
            out.push_str(&format!("data: {u}\n\n"));
        }
        out.push_str("data: [DONE]\n\n");
    }
    out
}

fn sse_response(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

async fn drain(
    stream: &mut kith_providers::llm::ChatStream,
) -> (String, Result<(Option<String>, Option<Usage>), String>) {
    let mut text = String::new();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(StreamEvent::Delta(d)) => text.push_str(&d),
            Ok(StreamEvent::Finished { finish_reason, usage }) => {
                assert!(stream.next().await.is_none(), "nothing after Finished");
                return (text, Ok((finish_reason, usage)));
            }
            Err(e) => return (text, Err(format!("{:?}|{e}", e.kind))),
        }
    }
    panic!("the stream ended without Finished or an error");
}

#[tokio::test]
async fn chat_sends_the_request_and_reads_content_and_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "gpt-test", "stream": false, "max_tokens": 200,
            "messages": [{"role": "system", "content": "Answer briefly."},
                         {"role": "user", "content": "What are your opening hours?"}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("9 to 5.", Some((21, 4)))))
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server.uri()).chat(&request()).await.unwrap();
    assert_eq!(answer.content, "9 to 5.");
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 21, completion_tokens: 4 }));
}

#[tokio::test]
async fn chat_without_usage_and_without_a_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("Hello", None)))
        .mount(&server)
        .await;
    let c = LlmClient::new(crate::http(), &format!("{}/v1/", server.uri()), None, Timeouts::default()).unwrap();
    let answer = c.chat(&request()).await.unwrap();
    assert_eq!((answer.content.as_str(), answer.usage), ("Hello", None));
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("authorization").is_none(), "no key, no Authorization header");
}

#[tokio::test]
async fn streamed_answer_with_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true, "stream_options": {"include_usage": true}})))
        .respond_with(sse_response(sse(&["We open ", "at 9", " and close at 5."], Some((30, 9)), true)))
        .expect(1)
        .mount(&server)
        .await;
    let mut stream = client(&server.uri()).chat_stream(&request()).await.unwrap();
    let (text, end) = drain(&mut stream).await;
    assert_eq!(text, "We open at 9 and close at 5.");
    assert_eq!(end.unwrap(), (Some("stop".into()), Some(Usage { prompt_tokens: 30, completion_tokens: 9 })));
}

#[tokio::test]
async fn streamed_answer_without_usage_like_ollama() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        // CRLF line ends and a comment line, which SSE allows.
        .respond_with(sse_response(format!(": keep-alive\r\n\r\n{}", sse(&["Hi", " there"], None, true))))
        .mount(&server)
        .await;
    let mut stream = client(&server.uri()).chat_stream(&request()).await.unwrap();
    let (text, end) = drain(&mut stream).await;
    assert_eq!(text, "Hi there");
    assert_eq!(end.unwrap(), (Some("stop".into()), None), "no usage: the caller estimates");
}

#[tokio::test]
async fn a_stream_cut_short_is_an_error_not_a_short_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(sse_response(sse(&["We open ", "at"], None, false)))
        .mount(&server)
        .await;
    let mut stream = client(&server.uri()).chat_stream(&request()).await.unwrap();
    let (text, end) = drain(&mut stream).await;
    assert_eq!(text, "We open at", "what arrived is handed out");
    let err = end.unwrap_err();
    assert!(err.starts_with("Transport|") && err.contains("cut short"), "{err}");
}

/// A raw HTTP server that sends the headers and `first` of an SSE body, then either stalls or hangs up.
fn raw_sse_server(first: String, hang_up: bool) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut sock, _)) = listener.accept() {
            let mut buf = vec![0u8; 65536];
            let _ = sock.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
                first.len() + 10_000
            );
            let _ = sock.write_all(head.as_bytes());
            let _ = sock.write_all(first.as_bytes());
            let _ = sock.flush();
            if !hang_up {
                std::thread::sleep(Duration::from_secs(10));
            }
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_stream_that_breaks_or_goes_silent_mid_answer() {
    let first = sse(&["partial"], None, false);
    let base = raw_sse_server(first.clone(), true);
    let mut stream = client(&base).chat_stream(&request()).await.unwrap();
    let (text, end) = drain(&mut stream).await;
    assert_eq!(text, "partial");
    let err = end.unwrap_err();
    assert!(err.starts_with("Transport|") && err.contains("cut short"), "hang-up: {err}");

    let base = raw_sse_server(first, false);
    let mut stream = client(&base).chat_stream(&request()).await.unwrap();
    let started = Instant::now();
    let (text, end) = drain(&mut stream).await;
    assert_eq!(text, "partial");
    assert!(end.unwrap_err().starts_with("Timeout|"), "silence is a timeout");
    assert!(started.elapsed() < Duration::from_secs(3), "after the idle timeout, not the server's 10 s");
}

#[tokio::test]
async fn a_server_that_ignores_stream_gets_one_delta() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("Whole answer", Some((5, 2)))))
        .mount(&server)
        .await;
    let mut stream = client(&server.uri()).chat_stream(&request()).await.unwrap();
    let (text, end) = drain(&mut stream).await;
    assert_eq!(text, "Whole answer");
    assert_eq!(end.unwrap().1, Some(Usage { prompt_tokens: 5, completion_tokens: 2 }));
}

#[tokio::test]
async fn an_error_event_mid_stream() {
    let server = MockServer::start().await;
    let body = format!(
        "{}data: {}\n\n",
        sse(&["Hel"], None, false),
        json!({"error": {"message": "upstream overloaded", "type": "server_error", "code": 503}})
    );
    Mock::given(method("POST")).respond_with(sse_response(body)).mount(&server).await;
    let mut stream = client(&server.uri()).chat_stream(&request()).await.unwrap();
    let (_, end) = drain(&mut stream).await;
    let err = end.unwrap_err();
    assert!(err.contains("Server { status: 503 }") && err.contains("upstream overloaded"), "{err}");
}

#[tokio::test]
async fn a_slow_server_times_out_after_the_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion("late", None)).set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = client(&server.uri()).chat(&request()).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Timeout);
    assert!(err.to_string().contains("did not answer in time"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3, "one call and two retries");
    assert!(started.elapsed() < Duration::from_secs(4));
    let err = client(&server.uri()).chat_stream(&request()).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Timeout, "a stream waits for its first byte only so long");
}

/// Answers each call with the next template, repeating the last.
struct Sequence(std::sync::Mutex<Vec<ResponseTemplate>>);

impl Respond for Sequence {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let mut seq = self.0.lock().unwrap();
        if seq.len() > 1 {
            seq.remove(0)
        } else {
            seq[0].clone()
        }
    }
}

#[tokio::test]
async fn rate_limits_honour_retry_after_then_succeed() {
    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429).insert_header("retry-after", "0.3").set_body_json(json!({
        "error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}
    }));
    let ok = ResponseTemplate::new(200).set_body_json(completion("ok", Some((1, 1))));
    Mock::given(method("POST")).respond_with(Sequence(vec![limited, ok].into())).mount(&server).await;
    let started = Instant::now();
    let answer = client(&server.uri()).chat(&request()).await.unwrap();
    assert_eq!(answer.content, "ok");
    assert!(started.elapsed() >= Duration::from_millis(300), "waited as Retry-After said");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_rate_limit_that_does_not_pass_is_reported_with_its_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120").set_body_json(json!({
            "error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}
        })))
        .mount(&server)
        .await;
    let err = client(&server.uri()).chat(&request()).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::RateLimited { retry_after: Some(Duration::from_secs(120)) });
    assert_eq!(err.message, "You exceeded your current quota");
    assert_eq!(err.provider_code.as_deref(), Some("insufficient_quota"));
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "a wait above the cap is not attempted");
}

#[tokio::test]
async fn server_errors_are_retried_client_errors_never() {
    let server = MockServer::start().await;
    let busy = ResponseTemplate::new(503)
        .set_body_json(json!({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}));
    let ok = ResponseTemplate::new(200).set_body_json(completion("ready", None));
    Mock::given(method("POST")).respond_with(Sequence(vec![busy.clone(), busy, ok].into())).mount(&server).await;
    assert_eq!(client(&server.uri()).chat(&request()).await.unwrap().content, "ready");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>Internal Server Error</html>"))
        .mount(&server)
        .await;
    let err = client(&server.uri()).chat(&request()).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Server { status: 500 });
    assert_eq!(err.message, "<html>Internal Server Error</html>", "a body without JSON is quoted");
    assert_eq!(server.received_requests().await.unwrap().len(), 3, "bounded: one call and two retries");
}

#[tokio::test]
async fn the_three_error_shapes() {
    // OpenAI: unknown model.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "message": "The model `gpt-nope` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": null, "code": "model_not_found"}})))
        .mount(&server)
        .await;
    let err = client(&server.uri()).chat(&request()).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Client { status: 404 });
    assert_eq!(err.provider_code.as_deref(), Some("model_not_found"));
    assert!(err.to_string().contains("The model `gpt-nope` does not exist"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "a 4xx is never retried");

    // Ollama: {"error": "<text>"}.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": "model \"llama9\" not found, try pulling it first"})),
        )
        .mount(&server)
        .await;
    let err = client(&server.uri()).chat(&request()).await.unwrap_err();
    assert_eq!(err.message, "model \"llama9\" not found, try pulling it first");

    // llama.cpp: numeric code.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": 400, "message": "the request exceeds the available context size", "type": "exceed_context_size_error"}})))
        .mount(&server)
        .await;
    let err = client(&server.uri()).chat(&request()).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Client { status: 400 });
    assert_eq!(err.provider_code.as_deref(), Some("400"));
    assert_eq!(err.provider_type.as_deref(), Some("exceed_context_size_error"));
    assert_eq!(err.message, "the request exceeds the available context size");

    // A wrong key.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Incorrect API key provided: sk-test-****6789.", "type": "invalid_request_error", "code": "invalid_api_key"}})))
        .mount(&server)
        .await;
    let err = client(&server.uri()).chat(&request()).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Client { status: 401 });
    assert!(!err.to_string().contains(KEY), "the key itself never appears");
}

#[tokio::test]
async fn malformed_answers() {
    for (body, want) in [
        ("{not json", "not JSON"),
        (r#"{"object":"chat.completion","choices":[]}"#, "no choices"),
        (r#"{"choices":[{"message":{"content":42}}]}"#, "not text"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let err = client(&server.uri()).chat(&request()).await.unwrap_err();
        assert_eq!(err.kind, LlmErrorKind::Malformed, "{body}");
        assert!(err.message.contains(want), "{body}: {err}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1, "malformed is not retried");
    }
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(sse_response("data: {oops\n\n".into())).mount(&server).await;
    let mut stream = client(&server.uri()).chat_stream(&request()).await.unwrap();
    assert!(drain(&mut stream).await.1.unwrap_err().starts_with("Malformed|"));
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let c = client(&crate::closed_base()).with_retry(RetryPolicy::NONE);
    let err = c.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Transport);
    assert!(!err.to_string().contains("127.0.0.1"), "no URL in the text: {err}");
}

#[tokio::test]
async fn embeddings_in_input_order_with_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(json!({"model": "embed-test", "input": ["alpha", "beta"], "encoding_format": "float"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "model": "embed-test",
            // Out of order on purpose: `index` decides.
            "data": [{"object": "embedding", "index": 1, "embedding": [0.0, 1.0, 0.5]},
                     {"object": "embedding", "index": 0, "embedding": [1.0, 0.0, -0.5]}],
            "usage": {"prompt_tokens": 4, "total_tokens": 4}
        })))
        .mount(&server)
        .await;
    let (vectors, usage) = client(&server.uri()).embed("embed-test", &["alpha".into(), "beta".into()]).await.unwrap();
    assert_eq!(vectors, vec![vec![1.0, 0.0, -0.5], vec![0.0, 1.0, 0.5]]);
    assert_eq!(usage, Some(Usage { prompt_tokens: 4, completion_tokens: 0 }));

    // Base64 (little-endian f32) and no usage, as some servers answer.
    let server = MockServer::start().await;
    let b64 = {
        use base64::Engine as _;
        let bytes: Vec<u8> = [0.25f32, -2.0].iter().flat_map(|f| f.to_le_bytes()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{"index": 0, "embedding": b64}]})))
        .mount(&server)
        .await;
    let (vectors, usage) = client(&server.uri()).embed("e", &["x".into()]).await.unwrap();
    assert_eq!((vectors, usage), (vec![vec![0.25, -2.0]], None));

    // One vector for two inputs.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{"index": 0, "embedding": [1.0]}]})))
        .mount(&server)
        .await;
    let err = client(&server.uri()).embed("e", &["a".into(), "b".into()]).await.unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Malformed);
}

#[tokio::test]
async fn speech_returns_audio_and_its_type() {
    let server = MockServer::start().await;
    let audio = vec![0xFFu8, 0xFB, 0x90, 0x64, 1, 2, 3];
    Mock::given(method("POST"))
        .and(path("/v1/audio/speech"))
        .and(body_partial_json(json!({"model": "tts-1", "voice": "alloy", "input": "Hello", "response_format": "mp3"})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(audio.clone(), "audio/mpeg"))
        .mount(&server)
        .await;
    let speech = client(&server.uri()).speech("tts-1", "alloy", "Hello").await.unwrap();
    assert_eq!((speech.audio, speech.content_type.as_str()), (audio, "audio/mpeg"));

    // llama.cpp has no speech: 404.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})),
        )
        .mount(&server)
        .await;
    let err = client(&server.uri()).speech("tts-1", "alloy", "Hello").await.unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (LlmErrorKind::Client { status: 404 }, "File Not Found"));
}
