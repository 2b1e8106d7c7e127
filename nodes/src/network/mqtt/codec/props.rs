//! MQTT 5 properties (spec 2.2.2): identifiers, value types, which packet may carry which,
//! and the value checks the spec calls protocol errors.

use super::wire::{self, Counter, Reader, Sink, VARINT_MAX, malformed};
use super::{CodecError, Properties, Props};

const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
const CONTENT_TYPE: u8 = 0x03;
const RESPONSE_TOPIC: u8 = 0x08;
const CORRELATION_DATA: u8 = 0x09;
const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
const SERVER_KEEP_ALIVE: u8 = 0x13;
const AUTHENTICATION_METHOD: u8 = 0x15;
const AUTHENTICATION_DATA: u8 = 0x16;
const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
const WILL_DELAY_INTERVAL: u8 = 0x18;
const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
const RESPONSE_INFORMATION: u8 = 0x1A;
const SERVER_REFERENCE: u8 = 0x1C;
const REASON_STRING: u8 = 0x1F;
const RECEIVE_MAXIMUM: u8 = 0x21;
const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
const TOPIC_ALIAS: u8 = 0x23;
const MAXIMUM_QOS: u8 = 0x24;
const RETAIN_AVAILABLE: u8 = 0x25;
const USER_PROPERTY: u8 = 0x26;
const MAXIMUM_PACKET_SIZE: u8 = 0x27;
const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;

fn name(id: u8) -> Option<&'static str> {
    Some(match id {
        PAYLOAD_FORMAT_INDICATOR => "Payload Format Indicator",
        MESSAGE_EXPIRY_INTERVAL => "Message Expiry Interval",
        CONTENT_TYPE => "Content Type",
        RESPONSE_TOPIC => "Response Topic",
        CORRELATION_DATA => "Correlation Data",
        SUBSCRIPTION_IDENTIFIER => "Subscription Identifier",
        SESSION_EXPIRY_INTERVAL => "Session Expiry Interval",
        ASSIGNED_CLIENT_IDENTIFIER => "Assigned Client Identifier",
        SERVER_KEEP_ALIVE => "Server Keep Alive",
        AUTHENTICATION_METHOD => "Authentication Method",
        AUTHENTICATION_DATA => "Authentication Data",
        REQUEST_PROBLEM_INFORMATION => "Request Problem Information",
        WILL_DELAY_INTERVAL => "Will Delay Interval",
        REQUEST_RESPONSE_INFORMATION => "Request Response Information",
        RESPONSE_INFORMATION => "Response Information",
        SERVER_REFERENCE => "Server Reference",
        REASON_STRING => "Reason String",
        RECEIVE_MAXIMUM => "Receive Maximum",
        TOPIC_ALIAS_MAXIMUM => "Topic Alias Maximum",
        TOPIC_ALIAS => "Topic Alias",
        MAXIMUM_QOS => "Maximum QoS",
        RETAIN_AVAILABLE => "Retain Available",
        USER_PROPERTY => "User Property",
        MAXIMUM_PACKET_SIZE => "Maximum Packet Size",
        WILDCARD_SUBSCRIPTION_AVAILABLE => "Wildcard Subscription Available",
        SUBSCRIPTION_IDENTIFIER_AVAILABLE => "Subscription Identifier Available",
        SHARED_SUBSCRIPTION_AVAILABLE => "Shared Subscription Available",
        _ => return None,
    })
}

/// A set of property identifiers (all are below 64).
#[derive(Clone, Copy)]
pub(super) struct Allowed(u64);

impl Allowed {
    const fn of(ids: &[u8]) -> Self {
        let mut bits = 1 << USER_PROPERTY;
        let mut i = 0;
        while i < ids.len() {
            bits |= 1 << ids[i];
            i += 1;
        }
        Self(bits)
    }

    fn contains(self, id: usize) -> bool {
        id < 64 && self.0 & (1 << id) != 0
    }
}

