//! Exports. A *view export* streams the contacts, companies or deals a list
//! shows (same filters, same visibility) as CSV, JSON or vCard. A *workspace
//! export* is a job (`crm.export`) that writes every record the requester
//! may see into one ZIP archive kept in `file_chunks` for seven days.
//!
//! Records come only from the list use cases and the visibility-filtered
//! export reads of kith-store, so an export never shows more than its
//! requester could open one by one. This module must never hold a whole
//! export in memory (a view export holds one page of 200 records, the job
//! one page and less than one 1 MiB chunk), and must never let anyone but
//! its requester download a workspace archive: it holds their personal
//! records and private notes, which no other role may read.

use super::companies::{self, Company};
use super::contacts::{self, Contact};
use super::deals::{self, Deal};
use super::{custom_fields, need, notes, pipelines, tags, tasks};
use crate::audit::{self, AuditEvent, Origin};
use crate::worker::{self, JobError, Registry};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::crm::RecordType;
use kith_domain::page::{Cursor, Page, PageRequest};
use kith_domain::role::{Action, Role};
use kith_domain::time::{now_ms, UtcDateTime, DAY_MS, MINUTE_MS};
use kith_domain::visibility::Viewer;
use kith_domain::{new_id, Actor, Context, Credential};
use kith_formats::zip_out::{ZipError, ZipWriter};
use kith_formats::{csv_out, vcard_out, ExportContact};
use kith_store::exports::{self as rows, ExportRow};
use kith_store::files;
use kith_store::records::{ListFilter, SortKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

pub const JOB: &str = "crm.export";
pub const PURGE_JOB: &str = "crm.export.purge";
pub const PURGE_SCHEDULE: &str = "crm-export-purge";
pub const PURGE_CRON: &str = "41 * * * *";
/// How long a finished archive is kept.
pub const RETENTION_MS: i64 = 7 * DAY_MS;
/// Records per page read (the list use cases' largest page).
pub const PAGE_SIZE: u32 = 200;
/// Notes read at once by the workspace export (each body up to 100,000 characters).
const NOTES_PAGE_SIZE: u32 = 25;
/// Records changed this long before a view export began are read again at
/// its end when it is sorted by update time: node clocks differ a little.
const CLOCK_MARGIN_MS: i64 = MINUTE_MS;

/// What a view export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ViewFormat {
    Csv,
    Json,
    /// vCard 4.0; contacts only.
    Vcard,
}

impl ViewFormat {
    pub fn parse(s: &str) -> Option<ViewFormat> {
        Some(match s {
            "csv" => ViewFormat::Csv,
            "json" => ViewFormat::Json,
            "vcard" | "vcf" => ViewFormat::Vcard,
            _ => return None,
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ViewFormat::Csv => "text/csv; charset=utf-8",
            ViewFormat::Json => "application/json",
            ViewFormat::Vcard => "text/vcard",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ViewFormat::Csv => "csv",
            ViewFormat::Json => "json",
            ViewFormat::Vcard => "vcf",
        }
    }
}

/// The file name part of a record type: `contacts`, `companies`, `deals`.
pub fn plural(record_type: RecordType) -> &'static str {
    match record_type {
        RecordType::Contact => "contacts",
        RecordType::Company => "companies",
        RecordType::Deal => "deals",
    }
}

// ---- records, pages and their encodings -------------------------------------

enum Rec {
    Contact(Contact),
    Company(Company),
    Deal(Deal),
}

impl Rec {
    fn id(&self) -> Uuid {
        match self {
            Rec::Contact(c) => c.id,
            Rec::Company(c) => c.id,
            Rec::Deal(d) => d.id,
        }
    }

    fn created_ms(&self) -> i64 {
        match self {
            Rec::Contact(c) => c.created_at_ms,
            Rec::Company(c) => c.created_at_ms,
            Rec::Deal(d) => d.created_at_ms,
        }
    }
}

