//! Node credentials: taken out of deployed flows, kept in `flows_cred.json` encrypted as
//! Node-RED encrypts it, merged into the nodes, never sent back.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::support::Server;

const V2: (&str, &str) = ("Node-RED-API-Version", "v2");

/// Written by Node-RED 5.0 (`credentialSecret: "fixture-secret"`) after deploying node
/// `b1` with credentials `{user: "u1", password: "p1"}`.
const NODE_RED_CRED_FILE: &str =
    r#"{"$":"d7cf9fe52866f7377ace4d9ecbbefdd9y1NoyCSHfaJ6dojEb4ZqVBeNbOOHnzaJwmDOH8xf10QUxkmg"}"#;

fn node_with(creds: Json) -> Json {
    json!([{"id": "n1", "type": "inject", "wires": [], "credentials": creds}])
}

async fn deploy(server: &Server, flows: Json) {
    let reply = server
        .send_json("POST", "flows", &[V2], &json!({"flows": flows}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

fn read_json(path: &std::path::Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).expect("file")).expect("JSON")
}

/// Runs openssl with `args`, `input` on stdin; its stdout.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let out = child.wait_with_output().expect("openssl ends");
    assert!(out.status.success(), "openssl {args:?}");
    out.stdout
}

fn sha256_hex(text: &str) -> String {
    let out =
        String::from_utf8(openssl(&["dgst", "-sha256", "-r"], text.as_bytes())).expect("utf8");
    out.split_whitespace().next().expect("digest").to_owned()
}

/// GET credentials/{type}/{id} gives plain fields and has_password, never the password.
#[tokio::test]
async fn credentials_are_never_returned_but_flagged() {
    let server = Server::start().await;
    deploy(
        &server,
        node_with(json!({"user": "admin", "password": "hunter2"})),
    )
    .await;
    let reply = server.get("credentials/inject/n1").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"user": "admin", "has_password": true}));
    let flows = server.send_json("GET", "flows", &[V2], &json!(null)).await;
    assert!(!flows.text().contains("hunter2"));
    assert_eq!(
        server.get("credentials/inject/none").await.json(),
        json!({})
    );
}

/// `__PWRD__` keeps the stored password; a missing key keeps its value; an empty one
/// deletes it.
#[tokio::test]
async fn unchanged_passwords_are_kept_and_blank_values_deleted() {
    let server = Server::start().await;
    deploy(
        &server,
        node_with(json!({"user": "admin", "password": "hunter2", "token": "t"})),
    )
    .await;
    deploy(
        &server,
        node_with(json!({"password": "__PWRD__", "token": ""})),
    )
    .await;
    let stored = server.runtime.credentials().get("n1").expect("stored");
    assert_eq!(
        Json::Object(stored),
        json!({"user": "admin", "password": "hunter2"})
    );
    // A deploy without the node drops its credentials.
    deploy(&server, json!([])).await;
    assert!(server.runtime.credentials().get("n1").is_none());
}

/// Without credentialSecret a secret is generated into `.config.runtime.json`
/// (`_credentialSecret`) and flows_cred.json is `{"$": ...}` without the clear password.
#[tokio::test]
async fn a_generated_secret_encrypts_the_credentials_file() {
    let server = Server::start().await;
    deploy(&server, node_with(json!({"password": "hunter2"}))).await;
    let file = std::fs::read_to_string(server.dir.path().join("flows_cred.json")).expect("file");
    assert!(!file.contains("hunter2"), "{file}");
    let file: Json = serde_json::from_str(&file).expect("JSON");
    assert!(file["$"].is_string(), "{file}");
    let config = read_json(&server.dir.path().join(".config.runtime.json"));
    let secret = config["_credentialSecret"]
        .as_str()
        .expect("_credentialSecret");
    assert_eq!(secret.len(), 64);
}

/// `credentialSecret: false` keeps the credentials file as plain JSON.
#[tokio::test]
async fn credential_secret_false_stores_plain_json() {
    let server = Server::with(json!({"credentialSecret": false}), json!([])).await;
    deploy(&server, node_with(json!({"password": "hunter2"}))).await;
    let file = read_json(&server.dir.path().join("flows_cred.json"));
    assert_eq!(file, json!({"n1": {"password": "hunter2"}}));
}

