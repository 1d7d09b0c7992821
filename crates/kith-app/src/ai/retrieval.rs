//! Retrieval: the knowledge passages that best answer a customer's message.
//!
//! Full text first: the message's content words (stop words dropped,
//! [`kith_formats::terms`]) and their few generic synonyms ("voucher" also
//! searches "gift") OR-ed into the engine's own query (FTS5 bm25 on SQLite,
//! `ts_rank` on PostgreSQL, both stemming English); the best [`CANDIDATES`]
//! are ordered by the mean of their engine score (relative to the best) and
//! their confidence. When the workspace embeds its knowledge, the
//! message's vector is compared in process with the stored chunk vectors
//! (cosine) and the two rankings are fused by reciprocal rank.
//!
//! ## What `confidence` means
//! The share of the message's content words that the passage covers (its
//! title or text contains the word or a synonym, compared through one light
//! stemmer),
//! each word weighted by its rarity in this workspace's knowledge base (the
//! BM25 inverse document frequency, so a word in every chunk counts for
//! little and a word in none counts fully — and, missing from the passage,
//! pulls confidence down). 1.0: every meaningful word of the question is in
//! the passage; 0.0: none is. It needs no model, so the no-endpoint fallback
//! can threshold it; on the shipped quality set [`FAQ_THRESHOLD`] separates
//! answered questions from unanswerable ones (see the tests).
//!
//! ## Bounded work
//! Each word's document count in the workspace is read first, in one
//! statement for all words, counted up to the engine's postings budget
//! ([`postings_budget`]) only. How the engine counts (see
//! `kith_store::knowledge::word_counts`):
//! - SQLite: FTS5 walks the word's postings ANDed with the workspace's
//!   token, stopping at the cap: at most budget + 1 postings per word.
//! - PostgreSQL: one primary-key lookup per word in `knowledge_terms`, the
//!   workspace's lexeme → chunk-count table, kept exact in the same
//!   transaction as the chunks (a per-workspace advisory lock orders
//!   concurrent writers). Counting through the GIN index instead rechecks
//!   every matching row, up to the cap, per word.
//!
//! The full-text query then searches the rarest words whose matches
//! together stay within the budget, within the workspace, and scores at
//! most budget matches, so the engine's work is bounded however large the
//! knowledge base and however common the words: [`POSTINGS_BUDGET_SQLITE`]
//! for bm25, the smaller [`POSTINGS_BUDGET_POSTGRES`] for `ts_rank`, which
//! costs more per match. When even the rarest word is in more chunks than
//! the budget (a question made only of very common words), the engine ranks
//! the first budget of its matches it finds rather than all of them: no
//! word of such a question tells passages apart, and the coverage ranking
//! below still orders the candidates. The embedding path scores at most [`MAX_EMBEDDINGS`]
//! stored vectors: proportional to the workspace's knowledge base (a few
//! thousand chunks), never to other workspaces'.
//!
//! Never returns another workspace's chunks: every statement filters on
//! the workspace (tested).

use crate::{App, AppError, Result};
use kith_domain::Context;
use kith_formats::terms;
use kith_store::knowledge::{self as rows, ChunkHit, NewChunk};
use kith_store::Backend;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Full-text candidates ranked before the best `k` are returned.
pub const CANDIDATES: i64 = 40;
/// Most chunk matches the full-text query may score on SQLite (see
/// [`words_within_budget`]): FTS5's bm25 over 1,500 matches stays within a
/// few milliseconds.
pub const POSTINGS_BUDGET_SQLITE: i64 = 1_500;
/// The same on PostgreSQL, where ranking costs more per match: `ts_rank`
/// reads each matching row's stored `fts_vector` (1,500 matches took 22 ms at
/// p95, over the whole retrieval goal of 20 ms; see docs/benchmarks.md).
pub const POSTINGS_BUDGET_POSTGRES: i64 = 500;

