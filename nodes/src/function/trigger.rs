//! `trigger` — mirrors Node-RED `@node-red/nodes/core/function/89-trigger.js`.
//!
//! Config (runtime defaults when missing or empty):
//! * `op1` ("1") / `op1type` ("str"): what to send at once; `op2` ("0") / `op2type` ("str"):
//!   what to send when the time runs out. Types: `str num bool json bin date env flow
//!   global` (typed inputs), `pay` (op1: the message as it is; op2: the payload of the
//!   triggering message), `payl` (op2: the latest message received while waiting), `nul`
//!   (send nothing), `val` (the editor's legacy type: `"true"`/`"false"` are booleans,
//!   `"null"` is null, anything else a string). A `date` op left at its default means now in
//!   ms. String ops containing `{{` are mustache templates rendered against the message.
//!   JSON, buffer and JSONata ops are compiled at deploy.
//! * `duration` ("250"; not a number → 250) in `units` (`ms|s|min|hr`): 0 waits for a
//!   reset; negative repeats op1 every |duration| until reset. Durations beyond 24.8 days
//!   are honoured up to about 2.2 years (Node.js fires them after 1 ms).
//! * `extend` (false): a message while waiting restarts the timer.
//! * `overrideDelay` (false): `msg.delay` (ms) replaces the duration for that message.
//! * `reset` (""): a payload whose text equals it resets, as `msg.reset` does.
//! * `bytopic` (`all` | `topic`) and `topic` ("topic"): with `topic`, every value of that
//!   message property runs its own trigger (falsy values share `"_none"`).
//! * `outputs` (1): 2 sends the second message on output 2.
//!
//! Reads `msg.reset`, `msg.delay`, `msg.payload`, the `topic` property; writes
//! `msg.payload` (op1 on the triggering message; op2 on a copy of it, or of the latest
//! message when extended). Status: blue dot while any trigger waits, with the count when
//! more than one topic waits; cleared when none does.
//!
//! Templates are rendered by the shared mustache.js-compatible renderer
//! ([`super::mustache`]), compiled at deploy.

use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ferrite_runtime::loose::{json_bool, json_f64, json_truthy};
use ferrite_runtime::path::PropPath;
use ferrite_runtime::typed::{TypedValue, json_text};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status,
    TimerId, Value, async_trait,
};
use serde_json::Value as Json;

use super::delay::timer_duration;
use super::mustache::Template;

pub const DEF: NodeDef = NodeDef {
    type_name: "trigger",
    category: "function",
    set_id: "node-red/trigger",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// The key every message uses when `bytopic` is `all`, and falsy topics use otherwise.
const ALL_TOPICS: &str = "_none";

/// A compiled op1 / op2.
enum Op {
    /// `nul`: send nothing.
    Nothing,
    /// `pay`: keep the payload.
    Payload,
    /// `payl` (op2): the latest message.
    Latest,
    /// A string op containing `{{`: a mustache template rendered against the message.
    Template(Template),
    /// Any other type, as a typed input.
    Value(TypedValue),
}

impl Op {
    /// Values Node-RED reads again when the time runs out.
    fn is_context_or_date(&self) -> bool {
        matches!(
            self,
            Self::Value(TypedValue::Flow(_) | TypedValue::Global(_) | TypedValue::Date(_))
        )
    }

    fn is_context(&self) -> bool {
        matches!(
            self,
            Self::Value(TypedValue::Flow(_) | TypedValue::Global(_))
        )
    }
}

/// A deadline, unique by its sequence number; earlier first, then in the order set (as
/// Node.js fires timers of the same duration).
type Due = (Instant, u64);

/// What a topic's trigger is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Known, but not running (an op failed to evaluate, or op1 is `nul` in repeat mode).
    Idle,
    /// Duration 0: blocked until reset.
    Forever,
    /// The second message, at this place in the deadline queue.
    Once(Due),
    /// Repeating op1 on this interval.
    Repeat(TimerId),
}

/// One topic's running trigger.
struct Topic {
    wait: Wait,
    /// The second payload (`None`: undefined).
    m2: Option<Value>,
    /// The message the second output is built on: the triggering one (op1 applied), or the
    /// latest one once extended; in repeat mode, the message repeated.
    base: Option<Msg>,
    /// The running timer was restarted by `extend`.
    extended: bool,
}

