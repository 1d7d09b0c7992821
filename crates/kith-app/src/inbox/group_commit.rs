//! Group commit of webhook ingest (DESIGN.md, Data: hot write paths batch
//! several units of work into one transaction).
//!
//! Each webhook request seals its events and hands them, as one unit, to
//! the ingest writer: a task that takes whatever units are queued (up to
//! [`MAX_BATCH`]), stores all their events and jobs in one transaction,
//! commits, and only then answers each waiting request. The provider's 2xx
//! therefore still goes out after the commit (durable before acknowledged),
//! but many requests share one commit — and on SQLite, one turn of the
//! single writer connection — instead of paying one each.
//!
//! No artificial wait: a unit that finds the writer idle is committed at
//! once; while a commit runs, the next units queue and go together in the
//! next one, so batches grow with the load by themselves.
//!
//! One unit's failure never fails the others: when a batch's transaction
//! fails, its units are written again one transaction each, and each
//! request gets its own outcome. A redelivered event (same channel and
//! provider id) is stored once, also when its copies share a batch.
//!
//! The writer starts on first use, on the runtime of that request, and
//! ends when the App is dropped. Should it be gone (that runtime shut
//! down), requests write their own transaction as before.

use crate::{worker, AppError, Result};
use kith_store::inbox::{self as rows, InboundEventRow};
use kith_store::Db;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot, Notify};
use uuid::Uuid;

use super::PROCESS_JOB;

/// Most units (webhook requests) in one transaction.
pub const MAX_BATCH: usize = 256;
/// Units waiting for the writer before requests wait to queue.
const QUEUE: usize = 4096;

/// Events of one webhook request, stored together.
pub struct Unit {
    pub org_id: Uuid,
    pub rows: Vec<InboundEventRow>,
    pub now: i64,
}

/// Of a unit's events: (stored, already there).
pub type Outcome = (usize, usize);

struct Queued {
    unit: Unit,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// The handle kept per App (in the inbox state); public so that tests can
/// drive one on a database of their own.
#[derive(Default)]
pub struct GroupCommit {
    queue: OnceLock<mpsc::Sender<Queued>>,
    stats: Arc<Stats>,
    /// Told after each commit that stored new events (so their jobs are due):
    /// this node's idle workers wake at once instead of at their next poll.
    committed: Arc<Notify>,
}

/// What the writer did so far.
#[derive(Debug, Default)]
struct Stats {
    transactions: AtomicUsize,
    largest: AtomicUsize,
    retried_alone: AtomicUsize,
}

/// Counters of a writer: transactions committed or tried, the largest
/// batch, units written again alone after their batch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    pub transactions: usize,
    pub largest_batch: usize,
    pub retried_alone: usize,
}

impl GroupCommit {
    pub fn new() -> GroupCommit {
        GroupCommit::default()
    }

    /// Store a unit: returns once it is committed (or failed). The first
    /// call starts the writer on `db` (later calls' `db` is not looked at).
    pub async fn store(&self, db: &Db, unit: Unit) -> Result<Outcome> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(writer(db.clone(), rx, self.stats.clone(), self.committed.clone()));
            tx
        });
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(q)) = queue.send(Queued { unit, reply }).await {
            // The writer is gone (its runtime ended): write this unit alone.
            return write_one(db, &q.unit).await;
        }
        answer.await.map_err(|_| AppError::Internal("the ingest writer stopped before answering".into()))?
    }

    /// Notified after each commit that queued processing jobs.
    pub fn committed(&self) -> &Notify {
        &self.committed
    }

    pub fn stats(&self) -> WriterStats {
        WriterStats {
            transactions: self.stats.transactions.load(Ordering::Relaxed),
            largest_batch: self.stats.largest.load(Ordering::Relaxed),
            retried_alone: self.stats.retried_alone.load(Ordering::Relaxed),
        }
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Queued>, stats: Arc<Stats>, committed: Arc<Notify>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(q) => batch.push(q),
                Err(_) => break,
            }
        }
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        stats.largest.fetch_max(batch.len(), Ordering::Relaxed);
        if commit(&db, &mut batch, &stats).await > 0 {
            committed.notify_waiters();
        }
    }
}

/// Commit a batch and answer each of its requests; how many new events it stored.
async fn commit(db: &Db, batch: &mut Vec<Queued>, stats: &Stats) -> usize {
    let units: Vec<&Unit> = batch.iter().map(|q| &q.unit).collect();
    let mut stored = 0;
    match write(db, &units).await {
        Ok(outcomes) => {
            for (q, outcome) in batch.drain(..).zip(outcomes) {
                stored += outcome.0;
                let _ = q.reply.send(Ok(outcome));
            }
        }
        Err(e) if batch.len() == 1 => {
            let q = batch.pop().expect("one unit");
            let _ = q.reply.send(Err(e));
        }
        Err(e) => {
            tracing::warn!(units = batch.len(), error = %e, "ingest batch failed; writing its units one by one");
            for q in batch.drain(..) {
                stats.retried_alone.fetch_add(1, Ordering::Relaxed);
                stats.transactions.fetch_add(1, Ordering::Relaxed);
                let outcome = write_one(db, &q.unit).await;
                stored += outcome.as_ref().map(|o| o.0).unwrap_or(0);
                let _ = q.reply.send(outcome);
            }
        }
    }
    stored
}

async fn write_one(db: &Db, unit: &Unit) -> Result<Outcome> {
    Ok(write(db, &[unit]).await?.pop().expect("one outcome per unit"))
}

/// Every unit's events and jobs in one transaction.
async fn write(db: &Db, units: &[&Unit]) -> Result<Vec<Outcome>> {
    let mut tx = db.begin().await?;
    let mut outcomes = Vec::with_capacity(units.len());
    for unit in units {
        let mut outcome = (0, 0);
        for row in &unit.rows {
            if rows::insert_event(&mut tx, row).await? {
                let payload = serde_json::json!({"event_id": row.id});
                worker::enqueue(&mut tx, PROCESS_JOB, Some(unit.org_id), &payload, unit.now).await?;
                outcome.0 += 1;
            } else {
                outcome.1 += 1;
            }
        }
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}
