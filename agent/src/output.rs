//! Standard output: one JSON object per line, in the order things happened, and nothing
//! else. A single writer task owns stdout so lines never interleave.

use frontdesk_desk::DeskEvent;
use frontdesk_protocol::RejectionCode;
use frontdesk_protocol::api::EventEnvelope;
use frontdesk_protocol::ws::AckStatus;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Line(Value),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Output {
    tx: mpsc::UnboundedSender<Msg>,
}

impl Output {
    pub fn start() -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        tokio::spawn(async move {
            let mut stdout = tokio::io::stdout();
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Line(v) => {
                        let mut line = v.to_string();
                        line.push('\n');
                        if stdout.write_all(line.as_bytes()).await.is_err() {
                            return;
                        }
                        let _ = stdout.flush().await;
                    }
                    Msg::Flush(done) => {
                        let _ = stdout.flush().await;
                        let _ = done.send(());
                    }
                }
            }
        });
        Self { tx }
    }

    fn line(&self, v: Value) {
        let _ = self.tx.send(Msg::Line(v));
    }

    pub fn error(&self, code: &str, message: &str) {
        self.line(json!({"kind": "error", "code": code, "message": message}));
    }

    /// A scan the cached member list turned away while the server could not answer:
    /// nothing was saved (docs/desk.md "The agent", `turned_away`; docs/protocol.md, "the
    /// turned-away policy").
    pub fn turned_away(&self, card: Option<&str>, code: RejectionCode, message: &str) {
        self.line(json!({"kind": "turned_away", "card": card, "code": code, "message": message}));
    }

    /// Writes every desk event as its line.
    /// Prints the desk's events as they come; the task ends when the desk stops
    /// (`Desk::shutdown` ends the channel), having printed every one.
    pub fn follow(&self, mut events: mpsc::UnboundedReceiver<DeskEvent>) -> tokio::task::JoinHandle<()> {
        let out = self.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                out.line(render(event));
            }
        })
    }

    /// Waits until everything sent so far is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

fn render(event: DeskEvent) -> Value {
    match event {
        DeskEvent::State(s) => json!({
            "kind": "state", "state": s.state.as_str(), "detail": s.detail,
            "attempt": s.attempt, "next_retry_ms": s.next_retry_ms,
        }),
        DeskEvent::Queued { op_id, card, provisional, reason } => {
            let mut v = json!({"kind": "queued", "op_id": op_id, "card": card, "provisional": provisional});
            if let Some(r) = reason {
                v["reason"] = json!(r);
            }
            v
        }
        DeskEvent::Ack { ack } => json!({
            "kind": "ack", "op_id": ack.op_id,
            "status": match ack.status { AckStatus::Accepted => "accepted", AckStatus::Rejected => "rejected" },
            "duplicate": ack.duplicate, "code": ack.code, "message": ack.message,
            "check_in_id": ack.check_in.as_ref().map(|c| c.id.clone()),
        }),
        DeskEvent::Event { event } => json!({
            "kind": "event", "seq": event.seq,
            "event": serde_json::to_value(EventEnvelope::Event(event)).unwrap_or(Value::Null),
        }),
        DeskEvent::Resync { last_seq } => json!({
            "kind": "error", "code": "resync_required",
            "message": format!("Missed updates are no longer kept by the server; continuing from event {last_seq}."),
        }),
        DeskEvent::Error { code, message } => json!({"kind": "error", "code": code, "message": message}),
    }
}
