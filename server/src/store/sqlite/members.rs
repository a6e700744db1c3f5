//! Member records: creating a walk-in, contact details, card replacement with the
//! card's history kept, renewals, freezes, and the CSV import. Every change takes the
//! next roster version (so `/members/sync` returns it), is audited, and is announced to
//! every location with a `member_updated` event in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use frontdesk_protocol::Member;
use frontdesk_protocol::api::MemberCard;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use uuid::Uuid;

use super::SqliteStore;
use super::audit::{AuditRecord, insert_audit};
use super::rows::{from_ms, member_columns, member_from, ms, opt_ms};
use crate::auth::Actor;
use crate::store::{ImportOutcome, ImportRow, MemberEdit, MemberWrite, Result, RosterPage, RowError, StoreError};

/// The roster version the next change takes. Writers are serialised, so versions are
/// strictly increasing in commit order and a desk's cursor never skips a change.
pub(super) async fn next_version(conn: &mut SqliteConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM members").fetch_one(conn).await?)
}

fn day(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

/// Inserts a member and opens its card history.
pub(super) async fn insert_member(conn: &mut SqliteConnection, m: &Member, version: i64) -> Result<()> {
    upsert_members(conn, &[(m, true)], version).await
}

/// Writes every field of an existing member and gives it `version`.
async fn update_member(conn: &mut SqliteConnection, m: &Member, version: i64) -> Result<()> {
    upsert_members(conn, &[(m, false)], version).await
}

/// Retires the member's current card in its history and opens the new one.
async fn replace_card(
    conn: &mut SqliteConnection,
    member_id: &str,
    card: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE member_cards SET retired_at = ?, reason = ? WHERE member_id = ? AND retired_at IS NULL")
        .bind(ms(now))
        .bind(reason)
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO member_cards (member_id, card, assigned_at) VALUES (?, ?, ?)")
        .bind(member_id)
        .bind(card)
        .bind(ms(now))
        .execute(conn)
        .await?;
    Ok(())
}

async fn member_by(conn: &mut SqliteConnection, column: &str, value: &str) -> Result<Option<Member>> {
    let sql = format!("SELECT {} FROM members WHERE {column} = ?", member_columns!());
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(conn).await?;
    row.as_ref().map(|r| member_from(r, Utc::now().date_naive())).transpose()
}

/// Another member holding `card` (or `external_id`), if any.
async fn holder_of(
    conn: &mut SqliteConnection,
    column: &str,
    value: Option<&str>,
    except: &str,
) -> Result<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    Ok(member_by(conn, column, value).await?.filter(|m| m.id != except).map(|m| m.name))
}

