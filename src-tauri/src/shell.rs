//! The app's one piece of state: the configuration it started with and the desk it runs
//! (opened at start when the location is known, else at the first sign-in).

use std::path::PathBuf;
use std::sync::Arc;

use frontdesk_desk::config::{self, Resolved};
use frontdesk_desk::{Desk, DeskConfig, Keychain};
use tauri::AppHandle;
use tokio::sync::Mutex;

use crate::live::{self, Live};
use crate::view::{AppInfo, SessionInfo, UiError};

/// Where the last location used with a server is remembered, when the configuration
/// names none (the desk then works for the signed-in user's first location).
const LOCATION_FILE: &str = "location.txt";

pub struct Shell {
    pub config: Result<Resolved, String>,
    pub live: Arc<Live>,
    app: AppHandle,
    slot: Mutex<Option<Open>>,
}

struct Open {
    desk: Arc<Desk>,
    forwarder: tauri::async_runtime::JoinHandle<()>,
}

impl Shell {
    pub fn new(app: AppHandle, config: Result<Resolved, String>) -> Self {
        Self { config, live: Arc::new(Live::default()), app, slot: Mutex::new(None) }
    }

    pub fn info(&self) -> AppInfo {
        let (user_file, system_file) = config::config_paths();
        let config_files =
            user_file.into_iter().chain(std::iter::once(system_file)).map(|p| p.display().to_string()).collect();
        let resolved = self.config.as_ref().ok();
        AppInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            server: resolved.map(|c| c.server.clone()),
            desk_id: resolved.map(|c| c.desk_id.clone()),
            location_id: resolved.and_then(|c| c.location.clone()),
            data_dir: resolved.map(|c| c.data_dir.display().to_string()),
            config_files,
            config_error: self.config.as_ref().err().cloned(),
        }
    }

    fn resolved(&self) -> Result<&Resolved, UiError> {
        self.config.as_ref().map_err(|e| UiError::new("configuration", e.clone()))
    }

    /// The running desk, or why there is none.
    pub async fn desk(&self) -> Result<Arc<Desk>, UiError> {
        self.slot.lock().await.as_ref().map(|o| o.desk.clone()).ok_or_else(|| {
            UiError::new("signed_out", "Nobody is signed in at this desk yet. Sign in to start checking members in.")
        })
    }

    pub async fn current(&self) -> Option<Arc<Desk>> {
        self.slot.lock().await.as_ref().map(|o| o.desk.clone())
    }

    /// At start: opens the desk if the location is known (configured, or remembered from
    /// an earlier sign-in), so a kept sign-in connects without asking anyone.
    pub async fn open_at_start(&self) -> Result<(), UiError> {
        let resolved = self.resolved()?.clone();
        let location =
            resolved.location.clone().or_else(|| remembered_location(&data_dir_for(&resolved, &resolved.server)));
        if let Some(location) = location {
            self.open(&resolved.server, &location).await?;
        }
        Ok(())
    }

    async fn open(&self, server: &str, location: &str) -> Result<Arc<Desk>, UiError> {
        let resolved = self.resolved()?;
        let mut slot = self.slot.lock().await;
        if let Some(open) = slot.as_ref() {
            let config = open.desk.config();
            if config.server == server && config.location_id == location {
                return Ok(open.desk.clone());
            }
        }
        if let Some(old) = slot.take() {
            old.forwarder.abort();
            old.desk.shutdown().await;
            self.live.clear();
        }
        let data_dir = data_dir_for(resolved, server);
        let desk_config = DeskConfig {
            server: server.to_owned(),
            location_id: location.to_owned(),
            desk_id: resolved.desk_id.clone(),
            data_dir: data_dir.clone(),
            device_name: format!("Frontdesk app, desk {}", resolved.desk_id),
            ca_file: resolved.ca_file.clone(),
        };
        let keychain = Arc::new(Keychain::for_desk(server, &resolved.desk_id));
        let desk = Arc::new(Desk::open(desk_config, keychain)?);
        let forwarder = live::forward(self.app.clone(), desk.clone(), self.live.clone());
        desk.start();
        let _ = std::fs::write(data_dir.join(LOCATION_FILE), location);
        tracing::info!(server, location, desk_id = %resolved.desk_id, data_dir = %data_dir.display(), "desk opened");
        *slot = Some(Open { desk: desk.clone(), forwarder });
        Ok(desk)
    }

    /// Signs in at `server` (the configured one unless typed otherwise). When the
    /// location is not configured, the user's first location is used, which needs one
    /// sign-in to learn it before the desk can open.
    pub async fn sign_in(&self, server: &str, username: &str, password: &str) -> Result<SessionInfo, UiError> {
        let resolved = self.resolved()?.clone();
        let server = server.trim().trim_end_matches('/');
        let server = if server.is_empty() { resolved.server.trim_end_matches('/') } else { server };
        if let Some(current) = self.current().await
            && current.config().server.trim_end_matches('/') != server
        {
            let waiting = current.counts()?.pending;
            if waiting > 0 {
                return Err(UiError::new(
                    "outbox_waiting",
                    format!(
                        "{waiting} scan(s) are still waiting for {}. Sign in there first so they are delivered, or ask IT.",
                        current.config().server
                    ),
                ));
            }
        }
        let location = match resolved.location.clone().or_else(|| remembered_location(&data_dir_for(&resolved, server)))
        {
            Some(location) => location,
            None => first_location(server, &resolved.desk_id, username, password).await?,
        };
        let desk = self.open(server, &location).await?;
        let user = desk.sign_in(username, password).await.map_err(sign_in_error)?;
        if !user.locations.iter().any(|l| l == &location) && user.role != frontdesk_protocol::Role::Admin {
            let _ = desk.sign_out().await;
            return Err(UiError::new(
                "wrong_location",
                format!(
                    "{} does not work at location \"{location}\". Sign in with an account for this gym.",
                    user.name
                ),
            ));
        }
        desk.retry_now();
        Ok(session_of(&desk))
    }
}

