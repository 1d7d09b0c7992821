//! kith-domain: the vocabulary every other crate shares — ids, time, roles,
//! the request [`Context`], pagination and pure rules.
//!
//! It must never do I/O: no database, no network, no clock reads outside
//! [`time::now_ms`], no logging. Everything here is testable as plain values.

pub mod business_hours;
pub mod consent;
pub mod context;
pub mod crm;
pub mod cron;
pub mod ids;
pub mod page;
pub mod phone;
pub mod quiet_hours;
pub mod role;
pub mod template;
pub mod time;
pub mod validate;
pub mod visibility;

pub use context::{Actor, Context, Credential};
pub use ids::new_id;
pub use page::{Cursor, PageRequest, MAX_PAGE_LIMIT};
pub use role::{Action, Role};
