//! `json-build` — Ferrite's own node (no Node-RED core counterpart): builds the payload
//! telemetry backends expect from PLC readings, with a timestamp, a device id, a location
//! and values, or the cellular loggers' Modbus format.
//!
//! Config:
//! * `layout` — `custom` (default) or `modb`.
//! * Every field below is a typed input, `<key>` plus `<key>Type`: `str`, `num`, `bool`,
//!   `json`, `msg`, `flow`, `global`, `env`, `jsonata` (the runtime's typed inputs), or
//!   `jsonpath`: a JSONPath into the whole message (`$` is the msg, e.g.
//!   `$.payload.registers[3]`), compiled at deploy. One match gives that value, several give
//!   an array of them.
//! * `ts` / `tsType` — where the time is read (`msg` or `jsonpath`; a number of ms since the
//!   epoch or an ISO 8601 / RFC 3339 text with an offset). Empty `ts` (default): now.
//! * `tsFormat` — `iso` (UTC, `2026-11-22T18:00:00.000Z`), `iso-local` (local offset,
//!   `2026-11-22T19:00:00.000+01:00`), `unix` (whole seconds), `unix-ms` (whole ms),
//!   `strftime` (chrono pattern `tsPattern`, local time, checked at deploy) or `none`
//!   (no timestamp). Empty: `iso` for `custom`, `unix` for `modb`.
//! * `device` / `deviceType` (default `str`) — the device id, e.g. `env` `IMEI`.
//! * `custom` layout: `location` / `locationType`; `values` — `[{key, value, valueType,
//!   hex}]`, emitted in order; `tsKey` (`timestamp`), `deviceKey` (`device`), `locationKey`
//!   (`location`) — an empty key omits that field; `valuesKey` (`values`) — the object
//!   holding the values, empty to put them at the top level. Duplicate keys are deploy errors.
//! * `modb` layout, keys in this order: `IMEI` (device), `TYPE` (`"MODB"`), `TS`, `ID`
//!   (`unitId`, default num 1), `A` (`address`, default str ""), `ST` (`start`, default
//!   num 0), `N` (`count`; when empty, the length of `V`), `V` (`registers`, default msg
//!   `payload`), `P` (`fc`, default num 3). When `start` evaluates to an array the
//!   registers are non-consecutive blocks: `STX` (the starts), `NX` (`count` as an array,
//!   or the block lengths when `registers` is an array of arrays), `V` (flattened in block
//!   order), `PX` (`fc` per block; a single value is repeated). STX, NX and PX must have
//!   the same length and NX must add up to the length of V. No public spec of this format
//!   was found; this is our reading of it.
//! * `hex` — hex-encode every string the node emits (UTF-8 bytes, `"abc"` → `"616263"`,
//!   the SCADA drivers' `|HEX` convention), also inside arrays and objects, except the
//!   timestamp and `TYPE` (numbers, booleans and buffers stay). A value's own `hex` encodes
//!   that value only.
//! * `property` — where the result goes (default `payload`); `output` — `object` (default)
//!   or `string` (its JSON text).
//! * `name`.
//!
//! Reads what the fields name; writes `msg.<property>`, the rest of the message passes on.
//! `${VAR}` is replaced in every config text, also inside a longer text (`plant-${SITE}`),
//! except in JSONata expressions. A JSONPath without
//! a match, a field that is undefined (a missing msg property or context key), an
//! unparseable message time or inconsistent register blocks are errors for that message
//! (Catch nodes get them) and nothing is sent. Bad JSONPaths, JSONata, strftime patterns or
//! keys are deploy errors naming the field. No status.

mod modb;
mod source;
mod timestamp;

use std::collections::HashSet;

use chrono::Utc;
use ferrite_runtime::loose::json_bool;
use ferrite_runtime::path::PropPath;
use ferrite_runtime::typed::{Eval, json_text};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::Value as Json;

use source::{Scope, Source};
use timestamp::{TsFormat, parse_time};

