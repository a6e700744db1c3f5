//! The desk's durable store (SQLite, WAL, `synchronous=FULL`): the outbox of commands
//! waiting for their ack, the roster cache for offline judgement, and small facts that
//! must survive a crash (last event seq, roster cursor, last state).
//!
//! A scan is committed here before anything is sent or shown. An entry leaves the
//! pending set only when its ack is recorded, in the same statement that stores the
//! ack; nothing is ever deleted, so the history of a desk is auditable.
//!
//! Acks and events that arrive together are recorded together ([`Outbox::batch`]): one
//! commit, so one fsync, for a burst of them rather than one per ack. The ack is still
//! recorded before it is reported; a crash before the commit only means the entries are
//! sent again, and the server answers `duplicate`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use frontdesk_protocol::Member;
use frontdesk_protocol::ws::{Ack, AckStatus, Command};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DeskError, Result};

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(
        "CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            op_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            command TEXT NOT NULL,
            card TEXT,
            scanned_by TEXT,
            provisional TEXT,
            created_at INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            ack TEXT,
            acked_at INTEGER
        );
        CREATE INDEX outbox_pending ON outbox(state, id);
        CREATE TABLE roster (
            id TEXT PRIMARY KEY,
            card TEXT NOT NULL,
            member TEXT NOT NULL
        );
        CREATE INDEX roster_card ON roster(card);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )])
}

/// The desk's own verdict on a scan, before the server's ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Provisional {
    Accepted,
    UnknownMember,
    RejectedLocally,
}

impl Provisional {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::UnknownMember => "unknown_member",
            Self::RejectedLocally => "rejected_locally",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "accepted" => Some(Self::Accepted),
            "unknown_member" => Some(Self::UnknownMember),
            "rejected_locally" => Some(Self::RejectedLocally),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Pending,
    Acked,
    Rejected,
}

/// One command in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: i64,
    pub op_id: Uuid,
    pub command: Command,
    pub card: Option<String>,
    pub scanned_by: Option<String>,
    pub provisional: Option<Provisional>,
    pub created_at: DateTime<Utc>,
    pub state: EntryState,
    pub ack: Option<Ack>,
}

/// See [`Outbox::peek`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub server: Option<String>,
    pub location: Option<String>,
    pub pending: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Counts {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub pending: i64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub acked: i64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub rejected: i64,
}

pub struct Outbox {
    conn: Mutex<Connection>,
}

const ENTRY_COLUMNS: &str = "id, op_id, command, card, scanned_by, provisional, created_at, state, ack";

/// An outbox row as stored, before decoding.
type RawEntry = (i64, String, String, Option<String>, Option<String>, Option<String>, i64, String, Option<String>);

fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn decode(raw: RawEntry) -> Result<Entry> {
    let (id, op_id, command, card, scanned_by, provisional, created_at, state, ack) = raw;
    Ok(Entry {
        id,
        op_id: op_id.parse().map_err(|_| DeskError::corrupt("op_id"))?,
        command: serde_json::from_str(&command).map_err(|_| DeskError::corrupt("command"))?,
        card,
        scanned_by,
        provisional: provisional.as_deref().and_then(Provisional::parse),
        created_at: DateTime::from_timestamp_millis(created_at).unwrap_or_default(),
        state: match state.as_str() {
            "acked" => EntryState::Acked,
            "rejected" => EntryState::Rejected,
            _ => EntryState::Pending,
        },
        ack: ack.map(|a| serde_json::from_str(&a)).transpose().map_err(|_| DeskError::corrupt("ack"))?,
    })
}

