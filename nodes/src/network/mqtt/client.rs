//! One MQTT client connection per `mqtt-broker` config node, shared by every `mqtt in` and
//! `mqtt out` that names it.
//!
//! An actor task owns the session: it connects and reconnects (with backoff), writes every
//! packet (many per `write` call), tracks packet ids and in-flight QoS 1/2 messages, and runs
//! the store-and-forward [`Outbox`]. A reader task per connection decodes what the broker
//! sends and hands PUBLISHes straight to the subscribed nodes through their bounded feeds, so
//! a slow flow pushes back on the socket instead of piling up messages in memory.
//!
//! Nothing accepted is lost:
//! * an incoming QoS 1/2 message is acknowledged only when the flow has let go of it (its
//!   [`Receipt`] is released: every copy dropped, stored in an outbox, or written to the
//!   outgoing connection, whose unacknowledged messages go to the outbox if it fails);
//! * an outgoing QoS 1/2 message that carries no receipt is written to the outbox before it
//!   counts as accepted, and leaves the outbox when the broker acknowledges it;
//! * while the broker is unreachable every outgoing message goes to the outbox, replayed on
//!   reconnect in FIFO or LIFO order at the configured rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use ferrite_runtime::{Feed, NodeError, Receipt};
use sqlx::SqlitePool;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};

use super::codec::{Packet, Properties, Publish, QoS, Version, Will};
use super::message::Datatype;
use super::outbox::{Outbox, Policy};

mod actor;
mod connect;
mod reader;

use actor::Actor;

/// How long opening a connection (TCP, TLS, CONNECT/CONNACK) may take (MQTT.js's
/// `connectTimeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// First reconnect delay; doubles up to the `mqttReconnectTime` setting.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// How long closing may take before the connection is dropped (Node-RED waits 2 s).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// QoS 1/2 messages in flight when the broker sets no receive maximum. A loopback socket's
/// buffers alone hold a few thousand small messages the broker has not read yet.
const DEFAULT_INFLIGHT: usize = 4096;
/// Memory the messages waiting for an in-flight slot may take (by [`Outgoing::footprint`]);
/// more go to the outbox rather than block the flow (see `actor.rs`, `send`). A burst
/// broker outruns its own acknowledgements by tens of thousands of messages; on disk
/// they cost several times the CPU of memory, so this is sized to hold such a burst while
/// keeping a gateway's peak RSS well under 60 MB.
const WAITING_MAX_BYTES: usize = 24 * 1024 * 1024;
/// While the messages waiting for an in-flight slot take more than this, acknowledgements
/// of incoming QoS 1/2 messages are held back, then let go one per message that leaves
/// the queue, so the broker sends no faster than it takes what we publish. A broker's own
/// in-flight window does not bound a relay: Mosquitto 2.0.11 sends a whole new window (20)
/// after each PUBACK.
const ACK_HOLD_BYTES: usize = 16 * 1024 * 1024;
/// Rows read from the outbox at a time.
const REPLAY_BATCH: usize = 256;
/// Largest packet accepted from the broker (MQTT's own limit is 256 MB).
const MAX_INCOMING_PACKET: usize = 256 * 1024 * 1024;
/// How often a changing outbox count is shown in the node status.
const STATUS_REFRESH: Duration = Duration::from_millis(500);

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// MQTT over WebSocket: the URL path (`ws://` / `wss://`).
    pub websocket: Option<String>,
}

impl Endpoint {
    /// `mqtt://host:port`, `mqtts://...`, `ws://host:port/path` or `wss://...`, as
    /// Node-RED's log lines name a broker.
    pub fn url(&self) -> String {
        let scheme = match (self.tls, self.websocket.is_some()) {
            (false, false) => "mqtt",
            (true, false) => "mqtts",
            (false, true) => "ws",
            (true, true) => "wss",
        };
        let path = self.websocket.as_deref().unwrap_or_default();
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}{path}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}{path}", self.host, self.port)
        }
    }

    /// Node-RED adds `msg._topic` for a broker on this machine.
    pub fn is_local(&self) -> bool {
        self.host == "localhost" || self.host == "127.0.0.1"
    }
}

/// A boxed future (what a [`Dialer`] returns).
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// A byte stream to the broker.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Wraps the connected TCP stream for the broker (TLS).
pub type Dialer =
    Arc<dyn Fn(Box<dyn Io>, &Endpoint) -> BoxFuture<std::io::Result<Box<dyn Io>>> + Send + Sync>;

