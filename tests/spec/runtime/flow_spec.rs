//! Runtime behaviours, after Node-RED's test/unit/@node-red/runtime/lib/flows/Flow_spec.js
//! and nodes/Node_spec.js: fan-out copies, loops, loose typing, env, deploy types,
//! broken and unknown nodes.

use std::time::Duration;

use ferrite_runtime::DeployKind;
use serde_json::{Value as Json, json};

use crate::harness;

const QUIET: Duration = Duration::from_millis(60);

/// Every wire sees its own copy: a node changing a message does not change the copy
/// another wire received.
#[tokio::test]
async fn fan_out_gives_every_wire_its_own_copy() {
    let mut flow = harness::load(json!([
        {"id": "src", "type": "junction", "wires": [["a", "b"]]},
        {"id": "a", "type": "test-transform", "op": "set", "value": "changed", "wires": [["ha"]]},
        {"id": "b", "type": "junction", "wires": [["hb"]]},
        {"id": "ha", "type": "helper"},
        {"id": "hb", "type": "helper"}
    ]))
    .await;
    flow.receive("src", json!({"payload": "original", "deep": {"x": 1}}))
        .await;
    let a = flow.next("ha").await;
    let b = flow.next("hb").await;
    assert_eq!(a.payload().and_then(|p| p.as_str()), Some("changed"));
    assert_eq!(b.payload().and_then(|p| p.as_str()), Some("original"));
    assert_eq!(a.msgid(), b.msgid(), "copies keep the _msgid");
    flow.unload().await;
}

/// _msgid: a received message without one gets a 16 hex character id.
#[tokio::test]
async fn messages_get_a_sixteen_hex_msgid() {
    let mut flow = harness::load(
        json!([{"id": "j", "type": "junction", "wires": [["h"]]}, {"id": "h", "type": "helper"}]),
    )
    .await;
    flow.receive("j", json!({"payload": 1})).await;
    let msg = flow.next("h").await;
    let id = msg.msgid().expect("has an id");
    assert_eq!(id.len(), 16);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    flow.unload().await;
}

