//! `ui-theme` — mirrors FlowFuse Dashboard 2.0 `nodes/config/ui_theme.js`.
//!
//! Colours pages use. A config node. Config read: `name` (default "Theme Name"), `colors`
//! (`surface`, `primary`, `bgPage`, `groupBg`, `groupOutline`: CSS colours; each missing one
//! takes FlowFuse's default). FlowFuse's `sizes` are not used.
//!
//! Hub item: kind `ui-theme`, no parent, config `{name, colors}`. No messages. A `colors`
//! that is not an object, or a colour that is not text, is a deploy error.

use std::any::Any;
use std::sync::Arc;

use ferrite_runtime::{Build, BuildCtx, ConfigError, ConfigNode, NodeDef, Role, async_trait};
use serde_json::{Map, Value as Json, json};

use super::{Registered, text};

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-theme",
    category: "config",
    set_id: "@flowfuse/node-red-dashboard/ui-theme",
    role: Role::Plain,
    build: Build::Config(build),
};

/// FlowFuse's default colours.
const DEFAULT_COLORS: [(&str, &str); 5] = [
    ("surface", "#fcfcfd"),
    ("primary", "#0d74ce"),
    ("bgPage", "#f9f9fb"),
    ("groupBg", "#ffffff"),
    ("groupOutline", "#d9d9e0"),
];

/// A deployed `ui-theme`.
pub struct UiTheme {
    item: Registered,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    let config = cx.raw();
    let given = match config.get("colors") {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(given)) => given.clone(),
        Some(_) => return Err(ConfigError::field("colors", "must be an object")),
    };
    let mut colors = Map::new();
    for (key, default) in DEFAULT_COLORS {
        let color = match given.get(key) {
            None | Some(Json::Null) => default.to_owned(),
            Some(Json::String(c)) if c.is_empty() => default.to_owned(),
            Some(Json::String(c)) => c.clone(),
            Some(_) => return Err(ConfigError::field("colors", format!("{key} must be text"))),
        };
        colors.insert(key.to_owned(), Json::String(color));
    }
    let config = json!({"name": text(config, "name", "Theme Name"), "colors": colors});
    Ok(Arc::new(UiTheme {
        item: Registered::new(cx, "ui-theme", None, config)?,
    }))
}

#[async_trait]
impl ConfigNode for UiTheme {
    async fn close(&self) {
        self.item.close();
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
