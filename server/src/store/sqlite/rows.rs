//! Row mapping, written once for both drivers: the async reads and the admin writes use
//! sqlx, the command writer uses rusqlite (see [`super::writer`]). Each driver's row
//! type answers the four column reads of [`Columns`]; the mapping above it is shared.

use chrono::{DateTime, Utc};
use frontdesk_protocol::{Location, Member, MemberStatus, OverrideRecord, ReviewDecision, ReviewRecord, Role, Visit};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::rules;
use crate::store::{Result, StoreError, UserRecord, parse_date};

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

pub(crate) fn opt_ms(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.map(from_ms)
}

/// Reading one column by name, whichever driver produced the row.
pub(crate) trait Columns {
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;

    fn flag(&self, column: &str) -> Result<bool> {
        Ok(self.int(column)? != 0)
    }
}

impl Columns for SqliteRow {
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.get(column)?)
    }
}

/// The member columns every member query selects, in [`member_from`]'s terms.
macro_rules! member_columns {
    () => {
        "id, card, name, phone, valid_until, frozen_from, frozen_until, created_at, email, external_id, home_location_id"
    };
}
pub(crate) use member_columns;

/// A visit with its member's name and status, for [`visit_from`].
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
pub(crate) use visit_select;

/// A user with the locations they may use, for [`user_from`].
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

/// A member as of `today` (its status depends on the day).
pub(crate) fn member_from(row: &impl Columns, today: chrono::NaiveDate) -> Result<Member> {
    let mut member = Member {
        id: row.text("id")?,
        name: row.text("name")?,
        card: row.text("card")?,
        phone: row.opt_text("phone")?,
        status: MemberStatus::Active,
        valid_until: parse_date(row.opt_text("valid_until")?),
        frozen_from: parse_date(row.opt_text("frozen_from")?),
        frozen_until: parse_date(row.opt_text("frozen_until")?),
        created_at: from_ms(row.int("created_at")?),
        email: row.opt_text("email")?,
        external_id: row.opt_text("external_id")?,
        home_location_id: row.opt_text("home_location_id")?,
    };
    member.status = member.status_on(today);
    Ok(member)
}

pub(crate) fn visit_from(row: &impl Columns) -> Result<Visit> {
    let checked_in_at = from_ms(row.int("checked_in_at")?);
    let checked_out_at = opt_ms(row.opt_int("checked_out_at")?);
    let member = match row.opt_text("member_id")? {
        Some(id) => {
            let probe = Member {
                id,
                name: row.opt_text("m_name")?.unwrap_or_default(),
                card: row.opt_text("m_card")?.unwrap_or_default(),
                valid_until: parse_date(row.opt_text("m_valid_until")?),
                frozen_from: parse_date(row.opt_text("m_frozen_from")?),
                frozen_until: parse_date(row.opt_text("m_frozen_until")?),
                created_at: checked_in_at,
                ..Default::default()
            };
            Some(probe.summary(checked_in_at.date_naive()))
        }
        None => None,
    };
    let override_ = match row.opt_text("override_reason")? {
        Some(reason) => {
            let rule = row.opt_text("override_rule")?.unwrap_or_default();
            Some(OverrideRecord {
                reason,
                rule: serde_json::from_value(serde_json::Value::String(rule.clone()))
                    .map_err(|_| StoreError::Corrupt(format!("unknown override rule {rule:?}")))?,
                by: row.opt_text("override_by")?.unwrap_or_default(),
            })
        }
        None => None,
    };
    let review = match row.opt_text("review_decision")? {
        Some(decision) => Some(ReviewRecord {
            decision: if decision == "void" { ReviewDecision::Void } else { ReviewDecision::Keep },
            note: row.opt_text("review_note")?,
            by: row.opt_text("review_by")?.unwrap_or_default(),
            at: from_ms(row.opt_int("review_at")?.unwrap_or_default()),
        }),
        None => None,
    };
    Ok(Visit {
        id: row.text("id")?,
        location_id: row.text("location_id")?,
        member,
        card: row.opt_text("card")?,
        desk_id: row.text("desk_id")?,
        checked_in_at,
        checked_out_at,
        stay_minutes: checked_out_at.map(|out| rules::stay_minutes(checked_in_at, out)),
        queued: row.flag("queued")?,
        auto: row.flag("auto_checkout")?,
        override_,
        needs_review: row.flag("needs_review")?,
        review,
        voided: row.flag("voided")?,
        scanned_by: row.opt_text("scanned_by")?,
        recorded_by: row.opt_text("recorded_by")?,
    })
}

pub(crate) fn location_from(row: &impl Columns) -> Result<Location> {
    Ok(Location {
        id: row.text("id")?,
        name: row.text("name")?,
        capacity: row.int("capacity")?,
        reentry_window_minutes: row.int("reentry_window_minutes")?,
        max_stay_minutes: row.int("max_stay_minutes")?,
        time_zone: row.text("time_zone")?,
        admits_other_gyms: row.flag("admits_other_gyms")?,
    })
}

pub(crate) fn user_from(row: &impl Columns) -> Result<UserRecord> {
    let role = row.text("role")?;
    Ok(UserRecord {
        id: row.text("id")?,
        username: row.text("username")?,
        name: row.text("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?,
        password_hash: row.text("password_hash")?,
        disabled: row.flag("disabled")?,
        locations: row
            .opt_text("locs")?
            .map(|l| l.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

/// The words staff see when a retired card is scanned: whose it was and since when.
pub(crate) fn replaced_card_words(name: &str, retired_at: i64) -> String {
    format!(
        "This card was replaced on {} and no longer lets anyone in. Ask {name} for the new card, or search by name.",
        from_ms(retired_at).format("%-d %b %Y")
    )
}

/// The query behind [`replaced_card_words`]: the most recent retirement of a card.
pub(crate) const REPLACED_CARD_SQL: &str = "SELECT m.name, c.retired_at FROM member_cards c JOIN members m \
     ON m.id = c.member_id WHERE c.card = ?1 AND c.retired_at IS NOT NULL ORDER BY c.retired_at DESC LIMIT 1";