/// Ours decrypts as Node-RED's: AES-256-CTR, key SHA-256(secret), IV hex + base64
/// (checked with openssl, an implementation of its own).
#[tokio::test]
async fn our_credentials_file_decrypts_in_node_reds_format() {
    let server = Server::with(json!({"credentialSecret": "s3cret"}), json!([])).await;
    deploy(&server, node_with(json!({"password": "hunter2"}))).await;
    let file = read_json(&server.dir.path().join("flows_cred.json"));
    let text = file["$"].as_str().expect("$");
    let (iv, body) = text.split_at(32);
    let plain = openssl(
        &[
            "enc",
            "-d",
            "-aes-256-ctr",
            "-K",
            &sha256_hex("s3cret"),
            "-iv",
            iv,
            "-a",
            "-A",
        ],
        body.as_bytes(),
    );
    let plain: Json = serde_json::from_slice(&plain).expect("decrypted JSON");
    assert_eq!(plain, json!({"n1": {"password": "hunter2"}}));
}

/// A flows_cred.json written by Node-RED is read (its credentialSecret given).
#[tokio::test]
async fn a_credentials_file_written_by_node_red_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("flows_cred.json"), NODE_RED_CRED_FILE).expect("write");
    let flows = json!([{"id": "b1", "type": "inject", "wires": []}]);
    let server = Server::in_dir(dir, json!({"credentialSecret": "fixture-secret"}), flows).await;
    assert_eq!(
        server.get("credentials/mqtt-broker/b1").await.json(),
        json!({"user": "u1", "has_password": true})
    );
    let stored = server.runtime.credentials().get("b1").expect("stored");
    assert_eq!(stored["password"], "p1");
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// Waits (bounded) until node `id` shows status `text`.
async fn status_becomes(server: &Server, id: &str, text: &str) {
    let events = server.runtime.events();
    let mut rx = events.subscribe();
    let topic = format!("status/{id}");
    let shown = |data: &Json| data["text"] == text;
    if events.retained(&topic).iter().any(|m| shown(&m.data)) {
        return;
    }
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let event = rx.recv().await.expect("bus open");
            if event.topic == topic && shown(&event.data) {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{id} never showed '{text}'"));
}

/// Whether mosquitto_pub gets through with this password.
async fn publish_with(port: u16, password: &str) -> bool {
    let mut command = Command::new("mosquitto_pub");
    command
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "t",
            "-m",
            "m",
        ])
        .args(["-u", "user", "-P", password])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio::task::spawn_blocking(move || command.status()),
    )
    .await
    .expect("mosquitto_pub ends in time")
    .expect("joins")
    .expect("mosquitto_pub runs (apt-get install mosquitto-clients)")
    .success()
}

/// Credentials deployed from the editor reach the node, and after a restart on the same
/// user dir the node gets them again from flows_cred.json (an aedes broker requiring
/// them).
#[tokio::test]
async fn a_restart_loads_the_credentials_and_the_node_receives_them() {
    let port = free_port();
    let broker = json!([{
        "id": "broker", "type": "aedes broker", "mqtt_port": port.to_string(),
        "mqtt_ws_bind": "port", "mqtt_ws_port": "", "wires": [[], []],
        "credentials": {"username": "user", "password": "secret"}
    }]);
    let mut server = Server::start().await;
    deploy(&server, broker).await;
    status_becomes(&server, "broker", "connected 0").await;
    assert!(publish_with(port, "secret").await);
    assert!(!publish_with(port, "wrong").await);

    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("tempdir"));
    server.runtime.stop().await;
    drop(server);
    let stored = read_json(&dir.path().join("flows.json"));
    assert!(!stored.to_string().contains("secret"), "{stored}");
    let restarted = Server::in_dir(dir, json!({}), stored).await;
    status_becomes(&restarted, "broker", "connected 0").await;
    assert!(publish_with(port, "secret").await);
    assert!(!publish_with(port, "wrong").await);
}
