//! The Modbus flow nodes (`modbus-read`, `modbus-getter`, `modbus-flex-getter`,
//! `modbus-write`, `modbus-flex-write`) in flows as node-red-contrib-modbus exports them
//! (numbers as text), against Ferrite's own `modbus-server` node in the same flow and
//! against pymodbus. node-red-contrib-modbus ships no spec tests of message content to
//! port; these check its message shapes (read from its source) and Ferrite's register
//! maps.

use std::time::Duration;

use ferrite_runtime::Value;
use ferrite_runtime::testing::TestFlow;
use serde_json::{Value as Json, json};
use tokio::time::Instant;

use crate::harness::load;
use crate::support::mosquitto::free_port;
use crate::support::pymodbus::Pymodbus;

/// A `modbus-server` (id `srv`) on `port` answering units 1 and 2, and a `modbus-client`
/// (id `mc`) for it with short timeouts.
fn device(port: u16) -> Vec<Json> {
    vec![
        json!({"id": "srv", "type": "modbus-server", "hostname": "127.0.0.1",
               "serverPort": port.to_string(), "responseDelay": "0", "delayUnit": "ms",
               "coilsBufferSize": "1000", "holdingBufferSize": "1000",
               "inputBufferSize": "1000", "discreteBufferSize": "1000", "unitIds": "1,2",
               "wires": [[], [], [], [], []]}),
        client_node(port),
    ]
}

fn client_node(port: u16) -> Json {
    json!({"id": "mc", "type": "modbus-client", "clienttype": "tcp", "tcpHost": "127.0.0.1",
           "tcpPort": port.to_string(), "tcpType": "DEFAULT", "unit_id": "1",
           "clientTimeout": "300", "reconnectTimeout": "100", "commandDelay": "1",
           "parallelUnitIdsAllowed": true})
}

fn with(mut nodes: Vec<Json>, more: Json) -> Json {
    match more {
        Json::Array(more) => nodes.extend(more),
        one => nodes.push(one),
    }
    Json::Array(nodes)
}

/// Writes `values` into the server's `register` area from `address` (a flow write).
async fn store(flow: &TestFlow, register: &str, address: u16, values: Json) {
    flow.receive(
        "srv",
        json!({"payload": {"value": values, "register": register, "address": address,
                           "disableMsgOutput": true}}),
    )
    .await;
}

/// The next message on helper `h` whose payload is `wanted` (earlier polls may predate
/// the values the test stored).
async fn next_with_payload(flow: &mut TestFlow, h: &str, wanted: &Json) -> ferrite_runtime::Msg {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match flow.next_within(h, left).await {
            Some(msg) if msg.payload().map(Value::to_json) == Some(wanted.clone()) => return msg,
            Some(_) => {}
            None => panic!("no message with payload {wanted} on {h}"),
        }
    }
}

