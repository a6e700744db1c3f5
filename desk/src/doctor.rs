//! `doctor`: what IT runs when a desk "can't connect" (docs/install.md). Every
//! check runs, in a fixed order, whatever failed before it, and says what it found and
//! what to do. The checks use the desk's own pieces — its configuration layers, its TLS
//! verifier, its HTTP client and WebSocket handshake, its keychain entry and outbox —
//! so doctor sees what the desk sees. Nothing secret is printed: no token, no password.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::config::{self, ConfigLayer};
use crate::secrets::{Secret, SecretStore};

const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);
/// A desk clock further off than this records queued visits at the wrong time.
const CLOCK_TOLERANCE_S: i64 = 120;
/// Below this the outbox and logs may not fit.
const MIN_FREE_BYTES: u64 = 100 * 1024 * 1024;
/// docs/protocol.md ("The outbox and offline work"): the desk warns when its member list
/// is older than a day.
const ROSTER_STALE_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// What doctor examines: the desk's settings as it would run with them.
#[derive(Debug, Clone)]
pub struct Target {
    pub server: String,
    pub location: Option<String>,
    pub desk_id: String,
    pub data_dir: PathBuf,
    /// The gym's private CA (PEM), trusted besides the operating system's store.
    pub ca_file: Option<PathBuf>,
}

/// One setting and where it came from, e.g. `server` from `FRONTDESK_SERVER`.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub key: &'static str,
    pub value: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    /// What to do, when the check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The desk can work live (every check that live work needs passed).
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// The checks without which a desk cannot work live; the others only inform.
const NEEDED_LIVE: &[&str] = &["config", "dns", "tcp", "tls", "http", "websocket", "clock", "keychain", "data_dir"];

impl Report {
    /// One line per check, the fix on the line after a failure.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!("[{}] {:<9} {}\n", if c.ok { " ok " } else { "FAIL" }, c.name, c.detail));
            if let Some(action) = &c.action {
                out.push_str(&format!("       {:<9} To fix: {action}\n", ""));
            }
        }
        out.push_str(if self.ok {
            "This desk can work live.\n"
        } else {
            "This desk cannot work live until the failed checks above are fixed. Scans are still kept safely on this desk.\n"
        });
        out
    }
}

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check { name, ok: true, detail: detail.into(), action: None }
}

fn fail(name: &'static str, detail: impl Into<String>, action: impl Into<String>) -> Check {
    Check { name, ok: false, detail: detail.into(), action: Some(action.into()) }
}

fn skipped(name: &'static str, because: &str) -> Check {
    fail(name, format!("not checked: {because}"), "Fix the check named above first.")
}

/// The app's settings (the layers of docs/app.md, "Configuration (for IT)"), each with its
/// source, or the reason they do not make a desk.
pub fn app_target() -> (Result<Target, String>, Vec<Setting>) {
    let (user_path, system_path) = config::config_paths();
    let mut layers: Vec<(String, ConfigLayer)> = Vec::new();
    let mut problems = Vec::new();
    layers.push(("environment".into(), ConfigLayer::from_env(|k| std::env::var(k).ok())));
    for path in user_path.iter().chain(std::iter::once(&system_path)) {
        match ConfigLayer::from_file(path) {
            Ok(layer) => layers.push((path.display().to_string(), layer)),
            Err(e) => problems.push(e.message),
        }
    }
    let env_name = |key: &str| match key {
        "server" => "FRONTDESK_SERVER",
        "desk_id" => "FRONTDESK_DESK_ID",
        "location" => "FRONTDESK_LOCATION",
        "ca_file" => "FRONTDESK_CA_FILE",
        _ => "FRONTDESK_DATA_DIR",
    };
    let mut settings = Vec::new();
    for key in ["server", "desk_id", "location", "data_dir", "ca_file"] {
        for (source, layer) in &layers {
            let value = match key {
                "server" => layer.server.clone(),
                "desk_id" => layer.desk_id.clone(),
                "location" => layer.location.clone(),
                "ca_file" => layer.ca_file.as_ref().map(|p| p.display().to_string()),
                _ => layer.data_dir.as_ref().map(|p| p.display().to_string()),
            };
            if let Some(value) = value {
                let source = if source == "environment" { env_name(key).to_owned() } else { source.clone() };
                settings.push(Setting { key, value, source });
                break;
            }
        }
    }
    if !problems.is_empty() {
        return (Err(problems.join(" ")), settings);
    }
    let merged = config::load();
    match merged {
        Ok(r) => {
            if !settings.iter().any(|s| s.key == "data_dir") {
                settings.push(Setting {
                    key: "data_dir",
                    value: r.data_dir.display().to_string(),
                    source: "default".into(),
                });
            }
            let target = Target {
                server: r.server,
                location: r.location,
                desk_id: r.desk_id,
                data_dir: r.data_dir,
                ca_file: r.ca_file,
            };
            (Ok(target), settings)
        }
        Err(e) => (Err(e.message), settings),
    }
}

