//! `change` — mirrors Node-RED `@node-red/nodes/core/function/15-change.js`.
//!
//! Config:
//! * `rules` — `[{t, p, pt, to, tot, from, fromt, re, dc}]`, applied in order to one message:
//!   * `t`: `set` | `change` | `delete` | `move` (anything else does nothing);
//!   * `p` / `pt`: the property changed and where it lives, `msg` (default), `flow` or
//!     `global` (a context key may carry a store, `#:(store)::key`, and `[msg.x]` parts);
//!   * `to` / `tot`: the new value as a typed input: `str` (default), `num`, `bool`, `json`,
//!     `bin`, `date`, `env` (read once at deploy, as Node-RED does), `msg`, `flow`,
//!     `global`, `jsonata`; any other type uses `to` as text. For `move` it is the
//!     destination property and `tot` its place (`msg`, `flow`, `global`);
//!   * `from` / `fromt` (change only): what to search for: `str` (default), `num`, `bool`,
//!     `re` (a JavaScript regular expression, replaced globally), or `msg` / `flow` /
//!     `global` to read it from there (a string, number or boolean);
//!   * legacy `re: true` means `fromt: "re"`; a `set` rule without `tot` whose `to` starts
//!     with `msg.` copies that message property; `dc` (deep copy) is always in effect here,
//!     since values are never shared between properties.
//! * Without `rules`, the legacy single rule: `action` (`replace` = set, `change`,
//!   `delete`, `move`), `property`, `from`, `to`, `reg`.
//! * `name`.
//!
//! Reads and writes the properties the rules name, in the message, flow or global context.
//! Behaviour, as Node-RED's:
//! * set: a `msg` source that is missing deletes the target; one whose parent is missing
//!   (`a.b` without `a`) leaves the rule undone. A target beneath a non-object warns
//!   "Cannot set property of non-object type: <p>".
//! * change on a string: when the whole string equals a `str`/`num`/`bool` `from`, it is
//!   replaced by the typed `to` (so its type may change); otherwise every match is replaced
//!   by `to` as text (`$1`, `$&`, `` $` ``, `$'`, `$<name>` and `$$` work as in
//!   JavaScript), and with `tot: "bool"` a result of `"true"`/`"false"` becomes a boolean.
//!   A number changes only when it equals a `num` `from`, a boolean only when it equals a
//!   `bool` `from`; other values are left alone.
//! * delete removes the property (no error if missing); move sets the destination and
//!   deletes the source, also into a child or parent of itself.
//! * A JSONata error, a context store error or a `from` value of an unsupported type
//!   (`msg`/`flow`/`global` giving null, an object, ...) is a catchable error and the
//!   message is dropped.
//!
//! Invalid `from` regular expressions, `to` JSON, JSONata expressions and property paths
//! are deploy errors naming the rule field (Node-RED logs them and leaves the node inert).
//! A rule with an empty `p` on the message does nothing (Node-RED's default rule).
//! No status is shown.
//!
//! Differences from Node-RED, where its behaviour is a bug nobody can rely on: a `change`
//! rule on flow or global context whose value does not match passes the message on (Node-RED
//! never calls back and loses the message), and an unsupported `from` type only reports the
//! error (Node-RED reports it and then also applies the rule and sends the message).
//! Values are copied when set, so setting `msg.a` to `msg.b` and later changing `msg.b`
//! inside does not change `msg.a` (Node-RED shares the object unless `dc` is set).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use ferrite_runtime::context::ContextScope;
use ferrite_runtime::path::{PropPath, Segment};
use ferrite_runtime::typed::{
    ContextRef, DateFormat, Jsonata, TypedError, TypedValue, json_text, render_date,
};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde_json::{Map, Value as Json};

pub const DEF: NodeDef = NodeDef {
    type_name: "change",
    category: "function",
    set_id: "node-red/change",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Where a rule's property lives.
enum Place {
    Msg(PropPath),
    Context(ContextScope, ContextRef),
}

/// The value a `set` or `change` rule writes (`to` / `tot`).
enum Source {
    /// Known at deploy: str, num, bool, json, bin, env and unknown types.
    Const(Value),
    Msg(PropPath),
    Context(ContextScope, ContextRef),
    Date(DateFormat),
    Jsonata(Jsonata),
}

/// What `from` was configured as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FromKind {
    Str,
    Num,
    Bool,
    Re,
    /// A type the editor does not offer; matched as escaped text, never as a whole value.
    Other,
}