/// Waits until node `id` shows its client connected (a node may start before the server
/// it talks to listens; the client then retries).
async fn connected(flow: &mut TestFlow, id: &str) {
    let topic = format!("status/{id}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = flow.runtime().events().retained(&topic);
        if status
            .first()
            .is_some_and(|s| s.data["text"] == "connected")
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never connected: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next caught error that is not about the client still connecting.
async fn next_error(flow: &mut TestFlow, errors: &str) -> Json {
    loop {
        let error = json_of(&flow.next(errors).await, "error");
        if !error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("not connected"))
        {
            return error;
        }
    }
}

fn json_of(msg: &ferrite_runtime::Msg, key: &str) -> Json {
    msg.get(key).map_or(Json::Null, Value::to_json)
}

/// should poll holding registers at its rate and send the values, the raw response and
/// the request, as the contrib node does
#[tokio::test]
async fn modbus_read_polls_and_sends_values_response_and_request() {
    let port = free_port();
    let mut flow = load(with(
        device(port),
        json!([
            {"id": "r", "type": "modbus-read", "name": "meter", "topic": "", "unitid": "",
             "dataType": "HoldingRegister", "adr": "0", "quantity": "3", "rate": "50",
             "rateUnit": "ms", "server": "mc", "wires": [["h1"], ["h2"]]},
            {"id": "h1", "type": "helper"}, {"id": "h2", "type": "helper"}
        ]),
    ))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    store(&flow, "holding", 0, json!([11, 22, 515])).await;
    let msg = next_with_payload(&mut flow, "h1", &json!([11, 22, 515])).await;
    assert_eq!(json_of(&msg, "topic"), json!("polling"));
    assert_eq!(
        json_of(&msg, "responseBuffer"),
        json!({"data": [11, 22, 515], "buffer": {"type": "Buffer", "data": [0, 11, 0, 22, 2, 3]}})
    );
    let input = json_of(&msg, "input");
    assert_eq!(input["topic"], json!("polling"));
    assert_eq!(input["from"], json!("meter"));
    assert_eq!(input["payload"]["fc"], json!(3));
    assert_eq!(input["payload"]["address"], json!(0));
    assert_eq!(input["payload"]["quantity"], json!(3));
    assert_eq!(json_of(&msg, "sendingNodeId"), json!("r"));
    let raw = next_with_payload(&mut flow, "h2", &json_of(&msg, "responseBuffer")).await;
    assert_eq!(json_of(&raw, "values"), json!([11, 22, 515]));
    flow.unload().await;
}

/// a register map reads the issue's eleven non-consecutive blocks in one poll and names
/// typed, scaled values; the raw blocks travel with them
#[tokio::test]
async fn a_register_map_reads_non_consecutive_blocks_as_named_typed_values() {
    let port = free_port();
    let points = json!([
        {"name": "alarm", "address": 1, "type": "bool", "bit": 3},
        {"name": "level", "address": 10, "type": "uint16", "scale": 0.1},
        {"name": "temperature", "address": 55, "type": "float32", "order": "CDAB"},
        {"name": "energy", "address": 69, "type": "int32"},
        {"name": "serial", "address": 72, "type": "string", "length": 3},
        {"name": "total", "address": 100, "type": "uint64", "order": "DCBA"},
        {"name": "setpoint", "address": 170, "type": "int16"}
    ]);
    let mut flow = load(with(
        device(port),
        json!([
            {"id": "r", "type": "modbus-read", "dataType": "HoldingRegister",
             "adr": "1;10;55;69;72;100;120;130;152;160;170",
             "quantity": "1;3;2;2;9;10;5;4;3;7;1", "points": points,
             "rate": "50", "rateUnit": "ms", "server": "mc", "wires": [["h1"], []]},
            {"id": "h1", "type": "helper"}
        ]),
    ))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    store(&flow, "holding", 1, json!([8])).await;
    store(&flow, "holding", 10, json!([215])).await;
    // 21.5 as float32 is 0x41AC0000; CDAB puts the low word first.
    store(&flow, "holding", 55, json!([0, 0x41AC])).await;
    store(&flow, "holding", 69, json!([0xFFFF, 0xFFFE])).await;
    store(&flow, "holding", 72, json!([0x4142, 0x4344, 0])).await;
    // 0x0102030405060708 little endian (DCBA): bytes 08 07 06 05 04 03 02 01.
    store(
        &flow,
        "holding",
        100,
        json!([0x0807, 0x0605, 0x0403, 0x0201]),
    )
    .await;
    store(&flow, "holding", 170, json!([65535])).await;
    let wanted = json!({"alarm": true, "level": 21.5, "temperature": 21.5, "energy": -2,
                        "serial": "ABCD", "total": 0x0102030405060708_i64, "setpoint": -1});
    let msg = next_with_payload(&mut flow, "h1", &wanted).await;
    let blocks = json_of(&msg, "blocks");
    let starts: Vec<Json> = blocks
        .as_array()
        .expect("blocks")
        .iter()
        .map(|b| b["start"].clone())
        .collect();
    assert_eq!(
        starts,
        json!([1, 10, 55, 69, 72, 100, 120, 130, 152, 160, 170])
            .as_array()
            .cloned()
            .unwrap_or_default()
    );
    assert_eq!(blocks[2]["values"], json!([0, 0x41AC]));
    assert_eq!(blocks[4]["count"], json!(9));
    flow.unload().await;
}

/// a unit that stops answering does not delay another unit polled through the same
/// client: its polls keep their pace while the dead unit's fail
#[tokio::test]
async fn a_dead_unit_does_not_delay_the_polls_of_another() {
    let port = free_port();
    let mut flow = load(with(
        device(port),
        json!([
            {"id": "live", "type": "modbus-read", "unitid": "1", "dataType": "HoldingRegister",
             "adr": "0", "quantity": "1", "rate": "100", "rateUnit": "ms", "server": "mc",
             "wires": [["h1"], []]},
            {"id": "dead", "type": "modbus-read", "unitid": "2", "dataType": "HoldingRegister",
             "adr": "0", "quantity": "1", "rate": "100", "rateUnit": "ms", "server": "mc",
             "wires": [[], []]},
            {"id": "c", "type": "catch", "scope": ["dead"], "wires": [["errors"]]},
            {"id": "h1", "type": "helper"}, {"id": "errors", "type": "helper"}
        ]),
    ))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.next("h1").await;
    flow.receive("srv", json!({"payload": {"unitId": 2, "online": false}}))
        .await;
    let error = next_error(&mut flow, "errors").await;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("timeout") || m.contains("suspended")),
        "{error}"
    );
    // Two seconds of unit 1 polls every 100 ms, with the dead unit timing out beside them.
    let start = Instant::now();
    let mut last = start;
    let mut longest = Duration::ZERO;
    let mut polls = 0;
    while start.elapsed() < Duration::from_secs(2) {
        flow.next("h1").await;
        longest = longest.max(last.elapsed());
        last = Instant::now();
        polls += 1;
    }
    assert!(polls >= 14, "{polls} polls of unit 1 in 2 s");
    assert!(
        longest < Duration::from_millis(250),
        "unit 1 waited {longest:?} between polls"
    );
    flow.unload().await;
}

