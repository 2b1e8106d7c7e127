//! MQTT packets for protocol levels 3 (3.1), 4 (3.1.1) and 5, encoded and decoded in one
//! place for both sides: the client connections of `mqtt-broker` and the embedded broker.
//!
//! One packet type serves every level: v5 properties travel in `props` and are simply not
//! written for 3.1 / 3.1.1, and a v3 return code shares the `reason` / `code` byte of v5.
//! The decoder works on a growing buffer: `Ok(None)` means "not a whole packet yet".
//!
//! The codec checks what the packet format itself rules out (reserved flags and bits, QoS
//! 3, packet identifier 0, lengths, UTF-8, which v5 property may appear where and how often,
//! values the spec calls protocol errors). Rules about what a peer may send when (DUP with
//! QoS 0, topic names and filters, client identifier length, a client sending a
//! Subscription Identifier) are for the client and server: see [`super::topic`].

mod props;
#[cfg(test)]
mod tests;
mod wire;

use bytes::{Bytes, BytesMut};
use wire::{Counter, Reader, Sink, VARINT_MAX, malformed};

/// The protocol level of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// MQTT 3.1 (protocol name `MQIsdp`, level 3).
    V31,
    /// MQTT 3.1.1 (level 4).
    V311,
    /// MQTT 5 (level 5).
    V5,
}

/// Quality of service of a message or subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    pub fn from_u8(n: u8) -> Option<Self> {
        match n {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }
}

/// MQTT 5 properties. One struct for every packet: the codec writes whichever are set (set
/// only those the packet may carry) and reads whichever arrive (a property the packet may
/// not carry, a repeated one or a value the spec forbids, such as a Topic Alias of 0, is a
/// malformed packet). User properties keep their order and repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub subscription_identifiers: Vec<u32>,
    pub session_expiry_interval: Option<u32>,
    pub assigned_client_identifier: Option<String>,
    pub server_keep_alive: Option<u16>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Bytes>,
    pub request_problem_information: Option<u8>,
    pub will_delay_interval: Option<u32>,
    pub request_response_information: Option<u8>,
    pub response_information: Option<String>,
    pub server_reference: Option<String>,
    pub reason_string: Option<String>,
    pub receive_maximum: Option<u16>,
    pub topic_alias_maximum: Option<u16>,
    pub topic_alias: Option<u16>,
    pub maximum_qos: Option<u8>,
    pub retain_available: Option<u8>,
    pub user_properties: Vec<(String, String)>,
    pub maximum_packet_size: Option<u32>,
    pub wildcard_subscription_available: Option<u8>,
    pub subscription_identifier_available: Option<u8>,
    pub shared_subscription_available: Option<u8>,
}

/// Properties of a packet: `None` when it carries none (always for 3.1 / 3.1.1; an empty
/// property list decodes as `None`). Boxed so the common packet without properties stays
/// small.
pub type Props = Option<Box<Properties>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    /// MQTT 5 only.
    Auth(Auth),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Decoding reads it from the packet; encoding writes the matching protocol name/level
    /// and writes the whole CONNECT at this level, whatever version `encode` is given.
    pub version: Version,
    pub client_id: String,
    pub keep_alive: u16,
    /// Clean session (3.1 / 3.1.1) or clean start (5).
    pub clean_start: bool,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub will: Option<Will>,
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// Will properties (v5): delay interval, expiry, content type, response topic, ...
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// 3.1 has no such flag: there it is written as 0 and read as false.
    pub session_present: bool,
    /// The v3 return code (0 accepted, 1..5 refused) or the v5 reason code, written as it is.
    pub code: u8,
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: String,
    /// 0 for QoS 0.
    pub pkid: u16,
    pub payload: Bytes,
    pub props: Props,
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub pkid: u16,
    /// v5 reason code (0 = success; never written for v3).
    pub reason: u8,
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub pkid: u16,
    pub filters: Vec<SubscribeFilter>,
    /// Subscription identifier and user properties (v5).
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeFilter {
    pub filter: String,
    pub qos: QoS,
    /// v5 subscription options; not written for v3.
    pub no_local: bool,
    pub retain_as_published: bool,
    /// 0 send retained on subscribe, 1 only if new, 2 never.
    pub retain_handling: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub pkid: u16,
    /// Granted QoS per filter, or 0x80 (and v5 reason codes) for a refusal. Before v5 every
    /// code above 2 is written as 0x80, and a code other than 0, 1, 2, 0x80 does not decode.
    pub codes: Vec<u8>,
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub pkid: u16,
    pub filters: Vec<String>,
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    pub pkid: u16,
    /// v5 reason codes, one per filter (empty for v3).
    pub codes: Vec<u8>,
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// v5 reason code (0 normal; 4 "disconnect with will message").
    pub reason: u8,
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub reason: u8,
    pub props: Props,
}

