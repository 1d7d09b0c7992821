//! Contacts: people the workspace deals with, each with e-mails and phones
//! (phones kept as E.164 plus what was typed), a company, an owner and a
//! visibility; tags and custom fields; a search document kept in step.

use super::{apply_custom, check_placement, need, placement_of, resolve_tags, search_terms, PlacementInput};
use crate::audit::{self, AuditEvent, Origin};
use crate::error::Validator;
use crate::{App, AppError, Result};
use kith_domain::crm::{check_date, RecordType};
use kith_domain::page::{Page, PageRequest};
use kith_domain::phone;
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::validate::normalize_email;
use kith_domain::visibility::{Placement, Viewer, Visibility};
use kith_domain::{new_id, Context};
use kith_store::contacts::{self as rows, ContactRow};
use kith_store::list_sort::{Sort, SortedPage, SortedPageRequest};
use kith_store::records::{self, ListFilter, SearchDoc, SortKey};
use kith_store::Tx;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub const MAX_EMAILS: usize = 20;
pub const MAX_PHONES: usize = 20;
pub const MAX_ADDRESSES: usize = 10;

/// Deserialize a field that may be absent (keep), `null` (clear) or a value.
pub fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabeledValue {
    pub value: String,
    #[serde(default)]
    pub label: Option<String>,
}

/// A stored phone: `value` is E.164 when `valid`, else what was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhoneValue {
    pub value: String,
    pub raw: String,
    pub label: Option<String>,
    pub valid: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

/// A new contact or changes to one: absent fields are left as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub emails: Option<Vec<LabeledValue>>,
    #[serde(default)]
    pub phones: Option<Vec<LabeledValue>>,
    #[serde(default)]
    pub addresses: Option<Vec<Address>>,
    /// Handles by network: `{"linkedin": "…", "x": "…"}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub social: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub company_id: Option<Option<Uuid>>,
    #[serde(default)]
    pub title: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub birthday: Option<String>,
    /// An IANA zone name such as `Europe/Berlin`.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub visibility: Option<Visibility>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    /// Tag names; missing tags are created. Replaces the record's tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Custom-field values by key; `null` clears one.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<Map<String, Value>>,
}

/// A contact as the API and the UI show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub emails: Vec<LabeledValue>,
    pub phones: Vec<PhoneValue>,
    pub addresses: Vec<Address>,
    #[schema(value_type = Object)]
    pub social: Map<String, Value>,
    pub company_id: Option<Uuid>,
    pub title: Option<String>,
    pub birthday: Option<String>,
    pub time_zone: Option<String>,
    pub source: Option<String>,
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

pub fn display_name(first: &str, last: &str, emails: &[LabeledValue]) -> String {
    let name = format!("{first} {last}").trim().to_string();
    if !name.is_empty() {
        name
    } else {
        emails.first().map(|e| e.value.clone()).unwrap_or_else(|| "(no name)".into())
    }
}

