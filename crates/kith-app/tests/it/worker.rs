//! The background worker: retries with backoff, dead jobs, unknown kinds,
//! schedules fired once across workers, and jobs claimed once.

use crate::support::*;
use kith_app::worker::{self, Registry, Worker};
use kith_app::{App, AppError};
use kith_domain::new_id;
use kith_domain::time::now_ms;
use kith_store::jobs::{self, JobRow, NewJob, ScheduleRow};
use kith_testkit::TestApp;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// What a handler saw on each run: the attempt number and the payload.
type Seen = Arc<Mutex<Vec<(i64, Vec<u8>)>>>;

/// Enqueue a job directly, ready now.
async fn enqueue(app: &App, kind: &str, payload: &[u8], max_attempts: i64) -> Uuid {
    let id = new_id();
    let mut tx = app.db().begin().await.unwrap();
    jobs::enqueue(
        &mut tx,
        &NewJob { id, kind: kind.into(), org_id: None, payload: payload.to_vec(), run_at_ms: 0, max_attempts },
        now_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn job(app: &App, id: Uuid) -> Option<JobRow> {
    jobs::get(app.db(), id).await.unwrap()
}

/// Wait until a queued job is due.
async fn wait_until_due(app: &App, id: Uuid) {
    if let Some(j) = job(app, id).await {
        let wait = j.run_at_ms - now_ms() + 30;
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }
}

/// Wait until a queued job is due, then run one batch.
async fn run_when_due(w: &Worker, app: &App, id: Uuid) -> usize {
    wait_until_due(app, id).await;
    w.run_once().await.unwrap()
}

/// Delay after failure number `attempt`: 2^attempt s ± 25 %, counted from
/// `started_at` (just before the failed run; the run's own time is allowed for).
fn assert_backoff(label: &str, started_at: i64, run_at: i64, attempt: u32) {
    let base = 1000i64 << attempt;
    let delay = run_at - started_at;
    assert!(
        delay >= base - base / 4 && delay <= base + base / 4 + 500,
        "{label}: after failure {attempt} the job waits {delay} ms (expected {base} ms ± 25 %)"
    );
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_until_it_succeeds() {
    each_backend_concurrently(|t: TestApp| async move {
        // Own all of `t` (its database folder too), not only the fields used.
        let t = t;
        let (app, l) = (&t.app, t.label);
        let seen: Seen = Arc::default();
        let mut registry = Registry::default();
        let s = seen.clone();
        registry.register("test.flaky", move |_app, job| {
            let s = s.clone();
            async move {
                let mut seen = s.lock().unwrap();
                seen.push((job.attempts, job.payload.clone()));
                if seen.len() < 3 {
                    Err(format!("failure {}", seen.len()))
                } else {
                    Ok(())
                }
            }
        });
        let w = Worker::new(app.clone(), registry);
        let id = enqueue(app, "test.flaky", b"{\"n\":1}", 5).await;

        for failure in 1..=2u32 {
            wait_until_due(app, id).await;
            let before = now_ms();
            let ran = w.run_once().await.unwrap();
            assert_eq!(ran, 1, "{l}: run {failure}");
            let j = job(app, id).await.expect("job kept for retry");
            assert_eq!(j.status, "queued", "{l}");
            assert_eq!(j.attempts, failure as i64, "{l}");
            assert_eq!(j.last_error.as_deref(), Some(format!("failure {failure}").as_str()), "{l}");
            assert_backoff(l, before, j.run_at_ms, failure);
            assert_eq!(w.run_once().await.unwrap(), 0, "{l}: not due before its backoff");
        }
        assert_eq!(run_when_due(&w, app, id).await, 1, "{l}: third run");
        assert!(job(app, id).await.is_none(), "{l}: a finished job is gone");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![(1, b"{\"n\":1}".to_vec()), (2, b"{\"n\":1}".to_vec()), (3, b"{\"n\":1}".to_vec())],
            "{l}: three runs with attempts counted and the payload intact"
        );
    })
    .await;
}

#[tokio::test]
async fn a_job_out_of_attempts_is_dead_until_replayed() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let runs = Arc::new(AtomicUsize::new(0));
        let mut registry = Registry::default();
        let r = runs.clone();
        registry.register("test.broken", move |_app, _job| {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                Err("always broken".to_string())
            }
        });
        let w = Worker::new(app.clone(), registry);
        let id = enqueue(app, "test.broken", b"{}", 1).await;

        assert_eq!(w.run_once().await.unwrap(), 1, "{l}");
        let j = job(app, id).await.expect("dead jobs are kept");
        assert_eq!((j.status.as_str(), j.attempts, j.last_error.as_deref()), ("dead", 1, Some("always broken")), "{l}");
        assert!(jobs::list_dead(app.db(), 10).await.unwrap().iter().any(|d| d.id == id), "{l}: listed as dead");
        assert_eq!(w.run_once().await.unwrap(), 0, "{l}: a dead job is not run");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{l}");

        assert!(jobs::replay(app.db(), id, now_ms()).await.unwrap(), "{l}: replay");
        assert_eq!(w.run_once().await.unwrap(), 1, "{l}: replayed job runs");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "{l}");
        assert_eq!(job(app, id).await.unwrap().status, "dead", "{l}: and dies again");
    }
}

