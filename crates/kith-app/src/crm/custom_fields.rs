//! Custom-field definitions per record type, managed by admins. Key and kind
//! are fixed once created (stored values depend on them).

use super::need;
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::crm::{check_field_key, FieldKind, RecordType};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::validate::clean_name;
use kith_domain::{new_id, Context};
use kith_store::custom_fields::{self as rows, CustomFieldRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_FIELDS_PER_TYPE: i64 = 200;
pub const MAX_OPTIONS: usize = 200;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldInput {
    pub record_type: Option<RecordType>,
    pub key: Option<String>,
    pub label: Option<String>,
    pub kind: Option<FieldKind>,
    #[serde(default)]
    pub options: Option<Vec<String>>,
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub position: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomField {
    pub id: Uuid,
    pub record_type: RecordType,
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub options: Vec<String>,
    pub required: bool,
    pub position: i64,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl From<CustomFieldRow> for CustomField {
    fn from(r: CustomFieldRow) -> Self {
        CustomField {
            id: r.id,
            record_type: RecordType::parse(&r.record_type).unwrap_or(RecordType::Contact),
            key: r.key,
            label: r.label,
            kind: FieldKind::parse(&r.kind).unwrap_or(FieldKind::Text),
            options: serde_json::from_str(&r.options).unwrap_or_default(),
            required: r.required,
            position: r.position,
            version: r.version,
            created_at_ms: r.created_ms,
            updated_at_ms: r.updated_ms,
        }
    }
}

fn check_options(kind: FieldKind, options: &[String]) -> Result<Vec<String>> {
    let needs = matches!(kind, FieldKind::Select | FieldKind::MultiSelect);
    if !needs && !options.is_empty() {
        return Err(AppError::field("options", "only select and multi-select fields have options"));
    }
    if needs && options.is_empty() {
        return Err(AppError::field("options", "a select field needs at least one option"));
    }
    if options.len() > MAX_OPTIONS {
        return Err(AppError::field("options", format!("at most {MAX_OPTIONS} options")));
    }
    let mut out: Vec<String> = Vec::new();
    for o in options {
        let o = clean_name(o, 100).map_err(|m| AppError::field("options", format!("an option {m}")))?;
        if out.contains(&o) {
            return Err(AppError::field("options", format!("{o:?} is listed twice")));
        }
        out.push(o);
    }
    Ok(out)
}

pub async fn create(app: &App, ctx: &Context, input: &CustomFieldInput) -> Result<CustomField> {
    need(ctx, Action::ManageCrmSettings)?;
    let record_type = input.record_type.ok_or_else(|| AppError::field("record_type", "is required"))?;
    let key = input.key.as_deref().ok_or_else(|| AppError::field("key", "is required"))?.trim().to_string();
    check_field_key(&key).map_err(|m| AppError::field("key", m))?;
    let label = clean_name(input.label.as_deref().unwrap_or(&key), 100).map_err(|m| AppError::field("label", m))?;
    let kind = input.kind.ok_or_else(|| AppError::field("kind", "is required"))?;
    let options = check_options(kind, input.options.as_deref().unwrap_or(&[]))?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    let count = rows::count_for(&mut tx, ctx.org_id, record_type.as_str()).await?;
    if count >= MAX_FIELDS_PER_TYPE {
        return Err(AppError::field(
            "record_type",
            format!("at most {MAX_FIELDS_PER_TYPE} custom fields per record type"),
        ));
    }
    let row = CustomFieldRow {
        id: new_id(),
        org_id: ctx.org_id,
        record_type: record_type.as_str().into(),
        key,
        label,
        kind: kind.as_str().into(),
        options: serde_json::to_string(&options).expect("json"),
        required: input.required.unwrap_or(false),
        position: input.position.unwrap_or(count),
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    rows::insert(&mut tx, &row).await.map_err(|e| {
        if e.is_duplicate() {
            AppError::Conflict(ErrorCode::AlreadyExists, "a field with this key exists for this record type")
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn list(app: &App, ctx: &Context, record_type: RecordType) -> Result<Vec<CustomField>> {
    need(ctx, Action::ReadRecords)?;
    Ok(rows::list_for(app.db(), ctx.org_id, record_type.as_str()).await?.into_iter().map(Into::into).collect())
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<CustomField> {
    need(ctx, Action::ReadRecords)?;
    Ok(rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?.into())
}

pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &CustomFieldInput,
    if_version: Option<i64>,
) -> Result<CustomField> {
    need(ctx, Action::ManageCrmSettings)?;
    let current = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if if_version.is_some_and(|v| v != current.version) {
        return Err(AppError::StaleVersion);
    }
    if input.key.as_deref().is_some_and(|k| k != current.key) {
        return Err(AppError::field("key", "cannot change; create a new field instead"));
    }
    if input.kind.is_some_and(|k| k.as_str() != current.kind) {
        return Err(AppError::field("kind", "cannot change; create a new field instead"));
    }
    if input.record_type.is_some_and(|t| t.as_str() != current.record_type) {
        return Err(AppError::field("record_type", "cannot change"));
    }
    let kind = FieldKind::parse(&current.kind).unwrap_or(FieldKind::Text);
    let mut row = current.clone();
    if let Some(label) = &input.label {
        row.label = clean_name(label, 100).map_err(|m| AppError::field("label", m))?;
    }
    if let Some(options) = &input.options {
        row.options = serde_json::to_string(&check_options(kind, options)?).expect("json");
    }
    row.required = input.required.unwrap_or(row.required);
    row.position = input.position.unwrap_or(row.position);
    row.version += 1;
    row.updated_ms = now_ms();
    let mut tx = app.db().begin().await?;
    if !rows::update(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    tx.commit().await?;
    Ok(row.into())
}

/// Delete a field and its stored values (the records' JSON keeps a stale
/// key until their next write; it is no longer shown or filterable).
pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::ManageCrmSettings)?;
    let mut tx = app.db().begin().await?;
    if !rows::delete(&mut tx, ctx.org_id, id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}