/// How occurrences are found in a string being changed.
#[derive(Clone)]
enum Matcher {
    /// Every occurrence of the text (Node-RED's escaped `RegExp(from, "g")`).
    Literal(String),
    /// Every match of a regular expression.
    Regex(RegexFn),
    /// JavaScript's `s.replace(undefined, v)`, which Node-RED ends up calling for a number
    /// or boolean `from` read from the message or context: the first `"undefined"`.
    FirstUndefined,
}

/// One match of a regular expression, by byte ranges.
struct RegexMatch<'m> {
    start: usize,
    end: usize,
    /// Capture groups 1..: `None` for a group that took no part.
    groups: &'m [Option<Range<usize>>],
    /// Named groups, if the expression has any.
    named: &'m [(&'m str, Option<Range<usize>>)],
}

/// Calls back for every match, left to right, as a global JavaScript regular expression
/// finds them. (The regex type lives in a crate this one does not name, so the compiled
/// expression is kept inside the closure.)
type RegexFn = Arc<dyn Fn(&str, &mut dyn FnMut(&RegexMatch<'_>)) + Send + Sync>;

fn compile_js_regex(pattern: &str) -> Result<RegexFn, String> {
    let re = ferrite_runtime::typed::compile_regex(pattern, "").map_err(|e| e.to_string())?;
    Ok(Arc::new(move |s, each| {
        for m in re.find_iter(s) {
            let named: Vec<(&str, Option<Range<usize>>)> = m.named_groups().collect();
            each(&RegexMatch {
                start: m.start(),
                end: m.end(),
                groups: &m.captures,
                named: &named,
            });
        }
    }))
}

/// The `from` of a `change` rule.
enum From {
    Fixed {
        kind: FromKind,
        /// `rule.from` as configured: a string even for `num` and `bool`.
        value: Value,
        matcher: Matcher,
    },
    Msg(PropPath),
    Context(ContextScope, ContextRef),
}

enum Rule {
    Set {
        place: Place,
        to: Source,
    },
    Change {
        place: Place,
        from: From,
        to: Source,
        /// `tot` is `bool`: a replaced string equal to the boolean's text becomes it.
        to_bool: bool,
    },
    Delete {
        place: Place,
    },
    Move {
        from: Place,
        to: Place,
        /// Node-RED sets then deletes (different places, or moving a child onto its
        /// parent); otherwise it goes through a temporary property.
        direct: bool,
    },
    /// An unknown `t`, or an empty message property.
    Noop,
}

struct Change {
    rules: Vec<Rule>,
    /// The property each rule writes, as configured, for the no-override warning.
    labels: Vec<String>,
}

/// One rule as configured, after Node-RED's migrations.
struct RawRule {
    t: String,
    p: String,
    pt: String,
    to: Json,
    tot: String,
    from: String,
    fromt: String,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw().clone();
    let (rules, legacy) = raw_rules(&raw);
    let mut compiled = Vec::with_capacity(rules.len());
    let mut labels = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let field = |name: &str| {
            if legacy {
                match name {
                    "p" => "property".to_owned(),
                    other => other.to_owned(),
                }
            } else {
                format!("rules[{i}].{name}")
            }
        };
        compiled.push(compile_rule(rule, cx, &field)?);
        // The property a rule writes: a move writes its destination.
        labels.push(if rule.t == "move" {
            json_text(&rule.to)
        } else {
            rule.p.clone()
        });
    }
    Ok(Box::new(Change {
        rules: compiled,
        labels,
    }))
}

/// The rules, with Node-RED's migrations applied; `true` when they come from the legacy
/// single-rule fields.
fn raw_rules(config: &Map<String, Json>) -> (Vec<RawRule>, bool) {
    let text = |obj: &Map<String, Json>, key: &str| obj.get(key).map(json_text).unwrap_or_default();
    let (rules, legacy): (Vec<Map<String, Json>>, bool) = match config.get("rules") {
        Some(Json::Array(items)) => (
            items
                .iter()
                .map(|r| r.as_object().cloned().unwrap_or_default())
                .collect(),
            false,
        ),
        _ => {
            let action = text(config, "action");
            let t = if action == "replace" {
                "set".to_owned()
            } else {
                action
            };
            let mut rule = Map::new();
            rule.insert("p".to_owned(), Json::String(text(config, "property")));
            match t.as_str() {
                "set" | "move" => {
                    rule.insert("to".to_owned(), Json::String(text(config, "to")));
                }
                "change" => {
                    rule.insert("from".to_owned(), Json::String(text(config, "from")));
                    rule.insert("to".to_owned(), Json::String(text(config, "to")));
                    // `reg` null or true means a regular expression.
                    let re = match config.get("reg") {
                        Some(Json::Null) => true,
                        Some(v) => ferrite_runtime::loose::json_truthy(v),
                        None => false,
                    };
                    rule.insert("re".to_owned(), Json::Bool(re));
                }
                _ => {}
            }
            rule.insert("t".to_owned(), Json::String(t));
            (vec![rule], true)
        }
    };
    let rules = rules
        .iter()
        .map(|r| {
            let t = text(r, "t");
            let mut to = r.get("to").cloned().unwrap_or(Json::String(String::new()));
            let mut tot = text(r, "tot");
            let mut fromt = text(r, "fromt");
            if t == "change" && r.get("re").is_some_and(ferrite_runtime::loose::json_truthy) {
                fromt = "re".to_owned();
            }
            if t == "set"
                && tot.is_empty()
                && let Some(path) = to.as_str().and_then(|s| s.strip_prefix("msg."))
            {
                to = Json::String(path.to_owned());
                tot = "msg".to_owned();
            }
            if tot.is_empty() {
                // A move's destination is a place, not a value: an old move rule without
                // `tot` moves within the message.
                tot = if t == "move" { "msg" } else { "str" }.to_owned();
            }
            if fromt.is_empty() {
                fromt = "str".to_owned();
            }
            let pt = match text(r, "pt") {
                pt if pt.is_empty() => "msg".to_owned(),
                pt => pt,
            };
            RawRule {
                t,
                p: text(r, "p"),
                pt,
                to,
                tot,
                from: text(r, "from"),
                fromt,
            }
        })
        .collect();
    (rules, legacy)
}

fn compile_rule(
    rule: &RawRule,
    cx: &BuildCtx<'_>,
    field: &dyn Fn(&str) -> String,
) -> Result<Rule, ConfigError> {
    if !matches!(rule.t.as_str(), "set" | "change" | "delete" | "move") {
        return Ok(Rule::Noop);
    }
    // Node-RED's default rule has an empty property; it fails quietly on every message.
    if rule.p.is_empty() && rule.pt != "flow" && rule.pt != "global" {
        return Ok(Rule::Noop);
    }
    let place = compile_place(&rule.pt, &rule.p).map_err(|e| ConfigError::field(field("p"), e))?;
    Ok(match rule.t.as_str() {
        "set" => Rule::Set {
            place,
            to: compile_source(&rule.tot, &rule.to, cx)
                .map_err(|e| ConfigError::field(field("to"), e))?,
        },
        "change" => Rule::Change {
            place,
            from: compile_from(&rule.fromt, &rule.from)
                .map_err(|e| ConfigError::field(field("from"), e))?,
            to: compile_source(&rule.tot, &rule.to, cx)
                .map_err(|e| ConfigError::field(field("to"), e))?,
            to_bool: rule.tot == "bool",
        },
        "delete" => Rule::Delete { place },
        _ => {
            let to_text = json_text(&rule.to);
            let to = compile_place(&rule.tot, &to_text)
                .map_err(|e| ConfigError::field(field("to"), e))?;
            Rule::Move {
                from: place,
                to,
                direct: rule.tot != rule.pt || (rule.p.contains(&to_text) && rule.p != to_text),
            }
        }
    })
}

fn compile_place(kind: &str, path: &str) -> Result<Place, String> {
    match kind {
        "flow" | "global" => {
            let r = ContextRef::parse(path).map_err(|e| e.to_string())?;
            if r.key.is_empty() {
                return Err("Invalid context key".to_owned());
            }
            Ok(Place::Context(scope_of(kind), r))
        }
        _ => PropPath::parse_msg(path)
            .map(Place::Msg)
            .map_err(|e| e.to_string()),
    }
}

fn scope_of(kind: &str) -> ContextScope {
    if kind == "flow" {
        ContextScope::Flow
    } else {
        ContextScope::Global
    }
}

fn compile_source(tot: &str, to: &Json, cx: &BuildCtx<'_>) -> Result<Source, String> {
    let text = json_text(to);
    Ok(match tot {
        "str" | "num" | "bool" | "json" | "bin" => {
            let typed = TypedValue::compile(tot, to).map_err(|e| match tot {
                "json" | "bin" => format!("Invalid 'to' JSON property: {e}"),
                _ => e.to_string(),
            })?;
            Source::Const(constant(&typed))
        }
        "env" => Source::Const(cx.env().evaluate_typed(&text)),
        "date" => match TypedValue::compile("date", to) {
            Ok(TypedValue::Date(format)) => Source::Date(format),
            _ => Source::Const(Value::String(text)),
        },
        "msg" => Source::Msg(PropPath::parse_msg(&text).map_err(|e| e.to_string())?),
        "flow" | "global" => Source::Context(
            scope_of(tot),
            ContextRef::parse(&text).map_err(|e| e.to_string())?,
        ),
        "jsonata" => Source::Jsonata(Jsonata::compile(&text).map_err(|e| match e {
            TypedError::Jsonata(reason) => format!("Invalid JSONata expression: {reason}"),
            other => other.to_string(),
        })?),
        // Node-RED uses the text as it is for any other type.
        _ => Source::Const(Value::String(text)),
    })
}

/// The value of a typed input that depends on nothing.
fn constant(typed: &TypedValue) -> Value {
    match typed {
        TypedValue::Str(s) | TypedValue::Re(s) | TypedValue::Env(s) => Value::String(s.clone()),
        TypedValue::Num(n) => n.clone(),
        TypedValue::Bool(b) => Value::Bool(*b),
        TypedValue::Json(v) => v.clone(),
        TypedValue::Bin(b) => Value::Bytes(b.clone()),
        _ => Value::Null,
    }
}

fn compile_from(fromt: &str, from: &str) -> Result<From, String> {
    let kind = match fromt {
        "msg" => {
            return PropPath::parse_msg(from)
                .map(From::Msg)
                .map_err(|e| e.to_string());
        }
        "flow" | "global" => {
            return ContextRef::parse(from)
                .map(|r| From::Context(scope_of(fromt), r))
                .map_err(|e| e.to_string());
        }
        "str" => FromKind::Str,
        "num" => FromKind::Num,
        "bool" => FromKind::Bool,
        "re" => FromKind::Re,
        _ => FromKind::Other,
    };
    let matcher = if kind == FromKind::Re {
        Matcher::Regex(compile_js_regex(from).map_err(|e| format!("Invalid 'from' property: {e}"))?)
    } else {
        Matcher::Literal(from.to_owned())
    };
    Ok(From::Fixed {
        kind,
        value: Value::String(from.to_owned()),
        matcher,
    })
}

/// A `from` ready to apply to one message.
struct FromValue<'a> {
    kind: FromKind,
    value: Cow<'a, Value>,
    matcher: Cow<'a, Matcher>,
}

