//! Modbus application data units (PDUs): the requests and responses of function codes 1-6,
//! 15 and 16, and exceptions, for both ends of a connection (the client encodes requests
//! and decodes responses; `modbus-server` the other way round). Framing (MBAP header for
//! TCP, unit id and CRC for RTU) is in `frame.rs`.

use bytes::{BufMut, Bytes, BytesMut};

/// Most registers one read request may ask for (FC 3 and 4).
pub const MAX_READ_REGISTERS: u16 = 125;
/// Most coils or discrete inputs one read request may ask for (FC 1 and 2).
pub const MAX_READ_BITS: u16 = 2000;
/// Most registers one FC 16 request may write.
pub const MAX_WRITE_REGISTERS: u16 = 123;
/// Most coils one FC 15 request may write.
pub const MAX_WRITE_BITS: u16 = 1968;

/// The four data areas of a Modbus device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// Read-write bits (FC 1, 5, 15).
    Coils,
    /// Read-only bits (FC 2).
    DiscreteInputs,
    /// Read-write registers (FC 3, 6, 16).
    HoldingRegisters,
    /// Read-only registers (FC 4).
    InputRegisters,
}

impl Area {
    pub fn is_bits(self) -> bool {
        matches!(self, Area::Coils | Area::DiscreteInputs)
    }

    /// The read function code of this area.
    pub fn read_code(self) -> u8 {
        match self {
            Area::Coils => 1,
            Area::DiscreteInputs => 2,
            Area::HoldingRegisters => 3,
            Area::InputRegisters => 4,
        }
    }

    /// Most items one read request may ask for.
    pub fn max_read(self) -> u16 {
        if self.is_bits() {
            MAX_READ_BITS
        } else {
            MAX_READ_REGISTERS
        }
    }
}

/// A request, as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// FC 1-4: `quantity` items of `area` from `address`.
    Read {
        area: Area,
        address: u16,
        quantity: u16,
    },
    /// FC 5.
    WriteCoil { address: u16, value: bool },
    /// FC 6.
    WriteRegister { address: u16, value: u16 },
    /// FC 15.
    WriteCoils { address: u16, values: Vec<bool> },
    /// FC 16.
    WriteRegisters { address: u16, values: Vec<u16> },
}

/// A successful response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// FC 1 and 2: as many bits as the request asked for (the padding of the last byte is
    /// dropped).
    Bits(Vec<bool>),
    /// FC 3 and 4.
    Registers(Vec<u16>),
    /// FC 5 and 6: the address and value written, echoed.
    WroteOne { address: u16, value: u16 },
    /// FC 15 and 16: the address and how many items were written.
    WroteMany { address: u16, quantity: u16 },
}

/// A Modbus exception code, as a server answers a request it cannot serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception(pub u8);

impl Exception {
    pub const ILLEGAL_FUNCTION: Self = Self(1);
    pub const ILLEGAL_DATA_ADDRESS: Self = Self(2);
    pub const ILLEGAL_DATA_VALUE: Self = Self(3);
    pub const SERVER_DEVICE_FAILURE: Self = Self(4);
    pub const GATEWAY_TARGET_FAILED: Self = Self(0x0B);

    /// The name the Modbus specification gives the code.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "illegal function",
            2 => "illegal data address",
            3 => "illegal data value",
            4 => "server device failure",
            5 => "acknowledge",
            6 => "server device busy",
            8 => "memory parity error",
            0x0A => "gateway path unavailable",
            0x0B => "gateway target device failed to respond",
            _ => "unknown exception",
        }
    }
}

impl std::fmt::Display for Exception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Modbus exception {} ({})", self.0, self.name())
    }
}

/// Why bytes are not a valid PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("empty PDU")]
    Empty,
    #[error("function code {0} is not supported")]
    UnsupportedFunction(u8),
    #[error("PDU of function code {code} is {len} bytes, expected {expected}")]
    Length {
        code: u8,
        len: usize,
        expected: usize,
    },
    #[error("quantity {quantity} is out of range 1..={max} for function code {code}")]
    Quantity { code: u8, quantity: u16, max: u16 },
    #[error("coil value 0x{0:04x} is neither 0xFF00 nor 0x0000")]
    CoilValue(u16),
    #[error("the response to function code {sent} has function code {got}")]
    Mismatch { sent: u8, got: u8 },
    #[error("the response carries {got} items, the request asked for {asked}")]
    Count { asked: u16, got: usize },
}

