//! `frontdesk-server admin …`: setting a gym up from nothing, for IT (docs/server.md
//! "Setting up a real gym"). Each subcommand opens the same store as the server (safe
//! while it runs: SQLite serialises writers across processes, and the server notices what
//! was written within a second), does one thing, and prints one JSON line saying what it
//! did. Bad input exits 1 with the reason on standard error and `{"ok":false,…}` on
//! standard output.

use std::io::Write;
use std::path::PathBuf;

use chrono::Utc;
use clap::{Args, Subcommand};
use frontdesk_protocol::Role;
use frontdesk_protocol::api::{LocationPatch, NewLocation};
use serde_json::{Value, json};

use crate::auth::{Actor, password};
use crate::store::{RowError, Store, UserRecord};
use crate::{import, setup};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set a gym up: locations, staff accounts, members from CSV, backups.
    Admin {
        #[command(subcommand)]
        action: Admin,
    },
}

#[derive(Debug, Subcommand)]
pub enum Admin {
    /// Create a location (gym), or change the settings given of an existing one.
    CreateLocation(LocationArgs),
    /// List the locations as JSON.
    ListLocations,
    /// Create a staff account; the password comes from FRONTDESK_NEW_PASSWORD or is asked.
    CreateUser(CreateUserArgs),
    /// List staff accounts (without password hashes).
    ListUsers,
    /// Set a new password (FRONTDESK_NEW_PASSWORD or asked); signs the user out everywhere.
    SetPassword(UsernameArg),
    /// Stop an account from signing in; its devices are signed out.
    DisableUser(UsernameArg),
    /// Let a disabled account sign in again.
    EnableUser(UsernameArg),
    /// Import or update members from a CSV file (all rows or none).
    ImportMembers(ImportArgs),
    /// Write a consistent copy of the database to FILE, while the server runs.
    Backup(BackupArgs),
}

#[derive(Debug, Args)]
pub struct LocationArgs {
    #[arg(long)]
    id: String,
    #[arg(long)]
    name: String,
    /// People allowed in at once (default 100).
    #[arg(long)]
    capacity: Option<i64>,
    /// IANA name, e.g. Europe/London (default UTC).
    #[arg(long)]
    time_zone: Option<String>,
    /// Visits still open after this long are closed by the server (default 240).
    #[arg(long)]
    max_stay_minutes: Option<i64>,
    /// Minutes after a check-out before the same member may enter again (default 0, off).
    #[arg(long)]
    reentry_window_minutes: Option<i64>,
    /// Turn away members whose home gym is another one (overridable by staff).
    #[arg(long)]
    own_members_only: bool,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[arg(long)]
    username: String,
    /// The person's name as managers see it.
    #[arg(long)]
    name: String,
    /// front_desk, manager or admin.
    #[arg(long)]
    role: String,
    /// A location the user works at; repeat for several.
    #[arg(long = "location", required = true)]
    locations: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UsernameArg {
    #[arg(long)]
    username: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Home gym of the members created.
    #[arg(long)]
    location: String,
    /// The CSV file (header row: card, name, valid_until; phone, email, external_id, frozen).
    file: PathBuf,
    /// Check the file and say what would change, without changing anything.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy; must not exist yet.
    file: PathBuf,
}

/// A refusal: the sentence for a person and, for imports, one entry per bad row.
pub struct Refusal {
    pub message: String,
    pub rows: Vec<RowError>,
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Self { message, rows: Vec::new() }
    }
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Self {
        Self { message: format!("{e:#}"), rows: Vec::new() }
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        Self {
            message: format!("{e}. Nothing was changed; check that the database is reachable and try again."),
            rows: vec![],
        }
    }
}

/// Runs one subcommand; prints its JSON line; returns the exit code (0 or 1).
pub async fn run(action: Admin, store: &dyn Store) -> u8 {
    match execute(action, store).await {
        Ok(value) => {
            print_line(&value);
            0
        }
        Err(refusal) => {
            eprintln!("frontdesk-server admin: {}", refusal.message);
            for row in &refusal.rows {
                eprintln!("  line {}: {}", row.line, row.message);
            }
            print_line(&json!({ "ok": false, "error": refusal.message, "errors": refusal.rows }));
            1
        }
    }
}