/// polling resumes by itself when the device comes back after a restart, without a
/// redeploy
#[tokio::test]
async fn polling_recovers_after_the_device_restarts() {
    let device = Pymodbus::tcp();
    let port = device.port;
    let mut flow = load(json!([
        client_node(port),
        {"id": "r", "type": "modbus-read", "dataType": "HoldingRegister", "adr": "1",
         "quantity": "2", "rate": "100", "rateUnit": "ms", "server": "mc",
         "wires": [["h1"], []]},
        {"id": "c", "type": "catch", "scope": ["r"], "wires": [["errors"]]},
        {"id": "h1", "type": "helper"}, {"id": "errors", "type": "helper"}
    ]))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    next_with_payload(&mut flow, "h1", &json!([10, 20])).await;
    drop(device);
    flow.next("errors").await;
    // Polls answered before the device went away.
    while flow.next_within("h1", Duration::ZERO).await.is_some() {}
    let _device = Pymodbus::tcp_on(port);
    next_with_payload(&mut flow, "h1", &json!([10, 20])).await;
    flow.unload().await;
}

/// modbus-write and modbus-flex-write write what modbus-getter and modbus-flex-getter then
/// read back
#[tokio::test]
async fn writes_are_read_back_by_the_getters() {
    let port = free_port();
    let mut flow = load(with(
        device(port),
        json!([
            {"id": "w", "type": "modbus-write", "unitid": "", "dataType": "MHoldingRegisters",
             "adr": "5", "quantity": "2", "server": "mc", "wires": [["written"], []]},
            {"id": "fw", "type": "modbus-flex-write", "server": "mc",
             "wires": [["written"], []]},
            {"id": "g", "type": "modbus-getter", "unitid": "", "dataType": "HoldingRegister",
             "adr": "5", "quantity": "2", "server": "mc", "wires": [["got"], ["raw"]]},
            {"id": "fg", "type": "modbus-flex-getter", "server": "mc",
             "wires": [["got"], []]},
            {"id": "written", "type": "helper"}, {"id": "got", "type": "helper"},
            {"id": "raw", "type": "helper"}
        ]),
    ))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    for id in ["w", "fw", "g", "fg"] {
        connected(&mut flow, id).await;
    }
    flow.receive("w", json!({"payload": "7,8", "topic": "set"}))
        .await;
    let written = flow.next("written").await;
    assert_eq!(json_of(&written, "topic"), json!("set"));
    assert_eq!(json_of(&written, "payload")["fc"], json!(16));
    assert_eq!(json_of(&written, "payload")["value"], json!([7, 8]));
    assert_eq!(
        json_of(&written, "responseBuffer"),
        json!({"address": 5, "length": 2})
    );
    flow.receive("g", json!({"topic": "get", "keep": 1})).await;
    let got = flow.next("got").await;
    assert_eq!(json_of(&got, "payload"), json!([7, 8]));
    assert_eq!(
        json_of(&got, "keep"),
        json!(1),
        "the input message travels on"
    );
    assert_eq!(json_of(&flow.next("raw").await, "values"), json!([7, 8]));

    flow.receive(
        "fw",
        json!({"payload": {"value": "true", "fc": "5", "address": "3"}}),
    )
    .await;
    assert_eq!(
        json_of(&flow.next("written").await, "payload")["fc"],
        json!(5)
    );
    flow.receive(
        "fg",
        json!({"payload": "{\"fc\": 1, \"address\": 3, \"quantity\": 2}"}),
    )
    .await;
    // Bits come padded to whole bytes, as modbus-serial hands them to the contrib node.
    assert_eq!(
        json_of(&flow.next("got").await, "payload"),
        json!([true, false, false, false, false, false, false, false])
    );
    flow.unload().await;
}

