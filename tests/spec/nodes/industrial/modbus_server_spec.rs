//! Spec of `modbus-server` (node-red-contrib-modbus `modbus-server.js`), driven by real
//! peers: pymodbus's client (`tests/spec/support/modbus_client.py`, run with the virtual
//! environment `scripts/test` installs under `target/pyenv`) and raw sockets for the exact
//! bytes (exceptions, transaction ids, offline units, RTU CRCs).
//!
//! Synchronisation: the node shows the port it listens on in its status (`active (port
//! N)`); an input message is known to be applied when the outputs of a later one arrive
//! (a node handles its inbox in order). Every wait has a deadline.

use std::process::Command;
use std::time::{Duration, Instant};

use ferrite_runtime::DeployKind;
use ferrite_runtime::testing::TestFlow;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness;

const WAIT: Duration = Duration::from_secs(5);

/// A server node `server` on a free loopback port with `config` merged in, its five
/// outputs to helpers `holding`, `coils`, `input`, `discrete`, `request`, and a catch node
/// sending its errors to helper `errors`.
fn server_flow(config: Json) -> Json {
    let mut node = json!({
        "id": "server", "type": "modbus-server", "name": "", "logEnabled": false,
        "hostname": "127.0.0.1", "serverPort": "0", "responseDelay": 0, "delayUnit": "ms",
        "coilsBufferSize": "100", "holdingBufferSize": 100, "inputBufferSize": 100,
        "discreteBufferSize": 100, "showErrors": false,
        "wires": [["holding"], ["coils"], ["input"], ["discrete"], ["request"]]
    });
    if let (Some(node), Json::Object(extra)) = (node.as_object_mut(), config) {
        node.extend(extra);
    }
    json!([
        node,
        {"id": "holding", "type": "helper"}, {"id": "coils", "type": "helper"},
        {"id": "input", "type": "helper"}, {"id": "discrete", "type": "helper"},
        {"id": "request", "type": "helper"},
        {"id": "catch", "type": "catch", "scope": ["server"], "uncaught": false, "wires": [["errors"]]},
        {"id": "errors", "type": "helper"}
    ])
}

/// Loads [`server_flow`] and returns it with the port the server listens on.
async fn start(config: Json) -> (TestFlow, u16) {
    let flow = harness::load(server_flow(config)).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    let text = status_text(&flow, |text| text.starts_with("active (port ")).await;
    let port = text
        .trim_start_matches("active (port ")
        .trim_end_matches(')')
        .parse()
        .expect("a port number in the status");
    (flow, port)
}

