//! The knowledge base (issue #5 §4): what a business teaches the assistant —
//! FAQs, offers, free texts, uploaded documents and imported websites — and
//! the job that turns each entry into indexed chunks.
//!
//! Who: every member (viewers too) may read the knowledge base and try
//! questions against it; only admins and owners add, change or delete
//! entries, because the assistant repeats them to customers in the
//! business's name (the same bar as connecting a channel).
//!
//! Indexing is a job (`ai.knowledge.index`; websites: `ai.knowledge.crawl`)
//! enqueued in the transaction that creates or changes the entry. It cuts
//! the entry's text into overlapping chunks ([`kith_formats::chunk`]) and
//! replaces the entry's chunks only if the entry is still at the version it
//! read — an edit made meanwhile has queued a newer job, whose result wins.
//! When the workspace has configured an embedding model, each chunk also
//! gets a vector ([`crate::ai::retrieval`] uses it beside full text).
//!
//! Knowledge is the business's own published content, not customer data:
//! stored in clear. This module never fetches a URL itself (the crawl does,
//! through the SSRF-guarded client) and never reads another workspace's rows.

use crate::worker::{JobError, Registry};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Role;
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_formats::chunk::{self, ChunkOptions, Section};
/// Largest document upload (20 MiB).
pub use kith_formats::document::MAX_DOCUMENT_BYTES;
use kith_formats::document::{self, ExtractError};
use kith_store::jobs::ClaimedJob;
use kith_store::knowledge::{self as rows, EntryRow, Indexed, NewChunk, Progress};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const INDEX_JOB: &str = "ai.knowledge.index";
pub const CRAWL_JOB: &str = "ai.knowledge.crawl";

/// Most entries in one workspace.
pub const MAX_ENTRIES: i64 = 5_000;
/// Most chunks one entry may become (a 1M-character document is ~1,300).
pub const MAX_CHUNKS_PER_ENTRY: usize = 5_000;
const MAX_TITLE_CHARS: usize = 300;
const MAX_QUESTION_CHARS: usize = 1_000;
const MAX_ANSWER_CHARS: usize = 10_000;
const MAX_BODY_CHARS: usize = 200_000;
/// Start URLs of one website entry.
const MAX_URLS: usize = 20;
pub const DEFAULT_PAGE_LIMIT: i64 = 50;
pub const MAX_PAGE_LIMIT: i64 = 500;

pub const KINDS: [&str; 5] = ["faq", "offer", "text", "document", "website"];

/// One entry as the API shows it. An FAQ has `question` and `answer`; an
/// offer or text `title` and `body`; a document `title` (its file name),
/// `content_type` and `body` (the extracted text); a website `urls` and
/// `page_limit`, and after a crawl `pages_failed`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KnowledgeEntry {
    pub id: Uuid,
    /// `faq`, `offer`, `text`, `document` or `website`.
    pub kind: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_limit: Option<i64>,
    /// `queued`, `indexing`, `ready` or `failed` (then `error` says why).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Steps of the running job done so far and in all (pages for a website).
    pub progress_done: i64,
    pub progress_total: i64,
    pub chunk_count: i64,
    /// Pages of a website import that could not be read, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pages_failed: Vec<PageProblem>,
    pub created_by: Uuid,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PageProblem {
    pub url: String,
    pub error: String,
}

/// A new entry given as JSON (documents are uploaded instead, see [`upload`]).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKnowledge {
    /// `faq`, `offer`, `text` or `website`.
    pub kind: String,
    #[serde(default)]
    pub question: Option<String>,
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Website: where the crawl starts (same site only).
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    /// Website: most pages read, 1–500 (default 50).
    #[serde(default)]
    pub page_limit: Option<i64>,
}

/// Fields to change; those that do not fit the entry's kind are refused.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgePatch {
    #[serde(default)]
    pub question: Option<String>,
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    #[serde(default)]
    pub page_limit: Option<i64>,
}

