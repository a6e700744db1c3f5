//! Setting a gym up: locations and staff accounts, each change audited; the backup; and
//! the small reads that let a running server notice what another process wrote.

use chrono::{DateTime, Utc};
use frontdesk_protocol::Location;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::audit::{AuditRecord, insert_audit};
use super::rows::{location_from, ms, user_from, user_select};
use crate::auth::Actor;
use crate::store::{Result, UserRecord};

pub(super) async fn write_location(conn: &mut SqliteConnection, l: &Location, insert: bool) -> Result<bool> {
    let sql = if insert {
        "INSERT INTO locations (name, capacity, reentry_window_minutes, max_stay_minutes, time_zone, \
         admits_other_gyms, id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING"
    } else {
        "UPDATE locations SET name = ?, capacity = ?, reentry_window_minutes = ?, max_stay_minutes = ?, \
         time_zone = ?, admits_other_gyms = ? WHERE id = ?"
    };
    let done = sqlx::query(sql)
        .bind(&l.name)
        .bind(l.capacity)
        .bind(l.reentry_window_minutes)
        .bind(l.max_stay_minutes)
        .bind(&l.time_zone)
        .bind(l.admits_other_gyms as i64)
        .bind(&l.id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(done == 1)
}

fn describe_location(l: &Location) -> String {
    format!(
        "{} ({}): capacity {}, time zone {}, maximum stay {} min, re-entry window {} min, {}",
        l.name,
        l.id,
        l.capacity,
        l.time_zone,
        l.max_stay_minutes,
        l.reentry_window_minutes,
        if l.admits_other_gyms { "admits members of other gyms" } else { "own members only" }
    )
}

/// Inserts a user with their gyms unless the username is taken; whether it did.
pub(super) async fn insert_user(conn: &mut SqliteConnection, u: &UserRecord) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO users (id, username, name, role, password_hash, disabled) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT(username) DO NOTHING",
    )
    .bind(&u.id)
    .bind(&u.username)
    .bind(&u.name)
    .bind(u.role.as_str())
    .bind(&u.password_hash)
    .bind(u.disabled as i64)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        set_user_locations(conn, &u.id, &u.locations).await?;
    }
    Ok(inserted)
}

async fn set_user_locations(conn: &mut SqliteConnection, user_id: &str, locations: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM user_locations WHERE user_id = ?").bind(user_id).execute(&mut *conn).await?;
    for loc in locations {
        sqlx::query("INSERT OR IGNORE INTO user_locations (user_id, location_id) VALUES (?, ?)")
            .bind(user_id)
            .bind(loc)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// One audit line per location of the user, so each gym's manager sees changes to staff.
async fn audit_user_change(
    conn: &mut SqliteConnection,
    user: &UserRecord,
    action: &str,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let reason = format!("{} ({}, {})", user.username, user.name, user.role.as_str());
    for loc in &user.locations {
        let record = AuditRecord { location_id: loc, action, reason: Some(&reason), ..Default::default() };
        insert_audit(conn, now, by, record).await?;
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn locations_in_store(&self) -> Result<Vec<Location>> {
        let rows = sqlx::query("SELECT * FROM locations ORDER BY name, id").fetch_all(&self.pool).await?;
        rows.iter().map(location_from).collect()
    }

    pub(super) async fn save_location(
        &self,
        l: &Location,
        insert: bool,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !write_location(&mut tx, l, insert).await? {
            return Ok(false);
        }
        let description = describe_location(l);
        let action = if insert { "location_created" } else { "location_updated" };
        let record = AuditRecord { location_id: &l.id, action, reason: Some(&description), ..Default::default() };
        insert_audit(&mut tx, now, by, record).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn user_count_in_store(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    pub(super) async fn create_user_in_store(&self, u: &UserRecord, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !insert_user(&mut tx, u).await? {
            return Ok(false);
        }
        audit_user_change(&mut tx, u, "user_created", by, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn update_user_in_store(&self, u: &UserRecord, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let changed = sqlx::query("UPDATE users SET name = ?, role = ? WHERE id = ?")
            .bind(&u.name)
            .bind(u.role.as_str())
            .bind(&u.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        // Audit at the old locations too, so a gym sees that someone left it.
        let before = sqlx::query(user_select!("WHERE u.id = ?")).bind(&u.id).fetch_one(&mut *tx).await?;
        let mut before = user_from(&before)?;
        set_user_locations(&mut tx, &u.id, &u.locations).await?;
        before.locations.retain(|l| !u.locations.contains(l));
        before.name.clone_from(&u.name);
        before.role = u.role;
        audit_user_change(&mut tx, &before, "user_updated", by, now).await?;
        audit_user_change(&mut tx, u, "user_updated", by, now).await?;
        // A role or location taken away must not live on in a refresh token.
        sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
            .bind(ms(now))
            .bind(&u.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn set_password_in_store(
        &self,
        user_id: &str,
        password_hash: &str,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let changed = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
            .bind(ms(now))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let user = sqlx::query(user_select!("WHERE u.id = ?")).bind(user_id).fetch_one(&mut *tx).await?;
        audit_user_change(&mut tx, &user_from(&user)?, "password_reset", by, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `VACUUM INTO` copies one read snapshot of the database: consistent while the
    /// server goes on writing, and compact.
    pub(super) async fn backup_in_store(&self, path: &std::path::Path) -> Result<()> {
        let target = path.to_str().ok_or_else(|| {
            crate::store::StoreError::Corrupt("the backup path is not valid UTF-8; choose another".into())
        })?;
        sqlx::query("VACUUM INTO ?").bind(target).execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn location_seqs_in_store(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT id, last_seq FROM locations").fetch_all(&self.pool).await?)
    }

    pub(super) async fn disabled_user_ids_in_store(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM users WHERE disabled = 1").fetch_all(&self.pool).await?)
    }

    pub(super) async fn location_in_store(&self, id: &str) -> Result<Option<Location>> {
        let row = sqlx::query("SELECT * FROM locations WHERE id = ?").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(location_from).transpose()
    }

    pub(super) async fn upsert_location_in_store(&self, l: &Location) -> Result<()> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !write_location(&mut tx, l, true).await? {
            write_location(&mut tx, l, false).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn insert_user_if_absent_in_store(&self, u: &UserRecord) -> Result<bool> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = insert_user(&mut tx, u).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    pub(super) async fn user_by_username_in_store(&self, username: &str) -> Result<Option<UserRecord>> {
        let row =
            sqlx::query(user_select!("WHERE u.username = ?")).bind(username.trim()).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from).transpose()
    }

    pub(super) async fn user_by_id_in_store(&self, id: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(user_select!("WHERE u.id = ?")).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from).transpose()
    }

    pub(super) async fn users_in_store(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(user_select!("ORDER BY u.username")).fetch_all(&self.pool).await?;
        rows.iter().map(user_from).collect()
    }

    /// Sets the flag, revokes refresh tokens when disabling, audits at each of the user's gyms.
    pub(super) async fn set_user_disabled_in_store(
        &self,
        user_id: &str,
        disabled: bool,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let _paused = self.exclusive().await?;
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
        let user = sqlx::query(user_select!("WHERE u.id = ?")).bind(user_id).fetch_one(&mut *tx).await?;
        let action = if disabled { "user_disabled" } else { "user_enabled" };
        audit_user_change(&mut tx, &user_from(&user)?, action, by, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
