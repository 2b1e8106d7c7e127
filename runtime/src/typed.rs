//! Typed inputs (`RED.util.evaluateNodeProperty`): a stored string plus a type such as
//! `num`, `msg`, `flow`, `env` or `jsonata`. Compiled once at deploy, so a bad JSON value,
//! regular expression or JSONata expression is a deploy error naming the field.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Datelike, Local, Timelike, Utc};
use serde_json::Value as Json;

use crate::context::{ContextError, ContextScope, NodeContext, parse_store_prefix};
use crate::env::{Env, EnvLevel};
use crate::msg::Msg;
use crate::path::PropPath;
use crate::value::Value;

/// A typed input could not be compiled.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum TypedError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("invalid buffer: {0}")]
    Bin(String),
    #[error("invalid regular expression: {0}")]
    Regex(String),
    #[error("invalid JSONata expression: {0}")]
    Jsonata(String),
    #[error("{0}")]
    Path(String),
    #[error("unknown value type '{0}'")]
    UnknownType(String),
}

/// Evaluating a typed input failed (Node-RED passes these to `done(err)`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Jsonata(String),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("{0}")]
    Path(String),
}

/// What an evaluation can read.
#[derive(Clone, Copy)]
pub struct Eval<'a> {
    pub msg: Option<&'a Msg>,
    pub env: &'a Env,
    pub context: Option<&'a NodeContext>,
}

/// A compiled JSONata expression.
#[derive(Debug, Clone)]
pub struct Jsonata {
    expr: Arc<jlens_core::Expression>,
    /// Mentions `msg` as a word: evaluated against `{msg: ...}` (Node-RED's legacy mode).
    legacy_msg: bool,
}

impl Jsonata {
    pub fn compile(source: &str) -> Result<Self, TypedError> {
        let expr = jlens_core::Expression::compile(source)
            .map_err(|e| TypedError::Jsonata(e.to_string()))?;
        Ok(Self {
            expr: Arc::new(expr),
            legacy_msg: mentions_msg(source),
        })
    }

    /// Evaluates against a message; `extra` binds further variables (`$A`, `$I`, ...).
    pub fn evaluate(
        &self,
        cx: Eval<'_>,
        extra: &[(&str, Value)],
    ) -> Result<Option<Value>, EvalError> {
        let input = cx.msg.map(|m| {
            let json = m.as_value().to_json();
            if self.legacy_msg {
                serde_json::json!({ "msg": json })
            } else {
                json
            }
        });
        let mut bindings = host_functions(cx);
        for (name, value) in extra {
            bindings = bindings.var(*name, value.to_json());
        }
        let options = jlens_core::Options::new()
            .now(Utc::now().timestamp_millis())
            .timeout(std::time::Duration::from_secs(5));
        self.expr
            .evaluate_with(input.as_ref(), &bindings, &options)
            .map(|v| v.map(Value::from))
            .map_err(|e| EvalError::Jsonata(e.to_string()))
    }

    pub fn source(&self) -> &str {
        self.expr.source()
    }
}

fn mentions_msg(source: &str) -> bool {
    let bytes = source.as_bytes();
    source.match_indices("msg").any(|(i, _)| {
        let before = i.checked_sub(1).and_then(|j| bytes.get(j)).copied();
        let after = bytes.get(i + 3).copied();
        let word =
            |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$');
        !word(before) && !word(after)
    })
}

/// `$flowContext`, `$globalContext` and `$env`, as Node-RED registers them.
fn host_functions(cx: Eval<'_>) -> jlens_core::Bindings {
    let env = cx.env.clone();
    let mut bindings = jlens_core::Bindings::new().function(
        "env",
        jlens_core::HostFunction::new(1, move |args, _| {
            let name = args
                .first()
                .and_then(|a| a.as_ref())
                .and_then(Json::as_str)
                .unwrap_or_default();
            Ok(env.get(name).map(|v| v.to_json()))
        })
        .without_input(),
    );
    if let Some(context) = cx.context {
        for (fname, scope) in [
            ("flowContext", ContextScope::Flow),
            ("globalContext", ContextScope::Global),
        ] {
            let context = context.clone();
            bindings = bindings.function(
                fname,
                jlens_core::HostFunction::new(2, move |args, _| {
                    let arg =
                        |i: usize| args.get(i).and_then(|a| a.as_ref()).and_then(Json::as_str);
                    let key = arg(0).unwrap_or_default();
                    Ok(context
                        .get(scope, key, arg(1))
                        .ok()
                        .flatten()
                        .map(|v| v.to_json()))
                })
                .without_input(),
            );
        }
    }
    bindings
}

/// A flow or global context reference: `#:(store)::key`, key possibly with `[msg.x]` parts.
#[derive(Debug, Clone)]
pub struct ContextRef {
    pub store: Option<String>,
    pub key: String,
    nested: Option<PropPath>,
}

