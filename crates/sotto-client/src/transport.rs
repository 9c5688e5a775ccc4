//! Connections to the relay: TCP, with TLS (rustls, ring) for `https://` URLs.
//!
//! A relay is trusted by the system's root certificates, or — for a self-hosted relay with its
//! own certificate authority — by a CA certificate pinned in the profile at registration.

use std::sync::{Arc, OnceLock};

use hyper::Uri;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::error::RelayError;

/// A byte stream to the relay, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A boxed stream to the relay.
pub(crate) type Stream = Box<dyn Io>;

/// Where the relay is and how to reach it.
#[derive(Clone)]
pub(crate) struct Endpoint {
    host: String,
    port: u16,
    tls: Option<TlsConnector>,
}

fn config_error(reason: impl std::fmt::Display) -> RelayError {
    RelayError::Config(reason.to_string())
}

impl Endpoint {
    /// Parses `http://host:port` or `https://host:port`; `ca_pem` replaces the system roots.
    pub(crate) fn new(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, RelayError> {
        let uri: Uri = url.parse().map_err(config_error)?;
        let host = uri
            .host()
            .ok_or_else(|| config_error("the relay URL has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let (tls, default_port) = match uri.scheme_str() {
            Some("http") => (None, 80),
            Some("https") => (Some(connector(ca_pem)?), 443),
            _ => {
                return Err(config_error(
                    "the relay URL must start with http:// or https://",
                ));
            }
        };
        Ok(Self {
            port: uri.port_u16().unwrap_or(default_port),
            host,
            tls,
        })
    }

    /// `host:port`, for the `Host` header.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether the connection uses TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Opens a connection (with the TLS handshake for `https`).
    pub(crate) async fn connect(&self) -> Result<Stream, RelayError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| RelayError::Network(e.to_string()))?;
        tcp.set_nodelay(true)
            .map_err(|e| RelayError::Network(e.to_string()))?;
        let Some(tls) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let name = ServerName::try_from(self.host.clone()).map_err(config_error)?;
        let stream = tls
            .connect(name, tcp)
            .await
            .map_err(|e| RelayError::Tls(e.to_string()))?;
        Ok(Box::new(stream))
    }
}

fn connector(ca_pem: Option<&[u8]>) -> Result<TlsConnector, RelayError> {
    let roots = match ca_pem {
        Some(pem) => pinned_roots(pem)?,
        None => system_roots().clone(),
    };
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The CA certificates in `pem` (at least one).
fn pinned_roots(pem: &[u8]) -> Result<RootCertStore, RelayError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots
            .add(cert.map_err(config_error)?)
            .map_err(config_error)?;
    }
    if roots.is_empty() {
        return Err(config_error("no certificate in the relay's CA file"));
    }
    Ok(roots)
}

/// The system's root certificates, loaded once (unreadable ones are skipped).
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "a system root certificate could not be loaded");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "system root certificates");
        roots
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_checked() {
        let plain = Endpoint::new("http://127.0.0.1:7443/", None).ok();
        assert!(plain.as_ref().is_some_and(|e| !e.is_tls()));
        assert_eq!(
            plain.map(|e| e.authority()).as_deref(),
            Some("127.0.0.1:7443")
        );
        let v6 = Endpoint::new("http://[::1]", None)
            .ok()
            .map(|e| e.authority());
        assert_eq!(v6.as_deref(), Some("[::1]:80"));
        assert!(Endpoint::new("ftp://relay", None).is_err());
        assert!(Endpoint::new("https://relay", Some(b"not pem")).is_err());
    }
}
