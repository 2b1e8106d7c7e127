//! Spec of `aedes broker` (node-red-contrib-aedes 0.6.0, test/aedes_*_spec.js) with
//! Mosquitto's own clients, `mosquitto_pub` and `mosquitto_sub`, as independent peers.
//!
//! Ported in spirit: "should be loaded", "should connect an mqtt client", "a subscriber
//! should receive a message from a publisher", the last will, QoS and retain specs. The
//! mocha specs drive Node-RED's `mqtt in` / `mqtt out`; these drive Mosquitto's clients, so
//! they do not depend on Ferrite's MQTT client. Not ported: the websocket specs (Mosquitto
//! 2.0's clients have no websocket transport; the broker's unit tests cover it) and
//! `mqtt_ws_path` (not supported: a deploy error).
//!
//! Synchronisation: a client is known to be subscribed when the node reports its
//! `subscribe` event on output 1; every wait has a deadline.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ferrite_runtime::DeployKind;
use ferrite_runtime::testing::TestFlow;
use serde_json::{Value as Json, json};

use crate::harness;

const WAIT: Duration = Duration::from_secs(5);

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// A broker node `broker` with `config` merged in, output 1 to helper `events` and output 2
/// to helper `published` when `publish_wired`.
fn broker_flow(port: u16, config: Json, publish_wired: bool) -> Json {
    let mut node = json!({
        "id": "broker", "type": "aedes broker", "name": "Aedes",
        "mqtt_port": port.to_string(), "mqtt_ws_bind": "port", "mqtt_ws_port": "",
        "wires": [["events"], if publish_wired { json!(["published"]) } else { json!([]) }]
    });
    if let (Some(node), Json::Object(extra)) = (node.as_object_mut(), config) {
        node.extend(extra);
    }
    json!([node, {"id": "events", "type": "helper"}, {"id": "published", "type": "helper"}])
}

/// Loads [`broker_flow`] and waits until the broker listens (the node starts it after the
/// deploy returns).
async fn load(port: u16, config: Json, publish_wired: bool) -> TestFlow {
    let flow = harness::load(broker_flow(port, config, publish_wired)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    status_becomes(&flow, "connected 0").await;
    flow
}

/// The next message helper `id` gets whose topic is `event` for client `client` (earlier
/// messages are skipped).
async fn event(flow: &mut TestFlow, id: &str, event: &str, client: &str) -> Json {
    events(flow, id, &[(event, client)]).await.remove(0)
}

/// Waits until helper `id` got each `(event, client)` of `wanted`, in any order.
async fn events(flow: &mut TestFlow, id: &str, wanted: &[(&str, &str)]) -> Vec<Json> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut found: Vec<Option<Json>> = vec![None; wanted.len()];
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = flow
            .next_within(id, left)
            .await
            .unwrap_or_else(|| panic!("not all of {wanted:?} within {WAIT:?}"))
            .as_value()
            .to_json();
        let slot = wanted
            .iter()
            .zip(&mut found)
            .find(|((event, client), slot)| {
                slot.is_none()
                    && msg["topic"] == *event
                    && msg["payload"]["client"]["id"] == *client
            });
        if let Some((_, slot)) = slot {
            *slot = Some(msg);
        }
    }
    found.into_iter().flatten().collect()
}