impl ContextRef {
    pub fn parse(text: &str) -> Result<Self, TypedError> {
        let (store, key) = parse_store_prefix(text);
        let nested = if key.contains("[msg") {
            Some(PropPath::parse(key).map_err(|e| TypedError::Path(e.to_string()))?)
        } else {
            None
        };
        Ok(Self {
            store: store.map(str::to_owned),
            key: key.to_owned(),
            nested,
        })
    }

    /// The key with `[msg.x]` parts replaced by their values.
    pub fn resolve_key(&self, msg: Option<&Msg>) -> Result<String, EvalError> {
        match (&self.nested, msg) {
            (Some(path), Some(msg)) => path
                .resolve(msg.as_value())
                .map(|p| p.to_string())
                .map_err(|e| EvalError::Path(e.to_string())),
            _ => Ok(self.key.clone()),
        }
    }
}

/// How a `date` typed input renders now.
#[derive(Debug, Clone)]
pub enum DateFormat {
    /// Milliseconds since the epoch.
    Millis,
    /// ISO 8601 in UTC, like `Date.toISOString()`.
    Iso,
    /// A moment.js format string, in local time.
    Pattern(String),
}

/// A compiled typed input.
#[derive(Debug, Clone)]
pub enum TypedValue {
    Str(String),
    Num(Value),
    Bool(bool),
    Json(Value),
    Bin(Bytes),
    /// The pattern text; nodes that match with it compile it with [`compile_regex`].
    Re(String),
    Date(DateFormat),
    Msg(PropPath),
    Flow(ContextRef),
    Global(ContextRef),
    Env(String),
    Jsonata(Jsonata),
}

impl TypedValue {
    /// Compiles `v` of type `vt`. `v` may be a JSON string, number or boolean (loose flows).
    pub fn compile(vt: &str, v: &Json) -> Result<Self, TypedError> {
        let text = json_text(v);
        Ok(match vt {
            "" | "str" => Self::Str(text),
            "num" => Self::Num(Value::js_number(Value::String(text).to_number())),
            "bool" => Self::Bool(text.eq_ignore_ascii_case("true")),
            "json" => Self::Json(parse_json(&text)?),
            "bin" => Self::Bin(parse_bin(&text)?),
            "re" => {
                compile_regex(&text, "")?;
                Self::Re(text)
            }
            "date" => Self::Date(match text.as_str() {
                "" => DateFormat::Millis,
                "iso" | "object" => DateFormat::Iso,
                other => DateFormat::Pattern(other.to_owned()),
            }),
            "msg" => {
                Self::Msg(PropPath::parse_msg(&text).map_err(|e| TypedError::Path(e.to_string()))?)
            }
            "flow" => Self::Flow(ContextRef::parse(&text)?),
            "global" => Self::Global(ContextRef::parse(&text)?),
            "env" => Self::Env(text),
            "jsonata" => Self::Jsonata(Jsonata::compile(&text)?),
            other => return Err(TypedError::UnknownType(other.to_owned())),
        })
    }

    /// Evaluates; `None` is JavaScript's `undefined` (a missing property or context key).
    pub fn evaluate(&self, cx: Eval<'_>) -> Result<Option<Value>, EvalError> {
        Ok(match self {
            Self::Str(s) => Some(Value::String(s.clone())),
            Self::Num(n) => Some(n.clone()),
            Self::Bool(b) => Some(Value::Bool(*b)),
            Self::Json(v) => Some(v.clone()),
            Self::Bin(b) => Some(Value::Bytes(b.clone())),
            Self::Re(s) => Some(Value::String(s.clone())),
            Self::Date(format) => Some(render_date(format, Utc::now())),
            Self::Msg(path) => cx.msg.and_then(|m| m.get_path(path)).cloned(),
            Self::Flow(r) | Self::Global(r) => {
                let scope = if matches!(self, Self::Flow(_)) {
                    ContextScope::Flow
                } else {
                    ContextScope::Global
                };
                match cx.context {
                    Some(context) => {
                        let key = r.resolve_key(cx.msg)?;
                        context.get(scope, &key, r.store.as_deref())?
                    }
                    None => None,
                }
            }
            Self::Env(name) => Some(cx.env.evaluate_typed(name)),
            Self::Jsonata(expr) => expr.evaluate(cx, &[])?,
        })
    }

    /// True for the types whose value depends on the message or on state.
    pub fn is_dynamic(&self) -> bool {
        matches!(
            self,
            Self::Msg(_) | Self::Flow(_) | Self::Global(_) | Self::Jsonata(_) | Self::Date(_)
        )
    }
}

/// A JSON string, or the text of a number or boolean (flows written by hand or old editors).
pub fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_json(text: &str) -> Result<Value, TypedError> {
    serde_json::from_str::<Json>(text)
        .map(Value::from)
        .map_err(|e| TypedError::Json(e.to_string()))
}