impl Request {
    pub fn function_code(&self) -> u8 {
        match self {
            Request::Read { area, .. } => area.read_code(),
            Request::WriteCoil { .. } => 5,
            Request::WriteRegister { .. } => 6,
            Request::WriteCoils { .. } => 15,
            Request::WriteRegisters { .. } => 16,
        }
    }

    /// Checks quantities against what the protocol allows (before anything is sent).
    pub fn validate(&self) -> Result<(), PduError> {
        let code = self.function_code();
        let (quantity, max) = match self {
            Request::Read { area, quantity, .. } => (*quantity, area.max_read()),
            Request::WriteCoils { values, .. } => (len_u16(values.len()), MAX_WRITE_BITS),
            Request::WriteRegisters { values, .. } => (len_u16(values.len()), MAX_WRITE_REGISTERS),
            Request::WriteCoil { .. } | Request::WriteRegister { .. } => return Ok(()),
        };
        if quantity == 0 || quantity > max {
            return Err(PduError::Quantity {
                code,
                quantity,
                max,
            });
        }
        Ok(())
    }

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u8(self.function_code());
        match self {
            Request::Read {
                address, quantity, ..
            } => {
                buf.put_u16(*address);
                buf.put_u16(*quantity);
            }
            Request::WriteCoil { address, value } => {
                buf.put_u16(*address);
                buf.put_u16(if *value { 0xFF00 } else { 0 });
            }
            Request::WriteRegister { address, value } => {
                buf.put_u16(*address);
                buf.put_u16(*value);
            }
            Request::WriteCoils { address, values } => {
                buf.put_u16(*address);
                buf.put_u16(len_u16(values.len()));
                put_bits(buf, values);
            }
            Request::WriteRegisters { address, values } => {
                buf.put_u16(*address);
                buf.put_u16(len_u16(values.len()));
                buf.put_u8(len_u8(values.len() * 2));
                for value in values {
                    buf.put_u16(*value);
                }
            }
        }
    }

    /// Decodes a request (server side). A function code other than 1-6, 15, 16 is
    /// [`PduError::UnsupportedFunction`], which a server answers with exception 1.
    pub fn decode(pdu: &[u8]) -> Result<Self, PduError> {
        let (&code, body) = pdu.split_first().ok_or(PduError::Empty)?;
        let word = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
        let request = match code {
            1..=4 => {
                expect_len(pdu, 5)?;
                let area = match code {
                    1 => Area::Coils,
                    2 => Area::DiscreteInputs,
                    3 => Area::HoldingRegisters,
                    _ => Area::InputRegisters,
                };
                Request::Read {
                    area,
                    address: word(0),
                    quantity: word(2),
                }
            }
            5 => {
                expect_len(pdu, 5)?;
                let value = match word(2) {
                    0xFF00 => true,
                    0 => false,
                    other => return Err(PduError::CoilValue(other)),
                };
                Request::WriteCoil {
                    address: word(0),
                    value,
                }
            }
            6 => {
                expect_len(pdu, 5)?;
                Request::WriteRegister {
                    address: word(0),
                    value: word(2),
                }
            }
            15 | 16 => {
                if body.len() < 5 {
                    return Err(length_error(pdu, 6));
                }
                let quantity = word(2);
                let bytes = &body[5..];
                let expected = if code == 15 {
                    usize::from(quantity).div_ceil(8)
                } else {
                    usize::from(quantity) * 2
                };
                if usize::from(body[4]) != expected || bytes.len() != expected {
                    return Err(length_error(pdu, 6 + expected));
                }
                if code == 15 {
                    Request::WriteCoils {
                        address: word(0),
                        values: take_bits(bytes, quantity),
                    }
                } else {
                    Request::WriteRegisters {
                        address: word(0),
                        values: bytes
                            .chunks_exact(2)
                            .map(|w| u16::from_be_bytes([w[0], w[1]]))
                            .collect(),
                    }
                }
            }
            other => return Err(PduError::UnsupportedFunction(other)),
        };
        request.validate()?;
        Ok(request)
    }

    /// Decodes the server's answer to this request: the response, or the exception it
    /// reported.
    pub fn decode_response(&self, pdu: &[u8]) -> Result<Result<Response, Exception>, PduError> {
        let (&code, body) = pdu.split_first().ok_or(PduError::Empty)?;
        let sent = self.function_code();
        if code == sent | 0x80 {
            return match body {
                [exception] => Ok(Err(Exception(*exception))),
                _ => Err(length_error(pdu, 2)),
            };
        }
        if code != sent {
            return Err(PduError::Mismatch { sent, got: code });
        }
        let word = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
        let response = match self {
            Request::Read { area, quantity, .. } => {
                let Some((&count, data)) = body.split_first() else {
                    return Err(length_error(pdu, 2));
                };
                expect_len(pdu, 2 + usize::from(count))?;
                if area.is_bits() {
                    if data.len() < usize::from(*quantity).div_ceil(8) {
                        return Err(PduError::Count {
                            asked: *quantity,
                            got: data.len() * 8,
                        });
                    }
                    Response::Bits(take_bits(data, *quantity))
                } else {
                    if data.len() != usize::from(*quantity) * 2 {
                        return Err(PduError::Count {
                            asked: *quantity,
                            got: data.len() / 2,
                        });
                    }
                    Response::Registers(
                        data.chunks_exact(2)
                            .map(|w| u16::from_be_bytes([w[0], w[1]]))
                            .collect(),
                    )
                }
            }
            Request::WriteCoil { .. } | Request::WriteRegister { .. } => {
                expect_len(pdu, 5)?;
                Response::WroteOne {
                    address: word(0),
                    value: word(2),
                }
            }
            Request::WriteCoils { .. } | Request::WriteRegisters { .. } => {
                expect_len(pdu, 5)?;
                Response::WroteMany {
                    address: word(0),
                    quantity: word(2),
                }
            }
        };
        Ok(Ok(response))
    }
}

