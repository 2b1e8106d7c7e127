//! Port of Node-RED test/nodes/core/common/24-complete_spec.js, plus completion routing.

use serde_json::json;

use crate::harness;

/// should output a message when called
#[tokio::test]
async fn should_output_a_message_when_called() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "complete", "name": "status", "wires": [["n2"]], "scope": []},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let mst =
        json!({"text": "Oh dear", "source": {"id": "12345", "type": "testnode", "name": "fred"}});
    flow.receive("n1", mst).await;
    let msg = flow.next("n2").await.as_value().to_json();
    assert_eq!(msg["text"], "Oh dear");
    assert_eq!(msg["source"]["id"], "12345");
    flow.unload().await;
}

/// When a node in scope is done with a message, the complete node sends a copy with
/// msg.complete.source naming that node.
#[tokio::test]
async fn complete_fires_when_a_node_in_scope_is_done() {
    let mut flow = harness::load(json!([
        {"id": "t", "type": "test-transform", "op": "set", "value": "done", "name": "worker", "wires": [["out"]]},
        {"id": "c", "type": "complete", "scope": ["t"], "wires": [["h"]]},
        {"id": "out", "type": "helper"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive("t", json!({"payload": "start", "topic": "x"}))
        .await;
    let sent = flow.next("out").await;
    let done = flow.next("h").await;
    let value = done.as_value().to_json();
    assert_eq!(
        value["complete"]["source"],
        json!({"id": "t", "type": "test-transform", "name": "worker"})
    );
    assert_eq!(value["topic"], "x");
    assert_eq!(value["payload"], "done");
    assert_eq!(done.msgid(), sent.msgid());
    assert!(
        sent.get("complete").is_none(),
        "the sent message is not changed"
    );
    flow.unload().await;
}

/// A node that fails does not complete.
#[tokio::test]
async fn failing_nodes_do_not_complete() {
    let mut flow = harness::load(json!([
        {"id": "f", "type": "test-fail"},
        {"id": "c", "type": "complete", "scope": ["f"], "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive("f", json!({"payload": "x"})).await;
    flow.expect_nothing("h", std::time::Duration::from_millis(80))
        .await;
    flow.unload().await;
}

/// Messages a node sends on its own (an inject's timer) complete too.
#[tokio::test]
async fn timer_driven_sends_complete() {
    let mut flow = harness::load(json!([
        {"id": "i", "type": "inject", "once": true, "onceDelay": 0.01, "repeat": "", "props": [{"p": "payload", "v": "tick", "vt": "str"}], "wires": [["out"]]},
        {"id": "c", "type": "complete", "scope": ["i"], "wires": [["h"]]},
        {"id": "out", "type": "helper"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.next("out").await;
    let done = flow.next("h").await.as_value().to_json();
    assert_eq!(done["payload"], "tick");
    assert_eq!(done["complete"]["source"]["id"], "i");
    flow.unload().await;
}

/// Switch and filter never signal completion in Node-RED, so Complete nodes ignore them.
#[tokio::test]
async fn switch_and_filter_never_complete() {
    let mut flow = harness::load(json!([
        {"id": "sw", "type": "switch", "property": "payload", "rules": [{"t": "nnull"}], "outputs": 1, "wires": [["out"]]},
        {"id": "rbe", "type": "rbe", "func": "rbe", "wires": [["out"]]},
        {"id": "c", "type": "complete", "scope": ["sw", "rbe"], "wires": [["h"]]},
        {"id": "out", "type": "helper"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive("sw", json!({"payload": 1})).await;
    flow.receive("rbe", json!({"payload": 1})).await;
    flow.next("out").await;
    flow.next("out").await;
    flow.expect_nothing("h", std::time::Duration::from_millis(80))
        .await;
    flow.unload().await;
}
