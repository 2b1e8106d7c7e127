//! `csv` — mirrors Node-RED `@node-red/nodes/core/parsers/70-CSV.js` (and, for RFC mode,
//! `parsers/lib/csv/index.js`).
//!
//! Config keys: `spec` (`"rfc"`: RFC 4180 mode, see [`rfc`]; anything else: legacy mode, see
//! [`legacy`]), `temp` (column names, comma-separated; legacy mode trims and unquotes them,
//! RFC mode parses them strictly), `sep` (separator, default `,`; `\t`, `\n`, `\r` escapes),
//! `ret` (line end of CSV output: default `\n` in legacy mode, `\r\n` in RFC mode; `\n` and
//! `\r` escapes), `hdrin` (the first line of the text names the columns), `hdrout` (`none`,
//! `all`, `once`: header line in CSV output; `false`/`true` mean none/all), `multi` (`one`: a
//! message per row with `parts`; anything else: one message with an array, and with
//! `mult` a sequence of one-line parts is gathered into one array), `skip` (lines to skip
//! at the start), `strings` (default true: turn numeric text into numbers),
//! `include_empty_strings`, `include_null_values`, `name`.
//!
//! Reads `msg.payload`, `msg.columns` (column names for object → CSV without a template),
//! `msg.parts` (a sequence of lines, as the split node makes), `msg.reset` (sends the
//! header again with `hdrout: once`; a message with only `reset` is not passed on).
//! Writes `msg.payload`, `msg.columns` and, per row, `msg.parts` `{id, index, count}` (or
//! the incoming parts, shifted by skipped and header lines) and `msg.complete` on the last
//! part of an incoming sequence. A message without payload passes through.
//!
//! Warnings: "No columns template specified for object -> CSV." (once), "Malformed CSV data -
//! output probably corrupt." (legacy, unbalanced quotes), "This node only handles CSV
//! strings or js objects." (legacy: a number or boolean payload; RFC mode fails the message
//! instead, catchably, with that text and a red status). RFC mode shows a red
//! "Malformed columns template." status (and warns) when `temp` does not parse, and then
//! ignores its input like Node-RED's node, which is left without an input handler; a
//! header row that does not parse fails the message with that status.
//!
//! Completion (Complete nodes) as in Node-RED: they get the input as the node left it (the
//! message sent when the node sends it on; with a message per row, the input itself, not a
//! row; a legacy-mode part gathered for later, with its rows as payload). Where Node-RED
//! returns without calling `done()` (RFC mode: every line skipped, or the node ignoring
//! input after a bad template) the message is never done.
//!
//! Both modes were checked against Node-RED's own code on thousands of generated configs
//! and messages (sent messages, errors and warnings agree). Known differences:
//! * legacy mode, text starting with the separator: Node-RED throws a TypeError (it reads
//!   the character before the first); here the first value is missing (null), as its code
//!   comment intends;
//! * RFC mode clears its status on the next message only when it showed one (Node-RED
//!   sends an empty status to status nodes on every message);
//! * JavaScript TypeErrors on odd input (`null` rows, `null` cells in legacy mode) fail the
//!   message with the same text, while a Buffer payload is written as an object of byte
//!   values, as in Node-RED.

mod legacy;
mod rfc;

use std::borrow::Cow;

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status, Value,
    async_trait,
};
use serde::Deserialize;
use serde_json::Value as Json;

pub const DEF: NodeDef = NodeDef {
    type_name: "csv",
    category: "parser",
    set_id: "node-red/CSV",
    role: Role::Plain,
    build: Build::Flow(build),
};

const BAD_TEMPLATE: &str = "Malformed columns template.";
const NOT_CSV: &str = "This node only handles CSV strings or js objects.";
const NO_TEMPLATE_WARNING: &str = "No columns template specified for object -> CSV.";
const BAD_CSV: &str = "Malformed CSV data - output probably corrupt.";