fn parse_bin(text: &str) -> Result<Bytes, TypedError> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_f64()
                    // Buffer.from keeps the low 8 bits of each number.
                    .map(|f| (f as i64 & 0xff) as u8)
                    .ok_or_else(|| TypedError::Bin("array items must be numbers".to_owned()))
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(Bytes::from),
        Ok(Json::String(s)) => Ok(Bytes::from(s.into_bytes())),
        Ok(_) => Err(TypedError::Bin(
            "expected an array of bytes or a string".to_owned(),
        )),
        Err(e) => Err(TypedError::Bin(e.to_string())),
    }
}

/// Compiles a JavaScript regular expression (`flags` such as `"i"`).
pub fn compile_regex(pattern: &str, flags: &str) -> Result<regress::Regex, TypedError> {
    regress::Regex::with_flags(pattern, flags)
        .map_err(|e| TypedError::Regex(format!("{pattern}: {e}")))
}

/// Renders now for a `date` typed input.
pub fn render_date(format: &DateFormat, now: DateTime<Utc>) -> Value {
    match format {
        DateFormat::Millis => Value::Int(now.timestamp_millis()),
        DateFormat::Iso => Value::String(now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        DateFormat::Pattern(p) => Value::String(moment_format(p, &now.with_timezone(&Local))),
    }
}

/// The common moment.js tokens: YYYY YY MM M DD D HH H hh h mm m ss s SSS A a Z ZZ X x.
/// Text in `[brackets]` is literal.
pub fn moment_format(pattern: &str, t: &DateTime<Local>) -> String {
    const TOKENS: [&str; 21] = [
        "YYYY", "YY", "MMMM", "MMM", "MM", "M", "DD", "D", "HH", "H", "hh", "h", "mm", "m", "ss",
        "s", "SSS", "A", "a", "ZZ", "Z",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut rest = pattern;
    'outer: while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[')
            && let Some(end) = inner.find(']')
        {
            out.push_str(&inner[..end]);
            rest = &inner[end + 1..];
            continue;
        }
        for token in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                let hour12 = match t.hour() % 12 {
                    0 => 12,
                    h => h,
                };
                let month = t.month0() as usize;
                let text = match token {
                    "YYYY" => format!("{:04}", t.year()),
                    "YY" => format!("{:02}", t.year().rem_euclid(100)),
                    "MMMM" => MONTHS[month].to_owned(),
                    "MMM" => MONTHS[month][..3].to_owned(),
                    "MM" => format!("{:02}", t.month()),
                    "M" => t.month().to_string(),
                    "DD" => format!("{:02}", t.day()),
                    "D" => t.day().to_string(),
                    "HH" => format!("{:02}", t.hour()),
                    "H" => t.hour().to_string(),
                    "hh" => format!("{hour12:02}"),
                    "h" => hour12.to_string(),
                    "mm" => format!("{:02}", t.minute()),
                    "m" => t.minute().to_string(),
                    "ss" => format!("{:02}", t.second()),
                    "s" => t.second().to_string(),
                    "SSS" => format!("{:03}", t.timestamp_subsec_millis()),
                    "A" => (if t.hour() < 12 { "AM" } else { "PM" }).to_owned(),
                    "a" => (if t.hour() < 12 { "am" } else { "pm" }).to_owned(),
                    "ZZ" => t.format("%z").to_string(),
                    _ => t.format("%:z").to_string(),
                };
                out.push_str(&text);
                rest = after;
                continue 'outer;
            }
        }
        if let Some(after) = rest.strip_prefix('X') {
            out.push_str(&t.timestamp().to_string());
            rest = after;
        } else if let Some(after) = rest.strip_prefix('x') {
            out.push_str(&t.timestamp_millis().to_string());
            rest = after;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Evaluates one `env` entry of a tab, group, subflow or `global-config` at deploy.
pub fn evaluate_env_entry(
    kind: &str,
    value: Option<&Json>,
    scope: &Arc<EnvLevel>,
) -> Result<Value, String> {
    let raw = value.cloned().unwrap_or(Json::Null);
    let env = Env {
        node_id: Arc::from(""),
        node_name: Arc::from(""),
        node_path: Arc::from(""),
        level: Arc::clone(scope),
    };
    match kind {
        "env" => Ok(env.evaluate_typed(&json_text(&raw))),
        // Credentials arrive with the credentials file (issue 7); until then the value is "".
        "cred" => Ok(Value::String(String::new())),
        "conf-type" | "node" => Ok(Value::String(json_text(&raw))),
        "jsonata" => {
            let expr = Jsonata::compile(&json_text(&raw)).map_err(|e| e.to_string())?;
            expr.evaluate(
                Eval {
                    msg: None,
                    env: &env,
                    context: None,
                },
                &[],
            )
            .map(Option::unwrap_or_default)
            .map_err(|e| e.to_string())
        }
        other => {
            let typed = TypedValue::compile(other, &raw).map_err(|e| e.to_string())?;
            typed
                .evaluate(Eval {
                    msg: None,
                    env: &env,
                    context: None,
                })
                .map(Option::unwrap_or_default)
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use serde_json::json;

    fn env() -> Env {
        Env {
            node_id: Arc::from("n1"),
            node_name: Arc::from("node"),
            node_path: Arc::from("f/n1"),
            level: EnvLevel::global(IndexMap::from([("X".to_owned(), Value::from("vx"))])),
        }
    }

    fn eval(t: &TypedValue, msg: &Msg) -> Option<Value> {
        let env = env();
        t.evaluate(Eval {
            msg: Some(msg),
            env: &env,
            context: None,
        })
        .expect("evaluates")
    }

    #[test]
    fn scalar_types_follow_javascript_conversions() {
        let msg = Msg::new();
        let v = |vt: &str, v: Json| eval(&TypedValue::compile(vt, &v).expect("compiles"), &msg);
        assert_eq!(v("num", json!("10")), Some(Value::from(10)));
        assert_eq!(v("num", json!(2.5)), Some(Value::from(2.5)));
        assert_eq!(v("bool", json!("TRUE")), Some(Value::Bool(true)));
        assert_eq!(v("bool", json!(true)), Some(Value::Bool(true)));
        assert_eq!(
            v("json", json!("{\"x\":\"vx\"}")),
            Some(Value::from(json!({"x":"vx"})))
        );
        assert_eq!(
            v("bin", json!("[1,2,3]")),
            Some(Value::Bytes(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(v("env", json!("X")), Some(Value::from("vx")));
        assert_eq!(v("str", json!(5)), Some(Value::from("5")));
    }

    #[test]
    fn bad_json_and_regex_fail_at_compile() {
        assert!(matches!(
            TypedValue::compile("json", &json!("{")),
            Err(TypedError::Json(_))
        ));
        assert!(matches!(
            TypedValue::compile("re", &json!("(")),
            Err(TypedError::Regex(_))
        ));
        assert!(matches!(
            TypedValue::compile("jsonata", &json!("$$$(")),
            Err(TypedError::Jsonata(_))
        ));
    }

    #[test]
    fn jsonata_sees_the_message_and_legacy_msg_form() {
        let msg = Msg::try_from(json!({"payload": 3, "x": 10})).expect("object");
        let plain = TypedValue::compile("jsonata", &json!("payload + x")).expect("compiles");
        assert_eq!(eval(&plain, &msg), Some(Value::from(13)));
        let legacy = TypedValue::compile("jsonata", &json!("msg.payload * 2")).expect("compiles");
        assert_eq!(eval(&legacy, &msg), Some(Value::from(6)));
        let env_fn = TypedValue::compile("jsonata", &json!("$env('X') & '!'")).expect("compiles");
        assert_eq!(eval(&env_fn, &msg), Some(Value::from("vx!")));
    }

    /// The sample of expressions DESIGN.md asks to check against Node-RED's results.
    #[test]
    fn jsonata_sample_matches_node_red() {
        let msg = Msg::try_from(
            json!({"payload": {"b": 2, "a": 1, "items": [{"v": 1.5}, {"v": 2}]}, "topic": "t"}),
        )
        .expect("object");
        let cases = [
            ("topic & '-' & payload.a", json!("t-1")),
            (
                "$string(payload.{'b': b, 'a': a})",
                json!("{\"b\":2,\"a\":1}"),
            ),
            ("payload.a / 4 + payload.b * 3", json!(6.25)),
            ("$sum(payload.items.v)", json!(3.5)),
            ("$count(payload.items)", json!(2)),
            ("$uppercase(topic)", json!("T")),
        ];
        for (source, expected) in cases {
            let t = TypedValue::compile("jsonata", &json!(source)).expect("compiles");
            assert_eq!(eval(&t, &msg), Some(Value::from(expected)), "{source}");
        }
        let now = TypedValue::compile("jsonata", &json!("$now()")).expect("compiles");
        let Some(Value::String(text)) = eval(&now, &msg) else {
            panic!("$now gives a string")
        };
        assert!(text.ends_with('Z') && text.contains('T'), "{text}");
    }

    #[test]
    fn moment_patterns_render_the_common_tokens() {
        let t = DateTime::parse_from_rfc3339("2026-03-04T05:06:07.089Z")
            .expect("valid")
            .with_timezone(&Local);
        let text = moment_format("YYYY-MM-DD [at] ss.SSS", &t);
        assert!(text.starts_with("2026-03-0"), "{text}");
        assert!(text.ends_with(" at 07.089"), "{text}");
    }
}