#[tokio::test]
async fn a_job_of_unknown_kind_is_retried_then_dead() {
    each_backend_concurrently(|t: TestApp| async move {
        // Own all of `t` (its database folder too), not only the fields used.
        let t = t;
        let (app, l) = (&t.app, t.label);
        let w = Worker::new(app.clone(), Registry::default());
        let id = enqueue(app, "test.nobody-handles-this", b"{}", 2).await;

        let before = now_ms();
        assert_eq!(w.run_once().await.unwrap(), 1, "{l}");
        let j = job(app, id).await.unwrap();
        assert_eq!((j.status.as_str(), j.attempts), ("queued", 1), "{l}: retried first");
        assert!(j.last_error.as_deref().unwrap_or("").contains("no handler"), "{l}: {:?}", j.last_error);
        assert_backoff(l, before, j.run_at_ms, 1);

        assert_eq!(run_when_due(&w, app, id).await, 1, "{l}");
        let j = job(app, id).await.unwrap();
        assert_eq!((j.status.as_str(), j.attempts), ("dead", 2), "{l}: then dead");
    })
    .await;
}

#[tokio::test]
async fn enqueued_jobs_exist_only_if_their_transaction_commits() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let payload = serde_json::json!({"contact": 42});

        let mut tx = app.db().begin().await.unwrap();
        let dropped = worker::enqueue(&mut tx, "test.rolled-back", None, &payload, 0).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(job(app, dropped).await.is_none(), "{l}: rolled back with its change");

        let mut tx = app.db().begin().await.unwrap();
        let kept = worker::enqueue(&mut tx, "test.kept", None, &payload, 0).await.unwrap();
        tx.commit().await.unwrap();
        let j = job(app, kept).await.expect("committed");
        assert_eq!((j.status.as_str(), j.attempts, j.max_attempts), ("queued", 0, worker::DEFAULT_MAX_ATTEMPTS), "{l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_workers_run_each_job_once() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let runs: Arc<Mutex<HashMap<Uuid, usize>>> = Arc::default();
        let mut registry = Registry::default();
        let r = runs.clone();
        registry.register("test.count", move |_app, job| {
            let r = r.clone();
            async move {
                *r.lock().unwrap().entry(job.id).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok::<(), String>(())
            }
        });
        let mut ids = Vec::new();
        for _ in 0..30 {
            ids.push(enqueue(app, "test.count", b"{}", 3).await);
        }
        let workers: Vec<Arc<Worker>> = (0..3).map(|_| Arc::new(Worker::new(app.clone(), registry.clone()))).collect();
        let handles: Vec<_> = workers
            .iter()
            .map(|w| {
                let w = w.clone();
                tokio::spawn(async move {
                    let mut total = 0;
                    loop {
                        let n = w.run_once().await.unwrap();
                        if n == 0 {
                            break total;
                        }
                        total += n;
                    }
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        let runs = runs.lock().unwrap().clone();
        assert_eq!(total, 30, "{l}: thirty claims in all");
        assert_eq!(runs.len(), 30, "{l}: every job ran");
        assert!(runs.values().all(|&n| n == 1), "{l}: none ran twice: {runs:?}");
        for id in ids {
            assert!(job(app, id).await.is_none(), "{l}: done jobs are gone");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_schedule_is_enqueued_once_across_workers() {
    // A run fired near a minute boundary would make the next one due at
    // once; start clear of the boundary.
    let into_minute = now_ms() % 60_000;
    if into_minute > 50_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into_minute + 200) as u64)).await;
    }
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let runs = Arc::new(AtomicUsize::new(0));
        let mut registry = Registry::default();
        let r = runs.clone();
        registry.register("test.tick", move |_app, job| {
            let r = r.clone();
            async move {
                assert_eq!(job.payload, b"{\"what\":\"tick\"}");
                r.fetch_add(1, Ordering::SeqCst);
                Ok::<(), String>(())
            }
        });
        let payload = serde_json::json!({"what": "tick"});

        let r = worker::schedule(app, "ticker", "test.tick", "not a cron", &payload).await;
        assert!(matches!(&r, Err(AppError::Validation(f)) if f[0].field == "cron"), "{l}: {r:?}");
        worker::schedule(app, "ticker", "test.tick", "0 3 * * *", &payload).await.expect("schedule");
        let w1 = Worker::new(app.clone(), registry.clone());
        let w2 = Worker::new(app.clone(), registry.clone());
        assert_eq!(w1.run_once().await.unwrap(), 0, "{l}: not due yet");
        assert!(jobs::due_schedules(app.db(), now_ms()).await.unwrap().is_empty(), "{l}");

        // Make it due now (a changed cron text takes the given next run).
        let mut tx = app.db().begin().await.unwrap();
        jobs::upsert_schedule(
            &mut tx,
            &ScheduleRow {
                name: "ticker".into(),
                kind: "test.tick".into(),
                cron: "* * * * *".into(),
                payload: serde_json::to_vec(&payload).unwrap(),
                next_run_ms: now_ms() - 60_000,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(jobs::due_schedules(app.db(), now_ms()).await.unwrap().len(), 1, "{l}");

        let (a, b) = tokio::join!(w1.run_once(), w2.run_once());
        let ran = a.unwrap() + b.unwrap();
        let (a, b) = tokio::join!(w1.run_once(), w2.run_once());
        let ran = ran + a.unwrap() + b.unwrap();
        assert_eq!(ran, 1, "{l}: one job ran");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{l}: the schedule fired once");
        let due = jobs::due_schedules(app.db(), now_ms()).await.unwrap();
        assert!(due.is_empty(), "{l}: next run moved into the future");
    }
}

#[tokio::test]
async fn the_standard_schedule_forgets_idempotency_keys_after_a_day() {
    use kith_store::idempotency::{reserve, IdemScope};
    for t in TestApp::all().await {
        let (l, app) = (t.label, &t.app);
        worker::install_standard_schedules(app).await.unwrap();
        worker::install_standard_schedules(app).await.expect("installing twice is harmless");
        let org = kith_domain::new_id();
        let now = now_ms();
        for (key, age) in [("old", kith_app::idempotency::KEY_RETENTION_MS + 1), ("fresh", 1_000)] {
            let scope = IdemScope { org_id: org, credential_id: org, method: "POST", path: "/x", key };
            reserve(app.db(), &scope, b"h", now - age).await.unwrap();
        }
        let forgotten = kith_app::idempotency::purge(app, now).await.unwrap();
        assert_eq!(forgotten, 1, "{l}: only the key older than a day goes");
        let fresh = IdemScope { org_id: org, credential_id: org, method: "POST", path: "/x", key: "fresh" };
        let again = reserve(app.db(), &fresh, b"h", now).await.unwrap();
        assert!(again.is_some(), "{l}: the fresh key is still remembered");
        let due = jobs::due_schedules(app.db(), i64::MAX).await.unwrap();
        assert!(due.iter().any(|s| s.name == kith_app::idempotency::PURGE_SCHEDULE), "{l}: schedule installed");
    }
}

#[tokio::test]
async fn a_running_job_keeps_its_lease_and_a_dead_workers_lease_lapses() {
    each_backend_concurrently(|t: TestApp| async move {
        let t = t;
        let (l, app) = (t.label, &t.app);
        let runs = Arc::new(AtomicUsize::new(0));
        let registry = || {
            let mut r = Registry::default();
            let runs = runs.clone();
            r.register("slow", move |_app, _job| {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1_200)).await;
                    Ok::<(), AppError>(())
                }
            });
            r
        };
        let lease = Duration::from_millis(300);
        let a = Worker::new(app.clone(), registry()).with_lease(lease);
        let b = Worker::new(app.clone(), registry()).with_lease(lease);
        let id = enqueue(app, "slow", b"", 3).await;
        // `a` runs the job four leases long; its heartbeat keeps `b` away.
        let (ran_a, ran_b) = tokio::join!(a.run_once(), async {
            let mut ran = 0;
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                ran += b.run_once().await.unwrap();
            }
            ran
        });
        assert_eq!((ran_a.unwrap(), ran_b), (1, 0), "{l}: claimed once while it runs");
        assert!(job(app, id).await.is_none(), "{l}: done");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{l}");

        // A worker that claimed a job and died (no heartbeat): the lease lapses.
        let id = enqueue(app, "slow", b"", 3).await;
        let claimed = jobs::claim(app.db(), "dead-worker", now_ms(), 300, 8).await.unwrap();
        assert_eq!(claimed.len(), 1, "{l}");
        assert_eq!(b.run_once().await.unwrap(), 0, "{l}: held by the dead worker's lease");
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(b.run_once().await.unwrap(), 1, "{l}: taken over after the lease lapsed");
        assert!(job(app, id).await.is_none(), "{l}");
    })
    .await;
}