// Which packet may carry which property (spec 2.2.2.2); User Property goes everywhere.
pub(super) const CONNECT: Allowed = Allowed::of(&[
    SESSION_EXPIRY_INTERVAL,
    AUTHENTICATION_METHOD,
    AUTHENTICATION_DATA,
    REQUEST_PROBLEM_INFORMATION,
    REQUEST_RESPONSE_INFORMATION,
    RECEIVE_MAXIMUM,
    TOPIC_ALIAS_MAXIMUM,
    MAXIMUM_PACKET_SIZE,
]);
pub(super) const WILL: Allowed = Allowed::of(&[
    PAYLOAD_FORMAT_INDICATOR,
    MESSAGE_EXPIRY_INTERVAL,
    CONTENT_TYPE,
    RESPONSE_TOPIC,
    CORRELATION_DATA,
    WILL_DELAY_INTERVAL,
]);
pub(super) const CONNACK: Allowed = Allowed::of(&[
    SESSION_EXPIRY_INTERVAL,
    ASSIGNED_CLIENT_IDENTIFIER,
    SERVER_KEEP_ALIVE,
    AUTHENTICATION_METHOD,
    AUTHENTICATION_DATA,
    RESPONSE_INFORMATION,
    SERVER_REFERENCE,
    REASON_STRING,
    RECEIVE_MAXIMUM,
    TOPIC_ALIAS_MAXIMUM,
    MAXIMUM_QOS,
    RETAIN_AVAILABLE,
    MAXIMUM_PACKET_SIZE,
    WILDCARD_SUBSCRIPTION_AVAILABLE,
    SUBSCRIPTION_IDENTIFIER_AVAILABLE,
    SHARED_SUBSCRIPTION_AVAILABLE,
]);
pub(super) const PUBLISH: Allowed = Allowed::of(&[
    PAYLOAD_FORMAT_INDICATOR,
    MESSAGE_EXPIRY_INTERVAL,
    CONTENT_TYPE,
    RESPONSE_TOPIC,
    CORRELATION_DATA,
    SUBSCRIPTION_IDENTIFIER,
    TOPIC_ALIAS,
]);
/// PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
pub(super) const ACK: Allowed = Allowed::of(&[REASON_STRING]);
pub(super) const SUBSCRIBE: Allowed = Allowed::of(&[SUBSCRIPTION_IDENTIFIER]);
pub(super) const UNSUBSCRIBE: Allowed = Allowed::of(&[]);
pub(super) const DISCONNECT: Allowed =
    Allowed::of(&[SESSION_EXPIRY_INTERVAL, SERVER_REFERENCE, REASON_STRING]);
pub(super) const AUTH: Allowed =
    Allowed::of(&[AUTHENTICATION_METHOD, AUTHENTICATION_DATA, REASON_STRING]);

