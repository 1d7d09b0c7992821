//! The bulk bar of the record lists: tag, untag, assign an owner, delete
//! (after a page that names how many) or export the ticked records, or every
//! record the list's filters match. Changes run as the app's bulk job; its
//! page shows the progress and updates itself.

use super::crm::{done, load_error, local_path, not_found_page, parse_id, query_string};
use super::lists::{kind, ListState};
use super::pages::Shell;
use super::{redirect_with, render, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::{Extension, Form};
use kith_app::crm::bulk::{self, Bulk, BulkInput, BulkKind};
use kith_app::AppError;
use kith_domain::crm::RecordType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The bulk bar as posted (ids repeat, so the pairs are read as they come).
#[derive(Default)]
struct BulkForm {
    record_type: String,
    action: String,
    ids: Vec<Uuid>,
    all: bool,
    q: String,
    tag: String,
    owner_id: String,
    back: String,
    confirmed: bool,
}

impl BulkForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> BulkForm {
        let mut f = BulkForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "record_type" => f.record_type = v,
                "action" => f.action = v,
                "id" => f.ids.extend(Uuid::try_parse(v.trim()).ok().filter(|id| !f.ids.contains(id))),
                "all" => f.all = !v.is_empty() && v != "0",
                "q" => f.q = v,
                "tag" => f.tag = v,
                "owner_id" => f.owner_id = v,
                "back" => f.back = v,
                "confirmed" => f.confirmed = v == "1",
                _ => {}
            }
        }
        f
    }
}

#[derive(Template)]
#[template(path = "bulk_confirm.html")]
pub struct BulkConfirmPage {
    pub shell: Shell,
    pub heading: String,
    pub message: String,
    pub button: String,
    pub record_type: String,
    pub ids: Vec<String>,
    pub all: bool,
    pub q: String,
    pub back: String,
}

/// `POST /bulk`.
pub async fn start(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let f = BulkForm::from_pairs(pairs);
    let Some(rt) = RecordType::parse(&f.record_type) else { return not_found_page() };
    let k = kind(rt);
    let back = local_path(Some(&f.back)).unwrap_or_else(|| k.base.to_string());
    let fail = |message: String| redirect_with(&back, Flash::error(message), state.config.secure_cookies);

    let ids = if f.all {
        let st = ListState::parse(rt, Some(&f.q));
        if f.action == "export" {
            return Redirect::to(&format!("{}/export.csv{}", k.base, st.filter_qs())).into_response();
        }
        let filter = match st.list_filter(&state, &ctx).await {
            Ok(filter) => filter,
            Err(m) => return fail(m),
        };
        match bulk::ids_matching(&state.app, &ctx, rt, &filter).await {
            Ok(ids) => ids,
            Err(e) => return done(&state, &back, Err(e), ""),
        }
    } else {
        f.ids.clone()
    };
    if ids.is_empty() {
        return fail(if f.all {
            format!("No {} match these filters; nothing was changed.", k.many)
        } else {
            format!("Tick the {} to act on first (or choose every {} that matches).", k.many, k.one)
        });
    }
    let noun = |n: usize| format!("{n} {}", if n == 1 { k.one } else { k.many });
    let action = match f.action.as_str() {
        "export" => {
            let list = ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",");
            return Redirect::to(&format!("{}/export.csv{}", k.base, query_string(&[("ids", &list)]))).into_response();
        }
        "delete" if !f.confirmed => {
            let shell = Shell::build(&state, &ui, &auth, Some(&ctx), &format!("Delete {}", k.many), k.many, "").await;
            return render(&BulkConfirmPage {
                shell,
                heading: format!("Delete {}?", noun(ids.len())),
                message: format!(
                    "{} deleted for everyone, with their notes and logged activities. Any you may not delete are \
                     left as they are. This cannot be undone.",
                    if ids.len() == 1 { format!("The {} is", k.one) } else { format!("They are {}", k.many) },
                ),
                button: format!("Delete {}", noun(ids.len())),
                record_type: k.one.to_string(),
                ids: if f.all { vec![] } else { ids.iter().map(Uuid::to_string).collect() },
                all: f.all,
                q: f.q.clone(),
                back,
            });
        }
        "delete" => BulkKind::Delete,
        "tag" => BulkKind::Tag,
        "untag" => BulkKind::Untag,
        "assign" => BulkKind::Assign,
        _ => return fail("Choose what to do with the ticked records.".into()),
    };
    let tag = matches!(action, BulkKind::Tag | BulkKind::Untag).then(|| f.tag.trim().to_string());
    if tag.as_deref() == Some("") {
        return fail("Type the tag to add or remove.".into());
    }
    let owner_id = if action == BulkKind::Assign {
        match parse_id(&f.owner_id) {
            Some(id) => Some(id),
            None => return fail("Choose the new owner.".into()),
        }
    } else {
        None
    };
    let input = BulkInput { record_type: rt, action, ids, tag, owner_id };
    match bulk::start(&state.app, &ctx, &input).await {
        Ok(b) => Redirect::to(&format!("/bulk/{}{}", b.id, query_string(&[("back", &back)]))).into_response(),
        Err(e) => done(&state, &back, Err(e), ""),
    }
}