/// A handler that waits in memory for `wait_ms`, noting how many wait at
/// once; it defers through the queue when it may not wait in memory.
fn pausing_registry(
    wait_ms: i64,
    waiting: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
) -> Registry {
    let mut registry = Registry::default();
    registry.register("test.pause", move |_app, _job| {
        let (waiting, most, done) = (waiting.clone(), most.clone(), done.clone());
        async move {
            let at = now_ms() + wait_ms;
            let now_waiting = waiting.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now_waiting, Ordering::SeqCst);
            let came = worker::wait_in_memory(at).await;
            waiting.fetch_sub(1, Ordering::SeqCst);
            if !came {
                return Err(worker::JobError::defer(at));
            }
            done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    registry
}

async fn statuses(app: &App, ids: &[Uuid]) -> Vec<Option<(String, i64)>> {
    let mut out = Vec::new();
    for id in ids {
        out.push(job(app, *id).await.map(|j| (j.status, j.attempts)));
    }
    out
}

#[tokio::test]
async fn a_job_waiting_in_memory_gives_its_seat_to_another_and_goes_back_to_the_queue_on_stop() {
    each_backend_concurrently(|t: TestApp| async move {
        let t = t;
        let (app, l) = (&t.app, t.label);
        let (waiting, most, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::default());
        let registry = pausing_registry(1_500, waiting.clone(), most.clone(), Arc::clone(&done));
        let mut ids = Vec::new();
        for _ in 0..16 {
            ids.push(enqueue(app, "test.pause", b"{}", 3).await);
        }

        // One batch outside a running worker: nothing waits in memory, each
        // job goes back to the queue without spending an attempt.
        let w = Worker::new(app.clone(), registry.clone());
        let ran = w.run_once().await.unwrap();
        assert_eq!(ran, 8, "{l}");
        assert_eq!(done.load(Ordering::SeqCst), 0, "{l}: run_once never waits in memory");
        let queued_again = statuses(app, &ids)
            .await
            .into_iter()
            .filter(|s| s.as_ref().is_some_and(|(st, a)| st == "queued" && *a == 0))
            .count();
        assert_eq!(queued_again, 16, "{l}: deferred, not failed");

        // A running worker: all jobs wait at once though only a few seats
        // exist, and stopping sends the waiting ones back to the queue at once.
        most.store(0, Ordering::SeqCst);
        for id in &ids {
            wait_until_due(app, *id).await;
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running =
            tokio::spawn(Worker::new(app.clone(), registry).with_idle_wait(Duration::from_millis(20)).run(stopped));
        let started = std::time::Instant::now();
        while waiting.load(Ordering::SeqCst) < 16 {
            assert!(started.elapsed() < Duration::from_secs(20), "{l}: {} waiting", waiting.load(Ordering::SeqCst));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(true).unwrap();
        running.await.unwrap();
        assert_eq!(most.load(Ordering::SeqCst), 16, "{l}: every job waited at once, not four at a time");
        let after = statuses(app, &ids).await;
        let back = after.iter().filter(|s| s.as_ref().is_some_and(|(st, a)| st == "queued" && *a == 0)).count();
        assert_eq!(back + done.load(Ordering::SeqCst), 16, "{l}: {after:?}");
        assert!(back > 0, "{l}: the waits were cut short by the stop");
    })
    .await;
}
