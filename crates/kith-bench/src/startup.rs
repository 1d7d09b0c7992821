//! Cold start to ready: spawn the release `kith serve` and time it until
//! `/readyz` answers 200 — on a fresh data folder, on a restarted small
//! instance, and on one whose audit log already holds a million rows.

use crate::process::{self, Scratch};
use anyhow::{bail, Context as _, Result};
use kith_store::audit::AuditRow;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// A data folder that does not exist yet: Kith creates it, the database, the master key, the tables.
    Fresh,
    /// Restart of an instance with one account (migrated database, existing key).
    Restart,
    /// Restart of the same instance after `audit_rows` audit entries were added.
    Audit,
}

pub struct Starts {
    pub scenario: Scenario,
    pub ready: Vec<Duration>,
    /// Resident memory 2 s after ready, per run (KiB).
    pub rss_kib: Vec<u64>,
}

pub struct Seeding {
    pub rows: u64,
    pub took: Duration,
    pub db_bytes: u64,
    /// `kith admin verify-audit` over the seeded chain (it must say intact).
    pub verified_in: Duration,
}

pub struct StartupReport {
    pub runs: Vec<Starts>,
    pub seeding: Seeding,
}

pub fn run(kith_bin: &Path, runs: usize, audit_rows: u64, max_quiet_wait: Duration) -> Result<StartupReport> {
    let templates = Scratch::new("templates")?;
    let small = templates.path().join("small");
    let seeded = process::seed_account(kith_bin, &small)?;
    let big = templates.path().join("big");
    process::copy_folder(&small, &big)?;
    eprintln!("  seeding {audit_rows} audit rows into {}", big.display());
    let started = Instant::now();
    block_on(seed_audit(&big.join("kith.db"), seeded.org_id, seeded.user_id, audit_rows))?;
    let took = started.elapsed();
    let db_bytes = std::fs::metadata(big.join("kith.db"))?.len();
    eprintln!("  verifying the seeded chain with kith admin verify-audit");
    let started = Instant::now();
    process::verify_audit(kith_bin, &big, seeded.org_id)?;
    let seeding = Seeding { rows: audit_rows, took, db_bytes, verified_in: started.elapsed() };

    let mut out = Vec::new();
    for scenario in [Scenario::Fresh, Scenario::Restart, Scenario::Audit] {
        let mut starts = Starts { scenario, ready: Vec::new(), rss_kib: Vec::new() };
        for i in 0..runs {
            let scratch = Scratch::new("start")?;
            let data = scratch.path().join("data");
            match scenario {
                Scenario::Fresh => {}
                Scenario::Restart => process::copy_folder(&small, &data)?,
                Scenario::Audit => process::copy_folder(&big, &data)?,
            }
            process::wait_for_quiet(max_quiet_wait)?;
            let mut server = process::spawn_serve(kith_bin, &data, &scratch.path().join("serve.log"), &[])?;
            let measured = (|| -> Result<(Duration, u64)> {
                let ready = server.wait_ready(Duration::from_secs(120))?;
                std::thread::sleep(Duration::from_secs(2));
                Ok((ready, process::memory_kib(server.pid())?.0))
            })();
            server.stop()?;
            let (ready, rss) = measured?;
            eprintln!(
                "  {scenario:?} run {}: ready in {:.1} ms, {} KiB resident",
                i + 1,
                ready.as_secs_f64() * 1e3,
                rss
            );
            starts.ready.push(ready);
            starts.rss_kib.push(rss);
        }
        out.push(starts);
    }
    Ok(StartupReport { runs: out, seeding })
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f)
}

/// Rows per INSERT statement and per transaction.
const ROWS_PER_STATEMENT: usize = 500;
const ROWS_PER_TX: usize = 50_000;

