//! `junction` — mirrors Node-RED `@node-red/nodes/core/common/05-junction.js`.
//!
//! No config. Sends every message it receives on unchanged (a wiring aid).

use ferrite_runtime::{Build, ConfigError, Node, NodeDef, Role};

use super::PassOn;

pub const DEF: NodeDef = NodeDef {
    type_name: "junction",
    category: "common",
    set_id: "node-red/junction",
    role: Role::Plain,
    build: Build::Flow(build),
};

fn build(_cx: &mut ferrite_runtime::BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(PassOn))
}
