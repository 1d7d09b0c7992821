//! Deals: the table, the board (kanban) of a pipeline, the new-deal form,
//! the record page, and moving a deal to another stage — one endpoint for
//! the plain form on each card and for the script (drag and drop, keyboard).

use super::crm::*;
use super::pages::*;
use super::{redirect_with, render, require_context, Flash, UiCtx};
use crate::extract::RequestOrigin;
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use kith_app::crm::deals::{self, Deal, DealInput, DealStatus};
use kith_app::crm::{contacts, pipelines};
use kith_app::records::ListFilter;
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use kith_domain::page::PageRequest;
use serde::Deserialize;
use uuid::Uuid;

const STATUSES: [(&str, &str); 3] = [("open", "Open"), ("won", "Won"), ("lost", "Lost")];

// ---------- board ----------

#[derive(Deserialize, Default)]
pub struct BoardQuery {
    #[serde(default)]
    pipeline: Option<String>,
}

pub async fn board_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<BoardQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let wanted = match q.pipeline.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => match parse_id(p) {
            Some(id) => Some(id),
            None => return not_found_page(),
        },
        None => None,
    };
    let board = match deals::board(&state.app, &ctx, wanted).await {
        Ok(b) => b,
        Err(e) => return load_error(e),
    };
    let people = People::load(&state, &ctx).await;
    let all = pipelines::list(&state.app, &ctx).await.unwrap_or_default();
    let current = board.pipeline.id.to_string();
    let columns: Vec<ColumnView> = board
        .columns
        .into_iter()
        .map(|c| ColumnView {
            id: c.stage.id.to_string(),
            name: c.stage.name,
            probability: c.stage.probability,
            count: c.count,
            totals: c
                .totals
                .into_iter()
                .map(|t| TotalView {
                    text: fmt_money(t.value_minor, &t.currency),
                    currency: t.currency,
                    minor: t.value_minor,
                })
                .collect(),
            cards: c
                .deals
                .into_iter()
                .map(|d| {
                    let owner = people.name(d.owner_id);
                    CardView {
                        id: d.id.to_string(),
                        value: fmt_money(d.value_minor, &d.currency),
                        value_minor: d.value_minor,
                        currency: d.currency,
                        owner_initials: if owner.is_empty() { String::new() } else { initials(&owner) },
                        owner,
                        stage_id: d.stage_id.to_string(),
                        version: d.version,
                        close: d.expected_close.unwrap_or_default(),
                        title: d.title,
                    }
                })
                .collect(),
        })
        .collect();
    let empty = columns.iter().all(|c| c.count == 0);
    let here = format!("/deals/board?pipeline={current}");
    let shell = with_wide(Shell::build(&state, &ui, &auth, Some(&ctx), "Board", "deals", "").await);
    render(&BoardPage {
        shell,
        pipelines: all.iter().map(|p| Opt::new(p.id.to_string(), p.name.clone(), &current)).collect(),
        pipeline_name: board.pipeline.name,
        pipeline_id: current,
        columns,
        here,
        empty,
    })
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    stage_id: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    return_to: Option<String>,
}

fn json_error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({"ok": false, "error": message}))).into_response()
}

/// `POST /deals/{id}/stage`: move a deal. A script asking for JSON gets
/// `{"ok": true, …}` (or `{"ok": false, "error"}` with the status); a form
/// gets a redirect back with a message.
pub async fn move_stage(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<MoveForm>,
) -> Response {
    let json = wants_json(&headers);
    let ctx = match require_context(&state, &ui).await {
        Ok((_, ctx)) => ctx,
        Err(_) if json => return json_error(StatusCode::UNAUTHORIZED, "Your session ended. Sign in again.".into()),
        Err(r) => return r,
    };
    let Some(id) = parse_id(&id) else {
        return if json {
            json_error(StatusCode::NOT_FOUND, "This deal does not exist.".into())
        } else {
            not_found_page()
        };
    };
    let back = local_path(f.return_to.as_deref()).unwrap_or_else(|| format!("/deals/{id}"));
    let result = match parse_id(&f.stage_id) {
        Some(stage) => {
            let input = DealInput { stage_id: Some(stage), ..Default::default() };
            deals::update(&state.app, &ctx, id, &input, f.version).await
        }
        None => Err(AppError::field("stage_id", "choose a stage")),
    };
    match result {
        Ok(d) => {
            let stage = Stages::load(&state, &ctx).await.name(d.stage_id);
            if json {
                Json(serde_json::json!({
                    "ok": true,
                    "id": d.id,
                    "stage_id": d.stage_id,
                    "stage": stage,
                    "version": d.version,
                }))
                .into_response()
            } else {
                redirect_with(
                    &back,
                    Flash::success(format!("Moved {} to {stage}.", d.title)),
                    state.config.secure_cookies,
                )
            }
        }
        Err(e) if json => {
            let status = crate::error::status_of(e.code());
            let message = match e {
                AppError::StaleVersion => {
                    "Someone else changed this deal meanwhile. Reload the board to see where it is now.".into()
                }
                other => message_of(other),
            };
            json_error(status, message)
        }
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => done(&state, &back, Err(e), ""),
    }
}

