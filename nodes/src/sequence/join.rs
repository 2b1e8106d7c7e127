//! `join` — mirrors Node-RED `@node-red/nodes/core/sequence/17-split.js` (`JoinNode`).
//!
//! Config:
//! * `mode`: `auto` (default; rebuilds what a split made, from `msg.parts`), `custom`
//!   (manual; any other value behaves so too) or `reduce`.
//! * `build` (`array`): manual mode's result: `string`, `buffer`, `array`, `object` (key/value
//!   pairs, the key read from `key`) or `merged` (the property's objects merged).
//! * `property` (`payload`) and `propertyType` (`msg`, or `full` to join whole messages); the
//!   result goes to `property` (`payload` for `full`).
//! * `key` (`topic`): for `object`, the property holding each message's key.
//! * `joiner` and `joinerType` (`str`, escapes `\n \r \t \f \0` decoded; `bin`, a JSON byte
//!   array): what goes between strings and Buffers.
//! * `count` (`""`/0 = no count): send after this many parts; `""` with `msg.parts` present
//!   takes `parts.count`. `timeout` (seconds, manual mode): send what has arrived this long
//!   after a group's first message. `accumulate` (false): manual mode keeps the group after
//!   sending, so every later message sends the grown result again.
//! * `useparts` (true): manual mode keeps the input's `msg.parts`; false drops it (an outer
//!   `parts.parts` stays).
//! * reduce: `reduceExp` (JSONata, evaluated per message in index order with `$A` the
//!   accumulated value, `$I` the part's index, `$N` the count), `reduceInit` +
//!   `reduceInitType` (the first `$A`, a typed input evaluated with an empty message),
//!   `reduceFixup` (optional JSONata with `$A` and `$N`, applied to the result),
//!   `reduceRight` (fold from the last index).
//!
//! Reads: the property, `parts` (`id`, `type`, `count`, `index`, `ch`, `key`, `len`,
//! `property`, `parts`), `complete` (present: send now), `reset` (present: drop the group;
//! in auto mode a message without `parts.id` drops every group), `restartTimeout` (present:
//! restart the group's timer), and the `key` property.
//!
//! Writes: one message per group: every received message's properties merged (later ones
//! win), the joined value at the property, `parts` popped to the outer level (`parts.parts`)
//! or removed, `complete` removed. Reduce mode sends the last message (in fold order) with the
//! result as `payload`; a message without `parts` passes through.
//!
//! Warnings (Node-RED's texts): "Message missing msg.parts property - cannot join in 'auto'
//! mode", "Message missing 'msg.parts.key' property - cannot add to object", "Message missing
//! key property 'msg.<key>' - cannot add to object", "Cannot merge non-object types",
//! "Message property <property> not found". Errors: "Cannot join <type> to buffer", JSONata
//! evaluation errors (reduce). A bad `joiner` or JSONata expression is a deploy error. No
//! status.
//!
//! Completion (Complete nodes): a message held in a group is done, as received, when its
//! group is sent (count reached, `msg.complete`, timeout), reset by its id, or the node
//! closes; an auto-mode reset without `parts.id` drops every group without completing its
//! messages, as Node-RED does. Reduce mode: a sequence's messages are done once it is
//! reduced (the sent one with its result); on an expression error all but the last to
//! arrive are done and that one fails. More held messages than `nodeMessageBufferMaxLength`
//! in reduce mode: the held ones are done and dropped and the message that overflowed fails
//! with "too many pending messages in join node".
//!
//! Differences: a message whose value cannot join a Buffer fails and is not held (Node-RED
//! also completes it again when its group is sent). A string join of an auto-mode group without `parts.ch` joins with `""` (Node-RED
//! throws). `parts.index` must be a non-negative integer to place a part (others are
//! appended) and at most 65,536 beyond the parts held (else an error), so message data cannot
//! demand a huge array.

use std::collections::HashMap;
use std::time::Duration;

use ferrite_runtime::path::PropPath;
use ferrite_runtime::typed::{Jsonata, TypedValue, json_text};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role,
    TimerId, Value, async_trait,
};
use serde_json::Value as Json;

