//! Login throttling that holds when guesses arrive in parallel.
//!
//! An attempt is counted when it starts, in the same step as the check, so sixty
//! guesses sent at once for one account get as many password checks as the threshold
//! allows, not as many as arrive before the first answer. Two keys are counted for
//! each attempt: the account (whatever address the guesses come from) and the client
//! address (whatever accounts it tries). Past a key's threshold each further failure
//! doubles the wait before the next attempt, up to a cap, rather than locking a real
//! receptionist out for good; a success clears the account's count. Counts fade after
//! a quiet period, and the map is pruned so it cannot grow without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the two keys are limited.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures of one account allowed before the waits begin.
    pub account_failures: u32,
    /// Failures from one address allowed before the waits begin (higher: a gym's desks
    /// may share one address, and each receptionist mistypes now and then).
    pub address_failures: u32,
    /// The first wait; each further failure doubles it.
    pub first_wait: Duration,
    /// The longest wait, and the quiet period after which a key's count is forgotten.
    pub longest_wait: Duration,
}

impl Limits {
    /// `max_failures` per account (the setting), ten times that per address (a gym's
    /// desks behind one untrusted proxy share one), waits from one second doubling up to
    /// `longest_wait`.
    pub fn new(max_failures: u32, longest_wait: Duration) -> Self {
        Self {
            account_failures: max_failures.max(1),
            address_failures: max_failures.max(1).saturating_mul(10),
            first_wait: Duration::from_secs(1).min(longest_wait),
            longest_wait,
        }
    }
}

impl Limits {
    /// Failures a key is allowed before the waits begin.
    fn threshold(&self, key: &Key) -> u32 {
        match key {
            Key::Account(_) => self.account_failures,
            Key::Address(_) => self.address_failures,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Default)]
struct Count {
    failures: u32,
    /// Attempts started and not yet answered: they count against the threshold.
    in_flight: u32,
    /// No attempt for this key starts before this.
    wait_until: Option<Instant>,
    last: Option<Instant>,
}

const PRUNE_ABOVE: usize = 10_000;

#[derive(Default)]
struct Counts {
    by_key: HashMap<Key, Count>,
    /// Pruned at most once a second, so a flood of new keys costs one sweep a second.
    pruned_at: Option<Instant>,
}

pub struct LoginLimiter {
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

/// A counted attempt: say how it ended. Dropped without an answer (the request was
/// cancelled), it is released without counting as a failure.
#[must_use]
pub struct Attempt {
    keys: [Key; 2],
    counts: Arc<Mutex<Counts>>,
    limits: Limits,
    done: bool,
}

impl LoginLimiter {
    pub fn new(limits: Limits) -> Self {
        Self { limits, counts: Arc::new(Mutex::new(Counts::default())) }
    }

    fn key(username: &str) -> Key {
        Key::Account(username.trim().to_lowercase())
    }

    /// Starts an attempt for `username` from `address`, or says how long to wait first.
    pub fn begin(&self, username: &str, address: IpAddr, now: Instant) -> Result<Attempt, Duration> {
        let keys = [Self::key(username), Key::Address(address)];
        let mut guard = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *guard;
        let sweep_due = state.pruned_at.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if state.by_key.len() > PRUNE_ABOVE && sweep_due {
            let quiet = self.limits.longest_wait;
            state.by_key.retain(|_, c| {
                forget_if_quiet(c, now, quiet);
                c.in_flight > 0 || c.last.is_some()
            });
            state.pruned_at = Some(now);
        }
        let counts = &mut state.by_key;
        let mut wait = Duration::ZERO;
        for key in &keys {
            let count = counts.entry(key.clone()).or_default();
            forget_if_quiet(count, now, self.limits.longest_wait);
            if let Some(until) = count.wait_until.filter(|u| *u > now) {
                wait = wait.max(until - now);
            } else if count.in_flight > 0 && count.failures + count.in_flight >= self.limits.threshold(key) {
                // At the threshold with answers still pending: whatever they say, no
                // more guesses start until they are in (past it, one at a time).
                wait = wait.max(self.limits.first_wait);
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for key in &keys {
            counts.get_mut(key).expect("inserted above").in_flight += 1;
        }
        Ok(Attempt { keys, counts: self.counts.clone(), limits: self.limits, done: false })
    }

    /// Keys tracked now (for tests of the pruning).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.counts.lock().unwrap().by_key.len()
    }
}

/// A key with no attempt for `quiet` since its last failure or the end of its wait
/// (whichever is later) starts over: measured from the wait's end, so even the longest
/// wait is followed by a quiet period before the count is forgotten.
fn forget_if_quiet(count: &mut Count, now: Instant, quiet: Duration) {
    let since = match (count.last, count.wait_until) {
        (Some(last), Some(until)) => Some(last.max(until)),
        (last, until) => last.or(until),
    };
    if count.in_flight == 0 && since.is_some_and(|t| now.saturating_duration_since(t) >= quiet) {
        *count = Count::default();
    }
}

impl Attempt {
    /// The password was wrong (or the account unknown).
    pub fn failed(mut self, now: Instant) {
        self.done = true;
        let mut guard = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let counts = &mut guard.by_key;
        for key in &self.keys {
            let threshold = self.limits.threshold(key);
            let count = counts.entry(key.clone()).or_default();
            count.in_flight = count.in_flight.saturating_sub(1);
            count.failures = count.failures.saturating_add(1);
            count.last = Some(now);
            if count.failures >= threshold {
                let over = (count.failures - threshold).min(20);
                let wait = self.limits.first_wait.saturating_mul(1 << over).min(self.limits.longest_wait);
                count.wait_until = Some(now + wait);
            }
        }
    }