pub const DEF: NodeDef = NodeDef {
    type_name: "json-build",
    category: "industrial",
    set_id: "ferrite/json-build",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct JsonBuild {
    layout: Layout,
    ts_format: TsFormat,
    /// Where the time is read; `None`: now.
    ts_source: Option<Source>,
    hex: bool,
    property: PropPath,
    as_string: bool,
}

enum Layout {
    Custom(Custom),
    Modb(Box<Modb>),
}

struct Custom {
    ts_key: Option<String>,
    /// Device, location: each omitted when its key is empty.
    head: Vec<Entry>,
    /// `None`: the values sit at the top level.
    values_key: Option<String>,
    values: Vec<Entry>,
}

struct Entry {
    key: String,
    source: Source,
    hex: bool,
}

struct Modb {
    device: Source,
    unit_id: Source,
    address: Source,
    start: Source,
    count: Option<Source>,
    registers: Source,
    fc: Source,
}

/// The config with `${VAR}` replaced inside every text, not only in texts that are one whole
/// reference (which the engine already replaced, as Node-RED does): a key `plant-${SITE}`
/// or a device `${SITE}-${LINE}` is what gateway configurations are made of. JSONata
/// expressions are left alone: `$` is theirs.
fn with_env_references(
    config: &serde_json::Map<String, Json>,
    env: &ferrite_runtime::env::Env,
) -> serde_json::Map<String, Json> {
    fn walk(value: &mut Json, env: &ferrite_runtime::env::Env) {
        match value {
            Json::String(s) if s.contains("${") => *s = env.interpolate(s),
            Json::Array(items) => items.iter_mut().for_each(|v| walk(v, env)),
            Json::Object(map) => walk_map(map, env),
            _ => {}
        }
    }
    fn walk_map(map: &mut serde_json::Map<String, Json>, env: &ferrite_runtime::env::Env) {
        let expressions: Vec<String> = map
            .iter()
            .filter(|(_, t)| t.as_str() == Some("jsonata"))
            .filter_map(|(k, _)| k.strip_suffix("Type").map(str::to_owned))
            .collect();
        for (key, value) in map.iter_mut() {
            if !expressions.iter().any(|e| e == key) {
                walk(value, env);
            }
        }
    }
    let mut config = config.clone();
    walk_map(&mut config, env);
    config
}

/// Reads config text (a `${VAR}` may have become a number), `default` when missing.
fn text(config: &serde_json::Map<String, Json>, key: &str, default: &str) -> String {
    config
        .get(key)
        .map_or_else(|| default.to_owned(), json_text)
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = &with_env_references(cx.raw(), cx.env());
    let eval = Eval {
        msg: None,
        env: cx.env(),
        context: None,
    };
    let source = |key: &str, default: &str, default_type: &str| {
        let value = config
            .get(key)
            .cloned()
            .unwrap_or_else(|| Json::String(default.to_owned()));
        let vt = text(config, &format!("{key}Type"), default_type);
        Source::compile(key, &vt, &value, eval)
    };
    let hex = config.get("hex").is_some_and(json_bool);

    let (layout, default_format) = match text(config, "layout", "custom").as_str() {
        "" | "custom" => (
            Layout::Custom(build_custom(config, hex, eval)?),
            TsFormat::Iso,
        ),
        "modb" => {
            let count = if text(config, "count", "").is_empty() {
                None
            } else {
                Some(source("count", "", "num")?)
            };
            let modb = Modb {
                device: source("device", "", "str")?,
                unit_id: source("unitId", "1", "num")?,
                address: source("address", "", "str")?,
                start: source("start", "0", "num")?,
                count,
                registers: source("registers", "payload", "msg")?,
                fc: source("fc", "3", "num")?,
            };
            (Layout::Modb(Box::new(modb)), TsFormat::Unix)
        }
        other => {
            return Err(ConfigError::field(
                "layout",
                format!("unknown layout '{other}' (custom, modb)"),
            ));
        }
    };
    let ts_format = TsFormat::parse(
        &text(config, "tsFormat", ""),
        &text(config, "tsPattern", ""),
        default_format,
    )?;
    let ts_source = if text(config, "ts", "").is_empty() {
        None
    } else {
        Some(source("ts", "", "msg")?)
    };
    let property = match text(config, "property", "payload") {
        p if p.is_empty() => "payload".to_owned(),
        p => p,
    };
    let property = PropPath::parse_msg(&property).map_err(|e| ConfigError::field("property", e))?;
    let as_string = match text(config, "output", "object").as_str() {
        "" | "object" => false,
        "string" => true,
        other => {
            return Err(ConfigError::field(
                "output",
                format!("unknown output '{other}' (object, string)"),
            ));
        }
    };
    Ok(Box::new(JsonBuild {
        layout,
        ts_format,
        ts_source,
        hex,
        property,
        as_string,
    }))
}

fn build_custom(
    config: &serde_json::Map<String, Json>,
    hex: bool,
    eval: Eval<'_>,
) -> Result<Custom, ConfigError> {
    // Every key the top level gets.
    let mut top = HashSet::new();
    let key =
        |name: &str, default: &str| Some(text(config, name, default)).filter(|k| !k.is_empty());
    let ts_key = key("tsKey", "timestamp");
    if let Some(k) = &ts_key {
        claim("tsKey", k, &mut top)?;
    }
    let mut head = Vec::new();
    for (field, key_name, default_key) in [
        ("device", "deviceKey", "device"),
        ("location", "locationKey", "location"),
    ] {
        let Some(k) = key(key_name, default_key) else {
            continue;
        };
        claim(key_name, &k, &mut top)?;
        let value = config
            .get(field)
            .cloned()
            .unwrap_or_else(|| Json::String(String::new()));
        let vt = text(config, &format!("{field}Type"), "str");
        head.push(Entry {
            key: k,
            source: Source::compile(field, &vt, &value, eval)?,
            hex,
        });
    }
    let values_key = key("valuesKey", "values");
    let mut inner = HashSet::new();
    let value_keys = match &values_key {
        Some(k) => {
            claim("valuesKey", k, &mut top)?;
            &mut inner
        }
        None => &mut top,
    };
    let rows = match config.get("values") {
        None | Some(Json::Null) => &[][..],
        Some(Json::Array(rows)) => rows.as_slice(),
        Some(_) => return Err(ConfigError::field("values", "must be an array")),
    };
    let mut values = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let field = |name: &str| format!("values[{i}].{name}");
        let row = row
            .as_object()
            .ok_or_else(|| ConfigError::field(format!("values[{i}]"), "must be an object"))?;
        let k = row.get("key").map(json_text).unwrap_or_default();
        if k.is_empty() {
            return Err(ConfigError::field(field("key"), "a key is required"));
        }
        claim(&field("key"), &k, value_keys)?;
        let value = row
            .get("value")
            .cloned()
            .unwrap_or_else(|| Json::String(String::new()));
        let vt = row.get("valueType").map(json_text).unwrap_or_default();
        values.push(Entry {
            key: k,
            source: Source::compile(field("value"), &vt, &value, eval)?,
            hex: hex || row.get("hex").is_some_and(json_bool),
        });
    }
    Ok(Custom {
        ts_key,
        head,
        values_key,
        values,
    })
}

