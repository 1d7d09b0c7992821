//! The background worker: claims jobs with a lease, runs the handler
//! registered for their kind, retries failures with exponential backoff and
//! jitter, parks jobs that keep failing as dead, and turns due schedules into
//! jobs. Several workers (threads or nodes) may run against one database.
//!
//! A running worker keeps a pipeline: it claims more jobs whenever one of
//! its seats (jobs running at once) is free, rather than finishing a batch
//! before claiming the next. A job that must wait a moment (a send's
//! rate-limit slot) can wait in memory with [`wait_in_memory`], giving its
//! seat to another job while it waits, instead of going back to the
//! database to be claimed again.

use crate::{App, AppError, Result};
use kith_domain::cron::Schedule;
use kith_domain::time::{now_ms, SECOND_MS};
use kith_store::jobs::{self, ClaimedJob, NewJob, ScheduleRow};
use kith_store::Tx;
use rand::Rng;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

pub const DEFAULT_MAX_ATTEMPTS: i64 = 8;
/// How long a claimed job is held without a heartbeat: what a killed
/// node's jobs wait before another worker takes them.
const LEASE_MS: i64 = 30 * SECOND_MS;
/// The heartbeat that keeps the leases of a running batch (a long import
/// or export runs for minutes): three beats per lease.
const LEASE_BEATS: u32 = 3;
const BATCH: i64 = 8;
/// Jobs of a claimed batch that run at once (each may hold a database
/// connection: the pool must have room for every worker's share).
const CONCURRENCY: usize = 4;
/// Jobs one running worker holds at most: running, waiting for a seat, or
/// waiting in memory for their time.
const MAX_IN_HAND: usize = 256;
/// The longest wait a job may spend in memory; a longer one goes back to
/// the queue (its lease would otherwise be held for long, and shutdown
/// would wait for it).
pub const MAX_WAIT_IN_MEMORY_MS: i64 = 2 * SECOND_MS;
/// How often a running worker turns due schedules into jobs.
const SCHEDULE_EVERY: Duration = Duration::from_secs(1);

/// Why a job failed, and whether trying again could help.
#[derive(Debug, Clone)]
pub struct JobError {
    pub message: String,
    /// Retrying cannot succeed (a rejected address, a malformed payload): dead at once.
    pub permanent: bool,
    /// Not a failure: the job cannot run before this time (a rate-limit
    /// slot, quiet hours). It is queued again for then without spending an
    /// attempt.
    pub defer_until_ms: Option<i64>,
}

impl JobError {
    pub fn permanent(message: impl Into<String>) -> JobError {
        JobError { message: message.into(), permanent: true, defer_until_ms: None }
    }

    /// Run the job again at `run_at_ms`; the attempt does not count.
    pub fn defer(run_at_ms: i64) -> JobError {
        JobError { message: String::new(), permanent: false, defer_until_ms: Some(run_at_ms) }
    }
}

impl From<String> for JobError {
    fn from(message: String) -> Self {
        JobError { message, permanent: false, defer_until_ms: None }
    }
}

impl From<AppError> for JobError {
    fn from(e: AppError) -> Self {
        // Store errors are worth a retry; the cause chain goes to the log.
        JobError { message: format!("{e}: {e:?}"), permanent: false, defer_until_ms: None }
    }
}