/// The node's status text once it equals `text`; fails after [`WAIT`].
async fn status_becomes(flow: &TestFlow, text: &str) -> Json {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = flow.runtime().events().retained("status/broker");
        if let Some(s) = status.first()
            && s.data["text"] == text
        {
            return s.data.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status {text:?} within {WAIT:?}, have {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Mosquitto client process, killed when dropped.
struct Proc(Option<Child>);

impl Proc {
    /// Waits for it to exit (every `mosquitto_sub` here has `-W`) and returns its stdout
    /// lines.
    async fn lines(mut self) -> Vec<String> {
        let child = self.0.take().expect("running");
        let output = tokio::time::timeout(
            WAIT * 2,
            tokio::task::spawn_blocking(move || child.wait_with_output()),
        )
        .await
        .expect("the client exits in time")
        .expect("joins")
        .expect("waits");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// SIGKILL: the connection ends without DISCONNECT.
    fn kill(mut self) {
        if let Some(mut child) = self.0.take() {
            child.kill().expect("kills");
            child.wait().expect("reaps");
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn mosquitto(program: &str, port: u16, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts `mosquitto_sub` with `args` (which should include `-W` and usually `-C`).
fn sub(port: u16, args: &[&str]) -> Proc {
    Proc(Some(mosquitto("mosquitto_sub", port, args).spawn().expect(
        "mosquitto_sub runs (apt-get install mosquitto-clients)",
    )))
}

/// Runs `mosquitto_pub` with `args` to the end.
async fn publish(port: u16, args: &[&str]) -> Output {
    let mut command = mosquitto("mosquitto_pub", port, args);
    tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || command.output()))
        .await
        .expect("mosquitto_pub ends in time")
        .expect("joins")
        .expect("mosquitto_pub runs (apt-get install mosquitto-clients)")
}

async fn publish_ok(port: u16, args: &[&str]) {
    let output = publish(port, args).await;
    assert!(
        output.status.success(),
        "mosquitto_pub {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// should be loaded: named, listening, status "connected 0".
#[tokio::test]
async fn should_be_loaded() {
    let port = free_port();
    let flow = load(port, json!({}), false).await;
    let status = status_becomes(&flow, "connected 0").await;
    assert_eq!(
        (status["fill"].as_str(), status["shape"].as_str()),
        (Some("green"), Some("dot"))
    );
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("the broker listens");
    flow.unload().await;
}

/// should connect an mqtt client: client and clientReady events, status counts clients.
#[tokio::test]
async fn should_connect_an_mqtt_client_and_count_it_in_the_status() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let watcher = sub(port, &["-i", "watcher", "-t", "none", "-W", "10"]);
    let client = event(&mut flow, "events", "client", "watcher").await;
    assert_eq!(client["payload"]["client"]["version"], 4);
    assert_eq!(client["payload"]["client"]["clean"], true);
    event(&mut flow, "events", "clientReady", "watcher").await;
    status_becomes(&flow, "connected 1").await;
    let subscribed = event(&mut flow, "events", "subscribe", "watcher").await;
    assert_eq!(subscribed["payload"]["topic"], "none");
    assert_eq!(subscribed["payload"]["qos"], 0);
    watcher.kill();
    event(&mut flow, "events", "clientDisconnect", "watcher").await;
    status_becomes(&flow, "connected 0").await;
    flow.unload().await;
}

/// a subscriber should receive a message from a publisher, at QoS 0, 1 and 2.
#[tokio::test]
async fn a_subscriber_receives_qos_0_1_and_2_from_a_publisher() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let receiver = sub(
        port,
        &[
            "-i", "receiver", "-t", "qos/#", "-q", "2", "-C", "3", "-W", "5", "-F", "%t %q %p",
        ],
    );
    event(&mut flow, "events", "subscribe", "receiver").await;
    for qos in ["0", "1", "2"] {
        publish_ok(
            port,
            &["-t", &format!("qos/{qos}"), "-q", qos, "-m", "hello"],
        )
        .await;
    }
    assert_eq!(
        receiver.lines().await,
        ["qos/0 0 hello", "qos/1 1 hello", "qos/2 2 hello"]
    );
    flow.unload().await;
}

/// should deliver retained messages to later subscribers, flagged as retained; an empty
/// retained message deletes it.
#[tokio::test]
async fn retained_messages_reach_later_subscribers_and_an_empty_one_deletes() {
    let port = free_port();
    let flow = load(port, json!({}), false).await;
    publish_ok(port, &["-t", "ret/a", "-r", "-q", "1", "-m", "old"]).await;
    publish_ok(port, &["-t", "ret/a", "-r", "-q", "1", "-m", "kept"]).await;
    publish_ok(port, &["-t", "ret/b", "-r", "-m", "gone"]).await;
    publish_ok(port, &["-t", "ret/b", "-r", "-n"]).await;
    let late = sub(
        port,
        &["-t", "ret/#", "-C", "1", "-W", "5", "-F", "%t %r %p"],
    );
    assert_eq!(late.lines().await, ["ret/a 1 kept"]);
    // Only ret/a is left: a two-message subscriber times out with one.
    let more = sub(port, &["-t", "ret/#", "-C", "2", "-W", "1", "-F", "%t"]);
    assert_eq!(more.lines().await, ["ret/a"]);
    flow.unload().await;
}

/// should publish the last will of a client that disappears, and show the will in its
/// clientReady event.
#[tokio::test]
async fn the_will_of_a_killed_client_is_published() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let watcher = sub(
        port,
        &["-i", "watcher", "-t", "will/#", "-C", "1", "-W", "5", "-v"],
    );
    event(&mut flow, "events", "subscribe", "watcher").await;
    let doomed = sub(
        port,
        &[
            "-i",
            "doomed",
            "-t",
            "x",
            "-W",
            "10",
            "--will-topic",
            "will/doomed",
            "--will-payload",
            "last will",
            "--will-qos",
            "1",
        ],
    );
    let ready = event(&mut flow, "events", "clientReady", "doomed").await;
    let will = &ready["payload"]["client"]["will"];
    assert_eq!(will["topic"], "will/doomed");
    assert_eq!(
        will["payload"],
        json!({"type": "Buffer", "data": b"last will".to_vec()})
    );
    event(&mut flow, "events", "subscribe", "doomed").await;
    doomed.kill();
    assert_eq!(watcher.lines().await, ["will/doomed last will"]);
    flow.unload().await;
}

/// should not publish the will of a client that disconnects properly.
#[tokio::test]
async fn no_will_after_a_clean_disconnect() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let watcher = sub(
        port,
        &["-i", "watcher", "-t", "will/#", "-C", "1", "-W", "2"],
    );
    event(&mut flow, "events", "subscribe", "watcher").await;
    publish_ok(
        port,
        &[
            "-i",
            "polite",
            "-t",
            "x",
            "-m",
            "m",
            "--will-topic",
            "will/polite",
            "--will-payload",
            "w",
        ],
    )
    .await;
    event(&mut flow, "events", "clientDisconnect", "polite").await;
    assert!(watcher.lines().await.is_empty());
    flow.unload().await;
}

/// + and # match one and many levels; $ topics need an explicit first level.
#[tokio::test]
async fn wildcard_subscriptions_match_as_mqtt_says() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let plus = sub(
        port,
        &[
            "-i", "plus", "-t", "a/+/c", "-C", "2", "-W", "5", "-F", "%t",
        ],
    );
    event(&mut flow, "events", "subscribe", "plus").await;
    let hash = sub(
        port,
        &["-i", "hash", "-t", "#", "-C", "4", "-W", "5", "-F", "%t"],
    );
    event(&mut flow, "events", "subscribe", "hash").await;
    for topic in ["a/b/c", "a/b/d", "$SYS/x", "a/x/c", "a", "a/b/c/d"] {
        publish_ok(port, &["-t", topic, "-m", "m"]).await;
    }
    assert_eq!(plus.lines().await, ["a/b/c", "a/x/c"]);
    assert_eq!(hash.lines().await, ["a/b/c", "a/b/d", "a/x/c", "a"]);
    flow.unload().await;
}

/// A shared subscription hands each message to one member of the group, in turn.
#[tokio::test]
async fn shared_subscription_members_take_turns() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let members: Vec<Proc> = ["m1", "m2"]
        .iter()
        .map(|id| {
            sub(
                port,
                &["-i", id, "-t", "$share/workers/job", "-C", "2", "-W", "5"],
            )
        })
        .collect();
    events(
        &mut flow,
        "events",
        &[("subscribe", "m1"), ("subscribe", "m2")],
    )
    .await;
    for n in 1..=4 {
        publish_ok(port, &["-t", "job", "-m", &n.to_string()]).await;
    }
    let mut all = Vec::new();
    for member in members {
        let got = member.lines().await;
        assert_eq!(got.len(), 2, "each member gets two: {got:?}");
        all.extend(got);
    }
    all.sort();
    assert_eq!(all, ["1", "2", "3", "4"]);
    flow.unload().await;
}

/// With username and password set, a client must give them: refused otherwise, with a
/// connectionError event.
#[tokio::test]
async fn credentials_are_required_when_set() {
    let port = free_port();
    let credentials = json!({"credentials": {"username": "user", "password": "secret"}});
    let mut flow = load(port, credentials, false).await;
    let refused = publish(
        port,
        &[
            "-i", "intruder", "-t", "t", "-m", "m", "-u", "user", "-P", "no",
        ],
    )
    .await;
    assert!(!refused.status.success());
    let error = event(&mut flow, "events", "connectionError", "intruder").await;
    assert_eq!(
        error["payload"]["err"]["message"],
        "bad user name or password"
    );
    let anonymous = publish(port, &["-i", "anonymous", "-t", "t", "-m", "m"]).await;
    assert!(!anonymous.status.success());
    let error = event(&mut flow, "events", "connectionError", "anonymous").await;
    assert_eq!(error["payload"]["err"]["message"], "not authorized");
    publish_ok(
        port,
        &[
            "-i", "friend", "-t", "t", "-m", "m", "-u", "user", "-P", "secret",
        ],
    )
    .await;
    let ready = event(&mut flow, "events", "clientReady", "friend").await;
    assert_eq!(ready["payload"]["client"]["user"], "user");
    flow.unload().await;
}

/// A persistent session (clean session off) keeps its subscription and the QoS 1
/// messages published while its client is away.
#[tokio::test]
async fn a_persistent_session_receives_what_was_published_while_offline() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let args = [
        "-i",
        "keeper",
        "-c",
        "-q",
        "1",
        "-t",
        "persist/t",
        "-W",
        "5",
    ];
    let first = sub(port, &[&args[..], &["-C", "1"]].concat());
    event(&mut flow, "events", "subscribe", "keeper").await;
    publish_ok(port, &["-t", "persist/t", "-q", "1", "-m", "online"]).await;
    assert_eq!(first.lines().await, ["online"]);
    event(&mut flow, "events", "clientDisconnect", "keeper").await;
    for payload in ["away 1", "away 2"] {
        publish_ok(port, &["-t", "persist/t", "-q", "1", "-m", payload]).await;
    }
    let back = sub(port, &[&args[..], &["-C", "2"]].concat());
    assert_eq!(back.lines().await, ["away 1", "away 2"]);
    flow.unload().await;
}

/// MQTT 5 publish properties reach an MQTT 5 subscriber unchanged.
#[tokio::test]
async fn v5_properties_pass_through() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let receiver = sub(
        port,
        &[
            "-V",
            "mqttv5",
            "-i",
            "v5sub",
            "-t",
            "v5/#",
            "-C",
            "1",
            "-W",
            "5",
            "-F",
            "%t|%p|%R|%D|%C|%P|%E|%F",
        ],
    );
    event(&mut flow, "events", "subscribe", "v5sub").await;
    publish_ok(
        port,
        &[
            "-V",
            "mqttv5",
            "-t",
            "v5/req",
            "-m",
            "hi",
            "-D",
            "publish",
            "response-topic",
            "v5/reply",
            "-D",
            "publish",
            "correlation-data",
            "abc",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "publish",
            "message-expiry-interval",
            "60",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
        ],
    )
    .await;
    assert_eq!(
        receiver.lines().await,
        ["v5/req|hi|v5/reply|abc|text/plain|k:v|60|1"]
    );
    flow.unload().await;
}

