//! Environment variables as Node-RED resolves them (`RED.util.getSetting`).
//!
//! A node looks a name up through a chain of levels: itself (`NR_NODE_*`), its groups
//! (innermost first), the subflow instance it runs in, the tab, `global-config`, and finally
//! the process environment. `$parent.NAME` skips the level it is asked at.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::value::Value;

/// What a level of the chain stands for; each kind answers its own `NR_*` names.
#[derive(Debug, Clone)]
pub enum LevelKind {
    Group {
        id: String,
        name: String,
    },
    Subflow {
        id: String,
        name: String,
        path: String,
    },
    Flow {
        id: String,
        name: String,
    },
    Global,
}

/// One level of the lookup chain.
#[derive(Debug)]
pub struct EnvLevel {
    pub kind: LevelKind,
    vars: IndexMap<String, Value>,
    parent: Option<Arc<EnvLevel>>,
}

impl EnvLevel {
    /// The top of every chain: `global-config` env, then the process environment.
    pub fn global(vars: IndexMap<String, Value>) -> Arc<Self> {
        Arc::new(Self {
            kind: LevelKind::Global,
            vars,
            parent: None,
        })
    }

    pub fn new(kind: LevelKind, vars: IndexMap<String, Value>, parent: Arc<EnvLevel>) -> Arc<Self> {
        Arc::new(Self {
            kind,
            vars,
            parent: Some(parent),
        })
    }

    pub fn parent(&self) -> Option<&Arc<EnvLevel>> {
        self.parent.as_ref()
    }

    /// Looks `name` up from this level outwards.
    pub fn get(&self, name: &str) -> Option<Value> {
        if let Some(rest) = name.strip_prefix("$parent.") {
            return match &self.parent {
                Some(parent) => parent.get(rest),
                None => process_env(rest),
            };
        }
        if let Some(v) = self.own(name) {
            return Some(v);
        }
        match &self.parent {
            Some(parent) => parent.get(name),
            None => process_env(name),
        }
    }

    fn own(&self, name: &str) -> Option<Value> {
        let special = match (&self.kind, name) {
            (LevelKind::Group { id, .. }, "NR_GROUP_ID") => Some(id),
            (LevelKind::Group { name, .. }, "NR_GROUP_NAME") => Some(name),
            (LevelKind::Subflow { id, .. }, "NR_SUBFLOW_ID") => Some(id),
            (LevelKind::Subflow { name, .. }, "NR_SUBFLOW_NAME") => Some(name),
            (LevelKind::Subflow { path, .. }, "NR_SUBFLOW_PATH") => Some(path),
            (LevelKind::Flow { id, .. }, "NR_FLOW_ID") => Some(id),
            (LevelKind::Flow { name, .. }, "NR_FLOW_NAME") => Some(name),
            _ => None,
        };
        if let Some(s) = special {
            return Some(Value::String(s.clone()));
        }
        self.vars.get(name).cloned()
    }
}

fn process_env(name: &str) -> Option<Value> {
    std::env::var(name).ok().map(Value::String)
}

/// A node's view of the environment: its own identity, then its level chain.
#[derive(Debug, Clone)]
pub struct Env {
    pub node_id: Arc<str>,
    pub node_name: Arc<str>,
    pub node_path: Arc<str>,
    pub level: Arc<EnvLevel>,
}

impl Env {
    /// `env.get(name)`: `None` when no level defines it.
    pub fn get(&self, name: &str) -> Option<Value> {
        match name {
            "NR_NODE_ID" => Some(Value::String(self.node_id.to_string())),
            "NR_NODE_NAME" => Some(Value::String(self.node_name.to_string())),
            "NR_NODE_PATH" => Some(Value::String(self.node_path.to_string())),
            _ => self.level.get(name),
        }
    }

    /// The typed-input `env` type: a bare name, or text with `${NAME}` parts (missing → "").
    pub fn evaluate_typed(&self, text: &str) -> Value {
        if !text.contains("${") {
            return self
                .get(text.trim())
                .unwrap_or(Value::String(String::new()));
        }
        if let Some(name) = whole_reference(text) {
            return self.get(name).unwrap_or(Value::String(String::new()));
        }
        Value::String(self.interpolate(text))
    }

