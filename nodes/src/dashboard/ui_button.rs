//! `ui-button` — mirrors FlowFuse Dashboard 2.0 `nodes/widgets/ui_button.js`.
//!
//! Config read: `group` (a `ui-group`, required), `order`, `width`, `height` (default 0),
//! `label` (default "button"), `color`, `bgcolor`, `icon`, `tooltip` (default ""),
//! `payload`/`payloadType` (what a press emits, default the empty string), `topic`/
//! `topicType` (default `msg.topic`), `emulateClick` (default false) and `enableClick`
//! (default true, as FlowFuse reads flows older than it). The pointer up/down payloads are
//! not supported.
//!
//! A press on the page (hub input, any object) emits a message built from it with
//! `msg.payload` set to the configured payload and `msg.topic` from the topic setting. A
//! flow message presses the button only with `emulateClick` (and `enableClick`), as in
//! FlowFuse: it gets the same payload and topic and passes on; without, it only changes
//! the button's dynamic properties. A payload that cannot be evaluated is an error for
//! Catch nodes.
//!
//! Dynamic properties (FlowFuse's): `msg.enabled`, `msg.visible`, `msg.ui_update.label`,
//! `.icon`, `.buttonColor` (our `bgcolor`), `.textColor` (our `color`). A message with
//! nothing else only changes the button; a press while disabled is ignored.

use ferrite_runtime::typed::TypedValue;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::{Value as Json, json};

use super::{Dynamic, Prop, Topic, Widget, flag, json_number, number, only_dynamic, text};

/// The `msg.ui_update` keys a button takes.
const DYNAMIC: &[Dynamic] = &[
    Dynamic("label", "label", Prop::Text),
    Dynamic("icon", "icon", Prop::Text),
    Dynamic("buttonColor", "bgcolor", Prop::Text),
    Dynamic("textColor", "color", Prop::Text),
];

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-button",
    category: "dashboard 2",
    set_id: "@flowfuse/node-red-dashboard/ui-button",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct Button {
    widget: Widget,
    payload: TypedValue,
    topic: Topic,
    /// Whether a flow message presses the button (`emulateClick` and `enableClick`).
    emulate: bool,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let look = json!({
        "label": text(config, "label", "button"),
        "color": text(config, "color", ""),
        "bgcolor": text(config, "bgcolor", ""),
        "icon": text(config, "icon", ""),
        "tooltip": text(config, "tooltip", ""),
        "width": json_number(number(config, "width", 0.0)?),
        "height": json_number(number(config, "height", 0.0)?),
    });
    Ok(Box::new(Button {
        payload: cx.typed("payload", "payloadType", "str")?,
        topic: Topic::read(cx)?,
        emulate: flag(config, "emulateClick", false) && flag(config, "enableClick", true),
        widget: Widget::new(cx, "ui-button", look)?,
    }))
}

impl Button {
    async fn press(&self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let payload = match cx.eval(&self.payload, Some(&msg)) {
            Ok(payload) => payload.unwrap_or(Value::Null),
            Err(e) => return Err(NodeError::new(e.to_string()).for_msg(msg)),
        };
        msg.insert("payload", payload);
        self.topic.apply(cx, &mut msg)?;
        cx.send(msg).await;
        Ok(())
    }
}

#[async_trait]
impl Node for Button {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.register(cx, true, Json::Null);
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.update(cx, &msg, DYNAMIC, |_| Ok(()))?;
        if !self.emulate || only_dynamic(&msg) {
            return Ok(());
        }
        self.press(msg, cx).await
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match event {
            Event::Message(msg) if self.widget.enabled() => self.press(msg, cx).await,
            Event::Message(_) => {
                tracing::debug!(node = %cx.id(), "ui-button is disabled: press ignored");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        self.widget.unregister(cx);
    }
}