fn to_api(r: EntryRow) -> KnowledgeEntry {
    let faq = r.kind == "faq";
    let website = r.kind == "website";
    let document = r.kind == "document";
    let pages_failed = r.report.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
    KnowledgeEntry {
        id: r.id,
        question: faq.then(|| r.title.clone()),
        answer: faq.then(|| r.body.clone()),
        body: (!faq && !website).then(|| r.body.clone()),
        file_name: if document { r.source_name.clone() } else { None },
        content_type: r.content_type.clone(),
        urls: r.urls.as_deref().and_then(|j| serde_json::from_str(j).ok()),
        page_limit: r.page_limit,
        kind: r.kind,
        title: r.title,
        status: r.status,
        error: r.error,
        progress_done: r.progress_done,
        progress_total: r.progress_total,
        chunk_count: r.chunk_count,
        pages_failed,
        created_by: r.created_by,
        version: r.version,
        created_at_ms: r.created_ms,
        updated_at_ms: r.updated_ms,
    }
}

fn may_read(ctx: &Context) -> Result<()> {
    if ctx.can(kith_domain::role::Action::ReadRecords) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// Admins and owners edit what the assistant tells customers.
fn may_edit(ctx: &Context) -> Result<()> {
    if ctx.effective_role() >= Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// Trimmed text of 1..=max characters, or a field error.
fn text_field(v: &mut crate::error::Validator, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let value = value.map(str::trim).unwrap_or("");
    if value.is_empty() {
        v.check::<()>(field, Err("is required"));
        None
    } else if value.chars().count() > max {
        v.check::<()>(field, Err(format!("must be at most {max} characters")));
        None
    } else {
        Some(value.to_string())
    }
}

/// Start URLs: http(s), absolute, no credentials, 1..=20, all on one site.
fn check_urls(v: &mut crate::error::Validator, urls: Option<&[String]>) -> Option<Vec<String>> {
    let urls = urls.unwrap_or(&[]);
    if urls.is_empty() || urls.len() > MAX_URLS {
        v.check::<()>("urls", Err(format!("give 1 to {MAX_URLS} URLs")));
        return None;
    }
    let mut out = Vec::new();
    let mut site: Option<String> = None;
    for (i, raw) in urls.iter().enumerate() {
        let field = format!("urls[{i}]");
        let parsed = match reqwest::Url::parse(raw.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
            _ => {
                v.check::<()>(&field, Err("must be an http(s) URL"));
                continue;
            }
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            v.check::<()>(&field, Err("must not contain a user name or password"));
            continue;
        }
        let this_site = super::crawl::site_of(&parsed);
        match &site {
            Some(s) if *s != this_site => {
                v.check::<()>(&field, Err("must be on the same site as the first URL"));
                continue;
            }
            _ => site = Some(this_site),
        }
        out.push(parsed.to_string());
    }
    Some(out)
}

fn check_page_limit(v: &mut crate::error::Validator, limit: Option<i64>) -> i64 {
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        v.check::<()>("page_limit", Err(format!("must be 1 to {MAX_PAGE_LIMIT}")));
    }
    limit
}

/// Fields given that the kind does not take.
fn refuse_foreign(v: &mut crate::error::Validator, kind: &str, given: &[(&str, bool)]) {
    let allowed: &[&str] = match kind {
        "faq" => &["question", "answer"],
        "offer" | "text" => &["title", "body"],
        "document" => &["title", "body"],
        "website" => &["urls", "page_limit"],
        _ => &[],
    };
    for (name, present) in given {
        if *present && !allowed.contains(name) {
            v.check::<()>(name, Err(format!("is not a field of a {kind} entry")));
        }
    }
}

pub async fn create(app: &App, ctx: &Context, input: &NewKnowledge) -> Result<KnowledgeEntry> {
    may_edit(ctx)?;
    let kind = input.kind.trim();
    let mut v = crate::error::Validator::default();
    if !["faq", "offer", "text", "website"].contains(&kind) {
        let hint = if kind == "document" { "upload documents as multipart/form-data" } else { "is not a kind" };
        return Err(AppError::field("kind", format!("{hint}; one of faq, offer, text, website")));
    }
    refuse_foreign(
        &mut v,
        kind,
        &[
            ("question", input.question.is_some()),
            ("answer", input.answer.is_some()),
            ("title", input.title.is_some()),
            ("body", input.body.is_some()),
            ("urls", input.urls.is_some()),
            ("page_limit", input.page_limit.is_some()),
        ],
    );
    let now = now_ms();
    let mut row = EntryRow {
        id: new_id(),
        org_id: ctx.org_id,
        kind: kind.to_string(),
        title: String::new(),
        body: String::new(),
        source_name: None,
        content_type: None,
        urls: None,
        page_limit: None,
        status: "queued".into(),
        error: None,
        progress_done: 0,
        progress_total: 0,
        chunk_count: 0,
        report: None,
        created_by: ctx.user_id(),
        version: 1,
        indexed_version: 0,
        created_ms: now,
        updated_ms: now,
    };
    match kind {
        "faq" => {
            row.title =
                text_field(&mut v, "question", input.question.as_deref(), MAX_QUESTION_CHARS).unwrap_or_default();
            row.body = text_field(&mut v, "answer", input.answer.as_deref(), MAX_ANSWER_CHARS).unwrap_or_default();
        }
        "offer" | "text" => {
            row.title = text_field(&mut v, "title", input.title.as_deref(), MAX_TITLE_CHARS).unwrap_or_default();
            row.body = text_field(&mut v, "body", input.body.as_deref(), MAX_BODY_CHARS).unwrap_or_default();
        }
        _ => {
            let urls = check_urls(&mut v, input.urls.as_deref()).unwrap_or_default();
            row.page_limit = Some(check_page_limit(&mut v, input.page_limit));
            row.title = urls.first().cloned().unwrap_or_default();
            row.urls = Some(serde_json::to_string(&urls).expect("a list of strings serializes"));
        }
    }
    v.finish()?;
    insert(app, row).await
}

/// A document upload: its text is extracted now (so a file we cannot read
/// is refused at once, with the reason), stored with the entry, and indexed
/// by the job. The file itself is not kept.
pub async fn upload(
    app: &App,
    ctx: &Context,
    file_name: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> Result<KnowledgeEntry> {
    may_edit(ctx)?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(AppError::Conflict(ErrorCode::PayloadTooLarge, "a document may be at most 20 MiB"));
    }
    let file_name = file_name.trim();
    let file_name = if file_name.is_empty() { "document" } else { file_name };
    let file_name: String = file_name.chars().take(MAX_TITLE_CHARS).collect();
    let kind = document::detect(&file_name, content_type, &bytes[..bytes.len().min(8)]).ok_or(AppError::Conflict(
        ErrorCode::UnsupportedMediaType,
        "upload a PDF, DOCX, Markdown, HTML or plain-text file",
    ))?;
    // PDF parsing is CPU work: off the async threads.
    let sections = tokio::task::spawn_blocking(move || document::extract(kind, &bytes))
        .await
        .map_err(|e| AppError::Internal(format!("document extraction stopped: {e}")))?
        .map_err(|e| match e {
            ExtractError::Empty => AppError::field("file", "the file holds no text"),
            other => AppError::field("file", other.to_string()),
        })?;
    let now = now_ms();
    let row = EntryRow {
        id: new_id(),
        org_id: ctx.org_id,
        kind: "document".into(),
        title: file_name.clone(),
        body: sections_to_markdown(&sections),
        source_name: Some(file_name),
        content_type: Some(kind.content_type().into()),
        urls: None,
        page_limit: None,
        status: "queued".into(),
        error: None,
        progress_done: 0,
        progress_total: 0,
        chunk_count: 0,
        report: None,
        created_by: ctx.user_id(),
        version: 1,
        indexed_version: 0,
        created_ms: now,
        updated_ms: now,
    };
    insert(app, row).await
}

/// A document's sections as Markdown (headings as `##`), so the stored text
/// keeps its structure and re-indexing reads it back the same way.
fn sections_to_markdown(sections: &[Section]) -> String {
    let mut out = String::new();
    for s in sections {
        if !s.heading.is_empty() {
            out.push_str("## ");
            out.push_str(&s.heading);
            out.push_str("\n\n");
        }
        for p in &s.paragraphs {
            out.push_str(p);
            out.push_str("\n\n");
        }
    }
    out.trim_end().to_string()
}

async fn insert(app: &App, row: EntryRow) -> Result<KnowledgeEntry> {
    let mut tx = app.db().begin().await?;
    if count(&mut tx, row.org_id).await? >= MAX_ENTRIES {
        return Err(AppError::field("kind", format!("a workspace holds at most {MAX_ENTRIES} knowledge entries")));
    }
    rows::insert_entry(&mut tx, &row).await?;
    enqueue_index(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(to_api(row))
}

async fn count(tx: &mut kith_store::Tx, org_id: Uuid) -> Result<i64> {
    Ok(rows::count_entries(tx, org_id).await?)
}

async fn enqueue_index(tx: &mut kith_store::Tx, row: &EntryRow) -> Result<()> {
    let job = if row.kind == "website" { CRAWL_JOB } else { INDEX_JOB };
    crate::worker::enqueue(
        tx,
        job,
        Some(row.org_id),
        &serde_json::json!({ "entry_id": row.id, "version": row.version }),
        now_ms(),
    )
    .await?;
    Ok(())
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<KnowledgeEntry> {
    may_read(ctx)?;
    Ok(to_api(rows::get_entry(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?))
}

/// The workspace's entries, newest first, optionally of one kind.
pub async fn list(app: &App, ctx: &Context, kind: Option<&str>, page: &PageRequest) -> Result<Page<KnowledgeEntry>> {
    may_read(ctx)?;
    if let Some(k) = kind {
        if !KINDS.contains(&k) {
            return Err(AppError::field("kind", "must be one of faq, offer, text, document, website"));
        }
    }
    Ok(rows::list_entries(app.db(), ctx.org_id, kind, page).await?.map(to_api))
}

/// Change an entry (`if_version`: the ETag the client read; stale is 412)
/// and queue its re-index.
pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &KnowledgePatch,
    if_version: Option<i64>,
) -> Result<KnowledgeEntry> {
    may_edit(ctx)?;
    let mut row = rows::get_entry(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if if_version.is_some_and(|v| v != row.version) {
        return Err(AppError::StaleVersion);
    }
    let mut v = crate::error::Validator::default();
    refuse_foreign(
        &mut v,
        &row.kind,
        &[
            ("question", input.question.is_some()),
            ("answer", input.answer.is_some()),
            ("title", input.title.is_some()),
            ("body", input.body.is_some()),
            ("urls", input.urls.is_some()),
            ("page_limit", input.page_limit.is_some()),
        ],
    );
    match row.kind.as_str() {
        "faq" => {
            if let Some(q) = text_field(
                &mut v,
                "question",
                Some(input.question.as_deref().unwrap_or(&row.title)),
                MAX_QUESTION_CHARS,
            ) {
                row.title = q;
            }
            if let Some(a) =
                text_field(&mut v, "answer", Some(input.answer.as_deref().unwrap_or(&row.body)), MAX_ANSWER_CHARS)
            {
                row.body = a;
            }
        }
        "website" => {
            if input.urls.is_some() {
                let urls = check_urls(&mut v, input.urls.as_deref()).unwrap_or_default();
                row.title = urls.first().cloned().unwrap_or_default();
                row.urls = Some(serde_json::to_string(&urls).expect("a list of strings serializes"));
            }
            if input.page_limit.is_some() {
                row.page_limit = Some(check_page_limit(&mut v, input.page_limit));
            }
        }
        _ => {
            if let Some(t) =
                text_field(&mut v, "title", Some(input.title.as_deref().unwrap_or(&row.title)), MAX_TITLE_CHARS)
            {
                row.title = t;
            }
            let max = if row.kind == "document" { document::MAX_TEXT_CHARS } else { MAX_BODY_CHARS };
            if let Some(b) = text_field(&mut v, "body", Some(input.body.as_deref().unwrap_or(&row.body)), max) {
                row.body = b;
            }
        }
    }
    v.finish()?;
    row.version += 1;
    row.status = "queued".into();
    row.updated_ms = now_ms().max(row.updated_ms + 1);
    let mut tx = app.db().begin().await?;
    if !rows::update_entry(&mut tx, &row).await? {
        return Err(AppError::StaleVersion);
    }
    enqueue_index(&mut tx, &row).await?;
    tx.commit().await?;
    row.error = None;
    row.progress_done = 0;
    row.progress_total = 0;
    row.report = None;
    Ok(to_api(row))
}

/// Queue a fresh index of an entry as it stands (a website: a new crawl).
pub async fn reindex(app: &App, ctx: &Context, id: Uuid) -> Result<KnowledgeEntry> {
    update(app, ctx, id, &KnowledgePatch::default(), None).await
}

/// Delete an entry and its chunks: retrieval stops finding it at once.
pub async fn delete(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    may_edit(ctx)?;
    let mut tx = app.db().begin().await?;
    if !rows::delete_entry(&mut tx, ctx.org_id, id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

pub fn register(r: &mut Registry) {
    r.register(INDEX_JOB, run_index);
    r.register(CRAWL_JOB, super::crawl::run);
}

#[derive(Debug, Deserialize)]
pub(crate) struct IndexPayload {
    pub entry_id: Uuid,
    pub version: i64,
}

pub(crate) fn payload(job: &ClaimedJob) -> std::result::Result<(Uuid, IndexPayload), JobError> {
    let org_id = job.org_id.ok_or_else(|| JobError::permanent("knowledge job without a workspace"))?;
    let p: IndexPayload =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("bad payload: {e}")))?;
    Ok((org_id, p))
}

/// The indexing job: chunk the entry's text and store the chunks (and
/// their vectors, when the workspace embeds).
async fn run_index(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let (org_id, p) = payload(&job)?;
    let Some(entry) = rows::get_entry(app.db(), org_id, p.entry_id).await.map_err(AppError::from)? else {
        return Ok(()); // deleted meanwhile
    };
    if entry.version != p.version {
        return Ok(()); // changed meanwhile: a newer job indexes it
    }
    let chunks = chunks_of(&entry);
    let total = chunks.len() as i64;
    let indexing = Progress { status: "indexing", done: 0, total, error: None };
    rows::set_progress(app.db(), org_id, entry.id, entry.version, &indexing, now_ms()).await.map_err(AppError::from)?;
    if chunks.len() > MAX_CHUNKS_PER_ENTRY {
        let error = format!("the text is too long: more than {MAX_CHUNKS_PER_ENTRY} passages");
        let failed = Progress { status: "failed", done: 0, total, error: Some(&error) };
        rows::set_progress(app.db(), org_id, entry.id, entry.version, &failed, now_ms())
            .await
            .map_err(AppError::from)?;
        return Ok(());
    }
    let done = chunks.len() as i64;
    store_chunks(&app, org_id, entry.id, entry.version, chunks, None, done).await
}

/// Replace the entry's chunks (if it is still at `version`), then embed them
/// when the workspace has an embedding model.
pub(crate) async fn store_chunks(
    app: &App,
    org_id: Uuid,
    entry_id: Uuid,
    version: i64,
    chunks: Vec<NewChunk>,
    report: Option<String>,
    done: i64,
) -> std::result::Result<(), JobError> {
    let mut tx = app.db().begin().await.map_err(AppError::from)?;
    let ix = Indexed { version, chunks: &chunks, report: report.as_deref(), done };
    let stored = rows::replace_chunks(&mut tx, org_id, entry_id, &ix, now_ms()).await.map_err(AppError::from)?;
    tx.commit().await.map_err(AppError::from)?;
    if stored {
        super::retrieval::embed_chunks(app, org_id, &chunks).await?;
    }
    Ok(())
}

/// The chunks an entry's text becomes. An FAQ is one chunk: the question as
/// its title, the answer as its text (what an FAQ-only reply sends).
pub(crate) fn chunks_of(entry: &EntryRow) -> Vec<NewChunk> {
    if entry.kind == "faq" {
        return vec![NewChunk {
            id: new_id(),
            seq: 0,
            title: entry.title.clone(),
            text: entry.body.clone(),
            url: None,
        }];
    }
    let sections = document::markdown_sections(&entry.body);
    titled_chunks(&entry.title, &sections, None, 0)
}

/// Chunks of sections under `title` (each chunk's title: the entry's title
/// and the section's heading), numbered from `first_seq`.
pub(crate) fn titled_chunks(title: &str, sections: &[Section], url: Option<&str>, first_seq: i64) -> Vec<NewChunk> {
    chunk::chunk(sections, ChunkOptions::default())
        .into_iter()
        .enumerate()
        .map(|(i, c)| NewChunk {
            id: new_id(),
            seq: first_seq + i as i64,
            title: if c.heading.is_empty() || c.heading == title {
                title.to_string()
            } else {
                format!("{title} › {}", c.heading)
            },
            text: c.text,
            url: url.map(str::to_string),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_headings_through_storage() {
        let sections = vec![
            Section { heading: String::new(), paragraphs: vec!["Intro.".into()] },
            Section { heading: "Returns".into(), paragraphs: vec!["Within 30 days.".into(), "Unworn.".into()] },
        ];
        let md = sections_to_markdown(&sections);
        assert_eq!(document::markdown_sections(&md), sections);
    }
}