/// Where the server is, from its address.
#[derive(Debug)]
struct Endpoint {
    host: String,
    port: u16,
    https: bool,
}

fn endpoint(server: &str) -> Result<Endpoint, String> {
    let server = server.trim().trim_end_matches('/');
    let (https, rest) = if let Some(r) = server.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = server.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("The server address {server:?} must start with http:// or https://."));
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) =
            v6.split_once(']').ok_or_else(|| format!("The address {server:?} has a broken [IPv6] part."))?;
        (h.to_owned(), tail.strip_prefix(':').map(str::to_owned))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.to_owned())),
            None => (authority.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("The port {p:?} in {server:?} is not a number."))?,
        None if https => 443,
        None => 80,
    };
    if host.is_empty() {
        return Err(format!("The server address {server:?} has no host name."));
    }
    Ok(Endpoint { host, port, https })
}

/// Runs every check, in the order of docs/install.md ("Diagnosing a desk"). `desk_entry`
/// is the desk's keychain entry (only asked whether it holds a sign-in); `probe_entry` is
/// a scratch entry doctor may write and delete to prove the keychain works.
pub async fn examine(
    target: Result<Target, String>,
    settings: Vec<Setting>,
    desk_entry: Option<Arc<dyn SecretStore>>,
    probe_entry: Option<Arc<dyn SecretStore>>,
) -> Report {
    let mut checks = Vec::new();
    let listed = settings.iter().map(|s| format!("{} = {} (from {})", s.key, s.value, s.source)).collect::<Vec<_>>();
    let target = match target.and_then(|t| endpoint(&t.server).map(|e| (t, e))) {
        Ok((t, e)) => {
            checks.push(pass("config", listed.join("; ")));
            Some((t, e))
        }
        Err(problem) => {
            let detail =
                if listed.is_empty() { problem.clone() } else { format!("{problem} Set: {}", listed.join("; ")) };
            checks.push(fail(
                "config",
                detail,
                "Set server (http(s)://host:port) and desk_id in the configuration file or the environment.",
            ));
            None
        }
    };

    let (addrs, reached) = match &target {
        Some((t, e)) => network_checks(e, t.ca_file.as_deref(), &mut checks).await,
        None => {
            for name in ["dns", "tcp", "tls"] {
                checks.push(skipped(name, "the configuration is incomplete"));
            }
            (Vec::new(), None)
        }
    };
    let _ = addrs;

    let server_time = match (&target, reached) {
        (Some((t, e)), Some(true)) => {
            let time = http_check(t, e, &mut checks).await;
            websocket_check(t, e, &mut checks).await;
            time
        }
        _ => {
            checks.push(skipped("http", "the server could not be reached"));
            checks.push(skipped("websocket", "the server could not be reached"));
            None
        }
    };
    checks.push(match server_time {
        Some(server) => clock_check(server, Utc::now()),
        None => skipped("clock", "the server's time is not known (no HTTP answer)"),
    });
    checks.push(keychain_check(desk_entry, probe_entry));
    match &target {
        Some((t, _)) => {
            checks.push(data_dir_check(&t.data_dir));
            let (outbox, roster) = outbox_checks(&t.data_dir, Utc::now());
            checks.push(outbox);
            checks.push(roster);
        }
        None => {
            for name in ["data_dir", "outbox", "roster"] {
                checks.push(skipped(name, "the configuration is incomplete"));
            }
        }
    }
    let ok = checks.iter().filter(|c| NEEDED_LIVE.contains(&c.name)).all(|c| c.ok);
    Report { ok, checks }
}

