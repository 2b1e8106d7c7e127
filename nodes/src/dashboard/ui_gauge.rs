//! `ui-gauge` — mirrors FlowFuse Dashboard 2.0 `nodes/widgets/ui_gauge.js`.
//!
//! Config read: `group` (a `ui-group`, required), `order`, `width` (default 3), `height`
//! (default 3), `title` (default "gauge"), `gtype` (`gauge-half` (default), `gauge-34`,
//! `gauge-tile`, `gauge-battery`, `gauge-tank`), `gstyle` (`needle` (default), `rounded`),
//! `min` (default 0), `max` (default 10), `segments` (`[{from, color}]`, default FlowFuse's
//! green 0 / amber 4 / red 7; sorted by `from`), `units` (default "units"), `prefix`,
//! `suffix`, `value`/`valueType` (what is shown, a typed input: default `msg.payload`).
//!
//! Evaluates `value` against each message: a number, or text `Number()` reads as one, is clamped to
//! `min..max` and sent to the page as `{"value": n}` (also its state); the message then
//! passes on unchanged, as FlowFuse forwards widgets' input. A message without the
//! property passes on without changing the gauge; one whose value is not a number (or
//! cannot be evaluated) is an error for Catch nodes and goes nowhere.
//!
//! Dynamic properties (FlowFuse's): `msg.enabled`, `msg.visible`, `msg.ui_update.title`
//! (or `.label`), `.gtype`, `.gstyle`, `.prefix`, `.suffix`, `.units`, `.min`, `.max` (a
//! max not above the min is refused; later values are clamped to the new range),
//! `.segments` (read as the setting: sorted, each with `from` and `color`).

use ferrite_runtime::typed::TypedValue;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde_json::{Value as Json, json};

use super::{Dynamic, Prop, Widget, json_number, min_max, number, text};

/// The `msg.ui_update` keys a gauge takes.
const DYNAMIC: &[Dynamic] = &[
    Dynamic("title", "title", Prop::Text),
    Dynamic("label", "title", Prop::Text),
    Dynamic("gtype", "gtype", Prop::OneOf(&TYPES)),
    Dynamic("gstyle", "gstyle", Prop::OneOf(&STYLES)),
    Dynamic("prefix", "prefix", Prop::Text),
    Dynamic("suffix", "suffix", Prop::Text),
    Dynamic("units", "units", Prop::Text),
    Dynamic("min", "min", Prop::Number),
    Dynamic("max", "max", Prop::Number),
    Dynamic("segments", "segments", Prop::Custom(dynamic_segments)),
];

/// `msg.ui_update.segments`, read as the `segments` setting is.
fn dynamic_segments(given: &Value) -> Result<Json, String> {
    segments(Some(&given.to_json())).map_err(|e| e.to_string())
}

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-gauge",
    category: "dashboard 2",
    set_id: "@flowfuse/node-red-dashboard/ui-gauge",
    role: Role::Plain,
    build: Build::Flow(build),
};

const TYPES: [&str; 5] = [
    "gauge-half",
    "gauge-34",
    "gauge-tile",
    "gauge-battery",
    "gauge-tank",
];

const STYLES: [&str; 2] = ["needle", "rounded"];

struct Gauge {
    widget: Widget,
    value: TypedValue,
    min: f64,
    max: f64,
    state: Json,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let (min, max) = min_max(config)?;
    let gtype = text(config, "gtype", "gauge-half");
    if !TYPES.contains(&gtype.as_str()) {
        return Err(ConfigError::field(
            "gtype",
            format!("unknown gauge type '{gtype}'"),
        ));
    }
    let gstyle = text(config, "gstyle", "needle");
    if !STYLES.contains(&gstyle.as_str()) {
        return Err(ConfigError::field(
            "gstyle",
            format!("unknown style '{gstyle}'"),
        ));
    }
    let value = match config.get("value").and_then(Json::as_str) {
        Some(v) if !v.is_empty() => cx.typed("value", "valueType", "msg")?,
        _ => TypedValue::compile("msg", &Json::String("payload".into()))
            .map_err(|e| ConfigError::field("value", e))?,
    };
    let look = json!({
        "title": text(config, "title", "gauge"),
        "gtype": gtype,
        "gstyle": gstyle,
        "min": json_number(min),
        "max": json_number(max),
        "segments": segments(config.get("segments"))?,
        "units": text(config, "units", "units"),
        "prefix": text(config, "prefix", ""),
        "suffix": text(config, "suffix", ""),
        "width": json_number(number(config, "width", 3.0)?),
        "height": json_number(number(config, "height", 3.0)?),
    });
    Ok(Box::new(Gauge {
        widget: Widget::new(cx, "ui-gauge", look)?,
        value,
        min,
        max,
        state: Json::Null,
    }))
}

fn segments(given: Option<&Json>) -> Result<Json, ConfigError> {
    let given = match given {
        None | Some(Json::Null) => {
            return Ok(json!([
                {"from": 0, "color": "#5CD65C"},
                {"from": 4, "color": "#FFC800"},
                {"from": 7, "color": "#EA5353"},
            ]));
        }
        Some(Json::Array(given)) => given,
        Some(_) => return Err(ConfigError::field("segments", "must be an array")),
    };
    let mut out = Vec::with_capacity(given.len());
    for (i, segment) in given.iter().enumerate() {
        let Json::Object(segment) = segment else {
            return Err(ConfigError::field(
                "segments",
                format!("entry {i} is not an object"),
            ));
        };
        let from = number(segment, "from", f64::NAN)
            .ok()
            .filter(|n| !n.is_nan())
            .ok_or_else(|| {
                ConfigError::field("segments", format!("entry {i}: 'from' is not a number"))
            })?;
        let color = match segment.get("color") {
            Some(Json::String(c)) if !c.is_empty() => c.clone(),
            _ => {
                return Err(ConfigError::field(
                    "segments",
                    format!("entry {i} has no color"),
                ));
            }
        };
        out.push((from, color));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out
        .into_iter()
        .map(|(from, color)| json!({"from": json_number(from), "color": color}))
        .collect())
}

#[async_trait]
impl Node for Gauge {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.widget.register(cx, false, self.state.clone());
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let mut range = None;
        self.widget.update(cx, &msg, DYNAMIC, |config| {
            range = Some(min_max(config).map_err(|e| e.to_string())?);
            Ok(())
        })?;
        if let Some((min, max)) = range {
            (self.min, self.max) = (min, max);
        }
        let value = match cx.eval(&self.value, Some(&msg)) {
            Ok(value) => value,
            Err(e) => return Err(NodeError::new(e.to_string()).for_msg(msg)),
        };
        if let Some(value) = value {
            let n = match &value {
                Value::Int(_) | Value::Float(_) | Value::String(_) => value.to_number(),
                _ => f64::NAN,
            };
            if n.is_nan() {
                let text = format!("ui-gauge: {} is not a number", value.to_js_string());
                return Err(NodeError::new(text).for_msg(msg));
            }
            self.state = json!({"value": json_number(n.clamp(self.min, self.max))});
            self.widget.show(cx, self.state.clone());
        }
        cx.send(msg).await;
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        self.widget.unregister(cx);
    }
}
