//! Per-session limits: a token bucket for frame rate and a sliding count of malformed
//! frames.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct RateLimit {
    per_s: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl RateLimit {
    pub fn new(per_s: u32, burst: u32, now: Instant) -> Self {
        Self { per_s: per_s as f64, burst: burst as f64, tokens: burst as f64, updated: now }
    }

    /// Whether the bucket would be full at `now` (its owner has been idle long enough
    /// that forgetting it changes nothing).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * self.per_s >= self.burst
    }

    /// Takes one token; `Err(wait)` when empty, with the time until one is back.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_s).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_s))
        }
    }
}

/// Ten malformed frames within a minute close the session (docs/protocol.md, "Frames").
const MALFORMED_LIMIT: usize = 10;
const MALFORMED_WINDOW: Duration = Duration::from_secs(60);

/// Every session has one, so it holds only the times (nothing until a malformed frame).
pub struct MalformedWindow {
    seen: VecDeque<Instant>,
}

impl MalformedWindow {
    pub fn new() -> Self {
        Self { seen: VecDeque::new() }
    }

    /// Records one; true when the limit is reached.
    pub fn record(&mut self, now: Instant) -> bool {
        while self.seen.front().is_some_and(|t| now.duration_since(*t) >= MALFORMED_WINDOW) {
            self.seen.pop_front();
        }
        self.seen.push_back(now);
        self.seen.len() >= MALFORMED_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10, 3, t0);
        assert!(r.take(t0).is_ok());
        assert!(r.take(t0).is_ok());
        assert!(r.take(t0).is_ok());
        let wait = r.take(t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(r.take(t0 + Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn ten_malformed_in_a_minute_trip_but_old_ones_expire() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut m = MalformedWindow::new();
        for i in 0..9 {
            assert!(!m.record(t0 + s(i)));
        }
        assert!(m.record(t0 + s(9)), "the tenth within a minute trips");

        let mut m = MalformedWindow::new();
        for i in 0..9 {
            m.record(t0 + s(i));
        }
        assert!(!m.record(t0 + s(61)), "the first two fell out of the window");
    }
}
