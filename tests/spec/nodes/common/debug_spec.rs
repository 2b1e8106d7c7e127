//! Port of Node-RED test/nodes/core/common/21-debug_spec.js.
//!
//! Node-RED's spec reads the editor's `/comms` websocket; Ferrite's equivalent until the
//! websocket arrives (issue 7) is the events bus it relays, so these tests assert on bus
//! events (`topic: "debug"`). Console output is captured with a `tracing` test subscriber
//! (set per test thread; node tasks run on the test's current-thread runtime). The admin
//! toggle `POST /debug/:id/enable|disable` is stood in for by a test node that posts
//! `Event::Toggle` to the debug node, which is what that route does (the route itself is
//! tested in `tests/spec/admin/node_routes_spec.rs`).
//!
//! Where Node-RED prints objects with `util.inspect` on the console, Ferrite writes
//! compact JSON (`{"type":"foo"}` for `{ type: 'foo' }`), and a whole message logged or
//! shown carries `_msgid` (Node-RED's spec emits `input` directly, bypassing the id).
//!
//! Not ported (28 of 35 ported):
//! * `should publish an Error` — a message value cannot be a JavaScript `Error` in Ferrite
//!   (`Value` has no error variant), so the `format: "error"` encoding has no input.
//! * `should publish an object with circular references` — `Value` is a tree; a circular
//!   message cannot be built.
//! * `post › should return 404 on invalid state`, `post › should return 404 on invalid
//!   node`, `post › should return 400 for invalid bulk disable`, `post › should return
//!   success for bulk disable` — admin HTTP routes, ported in
//!   `tests/spec/admin/node_routes_spec.rs`; `get › should return the view.html` — the
//!   editor's static assets (issue 7).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrite_runtime::events::CommsMessage;
use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Map, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value,
    async_trait,
};
use serde_json::{Value as Json, json};
use tokio::sync::broadcast;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::harness;

// ---- helpers ------------------------------------------------------------------------------

/// The next sidebar entry (a `debug` event that is not a warn/error log entry).
async fn debug_event(flow: &mut TestFlow) -> Json {
    flow.event(|e| e.topic == "debug" && e.data.get("level").is_none())
        .await
        .data
}

/// Hands a message built in Rust (NaN, Buffers) to node `id`.
async fn receive_msg(flow: &TestFlow, id: &str, msg: Msg) {
    flow.runtime()
        .receive(id, msg)
        .await
        .expect("node is running");
}

/// Asserts no sidebar entry arrives on `rx` during `wait`.
async fn expect_no_debug(rx: &mut broadcast::Receiver<Arc<CommsMessage>>, wait: Duration) {
    let quiet = tokio::time::timeout(wait, async {
        loop {
            match rx.recv().await {
                Ok(e) if e.topic == "debug" && e.data.get("level").is_none() => {
                    return (*e).clone();
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    })
    .await;
    if let Ok(event) = quiet {
        panic!("unexpected debug message {:?}", event.data);
    }
}

/// `data.msg` of a whole-message entry without its `_msgid` (checked to be there).
fn whole_msg_without_id(data: &mut Json) -> Json {
    let text = data["msg"].as_str().expect("msg is JSON text").to_owned();
    let mut msg: Json = serde_json::from_str(&text).expect("msg parses");
    let id = msg.as_object_mut().and_then(|m| m.shift_remove("_msgid"));
    assert!(
        id.as_ref().is_some_and(Json::is_string),
        "whole message keeps its _msgid: {text}"
    );
    data["msg"] = Json::String(msg.to_string());
    msg
}

/// `test-debug-toggle`: on input posts `Event::Toggle(on)` to node `target` (what
/// `POST /debug/:id/enable|disable` does), then passes the message on.
const TOGGLE: NodeDef = NodeDef {
    type_name: "test-debug-toggle",
    category: "test",
    set_id: "test/debug-toggle",
    role: Role::Plain,
    build: Build::Flow(build_toggle),
};

static SPEC_NODES: &[NodeDef] = &[TOGGLE];

struct Toggle {
    target: String,
    on: bool,
}

fn build_toggle(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    Ok(Box::new(Toggle {
        target: raw
            .get("target")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        on: raw.get("on").and_then(Json::as_bool).unwrap_or(true),
    }))
}

#[async_trait]
impl Node for Toggle {
    async fn on_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if !cx.post_event(&self.target, Event::Toggle(self.on)) {
            return Err(NodeError::new(format!("no node {}", self.target)));
        }
        cx.send(msg).await;
        Ok(())
    }
}

async fn load_with_toggle(flow: Json) -> TestFlow {
    TestFlow::load(&[ferrite_nodes::ALL, SPEC_NODES], flow).await
}

/// Toggles `target` through the toggle node `t1` wired to helper `h1`, and waits until done.
async fn toggle(flow: &mut TestFlow) {
    flow.receive("t1", json!({})).await;
    flow.next("h1").await;
}

/// One captured `tracing` event.
#[derive(Debug, Clone, Default)]
struct LogLine {
    level: String,
    node_id: String,
    node_type: String,
    message: String,
}

impl tracing::field::Visit for LogLine {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = text,
            "node_id" => self.node_id = text,
            "node_type" => self.node_type = text,
            _ => {}
        }
    }
}

