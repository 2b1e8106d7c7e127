//! `ui-group` — mirrors FlowFuse Dashboard 2.0 `nodes/config/ui_group.js`.
//!
//! A card of widgets on a page. A config node. Config read: `page` (a deployed `ui-page`,
//! required), `name` (default "Group Name"), `width` (columns, default 6), `height`
//! (default 1), `showTitle` (default true), `order` (default -1). FlowFuse's `groupType`,
//! `visible`, `disabled`, `className` are not used.
//!
//! Hub item: kind `ui-group`, parent its page, config `{name, width, height, showTitle}`.
//! No messages. A missing page or a non-number width/height is a deploy error.

use std::any::Any;
use std::sync::Arc;

use ferrite_runtime::{Build, BuildCtx, ConfigError, ConfigNode, NodeDef, Role, async_trait};
use serde_json::json;

use super::ui_page::UiPage;
use super::{Registered, flag, json_number, number, parent, text};

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-group",
    category: "config",
    set_id: "@flowfuse/node-red-dashboard/ui-group",
    role: Role::Plain,
    build: Build::Config(build),
};

/// A deployed `ui-group`; widgets name it in their `group` key.
pub struct UiGroup {
    item: Registered,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    let config = cx.raw();
    let page = parent::<UiPage>(cx, "page")?;
    let config = json!({
        "name": text(config, "name", "Group Name"),
        "width": json_number(number(config, "width", 6.0)?),
        "height": json_number(number(config, "height", 1.0)?),
        "showTitle": flag(config, "showTitle", true),
    });
    Ok(Arc::new(UiGroup {
        item: Registered::new(cx, "ui-group", Some(page), config)?,
    }))
}

#[async_trait]
impl ConfigNode for UiGroup {
    async fn close(&self) {
        self.item.close();
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
