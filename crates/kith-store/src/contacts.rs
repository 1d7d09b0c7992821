//! Contact rows and their normalised handles (e-mails, phones). Reads go
//! through the visibility filter; the app layer decides who may write.

use crate::records::{list_query, ListFilter, SortKey};
use crate::sql::{insert_many, Arg, Sql};
use crate::visibility::push_filter;
use crate::{Backend, Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use kith_domain::visibility::Viewer;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// JSON list of `{value, label}`.
    pub emails: String,
    /// JSON list of `{value, raw, label, valid}`.
    pub phones: String,
    pub addresses: String,
    pub social: String,
    pub company_id: Option<Uuid>,
    pub title: Option<String>,
    pub birthday: Option<String>,
    pub time_zone: Option<String>,
    pub source: Option<String>,
    pub custom: String,
    pub visibility: String,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub created_by: Uuid,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str =
    "r.id, r.org_id, r.first_name, r.last_name, r.emails, r.phones, r.addresses, r.social, r.company_id,
    r.title, r.birthday, r.time_zone, r.source, r.custom, r.visibility, r.owner_id, r.team_id, r.created_by, r.version,
    r.created_ms, r.updated_ms";

pub async fn insert(tx: &mut Tx, r: &ContactRow) -> Result<()> {
    const SQL: &str = "INSERT INTO contacts (id, org_id, first_name, last_name, emails, phones, addresses, social,
                         company_id, title, birthday, time_zone, source, custom, visibility, owner_id, team_id,
                         created_by, version, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(&r.first_name)
        .bind(&r.last_name)
        .bind(&r.emails)
        .bind(&r.phones)
        .bind(&r.addresses)
        .bind(&r.social)
        .bind(r.company_id)
        .bind(&r.title)
        .bind(&r.birthday)
        .bind(&r.time_zone)
        .bind(&r.source)
        .bind(&r.custom)
        .bind(&r.visibility)
        .bind(r.owner_id)
        .bind(r.team_id)
        .bind(r.created_by)
        .bind(r.version)
        .bind(r.created_ms)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Insert many new contacts (imports): a few statements for hundreds of rows.
pub async fn insert_many_rows(tx: &mut Tx, rows: &[ContactRow]) -> Result<u64> {
    const HEAD: &str = "INSERT INTO contacts (id, org_id, first_name, last_name, emails, phones, addresses, social,
                          company_id, title, birthday, time_zone, source, custom, visibility, owner_id, team_id,
                          created_by, version, created_ms, updated_ms) VALUES";
    let args = rows
        .iter()
        .map(|r| {
            vec![
                Arg::from(r.id),
                r.org_id.into(),
                r.first_name.clone().into(),
                r.last_name.clone().into(),
                r.emails.clone().into(),
                r.phones.clone().into(),
                r.addresses.clone().into(),
                r.social.clone().into(),
                r.company_id.into(),
                r.title.clone().into(),
                r.birthday.clone().into(),
                r.time_zone.clone().into(),
                r.source.clone().into(),
                r.custom.clone().into(),
                r.visibility.clone().into(),
                r.owner_id.into(),
                r.team_id.into(),
                r.created_by.into(),
                r.version.into(),
                r.created_ms.into(),
                r.updated_ms.into(),
            ]
        })
        .collect();
    insert_many(tx, HEAD, "", args).await
}

/// Add handles `(contact_id, kind, value)` of new contacts in bulk.
pub async fn add_handles_many(tx: &mut Tx, org_id: Uuid, handles: &[(Uuid, &str, String)]) -> Result<u64> {
    const HEAD: &str = "INSERT INTO contact_handles (org_id, contact_id, kind, value) VALUES";
    let args = handles
        .iter()
        .map(|(contact, kind, value)| vec![Arg::from(org_id), (*contact).into(), (*kind).into(), value.clone().into()])
        .collect();
    insert_many(tx, HEAD, " ON CONFLICT DO NOTHING", args).await
}

/// Write every field of `r` if the stored version is still `r.version - 1`.
/// False when someone else changed it first (or it is gone).
pub async fn update(tx: &mut Tx, r: &ContactRow) -> Result<bool> {
    const SQL: &str = "UPDATE contacts SET first_name = $3, last_name = $4, emails = $5, phones = $6, addresses = $7,
                         social = $8, company_id = $9, title = $10, birthday = $11, time_zone = $12, source = $13,
                         custom = $14, visibility = $15, owner_id = $16, team_id = $17, version = $18, updated_ms = $19
                       WHERE org_id = $1 AND id = $2 AND version = $18 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.org_id)
        .bind(r.id)
        .bind(&r.first_name)
        .bind(&r.last_name)
        .bind(&r.emails)
        .bind(&r.phones)
        .bind(&r.addresses)
        .bind(&r.social)
        .bind(r.company_id)
        .bind(&r.title)
        .bind(&r.birthday)
        .bind(&r.time_zone)
        .bind(&r.source)
        .bind(&r.custom)
        .bind(&r.visibility)
        .bind(r.owner_id)
        .bind(r.team_id)
        .bind(r.version)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM contacts WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

fn visible_by_id(viewer: &Viewer, id: Uuid) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM contacts r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND r.id = ").bind(id).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql
}

