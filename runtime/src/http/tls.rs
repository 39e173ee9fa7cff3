//! HTTPS for the HTTP side when it is bound off loopback: the certificate and key files, and a
//! listener that hands axum TLS streams.
//!
//! ```text
//!   GuardedListener::accept (count, deadline) ──► handshake task (JoinSet, at most HANDSHAKE)
//!                                                        │ ok: TlsStream ──► axum
//!                                                        └ failed / too slow: dropped, logged
//! ```
//!
//! Handshakes run side by side in the listener's own [`JoinSet`] (dropped with it), so a client
//! that opens a connection and says nothing delays nobody else's; each connection keeps the
//! guard's permit and deadline inside the TLS stream.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::guard::{ClientAddress, GuardedListener, GuardedStream};

/// How long a client has to finish the TLS handshake.
pub const HANDSHAKE: Duration = Duration::from_secs(10);

/// Why the certificate or key cannot be used; said to the person starting `serve`.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate {path}: {message}")]
    Certificate { path: String, message: String },
    #[error("the certificate file {path} holds no certificate (PEM `BEGIN CERTIFICATE`)")]
    NoCertificate { path: String },
    #[error("cannot read the private key {path}: {message}")]
    Key { path: String, message: String },
    #[error("the certificate and the key do not go together: {0}")]
    Mismatch(String),
}

/// The server's TLS settings from PEM files: the certificate chain (leaf first) and its key.
/// HTTP/1.1 only (what the console and desk phones speak).
pub fn server_config(certificate: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let path = certificate.display().to_string();
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate {
            path: path.clone(),
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        message: e.to_string(),
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Mismatch(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A guarded listener whose connections speak TLS.
pub struct TlsListener {
    inner: GuardedListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<GuardedStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(inner: GuardedListener, config: Arc<ServerConfig>) -> TlsListener {
        TlsListener {
            inner,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<GuardedStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            tokio::select! {
                (stream, peer) = self.inner.accept() => {
                    let acceptor = self.acceptor.clone();
                    self.handshakes.spawn(async move {
                        match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => Some((tls, peer)),
                            Ok(Err(error)) => {
                                tracing::debug!(%peer, %error, "TLS handshake failed");
                                None
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake too slow");
                                None
                            }
                        }
                    });
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for ClientAddress
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        ClientAddress(*stream.remote_addr())
    }
}
