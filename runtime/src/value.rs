//! Node-RED message values.
//!
//! A [`Value`] is what a JavaScript message property can hold once functions
//! and `undefined` are ruled out. Every conversion and comparison here follows
//! JavaScript semantics, because flows written for Node-RED observe them:
//! `JSON.stringify` output, `String(v)`, `Number(v)`, truthiness.

use std::fmt::Write as _;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// An object's properties, in insertion order.
pub type Map = indexmap::IndexMap<String, Value>;

/// 2^53: every integer of smaller magnitude is exactly representable as an f64,
/// so floats in this range may be shown, and stored, as integers without loss.
const MAX_SAFE_F64: f64 = 9_007_199_254_740_992.0;

/// 2^63 as an f64: the exclusive upper bound of floats that convert to `i64`.
const I64_BOUND_F64: f64 = 9_223_372_036_854_775_808.0;

/// `JSON.stringify` clamps its `space` argument to ten.
const MAX_JSON_INDENT: usize = 10;

/// A message value with JavaScript semantics.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// JavaScript `null`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A number that is an integer; kept apart from [`Value::Float`] so that
    /// integer arithmetic and formatting stay exact beyond 2^53.
    Int(i64),
    /// Any other number, including NaN and the infinities.
    Float(f64),
    /// A string.
    String(String),
    /// A Node.js `Buffer`.
    Bytes(bytes::Bytes),
    /// An array.
    Array(Vec<Value>),
    /// A plain object.
    Object(Map),
}

