//! `csv` — mirrors Node-RED `@node-red/nodes/core/parsers/70-CSV.js`.
//!
//! Not implemented yet (issue 3): passes messages on unchanged.

use ferrite_runtime::{Build, BuildCtx, ConfigError, Node, NodeDef, Role};

use crate::common::PassOn;

pub const DEF: NodeDef = NodeDef {
    type_name: "csv",
    category: "parser",
    set_id: "node-red/CSV",
    role: Role::Plain,
    build: Build::Flow(build),
};

fn build(_cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(PassOn))
}
