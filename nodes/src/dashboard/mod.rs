//! Dashboard nodes with FlowFuse Dashboard 2.0's type names and config keys
//! (`@flowfuse/node-red-dashboard`), drawn by our own `/dashboard` page.
//!
//! Each node puts one item on the runtime's dashboard hub (`ferrite_runtime::ui`): config
//! nodes (`ui-base`, `ui-page`, `ui-group`, `ui-theme`) when they are built, widgets when
//! they start. The item's `config` holds exactly the keys the page reads, defaults filled
//! in, so the page never guesses; this module has the readers those nodes share.
//!
//! Dynamic properties, as FlowFuse's: any widget takes `msg.enabled` (false: its inputs
//! are disabled), `msg.visible` (false: hidden) and `msg.class` or `msg.ui_update.class`
//! (CSS classes the page puts on it), and each its own `msg.ui_update` keys
//! (a new label, range, ...). They are merged into the item's config on the hub, where a
//! page reloaded later finds them, as FlowFuse keeps them in its state store; a page
//! input for a disabled widget is ignored.

pub mod ui_base;
pub mod ui_button;
pub mod ui_chart;
pub mod ui_gauge;
pub mod ui_group;
pub mod ui_notification;
pub mod ui_page;
pub mod ui_slider;
pub mod ui_switch;
pub mod ui_table;
pub mod ui_text;
pub mod ui_theme;

use std::sync::Arc;

use ferrite_runtime::typed::TypedValue;
use ferrite_runtime::ui::{UiHub, UiItem};
use ferrite_runtime::{BuildCtx, ConfigError, ConfigNode, Msg, NodeCtx, NodeError, Value};
use serde_json::{Map, Value as Json};

/// The `min` / `max` keys of a gauge or slider (0 and 10 by default); `max` must be above
/// `min`.
pub(crate) fn min_max(config: &Map<String, Json>) -> Result<(f64, f64), ConfigError> {
    let (min, max) = (number(config, "min", 0.0)?, number(config, "max", 10.0)?);
    if min >= max {
        return Err(ConfigError::field(
            "max",
            format!("{max} is not above min {min}"),
        ));
    }
    Ok((min, max))
}

/// A number key: FlowFuse's editor writes numbers, or their text when typed in a field.
/// Missing, `null` or `""` give `default`; anything else that is not a number is an error.
pub(crate) fn number(
    config: &Map<String, Json>,
    key: &str,
    default: f64,
) -> Result<f64, ConfigError> {
    match config.get(key) {
        None | Some(Json::Null) => Ok(default),
        Some(Json::String(s)) if s.trim().is_empty() => Ok(default),
        Some(Json::Number(n)) => n
            .as_f64()
            .ok_or_else(|| ConfigError::field(key, "not a number")),
        Some(Json::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| ConfigError::field(key, format!("'{s}' is not a number"))),
        Some(other) => Err(ConfigError::field(key, format!("{other} is not a number"))),
    }
}

/// A text key (`default` when missing or not text).
pub(crate) fn text(config: &Map<String, Json>, key: &str, default: &str) -> String {
    config
        .get(key)
        .and_then(Json::as_str)
        .unwrap_or(default)
        .to_owned()
}

/// A flag: `true`/`false`, or their text as some FlowFuse versions store them.
pub(crate) fn flag(config: &Map<String, Json>, key: &str, default: bool) -> bool {
    match config.get(key) {
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) if s == "true" => true,
        Some(Json::String(s)) if s == "false" => false,
        _ => default,
    }
}

/// The id a `ui-*` node names in `key` (its `ui`, `page` or `group`): required, and a
/// deployed `T` (config nodes are built after those they name).
pub(crate) fn parent<T: ConfigNode>(cx: &BuildCtx<'_>, key: &str) -> Result<String, ConfigError> {
    match cx.raw().get(key).and_then(Json::as_str) {
        Some(id) if !id.is_empty() => {
            cx.config_node::<T>(key)?;
            Ok(id.to_owned())
        }
        _ => Err(ConfigError::field(key, "required")),
    }
}

/// How a `msg.ui_update` value is read.
#[derive(Clone, Copy)]
pub(crate) enum Prop {
    /// Text; a number or boolean becomes its text.
    Text,
    /// A number, or text that reads as one.
    Number,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Read by the widget's own reader, as its build reads the key.
    Custom(fn(&Value) -> Result<Json, String>),
}

/// A `msg.ui_update` key a widget takes: FlowFuse's name, the config key it sets, how it
/// is read.
pub(crate) struct Dynamic(pub &'static str, pub &'static str, pub Prop);

