//! Live events across nodes (DESIGN.md, Events). Several nodes on one
//! PostgreSQL database each have their own in-process [`EventBus`]; the relay
//! started here sends every event published on this node to the others with
//! NOTIFY and delivers theirs from LISTEN, so a browser connected to any node
//! sees a message that arrived through any other.
//!
//! Events carry ids only (what changed, never content); a listener reads the
//! rest through the use cases, where permissions apply. The relay never slows
//! a publisher: events queue in a bounded channel and leave in batches of one
//! notification each. Live updates are hints: one lost to a full queue or a
//! dropped connection costs a stale screen until the next update, never data.
//! SQLite means one node: no relay.
//!
//! [`EventBus`]: kith_infra::events::EventBus

use crate::{App, Result};
use kith_infra::events::{Event, KINDS};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Events waiting to leave this node before new ones are dropped.
const QUEUE: usize = 8_192;

/// An event as it travels between nodes: ids, and the node it came from (so
/// a node ignores its own events coming back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvent {
    #[serde(rename = "n")]
    pub node: Uuid,
    #[serde(rename = "o")]
    pub org_id: Uuid,
    #[serde(rename = "k")]
    pub kind: String,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<Uuid>,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Uuid>,
}

impl WireEvent {
    pub fn new(node: Uuid, e: &Event) -> WireEvent {
        WireEvent {
            node,
            org_id: e.org_id,
            kind: e.kind.to_string(),
            conversation_id: e.conversation_id,
            message_id: e.message_id,
        }
    }

    /// The event, when its kind is one this node knows (a newer node may
    /// send kinds an older one ignores).
    pub fn event(&self) -> Option<Event> {
        let kind = KINDS.into_iter().find(|k| *k == self.kind)?;
        Some(Event { org_id: self.org_id, kind, conversation_id: self.conversation_id, message_id: self.message_id })
    }
}

/// Pack events into notification payloads (JSON arrays), each under
/// PostgreSQL's payload limit.
pub fn payloads(node: Uuid, events: &[Event]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2;
    for e in events {
        let one = serde_json::to_string(&WireEvent::new(node, e)).expect("ids and a kind serialise");
        if !current.is_empty() && size + one.len() + 1 > kith_store::notify::MAX_PAYLOAD_BYTES {
            out.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 2;
        }
        size += one.len() + 1;
        current.push(one);
    }
    if !current.is_empty() {
        out.push(format!("[{}]", current.join(",")));
    }
    out
}

/// The events of a payload that came from another node; anything
/// malformed is dropped.
pub fn parse_payload(own_node: Uuid, payload: &str) -> Vec<Event> {
    let Ok(wire) = serde_json::from_str::<Vec<WireEvent>>(payload) else {
        tracing::warn!(bytes = payload.len(), "a malformed live-event notification was ignored");
        return Vec::new();
    };
    wire.into_iter().filter(|w| w.node != own_node).filter_map(|w| w.event()).collect()
}

/// The running relay of one node; dropping it stops the relay.
pub struct Relay {
    pub node: Uuid,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Start relaying this node's events to the other nodes and theirs to this
/// node's listeners. `None` on SQLite, or when a relay already runs for
/// this app.
pub async fn start(app: &App) -> Result<Option<Relay>> {
    let Some(mut listener) = kith_store::notify::listen(app.db()).await? else {
        return Ok(None);
    };
    let (tx, mut rx) = mpsc::channel::<Event>(QUEUE);
    if !app.events().relay_to(tx) {
        return Ok(None);
    }
    let node = Uuid::now_v7();
    let db = app.db().clone();
    let outgoing = tokio::spawn(async move {
        let mut batch = Vec::new();
        while rx.recv_many(&mut batch, 256).await > 0 {
            for payload in payloads(node, &batch) {
                if let Err(e) = kith_store::notify::notify(&db, &payload).await {
                    tracing::warn!(error = %e, "could not send live events to the other nodes");
                }
            }
            batch.clear();
        }
    });
    let bus = app.events().clone();
    let incoming = tokio::spawn(async move {
        loop {
            match listener.recv().await {
                Ok(payload) => {
                    for event in parse_payload(node, &payload) {
                        bus.deliver(event);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live-event listener lost its connection; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    tracing::info!(%node, "relaying live events through PostgreSQL LISTEN/NOTIFY");
    Ok(Some(Relay { node, tasks: vec![outgoing, incoming] }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_infra::events::{CONVERSATION_UPDATED, MESSAGE_CREATED};

    fn event(kind: &'static str) -> Event {
        Event { org_id: Uuid::now_v7(), kind, conversation_id: Some(Uuid::now_v7()), message_id: None }
    }

    #[test]
    fn payloads_round_trip_and_skip_the_own_node() {
        let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
        let events = vec![event(MESSAGE_CREATED), event(CONVERSATION_UPDATED)];
        let sent = payloads(other, &events);
        assert_eq!(sent.len(), 1);
        assert_eq!(parse_payload(me, &sent[0]), events);
        assert!(parse_payload(other, &sent[0]).is_empty(), "a node ignores its own events");
    }

    #[test]
    fn many_events_are_split_under_the_payload_limit() {
        let events: Vec<Event> = (0..500).map(|_| event(MESSAGE_CREATED)).collect();
        let sent = payloads(Uuid::now_v7(), &events);
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|p| p.len() < kith_store::notify::MAX_PAYLOAD_BYTES));
        let back: usize = sent.iter().map(|p| parse_payload(Uuid::nil(), p).len()).sum();
        assert_eq!(back, 500);
    }

    #[test]
    fn unknown_kinds_and_garbage_are_dropped() {
        let mut wire = WireEvent::new(Uuid::now_v7(), &event(MESSAGE_CREATED));
        wire.kind = "message.exploded".into();
        let payload = serde_json::to_string(&vec![wire]).unwrap();
        assert!(parse_payload(Uuid::nil(), &payload).is_empty());
        assert!(parse_payload(Uuid::nil(), "not json").is_empty());
    }
}
