//! `json` — mirrors Node-RED `@node-red/nodes/core/parsers/70-JSON.js`.
//!
//! Config keys: `property` (the message property to convert, default `payload`; an invalid
//! property expression is a deploy error), `action` (`""` converts both ways, `"str"` only
//! turns values into JSON text, `"obj"` only parses text; any other value converts nothing),
//! `pretty` (false; true indents JSON text by 4 spaces, exactly `JSON.stringify(v, null, 4)`),
//! `name`.
//!
//! Reads `property` and `msg.schema`; writes `property` and `msg.schemaError`, deletes
//! `msg.schema` once a message passed validation. Per message:
//! * property missing: the message passes on unchanged;
//! * a string or a Buffer (decoded as UTF-8) is parsed as `JSON.parse` does (see
//!   [`parse`]: JavaScript numbers and key order, V8's error messages such as
//!   `Unexpected token 'o', "foo" is not valid JSON`); a parse error fails the message
//!   (catchable, else logged), nothing is sent;
//! * any other value (object, array, number, boolean, null) becomes JSON text.
//!
//! With `action` `str` a string is passed on as it is (even a Buffer), with `obj` an object.
//! Node-RED's "Ignored unsupported payload type" warning is for JavaScript values (functions,
//! symbols) a Ferrite message cannot hold, so it never occurs.
//!
//! A truthy `msg.schema` is compiled (and kept while following messages bring the same
//! schema) and the value, parsed or about to be stringified, is validated against it (see
//! [`schema`]). A schema that does not compile fails the message with `JSON Schema error:
//! failed to compile schema`; a value that does not validate fails it with `JSON Schema
//! error: <ajv's errorsText>` and the errors in `msg.schemaError`. No status is shown.

mod parse;
mod schema;

use ferrite_runtime::path::PropPath;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde::Deserialize;

pub use parse::parse;
use schema::{Schema, SchemaError};

pub const DEF: NodeDef = NodeDef {
    type_name: "json",
    category: "parser",
    set_id: "node-red/JSON",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// `JSON.stringify(v, null, 4)` when `pretty` is set.
const PRETTY_INDENT: usize = 4;
const SCHEMA_ERROR: &str = "JSON Schema error";
const SCHEMA_COMPILE_ERROR: &str = "JSON Schema error: failed to compile schema";

#[derive(Deserialize)]
struct Config {
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    property: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::string")]
    action: String,
    #[serde(default, deserialize_with = "ferrite_runtime::loose::bool")]
    pretty: bool,
}

struct JsonNode {
    property: PropPath,
    /// Strings and Buffers are parsed (`action` `""` or `obj`).
    parse_text: bool,
    /// Other values become JSON text (`action` `""` or `str`).
    stringify: bool,
    indent: usize,
    /// The last schema compiled from `msg.schema`.
    schema: Option<Schema>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config: Config = cx.config()?;
    let property = if config.property.is_empty() {
        "payload"
    } else {
        config.property.as_str()
    };
    let property = PropPath::parse_msg(property).map_err(|e| ConfigError::field("property", e))?;
    let action = config.action.as_str();
    Ok(Box::new(JsonNode {
        property,
        parse_text: matches!(action, "" | "obj"),
        stringify: matches!(action, "" | "str"),
        indent: if config.pretty { PRETTY_INDENT } else { 0 },
        schema: None,
    }))
}

/// What to do with the message once the property has been looked at.
enum Outcome {
    /// Send it (after deleting `msg.schema` if it was validated).
    Pass,
    /// Replace the property, then send.
    Set(Value),
    /// The value broke the schema.
    Invalid(Vec<SchemaError>),
    /// Replace the property (the parsed value), then fail on the schema errors.
    SetInvalid(Value, Vec<SchemaError>),
}

#[async_trait]
impl Node for JsonNode {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let validating = msg.get("schema").is_some_and(Value::is_truthy);
        if validating {
            let given = msg.get("schema").unwrap_or(&Value::Null);
            if !self.schema.as_ref().is_some_and(|s| s.source() == given) {
                self.schema = Schema::compile(given).ok();
                if self.schema.is_none() {
                    return Err(NodeError::new(SCHEMA_COMPILE_ERROR).for_msg(msg));
                }
            }
        }
        let schema = if validating {
            self.schema.as_ref()
        } else {
            None
        };
        let check = |value: &Value| schema.map(|s| s.validate(value)).unwrap_or_default();

        let outcome = match msg.get_path(&self.property) {
            None => Outcome::Pass,
            Some(value @ (Value::String(_) | Value::Bytes(_))) => {
                if !self.parse_text && schema.is_none() {
                    Outcome::Pass
                } else {
                    let parsed = match value {
                        Value::Bytes(bytes) => parse(&String::from_utf8_lossy(bytes)),
                        other => parse(other.as_str().unwrap_or_default()),
                    };
                    let parsed = match parsed {
                        Ok(parsed) => parsed,
                        Err(e) => return Err(NodeError::new(e).for_msg(msg)),
                    };
                    let errors = check(&parsed);
                    match (self.parse_text, errors.is_empty()) {
                        (true, true) => Outcome::Set(parsed),
                        (true, false) => Outcome::SetInvalid(parsed, errors),
                        (false, true) => Outcome::Pass,
                        (false, false) => Outcome::Invalid(errors),
                    }
                }
            }
            Some(value) => {
                let errors = check(value);
                if !errors.is_empty() {
                    Outcome::Invalid(errors)
                } else if self.stringify {
                    Outcome::Set(Value::String(value.to_json_pretty(self.indent)))
                } else {
                    Outcome::Pass
                }
            }
        };

        let errors = match outcome {
            Outcome::Pass => None,
            Outcome::Set(value) => {
                self.set(&mut msg, value)?;
                None
            }
            Outcome::Invalid(errors) => Some(errors),
            Outcome::SetInvalid(value, errors) => {
                self.set(&mut msg, value)?;
                Some(errors)
            }
        };
        if let Some(errors) = errors {
            let text = format!("{SCHEMA_ERROR}: {}", schema::errors_text(&errors));
            msg.insert("schemaError", schema::errors_value(&errors));
            return Err(NodeError::new(text).for_msg(msg));
        }
        if validating {
            msg.remove("schema");
        }
        cx.send(msg).await;
        Ok(())
    }
}

impl JsonNode {
    fn set(&self, msg: &mut Msg, value: Value) -> Result<(), NodeError> {
        msg.set_path(&self.property, value)
            .map_err(|e| NodeError::new(e.to_string()).with_msg(msg))
    }
}