/// The config keys `msg` sets dynamically: `enabled` and `visible` (as flags) and `class`
/// (any widget), and the `msg.ui_update` keys in `keys`; other `ui_update` keys are
/// ignored, as FlowFuse ignores them. A value that cannot be read is an error naming it.
pub(crate) fn dynamic_patch(msg: &Msg, keys: &[Dynamic]) -> Result<Map<String, Json>, String> {
    let mut patch = Map::new();
    for key in ["enabled", "visible"] {
        if let Some(v) = msg.get(key) {
            patch.insert(key.to_owned(), Json::Bool(v.is_truthy()));
        }
    }
    let updates = match msg.get("ui_update") {
        Some(Value::Object(updates)) => Some(updates),
        _ => None,
    };
    // FlowFuse reads `msg.class` first, then `msg.ui_update.class`.
    let class = msg
        .get("class")
        .or_else(|| updates.and_then(|u| u.get("class")));
    match class {
        Some(Value::String(class)) => {
            patch.insert("class".to_owned(), Json::String(class.clone()));
        }
        Some(other) => return Err(format!("msg.class: {} is not text", other.to_js_string())),
        None => {}
    }
    let Some(updates) = updates else {
        return Ok(patch);
    };
    for Dynamic(name, key, prop) in keys {
        let Some(v) = updates.get(*name) else {
            continue;
        };
        let value = match (prop, v) {
            (Prop::Text, Value::String(s)) => Json::String(s.clone()),
            (Prop::Text, Value::Int(_) | Value::Float(_) | Value::Bool(_)) => {
                Json::String(v.to_js_string())
            }
            (Prop::Number, Value::Int(_) | Value::Float(_) | Value::String(_)) => {
                let n = v.to_number();
                if !n.is_finite() {
                    return Err(format!(
                        "msg.ui_update.{name}: {} is not a number",
                        v.to_js_string()
                    ));
                }
                json_number(n)
            }
            (Prop::OneOf(words), Value::String(s)) if words.contains(&s.as_str()) => {
                Json::String(s.clone())
            }
            (Prop::Custom(read), v) => read(v).map_err(|e| format!("msg.ui_update.{name}: {e}"))?,
            (Prop::OneOf(words), _) => {
                return Err(format!(
                    "msg.ui_update.{name}: {} is not one of {}",
                    v.to_js_string(),
                    words.join(", ")
                ));
            }
            _ => {
                return Err(format!(
                    "msg.ui_update.{name}: {} is not text",
                    v.to_js_string()
                ));
            }
        };
        patch.insert((*key).to_owned(), value);
    }
    Ok(patch)
}

/// Whether `msg` carries nothing but dynamic properties (FlowFuse's `hasExtraProps`
/// false): such a message changes how a widget looks, not what it shows.
pub(crate) fn only_dynamic(msg: &Msg) -> bool {
    msg.map().keys().all(|k| {
        matches!(
            k.as_str(),
            "_msgid" | "ui_update" | "class" | "visible" | "enabled"
        )
    })
}