/// Why bytes are not a valid packet. The connection that sent them is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("malformed {packet} packet: {reason}")]
    Malformed {
        packet: &'static str,
        reason: String,
    },
    #[error("unsupported protocol '{name}' level {level}")]
    UnsupportedProtocol { name: String, level: u8 },
    #[error("invalid packet type {0}")]
    InvalidType(u8),
}

impl Version {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Self::V31 => 3,
            Self::V311 => 4,
            Self::V5 => 5,
        }
    }

    /// The protocol name of CONNECT.
    pub fn protocol_name(self) -> &'static str {
        match self {
            Self::V31 => "MQIsdp",
            Self::V311 | Self::V5 => "MQTT",
        }
    }

    /// The version a CONNECT's protocol name and level stand for, if we speak it.
    pub fn from_protocol(name: &str, level: u8) -> Option<Self> {
        match (name, level) {
            ("MQIsdp", 3) => Some(Self::V31),
            ("MQTT", 4) => Some(Self::V311),
            ("MQTT", 5) => Some(Self::V5),
            _ => None,
        }
    }
}

impl Properties {
    /// True when no property is set: such properties are written as none.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

// Control packet types (fixed header, high nibble).
const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const PUBREC: u8 = 5;
const PUBREL: u8 = 6;
const PUBCOMP: u8 = 7;
const SUBSCRIBE: u8 = 8;
const SUBACK: u8 = 9;
const UNSUBSCRIBE: u8 = 10;
const UNSUBACK: u8 = 11;
const PINGREQ: u8 = 12;
const PINGRESP: u8 = 13;
const DISCONNECT: u8 = 14;
const AUTH: u8 = 15;

const NAMES: [&str; 16] = [
    "reserved",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

/// The SUBACK return code of a refused subscription before v5 (v5's reason codes for a
/// refusal are all above it).
const SUBACK_FAILURE: u8 = 0x80;

/// The flags PUBREL, SUBSCRIBE and UNSUBSCRIBE must carry.
const FLAGS_QOS1: u8 = 0b0010;

impl Packet {
    /// The packet's name as the spec writes it ("PUBLISH"), for logs and errors.
    pub fn name(&self) -> &'static str {
        NAMES[usize::from(self.kind())]
    }

    fn kind(&self) -> u8 {
        match self {
            Self::Connect(_) => CONNECT,
            Self::ConnAck(_) => CONNACK,
            Self::Publish(_) => PUBLISH,
            Self::PubAck(_) => PUBACK,
            Self::PubRec(_) => PUBREC,
            Self::PubRel(_) => PUBREL,
            Self::PubComp(_) => PUBCOMP,
            Self::Subscribe(_) => SUBSCRIBE,
            Self::SubAck(_) => SUBACK,
            Self::Unsubscribe(_) => UNSUBSCRIBE,
            Self::UnsubAck(_) => UNSUBACK,
            Self::PingReq => PINGREQ,
            Self::PingResp => PINGRESP,
            Self::Disconnect(_) => DISCONNECT,
            Self::Auth(_) => AUTH,
        }
    }

    fn flags(&self) -> u8 {
        match self {
            Self::Publish(p) => u8::from(p.dup) << 3 | (p.qos as u8) << 1 | u8::from(p.retain),
            Self::PubRel(_) | Self::Subscribe(_) | Self::Unsubscribe(_) => FLAGS_QOS1,
            _ => 0,
        }
    }
}

impl Publish {
    /// A QoS 0 message, neither retained nor a duplicate, without properties.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            pkid: 0,
            payload: payload.into(),
            props: None,
        }
    }
}

impl Ack {
    /// A successful acknowledgement of `pkid` without properties.
    pub fn new(pkid: u16) -> Self {
        Self {
            pkid,
            reason: 0,
            props: None,
        }
    }
}

