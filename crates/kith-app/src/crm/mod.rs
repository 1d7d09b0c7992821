//! CRM use cases (issue #3): contacts, companies, deals and pipelines, notes,
//! tasks, activities, tags, custom fields, timelines and search.
//!
//! Every read goes through the one visibility filter of kith-store (built
//! from [`Viewer::of`] the context); every write checks the role here and
//! the record's visibility in the same transaction. Nothing in this module
//! reads another workspace's rows: every store call carries `ctx.org_id`.

pub mod activities;
pub mod bulk;
pub mod companies;
pub mod contacts;
pub mod custom_fields;
pub mod deals;
pub mod duplicates;
pub mod exports;
pub mod import_rerun;
pub mod imports;
pub mod notes;
pub mod pipelines;
pub mod reminders;
pub mod search;
pub mod search_upkeep;
pub mod tags;
pub mod tasks;
pub mod timeline;
pub mod views;

use crate::{App, AppError, Result};
use kith_domain::crm::{check_custom_value, FieldKind, RecordType, TypedValue};
use kith_domain::role::Action;
use kith_domain::visibility::{Placement, Viewer, Visibility};
use kith_domain::Context;
use kith_store::records::{self, TagRow};
use kith_store::{members, teams, Tx};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Typed custom-field rows to store, per field.
pub(crate) type TypedValues = Vec<(Uuid, Vec<TypedValue>)>;

