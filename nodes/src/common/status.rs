//! `status` — mirrors Node-RED `@node-red/nodes/core/common/25-status.js`.
//!
//! Config: `scope` (null = whole flow, array of node ids, or `"group"`), `name`.
//! Receives (from the runtime) `{status: {fill, shape, text, source: {id, type, name}}}`
//! whenever a node in scope changes its status, and sends it on.

use ferrite_runtime::{Build, ConfigError, Node, NodeDef, Role};

use super::PassOn;

pub const DEF: NodeDef = NodeDef {
    type_name: "status",
    category: "common",
    set_id: "node-red/status",
    role: Role::Status,
    build: Build::Flow(build),
};

fn build(_cx: &mut ferrite_runtime::BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(PassOn))
}