/// One page of a list use case; visibility is applied there.
async fn fetch(
    app: &App,
    ctx: &Context,
    record_type: RecordType,
    filter: &ListFilter,
    sort: SortKey,
    after: Option<Cursor>,
) -> Result<Page<Rec>> {
    let page = PageRequest::new(Some(PAGE_SIZE), after);
    Ok(match record_type {
        RecordType::Contact => contacts::list(app, ctx, filter, sort, &page).await?.map(Rec::Contact),
        RecordType::Company => companies::list(app, ctx, filter, sort, &page).await?.map(Rec::Company),
        RecordType::Deal => deals::list(app, ctx, filter, sort, &page).await?.map(Rec::Deal),
    })
}

/// A JSON array written an element at a time.
#[derive(Default)]
struct JsonArray {
    items: u64,
}

impl JsonArray {
    fn open() -> &'static [u8] {
        b"["
    }

    fn item(&mut self, out: &mut Vec<u8>, value: &impl Serialize) -> Result<()> {
        out.extend_from_slice(if self.items == 0 { b"\n" } else { b",\n" });
        serde_json::to_writer(&mut *out, value).map_err(|e| AppError::Internal(e.to_string()))?;
        self.items += 1;
        Ok(())
    }

    fn close(&self) -> &'static [u8] {
        if self.items == 0 {
            b"]\n"
        } else {
            b"\n]\n"
        }
    }
}

const COMPANY_COLUMNS: [&str; 14] = [
    "ID",
    "Name",
    "Domain",
    "Industry",
    "Size",
    "Street",
    "City",
    "Region",
    "Postal Code",
    "Country",
    "Tags",
    "Visibility",
    "Created",
    "Updated",
];

const DEAL_COLUMNS: [&str; 16] = [
    "ID",
    "Title",
    // Minor units keep the amount exact whatever the currency's decimals.
    "Value (minor units)",
    "Currency",
    "Pipeline",
    "Stage",
    "Status",
    "Expected Close",
    "Closed",
    "Lost Reason",
    "Company",
    "Contacts",
    "Tags",
    "Visibility",
    "Created",
    "Updated",
];

/// `YYYY-MM-DD HH:MM:SS` (UTC), as spreadsheets read it.
fn stamp(ms: i64) -> String {
    let t = UtcDateTime::from_ms(ms);
    format!("{} {:02}:{:02}:{:02}", t.date(), t.hour, t.minute, t.second)
}

/// A custom value as one cell or vCard text.
fn custom_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(custom_text).collect::<Vec<_>>().join("; "),
        Value::Object(o) => match (o.get("amount"), o.get("currency").and_then(Value::as_str)) {
            (Some(amount), Some(currency)) => format!("{amount} {currency}"),
            _ => v.to_string(),
        },
    }
}

fn export_contact(c: &Contact, company: Option<String>) -> ExportContact {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let address = c
        .addresses
        .first()
        .map(|a| kith_formats::Address {
            street: a.street.clone(),
            city: a.city.clone(),
            region: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        })
        .unwrap_or_default();
    ExportContact {
        id: c.id,
        first_name: text(&c.first_name),
        last_name: text(&c.last_name),
        emails: c.emails.iter().map(|e| (e.value.clone(), e.label.clone())).collect(),
        phones: c.phones.iter().map(|p| (p.value.clone(), p.label.clone())).collect(),
        company,
        title: c.title.clone(),
        birthday: c.birthday.clone(),
        time_zone: c.time_zone.clone(),
        source: c.source.clone(),
        address,
        website: c.social.get("website").and_then(Value::as_str).map(str::to_string),
        tags: c.tags.clone(),
        custom: c.custom.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), custom_text(v))).collect(),
    }
}

fn csv_error(e: std::io::Error) -> AppError {
    AppError::Internal(format!("writing CSV: {e}"))
}

