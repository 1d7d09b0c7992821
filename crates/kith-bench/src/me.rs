//! `GET /api/v1/me` under load: the real Kith router beside a bare axum
//! handler doing the same token lookup on the same database, in one process
//! and one run; then the release `kith serve` process for what it costs with
//! its default logging and workers, and its memory.

use crate::load::{self, Latencies, LoadResult, LoadSpec};
use crate::process;
use anyhow::{bail, Context as _, Result};
use axum::extract::Request;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kith_app::identity::{create_account_as_operator, SignUp};
use kith_app::{App, AppSettings, Keyring, MasterKeys};
use kith_store::Db;
use kith_testkit::TestDb;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// Thread-name prefixes: the server's runtime and the load generator's.
pub(crate) const SERVER_THREADS: &str = "kith-srv";
pub(crate) const LOAD_THREADS: &str = "kith-load";

#[derive(Debug, Clone)]
pub struct Options {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Rounds of the in-process comparison (targets in a rotated order each round).
    pub rounds: usize,
    /// How long to wait for other work on the machine to stop before each run.
    pub max_quiet_wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// axum returning a small JSON, no database: the framework + generator ceiling.
    Hello,
    /// axum + SHA-256 + `kith_store::tokens::find_active`: the engine's figure for the token lookup.
    Bare,
    /// axum + four reads: token, membership, user, workspace (diagnostic: what each read costs).
    BareFourReads,
    /// `kith_web::serve(router)` with the whole /me path.
    Kith,
}

/// One measured load run.
pub struct Run {
    pub target: Target,
    pub backend: Option<Backend>,
    pub round: usize,
    pub result: LoadResult,
    /// CPU the server side used inside the window (in process: process CPU
    /// minus the load generator's threads; else the `kith serve` process).
    pub server_cpu: Duration,
    /// PostgreSQL's processes (the database server works outside the server under test).
    pub postgres_cpu: Duration,
    pub load_cpu: Duration,
    /// CPU the rest of the machine used inside the window (other processes).
    pub other_cpu: Duration,
}

/// The runs of one target on one backend, taken together.
pub struct Summary {
    /// Requests per second of each run, sorted.
    pub rps: Vec<f64>,
    pub latency: Latencies,
    pub ok: u64,
    pub window: Duration,
    pub server_cpu: Duration,
    pub postgres_cpu: Duration,
    pub load_cpu: Duration,
    pub other_cpu: Duration,
}

impl Summary {
    pub fn of<'a>(runs: impl Iterator<Item = &'a Run> + Clone) -> Summary {
        let mut rps: Vec<f64> = runs.clone().map(|r| r.result.requests_per_second()).collect();
        rps.sort_by(f64::total_cmp);
        let sum = |f: fn(&Run) -> Duration| runs.clone().map(f).sum::<Duration>();
        Summary {
            rps,
            latency: Latencies::merged(runs.clone().map(|r| &r.result.latency)),
            ok: runs.clone().map(|r| r.result.ok).sum(),
            window: sum(|r| r.result.window),
            server_cpu: sum(|r| r.server_cpu),
            postgres_cpu: sum(|r| r.postgres_cpu),
            load_cpu: sum(|r| r.load_cpu),
            other_cpu: sum(|r| r.other_cpu),
        }
    }

    pub fn median_rps(&self) -> f64 {
        crate::median(&self.rps)
    }

    /// Server CPU per answered request, in microseconds.
    pub fn server_cpu_per_request_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.ok.max(1) as f64
    }

    /// Average cores a CPU clock kept busy over the measured windows.
    pub fn cores(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() / self.window.as_secs_f64()
    }
}

/// CPU clocks sampled at the window's edges.
#[derive(Clone, Copy, Default)]
pub(crate) struct CpuSample {
    pub machine: Duration,
    pub own: Duration,
    pub load_threads: Duration,
    pub child: Duration,
    pub postgres: Duration,
}

impl CpuSample {
    fn take(child: Option<u32>) -> Result<CpuSample> {
        Ok(CpuSample {
            machine: process::machine_busy()?,
            own: process::cpu_time(std::process::id())?,
            load_threads: process::own_threads_cpu_time(LOAD_THREADS)?,
            child: child.map(process::cpu_time).transpose()?.unwrap_or_default(),
            postgres: process::processes_cpu_time("postgres")?,
        })
    }

