//! Global search: names and e-mails by prefix, phones in any format, company
//! and deal names, and note text through blind-index tokens (exact words),
//! ranked by the database's full-text engine, through the visibility filter.

use super::need;
use crate::{App, Result};
use kith_domain::crm::RecordType;
use kith_domain::role::Action;
use kith_domain::visibility::Viewer;
use kith_domain::Context;
use serde::Serialize;
use uuid::Uuid;

pub const MAX_QUERY_WORDS: usize = 8;
pub const MAX_RESULTS: u32 = 50;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// `contact`, `company`, `deal` or `note`.
    pub kind: String,
    pub id: Uuid,
    /// The record's name (for a note: the name of its record).
    pub title: String,
    /// For a note: the record it belongs to.
    pub record_type: Option<RecordType>,
    pub record_id: Option<Uuid>,
    pub rank: f64,
}

/// The words of a query as the index stores them.
pub fn query_words(q: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in q.split(|c: char| !c.is_alphanumeric()).map(kith_crypto::normalize_word) {
        if !w.is_empty() && w.len() <= 64 && !words.contains(&w) && words.len() < MAX_QUERY_WORDS {
            words.push(w);
        }
    }
    words
}

pub async fn search(app: &App, ctx: &Context, q: &str, limit: u32) -> Result<Vec<SearchHit>> {
    need(ctx, Action::ReadRecords)?;
    let q = q.trim();
    // A phone typed with punctuation is one number, not several words.
    let prefix_words = match kith_domain::phone::query_digits(q) {
        Some(digits) => vec![digits],
        None => query_words(q),
    };
    let key = app.keyring().search_key(app.db(), ctx.org_id).await?;
    let exact_words: Vec<String> = query_words(q).iter().map(|w| kith_crypto::blind_token(&key, w)).collect();
    let rows = kith_store::search::search(
        app.db(),
        &Viewer::of(ctx),
        &prefix_words,
        &exact_words,
        limit.clamp(1, MAX_RESULTS) as i64,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SearchHit {
            kind: r.record_type,
            id: r.record_id,
            title: r.title,
            record_type: r.parent_type.as_deref().and_then(RecordType::parse),
            record_id: r.parent_id,
            rank: r.rank,
        })
        .collect())
}
