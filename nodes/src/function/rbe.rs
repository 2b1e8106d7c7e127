//! `rbe` (palette label "filter") — mirrors Node-RED
//! `@node-red/nodes/core/function/rbe.js`.
//!
//! Config:
//! * `func` — `rbe` (default: pass a value only when it differs from the previous one; deep
//!   comparison for objects, arrays and buffers), `rbei` (the same, but the first value of
//!   each topic is only remembered), `deadband` / `deadbandEq` (pass a number only when it
//!   moved more than / at least `gap` away), `narrowband` / `narrowbandEq` (pass a number
//!   only when it stayed within / closer than `gap`).
//! * `gap` — a number (`"0"` default) or a percentage of the previous value (`"10%"`).
//! * `start` — narrowband only: the value compared against before any has been seen
//!   (`""` = the first value itself).
//! * `inout` — `out` (default: compare with the last value sent) or `in` (with the last
//!   value received).
//! * `septopics` — keep one previous value per topic (default); only a boolean `false`
//!   turns it off, as in Node-RED.
//! * `property` (`payload`) — the value tested; `topi` (`topic`) — the property that names
//!   the topic.
//!
//! Reads the configured property, the topic property and `msg.reset` (present: forget the
//! previous value of `msg.topic`, or of every topic when there is no string topic or
//! `septopics` is off). A message without the property is ignored. Band modes read the
//! value like `parseFloat` (`"6 deg"` is 6) and warn "no number found in payload" when there
//! is none. Messages pass unchanged. No status.

use std::collections::HashMap;

use ferrite_runtime::path::PropPath;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde::Deserialize;
use serde_json::Value as Json;

pub const DEF: NodeDef = NodeDef {
    type_name: "rbe",
    category: "function",
    set_id: "node-red/rbe",
    role: Role::Plain,
    build: Build::Flow(build),
};

const NO_TOPIC: &str = "_no_topic";
const NO_NUMBER: &str = "no number found in payload";

#[derive(Deserialize)]
struct Config {
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    func: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    gap: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    start: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    inout: String,
    #[serde(default)]
    septopics: Json,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    property: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    topi: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Rbe,
    RbeIgnoreFirst,
    Deadband,
    DeadbandEq,
    Narrowband,
    NarrowbandEq,
    /// A `func` Node-RED does not know: numbers are read but never pass.
    Other,
}

/// How far a value may move.
#[derive(Debug, Clone, Copy)]
enum Gap {
    Absolute(f64),
    /// Percent of the previous value.
    Percent(f64),
}

struct Rbe {
    mode: Mode,
    gap: Gap,
    /// Narrowband's first reference value; `None` takes the first value seen.
    start: Option<f64>,
    compare_to_input: bool,
    per_topic: bool,
    property: PropPath,
    topic: PropPath,
    previous: HashMap<String, Value>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config: Config = cx.config()?;
    let mode = match config.func.as_str() {
        "" | "rbe" => Mode::Rbe,
        "rbei" => Mode::RbeIgnoreFirst,
        "deadband" => Mode::Deadband,
        "deadbandEq" => Mode::DeadbandEq,
        "narrowband" => Mode::Narrowband,
        "narrowbandEq" => Mode::NarrowbandEq,
        _ => Mode::Other,
    };
    let gap_text = if config.gap.is_empty() || config.gap == "0" {
        "0"
    } else {
        config.gap.as_str()
    };
    let gap = if gap_text.ends_with('%') {
        Gap::Percent(ferrite_runtime::value::js_parse_float(gap_text))
    } else {
        Gap::Absolute(Value::String(gap_text.to_owned()).to_number())
    };
    let start = (!config.start.is_empty()).then(|| Value::String(config.start.clone()).to_number());
    let path = |field: &str, text: &str, default: &str| {
        let text = if text.is_empty() { default } else { text };
        PropPath::parse_msg(text).map_err(|e| ConfigError::field(field, e))
    };
    Ok(Box::new(Rbe {
        mode,
        gap,
        start,
        compare_to_input: config.inout == "in",
        per_topic: config.septopics != Json::Bool(false),
        property: path("property", &config.property, "payload")?,
        topic: path("topi", &config.topi, "topic")?,
        previous: HashMap::new(),
    }))
}

