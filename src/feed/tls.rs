//! TLS for `wss://`: rustls with the ring provider, the web PKI roots, and optionally one more
//! trust anchor file (`--ca-cert`, for a private authority such as the simulator's). Hostname
//! verification is always on: there is deliberately no way to turn it off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "cannot read the CA certificate file {path}: {reason}. Give a PEM file with at least one `BEGIN CERTIFICATE` block"
    )]
    CaFile { path: PathBuf, reason: String },
    #[error(
        "the CA certificate file {path} holds no certificate. Give a PEM file with at least one `BEGIN CERTIFICATE` block"
    )]
    CaEmpty { path: PathBuf },
    #[error("the CA certificate in {path} is not usable as a trust anchor: {reason}")]
    CaRejected { path: PathBuf, reason: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// The client TLS configuration: web PKI roots plus the anchors in `extra_ca` (PEM), if given.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        for cert in read_certificates(path)? {
            roots.add(cert).map_err(|e| TlsError::CaRejected {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A rustls error in words for the user, with the causes people meet with private certificates
/// spelled out.
pub fn describe_tls_error(err: &rustls::Error) -> String {
    if is_ca_used_as_end_entity(err) {
        return format!(
            "the server's certificate is a CA certificate used as the server's own ({err}); \
             make one with CA:FALSE (openssl: -addext basicConstraints=critical,CA:FALSE), \
             or give the CA that signed it to --ca-cert"
        );
    }
    format!("{err} (is the certificate trusted for this host name? see --ca-cert)")
}

/// The server presented a certificate with `CA:TRUE` as its own (what `openssl req -x509` makes
/// by default). rustls passes the verifier's error on only as an opaque "other" error, so it is
/// recognised by its name.
fn is_ca_used_as_end_entity(err: &rustls::Error) -> bool {
    matches!(
        err,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))
            if format!("{other:?}").contains("CaUsedAsEndEntity")
    )
}

/// The largest CA file read: a system's whole bundle of authorities is about 200 KiB.
pub const MAX_CA_FILE_BYTES: u64 = 16 << 20;

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = crate::bounded::read_file_at_most(path, MAX_CA_FILE_BYTES)
        .map_err(|e| TlsError::CaFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?
        .ok_or_else(|| TlsError::CaFile {
            path: path.to_owned(),
            reason: "it is larger than 16 MiB, which no certificate file is".into(),
        })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CaFile {
            path: path.to_owned(),
            reason: format!("not valid PEM ({e})"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::CaEmpty {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_roots_alone() {
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn extra_anchor_from_pem() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, cert.pem()).unwrap();
        assert!(client_config(Some(&path)).is_ok());
    }

    #[test]
    fn bad_anchor_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client_config(Some(&missing)).unwrap_err().to_string();
        assert!(err.contains("cannot read the CA certificate file"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "hello\n").unwrap();
        let err = client_config(Some(&empty)).unwrap_err().to_string();
        assert!(err.contains("holds no certificate"), "{err}");
    }
}
