//! The import figure: a HubSpot-style CSV export written to a temporary file,
//! uploaded and imported by a child process (this binary, `crm-import-child`)
//! through `kith_app::crm::imports::{begin, write, finish}` and the app's
//! own background worker, so its peak RSS (`VmHWM`) is the import's alone.
//! Then the same file again: nothing may be created the second time.
//!
//! Beside it, a timing breakdown measured piece by piece in this process:
//! parsing (kith-formats), the contact checks, the dedupe read per row, the
//! company lookup per new company name, and the statements that write one
//! contact (in transactions rolled back).

use super::data::{self, Rng};
use super::plans::Raw;
use anyhow::{bail, Context as _, Result};
use kith_app::crm::contacts::{self as app_contacts, ContactInput, LabeledValue, PhonePolicy};
use kith_app::App;
use kith_domain::visibility::{Viewer, Visibility};
use kith_domain::{new_id, Actor, Context, Credential, Role};
use kith_store::contacts::ContactRow;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const HEADER: &str = "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Lifecycle Stage";
const LIFECYCLE: [&str; 6] =
    ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"];
/// Rows that repeat an earlier row's e-mail (the same person exported twice).
const DUPLICATE_SHARE: f64 = 0.01;
/// Rows whose phone has no country code (kept as written, with a warning).
const NATIONAL_PHONE_SHARE: f64 = 0.05;
/// Rows with a company name.
const COMPANY_SHARE: f64 = 0.8;
/// Environment variable carrying the master key (base64) to the child.
const KEY_ENV: &str = "KITH_BENCH_MASTER_KEY";

pub struct CsvFile {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    pub duplicates: u64,
    pub distinct_companies: u64,
}

fn cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Write `rows` contacts as HubSpot exports them; company names come from a
/// pool of `company_pool` names.
pub fn write_csv(path: &Path, rows: u64, company_pool: u64, seed: u64) -> Result<CsvFile> {
    let mut rng = Rng::new(seed);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "{HEADER}")?;
    let (firsts, lasts) = (data::first_names(), data::last_names());
    let mut emails: Vec<String> = Vec::new();
    let mut companies = std::collections::HashSet::new();
    let mut duplicates = 0;
    for i in 0..rows {
        let first = *rng.pick(firsts);
        let last = *rng.pick(lasts);
        let company = rng.chance(COMPANY_SHARE).then(|| data::company_name(rng.below(company_pool.max(1)) as usize));
        let email = if !emails.is_empty() && rng.chance(DUPLICATE_SHARE) {
            duplicates += 1;
            emails[rng.index(emails.len())].clone()
        } else {
            let domain = match &company {
                Some(c) => data::company_domain(c),
                None => data::free_mail_domain(&mut rng).to_string(),
            };
            let e = format!("{}.{}.{i}@{domain}", data::ascii_slug(first), data::ascii_slug(last));
            if emails.len() < 1_000_000 {
                emails.push(e.clone());
            }
            e
        };
        let (e164, typed) = data::phone(&mut rng);
        let phone = if rng.chance(NATIONAL_PHONE_SHARE) { data::phone_query(&e164, &mut rng) } else { typed };
        if let Some(c) = &company {
            companies.insert(c.clone());
        }
        writeln!(
            out,
            "{},{},{},{},{},{},{}",
            100_000_000 + i,
            cell(first),
            cell(last),
            cell(&email),
            cell(&phone),
            cell(company.as_deref().unwrap_or("")),
            rng.pick(&LIFECYCLE)
        )?;
    }
    out.flush()?;
    drop(out);
    Ok(CsvFile {
        path: path.to_path_buf(),
        rows,
        bytes: std::fs::metadata(path)?.len(),
        duplicates,
        distinct_companies: companies.len() as u64,
    })
}

/// What the child reports (one JSON line on stdout).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ChildReport {
    pub import_id: Uuid,
    pub status: String,
    pub upload_s: f64,
    pub import_s: f64,
    pub total: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub warnings: i64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// One import run as the parent saw it.
