//! `kith-bench ai`: the knowledge base's figures of issue #5's "Measure".
//!
//! 1. Retrieval over a 10,000-chunk knowledge base (and a second workspace
//!    of the same size sharing the index): `kith_app::ai::retrieval::retrieve`
//!    end to end (query words, the full-text query, per-word counts for the
//!    confidence, ranking), sequentially, p50/p95/p99 — beside the raw
//!    engine running the same full-text statement on its own connection,
//!    the engine on every content word (the query without a budget), and
//!    the raw statement at several postings budgets (the per-engine choice).
//! 2. Website import of a 200-page local site (an axum stand-in on
//!    127.0.0.1, a few kB of prose per page, five links each): pages per
//!    second through the crawl job (SSRF-guarded client, robots.txt,
//!    HTML to text, chunking, storing) and the process's peak RSS during it.
//!
//! Everything runs in this process on fresh databases (SQLite in a temp
//! folder; PostgreSQL when KITH_TEST_POSTGRES_URL is set).

mod autoreply;

use anyhow::{anyhow, Context as _, Result};
use kith_app::ai::{knowledge, retrieval};
use kith_app::identity::{create_account_as_operator, SignUp};
use kith_app::worker::{Registry, Worker};
use kith_app::{App, AppSettings, Keyring, MasterKeys};
use kith_domain::{Actor, Context, Credential, Role};
use kith_store::knowledge::{self as rows, EntryRow, Indexed, NewChunk};
use kith_store::Backend;
use kith_testkit::TestDb;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const RETRIEVAL_GOAL_P95_MS: f64 = 20.0;

#[derive(Debug, Clone)]
pub struct Options {
    pub backends: Vec<Backend>,
    pub chunks: usize,
    pub queries: usize,
    pub pages: usize,
    /// Inbound messages answered for the auto-reply overhead figure (0: skip it).
    pub replies: usize,
}

/// A small deterministic generator (xorshift64*), so every run seeds the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Zipf-like: small indexes far more often (a vocabulary's shape).
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }
}

/// A vocabulary of pronounceable made-up words (so no real word's stemming
/// or stop-word status helps or hurts), most frequent first.
fn vocabulary(n: usize) -> Vec<String> {
    const ON: [&str; 16] = ["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr"];
    const NU: [&str; 6] = ["a", "e", "i", "o", "u", "ou"];
    const CO: [&str; 8] = ["n", "r", "l", "m", "x", "nd", "rt", "sk"];
    let mut out = Vec::with_capacity(n);
    let mut i = 0usize;
    while out.len() < n {
        let syllables = 2 + i % 2;
        let mut w = String::new();
        let mut k = i;
        for _ in 0..syllables {
            w.push_str(ON[k % ON.len()]);
            k /= ON.len();
            w.push_str(NU[k % NU.len()]);
            k /= NU.len();
        }
        w.push_str(CO[i % CO.len()]);
        if !out.contains(&w) {
            out.push(w);
        }
        i += 1;
    }
    out
}

fn passage(rng: &mut Rng, vocab: &[String], words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&vocab[rng.zipf(vocab.len())]);
        if i % 14 == 13 {
            s.push('.');
        }
    }
    s.push('.');
    s
}

async fn app_on(db: &TestDb) -> App {
    let settings = AppSettings { allow_private_networks: true, ..AppSettings::default() };
    App::new(db.db.clone(), Keyring::new(MasterKeys::single(kith_crypto::SecretKey::generate())), settings)
        .expect("valid settings")
}

async fn workspace(app: &App, email: &str) -> Result<Context> {
    let done = create_account_as_operator(
        app,
        SignUp {
            email: email.into(),
            name: "Bench".into(),
            password: "correct horse battery staple".into(),
            workspace_name: Some("Bench".into()),
            invitation: None,
        },
    )
    .await
    .map_err(|e| anyhow!("account: {e}"))?;
    Ok(Context {
        org_id: done.org_id,
        actor: Actor { user_id: done.user_id, credential: Credential::Session(kith_domain::new_id()) },
        role: Role::Owner,
    })
}

