//! Inbound CloudEvents and their deliveries to `wait` steps. Events are
//! stored before anything reacts to them, so an event that arrives before a
//! `wait` step starts is not lost: the step matches events received since
//! its run started.


use serde::Serialize;
use serde_json::Value;

use super::StateError;

/// An inbound CloudEvent as stored.
#[derive(Clone, Debug, Serialize)]
pub struct InboundEvent {
    /// The event's number in the inbox.
    pub seq: i64,
    /// The whole CloudEvent (structured JSON form).
    pub event: Value,
    /// When it was received (RFC 3339).
    pub received_at: String,
}

impl InboundEvent {
    /// The event's `type`.
    pub fn event_type(&self) -> &str {
        self.event.get("type").and_then(Value::as_str).unwrap_or("")
    }
    /// The event's `subject`, if it has one.
    pub fn subject(&self) -> Option<&str> {
        self.event.get("subject").and_then(Value::as_str)
    }
}

/// Inbound events and which runs received them.
pub trait Inbox {
    /// Stores inbound events in one transaction, all or none. Each returns its
    /// sequence number and whether it was a duplicate (same `source` and `id`
    /// as an event already stored, which is kept as it was).
    fn put_inbound_events(&mut self, events: &[Value]) -> Result<Vec<(i64, bool)>, StateError>;
    /// Events with a sequence number above `after` received at or after `since`.
    fn inbound_events_after(&self, after: i64, since: &str) -> Result<Vec<InboundEvent>, StateError>;
    /// Sequence numbers of the events already delivered to steps of the run.
    fn deliveries(&self, run: &str) -> Result<Vec<i64>, StateError>;
}