#[derive(Deserialize)]
struct Config {
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    spec: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    temp: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    sep: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    ret: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    multi: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::bool")]
    hdrin: bool,
    #[serde(default)]
    hdrout: Json,
    #[serde(default)]
    skip: Json,
    strings: Option<Json>,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::bool")]
    include_empty_strings: bool,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::bool")]
    include_null_values: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum HeaderOut {
    None,
    All,
    Once,
    /// A value Node-RED does not name: legacy mode sends headers always, RFC mode never.
    Other,
}

/// The configuration, as the node uses it.
struct Settings {
    rfc: bool,
    template_text: String,
    sep: String,
    /// The separator when it is one character; a longer one never matches while parsing.
    sep_char: Option<char>,
    ret: String,
    /// `multi` is not `one`: rows go out as one array.
    multi_array: bool,
    /// `multi` is `mult`.
    multi_mult: bool,
    hdrin: bool,
    hdrout: HeaderOut,
    skip: f64,
    parse_numbers: bool,
    include_empty: bool,
    include_null: bool,
}

/// Legacy-mode template state (it changes as messages arrive).
struct LegacyState {
    template: Vec<String>,
    good_template: bool,
    /// `temp` was empty at deploy.
    no_template: bool,
    /// The separator `clean` splits at when not given one (Node-RED keeps it in a shared
    /// regular expression that the last call with a separator set).
    split_sep: String,
}

/// RFC-mode template state.
struct RfcState {
    /// `temp` parsed at deploy; `None` when it does not parse (the node then ignores input).
    configured: Option<Vec<rfc::Cell>>,
    template: Vec<rfc::Cell>,
    no_template: bool,
    /// A status is showing, to clear on the next message.
    status_shown: bool,
}

struct Csv {
    settings: Settings,
    legacy: LegacyState,
    rfc: RfcState,
    /// `hdrout: once` sent its header (until `msg.reset`).
    hdr_sent: bool,
    /// Rows gathered from a sequence of parts (`multi` not `one`).
    store: Vec<Value>,
    /// The "no template" warning has not been given yet.
    warn_once: bool,
}

/// `sep`/`ret` as the editor stores them: `\t`, `\n`, `\r` written out.
fn unescape(text: &str, tabs: bool) -> String {
    let mut out = text.replace("\\n", "\n").replace("\\r", "\r");
    if tabs {
        out = out.replace("\\t", "\t");
    }
    out
}

/// `parseInt(n.skip || 0)`; NaN counts as 0.
fn parse_skip(value: &Json) -> f64 {
    let text = match value {
        Json::Number(n) => return n.as_f64().map_or(0.0, f64::trunc),
        Json::String(s) => js_trim(s),
        _ => return 0.0,
    };
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    let end = digits.bytes().take_while(u8::is_ascii_digit).count();
    digits[..end].parse::<f64>().map_or(0.0, |n| sign * n)
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config: Config = cx.config()?;
    let rfc = config.spec == "rfc";
    let sep = if config.sep.is_empty() {
        ",".to_owned()
    } else {
        unescape(&config.sep, true)
    };
    let mut chars = sep.chars();
    let sep_char = match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    };
    let ret = match (config.ret.is_empty(), rfc) {
        (true, true) => "\r\n".to_owned(),
        (true, false) => "\n".to_owned(),
        (false, _) => unescape(&config.ret, false),
    };
    let multi = if config.multi.is_empty() {
        "one"
    } else {
        config.multi.as_str()
    };
    let hdrout = match &config.hdrout {
        Json::Bool(true) => HeaderOut::All,
        Json::String(s) if s == "all" => HeaderOut::All,
        Json::String(s) if s == "once" => HeaderOut::Once,
        Json::String(s) if s == "none" || s.is_empty() => HeaderOut::None,
        Json::Null | Json::Bool(false) => HeaderOut::None,
        Json::Number(n) if n.as_f64() == Some(0.0) => HeaderOut::None,
        _ => HeaderOut::Other,
    };
    let settings = Settings {
        rfc,
        template_text: config.temp,
        sep,
        sep_char,
        ret,
        multi_array: multi != "one",
        multi_mult: multi == "mult",
        hdrin: config.hdrin,
        hdrout,
        skip: parse_skip(&config.skip),
        // Only a real `true` (or its text) counts, as Node-RED compares with `=== true`.
        parse_numbers: match &config.strings {
            None => true,
            Some(Json::Bool(b)) => *b,
            Some(Json::String(s)) => s == "true",
            Some(_) => false,
        },
        include_empty: config.include_empty_strings,
        include_null: config.include_null_values,
    };
    let configured = rfc::columns_to_template(&settings.template_text, Some(','))
        .ok()
        .map(|t| t.unwrap_or_else(rfc::no_template));
    let mut node = Csv {
        legacy: LegacyState {
            template: Vec::new(),
            good_template: true,
            no_template: true,
            split_sep: ",".to_owned(),
        },
        rfc: RfcState {
            template: configured.clone().unwrap_or_else(rfc::no_template),
            no_template: configured.as_deref().is_none_or(|t| !rfc::has_template(t)),
            configured,
            status_shown: false,
        },
        settings,
        hdr_sent: false,
        store: Vec::new(),
        warn_once: true,
    };
    let text = node.settings.template_text.clone();
    node.legacy.template = node.clean(&text, Some(","));
    node.legacy.no_template = node.legacy.template.len() == 1 && node.legacy.template[0].is_empty();
    Ok(Box::new(node))
}

