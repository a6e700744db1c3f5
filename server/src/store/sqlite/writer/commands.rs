//! The command path on the writer's connection: check-in, check-out, review decisions and
//! automatic check-outs, each inside the savepoint the writer opened. Every change to a
//! visit also moves the location's counters (open visits; per gym day: check-ins and
//! stays), so the stats an event carries cost the same at the first and the 50,000th
//! visit of a day.

use chrono::{DateTime, Utc};
use frontdesk_protocol::ws::{Ack, CheckInCommand, CheckOutCommand, Command, MemberSelector};
use frontdesk_protocol::{Event, EventKind, Location, Member, RejectionCode, ReviewDecision, Stats, Visit};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::WriterSettings;
use crate::auth::Actor;
use crate::rules::{self, CheckInFacts, Verdict};
use crate::store::sqlite::audit::{AuditRecord, INSERT_AUDIT_SQL};
use crate::store::sqlite::events::{INSERT_EVENT_SQL, TRIM_EVENTS_SQL, event_payload};
use crate::store::sqlite::rows::{
    REPLACED_CARD_SQL, location_from, member_columns, member_from, ms, opt_ms, replaced_card_words, visit_from,
    visit_select,
};
use crate::store::{Applied, Result, ReviewOutcome, StoreError, local_day};

/// A location as the command path needs it: its settings and its open visits now.
struct Gym {
    location: Location,
    open_visits: i64,
}

