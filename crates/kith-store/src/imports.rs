//! Import runs: their settings, progress counters (committed with each batch
//! of rows, so a restart resumes where the last batch ended) and per-row issues.

use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_by: Uuid,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// `csv` or `vcard`.
    pub format: String,
    pub preset: String,
    /// JSON mapping (CSV).
    pub mapping: String,
    pub dedupe: String,
    pub dry_run: bool,
    pub file_name: String,
    pub file_bytes: i64,
    /// Data rows consumed so far (the resume point).
    pub rows_done: i64,
    pub total: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub warnings: i64,
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
}

const COLUMNS: &str = "id, org_id, created_by, status, format, preset, mapping, dedupe, dry_run, file_name, file_bytes,
    rows_done, total, created, updated, skipped, failed, warnings, error, created_ms, updated_ms, finished_ms";

pub async fn insert(tx: &mut Tx, r: &ImportRow) -> Result<()> {
    const SQL: &str = "INSERT INTO imports (id, org_id, created_by, status, format, preset, mapping, dedupe, dry_run,
                         file_name, file_bytes, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(r.created_by)
        .bind(&r.status)
        .bind(&r.format)
        .bind(&r.preset)
        .bind(&r.mapping)
        .bind(&r.dedupe)
        .bind(r.dry_run)
        .bind(&r.file_name)
        .bind(r.file_bytes)
        .bind(r.created_ms)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<ImportRow>> {
    let sql = format!("SELECT {COLUMNS} FROM imports WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, ImportRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Newest first.
pub async fn list(db: &Db, org_id: Uuid, page: &PageRequest) -> Result<Page<ImportRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM imports WHERE org_id = $1 AND (created_ms < $2 OR (created_ms = $2 AND id < $3))
         ORDER BY created_ms DESC, id DESC LIMIT $4"
    );
    let (k, id) = page.after.map(|c| (c.key, c.id)).unwrap_or((i64::MAX, Uuid::max()));
    let rows = on_read!(db, |p| sqlx::query_as::<_, ImportRow>(&sql)
        .bind(org_id)
        .bind(k)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

/// Counters after one batch; committed with the batch's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub rows_done: i64,
    pub total: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub warnings: i64,
}

pub async fn save_progress(tx: &mut Tx, id: Uuid, status: &str, p: &Progress, now: i64) -> Result<()> {
    const SQL: &str = "UPDATE imports SET status = $2, rows_done = $3, total = $4, created = $5, updated = $6,
                         skipped = $7, failed = $8, warnings = $9, updated_ms = $10 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(status)
        .bind(p.rows_done)
        .bind(p.total)
        .bind(p.created)
        .bind(p.updated)
        .bind(p.skipped)
        .bind(p.failed)
        .bind(p.warnings)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn finish(tx: &mut Tx, id: Uuid, status: &str, error: Option<&str>, now: i64) -> Result<()> {
    const SQL: &str = "UPDATE imports SET status = $2, error = $3, updated_ms = $4, finished_ms = $4 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(status).bind(error).bind(now).execute(c).await?.rows_affected());
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssueRow {
    pub import_id: Uuid,
    pub row_no: i64,
    /// `error` (row not imported) or `warning` (imported, with a remark).
    pub severity: String,
    pub code: String,
    pub message: String,
}

/// Record many row issues at once.
pub async fn add_issues(tx: &mut Tx, issues: &[IssueRow]) -> Result<u64> {
    const HEAD: &str = "INSERT INTO import_issues (import_id, row_no, severity, code, message) VALUES";
    let args = issues
        .iter()
        .map(|i| {
            vec![
                crate::sql::Arg::from(i.import_id),
                i.row_no.into(),
                i.severity.clone().into(),
                i.code.clone().into(),
                i.message.clone().into(),
            ]
        })
        .collect();
    crate::sql::insert_many(tx, HEAD, " ON CONFLICT DO NOTHING", args).await
}

pub async fn add_issue(tx: &mut Tx, i: &IssueRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO import_issues (import_id, row_no, severity, code, message) VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT DO NOTHING";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(i.import_id)
        .bind(i.row_no)
        .bind(&i.severity)
        .bind(&i.code)
        .bind(&i.message)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Issues in row order after `after_row` (the report streams through them).
pub async fn issues(db: &Db, import_id: Uuid, after_row: i64, limit: i64) -> Result<Vec<IssueRow>> {
    const SQL: &str = "SELECT import_id, row_no, severity, code, message FROM import_issues
                       WHERE import_id = $1 AND row_no > $2 ORDER BY row_no, code LIMIT $3";
    Ok(on_read!(db, |p| sqlx::query_as::<_, IssueRow>(SQL)
        .bind(import_id)
        .bind(after_row)
        .bind(limit)
        .fetch_all(p)
        .await?))
}
