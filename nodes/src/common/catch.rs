//! `catch` — mirrors Node-RED `@node-red/nodes/core/common/25-catch.js`.
//!
//! Config: `scope` (null = whole flow, array of node ids, or `"group"`), `uncaught` (only
//! errors no other catch node handled), `name`.
//! Receives (from the runtime) a copy of the failing message with `msg.error =
//! {message, source: {id, type, name, count}}` (a previous `msg.error` moves to
//! `msg._error`) and sends it on.

use ferrite_runtime::{Build, ConfigError, Node, NodeDef, Role};

use super::PassOn;

pub const DEF: NodeDef = NodeDef {
    type_name: "catch",
    category: "common",
    set_id: "node-red/catch",
    role: Role::Catch,
    build: Build::Flow(build),
};

fn build(_cx: &mut ferrite_runtime::BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(PassOn))
}
