//! `sort` — mirrors Node-RED `@node-red/nodes/core/sequence/18-sort.js`.
//!
//! Config keys:
//! * `order` — `ascending` (default) or `descending`.
//! * `as_num` — compare keys as numbers (`Number(key)`) instead of as they are.
//! * `targetType` — `msg`: sort the array found at the message property `target`
//!   (default `payload`); anything else (Node-RED's `seq`, also the default): sort a message
//!   sequence.
//! * `msgKey` / `msgKeyType` (`msg` target) — `elem` (default): each element is its own key;
//!   `jsonata`: the expression `msgKey` evaluated with the element as its input.
//! * `seqKey` / `seqKeyType` (sequence) — `msg` (default): the key is the message property
//!   `seqKey` (default `payload`); `jsonata`: the expression evaluated against each message.
//!
//! Keys compare as JavaScript's `===` and `>` do (strings by UTF-16 code units, strings
//! against numbers as numbers, objects through their string form), and the sort is stable.
//!
//! Message target: reads the array at `target`, sorts it in place and sends the message. A
//! message whose target is not an array is dropped, as in Node-RED.
//!
//! Sequence: reads `parts.id`, `parts.index` and `parts.count`. Messages without
//! `parts.id` / `parts.index` are dropped. Messages are held per `parts.id` until as many
//! have arrived as some message's `parts.count` says; then they are sent one by one in
//! sorted order with `parts.index` renumbered. A JSONata error fails the message that
//! completed the sequence (nothing of it is sent). Over `nodeMessageBufferMaxLength` held
//! messages the oldest sequence is dropped, its last message failing with "Too many pending
//! messages in sort node". On close, each sequence still held is logged as "clear pending
//! message in sort node". Held messages are done (Complete nodes) when their sequence is
//! sent, dropped or cleared.
//!
//! No status. Invalid JSONata expressions and property paths are deploy errors.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use ferrite_runtime::path::{PropPath, Segment};
use ferrite_runtime::typed::Jsonata;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde::Deserialize;

pub const DEF: NodeDef = NodeDef {
    type_name: "sort",
    category: "sequence",
    set_id: "node-red/sort",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Node-RED's `nodeMessageBufferMaxLength` (0 = unlimited).
pub fn buffer_max_length(settings: &ferrite_runtime::Settings) -> usize {
    usize::try_from(settings.node_message_buffer_max_length).unwrap_or(usize::MAX)
}

const INVALID_EXP: &str = "Invalid JSONata expression in sort node";
const TOO_MANY: &str = "Too many pending messages in sort node";
const CLEAR: &str = "clear pending message in sort node";
/// The property a non-object element is wrapped in for JSONata (see [`ElemExpression`]).
const ELEM_KEY: &str = "__sort_elem";

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    #[serde(deserialize_with = "ferrite_runtime::loose::string")]
    order: String,
    #[serde(deserialize_with = "ferrite_runtime::loose::bool")]
    as_num: bool,
    #[serde(deserialize_with = "ferrite_runtime::loose::string")]
    target: String,
    #[serde(
        rename = "targetType",
        deserialize_with = "ferrite_runtime::loose::string"
    )]
    target_type: String,
    #[serde(rename = "msgKey", deserialize_with = "ferrite_runtime::loose::string")]
    msg_key: String,
    #[serde(
        rename = "msgKeyType",
        deserialize_with = "ferrite_runtime::loose::string"
    )]
    msg_key_type: String,
    #[serde(rename = "seqKey", deserialize_with = "ferrite_runtime::loose::string")]
    seq_key: String,
    #[serde(
        rename = "seqKeyType",
        deserialize_with = "ferrite_runtime::loose::string"
    )]
    seq_key_type: String,
}

/// What is sorted, and by which key.
enum Mode {
    /// The array at a message property, by element value.
    ElemArray(PropPath),
    /// The array at a message property, by an expression on each element.
    ExpArray(PropPath, ElemExpression),
    /// A message sequence, by a message property.
    SeqProperty(PropPath),
    /// A message sequence, by an expression on each message.
    SeqExpression(Jsonata),
}

