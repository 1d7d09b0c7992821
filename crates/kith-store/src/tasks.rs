//! Tasks: something to do by a time, for someone, optionally about a record.

use crate::sql::Sql;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub title: String,
    pub due_ms: Option<i64>,
    pub reminder_ms: Option<i64>,
    pub reminded_ms: Option<i64>,
    pub assignee_id: Option<Uuid>,
    pub done_ms: Option<i64>,
    pub record_type: Option<String>,
    pub record_id: Option<Uuid>,
    pub created_by: Uuid,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str = "t.id, t.org_id, t.title, t.due_ms, t.reminder_ms, t.reminded_ms, t.assignee_id, t.done_ms,
    t.record_type, t.record_id, t.created_by, t.version, t.created_ms, t.updated_ms";

pub async fn insert(tx: &mut Tx, t: &TaskRow) -> Result<()> {
    const SQL: &str = "INSERT INTO tasks (id, org_id, title, due_ms, reminder_ms, reminded_ms, assignee_id, done_ms,
                         record_type, record_id, created_by, version, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(t.id)
        .bind(t.org_id)
        .bind(&t.title)
        .bind(t.due_ms)
        .bind(t.reminder_ms)
        .bind(t.reminded_ms)
        .bind(t.assignee_id)
        .bind(t.done_ms)
        .bind(&t.record_type)
        .bind(t.record_id)
        .bind(t.created_by)
        .bind(t.version)
        .bind(t.created_ms)
        .bind(t.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn update(tx: &mut Tx, t: &TaskRow) -> Result<bool> {
    const SQL: &str = "UPDATE tasks SET title = $3, due_ms = $4, reminder_ms = $5, reminded_ms = $6, assignee_id = $7,
                         done_ms = $8, version = $9, updated_ms = $10
                       WHERE org_id = $1 AND id = $2 AND version = $9 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(t.org_id)
        .bind(t.id)
        .bind(&t.title)
        .bind(t.due_ms)
        .bind(t.reminder_ms)
        .bind(t.reminded_ms)
        .bind(t.assignee_id)
        .bind(t.done_ms)
        .bind(t.version)
        .bind(t.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM tasks WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<TaskRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM tasks t WHERE t.org_id = "));
    sql.bind(org_id).push(" AND t.id = ").bind(id);
    sql.fetch_optional(db).await
}

pub async fn get_many(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<TaskRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM tasks t WHERE t.org_id = "));
    sql.bind(org_id).push(" AND t.id IN (").bind_list(ids.iter().copied()).push(")");
    sql.fetch_all(db).await
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskBucket {
    /// Not done, due before `now`.
    Overdue,
    /// Not done, due between `now` and the end of the day.
    Today,
    /// Not done, any due time (no due time last).
    Open,
    Done,
}

/// Tasks assigned to `assignee` (or every task when None), by due time.
/// Keyset on (due_ms with "no due time" as i64::MAX, id).
pub async fn list(
    db: &Db,
    org_id: Uuid,
    assignee: Option<Uuid>,
    bucket: TaskBucket,
    now: i64,
    end_of_day: i64,
    page: &PageRequest,
) -> Result<Page<TaskRow>> {
    let due = "COALESCE(t.due_ms, 9223372036854775807)";
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM tasks t WHERE t.org_id = "));
    sql.bind(org_id);
    if let Some(a) = assignee {
        sql.push(" AND t.assignee_id = ").bind(a);
    }
    match bucket {
        TaskBucket::Overdue => {
            sql.push(" AND t.done_ms IS NULL AND t.due_ms < ").bind(now);
        }
        TaskBucket::Today => {
            sql.push(" AND t.done_ms IS NULL AND t.due_ms >= ").bind(now).push(" AND t.due_ms < ").bind(end_of_day);
        }
        TaskBucket::Open => {
            sql.push(" AND t.done_ms IS NULL");
        }
        TaskBucket::Done => {
            sql.push(" AND t.done_ms IS NOT NULL");
        }
    }
    if let Some(Cursor { key, id }) = page.after {
        sql.push(&format!(" AND ({due} > "))
            .bind(key)
            .push(&format!(" OR ({due} = "))
            .bind(key)
            .push(" AND t.id > ")
            .bind(id)
            .push("))");
    }
    sql.push(&format!(" ORDER BY {due}, t.id LIMIT ")).bind(page.fetch_limit());
    let rows: Vec<TaskRow> = sql.fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |t| Cursor { key: t.due_ms.unwrap_or(i64::MAX), id: t.id }))
}

/// Tasks whose reminder time has come and that were not reminded yet.
pub async fn due_reminders(db: &Db, now: i64, limit: i64) -> Result<Vec<TaskRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM tasks t WHERE t.reminder_ms <= "));
    sql.bind(now).push(" AND t.reminded_ms IS NULL AND t.done_ms IS NULL ORDER BY t.reminder_ms LIMIT ").bind(limit);
    sql.fetch_all(db).await
}

/// Mark reminded; false if someone else already did (one node sends it).
pub async fn mark_reminded(tx: &mut Tx, id: Uuid, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE tasks SET reminded_ms = $2 WHERE id = $1 AND reminded_ms IS NULL";
    Ok(on_tx!(tx, |c| sqlx::query(SQL).bind(id).bind(now).execute(c).await?.rows_affected()) == 1)
}
