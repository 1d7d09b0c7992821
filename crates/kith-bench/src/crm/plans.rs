//! Query plans and engine-only queries, run on a connection of the bench's
//! own (read-only on SQLite) beside Kith's pool. The statements are built
//! with kith-store's own builders where they are public (list, visibility
//! filter, search head and full-text query) and copied where they are not.

use anyhow::Result;
use kith_domain::page::PageRequest;
use kith_domain::visibility::Viewer;
use kith_store::records::{list_query, ListFilter, SortKey};
use kith_store::sql::{Arg, Sql};
use kith_store::visibility::push_filter;
use kith_store::Backend;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

macro_rules! bind_arg {
    ($q:expr, $a:expr) => {
        match $a {
            Arg::Uuid(v) => $q.bind(*v),
            Arg::OptUuid(v) => $q.bind(*v),
            Arg::I64(v) => $q.bind(*v),
            Arg::OptI64(v) => $q.bind(*v),
            Arg::F64(v) => $q.bind(*v),
            Arg::OptF64(v) => $q.bind(*v),
            Arg::Text(v) => $q.bind(v.as_str()),
            Arg::OptText(v) => $q.bind(v.as_deref()),
            Arg::Bool(v) => $q.bind(*v),
        }
    };
}

/// A pool of the bench's own on the seeded database.
#[derive(Clone)]
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Raw {
    /// On PostgreSQL every statement of this pool is cancelled after
    /// `statement_timeout` (a runaway plan must not run on for minutes).
    pub async fn open(url: &str, statement_timeout: Duration) -> Result<Raw> {
        Ok(if url.starts_with("postgres") {
            let ms = statement_timeout.as_millis().max(1);
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        sqlx::query(&format!("SET statement_timeout = {ms}")).execute(conn).await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await?;
            Raw::Postgres(pool)
        } else {
            let opts = SqliteConnectOptions::from_str(url)?.read_only(true);
            Raw::Sqlite(SqlitePoolOptions::new().max_connections(2).connect_with(opts).await?)
        })
    }

    /// The engine's plan: `EXPLAIN QUERY PLAN` (SQLite, as a tree), or
    /// `EXPLAIN (ANALYZE, COSTS OFF)` (PostgreSQL, run for real).
    pub async fn explain(&self, sql: &Sql) -> Result<String> {
        match self {
            Raw::Sqlite(p) => {
                let text = format!("EXPLAIN QUERY PLAN {}", sql.text());
                let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(&text);
                for a in sql.args() {
                    q = bind_arg!(q, a);
                }
                let rows = q.fetch_all(p).await?;
                let mut depth: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
                let mut out = String::new();
                for (id, parent, _, detail) in rows {
                    let d = depth.get(&parent).map(|d| d + 1).unwrap_or(0);
                    depth.insert(id, d);
                    out += &format!("{}{detail}\n", "  ".repeat(d));
                }
                Ok(out)
            }
            Raw::Postgres(p) => {
                let text = format!("EXPLAIN (ANALYZE, COSTS OFF) {}", sql.text());
                let mut q = sqlx::query_as::<_, (String,)>(&text);
                for a in sql.args() {
                    q = bind_arg!(q, a);
                }
                Ok(q.fetch_all(p).await?.into_iter().map(|(l,)| l + "\n").collect())
            }
        }
    }

    /// Run a statement, counting its rows.
    pub async fn count_rows(&self, sql: &Sql) -> Result<usize> {
        Ok(match self {
            Raw::Sqlite(p) => {
                let mut q = sqlx::query(sql.text());
                for a in sql.args() {
                    q = bind_arg!(q, a);
                }
                q.fetch_all(p).await?.len()
            }
            Raw::Postgres(p) => {
                let mut q = sqlx::query(sql.text());
                for a in sql.args() {
                    q = bind_arg!(q, a);
                }
                q.fetch_all(p).await?.len()
            }
        })
    }

    /// PostgreSQL: cancel every other statement running in this database
    /// (what a killed client leaves behind). A no-op on SQLite.
    pub async fn cancel_others(&self) -> Result<u64> {
        Ok(match self {
            Raw::Sqlite(_) => 0,
            Raw::Postgres(p) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM (SELECT pg_cancel_backend(pid) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active') x",
                )
                .fetch_one(p)
                .await? as u64
            }
        })
    }

    /// The engine alone: the best 20 documents for a full-text query by the
    /// engine's own rank, with no join, workspace or visibility filter.
    pub async fn bare_fts(&self, query: &str) -> Result<usize> {
        Ok(match self {
            Raw::Sqlite(p) => sqlx::query_scalar::<_, i64>(
                "SELECT rowid FROM fts_search WHERE fts_search MATCH $1 ORDER BY rank LIMIT 20",
            )
            .bind(query)
            .fetch_all(p)
            .await?
            .len(),
            Raw::Postgres(p) => sqlx::query_scalar::<_, i64>(
                "SELECT doc_id FROM search_docs WHERE fts_vector @@ to_tsquery('simple', $1)
                 ORDER BY ts_rank(fts_vector, to_tsquery('simple', $1)) DESC LIMIT 20",
            )
            .bind(query)
            .fetch_all(p)
            .await?
            .len(),
        })
    }

    pub async fn close(self) {
        match self {
            Raw::Sqlite(p) => p.close().await,
            Raw::Postgres(p) => p.close().await,
        }
    }
}

/// Columns of `kith_store::contacts` (private there; copied).
const CONTACT_COLUMNS: &str =
    "r.id, r.org_id, r.first_name, r.last_name, r.emails, r.phones, r.addresses, r.social, r.company_id,
    r.title, r.birthday, r.time_zone, r.source, r.custom, r.visibility, r.owner_id, r.team_id, r.created_by, r.version,
    r.created_ms, r.updated_ms";
/// `kith_store::contacts::list`'s statement.
pub fn contact_list(viewer: &Viewer, filter: &ListFilter, page: &PageRequest) -> Sql {
    list_query(CONTACT_COLUMNS, "contacts", "contact", viewer, filter, SortKey::UpdatedDesc, page)
}

/// `kith_store::search::search`'s statement.
pub fn search(backend: Backend, viewer: &Viewer, words: &kith_store::search::SearchWords, limit: i64) -> Sql {
    kith_store::search::search_sql(backend, viewer, words, limit)
}

/// `kith_store::deals::board_totals`'s statement (copied).
pub fn board_totals(viewer: &Viewer, pipeline_id: Uuid) -> Sql {
    let mut sql = Sql::new(
        "SELECT r.stage_id, r.currency, COUNT(*) AS deals, CAST(COALESCE(SUM(r.value_minor), 0) AS BIGINT) AS value_minor
         FROM deals r WHERE r.org_id = ",
    );
    sql.bind(viewer.org_id).push(" AND r.pipeline_id = ").bind(pipeline_id).push(" AND r.status = 'open' AND ");
    push_filter(&mut sql, "r", viewer);
    sql.push(" GROUP BY r.stage_id, r.currency");
    sql
}
