//! `inject` — mirrors Node-RED `@node-red/nodes/core/common/20-inject.js`.
//!
//! Config:
//! * `props` — `[{p, v, vt}]`: the message properties to set, in order (default
//!   `[{"p":"payload"},{"p":"topic","vt":"str"}]`). A `payload` entry without `v` takes the
//!   legacy `payload` / `payloadType`; a `topic` entry of type `str` without `v` takes the
//!   legacy `topic`. Without a `props` array the node is a legacy one: `payload` of type
//!   `payloadType` and `topic` as a string. A missing `v` is `""` and a missing `vt` is
//!   `str` (Node-RED's runtime defaults; the editor always writes `payloadType`, `"date"` by
//!   default). A `vt` the typed inputs do not know leaves `v` as it is, as Node-RED does.
//! * `once` (false) and `onceDelay` (seconds, `0`/`""` → 0.1): inject once after the delay,
//!   then start repeating.
//! * `repeat` — seconds between injections (`""` = none; above 2147483 is a config error).
//! * `crontab` — a cron pattern as the editor writes it (`"*/5 * * * 1,2"`, `"00 12 * * *"`,
//!   `"*/2 8-17 * * 1,2,3,4,5"`; 6 fields add seconds), in local time. `repeat` wins.
//! * `name`.
//!
//! Writes: every property named in `props` (a value evaluating to `undefined`, such as a
//! missing context key, deletes it). Property values are typed inputs evaluated against the
//! message being built, so a `jsonata` or `msg` property sees the properties set before it.
//!
//! An input message (the editor's inject button, `POST /inject/:id`, the test helper's
//! `receive`) triggers an injection built on that message. If it carries
//! `__user_inject_props__` (an array of `{p, v, vt}`) that list replaces `props` for this
//! one injection; the key itself is always removed. Evaluation errors are joined with
//! `"; "` and reported as one catchable error; nothing is sent then.
//!
//! Invalid configured values (bad JSON, JSONata, regular expression or property path, bad
//! `crontab`, too long `repeat`) are deploy errors naming the field. No status is shown.

use std::time::Duration;

use chrono::{DateTime, Local};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use ferrite_runtime::path::PropPath;
use ferrite_runtime::typed::TypedValue;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, TimerId,
    Value, async_trait,
};
use serde_json::{Map, Value as Json};