    /// Replaces every `${NAME}` in `text` by its value as a string (missing → "").
    pub fn interpolate(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find('}') {
                Some(end) => {
                    let name = &after[..end];
                    if let Some(v) = self.get(name) {
                        out.push_str(&v.to_js_string());
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Node creation: every string property whose whole value is `${NAME}` (or legacy
    /// `$(NAME)`) becomes the variable's value when it is defined, recursively.
    pub fn substitute_config(&self, config: &mut Json) {
        match config {
            Json::String(s) => {
                let name = whole_reference(s).or_else(|| legacy_reference(s));
                if let Some(value) = name.and_then(|n| self.get(n)) {
                    *config = value.to_json();
                }
            }
            Json::Array(items) => items.iter_mut().for_each(|v| self.substitute_config(v)),
            Json::Object(map) => {
                // A serialised Buffer is left alone, as Node-RED skips Buffers.
                if map.get("type").and_then(Json::as_str) == Some("Buffer") {
                    return;
                }
                for (key, value) in map.iter_mut() {
                    if key != "id" && key != "type" && key != "z" && key != "wires" {
                        self.substitute_config(value);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `${NAME}` filling the whole string.
fn whole_reference(s: &str) -> Option<&str> {
    let name = s.strip_prefix("${")?.strip_suffix('}')?;
    valid_name(name).then_some(name)
}

/// The legacy `$(NAME)` form.
fn legacy_reference(s: &str) -> Option<&str> {
    let name = s.strip_prefix("$(")?.strip_suffix(')')?;
    valid_name(name).then_some(name)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Env {
        let global = EnvLevel::global(IndexMap::from([("G".to_owned(), Value::from("g"))]));
        let flow = EnvLevel::new(
            LevelKind::Flow {
                id: "f1".into(),
                name: "Flow 1".into(),
            },
            IndexMap::from([
                ("A".to_owned(), Value::from("flow-a")),
                ("N".to_owned(), Value::from(5)),
            ]),
            global,
        );
        let group = EnvLevel::new(
            LevelKind::Group {
                id: "g1".into(),
                name: "Group".into(),
            },
            IndexMap::from([("A".to_owned(), Value::from("group-a"))]),
            flow,
        );
        Env {
            node_id: "n1".into(),
            node_name: "name".into(),
            node_path: "f1/n1".into(),
            level: group,
        }
    }

    #[test]
    fn the_innermost_level_wins_and_parent_skips_it() {
        let env = chain();
        assert_eq!(env.get("A"), Some(Value::from("group-a")));
        assert_eq!(env.get("$parent.A"), Some(Value::from("flow-a")));
        assert_eq!(env.get("G"), Some(Value::from("g")));
        assert_eq!(env.get("NR_FLOW_NAME"), Some(Value::from("Flow 1")));
        assert_eq!(env.get("NR_GROUP_ID"), Some(Value::from("g1")));
        assert_eq!(env.get("NR_NODE_NAME"), Some(Value::from("name")));
        assert_eq!(env.get("NO_SUCH_VARIABLE_FERRITE"), None);
    }

    #[test]
    fn whole_string_references_are_substituted_keeping_their_type() {
        let env = chain();
        let mut config =
            serde_json::json!({"a": "${N}", "b": "x ${N}", "c": ["${A}"], "d": "${MISSING_X}"});
        env.substitute_config(&mut config);
        assert_eq!(
            config,
            serde_json::json!({"a": 5, "b": "x ${N}", "c": ["group-a"], "d": "${MISSING_X}"})
        );
    }

    #[test]
    fn typed_env_interpolates_embedded_references() {
        let env = chain();
        assert_eq!(env.evaluate_typed("A"), Value::from("group-a"));
        assert_eq!(
            env.evaluate_typed("${A}-${MISSING_X}!"),
            Value::from("group-a-!")
        );
        assert_eq!(env.evaluate_typed("${N}"), Value::from(5));
    }
}