/// The postings budget of the workspace's database engine.
pub fn postings_budget(backend: Backend) -> i64 {
    match backend {
        Backend::Sqlite => POSTINGS_BUDGET_SQLITE,
        Backend::Postgres => POSTINGS_BUDGET_POSTGRES,
    }
}
/// Most content words of a message that are searched (the rest are noise).
pub const MAX_QUERY_WORDS: usize = 16;
/// Most stored vectors scored per message (the embedding path).
pub const MAX_EMBEDDINGS: i64 = 20_000;
/// The reciprocal-rank-fusion constant (the usual 60).
const RRF_K: f64 = 60.0;
/// Confidence from which the no-endpoint fallback may send an FAQ's answer
/// as it stands (chosen on the quality set; see the module doc).
pub const FAQ_THRESHOLD: f64 = 0.6;

/// One retrieved passage. For an FAQ, `title` is the question and `text`
/// the answer; otherwise `title` is the entry's title (and the heading the
/// passage sits under) and `text` the passage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Passage {
    pub chunk_id: Uuid,
    pub entry_id: Uuid,
    /// `faq`, `offer`, `text`, `document` or `website`.
    pub entry_kind: String,
    pub title: String,
    pub text: String,
    /// 1 for the best passage.
    pub rank: usize,
    /// 0..1: see the module doc.
    pub confidence: f64,
}

/// The best `k` passages of the workspace's knowledge for `query`, best
/// first. Empty when nothing matches.
pub async fn retrieve(app: &App, org_id: Uuid, query: &str, k: usize) -> Result<Vec<Passage>> {
    let q = Query::new(query);
    if q.words.is_empty() || k == 0 {
        return Ok(vec![]);
    }
    let db = app.db();
    let budget = postings_budget(db.backend());
    // Independent reads run side by side (each on its own pooled
    // connection): on a busy machine each round trip to the database costs
    // more than the statement itself, so the wait is two round trips, not four.
    let (counts, total) =
        tokio::try_join!(rows::word_counts(db, org_id, &q.search_words, budget + 1), rows::chunk_total(db, org_id))?;
    let searched = words_within_budget(&q.search_words, &counts, budget);
    let (hits, vector_ranked) = tokio::try_join!(
        async { Ok(rows::search(db, org_id, &searched, CANDIDATES.max(k as i64), budget).await?) },
        similar_chunks(app, org_id, query)
    )?;
    if hits.is_empty() && vector_ranked.is_empty() {
        return Ok(vec![]);
    }
    // `search_words` starts with `words`, in order: their counts come first.
    let total = total.max(1) as f64;
    let weights: Vec<f64> = counts[..q.words.len()].iter().map(|&n| idf(total, n as f64)).collect();
    let mut scored: Vec<(ChunkHit, f64)> = hits
        .into_iter()
        .map(|h| {
            let c = q.coverage(&weights, &h.title, &h.text);
            (h, c)
        })
        .collect();
    order_by_blend(&mut scored);
    if !vector_ranked.is_empty() {
        let missing: Vec<Uuid> =
            vector_ranked.iter().map(|(id, _)| *id).filter(|id| !scored.iter().any(|(h, _)| h.id == *id)).collect();
        for h in rows::chunks_by_id(db, org_id, &missing).await? {
            let c = q.coverage(&weights, &h.title, &h.text);
            scored.push((h, c));
        }
        scored = fuse(scored, &vector_ranked);
    }
    Ok(scored
        .into_iter()
        .take(k)
        .enumerate()
        .map(|(i, (h, confidence))| Passage {
            confidence,
            chunk_id: h.id,
            entry_id: h.entry_id,
            entry_kind: h.kind,
            title: h.title,
            text: h.text,
            rank: i + 1,
        })
        .collect())
}

/// A message's words as retrieval uses them.
struct Query {
    /// Content words, in order, once each by stem.
    words: Vec<String>,
    /// Each word's stem and its synonyms' stems: what covers it.
    covers: Vec<HashSet<String>>,
    /// The words and their synonyms, for the full-text query.
    search_words: Vec<String>,
}

