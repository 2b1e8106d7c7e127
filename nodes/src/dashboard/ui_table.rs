//! `ui-table` — mirrors FlowFuse Dashboard 2.0 `nodes/widgets/ui_table.js`.
//!
//! Config read: `group` (a `ui-group`, required), `order`, `width`, `height` (default 0),
//! `label` (default ""), `maxrows` (rows per page: the page shows the rows in pages of
//! this many with a pager, as FlowFuse paginates; default 0: all on one page; read as
//! FlowFuse does, `parseInt`, anything else or negative being 0),
//! `autocols` (default true: columns from the rows' keys), `columns` (FlowFuse's
//! `[{key, title}]`, used when `autocols` is false), `action` (`append` (default) or
//! `replace`), `passthru` (default false). Selection, search and mobile breakpoints are not
//! supported.
//!
//! `msg.payload` an array of objects (or one object) adds rows (`append`) or replaces them
//! (`replace`); an empty array clears the table. The page gets `{"rows": [..]}` with every
//! row (also the state: `maxrows` pages the rows, it never drops any, as in FlowFuse); with
//! `passthru` the message then passes on. Another payload is an
//! error for Catch nodes. A `columns` entry without a key is a deploy error.
//!
//! Dynamic properties (FlowFuse's): `msg.enabled`, `msg.visible`.

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde_json::{Value as Json, json};

use super::{Widget, flag, json_number, number, text};

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-table",
    category: "dashboard 2",
    set_id: "@flowfuse/node-red-dashboard/ui-table",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct Table {
    widget: Widget,
    replace: bool,
    passthru: bool,
    rows: Vec<Json>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let replace = match text(config, "action", "append").as_str() {
        "append" | "" => false,
        "replace" => true,
        other => {
            return Err(ConfigError::field(
                "action",
                format!("'{other}' is not append or replace"),
            ));
        }
    };
    let columns = if flag(config, "autocols", true) {
        Vec::new()
    } else {
        columns(config.get("columns"))?
    };
    let look = json!({
        "label": text(config, "label", ""),
        "columns": columns,
        "maxrows": maxrows(config.get("maxrows")),
        "width": json_number(number(config, "width", 0.0)?),
        "height": json_number(number(config, "height", 0.0)?),
    });
    Ok(Box::new(Table {
        widget: Widget::new(cx, "ui-table", look)?,
        replace,
        passthru: flag(config, "passthru", false),
        rows: Vec::new(),
    }))
}

/// Rows per page as FlowFuse reads it: JavaScript's `parseInt` of the setting, NaN or
/// negative being 0 (no pages).
fn maxrows(given: Option<&Json>) -> u64 {
    let n = match given {
        Some(Json::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Json::String(s)) => {
            let s = s.trim_start();
            let sign = usize::from(s.starts_with(['-', '+']));
            let digits = s[sign..].bytes().take_while(u8::is_ascii_digit).count();
            s[..sign + digits].parse::<f64>().unwrap_or(0.0)
        }
        _ => 0.0,
    };
    if n.is_finite() && n > 0.0 {
        n.trunc() as u64
    } else {
        0
    }
}

fn columns(given: Option<&Json>) -> Result<Vec<Json>, ConfigError> {
    let Some(Json::Array(given)) = given else {
        return Ok(Vec::new());
    };
    given
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let key = column.get("key").and_then(Json::as_str).unwrap_or_default();
            if key.is_empty() {
                return Err(ConfigError::field(
                    "columns",
                    format!("entry {i} has no key"),
                ));
            }
            let label = match column.get("title").and_then(Json::as_str) {
                Some(title) if !title.is_empty() => title,
                _ => key,
            };
            Ok(json!({"key": key, "label": label}))
        })
        .collect()
}

#[async_trait]
impl Node for Table {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.register(cx, false, Json::Null);
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.update(cx, &msg, &[], |_| Ok(()))?;
        if let Some(payload) = msg.payload() {
            let rows = match payload {
                Value::Array(items) if items.iter().all(|r| matches!(r, Value::Object(_))) => {
                    items.iter().map(Value::to_json).collect()
                }
                Value::Object(_) => vec![payload.to_json()],
                other => {
                    let text = format!(
                        "ui-table: payload must be an array of objects, not {}",
                        other.to_js_string()
                    );
                    return Err(NodeError::new(text).for_msg(msg));
                }
            };
            if self.replace || rows.is_empty() {
                self.rows = rows;
            } else {
                self.rows.extend(rows);
            }
            self.widget.show(cx, json!({"rows": self.rows}));
        }
        if self.passthru {
            cx.send(msg).await;
        }
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        self.widget.unregister(cx);
    }
}
