//! Typed register maps: a Ferrite extension of node-red-contrib-modbus's `modbus-read`
//! family (pure logic: no I/O, no node). A map turns the node's config into the read
//! requests of one poll, and the responses of that poll into named engineering values; it
//! also turns `{name: value}` into write requests.
//!
//! Config keys (as the node stores them; numbers may be JSON numbers or their text):
//! * `dataType` — the area, with the contrib node's names: `Coil` (FC 1), `Input` (discrete
//!   inputs, FC 2), `HoldingRegister` (FC 3), `InputRegister` (FC 4); the write nodes'
//!   `MCoils` and `MHoldingRegisters` name the same areas.
//! * `adr` / `quantity` — start address (0-based) and count of one block, or of several
//!   blocks separated by `;` (`"1;10;55"` / `"1;3;2"`), one count per start. An empty
//!   `quantity` means 1 per block, the contrib node's default. Both may be left empty when
//!   `points` are given: the blocks are then the points' own ranges.
//! * `points` — an array (or its JSON text) of `{name, address, type, order, scale, offset,
//!   length, bit}`:
//!   * `type`: bool | int16 | uint16 | int32 | uint32 | int64 | uint64 | float32 | float64 |
//!     string; default bool in the bit areas, uint16 in the register areas.
//!   * `order`: ABCD (default, big endian) | CDAB (word swap) | BADC (byte swap) | DCBA
//!     (little endian); for 64-bit types also spelled ABCDEFGH | GHEFCDAB | BADCFEHG |
//!     HGFEDCBA as Telegraf does. For 16-bit types only the byte swap matters (BADC and
//!     DCBA swap the two bytes); for strings too (the first character in the low byte).
//!   * `scale`, `offset`: value = raw * scale + offset (numeric types only).
//!   * `length`: registers of a string, two bytes each, high byte first; trailing NULs are
//!     trimmed on read and added on write.
//!   * `bit`: 0-15, the bit of a bool in a register area (0 = least significant). In a bit
//!     area a bool point is the coil or input itself and takes no `bit`.
//! * `maxGap` — a hole of at most this many unused items between two ranges is read
//!   rather than split into two requests (default 0: holes are never read, since a device
//!   may answer "illegal data address" for them).
//!
//! The plan: the wanted ranges are sorted, touching ones (and, with `maxGap`, near ones)
//! joined, and cut into reads of at most 125 registers or 2000 bits; a cut is moved back so
//! it never splits a multi-register point, and each read is trimmed to start and end on
//! wanted items.
//!
//! Output of [`RegisterMap::decode`]:
//! * `payload`: `{name: value}` in the order the points are listed; without points, one
//!   block gives the contrib node's array of raw values (numbers for registers, booleans for
//!   bits) and several blocks give one flat array in block order.
//! * `blocks`: `[{start, count, values}]` for the blocks as configured (or as computed from
//!   the points), not as merged into requests.
//!
//! Numbers: an integer type gives an integer when `scale` and `offset` are whole numbers
//! (1 and 0 by default), computed exactly, so int64 and uint64 keep full precision up to
//! `i64::MAX`; a result beyond `i64` (uint64 above 2^63 - 1, or a large scale) becomes a
//! float, as do all values of a point with a fractional scale or offset. float32 and
//! float64 give floats; a NaN or infinity decodes to `null`, since JSON has no NaN.

use std::fmt;

use ferrite_runtime::{ConfigError, Map, Value};
use serde_json::Value as Json;

use super::pdu::{Area, MAX_WRITE_BITS, MAX_WRITE_REGISTERS, Request, Response};

/// Why a register map cannot be built, read or written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapError {
    /// A map-level config key (`dataType`, `adr`, `quantity`, `points`, `maxGap`).
    #[error("{key}: {reason}")]
    Config { key: &'static str, reason: String },
    /// A field of one point, named by its index in `points` and its name when it has one.
    #[error("point #{index}{}, {field}: {reason}", quoted(.name))]
    Point {
        index: usize,
        name: Option<String>,
        field: &'static str,
        reason: String,
    },
    /// The responses of a poll do not fit the plan (`index` is the request's position).
    #[error("response {index}: {reason}")]
    Response { index: usize, reason: String },
    /// A value that cannot be written to a point.
    #[error("point \"{point}\": {reason}")]
    Write { point: String, reason: String },
}

fn quoted(name: &Option<String>) -> String {
    name.as_ref()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default()
}

impl MapError {
    /// The config key the error is about, for reports at deploy.
    pub fn key(&self) -> &'static str {
        match self {
            MapError::Config { key, .. } => key,
            MapError::Point { .. } => "points",
            MapError::Response { .. } | MapError::Write { .. } => "payload",
        }
    }

    fn config(key: &'static str, reason: impl Into<String>) -> Self {
        MapError::Config {
            key,
            reason: reason.into(),
        }
    }
}