impl Query {
    fn new(text: &str) -> Query {
        let words: Vec<String> = terms::content_words(text).into_iter().take(MAX_QUERY_WORDS).collect();
        let mut search_words = words.clone();
        let mut stems: HashSet<String> = words.iter().map(|w| terms::stem(w)).collect();
        let mut covers = Vec::with_capacity(words.len());
        for w in &words {
            let mut c = HashSet::from([terms::stem(w)]);
            for s in terms::synonyms(w) {
                c.insert(terms::stem(s));
                if stems.insert(terms::stem(s)) && search_words.len() < MAX_QUERY_WORDS * 2 {
                    search_words.push(s.to_string());
                }
            }
            covers.push(c);
        }
        Query { words, covers, search_words }
    }

    /// The weighted share of the words that the passage contains (see the module doc).
    fn coverage(&self, weights: &[f64], title: &str, text: &str) -> f64 {
        let present: HashSet<String> =
            terms::words(title).iter().chain(terms::words(text).iter()).map(|w| terms::stem(w)).collect();
        let (mut got, mut all) = (0.0, 0.0);
        for (cover, weight) in self.covers.iter().zip(weights) {
            all += weight;
            if cover.iter().any(|s| present.contains(s)) {
                got += weight;
            }
        }
        if all <= 0.0 {
            0.0
        } else {
            (got / all).clamp(0.0, 1.0)
        }
    }
}

/// Order full-text hits by the mean of their coverage and their engine
/// score relative to the best: the engine rewards repeated and title
/// words, coverage rewards answering every part of the question (on the
/// quality set each alone finds fewer answers than both).
fn order_by_blend(scored: &mut [(ChunkHit, f64)]) {
    let best = scored.iter().map(|(h, _)| h.score).fold(0.0f64, f64::max);
    let blend = |(h, c): &(ChunkHit, f64)| 0.5 * c + if best > 0.0 { 0.5 * h.score / best } else { 0.0 };
    scored.sort_by(|a, b| blend(b).total_cmp(&blend(a)));
}

/// The knowledge-base preview ("Try a question"): [`retrieve`] for a member.
pub async fn search(app: &App, ctx: &Context, query: &str, k: usize) -> Result<Vec<Passage>> {
    if !ctx.can(kith_domain::role::Action::ReadRecords) {
        return Err(AppError::Forbidden);
    }
    if query.chars().count() > 2_000 {
        return Err(AppError::field("q", "must be at most 2000 characters"));
    }
    retrieve(app, ctx.org_id, query, k.clamp(1, 20)).await
}

/// The words the full-text query searches: rarest first, as long as the
/// chunks they match together stay within `budget` (the engine scores every
/// match of an OR query, so this bounds its work). The rarest word that
/// matches anything is always searched; words that match nothing are not.
/// A word in a large share of a big knowledge base says little about which
/// passage answers, and still counts in the confidence (see the module doc).
pub fn words_within_budget(words: &[String], counts: &[i64], budget: i64) -> Vec<String> {
    let mut by_rarity: Vec<(i64, &String)> = counts.iter().copied().zip(words).filter(|(n, _)| *n > 0).collect();
    by_rarity.sort_by_key(|(n, _)| *n);
    let mut spent = 0;
    let mut out = Vec::new();
    for (n, w) in by_rarity {
        if !out.is_empty() && spent + n > budget {
            break;
        }
        spent += n;
        out.push(w.clone());
    }
    out
}

/// A word's weight: BM25's inverse document frequency in this workspace's
/// chunks, `ln(1 + (N − n + 0.5) / (n + 0.5))` (with `n` counted up to the
/// postings budget, so a very common word weighs a little more than BM25
/// would give it).
fn idf(total: f64, n: f64) -> f64 {
    (1.0 + (total - n + 0.5).max(0.0) / (n + 0.5)).ln()
}