#[async_trait]
impl Node for Rbe {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        // Node-RED's node never calls done(): Complete nodes do not see its messages.
        cx.defer_done();
        let topic = msg.get_path(&self.topic);
        if msg.get("reset").is_some() {
            match topic {
                Some(Value::String(t)) if self.per_topic && !t.is_empty() => {
                    // Node-RED forgets `msg.topic` here, whatever `topi` names.
                    let key = msg
                        .get("topic")
                        .map_or_else(|| "undefined".to_owned(), Value::to_js_string);
                    self.previous.remove(&key);
                }
                _ => self.previous.clear(),
            }
        }
        let Some(value) = msg.get_path(&self.property) else {
            return Ok(());
        };
        let key = match topic {
            Some(t) if self.per_topic && t.is_truthy() => match t {
                Value::String(s) => s.clone(),
                other => other.to_js_string(),
            },
            _ => NO_TOPIC.to_owned(),
        };
        let send = match self.mode {
            Mode::Rbe | Mode::RbeIgnoreFirst => self.changed(key, value),
            _ => match value.parse_float() {
                Some(n) => self.in_band(key, n),
                _ => {
                    cx.warn(NO_NUMBER);
                    false
                }
            },
        };
        if send {
            cx.send(msg).await;
        }
        Ok(())
    }
}

impl Rbe {
    /// rbe / rbei: remembers `value` when it differs from the previous one; true when the
    /// message passes.
    fn changed(&mut self, key: String, value: &Value) -> bool {
        let seen = self.previous.contains_key(&key);
        let send = self.mode != Mode::RbeIgnoreFirst || seen;
        let is_object = matches!(
            value,
            Value::Null | Value::Object(_) | Value::Array(_) | Value::Bytes(_)
        );
        let previous = self.previous.entry(key).or_insert(Value::Null);
        if is_object
            && (!seen
                || !matches!(
                    previous,
                    Value::Null | Value::Object(_) | Value::Array(_) | Value::Bytes(_)
                ))
        {
            // Node-RED starts an object comparison from `{}`.
            *previous = Value::Object(ferrite_runtime::Map::new());
        } else if !is_object && !seen {
            // Nothing to compare with yet: no primitive equals `undefined`.
            *previous = value.clone();
            return send;
        }
        // Deep equality for objects, strict equality for primitives (NaN never equals).
        if *previous == *value {
            return false;
        }
        *previous = value.clone();
        send
    }

    /// The band modes: true when `n` passes.
    fn in_band(&mut self, key: String, n: f64) -> bool {
        let narrow = matches!(self.mode, Mode::Narrowband | Mode::NarrowbandEq);
        let mut previous = self.previous.get(&key).and_then(Value::as_f64);
        if previous.is_none() && narrow {
            previous = Some(self.start.unwrap_or(n));
        }
        let gap = match self.gap {
            Gap::Percent(g) => {
                let gap = (previous.unwrap_or(f64::NAN) * g / 100.0).abs();
                if gap.is_nan() { 0.0 } else { gap }
            }
            Gap::Absolute(g) => g,
        };
        let previous = previous.unwrap_or(n - gap - 1.0);
        let distance = (n - previous).abs();
        let pass = if distance == gap {
            matches!(self.mode, Mode::DeadbandEq | Mode::Narrowband)
        } else if distance > gap {
            matches!(self.mode, Mode::Deadband | Mode::DeadbandEq)
        } else if distance < gap {
            narrow
        } else {
            false
        };
        // "out" remembers what passed; "in" remembers every value.
        let remembered = if self.compare_to_input || pass {
            n
        } else {
            previous
        };
        self.previous.insert(key, Value::Float(remembered));
        pass
    }
}
