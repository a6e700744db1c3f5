//! SQLite backend (sqlx). WAL with `synchronous=FULL`: an acknowledged check-in survives
//! a crash and a power cut. Writes are serialised by one in-process lock, which keeps
//! each location's `seq` gap-free and avoids SQLite's busy-upgrade deadlocks; reads run
//! in parallel.
//!
//! The command path and the reads live here; setting a gym up (locations, staff) is in
//! [`directory`], member records and the CSV import in [`members`].

mod directory;
mod members;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use tokio::sync::Mutex;
use uuid::Uuid;

use frontdesk_protocol::api::AuditEntry;
use frontdesk_protocol::ws::{Ack, CheckInCommand, CheckOutCommand, Command, MemberSelector};
use frontdesk_protocol::{
    Event, EventKind, Location, Member, OverrideRecord, RejectionCode, ReviewDecision, ReviewRecord, Role, Stats, Visit,
};

use super::{
    Applied, ImportOutcome, ImportRow, MemberEdit, MemberWrite, NewRefreshToken, RefreshUse, Result, ReviewOutcome,
    RosterPage, Store, StoreError, UserRecord, VisitQuery, day_bounds, parse_date,
};
use crate::auth::Actor;
use crate::rules::{self, CheckInFacts, Verdict};
use frontdesk_protocol::api::MemberCard;

pub struct SqliteStore {
    pool: SqlitePool,
    write: Mutex<()>,
    event_retention: i64,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn opt_ms(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.map(from_ms)
}

impl SqliteStore {
    pub async fn open(url: &str, event_retention: i64) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new().max_connections(8).min_connections(1).connect_with(options).await?;
        let store = Self { pool, write: Mutex::new(()), event_retention };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let _w = self.write.lock().await;
        let mut conn = self.pool.acquire().await?;
        let current: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *conn).await?;
        let known = super::migrations::SQLITE.len() as i64;
        if current > known {
            return Err(StoreError::Migration(format!(
                "the database is at schema version {current}, newer than this server ({known}); \
                 upgrade the server or restore a matching backup"
            )));
        }
        for (index, sql) in super::migrations::SQLITE.iter().enumerate().skip(current as usize) {
            let mut tx = conn.begin().await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql)).execute(&mut *tx).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PRAGMA user_version = {}", index + 1)))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- row mapping

/// The member columns every member query selects, in `member_from_row`'s terms.
macro_rules! member_columns {
    () => {
        "id, card, name, phone, valid_until, frozen_from, frozen_until, created_at, email, external_id, home_location_id"
    };
}
pub(crate) use member_columns;

fn member_from_row(row: &SqliteRow, today: chrono::NaiveDate) -> Result<Member> {
    let mut member = Member {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        card: row.try_get("card")?,
        phone: row.try_get("phone")?,
        status: frontdesk_protocol::MemberStatus::Active,
        valid_until: parse_date(row.try_get("valid_until")?),
        frozen_from: parse_date(row.try_get("frozen_from")?),
        frozen_until: parse_date(row.try_get("frozen_until")?),
        created_at: from_ms(row.try_get("created_at")?),
        email: row.try_get("email")?,
        external_id: row.try_get("external_id")?,
        home_location_id: row.try_get("home_location_id")?,
    };
    member.status = member.status_on(today);
    Ok(member)
}

macro_rules! visit_select {
    ($tail:literal) => {
        concat!(
            "SELECT v.id, v.location_id, v.member_id, v.card, v.desk_id, v.checked_in_at, v.checked_out_at, ",
            "v.auto_checkout, v.queued, v.override_reason, v.override_rule, v.override_by, v.needs_review, ",
            "v.review_decision, v.review_note, v.review_by, v.review_at, v.voided, v.scanned_by, v.recorded_by, ",
            "m.name AS m_name, m.card AS m_card, m.valid_until AS m_valid_until, m.frozen_from AS m_frozen_from, ",
            "m.frozen_until AS m_frozen_until ",
            "FROM visits v LEFT JOIN members m ON m.id = v.member_id ",
            $tail
        )
    };
}

