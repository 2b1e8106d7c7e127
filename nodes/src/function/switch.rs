//! `switch` — mirrors Node-RED `@node-red/nodes/core/function/10-switch.js`.
//!
//! Config:
//! * `property` (the value tested) of type `propertyType`: `msg` (default; a property
//!   path), `flow`, `global`, `env` or `jsonata`. A missing or empty `msg` property reads as
//!   `undefined`, as Node-RED's failing lookup does.
//! * `rules` — `[{t, v, vt, v2, v2t, case}]`, one output per rule. `t` is one of `eq` `neq`
//!   `lt` `lte` `gt` `gte` (JavaScript's loose `==`, `!=`, `<`, ... semantics), `btwn` (either
//!   order), `cont` (substring of `String(value)`), `regex` (`case` truthy = ignore case),
//!   `true`, `false`, `null` (null or undefined), `nnull`, `empty`, `nempty`, `istype`, `hask`
//!   (own property), `head` / `tail` / `index` (by `msg.parts`), `jsonata_exp` (the
//!   expression must give `true`; `$I` and `$N` are `msg.parts.index` / `count`) and `else`
//!   (no earlier rule matched). `vt` / `v2t`: `str`, `num`, `bool`, `msg`, `flow`, `global`,
//!   `env`, `jsonata`, `prev` (the property's value for the previous message, initially null)
//!   or the editor's `istype` names; a missing `vt` is `num` when `v` reads as a number,
//!   else `str`.
//! * `checkall` — only the string `"false"` stops at the first matching rule (Node-RED
//!   compares with `== "false"`, so a boolean `false` still checks every rule).
//! * `repair` (truthy) — re-sequence: messages carrying `msg.parts` are buffered until their
//!   whole sequence arrived, then every output gets its own `parts` (new `id`, `index`
//!   counting per output, `count` = messages on that output). A `tail` rule also buffers whole
//!   sequences (it needs `parts.count`).
//! * `outputs` — editor only (the number of rules).
//!
//! Reads the configured property (and whatever the rule values name); writes `msg.parts`
//! only when repairing. One message goes out as one send of an array: the same message on
//! every matching output, copied on write as Node-RED's fan-out clones.
//!
//! Errors: an unknown rule type, a bad JSONata expression, regular expression or property
//! path in the config is a deploy error naming the field. A JSONata error evaluating the
//! property is a warning and drops the message; a JSONata or regular-expression error in a
//! rule is a catchable error with the message. Holding more sequence messages than the
//! `nodeMessageBufferMaxLength` setting allows discards every held one with the catchable
//! error "too many pending messages in switch node". No status.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use ferrite_runtime::loose::json_truthy;
use ferrite_runtime::msg::new_msgid;
use ferrite_runtime::path::PropPath;
use ferrite_runtime::typed::{Eval, Jsonata, TypedValue, compile_regex};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde::Deserialize;
use serde_json::Value as Json;

pub const DEF: NodeDef = NodeDef {
    type_name: "switch",
    category: "function",
    set_id: "node-red/switch",
    role: Role::Plain,
    build: Build::Flow(build),
};

const TOO_MANY: &str = "too many pending messages in switch node";

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    property: Option<Json>,
    #[serde(default, rename = "propertyType")]
    property_type: Option<String>,
    #[serde(default)]
    rules: Option<Vec<RawRule>>,
    #[serde(default)]
    checkall: Json,
    #[serde(default)]
    repair: Json,
}

#[derive(Deserialize)]
struct RawRule {
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    t: String,
    #[serde(default)]
    v: Option<Json>,
    #[serde(default)]
    vt: Option<String>,
    #[serde(default)]
    v2: Option<Json>,
    #[serde(default)]
    v2t: Option<String>,
    #[serde(default)]
    case: Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Btwn,
    Cont,
    Regex,
    True,
    False,
    Null,
    NotNull,
    Empty,
    NotEmpty,
    IsType,
    Head,
    Tail,
    Index,
    HasKey,
    JsonataExp,
    Else,
}

impl Op {
    fn parse(t: &str) -> Option<Self> {
        Some(match t {
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "btwn" => Self::Btwn,
            "cont" => Self::Cont,
            "regex" => Self::Regex,
            "true" => Self::True,
            "false" => Self::False,
            "null" => Self::Null,
            "nnull" => Self::NotNull,
            "empty" => Self::Empty,
            "nempty" => Self::NotEmpty,
            "istype" => Self::IsType,
            "head" => Self::Head,
            "tail" => Self::Tail,
            "index" => Self::Index,
            "hask" => Self::HasKey,
            "jsonata_exp" => Self::JsonataExp,
            "else" => Self::Else,
            _ => return None,
        })
    }

