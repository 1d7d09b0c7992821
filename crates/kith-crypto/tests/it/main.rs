//! Integration tests for kith-crypto's public API.

mod blind;
mod keys;
mod password;
mod seal;
mod token;
mod totp;
