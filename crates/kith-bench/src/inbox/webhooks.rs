//! Figure 1: signed Twilio inbound webhooks at N connections for a fixed
//! time, then proof by row counts that every acknowledged event is stored
//! exactly once (deliberate redeliveries included) and, once the processing
//! jobs ran, became exactly one message. Beside it, the raw engine doing the
//! same two INSERTs per event (the event row and its job) in one
//! transaction each, on the same pool, at the same concurrency.

use super::post::{self, Answer, Hook, Mode, PostSpec};
use super::{yes_no, ChannelSpec, Cpu, Options, Raw, Server};
use crate::load::Latencies;
use crate::me::{self, Backend};
use crate::process;
use anyhow::{bail, Result};
use kith_app::inbox::PROCESS_JOB;
use kith_domain::new_id;
use kith_domain::time::now_ms;
use kith_store::inbox::InboundEventRow;
use kith_store::jobs::NewJob;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every this many requests, one re-posts an earlier event (a provider redelivery).
const DUPLICATE_EVERY: usize = 20;
/// Distinct senders the events come from.
const SENDERS: usize = 1000;
/// Precomputed requests per second of the whole run (more than the server can take here).
const MAX_RATE: f64 = 25_000.0;

pub struct Measured {
    pub rate: f64,
    pub latency: Latencies,
    pub errors: u64,
    pub cpu: Cpu,
    pub window: Duration,
}

pub struct Figure {
    backend: Backend,
    kith: Measured,
    raw: Measured,
    /// Requests sent in all (warm-up and window), and how many were redeliveries.
    sent: usize,
    redeliveries: usize,
    acked_distinct: usize,
    rows: i64,
    distinct_rows: i64,
    jobs: i64,
    lost: usize,
    unacked_stored: usize,
    drained: Option<Duration>,
    messages_in: i64,
    distinct_messages: i64,
    processed: i64,
    failed_events: i64,
    dead_jobs: i64,
    ran_out: bool,
}

