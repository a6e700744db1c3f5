//! The one writer of the command path (group commit).
//!
//! Every check-in and check-out (from every WebSocket session and from HTTP), every
//! review decision and every automatic check-out is a [`Job`] sent to one dedicated
//! thread. The thread owns a rusqlite connection with cached prepared statements, takes
//! whatever jobs are waiting, applies them in one transaction with a savepoint per job
//! (one job's failure rolls back that job only), commits once, and only then publishes
//! the batch's events and answers each job, in commit order.
//!
//! Why this shape: at `synchronous=FULL` one WAL commit costs an fsync (about 1.2 ms on
//! the machine in `docs/benchmarks.md`), so one transaction per command cannot pass
//! ~800 commands/s however fast the rest is; a batch shares that fsync. A plain thread
//! with rusqlite runs each statement in a few microseconds, where an async driver pays
//! a channel round trip per statement. Nothing is acknowledged before its batch is
//! durable: a crash loses only jobs whose answer was never sent.
//!
//! The other writers of the same file (setting a gym up, member edits, tokens: the sqlx
//! side) first [`Writer::pause`] this thread, so the two never wait on SQLite's busy
//! handler for each other.

mod commands;

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use frontdesk_protocol::ws::Command;
use frontdesk_protocol::{Event, ReviewDecision};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::auth::Actor;
use crate::store::{Applied, Publisher, Result, ReviewOutcome, StoreError};

/// Jobs waiting beyond this wait for the next batch: keeps one transaction's work (and
/// so the latency of its first job) bounded under a flood.
const MAX_BATCH: usize = 512;
/// Jobs queued for the writer before senders wait: backpressure rather than memory.
const QUEUE: usize = 8192;

/// What the writer's jobs need to know besides their own arguments.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Events kept per location for resume.
    pub event_retention: i64,
    /// A queued command older than this is accepted for a manager's review, never silently.
    pub queued_max_age: chrono::Duration,
}

enum Job {
    Apply {
        command: Command,
        actor: Actor,
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<Applied>>,
    },
    Review {
        visit_id: String,
        decision: ReviewDecision,
        note: Option<String>,
        actor: Actor,
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<ReviewOutcome>>,
    },
    CloseOverdue {
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<Vec<Event>>>,
    },
    /// Another writer needs the database: commit what is done, say so, and wait until
    /// `resume` is dropped.
    Pause {
        paused: oneshot::Sender<()>,
        resume: oneshot::Receiver<()>,
    },
    /// The store is closing: commit what is done, answer, and end the thread.
    Stop {
        stopped: oneshot::Sender<()>,
    },
}

/// What ends a batch early.
enum Control {
    Pause { paused: oneshot::Sender<()>, resume: oneshot::Receiver<()> },
    Stop { stopped: oneshot::Sender<()> },
}

/// A job's answer, held until its batch is committed.
enum Answer {
    Apply(oneshot::Sender<Result<Applied>>, Result<Applied>),
    Review(oneshot::Sender<Result<ReviewOutcome>>, Result<ReviewOutcome>),
    CloseOverdue(oneshot::Sender<Result<Vec<Event>>>, Result<Vec<Event>>),
}

impl Answer {
    /// The events to publish when the batch commits.
    fn events(&self) -> &[Event] {
        match self {
            Self::Apply(_, Ok(applied)) => applied.event.as_slice(),
            Self::Review(_, Ok(ReviewOutcome::Done { event, .. })) => std::slice::from_ref(event),
            Self::CloseOverdue(_, Ok(events)) => events,
            _ => &[],
        }
    }

    fn send(self) {
        // A caller that stopped waiting (timeout) just does not hear the answer; the
        // change stands and its events were published.
        let _ = match self {
            Self::Apply(reply, result) => reply.send(result).map_err(drop),
            Self::Review(reply, result) => reply.send(result).map_err(drop),
            Self::CloseOverdue(reply, result) => reply.send(result).map_err(drop),
        };
    }

    /// The batch did not commit: nothing of it is stored, so every job fails.
    fn fail(self, why: &str) {
        let error = || StoreError::NotCommitted(why.to_owned());
        let _ = match self {
            Self::Apply(reply, _) => reply.send(Err(error())).map_err(drop),
            Self::Review(reply, _) => reply.send(Err(error())).map_err(drop),
            Self::CloseOverdue(reply, _) => reply.send(Err(error())).map_err(drop),
        };
    }
}

/// Held by another writer while the command writer waits; dropping it resumes.
pub struct Paused {
    _resume: oneshot::Sender<()>,
}

