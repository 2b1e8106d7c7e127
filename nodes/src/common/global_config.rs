//! `global-config` — mirrors Node-RED `@node-red/nodes/core/common/91-global-config.js`.
//!
//! Config: `env` (array of `{name, value, type}`: the global environment variables every
//! node sees after its tab's), `modules`. The runtime reads `env` while planning a deploy;
//! the node itself holds nothing.

use std::any::Any;
use std::sync::Arc;

use ferrite_runtime::{Build, ConfigError, ConfigNode, NodeDef, Role, async_trait};

pub const DEF: NodeDef = NodeDef {
    type_name: "global-config",
    category: "config",
    set_id: "node-red/global-config",
    role: Role::Plain,
    build: Build::Config(build),
};

struct GlobalConfig;

#[async_trait]
impl ConfigNode for GlobalConfig {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn build(_cx: &mut ferrite_runtime::BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    Ok(Arc::new(GlobalConfig))
}
