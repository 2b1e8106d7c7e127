//! `batch` — mirrors Node-RED `@node-red/nodes/core/sequence/19-batch.js`.
//!
//! Config keys:
//! * `mode` — `count` (default), `interval` or `concat`; anything else is a deploy error.
//! * `count` (mode `count`; `""`/0 → 1) — messages per sequence, a whole number ≥ 1.
//! * `overlap` (mode `count`; default 0) — messages each sequence repeats from the previous
//!   one; must be below `count`.
//! * `honourParts` (mode `count`) — a message whose `parts.index + 1 == parts.count` ends
//!   the sequence early.
//! * `interval` (mode `interval`) — seconds between sequences (fractions allowed, > 0).
//! * `allowEmptySequence` (mode `interval`) — when no message arrived during an interval,
//!   send `{payload: null, parts: {id: <new id>, index: 0, count: 1}}`.
//! * `topics` (mode `concat`) — `[{topic}]`: the order in which sequences of these topics
//!   are concatenated (a topic may appear more than once).
//!
//! Reads `reset` (present: drop every held message; in `interval` mode the timer restarts),
//! `topic` and `parts.{id, index, count}` (mode `concat`: messages of other topics are
//! ignored, messages of a listed topic without all three fail with "no parts property in
//! message"; a topic's sequences complete by `parts.count` and are taken oldest first).
//!
//! Writes `parts.id` (the first message's `_msgid`), `parts.index` and `parts.count` of
//! each message sent, keeping its other `parts` keys. Overlapping (`count`) and concatenated
//! messages are copies; a message is never changed for another holder.
//!
//! Over `nodeMessageBufferMaxLength` held messages the newest fails with "too many pending
//! messages in batch node" and the rest are dropped. Held messages are done (Complete
//! nodes) when their sequence is sent or they are dropped (reset, overflow, close). No
//! status.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role,
    TimerId, Value, async_trait,
};
use serde::Deserialize;
use serde_json::Value as Json;

pub const DEF: NodeDef = NodeDef {
    type_name: "batch",
    category: "sequence",
    set_id: "node-red/batch",
    role: Role::Plain,
    build: Build::Flow(build),
};

const TOO_MANY: &str = "too many pending messages in batch node";
const NO_PARTS: &str = "no parts property in message";
/// Longest interval Node-RED's `setInterval` honours (2^31 - 1 ms).
const MAX_INTERVAL_SECS: f64 = 2_147_483.647;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    #[serde(deserialize_with = "ferrite_runtime::loose::string")]
    mode: String,
    count: Json,
    overlap: Json,
    interval: Json,
    #[serde(
        rename = "allowEmptySequence",
        deserialize_with = "ferrite_runtime::loose::bool"
    )]
    allow_empty_sequence: bool,
    #[serde(
        rename = "honourParts",
        deserialize_with = "ferrite_runtime::loose::bool"
    )]
    honour_parts: bool,
    topics: Vec<Json>,
}

/// `Number(v || fallback)`: missing, `""`, 0 and `false` give `fallback`.
fn number_or(v: &Json, fallback: f64) -> f64 {
    match v {
        Json::Null => fallback,
        Json::Bool(b) => {
            if *b {
                1.0
            } else {
                fallback
            }
        }
        Json::String(s) if s.is_empty() => fallback,
        Json::String(s) => Value::from(s.as_str()).to_number(),
        Json::Number(n) => match n.as_f64() {
            Some(f) if f != 0.0 => f,
            _ => fallback,
        },
        _ => f64::NAN,
    }
}

/// A whole number ≥ `min`, or the given config error.
fn whole(f: f64, min: usize, field: &str, reason: &str) -> Result<usize, ConfigError> {
    #[allow(clippy::cast_precision_loss)] // small bounds
    let ok = f.is_finite() && f.fract() == 0.0 && f >= min as f64 && f <= u32::MAX.into();
    if ok {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
        Ok(f as usize)
    } else {
        Err(ConfigError::field(field, reason))
    }
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config: Config = cx.config()?;
    let buffer_limit = super::sort::buffer_max_length(cx.settings());
    let mode = match config.mode.as_str() {
        "" | "count" => {
            let count = whole(number_or(&config.count, 1.0), 1, "count", "Invalid count")?;
            let overlap = whole(
                number_or(&config.overlap, 0.0),
                0,
                "overlap",
                "Invalid overlap",
            )?;
            if count <= overlap {
                return Err(ConfigError::field("overlap", "Invalid count and overlap"));
            }
            Mode::Count {
                count,
                overlap,
                honour_parts: config.honour_parts,
                queue: Vec::new(),
            }
        }
        "interval" => {
            let secs = number_or(&config.interval, 0.0);
            let period = (secs > 0.0 && secs <= MAX_INTERVAL_SECS)
                .then(|| Duration::try_from_secs_f64(secs).ok())
                .flatten()
                .ok_or_else(|| ConfigError::field("interval", "Invalid interval"))?;
            Mode::Interval {
                period,
                allow_empty: config.allow_empty_sequence,
                timer: None,
                queue: Vec::new(),
            }
        }
        "concat" => Mode::Concat {
            topics: config
                .topics
                .iter()
                .map(|t| t.get("topic").cloned().map(Value::from))
                .collect(),
            pending: HashMap::new(),
        },
        _ => return Err(ConfigError::field("mode", "unexpected mode")),
    };
    Ok(Box::new(Batch {
        mode,
        pending_count: 0,
        buffer_limit,
    }))
}

