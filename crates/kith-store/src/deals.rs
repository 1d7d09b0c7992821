//! Pipelines with ordered stages, deals, their linked contacts and the log of
//! stage changes.

use crate::records::{list_query, ListFilter, SortKey};
use crate::sql::Sql;
use crate::visibility::push_filter;
use crate::{Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use kith_domain::visibility::Viewer;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PipelineRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub position: i64,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StageRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub pipeline_id: Uuid,
    pub name: String,
    pub position: i64,
    /// Win probability in percent.
    pub probability: i64,
    pub created_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DealRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub title: String,
    pub value_minor: i64,
    pub currency: String,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub expected_close: Option<String>,
    pub company_id: Option<Uuid>,
    /// `open`, `won` or `lost`.
    pub status: String,
    pub lost_reason: Option<String>,
    pub closed_ms: Option<i64>,
    pub custom: String,
    pub visibility: String,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub created_by: Uuid,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StageChangeRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub deal_id: Uuid,
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    pub actor_id: Uuid,
    pub at_ms: i64,
}

// ---- pipelines ----------------------------------------------------------------

pub async fn insert_pipeline(tx: &mut Tx, p: &PipelineRow) -> Result<()> {
    const SQL: &str = "INSERT INTO pipelines (id, org_id, name, position, version, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(p.id)
        .bind(p.org_id)
        .bind(&p.name)
        .bind(p.position)
        .bind(p.version)
        .bind(p.created_ms)
        .bind(p.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn update_pipeline(tx: &mut Tx, p: &PipelineRow) -> Result<bool> {
    const SQL: &str = "UPDATE pipelines SET name = $3, position = $4, version = $5, updated_ms = $6
                       WHERE org_id = $1 AND id = $2 AND version = $5 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(p.org_id)
        .bind(p.id)
        .bind(&p.name)
        .bind(p.position)
        .bind(p.version)
        .bind(p.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete_pipeline(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM pipelines WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn get_pipeline(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<PipelineRow>> {
    const SQL: &str = "SELECT id, org_id, name, position, version, created_ms, updated_ms FROM pipelines
                       WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, PipelineRow>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Every pipeline of a workspace (tens at most; bounded).
pub async fn list_pipelines(db: &Db, org_id: Uuid) -> Result<Vec<PipelineRow>> {
    const SQL: &str = "SELECT id, org_id, name, position, version, created_ms, updated_ms FROM pipelines
                       WHERE org_id = $1 ORDER BY position, created_ms LIMIT 200";
    Ok(on_read!(db, |p| sqlx::query_as::<_, PipelineRow>(SQL).bind(org_id).fetch_all(p).await?))
}

pub async fn count_pipelines(tx: &mut Tx, org_id: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM pipelines WHERE org_id = $1";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).fetch_one(c).await?))
}

pub async fn insert_stage(tx: &mut Tx, s: &StageRow) -> Result<()> {
    const SQL: &str = "INSERT INTO pipeline_stages (id, org_id, pipeline_id, name, position, probability, created_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(s.id)
        .bind(s.org_id)
        .bind(s.pipeline_id)
        .bind(&s.name)
        .bind(s.position)
        .bind(s.probability)
        .bind(s.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn update_stage(tx: &mut Tx, s: &StageRow) -> Result<bool> {
    const SQL: &str = "UPDATE pipeline_stages SET name = $3, position = $4, probability = $5
                       WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(s.org_id)
        .bind(s.id)
        .bind(&s.name)
        .bind(s.position)
        .bind(s.probability)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn delete_stage(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    const SQL: &str = "DELETE FROM pipeline_stages WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// Stages of some pipelines, in board order.
pub async fn stages_of(db: &Db, org_id: Uuid, pipeline_ids: &[Uuid]) -> Result<Vec<StageRow>> {
    if pipeline_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(
        "SELECT id, org_id, pipeline_id, name, position, probability, created_ms FROM pipeline_stages WHERE org_id = ",
    );
    sql.bind(org_id)
        .push(" AND pipeline_id IN (")
        .bind_list(pipeline_ids.iter().copied())
        .push(") ORDER BY position, created_ms");
    sql.fetch_all(db).await
}

pub async fn get_stage(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<StageRow>> {
    const SQL: &str = "SELECT id, org_id, pipeline_id, name, position, probability, created_ms FROM pipeline_stages
                       WHERE org_id = $1 AND id = $2";
    Ok(on_read!(db, |p| sqlx::query_as::<_, StageRow>(SQL).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Whether any deal (visible or not) sits in this stage or pipeline.
pub async fn stage_in_use(tx: &mut Tx, org_id: Uuid, stage_id: Uuid) -> Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM deals WHERE org_id = $1 AND stage_id = $2 LIMIT 1) x";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).bind(stage_id).fetch_one(c).await?) > 0)
}

pub async fn pipeline_in_use(tx: &mut Tx, org_id: Uuid, pipeline_id: Uuid) -> Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM deals WHERE org_id = $1 AND pipeline_id = $2 LIMIT 1) x";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).bind(pipeline_id).fetch_one(c).await?) > 0)
}

// ---- deals --------------------------------------------------------------------

const COLUMNS: &str = "r.id, r.org_id, r.title, r.value_minor, r.currency, r.pipeline_id, r.stage_id, r.expected_close,
    r.company_id, r.status, r.lost_reason, r.closed_ms, r.custom, r.visibility, r.owner_id, r.team_id, r.created_by,
    r.version, r.created_ms, r.updated_ms";

pub async fn insert(tx: &mut Tx, r: &DealRow) -> Result<()> {
    const SQL: &str = "INSERT INTO deals (id, org_id, title, value_minor, currency, pipeline_id, stage_id, expected_close,
                         company_id, status, lost_reason, closed_ms, custom, visibility, owner_id, team_id, created_by,
                         version, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(&r.title)
        .bind(r.value_minor)
        .bind(&r.currency)
        .bind(r.pipeline_id)
        .bind(r.stage_id)
        .bind(&r.expected_close)
        .bind(r.company_id)
        .bind(&r.status)
        .bind(&r.lost_reason)
        .bind(r.closed_ms)
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

pub async fn update(tx: &mut Tx, r: &DealRow) -> Result<bool> {
    const SQL: &str = "UPDATE deals SET title = $3, value_minor = $4, currency = $5, pipeline_id = $6, stage_id = $7,
                         expected_close = $8, company_id = $9, status = $10, lost_reason = $11, closed_ms = $12,
                         custom = $13, visibility = $14, owner_id = $15, team_id = $16, version = $17, updated_ms = $18
                       WHERE org_id = $1 AND id = $2 AND version = $17 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.org_id)
        .bind(r.id)
        .bind(&r.title)
        .bind(r.value_minor)
        .bind(&r.currency)
        .bind(r.pipeline_id)
        .bind(r.stage_id)
        .bind(&r.expected_close)
        .bind(r.company_id)
        .bind(&r.status)
        .bind(&r.lost_reason)
        .bind(r.closed_ms)
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
    const SQL: &str = "DELETE FROM deals WHERE org_id = $1 AND id = $2";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(id).execute(c).await?.rows_affected());
    Ok(n == 1)
}

fn visible_by_id(viewer: &Viewer, id: Uuid) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM deals r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND r.id = ").bind(id).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql
}

pub async fn get_visible(db: &Db, viewer: &Viewer, id: Uuid) -> Result<Option<DealRow>> {
    visible_by_id(viewer, id).fetch_optional(db).await
}

pub async fn get_visible_tx(tx: &mut Tx, viewer: &Viewer, id: Uuid) -> Result<Option<DealRow>> {
    Ok(visible_by_id(viewer, id).fetch_all_tx(tx).await?.pop())
}

pub async fn list(
    db: &Db,
    viewer: &Viewer,
    filter: &ListFilter,
    sort: SortKey,
    page: &PageRequest,
) -> Result<Page<DealRow>> {
    let rows: Vec<DealRow> = list_query(COLUMNS, "deals", "deal", viewer, filter, sort, page).fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |r| Cursor { key: sort.cursor_key(r.updated_ms, r.created_ms), id: r.id }))
}

/// A page in an order of up to three keys ([`crate::list_sort`]).
pub async fn list_sorted(
    db: &Db,
    viewer: &Viewer,
    filter: &ListFilter,
    sort: &crate::list_sort::Sort,
    page: &crate::list_sort::SortedPageRequest,
) -> Result<crate::list_sort::SortedPage<DealRow>> {
    crate::list_sort::list(db, COLUMNS, "deals", viewer, filter, sort, page, |r: &DealRow| r.id).await
}

/// Open deals of one stage for the board, most recently changed first.
pub async fn board_column(
    db: &Db,
    viewer: &Viewer,
    pipeline_id: Uuid,
    stage_id: Uuid,
    limit: i64,
) -> Result<Vec<DealRow>> {
    board_column_sql(viewer, pipeline_id, stage_id, limit).fetch_all(db).await
}

/// [`board_column`]'s statement (public so benchmarks can show its plan).
/// The pipeline is named so the `deals_board` index serves it.
pub fn board_column_sql(viewer: &Viewer, pipeline_id: Uuid, stage_id: Uuid, limit: i64) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM deals r WHERE r.org_id = "));
    sql.bind(viewer.org_id).push(" AND r.pipeline_id = ").bind(pipeline_id);
    sql.push(" AND r.stage_id = ").bind(stage_id).push(" AND r.status = 'open' AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" ORDER BY r.updated_ms DESC, r.id DESC LIMIT ").bind(limit);
    sql
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StageTotals {
    pub stage_id: Uuid,
    pub currency: String,
    pub deals: i64,
    pub value_minor: i64,
}

/// Count and value of the visible open deals per stage and currency.
pub async fn board_totals(db: &Db, viewer: &Viewer, pipeline_id: Uuid) -> Result<Vec<StageTotals>> {
    let mut sql = Sql::new(
        "SELECT r.stage_id, r.currency, COUNT(*) AS deals, CAST(COALESCE(SUM(r.value_minor), 0) AS BIGINT) AS value_minor
         FROM deals r WHERE r.org_id = ",
    );
    sql.bind(viewer.org_id).push(" AND r.pipeline_id = ").bind(pipeline_id).push(" AND r.status = 'open' AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" GROUP BY r.stage_id, r.currency");
    sql.fetch_all(db).await
}

pub async fn set_contacts(tx: &mut Tx, org_id: Uuid, deal_id: Uuid, contact_ids: &[Uuid]) -> Result<()> {
    const DEL: &str = "DELETE FROM deal_contacts WHERE deal_id = $1";
    const INS: &str =
        "INSERT INTO deal_contacts (org_id, deal_id, contact_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    on_tx!(tx, |c| sqlx::query(DEL).bind(deal_id).execute(c).await?.rows_affected());
    for id in contact_ids {
        on_tx!(tx, |c| sqlx::query(INS).bind(org_id).bind(deal_id).bind(*id).execute(c).await?.rows_affected());
    }
    Ok(())
}

/// Contact ids linked to some deals.
pub async fn contacts_of(db: &Db, org_id: Uuid, deal_ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
    if deal_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new("SELECT deal_id, contact_id FROM deal_contacts WHERE org_id = ");
    sql.bind(org_id).push(" AND deal_id IN (").bind_list(deal_ids.iter().copied()).push(")");
    sql.fetch_all(db).await
}

/// Visible deals linked to one contact (for the contact page).
pub async fn deals_of_contact(db: &Db, viewer: &Viewer, contact_id: Uuid, limit: i64) -> Result<Vec<DealRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM deals r JOIN deal_contacts dc ON dc.deal_id = r.id WHERE r.org_id = "
    ));
    sql.bind(viewer.org_id).push(" AND dc.contact_id = ").bind(contact_id).push(" AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" ORDER BY r.updated_ms DESC, r.id DESC LIMIT ").bind(limit);
    sql.fetch_all(db).await
}

pub async fn insert_stage_change(tx: &mut Tx, s: &StageChangeRow) -> Result<()> {
    const SQL: &str = "INSERT INTO stage_changes (id, org_id, deal_id, from_stage_id, to_stage_id, actor_id, at_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(s.id)
        .bind(s.org_id)
        .bind(s.deal_id)
        .bind(s.from_stage_id)
        .bind(s.to_stage_id)
        .bind(s.actor_id)
        .bind(s.at_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}
