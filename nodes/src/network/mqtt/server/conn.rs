//! One client connection, in one task: CONNECT and its checks, then a loop that reads and
//! handles packets, writes what the session has queued (encoded into one buffer, written
//! with as few writes as the socket allows), and watches keep-alive, takeover and shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};

use super::broker::{Broker, Message, lock, stopping};
use super::router::{Delivery, SubOptions};
use super::session::{Inflight, Outgoing, Session};
use super::{ClientInfo, ServerEvent};
use crate::network::mqtt::codec::{
    Ack, CodecError, ConnAck, Connect, Disconnect, Packet, Properties, Publish, QoS, SubAck,
    Subscribe, UnsubAck, Unsubscribe, Version, decode, encode,
};
use crate::network::mqtt::topic;

/// Read buffer growth step: whole packets are decoded out of it in a loop.
const READ_CHUNK: usize = 64 * 1024;
/// Queued messages are encoded until the write buffer holds this much.
const HIGH_WATER: usize = 64 * 1024;
/// A client that does not read its acknowledgements is not read from either beyond this
/// much unsent output: its memory stays bounded.
const MAX_UNSENT: usize = 1024 * 1024;
/// How long a closing connection may take to get its last packets (DISCONNECT) out.
const FAREWELL: Duration = Duration::from_millis(500);

/// MQTT 5 reason codes the broker sends.
mod reason {
    pub const MALFORMED: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const BAD_CLIENT_ID: u8 = 0x85;
    pub const BAD_CREDENTIALS: u8 = 0x86;
    pub const NOT_AUTHORIZED: u8 = 0x87;
    pub const SHUTTING_DOWN: u8 = 0x8B;
    pub const BAD_AUTH_METHOD: u8 = 0x8C;
    pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8D;
    pub const TAKEN_OVER: u8 = 0x8E;
    pub const FILTER_INVALID: u8 = 0x8F;
    pub const TOPIC_INVALID: u8 = 0x90;
    pub const PKID_NOT_FOUND: u8 = 0x92;
    pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
    pub const PACKET_TOO_LARGE: u8 = 0x95;
    pub const NO_SUBSCRIPTION: u8 = 0x11;
    pub const DISCONNECT_WITH_WILL: u8 = 0x04;
}

/// Why a CONNECT is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    ClientId,
    BadCredentials,
    NotAuthorized,
    AuthMethod,
    WillTopic,
}

impl Refusal {
    /// The CONNACK code, or `None` when MQTT 3 has none (the connection is just closed).
    fn code(self, version: Version) -> Option<u8> {
        let v5 = version == Version::V5;
        match self {
            Self::ClientId => Some(if v5 { reason::BAD_CLIENT_ID } else { 2 }),
            Self::BadCredentials => Some(if v5 { reason::BAD_CREDENTIALS } else { 4 }),
            Self::NotAuthorized => Some(if v5 { reason::NOT_AUTHORIZED } else { 5 }),
            Self::AuthMethod => v5.then_some(reason::BAD_AUTH_METHOD),
            Self::WillTopic => v5.then_some(reason::TOPIC_INVALID),
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::ClientId => "client identifier rejected",
            Self::BadCredentials => "bad user name or password",
            Self::NotAuthorized => "not authorized",
            Self::AuthMethod => "enhanced authentication is not supported",
            Self::WillTopic => "invalid will topic",
        }
    }
}

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// The client sent DISCONNECT; MQTT 5 reason 4 asks for its will all the same.
    Disconnect {
        will: bool,
    },
    /// The client closed the connection without DISCONNECT.
    Closed,
    Io(io::Error),
    Protocol {
        reason: u8,
        error: String,
    },
    KeepAlive,
    TakenOver,
    Shutdown,
}

impl End {
    fn protocol(reason: u8, error: impl Into<String>) -> Self {
        Self::Protocol {
            reason,
            error: error.into(),
        }
    }

    /// The MQTT 5 DISCONNECT reason the broker sends for it, if it sends one.
    fn disconnect_reason(&self) -> Option<u8> {
        match self {
            Self::Protocol { reason, .. } => Some(*reason),
            Self::KeepAlive => Some(reason::KEEP_ALIVE_TIMEOUT),
            Self::TakenOver => Some(reason::TAKEN_OVER),
            Self::Shutdown => Some(reason::SHUTTING_DOWN),
            Self::Disconnect { .. } | Self::Closed | Self::Io(_) => None,
        }
    }