fn visit_from_row(row: &SqliteRow) -> Result<Visit> {
    let checked_in_at = from_ms(row.try_get("checked_in_at")?);
    let checked_out_at = opt_ms(row.try_get("checked_out_at")?);
    let member_id: Option<String> = row.try_get("member_id")?;
    let member = match member_id {
        Some(id) => {
            let probe = Member {
                id: id.clone(),
                name: row.try_get::<Option<String>, _>("m_name")?.unwrap_or_default(),
                card: row.try_get::<Option<String>, _>("m_card")?.unwrap_or_default(),
                phone: None,
                status: frontdesk_protocol::MemberStatus::Active,
                valid_until: parse_date(row.try_get("m_valid_until")?),
                frozen_from: parse_date(row.try_get("m_frozen_from")?),
                frozen_until: parse_date(row.try_get("m_frozen_until")?),
                created_at: checked_in_at,
                ..Default::default()
            };
            Some(probe.summary(checked_in_at.date_naive()))
        }
        None => None,
    };
    let override_ = match row.try_get::<Option<String>, _>("override_reason")? {
        Some(reason) => {
            let rule: String = row.try_get::<Option<String>, _>("override_rule")?.unwrap_or_default();
            Some(OverrideRecord {
                reason,
                rule: serde_json::from_value(serde_json::Value::String(rule.clone()))
                    .map_err(|_| StoreError::Corrupt(format!("unknown override rule {rule:?}")))?,
                by: row.try_get::<Option<String>, _>("override_by")?.unwrap_or_default(),
            })
        }
        None => None,
    };
    let review = match row.try_get::<Option<String>, _>("review_decision")? {
        Some(decision) => Some(ReviewRecord {
            decision: if decision == "void" { ReviewDecision::Void } else { ReviewDecision::Keep },
            note: row.try_get("review_note")?,
            by: row.try_get::<Option<String>, _>("review_by")?.unwrap_or_default(),
            at: from_ms(row.try_get::<Option<i64>, _>("review_at")?.unwrap_or_default()),
        }),
        None => None,
    };
    Ok(Visit {
        id: row.try_get("id")?,
        location_id: row.try_get("location_id")?,
        member,
        card: row.try_get("card")?,
        desk_id: row.try_get("desk_id")?,
        checked_in_at,
        checked_out_at,
        stay_minutes: checked_out_at.map(|out| rules::stay_minutes(checked_in_at, out)),
        queued: row.try_get::<i64, _>("queued")? != 0,
        auto: row.try_get::<i64, _>("auto_checkout")? != 0,
        override_,
        needs_review: row.try_get::<i64, _>("needs_review")? != 0,
        review,
        voided: row.try_get::<i64, _>("voided")? != 0,
        scanned_by: row.try_get("scanned_by")?,
        recorded_by: row.try_get("recorded_by")?,
    })
}

