//! Reading visits and a location's stats. Visits are written only by the command
//! writer ([`super::writer`]); the stats come from the counters it keeps beside them.

use chrono::{DateTime, Utc};
use frontdesk_protocol::{Stats, Visit};

use super::SqliteStore;
use super::rows::{ms, visit_from, visit_select};
use crate::store::{Result, VisitQuery, local_day};

/// Parameters: location, gym day (`YYYY-MM-DD`). Answers occupancy, check-ins, stays
/// and their total milliseconds: two indexed rows, whatever the day holds.
pub(crate) const STATS_SQL: &str = "SELECT l.open_visits, COALESCE(d.check_ins, 0), COALESCE(d.stays, 0), \
     COALESCE(d.stay_ms, 0) FROM locations l LEFT JOIN location_days d ON d.location_id = l.id AND d.day = ?2 \
     WHERE l.id = ?1";

pub(crate) fn stats_from(occupancy: i64, today_total: i64, stays: i64, stay_ms: i64) -> Stats {
    Stats {
        occupancy,
        today_total,
        avg_stay_minutes: if stays > 0 { (stay_ms as f64 / stays as f64 / 60_000.0).round() as i64 } else { 0 },
    }
}

impl SqliteStore {
    pub(super) async fn visit_in_store(&self, id: &str) -> Result<Option<Visit>> {
        let row = sqlx::query(visit_select!("WHERE v.id = ?")).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(visit_from).transpose()
    }

    pub(super) async fn visits_in_store(&self, q: VisitQuery<'_>) -> Result<Vec<Visit>> {
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
        rows.iter().map(visit_from).collect()
    }

    pub(super) async fn stats_in_store(&self, location_id: &str, now: DateTime<Utc>) -> Result<Stats> {
        let time_zone: Option<String> = sqlx::query_scalar("SELECT time_zone FROM locations WHERE id = ?")
            .bind(location_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(time_zone) = time_zone else { return Ok(stats_from(0, 0, 0, 0)) };
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(STATS_SQL)
            .bind(location_id)
            .bind(local_day(&time_zone, now).to_string())
            .fetch_optional(&self.pool)
            .await?;
        let (occupancy, today_total, stays, stay_ms) = row.unwrap_or_default();
        Ok(stats_from(occupancy, today_total, stays, stay_ms))
    }
}
