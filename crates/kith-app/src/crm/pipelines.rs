//! Pipelines and their ordered stages with win probabilities. Admins shape
//! them; a workspace without one gets a default pipeline the first time a
//! deal needs it.

use super::need;
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::validate::clean_name;
use kith_domain::{new_id, Context};
use kith_store::deals::{self as rows, PipelineRow, StageRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_STAGES: usize = 30;
pub const MAX_PIPELINES: i64 = 50;
const DEFAULT_STAGES: [(&str, i64); 5] =
    [("Lead", 10), ("Qualified", 25), ("Proposal", 50), ("Negotiation", 75), ("Closing", 90)];

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    /// An existing stage to keep (and rename or move); absent for a new stage.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub name: String,
    /// Percent, 0–100.
    #[serde(default)]
    pub probability: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    #[serde(default)]
    pub name: Option<String>,
    /// The full ordered list of stages; stages left out are removed (only
    /// when no deal is in them).
    #[serde(default)]
    pub stages: Option<Vec<StageInput>>,
    #[serde(default)]
    pub position: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stage {
    pub id: Uuid,
    pub name: String,
    pub position: i64,
    pub probability: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Pipeline {
    pub id: Uuid,
    pub name: String,
    pub position: i64,
    pub stages: Vec<Stage>,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

fn assemble(p: PipelineRow, stages: &[StageRow]) -> Pipeline {
    Pipeline {
        id: p.id,
        name: p.name,
        position: p.position,
        stages: stages
            .iter()
            .filter(|s| s.pipeline_id == p.id)
            .map(|s| Stage { id: s.id, name: s.name.clone(), position: s.position, probability: s.probability })
            .collect(),
        version: p.version,
        created_at_ms: p.created_ms,
        updated_at_ms: p.updated_ms,
    }
}

fn check_stages(stages: &[StageInput]) -> Result<Vec<(Option<Uuid>, String, i64)>> {
    if stages.is_empty() || stages.len() > MAX_STAGES {
        return Err(AppError::field("stages", format!("a pipeline has 1 to {MAX_STAGES} stages")));
    }
    let mut out = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        let name = clean_name(&s.name, 80).map_err(|m| AppError::field(&format!("stages[{i}].name"), m))?;
        let p = s.probability.unwrap_or(((i + 1) * 100 / (stages.len() + 1)) as i64);
        if !(0..=100).contains(&p) {
            return Err(AppError::field(&format!("stages[{i}].probability"), "must be 0 to 100"));
        }
        out.push((s.id, name, p));
    }
    Ok(out)
}

pub async fn list(app: &App, ctx: &Context) -> Result<Vec<Pipeline>> {
    need(ctx, Action::ReadRecords)?;
    let pipelines = rows::list_pipelines(app.db(), ctx.org_id).await?;
    let ids: Vec<Uuid> = pipelines.iter().map(|p| p.id).collect();
    let stages = rows::stages_of(app.db(), ctx.org_id, &ids).await?;
    Ok(pipelines.into_iter().map(|p| assemble(p, &stages)).collect())
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Pipeline> {
    need(ctx, Action::ReadRecords)?;
    let p = rows::get_pipeline(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    let stages = rows::stages_of(app.db(), ctx.org_id, &[id]).await?;
    Ok(assemble(p, &stages))
}

async fn insert_with_stages(
    tx: &mut kith_store::Tx,
    org_id: Uuid,
    name: String,
    position: i64,
    stages: &[(Option<Uuid>, String, i64)],
    now: i64,
) -> Result<Uuid> {
    let p = PipelineRow { id: new_id(), org_id, name, position, version: 1, created_ms: now, updated_ms: now };
    rows::insert_pipeline(tx, &p).await?;
    for (i, (_, name, probability)) in stages.iter().enumerate() {
        let s = StageRow {
            id: new_id(),
            org_id,
            pipeline_id: p.id,
            name: name.clone(),
            position: i as i64,
            probability: *probability,
            created_ms: now,
        };
        rows::insert_stage(tx, &s).await?;
    }
    Ok(p.id)
}

pub async fn create(app: &App, ctx: &Context, input: &PipelineInput) -> Result<Pipeline> {
    need(ctx, Action::ManageCrmSettings)?;
    let name = clean_name(input.name.as_deref().unwrap_or(""), 80).map_err(|m| AppError::field("name", m))?;
    let default: Vec<StageInput> = DEFAULT_STAGES
        .iter()
        .map(|(n, p)| StageInput { id: None, name: n.to_string(), probability: Some(*p) })
        .collect();
    let stages = check_stages(input.stages.as_deref().unwrap_or(&default))?;
    if stages.iter().any(|(id, _, _)| id.is_some()) {
        return Err(AppError::field("stages", "a new pipeline's stages have no ids yet"));
    }
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    let count = rows::count_pipelines(&mut tx, ctx.org_id).await?;
    if count >= MAX_PIPELINES {
        return Err(AppError::field("name", format!("a workspace has at most {MAX_PIPELINES} pipelines")));
    }
    let id = insert_with_stages(&mut tx, ctx.org_id, name, input.position.unwrap_or(count), &stages, now).await?;
    tx.commit().await?;
    get(app, ctx, id).await
}

/// The workspace's first pipeline, made with default stages if there is none.
pub async fn default_pipeline(app: &App, ctx: &Context) -> Result<Pipeline> {
    if let Some(first) = list(app, ctx).await?.into_iter().next() {
        return Ok(first);
    }
    let stages: Vec<(Option<Uuid>, String, i64)> =
        DEFAULT_STAGES.iter().map(|(n, p)| (None, n.to_string(), *p)).collect();
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    // Two first deals at once: the writer lock serialises us; count again inside.
    if rows::count_pipelines(&mut tx, ctx.org_id).await? == 0 {
        insert_with_stages(&mut tx, ctx.org_id, "Sales".into(), 0, &stages, now).await?;
        tx.commit().await?;
    } else {
        drop(tx);
    }
    list(app, ctx).await?.into_iter().next().ok_or_else(|| AppError::Internal("no pipeline after creating one".into()))
}

pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &PipelineInput,
    if_version: Option<i64>,
) -> Result<Pipeline> {
    need(ctx, Action::ManageCrmSettings)?;
    let current = get(app, ctx, id).await?;
    if if_version.is_some_and(|v| v != current.version) {
        return Err(AppError::StaleVersion);
    }
    let now = now_ms();
    let name = match &input.name {
        Some(n) => clean_name(n, 80).map_err(|m| AppError::field("name", m))?,
        None => current.name.clone(),
    };
    let stages = match &input.stages {
        Some(s) => Some(check_stages(s)?),
        None => None,
    };
    let mut tx = app.db().begin().await?;
    let row = PipelineRow {
        id,
        org_id: ctx.org_id,
        name,
        position: input.position.unwrap_or(current.position),
        version: current.version + 1,
        created_ms: current.created_at_ms,
        updated_ms: now.max(current.updated_at_ms + 1),
    };
    if !rows::update_pipeline(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    if let Some(stages) = stages {
        for (i, (sid, _, _)) in stages.iter().enumerate() {
            if let Some(sid) = sid {
                if !current.stages.iter().any(|s| s.id == *sid) {
                    return Err(AppError::field(&format!("stages[{i}].id"), "is not a stage of this pipeline"));
                }
            }
        }
        for old in &current.stages {
            if !stages.iter().any(|(sid, _, _)| *sid == Some(old.id)) {
                if rows::stage_in_use(&mut tx, ctx.org_id, old.id).await? {
                    return Err(AppError::Conflict(
                        ErrorCode::InUse,
                        "a stage that still holds deals cannot be removed; move its deals first",
                    ));
                }
                rows::delete_stage(&mut tx, ctx.org_id, old.id).await?;
            }
        }
        for (i, (sid, name, probability)) in stages.into_iter().enumerate() {
            let s = StageRow {
                id: sid.unwrap_or_else(new_id),
                org_id: ctx.org_id,
                pipeline_id: id,
                name,
                position: i as i64,
                probability,
                created_ms: now,
            };
            if sid.is_some() {
                rows::update_stage(&mut tx, &s).await?;
            } else {
                rows::insert_stage(&mut tx, &s).await?;
            }
        }
    }
    tx.commit().await?;
    get(app, ctx, id).await
}

pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    need(ctx, Action::ManageCrmSettings)?;
    let mut tx = app.db().begin().await?;
    if rows::pipeline_in_use(&mut tx, ctx.org_id, id).await? {
        return Err(AppError::Conflict(ErrorCode::InUse, "a pipeline that still holds deals cannot be deleted"));
    }
    if !rows::delete_pipeline(&mut tx, ctx.org_id, id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}
