//! A TLS front for the real server on 127.0.0.1: it terminates TLS with a certificate
//! made in the test and passes the plain bytes to the server, the way a gym's reverse
//! proxy would. Certificates come from a private test CA (trusted by the desk only through
//! `ca_file`) or are self-signed; they can be expired or issued for another name, so the
//! desk's and doctor's handling of each is tested against a real handshake.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};

/// A private certificate authority, as a gym without a public certificate would run.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
}

/// What is wrong with the server's certificate, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// Signed by the test CA, for `localhost` and `127.0.0.1`, valid now.
    Good,
    /// Signed by the test CA, but its end date has passed.
    Expired,
    /// Signed by the test CA, valid, but for `other.example` only.
    WrongName,
    /// Signed by itself: no CA vouches for it.
    SelfSigned,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.distinguished_name.push(DnType::CommonName, "Frontdesk Test Gym CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        let pem = cert.pem();
        Self { issuer: Issuer::new(params, key), pem }
    }

    /// Writes the CA certificate where a desk's `ca_file` can point.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("gym-ca.pem");
        std::fs::write(&path, &self.pem).expect("write ca");
        path
    }

    /// A server certificate and its key, as the front serves them.
    pub fn leaf(&self, kind: Leaf) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let names = match kind {
            Leaf::WrongName => vec!["other.example".to_owned()],
            _ => vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        };
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, "frontdesk test server");
        let (from, until) = if kind == Leaf::Expired { (-60, -2) } else { (-2, 30) };
        let day = |offset: i64| {
            use chrono::Datelike;
            let d = chrono::Utc::now().date_naive() + chrono::Duration::days(offset);
            rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
        };
        params.not_before = day(from);
        params.not_after = day(until);
        let key = KeyPair::generate().expect("leaf key");
        let cert = match kind {
            Leaf::SelfSigned => params.self_signed(&key).expect("self-signed leaf"),
            _ => params.signed_by(&key, &self.issuer).expect("leaf"),
        };
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key_der)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// TLS on a loopback port in front of `target` (the server's plain address).
pub struct TlsFront {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsFront {
    pub async fn start(target: SocketAddr, chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tls front");
        let addr = listener.local_addr().expect("tls front addr");
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses our certificate ends the handshake: fine.
                    let Ok(mut tls) = acceptor.accept(client).await else { return };
                    let Ok(mut server) = TcpStream::connect(target).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
        Self { addr, task }
    }

    /// `https://localhost:PORT`: the name the good certificate is for.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}
