//! The per-location event stream: appended in the transaction of the change (the seq
//! is taken from `locations.last_seq` there, so it stays gap-free in commit order),
//! trimmed beyond the retention, and read back for resume and for events written by
//! another process.

use chrono::{DateTime, Utc};
use frontdesk_protocol::{Event, EventKind, Member};
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::rows::ms;
use crate::store::{Result, StoreError};

/// Parameters: location, seq, kind, at, payload.
pub(crate) const INSERT_EVENT_SQL: &str =
    "INSERT INTO events (location_id, seq, kind, at, payload) VALUES (?1, ?2, ?3, ?4, ?5)";
/// Parameters: location, the highest seq no longer retained.
pub(crate) const TRIM_EVENTS_SQL: &str = "DELETE FROM events WHERE location_id = ?1 AND seq <= ?2";

/// The event's kind as stored, and the event as JSON.
pub(crate) fn event_payload(event: &Event) -> Result<(String, String)> {
    let payload = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let kind = serde_json::to_value(&event.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    Ok((kind, payload))
}

impl SqliteStore {
    /// Announces a member change to every location (extension `members`): with the
    /// member, desks update their cached roster at once; without, they sync it.
    pub(super) async fn append_member_events(
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
            let (kind, payload) = event_payload(&event)?;
            sqlx::query(INSERT_EVENT_SQL)
                .bind(&event.location_id)
                .bind(seq)
                .bind(kind)
                .bind(ms(now))
                .bind(payload)
                .execute(&mut *conn)
                .await?;
            sqlx::query(TRIM_EVENTS_SQL)
                .bind(&event.location_id)
                .bind(seq - self.settings.event_retention)
                .execute(&mut *conn)
                .await?;
            events.push(event);
        }
        Ok(events)
    }

    pub(super) async fn last_seq_in_store(&self, location_id: &str) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM locations WHERE id = ?")
            .bind(location_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    pub(super) async fn first_retained_seq_in_store(&self, location_id: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE location_id = ?")
            .bind(location_id)
            .fetch_one(&self.pool)
            .await?)
    }

    pub(super) async fn events_between_in_store(
        &self,
        location_id: &str,
        after: i64,
        up_to: i64,
        limit: i64,
    ) -> Result<Vec<Event>> {
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
}