/// A JSONata key evaluated with an array element as its input. The runtime evaluates
/// expressions against messages, which are objects: an object element is handed over as
/// one; any other element is wrapped as `{__sort_elem: [elem]}` and the expression as
/// `__sort_elem.(expr)`, a path step that evaluates `expr` with the element as context.
/// (`$$` then names the wrapper, not the element.)
struct ElemExpression {
    direct: Jsonata,
    wrapped: Jsonata,
    /// The expression mentions `msg`: Node-RED hands it `{msg: elem}`.
    legacy: bool,
}

impl ElemExpression {
    fn compile(source: &str) -> Result<Self, ConfigError> {
        let bad = |e: ferrite_runtime::typed::TypedError| ConfigError::field("msgKey", e);
        let direct = Jsonata::compile(source).map_err(bad)?;
        let legacy = mentions_msg(source);
        // In legacy mode the runtime itself wraps the input as `{msg: input}`.
        let wrapped = if legacy {
            format!("msg.{ELEM_KEY}.({source}\n)")
        } else {
            format!("{ELEM_KEY}.({source}\n)")
        };
        Ok(Self {
            direct,
            wrapped: Jsonata::compile(&wrapped).map_err(bad)?,
            legacy,
        })
    }

    fn evaluate(&self, elem: &Value, cx: &NodeCtx) -> Result<Option<Value>, String> {
        let (expr, input) = match elem {
            Value::Object(map) => (&self.direct, Msg::from_map(map.clone())),
            other => {
                let inner = if self.legacy {
                    let mut legacy = Map::with_capacity(1);
                    legacy.insert("msg".to_owned(), other.clone());
                    Value::Object(legacy)
                } else {
                    other.clone()
                };
                let mut wrapper = Map::with_capacity(1);
                wrapper.insert(ELEM_KEY.to_owned(), Value::Array(vec![inner]));
                (&self.wrapped, Msg::from_map(wrapper))
            }
        };
        expr.evaluate(cx.eval_scope(Some(&input)), &[])
            .map_err(|e| e.to_string())
    }
}

/// Node-RED's test for legacy JSONata mode: `msg` as a whole word.
fn mentions_msg(source: &str) -> bool {
    let bytes = source.as_bytes();
    let word = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    source
        .match_indices("msg")
        .any(|(i, _)| !word(i.checked_sub(1).and_then(|j| bytes.get(j))) && !word(bytes.get(i + 3)))
}

/// Messages of one sequence waiting for the rest.
struct Group {
    /// The latest `parts.count` seen.
    count: Option<Value>,
    msgs: Vec<Msg>,
    /// Arrival order of the sequence, to find the oldest.
    seq_no: u64,
}

struct Sort {
    mode: Mode,
    descending: bool,
    as_num: bool,
    pending: HashMap<String, Group>,
    pending_count: usize,
    next_seq_no: u64,
    /// Most messages held before the oldest sequence is dropped; 0: no limit.
    buffer_limit: usize,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config: Config = cx.config()?;
    let path = |field: &str, text: &str| {
        let text = if text.is_empty() { "payload" } else { text };
        PropPath::parse_msg(text).map_err(|e| ConfigError::field(field, e))
    };
    let mode = if config.target_type == "msg" {
        let target = path("target", &config.target)?;
        if config.msg_key_type == "jsonata" {
            Mode::ExpArray(target, ElemExpression::compile(&config.msg_key)?)
        } else {
            Mode::ElemArray(target)
        }
    } else if config.seq_key_type == "jsonata" {
        Mode::SeqExpression(
            Jsonata::compile(&config.seq_key).map_err(|e| ConfigError::field("seqKey", e))?,
        )
    } else {
        Mode::SeqProperty(path("seqKey", &config.seq_key)?)
    };
    Ok(Box::new(Sort {
        mode,
        descending: !config.order.is_empty() && config.order != "ascending",
        as_num: config.as_num,
        pending: HashMap::new(),
        pending_count: 0,
        next_seq_no: 0,
        buffer_limit: buffer_max_length(cx.settings()),
    }))
}