fn location_from_row(row: &SqliteRow) -> Result<Location> {
    Ok(Location {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        capacity: row.try_get("capacity")?,
        reentry_window_minutes: row.try_get("reentry_window_minutes")?,
        max_stay_minutes: row.try_get("max_stay_minutes")?,
        time_zone: row.try_get("time_zone")?,
        admits_other_gyms: row.try_get::<i64, _>("admits_other_gyms")? != 0,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord> {
    let role: String = row.try_get("role")?;
    let locations: Option<String> = row.try_get("locs")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        locations: locations
            .map(|l| l.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

macro_rules! user_select {
    ($tail:literal) => {
        concat!(
            "SELECT u.id, u.username, u.name, u.role, u.password_hash, u.disabled, ",
            "(SELECT group_concat(location_id, ',') FROM user_locations ul WHERE ul.user_id = u.id) AS locs ",
            "FROM users u ",
            $tail
        )
    };
}
pub(crate) use user_select;

// ---------------------------------------------------------------- transaction helpers

async fn load_location(conn: &mut SqliteConnection, id: &str) -> Result<Option<Location>> {
    let row = sqlx::query("SELECT * FROM locations WHERE id = ?").bind(id).fetch_optional(conn).await?;
    row.as_ref().map(location_from_row).transpose()
}

async fn find_member(
    conn: &mut SqliteConnection,
    selector: &MemberSelector,
    today: chrono::NaiveDate,
) -> Result<Option<Member>> {
    let row = match (&selector.card, &selector.id) {
        (Some(card), _) => {
            sqlx::query(concat!("SELECT ", member_columns!(), " FROM members WHERE card = ?"))
                .bind(card.trim())
                .fetch_optional(conn)
                .await?
        }
        (None, Some(id)) => {
            sqlx::query(concat!("SELECT ", member_columns!(), " FROM members WHERE id = ?"))
                .bind(id.trim())
                .fetch_optional(conn)
                .await?
        }
        (None, None) => None,
    };
    row.as_ref().map(|r| member_from_row(r, today)).transpose()
}

async fn load_visit(conn: &mut SqliteConnection, id: &str) -> Result<Option<Visit>> {
    let row = sqlx::query(visit_select!("WHERE v.id = ?")).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(visit_from_row).transpose()
}

async fn stats_in(conn: &mut SqliteConnection, location_id: &str, now: DateTime<Utc>) -> Result<Stats> {
    let (start, end) = day_bounds(now);
    let row = sqlx::query(
        "SELECT \
           (SELECT COUNT(*) FROM visits WHERE location_id = ?1 AND checked_out_at IS NULL AND voided = 0) AS occupancy, \
           (SELECT COUNT(*) FROM visits WHERE location_id = ?1 AND checked_in_at >= ?2 AND checked_in_at < ?3 AND voided = 0) AS today_total, \
           (SELECT AVG(checked_out_at - checked_in_at) FROM visits WHERE location_id = ?1 AND checked_out_at >= ?2 AND checked_out_at < ?3 AND voided = 0) AS avg_ms",
    )
    .bind(location_id)
    .bind(ms(start))
    .bind(ms(end))
    .fetch_one(conn)
    .await?;
    let avg_ms: Option<f64> = row.try_get("avg_ms")?;
    Ok(Stats {
        occupancy: row.try_get("occupancy")?,
        today_total: row.try_get("today_total")?,
        avg_stay_minutes: avg_ms.map(|v| (v / 60_000.0).round() as i64).unwrap_or(0),
    })
}

impl SqliteStore {
    /// Appends the next event of a location, in the caller's transaction, and trims
    /// history beyond the retention.
    async fn append_event(
        &self,
        conn: &mut SqliteConnection,
        location_id: &str,
        kind: EventKind,
        now: DateTime<Utc>,
        visit: &Visit,
        auto: bool,
    ) -> Result<Event> {
        let seq: i64 =
            sqlx::query_scalar("UPDATE locations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq")
                .bind(location_id)
                .fetch_one(&mut *conn)
                .await?;
        let stats = stats_in(conn, location_id, now).await?;
        let event = Event {
            seq,
            kind: kind.clone(),
            at: now,
            location_id: location_id.to_owned(),
            check_in: Some(visit.clone()),
            stats: Some(stats),
            auto,
            override_: visit.override_.is_some(),
            member: None,
        };
        self.store_event(conn, event).await
    }

    /// Announces a member change to every location (extension `members`): with the
    /// member, desks update their cached roster at once; without, they sync it.
    async fn append_member_events(
        &self,
        conn: &mut SqliteConnection,
        member: Option<&Member>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>> {
        let locations: Vec<String> =
            sqlx::query_scalar("SELECT id FROM locations ORDER BY id").fetch_all(&mut *conn).await?;
        let mut events = Vec::with_capacity(locations.len());
        for location_id in locations {
            let seq: i64 =
                sqlx::query_scalar("UPDATE locations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq")
                    .bind(&location_id)
                    .fetch_one(&mut *conn)
                    .await?;
            let event = Event {
                seq,
                kind: EventKind::MemberUpdated,
                at: now,
                location_id,
                check_in: None,
                stats: None,
                auto: false,
                override_: false,
                member: member.cloned(),
            };
            events.push(self.store_event(conn, event).await?);
        }
        Ok(events)
    }

    /// Writes an event whose seq was just taken, and trims history beyond the retention.
    async fn store_event(&self, conn: &mut SqliteConnection, event: Event) -> Result<Event> {
        let (location_id, seq, kind, now) = (event.location_id.as_str(), event.seq, &event.kind, event.at);
        let payload = serde_json::to_string(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let kind_name = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        sqlx::query("INSERT INTO events (location_id, seq, kind, at, payload) VALUES (?, ?, ?, ?, ?)")
            .bind(location_id)
            .bind(seq)
            .bind(kind_name)
            .bind(ms(now))
            .bind(payload)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM events WHERE location_id = ? AND seq <= ?")
            .bind(location_id)
            .bind(seq - self.event_retention)
            .execute(&mut *conn)
            .await?;
        Ok(event)
    }
}

/// One line of the audit log: who (the actor) did what, where, to whom, and why.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AuditRecord<'a> {
    pub location_id: &'a str,
    pub action: &'a str,
    pub desk_id: Option<&'a str>,
    pub member_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub check_in_id: Option<&'a str>,
}

async fn insert_audit(
    conn: &mut SqliteConnection,
    at: DateTime<Utc>,
    actor: &Actor,
    record: AuditRecord<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, location_id, user_id, username, desk_id, action, member_id, reason, rule, check_in_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(ms(at))
    .bind(record.location_id)
    .bind(&actor.user_id)
    .bind(&actor.username)
    .bind(record.desk_id)
    .bind(record.action)
    .bind(record.member_id)
    .bind(record.reason)
    .bind(record.rule)
    .bind(record.check_in_id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn record_operation(
    conn: &mut SqliteConnection,
    command: &Command,
    actor: &Actor,
    ack: &Ack,
    now: DateTime<Utc>,
) -> Result<()> {
    let kind = match command {
        Command::CheckIn(_) => "check_in",
        Command::CheckOut(_) => "check_out",
    };
    let ack_json = serde_json::to_string(ack).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO operations (op_id, kind, location_id, user_id, ack_json, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(command.op_id().to_string())
    .bind(kind)
    .bind(command.location_id())
    .bind(&actor.user_id)
    .bind(ack_json)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(())
}

impl SqliteStore {
    async fn check_in(
        &self,
        conn: &mut SqliteConnection,
        cmd: &CheckInCommand,
        location: &Location,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(Ack, Option<Event>)> {
        let member = find_member(conn, &cmd.member, now.date_naive()).await?;
        let t = ms(cmd.occurred_at);
        let (open_visit_since, last_checkout_at) = match &member {
            Some(m) => {
                let open: Option<i64> = sqlx::query_scalar(
                    "SELECT checked_in_at FROM visits WHERE location_id = ? AND member_id = ? AND checked_out_at IS NULL AND voided = 0",
                )
                .bind(&location.id)
                .bind(&m.id)
                .fetch_optional(&mut *conn)
                .await?;
                // Only needed when the location has a re-entry window.
                let last_out: Option<i64> = if location.reentry_window_minutes > 0 {
                    sqlx::query_scalar(
                        "SELECT MAX(checked_out_at) FROM visits WHERE member_id = ? AND location_id = ? AND voided = 0",
                    )
                    .bind(&m.id)
                    .bind(&location.id)
                    .fetch_one(&mut *conn)
                    .await?
                } else {
                    None
                };
                (opt_ms(open), opt_ms(last_out))
            }
            None => (None, None),
        };
        // Occupancy at the moment of the scan: for a live scan the visits open now (an
        // indexed count); for a queued one the visits that were open then.
        let occupancy_at: i64 = if cmd.queued {
            // Visits begun more than the maximum stay before `t` were closed by then
            // (automatic check-out), so only that window is scanned.
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM visits WHERE location_id = ? AND voided = 0 AND checked_in_at <= ? \
                 AND checked_in_at > ? AND (checked_out_at IS NULL OR checked_out_at > ?)",
            )
            .bind(&location.id)
            .bind(t)
            .bind(t - location.max_stay_minutes * 60_000)
            .bind(t)
            .fetch_one(&mut *conn)
            .await?
        } else {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM visits WHERE location_id = ? AND checked_out_at IS NULL AND voided = 0",
            )
            .bind(&location.id)
            .fetch_one(&mut *conn)
            .await?
        };

        let verdict = rules::judge_check_in(&CheckInFacts {
            location,
            member: member.as_ref(),
            occurred_at: cmd.occurred_at,
            queued: cmd.queued,
            open_visit_since,
            last_checkout_at,
            occupancy_at,
            override_: cmd.override_.as_ref(),
        });
        let (needs_review, overridden) = match verdict {
            Verdict::Reject { code: RejectionCode::MemberNotFound, message } => {
                let message = match cmd.member.card.as_deref() {
                    Some(card) => members::replaced_card_message(conn, card.trim()).await?.unwrap_or(message),
                    None => message,
                };
                return Ok((Ack::rejected(cmd.op_id, RejectionCode::MemberNotFound, message), None));
            }
            Verdict::Reject { code, message } => return Ok((Ack::rejected(cmd.op_id, code, message), None)),
            Verdict::Accept { needs_review, overridden } => (needs_review, overridden),
        };

        let visit_id = Uuid::new_v4().to_string();
        let override_reason =
            cmd.override_.as_ref().filter(|_| !overridden.is_empty()).map(|o| o.reason.trim().to_owned());
        let card = cmd.member.card.as_deref().map(str::trim);
        sqlx::query(
            "INSERT INTO visits (id, location_id, member_id, card, desk_id, checked_in_at, queued, override_reason, \
             override_rule, override_by, needs_review, scanned_by, recorded_by, check_in_op) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&visit_id)
        .bind(&location.id)
        .bind(member.as_ref().map(|m| m.id.as_str()))
        .bind(card)
        .bind(&cmd.desk_id)
        .bind(t)
        .bind(cmd.queued as i64)
        .bind(override_reason.as_deref())
        .bind(overridden.first().map(|c| c.as_str()))
        .bind(override_reason.as_ref().map(|_| actor.username.as_str()))
        .bind(needs_review as i64)
        .bind(cmd.scanned_by.as_deref().unwrap_or(&actor.user_id))
        .bind(&actor.user_id)
        .bind(cmd.op_id.to_string())
        .execute(&mut *conn)
        .await?;
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
            insert_audit(conn, now, actor, record).await?;
        }
        let visit = load_visit(conn, &visit_id).await?.ok_or_else(|| StoreError::Corrupt("visit vanished".into()))?;
        let event = self.append_event(conn, &location.id, EventKind::MemberCheckedIn, now, &visit, false).await?;
        Ok((Ack::accepted(cmd.op_id, visit), Some(event)))
    }

    async fn check_out(
        &self,
        conn: &mut SqliteConnection,
        cmd: &CheckOutCommand,
        location: &Location,
        now: DateTime<Utc>,
    ) -> Result<(Ack, Option<Event>)> {
        let open_id: Option<String> = match (&cmd.check_in_id, &cmd.member) {
            (Some(id), _) => {
                sqlx::query_scalar(
                    "SELECT id FROM visits WHERE id = ? AND location_id = ? AND checked_out_at IS NULL AND voided = 0",
                )
                .bind(id)
                .bind(&location.id)
                .fetch_optional(&mut *conn)
                .await?
            }
            (None, Some(selector)) => match find_member(conn, selector, now.date_naive()).await? {
                Some(member) => {
                    sqlx::query_scalar(
                        "SELECT id FROM visits WHERE location_id = ? AND member_id = ? AND checked_out_at IS NULL AND voided = 0",
                    )
                    .bind(&location.id)
                    .bind(&member.id)
                    .fetch_optional(&mut *conn)
                    .await?
                }
                // A member accepted for review by card only.
                None => match &selector.card {
                    Some(card) => {
                        sqlx::query_scalar(
                            "SELECT id FROM visits WHERE location_id = ? AND member_id IS NULL AND card = ? \
                             AND checked_out_at IS NULL AND voided = 0",
                        )
                        .bind(&location.id)
                        .bind(card.trim())
                        .fetch_optional(&mut *conn)
                        .await?
                    }
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
        let visit = load_visit(conn, &visit_id).await?.ok_or_else(|| StoreError::Corrupt("visit vanished".into()))?;
        let out = rules::checkout_time(visit.checked_in_at, cmd.occurred_at);
        sqlx::query("UPDATE visits SET checked_out_at = ?, check_out_op = ? WHERE id = ?")
            .bind(ms(out))
            .bind(cmd.op_id.to_string())
            .bind(&visit_id)
            .execute(&mut *conn)
            .await?;
        let visit = load_visit(conn, &visit_id).await?.ok_or_else(|| StoreError::Corrupt("visit vanished".into()))?;
        let event = self.append_event(conn, &location.id, EventKind::MemberCheckedOut, now, &visit, false).await?;
        Ok((Ack::accepted(cmd.op_id, visit), Some(event)))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn upsert_location(&self, l: &Location) -> Result<()> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !directory::write_location(&mut tx, l, true).await? {
            directory::write_location(&mut tx, l, false).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_user_if_absent(&self, u: &UserRecord) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = directory::insert_user(&mut tx, u).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn insert_member_if_absent(&self, m: &Member) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM members WHERE id = ? OR card = ?")
            .bind(&m.id)
            .bind(&m.card)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Ok(false);
        }
        let version = members::next_version(&mut tx).await?;
        members::insert_member(&mut tx, m, version).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn location(&self, id: &str) -> Result<Option<Location>> {
        let mut conn = self.pool.acquire().await?;
        load_location(&mut conn, id).await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let row =
            sqlx::query(user_select!("WHERE u.username = ?")).bind(username.trim()).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(user_select!("WHERE u.id = ?")).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn users(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(user_select!("ORDER BY u.username")).fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_user_disabled(&self, user_id: &str, disabled: bool, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let changed = sqlx::query("UPDATE users SET disabled = ? WHERE id = ?")
            .bind(disabled as i64)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        if disabled {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
                .bind(ms(now))
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        let locations: Vec<String> = sqlx::query_scalar("SELECT location_id FROM user_locations WHERE user_id = ?")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        let action = if disabled { "user_disabled" } else { "user_enabled" };
        let who: Option<(String, String, String)> =
            sqlx::query_as("SELECT username, name, role FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let reason = match who {
            Some((username, name, role)) => format!("{username} ({name}, {role})"),
            None => user_id.to_owned(),
        };
        for loc in &locations {
            let record = AuditRecord { location_id: loc, action, reason: Some(&reason), ..Default::default() };
            insert_audit(&mut tx, now, by, record).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_refresh_token(&self, t: NewRefreshToken<'_>) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "INSERT INTO refresh_tokens (digest, family_id, user_id, device_name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(t.digest)
        .bind(t.family_id)
        .bind(t.user_id)
        .bind(t.device_name)
        .bind(ms(Utc::now()))
        .bind(ms(t.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn use_refresh_token(&self, digest: &str, now: DateTime<Utc>) -> Result<RefreshUse> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT family_id, user_id, device_name, expires_at, used_at, revoked_at FROM refresh_tokens WHERE digest = ?",
        )
        .bind(digest)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(RefreshUse::Unknown) };
        let family_id: String = row.try_get("family_id")?;
        let used_at: Option<i64> = row.try_get("used_at")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        if used_at.is_some() {
            // Someone presents a spent token: either a thief or the rightful desk after a
            // thief. Revoke the whole family so neither keeps access.
            sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
                .bind(ms(now))
                .bind(&family_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(RefreshUse::Reused);
        }
        if revoked_at.is_some() {
            return Ok(RefreshUse::Revoked);
        }
        if expires_at <= ms(now) {
            return Ok(RefreshUse::Expired);
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = ? WHERE digest = ?")
            .bind(ms(now))
            .bind(digest)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RefreshUse::Valid { user_id: row.try_get("user_id")?, family_id, device_name: row.try_get("device_name")? })
    }

    async fn revoke_refresh_family_of(&self, digest: &str, now: DateTime<Utc>) -> Result<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id = \
             (SELECT family_id FROM refresh_tokens WHERE digest = ?)",
        )
        .bind(ms(now))
        .bind(digest)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn search_members(&self, query: &str, limit: i64) -> Result<Vec<Member>> {
        let escaped = query.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let digits: String = query.chars().filter(|c| c.is_ascii_digit()).collect();
        let rows = sqlx::query(concat!(
            "SELECT ",
            member_columns!(),
            " FROM members \
             WHERE card = ?1 OR name LIKE '%' || ?2 || '%' ESCAPE '\\' OR card LIKE ?2 || '%' ESCAPE '\\' \
             OR (?3 <> '' AND replace(replace(replace(phone, ' ', ''), '-', ''), '+', '') LIKE '%' || ?3 || '%') \
             ORDER BY (card = ?1) DESC, name LIMIT ?4"
        ))
        .bind(query.trim())
        .bind(&escaped)
        .bind(if digits.len() >= 3 { digits } else { String::new() })
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let today = Utc::now().date_naive();
        rows.iter().map(|r| member_from_row(r, today)).collect()
    }

    async fn member(&self, id: &str) -> Result<Option<Member>> {
        let mut conn = self.pool.acquire().await?;
        find_member(&mut conn, &MemberSelector::id(id), Utc::now().date_naive()).await
    }

    async fn roster_after(&self, version: i64, limit: i64) -> Result<RosterPage> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            member_columns!(),
            ", version FROM members WHERE version > ? ORDER BY version LIMIT ?"
        ))
        .bind(version)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let today = Utc::now().date_naive();
        let last = match rows.last() {
            Some(row) => row.try_get("version")?,
            None => version,
        };
        Ok(RosterPage {
            members: rows.iter().map(|r| member_from_row(r, today)).collect::<Result<_>>()?,
            version: last,
            complete: (rows.len() as i64) < limit,
        })
    }

    async fn apply(&self, command: &Command, actor: &Actor, now: DateTime<Utc>) -> Result<Applied> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let op_id = command.op_id().to_string();
        let previous: Option<String> = sqlx::query_scalar("SELECT ack_json FROM operations WHERE op_id = ?")
            .bind(&op_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(json) = previous {
            let mut ack: Ack = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            ack.duplicate = true;
            return Ok(Applied { ack, event: None });
        }

        let location = load_location(&mut tx, command.location_id()).await?;
        let (ack, event) = match location {
            Some(location) if actor.may_use_location(&location.id) => match command {
                Command::CheckIn(cmd) => self.check_in(&mut tx, cmd, &location, actor, now).await?,
                Command::CheckOut(cmd) => self.check_out(&mut tx, cmd, &location, now).await?,
            },
            _ => (
                Ack::rejected(
                    command.op_id(),
                    RejectionCode::LocationForbidden,
                    format!(
                        "You may not record visits at location {:?}. Check the desk's location setting, or ask a manager.",
                        command.location_id()
                    ),
                ),
                None,
            ),
        };
        record_operation(&mut tx, command, actor, &ack, now).await?;
        tx.commit().await?;
        Ok(Applied { ack, event })
    }

    async fn review(
        &self,
        visit_id: &str,
        decision: ReviewDecision,
        note: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ReviewOutcome> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(visit) = load_visit(&mut tx, visit_id).await? else { return Ok(ReviewOutcome::NotFound) };
        if !visit.needs_review || visit.review.is_some() {
            return Ok(ReviewOutcome::NotPending);
        }
        let decision_name = match decision {
            ReviewDecision::Keep => "keep",
            ReviewDecision::Void => "void",
        };
        sqlx::query(
            "UPDATE visits SET needs_review = 0, review_decision = ?, review_note = ?, review_by = ?, review_at = ?, \
             voided = ? WHERE id = ?",
        )
        .bind(decision_name)
        .bind(note)
        .bind(&actor.username)
        .bind(ms(now))
        .bind((decision == ReviewDecision::Void) as i64)
        .bind(visit_id)
        .execute(&mut *tx)
        .await?;
        let record = AuditRecord {
            location_id: &visit.location_id,
            action: if decision == ReviewDecision::Void { "review_void" } else { "review_keep" },
            desk_id: Some(&visit.desk_id),
            member_id: visit.member.as_ref().map(|m| m.id.as_str()),
            reason: note,
            check_in_id: Some(visit_id),
            ..Default::default()
        };
        insert_audit(&mut tx, now, actor, record).await?;
        let visit = load_visit(&mut tx, visit_id).await?.ok_or_else(|| StoreError::Corrupt("visit vanished".into()))?;
        let event =
            self.append_event(&mut tx, &visit.location_id, EventKind::VisitReviewed, now, &visit, false).await?;
        tx.commit().await?;
        Ok(ReviewOutcome::Done { visit, event })
    }

    async fn close_overdue_visits(&self, now: DateTime<Utc>) -> Result<Vec<Event>> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let overdue: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT v.id, v.location_id, v.checked_in_at + l.max_stay_minutes * 60000 FROM visits v \
             JOIN locations l ON l.id = v.location_id \
             WHERE v.checked_out_at IS NULL AND v.voided = 0 AND v.checked_in_at + l.max_stay_minutes * 60000 <= ? \
             ORDER BY v.location_id, v.checked_in_at LIMIT 1000",
        )
        .bind(ms(now))
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(overdue.len());
        for (id, location_id, out) in overdue {
            sqlx::query("UPDATE visits SET checked_out_at = ?, auto_checkout = 1 WHERE id = ?")
                .bind(out)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let visit = load_visit(&mut tx, &id).await?.ok_or_else(|| StoreError::Corrupt("visit vanished".into()))?;
            events
                .push(self.append_event(&mut tx, &location_id, EventKind::MemberCheckedOut, now, &visit, true).await?);
        }
        tx.commit().await?;
        Ok(events)
    }

    async fn visit(&self, id: &str) -> Result<Option<Visit>> {
        let mut conn = self.pool.acquire().await?;
        load_visit(&mut conn, id).await
    }

    async fn visits(&self, q: VisitQuery<'_>) -> Result<Vec<Visit>> {
        let rows = sqlx::query(visit_select!(
            "WHERE v.location_id = ?1 AND v.checked_in_at >= ?2 AND v.checked_in_at < ?3 \
             AND (?4 = 0 OR (v.checked_out_at IS NULL AND v.voided = 0)) AND (?5 = 0 OR v.needs_review = 1) \
             ORDER BY v.checked_in_at LIMIT 10000"
        ))
        .bind(q.location_id)
        .bind(q.from.map(ms).unwrap_or(i64::MIN))
        .bind(q.to.map(ms).unwrap_or(i64::MAX))
        .bind(q.open_only as i64)
        .bind(q.needs_review_only as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(visit_from_row).collect()
    }

    async fn stats(&self, location_id: &str, now: DateTime<Utc>) -> Result<Stats> {
        let mut conn = self.pool.acquire().await?;
        stats_in(&mut conn, location_id, now).await
    }

    async fn last_seq(&self, location_id: &str) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM locations WHERE id = ?")
            .bind(location_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn first_retained_seq(&self, location_id: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE location_id = ?")
            .bind(location_id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn events_between(&self, location_id: &str, after: i64, up_to: i64, limit: i64) -> Result<Vec<Event>> {
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM events WHERE location_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        )
        .bind(location_id)
        .bind(after)
        .bind(up_to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        payloads
            .iter()
            .map(|p| serde_json::from_str(p).map_err(|e| StoreError::Corrupt(format!("stored event: {e}"))))
            .collect()
    }

    async fn audit(&self, location_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, username, desk_id, action, member_id, reason, rule, check_in_id, location_id FROM audit_log \
             WHERE location_id = ? AND at >= ? AND at < ? ORDER BY id LIMIT 10000",
        )
        .bind(location_id)
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: from_ms(r.try_get("at")?),
                    user: r.try_get("username")?,
                    desk_id: r.try_get("desk_id")?,
                    action: r.try_get("action")?,
                    member: r.try_get("member_id")?,
                    reason: r.try_get("reason")?,
                    rule: r.try_get("rule")?,
                    check_in_id: r.try_get("check_in_id")?,
                    location_id: r.try_get("location_id")?,
                })
            })
            .collect()
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        self.locations_in_store().await
    }

    async fn create_location(&self, location: &Location, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        self.save_location(location, true, by, now).await
    }

    async fn update_location(&self, location: &Location, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        self.save_location(location, false, by, now).await
    }

    async fn user_count(&self) -> Result<i64> {
        self.user_count_in_store().await
    }

    async fn create_user(&self, user: &UserRecord, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        self.create_user_in_store(user, by, now).await
    }

    async fn update_user(&self, user: &UserRecord, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        self.update_user_in_store(user, by, now).await
    }

    async fn set_password(&self, user_id: &str, password_hash: &str, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        self.set_password_in_store(user_id, password_hash, by, now).await
    }

    async fn create_member(&self, member: &Member, by: &Actor, now: DateTime<Utc>) -> Result<MemberWrite> {
        self.create_member_in_store(member, by, now).await
    }

    async fn edit_member(
        &self,
        member_id: &str,
        edit: &MemberEdit,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<MemberWrite> {
        self.edit_member_in_store(member_id, edit, by, now).await
    }

    async fn member_cards(&self, member_id: &str) -> Result<Vec<MemberCard>> {
        self.member_cards_in_store(member_id).await
    }

    async fn import_members(
        &self,
        location_id: &str,
        rows: &[ImportRow],
        dry_run: bool,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome> {
        self.import_members_in_store(location_id, rows, dry_run, by, now).await
    }

    async fn backup_to(&self, path: &std::path::Path) -> Result<()> {
        self.backup_in_store(path).await
    }

    async fn location_seqs(&self) -> Result<Vec<(String, i64)>> {
        self.location_seqs_in_store().await
    }

    async fn disabled_user_ids(&self) -> Result<Vec<String>> {
        self.disabled_user_ids_in_store().await
    }
}
