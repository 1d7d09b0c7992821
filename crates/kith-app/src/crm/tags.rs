//! Tags: shared labels any record can carry. Members create them by using a
//! new name; admins rename, recolour and delete them.

use super::need;
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::role::Action;
use kith_domain::validate::clean_name;
use kith_domain::Context;
use kith_store::records::{self, TagRow};
use serde::Serialize;
use uuid::Uuid;

pub const COLORS: [&str; 8] = ["grey", "red", "orange", "yellow", "green", "blue", "purple", "pink"];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tag {
    pub id: Uuid,
    pub name: String,
    pub color: String,
    pub created_at_ms: i64,
}

impl From<TagRow> for Tag {
    fn from(t: TagRow) -> Tag {
        Tag { id: t.id, name: t.name, color: t.color, created_at_ms: t.created_ms }
    }
}

/// Tags in name order; `after` is the last name of the previous page.
pub async fn list(app: &App, ctx: &Context, after: Option<&str>, limit: u32) -> Result<(Vec<Tag>, Option<String>)> {
    need(ctx, Action::ReadRecords)?;
    let limit = limit.clamp(1, 200) as i64;
    let mut rows = records::list_tags(app.db(), ctx.org_id, &after.unwrap_or("").to_lowercase(), limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|t| t.name_key.clone())
    } else {
        None
    };
    Ok((rows.into_iter().map(Tag::from).collect(), next))
}

fn check_color(color: &str) -> Result<()> {
    if COLORS.contains(&color) {
        Ok(())
    } else {
        Err(AppError::field("color", format!("must be one of {}", COLORS.join(", "))))
    }
}

pub async fn create(app: &App, ctx: &Context, name: &str, color: Option<&str>) -> Result<Tag> {
    need(ctx, Action::WriteRecords)?;
    let name = clean_name(name, 60).map_err(|m| AppError::field("name", m))?;
    let color = color.unwrap_or("grey");
    check_color(color)?;
    let now = kith_domain::time::now_ms();
    let row = TagRow {
        id: kith_domain::new_id(),
        org_id: ctx.org_id,
        name_key: name.to_lowercase(),
        name,
        color: color.into(),
        created_ms: now,
    };
    let mut tx = app.db().begin().await?;
    records::insert_tag(&mut tx, &row).await.map_err(|e| {
        if e.is_duplicate() {
            AppError::Conflict(ErrorCode::AlreadyExists, "a tag with this name exists")
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn update(app: &App, ctx: &Context, id: Uuid, name: Option<&str>, color: Option<&str>) -> Result<Tag> {
    need(ctx, Action::ManageCrmSettings)?;
    let current = records::get_tag(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    let name = match name {
        Some(n) => clean_name(n, 60).map_err(|m| AppError::field("name", m))?,
        None => current.name.clone(),
    };
    let color = color.unwrap_or(&current.color).to_string();
    check_color(&color)?;
    let mut tx = app.db().begin().await?;
    records::update_tag(&mut tx, ctx.org_id, id, &name, &name.to_lowercase(), &color).await.map_err(|e| {
        if e.is_duplicate() {
            AppError::Conflict(ErrorCode::AlreadyExists, "a tag with this name exists")
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    Ok(Tag { id, name, color, created_at_ms: current.created_ms })
}

pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::ManageCrmSettings)?;
    let mut tx = app.db().begin().await?;
    if !records::delete_tag(&mut tx, ctx.org_id, id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// The id of a tag by name, for list filters (`?tag=vip`); None if unknown.
pub async fn id_by_name(app: &App, ctx: &Context, name: &str) -> Result<Option<Uuid>> {
    Ok(records::find_tag_by_key_db(app.db(), ctx.org_id, &name.trim().to_lowercase()).await?.map(|t| t.id))
}