    fn publishes_will(&self) -> bool {
        match self {
            Self::Disconnect { will } => *will,
            Self::Shutdown => false,
            _ => true,
        }
    }
}

/// The outgoing side: the write buffer and how packets go into it.
struct Out {
    buf: BytesMut,
    version: Version,
    /// The client's maximum packet size (MQTT 5); larger messages are dropped for it.
    max_packet: usize,
    /// Reused for every outgoing PUBLISH so its topic string is allocated once.
    scratch: Publish,
}

fn empty_publish() -> Publish {
    Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: String::new(),
        pkid: 0,
        payload: Bytes::new(),
        props: None,
    }
}

impl Out {
    fn new(version: Version) -> Self {
        Self {
            buf: BytesMut::with_capacity(4096),
            version,
            max_packet: usize::MAX,
            scratch: empty_publish(),
        }
    }

    /// Appends a control packet. The broker only builds packets the codec can write, so a
    /// failure leaves the buffer as it was and the packet is skipped.
    fn packet(&mut self, packet: &Packet) {
        let start = self.buf.len();
        if encode(packet, self.version, &mut self.buf).is_err() {
            self.buf.truncate(start);
        }
    }

    fn ack(&mut self, make: fn(Ack) -> Packet, pkid: u16, reason: u8) {
        self.packet(&make(Ack {
            pkid,
            reason,
            props: None,
        }));
    }

    /// Appends a PUBLISH of `out`; false (nothing appended) when it is too large for the
    /// client.
    fn publish(&mut self, out: &Outgoing, pkid: u16, dup: bool, now: Instant) -> bool {
        let props = (self.version == Version::V5
            && (out.msg.props.is_some() || !out.sub_ids.is_empty()))
        .then(|| {
            let mut props = out.msg.props.clone().unwrap_or_default();
            props.subscription_identifiers.clone_from(&out.sub_ids);
            if let Some(left) = out.msg.remaining_expiry(now) {
                props.message_expiry_interval = Some(left);
            }
            props
        });
        let mut p = std::mem::replace(&mut self.scratch, empty_publish());
        p.topic.clear();
        p.topic.push_str(&out.msg.topic);
        p.dup = dup;
        p.qos = out.qos;
        p.retain = out.retain;
        p.pkid = pkid;
        p.payload = out.msg.payload.clone();
        p.props = props;
        let start = self.buf.len();
        let packet = Packet::Publish(p);
        let fits = encode(&packet, self.version, &mut self.buf).is_ok()
            && self.buf.len() - start <= self.max_packet;
        if !fits {
            self.buf.truncate(start);
        }
        if let Packet::Publish(mut p) = packet {
            p.payload = Bytes::new();
            p.props = None;
            self.scratch = p;
        }
        fits
    }
}

/// An accepted client.
struct Conn {
    broker: Arc<Broker>,
    session: Arc<Session>,
    generation: u64,
    client: Arc<ClientInfo>,
    version: Version,
    will: Option<Message>,
    /// MQTT 5 will delay interval.
    will_delay: u32,
    keep_alive: Option<Duration>,
    max_inflight: u16,
    out: Out,
    /// In-flight messages of a resumed session are sent again first.
    resend: bool,
    /// Reused list of the targets of one publish.
    deliveries: Vec<Delivery>,
}