/// The node's status text once `wanted` accepts it; fails after [`WAIT`].
async fn status_text(flow: &TestFlow, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = flow.runtime().events().retained("status/server");
        if let Some(text) = status.first().and_then(|s| s.data["text"].as_str())
            && wanted(text)
        {
            return text.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "status within {WAIT:?}, have {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs pymodbus's client against the server and returns one result per operation.
async fn pymodbus(port: u16, framer: &str, ops: Json) -> Vec<Json> {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/target/pyenv/bin/python");
    assert!(
        std::path::Path::new(&python).exists(),
        "{python} is missing: run scripts/test, or python3 -m venv target/pyenv && \
         target/pyenv/bin/pip install \"pymodbus>=3.16,<4\""
    );
    let mut command = Command::new(python);
    command.args([
        format!("{root}/tests/spec/support/modbus_client.py"),
        port.to_string(),
        framer.to_owned(),
        ops.to_string(),
    ]);
    let output = tokio::time::timeout(
        WAIT * 2,
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .expect("pymodbus finishes in time")
    .expect("joins")
    .expect("runs");
    assert!(
        output.status.success(),
        "pymodbus failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON list")
}

/// Sends an input message and returns the five output messages as JSON.
async fn outputs(flow: &mut TestFlow, payload: Json) -> Vec<Json> {
    flow.receive("server", json!({"payload": payload})).await;
    let mut out = Vec::new();
    for id in ["holding", "coils", "input", "discrete", "request"] {
        out.push(flow.next(id).await.as_value().to_json());
    }
    out
}

/// Sends an input message that sends nothing, and waits until the node has handled it.
async fn apply(flow: &mut TestFlow, payload: Json) {
    flow.receive("server", json!({"payload": payload})).await;
    outputs(flow, json!("applied")).await;
}

/// The bytes of a buffer output (`{"type": "Buffer", "data": [...]}` once JSON).
fn buffer(msg: &Json) -> Vec<u8> {
    msg["payload"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a buffer payload in {msg}"))
        .iter()
        .map(|b| b.as_u64().expect("a byte") as u8)
        .collect()
}

async fn connect(port: u16) -> TcpStream {
    tokio::time::timeout(WAIT, TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connects in time")
        .expect("connects")
}

/// An MBAP frame.
fn mbap(transaction: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut frame = transaction.to_be_bytes().to_vec();
    frame.extend([0, 0]);
    frame.extend(u16::try_from(pdu.len() + 1).expect("short").to_be_bytes());
    frame.push(unit);
    frame.extend(pdu);
    frame
}

/// Reads one MBAP frame within `wait`: `(transaction, unit, pdu)`, or `None` when nothing
/// comes.
async fn read_mbap(stream: &mut TcpStream, wait: Duration) -> Option<(u16, u8, Vec<u8>)> {
    let mut header = [0u8; 7];
    match tokio::time::timeout(wait, stream.read_exact(&mut header)).await {
        Err(_) => return None,
        Ok(read) => read.expect("reads a header"),
    };
    let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let mut pdu = vec![0u8; length - 1];
    tokio::time::timeout(WAIT, stream.read_exact(&mut pdu))
        .await
        .expect("the rest of the frame in time")
        .expect("reads the PDU");
    Some((u16::from_be_bytes([header[0], header[1]]), header[6], pdu))
}

/// CRC-16/MODBUS, computed here independently of the code under test.
fn crc(bytes: &[u8]) -> [u8; 2] {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc.to_le_bytes()
}

/// pymodbus's client is served every function code: 1-6, 15 and 16
#[tokio::test]
async fn pymodbus_is_served_every_function_code() {
    let (mut flow, port) = start(json!({})).await;
    // Discrete inputs and input registers are read-only for clients: the flow sets them.
    apply(&mut flow, json!({"register": "discrete", "address": 3, "value": [true, false, true], "disableMsgOutput": true})).await;
    outputs(
        &mut flow,
        json!({"register": "input", "address": 10, "value": [11, 22]}),
    )
    .await;
    let results = pymodbus(
        port,
        "socket",
        json!([
            {"fc": 5, "address": 2, "value": true},
            {"fc": 15, "address": 5, "values": [true, true, false, true]},
            {"fc": 1, "address": 0, "count": 9},
            {"fc": 2, "address": 2, "count": 5},
            {"fc": 6, "address": 7, "value": 4660},
            {"fc": 16, "address": 8, "values": [1, 65535, 3]},
            {"fc": 3, "address": 7, "count": 4},
            {"fc": 4, "address": 9, "count": 3}
        ]),
    )
    .await;
    assert_eq!(
        results,
        [
            json!({"ok": true}),
            json!({"ok": true}),
            json!({"bits": [false, false, true, false, false, true, true, false, true]}),
            json!({"bits": [false, true, false, true, false]}),
            json!({"ok": true}),
            json!({"ok": true}),
            json!({"registers": [4660, 1, 65535, 3]}),
            json!({"registers": [0, 11, 22]}),
        ]
    );
    flow.unload().await;
}

/// values a flow writes by message are read by a client, as the contrib node's injection
#[tokio::test]
async fn values_written_by_message_are_read_by_a_client() {
    let (mut flow, port) = start(json!({})).await;
    outputs(
        &mut flow,
        json!({"register": "holding", "address": 0, "value": 513}),
    )
    .await;
    outputs(
        &mut flow,
        json!({"register": "HOLDING", "address": 1, "value": [-1, "7", 12.9, true]}),
    )
    .await;
    outputs(
        &mut flow,
        json!({"register": "coils", "address": 98, "value": [1, 0]}),
    )
    .await;
    let results = pymodbus(
        port,
        "socket",
        json!([{"fc": 3, "address": 0, "count": 5}, {"fc": 1, "address": 97, "count": 3}]),
    )
    .await;
    assert_eq!(results[0], json!({"registers": [513, 65535, 7, 12, 1]}));
    assert_eq!(results[1], json!({"bits": [false, true, false]}));
    flow.unload().await;
}

/// client writes show up in the buffers the node sends on its outputs, with the input message
#[tokio::test]
async fn client_writes_show_up_in_the_outputs() {
    let (mut flow, port) = start(json!({})).await;
    let results = pymodbus(
        port,
        "socket",
        json!([
            {"fc": 16, "address": 1, "values": [258, 772]},
            {"fc": 15, "address": 9, "values": [true, false, true]}
        ]),
    )
    .await;
    assert_eq!(results, [json!({"ok": true}), json!({"ok": true})]);
    let out = outputs(&mut flow, json!("tick")).await;
    assert_eq!(out[0]["type"], "holding");
    assert_eq!(out[0]["message"]["payload"], "tick");
    assert_eq!(buffer(&out[0]).len(), 200, "two bytes per register");
    assert_eq!(&buffer(&out[0])[..6], [0, 0, 1, 2, 3, 4]);
    assert_eq!(out[1]["type"], "coils");
    // Coils 9 and 11: bits 1 and 3 of the second byte.
    assert_eq!(&buffer(&out[1])[..3], [0, 0b0000_1010, 0]);
    assert_eq!(out[2]["type"], "input");
    assert_eq!(out[3]["type"], "discrete");
    assert_eq!(buffer(&out[3]).len(), 13, "eight bits per byte");
    assert_eq!(out[4]["payload"], "request");
    assert_eq!(out[4]["type"], "message");
    assert_eq!(out[4]["message"]["payload"], "tick");
    flow.unload().await;
}

/// disableMsgOutput writes without sending anything
#[tokio::test]
async fn disable_msg_output_writes_without_sending() {
    let (mut flow, _port) = start(json!({})).await;
    flow.receive(
        "server",
        json!({"payload": {"register": "input", "address": 0, "value": 9, "disableMsgOutput": true}}),
    )
    .await;
    let out = outputs(&mut flow, json!({})).await;
    assert_eq!(
        out[4]["message"]["payload"],
        json!({}),
        "the first sent nothing"
    );
    assert_eq!(&buffer(&out[2])[..2], [0, 9]);
    flow.unload().await;
}

/// unknown function codes, addresses beyond a buffer and bad values answer exceptions 1, 2 and 3
#[tokio::test]
async fn exceptions_1_2_and_3_are_answered() {
    let (flow, port) = start(json!({})).await;
    let mut stream = connect(port).await;
    let cases: [(&[u8], [u8; 2]); 5] = [
        (&[43, 14, 1, 0], [0xAB, 1]),
        (&[3, 0, 99, 0, 2], [0x83, 2]),
        (&[5, 0, 100, 0xFF, 0], [0x85, 2]),
        (&[3, 0, 0, 0, 126], [0x83, 3]),
        (&[5, 0, 1, 0x12, 0x34], [0x85, 3]),
    ];
    for (i, (pdu, answer)) in cases.iter().enumerate() {
        let transaction = 100 + i as u16;
        stream
            .write_all(&mbap(transaction, 1, pdu))
            .await
            .expect("sends");
        let got = read_mbap(&mut stream, WAIT).await.expect("an answer");
        assert_eq!(got, (transaction, 1, answer.to_vec()), "{pdu:?}");
    }
    // pymodbus reads exception 2 the same way.
    let results = pymodbus(
        port,
        "socket",
        json!([{"fc": 4, "address": 100, "count": 1}]),
    )
    .await;
    assert_eq!(results, [json!({"exception": 2})]);
    flow.unload().await;
}

/// delayed answers keep the order of their requests and carry their own transaction ids while the server keeps reading
#[tokio::test]
async fn delayed_answers_keep_their_order_and_transaction_ids() {
    let delay = Duration::from_millis(300);
    let (mut flow, port) = start(json!({"responseDelay": "300", "delayUnit": "ms"})).await;
    apply(&mut flow, json!({"register": "holding", "address": 0, "value": [10, 20, 30], "disableMsgOutput": true})).await;
    let mut stream = connect(port).await;
    let mut requests = Vec::new();
    for (transaction, address) in [(0xBEEF, 2u8), (7, 0), (0xFFFF, 1)] {
        requests.extend(mbap(transaction, 1, &[3, 0, address, 0, 1]));
    }
    let sent = Instant::now();
    stream.write_all(&requests).await.expect("sends");
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(read_mbap(&mut stream, WAIT).await.expect("an answer"));
    }
    let took = sent.elapsed();
    assert_eq!(
        answers,
        [
            (0xBEEF, 1, vec![3, 2, 0, 30]),
            (7, 1, vec![3, 2, 0, 10]),
            (0xFFFF, 1, vec![3, 2, 0, 20]),
        ]
    );
    assert!(took >= delay, "answered after {took:?}, before the delay");
    // One delay for all three: the requests were read while the first answer waited.
    assert!(
        took < delay * 3,
        "answered after {took:?}: one request at a time"
    );
    flow.unload().await;
}

/// a unit taken offline gets no answer while other units keep answering, until it is back online
#[tokio::test]
async fn an_offline_unit_gets_no_answer_while_others_answer() {
    let (mut flow, port) = start(json!({})).await;
    apply(&mut flow, json!({"unitId": 2, "online": false})).await;
    let mut stream = connect(port).await;
    let read = [3, 0, 0, 0, 1];
    stream.write_all(&mbap(1, 2, &read)).await.expect("sends");
    stream.write_all(&mbap(2, 1, &read)).await.expect("sends");
    let answer = read_mbap(&mut stream, WAIT).await.expect("unit 1 answers");
    assert_eq!((answer.0, answer.1), (2, 1));
    assert_eq!(
        read_mbap(&mut stream, Duration::from_millis(300)).await,
        None,
        "unit 2 is silent"
    );
    // pymodbus times out on unit 2 and is answered on unit 1.
    let results = pymodbus(
        port,
        "socket",
        json!([{"fc": 3, "address": 0, "unit": 1}, {"fc": 3, "address": 0, "unit": 2}]),
    )
    .await;
    assert_eq!(results[0], json!({"registers": [0]}));
    assert!(results[1].get("error").is_some(), "{}", results[1]);
    apply(&mut flow, json!({"unitId": "2", "online": true})).await;
    stream.write_all(&mbap(3, 2, &read)).await.expect("sends");
    let answer = read_mbap(&mut stream, WAIT)
        .await
        .expect("unit 2 answers again");
    assert_eq!((answer.0, answer.1), (3, 2));
    flow.unload().await;
}

/// unitIds limits the units answered
#[tokio::test]
async fn unit_ids_limit_the_units_answered() {
    let (flow, port) = start(json!({"unitIds": "1, 5"})).await;
    let results = pymodbus(
        port,
        "socket",
        json!([{"fc": 3, "address": 0, "unit": 5}, {"fc": 3, "address": 0, "unit": 2}]),
    )
    .await;
    assert_eq!(results[0], json!({"registers": [0]}));
    assert!(results[1].get("error").is_some(), "{}", results[1]);
    flow.unload().await;
}

/// rtu-over-tcp answers RTU frames with a correct CRC and serves pymodbus's RTU framer
#[tokio::test]
async fn rtu_over_tcp_answers_rtu_frames_with_a_crc() {
    let (mut flow, port) = start(json!({"transport": "rtu-over-tcp"})).await;
    apply(
        &mut flow,
        json!({"register": "holding", "address": 4, "value": [0x1234], "disableMsgOutput": true}),
    )
    .await;
    let mut stream = connect(port).await;
    let mut request = vec![9, 3, 0, 4, 0, 1];
    request.extend(crc(&request));
    stream.write_all(&request).await.expect("sends");
    let mut answer = [0u8; 7];
    tokio::time::timeout(WAIT, stream.read_exact(&mut answer))
        .await
        .expect("in time")
        .expect("reads");
    let mut expected = vec![9, 3, 2, 0x12, 0x34];
    expected.extend(crc(&expected));
    assert_eq!(answer.to_vec(), expected);
    // A frame with a wrong CRC is ignored, as on a serial line.
    let mut corrupt = vec![9, 6, 0, 4, 0, 1];
    corrupt.extend(crc(&corrupt));
    corrupt[5] ^= 0xFF;
    stream.write_all(&corrupt).await.expect("sends");
    let mut nothing = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), stream.read(&mut nothing))
            .await
            .is_err(),
        "no answer to a corrupt frame"
    );
    let results = pymodbus(
        port,
        "rtu",
        json!([
            {"fc": 16, "address": 0, "values": [5, 6], "unit": 3},
            {"fc": 3, "address": 0, "count": 5, "unit": 3},
            {"fc": 3, "address": 200, "count": 1, "unit": 3}
        ]),
    )
    .await;
    assert_eq!(
        results,
        [
            json!({"ok": true}),
            json!({"registers": [5, 6, 0, 0, 0x1234]}),
            json!({"exception": 2})
        ]
    );
    flow.unload().await;
}

/// many clients are served at once
#[tokio::test]
async fn many_clients_are_served_at_once() {
    let (mut flow, port) = start(json!({"responseDelay": 50})).await;
    apply(&mut flow, json!({"register": "input", "address": 0, "value": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], "disableMsgOutput": true})).await;
    let mut clients = Vec::new();
    for i in 0..20u8 {
        let mut stream = connect(port).await;
        clients.push(tokio::spawn(async move {
            stream
                .write_all(&mbap(u16::from(i), 1, &[4, 0, i, 0, 1]))
                .await
                .expect("sends");
            read_mbap(&mut stream, WAIT).await.expect("an answer")
        }));
    }
    for (i, client) in clients.into_iter().enumerate() {
        let answer = client.await.expect("joins");
        assert_eq!(answer, (i as u16, 1, vec![4, 2, 0, i as u8 + 1]));
    }
    flow.unload().await;
}

