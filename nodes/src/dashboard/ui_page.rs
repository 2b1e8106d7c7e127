//! `ui-page` — mirrors FlowFuse Dashboard 2.0 `nodes/config/ui_page.js`.
//!
//! One page of a dashboard. A config node. Config read: `ui` (a deployed `ui-base`, required),
//! `name` (default "Page Name"), `path` (default `/<node id>`: FlowFuse's editor fills in
//! `/pageN`, an unset path is stored as -1), `icon` (default `home`), `layout` (`grid`,
//! `flex`, `tabs`, `notebook`; default `grid`), `theme` (a `ui-theme` id; `null` when unset),
//! `breakpoints` (`[{name, px, cols}]`, default FlowFuse's 0/3, 576/6, 768/9, 1024/12),
//! `order` (default -1). `visible`, `disabled`, `className` are not used.
//!
//! Hub item: kind `ui-page`, parent its base, config `{name, path, icon, layout, theme,
//! breakpoints}`. No messages. A missing `ui`, an unknown layout or a breakpoint without
//! numeric `px`/`cols` is a deploy error.

use std::any::Any;
use std::sync::Arc;

use ferrite_runtime::{Build, BuildCtx, ConfigError, ConfigNode, NodeDef, Role, async_trait};
use serde_json::{Value as Json, json};

use super::ui_base::UiBase;
use super::{Registered, json_number, number, parent, text};

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-page",
    category: "config",
    set_id: "@flowfuse/node-red-dashboard/ui-page",
    role: Role::Plain,
    build: Build::Config(build),
};

const LAYOUTS: [&str; 4] = ["grid", "flex", "tabs", "notebook"];

/// A deployed `ui-page`.
pub struct UiPage {
    item: Registered,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Arc<dyn ConfigNode>, ConfigError> {
    let config = cx.raw();
    let base = parent::<UiBase>(cx, "ui")?;
    let path = match config.get("path").and_then(Json::as_str) {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => format!("/{}", cx.id()),
    };
    let layout = match text(config, "layout", "").as_str() {
        "" => "grid".to_owned(),
        l if LAYOUTS.contains(&l) => l.to_owned(),
        other => {
            return Err(ConfigError::field(
                "layout",
                format!("'{other}' is not one of {}", LAYOUTS.join(", ")),
            ));
        }
    };
    // FlowFuse stores `default` until a theme is picked.
    let theme = match config.get("theme").and_then(Json::as_str) {
        Some(t) if !t.is_empty() && t != "default" => Json::String(t.to_owned()),
        _ => Json::Null,
    };
    let config = json!({
        "name": text(config, "name", "Page Name"),
        "path": path,
        "icon": text(config, "icon", "home"),
        "layout": layout,
        "theme": theme,
        "breakpoints": breakpoints(config.get("breakpoints"))?,
    });
    Ok(Arc::new(UiPage {
        item: Registered::new(cx, "ui-page", Some(base), config)?,
    }))
}

fn breakpoints(given: Option<&Json>) -> Result<Json, ConfigError> {
    let given = match given {
        None | Some(Json::Null) => {
            return Ok(json!([
                {"name": "Default", "px": 0, "cols": 3},
                {"name": "Tablet", "px": 576, "cols": 6},
                {"name": "Small Desktop", "px": 768, "cols": 9},
                {"name": "Desktop", "px": 1024, "cols": 12},
            ]));
        }
        Some(Json::Array(given)) => given,
        Some(_) => return Err(ConfigError::field("breakpoints", "must be an array")),
    };
    let mut out = Vec::with_capacity(given.len());
    for (i, point) in given.iter().enumerate() {
        let Json::Object(point) = point else {
            return Err(ConfigError::field(
                "breakpoints",
                format!("entry {i} is not an object"),
            ));
        };
        let field = |key: &str| {
            number(point, key, f64::NAN).and_then(|n| {
                if n.is_nan() {
                    Err(ConfigError::field(
                        "breakpoints",
                        format!("entry {i} has no {key}"),
                    ))
                } else {
                    Ok(json_number(n))
                }
            })
        };
        out.push(
            json!({"name": text(point, "name", ""), "px": field("px")?, "cols": field("cols")?}),
        );
    }
    Ok(Json::Array(out))
}

#[async_trait]
impl ConfigNode for UiPage {
    async fn close(&self) {
        self.item.close();
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
