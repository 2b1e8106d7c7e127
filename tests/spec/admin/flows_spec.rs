//! `GET/POST flows` and `flows/state` (Node-RED's `editor-api/lib/admin/flows.js`).

use std::time::Duration;

use serde_json::{Value as Json, json};

use super::support::Server;

const V2: (&str, &str) = ("Node-RED-API-Version", "v2");

fn two_nodes() -> Json {
    json!([
        {"id": "t1", "type": "tab", "label": "Flow 1"},
        {"id": "n1", "type": "inject", "z": "t1", "wires": [["n2"]]},
        {"id": "n2", "type": "debug", "z": "t1", "wires": []}
    ])
}

/// The flows file the server writes (`flows.json` in its user dir).
fn flows_file(server: &Server) -> Json {
    let text = std::fs::read_to_string(server.dir.path().join("flows.json")).expect("flows.json");
    serde_json::from_str(&text).expect("JSON")
}

/// should return flows - v1 (a bare array) by default
#[tokio::test]
async fn get_flows_v1_is_the_bare_array() {
    let server = Server::with(json!({}), two_nodes()).await;
    let reply = server.get("flows").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), two_nodes());
}

/// should return flows - v2 (`{flows, rev}`)
#[tokio::test]
async fn get_flows_v2_has_flows_and_rev() {
    let server = Server::with(json!({}), two_nodes()).await;
    let reply = server.send_json("GET", "flows", &[V2], &json!(null)).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["flows"], two_nodes());
    let (_, rev) = server.runtime.flows().await;
    assert_eq!(body["rev"], rev);
}