/// dns, tcp and tls. Returns the addresses and whether a TCP (and TLS) connection worked.
async fn network_checks(
    e: &Endpoint,
    ca_file: Option<&Path>,
    checks: &mut Vec<Check>,
) -> (Vec<SocketAddr>, Option<bool>) {
    let lookup = tokio::time::timeout(NETWORK_TIMEOUT, tokio::net::lookup_host((e.host.as_str(), e.port))).await;
    let addrs: Vec<SocketAddr> = match lookup {
        Ok(Ok(found)) => found.collect(),
        Ok(Err(err)) => {
            checks.push(fail(
                "dns",
                format!("The name {} does not resolve ({err}).", e.host),
                "Check the server address for typos; check this computer's network and DNS settings.",
            ));
            Vec::new()
        }
        Err(_) => {
            checks.push(fail(
                "dns",
                format!("Looking up {} took longer than {} s.", e.host, NETWORK_TIMEOUT.as_secs()),
                "Check this computer's network connection and DNS server.",
            ));
            Vec::new()
        }
    };
    if addrs.is_empty() {
        if !checks.iter().any(|c| c.name == "dns") {
            checks.push(fail("dns", format!("{} resolves to no address.", e.host), "Check the server's DNS entry."));
        }
        checks.push(skipped("tcp", "the server's name does not resolve"));
        checks.push(skipped("tls", "the server's name does not resolve"));
        return (addrs, None);
    }
    let shown = addrs.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ");
    let literal = e.host.parse::<std::net::IpAddr>().is_ok();
    checks.push(pass(
        "dns",
        if literal { format!("{} is an IP address.", e.host) } else { format!("{} is {shown}.", e.host) },
    ));

    let mut connected = None;
    let mut last_error = String::new();
    for addr in &addrs {
        let started = Instant::now();
        match tokio::time::timeout(NETWORK_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                connected = Some((*addr, stream, started.elapsed()));
                break;
            }
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                last_error = format!(
                    "Nothing accepts connections on port {} at {addr}: the server is not running there, or a firewall refuses the port.",
                    e.port
                );
            }
            Ok(Err(err)) => last_error = format!("Connecting to {addr} failed: {err}."),
            Err(_) => {
                last_error = format!(
                    "{addr} did not answer within {} s: a firewall drops the traffic, or the machine is off.",
                    NETWORK_TIMEOUT.as_secs()
                )
            }
        }
    }
    let Some((addr, stream, elapsed)) = connected else {
        checks.push(fail(
            "tcp",
            last_error,
            "Check that the Frontdesk server is running and that its port is open between this desk and the server.",
        ));
        checks.push(skipped("tls", "no connection to the server"));
        return (addrs, Some(false));
    };
    checks.push(pass("tcp", format!("Connected to {addr} in {} ms.", elapsed.as_millis())));

    if !e.https {
        drop(stream);
        checks.push(pass("tls", "Skipped: the server address is http://, so the connection is not encrypted."));
        return (addrs, Some(true));
    }
    let std_stream = match stream.into_std().and_then(|s| s.set_nonblocking(false).map(|_| s)) {
        Ok(s) => s,
        Err(err) => {
            checks.push(fail("tls", format!("Could not start the secure connection: {err}."), "Run doctor again."));
            return (addrs, Some(false));
        }
    };
    let _ = std_stream.set_read_timeout(Some(NETWORK_TIMEOUT));
    let extra_roots = match ca_file.map(crate::tls::load_ca_file).transpose() {
        Ok(roots) => roots.unwrap_or_default(),
        Err(problem) => {
            checks.push(fail(
                "tls",
                format!("The desk's CA file cannot be used: {problem}."),
                "Point ca_file at the gym's CA certificate in PEM form, or remove the setting.",
            ));
            return (addrs, Some(false));
        }
    };
    let host = e.host.clone();
    let outcome = tokio::task::spawn_blocking(move || crate::tls::handshake(std_stream, &host, extra_roots)).await;
    match outcome {
        Ok(Ok(handshake)) => {
            let detail = match handshake.certificate {
                Some(c) => format!(
                    "{} with a valid certificate for {} from {}, valid until {}.",
                    handshake.protocol.unwrap_or_else(|| "TLS".into()),
                    c.names.join(", "),
                    c.issuer,
                    c.not_after
                ),
                None => "The certificate is valid.".into(),
            };
            checks.push(pass("tls", detail));
            (addrs, Some(true))
        }
        Ok(Err((problem, _))) => {
            let (detail, action) = problem.describe(&e.host);
            checks.push(fail("tls", detail, action));
            (addrs, Some(false))
        }
        Err(err) => {
            checks.push(fail("tls", format!("The TLS check failed: {err}."), "Run doctor again."));
            (addrs, Some(false))
        }
    }
}

