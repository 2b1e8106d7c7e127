//! `mqtt-broker`, `mqtt in` and `mqtt out` against a real Mosquitto (Node-RED's
//! `test/nodes/core/network/21-mqtt_spec.js` runs its broker tests only with a local v5
//! broker; these run them always, on a broker started for the test).
//!
//! The port of that file (after Ferrite's own tests below) has every case but the notice
//! Node-RED prints when it skips the broker tests. Where the port differs:
//! * The two "default values" tests read the broker node's JavaScript fields; Ferrite has no
//!   such object, so a stand-in broker on a raw socket reads what those fields put on the
//!   wire (CONNECT: protocol level, clean session, keepalive, generated client id, session
//!   expiry, user properties; the `mqtt in` SUBSCRIBE and datatype; the `mqtt out` topic).
//!   `reconnectPeriod` (the `mqttReconnectTime` setting here), `autoUnsubscribe` and the in
//!   node's `inputs`/`isDynamic`/`wires` fields are not looked at.
//! * "should publish will message" (and its v5 variant) drop the connection by taking its
//!   client id over with `mosquitto_pub -i` (Node-RED calls `client.end(true)`); the v5
//!   will's `correl` is text, a flow's JSON config holding no Buffer.
//! * "should safely discard bad birth topic": a birth topic with a wildcard is a deploy
//!   error naming `birthTopic` and the broker's users do not start (Node-RED connects and
//!   drops the birth message with a warning; its test asserts nothing but not throwing).
//! * A message expiry interval of 2000 may arrive as 1999 (the broker counts it down by the
//!   second); `payloadFormatIndicator`, which mqtt.js does not send, is checked.

use std::time::Duration;