    /// Rules that look only at the property never read `v`.
    fn uses_v(self) -> bool {
        !matches!(
            self,
            Self::True
                | Self::False
                | Self::Null
                | Self::NotNull
                | Self::Empty
                | Self::NotEmpty
                | Self::Else
        )
    }

    fn uses_v2(self) -> bool {
        matches!(self, Self::Btwn | Self::Index)
    }
}

/// A rule value (or the tested property), compiled at deploy.
enum Operand {
    /// JavaScript's `undefined`.
    Undefined,
    /// Known at deploy: literals and env variables.
    Const(Value),
    /// The property's value for the previous message.
    Prev,
    Msg(PropPath),
    /// Context reads and dates: evaluated per message.
    Typed(TypedValue),
    Jsonata(Jsonata),
}

/// The operand's value for one message: borrowed when possible, `None` for `undefined`.
type Val<'a> = Option<Cow<'a, Value>>;

impl Operand {
    /// Compiles `v` of type `vt` (no inference here). `json` and `null` only reach here
    /// for a second value; the first value's special cases are handled by the caller.
    fn compile(
        v: Option<&Json>,
        vt: &str,
        env: &ferrite_runtime::env::Env,
    ) -> Result<Self, String> {
        match vt {
            "prev" => Ok(Self::Prev),
            "jsonata" => Jsonata::compile(&text_of(v))
                .map(Self::Jsonata)
                .map_err(|e| e.to_string()),
            "msg" => {
                let text = text_of(v);
                if text.is_empty() {
                    // getMessageProperty throws on an empty path; the switch reads undefined.
                    return Ok(Self::Undefined);
                }
                PropPath::parse_msg(&text)
                    .map(Self::Msg)
                    .map_err(|e| e.to_string())
            }
            "str" => Ok(Self::Const(Value::String(match v {
                // `"" + undefined`.
                None => "undefined".to_owned(),
                Some(v) => json_to_js_string(v),
            }))),
            "num" => Ok(Self::Const(Value::js_number(match v {
                None => f64::NAN,
                Some(v) => Value::from(v.clone()).to_number(),
            }))),
            "bool" | "json" | "bin" | "re" | "date" | "flow" | "global" | "env" => {
                let typed = TypedValue::compile(vt, v.unwrap_or(&Json::String(String::new())))
                    .map_err(|e| e.to_string())?;
                if typed.is_dynamic() {
                    Ok(Self::Typed(typed))
                } else {
                    let value = typed
                        .evaluate(Eval {
                            msg: None,
                            env,
                            context: None,
                        })
                        .map_err(|e| e.to_string())?;
                    Ok(value.map_or(Self::Undefined, Self::Const))
                }
            }
            // evaluateNodeProperty hands back the stored value for a type it does not know
            // (the editor's `istype` types: "string", "number", ...).
            _ => Ok(v.map_or(Self::Undefined, |v| Self::Const(Value::from(v.clone())))),
        }
    }

    /// The value for `msg`; `extra` binds JSONata variables. Only JSONata errors are
    /// errors: a failing lookup reads as `undefined`, as in Node-RED.
    fn eval<'a>(
        &'a self,
        msg: &'a Msg,
        prev: Option<&'a Value>,
        cx: &NodeCtx,
        extra: &[(&str, Value)],
    ) -> Result<Val<'a>, String> {
        Ok(match self {
            Self::Undefined => None,
            Self::Const(v) => Some(Cow::Borrowed(v)),
            Self::Prev => prev.map(Cow::Borrowed),
            Self::Msg(path) => msg.get_path(path).map(Cow::Borrowed),
            Self::Typed(typed) => cx.eval(typed, Some(msg)).ok().flatten().map(Cow::Owned),
            Self::Jsonata(expr) => expr
                .evaluate(cx.eval_scope(Some(msg)), extra)
                .map_err(|e| format!("Invalid JSONata expression: {e}"))?
                .map(Cow::Owned),
        })
    }
}

/// `istype`'s type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeCheck {
    Array,
    Buffer,
    Json,
    Null,
    Number,
    String,
    Boolean,
    Object,
    Undefined,
    /// `typeof` never gives it.
    Never,
}

impl TypeCheck {
    fn parse(name: &str) -> Self {
        match name {
            "array" => Self::Array,
            "buffer" => Self::Buffer,
            "json" => Self::Json,
            "null" => Self::Null,
            "number" => Self::Number,
            "string" => Self::String,
            "boolean" => Self::Boolean,
            "object" => Self::Object,
            "undefined" => Self::Undefined,
            _ => Self::Never,
        }
    }

