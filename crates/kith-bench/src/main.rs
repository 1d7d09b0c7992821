//! `kith-bench`: Kith's load and scale measurements (docs/benchmarks.md).
//! Each scenario runs end to end with the raw engine's or framework's figure
//! for the same work measured in the same run. Prints Markdown to stdout and
//! progress to stderr. Never part of the shipped binary; never a timed test.
//!
//! ```sh
//! export CARGO_TARGET_DIR=/work/target-bench
//! cargo build --release -p kith
//! KITH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release -p kith-bench -- all
//! # the CRM at scale (issue #3); long at the default 1,000,000 contacts
//! KITH_TEST_POSTGRES_URL=… cargo run --release -p kith-bench -- crm --contacts 1000000
//! ```

mod ai;
mod crm;
mod inbox;
mod load;
mod me;
mod process;
mod startup;

use anyhow::Result;
use clap::{Parser, Subcommand};
use me::{Backend, Run, Summary, Target};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "kith-bench", about = "Kith's load and scale measurements; prints Markdown tables.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The release `kith` binary (default: `kith` beside this program).
    #[arg(long, global = true)]
    kith_bin: Option<PathBuf>,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, global = true, default_value_t = 64)]
    connections: usize,
    /// Seconds of load before measuring.
    #[arg(long, global = true, default_value_t = 2)]
    warmup: u64,
    /// Seconds measured.
    #[arg(long, global = true, default_value_t = 10)]
    duration: u64,
    /// Rounds of the in-process /me comparison (medians are reported).
    #[arg(long, global = true, default_value_t = 3)]
    rounds: usize,
    /// Start-ups per scenario (the median is reported).
    #[arg(long, global = true, default_value_t = 5)]
    runs: usize,
    /// Seconds to wait, before each load run, for other work on the machine to stop.
    #[arg(long, global = true, default_value_t = 300)]
    max_quiet_wait: u64,
    /// Audit rows in the large start-up scenario.
    #[arg(long, global = true, default_value_t = 1_000_000)]
    audit_rows: u64,
}