use super::split::{parse_byte_array, unescape};

pub const DEF: NodeDef = NodeDef {
    type_name: "join",
    category: "sequence",
    set_id: "node-red/split",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Furthest a `parts.index` may point past the parts a group holds.
const MAX_INDEX_GAP: usize = 1 << 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Auto,
    Custom,
    Reduce,
}

/// What a group builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Buffer,
    Array,
    Object,
    Merged,
    /// An auto-mode `parts.type` that is missing or unknown: an array, never flattened.
    Other,
}

impl Kind {
    fn parse(text: &str) -> Self {
        match text {
            "string" => Kind::String,
            "buffer" => Kind::Buffer,
            "array" => Kind::Array,
            "object" => Kind::Object,
            "merged" => Kind::Merged,
            _ => Kind::Other,
        }
    }
}

/// The reduce-mode configuration and the sequences held until complete.
struct Reduce {
    exp: Jsonata,
    fixup: Option<Jsonata>,
    init: TypedValue,
    right: bool,
    pending: HashMap<String, Pending>,
    /// Messages held in `pending`, checked against `nodeMessageBufferMaxLength`.
    pending_count: usize,
}

struct Pending {
    count: Option<Value>,
    /// In arrival order.
    msgs: Vec<Msg>,
}

/// What a group has collected.
enum Collected {
    List(Vec<Option<Value>>),
    Object(Map),
}

struct Group {
    kind: Kind,
    collected: Collected,
    current: usize,
    target: Option<f64>,
    join_char: Option<Value>,
    array_len: Option<Value>,
    /// Every message's properties, merged.
    msg: Map,
    /// Where the result goes.
    prop: PropPath,
    timer: Option<TimerId>,
    /// The messages held in the group, as received: done when the group is sent or reset.
    dones: Vec<Msg>,
}

struct Join {
    mode: Mode,
    /// `None`: whole messages (`propertyType: full`).
    property: Option<PropPath>,
    property_text: String,
    payload: PropPath,
    key: PropPath,
    key_text: String,
    timeout: Option<Duration>,
    count: f64,
    /// `count` is `""`: take the count from `msg.parts`.
    count_from_parts: bool,
    joiner: Value,
    build: Kind,
    accumulate: bool,
    use_parts: bool,
    reduce: Option<Reduce>,
    groups: HashMap<String, Group>,
    timers: HashMap<TimerId, String>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    // Node-RED's `n.x || default`: falsy values (missing, null, "", 0, false) default.
    let truthy = |key: &str| match raw.get(key) {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if s.is_empty() => None,
        Some(Json::Number(n)) if n.as_f64() == Some(0.0) => None,
        Some(Json::Bool(false)) => None,
        Some(v) => Some(v),
    };
    let text_or =
        |key: &str, default: &str| truthy(key).map_or_else(|| default.to_owned(), json_text);
    let path =
        |key: &str, text: &str| PropPath::parse_msg(text).map_err(|e| ConfigError::field(key, e));

    let mode = match text_or("mode", "auto").as_str() {
        "auto" => Mode::Auto,
        "reduce" => Mode::Reduce,
        _ => Mode::Custom,
    };
    let full = text_or("propertyType", "msg") == "full";
    let property_text = if full {
        "payload".to_owned()
    } else {
        text_or("property", "payload")
    };
    let payload = path("property", "payload")?;
    let property = if full {
        None
    } else {
        Some(path("property", &property_text)?)
    };
    let key_text = text_or("key", "topic");
    let key = path("key", &key_text)?;
    let timeout = match mode {
        Mode::Auto => None,
        _ => truthy("timeout")
            .map(|v| Value::from(v.clone()).to_number())
            .filter(|secs| secs.is_finite() && *secs > 0.0)
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
    };
    let count = truthy("count").map_or(0.0, |v| Value::from(v.clone()).to_number());
    let count_from_parts = matches!(raw.get("count"), Some(Json::String(s)) if s.is_empty());
    let joiner = match text_or("joinerType", "str").as_str() {
        "bin" => {
            let bytes = parse_byte_array(&text_or("joiner", "[]"))
                .map_err(|e| ConfigError::field("joiner", e))?;
            Value::Bytes(bytes.into())
        }
        _ => Value::String(unescape(&text_or("joiner", ""))),
    };
    let build = Kind::parse(&text_or("build", "array"));
    let accumulate = raw
        .get("accumulate")
        .is_some_and(ferrite_runtime::loose::json_bool);
    let use_parts = raw
        .get("useparts")
        .is_none_or(ferrite_runtime::loose::json_bool);

