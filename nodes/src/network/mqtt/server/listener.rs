//! Listening sockets: binding (with a clear error when the port is taken), accepting,
//! TLS handshakes, and handing each connection to its own task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::broker::{Broker, stopping};
use super::{ServerError, ServerEvent, conn, ws};

/// How long closing waits for connections to say goodbye before cutting them off.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a listener speaks on top of TCP (or TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Mqtt,
    WebSocket,
}

/// Binds `addr` with SO_REUSEADDR, so a broker closed a moment ago (its connections in
/// TIME_WAIT) does not block the next one on the same port.
pub(super) fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    let failed = |source| ServerError::Bind { addr, source };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(failed)?;
    socket.set_reuseaddr(true).map_err(failed)?;
    socket.bind(addr).map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => ServerError::PortInUse { port: addr.port() },
        _ => failed(source),
    })?;
    socket.listen(1024).map_err(failed)
}

/// Accepts until shutdown, then closes the listener and waits (at most [`CLOSE_GRACE`])
/// for the connections to end.
pub(super) async fn accept_loop(
    broker: Arc<Broker>,
    listener: TcpListener,
    transport: Transport,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopping(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Latency over packing: MQTT packets are small and answered at once.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(
                        Arc::clone(&broker),
                        stream,
                        peer,
                        transport,
                        tls.clone(),
                        shutdown.clone(),
                    ));
                }
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(%error, "MQTT broker could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
}

async fn connection(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    transport: Transport,
    tls: Option<TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
) {
    let Some(tls) = tls else {
        match transport {
            Transport::Mqtt => {
                let (reader, writer) = stream.into_split();
                conn::serve(broker, reader, writer, Some(peer), shutdown).await;
            }
            Transport::WebSocket => ws::serve(broker, stream, peer, shutdown).await,
        }
        return;
    };
    let Some(stream) = handshake(&broker, "TLS", tls.accept(stream)).await else {
        return;
    };
    match transport {
        Transport::Mqtt => {
            let (reader, writer) = tokio::io::split(stream);
            conn::serve(broker, reader, writer, Some(peer), shutdown).await;
        }
        Transport::WebSocket => ws::serve(broker, stream, peer, shutdown).await,
    }
}

/// Runs a connection's TLS or WebSocket handshake within the connect timeout; a failed one
/// is reported as a connection error (a timed-out one just ends).
pub(super) async fn handshake<T, E: std::fmt::Display>(
    broker: &Broker,
    what: &str,
    attempt: impl std::future::Future<Output = Result<T, E>>,
) -> Option<T> {
    match tokio::time::timeout(broker.limits.connect_timeout, attempt).await {
        Ok(Ok(done)) => Some(done),
        Ok(Err(e)) => {
            let error = format!("{what} handshake failed: {e}");
            broker
                .emit(ServerEvent::ConnectionError {
                    client: None,
                    error,
                })
                .await;
            None
        }
        Err(_) => None,
    }
}