/// What the desk knows of its sign-in.
pub fn session_of(desk: &Desk) -> SessionInfo {
    let signed_in = desk.has_sign_in().unwrap_or(false);
    SessionInfo {
        signed_in,
        user: if signed_in { desk.user() } else { None },
        server: Some(desk.config().server.clone()),
        location_id: Some(desk.config().location_id.clone()),
    }
}

/// The configured server keeps the configured data dir; another server typed at sign-in
/// gets its own folder inside it, so outboxes, member lists and event positions of two
/// servers never mix.
fn data_dir_for(resolved: &Resolved, server: &str) -> PathBuf {
    if server.trim_end_matches('/') == resolved.server.trim_end_matches('/') {
        return resolved.data_dir.clone();
    }
    let name: String =
        server.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    resolved.data_dir.join("other-servers").join(name)
}

fn remembered_location(data_dir: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(LOCATION_FILE)).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Signs in once just to learn the user's locations, then ends that sign-in.
async fn first_location(server: &str, desk_id: &str, username: &str, password: &str) -> Result<String, UiError> {
    let api = frontdesk_desk::api::Api::new(server)?;
    let tokens = frontdesk_desk::tokens::Tokens::new(api, Arc::new(Keychain::for_desk(server, desk_id)));
    let user = tokens.sign_in(username, password, "Frontdesk app").await.map_err(sign_in_error)?;
    let _ = tokens.sign_out().await;
    user.locations.first().cloned().ok_or_else(|| {
        UiError::new(
            "no_location",
            format!("{} is not assigned to any gym. Ask an admin to add the account to a location.", user.name),
        )
    })
}

/// Sign-in failures in words: wrong password, unreachable, certificate, update needed.
pub fn sign_in_error(e: frontdesk_desk::SignInError) -> UiError {
    use frontdesk_desk::api::ApiFailure;
    match &e {
        frontdesk_desk::SignInError::Api(ApiFailure::Unexpected { status: 404 | 426, .. }) => UiError::new(
            "update_required",
            "This server does not speak this app's version of Frontdesk. Update the app (or ask IT which version the server needs).",
        ),
        _ => UiError::new(e.code(), e.message()),
    }
}