impl Contact {
    pub fn from_row(r: ContactRow, tags: Vec<String>) -> Contact {
        let emails: Vec<LabeledValue> = serde_json::from_str(&r.emails).unwrap_or_default();
        Contact {
            display_name: display_name(&r.first_name, &r.last_name, &emails),
            id: r.id,
            first_name: r.first_name,
            last_name: r.last_name,
            emails,
            phones: serde_json::from_str(&r.phones).unwrap_or_default(),
            addresses: serde_json::from_str(&r.addresses).unwrap_or_default(),
            social: serde_json::from_str(&r.social).unwrap_or_default(),
            company_id: r.company_id,
            title: r.title,
            birthday: r.birthday,
            time_zone: r.time_zone,
            source: r.source,
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

    pub fn placement(&self) -> Placement {
        Placement {
            visibility: self.visibility,
            owner_id: self.owner_id,
            team_id: self.team_id,
            created_by: self.created_by,
        }
    }
}

fn short_text(v: &mut Validator, field: &str, value: Option<String>, max: usize) -> Option<Option<String>> {
    let value = value?;
    let t = value.trim();
    if t.chars().count() > max {
        v.check::<()>(field, Err(format!("must be at most {max} characters")));
        return None;
    }
    if t.chars().any(char::is_control) {
        v.check::<()>(field, Err("must not contain control characters"));
        return None;
    }
    Some((!t.is_empty()).then(|| t.to_string()))
}

/// How phones are read when written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhonePolicy {
    /// API and UI: a number that is not a valid phone is an error.
    Strict,
    /// Import: keep what was given, flagged, with a warning.
    KeepRaw,
}

/// Check phones; returns them and warnings for those kept raw.
pub fn check_phones(
    v: &mut Validator,
    input: &[LabeledValue],
    default_cc: &str,
    policy: PhonePolicy,
) -> (Vec<PhoneValue>, Vec<String>) {
    let mut out: Vec<PhoneValue> = Vec::new();
    let mut warnings = Vec::new();
    if input.len() > MAX_PHONES {
        v.check::<()>("phones", Err(format!("at most {MAX_PHONES} phone numbers")));
        return (out, warnings);
    }
    for (i, p) in input.iter().enumerate() {
        let raw = p.value.trim();
        if raw.is_empty() || raw.len() > 64 {
            v.check::<()>(&format!("phones[{i}].value"), Err("must be 1 to 64 characters"));
            continue;
        }
        let label = p.label.as_deref().map(str::trim).filter(|l| !l.is_empty()).map(|l| l.chars().take(30).collect());
        match phone::to_e164(raw, default_cc) {
            Ok(e164) => {
                if !out.iter().any(|o| o.value == e164) {
                    out.push(PhoneValue { value: e164, raw: raw.into(), label, valid: true })
                }
            }
            Err(e) if policy == PhonePolicy::KeepRaw => {
                warnings.push(format!("phone {raw:?} kept as written: {e}"));
                out.push(PhoneValue { value: raw.into(), raw: raw.into(), label, valid: false });
            }
            Err(e) => {
                v.check::<()>(&format!("phones[{i}].value"), Err(e.to_string()));
            }
        }
    }
    (out, warnings)
}

pub fn check_emails(v: &mut Validator, input: &[LabeledValue]) -> Vec<LabeledValue> {
    let mut out: Vec<LabeledValue> = Vec::new();
    if input.len() > MAX_EMAILS {
        v.check::<()>("emails", Err(format!("at most {MAX_EMAILS} e-mail addresses")));
        return out;
    }
    for (i, e) in input.iter().enumerate() {
        match normalize_email(&e.value) {
            Some(value) => {
                if !out.iter().any(|o| o.value == value) {
                    let label = e
                        .label
                        .as_deref()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| l.chars().take(30).collect());
                    out.push(LabeledValue { value, label });
                }
            }
            None => {
                v.check::<()>(&format!("emails[{i}].value"), Err("is not an e-mail address"));
            }
        }
    }
    out
}

fn check_time_zone(tz: &str) -> std::result::Result<(), &'static str> {
    let ok = tz.len() <= 64
        && !tz.is_empty()
        && tz.split('/').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        });
    if ok {
        Ok(())
    } else {
        Err("must be a time zone name such as Europe/Berlin")
    }
}

fn check_addresses(v: &mut Validator, input: &[Address]) -> Vec<Address> {
    if input.len() > MAX_ADDRESSES {
        v.check::<()>("addresses", Err(format!("at most {MAX_ADDRESSES} addresses")));
        return vec![];
    }
    let clean = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let mut out = Vec::new();
    for (i, a) in input.iter().enumerate() {
        let parts = [&a.label, &a.street, &a.city, &a.region, &a.postal_code, &a.country];
        if parts
            .iter()
            .any(|p| p.as_deref().is_some_and(|s| s.chars().count() > 200 || s.chars().any(char::is_control)))
        {
            v.check::<()>(&format!("addresses[{i}]"), Err("each part must be at most 200 characters of text"));
            continue;
        }
        out.push(Address {
            label: clean(&a.label),
            street: clean(&a.street),
            city: clean(&a.city),
            region: clean(&a.region),
            postal_code: clean(&a.postal_code),
            country: clean(&a.country),
        });
    }
    out
}