/// Writes pages of one record type in one format.
struct Encoder {
    record_type: RecordType,
    format: ViewFormat,
    /// CSV: one column per custom field, in the workspace's order.
    custom_keys: Vec<String>,
    /// CSV of deals: pipeline and stage names by id.
    names: HashMap<Uuid, String>,
    json: JsonArray,
}

impl Encoder {
    async fn new(app: &App, ctx: &Context, record_type: RecordType, format: ViewFormat) -> Result<Encoder> {
        if format == ViewFormat::Vcard && record_type != RecordType::Contact {
            return Err(AppError::field("format", "vCard is for contacts only; use csv or json"));
        }
        let mut enc =
            Encoder { record_type, format, custom_keys: Vec::new(), names: HashMap::new(), json: JsonArray::default() };
        if format == ViewFormat::Csv {
            enc.custom_keys = custom_fields::list(app, ctx, record_type).await?.into_iter().map(|f| f.key).collect();
            if record_type == RecordType::Deal {
                for p in pipelines::list(app, ctx).await? {
                    enc.names.extend(p.stages.into_iter().map(|s| (s.id, s.name)));
                    enc.names.insert(p.id, p.name);
                }
            }
        }
        Ok(enc)
    }

    fn prelude(&self) -> Result<Vec<u8>> {
        Ok(match self.format {
            ViewFormat::Json => JsonArray::open().to_vec(),
            ViewFormat::Vcard => Vec::new(),
            ViewFormat::Csv => {
                let keys = &self.custom_keys;
                let header: Vec<String> = match self.record_type {
                    RecordType::Contact => csv_out::contact_header(keys),
                    RecordType::Company => COMPANY_COLUMNS.iter().map(|s| s.to_string()).chain(keys.clone()).collect(),
                    RecordType::Deal => DEAL_COLUMNS.iter().map(|s| s.to_string()).chain(keys.clone()).collect(),
                };
                let mut w = csv_out::Writer::with_utf8_bom(Vec::new()).map_err(csv_error)?;
                w.write_header(&header).map_err(csv_error)?;
                w.into_inner().map_err(csv_error)?
            }
        })
    }