#[derive(Subcommand, Clone, PartialEq, Eq)]
enum Command {
    /// GET /api/v1/me under load: Kith beside a bare axum token lookup (SQLite, and PostgreSQL
    /// when KITH_TEST_POSTGRES_URL is set), then the release `kith serve` process and its memory.
    Me,
    /// Cold start to ready (fresh, restart, 1M audit rows), idle memory, binary size.
    Startup,
    /// Both.
    All,
    /// The CRM at scale (issue #3): seed N contacts, N/5 companies, 3N/10 deals and N notes, then time
    /// lists, search, the kanban board, list throughput against a bare handler, and a CSV import.
    Crm {
        /// Contacts in the seeded workspace; the other counts scale from it.
        #[arg(long, default_value_t = 1_000_000)]
        contacts: u64,
        /// Which databases (postgres needs KITH_TEST_POSTGRES_URL; both skips PostgreSQL without it).
        #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
        backend: BackendChoice,
        /// Timed sequential requests per latency figure (at least 200).
        #[arg(long, default_value_t = 300)]
        requests: usize,
        /// Rows of the imported CSV (default: as many as contacts).
        #[arg(long)]
        import_rows: Option<u64>,
        /// Distinct company names the CSV's rows draw from (default: contacts / 5).
        #[arg(long)]
        import_companies: Option<u64>,
        /// Stop an import that runs longer than this many seconds (and report how far it got).
        #[arg(long, default_value_t = 600)]
        import_timeout: u64,
        /// Also import on PostgreSQL (the import goal is SQLite's).
        #[arg(long)]
        import_on_postgres: bool,
        /// Seed, then run only the import figure (and its re-import) on each backend chosen.
        #[arg(long)]
        import_only: bool,
        /// Seed of every random choice in the data.
        #[arg(long, default_value_t = 3)]
        seed: u64,
        /// Leave out the query plans.
        #[arg(long)]
        no_plans: bool,
        /// Keep the seeded databases (their URLs are printed) instead of deleting them.
        #[arg(long)]
        keep_db: bool,
        /// Seconds a latency figure's timed requests may take (per loop; a slower figure reports fewer requests).
        #[arg(long, default_value_t = 120)]
        figure_budget: u64,
        /// Diagnostic: run ANALYZE on SQLite after seeding (Kith itself never does).
        #[arg(long)]
        sqlite_analyze: bool,
    },
    /// The inbox (issue #4): signed Twilio webhooks at N connections beside the raw INSERTs, acknowledgement →
    /// SSE at a fixed rate, and outbound sends under per-sender limits through a stand-in Twilio.
    Inbox {
        /// Which databases (postgres needs KITH_TEST_POSTGRES_URL; both skips PostgreSQL without it).
        #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
        backend: BackendChoice,
        /// Which figures: 1 webhooks, 2 acknowledgement → SSE, 3 outbound.
        #[arg(long, value_delimiter = ',', default_values_t = [1u8, 2, 3])]
        figures: Vec<u8>,
        /// Webhooks per second of figure 2.
        #[arg(long, default_value_t = 500)]
        sse_rate: u32,
        /// Background job workers in the server (as `kith serve`'s default).
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Longest wait, in seconds, for queued jobs to drain.
        #[arg(long, default_value_t = 300)]
        drain_timeout: u64,
        /// Figure 3's stand-in Twilio answers 429 to every Nth call (0: never; diagnostic).
        #[arg(long, default_value_t = 10)]
        outbound_429_every: usize,
        /// Figure 3 writes every call the stand-in saw to this CSV file (sender, ms from the workers' start,
        /// accepted): the data behind the pace line.
        #[arg(long)]
        calls_out: Option<std::path::PathBuf>,
    },
    /// The knowledge base (issue #5): retrieval p95 over a 10,000-chunk knowledge base beside the raw full-text
    /// query, and a 200-page local website import (pages/s, peak RSS).
    Ai {
        /// Which databases (postgres needs KITH_TEST_POSTGRES_URL; both skips PostgreSQL without it).
        #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
        backend: BackendChoice,
        /// Chunks in the measured workspace (a second workspace gets as many).
        #[arg(long, default_value_t = 10_000)]
        chunks: usize,
        /// Timed questions.
        #[arg(long, default_value_t = 500)]
        queries: usize,
        /// Pages of the local test site (and the import's page limit).
        #[arg(long, default_value_t = 200)]
        pages: usize,
        /// Inbound messages answered for the auto-reply overhead figure (0 skips it).
        #[arg(long, default_value_t = 300)]
        replies: usize,
    },
    /// (internal) The import child process of `crm`.
    #[command(hide = true)]
    CrmImportChild {
        #[arg(long)]
        db_url: String,
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        user: uuid::Uuid,
        #[arg(long)]
        csv: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

/// The /me goal: Kith at least this share of the bare lookup's throughput.
const ME_GOAL_PERCENT: f64 = 70.0;
/// The memory goal for an idle or just-loaded `kith serve`.
const RSS_GOAL_MB: f64 = 30.0;

fn main() -> Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::CrmImportChild { db_url, org, user, csv } => return crm::child_main(db_url, *org, *user, csv),
        Command::Crm { .. } => return crm_main(&cli),
        Command::Inbox { .. } => return inbox_main(&cli),
        Command::Ai { .. } => return ai_main(&cli),
        _ => {}
    }
    let kith_bin = process::locate_kith(cli.kith_bin.as_deref())?;
    let opts = me::Options {
        connections: cli.connections,
        warmup: Duration::from_secs(cli.warmup),
        duration: Duration::from_secs(cli.duration),
        rounds: cli.rounds.max(1),
        max_quiet_wait: Duration::from_secs(cli.max_quiet_wait),
    };
    let mut out = String::new();
    out += &header(&cli);

    let mut process_run = None;
    if matches!(cli.command, Command::Me | Command::All) {
        eprintln!("GET /api/v1/me, in process");
        let mut runs = me::in_process(Backend::Sqlite, &opts, true)?;
        if std::env::var("KITH_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty()) {
            runs.extend(me::in_process(Backend::Postgres, &opts, false)?);
        } else {
            eprintln!("  KITH_TEST_POSTGRES_URL is not set: PostgreSQL skipped");
        }
        eprintln!("GET /api/v1/me, release process");
        let pr = me::process_run(&kith_bin, &opts)?;
        out += &me_tables(&runs, opts.rounds, &pr);
        process_run = Some(pr);
    }
    let mut starts = None;
    if matches!(cli.command, Command::Startup | Command::All) {
        eprintln!("cold start");
        let report = startup::run(&kith_bin, cli.runs, cli.audit_rows, opts.max_quiet_wait)?;
        out += &startup_table(&report, cli.runs);
        starts = Some(report);
    }
    out += &footprint(&kith_bin, starts.as_ref(), process_run.as_ref())?;
    print!("{out}");
    Ok(())
}