/// What a property lookup found, as `getMessageProperty` sees it.
enum Found<'a> {
    Value(&'a Value),
    /// The last step is missing: `undefined`.
    Missing,
    /// A parent is missing or null: Node-RED throws, and the rule is skipped.
    ParentMissing,
}

fn lookup<'a>(root: &'a Value, path: &PropPath) -> Found<'a> {
    let segments = path.segments();
    let Some((last, parents)) = segments.split_last() else {
        return Found::Value(root);
    };
    let parent = if parents.is_empty() {
        root
    } else {
        match root.get_segments(parents, root) {
            None | Some(Value::Null) => return Found::ParentMissing,
            Some(parent) => parent,
        }
    };
    if let Segment::Nested(inner) = last
        && root.get_path(inner, root).is_none()
    {
        return Found::ParentMissing;
    }
    match parent.get_segments(std::slice::from_ref(last), root) {
        Some(v) => Found::Value(v),
        None => Found::Missing,
    }
}

/// The outcome of evaluating a rule's value.
enum Eval {
    /// A value, or `undefined` (`None`), which deletes the target.
    Value(Option<Value>),
    /// Node-RED threw while reading it; the rule does nothing.
    Skip,
}

/// Why applying the rules stopped.
enum Stop {
    /// An error for Catch nodes; the message is dropped.
    Error(String),
}

