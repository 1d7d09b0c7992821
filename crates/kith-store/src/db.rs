//! Opening the database, migrations, transactions and readiness.

use crate::{Result, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// SQLite: one writer connection (SQLite allows one writer at a time; queuing
/// in the pool is cheaper than busy-waiting on locks) and a pool of readers.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    pub(crate) read: SqlitePool,
    pub(crate) write: SqlitePool,
}

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `synchronous=FULL` on SQLite: survive power loss, not only a killed process.
    pub sqlite_full_sync: bool,
    pub max_connections: u32,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions { sqlite_full_sync: false, max_connections: 8 }
    }
}

impl Db {
    /// Open `url` (`sqlite://…` or `postgres://…`). A SQLite file is created
    /// only when the url asks for it (`?mode=rwc`) — [`Db::open_default`]
    /// does so for the data folder. A missing PostgreSQL database is an error.
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Db> {
        // Every pool below skips sqlx's ping before handing out a
        // connection: the pool already pings each connection when it comes
        // back (and drops a broken one there), so the ping on the way out
        // only found connections that broke while idle, at the price of a
        // round trip (to the server, or to SQLite's worker thread) before
        // every statement run on the pool. Such a connection now fails its
        // first statement instead, and is dropped; jobs retry.
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).map_err(StoreError::Connect)?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.max(2))
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await
                .map_err(StoreError::Connect)?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url).map_err(StoreError::Connect)?;
            Self::open_sqlite(connect, opts).await
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// The zero-configuration database: `kith.db` inside the data folder.
    pub async fn open_default(data_dir: &Path, opts: &DbOptions) -> Result<Db> {
        let connect = SqliteConnectOptions::new().filename(data_dir.join("kith.db")).create_if_missing(true);
        Self::open_sqlite(connect, opts).await
    }

    async fn open_sqlite(connect: SqliteConnectOptions, opts: &DbOptions) -> Result<Db> {
        let sync = if opts.sqlite_full_sync { SqliteSynchronous::Full } else { SqliteSynchronous::Normal };
        let connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sync)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory");
        // The one writer gets a larger page cache (64 MiB, used only as a
        // database grows): bulk writes touch index pages all over a large
        // file, and re-reading them from the OS on every batch dominated
        // imports into a million-contact workspace. It checkpoints the
        // write-ahead log every 10,000 pages (40 MiB) instead of SQLite's
        // 1,000: each checkpoint copies the pages written since the last one
        // into the database and syncs it, so the index pages a bulk write
        // touches in every transaction were copied and synced again after
        // every few transactions (an import spent a third of its time there).
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect.clone().pragma("cache_size", "-65536").pragma("wal_autocheckpoint", "10000"))
            .await
            .map_err(StoreError::Connect)?;
        let read = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(2))
            .test_before_acquire(false)
            .connect_with(connect.read_only(true))
            .await
            .map_err(StoreError::Connect)?;
        Ok(Db::Sqlite(SqliteDb { read, write }))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Sqlite(s) => SQLITE_MIGRATIONS.run(&s.write).await?,
            Db::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Begin a write transaction. On SQLite it is `BEGIN IMMEDIATE`: a
    /// deferred transaction that reads and then writes fails under concurrency.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(s) => Tx::Sqlite(s.write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Ready means: the database answers and every embedded migration is applied.
    pub async fn ready(&self) -> Result<bool> {
        const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success = $1";
        let (applied, expected): (Vec<i64>, Vec<i64>) = match self {
            Db::Sqlite(s) => (
                sqlx::query_scalar(SQL).bind(true).fetch_all(&s.read).await?,
                SQLITE_MIGRATIONS.iter().map(|m| m.version).collect(),
            ),
            Db::Postgres(p) => (
                sqlx::query_scalar(SQL).bind(true).fetch_all(p).await?,
                POSTGRES_MIGRATIONS.iter().map(|m| m.version).collect(),
            ),
        };
        Ok(expected.iter().all(|v| applied.contains(v)))
    }

    /// Versions and descriptions of the embedded migrations, per backend (for the lockstep test).
    pub fn embedded_migrations(backend: Backend) -> Vec<(i64, String)> {
        let m = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        m.iter().map(|m| (m.version, m.description.to_string())).collect()
    }

    /// Tables and their columns as the live schema has them, sorted — so
    /// tests can prove both backends hold the same shape.
    pub async fn schema_outline(&self) -> Result<Vec<(String, String)>> {
        let mut cols: Vec<(String, String)> = match self {
            Db::Sqlite(s) => {
                sqlx::query_as(
                    "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'
                       AND m.name NOT LIKE 'fts_%'",
                )
                .fetch_all(&s.read)
                .await?
            }
            Db::Postgres(p) => {
                sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'
                       AND column_name NOT LIKE 'fts_%'",
                )
                .fetch_all(p)
                .await?
            }
        };
        cols.sort();
        Ok(cols)
    }

    /// Refresh the query planner's statistics (at start-up and after bulk
    /// writes such as imports). SQLite keeps none until asked, and without
    /// them it can pick an index that turns a filtered list into a scan of
    /// every value (a custom-field filter probing by value instead of by
    /// record: seconds instead of milliseconds at 100k contacts). A sampled
    /// `ANALYZE` (about a thousand rows per index) takes a fraction of a
    /// second even at a million rows. PostgreSQL's autovacuum does this on
    /// its own schedule; analysing the CRM tables here just makes a fresh
    /// import's plans good at once.
    pub async fn optimize(&self) -> Result<()> {
        match self {
            Db::Sqlite(s) => {
                let mut conn = s.write.acquire().await?;
                sqlx::query("PRAGMA analysis_limit = 1000").execute(&mut *conn).await?;
                sqlx::query("ANALYZE").execute(&mut *conn).await?;
            }
            Db::Postgres(p) => {
                sqlx::query("ANALYZE contacts, contact_handles, companies, search_docs, record_tags, custom_values")
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    /// Flush the SQLite write-ahead log into the main file (after erasure,
    /// so deleted pages do not linger in the WAL). No-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        if let Db::Sqlite(s) = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&s.write).await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(s) => {
                s.read.close().await;
                s.write.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Strip a password from a URL before it goes into an error or a log line.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable url>".to_string(),
    }
}
