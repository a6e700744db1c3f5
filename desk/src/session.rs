//! One WebSocket session from the desk's side: the upgrade (bearer header, `frontdesk.v1`),
//! the hello and resume, pipelined sending of the outbox, acks and events (recorded in
//! batches: every frame already received goes into one outbox transaction), and every
//! way of noticing the link is dead (close, silence, overdue ack, clock jump).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use frontdesk_protocol::ws::{Ack, ClientFrame, EXTENSION_PRESENCE, Hello, PresenceReport, ResumeStatus, ServerFrame};
use frontdesk_protocol::{ACK_TIMEOUT_MS, CloseReason, RejectionCode, SUBPROTOCOL_V1};

use crate::classify::Failure;
use crate::shared::{Received, Shared};
use crate::state::{ConnectionState, Status};
use crate::tokens::{Access, TokenFailure};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Commands in flight at once on one session. The server runs a session's commands one
/// at a time and answers them in order, so the window does not make it work harder: it
/// keeps commands waiting at the server while earlier acks travel back and are recorded
/// here, so a replay goes at the server's pace rather than one round trip per window.
/// 256 covers a round trip (plus the desk's own commit of a batch of acks) of a quarter
/// second at 1,000 acks/s, or a second at 256/s; 32 covered a tenth of that. The cost is
/// small: 256 small frames (tens of KiB) in the socket buffers, and after a dropped
/// connection up to 256 commands sent again, which the server answers as duplicates.
pub const WINDOW: usize = 256;
/// Frames taken into one outbox transaction at most, so a long burst (a replay of many
/// events after a resume) is committed and reported in steps.
const MAX_BATCH: usize = 512;
/// The server refuses frames above this (its default); larger commands are rejected here.
pub const MAX_FRAME_BYTES: usize = 65_536;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A wall-clock jump beyond the monotonic clock larger than this means the machine slept.
const CLOCK_JUMP: Duration = Duration::from_secs(5);

/// How often at most a session reports its outbox count (extension `presence`).
const PRESENCE_EVERY: Duration = Duration::from_secs(1);

/// What this session last told the server of its outbox (extension `presence`).
#[derive(Default)]
struct Presence {
    queued: Option<u32>,
    sent_at: Option<Instant>,
    dirty: bool,
}

/// An open session, hello received.
pub struct Link {
    pub socket: Socket,
    pub hello: Hello,
    pub access: Access,
}

/// How a session ended.
pub enum End {
    Failed(Failure),
    /// The desk is shutting down; the session was closed with 1001.
    Shutdown,
    /// The sign-in ended during the session.
    SignedOut(String),
    /// Staff signed out at this desk; the session was closed with 1000.
    SignOut,
}

fn failure_from(err: tungstenite::Error) -> Failure {
    use std::io::ErrorKind;
    match err {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let code = response
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .and_then(|v| v["code"].as_str().map(str::to_owned));
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Failure::Refused { status, code, retry_after }
        }
        tungstenite::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => Failure::ConnectionRefused,
            ErrorKind::TimedOut => Failure::ConnectTimeout,
            _ => {
                let text = io.to_string();
                if text.contains("lookup") || text.contains("resolve") || text.contains("Name or service") {
                    Failure::Dns
                } else {
                    Failure::Dropped
                }
            }
        },
        tungstenite::Error::Tls(e) => Failure::Tls(e.to_string()),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => Failure::Dropped,
        // The connection closed mid-handshake or without a close frame: a drop (a server
        // restarting behind a load balancer looks like this), not a protocol breach.
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::HandshakeIncomplete
            | tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => Failure::Dropped,
        tungstenite::Error::Protocol(p) => Failure::Protocol(p.to_string()),
        other => Failure::Protocol(other.to_string()),
    }
}

/// Opens a session and reads its hello.
pub async fn connect(shared: &Shared, access: Access) -> Result<Link, Failure> {
    let after = shared.resume_point().map_err(|e| Failure::Protocol(e.message))?;
    let url = shared.api.ws_url(&shared.config.location_id, after);
    let mut request = url.into_client_request().map_err(|e| Failure::Protocol(e.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", access.token.expose()))
        .map_err(|_| Failure::Protocol("access token is not a valid header".into()))?;
    request.headers_mut().insert("Authorization", bearer);
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL_V1));
    let config = WebSocketConfig::default().max_message_size(Some(16 << 20));
    crate::tls::install_crypto_provider();
    let (mut socket, response) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            Some(tokio_tungstenite::Connector::Rustls(shared.api.tls_config())),
        ),
    )
    .await
    .map_err(|_| Failure::ConnectTimeout)?
    .map_err(failure_from)?;
    let protocol = response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
    if protocol != Some(SUBPROTOCOL_V1) {
        return Err(Failure::Protocol(format!("server chose subprotocol {protocol:?}")));
    }
    let hello = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return match serde_json::from_str::<ServerFrame>(text.as_str()) {
                        Ok(ServerFrame::Hello(hello)) => Ok(hello),
                        _ => Err(Failure::Protocol("the first frame was not hello".into())),
                    };
                }
                Some(Ok(Message::Close(frame))) => return Err(closed(frame)),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(failure_from(e)),
                None => return Err(Failure::Dropped),
            }
        }
    })
    .await
    .map_err(|_| Failure::Silence)??;
    Ok(Link { socket, hello, access })
}