/// bad input messages are node errors carrying the message, and nothing is written
#[tokio::test]
async fn bad_input_messages_are_node_errors_carrying_the_message() {
    let (mut flow, _port) = start(json!({})).await;
    let bad = [
        (
            json!({"register": "flags", "address": 0, "value": 1}),
            "register",
        ),
        (
            json!({"register": "holding", "address": -1, "value": 1}),
            "address",
        ),
        (
            json!({"register": "holding", "address": 99, "value": [1, 2]}),
            "do not fit",
        ),
        (
            json!({"register": "holding", "address": 0, "value": 70000}),
            "70000",
        ),
        (json!({"register": "holding", "address": 0}), "value"),
        (
            json!({"register": "coils", "address": 0, "value": [true, {}]}),
            "value",
        ),
        (json!({"unitId": 300, "online": false}), "unitId"),
        (json!({"unitId": 1, "online": "no"}), "online"),
    ];
    for (payload, why) in bad {
        flow.receive("server", json!({"payload": payload.clone(), "topic": "t"}))
            .await;
        let error = flow.next("errors").await.as_value().to_json();
        assert_eq!(error["payload"], payload);
        let text = error["error"]["message"].as_str().expect("a message");
        assert!(text.contains(why), "{text:?} names {why}");
    }
    flow.expect_nothing("holding", Duration::from_millis(100))
        .await;
    let out = outputs(&mut flow, json!(null)).await;
    assert!(buffer(&out[0]).iter().all(|b| *b == 0), "nothing written");
    assert!(buffer(&out[1]).iter().all(|b| *b == 0), "nothing written");
    flow.unload().await;
}

