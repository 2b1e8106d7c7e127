//! `template` — mirrors Node-RED `@node-red/nodes/core/function/80-template.js`.
//!
//! Config:
//! * `template` — the template text. When it is empty, a message's `msg.template` is used
//!   instead (the last one parsed is kept, so a stream of messages carrying the same text
//!   parses it once).
//! * `syntax` — `mustache` (default) or `plain` (the text as it is).
//! * `output` — `str` (default), `json` (the result is parsed as JSON) or `yaml` (parsed
//!   as YAML 1.2, like js-yaml's `load`: the first document; mapping key order kept).
//! * `field` (default `payload`) and `fieldType` (`msg` default, `flow`, `global`; a
//!   context key may carry a store, `#:(store)::key`): where the result goes.
//! * `format` — the editor's syntax highlighting only; `name`.
//!
//! Mustache rendering follows mustache.js (see [`super::mustache`]) against the message,
//! with Node-RED's additions: a name the message lacks that reads `env.NAME` is the
//! environment variable (`""` when unset), and one that reads `flow.key`, `global.key`,
//! `flow[store].key` or `global[store].key` is that context value (read once per message,
//! before rendering); any other missing name renders as nothing. With `output: "json"`,
//! strings taken from the message outside any section have `\`, newline, tab, CR, form
//! feed and backspace escaped, so they can sit inside JSON strings of the template.
//!
//! Reads the message (and `msg.template`); writes the result to the field, or to flow or
//! global context (the message then passes on unchanged). Parse errors of `msg.template`,
//! JSON output that does not parse and context store errors are catchable errors, and the
//! message is dropped. No status.
//!
//! Differences from Node-RED: the node's own template is parsed at deploy, so a template
//! mustache.js cannot parse (`Unclosed tag at 17`) is a deploy error naming the field rather
//! than an error for every message; likewise plain text that must be JSON or YAML. YAML
//! timestamps stay strings (js-yaml makes Date objects, which JSON-encode as the same text).

use std::borrow::Cow;

use ferrite_runtime::context::{ContextScope, parse_store_prefix};
use ferrite_runtime::env::Env;
use ferrite_runtime::path::PropPath;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde_json::Value as Json;
use yaml_rust2::{Yaml, YamlLoader};

use super::mustache::{Resolver, Template};

pub const DEF: NodeDef = NodeDef {
    type_name: "template",
    category: "function",
    set_id: "node-red/template",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Where the result goes.
enum Field {
    Msg(PropPath),
    Context {
        scope: ContextScope,
        store: Option<String>,
        key: String,
    },
}

/// A template ready to render.
enum Compiled {
    Mustache {
        template: Template,
        /// The `flow.x` / `global[store].x` names it uses, read before each render.
        context: Vec<ContextName>,
    },
    Plain(Value),
}

/// A context value a template names.
struct ContextName {
    name: String,
    scope: ContextScope,
    store: Option<String>,
    key: String,
}

/// What the rendered text becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Output {
    Str,
    Json,
    Yaml,
}

impl Output {
    fn parse(self, text: &str) -> Result<Value, String> {
        match self {
            Output::Str => Ok(Value::String(text.to_owned())),
            Output::Json => parse_json(text),
            Output::Yaml => parse_yaml(text),
        }
    }
}

struct TemplateNode {
    field: Field,
    mustache: bool,
    output: Output,
    /// The node's own template; `None` when it is empty and `msg.template` may stand in.
    own: Option<Compiled>,
    /// The last `msg.template` text and its parse.
    cached: Option<(String, Compiled)>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let text = |key: &str| {
        config
            .get(key)
            .map(ferrite_runtime::typed::json_text)
            .unwrap_or_default()
    };
    let or_default = |value: String, default: &str| {
        if value.is_empty() {
            default.to_owned()
        } else {
            value
        }
    };
    let field_text = or_default(text("field"), "payload");
    let field = match or_default(text("fieldType"), "msg").as_str() {
        kind @ ("flow" | "global") => {
            let (store, key) = parse_store_prefix(&field_text);
            Field::Context {
                scope: if kind == "flow" {
                    ContextScope::Flow
                } else {
                    ContextScope::Global
                },
                store: store.map(str::to_owned),
                key: key.to_owned(),
            }
        }
        _ => Field::Msg(
            PropPath::parse_msg(&field_text).map_err(|e| ConfigError::field("field", e))?,
        ),
    };
    let mustache = or_default(text("syntax"), "mustache") == "mustache";
    let output = match or_default(text("output"), "str").as_str() {
        "json" => Output::Json,
        "yaml" => Output::Yaml,
        _ => Output::Str,
    };
    let template = match config.get("template") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let own = if template.is_empty() {
        None
    } else {
        Some(compile(&template, mustache, output).map_err(|e| ConfigError::field("template", e))?)
    };
    Ok(Box::new(TemplateNode {
        field,
        mustache,
        output,
        own,
        cached: None,
    }))
}