/// Everything a connection needs, read from the `mqtt-broker` config.
#[derive(Clone)]
pub struct Options {
    pub endpoint: Endpoint,
    /// Wraps the TCP stream (TLS); `None` for plain TCP.
    pub dialer: Option<Dialer>,
    pub version: Version,
    pub client_id: String,
    pub keep_alive: u16,
    pub clean_start: bool,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub will: Option<Will>,
    pub birth: Option<Publish>,
    pub close: Option<Publish>,
    /// v5 CONNECT properties (session expiry, user properties, limits).
    pub connect_props: Option<Box<Properties>>,
    pub auto_connect: bool,
    pub auto_unsubscribe: bool,
    /// Longest wait between reconnect attempts (`mqttReconnectTime`).
    pub reconnect_max: Duration,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("endpoint", &self.endpoint)
            .field("version", &self.version)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// `clientid@url`, as Node-RED's log lines name a connection.
    fn label(&self) -> String {
        format!("{}@{}", self.client_id, self.endpoint.url())
    }
}

/// What the nodes show as their status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    pub state: LinkState,
    /// Messages waiting in the outbox.
    pub queued: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkState {
    #[default]
    Disconnected,
    Connecting,
    Connected,
}

/// One node's subscription.
#[derive(Debug)]
pub struct Subscription {
    pub filter: String,
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: u8,
    pub datatype: Datatype,
    /// Where matching messages go (the subscribing node's bounded feed).
    pub feed: Feed,
}

/// Identifies a subscription for [`Client::unsubscribe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

/// What the reader hands a subscribing node besides messages: a payload its datatype
/// could not decode (Node-RED's `node.error(..., msg)`).
#[derive(Debug)]
pub struct DeliveryError(pub NodeError);

static NEXT_SUBSCRIPTION: AtomicU64 = AtomicU64::new(1);

/// The subscriptions the reader matches incoming messages against.
#[derive(Default)]
struct Dispatch {
    subscriptions: RwLock<Vec<(SubscriptionId, Arc<Subscription>)>>,
}

/// A handle on the connection; cheap to clone.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    link: watch::Receiver<Link>,
    v5: bool,
    local: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("v5", &self.v5)
            .finish_non_exhaustive()
    }
}

