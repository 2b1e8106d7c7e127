//! Port of Node-RED test/nodes/core/common/20-inject_spec.js.
//!
//! Not ported (admin API arrives with issue 7): the three `describe('post')` cases, which
//! drive the node through `POST /inject/:id`:
//! * "should inject message"
//! * "should inject custom properties in posted message"
//! * "should fail for invalid node"
//!
//! Deviations: the mocha file sets `process.env.NR_TEST`; setting the process environment
//! is unsafe in a multi-threaded test binary, so the env test reads a variable the test
//! process already has. Timing cases use shorter delays than the mocha file (their titles
//! are kept) and measure elapsed time instead of comparing against a fixed future time.
//! Two mocha titles occur twice in the file; the second Rust test of each gets a `_2`.
//! Eleven mocha titles end with a space, which rustfmt trims from the `///` lines.

use std::time::{Duration, Instant};

use ferrite_runtime::testing::TestFlow;
use ferrite_runtime::{DeployKind, Msg, Settings, Value};
use serde_json::{Value as Json, json};

use crate::harness;

/// The message as JSON, for comparisons.
fn as_json(msg: &Msg) -> Json {
    msg.as_value().to_json()
}

/// A flow with the two extra memory stores of the mocha file's `initContext`.
async fn load_with_stores(flow: Json) -> TestFlow {
    let settings: Settings = serde_json::from_value(json!({
        "contextStorage": {"memory0": {"module": "memory"}, "memory1": {"module": "memory"}}
    }))
    .expect("settings");
    TestFlow::load_with(&[ferrite_nodes::ALL], flow, settings).await
}

/// Sets a context value the way `n1.context().flow.set(key, value, store)` does.
fn set_context(flow: &TestFlow, scope: &str, key: &str, value: &str, store: Option<&str>) {
    flow.runtime()
        .context()
        .set(scope, key, Some(Value::from(value)), store)
        .expect("context set");
}

/// Milliseconds since the epoch now.
fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("fits")
}

/// The mocha file's `basicTest(type, val, rval)`: inject `val` of type `vt`.
async fn basic_test(vt: &str, val: Json) -> Msg {
    let mut flow = harness::load(json!([
        {"id": "flow", "type": "tab"},
        {"id": "n1", "type": "inject", "topic": "t1", "payload": val, "payloadType": vt, "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper", "z": "flow"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("n1", json!({})).await;
    let msg = flow.next("n2").await;
    assert_eq!(as_json(&msg)["topic"], "t1");
    flow.unload().await;
    msg
}

/// Loads `nodes` (inject `n1` wired to helper `n2`), hands `n1` one `{}` and returns what
/// `n2` got.
async fn inject_once(nodes: Json) -> Json {
    let mut flow = harness::load(nodes).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive("n1", json!({})).await;
    let msg = flow.next("n2").await;
    flow.unload().await;
    as_json(&msg)
}

/// inject value (num)
#[tokio::test]
async fn inject_value_num() {
    let msg = basic_test("num", json!(10)).await;
    assert_eq!(as_json(&msg)["payload"], json!(10));
}

/// inject value (str)
#[tokio::test]
async fn inject_value_str() {
    let msg = basic_test("str", json!("10")).await;
    assert_eq!(as_json(&msg)["payload"], json!("10"));
}

/// inject value (bool)
#[tokio::test]
async fn inject_value_bool() {
    let msg = basic_test("bool", json!(true)).await;
    assert_eq!(as_json(&msg)["payload"], json!(true));
}

/// inject value (json)
#[tokio::test]
async fn inject_value_json() {
    let msg = basic_test("json", json!(r#"{ "x":"vx", "y":"vy", "z":"vz" }"#)).await;
    assert_eq!(
        as_json(&msg)["payload"],
        json!({"x": "vx", "y": "vy", "z": "vz"})
    );
}

/// inject value (bin)
#[tokio::test]
async fn inject_value_bin() {
    let msg = basic_test("bin", json!("[1,2,3,4,5]")).await;
    assert!(
        matches!(msg.payload(), Some(Value::Bytes(b)) if b.as_ref() == [1, 2, 3, 4, 5]),
        "payload should be a buffer: {msg:?}"
    );
}

/// inject value of environment variable
#[tokio::test]
async fn inject_value_of_environment_variable() {
    // Any variable the test process has (see the file header), e.g. PATH.
    let (name, value) = std::env::vars()
        .filter(|(k, v)| {
            !v.is_empty()
                && !k.starts_with("NR_")
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .min_by(|a, b| (a.0 != "PATH").cmp(&(b.0 != "PATH")))
        .expect("the test process has an environment variable");
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": name, "payloadType": "env", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(msg["topic"], "t1");
    assert_eq!(msg["payload"], json!(value));
}

/// inject name of node as environment variable
#[tokio::test]
async fn inject_name_of_node_as_environment_variable() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "NR_NODE_NAME", "payloadType": "env", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(msg["payload"], "NAME");
}

/// inject id of node as environment variable
#[tokio::test]
async fn inject_id_of_node_as_environment_variable() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "NR_NODE_ID", "payloadType": "env", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(msg["payload"], "n1");
}

/// inject path of node as environment variable
#[tokio::test]
async fn inject_path_of_node_as_environment_variable() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "NR_NODE_PATH", "payloadType": "env", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(msg["payload"], "flow/n1");
}

/// inject name of flow as environment variable
#[tokio::test]
async fn inject_name_of_flow_as_environment_variable() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "NR_FLOW_NAME", "payloadType": "env", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"},
        {"id": "flow", "type": "tab", "label": "FLOW"}
    ]))
    .await;
    assert_eq!(msg["payload"], "FLOW");
}

/// inject id of flow as environment variable
#[tokio::test]
async fn inject_id_of_flow_as_environment_variable() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "NR_FLOW_ID", "payloadType": "env", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"},
        {"id": "flow", "type": "tab", "name": "FLOW"}
    ]))
    .await;
    assert_eq!(msg["payload"], "flow");
}

