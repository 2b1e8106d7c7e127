//! Modbus framing around a PDU (`pdu.rs`): the MBAP header of Modbus TCP (transaction id,
//! protocol 0, length, unit id) and the RTU frame (unit id, PDU, CRC-16) used on serial
//! lines and by RTU-over-TCP gateways.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Longest PDU Modbus allows (an ADU of 256 bytes on serial lines, 260 over TCP).
pub const MAX_PDU: usize = 253;

/// Why received bytes are not a frame; the stream cannot be trusted after one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("MBAP header with protocol id {0} (Modbus is 0)")]
    Protocol(u16),
    #[error("MBAP header with length {0} (2..=254)")]
    Length(u16),
    #[error("RTU frame with a wrong CRC")]
    Crc,
    #[error("RTU frame with function code {0}, whose length is unknown")]
    UnknownFunction(u8),
}

/// One frame's addressing and its PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The MBAP transaction id (0 for RTU).
    pub transaction: u16,
    pub unit: u8,
    pub pdu: Bytes,
}

/// Appends an MBAP frame: `pdu` writes the PDU.
pub fn encode_tcp(transaction: u16, unit: u8, buf: &mut BytesMut, pdu: impl FnOnce(&mut BytesMut)) {
    let start = buf.len();
    buf.put_u16(transaction);
    buf.put_u16(0);
    buf.put_u16(0);
    buf.put_u8(unit);
    let body = buf.len();
    pdu(buf);
    let length = u16::try_from(buf.len() - body + 1).unwrap_or(u16::MAX);
    buf[start + 4..start + 6].copy_from_slice(&length.to_be_bytes());
}

/// Takes one MBAP frame off the front of `buf`; `Ok(None)` until a whole frame is there.
pub fn decode_tcp(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 7 {
        return Ok(None);
    }
    let protocol = u16::from_be_bytes([buf[2], buf[3]]);
    if protocol != 0 {
        return Err(FrameError::Protocol(protocol));
    }
    let length = u16::from_be_bytes([buf[4], buf[5]]);
    if !(2..=MAX_PDU as u16 + 1).contains(&length) {
        return Err(FrameError::Length(length));
    }
    let total = 6 + usize::from(length);
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    let transaction = frame.get_u16();
    frame.advance(4);
    let unit = frame.get_u8();
    Ok(Some(Frame {
        transaction,
        unit,
        pdu: frame.freeze(),
    }))
}

/// Appends an RTU frame: unit id, the PDU `pdu` writes, CRC (low byte first).
pub fn encode_rtu(unit: u8, buf: &mut BytesMut, pdu: impl FnOnce(&mut BytesMut)) {
    let start = buf.len();
    buf.put_u8(unit);
    pdu(buf);
    let crc = crc16(&buf[start..]);
    buf.put_u16_le(crc);
}

/// Which end reads an RTU frame: the length of a frame follows from its function code, and
/// requests and responses of the same code differ in length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Requests,
    Responses,
}

/// Takes one RTU frame off the front of `buf`; `Ok(None)` until a whole frame is there.
pub fn decode_rtu(buf: &mut BytesMut, reading: Reading) -> Result<Option<Frame>, FrameError> {
    let Some(total) = rtu_length(buf, reading)? else {
        return Ok(None);
    };
    if buf.len() < total {
        return Ok(None);
    }
    let frame = buf.split_to(total);
    let (body, crc) = frame.split_at(total - 2);
    if crc16(body) != u16::from_le_bytes([crc[0], crc[1]]) {
        return Err(FrameError::Crc);
    }
    let mut frame = frame.freeze();
    let unit = frame.get_u8();
    frame.truncate(total - 3);
    Ok(Some(Frame {
        transaction: 0,
        unit,
        pdu: frame,
    }))
}

/// The whole frame's length, once enough of it is there to tell.
fn rtu_length(buf: &[u8], reading: Reading) -> Result<Option<usize>, FrameError> {
    let Some(&code) = buf.get(1) else {
        return Ok(None);
    };
    // unit + code + ... + CRC
    let length = match (reading, code) {
        (Reading::Responses, code) if code & 0x80 != 0 => 5,
        (Reading::Responses, 1..=4) => match buf.get(2) {
            Some(&count) => 5 + usize::from(count),
            None => return Ok(None),
        },
        (Reading::Responses, 5 | 6 | 15 | 16) | (Reading::Requests, 1..=6) => 8,
        (Reading::Requests, 15 | 16) => match buf.get(6) {
            Some(&count) => 9 + usize::from(count),
            None => return Ok(None),
        },
        (_, code) => return Err(FrameError::UnknownFunction(code)),
    };
    Ok(Some(length))
}

