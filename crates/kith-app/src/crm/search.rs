//! Global search: names and e-mails by prefix, phones in any format, company
//! and deal names, and note text through blind-index tokens (exact words),
//! ranked by the database's full-text engine, through the visibility filter.

use super::need;
use crate::{App, Result};
use kith_domain::crm::RecordType;
use kith_domain::role::Action;
use kith_domain::visibility::Viewer;
use kith_domain::Context;
use kith_store::search::SearchWords;
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

/// What the index is asked for `q`: its words as prefixes (a phone typed
/// with punctuation is one number, not several words), or as whole words
/// when `q` is a complete e-mail address; and the words' blind tokens under
/// the workspace's search key (sealed note text).
pub fn search_words(q: &str, search_key: &kith_crypto::SecretKey) -> SearchWords {
    let q = q.trim();
    let words = query_words(q);
    let tokens = words.iter().map(|w| kith_crypto::blind_token(search_key, w)).collect();
    match kith_domain::phone::query_digits(q) {
        Some(digits) => SearchWords { plain: vec![digits], whole: false, tokens },
        None => SearchWords { whole: is_complete_email(q), plain: words, tokens },
    }
}

/// `name@domain.tld` with a top-level part of at least two letters: typed to
/// the end, so its parts are whole words (see [`SearchWords::whole`]).
fn is_complete_email(q: &str) -> bool {
    let Some((local, domain)) = q.split_once('@') else {
        return false;
    };
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && !host.is_empty()
        && !q.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

pub async fn search(app: &App, ctx: &Context, q: &str, limit: u32) -> Result<Vec<SearchHit>> {
    need(ctx, Action::ReadRecords)?;
    let key = app.keyring().search_key(app.db(), ctx.org_id).await?;
    let words = search_words(q, &key);
    let rows =
        kith_store::search::search(app.db(), &Viewer::of(ctx), &words, limit.clamp(1, MAX_RESULTS) as i64).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_complete_address_is_searched_as_whole_words() {
        for q in ["debra.morris0@hotmail.com", " ada@example.co.uk "] {
            assert!(is_complete_email(q.trim()), "{q}");
        }
        for q in ["debra.morris0@hotm", "debra@hotmail.c", "debra@", "@hotmail.com", "ada lovelace", "a@b@c.com"] {
            assert!(!is_complete_email(q), "{q}");
        }
        let key = kith_crypto::SecretKey::from_bytes([7; 32]);
        let w = search_words("Ada.Lovelace@Example.com", &key);
        assert!(w.whole);
        assert_eq!(w.plain, ["ada", "lovelace", "example", "com"]);
        assert_eq!(w.tokens.len(), 4);
        let w = search_words("+1 (415) 555-0100", &key);
        assert!(!w.whole);
        assert_eq!(w.plain.len(), 1);
    }
}