/// Appends one packet, as `version` writes it, to `out`. A CONNECT is written as its own
/// `version` says. On error nothing is appended.
pub fn encode(packet: &Packet, version: Version, out: &mut BytesMut) -> Result<(), CodecError> {
    let remaining = remaining_length(packet, version)?;
    out.reserve(1 + wire::varint_len(remaining) + remaining);
    out.u8(packet.kind() << 4 | packet.flags());
    out.varint(remaining);
    write_body(packet, version, out)
}

/// How many bytes [`encode`] writes for `packet` (to respect a peer's Maximum Packet Size).
pub fn packet_size(packet: &Packet, version: Version) -> Result<usize, CodecError> {
    let remaining = remaining_length(packet, version)?;
    Ok(1 + wire::varint_len(remaining) + remaining)
}

/// Measures the packet, which runs every check `write_body` makes.
fn remaining_length(packet: &Packet, version: Version) -> Result<usize, CodecError> {
    let mut len = Counter::default();
    write_body(packet, version, &mut len)?;
    if len.0 > VARINT_MAX {
        return Err(CodecError::TooLarge {
            size: 1 + 4 + len.0,
            max: 1 + 4 + VARINT_MAX,
        });
    }
    Ok(len.0)
}

fn write_body<S: Sink>(packet: &Packet, version: Version, s: &mut S) -> Result<(), CodecError> {
    let name = packet.name();
    let v5 = version == Version::V5;
    match packet {
        Packet::Connect(c) => write_connect(c, s)?,
        Packet::ConnAck(c) => {
            // 3.1 has no session present flag: its first byte is unused.
            s.u8(u8::from(c.session_present && version != Version::V31));
            s.u8(c.code);
            if v5 {
                props::write(s, &c.props, name)?;
            }
        }
        Packet::Publish(p) => {
            wire::string(s, &p.topic, name, "topic name")?;
            if p.qos != QoS::AtMostOnce {
                s.u16(pkid(p.pkid, name)?);
            }
            if v5 {
                props::write(s, &p.props, name)?;
            }
            s.raw(&p.payload);
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            s.u16(pkid(a.pkid, name)?);
            if v5 {
                write_reason(s, a.reason, &a.props, name)?;
            }
        }
        Packet::Subscribe(sub) => {
            s.u16(pkid(sub.pkid, name)?);
            if v5 {
                props::write(s, &sub.props, name)?;
            }
            if sub.filters.is_empty() {
                return Err(malformed(name, "there is no topic filter"));
            }
            for f in &sub.filters {
                wire::string(s, &f.filter, name, "topic filter")?;
                s.u8(subscription_options(f, v5)?);
            }
        }
        Packet::SubAck(a) => {
            s.u16(pkid(a.pkid, name)?);
            if a.codes.is_empty() {
                let what = if v5 { "reason" } else { "return" };
                return Err(malformed(name, format!("there is no {what} code")));
            }
            if v5 {
                props::write(s, &a.props, name)?;
                s.raw(&a.codes);
            } else {
                // 3.1.1 knows one failure code, and every other code is a v5 failure.
                for &code in &a.codes {
                    s.u8(if code <= 2 { code } else { SUBACK_FAILURE });
                }
            }
        }
        Packet::Unsubscribe(u) => {
            s.u16(pkid(u.pkid, name)?);
            if v5 {
                props::write(s, &u.props, name)?;
            }
            if u.filters.is_empty() {
                return Err(malformed(name, "there is no topic filter"));
            }
            for f in &u.filters {
                wire::string(s, f, name, "topic filter")?;
            }
        }
        Packet::UnsubAck(a) => {
            s.u16(pkid(a.pkid, name)?);
            if v5 {
                if a.codes.is_empty() {
                    return Err(malformed(name, "there is no reason code"));
                }
                props::write(s, &a.props, name)?;
                s.raw(&a.codes);
            }
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => {
            if v5 {
                write_reason(s, d.reason, &d.props, name)?;
            }
        }
        Packet::Auth(a) => {
            if !v5 {
                return Err(malformed(name, "AUTH exists only in MQTT 5"));
            }
            write_reason(s, a.reason, &a.props, name)?;
        }
    }
    Ok(())
}

fn pkid(id: u16, packet: &'static str) -> Result<u16, CodecError> {
    match id {
        0 => Err(malformed(packet, "packet identifier 0 is not allowed")),
        id => Ok(id),
    }
}

fn has_props(props: &Props) -> bool {
    props.as_ref().is_some_and(|p| !p.is_empty())
}

/// The v5 reason code and properties of the acks, DISCONNECT and AUTH, in the shortest form:
/// nothing for success without properties, the reason alone without properties.
fn write_reason<S: Sink>(
    s: &mut S,
    reason: u8,
    props: &Props,
    packet: &'static str,
) -> Result<(), CodecError> {
    if has_props(props) {
        s.u8(reason);
        props::write(s, props, packet)
    } else {
        if reason != 0 {
            s.u8(reason);
        }
        Ok(())
    }
}

fn subscription_options(f: &SubscribeFilter, v5: bool) -> Result<u8, CodecError> {
    let qos = f.qos as u8;
    if !v5 {
        return Ok(qos);
    }
    if f.retain_handling > 2 {
        return Err(malformed(
            NAMES[usize::from(SUBSCRIBE)],
            format!("retain handling {} is not 0, 1 or 2", f.retain_handling),
        ));
    }
    Ok(qos
        | u8::from(f.no_local) << 2
        | u8::from(f.retain_as_published) << 3
        | f.retain_handling << 4)
}

fn write_connect<S: Sink>(c: &Connect, s: &mut S) -> Result<(), CodecError> {
    let name = NAMES[usize::from(CONNECT)];
    let v5 = c.version == Version::V5;
    if !v5 && c.password.is_some() && c.username.is_none() {
        return Err(malformed(
            name,
            "a password without a user name needs MQTT 5",
        ));
    }
    wire::string(s, c.version.protocol_name(), name, "protocol name")?;
    s.u8(c.version.level());
    let mut flags = u8::from(c.clean_start) << 1;
    if let Some(w) = &c.will {
        flags |= 0x04 | (w.qos as u8) << 3 | u8::from(w.retain) << 5;
    }
    flags |= u8::from(c.password.is_some()) << 6 | u8::from(c.username.is_some()) << 7;
    s.u8(flags);
    s.u16(c.keep_alive);
    if v5 {
        props::write(s, &c.props, name)?;
    }
    wire::string(s, &c.client_id, name, "client identifier")?;
    if let Some(w) = &c.will {
        if v5 {
            props::write(s, &w.props, name)?;
        }
        wire::string(s, &w.topic, name, "will topic")?;
        wire::binary(s, &w.payload, name, "will payload")?;
    }
    if let Some(user) = &c.username {
        wire::string(s, user, name, "user name")?;
    }
    if let Some(password) = &c.password {
        wire::binary(s, password, name, "password")?;
    }
    Ok(())
}

/// Takes the next whole packet off the front of `buf`; `Ok(None)` (with `buf` untouched)
/// until one has arrived. A CONNECT is read whatever `version` says (it names its own level).
/// The type, flags and size of a packet are checked as soon as its fixed header is in, so a
/// packet over `max_packet_size` (whole packet, fixed header included) fails without waiting
/// for its body. Payloads and other binary fields are slices of `buf`'s memory, not copies.
/// After an error the connection is unusable: where the next packet starts is unknown.
pub fn decode(
    buf: &mut BytesMut,
    version: Version,
    max_packet_size: usize,
) -> Result<Option<Packet>, CodecError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let kind = first >> 4;
    check_flags(kind, first & 0x0F, version)?;
    let packet = NAMES[usize::from(kind)];

    let mut remaining = 0;
    let mut header = 1;
    loop {
        let Some(&byte) = buf.get(header) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7F) << (7 * (header - 1));
        header += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if header == 5 {
            return Err(malformed(
                packet,
                "the remaining length is longer than 4 bytes",
            ));
        }
    }
    let size = header + remaining;
    if size > max_packet_size {
        return Err(CodecError::TooLarge {
            size,
            max: max_packet_size,
        });
    }
    if buf.len() < size {
        return Ok(None);
    }

    let data = buf.split_to(size).freeze();
    let mut r = Reader::new(&data, header, packet);
    let v5 = version == Version::V5;
    let decoded = match kind {
        CONNECT => Packet::Connect(read_connect(&mut r)?),
        CONNACK => {
            let flags = r.u8("acknowledge flags")?;
            if version != Version::V31 && flags & 0xFE != 0 {
                return Err(malformed(packet, "reserved acknowledge flags are set"));
            }
            let code = r.u8("return code")?;
            // v5 always has a property length; a missing one is read as none.
            let props = if v5 && !r.is_empty() {
                props::read(&mut r, props::CONNACK)?
            } else {
                None
            };
            Packet::ConnAck(ConnAck {
                session_present: version != Version::V31 && flags & 1 == 1,
                code,
                props,
            })
        }
        PUBLISH => {
            let qos = match (first >> 1) & 0b11 {
                0 => QoS::AtMostOnce,
                1 => QoS::AtLeastOnce,
                _ => QoS::ExactlyOnce,
            };
            let topic = r.string("topic name")?;
            let pkid = if qos == QoS::AtMostOnce { 0 } else { r.pkid()? };
            let props = if v5 {
                props::read(&mut r, props::PUBLISH)?
            } else {
                None
            };
            Packet::Publish(Publish {
                dup: first & 0b1000 != 0,
                qos,
                retain: first & 1 != 0,
                topic,
                pkid,
                payload: r.rest(),
                props,
            })
        }
        PUBACK | PUBREC | PUBREL | PUBCOMP => {
            let pkid = r.pkid()?;
            let (reason, props) = if v5 {
                read_reason(&mut r, props::ACK)?
            } else {
                (0, None)
            };
            let ack = Ack {
                pkid,
                reason,
                props,
            };
            match kind {
                PUBACK => Packet::PubAck(ack),
                PUBREC => Packet::PubRec(ack),
                PUBREL => Packet::PubRel(ack),
                _ => Packet::PubComp(ack),
            }
        }
        SUBSCRIBE => {
            let pkid = r.pkid()?;
            let props = if v5 {
                props::read(&mut r, props::SUBSCRIBE)?
            } else {
                None
            };
            if props
                .as_ref()
                .is_some_and(|p| p.subscription_identifiers.len() > 1)
            {
                return Err(malformed(
                    packet,
                    "property Subscription Identifier appears twice",
                ));
            }
            let mut filters = Vec::new();
            while !r.is_empty() {
                let filter = r.string("topic filter")?;
                let options = r.u8("subscription options")?;
                filters.push(read_options(filter, options, v5)?);
            }
            if filters.is_empty() {
                return Err(malformed(packet, "there is no topic filter"));
            }
            Packet::Subscribe(Subscribe {
                pkid,
                filters,
                props,
            })
        }
        SUBACK => {
            let pkid = r.pkid()?;
            let props = if v5 {
                props::read(&mut r, props::ACK)?
            } else {
                None
            };
            let codes = r.rest().to_vec();
            if codes.is_empty() {
                let what = if v5 { "reason" } else { "return" };
                return Err(malformed(packet, format!("there is no {what} code")));
            }
            if let Some(code) = codes.iter().find(|&&c| !v5 && c > 2 && c != SUBACK_FAILURE) {
                return Err(malformed(packet, format!("return code {code} is reserved")));
            }
            Packet::SubAck(SubAck { pkid, codes, props })
        }
        UNSUBSCRIBE => {
            let pkid = r.pkid()?;
            let props = if v5 {
                props::read(&mut r, props::UNSUBSCRIBE)?
            } else {
                None
            };
            let mut filters = Vec::new();
            while !r.is_empty() {
                filters.push(r.string("topic filter")?);
            }
            if filters.is_empty() {
                return Err(malformed(packet, "there is no topic filter"));
            }
            Packet::Unsubscribe(Unsubscribe {
                pkid,
                filters,
                props,
            })
        }
        UNSUBACK => {
            let pkid = r.pkid()?;
            let (codes, props) = if v5 {
                let props = props::read(&mut r, props::ACK)?;
                let codes = r.rest().to_vec();
                if codes.is_empty() {
                    return Err(malformed(packet, "there is no reason code"));
                }
                (codes, props)
            } else {
                (Vec::new(), None)
            };
            Packet::UnsubAck(UnsubAck { pkid, codes, props })
        }
        PINGREQ => Packet::PingReq,
        PINGRESP => Packet::PingResp,
        DISCONNECT => {
            let (reason, props) = if v5 {
                read_reason(&mut r, props::DISCONNECT)?
            } else {
                (0, None)
            };
            Packet::Disconnect(Disconnect { reason, props })
        }
        // check_flags let AUTH through for v5 only, and no type is above 15.
        _ => {
            let (reason, props) = read_reason(&mut r, props::AUTH)?;
            Packet::Auth(Auth { reason, props })
        }
    };
    r.finish()?;
    Ok(Some(decoded))
}