    fn epilogue(&self) -> &'static [u8] {
        match self.format {
            ViewFormat::Json => self.json.close(),
            _ => b"",
        }
    }

    fn custom_cells(&self, custom: &serde_json::Map<String, Value>) -> Vec<String> {
        self.custom_keys.iter().map(|k| custom.get(k).map(custom_text).unwrap_or_default()).collect()
    }

    async fn page(&mut self, app: &App, viewer: &Viewer, items: &[Rec]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if self.format == ViewFormat::Json {
            for item in items {
                match item {
                    Rec::Contact(c) => self.json.item(&mut out, c)?,
                    Rec::Company(c) => self.json.item(&mut out, c)?,
                    Rec::Deal(d) => self.json.item(&mut out, d)?,
                }
            }
            return Ok(out);
        }
        // Names of linked records, as the viewer may see them (one query per page).
        let company_ids: Vec<Uuid> = items
            .iter()
            .filter_map(|r| match r {
                Rec::Contact(c) => c.company_id,
                Rec::Deal(d) => d.company_id,
                Rec::Company(_) => None,
            })
            .collect();
        let companies: HashMap<Uuid, String> =
            rows::company_names(app.db(), viewer, &company_ids).await?.into_iter().collect();
        if self.format == ViewFormat::Vcard {
            for item in items {
                if let Rec::Contact(c) = item {
                    let company = c.company_id.and_then(|id| companies.get(&id).cloned());
                    vcard_out::write_contact(&mut out, &export_contact(c, company))
                        .map_err(|e| AppError::Internal(format!("writing vCard: {e}")))?;
                }
            }
            return Ok(out);
        }
        let contact_ids: Vec<Uuid> = items
            .iter()
            .flat_map(|r| match r {
                Rec::Deal(d) => d.contact_ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        let contact_names: HashMap<Uuid, String> = rows::contact_names(app.db(), viewer, &contact_ids)
            .await?
            .into_iter()
            .map(|(id, first, last, emails)| {
                let emails: Vec<contacts::LabeledValue> = serde_json::from_str(&emails).unwrap_or_default();
                (id, contacts::display_name(&first, &last, &emails))
            })
            .collect();
        let mut w = csv_out::Writer::new(out);
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        for item in items {
            let row: Vec<String> = match item {
                Rec::Contact(c) => {
                    let company = c.company_id.and_then(|id| companies.get(&id).cloned());
                    csv_out::contact_row(&export_contact(c, company), &self.custom_keys)
                }
                Rec::Company(c) => [
                    c.id.to_string(),
                    c.name.clone(),
                    opt(&c.domain),
                    opt(&c.industry),
                    opt(&c.size),
                    opt(&c.address.street),
                    opt(&c.address.city),
                    opt(&c.address.region),
                    opt(&c.address.postal_code),
                    opt(&c.address.country),
                    c.tags.join(", "),
                    c.visibility.as_str().to_string(),
                    stamp(c.created_at_ms),
                    stamp(c.updated_at_ms),
                ]
                .into_iter()
                .chain(self.custom_cells(&c.custom))
                .collect(),
                Rec::Deal(d) => [
                    d.id.to_string(),
                    d.title.clone(),
                    d.value_minor.to_string(),
                    d.currency.clone(),
                    self.names.get(&d.pipeline_id).cloned().unwrap_or_default(),
                    self.names.get(&d.stage_id).cloned().unwrap_or_default(),
                    d.status.as_str().to_string(),
                    opt(&d.expected_close),
                    d.closed_at_ms.map(stamp).unwrap_or_default(),
                    opt(&d.lost_reason),
                    d.company_id.and_then(|id| companies.get(&id).cloned()).unwrap_or_default(),
                    d.contact_ids.iter().filter_map(|id| contact_names.get(id).cloned()).collect::<Vec<_>>().join("; "),
                    d.tags.join(", "),
                    d.visibility.as_str().to_string(),
                    stamp(d.created_at_ms),
                    stamp(d.updated_at_ms),
                ]
                .into_iter()
                .chain(self.custom_cells(&d.custom))
                .collect(),
            };
            w.write_row(&row).map_err(csv_error)?;
        }
        w.into_inner().map_err(csv_error)
    }
}

// ---- view exports -------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Rows,
    /// Sorted by update time: records changed while the export ran.
    Sweep,
    End,
    Done,
}

/// A view export in progress: call [`ViewExport::next_chunk`] until it
/// answers `None`. Each call reads one page of records.
pub struct ViewExport {
    app: App,
    ctx: Context,
    viewer: Viewer,
    record_type: RecordType,
    filter: ListFilter,
    sort: SortKey,
    encoder: Encoder,
    phase: Phase,
    after: Option<Cursor>,
    /// Ids written so far, kept only for sorts by update time: a record
    /// changed during the export moves in that order, and would otherwise
    /// come twice or not at all. Creation time never changes, so sorts by
    /// it page exactly once without this.
    seen: Option<HashSet<Uuid>>,
    started_ms: i64,
}

/// Start exporting what the list of `record_type` shows with `filter`, in
/// `sort` order, as `format`: every visible matching record exactly once.
/// vCard is for contacts only (a validation error on `format` otherwise).
pub async fn export_view(
    app: &App,
    ctx: &Context,
    record_type: RecordType,
    filter: ListFilter,
    sort: SortKey,
    format: ViewFormat,
) -> Result<ViewExport> {
    need(ctx, Action::ReadRecords)?;
    let encoder = Encoder::new(app, ctx, record_type, format).await?;
    let by_update = matches!(sort, SortKey::UpdatedAsc | SortKey::UpdatedDesc);
    Ok(ViewExport {
        app: app.clone(),
        ctx: ctx.clone(),
        viewer: Viewer::of(ctx),
        record_type,
        filter,
        sort,
        encoder,
        phase: Phase::Start,
        after: None,
        seen: by_update.then(HashSet::new),
        started_ms: now_ms(),
    })
}