#[derive(Debug, Clone)]
pub struct ImportRun {
    pub report: ChildReport,
    /// The import did not finish within the time allowed; `report` holds
    /// the progress read from the database when it was stopped.
    pub timed_out: bool,
    /// (seconds since the child started, rows done) every 10 s.
    pub progress: Vec<(f64, i64)>,
    /// Cores in use during the run (CPU seconds per second of wall time):
    /// the importing child, PostgreSQL's processes (PostgreSQL runs only),
    /// and everything else on the machine (other engineers' builds and tests).
    pub cores: Cores,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Cores {
    pub child: f64,
    pub postgres: f64,
    pub other: f64,
}

impl ImportRun {
    pub fn rows_per_second(&self) -> f64 {
        self.report.total as f64 / self.report.import_s.max(1e-9)
    }
}

/// Import `csv` into workspace `org` as `user` in a child process; wait at
/// most `timeout`, printing progress.
#[allow(clippy::too_many_arguments)]
pub fn run_child(
    db_url: &str,
    master_key_b64: &str,
    org: Uuid,
    user: Uuid,
    csv: &Path,
    timeout: Duration,
    raw: &Raw,
    rt: &tokio::runtime::Runtime,
) -> Result<ImportRun> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("crm-import-child")
        .args(["--db-url", db_url, "--org", &org.to_string(), "--user", &user.to_string()])
        .arg("--csv")
        .arg(csv)
        .env(KEY_ENV, master_key_b64)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("spawning the import child")?;
    let started = Instant::now();
    let pid = child.id();
    let on_postgres = matches!(raw, Raw::Postgres(_));
    let postgres_cpu = || {
        if on_postgres {
            crate::process::processes_cpu_time("postgres").unwrap_or_default()
        } else {
            Duration::ZERO
        }
    };
    let (busy0, pg0) = (crate::process::machine_busy()?, postgres_cpu());
    let (mut child_cpu, mut pg_cpu) = (Duration::ZERO, pg0);
    let mut last_note = Instant::now();
    let mut samples = Vec::new();
    let status = loop {
        // The child's CPU time, read while it runs (gone once it is reaped).
        if let Ok(t) = crate::process::cpu_time(pid) {
            child_cpu = t;
            // Likewise PostgreSQL's: the child's backends exit with it.
            pg_cpu = postgres_cpu().max(pg_cpu);
        }
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > timeout {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
        if last_note.elapsed() > Duration::from_secs(10) {
            last_note = Instant::now();
            if let Ok(Some(p)) = rt.block_on(progress(raw, org)) {
                samples.push((started.elapsed().as_secs_f64(), p.total));
                eprintln!(
                    "    {:.0} s: {} rows done ({} created, {} updated), {}",
                    started.elapsed().as_secs_f64(),
                    p.total,
                    p.created,
                    p.updated,
                    p.status
                );
            }
        }
    };
    let wall = started.elapsed();
    let (busy, pg) = (crate::process::machine_busy()?.saturating_sub(busy0), pg_cpu.saturating_sub(pg0));
    let per_s = |d: Duration| d.as_secs_f64() / wall.as_secs_f64().max(1e-9);
    let cores = Cores {
        child: per_s(child_cpu),
        postgres: per_s(pg),
        other: per_s(busy.saturating_sub(child_cpu).saturating_sub(pg)),
    };
    match status {
        Some(status) => {
            let mut out = String::new();
            child.stdout.take().context("child stdout")?.read_to_string(&mut out)?;
            if !status.success() {
                bail!("the import child failed ({status}): {out}");
            }
            let line = out.lines().last().context("no report from the import child")?;
            let report: ChildReport = serde_json::from_str(line).with_context(|| format!("child report {line:?}"))?;
            Ok(ImportRun { report, timed_out: false, progress: samples, cores })
        }
        None => {
            child.kill()?;
            child.wait()?;
            // A statement the child left running on PostgreSQL would go on for minutes.
            let cancelled = rt.block_on(raw.cancel_others())?;
            if cancelled > 0 {
                eprintln!("    cancelled {cancelled} statement(s) the import left running");
            }
            let mut report = rt.block_on(progress(raw, org))?.unwrap_or_default();
            report.import_s = wall.as_secs_f64();
            eprintln!("    stopped after {:.0} s: {} rows done", wall.as_secs_f64(), report.total);
            Ok(ImportRun { report, timed_out: true, progress: samples, cores })
        }
    }
}

/// The newest import of a workspace, as stored.
async fn progress(raw: &Raw, org: Uuid) -> Result<Option<ChildReport>> {
    const SQL: &str = "SELECT id, status, rows_done, created, updated, skipped, failed, warnings FROM imports
                       WHERE org_id = $1 ORDER BY created_ms DESC LIMIT 1";
    type Row = (Uuid, String, i64, i64, i64, i64, i64, i64);
    let row: Option<Row> = match raw {
        Raw::Sqlite(p) => sqlx::query_as(SQL).bind(org).fetch_optional(p).await?,
        Raw::Postgres(p) => sqlx::query_as(SQL).bind(org).fetch_optional(p).await?,
    };
    Ok(row.map(|(id, status, total, created, updated, skipped, failed, warnings)| ChildReport {
        import_id: id,
        status,
        total,
        created,
        updated,
        skipped,
        failed,
        warnings,
        ..Default::default()
    }))
}

/// The child: upload `csv` through the app, run the worker until the
/// import is done, report on stdout.
pub fn child_main(db_url: &str, org: Uuid, user: Uuid, csv: &Path) -> Result<()> {
    // Worker warnings (a failed attempt, its error) go to stderr.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn,kith_app::crm::imports=info"))
        .with_writer(std::io::stderr)
        .try_init();
    let key = std::env::var(KEY_ENV).context("no master key from the parent")?;
    let key = kith_crypto::SecretKey::from_base64(&key).map_err(|e| anyhow::anyhow!("master key: {e}"))?;
    // As `kith serve` runs: a multi-threaded runtime over the machine's cores.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = rt.block_on(async {
        let db = kith_store::Db::connect(db_url, &kith_store::DbOptions::default()).await?;
        let app =
            App::new(db, kith_app::Keyring::new(kith_app::MasterKeys::single(key)), kith_app::AppSettings::default())?;
        let ctx =
            Context { org_id: org, actor: Actor { user_id: user, credential: Credential::Cli }, role: Role::Owner };
        let app_err = |e: kith_app::AppError| anyhow::anyhow!("{e}");
        let started = Instant::now();
        let options = kith_app::crm::imports::ImportOptions {
            file_name: "hubspot-contacts-export.csv".into(),
            preset: None,
            mapping: None,
            dedupe: kith_app::crm::imports::Dedupe::Update,
            dry_run: false,
        };
        let mut upload = kith_app::crm::imports::begin(&app, &ctx, options).map_err(app_err)?;
        let mut file = std::fs::File::open(csv)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            upload.write(&buf[..n]).await.map_err(app_err)?;
        }
        let queued = upload.finish().await.map_err(app_err)?;
        let upload_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let worker = kith_app::worker::Worker::new(app.clone(), kith_app::worker::Registry::standard());
        let done = loop {
            let ran = worker.run_once().await.map_err(app_err)?;
            let now = kith_app::crm::imports::get(&app, &ctx, queued.id).await.map_err(app_err)?;
            if now.status == "done" || now.status == "failed" {
                break now;
            }
            if ran == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let import_s = started.elapsed().as_secs_f64();
        if let Some(e) = &done.error {
            eprintln!("    import error: {e}");
        }
        let (rss_kib, hwm_kib) = crate::process::memory_kib(std::process::id())?;
        Ok::<_, anyhow::Error>(ChildReport {
            import_id: done.id,
            status: done.status,
            upload_s,
            import_s,
            total: done.total,
            created: done.created,
            updated: done.updated,
            skipped: done.skipped,
            failed: done.failed,
            warnings: done.warnings,
            rss_kib,
            hwm_kib,
        })
    })?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Per-row costs of the import's parts, measured one by one.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    pub rows: u64,
    /// Decoding and CSV parsing into records (kith-formats), whole file.
    pub parse_us: f64,
    /// `contacts::apply_input` (names, e-mails, phones to E.164), whole file.
    pub check_us: f64,
    /// The dedupe reads (`contacts::find_by_handle_values`, one per kind per batch), per row, sampled.
    pub find_us: f64,
    pub find_sampled: usize,
    /// A read ran past the budget and was cancelled (PostgreSQL).
    pub find_cancelled: bool,
    /// The company-name lookup (`companies::find_by_names_tx`, one read per batch), per distinct name.
    pub company_lookup_us: f64,
    pub company_sampled: usize,
    pub company_cancelled: bool,
    pub distinct_companies: u64,
    /// Companies in the workspace when the lookups were timed.
    pub companies_in_workspace: u64,
    /// Writing one new contact: multi-row inserts of contacts, handles and
    /// search documents; sampled in rolled-back transactions of 500.
    pub write_us: f64,
    pub write_sampled: usize,
}

