//! The auto-reply overhead figure of issue #5: everything the `ai.reply`
//! job does except the model's own time — loading the message and
//! settings, the rules, retrieval, building the prompt, metering, parsing
//! the answer and queueing the reply with its decision — measured per
//! inbound message against an OpenAI-compatible stand-in on 127.0.0.1 that
//! answers at once (so the model's share is a loopback round trip).

use super::{percentile, workspace};
use anyhow::{anyhow, Result};
use kith_app::ai::autoreply;
use kith_app::ai::knowledge::{self, NewKnowledge};
use kith_app::ai::settings::{self, AiSettingsInput, EndpointInput};
use kith_app::inbox::channels::{self, AiMode, ChannelPatch, NewChannel};
use kith_app::inbox::ingest;
use kith_app::worker::{Registry, Worker};
use kith_app::{App, AppSettings, Keyring, MasterKeys, ProviderBases};
use kith_store::Backend;
use kith_testkit::TestDb;
use std::time::{Duration, Instant};

const AUTH_TOKEN: &str = "bench-twilio-token";
const HOOK_URL: &str = "https://kith.example.com/hooks/twilio";
const TOPICS: [&str; 10] =
    ["invoice", "booking", "parking", "refund", "delivery", "voucher", "membership", "warranty", "studio", "lesson"];
const ACTIONS: [&str; 10] = ["change", "cancel", "pay", "find", "extend", "share", "print", "move", "renew", "check"];

pub struct OverheadFigure {
    pub backend: &'static str,
    pub replies: usize,
    /// Decisions that were answers (the rest handed off).
    pub answered: usize,
    /// `autoreply::handle` end to end, per message.
    pub total: Vec<Duration>,
    /// The same minus the model call (what Kith adds).
    pub overhead: Vec<Duration>,
}