impl ViewExport {
    pub fn record_type(&self) -> RecordType {
        self.record_type
    }

    pub fn format(&self) -> ViewFormat {
        self.encoder.format
    }

    /// The next bytes of the file, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        loop {
            match self.phase {
                Phase::Start => {
                    out = self.encoder.prelude()?;
                    self.phase = Phase::Rows;
                }
                Phase::Rows | Phase::Sweep => {
                    let (filter, sort) = if self.phase == Phase::Sweep {
                        let since = self.started_ms - CLOCK_MARGIN_MS;
                        let since = self.filter.updated_since_ms.map_or(since, |s| s.max(since));
                        (ListFilter { updated_since_ms: Some(since), ..self.filter.clone() }, SortKey::CreatedAsc)
                    } else {
                        (self.filter.clone(), self.sort)
                    };
                    let page = fetch(&self.app, &self.ctx, self.record_type, &filter, sort, self.after).await?;
                    self.after = page.next;
                    if page.next.is_none() {
                        self.phase =
                            if self.phase == Phase::Rows && self.seen.is_some() { Phase::Sweep } else { Phase::End };
                    }
                    let items: Vec<Rec> = match &mut self.seen {
                        Some(seen) => page.items.into_iter().filter(|r| seen.insert(r.id())).collect(),
                        None => page.items,
                    };
                    if !items.is_empty() {
                        out.extend(self.encoder.page(&self.app, &self.viewer, &items).await?);
                    }
                    if !out.is_empty() {
                        return Ok(Some(out));
                    }
                }
                Phase::End => {
                    self.phase = Phase::Done;
                    out.extend_from_slice(self.encoder.epilogue());
                    return Ok((!out.is_empty()).then_some(out));
                }
                Phase::Done => return Ok(None),
            }
        }
    }
}

// ---- workspace exports --------------------------------------------------------

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Export {
    pub id: Uuid,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// `workspace`.
    pub scope: String,
    /// `zip`.
    pub format: String,
    /// Records written so far (each once, whichever files it is in).
    pub records: i64,
    pub file_bytes: i64,
    pub error: Option<String>,
    pub created_by: Uuid,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// When the archive (and this export) is deleted.
    pub expires_at_ms: i64,
}

impl From<ExportRow> for Export {
    fn from(r: ExportRow) -> Export {
        Export {
            id: r.id,
            status: r.status,
            scope: r.scope,
            format: r.format,
            records: r.records,
            file_bytes: r.file_bytes,
            error: r.error,
            created_by: r.created_by,
            created_at_ms: r.created_ms,
            finished_at_ms: r.finished_ms,
            expires_at_ms: r.created_ms + RETENTION_MS,
        }
    }
}

