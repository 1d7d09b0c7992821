//! kith-app integration tests: the use cases against a real database.
//!
//! Every test runs its body once per entry of `TestApp::all()` (SQLite
//! always, PostgreSQL too when `KITH_TEST_POSTGRES_URL` is set), creates its
//! own users and workspaces, and depends on no other test.

mod ai_assist;
mod ai_assist_more;
mod ai_autoreply;
mod ai_core;
mod audit;
mod crm;
mod crm_lists;
mod exports;
mod identity;
mod imports;
mod inbox;
mod inbox_attachments;
mod inbox_attachments_delete;
mod inbox_email;
mod inbox_group_commit;
mod inbox_outbound;
mod inbox_outbound_files;
mod invitations;
mod isolation;
mod keyring;
mod knowledge;
mod knowledge_terms;
mod live;
mod members;
mod reminders;
mod support;
mod teams;
mod tokens;
mod two_factor;
mod webhooks;
mod worker;