/// `GET /api/v1/healthz` with the desk's HTTP client: a Frontdesk server, and its time.
async fn http_check(t: &Target, e: &Endpoint, checks: &mut Vec<Check>) -> Option<DateTime<Utc>> {
    let api = match crate::api::Api::with_ca_file(&t.server, t.ca_file.as_deref()) {
        Ok(api) => api,
        Err(err) => {
            checks.push(fail("http", err.message, "Correct the server address."));
            return None;
        }
    };
    let started = Instant::now();
    match api.health().await {
        Ok(answer) => {
            let version =
                answer.health.version.map(|v| format!("version {v}")).unwrap_or_else(|| "an older version".into());
            checks.push(pass(
                "http",
                format!(
                    "A Frontdesk server ({version}) answers at {} in {} ms.",
                    api.base(),
                    started.elapsed().as_millis()
                ),
            ));
            answer.date
        }
        Err(crate::api::HealthFailure::NotFrontdesk { status, date }) => {
            checks.push(fail(
                "http",
                format!(
                    "Something answers at {}:{} (HTTP {status}), but it is not a Frontdesk server.",
                    e.host, e.port
                ),
                "Check the server address and port: they must point at the Frontdesk server, not another web site or proxy page.",
            ));
            date
        }
        Err(crate::api::HealthFailure::Network(reason)) => {
            checks.push(fail(
                "http",
                format!("The HTTP request failed: {reason}"),
                "Check the server address and that the server is running.",
            ));
            None
        }
    }
}

/// The WebSocket upgrade, as the desk opens it but without a sign-in: a Frontdesk
/// server refuses it with 401 `invalid_token` *after* reading the upgrade, which proves
/// that upgrades get through. A proxy that blocks upgrades answers something else.
async fn websocket_check(t: &Target, e: &Endpoint, checks: &mut Vec<Check>) {
    let api = match crate::api::Api::with_ca_file(&t.server, t.ca_file.as_deref()) {
        Ok(api) => api,
        Err(err) => {
            checks.push(fail("websocket", err.message, "Correct the server address."));
            return;
        }
    };
    let url = api.ws_url(t.location.as_deref().unwrap_or("doctor"), None);
    let mut request = match url.into_client_request() {
        Ok(r) => r,
        Err(err) => {
            checks.push(fail(
                "websocket",
                format!("The WebSocket address is not valid: {err}."),
                "Correct the server address.",
            ));
            return;
        }
    };
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(frontdesk_protocol::SUBPROTOCOL_V1));
    crate::tls::install_crypto_provider();
    let connector = tokio_tungstenite::Connector::Rustls(api.tls_config());
    let attempt = tokio::time::timeout(
        NETWORK_TIMEOUT,
        tokio_tungstenite::connect_async_tls_with_config(request, None, true, Some(connector)),
    )
    .await;
    let blocked = |what: String| {
        fail(
            "websocket",
            format!(
                "{what} Something between this desk and the server (a proxy or web filter) blocks WebSocket connections. \
                 The desk still works over HTTP (events arrive a little later)."
            ),
            format!(
                "Ask IT to allow WebSocket upgrades (Upgrade: websocket) to {}:{} through the proxy or filter.",
                e.host, e.port
            ),
        )
    };
    let check = match attempt {
        Err(_) => blocked(format!("The upgrade got no answer within {} s.", NETWORK_TIMEOUT.as_secs())),
        Ok(Ok((mut socket, _))) => {
            let _ = socket.close(None).await;
            pass("websocket", "WebSocket connections reach the server.")
        }
        Ok(Err(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            let code = serde_json::from_str::<frontdesk_protocol::api::ErrorBody>(&body).ok().map(|b| b.code);
            match (status, code.as_deref()) {
                (401, Some("invalid_token" | "token_expired")) => {
                    pass("websocket", "WebSocket upgrades reach the server (it asked for a sign-in, as it should).")
                }
                (426, _) => fail(
                    "websocket",
                    "The server does not speak this desk's protocol version.",
                    "Update this desk's Frontdesk app (or the server) so both speak the same version.",
                ),
                (503, _) => fail(
                    "websocket",
                    "The server is busy or restarting and refused the connection for now.",
                    "Run doctor again in a minute; if it stays, check the server's load and logs.",
                ),
                _ => {
                    let said = body.trim().chars().take(80).collect::<String>();
                    blocked(format!(
                        "The upgrade was answered HTTP {status}{}.",
                        if said.is_empty() { String::new() } else { format!(" ({said:?})") }
                    ))
                }
            }
        }
        Ok(Err(tungstenite::Error::Io(err))) => blocked(format!("The connection was cut during the upgrade ({err}).")),
        Ok(Err(other)) => blocked(format!("The upgrade failed ({other}).")),
    };
    checks.push(check);
}