    fn minus(self, earlier: CpuSample) -> CpuSample {
        CpuSample {
            machine: self.machine.saturating_sub(earlier.machine),
            own: self.own.saturating_sub(earlier.own),
            load_threads: self.load_threads.saturating_sub(earlier.load_threads),
            child: self.child.saturating_sub(earlier.child),
            postgres: self.postgres.saturating_sub(earlier.postgres),
        }
    }
}

/// The in-process comparison on one backend. `with_hello` adds the
/// database-free axum row (done once, on the SQLite pass).
pub fn in_process(backend: Backend, opts: &Options, with_hello: bool) -> Result<Vec<Run>> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let server_rt = runtime(SERVER_THREADS, cores)?;
    let load_rt = runtime(LOAD_THREADS, cores)?;
    let Some(servers) = server_rt.block_on(Servers::start(backend))? else {
        bail!("no database for {}", backend.label());
    };
    let mut runs = Vec::new();
    let result = (|| -> Result<()> {
        load_rt.block_on(servers.check())?;
        let mut targets = vec![Target::Bare, Target::Kith, Target::BareFourReads];
        if with_hello {
            targets.insert(0, Target::Hello);
        }
        for round in 0..opts.rounds {
            let mut order = targets.clone();
            // Each round starts elsewhere, so no target always runs first or after the same one.
            order.rotate_left(round % targets.len());
            for target in order {
                let (addr, path, bearer) = match target {
                    Target::Hello => (servers.hello, "/hello", None),
                    Target::Bare => (servers.bare, "/api/v1/me", Some(servers.token.clone())),
                    Target::BareFourReads => (servers.bare, "/four-reads/me", Some(servers.token.clone())),
                    Target::Kith => (servers.kith, "/api/v1/me", Some(servers.token.clone())),
                };
                let spec = LoadSpec {
                    addr,
                    path: path.into(),
                    bearer,
                    connections: opts.connections,
                    warmup: opts.warmup,
                    duration: opts.duration,
                };
                eprintln!(
                    "  round {} {} {:?}: {} connections, {:?} warm-up + {:?}",
                    round + 1,
                    backend.label(),
                    target,
                    spec.connections,
                    spec.warmup,
                    spec.duration
                );
                process::wait_for_quiet(opts.max_quiet_wait)?;
                let (result, cpu) = load_rt.block_on(measure(&spec, None))?;
                let backend = (target != Target::Hello).then_some(backend);
                runs.push(Run {
                    target,
                    backend,
                    round,
                    result,
                    server_cpu: cpu.own.saturating_sub(cpu.load_threads),
                    postgres_cpu: cpu.postgres,
                    load_cpu: cpu.load_threads,
                    other_cpu: cpu.machine.saturating_sub(cpu.own + cpu.postgres),
                });
            }
        }
        Ok(())
    })();
    server_rt.block_on(servers.stop())?;
    server_rt.shutdown_timeout(Duration::from_secs(5));
    load_rt.shutdown_timeout(Duration::from_secs(5));
    result.map(|()| runs)
}

pub(crate) fn runtime(name: &str, workers: usize) -> Result<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(workers).thread_name(name).enable_all().build()?)
}

/// Run the load; sample the CPU clocks at the window's start and end.
pub(crate) async fn measure(spec: &LoadSpec, child: Option<u32>) -> Result<(LoadResult, CpuSample)> {
    let sampler = async {
        tokio::time::sleep(spec.warmup).await;
        let a = CpuSample::take(child)?;
        tokio::time::sleep(spec.duration).await;
        Ok::<_, anyhow::Error>(CpuSample::take(child)?.minus(a))
    };
    let (result, cpu) = tokio::join!(load::run(spec), sampler);
    let result = result?;
    if result.errors > 0 {
        bail!("{} requests failed while loading {}{}", result.errors, spec.addr, spec.path);
    }
    Ok((result, cpu?))
}

/// The three servers of one backend, on the server runtime.
struct Servers {
    db: TestDb,
    user_id: uuid::Uuid,
    org_id: uuid::Uuid,
    token: String,
    hello: SocketAddr,
    bare: SocketAddr,
    kith: SocketAddr,
    stops: Vec<oneshot::Sender<()>>,
}

