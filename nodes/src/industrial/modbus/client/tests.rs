//! Protocol-level tests of the client against a scripted TCP peer written here: it answers
//! late, never, with an exception or with garbage on demand, which real simulators cannot
//! be made to do. Tests against pymodbus and serial ports are in the spec tests.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::super::frame::{self, Reading};
use super::super::pdu::{Area, Exception, Request, Response};
use super::{CallError, ClientOptions, Link, ModbusClient, Transport};

/// How the peer answers one request: after a pause with a response or an exception, with
/// raw bytes instead of a frame, or never (`None`).
enum Answer {
    After(Duration, Result<Response, Exception>),
    Raw(Vec<u8>),
}

type Script = dyn Fn(u8, &Request) -> Option<Answer> + Send + Sync;

struct Peer {
    port: u16,
    /// Every request received, in order, with its unit.
    seen: Arc<Mutex<Vec<(u8, Request)>>>,
    connections: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    async fn start(
        rtu: bool,
        script: impl Fn(u8, &Request) -> Option<Answer> + Send + Sync + 'static,
    ) -> Self {
        Self::on(0, rtu, Arc::new(script)).await
    }

    /// Listens on `port` (0: a free one); aborting the task closes every connection.
    async fn on(port: u16, rtu: bool, script: Arc<Script>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let task = tokio::spawn({
            let seen = Arc::clone(&seen);
            let connections = Arc::clone(&connections);
            async move {
                let mut tasks = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    *connections.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                    tasks.spawn(serve(stream, rtu, Arc::clone(&script), Arc::clone(&seen)));
                }
            }
        });
        Self {
            port,
            seen,
            connections,
            task,
        }
    }

    fn seen(&self) -> Vec<(u8, Request)> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn connections(&self) -> usize {
        *self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    rtu: bool,
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<(u8, Request)>>>,
) {
    let (mut reader, writer) = stream.into_split();
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let mut answers = JoinSet::new();
    let mut buf = BytesMut::new();
    loop {
        let frame = loop {
            let decoded = if rtu {
                frame::decode_rtu(&mut buf, Reading::Requests)
            } else {
                frame::decode_tcp(&mut buf)
            };
            match decoded {
                Ok(Some(frame)) => break frame,
                Ok(None) => {}
                Err(_) => return,
            }
            match reader.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let Ok(request) = Request::decode(&frame.pdu) else {
            return;
        };
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((frame.unit, request.clone()));
        let Some(answer) = script(frame.unit, &request) else {
            continue;
        };
        let writer = Arc::clone(&writer);
        answers.spawn(async move {
            let mut out = BytesMut::new();
            let pause = match answer {
                Answer::Raw(bytes) => {
                    out.extend_from_slice(&bytes);
                    Duration::ZERO
                }
                Answer::After(pause, result) => {
                    let code = request.function_code();
                    let pdu = |b: &mut BytesMut| match &result {
                        Ok(response) => response.encode(code, b),
                        Err(exception) => super::super::pdu::encode_exception(code, *exception, b),
                    };
                    if rtu {
                        frame::encode_rtu(frame.unit, &mut out, pdu);
                    } else {
                        frame::encode_tcp(frame.transaction, frame.unit, &mut out, pdu);
                    }
                    pause
                }
            };
            tokio::time::sleep(pause).await;
            let _ = writer.lock().await.write_all(&out).await;
        });
    }
}

fn read(address: u16) -> Request {
    Request::Read {
        area: Area::HoldingRegisters,
        address,
        quantity: 1,
    }
}

/// Answers a read of `address` with the register value `address`.
fn echo_address(request: &Request) -> Result<Response, Exception> {
    match request {
        Request::Read { address, .. } => Ok(Response::Registers(vec![*address])),
        Request::WriteRegister { address, value } => Ok(Response::WroteOne {
            address: *address,
            value: *value,
        }),
        _ => Err(Exception::ILLEGAL_FUNCTION),
    }
}

fn options(port: u16, rtu: bool) -> ClientOptions {
    let host = "127.0.0.1".to_owned();
    let mut options = ClientOptions::new(if rtu {
        Transport::RtuOverTcp { host, port }
    } else {
        Transport::Tcp { host, port }
    });
    options.timeout = Duration::from_millis(300);
    options.reconnect_delay = Duration::from_millis(50);
    options
}

async fn connected(client: &ModbusClient) {
    let mut state = client.state();
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| s.link == Link::Connected),
    )
    .await
    .expect("connects within 5 s")
    .expect("actor alive");
}

