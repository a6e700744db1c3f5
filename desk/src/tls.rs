//! TLS for `https://` and `wss://` servers: rustls with the ring provider (builds for
//! Windows, macOS and Linux without extra tools), certificates checked by the operating
//! system's verifier (the same `rustls-platform-verifier` reqwest uses), and the words
//! for each way a certificate can be wrong, for staff and for `doctor`.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

pub fn install_crypto_provider() {
    // Installing twice is harmless; the first one wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What is wrong with a server's certificate, in terms IT can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Not signed by a certificate authority this computer trusts (self-signed, or a
    /// private CA not installed here).
    UnknownAuthority,
    /// Past its end date.
    Expired {
        not_after: Option<String>,
    },
    /// Not valid yet (or this computer's clock is behind).
    NotYetValid {
        not_before: Option<String>,
    },
    /// Issued for other names than the one the desk connects to.
    WrongName {
        expected: String,
        presented: Vec<String>,
    },
    Revoked,
    Other(String),
}

impl CertificateProblem {
    /// What happened and what to do, in one or two sentences.
    pub fn describe(&self, host: &str) -> (String, String) {
        match self {
            Self::UnknownAuthority => (
                format!("The certificate of {host} is not signed by a certificate authority this computer trusts (self-signed, or from the gym's own CA)."),
                "Install the gym's CA certificate on this computer (or set ca_file in the desk configuration), or give the server a certificate from a public CA.".into(),
            ),
            Self::Expired { not_after } => (
                format!(
                    "The certificate of {host} has expired{}.",
                    not_after.as_deref().map(|d| format!(" (valid until {d})")).unwrap_or_default()
                ),
                "Renew the server's certificate; if it is valid, check this computer's date and time.".into(),
            ),
            Self::NotYetValid { not_before } => (
                format!(
                    "The certificate of {host} is not valid yet{}.",
                    not_before.as_deref().map(|d| format!(" (valid from {d})")).unwrap_or_default()
                ),
                "Check this computer's date and time; if it is right, the server's certificate was issued wrong.".into(),
            ),
            Self::WrongName { expected, presented } => (
                format!(
                    "The certificate of {host} was issued for {} , not for {expected}.",
                    if presented.is_empty() { "other names".to_owned() } else { presented.join(", ") }
                )
                .replace(" ,", ","),
                "Use the server address the certificate names, or give the server a certificate for this name.".into(),
            ),
            Self::Revoked => (
                format!("The certificate of {host} has been revoked."),
                "Give the server a new certificate.".into(),
            ),
            Self::Other(detail) => (
                format!("The secure connection to {host} failed: {detail}."),
                "Check the server's certificate and this computer's date and time.".into(),
            ),
        }
    }
}

/// Sorts a rustls error into a [`CertificateProblem`], with the dates and names of the
/// certificate the server sent, when known.
pub fn classify(err: &rustls::Error, expected_host: &str, cert: Option<&CertificateSummary>) -> CertificateProblem {
    let rustls::Error::InvalidCertificate(e) = err else { return CertificateProblem::Other(err.to_string()) };
    match e {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => CertificateProblem::UnknownAuthority,
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            CertificateProblem::Expired { not_after: cert.map(|c| c.not_after.clone()) }
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            CertificateProblem::NotYetValid { not_before: cert.map(|c| c.not_before.clone()) }
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            CertificateProblem::WrongName {
                expected: expected_host.to_owned(),
                presented: cert.map(|c| c.names.clone()).unwrap_or_default(),
            }
        }
        CertificateError::Revoked => CertificateProblem::Revoked,
        // The platform verifier reports some failures as `Other`; its text says which.
        other => {
            let text = format!("{other:?}").to_ascii_lowercase();
            if text.contains("unknownissuer") || text.contains("unknown issuer") || text.contains("self signed") {
                CertificateProblem::UnknownAuthority
            } else if text.contains("expired") {
                CertificateProblem::Expired { not_after: cert.map(|c| c.not_after.clone()) }
            } else {
                CertificateProblem::Other(format!("{other:?}"))
            }
        }
    }
}