pub(super) fn apply(
    conn: &Connection,
    settings: &WriterSettings,
    command: &Command,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Applied> {
    let op_id = command.op_id().to_string();
    let previous: Option<(String, String)> = conn
        .prepare_cached("SELECT ack_json, location_id FROM operations WHERE op_id = ?1")?
        .query_row([&op_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((json, location)) = previous {
        // A stored answer names a member and a visit: it goes only to callers who may see
        // that gym. Anyone else learns only that the op_id is taken.
        if !actor.may_use_location(&location) {
            return Ok(Applied {
                ack: Ack::rejected(
                    command.op_id(),
                    RejectionCode::InvalidRequest,
                    "`op_id` is already used by another command. Give every scan a new op_id (a fresh UUID).",
                ),
                event: None,
            });
        }
        let mut ack: Ack = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        ack.duplicate = true;
        return Ok(Applied { ack, event: None });
    }
    let gym = match load_gym(conn, command.location_id())? {
        Some(gym) if actor.may_use_location(&gym.location.id) => gym,
        _ => {
            // Not recorded as an operation: a caller may not fill the store with rows
            // for a location it may not use.
            return Ok(Applied {
                ack: Ack::rejected(
                    command.op_id(),
                    RejectionCode::LocationForbidden,
                    format!(
                        "You may not record visits at location {:?}. Check the desk's location setting, or ask a manager.",
                        command.location_id()
                    ),
                ),
                event: None,
            });
        }
    };
    let (ack, event) = match command {
        Command::CheckIn(cmd) => check_in(conn, settings, cmd, &gym, actor, now)?,
        Command::CheckOut(cmd) => check_out(conn, settings, cmd, &gym, now)?,
    };
    let kind = match command {
        Command::CheckIn(_) => "check_in",
        Command::CheckOut(_) => "check_out",
    };
    let ack_json = serde_json::to_string(&ack).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO operations (op_id, kind, location_id, user_id, ack_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![op_id, kind, command.location_id(), actor.user_id, ack_json, ms(now)])?;
    Ok(Applied { ack, event })
}

fn load_gym(conn: &Connection, id: &str) -> Result<Option<Gym>> {
    let mut stmt = conn.prepare_cached("SELECT * FROM locations WHERE id = ?1")?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => Ok(Some(Gym { location: location_from(row)?, open_visits: row.get("open_visits")? })),
        None => Ok(None),
    }
}

fn find_member(conn: &Connection, selector: &MemberSelector, today: chrono::NaiveDate) -> Result<Option<Member>> {
    let (sql, key) = match (&selector.card, &selector.id) {
        (Some(card), _) => (concat!("SELECT ", member_columns!(), " FROM members WHERE card = ?1"), card.trim()),
        (None, Some(id)) => (concat!("SELECT ", member_columns!(), " FROM members WHERE id = ?1"), id.trim()),
        (None, None) => return Ok(None),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([key])?;
    match rows.next()? {
        Some(row) => Ok(Some(member_from(row, today)?)),
        None => Ok(None),
    }
}

fn load_visit(conn: &Connection, id: &str) -> Result<Visit> {
    let mut stmt = conn.prepare_cached(visit_select!("WHERE v.id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => visit_from(row),
        None => Err(StoreError::Corrupt(format!("visit {id} vanished inside its transaction"))),
    }
}

fn check_in(
    conn: &Connection,
    settings: &WriterSettings,
    cmd: &CheckInCommand,
    gym: &Gym,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Ack, Option<Event>)> {
    let location = &gym.location;
    let member = find_member(conn, &cmd.member, now.date_naive())?;
    let t = ms(cmd.occurred_at);
    let (open_visit_since, last_checkout_at) = match &member {
        Some(m) => {
            let open: Option<i64> = conn
                .prepare_cached(
                    "SELECT checked_in_at FROM visits WHERE location_id = ?1 AND member_id = ?2 \
                     AND checked_out_at IS NULL AND voided = 0",
                )?
                .query_row(params![location.id, m.id], |r| r.get(0))
                .optional()?;
            // Only needed when the location has a re-entry window.
            let last_out: Option<i64> = if location.reentry_window_minutes > 0 {
                conn.prepare_cached(
                    "SELECT MAX(checked_out_at) FROM visits WHERE member_id = ?1 AND location_id = ?2 AND voided = 0",
                )?
                .query_row(params![m.id, location.id], |r| r.get(0))?
            } else {
                None
            };
            (opt_ms(open), opt_ms(last_out))
        }
        None => (None, None),
    };
    // Occupancy at the moment of the scan: for a live scan the counter of visits open
    // now; for a queued one the visits that were open then.
    let occupancy_at: i64 = if cmd.queued {
        // Visits begun more than the maximum stay before `t` were closed by then
        // (automatic check-out), so only that window is scanned.
        conn.prepare_cached(
            "SELECT COUNT(*) FROM visits WHERE location_id = ?1 AND voided = 0 AND checked_in_at <= ?2 \
             AND checked_in_at > ?3 AND (checked_out_at IS NULL OR checked_out_at > ?2)",
        )?
        .query_row(params![location.id, t, t - location.max_stay_minutes * 60_000], |r| r.get(0))?
    } else {
        gym.open_visits
    };

    let verdict = rules::judge_check_in(&CheckInFacts {
        location,
        member: member.as_ref(),
        occurred_at: cmd.occurred_at,
        queued: cmd.queued,
        stale: cmd.queued && now - cmd.occurred_at > settings.queued_max_age,
        open_visit_since,
        last_checkout_at,
        occupancy_at,
        override_: cmd.override_.as_ref(),
    });
    let (needs_review, overridden) = match verdict {
        Verdict::Reject { code: RejectionCode::MemberNotFound, message } => {
            let message = match cmd.member.card.as_deref() {
                Some(card) => replaced_card_message(conn, card.trim())?.unwrap_or(message),
                None => message,
            };
            return Ok((Ack::rejected(cmd.op_id, RejectionCode::MemberNotFound, message), None));
        }
        Verdict::Reject { code, message } => return Ok((Ack::rejected(cmd.op_id, code, message), None)),
        Verdict::Accept { needs_review, overridden } => (needs_review, overridden),
    };

    let visit_id = Uuid::new_v4().to_string();
    let override_reason = cmd.override_.as_ref().filter(|_| !overridden.is_empty()).map(|o| o.reason.trim().to_owned());
    conn.prepare_cached(
        "INSERT INTO visits (id, location_id, member_id, card, desk_id, checked_in_at, queued, override_reason, \
         override_rule, override_by, needs_review, scanned_by, recorded_by, check_in_op) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        visit_id,
        location.id,
        member.as_ref().map(|m| m.id.as_str()),
        cmd.member.card.as_deref().map(str::trim),
        cmd.desk_id,
        t,
        cmd.queued as i64,
        override_reason.as_deref(),
        overridden.first().map(|c| c.as_str()),
        override_reason.as_ref().map(|_| actor.username.as_str()),
        needs_review as i64,
        cmd.scanned_by.as_deref().unwrap_or(&actor.user_id),
        actor.user_id,
        cmd.op_id.to_string(),
    ])?;
    count_open(conn, &location.id, 1)?;
    count_check_ins(conn, location, cmd.occurred_at, 1)?;
    for rule in &overridden {
        let record = AuditRecord {
            location_id: &location.id,
            action: "override",
            desk_id: Some(&cmd.desk_id),
            member_id: member.as_ref().map(|m| m.id.as_str()),
            reason: override_reason.as_deref(),
            rule: Some(rule.as_str()),
            check_in_id: Some(&visit_id),
        };
        insert_audit(conn, now, actor, &record)?;
    }
    let visit = load_visit(conn, &visit_id)?;
    let event = append_event(conn, settings, location, EventKind::MemberCheckedIn, now, &visit, false)?;
    Ok((Ack::accepted(cmd.op_id, visit), Some(event)))
}

fn check_out(
    conn: &Connection,
    settings: &WriterSettings,
    cmd: &CheckOutCommand,
    gym: &Gym,
    now: DateTime<Utc>,
) -> Result<(Ack, Option<Event>)> {
    let location = &gym.location;
    let open_visit = |sql: &str, key: &str| -> Result<Option<String>> {
        Ok(conn.prepare_cached(sql)?.query_row(params![location.id, key], |r| r.get(0)).optional()?)
    };
    let open_id = match (&cmd.check_in_id, &cmd.member) {
        (Some(id), _) => open_visit(
            "SELECT id FROM visits WHERE location_id = ?1 AND id = ?2 AND checked_out_at IS NULL AND voided = 0",
            id,
        )?,
        (None, Some(selector)) => match find_member(conn, selector, now.date_naive())? {
            Some(member) => open_visit(
                "SELECT id FROM visits WHERE location_id = ?1 AND member_id = ?2 AND checked_out_at IS NULL AND voided = 0",
                &member.id,
            )?,
            // A member accepted for review by card only.
            None => match &selector.card {
                Some(card) => open_visit(
                    "SELECT id FROM visits WHERE location_id = ?1 AND member_id IS NULL AND card = ?2 \
                     AND checked_out_at IS NULL AND voided = 0",
                    card.trim(),
                )?,
                None => None,
            },
        },
        (None, None) => None,
    };
    let Some(visit_id) = open_id else {
        return Ok((
            Ack::rejected(
                cmd.op_id,
                RejectionCode::NotCheckedIn,
                "This member is not checked in here, so there is nothing to check out.",
            ),
            None,
        ));
    };
    let visit = load_visit(conn, &visit_id)?;
    let out = rules::checkout_time(visit.checked_in_at, cmd.occurred_at);
    conn.prepare_cached("UPDATE visits SET checked_out_at = ?1, check_out_op = ?2 WHERE id = ?3")?.execute(params![
        ms(out),
        cmd.op_id.to_string(),
        visit_id
    ])?;
    count_open(conn, &location.id, -1)?;
    count_stay(conn, location, out, 1, ms(out) - ms(visit.checked_in_at))?;
    let visit = load_visit(conn, &visit_id)?;
    let event = append_event(conn, settings, location, EventKind::MemberCheckedOut, now, &visit, false)?;
    Ok((Ack::accepted(cmd.op_id, visit), Some(event)))
}

pub(super) fn review(
    conn: &Connection,
    settings: &WriterSettings,
    visit_id: &str,
    decision: ReviewDecision,
    note: Option<&str>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<ReviewOutcome> {
    let visit = {
        let mut stmt = conn.prepare_cached(visit_select!("WHERE v.id = ?1"))?;
        let mut rows = stmt.query([visit_id])?;
        match rows.next()? {
            Some(row) => visit_from(row)?,
            None => return Ok(ReviewOutcome::NotFound),
        }
    };
    if !visit.needs_review || visit.review.is_some() {
        return Ok(ReviewOutcome::NotPending);
    }
    let Some(gym) = load_gym(conn, &visit.location_id)? else {
        return Err(StoreError::Corrupt(format!("visit {visit_id} names an unknown location")));
    };
    let void = decision == ReviewDecision::Void;
    conn.prepare_cached(
        "UPDATE visits SET needs_review = 0, review_decision = ?1, review_note = ?2, review_by = ?3, review_at = ?4, \
         voided = ?5 WHERE id = ?6",
    )?
    .execute(params![if void { "void" } else { "keep" }, note, actor.username, ms(now), void as i64, visit_id])?;
    if void {
        // A voided visit never happened: it leaves every counter it entered.
        count_check_ins(conn, &gym.location, visit.checked_in_at, -1)?;
        match visit.checked_out_at {
            None => count_open(conn, &gym.location.id, -1)?,
            Some(out) => count_stay(conn, &gym.location, out, -1, -(ms(out) - ms(visit.checked_in_at)))?,
        }
    }
    let record = AuditRecord {
        location_id: &visit.location_id,
        action: if void { "review_void" } else { "review_keep" },
        desk_id: Some(&visit.desk_id),
        member_id: visit.member.as_ref().map(|m| m.id.as_str()),
        reason: note,
        check_in_id: Some(visit_id),
        ..Default::default()
    };
    insert_audit(conn, now, actor, &record)?;
    let visit = load_visit(conn, visit_id)?;
    let event = append_event(conn, settings, &gym.location, EventKind::VisitReviewed, now, &visit, false)?;
    Ok(ReviewOutcome::Done { visit, event })
}

/// Closes visits open longer than their location's maximum stay, at the moment that
/// stay ran out.
pub(super) fn close_overdue(conn: &Connection, settings: &WriterSettings, now: DateTime<Utc>) -> Result<Vec<Event>> {
    let overdue: Vec<(String, String, i64)> = conn
        .prepare_cached(
            "SELECT v.id, v.location_id, v.checked_in_at + l.max_stay_minutes * 60000 FROM visits v \
             JOIN locations l ON l.id = v.location_id \
             WHERE v.checked_out_at IS NULL AND v.voided = 0 AND v.checked_in_at + l.max_stay_minutes * 60000 <= ?1 \
             ORDER BY v.location_id, v.checked_in_at LIMIT 1000",
        )?
        .query_map([ms(now)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut events = Vec::with_capacity(overdue.len());
    let mut gym: Option<Gym> = None;
    for (id, location_id, out) in overdue {
        if gym.as_ref().is_none_or(|g| g.location.id != location_id) {
            gym = load_gym(conn, &location_id)?;
        }
        let Some(location) = gym.as_ref().map(|g| &g.location) else { continue };
        conn.prepare_cached("UPDATE visits SET checked_out_at = ?1, auto_checkout = 1 WHERE id = ?2")?
            .execute(params![out, id])?;
        let visit = load_visit(conn, &id)?;
        count_open(conn, &location_id, -1)?;
        count_stay(conn, location, crate::store::sqlite::rows::from_ms(out), 1, out - ms(visit.checked_in_at))?;
        events.push(append_event(conn, settings, location, EventKind::MemberCheckedOut, now, &visit, true)?);
    }
    Ok(events)
}

// ---------------------------------------------------------------- counters

fn count_open(conn: &Connection, location_id: &str, delta: i64) -> Result<()> {
    conn.prepare_cached("UPDATE locations SET open_visits = open_visits + ?1 WHERE id = ?2")?
        .execute(params![delta, location_id])?;
    Ok(())
}

/// A visit that began at `at` enters (or, voided, leaves) the check-ins of its gym day.
fn count_check_ins(conn: &Connection, location: &Location, at: DateTime<Utc>, delta: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO location_days (location_id, day, check_ins) VALUES (?1, ?2, ?3) \
         ON CONFLICT (location_id, day) DO UPDATE SET check_ins = check_ins + excluded.check_ins",
    )?
    .execute(params![location.id, local_day(&location.time_zone, at).to_string(), delta])?;
    Ok(())
}

/// A stay that ended at `out` enters (or leaves) the stays of its gym day.
fn count_stay(conn: &Connection, location: &Location, out: DateTime<Utc>, delta: i64, stay_ms: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO location_days (location_id, day, stays, stay_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (location_id, day) DO UPDATE SET stays = stays + excluded.stays, \
         stay_ms = stay_ms + excluded.stay_ms",
    )?
    .execute(params![location.id, local_day(&location.time_zone, out).to_string(), delta, stay_ms])?;
    Ok(())
}

fn stats_now(conn: &Connection, location: &Location, now: DateTime<Utc>) -> Result<Stats> {
    let (occupancy, today_total, stays, stay_ms) = conn
        .prepare_cached(crate::store::sqlite::visits::STATS_SQL)?
        .query_row(params![location.id, local_day(&location.time_zone, now).to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    Ok(crate::store::sqlite::visits::stats_from(occupancy, today_total, stays, stay_ms))
}

// ---------------------------------------------------------------- events, audit

/// Appends the next event of a location, with the stats as of this change.
fn append_event(
    conn: &Connection,
    settings: &WriterSettings,
    location: &Location,
    kind: EventKind,
    now: DateTime<Utc>,
    visit: &Visit,
    auto: bool,
) -> Result<Event> {
    let seq: i64 = conn
        .prepare_cached("UPDATE locations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq")?
        .query_row([&location.id], |r| r.get(0))?;
    let event = Event {
        seq,
        kind,
        at: now,
        location_id: location.id.clone(),
        check_in: Some(visit.clone()),
        stats: Some(stats_now(conn, location, now)?),
        auto,
        override_: visit.override_.is_some(),
        member: None,
    };
    let (kind_name, payload) = event_payload(&event)?;
    conn.prepare_cached(INSERT_EVENT_SQL)?.execute(params![location.id, seq, kind_name, ms(now), payload])?;
    conn.prepare_cached(TRIM_EVENTS_SQL)?.execute(params![location.id, seq - settings.event_retention])?;
    Ok(event)
}

fn insert_audit(conn: &Connection, at: DateTime<Utc>, actor: &Actor, r: &AuditRecord<'_>) -> Result<()> {
    conn.prepare_cached(INSERT_AUDIT_SQL)?.execute(params![
        ms(at),
        r.location_id,
        actor.user_id,
        actor.username,
        r.desk_id,
        r.action,
        r.member_id,
        r.reason,
        r.rule,
        r.check_in_id,
    ])?;
    Ok(())
}

fn replaced_card_message(conn: &Connection, card: &str) -> Result<Option<String>> {
    let found: Option<(String, i64)> =
        conn.prepare_cached(REPLACED_CARD_SQL)?.query_row([card], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    Ok(found.map(|(name, retired_at)| replaced_card_words(&name, retired_at)))
}