pub struct Writer {
    jobs: mpsc::Sender<Job>,
    publisher: Arc<OnceLock<Publisher>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Opens the writer's own connection to the (already migrated) database file.
    pub fn start(path: &Path, settings: WriterSettings) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Each job runs in a savepoint, and SQLite keeps a savepoint's undo pages in a
        // statement journal: a temporary file by default, written page by page. In
        // memory it is a few pages per job, gone at the commit (perf: 10-15 % of the
        // writer thread was `subjournalPage` writing that file).
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, queue) = mpsc::channel(QUEUE);
        let publisher = Arc::new(OnceLock::new());
        let thread = {
            let publisher = publisher.clone();
            std::thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || run(conn, queue, settings, publisher))
                .map_err(|e| StoreError::NotCommitted(format!("could not start the store writer: {e}")))?
        };
        Ok(Self { jobs, publisher, thread: Mutex::new(Some(thread)) })
    }

    /// Where committed events go (the hub). Set once; later calls are ignored.
    pub fn set_publisher(&self, publisher: Publisher) {
        let _ = self.publisher.set(publisher);
    }

    async fn submit<T>(&self, job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(job(reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    pub async fn apply(&self, command: Command, actor: Actor, now: DateTime<Utc>) -> Result<Applied> {
        self.submit(|reply| Job::Apply { command, actor, now, reply }).await
    }

    pub async fn review(
        &self,
        visit_id: String,
        decision: ReviewDecision,
        note: Option<String>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<ReviewOutcome> {
        self.submit(|reply| Job::Review { visit_id, decision, note, actor, now, reply }).await
    }

    pub async fn close_overdue(&self, now: DateTime<Utc>) -> Result<Vec<Event>> {
        self.submit(|reply| Job::CloseOverdue { now, reply }).await
    }

    /// Stops the writer between batches until the returned guard is dropped.
    pub async fn pause(&self) -> Result<Paused> {
        let (paused, is_paused) = oneshot::channel();
        let (resume, wait) = oneshot::channel();
        self.jobs.send(Job::Pause { paused, resume: wait }).await.map_err(|_| closed())?;
        is_paused.await.map_err(|_| closed())?;
        Ok(Paused { _resume: resume })
    }

    /// Finishes the jobs already sent and ends the thread; later jobs are refused.
    pub async fn stop(&self) {
        let (stopped, is_stopped) = oneshot::channel();
        if self.jobs.send(Job::Stop { stopped }).await.is_ok() {
            let _ = is_stopped.await;
        }
        let thread = self.thread.lock().expect("writer lock").take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn closed() -> StoreError {
    StoreError::NotCommitted("the store is shutting down".into())
}

fn run(
    mut conn: Connection,
    mut queue: mpsc::Receiver<Job>,
    settings: WriterSettings,
    publisher: Arc<OnceLock<Publisher>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        let mut control = None;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Pause { paused, resume } => {
                    control = Some(Control::Pause { paused, resume });
                    break;
                }
                Job::Stop { stopped } => {
                    control = Some(Control::Stop { stopped });
                    break;
                }
                job => batch.push(job),
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            run_batch(&mut conn, &mut batch, &settings, publisher.get());
        }
        match control {
            Some(Control::Pause { paused, resume }) => {
                if paused.send(()).is_ok() {
                    // Resumes when the guard is dropped (the receiver then sees an error).
                    let _ = resume.blocking_recv();
                }
            }
            Some(Control::Stop { stopped }) => {
                queue.close();
                let _ = stopped.send(());
                return;
            }
            None => {}
        }
    }
}

fn run_batch(conn: &mut Connection, batch: &mut Vec<Job>, settings: &WriterSettings, publisher: Option<&Publisher>) {
    let mut answers = Vec::with_capacity(batch.len());
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let why = format!("the database could not be written: {e}");
        tracing::error!(error = %e, jobs = batch.len(), "store writer could not begin a transaction");
        for job in batch.drain(..) {
            if let Some(answer) = unanswered(job) {
                answer.fail(&why);
            }
        }
        return;
    }
    for job in batch.drain(..) {
        answers.push(run_job(conn, job, settings));
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        tracing::error!(error = %e, jobs = answers.len(), "store writer could not commit a batch");
        let _ = conn.execute_batch("ROLLBACK");
        let why = format!("the database could not be written: {e}");
        for answer in answers {
            answer.fail(&why);
        }
        return;
    }
    if let Some(publish) = publisher {
        for answer in &answers {
            let events = answer.events();
            if !events.is_empty() {
                publish(events);
            }
        }
    }
    for answer in answers {
        answer.send();
    }
}

/// A job's reply channel with no result yet (the batch failed before it ran).
fn unanswered(job: Job) -> Option<Answer> {
    fn placeholder<T>() -> Result<T> {
        Err(StoreError::NotCommitted(String::new()))
    }
    match job {
        Job::Apply { reply, .. } => Some(Answer::Apply(reply, placeholder())),
        Job::Review { reply, .. } => Some(Answer::Review(reply, placeholder())),
        Job::CloseOverdue { reply, .. } => Some(Answer::CloseOverdue(reply, placeholder())),
        Job::Pause { .. } | Job::Stop { .. } => None,
    }
}

/// Runs one job inside its own savepoint: its error undoes its writes only.
fn run_job(conn: &Connection, job: Job, settings: &WriterSettings) -> Answer {
    fn within<T>(conn: &Connection, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        conn.prepare_cached("SAVEPOINT job")?.execute([])?;
        match work(conn) {
            Ok(value) => {
                conn.prepare_cached("RELEASE job")?.execute([])?;
                Ok(value)
            }
            Err(e) => {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
                Err(e)
            }
        }
    }
    match job {
        Job::Apply { command, actor, now, reply } => {
            Answer::Apply(reply, within(conn, |c| commands::apply(c, settings, &command, &actor, now)))
        }
        Job::Review { visit_id, decision, note, actor, now, reply } => Answer::Review(
            reply,
            within(conn, |c| commands::review(c, settings, &visit_id, decision, note.as_deref(), &actor, now)),
        ),
        Job::CloseOverdue { now, reply } => {
            Answer::CloseOverdue(reply, within(conn, |c| commands::close_overdue(c, settings, now)))
        }
        Job::Pause { .. } | Job::Stop { .. } => unreachable!("controls end a batch before it runs"),
    }
}
