//! What one account may hold or send, whichever desk or script uses it: open WebSocket
//! sessions, and commands over HTTP at the same rate a single session may send them over
//! the WebSocket. Without these one signed-in account could open sessions or post
//! commands until the server ran out of memory or write capacity for every gym.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ws::limits::RateLimit;

/// Accounts tracked for the HTTP rate at most before idle ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub struct UserLimits {
    max_sessions: usize,
    sessions: Mutex<HashMap<String, usize>>,
    per_s: u32,
    burst: u32,
    http: Mutex<HashMap<String, RateLimit>>,
}

impl UserLimits {
    pub fn new(max_sessions: usize, per_s: u32, burst: u32) -> Self {
        Self {
            max_sessions: max_sessions.max(1),
            sessions: Mutex::new(HashMap::new()),
            per_s,
            burst,
            http: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a session of `user_id` that is about to open; `false` (nothing counted) when
    /// the account already holds its maximum. Every `true` is matched by one
    /// [`UserLimits::session_closed`].
    pub fn session_opening(&self, user_id: &str) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let open = sessions.entry(user_id.to_owned()).or_default();
        if *open >= self.max_sessions {
            return false;
        }
        *open += 1;
        true
    }

    pub fn session_closed(&self, user_id: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = sessions.get_mut(user_id) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                sessions.remove(user_id);
            }
        }
    }

    /// Sessions the account holds now.
    pub fn sessions_of(&self, user_id: &str) -> usize {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).get(user_id).copied().unwrap_or(0)
    }

    /// One command over HTTP; `Err(wait)` when the account sends faster than allowed.
    pub fn http_command(&self, user_id: &str, now: Instant) -> Result<(), Duration> {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        if http.len() > PRUNE_ABOVE {
            // A bucket that has refilled to the brim says nothing a new one would not.
            http.retain(|_, bucket| !bucket.is_full(now));
        }
        http.entry(user_id.to_owned()).or_insert_with(|| RateLimit::new(self.per_s, self.burst, now)).take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_per_account_are_capped_and_given_back() {
        let limits = UserLimits::new(2, 10, 10);
        assert!(limits.session_opening("ann") && limits.session_opening("ann"));
        assert!(!limits.session_opening("ann"), "a third is refused");
        assert!(limits.session_opening("bob"), "another account is not affected");
        limits.session_closed("ann");
        assert_eq!(limits.sessions_of("ann"), 1);
        assert!(limits.session_opening("ann"));
    }

    #[test]
    fn http_commands_per_account_follow_the_session_rate() {
        let limits = UserLimits::new(2, 2, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            limits.http_command("ann", t0).unwrap();
        }
        let wait = limits.http_command("ann", t0).unwrap_err();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        assert!(limits.http_command("bob", t0).is_ok());
        assert!(limits.http_command("ann", t0 + Duration::from_millis(600)).is_ok(), "refilled");
    }
}