enum Command {
    Publish(Box<Outgoing>),
    Subscribe(SubscriptionId, Arc<Subscription>),
    Unsubscribe(SubscriptionId, bool),
    Register,
    Deregister {
        removed: bool,
    },
    Connect {
        options: Option<Box<Options>>,
        force: bool,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Disconnect(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
}

/// A message on its way to the broker, with what must happen once it is safe.
struct Outgoing {
    publish: Publish,
    /// The incoming message's acknowledgement, released once this one is safe.
    receipt: Option<Receipt>,
    /// Told once the message is durable (stored, or acknowledged by the broker).
    accepted: Option<oneshot::Sender<()>>,
    /// Its outbox row, while it has one.
    row: Option<i64>,
}

impl Outgoing {
    fn is_durable_request(&self) -> bool {
        self.publish.qos != QoS::AtMostOnce && self.receipt.is_none()
    }

    /// About what it takes in memory: the struct, its topic and payload, and allocator
    /// overhead (properties are rare and small).
    fn footprint(&self) -> usize {
        std::mem::size_of::<Self>() + self.publish.topic.len() + self.publish.payload.len() + 64
    }
}

/// When a published message is safe (see [`Client::publish`]).
#[derive(Debug)]
pub enum Accepted {
    /// The connection has it (written, or kept for the next connection).
    Taken,
    /// It will be once this resolves: stored in the outbox.
    Stored(oneshot::Receiver<()>),
}

impl Accepted {
    /// Waits until the message is safe.
    pub async fn wait(self) -> Result<(), Closed> {
        match self {
            Accepted::Taken => Ok(()),
            Accepted::Stored(stored) => stored.await.map_err(|_| Closed),
        }
    }
}

/// Why the connection was closed, for the client that asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the broker connection has closed")]
pub struct Closed;

impl Client {
    /// Starts the connection actor; it opens the outbox of broker node `broker_id` (in
    /// `ferrite.db` when there is one) and connects once a node registers (if
    /// `autoConnect`).
    pub fn start(
        options: Options,
        db: Option<SqlitePool>,
        broker_id: String,
        policy: Policy,
    ) -> Self {
        let (commands, command_rx) = mpsc::channel(1024);
        let (link_tx, link) = watch::channel(Link::default());
        let v5 = options.version == Version::V5;
        let local = options.endpoint.is_local();
        tokio::spawn(async move {
            let outbox = match Outbox::open(db.as_ref(), &broker_id, policy.clone()).await {
                Ok(outbox) => outbox,
                Err(e) => {
                    tracing::error!(node_id = %broker_id, node_type = "mqtt-broker", "Outbox not available, keeping messages in memory only: {e}");
                    match Outbox::open(None, &broker_id, policy).await {
                        Ok(outbox) => outbox,
                        Err(e) => {
                            tracing::error!(node_id = %broker_id, node_type = "mqtt-broker", "No outbox at all: {e}");
                            return;
                        }
                    }
                }
            };
            link_tx.send_modify(|link| link.queued = outbox.len());
            let actor = Actor::new(options, outbox, link_tx);
            actor.run(command_rx).await;
        });
        Self {
            commands,
            link,
            v5,
            local,
        }
    }

    /// Whether the connection speaks MQTT 5 (v5 properties are sent and read).
    pub fn is_v5(&self) -> bool {
        self.v5
    }

    /// Whether `msg._topic` is added (Node-RED does for a broker on localhost).
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// The connection state, for node statuses.
    pub fn link(&self) -> watch::Receiver<Link> {
        self.link.clone()
    }

    /// A node starts using the connection (the first one connects it, if `autoConnect`).
    pub async fn register(&self) {
        let _ = self.commands.send(Command::Register).await;
    }

    /// A node stops using it; when the last one was removed, the connection closes.
    pub async fn deregister(&self, removed: bool) {
        let _ = self.commands.send(Command::Deregister { removed }).await;
    }

    pub async fn subscribe(&self, subscription: Subscription) -> SubscriptionId {
        let id = SubscriptionId(NEXT_SUBSCRIPTION.fetch_add(1, Ordering::Relaxed));
        let _ = self
            .commands
            .send(Command::Subscribe(id, Arc::new(subscription)))
            .await;
        id
    }

    /// Ends a subscription; the broker is told when no other node subscribes to the same
    /// filter and `at_broker` (or the broker node's `autoUnsubscribe`) says so.
    pub async fn unsubscribe(&self, id: SubscriptionId, at_broker: bool) {
        let _ = self
            .commands
            .send(Command::Unsubscribe(id, at_broker))
            .await;
    }

    /// Publishes. A QoS 1/2 message without a receipt is safe once it is in the outbox:
    /// [`Accepted::Stored`] resolves when its commit lands, shared with every other message
    /// of the actor's turn, so a sender that does not wait for it keeps the commits batched.
    /// Anything else is safe once the connection has taken it.
    pub async fn publish(
        &self,
        publish: Publish,
        receipt: Option<Receipt>,
    ) -> Result<Accepted, Closed> {
        let mut outgoing = Outgoing {
            publish,
            receipt,
            accepted: None,
            row: None,
        };
        let accepted = if outgoing.is_durable_request() {
            let (tx, rx) = oneshot::channel();
            outgoing.accepted = Some(tx);
            Accepted::Stored(rx)
        } else {
            Accepted::Taken
        };
        self.commands
            .send(Command::Publish(Box::new(outgoing)))
            .await
            .map_err(|_| Closed)?;
        Ok(accepted)
    }

    /// The `connect` action: connects (with new options, if given); `force` reconnects a
    /// connection that is up.
    pub async fn connect(&self, options: Option<Options>, force: bool) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Connect {
                options: options.map(Box::new),
                force,
                reply,
            })
            .await
            .map_err(|_| Closed.to_string())?;
        rx.await.map_err(|_| Closed.to_string())?
    }

    /// The `disconnect` action: publishes the close message and disconnects; messages
    /// published meanwhile wait in the outbox.
    pub async fn disconnect(&self) {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::Disconnect(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Closes for good (the config node is stopped): close message, DISCONNECT, and what
    /// is still in flight stored in the outbox for the next run.
    pub async fn close(&self) {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::Close(reply)).await.is_ok() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT * 2, rx).await;
        }
    }
}

/// What the reader and released receipts tell the actor.
enum Control {
    Packet(u64, Packet),
    Release {
        generation: u64,
        pkid: u16,
        qos: QoS,
    },
    Lost(u64, String),
}

/// Acknowledges an incoming QoS 1/2 message when the flow lets go of it.
struct AckOnRelease {
    control: mpsc::UnboundedSender<Control>,
    generation: u64,
    pkid: u16,
    qos: QoS,
}

impl Drop for AckOnRelease {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Release {
            generation: self.generation,
            pkid: self.pkid,
            qos: self.qos,
        });
    }
}