/// Takes `key` in `set`: two fields may not write one key, as one would replace the other.
fn claim(field: &str, key: &str, set: &mut HashSet<String>) -> Result<(), ConfigError> {
    if set.insert(key.to_owned()) {
        Ok(())
    } else {
        Err(ConfigError::field(field, format!("duplicate key '{key}'")))
    }
}

/// The SCADA drivers' `|HEX`: each string becomes the hex digits of its UTF-8 bytes.
fn hex_strings(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(crate::hex::encode(s.as_bytes())),
        Value::Array(items) => Value::Array(items.into_iter().map(hex_strings).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, hex_strings(v))).collect())
        }
        other => other,
    }
}

fn hex_if(hex: bool, value: Value) -> Value {
    if hex { hex_strings(value) } else { value }
}

impl JsonBuild {
    fn timestamp(&self, scope: &Scope<'_>) -> Result<Option<Value>, String> {
        if matches!(self.ts_format, TsFormat::None) {
            return Ok(None);
        }
        let time = match &self.ts_source {
            Some(source) => {
                parse_time(&source.eval(scope)?).map_err(|e| format!("{}: {e}", source.field()))?
            }
            None => Utc::now(),
        };
        self.ts_format.render(time)
    }

    fn build_object(&self, scope: &Scope<'_>) -> Result<Map, String> {
        let ts = self.timestamp(scope)?;
        match &self.layout {
            Layout::Custom(custom) => {
                let mut out = Map::new();
                if let (Some(key), Some(ts)) = (&custom.ts_key, ts) {
                    out.insert(key.clone(), ts);
                }
                for entry in &custom.head {
                    out.insert(
                        entry.key.clone(),
                        hex_if(entry.hex, entry.source.eval(scope)?),
                    );
                }
                let mut values = Map::with_capacity(custom.values.len());
                let target = if custom.values_key.is_some() {
                    &mut values
                } else {
                    &mut out
                };
                for entry in &custom.values {
                    target.insert(
                        entry.key.clone(),
                        hex_if(entry.hex, entry.source.eval(scope)?),
                    );
                }
                if let Some(key) = &custom.values_key {
                    out.insert(key.clone(), Value::Object(values));
                }
                Ok(out)
            }
            Layout::Modb(m) => {
                let hex = |v| hex_if(self.hex, v);
                let mut out = Map::with_capacity(9);
                out.insert("IMEI".to_owned(), hex(m.device.eval(scope)?));
                out.insert("TYPE".to_owned(), Value::from("MODB"));
                if let Some(ts) = ts {
                    out.insert("TS".to_owned(), ts);
                }
                out.insert("ID".to_owned(), hex(m.unit_id.eval(scope)?));
                out.insert("A".to_owned(), hex(m.address.eval(scope)?));
                let count = m.count.as_ref().map(|c| c.eval(scope)).transpose()?;
                let fields = modb::register_fields(
                    m.start.eval(scope)?,
                    count,
                    m.registers.eval(scope)?,
                    m.fc.eval(scope)?,
                )?;
                for (key, value) in fields {
                    out.insert(key.to_owned(), hex(value));
                }
                Ok(out)
            }
        }
    }
}

#[async_trait]
impl Node for JsonBuild {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let built = self.build_object(&Scope::new(cx, &msg));
        let object = match built {
            Ok(object) => Value::Object(object),
            Err(e) => return Err(NodeError::new(e).for_msg(msg)),
        };
        let output = if self.as_string {
            Value::String(object.to_json_string())
        } else {
            object
        };
        if let Err(e) = msg.set_path(&self.property, output) {
            return Err(NodeError::new(e.to_string()).for_msg(msg));
        }
        cx.send(msg).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_encodes_strings_at_any_depth_and_leaves_other_values() {
        let value = Value::from(serde_json::json!({"a": "abc", "b": [1, "é", true], "c": null}));
        assert_eq!(
            hex_strings(value).to_json(),
            serde_json::json!({"a": "616263", "b": [1, "c3a9", true], "c": null})
        );
    }
}