/// inject name of group as environment variable
#[tokio::test]
async fn inject_name_of_group_as_environment_variable() {
    let msg = inject_once(json!([
        {"id": "flow", "type": "tab"},
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "NR_GROUP_NAME", "payloadType": "env", "wires": [["n2"]], "z": "flow", "g": "g0"},
        {"id": "n2", "type": "helper", "z": "flow"},
        {"id": "g0", "type": "group", "name": "GROUP", "z": "flow"}
    ]))
    .await;
    assert_eq!(msg["payload"], "GROUP");
}

/// inject id of group as environment variable
#[tokio::test]
async fn inject_id_of_group_as_environment_variable() {
    let msg = inject_once(json!([
        {"id": "flow", "type": "tab"},
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "NR_GROUP_ID", "payloadType": "env", "wires": [["n2"]], "z": "flow", "g": "g0"},
        {"id": "n2", "type": "helper", "z": "flow"},
        {"id": "g0", "type": "group", "name": "GROUP", "z": "flow"}
    ]))
    .await;
    assert_eq!(msg["payload"], "g0");
}

/// inject name of node as environment variable by substitution
#[tokio::test]
async fn inject_name_of_node_as_environment_variable_by_substitution() {
    let msg = inject_once(json!([
        {"id": "flow", "type": "tab"},
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "${NR_NODE_NAME}", "payloadType": "str", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper", "z": "flow"}
    ]))
    .await;
    assert_eq!(msg["payload"], "NAME");
}

/// inject id of node as environment variable by substitution
#[tokio::test]
async fn inject_id_of_node_as_environment_variable_by_substitution() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "${NR_NODE_ID}", "payloadType": "str", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(msg["payload"], "n1");
}

/// inject path of node as environment variable by substitution
#[tokio::test]
async fn inject_path_of_node_as_environment_variable_by_substitution() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "${NR_NODE_PATH}", "payloadType": "str", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(msg["payload"], "flow/n1");
}

/// inject name of flow as environment variable by substitution
#[tokio::test]
async fn inject_name_of_flow_as_environment_variable_by_substitution() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "${NR_FLOW_NAME}", "payloadType": "str", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"},
        {"id": "flow", "type": "tab", "label": "FLOW"}
    ]))
    .await;
    assert_eq!(msg["payload"], "FLOW");
}

/// inject id of flow as environment variable
///
/// (The second mocha case with this title: `${NR_FLOW_ID}` by substitution.)
#[tokio::test]
async fn inject_id_of_flow_as_environment_variable_2() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "${NR_FLOW_ID}", "payloadType": "str", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"},
        {"id": "flow", "type": "tab", "name": "FLOW"}
    ]))
    .await;
    assert_eq!(msg["payload"], "flow");
}

