//! One WebSocket session: hello, resume, live events, commands, heartbeats, token
//! expiry, limits and every close the server sends.
//!
//! One task per session, running two parts: the session loop reads frames, runs
//! commands and forwards events into a bounded outbox; the writer drains the outbox into
//! the socket, so a slow socket never holds up the loop. The task polls the loop first
//! and the writer right after on every wake, so an event the loop queues is written in
//! the same wake. A full outbox means the desk reads slower than events arrive: it is
//! closed with 4008 and resumes with `after_seq`, rather than the server buffering
//! without bound.
//!
//! An idle session is mostly waiting futures, so their size is its memory: the futures
//! the loop waits on live across its turns (no registering and unregistering with the
//! event feed, the control feed, the shutdown token and the expiry timer on every
//! event), and the larger steps (opening, a frame from the desk, a replay) run boxed,
//! only while they run.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chrono::{DateTime, Utc};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use prometheus_client::metrics::counter::Counter;
use rand::Rng;
use tokio::sync::broadcast::{self, error::RecvError};

use frontdesk_protocol::ws::{
    Ack, ClientFrame, Command, EXTENSION_PRESENCE, ErrorFrame, Hello, PresenceReport, Resume, ResumeStatus, ServerFrame,
};
use frontdesk_protocol::{CloseCode, CloseReason, ErrorCode, PROTOCOL_VERSION, RejectionCode};

use super::limits::{MalformedWindow, RateLimit};
use super::outbox::{Next, Outbox, PushError};
use crate::auth::Actor;
use crate::hub::{Control, Published};
use crate::metrics::FrameLabels;
use crate::presence::{self, Binding};
use crate::service::{self, ApplyError, Transport};
use crate::state::Shared;

/// What the upgrade handler established.
pub struct SessionContext {
    pub actor: Actor,
    pub token_expires_at: DateTime<Utc>,
    pub location_id: String,
    pub after_seq: Option<i64>,
    /// The refresh-token family of the access token (`fam`): its revocation ends the session.
    pub family: Option<String>,
    /// Subscribed before the user was loaded at the upgrade, so a change of rights made
    /// while the session opens is never missed.
    pub control: broadcast::Receiver<Control>,
}

/// Events replayed from the store per read.
const REPLAY_PAGE: i64 = 500;

/// How a session ends.
enum End {
    /// Send this close frame after the frames already queued.
    Close(CloseCode, CloseReason),
    /// The desk reads too slowly: skip the queue, close with 4008.
    SlowConsumer,
    /// The desk closed, or the connection is gone.
    PeerGone,
    /// Nothing heard for two heartbeats: drop without ceremony.
    Dead,
}

fn close(code: CloseCode, message: &str) -> End {
    End::Close(code, CloseReason::new(message))
}

fn close_with_hint(code: CloseCode, message: &str, retry_after_ms: u64) -> End {
    End::Close(code, CloseReason::new(message).with_retry_after(retry_after_ms))
}

struct Session {
    state: Shared,
    actor: Actor,
    location_id: String,
    session_id: uuid::Uuid,
    token_expires_at: DateTime<Utc>,
    family: Option<String>,
    out: Arc<Outbox>,
    last_sent_seq: i64,
    last_heard: Instant,
    rate: RateLimit,
    malformed: MalformedWindow,
    /// Extension `presence`: the desk this session speaks for, once known (from its
    /// presence report, or a v1 desk's first command). Dropped with the session. Boxed:
    /// most of a session's life it is just waiting, and this is its largest field.
    desk: Option<Box<Binding>>,
    /// `frontdesk_ws_frames_out{kind="event"}`, looked up once: every event goes to
    /// every session of its location.
    events_out: Counter,
}

