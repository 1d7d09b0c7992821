//! The durable job queue: enqueue in the caller's transaction, claim with a
//! lease, finish, retry later, or park as dead. Policy (backoff, which
//! handler) lives in kith-app; this module only moves rows.

use crate::dialect;
use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub kind: String,
    pub org_id: Option<Uuid>,
    pub payload: Vec<u8>,
    pub run_at_ms: i64,
    pub max_attempts: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: Uuid,
    pub kind: String,
    pub org_id: Option<Uuid>,
    pub payload: Vec<u8>,
    pub attempts: i64,
    pub max_attempts: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub org_id: Option<Uuid>,
    pub status: String,
    pub run_at_ms: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    pub name: String,
    pub kind: String,
    pub cron: String,
    pub payload: Vec<u8>,
    pub next_run_ms: i64,
}

pub async fn enqueue(tx: &mut Tx, job: &NewJob, now: i64) -> Result<()> {
    const SQL: &str = "INSERT INTO jobs (id, kind, org_id, payload, status, run_at_ms, attempts, max_attempts, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7, $7)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(job.id)
        .bind(&job.kind)
        .bind(job.org_id)
        .bind(&job.payload)
        .bind(job.run_at_ms)
        .bind(job.max_attempts)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Claim up to `limit` ready jobs (or jobs whose lease ran out) for `owner`.
pub async fn claim(db: &Db, owner: &str, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<ClaimedJob>> {
    let mut tx = db.begin().await?;
    let sql = dialect::claim_jobs_sql(tx.backend());
    let jobs = on_tx!(&mut tx, |c| sqlx::query_as::<_, ClaimedJob>(sql)
        .bind(owner)
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await?);
    tx.commit().await?;
    Ok(jobs)
}

/// Extend the leases `owner` holds on its running jobs to `until_ms` (the
/// worker's heartbeat while a batch runs).
pub async fn renew_leases(db: &Db, owner: &str, until_ms: i64) -> Result<u64> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, |c| sqlx::query(
        "UPDATE jobs SET lease_until_ms = $2 WHERE lease_owner = $1 AND status = 'running'"
    )
    .bind(owner)
    .bind(until_ms)
    .execute(c)
    .await?
    .rows_affected());
    tx.commit().await?;
    Ok(n)
}

/// Make every running job claimable now: for a node that knows no other
/// worker can hold a lease (see `kith_app::worker::release_orphaned_leases`).
pub async fn release_running(db: &Db, now: i64) -> Result<u64> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, |c| sqlx::query("UPDATE jobs SET lease_until_ms = $1 - 1 WHERE status = 'running'")
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    tx.commit().await?;
    Ok(n)
}

/// Finish a job, if `owner` still holds its lease. Done jobs are deleted: the
/// change they made is the record.
pub async fn complete(db: &Db, id: Uuid, owner: &str) -> Result<bool> {
    const SQL: &str = "DELETE FROM jobs WHERE id = $1 AND lease_owner = $2 AND status = 'running'";
    let n = on_write!(db, |p| sqlx::query(SQL).bind(id).bind(owner).execute(p).await?.rows_affected());
    Ok(n == 1)
}

