//! What every CRM record type shares in storage: tags, typed custom-field
//! values, the search document and list filters. Record tables themselves
//! live in `contacts`, `companies` and `deals`.

use crate::sql::{insert_many, Arg, Sql};
use crate::visibility::push_filter;
use crate::{Db, Result, Tx};
use kith_domain::crm::TypedValue;
use kith_domain::page::{Cursor, PageRequest};
use kith_domain::visibility::{Placement, Viewer};
use uuid::Uuid;

/// Comparison for a custom-field filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomOp {
    Eq,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomFilter {
    pub field_id: Uuid,
    pub op: CustomOp,
    pub text: Option<String>,
    pub number: Option<f64>,
}

/// Which rows of one record type a list shows, in addition to visibility.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub tag_ids: Vec<Uuid>,
    pub owner_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub pipeline_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    pub status: Option<String>,
    pub custom: Vec<CustomFilter>,
    pub updated_since_ms: Option<i64>,
    /// Only these records (a selection, e.g. for an export); empty: no limit.
    pub ids: Vec<Uuid>,
}

/// Sort key of a list; keyset pagination runs on (key, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    UpdatedDesc,
    UpdatedAsc,
    CreatedDesc,
    CreatedAsc,
}

impl SortKey {
    pub fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "-updated_at" | "-updated" => SortKey::UpdatedDesc,
            "updated_at" | "updated" => SortKey::UpdatedAsc,
            "-created_at" | "-created" => SortKey::CreatedDesc,
            "created_at" | "created" => SortKey::CreatedAsc,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            SortKey::UpdatedDesc | SortKey::UpdatedAsc => "updated_ms",
            SortKey::CreatedDesc | SortKey::CreatedAsc => "created_ms",
        }
    }

    fn descending(self) -> bool {
        matches!(self, SortKey::UpdatedDesc | SortKey::CreatedDesc)
    }

    pub fn cursor_key(self, updated_ms: i64, created_ms: i64) -> i64 {
        match self {
            SortKey::UpdatedDesc | SortKey::UpdatedAsc => updated_ms,
            SortKey::CreatedDesc | SortKey::CreatedAsc => created_ms,
        }
    }
}

/// `SELECT <columns> FROM <table> r WHERE org AND visible AND filters AND
/// after-cursor ORDER BY key, id LIMIT n`: the list query of every record type.
pub fn list_query(
    columns: &str,
    table: &str,
    record_type: &str,
    viewer: &Viewer,
    filter: &ListFilter,
    sort: SortKey,
    page: &PageRequest,
) -> Sql {
    let mut sql = list_where(columns, table, record_type, viewer, filter);
    let col = sort.column();
    let (cmp, dir) = if sort.descending() { ("<", "DESC") } else { (">", "ASC") };
    if let Some(Cursor { key, id }) = page.after {
        sql.push(&format!(" AND (r.{col} {cmp} "))
            .bind(key)
            .push(&format!(" OR (r.{col} = "))
            .bind(key)
            .push(&format!(" AND r.id {cmp} "))
            .bind(id)
            .push("))");
    }
    sql.push(&format!(" ORDER BY r.{col} {dir}, r.id {dir} LIMIT ")).bind(page.fetch_limit());
    sql
}