impl From<MapError> for ConfigError {
    fn from(error: MapError) -> Self {
        match error {
            MapError::Config { key, reason } => ConfigError::field(key, reason),
            other => ConfigError::field(other.key(), other),
        }
    }
}

/// The contrib node's `dataType` as an area.
pub fn parse_area(data_type: &str) -> Result<Area, MapError> {
    match data_type.trim() {
        "Coil" | "MCoils" => Ok(Area::Coils),
        "Input" => Ok(Area::DiscreteInputs),
        "HoldingRegister" | "MHoldingRegisters" => Ok(Area::HoldingRegisters),
        "InputRegister" => Ok(Area::InputRegisters),
        other => Err(MapError::config(
            "dataType",
            format!(
                "unknown data type \"{other}\"; use Coil, Input, HoldingRegister or InputRegister"
            ),
        )),
    }
}

/// The type of a point's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointType {
    Bool,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Uint64,
    Float32,
    Float64,
    String,
}

const TYPE_NAMES: &str =
    "bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, string";

impl PointType {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "bool" | "boolean" => Self::Bool,
            "int16" => Self::Int16,
            "uint16" => Self::Uint16,
            "int32" => Self::Int32,
            "uint32" => Self::Uint32,
            "int64" => Self::Int64,
            "uint64" => Self::Uint64,
            "float32" | "float" => Self::Float32,
            "float64" | "double" => Self::Float64,
            "string" => Self::String,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::Int16 => "int16",
            Self::Uint16 => "uint16",
            Self::Int32 => "int32",
            Self::Uint32 => "uint32",
            Self::Int64 => "int64",
            Self::Uint64 => "uint64",
            Self::Float32 => "float32",
            Self::Float64 => "float64",
            Self::String => "string",
        }
    }

    /// Registers of a numeric type (bool and string have their own widths).
    fn registers(self) -> u16 {
        match self {
            Self::Bool | Self::Int16 | Self::Uint16 | Self::String => 1,
            Self::Int32 | Self::Uint32 | Self::Float32 => 2,
            Self::Int64 | Self::Uint64 | Self::Float64 => 4,
        }
    }

    /// The range of an integer type; `None` for the others.
    fn int_range(self) -> Option<(i128, i128)> {
        Some(match self {
            Self::Int16 => (i16::MIN.into(), i16::MAX.into()),
            Self::Uint16 => (0, u16::MAX.into()),
            Self::Int32 => (i32::MIN.into(), i32::MAX.into()),
            Self::Uint32 => (0, u32::MAX.into()),
            Self::Int64 => (i64::MIN.into(), i64::MAX.into()),
            Self::Uint64 => (0, u64::MAX.into()),
            _ => return None,
        })
    }

    fn is_numeric(self) -> bool {
        !matches!(self, Self::Bool | Self::String)
    }
}

/// Where the bytes of a value sit in its registers, named by the big-endian bytes A (most
/// significant) to D in the order they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByteOrder {
    #[default]
    Abcd,
    Cdab,
    Badc,
    Dcba,
}

impl ByteOrder {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "ABCD" | "ABCDEFGH" | "AB" => Self::Abcd,
            "CDAB" | "GHEFCDAB" => Self::Cdab,
            "BADC" | "BADCFEHG" | "BA" => Self::Badc,
            "DCBA" | "HGFEDCBA" => Self::Dcba,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Abcd => "ABCD",
            Self::Cdab => "CDAB",
            Self::Badc => "BADC",
            Self::Dcba => "DCBA",
        }
    }

    fn swaps_bytes(self) -> bool {
        matches!(self, Self::Badc | Self::Dcba)
    }

    fn reverses_words(self) -> bool {
        matches!(self, Self::Cdab | Self::Dcba)
    }

    /// Word `i` of `words` holds the bytes of pair `pair(i)` of the big-endian value; the
    /// mapping is its own inverse, so reading and writing share it.
    fn pair(self, i: usize, words: usize) -> usize {
        if self.reverses_words() {
            words - 1 - i
        } else {
            i
        }
    }

    /// The big-endian bytes of a value from its registers (`out` is twice as long).
    fn to_be_bytes(self, words: &[u16], out: &mut [u8]) {
        for (i, &word) in words.iter().enumerate() {
            let [hi, lo] = word.to_be_bytes();
            let j = self.pair(i, words.len());
            let (first, second) = if self.swaps_bytes() {
                (lo, hi)
            } else {
                (hi, lo)
            };
            out[2 * j] = first;
            out[2 * j + 1] = second;
        }
    }

    /// The registers of a value from its big-endian bytes.
    fn to_words(self, bytes: &[u8]) -> Vec<u16> {
        let words = bytes.len() / 2;
        (0..words)
            .map(|i| {
                let j = self.pair(i, words);
                let (hi, lo) = (bytes[2 * j], bytes[2 * j + 1]);
                if self.swaps_bytes() {
                    u16::from_be_bytes([lo, hi])
                } else {
                    u16::from_be_bytes([hi, lo])
                }
            })
            .collect()
    }
}

