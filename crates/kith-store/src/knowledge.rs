//! The knowledge base's rows (`knowledge_entries`, `knowledge_chunks`) and
//! its full-text queries.
//!
//! Full text: SQLite FTS5 with the `porter unicode61` tokenizer, PostgreSQL
//! `to_tsvector('english', …)` — both stem English words, because customers
//! ask about "refunds" and "delivering" while the FAQ says "refund" and
//! "delivery", and knowledge bases are short texts where a missed inflection
//! is a missed answer. (The CRM's search uses `simple`: names must not be
//! stemmed; prose should be.) The SQLite index is contentless with one
//! token per workspace in its first column; every query ANDs that token, so
//! it reads only its own workspace's postings.
//!
//! Document frequencies (how many of the workspace's chunks hold a word,
//! which retrieval reads before every search): SQLite counts them in FTS5,
//! capped, walking the postings lists. PostgreSQL keeps them in
//! `knowledge_terms` (migration 0018), one row per workspace and lexeme,
//! written in the same transaction as the chunks: its GIN index cannot
//! count a word's rows without rechecking each of them.
//!
//! Knowledge is the business's own published content, not customer data:
//! stored and indexed in clear. This module must never decide who may read
//! or change an entry (kith-app does) and never returns another
//! workspace's rows: every statement filters on `org_id`.

use crate::dialect;
use crate::sql::{Arg, Sql};
use crate::{Backend, Db, Result, Tx};
use kith_domain::page::{Cursor, Page, PageRequest};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub org_id: Uuid,
    /// `faq`, `offer`, `text`, `document` or `website`.
    pub kind: String,
    /// An FAQ's question; an offer's or text's title; a document's file name; a website's first URL.
    pub title: String,
    /// An FAQ's answer; an offer's or text's body; a document's extracted text; empty for a website.
    pub body: String,
    pub source_name: Option<String>,
    pub content_type: Option<String>,
    /// JSON list of start URLs (websites).
    pub urls: Option<String>,
    pub page_limit: Option<i64>,
    /// `queued`, `indexing`, `ready` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub progress_done: i64,
    pub progress_total: i64,
    pub chunk_count: i64,
    /// JSON list of `{url, error}` (website imports).
    pub report: Option<String>,
    pub created_by: Uuid,
    pub version: i64,
    pub indexed_version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const ENTRY: &str = "id, org_id, kind, title, body, source_name, content_type, urls, page_limit, status, error,
    progress_done, progress_total, chunk_count, report, created_by, version, indexed_version, created_ms, updated_ms";

/// A chunk about to be stored.
#[derive(Debug, Clone)]
pub struct NewChunk {
    pub id: Uuid,
    pub seq: i64,
    pub title: String,
    pub text: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChunkRow {
    pub id: Uuid,
    pub entry_id: Uuid,
    pub seq: i64,
    pub title: String,
    pub text: String,
    pub url: Option<String>,
    pub embedding_model: Option<String>,
}

/// A chunk the full-text index matched, with its entry's kind.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChunkHit {
    pub id: Uuid,
    pub entry_id: Uuid,
    pub kind: String,
    pub title: String,
    pub text: String,
    pub url: Option<String>,
    /// Higher is better (negated bm25 on SQLite, ts_rank on PostgreSQL); only
    /// comparable within one query.
    pub score: f64,
}

/// A chunk's stored vector (the embedding path).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmbeddingRow {
    pub id: Uuid,
    pub embedding: Vec<u8>,
}

pub async fn insert_entry(tx: &mut Tx, r: &EntryRow) -> Result<()> {
    const SQL: &str = "INSERT INTO knowledge_entries (id, org_id, kind, title, body, source_name, content_type, urls,
                         page_limit, status, error, progress_done, progress_total, chunk_count, report, created_by,
                         version, indexed_version, created_ms, updated_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(&r.kind)
        .bind(&r.title)
        .bind(&r.body)
        .bind(&r.source_name)
        .bind(&r.content_type)
        .bind(&r.urls)
        .bind(r.page_limit)
        .bind(&r.status)
        .bind(&r.error)
        .bind(r.progress_done)
        .bind(r.progress_total)
        .bind(r.chunk_count)
        .bind(&r.report)
        .bind(r.created_by)
        .bind(r.version)
        .bind(r.indexed_version)
        .bind(r.created_ms)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn count_entries(tx: &mut Tx, org_id: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM knowledge_entries WHERE org_id = $1";
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).fetch_one(c).await?))
}