/// `SELECT <columns> FROM <table> r WHERE org AND visible AND filters`: the
/// head of every list query, before its order ([`list_query`], and
/// [`crate::list_sort`] for orders of several keys).
pub fn list_where(columns: &str, table: &str, record_type: &str, viewer: &Viewer, filter: &ListFilter) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {columns} FROM {table} r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    for tag in &filter.tag_ids {
        sql.push(" AND EXISTS (SELECT 1 FROM record_tags rt WHERE rt.tag_id = ")
            .bind(*tag)
            .push(" AND rt.record_type = ")
            .bind(record_type)
            .push(" AND rt.record_id = r.id)");
    }
    if let Some(owner) = filter.owner_id {
        sql.push(" AND r.owner_id = ").bind(owner);
    }
    if let Some(company) = filter.company_id {
        sql.push(" AND r.company_id = ").bind(company);
    }
    if let Some(p) = filter.pipeline_id {
        sql.push(" AND r.pipeline_id = ").bind(p);
    }
    if let Some(s) = filter.stage_id {
        sql.push(" AND r.stage_id = ").bind(s);
    }
    if let Some(s) = &filter.status {
        sql.push(" AND r.status = ").bind(s.as_str());
    }
    if let Some(t) = filter.updated_since_ms {
        sql.push(" AND r.updated_ms >= ").bind(t);
    }
    for c in &filter.custom {
        sql.push(" AND EXISTS (SELECT 1 FROM custom_values cv WHERE cv.field_id = ")
            .bind(c.field_id)
            .push(" AND cv.record_id = r.id");
        let op = match c.op {
            CustomOp::Eq => " = ",
            CustomOp::Gt => " > ",
            CustomOp::Lt => " < ",
        };
        if let Some(n) = c.number {
            sql.push(" AND cv.number_value").push(op).bind(n);
        }
        if let Some(t) = &c.text {
            sql.push(" AND cv.text_value").push(op).bind(t.as_str());
        }
        sql.push(")");
    }
    if !filter.ids.is_empty() {
        sql.push(" AND r.id IN (").bind_list(filter.ids.iter().copied()).push(")");
    }
    sql
}

// ---- tags -------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub name_key: String,
    pub color: String,
    pub created_ms: i64,
}

pub async fn insert_tag(tx: &mut Tx, t: &TagRow) -> Result<()> {
    const SQL: &str =
        "INSERT INTO tags (id, org_id, name, name_key, color, created_ms) VALUES ($1, $2, $3, $4, $5, $6)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(t.id)
        .bind(t.org_id)
        .bind(&t.name)
        .bind(&t.name_key)
        .bind(&t.color)
        .bind(t.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn find_tag_by_key(tx: &mut Tx, org_id: Uuid, name_key: &str) -> Result<Option<TagRow>> {
    const SQL: &str =
        "SELECT id, org_id, name, name_key, color, created_ms FROM tags WHERE org_id = $1 AND name_key = $2";
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, TagRow>(SQL).bind(org_id).bind(name_key).fetch_optional(c).await?))
}