/// Records every `tracing` event of the test thread while its guard lives.
#[derive(Clone, Default)]
struct LogCapture(Arc<Mutex<Vec<LogLine>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _cx: tracing_subscriber::layer::Context<'_, S>) {
        let mut line = LogLine {
            level: event.metadata().level().to_string(),
            ..LogLine::default()
        };
        event.record(&mut line);
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }
}

impl LogCapture {
    fn start() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        (capture, guard)
    }

    /// Log lines of debug nodes (Node-RED's `evt.type == "debug"`).
    fn debug_lines(&self) -> Vec<LogLine> {
        let lines = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines
            .iter()
            .filter(|l| l.node_type == "debug")
            .cloned()
            .collect()
    }

    /// The single console line of debug node `n1`, checked to be INFO.
    fn only_line(&self) -> String {
        let lines = self.debug_lines();
        assert_eq!(lines.len(), 1, "one console line: {lines:?}");
        assert_eq!(lines[0].level, "INFO");
        assert_eq!(lines[0].node_id, "n1");
        lines[0].message.clone()
    }
}

// ---- ported tests -------------------------------------------------------------------------

/// should be loaded
#[tokio::test]
async fn should_be_loaded() {
    // Node-RED reads the node's `name` and `complete` ("false" → "payload") properties;
    // here they show as the entry's `name` and `property`.
    let mut flow =
        harness::load(json!([{"id": "n1", "type": "debug", "name": "Debug", "complete": "false"}]))
            .await;
    assert!(flow.report().issues.is_empty(), "{:?}", flow.report());
    flow.receive("n1", json!({"payload": 1})).await;
    let data = debug_event(&mut flow).await;
    assert_eq!(data["name"], "Debug");
    assert_eq!(data["property"], "payload");
    flow.unload().await;
}

/// should publish on input
#[tokio::test]
async fn should_publish_on_input() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "name": "Debug"}])).await;
    flow.receive("n1", json!({"payload": "test"})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "name": "Debug", "msg": "test", "path": "global", "format": "string[4]", "property": "payload"})
    );
    flow.unload().await;
}

/// should publish to console
#[tokio::test]
async fn should_publish_to_console() {
    let (logs, _guard) = LogCapture::start();
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "console": "true"}])).await;
    flow.receive("n1", json!({"payload": "test"})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "test", "property": "payload", "format": "string[4]", "path": "global"})
    );
    assert_eq!(logs.only_line(), "[debug:n1] test");
    flow.unload().await;
}

/// should publish complete message
#[tokio::test]
async fn should_publish_complete_message() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "complete": "true"}])).await;
    flow.receive("n1", json!({"payload": "test"})).await;
    let mut data = debug_event(&mut flow).await;
    whole_msg_without_id(&mut data);
    assert_eq!(
        data,
        json!({"id": "n1", "msg": "{\"payload\":\"test\"}", "format": "Object", "path": "global"})
    );
    flow.unload().await;
}