/// One named value of a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub name: String,
    pub address: u16,
    pub kind: PointType,
    pub order: ByteOrder,
    pub scale: f64,
    pub offset: f64,
    /// Items (registers, or bits in a bit area) the point occupies from `address`.
    pub width: u16,
    /// The bit of a bool in a register area.
    pub bit: Option<u8>,
    pub area: Area,
    /// `scale` and `offset` as integers when both are whole: integer types then stay exact.
    exact: Option<(i64, i64)>,
    /// Where the point's first item lies in the concatenated responses of a poll.
    pos: usize,
}

/// A range of items read in one poll, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: u16,
    pub count: u16,
}

/// What one poll decodes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// `{name: value}`, or the raw values when the map has no points.
    pub payload: Value,
    /// `[{start, count, values}]`, one per block.
    pub blocks: Value,
}

/// A register map: blocks, points and the requests that read them.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterMap {
    area: Area,
    blocks: Vec<Block>,
    /// Where each block's first item lies in the concatenated responses.
    block_pos: Vec<usize>,
    points: Vec<Point>,
    requests: Vec<Request>,
    /// Items one poll reads in all.
    total: usize,
}

impl RegisterMap {
    /// Builds a map from the keys of a node's config (`dataType`, `adr`, `quantity`,
    /// `points`, `maxGap`), each a JSON number or its text.
    pub fn from_node_config(config: &serde_json::Map<String, Json>) -> Result<Self, MapError> {
        let area = parse_area(&config_text(config, "dataType")?)?;
        let max_gap = match config.get("maxGap") {
            None | Some(Json::Null) => 0,
            Some(value) => json_uint(value)
                .and_then(|gap| u16::try_from(gap).ok())
                .ok_or_else(|| {
                    MapError::config("maxGap", "expected a whole number of items, 0 to 65535")
                })?,
        };
        Self::from_config(
            area,
            &config_text(config, "adr")?,
            &config_text(config, "quantity")?,
            config.get("points"),
            max_gap,
        )
    }

    /// Builds a map; `adr` and `quantity` are `;`-separated lists, `points` the array (or
    /// its JSON text) of point definitions.
    pub fn from_config(
        area: Area,
        adr: &str,
        quantity: &str,
        points: Option<&Json>,
        max_gap: u16,
    ) -> Result<Self, MapError> {
        let explicit = parse_blocks(area, adr, quantity)?;
        let mut points = parse_points(area, points)?;
        if explicit.is_empty() && points.is_empty() {
            return Err(MapError::config(
                "adr",
                "give a start address (and quantity), or points",
            ));
        }
        let blocks = if explicit.is_empty() {
            merge(points.iter().map(item_range), 0)
                .into_iter()
                .map(|(start, end)| Block {
                    start: to_u16(start),
                    count: to_u16(end - start),
                })
                .collect()
        } else {
            check_points_inside(&explicit, &points)?;
            explicit
        };

        // `wanted` are the items the map needs; runs join them across holes of at most
        // `max_gap`, and each run is cut into reads, trimmed to start and end on wanted
        // items (a read that would hold only a hole is dropped). A poll's responses,
        // concatenated in request order, are the reads' items back to back.
        let wanted = merge(blocks.iter().map(|b| block_range(*b)), 0);
        let mut reads: Vec<(u32, u32)> = Vec::new();
        for (start, end) in merge(wanted.iter().copied(), u32::from(max_gap)) {
            split(
                start,
                end,
                u32::from(area.max_read()),
                &points,
                |from, to| {
                    reads.extend(trim(&wanted, from, to));
                },
            );
        }
        let mut read_pos = Vec::with_capacity(reads.len());
        let mut total = 0;
        for &(from, to) in &reads {
            read_pos.push(total);
            total += (to - from) as usize;
        }
        // A block or point may span several reads, but only adjacent ones: reads are cut
        // inside wanted items and trimmed only at holes, so its items stay contiguous.
        let locate = |address: u16| {
            let address = u32::from(address);
            // Every block and point lies in a read (the reads are made from them), so the
            // read found is never before the first; saturating keeps that an invariant, not a panic.
            let read = reads
                .partition_point(|&(from, _)| from <= address)
                .saturating_sub(1);
            read_pos[read] + (address - reads[read].0) as usize
        };
        let block_pos = blocks.iter().map(|b| locate(b.start)).collect();
        for point in &mut points {
            point.pos = locate(point.address);
        }
        let requests = reads
            .iter()
            .map(|&(from, to)| Request::Read {
                area,
                address: to_u16(from),
                quantity: to_u16(to - from),
            })
            .collect();
        Ok(Self {
            area,
            blocks,
            block_pos,
            points,
            requests,
            total,
        })
    }