/// The desk's folder, readable by the signed-in OS account only when the desk makes it
/// (it holds the member list). On Windows and macOS the per-user data folder's own
/// permissions already keep other accounts out.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// `outbox.db` (member names, cards, phones, the scans) for its owner only, made so before
/// SQLite opens it, which gives its `-wal` and `-shm` files the same permissions.
fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl Outbox {
    /// Opens (creating and migrating) `outbox.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        private_dir(dir).map_err(|e| DeskError::storage(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("outbox.db");
        owner_only(&path).map_err(|e| DeskError::storage(format!("cannot restrict {}: {e}", path.display())))?;
        let mut conn =
            Connection::open(&path).map_err(|e| DeskError::storage(format!("cannot open {}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a scan the receptionist saw as recorded survives a power cut.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrations().to_latest(&mut conn).map_err(|e| DeskError::storage(format!("outbox migration failed: {e}")))?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    /// Ties this folder to one server and gym, the first time a desk uses it, and refuses
    /// another pair after that: a desk moved to another gym must never inherit the old
    /// gym's position in the event stream or send its waiting scans as the new gym's.
    pub fn bind(&self, server: &str, location: &str) -> Result<()> {
        let conn = self.conn();
        let bound = (meta(&conn, "bound_server")?, meta(&conn, "bound_location")?);
        match bound {
            (Some(s), Some(l)) if s == server && l == location => Ok(()),
            (Some(s), Some(l)) => {
                let pending = counts(&conn)?.pending;
                Err(DeskError::new(
                    crate::error::ErrorCode::Configuration,
                    format!(
                        "This desk's data folder belongs to gym \"{l}\" at {s} ({pending} scan(s) waiting there), not to \"{location}\" at {server}. \
                         Give this desk its own data folder, or set the location and server back."
                    ),
                    false,
                ))
            }
            _ => {
                set_meta(&conn, "bound_server", server)?;
                set_meta(&conn, "bound_location", location)
            }
        }
    }

    /// What a data folder holds, without opening it for writing: the server and gym it is
    /// bound to and how many scans wait there. `None` when it has no outbox yet.
    pub fn peek(dir: &Path) -> Option<Binding> {
        let path = dir.join("outbox.db");
        if !path.exists() {
            return None;
        }
        let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
        Some(Binding {
            server: meta(&conn, "bound_server").ok().flatten(),
            location: meta(&conn, "bound_location").ok().flatten(),
            pending: counts(&conn).map(|c| c.pending).unwrap_or(0),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits a command to the outbox. Returns the stored entry.
    pub fn enqueue(
        &self,
        command: &Command,
        card: Option<&str>,
        scanned_by: Option<&str>,
        provisional: Option<Provisional>,
    ) -> Result<Entry> {
        let kind = match command {
            Command::CheckIn(_) => "check_in",
            Command::CheckOut(_) => "check_out",
        };
        let json = serde_json::to_string(command).expect("commands serialise");
        let now = Utc::now();
        let conn = self.conn();
        conn.execute(
            "INSERT INTO outbox (op_id, kind, command, card, scanned_by, provisional, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![command.op_id().to_string(), kind, json, card, scanned_by, provisional.map(Provisional::as_str), now.timestamp_millis()],
        )?;
        let id = conn.last_insert_rowid();
        Ok(Entry {
            id,
            op_id: command.op_id(),
            command: command.clone(),
            card: card.map(str::to_owned),
            scanned_by: scanned_by.map(str::to_owned),
            provisional,
            created_at: DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now),
            state: EntryState::Pending,
            ack: None,
        })
    }

    /// Pending entries with `id > after`, oldest first.
    pub fn pending_after(&self, after: i64, limit: usize) -> Result<Vec<Entry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM outbox WHERE state = 'pending' AND id > ?1 ORDER BY id LIMIT ?2"
        ))?;
        let raws: Vec<RawEntry> =
            stmt.query_map(params![after, limit as i64], entry_from_row)?.collect::<rusqlite::Result<_>>()?;
        raws.into_iter().map(decode).collect()
    }

    pub fn entry(&self, op_id: Uuid) -> Result<Option<Entry>> {
        let conn = self.conn();
        let raw = conn
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE op_id = ?1"),
                params![op_id.to_string()],
                entry_from_row,
            )
            .optional()?;
        raw.map(decode).transpose()
    }

    /// The most recent entries, newest first, for a desk's outbox view.
    pub fn recent(&self, limit: usize) -> Result<Vec<Entry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"))?;
        let raws: Vec<RawEntry> =
            stmt.query_map(params![limit as i64], entry_from_row)?.collect::<rusqlite::Result<_>>()?;
        raws.into_iter().map(decode).collect()
    }

    /// Records the server's answer. True when the entry was still pending (the first ack);
    /// a duplicate ack or an unknown op_id changes nothing.
    pub fn record_ack(&self, ack: &Ack) -> Result<bool> {
        self.batch(|b| b.record_ack(ack))
    }

    /// Records many answers in one transaction (one commit, one fsync): for each ack, in
    /// order, whether it was the entry's first. All are recorded or, on an error, none.
    pub fn record_acks(&self, acks: &[Ack]) -> Result<Vec<bool>> {
        self.batch(|b| acks.iter().map(|ack| b.record_ack(ack)).collect())
    }

    /// Runs `work` in one write transaction, committed when it returns `Ok` and rolled
    /// back (nothing written) when it returns an error. Other calls on this outbox wait
    /// until it ends, so keep it short: no waiting on the network inside.
    pub fn batch<T>(&self, work: impl FnOnce(&Batch<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        // IMMEDIATE: take the write lock at BEGIN, not at the first write.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = work(&Batch { conn: &tx, now: Utc::now().timestamp_millis() })?;
        tx.commit()?;
        Ok(out)
    }

    pub fn counts(&self) -> Result<Counts> {
        counts(&self.conn())
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        meta(&self.conn(), key)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        set_meta(&self.conn(), key, value)
    }

    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.conn().prepare_cached("DELETE FROM meta WHERE key = ?1")?.execute(params![key])?;
        Ok(())
    }

    pub fn last_seq(&self) -> Result<i64> {
        last_seq(&self.conn())
    }

    pub fn set_last_seq(&self, seq: i64) -> Result<()> {
        set_meta(&self.conn(), "last_seq", &seq.to_string())
    }

    /// Stores a page of the roster and the cursor after it, atomically.
    pub fn store_roster_page(&self, members: &[Member], cursor: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO roster (id, card, member) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(id) DO UPDATE SET card = excluded.card, member = excluded.member",
            )?;
            for m in members {
                upsert.execute(params![m.id, m.card, serde_json::to_string(m).expect("members serialise")])?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('roster_cursor', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![cursor],
        )?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('roster_synced_at', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![Utc::now().to_rfc3339()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Stores one member as the server now has them (from a `member_updated` event or
    /// the answer to this desk's own change), at once, so the next scan is judged by it
    /// even offline. The sync cursor stays: the next delta sync brings the same member
    /// again, which changes nothing.
    pub fn upsert_roster_member(&self, member: &Member) -> Result<()> {
        upsert_roster_member(&self.conn(), member)
    }

    pub fn roster_by_card(&self, card: &str) -> Result<Option<Member>> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT member FROM roster WHERE card = ?1", params![card], |r| r.get(0))
            .optional()?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    pub fn roster_by_id(&self, id: &str) -> Result<Option<Member>> {
        let json: Option<String> =
            self.conn().query_row("SELECT member FROM roster WHERE id = ?1", params![id], |r| r.get(0)).optional()?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Members of the cached roster whose name, phone or card contains `query`
    /// (case-insensitive), for searching while the server cannot be reached.
    pub fn roster_search(&self, query: &str, limit: usize) -> Result<Vec<Member>> {
        let escaped = query.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT member FROM roster \
             WHERE lower(json_extract(member, '$.name')) LIKE ?1 ESCAPE '\\' \
                OR lower(coalesce(json_extract(member, '$.phone'), '')) LIKE ?1 ESCAPE '\\' \
                OR lower(card) LIKE ?1 ESCAPE '\\' \
             ORDER BY json_extract(member, '$.name') LIMIT ?2",
        )?;
        let rows = statement.query_map(params![pattern, limit as i64], |r| r.get::<_, String>(0))?;
        let mut members = Vec::new();
        for json in rows {
            if let Ok(member) = serde_json::from_str(&json?) {
                members.push(member);
            }
        }
        Ok(members)
    }

    pub fn roster_size(&self) -> Result<i64> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM roster", [], |r| r.get(0))?)
    }

    /// When the roster was last brought up to date, if ever.
    pub fn roster_synced_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .meta("roster_synced_at")?
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|d| d.with_timezone(&Utc)))
    }
}