/// should publish complete message to console
#[tokio::test]
async fn should_publish_complete_message_to_console() {
    let (logs, _guard) = LogCapture::start();
    let mut flow = harness::load(
        json!([{"id": "n1", "type": "debug", "complete": "true", "console": "true"}]),
    )
    .await;
    flow.receive("n1", json!({"payload": "test"})).await;
    let mut data = debug_event(&mut flow).await;
    let msg = whole_msg_without_id(&mut data);
    assert_eq!(
        data,
        json!({"id": "n1", "msg": "{\"payload\":\"test\"}", "format": "Object", "path": "global"})
    );
    let line = logs.only_line();
    let logged = line.strip_prefix("[debug:n1] ").expect("labelled line");
    let mut logged: Json = serde_json::from_str(logged).expect("compact JSON");
    assert!(
        logged
            .as_object_mut()
            .and_then(|m| m.shift_remove("_msgid"))
            .is_some()
    );
    assert_eq!(logged, msg);
    flow.unload().await;
}

/// should publish other property
#[tokio::test]
async fn should_publish_other_property() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "complete": "foo"}])).await;
    flow.receive("n1", json!({"payload": "test", "foo": "bar"}))
        .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "bar", "property": "foo", "format": "string[3]", "path": "global"})
    );
    flow.unload().await;
}

/// should publish multi-level properties
#[tokio::test]
async fn should_publish_multi_level_properties() {
    let mut flow =
        harness::load(json!([{"id": "n1", "type": "debug", "complete": "foo.bar"}])).await;
    flow.receive("n1", json!({"payload": "test", "foo": {"bar": "bar"}}))
        .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "bar", "property": "foo.bar", "format": "string[3]", "path": "global"})
    );
    flow.unload().await;
}

/// should publish a boolean
#[tokio::test]
async fn should_publish_a_boolean() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({"payload": true})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "true", "property": "payload", "format": "boolean", "path": "global"})
    );
    flow.unload().await;
}

/// should publish a number
#[tokio::test]
async fn should_publish_a_number() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "console": "true"}])).await;
    flow.receive("n1", json!({"payload": 7})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "7", "property": "payload", "format": "number", "path": "global"})
    );
    flow.unload().await;
}

/// should publish a NaN
#[tokio::test]
async fn should_publish_a_nan() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "console": "true"}])).await;
    receive_msg(&flow, "n1", Msg::with_payload(Value::Float(f64::NAN))).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "NaN", "property": "payload", "format": "number", "path": "global"})
    );
    flow.unload().await;
}

/// should publish with no payload
#[tokio::test]
async fn should_publish_with_no_payload() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "(undefined)", "property": "payload", "format": "undefined", "path": "global"})
    );
    flow.unload().await;
}

/// should publish a null
#[tokio::test]
async fn should_publish_a_null() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({"payload": null})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "(undefined)", "property": "payload", "format": "null", "path": "global"})
    );
    flow.unload().await;
}

/// should publish an object
#[tokio::test]
async fn should_publish_an_object() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({"payload": {"type": "foo"}}))
        .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "{\"type\":\"foo\"}", "property": "payload", "format": "Object", "path": "global"})
    );
    flow.unload().await;
}

/// should publish an object with no-prototype-builtins
#[tokio::test]
async fn should_publish_an_object_with_no_prototype_builtins() {
    // Every Ferrite object is prototype-free (`Object.create(null)` has no other form).
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    let mut payload = Map::new();
    payload.insert("type".to_owned(), Value::from("foo"));
    receive_msg(&flow, "n1", Msg::with_payload(Value::Object(payload))).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "{\"type\":\"foo\"}", "property": "payload", "format": "Object", "path": "global"})
    );
    flow.unload().await;
}

/// should publish an object with overriden hasOwnProperty
#[tokio::test]
async fn should_publish_an_object_with_overriden_has_own_property() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive(
        "n1",
        json!({"payload": {"type": "foo", "hasOwnProperty": null}}),
    )
    .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({
            "id": "n1", "msg": "{\"type\":\"foo\",\"hasOwnProperty\":null}",
            "property": "payload", "format": "Object", "path": "global"
        })
    );
    flow.unload().await;
}

