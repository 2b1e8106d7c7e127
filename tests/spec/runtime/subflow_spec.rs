//! Subflow behaviours, after Node-RED's test/unit/@node-red/runtime/lib/flows/Subflow_spec.js
//! and test/nodes/subflow/subflow_spec.js: instances, ports, env, errors, status, nesting.

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::harness;

fn subflow(env: Json, inner: Json) -> Vec<Json> {
    let mut flow = vec![json!({
        "id": "sf1", "type": "subflow", "name": "SF",
        "in": [{"x": 50, "y": 30, "wires": [{"id": "sf1-n1"}]}],
        "out": [{"x": 300, "y": 30, "wires": [{"id": "sf1-n1", "port": 0}]}],
        "env": env
    })];
    flow.extend(inner.as_array().cloned().unwrap_or_default());
    flow
}

/// A message into an instance goes through the subflow's nodes and out of its output.
#[tokio::test]
async fn instances_pass_messages_through_their_nodes() {
    let mut nodes = subflow(
        json!([]),
        json!([
            {"id": "sf1-n1", "z": "sf1", "type": "test-transform", "op": "double", "x": 1, "y": 1, "wires": []}
        ]),
    );
    nodes.extend([
        json!({"id": "t1", "type": "tab"}),
        json!({"id": "i1", "z": "t1", "type": "subflow:sf1", "x": 1, "y": 1, "wires": [["h"]]}),
        json!({"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}),
    ]);
    let mut flow = harness::load(Json::Array(nodes)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    assert!(
        flow.runtime()
            .running_ids()
            .await
            .contains(&"i1-sf1-n1".to_owned())
    );
    flow.receive("i1", json!({"payload": 21})).await;
    assert_eq!(
        flow.next("h").await.payload().and_then(|p| p.as_i64()),
        Some(42)
    );
    flow.unload().await;
}

/// Each instance has its own copy of the nodes and its own env; instance env overrides
/// the definition's, and NR_SUBFLOW_NAME names the instance.
#[tokio::test]
async fn instance_env_overrides_definition_env() {
    let mut nodes = subflow(
        json!([{"name": "SPEED", "type": "num", "value": "5"}]),
        json!([{"id": "sf1-n1", "z": "sf1", "type": "test-transform", "op": "set", "value": "${SPEED}", "x": 1, "y": 1, "wires": []},
               {"id": "sf1-n2", "z": "sf1", "type": "test-transform", "op": "set", "value": "${NR_SUBFLOW_NAME}", "x": 1, "y": 1, "wires": []}]),
    );
    nodes[0]["out"] = json!([{"x": 1, "y": 1, "wires": [{"id": "sf1-n1", "port": 0}]}, {"x": 1, "y": 1, "wires": [{"id": "sf1-n2", "port": 0}]}]);
    nodes[0]["in"] = json!([{"x": 1, "y": 1, "wires": [{"id": "sf1-n1"}, {"id": "sf1-n2"}]}]);
    nodes.extend([
        json!({"id": "t1", "type": "tab"}),
        json!({"id": "i1", "z": "t1", "type": "subflow:sf1", "name": "first", "x": 1, "y": 1, "wires": [["h1"], ["n1"]]}),
        json!({"id": "i2", "z": "t1", "type": "subflow:sf1", "env": [{"name": "SPEED", "type": "num", "value": "7"}], "x": 1, "y": 1, "wires": [["h2"], ["n2"]]}),
        json!({"id": "h1", "z": "t1", "type": "helper", "x": 1, "y": 1}),
        json!({"id": "h2", "z": "t1", "type": "helper", "x": 1, "y": 1}),
        json!({"id": "n1", "z": "t1", "type": "helper", "x": 1, "y": 1}),
        json!({"id": "n2", "z": "t1", "type": "helper", "x": 1, "y": 1}),
    ]);
    let mut flow = harness::load(Json::Array(nodes)).await;
    flow.receive("i1", json!({})).await;
    flow.receive("i2", json!({})).await;
    assert_eq!(
        flow.next("h1").await.payload().and_then(|p| p.as_i64()),
        Some(5)
    );
    assert_eq!(
        flow.next("h2").await.payload().and_then(|p| p.as_i64()),
        Some(7)
    );
    assert_eq!(
        flow.next("n1").await.payload().and_then(|p| p.as_str()),
        Some("first")
    );
    assert_eq!(
        flow.next("n2").await.payload().and_then(|p| p.as_str()),
        Some("SF")
    );
    flow.unload().await;
}

/// An output wired straight from the subflow input passes messages through unchanged.
#[tokio::test]
async fn input_wired_straight_to_output_passes_through() {
    let nodes = json!([
        {"id": "sf1", "type": "subflow", "name": "SF", "in": [{"x": 1, "y": 1, "wires": []}],
         "out": [{"x": 1, "y": 1, "wires": [{"id": "sf1", "port": 0}]}]},
        {"id": "t1", "type": "tab"},
        {"id": "i1", "z": "t1", "type": "subflow:sf1", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ]);
    let mut flow = harness::load(nodes).await;
    flow.receive("i1", json!({"payload": "same"})).await;
    assert_eq!(
        flow.next("h").await.payload().and_then(|p| p.as_str()),
        Some("same")
    );
    flow.unload().await;
}

/// Errors not caught inside a subflow reach the parent flow's catch nodes with the
/// instance as the reporting node; a catch inside the subflow takes them first.
#[tokio::test]
async fn uncaught_subflow_errors_bubble_to_the_parent_flow() {
    let make = |inner_catch: bool| {
        let mut nodes = subflow(
            json!([]),
            json!([
                {"id": "sf1-n1", "z": "sf1", "type": "test-fail", "message": "inner failure", "x": 1, "y": 1, "wires": []}
            ]),
        );
        if inner_catch {
            nodes.push(
                json!({"id": "sf1-c", "z": "sf1", "type": "catch", "x": 1, "y": 1, "wires": []}),
            );
        }
        nodes.extend([
            json!({"id": "t1", "type": "tab"}),
            json!({"id": "i1", "z": "t1", "type": "subflow:sf1", "x": 1, "y": 1, "wires": [[]]}),
            json!({"id": "c", "z": "t1", "type": "catch", "scope": ["i1"], "x": 1, "y": 1, "wires": [["h"]]}),
            json!({"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}),
        ]);
        Json::Array(nodes)
    };
    let mut flow = harness::load(make(false)).await;
    flow.receive("i1", json!({"payload": "x"})).await;
    let msg = flow.next("h").await.as_value().to_json();
    assert_eq!(msg["error"]["message"], "inner failure");
    assert_eq!(msg["error"]["source"]["id"], "i1-sf1-n1");
    flow.unload().await;

    let mut flow = harness::load(make(true)).await;
    flow.receive("i1", json!({"payload": "x"})).await;
    flow.expect_nothing("h", Duration::from_millis(80)).await;
    flow.unload().await;
}

/// The subflow status output sets the instance's status, which parent status nodes see.
#[tokio::test]
async fn the_status_output_sets_the_instance_status() {
    let mut nodes = subflow(
        json!([]),
        json!([
            {"id": "sf1-n1", "z": "sf1", "type": "junction", "x": 1, "y": 1, "wires": []}
        ]),
    );
    nodes[0]["status"] = json!({"x": 1, "y": 1, "wires": [{"id": "sf1-n1", "port": 0}]});
    nodes.extend([
        json!({"id": "t1", "type": "tab"}),
        json!({"id": "i1", "z": "t1", "type": "subflow:sf1", "name": "inst", "x": 1, "y": 1, "wires": [[]]}),
        json!({"id": "s", "z": "t1", "type": "status", "scope": ["i1"], "x": 1, "y": 1, "wires": [["h"]]}),
        json!({"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}),
    ]);
    let mut flow = harness::load(Json::Array(nodes)).await;
    flow.receive("i1", json!({"payload": "running"})).await;
    let msg = flow.next("h").await.as_value().to_json();
    assert_eq!(msg["status"]["text"], "running");
    assert_eq!(msg["status"]["source"]["id"], "i1");
    let event = flow.event(|e| e.topic == "status/i1").await;
    assert_eq!(event.data["text"], "running");
    flow.unload().await;
}

/// Subflows nest: an instance inside a subflow gets its own copies.
#[tokio::test]
async fn subflows_nest() {
    let nodes = json!([
        {"id": "inner", "type": "subflow", "name": "inner",
         "in": [{"x": 1, "y": 1, "wires": [{"id": "inner-n"}]}],
         "out": [{"x": 1, "y": 1, "wires": [{"id": "inner-n", "port": 0}]}]},
        {"id": "inner-n", "z": "inner", "type": "test-transform", "op": "multiply", "by": 3, "x": 1, "y": 1, "wires": []},
        {"id": "outer", "type": "subflow", "name": "outer",
         "in": [{"x": 1, "y": 1, "wires": [{"id": "outer-i"}]}],
         "out": [{"x": 1, "y": 1, "wires": [{"id": "outer-i", "port": 0}]}]},
        {"id": "outer-i", "z": "outer", "type": "subflow:inner", "x": 1, "y": 1, "wires": [[]]},
        {"id": "t1", "type": "tab"},
        {"id": "o1", "z": "t1", "type": "subflow:outer", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ]);
    let mut flow = harness::load(nodes).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    let ids = flow.runtime().running_ids().await;
    assert!(ids.contains(&"o1-outer-i-inner-n".to_owned()), "{ids:?}");
    flow.receive("o1", json!({"payload": 2})).await;
    assert_eq!(
        flow.next("h").await.payload().and_then(|p| p.as_i64()),
        Some(6)
    );
    flow.unload().await;
}

/// A subflow containing an instance of itself is reported instead of recursing forever.
#[tokio::test]
async fn a_self_containing_subflow_is_reported() {
    let nodes = json!([
        {"id": "sf", "type": "subflow", "name": "loop", "in": [], "out": []},
        {"id": "sf-self", "z": "sf", "type": "subflow:sf", "x": 1, "y": 1, "wires": []},
        {"id": "t1", "type": "tab"},
        {"id": "i", "z": "t1", "type": "subflow:sf", "x": 1, "y": 1, "wires": []}
    ]);
    let flow = harness::load(nodes).await;
    assert!(
        flow.report()
            .issues
            .iter()
            .any(|i| i.message.contains("nested too deeply")),
        "{}",
        flow.report()
    );
    flow.unload().await;
}