    fn matches(self, a: Option<&Value>) -> bool {
        match (self, a) {
            (Self::Undefined, None) => true,
            (_, None) | (Self::Undefined | Self::Never, _) => false,
            (Self::Json, Some(a)) => {
                // JSON.parse converts its argument to a string first.
                serde_json::from_str::<serde::de::IgnoredAny>(&js_string(Some(a))).is_ok()
            }
            (Self::Array, Some(a)) => matches!(a, Value::Array(_)),
            (Self::Buffer, Some(a)) => matches!(a, Value::Bytes(_)),
            (Self::Null, Some(a)) => matches!(a, Value::Null),
            (Self::Number, Some(a)) => match a {
                Value::Int(_) => true,
                Value::Float(f) => !f.is_nan(),
                _ => false,
            },
            (Self::String, Some(a)) => matches!(a, Value::String(_)),
            (Self::Boolean, Some(a)) => matches!(a, Value::Bool(_)),
            (Self::Object, Some(a)) => matches!(a, Value::Object(_)),
        }
    }
}

/// A regular expression matcher (the runtime's compiled JavaScript regex).
type Matcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

fn compile_matcher(pattern: &str, ignore_case: bool) -> Result<Matcher, String> {
    let re =
        compile_regex(pattern, if ignore_case { "i" } else { "" }).map_err(|e| e.to_string())?;
    Ok(Arc::new(move |text: &str| re.find(text).is_some()))
}

struct Rule {
    op: Op,
    v: Operand,
    v2: Operand,
    ignore_case: bool,
    /// `regex` with a value known at deploy.
    regex: Option<Matcher>,
    /// `istype` with a type known at deploy.
    type_check: Option<TypeCheck>,
}

/// Messages of one incoming sequence held until its count is known and all arrived.
struct GroupIn {
    count: Option<Value>,
    msgs: Vec<Msg>,
}

/// Messages of one sequence already routed, held until the last one to re-number them.
#[derive(Default)]
struct GroupOut {
    received: usize,
    onwards: Vec<(Msg, Vec<usize>)>,
}

struct Switch {
    property: Operand,
    rules: Vec<Rule>,
    stop_at_first: bool,
    repair: bool,
    /// Sequences are buffered whole (repair, or a `tail` rule).
    needs_count: bool,
    /// Whether a message belongs to a sequence matters (buffering, repair, `$I` / `$N`).
    reads_parts: bool,
    /// Some rule reads `prev`: keep the previous property value.
    uses_prev: bool,
    prev: Option<Value>,
    /// Matched outputs of the current message; kept to reuse its allocation.
    ports: Vec<usize>,
    pending_in: HashMap<String, GroupIn>,
    pending_out: HashMap<String, GroupOut>,
    pending_count: usize,
    /// `nodeMessageBufferMaxLength`: most sequence messages held at once.
    max_kept: Option<usize>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config: Config = cx.config()?;
    let env = cx.env().clone();
    let property_type = config
        .property_type
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or("msg");
    let property = Operand::compile(config.property.as_ref(), property_type, &env)
        .map_err(|e| ConfigError::field("property", e))?;
    if matches!(property, Operand::Prev) {
        return Err(ConfigError::field("propertyType", "unknown type 'prev'"));
    }

    let raw_rules = config.rules.unwrap_or_default();
    let mut rules = Vec::with_capacity(raw_rules.len());
    for (i, raw) in raw_rules.iter().enumerate() {
        rules.push(compile_rule(i, raw, &env)?);
    }
    let repair = json_truthy(&config.repair);
    let needs_count = repair || rules.iter().any(|r| r.op == Op::Tail);
    let reads_parts = needs_count || rules.iter().any(|r| r.op == Op::JsonataExp);
    let uses_prev = rules
        .iter()
        .any(|r| matches!(r.v, Operand::Prev) || matches!(r.v2, Operand::Prev));
    Ok(Box::new(Switch {
        property,
        ports: Vec::with_capacity(rules.len()),
        rules,
        stop_at_first: config.checkall.as_str() == Some("false"),
        repair,
        needs_count,
        reads_parts,
        uses_prev,
        prev: Some(Value::Null),
        pending_in: HashMap::new(),
        pending_out: HashMap::new(),
        pending_count: 0,
        max_kept: cx.settings().message_buffer_limit(),
    }))
}

