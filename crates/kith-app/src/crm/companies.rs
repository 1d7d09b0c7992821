//! Companies: organisations contacts work for and deals are made with.

use super::contacts::{double_option, Address};
use super::{apply_custom, check_placement, need, placement_of, resolve_tags, search_terms, PlacementInput};
use crate::audit::{self, AuditEvent, Origin};
use crate::error::Validator;
use crate::{App, AppError, Result};
use kith_domain::crm::RecordType;
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::visibility::{Viewer, Visibility};
use kith_domain::{new_id, Context};
use kith_store::companies::{self as rows, CompanyRow};
use kith_store::list_sort::{Sort, SortedPage, SortedPageRequest};
use kith_store::records::{self, ListFilter, SearchDoc, SortKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    #[serde(default)]
    pub name: Option<String>,
    /// A host name (`example.com`) or a URL whose host is taken.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    /// Head-count band, e.g. `11-50`.
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
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
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub size: Option<String>,
    pub address: Address,
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

impl Company {
    pub fn from_row(r: CompanyRow, tags: Vec<String>) -> Company {
        Company {
            id: r.id,
            name: r.name,
            domain: r.domain,
            industry: r.industry,
            size: r.size,
            address: serde_json::from_str(&r.address).unwrap_or_default(),
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

/// `https://www.Example.com/about` → `example.com`.
pub fn normalize_domain(raw: &str) -> Option<String> {
    let s = raw.trim().to_ascii_lowercase();
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(&s);
    let host = s.split(['/', '?', '#']).next()?.split(':').next()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    let ok = host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
        });
    ok.then(|| host.to_string())
}

fn apply_input(row: &mut CompanyRow, input: &CompanyInput) -> Result<()> {
    let mut v = Validator::default();
    if let Some(name) = &input.name {
        if let Some(n) = v.check("name", kith_domain::validate::clean_name(name, 200)) {
            row.name = n;
        }
    }
    if let Some(d) = &input.domain {
        if d.trim().is_empty() {
            row.domain = None;
        } else if let Some(d) = v.check("domain", normalize_domain(d).ok_or("must be a domain such as example.com")) {
            row.domain = Some(d);
        }
    }
    for (field, value, slot) in [("industry", &input.industry, &mut row.industry), ("size", &input.size, &mut row.size)]
    {
        if let Some(s) = value {
            let t = s.trim();
            if t.chars().count() > 100 || t.chars().any(char::is_control) {
                v.check::<()>(field, Err("must be at most 100 characters of text"));
            } else {
                *slot = (!t.is_empty()).then(|| t.to_string());
            }
        }
    }
    if let Some(a) = &input.address {
        let parts = [&a.label, &a.street, &a.city, &a.region, &a.postal_code, &a.country];
        if parts
            .iter()
            .any(|p| p.as_deref().is_some_and(|s| s.chars().count() > 200 || s.chars().any(char::is_control)))
        {
            v.check::<()>("address", Err("each part must be at most 200 characters of text"));
        } else {
            row.address = serde_json::to_string(a).expect("json");
        }
    }
    v.finish()?;
    if row.name.is_empty() {
        return Err(AppError::field("name", "must not be empty"));
    }
    Ok(())
}

pub fn search_doc(row: &CompanyRow) -> SearchDoc {
    let mut parts: Vec<&str> = vec![&row.name];
    parts.extend(row.domain.as_deref());
    parts.extend(row.industry.as_deref());
    SearchDoc {
        org_id: row.org_id,
        record_type: "company".into(),
        record_id: row.id,
        parent: None,
        title: row.name.clone(),
        terms: search_terms(parts),
        placement: placement_of(&row.visibility, row.owner_id, row.team_id, row.created_by),
        updated_ms: row.updated_ms,
    }
}

pub async fn create(app: &App, ctx: &Context, input: &CompanyInput) -> Result<Company> {
    need(ctx, Action::WriteRecords)?;
    let now = now_ms();
    let placement = PlacementInput { visibility: input.visibility, owner_id: input.owner_id, team_id: input.team_id }
        .resolve(ctx, None);
    check_placement(app, ctx, &placement).await?;
    let mut row = CompanyRow {
        id: new_id(),
        org_id: ctx.org_id,
        name: String::new(),
        domain: None,
        industry: None,
        size: None,
        address: "{}".into(),
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
    let (custom, typed) = apply_custom(app, ctx.org_id, RecordType::Company, "{}", input.custom.as_ref()).await?;
    row.custom = custom;
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    if let Some(names) = &input.tags {
        let ids = resolve_tags(&mut tx, ctx.org_id, names, now).await?;
        records::set_record_tags(&mut tx, ctx.org_id, "company", row.id, &ids).await?;
    }
    for (field, values) in &typed {
        records::set_custom_values(&mut tx, ctx.org_id, *field, row.id, values).await?;
    }
    records::upsert_search_doc(&mut tx, &search_doc(&row)).await?;
    crate::webhooks::emit(
        app,
        &mut tx,
        ctx.org_id,
        "company.created",
        row.id,
        Some(row.version),
        row.visibility == "personal",
    )
    .await?;
    tx.commit().await?;
    written(app, row).await
}

/// What was just written, even if its new placement hides it from the writer.
async fn written(app: &App, row: CompanyRow) -> Result<Company> {
    let tags =
        records::tags_of(app.db(), row.org_id, "company", &[row.id]).await?.into_iter().map(|(_, t)| t.name).collect();
    Ok(Company::from_row(row, tags))
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Company> {
    need(ctx, Action::ReadRecords)?;
    let row = rows::get_visible(app.db(), &Viewer::of(ctx), id).await?.ok_or(AppError::NotFound)?;
    let tags =
        records::tags_of(app.db(), ctx.org_id, "company", &[id]).await?.into_iter().map(|(_, t)| t.name).collect();
    Ok(Company::from_row(row, tags))
}

pub async fn list(
    app: &App,
    ctx: &Context,
    filter: &ListFilter,
    sort: SortKey,
    page: &PageRequest,
) -> Result<Page<Company>> {
    need(ctx, Action::ReadRecords)?;
    let page = rows::list(app.db(), &Viewer::of(ctx), filter, sort, page).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
    let tags = records::tags_of(app.db(), ctx.org_id, "company", &ids).await?;
    Ok(page.map(|r| {
        let mine = tags.iter().filter(|(id, _)| *id == r.id).map(|(_, t)| t.name.clone()).collect();
        Company::from_row(r, mine)
    }))
}

/// A page of companies in an order of up to three keys (`name,-updated_at`).
pub async fn list_sorted(
    app: &App,
    ctx: &Context,
    filter: &ListFilter,
    sort: &Sort,
    page: &SortedPageRequest,
) -> Result<SortedPage<Company>> {
    need(ctx, Action::ReadRecords)?;
    let page = rows::list_sorted(app.db(), &Viewer::of(ctx), filter, sort, page).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
    let tags = records::tags_of(app.db(), ctx.org_id, "company", &ids).await?;
    Ok(page.map(|r| {
        let mine = tags.iter().filter(|(id, _)| *id == r.id).map(|(_, t)| t.name.clone()).collect();
        Company::from_row(r, mine)
    }))
}

pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &CompanyInput,
    if_version: Option<i64>,
) -> Result<Company> {
    need(ctx, Action::WriteRecords)?;
    let now = now_ms();
    let current = rows::get_visible(app.db(), &Viewer::of(ctx), id).await?.ok_or(AppError::NotFound)?;
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
    let (custom, typed) =
        apply_custom(app, ctx.org_id, RecordType::Company, &current.custom, input.custom.as_ref()).await?;
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
    if row.name != current.name {
        // Its people are found by its name: their search documents follow.
        super::search_upkeep::queue_company(&mut tx, ctx.org_id, row.id, now).await?;
    }
    if let Some(names) = &input.tags {
        let ids = resolve_tags(&mut tx, ctx.org_id, names, now).await?;
        records::set_record_tags(&mut tx, ctx.org_id, "company", row.id, &ids).await?;
    }
    for (field, values) in &typed {
        records::set_custom_values(&mut tx, ctx.org_id, *field, row.id, values).await?;
    }
    let doc = search_doc(&row);
    records::upsert_search_doc(&mut tx, &doc).await?;
    records::move_child_docs(&mut tx, ctx.org_id, row.id, &doc.placement, &doc.title).await?;
    crate::webhooks::emit(
        app,
        &mut tx,
        ctx.org_id,
        "company.updated",
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
    records::delete_record_satellites(&mut tx, ctx.org_id, "company", id).await?;
    // Its people lose it (the link is cleared): their search documents follow.
    super::search_upkeep::queue_company(&mut tx, ctx.org_id, id, now).await?;
    rows::delete(&mut tx, ctx.org_id, id).await?;
    audit::record(
        &mut tx,
        ctx.org_id,
        Some(ctx.user_id()),
        AuditEvent::new("company.deleted", "company", id),
        origin,
        now,
    )
    .await?;
    crate::webhooks::emit(app, &mut tx, ctx.org_id, "company.deleted", id, None, gone.visibility == "personal").await?;
    tx.commit().await?;
    Ok(())
}

/// A company with only a name, owned by `ctx`'s user and visible to everyone (imports).
pub fn bare_row(ctx: &Context, name: &str, now: i64) -> CompanyRow {
    CompanyRow {
        id: new_id(),
        org_id: ctx.org_id,
        name: name.to_string(),
        domain: None,
        industry: None,
        size: None,
        address: "{}".into(),
        custom: "{}".into(),
        visibility: Visibility::Everyone.as_str().into(),
        owner_id: Some(ctx.user_id()),
        team_id: None,
        created_by: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn domains_are_normalised() {
        assert_eq!(super::normalize_domain("https://www.Example.com/about").as_deref(), Some("example.com"));
        assert_eq!(super::normalize_domain("shop.example.co.uk:8443").as_deref(), Some("shop.example.co.uk"));
        assert_eq!(super::normalize_domain("localhost"), None);
        assert_eq!(super::normalize_domain("bad domain.com"), None);
    }
}
