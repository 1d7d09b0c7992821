//! The only place where SQLite and PostgreSQL need different SQL text.

use crate::db::Backend;
use crate::search::SearchWords;

/// Claim ready jobs. PostgreSQL skips rows other workers hold
/// (`FOR UPDATE SKIP LOCKED`); SQLite has one writer, so the plain
/// sub-select is already exclusive.
pub fn claim_jobs_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until_ms = $2,
                 attempts = attempts + 1, updated_ms = $3
             WHERE id IN (SELECT id FROM jobs
                          WHERE (status = 'queued' AND run_at_ms <= $3)
                             OR (status = 'running' AND lease_until_ms < $3)
                          ORDER BY run_at_ms LIMIT $4)
             RETURNING id, kind, org_id, payload, attempts, max_attempts"
        }
        Backend::Postgres => {
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until_ms = $2,
                 attempts = attempts + 1, updated_ms = $3
             WHERE id IN (SELECT id FROM jobs
                          WHERE (status = 'queued' AND run_at_ms <= $3)
                             OR (status = 'running' AND lease_until_ms < $3)
                          ORDER BY run_at_ms LIMIT $4
                          FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, org_id, payload, attempts, max_attempts"
        }
    }
}

/// Serialize sign-ups for the rest of the transaction, so "is this the first
/// user?" has one answer. SQLite's single writer does that already.
pub fn lock_users_sql(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"),
    }
}

/// A full-text query over `search_docs` in the engine's own syntax.
///
/// The plain words must all be present, as prefixes unless `words.whole`;
/// the blind tokens must all be present. Either group matching is a hit.
/// The words are already normalised to letters and digits by the caller,
/// so no user text reaches the query syntax.
pub fn fulltext_query(backend: Backend, words: &SearchWords) -> String {
    let group = |words: &[String], prefix: bool| -> Option<String> {
        if words.is_empty() {
            return None;
        }
        let parts: Vec<String> = words
            .iter()
            .map(|w| match (backend, prefix) {
                (Backend::Sqlite, true) => format!("\"{w}\"*"),
                (Backend::Sqlite, false) => format!("\"{w}\""),
                (Backend::Postgres, true) => format!("'{w}':*"),
                (Backend::Postgres, false) => format!("'{w}'"),
            })
            .collect();
        let and = if backend == Backend::Sqlite { " AND " } else { " & " };
        Some(format!("({})", parts.join(and)))
    };
    let or = if backend == Backend::Sqlite { " OR " } else { " | " };
    [group(&words.plain, !words.whole), group(&words.tokens, false)].into_iter().flatten().collect::<Vec<_>>().join(or)
}

/// Serialise a critical section keyed by one `i64` (`$1`) until the
/// transaction ends: inbound matching of one sender. SQLite's single writer
/// (`BEGIN IMMEDIATE`) already serialises every write transaction.
pub fn advisory_xact_lock_sql(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some("SELECT pg_advisory_xact_lock($1)"),
    }
}

/// The workspace column as a statement that looks rows up by a list of ids
/// should compare it. SQLite's sampled statistics ([`crate::Db::optimize`])
/// estimate about a thousand rows per workspace however large it is, so for
/// a few hundred ids its planner would rather walk the workspace's index than
/// look each id up by primary key (47 ms instead of 9 ms for 500 ids among
/// 200,000 contacts); a unary `+` keeps the column out of index selection.
/// PostgreSQL's statistics count the workspace's rows, so it needs no hint.
pub fn org_column_for_id_list(backend: Backend, alias: &str) -> String {
    match backend {
        Backend::Sqlite => format!("+{alias}.org_id"),
        Backend::Postgres => format!("{alias}.org_id"),
    }
}
