//! Stage 1 of a deploy: flows.json text to a list of raw node objects.
//!
//! Every object is kept whole (unknown keys included), so exporting what was imported gives
//! the same JSON. Only the fields every node shares are read here, leniently.

use serde_json::{Map, Value as Json};

use super::report::{DeployIssue, DeployReport};

/// One object of flows.json with the shared fields read out.
#[derive(Debug, Clone)]
pub struct RawNode {
    pub id: String,
    pub type_name: String,
    /// Containing tab or subflow.
    pub z: Option<String>,
    /// Containing group.
    pub g: Option<String>,
    pub name: String,
    /// `d: true`: not instantiated.
    pub disabled: bool,
    /// Per output port, the ids of the target nodes.
    pub wires: Vec<Vec<String>>,
    /// The whole object as found in the file.
    pub config: Map<String, Json>,
}

impl RawNode {
    /// Reads the shared fields of one flows.json object; `None` when it has no id or type.
    pub fn from_json(config: Map<String, Json>) -> Result<Self, String> {
        let text = |key: &str| match config.get(key) {
            Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let id = text("id").ok_or("an object has no \"id\"")?;
        let type_name = text("type").ok_or_else(|| format!("node {id} has no \"type\""))?;
        let wires = match config.get("wires") {
            Some(Json::Array(ports)) => ports
                .iter()
                .map(|port| match port {
                    Json::Array(targets) => targets
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect(),
                    // A single id where an array was expected (hand-edited flows).
                    Json::String(target) => vec![target.clone()],
                    _ => Vec::new(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            z: text("z"),
            g: text("g"),
            name: text("name").unwrap_or_default(),
            disabled: config.get("d").is_some_and(loose_true),
            wires,
            id,
            type_name,
            config,
        })
    }

    /// A string property of the raw config.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Json::as_str)
    }
}

/// `true` and `"true"` (any case) are true, as Node-RED's `== "true"` checks accept both.
pub fn loose_true(value: &Json) -> bool {
    match value {
        Json::Bool(b) => *b,
        Json::String(s) => s.eq_ignore_ascii_case("true"),
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// Parses flows.json text. Syntax errors carry line and column.
pub fn parse_flows_text(text: &str) -> Result<Vec<Json>, DeployReport> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Array(items)) => Ok(items),
        // Node-RED also accepts `{flows:[...], rev}` (the v2 API shape) in some places.
        Ok(Json::Object(mut obj)) => match obj.remove("flows") {
            Some(Json::Array(items)) => Ok(items),
            _ => Err(DeployReport::single(DeployIssue::flows(
                "flows file must contain a JSON array of nodes",
            ))),
        },
        Ok(_) => Err(DeployReport::single(DeployIssue::flows(
            "flows file must contain a JSON array of nodes",
        ))),
        Err(e) => Err(DeployReport::single(DeployIssue::flows(format!(
            "invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )))),
    }
}

/// Reads every object of a flows array; objects without id or type are reported.
pub fn read_nodes(items: &[Json], report: &mut DeployReport) -> Vec<RawNode> {
    let mut nodes = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match item {
            Json::Object(obj) => match RawNode::from_json(obj.clone()) {
                Ok(node) => nodes.push(node),
                Err(e) => report.push(DeployIssue::flows(format!("flows[{index}]: {e}"))),
            },
            _ => report.push(DeployIssue::flows(format!(
                "flows[{index}] is not an object"
            ))),
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = parse_flows_text("[\n{\"id\": }\n]").expect_err("bad json");
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("column"), "{text}");
    }

    #[test]
    fn loose_fields_are_read_from_strings_and_booleans() {
        let Json::Object(obj) = json!({"id":"n1","type":"debug","d":"true","wires":["x"]}) else {
            unreachable!()
        };
        let node = RawNode::from_json(obj).expect("valid");
        assert!(node.disabled);
        assert_eq!(node.wires, vec![vec!["x".to_owned()]]);
    }
}
