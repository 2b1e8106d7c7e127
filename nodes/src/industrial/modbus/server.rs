//! The simulated Modbus device behind the `modbus-server` node: its memory (coils, discrete
//! inputs, holding and input registers), the serving of FC 1-6, 15 and 16 against it, and a
//! listener that speaks Modbus TCP or RTU frames over TCP.
//!
//! Each connection has a reader and a writer: the reader decodes a request and applies it
//! to the memory at once (so a read pipelined after a write sees it), and queues the answer
//! with the time it is due (`response_delay` after the request arrived); the writer sends the
//! answers in order when due. The reader thus keeps reading while answers wait, and every
//! answer carries the transaction id of its own request.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::frame::{self, Frame, FrameError, Reading};
use super::pdu::{Area, Exception, PduError, Request, Response, encode_exception};

/// Answers one connection may have waiting for their delay: beyond this the reader stops
/// reading until the writer catches up (TCP pushes back on the client).
const ANSWERS_QUEUED: usize = 64;

/// What the memory may hold at most per area (addresses are 16 bits).
pub const MAX_SIZE: usize = 65536;

/// How the server frames requests and answers on its TCP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerTransport {
    /// Modbus TCP: the MBAP header.
    Tcp,
    /// RTU frames (unit id, PDU, CRC) over the TCP socket, as serial-to-TCP converters pass
    /// them on.
    RtuOverTcp,
}

/// How many items each area holds (addresses `0..size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub coils: usize,
    pub discrete: usize,
    pub holding: usize,
    pub input: usize,
}

/// A flow's write into the memory cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    #[error("{count} value(s) from address {address} do not fit the {area} buffer ({size} items)")]
    OutOfRange {
        area: &'static str,
        address: usize,
        count: usize,
        size: usize,
    },
}

/// The four areas of the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    coils: Vec<bool>,
    discrete: Vec<bool>,
    holding: Vec<u16>,
    input: Vec<u16>,
}

impl Memory {
    /// All zero.
    pub fn new(sizes: Sizes) -> Self {
        Self {
            coils: vec![false; sizes.coils],
            discrete: vec![false; sizes.discrete],
            holding: vec![0; sizes.holding],
            input: vec![0; sizes.input],
        }
    }

    /// Serves a decoded request: the response, or exception 2 when it reaches beyond an
    /// area.
    pub fn serve(&mut self, request: &Request) -> Result<Response, Exception> {
        match request {
            Request::Read {
                area,
                address,
                quantity,
            } => {
                let range = span(*address, usize::from(*quantity), self.len(*area))?;
                Ok(match area {
                    Area::Coils => Response::Bits(self.coils[range].to_vec()),
                    Area::DiscreteInputs => Response::Bits(self.discrete[range].to_vec()),
                    Area::HoldingRegisters => Response::Registers(self.holding[range].to_vec()),
                    Area::InputRegisters => Response::Registers(self.input[range].to_vec()),
                })
            }
            Request::WriteCoil { address, value } => {
                let range = span(*address, 1, self.coils.len())?;
                self.coils[range].fill(*value);
                Ok(Response::WroteOne {
                    address: *address,
                    value: if *value { 0xFF00 } else { 0 },
                })
            }
            Request::WriteRegister { address, value } => {
                let range = span(*address, 1, self.holding.len())?;
                self.holding[range].fill(*value);
                Ok(Response::WroteOne {
                    address: *address,
                    value: *value,
                })
            }
            Request::WriteCoils { address, values } => {
                let range = span(*address, values.len(), self.coils.len())?;
                self.coils[range].copy_from_slice(values);
                Ok(wrote_many(*address, values.len()))
            }
            Request::WriteRegisters { address, values } => {
                let range = span(*address, values.len(), self.holding.len())?;
                self.holding[range].copy_from_slice(values);
                Ok(wrote_many(*address, values.len()))
            }
        }
    }

    /// A flow's write: `values` from `address` on; in a bit area a value is true when not 0.
    pub fn store(&mut self, area: Area, address: usize, values: &[u16]) -> Result<(), MemoryError> {
        let size = self.len(area);
        let end = address
            .checked_add(values.len())
            .filter(|end| *end <= size)
            .ok_or(MemoryError::OutOfRange {
                area: area_name(area),
                address,
                count: values.len(),
                size,
            })?;
        match area {
            Area::Coils => bits_from(&mut self.coils[address..end], values),
            Area::DiscreteInputs => bits_from(&mut self.discrete[address..end], values),
            Area::HoldingRegisters => self.holding[address..end].copy_from_slice(values),
            Area::InputRegisters => self.input[address..end].copy_from_slice(values),
        }
        Ok(())
    }

