//! kith-app: the use cases. Every public function takes the [`App`] and an
//! explicit [`Context`] (or, before sign-in, the anonymous input), checks
//! permission and validates, then calls the store.
//!
//! This crate is where "may this happen?" is decided. It never speaks HTTP
//! and never writes SQL.

pub mod ai;
pub mod audit;
pub mod crm;
pub mod error;
pub mod idempotency;
pub mod identity;
pub mod inbox;
pub mod invitations;
pub mod keyring;
pub mod live;
pub mod mail;
pub mod members;
pub mod rotation;
pub mod teams;
pub mod throttle;
pub mod tokens;
pub mod webhooks;
pub mod worker;
pub mod workspaces;

pub use error::{AppError, ErrorCode};
pub use keyring::{Keyring, MasterKeys};
pub use kith_domain::Context;
pub use kith_infra::mail::{MailConfig, DEFAULT_MAIL_TIMEOUT};
/// The object store (attachments), for the binary's configuration.
pub use kith_infra::objects;

use kith_infra::mail::{MailError, Mailer};
use kith_infra::outbound::{OutboundClient, OutboundConfig};
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
    /// Let outbound fetches reach private and loopback addresses (local models, tests).
    pub allow_private_networks: bool,
    /// Outgoing e-mail (invitations, verification, password reset); None: no e-mail.
    pub mail: Option<MailConfig>,
    /// Where the messaging providers' APIs are (operator configuration; tests point them at stand-ins).
    pub provider_bases: ProviderBases,
    /// Where attachments are kept; None: a fresh temporary folder, removed with the app (tests).
    pub object_store: Option<kith_infra::objects::ObjectStore>,
}

/// Base URLs of the messaging providers' APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderBases {
    pub twilio: String,
    pub meta_graph: String,
    pub telegram: String,
    pub viber: String,
}

impl Default for ProviderBases {
    fn default() -> Self {
        ProviderBases {
            twilio: kith_providers::twilio::DEFAULT_API_BASE.into(),
            meta_graph: kith_providers::meta::DEFAULT_GRAPH_BASE.into(),
            telegram: kith_providers::telegram::DEFAULT_API_BASE.into(),
            viber: kith_providers::viber::DEFAULT_API_BASE.into(),
        }
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            signup: SignupMode::Invite,
            public_url: "http://127.0.0.1:8080".into(),
            session_idle_ms: 14 * kith_domain::time::DAY_MS,
            invitation_ttl_ms: 7 * kith_domain::time::DAY_MS,
            allow_private_networks: false,
            mail: None,
            provider_bases: ProviderBases::default(),
            object_store: None,
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
    outbound: OutboundClient,
    mailer: Option<Mailer>,
    events: kith_infra::events::EventBus,
    inbox: inbox::InboxState,
    objects: kith_infra::objects::ObjectStore,
    /// The temporary object folder made for an app without a configured store.
    objects_tmp: Option<std::path::PathBuf>,
}

impl Drop for AppInner {
    fn drop(&mut self) {
        if let Some(dir) = &self.objects_tmp {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl App {
    /// Fails only on invalid mail settings (checked without touching the network).
    pub fn new(db: Db, keyring: Keyring, settings: AppSettings) -> Result<App, MailError> {
        let outbound = OutboundClient::new(OutboundConfig {
            allow_private_networks: settings.allow_private_networks,
            ..Default::default()
        })
        .expect("the outbound HTTP client builds with static settings");
        let mailer = settings.mail.as_ref().map(Mailer::new).transpose()?;
        let inbox = inbox::InboxState::new(&settings.provider_bases);
        let events = kith_infra::events::EventBus::new();
        let (objects, objects_tmp) = match &settings.object_store {
            Some(store) => (store.clone(), None),
            None => {
                let dir = std::env::temp_dir().join(format!("kith-objects-{}", uuid::Uuid::new_v4().simple()));
                let config = kith_infra::objects::ObjectStoreConfig::Local(dir.clone());
                let store = kith_infra::objects::ObjectStore::new(&config).expect("a temporary object folder");
                (store, Some(dir))
            }
        };
        let inner = AppInner { db, keyring, settings, outbound, mailer, events, inbox, objects, objects_tmp };
        Ok(App { inner: Arc::new(inner) })
    }

    /// The mailer, when the operator configured SMTP.
    pub fn mailer(&self) -> Option<&Mailer> {
        self.inner.mailer.as_ref()
    }

    /// The SSRF-guarded client for every fetch of a workspace-supplied URL.
    pub fn outbound(&self) -> &OutboundClient {
        &self.inner.outbound
    }

    /// Where attachments are kept (a folder or an S3 bucket).
    pub fn objects(&self) -> &kith_infra::objects::ObjectStore {
        &self.inner.objects
    }

    /// The in-process event bus (live updates; ids only).
    pub fn events(&self) -> &kith_infra::events::EventBus {
        &self.inner.events
    }

    pub(crate) fn inbox(&self) -> &inbox::InboxState {
        &self.inner.inbox
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    /// The workspace's calling code for phones written without one.
    pub async fn phone_country_code(&self, org_id: uuid::Uuid) -> Result<String> {
        Ok(kith_store::workspaces::phone_country_code(self.db(), org_id).await?)
    }

    pub fn settings(&self) -> &AppSettings {
        &self.inner.settings
    }
}

/// The records use cases hand back, as the store reads them. Re-exported so
/// the web layer can render them without depending on the store.
pub mod records {
    pub use kith_store::audit::AuditEntryRow;
    pub use kith_store::invitations::InvitationRow;
    pub use kith_store::list_sort::{Sort, SortCursor, SortField, SortedPage, SortedPageRequest};
    pub use kith_store::members::MemberRow;
    pub use kith_store::records::{CustomFilter, CustomOp, ListFilter, SortKey};
    pub use kith_store::teams::{TeamMemberRow, TeamRow};
    pub use kith_store::tokens::TokenRow;
    pub use kith_store::users::UserRow;
    pub use kith_store::workspaces::{MyWorkspaceRow, WorkspaceRow};
}
