//! `ui-chart` — mirrors FlowFuse Dashboard 2.0's chart widget
//! (`@flowfuse/node-red-dashboard`, `nodes/widgets/ui_chart.js`), drawn by our
//! `/dashboard` page; its points are kept in the history store so charts survive restarts.
//!
//! Config (FlowFuse keys): `group`, `order`, `width`, `height`, `label`, `chartType`
//! (`line` | `bar` | `scatter`), `category` + `categoryType` (the series name: `msg`
//! property, default `topic`; `str` fixed text; `property` a key of each point object;
//! `json` a list of keys of the payload object, each its own series), `xAxisProperty` +
//! `xAxisPropertyType` (`msg` property or `property` of the point object; empty:
//! `msg.timestamp`, else now), `xAxisType` (`time` | `linear` | `category`),
//! `yAxisProperty` (key of the point object; empty: the payload itself, or its `y`),
//! `xAxisLabel`, `yAxisLabel`, `ymin`, `ymax`, `action` (`append` | `replace`),
//! `removeOlder` × `removeOlderUnit` (seconds; time axes only), `removeOlderPoints` (per
//! series), `colors`, `showLegend`, `interpolation`.
//!
//! Reads `msg.payload` (a number; a point object; an array of point objects, `[x, y]`
//! pairs or numbers; `[]` clears the chart), `msg.action` (`replace` overrides the
//! config), `msg.topic` (default series) and `msg.timestamp`. Passes every message on
//! unchanged (1 output), as FlowFuse does. A payload with no plottable point is an error.
//!
//! Dynamic properties: `msg.enabled`, `msg.visible` (FlowFuse's, any widget) and
//! `msg.ui_update.label` (ours: FlowFuse's chart takes only `chartOptions`, which are
//! Chart.js's and mean nothing to uPlot). A message with nothing else plots nothing.
//!
//! On the dashboard hub: item kind `ui-chart`, config per the issue 8 contract, state
//! `{"series": {name: columns}}`, live msgs `{"action": "append" | "replace" | "clear",
//! "series": {name: columns}}` (a clear's is `{}`). A page that opens on 100,000 points
//! must parse and draw them in well under 300 ms, so each series travels as columns rather
//! than one `[x, y]` array per point (`editor-static/dashboard/dashboard.js` decodes them):
//! * `"y": [y0, y1, ...]`: the values, integral ones written without a fraction;
//! * `"dx": [x0, x1 - x0, x2 - x1, ...]` when every x is an integer a JavaScript number
//!   holds exactly (time axes: epoch ms), and so is every difference: the first absolute,
//!   then differences, which are short (`35` for a point every 35 ms, not `1763877600035`);
//!   the page prefix-sums them;
//! * `"x": [x0, x1, ...]` otherwise (category axes' text, fractional or textual x): as given.
//!
//! `dx` or `x` has as many entries as `y`.
//! Points are recorded as history series `ui-chart:<id>:<series>` (a time axis: y at x;
//! linear and category axes: `[x, y]` as text at the arrival time); at start the node loads
//! its window (`removeOlder` on time axes, then `removeOlderPoints`) back from the store.
//! The window is a queue per series, pruned from the front, so a message costs the same
//! however many points the window holds; the hub reads it as the item's state only when a
//! page connects (`UiHub::register_live`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferrite_runtime::history::{HistoryQuery, HistoryStore, HistoryValue};
use ferrite_runtime::path::PropPath;
use ferrite_runtime::ui::UiItem;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use indexmap::IndexMap;

use super::{Dynamic, Prop, apply_patch, dynamic_patch, only_dynamic};

/// The `msg.ui_update` keys a chart takes.
const DYNAMIC: &[Dynamic] = &[Dynamic("label", "label", Prop::Text)];
use serde_json::{Value as Json, json};