fn clock_check(server: DateTime<Utc>, local: DateTime<Utc>) -> Check {
    let skew = (local - server).num_seconds();
    let detail = match skew {
        0 => "This computer's clock agrees with the server's.".to_owned(),
        s if s > 0 => format!("This computer's clock is {s} s ahead of the server's."),
        s => format!("This computer's clock is {} s behind the server's.", -s),
    };
    if skew.abs() <= CLOCK_TOLERANCE_S {
        pass("clock", detail)
    } else {
        fail(
            "clock",
            format!("{detail} Visits saved while offline would be recorded at the wrong time."),
            "Set this computer to get its time automatically (NTP / Windows time service).",
        )
    }
}

fn keychain_check(desk_entry: Option<Arc<dyn SecretStore>>, probe_entry: Option<Arc<dyn SecretStore>>) -> Check {
    let action = "Make the OS keychain available: on Windows, Credential Manager; on macOS, the login keychain; \
                  on Linux, a Secret Service (gnome-keyring or KWallet) running and unlocked in the desktop session.";
    let Some(probe) = probe_entry else {
        return fail("keychain", "No keychain is available to this program.", action);
    };
    let probe_value = Secret::new(format!("doctor-{}", uuid::Uuid::new_v4()));
    let round_trip = probe.store(&probe_value).and_then(|_| probe.load()).and_then(|read| {
        probe.delete()?;
        Ok(read.map(|r| r.expose() == probe_value.expose()).unwrap_or(false))
    });
    match round_trip {
        Ok(true) => {
            let signed_in = match desk_entry.map(|e| e.load()) {
                Some(Ok(Some(_))) => "a sign-in is kept for this desk",
                Some(Ok(None)) => "no sign-in is kept for this desk yet (staff sign in at the next start)",
                Some(Err(_)) | None => "whether this desk keeps a sign-in could not be read",
            };
            pass("keychain", format!("The OS keychain works; {signed_in}."))
        }
        Ok(false) => fail("keychain", "The OS keychain accepted a value but gave back another.", action),
        Err(e) => fail("keychain", format!("The OS keychain cannot be used: {}.", e.message), action),
    }
}

fn data_dir_check(dir: &Path) -> Check {
    let action = "Give this user write access to the data folder, or set data_dir (FRONTDESK_DATA_DIR) to a folder it may write.";
    if let Err(e) = std::fs::create_dir_all(dir) {
        return fail("data_dir", format!("The data folder {} cannot be created: {e}.", dir.display()), action);
    }
    let probe = dir.join(format!(".doctor-{}", uuid::Uuid::new_v4()));
    if let Err(e) = std::fs::write(&probe, b"doctor").and_then(|_| std::fs::remove_file(&probe)) {
        return fail("data_dir", format!("The data folder {} is not writable: {e}.", dir.display()), action);
    }
    match fs4::available_space(dir) {
        Ok(free) if free < MIN_FREE_BYTES => fail(
            "data_dir",
            format!("The data folder {} is writable but only {} MB are free.", dir.display(), free / (1024 * 1024)),
            "Free disk space on this computer (at least 100 MB).",
        ),
        Ok(free) => pass("data_dir", format!("{} is writable; {} MB free.", dir.display(), free / (1024 * 1024))),
        Err(_) => pass("data_dir", format!("{} is writable.", dir.display())),
    }
}

fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = now - since;
    if d.num_days() >= 1 {
        format!("{} days", d.num_days())
    } else if d.num_hours() >= 1 {
        format!("{} h", d.num_hours())
    } else {
        format!("{} min", d.num_minutes().max(0))
    }
}

/// The outbox and the member list, read without changing anything.
fn outbox_checks(dir: &Path, now: DateTime<Utc>) -> (Check, Check) {
    let path = dir.join("outbox.db");
    if !path.exists() {
        return (
            pass("outbox", "No outbox yet; the desk creates it at its first start."),
            pass("roster", "No member list yet; the desk downloads it when it connects."),
        );
    }
    let conn = match rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(c) => c,
        Err(e) => {
            let c = fail(
                "outbox",
                format!("The outbox {} cannot be opened: {e}.", path.display()),
                "Check the data folder's permissions; do not delete the file (it holds scans not yet sent).",
            );
            return (c, skipped("roster", "the outbox cannot be opened"));
        }
    };
    let waiting: rusqlite::Result<(i64, Option<i64>)> =
        conn.query_row("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        });
    let outbox = match waiting {
        Ok((0, _)) => pass("outbox", "No scans are waiting to be sent."),
        Ok((n, oldest)) => {
            let oldest = oldest.and_then(DateTime::from_timestamp_millis);
            let since = oldest.map(|o| format!(", the oldest from {} ago", age(o, now))).unwrap_or_default();
            let detail = format!("{n} scan(s) waiting to be sent{since}.");
            match oldest {
                Some(o) if now - o > chrono::Duration::hours(24) => fail(
                    "outbox",
                    detail,
                    "They are sent as soon as the desk is live; fix the failed checks above, then sign in at this desk.",
                ),
                _ => pass("outbox", format!("{detail} They are sent when the desk is live.")),
            }
        }
        Err(e) => fail("outbox", format!("The outbox cannot be read: {e}."), "Run doctor again; if it stays, tell IT."),
    };
    let members: i64 = conn.query_row("SELECT COUNT(*) FROM roster", [], |r| r.get(0)).unwrap_or(0);
    let synced: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'roster_synced_at'", [], |r| r.get(0)).ok();
    let synced = synced.and_then(|s| s.parse::<DateTime<Utc>>().ok());
    let roster = match synced {
        None => pass("roster", "No member list yet; the desk downloads it when it connects."),
        Some(at) if now - at > ROSTER_STALE_AFTER => fail(
            "roster",
            format!(
                "The member list ({members} members) is {} old; offline decisions may be out of date.",
                age(at, now)
            ),
            "It refreshes when the desk is live: fix the failed checks above and leave the desk running.",
        ),
        Some(at) => pass("roster", format!("The member list ({members} members) was refreshed {} ago.", age(at, now))),
    };
    (outbox, roster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_give_host_port_and_scheme() {
        let e = endpoint("https://gym.example/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.https), ("gym.example", 443, true));
        let e = endpoint("http://127.0.0.1:8080").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.https), ("127.0.0.1", 8080, false));
        let e = endpoint("http://[::1]:9000").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
        assert!(endpoint("gym.example:8080").unwrap_err().contains("http://"));
        assert!(endpoint("http://gym:port").unwrap_err().contains("not a number"));
    }

    #[test]
    fn the_clock_check_allows_two_minutes() {
        let server: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        assert!(clock_check(server, server + chrono::Duration::seconds(90)).ok);
        let off = clock_check(server, server - chrono::Duration::minutes(10));
        assert!(!off.ok && off.detail.contains("600 s behind"), "{}", off.detail);
    }

    #[tokio::test]
    async fn an_incomplete_configuration_still_runs_every_check_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let report = examine(Err("The desk has no `server` set.".into()), Vec::new(), None, None).await;
        let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["config", "dns", "tcp", "tls", "http", "websocket", "clock", "keychain", "data_dir", "outbox", "roster"]
        );
        assert!(!report.ok);
        assert!(report.checks.iter().filter(|c| !c.ok).all(|c| c.action.is_some()));
        drop(dir);
    }

    #[test]
    fn outbox_and_roster_are_read_without_changes() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = crate::outbox::Outbox::open(dir.path()).unwrap();
        drop(outbox);
        let (o, r) = outbox_checks(dir.path(), Utc::now());
        assert!(o.ok && o.detail.contains("No scans"), "{}", o.detail);
        assert!(r.ok, "{}", r.detail);
    }
}
