//! `split` — mirrors Node-RED `@node-red/nodes/core/sequence/17-split.js`.
//!
//! Config:
//! * `property` (`"payload"`): the message property to split (a `msg.` path).
//! * `spltType` (`str`) and `splt`: how strings and Buffers are split. `str`: on a separator
//!   (`"\\n"` by default; the escapes `\n \r \t \f \0` are decoded, and `\e` becomes `e`, as
//!   in Node-RED); `bin`: on the bytes of a JSON byte array such as `"[13,10]"` (a string is
//!   split on their UTF-8 text); `len`: into chunks of that many characters or bytes (a
//!   positive integer, read as `parseInt` does).
//! * `arraySplt` (1): arrays are split into chunks of this many elements; a chunk of one is
//!   sent as the element itself.
//! * `stream` (false): strings and Buffers are a stream: what is left after the last
//!   separator (or the last full chunk) is kept and put in front of the next message's
//!   value, indexes keep counting across messages, and no `count` is set.
//! * `addname` (""): for objects, the property (a `msg.` path) that gets each part's key.
//!
//! A bad `splt`, `arraySplt` or path is a deploy error; the node does not run.
//!
//! Reads the `property` value, `parts` and `_msgid`. Each part is a copy of the message
//! without its `_msgid` (so the part gets a new one), with the property set to the piece
//! and `parts` set to `{parts?, id, property?, type, ch?, len?, key?, count?, index}`:
//! `parts.parts` is the input's own `parts` (stacked, so a join can restore it), `id` a new
//! random id shared by the sequence, `property` the configured property unless it is
//! `payload`, `type` `string` / `array` / `object` / `buffer`, `ch` the separator (the byte
//! array for `bin`; `""` for strings split by length), `len` the chunk length (arrays and
//! length splits), `key` the object key. Other value types (numbers, booleans) and messages
//! without the property are dropped; `null` is an error, as `Object.keys(null)` throws in
//! Node-RED. No status.
//!
//! Node-RED quirks kept on purpose: a Buffer split on a separator, not streamed, that ends
//! with the separator sends no empty last part although `count` includes it; string lengths
//! are counted in characters here (JavaScript counts UTF-16 units). An empty separator
//! splits a string into characters (as `String.split("")`) and leaves a Buffer whole
//! (Node-RED loops forever there).
//!
//! Completion (Complete nodes), as Node-RED's `pendingDones`: a streamed string or Buffer
//! split by length, or a streamed Buffer split on a separator, whose data stays in the
//! remainder is done (as the node left it: its last part, or with its own value) when a
//! later input sends a part. A message without the property is never done, as in
//! Node-RED.
//!
//! Cost: the value is taken out of the message once; each part is a copy of the remaining
//! properties plus its piece, never a copy of the whole value.

use ferrite_runtime::msg::{MSGID, new_msgid};
use ferrite_runtime::path::PropPath;
use ferrite_runtime::typed::json_text;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::Value as Json;