// ---------- form ----------

/// The deal form as posted (contacts repeat, so the pairs are read as they come).
#[derive(Default)]
struct Fields {
    title: String,
    value: String,
    currency: String,
    stage_id: String,
    expected_close: String,
    company_id: String,
    contact_ids: Vec<String>,
    status: String,
    lost_reason: String,
    visibility: String,
    team_id: String,
    tags: String,
    version: Option<i64>,
}

const SHOWN: [&str; 12] = [
    "title",
    "value",
    "currency",
    "stage_id",
    "expected_close",
    "company_id",
    "contact_ids",
    "status",
    "lost_reason",
    "visibility",
    "team_id",
    "tags",
];

impl Fields {
    fn from_pairs(pairs: Vec<(String, String)>) -> Fields {
        let mut f = Fields::default();
        for (k, v) in pairs {
            match k.as_str() {
                "title" => f.title = v,
                "value" => f.value = v,
                "currency" => f.currency = v,
                "stage_id" => f.stage_id = v,
                "expected_close" => f.expected_close = v,
                "company_id" => f.company_id = v,
                "contact_ids" if !v.trim().is_empty() => f.contact_ids.push(v),
                "status" => f.status = v,
                "lost_reason" => f.lost_reason = v,
                "visibility" => f.visibility = v,
                "team_id" => f.team_id = v,
                "tags" => f.tags = v,
                "version" => f.version = v.parse().ok(),
                _ => {}
            }
        }
        f
    }

    /// For a new deal (`new`), or the edit form of the record page.
    fn input(&self, new: bool) -> Result<DealInput, AppError> {
        let mut v = kith_app::error::Validator::default();
        let value = v.check("value", parse_money(&self.value));
        let (visibility, team_id) = parse_placement(&self.visibility, &self.team_id)?;
        let company = parse_opt_id("company_id", &self.company_id)?;
        let contacts = self
            .contact_ids
            .iter()
            .map(|c| Uuid::try_parse(c.trim()).map_err(|_| AppError::field("contact_ids", "lists an unknown contact")))
            .collect::<Result<Vec<_>, _>>()?;
        let status = match self.status.as_str() {
            "" => None,
            s => Some(DealStatus::parse(s).ok_or_else(|| AppError::field("status", "is not a choice"))?),
        };
        v.finish()?;
        let mut input = DealInput {
            title: Some(self.title.clone()),
            value_minor: value,
            // Left empty: the deal keeps its currency (a new one gets the default).
            currency: Some(self.currency.trim().to_string()).filter(|c| !c.is_empty()),
            expected_close: Some(self.expected_close.clone()),
            company_id: Some(company),
            visibility,
            team_id,
            tags: Some(split_list(&self.tags)),
            status,
            ..Default::default()
        };
        if new {
            input.stage_id = parse_opt_id("stage_id", &self.stage_id)?;
            input.contact_ids = Some(contacts);
        } else {
            input.lost_reason = Some(self.lost_reason.clone());
        }
        Ok(input)
    }

    fn form(self) -> DealForm {
        DealForm {
            title: self.title,
            value: self.value,
            currency: self.currency,
            stage_id: self.stage_id,
            expected_close: self.expected_close,
            company_id: self.company_id,
            contact_ids: self.contact_ids,
            status: self.status,
            lost_reason: self.lost_reason,
            visibility: self.visibility,
            team_id: self.team_id,
            tags: self.tags,
            version: self.version.unwrap_or(0),
        }
    }
}

fn form_of(d: &Deal) -> DealForm {
    DealForm {
        title: d.title.clone(),
        value: minor_to_input(d.value_minor),
        currency: d.currency.clone(),
        stage_id: d.stage_id.to_string(),
        expected_close: d.expected_close.clone().unwrap_or_default(),
        company_id: d.company_id.map(|i| i.to_string()).unwrap_or_default(),
        contact_ids: d.contact_ids.iter().map(Uuid::to_string).collect(),
        status: d.status.as_str().into(),
        lost_reason: d.lost_reason.clone().unwrap_or_default(),
        visibility: d.visibility.as_str().into(),
        team_id: d.team_id.map(|i| i.to_string()).unwrap_or_default(),
        tags: tags_text(&d.tags),
        version: d.version,
    }
}