/// inject name of group as environment variable by substitution
#[tokio::test]
async fn inject_name_of_group_as_environment_variable_by_substitution() {
    let msg = inject_once(json!([
        {"id": "flow", "type": "tab"},
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "${NR_GROUP_NAME}", "payloadType": "str", "wires": [["n2"]], "z": "flow", "g": "g0"},
        {"id": "n2", "type": "helper", "z": "flow"},
        {"id": "g0", "type": "group", "name": "GROUP", "z": "flow"}
    ]))
    .await;
    assert_eq!(msg["payload"], "GROUP");
}

/// inject id of group as environment variable by substitution
#[tokio::test]
async fn inject_id_of_group_as_environment_variable_by_substitution() {
    let msg = inject_once(json!([
        {"id": "flow", "type": "tab"},
        {"id": "n1", "type": "inject", "name": "NAME", "topic": "t1", "payload": "${NR_GROUP_ID}", "payloadType": "str", "wires": [["n2"]], "z": "flow", "g": "g0"},
        {"id": "n2", "type": "helper", "z": "flow"},
        {"id": "g0", "type": "group", "name": "GROUP", "z": "flow"}
    ]))
    .await;
    assert_eq!(msg["payload"], "g0");
}

/// sets the value of flow context property
#[tokio::test]
async fn sets_the_value_of_flow_context_property() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": "flowValue", "payloadType": "flow", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    set_context(&flow, "flow", "flowValue", "changeMe", None);
    flow.receive("n1", json!({})).await;
    let msg = as_json(&flow.next("n2").await);
    assert_eq!(msg["topic"], "t1");
    assert_eq!(msg["payload"], "changeMe");
    flow.unload().await;
}

/// sets the value of persistable flow context property
#[tokio::test]
async fn sets_the_value_of_persistable_flow_context_property() {
    let mut flow = load_with_stores(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": "#:(memory0)::flowValue", "payloadType": "flow", "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    set_context(&flow, "flow", "flowValue", "changeMe", Some("memory0"));
    flow.receive("n1", json!({})).await;
    let msg = as_json(&flow.next("n2").await);
    assert_eq!(msg["topic"], "t1");
    assert_eq!(msg["payload"], "changeMe");
    flow.unload().await;
}

/// Two injects reading `val` from two places; each must send its own value.
async fn two_context_reads(flow_json: Json, first: (&str, &str), second: (&str, &str)) {
    let mut flow = load_with_stores(flow_json).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    set_context(&flow, first.0, "val", "foo", Some(first.1));
    set_context(&flow, second.0, "val", "bar", Some(second.1));
    flow.receive("n0", json!({})).await;
    flow.receive("n1", json!({})).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let msg = as_json(&flow.next("n2").await);
        match msg["topic"].as_str() {
            Some("t0") => assert_eq!(msg["payload"], "foo"),
            Some("t1") => assert_eq!(msg["payload"], "bar"),
            _ => panic!("unexpected message {msg}"),
        }
        seen.push(msg["topic"].clone());
    }
    assert!(
        seen.contains(&json!("t0")) && seen.contains(&json!("t1")),
        "{seen:?}"
    );
    flow.unload().await;
}

/// sets the value of two persistable flow context property
#[tokio::test]
async fn sets_the_value_of_two_persistable_flow_context_property() {
    two_context_reads(
        json!([
            {"id": "n0", "z": "flow", "type": "inject", "topic": "t0", "payload": "#:(memory0)::val", "payloadType": "flow", "wires": [["n2"]]},
            {"id": "n1", "z": "flow", "type": "inject", "topic": "t1", "payload": "#:(memory1)::val", "payloadType": "flow", "wires": [["n2"]]},
            {"id": "n2", "z": "flow", "type": "helper"}
        ]),
        ("flow", "memory0"),
        ("flow", "memory1"),
    )
    .await;
}

/// sets the value of global context property
#[tokio::test]
async fn sets_the_value_of_global_context_property() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": "globalValue", "payloadType": "global", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    set_context(&flow, "global", "globalValue", "changeMe", None);
    flow.receive("n1", json!({})).await;
    let msg = as_json(&flow.next("n2").await);
    assert_eq!(msg["topic"], "t1");
    assert_eq!(msg["payload"], "changeMe");
    flow.unload().await;
}