/// The parts of a certificate IT looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses it is valid for.
    pub names: Vec<String>,
    pub not_before: String,
    pub not_after: String,
}

pub fn summarise(der: &[u8]) -> Option<CertificateSummary> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(d) => names.push((*d).to_owned()),
                x509_parser::extensions::GeneralName::IPAddress(ip) => match ip.len() {
                    4 => names.push(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                    16 => {
                        let bytes: [u8; 16] = (*ip).try_into().ok()?;
                        names.push(std::net::Ipv6Addr::from(bytes).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let day = |t: x509_parser::time::ASN1Time| {
        chrono::DateTime::from_timestamp(t.timestamp(), 0)
            .map(|d| d.format("%-d %b %Y %H:%M UTC").to_string())
            .unwrap_or_else(|| t.to_string())
    };
    Some(CertificateSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before: day(cert.validity().not_before),
        not_after: day(cert.validity().not_after),
    })
}

/// Extra trust anchors from a PEM file (the gym's private CA), read strictly: a file
/// that holds no certificate is an error, not an empty list.
pub fn load_ca_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the CA file {} is not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("the CA file {} holds no certificate (-----BEGIN CERTIFICATE-----)", path.display()));
    }
    Ok(certs)
}

/// The verifier every connection of the desk uses: the operating system's trust store,
/// plus the private CAs given.
pub fn verifier(extra_roots: Vec<CertificateDer<'static>>) -> Result<Arc<dyn ServerCertVerifier>, String> {
    install_crypto_provider();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = if extra_roots.is_empty() {
        rustls_platform_verifier::Verifier::new(provider)
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider)
    }
    .map_err(|e| format!("cannot load this computer's trusted certificates: {e}"))?;
    Ok(Arc::new(verifier))
}

/// The TLS settings of every connection the desk opens (HTTP and WebSocket): the
/// operating system's verifier plus the gym's private CA from `ca_file`, if set.
pub fn client_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let extra = match ca_file {
        Some(path) => load_ca_file(path)?,
        None => Vec::new(),
    };
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(verifier(extra)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A verifier that keeps the certificate the server presented, so a refusal can say
/// what was wrong with it.
#[derive(Debug)]
pub struct Recording {
    inner: Arc<dyn ServerCertVerifier>,
    pub presented: Mutex<Option<CertificateDer<'static>>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn ServerCertVerifier>) -> Self {
        Self { inner, presented: Mutex::new(None) }
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.presented.lock().expect("recording lock") = Some(end_entity.clone().into_owned());
        self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The outcome of a TLS handshake with the server.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub certificate: Option<CertificateSummary>,
    pub protocol: Option<String>,
}

/// Opens a TLS connection to `host:port` over `stream` and verifies the certificate as
/// the desk does. Blocking: run it on a blocking thread.
pub fn handshake(
    stream: std::net::TcpStream,
    host: &str,
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<Handshake, (CertificateProblem, Option<CertificateSummary>)> {
    use std::io::Write;
    let verifier = verifier(extra_roots).map_err(|e| (CertificateProblem::Other(e), None))?;
    let recording = Arc::new(Recording::new(verifier));
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(recording.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| (CertificateProblem::Other(format!("{host:?} is not a valid server name")), None))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| (CertificateProblem::Other(e.to_string()), None))?;
    let mut stream = stream;
    let presented = || recording.presented.lock().expect("recording lock").as_ref().and_then(|c| summarise(c));
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut stream) {
            let summary = presented();
            let problem = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(tls) => classify(tls, host, summary.as_ref()),
                None => CertificateProblem::Other(e.to_string()),
            };
            return Err((problem, summary));
        }
    }
    let _ = stream.flush();
    Ok(Handshake {
        certificate: presented(),
        protocol: conn.protocol_version().map(|v| format!("{v:?}").replace('_', ".")),
    })
}
