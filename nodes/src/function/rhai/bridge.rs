//! The one Rhai engine every `rhai` node shares, and everything between it and the runtime:
//! [`Value`] ↔ [`Dynamic`], the objects scripts see (`node`, `context`, `flow`, `global`,
//! `env`), and the budget of each call (operations, deadline, stop request), enforced from
//! the engine's progress callback.
//!
//! Scripts run synchronously, so what they ask of the node (`node.send`, `node.status`, ...)
//! is recorded as [`Effect`]s in a thread-local call record and carried out, in order, once
//! the script returns. The engine is shared by every node on every thread, so nothing
//! per-node can live in it.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use ferrite_runtime::context::{ContextScope, NodeContext};
use ferrite_runtime::env::Env;
use ferrite_runtime::msg::MSGID;
use ferrite_runtime::{Map, Msg, Status, Value};
use rhai::{AST, Array, Dynamic, Engine, EvalAltResult, ImmutableString, Position, Scope};

/// Longest string a script may build (bytes).
pub(super) const MAX_STRING_SIZE: usize = 16 << 20;
/// Most elements an array a script builds may hold.
pub(super) const MAX_ARRAY_SIZE: usize = 1_000_000;
/// Most properties an object map a script builds may hold.
pub(super) const MAX_MAP_SIZE: usize = 100_000;
/// Deepest nesting of script function calls. Each level costs native stack, and scripts
/// run on the runtime's worker threads.
pub(super) const MAX_CALL_LEVELS: usize = 32;

/// The engine, built on first use.
pub(super) static ENGINE: LazyLock<Engine> = LazyLock::new(build_engine);

fn build_engine() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_ARRAY_SIZE)
        .set_max_map_size(MAX_MAP_SIZE)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(64, 32)
        .on_progress(progress)
        .on_print(|text| record(Effect::Log(Level::Info, text.to_owned())))
        // `debug` is a Rhai keyword, so `node.debug(x)` cannot parse: Rhai's own `debug(x)`
        // logs at that level instead.
        .on_debug(|text, _, pos| record(Effect::Log(Level::Debug, format!("{text}{}", at(pos)))));
    register_api(&mut engine);
    super::plc::register(&mut engine);
    engine
}

/// What a script asked of its node, carried out after it returns.
pub(super) enum Effect {
    Send(Dynamic),
    Done,
    Log(Level, String),
    Warn(String),
    Error(String, Option<Dynamic>),
    Status(Status),
}

/// Levels of `node.log` (and `print`), `debug`, `node.trace` (warn and error are effects of their own:
/// they also reach the editor).
#[derive(Debug, Clone, Copy)]
pub(super) enum Level {
    Info,
    Debug,
    Trace,
}

/// The budget of one script call.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    pub max_operations: u64,
    pub timeout: Option<Duration>,
}

/// The call running on this thread.
struct Call {
    deadline: Option<Instant>,
    stopping: Option<Arc<AtomicBool>>,
    effects: Vec<Effect>,
}

thread_local! {
    static CALL: RefCell<Option<Call>> = const { RefCell::new(None) };
    /// The running call's operation limit, apart from [`CALL`] so that the check made at
    /// every operation is one read.
    static MAX_OPERATIONS: Cell<u64> = const { Cell::new(u64::MAX) };
}

/// How often (in operations) the clock and the stop flag are read: often enough to stop
/// within microseconds, rarely enough to cost nothing measurable.
const CHECK_EVERY: u64 = 1024;

/// Why the progress callback ended a script.
const OPERATIONS: &str = "operations";
const TIMEOUT: &str = "timeout";
const STOPPING: &str = "stopping";

fn progress(operations: u64) -> Option<Dynamic> {
    if operations > MAX_OPERATIONS.get() {
        return Some(OPERATIONS.into());
    }
    if !operations.is_multiple_of(CHECK_EVERY) {
        return None;
    }
    CALL.with_borrow(|call| {
        let call = call.as_ref()?;
        if call
            .stopping
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            return Some(STOPPING.into());
        }
        match call.deadline {
            Some(deadline) if Instant::now() >= deadline => Some(TIMEOUT.into()),
            _ => None,
        }
    })
}

fn record(effect: Effect) {
    CALL.with_borrow_mut(|call| {
        if let Some(call) = call {
            call.effects.push(effect);
        }
    });
}

/// Why a script failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum ScriptError {
    #[error("{message}{}", at(*position))]
    Syntax { message: String, position: Position },
    #[error("{message}{}", at(*position))]
    Runtime { message: String, position: Position },
    #[error("Script exceeded its limit of {0} operations")]
    Operations(u64),
    #[error("Script execution timed out after {}ms", .0.as_millis())]
    Timeout(Duration),
    #[error("Script stopped: the node is closing")]
    Stopped,
}