pub const DEF: NodeDef = NodeDef {
    type_name: "inject",
    category: "common",
    set_id: "node-red/inject",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Node-RED refuses intervals above this many seconds (setInterval's 2^31-1 ms limit).
const MAX_REPEAT_SECS: f64 = 2_147_483.0;
/// Longest single timer wait for a cron fire; the wall clock is checked again after it, so
/// clock changes (NTP, suspend, DST) do not leave a stale sleep behind.
const CRON_MAX_SLEEP: Duration = Duration::from_secs(60);
/// The message key carrying the editor's one-off property list.
const USER_PROPS: &str = "__user_inject_props__";

/// One property to set: where, and what to evaluate (`None`: a `jsonata` property with an
/// empty expression, which Node-RED skips).
struct Prop {
    path: PropPath,
    value: Option<TypedValue>,
}

/// A `{p, v, vt}` entry after the legacy fields are applied.
struct RawProp {
    p: String,
    v: Option<Json>,
    vt: Option<String>,
    /// The config field the value came from, for error messages.
    field: String,
}

struct Inject {
    props: Vec<Prop>,
    once_delay: Option<Duration>,
    repeat: Option<Duration>,
    cron: Option<Cron>,
    once_timer: Option<TimerId>,
    repeat_timer: Option<TimerId>,
    cron_timer: Option<TimerId>,
    /// The cron occurrence the cron timer is waiting for.
    cron_target: Option<DateTime<Local>>,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    let props = raw_props(config)
        .into_iter()
        .filter(|raw| !raw.p.is_empty())
        .map(|raw| compile_prop(&raw).map_err(|reason| ConfigError::field(&raw.field, reason)))
        .collect::<Result<Vec<_>, _>>()?;

    let repeat = match config
        .get("repeat")
        .and_then(ferrite_runtime::loose::json_f64)
    {
        Some(secs) if secs > MAX_REPEAT_SECS => {
            return Err(ConfigError::field(
                "repeat",
                format!("interval too large: {secs} seconds (at most {MAX_REPEAT_SECS})"),
            ));
        }
        Some(secs) if secs > 0.0 => Duration::try_from_secs_f64(secs).ok(),
        _ => None,
    };

    let crontab = config
        .get("crontab")
        .map(ferrite_runtime::typed::json_text)
        .unwrap_or_default();
    let cron = if repeat.is_none() && !crontab.trim().is_empty() {
        Some(parse_cron(&crontab).map_err(|reason| ConfigError::field("crontab", reason))?)
    } else {
        None
    };

    let once = config
        .get("once")
        .is_some_and(ferrite_runtime::loose::json_bool);
    let once_delay = once.then(|| once_delay(config.get("onceDelay")));

    Ok(Box::new(Inject {
        props,
        once_delay,
        repeat,
        cron,
        once_timer: None,
        repeat_timer: None,
        cron_timer: None,
        cron_target: None,
    }))
}

/// `(onceDelay || 0.1)` seconds. As with Node.js timers, a negative delay fires at once and
/// one beyond 2^31-1 ms fires after 1 ms.
fn once_delay(value: Option<&Json>) -> Duration {
    let secs = value
        .and_then(ferrite_runtime::loose::json_f64)
        .filter(|s| *s != 0.0)
        .unwrap_or(0.1);
    let secs = if secs > 2_147_483.647 {
        0.001
    } else {
        secs.max(0.0)
    };
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::from_millis(100))
}

/// The property list, with Node-RED's legacy `payload` / `payloadType` / `topic` applied.
fn raw_props(config: &Map<String, Json>) -> Vec<RawProp> {
    let payload = config.get("payload").cloned();
    let payload_type = config
        .get("payloadType")
        .and_then(Json::as_str)
        .map(str::to_owned);
    let topic = config.get("topic").cloned();
    let Some(Json::Array(items)) = config.get("props") else {
        return vec![
            RawProp {
                p: "payload".to_owned(),
                v: payload,
                vt: payload_type,
                field: "payload".to_owned(),
            },
            RawProp {
                p: "topic".to_owned(),
                v: topic,
                vt: Some("str".to_owned()),
                field: "topic".to_owned(),
            },
        ];
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut raw = RawProp {
                p: item
                    .get("p")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                v: item.get("v").cloned(),
                vt: item.get("vt").and_then(Json::as_str).map(str::to_owned),
                field: format!("props[{i}]"),
            };
            if raw.v.is_none() {
                if raw.p == "payload" {
                    raw.v.clone_from(&payload);
                    raw.vt.clone_from(&payload_type);
                    raw.field = "payload".to_owned();
                } else if raw.p == "topic" && raw.vt.as_deref() == Some("str") {
                    raw.v.clone_from(&topic);
                    raw.field = "topic".to_owned();
                }
            }
            raw
        })
        .collect()
}

/// Compiles one `{p, v, vt}`: the property path and the typed value.
fn compile_prop(raw: &RawProp) -> Result<Prop, String> {
    let path = PropPath::parse_msg(&raw.p).map_err(|e| format!("property '{}': {e}", raw.p))?;
    let v = raw.v.clone().unwrap_or(Json::String(String::new()));
    let value = match raw.vt.as_deref().unwrap_or("str") {
        "jsonata" if !ferrite_runtime::loose::json_truthy(&v) => None,
        // Inject nodes saved before Node-RED 2.1 may carry `string`.
        "string" => Some(TypedValue::Str(ferrite_runtime::typed::json_text(&v))),
        vt => match TypedValue::compile(vt, &v) {
            Ok(typed) => Some(typed),
            // evaluateNodeProperty returns the stored value for a type it does not know.
            Err(ferrite_runtime::typed::TypedError::UnknownType(_)) => {
                Some(TypedValue::Json(Value::from(v)))
            }
            Err(e) => return Err(format!("property '{}': {e}", raw.p)),
        },
    };
    Ok(Prop { path, value })
}

/// Parses a cron pattern: 5 fields (minutes), 6 (with seconds) or 7 (with years).
fn parse_cron(pattern: &str) -> Result<Cron, String> {
    let parser = CronParser::builder().seconds(Seconds::Optional).build();
    let cron = parser
        .parse(pattern.trim())
        .map_err(|e| format!("invalid cron pattern '{pattern}': {e}"))?;
    // A pattern that matches no date (`0 0 31 2 *`) would never fire.
    cron.find_next_occurrence(&Local::now(), false)
        .map_err(|e| format!("cron pattern '{pattern}' never fires: {e}"))?;
    Ok(cron)
}

