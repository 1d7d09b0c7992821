//! Company rows. Reads go through the visibility filter.

use crate::records::{list_query, ListFilter, SortKey};
use crate::sql::{insert_many, Arg, Sql};
use crate::visibility::push_filter;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use kith_domain::visibility::Viewer;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CompanyRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// Lower-case host name, e.g. `example.com`.
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub size: Option<String>,
    /// JSON object (street, city, region, postal_code, country).
    pub address: String,
    pub custom: String,
    pub visibility: String,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub created_by: Uuid,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str = "r.id, r.org_id, r.name, r.domain, r.industry, r.size, r.address, r.custom, r.visibility,
    r.owner_id, r.team_id, r.created_by, r.version, r.created_ms, r.updated_ms";

pub async fn insert(tx: &mut Tx, r: &CompanyRow) -> Result<()> {
    const SQL: &str = "INSERT INTO companies (id, org_id, name, domain, industry, size, address, custom, visibility,
                         owner_id, team_id, created_by, version, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(&r.name)
        .bind(&r.domain)
        .bind(&r.industry)
        .bind(&r.size)
        .bind(&r.address)
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

/// Write every field if the stored version is still `r.version - 1`.
pub async fn update(tx: &mut Tx, r: &CompanyRow) -> Result<bool> {
    const SQL: &str =
        "UPDATE companies SET name = $3, domain = $4, industry = $5, size = $6, address = $7, custom = $8,
                         visibility = $9, owner_id = $10, team_id = $11, version = $12, updated_ms = $13
                       WHERE org_id = $1 AND id = $2 AND version = $12 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.org_id)
        .bind(r.id)
        .bind(&r.name)
        .bind(&r.domain)
        .bind(&r.industry)
        .bind(&r.size)
        .bind(&r.address)
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
    const SQL: &str = "DELETE FROM companies WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

fn visible_by_id(viewer: &Viewer, id: Uuid) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM companies r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND r.id = ").bind(id).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql
}

pub async fn get_visible(db: &Db, viewer: &Viewer, id: Uuid) -> Result<Option<CompanyRow>> {
    visible_by_id(viewer, id).fetch_optional(db).await
}

pub async fn get_visible_tx(tx: &mut Tx, viewer: &Viewer, id: Uuid) -> Result<Option<CompanyRow>> {
    Ok(visible_by_id(viewer, id).fetch_all_tx(tx).await?.pop())
}

pub async fn list(
    db: &Db,
    viewer: &Viewer,
    filter: &ListFilter,
    sort: SortKey,
    page: &PageRequest,
) -> Result<Page<CompanyRow>> {
    let rows: Vec<CompanyRow> =
        list_query(COLUMNS, "companies", "company", viewer, filter, sort, page).fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |r| Cursor { key: sort.cursor_key(r.updated_ms, r.created_ms), id: r.id }))
}

/// A page in an order of up to three keys ([`crate::list_sort`]).
pub async fn list_sorted(
    db: &Db,
    viewer: &Viewer,
    filter: &ListFilter,
    sort: &crate::list_sort::Sort,
    page: &crate::list_sort::SortedPageRequest,
) -> Result<crate::list_sort::SortedPage<CompanyRow>> {
    crate::list_sort::list(db, COLUMNS, "companies", viewer, filter, sort, page, |r: &CompanyRow| r.id).await
}

/// Visible companies with this domain (duplicate check, import matching).
pub async fn find_by_domain(db: &Db, viewer: &Viewer, domain: &str) -> Result<Vec<CompanyRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM companies r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND r.domain = ").bind(domain).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" ORDER BY r.created_ms, r.id LIMIT 20");
    sql.fetch_all(db).await
}

/// Visible companies with exactly this name, case-insensitively (import).
pub async fn find_by_name(db: &Db, viewer: &Viewer, name: &str) -> Result<Vec<CompanyRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM companies r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND lower(r.name) = ").bind(name.to_lowercase()).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" ORDER BY r.created_ms, r.id LIMIT 20");
    sql.fetch_all(db).await
}

/// Visible companies whose name equals one of `names` case-insensitively
/// (the engine's `lower`, which the `companies_name` index covers), oldest
/// first; the caller pairs them with its names.
pub async fn find_by_names_tx(tx: &mut Tx, viewer: &Viewer, names: &[String]) -> Result<Vec<CompanyRow>> {
    let mut out = Vec::new();
    for chunk in names.chunks(500) {
        out.extend(by_names_sql(viewer, chunk).fetch_all_tx::<CompanyRow>(tx).await?);
    }
    out.sort_by_key(|c| (c.created_ms, c.id));
    Ok(out)
}

/// [`find_by_names_tx`]'s statement for up to 500 names (public so
/// benchmarks can show its plan).
pub fn by_names_sql(viewer: &Viewer, names: &[String]) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM companies r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND lower(r.name) IN (");
    // Padded by repeating the last name: a few statement texts, prepared once.
    for (i, name) in crate::sql::padded(names, 500).iter().enumerate() {
        sql.push(if i == 0 { "lower(" } else { ", lower(" }).bind(name.as_str()).push(")");
    }
    sql.push(") AND ");
    push_filter(&mut sql, "r", viewer);
    sql
}

/// Insert many new companies (imports).
pub async fn insert_many_rows(tx: &mut Tx, rows: &[CompanyRow]) -> Result<u64> {
    const HEAD: &str = "INSERT INTO companies (id, org_id, name, domain, industry, size, address, custom, visibility,
                          owner_id, team_id, created_by, version, created_ms, updated_ms) VALUES";
    let args = rows
        .iter()
        .map(|r| {
            vec![
                Arg::from(r.id),
                r.org_id.into(),
                r.name.clone().into(),
                r.domain.clone().into(),
                r.industry.clone().into(),
                r.size.clone().into(),
                r.address.clone().into(),
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

/// A company's name whatever its visibility: only for indexing a contact
/// that works there (the name goes into the contact's search terms), never
/// shown to anyone.
pub async fn name_of(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<String>> {
    const SQL: &str = "SELECT name FROM companies WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, String>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}