/// should publish an array
#[tokio::test]
async fn should_publish_an_array() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({"payload": [0, 1, 2, 3]})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "[0,1,2,3]", "format": "array[4]", "property": "payload", "path": "global"})
    );
    flow.unload().await;
}

/// should publish an object to console
#[tokio::test]
async fn should_publish_an_object_to_console() {
    let (logs, _guard) = LogCapture::start();
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "console": "true"}])).await;
    flow.receive("n1", json!({"payload": {"type": "foo"}}))
        .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "{\"type\":\"foo\"}", "property": "payload", "format": "Object", "path": "global"})
    );
    assert_eq!(logs.only_line(), "[debug:n1] {\"type\":\"foo\"}");
    flow.unload().await;
}

/// should publish a string after a newline to console if the string contains \\n
#[tokio::test]
async fn should_publish_a_string_after_a_newline_to_console_if_the_string_contains_n() {
    let (logs, _guard) = LogCapture::start();
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "console": "true"}])).await;
    flow.receive("n1", json!({"payload": "test\ntest"})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "test\ntest", "property": "payload", "format": "string[9]", "path": "global"})
    );
    assert_eq!(logs.only_line(), "[debug:n1] \ntest\ntest");
    flow.unload().await;
}

/// should publish complete message with edit
#[tokio::test]
async fn should_publish_complete_message_with_edit() {
    let mut flow = harness::load(json!([{
        "id": "n1", "type": "debug", "name": "Debug",
        "targetType": "jsonata", "complete": "\"<\" & payload & \">\""
    }]))
    .await;
    flow.receive("n1", json!({"payload": "test"})).await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "name": "Debug", "msg": "<test>", "format": "string[6]", "path": "global"})
    );
    flow.unload().await;
}

/// should truncate a long message
#[tokio::test]
async fn should_truncate_a_long_message() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({"payload": "X".repeat(1001)}))
        .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({
            "id": "n1", "msg": format!("{}...", "X".repeat(1000)),
            "property": "payload", "format": "string[1001]", "path": "global"
        })
    );
    flow.unload().await;
}

/// should truncate a long string in the object
#[tokio::test]
async fn should_truncate_a_long_string_in_the_object() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({"payload": {"foo": "X".repeat(1001)}}))
        .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({
            "id": "n1", "msg": format!("{{\"foo\":\"{}...\"}}", "X".repeat(1000)),
            "property": "payload", "format": "Object", "path": "global"
        })
    );
    flow.unload().await;
}

/// should truncate a large array
#[tokio::test]
async fn should_truncate_a_large_array() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({"payload": vec!["X"; 1001]}))
        .await;
    let expected =
        json!({"__enc__": true, "type": "array", "data": vec!["X"; 1000], "length": 1001});
    assert_eq!(
        debug_event(&mut flow).await,
        json!({
            "id": "n1", "msg": expected.to_string(),
            "property": "payload", "format": "array[1001]", "path": "global"
        })
    );
    flow.unload().await;
}

/// should truncate a large array in the object
#[tokio::test]
async fn should_truncate_a_large_array_in_the_object() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    flow.receive("n1", json!({"payload": {"foo": vec!["X"; 1001]}}))
        .await;
    let expected =
        json!({"foo": {"__enc__": true, "type": "array", "data": vec!["X"; 1000], "length": 1001}});
    assert_eq!(
        debug_event(&mut flow).await,
        json!({
            "id": "n1", "msg": expected.to_string(),
            "property": "payload", "format": "Object", "path": "global"
        })
    );
    flow.unload().await;
}

/// should truncate a large buffer
#[tokio::test]
async fn should_truncate_a_large_buffer() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    receive_msg(
        &flow,
        "n1",
        Msg::with_payload(Value::Bytes(vec![b'"'; 501].into())),
    )
    .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "2".repeat(1000), "property": "payload", "format": "buffer[501]", "path": "global"})
    );
    flow.unload().await;
}