/// CRC-16/MODBUS (polynomial 0xA001 reflected, initial value 0xFFFF).
pub fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0xFFFF, |crc, &byte| {
        (0..8).fold(crc ^ u16::from(byte), |crc, _| {
            if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_matches_the_specification_example() {
        // Modbus over serial line V1.02, 6.2.2: 02 07 has CRC 0x1241 (sent 41 12).
        assert_eq!(crc16(&[0x02, 0x07]), 0x1241);
        let mut buf = BytesMut::new();
        encode_rtu(1, &mut buf, |b| b.put_slice(&[3, 0, 0, 0, 10]));
        assert_eq!(&buf[..], [1, 3, 0, 0, 0, 10, 0xC5, 0xCD]);
    }

    #[test]
    fn tcp_frames_round_trip_and_wait_for_all_their_bytes() {
        let mut buf = BytesMut::new();
        encode_tcp(0x1234, 7, &mut buf, |b| b.put_slice(&[3, 0, 1, 0, 2]));
        assert_eq!(&buf[..], [0x12, 0x34, 0, 0, 0, 6, 7, 3, 0, 1, 0, 2]);
        let whole = buf.clone();
        for end in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..end]);
            assert_eq!(decode_tcp(&mut part), Ok(None), "{end} bytes");
        }
        buf.extend_from_slice(&whole);
        let frame = decode_tcp(&mut buf).expect("valid").expect("whole");
        assert_eq!(frame.transaction, 0x1234);
        assert_eq!(frame.unit, 7);
        assert_eq!(&frame.pdu[..], [3, 0, 1, 0, 2]);
        assert!(
            decode_tcp(&mut buf).expect("valid").is_some(),
            "the second frame"
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn a_bad_mbap_header_is_an_error() {
        let mut buf = BytesMut::from(&[0, 1, 0, 9, 0, 6, 1, 3, 0, 0, 0, 1][..]);
        assert_eq!(decode_tcp(&mut buf), Err(FrameError::Protocol(9)));
        let mut buf = BytesMut::from(&[0, 1, 0, 0, 0xFF, 0xFF, 1][..]);
        assert_eq!(decode_tcp(&mut buf), Err(FrameError::Length(0xFFFF)));
    }

    #[test]
    fn rtu_frames_are_sized_by_their_function_code() {
        let cases: [(Reading, &[u8]); 5] = [
            (Reading::Requests, &[3, 0, 0, 0, 10]),
            (Reading::Requests, &[16, 0, 1, 0, 2, 4, 0, 0x0A, 1, 2]),
            (Reading::Responses, &[3, 4, 0, 1, 0, 2]),
            (Reading::Responses, &[0x83, 2]),
            (Reading::Responses, &[15, 0, 1, 0, 9]),
        ];
        for (reading, pdu) in cases {
            let mut buf = BytesMut::new();
            encode_rtu(9, &mut buf, |b| b.put_slice(pdu));
            let whole = buf.clone();
            for end in 0..whole.len() {
                let mut part = BytesMut::from(&whole[..end]);
                assert_eq!(decode_rtu(&mut part, reading), Ok(None), "{pdu:?} {end}");
            }
            let frame = decode_rtu(&mut buf, reading)
                .expect("valid")
                .expect("whole");
            assert_eq!((frame.unit, &frame.pdu[..]), (9, pdu));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn a_corrupt_rtu_frame_is_an_error() {
        let mut buf = BytesMut::new();
        encode_rtu(1, &mut buf, |b| b.put_slice(&[6, 0, 1, 0, 3]));
        buf[3] ^= 0x10;
        assert_eq!(
            decode_rtu(&mut buf, Reading::Requests),
            Err(FrameError::Crc)
        );
        let mut unknown = BytesMut::from(&[1u8, 43, 14, 1, 0][..]);
        assert_eq!(
            decode_rtu(&mut unknown, Reading::Requests),
            Err(FrameError::UnknownFunction(43))
        );
    }
}
