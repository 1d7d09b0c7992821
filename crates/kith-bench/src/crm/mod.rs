//! `kith-bench crm`: the CRM at scale (issue #3). One workspace with N
//! contacts, N/5 companies, 3N/10 deals and N notes, seeded straight into
//! the tables, on SQLite and on PostgreSQL; then, through Kith's router in
//! process (each beside the same work without Kith around it):
//!
//! - list: first and 100th page of contacts (50, by last update) and a
//!   filtered view (tag + owner + custom field): p95 < 20 ms;
//! - search: a mix of name prefixes, e-mails, phones and note words (drawn
//!   from the corpus, without its 100 most frequent): p95 < 50 ms; the 100
//!   most frequent words: p95 < 150 ms;
//! - `GET /api/v1/contacts?limit=50` throughput at 64 connections: ≥ 50 % of
//!   a bare axum handler running the same SQL;
//! - a 5,000-deal kanban board: p95 < 200 ms;
//! - import of a HubSpot-style CSV of N rows with dedupe on e-mail (SQLite):
//!   ≥ 50,000 rows/s, peak RSS < 300 MB; a re-import creates nothing.

mod data;
mod import;
mod measure;
mod plans;
mod seed;

pub use import::child_main;

use crate::load::{Latencies, LoadSpec};
use crate::me::{self, Run, Summary, Target};
use crate::process;
use anyhow::{bail, Context as _, Result};
use data::Rng;
use kith_app::{App, AppSettings, Keyring, MasterKeys};
use kith_domain::page::{Cursor, PageRequest};
use kith_domain::visibility::Viewer;
use kith_store::records::{CustomFilter, CustomOp, ListFilter, SortKey};
use kith_store::Backend;
use kith_testkit::TestDb;
use measure::{encode, Servers, Timed};
use plans::Raw;
use std::time::Duration;

pub const LIST_GOAL_MS: f64 = 20.0;
pub const SEARCH_GOAL_MS: f64 = 50.0;
pub const FREQUENT_GOAL_MS: f64 = 150.0;
pub const BOARD_GOAL_MS: f64 = 200.0;
pub const THROUGHPUT_GOAL_PERCENT: f64 = 50.0;
pub const IMPORT_GOAL_ROWS_S: f64 = 50_000.0;
pub const IMPORT_GOAL_RSS_MB: f64 = 300.0;

#[derive(Debug, Clone)]
pub struct Options {
    pub contacts: u64,
    pub backends: Vec<Backend>,
    /// Timed requests per latency figure (at least 200).
    pub requests: usize,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub rounds: usize,
    pub max_quiet_wait: Duration,
    pub import_rows: u64,
    pub import_companies: u64,
    pub import_timeout: Duration,
    pub import_on_postgres: bool,
    /// Only the import figure (after seeding).
    pub import_only: bool,
    pub seed: u64,
    pub plans: bool,
    pub keep_db: bool,
    /// Longest a latency figure's timed requests may take (each of its loops).
    pub figure_budget: Duration,
    /// Run a full `ANALYZE` on SQLite after seeding instead of Kith's sampled one (diagnostic).
    pub sqlite_analyze: bool,
}

