//! Certificates for the real server's own TLS, made in the test: from a private test CA
//! (trusted by the desk only through `ca_file`) or self-signed; they can be expired or
//! issued for another name, so the server's TLS and the desk's and doctor's handling of
//! each problem are tested against a real handshake with the real server.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

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
    /// A server certificate and its key, as DER.
    pub fn leaf(&self, kind: Leaf) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let (cert, key) = self.make_leaf(kind);
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key_der)
    }

    /// A server certificate and its key written as PEM files in `dir` (as IT installs
    /// them for the server's `tls_cert_file` and `tls_key_file`), replacing what is there.
    pub fn write_leaf(&self, kind: Leaf, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = self.make_leaf(kind);
        let (cert_file, key_file) = (dir.join("server-cert.pem"), dir.join("server-key.pem"));
        // Written beside and renamed, as a renewal tool does: the server never reads half a file.
        for (path, text) in [(&key_file, key.serialize_pem()), (&cert_file, cert.pem())] {
            let part = path.with_extension("new");
            std::fs::write(&part, text).expect("write pem");
            std::fs::rename(&part, path).expect("move pem into place");
        }
        (cert_file, key_file)
    }

    fn make_leaf(&self, kind: Leaf) -> (rcgen::Certificate, KeyPair) {
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
        (cert, key)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// The real server serving HTTPS and WSS itself, with a certificate made in the test.
pub struct TlsServer {
    pub server: crate::Server,
    /// Where its certificate and key are (replace them to test a renewal).
    pub cert_dir: tempfile::TempDir,
}

impl TlsServer {
    pub async fn start(ca: &TestCa, leaf: Leaf) -> Self {
        Self::start_with(ca, leaf, crate::ServerOptions::default()).await
    }

    pub async fn start_with(ca: &TestCa, leaf: Leaf, options: crate::ServerOptions) -> Self {
        let cert_dir = tempfile::tempdir().expect("cert dir");
        let (cert, key) = ca.write_leaf(leaf, cert_dir.path());
        let options = options.env("FRONTDESK_TLS_CERT", cert.display()).env("FRONTDESK_TLS_KEY", key.display());
        Self { server: crate::Server::start_with(options).await, cert_dir }
    }

    /// `https://localhost:PORT`: the name the good certificate is for.
    pub fn url(&self) -> String {
        let port = self.server.addr.rsplit(':').next().expect("port");
        format!("https://localhost:{port}")
    }
}