/// Exporting the whole workspace is for admins and owners: a member's
/// "everything" is only what they can already list and export by view.
fn may_export_workspace(ctx: &Context) -> Result<()> {
    need(ctx, Action::ReadRecords)?;
    if ctx.effective_role() >= Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// Queue an export of everything the requester may see (admins and owners).
pub async fn start_workspace_export(app: &App, ctx: &Context, origin: &Origin) -> Result<Export> {
    may_export_workspace(ctx)?;
    let now = now_ms();
    let row = ExportRow {
        id: new_id(),
        org_id: ctx.org_id,
        created_by: ctx.user_id(),
        status: "queued".into(),
        scope: "workspace".into(),
        format: "zip".into(),
        records: 0,
        file_bytes: 0,
        error: None,
        created_ms: now,
        updated_ms: now,
        finished_ms: None,
    };
    let mut tx = app.db().begin().await?;
    rows::insert(&mut tx, &row).await?;
    worker::enqueue(&mut tx, JOB, Some(ctx.org_id), &serde_json::json!({"export_id": row.id}), now).await?;
    audit::record(
        &mut tx,
        ctx.org_id,
        Some(ctx.user_id()),
        AuditEvent::new("export.requested", "export", row.id),
        origin,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(row.into())
}

/// An export its creator or an admin may look at.
pub async fn get_export(app: &App, ctx: &Context, id: Uuid) -> Result<Export> {
    need(ctx, Action::ReadRecords)?;
    let row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if row.created_by != ctx.user_id() && ctx.effective_role() < Role::Admin {
        return Err(AppError::NotFound);
    }
    Ok(row.into())
}

/// Newest first: all of the workspace's for admins, one's own for others.
pub async fn list_exports(app: &App, ctx: &Context, page: &PageRequest) -> Result<Page<Export>> {
    need(ctx, Action::ReadRecords)?;
    let only = (ctx.effective_role() < Role::Admin).then(|| ctx.user_id());
    Ok(rows::list(app.db(), ctx.org_id, only, page).await?.map(Export::from))
}

/// A finished archive being read: call [`Download::next_chunk`] until `None`.
pub struct Download {
    pub export: Export,
    app: App,
    org_id: Uuid,
    seq: i64,
}

impl Download {
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let chunk = files::chunk(self.app.db(), self.org_id, self.export.id, self.seq).await?;
        self.seq += 1;
        Ok(chunk)
    }
}

/// Read a finished archive: only its creator, and only while they may
/// still export the workspace. Admins see that it exists but may not open
/// it: it holds the creator's personal records and private notes.
pub async fn download(app: &App, ctx: &Context, id: Uuid, origin: &Origin) -> Result<Download> {
    let export = get_export(app, ctx, id).await?;
    if export.created_by != ctx.user_id() {
        return Err(AppError::Forbidden);
    }
    may_export_workspace(ctx)?;
    if export.status != "done" {
        return Err(AppError::Conflict(ErrorCode::InUse, "the export is not ready: it is still running, or it failed"));
    }
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    audit::record(
        &mut tx,
        ctx.org_id,
        Some(ctx.user_id()),
        AuditEvent::new("export.downloaded", "export", id),
        origin,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Download { export, app: app.clone(), org_id: ctx.org_id, seq: 0 })
}

/// Delete exports (and their files) older than [`RETENTION_MS`]; how many.
pub async fn purge(app: &App, now: i64) -> Result<u64> {
    const BATCH: i64 = 100;
    let mut purged = 0;
    loop {
        let batch = rows::created_before(app.db(), now - RETENTION_MS, BATCH).await?;
        for (org_id, id) in &batch {
            let mut tx = app.db().begin().await?;
            files::delete(&mut tx, *org_id, *id).await?;
            rows::delete(&mut tx, *org_id, *id).await?;
            tx.commit().await?;
            purged += 1;
        }
        if (batch.len() as i64) < BATCH {
            return Ok(purged);
        }
    }
}

pub fn register(registry: &mut Registry) {
    registry.register(JOB, run_job);
    registry.register(PURGE_JOB, |app: App, _job| async move { purge(&app, now_ms()).await.map(|_| ()) });
}

#[derive(Deserialize)]
struct JobPayload {
    export_id: Uuid,
}

enum RunError {
    /// The export cannot be made: it fails with this message.
    Fatal(String),
    /// Storage trouble: the job retries (from the start of the file).
    Retry(AppError),
    /// Another run of the same export took over (this one's lease ran out).
    Superseded,
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

impl From<ZipError> for RunError {
    fn from(e: ZipError) -> Self {
        RunError::Fatal(e.to_string())
    }
}

async fn run_job(app: App, job: kith_store::jobs::ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: JobPayload =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("bad payload: {e}")))?;
    let org_id = job.org_id.ok_or_else(|| JobError::permanent("export job without a workspace"))?;
    let Some(export) = rows::get(app.db(), org_id, payload.export_id).await.map_err(AppError::from)? else {
        return Ok(());
    };
    if export.status == "done" || export.status == "failed" {
        return Ok(());
    }
    let message = match run(&app, &export).await {
        Ok(()) | Err(RunError::Superseded) => return Ok(()),
        Err(RunError::Fatal(message)) => message,
        // The last attempt: say so on the export rather than leave it running.
        Err(RunError::Retry(e)) if job.attempts >= job.max_attempts => {
            tracing::warn!(export_id = %export.id, error = %e, "export gave up");
            "the export could not be written; please start a new one".to_string()
        }
        Err(RunError::Retry(e)) => return Err(e.into()),
    };
    let mut tx = app.db().begin().await.map_err(AppError::from)?;
    rows::fail(&mut tx, export.id, &message, now_ms()).await.map_err(AppError::from)?;
    files::delete(&mut tx, org_id, export.id).await.map_err(AppError::from)?;
    tx.commit().await.map_err(AppError::from)?;
    Ok(())
}