/// sets the value of persistable global context property
#[tokio::test]
async fn sets_the_value_of_persistable_global_context_property() {
    let mut flow = load_with_stores(json!([
        {"id": "n1", "z": "flow", "type": "inject", "topic": "t1", "payload": "#:(memory1)::val", "payloadType": "global", "wires": [["n2"]]},
        {"id": "n2", "z": "flow", "type": "helper"}
    ]))
    .await;
    set_context(&flow, "global", "val", "foo", Some("memory1"));
    flow.receive("n1", json!({})).await;
    let msg = as_json(&flow.next("n2").await);
    assert_eq!(msg["topic"], "t1");
    assert_eq!(msg["payload"], "foo");
    flow.unload().await;
}

fn two_global_stores_flow() -> Json {
    json!([
        {"id": "n0", "z": "flow", "type": "inject", "topic": "t0", "payload": "#:(memory0)::val", "payloadType": "global", "wires": [["n2"]]},
        {"id": "n1", "z": "flow", "type": "inject", "topic": "t1", "payload": "#:(memory1)::val", "payloadType": "global", "wires": [["n2"]]},
        {"id": "n2", "z": "flow", "type": "helper"}
    ])
}

/// sets the value of two persistable global context property
#[tokio::test]
async fn sets_the_value_of_two_persistable_global_context_property() {
    two_context_reads(
        two_global_stores_flow(),
        ("global", "memory0"),
        ("global", "memory1"),
    )
    .await;
}

/// sets the value of persistable flow & global context property
#[tokio::test]
async fn sets_the_value_of_persistable_flow_global_context_property() {
    two_context_reads(
        json!([
            {"id": "n0", "z": "flow", "type": "inject", "topic": "t0", "payload": "#:(memory0)::val", "payloadType": "flow", "wires": [["n2"]]},
            {"id": "n1", "z": "flow", "type": "inject", "topic": "t1", "payload": "#:(memory1)::val", "payloadType": "global", "wires": [["n2"]]},
            {"id": "n2", "z": "flow", "type": "helper"}
        ]),
        ("flow", "memory0"),
        ("global", "memory1"),
    )
    .await;
}

/// sets the value of two persistable global context property
///
/// (The mocha file repeats this case word for word.)
#[tokio::test]
async fn sets_the_value_of_two_persistable_global_context_property_2() {
    two_context_reads(
        two_global_stores_flow(),
        ("global", "memory0"),
        ("global", "memory1"),
    )
    .await;
}

/// should inject once with default delay property
#[tokio::test]
async fn should_inject_once_with_default_delay_property() {
    // Mocha reads the node's `onceDelay` (100 ms); here: the injection waits that long.
    let start = Instant::now();
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": "", "payloadType": "date", "once": true, "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let msg = as_json(&flow.next("n2").await);
    let elapsed = start.elapsed();
    assert_eq!(msg["topic"], "t1");
    assert!(
        elapsed >= Duration::from_millis(100),
        "fired after {elapsed:?}"
    );
    flow.unload().await;
}

/// should inject once with default delay
#[tokio::test]
async fn should_inject_once_with_default_delay() {
    let limit = now_ms() + 1000;
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": "", "payloadType": "date", "once": true, "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let msg = as_json(&flow.next("n2").await);
    assert_eq!(msg["topic"], "t1");
    let payload = msg["payload"].as_i64().expect("a timestamp payload");
    assert!(payload < limit, "{payload} should be before {limit}");
    flow.unload().await;
}

/// should inject once with 500 msec. delay
#[tokio::test]
async fn should_inject_once_with_500_msec_delay() {
    // Mocha reads the node's `onceDelay` (500 ms); here: the injection waits that long.
    let start = Instant::now();
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": "", "payloadType": "date", "once": true, "onceDelay": 0.5, "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let msg = as_json(&flow.next("n2").await);
    let elapsed = start.elapsed();
    assert_eq!(msg["topic"], "t1");
    assert!(
        elapsed >= Duration::from_millis(500),
        "fired after {elapsed:?}"
    );
    flow.unload().await;
}

/// should inject once with delay of two seconds
#[tokio::test]
async fn should_inject_once_with_delay_of_two_seconds() {
    // Scaled down: a 0.3 s delay, checked against the payload's timestamp.
    let start_ms = now_ms();
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": "", "payloadType": "date", "once": true, "onceDelay": 0.3, "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let msg = as_json(&flow.next("n2").await);
    assert_eq!(msg["topic"], "t1");
    let payload = msg["payload"].as_i64().expect("a timestamp payload");
    // A few ms of slack between the wall clock and the timer's monotonic clock.
    assert!(
        payload >= start_ms + 290,
        "injected at {payload}, loaded at {start_ms}"
    );
    flow.unload().await;
}

