//! `mqtt-broker`, `mqtt in` and `mqtt out` against a real Mosquitto (Node-RED's
//! `test/nodes/core/network/21-mqtt_spec.js` runs its broker tests only with a local v5
//! broker; these run them always, on a broker started for the test).

use std::time::Duration;

use ferrite_runtime::Value;
use ferrite_runtime::testing::TestFlow;
use serde_json::{Value as Json, json};

use crate::harness::load;
use crate::support::mosquitto::Mosquitto;

const CONNECTED: &str = "node-red:common.status.connected";
const DISCONNECTED: &str = "node-red:common.status.disconnected";

fn broker_node(port: u16, extra: Json) -> Json {
    let mut node = json!({
        "id": "b1", "type": "mqtt-broker", "name": "test broker",
        "broker": "127.0.0.1", "port": port.to_string(), "clientid": "",
        "autoConnect": true, "usetls": false, "protocolVersion": "4",
        "keepalive": "60", "cleansession": true
    });
    if let (Some(node), Some(extra)) = (node.as_object_mut(), extra.as_object()) {
        node.extend(extra.clone());
    }
    node
}

/// Waits until node `id` shows the connected status.
async fn connected(flow: &mut TestFlow, id: &str) {
    let topic = format!("status/{id}");
    flow.event(move |e| e.topic == topic && e.data["text"] == CONNECTED)
        .await;
}

/// Waits until every node of `ids` has shown the connected status (in any order).
async fn all_connected(flow: &mut TestFlow, ids: &[&str]) {
    let mut waiting: std::collections::HashSet<String> =
        ids.iter().map(|id| format!("status/{id}")).collect();
    while !waiting.is_empty() {
        let event = flow
            .event(|e| e.data["text"] == CONNECTED && e.topic.starts_with("status/"))
            .await;
        waiting.remove(&event.topic);
    }
}

/// should publish and receive messages through the broker
#[tokio::test]
async fn publishes_and_receives_through_a_real_broker() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "in", "type": "mqtt in", "topic": "test/#", "qos": "1", "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "out", "type": "mqtt out", "topic": "", "qos": "", "retain": "", "broker": "b1"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "in").await;
    flow.receive("out", json!({"topic": "test/a", "payload": "hello"}))
        .await;
    let msg = flow.next("h").await;
    assert_eq!(msg.get("topic"), Some(&Value::from("test/a")));
    assert_eq!(msg.payload(), Some(&Value::from("hello")));
    assert_eq!(msg.get("qos"), Some(&Value::from(0)));
    assert_eq!(msg.get("retain"), Some(&Value::from(false)));
    assert_eq!(msg.get("_topic"), Some(&Value::from("test/a")));
    flow.unload().await;
}

/// a message published by another client reaches mqtt in with the subscription's QoS
#[tokio::test]
async fn messages_from_another_client_arrive_with_their_qos() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "in", "type": "mqtt in", "topic": "plc/+/temp", "qos": "2",
         "datatype": "auto-detect", "broker": "b1", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    connected(&mut flow, "in").await;
    // The subscription follows the connection: publish until it is in place.
    let mut msg = None;
    for _ in 0..50 {
        broker.publish(&["-t", "plc/7/temp", "-m", "{\"v\":21.5}", "-q", "1"]);
        msg = flow.next_within("h", Duration::from_millis(100)).await;
        if msg.is_some() {
            break;
        }
    }
    let msg = msg.expect("a message arrived");
    assert_eq!(msg.get("topic"), Some(&Value::from("plc/7/temp")));
    assert_eq!(
        msg.payload().map(Value::to_json_string).as_deref(),
        Some("{\"v\":21.5}")
    );
    assert_eq!(msg.get("qos"), Some(&Value::from(1)));
    flow.unload().await;
}

/// Reads the retained message on `topic` as `mosquitto_sub -F` prints it (format starting
/// with `%r`): a fresh subscriber per try, until one sees it flagged retained (a subscriber
/// that came first gets it live, unflagged).
async fn retained(broker: &Mosquitto, topic: &str, format: &str) -> String {
    for _ in 0..50 {
        let sub = broker.sub(&["-t", topic, "-q", "2", "-C", "1", "-W", "1", "-F", format]);
        let lines = sub.wait_for(1, Duration::from_millis(1200)).await;
        if let Some(line) = lines.first().filter(|l| l.starts_with("1 ")) {
            return line.clone();
        }
    }
    panic!("no retained message on {topic}");
}