/// A flow with a loop (a node wired back to an earlier one) loads and runs without
/// deadlocking, even when the loop carries more messages than an inbox holds.
#[tokio::test]
async fn flows_with_loops_run_without_deadlock() {
    let mut flow = harness::load(json!([
        {"id": "a", "type": "junction", "wires": [["b"]]},
        {"id": "b", "type": "test-transform", "op": "count", "wires": [["a", "h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    // Each injected message circles forever; 3000 of them exceed a bounded inbox (1024).
    for _ in 0..3000 {
        flow.receive("a", json!({"payload": 0})).await;
    }
    let mut last = 0;
    for _ in 0..20_000 {
        last = flow
            .next("h")
            .await
            .payload()
            .and_then(|p| p.as_i64())
            .unwrap_or(0);
    }
    assert!(last >= 20_000, "the loop kept running: {last}");
    flow.unload().await;
}

/// Node-RED's loose typing: "true"/true, "2"/2 and "" all load.
#[tokio::test]
async fn loosely_typed_config_loads() {
    let flow = harness::load(json!([
        {"id": "t", "type": "tab", "disabled": "false"},
        {"id": "c", "z": "t", "type": "catch", "uncaught": "false", "scope": null, "x": "10", "y": "20", "wires": []},
        {"id": "l", "z": "t", "type": "link call", "links": ["li"], "timeout": "", "x": 1, "y": 1, "wires": [[]]},
        {"id": "li", "z": "t", "type": "link in", "x": 1, "y": 1, "wires": []},
        {"id": "d", "z": "t", "type": "junction", "d": "false", "x": 1, "y": 1, "wires": []}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    assert_eq!(flow.runtime().running_ids().await.len(), 4);
    flow.unload().await;
}

/// Disabled nodes and nodes on disabled tabs do not run; messages to them vanish.
#[tokio::test]
async fn disabled_nodes_and_tabs_do_not_run() {
    let mut flow = harness::load(json!([
        {"id": "t1", "type": "tab"},
        {"id": "t2", "type": "tab", "disabled": true},
        {"id": "j", "z": "t1", "type": "junction", "x": 1, "y": 1, "wires": [["off", "h"]]},
        {"id": "off", "z": "t1", "type": "junction", "d": true, "x": 1, "y": 1, "wires": [["h2"]]},
        {"id": "on-disabled-tab", "z": "t2", "type": "junction", "x": 1, "y": 1, "wires": []},
        {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1},
        {"id": "h2", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ]))
    .await;
    let running = flow.runtime().running_ids().await;
    assert!(!running.contains(&"off".to_owned()));
    assert!(!running.contains(&"on-disabled-tab".to_owned()));
    flow.receive("j", json!({"payload": 1})).await;
    flow.next("h").await;
    flow.expect_nothing("h2", QUIET).await;
    flow.unload().await;
}

/// A node whose config fails is reported with id and type and skipped; siblings run.
#[tokio::test]
async fn a_broken_node_is_reported_and_its_siblings_run() {
    let mut flow = harness::load(json!([
        {"id": "bad", "type": "link call", "name": "broken", "links": [], "linkType": "static", "wires": [[]]},
        {"id": "j", "type": "junction", "wires": [["h", "bad"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    let report = flow.report().clone();
    assert_eq!(report.issues.len(), 1, "{report}");
    let issue = &report.issues[0];
    assert_eq!(issue.node_id.as_deref(), Some("bad"));
    assert_eq!(issue.node_type.as_deref(), Some("link call"));
    assert!(issue.message.contains("links"), "{}", issue.message);
    flow.receive("j", json!({"payload": 1})).await;
    flow.next("h").await;
    flow.unload().await;
}

/// Unknown node types keep every flow stopped and are reported, as Node-RED does.
#[tokio::test]
async fn unknown_types_keep_the_flows_stopped() {
    let mut flow = harness::load(json!([
        {"id": "j", "type": "junction", "wires": [["h"]]},
        {"id": "x", "type": "no-such-node"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert_eq!(flow.report().missing_types, vec!["no-such-node".to_owned()]);
    assert!(!flow.runtime().started().await);
    assert!(flow.runtime().running_ids().await.is_empty());
    let state = flow
        .event(|e| e.topic == "notification/runtime-state" && e.data.get("error").is_some())
        .await;
    assert_eq!(state.data["error"], "missing-types");
    assert_eq!(state.data["types"], json!(["no-such-node"]));
    flow.unload().await;
}

/// A whole-string ${VAR} in a node property is replaced by the env value, with its type.
#[tokio::test]
async fn env_substitution_uses_the_env_chain() {
    let mut flow = harness::load(json!([
        {"id": "t1", "type": "tab", "label": "My Flow", "env": [
            {"name": "VALUE", "value": "42", "type": "num"},
            {"name": "REF", "value": "VALUE", "type": "env"}
        ]},
        {"id": "g1", "z": "t1", "type": "group", "name": "grp", "env": [{"name": "GV", "value": "in-group", "type": "str"}], "nodes": ["s2"]},
        {"id": "s1", "z": "t1", "type": "test-transform", "op": "set", "value": "${VALUE}", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "s2", "z": "t1", "g": "g1", "type": "test-transform", "op": "set", "value": "${GV}", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "s3", "z": "t1", "type": "test-transform", "op": "set", "value": "${NR_FLOW_NAME}", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "s4", "z": "t1", "type": "test-transform", "op": "set", "value": "${REF}", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "s5", "z": "t1", "type": "test-transform", "name": "NAME", "op": "set", "value": "${NR_NODE_NAME}", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ]))
    .await;
    let mut got = Vec::new();
    for id in ["s1", "s2", "s3", "s4", "s5"] {
        flow.receive(id, json!({})).await;
        got.push(
            flow.next("h")
                .await
                .payload()
                .map(|p| p.to_json())
                .unwrap_or(Json::Null),
        );
    }
    assert_eq!(
        got,
        vec![
            json!(42),
            json!("in-group"),
            json!("My Flow"),
            json!(42),
            json!("NAME")
        ]
    );
    flow.unload().await;
}

/// global-config env is the last level before the process environment.
#[tokio::test]
async fn global_config_env_is_visible_to_every_flow() {
    let mut flow = harness::load(json!([
        {"id": "gc", "type": "global-config", "env": [{"name": "SITE", "value": "plant-7", "type": "str"}]},
        {"id": "t1", "type": "tab"},
        {"id": "s", "z": "t1", "type": "test-transform", "op": "set", "value": "${SITE}", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("s", json!({})).await;
    assert_eq!(
        flow.next("h").await.payload().and_then(|p| p.as_str()),
        Some("plant-7")
    );
    flow.unload().await;
}

fn counters(b_name: &str) -> Json {
    json!([
        {"id": "t1", "type": "tab"},
        {"id": "a", "z": "t1", "type": "test-transform", "op": "count", "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "b", "z": "t1", "type": "test-transform", "op": "count", "name": b_name, "x": 1, "y": 1, "wires": [["h"]]},
        {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}
    ])
}

async fn counts(flow: &mut ferrite_runtime::testing::TestFlow) -> (i64, i64) {
    let mut out = [0; 2];
    for (i, id) in ["a", "b"].into_iter().enumerate() {
        flow.receive(id, json!({})).await;
        out[i] = flow
            .next("h")
            .await
            .payload()
            .and_then(|p| p.as_i64())
            .unwrap_or(-1);
    }
    (out[0], out[1])
}

/// A `nodes` deploy restarts only the changed nodes; a `full` deploy restarts all.
#[tokio::test]
async fn deploy_types_restart_only_what_they_should() {
    let mut flow = harness::load(counters("b")).await;
    assert_eq!(counts(&mut flow).await, (1, 1));
    let report = flow.deploy(counters("b2"), DeployKind::Nodes).await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(counts(&mut flow).await, (2, 1), "only b restarted");
    // A position change is not a change.
    let mut moved = counters("b2");
    moved[1]["x"] = json!(300);
    flow.deploy(moved, DeployKind::Nodes).await;
    assert_eq!(counts(&mut flow).await, (3, 2), "nothing restarted");
    flow.deploy(counters("b2"), DeployKind::Full).await;
    assert_eq!(counts(&mut flow).await, (1, 1), "everything restarted");
    flow.unload().await;
}

/// A `flows` deploy also restarts nodes wired to a changed node.
#[tokio::test]
async fn flows_deploy_restarts_wired_neighbours() {
    let chain = |name: &str| {
        json!([
            {"id": "t1", "type": "tab"},
            {"id": "a", "z": "t1", "type": "test-transform", "op": "count", "x": 1, "y": 1, "wires": [["b"]]},
            {"id": "b", "z": "t1", "type": "junction", "name": name, "x": 1, "y": 1, "wires": [["h"]]},
            {"id": "c", "z": "t1", "type": "test-transform", "op": "count", "x": 1, "y": 1, "wires": [["h2"]]},
            {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1},
            {"id": "h2", "z": "t1", "type": "helper", "x": 1, "y": 1}
        ])
    };
    let mut flow = harness::load(chain("one")).await;
    for (id, helper) in [("a", "h"), ("c", "h2")] {
        flow.receive(id, json!({})).await;
        flow.next(helper).await;
    }
    flow.deploy(chain("two"), DeployKind::Flows).await;
    flow.receive("a", json!({})).await;
    assert_eq!(
        flow.next("h").await.payload().and_then(|p| p.as_i64()),
        Some(1),
        "a is wired to b: restarted"
    );
    flow.receive("c", json!({})).await;
    assert_eq!(
        flow.next("h2").await.payload().and_then(|p| p.as_i64()),
        Some(2),
        "c is not: kept"
    );
    flow.unload().await;
}

/// Deploys publish runtime-state stop/start and the new revision.
#[tokio::test]
async fn deploys_publish_runtime_state_and_revision() {
    let mut flow = harness::load(json!([{"id": "j", "type": "junction"}])).await;
    let (_, rev) = flow.runtime().flows().await;
    assert_eq!(rev.len(), 64);
    let retained = flow.runtime().events().retained("notification/#");
    assert!(
        retained
            .iter()
            .any(|m| m.topic == "notification/runtime-state" && m.data["state"] == "start")
    );
    assert!(retained.iter().any(|m| m.topic == "notification/runtime-deploy" && m.data["revision"] == rev.as_str()));
    flow.deploy(json!([{"id": "j2", "type": "junction"}]), DeployKind::Full)
        .await;
    let deploy = flow
        .event(|e| e.topic == "notification/runtime-deploy" && e.data["revision"] != rev.as_str())
        .await;
    assert_eq!(deploy.data["revision"].as_str().map(str::len), Some(64));
    flow.unload().await;
}

/// Unknown keys survive: the deployed flows come back exactly as given.
#[tokio::test]
async fn flows_round_trip_with_unknown_keys() {
    let input = json!([
        {"id": "t1", "type": "tab", "label": "x", "customTabKey": {"a": [1, 2]}},
        {"id": "j", "z": "t1", "type": "junction", "x": 10, "y": 20, "wires": [[]], "someFutureKey": "kept", "l": false}
    ]);
    let flow = harness::load(input.clone()).await;
    let (flows, _) = flow.runtime().flows().await;
    assert_eq!(Json::Array(flows), input);
    flow.unload().await;
}

/// Duplicate ids are reported with the node id and type.
#[tokio::test]
async fn duplicate_ids_are_reported() {
    let flow =
        harness::load(json!([{"id": "j", "type": "junction"}, {"id": "j", "type": "comment"}]))
            .await;
    assert!(
        flow.report()
            .issues
            .iter()
            .any(|i| i.node_id.as_deref() == Some("j") && i.message.contains("duplicate"))
    );
    flow.unload().await;
}

/// Contexts of nodes removed by a deploy are dropped; flow and global context stay.
#[tokio::test]
async fn a_deploy_drops_the_context_of_removed_nodes() {
    let mut flow = harness::load(json!([
        {"id": "t1", "type": "tab"},
        {"id": "a", "z": "t1", "type": "junction", "x": 1, "y": 1},
        {"id": "b", "z": "t1", "type": "junction", "x": 1, "y": 1}
    ]))
    .await;
    let context = std::sync::Arc::clone(flow.runtime().context());
    for scope in ["a:t1", "b:t1", "t1", "global"] {
        context.set(scope, "k", Some(1.into()), None).expect("set");
    }
    flow.deploy(
        json!([
            {"id": "t1", "type": "tab"},
            {"id": "a", "z": "t1", "type": "junction", "x": 1, "y": 1}
        ]),
        DeployKind::Nodes,
    )
    .await;
    let get = |scope: &str| context.get(scope, "k", None).expect("get");
    assert_eq!(get("b:t1"), None);
    assert!(get("a:t1").is_some() && get("t1").is_some() && get("global").is_some());
    flow.unload().await;
}

/// Config nodes are built before the nodes using them (dependencies first), looked up by
/// id, closed when a deploy replaces them; a missing one fails only the node naming it.
#[tokio::test]
async fn config_nodes_are_shared_built_first_and_closed_on_replace() {
    let with_value = |value: &str| {
        json!([
            {"id": "t1", "type": "tab"},
            {"id": "user", "z": "t1", "type": "test-transform", "op": "config", "config": "cfg", "x": 1, "y": 1, "wires": [["h"]]},
            {"id": "orphan", "z": "t1", "type": "test-transform", "op": "config", "config": "nope", "x": 1, "y": 1, "wires": [["h"]]},
            {"id": "cfg", "type": "test-config", "value": value},
            {"id": "h", "z": "t1", "type": "helper", "x": 1, "y": 1}
        ])
    };
    let mut flow = harness::load(with_value("config-node-v1")).await;
    let report = flow.report().clone();
    assert_eq!(report.issues.len(), 1, "{report}");
    assert_eq!(report.issues[0].node_id.as_deref(), Some("orphan"));
    assert!(report.issues[0].message.contains("nope"), "{report}");
    flow.receive("user", json!({})).await;
    assert_eq!(
        flow.next("h").await.payload().and_then(|p| p.as_str()),
        Some("config-node-v1")
    );

    flow.deploy(with_value("config-node-v2"), DeployKind::Nodes)
        .await;
    let closes = ferrite_runtime::testing::CONFIG_CLOSES
        .lock()
        .map(|m| m.get("\"config-node-v1\"").copied())
        .unwrap_or_default();
    assert_eq!(closes, Some(1), "the replaced config node was closed");
    flow.receive("user", json!({})).await;
    assert_eq!(
        flow.next("h").await.payload().and_then(|p| p.as_str()),
        Some("config-node-v2"),
        "its user restarted with the new one"
    );
    flow.unload().await;
}

/// A panicking node is caught: the error is logged with its id and type, its status turns
/// red, and it and its siblings go on handling messages.
#[tokio::test]
async fn a_panicking_node_is_contained() {
    let mut flow = harness::load(json!([
        {"id": "p", "type": "test-fail", "panic": true, "message": "boom"},
        {"id": "j", "type": "junction", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive("p", json!({})).await;
    let entry = flow.log_entry("p").await;
    assert_eq!(entry["level"], 20);
    assert_eq!(entry["type"], "test-fail");
    assert!(
        entry["msg"].as_str().unwrap_or_default().contains("boom"),
        "{entry}"
    );
    let status = flow.runtime().events().retained("status/p");
    assert_eq!(
        status.first().map(|s| s.data["fill"].clone()),
        Some(json!("red"))
    );
    flow.receive("p", json!({})).await;
    flow.log_entry("p").await;
    flow.receive("j", json!({"payload": 1})).await;
    flow.next("h").await;
    flow.unload().await;
}