/// Serves one connection until it ends.
pub(super) async fn serve<R, W>(
    broker: Arc<Broker>,
    mut reader: R,
    mut writer: W,
    address: Option<SocketAddr>,
    mut shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut rbuf = BytesMut::with_capacity(4096);
    let max = broker.limits.max_packet_size;
    let first = tokio::select! {
        r = tokio::time::timeout(
            broker.limits.connect_timeout,
            read_packet(&mut reader, &mut rbuf, max),
        ) => r,
        () = stopping(&mut shutdown) => return,
    };
    let connect = match first {
        Ok(Ok(Packet::Connect(connect))) => connect,
        Ok(Err(ReadError::Closed)) => return,
        Ok(Err(ReadError::Codec(e @ CodecError::UnsupportedProtocol { .. }))) => {
            // 3.1.1 §3.1.2.2: answer with "unacceptable protocol version", then close.
            let mut out = Out::new(Version::V311);
            out.packet(&Packet::ConnAck(ConnAck {
                session_present: false,
                code: 1,
                props: None,
            }));
            farewell(&mut writer, &out.buf).await;
            connection_error(&broker, None, e.to_string()).await;
            return;
        }
        Ok(Err(e)) => {
            connection_error(&broker, None, e.to_string()).await;
            return;
        }
        Ok(Ok(other)) => {
            let error = format!("expected CONNECT, got {}", packet_name(&other));
            connection_error(&broker, None, error).await;
            return;
        }
        Err(_) => {
            let error = "no CONNECT within the connect timeout".to_owned();
            connection_error(&broker, None, error).await;
            return;
        }
    };
    let kick = Arc::new(Notify::new());
    let mut conn = match accept(&broker, connect, address, &kick).await {
        Ok(conn) => conn,
        Err((out, client, refusal)) => {
            farewell(&mut writer, &out.buf).await;
            connection_error(&broker, Some(client), refusal.text().to_owned()).await;
            return;
        }
    };
    broker
        .connected
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    broker
        .emit(ServerEvent::ClientReady(Arc::clone(&conn.client)))
        .await;
    let end = conn
        .run(&mut reader, &mut writer, &mut rbuf, &kick, &mut shutdown)
        .await;
    conn.finish(end, &mut writer).await;
}

#[derive(Debug)]
enum ReadError {
    Closed,
    Io(io::Error),
    Codec(CodecError),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("connection closed"),
            Self::Io(e) => e.fmt(f),
            Self::Codec(e) => e.fmt(f),
        }
    }
}