fn resolve_to(src: &Source, msg: &Msg, cx: &NodeCtx) -> Result<Eval, Stop> {
    Ok(match src {
        Source::Const(v) => Eval::Value(Some(v.clone())),
        Source::Msg(path) => match lookup(msg.as_value(), path) {
            Found::Value(v) => Eval::Value(Some(v.clone())),
            Found::Missing => Eval::Value(None),
            Found::ParentMissing => Eval::Skip,
        },
        // Node-RED treats a failing context read as `undefined`.
        Source::Context(scope, r) => Eval::Value(
            r.resolve_key(Some(msg))
                .ok()
                .and_then(|key| cx.context().get(*scope, &key, r.store.as_deref()).ok())
                .flatten(),
        ),
        Source::Date(format) => Eval::Value(Some(render_date(format, chrono::Utc::now()))),
        Source::Jsonata(expr) => Eval::Value(
            expr.evaluate(cx.eval_scope(Some(msg)), &[])
                .map_err(|e| Stop::Error(format!("Invalid JSONata expression: {e}")))?,
        ),
    })
}

fn resolve_from<'r>(
    from: &'r From,
    msg: &Msg,
    cx: &NodeCtx,
) -> Result<Option<FromValue<'r>>, Stop> {
    let value = match from {
        From::Fixed {
            kind,
            value,
            matcher,
        } => {
            return Ok(Some(FromValue {
                kind: *kind,
                value: Cow::Borrowed(value),
                matcher: Cow::Borrowed(matcher),
            }));
        }
        From::Msg(path) => match lookup(msg.as_value(), path) {
            Found::Value(v) => Some(v.clone()),
            Found::Missing => None,
            Found::ParentMissing => return Ok(None),
        },
        From::Context(scope, r) => {
            let Ok(key) = r.resolve_key(Some(msg)) else {
                return Ok(None);
            };
            cx.context()
                .get(*scope, &key, r.store.as_deref())
                .map_err(|e| Stop::Error(e.to_string()))?
        }
    };
    let (kind, matcher) = match &value {
        Some(Value::Int(_) | Value::Float(_)) => (FromKind::Num, Matcher::FirstUndefined),
        Some(Value::Bool(_)) => (FromKind::Bool, Matcher::FirstUndefined),
        Some(Value::String(s)) => (FromKind::Str, Matcher::Literal(s.clone())),
        other => {
            let type_name = match other {
                None => "undefined",
                Some(_) => "object",
            };
            return Err(Stop::Error(format!(
                "Invalid 'from' property: unsupported type: {type_name}"
            )));
        }
    };
    Ok(Some(FromValue {
        kind,
        value: Cow::Owned(value.unwrap_or_default()),
        matcher: Cow::Owned(matcher),
    }))
}