fn compile_rule(
    i: usize,
    raw: &RawRule,
    env: &ferrite_runtime::env::Env,
) -> Result<Rule, ConfigError> {
    let op = Op::parse(&raw.t).ok_or_else(|| {
        ConfigError::field(
            format!("rules[{i}].t"),
            format!("unknown rule type '{}'", raw.t),
        )
    })?;
    let field = |name: &str| format!("rules[{i}].{name}");
    let v = if op.uses_v() {
        let vt = match raw.vt.as_deref() {
            Some(vt) if !vt.is_empty() => vt,
            _ => inferred_type(raw.v.as_ref()),
        };
        match vt {
            // Node-RED hands back these literals instead of evaluating the value.
            "json" => Operand::Const(Value::from("json")),
            "null" => Operand::Const(Value::from("null")),
            _ => Operand::compile(raw.v.as_ref(), vt, env)
                .map_err(|e| ConfigError::field(field("v"), e))?,
        }
    } else {
        Operand::Undefined
    };
    let v2 = if !op.uses_v2() {
        Operand::Undefined
    } else if raw.v2t.as_deref() == Some("prev") {
        Operand::Prev
    } else if raw.v2.is_none() {
        Operand::Undefined
    } else {
        let vt = match raw.v2t.as_deref() {
            Some(vt) if !vt.is_empty() => vt,
            _ => inferred_type(raw.v2.as_ref()),
        };
        Operand::compile(raw.v2.as_ref(), vt, env)
            .map_err(|e| ConfigError::field(field("v2"), e))?
    };
    let ignore_case = json_truthy(&raw.case);
    let regex = match (op, &v) {
        (Op::Regex, Operand::Const(value)) => Some(
            compile_matcher(&value.to_js_string(), ignore_case)
                .map_err(|e| ConfigError::field(field("v"), e))?,
        ),
        // `new RegExp(undefined)` matches everything.
        (Op::Regex, Operand::Undefined) => {
            Some(compile_matcher("", ignore_case).map_err(|e| ConfigError::field(field("v"), e))?)
        }
        _ => None,
    };
    let type_check = match (op, &v) {
        (Op::IsType, Operand::Const(value)) => Some(TypeCheck::parse(&value.to_js_string())),
        (Op::IsType, Operand::Undefined) => Some(TypeCheck::Undefined),
        _ => None,
    };
    Ok(Rule {
        op,
        v,
        v2,
        ignore_case,
        regex,
        type_check,
    })
}

/// A rule without `vt`: `num` when `Number(v)` is not NaN, else `str`.
fn inferred_type(v: Option<&Json>) -> &'static str {
    let number = match v {
        None => f64::NAN,
        Some(v) => Value::from(v.clone()).to_number(),
    };
    if number.is_nan() { "str" } else { "num" }
}

fn text_of(v: Option<&Json>) -> String {
    v.map(ferrite_runtime::typed::json_text).unwrap_or_default()
}

fn json_to_js_string(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => Value::from(other.clone()).to_js_string(),
    }
}

/// `msg.parts` has `id` and `index`: the message belongs to a sequence.
fn has_parts(msg: &Msg) -> bool {
    matches!(msg.get("parts"), Some(Value::Object(p)) if p.contains_key("id") && p.contains_key("index"))
}

/// How buffered groups are keyed (`gid in pending`: JavaScript converts the id to a string).
fn group_key(msg: &Msg) -> String {
    match msg.get("parts") {
        Some(Value::Object(p)) => js_string(p.get("id")).into_owned(),
        _ => String::new(),
    }
}

#[async_trait]
impl Node for Switch {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        // Node-RED's node never calls done(): Complete nodes do not see its messages.
        cx.defer_done();
        if self.rules.is_empty() {
            return Ok(());
        }
        // Skips the `parts` lookup on the hot path when no rule or option reads it.
        let in_sequence = self.reads_parts && has_parts(&msg);
        if self.needs_count && in_sequence {
            // Boxed so the sequence machinery does not grow every message's future.
            return Box::pin(self.add_to_pending(msg, cx)).await;
        }
        self.process(msg, in_sequence, cx).await
    }

    async fn on_close(&mut self, _removed: bool, _cx: &mut NodeCtx) {
        self.clear_pending();
    }
}

impl Switch {
    /// Tests the rules and sends (or, when repairing a sequence, holds) the message.
    async fn process(
        &mut self,
        mut msg: Msg,
        in_sequence: bool,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        let mut ports = std::mem::take(&mut self.ports);
        ports.clear();
        let outcome = {
            let property = match self.property.eval(&msg, None, cx, &[]) {
                Ok(p) => p,
                Err(e) => {
                    cx.warn(&e);
                    self.ports = ports;
                    return Ok(());
                }
            };
            let outcome = route(
                &self.rules,
                self.stop_at_first,
                property.as_deref(),
                self.prev.as_ref(),
                &msg,
                in_sequence,
                cx,
                &mut ports,
            );
            if outcome.is_ok() && self.uses_prev {
                self.prev = property.map(Cow::into_owned);
            }
            outcome
        };
        if let Err(e) = outcome {
            self.ports = ports;
            return Err(NodeError::new(e).for_msg(msg));
        }
        if self.repair && in_sequence {
            // Boxed, as above: only sequences being repaired pay for it.
            let result = Box::pin(self.hold_routed(msg, ports.clone(), cx)).await;
            self.ports = ports;
            return result;
        }
        if let Some((&last, rest)) = ports.split_last() {
            if !rest.is_empty() {
                // One id for every copy, as one send([...]) gives them.
                msg.ensure_msgid();
            }
            for &port in rest {
                cx.send_to(port, msg.clone()).await;
            }
            cx.send_to(last, msg).await;
        }
        self.ports = ports;
        Ok(())
    }

