//! Port of Node-RED test/nodes/core/sequence/18-sort_spec.js.
//!
//! Node-RED's spec checks log entries by their i18n key (`sort.invalid-exp`); Ferrite logs
//! the English text of that key, which these tests check. Sequence tests also check that
//! the sorted messages arrive in sorted order (Node-RED sends them so; its spec only checks
//! `parts.index`).
//!
//! All 33 mocha cases are ported.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::{Msg, Settings, Value};
use serde_json::{Value as Json, json};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::harness;

// ---- helpers ------------------------------------------------------------------------------

fn as_json(msg: &Msg) -> Json {
    msg.as_value().to_json()
}

/// The sort node `n1` wired to helper `n2`, with `config` merged in.
fn sort_flow(config: &Json) -> Json {
    let mut node = json!({"id": "n1", "type": "sort", "wires": [["n2"]]});
    if let (Some(node), Some(extra)) = (node.as_object_mut(), config.as_object()) {
        for (k, v) in extra {
            node.insert(k.clone(), v.clone());
        }
    }
    json!([node, {"id": "n2", "type": "helper"}])
}

/// `check_sort0`: sorts the array at `target`.
async fn check_sort0(
    config: Json,
    target: &str,
    key: &str,
    key_type: &str,
    data_in: Json,
    data_out: Json,
) {
    let mut config = config;
    config["target"] = json!(target);
    config["targetType"] = json!("msg");
    config["msgKey"] = json!(key);
    config["msgKeyType"] = json!(key_type);
    let mut flow = harness::load(sort_flow(&config)).await;
    let mut msg = json!({});
    msg[target] = data_in;
    flow.receive("n1", msg).await;
    let out = as_json(&flow.next("n2").await);
    assert_eq!(out[target], data_out);
    flow.unload().await;
}

async fn check_sort0a(config: Json, data_in: Json, data_out: Json) {
    check_sort0(config, "payload", "", "elem", data_in, data_out).await;
}

async fn check_sort0b(config: Json, data_in: Json, data_out: Json) {
    check_sort0(config, "data", "", "elem", data_in, data_out).await;
}

async fn check_sort0c(config: Json, exp: &str, data_in: Json, data_out: Json) {
    check_sort0(config, "data", exp, "jsonata", data_in, data_out).await;
}

/// Sends `data_in` as a sequence (`parts.id` "X") with each value at `prop`.
async fn send_sequence(flow: &TestFlow, prop: &str, data_in: &[Json]) {
    let len = data_in.len();
    for (i, value) in data_in.iter().enumerate() {
        let mut msg = json!({"parts": {"id": "X", "index": i, "count": len}});
        msg[prop] = value.clone();
        flow.receive("n1", msg).await;
    }
}

/// Receives the sorted sequence: every message carries `parts.count`, and `parts.index`
/// is the position of its value in `data_out`, in which order they arrive.
async fn expect_sorted_sequence(flow: &mut TestFlow, prop: &str, data_out: &[Json]) {
    for (i, expected) in data_out.iter().enumerate() {
        let msg = as_json(&flow.next("n2").await);
        assert_eq!(msg["parts"]["count"], json!(data_out.len()), "{msg}");
        let index = data_out.iter().position(|v| *v == msg[prop]);
        assert_eq!(msg["parts"]["index"], json!(index), "{msg}");
        assert_eq!(&msg[prop], expected, "arrives in sorted order");
        assert_eq!(msg["parts"]["id"], "X");
        assert_eq!(index, Some(i));
    }
}

/// `check_sort1`: sorts a message sequence.
async fn check_sort1(config: Json, key: &str, key_type: &str, data_in: Json, data_out: Json) {
    let prop = if key_type == "msg" { key } else { "payload" };
    let mut config = config;
    config["targetType"] = json!("seq");
    config["seqKey"] = json!(key);
    config["seqKeyType"] = json!(key_type);
    let mut flow = harness::load(sort_flow(&config)).await;
    let data_in = data_in.as_array().cloned().unwrap_or_default();
    let data_out = data_out.as_array().cloned().unwrap_or_default();
    send_sequence(&flow, prop, &data_in).await;
    expect_sorted_sequence(&mut flow, prop, &data_out).await;
    flow.unload().await;
}