/// The requester's context now: their role may have changed since they asked.
async fn requester_context(app: &App, export: &ExportRow) -> std::result::Result<Context, RunError> {
    let member = kith_store::members::get(app.db(), export.org_id, export.created_by)
        .await?
        .ok_or_else(|| RunError::Fatal("the person who asked for the export has left the workspace".into()))?;
    let ctx = Context {
        org_id: export.org_id,
        actor: Actor { user_id: export.created_by, credential: Credential::Cli },
        role: Role::parse(&member.role).unwrap_or(Role::Viewer),
    };
    if may_export_workspace(&ctx).is_err() {
        return Err(RunError::Fatal("the person who asked for the export is no longer an admin or owner".into()));
    }
    Ok(ctx)
}

/// The archive being written: bytes go to `file_chunks` 1 MiB at a time,
/// each chunk committed with the export's counters.
struct Archive {
    app: App,
    org_id: Uuid,
    id: Uuid,
    zip: ZipWriter<Vec<u8>>,
    seq: i64,
    stored: i64,
    records: i64,
    modified: UtcDateTime,
}

impl Archive {
    fn start(&mut self, name: &str) -> std::result::Result<(), RunError> {
        Ok(self.zip.start_entry(name, &self.modified)?)
    }

    async fn write(&mut self, data: &[u8]) -> std::result::Result<(), RunError> {
        self.zip.write_data(data)?;
        while self.zip.get_mut().len() >= files::CHUNK_BYTES {
            let rest = self.zip.get_mut().split_off(files::CHUNK_BYTES);
            let chunk = std::mem::replace(self.zip.get_mut(), rest);
            self.store(&chunk).await?;
        }
        Ok(())
    }

    async fn store(&mut self, chunk: &[u8]) -> std::result::Result<(), RunError> {
        let to = self.stored + chunk.len() as i64;
        let mut tx = self.app.db().begin().await?;
        files::append_chunk(&mut tx, self.id, self.org_id, self.seq, chunk).await?;
        if !rows::advance(&mut tx, self.id, self.stored, to, self.records, now_ms()).await? {
            return Err(RunError::Superseded);
        }
        tx.commit().await?;
        self.seq += 1;
        self.stored = to;
        Ok(())
    }