    /// Buffers a sequence message until its group is complete, then routes the group.
    async fn add_to_pending(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let key = group_key(&msg);
        let count = match msg.get("parts") {
            Some(Value::Object(p)) => p.get("count").cloned(),
            _ => None,
        };
        let group = self
            .pending_in
            .entry(key.clone())
            .or_insert_with(|| GroupIn {
                count: None,
                msgs: Vec::new(),
            });
        group.msgs.push(msg);
        if count.is_some() {
            group.count = count;
        }
        self.pending_count += 1;
        let complete = group
            .count
            .as_ref()
            .and_then(Value::as_f64)
            .is_some_and(|c| c == group.msgs.len() as f64);
        if self.max_kept.is_some_and(|max| self.pending_count > max) {
            let culprit = self
                .pending_in
                .get(&key)
                .and_then(|g| g.msgs.last().cloned())
                .unwrap_or_default();
            self.clear_pending();
            return Err(NodeError::new(TOO_MANY).for_msg(culprit));
        }
        if !complete {
            return Ok(());
        }
        let Some(group) = self.pending_in.remove(&key) else {
            return Ok(());
        };
        let count = group.count.unwrap_or_default();
        self.pending_count = self.pending_count.saturating_sub(group.msgs.len());
        for mut msg in group.msgs {
            if let Some(Value::Object(parts)) = msg.map_mut().get_mut("parts") {
                parts.insert("count".to_owned(), count.clone());
            }
            if let Err(e) = self.process(msg, true, cx).await {
                cx.report_error(e).await;
            }
        }
        Ok(())
    }

    /// Repair: keeps routed messages until the sequence's last one, then sends them all
    /// with `parts` re-numbered per output.
    async fn hold_routed(
        &mut self,
        msg: Msg,
        ports: Vec<usize>,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        let key = group_key(&msg);
        let count = match msg.get("parts") {
            Some(Value::Object(p)) => p.get("count").and_then(Value::as_f64),
            _ => None,
        };
        let group = self.pending_out.entry(key.clone()).or_default();
        group.received += 1;
        let last = count.is_some_and(|c| c == group.received as f64);
        group.onwards.push((msg, ports));
        self.pending_count += 1;
        if last && let Some(group) = self.pending_out.remove(&key) {
            self.pending_count = self.pending_count.saturating_sub(group.onwards.len());
            self.send_group(group.onwards, cx).await;
        }
        if self.max_kept.is_some_and(|max| self.pending_count > max) {
            let culprit = self
                .pending_out
                .get(&key)
                .and_then(|g| g.onwards.last().map(|(m, _)| m.clone()))
                .unwrap_or_default();
            self.clear_pending();
            return Err(NodeError::new(TOO_MANY).for_msg(culprit));
        }
        Ok(())
    }

    async fn send_group(&mut self, onwards: Vec<(Msg, Vec<usize>)>, cx: &mut NodeCtx) {
        let port_count = self.rules.len();
        let mut counts = vec![0usize; port_count];
        for (_, ports) in &onwards {
            for &p in ports {
                if let Some(c) = counts.get_mut(p) {
                    *c += 1;
                }
            }
        }
        let ids: Vec<String> = (0..port_count).map(|_| new_msgid()).collect();
        let mut indexes = vec![0usize; port_count];
        for (mut msg, ports) in onwards {
            msg.ensure_msgid();
            let Some((&last, rest)) = ports.split_last() else {
                continue;
            };
            let mut out: Vec<(usize, Msg)> = Vec::with_capacity(ports.len());
            for &port in rest {
                out.push((port, msg.clone()));
            }
            out.push((last, msg));
            for (port, mut m) in out {
                let (Some(id), Some(index), Some(count)) =
                    (ids.get(port), indexes.get_mut(port), counts.get(port))
                else {
                    continue;
                };
                if let Some(Value::Object(parts)) = m.map_mut().get_mut("parts") {
                    parts.insert("id".to_owned(), Value::String(id.clone()));
                    parts.insert("index".to_owned(), Value::from(*index));
                    parts.insert("count".to_owned(), Value::from(*count));
                }
                *index += 1;
                cx.send_to(port, m).await;
            }
        }
    }

    fn clear_pending(&mut self) {
        self.pending_count = 0;
        self.pending_in.clear();
        self.pending_out.clear();
    }
}