pub const DEF: NodeDef = NodeDef {
    type_name: "ui-chart",
    category: "dashboard",
    set_id: "@flowfuse/node-red-dashboard/ui-chart",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// FlowFuse's default series colours.
const COLORS: [&str; 9] = [
    "#0095FF", "#FF0000", "#FF7F0E", "#2CA02C", "#A347E1", "#D62728", "#FF9896", "#9467BD",
    "#C5B0D5",
];

enum Category {
    Msg(PropPath),
    Fixed(String),
    Key(String),
    Keys(Vec<String>),
}

enum XSource {
    Default,
    Msg(PropPath),
    Key(String),
}

/// What the chart shows: each series' points in arrival order, within the window.
#[derive(Default)]
struct Window {
    series: IndexMap<String, VecDeque<(Json, f64)>>,
    /// Points older than this many ms go (time axes; 0: no limit).
    max_age_ms: i64,
    /// Points beyond this many per series go, oldest first (0: no limit).
    max_points: usize,
    /// A category axis: the x are labels.
    labels: bool,
}

impl Window {
    /// The oldest x a time axis keeps now, if it has an age limit.
    fn cutoff(&self) -> Option<f64> {
        (self.max_age_ms > 0).then(|| (now_ms() - self.max_age_ms) as f64)
    }

    /// Adds a point unless it is already older than the window; drops what it pushes out.
    fn push(&mut self, series: &str, x: Json, y: f64, cutoff: Option<f64>) {
        if let (Some(cutoff), Some(at)) = (cutoff, x.as_f64())
            && at <= cutoff
        {
            return;
        }
        let points = match self.series.get_mut(series) {
            Some(points) => points,
            None => self.series.entry(series.to_owned()).or_default(),
        };
        points.push_back((x, y));
        if self.max_points > 0 && points.len() > self.max_points {
            points.pop_front();
        }
    }

    /// Drops, from the front of each series, what the window no longer holds. Points come
    /// in time order, so the front is where old ones are: each point is dropped once.
    fn prune(&mut self, cutoff: Option<f64>) {
        for points in self.series.values_mut() {
            if let Some(cutoff) = cutoff {
                while points
                    .front()
                    .is_some_and(|(x, _)| x.as_f64().is_some_and(|x| x <= cutoff))
                {
                    points.pop_front();
                }
            }
            if self.max_points > 0 && points.len() > self.max_points {
                points.drain(..points.len() - self.max_points);
            }
        }
        self.series.retain(|_, points| !points.is_empty());
    }

    /// The state: `{"series": {name: columns}}` (see the module doc).
    fn state(&self) -> Json {
        let series: serde_json::Map<String, Json> = self
            .series
            .iter()
            .map(|(name, points)| {
                let points = points.iter().map(|(x, y)| (x, *y));
                (name.clone(), columns(points, self.labels))
            })
            .collect();
        json!({ "series": series })
    }
}

/// Integers beyond this lose precision as JavaScript numbers (2^53).
const JS_SAFE: i64 = 1 << 53;

/// A series' points as columns, `{"dx" | "x": [...], "y": [...]}` (see the module doc).
/// `labels`: the x are category labels, whose differences mean nothing.
fn columns<'a, I>(points: I, labels: bool) -> Json
where
    I: ExactSizeIterator<Item = (&'a Json, f64)> + Clone,
{
    let y: Vec<Json> = points.clone().map(|(_, y)| compact(y)).collect();
    let xs = points.map(|(x, _)| x);
    match deltas(xs.clone()).filter(|_| !labels) {
        Some(dx) => json!({ "dx": dx, "y": y }),
        None => json!({ "x": xs.cloned().collect::<Vec<_>>(), "y": y }),
    }
}

/// The x as first-absolute-then-differences, if every x and every difference is an integer
/// the page's numbers hold exactly (so its prefix sums give back the very same x).
fn deltas<'a>(xs: impl ExactSizeIterator<Item = &'a Json>) -> Option<Vec<Json>> {
    let mut out = Vec::with_capacity(xs.len());
    let mut previous = 0;
    for x in xs {
        let x = integer(x)?;
        // Both within ±2^53: the difference cannot overflow an i64.
        let dx = x - previous;
        if dx.abs() > JS_SAFE {
            return None;
        }
        out.push(Json::from(dx));
        previous = x;
    }
    Some(out)
}

/// An x that is an integer within the page's exact range (`2.0` counts: JSON has one
/// number type, so the page cannot tell it from `2`).
fn integer(x: &Json) -> Option<i64> {
    let n = x.as_i64().or_else(|| {
        x.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() <= JS_SAFE as f64)
            .map(|f| f as i64)
    })?;
    (n.abs() <= JS_SAFE).then_some(n)
}

