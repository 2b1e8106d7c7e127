//! Every problem a deploy finds, collected into one report for the CLI, the API and the editor.

use std::fmt;

use serde::Serialize;

/// One problem, tied to a node where there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployIssue {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub node_type: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub message: String,
}

impl DeployIssue {
    /// A problem with the flows as a whole (syntax, shape).
    pub fn flows(message: impl Into<String>) -> Self {
        Self {
            node_id: None,
            node_type: None,
            name: String::new(),
            message: message.into(),
        }
    }

    /// A problem with one node.
    pub fn node(id: &str, node_type: &str, name: &str, message: impl Into<String>) -> Self {
        Self {
            node_id: Some(id.to_owned()),
            node_type: Some(node_type.to_owned()),
            name: name.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for DeployIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.node_id, &self.node_type) {
            (Some(id), Some(t)) if self.name.is_empty() => {
                write!(f, "error: [{t}:{id}] {}", self.message)
            }
            (Some(id), Some(t)) => {
                write!(f, "error: [{t}:{id}] ({}) {}", self.name, self.message)
            }
            _ => write!(f, "error: {}", self.message),
        }
    }
}

/// The outcome of checking or deploying flows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeployReport {
    pub issues: Vec<DeployIssue>,
    /// Node types no registered node provides; while any exist the flows stay stopped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_types: Vec<String>,
}

impl DeployReport {
    pub fn single(issue: DeployIssue) -> Self {
        Self {
            issues: vec![issue],
            missing_types: Vec::new(),
        }
    }

    pub fn push(&mut self, issue: DeployIssue) {
        self.issues.push(issue);
    }

    /// Whether the flows can run: no flow-level errors and no missing types. Node-level
    /// errors only skip the node concerned.
    pub fn flows_can_start(&self) -> bool {
        self.missing_types.is_empty() && !self.issues.iter().any(|i| i.node_id.is_none())
    }

    pub fn is_clean(&self) -> bool {
        self.issues.is_empty() && self.missing_types.is_empty()
    }
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.missing_types.is_empty() {
            writeln!(
                f,
                "error: missing node types (flows stay stopped): {}",
                self.missing_types.join(", ")
            )?;
        }
        for issue in &self.issues {
            writeln!(f, "{issue}")?;
        }
        Ok(())
    }
}