/// Whether the wall clock ran ahead of the monotonic clock between two readings: the
/// monotonic clock stops while the machine sleeps, the wall clock does not.
pub fn clock_jumped(before: (SystemTime, Instant), after: (SystemTime, Instant)) -> bool {
    let wall = after.0.duration_since(before.0).unwrap_or_default();
    let mono = after.1.duration_since(before.1);
    wall > mono + CLOCK_JUMP
}

fn closed(frame: Option<CloseFrame>) -> Failure {
    match frame {
        Some(f) => Failure::Closed { code: u16::from(f.code), reason: CloseReason::parse(&f.reason) },
        None => Failure::Closed { code: 1005, reason: CloseReason::default() },
    }
}

struct InFlight {
    op_id: Uuid,
    sent_at: Instant,
}

struct Session<'a> {
    shared: &'a Shared,
    socket: Socket,
    access: Access,
    heartbeat: Duration,
    in_flight: VecDeque<InFlight>,
    /// When the last ack arrived (the session's start before the first).
    last_ack: Instant,
    /// Highest outbox id handed to this session.
    sent_through: i64,
    last_frame: Instant,
    /// Wall and monotonic clocks at the last tick, to notice sleep.
    clocks: (SystemTime, Instant),
    /// `Some` when the server speaks the presence extension.
    presence: Option<Presence>,
}

/// Runs a session until it ends. The caller has the link from [`connect`].
pub async fn run(shared: &Shared, link: Link) -> End {
    let Link { socket, hello, access } = link;
    match hello.resume.status {
        ResumeStatus::Replayed => {}
        ResumeStatus::None => {
            if let Err(e) = shared.follow_from(hello.last_seq) {
                return End::Failed(Failure::Protocol(e.message));
            }
        }
        ResumeStatus::ResyncRequired => {
            if let Err(e) = shared.resync(hello.last_seq) {
                return End::Failed(Failure::Protocol(e.message));
            }
        }
    }
    let mut session = Session {
        shared,
        socket,
        access,
        heartbeat: Duration::from_millis(hello.heartbeat_ms.max(100)),
        in_flight: VecDeque::new(),
        last_ack: Instant::now(),
        sent_through: 0,
        last_frame: Instant::now(),
        clocks: (SystemTime::now(), Instant::now()),
        presence: hello.extensions.iter().any(|e| e == EXTENSION_PRESENCE).then(Presence::default),
    };
    shared
        .set_status(Status::new(ConnectionState::Live, "Connected. Scans are confirmed by the server as they happen."));
    let end = session.serve().await;
    let close = match end {
        End::Shutdown => Some(CloseFrame { code: WsCloseCode::Away, reason: "desk shutting down".into() }),
        End::SignOut => Some(CloseFrame { code: WsCloseCode::Normal, reason: "signed out".into() }),
        _ => None,
    };
    if let Some(frame) = close {
        let _ = session.socket.close(Some(frame)).await;
    }
    end
}