fn crm_main(cli: &Cli) -> Result<()> {
    let Command::Crm {
        contacts,
        backend,
        requests,
        import_rows,
        import_companies,
        import_timeout,
        import_on_postgres,
        import_only,
        seed,
        no_plans,
        keep_db,
        figure_budget,
        sqlite_analyze,
    } = cli.command.clone()
    else {
        unreachable!("crm_main runs the crm command")
    };
    let postgres = std::env::var("KITH_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty());
    let backends = match backend {
        BackendChoice::Sqlite => vec![kith_store::Backend::Sqlite],
        BackendChoice::Postgres if !postgres => anyhow::bail!("--backend postgres needs KITH_TEST_POSTGRES_URL"),
        BackendChoice::Postgres => vec![kith_store::Backend::Postgres],
        BackendChoice::Both if postgres => vec![kith_store::Backend::Sqlite, kith_store::Backend::Postgres],
        BackendChoice::Both => {
            eprintln!("  KITH_TEST_POSTGRES_URL is not set: PostgreSQL skipped");
            vec![kith_store::Backend::Sqlite]
        }
    };
    let opts = crm::Options {
        contacts: contacts.max(1_000),
        backends,
        requests,
        connections: cli.connections,
        warmup: Duration::from_secs(cli.warmup),
        duration: Duration::from_secs(cli.duration),
        rounds: cli.rounds.max(1),
        max_quiet_wait: Duration::from_secs(cli.max_quiet_wait),
        import_rows: import_rows.unwrap_or(contacts).max(1),
        import_companies: import_companies.unwrap_or(contacts / 5).max(1),
        import_timeout: Duration::from_secs(import_timeout),
        import_on_postgres: import_on_postgres || import_only,
        import_only,
        seed,
        plans: !no_plans,
        keep_db,
        figure_budget: Duration::from_secs(figure_budget.max(1)),
        sqlite_analyze,
    };
    let mut out = header(cli);
    out += &crm::run(&opts)?;
    print!("{out}");
    Ok(())
}

fn inbox_main(cli: &Cli) -> Result<()> {
    let Command::Inbox { backend, figures, sse_rate, workers, drain_timeout, outbound_429_every, calls_out } =
        cli.command.clone()
    else {
        unreachable!("inbox_main runs the inbox command")
    };
    let postgres = std::env::var("KITH_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty());
    let backends = match backend {
        BackendChoice::Sqlite => vec![Backend::Sqlite],
        BackendChoice::Postgres if !postgres => anyhow::bail!("--backend postgres needs KITH_TEST_POSTGRES_URL"),
        BackendChoice::Postgres => vec![Backend::Postgres],
        BackendChoice::Both if postgres => vec![Backend::Sqlite, Backend::Postgres],
        BackendChoice::Both => {
            eprintln!("  KITH_TEST_POSTGRES_URL is not set: PostgreSQL skipped");
            vec![Backend::Sqlite]
        }
    };
    let opts = inbox::Options {
        backends,
        connections: cli.connections,
        warmup: Duration::from_secs(cli.warmup),
        duration: Duration::from_secs(cli.duration),
        max_quiet_wait: Duration::from_secs(cli.max_quiet_wait),
        figures,
        sse_rate: f64::from(sse_rate.max(1)),
        outbound_messages: 10_000,
        outbound_senders: 20,
        outbound_per_second: 25.0,
        outbound_429_every,
        calls_out,
        workers: workers.max(1),
        drain_timeout: Duration::from_secs(drain_timeout),
    };
    let mut out = header(cli);
    out += &inbox::run(&opts)?;
    print!("{out}");
    Ok(())
}

fn ai_main(cli: &Cli) -> Result<()> {
    let Command::Ai { backend, chunks, queries, pages, replies } = cli.command.clone() else {
        unreachable!("ai_main runs the ai command")
    };
    let postgres = std::env::var("KITH_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty());
    let backends = match backend {
        BackendChoice::Sqlite => vec![kith_store::Backend::Sqlite],
        BackendChoice::Postgres if !postgres => anyhow::bail!("--backend postgres needs KITH_TEST_POSTGRES_URL"),
        BackendChoice::Postgres => vec![kith_store::Backend::Postgres],
        BackendChoice::Both if postgres => vec![kith_store::Backend::Sqlite, kith_store::Backend::Postgres],
        BackendChoice::Both => {
            eprintln!("  KITH_TEST_POSTGRES_URL is not set: PostgreSQL skipped");
            vec![kith_store::Backend::Sqlite]
        }
    };
    let opts =
        ai::Options { backends, chunks: chunks.max(10), queries: queries.max(50), pages: pages.clamp(1, 500), replies };
    let mut out = header(cli);
    out += &ai::run(&opts)?;
    print!("{out}");
    Ok(())
}

fn header(cli: &Cli) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!(
        "# Kith benchmarks\n\n\
         | | |\n|---|---|\n\
         | date (UTC) | {} |\n\
         | machine | {cores} CPUs ({model}), {:.1} GiB RAM, Linux {} |\n\
         | load | kith-bench's own generator: {} keep-alive HTTP/1.1 connections, {} s warm-up, {} s measured; server and generator share the same cores |\n\n",
        utc_now(),
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim(),
        cli.connections,
        cli.warmup,
        cli.duration,
    )
}

fn ms(us: u32) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn summary_cells(s: &Summary) -> String {
    let l = &s.latency;
    let rps = match s.rps.as_slice() {
        [one] => format!("{one:.0}"),
        all => format!("{:.0} ({:.0}–{:.0})", s.median_rps(), all[0], all[all.len() - 1]),
    };
    format!(
        "{rps} | {} | {} | {} | {:.0} | {:.2} / {:.2} / {:.2} / {:.2} | {}",
        ms(l.percentile(50.0)),
        ms(l.percentile(99.0)),
        ms(l.max()),
        s.server_cpu_per_request_us(),
        s.cores(s.server_cpu),
        s.cores(s.postgres_cpu),
        s.cores(s.load_cpu),
        s.cores(s.other_cpu),
        l.len(),
    )
}

const COLUMNS: &str = "req/s, median (range) | p50 ms | p99 ms | max ms | server CPU µs/req \
                       | cores used: server / PostgreSQL / generator / other | requests";

fn me_tables(runs: &[Run], rounds: usize, pr: &me::ProcessRun) -> String {
    let mut s = format!(
        "## GET /api/v1/me, in one process: {rounds} rounds, each target once per round\n\n\
         | target | database | {COLUMNS} |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    let groups = [
        (Target::Hello, None),
        (Target::Bare, Some(Backend::Sqlite)),
        (Target::Kith, Some(Backend::Sqlite)),
        (Target::BareFourReads, Some(Backend::Sqlite)),
        (Target::Bare, Some(Backend::Postgres)),
        (Target::Kith, Some(Backend::Postgres)),
        (Target::BareFourReads, Some(Backend::Postgres)),
    ];
    let of = |t: Target, b: Option<Backend>| runs.iter().filter(move |r| r.target == t && r.backend == b);
    for (target, backend) in groups {
        if of(target, backend).next().is_none() {
            continue;
        }
        let label = match target {
            Target::Hello => "axum, small JSON, no database (framework ceiling)",
            Target::Bare => "bare axum: SHA-256 + `tokens::find_active`",
            Target::BareFourReads => "diagnostic: bare axum + 4 reads (token, membership, user, workspace)",
            Target::Kith => "Kith: `kith_web::serve`, whole router",
        };
        let db = backend.map(Backend::label).unwrap_or("—");
        s += &format!("| {label} | {db} | {} |\n", summary_cells(&Summary::of(of(target, backend))));
    }
    s += "\nKith as a share of the bare lookup, per round (same round, same database):\n\n\
          | database | Kith / bare, median (range) | goal | met |\n|---|---|---|---|\n";
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut pct: Vec<f64> = (0..rounds)
            .filter_map(|round| {
                let find = |t| runs.iter().find(|r| r.target == t && r.backend == Some(backend) && r.round == round);
                let (k, b) = (find(Target::Kith)?, find(Target::Bare)?);
                Some(100.0 * k.result.requests_per_second() / b.result.requests_per_second())
            })
            .collect();
        if pct.is_empty() {
            continue;
        }
        pct.sort_by(f64::total_cmp);
        let m = median(&pct);
        s += &format!(
            "| {} | {m:.0} % ({:.0}–{:.0} %) | ≥ {ME_GOAL_PERCENT:.0} % | {} |\n",
            backend.label(),
            pct[0],
            pct[pct.len() - 1],
            yes_no(m >= ME_GOAL_PERCENT)
        );
    }
    let process = Summary::of(pr.runs.iter());
    let bare = Summary::of(of(Target::Bare, Some(Backend::Sqlite)));
    s += &format!(
        "\n## GET /api/v1/me against the release `kith serve` (SQLite, default logging to a file, 2 workers; {rounds} runs back to back)\n\n\
         | {COLUMNS} | vs bare (SQLite median, above) | log written |\n|---|---|---|---|---|---|---|---|---|\n\
         | {} | {:.0} % | {:.0} MiB |\n\n",
        summary_cells(&process),
        100.0 * process.median_rps() / bare.median_rps(),
        pr.log_bytes as f64 / 1048576.0
    );
    s
}

fn startup_table(r: &startup::StartupReport, runs: usize) -> String {
    let mut s = format!(
        "## Cold start: spawn `kith serve` → `/readyz` 200 (median of {runs})\n\n\
         | data folder | median ms | min ms | max ms | RSS 2 s after ready (median) |\n|---|---|---|---|---|\n"
    );
    for st in &r.runs {
        let label = match st.scenario {
            startup::Scenario::Fresh => "fresh (does not exist yet)".to_string(),
            startup::Scenario::Restart => "existing, one account".to_string(),
            startup::Scenario::Audit => format!("existing, {} audit rows", thousands(r.seeding.rows)),
        };
        let mut t: Vec<f64> = st.ready.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        t.sort_by(f64::total_cmp);
        s += &format!(
            "| {label} | {:.1} | {:.1} | {:.1} | {:.1} MiB |\n",
            median(&t),
            t.first().copied().unwrap_or(0.0),
            t.last().copied().unwrap_or(0.0),
            median_kib(&st.rss_kib) / 1024.0
        );
    }
    s += &format!(
        "\nSeeding {} audit rows (+ as many `audit_details`), client-side batched SQL: {:.1} s ({:.0} table rows/s, \
         both tables counted), database file {:.0} MiB; `kith admin verify-audit` found the chain intact in {:.1} s.\n\n",
        thousands(r.seeding.rows),
        r.seeding.took.as_secs_f64(),
        2.0 * r.seeding.rows as f64 / r.seeding.took.as_secs_f64(),
        r.seeding.db_bytes as f64 / 1048576.0,
        r.seeding.verified_in.as_secs_f64()
    );
    s
}

fn footprint(
    kith_bin: &std::path::Path,
    starts: Option<&startup::StartupReport>,
    pr: Option<&me::ProcessRun>,
) -> Result<String> {
    let mut s = String::from("## Footprint of `kith serve`\n\n| figure | value | goal | met |\n|---|---|---|---|\n");
    let mb = |kib: f64| kib * 1024.0 / 1e6;
    let mut row = |what: &str, kib: f64| {
        s.push_str(&format!(
            "| {what} | {:.1} MB ({:.1} MiB) | < {RSS_GOAL_MB:.0} MB | {} |\n",
            mb(kib),
            kib / 1024.0,
            yes_no(mb(kib) < RSS_GOAL_MB)
        ));
    };
    if let Some(r) = starts {
        for st in &r.runs {
            if st.scenario == startup::Scenario::Fresh {
                row("RSS idle, 2 s after a fresh start (median)", median_kib(&st.rss_kib));
            }
        }
    }
    if let Some(p) = pr {
        row("RSS idle, one account, before load", p.rss_idle_kib as f64);
        row("RSS 2 s after the /me load run", p.rss_after_kib as f64);
        row("peak RSS (VmHWM) over the /me load run", p.peak_kib as f64);
    }
    let bytes = std::fs::read(kith_bin)?;
    let stripped = !bytes.windows(8).any(|w| w == b".symtab\0");
    s += &format!(
        "| release binary `{}` | {:.1} MB ({:.2} MiB, {} bytes), {} | — | — |\n\n",
        kith_bin.file_name().and_then(|n| n.to_str()).unwrap_or("kith"),
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / 1048576.0,
        bytes.len(),
        if stripped { "stripped (no .symtab)" } else { "NOT stripped (.symtab present)" }
    );
    Ok(s)
}

/// 1000000 → 1,000,000.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "**no**"
    }
}

/// Median of sorted values.
pub(crate) fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn median_kib(v: &[u64]) -> f64 {
    let mut f: Vec<f64> = v.iter().map(|&k| k as f64).collect();
    f.sort_by(f64::total_cmp);
    median(&f)
}

/// Today's date in UTC, `YYYY-MM-DD HH:MM` (civil-from-days, no date crate).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(super::median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(super::median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert_eq!(super::median(&[]), 0.0);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(1_000_000), "1,000,000");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(0), "0");
    }
}