/// `chunks` chunks in entries of 10, written straight through the store.
async fn seed(app: &App, ctx: &Context, rng: &mut Rng, vocab: &[String], chunks: usize) -> Result<()> {
    let now = kith_domain::time::now_ms();
    for e in 0..chunks.div_ceil(10) {
        let id = kith_domain::new_id();
        let row = EntryRow {
            id,
            org_id: ctx.org_id,
            kind: "text".into(),
            title: format!("Entry {e}"),
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
        let list: Vec<NewChunk> = (0..10.min(chunks - e * 10))
            .map(|i| {
                let title = format!("{} {}", vocab[rng.zipf(vocab.len())], vocab[rng.zipf(vocab.len())]);
                let words = 90 + rng.below(60);
                NewChunk {
                    id: kith_domain::new_id(),
                    seq: i as i64,
                    title,
                    text: passage(rng, vocab, words),
                    url: None,
                }
            })
            .collect();
        let mut tx = app.db().begin().await?;
        rows::insert_entry(&mut tx, &row).await?;
        let ix = Indexed { version: 1, chunks: &list, report: None, done: list.len() as i64 };
        rows::replace_chunks(&mut tx, ctx.org_id, id, &ix, now).await?;
        tx.commit().await?;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct RetrievalFigures {
    backend: &'static str,
    /// The engine's postings budget (`retrieval::postings_budget`).
    budget: i64,
    kith: Vec<Duration>,
    /// The engine on every content word OR-ed (no postings budget).
    raw_all: Vec<Duration>,
    /// The engine on the words Kith searched (within the postings budget).
    raw: Vec<Duration>,
    /// The raw statement at other budgets.
    sweep: Vec<SweepRow>,
    /// Each read of `retrieve` alone through the store: the per-word counts,
    /// the chunk total, the full-text search, the AI settings.
    parts: [Vec<Duration>; 4],
    mean_hits: f64,
}

/// The raw engine: the same full-text statement as the store's, on a plain
/// connection, scoring at most `max_scored` matches (`None`: all of them,
/// the statement before the budget).
async fn raw_query(
    db_url: &str,
    backend: Backend,
    org_id: Uuid,
    words: &[Vec<String>],
    max_scored: Option<i64>,
) -> Result<Vec<Duration>> {
    let max_scored = max_scored.unwrap_or(i64::MAX);
    let mut out = Vec::with_capacity(words.len());
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect(&format!("{db_url}?mode=ro"))
                .await
                .context("raw sqlite")?;
            let token = rows::org_token(org_id);
            for w in words {
                if w.is_empty() {
                    out.push(Duration::ZERO); // nothing to search (Kith sends no query either)
                    continue;
                }
                let q = format!(
                    "org : \"{token}\" AND ({})",
                    w.iter().map(|x| format!("\"{x}\"")).collect::<Vec<_>>().join(" OR ")
                );
                let t = Instant::now();
                let _: Vec<(i64, f64)> = sqlx::query_as(
                    "SELECT rowid, s FROM (
                       SELECT rowid, -bm25(fts_knowledge, 0.0, 2.0, 1.0) AS s FROM fts_knowledge
                       WHERE fts_knowledge MATCH ?1 LIMIT ?2)
                     ORDER BY s DESC LIMIT 40",
                )
                .bind(q)
                .bind(max_scored)
                .fetch_all(&pool)
                .await?;
                out.push(t.elapsed());
            }
        }
        Backend::Postgres => {
            let pool =
                sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(db_url).await.context("raw pg")?;
            for w in words {
                if w.is_empty() {
                    out.push(Duration::ZERO);
                    continue;
                }
                let t = Instant::now();
                let _: Vec<(i64, f64)> = sqlx::query_as(
                    "SELECT doc_id, ts_rank(fts_vector, to_tsquery('english', $2), 1)::float8 AS s FROM (
                       SELECT doc_id, fts_vector, row_number() OVER () AS n FROM knowledge_chunks
                       WHERE org_id = $1 AND fts_vector @@ to_tsquery('english', $2)) m
                     WHERE n <= $3 ORDER BY s DESC LIMIT 40",
                )
                .bind(org_id)
                .bind(w.join(" | "))
                .bind(max_scored)
                .fetch_all(&pool)
                .await?;
                out.push(t.elapsed());
            }
        }
    }
    Ok(out)
}