pub const DEF: NodeDef = NodeDef {
    type_name: "split",
    category: "sequence",
    set_id: "node-red/split",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// How strings and Buffers are cut.
enum Cut {
    /// On a separator string.
    Str(String),
    /// On a byte sequence; `text` is its UTF-8 reading for strings, `array` the configured
    /// numbers passed on as `parts.ch`.
    Bin {
        bytes: Vec<u8>,
        text: String,
        array: Value,
    },
    /// Into chunks of this length.
    Len(usize),
}

/// The property being split.
struct Target {
    path: PropPath,
    /// Set when the path is one top-level key: the value is then swapped out in place,
    /// keeping the key's position.
    top_key: Option<String>,
}

struct Split {
    target: Target,
    /// The property as configured, for `parts.property`; `None` for `payload`.
    property_name: Option<String>,
    addname: Option<PropPath>,
    cut: Cut,
    array_len: usize,
    stream: bool,
    /// Stream state: the next index, and what is left of the last string / Buffer.
    next_index: i64,
    remainder: String,
    buffer: Vec<u8>,
    /// Stream inputs whose data is still in `remainder` / `buffer`: done (Complete nodes)
    /// once a part is sent from it, as Node-RED's `pendingDones`.
    pending_dones: Vec<Msg>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    let text = |key: &str| raw.get(key).map(json_text).unwrap_or_default();
    let property_text = Some(text("property"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "payload".to_owned());
    let property =
        PropPath::parse_msg(&property_text).map_err(|e| ConfigError::field("property", e))?;
    let top_key = match property.segments() {
        [ferrite_runtime::path::Segment::Key(key)] => Some(key.clone()),
        _ => None,
    };
    let addname = Some(text("addname"))
        .filter(|a| !a.is_empty())
        .map(|a| PropPath::parse_msg(&a).map_err(|e| ConfigError::field("addname", e)))
        .transpose()?;

    // Node-RED: `n.splt || "\\n"`, so only falsy values (missing, "", 0, false) default.
    let splt_falsy = match raw.get("splt") {
        None | Some(Json::Null) => true,
        Some(Json::String(s)) => s.is_empty(),
        Some(Json::Number(n)) => n.as_f64() == Some(0.0),
        Some(Json::Bool(b)) => !b,
        _ => false,
    };
    let splt_type = Some(text("spltType"))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "str".to_owned());
    let cut = match splt_type.as_str() {
        "bin" => {
            let bytes = parse_byte_array(&text("splt"))
                .map_err(|e| ConfigError::field("splt", format!("Invalid split property: {e}")))?;
            let array = Value::Array(bytes.iter().map(|b| Value::Int(i64::from(*b))).collect());
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Cut::Bin { bytes, text, array }
        }
        "len" => {
            let splt = text("splt");
            match js_parse_int(&splt) {
                Some(n) if n >= 1 => Cut::Len(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => {
                    return Err(ConfigError::field(
                        "splt",
                        format!("Invalid split property: invalid split length: {splt}"),
                    ));
                }
            }
        }
        // The editor writes only `str`, `bin` and `len`; anything else reads as `str`.
        _ => {
            let splt = if splt_falsy {
                "\\n".to_owned()
            } else {
                text("splt")
            };
            Cut::Str(unescape(&splt))
        }
    };
    let array_len = match raw.get("arraySplt") {
        None => 1,
        Some(v) => match js_parse_int(&json_text(v)) {
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                return Err(ConfigError::field(
                    "arraySplt",
                    format!(
                        "Invalid split property: invalid array split length: {}",
                        json_text(v)
                    ),
                ));
            }
        },
    };
    let stream = raw
        .get("stream")
        .is_some_and(ferrite_runtime::loose::json_bool);
    Ok(Box::new(Split {
        property_name: (property_text != "payload").then_some(property_text),
        target: Target {
            path: property,
            top_key,
        },
        addname,
        cut,
        array_len,
        stream,
        next_index: 0,
        remainder: String::new(),
        buffer: Vec::new(),
        pending_dones: Vec::new(),
    }))
}

/// Decodes the escapes Node-RED decodes in separators and joiners: `\n \r \t \f \0`, and
/// `\e`, which JavaScript reads as a plain `e`.
pub(crate) fn unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    text.replace("\\n", "\n")
        .replace("\\r", "\r")
        .replace("\\t", "\t")
        .replace("\\e", "e")
        .replace("\\f", "\u{c}")
        .replace("\\0", "\0")
}

/// `Buffer.from(JSON.parse(text))` for a JSON array of numbers (each kept modulo 256, as
/// a Buffer does; non-numbers become 0).
pub(crate) fn parse_byte_array(text: &str) -> Result<Vec<u8>, String> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Array(items)) => Ok(items
            .iter()
            .map(|item| {
                let f = Value::from(item.clone()).to_number();
                // NaN and the infinities give 0; others keep their low eight bits.
                if f.is_finite() {
                    (f.trunc() as i64 & 0xff) as u8
                } else {
                    0
                }
            })
            .collect()),
        Ok(_) => Err("not an array".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// JavaScript `parseInt(text)`: leading white space, a sign, then decimal digits (or hex
/// after `0x`); `None` where it gives NaN.
fn js_parse_int(text: &str) -> Option<i64> {
    let t = text.trim_start();
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, t) = match t.get(..2) {
        Some("0x" | "0X") => (16, &t[2..]),
        _ => (10, t),
    };
    let end = t
        .char_indices()
        .find(|(_, c)| !c.is_digit(radix))
        .map_or(t.len(), |(i, _)| i);
    let digits = &t[..end];
    if digits.is_empty() {
        return None;
    }
    // Beyond i64 the length is absurd anyway: saturate.
    let n = i64::from_str_radix(digits, radix).unwrap_or(i64::MAX);
    Some(if negative { -n } else { n })
}