async fn check_sort1a(config: Json, data_in: Json, data_out: Json) {
    check_sort1(config, "payload", "msg", data_in, data_out).await;
}

async fn check_sort1b(config: Json, data_in: Json, data_out: Json) {
    check_sort1(config, "data", "msg", data_in, data_out).await;
}

async fn check_sort1c(config: Json, exp: &str, data_in: Json, data_out: Json) {
    check_sort1(config, exp, "jsonata", data_in, data_out).await;
}

fn ascending() -> Json {
    json!({"order": "ascending", "as_num": false})
}

fn descending() -> Json {
    json!({"order": "descending", "as_num": false})
}

fn ascending_num() -> Json {
    json!({"order": "ascending", "as_num": true})
}

fn descending_num() -> Json {
    json!({"order": "descending", "as_num": true})
}

fn numbers_in() -> Json {
    json!(["200", "4", "30", "1000"])
}

fn text_order() -> Json {
    json!(["1000", "200", "30", "4"])
}

fn numeric_order() -> Json {
    json!(["4", "30", "200", "1000"])
}

/// A flow with the mocha file's `initContext` store `memory`.
async fn load_with_memory_store(flow: Json) -> TestFlow {
    let settings: Settings =
        serde_json::from_value(json!({"contextStorage": {"memory": {"module": "memory"}}}))
            .expect("settings");
    TestFlow::load_with(&[ferrite_nodes::ALL], flow, settings).await
}

/// `n1.context()[scope].set(key, value, store)`; `scope` is `flow` (tab `flow`) or `global`.
fn set_context(flow: &TestFlow, scope: &str, pairs: &[(&str, &str)], store: Option<&str>) {
    for (key, value) in pairs {
        flow.runtime()
            .context()
            .set(scope, key, Some(Value::from(*value)), store)
            .expect("context set");
    }
}

/// One captured `tracing` event.
#[derive(Debug, Clone, Default)]
struct LogLine {
    level: String,
    node_id: String,
    message: String,
}

impl tracing::field::Visit for LogLine {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "node_id" => self.node_id = format!("{value:?}"),
            _ => {}
        }
    }
}

/// Records the `tracing` events of the test thread (node tasks run on the test's
/// current-thread runtime) while its guard lives.
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

    fn lines_of(&self, id: &str) -> Vec<LogLine> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|l| l.node_id == id)
            .cloned()
            .collect()
    }
}

// ---- ported tests -------------------------------------------------------------------------

/// should be loaded
#[tokio::test]
async fn should_be_loaded() {
    let (capture, _guard) = LogCapture::start();
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "sort", "order": "ascending", "as_num": false, "name": "SortNode", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().issues.is_empty(), "{:?}", flow.report());
    // The name shows in the node's log lines: hold one sequence part and close.
    flow.receive(
        "n1",
        json!({"payload": 0, "parts": {"id": "X", "index": 0, "count": 2}}),
    )
    .await;
    flow.expect_nothing("n2", Duration::from_millis(50)).await;
    flow.unload().await;
    let lines = capture.lines_of("n1");
    assert!(
        lines
            .iter()
            .any(|l| l.message.starts_with("[sort:SortNode]")),
        "{lines:?}"
    );
}

/// should sort payload (elem, not number, ascending)
#[tokio::test]
async fn should_sort_payload_elem_not_number_ascending() {
    check_sort0a(ascending(), numbers_in(), text_order()).await;
}

/// should sort msg prop (elem, not number, ascending)
#[tokio::test]
async fn should_sort_msg_prop_elem_not_number_ascending() {
    check_sort0b(ascending(), numbers_in(), text_order()).await;
}

/// should sort message group/payload (not number, ascending)
#[tokio::test]
async fn should_sort_message_group_payload_not_number_ascending() {
    check_sort1a(ascending(), numbers_in(), text_order()).await;
}

/// should sort message group/prop (not number, ascending)
#[tokio::test]
async fn should_sort_message_group_prop_not_number_ascending() {
    check_sort1b(ascending(), numbers_in(), text_order()).await;
}

/// should sort payload (elem, not number, descending)
#[tokio::test]
async fn should_sort_payload_elem_not_number_descending() {
    check_sort0a(descending(), numbers_in(), numeric_order()).await;
}