async fn read_packet<R: AsyncRead + Unpin>(
    reader: &mut R,
    rbuf: &mut BytesMut,
    max: usize,
) -> Result<Packet, ReadError> {
    loop {
        if let Some(packet) = decode(rbuf, Version::V311, max).map_err(ReadError::Codec)? {
            return Ok(packet);
        }
        rbuf.reserve(4096);
        match reader.read_buf(rbuf).await {
            Ok(0) => return Err(ReadError::Closed),
            Ok(_) => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

async fn connection_error(broker: &Broker, client: Option<Arc<ClientInfo>>, error: String) {
    broker
        .emit(ServerEvent::ConnectionError { client, error })
        .await;
}

/// Writes what is left to write, within [`FAREWELL`], and shuts the connection down.
async fn farewell<W: AsyncWrite + Unpin>(writer: &mut W, buf: &[u8]) {
    let _ = tokio::time::timeout(FAREWELL, async {
        writer.write_all(buf).await?;
        writer.shutdown().await
    })
    .await;
}

fn packet_name(packet: &Packet) -> &'static str {
    match packet {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect(_) => "DISCONNECT",
        Packet::Auth(_) => "AUTH",
    }
}

/// Checks a CONNECT, takes over or creates the session and queues the CONNACK. A refusal
/// comes back with its CONNACK (if the protocol level has one) to write.
async fn accept(
    broker: &Arc<Broker>,
    connect: Connect,
    address: Option<SocketAddr>,
    kick: &Arc<Notify>,
) -> Result<Conn, (Out, Arc<ClientInfo>, Refusal)> {
    let version = connect.version;
    let v5 = version == Version::V5;
    let props = connect.props.as_deref();
    let mut client_id = connect.client_id;
    let assigned = client_id.is_empty();
    if assigned && (v5 || connect.clean_start) {
        client_id = broker.assign_client_id();
    }
    let mut client = ClientInfo {
        id: client_id,
        version,
        clean: connect.clean_start,
        keep_alive: connect.keep_alive,
        username: connect.username.clone(),
        authenticated: false,
        will: connect.will.clone(),
        address,
    };
    let refusal = if client.id.is_empty() {
        Some(Refusal::ClientId)
    } else if props.is_some_and(|p| p.authentication_method.is_some()) {
        Some(Refusal::AuthMethod)
    } else if let Some((user, password)) = &broker.credentials {
        client.authenticated = true;
        match (&connect.username, &connect.password) {
            (None, _) => Some(Refusal::NotAuthorized),
            (Some(u), Some(p)) if u == user && p[..] == *password.as_bytes() => None,
            _ => Some(Refusal::BadCredentials),
        }
    } else {
        None
    }
    .or_else(|| {
        connect
            .will
            .as_ref()
            .is_some_and(|w| topic::validate_topic_name(&w.topic).is_err())
            .then_some(Refusal::WillTopic)
    });
    let mut out = Out::new(version);
    if let Some(refusal) = refusal {
        client.authenticated = false;
        if let Some(code) = refusal.code(version) {
            out.packet(&Packet::ConnAck(ConnAck {
                session_present: false,
                code,
                props: None,
            }));
        }
        return Err((out, Arc::new(client), refusal));
    }
    let client = Arc::new(client);
    broker.emit(ServerEvent::Client(Arc::clone(&client))).await;

    let expiry = match props.and_then(|p| p.session_expiry_interval) {
        _ if !v5 && connect.clean_start => 0,
        _ if !v5 => u32::MAX,
        expiry => expiry.unwrap_or(0),
    };
    let (session, present, generation) = {
        let mut sessions = lock(&broker.sessions);
        let existing = sessions.get(&client.id).cloned();
        // A session ending with its connection (clean) is never resumed, even if that
        // connection is still open.
        let resumable = existing
            .as_ref()
            .filter(|s| !connect.clean_start && s.lock().expiry != 0)
            .cloned();
        if let Some(old) = existing
            && resumable.is_none()
        {
            old.kick();
            broker.end_session(&mut sessions, &old);
        }
        let present = resumable.is_some();
        let session = resumable.unwrap_or_else(|| {
            let session = Arc::new(Session::new(&client.id));
            sessions.insert(client.id.clone(), Arc::clone(&session));
            session
        });
        let generation = session.attach(Arc::clone(kick), expiry);
        (session, present, generation)
    };

    let mut max_inflight = broker.limits.max_inflight;
    if let Some(p) = props {
        if let Some(receive_max) = p.receive_maximum.filter(|n| *n > 0) {
            max_inflight = max_inflight.min(receive_max);
        }
        if let Some(max) = p.maximum_packet_size.filter(|n| *n > 0) {
            out.max_packet = usize::try_from(max).unwrap_or(usize::MAX);
        }
    }
    let ack_props = v5.then(|| {
        Box::new(Properties {
            assigned_client_identifier: assigned.then(|| client.id.clone()),
            maximum_packet_size: u32::try_from(broker.limits.max_packet_size).ok(),
            // No topic aliases: a client must not send any (topic alias maximum 0).
            topic_alias_maximum: Some(0),
            ..Properties::default()
        })
    });
    out.packet(&Packet::ConnAck(ConnAck {
        session_present: present,
        code: 0,
        props: ack_props,
    }));
    let (will, will_delay) = match connect.will {
        Some(w) => {
            let delay = w
                .props
                .as_ref()
                .and_then(|p| p.will_delay_interval)
                .unwrap_or(0);
            // Copied: the received payload is a slice of the read buffer.
            let payload = Bytes::copy_from_slice(&w.payload);
            (
                Some(Message::new(w.topic, payload, w.qos, w.retain, w.props)),
                delay,
            )
        }
        None => (None, 0),
    };
    Ok(Conn {
        broker: Arc::clone(broker),
        session,
        generation,
        client,
        version,
        will,
        will_delay,
        keep_alive: (connect.keep_alive > 0)
            .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500)),
        max_inflight,
        out,
        resend: present,
        deliveries: Vec::new(),
    })
}

/// Writes some of `buf`, or flushes when it is empty (TLS keeps records buffered).
async fn write_some<W: AsyncWrite + Unpin>(writer: &mut W, buf: &[u8]) -> io::Result<usize> {
    if buf.is_empty() {
        writer.flush().await.map(|()| 0)
    } else {
        writer.write(buf).await
    }
}

