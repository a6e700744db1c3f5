//! SQLite backend. WAL with `synchronous=FULL`: an acknowledged check-in survives a
//! crash and a power cut.
//!
//! Two drivers share the file. The command path (check-ins, check-outs, review
//! decisions, automatic check-outs) is the [`writer`]: one thread with rusqlite that
//! commits whatever is waiting as one transaction. Reads run in parallel on a sqlx
//! pool, and so do the rarer writes of setting a gym up, which pause the writer first.
//!
//! Where things are: [`rows`] maps rows for both drivers; [`directory`] holds
//! locations and staff; [`tokens`] refresh tokens; [`members`] member records and the
//! CSV import; [`visits`] visit and stats reads; [`events`] the event stream; [`audit`]
//! the audit log.

mod audit;
mod directory;
mod events;
mod members;
mod rows;
mod tokens;
mod visits;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqlitePool};

use frontdesk_protocol::api::{AuditEntry, MemberCard};
use frontdesk_protocol::ws::Command;
use frontdesk_protocol::{Event, Location, Member, ReviewDecision, Stats, Visit};

pub use self::writer::WriterSettings as SqliteSettings;
use self::writer::{Paused, Writer};
use super::{
    Applied, ImportOutcome, ImportRow, MemberEdit, MemberWrite, NewRefreshToken, Publisher, RefreshUse, Result,
    ReviewOutcome, RosterPage, Store, StoreError, Successor, UserRecord, VisitQuery,
};
use crate::auth::Actor;

pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
    settings: SqliteSettings,
}

impl SqliteStore {
    pub async fn open(url: &str, settings: SqliteSettings) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let path = options.get_filename().to_owned();
        owner_only(&path).map_err(|e| anyhow::anyhow!("cannot restrict {} to its owner: {e}", path.display()))?;
        let pool = SqlitePoolOptions::new().max_connections(8).min_connections(1).connect_with(options).await?;
        migrate(&pool).await?;
        let writer = Writer::start(&path, settings)?;
        Ok(Self { pool, writer, settings })
    }

    /// Holds the command writer between two batches while a write on the sqlx side
    /// runs, so neither waits on SQLite's busy handler for the other.
    async fn exclusive(&self) -> Result<Paused> {
        self.writer.pause().await
    }
}

/// The database holds password hashes, refresh-token digests and the member list:
/// readable and writable by the server's own account only. Made before SQLite opens it
/// (SQLite gives its `-wal` and `-shm` files the main file's permissions), and tightened
/// if it already exists. On Windows the data folder's ACL (the service account's) applies.
fn owner_only(path: &std::path::Path) -> std::io::Result<()> {
    let name = path.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.contains("mode=memory") {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
        }
        for file in [path.to_path_buf(), sidecar(path, "-wal"), sidecar(path, "-shm")] {
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn sidecar(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

async fn migrate(pool: &SqlitePool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let current: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *conn).await?;
    let known = super::migrations::SQLITE.len() as i64;
    if current > known {
        return Err(StoreError::Migration(format!(
            "the database is at schema version {current}, newer than this server ({known}); \
             upgrade the server or restore a matching backup"
        )));
    }
    for (index, sql) in super::migrations::SQLITE.iter().enumerate().skip(current as usize) {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        // Another process may have migrated while this one waited for the lock.
        let now_at: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *tx).await?;
        if now_at > index as i64 {
            continue;
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql)).execute(&mut *tx).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PRAGMA user_version = {}", index + 1))).execute(&mut *tx).await?;
        tx.commit().await?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.stop().await;
        self.pool.close().await;
    }

    fn set_publisher(&self, publisher: Publisher) {
        self.writer.set_publisher(publisher);
    }

    async fn upsert_location(&self, l: &Location) -> Result<()> {
        self.upsert_location_in_store(l).await
    }

    async fn insert_user_if_absent(&self, u: &UserRecord) -> Result<bool> {
        self.insert_user_if_absent_in_store(u).await
    }

    async fn insert_member_if_absent(&self, m: &Member) -> Result<bool> {
        self.insert_member_if_absent_in_store(m).await
    }

    async fn location(&self, id: &str) -> Result<Option<Location>> {
        self.location_in_store(id).await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        self.user_by_username_in_store(username).await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>> {
        self.user_by_id_in_store(id).await
    }

    async fn users(&self) -> Result<Vec<UserRecord>> {
        self.users_in_store().await
    }

    async fn set_user_disabled(&self, user_id: &str, disabled: bool, by: &Actor, now: DateTime<Utc>) -> Result<bool> {
        self.set_user_disabled_in_store(user_id, disabled, by, now).await
    }

    async fn insert_refresh_token(&self, t: NewRefreshToken<'_>) -> Result<()> {
        self.insert_refresh_token_in_store(t).await
    }

    async fn rotate_refresh_token(
        &self,
        digest: &str,
        successor: Successor<'_>,
        now: DateTime<Utc>,
    ) -> Result<RefreshUse> {
        self.rotate_refresh_token_in_store(digest, successor, now).await
    }

    async fn revoke_refresh_family_of(&self, digest: &str, now: DateTime<Utc>) -> Result<Option<String>> {
        self.revoke_refresh_family_in_store(digest, now).await
    }

    async fn search_members(&self, query: &str, limit: i64) -> Result<Vec<Member>> {
        self.search_members_in_store(query, limit).await
    }

    async fn member(&self, id: &str) -> Result<Option<Member>> {
        self.member_in_store(id).await
    }

    async fn roster_after(&self, version: i64, limit: i64) -> Result<RosterPage> {
        self.roster_after_in_store(version, limit).await
    }

    async fn apply(&self, command: &Command, actor: &Actor, now: DateTime<Utc>) -> Result<Applied> {
        self.writer.apply(command.clone(), actor.clone(), now).await
    }

    async fn review(
        &self,
        visit_id: &str,
        decision: ReviewDecision,
        note: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ReviewOutcome> {
        self.writer.review(visit_id.to_owned(), decision, note.map(str::to_owned), actor.clone(), now).await
    }

    async fn close_overdue_visits(&self, now: DateTime<Utc>) -> Result<Vec<Event>> {
        self.writer.close_overdue(now).await
    }

    async fn visit(&self, id: &str) -> Result<Option<Visit>> {
        self.visit_in_store(id).await
    }

    async fn visits(&self, q: VisitQuery<'_>) -> Result<Vec<Visit>> {
        self.visits_in_store(q).await
    }

    async fn stats(&self, location_id: &str, now: DateTime<Utc>) -> Result<Stats> {
        self.stats_in_store(location_id, now).await
    }

    async fn last_seq(&self, location_id: &str) -> Result<i64> {
        self.last_seq_in_store(location_id).await
    }

    async fn first_retained_seq(&self, location_id: &str) -> Result<Option<i64>> {
        self.first_retained_seq_in_store(location_id).await
    }

    async fn events_between(&self, location_id: &str, after: i64, up_to: i64, limit: i64) -> Result<Vec<Event>> {
        self.events_between_in_store(location_id, after, up_to, limit).await
    }

    async fn audit(&self, location_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<AuditEntry>> {
        self.audit_in_store(location_id, from, to).await
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
