//! Test harness mirroring node-red-node-test-helper: load a flow with `helper` nodes, hand
//! messages to a node, await what helpers receive, watch logs and events. Every wait is
//! bounded by a timeout; nothing sleeps blindly.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use tokio::sync::{broadcast, mpsc};

use crate::ctx::{BuildCtx, NodeCtx};
use crate::events::CommsMessage;
use crate::node::{Build, ConfigError, Node, NodeDef, NodeError, Role};
use crate::{DeployKind, DeployReport, Msg, Registry, Runtime, Settings, async_trait};

/// How long `next` waits before failing a test.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(3);

type TapKey = (u64, String);
static TAPS: LazyLock<Mutex<HashMap<TapKey, mpsc::UnboundedSender<Msg>>>> =
    LazyLock::new(Mutex::default);

fn taps() -> std::sync::MutexGuard<'static, HashMap<TapKey, mpsc::UnboundedSender<Msg>>> {
    TAPS.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The `helper` node type: records every message it receives for the test to read.
pub const HELPER: NodeDef = NodeDef {
    type_name: "helper",
    category: "test",
    set_id: "test/helper",
    role: Role::Plain,
    build: Build::Flow(build_helper),
};

/// `test-transform`: a middle node for tests (what a test gives a helper as its handler in
/// Node-RED's specs). Config `op`: `"double"` (payload + payload), `"multiply"` (payload ×
/// `by`), `"set"` (payload = `value`).
pub const TRANSFORM: NodeDef = NodeDef {
    type_name: "test-transform",
    category: "test",
    set_id: "test/transform",
    role: Role::Plain,
    build: Build::Flow(build_transform),
};

/// `test-fail`: fails every message with `message` (or the payload as text); the error
/// carries the message unless `nomsg` is true; with `panic` true it panics instead.
pub const FAIL: NodeDef = NodeDef {
    type_name: "test-fail",
    category: "test",
    set_id: "test/fail",
    role: Role::Plain,
    build: Build::Flow(build_fail),
};

/// `test-status`: sets its status text to the payload and passes the message on.
pub const STATUS: NodeDef = NodeDef {
    type_name: "test-status",
    category: "test",
    set_id: "test/status",
    role: Role::Plain,
    build: Build::Flow(build_status),
};

/// `test-config`: a config node holding `value`; `close` is counted in [`CONFIG_CLOSES`].
pub const CONFIG: NodeDef = NodeDef {
    type_name: "test-config",
    category: "test",
    set_id: "test/config",
    role: Role::Plain,
    build: Build::Config(build_config),
};

/// Test-only node types.
pub static TEST_NODES: &[NodeDef] = &[HELPER, TRANSFORM, FAIL, STATUS, CONFIG];

/// How many `test-config` nodes have been closed, by the `value` they held.
pub static CONFIG_CLOSES: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);

/// The `test-config` config node.
pub struct TestConfig {
    pub value: Json,
}

fn build_config(cx: &mut BuildCtx<'_>) -> Result<Arc<dyn crate::ConfigNode>, ConfigError> {
    Ok(Arc::new(TestConfig {
        value: cx.raw().get("value").cloned().unwrap_or(Json::Null),
    }))
}

#[async_trait]
impl crate::ConfigNode for TestConfig {
    async fn close(&self) {
        let key = self.value.to_string();
        *CONFIG_CLOSES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

struct Transform {
    op: String,
    by: f64,
    value: Json,
    seen: i64,
}

fn build_transform(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    Ok(Box::new(Transform {
        op: raw
            .get("op")
            .and_then(Json::as_str)
            .unwrap_or("double")
            .to_owned(),
        by: raw
            .get("by")
            .and_then(crate::loose::json_f64)
            .unwrap_or(1.0),
        value: match raw.get("config").and_then(Json::as_str) {
            // `op: "config"`: the value the `test-config` node named in `config` holds.
            Some(_) => cx.config_node::<TestConfig>("config")?.value.clone(),
            None => raw.get("value").cloned().unwrap_or(Json::Null),
        },
        seen: 0,
    }))
}

#[async_trait]
impl Node for Transform {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let payload = msg.payload().cloned().unwrap_or_default();
        self.seen += 1;
        let next = match (self.op.as_str(), &payload) {
            ("count", _) => crate::Value::Int(self.seen),
            ("set" | "config", _) => crate::Value::from(self.value.clone()),
            ("multiply", p) => crate::Value::js_number(p.to_number() * self.by),
            (_, crate::Value::String(s)) => crate::Value::String(format!("{s}{s}")),
            (_, p) => crate::Value::js_number(p.to_number() * 2.0),
        };
        msg.insert("payload", next);
        cx.send(msg).await;
        Ok(())
    }
}

struct Fail {
    message: Option<String>,
    attach_msg: bool,
    panics: bool,
}

fn build_fail(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    Ok(Box::new(Fail {
        message: raw.get("message").and_then(Json::as_str).map(str::to_owned),
        attach_msg: !raw.get("nomsg").is_some_and(crate::loose::json_bool),
        panics: raw.get("panic").is_some_and(crate::loose::json_bool),
    }))
}

#[async_trait]
impl Node for Fail {
    async fn on_input(&mut self, msg: Msg, _cx: &mut NodeCtx) -> Result<(), NodeError> {
        let text = self.message.clone().unwrap_or_else(|| {
            msg.payload()
                .map(crate::Value::to_js_string)
                .unwrap_or_default()
        });
        assert!(!self.panics, "{text}");
        let error = NodeError::new(text);
        Err(if self.attach_msg {
            error.for_msg(msg)
        } else {
            error
        })
    }
}

struct StatusSetter;

fn build_status(_cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    Ok(Box::new(StatusSetter))
}

#[async_trait]
impl Node for StatusSetter {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let text = msg
            .payload()
            .map(crate::Value::to_js_string)
            .unwrap_or_default();
        cx.status(crate::Status::dot("green", text)).await;
        cx.send(msg).await;
        Ok(())
    }
}