/// What the progress page and its JSON show.
#[derive(Serialize)]
pub struct BulkStatus {
    pub id: String,
    pub status: String,
    pub status_label: String,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub processed: i64,
    pub running: bool,
    pub finished: bool,
    pub ok: bool,
    pub has_failed: bool,
    pub error: String,
}

impl BulkStatus {
    fn of(b: &Bulk) -> BulkStatus {
        let finished = b.status == "done" || b.status == "failed";
        BulkStatus {
            id: b.id.to_string(),
            status: b.status.clone(),
            status_label: match b.status.as_str() {
                "queued" => "Waiting to start",
                "running" => "Working",
                "done" => "Done",
                _ => "Failed",
            }
            .into(),
            total: b.total,
            done: b.done,
            failed: b.failed,
            processed: b.done + b.failed,
            running: !finished,
            finished,
            ok: b.status == "done",
            has_failed: b.failed > 0,
            error: b.error.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "bulk_progress.html")]
pub struct BulkPage {
    pub shell: Shell,
    pub s: BulkStatus,
    pub heading: String,
    /// "Changed", "Tagged", "Deleted"…
    pub done_label: String,
    pub many: String,
    pub back: String,
}

#[derive(Deserialize, Default)]
pub struct ProgressQuery {
    #[serde(default)]
    back: Option<String>,
}

/// `GET /bulk/{id}` (the page) and `/bulk/{id}.json` (its live status).
pub async fn progress(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(raw): Path<String>,
    Query(q): Query<ProgressQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let (raw_id, json) = match raw.strip_suffix(".json") {
        Some(id) => (id, true),
        None => (raw.as_str(), false),
    };
    let Some(id) = parse_id(raw_id) else { return not_found_page() };
    let b = match bulk::get(&state.app, &ctx, id).await {
        Ok(b) => b,
        Err(AppError::NotFound) if json => {
            return (axum::http::StatusCode::NOT_FOUND, Json(serde_json::json!({}))).into_response()
        }
        Err(e) => return load_error(e),
    };
    if json {
        return Json(BulkStatus::of(&b)).into_response();
    }
    let rt = RecordType::parse(&b.record_type).unwrap_or(RecordType::Contact);
    let k = kind(rt);
    let many = if b.total == 1 { k.one } else { k.many };
    let (verb, done_label) = match b.action.as_str() {
        "tag" => ("Tag", "Tagged"),
        "untag" => ("Untag", "Untagged"),
        "assign" => ("Assign", "Assigned"),
        "delete" => ("Delete", "Deleted"),
        _ => ("Change", "Changed"),
    };
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), &format!("{verb} {many}"), k.many, "").await;
    render(&BulkPage {
        shell,
        heading: format!("{verb} {} {many}", b.total),
        done_label: done_label.into(),
        many: k.many.into(),
        back: local_path(q.back.as_deref()).unwrap_or_else(|| k.base.to_string()),
        s: BulkStatus::of(&b),
    })
}