    let reduce = if mode == Mode::Reduce {
        let compile = |key: &str, source: &str| {
            Jsonata::compile(source).map_err(|e| ConfigError::field(key, e))
        };
        let exp = compile("reduceExp", &text_or("reduceExp", ""))?;
        let fixup = match truthy("reduceFixup") {
            Some(v) => Some(compile("reduceFixup", &json_text(v))?),
            None => None,
        };
        let init_value = raw.get("reduceInit").cloned().unwrap_or(Json::Null);
        let init = match raw.get("reduceInitType").and_then(Json::as_str) {
            // No type: the stored value as it is, as evaluateNodeProperty gives it.
            None => TypedValue::Json(Value::from(init_value)),
            Some(vt) => TypedValue::compile(vt, &init_value)
                .map_err(|e| ConfigError::field("reduceInit", e))?,
        };
        Some(Reduce {
            exp,
            fixup,
            init,
            right: raw
                .get("reduceRight")
                .is_some_and(ferrite_runtime::loose::json_bool),
            pending: HashMap::new(),
            pending_count: 0,
        })
    } else {
        None
    };

    Ok(Box::new(Join {
        mode,
        property,
        property_text,
        payload,
        key,
        key_text,
        timeout,
        count,
        count_from_parts,
        joiner,
        build,
        accumulate,
        use_parts,
        reduce,
        groups: HashMap::new(),
        timers: HashMap::new(),
    }))
}

/// The key a group id gives as a JavaScript object key.
fn group_key(id: Option<&Value>) -> String {
    id.map_or_else(|| "undefined".to_owned(), Value::to_js_string)
}

/// Whether reading `path` would throw in Node-RED: its parent is missing or null.
fn parent_missing(msg: &Msg, path: &PropPath) -> bool {
    let segments = path.segments();
    let Some((_, parents)) = segments.split_last() else {
        return false;
    };
    if parents.is_empty() {
        return false;
    }
    let root = msg.as_value();
    matches!(root.get_segments(parents, root), None | Some(Value::Null))
}

/// Takes the value at `path` out of `msg`, leaving a placeholder for a top-level key so the
/// merged message keeps its key order.
fn take_value(msg: &mut Msg, path: &PropPath) -> Option<Value> {
    match path.segments() {
        [ferrite_runtime::path::Segment::Key(key)] => {
            msg.get(key)?;
            msg.map_mut().get_mut(key.as_str()).map(std::mem::take)
        }
        _ => msg.delete_path(path),
    }
}

/// A JavaScript number's truthiness for an optional count.
fn truthy_count(count: Option<f64>) -> Option<f64> {
    count.filter(|c| *c != 0.0 && !c.is_nan())
}

/// `Buffer.from(v)` as the join uses it.
fn to_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Bytes(b) => b.to_vec(),
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                let f = v.to_number();
                if f.is_finite() {
                    (f.trunc() as i64 & 0xff) as u8
                } else {
                    0
                }
            })
            .collect(),
        other => other.to_js_string().into_bytes(),
    }
}

/// `Array.prototype.join` element text: null and holes are empty.
fn join_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(v) => v.to_js_string(),
    }
}

/// JavaScript `typeof` for the buffer error.
fn js_typeof(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "boolean",
        Value::Int(_) | Value::Float(_) => "number",
        Value::String(_) => "string",
        Value::Null | Value::Bytes(_) | Value::Array(_) | Value::Object(_) => "object",
    }
}

