//! `trigger` — mirrors Node-RED `@node-red/nodes/core/function/89-trigger.js`.
//!
//! Not implemented yet (issue 3): passes messages on unchanged.

use ferrite_runtime::{Build, BuildCtx, ConfigError, Node, NodeDef, Role};

use crate::common::PassOn;

pub const DEF: NodeDef = NodeDef {
    type_name: "trigger",
    category: "function",
    set_id: "node-red/trigger",
    role: Role::Plain,
    build: Build::Flow(build),
};

fn build(_cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(PassOn))
}
