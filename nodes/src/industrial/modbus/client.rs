//! The Modbus client connection shared by the `modbus-*` flow nodes through a
//! `modbus-client` config node: one actor task per client owns the connection (Modbus TCP,
//! RTU over TCP, or RTU on a serial port), queues requests per unit id, matches answers to
//! requests, times requests out, degrades units that stop answering, and reconnects with
//! backoff.
//!
//! Why not tokio-modbus's client: node-red-contrib-modbus runs one queue per unit in
//! parallel on one TCP connection (`parallelUnitIdsAllowed`), which needs several
//! outstanding transactions told apart by MBAP transaction id, and a late answer to a
//! timed-out request must be dropped by that id rather than handed to the next request.

mod actor;
mod link;
#[cfg(test)]
mod tests;

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::pdu::{Exception, PduError, Request, Response};

/// How the client reaches the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Modbus TCP (MBAP header, transaction ids).
    Tcp { host: String, port: u16 },
    /// RTU frames (unit id, PDU, CRC) over a TCP socket, as serial gateways speak
    /// (contrib `tcpType` "TCP-RTU-BUFFERED" or "TELNET").
    RtuOverTcp { host: String, port: u16 },
    /// RTU on a serial port.
    Serial {
        path: String,
        baud: u32,
        /// 5 to 8.
        data_bits: u8,
        parity: Parity,
        /// 1 or 2.
        stop_bits: u8,
    },
}

impl Transport {
    /// RTU has no transaction id, so one request at a time, whatever the options say.
    fn is_rtu(&self) -> bool {
        !matches!(self, Transport::Tcp { .. })
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Transport::RtuOverTcp { host, port } => write!(f, "rtu-over-tcp://{host}:{port}"),
            Transport::Serial { path, baud, .. } => write!(f, "{path}@{baud}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    None,
    Even,
    Odd,
}

/// What a client does; see `modbus_client.rs` for the config keys behind each field.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub transport: Transport,
    /// The unit a call naming none goes to (`unit_id`).
    pub default_unit: u8,
    /// How long an answer may take once the request is sent (`clientTimeout`); also bounds
    /// a connection attempt.
    pub timeout: Duration,
    /// The first pause before reconnecting (`reconnectTimeout`); it doubles after each
    /// failed attempt up to [`MAX_RECONNECT_DELAY`].
    pub reconnect_delay: Duration,
    /// The pause between two requests when they go one at a time (`commandDelay`).
    pub command_delay: Duration,
    /// The pause after opening a serial port before the first request
    /// (`serialConnectionDelay`): some adapters drop what is sent at once.
    pub open_delay: Duration,
    /// One outstanding request per unit at the same time (`parallelUnitIdsAllowed`; Modbus
    /// TCP only).
    pub parallel_units: bool,
    /// Requests waiting per unit; a call beyond it is refused at once.
    pub queue_limit: usize,
    /// Consecutive timeouts after which a unit is suspended (0: never).
    pub degrade_after: u32,
    /// How long a suspended unit's calls fail at once before one probe goes through.
    pub degrade_for: Duration,
}

impl ClientOptions {
    /// The contrib node's defaults, for `transport`.
    pub fn new(transport: Transport) -> Self {
        Self {
            transport,
            default_unit: 1,
            timeout: Duration::from_millis(1000),
            reconnect_delay: Duration::from_millis(2000),
            command_delay: Duration::from_millis(1),
            open_delay: Duration::from_millis(100),
            parallel_units: true,
            queue_limit: 64,
            degrade_after: 3,
            degrade_for: Duration::from_millis(10_000),
        }
    }
}

/// The longest pause between reconnect attempts.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// Why a call returned no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Exception(Exception),
    #[error("timeout: no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("queue of unit {unit} is full")]
    QueueFull { unit: u8 },
    #[error("unit {unit} is suspended after repeated timeouts")]
    Suspended { unit: u8 },
    #[error("not connected: {0}")]
    NotConnected(String),
    #[error("invalid request: {0}")]
    Invalid(PduError),
    #[error("bad response: {0}")]
    BadResponse(PduError),
    #[error("the client is closed")]
    Closed,
}

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Connected,
    /// Waiting before the next attempt.
    Disconnected,
    Closed,
}

/// What `state()` reports: the link and the last connection error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientState {
    pub link: Link,
    pub last_error: Option<String>,
}

impl ClientState {
    /// The contrib node's status words: "connecting" the first time, "reconnecting" after
    /// a failure, "connected", "disconnected", "closed".
    pub fn text(&self) -> &'static str {
        match (self.link, &self.last_error) {
            (Link::Connecting, None) => "connecting",
            (Link::Connecting, Some(_)) => "reconnecting",
            (Link::Connected, _) => "connected",
            (Link::Disconnected, _) => "disconnected",
            (Link::Closed, _) => "closed",
        }
    }
}

enum Command {
    Call {
        unit: u8,
        request: Request,
        reply: oneshot::Sender<Result<Response, CallError>>,
    },
    Close(oneshot::Sender<()>),
}

/// A handle on one client's actor; clones share it.
#[derive(Clone)]
pub struct ModbusClient {
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<ClientState>,
    default_unit: u8,
}

impl ModbusClient {
    /// Spawns the actor, which connects at once. Needs a tokio runtime.
    pub fn start(options: ClientOptions, node_id: String) -> Self {
        // Unbounded, yet bounded in practice: the actor takes every command at once and
        // refuses what its per-unit queues cannot hold.
        let (commands, receiver) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(ClientState {
            link: Link::Connecting,
            last_error: None,
        });
        let default_unit = options.default_unit;
        tokio::spawn(actor::Actor::new(options, node_id, receiver, state_tx).run());
        Self {
            commands,
            state,
            default_unit,
        }
    }

    pub fn default_unit(&self) -> u8 {
        self.default_unit
    }

    /// Sends `request` to `unit` (the default unit when `None`) and waits for its answer,
    /// at most the queue wait plus the client timeout.
    pub async fn call(&self, unit: Option<u8>, request: Request) -> Result<Response, CallError> {
        request.validate().map_err(CallError::Invalid)?;
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Call {
                unit: unit.unwrap_or(self.default_unit),
                request,
                reply,
            })
            .map_err(|_| CallError::Closed)?;
        answer.await.unwrap_or(Err(CallError::Closed))
    }

    /// The connection's state, for node statuses.
    pub fn state(&self) -> watch::Receiver<ClientState> {
        self.state.clone()
    }

    /// Fails what is waiting with [`CallError::Closed`] and ends the actor.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.commands.send(Command::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }
}