impl Breakdown {
    /// The company lookups spread over all rows.
    pub fn company_per_row_us(&self) -> f64 {
        self.company_lookup_us * self.distinct_companies as f64 / self.rows.max(1) as f64
    }

    pub fn sum_us(&self) -> f64 {
        self.parse_us + self.check_us + self.find_us + self.company_per_row_us() + self.write_us
    }
}

type CsvRows = kith_formats::csv_in::Rows<Box<dyn std::io::BufRead>>;

/// The bench's CSV file as records, with the mapping its preset proposes.
fn open_csv(csv: &CsvFile) -> Result<(CsvRows, kith_formats::presets::Mapping)> {
    let reader = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&csv.path)?);
    let decoded = kith_formats::text::decode_reader(reader).map_err(|e| anyhow::anyhow!("decode: {e}"))?;
    let rows = kith_formats::csv_in::Rows::new(decoded).map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    let headers = rows.headers().to_vec();
    let mapping = kith_formats::presets::default_mapping(kith_formats::presets::detect(&headers), &headers);
    Ok((rows, mapping))
}

fn contact_input(c: &kith_formats::ImportedContact) -> ContactInput {
    ContactInput {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        emails: Some(c.emails.iter().map(|(v, l)| LabeledValue { value: v.clone(), label: l.clone() }).collect()),
        phones: Some(c.phones.iter().map(|(v, l)| LabeledValue { value: v.clone(), label: l.clone() }).collect()),
        ..Default::default()
    }
}