pub fn run(backend: Backend, opts: &Options) -> Result<Figure> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let server_rt = me::runtime(me::SERVER_THREADS, cores)?;
    let load_rt = me::runtime(me::LOAD_THREADS, cores)?;
    let mut server = server_rt.block_on(Server::start(backend, None, &ChannelSpec { count: 1, per_second: None }))?;
    let result = (|| -> Result<Figure> {
        let total = opts.warmup + opts.duration;
        let n = (MAX_RATE * total.as_secs_f64()) as usize + 1;
        let run_tag = &uuid::Uuid::now_v7().simple().to_string()[24..];
        eprintln!("  precomputing {n} signed webhooks");
        let mut hooks: Vec<Hook> = Vec::with_capacity(n + 1);
        let preflight = server.hook(0, &format!("SM{run_tag}preflight"), "+16660000000", "preflight")?;
        for i in 0..n {
            if i >= DUPLICATE_EVERY && i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1 {
                let again = hooks[i - 13].clone();
                hooks.push(again);
                continue;
            }
            let sid = format!("SM{run_tag}{i:022}");
            let from = format!("+1666{:07}", i % SENDERS);
            hooks.push(server.hook(0, &sid, &from, &format!("Hello from the bench, message {i}"))?);
        }
        let hooks = Arc::new(hooks);
        // Before timing: a signed webhook is accepted, a wrongly signed one refused.
        load_rt.block_on(async {
            let one = Arc::new(vec![preflight.clone()]);
            let spec =
                PostSpec { addr: server.addr, connections: 1, until: Duration::from_secs(5), mode: Mode::Closed };
            let a = post::run(&spec, one).await?;
            if !a.answers.iter().all(Answer::ok) {
                bail!("the preflight webhook was answered {:?}", a.answers.first().map(|a| a.status));
            }
            let mut forged = preflight.clone();
            forged.signature = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".parse()?;
            forged.sid = "forged".into();
            let b = post::run(&spec, Arc::new(vec![forged])).await?;
            if b.answers.first().map(|a| a.status) != Some(403) {
                bail!("a wrongly signed webhook was answered {:?}", b.answers.first().map(|a| a.status));
            }
            Ok(())
        })?;

        eprintln!("  Kith: {} connections, {:?} warm-up + {:?}", opts.connections, opts.warmup, opts.duration);
        process::wait_for_quiet(opts.max_quiet_wait)?;
        let spec = PostSpec { addr: server.addr, connections: opts.connections, until: total, mode: Mode::Closed };
        let (posted, cpu) = load_rt.block_on(async {
            let sampler = async {
                tokio::time::sleep(opts.warmup).await;
                let a = Cpu::take()?;
                tokio::time::sleep(opts.duration).await;
                Ok::<_, anyhow::Error>(Cpu::take()?.since(a))
            };
            let (posted, cpu) = tokio::join!(post::run(&spec, hooks.clone()), sampler);
            Ok::<_, anyhow::Error>((posted?, cpu?))
        })?;
        let (from, to) = (posted.started + opts.warmup, posted.started + total);
        let in_window: Vec<&Answer> = posted.answers.iter().filter(|a| a.done >= from && a.done < to).collect();
        let ok: Vec<u32> = in_window.iter().filter(|a| a.ok()).map(|a| a.micros()).collect();
        let errors = posted.answers.iter().filter(|a| !a.ok()).count() as u64;
        let kith = Measured {
            rate: ok.len() as f64 / opts.duration.as_secs_f64(),
            latency: Latencies::new(ok),
            errors,
            cpu,
            window: opts.duration,
        };
        eprintln!(
            "  Kith: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            kith.rate,
            kith.latency.percentile(50.0) as f64 / 1e3,
            kith.latency.percentile(99.0) as f64 / 1e3,
            errors
        );

        // What was acknowledged, against what is stored.
        let mut acked: HashSet<&str> =
            posted.answers.iter().filter(|a| a.ok()).map(|a| hooks[a.index].sid.as_str()).collect();
        acked.insert(preflight.sid.as_str());
        let redeliveries = posted
            .answers
            .iter()
            .filter(|a| a.index >= DUPLICATE_EVERY && a.index % DUPLICATE_EVERY == DUPLICATE_EVERY - 1)
            .count();
        let (rows, distinct_rows, jobs, stored) = server_rt.block_on(async {
            let mut raw = Raw::open(&server.db.raw_url).await?;
            Ok::<_, anyhow::Error>((
                raw.count("SELECT COUNT(*) FROM inbound_events").await?,
                raw.count("SELECT COUNT(DISTINCT provider_event_id) FROM inbound_events").await?,
                raw.count(&format!("SELECT COUNT(*) FROM jobs WHERE kind = '{PROCESS_JOB}'")).await?,
                raw.strings("SELECT provider_event_id FROM inbound_events").await?,
            ))
        })?;
        let stored: HashSet<&str> = stored.iter().map(String::as_str).collect();
        let lost = acked.iter().filter(|s| !stored.contains(*s)).count();
        let unacked_stored = stored.iter().filter(|s| !acked.contains(*s)).count();
        eprintln!(
            "  stored {rows} events ({distinct_rows} distinct) and {jobs} jobs for {} acknowledged; lost {lost}",
            acked.len()
        );

        // The processing jobs, by the workers `kith serve` runs.
        eprintln!("  draining {jobs} processing jobs with {} workers", opts.workers);
        {
            let _rt = server_rt.enter();
            server.start_workers(opts.workers);
        }
        let (took, done) = server_rt.block_on(server.drain(PROCESS_JOB, opts.drain_timeout))?;
        server_rt.block_on(server.stop_workers());
        let (messages_in, distinct_messages, processed, failed_events, dead_jobs) = server_rt.block_on(async {
            let mut raw = Raw::open(&server.db.raw_url).await?;
            Ok::<_, anyhow::Error>((
                raw.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'").await?,
                raw.count("SELECT COUNT(DISTINCT provider_message_id) FROM messages WHERE direction = 'in'").await?,
                raw.count("SELECT COUNT(*) FROM inbound_events WHERE processed_ms IS NOT NULL").await?,
                raw.count("SELECT COUNT(*) FROM inbound_events WHERE error IS NOT NULL").await?,
                raw.count("SELECT COUNT(*) FROM jobs WHERE status = 'dead'").await?,
            ))
        })?;
        eprintln!("  drained in {:.1} s: {messages_in} messages", took.as_secs_f64());

        // The raw engine: the same two INSERTs per event, one transaction each.
        eprintln!("  raw engine: {} tasks, {:?} warm-up + {:?}", opts.connections, opts.warmup, opts.duration);
        process::wait_for_quiet(opts.max_quiet_wait)?;
        let raw = server_rt.block_on(raw_inserts(&server, opts))?;
        eprintln!(
            "  raw: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            raw.rate,
            raw.latency.percentile(50.0) as f64 / 1e3,
            raw.latency.percentile(99.0) as f64 / 1e3
        );
        Ok(Figure {
            backend,
            kith,
            raw,
            sent: posted.answers.len(),
            redeliveries,
            acked_distinct: acked.len(),
            rows,
            distinct_rows,
            jobs,
            lost,
            unacked_stored,
            drained: done.then_some(took),
            messages_in,
            distinct_messages,
            processed,
            failed_events,
            dead_jobs,
            ran_out: posted.ran_out,
        })
    })();
    server_rt.block_on(server.stop())?;
    server_rt.shutdown_timeout(Duration::from_secs(5));
    load_rt.shutdown_timeout(Duration::from_secs(5));
    result
}