impl Servers {
    async fn start(backend: Backend) -> Result<Option<Servers>> {
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => match TestDb::postgres().await {
                Some(db) => db,
                None => return Ok(None),
            },
        };
        let app = App::new(
            db.db.clone(),
            Keyring::new(MasterKeys::single(kith_crypto::SecretKey::generate())),
            AppSettings::default(),
        )?;
        let signup = SignUp {
            email: process::EMAIL.into(),
            name: "Bench".into(),
            password: "correct horse battery staple bench".into(),
            workspace_name: Some("Bench".into()),
            invitation: None,
        };
        let done =
            create_account_as_operator(&app, signup).await.map_err(|e| anyhow::anyhow!("create account: {e}"))?;
        let (_, token) = kith_app::tokens::create_for_member(&app, done.org_id, process::EMAIL, "bench")
            .await
            .map_err(|e| anyhow::anyhow!("create token: {e}"))?;

        let mut stops = Vec::new();
        let listen = || async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let (tx, rx) = oneshot::channel::<()>();
            Ok::<_, anyhow::Error>((listener, tx, async move {
                let _ = rx.await;
            }))
        };

        let (l, tx, stop) = listen().await?;
        let hello = l.local_addr()?;
        stops.push(tx);
        let router = Router::new().route("/hello", get(|| async { Json(serde_json::json!({"status": "ok"})) }));
        tokio::spawn(async move { axum::serve(l, router).with_graceful_shutdown(stop).await });

        let (l, tx, stop) = listen().await?;
        let bare = l.local_addr()?;
        stops.push(tx);
        let router = Router::new()
            .route("/api/v1/me", get(bare_me))
            .route("/four-reads/me", get(bare_four_reads))
            .with_state(db.db.clone());
        tokio::spawn(async move { axum::serve(l, router).with_graceful_shutdown(stop).await });

        let (l, tx, stop) = listen().await?;
        let kith = l.local_addr()?;
        stops.push(tx);
        let state = kith_web::WebState::new(app, kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() });
        tokio::spawn(kith_web::serve(l, state, stop));

        Ok(Some(Servers { db, user_id: done.user_id, org_id: done.org_id, token, hello, bare, kith, stops }))
    }

    /// Each target answers 200 with what it should, before anything is timed.
    async fn check(&self) -> Result<()> {
        load::expect_ok(self.hello, "/hello", None).await?;
        let bare = load::expect_ok(self.bare, "/api/v1/me", Some(&self.token)).await?;
        let four = load::expect_ok(self.bare, "/four-reads/me", Some(&self.token)).await?;
        let kith = load::expect_ok(self.kith, "/api/v1/me", Some(&self.token)).await?;
        let (user, org) = (self.user_id.to_string(), self.org_id.to_string());
        if !bare.contains(&org) || !four.contains(&user) || !four.contains(&org) || !kith.contains(&user) {
            bail!("unexpected /me bodies: bare {bare}, four reads {four}, kith {kith}");
        }
        let (status, _) = load::probe(self.bare, "/api/v1/me", Some("kith_pat_wrong")).await?;
        if status != StatusCode::UNAUTHORIZED {
            bail!("the bare handler accepted a wrong token ({status})");
        }
        Ok(())
    }

    async fn stop(self) -> Result<()> {
        for s in self.stops {
            let _ = s.send(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.db.db.close().await;
        if self.db.raw_url.starts_with("postgres") {
            drop_postgres_database(&self.db.raw_url).await?;
        }
        Ok(())
    }
}

/// The bare figure: what any token-authenticated endpoint must at least do —
/// hash the presented token and find it with one indexed read.
async fn bare_me(State(db): State<Db>, req: Request) -> Response {
    let headers = req.headers();
    let Some(secret) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match kith_store::tokens::find_active(&db, &kith_crypto::token_hash(secret)).await {
        Ok(Some(t)) => {
            Json(serde_json::json!({"user_id": t.user_id, "org_id": t.org_id, "token": t.name})).into_response()
        }
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Diagnostic: the reads Kith's /me makes — the token, the membership (both in
/// `tokens::authenticate`), then the user and the workspace together (as
/// `identity::me`) — with nothing else around them.
async fn bare_four_reads(State(db): State<Db>, req: Request) -> Response {
    let headers = req.headers();
    let Some(secret) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let lookup = async {
        let Some(t) = kith_store::tokens::find_active(&db, &kith_crypto::token_hash(secret)).await? else {
            return Ok(None);
        };
        let Some(m) = kith_store::members::get(&db, t.org_id, t.user_id).await? else {
            return Ok(None);
        };
        let (u, w) =
            tokio::try_join!(kith_store::users::get(&db, t.user_id), kith_store::workspaces::get(&db, t.org_id))?;
        Ok::<_, kith_store::StoreError>(u.zip(w).map(|(u, w)| (m, u, w)))
    };
    match lookup.await {
        Ok(Some((m, u, w))) => Json(serde_json::json!({
            "user": {"id": u.id, "email": u.email, "name": u.name, "created_at_ms": u.created_ms},
            "workspace": {"id": w.id, "name": w.name, "role": m.role, "version": w.version},
        }))
        .into_response(),
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Remove the database `kith_testkit` made for this run.
pub(crate) async fn drop_postgres_database(url: &str) -> Result<()> {
    let name = url.split('?').next().and_then(|u| u.rsplit('/').next()).context("database name")?;
    if !name.starts_with("kith_t_") {
        bail!("refusing to drop {name}: not a test database");
    }
    let base = std::env::var("KITH_TEST_POSTGRES_URL")?;
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
    Ok(())
}

/// The release binary under the same load: default logging (info, one line
/// per request, to a file), two background workers, rate limit off.
pub struct ProcessRun {
    /// One per round, back to back on the same process.
    pub runs: Vec<Run>,
    pub rss_idle_kib: u64,
    pub rss_after_kib: u64,
    pub peak_kib: u64,
    pub log_bytes: u64,
}

pub fn process_run(kith_bin: &Path, opts: &Options) -> Result<ProcessRun> {
    let scratch = process::Scratch::new("me")?;
    let data = scratch.path().join("data");
    let seeded = process::seed_account(kith_bin, &data)?;
    let log = scratch.path().join("serve.log");
    let mut server = process::spawn_serve(kith_bin, &data, &log, &[("KITH_API_RATE_LIMIT", "0")])?;
    let outcome = (|| -> Result<ProcessRun> {
        server.wait_ready(Duration::from_secs(30))?;
        std::thread::sleep(Duration::from_secs(2));
        let (rss_idle_kib, _) = process::memory_kib(server.pid())?;
        let load_rt = runtime(LOAD_THREADS, std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))?;
        let spec = LoadSpec {
            addr: server.addr,
            path: "/api/v1/me".into(),
            bearer: Some(seeded.token.clone()),
            connections: opts.connections,
            warmup: opts.warmup,
            duration: opts.duration,
        };
        let pid = server.pid();
        let body = load_rt.block_on(load::expect_ok(spec.addr, &spec.path, spec.bearer.as_deref()))?;
        if !body.contains(&seeded.user_id.to_string()) {
            bail!("unexpected /me body from kith serve: {body}");
        }
        let mut runs = Vec::new();
        for round in 0..opts.rounds {
            eprintln!(
                "  round {} kith serve (release process): {} connections, {:?} warm-up + {:?}",
                round + 1,
                spec.connections,
                spec.warmup,
                spec.duration
            );
            process::wait_for_quiet(opts.max_quiet_wait)?;
            let (result, cpu) = load_rt.block_on(measure(&spec, Some(pid)))?;
            runs.push(Run {
                target: Target::Kith,
                backend: Some(Backend::Sqlite),
                round,
                result,
                server_cpu: cpu.child,
                postgres_cpu: cpu.postgres,
                load_cpu: cpu.load_threads,
                other_cpu: cpu.machine.saturating_sub(cpu.own + cpu.child + cpu.postgres),
            });
        }
        load_rt.shutdown_timeout(Duration::from_secs(5));
        std::thread::sleep(Duration::from_secs(2));
        let (rss_after_kib, peak_kib) = process::memory_kib(server.pid())?;
        Ok(ProcessRun {
            runs,
            rss_idle_kib,
            rss_after_kib,
            peak_kib,
            log_bytes: std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0),
        })
    })();
    server.stop()?;
    outcome
}
