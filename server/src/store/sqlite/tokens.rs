//! Refresh tokens, stored as digests in families: a token is spent once; presenting a
//! spent one revokes its whole family (theft suspected).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use super::rows::ms;
use crate::store::{NewRefreshToken, RefreshUse, Result, Successor};

impl SqliteStore {
    pub(super) async fn insert_refresh_token_in_store(&self, t: NewRefreshToken<'_>) -> Result<()> {
        let _paused = self.exclusive().await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (digest, family_id, user_id, device_name, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
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

    pub(super) async fn rotate_refresh_token_in_store(
        &self,
        digest: &str,
        successor: Successor<'_>,
        now: DateTime<Utc>,
    ) -> Result<RefreshUse> {
        let _paused = self.exclusive().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT family_id, user_id, device_name, expires_at, used_at, revoked_at FROM refresh_tokens WHERE digest = ?",
        )
        .bind(digest)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(RefreshUse::Unknown) };
        let family_id: String = row.try_get("family_id")?;
        let user_id: String = row.try_get("user_id")?;
        let device_name: Option<String> = row.try_get("device_name")?;
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
            return Ok(RefreshUse::Reused { family_id });
        }
        let family_revoked: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NOT NULL)",
        )
        .bind(&family_id)
        .fetch_one(&mut *tx)
        .await?;
        if revoked_at.is_some() || family_revoked {
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
        sqlx::query(
            "INSERT INTO refresh_tokens (digest, family_id, user_id, device_name, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(successor.digest)
        .bind(&family_id)
        .bind(&user_id)
        .bind(&device_name)
        .bind(ms(now))
        .bind(ms(successor.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RefreshUse::Valid { user_id, family_id, device_name })
    }

    pub(super) async fn revoke_refresh_family_in_store(
        &self,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let _paused = self.exclusive().await?;
        let family: Option<String> = sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE digest = ?")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(family) = &family {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id = ?")
                .bind(ms(now))
                .bind(family)
                .execute(&self.pool)
                .await?;
        }
        Ok(family)
    }
}
