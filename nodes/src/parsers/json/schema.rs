//! JSON Schema validation for `msg.schema`, as Node-RED's json node does it with ajv 8
//! (`new Ajv({allErrors: true})`, draft-06 meta-schema added).
//!
//! Covers the draft-06/07 vocabulary: `type`, `enum`, `const`, the number, string, array
//! and object keywords, `allOf`/`anyOf`/`oneOf`/`not`, `if`/`then`/`else`, `dependencies`,
//! `propertyNames`, `contains`, and `$ref` to a JSON pointer inside the same schema
//! (`#`, `#/definitions/x`). Like ajv in its default strict mode, unknown keywords and
//! `format` (ajv has no formats without the ajv-formats plugin, which Node-RED does not load)
//! make the schema fail to compile. Remote `$ref`s and `$id`-based references are not
//! supported and also fail to compile.
//!
//! Errors carry ajv's fields and wording (`instancePath`, `schemaPath`, `keyword`, `params`,
//! `message`), in ajv's order: keywords run grouped by the data type they apply to, in
//! ajv's vocabulary order, not in the schema's key order.

use std::collections::HashMap;

use ferrite_runtime::value::format_number;
use ferrite_runtime::{Map, Value};

/// A compiled pattern: a JavaScript regular expression (`u` flag, as ajv uses) as a matcher.
type Matcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Guards `$ref` cycles that never reach deeper data (`{"$ref": "#"}`).
const MAX_DEPTH: usize = 256;

/// Keywords ajv 8 knows for draft-07; any other makes strict mode refuse the schema.
const KNOWN: &[&str] = &[
    "$id",
    "$schema",
    "$ref",
    "$comment",
    "$defs",
    "definitions",
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "additionalItems",
    "contains",
    "properties",
    "patternProperties",
    "additionalProperties",
    "dependencies",
    "propertyNames",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "format",
    "title",
    "description",
    "default",
    "examples",
    "readOnly",
    "writeOnly",
    "deprecated",
    "contentMediaType",
    "contentEncoding",
];

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// A schema ready to validate.
pub struct Schema {
    root: Value,
    patterns: HashMap<String, Matcher>,
}

/// One validation failure, as ajv reports it.
#[derive(Debug, Clone)]
pub struct SchemaError {
    pub instance_path: String,
    pub schema_path: String,
    pub keyword: &'static str,
    pub params: Map,
    pub message: String,
}

impl Schema {
    /// Checks `root` the way ajv's compile does; the error says why it was refused.
    pub fn compile(root: &Value) -> Result<Self, String> {
        let mut patterns = HashMap::new();
        check(root, root, &mut patterns)?;
        Ok(Self {
            root: root.clone(),
            patterns,
        })
    }

    /// Validates `data`; empty when it is valid.
    pub fn validate(&self, data: &Value) -> Vec<SchemaError> {
        let mut run = Run {
            schema: self,
            errors: Vec::new(),
            instance_path: String::new(),
            depth: 0,
        };
        run.validate(&self.root, "#", data);
        run.errors
    }

    /// The schema this was compiled from, to tell whether a message brings a new one.
    pub fn source(&self) -> &Value {
        &self.root
    }
}

/// `ajv.errorsText(errors)`.
pub fn errors_text(errors: &[SchemaError]) -> String {
    let mut out = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("data");
        out.push_str(&e.instance_path);
        out.push(' ');
        out.push_str(&e.message);
    }
    out
}

