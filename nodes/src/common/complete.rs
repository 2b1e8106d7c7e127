//! `complete` — mirrors Node-RED `@node-red/nodes/core/common/24-complete.js`.
//!
//! Config: `scope` (array of node ids; ids this node is wired to are left out), `name`.
//! Receives (from the runtime) a copy of each message a node in scope is done with, with
//! `msg.complete = {source: {id, type, name}}`, and sends it on.

use ferrite_runtime::{Build, ConfigError, Node, NodeDef, Role};

use super::PassOn;

pub const DEF: NodeDef = NodeDef {
    type_name: "complete",
    category: "common",
    set_id: "node-red/complete",
    role: Role::Complete,
    build: Build::Flow(build),
};

fn build(_cx: &mut ferrite_runtime::BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(PassOn))
}
