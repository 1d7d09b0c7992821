//! The AI assistant (MISSION §4): the workspace's settings and endpoint,
//! metering and limits, the knowledge base and its retrieval, grounded
//! auto-replies with handoff, and the on-demand features.
//!
//! Nothing here sends a byte to a provider unless an admin enabled the
//! feature (promise 8); every call is metered before it is made.

pub mod assist;
pub mod autoreply;
pub mod calls;
pub mod crawl;
pub mod documents;
pub mod knowledge;
pub mod llm;
pub mod metering;
pub mod related;
pub mod retrieval;
pub mod settings;
