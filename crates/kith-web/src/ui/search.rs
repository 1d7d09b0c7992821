//! Search: the results page of the top-bar box (grouped by kind) and the
//! JSON the command palette reads as you type (`/search.json?q=`, signed-in
//! session, GET only).

use super::crm::record_url;
use super::pages::{SearchGroup, SearchLine, SearchPage, Shell};
use super::{render, require_context, UiCtx};
use crate::state::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kith_app::crm::search::{self, SearchHit};
use kith_domain::crm::RecordType;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// Where a hit leads: the record, or for a note the record it is on.
fn url_of(hit: &SearchHit) -> Option<String> {
    let t = match hit.kind.as_str() {
        "contact" => RecordType::Contact,
        "company" => RecordType::Company,
        "deal" => RecordType::Deal,
        "note" => return Some(format!("{}#timeline", record_url(hit.record_type?, hit.record_id?))),
        _ => return None,
    };
    Some(record_url(t, hit.id))
}

const KINDS: [(&str, &str); 4] =
    [("contact", "Contacts"), ("company", "Companies"), ("deal", "Deals"), ("note", "Notes")];

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let text = q.q.unwrap_or_default().trim().to_string();
    let hits = if text.is_empty() {
        vec![]
    } else {
        match search::search(&state.app, &ctx, &text, search::MAX_RESULTS).await {
            Ok(h) => h,
            Err(e) => return super::crm::load_error(e),
        }
    };
    let total = hits.len();
    let groups = KINDS
        .iter()
        .map(|(kind, label)| SearchGroup {
            label,
            hits: hits
                .iter()
                .filter(|h| h.kind == *kind)
                .filter_map(|h| {
                    let url = url_of(h)?;
                    let detail = if h.kind == "note" {
                        match h.record_type {
                            Some(RecordType::Company) => "Note on a company",
                            Some(RecordType::Deal) => "Note on a deal",
                            _ => "Note on a contact",
                        }
                    } else {
                        ""
                    };
                    Some(SearchLine { title: h.title.clone(), url, detail: detail.into() })
                })
                .collect(),
        })
        .filter(|g| !g.hits.is_empty())
        .collect();
    let title = if text.is_empty() { "Search".to_string() } else { format!("{text} · Search") };
    let mut shell = Shell::build(&state, &ui, &auth, Some(&ctx), &title, "search", "").await;
    shell.search_q = text.clone();
    render(&SearchPage { shell, q: text, groups, total })
}

#[derive(Serialize)]
pub struct PaletteHit {
    kind: String,
    id: String,
    title: String,
    url: String,
}

/// `[{kind, id, title, url}]` for the command palette.
pub async fn json(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let Ok((_, ctx)) = require_context(&state, &ui).await else {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "sign in first"}))).into_response();
    };
    let text = q.q.unwrap_or_default();
    if text.trim().is_empty() {
        return Json(Vec::<PaletteHit>::new()).into_response();
    }
    let limit = q.limit.unwrap_or(10).clamp(1, search::MAX_RESULTS);
    match search::search(&state.app, &ctx, &text, limit).await {
        Ok(hits) => Json(
            hits.iter()
                .filter_map(|h| {
                    Some(PaletteHit {
                        url: url_of(h)?,
                        kind: h.kind.clone(),
                        id: h.id.to_string(),
                        title: h.title.clone(),
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