    /// A copy of an area as jsmodbus lays it out in its buffers (what the contrib node
    /// sends): registers as two bytes each, high byte first; bits eight to a byte, the
    /// lowest address in the least significant bit.
    pub fn snapshot(&self, area: Area) -> Bytes {
        let bits = |bits: &[bool]| {
            bits.chunks(8)
                .map(|chunk| {
                    chunk
                        .iter()
                        .enumerate()
                        .fold(0u8, |byte, (i, &bit)| byte | (u8::from(bit) << i))
                })
                .collect::<Vec<u8>>()
        };
        let registers = |registers: &[u16]| {
            registers
                .iter()
                .flat_map(|r| r.to_be_bytes())
                .collect::<Vec<u8>>()
        };
        Bytes::from(match area {
            Area::Coils => bits(&self.coils),
            Area::DiscreteInputs => bits(&self.discrete),
            Area::HoldingRegisters => registers(&self.holding),
            Area::InputRegisters => registers(&self.input),
        })
    }

    fn len(&self, area: Area) -> usize {
        match area {
            Area::Coils => self.coils.len(),
            Area::DiscreteInputs => self.discrete.len(),
            Area::HoldingRegisters => self.holding.len(),
            Area::InputRegisters => self.input.len(),
        }
    }
}

/// The contrib node's name of an area (its `register` key).
pub fn area_name(area: Area) -> &'static str {
    match area {
        Area::Coils => "coils",
        Area::DiscreteInputs => "discrete",
        Area::HoldingRegisters => "holding",
        Area::InputRegisters => "input",
    }
}

fn bits_from(bits: &mut [bool], values: &[u16]) {
    for (bit, value) in bits.iter_mut().zip(values) {
        *bit = *value != 0;
    }
}

/// The index range `address..address + count` when it lies inside an area of `size` items.
fn span(address: u16, count: usize, size: usize) -> Result<std::ops::Range<usize>, Exception> {
    let start = usize::from(address);
    let end = start + count;
    if end <= size {
        Ok(start..end)
    } else {
        Err(Exception::ILLEGAL_DATA_ADDRESS)
    }
}

fn wrote_many(address: u16, count: usize) -> Response {
    Response::WroteMany {
        address,
        // At most 1968 items: `Request::decode` validated the quantity.
        quantity: u16::try_from(count).unwrap_or(u16::MAX),
    }
}

/// The device a `modbus-server` node simulates: its memory and which units answer. Shared
/// between the node (flow writes) and the connections (client requests).
#[derive(Debug)]
pub struct Device {
    memory: Mutex<Memory>,
    /// The unit ids served; `None`: every unit id, as the contrib server does.
    units: Option<BTreeSet<u8>>,
    /// Units switched off by a flow: their requests get no answer at all.
    offline: Mutex<BTreeSet<u8>>,
}

impl Device {
    pub fn new(sizes: Sizes, units: Option<BTreeSet<u8>>) -> Self {
        Self {
            memory: Mutex::new(Memory::new(sizes)),
            units,
            offline: Mutex::new(BTreeSet::new()),
        }
    }

    /// Runs `f` on the memory (the lock is held only for that call).
    pub fn with_memory<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> T {
        // A panic while holding the lock cannot leave the memory half-written in a way
        // that matters to a simulation; keep serving.
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut memory)
    }

    /// Takes a unit off line (`online` false: it stops answering) or back on line.
    pub fn set_online(&self, unit: u8, online: bool) {
        let mut offline = self.offline.lock().unwrap_or_else(PoisonError::into_inner);
        if online {
            offline.remove(&unit);
        } else {
            offline.insert(unit);
        }
    }

    /// Whether requests to `unit` are answered.
    pub fn answers(&self, unit: u8) -> bool {
        self.units
            .as_ref()
            .is_none_or(|units| units.contains(&unit))
            && !self
                .offline
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&unit)
    }

    /// The answer PDU to a request PDU addressed to `unit`; `None` when the unit does not
    /// answer. Unknown function codes answer exception 1, malformed requests exception 3.
    pub fn handle(&self, unit: u8, pdu: &[u8]) -> Option<BytesMut> {
        if !self.answers(unit) {
            return None;
        }
        let code = *pdu.first()?;
        let mut answer = BytesMut::with_capacity(256);
        let outcome = match Request::decode(pdu) {
            Ok(request) => self.with_memory(|memory| memory.serve(&request)),
            Err(PduError::UnsupportedFunction(_)) => Err(Exception::ILLEGAL_FUNCTION),
            Err(_) => Err(Exception::ILLEGAL_DATA_VALUE),
        };
        match outcome {
            Ok(response) => response.encode(code, &mut answer),
            Err(exception) => encode_exception(code, exception, &mut answer),
        }
        Some(answer)
    }
}

