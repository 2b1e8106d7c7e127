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
