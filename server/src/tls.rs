//! HTTPS and WSS without a reverse proxy: a gym's single server given a certificate and
//! its key serves TLS itself (rustls), and picks up a renewed certificate without a
//! restart, on SIGHUP or when either file changes, so a certbot-style renewal never
//! drops the desks' sessions. A renewal that cannot be read is logged and the previous
//! certificate kept: a typo in a renewal must not take every desk offline.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client gets this long to finish its handshake; a slow one never holds up others
/// (handshakes run side by side, outside the accept loop).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes done and waiting for the HTTP server to take them.
const READY_QUEUE: usize = 256;

/// The certificate files and the configuration made from them, replaced on reload.
pub struct Certificates {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
    stamp: std::sync::Mutex<Option<(SystemTime, SystemTime)>>,
}

impl Certificates {
    /// Reads both files; an error says which file and what to do.
    pub fn load(cert_file: &Path, key_file: &Path) -> anyhow::Result<Self> {
        let config = server_config(cert_file, key_file)?;
        Ok(Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            current: RwLock::new(config),
            stamp: std::sync::Mutex::new(stamps(cert_file, key_file)),
        })
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Reads the files again and, if they make a usable configuration, serves it to every
    /// new connection (open ones keep theirs). `Ok(false)`: nothing to do.
    pub fn reload(&self) -> anyhow::Result<()> {
        let config = server_config(&self.cert_file, &self.key_file)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
        *self.stamp.lock().unwrap_or_else(|p| p.into_inner()) = stamps(&self.cert_file, &self.key_file);
        Ok(())
    }

    /// Whether either file changed since the last load.
    fn changed(&self) -> bool {
        let now = stamps(&self.cert_file, &self.key_file);
        now.is_some() && now != *self.stamp.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reloads on SIGHUP and whenever the files change (looked at every `every`), for as
    /// long as the server runs.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        #[cfg(unix)]
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            #[cfg(unix)]
            let hangup = async {
                match hangups.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hangup = std::future::pending::<Option<()>>();
            let why = tokio::select! {
                _ = hangup => "SIGHUP",
                _ = tick.tick() => {
                    if !self.changed() {
                        continue;
                    }
                    "the certificate files changed"
                }
            };
            match self.reload() {
                Ok(()) => tracing::info!(cert = %self.cert_file.display(), "TLS certificate reloaded ({why})"),
                Err(e) => {
                    // Do not try the same broken files every tick: wait for the next change.
                    *self.stamp.lock().unwrap_or_else(|p| p.into_inner()) = stamps(&self.cert_file, &self.key_file);
                    tracing::error!("TLS certificate not reloaded ({why}); the previous one is still served: {e:#}");
                }
            }
        }
    }
}

fn stamps(cert: &Path, key: &Path) -> Option<(SystemTime, SystemTime)> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((modified(cert)?, modified(key)?))
}

fn server_config(cert_file: &Path, key_file: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read the TLS certificate {}: {e}. Give the PEM file with the server's certificate (and its \
                 chain) as tls_cert_file / FRONTDESK_TLS_CERT.",
                cert_file.display()
            )
        })?;
    if chain.is_empty() {
        anyhow::bail!("{} holds no PEM certificate (\"BEGIN CERTIFICATE\").", cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the TLS private key {}: {e}. Give the PEM file with the certificate's private key as \
             tls_key_file / FRONTDESK_TLS_KEY.",
            key_file.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            anyhow::anyhow!(
                "the TLS certificate {} and key {} do not go together: {e}",
                cert_file.display(),
                key_file.display()
            )
        })?;
    // WebSockets upgrade over HTTP/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts TCP connections and hands the HTTP server those whose TLS handshake
/// completed. Dropping it stops the accepting.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// `tune` runs on every accepted TCP stream before its handshake (no delay, buffer sizes).
    pub fn new(
        tcp: TcpListener,
        certificates: Arc<Certificates>,
        tune: impl Fn(&TcpStream) + Send + Sync + 'static,
    ) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                tune(&stream);
                let acceptor = certificates.acceptor();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { ready, local, acceptor_task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task is gone only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