fn blank_row(org: Uuid, user: Uuid) -> ContactRow {
    let now = kith_domain::time::now_ms();
    ContactRow {
        id: new_id(),
        org_id: org,
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
        owner_id: Some(user),
        team_id: None,
        created_by: user,
        version: 1,
        created_ms: now,
        updated_ms: now,
    }
}

/// Time the import's parts on `csv` against workspace `org` (already imported into).
/// Each sampled part stops early once it has run for `budget`. The reads
/// run Kith's statements (same text, same binds) on the bench's own pool,
/// whose statements PostgreSQL cancels after the budget.
pub async fn breakdown(
    app: &App,
    raw: &Raw,
    org: Uuid,
    user: Uuid,
    csv: &CsvFile,
    budget: Duration,
) -> Result<Breakdown> {
    const SAMPLE: u64 = 2_000;
    let mut b = Breakdown { rows: csv.rows, distinct_companies: csv.distinct_companies, ..Default::default() };
    // Parse and check the whole file, streaming; keep a sample of the records.
    let every = (csv.rows / SAMPLE).max(1) as usize;
    let (mut parse, mut check) = (Duration::ZERO, Duration::ZERO);
    let mut sample: Vec<(ContactRow, Option<String>)> = Vec::new();
    let mut t = Instant::now();
    let (rows, mapping) = open_csv(csv)?;
    for (i, row) in rows.enumerate() {
        let record = row.ok().and_then(|row| kith_formats::csv_in::to_contact(&mapping, &row).ok());
        let now = Instant::now();
        parse += now - t;
        t = now;
        let Some(c) = record else { continue };
        let mut row = blank_row(org, user);
        let ok = app_contacts::apply_input(&mut row, &contact_input(&c), "", PhonePolicy::KeepRaw).is_ok();
        let now = Instant::now();
        check += now - t;
        t = now;
        if ok && i % every == 0 {
            sample.push((row, c.company.clone()));
        }
    }
    let per_row = |d: Duration| d.as_secs_f64() * 1e6 / csv.rows.max(1) as f64;
    b.parse_us = per_row(parse);
    b.check_us = per_row(check);
    let viewer = Viewer { org_id: org, user_id: user, sees_all_shared: true };
    // The dedupe reads: one per kind per batch of 500 rows, as the import makes them.
    let started = Instant::now();
    for batch in sample.chunks(500) {
        for kind in ["email", "phone"] {
            let values: Vec<String> = batch
                .iter()
                .flat_map(|(row, _)| app_contacts::handles_of(row))
                .filter(|(k, _)| *k == kind)
                .map(|(_, v)| v)
                .collect();
            if values.is_empty() {
                continue;
            }
            // As the import reads: on SQLite one join from the handle index; on
            // PostgreSQL who holds the handles, then the visible contacts by id.
            if app.db().backend() == kith_store::Backend::Sqlite {
                kith_store::contacts::find_by_handle_values(app.db(), &viewer, kind, &values).await?;
                continue;
            }
            let owners = kith_store::contacts::handle_owners(app.db(), org, kind, &values).await?;
            let ids: Vec<Uuid> = owners.iter().map(|(_, id)| *id).collect();
            for chunk in ids.chunks(500) {
                kith_store::contacts::get_many_visible(app.db(), &viewer, chunk).await?;
            }
        }
        b.find_sampled += batch.len();
        if b.find_cancelled || started.elapsed() > budget {
            break;
        }
    }
    b.find_us = started.elapsed().as_secs_f64() * 1e6 / b.find_sampled.max(1) as f64;
    // The company-name lookup: one read per batch for the names it has not met yet.
    let names: Vec<String> = sample.iter().filter_map(|(_, c)| c.clone()).take(500).collect();
    let started = Instant::now();
    if raw.count_rows(&kith_store::companies::by_names_sql(&viewer, &names)).await.is_err() {
        b.company_cancelled = true;
    }
    b.company_sampled = names.len();
    b.company_lookup_us = started.elapsed().as_secs_f64() * 1e6 / b.company_sampled.max(1) as f64;
    let mut tx = app.db().begin().await?;
    let n: i64 = match &mut tx {
        kith_store::Tx::Sqlite(t) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM companies WHERE org_id = $1").bind(org).fetch_one(&mut **t).await?
        }
        kith_store::Tx::Postgres(t) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM companies WHERE org_id = $1").bind(org).fetch_one(&mut **t).await?
        }
    };
    tx.rollback().await?;
    b.companies_in_workspace = n as u64;
    // The writes of new contacts (multi-row statements, as the import makes
    // them), in transactions that are rolled back.
    let started = Instant::now();
    for batch in sample.chunks(500) {
        let mut tx = app.db().begin().await?;
        let rows: Vec<ContactRow> = batch.iter().map(|(row, _)| ContactRow { id: new_id(), ..row.clone() }).collect();
        kith_store::contacts::insert_many_rows(&mut tx, &rows).await?;
        let handles: Vec<(Uuid, &str, String)> =
            rows.iter().flat_map(|r| app_contacts::handles_of(r).into_iter().map(move |(k, v)| (r.id, k, v))).collect();
        kith_store::contacts::add_handles_many(&mut tx, org, &handles).await?;
        let docs: Vec<_> = rows
            .iter()
            .zip(batch)
            .map(|(row, (_, company))| app_contacts::search_doc(row, company.as_deref()))
            .collect();
        kith_store::records::insert_search_docs(&mut tx, &docs).await?;
        tx.rollback().await?;
    }
    b.write_sampled = sample.len();
    b.write_us = started.elapsed().as_secs_f64() * 1e6 / sample.len().max(1) as f64;
    Ok(b)
}