/// Output 2, when wired, gets every publish with its packet and client.
#[tokio::test]
async fn publish_events_go_to_output_2_when_it_is_wired() {
    let port = free_port();
    let mut flow = load(port, json!({}), true).await;
    publish_ok(
        port,
        &["-i", "pub", "-t", "out/t", "-q", "1", "-r", "-m", "x"],
    )
    .await;
    let msg = event(&mut flow, "published", "publish", "pub").await;
    let packet = &msg["payload"]["packet"];
    assert_eq!(packet["cmd"], "publish");
    assert_eq!(packet["topic"], "out/t");
    assert_eq!(packet["payload"], json!({"type": "Buffer", "data": [120]}));
    assert_eq!(
        (packet["qos"].as_i64(), packet["retain"].as_bool()),
        (Some(1), Some(true))
    );
    flow.unload().await;
}

/// A port already in use: red ring "disconnected" and an error naming the port.
#[tokio::test]
async fn a_port_in_use_turns_the_status_red_and_logs_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = taken.local_addr().expect("bound").port();
    let mut flow = harness::load(broker_flow(port, json!({}), false)).await;
    let entry = flow.log_entry("broker").await;
    assert_eq!(entry["level"], 20);
    assert_eq!(
        entry["msg"],
        format!("Error: port {port} is already in use")
    );
    let status = status_becomes(&flow, "disconnected").await;
    assert_eq!(
        (status["fill"].as_str(), status["shape"].as_str()),
        (Some("red"), Some("ring"))
    );
    flow.unload().await;
}