/// Tests every rule (or up to the first match) and pushes the matching outputs.
#[allow(clippy::too_many_arguments)]
fn route(
    rules: &[Rule],
    stop_at_first: bool,
    property: Option<&Value>,
    prev: Option<&Value>,
    msg: &Msg,
    in_sequence: bool,
    cx: &NodeCtx,
    ports: &mut Vec<usize>,
) -> Result<(), String> {
    let mut else_flag = true;
    for (port, rule) in rules.iter().enumerate() {
        let matched = if rule.op == Op::Else {
            let matched = else_flag;
            else_flag = true;
            matched
        } else {
            let extra;
            let bindings: &[(&str, Value)] = match (rule.op, in_sequence, msg.get("parts")) {
                (Op::JsonataExp, true, Some(Value::Object(p))) => {
                    extra = [
                        ("I", p.get("index").cloned().unwrap_or_default()),
                        ("N", p.get("count").cloned().unwrap_or_default()),
                    ];
                    &extra
                }
                _ => &[],
            };
            let v1 = rule.v.eval(msg, prev, cx, bindings)?;
            let v2 = rule.v2.eval(msg, prev, cx, &[])?;
            test(rule, property, v1.as_deref(), v2.as_deref(), msg)?
        };
        if matched {
            ports.push(port);
            else_flag = false;
            if stop_at_first {
                break;
            }
        }
    }
    Ok(())
}

/// One rule's operator (Node-RED's `operators[rule.t]`).
fn test(
    rule: &Rule,
    a: Option<&Value>,
    b: Option<&Value>,
    c: Option<&Value>,
    msg: &Msg,
) -> Result<bool, String> {
    Ok(match rule.op {
        Op::Eq => loose_eq(a, b),
        Op::Neq => !loose_eq(a, b),
        Op::Lt => compare(a, b) == Some(Ordering::Less),
        Op::Lte => matches!(compare(a, b), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => compare(a, b) == Some(Ordering::Greater),
        Op::Gte => matches!(compare(a, b), Some(Ordering::Greater | Ordering::Equal)),
        Op::Btwn => {
            let ab = compare(a, b);
            let ac = compare(a, c);
            let ge = |o: Option<Ordering>| matches!(o, Some(Ordering::Greater | Ordering::Equal));
            let le = |o: Option<Ordering>| matches!(o, Some(Ordering::Less | Ordering::Equal));
            (ge(ab) && le(ac)) || (le(ab) && ge(ac))
        }
        Op::Cont => js_string(a).contains(&*js_string(b)),
        Op::Regex => {
            let text = js_string(a);
            match &rule.regex {
                Some(matcher) => matcher(&text),
                None => compile_matcher(&js_string(b), rule.ignore_case)?(&text),
            }
        }
        Op::True => matches!(a, Some(Value::Bool(true))),
        Op::False => matches!(a, Some(Value::Bool(false))),
        Op::Null => matches!(a, None | Some(Value::Null)),
        Op::NotNull => !matches!(a, None | Some(Value::Null)),
        Op::Empty => emptiness(a) == Some(true),
        Op::NotEmpty => emptiness(a) == Some(false),
        Op::IsType => rule
            .type_check
            .unwrap_or_else(|| TypeCheck::parse(&js_string(b)))
            .matches(a),
        Op::Head => {
            let parts = parts_of(msg)?;
            to_num(parts.get("index")) < to_num(b)
        }
        Op::Tail => {
            let parts = parts_of(msg)?;
            to_num(parts.get("count")) - to_num(b) <= to_num(parts.get("index"))
        }
        Op::Index => {
            let parts = parts_of(msg)?;
            let index = to_num(parts.get("index"));
            to_num(b) <= index && index <= to_num(c)
        }
        Op::HasKey => has_own_key(a, b),
        Op::JsonataExp => matches!(b, Some(Value::Bool(true))),
        // Handled by the caller, which knows whether an earlier rule matched.
        Op::Else => false,
    })
}

/// `msg.parts`, or the TypeError reading a property of undefined gives in Node-RED.
fn parts_of(msg: &Msg) -> Result<&ferrite_runtime::Map, String> {
    match msg.get("parts") {
        Some(Value::Object(p)) => Ok(p),
        Some(Value::Null) => Err("Cannot read properties of null (reading 'index')".to_owned()),
        None => Err("Cannot read properties of undefined (reading 'index')".to_owned()),
        // A primitive `parts` has no `index`: every comparison with undefined is false.
        Some(_) => Ok(empty_map()),
    }
}

fn empty_map() -> &'static ferrite_runtime::Map {
    static EMPTY: std::sync::LazyLock<ferrite_runtime::Map> =
        std::sync::LazyLock::new(ferrite_runtime::Map::new);
    &EMPTY
}

/// `empty`: Some(true) for an empty string, array, buffer or object, Some(false) for a
/// non-empty one, None for anything else (neither `empty` nor `nempty` match).
fn emptiness(a: Option<&Value>) -> Option<bool> {
    match a? {
        Value::String(s) => Some(s.is_empty()),
        Value::Array(items) => Some(items.is_empty()),
        Value::Bytes(b) => Some(b.is_empty()),
        Value::Object(map) => Some(map.is_empty()),
        _ => None,
    }
}

