//! `debug` — mirrors Node-RED `@node-red/nodes/core/common/21-debug.js`.
//!
//! Config keys: `active` (true), `tosidebar` (true), `console` (false; `true` or `"true"`),
//! `tostatus` (false), `complete` (`"false"`/missing = `msg.payload`, `"true"` = the whole
//! message, else a property path, or a JSONata expression when `targetType` is `"jsonata"`),
//! `targetType` (`msg` | `full` | `jsonata`), `statusVal` (property path or JSONata
//! expression; defaults to `complete`), `statusType` (`auto` | `msg` | `jsonata` |
//! `counter`), `name`.
//!
//! Message properties read: the `complete` target (`payload` by default, or the whole
//! message), `topic` (copied into the sidebar entry), `statusVal` (status modes `msg` /
//! `jsonata`), `error.message` and `status.{fill,shape,text}` (status mode `auto`), and
//! `status.source.id` (status messages this node caused itself are ignored, so a status
//! node wired back into it cannot loop).
//!
//! Outputs: none. Per message, in Node-RED's order:
//! * status (`tostatus`): the value as text cut to 32 characters + `"..."`, grey dot; red
//!   with `msg.error.message` and `msg.status` colours in `auto` mode; only sent when it
//!   changes. `counter` mode shows the number of messages received (blue ring), updated at
//!   most every 100 ms with the final count always shown.
//! * console (`console`): one INFO log line `[debug:<name or id>] <value>`, strings raw
//!   (after a line break when they span lines), other values as compact JSON.
//! * sidebar (`active` and `tosidebar`): the comms topic `debug` (not retained) with
//!   `{id, z?, _alias?, path, name?, topic?, property?, msg, format}`, `msg`/`format` being
//!   Node-RED's `encodeObject` of the value (`debugMaxLength`). `property` is left out for
//!   the whole message and for JSONata.
//!
//! `active` only gates the sidebar, as in Node-RED (console and status keep working); it is
//! toggled at run time by the editor's button on the node: `Event::Toggle(bool)`
//! (`POST /debug/:id/enable|disable`). The node never blocks: publishing only enqueues on
//! the events bus and values are encoded from the borrowed message.

use std::fmt::Write as _;
use std::time::Duration;

use ferrite_runtime::events::encode_debug;
use ferrite_runtime::path::PropPath;
use ferrite_runtime::typed::Jsonata;
use ferrite_runtime::value::format_number;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status,
    TimerId, Value, async_trait,
};
use serde_json::{Map as JsonMap, Value as Json};
use tokio::time::Instant;

