//! Export runs (a whole workspace as one archive, kept in `file_chunks`
//! under the export's id) and the reads an export needs that no list
//! offers: every note and task of a workspace a viewer may read, and
//! company and contact names by id, all through the one visibility filter.
//!
//! This module never decides who may start or download an export.

use crate::sql::Sql;
use crate::visibility::push_filter;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use kith_domain::visibility::Viewer;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_by: Uuid,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// `workspace`.
    pub scope: String,
    /// `zip`.
    pub format: String,
    /// Records written so far.
    pub records: i64,
    pub file_bytes: i64,
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
}

const COLUMNS: &str =
    "id, org_id, created_by, status, scope, format, records, file_bytes, error, created_ms, updated_ms, finished_ms";

pub async fn insert(tx: &mut Tx, r: &ExportRow) -> Result<()> {
    const SQL: &str = "INSERT INTO exports (id, org_id, created_by, status, scope, format, records, file_bytes,
                         created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(r.created_by)
        .bind(&r.status)
        .bind(&r.scope)
        .bind(&r.format)
        .bind(r.records)
        .bind(r.file_bytes)
        .bind(r.created_ms)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<ExportRow>> {
    let sql = format!("SELECT {COLUMNS} FROM exports WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, ExportRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Newest first; only those `created_by` made when given.
pub async fn list(db: &Db, org_id: Uuid, created_by: Option<Uuid>, page: &PageRequest) -> Result<Page<ExportRow>> {
    let (k, id) = page.after.map(|c| (c.key, c.id)).unwrap_or((i64::MAX, Uuid::max()));
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM exports WHERE org_id = "));
    sql.bind(org_id);
    if let Some(user) = created_by {
        sql.push(" AND created_by = ").bind(user);
    }
    sql.push(" AND (created_ms < ").bind(k).push(" OR (created_ms = ").bind(k).push(" AND id < ").bind(id);
    sql.push(")) ORDER BY created_ms DESC, id DESC LIMIT ").bind(page.fetch_limit());
    let rows: Vec<ExportRow> = sql.fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

/// Begin (again) from nothing: a new run rewrites the whole file.
pub async fn restart(tx: &mut Tx, id: Uuid, now: i64) -> Result<()> {
    const SQL: &str = "UPDATE exports SET status = 'running', records = 0, file_bytes = 0, error = NULL,
                         updated_ms = $2, finished_ms = NULL WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(now).execute(c).await?.rows_affected());
    Ok(())
}

/// Counters after one more stored chunk, committed with the chunk. A
/// compare-and-set on `file_bytes`: false when another run of the same
/// export restarted or advanced it meanwhile (then this run must stop).
pub async fn advance(tx: &mut Tx, id: Uuid, from_bytes: i64, to_bytes: i64, records: i64, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE exports SET records = $4, file_bytes = $3, updated_ms = $5
                       WHERE id = $1 AND file_bytes = $2 AND status = 'running'";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(from_bytes)
        .bind(to_bytes)
        .bind(records)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Mark done, if this run still owns the file (same compare-and-set).
pub async fn complete(tx: &mut Tx, id: Uuid, file_bytes: i64, records: i64, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE exports SET status = 'done', records = $3, updated_ms = $4, finished_ms = $4
                       WHERE id = $1 AND file_bytes = $2 AND status = 'running'";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(file_bytes)
        .bind(records)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn fail(tx: &mut Tx, id: Uuid, error: &str, now: i64) -> Result<()> {
    const SQL: &str =
        "UPDATE exports SET status = 'failed', error = $2, updated_ms = $3, finished_ms = $3 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(error).bind(now).execute(c).await?.rows_affected());
    Ok(())
}

/// Exports of any workspace made before `before_ms`, oldest first: `(org_id, id)`.
pub async fn created_before(db: &Db, before_ms: i64, limit: i64) -> Result<Vec<(Uuid, Uuid)>> {
    const SQL: &str = "SELECT org_id, id FROM exports WHERE created_ms < $1 ORDER BY created_ms LIMIT $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, (Uuid, Uuid)>(SQL).bind(before_ms).bind(limit).fetch_all(p).await?))
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM exports WHERE org_id = $1 AND id = $2";
    Ok(on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected()) == 1)
}

/// Names of the companies among `ids` that `viewer` may see.
pub async fn company_names(db: &Db, viewer: &Viewer, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let org = crate::dialect::org_column_for_id_list(db.backend(), "r");
    let mut sql = Sql::new(&format!("SELECT r.id, r.name FROM companies r WHERE {org} = "));
    sql.bind(viewer.org_id).push(" AND r.id IN (").bind_list(ids.iter().copied()).push(") AND ");
    push_filter(&mut sql, "r", viewer);
    sql.fetch_all(db).await
}

/// `(id, first_name, last_name, emails JSON)` of the contacts among `ids`
/// that `viewer` may see.
pub async fn contact_names(db: &Db, viewer: &Viewer, ids: &[Uuid]) -> Result<Vec<(Uuid, String, String, String)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let org = crate::dialect::org_column_for_id_list(db.backend(), "r");
    let mut sql = Sql::new(&format!("SELECT r.id, r.first_name, r.last_name, r.emails FROM contacts r WHERE {org} = "));
    sql.bind(viewer.org_id).push(" AND r.id IN (").bind_list(ids.iter().copied()).push(") AND ");
    push_filter(&mut sql, "r", viewer);
    sql.fetch_all(db).await
}

/// ` AND (<record of alias.record_type/record_id is visible>)`: the record a
/// note or task hangs off, looked up in its own table.
fn push_record_visible(sql: &mut Sql, alias: &str, viewer: &Viewer) {
    sql.push("(");
    for (i, (record_type, table)) in
        [("contact", "contacts"), ("company", "companies"), ("deal", "deals")].into_iter().enumerate()
    {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push(&format!("({alias}.record_type = '{record_type}' AND EXISTS (SELECT 1 FROM {table} r WHERE r.id = "))
            .push(&format!("{alias}.record_id AND r.org_id = "))
            .bind(viewer.org_id)
            .push(" AND ");
        push_filter(sql, "r", viewer);
        sql.push("))");
    }
    sql.push(")");
}

fn push_after(sql: &mut Sql, alias: &str, after: Option<Cursor>) {
    if let Some(Cursor { key, id }) = after {
        sql.push(&format!(" AND ({alias}.created_ms > "))
            .bind(key)
            .push(&format!(" OR ({alias}.created_ms = "))
            .bind(key)
            .push(&format!(" AND {alias}.id > "))
            .bind(id)
            .push("))");
    }
}

/// Notes `viewer` may read (their record is visible to them, and the note
/// is shared or theirs), oldest first, keyset on (created_ms, id). Bodies
/// stay sealed.
pub async fn notes_page(db: &Db, viewer: &Viewer, page: &PageRequest) -> Result<Page<crate::notes::NoteRow>> {
    let mut sql = Sql::new(
        "SELECT n.id, n.org_id, n.record_type, n.record_id, n.body, n.is_private, n.author_id, n.version,
                n.created_ms, n.updated_ms FROM notes n WHERE n.org_id = ",
    );
    sql.bind(viewer.org_id).push(" AND (n.is_private = FALSE OR n.author_id = ").bind(viewer.user_id).push(") AND ");
    push_record_visible(&mut sql, "n", viewer);
    push_after(&mut sql, "n", page.after);
    sql.push(" ORDER BY n.created_ms, n.id LIMIT ").bind(page.fetch_limit());
    let rows: Vec<crate::notes::NoteRow> = sql.fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |n| Cursor { key: n.created_ms, id: n.id }))
}

/// Tasks `viewer` may see (theirs, about no record, or about a record
/// visible to them), oldest first, keyset on (created_ms, id).
pub async fn tasks_page(db: &Db, viewer: &Viewer, page: &PageRequest) -> Result<Page<crate::tasks::TaskRow>> {
    let mut sql = Sql::new(
        "SELECT t.id, t.org_id, t.title, t.due_ms, t.reminder_ms, t.reminded_ms, t.assignee_id, t.done_ms,
                t.record_type, t.record_id, t.created_by, t.version, t.created_ms, t.updated_ms
         FROM tasks t WHERE t.org_id = ",
    );
    sql.bind(viewer.org_id).push(" AND (t.assignee_id = ").bind(viewer.user_id);
    sql.push(" OR t.created_by = ").bind(viewer.user_id);
    sql.push(" OR t.record_type IS NULL OR t.record_id IS NULL OR ");
    push_record_visible(&mut sql, "t", viewer);
    sql.push(")");
    push_after(&mut sql, "t", page.after);
    sql.push(" ORDER BY t.created_ms, t.id LIMIT ").bind(page.fetch_limit());
    let rows: Vec<crate::tasks::TaskRow> = sql.fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |t| Cursor { key: t.created_ms, id: t.id }))
}
