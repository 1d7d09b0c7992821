//! Contacts: the list (filters, keyset pages), the new-contact form, and the
//! record page (fields with inline edit, timeline, related deals, delete).

use super::crm::*;
use super::pages::*;
use super::{redirect_with, render, Flash, UiCtx};
use crate::extract::RequestOrigin;
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use kith_app::ai::assist;
use kith_app::crm::contacts::{self, Contact, ContactInput, LabeledValue};
use kith_app::crm::{deals, tags};
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use serde::Deserialize;

/// The tag filter's options (by name), "All tags" first.
pub async fn tag_opts(state: &WebState, ctx: &Context, current: &str) -> Vec<Opt> {
    let (list, _) = tags::list(&state.app, ctx, None, 200).await.unwrap_or_default();
    let mut opts = vec![Opt::new("", "All tags", current)];
    opts.extend(list.into_iter().map(|t| {
        let selected = t.name.eq_ignore_ascii_case(current);
        Opt { value: t.name.clone(), label: t.name, selected }
    }));
    opts
}

/// The contact form as posted.
#[derive(Deserialize, Default)]
pub struct Fields {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    company_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    version: Option<i64>,
}

const SHOWN: [&str; 9] =
    ["first_name", "last_name", "email", "phone", "company_id", "title", "visibility", "team_id", "tags"];

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl Fields {
    /// The input for the app; labels of e-mails and phones that stay are kept.
    fn input(&self, current: Option<&Contact>) -> Result<ContactInput, AppError> {
        let (visibility, team_id) = parse_placement(&self.visibility, &self.team_id)?;
        let company = parse_opt_id("company_id", &self.company_id)?;
        let emails = split_list(&self.email)
            .into_iter()
            .map(|value| {
                let label = current.and_then(|c| {
                    c.emails.iter().find(|e| e.value.eq_ignore_ascii_case(&value)).and_then(|e| e.label.clone())
                });
                LabeledValue { value, label }
            })
            .collect();
        let phones = split_list(&self.phone)
            .into_iter()
            .map(|value| {
                let label = current.and_then(|c| {
                    c.phones.iter().find(|p| digits(&p.value) == digits(&value)).and_then(|p| p.label.clone())
                });
                LabeledValue { value, label }
            })
            .collect();
        Ok(ContactInput {
            first_name: Some(self.first_name.clone()),
            last_name: Some(self.last_name.clone()),
            emails: Some(emails),
            phones: Some(phones),
            company_id: Some(company),
            title: Some(self.title.clone()),
            visibility,
            team_id,
            tags: Some(split_list(&self.tags)),
            ..Default::default()
        })
    }

    fn form(self) -> ContactForm {
        ContactForm {
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            phone: self.phone,
            company_id: self.company_id,
            title: self.title,
            visibility: self.visibility,
            team_id: self.team_id,
            tags: self.tags,
            version: self.version.unwrap_or(0),
        }
    }
}

fn form_of(c: &Contact) -> ContactForm {
    ContactForm {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        email: c.emails.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(", "),
        phone: c.phones.iter().map(|p| fmt_phone(&p.value)).collect::<Vec<_>>().join(", "),
        company_id: c.company_id.map(|i| i.to_string()).unwrap_or_default(),
        title: c.title.clone().unwrap_or_default(),
        visibility: c.visibility.as_str().into(),
        team_id: c.team_id.map(|i| i.to_string()).unwrap_or_default(),
        tags: tags_text(&c.tags),
        version: c.version,
    }
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    company: Option<String>,
}

async fn new_view(state: &WebState, ui: &UiCtx, ctx: &Context, form: ContactForm, errors: Errors) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let shell = Shell::build(state, ui, &auth, Some(ctx), "New contact", "contacts", "").await;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    render_status(
        status,
        &ContactNewPage {
            shell,
            companies: company_opts(state, ctx, &form.company_id).await,
            place: placement(state, ctx, &form.visibility, &form.team_id).await,
            form,
            errors,
        },
    )
}

pub async fn new_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<NewQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let form =
        ContactForm { visibility: "everyone".into(), company_id: q.company.unwrap_or_default(), ..Default::default() };
    new_view(&state, &ui, &ctx, form, Errors::default()).await
}