/// Object keys in JavaScript's enumeration order: array-index keys ascending, then the
/// others in insertion order.
fn js_key_order(map: &Map) -> Vec<&String> {
    ferrite_runtime::value::js_entries(map)
        .map(|(key, _)| key)
        .collect()
}

/// First byte offset of `needle` in `hay` at or after `from`.
fn find_bytes(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits `text` like `String.prototype.split(sep)`.
fn split_str(text: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return text.chars().map(String::from).collect();
    }
    text.split(sep).map(str::to_owned).collect()
}

/// `value.length / len`, rounded up.
fn chunk_count(total: usize, len: usize) -> usize {
    total.div_ceil(len.max(1))
}

fn int(n: usize) -> Value {
    Value::from(n)
}

/// Message ids for the parts of one sequence: random like `RED.util.generateId()`, from a
/// generator seeded with one random id per sequence (formatting a fresh random id per part
/// costs more than the rest of the part).
struct Ids(u64);

impl Ids {
    fn new() -> Self {
        Self(u64::from_str_radix(&new_msgid(), 16).unwrap_or(0x9e37_79b9_7f4a_7c15))
    }

    /// The next id: 16 lowercase hex digits (SplitMix64, so ids do not repeat within
    /// 2^64 parts).
    fn next_id(&mut self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let mut id = String::with_capacity(16);
        for shift in (0..16).rev() {
            id.push(char::from(HEX[((z >> (shift * 4)) & 0xf) as usize]));
        }
        id
    }
}

/// One sequence being sent: the message without its value, and the `parts` template.
struct Parts {
    /// The input without the value; it holds `parts` and `_msgid` keys already, so a part
    /// allocates no key and never grows its table.
    base: Msg,
    parts: Map,
    /// Positions in `base` of the value (a top-level property), `parts` and `_msgid`, so
    /// parts are filled without hashing.
    value_pos: Option<usize>,
    parts_pos: usize,
    msgid_pos: usize,
    /// Position of `index` in `parts`, once set.
    index_pos: Option<usize>,
    ids: Ids,
}

impl Parts {
    /// Sets a `parts` field.
    fn set(&mut self, key: &str, value: Value) {
        match self.parts.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                self.parts.insert(key.to_owned(), value);
                // Clones copy the capacity: keep it tight, or every part's copy is a
                // larger allocation than it needs (above 1 KiB glibc's malloc takes a slow
                // path).
                self.parts.shrink_to_fit();
            }
        }
    }

    /// Sets `parts.index` (per part, so by position).
    fn set_index(&mut self, index: Value) {
        match self.index_pos.and_then(|i| self.parts.get_index_mut(i)) {
            Some((_, slot)) => *slot = index,
            None => {
                self.set("index", index);
                self.index_pos = self.parts.get_index_of("index");
            }
        }
    }

    /// A part: the base message (one copy of its remaining properties) with `value` at the
    /// property (`None` deletes it, as setting `undefined` does), the current `parts` and a
    /// new `_msgid`.
    fn part(&mut self, target: &Target, value: Option<Value>) -> Msg {
        let mut msg = self.base.clone();
        let map = msg.map_mut();
        if let Some((_, slot)) = map.get_index_mut(self.parts_pos) {
            *slot = Value::Object(self.parts.clone());
        }
        if let Some((_, slot)) = map.get_index_mut(self.msgid_pos) {
            *slot = Value::String(self.ids.next_id());
        }
        match (target.top_key.as_deref(), value) {
            (Some(key), Some(value)) => match self.value_pos.and_then(|i| map.get_index_mut(i)) {
                Some((_, slot)) => *slot = value,
                None => {
                    map.insert(key.to_owned(), value);
                }
            },
            (Some(key), None) => {
                map.shift_remove(key);
            }
            (None, Some(value)) => {
                // The parent existed when the value was taken out; a failure leaves the
                // part without the value, as Node-RED's setMessageProperty does.
                let _ = msg.set_path(&target.path, value);
            }
            (None, None) => {
                msg.delete_path(&target.path);
            }
        }
        msg
    }
}