#[async_trait]
impl Node for Sort {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        msg.release_receipt();
        // Held messages are done when their sequence is sent or dropped (`cx.done`).
        cx.defer_done();
        match &self.mode {
            Mode::ElemArray(path) | Mode::ExpArray(path, _) => {
                self.sort_property(msg, path, cx).await
            }
            Mode::SeqProperty(_) | Mode::SeqExpression(_) => self.add_to_sequence(msg, cx).await,
        }
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        for (_, group) in self.pending.drain() {
            cx.log(CLEAR);
            for msg in &group.msgs {
                cx.done(msg).await;
            }
        }
        self.pending_count = 0;
    }
}

impl Sort {
    fn comparator(&self) -> impl Fn(&Key<'_>, &Key<'_>) -> Ordering {
        let descending = self.descending;
        move |x, y| js_compare(x, y, descending)
    }

    fn key<'v>(&self, value: Option<&'v Value>) -> Key<'v> {
        Key::of(value, self.as_num)
    }

    /// Sorts the array at `path` in place and sends the message.
    async fn sort_property(
        &self,
        mut msg: Msg,
        path: &PropPath,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        let Some(Value::Array(items)) = msg.get_path(path) else {
            cx.done(&msg).await;
            return Ok(());
        };
        let order = match self.array_order(items, cx) {
            Ok(order) => order,
            Err(e) => return Err(NodeError::new(format!("{INVALID_EXP}: {e}")).for_msg(msg)),
        };
        let Ok(resolved) = path.resolve(msg.as_value()).map(Cow::into_owned) else {
            cx.done(&msg).await;
            return Ok(());
        };
        if let Some(Value::Array(items)) = value_at_mut(msg.map_mut(), resolved.segments()) {
            let taken = std::mem::take(items);
            *items = permute(taken, &order);
        }
        cx.done(&msg).await;
        cx.send(msg).await;
        Ok(())
    }

    /// The sorted order of an array's elements.
    fn array_order(&self, items: &[Value], cx: &NodeCtx) -> Result<Vec<usize>, String> {
        if let Mode::ExpArray(_, expr) = &self.mode {
            let values = items
                .iter()
                .map(|item| expr.evaluate(item, cx))
                .collect::<Result<Vec<_>, _>>()?;
            let keys: Vec<Key<'_>> = values.iter().map(|v| self.key(v.as_ref())).collect();
            Ok(sorted_order(&keys, self.comparator()))
        } else {
            let keys: Vec<Key<'_>> = items.iter().map(|v| self.key(Some(v))).collect();
            Ok(sorted_order(&keys, self.comparator()))
        }
    }

    /// Holds a sequence message; sends the whole sequence sorted once it is complete.
    async fn add_to_sequence(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let (id, parts) = match msg.get("parts") {
            Some(Value::Object(parts)) if parts.contains_key("index") => match parts.get("id") {
                Some(id) => (id, parts),
                None => {
                    cx.done(&msg).await;
                    return Ok(());
                }
            },
            _ => {
                cx.done(&msg).await;
                return Ok(());
            }
        };
        let gid = id.to_js_string();
        let count = parts.get("count").cloned();
        let group = self.pending.entry(gid.clone()).or_insert_with(|| {
            self.next_seq_no += 1;
            Group {
                count: None,
                msgs: Vec::new(),
                seq_no: self.next_seq_no,
            }
        });
        group.msgs.push(msg);
        if count.is_some() {
            group.count = count;
        }
        self.pending_count += 1;
        if group.count.as_ref() == Some(&Value::from(group.msgs.len())) {
            let Some(group) = self.pending.remove(&gid) else {
                return Ok(());
            };
            self.pending_count = self.pending_count.saturating_sub(group.msgs.len());
            return self.send_sorted(group.msgs, cx).await;
        }
        if self.buffer_limit > 0 && self.pending_count > self.buffer_limit {
            self.drop_oldest(cx).await;
        }
        Ok(())
    }

    async fn send_sorted(&self, mut msgs: Vec<Msg>, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let order = match self.sequence_order(&msgs, cx) {
            Ok(order) => order,
            Err(e) => {
                // Node-RED fails the last message to arrive; the others are done.
                let error = NodeError::new(format!("{INVALID_EXP}: {e}"));
                let last = msgs.pop();
                for msg in &msgs {
                    cx.done(msg).await;
                }
                return Err(match last {
                    Some(last) => error.for_msg(last),
                    None => error,
                });
            }
        };
        for (index, mut msg) in permute(msgs, &order).into_iter().enumerate() {
            if let Some(Value::Object(parts)) = msg.map_mut().get_mut("parts") {
                parts.insert("index".to_owned(), Value::from(index));
            }
            cx.done(&msg).await;
            cx.send(msg).await;
        }
        Ok(())
    }

    /// The sorted order of a complete sequence.
    fn sequence_order(&self, msgs: &[Msg], cx: &NodeCtx) -> Result<Vec<usize>, String> {
        match &self.mode {
            Mode::SeqExpression(expr) => {
                let values = msgs
                    .iter()
                    .map(|msg| expr.evaluate(cx.eval_scope(Some(msg)), &[]))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                let keys: Vec<Key<'_>> = values.iter().map(|v| self.key(v.as_ref())).collect();
                Ok(sorted_order(&keys, self.comparator()))
            }
            Mode::SeqProperty(path) => {
                let keys: Vec<Key<'_>> = msgs.iter().map(|m| self.key(m.get_path(path))).collect();
                Ok(sorted_order(&keys, self.comparator()))
            }
            Mode::ElemArray(_) | Mode::ExpArray(..) => Ok((0..msgs.len()).collect()),
        }
    }

    /// Over the buffer limit: the oldest sequence is dropped and its last message failed.
    async fn drop_oldest(&mut self, cx: &mut NodeCtx) {
        let Some(oldest) = self
            .pending
            .iter()
            .min_by_key(|(_, g)| g.seq_no)
            .map(|(gid, _)| gid.clone())
        else {
            return;
        };
        if let Some(mut group) = self.pending.remove(&oldest) {
            self.pending_count = self.pending_count.saturating_sub(group.msgs.len());
            if let Some(last) = group.msgs.pop() {
                cx.report_error(NodeError::new(TOO_MANY).for_msg(last))
                    .await;
            }
            for msg in &group.msgs {
                cx.done(msg).await;
            }
        }
    }
}