    pub fn area(&self) -> Area {
        self.area
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    pub fn point(&self, name: &str) -> Option<&Point> {
        self.points.iter().find(|p| p.name == name)
    }

    /// The reads of one poll, in address order.
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }

    /// Decodes the responses to [`requests`](Self::requests), in the same order.
    pub fn decode(&self, responses: &[Response]) -> Result<Decoded, MapError> {
        if responses.len() != self.requests.len() {
            return Err(MapError::Response {
                index: responses.len().min(self.requests.len()),
                reason: format!(
                    "{} responses for {} requests",
                    responses.len(),
                    self.requests.len()
                ),
            });
        }
        let mut items: Vec<u16> = Vec::with_capacity(self.total);
        for (index, (request, response)) in self.requests.iter().zip(responses).enumerate() {
            let asked = match request {
                Request::Read { quantity, .. } => usize::from(*quantity),
                _ => 0,
            };
            let got = match (self.area.is_bits(), response) {
                (false, Response::Registers(registers)) => {
                    items.extend_from_slice(registers);
                    registers.len()
                }
                (true, Response::Bits(bits)) => {
                    items.extend(bits.iter().map(|&bit| u16::from(bit)));
                    bits.len()
                }
                (bits, _) => {
                    return Err(MapError::Response {
                        index,
                        reason: format!(
                            "expected {}, got {}",
                            if bits { "bits" } else { "registers" },
                            response_kind(response)
                        ),
                    });
                }
            };
            if got != asked {
                return Err(MapError::Response {
                    index,
                    reason: format!("{got} items for a read of {asked}"),
                });
            }
        }

        let raw = |pos: usize, count: u16| {
            items[pos..pos + usize::from(count)]
                .iter()
                .map(|&item| self.raw_value(item))
        };
        let blocks = Value::Array(
            self.blocks
                .iter()
                .zip(&self.block_pos)
                .map(|(block, &pos)| {
                    let mut object = Map::with_capacity(3);
                    object.insert("start".into(), Value::Int(block.start.into()));
                    object.insert("count".into(), Value::Int(block.count.into()));
                    object.insert(
                        "values".into(),
                        Value::Array(raw(pos, block.count).collect()),
                    );
                    Value::Object(object)
                })
                .collect(),
        );
        let payload = if self.points.is_empty() {
            Value::Array(
                self.blocks
                    .iter()
                    .zip(&self.block_pos)
                    .flat_map(|(block, &pos)| raw(pos, block.count))
                    .collect(),
            )
        } else {
            let mut object = Map::with_capacity(self.points.len());
            for point in &self.points {
                let words = &items[point.pos..point.pos + usize::from(point.width)];
                object.insert(point.name.clone(), point.decode(words));
            }
            Value::Object(object)
        };
        Ok(Decoded { payload, blocks })
    }

    fn raw_value(&self, item: u16) -> Value {
        if self.area.is_bits() {
            Value::Bool(item != 0)
        } else {
            Value::Int(item.into())
        }
    }