/// Merges `patch` into an item's `config` and into its hub item, so open pages redraw it.
pub(crate) fn apply_patch(cx: &NodeCtx, id: &str, config: &mut Json, patch: &Map<String, Json>) {
    if patch.is_empty() {
        return;
    }
    if let Json::Object(config) = config {
        config.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    cx.ui().update_config(id, patch);
}

/// A widget's place and look, read at build, put on the hub when it starts.
pub(crate) struct Widget {
    id: String,
    kind: &'static str,
    parent: String,
    order: f64,
    config: Json,
}

impl Widget {
    /// A widget in its `group` (a deployed `ui-group`), with its `order`.
    pub(crate) fn new(
        cx: &BuildCtx<'_>,
        kind: &'static str,
        config: Json,
    ) -> Result<Self, ConfigError> {
        Self::under::<ui_group::UiGroup>(cx, kind, "group", config)
    }

    /// A widget whose parent, a deployed `T`, is named by `key` (a notification sits on
    /// its `ui`).
    pub(crate) fn under<T: ConfigNode>(
        cx: &BuildCtx<'_>,
        kind: &'static str,
        key: &str,
        config: Json,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            id: cx.id().to_owned(),
            kind,
            parent: parent::<T>(cx, key)?,
            order: number(cx.raw(), "order", 0.0)?,
            config,
        })
    }

    /// Puts the widget on the hub; with `input`, the page's input comes back to this node.
    pub(crate) fn register(&self, cx: &NodeCtx, input: bool, state: Json) {
        cx.ui().register(UiItem {
            id: self.id.clone(),
            kind: self.kind.to_owned(),
            parent: Some(self.parent.clone()),
            order: self.order,
            config: self.config.clone(),
            state,
            input: input.then(|| cx.event_sender()),
        });
    }

    pub(crate) fn unregister(&self, cx: &NodeCtx) {
        cx.ui().unregister(&self.id);
    }

    /// Applies the dynamic properties `msg` carries (see [`dynamic_patch`]); `check` sees
    /// the config they would make and may refuse it. An error is for Catch nodes.
    pub(crate) fn update(
        &mut self,
        cx: &NodeCtx,
        msg: &Msg,
        keys: &[Dynamic],
        check: impl FnOnce(&Map<String, Json>) -> Result<(), String>,
    ) -> Result<(), NodeError> {
        let fail = |e: String| NodeError::new(format!("{}: {e}", self.kind)).for_msg(msg.clone());
        let patch = dynamic_patch(msg, keys).map_err(fail)?;
        if patch.is_empty() {
            return Ok(());
        }
        let mut merged = self.config.as_object().cloned().unwrap_or_default();
        merged.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
        check(&merged).map_err(fail)?;
        apply_patch(cx, &self.id, &mut self.config, &patch);
        Ok(())
    }

    /// Whether the page's input is taken (FlowFuse: `msg.enabled` false disables it).
    pub(crate) fn enabled(&self) -> bool {
        self.config.get("enabled") != Some(&Json::Bool(false))
    }

    /// Tells the pages, and keeps `state` for pages that connect later.
    pub(crate) fn show(&self, cx: &NodeCtx, state: Json) {
        cx.ui().send(&self.id, state.clone(), Some(state));
    }
}

/// A config node's hub item, removed when the config node closes.
pub(crate) struct Registered {
    hub: Arc<UiHub>,
    id: String,
}

impl Registered {
    /// Registers `kind` for the node being built. Config nodes have no start: the item
    /// goes on the hub at build and comes off in `ConfigNode::close`.
    pub(crate) fn new(
        cx: &BuildCtx<'_>,
        kind: &str,
        parent: Option<String>,
        config: Json,
    ) -> Result<Self, ConfigError> {
        let order = number(cx.raw(), "order", -1.0)?;
        let hub = Arc::clone(cx.ui());
        hub.register(UiItem {
            id: cx.id().to_owned(),
            kind: kind.to_owned(),
            parent,
            order,
            config,
            state: Json::Null,
            input: None,
        });
        Ok(Self {
            hub,
            id: cx.id().to_owned(),
        })
    }

    pub(crate) fn close(&self) {
        self.hub.unregister(&self.id);
    }
}

/// The `topic`/`topicType` typed input widgets put on what they emit (FlowFuse's
/// `appendTopic`). As in FlowFuse, a widget with neither setting leaves `msg.topic` alone.
pub(crate) struct Topic(Option<TypedValue>);

impl Topic {
    pub(crate) fn read(cx: &BuildCtx<'_>) -> Result<Self, ConfigError> {
        let set = |key: &str| {
            cx.raw()
                .get(key)
                .and_then(Json::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        Ok(Self(if set("topic") {
            Some(cx.typed("topic", "topicType", "msg")?)
        } else if set("topicType") {
            // A type without a value names nothing: the topic is empty.
            Some(
                TypedValue::compile("str", &Json::String(String::new()))
                    .map_err(|e| ConfigError::field("topic", e))?,
            )
        } else {
            None
        }))
    }

    /// Sets `msg.topic` from the setting; as FlowFuse's `appendTopic`, a value that is
    /// not truthy (none, `""`, `null`, 0, false) makes it `""`.
    pub(crate) fn apply(&self, cx: &NodeCtx, msg: &mut Msg) -> Result<(), NodeError> {
        let Some(topic) = &self.0 else {
            return Ok(());
        };
        let value = cx
            .eval(topic, Some(msg))
            .map_err(|e| NodeError::new(e.to_string()).for_msg(msg.clone()))?;
        match value {
            Some(v) if v.is_truthy() => msg.insert("topic", v),
            _ => msg.insert("topic", Value::String(String::new())),
        }
        Ok(())
    }
}

/// A number for the page: whole numbers stay integers in the JSON.
pub(crate) fn json_number(n: f64) -> Json {
    Value::Float(n).to_json()
}