impl From<&str> for JobError {
    fn from(message: &str) -> Self {
        JobError { message: message.into(), permanent: false, defer_until_ms: None }
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = std::result::Result<(), JobError>> + Send>>;
pub type Handler = Arc<dyn Fn(App, ClaimedJob) -> JobFuture + Send + Sync>;

/// Enqueue a job inside the caller's transaction: it exists exactly when the
/// change that asked for it commits.
pub async fn enqueue(
    tx: &mut Tx,
    kind: &str,
    org_id: Option<Uuid>,
    payload: &serde_json::Value,
    run_at_ms: i64,
) -> Result<Uuid> {
    enqueue_with_attempts(tx, kind, org_id, payload, run_at_ms, DEFAULT_MAX_ATTEMPTS).await
}

/// [`enqueue`] with a job-specific number of tries (webhook deliveries keep
/// trying for over a day).
pub async fn enqueue_with_attempts(
    tx: &mut Tx,
    kind: &str,
    org_id: Option<Uuid>,
    payload: &serde_json::Value,
    run_at_ms: i64,
    max_attempts: i64,
) -> Result<Uuid> {
    let id = kith_domain::new_id();
    let job = NewJob {
        id,
        kind: kind.to_string(),
        org_id,
        payload: serde_json::to_vec(payload).map_err(|e| AppError::Internal(e.to_string()))?,
        run_at_ms,
        max_attempts,
    };
    jobs::enqueue(tx, &job, now_ms()).await?;
    Ok(id)
}

/// Register (or update) a recurring job.
pub async fn schedule(app: &App, name: &str, kind: &str, cron: &str, payload: &serde_json::Value) -> Result<()> {
    let parsed: Schedule =
        cron.parse().map_err(|e: kith_domain::cron::CronError| AppError::field("cron", e.to_string()))?;
    let next = parsed.next_after(now_ms()).ok_or_else(|| AppError::field("cron", "never runs"))?;
    let row = ScheduleRow {
        name: name.into(),
        kind: kind.into(),
        cron: cron.into(),
        payload: serde_json::to_vec(payload).map_err(|e| AppError::Internal(e.to_string()))?,
        next_run_ms: next,
    };
    let mut tx = app.db().begin().await?;
    jobs::upsert_schedule(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(())
}

/// At start-up on SQLite, hand back the leases of jobs a killed process
/// held: a SQLite database is served by one node, so no live worker holds
/// them, and their jobs need not wait for the leases to run out. On
/// PostgreSQL other nodes may be running them; their heartbeats stop when
/// they die and the leases lapse within [`LEASE_MS`].
pub async fn release_orphaned_leases(app: &App) -> Result<u64> {
    if app.db().backend() != kith_store::Backend::Sqlite {
        return Ok(0);
    }
    let n = jobs::release_running(app.db(), now_ms()).await?;
    if n > 0 {
        tracing::info!(jobs = n, "released the leases of a previous run");
    }
    Ok(n)
}

/// Delay before retry number `attempt` (1-based): 2^attempt seconds, at most
/// an hour, with ±25 % jitter so that a burst of failures does not retry in step.
pub fn backoff_ms(attempt: i64, rng: &mut impl Rng) -> i64 {
    let base = (SECOND_MS << attempt.clamp(0, 12)).min(3_600 * SECOND_MS);
    let jitter = rng.gen_range(-(base / 4)..=(base / 4));
    base + jitter
}

#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Handler>,
}

impl Registry {
    pub fn register<F, Fut, E>(&mut self, kind: &str, f: F)
    where
        F: Fn(App, ClaimedJob) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<JobError> + 'static,
    {
        self.handlers.insert(
            kind.to_string(),
            Arc::new(move |app, job| {
                let fut = f(app, job);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }),
        );
    }

    /// Every job kind the application runs.
    pub fn standard() -> Registry {
        let mut r = Registry::default();
        crate::mail::register(&mut r);
        crate::idempotency::register(&mut r);
        crate::crm::imports::register(&mut r);
        crate::crm::exports::register(&mut r);
        crate::webhooks::register(&mut r);
        crate::crm::bulk::register(&mut r);
        crate::crm::search_upkeep::register(&mut r);
        crate::crm::reminders::register(&mut r);
        crate::ai::knowledge::register(&mut r);
        crate::ai::autoreply::register(&mut r);
        crate::ai::assist::register(&mut r);
        crate::inbox::register(&mut r);
        r
    }
}

/// The recurring jobs every instance runs (idempotent: safe at every start).
pub async fn install_standard_schedules(app: &App) -> Result<()> {
    schedule(
        app,
        crate::idempotency::PURGE_SCHEDULE,
        crate::idempotency::PURGE_JOB,
        crate::idempotency::PURGE_CRON,
        &serde_json::json!({}),
    )
    .await?;
    use crate::crm::{exports, reminders};
    schedule(app, exports::PURGE_SCHEDULE, exports::PURGE_JOB, exports::PURGE_CRON, &serde_json::json!({})).await?;
    schedule(app, reminders::SCHEDULE, reminders::JOB, reminders::CRON, &serde_json::json!({})).await?;
    use crate::ai::assist;
    let (name, job, cron) = (assist::SPEECH_PURGE_SCHEDULE, assist::SPEECH_PURGE_JOB, assist::SPEECH_PURGE_CRON);
    schedule(app, name, job, cron, &serde_json::json!({})).await?;
    use crate::inbox::attachments as att;
    schedule(app, att::SWEEP_SCHEDULE, att::SWEEP_JOB, att::SWEEP_CRON, &serde_json::json!({})).await
}

pub struct Worker {
    app: App,
    registry: Registry,
    owner: String,
    idle_wait: Duration,
    lease: Duration,
}

impl Worker {
    pub fn new(app: App, registry: Registry) -> Worker {
        let owner = format!("worker-{}", Uuid::new_v4().simple());
        let lease = Duration::from_millis(LEASE_MS as u64);
        Worker { app, registry, owner, idle_wait: Duration::from_millis(500), lease }
    }

    /// How long a claimed job is held between heartbeats (tests shorten it).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn with_idle_wait(mut self, wait: Duration) -> Self {
        self.idle_wait = wait;
        self
    }

    /// Keep the leases of the jobs this worker holds (three beats per lease)
    /// until the returned task is aborted.
    fn spawn_heartbeat(&self) -> tokio::task::JoinHandle<()> {
        let (db, owner, beat) = (self.app.db().clone(), self.owner.clone(), self.lease / LEASE_BEATS);
        let lease_ms = self.lease.as_millis() as i64;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(beat).await;
                if let Err(e) = jobs::renew_leases(&db, &owner, now_ms() + lease_ms).await {
                    tracing::warn!(error = %e, "could not renew job leases");
                }
            }
        })
    }

    /// Claim and run one batch; returns how many jobs ran.
    pub async fn run_once(&self) -> Result<usize> {
        self.fire_schedules().await?;
        let lease_ms = self.lease.as_millis() as i64;
        let claimed = jobs::claim(self.app.db(), &self.owner, now_ms(), lease_ms, BATCH).await?;
        let n = claimed.len();
        if n == 0 {
            return Ok(0);
        }
        let heartbeat = self.spawn_heartbeat();
        // The batch runs concurrently: a job waiting on a provider or the
        // network does not hold up the others (a send's call, a crawl's fetch).
        let mut running = tokio::task::JoinSet::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        for job in claimed {
            let handler = self.registry.handlers.get(&job.kind).cloned();
            let (app, owner, slots) = (self.app.clone(), self.owner.clone(), slots.clone());
            running.spawn(async move {
                let _slot = slots.acquire_owned().await.expect("the semaphore is never closed");
                run_job(app, handler, owner, job).await
            });
        }
        let mut result = Ok(n);
        while let Some(done) = running.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                // A panicking handler ends its own task; its lease runs out
                // and the job is claimed again later.
                Err(e) => tracing::error!(error = %e, "a job's task stopped"),
            }
        }
        heartbeat.abort();
        result
    }

    /// Turn due schedules into jobs; the compare-and-set on the schedule row
    /// makes sure only one node enqueues each run.
    async fn fire_schedules(&self) -> Result<()> {
        let now = now_ms();
        for s in jobs::due_schedules(self.app.db(), now).await? {
            let next = match s.cron.parse::<Schedule>() {
                Ok(schedule) => schedule.next_after(now).unwrap_or(i64::MAX),
                Err(_) => i64::MAX,
            };
            let mut tx = self.app.db().begin().await?;
            if jobs::advance_schedule(&mut tx, &s.name, s.next_run_ms, next).await? {
                let job = NewJob {
                    id: kith_domain::new_id(),
                    kind: s.kind.clone(),
                    org_id: None,
                    payload: s.payload.clone(),
                    run_at_ms: now,
                    max_attempts: DEFAULT_MAX_ATTEMPTS,
                };
                jobs::enqueue(&mut tx, &job, now).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Run until `shutdown` turns true; the jobs in hand are always finished
    /// first (a job waiting in memory goes back to the queue at once).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let lease_ms = self.lease.as_millis() as i64;
        let heartbeat = self.spawn_heartbeat();
        let seats = Seats::new(CONCURRENCY);
        let mut in_hand: JoinSet<Result<()>> = JoinSet::new();
        let mut schedules_fired: Option<std::time::Instant> = None;
        // The last claim filled its batch: more is likely due, claim without looking.
        let mut batch_was_full = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Listen before looking, so that a commit (webhook events: at
            // once) or a freed seat between the look and the sleep still
            // wakes this worker.
            let woken = self.app.inbox().ingest.committed().notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let seat_freed = seats.freed.notified();
            tokio::pin!(seat_freed);
            seat_freed.as_mut().enable();
            while let Some(done) = in_hand.try_join_next() {
                log_job_task(done);
            }
            // Claim a batch whenever a seat is free. (Claiming only for seats
            // no claimed job waits for kept fewer sends in hand, and on
            // PostgreSQL, where a send's reads hold its seat longer, the
            // 10,000-send benchmark took 56 s instead of 34.)
            let room =
                if seats.permits.available_permits() > 0 { MAX_IN_HAND.saturating_sub(in_hand.len()) } else { 0 };
            let room = room.min(BATCH as usize);
            let mut claimed = 0;
            let mut next_due = None;
            if room > 0 {
                if schedules_fired.is_none_or(|at| at.elapsed() >= SCHEDULE_EVERY) {
                    schedules_fired = Some(std::time::Instant::now());
                    if let Err(e) = self.fire_schedules().await {
                        tracing::error!(error = %e, "worker loop error");
                    }
                }
                // Look before claiming: this loop turns once per finished
                // job, and most turns find nothing due (sends wait for their
                // slots). The claim is a write; the look is a read.
                next_due = match batch_was_full {
                    true => Some(0),
                    false => jobs::next_run_at(self.app.db()).await.unwrap_or(Some(0)),
                };
            }
            batch_was_full = false;
            if next_due.is_some_and(|at| at <= now_ms()) {
                match jobs::claim(self.app.db(), &self.owner, now_ms(), lease_ms, room as i64).await {
                    Ok(batch) => {
                        claimed = batch.len();
                        for job in batch {
                            let handler = self.registry.handlers.get(&job.kind).cloned();
                            let seat = Seat::new(seats.clone(), shutdown.clone());
                            let (app, owner) = (self.app.clone(), self.owner.clone());
                            in_hand.spawn(seat.run(run_job(app, handler, owner, job)));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "worker loop error");
                        next_due = None; // try again after the idle wait, not at once
                    }
                }
            }
            if claimed > 0 && claimed == room {
                batch_was_full = true;
                continue; // more may be due
            }
            // Sleep until the next job is due (a deferred send's slot), at
            // most the idle wait, unless a job ends or a seat frees first.
            if claimed > 0 {
                next_due = jobs::next_run_at(self.app.db()).await.ok().flatten();
            }
            let wait = match next_due.filter(|_| room > 0) {
                Some(at) => Duration::from_millis((at - now_ms()).clamp(1, i64::MAX) as u64).min(self.idle_wait),
                None => self.idle_wait,
            };
            tokio::select! {
                Some(done) = in_hand.join_next(), if !in_hand.is_empty() => log_job_task(done),
                _ = &mut seat_freed => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
                _ = &mut woken => {}
            }
        }
        while let Some(done) = in_hand.join_next().await {
            log_job_task(done);
        }
        heartbeat.abort();
        tracing::info!(owner = %self.owner, "worker stopped");
    }
}

fn log_job_task(done: std::result::Result<Result<()>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "could not record a job's outcome"),
        // A panicking handler ends its own task; its lease runs out and the
        // job is claimed again later.
        Err(e) => tracing::error!(error = %e, "a job's task stopped"),
    }
}