impl Split {
    /// Takes the property's value out of the message, leaving a placeholder for a
    /// top-level key so parts keep the key's position.
    fn take_value(&self, msg: &mut Msg) -> Option<Value> {
        match &self.target.top_key {
            Some(key) => msg.map_mut().get_mut(key.as_str()).map(std::mem::take),
            None => msg.delete_path(&self.target.path),
        }
    }

    /// The base message and `parts` template: the input's `parts` stacked under the new
    /// one, a new sequence id, no `_msgid`.
    fn start(&self, mut msg: Msg, kind: &str) -> Parts {
        let mut parts = Map::with_capacity(8);
        let map = msg.map_mut();
        match map.get_mut("parts") {
            Some(slot) => {
                parts.insert("parts".to_owned(), std::mem::take(slot));
            }
            None => {
                map.insert("parts".to_owned(), Value::Null);
            }
        }
        // The input's id goes; each part gets its own, at the end as `send` would add it.
        map.shift_remove(MSGID);
        map.insert(MSGID.to_owned(), Value::Null);
        parts.insert("id".to_owned(), Value::String(new_msgid()));
        let value_pos = self
            .target
            .top_key
            .as_deref()
            .and_then(|key| map.get_index_of(key));
        let parts_pos = map.get_index_of("parts").unwrap_or_default();
        let msgid_pos = map.len() - 1;
        if let Some(name) = &self.property_name {
            parts.insert("property".to_owned(), Value::String(name.clone()));
        }
        parts.insert("type".to_owned(), Value::from(kind));
        // Every part copies the base: no spare capacity to copy along (see `Parts::set`).
        msg.map_mut().shrink_to_fit();
        Parts {
            base: msg,
            parts,
            value_pos,
            parts_pos,
            msgid_pos,
            index_pos: None,
            ids: Ids::new(),
        }
    }

    /// The input stays pending until a later part is sent; `msg` is what Complete nodes get
    /// then (the input as the node left it: its last part sent, or its own value).
    fn hold(&mut self, msg: Msg, cx: &mut NodeCtx) {
        cx.defer_done();
        self.pending_dones.push(msg);
    }

    /// Completes the inputs held in the stream.
    async fn flush_dones(&mut self, cx: &mut NodeCtx) {
        for held in std::mem::take(&mut self.pending_dones) {
            cx.done(&held).await;
        }
    }

    fn take_index(&mut self) -> Value {
        let index = self.next_index;
        self.next_index += 1;
        Value::Int(index)
    }

    async fn split_string(&mut self, msg: Msg, value: String, cx: &mut NodeCtx) {
        let text = std::mem::take(&mut self.remainder) + value.as_str();
        match &self.cut {
            Cut::Len(len) => {
                let len = *len;
                let mut p = self.start(msg, "string");
                p.set("ch", Value::from(""));
                p.set("len", int(len));
                let chars: Vec<char> = text.chars().collect();
                let count = chunk_count(chars.len(), len);
                if !self.stream {
                    p.set("count", int(count));
                    self.next_index = 0;
                }
                let mut chunks = chars.chunks(len);
                let mut last_sent = None;
                for i in 1..count {
                    let chunk: String = chunks.next().unwrap_or_default().iter().collect();
                    let index = self.take_index();
                    p.set_index(index);
                    let part = p.part(&self.target, Some(Value::String(chunk)));
                    if self.stream && i + 1 == count {
                        last_sent = Some(part.clone());
                    }
                    cx.send(part).await;
                }
                if count > 1 {
                    self.flush_dones(cx).await;
                }
                let rest: String = chunks.flatten().collect();
                if !self.stream || rest.chars().count() == len {
                    let index = self.take_index();
                    p.set_index(index);
                    cx.send(p.part(&self.target, Some(Value::String(rest))))
                        .await;
                    self.flush_dones(cx).await;
                } else {
                    self.remainder = rest;
                    let held = last_sent
                        .unwrap_or_else(|| p.part(&self.target, Some(Value::String(value))));
                    self.hold(held, cx);
                }
            }
            Cut::Str(sep) | Cut::Bin { text: sep, .. } => {
                let pieces = split_str(&text, sep);
                let ch = match &self.cut {
                    Cut::Bin { array, .. } => array.clone(),
                    _ => Value::String(sep.clone()),
                };
                let mut p = self.start(msg, "string");
                p.set("ch", ch);
                let pieces = pieces.into_iter().map(Value::String).collect();
                self.send_pieces(p, pieces, cx).await;
            }
        }
    }

