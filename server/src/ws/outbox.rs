//! The bounded queue of frames between a session's loop and its writer.
//!
//! Both ends live in the session's one task: the loop pushes, and the writer, polled by
//! the same task right after the loop on every wake (see `session::run`), drains it into
//! the socket. So a push needs no wake-up, and an idle session holds no channel: the
//! queue is an empty `VecDeque` that allocates only while frames wait. A full queue
//! means the desk reads slower than events arrive; the loop then closes it with 4008.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Mutex;
use std::task::{Poll, Waker};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};

/// The writer is gone (the socket failed, or it sent a close frame), or it had no room
/// within the wait.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    Full,
    Gone,
}

/// What the writer does next.
pub enum Next {
    Frame(Message),
    /// A close that skips the queue (4008); the writer ends after it.
    Urgent(CloseFrame),
    /// The session has finished and everything queued is written.
    Done,
}

pub struct Outbox {
    state: Mutex<State>,
}

struct State {
    frames: VecDeque<Message>,
    capacity: usize,
    urgent: Option<CloseFrame>,
    /// The session pushes nothing more; the writer ends once the queue is empty.
    finished: bool,
    writer_gone: bool,
    /// The session waits for room.
    sender: Option<Waker>,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                frames: VecDeque::new(),
                capacity: capacity.max(1),
                urgent: None,
                finished: false,
                writer_gone: false,
                sender: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still has a sound queue.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame if there is room.
    pub fn try_push(&self, message: Message) -> Result<(), PushError> {
        self.offer(message).map_err(|(e, _)| e)
    }

    /// Queues a frame if there is room; otherwise hands it back.
    fn offer(&self, message: Message) -> Result<(), (PushError, Message)> {
        let mut s = self.state();
        if s.writer_gone || s.finished {
            return Err((PushError::Gone, message));
        }
        if s.frames.len() >= s.capacity {
            return Err((PushError::Full, message));
        }
        s.frames.push_back(message);
        Ok(())
    }

    /// Queues a frame, waiting up to `within` for room.
    pub async fn push(&self, message: Message, within: Duration) -> Result<(), PushError> {
        // Fast path, without arming a timer: there is room.
        let mut message = match self.offer(message) {
            Ok(()) => return Ok(()),
            Err((PushError::Gone, _)) => return Err(PushError::Gone),
            Err((PushError::Full, message)) => Some(message),
        };
        // Full: the writer makes room as the socket drains, and wakes us.
        let wait = poll_fn(|cx| {
            let mut s = self.state();
            if s.writer_gone || s.finished {
                return Poll::Ready(Err(PushError::Gone));
            }
            if s.frames.len() < s.capacity {
                s.frames.push_back(message.take().expect("pushed once"));
                return Poll::Ready(Ok(()));
            }
            s.sender = Some(cx.waker().clone());
            Poll::Pending
        });
        tokio::time::timeout(within, wait).await.unwrap_or(Err(PushError::Full))
    }

    /// A close frame that goes out before anything queued; the writer ends after it.
    pub fn close_now(&self, frame: CloseFrame) {
        let mut s = self.state();
        s.urgent = Some(frame);
        s.finished = true;
    }

    /// The session sends nothing more: the writer ends once the queue is written.
    pub fn finish(&self) {
        self.state().finished = true;
    }

    /// Takes the next frame. Pending when nothing waits: the writer is polled again
    /// after the session's loop, the only producer, in the same task.
    pub fn poll_next(&self) -> Poll<Next> {
        let mut s = self.state();
        if let Some(frame) = s.urgent.take() {
            return Poll::Ready(Next::Urgent(frame));
        }
        match s.frames.pop_front() {
            Some(message) => {
                if let Some(sender) = s.sender.take() {
                    sender.wake();
                }
                if s.frames.is_empty() {
                    // Most sessions are idle most of the time: hold no queue between frames.
                    s.frames = VecDeque::new();
                }
                Poll::Ready(Next::Frame(message))
            }
            None if s.finished => Poll::Ready(Next::Done),
            None => Poll::Pending,
        }
    }

    /// The writer has stopped: pushes fail from now on, and a waiting push wakes.
    pub fn writer_gone(&self) {
        let mut s = self.state();
        s.writer_gone = true;
        s.frames.clear();
        s.frames.shrink_to_fit();
        if let Some(sender) = s.sender.take() {
            sender.wake();
        }
    }
}