/// `connections` tasks on the server's runtime, each in a loop: begin, the
/// event INSERT, the job INSERT, commit — Kith's pool, no HTTP, no
/// signature, no sealing (the payload is a sealed event's size of bytes).
async fn raw_inserts(server: &Server, opts: &Options) -> Result<Measured> {
    let db = server.app.db().clone();
    let (org_id, channel_id) = (server.org_id, server.channels[0].id);
    let sample = server.app.keyring().seal(&db, org_id, "inbound_events", "payload", new_id(), &[b'x'; 420]).await?;
    let started = Instant::now();
    let (from, to) = (started + opts.warmup, started + opts.warmup + opts.duration);
    let failed = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let sampler = async {
        tokio::time::sleep_until(from.into()).await;
        let a = Cpu::take()?;
        tokio::time::sleep_until(to.into()).await;
        Ok::<_, anyhow::Error>(Cpu::take()?.since(a))
    };
    let tasks: Vec<_> = (0..opts.connections)
        .map(|_| {
            let (db, sample, failed, counter) = (db.clone(), sample.clone(), failed.clone(), counter.clone());
            tokio::spawn(async move {
                let mut micros = Vec::new();
                while Instant::now() < to {
                    let t0 = Instant::now();
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let now = now_ms();
                    let row = InboundEventRow {
                        id: new_id(),
                        org_id,
                        channel_id,
                        provider_event_id: format!("RAW{i:020}"),
                        kind: "message".into(),
                        payload: sample.clone(),
                        received_ms: now,
                        processed_ms: None,
                        error: None,
                    };
                    let job = NewJob {
                        id: new_id(),
                        kind: "bench.raw".into(),
                        org_id: Some(org_id),
                        payload: serde_json::to_vec(&serde_json::json!({"event_id": row.id})).unwrap_or_default(),
                        run_at_ms: now,
                        max_attempts: 8,
                    };
                    let unit = async {
                        let mut tx = db.begin().await?;
                        kith_store::inbox::insert_event(&mut tx, &row).await?;
                        kith_store::jobs::enqueue(&mut tx, &job, now).await?;
                        tx.commit().await?;
                        Ok::<_, kith_store::StoreError>(())
                    };
                    if unit.await.is_err() {
                        failed.store(true, Ordering::Relaxed);
                        break;
                    }
                    let done = Instant::now();
                    if done >= from && done < to {
                        micros.push(done.duration_since(t0).as_micros().min(u32::MAX as u128) as u32);
                    }
                }
                micros
            })
        })
        .collect();
    let cpu = sampler.await?;
    let mut micros = Vec::new();
    for t in tasks {
        micros.extend(t.await?);
    }
    if failed.load(Ordering::Relaxed) {
        bail!("a raw insert failed");
    }
    Ok(Measured {
        rate: micros.len() as f64 / opts.duration.as_secs_f64(),
        latency: Latencies::new(micros),
        errors: 0,
        cpu,
        window: opts.duration,
    })
}