/// Where a part goes in a list.
fn list_slot(index: Option<&Value>) -> Option<usize> {
    let f = match index? {
        Value::Int(i) => return usize::try_from(*i).ok(),
        Value::Float(f) => *f,
        Value::String(s) => Value::String(s.clone()).to_number(),
        _ => return None,
    };
    (f >= 0.0 && f.fract() == 0.0 && f < 9_007_199_254_740_992.0).then_some(f as usize)
}

/// Keeps a Buffer accumulator a Buffer when an expression passed it through unchanged:
/// JSONata sees Buffers as their JSON form, so without this `$A` alone would turn one into
/// `{"type":"Buffer","data":[...]}`.
fn keep_buffer(previous: Option<&Value>, result: Option<Value>) -> Option<Value> {
    match (previous, result) {
        (Some(prev @ Value::Bytes(_)), Some(result)) if Value::from(prev.to_json()) == result => {
            Some(prev.clone())
        }
        (_, result) => result,
    }
}

/// The facts about a message a group needs, read before the message is merged.
struct Info {
    part_id: String,
    kind: Kind,
    target: Option<f64>,
    join_char: Option<Value>,
    key: Option<Value>,
    array_len: Option<Value>,
    index: Option<Value>,
    /// Where the value is read and the result written.
    prop: PropPath,
}

impl Join {
    fn start_timer(&mut self, part_id: &str, cx: &mut NodeCtx) -> Option<TimerId> {
        let timeout = self.timeout?;
        let id = cx.after(timeout);
        self.timers.insert(id, part_id.to_owned());
        Some(id)
    }

    fn stop_timer(&mut self, timer: Option<TimerId>, cx: &mut NodeCtx) {
        if let Some(id) = timer {
            cx.cancel_timer(id);
            self.timers.remove(&id);
        }
    }

    fn clear_all(&mut self, cx: &mut NodeCtx) {
        for (_, group) in self.groups.drain() {
            if let Some(id) = group.timer {
                cx.cancel_timer(id);
            }
        }
        self.timers.clear();
    }

    /// Node-RED's `completeSend`: assembles the group's result and sends it.
    async fn complete_send(&mut self, part_id: &str, cx: &mut NodeCtx) {
        let Some(mut group) = self.groups.remove(part_id) else {
            return;
        };
        let timer = group.timer.take();
        self.stop_timer(timer, cx);
        let dones = std::mem::take(&mut group.dones);
        let keep =
            self.mode != Mode::Auto && self.accumulate && !group.msg.contains_key("complete");

        let result = match &mut group.collected {
            Collected::Object(map) => Value::Object(if keep {
                map.clone()
            } else {
                std::mem::take(map)
            }),
            Collected::List(items) => {
                let flatten = group.kind == Kind::Array
                    && group
                        .array_len
                        .as_ref()
                        .is_some_and(|l| l.to_number() > 1.0);
                match group.kind {
                    _ if flatten => {
                        let mut flat = Vec::with_capacity(items.len());
                        for item in items.iter().flatten() {
                            match item {
                                Value::Array(inner) => flat.extend(inner.iter().cloned()),
                                other => flat.push(other.clone()),
                            }
                        }
                        if keep {
                            // Node-RED keeps the flattened array as the group's payload.
                            *items = flat.iter().cloned().map(Some).collect();
                        }
                        Value::Array(flat)
                    }
                    Kind::Buffer => {
                        let mut out = Vec::new();
                        let joiner = group.join_char.as_ref().map(to_bytes);
                        for (i, item) in items.iter().flatten().enumerate() {
                            if let (true, Some(j)) = (i > 0, &joiner) {
                                out.extend_from_slice(j);
                            }
                            out.extend_from_slice(&to_bytes(item));
                        }
                        Value::Bytes(out.into())
                    }
                    Kind::String => {
                        let sep = match &group.join_char {
                            Some(Value::String(s)) => s.clone(),
                            Some(other) => other.to_js_string(),
                            None => String::new(),
                        };
                        let texts: Vec<String> =
                            items.iter().map(|i| join_text(i.as_ref())).collect();
                        Value::String(texts.join(&sep))
                    }
                    _ => Value::Array(
                        items
                            .iter()
                            .map(|i| i.clone().unwrap_or_default())
                            .collect(),
                    ),
                }
            }
        };

        let mut msg = Msg::from_map(std::mem::take(&mut group.msg));
        if let Err(e) = msg.set_path(&group.prop, result) {
            cx.warn(&e.to_string());
        }
        let outer = match msg.get("parts") {
            Some(Value::Object(parts)) => parts.get("parts").cloned(),
            _ => None,
        };
        match outer {
            Some(outer) => msg.insert("parts", outer),
            None => {
                msg.remove("parts");
            }
        }
        msg.remove("complete");
        if keep {
            group.msg = msg.map().clone();
            self.groups.insert(part_id.to_owned(), group);
        }
        cx.send(msg).await;
        for held in &dones {
            cx.done(held).await;
        }
    }

