//! What a node type implements, and how it is registered.
//!
//! The runtime owns one task per node. The task waits on the node's wired inbox and its own
//! event inbox and calls the methods below, one at a time, so a node gets `&mut self` and
//! needs no locks. `Ok(())` from `on_input` is Node-RED's `done()`; `Err` is `done(err)`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::ctx::{BuildCtx, NodeCtx};
use crate::msg::Msg;
use crate::value::Value;

/// A flow node: anything with (potentially) an input, outputs and a life cycle.
#[async_trait]
pub trait Node: Send + 'static {
    /// Called once after every node of the deploy has been built, before any message.
    async fn on_start(&mut self, _cx: &mut NodeCtx) -> Result<(), NodeError> {
        Ok(())
    }

    /// A message arrived on the input. Return `Ok(())` when done with it (Complete nodes
    /// then see it) or an error (routed to Catch nodes when it carries the message).
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError>;

    /// A timer fired or a background job posted something to this node's own inbox.
    async fn on_event(&mut self, _event: Event, _cx: &mut NodeCtx) -> Result<(), NodeError> {
        Ok(())
    }

    /// The node is stopped: `removed` is true when the deploy deleted it (not restarted).
    async fn on_close(&mut self, _removed: bool, _cx: &mut NodeCtx) {}
}

/// A config node (`mqtt-broker`, `tls-config`, ...): shared by the flow nodes that name it.
#[async_trait]
pub trait ConfigNode: Any + Send + Sync {
    /// Releases connections; called after every flow node using it has closed.
    async fn close(&self) {}
    /// For typed lookups (`BuildCtx::config_node::<T>`).
    fn as_any(&self) -> &dyn Any;
}

/// Something posted to a node's own inbox.
#[derive(Debug)]
pub enum Event {
    /// A timer set with `NodeCtx::every` / `NodeCtx::after` fired.
    Timer(TimerId),
    /// A message posted by a background task the node spawned, or returned to a link call.
    Message(Msg),
    /// The editor's button on the node switched it on (`true`) or off, e.g. a debug node's
    /// sidebar output (`POST /debug/:id/enable|disable`). Nodes without a button ignore it.
    Toggle(bool),
    /// Anything else a node's helpers want to hand back to it.
    Custom(Box<dyn Any + Send>),
}

/// Identifies a timer of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(pub u64);

/// How the runtime routes messages to a node besides its wires. The runtime knows routing
/// roles (Node-RED's Flow.js does too), never concrete node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An ordinary node.
    Plain,
    /// Receives errors of nodes in its `scope` (catch).
    Catch,
    /// Receives status changes of nodes in its `scope` (status).
    Status,
    /// Receives messages nodes in its `scope` are done with (complete).
    Complete,
    /// Target of link out / link call; its incoming wires are computed from `links`.
    LinkIn,
    /// Its wires are computed from its `links` and the link-ins naming it.
    LinkOut,
}

/// Builds a flow node from its config.
pub type BuildFlowNode = fn(&mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError>;
/// Builds a config node from its config.
pub type BuildConfigNode = fn(&mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError>;

/// The two kinds of node type.
#[derive(Clone, Copy)]
pub enum Build {
    Flow(BuildFlowNode),
    Config(BuildConfigNode),
}

/// One row of the registration table (`ferrite_nodes::ALL`).
#[derive(Clone, Copy)]
pub struct NodeDef {
    /// Node-RED's type string, e.g. `"link in"`.
    pub type_name: &'static str,
    /// Palette category, as Node-RED's editor names it ("common", "function", ...).
    pub category: &'static str,
    /// Node-RED's node set id (`node-red/inject`), used by `GET /nodes`.
    pub set_id: &'static str,
    pub role: Role,
    pub build: Build,
}

impl fmt::Debug for NodeDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeDef")
            .field("type_name", &self.type_name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A node's status badge (`node.status({fill, shape, text})`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Status {
    /// `{}`: clears the badge.
    pub fn clear() -> Self {
        Self::default()
    }
    /// Text only, like `node.status("text")`.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }
    pub fn dot(fill: &str, text: impl Into<String>) -> Self {
        Self {
            fill: Some(fill.to_owned()),
            shape: Some("dot".to_owned()),
            text: Some(text.into()),
        }
    }
    pub fn ring(fill: &str, text: impl Into<String>) -> Self {
        Self {
            fill: Some(fill.to_owned()),
            shape: Some("ring".to_owned()),
            text: Some(text.into()),
        }
    }
    /// Reads a status object as a flow gives it (`msg.status`, a subflow status output).
    pub fn from_value(value: &Value) -> Self {
        match value {
            Value::Object(map) => {
                let field = |key: &str| match map.get(key) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v.to_js_string()),
                };
                Self {
                    fill: field("fill"),
                    shape: field("shape"),
                    text: field("text"),
                }
            }
            Value::Null => Self::clear(),
            other => Self::text(other.to_js_string()),
        }
    }
    pub fn is_clear(&self) -> bool {
        self.fill.is_none() && self.shape.is_none() && self.text.is_none()
    }
}

/// `done(err)`: an error while handling a message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    pub message: String,
    /// Optional error code (`msg.error.code`).
    pub code: Option<String>,
    /// The message the error is about. Only errors that carry one reach Catch nodes, as in
    /// Node-RED, where `node.error(err)` without a message is only logged.
    pub msg: Option<Msg>,
}

impl NodeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: None,
            msg: None,
        }
    }
    /// Attaches the message so Catch nodes receive it (an `Arc` copy, made only on error).
    #[must_use]
    pub fn with_msg(mut self, msg: &Msg) -> Self {
        self.msg = Some(msg.clone());
        self
    }
    /// Attaches an owned message.
    #[must_use]
    pub fn for_msg(mut self, msg: Msg) -> Self {
        self.msg = Some(msg);
        self
    }
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

impl From<String> for NodeError {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for NodeError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

/// A node's configuration cannot be used; reported at deploy with the node's id and type.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("missing config node '{id}' for {field}")]
    MissingConfigNode { field: String, id: String },
}

impl ConfigError {
    pub fn field(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self::Field {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}
