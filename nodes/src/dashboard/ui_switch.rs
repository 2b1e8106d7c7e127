//! `ui-switch` — mirrors FlowFuse Dashboard 2.0 `nodes/widgets/ui_switch.js`.
//!
//! Config read: `group` (a `ui-group`, required), `order`, `width`, `height` (default 0),
//! `label` (default "switch"), `onvalue`/`onvalueType` (default `true` bool),
//! `offvalue`/`offvalueType` (default `false` bool), `topic`/`topicType` (default
//! `msg.topic`), `passthru` (default false), `decouple` (default false; used without
//! `passthru`). The on/off values are evaluated once, at start.
//!
//! A flow message sets the switch: `msg.payload` equal to the on value (or `true`) turns it
//! on, equal to the off value (or `false`) off; it becomes the value itself and the page gets
//! `{"on": bool}` (also the state), and the node's status says `on` (green ring) or
//! `off` (red ring), as in FlowFuse. With `passthru` the message then passes on. Any other
//! payload is the error "Invalid payload value" for Catch nodes; a message without payload
//! only passes on (with `passthru`).
//!
//! A toggle on the page (hub input `{"on": bool}`) sets the state, tells every page, and
//! emits the message with `msg.payload` the on or off value and the topic setting applied.
//! With `decouple` (and no `passthru`), as FlowFuse's indicator mode, it only emits: the
//! switch shows what the flow sends it, so the pages are told its unchanged position.
//!
//! Dynamic properties (FlowFuse's): `msg.enabled`, `msg.visible`, `msg.ui_update.label`;
//! a toggle while disabled is ignored.

use ferrite_runtime::typed::TypedValue;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status,
    Value, async_trait,
};
use serde_json::{Value as Json, json};

use super::{Dynamic, Prop, Topic, Widget, flag, json_number, number, text};

/// The `msg.ui_update` keys a switch takes.
const DYNAMIC: &[Dynamic] = &[Dynamic("label", "label", Prop::Text)];

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-switch",
    category: "dashboard 2",
    set_id: "@flowfuse/node-red-dashboard/ui-switch",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct Switch {
    widget: Widget,
    on_typed: TypedValue,
    off_typed: TypedValue,
    /// The evaluated on and off values.
    values: (Value, Value),
    topic: Topic,
    passthru: bool,
    /// The page's toggle only emits; the position follows flow messages.
    decouple: bool,
    state: Json,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let look = json!({
        "label": text(config, "label", "switch"),
        "width": json_number(number(config, "width", 0.0)?),
        "height": json_number(number(config, "height", 0.0)?),
    });
    let value = |key: &str, type_key: &str, default: bool| {
        if cx.raw().contains_key(key) {
            cx.typed(key, type_key, "bool")
        } else {
            TypedValue::compile("bool", &Json::Bool(default))
                .map_err(|e| ConfigError::field(key, e))
        }
    };
    Ok(Box::new(Switch {
        on_typed: value("onvalue", "onvalueType", true)?,
        off_typed: value("offvalue", "offvalueType", false)?,
        values: (Value::Bool(true), Value::Bool(false)),
        topic: Topic::read(cx)?,
        passthru: flag(config, "passthru", false),
        decouple: flag(config, "decouple", false) && !flag(config, "passthru", false),
        widget: Widget::new(cx, "ui-switch", look)?,
        state: Json::Null,
    }))
}

impl Switch {
    async fn set(&mut self, on: bool, cx: &mut NodeCtx) {
        self.state = json!({"on": on});
        self.widget.show(cx, self.state.clone());
        let (fill, text) = if on { ("green", "on") } else { ("red", "off") };
        cx.status(Status {
            fill: Some(fill.to_owned()),
            shape: Some("ring".to_owned()),
            text: Some(text.to_owned()),
        })
        .await;
    }

    /// Which state a flow payload asks for: FlowFuse compares objects by their JSON and
    /// other values strictly (`Value`'s equality: deep and strict), accepting
    /// `true`/`false` besides the configured values.
    fn state_of(&self, payload: &Value) -> Option<bool> {
        let (on, off) = &self.values;
        if matches!(payload, Value::Bool(true)) || payload == on {
            Some(true)
        } else if matches!(payload, Value::Bool(false)) || payload == off {
            Some(false)
        } else {
            None
        }
    }
}

#[async_trait]
impl Node for Switch {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let eval = |typed: &TypedValue| {
            cx.eval(typed, None)
                .map(|v| v.unwrap_or(Value::Null))
                .map_err(|e| NodeError::new(e.to_string()))
        };
        self.values = (eval(&self.on_typed)?, eval(&self.off_typed)?);
        self.widget.register(cx, true, self.state.clone());
        Ok(())
    }

    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.update(cx, &msg, DYNAMIC, |_| Ok(()))?;
        if let Some(payload) = msg.payload() {
            let Some(on) = self.state_of(payload) else {
                return Err(NodeError::new("Invalid payload value").for_msg(msg));
            };
            let value = if on { &self.values.0 } else { &self.values.1 };
            msg.insert("payload", value.clone());
            self.set(on, cx).await;
        }
        if self.passthru {
            cx.send(msg).await;
        }
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Event::Message(mut msg) = event else {
            return Ok(());
        };
        if !self.widget.enabled() {
            tracing::debug!(node = %cx.id(), "ui-switch is disabled: toggle ignored");
            return Ok(());
        }
        let Some(Value::Bool(on)) = msg.remove("on") else {
            return Err(NodeError::new(
                "ui-switch: page input without a boolean 'on'",
            ));
        };
        let value = if on { &self.values.0 } else { &self.values.1 };
        msg.insert("payload", value.clone());
        self.topic.apply(cx, &mut msg)?;
        if self.decouple {
            // The page flipped its own switch: put it back where the flow left it.
            let on = self
                .state
                .get("on")
                .and_then(Json::as_bool)
                .unwrap_or(false);
            cx.ui().send(cx.id(), json!({"on": on}), None);
        } else {
            self.set(on, cx).await;
        }
        cx.send(msg).await;
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        self.widget.unregister(cx);
    }
}