impl Change {
    /// Applies one rule to the message.
    fn apply(&self, index: usize, msg: &mut Msg, cx: &NodeCtx) -> Result<(), Stop> {
        let Some(rule) = self.rules.get(index) else {
            return Ok(());
        };
        match rule {
            Rule::Noop => Ok(()),
            Rule::Set { place, to } => match resolve_to(to, msg, cx)? {
                Eval::Skip => Ok(()),
                Eval::Value(value) => self.write(place, value, msg, cx, index),
            },
            Rule::Delete { place } => self.write(place, None, msg, cx, index),
            Rule::Change {
                place,
                from,
                to,
                to_bool,
            } => {
                let Eval::Value(to) = resolve_to(to, msg, cx)? else {
                    return Ok(());
                };
                let Some(from) = resolve_from(from, msg, cx)? else {
                    return Ok(());
                };
                match place {
                    Place::Msg(path) => {
                        let Found::Value(current) = lookup(msg.as_value(), path) else {
                            return Ok(());
                        };
                        if let Some(new) = changed(current, &from, to, *to_bool) {
                            self.write(place, new, msg, cx, index)?;
                        }
                        Ok(())
                    }
                    Place::Context(scope, r) => {
                        let Ok(key) = r.resolve_key(Some(msg)) else {
                            return Ok(());
                        };
                        let current = cx
                            .context()
                            .get(*scope, &key, r.store.as_deref())
                            .map_err(|e| Stop::Error(e.to_string()))?;
                        // Node-RED turns "true"/"false" into booleans for messages only.
                        if let Some(new) = current.and_then(|c| changed(&c, &from, to, false)) {
                            cx.context()
                                .set(*scope, &key, new, r.store.as_deref())
                                .map_err(|e| Stop::Error(e.to_string()))?;
                        }
                        Ok(())
                    }
                }
            }
            Rule::Move { from, to, direct } => match from {
                Place::Msg(path) => {
                    let taken = match lookup(msg.as_value(), path) {
                        // Moved out, not copied.
                        Found::Value(_) => Some(msg.delete_path(path)),
                        Found::Missing => Some(None),
                        Found::ParentMissing => None,
                    };
                    match taken {
                        Some(value) => {
                            self.write(to, value, msg, cx, index)?;
                            // Node-RED sets a child onto its parent, then deletes the child
                            // path, which now lies inside the moved value.
                            if *direct && matches!(to, Place::Msg(_)) {
                                msg.delete_path(path);
                            }
                            Ok(())
                        }
                        // Node-RED's two-step move reads the unreadable source as undefined
                        // through its temporary property, and so deletes the destination.
                        None if !direct => self.write(to, None, msg, cx, index),
                        None => Ok(()),
                    }
                }
                Place::Context(scope, r) => {
                    let Ok(key) = r.resolve_key(Some(msg)) else {
                        return Ok(());
                    };
                    let store = r.store.as_deref();
                    let value = cx.context().get(*scope, &key, store).ok().flatten();
                    let delete = || {
                        cx.context()
                            .set(*scope, &key, None, store)
                            .map_err(|e| Stop::Error(e.to_string()))
                    };
                    // Set then delete, as Node-RED; onto itself, delete first so the value
                    // survives (Node-RED's temporary property).
                    if *direct {
                        self.write(to, value, msg, cx, index)?;
                        delete()
                    } else {
                        delete()?;
                        self.write(to, value, msg, cx, index)
                    }
                }
            },
        }
    }

