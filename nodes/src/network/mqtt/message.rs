//! Between flow messages and MQTT PUBLISH packets: how `mqtt in` fills a message and how
//! `mqtt out` turns one into a packet (Node-RED's `subscriptionHandler` and `doPublish` /
//! `publish` in `10-mqtt.js`).

use bytes::Bytes;
use ferrite_runtime::{Map, Msg, NodeError, Value};

use super::codec::{Properties, Publish, QoS};
use super::topic;
use crate::parsers::json;

/// How `mqtt in` turns payload bytes into `msg.payload` (`datatype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    /// Text when the bytes are UTF-8, parsed when that text is JSON, else a Buffer.
    AutoDetect,
    /// Text when the bytes are UTF-8, else a Buffer (the legacy default).
    Auto,
    Buffer,
    Utf8,
    Json,
    Base64,
}

impl Datatype {
    /// Node-RED's runtime default, when the key is missing, is `utf8`.
    pub fn parse(text: &str) -> Self {
        match text {
            "auto-detect" => Self::AutoDetect,
            "auto" => Self::Auto,
            "buffer" => Self::Buffer,
            "json" => Self::Json,
            "base64" => Self::Base64,
            _ => Self::Utf8,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoDetect => "auto-detect",
            Self::Auto => "auto",
            Self::Buffer => "buffer",
            Self::Utf8 => "utf8",
            Self::Json => "json",
            Self::Base64 => "base64",
        }
    }
}

/// What a v5 content type says the payload is (Node-RED's `knownMediaTypes`).
enum MediaKind {
    Text,
    Binary,
    Json,
}

fn media_kind(content_type: &str) -> Option<MediaKind> {
    let lower = content_type.to_ascii_lowercase();
    Some(match lower.as_str() {
        "text/css" | "text/html" | "text/plain" | "application/xml" => MediaKind::Text,
        "application/json" => MediaKind::Json,
        "application/octet-stream"
        | "application/pdf"
        | "application/x-gtar"
        | "application/x-gzip"
        | "application/x-tar"
        | "application/zip"
        | "audio/aac"
        | "audio/ac3"
        | "audio/basic"
        | "audio/mp4"
        | "audio/ogg"
        | "image/bmp"
        | "image/gif"
        | "image/jpeg"
        | "image/tiff"
        | "image/png" => MediaKind::Binary,
        _ => return None,
    })
}

const INVALID_JSON: &str = "Failed to parse JSON string";
const NOT_JSON_TEXT: &str = "Invalid JSON string";

/// The message `mqtt in` sends for a received PUBLISH: `topic`, `payload`, `qos`, `retain`,
/// the v5 properties when the connection is v5, and `_topic` for a local broker. A payload
/// the datatype cannot decode is an error carrying what was received, as in Node-RED.
pub fn incoming(
    publish: &Publish,
    datatype: Datatype,
    v5: bool,
    local_broker: bool,
) -> Result<Msg, NodeError> {
    let mut map = Map::with_capacity(5);
    map.insert("topic".to_owned(), Value::String(publish.topic.clone()));
    map.insert("payload".to_owned(), Value::Null);
    map.insert("qos".to_owned(), Value::Int(publish.qos as i64));
    map.insert("retain".to_owned(), Value::Bool(publish.retain));
    let props = if v5 { publish.props.as_deref() } else { None };
    if let Some(p) = props {
        insert_v5(&mut map, p);
    }
    let utf8_declared = props.and_then(|p| p.payload_format_indicator) == Some(1);
    let content_type = props.and_then(|p| p.content_type.as_deref());
    let bytes = &publish.payload;
    let failed = |text: &str, payload: Value| {
        let mut m = Map::with_capacity(4);
        m.insert("payload".to_owned(), payload);
        m.insert("topic".to_owned(), Value::String(publish.topic.clone()));
        m.insert("qos".to_owned(), Value::Int(publish.qos as i64));
        m.insert("retain".to_owned(), Value::Bool(publish.retain));
        Err(NodeError::new(text).for_msg(Msg::from_map(m)))
    };
    let payload = match datatype {
        Datatype::Buffer => Value::Bytes(bytes.clone()),
        Datatype::Base64 => Value::String(crate::base64::encode(bytes)),
        Datatype::Utf8 => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        Datatype::Json => match std::str::from_utf8(bytes) {
            Ok(text) => match json::parse(text) {
                Ok(value) => value,
                Err(_) => return failed(INVALID_JSON, Value::Bytes(bytes.clone())),
            },
            Err(_) => return failed(NOT_JSON_TEXT, Value::Bytes(bytes.clone())),
        },
        Datatype::Auto | Datatype::AutoDetect => {
            let detect = datatype == Datatype::AutoDetect;
            match content_type.and_then(media_kind) {
                Some(MediaKind::Text) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
                Some(MediaKind::Binary) => Value::Bytes(bytes.clone()),
                Some(MediaKind::Json) => {
                    // The sender declared JSON: text that is not JSON is an error.
                    let text = String::from_utf8_lossy(bytes).into_owned();
                    match json::parse(&text) {
                        Ok(value) if detect => value,
                        Ok(_) => Value::String(text),
                        Err(_) => return failed(INVALID_JSON, Value::String(text)),
                    }
                }
                None => match std::str::from_utf8(bytes) {
                    Ok(text) => auto_text(text, detect),
                    Err(_) if utf8_declared => auto_text(&String::from_utf8_lossy(bytes), detect),
                    Err(_) => Value::Bytes(bytes.clone()),
                },
            }
        }
    };
    map.insert("payload".to_owned(), payload);
    if local_broker {
        map.insert("_topic".to_owned(), Value::String(publish.topic.clone()));
    }
    Ok(Msg::from_map(map))
}

