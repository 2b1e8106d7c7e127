//! Where one output field comes from: a typed input (`str`, `num`, `msg`, `flow`, `global`,
//! `env`, `jsonata`, ...) or a JSONPath into the whole message (`jsonpath`).

use std::cell::OnceCell;

use ferrite_runtime::typed::{Eval, TypedValue, json_text};
use ferrite_runtime::{ConfigError, Msg, NodeCtx, Value};
use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value as Json;

/// A compiled field source, named by its config key for error texts.
pub(super) struct Source {
    field: String,
    kind: Kind,
}

enum Kind {
    /// A value that depends neither on the message nor on state, evaluated at deploy.
    Const(Value),
    /// `described` renders the source for "is undefined" errors (`msg.payload.x`).
    Typed {
        value: TypedValue,
        described: String,
    },
    Path {
        text: String,
        query: JpQuery,
    },
}

/// What one message offers the sources: the message, and its JSON form made on first use by
/// a JSONPath source and then shared by the others.
pub(super) struct Scope<'a> {
    pub cx: &'a NodeCtx,
    pub msg: &'a Msg,
    json: OnceCell<Json>,
}

impl<'a> Scope<'a> {
    pub fn new(cx: &'a NodeCtx, msg: &'a Msg) -> Self {
        Self {
            cx,
            msg,
            json: OnceCell::new(),
        }
    }

    fn json(&self) -> &Json {
        self.json.get_or_init(|| self.msg.as_value().to_json())
    }
}

impl Source {
    /// Compiles `value` of type `vt`; `field` names it in deploy and message errors.
    /// `env` evaluates the constant types once, as Node-RED reads `env` values at deploy.
    pub fn compile(
        field: impl Into<String>,
        vt: &str,
        value: &Json,
        eval: Eval<'_>,
    ) -> Result<Self, ConfigError> {
        let field = field.into();
        let text = json_text(value);
        let kind = if vt == "jsonpath" {
            let query = parse_json_path(&text).map_err(|e| {
                ConfigError::field(field.as_str(), format!("invalid JSONPath {text}: {e}"))
            })?;
            Kind::Path { text, query }
        } else {
            let typed = TypedValue::compile(vt, value)
                .map_err(|e| ConfigError::field(field.as_str(), e))?;
            if typed.is_dynamic() {
                let described = match vt {
                    "msg" | "flow" | "global" => format!("{vt}.{text}"),
                    "jsonata" => format!("JSONata {text}"),
                    _ => text,
                };
                Kind::Typed {
                    value: typed,
                    described,
                }
            } else {
                let constant = typed
                    .evaluate(eval)
                    .map_err(|e| ConfigError::field(field.as_str(), e))?
                    .unwrap_or_default();
                Kind::Const(constant)
            }
        };
        Ok(Self { field, kind })
    }

    pub fn field(&self) -> &str {
        &self.field
    }

    /// The value for this message. A JSONPath with several matches gives them as an array;
    /// no match, an undefined typed value or a failed evaluation is an error naming the field.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, String> {
        match &self.kind {
            Kind::Const(v) => Ok(v.clone()),
            Kind::Typed { value, described } => match scope.cx.eval(value, Some(scope.msg)) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(format!("{}: {described} is undefined", self.field)),
                Err(e) => Err(format!("{}: {e}", self.field)),
            },
            Kind::Path { text, query } => {
                let found = js_path_process(query, scope.json())
                    .map_err(|e| format!("{}: JSONPath {text}: {e}", self.field))?;
                match found.as_slice() {
                    [] => Err(format!("{}: JSONPath {text} matched nothing", self.field)),
                    [one] => Ok(Value::from_json(one.val.clone())),
                    many => Ok(Value::Array(
                        many.iter()
                            .map(|r| Value::from_json(r.val.clone()))
                            .collect(),
                    )),
                }
            }
        }
    }
}
