//! Configuration: built-in defaults, then an optional TOML file, then `KITH_*`
//! environment variables, then command-line flags — each overriding the one
//! before. Unknown keys in the file and unknown `KITH_*` variables are errors,
//! so a typo never silently falls back to a default.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use kith_app::SignupMode;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting, with its environment variable (flags are in `main.rs`).
pub const KNOWN_ENV: &[&str] = &[
    "KITH_CONFIG",
    "KITH_DATA",
    "KITH_DATABASE_URL",
    "KITH_LISTEN",
    "KITH_PUBLIC_URL",
    "KITH_SIGNUP",
    "KITH_MASTER_KEY",
    "KITH_MASTER_KEY_FILE",
    "KITH_MASTER_KEY_PREVIOUS",
    "KITH_ALLOW_PRIVATE_NETWORKS",
    "KITH_SQLITE_FULL_SYNC",
    "KITH_DB_MAX_CONNECTIONS",
    "KITH_API_RATE_LIMIT",
    "KITH_TRUST_FORWARDED_FOR",
    "KITH_LOG",
    "KITH_LOG_FORMAT",
    "KITH_WORKERS",
    "KITH_SMTP_URL",
    "KITH_SMTP_FROM",
    "KITH_TWILIO_API_BASE",
    "KITH_META_GRAPH_BASE",
    "KITH_TELEGRAM_API_BASE",
    "KITH_VIBER_API_BASE",
    "KITH_OBJECT_STORE",
    "KITH_S3_ACCESS_KEY_ID",
    "KITH_S3_SECRET_ACCESS_KEY",
];

/// Settings shared by every subcommand (flags win over env, env over file).
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Folder for the SQLite database, files and (by default) the master key.
    #[arg(long, global = true, env = "KITH_DATA")]
    pub data: Option<PathBuf>,
    /// Optional TOML configuration file.
    #[arg(long, global = true, env = "KITH_CONFIG")]
    pub config: Option<PathBuf>,
    /// `postgres://…` to use PostgreSQL; default: SQLite in the data folder.
    #[arg(long, global = true, env = "KITH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log format: `text` or `json`.
    #[arg(long, global = true, env = "KITH_LOG_FORMAT")]
    pub log_format: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "KITH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The URL people reach this server at (links, cookies); default: the listen address.
    #[arg(long, env = "KITH_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// The optional TOML file. Same names as the environment variables, lowercase, without `KITH_`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub signup: Option<String>,
    pub master_key_file: Option<PathBuf>,
    pub allow_private_networks: Option<bool>,
    pub sqlite_full_sync: Option<bool>,
    pub db_max_connections: Option<u32>,
    pub api_rate_limit: Option<u32>,
    pub trust_forwarded_for: Option<bool>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub workers: Option<u32>,
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub object_store: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data: PathBuf,
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub public_url: String,
    pub signup: SignupMode,
    pub master_key_file: Option<PathBuf>,
    pub allow_private_networks: bool,
    pub sqlite_full_sync: bool,
    pub db_max_connections: u32,
    pub api_rate_limit: u32,
    pub trust_forwarded_for: bool,
    pub log: String,
    pub log_format: String,
    pub workers: u32,
    /// Outgoing e-mail: both set, or neither.
    pub smtp: Option<(String, String)>,
    /// The messaging providers' API base URLs (environment only; defaults are the real services).
    pub provider_bases: kith_app::ProviderBases,
    /// Where attachments are kept: `<data>/files` unless `object_store` says otherwise.
    pub object_store: kith_app::objects::ObjectStoreConfig,
}

pub const DEFAULT_TOML: &str = r#"# Kith configuration. Every key is optional; the values shown are the defaults.
# Each key can also be set as an environment variable: KITH_ + the key in upper case
# (e.g. KITH_DATABASE_URL), and most as a command-line flag. Flags win over the
# environment, the environment over this file. Unknown keys are an error.

# Folder for the SQLite database, uploaded files and (by default) the master key.
data = "./kith-data"

# Leave unset for SQLite in the data folder. For PostgreSQL:
# database_url = "postgres://kith@localhost/kith"