impl Session<'_> {
    async fn serve(&mut self) -> End {
        if let Err(end) = self.fill().await {
            return end;
        }
        if let Err(e) = self.report_presence(true).await {
            return End::Failed(e);
        }
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut ping = tokio::time::interval(self.heartbeat);
        let mut sign_outs = self.shared.sign_outs.subscribe();
        loop {
            let silence_deadline = tokio::time::Instant::from_std(self.last_frame + self.heartbeat * 2);
            let refresh_in = self.access.refresh_in();
            tokio::select! {
                biased;
                _ = self.shared.shutdown.cancelled() => return End::Shutdown,
                _ = sign_outs.changed() => return End::SignOut,
                message = self.socket.next() => {
                    self.last_frame = Instant::now();
                    if let Err(end) = self.on_messages(message).await {
                        return end;
                    }
                }
                _ = self.shared.wake.notified() => {
                    if let Err(end) = self.fill().await {
                        return end;
                    }
                    self.presence_changed();
                }
                _ = tokio::time::sleep_until(silence_deadline) => return End::Failed(Failure::Silence),
                _ = tick.tick() => {
                    // The server answers in order, one at a time: the oldest command may
                    // wait behind a window of others, so it is overdue only when no ack
                    // at all came for the timeout since it was sent.
                    if let Some(oldest) = self.in_flight.front()
                        && oldest.sent_at.max(self.last_ack).elapsed() > Duration::from_millis(ACK_TIMEOUT_MS)
                    {
                        return End::Failed(Failure::AckOverdue);
                    }
                    if self.slept() {
                        return End::Failed(Failure::ClockJump);
                    }
                    if let Err(e) = self.report_presence(false).await {
                        return End::Failed(e);
                    }
                }
                _ = ping.tick() => {
                    let t = chrono::Utc::now().timestamp_millis();
                    if let Err(e) = self.send(&ClientFrame::Ping { t }).await {
                        return End::Failed(e);
                    }
                }
                _ = tokio::time::sleep(refresh_in) => {
                    if let Err(end) = self.reauth().await {
                        return end;
                    }
                }
            }
        }
    }

    fn presence_changed(&mut self) {
        if let Some(p) = &mut self.presence {
            p.dirty = true;
        }
    }

    /// Extension `presence`: tells the server how many entries wait here, when the
    /// server speaks it. At most once a second (a replay of thousands of entries must
    /// not count the outbox after every ack), and only when the number changed.
    async fn report_presence(&mut self, now: bool) -> Result<(), Failure> {
        let Some(p) = &mut self.presence else { return Ok(()) };
        let due = p.dirty && p.sent_at.is_none_or(|t| t.elapsed() >= PRESENCE_EVERY);
        if !now && !due {
            return Ok(());
        }
        p.dirty = false;
        p.sent_at = Some(Instant::now());
        let queued = self.shared.outbox.counts().map(|c| c.pending).unwrap_or(0).clamp(0, u32::MAX as i64) as u32;
        if p.queued == Some(queued) {
            return Ok(());
        }
        p.queued = Some(queued);
        let report = PresenceReport {
            location_id: self.shared.config.location_id.clone(),
            desk_id: self.shared.config.desk_id.clone(),
            queued,
        };
        self.send(&ClientFrame::Presence(report)).await
    }

    /// True when the machine slept since the last tick.
    fn slept(&mut self) -> bool {
        let now = (SystemTime::now(), Instant::now());
        let jumped = clock_jumped(self.clocks, now);
        self.clocks = now;
        jumped
    }

    async fn send(&mut self, frame: &ClientFrame) -> Result<(), Failure> {
        let text = serde_json::to_string(frame).expect("client frames serialise");
        self.socket.send(Message::Text(text.into())).await.map_err(failure_from)
    }

    /// Sends pending outbox entries, in order, up to the window, flushing the socket once
    /// at the end rather than after each frame.
    async fn fill(&mut self) -> Result<(), End> {
        let sent = self.queue_commands().await;
        // Flush what was queued even when a later step failed.
        let flushed = self.socket.flush().await.map_err(|e| End::Failed(failure_from(e)));
        sent.and(flushed)
    }

    async fn queue_commands(&mut self) -> Result<(), End> {
        while self.in_flight.len() < WINDOW {
            let room = WINDOW - self.in_flight.len();
            let entries = self
                .shared
                .outbox
                .pending_after(self.sent_through, room)
                .map_err(|e| End::Failed(Failure::Protocol(e.message)))?;
            if entries.is_empty() {
                return Ok(());
            }
            for entry in entries {
                self.sent_through = entry.id;
                let frame = match entry.command {
                    frontdesk_protocol::ws::Command::CheckIn(c) => ClientFrame::CheckIn(c),
                    frontdesk_protocol::ws::Command::CheckOut(c) => ClientFrame::CheckOut(c),
                };
                let text = serde_json::to_string(&frame).expect("client frames serialise");
                if text.len() > MAX_FRAME_BYTES {
                    // The server would close the session with 1009 and the entry would
                    // block the queue forever: answer it here, finally.
                    let ack = Ack::rejected(
                        entry.op_id,
                        RejectionCode::InvalidRequest,
                        "This scan is too large to send (over 64 KiB); it was not recorded.",
                    );
                    self.shared.take_ack(ack).map_err(|e| End::Failed(Failure::Protocol(e.message)))?;
                    continue;
                }
                self.socket.feed(Message::Text(text.into())).await.map_err(|e| End::Failed(failure_from(e)))?;
                self.in_flight.push_back(InFlight { op_id: entry.op_id, sent_at: Instant::now() });
            }
        }
        Ok(())
    }

    /// Takes `first` and every frame already received after it (without waiting), acks
    /// and events in one outbox transaction, then sends what the acks made room for.
    /// What came before a close or a failure is still recorded.
    async fn on_messages(&mut self, first: Option<Result<Message, tungstenite::Error>>) -> Result<(), End> {
        let mut batch = Vec::new();
        let mut next = first;
        let mut taken = 0;
        loop {
            let step = match next {
                Some(Ok(Message::Text(text))) => self.on_text(text.as_str(), &mut batch),
                Some(Ok(Message::Close(frame))) => Err(End::Failed(closed(frame))),
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => Err(End::Failed(failure_from(e))),
                None => Err(End::Failed(Failure::Dropped)),
            };
            if let Err(end) = step {
                if let Err(e) = self.record(&mut batch) {
                    tracing::warn!(failure = ?e, "acks received before the session ended were not recorded");
                }
                return Err(end);
            }
            taken += 1;
            if taken >= MAX_BATCH {
                break;
            }
            match self.socket.next().now_or_never() {
                Some(message) => {
                    self.last_frame = Instant::now();
                    next = message;
                }
                None => break,
            }
        }
        let acks = batch.iter().any(|r| matches!(r, Received::Ack(_)));
        self.record(&mut batch).map_err(End::Failed)?;
        if acks {
            self.fill().await?;
            self.presence_changed();
        }
        Ok(())
    }

    /// Records a batch of acks and events in one outbox transaction and reports them.
    fn record(&mut self, batch: &mut Vec<Received>) -> Result<(), Failure> {
        if batch.is_empty() {
            return Ok(());
        }
        let received = std::mem::take(batch);
        let acked: Vec<Uuid> = received
            .iter()
            .filter_map(|r| match r {
                Received::Ack(ack) => Some(ack.op_id),
                Received::Event(_) => None,
            })
            .collect();
        let taken = self.shared.take_received(received).map_err(|e| Failure::Protocol(e.message))?;
        if !acked.is_empty() {
            self.last_ack = Instant::now();
            for op_id in acked {
                // Answers come in order: almost always the oldest.
                if self.in_flight.front().is_some_and(|f| f.op_id == op_id) {
                    self.in_flight.pop_front();
                } else {
                    self.in_flight.retain(|f| f.op_id != op_id);
                }
            }
        }
        taken.map_err(|_gap| Failure::Gap)
    }

    /// One text frame: acks and events join the batch; anything else is handled at once
    /// (after the batch so far, when it reports something, to keep reports in order).
    fn on_text(&mut self, text: &str, batch: &mut Vec<Received>) -> Result<(), End> {
        let frame: ServerFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable frame from the server; ignored");
                return Ok(());
            }
        };
        match frame {
            ServerFrame::Ack(ack) => batch.push(Received::Ack(ack)),
            ServerFrame::Event(event) => batch.push(Received::Event(event)),
            ServerFrame::Pong { t } => {
                let rtt = chrono::Utc::now().timestamp_millis() - t;
                self.shared.rtt_ms.store(rtt.max(0), std::sync::atomic::Ordering::Relaxed);
            }
            ServerFrame::Reauthed { .. } | ServerFrame::Hello(_) => {}
            ServerFrame::Error(e) => {
                self.record(batch).map_err(End::Failed)?;
                tracing::warn!(code = %e.code, message = %e.message, "server reported an error");
                self.shared.error(e.code.as_str(), e.message);
            }
        }
        Ok(())
    }

    /// Refreshes the access token (shared, single-flight) and hands it to the session.
    async fn reauth(&mut self) -> Result<(), End> {
        match self.shared.tokens.refresh(self.access.generation).await {
            Ok(access) => {
                self.access = access;
                let token = self.access.token.expose().to_owned();
                self.send(&ClientFrame::Reauth { token }).await.map_err(End::Failed)
            }
            Err(TokenFailure::SignedOut(message)) => Err(End::SignedOut(message)),
            Err(TokenFailure::Keychain(e)) => Err(End::SignedOut(e.message)),
            Err(TokenFailure::Temporary(f)) => {
                // Try again shortly; if the token runs out first, the server closes
                // with 4001 and the supervisor refreshes before reconnecting.
                tracing::info!(problem = %f.describe(), "token refresh failed; retrying");
                self.access.refresh_at = chrono::Utc::now() + chrono::Duration::seconds(5);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_shows_as_wall_time_without_monotonic_time() {
        let (wall, mono) = (SystemTime::now(), Instant::now());
        let later = |w: u64, m: u64| (wall + Duration::from_secs(w), mono + Duration::from_secs(m));
        assert!(!clock_jumped((wall, mono), later(1, 1)), "normal time");
        assert!(!clock_jumped((wall, mono), later(3, 0)), "small drift or NTP step");
        assert!(clock_jumped((wall, mono), later(600, 1)), "ten minutes asleep");
        // The wall clock set back (NTP, timezone mistakes) is not a sleep.
        assert!(!clock_jumped((wall + Duration::from_secs(600), mono), later(0, 1)));
    }
}