use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::{Msg, Value};
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
    // The messages are stored while the broker node points at a port nobody listens on,
    // and replayed by a second run pointing at the broker: the subscriber stays connected
    // throughout, so what it sees is the replay's own pace.
    let broker = Mosquitto::start();
    let sub = broker.sub(&["-t", "sf/rate", "-q", "1"]);
    sub.ready(&broker, "sf/rate").await;
    let dir = tempfile::tempdir().expect("user dir");
    let settings = || ferrite_runtime::Settings {
        user_dir: Some(dir.path().to_owned()),
        ..ferrite_runtime::Settings::default()
    };
    let nodes = |port: u16| {
        json!([
            broker_node(port, json!({"outboxRate": 20})),
            {"id": "out", "type": "mqtt out", "topic": "sf/rate", "qos": "1", "broker": "b1"}
        ])
    };
    let tables: &[&'static [ferrite_runtime::NodeDef]] = &[ferrite_nodes::ALL];
    let dead_port = crate::support::mosquitto::free_port();
    let mut flow = TestFlow::load_with(tables, nodes(dead_port), settings()).await;
    feed(&flow, "out", 1..=20).await;
    status_text(&mut flow, "out", "disconnected (20 queued)").await;
    flow.unload().await;
    let flow = TestFlow::load_with(tables, nodes(broker.port), settings()).await;
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

/// a QoS 1 message from a node other than mqtt in is done (Complete) once it is stored in
/// the outbox; mqtt out takes the next messages meanwhile, and every one is done and
/// delivered
#[tokio::test]
async fn a_stored_qos1_message_completes_and_later_ones_do_not_wait_for_its_commit() {
    let broker = Mosquitto::start();
    let sub = broker.sub(&["-t", "sf/done", "-q", "1"]);
    sub.ready(&broker, "sf/done").await;
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "out", "type": "mqtt out", "topic": "sf/done", "qos": "1", "broker": "b1"},
        {"id": "c", "type": "complete", "scope": ["out"], "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    connected(&mut flow, "out").await;
    feed(&flow, "out", 1..=500).await;
    let mut done = Vec::new();
    for _ in 1..=500 {
        match flow.next("h").await.payload() {
            Some(Value::String(n)) => done.push(n.parse::<u32>().expect("a number")),
            other => panic!("unexpected payload {other:?}"),
        }
    }
    // Commits land in order; the Complete messages may interleave.
    done.sort_unstable();
    assert_eq!(done, (1..=500).collect::<Vec<u32>>());
    assert_eq!(
        sub.wait_for(500, Duration::from_secs(20)).await,
        numbers(1..=500)
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
            .args(["--port", "0", "--userdir"])
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

/// a message the broker sends right after the SUBACK is not held back by Nagle's algorithm:
/// Mosquitto (Nagle on by default) waits for the ACK of its previous packet, which a client
/// that does not answer would delay by 40 ms
#[tokio::test]
async fn the_first_message_after_subscribing_is_not_held_by_a_delayed_ack() {
    use tokio::io::AsyncWriteExt;
    let broker = Mosquitto::start();
    // A publisher without Nagle (mosquitto_pub per probe would be too slow to start).
    let mut publisher = tokio::net::TcpStream::connect(("127.0.0.1", broker.port))
        .await
        .expect("publisher connects");
    publisher.set_nodelay(true).expect("nodelay");
    let connect = [
        0x10, 17, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 5, b'q', b'u', b'i', b'c', b'k',
    ];
    publisher.write_all(&connect).await.expect("CONNECT sent");
    let mut flow = load(json!([
        broker_node(broker.port, json!({})),
        {"id": "in", "type": "mqtt in", "topic": "quick/t", "qos": "0", "datatype": "utf8",
         "broker": "b1", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    // Probes every 2 ms from before the subscription: the first that arrives was sent
    // within 2 ms of the SUBACK.
    let mut sent = Vec::new();
    let first = loop {
        let seq = sent.len();
        let payload = seq.to_string();
        let mut packet = vec![0x30, (2 + 7 + payload.len()) as u8, 0, 7];
        packet.extend_from_slice(b"quick/t");
        packet.extend_from_slice(payload.as_bytes());
        publisher.write_all(&packet).await.expect("PUBLISH sent");
        sent.push(tokio::time::Instant::now());
        assert!(seq < 2_500, "mqtt in never subscribed");
        if let Some(msg) = flow.next_within("h", Duration::from_millis(2)).await {
            break msg;
        }
    };
    let seq: usize = match first.payload() {
        Some(Value::String(s)) => s.parse().expect("a probe number"),
        other => panic!("not a probe: {other:?}"),
    };
    let latency = sent[seq].elapsed();
    assert!(
        latency < Duration::from_millis(25),
        "probe {seq} took {latency:?}: held until a delayed ACK"
    );
    flow.unload().await;
}

// The port of `21-mqtt_spec.js`, one `it(...)` to one test (differences: see the header).

/// A message with the Buffer values `buffers` added to `json` (JSON has no Buffer).
fn msg_with(json: Json, buffers: &[(&str, &[u8])]) -> Msg {
    let mut msg = Msg::try_from(json).expect("a message is a JSON object");
    for (key, bytes) in buffers {
        msg.insert(*key, Value::Bytes(bytes::Bytes::copy_from_slice(bytes)));
    }
    msg
}

/// Node-RED's `buildBasicMQTTSendRecvFlow`: broker `b1`, `mqtt in` `in` → helper `h`,
/// `mqtt out` `out` (topic from the message) and a Catch of `in` → `h`.
fn send_recv_flow(port: u16, broker_extra: Json, in_extra: Json) -> Vec<Json> {
    let mut mqtt_in = json!({"id": "in", "type": "mqtt in", "broker": "b1", "wires": [["h"]]});
    if let (Some(node), Some(extra)) = (mqtt_in.as_object_mut(), in_extra.as_object()) {
        node.extend(extra.clone());
    }
    vec![
        broker_node(port, broker_extra),
        mqtt_in,
        json!({"id": "out", "type": "mqtt out", "topic": "", "broker": "b1"}),
        json!({"id": "h", "type": "helper"}),
        json!({"id": "c", "type": "catch", "scope": ["in"], "wires": [["h"]]}),
    ]
}

/// Node-RED's `testSendRecv`: `mqtt in` subscribed to the message's topic, the message sent
/// through `mqtt out` once connected; returns what reaches `h` (a message or a caught error).
/// Both share one connection, so the subscription is made before the publish.
async fn send_recv(broker_extra: Json, mut in_extra: Json, msg: Msg) -> Msg {
    let broker = Mosquitto::start();
    let topic = msg
        .get("topic")
        .map(Value::to_js_string)
        .unwrap_or_default();
    in_extra["topic"] = json!(topic);
    let mut flow = load(Json::Array(send_recv_flow(
        broker.port,
        broker_extra,
        in_extra,
    )))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "in").await;
    flow.runtime()
        .receive("out", msg)
        .await
        .expect("mqtt out runs");
    let got = flow.next("h").await;
    flow.unload().await;
    got
}

/// Node-RED's `compareMsgToExpected` for the keys every test checks.
fn assert_received(msg: &Msg, topic: &str, payload: Value, qos: i64) {
    assert_eq!(msg.get("topic"), Some(&Value::from(topic)), "{msg:?}");
    assert_eq!(msg.payload(), Some(&payload), "{msg:?}");
    assert_eq!(msg.get("qos"), Some(&Value::from(qos)), "{msg:?}");
}

/// A caught error from node `source` with `message`.
fn assert_caught(msg: &Msg, source: &str, message: &str) {
    let error = msg.get("error").expect("msg.error").to_json();
    assert_eq!(error["source"]["id"], source, "{error}");
    assert_eq!(error["message"], message, "{error}");
}

fn bytes_value(bytes: &[u8]) -> Value {
    Value::Bytes(bytes::Bytes::copy_from_slice(bytes))
}

/// The message expiry interval a broker forwards counts down by the second: 2000 may leave
/// as 1999 when a second ticks between receipt and delivery.
fn assert_expiry_about(msg: &Msg, seconds: i64) {
    let got = msg
        .get("messageExpiryInterval")
        .and_then(Value::as_f64)
        .expect("messageExpiryInterval");
    assert!(
        (seconds - 1..=seconds).contains(&(got as i64)),
        "messageExpiryInterval {got}, sent {seconds}"
    );
}

/// should be loaded and have default values (MQTT V4)
#[tokio::test]
async fn defaults_v4_reach_the_wire() {
    let broker = FakeBroker::bind().await;
    let mut flow = load(json!([
        {"id": "b1", "type": "mqtt-broker", "name": "mqtt_broker", "broker": "127.0.0.1",
         "port": broker.port, "autoConnect": false},
        {"id": "in", "type": "mqtt in", "topic": "in_topic", "broker": "b1", "wires": [["h"]]},
        {"id": "out", "type": "mqtt out", "topic": "out_topic", "broker": "b1"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    assert!(
        broker.accept(Duration::from_millis(300)).await.is_none(),
        "autoConnect false: nothing connects"
    );
    flow.receive("out", json!({"action": "connect"})).await;
    let mut conn = broker
        .accept(Duration::from_secs(5))
        .await
        .expect("the connect action connects");
    let connect = Connect::parse(&conn.packet(0x10).await);
    assert_eq!((connect.protocol.as_str(), connect.level), ("MQTT", 4));
    assert!(connect.clean, "clean session by default");
    assert_eq!(connect.keep_alive, 60);
    assert!(
        connect.client_id.starts_with("nodered") && connect.client_id.len() == 23,
        "generated client id {}",
        connect.client_id
    );
    assert!(connect.properties.is_empty(), "no v5 properties");
    conn.send(&[0x20, 0x02, 0x00, 0x00]).await;
    // mqtt in: topic in_topic, QoS 2 by default.
    let subscribe = Reader(&conn.packet(0x82).await).subscribe(false);
    assert_eq!(subscribe.1, [("in_topic".to_owned(), 2)]);
    conn.send(&[0x90, 0x03, subscribe.0[0], subscribe.0[1], 0x02])
        .await;
    // mqtt in: datatype utf8 by default (JSON stays text).
    conn.send(&publish_packet("in_topic", br#"{"a":1}"#)).await;
    let msg = flow.next("h").await;
    assert_received(&msg, "in_topic", Value::from(r#"{"a":1}"#), 0);
    // mqtt out: its topic.
    flow.receive("out", json!({"payload": "x"})).await;
    let published = conn.packet(0x30).await;
    assert_eq!(Reader(&published).string(), "out_topic");
    flow.unload().await;
}

/// should be loaded and have default values (MQTT V5)
#[tokio::test]
async fn settings_v5_reach_the_wire() {
    let broker = FakeBroker::bind().await;
    let flow = load(json!([
        {"id": "b1", "type": "mqtt-broker", "name": "mqtt_broker", "broker": "127.0.0.1",
         "port": broker.port, "autoConnect": false, "cleansession": false,
         "clientid": "clientid", "keepalive": 35, "sessionExpiry": "6000",
         "protocolVersion": "5", "userProps": {"prop": "val"}},
        {"id": "in", "type": "mqtt in", "topic": "in_topic", "broker": "b1", "wires": [["h"]]},
        {"id": "out", "type": "mqtt out", "topic": "out_topic", "broker": "b1"},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    assert!(
        broker.accept(Duration::from_millis(300)).await.is_none(),
        "autoConnect false: nothing connects"
    );
    flow.receive("out", json!({"action": "connect"})).await;
    let mut conn = broker
        .accept(Duration::from_secs(5))
        .await
        .expect("the connect action connects");
    let connect = Connect::parse(&conn.packet(0x10).await);
    assert_eq!((connect.protocol.as_str(), connect.level), ("MQTT", 5));
    assert!(!connect.clean, "cleansession false");
    assert_eq!(connect.keep_alive, 35);
    assert_eq!(connect.client_id, "clientid");
    assert!(
        connect.properties.contains(&Property::SessionExpiry(6000)),
        "{:?}",
        connect.properties
    );
    assert!(
        connect
            .properties
            .contains(&Property::User("prop".into(), "val".into())),
        "{:?}",
        connect.properties
    );
    conn.send(&[0x20, 0x03, 0x00, 0x00, 0x00]).await;
    let subscribe = Reader(&conn.packet(0x82).await).subscribe(true);
    assert_eq!(subscribe.1, [("in_topic".to_owned(), 2)]);
    flow.receive("out", json!({"payload": "x"})).await;
    let published = conn.packet(0x30).await;
    assert_eq!(Reader(&published).string(), "out_topic");
    flow.unload().await;
}

/// basic send and receive tests
#[tokio::test]
async fn basic_send_and_receive_in_auto_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "auto"}),
        msg_with(
            json!({"topic": "nr/basic", "payload": "hello", "qos": 0}),
            &[],
        ),
    )
    .await;
    assert_received(&got, "nr/basic", Value::from("hello"), 0);
    assert_eq!(got.get("retain"), Some(&Value::from(false)));
}

const JSON_TEXT: &str = r#"{"prop":"value1", "num":1}"#;
const INVALID_JSON_TEXT: &str = r#"{prop:"value3", "num":3}"#;

/// should send JSON and receive string (auto mode)
#[tokio::test]
async fn json_text_stays_text_in_auto_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "auto"}),
        msg_with(
            json!({"topic": "nr/auto-json", "payload": JSON_TEXT, "qos": 1}),
            &[],
        ),
    )
    .await;
    assert_received(&got, "nr/auto-json", Value::from(JSON_TEXT), 1);
}

/// should send JSON and receive object (auto-detect mode)
#[tokio::test]
async fn json_text_is_parsed_in_auto_detect_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "auto-detect"}),
        msg_with(
            json!({"topic": "nr/detect-json", "payload": JSON_TEXT, "qos": 1}),
            &[],
        ),
    )
    .await;
    assert_received(
        &got,
        "nr/detect-json",
        Value::from(json!({"prop": "value1", "num": 1})),
        1,
    );
}

/// should send invalid JSON and receive string (auto mode)
#[tokio::test]
async fn invalid_json_stays_text_in_auto_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "auto"}),
        msg_with(
            json!({"topic": "nr/auto-bad", "payload": INVALID_JSON_TEXT}),
            &[],
        ),
    )
    .await;
    assert_received(&got, "nr/auto-bad", Value::from(INVALID_JSON_TEXT), 0);
}

/// should send invalid JSON and receive string (auto-detect mode)
#[tokio::test]
async fn invalid_json_stays_text_in_auto_detect_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "auto-detect"}),
        msg_with(
            json!({"topic": "nr/detect-bad", "payload": INVALID_JSON_TEXT}),
            &[],
        ),
    )
    .await;
    assert_received(&got, "nr/detect-bad", Value::from(INVALID_JSON_TEXT), 0);
}