/// should truncate a large buffer in the object
#[tokio::test]
async fn should_truncate_a_large_buffer_in_the_object() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    let mut payload = Map::new();
    payload.insert("foo".to_owned(), Value::Bytes(vec![b'X'; 1001].into()));
    receive_msg(&flow, "n1", Msg::with_payload(Value::Object(payload))).await;
    let expected =
        json!({"foo": {"type": "Buffer", "data": vec![88; 1000], "__enc__": true, "length": 1001}});
    assert_eq!(
        debug_event(&mut flow).await,
        json!({
            "id": "n1", "msg": expected.to_string(),
            "property": "payload", "format": "Object", "path": "global"
        })
    );
    flow.unload().await;
}

/// should convert Buffer to hex
#[tokio::test]
async fn should_convert_buffer_to_hex() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug"}])).await;
    receive_msg(
        &flow,
        "n1",
        Msg::with_payload(Value::Bytes(b"HELLO".to_vec().into())),
    )
    .await;
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "48454c4c4f", "property": "payload", "format": "buffer[5]", "path": "global"})
    );
    flow.unload().await;
}

/// should publish when active
#[tokio::test]
async fn should_publish_when_active() {
    let mut flow = load_with_toggle(json!([
        {"id": "n1", "type": "debug", "active": false},
        {"id": "t1", "type": "test-debug-toggle", "target": "n1", "on": true, "wires": [["h1"]]},
        {"id": "h1", "type": "helper"}
    ]))
    .await;
    flow.receive("n1", json!({"payload": "message 1"})).await;
    toggle(&mut flow).await;
    flow.receive("n1", json!({"payload": "message 2"})).await;
    // The first entry seen must be message 2: message 1 was dropped while inactive.
    assert_eq!(
        debug_event(&mut flow).await,
        json!({"id": "n1", "msg": "message 2", "property": "payload", "format": "string[9]", "path": "global"})
    );
    flow.unload().await;
}

/// should not publish when inactive
#[tokio::test]
async fn should_not_publish_when_inactive() {
    let mut flow = load_with_toggle(json!([
        {"id": "n1", "type": "debug", "active": true},
        {"id": "t1", "type": "test-debug-toggle", "target": "n1", "on": false, "wires": [["h1"]]},
        {"id": "h1", "type": "helper"}
    ]))
    .await;
    let mut bus = flow.runtime().events().subscribe();
    toggle(&mut flow).await;
    flow.receive("n1", json!({"payload": "message"})).await;
    expect_no_debug(&mut bus, Duration::from_millis(200)).await;
    flow.unload().await;
}

// ---- Ferrite additions (no mocha counterpart: the spec has no status tests) ---------------

/// tostatus shows the value, cut to 32 characters, as a grey dot.
#[tokio::test]
async fn tostatus_shows_the_value_cut_to_32_characters() {
    let mut flow =
        harness::load(json!([{"id": "n1", "type": "debug", "tosidebar": false, "tostatus": true}]))
            .await;
    flow.receive("n1", json!({"payload": "Y".repeat(40)})).await;
    let status = flow
        .event(|e| e.topic == "status/n1" && e.data.get("text").is_some())
        .await;
    assert_eq!(
        status.data,
        json!({"fill": "grey", "shape": "dot", "text": format!("{}...", "Y".repeat(32))})
    );
    flow.receive("n1", json!({"payload": {"a": 1}})).await;
    let status = flow.event(|e| e.topic == "status/n1").await;
    assert_eq!(status.data["text"], "{ a: 1 }");
    flow.unload().await;
}

/// In auto mode msg.error turns the status red with its message; msg.status gives colours.
#[tokio::test]
async fn auto_status_uses_msg_error_and_msg_status() {
    let mut flow = harness::load(
        json!([{"id": "n1", "type": "debug", "tostatus": true, "statusType": "auto"}]),
    )
    .await;
    flow.receive("n1", json!({"payload": 1, "error": {"message": "boom"}}))
        .await;
    let status = flow
        .event(|e| e.topic == "status/n1" && e.data.get("text").is_some())
        .await;
    assert_eq!(
        status.data,
        json!({"fill": "red", "shape": "dot", "text": "boom"})
    );
    flow.receive(
        "n1",
        json!({"status": {"fill": "green", "text": "ok", "source": {"id": "other"}}}),
    )
    .await;
    let status = flow.event(|e| e.topic == "status/n1").await;
    assert_eq!(
        status.data,
        json!({"fill": "green", "shape": "ring", "text": "ok"})
    );
    flow.unload().await;
}