    /// The central directory, the last chunks, and `done`.
    async fn finish(mut self) -> std::result::Result<(), RunError> {
        let rest = std::mem::replace(&mut self.zip, ZipWriter::new(Vec::new())).finish()?;
        for chunk in rest.chunks(files::CHUNK_BYTES) {
            self.store(chunk).await?;
        }
        let mut tx = self.app.db().begin().await?;
        if !rows::complete(&mut tx, self.id, self.stored, self.records, now_ms()).await? {
            return Err(RunError::Superseded);
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn run(app: &App, export: &ExportRow) -> std::result::Result<(), RunError> {
    let ctx = requester_context(app, export).await?;
    let viewer = Viewer::of(&ctx);
    let started = now_ms();
    // A previous attempt may have stored part of the file: start over.
    let mut tx = app.db().begin().await?;
    files::delete(&mut tx, export.org_id, export.id).await?;
    rows::restart(&mut tx, export.id, started).await?;
    tx.commit().await?;
    let mut out = Archive {
        app: app.clone(),
        org_id: export.org_id,
        id: export.id,
        zip: ZipWriter::new(Vec::new()),
        seq: 0,
        stored: 0,
        records: 0,
        modified: UtcDateTime::from_ms(started),
    };

    for record_type in RecordType::ALL {
        for format in [ViewFormat::Json, ViewFormat::Csv] {
            out.start(&format!("{}.{}", plural(record_type), format.extension()))?;
            let mut encoder = Encoder::new(app, &ctx, record_type, format).await?;
            out.write(&encoder.prelude()?).await?;
            let mut after = None;
            loop {
                // Oldest first, never changing order; records made after the
                // run began are left out so the JSON and CSV files agree.
                let page = fetch(app, &ctx, record_type, &ListFilter::default(), SortKey::CreatedAsc, after).await?;
                let fetched = page.items.len();
                let items: Vec<Rec> = page.items.into_iter().filter(|r| r.created_ms() <= started).collect();
                if format == ViewFormat::Json {
                    out.records += items.len() as i64;
                }
                let bytes = encoder.page(app, &viewer, &items).await?;
                out.write(&bytes).await?;
                after = page.next;
                if after.is_none() || items.len() < fetched {
                    break;
                }
            }
            out.write(encoder.epilogue()).await?;
            out.zip.finish_entry()?;
        }
    }

    // Notes with their bodies opened: shared ones, and the requester's own private ones.
    out.start("notes.json")?;
    out.write(JsonArray::open()).await?;
    let mut array = JsonArray::default();
    // Notes run to 100,000 characters: fewer per page, each written on its own.
    let mut page = PageRequest::new(Some(NOTES_PAGE_SIZE), None);
    loop {
        let found = rows::notes_page(app.db(), &viewer, &page).await?;
        for row in found.items {
            let mut bytes = Vec::new();
            array.item(&mut bytes, &notes::open(app, row).await?)?;
            out.records += 1;
            out.write(&bytes).await?;
        }
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    out.write(array.close()).await?;
    out.zip.finish_entry()?;

    out.start("tasks.json")?;
    out.write(JsonArray::open()).await?;
    let mut array = JsonArray::default();
    let mut page = PageRequest::new(Some(PAGE_SIZE), None);
    loop {
        let found = rows::tasks_page(app.db(), &viewer, &page).await?;
        let mut bytes = Vec::new();
        out.records += found.items.len() as i64;
        for row in found.items {
            array.item(&mut bytes, &tasks::Task::from(row))?;
        }
        out.write(&bytes).await?;
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    out.write(array.close()).await?;
    out.zip.finish_entry()?;

    // Settings-sized: a workspace has a handful of pipelines.
    out.start("pipelines.json")?;
    let list = pipelines::list(app, &ctx).await?;
    out.records += list.len() as i64;
    let bytes = serde_json::to_vec_pretty(&list).map_err(|e| AppError::Internal(e.to_string()))?;
    out.write(&bytes).await?;
    out.zip.finish_entry()?;

    out.start("tags.json")?;
    out.write(JsonArray::open()).await?;
    let mut array = JsonArray::default();
    let mut after: Option<String> = None;
    loop {
        let (found, next) = tags::list(app, &ctx, after.as_deref(), PAGE_SIZE).await?;
        let mut bytes = Vec::new();
        out.records += found.len() as i64;
        for tag in &found {
            array.item(&mut bytes, tag)?;
        }
        out.write(&bytes).await?;
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    out.write(array.close()).await?;
    out.zip.finish_entry()?;

    out.finish().await
}