fn print_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

async fn execute(action: Admin, store: &dyn Store) -> Result<Value, Refusal> {
    let by = Actor::command_line();
    let now = Utc::now();
    match action {
        Admin::CreateLocation(a) => {
            let patch = LocationPatch {
                name: Some(a.name.clone()),
                capacity: a.capacity,
                time_zone: a.time_zone.clone(),
                max_stay_minutes: a.max_stay_minutes,
                reentry_window_minutes: a.reentry_window_minutes,
                admits_other_gyms: a.own_members_only.then_some(false),
            };
            let id = setup::location_id(&a.id)?;
            match store.location(&id).await? {
                Some(mut existing) => {
                    setup::apply_location_patch(&mut existing, &patch)?;
                    store.update_location(&existing, &by, now).await?;
                    Ok(json!({ "ok": true, "action": "location_updated", "location": existing }))
                }
                None => {
                    let location = setup::new_location(&NewLocation {
                        id,
                        name: a.name,
                        capacity: a.capacity,
                        time_zone: a.time_zone,
                        max_stay_minutes: a.max_stay_minutes,
                        reentry_window_minutes: a.reentry_window_minutes,
                        admits_other_gyms: patch.admits_other_gyms,
                    })?;
                    store.create_location(&location, &by, now).await?;
                    Ok(json!({ "ok": true, "action": "location_created", "location": location }))
                }
            }
        }
        Admin::ListLocations => Ok(json!({ "ok": true, "locations": store.locations().await? })),
        Admin::CreateUser(a) => {
            let username = setup::username(&a.username)?;
            let name = setup::staff_name(&a.name)?;
            let role = Role::parse(a.role.trim())
                .ok_or_else(|| format!("The role {:?} does not exist: use front_desk, manager or admin.", a.role))?;
            let locations = known_locations(store, &a.locations).await?;
            if store.user_by_username(&username).await?.is_some() {
                return Err(format!(
                    "A user named {username:?} exists already. Choose another username, or use \
                     `admin set-password --username {username}` to give them a new password."
                )
                .into());
            }
            let secret = new_password(&username)?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&secret))
                .await
                .map_err(|e| format!("hashing the password failed: {e}"))?;
            let user = UserRecord {
                id: uuid::Uuid::new_v4().to_string(),
                username,
                name,
                role,
                password_hash: hash,
                disabled: false,
                locations,
            };
            if !store.create_user(&user, &by, now).await? {
                return Err(
                    format!("A user named {:?} was created meanwhile; nothing was changed.", user.username).into()
                );
            }
            Ok(json!({ "ok": true, "action": "user_created", "user": user.summary() }))
        }
        Admin::ListUsers => {
            let users: Vec<_> = store.users().await?.iter().map(UserRecord::summary).collect();
            Ok(json!({ "ok": true, "users": users }))
        }
        Admin::SetPassword(a) => {
            let user = user_named(store, &a.username).await?;
            let secret = new_password(&user.username)?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&secret))
                .await
                .map_err(|e| format!("hashing the password failed: {e}"))?;
            store.set_password(&user.id, &hash, &by, now).await?;
            Ok(json!({ "ok": true, "action": "password_set", "user": user.summary(), "signed_out": true }))
        }
        Admin::DisableUser(a) => set_disabled(store, &a.username, true, &by).await,
        Admin::EnableUser(a) => set_disabled(store, &a.username, false, &by).await,
        Admin::ImportMembers(a) => import_members(store, a, &by).await,
        Admin::Backup(a) => {
            if a.file.exists() {
                return Err(
                    format!("{} exists already; choose a new file name for the backup.", a.file.display()).into()
                );
            }
            let started = std::time::Instant::now();
            store.backup_to(&a.file).await?;
            let bytes = std::fs::metadata(&a.file).map(|m| m.len()).unwrap_or(0);
            Ok(json!({
                "ok": true, "action": "backup", "file": a.file.display().to_string(), "bytes": bytes,
                "elapsed_ms": started.elapsed().as_millis() as u64,
            }))
        }
    }
}

