//! The events bus: what the editor's `/comms` websocket, status nodes and loggers listen to.
//!
//! Topics and payloads are Node-RED's (`debug`, `status/<id>`, `notification/runtime-state`).
//! Publishing never waits: a listener that falls behind loses the oldest events and is told
//! how many (tokio's broadcast `Lagged`), so a slow browser cannot stall a flow.

use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Value as Json, json};
use tokio::sync::broadcast;

use crate::value::{Value, format_number};

/// Events kept for listeners that are slow (beyond this they lose the oldest).
const BUS_CAPACITY: usize = 4096;

/// One message on the bus, as `/comms` sends it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CommsMessage {
    pub topic: String,
    pub data: Json,
}

/// The bus. Retained topics (status, runtime state) are replayed to new subscribers.
#[derive(Debug)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<CommsMessage>>,
    retained: Mutex<IndexMap<String, Json>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BUS_CAPACITY);
        Self {
            tx,
            retained: Mutex::default(),
        }
    }

    /// Publishes an event; with `retain` it also replaces the topic's retained value.
    pub fn publish(&self, topic: impl Into<String>, data: Json, retain: bool) {
        let topic = topic.into();
        if retain {
            self.retained_map().insert(topic.clone(), data.clone());
        }
        // No listener is fine: nobody is watching.
        let _ = self.tx.send(Arc::new(CommsMessage { topic, data }));
    }

    /// Drops a retained topic without publishing anything.
    pub fn forget(&self, topic: &str) -> bool {
        self.retained_map().shift_remove(topic).is_some()
    }

    /// Drops a retained topic and, when there was one, tells listeners with an empty
    /// object (how the editor clears a status badge).
    pub fn clear(&self, topic: String) {
        if self.forget(&topic) {
            self.publish(topic, serde_json::json!({}), false);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommsMessage>> {
        self.tx.subscribe()
    }

    /// Retained messages whose topic matches an MQTT-like filter (`+`, trailing `#`).
    pub fn retained(&self, filter: &str) -> Vec<CommsMessage> {
        self.retained_map()
            .iter()
            .filter(|(topic, _)| topic_matches(filter, topic))
            .map(|(topic, data)| CommsMessage {
                topic: topic.clone(),
                data: data.clone(),
            })
            .collect()
    }

    fn retained_map(&self) -> std::sync::MutexGuard<'_, IndexMap<String, Json>> {
        self.retained
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `+` matches one level, a trailing `#` any depth (the editor's subscription filters).
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Node-RED's `encodeObject`: how the debug sidebar receives a value: `(msg, format)`.
pub fn encode_debug(value: Option<&Value>, max_length: usize) -> (String, String) {
    match value {
        None => ("(undefined)".to_owned(), "undefined".to_owned()),
        Some(Value::Null) => ("(undefined)".to_owned(), "null".to_owned()),
        Some(Value::String(s)) => {
            let len = s.encode_utf16().count();
            (truncate(s, max_length), format!("string[{len}]"))
        }
        Some(Value::Int(i)) => (i.to_string(), "number".to_owned()),
        Some(Value::Float(f)) => (format_number(*f), "number".to_owned()),
        Some(Value::Bool(b)) => (b.to_string(), "boolean".to_owned()),
        Some(Value::Bytes(b)) => {
            // Hex text cut at the limit (in characters, not bytes), without an ellipsis.
            let shown = &b[..b.len().min(max_length.div_ceil(2))];
            let mut hex: String = shown.iter().map(|byte| format!("{byte:02x}")).collect();
            hex.truncate(max_length);
            (hex, format!("buffer[{}]", b.len()))
        }
        Some(Value::Array(items)) => {
            let json = if items.len() > max_length {
                json!({
                    "__enc__": true,
                    "type": "array",
                    "data": items.iter().take(max_length).map(|v| debug_json(v, max_length)).collect::<Vec<_>>(),
                    "length": items.len(),
                })
            } else {
                Json::Array(items.iter().map(|v| debug_json(v, max_length)).collect())
            };
            (json.to_string(), format!("array[{}]", items.len()))
        }
        Some(v @ Value::Object(_)) => (debug_json(v, max_length).to_string(), "Object".to_owned()),
    }
}

/// A value inside an encoded object: Buffers and non-finite numbers get `__enc__` forms,
/// long strings are cut.
fn debug_json(value: &Value, max_length: usize) -> Json {
    match value {
        Value::Bytes(b) => json!({
            "type": "Buffer",
            "data": b.iter().take(max_length).collect::<Vec<_>>(),
            "__enc__": true,
            "length": b.len(),
        }),
        Value::Float(f) if !f.is_finite() => {
            json!({"__enc__": true, "type": "number", "data": format_number(*f)})
        }
        Value::String(s) => Json::String(truncate(s, max_length)),
        Value::Array(items) if items.len() > max_length => json!({
            "__enc__": true,
            "type": "array",
            "data": items.iter().take(max_length).map(|v| debug_json(v, max_length)).collect::<Vec<_>>(),
            "length": items.len(),
        }),
        Value::Array(items) => {
            Json::Array(items.iter().map(|v| debug_json(v, max_length)).collect())
        }
        Value::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), debug_json(v, max_length)))
                .collect(),
        ),
        other => other.to_json(),
    }
}

fn truncate(s: &str, max_length: usize) -> String {
    match s.char_indices().nth(max_length) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_encoding_matches_node_red_formats() {
        assert_eq!(
            encode_debug(Some(&Value::from("test")), 1000),
            ("test".into(), "string[4]".into())
        );
        assert_eq!(
            encode_debug(Some(&Value::from(7)), 1000),
            ("7".into(), "number".into())
        );
        assert_eq!(
            encode_debug(None, 1000),
            ("(undefined)".into(), "undefined".into())
        );
        assert_eq!(
            encode_debug(
                Some(&Value::Bytes(bytes::Bytes::from_static(&[1, 171]))),
                1000
            ),
            ("01ab".into(), "buffer[2]".into())
        );
        let obj = Value::from(json!({"payload": "test"}));
        assert_eq!(
            encode_debug(Some(&obj), 1000),
            ("{\"payload\":\"test\"}".into(), "Object".into())
        );
        assert_eq!(
            encode_debug(Some(&Value::from("abcdef")), 3),
            ("abc...".into(), "string[6]".into())
        );
    }

    #[test]
    fn filters_match_like_the_editor_expects() {
        assert!(topic_matches("status/#", "status/n1"));
        assert!(topic_matches(
            "notification/+",
            "notification/runtime-state"
        ));
        assert!(!topic_matches("notification/+", "status/n1"));
    }

    #[test]
    fn retained_topics_are_replayed_and_forgotten() {
        let bus = EventBus::new();
        bus.publish("status/n1", json!({"text": "ok"}), true);
        bus.publish("debug", json!({}), false);
        assert_eq!(bus.retained("status/#").len(), 1);
        assert!(bus.forget("status/n1"));
        assert!(bus.retained("#").is_empty());
    }

    #[test]
    fn clearing_a_retained_topic_tells_listeners_once() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        bus.publish("status/n1", json!({"text": "ok"}), true);
        bus.clear("status/n1".to_owned());
        bus.clear("status/n1".to_owned());
        assert!(bus.retained("#").is_empty());
        assert_eq!(
            rx.try_recv().map(|m| m.data.clone()).ok(),
            Some(json!({"text": "ok"}))
        );
        assert_eq!(rx.try_recv().map(|m| m.data.clone()).ok(), Some(json!({})));
        assert!(
            rx.try_recv().is_err(),
            "nothing was retained the second time"
        );
    }
}