    /// The group facts of a message (Node-RED's payloadType, targetCount, ... variables).
    fn info(&self, msg: &Msg) -> Result<Info, NodeError> {
        let parts = msg.get("parts").and_then(Value::as_object);
        let part = |key: &str| parts.and_then(|p| p.get(key)).cloned();
        if self.mode == Mode::Auto {
            let prop = match part("property") {
                Some(p) if p.is_truthy() => PropPath::parse_msg(&p.to_js_string())
                    .map_err(|e| NodeError::new(e.to_string()).with_msg(msg))?,
                _ => self.payload.clone(),
            };
            return Ok(Info {
                part_id: group_key(parts.and_then(|p| p.get("id"))),
                kind: Kind::parse(
                    parts
                        .and_then(|p| p.get("type"))
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                ),
                target: part("count").map(|c| c.to_number()),
                join_char: part("ch"),
                key: part("key"),
                array_len: part("len"),
                index: part("index"),
                prop,
            });
        }
        let mut part_id = "_".to_owned();
        let mut target = Some(self.count);
        if self.count_from_parts && msg.get("parts").is_some() {
            target = Some(truthy_count(part("count").map(|c| c.to_number())).unwrap_or(0.0));
            if let Some(id) = parts.and_then(|p| p.get("id")) {
                part_id = id.to_js_string();
            }
        }
        let key = if self.build == Kind::Object {
            msg.get_path(&self.key).cloned()
        } else {
            None
        };
        Ok(Info {
            part_id,
            kind: self.build,
            target,
            join_char: Some(self.joiner.clone()),
            key,
            array_len: None,
            index: None,
            prop: self
                .property
                .clone()
                .unwrap_or_else(|| self.payload.clone()),
        })
    }

    async fn join_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let info = self.info(&msg)?;
        let part_id = info.part_id.clone();

        if msg.get("restartTimeout").is_some()
            && let Some(timer) = self.groups.get_mut(&part_id).map(|g| g.timer.take())
        {
            self.stop_timer(timer, cx);
            let timer = self.start_timer(&part_id, cx);
            if let Some(group) = self.groups.get_mut(&part_id) {
                group.timer = timer;
            }
        }

        if msg.get("reset").is_some() {
            if let Some(group) = self.groups.remove(&part_id) {
                self.stop_timer(group.timer, cx);
                for held in &group.dones {
                    cx.done(held).await;
                }
            }
            return Ok(());
        }