    /// Sets (`Some`) or deletes (`None`) a property.
    fn write(
        &self,
        place: &Place,
        value: Option<Value>,
        msg: &mut Msg,
        cx: &NodeCtx,
        index: usize,
    ) -> Result<(), Stop> {
        match place {
            Place::Msg(path) => {
                match value {
                    None => {
                        msg.delete_path(path);
                    }
                    Some(value) => match msg.set_path(path, value) {
                        Ok(()) | Err(ferrite_runtime::path::SetError::UnresolvedKey { .. }) => {}
                        Err(_) => {
                            let label = self.labels.get(index).map_or("", String::as_str);
                            cx.warn(&format!("Cannot set property of non-object type: {label}"));
                        }
                    },
                }
                Ok(())
            }
            Place::Context(scope, r) => {
                let Ok(key) = r.resolve_key(Some(msg)) else {
                    return Ok(());
                };
                cx.context()
                    .set(*scope, &key, value, r.store.as_deref())
                    .map_err(|e| Stop::Error(e.to_string()))
            }
        }
    }
}

/// The new value of a `change` rule's property, if it changes: `Some(None)` deletes it
/// (a `to` that is undefined replacing a whole value).
fn changed(
    current: &Value,
    from: &FromValue<'_>,
    to: Option<Value>,
    to_bool: bool,
) -> Option<Option<Value>> {
    let whole_kinds = matches!(from.kind, FromKind::Str | FromKind::Num | FromKind::Bool);
    match current {
        Value::String(s) => {
            if whole_kinds && matches!(&*from.value, Value::String(f) if f == s) {
                return Some(to);
            }
            let replacement = to.as_ref().map_or(Cow::Borrowed("undefined"), |v| match v {
                Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_js_string()),
            });
            let result = replace(s, &from.matcher, &replacement);
            if to_bool && to.as_ref().is_some_and(|v| v.to_js_string() == *result) {
                return Some(to);
            }
            match result {
                // Unchanged: leave the message alone rather than copy it to write the same.
                Cow::Borrowed(_) => None,
                Cow::Owned(result) => Some(Some(Value::String(result))),
            }
        }
        Value::Int(_) | Value::Float(_) if from.kind == FromKind::Num => {
            (current.to_number() == from.value.to_number()).then_some(to)
        }
        Value::Bool(b) if from.kind == FromKind::Bool => {
            // JavaScript compares `current.toString() === fromValue`: only a configured
            // (string) `from` can match.
            matches!(&*from.value, Value::String(f) if *f == b.to_string()).then_some(to)
        }
        _ => None,
    }
}

