//! kith-infra: adapters to the outside world — outbound HTTP and SMTP mail, and
//! later object storage, event bus, clock. Never touches the database.

pub mod events;
pub mod imap;
pub mod mail;
pub mod objects;
pub mod outbound;
pub mod smtp;
