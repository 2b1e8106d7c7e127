//! `ui-notification` — mirrors FlowFuse Dashboard 2.0 `nodes/widgets/ui_notification.js`.
//!
//! Config read: `ui` (the `ui-base`, required: a notification belongs to the whole
//! dashboard, not a group), `position` (default "top right"), `displayTime` (seconds,
//! default 3), `showCountdown` (default true), `allowDismiss` (default true). Colours,
//! confirm buttons and `raw` are not supported.
//!
//! Each message with a payload pops up on every page: `{"text": ..}` (the payload as
//! text; objects as JSON), with `"kind"` when `msg.kind` is `info`, `warning` or `error`.
//! Nothing is kept for later pages. No output. A `displayTime` that is not a number is a
//! deploy error.

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde_json::{Value as Json, json};

use super::ui_base::UiBase;
use super::{Widget, flag, json_number, number, text};

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-notification",
    category: "dashboard 2",
    set_id: "@flowfuse/node-red-dashboard/ui-notification",
    role: Role::Plain,
    build: Build::Flow(build),
};

const KINDS: [&str; 3] = ["info", "warning", "error"];

struct Notification {
    widget: Widget,
    id: String,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let look = json!({
        "position": text(config, "position", "top right"),
        "displayTime": json_number(number(config, "displayTime", 3.0)?),
        "showCountdown": flag(config, "showCountdown", true),
        "allowDismiss": flag(config, "allowDismiss", true),
    });
    Ok(Box::new(Notification {
        widget: Widget::under::<UiBase>(cx, "ui-notification", "ui", look)?,
        id: cx.id().to_owned(),
    }))
}

#[async_trait]
impl Node for Notification {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.register(cx, false, Json::Null);
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let text = match msg.payload() {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Object(_) | Value::Array(_))) => v.to_json().to_string(),
            Some(v) => v.to_js_string(),
        };
        let mut popup = json!({"text": text});
        if let Some(Value::String(kind)) = msg.get("kind")
            && KINDS.contains(&kind.as_str())
        {
            popup["kind"] = Json::String(kind.clone());
        }
        cx.ui().send(&self.id, popup, None);
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        self.widget.unregister(cx);
    }
}