impl Inject {
    /// Sets every property on `msg` in order; returns the evaluation errors.
    fn apply(props: &[Prop], msg: &mut Msg, cx: &NodeCtx, errors: &mut Vec<String>) {
        for prop in props {
            let Some(typed) = &prop.value else { continue };
            let outcome = match cx.eval(typed, Some(msg)) {
                Ok(Some(value)) => msg.set_path(&prop.path, value).map_err(|e| e.to_string()),
                Ok(None) => {
                    msg.delete_path(&prop.path);
                    Ok(())
                }
                Err(e) if matches!(typed, TypedValue::Jsonata(_)) => {
                    Err(format!("Invalid JSONata expression: {e}"))
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = outcome {
                errors.push(e);
            }
        }
    }

    /// A timer's injection: like an input, it is done once sent (Node-RED's inject timer goes
    /// through the node's input handler).
    async fn inject_on_timer(&self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.inject(Msg::new(), cx, true).await
    }

    /// Builds the message from `msg` and sends it, or reports the errors.
    async fn inject(
        &self,
        mut msg: Msg,
        cx: &mut NodeCtx,
        from_timer: bool,
    ) -> Result<(), NodeError> {
        let user_props = msg.remove(USER_PROPS);
        let mut errors = Vec::new();
        match user_props {
            Some(Value::Array(items)) => {
                let props = user_props_list(&items, &mut errors);
                Self::apply(&props, &mut msg, cx, &mut errors);
            }
            _ => Self::apply(&self.props, &mut msg, cx, &mut errors),
        }
        if errors.is_empty() {
            if from_timer {
                cx.done(&msg).await;
            }
            cx.send(msg).await;
            Ok(())
        } else {
            Err(NodeError::new(errors.join("; ")).for_msg(msg))
        }
    }

    /// After the once-injection (or at start): the interval, else the cron schedule.
    fn start_repeating(&mut self, cx: &mut NodeCtx) {
        if let Some(period) = self.repeat {
            self.repeat_timer = Some(cx.every(period));
        } else if self.cron.is_some() {
            self.schedule_cron(Local::now(), cx);
        }
    }

    /// Arms the cron timer for the first occurrence after `after`.
    fn schedule_cron(&mut self, after: DateTime<Local>, cx: &mut NodeCtx) {
        let Some(cron) = &self.cron else { return };
        match cron.find_next_occurrence(&after, false) {
            Ok(next) => {
                self.cron_target = Some(next);
                self.arm_cron_timer(cx);
            }
            Err(e) => {
                self.cron_target = None;
                cx.warn(&format!(
                    "crontab: no further occurrence ({e}); stopped scheduling"
                ));
            }
        }
    }

    fn arm_cron_timer(&mut self, cx: &mut NodeCtx) {
        let Some(target) = self.cron_target else {
            return;
        };
        let remaining = (target - Local::now()).to_std().unwrap_or(Duration::ZERO);
        self.cron_timer = Some(cx.after(remaining.min(CRON_MAX_SLEEP)));
    }

    fn cancel_all(&mut self, cx: &mut NodeCtx) {
        for timer in [
            self.once_timer.take(),
            self.repeat_timer.take(),
            self.cron_timer.take(),
        ]
        .into_iter()
        .flatten()
        {
            cx.cancel_timer(timer);
        }
        self.cron_target = None;
    }
}

/// Compiles `__user_inject_props__`; entries that do not compile add to `errors`.
fn user_props_list(items: &[Value], errors: &mut Vec<String>) -> Vec<Prop> {
    let mut props = Vec::with_capacity(items.len());
    for item in items {
        let Some(obj) = item.as_object() else {
            continue;
        };
        let p = obj.get("p").and_then(Value::as_str).unwrap_or_default();
        if p.is_empty() {
            continue;
        }
        let raw = RawProp {
            p: p.to_owned(),
            v: obj.get("v").map(Value::to_json),
            vt: obj.get("vt").and_then(Value::as_str).map(str::to_owned),
            field: String::new(),
        };
        match compile_prop(&raw) {
            Ok(prop) => props.push(prop),
            Err(e) => errors.push(e),
        }
    }
    props
}

#[async_trait]
impl Node for Inject {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match self.once_delay {
            Some(delay) => self.once_timer = Some(cx.after(delay)),
            None => self.start_repeating(cx),
        }
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        self.inject(msg, cx, false).await
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Event::Timer(id) = event else {
            return Ok(());
        };
        if self.once_timer == Some(id) {
            cx.timer_fired(id);
            self.once_timer = None;
            self.start_repeating(cx);
            return self.inject_on_timer(cx).await;
        }
        if self.repeat_timer == Some(id) {
            return self.inject_on_timer(cx).await;
        }
        if self.cron_timer == Some(id) {
            cx.timer_fired(id);
            self.cron_timer = None;
            let Some(target) = self.cron_target else {
                return Ok(());
            };
            if Local::now() < target {
                // Woke for a re-check (long wait) or a hair early by the wall clock.
                self.arm_cron_timer(cx);
                return Ok(());
            }
            self.schedule_cron(target, cx);
            return self.inject_on_timer(cx).await;
        }
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        self.cancel_all(cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Json) -> Map<String, Json> {
        match value {
            Json::Object(map) => map,
            _ => unreachable!("test configs are objects"),
        }
    }

    #[test]
    fn editor_cron_patterns_parse() {
        for pattern in [
            "*/5 * * * 1,2",
            "00 12 * * *",
            "*/2 8-17 * * 1,2,3,4,5",
            "0 12 * * *",
            "0 22-23,0-5 * * *",
            "*/60 8 * * 0,6",
            "* * * * * *",
        ] {
            assert!(parse_cron(pattern).is_ok(), "{pattern} should parse");
        }
    }

    #[test]
    fn bad_cron_patterns_are_rejected() {
        for pattern in ["every day", "* * *", "61 * * * *", "0 0 31 2 *"] {
            assert!(parse_cron(pattern).is_err(), "{pattern} should be rejected");
        }
    }

    #[test]
    fn cron_next_occurrence_is_in_local_time() {
        let cron = parse_cron("00 12 * * *").expect("parses");
        let now = Local::now();
        let next = cron.find_next_occurrence(&now, false).expect("next");
        assert!(next > now);
        assert_eq!(next.format("%H:%M:%S").to_string(), "12:00:00");
    }

    #[test]
    fn legacy_fields_fill_props_without_values() {
        let raw = raw_props(&config(json!({
            "payload": "123", "payloadType": "num", "topic": "foo",
            "props": [{"p": "topic", "vt": "str"}, {"p": "payload"}, {"p": "x", "vt": "str"}]
        })));
        assert_eq!(raw[0].v, Some(json!("foo")));
        assert_eq!(raw[1].v, Some(json!("123")));
        assert_eq!(raw[1].vt.as_deref(), Some("num"));
        assert_eq!(raw[2].v, None);
    }

    #[test]
    fn missing_props_means_legacy_payload_and_topic() {
        let raw = raw_props(&config(json!({"payload": "p", "topic": "t"})));
        assert_eq!(raw.len(), 2);
        assert_eq!((raw[0].p.as_str(), raw[0].vt.as_deref()), ("payload", None));
        assert_eq!(
            (raw[1].p.as_str(), raw[1].vt.as_deref()),
            ("topic", Some("str"))
        );
    }

    #[test]
    fn once_delay_follows_node_red() {
        assert_eq!(once_delay(None), Duration::from_millis(100));
        assert_eq!(once_delay(Some(&json!(""))), Duration::from_millis(100));
        assert_eq!(once_delay(Some(&json!(0))), Duration::from_millis(100));
        assert_eq!(once_delay(Some(&json!("0.5"))), Duration::from_millis(500));
        assert_eq!(once_delay(Some(&json!(-3))), Duration::ZERO);
        assert_eq!(once_delay(Some(&json!(1e300))), Duration::from_millis(1));
    }

    #[test]
    fn unknown_value_types_keep_the_stored_value() {
        let raw = RawProp {
            p: "x".to_owned(),
            v: Some(json!(7)),
            vt: Some("node".to_owned()),
            field: String::new(),
        };
        let prop = compile_prop(&raw).expect("compiles");
        assert!(matches!(prop.value, Some(TypedValue::Json(Value::Int(7)))));
    }
}