/// should inject repeatedly
#[tokio::test]
async fn should_inject_repeatedly() {
    let start = Instant::now();
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "payload": "payload", "topic": "t2", "repeat": 0.05, "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    for _ in 0..3 {
        let msg = as_json(&flow.next("n2").await);
        assert_eq!(msg["topic"], "t2");
        assert_eq!(msg["payload"], "payload");
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(150),
        "three repeats after {elapsed:?}"
    );
    flow.unload().await;
}

/// should inject once with delay of two seconds and repeatedly
#[tokio::test]
async fn should_inject_once_with_delay_of_two_seconds_and_repeatedly() {
    // Scaled down: a 0.3 s once-delay, then every 0.05 s.
    let start_ms = now_ms();
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "topic": "t1", "payload": "", "payloadType": "date", "repeat": 0.05, "once": true, "onceDelay": 0.3, "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let mut previous = 0;
    for _ in 0..3 {
        let msg = as_json(&flow.next("n2").await);
        assert_eq!(msg["topic"], "t1");
        let payload = msg["payload"].as_i64().expect("a timestamp payload");
        assert!(
            payload >= start_ms + 290,
            "injected at {payload}, loaded at {start_ms}"
        );
        assert!(payload >= previous);
        previous = payload;
    }
    flow.unload().await;
}

/// should inject with cron
#[tokio::test]
async fn should_inject_with_cron() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "payloadType": "date", "topic": "t3", "crontab": "* * * * * *", "wires": [["n3"]]},
        {"id": "n3", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    let msg = as_json(&flow.next("n3").await);
    assert_eq!(msg["topic"], "t3");
    assert!(
        msg["payload"].is_number(),
        "payload should be a number: {msg}"
    );
    flow.unload().await;
}

/// should inject multiple properties
#[tokio::test]
async fn should_inject_multiple_properties() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "props": [
            {"p": "topic", "v": "t1", "vt": "str"},
            {"p": "payload", "v": "foo", "vt": "str"},
            {"p": "x", "v": 10, "vt": "num"},
            {"p": "y", "v": "x+2", "vt": "jsonata"}
        ], "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(msg["topic"], "t1");
    assert_eq!(msg["payload"], "foo");
    assert_eq!(msg["x"], json!(10));
    assert_eq!(msg["y"], json!(12));
}

/// should inject custom properties in message
#[tokio::test]
async fn should_inject_custom_properties_in_message() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "props": [
            {"p": "payload", "v": "static", "vt": "str"},
            {"p": "topic", "v": "static", "vt": "str"},
            {"p": "bool1", "v": "true", "vt": "bool"},
            {"p": "str1", "v": "1", "vt": "str"}
        ], "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    flow.receive(
        "n1",
        json!({"__user_inject_props__": [
            {"p": "topic", "v": "t_override", "vt": "str"},
            {"p": "str1", "v": "1", "vt": "num"},
            {"p": "num1", "v": "1", "vt": "num"},
            {"p": "bool1", "v": "false", "vt": "bool"}
        ]}),
    )
    .await;
    let msg = as_json(&flow.next("n2").await);
    assert!(msg.get("payload").is_none(), "payload removed: {msg}");
    assert_eq!(msg["topic"], "t_override");
    assert_eq!(msg["str1"], json!(1));
    assert_eq!(msg["num1"], json!(1));
    assert_eq!(msg["bool1"], json!(false));
    assert!(msg.get("__user_inject_props__").is_none(), "{msg}");
    flow.unload().await;
}

