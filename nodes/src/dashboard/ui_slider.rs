//! `ui-slider` — mirrors FlowFuse Dashboard 2.0 `nodes/widgets/ui_slider.js`.
//!
//! Config read: `group` (a `ui-group`, required), `order`, `width`, `height` (default 0),
//! `label` (default "slider"), `min` (default 0), `max` (default 10), `step` (default 1,
//! must be above 0), `topic`/`topicType` (default `msg.topic`), `passthru` (default false).
//!
//! A flow message whose `msg.payload` is a number (or text `Number()` reads as one) moves
//! the slider: the page gets `{"value": n}` (also the state); with `passthru` the message
//! then passes on, with the topic setting applied (as FlowFuse's default input handler). Another payload is an error for Catch nodes; a message without payload
//! only passes on (with `passthru`).
//!
//! A move on the page (hub input `{"value": n}`) sets the state, tells every page, and
//! emits the message with `msg.payload` the number and the topic setting applied.
//!
//! Dynamic properties (FlowFuse's): `msg.enabled`, `msg.visible`, `msg.ui_update.label`,
//! `.min`, `.max`, `.step` (a range whose max is not above its min, or a step not above 0,
//! is refused); a move while disabled is ignored.

use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::{Value as Json, json};

use super::{Dynamic, Prop, Topic, Widget, flag, json_number, min_max, number, text};

/// The `msg.ui_update` keys a slider takes.
const DYNAMIC: &[Dynamic] = &[
    Dynamic("label", "label", Prop::Text),
    Dynamic("min", "min", Prop::Number),
    Dynamic("max", "max", Prop::Number),
    Dynamic("step", "step", Prop::Number),
];

/// The `step` key: 1 by default, above 0.
fn step(config: &serde_json::Map<String, Json>) -> Result<f64, ConfigError> {
    let step = number(config, "step", 1.0)?;
    if step <= 0.0 {
        return Err(ConfigError::field("step", "must be above 0"));
    }
    Ok(step)
}

/// Refuses a dynamic range or step the build would refuse.
fn check(config: &serde_json::Map<String, Json>) -> Result<(), String> {
    min_max(config).map_err(|e| e.to_string())?;
    step(config).map_err(|e| e.to_string())?;
    Ok(())
}

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-slider",
    category: "dashboard 2",
    set_id: "@flowfuse/node-red-dashboard/ui-slider",
    role: Role::Plain,
    build: Build::Flow(build),
};

struct Slider {
    widget: Widget,
    topic: Topic,
    passthru: bool,
    state: Json,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let (min, max) = min_max(config)?;
    let step = step(config)?;
    let look = json!({
        "label": text(config, "label", "slider"),
        "min": json_number(min),
        "max": json_number(max),
        "step": json_number(step),
        "width": json_number(number(config, "width", 0.0)?),
        "height": json_number(number(config, "height", 0.0)?),
    });
    Ok(Box::new(Slider {
        topic: Topic::read(cx)?,
        passthru: flag(config, "passthru", false),
        widget: Widget::new(cx, "ui-slider", look)?,
        state: Json::Null,
    }))
}

/// A number from a payload: numbers and numeric text, nothing else.
fn numeric(value: &Value) -> Option<f64> {
    match value {
        Value::Int(_) | Value::Float(_) | Value::String(_) => {
            Some(value.to_number()).filter(|n| n.is_finite())
        }
        _ => None,
    }
}

impl Slider {
    fn set(&mut self, n: f64, cx: &NodeCtx) {
        self.state = json!({"value": json_number(n)});
        self.widget.show(cx, self.state.clone());
    }
}

#[async_trait]
impl Node for Slider {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.register(cx, true, self.state.clone());
        Ok(())
    }

    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.update(cx, &msg, DYNAMIC, check)?;
        if let Some(payload) = msg.payload() {
            let Some(n) = numeric(payload) else {
                let text = format!("ui-slider: {} is not a number", payload.to_js_string());
                return Err(NodeError::new(text).for_msg(msg));
            };
            self.set(n, cx);
        }
        if self.passthru {
            // FlowFuse's default input handler puts the topic setting on what passes.
            self.topic.apply(cx, &mut msg)?;
            cx.send(msg).await;
        }
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Event::Message(mut msg) = event else {
            return Ok(());
        };
        if !self.widget.enabled() {
            tracing::debug!(node = %cx.id(), "ui-slider is disabled: move ignored");
            return Ok(());
        }
        let Some(n) = msg.remove("value").as_ref().and_then(numeric) else {
            return Err(NodeError::new(
                "ui-slider: page input without a numeric 'value'",
            ));
        };
        msg.insert("payload", Value::Float(n));
        self.topic.apply(cx, &mut msg)?;
        self.set(n, cx);
        cx.send(msg).await;
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        self.widget.unregister(cx);
    }
}