struct Trigger {
    op1: Op,
    op2: Op,
    /// op1 is a `date`: a repeat sends the time of each repeat.
    op1_date: bool,
    duration_ms: f64,
    repeat: bool,
    extend: bool,
    override_delay: bool,
    reset: String,
    topic: Option<PropPath>,
    second: bool,
    topics: HashMap<String, Topic>,
    /// `payl`: the latest message per topic.
    latest: HashMap<String, Msg>,
    /// Topics waiting for their second message, by deadline; one timer is armed for the
    /// earliest.
    due: BTreeMap<Due, String>,
    next_seq: u64,
    due_timer: Option<(TimerId, Instant)>,
    /// Repeat intervals by topic.
    repeats: HashMap<TimerId, String>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    // Node-RED's `n.x || default`: missing, "", 0, false and null take the default.
    let or_default = |key: &str, default: &str| -> String {
        match raw.get(key) {
            Some(v) if json_truthy(v) => json_text(v),
            _ => default.to_owned(),
        }
    };
    let op1_text = or_default("op1", "1");
    let op1 = match compile_op("op1", &op1_text, &or_default("op1type", "str"), "1")? {
        // `payl` means nothing for op1: Node-RED evaluates it as an unknown type.
        Op::Latest => Op::Value(TypedValue::Str(op1_text)),
        op => op,
    };
    let op2 = compile_op(
        "op2",
        &or_default("op2", "0"),
        &or_default("op2type", "str"),
        "0",
    )?;

    let mut duration = raw
        .get("duration")
        .map(json_text)
        .and_then(|text| Value::String(text).parse_float())
        .unwrap_or(250.0);
    let repeat = duration < 0.0;
    duration = duration.abs();
    duration *= match or_default("units", "ms").as_str() {
        "s" => 1_000.0,
        "min" => 60_000.0,
        "hr" => 3_600_000.0,
        _ => 1.0,
    };

    let topic = if or_default("bytopic", "all") == "all" {
        None
    } else {
        let path = or_default("topic", "topic");
        Some(PropPath::parse_msg(&path).map_err(|e| ConfigError::field("topic", e))?)
    };

    Ok(Box::new(Trigger {
        op1_date: matches!(op1, Op::Value(TypedValue::Date(_))),
        op1,
        op2,
        duration_ms: duration,
        repeat,
        extend: !repeat && raw.get("extend").is_some_and(json_bool),
        override_delay: raw.get("overrideDelay").is_some_and(json_bool),
        reset: or_default("reset", ""),
        topic,
        second: raw.get("outputs").and_then(json_f64) == Some(2.0),
        topics: HashMap::new(),
        latest: HashMap::new(),
        due: BTreeMap::new(),
        next_seq: 0,
        due_timer: None,
        repeats: HashMap::new(),
    }))
}