/// should send JSON and receive string (utf8 mode)
#[tokio::test]
async fn json_text_stays_text_in_utf8_mode() {
    let text = r#"{"prop":"value2", "num":2}"#;
    let got = send_recv(
        json!({}),
        json!({"datatype": "utf8"}),
        msg_with(json!({"topic": "nr/utf8", "payload": text, "qos": 2}), &[]),
    )
    .await;
    assert_received(&got, "nr/utf8", Value::from(text), 2);
}

/// should send JSON and receive Object (json mode)
#[tokio::test]
async fn json_text_is_parsed_in_json_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "json"}),
        msg_with(
            json!({"topic": "nr/json", "payload": r#"{"prop":"value3", "num":3}"#}),
            &[],
        ),
    )
    .await;
    assert_received(
        &got,
        "nr/json",
        Value::from(json!({"prop": "value3", "num": 3})),
        0,
    );
}

/// should send invalid JSON and raise error (json mode)
#[tokio::test]
async fn invalid_json_is_a_caught_error_of_mqtt_in_in_json_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "json"}),
        msg_with(
            json!({"topic": "nr/json-bad", "payload": INVALID_JSON_TEXT}),
            &[],
        ),
    )
    .await;
    assert_caught(&got, "in", "Failed to parse JSON string");
    assert_eq!(got.get("topic"), Some(&Value::from("nr/json-bad")));
}

