//! The in-process event bus: live updates (inbox, timelines) for the
//! browsers connected to this node. Events carry ids only, never content:
//! a listener reads what changed through the use cases, where permissions
//! apply. A slow listener loses old events (it is told how many) rather
//! than slowing the publisher down.
//!
//! Across several nodes this becomes PostgreSQL LISTEN/NOTIFY or NATS
//! behind the same shape (DESIGN.md, Events).

use tokio::sync::broadcast;
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

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        let (tx, _) = broadcast::channel(CAPACITY);
        EventBus { tx }
    }

    /// Announce an event; nobody listening is fine.
    pub fn publish(&self, event: Event) {
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
}