/// The contact if it exists in the viewer's workspace and they may see it.
pub async fn get_visible(db: &Db, viewer: &Viewer, id: Uuid) -> Result<Option<ContactRow>> {
    visible_by_id(viewer, id).fetch_optional(db).await
}

/// Same, inside a transaction (before an update).
pub async fn get_visible_tx(tx: &mut Tx, viewer: &Viewer, id: Uuid) -> Result<Option<ContactRow>> {
    Ok(visible_by_id(viewer, id).fetch_all_tx(tx).await?.pop())
}

pub async fn list(
    db: &Db,
    viewer: &Viewer,
    filter: &ListFilter,
    sort: SortKey,
    page: &PageRequest,
) -> Result<Page<ContactRow>> {
    let rows: Vec<ContactRow> =
        list_query(COLUMNS, "contacts", "contact", viewer, filter, sort, page).fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |r| Cursor { key: sort.cursor_key(r.updated_ms, r.created_ms), id: r.id }))
}

/// A page in an order of up to three keys ([`crate::list_sort`]).
pub async fn list_sorted(
    db: &Db,
    viewer: &Viewer,
    filter: &ListFilter,
    sort: &crate::list_sort::Sort,
    page: &crate::list_sort::SortedPageRequest,
) -> Result<crate::list_sort::SortedPage<ContactRow>> {
    crate::list_sort::list(db, COLUMNS, "contacts", viewer, filter, sort, page, |r: &ContactRow| r.id).await
}

/// Many contacts by id, visible ones only (for timelines, deal links, merges).
pub async fn get_many_visible(db: &Db, viewer: &Viewer, ids: &[Uuid]) -> Result<Vec<ContactRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    get_many_visible_sql(db.backend(), viewer, ids).fetch_all(db).await
}

/// [`get_many_visible`]'s statement (public so a test can check its plan).
pub fn get_many_visible_sql(backend: Backend, viewer: &Viewer, ids: &[Uuid]) -> Sql {
    let org = crate::dialect::org_column_for_id_list(backend, "r");
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM contacts r WHERE {org} = "));
    sql.bind(viewer.org_id).push(" AND r.id IN (").bind_list(ids.iter().copied()).push(") AND ");
    push_filter(&mut sql, "r", viewer);
    sql
}

/// Ids of every contact at a company, whoever may see them (search upkeep
/// when the company is renamed or deleted; never for display).
pub async fn ids_at_company_tx(tx: &mut Tx, org_id: Uuid, company_id: Uuid) -> Result<Vec<Uuid>> {
    const SQL: &str = "SELECT id FROM contacts WHERE org_id = $1 AND company_id = $2";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, Uuid>(SQL).bind(org_id).bind(company_id).fetch_all(c).await?))
}