impl Conn {
    async fn run<R, W>(
        &mut self,
        reader: &mut R,
        writer: &mut W,
        rbuf: &mut BytesMut,
        kick: &Notify,
        shutdown: &mut watch::Receiver<bool>,
    ) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let max = self.broker.limits.max_packet_size;
        let keep_alive = self.keep_alive.unwrap_or(Duration::from_secs(86_400));
        let mut last_read = tokio::time::Instant::now();
        let keep_alive_check = tokio::time::sleep(keep_alive);
        tokio::pin!(keep_alive_check);
        let mut need_flush = false;
        let mut want_fill = true;
        loop {
            if want_fill {
                if let Err(end) = self.fill() {
                    return end;
                }
                want_fill = false;
            }
            if rbuf.capacity() - rbuf.len() < 4096 {
                rbuf.reserve(READ_CHUNK);
            }
            let pending = self.out.buf.len();
            tokio::select! {
                () = kick.notified() => return End::TakenOver,
                () = stopping(shutdown) => return End::Shutdown,
                written = write_some(writer, &self.out.buf), if pending > 0 || need_flush => {
                    match written {
                        Err(e) => return End::Io(e),
                        Ok(0) if pending > 0 => return End::Io(io::ErrorKind::WriteZero.into()),
                        Ok(0) => need_flush = false,
                        Ok(n) => {
                            self.out.buf.advance(n);
                            need_flush = self.out.buf.is_empty();
                            want_fill = true;
                        }
                    }
                }
                read = reader.read_buf(rbuf), if pending < MAX_UNSENT => {
                    match read {
                        Ok(0) => return End::Closed,
                        Err(e) => return End::Io(e),
                        Ok(_) => {}
                    }
                    last_read = tokio::time::Instant::now();
                    loop {
                        match decode(rbuf, self.version, max) {
                            Ok(Some(packet)) => {
                                if let Some(end) = self.handle(packet).await {
                                    return end;
                                }
                            }
                            Ok(None) => break,
                            Err(e @ CodecError::TooLarge { .. }) => {
                                return End::protocol(reason::PACKET_TOO_LARGE, e.to_string());
                            }
                            Err(e) => return End::protocol(reason::MALFORMED, e.to_string()),
                        }
                    }
                    // Acknowledgements may have opened the in-flight window.
                    want_fill = true;
                }
                () = self.session.wake.notified(), if pending < HIGH_WATER => want_fill = true,
                () = &mut keep_alive_check, if self.keep_alive.is_some() => {
                    let deadline = last_read + keep_alive;
                    if tokio::time::Instant::now() >= deadline {
                        return End::KeepAlive;
                    }
                    keep_alive_check.as_mut().reset(deadline);
                }
            }
        }
    }

    /// Encodes queued messages (and, first after a resume, the ones still in flight) until
    /// the write buffer is full, the queue empty or the in-flight window closed.
    fn fill(&mut self) -> Result<(), End> {
        let mut state = self.session.lock();
        if state.generation != self.generation {
            return Err(End::TakenOver);
        }
        let now = Instant::now();
        if std::mem::take(&mut self.resend) {
            for inflight in &state.inflight {
                if inflight.released {
                    self.out.ack(Packet::PubRel, inflight.pkid, 0);
                } else {
                    self.out.publish(&inflight.out, inflight.pkid, true, now);
                }
            }
        }
        while self.out.buf.len() < HIGH_WATER {
            let Some(next) = state.queue.front() else {
                break;
            };
            let pkid = match next.qos {
                QoS::AtMostOnce => 0,
                _ => match state.next_pkid(self.max_inflight) {
                    Some(pkid) => pkid,
                    None => break,
                },
            };
            let Some(out) = state.queue.pop_front() else {
                break;
            };
            if out.msg.expired(now) || !self.out.publish(&out, pkid, false, now) {
                continue;
            }
            if pkid != 0 {
                state.last_pkid = pkid;
                state.inflight.push_back(Inflight {
                    pkid,
                    out,
                    released: false,
                });
            }
        }
        Ok(())
    }

    /// Handles one packet; `Some` ends the connection.
    async fn handle(&mut self, packet: Packet) -> Option<End> {
        match packet {
            Packet::Publish(publish) => return self.on_publish(publish).await,
            Packet::PubAck(ack) | Packet::PubComp(ack) => {
                self.session.lock().complete(ack.pkid);
            }
            Packet::PubRec(ack) => {
                let mut state = self.session.lock();
                if ack.reason >= 0x80 {
                    // MQTT 5: the client refused the message; it is done.
                    state.complete(ack.pkid);
                } else {
                    let found = state.release(ack.pkid);
                    drop(state);
                    let code = if found { 0 } else { reason::PKID_NOT_FOUND };
                    self.out.ack(Packet::PubRel, ack.pkid, code);
                }
            }
            Packet::PubRel(ack) => {
                let found = self.session.lock().incoming_qos2.remove(&ack.pkid);
                let code = if found { 0 } else { reason::PKID_NOT_FOUND };
                self.out.ack(Packet::PubComp, ack.pkid, code);
            }
            Packet::Subscribe(subscribe) => return self.on_subscribe(subscribe).await,
            Packet::Unsubscribe(unsubscribe) => self.on_unsubscribe(unsubscribe).await,
            Packet::PingReq => self.out.packet(&Packet::PingResp),
            Packet::Disconnect(disconnect) => return Some(self.on_disconnect(disconnect)),
            other => {
                let error = format!("unexpected {} from a client", packet_name(&other));
                return Some(End::protocol(reason::PROTOCOL_ERROR, error));
            }
        }
        None
    }

    async fn on_publish(&mut self, publish: Publish) -> Option<End> {
        if publish
            .props
            .as_ref()
            .is_some_and(|p| p.topic_alias.is_some())
        {
            let error = "topic aliases are not supported (topic alias maximum is 0)";
            return Some(End::protocol(reason::TOPIC_ALIAS_INVALID, error));
        }
        if let Err(e) = topic::validate_topic_name(&publish.topic) {
            let error = format!("invalid topic '{}': {e}", publish.topic);
            return Some(End::protocol(reason::TOPIC_INVALID, error));
        }
        match publish.qos {
            QoS::ExactlyOnce => {
                let fresh = self.session.lock().incoming_qos2.insert(publish.pkid);
                self.out.ack(Packet::PubRec, publish.pkid, 0);
                if !fresh {
                    // A retry of a message already routed: acknowledged, not delivered again.
                    return None;
                }
            }
            QoS::AtLeastOnce => self.out.ack(Packet::PubAck, publish.pkid, 0),
            QoS::AtMostOnce => {}
        }
        let event = self.broker.limits.publish_events.then(|| publish.clone());
        let msg = Arc::new(Message::new(
            publish.topic,
            publish.payload,
            publish.qos,
            publish.retain,
            publish.props,
        ));
        if msg.retain {
            self.broker.retain(&msg);
        }
        self.broker
            .route(&msg, &self.client.id, &mut self.deliveries);
        if let Some(packet) = event {
            self.broker
                .emit(ServerEvent::Publish {
                    client: Some(Arc::clone(&self.client)),
                    packet,
                })
                .await;
        }
        None
    }

    async fn on_subscribe(&mut self, subscribe: Subscribe) -> Option<End> {
        let v5 = self.version == Version::V5;
        let sub_id = subscribe
            .props
            .as_ref()
            .and_then(|p| p.subscription_identifiers.first().copied());
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut granted = Vec::new();
        let mut retained = Vec::new();
        let mut queued = Vec::new();
        for f in subscribe.filters {
            if topic::validate_filter(&f.filter).is_err() {
                codes.push(if v5 { reason::FILTER_INVALID } else { 0x80 });
                continue;
            }
            let (group, inner) = topic::shared(&f.filter);
            if group.is_some() && f.no_local && v5 {
                let error = format!("no local on the shared subscription '{}'", f.filter);
                return Some(End::protocol(reason::PROTOCOL_ERROR, error));
            }
            let opts = SubOptions {
                qos: f.qos,
                no_local: f.no_local,
                retain_as_published: f.retain_as_published,
                retain_handling: f.retain_handling,
                id: sub_id,
            };
            let existed = self
                .session
                .lock()
                .subs
                .insert(f.filter.clone(), opts)
                .is_some();
            self.broker
                .router
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .subscribe(&f.filter, &self.session, opts);
            codes.push(f.qos as u8);
            // Shared subscriptions get no retained messages (MQTT 5 §4.8.2).
            let send_retained = match f.retain_handling {
                0 => true,
                1 => !existed,
                _ => false,
            };
            if group.is_none() && send_retained {
                self.broker
                    .retained
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .matching(inner, &mut retained);
                queued.extend(retained.drain(..).map(|msg| Outgoing {
                    qos: msg.qos.min(f.qos),
                    msg,
                    retain: true,
                    sub_ids: sub_id.into_iter().collect(),
                }));
            }
            granted.push((f.filter, f.qos as u8));
        }
        self.out.packet(&Packet::SubAck(SubAck {
            pkid: subscribe.pkid,
            codes,
            props: None,
        }));
        for out in queued {
            self.broker.queue(&self.session, out);
        }
        for (filter, qos) in granted {
            self.broker
                .emit(ServerEvent::Subscribe {
                    client: Arc::clone(&self.client),
                    filter,
                    qos,
                })
                .await;
        }
        None
    }

    async fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe) {
        let v5 = self.version == Version::V5;
        let mut codes = Vec::new();
        let mut removed = Vec::new();
        for filter in unsubscribe.filters {
            if topic::validate_filter(&filter).is_err() {
                codes.push(reason::FILTER_INVALID);
                continue;
            }
            let had = self.session.lock().subs.remove(&filter).is_some();
            if had {
                self.broker
                    .router
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .unsubscribe(&filter, &self.session);
                removed.push(filter);
            }
            codes.push(if had { 0 } else { reason::NO_SUBSCRIPTION });
        }
        if !v5 {
            codes.clear();
        }
        self.out.packet(&Packet::UnsubAck(UnsubAck {
            pkid: unsubscribe.pkid,
            codes,
            props: None,
        }));
        for filter in removed {
            self.broker
                .emit(ServerEvent::Unsubscribe {
                    client: Arc::clone(&self.client),
                    filter,
                })
                .await;
        }
    }

    fn on_disconnect(&mut self, disconnect: Disconnect) -> End {
        if let Some(expiry) = disconnect
            .props
            .as_ref()
            .and_then(|p| p.session_expiry_interval)
        {
            let mut state = self.session.lock();
            if state.generation == self.generation {
                if state.expiry == 0 && expiry != 0 {
                    // MQTT 5 §3.14.2.2.2: a session opened to end with its connection
                    // cannot be made to outlive it at DISCONNECT.
                    let error = "session expiry set at DISCONNECT after CONNECT set 0";
                    return End::protocol(reason::PROTOCOL_ERROR, error);
                }
                state.expiry = expiry;
            }
        }
        End::Disconnect {
            will: disconnect.reason == reason::DISCONNECT_WITH_WILL,
        }
    }

    /// Whether another connection holds this session now.
    fn session_resumed(&self) -> bool {
        lock(&self.broker.sessions)
            .get(&self.client.id)
            .is_some_and(|s| Arc::ptr_eq(s, &self.session))
    }

    /// After the loop: says goodbye, releases the session, reports, publishes the will.
    async fn finish<W: AsyncWrite + Unpin>(mut self, end: End, writer: &mut W) {
        if !matches!(end, End::Io(_) | End::Closed) {
            if let (Version::V5, Some(code)) = (self.version, end.disconnect_reason()) {
                self.out.packet(&Packet::Disconnect(Disconnect {
                    reason: code,
                    props: None,
                }));
            }
            farewell(writer, &self.out.buf).await;
        }
        let expiry = {
            let mut sessions = lock(&self.broker.sessions);
            let expiry = self.session.detach(self.generation);
            if expiry == Some(0) {
                self.broker.end_session(&mut sessions, &self.session);
            }
            expiry
        };
        if let Some(expiry) = expiry.filter(|e| *e != 0 && *e != u32::MAX) {
            self.broker
                .expire_later(Arc::clone(&self.session), self.generation, expiry);
        }
        self.broker
            .connected
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let client = Arc::clone(&self.client);
        match &end {
            End::Io(e) => {
                let error = e.to_string();
                self.broker
                    .emit(ServerEvent::ClientError {
                        client: Arc::clone(&client),
                        error,
                    })
                    .await;
            }
            End::Protocol { error, .. } => {
                self.broker
                    .emit(ServerEvent::ClientError {
                        client: Arc::clone(&client),
                        error: error.clone(),
                    })
                    .await;
            }
            End::KeepAlive => {
                self.broker
                    .emit(ServerEvent::KeepaliveTimeout(Arc::clone(&client)))
                    .await;
            }
            _ => {}
        }
        self.broker
            .emit(ServerEvent::ClientDisconnect(Arc::clone(&client)))
            .await;
        let Some(will) = self.will.take().filter(|_| end.publishes_will()) else {
            return;
        };
        // The will waits for its delay, but never past the end of the session; a client
        // that took the session over within the delay cancels it.
        let delay = match expiry {
            Some(expiry) => self.will_delay.min(expiry),
            None if self.will_delay > 0 && self.session_resumed() => return,
            None => 0,
        };
        if delay == 0 {
            self.broker.publish_will(will, &client).await;
        } else {
            self.broker
                .will_later(will, client, self.session, self.generation, delay);
        }
    }
}
