//! `ui-base` — mirrors FlowFuse Dashboard 2.0 `nodes/config/ui_base.js`.
//!
//! The dashboard itself: the root of its pages. A config node. Config read: `name`
//! (default "UI Name"), `path` (default `/dashboard`); FlowFuse's navigation, title bar,
//! client data and PWA settings are kept in the flow but not used.
//!
//! Hub item: kind `ui-base`, no parent, config `{name, path}`. No messages.

use std::any::Any;
use std::sync::Arc;

use ferrite_runtime::{Build, BuildCtx, ConfigError, ConfigNode, NodeDef, Role, async_trait};
use serde_json::json;

use super::{Registered, text};

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-base",
    category: "config",
    set_id: "@flowfuse/node-red-dashboard/ui-base",
    role: Role::Plain,
    build: Build::Config(build),
};

/// A deployed `ui-base`.
pub struct UiBase {
    item: Registered,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    let config = cx.raw();
    let path = text(config, "path", "/dashboard");
    if !path.starts_with('/') {
        return Err(ConfigError::field("path", "must start with '/'"));
    }
    let config = json!({"name": text(config, "name", "UI Name"), "path": path});
    Ok(Arc::new(UiBase {
        item: Registered::new(cx, "ui-base", None, config)?,
    }))
}

#[async_trait]
impl ConfigNode for UiBase {
    async fn close(&self) {
        self.item.close();
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
