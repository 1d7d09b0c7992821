//! The omnichannel inbox (issue #4): channels and their credentials,
//! provider webhooks stored before they are answered, the processing job
//! that turns an event into contact + conversation + message, the
//! conversations API, outbound sends through the providers, and the consent
//! ledger.
//!
//! Who sees what: a conversation is visible to whoever may see its contact,
//! through the one visibility filter of kith-store. Inbound messages only
//! ever match or create workspace-shared contacts (`everyone`), so by
//! default the whole team sees every conversation; an admin who narrows a
//! contact's visibility narrows its conversations with it. Reading needs
//! `ReadRecords`; answering, notes, assignment and status need
//! `WriteRecords`; channels need `ManageChannels` (admins).

pub mod attachments;
pub mod canned;
pub mod channels;
pub mod conversations;
pub mod email;
pub mod events;
pub mod group_commit;
pub mod ingest;
pub mod media;
pub mod messages;
pub mod outbound;
pub mod process;
pub mod ratelimit;

use crate::worker::Registry;
use crate::{App, ProviderBases};
use kith_infra::events::Event;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const PROCESS_JOB: &str = "inbox.process";
pub const SEND_JOB: &str = "inbox.send";

/// How long a node trusts its cached copy of a channel's credentials. Edits
/// on this node invalidate at once; this bounds how long another node's
/// edit (or disconnect) takes to be seen here.
const CHANNEL_CACHE_TTL: Duration = Duration::from_secs(30);
/// Timeout of calls to a provider made inside a request (webhook registration).
pub const INTERACTIVE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn register(r: &mut Registry) {
    r.register(PROCESS_JOB, process::run);
    r.register(SEND_JOB, messages::run_send);
    r.register(conversations::WAKE_JOB, conversations::run_wake);
    r.register(attachments::DELETE_JOB, attachments::run_delete);
    r.register(media::MEDIA_JOB, media::run);
    r.register(attachments::SWEEP_JOB, attachments::run_sweep);
}

/// A channel as the webhook path needs it: opened credentials, cached.
#[derive(Debug, Clone)]
pub(crate) struct CachedChannel {
    pub org_id: Uuid,
    pub kind: String,
    pub route_key: Option<String>,
    pub config: serde_json::Map<String, serde_json::Value>,
}

impl CachedChannel {
    pub fn secret(&self, key: &str) -> &str {
        self.config.get(key).and_then(|v| v.as_str()).unwrap_or("")
    }
}

/// What the inbox keeps per process: provider clients and the channel cache.
pub(crate) struct InboxState {
    pub http: reqwest::Client,
    pub bases: ProviderBases,
    cache: RwLock<HashMap<Uuid, (Instant, Arc<CachedChannel>)>>,
    /// The webhook ingest writer (group commit).
    pub ingest: group_commit::GroupCommit,
}

impl InboxState {
    pub fn new(bases: &ProviderBases) -> InboxState {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the provider HTTP client builds with static settings");
        InboxState {
            http,
            bases: bases.clone(),
            cache: RwLock::new(HashMap::new()),
            ingest: group_commit::GroupCommit::new(),
        }
    }

    pub fn cached(&self, id: Uuid) -> Option<Arc<CachedChannel>> {
        let cache = self.cache.read().expect("channel cache lock");
        cache.get(&id).filter(|(at, _)| at.elapsed() < CHANNEL_CACHE_TTL).map(|(_, c)| c.clone())
    }

    pub fn remember(&self, id: Uuid, c: Arc<CachedChannel>) {
        let mut cache = self.cache.write().expect("channel cache lock");
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _)| at.elapsed() < CHANNEL_CACHE_TTL);
        }
        cache.insert(id, (Instant::now(), c));
    }

    pub fn forget(&self, id: Uuid) {
        self.cache.write().expect("channel cache lock").remove(&id);
    }

    pub fn twilio(&self) -> kith_providers::twilio::Client {
        kith_providers::twilio::Client::new(self.http.clone(), self.bases.twilio.clone())
    }

    pub fn meta(&self) -> kith_providers::meta::Client {
        kith_providers::meta::Client::new(self.http.clone(), self.bases.meta_graph.clone())
    }

    pub fn telegram(&self) -> kith_providers::telegram::Client {
        kith_providers::telegram::Client::new(self.http.clone(), self.bases.telegram.clone())
    }

    pub fn viber(&self) -> kith_providers::viber::Client {
        kith_providers::viber::Client::new(self.http.clone(), self.bases.viber.clone())
    }
}

/// The lock key serialising inbound matching of one sender in a workspace:
/// the first 8 bytes of SHA-256 over the workspace and the sender's handle
/// (stable across nodes and versions).
pub(crate) fn sender_lock_key(org_id: Uuid, kind: &str, value: &str) -> i64 {
    let mut input = org_id.as_bytes().to_vec();
    input.extend_from_slice(kind.as_bytes());
    input.push(0);
    input.extend_from_slice(value.as_bytes());
    let digest = kith_crypto::sha256(&input);
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

pub(crate) fn publish(app: &App, org_id: Uuid, kind: &'static str, conversation_id: Uuid, message_id: Option<Uuid>) {
    app.events().publish(Event { org_id, kind, conversation_id: Some(conversation_id), message_id });
}

/// The first characters of a text, on a character boundary.
pub(crate) fn preview(text: &str, chars: usize) -> String {
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().nth(chars).is_some() {
        out.push('…');
    }
    out
}

/// Rank of a delivery state: a message never moves to a lower one.
pub(crate) fn state_rank(state: &str) -> i32 {
    match state {
        "queued" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "failed" => 4,
        _ => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_differ_by_workspace_and_handle() {
        let org = Uuid::now_v7();
        let a = sender_lock_key(org, "phone", "+15550001");
        assert_eq!(a, sender_lock_key(org, "phone", "+15550001"));
        assert_ne!(a, sender_lock_key(org, "phone", "+15550002"));
        assert_ne!(a, sender_lock_key(Uuid::now_v7(), "phone", "+15550001"));
    }

    #[test]
    fn previews_cut_on_characters() {
        assert_eq!(preview("héllo wörld", 5), "héllo…");
        assert_eq!(preview("short", 10), "short");
    }

    #[test]
    fn states_only_move_forward() {
        assert!(state_rank("delivered") > state_rank("sent"));
        assert!(state_rank("read") > state_rank("delivered"));
        assert!(state_rank("failed") > state_rank("read"));
        assert!(state_rank("received") < state_rank("queued"));
    }
}