/// A y as JSON, integral values without the `.0` (two bytes a point on a PLC's counts).
fn compact(y: f64) -> Json {
    if y.fract() == 0.0 && y.abs() <= JS_SAFE as f64 {
        Json::from(y as i64)
    } else {
        Json::from(y)
    }
}

/// Points grouped by series, in order, as the live msg's `series`.
fn series_columns(points: &[(String, Json, f64)], labels: bool) -> Json {
    let mut by_series: IndexMap<&str, Vec<(&Json, f64)>> = IndexMap::new();
    for (series, x, y) in points {
        by_series.entry(series).or_default().push((x, *y));
    }
    let series: serde_json::Map<String, Json> = by_series
        .into_iter()
        .map(|(name, points)| {
            let points = points.iter().map(|(x, y)| (*x, *y));
            (name.to_owned(), columns(points, labels))
        })
        .collect();
    Json::Object(series)
}

struct UiChart {
    id: String,
    item: UiItem,
    time_axis: bool,
    category: Category,
    x: XSource,
    y_key: Option<String>,
    replace: bool,
    store: Option<Arc<HistoryStore>>,
    /// Shared with the hub, which reads it for snapshots.
    window: Arc<Mutex<Window>>,
}

/// JavaScript `Number()` of a config value that may be text or a number (`""` is 0).
fn number(config: &serde_json::Map<String, Json>, key: &str) -> Option<f64> {
    config
        .get(key)
        .map(|v| Value::from(v.clone()).to_number())
        .filter(|n| n.is_finite())
}

/// A number the user may leave empty (`""`, null or missing: none).
fn optional_number(config: &serde_json::Map<String, Json>, key: &str) -> Option<f64> {
    match config.get(key) {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if s.trim().is_empty() => None,
        Some(_) => number(config, key),
    }
}