/// Redeploying closes the broker (with a client connected) and the new one gets the
/// same port.
#[tokio::test]
async fn redeploy_on_the_same_port_works() {
    let port = free_port();
    let mut flow = load(port, json!({}), false).await;
    let lingering = sub(port, &["-i", "lingering", "-t", "t", "-W", "10"]);
    event(&mut flow, "events", "subscribe", "lingering").await;
    let report = flow
        .deploy(
            broker_flow(port, json!({"name": "Aedes 2"}), false),
            DeployKind::Full,
        )
        .await;
    assert!(report.is_clean(), "{report}");
    status_becomes(&flow, "connected 0").await;
    publish_ok(port, &["-i", "after", "-t", "t", "-m", "m"]).await;
    event(&mut flow, "events", "clientReady", "after").await;
    drop(lingering);
    flow.unload().await;
}

/// With usetls and a certificate, the port speaks TLS (mqtts).
#[tokio::test]
async fn tls_with_an_uploaded_certificate() {
    let port = free_port();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let cert_pem = key.cert.pem();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert_pem).expect("writes");
    let config = json!({
        "usetls": true, "certname": "cert.pem", "keyname": "key.pem",
        "credentials": {"certdata": cert_pem, "keydata": key.signing_key.serialize_pem()}
    });
    let mut flow = load(port, config, false).await;
    let ca = ca.to_string_lossy();
    // The certificate names localhost: the later -h wins over the helper's 127.0.0.1.
    publish_ok(
        port,
        &[
            "-i",
            "secure",
            "-t",
            "secure",
            "-m",
            "m",
            "--cafile",
            &ca,
            "-h",
            "localhost",
        ],
    )
    .await;
    event(&mut flow, "events", "clientReady", "secure").await;
    let plain = publish(port, &["-i", "plain", "-t", "t", "-m", "m"]).await;
    assert!(
        !plain.status.success(),
        "a plain MQTT client is not understood"
    );
    flow.unload().await;
}