/// Compiles an op as Node-RED's constructor prepares it (`val` resolved, a `date` left at
/// the default `untouched` value meaning now, `{{` strings as templates).
fn compile_op(field: &str, value: &str, vt: &str, untouched: &str) -> Result<Op, ConfigError> {
    let (value, vt) = match vt {
        "date" if value == untouched => ("", "date"),
        "val" => match value {
            "true" | "false" => (value, "bool"),
            "null" => return Ok(Op::Value(TypedValue::Json(Value::Null))),
            _ => (value, "str"),
        },
        _ => (value, vt),
    };
    Ok(match vt {
        "nul" => Op::Nothing,
        "pay" => Op::Payload,
        "payl" => Op::Latest,
        "str" if value.contains("{{") => {
            Op::Template(Template::parse(value).map_err(|e| ConfigError::field(field, e))?)
        }
        // Node-RED hands unknown types back unchanged.
        _ => match TypedValue::compile(vt, &Json::String(value.to_owned())) {
            Ok(typed) => Op::Value(typed),
            Err(ferrite_runtime::typed::TypedError::UnknownType(_)) => {
                Op::Value(TypedValue::Str(value.to_owned()))
            }
            Err(e) => return Err(ConfigError::field(field, e)),
        },
    })
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn waiting_status(count: usize) -> Status {
    match count {
        0 => Status::clear(),
        1 => Status {
            fill: Some("blue".to_owned()),
            shape: Some("dot".to_owned()),
            text: None,
        },
        n => Status::dot("blue", n.to_string()),
    }
}

/// Sets (or, for undefined, removes) the payload.
fn set_payload(msg: &mut Msg, value: Option<Value>) {
    match value {
        Some(v) => msg.insert("payload", v),
        None => {
            msg.remove("payload");
        }
    }
}

impl Trigger {
    fn topic_key(&self, msg: &Msg) -> String {
        let Some(path) = &self.topic else {
            return ALL_TOPICS.to_owned();
        };
        match msg.get_path(path) {
            Some(v) if v.is_truthy() => v.to_js_string(),
            _ => ALL_TOPICS.to_owned(),
        }
    }

    fn is_reset(&self, msg: &Msg) -> bool {
        msg.get("reset").is_some()
            || (!self.reset.is_empty()
                && msg
                    .payload()
                    .is_some_and(|p| !p.is_null() && p.to_js_string() == self.reset))
    }

    /// Evaluates an op that yields a value (templates and typed inputs); `Ok(None)` is
    /// undefined.
    fn evaluate(op: &Op, msg: &Msg, cx: &NodeCtx) -> Result<Option<Value>, NodeError> {
        match op {
            Op::Template(template) => Ok(Some(Value::String(template.render(msg.as_value())))),
            Op::Value(typed) => cx
                .eval(typed, Some(msg))
                .map_err(|e| NodeError::new(e.to_string())),
            Op::Nothing | Op::Payload | Op::Latest => Ok(None),
        }
    }

    async fn show_status(&self, cx: &mut NodeCtx) {
        cx.status(waiting_status(self.topics.len())).await;
    }

    fn cancel(&mut self, wait: Wait, cx: &mut NodeCtx) {
        match wait {
            Wait::Once(due) => {
                self.due.remove(&due);
                self.rearm(cx);
            }
            Wait::Repeat(id) => {
                cx.cancel_timer(id);
                self.repeats.remove(&id);
            }
            Wait::Idle | Wait::Forever => {}
        }
    }

    fn start_timer(&mut self, key: &str, delay_ms: f64, repeat: bool, cx: &mut NodeCtx) -> Wait {
        let period = timer_duration(delay_ms);
        if repeat {
            let id = cx.every(period);
            self.repeats.insert(id, key.to_owned());
            return Wait::Repeat(id);
        }
        let due = (Instant::now() + period, self.next_seq);
        self.next_seq += 1;
        self.due.insert(due, key.to_owned());
        self.rearm(cx);
        Wait::Once(due)
    }

    /// Keeps the one timer armed for the earliest deadline.
    fn rearm(&mut self, cx: &mut NodeCtx) {
        let earliest = self.due.first_key_value().map(|(&(at, _), _)| at);
        if self.due_timer.map(|(_, at)| at) == earliest {
            return;
        }
        if let Some((id, _)) = self.due_timer.take() {
            cx.cancel_timer(id);
        }
        if let Some(at) = earliest {
            let wait = at.saturating_duration_since(Instant::now());
            self.due_timer = Some((cx.after(wait), at));
        }
    }

    /// The first message of a trigger (or every message, in repeat mode).
    async fn trigger(
        &mut self,
        key: String,
        mut msg: Msg,
        delay_ms: f64,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        // op2 is worked out first, from the message as it arrived.
        let m2 = match &self.op2 {
            Op::Payload => Some(msg.payload().cloned()),
            Op::Nothing => None,
            op => Some(Self::evaluate(op, &msg, cx).map_err(|e| e.with_msg(&msg))?),
        };
        match &self.op1 {
            Op::Payload | Op::Nothing | Op::Latest => {}
            op => {
                let value = Self::evaluate(op, &msg, cx).map_err(|e| e.with_msg(&msg))?;
                set_payload(&mut msg, value);
            }
        }
        let sends_op1 = !matches!(self.op1, Op::Nothing);
        // Only repeat mode triggers again while a timer runs.
        let previous = self.topics.get(&key).map_or(Wait::Idle, |t| t.wait);
        self.cancel(previous, cx);
        let wait = if delay_ms == 0.0 {
            Wait::Forever
        } else if self.repeat {
            if sends_op1 {
                self.start_timer(&key, delay_ms, true, cx)
            } else {
                Wait::Idle
            }
        } else {
            self.start_timer(&key, delay_ms, false, cx)
        };
        let entry = self.topics.entry(key).or_insert(Topic {
            wait: Wait::Idle,
            m2: None,
            base: None,
            extended: false,
        });
        entry.wait = wait;
        entry.extended = false;
        if let Some(m2) = m2 {
            entry.m2 = m2;
        }
        entry.base = Some(msg.clone());
        self.show_status(cx).await;
        if sends_op1 {
            cx.send(msg).await;
        }
        Ok(())
    }

    /// A message while waiting, with `extend` on: the timer starts again.
    fn extend(&mut self, key: &str, msg: Msg, delay_ms: f64, cx: &mut NodeCtx) {
        let previous = self.topics.get(key).map_or(Wait::Idle, |t| t.wait);
        self.cancel(previous, cx);
        let wait = self.start_timer(key, delay_ms, false, cx);
        if let Some(entry) = self.topics.get_mut(key) {
            if matches!(self.op2, Op::Latest) {
                entry.m2 = msg.payload().cloned();
            }
            entry.wait = wait;
            entry.base = Some(msg);
            entry.extended = true;
        }
    }

    /// The time ran out: the second message.
    async fn expire(&mut self, key: &str, cx: &mut NodeCtx) {
        let Some(topic) = self.topics.remove(key) else {
            return;
        };
        let out = if matches!(self.op2, Op::Nothing) {
            None
        } else if matches!(self.op2, Op::Latest) && !topic.extended {
            self.latest.remove(key)
        } else {
            let mut m2 = topic.m2;
            let reread = if topic.extended {
                self.op2.is_context()
            } else {
                self.op2.is_context_or_date()
            };
            if reread && let Some(base) = &topic.base {
                match Self::evaluate(&self.op2, base, cx) {
                    Ok(value) => m2 = value,
                    Err(e) => {
                        self.show_status(cx).await;
                        cx.report_error(e).await;
                        return;
                    }
                }
            }
            topic.base.map(|mut base| {
                set_payload(&mut base, m2);
                base
            })
        };
        self.show_status(cx).await;
        if let Some(out) = out {
            cx.send_to(usize::from(self.second), out).await;
        }
    }

    /// A repeat tick: op1 again (a `date` op1 gives the time of this tick).
    async fn repeat_tick(&mut self, key: &str, cx: &mut NodeCtx) {
        let Some(base) = self.topics.get(key).and_then(|t| t.base.clone()) else {
            return;
        };
        let mut out = base;
        if self.op1_date {
            out.insert("payload", Value::Int(now_millis()));
        }
        cx.send(out).await;
    }
}

#[async_trait]
impl Node for Trigger {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        msg.release_receipt();
        let mut delay_ms = self.duration_ms;
        if self.override_delay
            && let Some(delay) = msg.get("delay").and_then(Value::parse_float)
        {
            delay_ms = delay;
        }
        let key = self.topic_key(&msg);
        if self.is_reset(&msg) {
            if let Some(topic) = self.topics.remove(&key) {
                self.cancel(topic.wait, cx);
            }
            self.show_status(cx).await;
            return Ok(());
        }
        if matches!(self.op2, Op::Latest) {
            self.latest.insert(key.clone(), msg.clone());
        }
        match self.topics.get(&key).map(|t| t.wait) {
            None | Some(Wait::Idle) => self.trigger(key, msg, delay_ms, cx).await,
            Some(_) if self.repeat => self.trigger(key, msg, delay_ms, cx).await,
            Some(_) if self.extend && delay_ms > 0.0 => {
                self.extend(&key, msg, delay_ms, cx);
                Ok(())
            }
            Some(_) => Ok(()),
        }
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Event::Timer(id) = event else {
            return Ok(());
        };
        if self.due_timer.is_some_and(|(t, _)| t == id) {
            cx.timer_fired(id);
            self.due_timer = None;
            let now = Instant::now();
            while let Some(entry) = self.due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let (due, key) = entry.remove_entry();
                if self.topics.get(&key).map(|t| t.wait) == Some(Wait::Once(due)) {
                    self.expire(&key, cx).await;
                }
            }
            self.rearm(cx);
        } else if let Some(key) = self.repeats.get(&id).cloned() {
            self.repeat_tick(&key, cx).await;
        }
        // Anything else is a tick of a timer cancelled after it fired.
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        for (id, _) in self.repeats.drain() {
            cx.cancel_timer(id);
        }
        if let Some((id, _)) = self.due_timer.take() {
            cx.cancel_timer(id);
        }
        self.due.clear();
        self.topics.clear();
        cx.status(Status::clear()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(json: Json) -> Msg {
        Msg::try_from(json).expect("object")
    }

    #[test]
    fn templates_render_against_the_message() {
        let m = msg(serde_json::json!({"payload": "<a>", "topic": "t"}));
        let Ok(Op::Template(template)) =
            compile_op("op1", "{{payload}} {{{payload}}} {{topic}}", "str", "1")
        else {
            panic!("a template op");
        };
        assert_eq!(template.render(m.as_value()), "&lt;a&gt; <a> t");
        assert!(
            compile_op("op1", "{{#payload}}", "str", "1").is_err(),
            "unclosed section"
        );
    }

    #[test]
    fn val_ops_become_booleans_null_or_strings() {
        assert!(matches!(
            compile_op("op1", "true", "val", "1"),
            Ok(Op::Value(TypedValue::Bool(true)))
        ));
        assert!(matches!(
            compile_op("op1", "null", "val", "1"),
            Ok(Op::Value(TypedValue::Json(Value::Null)))
        ));
        assert!(matches!(
            compile_op("op1", "{{payload}}", "val", "1"),
            Ok(Op::Template(_))
        ));
        assert!(matches!(
            compile_op("op1", "1", "date", "1"),
            Ok(Op::Value(TypedValue::Date(_)))
        ));
        assert!(matches!(
            compile_op("op2", "0", "null", "0"),
            Ok(Op::Value(TypedValue::Str(_)))
        ));
        assert!(compile_op("op1", "{bad", "json", "1").is_err());
    }
}
