//! The task inbox: overdue, today, open and done, each task with a "Done"
//! checkbox (a form), a link to its record and a quick-add form.

use super::crm::{self, done, local_path, not_found_page, parse_id, record_url, render_status, TaskForm};
use super::pages::{Errors, Link, Shell, TaskItem, TasksPage, When};
use super::UiCtx;
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use kith_app::crm::tasks::{self, TaskInput, TaskView};
use kith_app::crm::{companies, contacts, deals};
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use kith_domain::page::{Cursor, PageRequest};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct TasksQuery {
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

fn view_of(raw: Option<&str>) -> Option<(TaskView, &'static str)> {
    Some(match raw.unwrap_or("open") {
        "overdue" => (TaskView::Overdue, "overdue"),
        "today" => (TaskView::Today, "today"),
        "open" | "" => (TaskView::Open, "open"),
        "done" => (TaskView::Done, "done"),
        _ => return None,
    })
}

/// The name of a task's record, if the viewer may see it.
async fn record_name(state: &WebState, ctx: &Context, t: RecordType, id: Uuid) -> Option<String> {
    match t {
        RecordType::Contact => contacts::get(&state.app, ctx, id).await.ok().map(|c| c.display_name),
        RecordType::Company => companies::get(&state.app, ctx, id).await.ok().map(|c| c.name),
        RecordType::Deal => deals::get(&state.app, ctx, id).await.ok().map(|d| d.title),
    }
}

async fn view(
    state: &WebState,
    ui: &UiCtx,
    ctx: &Context,
    headers: &HeaderMap,
    q: &TasksQuery,
    form: TaskForm,
    errors: Errors,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let Some((which, name)) = view_of(q.view.as_deref()) else { return not_found_page() };
    let page = PageRequest::new(Some(50), q.cursor.as_deref().and_then(Cursor::decode));
    let list = match tasks::list(&state.app, ctx, None, which, Some(crm::day_end(headers)), &page).await {
        Ok(l) => l,
        Err(e) => return crm::load_error(e),
    };
    let now = kith_domain::time::now_ms();
    let mut names: HashMap<Uuid, Option<String>> = HashMap::new();
    let mut items = Vec::with_capacity(list.items.len());
    for t in list.items {
        let record = match (t.record_type, t.record_id) {
            (Some(rt), Some(id)) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
                    slot.insert(record_name(state, ctx, rt, id).await);
                }
                names.get(&id).cloned().flatten().map(|name| Link { url: record_url(rt, id), name })
            }
            _ => None,
        };
        items.push(TaskItem {
            id: t.id.to_string(),
            title: t.title,
            done: t.done,
            version: t.version,
            overdue: !t.done && t.due_at_ms.is_some_and(|d| d < now),
            due: t.due_at_ms.map(When::new),
            record,
        });
    }
    let next_url = list.next.map(|c| format!("/tasks?view={name}&cursor={}", c.encode()));
    let shell = Shell::build(state, ui, &auth, Some(ctx), "Tasks", "tasks", name).await;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    render_status(
        status,
        &TasksPage { shell, view: name, tasks: items, next_url, form, errors, here: format!("/tasks?view={name}") },
    )
}

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Query(q): Query<TasksQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    view(&state, &ui, &ctx, &headers, &q, TaskForm::default(), Errors::default()).await
}

pub async fn create(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Form(f): Form<TaskForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let result = match f.input(&headers, None) {
        Ok(input) => tasks::create(&state.app, &ctx, &input).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => done(&state, "/tasks?view=open", Ok(()), "Task added."),
        Err(e) => {
            let errors = Errors::from_app(e).rename("due_at_ms", "due_date").only(&["title", "due_date"]);
            let q = TasksQuery { view: Some("open".into()), cursor: None };
            view(&state, &ui, &ctx, &headers, &q, f, errors).await
        }
    }
}

#[derive(Deserialize)]
pub struct DoneForm {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    return_to: Option<String>,
}

/// Tick or untick a task. The checkbox sends `done=1` when ticked; the
/// form always carries the version it showed.
pub async fn set_done(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(f): Form<DoneForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let back = local_path(f.return_to.as_deref()).unwrap_or_else(|| "/tasks".into());
    let is_done = f.done.as_deref().is_some_and(|v| !v.is_empty() && v != "0");
    let input = TaskInput { done: Some(is_done), ..Default::default() };
    let result = tasks::update(&state.app, &ctx, id, &input, f.version).await;
    match result {
        Ok(t) => {
            let msg = if is_done { format!("Done: {}.", t.title) } else { format!("Open again: {}.", t.title) };
            done(&state, &back, Ok(()), &msg)
        }
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => done(&state, &back, Err(e), ""),
    }
}