fn text<'a>(config: &'a serde_json::Map<String, Json>, key: &str, default: &'a str) -> &'a str {
    config
        .get(key)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let chart_type = text(config, "chartType", "line");
    if !matches!(chart_type, "line" | "bar" | "scatter") {
        return Err(ConfigError::field(
            "chartType",
            format!("'{chart_type}' is not line, bar or scatter"),
        ));
    }
    let x_axis_type = text(config, "xAxisType", "time");
    if !matches!(x_axis_type, "time" | "linear" | "category") {
        return Err(ConfigError::field(
            "xAxisType",
            format!("'{x_axis_type}' is not time, linear or category"),
        ));
    }
    let category_text = text(config, "category", "topic");
    let category = match text(config, "categoryType", "msg") {
        "msg" => Category::Msg(
            PropPath::parse_msg(category_text).map_err(|e| ConfigError::field("category", e))?,
        ),
        "str" => Category::Fixed(
            config
                .get("category")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
        ),
        "property" => Category::Key(category_text.to_owned()),
        "json" => {
            let keys: Vec<String> = match config.get("category") {
                Some(Json::Array(a)) => a
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect(),
                Some(Json::String(s)) => serde_json::from_str(s).map_err(|e| {
                    ConfigError::field("category", format!("not a JSON list of keys: {e}"))
                })?,
                _ => Vec::new(),
            };
            Category::Keys(keys)
        }
        other => {
            return Err(ConfigError::field(
                "categoryType",
                format!("'{other}' is not msg, str, property or json"),
            ));
        }
    };
    let x = match config
        .get("xAxisProperty")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
    {
        None => XSource::Default,
        Some(key) => match text(config, "xAxisPropertyType", "msg") {
            "property" => XSource::Key(key.to_owned()),
            _ => XSource::Msg(
                PropPath::parse_msg(key).map_err(|e| ConfigError::field("xAxisProperty", e))?,
            ),
        },
    };
    let y_key = config
        .get("yAxisProperty")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty() && *s != "payload")
        .map(str::to_owned);
    let remove_older = number(config, "removeOlder").unwrap_or(1.0);
    let unit = number(config, "removeOlderUnit").unwrap_or(3600.0);
    let time_axis = x_axis_type == "time";
    let remove_older_ms = if time_axis {
        (remove_older * unit * 1000.0).max(0.0) as i64
    } else {
        0
    };
    let remove_older_points =
        number(config, "removeOlderPoints").map_or(0, |n| n.max(0.0) as usize);
    let colors = match config.get("colors") {
        Some(Json::Array(c)) if !c.is_empty() => Json::Array(c.clone()),
        _ => json!(COLORS),
    };
    let id = cx.id().to_owned();
    let item = UiItem {
        id: id.clone(),
        kind: DEF.type_name.to_owned(),
        parent: config
            .get("group")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        order: number(config, "order").unwrap_or(0.0),
        config: json!({
            "label": text(config, "label", "chart"),
            "chartType": chart_type,
            "xAxisType": x_axis_type,
            "xAxisLabel": text(config, "xAxisLabel", ""),
            "yAxisLabel": text(config, "yAxisLabel", ""),
            "ymin": optional_number(config, "ymin"),
            "ymax": optional_number(config, "ymax"),
            "removeOlderMs": remove_older_ms,
            "removeOlderPoints": remove_older_points,
            "colors": colors,
            "showLegend": config.get("showLegend").is_none_or(|v| Value::from(v.clone()).is_truthy()),
            "interpolation": text(config, "interpolation", "linear"),
            "width": number(config, "width").unwrap_or(6.0),
            "height": number(config, "height").unwrap_or(8.0),
        }),
        state: Json::Null,
        input: None,
    };
    Ok(Box::new(UiChart {
        id,
        item,
        time_axis,
        category,
        x,
        y_key,
        replace: text(config, "action", "append") == "replace",
        store: cx.history().cloned(),
        window: Arc::new(Mutex::new(Window {
            series: IndexMap::new(),
            max_age_ms: remove_older_ms,
            max_points: remove_older_points,
            labels: x_axis_type == "category",
        })),
    }))
}

/// A point a linear or category chart recorded: `[x, y]` as JSON text.
fn recorded_point(value: Option<HistoryValue>) -> Option<(Json, f64)> {
    let Some(HistoryValue::Text(text)) = value else {
        return None;
    };
    match serde_json::from_str::<Json>(&text).ok()? {
        Json::Array(pair) if pair.len() == 2 => Some((pair[0].clone(), pair[1].as_f64()?)),
        _ => None,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn finite(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// A key of a point object.
fn field<'a>(point: &'a Value, key: &str) -> Option<&'a Value> {
    match point {
        Value::Object(map) => map.get(key),
        _ => None,
    }
}

fn series_name(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_json().to_string()),
    }
}

impl UiChart {
    fn history_prefix(&self) -> String {
        format!("ui-chart:{}:", self.id)
    }

    /// The series of a point: from the point object, or from the message.
    fn category_of(&self, msg: &Msg, point: Option<&Value>) -> String {
        let from_msg = |path: &PropPath| msg.get_path(path).and_then(series_name);
        match &self.category {
            Category::Msg(path) => from_msg(path),
            Category::Fixed(s) => Some(s.clone()),
            Category::Key(key) => point.and_then(|p| field(p, key)).and_then(series_name),
            Category::Keys(_) => None,
        }
        .unwrap_or_default()
    }