/// should sort msg prop (elem, not number, descending)
#[tokio::test]
async fn should_sort_msg_prop_elem_not_number_descending() {
    check_sort0b(descending(), numbers_in(), numeric_order()).await;
}

/// should sort message group/payload (not number, descending)
#[tokio::test]
async fn should_sort_message_group_payload_not_number_descending() {
    check_sort1a(descending(), numbers_in(), numeric_order()).await;
}

/// should sort message group/prop (not number, descending)
#[tokio::test]
async fn should_sort_message_group_prop_not_number_descending() {
    check_sort1b(descending(), numbers_in(), numeric_order()).await;
}

/// should sort payload (elem, number, ascending)
#[tokio::test]
async fn should_sort_payload_elem_number_ascending() {
    check_sort0a(ascending_num(), numbers_in(), numeric_order()).await;
}

/// should sort msg prop (elem, number, ascending)
#[tokio::test]
async fn should_sort_msg_prop_elem_number_ascending() {
    check_sort0b(ascending_num(), numbers_in(), numeric_order()).await;
}

/// should sort message group/payload (number, ascending)
#[tokio::test]
async fn should_sort_message_group_payload_number_ascending() {
    check_sort1a(ascending_num(), numbers_in(), numeric_order()).await;
}

/// should sort message group/prop (number, ascending)
#[tokio::test]
async fn should_sort_message_group_prop_number_ascending() {
    check_sort1b(ascending_num(), numbers_in(), numeric_order()).await;
}

/// should sort payload (elem, number, descending)
#[tokio::test]
async fn should_sort_payload_elem_number_descending() {
    check_sort0a(descending_num(), numbers_in(), text_order()).await;
}

/// should sort msg prop (elem, number, descending)
#[tokio::test]
async fn should_sort_msg_prop_elem_number_descending() {
    check_sort0b(descending_num(), numbers_in(), text_order()).await;
}

/// should sort message group/payload (number, descending)
#[tokio::test]
async fn should_sort_message_group_payload_number_descending() {
    check_sort1a(descending_num(), numbers_in(), text_order()).await;
}

/// should sort message group/prop (number, descending)
#[tokio::test]
async fn should_sort_message_group_prop_number_descending() {
    check_sort1b(descending_num(), numbers_in(), text_order()).await;
}

fn letters_in() -> Json {
    json!(["C200", "A4", "B30", "D1000"])
}

/// should sort payload (exp, not number, ascending)
#[tokio::test]
async fn should_sort_payload_exp_not_number_ascending() {
    check_sort0c(
        ascending(),
        "$substring($,1)",
        letters_in(),
        json!(["D1000", "C200", "B30", "A4"]),
    )
    .await;
}

/// should sort message group (exp, not number, ascending)
#[tokio::test]
async fn should_sort_message_group_exp_not_number_ascending() {
    check_sort1c(
        ascending(),
        "$substring(payload,1)",
        letters_in(),
        json!(["D1000", "C200", "B30", "A4"]),
    )
    .await;
}

/// should sort message group (exp, not number, descending)
#[tokio::test]
async fn should_sort_message_group_exp_not_number_descending() {
    // As in the mocha file, this title runs the property (array) check.
    check_sort0c(
        descending(),
        "$substring($,1)",
        letters_in(),
        json!(["A4", "B30", "C200", "D1000"]),
    )
    .await;
}

/// should sort payload (exp, not number, descending)
#[tokio::test]
async fn should_sort_payload_exp_not_number_descending() {
    // As in the mocha file, this title runs the message group check.
    check_sort1c(
        descending(),
        "$substring(payload,1)",
        letters_in(),
        json!(["A4", "B30", "C200", "D1000"]),
    )
    .await;
}

/// should sort payload of objects
#[tokio::test]
async fn should_sort_payload_of_objects() {
    let conv = |items: &[&str]| -> Json { items.iter().map(|v| json!({"val": v})).collect() };
    check_sort0c(
        ascending_num(),
        "val",
        conv(&["200", "4", "30", "1000"]),
        conv(&["4", "30", "200", "1000"]),
    )
    .await;
}