/// `a.hasOwnProperty(b + "")`, for a non-object key, on a defined non-null value.
fn has_own_key(a: Option<&Value>, b: Option<&Value>) -> bool {
    if matches!(
        b,
        Some(Value::Null | Value::Array(_) | Value::Object(_) | Value::Bytes(_))
    ) {
        return false;
    }
    let key = js_string(b);
    match a {
        Some(Value::Object(map)) => map.contains_key(&*key),
        Some(Value::String(s)) => {
            &*key == "length" || array_index(&key).is_some_and(|i| i < s.encode_utf16().count())
        }
        Some(Value::Array(items)) => {
            &*key == "length" || array_index(&key).is_some_and(|i| i < items.len())
        }
        Some(Value::Bytes(bytes)) => array_index(&key).is_some_and(|i| i < bytes.len()),
        _ => false,
    }
}

/// The index a canonical array-index key names ("0", "12"; not "01" or "1.0").
fn array_index(key: &str) -> Option<usize> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key.len() == 1 || !key.starts_with('0'));
    if canonical { key.parse().ok() } else { None }
}

/// `String(v)`; `undefined` gives "undefined". Borrows strings.
fn js_string(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        None => Cow::Borrowed("undefined"),
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(other) => Cow::Owned(other.to_js_string()),
    }
}

/// `Number(v)`; `undefined` gives NaN.
fn to_num(v: Option<&Value>) -> f64 {
    match v {
        None => f64::NAN,
        Some(Value::String(s)) => ferrite_runtime::value::string_to_number(s),
        Some(other) => other.to_number(),
    }
}

/// A value after JavaScript's ToPrimitive: objects, arrays and buffers become strings.
enum Prim<'a> {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
}

fn to_prim(v: Option<&Value>) -> Prim<'_> {
    match v {
        None => Prim::Undefined,
        Some(Value::Null) => Prim::Null,
        Some(Value::Bool(b)) => Prim::Bool(*b),
        Some(Value::Int(i)) => Prim::Num(*i as f64),
        Some(Value::Float(f)) => Prim::Num(*f),
        Some(Value::String(s)) => Prim::Str(Cow::Borrowed(s)),
        Some(other) => Prim::Str(Cow::Owned(other.to_js_string())),
    }
}

fn prim_num(p: &Prim<'_>) -> f64 {
    match p {
        Prim::Undefined => f64::NAN,
        Prim::Null => 0.0,
        Prim::Bool(b) => f64::from(u8::from(*b)),
        Prim::Num(n) => *n,
        Prim::Str(s) => ferrite_runtime::value::string_to_number(s),
    }
}

/// JavaScript's `a == b`. Objects, arrays and buffers are equal only to themselves (the
/// same property read twice from one message).
fn loose_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    use Value::{Array, Bool, Bytes, Float, Int, Null, Object, String};
    let (a, b) = match (a, b) {
        (None | Some(Null), None | Some(Null)) => return true,
        (None | Some(Null), _) | (_, None | Some(Null)) => return false,
        (Some(a), Some(b)) => (a, b),
    };
    match (a, b) {
        (Int(_) | Float(_), Int(_) | Float(_)) => a == b,
        (String(x), String(y)) => x == y,
        (Bool(x), Bool(y)) => x == y,
        (Array(_) | Object(_) | Bytes(_), Array(_) | Object(_) | Bytes(_)) => std::ptr::eq(a, b),
        // Everything else compares as primitives: a boolean or a number against the other
        // side's number, or the object's string against a string.
        _ => match (to_prim(Some(a)), to_prim(Some(b))) {
            (Prim::Str(x), Prim::Str(y)) => x == y,
            (x, y) => prim_num(&x) == prim_num(&y),
        },
    }
}

