//! `kith-bench inbox`: the three figures of issue #4's "Measure", each with
//! Kith's own server in this process (`kith_web::serve`, the whole router,
//! on a fresh database like `me`):
//!
//! 1. signed Twilio inbound webhooks at 64 connections: sustained rate,
//!    p50/p99 acknowledgement latency, then row counts (zero lost, zero
//!    duplicated, deliberate redeliveries stored once; after the processing
//!    jobs ran, one message per event) — beside the raw engine doing the
//!    same two INSERTs (event + job) per transaction at the same concurrency;
//! 2. acknowledgement → `message.created` on a connected `/events` client
//!    at 500 webhooks/s, with the job workers running in the server;
//! 3. outbound: 10,000 queued replies from 20 senders limited to 25/s each,
//!    through a stand-in Twilio that answers 429 to every 10th call.

mod outbound;
mod post;
mod sse;
mod webhooks;

use crate::me::{self, Backend};
use crate::process;
use anyhow::{anyhow, bail, Context as _, Result};
use kith_app::identity::{create_account_as_operator, SignUp};
use kith_app::inbox::channels::{self, NewChannel};
use kith_app::worker::{Registry, Worker};
use kith_app::{App, AppSettings, Keyring, MasterKeys, ProviderBases};
use kith_domain::{Actor, Context, Credential, Role};
use kith_testkit::TestDb;
use post::Hook;
use serde_json::{json, Map};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

pub const HOOK_GOAL_RATE: f64 = 2000.0;
pub const HOOK_GOAL_P99_MS: f64 = 100.0;
pub const SSE_GOAL_P99_MS: f64 = 200.0;
pub const OUTBOUND_GOAL_SLACK: f64 = 0.20;

pub const AUTH_TOKEN: &str = "bench-twilio-auth-token";
const EMAIL: &str = "inbox-bench@example.com";

#[derive(Debug, Clone)]
pub struct Options {
    pub backends: Vec<Backend>,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub max_quiet_wait: Duration,
    /// Which figures (1 webhooks, 2 SSE, 3 outbound).
    pub figures: Vec<u8>,
    /// Webhooks per second of the SSE figure.
    pub sse_rate: f64,
    pub outbound_messages: usize,
    pub outbound_senders: usize,
    pub outbound_per_second: f64,
    /// Every Nth call to the stand-in Twilio is answered 429.
    pub outbound_429_every: usize,
    /// Where figure 3 writes the stand-in's calls (CSV), if anywhere.
    pub calls_out: Option<std::path::PathBuf>,
    /// Background job workers (as `kith serve`'s default).
    pub workers: usize,
    /// Longest wait for jobs to drain (processing, sending).
    pub drain_timeout: Duration,
}

/// Kith serving one workspace on a fresh database, in this process.
pub struct Server {
    pub db: TestDb,
    pub app: App,
    pub addr: SocketAddr,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub token: String,
    pub channels: Vec<channels::Channel>,
    stop: Option<oneshot::Sender<()>>,
    workers: Option<(watch::Sender<bool>, Vec<tokio::task::JoinHandle<()>>)>,
}

/// What the server's channels are.
pub struct ChannelSpec {
    pub count: usize,
    /// `rate_limits.per_second` of each channel.
    pub per_second: Option<f64>,
}