enum Mode {
    Count {
        count: usize,
        overlap: usize,
        honour_parts: bool,
        queue: Vec<Msg>,
    },
    Interval {
        period: Duration,
        allow_empty: bool,
        timer: Option<TimerId>,
        queue: Vec<Msg>,
    },
    Concat {
        /// The configured topics, in concatenation order (`None`: an entry without one,
        /// which in Node-RED matches messages without a topic).
        topics: Vec<Option<Value>>,
        /// Held sequences per topic (keyed by the topic's text).
        pending: HashMap<String, TopicSequences>,
    },
}

/// The sequences of one topic, oldest first.
#[derive(Default)]
struct TopicSequences {
    order: VecDeque<String>,
    by_id: HashMap<String, Sequence>,
}

#[derive(Default)]
struct Sequence {
    /// The first `parts.count` seen.
    count: Option<Value>,
    msgs: Vec<Msg>,
}

impl TopicSequences {
    /// The oldest sequence, when all its messages are there.
    fn complete_front(&self) -> Option<&Sequence> {
        let seq = self.by_id.get(self.order.front()?)?;
        (seq.count.as_ref() == Some(&Value::from(seq.msgs.len()))).then_some(seq)
    }

    fn pop_front(&mut self) {
        if let Some(id) = self.order.pop_front() {
            self.by_id.remove(&id);
        }
    }
}

struct Batch {
    mode: Mode,
    /// Messages held since the last sequence was sent (for the buffer limit).
    pending_count: usize,
    buffer_limit: usize,
}

#[async_trait]
impl Node for Batch {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Mode::Interval { period, timer, .. } = &mut self.mode {
            *timer = Some(cx.every(*period));
        }
        Ok(())
    }

    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        msg.release_receipt();
        // Held messages are done when their sequence is sent or dropped (`cx.done`).
        cx.defer_done();
        if msg.get("reset").is_some() {
            self.reset(cx).await;
            cx.done(&msg).await;
            return Ok(());
        }
        match &mut self.mode {
            Mode::Count {
                count,
                overlap,
                honour_parts,
                queue,
            } => {
                let ends_sequence = *honour_parts && is_last_part(&msg);
                queue.push(msg);
                self.pending_count += 1;
                if queue.len() == *count || ends_sequence {
                    let overlap = *overlap;
                    if overlap == 0 {
                        send_sequence(std::mem::take(queue), cx, true).await;
                    } else {
                        // The kept messages go out again: send copies.
                        send_sequence(queue.clone(), cx, false).await;
                        let keep_from = queue.len().saturating_sub(overlap);
                        for msg in queue.drain(..keep_from) {
                            cx.done(&msg).await;
                        }
                    }
                    self.pending_count = 0;
                }
                self.check_overflow(cx).await
            }
            Mode::Interval { queue, .. } => {
                queue.push(msg);
                self.pending_count += 1;
                self.check_overflow(cx).await
            }
            Mode::Concat { topics, pending } => {
                let topic = msg.get("topic");
                if !topics.iter().any(|t| t.as_ref() == topic) {
                    return Ok(());
                }
                let topic = topic_key(topic);
                let gid = match msg.get("parts") {
                    Some(Value::Object(parts))
                        if parts.contains_key("index") && parts.contains_key("count") =>
                    {
                        match parts.get("id") {
                            Some(id) => id.to_js_string(),
                            None => return Err(NodeError::new(NO_PARTS).for_msg(msg)),
                        }
                    }
                    _ => return Err(NodeError::new(NO_PARTS).for_msg(msg)),
                };
                self.pending_count += 1;
                if self.buffer_limit > 0 && self.pending_count > self.buffer_limit {
                    // This message overflows: it fails and every held one is dropped.
                    for msg in self.take_pending() {
                        cx.done(&msg).await;
                    }
                    return Err(NodeError::new(TOO_MANY).for_msg(msg));
                }
                let sequences = pending.entry(topic).or_default();
                let sequence = sequences.by_id.entry(gid.clone()).or_insert_with(|| {
                    sequences.order.push_back(gid);
                    Sequence::default()
                });
                if sequence.count.is_none() {
                    sequence.count = msg
                        .get("parts")
                        .and_then(|p| p.as_object()?.get("count").cloned());
                }
                sequence.msgs.push(msg);
                if let Some(msgs) = take_concatenation(topics, pending) {
                    self.pending_count = self.pending_count.saturating_sub(msgs.len());
                    for msg in &msgs {
                        cx.done(msg).await;
                    }
                    send_sequence(msgs, cx, false).await;
                }
                Ok(())
            }
        }
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Event::Timer(id) = event else {
            return Ok(());
        };
        let Mode::Interval {
            allow_empty,
            timer,
            queue,
            ..
        } = &mut self.mode
        else {
            return Ok(());
        };
        if *timer != Some(id) {
            // A tick of a timer a reset replaced.
            return Ok(());
        }
        self.pending_count = 0;
        if !queue.is_empty() {
            send_sequence(std::mem::take(queue), cx, true).await;
        } else if *allow_empty {
            let mut parts = Map::with_capacity(3);
            parts.insert(
                "id".to_owned(),
                Value::from(ferrite_runtime::msg::new_msgid()),
            );
            parts.insert("index".to_owned(), Value::Int(0));
            parts.insert("count".to_owned(), Value::Int(1));
            let mut msg = Msg::with_payload(Value::Null);
            msg.insert("parts", Value::Object(parts));
            cx.send(msg).await;
        }
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        if let Mode::Interval {
            timer: Some(id), ..
        } = &self.mode
        {
            cx.cancel_timer(*id);
        }
        for msg in self.take_pending() {
            cx.done(&msg).await;
        }
    }
}

