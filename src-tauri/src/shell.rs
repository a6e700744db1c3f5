//! The app's one piece of state: the configuration it started with and the desk it runs
//! (opened at start when the location is known, else at the first sign-in).

use std::path::PathBuf;
use std::sync::Arc;

use frontdesk_desk::config::{self, Resolved};
use frontdesk_desk::outbox::Outbox;
use frontdesk_desk::{Desk, DeskConfig, ErrorCode, Keychain};
use tauri::AppHandle;
use tokio::sync::Mutex;

use crate::live::{self, Live};
use crate::view::{AppInfo, SessionInfo, UiError};

/// Where the last location used with a server is remembered, when the configuration
/// names none (the desk then works for the signed-in user's first location).
const LOCATION_FILE: &str = "location.txt";

/// A card read again within this long at the desk is the same scan (a bouncing reader,
/// a member tapping twice), shown again rather than saved twice.
const REPEAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(3);

pub struct Shell {
    pub config: Result<Resolved, String>,
    pub live: Arc<Live>,
    app: AppHandle,
    slot: Mutex<Option<Open>>,
}

struct Open {
    desk: Arc<Desk>,
    forwarder: tauri::async_runtime::JoinHandle<()>,
    /// Delivers scans saved here for another gym of this server (`Desk::deliver_when_connected`).
    courier: tauri::async_runtime::JoinHandle<()>,
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
        self.config.as_ref().map_err(|e| UiError::new(ErrorCode::Configuration, e.clone()))
    }

    /// The running desk, or why there is none.
    pub async fn desk(&self) -> Result<Arc<Desk>, UiError> {
        self.slot.lock().await.as_ref().map(|o| o.desk.clone()).ok_or_else(|| {
            UiError::new(
                ErrorCode::SignedOut,
                "Nobody is signed in at this desk yet. Sign in to start checking members in.",
            )
        })
    }

    pub async fn current(&self) -> Option<Arc<Desk>> {
        self.slot.lock().await.as_ref().map(|o| o.desk.clone())
    }

    /// At start: opens the desk if the location is known (configured, or remembered from
    /// an earlier sign-in), so a kept sign-in connects without asking anyone.
    pub async fn open_at_start(&self) -> Result<(), UiError> {
        let resolved = self.resolved()?.clone();
        let location = resolved.location.clone().or_else(|| remembered_location(&resolved.data_dir));
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
            old.courier.abort();
            old.desk.shutdown().await;
            self.live.clear();
        }
        let data_dir = data_dir_for(resolved, server, location);
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
        let elsewhere = self.waiting_elsewhere(&data_dir, server);
        for (_, waiting) in &elsewhere {
            tracing::warn!("{waiting}");
            self.live.record_error("waiting_elsewhere", waiting);
        }
        desk.set_repeat_window(REPEAT_WINDOW);
        desk.start();
        let courier = live::deliver_elsewhere(
            self.app.clone(),
            desk.clone(),
            self.live.clone(),
            elsewhere.into_iter().map(|(dir, _)| dir).collect(),
        );
        // Remembered beside the server's folder, where the next start looks first.
        let _ = std::fs::write(server_dir(resolved, server).join(LOCATION_FILE), location);
        tracing::info!(server, location, desk_id = %resolved.desk_id, data_dir = %data_dir.display(), "desk opened");
        *slot = Some(Open { desk: desk.clone(), forwarder, courier });
        Ok(desk)
    }

    /// Signs in at `server` (the configured one unless typed otherwise). When the
    /// location is not configured, the desk library signs in once to learn the user's gym
    /// (`chosen`: the gym picked from the list an earlier attempt offered).
    pub async fn sign_in(
        &self,
        server: &str,
        username: &str,
        password: &str,
        chosen: Option<&str>,
    ) -> Result<SessionInfo, UiError> {
        let resolved = self.resolved()?.clone();
        let server = match config::normalize_server(server) {
            typed if typed.is_empty() => resolved.server.clone(),
            typed => typed,
        };
        if let Some(current) = self.current().await
            && current.config().server != server
        {
            let waiting = current.counts()?.pending;
            if waiting > 0 {
                return Err(UiError::new(
                    ErrorCode::OutboxWaiting,
                    format!(
                        "{waiting} scan(s) are still waiting for {}. Sign in there first so they are delivered, or ask IT.",
                        current.config().server
                    ),
                ));
            }
        }
        let location = match resolved.location.clone() {
            Some(location) => location,
            None => {
                let remembered = remembered_location(&server_dir(&resolved, &server));
                frontdesk_desk::discover_location(
                    &server,
                    resolved.ca_file.as_deref(),
                    &resolved.desk_id,
                    username,
                    password,
                    chosen,
                    remembered.as_deref(),
                )
                .await
                .map_err(sign_in_error)?
            }
        };
        let desk = self.open(&server, &location).await?;
        desk.sign_in(username, password).await.map_err(sign_in_error)?;
        desk.retry_now();
        Ok(SessionInfo::of(&desk))
    }

    /// Scans saved at this desk for another server or gym than the one it works for now,
    /// still waiting to be sent, each with what the desk says of them at start: they are
    /// never stranded silently (and those of this server are delivered once connected).
    pub fn waiting_elsewhere(&self, current: &std::path::Path, server: &str) -> Vec<(PathBuf, String)> {
        let Ok(resolved) = self.resolved() else { return Vec::new() };
        desk_folders(&resolved.data_dir)
            .into_iter()
            .filter(|dir| dir != current)
            .filter_map(|dir| {
                let binding = Outbox::peek(&dir)?;
                let gym = binding.location.clone().unwrap_or_else(|| "unknown".into());
                let words = match binding.server.as_deref() {
                    _ if binding.pending == 0 => return None,
                    Some(s) if s == server => format!(
                        "{} scan(s) saved at this desk for gym \"{gym}\" are still waiting; they are sent with \
                         this sign-in once the desk is connected.",
                        binding.pending
                    ),
                    other => format!(
                        "{} scan(s) saved at this desk for gym \"{gym}\" at {} are still waiting. Sign in at that \
                         server (type its address at sign-in) to deliver them, or tell IT.",
                        binding.pending,
                        other.unwrap_or("an unknown server"),
                    ),
                };
                Some((dir, words))
            })
            .collect()
    }
}

