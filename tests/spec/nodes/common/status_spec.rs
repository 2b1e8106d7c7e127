//! Port of Node-RED test/nodes/core/common/25-status_spec.js, plus status routing cases.

use serde_json::json;

use crate::harness;

/// should output a message when called
#[tokio::test]
async fn should_output_a_message_when_called() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "status", "name": "status", "wires": [["n2"]], "scope": []},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let mst =
        json!({"text": "Oh dear", "source": {"id": "12345", "type": "testnode", "name": "fred"}});
    flow.receive("n1", mst).await;
    let msg = flow.next("n2").await.as_value().to_json();
    assert_eq!(msg["text"], "Oh dear");
    assert_eq!(
        msg["source"],
        json!({"id": "12345", "type": "testnode", "name": "fred"})
    );
    flow.unload().await;
}

/// A node's status reaches status nodes in scope as {status:{fill,shape,text,source}}.
#[tokio::test]
async fn status_changes_reach_status_nodes_in_scope() {
    let mut flow = harness::load(json!([
        {"id": "s", "type": "test-status", "name": "setter"},
        {"id": "other", "type": "test-status"},
        {"id": "watch", "type": "status", "scope": ["s"], "wires": [["h"]]},
        {"id": "all", "type": "status", "scope": null, "wires": [["h-all"]]},
        {"id": "h", "type": "helper"},
        {"id": "h-all", "type": "helper"}
    ]))
    .await;
    flow.receive("s", json!({"payload": "connected"})).await;
    let msg = flow.next("h").await.as_value().to_json();
    assert_eq!(
        msg["status"],
        json!({"fill": "green", "shape": "dot", "text": "connected", "source": {"id": "s", "type": "test-status", "name": "setter"}})
    );
    assert!(msg["_msgid"].is_string());
    flow.next("h-all").await;
    flow.receive("other", json!({"payload": "x"})).await;
    assert_eq!(
        flow.next("h-all").await.as_value().to_json()["status"]["source"]["id"],
        "other"
    );
    flow.expect_nothing("h", std::time::Duration::from_millis(50))
        .await;
    flow.unload().await;
}

/// Status is published on the events bus as a retained status/<id> topic.
#[tokio::test]
async fn status_is_published_on_the_events_bus() {
    let mut flow = harness::load(json!([{"id": "s", "type": "test-status"}])).await;
    flow.receive("s", json!({"payload": "ok"})).await;
    let event = flow.event(|e| e.topic == "status/s").await;
    assert_eq!(
        event.data,
        json!({"fill": "green", "shape": "dot", "text": "ok"})
    );
    assert_eq!(flow.runtime().events().retained("status/#").len(), 1);
    flow.unload().await;
}
