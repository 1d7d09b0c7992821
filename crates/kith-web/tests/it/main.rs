//! kith-web end-to-end tests: a real server on an ephemeral port, driven
//! over HTTP, on SQLite and (when configured) PostgreSQL.

mod ai_assist_web;
mod ai_chromium;
mod ai_inbox;
mod ai_web;
mod api;
mod assistant_web;
mod attachments_api;
mod attachments_delete;
mod browser;
mod crm_api;
mod crm_api2;
mod crm_ui;
mod crm_ui2;
mod crm_ui3;
mod exports_api;
mod helpers;
mod inbox_api;
mod inbox_outbound_api;
mod inbox_ui;
mod isolation;
mod knowledge_web;
mod mail;
mod ops;
mod ui;