impl Server {
    pub async fn start(backend: Backend, twilio: Option<String>, spec: &ChannelSpec) -> Result<Server> {
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => TestDb::postgres().await.context("KITH_TEST_POSTGRES_URL is not set")?,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let settings = AppSettings {
            public_url: format!("http://{addr}"),
            allow_private_networks: true,
            provider_bases: ProviderBases {
                twilio: twilio.unwrap_or_else(|| "http://127.0.0.1:9".into()),
                ..ProviderBases::default()
            },
            ..AppSettings::default()
        };
        let app =
            App::new(db.db.clone(), Keyring::new(MasterKeys::single(kith_crypto::SecretKey::generate())), settings)?;
        let signup = SignUp {
            email: EMAIL.into(),
            name: "Inbox bench".into(),
            password: "correct horse battery staple inbox".into(),
            workspace_name: Some("Inbox bench".into()),
            invitation: None,
        };
        let done = create_account_as_operator(&app, signup).await.map_err(|e| anyhow!("create account: {e}"))?;
        let (_, token) = kith_app::tokens::create_for_member(&app, done.org_id, EMAIL, "bench")
            .await
            .map_err(|e| anyhow!("create token: {e}"))?;
        let ctx = owner(done.org_id, done.user_id);
        let mut made = Vec::new();
        for i in 0..spec.count {
            let mut config = Map::new();
            config.insert("account_sid".into(), json!(format!("AC{:032}", i)));
            config.insert("auth_token".into(), json!(AUTH_TOKEN));
            config.insert("from".into(), json!(sender_number(i)));
            if let Some(r) = spec.per_second {
                config.insert("rate_limits".into(), json!({"per_second": r}));
            }
            let input = NewChannel { kind: "twilio_sms".into(), name: format!("SMS {i}"), config };
            made.push(channels::create(&app, &ctx, &input).await.map_err(|e| anyhow!("create channel: {e} ({e:?})"))?);
        }
        let (tx, rx) = oneshot::channel::<()>();
        let state =
            kith_web::WebState::new(app.clone(), kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() });
        tokio::spawn(kith_web::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Ok(Server {
            db,
            app,
            addr,
            org_id: done.org_id,
            user_id: done.user_id,
            token,
            channels: made,
            stop: Some(tx),
            workers: None,
        })
    }

    pub fn ctx(&self) -> Context {
        owner(self.org_id, self.user_id)
    }

    /// Start `n` job workers as `kith serve` does (default idle wait).
    pub fn start_workers(&mut self, n: usize) {
        let (tx, rx) = watch::channel(false);
        let handles =
            (0..n).map(|_| tokio::spawn(Worker::new(self.app.clone(), Registry::standard()).run(rx.clone()))).collect();
        self.workers = Some((tx, handles));
    }

    pub async fn stop_workers(&mut self) {
        if let Some((tx, handles)) = self.workers.take() {
            let _ = tx.send(true);
            for h in handles {
                let _ = h.await;
            }
        }
    }

    /// A signed inbound SMS to channel `c`: message id `sid`, from `from`.
    pub fn hook(&self, c: usize, sid: &str, from: &str, text: &str) -> Result<Hook> {
        let channel = &self.channels[c];
        let body = form(&[
            ("ToCountry", "US"),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("Body", text),
            ("To", &sender_number(c)),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", &format!("AC{:032}", c)),
            ("From", from),
            ("ApiVersion", "2010-04-01"),
        ]);
        // Twilio signs the URL it called: the channel's webhook URL (the server's public URL + path).
        let url = &channel.webhook_url;
        let signature = kith_providers::twilio::compute_signature(
            AUTH_TOKEN,
            url,
            &kith_providers::twilio::form_pairs(body.as_bytes()),
        );
        let path = url.strip_prefix(&format!("http://{}", self.addr)).context("webhook URL on another host")?;
        Ok(Hook {
            path: path.to_string(),
            body: body.into(),
            signature: signature.parse().context("signature header")?,
            sid: sid.to_string(),
        })
    }