/// The folder of a server's desks: the configured data dir for the configured server,
/// one of its own inside it for another server typed at sign-in, so outboxes, member
/// lists and event positions of two servers never mix.
fn server_dir(resolved: &Resolved, server: &str) -> PathBuf {
    if server == resolved.server {
        return resolved.data_dir.clone();
    }
    resolved.data_dir.join("other-servers").join(folder_name(server))
}

/// The data folder of one server and gym: the server's folder while it is free or already
/// this gym's (so existing desks keep their data where it is), else one per gym inside
/// it. The outbox is bound to its server and gym (`Outbox::bind`), so another gym's
/// position in the stream or waiting scans are never inherited.
fn data_dir_for(resolved: &Resolved, server: &str, location: &str) -> PathBuf {
    let base = server_dir(resolved, server);
    let free_or_ours = match Outbox::peek(&base) {
        None => true,
        Some(binding) => match (binding.server.as_deref(), binding.location.as_deref()) {
            (Some(s), Some(l)) => s == server && l == location,
            // Bound by no desk yet (made before binding): it is the remembered gym's.
            _ => remembered_location(&base).is_none_or(|l| l == location),
        },
    };
    if free_or_ours { base } else { base.join("gyms").join(folder_name(location)) }
}

/// Every folder under the data dir that may hold a desk's outbox.
fn desk_folders(root: &std::path::Path) -> Vec<PathBuf> {
    let children = |dir: PathBuf| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
            .unwrap_or_default()
    };
    let mut servers = vec![root.to_path_buf()];
    servers.extend(children(root.join("other-servers")));
    let mut folders = Vec::new();
    for server in servers {
        folders.extend(children(server.join("gyms")));
        folders.push(server);
    }
    folders
}

fn folder_name(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

fn remembered_location(data_dir: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(LOCATION_FILE)).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Sign-in failures in words: wrong password, unreachable, certificate, not a Frontdesk
/// server, update needed, wrong gym (the desk library's codes and messages).
pub fn sign_in_error(e: frontdesk_desk::SignInError) -> UiError {
    let error = UiError::new(e.code(), e.message());
    match e {
        frontdesk_desk::SignInError::ChooseLocation(gyms) => UiError { gyms, ..error },
        _ => error,
    }
}
