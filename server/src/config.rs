//! Settings: command line over environment over config file over defaults.
//!
//! docs/server.md ("Starting", "Settings") fixes the flag and variable names; every other
//! setting follows the same pattern (`FRONTDESK_<NAME>` in the environment, `<name>` in the
//! TOML file).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;

#[derive(Debug, Parser)]
#[command(name = "frontdesk-server", version, about = "Frontdesk companion server")]
pub struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "FRONTDESK_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and the demo JWT secret (created if missing).
    #[arg(long, env = "FRONTDESK_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Another store, e.g. `postgres://…` for the scale-out deployment.
    #[arg(long, env = "FRONTDESK_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Seed the deterministic demo data (idempotent) and print the sign-in details.
    #[arg(long)]
    pub demo: bool,
    /// A TOML file with any of the settings below (documented in docs/server.md).
    #[arg(long, env = "FRONTDESK_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Without a subcommand the server runs.
    #[command(subcommand)]
    pub command: Option<crate::admin_cli::Command>,
}

/// Values from the optional TOML file; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    demo: Option<bool>,
    jwt_secret: Option<String>,
    jwt_secret_file: Option<PathBuf>,
    access_ttl_s: Option<u64>,
    refresh_ttl_s: Option<u64>,
    heartbeat_ms: Option<u64>,
    event_retention: Option<i64>,
    max_frame_bytes: Option<usize>,
    max_sessions: Option<usize>,
    max_sessions_per_user: Option<usize>,
    session_queue: Option<usize>,
    ws_rate_per_s: Option<u32>,
    ws_rate_burst: Option<u32>,
    command_timeout_ms: Option<u64>,
    login_max_failures: Option<u32>,
    login_lockout_s: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    sweep_interval_ms: Option<u64>,
    drain_spread_ms: Option<u64>,
    socket_send_buffer: Option<usize>,
    watch_interval_ms: Option<u64>,
    queued_max_age_s: Option<u64>,
}