/// Reciprocal rank fusion of the blended full-text order and the vector
/// order: each list contributes 1 / (60 + rank). Chunks only the vectors
/// found have no full-text rank.
fn fuse(scored: Vec<(ChunkHit, f64)>, vector_ranked: &[(Uuid, f32)]) -> Vec<(ChunkHit, f64)> {
    let mut score: HashMap<Uuid, f64> = HashMap::new();
    for (i, (h, _)) in scored.iter().filter(|(h, _)| h.score != 0.0).enumerate() {
        *score.entry(h.id).or_default() += 1.0 / (RRF_K + (i + 1) as f64);
    }
    for (i, (id, _)) in vector_ranked.iter().enumerate() {
        *score.entry(*id).or_default() += 1.0 / (RRF_K + (i + 1) as f64);
    }
    let mut out = scored;
    out.sort_by(|a, b| {
        let (sa, sb) = (score.get(&a.0.id).copied().unwrap_or(0.0), score.get(&b.0.id).copied().unwrap_or(0.0));
        sb.total_cmp(&sa)
    });
    out
}

/// The chunks most similar to `query` by embedding, best first, when the
/// workspace embeds its knowledge; otherwise none.
async fn similar_chunks(app: &App, org_id: Uuid, query: &str) -> Result<Vec<(Uuid, f32)>> {
    let Some((model, vector)) = embed_query(app, org_id, query).await? else {
        return Ok(vec![]);
    };
    let stored = rows::embeddings(app.db(), org_id, &model, MAX_EMBEDDINGS).await?;
    let mut scored: Vec<(Uuid, f32)> = stored
        .into_iter()
        .filter_map(|r| {
            let v = decode_vector(&r.embedding)?;
            (v.len() == vector.len()).then(|| (r.id, cosine(&vector, &v)))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(CANDIDATES as usize);
    Ok(scored)
}

/// The metering feature of knowledge-base embeddings (no switch of its
/// own: an admin opts in by naming an embedding model).
pub const FEATURE_KNOWLEDGE: &str = "knowledge";
/// Texts per embeddings request.
const EMBED_BATCH: usize = 32;

/// The message's vector and the model that made it, when the workspace
/// embeds its knowledge. A failed call (endpoint down, hard limit) leaves
/// retrieval to full text rather than failing it.
async fn embed_query(app: &App, org_id: Uuid, query: &str) -> Result<Option<(String, Vec<f32>)>> {
    let s = super::settings::load(app, org_id).await?;
    if s.embedding_model().is_none() {
        return Ok(None);
    }
    let target = super::metering::CallTarget::default();
    match super::metering::embed(app, org_id, FEATURE_KNOWLEDGE, target, &s, &[query.to_string()]).await {
        Ok(out) => Ok(out.vectors.into_iter().next().map(|v| (out.model, v))),
        Err(e) => {
            tracing::warn!(%org_id, error = %e, "query embedding failed; full text only");
            Ok(None)
        }
    }
}

/// Store a vector for each new chunk when the workspace embeds its
/// knowledge. Best effort: a chunk without a vector is still found by full
/// text, so a failing endpoint is logged, not retried.
pub(crate) async fn embed_chunks(
    app: &App,
    org_id: Uuid,
    chunks: &[NewChunk],
) -> std::result::Result<(), crate::worker::JobError> {
    let s = super::settings::load(app, org_id).await?;
    if s.embedding_model().is_none() || chunks.is_empty() {
        return Ok(());
    }
    for batch in chunks.chunks(EMBED_BATCH) {
        let inputs: Vec<String> = batch.iter().map(|c| format!("{}\n{}", c.title, c.text)).collect();
        let target = super::metering::CallTarget::default();
        let out = match super::metering::embed(app, org_id, FEATURE_KNOWLEDGE, target, &s, &inputs).await {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!(%org_id, error = %e, "knowledge embeddings failed; passages stay full-text only");
                return Ok(());
            }
        };
        let mut tx = app.db().begin().await.map_err(AppError::from)?;
        for (chunk, vector) in batch.iter().zip(&out.vectors) {
            rows::set_embedding(&mut tx, org_id, chunk.id, &out.model, &encode_vector(vector))
                .await
                .map_err(AppError::from)?;
        }
        tx.commit().await.map_err(AppError::from)?;
    }
    Ok(())
}

pub fn encode_vector(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn decode_vector(b: &[u8]) -> Option<Vec<f32>> {
    b.len().is_multiple_of(4).then(|| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn coverage_weighs_rare_words_and_counts_synonyms() {
        let q = Query::new("Can I get a refund for the shipping?");
        assert_eq!(q.words, w(&["refund", "shipping"]));
        assert!(q.search_words.contains(&"reimburse".to_string()) && q.search_words.contains(&"postage".to_string()));
        // "refund" is rare (weight 3), "shipping" common (weight 1).
        let c = q.coverage(&[3.0, 1.0], "Refunds", "We refunded it.");
        assert!((c - 0.75).abs() < 1e-9, "{c}");
        assert_eq!(q.coverage(&[3.0, 1.0], "Postage and refunds", ""), 1.0, "postage covers shipping");
        assert_eq!(q.coverage(&[3.0, 1.0], "Opening hours", "Nine to five"), 0.0);
        assert_eq!(Query::new("the and of").coverage(&[], "a", "b"), 0.0);
    }

    #[test]
    fn the_rarest_words_are_searched_within_the_postings_budget() {
        let words = w(&["common", "rare", "middling", "absent", "rarer"]);
        // 900 + 40 + 5 = 945 fits a budget of 1,000; "common" (1,501) would not.
        assert_eq!(words_within_budget(&words, &[1501, 40, 900, 0, 5], 1000), w(&["rarer", "rare", "middling"]));
        // Every word too common: the rarest is still searched.
        assert_eq!(words_within_budget(&words[..1], &[1501], 1000), w(&["common"]));
        // Nothing matches anything: nothing is searched.
        assert!(words_within_budget(&words, &[0; 5], 1000).is_empty());
    }

    #[test]
    fn idf_is_high_for_rare_and_absent_words() {
        assert!(idf(1000.0, 0.0) > idf(1000.0, 10.0));
        assert!(idf(1000.0, 10.0) > idf(1000.0, 900.0));
        assert!(idf(10.0, 10.0) > 0.0);
    }

    #[test]
    fn vectors_round_trip_and_compare() {
        let v = vec![0.5f32, -1.25, 3.0];
        assert_eq!(decode_vector(&encode_vector(&v)).unwrap(), v);
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(decode_vector(&[1, 2, 3]), None);
    }

    #[test]
    fn rank_fusion_lifts_what_both_lists_agree_on() {
        let hit = |n: u8, score: f64| ChunkHit {
            id: Uuid::from_bytes([n; 16]),
            entry_id: Uuid::nil(),
            kind: "faq".into(),
            title: String::new(),
            text: String::new(),
            url: None,
            score,
        };
        let hits = vec![(hit(1, 3.0), 0.5), (hit(2, 2.0), 0.5), (hit(3, 1.0), 0.5)];
        // Full text ranks 1, 2, 3; the vectors 2, 3: the two both lists
        // hold come first, 2 (ranked higher by both) ahead of 3.
        let vectors = vec![(Uuid::from_bytes([2; 16]), 0.9), (Uuid::from_bytes([3; 16]), 0.8)];
        let order: Vec<u8> = fuse(hits, &vectors).iter().map(|(h, _)| h.id.as_bytes()[0]).collect();
        assert_eq!(order, [2, 3, 1]);
    }

    #[test]
    fn blend_prefers_passages_that_answer_every_part() {
        let hit = |n: u8, score: f64| ChunkHit {
            id: Uuid::from_bytes([n; 16]),
            entry_id: Uuid::nil(),
            kind: "faq".into(),
            title: String::new(),
            text: String::new(),
            url: None,
            score,
        };
        // Blends: 1 → 0.1 + 0.5, 2 → 0.45 + 0.375, 3 → 0.5 + 0.125 (no ties).
        let mut scored = vec![(hit(1, 4.0), 0.2), (hit(2, 3.0), 0.9), (hit(3, 1.0), 1.0)];
        order_by_blend(&mut scored);
        let order: Vec<u8> = scored.iter().map(|(h, _)| h.id.as_bytes()[0]).collect();
        assert_eq!(order, [2, 3, 1]);
    }
}