pub const DEF: NodeDef = NodeDef {
    type_name: "debug",
    category: "common",
    set_id: "node-red/debug",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Node-RED's `debugStatusLength`: status text is cut to this many characters.
const STATUS_LENGTH: usize = 32;
/// Counter mode updates the status at most this often.
const COUNTER_INTERVAL: Duration = Duration::from_millis(100);
/// `debugMaxLength` when the setting is 0 (Node-RED: `settings.debugMaxLength || 1000`).
const DEFAULT_MAX_LENGTH: usize = 1000;

/// What the node shows.
enum Target {
    /// `complete: "true"`: the whole message.
    Whole,
    /// A message property. `path` is `None` when the text is no valid path: Node-RED then
    /// shows `undefined` for every message.
    Property {
        text: String,
        path: Option<PropPath>,
    },
    /// `targetType: "jsonata"`.
    Expression(Jsonata),
}

/// What the status badge shows.
enum StatusMode {
    /// The shown value, with `msg.error` / `msg.status` overriding it.
    Auto,
    /// A message property (`statusType: "msg"`).
    Property(Option<PropPath>),
    /// `statusType: "jsonata"`.
    Expression(Jsonata),
    /// The number of messages received.
    Counter,
}

struct Debug {
    active: bool,
    to_sidebar: bool,
    to_console: bool,
    to_status: bool,
    /// The config names the node (possibly `""`): the sidebar entry then carries `name`.
    has_name: bool,
    max_length: usize,
    target: Target,
    status_mode: StatusMode,
    /// The last status sent (Node-RED's `oldState`).
    last_status: Option<Status>,
    counter: u64,
    counter_shown_at: Option<Instant>,
    counter_timer: Option<TimerId>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    let flag = |key: &str, default: bool| match raw.get(key) {
        None | Some(Json::Null) => default,
        Some(v) => ferrite_runtime::loose::json_bool(v),
    };
    let text = |key: &str| match raw.get(key) {
        Some(Json::String(s)) => Some(s.clone()),
        Some(Json::Number(n)) => Some(n.to_string()),
        Some(Json::Bool(b)) => Some(b.to_string()),
        _ => None,
    };
    let active = flag("active", true);
    // Node-RED: `tosidebar` undefined means true, anything else must be `== true`.
    let to_sidebar = match raw.get("tosidebar") {
        None => true,
        Some(v) => ferrite_runtime::loose::json_bool(v),
    };
    let to_console = flag("console", false);
    let to_status = flag("tostatus", false);

    // `complete`: "false", missing, false or "" mean the payload.
    let complete = text("complete").filter(|c| !c.is_empty() && c != "false");
    let jsonata_target = raw.get("targetType").and_then(Json::as_str) == Some("jsonata");
    let (target, complete_text) = if jsonata_target {
        let source = complete.unwrap_or_default();
        (Target::Expression(compile(&source, "complete")?), None)
    } else {
        let complete = complete.unwrap_or_else(|| "payload".to_owned());
        let target = if complete == "true" {
            Target::Whole
        } else {
            Target::Property {
                path: PropPath::parse_msg(&complete).ok(),
                text: complete.clone(),
            }
        };
        (target, Some(complete))
    };

    let status_val = text("statusVal").filter(|s| !s.is_empty());
    let status_mode = match raw
        .get("statusType")
        .and_then(Json::as_str)
        .unwrap_or("auto")
    {
        "" | "auto" => StatusMode::Auto,
        "counter" => StatusMode::Counter,
        "jsonata" if status_val.is_some() => StatusMode::Expression(compile(
            status_val.as_deref().unwrap_or_default(),
            "statusVal",
        )?),
        // `msg`, and anything else: a property, `complete` when no `statusVal` is given.
        _ => StatusMode::Property(
            status_val
                .or(complete_text)
                .and_then(|p| PropPath::parse_msg(&p).ok()),
        ),
    };

    let max_length = match usize::try_from(cx.settings().debug_max_length) {
        Ok(0) | Err(_) => DEFAULT_MAX_LENGTH,
        Ok(n) => n,
    };
    Ok(Box::new(Debug {
        active,
        to_sidebar,
        to_console,
        to_status,
        has_name: matches!(raw.get("name"), Some(Json::String(_))),
        max_length,
        target,
        status_mode,
        last_status: None,
        counter: 0,
        counter_shown_at: None,
        counter_timer: None,
    }))
}

fn compile(source: &str, field: &str) -> Result<Jsonata, ConfigError> {
    Jsonata::compile(source).map_err(|e| {
        ConfigError::field(field, format!("Invalid JSONata expression: {source} ({e})"))
    })
}

/// A value borrowed from the message or computed from it.
enum Shown<'m> {
    Borrowed(Option<&'m Value>),
    Owned(Option<Value>),
}

impl Shown<'_> {
    fn get(&self) -> Option<&Value> {
        match self {
            Self::Borrowed(v) => *v,
            Self::Owned(v) => v.as_ref(),
        }
    }
}

#[async_trait]
impl Node for Debug {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        // Node-RED clears the badge left by a previous deploy, or shows the counter (it does
        // so whenever statusType is counter).
        if matches!(self.status_mode, StatusMode::Counter) {
            cx.status(counter_status(0)).await;
        } else {
            cx.status(Status::clear()).await;
        }
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if is_own_status(&msg, cx.id()) {
            return Ok(());
        }
        let sidebar = self.active && self.to_sidebar;
        let status_needs_value = self.to_status
            && matches!(self.status_mode, StatusMode::Auto)
            && !matches!(self.target, Target::Whole);
        let shown = if sidebar || self.to_console || status_needs_value {
            Some(self.shown(&msg, cx)?)
        } else {
            None
        };
        let value = shown.as_ref().and_then(Shown::get);

        if self.to_status {
            self.update_status(&msg, value, cx).await?;
        }
        if self.to_console {
            cx.log(&console_text(value));
        }
        if sidebar {
            let property = match &self.target {
                Target::Property { text, .. } => Some(text.as_str()),
                Target::Whole | Target::Expression(_) => None,
            };
            self.publish(cx, &msg, value, property);
        }
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match event {
            Event::Timer(id) if self.counter_timer == Some(id) => {
                cx.timer_fired(id);
                self.counter_timer = None;
                self.show_counter(cx).await;
            }
            Event::Toggle(on) => self.active = on,
            _ => {}
        }
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        if self.to_status {
            cx.status(Status::clear()).await;
        }
    }
}