/// The server's own certificate and key, for HTTPS without a reverse proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub demo: bool,
    pub jwt_secret: Vec<u8>,
    /// A secret file named but not read yet: read by [`Settings::ensure_jwt_secret`],
    /// so `admin` subcommands (which sign nothing) work for users who may not read it.
    pub jwt_secret_file: Option<PathBuf>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub heartbeat: Duration,
    /// Events kept per location for resume.
    pub event_retention: i64,
    pub max_frame_bytes: usize,
    /// Open sessions above which upgrades are refused with 503.
    pub max_sessions: usize,
    /// Open sessions one account may hold (a shared front-desk account signed in at
    /// every desk of a chain still fits); above it upgrades are refused.
    pub max_sessions_per_user: usize,
    /// Frames queued for one session before it is closed as a slow consumer (4008).
    pub session_queue: usize,
    pub ws_rate_per_s: u32,
    pub ws_rate_burst: u32,
    /// A command not stored within this time closes its session with 1013.
    pub command_timeout: Duration,
    pub login_max_failures: u32,
    /// The longest wait between sign-in attempts of one account or address.
    pub login_lockout: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or CIDR
    /// ranges): sign-ins are limited per client, so a gym's desks behind one proxy do not
    /// lock each other out. From anyone else the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Serve HTTPS/WSS with this certificate (PEM, chain included) and key, reloaded on
    /// SIGHUP or when the files change. Without them the server speaks plain HTTP (behind
    /// a TLS-terminating proxy, or on a trusted network).
    pub tls: Option<TlsFiles>,
    pub sweep_interval: Duration,
    /// During a drain, reconnect hints are spread over at most this long.
    pub drain_spread: Duration,
    /// SO_SNDBUF for accepted connections in bytes; 0 leaves it to the OS. A bound
    /// makes a stalled desk show up as a full session queue (4008) sooner.
    pub socket_send_buffer: usize,
    /// How often the server looks for changes another process wrote to the store
    /// (`frontdesk-server admin` while it runs).
    pub watch_interval: Duration,
    /// A queued (offline) command older than this is accepted for a manager's review
    /// instead of being judged by the rules of its own time.
    pub queued_max_age: Duration,
    pub issuer: String,
    pub audience: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url))
            .field("demo", &self.demo)
            .field("jwt_secret", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

/// `FRONTDESK_TRUSTED_PROXIES` (comma-separated) over `trusted_proxies` of the file; each
/// an address (`10.0.0.5`) or a range (`10.0.0.0/24`).
fn trusted_proxies(from_env: Option<String>, from_file: Option<Vec<String>>) -> anyhow::Result<Vec<ipnet::IpNet>> {
    let names: Vec<String> = match from_env {
        Some(list) => list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
        None => from_file.unwrap_or_default(),
    };
    names
        .iter()
        .map(|name| {
            name.parse::<ipnet::IpNet>().or_else(|_| name.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(
                |_| {
                    anyhow::anyhow!(
                        "trusted_proxies: {name:?} is not an IP address or range. Write addresses such as \
                         10.0.0.5 or ranges such as 10.0.0.0/24, comma-separated in FRONTDESK_TRUSTED_PROXIES."
                    )
                },
            )
        })
        .collect()
}

/// Hides a password in a database URL before it is logged.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Where settings come from; the environment is passed in so tests need not mutate it.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

fn env_parse<T: std::str::FromStr>(env: &dyn Env, name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match env.var(name) {
        None => Ok(None),
        Some(raw) => raw.trim().parse().map(Some).map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}")),
    }
}

/// The config file the Debian package installs (a conffile IT edits). Read when no
/// `--config` (or `FRONTDESK_CONFIG`) is given and it exists, so `frontdesk-server admin …`
/// on the server machine works on the same store as the service.
#[cfg(unix)]
pub const DEFAULT_CONFIG_FILE: &str = "/etc/frontdesk/server.toml";

impl Settings {
    /// What the store's command path needs of these settings.
    pub fn store_settings(&self) -> crate::store::SqliteSettings {
        crate::store::SqliteSettings {
            event_retention: self.event_retention,
            queued_max_age: chrono::Duration::from_std(self.queued_max_age).unwrap_or(chrono::Duration::MAX),
        }
    }

    pub fn load(cli: &Cli, env: &dyn Env) -> anyhow::Result<Self> {
        #[cfg(unix)]
        let default_file = Some(Path::new(DEFAULT_CONFIG_FILE));
        #[cfg(not(unix))]
        let default_file = None;
        Self::load_with_default_file(cli, env, default_file)
    }

    /// [`Settings::load`] with the default config file as a parameter, so tests do not
    /// depend on what this machine has in `/etc`.
    fn load_with_default_file(cli: &Cli, env: &dyn Env, default_file: Option<&Path>) -> anyhow::Result<Self> {
        let config_file = cli.config.clone().or_else(|| default_file.filter(|p| p.exists()).map(Path::to_path_buf));
        let file: FileSettings = match &config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("the config file {} is not valid", path.display()))?
            }
            None => FileSettings::default(),
        };

        macro_rules! pick {
            ($env:literal, $file:ident, $default:expr) => {
                env_parse(env, $env)?.or(file.$file).unwrap_or($default)
            };
        }

        let data_dir = cli.data_dir.clone().or(file.data_dir.clone()).unwrap_or_else(|| PathBuf::from("./data"));
        let demo = cli.demo || file.demo.unwrap_or(false);
        let database_url = cli
            .database_url
            .clone()
            .or(file.database_url.clone())
            .unwrap_or_else(|| sqlite_url(&data_dir.join("frontdesk.db")));

        let (jwt_secret, jwt_secret_file) =
            match (env.var("FRONTDESK_JWT_SECRET"), env.var("FRONTDESK_JWT_SECRET_FILE")) {
                (Some(secret), _) => (secret.into_bytes(), None),
                (None, Some(path)) => (Vec::new(), Some(PathBuf::from(path))),
                (None, None) => match (&file.jwt_secret, &file.jwt_secret_file) {
                    (Some(secret), _) => (secret.clone().into_bytes(), None),
                    (None, Some(path)) => (Vec::new(), Some(path.clone())),
                    (None, None) => (Vec::new(), None),
                },
            };

        let settings = Self {
            listen: cli.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".parse().expect("literal")),
            data_dir,
            database_url,
            demo,
            jwt_secret,
            jwt_secret_file,
            access_ttl: Duration::from_secs(pick!("FRONTDESK_ACCESS_TTL_S", access_ttl_s, 900)),
            refresh_ttl: Duration::from_secs(pick!("FRONTDESK_REFRESH_TTL_S", refresh_ttl_s, 2_592_000)),
            heartbeat: Duration::from_millis(pick!("FRONTDESK_HEARTBEAT_MS", heartbeat_ms, 15_000)),
            event_retention: pick!("FRONTDESK_EVENT_RETENTION", event_retention, 100_000),
            max_frame_bytes: pick!("FRONTDESK_MAX_FRAME_BYTES", max_frame_bytes, 65_536),
            max_sessions: pick!("FRONTDESK_MAX_SESSIONS", max_sessions, 20_000),
            max_sessions_per_user: pick!("FRONTDESK_MAX_SESSIONS_PER_USER", max_sessions_per_user, 500),
            session_queue: pick!("FRONTDESK_SESSION_QUEUE", session_queue, 1024),
            // A session runs its commands one at a time, so the store bounds what one desk
            // can make the server do; this limit is against a client flooding frames. It
            // must stay above what a desk replaying a long outbox sends when the server
            // keeps up (the target is 5,000 entries/s; at 300/s with a burst of 2,000, a
            // faster replay would be cut off with 4029 after its first 2,000 entries).
            ws_rate_per_s: pick!("FRONTDESK_WS_RATE_PER_S", ws_rate_per_s, 5000),
            ws_rate_burst: pick!("FRONTDESK_WS_RATE_BURST", ws_rate_burst, 20000),
            command_timeout: Duration::from_millis(pick!("FRONTDESK_COMMAND_TIMEOUT_MS", command_timeout_ms, 5000)),
            queued_max_age: Duration::from_secs(pick!("FRONTDESK_QUEUED_MAX_AGE_S", queued_max_age_s, 604_800)),
            login_max_failures: pick!("FRONTDESK_LOGIN_MAX_FAILURES", login_max_failures, 5),
            login_lockout: Duration::from_secs(pick!("FRONTDESK_LOGIN_LOCKOUT_S", login_lockout_s, 60)),
            trusted_proxies: trusted_proxies(env.var("FRONTDESK_TRUSTED_PROXIES"), file.trusted_proxies.clone())?,
            tls: match (
                env.var("FRONTDESK_TLS_CERT").map(PathBuf::from).or(file.tls_cert_file.clone()),
                env.var("FRONTDESK_TLS_KEY").map(PathBuf::from).or(file.tls_key_file.clone()),
            ) {
                (Some(cert_file), Some(key_file)) => Some(TlsFiles { cert_file, key_file }),
                (None, None) => None,
                _ => bail!(
                    "Give both the TLS certificate and its key (FRONTDESK_TLS_CERT and FRONTDESK_TLS_KEY, or \
                     tls_cert_file and tls_key_file), or neither for plain HTTP."
                ),
            },
            sweep_interval: Duration::from_millis(pick!("FRONTDESK_SWEEP_INTERVAL_MS", sweep_interval_ms, 60_000)),
            drain_spread: Duration::from_millis(pick!("FRONTDESK_DRAIN_SPREAD_MS", drain_spread_ms, 30_000)),
            socket_send_buffer: pick!("FRONTDESK_SOCKET_SEND_BUFFER", socket_send_buffer, 0),
            watch_interval: Duration::from_millis(
                pick!("FRONTDESK_WATCH_INTERVAL_MS", watch_interval_ms, 1000).max(10),
            ),
            issuer: "frontdesk".into(),
            audience: "frontdesk-desk".into(),
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.heartbeat < Duration::from_millis(50) {
            bail!("FRONTDESK_HEARTBEAT_MS must be at least 50");
        }
        if self.access_ttl.is_zero() || self.refresh_ttl.is_zero() {
            bail!("token lifetimes (FRONTDESK_ACCESS_TTL_S, FRONTDESK_REFRESH_TTL_S) must be at least 1 second");
        }
        if self.max_frame_bytes < 1024 {
            bail!("FRONTDESK_MAX_FRAME_BYTES must be at least 1024");
        }
        if self.session_queue == 0 || self.ws_rate_per_s == 0 || self.ws_rate_burst == 0 {
            bail!("FRONTDESK_SESSION_QUEUE, FRONTDESK_WS_RATE_PER_S and FRONTDESK_WS_RATE_BURST must be above 0");
        }
        if self.event_retention < 1 {
            bail!("FRONTDESK_EVENT_RETENTION must be at least 1");
        }
        Ok(())
    }

    /// The JWT secret: given, or in demo mode made once and kept in the data dir.
    /// Outside demo mode a missing secret stops the server with instructions.
    pub fn ensure_jwt_secret(&mut self) -> anyhow::Result<()> {
        if self.jwt_secret.is_empty()
            && let Some(path) = self.jwt_secret_file.clone()
        {
            self.jwt_secret = read_secret_file(&path)?;
        }
        if !self.jwt_secret.is_empty() {
            if self.jwt_secret.len() < 32 {
                bail!(
                    "The JWT secret is too short ({} bytes). Use at least 32 random bytes, e.g. \
                     FRONTDESK_JWT_SECRET=$(openssl rand -hex 32).",
                    self.jwt_secret.len()
                );
            }
            return Ok(());
        }
        if !self.demo {
            bail!(
                "No JWT signing secret is set, so the server cannot issue sign-in tokens. Set \
                 FRONTDESK_JWT_SECRET to a random string of at least 32 characters (for example \
                 the output of `openssl rand -hex 32`), or FRONTDESK_JWT_SECRET_FILE to a file \
                 holding one, or `jwt_secret_file` in the config file. Every server of one \
                 deployment needs the same secret."
            );
        }
        let path = self.data_dir.join("jwt-secret");
        if path.exists() {
            self.jwt_secret = read_secret_file(&path)?;
            if self.jwt_secret.len() < 32 {
                bail!(
                    "The demo signing secret {} is empty or too short ({} bytes), so it is not used. Delete the \
                     file and start again: the server makes a new one (everyone signs in again).",
                    path.display(),
                    self.jwt_secret.len()
                );
            }
        } else {
            use rand::RngCore;
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let secret = hex::encode(bytes);
            write_private_file(&path, secret.as_bytes())
                .with_context(|| format!("cannot write the demo JWT secret to {}", path.display()))?;
            self.jwt_secret = secret.into_bytes();
        }
        Ok(())
    }
}