/// The writes of one [`Outbox::batch`] transaction.
pub struct Batch<'a> {
    conn: &'a Connection,
    /// The batch's time, stored as `acked_at` of the acks it records.
    now: i64,
}

impl Batch<'_> {
    /// [`Outbox::record_ack`], inside the batch.
    pub fn record_ack(&self, ack: &Ack) -> Result<bool> {
        let state = match ack.status {
            AckStatus::Accepted => "acked",
            AckStatus::Rejected => "rejected",
        };
        let json = serde_json::to_string(ack).expect("acks serialise");
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE outbox SET state = ?1, ack = ?2, acked_at = ?3 WHERE op_id = ?4 AND state = 'pending'",
            )?
            .execute(params![state, json, self.now, ack.op_id.to_string()])?;
        Ok(changed == 1)
    }

    pub fn last_seq(&self) -> Result<i64> {
        last_seq(self.conn)
    }

    pub fn set_last_seq(&self, seq: i64) -> Result<()> {
        set_meta(self.conn, "last_seq", &seq.to_string())
    }

    /// [`Outbox::upsert_roster_member`], inside the batch.
    pub fn upsert_roster_member(&self, member: &Member) -> Result<()> {
        upsert_roster_member(self.conn, member)
    }
}

fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?)
}

fn counts(conn: &Connection) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        match state.as_str() {
            "pending" => counts.pending = n,
            "acked" => counts.acked = n,
            "rejected" => counts.rejected = n,
            _ => {}
        }
    }
    Ok(counts)
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

