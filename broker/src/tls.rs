//! TLS for the broker: the listener's certificate and key, and a development CA for fleets without their own PKI (`edgecoder-coordinator certs`).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A TLS listener beside the plain one: where, and the PEM files it serves.
#[derive(Debug, Clone)]
pub struct TlsListener {
    /// Where TLS clients connect (port 0: any free port).
    pub listen: SocketAddr,
    /// The server's certificate chain, PEM (the leaf first).
    pub certificate: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing, unreadable or holds nothing usable.
    #[error("cannot use {path}: {reason} — give a PEM file (make a development one with `edgecoder-coordinator certs`)")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the certificate and key (e.g. the key does not match the certificate).
    #[error("the TLS certificate and key cannot be used together: {0}")]
    Config(#[from] rustls::Error),
    /// A certificate could not be made.
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file of the development CA could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing the development CA would replace files that exist.
    #[error("{0} exists: the development CA is not overwritten; choose another folder or delete it")]
    Exists(PathBuf),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |reason: String| TlsError::Pem { path: path.to_owned(), reason };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(e.to_string()))?;
    if chain.is_empty() {
        return Err(pem("it holds no CERTIFICATE block".into()));
    }
    Ok(chain)
}

/// The server side of the broker's TLS listener.
pub(crate) fn server_config(listener: &TlsListener) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certificates(&listener.certificate)?;
    let key = PrivateKeyDer::from_pem_file(&listener.key).map_err(|e| TlsError::Pem {
        path: listener.key.clone(),
        reason: e.to_string(),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// A development CA and one server certificate it signed, all PEM.
#[derive(Debug, Clone)]
pub struct DevCa {
    /// The CA certificate: what agents trust.
    pub ca_certificate: String,
    /// The CA's private key: keep it to sign more server certificates, or delete it.
    pub ca_key: String,
    /// The server certificate followed by the CA certificate.
    pub server_chain: String,
    /// The server's private key.
    pub server_key: String,
}

impl DevCa {
    /// Makes a CA and a server certificate valid for `hosts` (DNS names or IP addresses).
    pub fn generate(hosts: &[String]) -> Result<DevCa, TlsError> {
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        ca.distinguished_name.push(rcgen::DnType::CommonName, "EdgeCoder development CA");
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key)?;
        let server_key = rcgen::KeyPair::generate()?;
        let mut server = rcgen::CertificateParams::new(hosts.to_vec())?;
        server.distinguished_name.push(rcgen::DnType::CommonName, "EdgeCoder coordinator");
        server.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let server = server.signed_by(&server_key, &issuer)?;
        Ok(DevCa {
            ca_certificate: issuer.pem(),
            ca_key: ca_key_pem,
            server_chain: format!("{}{}", server.pem(), issuer.pem()),
            server_key: server_key.serialize_pem(),
        })
    }

    /// Writes `ca.pem`, `ca.key`, `server.pem` and `server.key` into `dir` (keys readable by
    /// the owner only), refusing to replace any of them; returns their paths in that order.
    pub fn write(&self, dir: &Path) -> Result<[PathBuf; 4], TlsError> {
        let files = [
            (dir.join("ca.pem"), &self.ca_certificate, false),
            (dir.join("ca.key"), &self.ca_key, true),
            (dir.join("server.pem"), &self.server_chain, false),
            (dir.join("server.key"), &self.server_key, true),
        ];
        if let Some((path, _, _)) = files.iter().find(|(path, _, _)| path.exists()) {
            return Err(TlsError::Exists(path.clone()));
        }
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Write { path: dir.to_owned(), source })?;
        for (path, text, secret) in &files {
            write_new(path, text, *secret).map_err(|source| TlsError::Write { path: path.clone(), source })?;
        }
        Ok(files.map(|(path, _, _)| path))
    }
}

fn write_new(path: &Path, text: &str, secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