pub async fn get_tag(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<TagRow>> {
    const SQL: &str = "SELECT id, org_id, name, name_key, color, created_ms FROM tags WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, TagRow>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}

pub async fn find_tag_by_key_db(db: &Db, org_id: Uuid, name_key: &str) -> Result<Option<TagRow>> {
    const SQL: &str =
        "SELECT id, org_id, name, name_key, color, created_ms FROM tags WHERE org_id = $1 AND name_key = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, TagRow>(SQL).bind(org_id).bind(name_key).fetch_optional(p).await?))
}

/// Tags in name order, keyset on the name key.
pub async fn list_tags(db: &Db, org_id: Uuid, after_key: &str, limit: i64) -> Result<Vec<TagRow>> {
    const SQL: &str = "SELECT id, org_id, name, name_key, color, created_ms FROM tags
                       WHERE org_id = $1 AND name_key > $2 ORDER BY name_key LIMIT $3";
    Ok(on_read!(db, |p| sqlx::query_as::<_, TagRow>(SQL).bind(org_id).bind(after_key).bind(limit).fetch_all(p).await?))
}

pub async fn delete_tag(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM tags WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn update_tag(tx: &mut Tx, org_id: Uuid, id: Uuid, name: &str, name_key: &str, color: &str) -> Result<bool> {
    const SQL: &str = "UPDATE tags SET name = $3, name_key = $4, color = $5 WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(id)
        .bind(name)
        .bind(name_key)
        .bind(color)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Replace a record's tags with `tag_ids` (already checked to be the workspace's).
pub async fn set_record_tags(
    tx: &mut Tx,
    org_id: Uuid,
    record_type: &str,
    record_id: Uuid,
    tag_ids: &[Uuid],
) -> Result<()> {
    const DEL: &str = "DELETE FROM record_tags WHERE org_id = $1 AND record_type = $2 AND record_id = $3";
    on_tx!(tx, |c| sqlx::query(DEL).bind(org_id).bind(record_type).bind(record_id).execute(c).await?.rows_affected());
    add_record_tags(tx, org_id, record_type, record_id, tag_ids).await
}

pub async fn add_record_tags(
    tx: &mut Tx,
    org_id: Uuid,
    record_type: &str,
    record_id: Uuid,
    tag_ids: &[Uuid],
) -> Result<()> {
    const INS: &str = "INSERT INTO record_tags (org_id, tag_id, record_type, record_id) VALUES ($1, $2, $3, $4)
                       ON CONFLICT DO NOTHING";
    for tag in tag_ids {
        on_tx!(tx, |c| sqlx::query(INS)
            .bind(org_id)
            .bind(*tag)
            .bind(record_type)
            .bind(record_id)
            .execute(c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// Tag many records at once: `(tag_id, record_id)` pairs of one record type.
pub async fn add_record_tags_many(tx: &mut Tx, org_id: Uuid, record_type: &str, pairs: &[(Uuid, Uuid)]) -> Result<u64> {
    const HEAD: &str = "INSERT INTO record_tags (org_id, tag_id, record_type, record_id) VALUES";
    let args = pairs
        .iter()
        .map(|(tag, record)| vec![Arg::from(org_id), (*tag).into(), record_type.into(), (*record).into()])
        .collect();
    insert_many(tx, HEAD, " ON CONFLICT DO NOTHING", args).await
}

/// Tags of many records at once (one query for a whole list page).
pub async fn tags_of(db: &Db, org_id: Uuid, record_type: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, TagRow)>> {
    #[derive(sqlx::FromRow)]
    struct Joined {
        record_id: Uuid,
        #[sqlx(flatten)]
        tag: TagRow,
    }
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(
        "SELECT rt.record_id, t.id, t.org_id, t.name, t.name_key, t.color, t.created_ms
         FROM record_tags rt JOIN tags t ON t.id = rt.tag_id WHERE rt.org_id = ",
    );
    sql.bind(org_id).push(" AND rt.record_type = ").bind(record_type).push(" AND rt.record_id IN (");
    sql.bind_list(ids.iter().copied()).push(") ORDER BY t.name_key");
    let rows: Vec<Joined> = sql.fetch_all(db).await?;
    Ok(rows.into_iter().map(|j| (j.record_id, j.tag)).collect())
}

/// Tag ids of one record, inside a transaction.
pub async fn tags_of_tx(tx: &mut Tx, org_id: Uuid, record_type: &str, record_id: Uuid) -> Result<Vec<Uuid>> {
    const SQL: &str = "SELECT tag_id FROM record_tags WHERE org_id = $1 AND record_type = $2 AND record_id = $3";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, Uuid>(SQL)
        .bind(org_id)
        .bind(record_type)
        .bind(record_id)
        .fetch_all(c)
        .await?))
}

// ---- custom values ----------------------------------------------------------

/// Replace the typed values of one field on one record.
pub async fn set_custom_values(
    tx: &mut Tx,
    org_id: Uuid,
    field_id: Uuid,
    record_id: Uuid,
    values: &[TypedValue],
) -> Result<()> {
    const DEL: &str = "DELETE FROM custom_values WHERE field_id = $1 AND record_id = $2";
    const INS: &str = "INSERT INTO custom_values (org_id, field_id, record_id, ord, text_value, number_value)
                       VALUES ($1, $2, $3, $4, $5, $6)";
    on_tx!(tx, |c| sqlx::query(DEL).bind(field_id).bind(record_id).execute(c).await?.rows_affected());
    for (i, v) in values.iter().enumerate() {
        on_tx!(tx, |c| sqlx::query(INS)
            .bind(org_id)
            .bind(field_id)
            .bind(record_id)
            .bind(i as i64)
            .bind(v.text.clone())
            .bind(v.number)
            .execute(c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// Typed values of new records in bulk: `(field_id, record_id, values)`.
pub async fn insert_custom_values_many(
    tx: &mut Tx,
    org_id: Uuid,
    values: &[(Uuid, Uuid, &[TypedValue])],
) -> Result<u64> {
    const HEAD: &str = "INSERT INTO custom_values (org_id, field_id, record_id, ord, text_value, number_value) VALUES";
    let mut args = Vec::new();
    for (field, record, typed) in values {
        for (i, v) in typed.iter().enumerate() {
            args.push(vec![
                Arg::from(org_id),
                (*field).into(),
                (*record).into(),
                (i as i64).into(),
                v.text.clone().into(),
                v.number.into(),
            ]);
        }
    }
    insert_many(tx, HEAD, " ON CONFLICT DO NOTHING", args).await
}

/// Remove everything that hangs off a deleted record: tags, custom values,
/// its search document (and its notes' documents), timeline entries.
pub async fn delete_record_satellites(tx: &mut Tx, org_id: Uuid, record_type: &str, record_id: Uuid) -> Result<()> {
    const STATEMENTS: [&str; 6] = [
        "DELETE FROM record_tags WHERE org_id = $1 AND record_type = $2 AND record_id = $3",
        "DELETE FROM custom_values WHERE org_id = $1 AND record_id = $3 AND $2 <> ''",
        "DELETE FROM search_docs WHERE org_id = $1 AND ((record_type = $2 AND record_id = $3) OR (parent_type = $2 AND parent_id = $3))",
        "DELETE FROM timeline_entries WHERE org_id = $1 AND record_type = $2 AND record_id = $3",
        "DELETE FROM notes WHERE org_id = $1 AND record_type = $2 AND record_id = $3",
        "DELETE FROM activities WHERE org_id = $1 AND record_type = $2 AND record_id = $3",
    ];
    for sql in STATEMENTS {
        on_tx!(tx, |c| sqlx::query(sql)
            .bind(org_id)
            .bind(record_type)
            .bind(record_id)
            .execute(c)
            .await?
            .rows_affected());
    }
    const TASKS: &str = "UPDATE tasks SET record_type = NULL, record_id = NULL WHERE org_id = $1 AND record_type = $2 AND record_id = $3";
    on_tx!(tx, |c| sqlx::query(TASKS).bind(org_id).bind(record_type).bind(record_id).execute(c).await?.rows_affected());
    if record_type == "contact" {
        // Its cached profile vector (related contacts) goes with it.
        crate::ai_assist::forget_contact_vector(tx, org_id, record_id).await?;
    }
    Ok(())
}

// ---- search documents -------------------------------------------------------

#[derive(Debug, Clone)]
pub struct SearchDoc {
    pub org_id: Uuid,
    pub record_type: String,
    pub record_id: Uuid,
    /// The record a note or activity hangs off, if any.
    pub parent: Option<(String, Uuid)>,
    pub title: String,
    /// Normalised words (or blind tokens), space-separated.
    pub terms: String,
    pub placement: Placement,
    pub updated_ms: i64,
}

/// Insert or replace the search document of one record (or note).
pub async fn upsert_search_doc(tx: &mut Tx, d: &SearchDoc) -> Result<()> {
    const SQL: &str = "INSERT INTO search_docs (org_id, record_type, record_id, parent_type, parent_id, title, terms,
                                               visibility, owner_id, team_id, created_by, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                       ON CONFLICT (record_id) DO UPDATE SET title = excluded.title, terms = excluded.terms,
                         visibility = excluded.visibility, owner_id = excluded.owner_id, team_id = excluded.team_id,
                         created_by = excluded.created_by, updated_ms = excluded.updated_ms";
    let (parent_type, parent_id) = match &d.parent {
        Some((t, id)) => (Some(t.clone()), Some(*id)),
        None => (None, None),
    };
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(d.org_id)
        .bind(&d.record_type)
        .bind(d.record_id)
        .bind(parent_type)
        .bind(parent_id)
        .bind(&d.title)
        .bind(&d.terms)
        .bind(d.placement.visibility.as_str())
        .bind(d.placement.owner_id)
        .bind(d.placement.team_id)
        .bind(d.placement.created_by)
        .bind(d.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Search documents of new records in bulk (no earlier document exists).
pub async fn insert_search_docs(tx: &mut Tx, docs: &[SearchDoc]) -> Result<u64> {
    const HEAD: &str = "INSERT INTO search_docs (org_id, record_type, record_id, parent_type, parent_id, title, terms,
                          visibility, owner_id, team_id, created_by, updated_ms) VALUES";
    let args = docs
        .iter()
        .map(|d| {
            let (parent_type, parent_id) = match &d.parent {
                Some((t, id)) => (Some(t.clone()), Some(*id)),
                None => (None, None),
            };
            vec![
                Arg::from(d.org_id),
                d.record_type.clone().into(),
                d.record_id.into(),
                parent_type.into(),
                parent_id.into(),
                d.title.clone().into(),
                d.terms.clone().into(),
                d.placement.visibility.as_str().into(),
                d.placement.owner_id.into(),
                d.placement.team_id.into(),
                d.placement.created_by.into(),
                d.updated_ms.into(),
            ]
        })
        .collect();
    insert_many(tx, HEAD, "", args).await
}

/// When a record's visibility changes, the documents of what hangs off it
/// (shared notes) follow; private notes keep their author-only placement.
pub async fn move_child_docs(tx: &mut Tx, org_id: Uuid, parent_id: Uuid, p: &Placement, title: &str) -> Result<()> {
    const SQL: &str = "UPDATE search_docs SET visibility = $3, owner_id = $4, team_id = $5, created_by = $6, title = $7
                       WHERE org_id = $1 AND parent_id = $2 AND visibility <> 'personal'";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(parent_id)
        .bind(p.visibility.as_str())
        .bind(p.owner_id)
        .bind(p.team_id)
        .bind(p.created_by)
        .bind(title)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn delete_search_doc(tx: &mut Tx, org_id: Uuid, record_id: Uuid) -> Result<()> {
    const SQL: &str = "DELETE FROM search_docs WHERE org_id = $1 AND record_id = $2";
    on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(record_id).execute(c).await?.rows_affected());
    Ok(())
}

/// Move everything that hangs off record `from` to record `to` of the same
/// type (a duplicate merge): notes, activities, tasks, timeline entries,
/// tags, search documents of notes, and (contacts) deal links. Returns the
/// number of rows moved.
pub async fn reparent(tx: &mut Tx, org_id: Uuid, record_type: &str, from: Uuid, to: Uuid) -> Result<u64> {
    const MOVES: [&str; 5] = [
        "UPDATE notes SET record_id = $4 WHERE org_id = $1 AND record_type = $2 AND record_id = $3",
        "UPDATE activities SET record_id = $4 WHERE org_id = $1 AND record_type = $2 AND record_id = $3",
        "UPDATE tasks SET record_id = $4 WHERE org_id = $1 AND record_type = $2 AND record_id = $3",
        "UPDATE timeline_entries SET record_id = $4 WHERE org_id = $1 AND record_type = $2 AND record_id = $3",
        "UPDATE search_docs SET parent_id = $4 WHERE org_id = $1 AND parent_type = $2 AND parent_id = $3",
    ];
    const TAGS: &str = "INSERT INTO record_tags (org_id, tag_id, record_type, record_id)
                        SELECT org_id, tag_id, record_type, $4 FROM record_tags
                        WHERE org_id = $1 AND record_type = $2 AND record_id = $3
                        ON CONFLICT DO NOTHING";
    const DEALS: &str = "INSERT INTO deal_contacts (org_id, deal_id, contact_id)
                         SELECT org_id, deal_id, $4 FROM deal_contacts WHERE org_id = $1 AND contact_id = $3 AND $2 = 'contact'
                         ON CONFLICT DO NOTHING";
    const UNLINK: &str = "DELETE FROM deal_contacts WHERE org_id = $1 AND contact_id = $3 AND $2 = 'contact'";
    let mut moved = 0;
    for sql in MOVES.into_iter().chain([TAGS, DEALS, UNLINK]) {
        moved += on_tx!(tx, |c| sqlx::query(sql)
            .bind(org_id)
            .bind(record_type)
            .bind(from)
            .bind(to)
            .execute(c)
            .await?
            .rows_affected());
    }
    Ok(moved)
}

pub async fn remove_record_tag(
    tx: &mut Tx,
    org_id: Uuid,
    record_type: &str,
    record_id: Uuid,
    tag_id: Uuid,
) -> Result<()> {
    const SQL: &str =
        "DELETE FROM record_tags WHERE org_id = $1 AND record_type = $2 AND record_id = $3 AND tag_id = $4";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(record_type)
        .bind(record_id)
        .bind(tag_id)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}
