//! Ferrite's flow engine: loads Node-RED flows.json and runs it with Node-RED's message
//! semantics. It knows routing roles (catch, status, complete, links, subflows) but no
//! concrete node type: those live in `ferrite-nodes` and arrive through a [`Registry`].
//!
//! The three paths through the code: messages go node task → [`ctx::NodeCtx::send`] →
//! [`route::Inbox`] → next task; deploys go [`flows`] → [`engine::Runtime::deploy`]; state
//! goes through [`context`] and the SQLite [`store`].

pub mod admin;
pub mod context;
pub mod credentials;
pub mod ctx;
pub mod engine;
pub mod env;
pub mod events;
pub mod files;
pub mod flows;
pub mod history;
pub mod loose;
pub mod msg;
pub mod node;
pub mod path;
pub mod registry;
pub mod route;
pub mod settings;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod typed;
pub mod ui;
pub mod value;

pub use ctx::{BuildCtx, EventSender, Feed, NodeCtx};
pub use engine::{Runtime, RuntimeError};
pub use flows::diff::DeployKind;
pub use flows::report::{DeployIssue, DeployReport};
pub use msg::{Msg, Receipt};
pub use node::{
    Build, ConfigError, ConfigNode, Event, Node, NodeDef, NodeError, Role, Status, TimerId,
};
pub use registry::Registry;
pub use settings::Settings;
pub use value::{Map, Value};

/// Re-exported so node crates implement [`Node`] with the same macro version.
pub use async_trait::async_trait;
