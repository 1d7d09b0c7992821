//! Global search over `search_docs` with the engine's full-text index,
//! through the one visibility filter; and the bulk replacement of documents
//! that imports use.

use crate::dialect::fulltext_query;
use crate::records::SearchDoc;
use crate::sql::Sql;
use crate::visibility::push_filter;
use crate::{Backend, Db, Result, Tx};
use kith_domain::visibility::Viewer;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HitRow {
    pub record_type: String,
    pub record_id: Uuid,
    pub title: String,
    pub parent_type: Option<String>,
    pub parent_id: Option<Uuid>,
    pub updated_ms: i64,
    pub rank: f64,
}

/// How many matching documents are ranked (per group of words on
/// PostgreSQL). A word found in most documents would otherwise have every
/// match scored before the best 20 are known — work proportional to the
/// table. Below this many matches (the usual case: names, e-mails, phones,
/// rarer words) the ranking is exact; above it, the best of the newest
/// matches are returned (on PostgreSQL: of the first found).
pub const RANKED_CANDIDATES: i64 = 1_000;

/// The columns of a PostgreSQL candidate set: what the hit and its rank need.
const DOC: &str = "d.record_type, d.record_id, d.title, d.parent_type, d.parent_id, d.updated_ms, d.fts_vector";

/// The words of one search, as the index stores them.
#[derive(Debug, Clone, Default)]
pub struct SearchWords {
    /// Plain words (names, e-mail parts, phone digits): all present.
    pub plain: Vec<String>,
    /// Match `plain` as whole words (a complete e-mail address) instead of
    /// as prefixes. A prefix of a word as common as "com" costs the engine
    /// every posting of every word it begins.
    pub whole: bool,
    /// Blind tokens of the words (sealed note text): all present.
    pub tokens: Vec<String>,
}

/// The best `limit` documents the viewer may see, best first.
pub async fn search(db: &Db, viewer: &Viewer, words: &SearchWords, limit: i64) -> Result<Vec<HitRow>> {
    if words.plain.is_empty() && words.tokens.is_empty() {
        return Ok(vec![]);
    }
    search_sql(db.backend(), viewer, words, limit).fetch_all(db).await
}

/// [`search`]'s statement (public so benchmarks can show its plan): at most
/// [`RANKED_CANDIDATES`] visible matches straight off the full-text index
/// (SQLite: the newest; PostgreSQL: see there), then ranked.
pub fn search_sql(backend: Backend, viewer: &Viewer, words: &SearchWords, limit: i64) -> Sql {
    let query = fulltext_query(backend, words);
    let mut sql = Sql::new("");
    match backend {
        Backend::Sqlite => {
            // bm25() is lower-is-better; negate so both engines sort DESC.
            sql.push_bound(
                "SELECT record_type, record_id, title, parent_type, parent_id, updated_ms, rank FROM (
                   SELECT d.record_type, d.record_id, d.title, d.parent_type, d.parent_id, d.updated_ms,
                          -bm25(fts_search) AS rank
                   FROM fts_search JOIN search_docs d ON d.doc_id = fts_search.rowid
                   WHERE fts_search MATCH $1 AND d.org_id = $2 AND ",
                [query.into(), viewer.org_id.into()],
            );
            push_filter(&mut sql, "d", viewer);
            sql.push(" ORDER BY fts_search.rowid DESC LIMIT ").bind(RANKED_CANDIDATES);
            sql.push(") ORDER BY rank DESC, updated_ms DESC LIMIT ").bind(limit);
        }
        Backend::Postgres => {
            // Two candidate sets: plain words (names, e-mails, phones,
            // company and deal names; prefixes unless a whole address) match
            // records, never notes; blind tokens match only notes. Each set
            // is the first RANKED_CANDIDATES matches the index finds, and the
            // engine stops reading the table there: ordering a set by age
            // would read every match from the table first (0.5 s for the
            // 20,000 matches of "mor" among 1M contacts; 45 ms for a note
            // word in 25,000 of 1M notes, against 14 ms first-found). So on
            // PostgreSQL a word in more documents than that ranks the first
            // found (in storage order, mostly the oldest), where SQLite's
            // index walks newest first; more words narrow it to an exact
            // ranking. ts_rank reads each document's vector: only the
            // candidates pay for it.
            //
            // The token set is bounded by row_number()'s run condition, not a
            // LIMIT: with a LIMIT the planner reads a word found in most
            // notes by walking the table until it has enough, assuming the
            // matches spread evenly; where the notes sit after a million
            // other records, that read 1.5M rows (0.4 s at 1M contacts,
            // even planned for the word itself), and under sqlx's prepared
            // (generic) plans a rare word could get that plan too. The window
            // keeps the index scan whatever the word (see
            // `knowledge::search_sql`); a word in most notes then costs the
            // index's bitmap of them all (60–160 ms at 1M notes).
            sql.push_bound(
                "SELECT d.record_type, d.record_id, d.title, d.parent_type, d.parent_id, d.updated_ms,
                        ts_rank(d.fts_vector, to_tsquery('simple', $1))::float8 AS rank FROM (",
                [query.into()],
            );
            let plain_only = SearchWords { tokens: vec![], ..words.clone() };
            let tokens_only = SearchWords { plain: vec![], ..words.clone() };
            if !words.plain.is_empty() {
                sql.push(&format!("(SELECT {DOC} FROM search_docs d WHERE d.fts_vector @@ to_tsquery('simple', "))
                    .bind(fulltext_query(backend, &plain_only))
                    .push(") AND d.record_type <> 'note' AND d.org_id = ")
                    .bind(viewer.org_id)
                    .push(" AND ");
                push_filter(&mut sql, "d", viewer);
                sql.push(" LIMIT ").bind(RANKED_CANDIDATES).push(")");
            }
            if !words.tokens.is_empty() {
                if !words.plain.is_empty() {
                    sql.push(" UNION ALL ");
                }
                sql.push(&format!("(SELECT {DOC} FROM (SELECT {DOC}, row_number() OVER () AS n FROM search_docs d "))
                    .push("WHERE d.fts_vector @@ to_tsquery('simple', ")
                    .bind(fulltext_query(backend, &tokens_only))
                    .push(") AND d.org_id = ")
                    .bind(viewer.org_id)
                    .push(" AND ");
                push_filter(&mut sql, "d", viewer);
                sql.push(") d WHERE n <= ").bind(RANKED_CANDIDATES).push(")");
            }
            sql.push(") d ORDER BY rank DESC, d.updated_ms DESC LIMIT ").bind(limit);
        }
    }
    sql
}

/// Replace the search documents of existing records in bulk (an import
/// updating the contacts it matched): the old documents go in one statement
/// per few hundred records and the new ones in multi-row inserts, instead of
/// an upsert per record — a write per statement is what a batch of updates
/// spent its time on. Records without a document simply get one.
pub async fn replace_docs(tx: &mut Tx, org_id: Uuid, docs: &[SearchDoc]) -> Result<()> {
    for chunk in docs.chunks(500) {
        // Padded by repeating the last id: a few statement texts, prepared once.
        let ids: Vec<Uuid> = chunk.iter().map(|d| d.record_id).collect();
        let mut sql = Sql::new("DELETE FROM search_docs WHERE org_id = ");
        sql.bind(org_id).push(" AND record_id IN (").bind_list(crate::sql::padded(&ids, 500)).push(")");
        sql.execute(tx).await?;
    }
    crate::records::insert_search_docs(tx, docs).await?;
    Ok(())
}
