//! Login throttling: after too many failed attempts for one username from one address,
//! further attempts are refused with 429 and `Retry-After` until the lockout ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    max_failures: u32,
    lockout: Duration,
    failures: Mutex<HashMap<(String, IpAddr), Failures>>,
}

struct Failures {
    count: u32,
    last: Instant,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self { max_failures, lockout, failures: Mutex::new(HashMap::new()) }
    }

    fn key(username: &str, ip: IpAddr) -> (String, IpAddr) {
        (username.trim().to_lowercase(), ip)
    }

    /// `Some(wait)` while this username and address are locked out.
    pub fn check(&self, username: &str, ip: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().expect("limiter lock");
        let entry = map.get(&Self::key(username, ip))?;
        if entry.count < self.max_failures {
            return None;
        }
        let until = entry.last + self.lockout;
        (until > now).then(|| until - now)
    }

    pub fn record_failure(&self, username: &str, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().expect("limiter lock");
        // Forget stale entries so the map cannot grow without bound.
        if map.len() > 10_000 {
            let lockout = self.lockout;
            map.retain(|_, f| now.duration_since(f.last) < lockout);
        }
        let entry = map.entry(Self::key(username, ip)).or_insert(Failures { count: 0, last: now });
        if now.duration_since(entry.last) >= self.lockout {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
    }

    pub fn record_success(&self, username: &str, ip: IpAddr) {
        self.failures.lock().expect("limiter lock").remove(&Self::key(username, ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_max_failures_then_forgives() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("Ann", ip, t0).is_none());
            limiter.record_failure("Ann", ip, t0);
        }
        let wait = limiter.check("ann", ip, t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(limiter.check("ann", ip, t0 + Duration::from_secs(61)).is_none());
        assert!(limiter.check("bob", ip, t0).is_none());
    }
}