/// Reads a property length and the properties after it; none at all is `None`.
pub(super) fn read(r: &mut Reader<'_>, allowed: Allowed) -> Result<Props, CodecError> {
    let len = r.varint("property length")?;
    if len == 0 {
        return Ok(None);
    }
    let mut r = r.sub(len, "properties")?;
    let mut p = Properties::default();
    while !r.is_empty() {
        let id = r.varint("property identifier")?;
        if !allowed.contains(id) {
            return Err(match u8::try_from(id).ok().and_then(name) {
                Some(name) => malformed(
                    r.packet,
                    format!("property {name} (0x{id:02X}) is not allowed here"),
                ),
                None => unknown(r.packet, id),
            });
        }
        // `allowed` only holds identifiers below 64.
        let id = id as u8;
        let r = &mut r;
        match id {
            PAYLOAD_FORMAT_INDICATOR => once(r, id, &mut p.payload_format_indicator, flag)?,
            MESSAGE_EXPIRY_INTERVAL => once(r, id, &mut p.message_expiry_interval, Reader::u32)?,
            CONTENT_TYPE => once(r, id, &mut p.content_type, Reader::string)?,
            RESPONSE_TOPIC => once(r, id, &mut p.response_topic, Reader::string)?,
            CORRELATION_DATA => once(r, id, &mut p.correlation_data, Reader::binary)?,
            SUBSCRIPTION_IDENTIFIER => {
                let v = nonzero(r, prop_name(id), Reader::varint)?;
                // A variable byte integer is at most VARINT_MAX, which fits in u32.
                p.subscription_identifiers.push(v as u32);
            }
            SESSION_EXPIRY_INTERVAL => once(r, id, &mut p.session_expiry_interval, Reader::u32)?,
            ASSIGNED_CLIENT_IDENTIFIER => {
                once(r, id, &mut p.assigned_client_identifier, Reader::string)?
            }
            SERVER_KEEP_ALIVE => once(r, id, &mut p.server_keep_alive, Reader::u16)?,
            AUTHENTICATION_METHOD => once(r, id, &mut p.authentication_method, Reader::string)?,
            AUTHENTICATION_DATA => once(r, id, &mut p.authentication_data, Reader::binary)?,
            REQUEST_PROBLEM_INFORMATION => once(r, id, &mut p.request_problem_information, flag)?,
            WILL_DELAY_INTERVAL => once(r, id, &mut p.will_delay_interval, Reader::u32)?,
            REQUEST_RESPONSE_INFORMATION => once(r, id, &mut p.request_response_information, flag)?,
            RESPONSE_INFORMATION => once(r, id, &mut p.response_information, Reader::string)?,
            SERVER_REFERENCE => once(r, id, &mut p.server_reference, Reader::string)?,
            REASON_STRING => once(r, id, &mut p.reason_string, Reader::string)?,
            RECEIVE_MAXIMUM => once(r, id, &mut p.receive_maximum, nonzero_u16)?,
            TOPIC_ALIAS_MAXIMUM => once(r, id, &mut p.topic_alias_maximum, Reader::u16)?,
            TOPIC_ALIAS => once(r, id, &mut p.topic_alias, nonzero_u16)?,
            MAXIMUM_QOS => once(r, id, &mut p.maximum_qos, flag)?,
            RETAIN_AVAILABLE => once(r, id, &mut p.retain_available, flag)?,
            USER_PROPERTY => {
                let key = r.string("User Property name")?;
                let value = r.string("User Property value")?;
                p.user_properties.push((key, value));
            }
            MAXIMUM_PACKET_SIZE => once(r, id, &mut p.maximum_packet_size, |r, what| {
                nonzero(r, what, Reader::u32)
            })?,
            WILDCARD_SUBSCRIPTION_AVAILABLE => {
                once(r, id, &mut p.wildcard_subscription_available, flag)?
            }
            SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                once(r, id, &mut p.subscription_identifier_available, flag)?
            }
            SHARED_SUBSCRIPTION_AVAILABLE => {
                once(r, id, &mut p.shared_subscription_available, flag)?
            }
            // `allowed` holds only the identifiers above.
            _ => return Err(unknown(r.packet, id.into())),
        }
    }
    Ok(Some(Box::new(p)))
}

fn unknown(packet: &'static str, id: usize) -> CodecError {
    malformed(packet, format!("unknown property identifier 0x{id:02X}"))
}

fn prop_name(id: u8) -> &'static str {
    name(id).unwrap_or("?")
}

/// Reads a property that may appear at most once; `value` reads it, given its name.
fn once<'a, T>(
    r: &mut Reader<'a>,
    id: u8,
    slot: &mut Option<T>,
    value: impl FnOnce(&mut Reader<'a>, &'static str) -> Result<T, CodecError>,
) -> Result<(), CodecError> {
    let what = prop_name(id);
    if slot.is_some() {
        return Err(malformed(
            r.packet,
            format!("property {what} appears twice"),
        ));
    }
    *slot = Some(value(r, what)?);
    Ok(())
}

/// A byte property whose only values are 0 and 1.
fn flag(r: &mut Reader<'_>, what: &'static str) -> Result<u8, CodecError> {
    match r.u8(what)? {
        v @ (0 | 1) => Ok(v),
        v => Err(malformed(
            r.packet,
            format!("property {what} is {v}; it can only be 0 or 1"),
        )),
    }
}

/// A property for which the spec calls 0 a protocol error.
fn nonzero<'a, T: PartialEq + Default>(
    r: &mut Reader<'a>,
    what: &'static str,
    value: impl FnOnce(&mut Reader<'a>, &'static str) -> Result<T, CodecError>,
) -> Result<T, CodecError> {
    let v = value(r, what)?;
    if v == T::default() {
        return Err(malformed(r.packet, format!("property {what} is 0")));
    }
    Ok(v)
}

fn nonzero_u16(r: &mut Reader<'_>, what: &'static str) -> Result<u16, CodecError> {
    nonzero(r, what, Reader::u16)
}