fn compile(text: &str, mustache: bool, output: Output) -> Result<Compiled, String> {
    if !mustache {
        // Plain text is the value itself, or its JSON / YAML.
        return Ok(Compiled::Plain(output.parse(text)?));
    }
    let template = Template::parse(text).map_err(|e| e.to_string())?;
    let mut context: Vec<ContextName> = Vec::new();
    for name in template.names() {
        if let Some((scope, store, key)) = context_name(name)
            && !context.iter().any(|c| c.name == name)
        {
            context.push(ContextName {
                name: name.to_owned(),
                scope,
                store: store.map(str::to_owned),
                key: key.to_owned(),
            });
        }
    }
    Ok(Compiled::Mustache { template, context })
}

/// Node-RED's `parseContext`: `/^(flow|global)(\[(\w+)\])?\.(.+)/`.
fn context_name(name: &str) -> Option<(ContextScope, Option<&str>, &str)> {
    let (scope, rest) = if let Some(rest) = name.strip_prefix("flow") {
        (ContextScope::Flow, rest)
    } else {
        (ContextScope::Global, name.strip_prefix("global")?)
    };
    let (store, rest) = match rest.strip_prefix('[') {
        Some(inner) => {
            let end = inner.find(']')?;
            let store = &inner[..end];
            let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
            if store.is_empty() || !store.chars().all(word) {
                return None;
            }
            (Some(store), &inner[end + 1..])
        }
        None => (None, rest),
    };
    let key = rest.strip_prefix('.')?;
    // `.+` stops at a line break.
    let key = key
        .split(['\n', '\r', '\u{2028}', '\u{2029}'])
        .next()
        .unwrap_or_default();
    (!key.is_empty()).then_some((scope, store, key))
}

/// Node-RED's `parseEnv`: `/^env\.(.+)/`.
fn env_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("env.")?;
    let rest = rest
        .split(['\n', '\r', '\u{2028}', '\u{2029}'])
        .next()
        .unwrap_or_default();
    (!rest.is_empty()).then_some(rest)
}

fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str::<Json>(text)
        .map(Value::from)
        .map_err(|e| format!("Invalid JSON: {e}"))
}

/// js-yaml's `load`: the first document (an empty text is `null`).
fn parse_yaml(text: &str) -> Result<Value, String> {
    let documents = YamlLoader::load_from_str(text).map_err(|e| format!("Invalid YAML: {e}"))?;
    Ok(documents.into_iter().next().map_or(Value::Null, yaml_value))
}

fn yaml_value(yaml: Yaml) -> Value {
    match yaml {
        Yaml::Integer(i) => Value::Int(i),
        Yaml::Real(ref text) => yaml
            .as_f64()
            .map_or_else(|| Value::String(text.clone()), Value::js_number),
        Yaml::String(s) => Value::String(s),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(items) => Value::Array(items.into_iter().map(yaml_value).collect()),
        Yaml::Hash(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (yaml_key(key), yaml_value(value)))
                .collect(),
        ),
        Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    }
}

/// A mapping key as the JavaScript property name js-yaml makes of it.
fn yaml_key(key: Yaml) -> String {
    match yaml_value(key) {
        Value::String(s) => s,
        other => other.to_js_string(),
    }
}

/// What the template node adds to mustache lookups.
struct NodeResolver<'a> {
    env: &'a Env,
    /// The context values the template names, by name.
    context: Vec<(&'a str, Option<Value>)>,
    json: bool,
}