/// Reads and writes come back to their callers with the peer's answer.
#[tokio::test]
async fn answers_come_back_to_their_callers() {
    for rtu in [false, true] {
        let peer = Peer::start(rtu, |_, r| {
            Some(Answer::After(Duration::ZERO, echo_address(r)))
        })
        .await;
        let client = ModbusClient::start(options(peer.port, rtu), "c".into());
        assert_eq!(
            client.call(None, read(7)).await,
            Ok(Response::Registers(vec![7]))
        );
        assert_eq!(
            client
                .call(
                    Some(3),
                    Request::WriteRegister {
                        address: 2,
                        value: 9
                    }
                )
                .await,
            Ok(Response::WroteOne {
                address: 2,
                value: 9
            })
        );
        assert_eq!(peer.seen()[1].0, 3, "unit given");
        assert_eq!(peer.seen()[0].0, 1, "default unit");
        client.close().await;
    }
}

/// An exception answer is an error that names the code.
#[tokio::test]
async fn an_exception_is_named_in_the_error() {
    let peer = Peer::start(false, |_, _| {
        Some(Answer::After(
            Duration::ZERO,
            Err(Exception::ILLEGAL_DATA_ADDRESS),
        ))
    })
    .await;
    let client = ModbusClient::start(options(peer.port, false), "c".into());
    let error = client.call(None, read(1)).await.expect_err("exception");
    assert_eq!(error, CallError::Exception(Exception::ILLEGAL_DATA_ADDRESS));
    assert!(
        error.to_string().contains("illegal data address"),
        "{error}"
    );
}

/// A late TCP answer to a timed-out request is dropped by its transaction id, never given to
/// the request outstanding when it arrives.
#[tokio::test]
async fn a_late_tcp_answer_is_dropped_not_given_to_the_next_request() {
    for parallel in [true, false] {
        // Request 1 is answered at 400 ms (timeout 300 ms), while request 2 (sent at 300 ms,
        // answered at 500 ms) is outstanding.
        let peer = Peer::start(false, |_, r| {
            let pause = if *r == read(1) { 400 } else { 200 };
            Some(Answer::After(Duration::from_millis(pause), echo_address(r)))
        })
        .await;
        let mut options = options(peer.port, false);
        options.parallel_units = parallel;
        let client = ModbusClient::start(options, "c".into());
        assert_eq!(
            client.call(None, read(1)).await,
            Err(CallError::Timeout(Duration::from_millis(300)))
        );
        assert_eq!(
            client.call(None, read(2)).await,
            Ok(Response::Registers(vec![2]))
        );
        assert_eq!(
            client.call(None, read(3)).await,
            Ok(Response::Registers(vec![3]))
        );
    }
}

/// RTU has no transaction id: bytes of a late answer that come during the pause after a
/// timeout are discarded before the next request goes out.
#[tokio::test]
async fn a_late_rtu_answer_is_discarded_before_the_next_request() {
    let peer = Peer::start(true, |_, r| {
        let pause = if *r == read(1) { 400 } else { 0 };
        Some(Answer::After(Duration::from_millis(pause), echo_address(r)))
    })
    .await;
    let mut options = options(peer.port, true);
    options.command_delay = Duration::from_millis(300);
    let client = ModbusClient::start(options, "c".into());
    assert!(matches!(
        client.call(None, read(1)).await,
        Err(CallError::Timeout(_))
    ));
    assert_eq!(
        client.call(None, read(2)).await,
        Ok(Response::Registers(vec![2]))
    );
}

