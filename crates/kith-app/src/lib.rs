//! kith-app: the use cases. Every public function takes the [`App`] and an
//! explicit [`Context`] (or, before sign-in, the anonymous input), checks
//! permission and validates, then calls the store.
//!
//! This crate is where "may this happen?" is decided. It never speaks HTTP
//! and never writes SQL.

pub mod audit;
pub mod error;
pub mod identity;
pub mod invitations;
pub mod keyring;
pub mod members;
pub mod teams;
pub mod throttle;
pub mod tokens;
pub mod worker;
pub mod workspaces;

pub use error::{AppError, ErrorCode};
pub use keyring::{Keyring, MasterKeys};
pub use kith_domain::Context;

use kith_store::Db;
use std::sync::Arc;

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignupMode {
    /// Anyone may sign up and gets a workspace of their own.
    Open,
    /// Only the first user (the operator) and people holding an invitation.
    Invite,
}

/// Settings the use cases need (a subset of the binary's configuration).
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub signup: SignupMode,
    /// Base URL that links in e-mails and invitation pages point at.
    pub public_url: String,
    /// How long a sign-in session lives without use.
    pub session_idle_ms: i64,
    pub invitation_ttl_ms: i64,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            signup: SignupMode::Invite,
            public_url: "http://127.0.0.1:8080".into(),
            session_idle_ms: 14 * kith_domain::time::DAY_MS,
            invitation_ttl_ms: 7 * kith_domain::time::DAY_MS,
        }
    }
}

/// Everything a use case needs, cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

struct AppInner {
    db: Db,
    keyring: Keyring,
    settings: AppSettings,
}

impl App {
    pub fn new(db: Db, keyring: Keyring, settings: AppSettings) -> App {
        App { inner: Arc::new(AppInner { db, keyring, settings }) }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    pub fn settings(&self) -> &AppSettings {
        &self.inner.settings
    }
}
