//! Port of Node-RED test/nodes/core/common/25-catch_spec.js, plus catch routing cases from
//! test/unit/@node-red/runtime/lib/flows/Flow_spec.js.

use serde_json::json;

use crate::harness;

/// should output a message when called
#[tokio::test]
async fn should_output_a_message_when_called() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "catch", "name": "catch", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("n1", json!({"payload": "big error"})).await;
    let msg = flow.next("n2").await;
    assert_eq!(msg.payload().and_then(|p| p.as_str()), Some("big error"));
    flow.unload().await;
}

/// An error raised with a message reaches an unscoped catch node with msg.error set.
#[tokio::test]
async fn errors_reach_catch_with_error_details() {
    let mut flow = harness::load(json!([
        {"id": "f", "type": "test-fail", "name": "failing", "message": "This is an error", "wires": [["good"]]},
        {"id": "c", "type": "catch", "scope": null, "uncaught": false, "wires": [["bad"]]},
        {"id": "good", "type": "helper"},
        {"id": "bad", "type": "helper"}
    ]))
    .await;
    flow.receive("f", json!({"payload": "foo", "topic": "bar"}))
        .await;
    let msg = flow.next("bad").await;
    let value = msg.as_value().to_json();
    assert_eq!(value["payload"], "foo");
    assert_eq!(value["topic"], "bar");
    assert_eq!(value["error"]["message"], "This is an error");
    assert_eq!(
        value["error"]["source"],
        json!({"id": "f", "type": "test-fail", "name": "failing", "count": 1})
    );
    flow.expect_nothing("good", std::time::Duration::from_millis(50))
        .await;
    flow.unload().await;
}