/// JavaScript's relational comparison: `None` when either side is NaN (every `<`, `<=`,
/// `>`, `>=` is then false). Two strings compare by UTF-16 code units.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Option<Ordering> {
    match (a, b) {
        (Some(Value::Int(x)), Some(Value::Int(y))) => return Some(x.cmp(y)),
        (Some(Value::String(x)), Some(Value::String(y))) => {
            return Some(x.encode_utf16().cmp(y.encode_utf16()));
        }
        _ => {}
    }
    match (to_prim(a), to_prim(b)) {
        (Prim::Str(x), Prim::Str(y)) => Some(x.encode_utf16().cmp(y.encode_utf16())),
        (x, y) => prim_num(&x).partial_cmp(&prim_num(&y)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: Json) -> Value {
        Value::from(json)
    }

    #[test]
    fn loose_equality_follows_javascript() {
        let eq = |a: Json, b: Json| loose_eq(Some(&v(a)), Some(&v(b)));
        assert!(eq(serde_json::json!(3), serde_json::json!("3")));
        assert!(eq(serde_json::json!(true), serde_json::json!(1)));
        assert!(eq(serde_json::json!(true), serde_json::json!("1")));
        assert!(!eq(serde_json::json!(true), serde_json::json!("true")));
        assert!(eq(serde_json::json!([1, 2]), serde_json::json!("1,2")));
        assert!(eq(
            serde_json::json!({}),
            serde_json::json!("[object Object]")
        ));
        assert!(!eq(
            serde_json::json!({"a": 1}),
            serde_json::json!({"a": 1})
        ));
        assert!(eq(serde_json::json!(""), serde_json::json!(0)));
        assert!(!eq(serde_json::json!(null), serde_json::json!(0)));
        assert!(loose_eq(None, Some(&Value::Null)));
        assert!(!loose_eq(None, Some(&v(serde_json::json!("")))));
        assert!(!loose_eq(
            Some(&Value::Float(f64::NAN)),
            Some(&Value::Float(f64::NAN))
        ));
        let obj = v(serde_json::json!({"a": 1}));
        assert!(loose_eq(Some(&obj), Some(&obj)));
    }

    #[test]
    fn relational_comparison_follows_javascript() {
        let cmp = |a: Json, b: Json| compare(Some(&v(a)), Some(&v(b)));
        assert_eq!(
            cmp(serde_json::json!("10"), serde_json::json!("9")),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp(serde_json::json!("10"), serde_json::json!(9)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp(serde_json::json!(null), serde_json::json!(0)),
            Some(Ordering::Equal)
        );
        assert_eq!(cmp(serde_json::json!("abc"), serde_json::json!(1)), None);
        assert_eq!(
            cmp(serde_json::json!([5]), serde_json::json!(4)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(None, Some(&v(serde_json::json!(1)))), None);
        assert_eq!(
            cmp(serde_json::json!(true), serde_json::json!(0.5)),
            Some(Ordering::Greater)
        );
        // UTF-16 order: U+FF5E sorts after U+1F600's high surrogate (0xD83D).
        assert_eq!(
            cmp(
                serde_json::json!("\u{ff5e}"),
                serde_json::json!("\u{1f600}")
            ),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn string_numbers_match_javascript() {
        assert_eq!(ferrite_runtime::value::string_to_number("12.5"), 12.5);
        assert_eq!(ferrite_runtime::value::string_to_number(""), 0.0);
        assert_eq!(ferrite_runtime::value::string_to_number(" 7 "), 7.0);
        assert_eq!(ferrite_runtime::value::string_to_number("0x10"), 16.0);
        assert!(ferrite_runtime::value::string_to_number("1e").is_nan());
        assert!(ferrite_runtime::value::string_to_number("inf").is_nan());
        assert_eq!(
            ferrite_runtime::value::string_to_number("Infinity"),
            f64::INFINITY
        );
        assert_eq!(ferrite_runtime::value::string_to_number(".5"), 0.5);
        assert_eq!(ferrite_runtime::value::string_to_number("5."), 5.0);
    }

    #[test]
    fn own_keys_of_strings_arrays_and_buffers() {
        let s = v(serde_json::json!("abc"));
        assert!(has_own_key(Some(&s), Some(&v(serde_json::json!("2")))));
        assert!(has_own_key(Some(&s), Some(&v(serde_json::json!("length")))));
        assert!(!has_own_key(Some(&s), Some(&v(serde_json::json!("3")))));
        assert!(!has_own_key(Some(&s), Some(&v(serde_json::json!("01")))));
        let a = v(serde_json::json!([1]));
        assert!(has_own_key(Some(&a), Some(&v(serde_json::json!(0)))));
        let b = Value::Bytes(vec![1u8, 2].into());
        assert!(has_own_key(Some(&b), Some(&v(serde_json::json!("1")))));
        assert!(!has_own_key(
            Some(&b),
            Some(&v(serde_json::json!("length")))
        ));
        let o = v(serde_json::json!({"a": 1}));
        assert!(!has_own_key(Some(&o), Some(&v(serde_json::json!(["a"])))));
        assert!(!has_own_key(
            Some(&v(serde_json::json!(5))),
            Some(&v(serde_json::json!("a")))
        ));
    }

    #[test]
    fn json_type_check_parses_the_string_form() {
        let is_json = |a: Option<&Value>| TypeCheck::Json.matches(a);
        assert!(is_json(Some(&v(serde_json::json!("{\"a\":1}")))));
        assert!(is_json(Some(&v(serde_json::json!(12)))));
        assert!(is_json(Some(&Value::Null)));
        assert!(!is_json(Some(&v(serde_json::json!({})))));
        assert!(!is_json(None));
        assert!(!is_json(Some(&Value::Float(f64::NAN))));
    }
}