/// Node-RED's `(line N, col M)` suffix, when the position is known.
fn at(position: Position) -> String {
    match (position.line(), position.position()) {
        (Some(line), Some(col)) => format!(" (line {line}, col {col})"),
        (Some(line), None) => format!(" (line {line})"),
        _ => String::new(),
    }
}

impl ScriptError {
    fn from_eval(mut error: EvalAltResult, budget: &Budget) -> Self {
        let position = error.take_position();
        let message = match error {
            EvalAltResult::ErrorTerminated(reason, _) => {
                return match reason.into_immutable_string().as_deref() {
                    Ok(OPERATIONS) => Self::Operations(budget.max_operations),
                    Ok(TIMEOUT) => Self::Timeout(budget.timeout.unwrap_or_default()),
                    _ => Self::Stopped,
                };
            }
            // `throw "text"` and errors of native functions: the text alone, as a thrown
            // string is in Node-RED; anything else thrown as JSON, as Node-RED does.
            EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.to_string(),
            EvalAltResult::ErrorRuntime(value, _) => to_value(value).to_json_string(),
            EvalAltResult::ErrorParsing(kind, _) => {
                return Self::Syntax {
                    message: kind.to_string(),
                    position,
                };
            }
            other => other.to_string(),
        };
        Self::Runtime { message, position }
    }

    /// A compile error of `source`.
    pub(super) fn syntax(error: rhai::ParseError) -> Self {
        Self::Syntax {
            message: error.err_type().to_string(),
            position: error.position(),
        }
    }
}

/// Compiles a script; `Ok(None)` for an empty one.
pub(super) fn compile(source: &str) -> Result<Option<AST>, ScriptError> {
    if source.trim().is_empty() {
        return Ok(None);
    }
    ENGINE
        .compile(source)
        .map(Some)
        .map_err(ScriptError::syntax)
}

/// Runs `ast` in `scope` within `budget`, ending early once `stopping` is set; returns its
/// result and what it asked of the node.
pub(super) fn run(
    ast: &AST,
    scope: &mut Scope<'static>,
    budget: &Budget,
    stopping: Option<&Arc<AtomicBool>>,
) -> (Result<Dynamic, ScriptError>, Vec<Effect>) {
    let call = Call {
        // A deadline beyond what the clock can count is no deadline.
        deadline: budget.timeout.and_then(|t| Instant::now().checked_add(t)),
        stopping: stopping.cloned(),
        effects: Vec::new(),
    };
    let outer = CALL.replace(Some(call));
    let outer_limit = MAX_OPERATIONS.replace(budget.max_operations);
    let result = ENGINE.eval_ast_with_scope::<Dynamic>(scope, ast);
    MAX_OPERATIONS.set(outer_limit);
    let effects = CALL
        .replace(outer)
        .map(|call| call.effects)
        .unwrap_or_default();
    (
        result.map_err(|e| ScriptError::from_eval(*e, budget)),
        effects,
    )
}

// ---------------------------------------------------------------------------------------
// The objects scripts see.

/// `node`: the script's own node.
#[derive(Debug, Clone)]
pub(super) struct NodeApi {
    pub id: ImmutableString,
    pub name: ImmutableString,
    pub output_count: rhai::INT,
}

/// `context`, `flow`, `global`.
#[derive(Debug, Clone)]
pub(super) struct ContextApi {
    pub context: NodeContext,
    pub scope: ContextScope,
}

/// `env`.
#[derive(Debug, Clone)]
pub(super) struct EnvApi(pub Env);

type Fallible<T> = Result<T, Box<EvalAltResult>>;