    /// Node-RED's `sendArray`: every piece but the last is sent; the last too unless
    /// streaming, when it becomes the remainder.
    async fn send_pieces(&mut self, mut p: Parts, mut pieces: Vec<Value>, cx: &mut NodeCtx) {
        let count = pieces.len();
        let last = pieces.pop();
        for (i, piece) in pieces.into_iter().enumerate() {
            let index = self.take_index();
            p.set_index(index);
            if i == 0 && !self.stream {
                p.set("count", int(count));
            }
            cx.send(p.part(&self.target, Some(piece))).await;
        }
        if self.stream {
            self.remainder = match last {
                Some(Value::String(s)) => s,
                _ => String::new(),
            };
        } else {
            let index = self.take_index();
            p.set_index(index);
            p.set("count", int(count));
            cx.send(p.part(&self.target, last)).await;
            self.next_index = 0;
        }
    }

    async fn split_array(&mut self, msg: Msg, items: Vec<Value>, cx: &mut NodeCtx) {
        let len = self.array_len;
        let count = chunk_count(items.len(), len);
        let mut p = self.start(msg, "array");
        p.set("count", int(count));
        p.set("len", int(len));
        if len == 1 {
            for (i, item) in items.into_iter().enumerate() {
                p.set_index(int(i));
                cx.send(p.part(&self.target, Some(item))).await;
            }
        } else {
            let mut items = items.into_iter();
            for i in 0..count {
                let chunk: Vec<Value> = items.by_ref().take(len).collect();
                p.set_index(int(i));
                cx.send(p.part(&self.target, Some(Value::Array(chunk))))
                    .await;
            }
        }
    }

    async fn split_object(&mut self, msg: Msg, mut map: Map, cx: &mut NodeCtx) {
        let keys: Vec<String> = js_key_order(&map).into_iter().cloned().collect();
        let count = keys.len();
        let mut p = self.start(msg, "object");
        for (i, key) in keys.into_iter().enumerate() {
            let value = map.swap_remove(&key).unwrap_or_default();
            p.set("key", Value::String(key.clone()));
            p.set_index(int(i));
            if i == 0 {
                p.set("count", int(count));
            }
            let mut part = p.part(&self.target, Some(value));
            if let Some(addname) = &self.addname {
                // After the value, as Node-RED sets it; a failure leaves the part as it is.
                let _ = part.set_path(addname, Value::String(key));
            }
            cx.send(part).await;
        }
    }

    async fn split_buffer(&mut self, msg: Msg, bytes: &[u8], cx: &mut NodeCtx) {
        let mut buff = std::mem::take(&mut self.buffer);
        buff.extend_from_slice(bytes);
        let mut p = self.start(msg, "buffer");
        let buffer_value = |slice: &[u8]| Value::Bytes(slice.to_vec().into());
        if let Cut::Len(len) = self.cut {
            let count = chunk_count(buff.len(), len);
            if !self.stream {
                p.set("count", int(count));
                self.next_index = 0;
            }
            p.set("len", int(len));
            let mut pos = 0;
            let mut last_sent = None;
            for i in 1..count {
                let index = self.take_index();
                p.set_index(index);
                let end = (pos + len).min(buff.len());
                let part = p.part(&self.target, Some(buffer_value(&buff[pos..end])));
                if self.stream && i + 1 == count {
                    last_sent = Some(part.clone());
                }
                cx.send(part).await;
                pos = end;
            }
            if count > 1 {
                self.flush_dones(cx).await;
            }
            let rest = &buff[pos.min(buff.len())..];
            if !self.stream || rest.len() == len {
                let index = self.take_index();
                p.set_index(index);
                cx.send(p.part(&self.target, Some(buffer_value(rest))))
                    .await;
                self.flush_dones(cx).await;
            } else {
                self.buffer = rest.to_vec();
                let held =
                    last_sent.unwrap_or_else(|| p.part(&self.target, Some(buffer_value(bytes))));
                self.hold(held, cx);
            }
            return;
        }
        let (sep, ch): (Vec<u8>, Value) = match &self.cut {
            Cut::Bin { bytes, array, .. } => (bytes.clone(), array.clone()),
            Cut::Str(s) => (s.as_bytes().to_vec(), Value::String(s.clone())),
            Cut::Len(_) => (Vec::new(), Value::Null),
        };
        p.set("ch", ch);
        let mut cuts = Vec::new();
        let mut pos = find_bytes(&buff, &sep, 0);
        while let Some(at) = pos {
            cuts.push(at);
            pos = find_bytes(&buff, &sep, at + sep.len());
        }
        let count = cuts.len() + 1;
        if !self.stream {
            p.set("count", int(count));
            self.next_index = 0;
        }
        let mut start = 0;
        let mut last_sent = None;
        let cut_count = cuts.len();
        for (i, at) in cuts.into_iter().enumerate() {
            let index = self.take_index();
            p.set_index(index);
            let part = p.part(&self.target, Some(buffer_value(&buff[start..at])));
            if self.stream && i + 1 == cut_count {
                last_sent = Some(part.clone());
            }
            cx.send(part).await;
            start = at + sep.len();
        }
        if count > 1 {
            self.flush_dones(cx).await;
        }
        if !self.stream && start < buff.len() {
            let index = self.take_index();
            p.set_index(index.clone());
            // Node-RED sets count from the same counter here: index + 1, which equals the
            // count set above.
            p.set("count", Value::Int(self.next_index));
            cx.send(p.part(&self.target, Some(buffer_value(&buff[start..]))))
                .await;
            self.flush_dones(cx).await;
        } else if self.stream {
            self.buffer = buff[start..].to_vec();
            if !self.buffer.is_empty() {
                let held =
                    last_sent.unwrap_or_else(|| p.part(&self.target, Some(buffer_value(bytes))));
                self.hold(held, cx);
            }
        }
    }
}