/// An existing msg.error moves to msg._error.
#[tokio::test]
async fn an_existing_error_property_moves_to_underscore_error() {
    let mut flow = harness::load(json!([
        {"id": "f", "type": "test-fail", "message": "new"},
        {"id": "c", "type": "catch", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive("f", json!({"error": "existing"})).await;
    let value = flow.next("h").await.as_value().to_json();
    assert_eq!(value["_error"], "existing");
    assert_eq!(value["error"]["message"], "new");
    flow.unload().await;
}

/// Scoped catch nodes only see their nodes; uncaught ones only what nobody else caught.
#[tokio::test]
async fn catch_scopes_and_uncaught_follow_node_red() {
    let mut flow = harness::load(json!([
        {"id": "t1", "type": "tab", "label": "t"},
        {"id": "1", "z": "t1", "type": "test-fail", "name": "a", "message": "my-error", "x": 1, "y": 1, "wires": []},
        {"id": "3", "z": "t1", "type": "test-fail", "message": "other", "x": 1, "y": 1, "wires": []},
        {"id": "sn", "z": "t1", "type": "catch", "scope": ["2"], "x": 1, "y": 1, "wires": [["h-sn"]]},
        {"id": "sn2", "z": "t1", "type": "catch", "scope": ["1"], "x": 1, "y": 1, "wires": [["h-sn2"]]},
        {"id": "sn3", "z": "t1", "type": "catch", "uncaught": true, "x": 1, "y": 1, "wires": [["h-sn3"]]},
        {"id": "sn4", "z": "t1", "type": "catch", "uncaught": true, "x": 1, "y": 1, "wires": [["h-sn4"]]},
        {"id": "h-sn", "z": "t1", "type": "helper", "x": 1, "y": 1},
        {"id": "h-sn2", "z": "t1", "type": "helper", "x": 1, "y": 1},
        {"id": "h-sn3", "z": "t1", "type": "helper", "x": 1, "y": 1},
        {"id": "h-sn4", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ]))
    .await;
    let quiet = std::time::Duration::from_millis(50);
    flow.receive("1", json!({"a": "foo"})).await;
    let caught = flow.next("h-sn2").await.as_value().to_json();
    assert_eq!(caught["error"]["source"]["name"], "a");
    assert_eq!(caught["a"], "foo");
    flow.expect_nothing("h-sn", quiet).await;
    flow.expect_nothing("h-sn3", quiet).await;

    flow.receive("3", json!({})).await;
    assert_eq!(
        flow.next("h-sn3").await.as_value().to_json()["error"]["message"],
        "other"
    );
    assert_eq!(
        flow.next("h-sn4").await.as_value().to_json()["error"]["message"],
        "other"
    );
    flow.expect_nothing("h-sn", quiet).await;
    flow.expect_nothing("h-sn2", quiet).await;
    flow.unload().await;
}

/// An unscoped catch and an uncaught catch on one tab: only the unscoped one fires.
#[tokio::test]
async fn unscoped_catch_wins_over_uncaught_catch() {
    let mut flow = harness::load(json!([
        {"id": "t1", "type": "tab"},
        {"id": "f", "z": "t1", "type": "test-fail", "x": 1, "y": 1},
        {"id": "all", "z": "t1", "type": "catch", "x": 1, "y": 1, "wires": [["h-all"]]},
        {"id": "unc", "z": "t1", "type": "catch", "uncaught": true, "x": 1, "y": 1, "wires": [["h-unc"]]},
        {"id": "h-all", "z": "t1", "type": "helper", "x": 1, "y": 1},
        {"id": "h-unc", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ]))
    .await;
    flow.receive("f", json!({"payload": "boom"})).await;
    flow.next("h-all").await;
    flow.expect_nothing("h-unc", std::time::Duration::from_millis(50))
        .await;
    flow.unload().await;
}

/// Catch nodes on another tab never see an error.
#[tokio::test]
async fn catch_nodes_only_see_their_own_tab() {
    let mut flow = harness::load(json!([
        {"id": "t1", "type": "tab"}, {"id": "t2", "type": "tab"},
        {"id": "f", "z": "t1", "type": "test-fail", "x": 1, "y": 1},
        {"id": "c2", "z": "t2", "type": "catch", "x": 1, "y": 1, "wires": [["h2"]]},
        {"id": "h2", "z": "t2", "type": "helper", "x": 1, "y": 1}
    ]))
    .await;
    flow.receive("f", json!({"payload": "boom"})).await;
    flow.expect_nothing("h2", std::time::Duration::from_millis(80))
        .await;
    flow.unload().await;
}

/// Group scope: a catch in a group catches its members (also in nested groups), nothing else.
#[tokio::test]
async fn group_scoped_catch_sees_only_its_group() {
    let mut flow = harness::load(json!([
        {"id": "t1", "type": "tab"},
        {"id": "g1", "z": "t1", "type": "group", "nodes": ["c", "g2"]},
        {"id": "g2", "z": "t1", "type": "group", "g": "g1", "nodes": ["inner"]},
        {"id": "inner", "z": "t1", "g": "g2", "type": "test-fail", "message": "inner", "x": 1, "y": 1},
        {"id": "outside", "z": "t1", "type": "test-fail", "message": "outside", "x": 1, "y": 1},
        {"id": "c", "z": "t1", "g": "g1", "type": "catch", "scope": "group", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ]))
    .await;
    flow.receive("outside", json!({})).await;
    flow.expect_nothing("h", std::time::Duration::from_millis(50))
        .await;
    flow.receive("inner", json!({})).await;
    assert_eq!(
        flow.next("h").await.as_value().to_json()["error"]["message"],
        "inner"
    );
    flow.unload().await;
}

/// A message erroring over and over in the same node stops after 10 rounds (error loop).
#[tokio::test]
async fn an_error_loop_stops_after_ten_rounds() {
    let mut flow = harness::load(json!([
        {"id": "f", "type": "test-fail", "message": "again"},
        {"id": "c", "type": "catch", "scope": ["f"], "wires": [["f", "h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive("f", json!({})).await;
    let mut last = 0;
    for _ in 0..9 {
        last = flow.next("h").await.as_value().to_json()["error"]["source"]["count"]
            .as_i64()
            .unwrap_or(0);
    }
    assert_eq!(last, 9);
    flow.expect_nothing("h", std::time::Duration::from_millis(100))
        .await;
    let warning = flow.log_entry("f").await;
    assert_eq!(warning["level"], 30);
    flow.unload().await;
}

/// An error without a message is not routed to catch nodes: it is logged with id and type.
#[tokio::test]
async fn errors_without_a_message_are_logged_not_caught() {
    let mut flow = harness::load(json!([
        {"id": "f", "type": "test-fail", "message": "lonely", "nomsg": true},
        {"id": "c", "type": "catch", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive("f", json!({})).await;
    let entry = flow.log_entry("f").await;
    assert_eq!(entry["level"], 20);
    assert_eq!(entry["type"], "test-fail");
    assert_eq!(entry["msg"], "lonely");
    flow.expect_nothing("h", std::time::Duration::from_millis(50))
        .await;
    flow.unload().await;
}
