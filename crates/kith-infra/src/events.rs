//! The in-process event bus: live updates (inbox, timelines) for the
//! browsers connected to this node. Events carry ids only, never content:
//! a listener reads what changed through the use cases, where permissions
//! apply. A slow listener loses old events (it is told how many) rather
//! than slowing the publisher down.
//!
//! Across several nodes a relay carries each event to the others
//! (PostgreSQL LISTEN/NOTIFY, `kith_app::live`): [`EventBus::relay_to`]
//! hands it every event published here, and [`EventBus::deliver`] brings in
//! the other nodes' events without sending them round again.

use std::sync::{Arc, OnceLock};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// How many events a listener may fall behind before it starts losing them.
pub const CAPACITY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub org_id: Uuid,
    /// `message.created`, `message.updated` or `conversation.updated`.
    pub kind: &'static str,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
}

pub const MESSAGE_CREATED: &str = "message.created";
pub const MESSAGE_UPDATED: &str = "message.updated";
pub const CONVERSATION_UPDATED: &str = "conversation.updated";
/// Every kind of event (what a relayed event's kind must be one of).
pub const KINDS: [&str; 3] = [MESSAGE_CREATED, MESSAGE_UPDATED, CONVERSATION_UPDATED];

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    /// Where events published here also go (to other nodes), once set.
    relay: Arc<OnceLock<mpsc::Sender<Event>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        let (tx, _) = broadcast::channel(CAPACITY);
        EventBus { tx, relay: Arc::new(OnceLock::new()) }
    }

    /// Announce an event to this node's listeners and, through the relay,
    /// to the other nodes'. Nobody listening is fine; a relay that cannot
    /// keep up drops the event for the other nodes (their listeners resync
    /// on their next read) rather than slowing the publisher down.
    pub fn publish(&self, event: Event) {
        if let Some(relay) = self.relay.get() {
            if relay.try_send(event.clone()).is_err() {
                tracing::warn!(kind = event.kind, "event relay full or closed: an event stays on this node");
            }
        }
        let _ = self.tx.send(event);
    }

    /// From now on, hand every published event to `relay` too. Only the first
    /// call takes effect (false for later ones).
    pub fn relay_to(&self, relay: mpsc::Sender<Event>) -> bool {
        self.relay.set(relay).is_ok()
    }

    /// An event another node published: to this node's listeners only.
    pub fn deliver(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// Listen from now on. Filter by `org_id` on the receiving side.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listeners_get_events_published_after_they_subscribe() {
        let bus = EventBus::new();
        bus.publish(Event { org_id: Uuid::nil(), kind: MESSAGE_CREATED, conversation_id: None, message_id: None });
        let mut rx = bus.subscribe();
        let e = Event {
            org_id: Uuid::now_v7(),
            kind: CONVERSATION_UPDATED,
            conversation_id: Some(Uuid::now_v7()),
            message_id: None,
        };
        bus.publish(e.clone());
        assert_eq!(rx.recv().await.unwrap(), e);
        assert!(rx.try_recv().is_err(), "nothing else queued");
    }

    #[tokio::test]
    async fn published_events_go_to_the_relay_and_delivered_ones_do_not() {
        let bus = EventBus::new();
        let (tx, mut relayed) = mpsc::channel(8);
        assert!(bus.relay_to(tx.clone()));
        assert!(!bus.relay_to(tx), "one relay");
        let mut rx = bus.subscribe();
        let here = Event { org_id: Uuid::now_v7(), kind: MESSAGE_CREATED, conversation_id: None, message_id: None };
        bus.publish(here.clone());
        let there = Event { kind: MESSAGE_UPDATED, ..here.clone() };
        bus.deliver(there.clone());
        assert_eq!(relayed.recv().await.unwrap(), here);
        assert!(relayed.try_recv().is_err(), "a delivered event is not relayed again");
        assert_eq!(rx.recv().await.unwrap(), here);
        assert_eq!(rx.recv().await.unwrap(), there);
    }
}