/// should return 400 for an unknown api version
#[tokio::test]
async fn get_flows_refuses_an_unknown_api_version() {
    let server = Server::start().await;
    let reply = server
        .send_json(
            "GET",
            "flows",
            &[("Node-RED-API-Version", "v3")],
            &json!(null),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_api_version");
}

/// Credentials deployed inline never come back in GET flows.
#[tokio::test]
async fn get_flows_never_includes_credentials() {
    let flows = json!([{"id": "n1", "type": "inject", "credentials": {"password": "hunter2"}, "wires": []}]);
    let server = Server::with(json!({}), flows).await;
    let reply = server.send_json("GET", "flows", &[V2], &json!(null)).await;
    assert!(!reply.text().contains("hunter2"), "{}", reply.text());
    assert!(reply.json()["flows"][0].get("credentials").is_none());
}

/// should set flows - v1: 204, running, and written to the flows file
#[tokio::test]
async fn post_flows_v1_deploys_and_saves_the_flows_file() {
    let server = Server::start().await;
    let reply = server.send_json("POST", "flows", &[], &two_nodes()).await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(reply.body.is_empty());
    assert_eq!(
        server.runtime.flows().await.0,
        two_nodes().as_array().cloned().expect("array")
    );
    assert_eq!(flows_file(&server), two_nodes());
}

/// should set flows - v2: answers the new rev
#[tokio::test]
async fn post_flows_v2_answers_the_new_rev() {
    let server = Server::start().await;
    let reply = server
        .send_json("POST", "flows", &[V2], &json!({"flows": two_nodes()}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let (_, rev) = server.runtime.flows().await;
    assert_eq!(reply.json(), json!({"rev": rev}));
}

/// A v2 deploy with the current rev is accepted; a stale one answers 409 version_mismatch
/// and changes nothing.
#[tokio::test]
async fn post_flows_v2_with_a_stale_rev_is_a_conflict() {
    let server = Server::with(json!({}), two_nodes()).await;
    let (_, rev) = server.runtime.flows().await;
    let one = json!([{"id": "n1", "type": "inject", "wires": []}]);
    let ok = server
        .send_json("POST", "flows", &[V2], &json!({"flows": one, "rev": rev}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let stale = server
        .send_json(
            "POST",
            "flows",
            &[V2],
            &json!({"flows": two_nodes(), "rev": rev}),
        )
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.json()["code"], "version_mismatch");
    assert_eq!(
        server.runtime.flows().await.0,
        one.as_array().cloned().expect("array")
    );
}

/// Each deployment type (full, nodes, flows) deploys the body.
#[tokio::test]
async fn every_deployment_type_deploys_the_body() {
    let server = Server::start().await;
    for kind in ["full", "nodes", "flows"] {
        let flows = json!([{"id": "n1", "type": "inject", "name": kind, "wires": []}]);
        let reply = server
            .send_json(
                "POST",
                "flows",
                &[("Node-RED-Deployment-Type", kind)],
                &flows,
            )
            .await;
        assert_eq!(reply.status, 204, "{kind}: {}", reply.text());
        assert_eq!(server.runtime.flows().await.0[0]["name"], kind);
    }
}

/// An unknown deployment type is refused with {code, message}.
#[tokio::test]
async fn an_unknown_deployment_type_is_refused() {
    let server = Server::start().await;
    let reply = server
        .send_json(
            "POST",
            "flows",
            &[("Node-RED-Deployment-Type", "partial")],
            &two_nodes(),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_deployment_type");
}

/// reload redeploys what the flows file holds and ignores the body.
#[tokio::test]
async fn reload_redeploys_the_stored_flows_ignoring_the_body() {
    let server = Server::start().await;
    let reply = server.send_json("POST", "flows", &[], &two_nodes()).await;
    assert_eq!(reply.status, 204);
    let edited = json!([{"id": "n9", "type": "inject", "wires": []}]);
    std::fs::write(server.dir.path().join("flows.json"), edited.to_string()).expect("write");
    let reply = server
        .send_json(
            "POST",
            "flows",
            &[V2, ("Node-RED-Deployment-Type", "reload")],
            &json!({"flows": "ignored"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        server.runtime.flows().await.0,
        edited.as_array().cloned().expect("array")
    );
    assert_eq!(server.runtime.running_ids().await, vec!["n9".to_owned()]);
}

/// Malformed bodies answer 400 {code, message}: not JSON, a v1 object, a v2 array,
/// a node that is not an object.
#[tokio::test]
async fn malformed_deploy_bodies_are_400_with_code_and_message() {
    let server = Server::start().await;
    let bad_json = super::support::request(
        "POST",
        &server.url("flows"),
        &[("content-type", "application/json")],
        Some(b"[{bad".to_vec()),
    )
    .await;
    assert_eq!(bad_json.status, 400);
    assert_eq!(bad_json.json()["code"], "invalid_json");
    let cases = [
        (None, json!({"flows": []})),
        (Some(V2), json!([])),
        (Some(V2), json!({"flows": [1]})),
        (Some(V2), json!({"flows": [], "rev": 5})),
    ];
    for (header, body) in cases {
        let headers: Vec<(&str, &str)> = header.into_iter().collect();
        let reply = server.send_json("POST", "flows", &headers, &body).await;
        assert_eq!(reply.status, 400, "{body}");
        let error = reply.json();
        assert_eq!(error["code"], "invalid_flows", "{body}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(server.runtime.flows().await.0.is_empty());
}

/// A deploy keeps the previous flows file as `.flows.json.backup`.
#[tokio::test]
async fn a_deploy_keeps_the_previous_flows_file_as_backup() {
    let server = Server::start().await;
    server.send_json("POST", "flows", &[], &two_nodes()).await;
    let next = json!([{"id": "n1", "type": "inject", "wires": []}]);
    server.send_json("POST", "flows", &[], &next).await;
    let backup =
        std::fs::read_to_string(server.dir.path().join(".flows.json.backup")).expect("backup");
    assert_eq!(
        serde_json::from_str::<Json>(&backup).expect("JSON"),
        two_nodes()
    );
    assert_eq!(flows_file(&server), next);
}

/// A node with bad config still deploys (success, as Node-RED answers), and the problem
/// reaches the editor as an error notification naming the node.
#[tokio::test]
async fn deploy_issues_are_published_as_error_notifications() {
    let server = Server::start().await;
    let mut events = server.runtime.events().subscribe();
    let flows = json!([{"id": "r1", "type": "range", "property": "payload[", "wires": []}]);
    let reply = server
        .send_json("POST", "flows", &[V2], &json!({"flows": flows}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let event = events.recv().await.expect("bus open");
            if event.topic.starts_with("notification/deploy-issue") {
                return event;
            }
        }
    })
    .await
    .expect("a deploy-issue notification");
    assert_eq!(found.topic, "notification/deploy-issue-r1");
    assert_eq!(found.data["type"], "error");
    let text = found.data["text"].as_str().expect("text");
    assert!(text.contains("r1") && text.contains("range"), "{text}");
}

/// GET flows/state answers the run state; POST is refused (no runtimeState setting).
#[tokio::test]
async fn flows_state_is_start_and_cannot_be_changed() {
    let server = Server::with(json!({}), two_nodes()).await;
    let reply = server.get("flows/state").await;
    assert_eq!(reply.json(), json!({"state": "start"}));
    let reply = server
        .send_json("POST", "flows/state", &[], &json!({"state": "stop"}))
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.json()["code"], "not_allowed");
}

/// After a deploy, a restart on the same user dir runs the deployed flows (main.rs reads
/// the flows file the deploy wrote).
#[tokio::test]
async fn deployed_flows_survive_a_restart() {
    let mut server = Server::start().await;
    server.send_json("POST", "flows", &[], &two_nodes()).await;
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("tempdir"));
    server.runtime.stop().await;
    drop(server);
    let stored: Json = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("flows.json")).expect("file"),
    )
    .expect("JSON");
    let restarted = Server::in_dir(dir, json!({}), stored).await;
    assert_eq!(restarted.get("flows").await.json(), two_nodes());
}