    fn default_x(&self, msg: &Msg) -> Json {
        match msg.get("timestamp").and_then(finite) {
            Some(ts) => json!(ts as i64),
            None => json!(now_ms()),
        }
    }

    fn x_of(&self, msg: &Msg, point: Option<&Value>) -> Json {
        let found = match &self.x {
            XSource::Default => point.and_then(|p| field(p, "x")),
            XSource::Msg(path) => msg.get_path(path),
            XSource::Key(key) => point.and_then(|p| field(p, key)),
        };
        match found {
            Some(v @ (Value::Int(_) | Value::Float(_) | Value::String(_))) => {
                // A time axis takes ISO dates too; it keeps epoch ms.
                if let (true, Value::String(s)) = (self.time_axis, v) {
                    chrono::DateTime::parse_from_rfc3339(s)
                        .map(|t| json!(t.timestamp_millis()))
                        .unwrap_or_else(|_| v.to_json())
                } else {
                    v.to_json()
                }
            }
            _ => self.default_x(msg),
        }
    }

    /// The points a message carries, `(series, x, y)`.
    fn points(&self, msg: &Msg) -> Vec<(String, Json, f64)> {
        let mut out = Vec::new();
        let Some(payload) = msg.payload() else {
            return out;
        };
        let items: Vec<&Value> = match payload {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for item in items {
            match item {
                Value::Object(_) => {
                    if let Category::Keys(keys) = &self.category {
                        let x = self.x_of(msg, Some(item));
                        for key in keys {
                            if let Some(y) = field(item, key).and_then(finite) {
                                out.push((key.clone(), x.clone(), y));
                            }
                        }
                        continue;
                    }
                    let y = match &self.y_key {
                        Some(key) => field(item, key),
                        None => field(item, "y"),
                    };
                    if let Some(y) = y.and_then(finite) {
                        out.push((
                            self.category_of(msg, Some(item)),
                            self.x_of(msg, Some(item)),
                            y,
                        ));
                    }
                }
                Value::Array(pair) if pair.len() == 2 => {
                    if let Some(y) = finite(&pair[1]) {
                        let x = match &pair[0] {
                            v @ (Value::Int(_) | Value::Float(_) | Value::String(_)) => v.to_json(),
                            _ => self.default_x(msg),
                        };
                        out.push((self.category_of(msg, None), x, y));
                    }
                }
                other => {
                    if let Some(y) = finite(other) {
                        out.push((self.category_of(msg, None), self.x_of(msg, None), y));
                    }
                }
            }
        }
        out
    }

    /// The window; a panic elsewhere cannot have left it half-changed in a way that
    /// matters to a chart, so a poisoned lock is used as it is.
    fn window(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The names of the series shown now.
    fn shown(&self) -> Vec<String> {
        self.window().series.keys().cloned().collect()
    }

    /// Forgets this chart's recorded history (a clear or a replace).
    async fn forget_history(&self, names: Vec<String>) -> Result<(), String> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let prefix = self.history_prefix();
        let mut recorded: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
        // Series recorded before a restart that the window no longer holds go too.
        let all = store.series_list().await.map_err(|e| e.to_string())?;
        recorded.extend(all.into_iter().filter(|s| s.starts_with(&prefix)));
        recorded.sort();
        recorded.dedup();
        for series in recorded {
            store
                .delete_series(&series)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Fills the window from the store (a restart).
    async fn load_history(&mut self) -> Result<(), String> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let prefix = self.history_prefix();
        let max_age_ms = self.window().max_age_ms;
        let from_ms = if self.time_axis && max_age_ms > 0 {
            now_ms() - max_age_ms
        } else {
            i64::MIN
        };
        let mut loaded = Vec::new();
        for name in store.series_list().await.map_err(|e| e.to_string())? {
            let Some(series) = name.strip_prefix(&prefix) else {
                continue;
            };
            let query = HistoryQuery {
                series: name.clone(),
                from_ms,
                to_ms: i64::MAX,
                points: None,
                agg: Default::default(),
            };
            let points = store.query(&query).await.map_err(|e| e.to_string())?;
            let points: VecDeque<(Json, f64)> = points
                .into_iter()
                .filter_map(|p| {
                    if self.time_axis {
                        p.avg.map(|y| (json!(p.ts_ms), y))
                    } else {
                        recorded_point(p.last)
                    }
                })
                .collect();
            if !points.is_empty() {
                loaded.push((series.to_owned(), points));
            }
        }
        let mut window = self.window();
        window.series.extend(loaded);
        let cutoff = window.cutoff();
        window.prune(cutoff);
        Ok(())
    }
}

#[async_trait]
impl Node for UiChart {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let loaded = self.load_history().await;
        let window = Arc::clone(&self.window);
        cx.ui().register_live(
            self.item.clone(),
            Arc::new(move || {
                window
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .state()
            }),
        );
        loaded.map_err(|e| NodeError::new(format!("could not load the chart's history: {e}")))
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let patch = dynamic_patch(&msg, DYNAMIC)
            .map_err(|e| NodeError::new(format!("ui-chart: {e}")).for_msg(msg.clone()))?;
        apply_patch(cx, &self.id, &mut self.item.config, &patch);
        if only_dynamic(&msg) {
            cx.send(msg).await;
            return Ok(());
        }
        let clear = matches!(msg.payload(), Some(Value::Array(a)) if a.is_empty());
        if clear {
            let forgotten = self.forget_history(self.shown()).await;
            self.window().series.clear();
            cx.ui()
                .send(&self.id, json!({"action": "clear", "series": {}}), None);
            cx.send(msg.clone()).await;
            return forgotten.map_err(|e| NodeError::new(e).for_msg(msg));
        }
        let points = self.points(&msg);
        if points.is_empty() {
            return Err(NodeError::new(
                "msg.payload has no point to plot: send a number, {x, y}, [x, y] or an array of them",
            )
            .for_msg(msg));
        }
        let replace = match msg.get("action") {
            Some(Value::String(a)) => a == "replace",
            _ => self.replace,
        };
        let mut failed = None;
        if replace {
            if let Err(e) = self.forget_history(self.shown()).await {
                failed = Some(e);
            }
            self.window().series.clear();
        }
        {
            let mut window = self.window();
            let cutoff = window.cutoff();
            for (series, x, y) in &points {
                window.push(series, x.clone(), *y, cutoff);
            }
            window.prune(cutoff);
        }
        for (series, x, y) in &points {
            let Some(store) = &self.store else {
                break;
            };
            // A time axis records y at x; other axes record `[x, y]` at the arrival time,
            // so their points come back in the order they came.
            let (ts, value) = match (self.time_axis, x.as_f64()) {
                (true, Some(ts)) => (ts as i64, HistoryValue::Number(*y)),
                (true, None) => continue,
                (false, _) => (now_ms(), HistoryValue::Text(json!([x, y]).to_string())),
            };
            let name = format!("{}{series}", self.history_prefix());
            if let Err(e) = store.record_wait(&name, ts, value).await {
                failed = Some(e.to_string());
            }
        }
        if cx.ui().has_pages() {
            let labels = self.window().labels;
            let series = series_columns(&points, labels);
            let action = if replace { "replace" } else { "append" };
            cx.ui()
                .send(&self.id, json!({"action": action, "series": series}), None);
        }
        cx.send(msg.clone()).await;
        match failed {
            Some(e) => Err(
                NodeError::new(format!("could not record the chart's history: {e}")).for_msg(msg),
            ),
            None => Ok(()),
        }
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        cx.ui().unregister(&self.id);
    }
}
