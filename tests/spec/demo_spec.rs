//! The demo flow of the README: it deploys cleanly and its readings come out shaped.

use serde_json::Value as Json;

use crate::harness;

/// The demo flow's first reading reaches the "reading" debug node as JSON with device,
/// location, an ISO timestamp and a temperature in °C rounded to 0.01, and comes back from
/// the embedded MQTT broker it was published to.
#[tokio::test]
async fn the_demo_flow_prints_shaped_readings() {
    let text = std::fs::read_to_string("flows/demo.json").expect("flows/demo.json");
    let demo: Json = serde_json::from_str(&text).expect("demo flow is JSON");
    let mut flow = harness::load(demo).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    let event = flow
        .event(|e| e.topic == "debug" && e.data["name"] == "reading")
        .await;
    // The sidebar carries the payload as JSON text.
    let reading: Json = event.data["msg"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_else(|| panic!("a JSON reading, got {}", event.data));
    assert_eq!(reading["device"], "plc-1");
    assert_eq!(reading["location"], "hall A");
    let temperature = reading["temperature"].as_f64().expect("a temperature");
    assert!((15.0..=30.0).contains(&temperature), "{temperature}");
    assert!(((temperature * 100.0).round() - temperature * 100.0).abs() < 1e-6);
    let timestamp = reading["timestamp"].as_str().expect("a timestamp");
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == 24,
        "{timestamp}"
    );
    // Each reading is also published to the demo's embedded MQTT broker and read back: the
    // "from broker" debug node shows it arriving on plant/hall-a/plc-1/temperature. (One
    // test, as the broker's port can be bound once.)
    let event = flow
        .event(|e| {
            e.topic == "debug"
                && e.data["name"] == "from broker"
                && e.data["msg"]
                    .as_str()
                    .is_some_and(|m| m.contains("plant/hall-a/plc-1/temperature"))
        })
        .await;
    let msg: Json = event.data["msg"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_else(|| panic!("a message, got {}", event.data));
    assert_eq!(msg["payload"]["device"], "plc-1");
    assert_eq!(msg["qos"], 1);
    flow.unload().await;
}