/// A stand-in for the model (an instant answer citing the first passage)
/// and for Twilio's Messages API.
async fn stand_in() -> Result<String> {
    let router = axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(|| async {
                axum::Json(serde_json::json!({"id": "c", "object": "chat.completion", "model": "bench",
                    "choices": [{"index": 0, "message": {"role": "assistant",
                        "content": "Yes, you can do that online in a minute [1]."}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 300, "completion_tokens": 12}}))
            }),
        )
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(|| async {
                (axum::http::StatusCode::CREATED, axum::Json(serde_json::json!({"sid": "SMbench", "status": "queued"})))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{addr}"))
}

/// An `application/x-www-form-urlencoded` body, as Twilio sends it.
fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&").into_bytes()
}

async fn drain(app: &App) -> Result<()> {
    let w = Worker::new(app.clone(), Registry::standard());
    while w.run_once().await.map_err(|e| anyhow!("worker: {e}"))? > 0 {}
    Ok(())
}

pub async fn overhead_figure(backend: Backend, replies: usize) -> Result<OverheadFigure> {
    let db = match backend {
        Backend::Sqlite => TestDb::sqlite().await,
        Backend::Postgres => TestDb::postgres().await.ok_or_else(|| anyhow!("KITH_TEST_POSTGRES_URL is not set"))?,
    };
    let base = stand_in().await?;
    let app_settings = AppSettings {
        allow_private_networks: true,
        provider_bases: ProviderBases { twilio: base.clone(), ..ProviderBases::default() },
        ..AppSettings::default()
    };
    let app =
        App::new(db.db.clone(), Keyring::new(MasterKeys::single(kith_crypto::SecretKey::generate())), app_settings)
            .map_err(|e| anyhow!("app: {e}"))?;
    let ctx = workspace(&app, "autoreply@bench.example").await?;
    let e = |e: kith_app::AppError| anyhow!("{e}");

    // A hundred FAQs, one per (action, topic).
    for action in ACTIONS {
        for topic in TOPICS {
            let input = NewKnowledge {
                kind: "faq".into(),
                question: Some(format!("How do I {action} my {topic}?")),
                answer: Some(format!("You can {action} your {topic} online under Account → {topic}s, or ask us here.")),
                ..Default::default()
            };
            knowledge::create(&app, &ctx, &input).await.map_err(e)?;
        }
    }
    let mut ai = AiSettingsInput::default();
    ai.features.auto_reply = true;
    ai.endpoint = Some(EndpointInput {
        base_url: format!("{base}/v1"),
        api_key: Some("sk-bench".into()),
        chat_model: "bench".into(),
        ..Default::default()
    });
    settings::update(&app, &ctx, &ai, None).await.map_err(e)?;
    let config = [("account_sid", "AC1"), ("auth_token", AUTH_TOKEN), ("from", "+15550000000")]
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    let new = NewChannel { kind: "twilio_sms".into(), name: "Bench".into(), config };
    let channel = channels::create(&app, &ctx, &new).await.map_err(e)?.id;

    // The inbound messages arrive while the assistant is off (each from its own sender) …
    let url = format!("{HOOK_URL}/{channel}");
    for i in 0..replies {
        let (action, topic) = (ACTIONS[i % 10], TOPICS[(i / 10) % 10]);
        let text = format!("Hello! How do I {action} my {topic}, please?");
        let (sid, from) = (format!("SMin{i:06}"), format!("+1555{:07}", 1_000_000 + i));
        let body = form(&[
            ("MessageSid", &sid),
            ("AccountSid", "AC1"),
            ("From", &from),
            ("To", "+15550000000"),
            ("Body", &text),
        ]);
        let params = kith_providers::twilio::form_pairs(&body);
        let sig = kith_providers::twilio::compute_signature(AUTH_TOKEN, &url, &params);
        ingest::twilio(&app, channel, &url, &body, Some(&sig)).await.map_err(e)?;
    }
    drain(&app).await?;
    kith_app::App::db(&app).optimize().await.map_err(|e| anyhow!("{e}"))?;

    // … then each is answered by the job's body, timed one at a time.
    let patch = ChannelPatch { ai_mode: Some(AiMode::Auto), ..Default::default() };
    channels::update(&app, &ctx, channel, &patch, None).await.map_err(e)?;
    let mut total = Vec::with_capacity(replies);
    let mut overhead = Vec::with_capacity(replies);
    let mut answered = 0;
    for i in 0..replies {
        let sid = format!("SMin{i:06}");
        let mut tx = app.db().begin().await.map_err(|e| anyhow!("{e}"))?;
        let m = kith_store::inbox::message_by_provider_id(&mut tx, channel, &sid)
            .await
            .map_err(|e| anyhow!("{e}"))?
            .ok_or_else(|| anyhow!("message {sid} was not stored"))?;
        tx.commit().await.map_err(|e| anyhow!("{e}"))?;
        let started = Instant::now();
        let d = autoreply::handle(&app, ctx.org_id, m.id).await.map_err(e)?;
        let took = started.elapsed();
        let row = kith_store::ai_replies::by_inbound(app.db(), ctx.org_id, m.id)
            .await
            .map_err(|e| anyhow!("{e}"))?
            .ok_or_else(|| anyhow!("no decision for {sid}"))?;
        answered += usize::from(d.outcome == "replied");
        total.push(took);
        overhead.push(took.saturating_sub(Duration::from_millis(row.model_ms as u64)));
    }
    total.sort();
    overhead.sort();
    let backend = if backend == Backend::Sqlite { "SQLite" } else { "PostgreSQL" };
    Ok(OverheadFigure { backend, replies, answered, total, overhead })
}

/// The figure as a markdown section.
pub fn section(figures: &[OverheadFigure]) -> String {
    let mut out = String::from(
        "\nAuto-reply overhead: the `ai.reply` job's body (`autoreply::handle`) for each of N inbound SMS from N \
         senders, one at a time, on a workspace of 100 FAQs, against an OpenAI-compatible stand-in on 127.0.0.1 \
         that answers at once. `overhead` is the time minus the model call as the job measures it (`model_ms`: the \
         metered call, loopback included). Goal: overhead p95 < 50 ms.\n\n\
         | backend | replies | answered | total p50 ms | total p95 ms | overhead p50 ms | overhead p95 ms | overhead p99 ms |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let ms = |v: &[Duration], p: f64| percentile(v, p);
    for f in figures {
        out += &format!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            f.backend,
            f.replies,
            f.answered,
            ms(&f.total, 0.5),
            ms(&f.total, 0.95),
            ms(&f.overhead, 0.5),
            ms(&f.overhead, 0.95),
            ms(&f.overhead, 0.99)
        );
    }
    out
}