/// The import's writes alone, for the same file: what the engine and the
/// store's statements cost, without dedupe, company lookups or progress.
#[derive(Debug, Clone, Default)]
pub struct BareWrites {
    pub rows: u64,
    pub companies: u64,
    /// Time inside the write transactions (begin to commit), summed.
    pub write_s: f64,
    /// The whole run, parsing and checks included (one task; the import parses on another thread).
    pub wall_s: f64,
}

impl BareWrites {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.write_s.max(1e-9)
    }
}

/// Write every contact of `csv` into workspace `org` as new: the contact
/// rows, their handles and search documents, and each company name once (a
/// row and a search document), with the import's own multi-row statements,
/// committed in transactions of the import's batch size. Nothing is read,
/// so the figure is the floor under the import's writes at this scale.
pub async fn bare_writes(app: &App, org: Uuid, user: Uuid, csv: &CsvFile) -> Result<BareWrites> {
    let ctx = Context { org_id: org, actor: Actor { user_id: user, credential: Credential::Cli }, role: Role::Owner };
    let started = Instant::now();
    let (rows, mapping) = open_csv(csv)?;
    let mut companies: std::collections::HashMap<String, (Uuid, String)> = std::collections::HashMap::new();
    let mut out = BareWrites::default();
    let mut batch: Vec<(ContactRow, Option<String>)> = Vec::with_capacity(kith_app::crm::imports::BATCH);
    let mut rows = rows.peekable();
    while let Some(row) = rows.next() {
        let record = row.ok().and_then(|row| kith_formats::csv_in::to_contact(&mapping, &row).ok());
        if let Some(c) = record {
            let mut row = blank_row(org, user);
            if app_contacts::apply_input(&mut row, &contact_input(&c), "", PhonePolicy::KeepRaw).is_ok() {
                batch.push((row, c.company.clone()));
            }
        }
        if batch.len() < kith_app::crm::imports::BATCH && rows.peek().is_some() {
            continue;
        }
        let now = kith_domain::time::now_ms();
        let mut made = Vec::new();
        for (row, company) in batch.iter_mut() {
            let Some(name) = company.as_deref().map(str::trim).filter(|n| !n.is_empty()) else { continue };
            let key = name.to_lowercase();
            let id = match companies.get(&key) {
                Some((id, _)) => *id,
                None => {
                    let company = kith_app::crm::companies::bare_row(&ctx, name, now);
                    companies.insert(key, (company.id, company.name.clone()));
                    let id = company.id;
                    made.push(company);
                    id
                }
            };
            row.company_id = Some(id);
        }
        let t = Instant::now();
        let mut tx = app.db().begin().await?;
        kith_store::companies::insert_many_rows(&mut tx, &made).await?;
        let docs: Vec<_> = made.iter().map(kith_app::crm::companies::search_doc).collect();
        kith_store::records::insert_search_docs(&mut tx, &docs).await?;
        let contacts: Vec<ContactRow> = batch.iter().map(|(row, _)| row.clone()).collect();
        kith_store::contacts::insert_many_rows(&mut tx, &contacts).await?;
        let handles: Vec<(Uuid, &str, String)> = contacts
            .iter()
            .flat_map(|r| app_contacts::handles_of(r).into_iter().map(move |(k, v)| (r.id, k, v)))
            .collect();
        kith_store::contacts::add_handles_many(&mut tx, org, &handles).await?;
        let docs: Vec<_> =
            batch.iter().map(|(row, company)| app_contacts::search_doc(row, company.as_deref())).collect();
        kith_store::records::insert_search_docs(&mut tx, &docs).await?;
        tx.commit().await?;
        out.write_s += t.elapsed().as_secs_f64();
        out.rows += batch.len() as u64;
        out.companies += made.len() as u64;
        batch.clear();
    }
    out.wall_s = started.elapsed().as_secs_f64();
    Ok(out)
}
