//! Change events: every committed change is told to subscribers, in commit
//! order, with a monotonic sequence number.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::record::Operation;

/// One committed change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Position in this service's stream of changes, starting at 1.
    pub sequence: u64,
    /// What happened.
    pub operation: Operation,
    /// Scope of the changed record.
    pub tenant_id: Option<String>,
    /// Metadata type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The record's version after the change.
    pub version: u64,
    /// The record's checksum after the change.
    pub checksum: String,
    /// Who made the change.
    pub actor: String,
    /// RFC 3339 time of the change.
    pub timestamp: String,
}

/// Identifies a subscription, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

type Listener = Rc<dyn Fn(&ChangeEvent)>;

/// Fans change events out to subscribers.
#[derive(Default)]
pub struct EventBus {
    next_sequence: Cell<u64>,
    next_id: Cell<u64>,
    listeners: RefCell<Vec<(SubscriptionId, Listener)>>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("next_sequence", &self.next_sequence.get())
            .field("listeners", &self.listeners.borrow().len())
            .finish()
    }
}

impl EventBus {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        EventBus::default()
    }

    /// Calls `listener` for every later event until unsubscribed.
    pub fn subscribe(&self, listener: impl Fn(&ChangeEvent) + 'static) -> SubscriptionId {
        let id = SubscriptionId(self.next_id.get());
        self.next_id.set(id.0 + 1);
        self.listeners.borrow_mut().push((id, Rc::new(listener)));
        id
    }

    /// Stops a subscription; false when it was not active.
    pub fn unsubscribe(&self, id: SubscriptionId) -> bool {
        let mut listeners = self.listeners.borrow_mut();
        let before = listeners.len();
        listeners.retain(|(i, _)| *i != id);
        listeners.len() != before
    }

    /// Number of active subscriptions.
    pub fn len(&self) -> usize {
        self.listeners.borrow().len()
    }

    /// True when nobody listens.
    pub fn is_empty(&self) -> bool {
        self.listeners.borrow().is_empty()
    }

    /// The sequence number of the last event emitted (0 before the first).
    pub fn last_sequence(&self) -> u64 {
        self.next_sequence.get()
    }

    /// Stamps `event` with the next sequence number and tells every
    /// subscriber. Listeners may subscribe or unsubscribe from inside the
    /// call; such changes apply from the next event on.
    pub fn emit(&self, mut event: ChangeEvent) {
        let seq = self.next_sequence.get() + 1;
        self.next_sequence.set(seq);
        event.sequence = seq;
        let listeners: Vec<Listener> = self
            .listeners
            .borrow()
            .iter()
            .map(|(_, l)| Rc::clone(l))
            .collect();
        for listener in listeners {
            listener(&event);
        }
    }
}
