//! Tests of the `modbus-client` config node (node-red-contrib-modbus has no spec to port):
//! configs as the contrib editor exports them, turned into a client by the node's own
//! option parsing, against pymodbus (TCP, RTU over TCP, RTU on a socat serial pair). The
//! timing behaviours (late answers, silent units, full queues) are tested against a
//! scripted peer in the client's unit tests.

use std::time::Duration;

use ferrite_nodes::industrial::modbus::client::{CallError, Link, ModbusClient};
use ferrite_nodes::industrial::modbus::pdu::{Area, Exception, Request, Response};
use ferrite_nodes::industrial::modbus_client::options;
use serde_json::{Value as Json, json};
use tokio::time::Instant;

use crate::harness;
use crate::support::pymodbus::Pymodbus;
use crate::support::socat::PtyPair;

/// A client started from a contrib-style config (numbers as strings, as exported).
fn client(config: Json) -> ModbusClient {
    let config = config.as_object().cloned().unwrap_or_default();
    ModbusClient::start(options(&config).expect("valid config"), "mc".into())
}

fn read(area: Area, address: u16, quantity: u16) -> Request {
    Request::Read {
        area,
        address,
        quantity,
    }
}

/// The first answer to `request`, retried while the peer is still coming up (bounded).
async fn first_answer(client: &ModbusClient, request: Request) -> Response {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match client.call(None, request.clone()).await {
            Ok(response) => return response,
            Err(_) if Instant::now() < deadline => {
                // A reconnect ends the wait early; a timeout (nothing changes) retries soon.
                let mut state = client.state();
                let _ = tokio::time::timeout(Duration::from_millis(200), state.changed()).await;
            }
            Err(e) => panic!("no answer within 15 s: {e}"),
        }
    }
}

/// Every function code against the pymodbus device (see `support/pymodbus.rs` for what it
/// holds).
async fn every_function_code(client: &ModbusClient) {
    use Area::*;
    let call = |unit: u8, request: Request| async move { client.call(Some(unit), request).await };
    assert_eq!(
        first_answer(client, read(HoldingRegisters, 0, 3)).await,
        Response::Registers(vec![0, 10, 20]),
        "FC 3"
    );
    assert_eq!(
        call(1, read(InputRegisters, 2, 2)).await,
        Ok(Response::Registers(vec![1002, 1003])),
        "FC 4"
    );
    assert_eq!(
        call(1, read(DiscreteInputs, 0, 4)).await,
        Ok(Response::Bits(vec![true, false, true, false])),
        "FC 2"
    );
    assert_eq!(
        call(
            1,
            Request::WriteCoil {
                address: 1,
                value: true
            }
        )
        .await,
        Ok(Response::WroteOne {
            address: 1,
            value: 0xFF00
        }),
        "FC 5"
    );
    assert_eq!(
        call(
            1,
            Request::WriteCoils {
                address: 4,
                values: vec![true, true, false]
            }
        )
        .await,
        Ok(Response::WroteMany {
            address: 4,
            quantity: 3
        }),
        "FC 15"
    );
    assert_eq!(
        call(1, read(Coils, 0, 9)).await,
        Ok(Response::Bits(vec![
            false, true, false, false, true, true, false, false, false
        ])),
        "FC 1"
    );
    assert_eq!(
        call(
            1,
            Request::WriteRegister {
                address: 5,
                value: 555
            }
        )
        .await,
        Ok(Response::WroteOne {
            address: 5,
            value: 555
        }),
        "FC 6"
    );
    assert_eq!(
        call(
            1,
            Request::WriteRegisters {
                address: 10,
                values: vec![1, 2, 65535]
            }
        )
        .await,
        Ok(Response::WroteMany {
            address: 10,
            quantity: 3
        }),
        "FC 16"
    );
    assert_eq!(
        call(1, read(HoldingRegisters, 4, 9)).await,
        Ok(Response::Registers(vec![
            40, 555, 60, 70, 80, 90, 1, 2, 65535
        ])),
        "FC 3 after the writes"
    );
    assert_eq!(
        call(2, read(HoldingRegisters, 5, 1)).await,
        Ok(Response::Registers(vec![50])),
        "unit 2 is its own device"
    );
    let error = call(1, read(HoldingRegisters, 500, 1))
        .await
        .expect_err("beyond the device's registers");
    assert_eq!(error, CallError::Exception(Exception::ILLEGAL_DATA_ADDRESS));
    assert!(
        error.to_string().contains("illegal data address"),
        "{error}"
    );
}

