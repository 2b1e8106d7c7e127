//! `ui-text` — mirrors FlowFuse Dashboard 2.0 `nodes/widgets/ui_text.js`.
//!
//! Config read: `group` (a `ui-group`, required), `order`, `width`, `height` (default 0:
//! the group's width, one row), `label` (default "text"), `format` (a mustache template
//! rendered with the message as `msg`, default `{{msg.payload}}`), `layout` (default
//! `row-spread`), `style` (default false: the page's own font), `font` (default
//! "Helvetica"), `fontSize` (default 16), `color` (default "#717171"), `value`/`valueType`
//! (a typed input, default `msg.payload`: what `msg.payload` is when the format renders; a
//! value that cannot be evaluated leaves the payload as it is, with a warning, as FlowFuse).
//!
//! Every message renders `format` into `{"text": ..}`, sent to the page and kept as the
//! state. As in FlowFuse, the text is HTML: the format's markup is the flow author's and
//! values put in with `{{..}}` are HTML-escaped (`{{{..}}}` puts them in raw). No output.
//! A format mustache cannot parse is a deploy error.
//!
//! Dynamic properties (FlowFuse's): `msg.enabled`, `msg.visible`, `msg.ui_update.label`,
//! `.layout`, `.font`, `.fontSize`, `.color`. A message with nothing else keeps the text.

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::{Value as Json, json};

use ferrite_runtime::typed::TypedValue;

use super::{Dynamic, Prop, Widget, flag, json_number, number, only_dynamic, text};

/// The `msg.ui_update` keys a text takes.
const DYNAMIC: &[Dynamic] = &[
    Dynamic("label", "label", Prop::Text),
    Dynamic("layout", "layout", Prop::Text),
    Dynamic("font", "font", Prop::Text),
    Dynamic("fontSize", "fontSize", Prop::Number),
    Dynamic("color", "color", Prop::Text),
];
use crate::function::mustache::Template;

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-text",
    category: "dashboard 2",
    set_id: "@flowfuse/node-red-dashboard/ui-text",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct Text {
    widget: Widget,
    value: Option<TypedValue>,
    format: Template,
    state: Json,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let format = Template::parse(&text(config, "format", "{{msg.payload}}"))
        .map_err(|e| ConfigError::field("format", e))?;
    let look = json!({
        "label": text(config, "label", "text"),
        "layout": text(config, "layout", "row-spread"),
        "style": flag(config, "style", false),
        "font": text(config, "font", "Helvetica"),
        "fontSize": json_number(number(config, "fontSize", 16.0)?),
        "color": text(config, "color", "#717171"),
        "width": json_number(number(config, "width", 0.0)?),
        "height": json_number(number(config, "height", 0.0)?),
    });
    let value = match config.get("value").and_then(Json::as_str) {
        Some(v) if !v.is_empty() => Some(cx.typed("value", "valueType", "msg")?),
        _ => None,
    };
    Ok(Box::new(Text {
        value,
        widget: Widget::new(cx, "ui-text", look)?,
        format,
        state: Json::Null,
    }))
}

#[async_trait]
impl Node for Text {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.register(cx, false, self.state.clone());
        Ok(())
    }

    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.update(cx, &msg, DYNAMIC, |_| Ok(()))?;
        if only_dynamic(&msg) {
            return Ok(());
        }
        if let Some(value) = &self.value {
            match cx.eval(value, Some(&msg)) {
                Ok(Some(payload)) => msg.insert("payload", payload),
                Ok(None) => {}
                Err(e) => cx.warn(&format!("Error evaluating value property: {e}")),
            }
        }
        let mut view = Map::new();
        view.insert("msg".to_owned(), msg.into_value());
        let text = self.format.render(&Value::Object(view));
        self.state = json!({"text": text});
        self.widget.show(cx, self.state.clone());
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        self.widget.unregister(cx);
    }
}
