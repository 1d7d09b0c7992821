//! Settings → Pipelines: admins create pipelines and edit each one's ordered
//! stages (rename, probability, order, add, remove) in one form; a stage that
//! still holds deals cannot be removed, and the page says so.

use super::crm::{done, message_of, not_found_page, parse_id, render_status};
use super::pages::{Errors, PipelineItem, PipelinesPage, Shell, StageItem};
use super::{redirect_with, Flash, UiCtx};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use kith_app::crm::pipelines::{self, Pipeline, PipelineInput, StageInput};
use kith_app::{AppError, Context};
use kith_domain::Action;
use std::collections::BTreeMap;

/// Blank rows under each pipeline's stages, for new stages.
const BLANK_ROWS: usize = 2;

fn item_of(p: Pipeline) -> PipelineItem {
    let mut stages: Vec<StageItem> = p
        .stages
        .into_iter()
        .enumerate()
        .map(|(index, s)| StageItem {
            index,
            id: s.id.to_string(),
            name: s.name,
            probability: s.probability.to_string(),
        })
        .collect();
    let n = stages.len();
    stages.extend((0..BLANK_ROWS).map(|i| StageItem {
        index: n + i,
        id: String::new(),
        name: String::new(),
        probability: String::new(),
    }));
    PipelineItem { id: p.id.to_string(), name: p.name, version: p.version, stages, error: None }
}

async fn view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    failed: Option<PipelineItem>,
    name: String,
    errors: Errors,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let list = match pipelines::list(&state.app, ctx).await {
        Ok(l) => l,
        Err(e) => return super::crm::load_error(e),
    };
    let status = if failed.is_some() || !errors.is_empty() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut failed = failed;
    let items = list
        .into_iter()
        .map(|p| match failed.take_if(|f| f.id == p.id.to_string()) {
            Some(f) => f,
            None => item_of(p),
        })
        .collect();
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Pipelines", "settings", "pipelines").await;
    render_status(
        status,
        &PipelinesPage { shell, can_manage: ctx.can(Action::ManageCrmSettings), pipelines: items, name, errors },
    )
}

pub async fn page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    view(&state, &ui, &ctx, None, String::new(), Errors::default()).await
}

#[derive(serde::Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

pub async fn create(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(f): Form<NameForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let input = PipelineInput { name: Some(f.name.clone()), stages: None, position: None };
    match pipelines::create(&state.app, &ctx, &input).await {
        Ok(p) => redirect_with(
            "/settings/pipelines",
            Flash::success(format!("Pipeline {} created with five stages; rename them below.", p.name)),
            state.config.secure_cookies,
        ),
        Err(AppError::Forbidden) => done(&state, "/settings/pipelines", Err(AppError::Forbidden), ""),
        Err(e) => view(&state, &ui, &ctx, None, f.name, Errors::from_app(e).only(&["name"])).await,
    }
}

/// One row of the stage list as posted.
#[derive(Default)]
struct Row {
    id: String,
    name: String,
    probability: String,
    position: String,
    remove: bool,
}

pub async fn update(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(pipeline_id) = parse_id(&id) else { return not_found_page() };
    let mut name = String::new();
    let mut version = None;
    let mut rows: BTreeMap<usize, Row> = BTreeMap::new();
    for (k, v) in pairs {
        match k.as_str() {
            "name" => name = v,
            "version" => version = v.parse().ok(),
            _ => {
                let Some((index, field)) = k.strip_prefix('s').and_then(|r| r.split_once('_')) else { continue };
                let Ok(index) = index.parse::<usize>() else { continue };
                if index >= 100 {
                    continue;
                }
                let row = rows.entry(index).or_default();
                match field {
                    "id" => row.id = v,
                    "name" => row.name = v,
                    "prob" => row.probability = v,
                    "pos" => row.position = v,
                    "remove" => row.remove = true,
                    _ => {}
                }
            }
        }
    }
    // Order: by the position typed (rows without one keep their place).
    let mut ordered: Vec<(f64, usize, Row)> =
        rows.into_iter().map(|(i, r)| (r.position.trim().parse::<f64>().unwrap_or(i as f64 + 1.0), i, r)).collect();
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut stages = Vec::new();
    let mut problem: Option<AppError> = None;
    for (_, _, r) in &ordered {
        if r.remove || (r.id.is_empty() && r.name.trim().is_empty()) {
            continue;
        }
        let probability = match r.probability.trim() {
            "" => None,
            p => match p.trim_end_matches('%').trim().parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problem.get_or_insert(AppError::field("stages", "a probability is a whole number from 0 to 100"));
                    None
                }
            },
        };
        let id = if r.id.is_empty() { None } else { parse_id(&r.id) };
        stages.push(StageInput { id, name: r.name.clone(), probability });
    }
    let input = PipelineInput { name: Some(name.clone()), stages: Some(stages), position: None };
    let result = match problem {
        Some(e) => Err(e),
        None => pipelines::update(&state.app, &ctx, pipeline_id, &input, version).await,
    };
    match result {
        Ok(p) => redirect_with(
            "/settings/pipelines",
            Flash::success(format!("Pipeline {} saved.", p.name)),
            state.config.secure_cookies,
        ),
        Err(AppError::NotFound) => not_found_page(),
        Err(AppError::Forbidden) => done(&state, "/settings/pipelines", Err(AppError::Forbidden), ""),
        Err(e) => {
            // Show what was typed, with the message, in this pipeline's box.
            let message = match &e {
                AppError::Conflict(kith_app::ErrorCode::InUse, _) => {
                    "A stage you removed still holds deals, so nothing was saved. Move its deals to another stage on \
                     the board first, then remove it."
                        .to_string()
                }
                _ => message_of(e),
            };
            let mut stages: Vec<StageItem> = ordered
                .into_iter()
                .enumerate()
                .filter(|(_, (_, _, r))| !(r.id.is_empty() && r.name.trim().is_empty()))
                .map(|(index, (_, _, r))| StageItem { index, id: r.id, name: r.name, probability: r.probability })
                .collect();
            let n = stages.len();
            stages.extend((0..BLANK_ROWS).map(|i| StageItem {
                index: n + i,
                id: String::new(),
                name: String::new(),
                probability: String::new(),
            }));
            let failed = PipelineItem {
                id: pipeline_id.to_string(),
                name,
                version: version.unwrap_or(0),
                stages,
                error: Some(message),
            };
            view(&state, &ui, &ctx, Some(failed), String::new(), Errors::default()).await
        }
    }
}
