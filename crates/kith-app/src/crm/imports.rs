//! Contact imports from CSV (HubSpot, Salesforce, Pipedrive or any sheet)
//! and vCard 3/4, run as a job.
//!
//! The upload is stored in chunks; the job streams it (a parser thread reads
//! the chunks and hands over batches of records), and commits each batch of
//! contacts together with the import's counters, so a restart resumes after
//! the last committed batch and nothing is done twice. Duplicates are found
//! by normalised e-mail, phone, or (for rows with neither) name + company,
//! among the contacts the importing user may see; within the file too.
//! Re-running the same file therefore creates nothing.

use super::contacts::{self, apply_input, ContactInput, LabeledValue, PhonePolicy};
use super::{need, search_terms};
use crate::worker::{self, JobError, Registry};
use crate::{App, AppError, Result};
use kith_domain::crm::{check_date, FieldKind};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::{Action, Role};
use kith_domain::time::now_ms;
use kith_domain::visibility::{Viewer, Visibility};
use kith_domain::{new_id, Actor, Context, Credential};
/// Named by [`ImportOptions::preset`]; re-exported so callers need not depend on kith-formats.
pub use kith_formats::Preset;
use kith_formats::{ImportedContact, Mapping, RowError};
use kith_store::contacts::ContactRow;
use kith_store::imports::{self as rows, ImportRow, IssueRow, Progress};
use kith_store::records;
use kith_store::{files, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

pub const JOB: &str = "crm.import";
/// Records committed per transaction (group commit). Large enough that
/// each commit's fixed costs (SQLite's full-text index writes a new segment
/// per transaction) are shared by many rows; small enough that a restart
/// redoes little.
pub const BATCH: usize = 2_000;
/// An import that wrote at least this many rows refreshes the planner's statistics.
const OPTIMIZE_AFTER_ROWS: i64 = 1_000;
/// An upload the web wizard keeps until its columns are confirmed ([`Upload::stage`]).
pub const STAGED: &str = "staged";
/// A staged upload that was confirmed: `error` names the import that runs it.
pub const REPLACED: &str = "replaced";
/// A staged upload that was dropped, or never confirmed.
pub const DISCARDED: &str = "discarded";
/// How long a staged upload waits for its confirmation.
const STAGED_TTL_MS: i64 = kith_domain::time::DAY_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dedupe {
    /// Fill in and add to the existing contact.
    Update,
    /// Leave the existing contact alone.
    Skip,
    /// Always make a new contact.
    Create,
}

impl Dedupe {
    pub fn parse(s: &str) -> Option<Dedupe> {
        Some(match s {
            "update" => Dedupe::Update,
            "skip" => Dedupe::Skip,
            "create" => Dedupe::Create,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Dedupe::Update => "update",
            Dedupe::Skip => "skip",
            Dedupe::Create => "create",
        }
    }
}

/// What the uploader chose.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub file_name: String,
    /// Detected from the header row when None.
    pub preset: Option<Preset>,
    /// JSON `{"columns": {...}}`; the preset's mapping when None.
    pub mapping: Option<String>,
    pub dedupe: Dedupe,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Import {
    pub id: Uuid,
    /// `queued`, `running`, `done` or `failed`; `staged` while an upload from the web
    /// wizard waits for its columns to be confirmed.
    pub status: String,
    pub format: String,
    pub preset: String,
    #[schema(value_type = Object)]
    pub mapping: Value,
    pub dedupe: Dedupe,
    pub dry_run: bool,
    pub file_name: String,
    pub file_bytes: i64,
    pub total: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub warnings: i64,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

impl From<ImportRow> for Import {
    fn from(r: ImportRow) -> Import {
        Import {
            id: r.id,
            status: if r.status == "uploading" { "queued".into() } else { r.status },
            format: r.format,
            preset: r.preset,
            mapping: serde_json::from_str(&r.mapping).unwrap_or(Value::Null),
            dedupe: Dedupe::parse(&r.dedupe).unwrap_or(Dedupe::Update),
            dry_run: r.dry_run,
            file_name: r.file_name,
            file_bytes: r.file_bytes,
            total: r.total,
            created: r.created,
            updated: r.updated,
            skipped: r.skipped,
            failed: r.failed,
            warnings: r.warnings,
            error: r.error,
            created_at_ms: r.created_ms,
            finished_at_ms: r.finished_ms,
        }
    }
}

impl Import {
    /// The import that runs this staged upload, once it was confirmed.
    pub fn replaced_by(&self) -> Option<Uuid> {
        (self.status == REPLACED).then(|| self.error.as_deref().and_then(|e| Uuid::try_parse(e).ok())).flatten()
    }
}

/// An upload in progress: bytes go to storage chunk by chunk.
pub struct Upload {
    app: App,
    ctx: Context,
    options: ImportOptions,
    id: Uuid,
    seq: i64,
    bytes: i64,
    pending: Vec<u8>,
    first: Vec<u8>,
}

/// Start an upload (members and up).
pub fn begin(app: &App, ctx: &Context, options: ImportOptions) -> Result<Upload> {
    need(ctx, Action::WriteRecords)?;
    let name = options.file_name.trim();
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(AppError::field("file", "needs a file name of at most 255 characters"));
    }
    Ok(Upload {
        app: app.clone(),
        ctx: ctx.clone(),
        options,
        id: new_id(),
        seq: 0,
        bytes: 0,
        pending: Vec::new(),
        first: Vec::new(),
    })
}

impl Upload {
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(data);
        self.bytes += data.len() as i64;
        if self.first.len() < 64 * 1024 {
            let want = (64 * 1024 - self.first.len()).min(data.len());
            self.first.extend_from_slice(&data[..want]);
        }
        while self.pending.len() >= files::CHUNK_BYTES {
            let rest = self.pending.split_off(files::CHUNK_BYTES);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.store(&chunk).await?;
        }
        Ok(())
    }

    /// The options, while the upload runs: a multipart form may send them
    /// after the file. The file name was checked by [`begin`].
    pub fn options_mut(&mut self) -> &mut ImportOptions {
        &mut self.options
    }

    /// Give up before [`Upload::finish`]: delete the chunks stored so far
    /// (nothing was queued, so nothing else refers to them).
    pub async fn abort(self) -> Result<()> {
        if self.seq > 0 {
            let mut tx = self.app.db().begin().await?;
            files::delete(&mut tx, self.ctx.org_id, self.id).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    async fn store(&mut self, chunk: &[u8]) -> Result<()> {
        let mut tx = self.app.db().begin().await?;
        files::append_chunk(&mut tx, self.id, self.ctx.org_id, self.seq, chunk).await?;
        tx.commit().await?;
        self.seq += 1;
        Ok(())
    }

    /// Check the header against the options, then queue the import.
    pub async fn finish(self) -> Result<Import> {
        self.store_row(false).await
    }

    /// Check the header against the options and keep the file, but do not
    /// queue it: the web wizard shows the columns and first rows
    /// ([`preview`]) and queues it with [`confirm`] once the user has
    /// checked the mapping, so the file is uploaded once. The import's
    /// status is `staged` until then; [`discard`] drops it, and staged
    /// uploads nobody confirms are discarded after a day.
    pub async fn stage(self) -> Result<Import> {
        let app = self.app.clone();
        let org_id = self.ctx.org_id;
        let staged = self.store_row(true).await?;
        if let Err(e) = discard_stale(&app, org_id, now_ms()).await {
            tracing::warn!(error = %e, "could not discard stale staged imports");
        }
        Ok(staged)
    }

    async fn store_row(mut self, staged: bool) -> Result<Import> {
        if self.bytes == 0 {
            return Err(AppError::field("file", "is empty"));
        }
        let format = if looks_like_vcard(&self.first) { "vcard" } else { "csv" };
        let (preset, mapping) = match plan(format, &self.first, self.options.preset, self.options.mapping.as_deref()) {
            Ok(planned) => planned,
            Err(e) => {
                // Refused: nothing will refer to the chunks already stored.
                self.abort().await?;
                return Err(e);
            }
        };
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() {
            self.store(&pending).await?;
        }
        let now = now_ms();
        let row = ImportRow {
            id: self.id,
            org_id: self.ctx.org_id,
            created_by: self.ctx.user_id(),
            status: if staged { STAGED.into() } else { "queued".into() },
            format: format.into(),
            preset,
            mapping,
            dedupe: self.options.dedupe.as_str().into(),
            dry_run: self.options.dry_run,
            file_name: self.options.file_name.trim().to_string(),
            file_bytes: self.bytes,
            rows_done: 0,
            total: 0,
            created: 0,
            updated: 0,
            skipped: 0,
            failed: 0,
            warnings: 0,
            error: None,
            created_ms: now,
            updated_ms: now,
            finished_ms: None,
        };
        let mut tx = self.app.db().begin().await?;
        rows::insert(&mut tx, &row).await?;
        if !staged {
            worker::enqueue(&mut tx, JOB, Some(self.ctx.org_id), &serde_json::json!({"import_id": self.id}), now)
                .await?;
        }
        tx.commit().await?;
        Ok(row.into())
    }
}

/// The preset and mapping JSON of a file whose first bytes are `first`.
fn plan(format: &str, first: &[u8], preset: Option<Preset>, mapping: Option<&str>) -> Result<(String, String)> {
    if format != "csv" {
        return Ok(("vcard".to_string(), "{}".to_string()));
    }
    let headers = csv_headers(first)?;
    let preset = preset.unwrap_or_else(|| kith_formats::presets::detect(&headers));
    let mapping = match mapping {
        Some(json) => {
            Mapping::from_json(json, &headers).map_err(|e| AppError::field("mapping", format!("{e} ({})", e.code())))?
        }
        None => kith_formats::presets::default_mapping(preset, &headers),
    };
    Ok((preset.as_str().to_string(), mapping.to_json()))
}

/// The header row of a CSV file, from its first bytes.
fn csv_headers(first: &[u8]) -> Result<Vec<String>> {
    let (text, _) =
        kith_formats::text::decode(first).map_err(|e| AppError::field("file", format!("cannot read the text: {e}")))?;
    let header_line = text.lines().next().unwrap_or_default().to_string() + "\n";
    let parsed = kith_formats::csv_in::Rows::new(header_line.as_bytes())
        .map_err(|e| AppError::field("file", format!("{} ({})", e, e.code())))?;
    Ok(parsed.headers().to_vec())
}

fn looks_like_vcard(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_uppercase();
    text.trim_start_matches('\u{feff}').trim_start().starts_with("BEGIN:VCARD")
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Import> {
    need(ctx, Action::ReadRecords)?;
    Ok(rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?.into())
}

pub async fn list(app: &App, ctx: &Context, page: &PageRequest) -> Result<Page<Import>> {
    need(ctx, Action::ReadRecords)?;
    let mut found = rows::list(app.db(), ctx.org_id, page).await?;
    // Staged uploads that were confirmed or dropped are not imports of their
    // own, and one waiting for its columns is its uploader's business.
    found.items.retain(|r| match r.status.as_str() {
        REPLACED | DISCARDED => false,
        STAGED => r.created_by == ctx.user_id(),
        _ => true,
    });
    Ok(found.map(Import::from))
}

/// The per-row report as CSV: row, severity, code, message.
pub async fn report_csv(app: &App, ctx: &Context, id: Uuid) -> Result<Vec<u8>> {
    need(ctx, Action::ReadRecords)?;
    rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    let mut out = kith_formats::csv_out::Writer::new(Vec::new());
    let io = |e: std::io::Error| AppError::Internal(e.to_string());
    out.write_header(&["row", "severity", "code", "message"]).map_err(io)?;
    let mut after = 0;
    loop {
        let batch = rows::issues(app.db(), id, after, 1000).await?;
        for i in &batch {
            out.write_row(&[i.row_no.to_string().as_str(), &i.severity, &i.code, &i.message]).map_err(io)?;
        }
        match batch.last() {
            Some(last) if batch.len() == 1000 => after = last.row_no,
            _ => break,
        }
    }
    out.into_inner().map_err(io)
}

// ---- staged uploads (the web wizard) ------------------------------------------

/// One column of a staged CSV file.
#[derive(Debug, Clone)]
pub struct PreviewColumn {
    /// The column's name in the mapping JSON (`Email`, `Email #2`, `column 7`).
    pub key: String,
    /// The target proposed for it: `first_name`, `email:work`, `custom:<key>`, `ignore`, …
    pub target: String,
}

/// What the wizard shows before an upload is queued.
#[derive(Debug, Clone)]
pub struct Preview {
    pub import: Import,
    /// The preset the targets are proposed for (`None` for vCard).
    pub preset: Option<Preset>,
    /// The file's columns (CSV); for vCard the fields the preview shows
    /// (name, e-mail, phone, company) with an empty target.
    pub columns: Vec<PreviewColumn>,
    /// The first records: their number and cells, or why they cannot be read.
    pub rows: Vec<PreviewRow>,
}

#[derive(Debug, Clone)]
pub struct PreviewRow {
    pub line: i64,
    pub cells: Vec<String>,
    pub error: Option<String>,
}

/// The choices that queue a staged upload.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub preset: Option<Preset>,
    /// JSON `{"columns": {...}}`; the preset's mapping when None.
    pub mapping: Option<String>,
    pub dedupe: Dedupe,
    pub dry_run: bool,
}

/// A staged upload of the caller's (anyone else's is not found).
async fn staged_row(app: &App, ctx: &Context, id: Uuid) -> Result<ImportRow> {
    need(ctx, Action::WriteRecords)?;
    let row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if row.created_by != ctx.user_id() {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

fn not_staged() -> AppError {
    AppError::Conflict(crate::ErrorCode::InUse, "this upload was already queued or discarded")
}

/// A cell as the preview shows it: at most 200 characters.
fn clip(cell: &str) -> String {
    let cell = cell.trim();
    match cell.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &cell[..i]),
        None => cell.to_string(),
    }
}

/// The columns and first `limit` records of a staged upload (at most 20),
/// with the targets of its mapping, or of `preset`'s default mapping when
/// given. Reads only the file's first chunk.
pub async fn preview(app: &App, ctx: &Context, id: Uuid, preset: Option<Preset>, limit: usize) -> Result<Preview> {
    let row = staged_row(app, ctx, id).await?;
    if row.status != STAGED {
        return Err(not_staged());
    }
    let head = files::chunk(app.db(), ctx.org_id, id, 0).await?.ok_or(AppError::NotFound)?;
    let limit = limit.min(20);
    let unreadable = |e: &dyn std::fmt::Display| AppError::field("file", format!("cannot read the text: {e}"));
    let (decoded, _) = kith_formats::text::decode_reader_with_encoding(&head[..]).map_err(|e| unreadable(&e))?;
    let mut out_rows = Vec::new();
    let (preset, columns) = if row.format == "vcard" {
        for (i, card) in kith_formats::vcard::parse(decoded).take(limit).enumerate() {
            let line = i as i64 + 1;
            out_rows.push(match card {
                Ok(c) => PreviewRow {
                    line,
                    cells: vec![
                        clip(
                            &[c.first_name.as_deref(), c.last_name.as_deref()]
                                .into_iter()
                                .flatten()
                                .collect::<Vec<_>>()
                                .join(" "),
                        ),
                        clip(&c.emails.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>().join(", ")),
                        clip(&c.phones.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>().join(", ")),
                        clip(c.company.as_deref().unwrap_or("")),
                    ],
                    error: None,
                },
                Err(e) => PreviewRow { line, cells: vec![], error: Some(e.to_string()) },
            });
        }
        let columns = ["Name", "E-mail", "Phone", "Company"]
            .into_iter()
            .map(|k| PreviewColumn { key: k.to_string(), target: String::new() })
            .collect();
        (None, columns)
    } else {
        let rows_in = kith_formats::csv_in::Rows::new(decoded)
            .map_err(|e| AppError::field("file", format!("{} ({})", e, e.code())))?;
        let headers = rows_in.headers().to_vec();
        let mapping = match preset {
            Some(p) => kith_formats::presets::default_mapping(p, &headers),
            None => Mapping::from_json(&row.mapping, &headers).unwrap_or_else(|_| {
                kith_formats::presets::default_mapping(kith_formats::presets::detect(&headers), &headers)
            }),
        };
        let shown = preset.or_else(|| Preset::parse(&row.preset)).unwrap_or(Preset::Generic);
        let columns = mapping
            .keys()
            .iter()
            .zip(mapping.targets())
            .map(|(key, target)| PreviewColumn { key: key.clone(), target: target.to_string() })
            .collect();
        for read in rows_in.take(limit) {
            out_rows.push(match read {
                Ok(r) => PreviewRow {
                    line: r.line as i64,
                    cells: (0..headers.len()).map(|i| clip(r.cell(i))).collect(),
                    error: None,
                },
                Err(e) => PreviewRow { line: e.line as i64, cells: vec![], error: Some(e.to_string()) },
            });
        }
        (Some(shown), columns)
    };
    Ok(Preview { import: row.into(), preset, columns, rows: out_rows })
}

/// Queue a staged upload with the mapping the user checked. The file is
/// copied to the new import (a staged row's choices are fixed once
/// written), the staged one is closed as `replaced` and names the new one,
/// so confirming twice queues one import and answers it both times.
pub async fn confirm(app: &App, ctx: &Context, id: Uuid, choices: &Confirm) -> Result<Import> {
    let staged = staged_row(app, ctx, id).await?;
    if let Some(next) = Import::from(staged.clone()).replaced_by() {
        return get(app, ctx, next).await;
    }
    if staged.status != STAGED {
        return Err(not_staged());
    }
    let head = files::chunk(app.db(), ctx.org_id, id, 0).await?.ok_or_else(not_staged)?;
    let first = &head[..head.len().min(64 * 1024)];
    let (preset, mapping) = plan(&staged.format, first, choices.preset, choices.mapping.as_deref())?;
    let new = new_id();
    copy_upload(app, ctx.org_id, id, new).await?;
    let now = now_ms();
    let row = ImportRow {
        id: new,
        status: "queued".into(),
        preset,
        mapping,
        dedupe: choices.dedupe.as_str().into(),
        dry_run: choices.dry_run,
        error: None,
        created_ms: now,
        updated_ms: now,
        finished_ms: None,
        ..staged
    };
    let mut tx = app.db().begin().await?;
    // One confirmation wins: the others wait here, then find it replaced.
    kith_store::workspaces::lock(&mut tx, ctx.org_id).await?;
    let current = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if current.status != STAGED {
        drop(tx);
        drop_upload(app, ctx.org_id, new).await;
        return match Import::from(current).replaced_by() {
            Some(next) => get(app, ctx, next).await,
            None => Err(not_staged()),
        };
    }
    rows::insert(&mut tx, &row).await?;
    worker::enqueue(&mut tx, JOB, Some(ctx.org_id), &serde_json::json!({"import_id": new}), now).await?;
    rows::finish(&mut tx, id, REPLACED, Some(&new.to_string()), now).await?;
    files::delete(&mut tx, ctx.org_id, id).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Drop a staged upload (its file is deleted).
/// Copy an upload's chunks to a new file id, outside any long transaction
/// (a chunk per transaction); a failed copy leaves nothing behind.
pub(crate) async fn copy_upload(app: &App, org_id: Uuid, from: Uuid, to: Uuid) -> Result<()> {
    let copied: Result<()> = async {
        let mut seq = 0;
        while let Some(data) = files::chunk(app.db(), org_id, from, seq).await? {
            let mut tx = app.db().begin().await?;
            files::append_chunk(&mut tx, to, org_id, seq, &data).await?;
            tx.commit().await?;
            seq += 1;
        }
        Ok(())
    }
    .await;
    if copied.is_err() {
        drop_upload(app, org_id, to).await;
    }
    copied
}

/// Best-effort removal of a copied upload that will not be used.
pub(crate) async fn drop_upload(app: &App, org_id: Uuid, id: Uuid) {
    if let Ok(mut tx) = app.db().begin().await {
        if files::delete(&mut tx, org_id, id).await.is_ok() {
            let _ = tx.commit().await;
        }
    }
}

pub async fn discard(app: &App, ctx: &Context, id: Uuid) -> Result<()> {
    let staged = staged_row(app, ctx, id).await?;
    if staged.status != STAGED {
        return Err(not_staged());
    }
    let mut tx = app.db().begin().await?;
    files::delete(&mut tx, ctx.org_id, id).await?;
    rows::finish(&mut tx, id, DISCARDED, None, now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// Discard the workspace's staged uploads older than a day (among its
/// latest 200 imports).
async fn discard_stale(app: &App, org_id: Uuid, now: i64) -> Result<()> {
    let recent = rows::list(app.db(), org_id, &PageRequest::new(Some(200), None)).await?;
    super::import_rerun::drop_stale_files(app, org_id, &recent.items, now - STAGED_TTL_MS).await?;
    for r in recent.items.into_iter().filter(|r| r.status == STAGED && r.created_ms < now - STAGED_TTL_MS) {
        let mut tx = app.db().begin().await?;
        files::delete(&mut tx, org_id, r.id).await?;
        rows::finish(&mut tx, r.id, DISCARDED, None, now).await?;
        tx.commit().await?;
    }
    Ok(())
}

pub fn register(registry: &mut Registry) {
    registry.register(JOB, run_job);
}

#[derive(Deserialize)]
struct JobPayload {
    import_id: Uuid,
}

async fn run_job(app: App, job: kith_store::jobs::ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: JobPayload =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("bad payload: {e}")))?;
    let org_id = job.org_id.ok_or_else(|| JobError::permanent("import job without a workspace"))?;
    let Some(import) = rows::get(app.db(), org_id, payload.import_id).await.map_err(AppError::from)? else {
        return Ok(());
    };
    if import.status == "done" || import.status == "failed" {
        return Ok(());
    }
    match run(&app, import.clone()).await {
        Ok(()) => Ok(()),
        Err(RunError::Fatal(message)) => {
            let mut tx = app.db().begin().await.map_err(AppError::from)?;
            rows::finish(&mut tx, import.id, "failed", Some(&message), now_ms()).await.map_err(AppError::from)?;
            files::delete(&mut tx, org_id, import.id).await.map_err(AppError::from)?;
            tx.commit().await.map_err(AppError::from)?;
            Ok(())
        }
        Err(RunError::Retry(e)) => Err(e.into()),
    }
}

enum RunError {
    /// The file or the importer is unusable: the import fails with this message.
    Fatal(String),
    /// Storage trouble: the job retries and resumes.
    Retry(AppError),
}

impl From<AppError> for RunError {
    fn from(e: AppError) -> Self {
        RunError::Retry(e)
    }
}

impl From<kith_store::StoreError> for RunError {
    fn from(e: kith_store::StoreError) -> Self {
        RunError::Retry(e.into())
    }
}

/// One record read from the file: its 1-based number and what was read.
type Parsed = (i64, std::result::Result<ImportedContact, RowError>);

/// A record after the checks the parser thread runs on it (see [`Checker`]).
enum Checked {
    /// At or before the resume point: committed before a restart, not checked again.
    Done,
    /// Not imported, and why.
    Failed(IssueRow),
    /// Ready for dedupe and writing, with its warnings.
    Ready(Box<Planned>, Vec<IssueRow>),
}

type Item = (i64, Checked);

enum Feed {
    Batch(Vec<Item>),
    FileError(String),
}

/// The per-row checks, which need nothing from the database: they run on the
/// parser thread, beside the job's task, which is left the reads and writes.
struct Checker {
    import_id: Uuid,
    ctx: Context,
    fields: Vec<kith_store::custom_fields::CustomFieldRow>,
    country_code: String,
    resume_after: i64,
}

impl Checker {
    fn check_batch(&self, batch: Vec<Parsed>) -> Vec<Item> {
        let now = now_ms();
        batch
            .into_iter()
            .map(|(n, parsed)| (n, if n <= self.resume_after { Checked::Done } else { self.check(n, parsed, now) }))
            .collect()
    }

    fn check(&self, row_no: i64, parsed: std::result::Result<ImportedContact, RowError>, now: i64) -> Checked {
        let import_id = self.import_id;
        let record = match parsed {
            Ok(r) => r,
            Err(e) => return Checked::Failed(issue(import_id, row_no, "error", e.code(), e.to_string())),
        };
        let mut notes: Vec<(String, String)> =
            record.warnings.iter().map(|w| ("warning".to_string(), w.clone())).collect();
        let (input, company) = to_input(&record, &self.fields, &mut notes);
        let mut row = blank_row(&self.ctx, now);
        let warnings = match apply_input(&mut row, &input, &self.country_code, PhonePolicy::KeepRaw) {
            Ok(w) => w,
            Err(e) => return Checked::Failed(issue(import_id, row_no, "error", "invalid_row", describe(&e))),
        };
        notes.extend(warnings.into_iter().map(|w| ("phone_kept_raw".to_string(), w)));
        let custom = match super::apply_custom_with(&self.fields, "{}", input.custom.as_ref(), true) {
            Ok((json, typed)) => {
                row.custom = json;
                typed
            }
            Err(e) => return Checked::Failed(issue(import_id, row_no, "error", "invalid_custom_field", describe(&e))),
        };
        let tags = clean_tags(input.tags.as_deref().unwrap_or_default(), &mut notes);
        let notes =
            notes.into_iter().map(|(code, message)| issue(import_id, row_no, "warning", &code, message)).collect();
        let handles = contacts::handles_of(&row);
        let keys = dedupe_keys(&row, &handles, company.as_deref());
        let doc = Some(contacts::search_doc(&row, company.as_deref()));
        Checked::Ready(Box::new(Planned { row, existing: None, company, tags, custom, keys, handles, doc }), notes)
    }
}

/// Read the stored chunks in order, as a blocking `Read` for the parser thread.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.current.len() {
            match self.rx.blocking_recv() {
                Some(next) => {
                    self.current = next;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn parse_thread(
    format: String,
    mapping: String,
    reader: ChunkReader,
    checker: Checker,
    tx: tokio::sync::mpsc::Sender<Feed>,
) {
    let send = |feed| tx.blocking_send(feed).is_ok();
    let decoded = match kith_formats::text::decode_reader(reader) {
        Ok(r) => r,
        Err(e) => {
            send(Feed::FileError(format!("cannot read the file's text: {e}")));
            return;
        }
    };
    let mut batch = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<Parsed>| -> bool { send(Feed::Batch(checker.check_batch(std::mem::take(batch)))) };
    if format == "vcard" {
        for (i, card) in kith_formats::vcard::parse(decoded).enumerate() {
            batch.push((i as i64 + 1, card));
            if batch.len() == BATCH && !flush(&mut batch) {
                return;
            }
        }
    } else {
        let rows = match kith_formats::csv_in::Rows::new(decoded) {
            Ok(r) => r,
            Err(e) => {
                send(Feed::FileError(format!("{e} ({})", e.code())));
                return;
            }
        };
        let mapping = match Mapping::from_json(&mapping, rows.headers()) {
            Ok(m) => m,
            Err(e) => {
                send(Feed::FileError(format!("the mapping no longer fits the file: {e}")));
                return;
            }
        };
        for row in rows {
            let item = match row {
                Ok(row) => (row.line as i64, kith_formats::csv_in::to_contact(&mapping, &row)),
                Err(e) => (e.line as i64, Err(e)),
            };
            batch.push(item);
            if batch.len() == BATCH && !flush(&mut batch) {
                return;
            }
        }
    }
    if !batch.is_empty() {
        flush(&mut batch);
    }
}

/// The importing user's context now (their role may have changed since upload).
async fn importer_context(app: &App, import: &ImportRow) -> std::result::Result<Context, RunError> {
    let member = kith_store::members::get(app.db(), import.org_id, import.created_by)
        .await?
        .ok_or_else(|| RunError::Fatal("the person who started the import has left the workspace".into()))?;
    let role = Role::parse(&member.role).unwrap_or(Role::Viewer);
    let ctx = Context {
        org_id: import.org_id,
        actor: Actor { user_id: import.created_by, credential: Credential::Cli },
        role,
    };
    if !ctx.can(Action::WriteRecords) {
        return Err(RunError::Fatal("the person who started the import may no longer add records".into()));
    }
    Ok(ctx)
}

/// State of one run: what is known about handles and companies so far.
struct Run {
    ctx: Context,
    viewer: Viewer,
    dedupe: Dedupe,
    dry_run: bool,
    country_code: String,
    fields: Vec<kith_store::custom_fields::CustomFieldRow>,
    /// key → contact id, for contacts seen or made in this run whose key
    /// the handle index cannot answer: name keys (the name-only index
    /// could, but the answer is already here), and in a dry run every key
    /// (nothing is written). E-mails and phones of written contacts are
    /// found through the handle index instead, so this stays small at a
    /// million rows.
    known: HashMap<(String, String), Uuid>,
    /// Lower-case company name → company id.
    companies: HashMap<String, Uuid>,
    /// Lower-case tag name → tag id.
    tags: HashMap<String, Uuid>,
    progress: Progress,
    /// Where the run's time went, logged when it ends.
    timings: Timings,
}

/// Wall time per phase of a run (logged at `info` when it ends): what to
/// look at first when an import is slow.
#[derive(Debug, Default)]
struct Timings {
    /// Waiting for the parser thread.
    wait: std::time::Duration,
    /// Row checks and folding on the job's task.
    check: std::time::Duration,
    /// Dedupe reads.
    find: std::time::Duration,
    /// Companies and tags made or found.
    resolve: std::time::Duration,
    /// Writes of new contacts and what hangs off them.
    insert: std::time::Duration,
    /// Writes of updated contacts.
    update: std::time::Duration,
    /// Issues, progress and the commit.
    commit: std::time::Duration,
    batches: u32,
}

impl Timings {
    fn lap(at: &mut std::time::Instant) -> std::time::Duration {
        let now = std::time::Instant::now();
        now - std::mem::replace(at, now)
    }
}

async fn run(app: &App, import: ImportRow) -> std::result::Result<(), RunError> {
    let ctx = importer_context(app, &import).await?;
    let mut state = Run {
        viewer: Viewer::of(&ctx),
        ctx,
        dedupe: Dedupe::parse(&import.dedupe).unwrap_or(Dedupe::Update),
        dry_run: import.dry_run,
        country_code: app.phone_country_code(import.org_id).await?,
        fields: kith_store::custom_fields::list_for(app.db(), import.org_id, "contact").await?,
        known: HashMap::new(),
        companies: HashMap::new(),
        tags: HashMap::new(),
        timings: Timings::default(),
        progress: Progress {
            rows_done: import.rows_done,
            total: import.total,
            created: import.created,
            updated: import.updated,
            skipped: import.skipped,
            failed: import.failed,
            warnings: import.warnings,
        },
    };
    let (bytes_tx, bytes_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    let (feed_tx, mut feed_rx) = tokio::sync::mpsc::channel::<Feed>(2);
    let fetch = {
        let app = app.clone();
        let (org, file) = (import.org_id, import.id);
        tokio::spawn(async move {
            let mut seq = 0;
            while let Some(chunk) = files::chunk(app.db(), org, file, seq).await? {
                if bytes_tx.send(chunk).await.is_err() {
                    break;
                }
                seq += 1;
            }
            Ok::<_, kith_store::StoreError>(())
        })
    };
    let reader = ChunkReader { rx: bytes_rx, current: Vec::new(), pos: 0 };
    let (format, mapping) = (import.format.clone(), import.mapping.clone());
    let checker = Checker {
        import_id: import.id,
        ctx: state.ctx.clone(),
        fields: state.fields.clone(),
        country_code: state.country_code.clone(),
        resume_after: import.rows_done,
    };
    let parser = tokio::task::spawn_blocking(move || parse_thread(format, mapping, reader, checker, feed_tx));
    let resume_after = import.rows_done;
    let mut seen: i64 = 0;
    let started = std::time::Instant::now();
    let mut at = started;
    // On PostgreSQL, while one batch is written, the next one's dedupe reads
    // run beside it on another connection (another server process, so on
    // another core): the reads cannot see the batch being written, so its
    // keys (`Recent`) stand in for it, and what it created or changed is read
    // again once it has committed. On SQLite this was slower (the reader's
    // snapshot holds back the writer's checkpoints, and the one writer thread
    // is the bottleneck), so batches go one at a time there, as dry runs do.
    let overlap =
        !state.dry_run && state.dedupe != Dedupe::Create && app.db().backend() == kith_store::Backend::Postgres;
    let mut known = std::mem::take(&mut state.known);
    let mut ahead: Option<Staged> = None;
    while let Some(feed) = feed_rx.recv().await {
        state.timings.wait += Timings::lap(&mut at);
        let batch = match feed {
            Feed::FileError(message) => return Err(RunError::Fatal(message)),
            Feed::Batch(batch) => batch,
        };
        let last = batch.last().map(|(n, _)| *n).unwrap_or(seen);
        seen += batch.len() as i64;
        // Resume: batches already committed before a restart are skipped whole.
        let todo: Vec<Item> =
            batch.into_iter().filter(|(n, c)| *n > resume_after && !matches!(c, Checked::Done)).collect();
        if todo.is_empty() {
            continue;
        }
        state.timings.batches += 1;
        let mut next = stage_batch(&state, todo, last.max(seen));
        state.timings.check += Timings::lap(&mut at);
        let viewer = state.viewer;
        let (found, touched) = match ahead.take() {
            Some(prev) => {
                let recent = keys_of(&prev);
                remember(&mut known, &recent, state.dry_run);
                let touched: HashSet<Uuid> = recent.values().copied().collect();
                let (written, found) = tokio::join!(
                    write_batch(app, &import, &mut state, prev),
                    find_candidates(app, &viewer, &known, &recent, &next.planned)
                );
                written?;
                (found?, touched)
            }
            None if state.dedupe == Dedupe::Create => (Found::default(), HashSet::new()),
            None => (find_candidates(app, &viewer, &known, &Recent::new(), &next.planned).await?, HashSet::new()),
        };
        if state.dedupe != Dedupe::Create {
            settle(app, &state, &mut next, found, &touched).await?;
        }
        state.timings.find += Timings::lap(&mut at);
        if overlap {
            ahead = Some(next);
        } else {
            remember(&mut known, &keys_of(&next), state.dry_run);
            write_batch(app, &import, &mut state, next).await?;
        }
        at = std::time::Instant::now();
    }
    if let Some(prev) = ahead.take() {
        write_batch(app, &import, &mut state, prev).await?;
    }
    let t = &state.timings;
    tracing::info!(
        import_id = %import.id,
        rows = state.progress.total,
        batches = t.batches,
        total_ms = started.elapsed().as_millis() as u64,
        wait_ms = t.wait.as_millis() as u64,
        check_ms = t.check.as_millis() as u64,
        find_ms = t.find.as_millis() as u64,
        resolve_ms = t.resolve.as_millis() as u64,
        insert_ms = t.insert.as_millis() as u64,
        update_ms = t.update.as_millis() as u64,
        commit_ms = t.commit.as_millis() as u64,
        "import run timings"
    );
    drop(feed_rx);
    parser.await.map_err(|e| RunError::Retry(AppError::Internal(format!("parser thread: {e}"))))?;
    fetch.await.map_err(|e| RunError::Retry(AppError::Internal(format!("file reader: {e}"))))??;
    let mut tx = app.db().begin().await?;
    rows::save_progress(&mut tx, import.id, "done", &state.progress, now_ms()).await?;
    rows::finish(&mut tx, import.id, "done", None, now_ms()).await?;
    if !state.dry_run {
        files::delete(&mut tx, import.org_id, import.id).await?;
    }
    // A dry run keeps its file for a day, to be run for real (`super::import_rerun`).
    tx.commit().await?;
    if !state.dry_run && state.progress.created + state.progress.updated >= OPTIMIZE_AFTER_ROWS {
        // Many new rows: give the planner fresh statistics for the lists that follow.
        app.db().optimize().await?;
    }
    Ok(())
}

fn issue(import_id: Uuid, row_no: i64, severity: &str, code: &str, message: impl Into<String>) -> IssueRow {
    let mut message: String = message.into();
    message.truncate(message.char_indices().nth(500).map(|(i, _)| i).unwrap_or(message.len()));
    IssueRow { import_id, row_no, severity: severity.into(), code: code.into(), message }
}

/// The contact fields of a record, as an input the contact rules check.
fn to_input(
    c: &ImportedContact,
    fields: &[kith_store::custom_fields::CustomFieldRow],
    issues: &mut Vec<(String, String)>,
) -> (ContactInput, Option<String>) {
    let mut custom = Map::new();
    for (key, text) in &c.custom {
        let Some(field) = fields.iter().find(|f| &f.key == key) else {
            issues.push(("unknown_custom_field".into(), format!("no custom field {key:?}; value ignored")));
            continue;
        };
        let value = match FieldKind::parse(&field.kind).unwrap_or(FieldKind::Text) {
            FieldKind::Number => {
                text.trim().replace(',', ".").parse::<f64>().map(Value::from).unwrap_or(Value::from(text.as_str()))
            }
            FieldKind::Checkbox => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "x" => Value::Bool(true),
                "false" | "no" | "0" | "" => Value::Bool(false),
                _ => Value::from(text.as_str()),
            },
            FieldKind::MultiSelect => Value::from(
                text.split([';', ',']).map(str::trim).filter(|s| !s.is_empty()).map(Value::from).collect::<Vec<_>>(),
            ),
            _ => Value::from(text.trim()),
        };
        custom.insert(key.clone(), value);
    }
    let birthday = match c.birthday.as_deref() {
        Some(b) if check_date(b).is_ok() => Some(b.to_string()),
        Some(b) => {
            issues.push(("birthday_kept_out".into(), format!("birthday {b:?} has no year or is not a date; left out")));
            None
        }
        None => None,
    };
    let input = ContactInput {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        emails: Some(c.emails.iter().map(|(v, l)| LabeledValue { value: v.clone(), label: l.clone() }).collect()),
        phones: Some(c.phones.iter().map(|(v, l)| LabeledValue { value: v.clone(), label: l.clone() }).collect()),
        addresses: (!c.address.is_empty()).then(|| {
            vec![contacts::Address {
                label: None,
                street: c.address.street.clone(),
                city: c.address.city.clone(),
                region: c.address.region.clone(),
                postal_code: c.address.postal_code.clone(),
                country: c.address.country.clone(),
            }]
        }),
        social: c.website.as_ref().map(|w| {
            let mut m = Map::new();
            m.insert("website".into(), Value::from(w.as_str()));
            m
        }),
        title: c.title.clone(),
        birthday,
        time_zone: c.time_zone.clone(),
        source: c.source.clone(),
        tags: (!c.tags.is_empty()).then(|| c.tags.clone()),
        custom: (!custom.is_empty()).then_some(custom),
        ..Default::default()
    };
    (input, c.company.clone())
}

/// Handles that identify a contact row for deduplication.
fn dedupe_keys(row: &ContactRow, handles: &[(&'static str, String)], company: Option<&str>) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = handles.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    if keys.is_empty() {
        let name = search_terms([row.first_name.as_str(), row.last_name.as_str(), company.unwrap_or("")]);
        if !name.is_empty() {
            keys.push(("name".into(), name));
        }
    }
    keys
}

/// One row of a batch, checked and ready to write.
struct Planned {
    row: ContactRow,
    existing: Option<ContactRow>,
    company: Option<String>,
    /// Clean tag names (invalid ones were dropped with a warning).
    tags: Vec<String>,
    custom: Vec<(Uuid, Vec<kith_domain::crm::TypedValue>)>,
    keys: Vec<(String, String)>,
    /// The row's normalised e-mails and phones ([`contacts::handles_of`]).
    handles: Vec<(&'static str, String)>,
    /// Its search document; `None` once another row was folded into it.
    doc: Option<kith_store::records::SearchDoc>,
}

/// A batch after the checks, with repeats inside it folded together; its
/// counters are applied when its transaction commits.
struct Staged {
    planned: Vec<Planned>,
    issues: Vec<IssueRow>,
    /// Counters of the batch (total, failed, warnings, and the folds so far).
    delta: Progress,
    rows_done: i64,
    now: i64,
}

/// Gather a batch's checked rows; fold rows naming the same person.
fn stage_batch(state: &Run, batch: Vec<Item>, rows_done: i64) -> Staged {
    let now = now_ms();
    let mut delta = Progress::default();
    let mut issues: Vec<IssueRow> = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    let mut in_batch: HashMap<(String, String), usize> = HashMap::new();
    for (_, checked) in batch {
        let (p, notes) = match checked {
            Checked::Done => continue,
            Checked::Failed(i) => {
                delta.total += 1;
                delta.failed += 1;
                issues.push(i);
                continue;
            }
            Checked::Ready(p, notes) => (*p, notes),
        };
        delta.total += 1;
        if !notes.is_empty() {
            delta.warnings += 1;
            issues.extend(notes);
        }
        if state.dedupe != Dedupe::Create {
            // The same person twice in one batch: fold into the earlier row.
            if let Some(&earlier) = p.keys.iter().find_map(|k| in_batch.get(k)) {
                let Planned { row, custom, tags, keys, .. } = p;
                fold(&mut planned[earlier], row, custom, tags, state.dedupe, &mut delta, now);
                for k in keys {
                    if let std::collections::hash_map::Entry::Vacant(v) = in_batch.entry(k.clone()) {
                        v.insert(earlier);
                        planned[earlier].keys.push(k);
                    }
                }
                continue;
            }
            for k in &p.keys {
                in_batch.insert(k.clone(), planned.len());
            }
        }
        planned.push(p);
    }
    Staged { planned, issues, delta, rows_done, now }
}

/// What the dedupe reads found for a batch: per row, the contact met earlier
/// in the run by a name key, and the contacts holding one of its handles;
/// and the contacts read.
#[derive(Default)]
struct Found {
    per_row: Vec<(Option<Uuid>, Vec<Uuid>)>,
    rows: HashMap<Uuid, ContactRow>,
}

/// Keys of the batch being written beside these reads → the contact each
/// will belong to once it commits. The reads cannot see that batch yet.
type Recent = HashMap<(String, String), Uuid>;

/// The dedupe reads of a batch: a few statements for all its rows (reads
/// only, so they may run while the previous batch is being written).
async fn find_candidates(
    app: &App,
    viewer: &Viewer,
    known: &HashMap<(String, String), Uuid>,
    recent: &Recent,
    planned: &[Planned],
) -> Result<Found> {
    let mut found = Found::default();
    let mut ids: Vec<Uuid> = planned.iter().filter_map(|p| p.keys.iter().find_map(|k| known.get(k).copied())).collect();
    // PostgreSQL: who holds the handles (one index, whoever may see them),
    // then the visible contacts among those and the ones met by name, by id.
    let mut by_handle: HashMap<(String, String), Vec<Uuid>> = HashMap::new();
    for kind in ["email", "phone"] {
        let mut values: Vec<String> = planned
            .iter()
            .flat_map(|p| p.keys.iter().filter(|(k, v)| k == kind && !recent.contains_key(&(k.clone(), v.clone()))))
            .map(|(_, v)| v.clone())
            .collect();
        values.sort();
        values.dedup();
        if values.is_empty() {
            continue;
        }
        if app.db().backend() == kith_store::Backend::Postgres {
            for (value, id) in kith_store::contacts::handle_owners(app.db(), viewer.org_id, kind, &values).await? {
                by_handle.entry((kind.to_string(), value)).or_default().push(id);
                ids.push(id);
            }
        } else {
            // SQLite: one join driven by the handle index. Reading the contacts
            // by id separately let its planner, with the sampled statistics
            // Kith keeps, scan the workspace's contacts per statement instead
            // of using the primary key (re-imports slowed as the workspace grew).
            for (value, c) in kith_store::contacts::find_by_handle_values(app.db(), viewer, kind, &values).await? {
                by_handle.entry((kind.to_string(), value)).or_default().push(c.id);
                found.rows.entry(c.id).or_insert(c);
            }
        }
    }
    for c in contacts_by_ids(app, viewer, &ids).await? {
        found.rows.insert(c.id, c);
    }
    let by_name = find_by_names(app, viewer, known, recent, planned, &mut found).await?;
    for p in planned {
        let from_run = p.keys.iter().find_map(|k| match recent.get(k) {
            Some(id) if k.0 == "name" => Some(*id),
            _ => known.get(k).copied().filter(|id| found.rows.contains_key(id)).or_else(|| by_name.get(k).copied()),
        });
        let mut by_handles: Vec<Uuid> = Vec::new();
        for k in p.keys.iter().filter(|k| k.0 != "name") {
            by_handles.extend(recent.get(k).copied());
            // Only the visible ones: the others are not the importer's to match.
            by_handles.extend(by_handle.get(k).into_iter().flatten().filter(|id| found.rows.contains_key(id)));
        }
        found.per_row.push((from_run, by_handles));
    }
    Ok(found)
}

/// Name keys of the batch's name-only rows (neither e-mail nor phone) that
/// neither this run nor the batch being written answers → the oldest visible
/// name-only contact with that name and company, e.g. made by an earlier run
/// of the same file. The contacts found are added to `found.rows`.
async fn find_by_names(
    app: &App,
    viewer: &Viewer,
    known: &HashMap<(String, String), Uuid>,
    recent: &Recent,
    planned: &[Planned],
    found: &mut Found,
) -> Result<HashMap<(String, String), Uuid>> {
    let mut names: Vec<(String, String)> = planned
        .iter()
        .filter(|p| p.keys.iter().any(|k| k.0 == "name" && !recent.contains_key(k) && !known.contains_key(k)))
        .map(|p| (p.row.last_name.clone(), p.row.first_name.clone()))
        .collect();
    names.sort();
    names.dedup();
    let mut by_name = HashMap::new();
    if names.is_empty() {
        return Ok(by_name);
    }
    let matched = kith_store::contacts::find_name_only(app.db(), viewer, &names).await?;
    let mut company_ids: Vec<Uuid> = matched.iter().filter_map(|c| c.company_id).collect();
    company_ids.sort();
    company_ids.dedup();
    let mut companies: HashMap<Uuid, String> = HashMap::new();
    for chunk in company_ids.chunks(500) {
        companies.extend(kith_store::exports::company_names(app.db(), viewer, chunk).await?);
    }
    // Oldest first, so the first contact of a name (and company) wins.
    for c in matched {
        let company = c.company_id.and_then(|id| companies.get(&id)).map(String::as_str);
        for key in dedupe_keys(&c, &[], company) {
            by_name.entry(key).or_insert(c.id);
        }
        found.rows.entry(c.id).or_insert(c);
    }
    Ok(by_name)
}

/// Visible contacts by id, in statements of a few fixed sizes.
async fn contacts_by_ids(app: &App, viewer: &Viewer, ids: &[Uuid]) -> Result<Vec<ContactRow>> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let list = kith_store::sql::padded(chunk, 500);
        out.extend(kith_store::contacts::get_many_visible(app.db(), viewer, &list).await?);
    }
    Ok(out)
}

/// Pick each row's existing contact from what the reads found (re-reading
/// the contacts the batch written meanwhile created or changed), then fold
/// rows that match one existing contact by different handles into one update.
async fn settle(app: &App, state: &Run, staged: &mut Staged, mut found: Found, touched: &HashSet<Uuid>) -> Result<()> {
    let stale: Vec<Uuid> = found
        .per_row
        .iter()
        .flat_map(|(from_run, ids)| from_run.iter().chain(ids.iter()))
        .filter(|id| touched.contains(id))
        .copied()
        .collect();
    for id in &stale {
        found.rows.remove(id);
    }
    for c in contacts_by_ids(app, &state.viewer, &stale).await? {
        found.rows.insert(c.id, c);
    }
    for (p, (from_run, ids)) in staged.planned.iter_mut().zip(found.per_row) {
        p.existing = match from_run.and_then(|id| found.rows.get(&id)) {
            Some(c) => Some(c.clone()),
            None => ids.iter().filter_map(|id| found.rows.get(id)).min_by_key(|c| (c.created_ms, c.id)).cloned(),
        };
    }
    let mut by_existing: HashMap<Uuid, usize> = HashMap::new();
    let mut kept: Vec<Planned> = Vec::with_capacity(staged.planned.len());
    for p in std::mem::take(&mut staged.planned) {
        match p.existing.as_ref().and_then(|e| by_existing.get(&e.id)) {
            Some(&earlier) => {
                let Planned { row, custom, tags, keys, .. } = p;
                fold(&mut kept[earlier], row, custom, tags, state.dedupe, &mut staged.delta, staged.now);
                kept[earlier].keys.extend(keys);
            }
            None => {
                if let Some(e) = &p.existing {
                    by_existing.insert(e.id, kept.len());
                }
                kept.push(p);
            }
        }
    }
    staged.planned = kept;
    Ok(())
}

/// Remember the keys the handle index cannot answer: name keys, and in a
/// dry run every key (nothing is written).
fn remember(known: &mut HashMap<(String, String), Uuid>, keys: &Recent, dry_run: bool) {
    for (k, id) in keys {
        if dry_run || k.0 == "name" {
            known.insert(k.clone(), *id);
        }
    }
}

/// The keys of a settled batch and the contact each belongs to once written.
fn keys_of(staged: &Staged) -> Recent {
    let mut out = Recent::new();
    for p in &staged.planned {
        let id = p.existing.as_ref().map(|e| e.id).unwrap_or(p.row.id);
        for k in &p.keys {
            out.insert(k.clone(), id);
        }
    }
    out
}

/// Write a settled batch, its issues and the run's counters in one transaction.
async fn write_batch(app: &App, import: &ImportRow, state: &mut Run, staged: Staged) -> Result<()> {
    let Staged { planned, issues, delta, rows_done, now } = staged;
    let mut at = std::time::Instant::now();
    let mut progress = state.progress;
    progress.total += delta.total;
    progress.failed += delta.failed;
    progress.warnings += delta.warnings;
    progress.updated += delta.updated;
    progress.skipped += delta.skipped;
    let mut tx = app.db().begin().await?;
    if !state.dry_run {
        let names: Vec<&str> = planned.iter().filter_map(|p| p.company.as_deref()).collect();
        resolve_companies(&mut tx, state, &names, now).await?;
        let tag_names: Vec<&String> = planned.iter().flat_map(|p| p.tags.iter()).collect();
        resolve_tag_names(&mut tx, state, &tag_names, now).await?;
    }
    state.timings.resolve += Timings::lap(&mut at);
    let existing_ids: Vec<Uuid> = planned.iter().filter_map(|p| p.existing.as_ref().map(|e| e.id)).collect();
    let mut existing_tags: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if !state.dry_run && !existing_ids.is_empty() && state.dedupe == Dedupe::Update {
        for (record, tag) in records::tags_of(app.db(), state.ctx.org_id, "contact", &existing_ids).await? {
            existing_tags.entry(record).or_default().push(tag.id);
        }
    }
    let mut fresh: Vec<Planned> = Vec::new();
    let mut updates: Vec<Update> = Vec::new();
    for mut p in planned {
        let Some(existing) = p.existing.take() else {
            progress.created += 1;
            if !state.dry_run {
                p.row.company_id = company_of(state, p.company.as_deref());
                fresh.push(p);
            }
            continue;
        };
        if state.dedupe == Dedupe::Skip {
            progress.skipped += 1;
            continue;
        }
        progress.updated += 1;
        if state.dry_run {
            continue;
        }
        let had_tags = existing_tags.remove(&existing.id).unwrap_or_default();
        let tag_ids: Vec<Uuid> = p.tags.iter().filter_map(|t| state.tags.get(&t.to_lowercase()).copied()).collect();
        let new_tags: Vec<Uuid> = tag_ids.into_iter().filter(|t| !had_tags.contains(t)).collect();
        let mut merged = merge(existing.clone(), &p.row, now);
        merged.company_id = company_of(state, p.company.as_deref()).or(merged.company_id);
        if same_contact(&existing, &merged) && new_tags.is_empty() {
            // Nothing new in this row (a re-import): no write at all.
            continue;
        }
        let old_title = contacts::search_doc(&existing, None).title;
        updates.push(Update { row: merged, old_title, new_tags, custom: p.custom, company: p.company });
    }
    // A row without a company keeps the contact's; its search document must
    // still carry that company's name, or searching it stops finding them.
    let kept: Vec<Uuid> = updates.iter().filter(|u| u.company.is_none()).filter_map(|u| u.row.company_id).collect();
    if !kept.is_empty() {
        let names: HashMap<Uuid, String> =
            kith_store::exports::company_names(app.db(), &state.viewer, &kept).await?.into_iter().collect();
        for u in updates.iter_mut().filter(|u| u.company.is_none()) {
            u.company = u.row.company_id.and_then(|id| names.get(&id).cloned());
        }
    }
    update_many(&mut tx, state, updates).await?;
    state.timings.update += Timings::lap(&mut at);
    insert_fresh(&mut tx, state, &fresh).await?;
    state.timings.insert += Timings::lap(&mut at);
    rows::add_issues(&mut tx, &issues).await?;
    progress.rows_done = rows_done;
    rows::save_progress(&mut tx, import.id, "running", &progress, now).await?;
    tx.commit().await?;
    state.progress = progress;
    state.timings.commit += Timings::lap(&mut at);
    Ok(())
}

/// Fold a later row of the batch (the same person) into an earlier one.
fn fold(
    into: &mut Planned,
    row: ContactRow,
    custom: Vec<(Uuid, Vec<kith_domain::crm::TypedValue>)>,
    tags: Vec<String>,
    dedupe: Dedupe,
    delta: &mut Progress,
    now: i64,
) {
    if dedupe == Dedupe::Skip {
        delta.skipped += 1;
        return;
    }
    let (id, version, created_ms) = (into.row.id, into.row.version, into.row.created_ms);
    into.row = ContactRow { id, version, created_ms, ..merge(into.row.clone(), &row, now) };
    into.handles = contacts::handles_of(&into.row);
    into.doc = None;
    into.custom.retain(|(field, _)| !custom.iter().any(|(f, _)| f == field));
    into.custom.extend(custom);
    for t in tags {
        if !into.tags.iter().any(|have| have.to_lowercase() == t.to_lowercase()) {
            into.tags.push(t);
        }
    }
    delta.updated += 1;
}

/// Tag names that are valid tags, at most [`super::MAX_TAGS_PER_RECORD`];
/// the rest are dropped with a warning rather than failing the row.
fn clean_tags(names: &[String], notes: &mut Vec<(String, String)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in names {
        match kith_domain::validate::clean_name(raw, 60) {
            Ok(name) if out.len() < super::MAX_TAGS_PER_RECORD => {
                if !out.iter().any(|t| t.to_lowercase() == name.to_lowercase()) {
                    out.push(name);
                }
            }
            Ok(name) => notes.push(("tag_ignored".into(), format!("tag {name:?} left out: too many tags"))),
            Err(m) => notes.push(("tag_ignored".into(), format!("tag {raw:?} left out: a tag {m}"))),
        }
    }
    out
}

/// True when `merged` holds nothing that `existing` does not already hold.
fn same_contact(existing: &ContactRow, merged: &ContactRow) -> bool {
    existing.first_name == merged.first_name
        && existing.last_name == merged.last_name
        && existing.emails == merged.emails
        && existing.phones == merged.phones
        && existing.addresses == merged.addresses
        && existing.company_id == merged.company_id
        && existing.title == merged.title
        && existing.birthday == merged.birthday
        && existing.time_zone == merged.time_zone
        && existing.source == merged.source
        && serde_json::from_str::<Value>(&existing.custom).ok() == serde_json::from_str::<Value>(&merged.custom).ok()
}

fn company_of(state: &Run, name: Option<&str>) -> Option<Uuid> {
    let key = company_key(name?)?;
    state.companies.get(&key).copied()
}

/// The cache key of a company name, `None` for a blank one.
fn company_key(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty()).then(|| name.chars().take(200).collect::<String>().to_lowercase())
}

/// The companies named in a batch (visible to the importer), made when
/// missing: one read and one multi-row write per batch.
async fn resolve_companies(tx: &mut Tx, state: &mut Run, names: &[&str], now: i64) -> Result<()> {
    let mut missing: Vec<String> = Vec::new();
    for name in names {
        let Some(key) = company_key(name) else { continue };
        if !state.companies.contains_key(&key) && !missing.iter().any(|m| m.to_lowercase() == key) {
            missing.push(name.trim().chars().take(200).collect());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    for found in kith_store::companies::find_by_names_tx(tx, &state.viewer, &missing).await? {
        // Oldest first: the first company of a name wins.
        state.companies.entry(found.name.to_lowercase()).or_insert(found.id);
    }
    let mut made = Vec::new();
    for name in missing {
        let key = name.to_lowercase();
        if !state.companies.contains_key(&key) {
            let row = super::companies::bare_row(&state.ctx, &name, now);
            state.companies.insert(key, row.id);
            made.push(row);
        }
    }
    kith_store::companies::insert_many_rows(tx, &made).await?;
    let docs: Vec<_> = made.iter().map(super::companies::search_doc).collect();
    records::insert_search_docs(tx, &docs).await?;
    Ok(())
}

/// Tag ids for the tag names of a batch, made when missing (cached per run).
async fn resolve_tag_names(tx: &mut Tx, state: &mut Run, names: &[&String], now: i64) -> Result<()> {
    let mut missing: Vec<String> = Vec::new();
    for name in names {
        let key = name.to_lowercase();
        if !state.tags.contains_key(&key) && !missing.iter().any(|m| m.to_lowercase() == key) {
            missing.push((*name).clone());
        }
    }
    for chunk in missing.chunks(super::MAX_TAGS_PER_RECORD) {
        let ids = super::resolve_tags(tx, state.ctx.org_id, chunk, now).await?;
        for (name, id) in chunk.iter().zip(ids) {
            state.tags.insert(name.to_lowercase(), id);
        }
    }
    Ok(())
}

/// New contacts of a batch and what hangs off them, in multi-row statements.
async fn insert_fresh(tx: &mut Tx, state: &Run, fresh: &[Planned]) -> Result<()> {
    if fresh.is_empty() {
        return Ok(());
    }
    let org = state.ctx.org_id;
    let rows: Vec<ContactRow> = fresh.iter().map(|p| p.row.clone()).collect();
    kith_store::contacts::insert_many_rows(tx, &rows).await?;
    let handles: Vec<(Uuid, &str, String)> =
        fresh.iter().flat_map(|p| p.handles.iter().map(|(k, v)| (p.row.id, *k, v.clone()))).collect();
    kith_store::contacts::add_handles_many(tx, org, &handles).await?;
    let tags: Vec<(Uuid, Uuid)> = fresh
        .iter()
        .flat_map(|p| p.tags.iter().filter_map(|t| state.tags.get(&t.to_lowercase()).map(|id| (*id, p.row.id))))
        .collect();
    records::add_record_tags_many(tx, org, "contact", &tags).await?;
    let custom: Vec<(Uuid, Uuid, &[kith_domain::crm::TypedValue])> = fresh
        .iter()
        .flat_map(|p| p.custom.iter().map(|(field, values)| (*field, p.row.id, values.as_slice())))
        .collect();
    records::insert_custom_values_many(tx, org, &custom).await?;
    let docs: Vec<_> = fresh
        .iter()
        .map(|p| {
            let mut doc = p.doc.clone().unwrap_or_else(|| contacts::search_doc(&p.row, p.company.as_deref()));
            doc.updated_ms = p.row.updated_ms;
            doc
        })
        .collect();
    records::insert_search_docs(tx, &docs).await?;
    Ok(())
}

fn describe(e: &AppError) -> String {
    match e {
        AppError::Validation(fields) => {
            fields.iter().map(|f| format!("{} {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

fn blank_row(ctx: &Context, now: i64) -> ContactRow {
    ContactRow {
        id: new_id(),
        org_id: ctx.org_id,
        first_name: String::new(),
        last_name: String::new(),
        emails: "[]".into(),
        phones: "[]".into(),
        addresses: "[]".into(),
        social: "{}".into(),
        company_id: None,
        title: None,
        birthday: None,
        time_zone: None,
        source: None,
        custom: "{}".into(),
        visibility: Visibility::Everyone.as_str().into(),
        owner_id: Some(ctx.user_id()),
        team_id: None,
        created_by: ctx.user_id(),
        version: 1,
        created_ms: now,
        updated_ms: now,
    }
}

/// The existing contact with the imported values filled in or added.
fn merge(mut existing: ContactRow, imported: &ContactRow, now: i64) -> ContactRow {
    if !imported.first_name.is_empty() {
        existing.first_name = imported.first_name.clone();
    }
    if !imported.last_name.is_empty() {
        existing.last_name = imported.last_name.clone();
    }
    existing.emails = super::json_union::<LabeledValue>(&existing.emails, &imported.emails, |a, b| a.value == b.value);
    existing.phones =
        super::json_union::<contacts::PhoneValue>(&existing.phones, &imported.phones, |a, b| a.value == b.value);
    if imported.addresses != "[]" {
        existing.addresses =
            super::json_union::<contacts::Address>(&existing.addresses, &imported.addresses, |a, b| a == b);
    }
    existing.title = imported.title.clone().or(existing.title);
    existing.birthday = imported.birthday.clone().or(existing.birthday);
    existing.time_zone = imported.time_zone.clone().or(existing.time_zone);
    existing.source = existing.source.or(imported.source.clone());
    let mut custom: Map<String, Value> = serde_json::from_str(&existing.custom).unwrap_or_default();
    custom.extend(serde_json::from_str::<Map<String, Value>>(&imported.custom).unwrap_or_default());
    existing.custom = Value::Object(custom).to_string();
    existing.version += 1;
    existing.updated_ms = now.max(existing.updated_ms + 1);
    existing
}

/// An existing contact that a row of the batch changes.
struct Update {
    row: ContactRow,
    /// Its search title before the change: the documents of its notes carry it.
    old_title: String,
    new_tags: Vec<Uuid>,
    custom: Vec<(Uuid, Vec<kith_domain::crm::TypedValue>)>,
    company: Option<String>,
}

/// Write the changed existing contacts of a batch; tags are only ever added.
/// Each contact is one version-checked update; what hangs off them goes in
/// statements for the whole batch (a statement per contact and satellite
/// made the 1 % of repeated rows a tenth of an import's time on SQLite).
async fn update_many(tx: &mut Tx, state: &Run, updates: Vec<Update>) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let org = state.ctx.org_id;
    let mut written: Vec<Update> = Vec::with_capacity(updates.len());
    for u in updates {
        // Someone edited the contact since it was read: theirs wins; ours
        // is dropped rather than overwriting it.
        if kith_store::contacts::update(tx, &u.row).await? {
            written.push(u);
        }
    }
    let tags: Vec<(Uuid, Uuid)> = written.iter().flat_map(|u| u.new_tags.iter().map(|t| (*t, u.row.id))).collect();
    records::add_record_tags_many(tx, org, "contact", &tags).await?;
    // A merge only adds e-mails and phones, so a contact's handles only
    // grow: the new ones are added (the ones it had are kept by the conflict
    // clause) instead of deleting and writing all of them again.
    let handles: Vec<(Uuid, &str, String)> =
        written.iter().flat_map(|u| contacts::handles_of(&u.row).into_iter().map(|(k, v)| (u.row.id, k, v))).collect();
    kith_store::contacts::add_handles_many(tx, org, &handles).await?;
    for u in &written {
        for (field_id, values) in &u.custom {
            records::set_custom_values(tx, org, *field_id, u.row.id, values).await?;
        }
    }
    let docs: Vec<_> = written.iter().map(|u| contacts::search_doc(&u.row, u.company.as_deref())).collect();
    kith_store::search::replace_docs(tx, org, &docs).await?;
    // A merge keeps the contact's placement; its notes' documents follow a new name.
    for (u, doc) in written.iter().zip(&docs) {
        if doc.title != u.old_title {
            records::move_child_docs(tx, org, u.row.id, &doc.placement, &doc.title).await?;
        }
    }
    Ok(())
}
