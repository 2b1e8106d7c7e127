//! Port of Node-RED test/nodes/core/function/16-range_spec.js.
//!
//! Not ported: none (17 of 17).
//!
//! Deviations: "should load some defaults" reads the node's `name` and `round` properties in
//! mocha; here it checks the node deploys and scales with its defaults (no rounding).
//! "reports if input is not a number" spies on `node.log` in mocha; here the info log line
//! is captured from the tracing output of the test thread. The mocha title "handles input
//! range where max < min" occurs twice; the second Rust test gets a `_2`.

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::harness;

/// Loads a range node with `config`, hands it `payload` and returns the payload the helper
/// gets (the mocha file's `genericRangeTest`).
#[allow(clippy::too_many_arguments)]
async fn generic_range_test(
    action: &str,
    minin: Json,
    maxin: Json,
    minout: Json,
    maxout: Json,
    round: bool,
    payload: Json,
) -> Json {
    let mut flow = harness::load(json!([
        {"id": "rangeNode1", "type": "range", "minin": minin, "maxin": maxin, "minout": minout, "maxout": maxout, "action": action, "round": round, "name": "rangeNode", "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("rangeNode1", json!({"payload": payload}))
        .await;
    let msg = flow.next("helperNode1").await.as_value().to_json();
    flow.unload().await;
    msg["payload"].clone()
}

/// should load some defaults
#[tokio::test]
async fn should_load_some_defaults() {
    let mut flow = harness::load(json!([
        {"id": "rangeNode1", "type": "range", "name": "rangeNode", "minin": 0, "maxin": 10, "minout": 0, "maxout": 1, "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("rangeNode1", json!({"payload": 3})).await;
    // Scaled (the default action) and not rounded.
    let msg = flow.next("helperNode1").await.as_value().to_json();
    assert_eq!(msg["payload"], json!(0.3));
    flow.unload().await;
}

/// ranges numbers up tenfold
#[tokio::test]
async fn ranges_numbers_up_tenfold() {
    let v = generic_range_test(
        "scale",
        json!(0),
        json!(100),
        json!(0),
        json!(1000),
        false,
        json!(50),
    )
    .await;
    assert_eq!(v, json!(500));
}

/// ranges numbers down such as centimetres to metres
#[tokio::test]
async fn ranges_numbers_down_such_as_centimetres_to_metres() {
    let v = generic_range_test(
        "scale",
        json!(0),
        json!(100),
        json!(0),
        json!(1),
        false,
        json!(55),
    )
    .await;
    assert_eq!(v, json!(0.55));
}

/// wraps numbers down say for degree/rotation reading 1/2
#[tokio::test]
async fn wraps_numbers_down_say_for_degree_rotation_reading_1_2() {
    let v = generic_range_test(
        "roll",
        json!(0),
        json!(10),
        json!(0),
        json!(360),
        true,
        json!(15),
    )
    .await;
    assert_eq!(v, json!(180));
}

/// wraps numbers around say for degree/rotation reading 1/3
#[tokio::test]
async fn wraps_numbers_around_say_for_degree_rotation_reading_1_3() {
    let v = generic_range_test(
        "roll",
        json!(0),
        json!(10),
        json!(0),
        json!(360),
        true,
        json!(13.3333),
    )
    .await;
    assert_eq!(v, json!(120));
}

/// wraps numbers around say for degree/rotation reading 1/4
#[tokio::test]
async fn wraps_numbers_around_say_for_degree_rotation_reading_1_4() {
    let v = generic_range_test(
        "roll",
        json!(0),
        json!(10),
        json!(0),
        json!(360),
        true,
        json!(12.5),
    )
    .await;
    assert_eq!(v, json!(90));
}

/// wraps numbers down say for degree/rotation reading 1/4
#[tokio::test]
async fn wraps_numbers_down_say_for_degree_rotation_reading_1_4() {
    let v = generic_range_test(
        "roll",
        json!(0),
        json!(10),
        json!(0),
        json!(360),
        true,
        json!(-12.5),
    )
    .await;
    assert_eq!(v, json!(270));
}

/// wraps numbers around say for degree/rotation reading 0
#[tokio::test]
async fn wraps_numbers_around_say_for_degree_rotation_reading_0() {
    let v = generic_range_test(
        "roll",
        json!(0),
        json!(10),
        json!(0),
        json!(360),
        true,
        json!(-10),
    )
    .await;
    assert_eq!(v, json!(0));
}

/// clamps numbers within a range - over max
#[tokio::test]
async fn clamps_numbers_within_a_range_over_max() {
    let v = generic_range_test(
        "clamp",
        json!(0),
        json!(10),
        json!(0),
        json!(1000),
        false,
        json!(111),
    )
    .await;
    assert_eq!(v, json!(1000));
}

/// clamps numbers within a range - below min
#[tokio::test]
async fn clamps_numbers_within_a_range_below_min() {
    let v = generic_range_test(
        "clamp",
        json!(0),
        json!(10),
        json!(0),
        json!(1000),
        false,
        json!(-1),
    )
    .await;
    assert_eq!(v, json!(0));
}

/// clamps numbers within a range - above max fp
#[tokio::test]
async fn clamps_numbers_within_a_range_above_max_fp() {
    let v = generic_range_test(
        "clamp",
        json!(0),
        json!(9.5),
        json!(0.5),
        json!(100.5),
        true,
        json!(13.1),
    )
    .await;
    assert_eq!(v, json!(100));
}

/// clamps numbers within a range - below min fp
#[tokio::test]
async fn clamps_numbers_within_a_range_below_min_fp() {
    let v = generic_range_test(
        "clamp",
        json!(0),
        json!(9.5),
        json!(0.3),
        json!(100.5),
        true,
        json!(-13.1),
    )
    .await;
    assert_eq!(v, json!(1));
}

/// handles input range where max < min
#[tokio::test]
async fn handles_input_range_where_max_min() {
    let v = generic_range_test(
        "scale",
        json!(100),
        json!(0),
        json!(0),
        json!(-100),
        false,
        json!(40),
    )
    .await;
    assert_eq!(v, json!(-60));
}

/// handles input range where max < min
#[tokio::test]
async fn handles_input_range_where_max_min_2() {
    let v = generic_range_test(
        "scale",
        json!(100),
        json!(0),
        json!(-100),
        json!(0),
        false,
        json!(10),
    )
    .await;
    assert_eq!(v, json!(-10));
}

/// drops msg if in drop mode and input outside range
#[tokio::test]
async fn drops_msg_if_in_drop_mode_and_input_outside_range() {
    let mut flow = harness::load(json!([
        {"id": "rangeNode1", "type": "range", "minin": 2, "maxin": 8, "minout": 20, "maxout": 80, "action": "drop", "round": true, "name": "rangeNode", "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper"}
    ]))
    .await;
    for payload in [1, 9, 5] {
        flow.receive("rangeNode1", json!({"payload": payload}))
            .await;
    }
    let msg = flow.next("helperNode1").await.as_value().to_json();
    assert_eq!(msg["payload"], json!(50));
    flow.expect_nothing("helperNode1", Duration::from_millis(50))
        .await;
    flow.unload().await;
}

/// just passes on msg if payload not present
#[tokio::test]
async fn just_passes_on_msg_if_payload_not_present() {
    let mut flow = harness::load(json!([
        {"id": "rangeNode1", "type": "range", "minin": 0, "maxin": 100, "minout": 0, "maxout": 100, "action": "scale", "round": true, "name": "rangeNode", "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper"}
    ]))
    .await;
    flow.receive("rangeNode1", json!({"topic": "pass on"}))
        .await;
    let msg = flow.next("helperNode1").await.as_value().to_json();
    assert!(msg.get("payload").is_none(), "{msg}");
    assert_eq!(msg["topic"], "pass on");
    flow.unload().await;
}

/// reports if input is not a number
#[tokio::test]
async fn reports_if_input_is_not_a_number() {
    let (captured, _guard) = harness::capture_logs();
    let mut flow = harness::load(json!([
        {"id": "rangeNode1", "type": "range", "minin": 0, "maxin": 0, "minout": 0, "maxout": 0, "action": "scale", "round": true, "name": "rangeNode", "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper"}
    ]))
    .await;
    flow.receive("rangeNode1", json!({"payload": "NOT A NUMBER"}))
        .await;
    // Messages are handled in order: once this one is through, the first one was handled.
    flow.receive("rangeNode1", json!({"topic": "after"})).await;
    let msg = flow.next("helperNode1").await.as_value().to_json();
    assert_eq!(msg["topic"], "after", "the non-number was dropped");
    let log = captured.text();
    assert!(log.contains("Not a number: NOT A NUMBER"), "{log}");
    assert!(log.contains("INFO"), "{log}");
    flow.unload().await;
}

// Ferrite additions: behaviour of 16-range.js the mocha file does not cover.

/// A configured property is read and written; a missing parent is an error (Node-RED's
/// getMessageProperty throws).
#[tokio::test]
async fn scales_a_configured_property_and_reports_a_missing_parent() {
    let mut flow = harness::load(json!([
        {"id": "rangeNode1", "type": "range", "minin": 0, "maxin": 10, "minout": 0, "maxout": 100, "action": "scale", "property": "data.value", "wires": [["helperNode1"]]},
        {"id": "helperNode1", "type": "helper"}
    ]))
    .await;
    flow.receive("rangeNode1", json!({"data": {"value": "2.5"}}))
        .await;
    let msg = flow.next("helperNode1").await.as_value().to_json();
    assert_eq!(msg["data"]["value"], json!(25));
    flow.receive("rangeNode1", json!({"payload": 1})).await;
    let entry = flow.log_entry("rangeNode1").await;
    assert_eq!(entry["level"], 20, "{entry}");
    assert_eq!(
        entry["msg"],
        "Cannot read properties of undefined (reading 'value')"
    );
    flow.expect_nothing("helperNode1", Duration::from_millis(50))
        .await;
    flow.unload().await;
}
