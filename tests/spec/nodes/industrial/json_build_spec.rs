//! Tests of the `json-build` node (Ferrite's own; no Node-RED spec to port).
//!
//! Times come from the message so results are exact. The local-time formats (`iso-local`,
//! `strftime`) depend on the machine's zone, and setting `TZ` is unsafe in a multi-threaded
//! test binary, so their output is read back by a second json-build node and must denote
//! the same instant; the node's unit tests compare them with chrono's own formatting.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrite_runtime::testing::TestFlow;
use serde_json::{Value as Json, json};

use crate::harness;

const QUIET: Duration = Duration::from_millis(50);
/// 2026-11-22T18:00:00.000Z.
const T0_MS: i64 = 1_795_370_400_000;
const IMEI: &str = "356938035643809";

/// A tab whose env has `IMEI`, `VK`, `LINE`, a global-config env with `SITE`, the json-build node `jb`
/// with `config` wired to helper `h`, and a catch node for `jb` wired to helper `caught`.
fn flow_of(config: Json) -> Json {
    let mut node = json!({"id": "jb", "type": "json-build", "z": "t1", "wires": [["h"]]});
    if let (Some(node), Json::Object(extra)) = (node.as_object_mut(), config) {
        node.extend(extra);
    }
    json!([
        {"id": "gc", "type": "global-config", "env": [{"name": "SITE", "value": "plant-7", "type": "str"}]},
        {"id": "t1", "type": "tab", "env": [
            {"name": "IMEI", "value": IMEI, "type": "str"},
            {"name": "VK", "value": "readings", "type": "str"},
            {"name": "LINE", "value": "3", "type": "str"}
        ]},
        node,
        {"id": "c", "z": "t1", "type": "catch", "scope": ["jb"], "wires": [["caught"]]},
        {"id": "h", "z": "t1", "type": "helper"},
        {"id": "caught", "z": "t1", "type": "helper"}
    ])
}

