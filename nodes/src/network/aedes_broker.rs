//! `aedes broker` — stub, written by the embedded broker work package.

use ferrite_runtime::{Build, BuildCtx, ConfigError, Node, NodeDef, Role};

pub const DEF: NodeDef = NodeDef {
    type_name: "aedes broker",
    category: "network",
    set_id: "node-red-contrib-aedes/aedes",
    role: Role::Plain,
    build: Build::Flow(build),
};

fn build(_cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Err(ConfigError::Invalid(
        "aedes broker is not implemented yet".into(),
    ))
}