/// Empty text clears an optional field; anything else is kept trimmed.
fn cleared(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

impl SqliteStore {
    /// Records a changed member: next version, audit, one event per location.
    async fn finish_member_write(
        &self,
        conn: &mut SqliteConnection,
        member: &Member,
        action: &str,
        reason: Option<&str>,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<frontdesk_protocol::Event>> {
        let record = AuditRecord {
            location_id: member.home_location_id.as_deref().unwrap_or(""),
            action,
            member_id: Some(&member.id),
            reason,
            ..Default::default()
        };
        insert_audit(conn, now, by, record).await?;
        let mut member = member.clone();
        member.status = member.status_on(now.date_naive());
        self.append_member_events(conn, Some(&member), now).await
    }

    pub(super) async fn create_member_in_store(
        &self,
        m: &Member,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<MemberWrite> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(member_name) = holder_of(&mut tx, "card", Some(&m.card), &m.id).await? {
            return Ok(MemberWrite::CardInUse { member_name });
        }
        if let Some(member_name) = holder_of(&mut tx, "external_id", m.external_id.as_deref(), &m.id).await? {
            return Ok(MemberWrite::ExternalIdInUse { member_name });
        }
        let version = next_version(&mut tx).await?;
        insert_member(&mut tx, m, version).await?;
        let events = self.finish_member_write(&mut tx, m, "member_created", None, by, now).await?;
        tx.commit().await?;
        let mut member = m.clone();
        member.status = member.status_on(now.date_naive());
        Ok(MemberWrite::Done { member, events })
    }

    pub(super) async fn edit_member_in_store(
        &self,
        member_id: &str,
        edit: &MemberEdit,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<MemberWrite> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(mut member) = member_by(&mut tx, "id", member_id).await? else { return Ok(MemberWrite::NotFound) };
        let (action, reason): (&str, Option<String>) = match edit {
            MemberEdit::Contact(patch) => {
                if let Some(name) = patch.name.as_deref().and_then(cleared) {
                    member.name = name;
                }
                if let Some(phone) = &patch.phone {
                    member.phone = cleared(phone);
                }
                if let Some(email) = &patch.email {
                    member.email = cleared(email);
                }
                ("member_updated", None)
            }
            MemberEdit::Card { card, reason } => {
                let card = card.trim();
                if let Some(member_name) = holder_of(&mut tx, "card", Some(card), &member.id).await? {
                    return Ok(MemberWrite::CardInUse { member_name });
                }
                if card != member.card {
                    replace_card(&mut tx, &member.id, card, reason.as_deref(), now).await?;
                    member.card = card.to_owned();
                }
                ("card_replaced", Some(format!("new card {card}{}", reason_suffix(reason.as_deref()))))
            }
            MemberEdit::Renew { valid_until } => {
                let previous = member.valid_until;
                member.valid_until = Some(*valid_until);
                let was = previous.map(|d| d.to_string()).unwrap_or_else(|| "open-ended".into());
                ("member_renewed", Some(format!("valid until {valid_until} (was {was})")))
            }
            MemberEdit::Freeze { from, until, reason } => {
                member.frozen_from = Some(*from);
                member.frozen_until = *until;
                let span = match until {
                    Some(until) => format!("frozen {from} to {until}"),
                    None => format!("frozen from {from} until lifted"),
                };
                ("member_frozen", Some(format!("{span}{}", reason_suffix(reason.as_deref()))))
            }
            MemberEdit::Unfreeze => {
                member.frozen_from = None;
                member.frozen_until = None;
                ("member_unfrozen", None)
            }
        };
        let version = next_version(&mut tx).await?;
        update_member(&mut tx, &member, version).await?;
        let events = self.finish_member_write(&mut tx, &member, action, reason.as_deref(), by, now).await?;
        tx.commit().await?;
        member.status = member.status_on(now.date_naive());
        Ok(MemberWrite::Done { member, events })
    }

    pub(super) async fn member_cards_in_store(&self, member_id: &str) -> Result<Vec<MemberCard>> {
        let rows = sqlx::query(
            "SELECT card, assigned_at, retired_at, reason FROM member_cards WHERE member_id = ? \
             ORDER BY assigned_at DESC, rowid DESC",
        )
        .bind(member_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MemberCard {
                    card: r.try_get("card")?,
                    assigned_at: from_ms(r.try_get("assigned_at")?),
                    retired_at: opt_ms(r.try_get("retired_at")?),
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Matches each row to a member (by `external_id`, else by card), refuses rows that
    /// would take another member's card or id, and writes only what changed, all in one
    /// transaction. Existing members are read once into maps, so a 50,000-row file costs
    /// one statement per changed row.
    pub(super) async fn import_members_in_store(
        &self,
        location_id: &str,
        rows: &[ImportRow],
        dry_run: bool,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let today = now.date_naive();
        let existing: Vec<Member> = sqlx::query(concat!("SELECT ", member_columns!(), " FROM members"))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| member_from(r, today))
            .collect::<Result<_>>()?;
        let by_card: HashMap<&str, usize> = existing.iter().enumerate().map(|(i, m)| (m.card.as_str(), i)).collect();
        let by_external: HashMap<&str, usize> =
            existing.iter().enumerate().filter_map(|(i, m)| m.external_id.as_deref().map(|e| (e, i))).collect();

        let mut outcome = ImportOutcome::default();
        // Which row claimed each existing member, so two rows cannot both update one.
        let mut claimed: HashMap<usize, u64> = HashMap::new();
        let mut writes: Vec<(Member, bool, Option<String>)> = Vec::new(); // (member, is_new, old card)
        for row in rows {
            // By external_id, else by card — but a card held by a member with another
            // external_id is that other person's card, not a match.
            let matched = row.external_id.as_deref().and_then(|e| by_external.get(e).copied()).or_else(|| {
                by_card
                    .get(row.card.as_str())
                    .copied()
                    .filter(|&i| row.external_id.is_none() || existing[i].external_id.is_none())
            });
            if let Some(&holder) = by_card.get(row.card.as_str())
                && Some(holder) != matched
            {
                let other = &existing[holder];
                outcome.errors.push(RowError {
                    line: row.line,
                    message: format!(
                        "card {:?} already belongs to another member, {}{}. Give this member a different card, \
                         or correct the external_id so the row matches that member.",
                        row.card,
                        other.name,
                        other.external_id.as_deref().map(|e| format!(" (external_id {e})")).unwrap_or_default()
                    ),
                });
                continue;
            }
            if let Some(index) = matched
                && let Some(first) = claimed.insert(index, row.line)
            {
                outcome.errors.push(RowError {
                    line: row.line,
                    message: format!(
                        "this row and line {first} both describe the member {} (same card or external_id). \
                         Keep one of the two rows.",
                        existing[index].name
                    ),
                });
                continue;
            }
            let before = matched.map(|i| &existing[i]);
            let mut member = before.cloned().unwrap_or_else(|| Member {
                id: Uuid::new_v4().to_string(),
                created_at: now,
                home_location_id: Some(location_id.to_owned()),
                ..Default::default()
            });
            member.card = row.card.clone();
            member.name = row.name.clone();
            member.valid_until = Some(row.valid_until);
            if let Some(phone) = &row.phone {
                member.phone = phone.clone();
            }
            if let Some(email) = &row.email {
                member.email = email.clone();
            }
            if row.external_id.is_some() {
                member.external_id = row.external_id.clone();
            }
            if member.home_location_id.is_none() {
                member.home_location_id = Some(location_id.to_owned());
            }
            match row.frozen {
                Some(true) if member.frozen_from.is_none() => {
                    member.frozen_from = Some(today);
                    member.frozen_until = None;
                }
                Some(false) => {
                    member.frozen_from = None;
                    member.frozen_until = None;
                }
                _ => {}
            }
            member.status = member.status_on(today);
            match before {
                Some(b) if *b == member => outcome.unchanged += 1,
                Some(b) => {
                    outcome.updated += 1;
                    let old_card = (b.card != member.card).then(|| b.card.clone());
                    writes.push((member, false, old_card));
                }
                None => {
                    outcome.created += 1;
                    writes.push((member, true, None));
                }
            }
        }
        if !outcome.errors.is_empty() || dry_run {
            // Dropping the transaction rolls it back: nothing of the file is kept.
            return Ok(outcome);
        }
        if writes.is_empty() {
            return Ok(outcome);
        }
        let first_version = next_version(&mut tx).await?;
        for (member, is_new, old_card) in &writes {
            if !is_new && old_card.is_some() {
                replace_card(&mut tx, &member.id, &member.card, Some("CSV import"), now).await?;
            }
        }
        let members: Vec<(&Member, bool)> = writes.iter().map(|(m, is_new, _)| (m, *is_new)).collect();
        upsert_members(&mut tx, &members, first_version).await?;
        let summary = format!("{} created, {} updated from a CSV file", outcome.created, outcome.updated);
        let record =
            AuditRecord { location_id, action: "members_imported", reason: Some(&summary), ..Default::default() };
        insert_audit(&mut tx, now, by, record).await?;
        // One event per location without a member: desks sync the roster once.
        outcome.events = self.append_member_events(&mut tx, None, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(outcome)
    }
}

/// Rows per multi-row statement: 12 values a member, well inside SQLite's 32,766
/// variables, and few enough round trips that a 50,000-row import is a second's work.
const BATCH: usize = 500;

/// The one statement that writes members: multi-row upserts (new and changed alike),
/// and the card history of the new ones (`(member, is_new)`). `members[i]` takes version
/// `first_version + i`. A single change and a 50,000-row import go through it alike.
async fn upsert_members(conn: &mut SqliteConnection, members: &[(&Member, bool)], first_version: i64) -> Result<()> {
    for (chunk_index, chunk) in members.chunks(BATCH).enumerate() {
        let mut upsert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO members (id, card, name, phone, valid_until, frozen_from, frozen_until, created_at, email, \
             external_id, home_location_id, version) ",
        );
        upsert.push_values(chunk.iter().enumerate(), |mut row, (i, (m, _))| {
            row.push_bind(&m.id)
                .push_bind(&m.card)
                .push_bind(&m.name)
                .push_bind(&m.phone)
                .push_bind(day(m.valid_until))
                .push_bind(day(m.frozen_from))
                .push_bind(day(m.frozen_until))
                .push_bind(ms(m.created_at))
                .push_bind(&m.email)
                .push_bind(&m.external_id)
                .push_bind(&m.home_location_id)
                .push_bind(first_version + (chunk_index * BATCH + i) as i64);
        });
        upsert.push(
            " ON CONFLICT(id) DO UPDATE SET card = excluded.card, name = excluded.name, phone = excluded.phone, \
             valid_until = excluded.valid_until, frozen_from = excluded.frozen_from, \
             frozen_until = excluded.frozen_until, email = excluded.email, external_id = excluded.external_id, \
             home_location_id = excluded.home_location_id, version = excluded.version",
        );
        upsert.build().execute(&mut *conn).await?;

        let new: Vec<&Member> = chunk.iter().filter(|(_, is_new)| *is_new).map(|(m, _)| *m).collect();
        if !new.is_empty() {
            let mut cards = QueryBuilder::<Sqlite>::new("INSERT INTO member_cards (member_id, card, assigned_at) ");
            cards.push_values(new, |mut row, m| {
                row.push_bind(&m.id).push_bind(&m.card).push_bind(ms(m.created_at));
            });
            cards.build().execute(&mut *conn).await?;
        }
    }
    Ok(())
}

fn reason_suffix(reason: Option<&str>) -> String {
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => format!(": {r}"),
        None => String::new(),
    }
}

impl SqliteStore {
    pub(super) async fn insert_member_if_absent_in_store(&self, m: &Member) -> Result<bool> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM members WHERE id = ? OR card = ?")
            .bind(&m.id)
            .bind(&m.card)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Ok(false);
        }
        let version = next_version(&mut tx).await?;
        insert_member(&mut tx, m, version).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn search_members_in_store(&self, query: &str, limit: i64) -> Result<Vec<Member>> {
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
        rows.iter().map(|r| member_from(r, today)).collect()
    }

    pub(super) async fn member_in_store(&self, id: &str) -> Result<Option<Member>> {
        let row = sqlx::query(concat!("SELECT ", member_columns!(), " FROM members WHERE id = ?"))
            .bind(id.trim())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| member_from(r, Utc::now().date_naive())).transpose()
    }

    pub(super) async fn roster_after_in_store(&self, version: i64, limit: i64) -> Result<RosterPage> {
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
            members: rows.iter().map(|r| member_from(r, today)).collect::<Result<_>>()?,
            version: last,
            complete: (rows.len() as i64) < limit,
        })
    }
}