/// Apply `input` to `row` (a new or current contact), validating every field.
/// Returns warnings (phones kept raw under [`PhonePolicy::KeepRaw`]).
pub fn apply_input(
    row: &mut ContactRow,
    input: &ContactInput,
    default_cc: &str,
    policy: PhonePolicy,
) -> Result<Vec<String>> {
    let mut v = Validator::default();
    let mut warnings = Vec::new();
    if let Some(Some(first)) = short_text(&mut v, "first_name", input.first_name.clone(), 100) {
        row.first_name = first;
    } else if input.first_name.as_deref().is_some_and(|s| s.trim().is_empty()) {
        row.first_name.clear();
    }
    if let Some(Some(last)) = short_text(&mut v, "last_name", input.last_name.clone(), 100) {
        row.last_name = last;
    } else if input.last_name.as_deref().is_some_and(|s| s.trim().is_empty()) {
        row.last_name.clear();
    }
    if let Some(emails) = &input.emails {
        row.emails = serde_json::to_string(&check_emails(&mut v, emails)).expect("json");
    }
    if let Some(phones) = &input.phones {
        let (phones, w) = check_phones(&mut v, phones, default_cc, policy);
        warnings.extend(w);
        row.phones = serde_json::to_string(&phones).expect("json");
    }
    if let Some(addresses) = &input.addresses {
        row.addresses = serde_json::to_string(&check_addresses(&mut v, addresses)).expect("json");
    }
    if let Some(social) = &input.social {
        let ok = social.len() <= 20
            && social.iter().all(|(k, val)| k.len() <= 40 && val.as_str().is_some_and(|s| s.chars().count() <= 200));
        if v.check("social", if ok { Ok(()) } else { Err("must map up to 20 network names to handles (text)") })
            .is_some()
        {
            row.social = Value::Object(social.clone()).to_string();
        }
    }
    if let Some(t) = short_text(&mut v, "title", input.title.clone(), 200) {
        row.title = t;
    }
    if let Some(s) = short_text(&mut v, "source", input.source.clone(), 200) {
        row.source = s;
    }
    if let Some(b) = &input.birthday {
        let b = b.trim();
        if b.is_empty() {
            row.birthday = None;
        } else if v.check("birthday", check_date(b)).is_some() {
            row.birthday = Some(b.to_string());
        }
    }
    if let Some(tz) = &input.time_zone {
        let tz = tz.trim();
        if tz.is_empty() {
            row.time_zone = None;
        } else if v.check("time_zone", check_time_zone(tz)).is_some() {
            row.time_zone = Some(tz.to_string());
        }
    }
    v.finish()?;
    let emails: Vec<LabeledValue> = serde_json::from_str(&row.emails).unwrap_or_default();
    let phones: Vec<PhoneValue> = serde_json::from_str(&row.phones).unwrap_or_default();
    if row.first_name.is_empty() && row.last_name.is_empty() && emails.is_empty() && phones.is_empty() {
        return Err(AppError::field("first_name", "a contact needs a name, an e-mail address or a phone number"));
    }
    Ok(warnings)
}

