//! Timeline entries: one chronological list per record, fed by every
//! capability (notes, tasks, activities, stage changes; later messages,
//! meetings, documents, payments). An entry only points at its source row;
//! the app layer turns entries into what is shown.

use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimelineRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub record_type: String,
    pub record_id: Uuid,
    pub at_ms: i64,
    pub kind: String,
    pub ref_id: Uuid,
    pub actor_id: Option<Uuid>,
    /// Shown to this user only (a private note); None for everyone who sees the record.
    pub private_to: Option<Uuid>,
    /// Small non-sensitive JSON the entry needs to render (stage names, …).
    pub summary: String,
}

pub async fn insert(tx: &mut Tx, e: &TimelineRow) -> Result<()> {
    const SQL: &str = "INSERT INTO timeline_entries (id, org_id, record_type, record_id, at_ms, kind, ref_id, actor_id,
                         private_to, summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(e.id)
        .bind(e.org_id)
        .bind(&e.record_type)
        .bind(e.record_id)
        .bind(e.at_ms)
        .bind(&e.kind)
        .bind(e.ref_id)
        .bind(e.actor_id)
        .bind(e.private_to)
        .bind(&e.summary)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Remove the entries that point at a source row (a deleted note or task).
pub async fn delete_for_ref(tx: &mut Tx, org_id: Uuid, ref_id: Uuid) -> Result<()> {
    const SQL: &str = "DELETE FROM timeline_entries WHERE org_id = $1 AND ref_id = $2";
    on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(ref_id).execute(c).await?.rows_affected());
    Ok(())
}

/// Keep an entry in step with its source (time and privacy can change).
pub async fn update_for_ref(
    tx: &mut Tx,
    org_id: Uuid,
    ref_id: Uuid,
    at_ms: i64,
    private_to: Option<Uuid>,
) -> Result<()> {
    const SQL: &str = "UPDATE timeline_entries SET at_ms = $3, private_to = $4 WHERE org_id = $1 AND ref_id = $2";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(ref_id)
        .bind(at_ms)
        .bind(private_to)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Newest first. The caller has already checked the viewer may see the
/// record; entries private to someone else are left out here.
pub async fn list(
    db: &Db,
    org_id: Uuid,
    record_type: &str,
    record_id: Uuid,
    viewer_id: Uuid,
    page: &PageRequest,
) -> Result<Page<TimelineRow>> {
    const SQL: &str = "SELECT id, org_id, record_type, record_id, at_ms, kind, ref_id, actor_id, private_to, summary
                       FROM timeline_entries
                       WHERE org_id = $1 AND record_type = $2 AND record_id = $3
                         AND (private_to IS NULL OR private_to = $4)
                         AND (at_ms < $5 OR (at_ms = $5 AND id < $6))
                       ORDER BY at_ms DESC, id DESC LIMIT $7";
    let (key, id) = match page.after {
        Some(c) => (c.key, c.id),
        None => (i64::MAX, Uuid::max()),
    };
    let rows = on_read!(db, |p| sqlx::query_as::<_, TimelineRow>(SQL)
        .bind(org_id)
        .bind(record_type)
        .bind(record_id)
        .bind(viewer_id)
        .bind(key)
        .bind(id)
        .bind(page.fetch_limit())
        .fetch_all(p)
        .await?);
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.at_ms, id: r.id }))
}
