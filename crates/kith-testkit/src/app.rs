//! A whole Kith for one test: an [`App`] on a fresh database, optionally
//! served over HTTP on 127.0.0.1 port 0 (zero2prod's `spawn_app`).

use crate::TestDb;
use kith_app::identity::{create_account_as_operator, SignUp};
use kith_app::{App, AppSettings, Keyring, MasterKeys, SignupMode};
use kith_crypto::SecretKey;
use uuid::Uuid;

/// An app on a database, with its own random master key.
pub struct TestApp {
    pub app: App,
    pub label: &'static str,
    pub db: TestDb,
}

impl TestApp {
    pub fn new(db: TestDb, settings: AppSettings) -> TestApp {
        let app = App::new(db.db.clone(), Keyring::new(MasterKeys::single(SecretKey::generate())), settings)
            .expect("valid settings");
        TestApp { app, label: db.label, db }
    }

    /// One app per backend (SQLite always; PostgreSQL when configured).
    pub async fn all() -> Vec<TestApp> {
        TestDb::all().await.into_iter().map(|db| TestApp::new(db, test_settings())).collect()
    }

    pub async fn sqlite() -> TestApp {
        TestApp::new(TestDb::sqlite().await, test_settings())
    }

    /// A user with their own workspace (created as the operator would).
    pub async fn user(&self, email: &str) -> Account {
        account(&self.app, email).await
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

pub fn test_settings() -> AppSettings {
    AppSettings {
        signup: SignupMode::Open,
        public_url: "http://127.0.0.1".into(),
        allow_private_networks: true,
        ..AppSettings::default()
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub email: String,
}

pub async fn account(app: &App, email: &str) -> Account {
    let input = SignUp {
        email: email.into(),
        name: email.split('@').next().unwrap_or("user").into(),
        password: PASSWORD.into(),
        workspace_name: Some(format!("{email}'s workspace")),
        invitation: None,
    };
    let done = create_account_as_operator(app, input).await.expect("create account");
    Account { user_id: done.user_id, org_id: done.org_id, email: email.into() }
}

/// A running server for HTTP tests.
pub struct TestServer {
    pub base: String,
    /// The database under the server, for raw checks (see [`crate::raw_bytes`]).
    pub raw_url: String,
    pub app: App,
    pub label: &'static str,
    _db: TestDb,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A member account with its workspace, and an API token for it.
    pub async fn user_with_token(&self, email: &str) -> (Account, String) {
        let acct = account(&self.app, email).await;
        let (_, token) =
            kith_app::tokens::create_for_member(&self.app, acct.org_id, email, "test").await.expect("token");
        (acct, token)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serve a fresh Kith (SQLite) on an ephemeral port.
pub async fn spawn_app() -> TestServer {
    spawn_with(
        TestDb::sqlite().await,
        test_settings(),
        kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() },
    )
    .await
}

/// One server per backend.
pub async fn spawn_all() -> Vec<TestServer> {
    let mut out = Vec::new();
    for db in TestDb::all().await {
        out.push(
            spawn_with(db, test_settings(), kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() }).await,
        );
    }
    out
}

pub async fn spawn_with(db: TestDb, mut settings: AppSettings, web: kith_web::WebConfig) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = format!("http://{addr}");
    settings.public_url = base.clone();
    let label = db.label;
    let raw_url = db.raw_url.clone();
    let app = App::new(db.db.clone(), Keyring::new(MasterKeys::single(SecretKey::generate())), settings)
        .expect("valid settings");
    let state = kith_web::WebState::new(app.clone(), web);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = kith_web::serve(listener, state, async {
            let _ = rx.await;
        })
        .await;
    });
    TestServer { base, raw_url, app, label, _db: db, stop: Some(tx) }
}