/// should sort payload by context (exp, not number, ascending)
#[tokio::test]
async fn should_sort_payload_by_context_exp_not_number_ascending() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "sort", "target": "data", "targetType": "msg", "msgKey": "$flowContext($)", "msgKeyType": "jsonata", "order": "ascending", "as_num": false, "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper", "z": "flow"},
        {"id": "flow", "type": "tab"}
    ]))
    .await;
    set_context(
        &flow,
        "flow",
        &[
            ("first", "3"),
            ("second", "1"),
            ("third", "2"),
            ("fourth", "4"),
        ],
        None,
    );
    flow.receive(
        "n1",
        json!({"data": ["first", "second", "third", "fourth"]}),
    )
    .await;
    let msg = as_json(&flow.next("n2").await);
    assert_eq!(msg["data"], json!(["second", "third", "first", "fourth"]));
    flow.unload().await;
}

/// should sort message group by context (exp, not number, ascending)
#[tokio::test]
async fn should_sort_message_group_by_context_exp_not_number_ascending() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "sort", "target": "data", "targetType": "seq", "seqKey": "$globalContext(payload)", "seqKeyType": "jsonata", "order": "ascending", "as_num": false, "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper", "z": "flow"},
        {"id": "flow", "type": "tab"}
    ]))
    .await;
    set_context(
        &flow,
        "global",
        &[
            ("first", "4"),
            ("second", "1"),
            ("third", "3"),
            ("fourth", "2"),
        ],
        None,
    );
    send_sequence(
        &flow,
        "payload",
        &[
            json!("first"),
            json!("second"),
            json!("third"),
            json!("fourth"),
        ],
    )
    .await;
    let out = [
        json!("second"),
        json!("fourth"),
        json!("third"),
        json!("first"),
    ];
    expect_sorted_sequence(&mut flow, "payload", &out).await;
    flow.unload().await;
}

/// should sort payload by persistable context (exp, not number, descending)
#[tokio::test]
async fn should_sort_payload_by_persistable_context_exp_not_number_descending() {
    let mut flow = load_with_memory_store(json!([
        {"id": "n1", "type": "sort", "target": "data", "targetType": "msg", "msgKey": "$globalContext($,\"memory\")", "msgKeyType": "jsonata", "order": "descending", "as_num": false, "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper", "z": "flow"},
        {"id": "flow", "type": "tab"}
    ]))
    .await;
    set_context(
        &flow,
        "global",
        &[
            ("first", "3"),
            ("second", "1"),
            ("third", "2"),
            ("fourth", "4"),
        ],
        Some("memory"),
    );
    flow.receive(
        "n1",
        json!({"data": ["first", "second", "third", "fourth"]}),
    )
    .await;
    let msg = as_json(&flow.next("n2").await);
    assert_eq!(msg["data"], json!(["fourth", "first", "third", "second"]));
    flow.unload().await;
}

/// should sort message group by persistable context (exp, not number, descending)
#[tokio::test]
async fn should_sort_message_group_by_persistable_context_exp_not_number_descending() {
    let mut flow = load_with_memory_store(json!([
        {"id": "n1", "type": "sort", "target": "data", "targetType": "seq", "seqKey": "$flowContext(payload,\"memory\")", "seqKeyType": "jsonata", "order": "descending", "as_num": false, "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper", "z": "flow"},
        {"id": "flow", "type": "tab"}
    ]))
    .await;
    set_context(
        &flow,
        "flow",
        &[
            ("first", "4"),
            ("second", "1"),
            ("third", "3"),
            ("fourth", "2"),
        ],
        Some("memory"),
    );
    send_sequence(
        &flow,
        "payload",
        &[
            json!("first"),
            json!("second"),
            json!("third"),
            json!("fourth"),
        ],
    )
    .await;
    let out = [
        json!("first"),
        json!("third"),
        json!("fourth"),
        json!("second"),
    ];
    expect_sorted_sequence(&mut flow, "payload", &out).await;
    flow.unload().await;
}