fn last_seq(conn: &Connection) -> Result<i64> {
    Ok(meta(conn, "last_seq")?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn upsert_roster_member(conn: &Connection, member: &Member) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO roster (id, card, member) VALUES (?1, ?2, ?3) \
         ON CONFLICT(id) DO UPDATE SET card = excluded.card, member = excluded.member",
    )?
    .execute(params![member.id, member.card, serde_json::to_string(member).expect("members serialise")])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_protocol::ws::{CheckInCommand, MemberSelector};

    fn command() -> Command {
        Command::CheckIn(CheckInCommand {
            op_id: Uuid::new_v4(),
            location_id: "demo".into(),
            desk_id: "d1".into(),
            member: MemberSelector::card("D0001"),
            occurred_at: Utc::now(),
            queued: true,
            scanned_by: Some("u1".into()),
            override_: None,
        })
    }

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn entries_stay_until_acked_and_ack_once() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let a = outbox.enqueue(&command(), Some("D0001"), Some("u1"), Some(Provisional::Accepted)).unwrap();
        let b = outbox.enqueue(&command(), Some("D0002"), Some("u1"), None).unwrap();
        assert_eq!(outbox.pending_after(0, 10).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [a.id, b.id]);
        assert_eq!(outbox.pending_after(a.id, 10).unwrap().len(), 1);

        let ack = Ack::rejected(a.op_id, frontdesk_protocol::RejectionCode::MembershipExpired, "expired");
        assert!(outbox.record_ack(&ack).unwrap());
        assert!(!outbox.record_ack(&ack).unwrap(), "a second ack changes nothing");
        assert_eq!(outbox.counts().unwrap(), Counts { pending: 1, acked: 0, rejected: 1 });
        let stored = outbox.entry(a.op_id).unwrap().unwrap();
        assert_eq!(stored.state, EntryState::Rejected);
        assert_eq!(stored.ack.unwrap().code, ack.code);
        drop(outbox);

        // Reopened (as after a crash): the same pending entry, same op_id.
        let outbox = Outbox::open(dir.path()).unwrap();
        let pending = outbox.pending_after(0, 10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].op_id, b.op_id);
        assert_eq!(pending[0].command, b.command);
    }

    /// Frames written to the WAL since the last checkpoint. Every commit writes at least
    /// one (and an fsync with `synchronous=FULL`), so fewer frames than commits of one
    /// ack each proves the acks shared commits.
    fn wal_frames(outbox: &Outbox) -> i64 {
        outbox.conn().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)).unwrap()
    }

    fn truncate_wal(outbox: &Outbox) {
        outbox.conn().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        assert_eq!(wal_frames(outbox), 0);
    }

    #[test]
    fn a_batch_of_acks_is_recorded_in_one_commit_and_only_for_the_entries_acked() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let entries: Vec<Entry> =
            (0..300).map(|_| outbox.enqueue(&command(), Some("D0001"), Some("u1"), None).unwrap()).collect();
        let rejected =
            |e: &Entry| Ack::rejected(e.op_id, frontdesk_protocol::RejectionCode::MembershipExpired, "expired");
        // Acks for the first 200 entries, one of them twice, and one for an op_id this
        // desk never sent.
        let mut acks: Vec<Ack> = entries[..200].iter().map(rejected).collect();
        acks.push(rejected(&entries[10]));
        acks.push(Ack::rejected(Uuid::new_v4(), frontdesk_protocol::RejectionCode::InvalidRequest, "?"));

        truncate_wal(&outbox);
        let first = outbox.record_acks(&acks).unwrap();
        let frames = wal_frames(&outbox);
        assert!(frames < 200, "200 acks took {frames} WAL frames: more than one commit per few acks");

        assert_eq!(first.len(), acks.len());
        assert!(first[..200].iter().all(|f| *f), "each entry's first ack counts");
        assert!(!first[200], "the second ack of an entry changes nothing");
        assert!(!first[201], "an unknown op_id changes nothing");
        assert_eq!(outbox.counts().unwrap(), Counts { pending: 100, acked: 0, rejected: 200 });
        let pending = outbox.pending_after(0, 1000).unwrap();
        assert_eq!(
            pending.iter().map(|e| e.op_id).collect::<Vec<_>>(),
            entries[200..].iter().map(|e| e.op_id).collect::<Vec<_>>(),
            "exactly the entries without an ack are still pending, in order"
        );
        assert_eq!(outbox.entry(entries[0].op_id).unwrap().unwrap().ack.unwrap().op_id, entries[0].op_id);

        // One ack at a time: one commit each, so at least one frame each (what the
        // batch above is compared with).
        truncate_wal(&outbox);
        for entry in &entries[200..250] {
            assert!(outbox.record_ack(&rejected(entry)).unwrap());
        }
        assert!(wal_frames(&outbox) >= 50);
    }

    #[test]
    fn a_failed_batch_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let entry = outbox.enqueue(&command(), Some("D0001"), Some("u1"), None).unwrap();
        let ack = Ack::rejected(entry.op_id, frontdesk_protocol::RejectionCode::MembershipExpired, "expired");
        let failed = outbox.batch(|b| {
            assert!(b.record_ack(&ack)?);
            b.set_last_seq(7)?;
            Err::<(), _>(DeskError::storage("the disk is full"))
        });
        assert!(failed.is_err());
        assert_eq!(outbox.counts().unwrap(), Counts { pending: 1, acked: 0, rejected: 0 }, "rolled back");
        assert_eq!(outbox.last_seq().unwrap(), 0);
        assert!(outbox.record_ack(&ack).unwrap(), "the entry is still waiting for its first ack");
    }

    #[test]
    fn roster_pages_and_meta_persist() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let member = Member {
            id: "m1".into(),
            name: "Ann".into(),
            card: "D0001".into(),
            phone: None,
            status: frontdesk_protocol::MemberStatus::Active,
            valid_until: None,
            frozen_from: None,
            frozen_until: None,
            created_at: Utc::now(),
            ..Default::default()
        };
        outbox.store_roster_page(std::slice::from_ref(&member), "v1").unwrap();
        assert_eq!(outbox.roster_by_card("D0001").unwrap(), Some(member.clone()));
        assert_eq!(outbox.meta("roster_cursor").unwrap().as_deref(), Some("v1"));
        assert!(outbox.roster_synced_at().unwrap().is_some());
        outbox.set_last_seq(42).unwrap();
        assert_eq!(outbox.last_seq().unwrap(), 42);
    }

    #[test]
    fn a_single_member_upsert_replaces_the_cached_member_and_keeps_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let expired = Member {
            id: "m1".into(),
            name: "Ann".into(),
            card: "D0181".into(),
            status: frontdesk_protocol::MemberStatus::Expired,
            valid_until: chrono::NaiveDate::from_ymd_opt(2020, 1, 31),
            created_at: Utc::now(),
            ..Default::default()
        };
        outbox.store_roster_page(std::slice::from_ref(&expired), "v7").unwrap();
        let synced_at = outbox.roster_synced_at().unwrap();

        let renewed = Member {
            status: frontdesk_protocol::MemberStatus::Active,
            valid_until: chrono::NaiveDate::from_ymd_opt(2099, 12, 31),
            ..expired.clone()
        };
        outbox.upsert_roster_member(&renewed).unwrap();
        assert_eq!(outbox.roster_by_card("D0181").unwrap(), Some(renewed.clone()));
        assert_eq!(outbox.roster_size().unwrap(), 1, "replaced, not added");
        assert_eq!(outbox.meta("roster_cursor").unwrap().as_deref(), Some("v7"), "the cursor does not move");
        assert_eq!(outbox.roster_synced_at().unwrap(), synced_at, "nor does the sync time");

        // A new card: found by the new one, not by the old one.
        let new_card = Member { card: "D0999".into(), ..renewed };
        outbox.upsert_roster_member(&new_card).unwrap();
        assert_eq!(outbox.roster_by_card("D0999").unwrap(), Some(new_card.clone()));
        assert_eq!(outbox.roster_by_card("D0181").unwrap(), None);

        // A member the cache did not know (a walk-in added at another desk).
        let walk_in = Member { id: "m2".into(), name: "Wanda".into(), card: "W0001".into(), ..new_card };
        outbox.upsert_roster_member(&walk_in).unwrap();
        assert_eq!(outbox.roster_by_id("m2").unwrap(), Some(walk_in));
        assert_eq!(outbox.roster_size().unwrap(), 2);
    }

    #[test]
    fn roster_search_finds_by_name_phone_or_card_and_escapes_wildcards() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let member = |id: &str, name: &str, card: &str, phone: Option<&str>| Member {
            id: id.into(),
            name: name.into(),
            card: card.into(),
            phone: phone.map(Into::into),
            status: frontdesk_protocol::MemberStatus::Active,
            valid_until: None,
            frozen_from: None,
            frozen_until: None,
            created_at: Utc::now(),
            ..Default::default()
        };
        let members = [
            member("m1", "Ann Lee", "D0001", Some("+44 20 7946 0001")),
            member("m2", "Bo_Li", "D0002", None),
            member("m3", "Carla Ann", "D0003", Some("+44 20 7946 0003")),
        ];
        outbox.store_roster_page(&members, "v1").unwrap();
        let names = |q: &str| outbox.roster_search(q, 10).unwrap().into_iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names("ann"), ["Ann Lee", "Carla Ann"], "case-insensitive, by name, sorted");
        assert_eq!(names("0003"), ["Carla Ann"], "by phone or card");
        assert_eq!(names("d0002"), ["Bo_Li"], "by card");
        assert_eq!(names("_"), ["Bo_Li"], "a wildcard character is matched literally");
        assert_eq!(names("%"), Vec::<String>::new());
        assert_eq!(outbox.roster_search("a", 1).unwrap().len(), 1, "limit applies");
    }
}