/// The element a resolved path (no cross-references left) names, for writing in place.
fn value_at_mut<'v>(root: &'v mut Map, segments: &[Segment]) -> Option<&'v mut Value> {
    let (first, rest) = segments.split_first()?;
    let mut current = match first {
        Segment::Key(name) => root.get_mut(name.as_str())?,
        Segment::Index(i) => root.get_mut(i.to_string().as_str())?,
        Segment::Nested(_) => return None,
    };
    for segment in rest {
        current = match (current, segment) {
            (Value::Object(map), Segment::Key(name)) => map.get_mut(name.as_str())?,
            (Value::Object(map), Segment::Index(i)) => map.get_mut(i.to_string().as_str())?,
            (Value::Array(items), Segment::Index(i)) => items.get_mut(*i)?,
            (Value::Array(items), Segment::Key(name)) => {
                let i = canonical_index(name)?;
                items.get_mut(i)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// A property name that is an array index in JavaScript (`"0"`, `"12"`, not `"01"`).
fn canonical_index(name: &str) -> Option<usize> {
    let i: usize = name.parse().ok()?;
    (i.to_string() == name).then_some(i)
}

/// Reorders `items` so that position `k` holds the item that was at `order[k]`.
fn permute<T: Default>(mut items: Vec<T>, order: &[usize]) -> Vec<T> {
    order
        .iter()
        .map(|&i| items.get_mut(i).map(std::mem::take).unwrap_or_default())
        .collect()
}

// ---- JavaScript comparison ------------------------------------------------------------------

/// A sort key as JavaScript's `===` and `>` see it.
#[derive(Debug)]
enum Key<'v> {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'v, str>),
    /// An object, array or Buffer: never `===` another, compared through its string form.
    Obj(String, f64),
}

impl<'v> Key<'v> {
    fn of(value: Option<&'v Value>, as_num: bool) -> Self {
        let Some(value) = value else {
            return if as_num {
                Key::Num(f64::NAN)
            } else {
                Key::Undefined
            };
        };
        if as_num {
            return Key::Num(value.to_number());
        }
        match value {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            #[allow(clippy::cast_precision_loss)] // JavaScript numbers are f64
            Value::Int(i) => Key::Num(*i as f64),
            Value::Float(f) => Key::Num(*f),
            Value::String(s) => Key::Str(Cow::Borrowed(s)),
            other => Key::Obj(other.to_js_string(), other.to_number()),
        }
    }

    /// `ToNumber(ToPrimitive(key))`.
    fn number(&self) -> f64 {
        match self {
            Key::Undefined => f64::NAN,
            Key::Null => 0.0,
            Key::Bool(b) => f64::from(u8::from(*b)),
            Key::Num(n) | Key::Obj(_, n) => *n,
            Key::Str(s) => Value::String(s.to_string()).to_number(),
        }
    }

    /// `ToPrimitive(key)` when it is a string.
    fn string(&self) -> Option<&str> {
        match self {
            Key::Str(s) => Some(s),
            Key::Obj(s, _) => Some(s),
            _ => None,
        }
    }
}

fn strict_equal(x: &Key<'_>, y: &Key<'_>) -> bool {
    match (x, y) {
        (Key::Undefined, Key::Undefined) | (Key::Null, Key::Null) => true,
        (Key::Bool(a), Key::Bool(b)) => a == b,
        (Key::Num(a), Key::Num(b)) => a == b,
        (Key::Str(a), Key::Str(b)) => a == b,
        _ => false,
    }
}

/// JavaScript's `x > y`.
fn greater(x: &Key<'_>, y: &Key<'_>) -> bool {
    match (x.string(), y.string()) {
        (Some(a), Some(b)) => a.encode_utf16().cmp(b.encode_utf16()) == Ordering::Greater,
        _ => x.number() > y.number(),
    }
}

/// Node-RED's comparison function: equal, else `dir` when `x > y`, else `-dir`.
fn js_compare(x: &Key<'_>, y: &Key<'_>, descending: bool) -> Ordering {
    if strict_equal(x, y) {
        Ordering::Equal
    } else if greater(x, y) != descending {
        Ordering::Greater
    } else {
        Ordering::Less
    }
}

/// The stable sorted order of `keys` as indices. A merge sort of our own: JavaScript
/// comparisons are not a total order (NaN, mixed types), and the standard library's sorts
/// may panic on such a comparator.
fn sorted_order<K>(keys: &[K], compare: impl Fn(&K, &K) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let mut buffer = order.clone();
    let mut width = 1;
    let len = order.len();
    while width < len {
        let mut start = 0;
        while start < len {
            let mid = (start + width).min(len);
            let end = (start + 2 * width).min(len);
            let (mut i, mut j, mut k) = (start, mid, start);
            while i < mid && j < end {
                // Take from the right run only when strictly before: keeps the sort stable.
                let take_right = match (order.get(j), order.get(i)) {
                    (Some(&r), Some(&l)) => match (keys.get(r), keys.get(l)) {
                        (Some(kr), Some(kl)) => compare(kr, kl) == Ordering::Less,
                        _ => false,
                    },
                    _ => false,
                };
                let from = if take_right { &mut j } else { &mut i };
                if let (Some(slot), Some(&v)) = (buffer.get_mut(k), order.get(*from)) {
                    *slot = v;
                }
                *from += 1;
                k += 1;
            }
            for from in (i..mid).chain(j..end) {
                if let (Some(slot), Some(&v)) = (buffer.get_mut(k), order.get(from)) {
                    *slot = v;
                }
                k += 1;
            }
            start = end;
        }
        std::mem::swap(&mut order, &mut buffer);
        width *= 2;
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort_values(values: &[Value], descending: bool, as_num: bool) -> Vec<Value> {
        let keys: Vec<Key<'_>> = values.iter().map(|v| Key::of(Some(v), as_num)).collect();
        let order = sorted_order(&keys, |x, y| js_compare(x, y, descending));
        permute(values.to_vec(), &order)
    }

    fn strings(items: &[&str]) -> Vec<Value> {
        items.iter().map(|s| Value::from(*s)).collect()
    }

    #[test]
    fn strings_sort_as_text_unless_as_number() {
        let input = strings(&["200", "4", "30", "1000"]);
        assert_eq!(
            sort_values(&input, false, false),
            strings(&["1000", "200", "30", "4"])
        );
        assert_eq!(
            sort_values(&input, false, true),
            strings(&["4", "30", "200", "1000"])
        );
        assert_eq!(
            sort_values(&input, true, true),
            strings(&["1000", "200", "30", "4"])
        );
    }

    #[test]
    fn equal_keys_keep_their_order() {
        let input: Vec<Value> = (0..50)
            .map(|i| {
                let mut map = Map::new();
                map.insert("k".to_owned(), Value::from(i % 3));
                map.insert("i".to_owned(), Value::from(i));
                Value::Object(map)
            })
            .collect();
        let keys: Vec<Key<'_>> = input
            .iter()
            .map(|v| Key::of(v.as_object().and_then(|m| m.get("k")), false))
            .collect();
        let order = sorted_order(&keys, |x, y| js_compare(x, y, false));
        let sorted = permute(input, &order);
        let pairs: Vec<(i64, i64)> = sorted
            .iter()
            .filter_map(|v| {
                let m = v.as_object()?;
                Some((m.get("k")?.as_i64()?, m.get("i")?.as_i64()?))
            })
            .collect();
        let mut expected = pairs.clone();
        expected.sort_by_key(|&(k, i)| (k, i));
        assert_eq!(pairs, expected);
    }

    #[test]
    fn inconsistent_keys_never_panic() {
        let input: Vec<Value> = (0..200)
            .map(|i| match i % 5 {
                0 => Value::Float(f64::NAN),
                1 => Value::from(format!("{i}")),
                2 => Value::from(i),
                3 => Value::Null,
                _ => Value::Array(vec![Value::from(i)]),
            })
            .collect();
        for descending in [false, true] {
            assert_eq!(sort_values(&input, descending, false).len(), 200);
        }
    }

    #[test]
    fn strings_compare_by_utf16_code_units() {
        // U+FF5E sorts after U+1F600 in UTF-16 (0xFF5E > 0xD83D), before it in UTF-8.
        let input = strings(&["\u{ff5e}", "\u{1f600}"]);
        assert_eq!(
            sort_values(&input, false, false),
            strings(&["\u{1f600}", "\u{ff5e}"])
        );
    }

    #[test]
    fn mixed_numbers_and_numeric_strings_compare_as_numbers() {
        let input = vec![Value::from(10), Value::from("9"), Value::from(1)];
        assert_eq!(
            sort_values(&input, false, false),
            vec![Value::from(1), Value::from("9"), Value::from(10)]
        );
    }

    #[test]
    fn paths_are_written_in_place() {
        let mut map = Map::new();
        let mut inner = Map::new();
        inner.insert("list".to_owned(), Value::Array(vec![Value::from(1)]));
        map.insert("a".to_owned(), Value::Array(vec![Value::Object(inner)]));
        let path = PropPath::parse("a[0].list").expect("path");
        assert!(matches!(
            value_at_mut(&mut map, path.segments()),
            Some(Value::Array(_))
        ));
        let missing = PropPath::parse("a[3].list").expect("path");
        assert!(value_at_mut(&mut map, missing.segments()).is_none());
    }
}