/// Text, or (auto-detect) the JSON it holds when it parses.
fn auto_text(text: &str, detect: bool) -> Value {
    if detect && let Ok(value) = json::parse(text) {
        return value;
    }
    Value::String(text.to_owned())
}

fn insert_v5(map: &mut Map, p: &Properties) {
    if let Some(t) = p.response_topic.as_ref().filter(|t| !t.is_empty()) {
        map.insert("responseTopic".to_owned(), Value::String(t.clone()));
    }
    if let Some(c) = &p.correlation_data {
        map.insert("correlationData".to_owned(), Value::Bytes(c.clone()));
    }
    if let Some(t) = p.content_type.as_ref().filter(|t| !t.is_empty()) {
        map.insert("contentType".to_owned(), Value::String(t.clone()));
    }
    if let Some(e) = p.message_expiry_interval {
        map.insert("messageExpiryInterval".to_owned(), Value::Int(i64::from(e)));
    }
    if let Some(f) = p.payload_format_indicator {
        map.insert("payloadFormatIndicator".to_owned(), Value::Bool(f == 1));
    }
    if let Some(r) = p.reason_string.as_ref().filter(|r| !r.is_empty()) {
        map.insert("reasonString".to_owned(), Value::String(r.clone()));
    }
    if !p.user_properties.is_empty() {
        let mut user = Map::with_capacity(p.user_properties.len());
        for (k, v) in &p.user_properties {
            user.insert(k.clone(), Value::String(v.clone()));
        }
        map.insert("userProperties".to_owned(), Value::Object(user));
    }
}

/// What `mqtt out` sets itself, overriding the message (its config keys).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub topic: String,
    pub qos: Option<QoS>,
    pub retain: bool,
    /// v5 only.
    pub response_topic: String,
    pub correlation_data: String,
    pub content_type: String,
    pub message_expiry: Option<u32>,
    pub user_properties: Vec<(String, String)>,
}

/// Why a message cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("Invalid topic specified: {0}")]
    Topic(String),
}

/// The PUBLISH for a message (Node-RED's `doPublish` + `publish`), or `None` when the
/// message has no `payload` (nothing is published, as in Node-RED).
pub fn outgoing(msg: &Msg, node: &Overrides, v5: bool) -> Result<Option<Publish>, PublishError> {
    let Some(payload) = msg.payload() else {
        return Ok(None);
    };
    let mut topic = if node.topic.is_empty() {
        match msg.get("topic") {
            Some(Value::String(t)) => t.clone(),
            _ => String::new(),
        }
    } else {
        node.topic.clone()
    };
    let qos = node
        .qos
        .or_else(|| msg.get("qos").and_then(qos_of))
        .unwrap_or(QoS::AtMostOnce);
    let retain = node.retain || msg.get("retain").is_some_and(truthy_retain);
    let props = if v5 {
        let p = v5_props(msg, node);
        // Node-RED answers a request without a topic on its response topic.
        if topic.is_empty()
            && let Some(rt) = p.as_ref().and_then(|p| p.response_topic.clone())
        {
            topic = rt;
        }
        p
    } else {
        None
    };
    topic::validate_topic_name(&topic).map_err(|e| PublishError::Topic(e.to_string()))?;
    Ok(Some(Publish {
        dup: false,
        qos,
        retain,
        topic,
        pkid: 0,
        payload: payload_bytes(payload),
        props,
    }))
}

