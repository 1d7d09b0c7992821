//! Figure 3: N queued replies from S senders (Twilio channels) limited to R
//! sends/s each, through a stand-in Twilio in this process that answers 429
//! to every Kth call. The replies are queued first (workers stopped), then
//! the server's workers send them; the stand-in notes every call (sender,
//! body, time, answer). Reported: every reply accepted by the stand-in
//! exactly once and marked sent in the database with the id the stand-in
//! gave it; the most calls any sender made in any 1-second window; the time
//! from the workers' start to the last accepted call beside the floor N /
//! (S × R).

use super::{yes_no, ChannelSpec, Options, Raw, Server};
use crate::me::{self, Backend};
use crate::process;
use anyhow::{anyhow, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use kith_app::inbox::messages::{self, NewMessage};
use kith_app::inbox::SEND_JOB;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Inbound senders (conversations) per channel, to reply to.
const PEERS_PER_CHANNEL: usize = 10;

/// One call the stand-in received.
#[derive(Clone)]
struct Call {
    from: String,
    body: String,
    at: Instant,
    accepted: bool,
}

#[derive(Clone)]
struct StandIn {
    calls: Arc<Mutex<Vec<Call>>>,
    every: usize,
}

async fn messages_json(State(s): State<StandIn>, body: Bytes) -> impl IntoResponse {
    let at = Instant::now();
    let pairs = kith_providers::twilio::form_pairs(&body);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut calls = s.calls.lock().expect("calls lock");
    let n = calls.len() + 1;
    let accepted = s.every == 0 || n % s.every != 0;
    calls.push(Call { from: get("From"), body: get("Body"), at, accepted });
    drop(calls);
    if accepted {
        let json = serde_json::json!({"sid": format!("SMout{n:010}"), "status": "queued", "to": get("To"), "from": get("From")});
        (StatusCode::CREATED, axum::Json(json))
    } else {
        // Twilio's error shape; no Retry-After (Twilio documents none).
        let json = serde_json::json!({"code": 20429, "message": "Too Many Requests", "status": 429,
            "more_info": "https://www.twilio.com/docs/errors/20429"});
        (StatusCode::TOO_MANY_REQUESTS, axum::Json(json))
    }
}

pub enum Figure {
    NotMeasurable { backend: Backend, reason: String },
    Measured(Box<Measured>),
}

pub struct Measured {
    backend: Backend,
    queued: usize,
    queue_took: Duration,
    calls: usize,
    refused_429: usize,
    accepted: usize,
    /// Replies the stand-in accepted exactly once / more than once / never.
    once: usize,
    twice: usize,
    never: usize,
    db_sent: i64,
    db_matching: usize,
    db_failed: i64,
    max_window_accepted: usize,
    max_window_all: usize,
    total: Option<Duration>,
    floor: Duration,
    /// From the workers' start to the stand-in's first call.
    first_call: Option<Duration>,
    /// Accepted calls in each 10 s from the workers' start.
    per_ten_seconds: Vec<usize>,
}

pub fn run(backend: Backend, opts: &Options) -> Result<Figure> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let server_rt = me::runtime(me::SERVER_THREADS, cores)?;
    let stand_in = StandIn { calls: Arc::new(Mutex::new(Vec::new())), every: opts.outbound_429_every };
    let base = server_rt.block_on(async {
        let router = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", axum::routing::post(messages_json))
            .with_state(stand_in.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok::<_, anyhow::Error>(format!("http://{addr}"))
    })?;
    let spec = ChannelSpec { count: opts.outbound_senders, per_second: Some(opts.outbound_per_second) };
    let mut server = match server_rt.block_on(Server::start(backend, Some(base), &spec)) {
        Ok(s) => s,
        Err(e) => {
            // Before per-sender limits exist, a channel with `rate_limits` is refused.
            let reason = format!("{e:#}");
            eprintln!("  not measurable: {reason}");
            return Ok(Figure::NotMeasurable { backend, reason });
        }
    };
    let result = (|| -> Result<Figure> {
        // Conversations to reply in: PEERS_PER_CHANNEL inbound senders per channel.
        let mut hooks = Vec::new();
        for c in 0..opts.outbound_senders {
            for p in 0..PEERS_PER_CHANNEL {
                let sid = format!("SMin{c:04}{p:04}");
                hooks.push(server.hook(c, &sid, &format!("+1888{:03}{:04}", c, p), "Hello")?);
            }
        }
        let (ctx, app) = (server.ctx(), server.app.clone());
        server_rt.block_on(async {
            for h in &hooks {
                let channel = server.channels.iter().find(|c| h.path.ends_with(&c.id.to_string())).expect("channel");
                let sig = h.signature.to_str()?.to_string();
                kith_app::inbox::ingest::twilio(&app, channel.id, &channel.webhook_url, &h.body, Some(&sig))
                    .await
                    .map_err(|e| anyhow!("inbound: {e}"))?;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        {
            let _rt = server_rt.enter();
            server.start_workers(opts.workers);
        }
        server_rt.block_on(server.drain(kith_app::inbox::PROCESS_JOB, opts.drain_timeout))?;
        server_rt.block_on(server.stop_workers());
        let conversations = server_rt.block_on(async {
            let mut raw = Raw::open(&server.db.raw_url).await?;
            raw.id_pairs("SELECT id, channel_id FROM conversations").await
        })?;
        if conversations.len() != opts.outbound_senders * PEERS_PER_CHANNEL {
            return Err(anyhow!("{} conversations, expected {}", conversations.len(), hooks.len()));
        }
        // Queue the replies, round-robin over the conversations, 8 at a time.
        eprintln!("  queueing {} replies in {} conversations", opts.outbound_messages, conversations.len());
        let started = Instant::now();
        let bodies: HashMap<String, uuid::Uuid> = server_rt.block_on(async {
            let mut out = HashMap::new();
            let mut i = 0;
            while i < opts.outbound_messages {
                let batch: Vec<_> = (i..(i + 8).min(opts.outbound_messages))
                    .map(|k| {
                        let (app, ctx) = (app.clone(), ctx.clone());
                        let conv = conversations[k % conversations.len()].0;
                        let body = format!("Bench reply {k:06}");
                        tokio::spawn(async move {
                            let m = messages::send(&app, &ctx, conv, &NewMessage { body: body.clone() }).await;
                            (body, m)
                        })
                    })
                    .collect();
                for t in batch {
                    let (body, m) = t.await?;
                    out.insert(body, m.map_err(|e| anyhow!("queue a reply: {e}"))?.id);
                }
                i += 8;
            }
            Ok::<_, anyhow::Error>(out)
        })?;
        let queue_took = started.elapsed();
        eprintln!("  queued in {:.1} s; sending with {} workers", queue_took.as_secs_f64(), opts.workers);
        process::wait_for_quiet(opts.max_quiet_wait)?;
        let t0 = Instant::now();
        {
            let _rt = server_rt.enter();
            server.start_workers(opts.workers);
        }
        let (_, done) = server_rt.block_on(server.drain(SEND_JOB, opts.drain_timeout))?;
        server_rt.block_on(server.stop_workers());
        let calls = stand_in.calls.lock().expect("calls lock").clone();
        let accepted: Vec<&Call> = calls.iter().filter(|c| c.accepted).collect();
        let mut per_body: HashMap<&str, usize> = HashMap::new();
        for c in &accepted {
            *per_body.entry(c.body.as_str()).or_default() += 1;
        }
        let once = bodies.keys().filter(|b| per_body.get(b.as_str()) == Some(&1)).count();
        let twice = bodies.keys().filter(|b| per_body.get(b.as_str()).is_some_and(|n| *n > 1)).count();
        let never = bodies.keys().filter(|b| !per_body.contains_key(b.as_str())).count();
        let issued: std::collections::HashSet<String> =
            calls.iter().enumerate().filter(|(_, c)| c.accepted).map(|(i, _)| format!("SMout{:010}", i + 1)).collect();
        let (db_sent, db_failed, sent_ids) = server_rt.block_on(async {
            let mut raw = Raw::open(&server.db.raw_url).await?;
            Ok::<_, anyhow::Error>((
                raw.count("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state IN ('sent', 'delivered')")
                    .await?,
                raw.count("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state = 'failed'").await?,
                raw.id_text("SELECT id, provider_message_id FROM messages WHERE direction = 'out'").await?,
            ))
        })?;
        let db_matching = sent_ids.iter().filter(|(_, sid)| sid.as_ref().is_some_and(|s| issued.contains(s))).count();
        let window = |only_accepted: bool| {
            let mut by_sender: HashMap<&str, Vec<Instant>> = HashMap::new();
            for c in calls.iter().filter(|c| c.accepted || !only_accepted) {
                by_sender.entry(c.from.as_str()).or_default().push(c.at);
            }
            by_sender.values_mut().map(|v| max_in_window(v, Duration::from_secs(1))).max().unwrap_or(0)
        };
        let floor = Duration::from_secs_f64(
            opts.outbound_messages as f64 / (opts.outbound_senders as f64 * opts.outbound_per_second),
        );
        let total = accepted.iter().map(|c| c.at).max().filter(|_| done).map(|last| last.duration_since(t0));
        let first_call = calls.iter().map(|c| c.at).min().map(|first| first.duration_since(t0));
        let mut per_ten_seconds = Vec::new();
        for c in &accepted {
            let slot = (c.at.duration_since(t0).as_secs() / 10) as usize;
            if per_ten_seconds.len() <= slot {
                per_ten_seconds.resize(slot + 1, 0);
            }
            per_ten_seconds[slot] += 1;
        }
        eprintln!(
            "  {} calls ({} refused 429), last accepted after {:?}; max per sender per second {}",
            calls.len(),
            calls.len() - accepted.len(),
            total,
            window(true)
        );
        eprintln!("  {}", pace_report(&calls, t0, opts.outbound_per_second));
        if let Some(path) = &opts.calls_out {
            let mut csv = String::from("sender,ms,accepted\n");
            for c in &calls {
                let ms = c.at.saturating_duration_since(t0).as_secs_f64() * 1000.0;
                csv += &format!("{},{ms:.3},{}\n", c.from, u8::from(c.accepted));
            }
            std::fs::write(path, csv)?;
        }
        Ok(Figure::Measured(Box::new(Measured {
            backend,
            queued: bodies.len(),
            queue_took,
            calls: calls.len(),
            refused_429: calls.len() - accepted.len(),
            accepted: accepted.len(),
            once,
            twice,
            never,
            db_sent,
            db_matching,
            db_failed,
            max_window_accepted: window(true),
            max_window_all: window(false),
            total,
            floor,
            first_call,
            per_ten_seconds,
        })))
    })();
    server_rt.block_on(server.stop())?;
    server_rt.shutdown_timeout(Duration::from_secs(5));
    result
}

/// Where the senders' time went, for the run's log: per sender, the first
/// and last call after the workers' start, and the time lost between calls
/// (each gap's excess over the nominal interval 1/rate), as the mean over
/// senders, with the gaps longer than twice the interval; then the senders'
/// calls and refusals (fewest, most), and the last sender's own figures — a
/// sender refused more often than the others has more calls to make.
fn pace_report(calls: &[Call], t0: Instant, rate: f64) -> String {
    let nominal = Duration::from_secs_f64(1.0 / rate);
    let mut by_sender: HashMap<&str, Vec<(Instant, bool)>> = HashMap::new();
    for c in calls {
        by_sender.entry(c.from.as_str()).or_default().push((c.at, c.accepted));
    }
    let n = by_sender.len().max(1) as f64;
    let (mut first, mut last, mut lost, mut long_gaps) = (0.0, 0.0, 0.0, 0usize);
    // (end, calls, refusals, lost) of the sender that finished last.
    let mut latest = (0.0f64, 0usize, 0usize, 0.0f64);
    let (mut fewest, mut most) = ((usize::MAX, usize::MAX), (0usize, 0usize));
    for times in by_sender.values_mut() {
        times.sort_unstable_by_key(|t| t.0);
        first += times[0].0.duration_since(t0).as_secs_f64();
        let end = times[times.len() - 1].0.duration_since(t0).as_secs_f64();
        last += end;
        let mut own_lost = 0.0;
        for pair in times.windows(2) {
            let gap = pair[1].0.duration_since(pair[0].0);
            own_lost += gap.saturating_sub(nominal).as_secs_f64();
            long_gaps += usize::from(gap > nominal * 2);
        }
        lost += own_lost;
        let refused = times.iter().filter(|t| !t.1).count();
        fewest = fewest.min((times.len(), refused));
        most = most.max((times.len(), refused));
        if end > latest.0 {
            latest = (end, times.len(), refused, own_lost);
        }
    }
    format!(
        "per sender (mean of {}): first call {:.2} s, last call {:.2} s, time lost in gaps over {:.0} ms {:.2} s; gaps over twice that: {} in all; calls (refused) per sender from {} ({}) to {} ({}); the last sender: {:.2} s, {} calls ({} refused), {:.2} s lost",
        by_sender.len(),
        first / n,
        last / n,
        nominal.as_secs_f64() * 1000.0,
        lost / n,
        long_gaps,
        fewest.0,
        fewest.1,
        most.0,
        most.1,
        latest.0,
        latest.1,
        latest.2,
        latest.3
    )
}

/// The most instants in any window of length `w` (sorts `v`).
fn max_in_window(v: &mut [Instant], w: Duration) -> usize {
    v.sort_unstable();
    let (mut best, mut lo) = (0, 0);
    for hi in 0..v.len() {
        while v[hi].duration_since(v[lo]) >= w {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

pub fn markdown(figs: &[Figure], opts: &Options) -> String {
    let mut s = format!(
        "## Outbound: {} queued replies from {} senders limited to {}/s each, stand-in Twilio answering 429 to every {}th call ({} job workers)\n\n",
        opts.outbound_messages, opts.outbound_senders, opts.outbound_per_second, opts.outbound_429_every, opts.workers
    );
    s += "| database | queued (took) | calls to the stand-in / 429s / accepted | replies accepted once / more than once / never | sent in the database (with the stand-in's id) / failed | most calls of one sender in any 1 s: accepted / all | workers started → first call / last accepted call | floor | within 20 % | met |\n\
          |---|---|---|---|---|---|---|---|---|---|\n";
    for f in figs {
        match f {
            Figure::NotMeasurable { backend, reason } => {
                s += &format!(
                    "| {} | not measurable yet: {} | | | | | | | | |\n",
                    backend.label(),
                    reason.replace('|', "/").replace('\n', " ")
                );
            }
            Figure::Measured(m) => {
                let limit = opts.outbound_per_second.floor() as usize;
                let within =
                    m.total.map(|t| t.as_secs_f64() <= m.floor.as_secs_f64() * (1.0 + super::OUTBOUND_GOAL_SLACK));
                let exactly_once = m.once == m.queued && m.twice == 0 && m.never == 0;
                let all_sent = m.db_sent as usize == m.queued && m.db_matching == m.queued;
                s += &format!(
                    "| {} | {} ({:.1} s) | {} / {} / {} | {} / {} / {} | {} ({}) / {} | {} / {} | {} / {} | {:.0} s | {} | {} |\n",
                    m.backend.label(),
                    m.queued,
                    m.queue_took.as_secs_f64(),
                    m.calls,
                    m.refused_429,
                    m.accepted,
                    m.once,
                    m.twice,
                    m.never,
                    m.db_sent,
                    m.db_matching,
                    m.db_failed,
                    m.max_window_accepted,
                    m.max_window_all,
                    m.first_call.map(|t| format!("{:.1} s", t.as_secs_f64())).unwrap_or_else(|| "—".into()),
                    m.total.map(|t| format!("{:.1} s", t.as_secs_f64())).unwrap_or_else(|| "**not finished**".into()),
                    m.floor.as_secs_f64(),
                    within.map(yes_no).unwrap_or("**no**"),
                    yes_no(exactly_once && all_sent && m.max_window_accepted <= limit && within == Some(true))
                );
            }
        }
    }
    for f in figs {
        if let Figure::Measured(m) = f {
            let series: Vec<String> = m.per_ten_seconds.iter().map(|n| n.to_string()).collect();
            s += &format!(
                "\n{}: accepted calls in each 10 s from the workers' start (the limits allow {:.0}): {}\n",
                m.backend.label(),
                10.0 * opts.outbound_senders as f64 * opts.outbound_per_second,
                series.join(", ")
            );
        }
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::max_in_window;
    use std::time::{Duration, Instant};

    #[test]
    fn most_in_any_window() {
        let t = Instant::now();
        let ms = |n: u64| t + Duration::from_millis(n);
        let mut v = vec![ms(0), ms(999), ms(1000), ms(1500), ms(1999), ms(3000)];
        assert_eq!(max_in_window(&mut v, Duration::from_secs(1)), 3);
        assert_eq!(max_in_window(&mut [], Duration::from_secs(1)), 0);
    }
}