/// should send String and receive Buffer (buffer mode)
#[tokio::test]
async fn text_arrives_as_a_buffer_in_buffer_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "buffer"}),
        msg_with(json!({"topic": "nr/buffer", "payload": "a b c"}), &[]),
    )
    .await;
    assert_received(&got, "nr/buffer", bytes_value(b"a b c"), 0);
}

/// should send utf8 Buffer and receive String (auto mode)
#[tokio::test]
async fn a_utf8_buffer_arrives_as_text_in_auto_mode() {
    let got = send_recv(
        json!({}),
        json!({"datatype": "auto"}),
        msg_with(
            json!({"topic": "nr/utf8-buffer"}),
            &[("payload", &[0x78, 0x20, 0x79, 0x20, 0x7a])],
        ),
    )
    .await;
    assert_received(&got, "nr/utf8-buffer", Value::from("x y z"), 0);
}

/// should send non utf8 Buffer and receive Buffer (auto mode)
#[tokio::test]
async fn a_non_utf8_buffer_stays_a_buffer_in_auto_mode() {
    let bytes = [
        0xC0, 0xC1, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF,
    ];
    let got = send_recv(
        json!({}),
        json!({"datatype": "auto"}),
        msg_with(json!({"topic": "nr/binary"}), &[("payload", &bytes)]),
    )
    .await;
    assert_received(&got, "nr/binary", bytes_value(&bytes), 0);
}