/// The session's task. Everything it holds for its whole life is set up here, outside
/// the future, and the future uses it in place: an async block keeps what it captured
/// for as long as it runs, so moving it again inside would keep it twice.
pub fn run(socket: WebSocket, state: Shared, ctx: SessionContext) -> impl Future<Output = ()> + Send + 'static {
    let open = state.session_count.fetch_add(1, Ordering::SeqCst) + 1;
    // Counted here, where it is sure to be given back at the end; the upgrade's check
    // is only a cheap early refusal.
    let admitted_for_user = state.user_limits.session_opening(&ctx.actor.user_id);
    state.metrics.sessions_open.inc();
    let (sink, mut stream) = socket.split();
    let outbox = Arc::new(Outbox::new(state.settings.session_queue));
    let events_out = state.metrics.frames_out.get_or_create(&FrameLabels { kind: "event".into() }).clone();
    let mut session = Session {
        actor: ctx.actor,
        location_id: ctx.location_id,
        session_id: uuid::Uuid::new_v4(),
        token_expires_at: ctx.token_expires_at,
        family: ctx.family,
        out: outbox.clone(),
        last_sent_seq: 0,
        last_heard: Instant::now(),
        rate: RateLimit::new(state.settings.ws_rate_per_s, state.settings.ws_rate_burst, Instant::now()),
        malformed: MalformedWindow::new(),
        desk: None,
        events_out,
        state,
    };
    let after_seq = ctx.after_seq;
    let control = ctx.control;
    let mut writer = Writer::new(sink, outbox);
    async move {
        let mut writer_done = false;
        let (this, socket) = (&mut session, &mut stream);
        let lifecycle = async move {
            let (session, stream) = (this, socket);
            let end = if !admitted_for_user {
                close_with_hint(
                    CloseCode::TRY_AGAIN_LATER,
                    "This account holds the most live connections one account may; try again later.",
                    30_000,
                )
            } else if open > session.state.settings.max_sessions {
                // Admitted by the upgrade check but over the limit by the time it opened.
                let hint = rand::rng().random_range(5000..15000);
                close_with_hint(
                    CloseCode::TRY_AGAIN_LATER,
                    "The server is at its connection limit; try again later.",
                    hint,
                )
            } else {
                match session.serve(stream, after_seq, control).await {
                    Ok(()) => End::PeerGone,
                    Err(end) => end,
                }
            };
            let dead = matches!(end, End::Dead);
            let closing = matches!(end, End::Close(..) | End::SlowConsumer);
            // Boxed: a session takes this step once, at its end.
            Box::pin(async move {
                session.finish(end).await;
                if closing {
                    // Complete the close handshake: read until the desk answers our close.
                    // Closing the socket with unread input would send a TCP reset, and a
                    // reset makes the desk's kernel discard the close frame before the desk
                    // reads it.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(message)) = stream.next().await {
                            if matches!(message, Message::Close(_)) {
                                break;
                            }
                        }
                    })
                    .await;
                }
            })
            .await;
            dead
        };
        // The loop first, then the writer, on every wake: what the loop queued is written
        // before the task sleeps again (the outbox relies on this to need no wake-up).
        let dead = {
            tokio::pin!(lifecycle);
            loop {
                tokio::select! {
                    biased;
                    dead = &mut lifecycle => break dead,
                    () = poll_fn(|cx| writer.poll_write(cx)), if !writer_done => writer_done = true,
                }
            }
        };
        if !dead && !writer_done {
            // A dead link can leave the writer blocked on a full socket forever; otherwise
            // it gets two seconds to write what is queued (the close frame last).
            let _ = tokio::time::timeout(Duration::from_secs(2), poll_fn(|cx| writer.poll_write(cx))).await;
        }
        session.state.session_count.fetch_sub(1, Ordering::SeqCst);
        if admitted_for_user {
            session.state.user_limits.session_closed(&session.actor.user_id);
        }
        session.state.metrics.sessions_open.dec();
    }
}

/// Drains the outbox into the socket, everything queued in one flush; a slow-consumer
/// close skips the queue. A plain state machine rather than an async fn: it lives as
/// long as the session, and this keeps it to its socket half, one frame and three flags.
struct Writer {
    sink: SplitSink<WebSocket, Message>,
    outbox: Arc<Outbox>,
    /// Taken from the outbox, not yet accepted by the socket.
    pending: Option<Message>,
    /// Sent to the socket since the last flush.
    unflushed: bool,
    /// Nothing follows what was taken (a close frame, or the session is done).
    last: bool,
    done: bool,
}

impl Writer {
    fn new(sink: SplitSink<WebSocket, Message>, outbox: Arc<Outbox>) -> Self {
        Self { sink, outbox, pending: None, unflushed: false, last: false, done: false }
    }

