//! The message that flows along wires.
//!
//! A `Msg` is an `Arc` around an object value with copy-on-write: sending one message to N
//! wires is N pointer copies, and a node that changes a message it shares with another node
//! copies it at that moment (`Arc::make_mut`). That gives Node-RED's rule "every wire sees its
//! own copy" without cloning on every fan-out.
//!
//! A message may also carry a [`Receipt`]: a source that must not acknowledge its input
//! before the flow has let go of it (an MQTT QoS 1 subscription) attaches one, and every copy
//! shares it. When the last copy is dropped, or a node that takes over durability (mqtt out,
//! a node that holds messages) releases it, the receipt's value is dropped and its `Drop`
//! sends the acknowledgement.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::path::{PropPath, SetError};
use crate::value::{Map, Value};

/// Property under which Node-RED keeps a message's id.
pub const MSGID: &str = "_msgid";

/// A flow message: an ordered object of properties, shared copy-on-write.
#[derive(Clone)]
pub struct Msg(Arc<Value>, Option<Receipt>);

/// Something to drop once nobody holds the message any more (see the module doc).
#[derive(Clone)]
pub struct Receipt {
    /// Held only for its `Drop`.
    _on_release: Arc<dyn Any + Send + Sync>,
}

impl Receipt {
    /// Wraps the value whose `Drop` acknowledges the message.
    pub fn new(on_release: impl Any + Send + Sync) -> Self {
        Self {
            _on_release: Arc::new(on_release),
        }
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receipt")
    }
}

/// Messages are equal when their properties are; receipts are bookkeeping.
impl PartialEq for Msg {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Default for Msg {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_json_string())
    }
}

impl Msg {
    /// An empty message without an id (one is assigned when it is first sent).
    pub fn new() -> Self {
        Self(Arc::new(Value::Object(Map::new())), None)
    }

    /// A message with only a payload.
    pub fn with_payload(payload: impl Into<Value>) -> Self {
        let mut map = Map::with_capacity(2);
        map.insert("payload".to_owned(), payload.into());
        Self::from_map(map)
    }

    /// Wraps an object's properties as a message.
    pub fn from_map(map: Map) -> Self {
        Self(Arc::new(Value::Object(map)), None)
    }

    /// A message from any value: objects become the message, anything else is rejected
    /// (Node-RED's "non-message-returned").
    pub fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Object(map) => Ok(Self::from_map(map)),
            other => Err(other),
        }
    }

    /// Attaches a receipt, shared by every copy made from now on.
    #[must_use]
    pub fn with_receipt(mut self, receipt: Receipt) -> Self {
        self.1 = Some(receipt);
        self
    }

    /// The receipt this message carries, to share with messages built from it.
    pub fn receipt(&self) -> Option<&Receipt> {
        self.1.as_ref()
    }

    /// Takes the receipt off this copy (it is released once no other copy holds it).
    pub fn take_receipt(&mut self) -> Option<Receipt> {
        self.1.take()
    }

    /// For a node that keeps messages for later (delay, trigger, join, batch, sort): the
    /// source acknowledges the message now instead of when the node lets go of it, so held
    /// messages never stall a broker's in-flight window.
    pub fn release_receipt(&mut self) {
        self.1 = None;
    }

    /// Moves this message's receipt onto `other`, a message built to replace it.
    pub fn pass_receipt_to(&mut self, other: &mut Msg) {
        if let Some(receipt) = self.1.take() {
            other.1 = Some(receipt);
        }
    }

    /// The message as an object value (`msg` itself, for property paths and expressions).
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    /// The message's properties.
    pub fn map(&self) -> &Map {
        match &*self.0 {
            Value::Object(map) => map,
            _ => unreachable_object(),
        }
    }

    /// Mutable access; copies the message first if another holder shares it.
    pub fn map_mut(&mut self) -> &mut Map {
        match Arc::make_mut(&mut self.0) {
            Value::Object(map) => map,
            _ => unreachable_object(),
        }
    }

    /// Consumes the message into its properties, copying only if shared.
    pub fn into_map(self) -> Map {
        match Arc::try_unwrap(self.0) {
            Ok(Value::Object(map)) => map,
            Ok(_) => unreachable_object(),
            Err(shared) => match &*shared {
                Value::Object(map) => map.clone(),
                _ => unreachable_object(),
            },
        }
    }

    /// Consumes the message into an object value.
    pub fn into_value(self) -> Value {
        Value::Object(self.into_map())
    }

    /// A top-level property.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map().get(key)
    }

    /// Sets a top-level property, keeping its position when it already exists.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.map_mut().insert(key.into(), value.into());
    }

    /// Removes a top-level property, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        if self.map().contains_key(key) {
            self.map_mut().shift_remove(key)
        } else {
            None
        }
    }

    /// `msg.payload`, if present.
    pub fn payload(&self) -> Option<&Value> {
        self.get("payload")
    }

    /// `msg._msgid`, if present.
    pub fn msgid(&self) -> Option<&str> {
        self.get(MSGID).and_then(Value::as_str)
    }

    /// Gives the message an id if it has none (Node-RED does this on receive and on send).
    pub fn ensure_msgid(&mut self) {
        if !matches!(self.get(MSGID), Some(Value::String(_))) {
            self.insert(MSGID, new_msgid());
        }
    }

    /// Reads a property path such as `payload.a[0]["b"]` or `msg[msg.topic]`.
    pub fn get_path(&self, path: &PropPath) -> Option<&Value> {
        self.0.get_path(path, &self.0)
    }

    /// Writes a property path, creating missing objects and arrays on the way.
    pub fn set_path(&mut self, path: &PropPath, value: Value) -> Result<(), SetError> {
        let resolved = path.resolve(&self.0)?;
        Arc::make_mut(&mut self.0).set_path(&resolved, value, &Value::Null)
    }

    /// Deletes a property path; returns the removed value.
    pub fn delete_path(&mut self, path: &PropPath) -> Option<Value> {
        let resolved = path.resolve(&self.0).ok()?;
        self.get_path(&resolved)?;
        Arc::make_mut(&mut self.0).delete_path(&resolved, &Value::Null)
    }

    /// Compact JSON text as `JSON.stringify(msg)` gives.
    pub fn to_json_string(&self) -> String {
        self.0.to_json_string()
    }

    /// True when two handles point at the same message (no copy was made).
    pub fn shares_with(&self, other: &Msg) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl From<Map> for Msg {
    fn from(map: Map) -> Self {
        Self::from_map(map)
    }
}