    /// Wait until no job of `kind` is waiting or running (dead ones are left); how long it took.
    pub async fn drain(&self, kind: &str, timeout: Duration) -> Result<(Duration, bool)> {
        let started = std::time::Instant::now();
        let sql = format!("SELECT COUNT(*) FROM jobs WHERE kind = '{kind}' AND status <> 'dead'");
        loop {
            if self.raw_count(&sql).await? == 0 {
                return Ok((started.elapsed(), true));
            }
            if started.elapsed() > timeout {
                return Ok((started.elapsed(), false));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn raw_count(&self, sql: &str) -> Result<i64> {
        Raw::open(&self.db.raw_url).await?.count(sql).await
    }

    pub async fn stop(mut self) -> Result<()> {
        self.stop_workers().await;
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.db.db.close().await;
        if self.db.raw_url.starts_with("postgres") {
            me::drop_postgres_database(&self.db.raw_url).await?;
        }
        Ok(())
    }
}

fn owner(org_id: Uuid, user_id: Uuid) -> Context {
    Context { org_id, actor: Actor { user_id, credential: Credential::Cli }, role: Role::Owner }
}

/// The phone number of channel (sender) `i`.
pub fn sender_number(i: usize) -> String {
    format!("+1555{:07}", 1_000_000 + i)
}

/// A form-encoded body, as Twilio sends it.
pub fn form(pairs: &[(&str, &str)]) -> String {
    url_encode(pairs)
}

fn url_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// A connection straight to the database (around Kith): counts and ids.
pub enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    pub async fn open(url: &str) -> Result<Raw> {
        use sqlx::Connection;
        Ok(if url.starts_with("postgres") {
            Raw::Postgres(sqlx::PgConnection::connect(url).await?)
        } else {
            Raw::Sqlite(sqlx::SqliteConnection::connect(url).await?)
        })
    }

    pub async fn count(&mut self, sql: &str) -> Result<i64> {
        Ok(match self {
            Raw::Sqlite(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await?,
            Raw::Postgres(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await?,
        })
    }

    pub async fn strings(&mut self, sql: &str) -> Result<Vec<String>> {
        Ok(match self {
            Raw::Sqlite(c) => sqlx::query_scalar::<_, String>(sql).fetch_all(c).await?,
            Raw::Postgres(c) => sqlx::query_scalar::<_, String>(sql).fetch_all(c).await?,
        })
    }

    /// Rows of (uuid, text).
    pub async fn id_text(&mut self, sql: &str) -> Result<Vec<(Uuid, Option<String>)>> {
        Ok(match self {
            Raw::Sqlite(c) => sqlx::query_as::<_, (Uuid, Option<String>)>(sql).fetch_all(c).await?,
            Raw::Postgres(c) => sqlx::query_as::<_, (Uuid, Option<String>)>(sql).fetch_all(c).await?,
        })
    }

    /// Rows of (uuid, uuid).
    pub async fn id_pairs(&mut self, sql: &str) -> Result<Vec<(Uuid, Uuid)>> {
        Ok(match self {
            Raw::Sqlite(c) => sqlx::query_as::<_, (Uuid, Uuid)>(sql).fetch_all(c).await?,
            Raw::Postgres(c) => sqlx::query_as::<_, (Uuid, Uuid)>(sql).fetch_all(c).await?,
        })
    }
}

/// The measured report of the whole command.
pub fn run(opts: &Options) -> Result<String> {
    let mut out = String::new();
    if opts.figures.contains(&1) {
        let mut figs = Vec::new();
        for &b in &opts.backends {
            eprintln!("inbox: signed Twilio webhooks on {}", b.label());
            figs.push(webhooks::run(b, opts)?);
        }
        out += &webhooks::markdown(&figs, opts);
    }
    if opts.figures.contains(&2) {
        let mut figs = Vec::new();
        for &b in &opts.backends {
            eprintln!("inbox: acknowledgement → SSE on {}", b.label());
            figs.push(sse::run(b, opts)?);
        }
        out += &sse::markdown(&figs, opts);
    }
    if opts.figures.contains(&3) {
        let mut figs = Vec::new();
        for &b in &opts.backends {
            eprintln!("inbox: outbound through a stand-in Twilio on {}", b.label());
            figs.push(outbound::run(b, opts)?);
        }
        out += &outbound::markdown(&figs, opts);
    }
    if out.is_empty() {
        bail!("no figure chosen (--figures 1,2,3)");
    }
    Ok(out)
}

/// CPU clocks at a window's edges: the machine, this process, the load
/// generator's threads, PostgreSQL's processes.
#[derive(Clone, Copy, Default)]
pub struct Cpu {
    machine: Duration,
    own: Duration,
    load: Duration,
    postgres: Duration,
}

impl Cpu {
    pub fn take() -> Result<Cpu> {
        Ok(Cpu {
            machine: process::machine_busy()?,
            own: process::cpu_time(std::process::id())?,
            load: process::own_threads_cpu_time(me::LOAD_THREADS)?,
            postgres: process::processes_cpu_time("postgres")?,
        })
    }

    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            machine: self.machine.saturating_sub(earlier.machine),
            own: self.own.saturating_sub(earlier.own),
            load: self.load.saturating_sub(earlier.load),
            postgres: self.postgres.saturating_sub(earlier.postgres),
        }
    }

    /// "server / PostgreSQL / generator / other" in cores over `window`.
    pub fn cells(&self, window: Duration) -> String {
        let w = window.as_secs_f64().max(1e-9);
        let server = self.own.saturating_sub(self.load);
        let other = self.machine.saturating_sub(self.own + self.postgres);
        format!(
            "{:.2} / {:.2} / {:.2} / {:.2}",
            server.as_secs_f64() / w,
            self.postgres.as_secs_f64() / w,
            self.load.as_secs_f64() / w,
            other.as_secs_f64() / w
        )
    }
}

pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "**no**"
    }
}