/// should handle JSONata script error
#[tokio::test]
async fn should_handle_jsonata_script_error() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "sort", "order": "ascending", "as_num": false, "target": "payload", "targetType": "seq", "seqKey": "$unknown()", "seqKeyType": "jsonata", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    flow.receive(
        "n1",
        json!({"payload": "A", "parts": {"id": "X", "index": 0, "count": 2}}),
    )
    .await;
    flow.receive(
        "n1",
        json!({"payload": "B", "parts": {"id": "X", "index": 1, "count": 2}}),
    )
    .await;
    let entry = flow.log_entry("n1").await;
    assert_eq!(entry["id"], "n1");
    assert_eq!(entry["type"], "sort");
    assert_eq!(entry["level"], 20);
    let text = entry["msg"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("Invalid JSONata expression in sort node: "),
        "{text}"
    );
    flow.expect_nothing("n2", Duration::from_millis(100)).await;
    flow.unload().await;
}

/// should clear pending messages on close
#[tokio::test]
async fn should_clear_pending_messages_on_close() {
    let (capture, _guard) = LogCapture::start();
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "sort", "order": "ascending", "as_num": false, "target": "payload", "targetType": "seq", "seqKey": "payload", "seqKeyType": "msg", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    flow.receive(
        "n1",
        json!({"payload": 0, "parts": {"id": "X", "index": 0, "count": 2}}),
    )
    .await;
    flow.expect_nothing("n2", Duration::from_millis(150)).await;
    assert!(
        !capture
            .lines_of("n1")
            .iter()
            .any(|l| l.message.contains("clear pending")),
        "nothing cleared before close"
    );
    flow.unload().await;
    let lines = capture.lines_of("n1");
    let line = lines
        .iter()
        .find(|l| l.message.contains("clear pending message in sort node"))
        .unwrap_or_else(|| panic!("no clear log line: {lines:?}"));
    assert_eq!(line.level, "INFO");
}

/// messaging API › should call done() when message is sent (payload)
#[tokio::test]
async fn messaging_api_should_call_done_when_message_is_sent_payload() {
    let mut flow = harness::load(json!([
        {"id": "sortNode1", "type": "sort", "order": "ascending", "as_num": false, "target": "payload", "targetType": "msg", "seqKey": "payload", "seqKeyType": "msg", "wires": [[]]},
        {"id": "completeNode1", "type": "complete", "scope": ["sortNode1"], "uncaught": false, "wires": [["helperNode1"]]},
        {"id": "catchNode1", "type": "catch", "scope": ["sortNode1"], "uncaught": false, "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper", "wires": [[]]}
    ]))
    .await;
    let start = Instant::now();
    flow.receive("sortNode1", json!({"seq": 0, "payload": [1, 3, 2]}))
        .await;
    let msg = as_json(&flow.next("helperNode1").await);
    // Node-RED's window is 0 ± 100 ms; a loaded machine gets more slack.
    assert!(start.elapsed() < Duration::from_millis(1000));
    assert_eq!(msg["payload"], json!([1, 2, 3]));
    assert_eq!(msg["seq"], 0);
    assert!(msg.get("error").is_none(), "completed, not caught: {msg}");
    flow.expect_nothing("helperNode1", Duration::from_millis(100))
        .await;
    flow.unload().await;
}

// ---- beyond the mocha file ----------------------------------------------------------------

