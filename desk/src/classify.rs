//! Every way a session can fail, and what the desk does about it (docs/protocol.md, "Close
//! codes and what a desk does").
//! One table, [`classify`], tested row by row; the supervisor only executes actions.

use std::time::Duration;

use frontdesk_protocol::CloseReason;

/// Why a session ended or could not start.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The server closed the session with a close frame.
    Closed { code: u16, reason: CloseReason },
    /// The upgrade was answered with HTTP `status` instead of 101. `code` is the JSON
    /// `code` of a Frontdesk server's refusal; `None` means someone else answered (a
    /// proxy that blocks WebSockets, a captive portal).
    Refused { status: u16, code: Option<String>, retry_after: Option<Duration> },
    /// The server's name does not resolve.
    Dns,
    /// Nothing listens at the address (server down or wrong port).
    ConnectionRefused,
    /// The connection was reset or dropped without a close frame (1006).
    Dropped,
    /// No answer to the connection attempt in time.
    ConnectTimeout,
    /// The TLS handshake failed (certificate problem, wrong clock, interception).
    Tls(String),
    /// No frame of any kind for two heartbeats.
    Silence,
    /// A command waited over 10 s for its ack on a session that looks open.
    AckOverdue,
    /// The wall clock jumped ahead of the monotonic clock: the machine slept.
    ClockJump,
    /// A gap in event seqs: resume from the last one seen.
    Gap,
    /// The server said something that breaks the contract.
    Protocol(String),
}

/// What the supervisor does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Full-jitter backoff for the current attempt.
    Backoff,
    /// Backoff, but never sooner than the floor (1013 without a hint).
    BackoffFrom(Duration),
    /// The server's hint: wait at least this long.
    After(Duration),
    /// A random delay in [0, max) (1012 without a hint).
    Jitter(Duration),
    /// Reconnect at once (resume with `after_seq`).
    Now,
    /// Refresh the access token, then reconnect at once.
    RefreshNow,
    /// Show sign-in; keep the outbox.
    SignOut,
    /// This desk is too old for the server; do not retry.
    UpdateRequired,
    /// Stay closed (a normal close).
    Stop,
    /// Stay closed and report: the server says retrying will not help.
    StopAndReport,
}

pub fn classify(failure: &Failure) -> Action {
    match failure {
        Failure::Closed { code, reason } => with_hint(close_action(*code), reason.retry_after_ms),
        Failure::Refused { status, code, retry_after } => refused_action(*status, code.as_deref(), *retry_after),
        Failure::Dns
        | Failure::ConnectionRefused
        | Failure::Dropped
        | Failure::ConnectTimeout
        | Failure::Tls(_)
        | Failure::Silence
        | Failure::AckOverdue
        | Failure::Protocol(_) => Action::Backoff,
        // After sleep the old link is certainly dead, and a gap needs a resume: both
        // reconnect without waiting.
        Failure::ClockJump | Failure::Gap => Action::Now,
    }
}

fn close_action(code: u16) -> Action {
    match code {
        1000 => Action::Stop,
        1001 | 1006 | 1008 | 1011 => Action::Backoff,
        1009 | 4008 => Action::Now,
        1012 => Action::Jitter(Duration::from_secs(5)),
        1013 | 4029 => Action::BackoffFrom(Duration::from_secs(5)),
        4001 => Action::RefreshNow,
        4003 => Action::SignOut,
        3000..=3499 | 4000..=4499 => Action::Backoff,
        3500..=3999 | 4500..=4999 => Action::StopAndReport,
        _ => Action::Backoff,
    }
}

/// A `retry_after_ms` hint overrides the timing of any action that retries.
fn with_hint(action: Action, hint_ms: Option<u64>) -> Action {
    match (action, hint_ms) {
        (Action::Stop | Action::StopAndReport | Action::SignOut | Action::UpdateRequired | Action::RefreshNow, _)
        | (_, None) => action,
        (_, Some(ms)) => Action::After(Duration::from_millis(ms)),
    }
}

fn refused_action(status: u16, code: Option<&str>, retry_after: Option<Duration>) -> Action {
    match (status, code) {
        (401, Some(_)) => Action::RefreshNow,
        (403, Some(_)) => Action::SignOut,
        (426, Some(_)) => Action::UpdateRequired,
        (429 | 503, _) => retry_after.map(Action::After).unwrap_or(Action::BackoffFrom(Duration::from_secs(5))),
        _ => Action::Backoff,
    }
}

/// Failures that may mean "WebSockets are blocked on this network, but HTTP works":
/// worth probing HTTP and switching to the fallback transport.
pub fn may_be_blocked(failure: &Failure) -> bool {
    match failure {
        // Someone other than our server refused the upgrade.
        Failure::Refused { code: None, status, .. } => !matches!(status, 429 | 503),
        Failure::Dropped | Failure::Protocol(_) | Failure::ConnectTimeout | Failure::Silence => true,
        _ => false,
    }
}

/// Whether the failure means the server cannot be reached at all (shown as offline)
/// rather than a session that ended (shown as reconnecting).
pub fn is_unreachable(failure: &Failure) -> bool {
    matches!(failure, Failure::Dns | Failure::ConnectionRefused | Failure::ConnectTimeout | Failure::Tls(_))
}

