//! Reconnect delays: full jitter, `random(0, min(cap, base × 2^attempt))`, base 500 ms,
//! cap 30 s (docs/protocol.md, "Backoff"). A pure function of the attempt and a random
//! fraction, so its values are tested without clocks.

use std::time::Duration;

pub const BASE: Duration = Duration::from_millis(500);
pub const CAP: Duration = Duration::from_secs(30);
/// A session open this long resets the attempt count.
pub const STABLE_AFTER: Duration = Duration::from_secs(30);

/// The ceiling of the delay for `attempt` (0-based).
pub fn ceiling(attempt: u32) -> Duration {
    let factor = 1u64.checked_shl(attempt.min(32)).unwrap_or(u64::MAX);
    let ms = (BASE.as_millis() as u64).saturating_mul(factor);
    Duration::from_millis(ms.min(CAP.as_millis() as u64))
}

/// The delay for `attempt`, given `fraction` drawn uniformly from [0, 1).
pub fn delay(attempt: u32, fraction: f64) -> Duration {
    ceiling(attempt).mul_f64(fraction.clamp(0.0, 1.0))
}

/// The delay for `attempt` with a fresh random fraction.
pub fn jittered(attempt: u32) -> Duration {
    delay(attempt, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_from_500ms_to_the_30s_cap() {
        let ms: Vec<u64> = (0..9).map(|a| ceiling(a).as_millis() as u64).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        assert_eq!(ceiling(1000), CAP, "never gives up, never overflows");
    }

    #[test]
    fn delay_is_full_jitter_under_the_ceiling() {
        assert_eq!(delay(3, 0.0), Duration::ZERO);
        assert_eq!(delay(3, 0.5), Duration::from_millis(2000));
        assert!(delay(3, 0.999_999) < ceiling(3));
        for a in 0..40 {
            assert!(jittered(a) <= ceiling(a));
        }
    }
}