/// Messages of different sequences are held apart; messages without parts are dropped.
#[tokio::test]
async fn interleaved_sequences_sort_separately() {
    let mut flow = harness::load(sort_flow(
        &json!({"targetType": "seq", "seqKey": "payload", "seqKeyType": "msg"}),
    ))
    .await;
    flow.receive(
        "n1",
        json!({"payload": 5, "parts": {"id": "A", "index": 0, "count": 2}}),
    )
    .await;
    flow.receive(
        "n1",
        json!({"payload": 9, "parts": {"id": "B", "index": 0, "count": 2}}),
    )
    .await;
    flow.receive("n1", json!({"payload": 7})).await;
    flow.receive(
        "n1",
        json!({"payload": 1, "parts": {"id": "A", "index": 1, "count": 2}}),
    )
    .await;
    let first = as_json(&flow.next("n2").await);
    let second = as_json(&flow.next("n2").await);
    assert_eq!(
        (first["payload"].clone(), first["parts"]["index"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(
        (second["payload"].clone(), second["parts"]["index"].clone()),
        (json!(5), json!(1))
    );
    flow.expect_nothing("n2", Duration::from_millis(100)).await;
    flow.receive(
        "n1",
        json!({"payload": 3, "parts": {"id": "B", "index": 1, "count": 2}}),
    )
    .await;
    assert_eq!(as_json(&flow.next("n2").await)["payload"], 3);
    assert_eq!(as_json(&flow.next("n2").await)["payload"], 9);
    flow.unload().await;
}

/// A target that is no array drops the message; a nested array is sorted in place.
#[tokio::test]
async fn non_array_targets_are_dropped_and_nested_arrays_sorted() {
    let mut flow = harness::load(sort_flow(
        &json!({"targetType": "msg", "target": "payload.list", "msgKeyType": "elem"}),
    ))
    .await;
    flow.receive("n1", json!({"payload": {"list": "abc"}}))
        .await;
    flow.expect_nothing("n2", Duration::from_millis(100)).await;
    flow.receive(
        "n1",
        json!({"payload": {"a": 1, "list": [3, 1, 2], "z": 0}}),
    )
    .await;
    let msg = flow.next("n2").await;
    // Sorted where it is, the other keys keeping their places.
    assert!(
        msg.as_value()
            .to_json_string()
            .contains(r#""payload":{"a":1,"list":[1,2,3],"z":0}"#),
        "{msg:?}"
    );
    flow.unload().await;
}

/// A JSONata key sees each element as its input, arrays included; an expression naming
/// `msg` sees `{msg: element}` (Node-RED's legacy mode).
#[tokio::test]
async fn jsonata_keys_on_array_elements() {
    let mut flow = harness::load(sort_flow(&json!({"targetType": "msg", "target": "payload", "msgKey": "$count($)", "msgKeyType": "jsonata", "as_num": true}))).await;
    flow.receive("n1", json!({"payload": [[1, 2, 3], [1], [1, 2]]}))
        .await;
    assert_eq!(
        as_json(&flow.next("n2").await)["payload"],
        json!([[1], [1, 2], [1, 2, 3]])
    );
    flow.unload().await;

    let mut flow = harness::load(sort_flow(&json!({"targetType": "msg", "target": "payload", "msgKey": "$substring(msg,1)", "msgKeyType": "jsonata", "order": "descending"}))).await;
    flow.receive("n1", json!({"payload": ["C200", "A4", "B30", "D1000"]}))
        .await;
    assert_eq!(
        as_json(&flow.next("n2").await)["payload"],
        json!(["A4", "B30", "C200", "D1000"])
    );
    flow.unload().await;
}

// ---- with the runtime's deferred done and nodeMessageBufferMaxLength ----------------------

/// Loads `flow` with `nodeMessageBufferMaxLength: 2`.
async fn load_with_buffer_limit(flow: Json) -> TestFlow {
    let settings: Settings =
        serde_json::from_value(json!({"nodeMessageBufferMaxLength": 2})).expect("settings");
    TestFlow::load_with(&[ferrite_nodes::ALL], flow, settings).await
}

/// The mocha file's `mapiDoneTestHelper`: each `(msg, delay, avr)` is received by the sort
/// node at `delay` ms; the Complete or Catch node reports it at `avr` ms (± 100 ms in
/// Node-RED; later is tolerated here on a loaded machine, earlier is not).
async fn mapi_done_test(target_type: &str, items: &[(Json, u64, u64)]) {
    let mut flow = load_with_buffer_limit(json!([
        {"id": "sortNode1", "type": "sort", "order": "ascending", "as_num": false, "target": "payload", "targetType": target_type, "seqKey": "payload", "seqKeyType": "msg", "wires": [[]]},
        {"id": "completeNode1", "type": "complete", "scope": ["sortNode1"], "uncaught": false, "wires": [["helperNode1"]]},
        {"id": "catchNode1", "type": "catch", "scope": ["sortNode1"], "uncaught": false, "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper", "wires": [[]]}
    ]))
    .await;
    let start = tokio::time::Instant::now();
    let runtime = flow.runtime().clone();
    let sends: Vec<(Json, u64)> = items.iter().map(|(m, d, _)| (m.clone(), *d)).collect();
    let sender = tokio::spawn(async move {
        for (msg, delay) in sends {
            tokio::time::sleep_until(start + Duration::from_millis(delay)).await;
            let msg = Msg::try_from(msg).expect("object");
            runtime.receive("sortNode1", msg).await.expect("running");
        }
    });
    let mut reported = Vec::new();
    for _ in items {
        let msg = as_json(&flow.next("helperNode1").await);
        let elapsed = start.elapsed().as_millis();
        assert!(msg.get("payload").is_some(), "{msg}");
        let seq = usize::try_from(msg["seq"].as_u64().expect("seq")).expect("small");
        reported.push(seq);
        let avr = u128::from(items[seq].2);
        assert!(
            elapsed + 100 >= avr && elapsed <= avr + 400,
            "msg {seq} at {elapsed} ms, expected {avr} ms: {msg}"
        );
    }
    sender.await.expect("sender");
    reported.sort_unstable();
    assert_eq!(
        reported,
        (0..items.len()).collect::<Vec<_>>(),
        "each reported once"
    );
    flow.expect_nothing("helperNode1", Duration::from_millis(100))
        .await;
    flow.unload().await;
}

/// should handle too many pending messages
#[tokio::test]
async fn should_handle_too_many_pending_messages() {
    let mut flow = load_with_buffer_limit(json!([
        {"id": "n1", "type": "sort", "order": "ascending", "as_num": false, "target": "payload", "targetType": "seq", "seqKey": "payload", "seqKeyType": "msg", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    for i in 0..4 {
        flow.receive(
            "n1",
            json!({"payload": format!("V{i}"), "parts": {"id": "X", "index": i, "count": 4}}),
        )
        .await;
    }
    let entry = flow.log_entry("n1").await;
    assert_eq!(entry["id"], "n1");
    assert_eq!(entry["type"], "sort");
    assert_eq!(entry["msg"], "Too many pending messages in sort node");
    flow.expect_nothing("n2", Duration::from_millis(100)).await;
    flow.unload().await;
}

/// messaging API › should call done() when message is sent (sequence)
#[tokio::test]
async fn messaging_api_should_call_done_when_message_is_sent_sequence() {
    mapi_done_test(
        "seq",
        &[
            (
                json!({"seq": 0, "payload": 3, "parts": {"id": "A", "index": 0, "count": 2}}),
                0,
                500,
            ),
            (
                json!({"seq": 1, "payload": 2, "parts": {"id": "A", "index": 1, "count": 2}}),
                500,
                500,
            ),
        ],
    )
    .await;
}

/// messaging API › should call done() regardless of buffer overflow (same group)
#[tokio::test]
async fn messaging_api_should_call_done_regardless_of_buffer_overflow_same_group() {
    mapi_done_test(
        "seq",
        &[
            (
                json!({"seq": 0, "payload": 1, "parts": {"id": "A", "index": 0, "count": 3}}),
                0,
                1000,
            ),
            (
                json!({"seq": 1, "payload": 3, "parts": {"id": "A", "index": 1, "count": 3}}),
                500,
                1000,
            ),
            (
                json!({"seq": 2, "payload": 2, "parts": {"id": "A", "index": 2, "count": 3}}),
                1000,
                1000,
            ),
        ],
    )
    .await;
}

/// messaging API › should call done() regardless of buffer overflow (different group)
#[tokio::test]
async fn messaging_api_should_call_done_regardless_of_buffer_overflow_different_group() {
    mapi_done_test(
        "seq",
        &[
            (
                json!({"seq": 0, "payload": 1, "parts": {"id": "A", "index": 0, "count": 2}}),
                0,
                1000,
            ),
            (
                json!({"seq": 1, "payload": 3, "parts": {"id": "B", "index": 0, "count": 2}}),
                500,
                1200,
            ),
            (
                json!({"seq": 2, "payload": 5, "parts": {"id": "C", "index": 0, "count": 2}}),
                1000,
                1500,
            ),
            (
                json!({"seq": 3, "payload": 2, "parts": {"id": "B", "index": 1, "count": 2}}),
                1200,
                1200,
            ),
            (
                json!({"seq": 4, "payload": 4, "parts": {"id": "C", "index": 1, "count": 2}}),
                1500,
                1500,
            ),
        ],
    )
    .await;
}