/// `s.replace(pattern, replacement)` as JavaScript does it; borrowed when nothing matched.
fn replace<'s>(s: &'s str, matcher: &Matcher, replacement: &str) -> Cow<'s, str> {
    let mut out = String::new();
    let mut last = 0;
    match matcher {
        Matcher::Literal(pattern) if pattern.is_empty() => {
            // An empty pattern matches before every character and at the end.
            out.reserve(s.len() + (s.chars().count() + 1) * replacement.len());
            for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
                expand(&mut out, replacement, s, i, i, &[], &[]);
                if i < s.len() {
                    out.push(c);
                }
            }
            return Cow::Owned(out);
        }
        Matcher::Literal(pattern) => {
            for (start, _) in s.match_indices(pattern.as_str()) {
                out.push_str(&s[last..start]);
                expand(
                    &mut out,
                    replacement,
                    s,
                    start,
                    start + pattern.len(),
                    &[],
                    &[],
                );
                last = start + pattern.len();
            }
        }
        Matcher::FirstUndefined => {
            if let Some(start) = s.find("undefined") {
                out.push_str(&s[..start]);
                expand(&mut out, replacement, s, start, start + 9, &[], &[]);
                last = start + 9;
            }
        }
        Matcher::Regex(find) => {
            let plain = !replacement.contains('$');
            let mut matched = false;
            find(s, &mut |m| {
                matched = true;
                out.push_str(&s[last..m.start]);
                last = m.end;
                if plain {
                    out.push_str(replacement);
                    return;
                }
                let groups: Vec<Option<&str>> = m
                    .groups
                    .iter()
                    .map(|r| r.clone().and_then(|r| s.get(r)))
                    .collect();
                expand(&mut out, replacement, s, m.start, m.end, &groups, m.named);
            });
            if !matched {
                return Cow::Borrowed(s);
            }
            out.push_str(&s[last..]);
            return Cow::Owned(out);
        }
    }
    if last == 0 && out.is_empty() {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// JavaScript's GetSubstitution: writes `replacement` for the match `s[start..end]`,
/// expanding `$$`, `$&`, `` $` ``, `$'`, `$n`, `$nn` and `$<name>`.
fn expand<'s>(
    out: &mut String,
    replacement: &str,
    s: &'s str,
    start: usize,
    end: usize,
    groups: &[Option<&'s str>],
    named: &[(&str, Option<Range<usize>>)],
) {
    if !replacement.contains('$') {
        out.push_str(replacement);
        return;
    }
    let bytes = replacement.as_bytes();
    let mut i = 0;
    let mut literal_from = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 >= bytes.len() {
            i += 1;
            continue;
        }
        let next = bytes[i + 1];
        let digit = |b: Option<&u8>| {
            b.filter(|b| b.is_ascii_digit())
                .map(|b| usize::from(b - b'0'))
        };
        let (text, consumed): (Option<&str>, usize) = match next {
            b'$' => (Some("$"), 2),
            b'&' => (s.get(start..end), 2),
            b'`' => (s.get(..start), 2),
            b'\'' => (s.get(end..), 2),
            b'0'..=b'9' => {
                let first = usize::from(next - b'0');
                let (index, digits) = match digit(bytes.get(i + 2)) {
                    // Two digits unless they name no group (then one digit and a literal).
                    Some(second) if first * 10 + second <= groups.len() => (first * 10 + second, 2),
                    _ => (first, 1),
                };
                if (1..=groups.len()).contains(&index) {
                    (Some(groups[index - 1].unwrap_or("")), 1 + digits)
                } else {
                    // Not a group: the text stays as written.
                    i += 1 + digits;
                    continue;
                }
            }
            // Without named groups, or without the closing `>`, the text stays as written.
            b'<' => match replacement[i + 2..].find('>') {
                Some(close) if !named.is_empty() => {
                    let name = &replacement[i + 2..i + 2 + close];
                    let text = named
                        .iter()
                        .find(|(n, _)| *n == name)
                        .and_then(|(_, r)| r.clone())
                        .and_then(|r| s.get(r));
                    (Some(text.unwrap_or("")), 3 + close)
                }
                _ => {
                    i += 2;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&replacement[literal_from..i]);
        out.push_str(text.unwrap_or(""));
        i += consumed;
        literal_from = i;
    }
    out.push_str(&replacement[literal_from..]);
}

#[async_trait]
impl Node for Change {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        for index in 0..self.rules.len() {
            if let Err(Stop::Error(text)) = self.apply(index, &mut msg, cx) {
                return Err(NodeError::new(text).for_msg(msg));
            }
        }
        cx.send(msg).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> Matcher {
        Matcher::Regex(compile_js_regex(p).expect("valid"))
    }

    fn lit(p: &str) -> Matcher {
        Matcher::Literal(p.to_owned())
    }

    #[test]
    fn literal_replace_is_global_and_expands_dollar_patterns() {
        assert_eq!(replace("abcABCabc", &lit("ABC"), "123"), "abc123abc");
        assert_eq!(replace("a.b.c", &lit("."), "-"), "a-b-c");
        assert_eq!(
            replace("xyx", &lit("y"), "[$&|$`|$'|$$|$1]"),
            "x[y|x|x|$|$1]x"
        );
        assert!(matches!(replace("abc", &lit("z"), "q"), Cow::Borrowed(_)));
        assert_eq!(replace("abc", &lit(""), "-"), "-a-b-c-");
        assert_eq!(replace("", &lit(""), "-"), "-");
    }

    #[test]
    fn regex_replace_matches_javascript() {
        assert_eq!(
            replace("Hello World", &re("(Hello)"), "$1-$1-$1"),
            "Hello-Hello-Hello World"
        );
        assert_eq!(
            replace("Replace all numbers 12 and 14", &re("\\d+"), "NUMBER"),
            "Replace all numbers NUMBER and NUMBER"
        );
        assert_eq!(replace("abc", &re(""), "-"), "-a-b-c-");
        assert_eq!(replace("ab", &re("(a)"), "$10"), "a0b");
        assert_eq!(replace("ab", &re("(a)"), "$01"), "ab");
        assert_eq!(replace("ab", &re("(a)"), "$00$0"), "$00$0b");
        assert_eq!(replace("ab", &re("(a)(x)?"), "[$2]"), "[]b");
        assert_eq!(replace("ab", &re("(?<n>a)"), "<$<n>>"), "<a>b");
        assert_eq!(replace("ab", &re("(a)"), "$<n>"), "$<n>b");
        assert_eq!(replace("a-b", &re("(?<n>a)"), "$<n"), "$<n-b");
        assert_eq!(replace("ab", &re("a"), "$"), "$b");
    }

    #[test]
    fn first_undefined_replaces_once() {
        assert_eq!(
            replace("undefined undefined", &Matcher::FirstUndefined, "x"),
            "x undefined"
        );
        assert!(matches!(
            replace("abc", &Matcher::FirstUndefined, "x"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn lookup_tells_missing_leaf_from_missing_parent() {
        let v = Value::from(serde_json::json!({"a": {"b": 1}, "n": null, "s": "str"}));
        let p = |s: &str| PropPath::parse(s).expect("valid");
        assert!(matches!(lookup(&v, &p("a.b")), Found::Value(Value::Int(1))));
        assert!(matches!(lookup(&v, &p("a.c")), Found::Missing));
        assert!(matches!(lookup(&v, &p("x")), Found::Missing));
        assert!(matches!(lookup(&v, &p("x.y")), Found::ParentMissing));
        assert!(matches!(lookup(&v, &p("n.y")), Found::ParentMissing));
        assert!(matches!(lookup(&v, &p("s.y")), Found::Missing));
        assert!(matches!(lookup(&v, &p("s.y.z")), Found::ParentMissing));
    }
}