/// The seats of a running worker: how many jobs work at once.
struct Seats {
    permits: Arc<Semaphore>,
    /// Told whenever a seat is given back.
    freed: Notify,
}

impl Seats {
    fn new(n: usize) -> Arc<Seats> {
        Arc::new(Seats { permits: Arc::new(Semaphore::new(n)), freed: Notify::new() })
    }
}

/// A job's place in a running worker: one of its seats while the job
/// works, and the worker's stop signal.
struct Seat {
    seats: Arc<Seats>,
    permit: std::sync::Mutex<Option<OwnedSemaphorePermit>>,
    stopping: watch::Receiver<bool>,
}

tokio::task_local! {
    static SEAT: Arc<Seat>;
}

impl Seat {
    fn new(seats: Arc<Seats>, stopping: watch::Receiver<bool>) -> Arc<Seat> {
        Arc::new(Seat { seats, permit: std::sync::Mutex::new(None), stopping })
    }

    /// Take a seat, run the job with it, and give the seat back.
    async fn run<F: Future<Output = Result<()>>>(self: Arc<Self>, job: F) -> Result<()> {
        self.take().await;
        let result = SEAT.scope(self.clone(), job).await;
        self.give_back();
        result
    }

    async fn take(&self) {
        let permit = self.seats.permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        *self.permit.lock().expect("seat lock") = Some(permit);
    }