/// a register map on modbus-write writes {name: value} with each point's type, order and
/// scale
#[tokio::test]
async fn named_values_are_written_through_a_register_map() {
    let port = free_port();
    let points = json!([
        {"name": "setpoint", "address": 20, "type": "float32", "order": "CDAB"},
        {"name": "speed", "address": 22, "type": "int16", "scale": 0.5}
    ]);
    let mut flow = load(with(
        device(port),
        json!([
            {"id": "w", "type": "modbus-write", "dataType": "MHoldingRegisters",
             "points": points, "server": "mc", "wires": [["written"], []]},
            {"id": "g", "type": "modbus-getter", "dataType": "HoldingRegister", "adr": "20",
             "quantity": "3", "server": "mc", "wires": [["got"], []]},
            {"id": "written", "type": "helper"}, {"id": "got", "type": "helper"}
        ]),
    ))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "w").await;
    connected(&mut flow, "g").await;
    flow.receive("w", json!({"payload": {"setpoint": 21.5, "speed": -10}}))
        .await;
    flow.next("written").await;
    flow.receive("g", json!({})).await;
    assert_eq!(
        json_of(&flow.next("got").await, "payload"),
        json!([0, 0x41AC, 65516])
    );
    flow.unload().await;
}

/// a Modbus exception is named in the node error (for Catch) and in the status
#[tokio::test]
async fn an_exception_is_named_in_the_error_and_the_status() {
    let port = free_port();
    let mut flow = load(with(
        device(port),
        json!([
            {"id": "g", "type": "modbus-getter", "dataType": "HoldingRegister", "adr": "2000",
             "quantity": "1", "server": "mc", "wires": [[], []]},
            {"id": "fg", "type": "modbus-flex-getter", "server": "mc", "wires": [[], []]},
            {"id": "c", "type": "catch", "scope": ["g", "fg"], "wires": [["errors"]]},
            {"id": "errors", "type": "helper"}
        ]),
    ))
    .await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    connected(&mut flow, "g").await;
    flow.receive("g", json!({"payload": 1})).await;
    assert_eq!(
        next_error(&mut flow, "errors").await["message"],
        json!("Modbus exception 2 (illegal data address)")
    );
    flow.event(|e| {
        e.topic == "status/g"
            && e.data["text"]
                .as_str()
                .is_some_and(|t| t.contains("illegal data address"))
    })
    .await;
    flow.receive("fg", json!({"payload": {"fc": 7}})).await;
    assert_eq!(
        json_of(&flow.next("errors").await, "error")["message"],
        json!("FC Not Valid")
    );
    flow.unload().await;
}

/// a broken map is a deploy error naming the key
#[tokio::test]
async fn a_bad_register_map_is_a_deploy_error() {
    let flow = load(json!([
        client_node(free_port()),
        {"id": "r", "type": "modbus-read", "dataType": "HoldingRegister", "adr": "1;10",
         "quantity": "1", "rate": "1", "rateUnit": "s", "server": "mc", "wires": [[], []]},
        {"id": "bad-rate", "type": "modbus-read", "dataType": "HoldingRegister", "adr": "1",
         "quantity": "1", "rate": "1", "rateUnit": "d", "server": "mc", "wires": [[], []]}
    ]))
    .await;
    let report = flow.report().to_string();
    assert!(report.contains("quantity"), "{report}");
    assert!(report.contains("rateUnit"), "{report}");
}