/// Every stage of every pipeline, grouped by pipeline (a workspace without
/// one gets the default pipeline now).
async fn stage_groups(state: &WebState, ctx: &Context, current: &str) -> Vec<OptGroup> {
    let mut list = pipelines::list(&state.app, ctx).await.unwrap_or_default();
    if list.is_empty() {
        list = pipelines::default_pipeline(&state.app, ctx).await.map(|p| vec![p]).unwrap_or_default();
    }
    list.into_iter()
        .map(|p| OptGroup {
            label: p.name,
            opts: p.stages.into_iter().map(|s| Opt::new(s.id.to_string(), s.name, current)).collect(),
        })
        .collect()
}

async fn new_view(state: &WebState, ui: &UiCtx, ctx: &Context, form: DealForm, errors: Errors) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let shell = Shell::build(state, ui, &auth, Some(ctx), "New deal", "deals", "").await;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let people =
        contacts::list(&state.app, ctx, &ListFilter::default(), Default::default(), &PageRequest::new(Some(200), None))
            .await
            .map(|p| p.items)
            .unwrap_or_default();
    let mut contact_opts: Vec<Opt> = people
        .into_iter()
        .map(|c| {
            let id = c.id.to_string();
            Opt { selected: form.contact_ids.contains(&id), value: id, label: c.display_name }
        })
        .collect();
    contact_opts.sort_by_key(|o| o.label.to_lowercase());
    render_status(
        status,
        &DealNewPage {
            shell,
            stages: stage_groups(state, ctx, &form.stage_id).await,
            companies: company_opts(state, ctx, &form.company_id).await,
            contacts: contact_opts,
            place: placement(state, ctx, &form.visibility, &form.team_id).await,
            form,
            errors,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    contact: Option<String>,
    #[serde(default)]
    company: Option<String>,
    #[serde(default)]
    stage: Option<String>,
}

pub async fn new_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<NewQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let mut company = q.company.unwrap_or_default();
    let mut contact_ids = vec![];
    if let Some(c) = q.contact.as_deref().and_then(parse_id) {
        if let Ok(contact) = contacts::get(&state.app, &ctx, c).await {
            if company.is_empty() {
                company = contact.company_id.map(|i| i.to_string()).unwrap_or_default();
            }
            contact_ids.push(c.to_string());
        }
    }
    let form = DealForm {
        currency: "USD".into(),
        visibility: "everyone".into(),
        company_id: company,
        contact_ids,
        stage_id: q.stage.unwrap_or_default(),
        ..Default::default()
    };
    new_view(&state, &ui, &ctx, form, Errors::default()).await
}

pub async fn create(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let f = Fields::from_pairs(pairs);
    let result = match f.input(true) {
        Ok(input) => deals::create(&state.app, &ctx, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(d) => redirect_with(
            &format!("/deals/{}", d.id),
            Flash::success(format!("Deal {} created.", d.title)),
            state.config.secure_cookies,
        ),
        Err(e) => {
            let errors = form_errors(e, &SHOWN).rename("value_minor", "value").rename("pipeline_id", "stage_id");
            new_view(&state, &ui, &ctx, f.form(), errors).await
        }
    }
}

// ---------- record page ----------

async fn record_page(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    deal: Deal,
    edit: Option<(DealForm, Errors)>,
    older: Option<&str>,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let people = People::load(state, ctx).await;
    let pipeline = pipelines::get(&state.app, ctx, deal.pipeline_id).await.ok();
    let stage = pipeline
        .as_ref()
        .and_then(|p| p.stages.iter().find(|s| s.id == deal.stage_id))
        .map(|s| format!("{} · {} %", s.name, s.probability))
        .unwrap_or_default();
    let current = deal.stage_id.to_string();
    let stage_opts = pipeline
        .as_ref()
        .map(|p| p.stages.iter().map(|s| Opt::new(s.id.to_string(), s.name.clone(), &current)).collect())
        .unwrap_or_default();
    let mut linked = Vec::new();
    for id in &deal.contact_ids {
        if let Ok(c) = contacts::get(&state.app, ctx, *id).await {
            linked.push(ContactMini {
                id: c.id.to_string(),
                name: c.display_name,
                detail: c.title.or_else(|| c.emails.first().map(|e| e.value.clone())).unwrap_or_default(),
            });
        }
    }
    // People who could be linked: visible ones by name, the first 200.
    let by_name = kith_app::records::Sort::parse(RecordType::Contact, "name").expect("a contact sort");
    let first = kith_app::records::SortedPageRequest::new(Some(200), None);
    let candidates = contacts::list_sorted(&state.app, ctx, &ListFilter::default(), &by_name, &first)
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let mut contact_opts = vec![Opt::new("", "Choose a person…", "")];
    contact_opts.extend(
        candidates
            .into_iter()
            .filter(|c| !deal.contact_ids.contains(&c.id))
            .map(|c| Opt::new(c.id.to_string(), c.display_name, "")),
    );
    let company = company_link(state, ctx, deal.company_id).await;
    let rec = record_view(state, ctx, &people, RecordType::Deal, deal.id, older).await;
    let (form, errors) = edit.unwrap_or_else(|| (form_of(&deal), Errors::default()));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let shell = with_wide(Shell::build(state, ui, &auth, Some(ctx), &deal.title, "deals", "").await);
    render_status(
        status,
        &DealPage {
            shell,
            id: deal.id.to_string(),
            title: deal.title.clone(),
            value: fmt_money(deal.value_minor, &deal.currency),
            status: deal.status.as_str().into(),
            pipeline: Link {
                url: format!("/deals/board?pipeline={}", deal.pipeline_id),
                name: pipeline.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
            },
            stage,
            stage_opts,
            version: deal.version,
            company,
            contacts: linked,
            contact_opts,
            tags: deal.tags.iter().map(|t| Link { url: String::new(), name: t.clone() }).collect(),
            owner: people.name(deal.owner_id),
            visibility: visibility_label(deal.visibility).into(),
            created: When::new(deal.created_at_ms),
            updated: When::new(deal.updated_at_ms),
            closed: deal.closed_at_ms.map(When::new),
            statuses: STATUSES.iter().map(|(v, l)| Opt::new(*v, *l, &form.status)).collect(),
            companies: company_opts(state, ctx, &form.company_id).await,
            place: placement(state, ctx, &form.visibility, &form.team_id).await,
            form,
            errors,
            rec,
        },
    )
}

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<super::contacts::RecordQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    match deals::get(&state.app, &ctx, id).await {
        Ok(d) => record_page(&state, &ui, &ctx, d, None, q.older.as_deref()).await,
        Err(e) => load_error(e),
    }
}