/// With parallel units on TCP, a slow unit does not hold up another unit's request.
#[tokio::test]
async fn parallel_units_do_not_wait_for_each_other() {
    let peer = Peer::start(false, |unit, r| {
        let pause = if unit == 1 { 250 } else { 0 };
        Some(Answer::After(Duration::from_millis(pause), echo_address(r)))
    })
    .await;
    let client = ModbusClient::start(options(peer.port, false), "c".into());
    connected(&client).await;
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.call(Some(1), read(1)).await }
    });
    tokio::task::yield_now().await;
    let started = Instant::now();
    assert_eq!(
        client.call(Some(2), read(2)).await,
        Ok(Response::Registers(vec![2]))
    );
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.await.expect("joins"), Ok(Response::Registers(vec![1])));
}

/// One at a time, the units take turns: a unit with a long queue does not go before a unit
/// that queued later.
#[tokio::test]
async fn units_are_served_round_robin() {
    let peer = Peer::start(false, |_, r| {
        Some(Answer::After(Duration::from_millis(30), echo_address(r)))
    })
    .await;
    let mut options = options(peer.port, false);
    options.parallel_units = false;
    let client = ModbusClient::start(options, "c".into());
    connected(&client).await;
    let mut calls = JoinSet::new();
    for (unit, address) in [(1, 1), (1, 2), (1, 3), (2, 4)] {
        let client = client.clone();
        calls.spawn(async move { client.call(Some(unit), read(address)).await });
        tokio::task::yield_now().await;
    }
    while let Some(result) = calls.join_next().await {
        assert!(result.expect("joins").is_ok());
    }
    let units: Vec<u8> = peer.seen().iter().map(|(unit, _)| *unit).collect();
    assert_eq!(units, [1, 1, 2, 1]);
}

/// A unit that stops answering is suspended after `degrade_after` timeouts and its calls
/// fail at once, while another unit on the same serial-style link keeps its pace; when
/// the suspension ends one probe goes out.
#[tokio::test]
async fn a_silent_unit_is_suspended_while_another_keeps_its_pace() {
    let peer = Peer::start(true, |unit, r| {
        (unit == 1).then(|| Answer::After(Duration::ZERO, echo_address(r)))
    })
    .await;
    let mut options = options(peer.port, true);
    options.timeout = Duration::from_millis(100);
    options.degrade_after = 2;
    options.degrade_for = Duration::from_millis(400);
    let client = ModbusClient::start(options, "c".into());
    for _ in 0..2 {
        assert!(matches!(
            client.call(Some(2), read(1)).await,
            Err(CallError::Timeout(_))
        ));
    }
    let started = Instant::now();
    assert_eq!(
        client.call(Some(2), read(1)).await,
        Err(CallError::Suspended { unit: 2 })
    );
    assert!(started.elapsed() < Duration::from_millis(50));
    for address in 0..5 {
        let started = Instant::now();
        assert_eq!(
            client.call(Some(1), read(address)).await,
            Ok(Response::Registers(vec![address]))
        );
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "{:?}",
            started.elapsed()
        );
    }
    // After the suspension, the probe is sent (and times out), the next call is refused.
    let probed = peer.seen().len();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        assert!(Instant::now() < deadline, "no probe within 3 s");
        match client.call(Some(2), read(1)).await {
            Err(CallError::Suspended { .. }) => tokio::task::yield_now().await,
            Err(CallError::Timeout(_)) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(peer.seen().len(), probed + 1, "exactly one probe sent");
    assert_eq!(
        client.call(Some(2), read(1)).await,
        Err(CallError::Suspended { unit: 2 })
    );
}