    /// Ready once the writer has stopped: the socket failed, the close frame is out, or
    /// the session finished and everything queued is written. Pending with nothing to
    /// write registers no wake-up: the session's loop, the only producer, is polled
    /// before the writer in the same task.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while !self.done {
            if let Some(message) = self.pending.take() {
                match self.sink.poll_ready_unpin(cx) {
                    Poll::Pending => {
                        self.pending = Some(message);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => {
                        self.stop();
                        break;
                    }
                }
                if self.sink.start_send_unpin(message).is_err() {
                    self.stop();
                    break;
                }
                self.unflushed = true;
                continue;
            }
            if !self.last {
                match self.outbox.poll_next() {
                    Poll::Ready(Next::Frame(message)) => {
                        self.last = matches!(message, Message::Close(_));
                        self.pending = Some(message);
                        continue;
                    }
                    Poll::Ready(Next::Urgent(frame)) => {
                        self.last = true;
                        self.pending = Some(Message::Close(Some(frame)));
                        continue;
                    }
                    Poll::Ready(Next::Done) => self.last = true,
                    Poll::Pending => {}
                }
            }
            // All that was taken is with the socket: one flush for all of it.
            if self.unflushed {
                match self.sink.poll_flush_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => self.unflushed = false,
                    Poll::Ready(Err(_)) => {
                        self.stop();
                        break;
                    }
                }
            }
            if self.last {
                self.stop();
                break;
            }
            return Poll::Pending;
        }
        Poll::Ready(())
    }

    fn stop(&mut self) {
        self.done = true;
        self.pending = None;
        self.outbox.writer_gone();
    }
}

fn frame_text(frame: &ServerFrame) -> Message {
    Message::Text(serde_json::to_string(frame).expect("server frames serialise").into())
}

fn frame_kind(frame: &ServerFrame) -> &'static str {
    match frame {
        ServerFrame::Hello(_) => "hello",
        ServerFrame::Ack(_) => "ack",
        ServerFrame::Event(_) => "event",
        ServerFrame::Pong { .. } => "pong",
        ServerFrame::Reauthed { .. } => "reauthed",
        ServerFrame::Error(_) => "error",
    }
}

impl Session {
    fn heartbeat(&self) -> Duration {
        self.state.settings.heartbeat
    }

    /// Queues a frame, waiting for room; a desk that takes no frame for two heartbeats
    /// is dead.
    async fn send(&mut self, frame: ServerFrame) -> Result<(), End> {
        self.state.metrics.frame_out(frame_kind(&frame));
        let message = frame_text(&frame);
        drop(frame);
        self.out.push(message, self.heartbeat() * 2).await.map_err(|_| End::Dead)
    }

    /// Queues a live event frame without waiting: a full queue is a slow consumer.
    fn push_event(&mut self, published: &Published) -> Result<(), End> {
        self.events_out.inc();
        self.out.try_push(Message::Text(published.frame.clone())).map_err(|e| match e {
            PushError::Full => End::SlowConsumer,
            PushError::Gone => End::PeerGone,
        })?;
        self.last_sent_seq = published.seq;
        Ok(())
    }

    async fn error_frame(&mut self, code: ErrorCode, message: impl Into<String>) -> Result<(), End> {
        self.send(ServerFrame::Error(ErrorFrame { code, message: message.into() })).await
    }

