//! Figure 2: a client connected to `GET /events` (API token) while signed
//! inbound SMS arrive at a fixed rate (open loop) and the server's job
//! workers process them; for each message, the time from the webhook's 2xx
//! (as the poster saw it) to its `message.created` event on the stream
//! (matched through the message's provider id, read from the database
//! afterwards).

use super::post::{self, Mode, PostSpec, SseListener};
use super::{yes_no, ChannelSpec, Cpu, Options, Raw, Server};
use crate::load::Latencies;
use crate::me::{self, Backend};
use crate::process;
use anyhow::Result;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Distinct senders (each a contact with one conversation).
const SENDERS: usize = 500;
/// Connections the webhooks come over.
const CONNECTIONS: usize = 16;
/// How long to wait, after the last acknowledgement, for the last events.
const GRACE: Duration = Duration::from_secs(10);

pub struct Figure {
    backend: Backend,
    rate: f64,
    posted: usize,
    acked_in_window: usize,
    ack_latency: Latencies,
    latency: Latencies,
    /// Acknowledged in the window, but no event arrived within the grace time.
    missing: usize,
    /// Events that arrived before the poster had read the 2xx (counted as 0).
    early: usize,
    resyncs: usize,
    cpu: Cpu,
    window: Duration,
}

pub fn run(backend: Backend, opts: &Options) -> Result<Figure> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let server_rt = me::runtime(me::SERVER_THREADS, cores)?;
    let load_rt = me::runtime(me::LOAD_THREADS, cores)?;
    let mut server = server_rt.block_on(Server::start(backend, None, &ChannelSpec { count: 1, per_second: None }))?;
    let result = (|| -> Result<Figure> {
        let total = opts.warmup + opts.duration;
        let n = (opts.sse_rate * total.as_secs_f64()).ceil() as usize;
        let tag = &uuid::Uuid::now_v7().simple().to_string()[24..];
        let hooks: Vec<_> = (0..n)
            .map(|i| {
                server.hook(0, &format!("SM{tag}{i:022}"), &format!("+1777{:07}", i % SENDERS), &format!("Live {i}"))
            })
            .collect::<Result<_>>()?;
        let hooks = Arc::new(hooks);
        {
            let _rt = server_rt.enter();
            server.start_workers(opts.workers);
        }
        eprintln!(
            "  {} webhooks/s over {CONNECTIONS} connections, {:?} warm-up + {:?}; {} workers in the server",
            opts.sse_rate, opts.warmup, opts.duration, opts.workers
        );
        process::wait_for_quiet(opts.max_quiet_wait)?;
        let (posted, cpu, received, resyncs) = load_rt.block_on(async {
            let listener = SseListener::connect(server.addr, &server.token).await?;
            let spec = PostSpec {
                addr: server.addr,
                connections: CONNECTIONS,
                until: total,
                mode: Mode::Paced { per_second: opts.sse_rate },
            };
            let sampler = async {
                tokio::time::sleep(opts.warmup).await;
                let a = Cpu::take()?;
                tokio::time::sleep(opts.duration).await;
                Ok::<_, anyhow::Error>(Cpu::take()?.since(a))
            };
            let (posted, cpu) = tokio::join!(post::run(&spec, hooks.clone()), sampler);
            let posted = posted?;
            let acked = posted.answers.iter().filter(|a| a.ok()).count();
            let deadline = Instant::now() + GRACE;
            while listener.received.lock().await.len() < acked && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let received = listener.received.lock().await.clone();
            Ok::<_, anyhow::Error>((posted, cpu?, received, listener.resyncs.load(Ordering::Relaxed)))
        })?;
        server_rt.block_on(server.stop_workers());
        // Message id → provider id (the webhook's MessageSid).
        let by_sid: HashMap<String, uuid::Uuid> = server_rt.block_on(async {
            let mut raw = Raw::open(&server.db.raw_url).await?;
            let rows = raw.id_text("SELECT id, provider_message_id FROM messages WHERE direction = 'in'").await?;
            Ok::<_, anyhow::Error>(rows.into_iter().filter_map(|(id, sid)| Some((sid?, id))).collect())
        })?;
        let (from, to) = (posted.started + opts.warmup, posted.started + total);
        let mut micros = Vec::new();
        let mut ack_micros = Vec::new();
        let (mut missing, mut early, mut acked_in_window) = (0, 0, 0);
        for a in posted.answers.iter().filter(|a| a.ok() && a.done >= from && a.done < to) {
            acked_in_window += 1;
            ack_micros.push(a.micros());
            let seen = by_sid.get(&hooks[a.index].sid).and_then(|id| received.get(id));
            match seen {
                Some(&at) if at >= a.done => micros.push(at.duration_since(a.done).as_micros() as u32),
                Some(_) => {
                    early += 1;
                    micros.push(0);
                }
                None => missing += 1,
            }
        }
        let latency = Latencies::new(micros);
        eprintln!(
            "  ack → SSE: p50 {:.2} ms, p99 {:.2} ms, {missing} missing, {resyncs} resyncs",
            latency.percentile(50.0) as f64 / 1e3,
            latency.percentile(99.0) as f64 / 1e3
        );
        Ok(Figure {
            backend,
            rate: opts.sse_rate,
            posted: posted.answers.len(),
            acked_in_window,
            ack_latency: Latencies::new(ack_micros),
            latency,
            missing,
            early,
            resyncs,
            cpu,
            window: opts.duration,
        })
    })();
    server_rt.block_on(server.stop())?;
    server_rt.shutdown_timeout(Duration::from_secs(5));
    load_rt.shutdown_timeout(Duration::from_secs(5));
    result
}

pub fn markdown(figs: &[Figure], opts: &Options) -> String {
    let ms = |us: u32| format!("{:.2}", us as f64 / 1000.0);
    let mut s = format!(
        "## Acknowledgement → `message.created` on `/events`, {:.0} webhooks/s ({} s warm-up, {} s measured, {} job workers in the server)\n\n\
         | database | webhooks posted | acknowledged in the window | ack p50 / p99 ms | ack → SSE p50 ms | p99 ms | max ms | no event | event before the 2xx was read | resyncs | cores used: server / PostgreSQL / generator / other | goal p99 < 200 ms | met |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        opts.sse_rate,
        opts.warmup.as_secs(),
        opts.duration.as_secs(),
        opts.workers
    );
    for f in figs {
        let p99 = f.latency.percentile(99.0) as f64 / 1000.0;
        s += &format!(
            "| {} | {} | {} | {} / {} | {} | {} | {} | {} | {} | {} | {} | {:.0}/s, p99 {p99:.1} ms | {} |\n",
            f.backend.label(),
            f.posted,
            f.acked_in_window,
            ms(f.ack_latency.percentile(50.0)),
            ms(f.ack_latency.percentile(99.0)),
            ms(f.latency.percentile(50.0)),
            ms(f.latency.percentile(99.0)),
            ms(f.latency.max()),
            f.missing,
            f.early,
            f.resyncs,
            f.cpu.cells(f.window),
            f.rate,
            yes_no(f.missing == 0 && p99 < super::SSE_GOAL_P99_MS)
        );
    }
    s.push('\n');
    s
}