/// Deploy errors name the key: a websocket path, TLS without a certificate, no listener.
#[tokio::test]
async fn unusable_configs_are_deploy_errors_naming_the_key() {
    for (config, key) in [
        (
            json!({"mqtt_ws_bind": "path", "mqtt_ws_path": "/mqtt"}),
            "mqtt_ws_bind",
        ),
        (json!({"usetls": true}), "certdata"),
        (json!({"mqtt_port": ""}), "mqtt_port"),
        (json!({"mqtt_port": "http"}), "mqtt_port"),
    ] {
        let flow = harness::load(broker_flow(free_port(), config.clone(), false)).await;
        let issue = flow
            .report()
            .issues
            .iter()
            .find(|i| i.node_id.as_deref() == Some("broker"))
            .unwrap_or_else(|| panic!("an issue for {config}"));
        assert!(
            issue.message.starts_with(&format!("{key}: ")),
            "{}",
            issue.message
        );
        flow.unload().await;
    }
}

/// dburl (MongoDB) is not supported: a warning at deploy, the broker runs in memory.
#[tokio::test]
async fn dburl_warns_that_sessions_stay_in_memory() {
    let port = free_port();
    let mut flow = load(
        port,
        json!({"dburl": "mongodb://localhost:27017/mqtt"}),
        false,
    )
    .await;
    let entry = flow.log_entry("broker").await;
    assert_eq!(entry["level"], 30);
    assert!(
        entry["msg"]
            .as_str()
            .is_some_and(|m| m.contains("kept in memory"))
    );
    flow.unload().await;
}