    /// The session until it ends: `Ok` when the desk closed it or the connection ended.
    async fn serve(
        &mut self,
        stream: &mut SplitStream<WebSocket>,
        after_seq: Option<i64>,
        control: broadcast::Receiver<Control>,
    ) -> Result<(), End> {
        // Subscribe before reading the store so nothing committed in between is missed;
        // anything seen twice is dropped by seq.
        let live = feed(self.state.hub.subscribe(&self.location_id));
        let control = feed(control);
        tokio::pin!(live, control);
        Box::pin(self.open(after_seq)).await?;

        // One timer for the heartbeat and the token's expiry, whichever comes first.
        let beat = self.heartbeat();
        let mut next_beat = tokio::time::Instant::now() + beat;
        let mut armed_for = self.token_expires_at;
        let mut expires = tokio::time::Instant::now() + time_until(armed_for);
        let shutdown = self.state.shutdown.clone();
        let cancelled = shutdown.cancelled();
        let timer = tokio::time::sleep_until(next_beat.min(expires));
        tokio::pin!(cancelled, timer);
        let mut control_open = true;
        loop {
            if self.token_expires_at != armed_for {
                // Reauthed: the session now lasts as long as the new token.
                armed_for = self.token_expires_at;
                expires = tokio::time::Instant::now() + time_until(armed_for);
                timer.as_mut().reset(next_beat.min(expires));
            }
            tokio::select! {
                biased;
                () = &mut cancelled => return Err(self.drain_close()),
                // Events before commands: a desk pipelining its outbox must still get the
                // events of its own check-ins, or it would fall behind and be cut off.
                published = live.next() => match published {
                    Some(Ok(published)) => self.forward(&published).await?,
                    Some(Err(RecvError::Lagged(_))) => return Err(End::SlowConsumer),
                    Some(Err(RecvError::Closed)) | None => {
                        return Err(close(CloseCode::SERVER_ERROR, "event feed closed"));
                    }
                },
                message = stream.next() => match message {
                    None => return Ok(()),
                    Some(Err(err)) => return Err(self.read_error(err)),
                    Some(Ok(message)) => Box::pin(self.on_message(message)).await?,
                },
                message = control.next(), if control_open => {
                    match message {
                        Some(Ok(Control::UserDisabled { user_id })) if user_id == self.actor.user_id => {
                            return Err(close(
                                CloseCode::FORBIDDEN,
                                "Your account was disabled. Sign in with another account; queued scans are kept.",
                            ));
                        }
                        Some(Ok(Control::RightsChanged { user_id })) if user_id == self.actor.user_id => {
                            return Err(close(
                                CloseCode::FORBIDDEN,
                                "Your account was changed by a manager. Sign in again; queued scans are kept.",
                            ));
                        }
                        Some(Ok(Control::FamilyRevoked { family_id })) if self.family.as_ref() == Some(&family_id) => {
                            return Err(close(
                                CloseCode::FORBIDDEN,
                                "This sign-in has ended (signed out, or its token was used twice). Sign in again; \
                                 scans saved at this desk are kept.",
                            ));
                        }
                        // Messages were missed: one of them may have been for this user.
                        // Never guess: ask the store what the user may do now.
                        Some(Err(RecvError::Lagged(_))) => Box::pin(self.recheck_rights()).await?,
                        Some(Err(RecvError::Closed)) | None => control_open = false,
                        _ => {}
                    }
                }
                () = &mut timer => {
                    let now = tokio::time::Instant::now();
                    if Utc::now() >= self.token_expires_at {
                        return Err(close(
                            CloseCode::TOKEN_EXPIRED,
                            "Access token expired without reauth. Refresh it and reconnect.",
                        ));
                    }
                    if now >= expires {
                        // The wall clock moved back: wait for the rest.
                        expires = now + time_until(self.token_expires_at);
                    }
                    if now >= next_beat {
                        if self.last_heard.elapsed() > beat * 2 {
                            tracing::info!(session = %self.session_id, "no frame from the desk for two heartbeats; dropping the session");
                            return Err(End::Dead);
                        }
                        self.state.metrics.frame_out("ping");
                        if let Err(PushError::Full) = self.out.try_push(Message::Ping(Default::default())) {
                            return Err(End::SlowConsumer);
                        }
                        next_beat = now + beat;
                    }
                    timer.as_mut().reset(next_beat.min(expires));
                }
            }
        }
    }

