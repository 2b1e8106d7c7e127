//! `switch` — mirrors Node-RED `@node-red/nodes/core/function/10-switch.js`.
//!
//! Not implemented yet (issue 3): passes messages on unchanged.

use ferrite_runtime::{Build, BuildCtx, ConfigError, Node, NodeDef, Role};

use crate::common::PassOn;

pub const DEF: NodeDef = NodeDef {
    type_name: "switch",
    category: "function",
    set_id: "node-red/switch",
    role: Role::Plain,
    build: Build::Flow(build),
};

fn build(_cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(PassOn))
}
