//! The audit log: who (the actor) did what, where, to whom, and why. Written in the
//! same transaction as the change it records, by either driver.

use chrono::{DateTime, Utc};
use frontdesk_protocol::api::AuditEntry;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::rows::{Columns, from_ms, ms};
use crate::auth::Actor;
use crate::store::Result;

/// One line of the audit log.
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

/// Parameters: at, location, user id, username, desk, action, member, reason, rule, visit.
pub(crate) const INSERT_AUDIT_SQL: &str = "INSERT INTO audit_log (at, location_id, user_id, username, desk_id, \
     action, member_id, reason, rule, check_in_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

pub(super) async fn insert_audit(
    conn: &mut SqliteConnection,
    at: DateTime<Utc>,
    actor: &Actor,
    record: AuditRecord<'_>,
) -> Result<()> {
    sqlx::query(INSERT_AUDIT_SQL)
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

impl SqliteStore {
    pub(super) async fn audit_in_store(
        &self,
        location_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEntry>> {
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
                    at: from_ms(r.int("at")?),
                    user: r.text("username")?,
                    desk_id: r.opt_text("desk_id")?,
                    action: r.text("action")?,
                    member: r.opt_text("member_id")?,
                    reason: r.opt_text("reason")?,
                    rule: r.opt_text("rule")?,
                    check_in_id: r.opt_text("check_in_id")?,
                    location_id: r.text("location_id")?,
                })
            })
            .collect()
    }
}