/// should send/receive all v5 flags and settings
#[tokio::test]
async fn all_v5_flags_and_properties_travel_end_to_end() {
    let broker = Mosquitto::start();
    // An independent v5 client reads what mqtt out put on the wire.
    let sub = broker.sub(&[
        "-V",
        "mqttv5",
        "-t",
        "nr/v5/command",
        "-q",
        "1",
        "-F",
        "%q|%C|%R|%E|%F|%P|%p",
    ]);
    sub.ready(&broker, "nr/v5/command").await;
    let mut flow = load(Json::Array(send_recv_flow(
        broker.port,
        json!({"protocolVersion": 5}),
        json!({"topic": "nr/v5/command", "datatype": "auto", "qos": 1, "nl": false,
               "rap": true, "rh": 1}),
    )))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "in").await;
    let msg = msg_with(
        json!({"topic": "nr/v5/command", "qos": 1, "retain": true,
               "responseTopic": "nr/v5/response", "userProperties": {"prop1": "val1"},
               "contentType": "text/plain", "payloadFormatIndicator": true,
               "messageExpiryInterval": 2000}),
        &[
            ("payload", br#"{"version":"v5"}"#),
            ("correlationData", &[1, 2, 3]),
        ],
    );
    flow.runtime()
        .receive("out", msg)
        .await
        .expect("mqtt out runs");
    let got = flow.next("h").await;
    // auto mode + content type text/plain: a string.
    assert_received(&got, "nr/v5/command", Value::from(r#"{"version":"v5"}"#), 1);
    assert_eq!(got.get("retain"), Some(&Value::from(true)), "rap keeps it");
    assert_eq!(
        got.get("userProperties")
            .map(Value::to_json_string)
            .as_deref(),
        Some(r#"{"prop1":"val1"}"#)
    );
    assert_eq!(got.get("contentType"), Some(&Value::from("text/plain")));
    assert_eq!(got.get("correlationData"), Some(&bytes_value(&[1, 2, 3])));
    assert_eq!(
        got.get("responseTopic"),
        Some(&Value::from("nr/v5/response"))
    );
    assert_eq!(got.get("payloadFormatIndicator"), Some(&Value::from(true)));
    assert_expiry_about(&got, 2000);
    let line = sub.wait_for(1, Duration::from_secs(5)).await;
    let fields: Vec<&str> = line
        .first()
        .expect("mosquitto_sub got it")
        .split('|')
        .collect();
    assert_eq!(
        [
            fields[0], fields[1], fields[2], fields[4], fields[5], fields[6]
        ],
        [
            "1",
            "text/plain",
            "nr/v5/response",
            "1",
            "prop1:val1",
            r#"{"version":"v5"}"#
        ],
        "{line:?}"
    );
    assert!(matches!(fields[3], "2000" | "1999"), "{line:?}");
    flow.unload().await;
}

/// Node-RED's v5 media type tests: `payload` sent with `contentType` through a v5 connection.
async fn send_recv_v5(datatype: &str, topic: &str, content_type: &str, payload: Value) -> Msg {
    let mut msg = msg_with(json!({"topic": topic, "contentType": content_type}), &[]);
    msg.insert("payload", payload);
    let got = send_recv(
        json!({"protocolVersion": 5}),
        json!({"datatype": datatype}),
        msg,
    )
    .await;
    if got.get("error").is_none() {
        assert_eq!(got.get("contentType"), Some(&Value::from(content_type)));
    }
    got
}

/// should send regular string with v5 media type "text/plain" and receive a string (auto mode)
#[tokio::test]
async fn text_plain_text_arrives_as_text_in_auto_mode() {
    let got = send_recv_v5("auto", "nr/v5/plain", "text/plain", Value::from("abc")).await;
    assert_received(&got, "nr/v5/plain", Value::from("abc"), 0);
}

/// should send JSON with v5 media type "text/plain" and receive a string (auto mode)
#[tokio::test]
async fn text_plain_json_arrives_as_text_in_auto_mode() {
    let json = r#"{"prop":"val"}"#;
    let got = send_recv_v5("auto", "nr/v5/plain-json", "text/plain", Value::from(json)).await;
    assert_received(&got, "nr/v5/plain-json", Value::from(json), 0);
}

/// should send JSON with v5 media type "text/plain" and receive a string (auto-detect mode)
#[tokio::test]
async fn text_plain_json_arrives_as_text_in_auto_detect_mode() {
    let json = r#"{"prop":"val"}"#;
    let got = send_recv_v5(
        "auto-detect",
        "nr/v5/plain-detect",
        "text/plain",
        Value::from(json),
    )
    .await;
    assert_received(&got, "nr/v5/plain-detect", Value::from(json), 0);
}

/// should send JSON with v5 media type "application/json" and receive an object (auto-detect mode)
#[tokio::test]
async fn application_json_is_parsed_in_auto_detect_mode() {
    let got = send_recv_v5(
        "auto-detect",
        "nr/v5/json",
        "application/json",
        Value::from(r#"{"prop":"val"}"#),
    )
    .await;
    assert_received(&got, "nr/v5/json", Value::from(json!({"prop": "val"})), 0);
}

/// should send invalid JSON with v5 media type "application/json" and raise an error (auto mode)
#[tokio::test]
async fn invalid_application_json_is_a_caught_error_in_auto_mode() {
    let got = send_recv_v5(
        "auto",
        "nr/v5/json-bad",
        "application/json",
        Value::from(INVALID_JSON_TEXT),
    )
    .await;
    assert_caught(&got, "in", "Failed to parse JSON string");
    assert_eq!(got.payload(), Some(&Value::from(INVALID_JSON_TEXT)));
}

const JSON_BYTES: &[u8] = &[
    0x7b, 0x22, 0x70, 0x72, 0x6f, 0x70, 0x22, 0x3a, 0x22, 0x76, 0x61, 0x6c, 0x22, 0x7d,
];

/// should send buffer with v5 media type "application/json" and receive an object (auto-detect mode)
#[tokio::test]
async fn an_application_json_buffer_is_parsed_in_auto_detect_mode() {
    let got = send_recv_v5(
        "auto-detect",
        "nr/v5/json-buffer",
        "application/json",
        bytes_value(JSON_BYTES),
    )
    .await;
    assert_received(
        &got,
        "nr/v5/json-buffer",
        Value::from(json!({"prop": "val"})),
        0,
    );
}

/// should send buffer with v5 media type "text/plain" and receive a string (auto mode)
#[tokio::test]
async fn a_text_plain_buffer_arrives_as_text_in_auto_mode() {
    let got = send_recv_v5(
        "auto",
        "nr/v5/plain-buffer",
        "text/plain",
        bytes_value(JSON_BYTES),
    )
    .await;
    assert_received(
        &got,
        "nr/v5/plain-buffer",
        Value::from(r#"{"prop":"val"}"#),
        0,
    );
}

/// should send buffer with v5 media type "application/zip" and receive a buffer (auto mode)
#[tokio::test]
async fn an_application_zip_buffer_stays_a_buffer_in_auto_mode() {
    let got = send_recv_v5(
        "auto",
        "nr/v5/zip",
        "application/zip",
        bytes_value(JSON_BYTES),
    )
    .await;
    assert_received(&got, "nr/v5/zip", bytes_value(JSON_BYTES), 0);
}

/// should subscribe dynamically via action
#[tokio::test]
async fn a_subscribe_action_subscribes_a_v5_dynamic_node() {
    let broker = Mosquitto::start();
    let mut nodes = send_recv_flow(
        broker.port,
        json!({"protocolVersion": 5}),
        json!({"topic": "", "inputs": 1, "datatype": "utf8"}),
    );
    // Tells when mqtt in has handled the action (its subscription then precedes the
    // publish on the shared connection).
    nodes.push(json!({"id": "done", "type": "complete", "scope": ["in"], "wires": [["d"]]}));
    nodes.push(json!({"id": "d", "type": "helper"}));
    let mut flow = load(Json::Array(nodes)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "in").await;
    flow.receive("in", json!({"action": "subscribe", "topic": "nr/dynamic"}))
        .await;
    flow.next("d").await;
    flow.receive("out", json!({"topic": "nr/dynamic", "payload": "abc"}))
        .await;
    assert_received(&flow.next("h").await, "nr/dynamic", Value::from("abc"), 0);
    flow.unload().await;
}

/// should connect via "connect" action
#[tokio::test]
async fn a_connect_action_on_mqtt_in_connects() {
    let broker = Mosquitto::start();
    let mut flow = load(Json::Array(send_recv_flow(
        broker.port,
        json!({"protocolVersion": 5, "autoConnect": false}),
        json!({"topic": "", "inputs": 1, "datatype": "utf8"}),
    )))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    let early = tokio::time::timeout(Duration::from_millis(300), connected(&mut flow, "in")).await;
    assert!(early.is_err(), "autoConnect false: not connecting");
    flow.receive("in", json!({"action": "connect"})).await;
    connected(&mut flow, "in").await;
    flow.unload().await;
}

/// should disconnect via "disconnect" action
#[tokio::test]
async fn a_disconnect_action_on_mqtt_out_shows_disconnected() {
    let broker = Mosquitto::start();
    let mut nodes = send_recv_flow(
        broker.port,
        json!({"protocolVersion": 5}),
        json!({"topic": "nr/disconnect"}),
    );
    nodes.push(json!({"id": "s", "type": "status", "scope": ["out"], "wires": [["h"]]}));
    let mut flow = load(Json::Array(nodes)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    let text = |msg: &Msg| {
        msg.get("status")
            .map(Value::to_json)
            .and_then(|s| s["text"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    // The statuses before the connection (disconnected, connecting) are not the answer.
    while text(&flow.next("h").await) != CONNECTED {}
    flow.receive("out", json!({"action": "disconnect"})).await;
    let status = flow.next("h").await;
    assert!(text(&status).contains("disconnect"), "{status:?}");
    flow.unload().await;
}

/// should publish birth message
#[tokio::test]
async fn the_birth_message_reaches_mqtt_in_after_a_connect_action() {
    let broker = Mosquitto::start();
    let mut flow = load(Json::Array(send_recv_flow(
        broker.port,
        json!({"autoConnect": false, "protocolVersion": 4, "birthTopic": "nr/birth",
               "birthPayload": "broker birth", "birthQos": 2}),
        json!({"topic": "nr/birth"}),
    )))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("in", json!({"action": "connect"})).await;
    let got = flow.next("h").await;
    assert_received(&got, "nr/birth", Value::from("broker birth"), 2);
    flow.unload().await;
}

/// should safely discard bad birth topic
#[tokio::test]
async fn a_birth_topic_with_a_wildcard_is_a_deploy_error() {
    let broker = Mosquitto::start();
    let mut flow = load(Json::Array(send_recv_flow(
        broker.port,
        json!({"protocolVersion": 4, "birthTopic": "nr/bad#",
               "birthPayload": "broker connected", "birthQos": 2}),
        json!({"topic": "nr/bad#"}),
    )))
    .await;
    let report = flow.report();
    assert!(
        report
            .issues
            .iter()
            .any(|i| i.node_id.as_deref() == Some("b1") && i.message.starts_with("birthTopic:")),
        "{report}"
    );
    // Its users do not start; the rest of the flow runs.
    for user in ["in", "out"] {
        assert!(
            report
                .issues
                .iter()
                .any(|i| i.node_id.as_deref() == Some(user)
                    && i.message.contains("missing config node 'b1'")),
            "{report}"
        );
    }
    assert!(report.flows_can_start(), "{report}");
    flow.receive("h", json!({"payload": "still running"})).await;
    assert_eq!(
        flow.next("h").await.payload(),
        Some(&Value::from("still running"))
    );
    flow.unload().await;
}

/// The second broker node `b2` of Node-RED's close and will tests.
fn second_broker(port: u16, extra: Json) -> Json {
    let mut node = broker_node(port, extra);
    node["id"] = json!("b2");
    node
}

/// Publishes `probe` on `topic` until helper `h` gets it: the subscription is in place.
async fn subscribed(flow: &mut TestFlow, broker: &Mosquitto, topic: &str, probe: &str) {
    for _ in 0..50 {
        broker.publish(&["-t", topic, "-m", probe]);
        if flow
            .next_within("h", Duration::from_millis(100))
            .await
            .is_some()
        {
            return;
        }
    }
    panic!("mqtt in never subscribed to {topic}");
}

/// The next message on helper `h` that is not a probe.
async fn next_after_probes(flow: &mut TestFlow, probe: &Value) -> Msg {
    loop {
        let msg = flow.next("h").await;
        if msg.payload() != Some(probe) {
            return msg;
        }
    }
}

/// should publish close message
#[tokio::test]
async fn the_close_message_is_published_on_a_disconnect_action() {
    let broker = Mosquitto::start();
    let mut nodes = send_recv_flow(
        broker.port,
        json!({}),
        json!({"topic": "nr/close", "datatype": "json"}),
    );
    nodes.push(second_broker(
        broker.port,
        json!({"closeTopic": "nr/close", "closePayload": r#"{"msg":"close"}"#, "closeQos": 1}),
    ));
    nodes[2]["broker"] = json!("b2");
    let mut flow = load(Json::Array(nodes)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    all_connected(&mut flow, &["in", "out"]).await;
    subscribed(&mut flow, &broker, "nr/close", "\"probe\"").await;
    flow.receive("out", json!({"action": "disconnect"})).await;
    let got = next_after_probes(&mut flow, &Value::from("probe")).await;
    assert_received(&got, "nr/close", Value::from(json!({"msg": "close"})), 1);
    flow.unload().await;
}

/// Drops `b2`'s connection without a DISCONNECT, as `client.end(true)` does in Node-RED:
/// another client takes its client id over, so the broker publishes its will.
fn take_over(broker: &Mosquitto, client_id: &str, version: &str) {
    broker.publish(&[
        "-V", version, "-i", client_id, "-t", "nr/x", "-m", "takeover",
    ]);
}

/// should publish will message
#[tokio::test]
async fn the_will_message_reaches_another_connection() {
    let broker = Mosquitto::start();
    let mut nodes = send_recv_flow(
        broker.port,
        json!({}),
        json!({"topic": "nr/will", "datatype": "utf8"}),
    );
    nodes.push(second_broker(
        broker.port,
        json!({"clientid": "nr-will", "willTopic": "nr/will",
               "willPayload": r#"{"msg":"will"}"#, "willQos": 2}),
    ));
    nodes[2]["broker"] = json!("b2");
    let mut flow = load(Json::Array(nodes)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    all_connected(&mut flow, &["in", "out"]).await;
    subscribed(&mut flow, &broker, "nr/will", "probe").await;
    take_over(&broker, "nr-will", "mqttv311");
    let got = next_after_probes(&mut flow, &Value::from("probe")).await;
    assert_received(&got, "nr/will", Value::from(r#"{"msg":"will"}"#), 2);
    flow.unload().await;
}

/// should publish will message with V5 properties
#[tokio::test]
async fn the_will_message_carries_its_v5_properties() {
    let broker = Mosquitto::start();
    let mut nodes = send_recv_flow(
        broker.port,
        json!({"protocolVersion": 5}),
        json!({"topic": "nr/v5will/will", "datatype": "utf8"}),
    );
    nodes.push(second_broker(
        broker.port,
        json!({"protocolVersion": 5, "clientid": "nr-v5-will", "willTopic": "nr/v5will/will",
               "willPayload": r#"{"msg":"will"}"#, "willQos": 2,
               "willMsg": {"contentType": "application/json", "userProps": {"will": "value"},
                           "respTopic": "nr/v5will/resp", "correl": "abc", "expiry": 2000,
                           "payloadFormatIndicator": true}}),
    ));
    nodes[2]["broker"] = json!("b2");
    let mut flow = load(Json::Array(nodes)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    all_connected(&mut flow, &["in", "out"]).await;
    subscribed(&mut flow, &broker, "nr/v5will/will", "probe").await;
    take_over(&broker, "nr-v5-will", "mqttv5");
    let got = next_after_probes(&mut flow, &Value::from("probe")).await;
    assert_received(&got, "nr/v5will/will", Value::from(r#"{"msg":"will"}"#), 2);
    assert_eq!(
        got.get("contentType"),
        Some(&Value::from("application/json"))
    );
    assert_eq!(
        got.get("userProperties")
            .map(Value::to_json_string)
            .as_deref(),
        Some(r#"{"will":"value"}"#)
    );
    assert_eq!(
        got.get("responseTopic"),
        Some(&Value::from("nr/v5will/resp"))
    );
    assert_eq!(got.get("correlationData"), Some(&bytes_value(b"abc")));
    assert_expiry_about(&got, 2000);
    flow.unload().await;
}

/// A stand-in broker on a raw socket: it reads what a client sends with no MQTT code shared
/// with Ferrite, for the options Node-RED's default-value tests read from the broker node.
struct FakeBroker {
    listener: tokio::net::TcpListener,
    port: u16,
}

impl FakeBroker {
    async fn bind() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        Self { listener, port }
    }

    /// The next client to connect within `wait`.
    async fn accept(&self, wait: Duration) -> Option<FakeConn> {
        let (stream, _) = tokio::time::timeout(wait, self.listener.accept())
            .await
            .ok()?
            .expect("accept");
        Some(FakeConn(stream))
    }
}

struct FakeConn(tokio::net::TcpStream);

impl FakeConn {
    /// The body of the next packet, which must have the first byte `first`.
    async fn packet(&mut self, first: u8) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let read = async {
            let kind = self.0.read_u8().await.expect("a packet");
            let (mut len, mut shift) = (0usize, 0);
            loop {
                let byte = self.0.read_u8().await.expect("remaining length");
                len |= usize::from(byte & 0x7f) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            let mut body = vec![0; len];
            self.0.read_exact(&mut body).await.expect("packet body");
            (kind, body)
        };
        let (kind, body) = tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("a packet within 5 s");
        assert_eq!(kind, first, "packet type, body {body:?}");
        body
    }

    async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.0.write_all(bytes).await.expect("write");
    }
}

/// A v3.1.1 QoS 0 PUBLISH (short enough for a one-byte remaining length).
fn publish_packet(topic: &str, payload: &[u8]) -> Vec<u8> {
    let len = 2 + topic.len() + payload.len();
    let mut packet = vec![0x30, u8::try_from(len).expect("a short packet")];
    packet.extend_from_slice(&u16::try_from(topic.len()).expect("short").to_be_bytes());
    packet.extend_from_slice(topic.as_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// The CONNECT fields Node-RED's default-value tests look at.
struct Connect {
    protocol: String,
    level: u8,
    clean: bool,
    keep_alive: u16,
    client_id: String,
    properties: Vec<Property>,
}

#[derive(Debug, PartialEq)]
enum Property {
    SessionExpiry(u32),
    User(String, String),
    Other(u8),
}

impl Connect {
    fn parse(body: &[u8]) -> Self {
        let mut r = Reader(body);
        let protocol = r.string();
        let level = r.u8();
        let flags = r.u8();
        let keep_alive = r.u16();
        let properties = if level == 5 {
            r.properties()
        } else {
            Vec::new()
        };
        Self {
            protocol,
            level,
            clean: flags & 0x02 != 0,
            keep_alive,
            client_id: r.string(),
            properties,
        }
    }
}

/// Reads MQTT's big-endian fields off the front of a packet body.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        assert!(self.0.len() >= n, "packet too short");
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> u16 {
        let b = self.take(2);
        u16::from_be_bytes([b[0], b[1]])
    }
    fn u32(&mut self) -> u32 {
        let b = self.take(4);
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    fn varint(&mut self) -> usize {
        let (mut n, mut shift) = (0usize, 0);
        loop {
            let byte = self.u8();
            n |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                return n;
            }
        }
    }
    fn string(&mut self) -> String {
        let len = usize::from(self.u16());
        String::from_utf8(self.take(len).to_vec()).expect("UTF-8")
    }
    /// A v5 property list (the ones a CONNECT may carry).
    fn properties(&mut self) -> Vec<Property> {
        let len = self.varint();
        let mut r = Reader(self.take(len));
        let mut list = Vec::new();
        while !r.0.is_empty() {
            let id = r.u8();
            list.push(match id {
                0x11 => Property::SessionExpiry(r.u32()),
                0x26 => Property::User(r.string(), r.string()),
                0x17 | 0x19 => {
                    r.u8();
                    Property::Other(id)
                }
                0x21 | 0x22 => {
                    r.u16();
                    Property::Other(id)
                }
                0x27 => {
                    r.u32();
                    Property::Other(id)
                }
                other => panic!("unexpected CONNECT property {other:#x}"),
            });
        }
        list
    }
    /// A SUBSCRIBE body: the packet id and each filter with its QoS.
    fn subscribe(&mut self, v5: bool) -> ([u8; 2], Vec<(String, u8)>) {
        let pkid = self.u16().to_be_bytes();
        if v5 {
            let len = self.varint();
            self.take(len);
        }
        let mut filters = Vec::new();
        while !self.0.is_empty() {
            let filter = self.string();
            filters.push((filter, self.u8() & 0x03));
        }
        (pkid, filters)
    }
}