        let has_complete = msg.get("complete").is_some();
        let key_missing = match &info.key {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if info.kind == Kind::Object && key_missing {
            if self.mode == Mode::Auto {
                cx.warn("Message missing 'msg.parts.key' property - cannot add to object");
            } else if has_complete {
                if let Some(complete) = msg.get("complete").cloned()
                    && let Some(group) = self.groups.get_mut(&part_id)
                {
                    group.msg.insert("complete".to_owned(), complete);
                    self.complete_send(&part_id, cx).await;
                    // Done as received, not as the joined message sent.
                    cx.defer_done();
                    cx.done(&msg).await;
                }
            } else {
                cx.warn(&format!(
                    "Message missing key property 'msg.{}' - cannot add to object",
                    self.key_text
                ));
            }
            return Ok(());
        }

        if !self.groups.contains_key(&part_id) {
            let collected = match info.kind {
                Kind::Object | Kind::Merged => Collected::Object(Map::new()),
                _ => Collected::List(Vec::new()),
            };
            let timer = self.start_timer(&part_id, cx);
            self.groups.insert(
                part_id.clone(),
                Group {
                    kind: match info.kind {
                        Kind::Merged => Kind::Object,
                        k => k,
                    },
                    collected,
                    current: 0,
                    target: info.target,
                    join_char: match info.kind {
                        Kind::String | Kind::Buffer => info.join_char.clone(),
                        _ => None,
                    },
                    array_len: info.array_len.clone(),
                    msg: Map::new(),
                    prop: info.prop.clone(),
                    timer,
                    dones: Vec::new(),
                },
            );
        }

        // Held: done when the group is sent or reset. A copy as received, for Complete nodes
        // (the message is taken apart below).
        let received = msg.clone();
        // The value joins the group; the rest of the message merges into the group's message.
        let property = match &self.property {
            None if self.mode != Mode::Auto => Some(Value::Object(msg.map().clone())),
            _ => take_value(&mut msg, &info.prop),
        };
        if info.kind == Kind::Buffer
            && let Some(p) = &property
            && !matches!(p, Value::Bytes(_) | Value::String(_) | Value::Array(_))
        {
            return Err(
                NodeError::new(format!("Cannot join {} to buffer", js_typeof(p))).for_msg(msg),
            );
        }
        let parts_count = msg.get("parts").map(|parts| {
            parts
                .as_object()
                .and_then(|p| p.get("count"))
                .map(Value::to_number)
        });
        let Some(group) = self.groups.get_mut(&part_id) else {
            return Ok(());
        };
        group.dones.push(received);
        cx.defer_done();
        match (info.kind, &mut group.collected) {
            (Kind::Object, Collected::Object(map)) => {
                let key = info
                    .key
                    .as_ref()
                    .map(Value::to_js_string)
                    .unwrap_or_default();
                map.insert(key, property.unwrap_or_default());
                group.current = map.len();
            }
            (Kind::Merged, Collected::Object(map)) => match property {
                Some(Value::Object(props)) => {
                    for (k, v) in props {
                        if k != ferrite_runtime::msg::MSGID {
                            map.insert(k, v);
                        }
                    }
                    group.current = map.len();
                }
                // `typeof null` is "object": nothing to merge, no warning.
                Some(Value::Null) => group.current = map.len(),
                _ => {
                    if !has_complete {
                        cx.warn("Cannot merge non-object types");
                    }
                }
            },
            (_, Collected::List(items)) => match list_slot(info.index.as_ref()) {
                Some(index) => {
                    if index >= items.len() + MAX_INDEX_GAP {
                        // Not held: done with the error.
                        group.dones.pop();
                        return Err(NodeError::new(format!(
                            "parts.index {index} is too far beyond the {} parts held",
                            items.len()
                        ))
                        .for_msg(msg));
                    }
                    if index >= items.len() {
                        items.resize(index + 1, None);
                    }
                    if let Some(slot) = items.get_mut(index) {
                        if matches!(slot, None | Some(Value::Null)) {
                            group.current += 1;
                        }
                        *slot = property;
                    }
                }
                None => {
                    if let Some(value) = property {
                        items.push(Some(value));
                        group.current += 1;
                    }
                }
            },
            // A message of another type than its group's (auto mode): Node-RED sets a
            // property that the result never shows.
            _ => {}
        }
        for (k, v) in msg.into_map() {
            group.msg.insert(k, v);
        }
        let mut target = group.target;
        if let Some(count) = parts_count {
            target = truthy_count(group.target).or(count);
            group.target = target;
        }
        let reached = target.is_some_and(|t| t > 0.0 && group.current as f64 >= t);
        if reached || has_complete {
            self.complete_send(&part_id, cx).await;
        }
        Ok(())
    }