pub async fn get_entry(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<EntryRow>> {
    let sql = format!("SELECT {ENTRY} FROM knowledge_entries WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, EntryRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// The workspace's entries, newest first, optionally of one kind.
pub async fn list_entries(db: &Db, org_id: Uuid, kind: Option<&str>, page: &PageRequest) -> Result<Page<EntryRow>> {
    let (k, id) = page.after.map(|c| (c.key, c.id)).unwrap_or((i64::MAX, Uuid::max()));
    let mut sql = Sql::new("");
    sql.push_bound(
        &format!(
            "SELECT {ENTRY} FROM knowledge_entries WHERE org_id = $1
               AND (created_ms < $2 OR (created_ms = $2 AND id < $3))"
        ),
        [org_id.into(), k.into(), id.into()],
    );
    if let Some(kind) = kind {
        sql.push(" AND kind = ").bind(kind);
    }
    sql.push(" ORDER BY created_ms DESC, id DESC LIMIT ").bind(page.fetch_limit());
    let rows: Vec<EntryRow> = sql.fetch_all(db).await?;
    Ok(Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id }))
}

/// Write the editable fields and queue a re-index, if the stored version is
/// still `r.version - 1`.
pub async fn update_entry(tx: &mut Tx, r: &EntryRow) -> Result<bool> {
    const SQL: &str = "UPDATE knowledge_entries SET title = $3, body = $4, urls = $5, page_limit = $6, status = $7,
                         error = NULL, progress_done = 0, progress_total = 0, report = NULL, version = $8,
                         updated_ms = $9
                       WHERE org_id = $1 AND id = $2 AND version = $8 - 1";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.org_id)
        .bind(r.id)
        .bind(&r.title)
        .bind(&r.body)
        .bind(&r.urls)
        .bind(r.page_limit)
        .bind(&r.status)
        .bind(r.version)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Delete an entry and its chunks (their index rows and, on PostgreSQL,
/// their document frequencies go with them).
pub async fn delete_entry(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<bool> {
    lock_terms(tx, org_id).await?;
    delete_chunks(tx, org_id, id).await?;
    let n = on_tx!(tx, |c| sqlx::query("DELETE FROM knowledge_entries WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Where an indexing job stands.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub status: &'a str,
    pub done: i64,
    pub total: i64,
    pub error: Option<&'a str>,
}

/// Move an entry of `version` to `status` with progress (and an error for
/// `failed`). Nothing happens when the entry changed meanwhile: a newer
/// job owns it then. Returns whether the row was written.
pub async fn set_progress(db: &Db, org_id: Uuid, id: Uuid, version: i64, p: &Progress<'_>, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE knowledge_entries SET status = $4, progress_done = $5, progress_total = $6, error = $7,
                         updated_ms = $8
                       WHERE org_id = $1 AND id = $2 AND version = $3";
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(id)
        .bind(version)
        .bind(p.status)
        .bind(p.done)
        .bind(p.total)
        .bind(p.error)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    tx.commit().await?;
    Ok(n == 1)
}

/// The outcome of an indexing job.
#[derive(Debug, Clone, Copy)]
pub struct Indexed<'a> {
    /// The entry version the chunks were made from.
    pub version: i64,
    pub chunks: &'a [NewChunk],
    /// Per-page problems of a website import (JSON).
    pub report: Option<&'a str>,
    /// Steps done (chunks; pages for a website).
    pub done: i64,
}

/// Replace an entry's chunks and mark it ready — only if it is still at
/// `ix.version` (an edit meanwhile queued a newer job, whose result must win).
/// On PostgreSQL the workspace's document frequencies move with the chunks.
pub async fn replace_chunks(tx: &mut Tx, org_id: Uuid, entry_id: Uuid, ix: &Indexed<'_>, now: i64) -> Result<bool> {
    // First, before the entry's row lock below: see `lock_terms`.
    lock_terms(tx, org_id).await?;
    const MARK: &str = "UPDATE knowledge_entries SET status = 'ready', error = NULL, chunk_count = $4,
                          indexed_version = $3, progress_done = $7, report = $5, updated_ms = $6
                        WHERE org_id = $1 AND id = $2 AND version = $3";
    let (version, chunks) = (ix.version, ix.chunks);
    let n = on_tx!(tx, |c| sqlx::query(MARK)
        .bind(org_id)
        .bind(entry_id)
        .bind(version)
        .bind(chunks.len() as i64)
        .bind(ix.report)
        .bind(now)
        .bind(ix.done)
        .execute(c)
        .await?
        .rows_affected());
    if n != 1 {
        return Ok(false);
    }
    delete_chunks(tx, org_id, entry_id).await?;
    let rows: Vec<Vec<Arg>> = chunks
        .iter()
        .map(|ch| {
            vec![
                ch.id.into(),
                org_id.into(),
                entry_id.into(),
                ch.seq.into(),
                ch.title.clone().into(),
                ch.text.clone().into(),
                ch.url.clone().into(),
                now.into(),
            ]
        })
        .collect();
    crate::sql::insert_many(
        tx,
        "INSERT INTO knowledge_chunks (id, org_id, entry_id, seq, title, text, url, created_ms) VALUES",
        "",
        rows,
    )
    .await?;
    add_terms(tx, org_id, entry_id).await?;
    Ok(true)
}

/// Serialise, until the transaction ends, the transactions that change the
/// workspace's chunks, so that their changes to `knowledge_terms` (many rows
/// each, in no fixed order) can neither deadlock nor interleave. Taken first
/// in [`replace_chunks`] and [`delete_entry`], before any row lock, so two
/// writers never hold one lock each while waiting for the other's. An
/// advisory lock rather than the workspace's row ([`crate::workspaces::lock`]):
/// it holds back only the workspace's other knowledge writers — an indexing
/// job's commit is a few milliseconds — not membership changes or anything
/// else that locks the workspace. SQLite's single writer already serialises.
async fn lock_terms(tx: &mut Tx, org_id: Uuid) -> Result<()> {
    if let Some(sql) = dialect::advisory_xact_lock_sql(tx.backend()) {
        on_tx!(tx, |c| sqlx::query(sql).bind(terms_lock_key(org_id)).execute(c).await?.rows_affected());
    }
    Ok(())
}

/// The advisory lock key of a workspace's knowledge writers: the first 8
/// bytes of SHA-256 over a fixed label and the workspace id (stable across
/// nodes and versions; the label keeps it apart from inbound matching's
/// keys, which hash a workspace and a sender).
fn terms_lock_key(org_id: Uuid) -> i64 {
    let mut input = b"knowledge_terms\0".to_vec();
    input.extend_from_slice(org_id.as_bytes());
    let digest = kith_crypto::sha256(&input);
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Delete an entry's chunks. On PostgreSQL the same statement subtracts each
/// of their lexemes from the workspace's counts (a chunk's `fts_vector` lists
/// a lexeme once), deleting the rows that reach 0. The two modifications of
/// `knowledge_terms` touch disjoint rows (count at most the chunks removed,
/// or more), as one statement requires.
async fn delete_chunks(tx: &mut Tx, org_id: Uuid, entry_id: Uuid) -> Result<()> {
    const SQLITE: &str = "DELETE FROM knowledge_chunks WHERE org_id = $1 AND entry_id = $2";
    const POSTGRES: &str = "WITH gone AS (
                              DELETE FROM knowledge_chunks WHERE org_id = $1 AND entry_id = $2 RETURNING fts_vector),
                            d AS (
                              SELECT l.lexeme, COUNT(*) AS n
                              FROM gone CROSS JOIN LATERAL unnest(tsvector_to_array(gone.fts_vector)) AS l(lexeme)
                              GROUP BY l.lexeme),
                            emptied AS (
                              DELETE FROM knowledge_terms t USING d
                              WHERE t.org_id = $1 AND t.lexeme = d.lexeme AND t.chunks <= d.n RETURNING 1)
                            UPDATE knowledge_terms t SET chunks = t.chunks - d.n FROM d
                            WHERE t.org_id = $1 AND t.lexeme = d.lexeme AND t.chunks > d.n";
    let sql = match tx.backend() {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    on_tx!(tx, |c| sqlx::query(sql).bind(org_id).bind(entry_id).execute(c).await?.rows_affected());
    Ok(())
}

/// PostgreSQL: add the lexemes of an entry's chunks (just inserted) to the
/// workspace's counts. SQLite counts in FTS5 (see the module doc).
async fn add_terms(tx: &mut Tx, org_id: Uuid, entry_id: Uuid) -> Result<()> {
    const SQL: &str = "INSERT INTO knowledge_terms (org_id, lexeme, chunks)
                       SELECT $1, l.lexeme, COUNT(*)
                       FROM knowledge_chunks c CROSS JOIN LATERAL unnest(tsvector_to_array(c.fts_vector)) AS l(lexeme)
                       WHERE c.org_id = $1 AND c.entry_id = $2
                       GROUP BY l.lexeme
                       ON CONFLICT (org_id, lexeme) DO UPDATE SET chunks = knowledge_terms.chunks + EXCLUDED.chunks";
    if let Tx::Postgres(t) = tx {
        sqlx::query(SQL).bind(org_id).bind(entry_id).execute(&mut **t).await?;
    }
    Ok(())
}

/// An entry's chunks in order (bounded by what one entry can hold).
pub async fn entry_chunks(db: &Db, org_id: Uuid, entry_id: Uuid, limit: i64) -> Result<Vec<ChunkRow>> {
    const SQL: &str = "SELECT id, entry_id, seq, title, text, url, embedding_model FROM knowledge_chunks
                       WHERE org_id = $1 AND entry_id = $2 ORDER BY seq LIMIT $3";
    Ok(on_read!(db, |p| sqlx::query_as::<_, ChunkRow>(SQL)
        .bind(org_id)
        .bind(entry_id)
        .bind(limit)
        .fetch_all(p)
        .await?))
}

/// Store a chunk's vector.
pub async fn set_embedding(tx: &mut Tx, org_id: Uuid, chunk_id: Uuid, model: &str, vector: &[u8]) -> Result<()> {
    const SQL: &str = "UPDATE knowledge_chunks SET embedding = $3, embedding_model = $4 WHERE org_id = $1 AND id = $2";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(chunk_id)
        .bind(vector)
        .bind(model)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// The stored vectors of `model` in the workspace, at most `limit` (the
/// embedding path scores them in process; knowledge bases are small).
pub async fn embeddings(db: &Db, org_id: Uuid, model: &str, limit: i64) -> Result<Vec<EmbeddingRow>> {
    const SQL: &str = "SELECT id, embedding FROM knowledge_chunks
                       WHERE org_id = $1 AND embedding_model = $2 AND embedding IS NOT NULL
                       ORDER BY doc_id LIMIT $3";
    Ok(on_read!(db, |p| sqlx::query_as::<_, EmbeddingRow>(SQL)
        .bind(org_id)
        .bind(model)
        .bind(limit)
        .fetch_all(p)
        .await?))
}

/// Chunks by id with their entry's kind (the embedding path's hits).
pub async fn chunks_by_id(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<ChunkHit>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new("");
    sql.push_bound(
        "SELECT c.id, c.entry_id, e.kind, c.title, c.text, c.url, CAST(0 AS DOUBLE PRECISION) AS score
         FROM knowledge_chunks c JOIN knowledge_entries e ON e.id = c.entry_id AND e.org_id = c.org_id
         WHERE c.org_id = $1 AND c.id IN (",
        [org_id.into()],
    );
    sql.bind_list(ids.iter().copied());
    sql.push(")");
    sql.fetch_all(db).await
}

/// The workspace token of the SQLite index's first column (see the migration).
pub fn org_token(org_id: Uuid) -> String {
    format!("o{}", org_id.simple())
}

/// Words (already lower-case letters and digits, so nothing reaches the
/// query syntax) OR-ed in the engine's syntax.
fn any_of(backend: Backend, words: &[String]) -> String {
    match backend {
        Backend::Sqlite => words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" OR "),
        Backend::Postgres => words.join(" | "),
    }
}

/// The best `limit` chunks of the workspace matching any of `words`, best
/// first, ranking at most `max_scored` matches: the first the engine finds
/// (in storage order), when the words match more. Work: the postings of
/// those words within the workspace, and at most `max_scored` scores.
pub async fn search(db: &Db, org_id: Uuid, words: &[String], limit: i64, max_scored: i64) -> Result<Vec<ChunkHit>> {
    let words: Vec<String> = words.iter().filter(|w| is_plain(w)).cloned().collect();
    if words.is_empty() {
        return Ok(vec![]);
    }
    search_sql(db.backend(), org_id, &words, limit, max_scored).fetch_all(db).await
}

/// [`search`]'s statement (public so the benchmark can time the raw query).
pub fn search_sql(backend: Backend, org_id: Uuid, words: &[String], limit: i64, max_scored: i64) -> Sql {
    let mut sql = Sql::new("");
    match backend {
        Backend::Sqlite => {
            let query = format!("org : \"{}\" AND ({})", org_token(org_id), any_of(backend, words));
            // bm25 is lower-is-better: negated so both engines sort DESC. The
            // org column weighs nothing; a title word counts twice. The
            // innermost LIMIT stops the scoring (SQLite runs that subquery
            // as a coroutine, row by row).
            sql.push_bound(
                "SELECT c.id, c.entry_id, e.kind, c.title, c.text, c.url, h.score FROM (
                   SELECT rowid, score FROM (
                     SELECT rowid, -bm25(fts_knowledge, 0.0, 2.0, 1.0) AS score FROM fts_knowledge
                     WHERE fts_knowledge MATCH $1 LIMIT $4)
                   ORDER BY score DESC LIMIT $2) h
                 JOIN knowledge_chunks c ON c.doc_id = h.rowid
                 JOIN knowledge_entries e ON e.id = c.entry_id
                 WHERE c.org_id = $3 AND e.org_id = $3 ORDER BY h.score DESC",
                [query.into(), limit.into(), org_id.into(), max_scored.into()],
            );
        }
        Backend::Postgres => {
            // ts_rank's normalization 1 divides by 1 + log(length): a long
            // page does not win by repeating a word. ts_rank runs only on the
            // first `max_scored` matches (the filter on `n` comes before it),
            // and row_number()'s run condition also stops the scan there
            // (PostgreSQL 15 and later). Not a LIMIT in a subquery:
            // under a generic plan (sqlx prepares statements) the planner
            // then prefers a "fast-start" walk of the workspace's rows,
            // testing `@@` on each (47 ms instead of 3 ms for 450 matches in
            // 10,000 chunks); the window keeps the index plan chosen for the
            // whole match set.
            sql.push_bound(
                "SELECT c.id, c.entry_id, e.kind, c.title, c.text, c.url, h.score FROM (
                   SELECT doc_id, ts_rank(fts_vector, to_tsquery('english', $1), 1)::float8 AS score FROM (
                     SELECT doc_id, fts_vector, row_number() OVER () AS n FROM knowledge_chunks
                     WHERE org_id = $2 AND fts_vector @@ to_tsquery('english', $1)) m
                   WHERE n <= $4 ORDER BY score DESC LIMIT $3) h
                 JOIN knowledge_chunks c ON c.doc_id = h.doc_id
                 JOIN knowledge_entries e ON e.id = c.entry_id
                 WHERE c.org_id = $2 AND e.org_id = $2 ORDER BY h.score DESC",
                [any_of(backend, words).into(), org_id.into(), limit.into(), max_scored.into()],
            );
        }
    }
    sql
}

/// How many of the workspace's chunks contain each word (document
/// frequency, through the engine's own stemming), in the order given, each
/// counted up to `cap` only: a word in more chunks than that is reported as
/// `cap`. One statement for all the words, whatever the size of the
/// knowledge base: SQLite walks at most `cap` postings per word in FTS5;
/// PostgreSQL looks each word's lexeme up in `knowledge_terms` (one index
/// probe per word; see [`WORD_COUNTS_POSTGRES`]).
pub async fn word_counts(db: &Db, org_id: Uuid, words: &[String], cap: i64) -> Result<Vec<i64>> {
    let mut out = vec![0i64; words.len()];
    let asked: Vec<(usize, &String)> = words.iter().enumerate().filter(|(_, w)| is_plain(w)).collect();
    if asked.is_empty() {
        return Ok(out);
    }
    let found: Vec<(i64, i64)> = match db {
        Db::Postgres(pool) => {
            let (index, plain): (Vec<i64>, Vec<&str>) = asked.iter().map(|(i, w)| (*i as i64, w.as_str())).unzip();
            sqlx::query_as(WORD_COUNTS_POSTGRES).bind(org_id).bind(plain).bind(index).bind(cap).fetch_all(pool).await?
        }
        Db::Sqlite(_) => {
            let mut sql = Sql::new("");
            for (n, (i, w)) in asked.iter().enumerate() {
                if n > 0 {
                    sql.push(" UNION ALL ");
                }
                sql.push("SELECT CAST(")
                    .bind(*i as i64)
                    .push(" AS BIGINT) AS i, COUNT(*) AS n FROM (SELECT 1 AS one FROM ");
                sql.push("fts_knowledge WHERE fts_knowledge MATCH ")
                    .bind(format!("org : \"{}\" AND \"{w}\"", org_token(org_id)));
                sql.push(" LIMIT ").bind(cap).push(") AS m");
            }
            sql.fetch_all(db).await?
        }
    };
    for (i, n) in found {
        if let Some(slot) = out.get_mut(i as usize) {
            *slot = n;
        }
    }
    Ok(out)
}

/// PostgreSQL's [`word_counts`] statement (public so the benchmark can time
/// it alone). `$2`: the words, `$3`: their positions, `$4`: the cap. A word
/// maps to its lexeme through `to_tsvector('english', …)`, the configuration
/// and normalisation of both the stored vectors and the search's
/// `to_tsquery` (query words are already lower-case and accent-folded); a
/// stop word has no lexeme and counts 0. A word the parser splits into
/// several lexemes (which the search matches as a phrase) gets the smallest
/// of their counts, 0 if one is missing: an upper bound of its true count.
pub const WORD_COUNTS_POSTGRES: &str =
    "SELECT w.i, CAST(COALESCE(MIN(LEAST(COALESCE(t.chunks, 0), $4)) FILTER (WHERE l.lexeme IS NOT NULL), 0) AS BIGINT)
     FROM unnest($2::text[], $3::bigint[]) AS w(word, i)
     LEFT JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', w.word))) AS l(lexeme) ON TRUE
     LEFT JOIN knowledge_terms t ON t.org_id = $1 AND t.lexeme = l.lexeme
     GROUP BY w.i";

/// How many chunks the workspace holds (from the entries' counters).
pub async fn chunk_total(db: &Db, org_id: Uuid) -> Result<i64> {
    const SQL: &str = "SELECT CAST(COALESCE(SUM(chunk_count), 0) AS BIGINT) FROM knowledge_entries WHERE org_id = $1";
    Ok(on_read!(db, |p| sqlx::query_scalar::<_, i64>(SQL).bind(org_id).fetch_one(p).await?))
}

/// Lower-case letters and digits only, 1–64 bytes of them: safe inside
/// either engine's query syntax.
fn is_plain(w: &str) -> bool {
    !w.is_empty() && w.len() <= 64 && w.chars().all(|c| c.is_alphanumeric() && !c.is_uppercase())
}