    fn give_back(&self) {
        if self.permit.lock().expect("seat lock").take().is_some() {
            self.seats.freed.notify_one();
        }
    }
}

/// Wait in memory until `at_ms`, giving the job's seat to another job
/// meanwhile; true when the time has come. Returns false without waiting —
/// the caller then defers its job through the queue — outside a running
/// worker ([`Worker::run_once`] records every deferral), for a wait longer
/// than [`MAX_WAIT_IN_MEMORY_MS`], or when the worker is stopping (also
/// when it starts stopping during the wait).
pub async fn wait_in_memory(at_ms: i64) -> bool {
    let Ok(seat) = SEAT.try_with(Arc::clone) else { return false };
    let wait = at_ms - now_ms();
    if wait > MAX_WAIT_IN_MEMORY_MS || *seat.stopping.borrow() {
        return false;
    }
    if wait <= 0 {
        return true;
    }
    seat.give_back();
    let mut stopping = seat.stopping.clone();
    let came = tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => true,
        _ = stopping.wait_for(|stop| *stop) => false,
    };
    seat.take().await;
    came
}

/// How long before its time a job deferred by a running worker comes back
/// from the queue: it then waits the rest in memory ([`wait_in_memory`]) and
/// is ready at its time, where a job claimed at its time starts a little
/// after it (the claim, its reads) — for a rate-limited send, every such
/// delay pushed the sends behind it back.
pub const COME_BACK_EARLY_MS: i64 = 500;