async fn retrieval_figure(backend: Backend, opts: &Options) -> Result<RetrievalFigures> {
    let db = match backend {
        Backend::Sqlite => TestDb::sqlite().await,
        Backend::Postgres => TestDb::postgres().await.ok_or_else(|| anyhow!("KITH_TEST_POSTGRES_URL is not set"))?,
    };
    let app = app_on(&db).await;
    let vocab = vocabulary(4_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let ctx = workspace(&app, "ai-bench@example.com").await?;
    let other = workspace(&app, "ai-bench-other@example.com").await?;
    let t = Instant::now();
    seed(&app, &ctx, &mut rng, &vocab, opts.chunks).await?;
    seed(&app, &other, &mut rng, &vocab, opts.chunks).await?;
    eprintln!("  seeded 2 × {} chunks in {:.1} s", opts.chunks, t.elapsed().as_secs_f64());
    app.db().optimize().await?;
    // Questions: 4–8 words, mostly from the vocabulary's middle (neither the
    // commonest nor unseen), as customers' content words would be.
    let questions: Vec<String> = (0..opts.queries)
        .map(|_| {
            let n = 4 + rng.below(5);
            (0..n).map(|_| vocab[20 + rng.zipf(vocab.len() - 20)].clone()).collect::<Vec<_>>().join(" ")
        })
        .collect();
    // Warm the caches the way a running server has them.
    for q in questions.iter().take(20) {
        retrieval::retrieve(&app, ctx.org_id, q, 4).await?;
    }
    let mut kith = Vec::with_capacity(questions.len());
    let mut hits = 0usize;
    for q in &questions {
        let t = Instant::now();
        let found = retrieval::retrieve(&app, ctx.org_id, q, 4).await?;
        kith.push(t.elapsed());
        hits += found.len();
    }
    let words: Vec<Vec<String>> = questions
        .iter()
        .map(|q| kith_formats::terms::content_words(q).into_iter().take(retrieval::MAX_QUERY_WORDS).collect())
        .collect();
    // Counts up to the largest budget tried below: the words any smaller
    // budget picks are the same as with its own cap.
    let budget = retrieval::postings_budget(backend);
    let cap = SWEEP_BUDGETS.iter().copied().max().unwrap_or(0).max(budget) + 1;
    let mut counts = Vec::with_capacity(words.len());
    for w in &words {
        counts.push(rows::word_counts(app.db(), ctx.org_id, w, cap).await?);
    }
    let within = |b: i64| -> Vec<Vec<String>> {
        words.iter().zip(&counts).map(|(w, c)| retrieval::words_within_budget(w, c, b)).collect()
    };
    let mut raw_all = raw_query(&db.raw_url, backend, ctx.org_id, &words, None).await?;
    let mut raw = raw_query(&db.raw_url, backend, ctx.org_id, &within(budget), Some(budget)).await?;
    let mut sweep = Vec::new();
    for b in SWEEP_BUDGETS {
        let searched = within(b);
        // The chunks the statement scores: the searched words' counts
        // summed (an upper bound: a chunk holding two of them counts twice),
        // at most the budget.
        let mut scored: Vec<i64> = words
            .iter()
            .zip(&counts)
            .zip(&searched)
            .map(|((w, c), s)| w.iter().zip(c).filter(|(x, _)| s.contains(x)).map(|(_, n)| *n).sum::<i64>().min(b))
            .collect();
        scored.sort();
        let mut t = raw_query(&db.raw_url, backend, ctx.org_id, &searched, Some(b)).await?;
        t.sort();
        sweep.push(SweepRow { budget: b, raw: t, scored_p50: scored.get(scored.len() / 2).copied().unwrap_or(0) });
    }
    // Where Kith's time goes: each read `retrieve` makes, timed alone
    // through the store on the same questions (Kith runs the first two
    // side by side, then the last two).
    let mut parts: [Vec<Duration>; 4] = Default::default();
    let searched = within(budget);
    for (w, s) in words.iter().zip(&searched) {
        let t = Instant::now();
        rows::word_counts(app.db(), ctx.org_id, w, budget + 1).await?;
        parts[0].push(t.elapsed());
        let t = Instant::now();
        rows::chunk_total(app.db(), ctx.org_id).await?;
        parts[1].push(t.elapsed());
        let t = Instant::now();
        rows::search(app.db(), ctx.org_id, s, 40, budget).await?;
        parts[2].push(t.elapsed());
        let t = Instant::now();
        kith_app::ai::settings::load(&app, ctx.org_id).await.map_err(|e| anyhow!("settings: {e}"))?;
        parts[3].push(t.elapsed());
    }
    for p in parts.iter_mut() {
        p.sort();
    }
    kith.sort();
    raw_all.sort();
    raw.sort();
    Ok(RetrievalFigures {
        parts,
        backend: if backend == Backend::Sqlite { "SQLite" } else { "PostgreSQL" },
        budget,
        kith,
        raw_all,
        raw,
        sweep,
        mean_hits: hits as f64 / questions.len().max(1) as f64,
    })
}

/// Postings budgets the raw search statement is also timed at (the choice
/// of each engine's budget).
const SWEEP_BUDGETS: [i64; 5] = [250, 500, 750, 1_000, 1_500];

struct SweepRow {
    budget: i64,
    raw: Vec<Duration>,
    /// Median over the questions of the chunk matches the searched words hold.
    scored_p50: i64,
}

/// A site of `pages` pages: robots.txt, then /p/0 … /p/{n-1}, each a few kB
/// of prose under two headings and five links onward.
async fn stand_in_site(pages: usize) -> Result<String> {
    use axum::extract::Path;
    use axum::response::Html;
    let vocab = vocabulary(3_000);
    let mut rng = Rng(0x51_7cc1_b727_220a);
    let bodies: Vec<String> = (0..pages)
        .map(|n| {
            let links: String = (1..=5).map(|k| format!("<a href=\"/p/{}\">next {k}</a> ", (n * 7 + k * 13) % pages)).collect();
            format!(
                "<!doctype html><html><head><title>Page {n}</title><link rel=\"canonical\" href=\"/p/{n}\"></head><body>\
                 <nav><a href=\"/\">Home</a></nav><h1>Page {n}</h1><p>{}</p><p>{}</p><h2>More</h2><p>{}</p><p>{links}</p>\
                 <footer>© Bench</footer></body></html>",
                passage(&mut rng, &vocab, 160),
                passage(&mut rng, &vocab, 160),
                passage(&mut rng, &vocab, 160)
            )
        })
        .collect();
    let bodies = std::sync::Arc::new(bodies);
    let router = axum::Router::new()
        .route("/robots.txt", axum::routing::get(|| async { "User-agent: *\nDisallow: /private\n" }))
        .route(
            "/p/{n}",
            axum::routing::get(move |Path(n): Path<usize>| {
                let bodies = bodies.clone();
                async move { Html(bodies.get(n).cloned().unwrap_or_default()) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{addr}"))
}

/// Peak and current resident memory of this process (KiB), from /proc.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

struct CrawlFigure {
    backend: &'static str,
    pages: i64,
    chunks: i64,
    seconds: f64,
    rss_before_mib: f64,
    peak_mib: f64,
}

async fn crawl_figure(backend: Backend, opts: &Options) -> Result<CrawlFigure> {
    let db = match backend {
        Backend::Sqlite => TestDb::sqlite().await,
        Backend::Postgres => TestDb::postgres().await.ok_or_else(|| anyhow!("KITH_TEST_POSTGRES_URL is not set"))?,
    };
    let app = app_on(&db).await;
    let ctx = workspace(&app, "ai-crawl@example.com").await?;
    let base = stand_in_site(opts.pages).await?;
    // Reset the peak so it covers the crawl only (Linux: writing 5 to clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (_, before) = rss_kib();
    let input = knowledge::NewKnowledge {
        kind: "website".into(),
        urls: Some(vec![format!("{base}/p/0")]),
        page_limit: Some(opts.pages as i64),
        ..Default::default()
    };
    let t = Instant::now();
    let entry = knowledge::create(&app, &ctx, &input).await.map_err(|e| anyhow!("create: {e}"))?;
    let w = Worker::new(app.clone(), Registry::standard());
    while w.run_once().await? > 0 {}
    let seconds = t.elapsed().as_secs_f64();
    let (peak, _) = rss_kib();
    let done = knowledge::get(&app, &ctx, entry.id).await.map_err(|e| anyhow!("get: {e}"))?;
    if done.status != "ready" {
        return Err(anyhow!("the crawl ended {}: {:?}", done.status, done.error));
    }
    Ok(CrawlFigure {
        backend: if backend == Backend::Sqlite { "SQLite" } else { "PostgreSQL" },
        pages: done.progress_done,
        chunks: done.chunk_count,
        seconds,
        rss_before_mib: before as f64 / 1024.0,
        peak_mib: peak as f64 / 1024.0,
    })
}

pub fn run(opts: &Options) -> Result<String> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let mut out = String::from("## AI: knowledge-base retrieval and website import (issue #5)\n\n");
        out += &format!(
            "Retrieval: {} sequential questions of 4–8 made-up words against a workspace of {} chunks (a second \
             workspace of the same size shares the index), k = 4; `kith` is `retrieval::retrieve` end to end (capped \
             per-word counts, the full-text query on the rarest words within the postings budget — {} on SQLite, {} \
             on PostgreSQL — ranking), \
             `raw` the engine alone on its own connection running that same full-text statement (scoring at most the \
             budget's matches), `raw, all words` the engine on every content word OR-ed, scoring every match (what the \
             query cost before the budget). \
             Goal: p95 < {RETRIEVAL_GOAL_P95_MS} ms.\n\n\
             | backend | kith p50 ms | kith p95 ms | kith p99 ms | raw p50 ms | raw p95 ms | raw, all words p50 ms | \
             raw, all words p95 ms | passages per question |\n\
             |---|---|---|---|---|---|---|---|---|\n",
            opts.queries,
            opts.chunks,
            retrieval::POSTINGS_BUDGET_SQLITE,
            retrieval::POSTINGS_BUDGET_POSTGRES
        );
        let mut sweep = String::from(
            "\nThe raw full-text statement at other postings budgets (same questions; `matches` is the median over \
             the questions of the searched words' counts summed, an upper bound of the chunks scored):\n\n\
             | backend | budget | raw p50 ms | raw p95 ms | matches p50 |\n|---|---|---|---|---|\n",
        );
        let mut parts = String::from(
            "\nEach read `retrieve` makes, timed alone through the store on the same questions (p50 / p95 ms):\n\n\
             | backend | word counts | chunk total | full-text search | AI settings |\n|---|---|---|---|---|\n",
        );
        for b in &opts.backends {
            eprintln!("retrieval, {b:?}");
            let f = retrieval_figure(*b, opts).await?;
            let cell = |d: &[Duration]| format!("{:.2} / {:.2}", percentile(d, 0.5), percentile(d, 0.95));
            parts += &format!(
                "| {} | {} | {} | {} | {} |\n",
                f.backend,
                cell(&f.parts[0]),
                cell(&f.parts[1]),
                cell(&f.parts[2]),
                cell(&f.parts[3])
            );
            for r in &f.sweep {
                sweep += &format!(
                    "| {} | {}{} | {:.2} | {:.2} | {} |\n",
                    f.backend,
                    r.budget,
                    if r.budget == f.budget { " (used)" } else { "" },
                    percentile(&r.raw, 0.5),
                    percentile(&r.raw, 0.95),
                    r.scored_p50
                );
            }
            out += &format!(
                "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |\n",
                f.backend,
                percentile(&f.kith, 0.5),
                percentile(&f.kith, 0.95),
                percentile(&f.kith, 0.99),
                percentile(&f.raw, 0.5),
                percentile(&f.raw, 0.95),
                percentile(&f.raw_all, 0.5),
                percentile(&f.raw_all, 0.95),
                f.mean_hits
            );
        }
        out += &sweep;
        out += &parts;
        out += &format!(
            "\nWebsite import: a {}-page site on 127.0.0.1 (≈3 kB of prose per page, five links each), page limit {}, \
             through the crawl job (guarded client, robots.txt, HTML to text, chunking, storing), one page at a time. \
             Peak RSS is this whole process's (bench, stand-in site and Kith), reset just before the import.\n\n\
             | backend | pages | passages | seconds | pages/s | RSS before MiB | peak RSS MiB |\n|---|---|---|---|---|---|---|\n",
            opts.pages, opts.pages
        );
        for b in &opts.backends {
            eprintln!("website import, {b:?}");
            let f = crawl_figure(*b, opts).await?;
            out += &format!(
                "| {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.0} |\n",
                f.backend,
                f.pages,
                f.chunks,
                f.seconds,
                f.pages as f64 / f.seconds.max(1e-9),
                f.rss_before_mib,
                f.peak_mib
            );
        }
        if opts.replies > 0 {
            let mut figures = Vec::new();
            for b in &opts.backends {
                eprintln!("auto-reply overhead, {b:?}");
                figures.push(autoreply::overhead_figure(*b, opts.replies).await?);
            }
            out += &autoreply::section(&figures);
        }
        Ok(out)
    })
}
