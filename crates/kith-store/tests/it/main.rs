//! kith-store integration tests: each runs on SQLite and, when
//! `KITH_TEST_POSTGRES_URL` is set, on PostgreSQL too.

mod idempotency;
mod jobs;
mod migrations;
mod plans;