# Address to listen on.
listen = "127.0.0.1:8080"

# The URL people reach Kith at (invitation links, secure cookies when https).
# Default: http:// + the listen address.
# public_url = "https://kith.example.com"

# Who may create an account after the first user: "invite" or "open".
signup = "invite"

# Master key file (base64, 32 bytes). Default: <data>/master.key, generated on first start.
# The key can also come from KITH_MASTER_KEY (environment only, never from this file).
# master_key_file = "/etc/kith/master.key"

# Allow outbound fetches to private and loopback addresses (local AI models, tests).
allow_private_networks = false

# SQLite synchronous=FULL: survive power loss, not only a killed process (slower writes).
sqlite_full_sync = false

# Database connections per node (PostgreSQL; SQLite has one writer and this many readers).
# Each job worker runs up to 4 jobs at once: keep this above 4 x workers plus the web's share.
db_max_connections = 16

# API requests per second per token (burst: twice that). 0 = unlimited.
api_rate_limit = 50

# Take the client address from X-Forwarded-For (only behind a proxy you run).
trust_forwarded_for = false

# Log filter (tracing syntax) and format ("text" or "json").
log = "info"
log_format = "text"

# Background job workers per node.
workers = 2

# Outgoing e-mail (invitations, address confirmation, password reset). Unset: no
# e-mail; invitation links are shown to the inviter and passwords are reset with
# `kith admin reset-password`. smtp:// requires STARTTLS, smtps:// is TLS from the
# start, smtp+plain:// has no TLS (a local relay only).
# smtp_url = "smtp://user:password@mail.example.com:587"
# smtp_from = "Kith <kith@example.com>"

# Where attachments are kept. Default: the folder "files" in the data folder. An
# S3-compatible bucket (path-style URLs; AWS, MinIO, Garage, Ceph…):
#   object_store = "s3://my-bucket?endpoint=https://s3.eu-west-1.amazonaws.com&region=eu-west-1"
# with the key pair in the environment only: KITH_S3_ACCESS_KEY_ID and
# KITH_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
# AWS_SESSION_TOKEN). Several nodes need a bucket, not a folder.
# object_store = "/var/lib/kith/files"
"#;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_bool(name: &str) -> Result<Option<bool>> {
    match env(name).as_deref() {
        None => Ok(None),
        Some("1" | "true" | "yes" | "on") => Ok(Some(true)),
        Some("0" | "false" | "no" | "off") => Ok(Some(false)),
        Some(other) => bail!("{name}={other} is not a boolean (use true or false)"),
    }
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Result<Option<T>> {
    match env(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| anyhow::anyhow!("{name}={v} is not valid")),
    }
}

/// Refuse `KITH_*` variables we do not know (test-harness variables excepted).
pub fn check_unknown_env() -> Result<()> {
    let unknown: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("KITH_") && !k.starts_with("KITH_TEST_") && !KNOWN_ENV.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "unknown environment variable(s): {} — see `kith config print-default` for the settings",
            unknown.join(", ")
        );
    }
    Ok(())
}