/// should publish with the QoS and retain flag of the message, or of the node when set
#[tokio::test]
async fn publishes_qos_and_retain_from_the_message_or_the_node() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "out", "type": "mqtt out", "topic": "", "qos": "", "retain": "", "broker": "b1"},
        {"id": "fixed", "type": "mqtt out", "topic": "r/fixed", "qos": "2", "retain": "true",
         "broker": "b1"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    flow.receive(
        "out",
        json!({"topic": "r/msg", "payload": {"v": 1}, "qos": 1, "retain": true}),
    )
    .await;
    flow.receive(
        "fixed",
        json!({"topic": "ignored", "payload": 42, "qos": 0}),
    )
    .await;
    assert_eq!(
        retained(&broker, "r/msg", "%r %q %p").await,
        "1 1 {\"v\":1}"
    );
    assert_eq!(retained(&broker, "r/fixed", "%r %q %p").await, "1 2 42");
    flow.unload().await;
}

/// should send the birth message on connect and the close message when stopped
#[tokio::test]
async fn birth_on_connect_and_close_message_on_stop() {
    let broker = Mosquitto::start();
    let sub = broker.sub(&["-t", "gw/status", "-F", "%p"]);
    sub.ready(&broker, "gw/status").await;
    let mut flow = load(json!([
        broker_node(broker.port, json!({
            "birthTopic": "gw/status", "birthPayload": "online", "birthQos": "1",
            "closeTopic": "gw/status", "closePayload": "bye", "closeQos": "1"
        })),
        {"id": "out", "type": "mqtt out", "topic": "x", "broker": "b1"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    assert_eq!(sub.wait_for(1, Duration::from_secs(5)).await, ["online"]);
    flow.unload().await;
    assert_eq!(
        sub.wait_for(2, Duration::from_secs(5)).await,
        ["online", "bye"]
    );
}

/// should have the broker publish the will when the connection is lost
#[tokio::test]
async fn the_will_is_published_when_the_connection_is_lost() {
    let broker = Mosquitto::start();
    let sub = broker.sub(&["-t", "gw/will", "-q", "1", "-F", "%p %q"]);
    sub.ready(&broker, "gw/will").await;
    let mut flow = load(json!([
        broker_node(broker.port, json!({
            "clientid": "ferrite-will", "willTopic": "gw/will", "willPayload": "offline",
            "willQos": "1"
        })),
        {"id": "out", "type": "mqtt out", "topic": "x", "broker": "b1"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    // Another client with the same id takes the session over: the broker drops Ferrite's
    // connection without a DISCONNECT, which fires the will.
    broker.publish(&["-i", "ferrite-will", "-t", "x", "-m", "takeover"]);
    assert_eq!(sub.wait_for(1, Duration::from_secs(5)).await, ["offline 1"]);
    flow.unload().await;
}

/// should refuse a publish topic with wildcards, or none, as a catchable error
#[tokio::test]
async fn invalid_publish_topics_are_node_errors() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "out", "type": "mqtt out", "topic": "", "broker": "b1"},
        {"id": "c", "type": "catch", "scope": ["out"], "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    for topic in [json!("a/+/b"), json!("a/#"), json!(""), json!(5)] {
        flow.receive("out", json!({"topic": topic, "payload": "x"}))
            .await;
        let caught = flow.next("h").await;
        let error = caught.get("error").expect("msg.error").to_json();
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Invalid topic specified")),
            "{error}"
        );
    }
    flow.unload().await;
}

/// should subscribe and unsubscribe dynamically and list the subscriptions
#[tokio::test]
async fn dynamic_subscriptions_follow_the_actions() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "in", "type": "mqtt in", "topic": "", "inputs": 1, "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "in").await;
    flow.receive(
        "in",
        json!({"action": "subscribe", "topic": [{"topic": "dyn/a", "qos": 1}, "dyn/b"]}),
    )
    .await;
    flow.receive("in", json!({"action": "getSubscriptions"}))
        .await;
    let list = flow.next("h").await;
    assert_eq!(list.get("topic"), Some(&Value::from("subscriptions")));
    assert_eq!(
        list.payload().map(Value::to_json_string).as_deref(),
        Some(r#"[{"topic":"dyn/a","qos":1},{"topic":"dyn/b","qos":2}]"#)
    );
    broker.publish(&["-t", "dyn/b", "-m", "hello b"]);
    assert_eq!(
        flow.next("h").await.payload(),
        Some(&Value::from("hello b"))
    );
    flow.receive("in", json!({"action": "unsubscribe", "topic": true}))
        .await;
    flow.receive("in", json!({"action": "getSubscriptions"}))
        .await;
    assert_eq!(
        flow.next("h")
            .await
            .payload()
            .map(Value::to_json_string)
            .as_deref(),
        Some("[]")
    );
    broker.publish(&["-t", "dyn/a", "-m", "after"]);
    flow.expect_nothing("h", Duration::from_millis(300)).await;
    flow.receive("in", json!({"action": "jump"})).await;
    flow.unload().await;
}

/// should answer MQTT v5 requests: response topic and correlation data travel end to end
#[tokio::test]
async fn v5_request_response_between_two_flows() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({"protocolVersion": "5"})),
        // The responder: answers on the request's response topic.
        {"id": "req_in", "type": "mqtt in", "topic": "svc/echo", "qos": "1",
         "datatype": "utf8", "broker": "b1", "wires": [["answer"]]},
        {"id": "answer", "type": "rhai", "func":
            "msg.topic = msg.responseTopic; msg.payload = `pong:${msg.payload}`; msg",
         "wires": [["res_out"]]},
        {"id": "res_out", "type": "mqtt out", "topic": "", "broker": "b1"},
        // The requester.
        {"id": "req_out", "type": "mqtt out", "topic": "svc/echo", "qos": "1",
         "respTopic": "svc/echo/reply", "correl": "job-7", "broker": "b1"},
        {"id": "res_in", "type": "mqtt in", "topic": "svc/echo/reply", "qos": "1",
         "datatype": "utf8", "broker": "b1", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "res_in").await;
    flow.receive(
        "req_out",
        json!({"payload": "ping", "userProperties": {"unit": "7"}}),
    )
    .await;
    let reply = flow.next("h").await;
    assert_eq!(reply.payload(), Some(&Value::from("pong:ping")));
    assert_eq!(
        reply.get("correlationData"),
        Some(&Value::Bytes(bytes::Bytes::from_static(b"job-7")))
    );
    assert_eq!(reply.get("topic"), Some(&Value::from("svc/echo/reply")));
    flow.unload().await;
}

/// should log in with the broker node's credentials, and stay disconnected with wrong ones
#[tokio::test]
async fn password_authentication() {
    use crate::support::mosquitto::Options;
    let broker = Mosquitto::start_with(Options {
        user: Some(("plc".into(), "s3cret".into())),
        ..Options::default()
    });
    let mut flow = load(json!([
        broker_node(broker.port, json!({"credentials": {"user": "plc", "password": "s3cret"}})),
        {"id": "out", "type": "mqtt out", "topic": "x", "broker": "b1"},
        {"id": "b2", "type": "mqtt-broker", "broker": "127.0.0.1", "port": broker.port,
         "credentials": {"user": "plc", "password": "wrong"}},
        {"id": "out2", "type": "mqtt out", "topic": "x", "broker": "b2"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    let (logs, _guard) = crate::harness::capture_logs();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !logs.text().contains("Connection refused: not authorized") {
        assert!(tokio::time::Instant::now() < deadline, "no refusal logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    flow.unload().await;
}

/// A broker with persistence and a persistent subscriber (`mosquitto_sub -c`) on `topic`,
/// already known to the broker, so it gets what is published while it reconnects.
async fn broker_with_persistent_sub(
    topic: &str,
    client_id: &str,
) -> (Mosquitto, crate::support::mosquitto::Sub) {
    use crate::support::mosquitto::Options;
    let broker = Mosquitto::start_with(Options {
        persistence: true,
        ..Options::default()
    });
    let sub = broker.sub(&["-t", topic, "-q", "1", "-c", "-i", client_id, "-F", "%p"]);
    sub.ready(&broker, topic).await;
    (broker, sub)
}

/// Waits for node `id`'s status text to be `text`.
async fn status_text(flow: &mut TestFlow, id: &str, text: &str) {
    let topic = format!("status/{id}");
    let text = text.to_owned();
    flow.event(move |e| e.topic == topic && e.data["text"] == text.as_str())
        .await;
}

/// Feeds `count` numbered messages to mqtt out `out`.
async fn feed(flow: &TestFlow, out: &str, range: std::ops::RangeInclusive<u32>) {
    for i in range {
        flow.receive(out, json!({"payload": i.to_string()})).await;
    }
}

fn numbers(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

/// messages published while the broker is down wait in the outbox and are replayed oldest
/// first when it is back; the status shows how many wait
#[tokio::test]
async fn the_outbox_replays_in_fifo_order_after_an_outage() {
    let (mut broker, sub) = broker_with_persistent_sub("sf/fifo", "sub-fifo").await;
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "out", "type": "mqtt out", "topic": "sf/fifo", "qos": "1", "broker": "b1"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    broker.stop();
    status_text(&mut flow, "out", DISCONNECTED).await;
    feed(&flow, "out", 1..=20).await;
    status_text(&mut flow, "out", "disconnected (20 queued)").await;
    broker.restart();
    assert_eq!(
        sub.wait_for(20, Duration::from_secs(20)).await,
        numbers(1..=20)
    );
    status_text(&mut flow, "out", CONNECTED).await;
    flow.unload().await;
}

/// with outboxOrder lifo the newest stored message goes first
#[tokio::test]
async fn the_outbox_replays_newest_first_in_lifo_order() {
    let (mut broker, sub) = broker_with_persistent_sub("sf/lifo", "sub-lifo").await;
    let mut flow = load(json!([
        broker_node(broker.port, json!({"outboxOrder": "lifo"})),
        {"id": "out", "type": "mqtt out", "topic": "sf/lifo", "qos": "1", "broker": "b1"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    broker.stop();
    status_text(&mut flow, "out", DISCONNECTED).await;
    feed(&flow, "out", 1..=10).await;
    status_text(&mut flow, "out", "disconnected (10 queued)").await;
    broker.restart();
    let mut expected = numbers(1..=10);
    expected.reverse();
    assert_eq!(sub.wait_for(10, Duration::from_secs(20)).await, expected);
    flow.unload().await;
}

/// the outbox keeps at most outboxMaxMessages, dropping the oldest
#[tokio::test]
async fn a_full_outbox_drops_the_oldest_messages() {
    let (mut broker, sub) = broker_with_persistent_sub("sf/cap", "sub-cap").await;
    let mut flow = load(json!([
        broker_node(broker.port, json!({"outboxMaxMessages": 5})),
        {"id": "out", "type": "mqtt out", "topic": "sf/cap", "qos": "1", "broker": "b1"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    broker.stop();
    status_text(&mut flow, "out", DISCONNECTED).await;
    let (logs, _guard) = crate::harness::capture_logs();
    feed(&flow, "out", 1..=12).await;
    status_text(&mut flow, "out", "disconnected (5 queued)").await;
    assert!(
        logs.text().contains("Outbox full: dropped"),
        "{}",
        logs.text()
    );
    broker.restart();
    assert_eq!(
        sub.wait_for(5, Duration::from_secs(20)).await,
        numbers(8..=12)
    );
    flow.unload().await;
}

/// outboxRate limits how fast stored messages are replayed
#[tokio::test]
async fn replay_keeps_to_the_configured_rate() {
    let (mut broker, sub) = broker_with_persistent_sub("sf/rate", "sub-rate").await;
    let mut flow = load(json!([
        broker_node(broker.port, json!({"outboxRate": 20})),
        {"id": "out", "type": "mqtt out", "topic": "sf/rate", "qos": "1", "broker": "b1"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    broker.stop();
    status_text(&mut flow, "out", DISCONNECTED).await;
    feed(&flow, "out", 1..=20).await;
    status_text(&mut flow, "out", "disconnected (20 queued)").await;
    broker.restart();
    assert_eq!(sub.wait_for(1, Duration::from_secs(20)).await.len(), 1);
    let first = std::time::Instant::now();
    assert_eq!(
        sub.wait_for(20, Duration::from_secs(20)).await,
        numbers(1..=20)
    );
    let took = first.elapsed();
    // 19 more at 20 per second: close to a second, never a burst.
    assert!(
        took >= Duration::from_millis(800),
        "replayed 19 messages in {took:?}"
    );
    flow.unload().await;
}

/// the outbox survives a restart of Ferrite: what an earlier run stored is replayed
#[tokio::test]
async fn stored_messages_survive_a_restart_of_the_runtime() {
    let (mut broker, sub) = broker_with_persistent_sub("sf/restart", "sub-restart").await;
    let dir = tempfile::tempdir().expect("user dir");
    let settings = || ferrite_runtime::Settings {
        user_dir: Some(dir.path().to_owned()),
        ..ferrite_runtime::Settings::default()
    };
    let nodes = json!([
        broker_node(broker.port, json!({})),
        {"id": "out", "type": "mqtt out", "topic": "sf/restart", "qos": "1", "broker": "b1"}
    ]);
    let tables: &[&'static [ferrite_runtime::NodeDef]] = &[ferrite_nodes::ALL];
    let mut flow = TestFlow::load_with(tables, nodes.clone(), settings()).await;
    connected(&mut flow, "out").await;
    broker.stop();
    status_text(&mut flow, "out", DISCONNECTED).await;
    feed(&flow, "out", 1..=10).await;
    status_text(&mut flow, "out", "disconnected (10 queued)").await;
    flow.unload().await;
    broker.restart();
    let flow = TestFlow::load_with(tables, nodes, settings()).await;
    assert_eq!(
        sub.wait_for(10, Duration::from_secs(20)).await,
        numbers(1..=10)
    );
    flow.unload().await;
}

/// 10,000 QoS 1 messages, the broker stopped and restarted in the middle: every message
/// arrives (a QoS 1 duplicate is allowed, a gap is not)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_qos1_message_is_lost_when_the_broker_restarts_mid_stream() {
    let (mut broker, sub) = broker_with_persistent_sub("loss/broker", "sub-loss").await;
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "out", "type": "mqtt out", "topic": "loss/broker", "qos": "1", "broker": "b1"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    feed(&flow, "out", 1..=3000).await;
    broker.stop();
    feed(&flow, "out", 3001..=6000).await;
    broker.restart();
    feed(&flow, "out", 6001..=10_000).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 10_000 && tokio::time::Instant::now() < deadline {
        seen = sub.lines().into_iter().collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<u32> = (1..=10_000)
        .filter(|i| !seen.contains(&i.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    flow.unload().await;
}

/// The `ferrite` binary running `flows` in `dir`, killed when dropped.
struct Ferrite(std::process::Child);

impl Ferrite {
    /// Starts it; its log goes to `ferrite.log` in `dir` (appended to by each run).
    fn start(dir: &std::path::Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("ferrite.log"))
            .expect("log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .arg("--userdir")
            .arg(dir)
            .arg(dir.join("flows.json"))
            .env("RUST_LOG", "info")
            .stdout(log)
            .spawn()
            .expect("ferrite starts");
        Self(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Ferrite {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Publishes `probe` on `topic` until `sub` sees it come through, then forgets the probes.
async fn flowing(broker: &Mosquitto, sub: &crate::support::mosquitto::Sub, topic: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        broker.publish(&["-t", topic, "-m", "probe", "-q", "1"]);
        if sub
            .wait_for(1, Duration::from_millis(200))
            .await
            .iter()
            .any(|l| l == "probe")
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing flowed through Ferrite"
        );
    }
}

/// SIGKILL of Ferrite while it relays 10,000 QoS 1 messages: once it runs again, every
/// message arrives (an incoming message is acknowledged only after the outgoing one is)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_qos1_message_is_lost_when_ferrite_is_killed_mid_stream() {
    let (broker, sub) = broker_with_persistent_sub("kill/out", "sub-kill").await;
    let dir = tempfile::tempdir().expect("user dir");
    let flows = json!([
        {"id": "t1", "type": "tab", "label": "relay"},
        broker_node(broker.port, json!({"clientid": "ferrite-relay", "cleansession": false})),
        {"id": "in", "type": "mqtt in", "z": "t1", "topic": "kill/in", "qos": "1",
         "datatype": "utf8", "broker": "b1", "wires": [["out"]]},
        {"id": "out", "type": "mqtt out", "z": "t1", "topic": "kill/out", "qos": "1",
         "broker": "b1", "wires": []}
    ]);
    std::fs::write(dir.path().join("flows.json"), flows.to_string()).expect("flows");
    let mut ferrite = Ferrite::start(dir.path());
    flowing(&broker, &sub, "kill/in").await;
    let publisher = broker.publish_lines(
        &["-t", "kill/in", "-q", "1"],
        (1..=10_000u32).map(|i| i.to_string()).collect(),
    );
    // Kill it mid-stream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while sub.lines().len() < 3000 {
        assert!(tokio::time::Instant::now() < deadline, "the relay stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ferrite.kill();
    let published = tokio::task::spawn_blocking(move || publisher.join())
        .await
        .expect("join")
        .expect("publisher");
    assert!(published, "mosquitto_pub failed");
    let before = sub.lines().len();
    assert!(before < 10_001, "Ferrite was killed after the stream ended");
    let _ferrite = Ferrite::start(dir.path());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 10_001 && tokio::time::Instant::now() < deadline {
        seen = sub.lines().into_iter().collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<u32> = (1..=10_000)
        .filter(|i| !seen.contains(&i.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} lost (killed after {before} arrived), first {:?}; Ferrite's log:\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        std::fs::read_to_string(dir.path().join("ferrite.log")).unwrap_or_default()
    );
}

/// should connect over TLS with a self-signed CA and a client certificate (mutual TLS)
#[tokio::test]
async fn mutual_tls_with_a_self_signed_ca_and_a_client_certificate() {
    use crate::support::mosquitto::Options;
    let pki = crate::support::certs::TestPki::generate();
    let broker = Mosquitto::start_with(Options {
        tls: Some(pki.mosquitto_tls(true)),
        ..Options::default()
    });
    let mut flow = load(json!([
        broker_node(broker.port, json!({"broker": "localhost", "usetls": true, "tls": "tls1"})),
        {"id": "tls1", "type": "tls-config", "ca": pki.ca.path, "cert": pki.client.cert.path,
         "key": pki.client.key.path, "verifyservercert": true},
        {"id": "in", "type": "mqtt in", "topic": "secure/#", "qos": "2", "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "out", "type": "mqtt out", "topic": "secure/a", "qos": "2", "broker": "b1"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "in").await;
    flow.receive("out", json!({"payload": "over tls"})).await;
    let msg = flow.next("h").await;
    assert_eq!(msg.payload(), Some(&Value::from("over tls")));
    assert_eq!(msg.get("qos"), Some(&Value::from(2)));
    flow.unload().await;
}

/// a broker certificate from an unknown CA is refused, and the log says what to set
#[tokio::test]
async fn an_untrusted_broker_certificate_is_refused_with_a_hint() {
    use crate::support::mosquitto::Options;
    let pki = crate::support::certs::TestPki::generate();
    let broker = Mosquitto::start_with(Options {
        tls: Some(pki.mosquitto_tls(false)),
        ..Options::default()
    });
    let (logs, _guard) = crate::harness::capture_logs();
    let flow = load(json!([
        broker_node(broker.port, json!({"broker": "localhost", "usetls": true, "tls": "tls1"})),
        {"id": "tls1", "type": "tls-config", "ca": pki.other_ca.path, "verifyservercert": true},
        {"id": "out", "type": "mqtt out", "topic": "x", "broker": "b1"}
    ]))
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !logs.text().contains("not signed by a trusted CA") {
        assert!(tokio::time::Instant::now() < deadline, "{}", logs.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    flow.unload().await;
}

/// a shared subscription ($share/group/filter) spreads the messages over the group
#[tokio::test]
async fn a_shared_subscription_spreads_messages_over_its_members() {
    let broker = Mosquitto::start();
    let member = |id: &str, broker_id: &str, helper: &str| {
        json!({"id": id, "type": "mqtt in", "topic": "$share/workers/jobs/#", "qos": "1",
               "datatype": "utf8", "broker": broker_id, "wires": [[helper]]})
    };
    let mut second = broker_node(broker.port, json!({}));
    second["id"] = json!("b2");
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        second,
        member("in1", "b1", "h1"),
        member("in2", "b2", "h2"),
        {"id": "h1", "type": "helper"},
        {"id": "h2", "type": "helper"}
    ]))
    .await;
    all_connected(&mut flow, &["in1", "in2"]).await;
    // Both members must be subscribed before counting: probe until each got one.
    let (mut got1, mut got2) = (Vec::new(), Vec::new());
    let mut sent = 0;
    while sent < 200 && (got1.is_empty() || got2.is_empty() || got1.len() + got2.len() < sent) {
        sent += 1;
        broker.publish(&["-t", "jobs/x", "-m", &sent.to_string(), "-q", "1"]);
        for (helper, got) in [("h1", &mut got1), ("h2", &mut got2)] {
            while let Some(msg) = flow.next_within(helper, Duration::from_millis(20)).await {
                got.push(msg.payload().map(Value::to_js_string).unwrap_or_default());
            }
        }
    }
    assert!(
        !got1.is_empty() && !got2.is_empty(),
        "h1 {got1:?} h2 {got2:?}"
    );
    let mut all: Vec<String> = got1.iter().chain(&got2).cloned().collect();
    all.sort_by_key(|s| s.parse::<u32>().unwrap_or(0));
    all.dedup();
    assert_eq!(
        all.len(),
        got1.len() + got2.len(),
        "a message went to both members"
    );
    flow.unload().await;
}

/// should report an error with what arrived when a json payload does not parse
#[tokio::test]
async fn a_payload_that_is_not_json_is_a_catchable_error() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "in", "type": "mqtt in", "topic": "j/t", "qos": "0", "datatype": "json",
         "broker": "b1", "wires": [["h"]]},
        {"id": "c", "type": "catch", "scope": ["in"], "wires": [["caught"]]},
        {"id": "h", "type": "helper"},
        {"id": "caught", "type": "helper"}
    ]))
    .await;
    connected(&mut flow, "in").await;
    let mut caught = None;
    for _ in 0..50 {
        broker.publish(&["-t", "j/t", "-m", "{not json"]);
        caught = flow.next_within("caught", Duration::from_millis(100)).await;
        if caught.is_some() {
            break;
        }
    }
    let caught = caught.expect("an error was caught");
    let error = caught.get("error").expect("msg.error").to_json();
    assert_eq!(error["message"], "Failed to parse JSON string");
    assert_eq!(caught.get("topic"), Some(&Value::from("j/t")));
    broker.publish(&["-t", "j/t", "-m", "{\"ok\":true}"]);
    let good = flow.next("h").await;
    assert_eq!(
        good.payload().map(Value::to_json_string).as_deref(),
        Some("{\"ok\":true}")
    );
    flow.unload().await;
}

/// MQTT 3.1 (protocolVersion 3, MQIsdp) connects and carries messages
#[tokio::test]
async fn mqtt_3_1_connects_and_carries_messages() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({"protocolVersion": "3", "clientid": "old-plc"})),
        {"id": "in", "type": "mqtt in", "topic": "v31/t", "qos": "1", "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "out", "type": "mqtt out", "topic": "v31/t", "qos": "1", "broker": "b1"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    connected(&mut flow, "in").await;
    flow.receive("out", json!({"payload": "legacy"})).await;
    assert_eq!(flow.next("h").await.payload(), Some(&Value::from("legacy")));
    flow.unload().await;
}

/// a join holding more QoS 1 messages than the broker's in-flight window does not stall:
/// held messages are acknowledged when the join takes them
#[tokio::test]
async fn a_join_holding_more_than_the_inflight_window_does_not_stall() {
    use crate::support::mosquitto::Options;
    let broker = Mosquitto::start_with(Options {
        max_inflight: Some(20),
        ..Options::default()
    });
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "in", "type": "mqtt in", "topic": "many/t", "qos": "1", "datatype": "utf8",
         "broker": "b1", "wires": [["j"]]},
        {"id": "j", "type": "join", "mode": "custom", "build": "array", "count": "50",
         "property": "payload", "propertyType": "msg", "joiner": "\\n", "joinerType": "str",
         "accumulate": false, "timeout": "", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    connected(&mut flow, "in").await;
    // Published with the subscription in place (it is made on connect, before anything).
    let publisher = broker.publish_lines(
        &["-t", "many/t", "-q", "1"],
        (1..=50u32).map(|i| i.to_string()).collect(),
    );
    let joined = flow
        .next_within("h", Duration::from_secs(10))
        .await
        .expect("the join completed");
    assert_eq!(
        joined.payload().and_then(Value::as_array).map(Vec::len),
        Some(50)
    );
    assert!(
        tokio::task::spawn_blocking(move || publisher.join())
            .await
            .expect("join")
            .expect("thread")
    );
    flow.unload().await;
}

/// subscriptions are made again after the broker comes back
#[tokio::test]
async fn subscriptions_are_renewed_after_a_reconnect() {
    let mut broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "in", "type": "mqtt in", "topic": "again/t", "qos": "1", "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    connected(&mut flow, "in").await;
    broker.restart();
    status_text(&mut flow, "in", DISCONNECTED).await;
    connected(&mut flow, "in").await;
    let mut got = None;
    for _ in 0..50 {
        broker.publish(&["-t", "again/t", "-m", "back", "-q", "1"]);
        got = flow.next_within("h", Duration::from_millis(100)).await;
        if got.is_some() {
            break;
        }
    }
    assert_eq!(
        got.expect("a message after the reconnect").payload(),
        Some(&Value::from("back"))
    );
    flow.unload().await;
}

/// without autoConnect nothing connects until a connect action; disconnect and connect
/// actions keep a v5 persistent session (sessionExpiry), so nothing published meanwhile
/// is missed
#[tokio::test]
async fn connect_and_disconnect_actions_with_a_persistent_v5_session() {
    let broker = Mosquitto::start();
    let mut flow = load(json!([
        broker_node(broker.port, json!({
            "protocolVersion": "5", "autoConnect": false, "clientid": "ferrite-session",
            "cleansession": false, "sessionExpiry": "300"
        })),
        {"id": "in", "type": "mqtt in", "topic": "sess/t", "qos": "1", "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "ctl", "type": "mqtt out", "broker": "b1"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.expect_nothing("h", Duration::from_millis(200)).await;
    flow.receive("ctl", json!({"action": "connect"})).await;
    connected(&mut flow, "in").await;
    // Wait until the subscription is in place.
    let mut first = None;
    for _ in 0..50 {
        broker.publish(&["-t", "sess/t", "-m", "first", "-q", "1"]);
        first = flow.next_within("h", Duration::from_millis(100)).await;
        if first.is_some() {
            break;
        }
    }
    assert!(first.is_some(), "connected by the action");
    flow.receive("ctl", json!({"action": "disconnect"})).await;
    status_text(&mut flow, "in", DISCONNECTED).await;
    broker.publish(&["-t", "sess/t", "-m", "while away", "-q", "1"]);
    flow.receive("ctl", json!({"action": "connect"})).await;
    // Late copies of the probe may come first.
    let mut payloads = Vec::new();
    while let Some(msg) = flow.next_within("h", Duration::from_secs(5)).await {
        let payload = msg.payload().map(Value::to_js_string).unwrap_or_default();
        payloads.push(payload.clone());
        if payload == "while away" {
            break;
        }
    }
    assert_eq!(
        payloads.last().map(String::as_str),
        Some("while away"),
        "{payloads:?}"
    );
    flow.unload().await;
}

/// should connect over WebSocket (ws:// broker URL) and exchange messages with TCP clients
#[tokio::test]
async fn mqtt_over_websocket() {
    use crate::support::mosquitto::Options;
    let broker = Mosquitto::start_with(Options {
        websocket: true,
        ..Options::default()
    });
    let url = format!("ws://127.0.0.1:{}/mqtt", broker.ws_port);
    let mut flow = load(json!([
        broker_node(broker.port, json!({"broker": url})),
        {"id": "in", "type": "mqtt in", "topic": "ws/#", "qos": "1", "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "out", "type": "mqtt out", "topic": "ws/from-ferrite", "qos": "1", "broker": "b1"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "in").await;
    flow.receive("out", json!({"payload": "over websocket"}))
        .await;
    let msg = flow.next("h").await;
    assert_eq!(msg.get("topic"), Some(&Value::from("ws/from-ferrite")));
    assert_eq!(msg.payload(), Some(&Value::from("over websocket")));
    broker.publish(&["-t", "ws/from-tcp", "-m", "hello", "-q", "1"]);
    assert_eq!(flow.next("h").await.payload(), Some(&Value::from("hello")));
    flow.unload().await;
}

/// an idle connection stays up: pings keep it alive past 1.5 × keepalive
#[tokio::test]
async fn pings_keep_an_idle_connection_alive() {
    let broker = Mosquitto::start();
    let (logs, _guard) = crate::harness::capture_logs();
    let mut flow = load(json!([
        broker_node(broker.port, json!({"keepalive": "1"})),
        {"id": "in", "type": "mqtt in", "topic": "idle/t", "qos": "0", "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    connected(&mut flow, "in").await;
    // Mosquitto drops a client silent for 1.5 × keepalive; three keepalives of silence.
    flow.expect_nothing("h", Duration::from_secs(3)).await;
    assert!(
        !logs.text().contains("Disconnected from broker"),
        "{}",
        logs.text()
    );
    broker.publish(&["-t", "idle/t", "-m", "still here"]);
    assert_eq!(
        flow.next("h").await.payload(),
        Some(&Value::from("still here"))
    );
    flow.unload().await;
}
