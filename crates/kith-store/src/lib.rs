//! kith-store: everything that speaks SQL. One [`Db`] value holds a SQLite or
//! a PostgreSQL pool; every query is written once and runs on both.
//!
//! Backend differences live in [`dialect`] and nowhere else. This crate
//! never decides *whether* something may happen (that is kith-app's job):
//! it stores, finds and counts, always filtered by workspace (`org_id`).

#[macro_use]
mod macros;

pub mod activities;
pub mod ai;
pub mod ai_assist;
pub mod ai_replies;
pub mod attachments;
pub mod audit;
pub mod bulk;
pub mod channels;
pub mod companies;
pub mod contacts;
pub mod custom_fields;
pub mod db;
pub mod deals;
pub mod dialect;
pub mod email;
pub mod error;
pub mod exports;
pub mod files;
pub mod idempotency;
pub mod imports;
pub mod inbox;
pub mod invitations;
pub mod jobs;
pub mod keyring;
pub mod knowledge;
pub mod list_sort;
pub mod members;
pub mod notes;
pub mod notify;
pub mod one_time;
pub mod outbound;
pub mod records;
pub mod saved_views;
pub mod search;
pub mod sessions;
pub mod sql;
pub mod tasks;
pub mod teams;
pub mod throttle;
pub mod timeline;
pub mod tokens;
pub mod users;
pub mod visibility;
pub mod webhooks;
pub mod workspaces;

pub use db::{Backend, Db, DbOptions, Tx};
pub use error::StoreError;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