pub(crate) fn need(ctx: &Context, action: Action) -> Result<()> {
    if ctx.can(action) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// Where a record sits, as a request states it; absent parts keep their value.
#[derive(Debug, Clone, Default)]
pub struct PlacementInput {
    pub visibility: Option<Visibility>,
    pub owner_id: Option<Option<Uuid>>,
    pub team_id: Option<Option<Uuid>>,
}

impl PlacementInput {
    /// Apply to `current` (or the defaults of a new record made by `ctx`).
    pub(crate) fn resolve(&self, ctx: &Context, current: Option<Placement>) -> Placement {
        let base = current.unwrap_or(Placement {
            visibility: Visibility::Everyone,
            owner_id: Some(ctx.user_id()),
            team_id: None,
            created_by: ctx.user_id(),
        });
        let mut p = Placement {
            visibility: self.visibility.unwrap_or(base.visibility),
            owner_id: self.owner_id.unwrap_or(base.owner_id),
            team_id: self.team_id.unwrap_or(base.team_id),
            created_by: base.created_by,
        };
        if p.visibility == Visibility::Personal {
            // A personal record belongs to whoever made it, and to no team.
            p.owner_id = Some(p.created_by);
            p.team_id = None;
        }
        p
    }
}

/// Moving a record (visibility, owner, team) is for its owner, its creator,
/// or an admin: a member who can merely see a shared record may edit its
/// fields but not take it away from the others.
pub(crate) fn may_replace(ctx: &Context, current: &Placement) -> Result<()> {
    let me = Some(ctx.user_id());
    if current.owner_id == me || current.created_by == ctx.user_id() || ctx.effective_role() >= kith_domain::Role::Admin
    {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The owner must be a member and the team the workspace's; a team record
/// needs a team; only its creator may make a record personal.
pub(crate) async fn check_placement(app: &App, ctx: &Context, p: &Placement) -> Result<()> {
    if let Some(owner) = p.owner_id {
        if members::get(app.db(), ctx.org_id, owner).await?.is_none() {
            return Err(AppError::field("owner_id", "is not a member of this workspace"));
        }
    }
    if let Some(team) = p.team_id {
        if teams::get(app.db(), ctx.org_id, team).await?.is_none() {
            return Err(AppError::field("team_id", "is not a team of this workspace"));
        }
    }
    if p.visibility == Visibility::Team && p.team_id.is_none() {
        return Err(AppError::field("team_id", "a record visible to a team needs a team"));
    }
    if p.visibility == Visibility::Personal && p.created_by != ctx.user_id() {
        return Err(AppError::field("visibility", "only its creator can make a record personal"));
    }
    Ok(())
}

pub(crate) fn placement_of(
    visibility: &str,
    owner_id: Option<Uuid>,
    team_id: Option<Uuid>,
    created_by: Uuid,
) -> Placement {
    Placement { visibility: Visibility::parse(visibility).unwrap_or(Visibility::Owner), owner_id, team_id, created_by }
}

pub const MAX_TAGS_PER_RECORD: usize = 50;

/// Tag ids for these names, creating the tags that do not exist yet.
pub(crate) async fn resolve_tags(tx: &mut Tx, org_id: Uuid, names: &[String], now: i64) -> Result<Vec<Uuid>> {
    if names.len() > MAX_TAGS_PER_RECORD {
        return Err(AppError::field("tags", format!("at most {MAX_TAGS_PER_RECORD} tags per record")));
    }
    let mut ids = Vec::with_capacity(names.len());
    for raw in names {
        let name =
            kith_domain::validate::clean_name(raw, 60).map_err(|m| AppError::field("tags", format!("a tag {m}")))?;
        let key = name.to_lowercase();
        let id = match records::find_tag_by_key(tx, org_id, &key).await? {
            Some(t) => t.id,
            None => {
                let tag = TagRow {
                    id: kith_domain::new_id(),
                    org_id,
                    name,
                    name_key: key,
                    color: "grey".into(),
                    created_ms: now,
                };
                records::insert_tag(tx, &tag).await?;
                tag.id
            }
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Custom-field values checked against the workspace's definitions, merged
/// into the record's current JSON. Returns the new JSON and the typed rows
/// to store per field.
pub(crate) async fn apply_custom(
    app: &App,
    org_id: Uuid,
    record_type: RecordType,
    current: &str,
    patch: Option<&Map<String, Value>>,
) -> Result<(String, TypedValues)> {
    let fields = kith_store::custom_fields::list_for(app.db(), org_id, record_type.as_str()).await?;
    // Required fields are enforced on new records and on writes that touch
    // custom values, not on unrelated edits of records older than the rule.
    let enforce_required = current == "{}" || patch.is_some();
    apply_custom_with(&fields, current, patch, enforce_required)
}

/// [`apply_custom`] with the field definitions already at hand (imports
/// read them once per run).
pub(crate) fn apply_custom_with(
    fields: &[kith_store::custom_fields::CustomFieldRow],
    current: &str,
    patch: Option<&Map<String, Value>>,
    enforce_required: bool,
) -> Result<(String, TypedValues)> {
    let mut merged: Map<String, Value> = serde_json::from_str(current).unwrap_or_default();
    // Values of deleted fields go at the next write.
    merged.retain(|k, _| fields.iter().any(|f| &f.key == k));
    let mut typed = Vec::new();
    let mut errors = crate::error::Validator::default();
    if let Some(patch) = patch {
        for (key, value) in patch {
            let Some(field) = fields.iter().find(|f| &f.key == key) else {
                if value.is_null() {
                    continue;
                }
                errors.check::<()>(&format!("custom.{key}"), Err("is not a custom field of this record type"));
                continue;
            };
            let kind = FieldKind::parse(&field.kind).unwrap_or(FieldKind::Text);
            let options: Vec<String> = serde_json::from_str(&field.options).unwrap_or_default();
            if let Some((canonical, rows)) =
                errors.check(&format!("custom.{key}"), check_custom_value(kind, &options, value))
            {
                if canonical.is_null() {
                    merged.remove(key);
                } else {
                    merged.insert(key.clone(), canonical);
                }
                typed.push((field.id, rows));
            }
        }
    }
    for f in fields.iter().filter(|f| f.required && enforce_required) {
        if !merged.contains_key(&f.key) {
            errors.check::<()>(&format!("custom.{}", f.key), Err("is required"));
        }
    }
    errors.finish()?;
    Ok((Value::Object(merged).to_string(), typed))
}

/// Normalised search words of some texts, space-separated and de-duplicated:
/// the same folding as blind tokens, so both engines see plain words.
pub(crate) fn search_terms<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for part in parts {
        for word in part.split(|c: char| !c.is_alphanumeric()).map(kith_crypto::normalize_word) {
            if !word.is_empty() && word.len() <= 64 && seen.insert(word.clone()) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&word);
            }
        }
    }
    out
}

/// Where a record sits and what it is called, if it exists in the viewer's
/// workspace and they may see it: the check before anything is attached to
/// it or read from its timeline.
pub(crate) async fn record_placement(
    app: &App,
    viewer: &Viewer,
    record_type: RecordType,
    id: Uuid,
) -> Result<Option<(Placement, String)>> {
    Ok(match record_type {
        RecordType::Contact => kith_store::contacts::get_visible(app.db(), viewer, id).await?.map(|r| {
            let emails: Vec<contacts::LabeledValue> = serde_json::from_str(&r.emails).unwrap_or_default();
            (
                placement_of(&r.visibility, r.owner_id, r.team_id, r.created_by),
                contacts::display_name(&r.first_name, &r.last_name, &emails),
            )
        }),
        RecordType::Company => kith_store::companies::get_visible(app.db(), viewer, id)
            .await?
            .map(|r| (placement_of(&r.visibility, r.owner_id, r.team_id, r.created_by), r.name)),
        RecordType::Deal => kith_store::deals::get_visible(app.db(), viewer, id)
            .await?
            .map(|r| (placement_of(&r.visibility, r.owner_id, r.team_id, r.created_by), r.title)),
    })
}

/// The items of JSON list `a`, then those of `b` that `same` finds nowhere
/// in `a` (merging e-mails, phones or addresses of two contacts).
pub(crate) fn json_union<T: serde::de::DeserializeOwned + serde::Serialize>(
    a: &str,
    b: &str,
    same: impl Fn(&T, &T) -> bool,
) -> String {
    let mut items: Vec<T> = serde_json::from_str(a).unwrap_or_default();
    for item in serde_json::from_str::<Vec<T>>(b).unwrap_or_default() {
        if !items.iter().any(|i| same(i, &item)) {
            items.push(item);
        }
    }
    serde_json::to_string(&items).expect("json")
}