impl Resolver for NodeResolver<'_> {
    fn missing(&self, name: &str) -> Option<Cow<'_, Value>> {
        if let Some(var) = env_name(name) {
            return Some(Cow::Owned(self.env.evaluate_typed(var)));
        }
        self.context
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_ref())
            .map(Cow::Borrowed)
    }

    fn outer_string(&self, value: &str) -> Option<String> {
        if !self.json || !value.contains(['\\', '\n', '\t', '\r', '\u{c}', '\u{8}']) {
            return None;
        }
        let mut out = String::with_capacity(value.len() + 8);
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\u{c}' => out.push_str("\\f"),
                '\u{8}' => out.push_str("\\b"),
                other => out.push(other),
            }
        }
        Some(out)
    }
}

/// `typeStr` of mustache.js, for its "Invalid template!" error.
fn type_str(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::Null | Value::Object(_) | Value::Bytes(_) => "object",
        Value::Bool(_) => "boolean",
        Value::Int(_) | Value::Float(_) => "number",
        Value::String(_) => "string",
    }
}

impl TemplateNode {
    /// The rendered (and, for JSON output, parsed) value for `msg`.
    fn evaluate(&mut self, msg: &Msg, cx: &NodeCtx) -> Result<Value, String> {
        if self.own.is_none() {
            match msg.get("template") {
                Some(Value::String(text)) => {
                    if self.cached.as_ref().is_none_or(|(t, _)| t != text) {
                        let compiled = compile(text, self.mustache, self.output)?;
                        self.cached = Some((text.clone(), compiled));
                    }
                }
                Some(other) if !self.mustache => {
                    // Plain text mode hands a non-string `msg.template` on as it is.
                    return if self.output == Output::Str {
                        Ok(other.clone())
                    } else {
                        self.output.parse(&other.to_js_string())
                    };
                }
                Some(other) => {
                    return Err(format!(
                        "Invalid template! Template should be a \"string\" but \"{}\" was given as the first argument for mustache#render(template, view, partials)",
                        type_str(other)
                    ));
                }
                // No template anywhere: the node's empty one.
                None => return self.output.parse(""),
            }
        }
        let compiled = match (&self.own, &self.cached) {
            (Some(own), _) => own,
            (None, Some((_, cached))) => cached,
            (None, None) => return Ok(Value::from("")),
        };
        let (template, context) = match compiled {
            Compiled::Plain(value) => return Ok(value.clone()),
            Compiled::Mustache { template, context } => (template, context),
        };
        let mut values = Vec::with_capacity(context.len());
        for c in context {
            let value = cx
                .context()
                .get(c.scope, &c.key, c.store.as_deref())
                .map_err(|e| e.to_string())?;
            values.push((c.name.as_str(), value));
        }
        let resolver = NodeResolver {
            env: cx.env(),
            context: values,
            json: self.output == Output::Json,
        };
        self.output
            .parse(&template.render_with(msg.as_value(), &resolver))
    }
}

#[async_trait]
impl Node for TemplateNode {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let value = match self.evaluate(&msg, cx) {
            Ok(value) => value,
            Err(error) => return Err(NodeError::new(error).for_msg(msg)),
        };
        match &self.field {
            Field::Msg(path) => {
                // Like setMessageProperty, a parent that cannot hold it leaves the message.
                let _ = msg.set_path(path, value);
            }
            Field::Context { scope, store, key } => {
                if let Err(e) = cx.context().set(*scope, key, Some(value), store.as_deref()) {
                    return Err(NodeError::new(e.to_string()).for_msg(msg));
                }
            }
        }
        cx.send(msg).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_follow_node_red_pattern() {
        assert!(matches!(
            context_name("flow.value"),
            Some((ContextScope::Flow, None, "value"))
        ));
        assert!(matches!(
            context_name("global[memory1].a.b"),
            Some((ContextScope::Global, Some("memory1"), "a.b"))
        ));
        assert!(context_name("flow[bad-store].x").is_none());
        assert!(context_name("flow[].x").is_none());
        assert!(context_name("flow.").is_none());
        assert!(context_name("flows.x").is_none());
        assert!(context_name("payload").is_none());
        assert_eq!(env_name("env.TEST"), Some("TEST"));
        assert_eq!(env_name("env."), None);
        assert_eq!(env_name("environment"), None);
    }
}