/// should inject multiple properties using legacy props if needed
#[tokio::test]
async fn should_inject_multiple_properties_using_legacy_props_if_needed() {
    let msg = inject_once(json!([
        {"id": "n1", "type": "inject", "payload": "123", "payloadType": "num", "topic": "foo",
         "props": [{"p": "topic", "vt": "str"}, {"p": "payload"}], "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(msg["topic"], "foo");
    assert_eq!(msg["payload"], json!(123));
}

/// should report invalid JSONata expression
#[tokio::test]
async fn should_report_invalid_jsonata_expression() {
    // Node-RED logs the bad expression and fails every injection; Ferrite compiles typed
    // values at deploy, so the deploy report names the node and the property.
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "props": [{"p": "topic", "v": "t1", "vt": "str"}, {"p": "payload", "v": "@", "vt": "jsonata"}], "wires": [["n2"]], "z": "flow"},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let issue = flow
        .report()
        .issues
        .iter()
        .find(|i| i.node_id.as_deref() == Some("n1"))
        .unwrap_or_else(|| panic!("no issue for n1 in {}", flow.report()))
        .message
        .clone();
    assert!(
        issue.contains("props[1]") && issue.contains("JSONata"),
        "{issue}"
    );
    assert!(
        !flow
            .runtime()
            .running_ids()
            .await
            .contains(&"n1".to_owned())
    );
    flow.expect_nothing("n2", Duration::from_millis(50)).await;
    flow.unload().await;
}

// Ferrite additions: behaviour of 20-inject.js the mocha file does not cover.

/// Evaluation errors are joined with "; " and reach catch nodes with the message.
#[tokio::test]
async fn evaluation_errors_are_joined_and_catchable() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "props": [{"p": "payload", "v": "p", "vt": "str"}], "wires": [["n2"]]},
        {"id": "n2", "type": "helper"},
        {"id": "c", "type": "catch", "wires": [["h"]]},
        {"id": "h", "type": "helper"}
    ]))
    .await;
    flow.receive(
        "n1",
        json!({"__user_inject_props__": [
            {"p": "a", "v": "{bad", "vt": "json"},
            {"p": "topic", "v": "kept", "vt": "str"},
            {"p": "b", "v": "(", "vt": "jsonata"}
        ]}),
    )
    .await;
    let caught = as_json(&flow.next("h").await);
    let message = caught["error"]["message"]
        .as_str()
        .expect("an error message");
    assert_eq!(message.split("; ").count(), 2, "{message}");
    assert!(
        message.contains("JSON") && message.contains("JSONata"),
        "{message}"
    );
    assert_eq!(caught["error"]["source"]["id"], "n1");
    assert_eq!(caught["topic"], "kept");
    flow.expect_nothing("n2", Duration::from_millis(50)).await;
    flow.unload().await;
}

/// A crontab the cron parser rejects is a deploy error naming `crontab`.
#[tokio::test]
async fn bad_crontab_is_a_config_error() {
    let flow = harness::load(json!([
        {"id": "n1", "type": "inject", "crontab": "every day at noon", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let report = flow.report().to_string();
    assert!(
        report.contains("n1") && report.contains("crontab"),
        "{report}"
    );
    flow.unload().await;
}

/// A repeat above 2147483 seconds is a deploy error naming `repeat`.
#[tokio::test]
async fn too_long_repeat_is_a_config_error() {
    let flow = harness::load(json!([
        {"id": "n1", "type": "inject", "repeat": "2147484", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    let report = flow.report().to_string();
    assert!(
        report.contains("n1") && report.contains("repeat"),
        "{report}"
    );
    flow.unload().await;
}

/// With both set, `repeat` wins over `crontab` (a yearly crontab would not fire now).
#[tokio::test]
async fn repeat_wins_over_crontab() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "payload": "r", "payloadType": "str", "repeat": "0.05", "crontab": "0 0 1 1 *", "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    for _ in 0..2 {
        assert_eq!(as_json(&flow.next("n2").await)["payload"], "r");
    }
    flow.unload().await;
}

/// Stopping the node clears its timers: nothing more arrives after a redeploy removes it.
#[tokio::test]
async fn timers_are_cleared_on_close() {
    let mut flow = harness::load(json!([
        {"id": "n1", "type": "inject", "payload": "tick", "repeat": 0.02, "wires": [["n2"]]},
        {"id": "n2", "type": "helper"}
    ]))
    .await;
    assert_eq!(as_json(&flow.next("n2").await)["payload"], "tick");
    let report = flow
        .deploy(json!([{"id": "n2", "type": "helper"}]), DeployKind::Full)
        .await;
    assert!(report.is_clean(), "{report}");
    // Drop what was queued before the stop (a leaking timer would keep this busy), then
    // expect silence.
    for _ in 0..5 {
        if flow
            .next_within("n2", Duration::from_millis(30))
            .await
            .is_none()
        {
            break;
        }
    }
    flow.expect_nothing("n2", Duration::from_millis(200)).await;
    flow.unload().await;
}