#[async_trait]
impl Node for Csv {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if self.settings.rfc && self.rfc.configured.is_none() {
            cx.warn(BAD_TEMPLATE);
            cx.status(Status::dot("red", BAD_TEMPLATE)).await;
        }
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if !self.settings.rfc {
            self.legacy_input(msg, cx).await
        } else if self.rfc.configured.is_some() {
            self.rfc_input(msg, cx).await
        } else {
            // Node-RED's node has no input handler then: the message is never done.
            cx.defer_done();
            Ok(())
        }
    }
}

/// What kind of payload a message carries, by JavaScript's `typeof`.
enum PayloadKind {
    Missing,
    Text,
    /// Objects, arrays, Buffers and null: turned into CSV.
    Object,
    /// Numbers and booleans.
    Other,
}

impl PayloadKind {
    fn of(msg: &Msg) -> Self {
        match msg.payload() {
            None => Self::Missing,
            Some(Value::String(_)) => Self::Text,
            Some(v) if is_object(v) => Self::Object,
            Some(_) => Self::Other,
        }
    }
}

/// What the node needs of an incoming `msg.parts`. Non-numeric values are NaN, so that
/// comparisons fail as they do with `undefined` in JavaScript.
struct Parts {
    present: bool,
    index: f64,
    count: f64,
    /// The last part of its sequence.
    last: bool,
}

impl Parts {
    fn read(msg: &Msg) -> Result<Self, String> {
        let Some(parts) = msg.get("parts") else {
            return Ok(Self {
                present: false,
                index: f64::NAN,
                count: f64::NAN,
                last: false,
            });
        };
        if parts.is_null() {
            return Err(type_error("index"));
        }
        let number = |key: &str| match parts.as_object().and_then(|p| p.get(key)) {
            Some(v) => v.as_f64().unwrap_or(f64::NAN),
            None => f64::NAN,
        };
        let (index, count) = (number("index"), number("count"));
        let has_count = parts.as_object().is_some_and(|p| p.contains_key("count"));
        Ok(Self {
            present: true,
            index,
            count,
            last: has_count && index + 1.0 >= count,
        })
    }
}

/// Parsed rows ready to go out.
struct RowsOut {
    rows: Vec<Value>,
    columns: String,
    /// Legacy mode gathers only a row still open at the end of a part (`Some(open)`); RFC
    /// mode gathers every row (`None`).
    store_last_only: Option<bool>,
    /// Line breaks in the (unskipped) text.
    line_breaks: usize,
}

impl Csv {
    /// Sends parsed rows: one message per row with `parts`, or one array, or (parts of a
    /// sequence of single lines) gathers them until the last part.
    async fn emit_rows(&mut self, mut msg: Msg, out: RowsOut, parts: &Parts, cx: &mut NodeCtx) {
        let RowsOut {
            mut rows,
            columns,
            store_last_only,
            line_breaks,
        } = out;
        if self.settings.multi_array {
            if parts.present && line_breaks <= 1 {
                // Legacy mode sets the part's rows as its payload even when it sends nothing:
                // what Complete nodes then get.
                let legacy_rows = match store_last_only {
                    Some(_) if parts.index + 1.0 != parts.count => Some(rows.clone()),
                    _ => None,
                };
                match store_last_only {
                    Some(true) => self.store.extend(rows.pop()),
                    Some(false) => {}
                    None => self.store.append(&mut rows),
                }
                if parts.index + 1.0 == parts.count {
                    msg.insert("payload", Value::Array(std::mem::take(&mut self.store)));
                    msg.insert("columns", columns);
                    msg.remove("parts");
                    cx.send(msg).await;
                } else if let Some(rows) = legacy_rows {
                    cx.defer_done();
                    msg.insert("payload", Value::Array(rows));
                    cx.done(&msg).await;
                }
            } else {
                msg.insert("payload", Value::Array(rows));
                msg.insert("columns", columns);
                cx.send(msg).await;
            }
            return;
        }

        let count = rows.len();
        let msgid = msg.get("_msgid").cloned().unwrap_or_default();
        // Each row message copies the incoming one, without its text (a placeholder keeps
        // the key's place). The input stays as it is: Complete nodes get it, not a row.
        let mut base = Map::with_capacity(msg.map().len() + 1);
        for (key, value) in msg.map() {
            let value = if key == "payload" {
                Value::Null
            } else {
                value.clone()
            };
            base.insert(key.clone(), value);
        }
        base.insert("columns".to_owned(), Value::String(columns));
        let mut base = Msg::from_map(base);
        let shift = self.settings.skip + if self.settings.hdrin { 1.0 } else { 0.0 };
        let mut rows = rows.into_iter().enumerate().peekable();
        while let Some((index, row)) = rows.next() {
            let mut out = if rows.peek().is_some() {
                base.clone()
            } else {
                std::mem::take(&mut base)
            };
            out.insert("payload", row);
            if !parts.present {
                let mut new_parts = Map::with_capacity(3);
                new_parts.insert("id".to_owned(), msgid.clone());
                new_parts.insert("index".to_owned(), Value::from(index));
                new_parts.insert("count".to_owned(), Value::from(count));
                out.insert("parts", Value::Object(new_parts));
            } else if let Some(Value::Object(existing)) = out.map_mut().get_mut("parts") {
                for key in ["index", "count"] {
                    let n = existing.get(key).map_or(f64::NAN, Value::to_number);
                    existing.insert(key.to_owned(), Value::js_number(n - shift));
                }
            }
            if parts.last {
                out.insert("complete", true);
            }
            cx.send(out).await;
        }
        if parts.present && parts.last && count == 0 {
            let mut done = Map::with_capacity(1);
            done.insert("complete".to_owned(), Value::Bool(true));
            cx.send(Msg::from_map(done)).await;
        }
        cx.defer_done();
        cx.done(&msg).await;
    }
}

