//! The embedded MQTT broker behind `aedes broker`: MQTT 3.1, 3.1.1 and 5 over TCP, TLS and
//! WebSocket, on tokio.
//!
//! One task per connection reads packets, routes publishes and writes what its session has
//! queued (batched into one buffer, one write). Routing goes through one subscription table
//! behind a read-write lock held only while the targets of one message are picked; each
//! target session has its own small lock and bounded queue, so a slow subscriber drops its
//! QoS 0 messages instead of slowing publishers or growing memory. Payloads are shared
//! `Bytes`, never copied per subscriber.
//!
//! What is kept in memory only: persistent sessions (clean session false, or MQTT 5 session
//! expiry), their subscriptions and their queued QoS 1/2 messages, and retained messages.

mod broker;
mod conn;
mod listener;
mod retained;
mod router;
mod session;
mod ws;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;

use super::codec::{Publish, Version, Will};
use broker::Broker;

/// How the broker listens and the limits it keeps.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address every listener binds (default `0.0.0.0`).
    pub bind: IpAddr,
    /// MQTT over TCP (or TLS): `None` = no such listener, `Some(0)` = any free port.
    pub port: Option<u16>,
    /// MQTT over WebSocket (subprotocol `mqtt`): `None` = none, `Some(0)` = any free port.
    pub ws_port: Option<u16>,
    /// When set, a client must give this user name and password.
    pub credentials: Option<(String, String)>,
    /// When set, both listeners speak TLS (`mqtts`, `wss`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Largest packet accepted (and announced to MQTT 5 clients).
    pub max_packet_size: usize,
    /// Messages kept per session waiting to be sent; when full the oldest QoS 0/1 goes.
    pub max_queued: usize,
    /// Above this many waiting messages a client's QoS 0 messages are dropped.
    pub max_queued_qos0: usize,
    /// QoS 1/2 messages sent to one client and not yet acknowledged (MQTT 5 clients may
    /// ask for fewer with receive maximum).
    pub max_inflight: u16,
    /// A connection that sends no CONNECT within this time is closed.
    pub connect_timeout: Duration,
    /// Whether `ServerEvent::Publish` is emitted for every message (costs a copy of its
    /// topic and properties each).
    pub publish_events: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: Some(1883),
            ws_port: None,
            credentials: None,
            tls: None,
            max_packet_size: 16 * 1024 * 1024,
            max_queued: 10_000,
            max_queued_qos0: 10_000,
            max_inflight: 1_024,
            connect_timeout: Duration::from_secs(10),
            publish_events: false,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("bind", &self.bind)
            .field("port", &self.port)
            .field("ws_port", &self.ws_port)
            .field("credentials", &self.credentials.as_ref().map(|(u, _)| u))
            .field("tls", &self.tls.is_some())
            .field("max_packet_size", &self.max_packet_size)
            .field("max_queued", &self.max_queued)
            .field("max_queued_qos0", &self.max_queued_qos0)
            .field("max_inflight", &self.max_inflight)
            .field("connect_timeout", &self.connect_timeout)
            .field("publish_events", &self.publish_events)
            .finish()
    }
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("port {port} is already in use")]
    PortInUse { port: u16 },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("no listener: neither an MQTT port nor a websocket port is set")]
    NoListener,
}

/// A client as events describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientInfo {
    pub id: String,
    pub version: Version,
    /// Clean session (3.1.1) or clean start (5).
    pub clean: bool,
    pub keep_alive: u16,
    /// The user name the client gave.
    pub username: Option<String>,
    /// Whether the user name and password were checked against the broker's credentials.
    pub authenticated: bool,
    pub will: Option<Will>,
    pub address: Option<SocketAddr>,
}