impl Response {
    /// Encodes the answer to a request with function code `code` (server side).
    pub fn encode(&self, code: u8, buf: &mut BytesMut) {
        buf.put_u8(code);
        match self {
            Response::Bits(bits) => put_bits(buf, bits),
            Response::Registers(registers) => {
                buf.put_u8(len_u8(registers.len() * 2));
                for register in registers {
                    buf.put_u16(*register);
                }
            }
            Response::WroteOne { address, value } => {
                buf.put_u16(*address);
                buf.put_u16(*value);
            }
            Response::WroteMany { address, quantity } => {
                buf.put_u16(*address);
                buf.put_u16(*quantity);
            }
        }
    }
}

/// `pdu` (function code and body) must be `expected` bytes long.
fn expect_len(pdu: &[u8], expected: usize) -> Result<(), PduError> {
    if pdu.len() == expected {
        Ok(())
    } else {
        Err(length_error(pdu, expected))
    }
}

fn length_error(pdu: &[u8], expected: usize) -> PduError {
    PduError::Length {
        code: pdu.first().copied().unwrap_or_default(),
        len: pdu.len(),
        expected,
    }
}

/// Encodes an exception answer to a request with function code `code`.
pub fn encode_exception(code: u8, exception: Exception, buf: &mut BytesMut) {
    buf.put_u8(code | 0x80);
    buf.put_u8(exception.0);
}

/// The PDU bytes of a request (for tests and the raw response buffer).
pub fn request_bytes(request: &Request) -> Bytes {
    let mut buf = BytesMut::with_capacity(8);
    request.encode(&mut buf);
    buf.freeze()
}

/// A byte count, then the bits packed eight to a byte, least significant bit first.
fn put_bits(buf: &mut BytesMut, bits: &[bool]) {
    buf.put_u8(len_u8(bits.len().div_ceil(8)));
    for chunk in bits.chunks(8) {
        let byte = chunk
            .iter()
            .enumerate()
            .fold(0u8, |byte, (i, &bit)| byte | (u8::from(bit) << i));
        buf.put_u8(byte);
    }
}

fn take_bits(bytes: &[u8], quantity: u16) -> Vec<bool> {
    (0..usize::from(quantity))
        .map(|i| bytes[i / 8] & (1 << (i % 8)) != 0)
        .collect()
}

/// Lengths here are bounded by the protocol's maxima (checked by `validate`); a longer
/// one is clamped rather than wrapped, so the peer rejects it instead of misreading it.
fn len_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