/// Modbus TCP: every function code against pymodbus, with the config as the contrib
/// editor exports it.
#[tokio::test]
async fn tcp_reads_and_writes_every_function_code() {
    let server = Pymodbus::tcp();
    let client = client(json!({
        "clienttype": "tcp", "tcpHost": "127.0.0.1", "tcpPort": server.port.to_string(),
        "tcpType": "DEFAULT", "unit_id": "1", "clientTimeout": "2000", "reconnectTimeout": "200"
    }));
    every_function_code(&client).await;
    client.close().await;
}

/// Modbus TCP with parallel units off serves requests one at a time, with the same answers.
#[tokio::test]
async fn tcp_one_at_a_time_reads_and_writes_every_function_code() {
    let server = Pymodbus::tcp();
    let client = client(json!({
        "tcpPort": server.port, "parallelUnitIdsAllowed": false, "clientTimeout": 2000,
        "reconnectTimeout": 200
    }));
    every_function_code(&client).await;
}

/// RTU over TCP (`tcpType` TCP-RTU-BUFFERED): every function code against pymodbus's RTU
/// framer on a TCP socket.
#[tokio::test]
async fn rtu_over_tcp_reads_and_writes_every_function_code() {
    let server = Pymodbus::rtu_over_tcp();
    let client = client(json!({
        "tcpPort": server.port.to_string(), "tcpType": "TCP-RTU-BUFFERED",
        "clientTimeout": "2000", "reconnectTimeout": "200"
    }));
    every_function_code(&client).await;
}

/// RTU on a serial line (a socat pseudo-terminal pair): every function code against
/// pymodbus on the other end.
#[tokio::test]
async fn serial_rtu_reads_and_writes_every_function_code() {
    let pair = PtyPair::start();
    let _server = Pymodbus::serial(&pair.b);
    let client = client(json!({
        "clienttype": "simpleser", "serialPort": pair.a.display().to_string(),
        "serialType": "RTU-BUFFERD", "serialBaudrate": "19200", "serialDatabits": "8",
        "serialStopbits": "1", "serialParity": "none", "serialConnectionDelay": "10",
        "clientTimeout": "2000", "reconnectTimeout": "200"
    }));
    every_function_code(&client).await;
}

/// A restarted server is reconnected to without a redeploy; meanwhile calls fail with the
/// connection error rather than wait.
#[tokio::test]
async fn the_client_reconnects_after_the_server_restarts() {
    let server = Pymodbus::tcp();
    let port = server.port;
    let client =
        client(json!({"tcpPort": port, "reconnectTimeout": "100", "clientTimeout": "2000"}));
    let registers = read(Area::HoldingRegisters, 1, 1);
    assert_eq!(
        first_answer(&client, registers.clone()).await,
        Response::Registers(vec![10])
    );
    drop(server);
    let mut state = client.state();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| s.link != Link::Connected),
    )
    .await
    .expect("the loss is noticed")
    .expect("client alive");
    assert!(matches!(
        client.call(None, registers.clone()).await,
        Err(CallError::NotConnected(_))
    ));
    let _server = Pymodbus::tcp_on(port);
    assert_eq!(
        first_answer(&client, registers).await,
        Response::Registers(vec![10])
    );
    assert_eq!(client.state().borrow().text(), "connected");
}

/// A contrib config deploys cleanly; a bad one is reported naming its key.
#[tokio::test]
async fn config_errors_name_their_key_at_deploy() {
    let node = |extra: Json| {
        let mut node = json!({"id": "mc", "type": "modbus-client", "name": "plc",
            "clienttype": "tcp", "tcpHost": "127.0.0.1", "tcpPort": "1",
            "unit_id": "0", "commandDelay": "1", "clientTimeout": "1000",
            "reconnectOnTimeout": true, "reconnectTimeout": "2000",
            "parallelUnitIdsAllowed": true, "stateLogEnabled": false, "showErrors": false});
        if let (Some(node), Json::Object(extra)) = (node.as_object_mut(), extra) {
            node.extend(extra);
        }
        json!([{"id": "t1", "type": "tab"}, node])
    };
    let flow = harness::load(node(json!({}))).await;
    assert!(flow.report().is_clean(), "{}", flow.report());
    flow.unload().await;
    for (extra, key) in [
        (json!({"tcpType": "UDP"}), "tcpType"),
        (json!({"unit_id": "256"}), "unit_id"),
        (
            json!({"clienttype": "serial", "serialParity": "mark"}),
            "serialParity",
        ),
        (
            json!({"clienttype": "serial", "serialType": "ASCII"}),
            "serialType",
        ),
    ] {
        let flow = harness::load(node(extra.clone())).await;
        let report = flow.report().to_string();
        assert!(!flow.report().is_clean(), "{extra}");
        assert!(report.contains(key), "{extra}: {report}");
        flow.unload().await;
    }
}