/// Contacts by id, whoever may see them (search upkeep; never for display).
pub async fn get_many_any(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<ContactRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let org = crate::dialect::org_column_for_id_list(db.backend(), "r");
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM contacts r WHERE {org} = "));
    sql.bind(org_id).push(" AND r.id IN (").bind_list(ids.iter().copied()).push(")");
    sql.fetch_all(db).await
}

/// Replace a contact's handles (`kind` is `email` or `phone`; values normalised).
pub async fn set_handles(tx: &mut Tx, org_id: Uuid, contact_id: Uuid, handles: &[(&str, String)]) -> Result<()> {
    const DEL: &str = "DELETE FROM contact_handles WHERE contact_id = $1";
    const INS: &str = "INSERT INTO contact_handles (org_id, contact_id, kind, value) VALUES ($1, $2, $3, $4)
                       ON CONFLICT DO NOTHING";
    on_tx!(tx, |c| sqlx::query(DEL).bind(contact_id).execute(c).await?.rows_affected());
    for (kind, value) in handles {
        on_tx!(tx, |c| sqlx::query(INS)
            .bind(org_id)
            .bind(contact_id)
            .bind(*kind)
            .bind(value)
            .execute(c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// Visible contacts holding any of these handles, oldest first: duplicate
/// detection and import dedupe see only what the viewer may see.
pub async fn find_by_handles(db: &Db, viewer: &Viewer, handles: &[(&str, String)]) -> Result<Vec<ContactRow>> {
    if handles.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM contacts r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND r.id IN (SELECT h.contact_id FROM contact_handles h WHERE h.org_id = ");
    sql.bind(viewer.org_id).push(" AND (");
    for (i, (kind, value)) in handles.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(h.kind = ").bind(*kind).push(" AND h.value = ").bind(value.as_str()).push(")");
    }
    sql.push(")) AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" ORDER BY r.created_ms, r.id");
    sql.fetch_all(db).await
}

/// Visible contacts holding a handle of `kind` among `values`, with the
/// matching value, oldest contact first (import dedupe: one read per batch
/// instead of one per row; the handle index drives it).
pub async fn find_by_handle_values(
    db: &Db,
    viewer: &Viewer,
    kind: &str,
    values: &[String],
) -> Result<Vec<(String, ContactRow)>> {
    #[derive(sqlx::FromRow)]
    struct Matched {
        handle_value: String,
        #[sqlx(flatten)]
        contact: ContactRow,
    }
    let mut out = Vec::new();
    for chunk in values.chunks(500) {
        let rows: Vec<Matched> = by_handle_values_sql(viewer, kind, chunk).fetch_all(db).await?;
        out.extend(rows.into_iter().map(|m| (m.handle_value, m.contact)));
    }
    out.sort_by_key(|(_, c)| (c.created_ms, c.id));
    Ok(out)
}

/// [`find_by_handle_values`]'s statement for up to 500 values (public so
/// benchmarks can show its plan).
pub fn by_handle_values_sql(viewer: &Viewer, kind: &str, values: &[String]) -> Sql {
    let mut sql = Sql::new(&format!(
        "SELECT h.value AS handle_value, {COLUMNS} FROM contact_handles h JOIN contacts r ON r.id = h.contact_id
         WHERE h.org_id = "
    ));
    sql.bind(viewer.org_id).push(" AND h.kind = ").bind(kind).push(" AND h.value IN (");
    // Padded by repeating the last value: a few statement texts, prepared once.
    sql.bind_list(crate::sql::padded(values, 500)).push(") AND r.org_id = ").bind(viewer.org_id).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" ORDER BY r.created_ms, r.id");
    sql
}

/// Visible contacts without any e-mail or phone whose `(last_name,
/// first_name)` is one of `names`, exactly as stored, oldest first: import
/// dedupe for rows that only have a name (the caller compares companies).
/// The `contacts_name_only` partial index drives it.
pub async fn find_name_only(db: &Db, viewer: &Viewer, names: &[(String, String)]) -> Result<Vec<ContactRow>> {
    const PAIRS: usize = 250;
    let mut out: Vec<ContactRow> = Vec::new();
    for chunk in names.chunks(PAIRS) {
        // Padded by repeating the last pair: a few statement texts, prepared once.
        let pairs = crate::sql::padded(chunk, PAIRS);
        out.extend(name_only_sql(viewer, &pairs).fetch_all::<ContactRow>(db).await?);
    }
    out.sort_by_key(|c| (c.created_ms, c.id));
    out.dedup_by_key(|c| c.id);
    Ok(out)
}

/// [`find_name_only`]'s statement for some `(last_name, first_name)` pairs
/// (public so a test can check its plan).
pub fn name_only_sql(viewer: &Viewer, pairs: &[(String, String)]) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM contacts r WHERE r.org_id = "));
    sql.bind(viewer.org_id)
        .push(" AND r.emails = '[]' AND r.phones = '[]' AND (r.last_name, r.first_name) IN (VALUES ");
    for (i, (last, first)) in pairs.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" }).bind(last.as_str()).push(", ").bind(first.as_str()).push(")");
    }
    sql.push(") AND ");
    push_filter(&mut sql, "r", viewer);
    sql
}

/// The contacts holding a handle of `kind` among `values` in a workspace,
/// as `(value, contact id)`, whoever may see them: the first half of import
/// dedupe, which reads the visible contacts by id next
/// ([`get_many_visible`]). One table and its `(org_id, kind, value)` index,
/// so no planner can pick a worse plan for a workspace still growing (a join
/// with the contacts did on PostgreSQL, whose statistics lag behind an
/// import); values go in lists of a few fixed sizes.
pub async fn handle_owners(db: &Db, org_id: Uuid, kind: &str, values: &[String]) -> Result<Vec<(String, Uuid)>> {
    let mut out = Vec::new();
    for chunk in values.chunks(500) {
        out.extend(handle_owners_sql(org_id, kind, chunk).fetch_all::<(String, Uuid)>(db).await?);
    }
    Ok(out)
}

/// [`handle_owners`]'s statement for up to 500 values, padded to a fixed
/// size by repeating the last (public so benchmarks can show its plan).
pub fn handle_owners_sql(org_id: Uuid, kind: &str, values: &[String]) -> Sql {
    let mut sql = Sql::new("SELECT h.value, h.contact_id FROM contact_handles h WHERE h.org_id = ");
    sql.bind(org_id).push(" AND h.kind = ").bind(kind).push(" AND h.value IN (");
    sql.bind_list(crate::sql::padded(values, 500)).push(")");
    sql
}

/// A workspace-shared contact (never anyone's personal one) holding this
/// handle: how inbound messages find their contact.
pub async fn find_shared_by_handle(db: &Db, org_id: Uuid, kind: &str, value: &str) -> Result<Option<ContactRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM contacts r JOIN contact_handles h ON h.contact_id = r.id WHERE h.org_id = "
    ));
    sql.bind(org_id)
        .push(" AND h.kind = ")
        .bind(kind)
        .push(" AND h.value = ")
        .bind(value)
        .push(" AND r.visibility <> 'personal' ORDER BY r.created_ms, r.id LIMIT 1");
    sql.fetch_optional(db).await
}

/// Contacts with the same normalised full name at the same company (or both
/// without one): the "similar name + company" duplicate rule.
pub async fn find_same_name(
    db: &Db,
    viewer: &Viewer,
    first_name: &str,
    last_name: &str,
    company_id: Option<Uuid>,
) -> Result<Vec<ContactRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM contacts r WHERE r.org_id = "));
    sql.bind(viewer.org_id)
        .push(" AND lower(r.first_name) = ")
        .bind(first_name.to_lowercase())
        .push(" AND lower(r.last_name) = ")
        .bind(last_name.to_lowercase());
    match company_id {
        Some(c) => sql.push(" AND r.company_id = ").bind(c),
        None => sql.push(" AND r.company_id IS NULL"),
    };
    sql.push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" ORDER BY r.created_ms, r.id LIMIT 20");
    sql.fetch_all(db).await
}