/// Put a failed job back in the queue to run at `run_at_ms`, or park it as
/// `dead` when `dead` is true.
pub async fn fail(db: &Db, id: Uuid, owner: &str, error: &str, run_at_ms: i64, dead: bool, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE jobs SET status = $3, run_at_ms = $4, last_error = $5, lease_owner = NULL, lease_until_ms = NULL, updated_ms = $6
                       WHERE id = $1 AND lease_owner = $2 AND status = 'running'";
    let status = if dead { "dead" } else { "queued" };
    let n = on_write!(db, |p| sqlx::query(SQL)
        .bind(id)
        .bind(owner)
        .bind(status)
        .bind(run_at_ms)
        .bind(error)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Put a running job back in the queue to run at `run_at_ms` without
/// spending an attempt (it could not run yet: a rate-limit slot, quiet
/// hours), if `owner` still holds its lease.
pub async fn defer(db: &Db, id: Uuid, owner: &str, run_at_ms: i64, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE jobs SET status = 'queued', run_at_ms = $3,
                         attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
                         lease_owner = NULL, lease_until_ms = NULL, updated_ms = $4
                       WHERE id = $1 AND lease_owner = $2 AND status = 'running'";
    let n = on_write!(db, |p| sqlx::query(SQL)
        .bind(id)
        .bind(owner)
        .bind(run_at_ms)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// When the next job may be claimed: the first queued job's time, or a
/// running job's lease running out (a killed worker's job), whichever comes
/// first. A read (the `jobs_ready` index answers both halves), so a worker
/// can look before it claims: on SQLite a claim is a write transaction on
/// the one writer connection, and a claim that finds nothing still holds
/// it.
pub async fn next_run_at(db: &Db) -> Result<Option<i64>> {
    const SQL: &str = "SELECT MIN(at) FROM (SELECT MIN(run_at_ms) AS at FROM jobs WHERE status = 'queued'
                       UNION ALL SELECT MIN(lease_until_ms) AS at FROM jobs WHERE status = 'running') due";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, Option<i64>>(SQL).fetch_one(p).await?))
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<JobRow>> {
    const SQL: &str = "SELECT id, kind, org_id, status, run_at_ms, attempts, max_attempts, last_error, created_ms, updated_ms FROM jobs WHERE id = $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, JobRow>(SQL).bind(id).fetch_optional(p).await?))
}

/// Dead jobs, newest first (for the operator's replay screen and CLI).
pub async fn list_dead(db: &Db, limit: i64) -> Result<Vec<JobRow>> {
    const SQL: &str =
        "SELECT id, kind, org_id, status, run_at_ms, attempts, max_attempts, last_error, created_ms, updated_ms
                       FROM jobs WHERE status = 'dead' ORDER BY updated_ms DESC LIMIT $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, JobRow>(SQL).bind(limit).fetch_all(p).await?))
}

/// Give a dead job a fresh set of attempts.
pub async fn replay(db: &Db, id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE jobs SET status = 'queued', attempts = 0, run_at_ms = $2, updated_ms = $2 WHERE id = $1 AND status = 'dead'";
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, |c| sqlx::query(SQL).bind(id).bind(now).execute(c).await?.rows_affected());
    tx.commit().await?;
    Ok(n == 1)
}

/// Create or update a schedule; keeps its next run time when the cron text is unchanged.
pub async fn upsert_schedule(tx: &mut Tx, s: &ScheduleRow) -> Result<()> {
    const SQL: &str = "INSERT INTO job_schedules (name, kind, cron, payload, next_run_ms) VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, payload = excluded.payload,
                         next_run_ms = CASE WHEN job_schedules.cron = excluded.cron THEN job_schedules.next_run_ms ELSE excluded.next_run_ms END,
                         cron = excluded.cron";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(&s.name)
        .bind(&s.kind)
        .bind(&s.cron)
        .bind(&s.payload)
        .bind(s.next_run_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn due_schedules(db: &Db, now: i64) -> Result<Vec<ScheduleRow>> {
    const SQL: &str = "SELECT name, kind, cron, payload, next_run_ms FROM job_schedules WHERE next_run_ms <= $1 ORDER BY next_run_ms LIMIT 100";
    Ok(on_read!(db, |p| sqlx::query_as::<_, ScheduleRow>(SQL).bind(now).fetch_all(p).await?))
}

/// Move a schedule from `seen_next` to `new_next`, only if nobody else did:
/// the node that wins enqueues the run, so a run is never doubled across nodes.
pub async fn advance_schedule(tx: &mut Tx, name: &str, seen_next: i64, new_next: i64) -> Result<bool> {
    const SQL: &str = "UPDATE job_schedules SET next_run_ms = $3 WHERE name = $1 AND next_run_ms = $2";
    let n =
        on_tx!(tx, |c| sqlx::query(SQL).bind(name).bind(seen_next).bind(new_next).execute(c).await?.rows_affected());
    Ok(n == 1)
}