/// A sentence for the connection banner: what happened.
pub fn describe(failure: &Failure) -> String {
    match failure {
        Failure::Closed { code, reason } => {
            let what = match code {
                1000 => "The session was closed",
                1001 => "The server is going away",
                1008 => "The server closed the session after bad messages",
                1009 => "A message was too large for the server",
                1011 => "The server hit an error",
                1012 => "The server is restarting",
                1013 => "The server is overloaded",
                4001 => "The sign-in token expired",
                4003 => "This account is no longer allowed here",
                4008 => "The desk fell behind the event stream",
                4029 => "The desk sent too much too fast",
                _ => "The server closed the connection",
            };
            match &reason.message {
                Some(m) if !m.is_empty() => format!("{what} ({code}: {m})."),
                _ => format!("{what} ({code})."),
            }
        }
        Failure::Refused { status: 401, .. } => "The sign-in token was refused.".into(),
        Failure::Refused { status: 403, code: Some(_), .. } => "This account may not use this location.".into(),
        Failure::Refused { status: 426, .. } => {
            "The server needs a newer version of this app. Install the update.".into()
        }
        Failure::Refused { status: 429 | 503, .. } => "The server is busy and asked the desk to wait.".into(),
        Failure::Refused { status, code: None, .. } => {
            format!("Something on the network refused the live connection (HTTP {status}); a proxy may block it.")
        }
        Failure::Refused { status, .. } => format!("The server refused the live connection (HTTP {status})."),
        Failure::Dns => "The server's name cannot be found. Check the network, or the server address.".into(),
        Failure::ConnectionRefused => "The server is not answering (it may be restarting or stopped).".into(),
        Failure::Dropped => "The connection dropped.".into(),
        Failure::ConnectTimeout => "The server did not answer in time. Check the network.".into(),
        Failure::Tls(why) => format!("The server's security certificate was not accepted ({why}). Tell IT."),
        Failure::Silence => "No sign of life from the server for two heartbeats.".into(),
        Failure::AckOverdue => "The server stopped confirming scans.".into(),
        Failure::ClockJump => "The computer woke from sleep.".into(),
        Failure::Gap => "Some live updates were missed.".into(),
        Failure::Protocol(why) => format!("The server answered in an unexpected way ({why})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(code: u16) -> Failure {
        Failure::Closed { code, reason: CloseReason::default() }
    }

    fn refused(status: u16, code: Option<&str>) -> Failure {
        Failure::Refused { status, code: code.map(str::to_owned), retry_after: None }
    }

    /// docs/protocol.md, "Close codes and what a desk does", row by row.
    #[test]
    fn close_code_table() {
        let s5 = Duration::from_secs(5);
        let table = [
            (1000, Action::Stop),
            (1001, Action::Backoff),
            (1006, Action::Backoff),
            (1008, Action::Backoff),
            (1009, Action::Now),
            (1011, Action::Backoff),
            (1012, Action::Jitter(s5)),
            (1013, Action::BackoffFrom(s5)),
            (4001, Action::RefreshNow),
            (4003, Action::SignOut),
            (4008, Action::Now),
            (4029, Action::BackoffFrom(s5)),
            (4000, Action::Backoff),
            (4499, Action::Backoff),
            (3000, Action::Backoff),
            (3499, Action::Backoff),
            (4500, Action::StopAndReport),
            (4999, Action::StopAndReport),
            (3500, Action::StopAndReport),
            (3999, Action::StopAndReport),
        ];
        for (code, action) in table {
            assert_eq!(classify(&closed(code)), action, "close code {code}");
        }
    }

    #[test]
    fn server_hints_set_the_wait() {
        let hinted = |code| Failure::Closed { code, reason: CloseReason::default().with_retry_after(1234) };
        for code in [1001, 1011, 1012, 1013, 4029, 4008] {
            assert_eq!(classify(&hinted(code)), Action::After(Duration::from_millis(1234)), "{code}");
        }
        // A hint never turns a stop into a retry.
        for code in [1000, 4003, 4500] {
            assert_ne!(classify(&hinted(code)), Action::After(Duration::from_millis(1234)), "{code}");
        }
        let busy = Failure::Refused { status: 503, code: None, retry_after: Some(Duration::from_secs(7)) };
        assert_eq!(classify(&busy), Action::After(Duration::from_secs(7)));
        assert_eq!(classify(&refused(429, Some("too_many"))), Action::BackoffFrom(Duration::from_secs(5)));
    }

    #[test]
    fn upgrade_refusals() {
        assert_eq!(classify(&refused(401, Some("token_expired"))), Action::RefreshNow);
        assert_eq!(classify(&refused(401, Some("invalid_token"))), Action::RefreshNow);
        assert_eq!(classify(&refused(403, Some("forbidden"))), Action::SignOut);
        assert_eq!(classify(&refused(426, Some("unsupported_protocol"))), Action::UpdateRequired);
        assert_eq!(classify(&refused(502, None)), Action::Backoff);
        assert_eq!(classify(&refused(500, Some("internal"))), Action::Backoff);
        // A proxy's 403 is not our server's: not a sign-out, and maybe blocked.
        assert_eq!(classify(&refused(403, None)), Action::Backoff);
        assert!(may_be_blocked(&refused(403, None)));
        assert!(!may_be_blocked(&refused(403, Some("forbidden"))));
    }

    #[test]
    fn network_failures_back_off_and_sleep_reconnects_at_once() {
        for f in [
            Failure::Dns,
            Failure::ConnectionRefused,
            Failure::Dropped,
            Failure::ConnectTimeout,
            Failure::Tls("unknown issuer".into()),
            Failure::Silence,
            Failure::AckOverdue,
        ] {
            assert_eq!(classify(&f), Action::Backoff, "{f:?}");
            assert!(!describe(&f).is_empty());
        }
        assert_eq!(classify(&Failure::ClockJump), Action::Now);
        assert_eq!(classify(&Failure::Gap), Action::Now);
        assert!(is_unreachable(&Failure::Dns) && !is_unreachable(&Failure::Silence));
    }
}