fn build_helper(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let tap = taps().get(&(cx.runtime_id(), cx.id().to_owned())).cloned();
    Ok(Box::new(Helper { tap }))
}

struct Helper {
    tap: Option<mpsc::UnboundedSender<Msg>>,
}

#[async_trait]
impl Node for Helper {
    async fn on_input(&mut self, msg: Msg, _cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Some(tap) = &self.tap {
            let _ = tap.send(msg);
        }
        Ok(())
    }
}

/// A running test flow.
pub struct TestFlow {
    runtime: Runtime,
    receivers: HashMap<String, mpsc::UnboundedReceiver<Msg>>,
    events: broadcast::Receiver<Arc<CommsMessage>>,
    report: DeployReport,
}

impl TestFlow {
    /// Loads `flow` (a JSON array) with the node tables given plus `helper`.
    pub async fn load(tables: &[&'static [NodeDef]], flow: Json) -> Self {
        Self::load_with(tables, flow, Settings::default()).await
    }

    /// Loads with explicit settings (context stores, user dir, ...).
    pub async fn load_with(tables: &[&'static [NodeDef]], flow: Json, settings: Settings) -> Self {
        let registry = Registry::new(tables.iter().copied().chain([TEST_NODES]))
            .expect("node types are unique");
        let runtime = Runtime::new(Arc::new(registry), settings)
            .await
            .expect("runtime starts");
        let events = runtime.events().subscribe();
        let mut this = Self {
            runtime,
            receivers: HashMap::new(),
            events,
            report: DeployReport::default(),
        };
        this.report = this.deploy(flow, DeployKind::Full).await;
        this
    }

    /// Deploys another version of the flow; helpers keep their queues.
    pub async fn deploy(&mut self, flow: Json, kind: DeployKind) -> DeployReport {
        let items = match flow {
            Json::Array(items) => items,
            other => panic!("a flow is a JSON array, got {other}"),
        };
        for item in &items {
            if item.get("type").and_then(Json::as_str) == Some("helper")
                && let Some(id) = item.get("id").and_then(Json::as_str)
                && !self.receivers.contains_key(id)
            {
                let (tx, rx) = mpsc::unbounded_channel();
                taps().insert((self.runtime.runtime_id(), id.to_owned()), tx);
                self.receivers.insert(id.to_owned(), rx);
            }
        }
        self.runtime.deploy(items, kind).await
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The report of the first deploy.
    pub fn report(&self) -> &DeployReport {
        &self.report
    }

    /// `helper.getNode(id).receive(msg)`.
    pub async fn receive(&self, id: &str, msg: Json) {
        let msg = Msg::try_from(msg).expect("a message is a JSON object");
        self.runtime
            .receive(id, msg)
            .await
            .expect("node is running");
    }

    /// The next message helper `id` receives; fails the test after [`DEFAULT_WAIT`].
    pub async fn next(&mut self, id: &str) -> Msg {
        self.next_within(id, DEFAULT_WAIT)
            .await
            .unwrap_or_else(|| panic!("helper {id} received nothing within {DEFAULT_WAIT:?}"))
    }

    /// The next message helper `id` receives within `wait`, if any.
    pub async fn next_within(&mut self, id: &str, wait: Duration) -> Option<Msg> {
        let rx = self
            .receivers
            .get_mut(id)
            .unwrap_or_else(|| panic!("no helper node with id {id} in the flow"));
        tokio::time::timeout(wait, rx.recv()).await.ok().flatten()
    }

    /// Asserts helper `id` receives nothing during `wait`.
    pub async fn expect_nothing(&mut self, id: &str, wait: Duration) {
        if let Some(msg) = self.next_within(id, wait).await {
            panic!("helper {id} unexpectedly received {msg:?}");
        }
    }

    /// The next event on the bus that `matches` accepts; fails after [`DEFAULT_WAIT`].
    pub async fn event(&mut self, matches: impl Fn(&CommsMessage) -> bool) -> CommsMessage {
        let deadline = tokio::time::Instant::now() + DEFAULT_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Ok(event)) if matches(&event) => return (*event).clone(),
                Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => {
                    panic!("no matching event within {DEFAULT_WAIT:?}")
                }
            }
        }
    }

    /// The next log entry (`debug` topic with a `level`) of node `id`.
    pub async fn log_entry(&mut self, id: &str) -> Json {
        let id = id.to_owned();
        self.event(move |e| {
            e.topic == "debug" && e.data.get("level").is_some() && e.data["id"] == id.as_str()
        })
        .await
        .data
    }

    /// Stops every node and closes the stores.
    pub async fn unload(self) {
        let id = self.runtime.runtime_id();
        self.runtime.stop().await;
        taps().retain(|(runtime, _), _| *runtime != id);
    }
}
