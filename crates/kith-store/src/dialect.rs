//! The only place where SQLite and PostgreSQL need different SQL text.

use crate::db::Backend;

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