/// What happens in the broker, in the order it happens per client (aedes' events).
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// A client was accepted (CONNECT checked, before CONNACK).
    Client(Arc<ClientInfo>),
    /// The client's CONNACK is on its way and its session is restored.
    ClientReady(Arc<ClientInfo>),
    /// An accepted client's connection ended, whatever the reason.
    ClientDisconnect(Arc<ClientInfo>),
    /// An accepted client's connection failed (socket or protocol error).
    ClientError {
        client: Arc<ClientInfo>,
        error: String,
    },
    /// A connection failed before it was accepted (bad CONNECT, refused credentials);
    /// `client` is known when the CONNECT could be read.
    ConnectionError {
        client: Option<Arc<ClientInfo>>,
        error: String,
    },
    /// A client sent nothing for 1.5 times its keep-alive.
    KeepaliveTimeout(Arc<ClientInfo>),
    /// A filter was granted (one event per filter; `filter` as the client wrote it).
    Subscribe {
        client: Arc<ClientInfo>,
        filter: String,
        qos: u8,
    },
    /// A filter was removed.
    Unsubscribe {
        client: Arc<ClientInfo>,
        filter: String,
    },
    /// A message was published, by a client or as a client's will (only with
    /// `ServerConfig::publish_events`).
    Publish {
        client: Option<Arc<ClientInfo>>,
        packet: Publish,
    },
}

/// A running broker. Dropping it stops it too, without waiting.
pub struct Server {
    broker: Arc<Broker>,
    local_addr: Option<SocketAddr>,
    ws_local_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts listening as `config` says; `events` receives what [`ServerEvent`] lists (sending
/// waits when the channel is full, which slows the client concerned).
pub async fn start(
    config: ServerConfig,
    events: Option<mpsc::Sender<ServerEvent>>,
) -> Result<Server, ServerError> {
    if config.port.is_none() && config.ws_port.is_none() {
        return Err(ServerError::NoListener);
    }
    // Both listeners are bound before anything runs: either the broker starts whole or not.
    let tcp = match config.port {
        Some(port) => Some(listener::bind(SocketAddr::new(config.bind, port))?),
        None => None,
    };
    let ws = match config.ws_port {
        Some(port) => Some(listener::bind(SocketAddr::new(config.bind, port))?),
        None => None,
    };
    let local_addr = tcp.as_ref().and_then(|l| l.local_addr().ok());
    let ws_local_addr = ws.as_ref().and_then(|l| l.local_addr().ok());
    let (shutdown, shutdown_rx) = watch::channel(false);
    let tls = config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let broker = Arc::new(Broker::new(config, events, shutdown_rx.clone()));
    let mut tasks = Vec::new();
    for (listener, transport) in [
        (tcp, listener::Transport::Mqtt),
        (ws, listener::Transport::WebSocket),
    ] {
        if let Some(listener) = listener {
            tasks.push(tokio::spawn(listener::accept_loop(
                Arc::clone(&broker),
                listener,
                transport,
                tls.clone(),
                shutdown_rx.clone(),
            )));
        }
    }
    Ok(Server {
        broker,
        local_addr,
        ws_local_addr,
        shutdown,
        tasks,
    })
}

impl Server {
    /// Where MQTT over TCP/TLS listens (the real port when `Some(0)` was asked).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Where MQTT over WebSocket listens.
    pub fn ws_local_addr(&self) -> Option<SocketAddr> {
        self.ws_local_addr
    }

    /// Clients connected now (CONNACK sent, connection open).
    pub fn connected_clients(&self) -> usize {
        self.broker.connected.load(Ordering::Relaxed)
    }

    /// Messages dropped so far because a session's queue was full (or QoS 0 for a client
    /// that is offline or not keeping up).
    pub fn dropped_messages(&self) -> u64 {
        self.broker.dropped.load(Ordering::Relaxed)
    }

    /// Stops listening, disconnects every client (MQTT 5 ones with "server shutting down")
    /// and returns once the ports are free: within about 2 s (connections still open then
    /// are cut off).
    pub async fn close(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod tests;
