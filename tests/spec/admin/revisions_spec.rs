//! Flow revisions: every deploy kept in SQLite; list, read, restore (a full deploy).

use serde_json::{Value as Json, json};

use super::support::Server;

fn flows(name: &str) -> Json {
    json!([{"id": "n1", "type": "inject", "name": name, "wires": []}])
}

async fn deploy(server: &Server, name: &str) -> String {
    let reply = server
        .send_json(
            "POST",
            "flows",
            &[("Node-RED-API-Version", "v2")],
            &json!({"flows": flows(name)}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["rev"].as_str().expect("rev").to_owned()
}

/// GET revisions lists every deploy's rev with its time, newest first.
#[tokio::test]
async fn revisions_are_listed_newest_first() {
    let server = Server::start().await;
    let first = deploy(&server, "first").await;
    let second = deploy(&server, "second").await;
    let list = server.get("revisions").await.json();
    let revs: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["rev"].as_str().expect("rev"))
        .collect();
    assert_eq!(revs, vec![second.as_str(), first.as_str()]);
    let time = list[0]["time"].as_str().expect("time");
    assert!(chrono_like(time), "{time}");
}

fn chrono_like(time: &str) -> bool {
    time.len() >= 20 && time.ends_with('Z') && time.as_bytes()[4] == b'-'
}

/// GET revisions/{rev} answers that revision's flows; an unknown rev is 404.
#[tokio::test]
async fn a_revision_answers_its_flows() {
    let server = Server::start().await;
    let first = deploy(&server, "first").await;
    deploy(&server, "second").await;
    assert_eq!(
        server.get(&format!("revisions/{first}")).await.json(),
        flows("first")
    );
    let missing = server.get("revisions/0000").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "not_found");
}

/// POST revisions/{rev}/restore deploys that revision (running, and in the flows file).
#[tokio::test]
async fn restoring_a_revision_deploys_it() {
    let server = Server::start().await;
    let first = deploy(&server, "first").await;
    deploy(&server, "second").await;
    let reply = server
        .send_json(
            "POST",
            &format!("revisions/{first}/restore"),
            &[],
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"rev": first}));
    let (running, rev) = server.runtime.flows().await;
    assert_eq!(rev, first);
    assert_eq!(Json::Array(running), flows("first"));
    let file: Json = serde_json::from_str(
        &std::fs::read_to_string(server.dir.path().join("flows.json")).expect("file"),
    )
    .expect("JSON");
    assert_eq!(file, flows("first"));
}

/// Restoring an unknown revision is 404 and changes nothing.
#[tokio::test]
async fn restoring_an_unknown_revision_is_404() {
    let server = Server::start().await;
    let current = deploy(&server, "current").await;
    let reply = server
        .send_json("POST", "revisions/abc/restore", &[], &json!({}))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["code"], "not_found");
    assert_eq!(server.runtime.flows().await.1, current);
}
