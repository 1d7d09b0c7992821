//! Duplicate contacts: found by a shared e-mail (case-insensitive), a shared
//! phone (E.164), or the same name at the same company — only among the
//! contacts the viewer may see. A merge folds one contact into another and
//! keeps every note, task, activity, tag, deal link and timeline entry;
//! it is recorded in the audit trail.

use super::contacts::{self, Contact, LabeledValue, PhoneValue};
use super::{need, placement_of};
use crate::audit::{self, AuditEvent, Origin};
use crate::{App, AppError, Result};
use kith_domain::crm::RecordType;
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::visibility::Viewer;
use kith_domain::Context;
use kith_store::contacts::{self as rows, ContactRow};
use kith_store::records;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Duplicate {
    pub contact: Contact,
    /// Why it looks like the same person: `email`, `phone` and/or `name_and_company`.
    pub reasons: Vec<String>,
}

/// Contacts that look like the same person as `id`, visible to the actor.
pub async fn of_contact(app: &App, ctx: &Context, id: Uuid) -> Result<Vec<Duplicate>> {
    need(ctx, Action::ReadRecords)?;
    let viewer = Viewer::of(ctx);
    let me = rows::get_visible(app.db(), &viewer, id).await?.ok_or(AppError::NotFound)?;
    let handles = contacts::handles_of(&me);
    let mut found: Vec<(ContactRow, Vec<String>)> = Vec::new();
    let mut add = |row: ContactRow, reason: &str| {
        if row.id == me.id {
            return;
        }
        match found.iter_mut().find(|(r, _)| r.id == row.id) {
            Some((_, reasons)) if !reasons.iter().any(|r| r == reason) => reasons.push(reason.into()),
            Some(_) => {}
            None => found.push((row, vec![reason.into()])),
        }
    };
    for (kind, value) in &handles {
        for row in rows::find_by_handles(app.db(), &viewer, &[(kind, value.clone())]).await? {
            add(row, kind);
        }
    }
    if !me.first_name.is_empty() || !me.last_name.is_empty() {
        for row in rows::find_same_name(app.db(), &viewer, &me.first_name, &me.last_name, me.company_id).await? {
            add(row, "name_and_company");
        }
    }
    let ids: Vec<Uuid> = found.iter().map(|(r, _)| r.id).collect();
    let tags = records::tags_of(app.db(), ctx.org_id, "contact", &ids).await?;
    Ok(found
        .into_iter()
        .map(|(row, reasons)| {
            let mine = tags.iter().filter(|(id, _)| *id == row.id).map(|(_, t)| t.name.clone()).collect();
            Duplicate { contact: Contact::from_row(row, mine), reasons }
        })
        .collect())
}

/// Fill the survivor's empty fields from the other, and take the union of
/// e-mails, phones and addresses. The survivor's values win where both have one.
fn combine(mut keep: ContactRow, other: &ContactRow) -> ContactRow {
    if keep.first_name.is_empty() {
        keep.first_name = other.first_name.clone();
    }
    if keep.last_name.is_empty() {
        keep.last_name = other.last_name.clone();
    }
    keep.emails = super::json_union::<LabeledValue>(&keep.emails, &other.emails, |a, b| a.value == b.value);
    keep.phones = super::json_union::<PhoneValue>(&keep.phones, &other.phones, |a, b| a.value == b.value);
    keep.addresses = super::json_union::<contacts::Address>(&keep.addresses, &other.addresses, |a, b| a == b);
    let mut social: Map<String, Value> = serde_json::from_str(&other.social).unwrap_or_default();
    social.extend(serde_json::from_str::<Map<String, Value>>(&keep.social).unwrap_or_default());
    keep.social = Value::Object(social).to_string();
    keep.company_id = keep.company_id.or(other.company_id);
    keep.title = keep.title.or(other.title.clone());
    keep.birthday = keep.birthday.or(other.birthday.clone());
    keep.time_zone = keep.time_zone.or(other.time_zone.clone());
    keep.source = keep.source.or(other.source.clone());
    let mut custom: Map<String, Value> = serde_json::from_str(&other.custom).unwrap_or_default();
    custom.extend(serde_json::from_str::<Map<String, Value>>(&keep.custom).unwrap_or_default());
    keep.custom = Value::Object(custom).to_string();
    keep
}

