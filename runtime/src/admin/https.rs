//! HTTPS for the editor: Node-RED's `https` setting (`{key, cert}` as PEM text, or Ferrite's
//! `{keyFile, certFile}` paths, since a JSON settings file cannot `readFileSync`), served with
//! rustls on ring through hyper, because `axum::serve` only takes plain TCP.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value as Json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

/// A handshake that takes longer is dropped, so idle sockets cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept (out of file descriptors) instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// An `https` setting that cannot be served; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("https must be an object with key and cert (PEM text) or keyFile and certFile (paths)")]
    Shape,
    #[error("https.{setting}: cannot read {path}: {error}")]
    File {
        setting: &'static str,
        path: String,
        error: std::io::Error,
    },
    #[error("https.{setting}: not usable PEM: {error}")]
    Pem {
        setting: &'static str,
        error: pem::Error,
    },
    #[error("https: the certificate and key are not usable together: {0}")]
    Tls(#[from] rustls::Error),
}

/// The TLS configuration of the `https` setting, `None` when it is not set.
pub(super) fn server_config(https: Option<&Json>) -> Result<Option<Arc<ServerConfig>>, HttpsError> {
    let Some(https) = https.filter(|h| !h.is_null()) else {
        return Ok(None);
    };
    if !https.is_object() {
        return Err(HttpsError::Shape);
    }
    let cert_pem = pem_setting(https, "cert", "certFile")?;
    let key_pem = pem_setting(https, "key", "keyFile")?;
    let (cert_pem, cert_setting) = cert_pem;
    let (key_pem, key_setting) = key_pem;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .and_then(|chain| {
            if chain.is_empty() {
                Err(pem::Error::NoItemsFound)
            } else {
                Ok(chain)
            }
        })
        .map_err(|error| HttpsError::Pem {
            setting: cert_setting,
            error,
        })?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| HttpsError::Pem {
        setting: key_setting,
        error,
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// PEM text from `text` (`cert`, `key`) or read from the file named by `file`.
fn pem_setting(
    https: &Json,
    text: &'static str,
    file: &'static str,
) -> Result<(Vec<u8>, &'static str), HttpsError> {
    if let Some(pem) = https.get(text).and_then(Json::as_str) {
        return Ok((pem.as_bytes().to_vec(), text));
    }
    let path = https
        .get(file)
        .and_then(Json::as_str)
        .ok_or(HttpsError::Shape)?;
    std::fs::read(path)
        .map(|pem| (pem, file))
        .map_err(|error| HttpsError::File {
            setting: file,
            path: path.to_owned(),
            error,
        })
}

/// Serves `app` over TLS until `shutdown`, then lets open requests finish.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let acceptor = TlsAcceptor::from(config);
    let (stop, stopping) = watch::channel(());
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = connection(acceptor.clone(), stream, app.clone(), stopping.clone());
                    connections.spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%peer, %error, "HTTPS connection ended with an error.");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "Cannot accept an editor connection.");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(stop);
    while connections.join_next().await.is_some() {}
}

/// One client: the TLS handshake, then HTTP/1.1 with upgrades (the `/comms` websocket).
async fn connection(
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    app: Router,
    mut stopping: watch::Receiver<()>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let tls = tokio::select! {
        tls = handshake => tls.map_err(|_| "TLS handshake timed out")??,
        _ = stopping.changed() => return Ok(()),
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        done = connection.as_mut() => return Ok(done?),
        _ = stopping.changed() => connection.as_mut().graceful_shutdown(),
    }
    Ok(connection.await?)
}
