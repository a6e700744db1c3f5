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

/// Longest member card or id, staff user id (`scanned_by`) and desk or location id: every
/// free-text field of a command is bounded, since each is stored, kept in events and
/// broadcast to every desk of the gym.
const MAX_ID: usize = 100;

/// Checks what serde cannot: non-empty names, one member selector, a reason for an
/// override, every text bounded. A sentence naming the field, or `Ok`.
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
    fn member(m: &frontdesk_protocol::ws::MemberSelector) -> Result<(), String> {
        m.validate()?;
        if let Some(card) = &m.card {
            text("member.card", card, crate::import::MAX_CARD)?;
        }
        if let Some(id) = &m.id {
            text("member.id", id, MAX_ID)?;
        }
        Ok(())
    }
    match command {
        Command::CheckIn(c) => {
            text("location_id", &c.location_id, MAX_ID)?;
            text("desk_id", &c.desk_id, MAX_ID)?;
            member(&c.member)?;
            if let Some(by) = &c.scanned_by {
                text("scanned_by", by, MAX_ID)?;
            }
            if let Some(o) = &c.override_ {
                text("override.reason", &o.reason, 500)?;
            }
        }
        Command::CheckOut(c) => {
            text("location_id", &c.location_id, MAX_ID)?;
            text("desk_id", &c.desk_id, MAX_ID)?;
            match (&c.check_in_id, &c.member) {
                (Some(id), _) => text("check_in_id", id, MAX_ID)?,
                (None, Some(m)) => member(m)?,
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

/// `scanned_by` names who was at the desk when a queued scan was made (it may differ
/// from the user delivering it). It is kept only when it names a staff user of the
/// command's gym; otherwise the visit is recorded as the delivering user's, never
/// refused: the member was physically let in, and dropping a real visit over a bad
/// attribution would lose it. The claim that was set aside is logged.
async fn vouch_for_scanner(state: &Shared, command: &mut Command, actor: &Actor) -> Result<(), StoreError> {
    let Command::CheckIn(c) = command else { return Ok(()) };
    let Some(by) = c.scanned_by.as_deref() else { return Ok(()) };
    if by == actor.user_id {
        return Ok(());
    }
    let works_there = state.store.user_by_id(by).await?.is_some_and(|user| {
        user.role == frontdesk_protocol::Role::Admin || user.locations.iter().any(|l| l == &c.location_id)
    });
    if !works_there {
        tracing::warn!(
            op_id = %c.op_id,
            claimed = %by,
            recorded_as = %actor.user_id,
            location = %c.location_id,
            "scanned_by names no staff user of this gym; recorded as the delivering user"
        );
        c.scanned_by = None;
    }
    Ok(())
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
            vouch_for_scanner(state, &mut command, actor).await.map_err(ApplyError::Store)?;
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
