//! Deals: a value in minor units and a currency, moving through the stages
//! of a pipeline, linked to contacts and a company, won or lost with a
//! reason. Every stage change is recorded with its time and actor and shows
//! on the deal's timeline. The board (kanban) and the table read the same
//! rows through the same visibility filter.

use super::contacts::double_option;
use super::timeline::{self, Entry};
use super::{apply_custom, check_placement, need, placement_of, resolve_tags, search_terms, PlacementInput};
use crate::audit::{self, AuditEvent, Origin};
use crate::error::Validator;
use crate::{App, AppError, Result};
use kith_domain::crm::{check_currency, check_date, RecordType};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::visibility::{Viewer, Visibility};
use kith_domain::{new_id, Context};
use kith_store::deals::{self as rows, DealRow, StageChangeRow};
use kith_store::list_sort::{Sort, SortedPage, SortedPageRequest};
use kith_store::records::{self, ListFilter, SearchDoc, SortKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub const MAX_CONTACTS_PER_DEAL: usize = 100;
/// Cards per column on the board; the column's count and total cover all.
pub const BOARD_COLUMN_LIMIT: i64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DealStatus {
    Open,
    Won,
    Lost,
}

impl DealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DealStatus::Open => "open",
            DealStatus::Won => "won",
            DealStatus::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<DealStatus> {
        Some(match s {
            "open" => DealStatus::Open,
            "won" => DealStatus::Won,
            "lost" => DealStatus::Lost,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealInput {
    #[serde(default)]
    pub title: Option<String>,
    /// Minor units (cents).
    #[serde(default)]
    pub value_minor: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// Defaults to the workspace's first pipeline.
    #[serde(default)]
    pub pipeline_id: Option<Uuid>,
    /// Defaults to the pipeline's first stage.
    #[serde(default)]
    pub stage_id: Option<Uuid>,
    /// `YYYY-MM-DD`; empty clears.
    #[serde(default)]
    pub expected_close: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub company_id: Option<Option<Uuid>>,
    /// Replaces the linked contacts.
    #[serde(default)]
    pub contact_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub status: Option<DealStatus>,
    #[serde(default)]
    pub lost_reason: Option<String>,
    #[serde(default)]
    pub visibility: Option<Visibility>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Deal {
    pub id: Uuid,
    pub title: String,
    pub value_minor: i64,
    pub currency: String,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub expected_close: Option<String>,
    pub company_id: Option<Uuid>,
    pub contact_ids: Vec<Uuid>,
    pub status: DealStatus,
    pub lost_reason: Option<String>,
    pub closed_at_ms: Option<i64>,
    pub visibility: Visibility,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub created_by: Uuid,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom: Map<String, Value>,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Deal {
    pub fn from_row(r: DealRow, contact_ids: Vec<Uuid>, tags: Vec<String>) -> Deal {
        Deal {
            id: r.id,
            title: r.title,
            value_minor: r.value_minor,
            currency: r.currency,
            pipeline_id: r.pipeline_id,
            stage_id: r.stage_id,
            expected_close: r.expected_close,
            company_id: r.company_id,
            contact_ids,
            status: DealStatus::parse(&r.status).unwrap_or(DealStatus::Open),
            lost_reason: r.lost_reason,
            closed_at_ms: r.closed_ms,
            visibility: Visibility::parse(&r.visibility).unwrap_or(Visibility::Owner),
            owner_id: r.owner_id,
            team_id: r.team_id,
            created_by: r.created_by,
            tags,
            custom: serde_json::from_str(&r.custom).unwrap_or_default(),
            version: r.version,
            created_at_ms: r.created_ms,
            updated_at_ms: r.updated_ms,
        }
    }
}

pub fn search_doc(row: &DealRow) -> SearchDoc {
    SearchDoc {
        org_id: row.org_id,
        record_type: "deal".into(),
        record_id: row.id,
        parent: None,
        title: row.title.clone(),
        terms: search_terms([row.title.as_str()]),
        placement: placement_of(&row.visibility, row.owner_id, row.team_id, row.created_by),
        updated_ms: row.updated_ms,
    }
}

/// Check the plain fields of `input` onto `row`.
fn apply_input(row: &mut DealRow, input: &DealInput) -> Result<()> {
    let mut v = Validator::default();
    if let Some(t) = &input.title {
        if let Some(t) = v.check("title", kith_domain::validate::clean_name(t, 200)) {
            row.title = t;
        }
    }
    if let Some(value) = input.value_minor {
        // Ten trillion major units is beyond any deal; it also keeps sums far from i64 overflow.
        if v.check(
            "value_minor",
            if (0..=1_000_000_000_000_000).contains(&value) { Ok(()) } else { Err("must be 0 or more (minor units)") },
        )
        .is_some()
        {
            row.value_minor = value;
        }
    }
    if let Some(c) = &input.currency {
        if let Some(c) = v.check("currency", check_currency(c)) {
            row.currency = c;
        }
    }
    if let Some(d) = &input.expected_close {
        let d = d.trim();
        if d.is_empty() {
            row.expected_close = None;
        } else if v.check("expected_close", check_date(d)).is_some() {
            row.expected_close = Some(d.to_string());
        }
    }
    if let Some(r) = &input.lost_reason {
        let r = r.trim();
        if r.chars().count() > 500 || r.chars().any(|c| c.is_control() && c != '\n') {
            v.check::<()>("lost_reason", Err("must be at most 500 characters of text"));
        } else {
            row.lost_reason = (!r.is_empty()).then(|| r.to_string());
        }
    }
    v.finish()?;
    if row.title.is_empty() {
        return Err(AppError::field("title", "must not be empty"));
    }
    Ok(())
}

/// Resolve pipeline and stage: the stage must belong to the pipeline.
async fn place_in_pipeline(app: &App, ctx: &Context, row: &mut DealRow, input: &DealInput, new: bool) -> Result<()> {
    if input.pipeline_id.is_none() && input.stage_id.is_none() && !new {
        return Ok(());
    }
    let pipeline = match (input.pipeline_id, input.stage_id) {
        (Some(p), _) => super::pipelines::get(app, ctx, p)
            .await
            .map_err(|_| AppError::field("pipeline_id", "is not a pipeline of this workspace"))?,
        (None, Some(s)) => {
            let stage = rows::get_stage(app.db(), ctx.org_id, s)
                .await?
                .ok_or_else(|| AppError::field("stage_id", "is not a stage of this workspace"))?;
            super::pipelines::get(app, ctx, stage.pipeline_id).await?
        }
        (None, None) => super::pipelines::default_pipeline(app, ctx).await?,
    };
    let stage = match input.stage_id {
        Some(s) => pipeline
            .stages
            .iter()
            .find(|st| st.id == s)
            .ok_or_else(|| AppError::field("stage_id", "is not a stage of that pipeline"))?,
        None if !new && row.pipeline_id == pipeline.id => return Ok(()),
        None => pipeline.stages.first().ok_or_else(|| AppError::field("pipeline_id", "has no stages"))?,
    };
    row.pipeline_id = pipeline.id;
    row.stage_id = stage.id;
    Ok(())
}

/// Every contact id must be a contact the actor can see.
async fn check_contacts(app: &App, viewer: &Viewer, ids: &[Uuid]) -> Result<Vec<Uuid>> {
    if ids.len() > MAX_CONTACTS_PER_DEAL {
        return Err(AppError::field("contact_ids", format!("at most {MAX_CONTACTS_PER_DEAL} contacts")));
    }
    let mut unique: Vec<Uuid> = Vec::new();
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    let found = kith_store::contacts::get_many_visible(app.db(), viewer, &unique).await?;
    if found.len() != unique.len() {
        return Err(AppError::field("contact_ids", "lists a contact that does not exist"));
    }
    Ok(unique)
}

fn set_status(row: &mut DealRow, status: Option<DealStatus>, now: i64) {
    let Some(status) = status else { return };
    if status.as_str() == row.status {
        return;
    }
    row.status = status.as_str().into();
    row.closed_ms = (status != DealStatus::Open).then_some(now);
    if status != DealStatus::Lost {
        row.lost_reason = None;
    }
}

pub async fn create(app: &App, ctx: &Context, input: &DealInput) -> Result<Deal> {
    need(ctx, Action::WriteRecords)?;
    let viewer = Viewer::of(ctx);
    let now = now_ms();
    let placement = PlacementInput { visibility: input.visibility, owner_id: input.owner_id, team_id: input.team_id }
        .resolve(ctx, None);
    check_placement(app, ctx, &placement).await?;
    let mut row = DealRow {
        id: new_id(),
        org_id: ctx.org_id,
        title: String::new(),
        value_minor: 0,
        currency: "USD".into(),
        pipeline_id: Uuid::nil(),
        stage_id: Uuid::nil(),
        expected_close: None,
        company_id: input.company_id.flatten(),
        status: "open".into(),
        lost_reason: None,
        closed_ms: None,
        custom: "{}".into(),
        visibility: placement.visibility.as_str().into(),
        owner_id: placement.owner_id,
        team_id: placement.team_id,
        created_by: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    apply_input(&mut row, input)?;
    set_status(&mut row, input.status, now);
    place_in_pipeline(app, ctx, &mut row, input, true).await?;
    super::contacts::company_name(app, &viewer, row.company_id).await?;
    let contacts = check_contacts(app, &viewer, input.contact_ids.as_deref().unwrap_or(&[])).await?;
    let (custom, typed) = apply_custom(app, ctx.org_id, RecordType::Deal, "{}", input.custom.as_ref()).await?;
    row.custom = custom;
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    rows::set_contacts(&mut tx, ctx.org_id, row.id, &contacts).await?;
    record_stage_change(&mut tx, ctx, &row, None, now).await?;
    if let Some(names) = &input.tags {
        let ids = resolve_tags(&mut tx, ctx.org_id, names, now).await?;
        records::set_record_tags(&mut tx, ctx.org_id, "deal", row.id, &ids).await?;
    }
    for (field, values) in &typed {
        records::set_custom_values(&mut tx, ctx.org_id, *field, row.id, values).await?;
    }
    records::upsert_search_doc(&mut tx, &search_doc(&row)).await?;
    crate::webhooks::emit(
        app,
        &mut tx,
        ctx.org_id,
        "deal.created",
        row.id,
        Some(row.version),
        row.visibility == "personal",
    )
    .await?;
    tx.commit().await?;
    written(app, row).await
}

/// What was just written, even if its new placement hides it from the writer.
async fn written(app: &App, row: DealRow) -> Result<Deal> {
    let contacts = rows::contacts_of(app.db(), row.org_id, &[row.id]).await?.into_iter().map(|(_, c)| c).collect();
    let tags =
        records::tags_of(app.db(), row.org_id, "deal", &[row.id]).await?.into_iter().map(|(_, t)| t.name).collect();
    Ok(Deal::from_row(row, contacts, tags))
}

async fn record_stage_change(
    tx: &mut kith_store::Tx,
    ctx: &Context,
    row: &DealRow,
    from: Option<Uuid>,
    now: i64,
) -> Result<()> {
    let change = StageChangeRow {
        id: new_id(),
        org_id: ctx.org_id,
        deal_id: row.id,
        from_stage_id: from,
        to_stage_id: row.stage_id,
        actor_id: ctx.user_id(),
        at_ms: now,
    };
    rows::insert_stage_change(tx, &change).await?;
    let summary = serde_json::json!({"from_stage_id": from, "to_stage_id": row.stage_id});
    timeline::append(
        tx,
        Entry {
            org_id: ctx.org_id,
            record: (RecordType::Deal, row.id),
            at_ms: now,
            kind: timeline::STAGE_CHANGE,
            ref_id: change.id,
            actor_id: Some(ctx.user_id()),
            private_to: None,
            summary,
        },
    )
    .await
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Deal> {
    need(ctx, Action::ReadRecords)?;
    let row = rows::get_visible(app.db(), &Viewer::of(ctx), id).await?.ok_or(AppError::NotFound)?;
    let contacts = rows::contacts_of(app.db(), ctx.org_id, &[id]).await?.into_iter().map(|(_, c)| c).collect();
    let tags = records::tags_of(app.db(), ctx.org_id, "deal", &[id]).await?.into_iter().map(|(_, t)| t.name).collect();
    Ok(Deal::from_row(row, contacts, tags))
}

async fn hydrate(app: &App, ctx: &Context, rows_: Vec<DealRow>) -> Result<Vec<Deal>> {
    let ids: Vec<Uuid> = rows_.iter().map(|r| r.id).collect();
    let links = rows::contacts_of(app.db(), ctx.org_id, &ids).await?;
    let tags = records::tags_of(app.db(), ctx.org_id, "deal", &ids).await?;
    Ok(rows_
        .into_iter()
        .map(|r| {
            let contacts = links.iter().filter(|(d, _)| *d == r.id).map(|(_, c)| *c).collect();
            let mine = tags.iter().filter(|(id, _)| *id == r.id).map(|(_, t)| t.name.clone()).collect();
            Deal::from_row(r, contacts, mine)
        })
        .collect())
}

pub async fn list(
    app: &App,
    ctx: &Context,
    filter: &ListFilter,
    sort: SortKey,
    page: &PageRequest,
) -> Result<Page<Deal>> {
    need(ctx, Action::ReadRecords)?;
    let page = rows::list(app.db(), &Viewer::of(ctx), filter, sort, page).await?;
    let next = page.next;
    Ok(Page { items: hydrate(app, ctx, page.items).await?, next })
}

/// A page of deals in an order of up to three keys (`-value,title`).
pub async fn list_sorted(
    app: &App,
    ctx: &Context,
    filter: &ListFilter,
    sort: &Sort,
    page: &SortedPageRequest,
) -> Result<SortedPage<Deal>> {
    need(ctx, Action::ReadRecords)?;
    let page = rows::list_sorted(app.db(), &Viewer::of(ctx), filter, sort, page).await?;
    Ok(SortedPage { items: hydrate(app, ctx, page.items).await?, next: page.next })
}

/// Deals linked to a contact (for its page), most recently changed first.
pub async fn of_contact(app: &App, ctx: &Context, contact_id: Uuid) -> Result<Vec<Deal>> {
    need(ctx, Action::ReadRecords)?;
    let found = rows::deals_of_contact(app.db(), &Viewer::of(ctx), contact_id, 50).await?;
    hydrate(app, ctx, found).await
}

/// Change a deal; a new `stage_id` is a move (recorded, on the timeline).
pub async fn update(app: &App, ctx: &Context, id: Uuid, input: &DealInput, if_version: Option<i64>) -> Result<Deal> {
    need(ctx, Action::WriteRecords)?;
    let viewer = Viewer::of(ctx);
    let now = now_ms();
    let current = rows::get_visible(app.db(), &viewer, id).await?.ok_or(AppError::NotFound)?;
    if if_version.is_some_and(|v| v != current.version) {
        return Err(AppError::StaleVersion);
    }
    let old = placement_of(&current.visibility, current.owner_id, current.team_id, current.created_by);
    let placement = PlacementInput { visibility: input.visibility, owner_id: input.owner_id, team_id: input.team_id }
        .resolve(ctx, Some(old));
    if placement != old {
        super::may_replace(ctx, &old)?;
        check_placement(app, ctx, &placement).await?;
    }
    let mut row = current.clone();
    apply_input(&mut row, input)?;
    set_status(&mut row, input.status, now);
    place_in_pipeline(app, ctx, &mut row, input, false).await?;
    if let Some(company) = input.company_id.filter(|c| *c != current.company_id) {
        row.company_id = company;
        super::contacts::company_name(app, &viewer, row.company_id).await?;
    }
    let contacts = match &input.contact_ids {
        Some(ids) => Some(check_contacts(app, &viewer, ids).await?),
        None => None,
    };
    let (custom, typed) =
        apply_custom(app, ctx.org_id, RecordType::Deal, &current.custom, input.custom.as_ref()).await?;
    row.custom = custom;
    row.visibility = placement.visibility.as_str().into();
    row.owner_id = placement.owner_id;
    row.team_id = placement.team_id;
    row.version = current.version + 1;
    row.updated_ms = now.max(current.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    if !rows::update(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    if row.stage_id != current.stage_id {
        record_stage_change(&mut tx, ctx, &row, Some(current.stage_id), row.updated_ms).await?;
    }
    if let Some(contacts) = contacts {
        rows::set_contacts(&mut tx, ctx.org_id, id, &contacts).await?;
    }
    if let Some(names) = &input.tags {
        let ids = resolve_tags(&mut tx, ctx.org_id, names, now).await?;
        records::set_record_tags(&mut tx, ctx.org_id, "deal", id, &ids).await?;
    }
    for (field, values) in &typed {
        records::set_custom_values(&mut tx, ctx.org_id, *field, id, values).await?;
    }
    let doc = search_doc(&row);
    records::upsert_search_doc(&mut tx, &doc).await?;
    records::move_child_docs(&mut tx, ctx.org_id, id, &doc.placement, &doc.title).await?;
    crate::webhooks::emit(
        app,
        &mut tx,
        ctx.org_id,
        "deal.updated",
        row.id,
        Some(row.version),
        row.visibility == "personal",
    )
    .await?;
    tx.commit().await?;
    written(app, row).await
}

/// Link one more contact to a deal. The contact must be one the actor can
/// see; links to contacts the actor cannot see stay as they are.
pub async fn link_contact(
    app: &App,
    ctx: &Context,
    id: Uuid,
    contact_id: Uuid,
    if_version: Option<i64>,
) -> Result<Deal> {
    change_contacts(app, ctx, id, contact_id, true, if_version).await
}

/// Unlink a contact from a deal (one the actor can see).
pub async fn unlink_contact(
    app: &App,
    ctx: &Context,
    id: Uuid,
    contact_id: Uuid,
    if_version: Option<i64>,
) -> Result<Deal> {
    change_contacts(app, ctx, id, contact_id, false, if_version).await
}

async fn change_contacts(
    app: &App,
    ctx: &Context,
    id: Uuid,
    contact_id: Uuid,
    link: bool,
    if_version: Option<i64>,
) -> Result<Deal> {
    need(ctx, Action::WriteRecords)?;
    let viewer = Viewer::of(ctx);
    let current = rows::get_visible(app.db(), &viewer, id).await?.ok_or(AppError::NotFound)?;
    if if_version.is_some_and(|v| v != current.version) {
        return Err(AppError::StaleVersion);
    }
    if kith_store::contacts::get_visible(app.db(), &viewer, contact_id).await?.is_none() {
        return Err(AppError::field("contact_id", "is not a contact you can see"));
    }
    let mut linked: Vec<Uuid> =
        rows::contacts_of(app.db(), ctx.org_id, &[id]).await?.into_iter().map(|(_, c)| c).collect();
    let before = linked.len();
    if link {
        if !linked.contains(&contact_id) {
            linked.push(contact_id);
        }
        if linked.len() > MAX_CONTACTS_PER_DEAL {
            return Err(AppError::field("contact_id", format!("a deal has at most {MAX_CONTACTS_PER_DEAL} contacts")));
        }
    } else {
        linked.retain(|c| *c != contact_id);
    }
    if linked.len() == before {
        // Already linked (or not linked): nothing to write.
        return written(app, current).await;
    }
    let mut row = current.clone();
    row.version = current.version + 1;
    row.updated_ms = now_ms().max(current.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    // The version check makes two concurrent changes of the links serialise.
    if !rows::update(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    rows::set_contacts(&mut tx, ctx.org_id, id, &linked).await?;
    crate::webhooks::emit(
        app,
        &mut tx,
        ctx.org_id,
        "deal.updated",
        row.id,
        Some(row.version),
        row.visibility == "personal",
    )
    .await?;
    tx.commit().await?;
    written(app, row).await
}

pub async fn delete(app: &App, ctx: &Context, id: Uuid, origin: &Origin) -> Result<()> {
    need(ctx, Action::WriteRecords)?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    let gone = rows::get_visible_tx(&mut tx, &Viewer::of(ctx), id).await?.ok_or(AppError::NotFound)?;
    records::delete_record_satellites(&mut tx, ctx.org_id, "deal", id).await?;
    rows::delete(&mut tx, ctx.org_id, id).await?;
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), AuditEvent::new("deal.deleted", "deal", id), origin, now)
        .await?;
    crate::webhooks::emit(app, &mut tx, ctx.org_id, "deal.deleted", id, None, gone.visibility == "personal").await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    pub value_minor: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BoardColumn {
    pub stage: super::pipelines::Stage,
    /// Open deals in this stage the viewer may see (all of them, not just the cards below).
    pub count: i64,
    pub totals: Vec<CurrencyTotal>,
    /// The most recently changed cards, at most [`BOARD_COLUMN_LIMIT`].
    pub deals: Vec<Deal>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Board {
    pub pipeline: super::pipelines::Pipeline,
    pub columns: Vec<BoardColumn>,
}

/// The kanban board of one pipeline (default: the first).
pub async fn board(app: &App, ctx: &Context, pipeline_id: Option<Uuid>) -> Result<Board> {
    need(ctx, Action::ReadRecords)?;
    let pipeline = match pipeline_id {
        Some(id) => super::pipelines::get(app, ctx, id).await?,
        None => super::pipelines::default_pipeline(app, ctx).await?,
    };
    let viewer = Viewer::of(ctx);
    let totals = rows::board_totals(app.db(), &viewer, pipeline.id).await?;
    let mut cards = Vec::new();
    let mut per_stage = Vec::with_capacity(pipeline.stages.len());
    for stage in &pipeline.stages {
        let column = rows::board_column(app.db(), &viewer, pipeline.id, stage.id, BOARD_COLUMN_LIMIT).await?;
        per_stage.push(column.len());
        cards.extend(column);
    }
    // Links and tags of every card in two reads, not two per column.
    let mut cards = hydrate(app, ctx, cards).await?.into_iter();
    let mut columns = Vec::with_capacity(pipeline.stages.len());
    for (stage, n) in pipeline.stages.iter().zip(per_stage) {
        let mine: Vec<_> = totals.iter().filter(|t| t.stage_id == stage.id).collect();
        columns.push(BoardColumn {
            stage: stage.clone(),
            count: mine.iter().map(|t| t.deals).sum(),
            totals: mine
                .iter()
                .map(|t| CurrencyTotal { currency: t.currency.clone(), value_minor: t.value_minor })
                .collect(),
            deals: cards.by_ref().take(n).collect(),
        });
    }
    Ok(Board { pipeline, columns })
}