/// Writes a property length and the properties that are set (`None` as length 0).
pub(super) fn write<S: Sink>(
    s: &mut S,
    props: &Props,
    packet: &'static str,
) -> Result<(), CodecError> {
    let Some(p) = props else {
        s.varint(0);
        return Ok(());
    };
    let mut len = Counter::default();
    write_list(&mut len, p, packet)?;
    if len.0 > VARINT_MAX {
        return Err(malformed(
            packet,
            format!("properties of {} bytes do not fit", len.0),
        ));
    }
    s.varint(len.0);
    write_list(s, p, packet)
}

fn write_list<S: Sink>(s: &mut S, p: &Properties, packet: &'static str) -> Result<(), CodecError> {
    let byte = |s: &mut S, id: u8, v: Option<u8>| {
        if let Some(v) = v {
            s.u8(id);
            s.u8(v);
        }
    };
    let two = |s: &mut S, id: u8, v: Option<u16>| {
        if let Some(v) = v {
            s.u8(id);
            s.u16(v);
        }
    };
    let four = |s: &mut S, id: u8, v: Option<u32>| {
        if let Some(v) = v {
            s.u8(id);
            s.u32(v);
        }
    };
    let text = |s: &mut S, id: u8, v: &Option<String>| match v {
        Some(v) => {
            s.u8(id);
            wire::string(s, v, packet, prop_name(id))
        }
        None => Ok(()),
    };
    let bin = |s: &mut S, id: u8, v: &Option<bytes::Bytes>| match v {
        Some(v) => {
            s.u8(id);
            wire::binary(s, v, packet, prop_name(id))
        }
        None => Ok(()),
    };
    byte(s, PAYLOAD_FORMAT_INDICATOR, p.payload_format_indicator);
    four(s, MESSAGE_EXPIRY_INTERVAL, p.message_expiry_interval);
    text(s, CONTENT_TYPE, &p.content_type)?;
    text(s, RESPONSE_TOPIC, &p.response_topic)?;
    bin(s, CORRELATION_DATA, &p.correlation_data)?;
    for &id in &p.subscription_identifiers {
        let id = id as usize;
        if id == 0 || id > VARINT_MAX {
            return Err(malformed(
                packet,
                format!("subscription identifier {id} is outside 1..={VARINT_MAX}"),
            ));
        }
        s.u8(SUBSCRIPTION_IDENTIFIER);
        s.varint(id);
    }
    four(s, SESSION_EXPIRY_INTERVAL, p.session_expiry_interval);
    text(s, ASSIGNED_CLIENT_IDENTIFIER, &p.assigned_client_identifier)?;
    two(s, SERVER_KEEP_ALIVE, p.server_keep_alive);
    text(s, AUTHENTICATION_METHOD, &p.authentication_method)?;
    bin(s, AUTHENTICATION_DATA, &p.authentication_data)?;
    byte(
        s,
        REQUEST_PROBLEM_INFORMATION,
        p.request_problem_information,
    );
    four(s, WILL_DELAY_INTERVAL, p.will_delay_interval);
    byte(
        s,
        REQUEST_RESPONSE_INFORMATION,
        p.request_response_information,
    );
    text(s, RESPONSE_INFORMATION, &p.response_information)?;
    text(s, SERVER_REFERENCE, &p.server_reference)?;
    text(s, REASON_STRING, &p.reason_string)?;
    two(s, RECEIVE_MAXIMUM, p.receive_maximum);
    two(s, TOPIC_ALIAS_MAXIMUM, p.topic_alias_maximum);
    two(s, TOPIC_ALIAS, p.topic_alias);
    byte(s, MAXIMUM_QOS, p.maximum_qos);
    byte(s, RETAIN_AVAILABLE, p.retain_available);
    for (key, value) in &p.user_properties {
        s.u8(USER_PROPERTY);
        wire::string(s, key, packet, "User Property name")?;
        wire::string(s, value, packet, "User Property value")?;
    }
    four(s, MAXIMUM_PACKET_SIZE, p.maximum_packet_size);
    byte(
        s,
        WILDCARD_SUBSCRIPTION_AVAILABLE,
        p.wildcard_subscription_available,
    );
    byte(
        s,
        SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        p.subscription_identifier_available,
    );
    byte(
        s,
        SHARED_SUBSCRIPTION_AVAILABLE,
        p.shared_subscription_available,
    );
    Ok(())
}
