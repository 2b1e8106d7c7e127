//! `tls-config` — stub, written by the TLS work package.

use std::sync::Arc;

use ferrite_runtime::{Build, BuildCtx, ConfigError, ConfigNode, NodeDef, Role};

pub const DEF: NodeDef = NodeDef {
    type_name: "tls-config",
    category: "config",
    set_id: "node-red/tls",
    role: Role::Plain,
    build: Build::Config(build),
};

fn build(_cx: &mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    Err(ConfigError::Invalid(
        "tls-config is not implemented yet".into(),
    ))
}