    async fn reduce_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let limit = cx.settings().message_buffer_limit();
        let Some(reduce) = &mut self.reduce else {
            return Ok(());
        };
        let Some(parts) = msg.get("parts") else {
            cx.send(msg).await;
            return Ok(());
        };
        // Held: done when its sequence is reduced or dropped.
        cx.defer_done();
        let parts = parts.as_object();
        let gid = group_key(parts.and_then(|p| p.get("id")));
        let count = parts.and_then(|p| p.get("count")).cloned();
        let pending = reduce
            .pending
            .entry(gid.clone())
            .or_insert_with(|| Pending {
                count: None,
                msgs: Vec::new(),
            });
        if pending.count.is_none() {
            pending.count = count;
        }
        pending.msgs.push(msg.clone());
        reduce.pending_count += 1;
        let len = pending.msgs.len();
        let complete = pending.count.as_ref().is_some_and(|c| {
            matches!(c, Value::Int(_) | Value::Float(_)) && c.to_number() == len as f64
        });
        if complete && let Some(group) = reduce.pending.remove(&gid) {
            reduce.pending_count = reduce.pending_count.saturating_sub(group.msgs.len());
            self.reduce_and_send(group, &msg, cx).await?;
        }
        let Some(reduce) = &mut self.reduce else {
            return Ok(());
        };
        if let Some(limit) = limit
            && reduce.pending_count > limit
        {
            // Node-RED drops every held message (done) and fails the one that overflowed.
            let dropped: Vec<Pending> = reduce.pending.drain().map(|(_, p)| p).collect();
            reduce.pending_count = 0;
            for held in dropped.iter().flat_map(|p| p.msgs.iter()) {
                if held.msgid() != msg.msgid() {
                    cx.done(held).await;
                }
            }
            return Err(NodeError::new("too many pending messages in join node").for_msg(msg));
        }
        Ok(())
    }

    /// Folds the sequence in index order (`$A`, `$I`, `$N` bound) and applies the fixup.
    fn fold(
        reduce: &Reduce,
        msgs: &[Msg],
        order: &[usize],
        count: &Value,
        cx: &NodeCtx,
    ) -> Result<Option<Value>, ferrite_runtime::typed::EvalError> {
        let empty = Msg::new();
        // Node-RED ignores an error of the initial value: `$A` starts undefined then.
        let mut acc = cx.eval(&reduce.init, Some(&empty)).ok().flatten();
        for m in order.iter().filter_map(|&i| msgs.get(i)) {
            let mut bindings: Vec<(&str, Value)> = vec![("N", count.clone())];
            if let Some(a) = &acc {
                bindings.push(("A", a.clone()));
            }
            if let Some(i) = m
                .get("parts")
                .and_then(Value::as_object)
                .and_then(|p| p.get("index"))
            {
                bindings.push(("I", i.clone()));
            }
            let result = reduce.exp.evaluate(cx.eval_scope(Some(m)), &bindings)?;
            acc = keep_buffer(acc.as_ref(), result);
        }
        if let Some(fixup) = &reduce.fixup {
            let mut bindings: Vec<(&str, Value)> = vec![("N", count.clone())];
            if let Some(a) = &acc {
                bindings.push(("A", a.clone()));
            }
            let result = fixup.evaluate(cx.eval_scope(Some(&empty)), &bindings)?;
            acc = keep_buffer(acc.as_ref(), result);
        }
        Ok(acc)
    }

    /// Folds a complete sequence with the reduce expression and sends the result; every
    /// message of the sequence is then done (on an error, all but `current`, which fails).
    async fn reduce_and_send(
        &self,
        group: Pending,
        current: &Msg,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        let Some(reduce) = &self.reduce else {
            return Ok(());
        };
        let mut msgs = group.msgs;
        let index = |m: &Msg| {
            m.get("parts")
                .and_then(Value::as_object)
                .and_then(|p| p.get("index"))
                .map_or(f64::NAN, Value::to_number)
        };
        let keys: Vec<f64> = msgs.iter().map(index).collect();
        let mut order: Vec<usize> = (0..msgs.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |i: usize| keys.get(i).copied().unwrap_or(f64::NAN);
            let order = key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal);
            if reduce.right { order.reverse() } else { order }
        });
        let count = group.count.unwrap_or_default();
        let acc = match Self::fold(reduce, &msgs, &order, &count, cx) {
            Ok(acc) => acc,
            Err(e) => {
                // The message that completed the sequence arrived last.
                if let Some((_, earlier)) = msgs.split_last() {
                    for held in earlier {
                        cx.done(held).await;
                    }
                }
                return Err(NodeError::new(e.to_string()).with_msg(current));
            }
        };
        // Node-RED sends the last message in fold order, its payload the result.
        let Some(last) = order.last().and_then(|&i| msgs.get_mut(i)) else {
            return Ok(());
        };
        match acc {
            Some(value) => last.insert("payload", value),
            None => {
                last.remove("payload");
            }
        }
        cx.send(last.clone()).await;
        for held in &msgs {
            cx.done(held).await;
        }
        Ok(())
    }
}

