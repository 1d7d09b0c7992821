//! Integration tests for kith-infra (one test binary per crate).

mod mail;
mod objects;
mod outbound_addresses;
mod outbound_fetch;
mod outbound_redirects;
mod outbound_urls;
mod support;