#[async_trait]
impl Node for Split {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match msg.get_path(&self.target.path) {
            None => {
                // Node-RED never calls done() for a message without the property.
                cx.defer_done();
                return Ok(());
            }
            Some(Value::Bool(_) | Value::Int(_) | Value::Float(_)) => return Ok(()),
            Some(Value::Null) => {
                return Err(
                    NodeError::new("Cannot convert undefined or null to object").for_msg(msg)
                );
            }
            Some(_) => {}
        }
        let Some(value) = self.take_value(&mut msg) else {
            return Ok(());
        };
        match value {
            Value::String(s) => self.split_string(msg, s, cx).await,
            Value::Array(items) => self.split_array(msg, items, cx).await,
            Value::Object(map) => self.split_object(msg, map, cx).await,
            Value::Bytes(b) => self.split_buffer(msg, &b, cx).await,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_reads_like_javascript() {
        assert_eq!(js_parse_int("2"), Some(2));
        assert_eq!(js_parse_int(" 12abc"), Some(12));
        assert_eq!(js_parse_int("2.5"), Some(2));
        assert_eq!(js_parse_int("-3"), Some(-3));
        assert_eq!(js_parse_int("0x10"), Some(16));
        assert_eq!(js_parse_int(""), None);
        assert_eq!(js_parse_int("abc"), None);
    }

    #[test]
    fn separators_decode_node_reds_escapes() {
        assert_eq!(unescape("\\n"), "\n");
        assert_eq!(unescape("a\\tb\\r"), "a\tb\r");
        assert_eq!(unescape("\\e"), "e");
        assert_eq!(unescape(","), ",");
    }

    #[test]
    fn byte_arrays_wrap_like_buffers() {
        assert_eq!(parse_byte_array("[52, 256, -1]"), Ok(vec![52, 0, 255]));
        assert!(parse_byte_array("1").is_err());
        assert!(parse_byte_array("[").is_err());
    }

    #[test]
    fn string_split_matches_javascript() {
        assert_eq!(split_str("a\nb\n", "\n"), ["a", "b", ""]);
        assert_eq!(split_str("", "\n"), [""]);
        assert_eq!(split_str("ab", ""), ["a", "b"]);
    }

    #[test]
    fn object_keys_enumerate_in_javascript_order() {
        let mut map = Map::new();
        for k in ["b", "2", "a", "1"] {
            map.insert(k.to_owned(), Value::Null);
        }
        let keys: Vec<&str> = js_key_order(&map).into_iter().map(String::as_str).collect();
        assert_eq!(keys, ["1", "2", "b", "a"]);
    }
}