impl TryFrom<serde_json::Value> for Msg {
    type Error = Value;
    fn try_from(json: serde_json::Value) -> Result<Self, Value> {
        Self::from_value(Value::from(json))
    }
}

impl serde::Serialize for Msg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cold]
fn unreachable_object() -> ! {
    // Every constructor wraps an object; no API hands out the inner value mutably as a
    // non-object, so this cannot be reached from input.
    unreachable!("a Msg always wraps an object")
}

/// A new id: 16 lowercase hex characters from 8 random bytes, like `RED.util.generateId()`.
pub fn new_msgid() -> String {
    format!("{:016x}", fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgid_is_sixteen_lowercase_hex_characters() {
        let mut msg = Msg::new();
        msg.ensure_msgid();
        let id = msg.msgid().expect("id assigned");
        assert_eq!(id.len(), 16);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn a_clone_shares_until_one_side_writes() {
        let mut a = Msg::with_payload("x");
        let b = a.clone();
        assert!(a.shares_with(&b));
        a.insert("topic", "t");
        assert!(!a.shares_with(&b));
        assert_eq!(b.get("topic"), None);
        assert_eq!(a.get("topic"), Some(&Value::from("t")));
    }

    #[test]
    fn a_receipt_is_released_when_the_last_copy_lets_go() {
        struct Flag(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let released = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let msg = Msg::with_payload(1).with_receipt(Receipt::new(Flag(Arc::clone(&released))));
        let mut copy = msg.clone();
        copy.insert("topic", "changed");
        drop(msg);
        assert!(!released.load(std::sync::atomic::Ordering::SeqCst));
        let mut replacement = Msg::with_payload(2);
        copy.pass_receipt_to(&mut replacement);
        drop(copy);
        assert!(!released.load(std::sync::atomic::Ordering::SeqCst));
        drop(replacement.take_receipt());
        assert!(released.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn nested_paths_resolve_against_the_message() {
        let mut msg =
            Msg::try_from(serde_json::json!({"topic": "k", "payload": {"k": 1}})).expect("object");
        let path = PropPath::parse_msg("payload[msg.topic]").expect("valid");
        assert_eq!(msg.get_path(&path), Some(&Value::from(1)));
        msg.set_path(&path, Value::from(2)).expect("set");
        assert_eq!(msg.get_path(&path), Some(&Value::from(2)));
        assert_eq!(msg.delete_path(&path), Some(Value::from(2)));
        assert_eq!(msg.get_path(&path), None);
    }
}