    /// The password was right: the account's count starts over; the address keeps its
    /// failures (they fade), so one good sign-in does not buy a guesser more tries.
    pub fn succeeded(mut self) {
        self.done = true;
        let mut guard = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let counts = &mut guard.by_key;
        let [account, address] = &self.keys;
        counts.remove(account);
        if let Some(count) = counts.get_mut(address) {
            count.in_flight = count.in_flight.saturating_sub(1);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut guard = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(count) = guard.by_key.get_mut(key) {
                count.in_flight = count.in_flight.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(Limits::new(5, Duration::from_secs(60)))
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn parallel_guesses_get_only_the_threshold_of_checks() {
        let limiter = limiter();
        let t0 = Instant::now();
        // Sixty attempts arrive before any answer: five start, the rest wait.
        let started: Vec<Attempt> = (0..60).filter_map(|_| limiter.begin("ann", ip(1), t0).ok()).collect();
        assert_eq!(started.len(), 5);
        for attempt in started {
            attempt.failed(t0);
        }
        let wait = limiter.begin("ANN ", ip(1), t0).err().expect("locked for a while");
        assert_eq!(wait, Duration::from_secs(1), "the first wait, once the threshold is reached");
    }

    #[test]
    fn each_failure_past_the_threshold_doubles_the_wait_up_to_the_cap() {
        let limiter = limiter();
        let mut t = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..12 {
            let attempt = loop {
                match limiter.begin("ann", ip(1), t) {
                    Ok(a) => break a,
                    Err(wait) => t += wait,
                }
            };
            attempt.failed(t);
            if let Err(wait) = limiter.begin("ann", ip(1), t) {
                waits.push(wait.as_secs());
            }
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn the_account_is_limited_whatever_the_address_and_the_address_whatever_the_account() {
        let limiter = limiter();
        let t0 = Instant::now();
        for n in 0..5 {
            limiter.begin("ann", ip(n), t0).unwrap().failed(t0);
        }
        assert!(limiter.begin("ann", ip(99), t0).is_err(), "a new address does not reset the account");
        assert!(limiter.begin("bob", ip(99), t0).is_ok(), "another account from another address is untouched");
        let guesser = ip(200);
        for n in 0..50 {
            limiter.begin(&format!("user{n}"), guesser, t0).unwrap().failed(t0);
        }
        assert!(limiter.begin("carol", guesser, t0).is_err(), "one address spraying accounts is held back");
        assert!(limiter.begin("carol", ip(201), t0).is_ok());
    }

    #[test]
    fn a_success_clears_the_account_and_quiet_time_forgives() {
        let limiter = limiter();
        let t0 = Instant::now();
        for _ in 0..4 {
            limiter.begin("ann", ip(1), t0).unwrap().failed(t0);
        }
        limiter.begin("ann", ip(1), t0).unwrap().succeeded();
        for _ in 0..4 {
            limiter.begin("ann", ip(1), t0).unwrap().failed(t0);
        }
        assert!(limiter.begin("ann", ip(1), t0).is_ok(), "the count started over after the success");
        let later = t0 + Duration::from_secs(61);
        for _ in 0..5 {
            limiter.begin("bob", ip(2), t0).unwrap().failed(t0);
        }
        assert!(limiter.begin("bob", ip(2), later).is_ok(), "forgotten after a quiet minute");
    }

    #[test]
    fn a_cancelled_attempt_is_released_without_counting() {
        let limiter = limiter();
        let t0 = Instant::now();
        for _ in 0..20 {
            drop(limiter.begin("ann", ip(1), t0).unwrap());
        }
        assert!(limiter.begin("ann", ip(1), t0).is_ok());
    }

    #[test]
    fn the_map_is_pruned() {
        let limiter = limiter();
        let t0 = Instant::now();
        for n in 0..(PRUNE_ABOVE as u32 + 10) {
            let address = IpAddr::from(n.to_be_bytes());
            limiter.begin(&format!("u{n}"), address, t0).unwrap().failed(t0);
        }
        let later = t0 + Duration::from_secs(61);
        limiter.begin("fresh", ip(1), later).unwrap().failed(later);
        assert!(limiter.tracked() < 10, "stale keys are dropped: {}", limiter.tracked());
    }
}