/// `msg.qos` as Node-RED reads it: an integer 0..2 (or its text), anything else ignored.
fn qos_of(value: &Value) -> Option<QoS> {
    let n = match value {
        Value::Int(n) => *n,
        Value::Float(f) if f.fract() == 0.0 => *f as i64,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    QoS::from_u8(u8::try_from(n).ok()?)
}

fn truthy_retain(value: &Value) -> bool {
    matches!(value, Value::Bool(true)) || matches!(value, Value::String(s) if s == "true")
}

/// Node-RED's payload rule: null → "", Buffer raw, object → JSON text, else `String(v)`.
pub fn payload_bytes(payload: &Value) -> Bytes {
    match payload {
        Value::Null => Bytes::new(),
        Value::Bytes(b) => b.clone(),
        Value::String(s) => Bytes::copy_from_slice(s.as_bytes()),
        Value::Object(_) | Value::Array(_) => Bytes::from(payload.to_json_string()),
        other => Bytes::from(other.to_js_string()),
    }
}

/// The v5 PUBLISH properties: the node's settings override the message's.
fn v5_props(msg: &Msg, node: &Overrides) -> Option<Box<Properties>> {
    let text = |key: &str| match msg.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let mut p = Properties {
        response_topic: non_empty(&node.response_topic).or_else(|| text("responseTopic")),
        content_type: non_empty(&node.content_type).or_else(|| text("contentType")),
        correlation_data: non_empty(&node.correlation_data)
            .map(Bytes::from)
            .or_else(|| match msg.get("correlationData") {
                Some(Value::Bytes(b)) => Some(b.clone()),
                Some(Value::String(s)) if !s.is_empty() => Some(Bytes::from(s.clone())),
                _ => None,
            }),
        message_expiry_interval: node.message_expiry.or_else(|| {
            msg.get("messageExpiryInterval")
                .and_then(Value::as_f64)
                .filter(|n| *n >= 0.0 && *n <= f64::from(u32::MAX))
                .map(|n| n as u32)
        }),
        payload_format_indicator: match msg.get("payloadFormatIndicator") {
            Some(Value::Bool(b)) => Some(u8::from(*b)),
            Some(Value::String(s)) if s == "true" => Some(1),
            Some(Value::String(s)) if s == "false" => Some(0),
            _ => None,
        },
        ..Properties::default()
    };
    p.user_properties = if node.user_properties.is_empty() {
        match msg.get("userProperties") {
            Some(Value::Object(map)) => user_properties(map),
            _ => Vec::new(),
        }
    } else {
        node.user_properties.clone()
    };
    (p != Properties::default()).then(|| Box::new(p))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Node-RED's `setUserProperties`: strings as they are, other values as JSON text, null and
/// undefined left out.
pub fn user_properties(map: &Map) -> Vec<(String, String)> {
    map.iter()
        .filter_map(|(k, v)| match v {
            Value::Null => None,
            Value::String(s) => Some((k.clone(), s.clone())),
            other => Some((k.clone(), other.to_json_string())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(payload: &[u8]) -> Publish {
        Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "a/b".into(),
            pkid: 7,
            payload: Bytes::copy_from_slice(payload),
            props: None,
        }
    }

    fn payload_of(bytes: &[u8], datatype: Datatype) -> Value {
        incoming(&publish(bytes), datatype, false, false)
            .expect("decoded")
            .payload()
            .cloned()
            .expect("payload")
    }

    #[test]
    fn datatypes_decode_as_node_red_does() {
        let json = br#"{"a":1}"#;
        assert_eq!(payload_of(json, Datatype::Utf8), Value::from(r#"{"a":1}"#));
        assert_eq!(
            payload_of(json, Datatype::AutoDetect).to_json_string(),
            r#"{"a":1}"#
        );
        assert_eq!(payload_of(json, Datatype::Auto), Value::from(r#"{"a":1}"#));
        assert_eq!(
            payload_of(b"plain", Datatype::AutoDetect),
            Value::from("plain")
        );
        assert_eq!(payload_of(b"42", Datatype::AutoDetect), Value::from(42));
        assert_eq!(
            payload_of(&[0xff, 0x00], Datatype::Auto),
            Value::Bytes(Bytes::from_static(&[0xff, 0x00]))
        );
        assert_eq!(payload_of(b"hi", Datatype::Base64), Value::from("aGk="));
        assert_eq!(
            payload_of(b"hi", Datatype::Buffer),
            Value::Bytes(Bytes::from_static(b"hi"))
        );
    }

    #[test]
    fn invalid_json_is_an_error_with_what_arrived() {
        let err = incoming(&publish(b"{nope"), Datatype::Json, false, false).expect_err("error");
        assert_eq!(err.message, "Failed to parse JSON string");
        let msg = err.msg.expect("carries the message");
        assert_eq!(msg.get("topic"), Some(&Value::from("a/b")));
        let err = incoming(&publish(&[0xff]), Datatype::Json, false, false).expect_err("error");
        assert_eq!(err.message, "Invalid JSON string");
    }

    #[test]
    fn message_keys_come_in_node_red_order() {
        let msg = incoming(&publish(b"x"), Datatype::Utf8, false, true).expect("msg");
        let keys: Vec<&str> = msg.map().keys().map(String::as_str).collect();
        assert_eq!(keys, ["topic", "payload", "qos", "retain", "_topic"]);
    }

    #[test]
    fn payloads_become_bytes_as_node_red_publishes_them() {
        let msg = |payload: serde_json::Value| {
            Msg::try_from(serde_json::json!({"topic": "t", "payload": payload})).expect("object")
        };
        let out = |m: &Msg| {
            outgoing(m, &Overrides::default(), false)
                .expect("valid")
                .expect("published")
                .payload
        };
        assert_eq!(out(&msg(serde_json::json!({"a": 1}))), "{\"a\":1}");
        assert_eq!(out(&msg(serde_json::json!(1.5))), "1.5");
        assert_eq!(out(&msg(serde_json::json!(true))), "true");
        assert_eq!(out(&msg(serde_json::json!(null))), "");
        let nothing = Msg::try_from(serde_json::json!({"topic": "t"})).expect("object");
        assert_eq!(outgoing(&nothing, &Overrides::default(), false), Ok(None));
    }

    #[test]
    fn node_settings_override_the_message() {
        let m = Msg::try_from(serde_json::json!({
            "topic": "from/msg", "payload": 1, "qos": "1", "retain": "true"
        }))
        .expect("object");
        let p = outgoing(&m, &Overrides::default(), false)
            .expect("valid")
            .expect("published");
        assert_eq!(
            (p.topic.as_str(), p.qos, p.retain),
            ("from/msg", QoS::AtLeastOnce, true)
        );
        let node = Overrides {
            topic: "from/node".into(),
            qos: Some(QoS::ExactlyOnce),
            ..Overrides::default()
        };
        let p = outgoing(&m, &node, false)
            .expect("valid")
            .expect("published");
        assert_eq!((p.topic.as_str(), p.qos), ("from/node", QoS::ExactlyOnce));
    }

    #[test]
    fn wildcards_and_empty_topics_are_refused() {
        for topic in ["", "a/+/b", "a/#"] {
            let m = Msg::try_from(serde_json::json!({"topic": topic, "payload": 1})).expect("o");
            assert!(
                outgoing(&m, &Overrides::default(), false).is_err(),
                "{topic}"
            );
        }
    }

    #[test]
    fn v5_properties_travel_both_ways() {
        let m = Msg::try_from(serde_json::json!({
            "topic": "req", "payload": "x", "responseTopic": "res/1",
            "correlationData": "c1", "contentType": "text/plain",
            "messageExpiryInterval": 30, "userProperties": {"a": "1", "n": 2}
        }))
        .expect("object");
        let p = outgoing(&m, &Overrides::default(), true)
            .expect("valid")
            .expect("published");
        let props = p.props.as_deref().expect("props");
        assert_eq!(props.response_topic.as_deref(), Some("res/1"));
        assert_eq!(props.correlation_data.as_deref(), Some(&b"c1"[..]));
        assert_eq!(props.message_expiry_interval, Some(30));
        assert_eq!(
            props.user_properties,
            [
                ("a".to_owned(), "1".to_owned()),
                ("n".to_owned(), "2".to_owned())
            ]
        );
        let back = incoming(&p, Datatype::Utf8, true, false).expect("msg");
        assert_eq!(back.get("responseTopic"), Some(&Value::from("res/1")));
        assert_eq!(
            back.get("correlationData"),
            Some(&Value::Bytes(Bytes::from_static(b"c1")))
        );
        assert_eq!(back.get("contentType"), Some(&Value::from("text/plain")));
        // Without v5 nothing of it is sent.
        let p = outgoing(&m, &Overrides::default(), false)
            .expect("valid")
            .expect("published");
        assert!(p.props.is_none());
    }
}
