//! The real `kith` binary, driven as an operator would: configuration,
//! start-up, the admin CLI while a server runs, key rotation, shutdown.

mod cli;
mod crash;
mod objects_config;
mod replay;
