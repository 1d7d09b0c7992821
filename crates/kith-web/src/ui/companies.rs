//! Companies: the list, the new-company form, and the record page with its
//! people and deals.

use super::contacts::RecordQuery;
use super::crm::*;
use super::pages::*;
use super::{redirect_with, render, Flash, UiCtx};
use crate::extract::RequestOrigin;
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use kith_app::crm::companies::{self, Company, CompanyInput};
use kith_app::crm::{contacts, deals};
use kith_app::records::ListFilter;
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use kith_domain::page::{Page, PageRequest};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct Fields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    industry: String,
    #[serde(default)]
    size: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    version: Option<i64>,
}

const SHOWN: [&str; 7] = ["name", "domain", "industry", "size", "visibility", "team_id", "tags"];

impl Fields {
    fn input(&self) -> Result<CompanyInput, AppError> {
        let (visibility, team_id) = parse_placement(&self.visibility, &self.team_id)?;
        Ok(CompanyInput {
            name: Some(self.name.clone()),
            domain: Some(self.domain.clone()),
            industry: Some(self.industry.clone()),
            size: Some(self.size.clone()),
            visibility,
            team_id,
            tags: Some(split_list(&self.tags)),
            ..Default::default()
        })
    }

    fn form(self) -> CompanyForm {
        CompanyForm {
            name: self.name,
            domain: self.domain,
            industry: self.industry,
            size: self.size,
            visibility: self.visibility,
            team_id: self.team_id,
            tags: self.tags,
            version: self.version.unwrap_or(0),
        }
    }
}

fn form_of(c: &Company) -> CompanyForm {
    CompanyForm {
        name: c.name.clone(),
        domain: c.domain.clone().unwrap_or_default(),
        industry: c.industry.clone().unwrap_or_default(),
        size: c.size.clone().unwrap_or_default(),
        visibility: c.visibility.as_str().into(),
        team_id: c.team_id.map(|i| i.to_string()).unwrap_or_default(),
        tags: tags_text(&c.tags),
        version: c.version,
    }
}

async fn new_view(state: &WebState, ui: &UiCtx, ctx: &Context, form: CompanyForm, errors: Errors) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let shell = Shell::build(state, ui, &auth, Some(ctx), "New company", "companies", "").await;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    render_status(
        status,
        &CompanyNewPage { shell, place: placement(state, ctx, &form.visibility, &form.team_id).await, form, errors },
    )
}

pub async fn new_page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let form = CompanyForm { visibility: "everyone".into(), ..Default::default() };
    new_view(&state, &ui, &ctx, form, Errors::default()).await
}

pub async fn create(State(state): State<WebState>, Extension(ui): Extension<UiCtx>, Form(f): Form<Fields>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = match f.input() {
        Ok(input) => companies::create(&state.app, &ctx, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => redirect_with(
            &format!("/companies/{}", c.id),
            Flash::success(format!("Company {} created.", c.name)),
            state.config.secure_cookies,
        ),
        Err(e) => new_view(&state, &ui, &ctx, f.form(), form_errors(e, &SHOWN)).await,
    }
}

async fn record_page(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    company: Company,
    edit: Option<(CompanyForm, Errors)>,
    older: Option<&str>,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let people = People::load(state, ctx).await;
    let stages = Stages::load(state, ctx).await;
    let filter = ListFilter { company_id: Some(company.id), ..Default::default() };
    let page = PageRequest::new(Some(50), None);
    let people_here = contacts::list(&state.app, ctx, &filter, Default::default(), &page)
        .await
        .unwrap_or(Page { items: vec![], next: None });
    let related = deals::list(&state.app, ctx, &filter, Default::default(), &page).await.map(|p| p.items);
    let rec = record_view(state, ctx, &people, RecordType::Company, company.id, older).await;
    let (form, errors) = edit.unwrap_or_else(|| (form_of(&company), Errors::default()));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let shell = with_wide(Shell::build(state, ui, &auth, Some(ctx), &company.name, "companies", "").await);
    render_status(
        status,
        &CompanyPage {
            shell,
            id: company.id.to_string(),
            initials: initials(&company.name),
            name: company.name.clone(),
            domain: company.domain.clone().unwrap_or_default(),
            tags: tag_links("/companies", &company.tags),
            owner: people.name(company.owner_id),
            visibility: visibility_label(company.visibility).into(),
            created: When::new(company.created_at_ms),
            updated: When::new(company.updated_at_ms),
            place: placement(state, ctx, &form.visibility, &form.team_id).await,
            form,
            errors,
            rec,
            more_contacts: people_here.next.is_some(),
            contacts: people_here
                .items
                .iter()
                .map(|c| ContactMini {
                    id: c.id.to_string(),
                    name: c.display_name.clone(),
                    detail: c.title.clone().or_else(|| c.emails.first().map(|e| e.value.clone())).unwrap_or_default(),
                })
                .collect(),
            deals: related.unwrap_or_default().iter().map(|d| deal_mini(d, &stages)).collect(),
        },
    )
}

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    match companies::get(&state.app, &ctx, id).await {
        Ok(c) => record_page(&state, &ui, &ctx, c, None, q.older.as_deref()).await,
        Err(e) => load_error(e),
    }
}

pub async fn update(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let current = match companies::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(e) => return load_error(e),
    };
    let result = match f.input() {
        Ok(input) => companies::update(&state.app, &ctx, id, &input, f.version).await,
        Err(e) => Err(e),
    };
    let to = format!("/companies/{id}");
    match result {
        Ok(_) => redirect_with(&to, Flash::success("Saved."), state.config.secure_cookies),
        Err(AppError::StaleVersion) => done(&state, &to, Err(AppError::StaleVersion), ""),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => {
            let errors = form_errors(e, &SHOWN);
            record_page(&state, &ui, &ctx, current, Some((f.form(), errors)), None).await
        }
    }
}

pub async fn delete_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let c = match companies::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(e) => return load_error(e),
    };
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Delete company", "companies", "").await;
    render(&ConfirmPage {
        shell,
        heading: format!("Delete {}?", c.name),
        message: "The company, its notes and logged activities are deleted for everyone. Its people and deals stay. \
                  This cannot be undone."
            .into(),
        action: format!("/companies/{id}/delete"),
        button: "Delete company".into(),
        cancel: format!("/companies/{id}"),
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
    match companies::delete(&state.app, &ctx, id, &origin).await {
        Ok(()) => redirect_with("/companies", Flash::success("Company deleted."), state.config.secure_cookies),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => done(&state, &format!("/companies/{id}"), Err(e), ""),
    }
}