impl Batch {
    /// `msg.reset`: drops what is held; the interval starts afresh.
    async fn reset(&mut self, cx: &mut NodeCtx) {
        for msg in self.take_pending() {
            cx.done(&msg).await;
        }
        if let Mode::Interval { period, timer, .. } = &mut self.mode {
            if let Some(id) = timer.take() {
                cx.cancel_timer(id);
            }
            *timer = Some(cx.every(*period));
        }
    }

    /// Every held message, oldest sequence first; none stays held.
    fn take_pending(&mut self) -> Vec<Msg> {
        self.pending_count = 0;
        match &mut self.mode {
            Mode::Count { queue, .. } | Mode::Interval { queue, .. } => std::mem::take(queue),
            Mode::Concat { pending, .. } => pending
                .drain()
                .flat_map(|(_, topic)| topic.by_id.into_values())
                .flat_map(|sequence| sequence.msgs)
                .collect(),
        }
    }

    /// Over the buffer limit (`count` and `interval`): the newest message fails, the rest
    /// are dropped.
    async fn check_overflow(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if self.buffer_limit == 0 || self.pending_count <= self.buffer_limit {
            return Ok(());
        }
        let mut dropped = self.take_pending();
        let last = dropped.pop();
        for msg in &dropped {
            cx.done(msg).await;
        }
        let error = NodeError::new(TOO_MANY);
        Err(match last {
            Some(msg) => error.for_msg(msg),
            None => error,
        })
    }
}

/// `parts.index + 1 === parts.count`, both numbers.
fn is_last_part(msg: &Msg) -> bool {
    let Some(Value::Object(parts)) = msg.get("parts") else {
        return false;
    };
    let number = |key: &str| match parts.get(key) {
        Some(v @ (Value::Int(_) | Value::Float(_))) => Some(v.to_number()),
        _ => None,
    };
    matches!((number("index"), number("count")), (Some(i), Some(c)) if i + 1.0 == c)
}

/// The key Node-RED files a topic under (`String(topic)`).
fn topic_key(topic: Option<&Value>) -> String {
    topic.map_or_else(|| "undefined".to_owned(), Value::to_js_string)
}

/// When the oldest sequence of every configured topic is complete: their messages, in
/// topic order, and those sequences are removed.
fn take_concatenation(
    topics: &[Option<Value>],
    pending: &mut HashMap<String, TopicSequences>,
) -> Option<Vec<Msg>> {
    let keys: Vec<String> = topics.iter().map(|t| topic_key(t.as_ref())).collect();
    let mut msgs = Vec::new();
    for key in &keys {
        let sequence = pending.get(key)?.complete_front()?;
        msgs.extend(sequence.msgs.iter().cloned());
    }
    for key in &keys {
        if let Some(sequences) = pending.get_mut(key) {
            sequences.pop_front();
        }
    }
    Some(msgs)
}

/// Sends `msgs` as one sequence: `parts.id` is the first message's `_msgid`.
/// With `done`, each message sent is also done (Node-RED sends and completes the same
/// object when it does not copy).
async fn send_sequence(msgs: Vec<Msg>, cx: &mut NodeCtx, done: bool) {
    let count = Value::from(msgs.len());
    let id = msgs
        .first()
        .and_then(|m| m.get(ferrite_runtime::msg::MSGID).cloned())
        .unwrap_or(Value::Null);
    for (index, mut msg) in msgs.into_iter().enumerate() {
        let map = msg.map_mut();
        let parts = map
            .entry("parts".to_owned())
            .or_insert_with(|| Value::Object(Map::with_capacity(3)));
        if !matches!(parts, Value::Object(_)) {
            *parts = Value::Object(Map::with_capacity(3));
        }
        if let Value::Object(parts) = parts {
            parts.insert("id".to_owned(), id.clone());
            parts.insert("index".to_owned(), Value::from(index));
            parts.insert("count".to_owned(), count.clone());
        }
        if done {
            cx.done(&msg).await;
        }
        cx.send(msg).await;
    }
}
