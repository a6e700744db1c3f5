//! The desk's configuration as IT sets it (docs/app.md): a system-wide file
//! written by the installer, a user file over it, and environment variables over both.
//!
//! | platform | user file | system file |
//! |---|---|---|
//! | Linux | `$XDG_CONFIG_HOME/frontdesk/config.toml` (else `~/.config/…`) | `/etc/frontdesk/config.toml` |
//! | Windows | `%APPDATA%\Frontdesk\config.toml` | `%PROGRAMDATA%\Frontdesk\config.toml` |
//! | macOS | `~/Library/Application Support/Frontdesk/config.toml` | `/Library/Application Support/Frontdesk/config.toml` |
//!
//! Environment: `FRONTDESK_SERVER`, `FRONTDESK_DESK_ID`, `FRONTDESK_LOCATION`,
//! `FRONTDESK_DATA_DIR`, `FRONTDESK_CA_FILE` (a PEM file of the gym's private CA, trusted
//! in addition to the operating system's certificate store).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{DeskError, Result};

/// One layer of settings; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    pub server: Option<String>,
    pub desk_id: Option<String>,
    pub location: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

impl ConfigLayer {
    /// `self` over `lower`: keys set here win.
    fn over(self, lower: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            server: self.server.or(lower.server),
            desk_id: self.desk_id.or(lower.desk_id),
            location: self.location.or(lower.location),
            data_dir: self.data_dir.or(lower.data_dir),
            ca_file: self.ca_file.or(lower.ca_file),
        }
    }

    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> ConfigLayer {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        ConfigLayer {
            server: get("FRONTDESK_SERVER"),
            desk_id: get("FRONTDESK_DESK_ID"),
            location: get("FRONTDESK_LOCATION"),
            data_dir: get("FRONTDESK_DATA_DIR").map(PathBuf::from),
            ca_file: get("FRONTDESK_CA_FILE").map(PathBuf::from),
        }
    }

    /// Reads a config file; a missing file is an empty layer, a broken one an error
    /// naming the file and the problem.
    pub fn from_file(path: &Path) -> Result<ConfigLayer> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                DeskError::invalid_input(format!(
                    "The configuration file {} cannot be read: {}. Fix it (keys: server, desk_id, location, data_dir, ca_file) or remove it.",
                    path.display(),
                    e.message()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigLayer::default()),
            Err(e) => Err(DeskError::invalid_input(format!("The configuration file {} cannot be opened: {e}.", path.display()))),
        }
    }
}

/// Where this platform keeps the two files.
pub fn config_paths() -> (Option<PathBuf>, PathBuf) {
    let user = dirs::config_dir().map(|d| d.join(app_dir_name()).join("config.toml"));
    (user, system_config_path())
}

fn app_dir_name() -> &'static str {
    if cfg!(any(target_os = "windows", target_os = "macos")) { "Frontdesk" } else { "frontdesk" }
}

fn system_config_path() -> PathBuf {
    if cfg!(target_os = "windows") {
        let program_data =
            std::env::var_os("PROGRAMDATA").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
        program_data.join("Frontdesk").join("config.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Frontdesk/config.toml")
    } else {
        PathBuf::from("/etc/frontdesk/config.toml")
    }
}

/// The settings a desk runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub server: String,
    pub desk_id: String,
    pub location: Option<String>,
    pub data_dir: PathBuf,
    pub ca_file: Option<PathBuf>,
}

/// Environment over the user file over the system file. `server` and `desk_id` are
/// required; the data dir defaults to the platform's local data directory.
pub fn resolve(env: ConfigLayer, user: ConfigLayer, system: ConfigLayer) -> Result<Resolved> {
    let merged = env.over(user.over(system));
    let missing = |key: &str, var: &str| {
        DeskError::invalid_input(format!(
            "The desk has no `{key}` set. Put `{key} = \"…\"` in the configuration file ({}), or set {var}.",
            config_paths()
                .0
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| system_config_path().display().to_string())
        ))
    };
    let server = merged.server.ok_or_else(|| missing("server", "FRONTDESK_SERVER"))?;
    let desk_id = merged.desk_id.ok_or_else(|| missing("desk_id", "FRONTDESK_DESK_ID"))?;
    let data_dir = merged
        .data_dir
        .or_else(|| dirs::data_local_dir().map(|d| d.join(app_dir_name())))
        .unwrap_or_else(|| PathBuf::from("frontdesk-data"));
    Ok(Resolved {
        server: normalize_server(&server),
        desk_id,
        location: merged.location,
        data_dir,
        ca_file: merged.ca_file,
    })
}

/// Loads the configuration of this machine and user.
pub fn load() -> Result<Resolved> {
    let (user_path, system_path) = config_paths();
    let user = match user_path {
        Some(p) => ConfigLayer::from_file(&p)?,
        None => ConfigLayer::default(),
    };
    let system = ConfigLayer::from_file(&system_path)?;
    resolve(ConfigLayer::from_env(|k| std::env::var(k).ok()), user, system)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(server: Option<&str>, desk: Option<&str>) -> ConfigLayer {
        ConfigLayer { server: server.map(Into::into), desk_id: desk.map(Into::into), ..Default::default() }
    }

    #[test]
    fn environment_over_user_over_system() {
        let system = ConfigLayer { location: Some("demo".into()), ..layer(Some("https://sys:8080"), Some("front-1")) };
        let user = layer(Some("https://user:8080"), None);
        let env = layer(None, Some("front-9"));
        let r = resolve(env, user, system).unwrap();
        assert_eq!(r.server, "https://user:8080");
        assert_eq!(r.desk_id, "front-9");
        assert_eq!(r.location.as_deref(), Some("demo"));
    }

    #[test]
    fn missing_keys_say_where_to_set_them() {
        let err = resolve(ConfigLayer::default(), ConfigLayer::default(), layer(None, Some("d"))).unwrap_err();
        assert!(err.message.contains("server") && err.message.contains("FRONTDESK_SERVER"), "{}", err.message);
    }

    #[test]
    fn files_parse_strictly_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "server = \"https://gym:8080\"\ndesk_id = \"front-1\"\n").unwrap();
        assert_eq!(ConfigLayer::from_file(&good).unwrap(), layer(Some("https://gym:8080"), Some("front-1")));
        let typo = dir.path().join("typo.toml");
        std::fs::write(&typo, "sever = \"https://gym:8080\"\n").unwrap();
        assert!(ConfigLayer::from_file(&typo).unwrap_err().message.contains("typo.toml"));
        assert_eq!(ConfigLayer::from_file(&dir.path().join("none.toml")).unwrap(), ConfigLayer::default());
    }

    #[test]
    fn environment_values_are_trimmed_and_empty_ones_ignored() {
        let env = ConfigLayer::from_env(|k| match k {
            "FRONTDESK_SERVER" => Some(" https://gym:8080 ".into()),
            "FRONTDESK_DESK_ID" => Some(String::new()),
            _ => None,
        });
        assert_eq!(env, layer(Some("https://gym:8080"), None));
    }
}

/// A server address as the desk keeps it (keychain entry, data folder binding): without
/// surrounding spaces or a trailing slash, so `https://gym:8080/` and `https://gym:8080`
/// are one server.
pub fn normalize_server(server: &str) -> String {
    server.trim().trim_end_matches('/').to_owned()
}