/// A unit's full queue refuses the next call at once, naming the unit; other units still
/// queue.
#[tokio::test]
async fn a_full_queue_refuses_at_once() {
    let peer = Peer::start(false, |unit, r| {
        (unit != 1).then(|| Answer::After(Duration::ZERO, echo_address(r)))
    })
    .await;
    let mut options = options(peer.port, false);
    options.timeout = Duration::from_secs(5);
    options.queue_limit = 2;
    let client = ModbusClient::start(options, "c".into());
    connected(&client).await;
    // One in flight, two queued.
    let mut waiting = JoinSet::new();
    for _ in 0..3 {
        let client = client.clone();
        waiting.spawn(async move { client.call(Some(1), read(1)).await });
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    assert_eq!(
        client.call(Some(1), read(1)).await,
        Err(CallError::QueueFull { unit: 1 })
    );
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(
        client.call(Some(2), read(2)).await,
        Ok(Response::Registers(vec![2]))
    );
    assert_eq!(
        CallError::QueueFull { unit: 1 }.to_string(),
        "queue of unit 1 is full"
    );
    client.close().await;
    while let Some(result) = waiting.join_next().await {
        assert_eq!(result.expect("joins"), Err(CallError::Closed));
    }
}

/// A frame with a bad MBAP header fails the call and resets the connection, which comes
/// back by itself.
#[tokio::test]
async fn a_framing_error_resets_the_connection() {
    let peer = Peer::start(false, |_, r| {
        if *r == read(1) {
            Some(Answer::Raw(vec![0, 1, 0, 9, 0, 3, 1, 3, 0]))
        } else {
            Some(Answer::After(Duration::ZERO, echo_address(r)))
        }
    })
    .await;
    let client = ModbusClient::start(options(peer.port, false), "c".into());
    let error = client.call(None, read(1)).await.expect_err("framing error");
    assert!(
        matches!(&error, CallError::NotConnected(text) if text.contains("protocol id 9")),
        "{error}"
    );
    connected(&client).await;
    assert_eq!(
        client.call(None, read(2)).await,
        Ok(Response::Registers(vec![2]))
    );
    assert_eq!(peer.connections(), 2);
}

/// After the peer goes away and comes back on the same port the client reconnects by
/// itself; meanwhile calls fail with the connection error.
#[tokio::test]
async fn the_client_reconnects_after_the_peer_restarts() {
    let script: Arc<Script> = Arc::new(|_, r| Some(Answer::After(Duration::ZERO, echo_address(r))));
    let peer = Peer::on(0, false, Arc::clone(&script)).await;
    let port = peer.port;
    let client = ModbusClient::start(options(port, false), "c".into());
    assert_eq!(
        client.call(None, read(1)).await,
        Ok(Response::Registers(vec![1]))
    );
    drop(peer);
    let mut state = client.state();
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| s.link != Link::Connected),
    )
    .await
    .expect("loss noticed")
    .expect("actor alive");
    assert!(matches!(
        client.call(None, read(1)).await,
        Err(CallError::NotConnected(_))
    ));
    let _peer = Peer::on(port, false, script).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match client.call(None, read(2)).await {
            Ok(response) => break assert_eq!(response, Response::Registers(vec![2])),
            Err(_) if Instant::now() < deadline => {
                let _ = tokio::time::timeout_at(deadline, state.changed()).await;
            }
            Err(e) => panic!("no reconnect within 5 s: {e}"),
        }
    }
    assert_eq!(client.state().borrow().text(), "connected");
}

/// An invalid request is refused before anything is sent.
#[tokio::test]
async fn an_invalid_request_is_refused_before_sending() {
    let peer = Peer::start(false, |_, r| {
        Some(Answer::After(Duration::ZERO, echo_address(r)))
    })
    .await;
    let client = ModbusClient::start(options(peer.port, false), "c".into());
    let too_many = Request::Read {
        area: Area::HoldingRegisters,
        address: 0,
        quantity: 126,
    };
    assert!(matches!(
        client.call(None, too_many).await,
        Err(CallError::Invalid(_))
    ));
    client.close().await;
    assert_eq!(client.call(None, read(1)).await, Err(CallError::Closed));
    assert!(peer.seen().is_empty());
}