/// The normalised handles of a contact row (for duplicates and matching).
pub fn handles_of(row: &ContactRow) -> Vec<(&'static str, String)> {
    let emails: Vec<LabeledValue> = serde_json::from_str(&row.emails).unwrap_or_default();
    let phones: Vec<PhoneValue> = serde_json::from_str(&row.phones).unwrap_or_default();
    let mut out: Vec<(&'static str, String)> = emails.into_iter().map(|e| ("email", e.value)).collect();
    out.extend(phones.into_iter().filter(|p| p.valid).map(|p| ("phone", p.value)));
    out
}

/// The search document of a contact: names, e-mail words, every phone form.
pub fn search_doc(row: &ContactRow, company_name: Option<&str>) -> SearchDoc {
    let emails: Vec<LabeledValue> = serde_json::from_str(&row.emails).unwrap_or_default();
    let phones: Vec<PhoneValue> = serde_json::from_str(&row.phones).unwrap_or_default();
    let phone_forms: Vec<String> = phones.iter().flat_map(|p| phone::search_forms(&p.value)).collect();
    let mut parts: Vec<&str> = vec![&row.first_name, &row.last_name];
    parts.extend(emails.iter().map(|e| e.value.as_str()));
    parts.extend(phone_forms.iter().map(String::as_str));
    parts.extend(company_name);
    parts.extend(row.title.as_deref());
    SearchDoc {
        org_id: row.org_id,
        record_type: "contact".into(),
        record_id: row.id,
        parent: None,
        title: display_name(&row.first_name, &row.last_name, &emails),
        terms: search_terms(parts),
        placement: placement_of(&row.visibility, row.owner_id, row.team_id, row.created_by),
        updated_ms: row.updated_ms,
    }
}

/// Write what hangs off a contact (handles, tags, custom values, search) in `tx`.
pub(crate) async fn write_satellites(
    tx: &mut Tx,
    row: &ContactRow,
    tags: Option<&[Uuid]>,
    custom: &[(Uuid, Vec<kith_domain::crm::TypedValue>)],
    company_name: Option<&str>,
) -> Result<()> {
    rows::set_handles(
        tx,
        row.org_id,
        row.id,
        &handles_of(row).iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
    )
    .await?;
    if let Some(tags) = tags {
        records::set_record_tags(tx, row.org_id, "contact", row.id, tags).await?;
    }
    for (field_id, values) in custom {
        records::set_custom_values(tx, row.org_id, *field_id, row.id, values).await?;
    }
    let doc = search_doc(row, company_name);
    records::upsert_search_doc(tx, &doc).await?;
    records::move_child_docs(tx, row.org_id, row.id, &doc.placement, &doc.title).await?;
    Ok(())
}

pub(crate) async fn company_name(app: &App, viewer: &Viewer, company_id: Option<Uuid>) -> Result<Option<String>> {
    let Some(id) = company_id else { return Ok(None) };
    match kith_store::companies::get_visible(app.db(), viewer, id).await? {
        Some(c) => Ok(Some(c.name)),
        None => Err(AppError::field("company_id", "no such company")),
    }
}

pub async fn create(app: &App, ctx: &Context, input: &ContactInput) -> Result<Contact> {
    need(ctx, Action::WriteRecords)?;
    let viewer = Viewer::of(ctx);
    let now = now_ms();
    let placement = PlacementInput { visibility: input.visibility, owner_id: input.owner_id, team_id: input.team_id }
        .resolve(ctx, None);
    check_placement(app, ctx, &placement).await?;
    let mut row = ContactRow {
        id: new_id(),
        org_id: ctx.org_id,
        first_name: String::new(),
        last_name: String::new(),
        emails: "[]".into(),
        phones: "[]".into(),
        addresses: "[]".into(),
        social: "{}".into(),
        company_id: input.company_id.flatten(),
        title: None,
        birthday: None,
        time_zone: None,
        source: None,
        custom: "{}".into(),
        visibility: placement.visibility.as_str().into(),
        owner_id: placement.owner_id,
        team_id: placement.team_id,
        created_by: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    let cc = app.phone_country_code(ctx.org_id).await?;
    apply_input(&mut row, input, &cc, PhonePolicy::Strict)?;
    let (custom_json, typed) = apply_custom(app, ctx.org_id, RecordType::Contact, "{}", input.custom.as_ref()).await?;
    row.custom = custom_json;
    let company = company_name(app, &viewer, row.company_id).await?;
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    let tag_ids = match &input.tags {
        Some(names) => Some(resolve_tags(&mut tx, ctx.org_id, names, now).await?),
        None => None,
    };
    write_satellites(&mut tx, &row, tag_ids.as_deref(), &typed, company.as_deref()).await?;
    crate::webhooks::emit(
        app,
        &mut tx,
        ctx.org_id,
        "contact.created",
        row.id,
        Some(row.version),
        row.visibility == "personal",
    )
    .await?;
    tx.commit().await?;
    written(app, row).await
}

/// What was just written, as the writer sees it, even when its new
/// placement hides it from them from now on.
async fn written(app: &App, row: ContactRow) -> Result<Contact> {
    let tags =
        records::tags_of(app.db(), row.org_id, "contact", &[row.id]).await?.into_iter().map(|(_, t)| t.name).collect();
    Ok(Contact::from_row(row, tags))
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Contact> {
    need(ctx, Action::ReadRecords)?;
    let row = rows::get_visible(app.db(), &Viewer::of(ctx), id).await?.ok_or(AppError::NotFound)?;
    let tags =
        records::tags_of(app.db(), ctx.org_id, "contact", &[id]).await?.into_iter().map(|(_, t)| t.name).collect();
    Ok(Contact::from_row(row, tags))
}

pub async fn list(
    app: &App,
    ctx: &Context,
    filter: &ListFilter,
    sort: SortKey,
    page: &PageRequest,
) -> Result<Page<Contact>> {
    need(ctx, Action::ReadRecords)?;
    let page = rows::list(app.db(), &Viewer::of(ctx), filter, sort, page).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
    let mut tags = records::tags_of(app.db(), ctx.org_id, "contact", &ids).await?;
    Ok(page.map(|r| {
        let mine = tags.iter().filter(|(id, _)| *id == r.id).map(|(_, t)| t.name.clone()).collect();
        tags.retain(|(id, _)| *id != r.id);
        Contact::from_row(r, mine)
    }))
}

/// A page of contacts in an order of up to three keys (`last_name,-updated_at`).
pub async fn list_sorted(
    app: &App,
    ctx: &Context,
    filter: &ListFilter,
    sort: &Sort,
    page: &SortedPageRequest,
) -> Result<SortedPage<Contact>> {
    need(ctx, Action::ReadRecords)?;
    let page = rows::list_sorted(app.db(), &Viewer::of(ctx), filter, sort, page).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
    let mut tags = records::tags_of(app.db(), ctx.org_id, "contact", &ids).await?;
    Ok(page.map(|r| {
        let mine = tags.iter().filter(|(id, _)| *id == r.id).map(|(_, t)| t.name.clone()).collect();
        tags.retain(|(id, _)| *id != r.id);
        Contact::from_row(r, mine)
    }))
}

/// Change a contact. `if_version` (from `If-Match`) makes a stale write fail.
pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &ContactInput,
    if_version: Option<i64>,
) -> Result<Contact> {
    need(ctx, Action::WriteRecords)?;
    let viewer = Viewer::of(ctx);
    let now = now_ms();
    let current = rows::get_visible(app.db(), &viewer, id).await?.ok_or(AppError::NotFound)?;
    if if_version.is_some_and(|v| v != current.version) {
        return Err(AppError::StaleVersion);
    }
    let old_placement = placement_of(&current.visibility, current.owner_id, current.team_id, current.created_by);
    let placement = PlacementInput { visibility: input.visibility, owner_id: input.owner_id, team_id: input.team_id }
        .resolve(ctx, Some(old_placement));
    if placement != old_placement {
        super::may_replace(ctx, &old_placement)?;
        check_placement(app, ctx, &placement).await?;
    }
    let mut row = current.clone();
    if let Some(company) = input.company_id {
        row.company_id = company;
    }
    // Only a new company must be one the editor can see.
    if row.company_id != current.company_id {
        company_name(app, &viewer, row.company_id).await?;
    }
    let cc = app.phone_country_code(ctx.org_id).await?;
    apply_input(&mut row, input, &cc, PhonePolicy::Strict)?;
    let (custom_json, typed) =
        apply_custom(app, ctx.org_id, RecordType::Contact, &current.custom, input.custom.as_ref()).await?;
    row.custom = custom_json;
    row.visibility = placement.visibility.as_str().into();
    row.owner_id = placement.owner_id;
    row.team_id = placement.team_id;
    row.version = current.version + 1;
    row.updated_ms = now.max(current.updated_ms + 1);
    let company = match row.company_id {
        Some(id) => kith_store::companies::name_of(app.db(), ctx.org_id, id).await?,
        None => None,
    };
    let mut tx = app.db().begin().await?;
    if !rows::update(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    let tag_ids = match &input.tags {
        Some(names) => Some(resolve_tags(&mut tx, ctx.org_id, names, now).await?),
        None => None,
    };
    write_satellites(&mut tx, &row, tag_ids.as_deref(), &typed, company.as_deref()).await?;
    crate::webhooks::emit(
        app,
        &mut tx,
        ctx.org_id,
        "contact.updated",
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
    let viewer = Viewer::of(ctx);
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    let gone = rows::get_visible_tx(&mut tx, &viewer, id).await?.ok_or(AppError::NotFound)?;
    records::delete_record_satellites(&mut tx, ctx.org_id, "contact", id).await?;
    // Its conversations' attachment rows cascade; their objects go by a job.
    crate::inbox::attachments::delete_contact_objects_later(&mut tx, ctx.org_id, id).await?;
    rows::delete(&mut tx, ctx.org_id, id).await?;
    audit::record(
        &mut tx,
        ctx.org_id,
        Some(ctx.user_id()),
        AuditEvent::new("contact.deleted", "contact", id),
        origin,
        now,
    )
    .await?;
    crate::webhooks::emit(app, &mut tx, ctx.org_id, "contact.deleted", id, None, gone.visibility == "personal").await?;
    tx.commit().await?;
    Ok(())
}