impl Debug {
    /// The value the sidebar and console show.
    fn shown<'m>(&self, msg: &'m Msg, cx: &NodeCtx) -> Result<Shown<'m>, NodeError> {
        Ok(match &self.target {
            Target::Whole => Shown::Borrowed(Some(msg.as_value())),
            Target::Property { path, .. } => {
                Shown::Borrowed(path.as_ref().and_then(|p| msg.get_path(p)))
            }
            Target::Expression(expr) => Shown::Owned(evaluate(expr, msg, cx)?),
        })
    }

    async fn update_status(
        &mut self,
        msg: &Msg,
        value: Option<&Value>,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        let evaluated;
        let output = match &self.status_mode {
            StatusMode::Counter => {
                self.count(cx).await;
                return Ok(());
            }
            StatusMode::Auto => match self.target {
                Target::Whole => msg.payload(),
                _ => value,
            },
            StatusMode::Property(path) => path.as_ref().and_then(|p| msg.get_path(p)),
            StatusMode::Expression(expr) => {
                evaluated = evaluate(expr, msg, cx)?;
                evaluated.as_ref()
            }
        };

        let mut fill: &str = "grey";
        let mut shape: &str = "dot";
        let mut text = None;
        // A value that is itself a status object is shown as one.
        if let Some(Value::Object(o)) = output
            && let (Some(f), Some(s), Some(t)) = (
                truthy(o.get("fill")),
                truthy(o.get("shape")),
                truthy(o.get("text")),
            )
        {
            fill = f.as_str().unwrap_or("grey");
            shape = s.as_str().unwrap_or("dot");
            text = Some(cut(&t.to_js_string()));
        }
        let (mut fill, mut shape) = (fill.to_owned(), shape.to_owned());
        if matches!(self.status_mode, StatusMode::Auto) {
            if let Some(error) = msg.get("error") {
                fill = "red".to_owned();
                text = Some(cut(&match error {
                    Value::Object(e) => e
                        .get("message")
                        .map(Value::to_js_string)
                        .unwrap_or_default(),
                    other => other.to_js_string(),
                }));
            }
            if let Some(status) = msg.get("status") {
                let field = |key| {
                    truthy(status.as_object().and_then(|s| s.get(key))).map(Value::to_js_string)
                };
                fill = field("fill").unwrap_or_else(|| "grey".to_owned());
                shape = field("shape").unwrap_or_else(|| "ring".to_owned());
                text = Some(cut(&field("text").unwrap_or_default()));
            }
        }
        let text = text.unwrap_or_else(|| match output {
            Some(Value::String(s)) => cut(s),
            other => cut(&inspect(other)),
        });
        let status = Status {
            fill: Some(fill),
            shape: Some(shape),
            text: Some(text),
        };
        if self.last_status.as_ref() != Some(&status) {
            self.last_status = Some(status.clone());
            cx.status(status).await;
        }
        Ok(())
    }

    /// Counter mode: counts, and shows the count now or when the interval has passed.
    async fn count(&mut self, cx: &mut NodeCtx) {
        self.counter += 1;
        let since = self.counter_shown_at.map(|at| at.elapsed());
        match since {
            Some(since) if since < COUNTER_INTERVAL => {
                if self.counter_timer.is_none() {
                    self.counter_timer = Some(cx.after(COUNTER_INTERVAL - since));
                }
            }
            _ => self.show_counter(cx).await,
        }
    }

    async fn show_counter(&mut self, cx: &mut NodeCtx) {
        self.counter_shown_at = Some(Instant::now());
        cx.status(counter_status(self.counter)).await;
    }

    /// Publishes the sidebar entry.
    fn publish(&self, cx: &NodeCtx, msg: &Msg, value: Option<&Value>, property: Option<&str>) {
        let (text, format) = encode_debug(value, self.max_length);
        let ident = cx.ident();
        let mut data = JsonMap::with_capacity(9);
        data.insert("id".to_owned(), Json::from(&*ident.id));
        if let Some(z) = &ident.z {
            data.insert("z".to_owned(), Json::from(&**z));
        }
        if let Some(alias) = &ident.alias {
            data.insert("_alias".to_owned(), Json::from(&**alias));
        }
        data.insert("path".to_owned(), Json::from(&*ident.flow_path));
        if self.has_name {
            data.insert("name".to_owned(), Json::from(&*ident.name));
        }
        if let Some(topic) = msg.get("topic") {
            data.insert("topic".to_owned(), topic.to_json());
        }
        if let Some(property) = property {
            data.insert("property".to_owned(), Json::from(property));
        }
        data.insert("msg".to_owned(), Json::String(text));
        data.insert("format".to_owned(), Json::String(format));
        cx.events().publish("debug", Json::Object(data), false);
    }
}

fn evaluate(expr: &Jsonata, msg: &Msg, cx: &NodeCtx) -> Result<Option<Value>, NodeError> {
    // Node-RED reports this with node.error (no message attached: not catchable).
    expr.evaluate(cx.eval_scope(Some(msg)), &[])
        .map_err(|_| NodeError::new(format!("Invalid JSONata expression: {}", expr.source())))
}