/// Merge contact `other_id` into `keep_id`; `other_id` is gone afterwards.
/// The actor must see both and be allowed to move the one that disappears.
pub async fn merge(
    app: &App,
    ctx: &Context,
    keep_id: Uuid,
    other_id: Uuid,
    if_version: Option<i64>,
    origin: &Origin,
) -> Result<Contact> {
    need(ctx, Action::WriteRecords)?;
    if keep_id == other_id {
        return Err(AppError::field("other_id", "is the same contact"));
    }
    let viewer = Viewer::of(ctx);
    let keep = rows::get_visible(app.db(), &viewer, keep_id).await?.ok_or(AppError::NotFound)?;
    let other = rows::get_visible(app.db(), &viewer, other_id)
        .await?
        .ok_or_else(|| AppError::field("other_id", "no such contact"))?;
    if if_version.is_some_and(|v| v != keep.version) {
        return Err(AppError::StaleVersion);
    }
    super::may_replace(ctx, &placement_of(&other.visibility, other.owner_id, other.team_id, other.created_by))?;
    let now = now_ms();
    let mut merged = combine(keep.clone(), &other);
    merged.version = keep.version + 1;
    merged.updated_ms = now.max(keep.updated_ms + 1);
    // Re-derive the typed custom values from the merged JSON.
    let fields = kith_store::custom_fields::list_for(app.db(), ctx.org_id, RecordType::Contact.as_str()).await?;
    let as_patch: Map<String, Value> = serde_json::from_str(&merged.custom).unwrap_or_default();
    let (custom, typed) = super::apply_custom_with(&fields, "{}", Some(&as_patch), false)?;
    merged.custom = custom;
    let company = match merged.company_id {
        Some(id) => kith_store::companies::name_of(app.db(), ctx.org_id, id).await?,
        None => None,
    };
    let mut tx = app.db().begin().await?;
    // Read again under the write lock: both must still be as we saw them.
    let other_now = rows::get_visible_tx(&mut tx, &viewer, other_id).await?.ok_or(AppError::StaleVersion)?;
    if other_now.version != other.version || !rows::update(&mut tx, &merged).await? {
        return Err(AppError::StaleVersion);
    }
    records::reparent(&mut tx, ctx.org_id, "contact", other_id, keep_id).await?;
    kith_store::inbox::move_contact(&mut tx, ctx.org_id, other_id, keep_id).await?;
    records::delete_record_satellites(&mut tx, ctx.org_id, "contact", other_id).await?;
    rows::delete(&mut tx, ctx.org_id, other_id).await?;
    contacts::write_satellites(&mut tx, &merged, None, &typed, company.as_deref()).await?;
    let event = AuditEvent::new("contact.merged", "contact", keep_id).with_detail(format!("merged {other_id} into it"));
    audit::record(&mut tx, ctx.org_id, Some(ctx.user_id()), event, origin, now).await?;
    crate::webhooks::emit(app, &mut tx, ctx.org_id, "contact.deleted", other_id, None, other.visibility == "personal")
        .await?;
    crate::webhooks::emit(
        app,
        &mut tx,
        ctx.org_id,
        "contact.merged",
        keep_id,
        Some(merged.version),
        merged.visibility == "personal",
    )
    .await?;
    tx.commit().await?;
    let tags =
        records::tags_of(app.db(), ctx.org_id, "contact", &[keep_id]).await?.into_iter().map(|(_, t)| t.name).collect();
    Ok(Contact::from_row(merged, tags))
}
