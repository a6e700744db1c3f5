//! Extension `presence`: the registry of desks per location, so a manager can see which
//! desks are online and how many entries each has queued.
//!
//! Kept in memory only. A restart forgets it; desks come back as they reconnect, and
//! `GET /desks` fills in desks known from today's visits as offline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use frontdesk_protocol::api::DeskPresence;

use crate::transport::Transport;

/// A desk in HTTP fallback counts as online this long after its last report; desks
/// repeat their report well within it.
pub const HTTP_ONLINE_WINDOW: Duration = Duration::from_secs(90);

/// Desk ids are names staff type into a desk's settings; longer ones are refused.
pub const MAX_DESK_ID_CHARS: usize = 64;

/// An offline desk not heard from for this long is dropped from the registry, so desk
/// ids that stopped being used (or were made up) do not pile up for ever.
const FORGET_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Desks tracked per location at most. Desk ids come from desks (any signed-in user can
/// make one up per request), so without a bound one account could fill the memory; a
/// gym has tens of desks. At the bound the desk offline longest is forgotten first.
pub const MAX_DESKS_PER_LOCATION: usize = 500;

/// What the registry knows of one desk.
#[derive(Debug)]
struct Desk {
    /// WebSocket sessions bound to this desk now (a reconnecting desk may briefly have two).
    sessions: usize,
    /// The last HTTP report, on the monotonic clock (wall-clock jumps must not flip it).
    http_reported: Option<Instant>,
    queued: Option<u32>,
    user_name: Option<String>,
    last_seen_at: DateTime<Utc>,
    last_transport: Transport,
}

impl Desk {
    fn http_fresh(&self, now: Instant) -> bool {
        self.http_reported.is_some_and(|at| now.saturating_duration_since(at) < HTTP_ONLINE_WINDOW)
    }

    fn online(&self, now: Instant) -> bool {
        self.sessions > 0 || self.http_fresh(now)
    }

    fn view(&self, desk_id: &str, now: Instant) -> DeskPresence {
        let transport = match (self.sessions > 0, self.http_fresh(now)) {
            // Both look alive (say a half-open socket the server has not noticed yet, and
            // the desk already on HTTP): the desk itself last used this one.
            (true, true) => Some(self.last_transport),
            (true, false) => Some(Transport::WebSocket),
            (false, true) => Some(Transport::Http),
            (false, false) => None,
        };
        DeskPresence {
            desk_id: desk_id.to_owned(),
            online: transport.is_some(),
            transport: transport.map(|t| t.presence_name().to_owned()),
            queued: self.queued,
            user_name: self.user_name.clone(),
            last_seen_at: Some(self.last_seen_at),
        }
    }
}

/// location id → desk id → desk.
type Desks = HashMap<String, HashMap<String, Desk>>;

/// The registry. Cheap to clone; clones share the same desks.
#[derive(Clone, Default)]
pub struct Presence {
    desks: Arc<Mutex<Desks>>,
}

/// One WebSocket session bound to a desk. Dropping it unbinds the session, so a session
/// that ends in any way (close, error, dead link, drain, a panic) stops counting.
pub struct Binding {
    registry: Presence,
    location_id: String,
    desk_id: String,
}

impl Binding {
    pub fn desk_id(&self) -> &str {
        &self.desk_id
    }

    /// Records a report from the bound session.
    pub fn report(&self, queued: u32, user_name: &str) {
        self.registry.with_desk(&self.location_id, &self.desk_id, |desk| {
            desk.queued = Some(queued);
            desk.user_name = Some(user_name.to_owned());
            desk.last_seen_at = Utc::now();
            desk.last_transport = Transport::WebSocket;
        });
    }

    /// The session heard from its desk (any frame, pongs included).
    pub fn touch(&self) {
        self.registry.with_desk(&self.location_id, &self.desk_id, |desk| {
            desk.last_seen_at = Utc::now();
            desk.last_transport = Transport::WebSocket;
        });
    }
}

impl Drop for Binding {
    fn drop(&mut self) {
        self.registry.with_desk(&self.location_id, &self.desk_id, |desk| {
            desk.sessions = desk.sessions.saturating_sub(1);
        });
    }
}

impl Presence {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Desks> {
        // The map stays consistent even if a holder panicked: every update is a few
        // field writes.
        self.desks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `update` on the desk, creating it (offline, nothing known) if new.
    fn with_desk<R>(&self, location_id: &str, desk_id: &str, update: impl FnOnce(&mut Desk) -> R) -> R {
        let fresh = || Desk {
            sessions: 0,
            http_reported: None,
            queued: None,
            user_name: None,
            last_seen_at: Utc::now(),
            last_transport: Transport::WebSocket,
        };
        let mut desks = self.lock();
        let location = desks.entry(location_id.to_owned()).or_default();
        if !location.contains_key(desk_id) && location.len() >= MAX_DESKS_PER_LOCATION {
            let now = Instant::now();
            let oldest_offline = location
                .iter()
                .filter(|(_, desk)| !desk.online(now))
                .min_by_key(|(_, desk)| desk.last_seen_at)
                .map(|(id, _)| id.clone());
            match oldest_offline {
                Some(id) => {
                    location.remove(&id);
                }
                // Every tracked desk is online: this one is served but not tracked.
                None => return update(&mut fresh()),
            }
        }
        update(location.entry(desk_id.to_owned()).or_insert_with(fresh))
    }

    /// Binds a WebSocket session to a desk. `queued` is `None` for a v1 desk, which
    /// never reports it: a figure left from an earlier session would be stale, so it is
    /// cleared unless another live session or a recent HTTP report still vouches for it.
    pub fn bind(&self, location_id: &str, desk_id: &str, queued: Option<u32>, user_name: &str) -> Binding {
        let now = Instant::now();
        self.with_desk(location_id, desk_id, |desk| {
            if queued.is_some() || !desk.online(now) {
                desk.queued = queued;
            }
            desk.sessions += 1;
            desk.user_name = Some(user_name.to_owned());
            desk.last_seen_at = Utc::now();
            desk.last_transport = Transport::WebSocket;
        });
        Binding { registry: self.clone(), location_id: location_id.to_owned(), desk_id: desk_id.to_owned() }
    }

    /// A report over HTTP, from a desk in HTTP fallback.
    pub fn report_http(&self, location_id: &str, desk_id: &str, queued: u32, user_name: &str) {
        self.with_desk(location_id, desk_id, |desk| {
            desk.http_reported = Some(Instant::now());
            desk.queued = Some(queued);
            desk.user_name = Some(user_name.to_owned());
            desk.last_seen_at = Utc::now();
            desk.last_transport = Transport::Http;
        });
    }

    /// Every desk of a location the registry knows, sorted by desk id. Forgets offline
    /// desks not heard from for a day.
    pub fn list(&self, location_id: &str) -> Vec<DeskPresence> {
        let (now, wall) = (Instant::now(), Utc::now());
        let mut desks = self.lock();
        let Some(location) = desks.get_mut(location_id) else { return Vec::new() };
        location.retain(|_, desk| desk.online(now) || wall - desk.last_seen_at < FORGET_AFTER);
        let mut list: Vec<DeskPresence> = location.iter().map(|(id, desk)| desk.view(id, now)).collect();
        list.sort_by(|a, b| a.desk_id.cmp(&b.desk_id));
        list
    }

    /// Desks online now, over every location (for the metrics gauge).
    pub fn online_count(&self) -> usize {
        let now = Instant::now();
        self.lock().values().flat_map(HashMap::values).filter(|desk| desk.online(now)).count()
    }
}

/// Checks a report's desk id; a sentence naming the field, or `Ok`.
pub fn validate_desk_id(desk_id: &str) -> Result<(), String> {
    if desk_id.trim().is_empty() {
        return Err("`desk_id` must not be empty.".into());
    }
    if desk_id.chars().count() > MAX_DESK_ID_CHARS {
        return Err(format!("`desk_id` is longer than {MAX_DESK_ID_CHARS} characters."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(registry: &Presence, location: &str) -> DeskPresence {
        let mut list = registry.list(location);
        assert_eq!(list.len(), 1, "{list:?}");
        list.remove(0)
    }

    #[test]
    fn desks_per_location_are_capped_and_the_longest_offline_goes_first() {
        let registry = Presence::new();
        for n in 0..MAX_DESKS_PER_LOCATION {
            registry.report_http("gym", &format!("made-up-{n:04}"), 0, "Ann");
        }
        registry.with_desk("gym", "made-up-0000", |d| d.http_reported = None);
        registry.with_desk("gym", "made-up-0000", |d| d.last_seen_at = Utc::now() - chrono::TimeDelta::hours(1));
        registry.report_http("gym", "one-more", 0, "Ann");
        let list = registry.list("gym");
        assert_eq!(list.len(), MAX_DESKS_PER_LOCATION);
        assert!(list.iter().any(|d| d.desk_id == "one-more"));
        assert!(!list.iter().any(|d| d.desk_id == "made-up-0000"), "the one offline longest was forgotten");
        // All online: a newcomer is served but not tracked.
        registry.report_http("gym", "yet-another", 0, "Ann");
        assert_eq!(registry.list("gym").len(), MAX_DESKS_PER_LOCATION);
        assert!(registry.list("other-gym").is_empty());
    }

    #[test]
    fn a_bound_session_is_online_until_its_binding_drops() {
        let registry = Presence::new();
        let binding = registry.bind("gym", "front-1", Some(3), "Ann");
        let desk = only(&registry, "gym");
        assert!(desk.online);
        assert_eq!((desk.transport.as_deref(), desk.queued), (Some("websocket"), Some(3)));
        assert_eq!(desk.user_name.as_deref(), Some("Ann"));
        assert_eq!(registry.online_count(), 1);

        drop(binding);
        let desk = only(&registry, "gym");
        assert!(!desk.online);
        assert_eq!(desk.transport, None);
        assert_eq!(desk.queued, Some(3), "the last figure stays visible while offline");
        assert_eq!(registry.online_count(), 0);
        assert!(registry.list("elsewhere").is_empty());
    }

    #[test]
    fn two_sessions_of_one_desk_count_separately() {
        let registry = Presence::new();
        let old = registry.bind("gym", "front-1", Some(1), "Ann");
        let new = registry.bind("gym", "front-1", Some(0), "Ann");
        drop(old);
        assert!(only(&registry, "gym").online, "the newer session still holds it");
        drop(new);
        assert!(!only(&registry, "gym").online);
    }

    #[test]
    fn a_v1_binding_clears_a_stale_figure_but_not_a_live_one() {
        let registry = Presence::new();
        drop(registry.bind("gym", "front-1", Some(5), "Ann"));
        let v1 = registry.bind("gym", "front-1", None, "Ben");
        assert_eq!(only(&registry, "gym").queued, None);

        let reporting = registry.bind("gym", "front-2", Some(2), "Ann");
        let _v1_too = registry.bind("gym", "front-2", None, "Ann");
        assert_eq!(registry.list("gym")[1].queued, Some(2));
        drop((v1, reporting));
    }

    #[test]
    fn http_reports_keep_a_desk_online_for_the_window_only() {
        let registry = Presence::new();
        registry.report_http("gym", "front-1", 4, "Ann");
        let desk = only(&registry, "gym");
        assert!(desk.online);
        assert_eq!((desk.transport.as_deref(), desk.queued), (Some("http"), Some(4)));

        // Age the report past the window.
        registry.with_desk("gym", "front-1", |d| {
            d.http_reported = Instant::now().checked_sub(HTTP_ONLINE_WINDOW + Duration::from_secs(1))
        });
        assert!(!only(&registry, "gym").online);
    }

    #[test]
    fn desks_are_sorted_and_long_silent_ones_forgotten() {
        let registry = Presence::new();
        registry.report_http("gym", "b", 0, "Ann");
        registry.report_http("gym", "a", 0, "Ann");
        registry.with_desk("gym", "old", |d| d.last_seen_at = Utc::now() - FORGET_AFTER * 2);
        let ids: Vec<_> = registry.list("gym").into_iter().map(|d| d.desk_id).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn desk_ids_are_checked() {
        assert!(validate_desk_id("front-1").is_ok());
        assert!(validate_desk_id(&"é".repeat(64)).is_ok(), "64 characters, more bytes");
        assert!(validate_desk_id(" ").unwrap_err().contains("desk_id"));
        assert!(validate_desk_id(&"x".repeat(65)).unwrap_err().contains("64"));
    }
}