/// When a job that must wait until `at_ms` should be run again: a little
/// early inside a running worker (see [`COME_BACK_EARLY_MS`]), at `at_ms`
/// elsewhere ([`Worker::run_once`] never waits in memory).
pub fn come_back_at(at_ms: i64) -> i64 {
    let running = SEAT.try_with(|seat| !*seat.stopping.borrow()).unwrap_or(false);
    if running {
        at_ms - COME_BACK_EARLY_MS
    } else {
        at_ms
    }
}

/// Run one claimed job and record its outcome (done, deferred, failed, dead).
async fn run_job(app: App, handler: Option<Handler>, owner: String, job: ClaimedJob) -> Result<()> {
    let id = job.id;
    let (attempts, max, kind) = (job.attempts, job.max_attempts, job.kind.clone());
    let outcome = match handler {
        Some(handler) => handler(app.clone(), job).await,
        None => Err(JobError::from(format!("no handler for job kind {kind}"))),
    };
    match outcome {
        Ok(()) => {
            jobs::complete(app.db(), id, &owner).await?;
        }
        Err(JobError { defer_until_ms: Some(at), .. }) => {
            tracing::debug!(job_id = %id, kind = %kind, run_at_ms = at, "job deferred");
            jobs::defer(app.db(), id, &owner, at, now_ms()).await?;
        }
        Err(error) => {
            let dead = error.permanent || attempts >= max;
            let retry_at = now_ms() + backoff_ms(attempts, &mut rand::thread_rng());
            tracing::warn!(job_id = %id, kind = %kind, attempts, dead, error = %error.message, "job failed");
            jobs::fail(app.db(), id, &owner, &error.message, retry_at, dead, now_ms()).await?;
        }
    }
    Ok(())
}

/// Jobs that ran out of attempts, newest first (operator's view).
pub async fn dead_jobs(app: &App, limit: i64) -> Result<Vec<kith_store::jobs::JobRow>> {
    Ok(jobs::list_dead(app.db(), limit.clamp(1, 1000)).await?)
}

/// Give a dead job a fresh set of attempts; NotFound unless it is dead.
pub async fn replay_dead(app: &App, id: Uuid) -> Result<()> {
    if jobs::replay(app.db(), id, now_ms()).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut rng = rand::thread_rng();
        for attempt in 1..20 {
            let base = (SECOND_MS << attempt.min(12)).min(3_600_000);
            for _ in 0..50 {
                let d = backoff_ms(attempt, &mut rng);
                assert!(d >= base - base / 4 && d <= base + base / 4, "attempt {attempt}: {d}");
            }
        }
        assert!(backoff_ms(30, &mut rng) <= 4_500_000);
    }
}