/// `msg.status.source.id` is this node: a status node reporting our own badge.
fn is_own_status(msg: &Msg, id: &str) -> bool {
    msg.get("status")
        .and_then(Value::as_object)
        .and_then(|s| s.get("source"))
        .and_then(Value::as_object)
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        == Some(id)
}

fn counter_status(count: u64) -> Status {
    Status::ring("blue", count.to_string())
}

fn truthy(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| v.is_truthy())
}

/// Status text: at most [`STATUS_LENGTH`] characters, then `"..."`.
fn cut(text: &str) -> String {
    match text.char_indices().nth(STATUS_LENGTH) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// The console line after `[debug:<label>] `: strings raw (on a new line when they span
/// lines, as Node-RED logs them), other values as compact JSON.
fn console_text(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_owned(),
        Some(Value::String(s)) if s.contains('\n') => format!("\n{s}"),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Int(_) | Value::Float(_) | Value::Bool(_))) => v.to_js_string(),
        Some(other) => other.to_json_string(),
    }
}

/// Output stops growing past this many bytes: enough for [`STATUS_LENGTH`] characters and
/// the test that more follow, whatever the encoding.
const INSPECT_BUDGET: usize = 4 * (STATUS_LENGTH + 1);
/// `util.inspect`'s default depth.
const INSPECT_DEPTH: usize = 2;

/// A one-line `util.inspect`, as the status shows non-string values (`{ a: 1 }`,
/// `[ 1, 2 ]`, `<Buffer 01 02>`). Stops early: only the first characters are shown.
fn inspect(value: Option<&Value>) -> String {
    let mut out = String::new();
    match value {
        None => out.push_str("undefined"),
        Some(v) => inspect_into(&mut out, v, 0),
    }
    out
}

fn inspect_into(out: &mut String, value: &Value, depth: usize) {
    if out.len() > INSPECT_BUDGET {
        return;
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&format_number(*f)),
        Value::String(s) => quote_into(out, s),
        Value::Bytes(b) => {
            out.push_str("<Buffer");
            for byte in b.iter().take(50) {
                let _ = write!(out, " {byte:02x}");
                if out.len() > INSPECT_BUDGET {
                    return;
                }
            }
            if b.len() > 50 {
                let _ = write!(out, " ... {} more bytes", b.len() - 50);
            }
            out.push('>');
        }
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(_) if depth > INSPECT_DEPTH => out.push_str("[Array]"),
        Value::Array(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inspect_into(out, item, depth + 1);
                if out.len() > INSPECT_BUDGET {
                    return;
                }
            }
            out.push_str(" ]");
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(_) if depth > INSPECT_DEPTH => out.push_str("[Object]"),
        Value::Object(map) => {
            out.push_str("{ ");
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if is_identifier(key) {
                    out.push_str(key);
                } else {
                    quote_into(out, key);
                }
                out.push_str(": ");
                inspect_into(out, item, depth + 1);
                if out.len() > INSPECT_BUDGET {
                    return;
                }
            }
            out.push_str(" }");
        }
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A string as `util.inspect` quotes it: single quotes unless the text has some.
fn quote_into(out: &mut String, s: &str) {
    let quote = if !s.contains('\'') {
        '\''
    } else if !s.contains('"') {
        '"'
    } else if !s.contains('`') {
        '`'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        if out.len() > INSPECT_BUDGET {
            return;
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_is_cut_after_32_characters() {
        assert_eq!(cut("short"), "short");
        let long = "x".repeat(40);
        assert_eq!(cut(&long), format!("{}...", "x".repeat(32)));
    }

    #[test]
    fn inspect_reads_like_node() {
        let v = Value::from(serde_json::json!({"a": 1, "b-c": "it's", "d": [1, 2], "e": {}}));
        assert_eq!(
            inspect(Some(&v)),
            r#"{ a: 1, 'b-c': "it's", d: [ 1, 2 ], e: {} }"#
        );
        assert_eq!(inspect(None), "undefined");
        assert_eq!(
            inspect(Some(&Value::Bytes(vec![1, 171].into()))),
            "<Buffer 01 ab>"
        );
        let deep = Value::from(serde_json::json!({"a": {"b": {"c": {"d": 1}}}}));
        assert_eq!(inspect(Some(&deep)), "{ a: { b: { c: [Object] } } }");
    }

    #[test]
    fn console_text_is_raw_for_strings_and_json_otherwise() {
        assert_eq!(console_text(Some(&Value::from("a"))), "a");
        assert_eq!(console_text(Some(&Value::from("a\nb"))), "\na\nb");
        assert_eq!(console_text(Some(&Value::Float(f64::NAN))), "NaN");
        assert_eq!(console_text(None), "undefined");
        let v = Value::from(serde_json::json!({"type": "foo"}));
        assert_eq!(console_text(Some(&v)), r#"{"type":"foo"}"#);
    }
}