pub fn markdown(figs: &[Figure], opts: &Options) -> String {
    let ms = |us: u32| format!("{:.2}", us as f64 / 1000.0);
    let mut s = format!(
        "## Signed Twilio inbound webhooks, {} connections ({} s warm-up, {} s measured)\n\n\
         | target | database | acknowledged/s | p50 ms | p99 ms | max ms | errors | cores used: server / PostgreSQL / generator / other |\n\
         |---|---|---|---|---|---|---|---|\n",
        opts.connections,
        opts.warmup.as_secs(),
        opts.duration.as_secs()
    );
    for f in figs {
        for (label, m) in [
            ("Kith: `POST /hooks/twilio/{channel}` (verify, parse, seal, store event + job, 2xx)", &f.kith),
            ("raw engine: INSERT event + INSERT job, one transaction each, on Kith's pool", &f.raw),
        ] {
            s += &format!(
                "| {label} | {} | {:.0} | {} | {} | {} | {} | {} |\n",
                f.backend.label(),
                m.rate,
                ms(m.latency.percentile(50.0)),
                ms(m.latency.percentile(99.0)),
                ms(m.latency.max()),
                m.errors,
                m.cpu.cells(m.window)
            );
        }
    }
    s += "\n| database | Kith / raw | goal ≥ 2,000/s and p99 < 100 ms | met |\n|---|---|---|---|\n";
    for f in figs {
        let p99 = f.kith.latency.percentile(99.0) as f64 / 1000.0;
        s += &format!(
            "| {} | {:.0} % | {:.0}/s, p99 {p99:.1} ms | {} |\n",
            f.backend.label(),
            100.0 * f.kith.rate / f.raw.rate.max(1e-9),
            f.kith.rate,
            yes_no(f.kith.rate >= super::HOOK_GOAL_RATE && p99 < super::HOOK_GOAL_P99_MS)
        );
    }
    s += "\nRows after the run (all requests, warm-up included; redeliveries are re-posts of an earlier event):\n\n\
          | database | requests sent | of them redeliveries | distinct events acknowledged | `inbound_events` rows (distinct ids) | `inbox.process` jobs | lost | stored but not acknowledged | processed in | messages in (distinct) | events processed / with error | dead jobs |\n\
          |---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for f in figs {
        s += &format!(
            "| {} | {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} ({}) | {} / {} | {} |\n",
            f.backend.label(),
            f.sent,
            f.redeliveries,
            f.acked_distinct,
            f.rows,
            f.distinct_rows,
            f.jobs,
            f.lost,
            f.unacked_stored,
            f.drained.map(|d| format!("{:.1} s", d.as_secs_f64())).unwrap_or_else(|| "**not drained**".into()),
            f.messages_in,
            f.distinct_messages,
            f.processed,
            f.failed_events,
            f.dead_jobs
        );
    }
    for f in figs.iter().filter(|f| f.ran_out) {
        s += &format!(
            "\n{}: the precomputed requests ran out before the window ended (raise MAX_RATE): the rate is a floor.\n",
            f.backend.label()
        );
    }
    s.push('\n');
    s
}