    /// `hello`, then any replay; afterwards only live events follow.
    async fn open(&mut self, after_seq: Option<i64>) -> Result<(), End> {
        let store = self.state.store.clone();
        let now = Utc::now();
        let (last_seq, stats) =
            match tokio::try_join!(store.last_seq(&self.location_id), store.stats(&self.location_id, now)) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "cannot open session");
                    return Err(close_with_hint(CloseCode::SERVER_ERROR, "The server cannot read its database.", 5000));
                }
            };
        let (status, count) = match after_seq {
            None => (ResumeStatus::None, 0),
            Some(after) if after > last_seq => (ResumeStatus::ResyncRequired, 0),
            Some(after) if after == last_seq => (ResumeStatus::Replayed, 0),
            Some(after) => match store.first_retained_seq(&self.location_id).await {
                Ok(Some(first)) if after + 1 >= first => (ResumeStatus::Replayed, last_seq - after),
                Ok(_) => (ResumeStatus::ResyncRequired, 0),
                Err(_) => {
                    return Err(close_with_hint(CloseCode::SERVER_ERROR, "The server cannot read its database.", 5000));
                }
            },
        };
        self.state.metrics.resume(match status {
            ResumeStatus::None => "none",
            ResumeStatus::Replayed => "replayed",
            ResumeStatus::ResyncRequired => "resync_required",
        });
        self.send(ServerFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            session_id: self.session_id.to_string(),
            server_time: now,
            heartbeat_ms: self.heartbeat().as_millis() as u64,
            location_id: self.location_id.clone(),
            last_seq,
            resume: Resume { status, count },
            stats,
            extensions: vec![EXTENSION_PRESENCE.to_owned()],
        }))
        .await?;
        self.last_sent_seq = last_seq;
        if status == ResumeStatus::Replayed {
            self.replay(after_seq.unwrap_or(0), last_seq).await?;
        }
        Ok(())
    }

    /// Sends stored events with `after < seq <= up_to`, in order.
    async fn replay(&mut self, after: i64, up_to: i64) -> Result<(), End> {
        let mut cursor = after;
        while cursor < up_to {
            let page =
                self.state.store.events_between(&self.location_id, cursor, up_to, REPLAY_PAGE).await.map_err(|_| {
                    close_with_hint(CloseCode::SERVER_ERROR, "The server cannot read its database.", 5000)
                })?;
            let Some(last) = page.last() else {
                // Pruned while we read: the desk must reload.
                return Err(close(CloseCode::SERVER_ERROR, "history moved on during replay; resume again"));
            };
            cursor = last.seq;
            for event in page {
                self.send(ServerFrame::Event(event)).await?;
            }
        }
        Ok(())
    }

    /// Sends a live event, first filling any gap from the store, skipping duplicates.
    async fn forward(&mut self, published: &Published) -> Result<(), End> {
        if published.seq <= self.last_sent_seq {
            return Ok(());
        }
        if published.seq > self.last_sent_seq + 1 {
            let from = self.last_sent_seq;
            Box::pin(self.replay(from, published.seq - 1)).await?;
        }
        self.push_event(published)
    }

    fn read_error(&self, err: axum::Error) -> End {
        let text = err.to_string();
        // tungstenite's capacity error: the frame was above even its raised limit.
        if text.contains("too long") || text.contains("Space limit") || text.contains("too big") {
            return close(CloseCode::MESSAGE_TOO_BIG, "Frame too large for this server.");
        }
        tracing::debug!(error = %text, "read error");
        End::PeerGone
    }

    fn drain_close(&self) -> End {
        let n = self.state.session_count.load(Ordering::SeqCst).max(1) as u64;
        let slot = self.state.drain_slot.fetch_add(1, Ordering::SeqCst) as u64 % n;
        // Spread the reconnects: 5 ms per session, between 1 s and the configured cap.
        let window = (n * 5).clamp(1000, self.state.settings.drain_spread.as_millis().max(1000) as u64);
        let step = (window / n).max(1);
        let hint = slot * window / n + rand::rng().random_range(0..step);
        close_with_hint(CloseCode::SERVICE_RESTART, "Server restarting; reconnect after the hint.", hint)
    }

    async fn on_message(&mut self, message: Message) -> Result<(), End> {
        self.last_heard = Instant::now();
        if let Some(desk) = &self.desk {
            desk.touch();
        }
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                self.state.metrics.frame_in("binary");
                self.take_rate()?;
                return self.malformed("Frames must be JSON text, not binary.").await;
            }
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Close(_) => return Err(End::PeerGone),
        };
        self.take_rate()?;
        if text.len() > self.state.settings.max_frame_bytes {
            self.state.metrics.frame_in("oversized");
            return Err(close(CloseCode::MESSAGE_TOO_BIG, "Frame larger than the server accepts."));
        }
        let decoded = super::decode::decode(text.as_str());
        self.state.metrics.frame_in(decoded.label());
        let frame = match decoded {
            super::decode::Decoded::Frame(frame) => frame,
            super::decode::Decoded::Malformed(message) => return self.malformed(message).await,
            super::decode::Decoded::Unknown(kind) => {
                return self
                    .error_frame(
                        ErrorCode::UnknownType,
                        format!(
                            "Unknown frame type {kind:?}. This server speaks frontdesk.v1 (check_in, check_out, \
                             reauth, ping) and the extension presence."
                        ),
                    )
                    .await;
            }
            // A command we can answer by op_id gets its one ack, as a rejection.
            super::decode::Decoded::BadCommand { op_id, message } => {
                self.malformed_count()?;
                let ack = Ack::rejected(op_id, RejectionCode::InvalidRequest, message);
                return self.send(ServerFrame::Ack(ack)).await;
            }
        };
        match frame {
            ClientFrame::Ping { t } => self.send(ServerFrame::Pong { t }).await,
            ClientFrame::Reauth { token } => self.reauth(&token).await,
            ClientFrame::CheckIn(c) => self.command(Command::CheckIn(c)).await,
            ClientFrame::CheckOut(c) => self.command(Command::CheckOut(c)).await,
            ClientFrame::Presence(report) => self.presence(report).await,
        }
    }

    /// Extension `presence`: binds the session to the desk it names (rebinding if it
    /// names another) and records its queue. No answer unless the report is refused.
    async fn presence(&mut self, report: PresenceReport) -> Result<(), End> {
        if report.location_id != self.location_id {
            return self
                .malformed(format!(
                    "This session is for location {:?}; a desk reports presence only for its own location, \
                     not {:?}.",
                    self.location_id, report.location_id
                ))
                .await;
        }
        if let Err(message) = presence::validate_desk_id(&report.desk_id) {
            return self.malformed(message).await;
        }
        match &self.desk {
            Some(desk) if desk.desk_id() == report.desk_id => desk.report(report.queued, &self.actor.name),
            _ => {
                // Drop the old binding first, so its desk is unbound before the new one counts.
                self.desk = None;
                self.desk = Some(Box::new(self.state.presence.bind(
                    &self.location_id,
                    &report.desk_id,
                    Some(report.queued),
                    &self.actor.name,
                )));
            }
        }
        Ok(())
    }

    /// A v1 desk never reports presence: it is known by the desk of its first command.
    fn bind_by_command(&mut self, command: &Command) {
        let (location_id, desk_id) = match command {
            Command::CheckIn(c) => (&c.location_id, &c.desk_id),
            Command::CheckOut(c) => (&c.location_id, &c.desk_id),
        };
        if self.desk.is_none() && *location_id == self.location_id && presence::validate_desk_id(desk_id).is_ok() {
            self.desk = Some(Box::new(self.state.presence.bind(&self.location_id, desk_id, None, &self.actor.name)));
        }
    }

    fn take_rate(&mut self) -> Result<(), End> {
        self.rate.take(Instant::now()).map_err(|wait| {
            let ms = (wait.as_millis() as u64).max(1000);
            close_with_hint(CloseCode::RATE_LIMITED, "Too many frames; slow down and reconnect after the hint.", ms)
        })
    }

    fn malformed_count(&mut self) -> Result<(), End> {
        if self.malformed.record(Instant::now()) {
            return Err(close(CloseCode::POLICY_VIOLATION, "Too many malformed frames."));
        }
        Ok(())
    }

    async fn malformed(&mut self, message: impl Into<String>) -> Result<(), End> {
        self.malformed_count()?;
        self.error_frame(ErrorCode::BadMessage, message).await
    }

    /// Reloads the user and ends the session with 4003 if they may no longer act here
    /// (disabled, removed, or no longer at this gym); otherwise adopts their rights now.
    async fn recheck_rights(&mut self) -> Result<(), End> {
        let user = match self.state.store.user_by_id(&self.actor.user_id).await {
            Ok(user) => user,
            // The store cannot say: end the session rather than let it act unchecked;
            // the desk reconnects and is checked afresh.
            Err(_) => return Err(close(CloseCode::SERVER_ERROR, "Could not check the account; reconnect.")),
        };
        let Some(user) = user.filter(|u| !u.disabled) else {
            return Err(close(
                CloseCode::FORBIDDEN,
                "Your account was disabled or removed. Sign in with another account; queued scans are kept.",
            ));
        };
        let actor = Actor {
            user_id: user.id,
            username: user.username,
            name: user.name,
            role: user.role,
            locations: user.locations,
        };
        if !actor.may_use_location(&self.location_id) {
            return Err(close(
                CloseCode::FORBIDDEN,
                "Your account no longer works at this gym. Sign in with another account; queued scans are kept.",
            ));
        }
        self.actor = actor;
        Ok(())
    }

    async fn reauth(&mut self, token: &str) -> Result<(), End> {
        match self.state.tokens.verify(token) {
            Ok(claims) if claims.sub == self.actor.user_id => {
                // A new token is a moment the rights may have changed: read them again.
                Box::pin(self.recheck_rights()).await?;
                self.token_expires_at = claims.session_deadline();
                let expires_at = claims.expires_at();
                self.family = claims.fam.or(self.family.take());
                self.send(ServerFrame::Reauthed { expires_at }).await
            }
            Ok(_) => {
                self.error_frame(
                    ErrorCode::InvalidToken,
                    "The new token belongs to another user; reconnect with it instead.",
                )
                .await
            }
            Err(_) => {
                self.error_frame(
                    ErrorCode::InvalidToken,
                    "The new token is not valid. The session continues until the current token expires.",
                )
                .await
            }
        }
    }

    async fn command(&mut self, command: Command) -> Result<(), End> {
        self.bind_by_command(&command);
        match service::apply(&self.state, command, &self.actor, Transport::WebSocket).await {
            Ok(ack) => self.send(ServerFrame::Ack(ack)).await,
            Err(ApplyError::Timeout) => {
                let hint = rand::rng().random_range(2000..5000);
                tracing::warn!("command not stored within the timeout; closing with 1013");
                Err(close_with_hint(CloseCode::TRY_AGAIN_LATER, "Server overloaded; resend after the hint.", hint))
            }
            Err(ApplyError::Store(e)) => {
                tracing::error!(error = %e, "command failed in storage; closing with 1011");
                let hint = rand::rng().random_range(1000..5000);
                Err(close_with_hint(
                    CloseCode::SERVER_ERROR,
                    "Server error; the command was not stored. Resend it.",
                    hint,
                ))
            }
        }
    }

    /// Hands the closing frame (if any) to the writer and tells it the session is done,
    /// so the writer ends once it has sent what is queued.
    async fn finish(&mut self, end: End) {
        let metrics = &self.state.metrics;
        match end {
            End::Close(code, reason) => {
                metrics.close(code.0);
                tracing::info!(session = %self.session_id, user = %self.actor.username, code = code.0, reason = ?reason.message, "closing session");
                let frame = CloseFrame { code: code.0, reason: reason.to_wire().into() };
                let _ = self.out.push(Message::Close(Some(frame)), Duration::from_secs(2)).await;
            }
            End::SlowConsumer => {
                metrics.close(CloseCode::SLOW_CONSUMER.0);
                tracing::info!("desk reads too slowly; closing with 4008");
                let reason = CloseReason::new("Too slow reading events; resume with after_seq.");
                self.out.close_now(CloseFrame { code: CloseCode::SLOW_CONSUMER.0, reason: reason.to_wire().into() });
            }
            End::PeerGone | End::Dead => {}
        }
        self.out.finish();
        // The desk is offline from now on, whether or not the close handshake completes.
        self.desk = None;
    }
}

/// Time left until `deadline` on the wall clock (zero once past).
fn time_until(deadline: DateTime<Utc>) -> Duration {
    (deadline - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

/// A broadcast receiver as a stream. Its waiting `recv` lives in the stream, so the
/// session loop keeps its place in the feed's queue while it handles other things,
/// instead of joining and leaving it on every turn. Ends after reporting `Closed`.
fn feed<T: Clone + Send>(rx: broadcast::Receiver<T>) -> impl Stream<Item = Result<T, RecvError>> {
    futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Err(RecvError::Closed) => Some((Err(RecvError::Closed), None)),
            other => Some((other, Some(rx))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future a function returns, without calling it.
    fn future_size<F, Fut>(_: &F) -> usize
    where
        F: FnOnce(WebSocket, Shared, SessionContext) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    /// An idle session is mostly this future (it is the session's task): the steps that
    /// need more (opening, a desk's frame, a replay) are boxed while they run.
    #[test]
    fn a_session_future_stays_small() {
        let size = future_size(&run);
        println!("session future: {size} bytes");
        // 1,248 bytes with rustc 1.95 (from 4.8 KiB for the task of two before).
        assert!(size <= 1536, "the session future grew to {size} bytes; box the large step that made it grow");
    }
}