fn register_api(engine: &mut Engine) {
    engine
        .register_type_with_name::<NodeApi>("Node")
        .register_get("id", |n: &mut NodeApi| n.id.clone())
        .register_get("name", |n: &mut NodeApi| n.name.clone())
        .register_get("outputCount", |n: &mut NodeApi| n.output_count)
        .register_fn("send", |_: &mut NodeApi, msgs: Dynamic| {
            record(Effect::Send(msgs));
        })
        // Node-RED's `cloneMsg` flag: every sent message is converted anyway, so a copy.
        .register_fn("send", |_: &mut NodeApi, msgs: Dynamic, _clone: bool| {
            record(Effect::Send(msgs));
        })
        .register_fn("done", |_: &mut NodeApi| record(Effect::Done))
        .register_fn("log", |_: &mut NodeApi, v: Dynamic| {
            record(Effect::Log(Level::Info, text_of(v)));
        })
        .register_fn("trace", |_: &mut NodeApi, v: Dynamic| {
            record(Effect::Log(Level::Trace, text_of(v)));
        })
        .register_fn("warn", |_: &mut NodeApi, v: Dynamic| {
            record(Effect::Warn(text_of(v)));
        })
        .register_fn("error", |_: &mut NodeApi, v: Dynamic| {
            record(Effect::Error(text_of(v), None));
        })
        .register_fn("error", |_: &mut NodeApi, v: Dynamic, msg: Dynamic| {
            record(Effect::Error(text_of(v), Some(msg)));
        })
        .register_fn("status", |_: &mut NodeApi, v: Dynamic| {
            record(Effect::Status(status_of(v)));
        });

    engine
        .register_type_with_name::<ContextApi>("Context")
        .register_fn("get", |c: &mut ContextApi, key: &str| c.get(key, None))
        .register_fn("get", |c: &mut ContextApi, key: &str, store: &str| {
            c.get(key, Some(store))
        })
        .register_fn("set", |c: &mut ContextApi, key: &str, value: Dynamic| {
            c.set(key, value, None)
        })
        .register_fn(
            "set",
            |c: &mut ContextApi, key: &str, value: Dynamic, store: &str| {
                c.set(key, value, Some(store))
            },
        )
        .register_fn("keys", |c: &mut ContextApi| c.keys(None))
        .register_fn("keys", |c: &mut ContextApi, store: &str| {
            c.keys(Some(store))
        })
        // Node-RED's `context.flow` and `context.global`.
        .register_get("flow", |c: &mut ContextApi| {
            c.with_scope(ContextScope::Flow)
        })
        .register_get("global", |c: &mut ContextApi| {
            c.with_scope(ContextScope::Global)
        });

    engine
        .register_type_with_name::<EnvApi>("Env")
        .register_fn("get", |e: &mut EnvApi, name: &str| {
            e.0.get(name).map_or(Dynamic::UNIT, |v| to_dynamic(&v))
        });

    engine
        .register_fn("json_parse", json_parse)
        .register_fn("json_stringify", |v: Dynamic| to_value(v).to_json_string())
        .register_fn("json_stringify", |v: Dynamic, indent: rhai::INT| {
            to_value(v).to_json_pretty(usize::try_from(indent).unwrap_or(0))
        })
        // Rhai values are copied on assignment already; this names the intent, as
        // `RED.util.cloneMessage` does.
        .register_fn("clone_msg", |v: Dynamic| v);
}

impl ContextApi {
    fn get(&self, key: &str, store: Option<&str>) -> Fallible<Dynamic> {
        match self.context.get(self.scope, key, store) {
            Ok(value) => Ok(value.map_or(Dynamic::UNIT, |v| to_dynamic(&v))),
            Err(e) => Err(e.to_string().into()),
        }
    }

    fn set(&self, key: &str, value: Dynamic, store: Option<&str>) -> Fallible<()> {
        // Setting `()` deletes, as setting `undefined` does in Node-RED.
        let value = (!value.is_unit()).then(|| to_value(value));
        self.context
            .set(self.scope, key, value, store)
            .map_err(|e| e.to_string().into())
    }

    fn keys(&self, store: Option<&str>) -> Array {
        self.context
            .keys(self.scope, store)
            .into_iter()
            .map(Dynamic::from)
            .collect()
    }

    fn with_scope(&self, scope: ContextScope) -> Self {
        Self {
            context: self.context.clone(),
            scope,
        }
    }
}

fn json_parse(text: &str) -> Fallible<Dynamic> {
    serde_json::from_str::<Value>(text)
        .map(|v| to_dynamic(&v))
        .map_err(|e| format!("json_parse: {e}").into())
}

/// What `node.log/warn/error` print: strings as they are, anything else as JSON.
fn text_of(v: Dynamic) -> String {
    if v.is_string() {
        return v.to_string();
    }
    to_value(v).to_json_string()
}

/// `node.status(#{fill, shape, text})`, `node.status("text")`, `node.status(#{})`.
fn status_of(v: Dynamic) -> Status {
    Status::from_value(&to_value(v))
}

// ---------------------------------------------------------------------------------------
// Value ↔ Dynamic: the one place message values cross into scripts and back.

/// A message value as a script sees it: `null` is `()`, objects are object maps, buffers
/// are blobs.
pub(super) fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Int(i) => Dynamic::from_int(*i),
        Value::Float(f) => Dynamic::from_float(*f),
        Value::String(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        Value::Bytes(b) => Dynamic::from_blob(b.to_vec()),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(map) => {
            // Inserting one by one: collecting sorts through a temporary vector first,
            // which costs more for the few keys messages have.
            let mut out = rhai::Map::new();
            for (k, v) in map {
                out.insert(k.as_str().into(), to_dynamic(v));
            }
            Dynamic::from_map(out)
        }
    }
}