/// A status message about the debug node itself is ignored (no feedback loop).
#[tokio::test]
async fn own_status_messages_are_ignored() {
    let mut flow = harness::load(json!([{"id": "n1", "type": "debug", "tostatus": true}])).await;
    let mut bus = flow.runtime().events().subscribe();
    flow.receive(
        "n1",
        json!({"status": {"text": "x", "source": {"id": "n1"}}}),
    )
    .await;
    flow.receive("n1", json!({"payload": "after"})).await;
    // Only the second message shows: in the sidebar and as the status.
    let data = debug_event(&mut flow).await;
    assert_eq!(data["msg"], "after");
    loop {
        let event = bus.recv().await.expect("bus open");
        if event.topic == "status/n1" && event.data.get("text").is_some() {
            assert_eq!(event.data["text"], "after");
            break;
        }
    }
    flow.unload().await;
}

/// Counter mode counts messages; the final count always shows.
#[tokio::test]
async fn counter_status_counts_messages() {
    let mut flow = harness::load(
        json!([{"id": "n1", "type": "debug", "tostatus": true, "statusType": "counter"}]),
    )
    .await;
    flow.event(|e| e.topic == "status/n1" && e.data["text"] == "0")
        .await;
    for i in 0..5 {
        flow.receive("n1", json!({"payload": i})).await;
    }
    let status = flow
        .event(|e| e.topic == "status/n1" && e.data["text"] == "5")
        .await;
    assert_eq!(
        status.data,
        json!({"fill": "blue", "shape": "ring", "text": "5"})
    );
    flow.unload().await;
}

/// statusType msg shows another property; topic is copied into the sidebar entry.
#[tokio::test]
async fn status_property_and_topic() {
    let mut flow = harness::load(json!([{
        "id": "n1", "type": "debug", "tostatus": true, "statusType": "msg", "statusVal": "temp"
    }]))
    .await;
    flow.receive("n1", json!({"payload": "p", "temp": 21.5, "topic": "room"}))
        .await;
    // The status goes out before the sidebar entry, as in Node-RED.
    let status = flow
        .event(|e| e.topic == "status/n1" && e.data.get("text").is_some())
        .await;
    assert_eq!(status.data["text"], "21.5");
    let data = debug_event(&mut flow).await;
    assert_eq!(data["topic"], "room");
    flow.unload().await;
}

/// An invalid JSONata expression is a deploy error for the node.
#[tokio::test]
async fn invalid_jsonata_is_a_deploy_error() {
    let flow = harness::load(
        json!([{"id": "n1", "type": "debug", "targetType": "jsonata", "complete": "$$$("}]),
    )
    .await;
    assert!(
        flow.report()
            .issues
            .iter()
            .any(|i| i.node_id.as_deref() == Some("n1")),
        "{:?}",
        flow.report()
    );
    flow.unload().await;
}

/// An inactive debug node never stalls the nodes sending to it: more messages than an
/// inbox holds all get through a fan-out that includes it.
#[tokio::test]
async fn an_inactive_debug_node_never_stalls_upstream() {
    let mut flow = harness::load(json!([
        {"id": "j", "type": "junction", "wires": [["n1", "h1"]]},
        {"id": "n1", "type": "debug", "active": false, "console": true},
        {"id": "h1", "type": "helper"}
    ]))
    .await;
    for i in 0..3000 {
        flow.receive("j", json!({"payload": i})).await;
    }
    for i in 0..3000 {
        let msg = flow.next("h1").await;
        assert_eq!(msg.payload().and_then(Value::as_i64), Some(i));
    }
    flow.unload().await;
}