/// Checks a fixed header's type and flags (spec 2.1.3).
fn check_flags(kind: u8, flags: u8, version: Version) -> Result<(), CodecError> {
    let packet = NAMES[usize::from(kind)];
    let ok = match kind {
        0 => return Err(CodecError::InvalidType(0)),
        AUTH if version != Version::V5 => return Err(CodecError::InvalidType(AUTH)),
        PUBLISH => {
            if flags & 0b0110 == 0b0110 {
                return Err(malformed(packet, "QoS 3 is not a QoS"));
            }
            true
        }
        // 3.1 sets DUP on these when it sends them again.
        PUBREL | SUBSCRIBE | UNSUBSCRIBE if version == Version::V31 => {
            flags & !0b1000 == FLAGS_QOS1
        }
        PUBREL | SUBSCRIBE | UNSUBSCRIBE => flags == FLAGS_QOS1,
        _ => flags == 0,
    };
    if ok {
        Ok(())
    } else {
        Err(malformed(
            packet,
            format!("the fixed header flags are {flags:04b}"),
        ))
    }
}

/// The optional v5 reason code and properties of acks, DISCONNECT and AUTH.
fn read_reason(r: &mut Reader<'_>, allowed: props::Allowed) -> Result<(u8, Props), CodecError> {
    if r.is_empty() {
        return Ok((0, None));
    }
    let reason = r.u8("reason code")?;
    if r.is_empty() {
        return Ok((reason, None));
    }
    Ok((reason, props::read(r, allowed)?))
}