// ---------------------------------------------------------------------------------------
// JavaScript value helpers shared by both modes.

/// `typeof v === "object"`: objects, arrays, Buffers and null.
fn is_object(v: &Value) -> bool {
    matches!(
        v,
        Value::Object(_) | Value::Array(_) | Value::Bytes(_) | Value::Null
    )
}

/// The TypeError JavaScript throws reading a property of null.
fn type_error(property: &str) -> String {
    format!("Cannot read properties of null (reading '{property}')")
}

pub(crate) use ferrite_runtime::value::js_trim;

/// `RED.util.ensureString`: Buffers decoded, objects (and null) as JSON, the rest as text.
fn ensure_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bytes(_) | Value::Bool(_) | Value::Int(_) | Value::Float(_) => v.to_js_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => v.to_json_string(),
    }
}

/// A canonical array index (`"0"`, `"17"`), which JavaScript lists before other keys.
fn index_key(key: &str) -> Option<usize> {
    ferrite_runtime::value::array_index_key(key).and_then(|i| usize::try_from(i).ok())
}

/// An object's keys in JavaScript's order: integer keys ascending, then insertion order.
fn js_keys(map: &Map) -> Vec<String> {
    ferrite_runtime::value::js_entries(map)
        .map(|(key, _)| key.clone())
        .collect()
}

fn indices(len: usize) -> Vec<String> {
    (0..len).map(|i| i.to_string()).collect()
}

/// `for (key in v)` over own keys: nothing for null and plain values.
fn for_in_keys(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Object(map)) => js_keys(map),
        Some(Value::Array(items)) => indices(items.len()),
        Some(Value::Bytes(bytes)) => indices(bytes.len()),
        Some(Value::String(s)) => indices(s.chars().count()),
        _ => Vec::new(),
    }
}

/// `Object.keys(v)`; null and undefined throw.
fn object_keys(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Err("Cannot convert undefined or null to object".to_owned()),
        some => Ok(for_in_keys(some)),
    }
}

/// `v[key]`: `None` for undefined; reading from null throws.
fn property<'a>(v: &'a Value, key: &str) -> Result<Option<Cow<'a, Value>>, String> {
    Ok(match v {
        Value::Null => return Err(type_error(key)),
        Value::Object(map) => map.get(key).map(Cow::Borrowed),
        Value::Array(items) => match key {
            "length" => Some(Cow::Owned(Value::from(items.len()))),
            _ => index_key(key).and_then(|i| items.get(i)).map(Cow::Borrowed),
        },
        Value::Bytes(bytes) => index_key(key)
            .and_then(|i| bytes.get(i))
            .map(|b| Cow::Owned(Value::Int(i64::from(*b)))),
        Value::String(s) => match key {
            "length" => Some(Cow::Owned(Value::from(s.encode_utf16().count()))),
            _ => index_key(key)
                .and_then(|i| s.chars().nth(i))
                .map(|c| Cow::Owned(Value::String(c.to_string()))),
        },
        _ => None,
    })
}