/// Creates the data folder readable by the server's account only (it holds the database
/// and the demo signing secret). A folder that already exists is left as IT made it; one
/// open to other accounts is reported in the log.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(dir)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    dir = %dir.display(),
                    "the data folder is open to other accounts of this machine; `chmod 700` it (it holds password hashes)"
                );
            }
        }
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

fn read_secret_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the JWT secret file {}", path.display()))?;
    Ok(text.trim().as_bytes().to_vec())
}

fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(path)?.write_all(bytes)
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_from(std::iter::once("frontdesk-server").chain(args.iter().copied()))
    }

    /// Settings as the server loads them, but blind to this machine's /etc.
    fn load(cli: &Cli, env: &dyn Env) -> anyhow::Result<Settings> {
        Settings::load_with_default_file(cli, env, None)
    }

    #[test]
    fn defaults_follow_server_md() {
        let s = load(&cli(&[]), &MapEnv(HashMap::new())).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.access_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh_ttl, Duration::from_secs(2_592_000));
        assert_eq!(s.heartbeat, Duration::from_millis(15_000));
        assert_eq!(s.event_retention, 100_000);
        assert_eq!(s.max_frame_bytes, 65_536);
        assert!(s.database_url.starts_with("sqlite://"));
    }

    #[test]
    fn environment_overrides_and_bad_values_are_named() {
        let env = MapEnv(HashMap::from([("FRONTDESK_HEARTBEAT_MS", "200"), ("FRONTDESK_ACCESS_TTL_S", "2")]));
        let s = load(&cli(&["--listen", "127.0.0.1:0"]), &env).unwrap();
        assert_eq!(s.heartbeat, Duration::from_millis(200));
        assert_eq!(s.access_ttl, Duration::from_secs(2));

        let bad = MapEnv(HashMap::from([("FRONTDESK_HEARTBEAT_MS", "soon")]));
        let err = load(&cli(&[]), &bad).err().unwrap().to_string();
        assert!(err.contains("FRONTDESK_HEARTBEAT_MS"), "{err}");
    }

    #[test]
    fn missing_secret_outside_demo_says_how_to_fix_it() {
        let mut s = load(&cli(&[]), &MapEnv(HashMap::new())).unwrap();
        let err = s.ensure_jwt_secret().unwrap_err().to_string();
        assert!(err.contains("FRONTDESK_JWT_SECRET"), "{err}");
    }

    #[test]
    fn the_default_config_file_is_read_when_present_and_no_config_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let default = dir.path().join("server.toml");
        let empty = MapEnv(HashMap::new());

        // Absent: plain defaults, no error.
        let s = Settings::load_with_default_file(&cli(&[]), &empty, Some(&default)).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");

        std::fs::write(&default, "listen = \"127.0.0.1:9123\"\nheartbeat_ms = 700\n").unwrap();
        let s = Settings::load_with_default_file(&cli(&[]), &empty, Some(&default)).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9123");
        assert_eq!(s.heartbeat, Duration::from_millis(700));

        // --config names another file: the default one is not read at all.
        let other = dir.path().join("other.toml");
        std::fs::write(&other, "heartbeat_ms = 900\n").unwrap();
        let s = Settings::load_with_default_file(&cli(&["--config", other.to_str().unwrap()]), &empty, Some(&default))
            .unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.heartbeat, Duration::from_millis(900));

        // A broken default file is an error that names it, not silently ignored.
        std::fs::write(&default, "listen = 1\n").unwrap();
        let err = format!("{:#}", Settings::load_with_default_file(&cli(&[]), &empty, Some(&default)).unwrap_err());
        assert!(err.contains("server.toml"), "{err}");
    }

    #[test]
    fn database_passwords_are_not_logged() {
        assert_eq!(redact_url("postgres://fd:hunter2@db:5432/fd"), "postgres://…@db:5432/fd");
        assert_eq!(redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }
}
