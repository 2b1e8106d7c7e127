//! What the dashboard node specs share: a dashboard skeleton to put widgets in, and
//! bounded waits on the hub.

use std::sync::Arc;
use std::time::Duration;

use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::ui::{UiEvent, UiItem};
use serde_json::{Value as Json, json};
use tokio::sync::broadcast;

use crate::harness;

const WAIT: Duration = Duration::from_secs(5);

/// A `ui-base` `base`, a `ui-page` `page`, a `ui-group` `group`, then `nodes`, a `catch`
/// wired to helper `caught` and helper `out`.
pub fn dashboard(nodes: Json) -> Json {
    let mut flow = vec![
        json!({"id": "base", "type": "ui-base", "name": "My Dashboard", "path": "/dashboard"}),
        json!({"id": "page", "type": "ui-page", "ui": "base", "name": "Home", "path": "/home", "layout": "grid"}),
        json!({"id": "group", "type": "ui-group", "page": "page", "name": "Plant"}),
        json!({"id": "catch", "type": "catch", "wires": [["caught"]]}),
        json!({"id": "caught", "type": "helper"}),
        json!({"id": "out", "type": "helper"}),
    ];
    flow.extend(nodes.as_array().cloned().unwrap_or_default());
    Json::Array(flow)
}

/// Loads a dashboard flow that must deploy cleanly, listening to the hub.
pub async fn load(nodes: Json) -> (TestFlow, broadcast::Receiver<Arc<UiEvent>>) {
    let flow = harness::load(dashboard(nodes.clone())).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    let pages = flow.runtime().ui().subscribe();
    started(&flow, &nodes).await;
    (flow, pages)
}

/// Waits (bounded) until every `ui-*` node of `nodes` is on the hub: widgets register
/// when their task starts, which a deploy does not wait for.
pub async fn started(flow: &TestFlow, nodes: &Json) {
    let ids: Vec<&str> = nodes
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["type"].as_str().is_some_and(|t| t.starts_with("ui-")))
        .filter_map(|n| n["id"].as_str())
        .collect();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ids.iter().all(|id| on_hub(flow, id)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{ids:?} not all on the hub within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The deploy errors of a flow with `nodes` (the flow is unloaded).
pub async fn deploy_errors(nodes: Json) -> String {
    let flow = harness::load(dashboard(nodes)).await;
    let report = flow.report().to_string();
    flow.unload().await;
    report
}

/// Item `id` on the hub.
pub fn item(flow: &TestFlow, id: &str) -> UiItem {
    flow.runtime()
        .ui()
        .snapshot()
        .into_iter()
        .find(|item| item.id == id)
        .unwrap_or_else(|| panic!("no hub item {id}"))
}

/// Whether item `id` is on the hub.
pub fn on_hub(flow: &TestFlow, id: &str) -> bool {
    flow.runtime()
        .ui()
        .snapshot()
        .iter()
        .any(|item| item.id == id)
}

/// The next message the pages get for item `id`; fails after a bounded wait.
pub async fn page_msg(pages: &mut broadcast::Receiver<Arc<UiEvent>>, id: &str) -> Json {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, pages.recv()).await {
            Ok(Ok(event)) => {
                if let UiEvent::Msg { id: to, msg } = &*event
                    && to == id
                {
                    return msg.clone();
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            _ => panic!("pages got no message for {id} within {WAIT:?}"),
        }
    }
}

/// The message helper `id` gets, as JSON.
pub async fn next(flow: &mut TestFlow, id: &str) -> Json {
    flow.next(id).await.as_value().to_json()
}

/// Hands the page input `msg` to item `id`, as the dashboard websocket does.
pub fn input(flow: &TestFlow, id: &str, msg: Json) {
    let msg = ferrite_runtime::Msg::try_from(msg).expect("an object");
    flow.runtime().ui().input(id, msg).expect("delivered");
}