fn read_options(filter: String, options: u8, v5: bool) -> Result<SubscribeFilter, CodecError> {
    let packet = NAMES[usize::from(SUBSCRIBE)];
    let reserved = if v5 { 0b1100_0000 } else { 0b1111_1100 };
    if options & reserved != 0 {
        return Err(malformed(
            packet,
            format!("reserved bits of the subscription options {options:08b} are set"),
        ));
    }
    let Some(qos) = QoS::from_u8(options & 0b11) else {
        return Err(malformed(packet, "a topic filter asks for QoS 3"));
    };
    let retain_handling = (options >> 4) & 0b11;
    if retain_handling == 3 {
        return Err(malformed(packet, "retain handling 3 is not 0, 1 or 2"));
    }
    Ok(SubscribeFilter {
        filter,
        qos,
        no_local: options & 0b0100 != 0,
        retain_as_published: options & 0b1000 != 0,
        retain_handling,
    })
}

fn read_connect(r: &mut Reader<'_>) -> Result<Connect, CodecError> {
    let protocol = r.str("protocol name")?;
    let level = r.u8("protocol level")?;
    let Some(version) = Version::from_protocol(protocol, level) else {
        return Err(CodecError::UnsupportedProtocol {
            name: protocol.to_owned(),
            level,
        });
    };
    let v5 = version == Version::V5;
    let flags = r.u8("connect flags")?;
    if flags & 1 != 0 {
        return Err(malformed(r.packet, "the reserved connect flag is set"));
    }
    let has_will = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 0b11;
    let will_retain = flags & 0x20 != 0;
    let has_password = flags & 0x40 != 0;
    let has_username = flags & 0x80 != 0;
    if !has_will && (will_qos != 0 || will_retain) {
        return Err(malformed(
            r.packet,
            "will QoS or retain is set without a will",
        ));
    }
    let Some(will_qos) = QoS::from_u8(will_qos) else {
        return Err(malformed(r.packet, "the will asks for QoS 3"));
    };
    if !v5 && has_password && !has_username {
        return Err(malformed(
            r.packet,
            "a password without a user name needs MQTT 5",
        ));
    }
    let keep_alive = r.u16("keep alive")?;
    let props = if v5 {
        props::read(r, props::CONNECT)?
    } else {
        None
    };
    let client_id = r.string("client identifier")?;
    let will = if has_will {
        let props = if v5 {
            props::read(r, props::WILL)?
        } else {
            None
        };
        Some(Will {
            topic: r.string("will topic")?,
            payload: r.binary("will payload")?,
            qos: will_qos,
            retain: will_retain,
            props,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string("user name")?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary("password")?)
    } else {
        None
    };
    Ok(Connect {
        version,
        client_id,
        keep_alive,
        clean_start: flags & 0x02 != 0,
        username,
        password,
        will,
        props,
    })
}