/// Makes the script value `target` equal to `value`, reusing what it holds: the `msg` of
/// the previous run has the same keys as the next message nearly always, so its map nodes,
/// keys and short strings are updated rather than allocated anew.
pub(super) fn assign_dynamic(target: &mut Dynamic, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Ok(mut old) = target.as_map_mut() {
                for (key, v) in map {
                    match old.get_mut(key.as_str()) {
                        Some(slot) => assign_dynamic(slot, v),
                        None => {
                            old.insert(key.as_str().into(), to_dynamic(v));
                        }
                    }
                }
                // Every key of `map` is in `old` now: more keys mean stale ones.
                if old.len() > map.len() {
                    old.retain(|key, _| map.contains_key(key.as_str()));
                }
                return;
            }
        }
        Value::Array(items) => {
            if let Ok(mut old) = target.as_array_mut() {
                old.truncate(items.len());
                for (slot, v) in old.iter_mut().zip(items) {
                    assign_dynamic(slot, v);
                }
                let have = old.len();
                old.extend(items[have..].iter().map(to_dynamic));
                return;
            }
        }
        Value::String(text) => {
            if let Some(mut old) = target.write_lock::<ImmutableString>() {
                if old.as_str() != text.as_str() {
                    let owned = old.make_mut();
                    owned.clear();
                    owned.push_str(text);
                }
                return;
            }
        }
        _ => {}
    }
    *target = to_dynamic(value);
}

/// A script's value as a message value.
pub(super) fn to_value(value: Dynamic) -> Value {
    let mut target = Value::Null;
    merge_into(&mut target, value);
    target
}

/// As [`to_value`], with object keys in the order `like` (what the script was given) has
/// them.
pub(super) fn to_value_like(value: Dynamic, like: Option<&Value>) -> Value {
    let mut target = like.cloned().unwrap_or_default();
    merge_into(&mut target, value);
    target
}

/// Updates the message a script was given to the object map it returned, in place: what
/// did not change is neither converted nor copied, and `_msgid` stays the input's.
pub(super) fn merge_message(msg: &mut Msg, map: rhai::Map) {
    merge_map(msg.map_mut(), map, Some(MSGID));
}

/// Makes `target` equal to the script's `value`, reusing what it already holds: unchanged
/// strings and keys are not copied, and object keys keep their order (Rhai's object maps
/// are sorted by key, Node-RED's objects keep insertion order), new keys following.
fn merge_into(target: &mut Value, value: Dynamic) {
    let value = value.flatten();
    if value.is_map() {
        let map = value.cast::<rhai::Map>();
        match target {
            Value::Object(old) => merge_map(old, map, None),
            _ => {
                *target = Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k.into(), to_value(v)))
                        .collect(),
                );
            }
        }
    } else if value.is_array() {
        let items = value.cast::<Array>();
        match target {
            Value::Array(old) => {
                old.truncate(items.len());
                let mut items = items.into_iter();
                for (slot, item) in old.iter_mut().zip(items.by_ref()) {
                    merge_into(slot, item);
                }
                old.extend(items.map(to_value));
            }
            _ => *target = Value::Array(items.into_iter().map(to_value).collect()),
        }
    } else if let Ok(text) = value.as_immutable_string_ref() {
        match target {
            Value::String(old) if old.as_str() == text.as_str() => {}
            _ => *target = Value::String(text.to_string()),
        }
    } else if value.is_unit() {
        *target = Value::Null;
    } else if let Ok(i) = value.as_int() {
        *target = Value::Int(i);
    } else if let Ok(f) = value.as_float() {
        *target = Value::Float(f);
    } else if let Ok(b) = value.as_bool() {
        *target = Value::Bool(b);
    } else if value.is_blob() {
        *target = Value::Bytes(value.cast::<rhai::Blob>().into());
    } else {
        // Characters, and anything else (timestamps, function pointers), as text.
        *target = Value::String(value.to_string());
    }
}

/// [`merge_into`] for objects; `keep` names a key left as it is.
fn merge_map(old: &mut Map, mut map: rhai::Map, keep: Option<&str>) {
    let mut matched = 0;
    old.retain(|key, value| {
        let new = map.get_mut(key.as_str());
        matched += usize::from(new.is_some());
        if keep == Some(key.as_str()) {
            return true;
        }
        match new {
            Some(new) => {
                merge_into(value, std::mem::take(new));
                true
            }
            None => false,
        }
    });
    if matched < map.len() {
        for (key, value) in map {
            if !old.contains_key(key.as_str()) {
                old.insert(key.into(), to_value(value));
            }
        }
    }
}

/// The JavaScript type name Node-RED's "Function tried to send a message of type ..." uses.
pub(super) fn js_type_of(value: &Dynamic) -> &'static str {
    if value.is_array() {
        "Array"
    } else if value.is_blob() {
        "Buffer"
    } else if value.is_string() || value.is_char() {
        "string"
    } else if value.is_int() || value.is_float() {
        "number"
    } else if value.is_bool() {
        "boolean"
    } else {
        "object"
    }
}