/// with showErrors a message that writes nothing is reported and still sends the outputs
#[tokio::test]
async fn show_errors_reports_a_message_that_writes_nothing() {
    let (mut flow, _port) = start(json!({"showErrors": true})).await;
    let out = outputs(&mut flow, json!({"address": 1})).await;
    assert_eq!(out[4]["message"]["payload"], json!({"address": 1}));
    let error = flow.next("errors").await.as_value().to_json();
    assert_eq!(
        error["error"]["message"],
        "Is Not A Valid Memory Write Message To Server"
    );
    flow.unload().await;
}

/// a port in use is a node error naming the port, with the status error
#[tokio::test]
async fn a_port_in_use_is_a_node_error_naming_the_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = taken.local_addr().expect("bound").port();
    let mut flow = harness::load(server_flow(json!({"serverPort": port}))).await;
    let entry = flow.log_entry("server").await;
    let text = entry["msg"].as_str().expect("text");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    status_text(&flow, |text| text == "error").await;
    flow.unload().await;
}

/// bad config is refused at deploy naming the key
#[tokio::test]
async fn bad_config_is_refused_at_deploy_naming_the_key() {
    for (config, key) in [
        (json!({"delayUnit": "weeks"}), "delayUnit"),
        (json!({"serverPort": "70000"}), "serverPort"),
        (json!({"holdingBufferSize": "lots"}), "holdingBufferSize"),
        (json!({"transport": "udp"}), "transport"),
        (json!({"unitIds": "1,x"}), "unitIds"),
    ] {
        let flow = harness::load(server_flow(config)).await;
        let report = flow.report().to_string();
        assert!(report.contains(key), "{report} names {key}");
        flow.unload().await;
    }
}

/// stopping the node closes the listener and every connection promptly
#[tokio::test]
async fn stopping_closes_the_listener_and_every_connection() {
    let (mut flow, port) = start(json!({"responseDelay": 10, "delayUnit": "s"})).await;
    let mut idle = connect(port).await;
    let mut waiting = connect(port).await;
    // An answer held for 10 s must not hold the stop up.
    waiting
        .write_all(&mbap(1, 1, &[3, 0, 0, 0, 1]))
        .await
        .expect("sends");
    let stopped = Instant::now();
    flow.deploy(json!([]), DeployKind::Full).await;
    for stream in [&mut idle, &mut waiting] {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("the connection ends in time");
        assert!(matches!(read, Ok(0) | Err(_)), "closed, got {read:?}");
    }
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "took {:?}",
        stopped.elapsed()
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "the listener is closed"
    );
    flow.unload().await;
}
