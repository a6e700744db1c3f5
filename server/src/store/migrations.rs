//! The SQLite schema as an ordered, append-only list. Each migration runs in one
//! transaction with the version bump, so a crash leaves the schema at a whole version.
//! Timestamps are integer milliseconds since the epoch (UTC); days are `YYYY-MM-DD`.

pub const SQLITE: &[&str] = &[
    // 1: the v1 contract.
    r#"
CREATE TABLE locations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    reentry_window_minutes INTEGER NOT NULL DEFAULT 0,
    max_stay_minutes INTEGER NOT NULL DEFAULT 240,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE user_locations (
    user_id TEXT NOT NULL REFERENCES users(id),
    location_id TEXT NOT NULL REFERENCES locations(id),
    PRIMARY KEY (user_id, location_id)
);
CREATE TABLE refresh_tokens (
    digest TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    device_name TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE TABLE members (
    id TEXT PRIMARY KEY,
    card TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    phone TEXT,
    valid_until TEXT,
    frozen_from TEXT,
    frozen_until TEXT,
    created_at INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX members_version ON members(version);
CREATE TABLE visits (
    id TEXT PRIMARY KEY,
    location_id TEXT NOT NULL REFERENCES locations(id),
    member_id TEXT REFERENCES members(id),
    card TEXT,
    desk_id TEXT NOT NULL,
    checked_in_at INTEGER NOT NULL,
    checked_out_at INTEGER,
    auto_checkout INTEGER NOT NULL DEFAULT 0,
    queued INTEGER NOT NULL DEFAULT 0,
    override_reason TEXT,
    override_rule TEXT,
    override_by TEXT,
    needs_review INTEGER NOT NULL DEFAULT 0,
    review_decision TEXT,
    review_note TEXT,
    review_by TEXT,
    review_at INTEGER,
    voided INTEGER NOT NULL DEFAULT 0,
    scanned_by TEXT,
    recorded_by TEXT,
    check_in_op TEXT NOT NULL,
    check_out_op TEXT
);
CREATE INDEX visits_open ON visits(location_id, member_id) WHERE checked_out_at IS NULL;
CREATE INDEX visits_in ON visits(location_id, checked_in_at);
CREATE INDEX visits_out ON visits(location_id, checked_out_at);
CREATE TABLE operations (
    op_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    location_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ack_json TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE events (
    location_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (location_id, seq)
) WITHOUT ROWID;
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    location_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    username TEXT NOT NULL,
    desk_id TEXT,
    action TEXT NOT NULL,
    member_id TEXT,
    reason TEXT,
    rule TEXT,
    check_in_id TEXT
);
CREATE INDEX audit_log_at ON audit_log(location_id, at);
"#,
    // 2: a member's last check-out at a location without scanning every visit.
    r#"
CREATE INDEX visits_member ON visits(member_id, location_id, checked_out_at);
"#,
    // 3: setting a gym up: time zones and home gyms, members' contact details and the
    // billing system's id, the history of every card a member held.
    r#"
ALTER TABLE locations ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE locations ADD COLUMN admits_other_gyms INTEGER NOT NULL DEFAULT 1;
ALTER TABLE members ADD COLUMN email TEXT;
ALTER TABLE members ADD COLUMN external_id TEXT;
ALTER TABLE members ADD COLUMN home_location_id TEXT REFERENCES locations(id);
CREATE UNIQUE INDEX members_external_id ON members(external_id) WHERE external_id IS NOT NULL;
CREATE TABLE member_cards (
    member_id TEXT NOT NULL REFERENCES members(id),
    card TEXT NOT NULL,
    assigned_at INTEGER NOT NULL,
    retired_at INTEGER,
    reason TEXT
);
CREATE INDEX member_cards_member ON member_cards(member_id);
CREATE INDEX member_cards_card ON member_cards(card);
INSERT INTO member_cards (member_id, card, assigned_at) SELECT id, card, created_at FROM members;
"#,
    // 4: counters kept by the command writer in the same transaction as each change, so
    // stats never aggregate a day's visits: open visits per location, and per gym day
    // (in the location's time zone) check-ins and finished stays. Filled here from the
    // visits so far, by UTC day (every location was on UTC days until now).
    r#"
ALTER TABLE locations ADD COLUMN open_visits INTEGER NOT NULL DEFAULT 0;
UPDATE locations SET open_visits = (SELECT COUNT(*) FROM visits v
    WHERE v.location_id = locations.id AND v.checked_out_at IS NULL AND v.voided = 0);
CREATE TABLE location_days (
    location_id TEXT NOT NULL REFERENCES locations(id),
    day TEXT NOT NULL,
    check_ins INTEGER NOT NULL DEFAULT 0,
    stays INTEGER NOT NULL DEFAULT 0,
    stay_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (location_id, day)
) WITHOUT ROWID;
INSERT INTO location_days (location_id, day, check_ins)
    SELECT location_id, date(checked_in_at / 1000, 'unixepoch'), COUNT(*) FROM visits WHERE voided = 0
    GROUP BY 1, 2;
INSERT INTO location_days (location_id, day, stays, stay_ms)
    SELECT location_id, date(checked_out_at / 1000, 'unixepoch'), COUNT(*), SUM(checked_out_at - checked_in_at)
    FROM visits WHERE voided = 0 AND checked_out_at IS NOT NULL GROUP BY 1, 2
    ON CONFLICT (location_id, day) DO UPDATE SET stays = excluded.stays, stay_ms = excluded.stay_ms;
"#,
];
