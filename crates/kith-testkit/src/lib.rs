//! kith-testkit: what tests share — fresh databases on both backends, and
//! (in [`app`]) a whole Kith served on port 0.
//!
//! Every helper here makes new, private state: no test depends on another.
//! Never used by the shipped binary.

pub mod app;
pub mod imap;
pub mod s3;
pub mod smtp;

pub use app::{spawn_all, spawn_app, spawn_with, Account, TestApp, TestServer};
use kith_store::{Db, DbOptions};
use std::path::PathBuf;

/// Whether CI demands every external program (PostgreSQL, Chromium): a test
/// that would skip must fail instead.
pub fn require_all() -> bool {
    std::env::var("KITH_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1" || v == "true")
}

/// Skip (print why and return true) or, under `KITH_TEST_REQUIRE_ALL`, panic.
pub fn skip_or_fail(reason: &str) -> bool {
    if require_all() {
        panic!("required by KITH_TEST_REQUIRE_ALL but unavailable: {reason}");
    }
    eprintln!("skipped: {reason}");
    true
}

/// A fresh temporary folder, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("kith-test-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A migrated database for one test, and what keeps it alive.
pub struct TestDb {
    pub db: Db,
    pub label: &'static str,
    /// Where the raw database is, for tests that must reach around the store
    /// (e.g. tampering with a row): `sqlite://…` or `postgres://…`.
    pub raw_url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A new SQLite database in its own folder.
    pub async fn sqlite() -> TestDb {
        let dir = TempDir::new();
        let db = Db::open_default(dir.path(), &DbOptions::default()).await.expect("open sqlite");
        db.migrate().await.expect("migrate sqlite");
        let raw_url = format!("sqlite://{}", dir.path().join("kith.db").display());
        TestDb { db, label: "sqlite", raw_url, _dir: Some(dir) }
    }

    /// A new PostgreSQL database, when `KITH_TEST_POSTGRES_URL` is set.
    pub async fn postgres() -> Option<TestDb> {
        let url = postgres_url().await?;
        let db = Db::connect(&url, &DbOptions::default()).await.expect("connect postgres");
        db.migrate().await.expect("migrate postgres");
        Some(TestDb { db, label: "postgres", raw_url: url, _dir: None })
    }

    /// SQLite always; PostgreSQL too when configured (or a failure under
    /// `KITH_TEST_REQUIRE_ALL`). Run a storage test body once per entry.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite().await];
        match TestDb::postgres().await {
            Some(pg) => dbs.push(pg),
            None => {
                skip_or_fail("KITH_TEST_POSTGRES_URL is not set; PostgreSQL half of the test");
            }
        }
        dbs
    }
}

/// Run a raw query returning one bytes column, around the store — what an
/// attacker holding a copy of the database would read.
pub async fn raw_bytes(raw_url: &str, sql: &str) -> Vec<Vec<u8>> {
    use sqlx::Connection;
    if raw_url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(raw_url).await.expect("raw postgres");
        sqlx::query_scalar::<_, Vec<u8>>(sql).fetch_all(&mut c).await.expect("raw query")
    } else {
        let mut c = sqlx::SqliteConnection::connect(raw_url).await.expect("raw sqlite");
        sqlx::query_scalar::<_, Vec<u8>>(sql).fetch_all(&mut c).await.expect("raw query")
    }
}

/// Run a raw query returning one integer (a `COUNT(*)`), around the store.
pub async fn raw_i64(raw_url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    if raw_url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(raw_url).await.expect("raw postgres");
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.expect("raw query")
    } else {
        let mut c = sqlx::SqliteConnection::connect(raw_url).await.expect("raw sqlite");
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.expect("raw query")
    }
}

/// Run a raw query returning one id column, around the store.
pub async fn raw_ids(raw_url: &str, sql: &str) -> Vec<uuid::Uuid> {
    use sqlx::Connection;
    if raw_url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(raw_url).await.expect("raw postgres");
        sqlx::query_scalar::<_, uuid::Uuid>(sql).fetch_all(&mut c).await.expect("raw query")
    } else {
        let mut c = sqlx::SqliteConnection::connect(raw_url).await.expect("raw sqlite");
        sqlx::query_scalar::<_, uuid::Uuid>(sql).fetch_all(&mut c).await.expect("raw query")
    }
}

/// Run a raw statement (tests that tamper with rows).
pub async fn raw_execute(raw_url: &str, sql: &str) -> u64 {
    use sqlx::Connection;
    if raw_url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(raw_url).await.expect("raw postgres");
        sqlx::query(sql).execute(&mut c).await.expect("raw statement").rows_affected()
    } else {
        let mut c = sqlx::SqliteConnection::connect(raw_url).await.expect("raw sqlite");
        sqlx::query(sql).execute(&mut c).await.expect("raw statement").rows_affected()
    }
}

impl Drop for TestDb {
    /// Drop a test's PostgreSQL database when the test is done (FORCE ends the
    /// pool's connections), on a thread of its own since Drop cannot await.
    fn drop(&mut self) {
        let (Some(base), true) = (std::env::var("KITH_TEST_POSTGRES_URL").ok(), self.label == "postgres") else {
            return;
        };
        let Some(name) = self.raw_url.rsplit('/').next().map(|n| n.split('?').next().unwrap_or(n).to_string()) else {
            return;
        };
        if !name.starts_with("kith_t_") {
            return;
        }
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&base).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await.ok()
            })
        })
        .join();
    }
}

/// Create a new, empty PostgreSQL database and return its URL.
pub async fn postgres_url() -> Option<String> {
    let base = std::env::var("KITH_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())?;
    let name = format!("kith_t_{}", uuid::Uuid::now_v7().simple());
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&base).await.expect("connect KITH_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create test database");
    let mut url = url_with_database(&base, &name);
    if url.is_empty() {
        url = base;
    }
    Some(url)
}

fn url_with_database(base: &str, name: &str) -> String {
    // postgres://user@host:port/db?params → replace the path segment.
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = head[scheme_end..].find('/').map(|i| scheme_end + i).unwrap_or(head.len());
    let mut url = format!("{}/{}", &head[..host_end], name);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_in_url() {
        assert_eq!(
            super::url_with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(super::url_with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            super::url_with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
