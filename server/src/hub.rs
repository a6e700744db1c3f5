//! Fan-out of events to every session and long-poll of a location, and of control
//! messages (a user disabled) to every session.
//!
//! Each event is serialised once here, not once per session. Delivery order between
//! two writers is not guaranteed by the hub; sessions fill any gap from the store, so
//! the hub may deliver late or out of order without a desk missing an event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use frontdesk_protocol::Event;
use frontdesk_protocol::ws::ServerFrame;
use tokio::sync::broadcast;

/// An event ready to send: its seq and its frame, serialised once.
#[derive(Debug)]
pub struct Published {
    pub seq: i64,
    pub frame: Utf8Bytes,
}

#[derive(Debug, Clone)]
pub enum Control {
    UserDisabled {
        user_id: String,
    },
    /// A manager changed the user's role or gyms, or reset their password: the
    /// sessions they hold may no longer match what they are allowed.
    RightsChanged {
        user_id: String,
    },
    /// A refresh-token family was revoked (signed out, or reuse detected): sessions
    /// opened with its access tokens end.
    FamilyRevoked {
        family_id: String,
    },
}

pub struct Hub {
    capacity: usize,
    locations: Mutex<HashMap<String, broadcast::Sender<Arc<Published>>>>,
    control: broadcast::Sender<Control>,
    /// Highest seq published per location, so events written by another process (the
    /// command line, another instance) can be told apart and published here too.
    published: Mutex<HashMap<String, i64>>,
}

impl Hub {
    /// `capacity`: events a subscriber may fall behind before it counts as lagging.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(16),
            locations: Mutex::new(HashMap::new()),
            control: broadcast::channel(256).0,
            published: Mutex::default(),
        }
    }

    fn sender(&self, location_id: &str) -> broadcast::Sender<Arc<Published>> {
        let mut map = self.locations.lock().expect("hub lock");
        map.entry(location_id.to_owned()).or_insert_with(|| broadcast::channel(self.capacity).0).clone()
    }

    pub fn subscribe(&self, location_id: &str) -> broadcast::Receiver<Arc<Published>> {
        self.sender(location_id).subscribe()
    }

    pub fn publish(&self, event: &Event) {
        let frame = serde_json::to_string(&ServerFrame::Event(event.clone())).expect("events serialise");
        self.note_published(&event.location_id, event.seq);
        let published = Arc::new(Published { seq: event.seq, frame: frame.into() });
        // No receivers is fine: nobody is watching this location right now.
        let _ = self.sender(&event.location_id).send(published);
    }

    /// Records that events up to `seq` of a location were published (or need not be).
    pub fn note_published(&self, location_id: &str, seq: i64) {
        let mut map = self.published.lock().expect("hub lock");
        let known = map.entry(location_id.to_owned()).or_insert(seq);
        *known = (*known).max(seq);
    }

    pub fn last_published(&self, location_id: &str) -> Option<i64> {
        self.published.lock().expect("hub lock").get(location_id).copied()
    }

    pub fn control(&self) -> broadcast::Receiver<Control> {
        self.control.subscribe()
    }

    pub fn send_control(&self, message: Control) {
        let _ = self.control.send(message);
    }
}