pub async fn create(State(state): State<WebState>, Extension(ui): Extension<UiCtx>, Form(f): Form<Fields>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = match f.input(None) {
        Ok(input) => contacts::create(&state.app, &ctx, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => redirect_with(
            &format!("/contacts/{}", c.id),
            Flash::success(format!("Contact {} created.", c.display_name)),
            state.config.secure_cookies,
        ),
        Err(e) => new_view(&state, &ui, &ctx, f.form(), form_errors(e, &SHOWN)).await,
    }
}

#[derive(Deserialize, Default)]
pub struct RecordQuery {
    #[serde(default)]
    pub older: Option<String>,
}

async fn record_page(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    contact: Contact,
    edit: Option<(ContactForm, Errors)>,
    older: Option<&str>,
) -> Response {
    record_page_with(state, ui, ctx, contact, edit, older, None).await
}

/// The summary card's extras: a spoken summary or why there is none.
#[derive(Default)]
struct Spoken {
    audio: Option<(String, When)>,
    error: Option<String>,
}

async fn record_page_with(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    contact: Contact,
    edit: Option<(ContactForm, Errors)>,
    older: Option<&str>,
    summary: Option<SummaryCard>,
) -> Response {
    record_page_spoken(state, ui, ctx, contact, edit, older, summary, Spoken::default()).await
}

#[allow(clippy::too_many_arguments)]
async fn record_page_spoken(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    contact: Contact,
    edit: Option<(ContactForm, Errors)>,
    older: Option<&str>,
    summary: Option<SummaryCard>,
    spoken: Spoken,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let people = People::load(state, ctx).await;
    let stages = Stages::load(state, ctx).await;
    let company = company_link(state, ctx, contact.company_id).await;
    let related = deals::of_contact(&state.app, ctx, contact.id).await.unwrap_or_default();
    let duplicates = kith_app::crm::duplicates::of_contact(&state.app, ctx, contact.id).await.unwrap_or_default();
    let related_contacts = assist::related_contacts(&state.app, ctx, contact.id).await.unwrap_or_default();
    let switches = kith_app::ai::settings::switches(&state.app, ctx.org_id).await.unwrap_or_default();
    let can_summarise = switches.features.summaries;
    let can_listen = switches.features.speech && switches.speech_model;
    let rec = record_view(state, ctx, &people, RecordType::Contact, contact.id, older).await;
    let (form, errors) = edit.unwrap_or_else(|| (form_of(&contact), Errors::default()));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let subtitle = match (&contact.title, &company) {
        (Some(t), Some(c)) => format!("{t} at {}", c.name),
        (Some(t), None) => t.clone(),
        (None, Some(c)) => c.name.clone(),
        (None, None) => String::new(),
    };
    let shell = with_wide(Shell::build(state, ui, &auth, Some(ctx), &contact.display_name, "contacts", "").await);
    render_status(
        status,
        &ContactPage {
            shell,
            id: contact.id.to_string(),
            initials: initials(&contact.display_name),
            name: contact.display_name.clone(),
            subtitle,
            company,
            emails: contact.emails.iter().map(|e| e.value.clone()).collect(),
            phones: contact.phones.iter().map(|p| (format!("tel:{}", p.value), fmt_phone(&p.value))).collect(),
            tags: tag_links("/contacts", &contact.tags),
            owner: people.name(contact.owner_id),
            visibility: visibility_label(contact.visibility).into(),
            created: When::new(contact.created_at_ms),
            updated: When::new(contact.updated_at_ms),
            companies: company_opts(state, ctx, &form.company_id).await,
            place: placement(state, ctx, &form.visibility, &form.team_id).await,
            form,
            errors,
            rec,
            deals: related.iter().map(|d| deal_mini(d, &stages)).collect(),
            duplicates: duplicates
                .iter()
                .map(|d| ContactMini {
                    id: d.contact.id.to_string(),
                    name: d.contact.display_name.clone(),
                    detail: d
                        .reasons
                        .iter()
                        .map(|r| match r.as_str() {
                            "email" => "same e-mail",
                            "phone" => "same phone",
                            _ => "same name and company",
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
            version: contact.version,
            related_contacts: related_contacts
                .into_iter()
                .map(|r| ContactMini {
                    id: r.id.to_string(),
                    name: r.name,
                    detail: r
                        .reasons
                        .iter()
                        .map(|x| match x.as_str() {
                            "company" => "same company",
                            "email_domain" => "same e-mail domain",
                            "similar_profile" => "similar profile",
                            _ => "shares a deal",
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
            can_summarise,
            summary,
            can_listen,
            audio: spoken.audio,
            speech_error: spoken.error,
        },
    )
}

/// The Summarise button: the contact page again, with its summary (by the model, or extractive without an AI
/// endpoint — labelled either way).
pub async fn summarise(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let contact = match contacts::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(e) => return load_error(e),
    };
    let card = match assist::contact_summary(&state.app, &ctx, id).await {
        Ok(s) => SummaryCard {
            label: if s.mode == assist::MODE_MODEL { "AI summary" } else { "Extractive summary (no AI endpoint)" }
                .into(),
            text: s.text,
            error: None,
        },
        Err(AppError::NotFound) => return not_found_page(),
        Err(e) => SummaryCard { label: "No summary".into(), text: String::new(), error: Some(e.to_string()) },
    };
    record_page_with(&state, &ui, &ctx, contact, None, None, Some(card)).await
}

/// The Listen button: the contact's summary made and spoken; the page again with it and an audio player.
pub async fn speak(State(state): State<WebState>, Extension(ui): Extension<UiCtx>, Path(id): Path<String>) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let contact = match contacts::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(e) => return load_error(e),
    };
    let mut spoken = Spoken::default();
    let mut card = None;
    match assist::speech_ready(&state.app, &ctx).await {
        Err(e) => spoken.error = Some(e.to_string()),
        Ok(()) => match assist::contact_summary(&state.app, &ctx, id).await {
            Err(e) => spoken.error = Some(e.to_string()),
            Ok(s) => {
                let text: String = s.text.chars().take(assist::MAX_SPEECH_CHARS).collect();
                match assist::speak_for(&state.app, &ctx, &text, assist::SpeechSource::Contact(id)).await {
                    Ok(f) => spoken.audio = Some((f.file_id.to_string(), When::new(f.expires_at_ms))),
                    Err(e) => spoken.error = Some(e.to_string()),
                }
                let label =
                    if s.mode == assist::MODE_MODEL { "AI summary" } else { "Extractive summary (no AI endpoint)" };
                card = Some(SummaryCard { label: label.into(), text: s.text, error: None });
            }
        },
    }
    record_page_spoken(&state, &ui, &ctx, contact, None, None, card, spoken).await
}

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    match contacts::get(&state.app, &ctx, id).await {
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
    let current = match contacts::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(e) => return load_error(e),
    };
    let result = match f.input(Some(&current)) {
        Ok(input) => contacts::update(&state.app, &ctx, id, &input, f.version).await,
        Err(e) => Err(e),
    };
    let to = format!("/contacts/{id}");
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
    let c = match contacts::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(e) => return load_error(e),
    };
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Delete contact", "contacts", "").await;
    render(&ConfirmPage {
        shell,
        heading: format!("Delete {}?", c.display_name),
        message: "The contact, its notes and logged activities are deleted for everyone. Its tasks stay in the task \
                  lists, no longer linked. This cannot be undone."
            .into(),
        action: format!("/contacts/{id}/delete"),
        button: "Delete contact".into(),
        cancel: format!("/contacts/{id}"),
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
    match contacts::delete(&state.app, &ctx, id, &origin).await {
        Ok(()) => redirect_with("/contacts", Flash::success("Contact deleted."), state.config.secure_cookies),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => done(&state, &format!("/contacts/{id}"), Err(e), ""),
    }
}

#[derive(Deserialize)]
pub struct MergeForm {
    pub other_id: String,
    #[serde(default)]
    pub version: Option<i64>,
}

/// Fold a duplicate into this contact (the form on the contact page).
pub async fn merge(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    Form(f): Form<MergeForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let (Some(id), Some(other)) = (parse_id(&id), parse_id(&f.other_id)) else { return not_found_page() };
    let to = format!("/contacts/{id}");
    let result = kith_app::crm::duplicates::merge(&state.app, &ctx, id, other, f.version, &origin).await;
    match result {
        Ok(c) => redirect_with(
            &to,
            Flash::success(format!("Merged into {}; notes, tasks, deals and tags came along.", c.display_name)),
            state.config.secure_cookies,
        ),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => done(&state, &to, Err(e), ""),
    }
}