pub fn load(global: &GlobalArgs, serve: &ServeArgs) -> Result<Config> {
    check_unknown_env()?;
    let file: FileConfig = match &global.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let listen = serve.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid default"));
    let signup = match env("KITH_SIGNUP").or(file.signup).as_deref() {
        None | Some("invite") => SignupMode::Invite,
        Some("open") => SignupMode::Open,
        Some(other) => bail!("signup = {other:?}: use \"open\" or \"invite\""),
    };
    let log_format = global.log_format.clone().or(file.log_format).unwrap_or_else(|| "text".into());
    if log_format != "text" && log_format != "json" {
        bail!("log_format = {log_format:?}: use \"text\" or \"json\"");
    }
    let public_url = serve.public_url.clone().or(file.public_url).unwrap_or_else(|| format!("http://{listen}"));
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        bail!("public_url must start with http:// or https://");
    }
    let data = global.data.clone().or(file.data).unwrap_or_else(|| PathBuf::from("./kith-data"));
    Ok(Config {
        database_url: global.database_url.clone().or(file.database_url),
        listen,
        public_url: public_url.trim_end_matches('/').to_string(),
        signup,
        master_key_file: env("KITH_MASTER_KEY_FILE").map(PathBuf::from).or(file.master_key_file),
        allow_private_networks: env_bool("KITH_ALLOW_PRIVATE_NETWORKS")?
            .or(file.allow_private_networks)
            .unwrap_or(false),
        sqlite_full_sync: env_bool("KITH_SQLITE_FULL_SYNC")?.or(file.sqlite_full_sync).unwrap_or(false),
        db_max_connections: env_parse("KITH_DB_MAX_CONNECTIONS")?.or(file.db_max_connections).unwrap_or(16),
        api_rate_limit: env_parse("KITH_API_RATE_LIMIT")?.or(file.api_rate_limit).unwrap_or(50),
        trust_forwarded_for: env_bool("KITH_TRUST_FORWARDED_FOR")?.or(file.trust_forwarded_for).unwrap_or(false),
        log: env("KITH_LOG").or(file.log).unwrap_or_else(|| "info".into()),
        log_format,
        workers: env_parse("KITH_WORKERS")?.or(file.workers).unwrap_or(2),
        smtp: match (env("KITH_SMTP_URL").or(file.smtp_url), env("KITH_SMTP_FROM").or(file.smtp_from)) {
            (Some(url), Some(from)) => Some((url, from)),
            (None, None) => None,
            _ => bail!("smtp_url and smtp_from go together: set both for e-mail, or neither"),
        },
        provider_bases: provider_bases()?,
        object_store: object_store(env("KITH_OBJECT_STORE").or(file.object_store), &data)?,
        data,
    })
}

/// `object_store` (a folder or `s3://bucket?endpoint=…&region=…`), with the
/// S3 key pair from `KITH_S3_*` or the usual `AWS_*` variables.
fn object_store(value: Option<String>, data: &Path) -> Result<kith_app::objects::ObjectStoreConfig> {
    use kith_app::objects::{sigv4::Credentials, ObjectStoreConfig};
    let Some(value) = value else { return Ok(ObjectStoreConfig::Local(data.join("files"))) };
    let key_id = env("KITH_S3_ACCESS_KEY_ID").or_else(|| env("AWS_ACCESS_KEY_ID"));
    let secret = env("KITH_S3_SECRET_ACCESS_KEY").or_else(|| env("AWS_SECRET_ACCESS_KEY"));
    let credentials = match (key_id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            Some(Credentials { access_key_id, secret_access_key, session_token: env("AWS_SESSION_TOKEN") })
        }
        _ => None,
    };
    ObjectStoreConfig::parse(&value, credentials).map_err(|e| anyhow::anyhow!("object_store: {e}"))
}

/// `KITH_TWILIO_API_BASE`, `KITH_META_GRAPH_BASE`, `KITH_TELEGRAM_API_BASE`,
/// `KITH_VIBER_API_BASE`: where the providers' APIs are (stand-ins in tests).
fn provider_bases() -> Result<kith_app::ProviderBases> {
    let mut bases = kith_app::ProviderBases::default();
    for (name, slot) in [
        ("KITH_TWILIO_API_BASE", &mut bases.twilio),
        ("KITH_META_GRAPH_BASE", &mut bases.meta_graph),
        ("KITH_TELEGRAM_API_BASE", &mut bases.telegram),
        ("KITH_VIBER_API_BASE", &mut bases.viber),
    ] {
        if let Some(v) = env(name) {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                bail!("{name} must start with http:// or https://");
            }
            *slot = v.trim_end_matches('/').to_string();
        }
    }
    Ok(bases)
}

impl Config {
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| self.data.join("master.key"))
    }
}

/// Create the data folder if needed; true when it was created just now.
pub fn ensure_data_dir(dir: &Path) -> Result<bool> {
    if dir.exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating data folder {}", dir.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_parses_and_unknown_keys_fail() {
        let f: FileConfig = toml::from_str(DEFAULT_TOML).expect("the printed default is valid");
        assert_eq!(f.listen, Some("127.0.0.1:8080".parse().unwrap()));
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
    }
}
