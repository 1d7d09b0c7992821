//! kith-infra: adapters to the outside world — outbound HTTP, and later object
//! storage, mail, event bus, clock. Never touches the database.

pub mod outbound;