pub async fn update(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let f = Fields::from_pairs(pairs);
    let current = match deals::get(&state.app, &ctx, id).await {
        Ok(d) => d,
        Err(e) => return load_error(e),
    };
    let result = match f.input(false) {
        Ok(input) => deals::update(&state.app, &ctx, id, &input, f.version).await,
        Err(e) => Err(e),
    };
    let to = format!("/deals/{id}");
    match result {
        Ok(_) => redirect_with(&to, Flash::success("Saved."), state.config.secure_cookies),
        Err(AppError::StaleVersion) => done(&state, &to, Err(AppError::StaleVersion), ""),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => {
            let errors = form_errors(e, &SHOWN).rename("value_minor", "value");
            record_page(&state, &ui, &ctx, current, Some((f.form(), errors)), None).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct LinkForm {
    #[serde(default)]
    contact_id: String,
}

/// `POST /deals/{id}/contacts`: link one more person (one the viewer can see).
pub async fn link_contact(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let to = format!("/deals/{id}#people");
    let Some(contact) = parse_id(&f.contact_id) else {
        return done(&state, &to, Err(AppError::field("contact_id", "choose the person to link")), "");
    };
    match deals::link_contact(&state.app, &ctx, id, contact, None).await {
        Ok(_) => {
            let name = contacts::get(&state.app, &ctx, contact).await.map(|c| c.display_name).unwrap_or_default();
            done(&state, &to, Ok(()), &format!("{name} is linked to this deal."))
        }
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => done(&state, &to, Err(e), ""),
    }
}

/// `POST /deals/{id}/contacts/{contact_id}/remove`: unlink a person.
pub async fn unlink_contact(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path((id, contact_id)): Path<(String, String)>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let (Some(id), Some(contact)) = (parse_id(&id), parse_id(&contact_id)) else { return not_found_page() };
    let to = format!("/deals/{id}#people");
    let name = contacts::get(&state.app, &ctx, contact).await.map(|c| c.display_name).unwrap_or_default();
    match deals::unlink_contact(&state.app, &ctx, id, contact, None).await {
        Ok(_) => done(&state, &to, Ok(()), &format!("{name} is no longer linked to this deal.")),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => done(&state, &to, Err(e), ""),
    }
}

pub async fn delete_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let d = match deals::get(&state.app, &ctx, id).await {
        Ok(d) => d,
        Err(e) => return load_error(e),
    };
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Delete deal", "deals", "").await;
    render(&ConfirmPage {
        shell,
        heading: format!("Delete {}?", d.title),
        message: "The deal, its stage history, notes and logged activities are deleted for everyone. This cannot be \
                  undone."
            .into(),
        action: format!("/deals/{id}/delete"),
        button: "Delete deal".into(),
        cancel: format!("/deals/{id}"),
    })
}

pub async fn delete(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    match deals::delete(&state.app, &ctx, id, &origin).await {
        Ok(()) => redirect_with("/deals", Flash::success("Deal deleted."), state.config.secure_cookies),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => done(&state, &format!("/deals/{id}"), Err(e), ""),
    }
}
