//! `kith`: the one binary. `kith serve` runs everything; the other
//! subcommands are for operators and scripts, and work against the configured
//! database while a server runs on it.

mod config;
mod keys;

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use config::{Config, GlobalArgs, ServeArgs};
use kith_app::{App, AppSettings, Keyring};
use kith_store::{Db, DbOptions};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "kith",
    version,
    about = "Kith: a self-hosted client platform (CRM, inbox, calendar, documents, billing)."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and background workers.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Operator tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user and a workspace they own; prints {"user_id", "org_id"}.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        org_name: String,
        /// File holding the password (its first line), so it never appears in `ps`.
        #[arg(long)]
        password_file: PathBuf,
    },
    /// Create an API token for a member of a workspace; prints only the token.
    CreateToken {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        name: String,
    },
    /// Set a user's password and sign out all their sessions.
    ResetPassword {
        #[arg(long)]
        email: String,
        /// File holding the new password; omitted: a random one is generated and printed.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Check every workspace's audit chain (or one); reports the first broken link.
    VerifyAudit {
        #[arg(long)]
        org: Option<uuid::Uuid>,
    },
    /// List background jobs that ran out of attempts (one JSON object per line).
    DeadJobs {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Run a dead job again with a fresh set of attempts.
    ReplayJob { id: uuid::Uuid },
    /// List a channel's raw inbound events, newest first (one JSON object per line).
    InboundEvents {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        channel: uuid::Uuid,
        /// Only events not processed yet (or whose processing failed).
        #[arg(long)]
        unprocessed: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Process a channel's inbound events again: one event, or every one not processed yet.
    /// Processing is idempotent: an event already processed changes nothing.
    ReplayEvents {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        channel: uuid::Uuid,
        #[arg(long, conflicts_with = "unprocessed", required_unless_present = "unprocessed")]
        event: Option<uuid::Uuid>,
        #[arg(long)]
        unprocessed: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Give every workspace a new data key (old values stay readable).
    /// With --master: move everything to a new master key.
    Rotate {
        #[arg(long)]
        master: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a configuration file with every setting at its default.
    PrintDefault,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::Config(ConfigCommand::PrintDefault) = cli.command {
        print!("{}", config::DEFAULT_TOML);
        return Ok(());
    }
    let serve_args = match &cli.command {
        Command::Serve(a) => a.clone(),
        _ => ServeArgs::default(),
    };
    let config = config::load(&cli.global, &serve_args)?;
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command, config))
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Open the configured database and apply migrations.
async fn open_db(config: &Config) -> Result<Db> {
    let opts = DbOptions { sqlite_full_sync: config.sqlite_full_sync, max_connections: config.db_max_connections };
    let db = match &config.database_url {
        Some(url) => Db::connect(url, &opts).await?,
        None => Db::open_default(&config.data, &opts).await?,
    };
    db.migrate().await.context("applying migrations")?;
    if db.backend() == kith_store::Backend::Sqlite {
        // SQLite has no autovacuum to keep planner statistics: refresh stale ones at start.
        db.optimize().await.context("refreshing query statistics")?;
    }
    Ok(db)
}

async fn build_app(config: &Config, create_key: bool) -> Result<App> {
    if config::ensure_data_dir(&config.data)? {
        tracing::warn!(path = %config.data.display(), "CREATED A NEW DATA FOLDER: this is a fresh Kith instance");
    }
    let db = open_db(config).await?;
    let (master, _) = keys::load(&config.master_key_path(), create_key)?;
    let settings = AppSettings {
        signup: config.signup,
        public_url: config.public_url.clone(),
        allow_private_networks: config.allow_private_networks,
        mail: config.smtp.as_ref().map(|(url, from)| kith_app::MailConfig {
            url: url.clone(),
            from: from.clone(),
            timeout: kith_app::DEFAULT_MAIL_TIMEOUT,
        }),
        provider_bases: config.provider_bases.clone(),
        object_store: Some(
            kith_app::objects::ObjectStore::new(&config.object_store).context("opening the object store")?,
        ),
        ..AppSettings::default()
    };
    Ok(App::new(db, Keyring::new(master), settings)?)
}

async fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve(_) => serve(config).await,
        Command::Migrate => {
            config::ensure_data_dir(&config.data)?;
            open_db(&config).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Admin(cmd) => admin(cmd, config).await,
        Command::Keys(KeysCommand::Rotate { master }) => rotate(master, config).await,
        Command::Config(_) => unreachable!("handled before start-up"),
    }
}

async fn serve(config: Config) -> Result<()> {
    let started = Instant::now();
    let app = build_app(&config, true).await?;
    let web = kith_web::WebConfig {
        secure_cookies: config.public_url.starts_with("https://"),
        api_rate_per_second: config.api_rate_limit,
        trust_forwarded_for: config.trust_forwarded_for,
    };
    let state = kith_web::WebState::new(app.clone(), web);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;

    kith_app::worker::install_standard_schedules(&app).await?;
    kith_app::worker::release_orphaned_leases(&app).await?;
    // Several nodes on one PostgreSQL database see each other's live events.
    let _live_relay = kith_app::live::start(&app).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..config.workers {
        let worker = kith_app::worker::Worker::new(app.clone(), kith_app::worker::Registry::standard());
        workers.push(tokio::spawn(worker.run(stop_rx.clone())));
    }
    // One IMAP poller per connected e-mail channel (issue #4 §6).
    workers.push(tokio::spawn(kith_app::inbox::email::run_pollers(app.clone(), stop_rx.clone())));
    tracing::info!(
        listen = %listener.local_addr()?,
        backend = ?app.db().backend(),
        ready_ms = started.elapsed().as_millis() as u64,
        "kith is ready"
    );
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests and jobs");
    };
    kith_web::serve(listener, state, shutdown).await?;
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    app.db().close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn read_password(path: &PathBuf) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(pw)
}

/// Print an app error with its field details, for scripts and people.
fn app_err(e: kith_app::AppError) -> anyhow::Error {
    match e {
        kith_app::AppError::Validation(fields) => {
            let list: Vec<String> = fields.into_iter().map(|f| format!("{} {}", f.field, f.message)).collect();
            anyhow::anyhow!("invalid input: {}", list.join("; "))
        }
        other => anyhow::anyhow!("{} ({})", other, other.code().as_str()),
    }
}

async fn admin(cmd: AdminCommand, config: Config) -> Result<()> {
    let app = build_app(&config, true).await?;
    match cmd {
        AdminCommand::CreateUser { email, name, org_name, password_file } => {
            let password = read_password(&password_file)?;
            let input =
                kith_app::identity::SignUp { email, name, password, workspace_name: Some(org_name), invitation: None };
            let done = kith_app::identity::create_account_as_operator(&app, input).await.map_err(app_err)?;
            println!("{}", serde_json::json!({"user_id": done.user_id, "org_id": done.org_id}));
        }
        AdminCommand::CreateToken { email, org, name } => {
            let (_, secret) = kith_app::tokens::create_for_member(&app, org, &email, &name).await.map_err(app_err)?;
            println!("{secret}");
        }
        AdminCommand::ResetPassword { email, password_file } => {
            let (password, generated) = match password_file {
                Some(p) => (read_password(&p)?, false),
                None => (kith_crypto::random_token("").chars().take(20).collect(), true),
            };
            kith_app::identity::admin_reset_password(&app, &email, &password).await.map_err(app_err)?;
            if generated {
                println!("{password}");
            }
            eprintln!("password reset; every session of {email} is signed out");
        }
        AdminCommand::VerifyAudit { org } => {
            let orgs = match org {
                Some(o) => vec![o],
                None => all_workspaces(&app).await?,
            };
            let mut broken = 0;
            for org_id in orgs {
                match kith_app::audit::verify(app.db(), org_id).await.map_err(app_err)? {
                    kith_app::audit::ChainCheck::Intact { entries } => {
                        println!("{org_id}: intact ({entries} entries)")
                    }
                    kith_app::audit::ChainCheck::Broken { seq, reason } => {
                        broken += 1;
                        println!("{org_id}: BROKEN at entry {seq}: {reason}");
                    }
                }
            }
            if broken > 0 {
                bail!("{broken} workspace audit chain(s) broken");
            }
        }
        AdminCommand::DeadJobs { limit } => {
            for job in kith_app::worker::dead_jobs(&app, limit).await.map_err(app_err)? {
                let line = serde_json::json!({
                    "id": job.id, "kind": job.kind, "org_id": job.org_id, "attempts": job.attempts,
                    "last_error": job.last_error, "updated_at_ms": job.updated_ms,
                });
                println!("{line}");
            }
        }
        AdminCommand::ReplayJob { id } => {
            kith_app::worker::replay_dead(&app, id).await.map_err(app_err)?;
            eprintln!("job {id} queued again");
        }
        AdminCommand::InboundEvents { org, channel, unprocessed, limit } => {
            let ctx = operator(org);
            for event in inbound_events(&app, &ctx, channel, unprocessed, limit).await? {
                println!("{}", serde_json::to_string(&event)?);
            }
        }
        AdminCommand::ReplayEvents { org, channel, event, unprocessed } => {
            let ctx = operator(org);
            let ids = match event {
                Some(id) => vec![id],
                None => inbound_events(&app, &ctx, channel, unprocessed, usize::MAX)
                    .await?
                    .into_iter()
                    .map(|e| e.id)
                    .collect(),
            };
            for id in &ids {
                kith_app::inbox::events::replay(&app, &ctx, channel, *id).await.map_err(app_err)?;
            }
            eprintln!("{} event(s) queued for processing again", ids.len());
        }
    }
    Ok(())
}

/// The operator at the command line, acting as an owner of one workspace.
fn operator(org_id: uuid::Uuid) -> kith_domain::Context {
    use kith_domain::context::{Actor, Credential};
    kith_domain::Context {
        org_id,
        actor: Actor { user_id: uuid::Uuid::nil(), credential: Credential::Cli },
        role: kith_domain::role::Role::Owner,
    }
}

/// A channel's events, newest first, up to `limit` (only unprocessed ones
/// when asked), read page by page.
async fn inbound_events(
    app: &App,
    ctx: &kith_domain::Context,
    channel: uuid::Uuid,
    unprocessed: bool,
    limit: usize,
) -> Result<Vec<kith_app::inbox::events::InboundEventInfo>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = kith_domain::page::PageRequest::new(Some(200), after);
        let page = kith_app::inbox::events::list(app, ctx, channel, &page).await.map_err(app_err)?;
        for e in page.items {
            if out.len() >= limit {
                return Ok(out);
            }
            if !unprocessed || e.processed_at_ms.is_none() || e.error.is_some() {
                out.push(e);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}

async fn all_workspaces(app: &App) -> Result<Vec<uuid::Uuid>> {
    let mut all = Vec::new();
    let mut after = uuid::Uuid::nil();
    loop {
        let page = kith_store::workspaces::ids_after(app.db(), after, 1000).await?;
        let Some(last) = page.last().copied() else {
            break;
        };
        all.extend(page);
        after = last;
    }
    Ok(all)
}

async fn rotate(master: bool, config: Config) -> Result<()> {
    if !master {
        let app = build_app(&config, false).await?;
        let n = kith_app::rotation::rotate_data_keys(&app).await.map_err(app_err)?;
        eprintln!("rotated the data key of {n} workspace(s); older values stay readable");
        return Ok(());
    }
    let path = config.master_key_path();
    let (existing, source) = keys::load(&path, false)?;
    let keys = match source {
        // With the key in the environment the operator sets the new key in
        // KITH_MASTER_KEY and the old one in KITH_MASTER_KEY_PREVIOUS; we adopt it.
        keys::Source::Env => existing,
        keys::Source::File => {
            let new = kith_crypto::SecretKey::generate();
            let mut all = vec![&new, &existing.current];
            all.extend(existing.previous.iter());
            keys::write_key_file(&path, &all)?;
            kith_app::MasterKeys {
                current: new.clone(),
                previous: std::iter::once(existing.current.clone()).chain(existing.previous.clone()).collect(),
            }
        }
    };
    config::ensure_data_dir(&config.data)?;
    let db = open_db(&config).await?;
    let app = App::new(db, Keyring::new(keys.clone()), AppSettings::default())?;
    let (rewrapped, resealed) = kith_app::rotation::adopt_current_master(&app).await.map_err(app_err)?;
    if let keys::Source::File = source {
        keys::write_key_file(&path, &[&keys.current])?;
    }
    eprintln!(
        "master key is now {}; rewrapped {rewrapped} data key(s), resealed {resealed} user secret(s)",
        keys.current.id()
    );
    Ok(())
}