/// `validate.errors` as the array ajv hands out (`msg.schemaError`).
pub fn errors_value(errors: &[SchemaError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| {
                let mut map = Map::with_capacity(5);
                map.insert(
                    "instancePath".to_owned(),
                    Value::from(e.instance_path.as_str()),
                );
                map.insert("schemaPath".to_owned(), Value::from(e.schema_path.as_str()));
                map.insert("keyword".to_owned(), Value::from(e.keyword));
                map.insert("params".to_owned(), Value::Object(e.params.clone()));
                map.insert("message".to_owned(), Value::from(e.message.as_str()));
                Value::Object(map)
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------
// Compile: the checks ajv's meta-schema validation and strict mode make.

fn check(
    schema: &Value,
    root: &Value,
    patterns: &mut HashMap<String, Matcher>,
) -> Result<(), String> {
    let map = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(map) => map,
        _ => return Err("schema must be object or boolean".to_owned()),
    };
    for (key, value) in map {
        if !KNOWN.contains(&key.as_str()) {
            return Err(format!("strict mode: unknown keyword: \"{key}\""));
        }
        let bad = || format!("schema is invalid: {key} has a wrong value");
        match key.as_str() {
            "$schema" => {
                let uri = value.as_str().ok_or_else(bad)?;
                let known = [
                    "http://json-schema.org/draft-06/schema",
                    "http://json-schema.org/draft-07/schema",
                ];
                if !known.contains(&uri.trim_end_matches('#')) {
                    return Err(format!("no schema with key or ref \"{uri}\""));
                }
            }
            "$id" | "$comment" | "title" | "description" | "contentMediaType"
            | "contentEncoding" => {
                value.as_str().ok_or_else(bad)?;
            }
            "$ref" => {
                let reference = value.as_str().ok_or_else(bad)?;
                if resolve(root, reference).is_none() {
                    return Err(format!("can't resolve reference {reference}"));
                }
            }
            "format" => {
                return Err(format!(
                    "unknown format \"{}\" ignored in schema",
                    value.to_js_string()
                ));
            }
            "type" => {
                let valid = |t: &Value| t.as_str().is_some_and(|t| TYPES.contains(&t));
                let ok = match value {
                    Value::Array(types) => !types.is_empty() && types.iter().all(valid),
                    other => valid(other),
                };
                if !ok {
                    return Err(bad());
                }
            }
            "enum" | "examples" => {
                value.as_array().ok_or_else(bad)?;
            }
            "multipleOf" => {
                value.as_f64().filter(|n| *n > 0.0).ok_or_else(bad)?;
            }
            "maximum" | "minimum" | "exclusiveMaximum" | "exclusiveMinimum" => {
                value.as_f64().ok_or_else(bad)?;
            }
            "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties"
            | "minProperties" => {
                value.as_i64().filter(|n| *n >= 0).ok_or_else(bad)?;
            }
            "uniqueItems" | "readOnly" | "writeOnly" | "deprecated" => {
                value.as_bool().ok_or_else(bad)?;
            }
            "pattern" => {
                let pattern = value.as_str().ok_or_else(bad)?;
                add_pattern(pattern, patterns)?;
            }
            "required" => {
                let names = value.as_array().ok_or_else(bad)?;
                if !names.iter().all(|n| n.as_str().is_some()) {
                    return Err(bad());
                }
            }
            "items" => match value {
                Value::Array(items) => {
                    for item in items {
                        check(item, root, patterns)?;
                    }
                }
                other => check(other, root, patterns)?,
            },
            "properties" | "definitions" | "$defs" => {
                for sub in value.as_object().ok_or_else(bad)?.values() {
                    check(sub, root, patterns)?;
                }
            }
            "patternProperties" => {
                for (pattern, sub) in value.as_object().ok_or_else(bad)? {
                    add_pattern(pattern, patterns)?;
                    check(sub, root, patterns)?;
                }
            }
            "dependencies" => {
                for dep in value.as_object().ok_or_else(bad)?.values() {
                    match dep {
                        Value::Array(names) if names.iter().all(|n| n.as_str().is_some()) => {}
                        Value::Array(_) => return Err(bad()),
                        other => check(other, root, patterns)?,
                    }
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                let subs = value.as_array().ok_or_else(bad)?;
                if subs.is_empty() {
                    return Err(bad());
                }
                for sub in subs {
                    check(sub, root, patterns)?;
                }
            }
            "additionalItems"
            | "additionalProperties"
            | "contains"
            | "propertyNames"
            | "not"
            | "if"
            | "then"
            | "else" => check(value, root, patterns)?,
            // const, default: any value.
            _ => {}
        }
    }
    Ok(())
}

fn add_pattern(pattern: &str, patterns: &mut HashMap<String, Matcher>) -> Result<(), String> {
    if patterns.contains_key(pattern) {
        return Ok(());
    }
    let regex = ferrite_runtime::typed::compile_regex(pattern, "u")
        .map_err(|e| format!("schema is invalid: pattern {e}"))?;
    patterns.insert(
        pattern.to_owned(),
        Box::new(move |text: &str| regex.find(text).is_some()),
    );
    Ok(())
}

/// The subschema a local reference (`#`, `#/definitions/a`) points at.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    let mut at = root;
    for raw in pointer.strip_prefix('/')?.split('/') {
        let token = percent_decode(raw)?.replace("~1", "/").replace("~0", "~");
        at = match at {
            Value::Object(map) => map.get(&token)?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------
// Validate.

struct Run<'s> {
    schema: &'s Schema,
    errors: Vec<SchemaError>,
    /// JSON pointer of the data being validated (`/a/0`).
    instance_path: String,
    depth: usize,
}

/// The type groups ajv runs keywords in, after the keywords that apply to any type.
#[derive(Clone, Copy, PartialEq)]
enum Group {
    Number,
    String,
    Array,
    Object,
}

const NUMBER_KEYWORDS: &[&str] = &[
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "multipleOf",
];
const STRING_KEYWORDS: &[&str] = &["maxLength", "minLength", "pattern"];
const ARRAY_KEYWORDS: &[&str] = &[
    "maxItems",
    "minItems",
    "uniqueItems",
    "additionalItems",
    "items",
    "contains",
];
const OBJECT_KEYWORDS: &[&str] = &[
    "maxProperties",
    "minProperties",
    "required",
    "propertyNames",
    "additionalProperties",
    "dependencies",
    "properties",
    "patternProperties",
];

impl Group {
    fn of_type(name: &str) -> Option<Group> {
        match name {
            "number" => Some(Group::Number),
            "string" => Some(Group::String),
            "array" => Some(Group::Array),
            "object" => Some(Group::Object),
            _ => None,
        }
    }

    fn keywords(self) -> &'static [&'static str] {
        match self {
            Group::Number => NUMBER_KEYWORDS,
            Group::String => STRING_KEYWORDS,
            Group::Array => ARRAY_KEYWORDS,
            Group::Object => OBJECT_KEYWORDS,
        }
    }

    fn applies_to(self, data: &Value) -> bool {
        match self {
            Group::Number => matches!(data, Value::Int(_) | Value::Float(_)),
            Group::String => matches!(data, Value::String(_)),
            Group::Array => matches!(data, Value::Array(_)),
            Group::Object => matches!(data, Value::Object(_) | Value::Bytes(_)),
        }
    }
}

fn is_type(name: &str, data: &Value) -> bool {
    match name {
        "null" => data.is_null(),
        "boolean" => matches!(data, Value::Bool(_)),
        "string" => matches!(data, Value::String(_)),
        "array" => matches!(data, Value::Array(_)),
        // A Buffer is an object to `typeof`.
        "object" => matches!(data, Value::Object(_) | Value::Bytes(_)),
        "number" => data.as_f64().is_some_and(f64::is_finite),
        "integer" => data
            .as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0),
        _ => false,
    }
}

/// `escapeFragment` of ajv: a JSON pointer token, URI-encoded, for schema paths.
fn schema_token(token: &str) -> String {
    let escaped = token.replace('~', "~0").replace('/', "~1");
    let mut out = String::with_capacity(escaped.len());
    for b in escaped.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn instance_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn params(entries: &[(&str, Value)]) -> Map {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl Run<'_> {
    fn error(&mut self, schema_path: String, keyword: &'static str, params: Map, message: String) {
        self.errors.push(SchemaError {
            instance_path: self.instance_path.clone(),
            schema_path,
            keyword,
            params,
            message,
        });
    }

    /// Validates `data` at `key` (an object property or array index) below the current path.
    fn validate_child(&mut self, schema: &Value, path: &str, key: &str, data: &Value) {
        let saved = self.instance_path.len();
        self.instance_path.push('/');
        self.instance_path.push_str(&instance_token(key));
        self.validate(schema, path, data);
        self.instance_path.truncate(saved);
    }

    /// Runs `schema` on the side: its errors are returned instead of recorded.
    fn trial(&mut self, schema: &Value, path: &str, data: &Value) -> Vec<SchemaError> {
        let outer = std::mem::take(&mut self.errors);
        self.validate(schema, path, data);
        std::mem::replace(&mut self.errors, outer)
    }

    fn validate(&mut self, schema: &Value, path: &str, data: &Value) {
        let map = match schema {
            Value::Bool(true) => return,
            Value::Object(map) => map,
            _ => {
                self.error(
                    path.to_owned(),
                    "false schema",
                    Map::new(),
                    "boolean schema is false".to_owned(),
                );
                return;
            }
        };
        if self.depth >= MAX_DEPTH {
            self.error(
                path.to_owned(),
                "$ref",
                Map::new(),
                "schema recursion is too deep".to_owned(),
            );
            return;
        }
        self.depth += 1;
        if let Some(Value::String(reference)) = map.get("$ref")
            && let Some(target) = resolve(&self.schema.root, reference)
        {
            self.validate(target, reference, data);
        }
        let types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        // ajv checks the type up front unless it is one type whose keyword group the schema
        // uses: then the mismatch is reported where that group runs.
        let deferred = match types.as_slice() {
            [single] => {
                Group::of_type(single).filter(|g| g.keywords().iter().any(|k| map.contains_key(*k)))
            }
            _ => None,
        };
        if deferred.is_none() && !types.is_empty() && !types.iter().any(|t| is_type(t, data)) {
            self.type_error(map, path);
        }
        self.any_type_keywords(map, path, data);
        for group in [Group::Number, Group::String, Group::Array, Group::Object] {
            if group.applies_to(data) {
                self.group_keywords(group, map, path, data);
            } else if deferred == Some(group) {
                self.type_error(map, path);
            }
        }
        self.depth -= 1;
    }

    fn type_error(&mut self, map: &Map, path: &str) {
        let schema_type = map.get("type").cloned().unwrap_or_default();
        let message = format!("must be {}", schema_type.to_js_string());
        self.error(
            format!("{path}/type"),
            "type",
            params(&[("type", schema_type)]),
            message,
        );
    }

    fn any_type_keywords(&mut self, map: &Map, path: &str, data: &Value) {
        if let Some(allowed) = map.get("const")
            && allowed != data
        {
            self.error(
                format!("{path}/const"),
                "const",
                params(&[("allowedValue", allowed.clone())]),
                "must be equal to constant".to_owned(),
            );
        }
        if let Some(Value::Array(allowed)) = map.get("enum")
            && !allowed.iter().any(|v| v == data)
        {
            self.error(
                format!("{path}/enum"),
                "enum",
                params(&[("allowedValues", Value::Array(allowed.clone()))]),
                "must be equal to one of the allowed values".to_owned(),
            );
        }
        if let Some(not) = map.get("not") {
            let not_path = format!("{path}/not");
            if self.trial(not, &not_path, data).is_empty() {
                self.error(not_path, "not", Map::new(), "must NOT be valid".to_owned());
            }
        }
        if let Some(Value::Array(subs)) = map.get("anyOf") {
            let mut failures = Vec::new();
            let mut passed = false;
            for (i, sub) in subs.iter().enumerate() {
                let errs = self.trial(sub, &format!("{path}/anyOf/{i}"), data);
                if errs.is_empty() {
                    passed = true;
                    break;
                }
                failures.extend(errs);
            }
            if !passed {
                self.errors.extend(failures);
                self.error(
                    format!("{path}/anyOf"),
                    "anyOf",
                    Map::new(),
                    "must match a schema in anyOf".to_owned(),
                );
            }
        }
        if let Some(Value::Array(subs)) = map.get("oneOf") {
            let mut failures = Vec::new();
            let mut passing = Vec::new();
            for (i, sub) in subs.iter().enumerate() {
                let errs = self.trial(sub, &format!("{path}/oneOf/{i}"), data);
                if errs.is_empty() {
                    passing.push(i);
                    if passing.len() > 1 {
                        break;
                    }
                } else {
                    failures.extend(errs);
                }
            }
            match passing.as_slice() {
                [_] => {}
                [] => {
                    self.errors.extend(failures);
                    self.error(
                        format!("{path}/oneOf"),
                        "oneOf",
                        params(&[("passingSchemas", Value::Null)]),
                        "must match exactly one schema in oneOf".to_owned(),
                    );
                }
                both => {
                    let both = Value::Array(both.iter().map(|&i| Value::from(i)).collect());
                    self.error(
                        format!("{path}/oneOf"),
                        "oneOf",
                        params(&[("passingSchemas", both)]),
                        "must match exactly one schema in oneOf".to_owned(),
                    );
                }
            }
        }
        if let Some(Value::Array(subs)) = map.get("allOf") {
            for (i, sub) in subs.iter().enumerate() {
                self.validate(sub, &format!("{path}/allOf/{i}"), data);
            }
        }
        if let Some(condition) = map.get("if") {
            let holds = self
                .trial(condition, &format!("{path}/if"), data)
                .is_empty();
            let branch = if holds { "then" } else { "else" };
            if let Some(sub) = map.get(branch) {
                let errs = self.trial(sub, &format!("{path}/{branch}"), data);
                if !errs.is_empty() {
                    self.errors.extend(errs);
                    self.error(
                        format!("{path}/if"),
                        "if",
                        params(&[("failingKeyword", Value::from(branch))]),
                        format!("must match \"{branch}\" schema"),
                    );
                }
            }
        }
    }

    fn group_keywords(&mut self, group: Group, map: &Map, path: &str, data: &Value) {
        for &keyword in group.keywords() {
            let Some(value) = map.get(keyword) else {
                continue;
            };
            let at = format!("{path}/{keyword}");
            match (group, data) {
                (Group::Number, _) => self.number_keyword(keyword, value, at, data),
                (Group::String, Value::String(text)) => {
                    self.string_keyword(keyword, value, at, text);
                }
                (Group::Array, Value::Array(items)) => {
                    self.array_keyword(keyword, value, map, at, items);
                }
                (Group::Object, Value::Object(props)) => {
                    self.object_keyword(keyword, value, map, at, props);
                }
                (Group::Object, _) => {
                    self.object_keyword(keyword, value, map, at, &Map::new());
                }
                _ => {}
            }
        }
    }

    fn number_keyword(&mut self, keyword: &'static str, limit: &Value, at: String, data: &Value) {
        let (Some(n), Some(l)) = (data.as_f64(), limit.as_f64()) else {
            return;
        };
        let comparison = match keyword {
            "maximum" if n > l => "<=",
            "minimum" if n < l => ">=",
            "exclusiveMaximum" if n >= l => "<",
            "exclusiveMinimum" if n <= l => ">",
            "multipleOf" => {
                let q = n / l;
                if q.is_finite() && q.fract() == 0.0 {
                    return;
                }
                self.error(
                    at,
                    keyword,
                    params(&[("multipleOf", limit.clone())]),
                    format!("must be multiple of {}", format_number(l)),
                );
                return;
            }
            _ => return,
        };
        self.error(
            at,
            keyword,
            params(&[
                ("comparison", Value::from(comparison)),
                ("limit", limit.clone()),
            ]),
            format!("must be {comparison} {}", format_number(l)),
        );
    }

    fn string_keyword(&mut self, keyword: &'static str, value: &Value, at: String, text: &str) {
        match keyword {
            "maxLength" | "minLength" => {
                let limit = value.as_i64().unwrap_or(0);
                let len = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
                let (broken, word) = if keyword == "maxLength" {
                    (len > limit, "more")
                } else {
                    (len < limit, "fewer")
                };
                if broken {
                    self.error(
                        at,
                        keyword,
                        params(&[("limit", value.clone())]),
                        format!("must NOT have {word} than {limit} characters"),
                    );
                }
            }
            "pattern" => {
                let pattern = value.as_str().unwrap_or_default();
                let matched = self.schema.patterns.get(pattern).is_some_and(|m| m(text));
                if !matched {
                    self.error(
                        at,
                        keyword,
                        params(&[("pattern", value.clone())]),
                        format!("must match pattern \"{pattern}\""),
                    );
                }
            }
            _ => {}
        }
    }

    fn array_keyword(
        &mut self,
        keyword: &'static str,
        value: &Value,
        map: &Map,
        at: String,
        items: &[Value],
    ) {
        match keyword {
            "maxItems" | "minItems" => {
                let limit = value.as_i64().unwrap_or(0);
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let (broken, word) = if keyword == "maxItems" {
                    (len > limit, "more")
                } else {
                    (len < limit, "fewer")
                };
                if broken {
                    self.error(
                        at,
                        keyword,
                        params(&[("limit", value.clone())]),
                        format!("must NOT have {word} than {limit} items"),
                    );
                }
            }
            "uniqueItems" if value.as_bool() == Some(true) => {
                // ajv scans from the end and reports the last duplicate pair it meets.
                for i in (0..items.len()).rev() {
                    if let Some(j) = (0..i).rev().find(|&j| items[j] == items[i]) {
                        self.error(
                            at,
                            keyword,
                            params(&[("i", Value::from(i)), ("j", Value::from(j))]),
                            format!(
                                "must NOT have duplicate items (items ## {j} and {i} are identical)"
                            ),
                        );
                        return;
                    }
                }
            }
            "additionalItems" => {
                let Some(Value::Array(tuple)) = map.get("items") else {
                    return;
                };
                if items.len() <= tuple.len() {
                    return;
                }
                if value.as_bool() == Some(false) {
                    self.error(
                        at,
                        keyword,
                        params(&[("limit", Value::from(tuple.len()))]),
                        format!("must NOT have more than {} items", tuple.len()),
                    );
                } else {
                    for (i, item) in items.iter().enumerate().skip(tuple.len()) {
                        self.validate_child(value, &at, &i.to_string(), item);
                    }
                }
            }
            "items" => match value {
                Value::Array(tuple) => {
                    for (i, (sub, item)) in tuple.iter().zip(items).enumerate() {
                        self.validate_child(sub, &format!("{at}/{i}"), &i.to_string(), item);
                    }
                }
                sub => {
                    for (i, item) in items.iter().enumerate() {
                        self.validate_child(sub, &at, &i.to_string(), item);
                    }
                }
            },
            "contains" => {
                let found = items
                    .iter()
                    .any(|item| self.trial(value, &at, item).is_empty());
                if !found {
                    self.error(
                        at,
                        keyword,
                        params(&[("minContains", Value::Int(1))]),
                        "must contain at least 1 valid item(s)".to_owned(),
                    );
                }
            }
            _ => {}
        }
    }

    fn object_keyword(
        &mut self,
        keyword: &'static str,
        value: &Value,
        map: &Map,
        at: String,
        props: &Map,
    ) {
        match keyword {
            "maxProperties" | "minProperties" => {
                let limit = value.as_i64().unwrap_or(0);
                let len = i64::try_from(props.len()).unwrap_or(i64::MAX);
                let (broken, word) = if keyword == "maxProperties" {
                    (len > limit, "more")
                } else {
                    (len < limit, "fewer")
                };
                if broken {
                    self.error(
                        at,
                        keyword,
                        params(&[("limit", value.clone())]),
                        format!("must NOT have {word} than {limit} properties"),
                    );
                }
            }
            "required" => {
                for name in value.as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap_or_default();
                    if !props.contains_key(name) {
                        self.error(
                            at.clone(),
                            keyword,
                            params(&[("missingProperty", Value::from(name))]),
                            format!("must have required property '{name}'"),
                        );
                    }
                }
            }
            "propertyNames" => {
                for key in props.keys() {
                    let errs = self.trial(value, &at, &Value::from(key.as_str()));
                    if !errs.is_empty() {
                        self.errors.extend(errs);
                        self.error(
                            at.clone(),
                            keyword,
                            params(&[("propertyName", Value::from(key.as_str()))]),
                            "property name must be valid".to_owned(),
                        );
                    }
                }
            }
            "additionalProperties" => {
                let declared = map.get("properties").and_then(Value::as_object);
                let patterns: Vec<&str> = map
                    .get("patternProperties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                for (key, item) in props {
                    let is_declared = declared.is_some_and(|d| d.contains_key(key))
                        || patterns
                            .iter()
                            .any(|p| self.schema.patterns.get(*p).is_some_and(|m| m(key)));
                    if is_declared {
                        continue;
                    }
                    if value.as_bool() == Some(false) {
                        self.error(
                            at.clone(),
                            keyword,
                            params(&[("additionalProperty", Value::from(key.as_str()))]),
                            "must NOT have additional properties".to_owned(),
                        );
                    } else {
                        self.validate_child(value, &at, key, item);
                    }
                }
            }
            "dependencies" => {
                for (name, dep) in value.as_object().into_iter().flatten() {
                    if !props.contains_key(name) {
                        continue;
                    }
                    match dep {
                        Value::Array(needed) => {
                            let names: Vec<&str> =
                                needed.iter().filter_map(Value::as_str).collect();
                            let word = if names.len() == 1 {
                                "property"
                            } else {
                                "properties"
                            };
                            let deps = names.join(", ");
                            for missing in names.iter().filter(|n| !props.contains_key(**n)) {
                                self.error(
                                    at.clone(),
                                    keyword,
                                    params(&[
                                        ("property", Value::from(name.as_str())),
                                        ("missingProperty", Value::from(*missing)),
                                        ("depsCount", Value::from(names.len())),
                                        ("deps", Value::from(deps.as_str())),
                                    ]),
                                    format!(
                                        "must have {word} {deps} when property {name} is present"
                                    ),
                                );
                            }
                        }
                        sub => {
                            let sub_path = format!("{at}/{}", schema_token(name));
                            let whole = Value::Object(props.clone());
                            self.validate(sub, &sub_path, &whole);
                        }
                    }
                }
            }
            "properties" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    if let Some(item) = props.get(name) {
                        let sub_path = format!("{at}/{}", schema_token(name));
                        self.validate_child(sub, &sub_path, name, item);
                    }
                }
            }
            "patternProperties" => {
                for (pattern, sub) in value.as_object().into_iter().flatten() {
                    let sub_path = format!("{at}/{}", schema_token(pattern));
                    for (key, item) in props {
                        let matches = self.schema.patterns.get(pattern).is_some_and(|m| m(key));
                        if matches {
                            self.validate_child(sub, &sub_path, key, item);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(json: serde_json::Value) -> Value {
        Value::from(json)
    }

    fn check(schema: serde_json::Value, data: serde_json::Value) -> String {
        let schema = Schema::compile(&value(schema)).expect("compiles");
        errors_text(&schema.validate(&value(data)))
    }

    #[test]
    fn reports_like_ajv() {
        let person = serde_json::json!({
            "type": "object",
            "properties": {"number": {"type": "number"}, "string": {"type": "string"}}
        });
        assert_eq!(
            check(
                person.clone(),
                serde_json::json!({"number": "foo", "string": 3})
            ),
            "data/number must be number, data/string must be string"
        );
        assert_eq!(check(person, serde_json::json!({"number": 3})), "");
        assert_eq!(
            check(
                serde_json::json!({"properties": {"a": {}}, "required": ["a", "b"], "additionalProperties": false}),
                serde_json::json!({"a": 1, "c": 2})
            ),
            "data must have required property 'b', data must NOT have additional properties"
        );
        assert_eq!(
            check(
                serde_json::json!({"type": "array", "items": {"type": "integer", "minimum": 2}, "uniqueItems": true}),
                serde_json::json!([2, 1.5, 2])
            ),
            "data must NOT have duplicate items (items ## 0 and 2 are identical), \
             data/1 must be integer, data/1 must be >= 2"
        );
        assert_eq!(
            check(
                serde_json::json!({"type": "string", "pattern": "^a", "maxLength": 2}),
                serde_json::json!("bcd")
            ),
            "data must NOT have more than 2 characters, data must match pattern \"^a\""
        );
        assert_eq!(
            check(
                serde_json::json!({"type": ["string", "null"]}),
                serde_json::json!(1)
            ),
            "data must be string,null"
        );
        assert_eq!(
            check(
                serde_json::json!({"definitions": {"p": {"enum": [1, 2]}}, "items": {"$ref": "#/definitions/p"}}),
                serde_json::json!([1, 3])
            ),
            "data/1 must be equal to one of the allowed values"
        );
        assert_eq!(
            check(
                serde_json::json!({"anyOf": [{"type": "string"}, {"minimum": 5}]}),
                serde_json::json!(3)
            ),
            "data must be string, data must be >= 5, data must match a schema in anyOf"
        );
    }

    #[test]
    fn schema_paths_and_params() {
        let schema = Schema::compile(&value(serde_json::json!({
            "properties": {"a b": {"type": "number"}}
        })))
        .expect("compiles");
        let errors = schema.validate(&value(serde_json::json!({"a b": "x"})));
        let got = errors_value(&errors).to_json_string();
        assert_eq!(
            got,
            r##"[{"instancePath":"/a b","schemaPath":"#/properties/a%20b/type","keyword":"type","params":{"type":"number"},"message":"must be number"}]"##
        );
    }

    #[test]
    fn refuses_what_ajv_refuses() {
        for bad in [
            serde_json::json!("garbage"),
            serde_json::json!({"type": "nope"}),
            serde_json::json!({"format": "email"}),
            serde_json::json!({"foo": 1}),
            serde_json::json!({"$ref": "#/definitions/missing"}),
            serde_json::json!({"pattern": "("}),
            serde_json::json!({"minLength": -1}),
        ] {
            assert!(Schema::compile(&value(bad.clone())).is_err(), "{bad}");
        }
        assert!(Schema::compile(&Value::Bool(true)).is_ok());
    }

    #[test]
    fn recursive_references_terminate() {
        let schema = Schema::compile(&value(serde_json::json!({"$ref": "#"}))).expect("compiles");
        assert!(!schema.validate(&Value::Null).is_empty());
    }
}