async fn set_disabled(store: &dyn Store, username: &str, disabled: bool, by: &Actor) -> Result<Value, Refusal> {
    let user = user_named(store, username).await?;
    store.set_user_disabled(&user.id, disabled, by, Utc::now()).await?;
    let mut summary = user.summary();
    summary.disabled = disabled;
    let action = if disabled { "user_disabled" } else { "user_enabled" };
    Ok(json!({ "ok": true, "action": action, "user": summary }))
}

async fn user_named(store: &dyn Store, username: &str) -> Result<UserRecord, Refusal> {
    store.user_by_username(username).await?.ok_or_else(|| {
        format!("There is no user named {username:?}. `frontdesk-server admin list-users` lists them.").into()
    })
}

/// The locations named, each checked to exist.
async fn known_locations(store: &dyn Store, ids: &[String]) -> Result<Vec<String>, Refusal> {
    let mut known = Vec::new();
    for id in ids {
        let id = id.trim();
        if store.location(id).await?.is_none() {
            return Err(format!(
                "There is no location {id:?}. Create it first with `frontdesk-server admin create-location --id {id} --name …`."
            )
            .into());
        }
        if !known.iter().any(|k| k == id) {
            known.push(id.to_owned());
        }
    }
    Ok(known)
}

/// The new password: `FRONTDESK_NEW_PASSWORD`, else asked twice on the terminal. Never
/// a command-line argument, which other users of the machine could read.
fn new_password(username: &str) -> Result<String, Refusal> {
    let secret = match std::env::var("FRONTDESK_NEW_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Err("No password given. Set FRONTDESK_NEW_PASSWORD, or run this on a terminal to be asked."
                    .to_owned()
                    .into());
            }
            let first = rpassword::prompt_password(format!("New password for {username}: "))
                .map_err(|e| format!("cannot read the password from the terminal: {e}"))?;
            let again = rpassword::prompt_password("The same password again: ")
                .map_err(|e| format!("cannot read the password from the terminal: {e}"))?;
            if first != again {
                return Err("The two passwords differ; nothing was changed.".to_owned().into());
            }
            first
        }
    };
    setup::password(&secret)?;
    Ok(secret)
}

async fn import_members(store: &dyn Store, a: ImportArgs, by: &Actor) -> Result<Value, Refusal> {
    let location = a.location.trim();
    if store.location(location).await?.is_none() {
        return Err(format!(
            "There is no location {location:?} to import members into. Create it first with \
             `frontdesk-server admin create-location --id {location} --name …`."
        )
        .into());
    }
    let bytes = std::fs::read(&a.file).map_err(|e| format!("cannot read the file {}: {e}", a.file.display()))?;
    let started = std::time::Instant::now();
    let parsed = import::parse(&bytes).map_err(|rows| Refusal {
        message: format!(
            "{} row(s) of {} cannot be imported, so nothing was imported. Fix them and import the file again.",
            rows.len(),
            a.file.display()
        ),
        rows,
    })?;
    let outcome = store.import_members(location, &parsed.rows, a.dry_run, by, Utc::now()).await?;
    if !outcome.errors.is_empty() {
        return Err(Refusal {
            message: format!(
                "{} row(s) of {} conflict with members already stored, so nothing was imported. Fix them and \
                 import the file again.",
                outcome.errors.len(),
                a.file.display()
            ),
            rows: outcome.errors,
        });
    }
    Ok(json!({
        "ok": true,
        "action": if a.dry_run { "import_checked" } else { "members_imported" },
        "dry_run": a.dry_run,
        "location": location,
        "rows": parsed.rows.len(),
        "created": outcome.created,
        "updated": outcome.updated,
        "unchanged": outcome.unchanged,
        "ignored_columns": parsed.ignored_columns,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    }))
}