impl PartialEq for Value {
    /// Strict equality for primitives, with numbers compared by value across
    /// [`Value::Int`] and [`Value::Float`] (so NaN is unequal to itself and
    /// `0 == -0`), and deep equality for buffers, arrays and objects; object
    /// key order is irrelevant.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => {
                float_to_i64(*f) == Some(*i)
            }
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            // IndexMap equality ignores order, as wanted.
            (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

/// The integer `f` is exactly, if it is one that fits an `i64`.
///
/// Checking exactness rather than comparing `i as f64 == f` keeps equality
/// transitive for integers beyond 2^53, which an f64 cannot tell apart.
fn float_to_i64(f: f64) -> Option<i64> {
    // `fract` is NaN for the infinities and NaN, so they fail the first test.
    if f.fract() == 0.0 && (-I64_BOUND_F64..I64_BOUND_F64).contains(&f) {
        #[allow(clippy::cast_possible_truncation)] // integral and in range: exact
        Some(f as i64)
    } else {
        None
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Self {
        // Beyond i64 only a float can hold it, as in JavaScript.
        i64::try_from(n).map_or(Value::Float(n as f64), Value::Int)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bytes::Bytes> for Value {
    fn from(b: bytes::Bytes) -> Self {
        Value::Bytes(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Self {
        Value::Object(map)
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        Value::from_json(json)
    }
}

impl From<&Value> for serde_json::Value {
    fn from(value: &Value) -> Self {
        value.to_json()
    }
}

impl Value {
    /// Converts parsed JSON, as `JSON.parse` would produce it.
    ///
    /// Integers that fit an `i64` become [`Value::Int`], other numbers
    /// [`Value::Float`]. An object shaped like a serialised Buffer stays an
    /// object: `JSON.parse` does not revive Buffers either.
    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.as_f64().map_or(Value::Null, Value::Float),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON with the result `JSON.parse(JSON.stringify(v))` would
    /// have: a Buffer becomes `{"type":"Buffer","data":[..]}`, NaN and the
    /// infinities become null, integral floats within ±2^53 become integers,
    /// and integer-like object keys come first, as JavaScript orders them.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => match safe_integer(*f) {
                Some(i) => serde_json::Value::from(i),
                None => serde_json::Number::from_f64(*f)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
            },
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Bytes(b) => {
                let mut map = serde_json::Map::with_capacity(2);
                map.insert("type".to_owned(), "Buffer".into());
                map.insert(
                    "data".to_owned(),
                    b.iter()
                        .map(|&byte| serde_json::Value::from(byte))
                        .collect(),
                );
                serde_json::Value::Object(map)
            }
            Value::Array(items) => items.iter().map(Value::to_json).collect(),
            Value::Object(map) => serde_json::Value::Object(
                js_entries(map)
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// `JSON.stringify(v)`, character for character.
    pub fn to_json_string(&self) -> String {
        let mut writer = JsonWriter::new("");
        writer.value(self);
        writer.out
    }

    /// `JSON.stringify(v, null, indent)`, character for character.
    ///
    /// As in JavaScript, an indent above ten is treated as ten and an indent
    /// of zero gives the compact form.
    pub fn to_json_pretty(&self, indent: usize) -> String {
        let gap = " ".repeat(indent.min(MAX_JSON_INDENT));
        let mut writer = JsonWriter::new(&gap);
        writer.value(self);
        writer.out
    }

    /// The type name Node-RED shows for a message value: `"null"`,
    /// `"boolean"`, `"number"`, `"string"`, `"buffer"`, `"array"` or
    /// `"object"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Bytes(_) => "buffer",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss)] // JavaScript numbers are f64
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The number, if this is a number with an exact `i64` value; an
    /// integral float counts, since JavaScript does not tell them apart.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) => float_to_i64(*f),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The properties, if this is an object.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// The properties, mutably, if this is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The elements, mutably, if this is an array.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// JavaScript truthiness: `false`, `0`, NaN, `""` and `null` are falsy;
    /// everything else, including empty arrays, objects and buffers, is
    /// truthy.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => !(*f == 0.0 || f.is_nan()),
            Value::String(s) => !s.is_empty(),
            Value::Bytes(_) | Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// JavaScript `String(v)`.
    ///
    /// Arrays join their elements' strings with `,` (null elements give the
    /// empty string), objects give `[object Object]`, and a Buffer gives its
    /// bytes decoded as UTF-8 with invalid sequences replaced, like
    /// `Buffer.toString()`.
    pub fn to_js_string(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_number(*f),
            Value::String(s) => s.clone(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Array(items) => {
                let mut out = String::new();
                push_joined(&mut out, items);
                out
            }
            Value::Object(_) => "[object Object]".to_owned(),
        }
    }

    /// JavaScript `Number(v)`.
    ///
    /// Strings are trimmed of JavaScript white space; the empty string is 0;
    /// `0x`, `0o` and `0b` prefixes, `Infinity` and decimal literals are
    /// understood and anything else is NaN. Like JavaScript, arrays and
    /// Buffers convert through their string form, so `[]` is 0, `["5"]` is 5
    /// and `[1,2]` is NaN; objects are NaN.
    /// `parseFloat(value)`: numbers as they are, anything else through `String(value)`;
    /// `None` where JavaScript gives NaN.
    pub fn parse_float(&self) -> Option<f64> {
        let f = match self {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::String(s) => js_parse_float(s),
            other => js_parse_float(&other.to_js_string()),
        };
        (!f.is_nan()).then_some(f)
    }

    pub fn to_number(&self) -> f64 {
        match self {
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            #[allow(clippy::cast_precision_loss)] // JavaScript numbers are f64
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::String(s) => string_to_number(s),
            Value::Bytes(b) => string_to_number(&String::from_utf8_lossy(b)),
            Value::Array(_) => string_to_number(&self.to_js_string()),
            Value::Object(_) => f64::NAN,
        }
    }

    /// The value for a JavaScript number: [`Value::Int`] when `f` is
    /// integral with magnitude at most 2^53 and is not -0, else
    /// [`Value::Float`].
    pub fn js_number(f: f64) -> Value {
        match safe_integer(f) {
            Some(i) if !(i == 0 && f.is_sign_negative()) => Value::Int(i),
            _ => Value::Float(f),
        }
    }
}

/// The integer `f` is, when it is integral with magnitude at most 2^53
/// (-0 gives 0).
fn safe_integer(f: f64) -> Option<i64> {
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_F64 {
        #[allow(clippy::cast_possible_truncation)] // integral and in range: exact
        Some(f as i64)
    } else {
        None
    }
}

/// JavaScript's `Number.prototype.toString()` for `f`: shortest round-trip
/// digits, no `.0` on integers, exponent form from 1e21 and below 1e-6,
/// `NaN`, `Infinity` and `-Infinity`.
pub fn format_number(f: f64) -> String {
    ryu_js::Buffer::new().format(f).to_owned()
}

/// Appends `Array.prototype.join(",")` of `items`, which is what `String`
/// gives for an array: null elements are empty and nested arrays flatten.
fn push_joined(out: &mut String, items: &[Value]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Null => {}
            Value::Array(inner) => push_joined(out, inner),
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_js_string()),
        }
    }
}

/// JavaScript's `parseFloat(text)`: the longest decimal literal at the start (after white
/// space), `Infinity` included; NaN when there is none.
pub fn js_parse_float(text: &str) -> f64 {
    let t = text.trim_start_matches(is_js_whitespace);
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    if t[i..].starts_with("Infinity") {
        return if b.first() == Some(&b'-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let digits = |mut j: usize| {
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let int_end = digits(i);
    let mut end = int_end;
    let mut any_digit = int_end > i;
    if b.get(end) == Some(&b'.') {
        let frac_end = digits(end + 1);
        any_digit |= frac_end > end + 1;
        end = frac_end;
    }
    if !any_digit {
        return f64::NAN;
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let mut j = end + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            end = exp_end;
        }
    }
    t[..end].parse().unwrap_or(f64::NAN)
}

/// `String.prototype.trim`.
pub fn js_trim(text: &str) -> &str {
    text.trim_matches(is_js_whitespace)
}

/// White space as JavaScript's `String.prototype.trim` and `Number` see it;
/// not the same set as `char::is_whitespace` (U+FEFF is in, U+0085 is out).
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// JavaScript's StringToNumber.
pub fn string_to_number(s: &str) -> f64 {
    let text = s.trim_matches(is_js_whitespace);
    if text.is_empty() {
        return 0.0;
    }
    // Prefixed integer literals take no sign, so look for them before one.
    for (prefixes, bits) in [(["0x", "0X"], 4), (["0o", "0O"], 3), (["0b", "0B"], 1)] {
        if let Some(digits) = prefixes.iter().find_map(|p| text.strip_prefix(p)) {
            return radix_to_f64(digits, bits);
        }
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = if body == "Infinity" {
        f64::INFINITY
    } else if is_decimal_literal(body) {
        // Rust's parser rounds correctly, but it also accepts "inf", "nan"
        // and friends, hence the grammar check above.
        body.parse::<f64>().unwrap_or(f64::NAN)
    } else {
        return f64::NAN;
    };
    if negative { -magnitude } else { magnitude }
}

/// Whether `s` is an unsigned StrUnsignedDecimalLiteral other than
/// `Infinity`: digits with an optional fraction (at least one digit in all)
/// and an optional exponent.
fn is_decimal_literal(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut pos = 0;
    let digits_from = |mut p: usize| {
        while bytes.get(p).is_some_and(u8::is_ascii_digit) {
            p += 1;
        }
        p
    };
    let int_end = digits_from(pos);
    let mut mantissa_digits = int_end - pos;
    pos = int_end;
    if bytes.get(pos) == Some(&b'.') {
        let frac_end = digits_from(pos + 1);
        mantissa_digits += frac_end - (pos + 1);
        pos = frac_end;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(bytes.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        let exp_end = digits_from(pos);
        if exp_end == pos {
            return false;
        }
        pos = exp_end;
    }
    pos == bytes.len()
}

/// The value of `digits` in radix 2^`bits` (hex, octal or binary), rounded
/// to nearest as JavaScript does however many digits there are; NaN when
/// there are none or one is invalid.
fn radix_to_f64(digits: &str, bits: u32) -> f64 {
    let radix = 1u32 << bits;
    // Room for this many digits in a u128; beyond it only a sticky bit is
    // kept, which still rounds correctly since a u128 has bits to spare.
    let capacity = 128 / bits as usize;
    let mut acc: u128 = 0;
    let mut taken = 0usize;
    let mut dropped = 0usize;
    let mut sticky = false;
    if digits.is_empty() {
        return f64::NAN;
    }
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else {
            return f64::NAN;
        };
        if taken == 0 && d == 0 {
            continue;
        }
        if taken < capacity {
            acc = (acc << bits) | u128::from(d);
            taken += 1;
        } else {
            sticky |= d != 0;
            dropped += 1;
        }
    }
    if sticky {
        acc |= 1;
    }
    #[allow(clippy::cast_precision_loss)] // rounds to nearest, as wanted
    let mantissa = acc as f64;
    if dropped == 0 {
        return mantissa;
    }
    // Scaling by a power of two is exact until it overflows to infinity,
    // which is what JavaScript gives for such literals too.
    match i32::try_from(dropped * bits as usize) {
        Ok(exp) if exp <= 2048 => mantissa * 2f64.powi(exp),
        _ => f64::INFINITY,
    }
}

/// If `key` is a JavaScript array index (a canonical decimal integer below
/// 2^32 - 1), that index.
pub fn array_index_key(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    let canonical = match bytes {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

/// An object's entries in JavaScript's property order.
enum JsEntries<'a> {
    /// No integer-like keys: insertion order, without allocating.
    Insertion(indexmap::map::Iter<'a, String, Value>),
    /// Array-index keys ascending, then the others in insertion order.
    Reordered(std::vec::IntoIter<(&'a String, &'a Value)>),
}

impl<'a> Iterator for JsEntries<'a> {
    type Item = (&'a String, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            JsEntries::Insertion(it) => it.next(),
            JsEntries::Reordered(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            JsEntries::Insertion(it) => it.size_hint(),
            JsEntries::Reordered(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for JsEntries<'_> {}

/// Iterates `map` the way JavaScript enumerates an object's own properties,
/// so serialised output matches even for objects with keys like `"2"`.
/// An object's entries in JavaScript's property order (array-index keys ascending first).
pub fn js_entries(map: &Map) -> impl Iterator<Item = (&String, &Value)> {
    js_entry_order(map)
}

fn js_entry_order(map: &Map) -> JsEntries<'_> {
    if !map.keys().any(|k| array_index_key(k).is_some()) {
        return JsEntries::Insertion(map.iter());
    }
    let mut indexed: Vec<(u32, &String, &Value)> = map
        .iter()
        .filter_map(|(k, v)| array_index_key(k).map(|i| (i, k, v)))
        .collect();
    indexed.sort_unstable_by_key(|&(i, _, _)| i);
    let mut entries: Vec<(&String, &Value)> = Vec::with_capacity(map.len());
    entries.extend(indexed.into_iter().map(|(_, k, v)| (k, v)));
    entries.extend(map.iter().filter(|(k, _)| array_index_key(k).is_none()));
    JsEntries::Reordered(entries.into_iter())
}

/// Writes JSON exactly as `JSON.stringify(value, null, gap)` does.
struct JsonWriter<'g> {
    out: String,
    /// The indent step; empty for compact output.
    gap: &'g str,
    /// The current line indent.
    indent: String,
}

impl<'g> JsonWriter<'g> {
    fn new(gap: &'g str) -> Self {
        JsonWriter {
            out: String::new(),
            gap,
            indent: String::new(),
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                // Writing to a String cannot fail.
                let _ = write!(self.out, "{i}");
            }
            Value::Float(f) => self.float(*f),
            Value::String(s) => push_json_str(&mut self.out, s),
            Value::Bytes(bytes) => {
                // A Buffer serialises through Buffer.prototype.toJSON.
                self.open('{');
                self.separator(true);
                self.key("type");
                push_json_str(&mut self.out, "Buffer");
                self.separator(false);
                self.key("data");
                self.open('[');
                for (i, byte) in bytes.iter().enumerate() {
                    self.separator(i == 0);
                    let _ = write!(self.out, "{byte}");
                }
                self.close(']', !bytes.is_empty());
                self.close('}', true);
            }
            Value::Array(items) => {
                self.open('[');
                for (i, item) in items.iter().enumerate() {
                    self.separator(i == 0);
                    self.value(item);
                }
                self.close(']', !items.is_empty());
            }
            Value::Object(map) => {
                self.open('{');
                for (i, (k, v)) in js_entries(map).enumerate() {
                    self.separator(i == 0);
                    self.key(k);
                    self.value(v);
                }
                self.close('}', !map.is_empty());
            }
        }
    }

    fn float(&mut self, f: f64) {
        if f.is_finite() {
            self.out.push_str(ryu_js::Buffer::new().format_finite(f));
        } else {
            self.out.push_str("null");
        }
    }

    fn open(&mut self, bracket: char) {
        self.out.push(bracket);
        self.indent.push_str(self.gap);
    }

    /// Starts an element: a comma unless it is the first, then in pretty
    /// mode a new line at the current indent.
    fn separator(&mut self, first: bool) {
        if !first {
            self.out.push(',');
        }
        if !self.gap.is_empty() {
            self.out.push('\n');
            self.out.push_str(&self.indent);
        }
    }

    fn key(&mut self, key: &str) {
        push_json_str(&mut self.out, key);
        self.out.push(':');
        if !self.gap.is_empty() {
            self.out.push(' ');
        }
    }

    /// Ends a container; empty ones stay on one line (`[]`, `{}`).
    fn close(&mut self, bracket: char, non_empty: bool) {
        let depth = self.indent.len().saturating_sub(self.gap.len());
        self.indent.truncate(depth);
        if non_empty && !self.gap.is_empty() {
            self.out.push('\n');
            self.out.push_str(&self.indent);
        }
        self.out.push(bracket);
    }
}

/// Appends `s` as a JSON string literal escaped like `JSON.stringify`: only
/// `"`, `\` and control characters are escaped; everything else is raw.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut clean_from = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slice ends are char boundaries.
        out.push_str(s.get(clean_from..i).unwrap_or_default());
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        clean_from = i + 1;
    }
    out.push_str(s.get(clean_from..).unwrap_or_default());
    out.push('"');
}

impl Serialize for Value {
    /// Serialises as `JSON.stringify` would, as far as serde allows: Buffers
    /// as `{"type":"Buffer","data":[..]}`, NaN and the infinities as null,
    /// integral floats below 2^63 as integers, and JavaScript's key order.
    /// Other floats go through `serialize_f64`, so with serde_json very
    /// large or small ones may differ in exponent notation (`1e21` rather
    /// than `1e+21`); use [`Value::to_json_string`] for exact text.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serialize_float(*f, serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(bytes) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", "Buffer")?;
                map.serialize_entry("data", bytes.as_ref())?;
                map.end()
            }
            Value::Array(items) => serializer.collect_seq(items),
            Value::Object(map) => serializer.collect_map(js_entries(map)),
        }
    }
}

fn serialize_float<S: Serializer>(f: f64, serializer: S) -> Result<S::Ok, S::Error> {
    if !f.is_finite() {
        return serializer.serialize_unit();
    }
    if let Some(i) = safe_integer(f) {
        return serializer.serialize_i64(i);
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        // JavaScript prints these as plain digits (shortest round-trip
        // digits padded with zeros), which is an integer we can emit as one.
        if let Ok(i) = ryu_js::Buffer::new().format_finite(f).parse::<i64>() {
            return serializer.serialize_i64(i);
        }
    }
    serializer.serialize_f64(f)
}

impl<'de> Deserialize<'de> for Value {
    /// Deserialises any self-describing data, mapping JSON as
    /// [`Value::from_json`] does; byte strings become [`Value::Bytes`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        #[allow(clippy::cast_precision_loss)] // beyond i64 it is a float in JavaScript too
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(bytes::Bytes::copy_from_slice(b)))
    }

    fn visit_byte_buf<E: de::Error>(self, b: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(bytes::Bytes::from(b)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // The hint comes from the input, so cap what it may preallocate.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::with_capacity(access.size_hint().unwrap_or(0).min(4096));
        // A repeated key keeps its first position and its last value, as in
        // JSON.parse.
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_key<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
        value.as_object().and_then(|m| m.get(key))
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("test JSON is valid")
    }

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn equality_compares_numbers_by_value() {
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert_eq!(Value::Float(1.0), Value::Int(1));
        assert_eq!(Value::Float(0.0), Value::Float(-0.0));
        assert_eq!(Value::Int(0), Value::Float(-0.0));
        assert_ne!(Value::Int(1), Value::Float(1.5));
        assert_ne!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_ne!(Value::Int(i64::MAX), Value::Float(I64_BOUND_F64));
        // 2^53 + 1 is not the float 2^53, though `as f64` would round to it.
        assert_ne!(
            Value::Int(9_007_199_254_740_993),
            Value::Float(MAX_SAFE_F64)
        );
    }

    #[test]
    fn equality_is_strict_across_types() {
        assert_ne!(Value::Int(0), Value::from("0"));
        assert_ne!(Value::Int(1), Value::from("1"));
        assert_ne!(Value::Int(0), Value::Null);
        assert_ne!(Value::from(""), Value::Null);
        assert_ne!(Value::Bool(false), Value::Int(0));
        assert_ne!(
            Value::Bytes(bytes::Bytes::from_static(b"hello")),
            Value::from("hello")
        );
        assert_ne!(
            Value::Bytes(bytes::Bytes::from_static(&[1])),
            Value::Array(vec![Value::Int(1)])
        );
    }

    #[test]
    fn equality_is_deep() {
        assert_eq!(json(r#"[[1],["a"]]"#), json(r#"[[1],["a"]]"#));
        assert_ne!(json(r#"[[1],["a"]]"#), json(r#"[["a"],[1]]"#));
        assert_ne!(json(r#"["a"]"#), json(r#"["a","b"]"#));
        assert_eq!(json(r#"{"b":1,"a":1}"#), json(r#"{"a":1,"b":1}"#));
        assert_ne!(json(r#"{"a":1}"#), json(r#"{"a":1,"b":1}"#));
        assert_eq!(json(r#"{"a":[1.0]}"#), json(r#"{"a":[1]}"#));
        assert_eq!(
            Value::Bytes(bytes::Bytes::from_static(b"hello")),
            Value::Bytes(bytes::Bytes::from(b"hello".to_vec()))
        );
        assert_ne!(
            Value::Bytes(bytes::Bytes::from_static(b"hello")),
            Value::Bytes(bytes::Bytes::from_static(b"hello "))
        );
    }

    #[test]
    fn from_conversions() {
        assert!(matches!(Value::from(true), Value::Bool(true)));
        assert!(matches!(Value::from(-3i32), Value::Int(-3)));
        assert!(matches!(Value::from(3u32), Value::Int(3)));
        assert!(matches!(Value::from(3usize), Value::Int(3)));
        assert!(matches!(Value::from(1.5), Value::Float(f) if f == 1.5));
        assert!(matches!(Value::from("a"), Value::String(s) if s == "a"));
        assert!(matches!(Value::from(Map::new()), Value::Object(_)));
        assert!(matches!(Value::from(vec![Value::Null]), Value::Array(v) if v.len() == 1));
        assert!(matches!(
            Value::from(bytes::Bytes::from_static(b"x")),
            Value::Bytes(_)
        ));
    }

    #[test]
    fn from_json_maps_numbers() {
        assert!(matches!(Value::from(serde_json::json!(5)), Value::Int(5)));
        assert!(matches!(
            Value::from(serde_json::json!(u64::MAX)),
            Value::Float(f) if f == 18_446_744_073_709_551_615.0
        ));
        assert!(matches!(
            Value::from(serde_json::json!(0.5)),
            Value::Float(f) if f == 0.5
        ));
        // JSON.parse does not revive Buffers.
        let buffer_like = Value::from(serde_json::json!({"type": "Buffer", "data": [1]}));
        assert_eq!(buffer_like.type_name(), "object");
    }

    #[test]
    fn to_json_matches_json_round_trip() {
        let v = obj(&[
            ("f", Value::Float(2.0)),
            ("neg0", Value::Float(-0.0)),
            ("half", Value::Float(0.5)),
            ("nan", Value::Float(f64::NAN)),
            ("inf", Value::Float(f64::NEG_INFINITY)),
            ("buf", Value::Bytes(bytes::Bytes::from_static(&[1, 2]))),
        ]);
        let j = v.to_json();
        assert_eq!(
            j,
            serde_json::json!({
                "f": 2, "neg0": 0, "half": 0.5, "nan": null, "inf": null,
                "buf": {"type": "Buffer", "data": [1, 2]}
            })
        );
        assert!(j["f"].is_i64());
        assert_eq!(serde_json::Value::from(&Value::Float(1e300)), 1e300);
    }

    #[test]
    fn json_string_numbers_match_javascript() {
        let cases: [(Value, &str); 12] = [
            (Value::Float(1.0), "1"),
            (Value::Float(1e21), "1e+21"),
            (Value::Float(1e20), "100000000000000000000"),
            (Value::Float(0.1 + 0.2), "0.30000000000000004"),
            (Value::Float(-0.0), "0"),
            (Value::Float(f64::NAN), "null"),
            (Value::Float(f64::INFINITY), "null"),
            (Value::Float(f64::NEG_INFINITY), "null"),
            (Value::Float(1e-7), "1e-7"),
            (Value::Float(0.000_001), "0.000001"),
            (Value::Float(-1.5), "-1.5"),
            (Value::Int(i64::MIN), "-9223372036854775808"),
        ];
        for (v, want) in cases {
            assert_eq!(v.to_json_string(), want, "{v:?}");
        }
    }

    #[test]
    fn json_string_escapes_like_javascript() {
        let v = Value::from("q\"b\\n\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é€\u{2028}😀");
        assert_eq!(
            v.to_json_string(),
            "\"q\\\"b\\\\n\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}é€\u{2028}😀\""
        );
        assert_eq!(
            obj(&[("a\"b", Value::Null)]).to_json_string(),
            r#"{"a\"b":null}"#
        );
    }

    #[test]
    fn json_string_of_containers() {
        let v = json(r#"{"a":[1,"x",null,true,{}],"b":{"c":[]}}"#);
        assert_eq!(
            v.to_json_string(),
            r#"{"a":[1,"x",null,true,{}],"b":{"c":[]}}"#
        );
        assert_eq!(
            Value::Bytes(bytes::Bytes::from_static(&[1, 2])).to_json_string(),
            r#"{"type":"Buffer","data":[1,2]}"#
        );
        assert_eq!(
            Value::Bytes(bytes::Bytes::new()).to_json_string(),
            r#"{"type":"Buffer","data":[]}"#
        );
    }

    #[test]
    fn json_string_puts_integer_keys_first() {
        // JSON.stringify({b:1,"2":2,a:3,"1":4,"01":5,"4294967295":6})
        let v = obj(&[
            ("b", Value::Int(1)),
            ("2", Value::Int(2)),
            ("a", Value::Int(3)),
            ("1", Value::Int(4)),
            ("01", Value::Int(5)),
            ("4294967295", Value::Int(6)),
        ]);
        let want = r#"{"1":4,"2":2,"b":1,"a":3,"01":5,"4294967295":6}"#;
        assert_eq!(v.to_json_string(), want);
        assert_eq!(serde_json::to_string(&v).expect("serialises"), want);
        assert_eq!(v.to_json().to_string(), want);
    }

    #[test]
    fn json_pretty_matches_javascript() {
        let v = json(r#"{"a":[1,{"b":null}],"e":[],"o":{},"s":"x"}"#);
        let want = "{\n    \"a\": [\n        1,\n        {\n            \"b\": null\n        }\n    ],\n    \"e\": [],\n    \"o\": {},\n    \"s\": \"x\"\n}";
        assert_eq!(v.to_json_pretty(4), want);
        assert_eq!(
            Value::Bytes(bytes::Bytes::from_static(&[7])).to_json_pretty(2),
            "{\n  \"type\": \"Buffer\",\n  \"data\": [\n    7\n  ]\n}"
        );
        assert_eq!(Value::Array(vec![]).to_json_pretty(2), "[]");
        assert_eq!(Value::Int(3).to_json_pretty(2), "3");
        // Zero means compact; more than ten means ten.
        assert_eq!(v.to_json_pretty(0), v.to_json_string());
        assert_eq!(
            json("[1]").to_json_pretty(20),
            format!("[\n{}1\n]", " ".repeat(10))
        );
    }

    #[test]
    fn serialize_matches_json_stringify_for_common_values() {
        let v = obj(&[
            ("i", Value::Float(1.0)),
            ("neg0", Value::Float(-0.0)),
            ("x", Value::Float(0.1 + 0.2)),
            ("big", Value::Float(18_014_398_509_481_984.0)),
            ("n", Value::Float(f64::NAN)),
            ("buf", Value::Bytes(bytes::Bytes::from_static(&[1, 2]))),
            ("s", Value::from("\u{1}")),
        ]);
        let text = serde_json::to_string(&v).expect("serialises");
        assert_eq!(text, v.to_json_string());
        assert_eq!(
            text,
            r#"{"i":1,"neg0":0,"x":0.30000000000000004,"big":18014398509481984,"n":null,"buf":{"type":"Buffer","data":[1,2]},"s":"\u0001"}"#
        );
    }

    #[test]
    fn deserialize_from_json() {
        let v: Value = serde_json::from_str(
            r#"{"a":1,"b":1.5,"c":[null,true,"s"],"d":18446744073709551615,"a":2}"#,
        )
        .expect("parses");
        assert!(matches!(get_key(&v, "a"), Some(Value::Int(2))));
        assert!(matches!(get_key(&v, "b"), Some(Value::Float(f)) if *f == 1.5));
        assert!(matches!(get_key(&v, "d"), Some(Value::Float(_))));
        assert_eq!(get_key(&v, "c"), Some(&json(r#"[null,true,"s"]"#)));
        // A repeated key keeps its first position.
        let keys: Vec<&str> = v
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["a", "b", "c", "d"]);
    }

    #[test]
    fn type_names() {
        assert_eq!(Value::Null.type_name(), "null");
        assert_eq!(Value::Bool(true).type_name(), "boolean");
        assert_eq!(Value::Int(1).type_name(), "number");
        assert_eq!(Value::Float(1.5).type_name(), "number");
        assert_eq!(Value::from("").type_name(), "string");
        assert_eq!(Value::Bytes(bytes::Bytes::new()).type_name(), "buffer");
        assert_eq!(Value::Array(vec![]).type_name(), "array");
        assert_eq!(Value::Object(Map::new()).type_name(), "object");
    }

    #[test]
    fn accessors() {
        assert_eq!(Value::from("a").as_str(), Some("a"));
        assert_eq!(Value::Int(1).as_str(), None);
        assert_eq!(Value::Int(2).as_f64(), Some(2.0));
        assert_eq!(Value::Float(2.5).as_f64(), Some(2.5));
        assert_eq!(Value::from("2").as_f64(), None);
        assert_eq!(Value::Int(2).as_i64(), Some(2));
        assert_eq!(Value::Float(2.0).as_i64(), Some(2));
        assert_eq!(Value::Float(2.5).as_i64(), None);
        assert_eq!(Value::Float(f64::NAN).as_i64(), None);
        assert_eq!(Value::Float(1e19).as_i64(), None);
        assert_eq!(Value::Bool(true).as_bool(), Some(true));
        assert_eq!(Value::Int(1).as_bool(), None);
        assert!(Value::Null.is_null());
        assert!(!Value::Int(0).is_null());

        let mut v = json(r#"{"a":[1]}"#);
        assert!(v.as_array().is_none());
        if let Some(map) = v.as_object_mut() {
            map.insert("b".into(), Value::Null);
        }
        assert_eq!(v.as_object().map(Map::len), Some(2));
        let mut arr = json("[1]");
        if let Some(items) = arr.as_array_mut() {
            items.push(Value::Int(2));
        }
        assert_eq!(arr.as_array().map(Vec::len), Some(2));
        assert!(arr.as_object().is_none());
    }

    #[test]
    fn truthiness() {
        for falsy in [
            Value::Null,
            Value::Bool(false),
            Value::Int(0),
            Value::Float(0.0),
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::from(""),
        ] {
            assert!(!falsy.is_truthy(), "{falsy:?}");
        }
        for truthy in [
            Value::Bool(true),
            Value::Int(-1),
            Value::Float(0.1),
            Value::Float(f64::INFINITY),
            Value::from("0"),
            Value::from("false"),
            Value::Array(vec![]),
            Value::Object(Map::new()),
            Value::Bytes(bytes::Bytes::new()),
        ] {
            assert!(truthy.is_truthy(), "{truthy:?}");
        }
    }

    #[test]
    fn js_string_conversion() {
        assert_eq!(Value::Null.to_js_string(), "null");
        assert_eq!(Value::Bool(false).to_js_string(), "false");
        assert_eq!(Value::Int(-12).to_js_string(), "-12");
        assert_eq!(Value::Float(2.0).to_js_string(), "2");
        assert_eq!(Value::Float(1e21).to_js_string(), "1e+21");
        assert_eq!(Value::Float(f64::NAN).to_js_string(), "NaN");
        assert_eq!(Value::Float(f64::INFINITY).to_js_string(), "Infinity");
        assert_eq!(Value::Float(f64::NEG_INFINITY).to_js_string(), "-Infinity");
        assert_eq!(Value::from("s").to_js_string(), "s");
        assert_eq!(
            Value::Bytes(bytes::Bytes::from_static(b"a\xffb")).to_js_string(),
            "a\u{fffd}b"
        );
        assert_eq!(
            json(r#"[1,null,"a",[2,[3]],{}]"#).to_js_string(),
            "1,,a,2,3,[object Object]"
        );
        assert_eq!(json("[]").to_js_string(), "");
        assert_eq!(json(r#"{"a":1}"#).to_js_string(), "[object Object]");
    }

    #[test]
    fn number_conversion_of_non_strings() {
        assert_eq!(Value::Null.to_number(), 0.0);
        assert_eq!(Value::Bool(true).to_number(), 1.0);
        assert_eq!(Value::Bool(false).to_number(), 0.0);
        assert_eq!(Value::Int(7).to_number(), 7.0);
        assert_eq!(Value::Float(7.5).to_number(), 7.5);
        assert_eq!(json("[]").to_number(), 0.0);
        assert_eq!(json("[5]").to_number(), 5.0);
        assert_eq!(json(r#"[" 6 "]"#).to_number(), 6.0);
        assert_eq!(json("[[7]]").to_number(), 7.0);
        assert_eq!(json("[null]").to_number(), 0.0);
        // Number([true]) goes through String([true]) === "true".
        assert!(json("[true]").to_number().is_nan());
        assert!(json("[1,2]").to_number().is_nan());
        assert!(json("{}").to_number().is_nan());
        assert_eq!(
            Value::Bytes(bytes::Bytes::from_static(b"12")).to_number(),
            12.0
        );
    }

    #[test]
    fn number_conversion_of_strings() {
        let n = |s: &str| Value::from(s).to_number();
        assert_eq!(n(""), 0.0);
        assert_eq!(n(" \t\n\u{a0}\u{feff} "), 0.0);
        assert_eq!(n(" 42 "), 42.0);
        assert_eq!(n("-1.5e3"), -1500.0);
        assert_eq!(n("+.5"), 0.5);
        assert_eq!(n("5."), 5.0);
        assert_eq!(n("1E+2"), 100.0);
        assert_eq!(n("0x1f"), 31.0);
        assert_eq!(n("0X1F"), 31.0);
        assert_eq!(n("0o17"), 15.0);
        assert_eq!(n("0b101"), 5.0);
        assert_eq!(n("Infinity"), f64::INFINITY);
        assert_eq!(n("-Infinity"), f64::NEG_INFINITY);
        assert_eq!(n("1e400"), f64::INFINITY);
        assert!(n("-0").is_sign_negative());
        assert_eq!(n("0x1fffffffffffff"), 9_007_199_254_740_991.0);
        // Rounds to nearest even past 2^53, like JavaScript.
        assert_eq!(n("0x20000000000001"), 9_007_199_254_740_992.0);
        assert_eq!(n("0x20000000000003"), 9_007_199_254_740_996.0);
        assert_eq!(n(&format!("0x1{}", "0".repeat(40))), 2f64.powi(160));
        assert_eq!(n(&format!("0x1{}", "0".repeat(300))), f64::INFINITY);
        for bad in [
            "abc", "1a", ".", "e5", "1e", "1e+", "--1", "-0x10", "+0x10", "0x", "0xg", "infinity",
            "inf", "NaN", "nan", "1_000", "1 2", "\u{85}1",
        ] {
            assert!(n(bad).is_nan(), "{bad:?}");
        }
    }

    #[test]
    fn js_number_prefers_int() {
        assert!(matches!(Value::js_number(3.0), Value::Int(3)));
        assert!(matches!(Value::js_number(-3.0), Value::Int(-3)));
        assert!(matches!(
            Value::js_number(MAX_SAFE_F64),
            Value::Int(9_007_199_254_740_992)
        ));
        assert!(matches!(
            Value::js_number(2.0 * MAX_SAFE_F64),
            Value::Float(_)
        ));
        assert!(matches!(Value::js_number(0.5), Value::Float(_)));
        assert!(matches!(Value::js_number(-0.0), Value::Float(f) if f.is_sign_negative()));
        assert!(matches!(Value::js_number(0.0), Value::Int(0)));
        assert!(matches!(Value::js_number(f64::NAN), Value::Float(_)));
        assert!(matches!(Value::js_number(f64::INFINITY), Value::Float(_)));
    }

    #[test]
    fn number_formatting() {
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(123.456), "123.456");
        assert_eq!(format_number(1e21), "1e+21");
        assert_eq!(format_number(1.5e-7), "1.5e-7");
        assert_eq!(format_number(2f64.powi(60)), "1152921504606847000");
        assert_eq!(format_number(f64::NAN), "NaN");
        assert_eq!(format_number(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn parse_float_reads_the_leading_number_like_javascript() {
        assert_eq!(js_parse_float("6 deg"), 6.0);
        assert_eq!(js_parse_float("  -1.5e2x"), -150.0);
        assert_eq!(js_parse_float(".5"), 0.5);
        assert_eq!(js_parse_float("5."), 5.0);
        assert_eq!(js_parse_float("1e"), 1.0);
        assert_eq!(js_parse_float("1e3x"), 1000.0);
        assert_eq!(js_parse_float("12E3"), 12000.0);
        assert_eq!(js_parse_float("1.e5"), 100_000.0);
        assert_eq!(js_parse_float("1e-+5"), 1.0);
        assert_eq!(js_parse_float("0x10"), 0.0);
        assert_eq!(js_parse_float("Infinity"), f64::INFINITY);
        assert_eq!(js_parse_float("-Infinityx"), f64::NEG_INFINITY);
        assert_eq!(js_parse_float("10%"), 10.0);
        for none in ["banana", "", "-.", ".", "-", ".e5", "abc"] {
            assert!(js_parse_float(none).is_nan(), "{none:?}");
        }
        assert_eq!(Value::Null.parse_float(), None);
        assert_eq!(Value::Bool(true).parse_float(), None);
        assert_eq!(Value::Int(7).parse_float(), Some(7.0));
        assert_eq!(
            Value::from(vec![Value::from("2.5"), Value::from(3)]).parse_float(),
            Some(2.5)
        );
    }
}