    /// The writes that set the points named in `values` (`{name: value}`): adjacent points
    /// are merged into one request; a single register is FC 6, several FC 16, a single
    /// coil FC 5, several FC 15.
    pub fn write_requests(&self, values: &Value) -> Result<Vec<Request>, MapError> {
        let max = match self.area {
            Area::Coils => usize::from(MAX_WRITE_BITS),
            Area::HoldingRegisters => usize::from(MAX_WRITE_REGISTERS),
            Area::DiscreteInputs | Area::InputRegisters => {
                return Err(MapError::config(
                    "dataType",
                    "discrete inputs and input registers are read-only; write coils or holding registers",
                ));
            }
        };
        let Value::Object(values) = values else {
            return Err(MapError::config(
                "payload",
                format!(
                    "expected an object {{name: value}}, got {}",
                    values.type_name()
                ),
            ));
        };
        let mut encoded = Vec::with_capacity(values.len());
        for (name, value) in values {
            let point = self.point(name).ok_or_else(|| MapError::Write {
                point: name.clone(),
                reason: format!(
                    "no such point; the map has {}",
                    self.points
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
            encoded.push((point, encode_point(point, value)?));
        }
        encoded.sort_by_key(|(point, _)| point.address);

        // Runs of touching points, each short enough for one request; a point longer than
        // a request (a long string) is the only thing ever cut in two.
        let mut runs: Vec<(u32, Vec<u16>)> = Vec::new();
        let mut previous: Option<&Point> = None;
        for (point, words) in encoded {
            let start = u32::from(point.address);
            if let Some(before) = previous
                && start < item_range(before).1
            {
                return Err(MapError::Write {
                    point: point.name.clone(),
                    reason: format!(
                        "overlaps point \"{}\"; write one of them at a time",
                        before.name
                    ),
                });
            }
            previous = Some(point);
            match runs.last_mut() {
                Some((run_start, run))
                    if *run_start + run.len() as u32 == start && run.len() + words.len() <= max =>
                {
                    run.extend(words);
                }
                _ => runs.push((start, words)),
            }
        }
        let mut requests = Vec::with_capacity(runs.len());
        for (start, run) in runs {
            for (i, chunk) in run.chunks(max).enumerate() {
                let address = to_u16(start + (i * max) as u32);
                requests.push(write_request(self.area, address, chunk));
            }
        }
        Ok(requests)
    }
}

fn write_request(area: Area, address: u16, items: &[u16]) -> Request {
    match (area, items) {
        (Area::Coils, [one]) => Request::WriteCoil {
            address,
            value: *one != 0,
        },
        (Area::Coils, _) => Request::WriteCoils {
            address,
            values: items.iter().map(|&item| item != 0).collect(),
        },
        (_, [one]) => Request::WriteRegister {
            address,
            value: *one,
        },
        _ => Request::WriteRegisters {
            address,
            values: items.to_vec(),
        },
    }
}

fn response_kind(response: &Response) -> &'static str {
    match response {
        Response::Bits(_) => "bits",
        Response::Registers(_) => "registers",
        Response::WroteOne { .. } | Response::WroteMany { .. } => "a write acknowledgement",
    }
}

/// A raw number before scale and offset.
enum Raw {
    Int(i128),
    Float(f64),
}

impl Point {
    /// The point's value from its items (exactly `width` of them).
    fn decode(&self, words: &[u16]) -> Value {
        let raw = match self.kind {
            PointType::Bool => {
                let word = words[0];
                return Value::Bool(match self.bit {
                    Some(bit) => word >> bit & 1 != 0,
                    None => word != 0,
                });
            }
            PointType::String => return Value::String(decode_string(self.order, words)),
            _ => {
                let mut buf = [0u8; 8];
                let bytes = &mut buf[..words.len() * 2];
                self.order.to_be_bytes(words, bytes);
                match self.kind {
                    PointType::Int16 => Raw::Int(i16::from_be_bytes([buf[0], buf[1]]).into()),
                    PointType::Uint16 => Raw::Int(u16::from_be_bytes([buf[0], buf[1]]).into()),
                    PointType::Int32 => Raw::Int(i32::from_be_bytes(first4(&buf)).into()),
                    PointType::Uint32 => Raw::Int(u32::from_be_bytes(first4(&buf)).into()),
                    PointType::Int64 => Raw::Int(i64::from_be_bytes(buf).into()),
                    PointType::Uint64 => Raw::Int(u64::from_be_bytes(buf).into()),
                    PointType::Float32 => Raw::Float(f32::from_be_bytes(first4(&buf)).into()),
                    _ => Raw::Float(f64::from_be_bytes(buf)),
                }
            }
        };
        self.scaled(raw)
    }

    fn unscale_int(&self, number: Num) -> Result<i128, String> {
        if let (Num::Int(value), Some((scale, offset))) = (number, self.exact) {
            let shifted = i128::from(value) - i128::from(offset);
            let scale = i128::from(scale);
            if shifted % scale == 0 {
                return Ok(shifted / scale);
            }
        }
        let raw = self.unscale_float(number).round();
        if raw.is_finite() {
            // Saturates far outside every integer type, which the range check then refuses.
            Ok(raw as i128)
        } else {
            Err(format!("{number} is not a finite number"))
        }
    }

    fn unscale_float(&self, number: Num) -> f64 {
        if self.is_identity() {
            number.as_f64()
        } else {
            (number.as_f64() - self.offset) / self.scale
        }
    }

    fn is_identity(&self) -> bool {
        self.exact == Some((1, 0))
    }

    fn scaled(&self, raw: Raw) -> Value {
        let value = match raw {
            Raw::Int(int) => {
                if let Some((scale, offset)) = self.exact {
                    let exact = int
                        .checked_mul(scale.into())
                        .and_then(|v| v.checked_add(offset.into()));
                    if let Some(v) = exact.and_then(|v| i64::try_from(v).ok()) {
                        return Value::Int(v);
                    }
                }
                int as f64 * self.scale + self.offset
            }
            Raw::Float(float) if self.is_identity() => float,
            Raw::Float(float) => float * self.scale + self.offset,
        };
        if value.is_finite() {
            Value::Float(value)
        } else {
            Value::Null
        }
    }
}

fn first4(buf: &[u8; 8]) -> [u8; 4] {
    [buf[0], buf[1], buf[2], buf[3]]
}

fn decode_string(order: ByteOrder, words: &[u16]) -> String {
    let mut bytes = Vec::with_capacity(words.len() * 2);
    for &word in words {
        let [hi, lo] = word.to_be_bytes();
        if order.swaps_bytes() {
            bytes.extend([lo, hi]);
        } else {
            bytes.extend([hi, lo]);
        }
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// The items that write `value` to `point`: the inverse of decoding. The value is
/// unscaled, rounded to the nearest integer for integer types and refused when outside the
/// type's range; a string is padded with NULs to the point's length. A bool inside a
/// register (`bit`) is refused: setting it alone needs a read-modify-write of the register.
pub fn encode_point(point: &Point, value: &Value) -> Result<Vec<u16>, MapError> {
    let fail = |reason: String| MapError::Write {
        point: point.name.clone(),
        reason,
    };
    match point.kind {
        PointType::Bool => {
            if point.bit.is_some() {
                return Err(fail(
                    "a bit inside a register cannot be written alone; write the whole register"
                        .into(),
                ));
            }
            let bit = match value {
                Value::Bool(b) => *b,
                Value::Int(0) => false,
                Value::Int(1) => true,
                other => {
                    return Err(fail(format!(
                        "expected true or false, got {}",
                        other.to_json_string()
                    )));
                }
            };
            Ok(vec![u16::from(bit)])
        }
        PointType::String => {
            let Value::String(text) = value else {
                return Err(fail(format!(
                    "expected a string, got {}",
                    value.type_name()
                )));
            };
            let room = usize::from(point.width) * 2;
            if text.len() > room {
                return Err(fail(format!(
                    "\"{text}\" is {} bytes; the point holds {room} (length {})",
                    text.len(),
                    point.width
                )));
            }
            let mut bytes = vec![0u8; room];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            if point.order.swaps_bytes() {
                for pair in bytes.chunks_exact_mut(2) {
                    pair.swap(0, 1);
                }
            }
            Ok(ByteOrder::Abcd.to_words(&bytes))
        }
        kind => {
            let number = match value {
                Value::Int(i) => Num::Int(*i),
                Value::Float(f) => Num::Float(*f),
                Value::String(s) => {
                    parse_number(s).ok_or_else(|| fail(format!("\"{s}\" is not a number")))?
                }
                other => {
                    return Err(fail(format!(
                        "expected a number, got {}",
                        other.type_name()
                    )));
                }
            };
            let mut buf = [0u8; 8];
            let bytes: &[u8] = if let Some((min, max)) = kind.int_range() {
                let raw = point.unscale_int(number).map_err(fail)?;
                if raw < min || raw > max {
                    let scaled = if point.is_identity() {
                        String::new()
                    } else {
                        format!(" (raw {raw} after scale and offset)")
                    };
                    return Err(fail(format!(
                        "{} is out of range for {}{scaled}: {min}..={max}",
                        number,
                        kind.name()
                    )));
                }
                // In range, so the casts below keep every bit of the value.
                buf = (raw as i64 as u64).to_be_bytes();
                match kind.registers() {
                    1 => &buf[6..],
                    2 => &buf[4..],
                    _ => &buf[..],
                }
            } else {
                let raw = point.unscale_float(number);
                if !raw.is_finite() {
                    return Err(fail(format!("{number} is not a finite number")));
                }
                if kind == PointType::Float32 {
                    if raw.abs() > f64::from(f32::MAX) {
                        return Err(fail(format!("{number} is out of range for float32")));
                    }
                    buf[..4].copy_from_slice(&(raw as f32).to_be_bytes());
                    &buf[..4]
                } else {
                    buf = raw.to_be_bytes();
                    &buf[..]
                }
            };
            Ok(point.order.to_words(bytes))
        }
    }
}

/// A number to write, kept as an integer when it is one so int64 values stay exact.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

fn parse_number(text: &str) -> Option<Num> {
    let text = text.trim();
    text.parse::<i64>()
        .map(Num::Int)
        .ok()
        .or_else(|| text.parse::<f64>().ok().map(Num::Float))
}

/// Config text of a key that may be a JSON number or a string.
fn config_text(
    config: &serde_json::Map<String, Json>,
    key: &'static str,
) -> Result<String, MapError> {
    match config.get(key) {
        None | Some(Json::Null) => Ok(String::new()),
        Some(Json::String(text)) => Ok(text.clone()),
        Some(Json::Number(number)) => Ok(number.to_string()),
        Some(other) => Err(MapError::config(
            key,
            format!("expected a number or text, got {other}"),
        )),
    }
}

fn json_uint(value: &Json) -> Option<u64> {
    match value {
        Json::Number(number) => number.as_u64(),
        Json::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn json_float(value: &Json) -> Option<f64> {
    match value {
        Json::Number(number) => number.as_f64(),
        Json::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
}

fn parse_blocks(area: Area, adr: &str, quantity: &str) -> Result<Vec<Block>, MapError> {
    let starts = split_list(adr)
        .map(|part| {
            part.parse::<u16>().map_err(|_| {
                MapError::config(
                    "adr",
                    format!(
                        "\"{part}\" is not a start address; use a whole number from 0 to 65535"
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut counts = split_list(quantity)
        .map(|part| match part.parse::<u32>() {
            Ok(count) if count >= 1 => Ok(count),
            _ => Err(MapError::config(
                "quantity",
                format!("\"{part}\" is not a count; use a whole number of at least 1"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if counts.is_empty() {
        // The contrib node reads one item when no quantity is set.
        counts = vec![1; starts.len()];
    }
    if starts.len() != counts.len() {
        return Err(MapError::config(
            "quantity",
            format!(
                "adr lists {} start addresses but quantity lists {} counts; give one count per start",
                starts.len(),
                counts.len()
            ),
        ));
    }
    starts
        .into_iter()
        .zip(counts)
        .map(|(start, count)| {
            if u32::from(start) + count > 1 << 16 {
                return Err(MapError::config(
                    "quantity",
                    format!(
                        "the block at {start} with {count} {} runs past address 65535",
                        item_word(area)
                    ),
                ));
            }
            Ok(Block {
                start,
                count: to_u16(count),
            })
        })
        .collect()
}

fn item_word(area: Area) -> &'static str {
    if area.is_bits() { "bits" } else { "registers" }
}

fn parse_points(area: Area, points: Option<&Json>) -> Result<Vec<Point>, MapError> {
    let parsed;
    let list = match points {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::String(text)) if text.trim().is_empty() => return Ok(Vec::new()),
        Some(Json::String(text)) => {
            parsed = serde_json::from_str::<Json>(text)
                .map_err(|error| MapError::config("points", format!("not valid JSON: {error}")))?;
            &parsed
        }
        Some(other) => other,
    };
    let Json::Array(list) = list else {
        return Err(MapError::config(
            "points",
            "expected an array of {name, address, type, ...}",
        ));
    };
    let mut points: Vec<Point> = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        let point = parse_point(area, index, entry)?;
        if let Some(first) = points.iter().position(|p| p.name == point.name) {
            return Err(MapError::Point {
                index,
                name: Some(point.name),
                field: "name",
                reason: format!("point #{first} has the same name; names must be unique"),
            });
        }
        points.push(point);
    }
    Ok(points)
}

fn parse_point(area: Area, index: usize, entry: &Json) -> Result<Point, MapError> {
    let mut name = None;
    let fail = |name: &Option<String>, field: &'static str, reason: String| MapError::Point {
        index,
        name: name.clone(),
        field,
        reason,
    };
    let Json::Object(entry) = entry else {
        return Err(fail(
            &name,
            "point",
            "expected an object {name, address, type, ...}".into(),
        ));
    };
    let present = |key: &str| entry.get(key).filter(|v| !v.is_null());
    name = match present("name") {
        Some(Json::String(text)) if !text.trim().is_empty() => Some(text.clone()),
        _ => {
            return Err(fail(
                &name,
                "name",
                "give each point a non-empty name".into(),
            ));
        }
    };
    let address = present("address")
        .and_then(json_uint)
        .and_then(|a| u16::try_from(a).ok())
        .ok_or_else(|| {
            fail(
                &name,
                "address",
                "give a whole number from 0 to 65535".into(),
            )
        })?;
    let kind = match present("type") {
        None => {
            if area.is_bits() {
                PointType::Bool
            } else {
                PointType::Uint16
            }
        }
        Some(value) => value.as_str().and_then(PointType::parse).ok_or_else(|| {
            fail(
                &name,
                "type",
                format!("unknown type {value}; use one of {TYPE_NAMES}"),
            )
        })?,
    };
    let order = match present("order") {
        None => ByteOrder::Abcd,
        Some(value) => value.as_str().and_then(ByteOrder::parse).ok_or_else(|| {
            fail(
                &name,
                "order",
                format!("unknown byte order {value}; use ABCD, CDAB, BADC or DCBA"),
            )
        })?,
    };
    let number = |key: &'static str, default: f64| match present(key) {
        None => Ok(default),
        Some(value) => json_float(value)
            .filter(|n| n.is_finite())
            .ok_or_else(|| fail(&name, key, format!("{value} is not a number"))),
    };
    let scale = number("scale", 1.0)?;
    let offset = number("offset", 0.0)?;
    if scale == 0.0 {
        return Err(fail(&name, "scale", "must not be 0".into()));
    }
    if !kind.is_numeric() && (scale != 1.0 || offset != 0.0) {
        return Err(fail(
            &name,
            if scale != 1.0 { "scale" } else { "offset" },
            format!("applies to numbers only, not to type {}", kind.name()),
        ));
    }
    if area.is_bits() && kind != PointType::Bool {
        return Err(fail(
            &name,
            "type",
            format!(
                "{} needs a register area; coils and discrete inputs hold bits, use type bool",
                kind.name()
            ),
        ));
    }
    let bit = match (present("bit"), kind, area.is_bits()) {
        (None, PointType::Bool, false) => {
            return Err(fail(
                &name,
                "bit",
                "a bool in a register area needs the bit to read, 0 to 15".into(),
            ));
        }
        (None, _, _) => None,
        (Some(_), PointType::Bool, true) => {
            return Err(fail(
                &name,
                "bit",
                "a coil or discrete input is one bit already; remove bit".into(),
            ));
        }
        (Some(_), kind, _) if kind != PointType::Bool => {
            return Err(fail(
                &name,
                "bit",
                format!("applies to type bool only, not to {}", kind.name()),
            ));
        }
        (Some(value), _, _) => Some(
            json_uint(value)
                .and_then(|b| u8::try_from(b).ok())
                .filter(|&b| b <= 15)
                .ok_or_else(|| {
                    fail(&name, "bit", format!("{value} is not a bit number 0 to 15"))
                })?,
        ),
    };
    let max = area.max_read();
    let width = match (kind, present("length")) {
        (PointType::String, None) => {
            return Err(fail(
                &name,
                "length",
                "a string needs its length in registers".into(),
            ));
        }
        (PointType::String, Some(value)) => json_uint(value)
            .and_then(|l| u16::try_from(l).ok())
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| {
                fail(
                    &name,
                    "length",
                    format!("{value} registers do not fit one read; use 1 to {max}"),
                )
            })?,
        (_, Some(_)) => {
            return Err(fail(
                &name,
                "length",
                format!(
                    "applies to type string only; {} has a fixed size",
                    kind.name()
                ),
            ));
        }
        (kind, None) => kind.registers(),
    };
    if u32::from(address) + u32::from(width) > 1 << 16 {
        return Err(fail(
            &name,
            "address",
            format!(
                "a {} at {address} takes {width} registers and runs past address 65535",
                kind.name()
            ),
        ));
    }
    let whole = |x: f64| (x.fract() == 0.0 && x.abs() < 9.0e18).then_some(x as i64);
    Ok(Point {
        name: name.unwrap_or_default(),
        address,
        kind,
        order,
        scale,
        offset,
        width,
        bit,
        area,
        exact: whole(scale).zip(whole(offset)),
        pos: 0,
    })
}

/// Points must lie inside the listed blocks; touching blocks count as one range.
fn check_points_inside(blocks: &[Block], points: &[Point]) -> Result<(), MapError> {
    let ranges = merge(blocks.iter().map(|b| block_range(*b)), 0);
    for (index, point) in points.iter().enumerate() {
        let (start, end) = item_range(point);
        if !ranges.iter().any(|&(from, to)| from <= start && end <= to) {
            return Err(MapError::Point {
                index,
                name: Some(point.name.clone()),
                field: "address",
                reason: format!(
                    "{start}..{end} is outside the blocks listed in adr/quantity; extend a block or fix the address"
                ),
            });
        }
    }
    Ok(())
}

fn block_range(block: Block) -> (u32, u32) {
    let start = u32::from(block.start);
    (start, start + u32::from(block.count))
}

fn item_range(point: &Point) -> (u32, u32) {
    let start = u32::from(point.address);
    (start, start + u32::from(point.width))
}

/// Sorts half-open ranges and joins those that overlap, touch or leave a hole of at most
/// `gap` items.
fn merge(ranges: impl Iterator<Item = (u32, u32)>, gap: u32) -> Vec<(u32, u32)> {
    let mut ranges: Vec<_> = ranges.collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 + gap => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Cuts `start..end` into reads of at most `max` items, moving each cut back to the start
/// of a point it would otherwise cross, so no multi-register value is read half in one
/// request and half in the next (some devices refuse that, and the halves would come from
/// two moments).
fn split(start: u32, end: u32, max: u32, points: &[Point], mut read: impl FnMut(u32, u32)) {
    let mut from = start;
    while end - from > max {
        let mut cut = from + max;
        while let Some(crossing) = points
            .iter()
            .map(item_range)
            .filter(|&(s, e)| s < cut && cut < e)
            .map(|(s, _)| s)
            .min()
        {
            cut = crossing;
        }
        if cut <= from {
            cut = from + max;
        }
        read(from, cut);
        from = cut;
    }
    read(from, end);
}

/// The part of `from..to` from its first to its last wanted item (`wanted` sorted and
/// disjoint); `None` when it holds none.
fn trim(wanted: &[(u32, u32)], from: u32, to: u32) -> Option<(u32, u32)> {
    let mut inside = wanted
        .iter()
        .filter(|&&(start, end)| start < to && from < end);
    let first = inside.next()?;
    let last = inside.next_back().unwrap_or(first);
    Some((first.0.max(from), last.1.min(to)))
}

/// Addresses and counts here are checked against 0..=65535 (or 65536 for an end) when the
/// config is parsed; saturate rather than wrap if that ever slips.
fn to_u16(value: u32) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests;