#[async_trait]
impl Node for Join {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        msg.release_receipt();
        if let Some(path) = &self.property
            && parent_missing(&msg, path)
        {
            cx.warn(&format!(
                "Message property {} not found",
                self.property_text
            ));
            return Ok(());
        }
        let has_part_id =
            matches!(msg.get("parts"), Some(Value::Object(p)) if p.contains_key("id"));
        if self.mode == Mode::Auto && !has_part_id {
            if msg.get("reset").is_some() {
                self.clear_all(cx);
            } else {
                cx.warn("Message missing msg.parts property - cannot join in 'auto' mode");
            }
            return Ok(());
        }
        if self.mode == Mode::Custom && !self.use_parts && msg.get("parts").is_some() {
            let outer = match msg.get("parts") {
                Some(Value::Object(parts)) => parts.get("parts").cloned(),
                _ => None,
            };
            match outer {
                Some(outer) => {
                    let mut wrapper = Map::with_capacity(1);
                    wrapper.insert("parts".to_owned(), outer);
                    msg.insert("parts", Value::Object(wrapper));
                }
                None => {
                    msg.remove("parts");
                }
            }
        }
        if self.mode == Mode::Reduce {
            return self.reduce_input(msg, cx).await;
        }
        self.join_input(msg, cx).await
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Event::Timer(id) = event {
            cx.timer_fired(id);
            if let Some(part_id) = self.timers.remove(&id) {
                // The group's timer is this one (a restarted or finished group removed it).
                if let Some(group) = self.groups.get_mut(&part_id) {
                    group.timer = None;
                }
                self.complete_send(&part_id, cx).await;
            }
        }
        Ok(())
    }

    /// Node-RED completes the messages of unfinished groups when the node closes.
    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        let groups: Vec<Group> = self.groups.drain().map(|(_, g)| g).collect();
        for held in groups.iter().flat_map(|g| g.dones.iter()) {
            cx.done(held).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_slots_take_integral_indexes_only() {
        assert_eq!(list_slot(Some(&Value::Int(3))), Some(3));
        assert_eq!(list_slot(Some(&Value::Float(2.0))), Some(2));
        assert_eq!(list_slot(Some(&Value::from("4"))), Some(4));
        assert_eq!(list_slot(Some(&Value::Int(-1))), None);
        assert_eq!(list_slot(Some(&Value::Float(1.5))), None);
        assert_eq!(list_slot(None), None);
    }

    #[test]
    fn buffers_from_values_like_buffer_from() {
        assert_eq!(to_bytes(&Value::from("A")), b"A");
        assert_eq!(
            to_bytes(&Value::from(serde_json::json!([44, 300]))),
            vec![44, 44]
        );
    }

    #[test]
    fn an_unchanged_buffer_accumulator_stays_a_buffer() {
        let buffer = Value::Bytes(vec![1, 2, 3].into());
        let passed = Value::from(buffer.to_json());
        assert_eq!(
            keep_buffer(Some(&buffer), Some(passed)),
            Some(buffer.clone())
        );
        assert_eq!(
            keep_buffer(Some(&buffer), Some(Value::Int(1))),
            Some(Value::Int(1))
        );
    }
}