fn label(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

/// One latency figure: Kith over HTTP, and the same work in process.
struct Figure {
    name: String,
    via: String,
    http: Timed,
    /// (what, latencies) of the same work without Kith's layers around it.
    beside: Vec<(String, Timed)>,
    goal_ms: Option<f64>,
    /// The search mix split by kind of query: (kind, HTTP, each beside run).
    by_kind: Vec<(&'static str, Latencies, Vec<Latencies>)>,
}

struct ImportReport {
    csv_rows: u64,
    csv_bytes: u64,
    duplicates: u64,
    distinct_companies: u64,
    first: import::ImportRun,
    second: Option<import::ImportRun>,
    breakdown: Option<import::Breakdown>,
    /// The same file's writes alone, into another new workspace, after both imports.
    bare: Option<import::BareWrites>,
}

struct BackendReport {
    backend: Backend,
    seeded: SeedSummary,
    figures: Vec<Figure>,
    throughput: Vec<Run>,
    rounds: usize,
    import: Option<ImportReport>,
    plans: Vec<(String, String)>,
    notes: Vec<String>,
    sqlite_analyze: bool,
}

struct SeedSummary {
    counts: seed::Counts,
    phases: Vec<(&'static str, Duration)>,
    total: Duration,
    db_bytes: u64,
    board_deals: u64,
}

pub fn run(opts: &Options) -> Result<String> {
    let mut reports = Vec::new();
    for &backend in &opts.backends {
        eprintln!("CRM at scale on {}: {} contacts", label(backend), crate::thousands(opts.contacts));
        reports.push(run_backend(backend, opts)?);
    }
    Ok(markdown(opts, &reports))
}

fn run_backend(backend: Backend, opts: &Options) -> Result<BackendReport> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let server_rt = me::runtime(me::SERVER_THREADS, cores)?;
    let load_rt = me::runtime(me::LOAD_THREADS, cores)?;
    let db = match backend {
        Backend::Sqlite => server_rt.block_on(TestDb::sqlite()),
        Backend::Postgres => {
            server_rt.block_on(TestDb::postgres()).context("KITH_TEST_POSTGRES_URL is not set: no PostgreSQL")?
        }
    };
    let key = kith_crypto::SecretKey::generate();
    let key_b64 = key.to_base64();
    let app = App::new(db.db.clone(), Keyring::new(MasterKeys::single(key)), AppSettings::default())?;
    let result = (|| {
        let scale = seed::Scale::of(opts.contacts);
        eprintln!(
            "  seeding {} contacts, {} companies, {} deals, {} notes",
            crate::thousands(scale.contacts),
            crate::thousands(scale.companies),
            crate::thousands(scale.deals),
            crate::thousands(scale.notes)
        );
        let seeded = server_rt.block_on(seed::seed(&app, scale, opts.seed, opts.sqlite_analyze))?;
        let raw = server_rt.block_on(Raw::open(&db.raw_url, opts.figure_budget))?;
        let db_bytes = server_rt.block_on(database_bytes(&raw, &db.raw_url))?;
        eprintln!(
            "  seeded {} rows in {:.1} s ({:.0} rows/s), {:.0} MiB",
            crate::thousands(seeded.counts.rows()),
            seeded.total.as_secs_f64(),
            seeded.counts.rows() as f64 / seeded.total.as_secs_f64(),
            db_bytes as f64 / 1048576.0
        );
        for (what, took) in &seeded.phases {
            eprintln!("    {what}: {:.1} s", took.as_secs_f64());
        }
        let outcome = measure_all(backend, opts, &app, &seeded, &raw, &server_rt, &load_rt, &db.raw_url, &key_b64);
        server_rt.block_on(raw.close());
        let (figures, throughput, import, plans, notes) = outcome?;
        Ok(BackendReport {
            backend,
            seeded: SeedSummary {
                counts: seeded.counts.clone(),
                phases: seeded.phases.clone(),
                total: seeded.total,
                db_bytes,
                board_deals: seeded.board_deals,
            },
            figures,
            throughput,
            rounds: opts.rounds,
            import,
            plans,
            notes,
            sqlite_analyze: opts.sqlite_analyze,
        })
    })();
    server_rt.block_on(app.db().close());
    if opts.keep_db {
        eprintln!("  kept the {} database: {}", label(backend), db.raw_url);
        std::mem::forget(db);
    } else {
        drop(db);
    }
    server_rt.shutdown_timeout(Duration::from_secs(5));
    load_rt.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn database_bytes(raw: &Raw, url: &str) -> Result<u64> {
    Ok(match raw {
        Raw::Postgres(p) => {
            sqlx::query_scalar::<_, i64>("SELECT pg_database_size(current_database())").fetch_one(p).await? as u64
        }
        Raw::Sqlite(_) => {
            let path = url.trim_start_matches("sqlite://");
            let size = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            size(path.to_string()) + size(format!("{path}-wal"))
        }
    })
}

type Measured = (Vec<Figure>, Vec<Run>, Option<ImportReport>, Vec<(String, String)>, Vec<String>);

/// What the search mix holds, in turn (query `i` is of kind `i % 4`).
const SEARCH_KINDS: [&str; 4] = ["name prefixes", "e-mails", "phones", "note words"];

/// A search query and the words the app derives from it.
struct SearchQuery {
    text: String,
    words: kith_store::search::SearchWords,
}

#[allow(clippy::too_many_arguments)]
fn measure_all(
    backend: Backend,
    opts: &Options,
    app: &App,
    seeded: &seed::Seeded,
    raw: &Raw,
    server_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
    raw_url: &str,
    key_b64: &str,
) -> Result<Measured> {
    if opts.import_only {
        let import = run_import(opts, app, seeded, raw, server_rt, raw_url, key_b64)?;
        return Ok((Vec::new(), Vec::new(), Some(import), Vec::new(), Vec::new()));
    }
    let ws = &seeded.ws;
    let n = opts.requests.max(200);
    let warmup = (n / 10).max(20);
    let budget = opts.figure_budget;
    let db = app.db().clone();
    let owner_viewer = Viewer { org_id: ws.org_id, user_id: ws.owner, sees_all_shared: true };
    let member_viewer = Viewer { org_id: ws.org_id, user_id: ws.members[1], sees_all_shared: false };
    let mut notes = Vec::new();
    let mut rng = Rng::new(opts.seed ^ 0x5EA2C4);

    let servers = server_rt.block_on(Servers::start(app.clone()))?;
    let owner = ws.owner_token.as_str();

    // Pre-flight: the list answers 50 contacts; which search and board endpoints exist.
    let (status, body) = load_rt.block_on(measure::get_json(servers.kith, owner, "/api/v1/contacts?limit=50"))?;
    let listed = body["data"].as_array().map(Vec::len).unwrap_or(0);
    if status != 200 || listed != 50 {
        bail!("GET /api/v1/contacts?limit=50 answered {status} with {listed} contacts: {body}");
    }
    let (status, bare) = load_rt.block_on(measure::get_json(servers.bench, owner, measure::BARE_CONTACTS))?;
    if status != 200 || bare["data"][0]["id"] != body["data"][0]["id"] {
        bail!("the bare list differs from Kith's: {status} {}", bare["data"][0]);
    }
    let probe = |path: &str| load_rt.block_on(measure::get_json(servers.kith, owner, path)).map(|(s, _)| s == 200);
    let (search_addr, search_path) = if probe("/api/v1/search?q=probe").unwrap_or(false) {
        (servers.kith, "/api/v1/search")
    } else {
        notes.push(
            "`GET /api/v1/search` is not in this build: search was timed through a handler of the bench's own \
             (token authentication, `kith_app::crm::search::search`, JSON) on the same runtime."
                .into(),
        );
        (servers.bench, measure::APP_SEARCH)
    };
    let (board_addr, board_path) = if probe("/api/v1/deals/board").unwrap_or(false) {
        (servers.kith, "/api/v1/deals/board")
    } else {
        notes.push(
            "`GET /api/v1/deals/board` is not in this build: the board was timed through a handler of the bench's \
             own (token authentication, `kith_app::crm::deals::board`, JSON) on the same runtime."
                .into(),
        );
        (servers.bench, measure::APP_BOARD)
    };
    let (status, board) = load_rt.block_on(measure::get_json(board_addr, owner, board_path))?;
    let on_board: i64 =
        board["columns"].as_array().map(|c| c.iter().filter_map(|c| c["count"].as_i64()).sum()).unwrap_or(-1);
    if status != 200 || on_board != seeded.board_deals as i64 {
        bail!("the board answered {status} with {on_board} open deals, expected {}", seeded.board_deals);
    }

    let mut figures = Vec::new();
    let list = |viewer: Viewer, filters: Vec<ListFilter>, page: PageRequest| {
        let db = db.clone();
        move |i: usize| {
            let (db, filter) = (db.clone(), filters[i % filters.len()].clone());
            async move {
                kith_store::contacts::list(&db, &viewer, &filter, SortKey::UpdatedDesc, &page).await?;
                Ok::<(), anyhow::Error>(())
            }
        }
    };
    let first_page = PageRequest::new(Some(50), None);

    // 1. First page.
    let paths = vec!["/api/v1/contacts?limit=50".to_string(); n];
    figures.push(time_figure(
        "contacts, first page (50, by last update)",
        "GET /api/v1/contacts?limit=50 (owner)",
        Some(LIST_GOAL_MS),
        servers.kith,
        owner,
        &paths,
        warmup,
        opts,
        load_rt,
        vec![("store query alone (`contacts::list`)".into(), {
            let f = list(owner_viewer, vec![ListFilter::default()], first_page);
            Box::new(move || measure::spawn_loop(server_rt, n, warmup, budget, f))
        })],
    )?);

    // 2. The 100th page, through the cursor of the 99th.
    let mut page = first_page;
    let mut pages = 1;
    let mut cursor: Option<Cursor> = None;
    while pages < 100 {
        let p = server_rt.block_on(kith_store::contacts::list(
            &db,
            &owner_viewer,
            &ListFilter::default(),
            SortKey::UpdatedDesc,
            &page,
        ))?;
        match p.next {
            Some(next) => {
                cursor = Some(next);
                page = PageRequest::new(Some(50), Some(next));
                pages += 1;
            }
            None => break,
        }
    }
    let cursor = cursor.context("fewer than two pages of contacts")?;
    let paths = vec![format!("/api/v1/contacts?limit=50&cursor={}", encode(&cursor.encode())); n];
    figures.push(time_figure(
        &format!("contacts, page {pages} (keyset cursor)"),
        "GET /api/v1/contacts?limit=50&cursor=… (owner)",
        Some(LIST_GOAL_MS),
        servers.kith,
        owner,
        &paths,
        warmup,
        opts,
        load_rt,
        vec![("store query alone".into(), {
            let f = list(owner_viewer, vec![ListFilter::default()], page);
            Box::new(move || measure::spawn_loop(server_rt, n, warmup, budget, f))
        })],
    )?);

    // 3. Filtered: tag + owner + custom field, owners and tiers in turn.
    let combos: Vec<(uuid::Uuid, &str)> = (0..seed::MEMBERS * seed::TIERS.len())
        .map(|i| (ws.members[i % seed::MEMBERS], seed::TIERS[i / seed::MEMBERS].0))
        .collect();
    let paths: Vec<String> = (0..n)
        .map(|i| {
            let (owner_id, tier) = combos[i % combos.len()];
            format!("/api/v1/contacts?limit=50&tag=vip&owner={owner_id}&cf.tier={}", tier.to_lowercase())
        })
        .collect();
    let filters: Vec<ListFilter> = combos
        .iter()
        .map(|(owner_id, tier)| ListFilter {
            tag_ids: vec![ws.vip_tag],
            owner_id: Some(*owner_id),
            custom: vec![CustomFilter {
                field_id: ws.tier_field,
                op: CustomOp::Eq,
                text: Some(tier.to_string()),
                number: None,
            }],
            ..ListFilter::default()
        })
        .collect();
    figures.push(time_figure(
        "contacts, filtered: tag `vip` + owner + `tier` (5 owners × 4 tiers in turn)",
        "GET /api/v1/contacts?limit=50&tag=vip&owner=…&cf.tier=… (owner)",
        Some(LIST_GOAL_MS),
        servers.kith,
        owner,
        &paths,
        warmup,
        opts,
        load_rt,
        vec![("store query alone".into(), {
            let f = list(owner_viewer, filters.clone(), first_page);
            Box::new(move || measure::spawn_loop(server_rt, n, warmup, budget, f))
        })],
    )?);

    // 4. Diagnostic: the first page as a plain member (the visibility filter's long form).
    let paths = vec!["/api/v1/contacts?limit=50".to_string(); n];
    figures.push(time_figure(
        "contacts, first page, as a plain member (diagnostic: long visibility filter)",
        "GET /api/v1/contacts?limit=50 (member)",
        Some(LIST_GOAL_MS),
        servers.kith,
        &ws.member_token,
        &paths,
        warmup,
        opts,
        load_rt,
        vec![("store query alone".into(), {
            let f = list(member_viewer, vec![ListFilter::default()], first_page);
            Box::new(move || measure::spawn_loop(server_rt, n, warmup, budget, f))
        })],
    )?);

    // 5 and 6. Search.
    let search_key =
        server_rt.block_on(app.keyring().search_key(&db, ws.org_id)).map_err(|e| anyhow::anyhow!("search key: {e}"))?;
    let derive = |text: String| {
        let words = kith_app::crm::search::search_words(&text, &search_key);
        SearchQuery { text, words }
    };
    let mut ranked: Vec<usize> = (0..data::VOCABULARY).collect();
    ranked.sort_by_key(|&w| std::cmp::Reverse(seeded.word_counts[w]));
    let (top, rest) = ranked.split_at(100);
    let rest_total: u64 = rest.iter().map(|&w| seeded.word_counts[w]).sum();
    let vocabulary = data::vocabulary();
    let mut mix = Vec::with_capacity(n);
    for i in 0..n {
        let s = &seeded.samples[rng.index(seeded.samples.len())];
        let text = match i % 4 {
            0 => {
                let k = rng.range(3, 6) as usize;
                let last: String = s.last.chars().take(k).collect();
                if rng.chance(0.5) {
                    last
                } else {
                    let k = rng.range(2, 4) as usize;
                    format!("{} {}", s.first, s.last.chars().take(k).collect::<String>())
                }
            }
            1 => s.email.clone(),
            2 => data::phone_query(&s.phone, &mut rng),
            _ => {
                let mut x = rng.below(rest_total.max(1));
                let mut word = rest[0];
                for &w in rest {
                    if x < seeded.word_counts[w] {
                        word = w;
                        break;
                    }
                    x -= seeded.word_counts[w];
                }
                vocabulary[word].to_string()
            }
        };
        mix.push(derive(text));
    }
    let frequent: Vec<SearchQuery> = (0..n).map(|i| derive(vocabulary[top[i % top.len()]].to_string())).collect();
    // An e-mail must find its contact.
    let (status, hits) = load_rt.block_on(measure::get_json(
        search_addr,
        owner,
        &format!("{search_path}?q={}", encode(&mix[1].text)),
    ))?;
    if status != 200 || hits["data"].as_array().is_none_or(|d| d.is_empty()) {
        bail!("searching {:?} answered {status}: {hits}", mix[1].text);
    }
    for (name, goal, queries, split) in [
        (
            "search mix: name prefixes, e-mails, phones, note words (corpus draw without the top 100)",
            SEARCH_GOAL_MS,
            &mix,
            true,
        ),
        ("search: the 100 most frequent note words", FREQUENT_GOAL_MS, &frequent, false),
    ] {
        let paths: Vec<String> = queries.iter().map(|q| format!("{search_path}?q={}", encode(&q.text))).collect();
        let store_queries: Vec<kith_store::search::SearchWords> = queries.iter().map(|q| q.words.clone()).collect();
        let fts_queries: Vec<String> =
            queries.iter().map(|q| kith_store::dialect::fulltext_query(backend, &q.words)).collect();
        let store = {
            let db = db.clone();
            let store_queries = std::sync::Arc::new(store_queries);
            move |i: usize| {
                let (db, store_queries) = (db.clone(), store_queries.clone());
                async move {
                    kith_store::search::search(&db, &owner_viewer, &store_queries[i], 20).await?;
                    Ok::<(), anyhow::Error>(())
                }
            }
        };
        let fts = {
            let (raw, fts_queries) = (raw.clone(), std::sync::Arc::new(fts_queries));
            move |i: usize| {
                let (raw, fts_queries) = (raw.clone(), fts_queries.clone());
                async move {
                    raw.bare_fts(&fts_queries[i]).await?;
                    Ok::<(), anyhow::Error>(())
                }
            }
        };
        figures.push(time_figure(
            name,
            &format!("GET {search_path}?q=… (owner; {} distinct queries)", distinct(queries)),
            Some(goal),
            search_addr,
            owner,
            &paths,
            warmup,
            opts,
            load_rt,
            vec![
                (
                    "store query alone (`search::search`)".into(),
                    Box::new(move || measure::spawn_loop(server_rt, n, warmup, budget, store)),
                ),
                (
                    "engine only: MATCH + rank, top 20, no join or filter".into(),
                    Box::new(move || measure::spawn_loop(server_rt, n, warmup, budget, fts)),
                ),
            ],
        )?);
        if split {
            let figure = figures.last_mut().expect("just pushed");
            let of_kind = |micros: &[u32], k: usize| {
                Latencies::new(micros.iter().enumerate().filter(|(i, _)| i % 4 == k).map(|(_, m)| *m).collect())
            };
            for (k, kind) in SEARCH_KINDS.iter().enumerate() {
                let http = of_kind(&figure.http.in_order, k);
                let beside = figure.beside.iter().map(|(_, t)| of_kind(&t.in_order, k)).collect();
                figure.by_kind.push((kind, http, beside));
            }
        }
    }

    // 7. The board.
    let paths = vec![board_path.to_string(); n];
    let ctx = ws.owner_ctx();
    let board_fn = {
        let (app, ctx) = (app.clone(), ctx.clone());
        move |_: usize| {
            let (app, ctx) = (app.clone(), ctx.clone());
            async move {
                kith_app::crm::deals::board(&app, &ctx, None).await.map_err(|e| anyhow::anyhow!("board: {e}"))?;
                Ok(())
            }
        }
    };
    figures.push(time_figure(
        &format!("kanban board, {} open deals in 5 stages", crate::thousands(seeded.board_deals)),
        &format!("GET {board_path} (owner)"),
        Some(BOARD_GOAL_MS),
        board_addr,
        owner,
        &paths,
        warmup.min(20),
        opts,
        load_rt,
        vec![(
            "server time: `deals::board` in process, no HTTP or JSON".into(),
            Box::new(move || measure::spawn_loop(server_rt, n, 5, budget, board_fn)),
        )],
    )?);

    // Throughput: Kith's list beside the bare handler, rounds in turn.
    let mut throughput = Vec::new();
    for round in 0..opts.rounds {
        let mut order = [Target::Bare, Target::Kith];
        order.rotate_left(round % 2);
        for target in order {
            let (addr, path) = match target {
                Target::Kith => (servers.kith, "/api/v1/contacts?limit=50"),
                _ => (servers.bench, measure::BARE_CONTACTS),
            };
            let spec = LoadSpec {
                addr,
                path: path.into(),
                bearer: Some(owner.to_string()),
                connections: opts.connections,
                warmup: opts.warmup,
                duration: opts.duration,
            };
            eprintln!(
                "  throughput round {} {target:?}: {} connections, {:?} warm-up + {:?}",
                round + 1,
                spec.connections,
                spec.warmup,
                spec.duration
            );
            process::wait_for_quiet(opts.max_quiet_wait)?;
            let (result, cpu) = load_rt.block_on(me::measure(&spec, None))?;
            throughput.push(Run {
                target,
                backend: Some(match backend {
                    Backend::Sqlite => me::Backend::Sqlite,
                    Backend::Postgres => me::Backend::Postgres,
                }),
                round,
                result,
                server_cpu: cpu.own.saturating_sub(cpu.load_threads),
                postgres_cpu: cpu.postgres,
                load_cpu: cpu.load_threads,
                other_cpu: cpu.machine.saturating_sub(cpu.own + cpu.postgres),
            });
        }
    }

    // Query plans, at this scale.
    let mut plan_list = Vec::new();
    if opts.plans {
        eprintln!("  query plans");
        let board_pipeline = server_rt
            .block_on(kith_app::crm::pipelines::get(app, &ctx, ws.board_pipeline))
            .map_err(|e| anyhow::anyhow!("pipeline: {e}"))?;
        let sample = &seeded.samples[0];
        let statements = vec![
            (
                "contacts list, first page (owner)",
                plans::contact_list(&owner_viewer, &ListFilter::default(), &first_page),
            ),
            ("contacts list, 100th page (owner)", plans::contact_list(&owner_viewer, &ListFilter::default(), &page)),
            (
                "contacts list, filtered: vip + owner + tier=Gold (owner)",
                plans::contact_list(&owner_viewer, &filters[10], &first_page),
            ),
            (
                "contacts list, first page (plain member)",
                plans::contact_list(&member_viewer, &ListFilter::default(), &first_page),
            ),
            ("search: a name prefix", {
                let q = derive(sample.last.chars().take(4).collect());
                plans::search(backend, &owner_viewer, &q.words, 20)
            }),
            ("search: an e-mail", {
                let q = derive(sample.email.clone());
                plans::search(backend, &owner_viewer, &q.words, 20)
            }),
            ("search: the most frequent note word", {
                let q = derive(vocabulary[top[0]].to_string());
                plans::search(backend, &owner_viewer, &q.words, 20)
            }),
            (
                "board: one column (`deals::board_column`)",
                kith_store::deals::board_column_sql(&owner_viewer, ws.board_pipeline, board_pipeline.stages[0].id, 200),
            ),
            ("board: totals (`deals::board_totals`)", plans::board_totals(&owner_viewer, ws.board_pipeline)),
            (
                "import dedupe: `contacts::handle_owners` (PostgreSQL; 500 e-mails, the visible contacts are then read by id)",
                kith_store::contacts::handle_owners_sql(
                    owner_viewer.org_id,
                    "email",
                    &(0..500)
                        .map(|i| format!("{i}.{}", sample.email))
                        .chain([sample.email.clone()])
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "import: `companies::find_by_names_tx` (500 names)",
                kith_store::companies::by_names_sql(
                    &owner_viewer,
                    &(0..500).map(data::company_name).collect::<Vec<_>>(),
                ),
            ),
        ];
        for (name, sql) in statements {
            // A plan that cannot be had (PostgreSQL cancels a statement after the budget) is reported, not fatal.
            let plan = server_rt.block_on(raw.explain(&sql)).unwrap_or_else(|e| format!("(not captured: {e:#})\n"));
            plan_list.push((name.to_string(), plan));
        }
    }
    server_rt.block_on(servers.stop());

    // Import, in a child process, into a new workspace of the same database.
    let import = if backend == Backend::Sqlite || opts.import_on_postgres {
        Some(run_import(opts, app, seeded, raw, server_rt, raw_url, key_b64)?)
    } else {
        None
    };
    Ok((figures, throughput, import, plan_list, notes))
}

fn distinct(queries: &[SearchQuery]) -> usize {
    queries.iter().map(|q| q.text.as_str()).collect::<std::collections::HashSet<_>>().len()
}

type LocalRun<'a> = Box<dyn FnOnce() -> Result<Timed> + 'a>;

/// Time one figure over HTTP, then the same work in process.
#[allow(clippy::too_many_arguments)]
fn time_figure(
    name: &str,
    via: &str,
    goal_ms: Option<f64>,
    addr: std::net::SocketAddr,
    bearer: &str,
    paths: &[String],
    warmup: usize,
    opts: &Options,
    load_rt: &tokio::runtime::Runtime,
    beside: Vec<(String, LocalRun<'_>)>,
) -> Result<Figure> {
    eprintln!("  {name}: {} requests", paths.len());
    process::wait_for_quiet(opts.max_quiet_wait)?;
    let http = load_rt.block_on(measure::http_loop(addr, bearer, paths, warmup, opts.figure_budget))?;
    eprintln!(
        "    HTTP p50 {} ms, p95 {} ms",
        crate::ms(http.latency.percentile(50.0)),
        crate::ms(http.latency.percentile(95.0))
    );
    let mut out = Vec::new();
    for (what, run) in beside {
        process::wait_for_quiet(opts.max_quiet_wait)?;
        let t = run()?;
        eprintln!(
            "    {what}: p50 {} ms, p95 {} ms",
            crate::ms(t.latency.percentile(50.0)),
            crate::ms(t.latency.percentile(95.0))
        );
        out.push((what, t));
    }
    Ok(Figure { name: name.into(), via: via.into(), http, beside: out, goal_ms, by_kind: Vec::new() })
}

fn run_import(
    opts: &Options,
    app: &App,
    seeded: &seed::Seeded,
    raw: &Raw,
    server_rt: &tokio::runtime::Runtime,
    raw_url: &str,
    key_b64: &str,
) -> Result<ImportReport> {
    let scratch = process::Scratch::new("crm-import")?;
    let path = scratch.path().join("hubspot-contacts-export.csv");
    eprintln!("  writing a {}-row HubSpot-style CSV", crate::thousands(opts.import_rows));
    let csv = import::write_csv(&path, opts.import_rows, opts.import_companies, opts.seed ^ 0x1A7)?;
    let owner = seeded.ws.owner;
    let workspace = server_rt
        .block_on(kith_app::workspaces::create(app, owner, "Import", &kith_app::audit::Origin::default()))
        .map_err(|e| anyhow::anyhow!("import workspace: {e}"))?;
    let org = workspace.id;
    eprintln!("  import ({} MiB) in a child process", csv.bytes / 1048576);
    process::wait_for_quiet(opts.max_quiet_wait)?;
    let first = import::run_child(raw_url, key_b64, org, owner, &csv.path, opts.import_timeout, raw, server_rt)?;
    eprintln!(
        "    {} rows in {:.1} s: {:.0} rows/s, {} created, {} updated, peak RSS {} KiB; cores: import {:.2}, \
         PostgreSQL {:.2}, other work {:.2}",
        first.report.total,
        first.report.import_s,
        first.rows_per_second(),
        first.report.created,
        first.report.updated,
        first.report.hwm_kib,
        first.cores.child,
        first.cores.postgres,
        first.cores.other
    );
    eprintln!("  timing the import's parts");
    let breakdown = server_rt.block_on(import::breakdown(app, raw, org, owner, &csv, opts.figure_budget))?;
    let second = if first.timed_out {
        None
    } else {
        eprintln!("  re-import of the same file");
        process::wait_for_quiet(opts.max_quiet_wait)?;
        let second = import::run_child(raw_url, key_b64, org, owner, &csv.path, opts.import_timeout, raw, server_rt)?;
        eprintln!(
            "    {} rows in {:.1} s: {:.0} rows/s, {} created, {} updated, peak RSS {} KiB; cores: import {:.2}, \
             PostgreSQL {:.2}, other work {:.2}",
            second.report.total,
            second.report.import_s,
            second.rows_per_second(),
            second.report.created,
            second.report.updated,
            second.report.hwm_kib,
            second.cores.child,
            second.cores.postgres,
            second.cores.other
        );
        Some(second)
    };
    let bare = if first.timed_out {
        None
    } else {
        eprintln!("  the same rows' writes alone (the store's statements, no reads), into another new workspace");
        let bare_ws = server_rt
            .block_on(kith_app::workspaces::create(app, owner, "Import, writes alone", &Default::default()))
            .map_err(|e| anyhow::anyhow!("bare-writes workspace: {e}"))?;
        process::wait_for_quiet(opts.max_quiet_wait)?;
        let bare = server_rt.block_on(import::bare_writes(app, bare_ws.id, owner, &csv))?;
        eprintln!(
            "    {} rows ({} companies) in {:.1} s of write transactions: {:.0} rows/s ({:.1} s with parsing)",
            bare.rows,
            bare.companies,
            bare.write_s,
            bare.rows_per_second(),
            bare.wall_s
        );
        Some(bare)
    };
    Ok(ImportReport {
        csv_rows: csv.rows,
        csv_bytes: csv.bytes,
        duplicates: csv.duplicates,
        distinct_companies: csv.distinct_companies,
        first,
        second,
        breakdown: Some(breakdown),
        bare,
    })
}

/// Microseconds for a table cell; `≥` when a sample was cut off.
fn us_cell(us: f64, cut: bool) -> String {
    let n = if us >= 10_000.0 { crate::thousands(us.round() as u64) } else { format!("{us:.1}") };
    if cut {
        format!("≥ {n}")
    } else {
        n
    }
}

fn ms_f(us: u32) -> f64 {
    us as f64 / 1000.0
}

fn markdown(opts: &Options, reports: &[BackendReport]) -> String {
    let command: Vec<String> = std::env::args().collect();
    let mut s = format!(
        "## CRM at scale: {} contacts\n\n\
         Command: `{}`{}.\n\n\
         One workspace: {} contacts, {} companies, {} deals, {} notes; 5 members own the records; ~20 % of \
         contacts carry the tag `vip`; every contact has a `tier` (select: Bronze 40 %, Silver 30 %, Gold 20 %, \
         Platinum 10 %); 95 % of records are visible to everyone, 3 % to their owner, 2 % personal. Latencies are \
         sequential requests on one keep-alive connection ({} timed per figure after a warm-up), measured at the \
         client, nearest-rank percentiles; \"beside\" is the same work in process without Kith's HTTP layers.\n\n",
        crate::thousands(opts.contacts),
        command.join(" "),
        if std::env::var("KITH_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty()) {
            " with `KITH_TEST_POSTGRES_URL` set"
        } else {
            ""
        },
        crate::thousands(opts.contacts),
        crate::thousands(seed::Scale::of(opts.contacts).companies),
        crate::thousands(seed::Scale::of(opts.contacts).deals),
        crate::thousands(seed::Scale::of(opts.contacts).notes),
        opts.requests.max(200),
    );
    // The goals, side by side.
    s += "### Goals\n\n| figure | goal |";
    for r in reports {
        s += &format!(" {} | met |", label(r.backend));
    }
    s += "\n|---|---|";
    for _ in reports {
        s += "---|---|";
    }
    s += "\n";
    let names: Vec<&str> =
        reports.first().map(|r| r.figures.iter().map(|f| f.name.as_str()).collect()).unwrap_or_default();
    for (i, name) in names.iter().enumerate() {
        let goal = reports[0].figures[i].goal_ms;
        s += &format!("| {name} | p95 < {:.0} ms |", goal.unwrap_or(0.0));
        for r in reports {
            match r.figures.get(i) {
                Some(f) => {
                    let p95 = ms_f(f.http.latency.percentile(95.0));
                    s += &format!(" {p95:.2} ms | {} |", crate::yes_no(goal.is_none_or(|g| p95 < g)));
                }
                None => s += " — | — |",
            }
        }
        s += "\n";
    }
    if reports.iter().any(|r| !r.throughput.is_empty()) {
        s += &format!("| `GET /api/v1/contacts?limit=50`, 64 connections, share of the bare handler | ≥ {THROUGHPUT_GOAL_PERCENT:.0} % |");
        for r in reports {
            let (m, _) = ratios(r);
            s += &format!(" {m:.0} % | {} |", crate::yes_no(m >= THROUGHPUT_GOAL_PERCENT));
        }
        s += "\n";
    }
    s += &format!("| import, rows/s (first run) | ≥ {} |", crate::thousands(IMPORT_GOAL_ROWS_S as u64));
    for r in reports {
        match &r.import {
            Some(i) => {
                let rate = i.first.rows_per_second();
                let cut = if i.first.timed_out { " (stopped, unfinished)" } else { "" };
                s +=
                    &format!(" {rate:.0}{cut} | {} |", crate::yes_no(rate >= IMPORT_GOAL_ROWS_S && !i.first.timed_out));
            }
            None => s += " not run | — |",
        }
    }
    s += "\n";
    s += &format!("| import, peak RSS of the importing process | < {IMPORT_GOAL_RSS_MB:.0} MB |");
    for r in reports {
        match &r.import {
            Some(i) if !i.first.timed_out => {
                let mb =
                    i.first.report.hwm_kib.max(i.second.as_ref().map_or(0, |s| s.report.hwm_kib)) as f64 * 1024.0 / 1e6;
                s += &format!(" {mb:.0} MB | {} |", crate::yes_no(mb < IMPORT_GOAL_RSS_MB));
            }
            _ => s += " — | — |",
        }
    }
    s += "\n| re-import of the same file creates nothing | 0 created |";
    for r in reports {
        match r.import.as_ref().and_then(|i| i.second.as_ref()) {
            Some(second) => {
                s += &format!(" {} created | {} |", second.report.created, crate::yes_no(second.report.created == 0))
            }
            None => s += " — | — |",
        }
    }
    s += "\n\n";
    for r in reports {
        s += &backend_section(r);
    }
    s
}

/// Kith / bare per round: (median %, per-round %s sorted).
fn ratios(r: &BackendReport) -> (f64, Vec<f64>) {
    let mut pct: Vec<f64> = (0..r.rounds)
        .filter_map(|round| {
            let find = |t| r.throughput.iter().find(|x| x.target == t && x.round == round);
            let (k, b) = (find(Target::Kith)?, find(Target::Bare)?);
            Some(100.0 * k.result.requests_per_second() / b.result.requests_per_second())
        })
        .collect();
    pct.sort_by(f64::total_cmp);
    (crate::median(&pct), pct)
}

fn backend_section(r: &BackendReport) -> String {
    let name = label(r.backend);
    let seeded = &r.seeded;
    let c = &seeded.counts;
    let mut s = format!("### {name}\n\n");
    s += &format!(
        "Seeding (not a goal): {} table rows in {:.1} s ({:.0} rows/s), database {:.0} MiB. Rows: {} companies, \
         {} contacts, {} contact handles, {} tags on records, {} custom values, {} deals ({} open on the board \
         pipeline), {} deal–contact links, {} notes, {} search documents.\n\n",
        crate::thousands(c.rows()),
        seeded.total.as_secs_f64(),
        c.rows() as f64 / seeded.total.as_secs_f64(),
        seeded.db_bytes as f64 / 1048576.0,
        crate::thousands(c.companies),
        crate::thousands(c.contacts),
        crate::thousands(c.contact_handles),
        crate::thousands(c.record_tags),
        crate::thousands(c.custom_values),
        crate::thousands(c.deals),
        crate::thousands(seeded.board_deals),
        crate::thousands(c.deal_contacts),
        crate::thousands(c.notes),
        crate::thousands(c.search_docs),
    );
    s += "| seeding phase | s |\n|---|---|\n";
    for (what, took) in &seeded.phases {
        s += &format!("| {what} | {:.1} |\n", took.as_secs_f64());
    }
    if !r.figures.is_empty() {
        s += "\n| figure | via | p50 ms | p95 ms | p99 ms | max ms | requests | KiB per answer | beside: same work in process, p50 / p95 ms | goal | met |\n\
              |---|---|---|---|---|---|---|---|---|---|---|\n";
    }
    for f in &r.figures {
        let l = &f.http.latency;
        let beside: Vec<String> = f
            .beside
            .iter()
            .map(|(what, t)| {
                let cut = if t.stopped { format!(" (budget: {} requests)", t.latency.len()) } else { String::new() };
                format!(
                    "{what}: {} / {}{cut}",
                    crate::ms(t.latency.percentile(50.0)),
                    crate::ms(t.latency.percentile(95.0))
                )
            })
            .collect();
        let p95 = ms_f(l.percentile(95.0));
        s += &format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} |\n",
            f.name,
            f.via,
            crate::ms(l.percentile(50.0)),
            crate::ms(l.percentile(95.0)),
            crate::ms(l.percentile(99.0)),
            crate::ms(l.max()),
            if f.http.stopped { format!("{} (time budget ran out)", l.len()) } else { l.len().to_string() },
            f.http.bytes as f64 / l.len().max(1) as f64 / 1024.0,
            beside.join("; "),
            f.goal_ms.map(|g| format!("p95 < {g:.0} ms")).unwrap_or_else(|| "—".into()),
            f.goal_ms.map(|g| crate::yes_no(p95 < g)).unwrap_or("—"),
        );
    }
    for f in r.figures.iter().filter(|f| !f.by_kind.is_empty()) {
        s += "\nThe search mix by kind of query (p50 / p95 / max ms):\n\n| kind | HTTP |";
        for (what, _) in &f.beside {
            s += &format!(" {what} |");
        }
        s += "\n|---|---|";
        for _ in &f.beside {
            s += "---|";
        }
        s += "\n";
        let cell = |l: &Latencies| {
            format!("{} / {} / {}", crate::ms(l.percentile(50.0)), crate::ms(l.percentile(95.0)), crate::ms(l.max()))
        };
        for (kind, http, beside) in &f.by_kind {
            s += &format!("| {kind} | {} |", cell(http));
            for l in beside {
                s += &format!(" {} |", cell(l));
            }
            s += "\n";
        }
    }
    for note in &r.notes {
        s += &format!("\n{note}\n");
    }
    // Throughput (not measured with `--import-only`).
    if !r.throughput.is_empty() {
        s += &throughput_section(r);
    }
    s += "\n";
    // Import.
    s += &import_section(r);
    s
}

fn throughput_section(r: &BackendReport) -> String {
    let mut s = String::new();
    s += &format!(
        "\n`GET /api/v1/contacts?limit=50` under load ({} rounds, each target once per round):\n\n\
         | target | {} |\n|---|---|---|---|---|---|---|---|\n",
        r.rounds,
        crate::COLUMNS
    );
    for (target, what) in [
        (Target::Bare, "bare axum: token lookup + the same list SQL (`contacts::list`), rows as JSON"),
        (Target::Kith, "Kith: `kith_web::serve`, whole router"),
    ] {
        let runs: Vec<&Run> = r.throughput.iter().filter(|x| x.target == target).collect();
        if runs.is_empty() {
            continue;
        }
        s += &format!("| {what} | {} |\n", crate::summary_cells(&Summary::of(runs.iter().copied())));
    }
    let (m, pct) = ratios(r);
    s += &format!(
        "\nKith / bare, per round: median {m:.0} % ({}); goal ≥ {THROUGHPUT_GOAL_PERCENT:.0} %: {}.\n\n",
        pct.iter().map(|p| format!("{p:.0} %")).collect::<Vec<_>>().join(", "),
        crate::yes_no(m >= THROUGHPUT_GOAL_PERCENT)
    );
    s
}

fn import_section(r: &BackendReport) -> String {
    let name = label(r.backend);
    let mut s = String::new();
    if let Some(i) = &r.import {
        s += &format!(
            "Import: a HubSpot-style CSV (`Record ID, First Name, Last Name, Email, Phone Number, Company Name, \
             Lifecycle Stage`) of {} rows, {:.0} MiB; {} rows repeat an earlier e-mail; {} distinct company names; \
             5 % of phones without a country code (kept as written, with a warning). Uploaded with \
             `kith_app::crm::imports::{{begin, write, finish}}` and run by `kith_app::worker::Worker` (dedupe: \
             update) in a child process of the bench (a fresh process: its `VmHWM` is the import's peak RSS), into \
             a new workspace of the seeded database.\n\n\
             | run | rows | upload s | import s | rows/s | created | updated | skipped | failed | warnings | peak RSS (VmHWM) | cores used: import / PostgreSQL / other work |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|\n",
            crate::thousands(i.csv_rows),
            i.csv_bytes as f64 / 1048576.0,
            crate::thousands(i.duplicates),
            crate::thousands(i.distinct_companies),
        );
        let mut row = |what: &str, run: &import::ImportRun| {
            let rep = &run.report;
            s += &format!(
                "| {what}{} | {} | {:.1} | {:.1} | {:.0} | {} | {} | {} | {} | {} | {} | {:.2} / {:.2} / {:.2} |\n",
                if run.timed_out { " (stopped at the time limit)" } else { "" },
                crate::thousands(rep.total as u64),
                rep.upload_s,
                rep.import_s,
                run.rows_per_second(),
                crate::thousands(rep.created as u64),
                crate::thousands(rep.updated as u64),
                rep.skipped,
                rep.failed,
                rep.warnings,
                if run.timed_out { "—".to_string() } else { format!("{:.0} MB", rep.hwm_kib as f64 * 1024.0 / 1e6) },
                run.cores.child,
                run.cores.postgres,
                run.cores.other,
            );
        };
        row("first import", &i.first);
        if let Some(second) = &i.second {
            row("re-import of the same file", second);
        }
        if let Some(b) = &i.bare {
            s += &format!(
                "\nThe engine's floor for these rows, measured in the same run: the same file's {} contacts and {} \
                 companies written as new into another new workspace by the import's own multi-row statements \
                 (contacts, handles, search documents; `kith_store::{{contacts, companies, records}}`), committed \
                 every {} rows, with no reads, no dedupe and no progress rows: **{:.0} rows/s** ({:.1} s inside \
                 the write transactions; {:.1} s with parsing and checks on the same task). It ran after both \
                 imports, so into a database one imported workspace larger than the first import met. The first \
                 import ran at {:.0} % of it.\n",
                crate::thousands(b.rows),
                crate::thousands(b.companies),
                crate::thousands(kith_app::crm::imports::BATCH as u64),
                b.rows_per_second(),
                b.write_s,
                b.wall_s,
                100.0 * i.first.rows_per_second() / b.rows_per_second().max(1e-9),
            );
        }
        for (what, run) in std::iter::once(("first import", &i.first)).chain(i.second.iter().map(|r| ("re-import", r)))
        {
            if run.progress.len() >= 2 {
                let step = run.progress.len().div_ceil(12);
                let points: Vec<String> = run
                    .progress
                    .iter()
                    .step_by(step)
                    .map(|(t, rows)| format!("{t:.0} s: {}", crate::thousands(*rows as u64)))
                    .collect();
                let [.., (t0, r0), (t1, r1)] = run.progress[..] else { continue };
                s += &format!(
                    "\nRows done during the {what} (from the database every 10 s): {}; {:.0} rows/s over the last interval.\n",
                    points.join(", "),
                    (r1 - r0) as f64 / (t1 - t0).max(1e-9)
                );
            }
        }
        if let Some(b) = &i.breakdown {
            s += &format!(
                "\nWhere an imported row's time goes, measured piece by piece after the first import, so the reads \
                 meet the workspace as the re-import does (during the first import it grows from empty: on average \
                 it is half as full). The parser runs on its own thread during a real import.\n\n\
                 | part | µs per row | how measured |\n|---|---|---|\n\
                 | decode + CSV parse (kith-formats) | {:.1} | whole file |\n\
                 | contact checks (`contacts::apply_input`) | {:.1} | whole file |\n\
                 | dedupe reads (SQLite: `contacts::find_by_handle_values`; PostgreSQL: `contacts::handle_owners` + `contacts::get_many_visible`; e-mails and phones of 500 rows at a time) | {} | {} rows{} |\n\
                 | company lookup (`companies::find_by_names_tx`, 500 names per read): {:.0} µs per name × {} distinct names / {} rows | {:.1} | {} names{}, {} companies in the workspace |\n\
                 | writes of a new contact (multi-row inserts: contact, handles, search doc) | {:.1} | {} rows, rolled back |\n\
                 | sum | {} | (measured: {:.1} µs per row) |\n\n",
                b.parse_us,
                b.check_us,
                us_cell(b.find_us, b.find_cancelled),
                b.find_sampled,
                if b.find_cancelled { ", the last cancelled at the time budget" } else { "" },
                b.company_lookup_us,
                crate::thousands(b.distinct_companies),
                crate::thousands(b.rows),
                b.company_per_row_us(),
                b.company_sampled,
                if b.company_cancelled { ", the last cancelled at the time budget" } else { "" },
                crate::thousands(b.companies_in_workspace),
                b.write_us,
                b.write_sampled,
                us_cell(b.sum_us(), b.find_cancelled || b.company_cancelled),
                i.first.report.import_s * 1e6 / i.first.report.total.max(1) as f64,
            );
        }
    }
    if !r.plans.is_empty() {
        s += &format!(
            "\n<details><summary>Query plans on {name} at this scale ({})</summary>\n\n",
            match (r.backend, r.sqlite_analyze) {
                (Backend::Sqlite, false) =>
                    "`EXPLAIN QUERY PLAN` after `Db::optimize` (the sampled `ANALYZE` Kith runs at start and after imports)",
                (Backend::Sqlite, true) =>
                    "`EXPLAIN QUERY PLAN` after a full `ANALYZE` (`--sqlite-analyze`: more than Kith does)",
                (Backend::Postgres, _) => "`EXPLAIN (ANALYZE, COSTS OFF)` after `ANALYZE`",
            }
        );
        for (what, plan) in &r.plans {
            s += &format!("{what}:\n\n```\n{}```\n\n", plan);
        }
        s += "</details>\n\n";
    }
    s
}