/// Loads the node; its config must deploy cleanly.
async fn load(config: Json) -> TestFlow {
    let flow = harness::load(flow_of(config)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow
}

/// Sends `msg` through a node with `config` and returns the output message as JSON.
async fn run(config: Json, msg: Json) -> Json {
    let mut flow = load(config).await;
    flow.receive("jb", msg).await;
    let out = flow.next("h").await.as_value().to_json();
    flow.unload().await;
    out
}

/// Sends `msg` and returns the error message a Catch node gets; checks the caught message
/// is the input and that nothing was sent.
async fn caught_error(config: Json, msg: Json) -> String {
    let mut flow = load(config).await;
    flow.receive("jb", msg.clone()).await;
    let caught = flow.next("caught").await.as_value().to_json();
    assert_eq!(
        caught["payload"], msg["payload"],
        "the caught msg is the input"
    );
    flow.expect_nothing("h", QUIET).await;
    flow.unload().await;
    caught["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The message of the single deploy issue a config gives; it must name node `jb`.
async fn deploy_issue(config: Json) -> String {
    let flow = harness::load(flow_of(config)).await;
    let report = flow.report().clone();
    flow.unload().await;
    assert_eq!(report.issues.len(), 1, "{report}");
    let issue = &report.issues[0];
    assert_eq!(issue.node_id.as_deref(), Some("jb"));
    assert_eq!(issue.node_type.as_deref(), Some("json-build"));
    issue.message.clone()
}

/// Each field type (str, num, msg, flow, global, env, jsonata, jsonpath) gives its value;
/// keys keep their order and the rest of the message passes on.
#[tokio::test]
async fn fields_of_every_type_are_evaluated_in_order() {
    let mut flow = harness::load(json!([
        {"id": "t1", "type": "tab", "env": [{"name": "IMEI", "value": IMEI, "type": "str"}]},
        {"id": "ctx", "z": "t1", "type": "change", "rules": [
            {"t": "set", "p": "line", "pt": "flow", "to": "L1", "tot": "str"},
            {"t": "set", "p": "plant", "pt": "global", "to": "P7", "tot": "str"}
        ], "wires": [["jb"]]},
        {"id": "jb", "z": "t1", "type": "json-build", "ts": "time", "tsType": "msg",
         "device": "IMEI", "deviceType": "env", "location": "line", "locationType": "flow",
         "values": [
            {"key": "s", "value": "ok", "valueType": "str"},
            {"key": "n", "value": "42", "valueType": "num"},
            {"key": "m", "value": "payload.temp", "valueType": "msg"},
            {"key": "g", "value": "plant", "valueType": "global"},
            {"key": "e", "value": "IMEI", "valueType": "env"},
            {"key": "j", "value": "payload.temp * 2", "valueType": "jsonata"},
            {"key": "one", "value": "$.payload.registers[3]", "valueType": "jsonpath"},
            {"key": "many", "value": "$.payload.registers[1:3]", "valueType": "jsonpath"},
            {"key": "root", "value": "$.topic", "valueType": "jsonpath"}
         ], "wires": [["h"]]},
        {"id": "h", "z": "t1", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.receive(
        "ctx",
        json!({"topic": "plc1", "time": T0_MS, "payload": {"temp": 21.5, "registers": [10, 20, 30, 40]}}),
    )
    .await;
    let msg = flow.next("h").await;
    assert_eq!(
        msg.payload()
            .map(|p| p.to_json_string())
            .unwrap_or_default(),
        format!(
            r#"{{"timestamp":"2026-11-22T18:00:00.000Z","device":"{IMEI}","location":"L1","values":{{"s":"ok","n":42,"m":21.5,"g":"P7","e":"{IMEI}","j":43,"one":40,"many":[20,30],"root":"plc1"}}}}"#
        )
    );
    let msg = msg.as_value().to_json();
    assert_eq!(msg["topic"], "plc1");
    assert_eq!(msg["time"], T0_MS);
    flow.unload().await;
}

/// iso, unix, unix-ms and none render a time given in the message, as a number of ms or
/// (through JSONPath) as an ISO text with an offset.
#[tokio::test]
async fn timestamp_formats_render_the_message_time() {
    let cases = [
        ("iso", json!("2026-11-22T18:00:00.999Z")),
        ("unix", json!(1_795_370_400)),
        ("unix-ms", json!(T0_MS + 999)),
    ];
    for (format, expected) in cases {
        for (ts, ts_type) in [("time", "msg"), ("$.meta.at", "jsonpath")] {
            let out = run(
                json!({"tsFormat": format, "ts": ts, "tsType": ts_type}),
                json!({"time": T0_MS + 999, "meta": {"at": "2026-11-22T19:00:00.999+01:00"}}),
            )
            .await;
            assert_eq!(out["payload"]["timestamp"], expected, "{format} from {ts}");
        }
    }
    let out = run(
        json!({"tsFormat": "none", "ts": "time", "tsType": "msg"}),
        json!({"time": "not read"}),
    )
    .await;
    assert_eq!(
        out["payload"],
        json!({"device": "", "location": "", "values": {}})
    );
}

/// iso-local and strftime write local time that reads back as the same instant.
#[tokio::test]
async fn local_time_formats_denote_the_same_instant() {
    let formats = [
        json!({"tsFormat": "iso-local"}),
        json!({"tsFormat": "strftime", "tsPattern": "%Y-%m-%dT%H:%M:%S%.3f%:z"}),
    ];
    for format in formats {
        let mut writer = json!({"id": "jb", "z": "t1", "type": "json-build", "ts": "time", "tsType": "msg",
            "property": "local", "deviceKey": "", "locationKey": "", "valuesKey": "", "wires": [["reader"]]});
        if let (Some(node), Json::Object(extra)) = (writer.as_object_mut(), format.clone()) {
            node.extend(extra);
        }
        let mut flow = harness::load(json!([
            {"id": "t1", "type": "tab"},
            writer,
            {"id": "reader", "z": "t1", "type": "json-build", "ts": "local.timestamp", "tsType": "msg",
             "tsFormat": "unix-ms", "property": "back", "deviceKey": "", "locationKey": "", "valuesKey": "",
             "wires": [["h"]]},
            {"id": "h", "z": "t1", "type": "helper"}
        ]))
        .await;
        assert!(flow.report().is_clean(), "{}", flow.report());
        flow.receive("jb", json!({"time": T0_MS + 123})).await;
        let out = flow.next("h").await.as_value().to_json();
        let local = out["local"]["timestamp"].as_str().unwrap_or_default();
        // 2026-11-22T19:00:00.123+01:00: milliseconds, then the offset.
        assert_eq!(local.len(), 29, "{format}: {local}");
        assert_eq!(&local[19..23], ".123", "{format}: {local}");
        assert!(matches!(&local[23..24], "+" | "-"), "{format}: {local}");
        assert_eq!(out["back"]["timestamp"], T0_MS + 123, "{format}: {local}");
        flow.unload().await;
    }
}

/// A strftime pattern with the epoch seconds renders them, whatever the zone.
#[tokio::test]
async fn strftime_patterns_render_chrono_items() {
    let out = run(
        json!({"tsFormat": "strftime", "tsPattern": "%s [%%]", "ts": "time", "tsType": "msg"}),
        json!({"time": T0_MS}),
    )
    .await;
    assert_eq!(out["payload"]["timestamp"], "1795370400 [%]");
}

/// Without a configured time the timestamp is now.
#[tokio::test]
async fn the_time_is_now_unless_the_message_gives_one() {
    let now_ms = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or_default())
    };
    let before = now_ms();
    let out = run(json!({"tsFormat": "unix-ms"}), json!({"payload": 1})).await;
    let after = now_ms();
    let ts = out["payload"]["timestamp"].as_i64().unwrap_or_default();
    assert!(before <= ts && ts <= after, "{before} <= {ts} <= {after}");
    let out = run(json!({}), json!({})).await;
    let iso = out["payload"]["timestamp"].as_str().unwrap_or_default();
    assert!(iso.len() == 24 && iso.ends_with('Z'), "{iso}");
}

/// Empty tsKey, deviceKey and locationKey omit those fields; an empty valuesKey puts the
/// values at the top level, and a custom valuesKey names their object.
#[tokio::test]
async fn keys_are_configurable_and_empty_keys_omit_fields() {
    let values = json!([{"key": "a", "value": "1", "valueType": "num"}]);
    let out = run(
        json!({"tsKey": "", "deviceKey": "", "locationKey": "", "valuesKey": "", "values": values}),
        json!({}),
    )
    .await;
    assert_eq!(out["payload"], json!({"a": 1}));
    let out = run(
        json!({"tsKey": "t", "ts": "time", "tsType": "msg", "tsFormat": "unix", "deviceKey": "dev",
               "device": "d1", "locationKey": "", "valuesKey": "data", "values": values}),
        json!({"time": T0_MS}),
    )
    .await;
    assert_eq!(
        out["payload"],
        json!({"t": 1_795_370_400, "dev": "d1", "data": {"a": 1}})
    );
}

/// ${VAR} in text fields, keys included, is replaced by tab and global env values at deploy.
#[tokio::test]
async fn env_references_work_in_text_fields() {
    let out = run(
        json!({"tsFormat": "none", "device": "${IMEI}", "location": "${SITE}/line-${LINE}", "valuesKey": "${VK}",
               "values": [{"key": "${SITE}", "value": "${IMEI}", "valueType": "str"},
                          {"key": "t-${LINE}", "value": "\"${LINE}\"", "valueType": "jsonata"}]}),
        json!({}),
    )
    .await;
    // Inside a longer text too; a JSONata expression is left to JSONata.
    assert_eq!(
        out["payload"],
        json!({"device": IMEI, "location": "plant-7/line-3", "readings": {"plant-7": IMEI, "t-3": "${LINE}"}})
    );
}

/// The MODB preset emits the loggers' format, keys in order, with the IMEI from env and N
/// counted from V.
#[tokio::test]
async fn modb_preset_emits_consecutive_registers_exactly() {
    let out = run(
        json!({"layout": "modb", "output": "string", "ts": "time", "tsType": "msg",
               "device": "IMEI", "deviceType": "env", "unitId": "1", "unitIdType": "num",
               "address": "192.168.1.10", "addressType": "str",
               "start": "$.payload.start", "startType": "jsonpath",
               "registers": "payload.values", "registersType": "msg"}),
        json!({"time": T0_MS, "payload": {"start": 100, "values": [1, 2, 3]}}),
    )
    .await;
    assert_eq!(
        out["payload"],
        format!(
            r#"{{"IMEI":"{IMEI}","TYPE":"MODB","TS":1795370400,"ID":1,"A":"192.168.1.10","ST":100,"N":3,"V":[1,2,3],"P":3}}"#
        )
    );
    let out = run(
        json!({"layout": "modb", "output": "string", "ts": "time", "tsType": "msg",
               "tsFormat": "iso", "device": "gw", "count": "6", "countType": "num", "fc": "4"}),
        json!({"time": T0_MS, "payload": [1.5, 2.5, 3.5]}),
    )
    .await;
    assert_eq!(
        out["payload"],
        r#"{"IMEI":"gw","TYPE":"MODB","TS":"2026-11-22T18:00:00.000Z","ID":1,"A":"","ST":0,"N":6,"V":[1.5,2.5,3.5],"P":4}"#
    );
}

/// Non-consecutive blocks give STX, NX (from the blocks of V, or configured), V flattened
/// and PX (a single function code repeated per block).
#[tokio::test]
async fn modb_preset_emits_register_blocks_exactly() {
    let modb = json!({"layout": "modb", "output": "string", "ts": "time", "tsType": "msg",
        "device": "gw", "start": "[0,100]", "startType": "json", "fc": "[3,4]", "fcType": "json"});
    let out = run(
        modb.clone(),
        json!({"time": T0_MS, "payload": [[1, 2], [3, 4, 5]]}),
    )
    .await;
    assert_eq!(
        out["payload"],
        r#"{"IMEI":"gw","TYPE":"MODB","TS":1795370400,"ID":1,"A":"","STX":[0,100],"NX":[2,3],"V":[1,2,3,4,5],"PX":[3,4]}"#
    );
    let out = run(
        json!({"layout": "modb", "output": "string", "ts": "time", "tsType": "msg", "device": "gw",
               "start": "$.payload.starts", "startType": "jsonpath",
               "count": "payload.counts", "countType": "msg", "registers": "payload.v"}),
        json!({"time": T0_MS, "payload": {"starts": [5, 50], "counts": [1, 2], "v": [7, 8, 9]}}),
    )
    .await;
    assert_eq!(
        out["payload"],
        r#"{"IMEI":"gw","TYPE":"MODB","TS":1795370400,"ID":1,"A":"","STX":[5,50],"NX":[1,2],"V":[7,8,9],"PX":[3,3]}"#
    );
}

/// Blocks whose NX do not add up to the length of V are an error for that message.
#[tokio::test]
async fn modb_block_length_mismatch_is_a_message_error() {
    let error = caught_error(
        json!({"layout": "modb", "device": "gw", "start": "[0,100]", "startType": "json",
               "count": "[2,2]", "countType": "json"}),
        json!({"payload": [1, 2, 3]}),
    )
    .await;
    assert_eq!(error, "NX adds up to 4 registers but V has 3");
    let error = caught_error(
        json!({"layout": "modb", "device": "gw", "start": "[0,100]", "startType": "json",
               "fc": "[3]", "fcType": "json"}),
        json!({"payload": [[1], [2]]}),
    )
    .await;
    assert_eq!(error, "STX has 2 blocks but PX has 1");
}

/// The node-level hex flag encodes every string but the timestamp and TYPE; a value's own
/// flag encodes that value only.
#[tokio::test]
async fn hex_encodes_string_values() {
    let out = run(
        json!({"hex": true, "ts": "time", "tsType": "msg", "device": "abc", "location": "é",
        "values": [
            {"key": "s", "value": "AB", "valueType": "str"},
            {"key": "n", "value": "5", "valueType": "num"},
            {"key": "list", "value": "payload", "valueType": "msg"}
        ]}),
        json!({"time": T0_MS, "payload": ["a", 1]}),
    )
    .await;
    assert_eq!(
        out["payload"],
        json!({"timestamp": "2026-11-22T18:00:00.000Z", "device": "616263", "location": "c3a9",
               "values": {"s": "4142", "n": 5, "list": ["61", 1]}})
    );
    let out = run(
        json!({"tsFormat": "none", "device": "abc", "values": [
            {"key": "plain", "value": "abc", "valueType": "str"},
            {"key": "coded", "value": "abc", "valueType": "str", "hex": true}
        ]}),
        json!({}),
    )
    .await;
    assert_eq!(
        out["payload"],
        json!({"device": "abc", "location": "", "values": {"plain": "abc", "coded": "616263"}})
    );
    let out = run(
        json!({"layout": "modb", "hex": true, "output": "string", "ts": "time", "tsType": "msg",
               "device": "gw", "address": "COM1"}),
        json!({"time": T0_MS, "payload": ["ok"]}),
    )
    .await;
    assert_eq!(
        out["payload"],
        r#"{"IMEI":"6777","TYPE":"MODB","TS":1795370400,"ID":1,"A":"434f4d31","ST":0,"N":1,"V":["6f6b"],"P":3}"#
    );
}

/// The result can go to another property, as an object or as its JSON text; the payload
/// and the rest of the message are left alone.
#[tokio::test]
async fn output_goes_to_the_configured_property_as_object_or_string() {
    let config = |output: &str, property: &str| {
        json!({"output": output, "property": property, "tsFormat": "none", "device": "d",
               "values": [{"key": "v", "value": "payload", "valueType": "msg"}]})
    };
    let out = run(
        config("string", "telemetry"),
        json!({"payload": 7, "topic": "t"}),
    )
    .await;
    assert_eq!(
        out["telemetry"],
        r#"{"device":"d","location":"","values":{"v":7}}"#
    );
    assert_eq!(out["payload"], 7);
    assert_eq!(out["topic"], "t");
    let out = run(config("object", "data.out"), json!({"payload": 7})).await;
    assert_eq!(
        out["data"]["out"],
        json!({"device": "d", "location": "", "values": {"v": 7}})
    );
    assert_eq!(out["payload"], 7);
}

/// A JSONPath that matches nothing is an error for that message naming the path.
#[tokio::test]
async fn a_jsonpath_without_a_match_is_a_message_error() {
    let error = caught_error(
        json!({"values": [
            {"key": "r0", "value": "$.payload.registers[0]", "valueType": "jsonpath"},
            {"key": "r9", "value": "$.payload.registers[9]", "valueType": "jsonpath"}
        ]}),
        json!({"payload": {"registers": [1, 2, 3]}}),
    )
    .await;
    assert_eq!(
        error,
        "values[1].value: JSONPath $.payload.registers[9] matched nothing"
    );
}

/// An undefined msg property is an error naming the field, never a silent null.
#[tokio::test]
async fn an_undefined_field_is_a_message_error() {
    let error = caught_error(
        json!({"device": "serial", "deviceType": "msg"}),
        json!({"payload": 1}),
    )
    .await;
    assert_eq!(error, "device: msg.serial is undefined");
}

/// A message time that is neither milliseconds nor an ISO text is an error.
#[tokio::test]
async fn an_unparseable_message_time_is_a_message_error() {
    let error = caught_error(
        json!({"ts": "payload.at", "tsType": "msg"}),
        json!({"payload": {"at": "yesterday"}}),
    )
    .await;
    assert!(
        error.starts_with(r#"ts: not a time: "yesterday""#),
        "{error}"
    );
}

/// A bad JSONPath, strftime pattern or duplicate key is a deploy issue naming the node and
/// the field.
#[tokio::test]
async fn bad_config_is_a_deploy_issue_naming_the_field() {
    let issue = deploy_issue(json!({"values": [
        {"key": "ok", "value": "$.payload", "valueType": "jsonpath"},
        {"key": "bad", "value": "$.payload[", "valueType": "jsonpath"}
    ]}))
    .await;
    assert!(
        issue.starts_with("values[1].value: invalid JSONPath $.payload["),
        "{issue}"
    );
    let issue =
        deploy_issue(json!({"layout": "modb", "start": "$$", "startType": "jsonpath"})).await;
    assert!(issue.starts_with("start: invalid JSONPath $$"), "{issue}");
    let issue = deploy_issue(json!({"tsFormat": "strftime", "tsPattern": "%Y %Q"})).await;
    assert!(issue.starts_with("tsPattern: %Y %Q"), "{issue}");
    let issue = deploy_issue(json!({"values": [
        {"key": "a", "value": "1"},
        {"key": "a", "value": "2"}
    ]}))
    .await;
    assert_eq!(issue, "values[1].key: duplicate key 'a'");
    let issue =
        deploy_issue(json!({"valuesKey": "", "values": [{"key": "device", "value": "1"}]})).await;
    assert_eq!(issue, "values[0].key: duplicate key 'device'");
}
