//! The one code path for state-changing commands, whichever transport carries them:
//! validate, store (idempotently, within the command timeout), broadcast, count.

use chrono::Utc;
use frontdesk_protocol::RejectionCode;
use frontdesk_protocol::ws::{Ack, AckStatus, Command};

use crate::auth::Actor;
use crate::metrics::AckLabels;
use crate::state::Shared;
use crate::store::StoreError;

pub use crate::transport::Transport;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Not stored within the command timeout: the server is overloaded. The command may
    /// or may not have been applied; the desk resends the same op_id and learns which.
    #[error("the command was not stored in time")]
    Timeout,
    #[error(transparent)]
    Store(StoreError),
}

/// Checks what serde cannot: non-empty names, one member selector, a reason for an
/// override. A sentence naming the field, or `Ok`.
pub fn validate(command: &Command) -> Result<(), String> {
    fn text(field: &str, value: &str, max: usize) -> Result<(), String> {
        if value.trim().is_empty() {
            return Err(format!("`{field}` must not be empty."));
        }
        if value.len() > max {
            return Err(format!("`{field}` is longer than {max} characters."));
        }
        Ok(())
    }
    match command {
        Command::CheckIn(c) => {
            text("location_id", &c.location_id, 100)?;
            text("desk_id", &c.desk_id, 100)?;
            c.member.validate()?;
            if let Some(o) = &c.override_ {
                text("override.reason", &o.reason, 500)?;
            }
        }
        Command::CheckOut(c) => {
            text("location_id", &c.location_id, 100)?;
            text("desk_id", &c.desk_id, 100)?;
            match (&c.check_in_id, &c.member) {
                (Some(id), _) => text("check_in_id", id, 100)?,
                (None, Some(member)) => member.validate()?,
                (None, None) => return Err("A check-out needs `check_in_id` or `member`.".into()),
            }
        }
    }
    Ok(())
}

/// Only a command that waited in a desk's outbox carries its own time; a live one is
/// judged now, whatever the desk's clock says (a backdated live scan must not let an
/// expired member in as of last month). A queued time is never in the future; a queued
/// command older than `queued_max_age` is accepted for review by the store.
pub fn judge_at_server_time(command: &mut Command, now: chrono::DateTime<Utc>) {
    let (queued, occurred_at) = match command {
        Command::CheckIn(c) => (c.queued, &mut c.occurred_at),
        Command::CheckOut(c) => (c.queued, &mut c.occurred_at),
    };
    *occurred_at = if queued { (*occurred_at).min(now) } else { now };
}

/// Applies a command and returns its ack (with `duplicate` set for a repeated op_id).
pub async fn apply(
    state: &Shared,
    mut command: Command,
    actor: &Actor,
    transport: Transport,
) -> Result<Ack, ApplyError> {
    let ack = match validate(&command) {
        Err(message) => Ack::rejected(command.op_id(), RejectionCode::InvalidRequest, message),
        Ok(()) => {
            let now = Utc::now();
            judge_at_server_time(&mut command, now);
            // The store's writer publishes the command's event when its batch commits, in
            // commit order, even if this caller has stopped waiting (timeout): no desk
            // waits for an event that was committed but never broadcast.
            let applied = tokio::time::timeout(state.settings.command_timeout, state.store.apply(&command, actor, now))
                .await
                .map_err(|_| ApplyError::Timeout)?
                .map_err(ApplyError::Store)?;
            applied.ack
        }
    };
    state
        .metrics
        .acks
        .get_or_create(&AckLabels {
            status: match ack.status {
                AckStatus::Accepted => "accepted".into(),
                AckStatus::Rejected => "rejected".into(),
            },
            code: ack.code.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            transport: transport.as_str().into(),
            duplicate: ack.duplicate.to_string(),
        })
        .inc();
    Ok(ack)
}