/// Append `n` entries to one workspace's audit chain with plain SQL, in large
/// transactions, straight into the SQLite file (Kith is not running). The
/// rows have the table's real shape and, since the head is read and
/// `entry_hash` is Kith's own, they even extend the chain validly.
async fn seed_audit(db_file: &Path, org_id: uuid::Uuid, actor_id: uuid::Uuid, n: u64) -> Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db_file)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .connect()
        .await?;
    let (mut seq, mut prev_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT seq, head_hash FROM audit_heads WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(&mut conn)
            .await?
            .context("the seeded workspace has no audit head")?;
    const LOG: &str =
        "INSERT INTO audit_log (id, org_id, seq, at_ms, actor_id, action, target_type, target_id, prev_hash, hash)";
    const DETAILS: &str = "INSERT INTO audit_details (audit_id, org_id, ip, user_agent, detail)";
    let log_sql = multi_insert(LOG, 10, ROWS_PER_STATEMENT);
    let details_sql = multi_insert(DETAILS, 5, ROWS_PER_STATEMENT);
    const ACTIONS: [(&str, &str); 5] = [
        ("token.created", "api_token"),
        ("member.invited", "invitation"),
        ("team.updated", "team"),
        ("member.role_changed", "member"),
        ("workspace.updated", "workspace"),
    ];
    const USER_AGENT: &str =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

    let mut left = n as usize;
    while left > 0 {
        let in_tx = left.min(ROWS_PER_TX);
        let mut tx = conn.begin().await?;
        let mut done = 0;
        while done < in_tx {
            let k = (in_tx - done).min(ROWS_PER_STATEMENT);
            let mut rows = Vec::with_capacity(k);
            for _ in 0..k {
                seq += 1;
                let (action, target_type) = ACTIONS[seq as usize % ACTIONS.len()];
                let mut row = AuditRow {
                    id: uuid::Uuid::now_v7(),
                    org_id,
                    seq,
                    at_ms: kith_domain::time::now_ms(),
                    actor_id: Some(actor_id),
                    action: action.into(),
                    target_type: Some(target_type.into()),
                    target_id: Some(uuid::Uuid::new_v4()),
                    prev_hash: std::mem::take(&mut prev_hash),
                    hash: Vec::new(),
                };
                row.hash = kith_app::audit::entry_hash(&row);
                prev_hash = row.hash.clone();
                rows.push(row);
            }
            // Full statements share one cached text; a shorter last one gets its own.
            let (short_log, short_details);
            let (log_text, details_text) = if k == ROWS_PER_STATEMENT {
                (log_sql.as_str(), details_sql.as_str())
            } else {
                short_log = multi_insert(LOG, 10, k);
                short_details = multi_insert(DETAILS, 5, k);
                (short_log.as_str(), short_details.as_str())
            };
            let mut log = sqlx::query(log_text);
            let mut details = sqlx::query(details_text);
            for r in &rows {
                log = log
                    .bind(r.id)
                    .bind(r.org_id)
                    .bind(r.seq)
                    .bind(r.at_ms)
                    .bind(r.actor_id)
                    .bind(r.action.clone())
                    .bind(r.target_type.clone())
                    .bind(r.target_id)
                    .bind(r.prev_hash.clone())
                    .bind(r.hash.clone());
                details = details
                    .bind(r.id)
                    .bind(r.org_id)
                    .bind(format!("203.0.113.{}", r.seq % 250 + 1))
                    .bind(USER_AGENT)
                    .bind(None::<String>);
            }
            log.execute(&mut *tx).await?;
            details.execute(&mut *tx).await?;
            done += k;
        }
        sqlx::query("UPDATE audit_heads SET seq = $2, head_hash = $3 WHERE org_id = $1")
            .bind(org_id)
            .bind(seq)
            .bind(&prev_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        left -= in_tx;
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&mut conn)
        .await?;
    if count < n as i64 {
        bail!("seeding left {count} audit rows, expected at least {n}");
    }
    // What a clean shutdown leaves: everything in the main file, no WAL to replay.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// `prefix VALUES` + `rows` groups of `cols` placeholders. Anonymous `?`:
/// SQLite looks a numbered `$N` up by a linear scan on every bind, which
/// makes a statement of thousands of `$N` quadratic.
fn multi_insert(prefix: &str, cols: usize, rows: usize) -> String {
    let mut sql = format!("{prefix} VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            sql.push('?');
        }
        sql.push(')');
    }
    sql
}
