//! `history` — Ferrite's own node (no Node-RED counterpart): records `msg.payload` as time
//! series in `ferrite.db` (the runtime's [`HistoryStore`]), for `GET api/history` and
//! charts that survive restarts.
//!
//! Config:
//! * `series` — the series name; empty: `msg.topic`.
//! * `name`.
//!
//! Reads `msg.payload`, `msg.topic` (when `series` is empty) and `msg.timestamp` (epoch
//! ms; absent: now). Numbers are recorded as they are, booleans as 0/1, strings as text;
//! an object (or array) is flattened, each field its own series `series.field` (nested:
//! `series.a.b`); null fields and non-finite numbers are skipped. The message passes on
//! unchanged (1 output). A message with no series, a timestamp that is not a number, or
//! nothing to record is an error (Catch nodes get it) and does not pass on.
//!
//! Recording waits while the store's queue is full, so a burst slows the flow instead of
//! losing points. Status: the points recorded (refreshed at most once a second), or the
//! last error.
//!
//! The store lives in the user directory's `ferrite.db`. A runtime without one (`ferrite
//! check`, a test) still deploys the node, so a flow can be checked anywhere; it then shows
//! a red status and answers every message with an error that says why.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrite_runtime::history::{HistoryStore, HistoryValue};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status, Value,
    async_trait,
};
use serde_json::Value as Json;

pub const DEF: NodeDef = NodeDef {
    type_name: "history",
    category: "storage",
    set_id: "ferrite/history",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Least time between two status updates (each is an event to every editor).
const STATUS_EVERY: Duration = Duration::from_secs(1);

struct History {
    /// `None` when the runtime has no user directory.
    store: Option<Arc<HistoryStore>>,
    series: Option<String>,
    recorded: u64,
    status_at: Option<Instant>,
}

/// Why a runtime without a user directory records nothing.
const NO_STORE: &str =
    "history needs a user directory (its ferrite.db): start Ferrite with --userdir";

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let store = cx.history().cloned();
    let series = match cx.raw().get("series") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(other) => {
            return Err(ConfigError::field(
                "series",
                format!("must be text, not {other}"),
            ));
        }
    };
    Ok(Box::new(History {
        store,
        series,
        recorded: 0,
        status_at: None,
    }))
}

/// The points a payload makes: `(series, value)` pairs, objects flattened.
pub fn flatten(series: &str, payload: &Value, out: &mut Vec<(String, HistoryValue)>) {
    match payload {
        Value::Int(i) => out.push((series.to_owned(), HistoryValue::Number(*i as f64))),
        Value::Float(f) if f.is_finite() => out.push((series.to_owned(), HistoryValue::Number(*f))),
        Value::Bool(b) => out.push((series.to_owned(), HistoryValue::from(*b))),
        Value::String(s) => out.push((series.to_owned(), HistoryValue::Text(s.clone()))),
        Value::Object(map) => {
            for (key, value) in map {
                flatten(&format!("{series}.{key}"), value, out);
            }
        }
        Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                flatten(&format!("{series}.{index}"), value, out);
            }
        }
        _ => {}
    }
}

/// `msg.timestamp` in epoch ms, or now.
pub fn timestamp(msg: &Msg) -> Result<i64, String> {
    match msg.get("timestamp") {
        None | Some(Value::Null) => Ok(chrono::Utc::now().timestamp_millis()),
        Some(Value::Int(i)) => Ok(*i),
        Some(Value::Float(f)) if f.is_finite() => Ok(*f as i64),
        Some(other) => Err(format!(
            "msg.timestamp must be a number of epoch milliseconds, not {}",
            other.to_json()
        )),
    }
}

impl History {
    fn points(&self, msg: &Msg) -> Result<(i64, Vec<(String, HistoryValue)>), String> {
        let series = match &self.series {
            Some(s) => s.clone(),
            None => match msg.get("topic") {
                Some(Value::String(t)) if !t.is_empty() => t.clone(),
                Some(Value::Int(i)) => i.to_string(),
                _ => {
                    return Err("no series: set the node's series or send a msg.topic".to_owned());
                }
            },
        };
        let ts = timestamp(msg)?;
        let mut points = Vec::new();
        if let Some(payload) = msg.payload() {
            flatten(&series, payload, &mut points);
        }
        if points.is_empty() {
            return Err(format!(
                "msg.payload has nothing to record for series '{series}' (numbers, booleans, text, or objects of them)"
            ));
        }
        Ok((ts, points))
    }
}

#[async_trait]
impl Node for History {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if self.store.is_none() {
            cx.status(Status::ring("red", "no user directory")).await;
        }
        Ok(())
    }

    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Some(store) = self.store.clone() else {
            return Err(NodeError::new(NO_STORE).for_msg(msg));
        };
        let (ts, points) = match self.points(&msg) {
            Ok(p) => p,
            Err(text) => {
                cx.status(Status::ring("red", text.clone())).await;
                self.status_at = None;
                return Err(NodeError::new(text).for_msg(msg));
            }
        };
        for (series, value) in points {
            if let Err(e) = store.record_wait(&series, ts, value).await {
                cx.status(Status::ring("red", e.to_string())).await;
                return Err(NodeError::new(e.to_string()).for_msg(msg));
            }
            self.recorded += 1;
        }
        if self.status_at.is_none_or(|at| at.elapsed() >= STATUS_EVERY) {
            self.status_at = Some(Instant::now());
            cx.status(Status::dot("green", format!("{} points", self.recorded)))
                .await;
        }
        cx.send(msg).await;
        Ok(())
    }
}