/// Where and how a [`ModbusServer`] listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    /// 0: any free port (see [`ModbusServer::local_addr`]).
    pub port: u16,
    pub transport: ServerTransport,
    /// How long after a request its answer is sent.
    pub response_delay: Duration,
    /// For log fields.
    pub node_id: String,
}

/// The listener cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {host}:{port}: {source}")]
pub struct ListenError {
    pub host: String,
    pub port: u16,
    #[source]
    pub source: std::io::Error,
}

/// A running listener; [`ModbusServer::close`] (or dropping it) stops it and ends every
/// connection.
#[derive(Debug)]
pub struct ModbusServer {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ModbusServer {
    /// Binds and starts accepting connections.
    pub async fn start(config: ServerConfig, device: Arc<Device>) -> Result<Self, ListenError> {
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .map_err(|source| ListenError {
                host: config.host.clone(),
                port: config.port,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ListenError {
            host: config.host.clone(),
            port: config.port,
            source,
        })?;
        tracing::debug!(node_id = %config.node_id, node_type = "modbus-server", %local_addr, "Modbus server listening");
        let task = tokio::spawn(accept(listener, config, device));
        Ok(Self { local_addr, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops listening and ends every connection (answers still waiting are dropped).
    pub async fn close(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for ModbusServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts connections; the connection tasks live in a `JoinSet` owned here, so aborting
/// this task ends them all.
async fn accept(listener: TcpListener, config: ServerConfig, device: Arc<Device>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(node_id = %config.node_id, node_type = "modbus-server", %peer, "Modbus client connected");
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve(stream, config.clone(), Arc::clone(&device)));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of
                    // spinning on the error.
                    tracing::warn!(node_id = %config.node_id, node_type = "modbus-server", error = %e, "Modbus server cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reaps finished connections so the set does not grow with every client.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One connection: reads requests, queues answers, writes them when due.
async fn serve(stream: TcpStream, config: ServerConfig, device: Arc<Device>) {
    let (mut reader, mut writer) = stream.into_split();
    let (answers, mut due) = mpsc::channel::<(Instant, BytesMut)>(ANSWERS_QUEUED);
    let node_id = config.node_id.clone();
    let read = async move {
        let mut buf = BytesMut::with_capacity(1024);
        loop {
            match reader.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let at = Instant::now() + config.response_delay;
            loop {
                let answer = match next_answer(&mut buf, config.transport, &device) {
                    Ok(Some(Some(answer))) => answer,
                    Ok(Some(None)) => continue,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(node_id = %config.node_id, node_type = "modbus-server", error = %e, "Modbus connection closed on a bad frame");
                        return;
                    }
                };
                if answers.send((at, answer)).await.is_err() {
                    return;
                }
            }
        }
    };
    let write = async move {
        while let Some((at, answer)) = due.recv().await {
            // The timer rounds up to a whole millisecond: an answer due now goes now.
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            if writer.write_all(&answer).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(read, write);
    tracing::debug!(node_id = %node_id, node_type = "modbus-server", "Modbus client disconnected");
}

/// The next request in `buf` and its framed answer: `Ok(None)` until a whole frame is
/// there, `Ok(Some(None))` for a request that gets no answer, `Err` when the stream cannot
/// be read on (a bad MBAP header).
fn next_answer(
    buf: &mut BytesMut,
    transport: ServerTransport,
    device: &Device,
) -> Result<Option<Option<BytesMut>>, FrameError> {
    let mut out = BytesMut::new();
    match transport {
        ServerTransport::Tcp => {
            let Some(Frame {
                transaction,
                unit,
                pdu,
            }) = frame::decode_tcp(buf)?
            else {
                return Ok(None);
            };
            Ok(Some(device.handle(unit, &pdu).map(|answer| {
                frame::encode_tcp(transaction, unit, &mut out, |b| {
                    b.extend_from_slice(&answer)
                });
                out
            })))
        }
        ServerTransport::RtuOverTcp => match frame::decode_rtu(buf, Reading::Requests) {
            Ok(Some(Frame { unit, pdu, .. })) => {
                Ok(Some(device.handle(unit, &pdu).map(|answer| {
                    frame::encode_rtu(unit, &mut out, |b| b.extend_from_slice(&answer));
                    out
                })))
            }
            Ok(None) => Ok(None),
            // A serial device ignores a frame with a wrong CRC; its bytes are consumed.
            Err(FrameError::Crc) => Ok(Some(None)),
            // The length of an unknown function's frame cannot be told: answer exception
            // 1 and drop what was received, as a device would after the line went silent.
            Err(FrameError::UnknownFunction(code)) => {
                let unit = buf.first().copied().unwrap_or_default();
                buf.clear();
                if !device.answers(unit) {
                    return Ok(Some(None));
                }
                frame::encode_rtu(unit, &mut out, |b| {
                    encode_exception(code, Exception::ILLEGAL_FUNCTION, b);
                });
                Ok(Some(Some(out)))
            }
            Err(e) => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::industrial::modbus::pdu::request_bytes;

    fn device(units: Option<&[u8]>) -> Device {
        Device::new(
            Sizes {
                coils: 20,
                discrete: 20,
                holding: 10,
                input: 10,
            },
            units.map(|u| u.iter().copied().collect()),
        )
    }

    fn ask(device: &Device, request: &Request) -> Vec<u8> {
        device
            .handle(1, &request_bytes(request))
            .expect("answered")
            .to_vec()
    }

    /// every function code is served against the memory
    #[test]
    fn every_function_code_is_served_against_the_memory() {
        let device = device(None);
        device.with_memory(|m| {
            m.store(Area::DiscreteInputs, 2, &[1, 0, 1]).expect("fits");
            m.store(Area::InputRegisters, 9, &[0xABCD]).expect("fits");
        });
        let cases: [(Request, &[u8]); 8] = [
            (
                Request::WriteCoil {
                    address: 3,
                    value: true,
                },
                &[5, 0, 3, 0xFF, 0],
            ),
            (
                Request::WriteCoils {
                    address: 8,
                    values: vec![true, false, true],
                },
                &[15, 0, 8, 0, 3],
            ),
            (
                Request::Read {
                    area: Area::Coils,
                    address: 0,
                    quantity: 11,
                },
                &[1, 2, 0b0000_1000, 0b0000_0101],
            ),
            (
                Request::Read {
                    area: Area::DiscreteInputs,
                    address: 1,
                    quantity: 4,
                },
                &[2, 1, 0b0000_1010],
            ),
            (
                Request::WriteRegister {
                    address: 0,
                    value: 0x1234,
                },
                &[6, 0, 0, 0x12, 0x34],
            ),
            (
                Request::WriteRegisters {
                    address: 1,
                    values: vec![7, 8],
                },
                &[16, 0, 1, 0, 2],
            ),
            (
                Request::Read {
                    area: Area::HoldingRegisters,
                    address: 0,
                    quantity: 3,
                },
                &[3, 6, 0x12, 0x34, 0, 7, 0, 8],
            ),
            (
                Request::Read {
                    area: Area::InputRegisters,
                    address: 9,
                    quantity: 1,
                },
                &[4, 2, 0xAB, 0xCD],
            ),
        ];
        for (request, answer) in cases {
            assert_eq!(ask(&device, &request), answer, "{request:?}");
        }
    }

    /// requests beyond an area answer exception 2
    #[test]
    fn requests_beyond_an_area_answer_exception_2() {
        let device = device(None);
        let beyond = [
            Request::Read {
                area: Area::HoldingRegisters,
                address: 8,
                quantity: 3,
            },
            Request::Read {
                area: Area::Coils,
                address: 20,
                quantity: 1,
            },
            Request::WriteRegister {
                address: 10,
                value: 1,
            },
            Request::WriteCoils {
                address: 19,
                values: vec![true, true],
            },
        ];
        for request in beyond {
            let code = request.function_code();
            assert_eq!(ask(&device, &request), [code | 0x80, 2], "{request:?}");
        }
        // Nothing was written by the refused writes.
        assert_eq!(
            device.with_memory(|m| m.snapshot(Area::Coils)),
            Bytes::from_static(&[0, 0, 0])
        );
    }

    /// unknown function codes answer exception 1 and malformed requests exception 3
    #[test]
    fn unknown_function_codes_answer_exception_1_and_malformed_requests_exception_3() {
        let device = device(None);
        let answer = |pdu: &[u8]| device.handle(1, pdu).expect("answered").to_vec();
        assert_eq!(answer(&[43, 14, 1, 0]), [0xAB, 1]);
        assert_eq!(answer(&[8, 0, 0, 0x12, 0x34]), [0x88, 1]);
        assert_eq!(answer(&[3, 0, 0, 0, 126]), [0x83, 3], "quantity over 125");
        assert_eq!(answer(&[1, 0, 0, 0, 0]), [0x81, 3], "quantity 0");
        assert_eq!(answer(&[5, 0, 0, 0x12, 0x34]), [0x85, 3], "coil value");
        assert_eq!(
            answer(&[16, 0, 0, 0, 2, 3, 0, 1, 0]),
            [0x90, 3],
            "byte count"
        );
    }

    /// units outside unitIds and units taken offline get no answer
    #[test]
    fn units_outside_unit_ids_and_offline_units_get_no_answer() {
        let device = device(Some(&[1, 2]));
        let read = request_bytes(&Request::Read {
            area: Area::HoldingRegisters,
            address: 0,
            quantity: 1,
        });
        assert!(device.handle(3, &read).is_none());
        assert!(device.handle(2, &read).is_some());
        device.set_online(2, false);
        assert!(device.handle(2, &read).is_none());
        assert!(device.handle(1, &read).is_some(), "the other unit answers");
        device.set_online(2, true);
        assert!(device.handle(2, &read).is_some());
    }

    /// flow writes beyond an area are refused and snapshots use the jsmodbus layout
    #[test]
    fn flow_writes_beyond_an_area_are_refused_and_snapshots_use_the_jsmodbus_layout() {
        let mut memory = Memory::new(Sizes {
            coils: 10,
            discrete: 0,
            holding: 2,
            input: 0,
        });
        assert_eq!(
            memory.store(Area::HoldingRegisters, 1, &[1, 2]),
            Err(MemoryError::OutOfRange {
                area: "holding",
                address: 1,
                count: 2,
                size: 2
            })
        );
        assert!(memory.store(Area::InputRegisters, 0, &[1]).is_err());
        memory
            .store(Area::HoldingRegisters, 0, &[0x0102, 0xA0B0])
            .expect("fits");
        memory.store(Area::Coils, 8, &[5, 0]).expect("fits");
        memory.store(Area::Coils, 0, &[1]).expect("fits");
        assert_eq!(
            &memory.snapshot(Area::HoldingRegisters)[..],
            [1, 2, 0xA0, 0xB0]
        );
        assert_eq!(&memory.snapshot(Area::Coils)[..], [1, 1]);
    }

    /// rtu-over-tcp drops frames with a wrong CRC and answers unknown codes with exception 1
    #[test]
    fn rtu_over_tcp_drops_bad_crc_frames_and_answers_unknown_codes_with_exception_1() {
        let device = device(None);
        let mut buf = BytesMut::new();
        frame::encode_rtu(1, &mut buf, |b| b.extend_from_slice(&[6, 0, 1, 0, 3]));
        buf[3] ^= 1;
        frame::encode_rtu(1, &mut buf, |b| b.extend_from_slice(&[3, 0, 0, 0, 1]));
        assert_eq!(
            next_answer(&mut buf, ServerTransport::RtuOverTcp, &device),
            Ok(Some(None))
        );
        let Ok(Some(Some(answer))) = next_answer(&mut buf, ServerTransport::RtuOverTcp, &device)
        else {
            panic!("the read after the bad frame is answered");
        };
        let mut expected = BytesMut::new();
        frame::encode_rtu(1, &mut expected, |b| b.extend_from_slice(&[3, 2, 0, 0]));
        assert_eq!(answer, expected);
        let mut unknown = BytesMut::from(&[7u8, 43, 14, 1, 0, 0x70, 0x77][..]);
        let Ok(Some(Some(answer))) =
            next_answer(&mut unknown, ServerTransport::RtuOverTcp, &device)
        else {
            panic!("answered");
        };
        assert_eq!(&answer[..3], [7, 0xAB, 1]);
        assert!(unknown.is_empty());
    }
}
