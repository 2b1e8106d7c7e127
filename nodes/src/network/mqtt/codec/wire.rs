//! MQTT's data representations (spec 1.5): big-endian integers, variable byte integers,
//! length-prefixed UTF-8 strings and binary data.
//!
//! Writing goes through [`Sink`] so that one function per packet both measures the packet
//! (its remaining length must be written before it) and writes it: the measuring pass also
//! runs every check, so writing never fails half-way and leaves no partial packet behind.

use bytes::{BufMut, Bytes, BytesMut};

use super::CodecError;

/// The largest variable byte integer: four bytes of seven bits each.
pub(super) const VARINT_MAX: usize = 268_435_455;

/// Strings and binary data carry a two-byte length.
const TWO_BYTE_MAX: usize = u16::MAX as usize;

pub(super) fn malformed(packet: &'static str, reason: impl Into<String>) -> CodecError {
    CodecError::Malformed {
        packet,
        reason: reason.into(),
    }
}

/// Where encoded bytes go: the output buffer, or a [`Counter`] that only adds up lengths.
pub(super) trait Sink {
    /// Whether this is the measuring pass, which makes the checks the writing pass can skip.
    const MEASURES: bool;

    fn u8(&mut self, v: u8);
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn raw(&mut self, v: &[u8]);
    /// `v` must be at most [`VARINT_MAX`]; callers check that in the measuring pass.
    fn varint(&mut self, v: usize);
}

impl Sink for BytesMut {
    const MEASURES: bool = false;
    fn u8(&mut self, v: u8) {
        self.put_u8(v);
    }
    fn u16(&mut self, v: u16) {
        self.put_u16(v);
    }
    fn u32(&mut self, v: u32) {
        self.put_u32(v);
    }
    fn raw(&mut self, v: &[u8]) {
        self.put_slice(v);
    }
    fn varint(&mut self, mut v: usize) {
        loop {
            let byte = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                self.put_u8(byte);
                return;
            }
            self.put_u8(byte | 0x80);
        }
    }
}

/// Measures instead of writing.
#[derive(Default)]
pub(super) struct Counter(pub(super) usize);

impl Sink for Counter {
    const MEASURES: bool = true;
    fn u8(&mut self, _: u8) {
        self.0 += 1;
    }
    fn u16(&mut self, _: u16) {
        self.0 += 2;
    }
    fn u32(&mut self, _: u32) {
        self.0 += 4;
    }
    fn raw(&mut self, v: &[u8]) {
        self.0 += v.len();
    }
    fn varint(&mut self, v: usize) {
        self.0 += varint_len(v);
    }
}

pub(super) fn varint_len(v: usize) -> usize {
    match v {
        0..=0x7F => 1,
        0x80..=0x3FFF => 2,
        0x4000..=0x1F_FFFF => 3,
        _ => 4,
    }
}

/// Writes a UTF-8 string; MQTT forbids U+0000 in it and limits it to 65535 bytes.
pub(super) fn string<S: Sink>(
    s: &mut S,
    v: &str,
    packet: &'static str,
    what: &'static str,
) -> Result<(), CodecError> {
    if S::MEASURES && has_nul(v.as_bytes()) {
        return Err(malformed(packet, format!("the {what} contains U+0000")));
    }
    binary(s, v.as_bytes(), packet, what)
}

/// Faster than `contains(&0)` on the short strings of MQTT: without an early exit the loop
/// is vectorised, where `contains` calls `memchr`.
fn has_nul(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |nul, &b| nul | (b == 0))
}

pub(super) fn binary<S: Sink>(
    s: &mut S,
    v: &[u8],
    packet: &'static str,
    what: &'static str,
) -> Result<(), CodecError> {
    let len = u16::try_from(v.len()).map_err(|_| {
        malformed(
            packet,
            format!(
                "the {what} is {} bytes long; at most {TWO_BYTE_MAX} fit",
                v.len()
            ),
        )
    })?;
    s.u16(len);
    s.raw(v);
    Ok(())
}

/// Reads one packet's body. Borrows the packet's bytes so that binary fields and the
/// payload come out as zero-copy slices of them.
pub(super) struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
    end: usize,
    pub(super) packet: &'static str,
}

impl<'a> Reader<'a> {
    /// Reads `data[pos..]`.
    pub(super) fn new(data: &'a Bytes, pos: usize, packet: &'static str) -> Self {
        Self {
            data,
            pos,
            end: data.len(),
            packet,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        if n > self.remaining() {
            return Err(malformed(
                self.packet,
                format!("the packet ends inside the {what}"),
            ));
        }
        let data: &'a Bytes = self.data;
        let bytes = &data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.take(1, what)?[0])
    }

    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16, CodecError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn varint(&mut self, what: &'static str) -> Result<usize, CodecError> {
        let mut value = 0;
        for shift in [0, 7, 14, 21] {
            let byte = self.u8(what)?;
            value |= usize::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed(
            self.packet,
            format!("the {what} is longer than 4 bytes"),
        ))
    }

    pub(super) fn str(&mut self, what: &'static str) -> Result<&'a str, CodecError> {
        let len = self.u16(what)?;
        let bytes = self.take(usize::from(len), what)?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| malformed(self.packet, format!("the {what} is not valid UTF-8")))?;
        if has_nul(bytes) {
            return Err(malformed(
                self.packet,
                format!("the {what} contains U+0000"),
            ));
        }
        Ok(text)
    }

    pub(super) fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        self.str(what).map(str::to_owned)
    }

    pub(super) fn binary(&mut self, what: &'static str) -> Result<Bytes, CodecError> {
        let len = usize::from(self.u16(what)?);
        let start = self.pos;
        self.take(len, what)?;
        Ok(self.data.slice(start..start + len))
    }

    /// Everything left, as a zero-copy slice.
    pub(super) fn rest(&mut self) -> Bytes {
        let rest = self.data.slice(self.pos..self.end);
        self.pos = self.end;
        rest
    }

    /// A packet identifier, which is never 0 where the packet needs one.
    pub(super) fn pkid(&mut self) -> Result<u16, CodecError> {
        match self.u16("packet identifier")? {
            0 => Err(malformed(self.packet, "packet identifier 0 is not allowed")),
            id => Ok(id),
        }
    }

    /// The next `len` bytes as a reader of their own (a property list).
    pub(super) fn sub(&mut self, len: usize, what: &'static str) -> Result<Self, CodecError> {
        let start = self.pos;
        self.take(len, what)?;
        Ok(Self {
            data: self.data,
            pos: start,
            end: start + len,
            packet: self.packet,
        })
    }

    /// The packet must end here.
    pub(super) fn finish(&self) -> Result<(), CodecError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(malformed(
                self.packet,
                format!("{n} unexpected bytes at the end"),
            )),
        }
    }
}