fn len_u8(len: usize) -> u8 {
    u8::try_from(len).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(request: Request) -> Request {
        let bytes = request_bytes(&request);
        Request::decode(&bytes).expect("decodes")
    }

    #[test]
    fn requests_round_trip_through_their_bytes() {
        let requests = [
            Request::Read {
                area: Area::HoldingRegisters,
                address: 10,
                quantity: 3,
            },
            Request::Read {
                area: Area::Coils,
                address: 0,
                quantity: 2000,
            },
            Request::WriteCoil {
                address: 7,
                value: true,
            },
            Request::WriteRegister {
                address: 1,
                value: 0xBEEF,
            },
            Request::WriteCoils {
                address: 3,
                values: vec![true, false, true, true, false, false, false, false, true],
            },
            Request::WriteRegisters {
                address: 100,
                values: vec![1, 2, 65535],
            },
        ];
        for request in requests {
            assert_eq!(round_trip(request.clone()), request);
        }
    }

    #[test]
    fn the_wire_format_matches_the_specification() {
        // Modbus Application Protocol V1.1b3, 6.3 and 6.11: read holding registers 108-110
        // (address 107, 3 registers), and write 0x000A, 0x0102 at address 1.
        let read = Request::Read {
            area: Area::HoldingRegisters,
            address: 107,
            quantity: 3,
        };
        assert_eq!(&request_bytes(&read)[..], [3, 0, 0x6B, 0, 3]);
        let answer = [3, 6, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64];
        assert_eq!(
            read.decode_response(&answer),
            Ok(Ok(Response::Registers(vec![0x022B, 0, 0x64])))
        );
        let write = Request::WriteRegisters {
            address: 1,
            values: vec![0x000A, 0x0102],
        };
        assert_eq!(
            &request_bytes(&write)[..],
            [16, 0, 1, 0, 2, 4, 0, 0x0A, 1, 2]
        );
        // 6.1: coils 20-38 (address 19, 19 coils) answered CD 6B 05.
        let coils = Request::Read {
            area: Area::Coils,
            address: 19,
            quantity: 19,
        };
        let Ok(Ok(Response::Bits(bits))) = coils.decode_response(&[1, 3, 0xCD, 0x6B, 0x05]) else {
            panic!("bits expected");
        };
        assert_eq!(bits.len(), 19);
        assert_eq!(
            &bits[..8],
            [true, false, true, true, false, false, true, true]
        );
        assert_eq!(&bits[16..], [true, false, true]);
    }

    #[test]
    fn an_exception_answer_is_named() {
        let read = Request::Read {
            area: Area::InputRegisters,
            address: 9999,
            quantity: 1,
        };
        let exception = read.decode_response(&[0x84, 2]).expect("well formed");
        assert_eq!(exception, Err(Exception::ILLEGAL_DATA_ADDRESS));
        assert_eq!(
            Exception(2).to_string(),
            "Modbus exception 2 (illegal data address)"
        );
        assert_eq!(
            Exception(0x0B).name(),
            "gateway target device failed to respond"
        );
    }

    #[test]
    fn malformed_or_mismatched_responses_are_errors_not_panics() {
        let read = Request::Read {
            area: Area::HoldingRegisters,
            address: 0,
            quantity: 2,
        };
        assert!(read.decode_response(&[]).is_err());
        assert!(read.decode_response(&[3]).is_err());
        assert!(read.decode_response(&[3, 4, 0, 1]).is_err());
        assert!(
            read.decode_response(&[3, 2, 0, 1]).is_err(),
            "one register of two"
        );
        assert_eq!(
            read.decode_response(&[4, 4, 0, 1, 0, 2]),
            Err(PduError::Mismatch { sent: 3, got: 4 })
        );
        assert!(read.decode_response(&[0x83]).is_err());
        // Every prefix and every single-byte change of a valid answer decodes or fails.
        let valid = [3u8, 4, 0, 1, 0, 2];
        for end in 0..valid.len() {
            let _ = read.decode_response(&valid[..end]);
        }
        for i in 0..valid.len() {
            for byte in [0u8, 1, 0x7F, 0x80, 0xFF] {
                let mut changed = valid;
                changed[i] = byte;
                let _ = read.decode_response(&changed);
                let _ = Request::decode(&changed);
            }
        }
    }

    #[test]
    fn quantities_beyond_the_protocol_limits_are_refused() {
        let too_many = Request::Read {
            area: Area::HoldingRegisters,
            address: 0,
            quantity: 126,
        };
        assert!(matches!(
            too_many.validate(),
            Err(PduError::Quantity { max: 125, .. })
        ));
        let none = Request::Read {
            area: Area::Coils,
            address: 0,
            quantity: 0,
        };
        assert!(none.validate().is_err());
        assert!(Request::decode(&[3, 0, 0, 0, 126]).is_err());
        assert!(
            Request::decode(&[5, 0, 0, 0x12, 0x34]).is_err(),
            "coil value"
        );
        assert_eq!(
            Request::decode(&[43, 14, 1, 0]),
            Err(PduError::UnsupportedFunction(43))
        );
    }
}
