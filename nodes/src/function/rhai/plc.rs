//! Helpers PLC users need in Rhai scripts: hex, register/byte decoding, time.
//!
//! * `hex_encode(string | blob | array) -> string`, `hex_decode(string) -> blob`
//! * `from_registers(array) -> blob`, `to_registers(blob) -> array`
//! * `decode_<type>(data)`, `decode_<type>(data, order)`, `decode_<type>(data, offset, order)`
//!   for `int16 uint16 int32 uint32 float32 float64`; `data` is a blob (offset in bytes) or
//!   an array of 16-bit registers (offset in registers)
//! * `encode_<type>(value)`, `encode_<type>(value, order) -> blob` for the same types
//! * `now_ms() -> int`, `now_iso() -> string`
//!
//! `order` is `ABCD` (big-endian, the default), `CDAB`, `BADC` or `DCBA`, case-insensitive;
//! 64-bit values follow Telegraf's Modbus convention (`CDAB` = `GHEFCDAB`).

use chrono::{SecondsFormat, Utc};
use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, FLOAT, INT, ImmutableString};

use crate::hex;

/// A `to_be` for `register_encode` that refuses values the int type cannot hold.
macro_rules! int_to_be {
    ($t:ty) => {
        |v: INT| {
            <$t>::try_from(v)
                .map(<$t>::to_be_bytes)
                .map_err(|_| format!("{v} is out of range {}..={}", <$t>::MIN, <$t>::MAX))
        }
    };
}

type Res<T> = Result<T, Box<EvalAltResult>>;

const DEFAULT_ORDER: &str = "ABCD";

/// Registers the helpers on the shared engine.
pub(super) fn register(engine: &mut Engine) {
    engine
        .register_fn("hex_encode", |s: ImmutableString| hex::encode(s.as_bytes()))
        .register_fn("hex_encode", |b: Blob| hex::encode(&b))
        .register_fn("hex_encode", |a: Array| -> Res<String> {
            let bytes = a
                .iter()
                .enumerate()
                .map(|(i, v)| int_element("hex_encode", "byte", i, v, 0xFF).map(|b| b as u8))
                .collect::<Res<Vec<u8>>>()?;
            Ok(hex::encode(&bytes))
        })
        .register_fn("hex_decode", |s: ImmutableString| hex_decode(&s))
        .register_fn("from_registers", |a: Array| {
            registers_to_bytes("from_registers", &a)
        })
        .register_fn("to_registers", to_registers)
        .register_fn("now_ms", || Utc::now().timestamp_millis())
        .register_fn("now_iso", || {
            Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
        });

    register_decode(engine, "decode_int16", |b: [u8; 2]| {
        INT::from(i16::from_be_bytes(b))
    });
    register_decode(engine, "decode_uint16", |b: [u8; 2]| {
        INT::from(u16::from_be_bytes(b))
    });
    register_decode(engine, "decode_int32", |b: [u8; 4]| {
        INT::from(i32::from_be_bytes(b))
    });
    register_decode(engine, "decode_uint32", |b: [u8; 4]| {
        INT::from(u32::from_be_bytes(b))
    });
    register_decode(engine, "decode_float32", |b: [u8; 4]| {
        FLOAT::from(f32::from_be_bytes(b))
    });
    register_decode(engine, "decode_float64", f64::from_be_bytes);

    register_encode(engine, "encode_int16", int_to_be!(i16));
    register_encode(engine, "encode_uint16", int_to_be!(u16));
    register_encode(engine, "encode_int32", int_to_be!(i32));
    register_encode(engine, "encode_uint32", int_to_be!(u32));
    register_encode(engine, "encode_float32", float32_to_be);
    register_encode(engine, "encode_float32", |v: INT| float32_to_be(v as FLOAT));
    register_encode(engine, "encode_float64", |v: FLOAT| Ok(v.to_be_bytes()));
    register_encode(engine, "encode_float64", |v: INT| {
        Ok((v as FLOAT).to_be_bytes())
    });
}

fn fail<T>(func: &str, why: impl std::fmt::Display) -> Res<T> {
    Err(format!("{func}: {why}").into())
}

fn hex_decode(s: &str) -> Res<Blob> {
    let nibbles = s
        .chars()
        .enumerate()
        .map(|(i, c)| match c.to_digit(16) {
            Some(d) => Ok(d as u8),
            None => fail(
                "hex_decode",
                format!("{c:?} at position {i} is not a hex digit"),
            ),
        })
        .collect::<Res<Vec<u8>>>()?;
    if !nibbles.len().is_multiple_of(2) {
        return fail(
            "hex_decode",
            format!(
                "odd number of hex digits ({}); each byte needs two",
                nibbles.len()
            ),
        );
    }
    Ok(nibbles
        .chunks_exact(2)
        .map(|p| (p[0] << 4) | p[1])
        .collect())
}

/// Reads array element `index` as an int in `0..=max`.
fn int_element(func: &str, what: &str, index: usize, v: &Dynamic, max: INT) -> Res<INT> {
    match v.as_int() {
        Ok(n) if (0..=max).contains(&n) => Ok(n),
        Ok(n) => fail(func, format!("{what} {index} is {n}, must be 0..={max}")),
        Err(t) => fail(
            func,
            format!("{what} {index} is a {t}, must be an int 0..={max}"),
        ),
    }
}

fn registers_to_bytes(func: &str, registers: &Array) -> Res<Blob> {
    let mut bytes = Vec::with_capacity(registers.len() * 2);
    for (i, v) in registers.iter().enumerate() {
        let word = int_element(func, "register", i, v, 0xFFFF)? as u16;
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    Ok(bytes)
}

fn to_registers(bytes: Blob) -> Res<Array> {
    if !bytes.len().is_multiple_of(2) {
        return fail(
            "to_registers",
            format!(
                "blob has odd length {}; registers need pairs of bytes",
                bytes.len()
            ),
        );
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|p| Dynamic::from_int(INT::from(u16::from_be_bytes([p[0], p[1]]))))
        .collect())
}

#[derive(Clone, Copy)]
struct Order {
    word_swap: bool,
    byte_swap: bool,
}

fn parse_order(func: &str, s: &str) -> Res<Order> {
    let (word_swap, byte_swap) = match s.to_ascii_uppercase().as_str() {
        "ABCD" => (false, false),
        "CDAB" => (true, false),
        "BADC" => (false, true),
        "DCBA" => (true, true),
        _ => {
            return fail(
                func,
                format!("unknown byte order {s:?}; use ABCD, CDAB, BADC or DCBA"),
            );
        }
    };
    Ok(Order {
        word_swap,
        byte_swap,
    })
}

/// Converts between big-endian and `order`, in either direction: every order only reverses
/// the 16-bit words and/or swaps the bytes within them, so each permutation is its own inverse.
fn reorder(bytes: &mut [u8], order: Order) {
    if order.word_swap {
        // Reversing all bytes reverses the words and also swaps within them.
        bytes.reverse();
    }
    if order.word_swap != order.byte_swap {
        for pair in bytes.chunks_exact_mut(2) {
            pair.swap(0, 1);
        }
    }
}

/// The data argument of a decode function as bytes, with the size and name of its offset unit.
fn data_bytes(func: &str, data: Dynamic) -> Res<(Blob, usize, &'static str)> {
    let data = match data.try_cast_result::<Blob>() {
        Ok(blob) => return Ok((blob, 1, "bytes")),
        Err(data) => data,
    };
    match data.try_cast_result::<Array>() {
        Ok(registers) => Ok((registers_to_bytes(func, &registers)?, 2, "registers")),
        Err(data) => fail(
            func,
            format!(
                "data must be a blob or an array of registers, got {}",
                data.type_name()
            ),
        ),
    }
}

fn decode<const N: usize, T>(
    func: &str,
    data: Dynamic,
    offset: INT,
    order: &str,
    from_be: fn([u8; N]) -> T,
) -> Res<T> {
    let order = parse_order(func, order)?;
    let (bytes, unit, units) = data_bytes(func, data)?;
    let start = usize::try_from(offset)
        .ok()
        .and_then(|o| o.checked_mul(unit));
    let Some(mut value) = start
        .and_then(|s| bytes.get(s..s.checked_add(N)?))
        .and_then(|b| <[u8; N]>::try_from(b).ok())
    else {
        return fail(
            func,
            format!(
                "needs {} {units} at offset {offset}, data has {}",
                N / unit,
                bytes.len() / unit
            ),
        );
    };
    reorder(&mut value, order);
    Ok(from_be(value))
}

fn register_decode<const N: usize, T: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    func: &'static str,
    from_be: fn([u8; N]) -> T,
) {
    engine
        .register_fn(func, move |data: Dynamic| {
            decode(func, data, 0, DEFAULT_ORDER, from_be)
        })
        .register_fn(func, move |data: Dynamic, order: ImmutableString| {
            decode(func, data, 0, &order, from_be)
        })
        .register_fn(
            func,
            move |data: Dynamic, offset: INT, order: ImmutableString| {
                decode(func, data, offset, &order, from_be)
            },
        );
}

/// `to_be` returns the big-endian bytes, or why the value does not fit.
fn register_encode<const N: usize, T: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    func: &'static str,
    to_be: fn(T) -> Result<[u8; N], String>,
) {
    let encode = move |value: T, order: &str| -> Res<Blob> {
        let order = parse_order(func, order)?;
        let mut bytes = to_be(value).or_else(|why| fail(func, why))?;
        reorder(&mut bytes, order);
        Ok(bytes.to_vec())
    };
    engine
        .register_fn(func, move |value: T| encode(value, DEFAULT_ORDER))
        .register_fn(func, move |value: T, order: ImmutableString| {
            encode(value, &order)
        });
}

fn float32_to_be(value: FLOAT) -> Result<[u8; 4], String> {
    let narrow = value as f32;
    // `as` turns finite values beyond f32's range into infinity; a setpoint must not
    // silently become one.
    if value.is_finite() && narrow.is_infinite() {
        return Err(format!("{value} is out of range for float32"));
    }
    Ok(narrow.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: [&str; 4] = ["ABCD", "CDAB", "BADC", "DCBA"];

    fn engine() -> Engine {
        let mut engine = Engine::new();
        register(&mut engine);
        engine
    }

    fn eval<T: Clone + Send + Sync + 'static>(script: &str) -> T {
        engine()
            .eval::<T>(script)
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    fn err(script: &str) -> String {
        match engine().eval::<Dynamic>(script).map_err(|e| *e) {
            Err(EvalAltResult::ErrorRuntime(msg, _)) => msg.to_string(),
            other => panic!("{script}: expected a runtime error, got {other:?}"),
        }
    }

    #[test]
    fn hex_encode_takes_strings_blobs_and_byte_arrays() {
        assert_eq!(eval::<String>(r#"hex_encode("abc")"#), "616263");
        assert_eq!(eval::<String>(r#"hex_encode("é")"#), "c3a9");
        assert_eq!(
            eval::<String>("let b = blob(); b.push(0); b.push(0xAB); hex_encode(b)"),
            "00ab"
        );
        assert_eq!(eval::<String>("hex_encode([0, 15, 255])"), "000fff");
        assert_eq!(eval::<String>("hex_encode([])"), "");
    }

    #[test]
    fn hex_encode_refuses_array_elements_that_are_not_bytes() {
        assert_eq!(
            err("hex_encode([1, 256])"),
            "hex_encode: byte 1 is 256, must be 0..=255"
        );
        assert_eq!(
            err("hex_encode([-1])"),
            "hex_encode: byte 0 is -1, must be 0..=255"
        );
        assert_eq!(
            err(r#"hex_encode([1, 2, "x"])"#),
            "hex_encode: byte 2 is a string, must be an int 0..=255"
        );
    }

    #[test]
    fn hex_decode_is_case_insensitive_and_round_trips() {
        assert_eq!(
            eval::<Blob>(r#"hex_decode("00aBfF")"#),
            vec![0x00, 0xAB, 0xFF]
        );
        assert_eq!(eval::<Blob>(r#"hex_decode("")"#), Blob::new());
        assert_eq!(
            eval::<String>(r#"hex_encode(hex_decode("DEADbeef0102"))"#),
            "deadbeef0102"
        );
        assert_eq!(
            eval::<Blob>(r#"hex_decode(hex_encode("Zähler"))"#),
            "Zähler".as_bytes()
        );
    }

    #[test]
    fn hex_decode_refuses_odd_length_and_non_hex_characters() {
        assert_eq!(
            err(r#"hex_decode("abc")"#),
            "hex_decode: odd number of hex digits (3); each byte needs two"
        );
        assert_eq!(
            err(r#"hex_decode("ab g1")"#),
            "hex_decode: ' ' at position 2 is not a hex digit"
        );
        assert_eq!(
            err(r#"hex_decode("0xff")"#),
            "hex_decode: 'x' at position 1 is not a hex digit"
        );
        assert_eq!(
            err(r#"hex_decode("aé")"#),
            "hex_decode: 'é' at position 1 is not a hex digit"
        );
    }

    #[test]
    fn registers_convert_to_big_endian_bytes_and_back() {
        assert_eq!(
            eval::<Blob>("from_registers([0x42F6, 0xE979, 0, 65535])"),
            vec![0x42, 0xF6, 0xE9, 0x79, 0, 0, 0xFF, 0xFF]
        );
        assert_eq!(
            eval::<String>(r#"to_registers(hex_decode("42f6e979")).to_string()"#),
            "[17142, 59769]"
        );
        assert_eq!(
            eval::<String>("to_registers(from_registers([1, 2, 65535])).to_string()"),
            "[1, 2, 65535]"
        );
    }

    #[test]
    fn register_conversion_refuses_bad_input() {
        assert_eq!(
            err("from_registers([1, 65536])"),
            "from_registers: register 1 is 65536, must be 0..=65535"
        );
        assert_eq!(
            err("from_registers([-1])"),
            "from_registers: register 0 is -1, must be 0..=65535"
        );
        assert_eq!(
            err("from_registers([1.5])"),
            "from_registers: register 0 is a f64, must be an int 0..=65535"
        );
        assert_eq!(
            err(r#"to_registers(hex_decode("010203"))"#),
            "to_registers: blob has odd length 3; registers need pairs of bytes"
        );
    }

    #[test]
    fn float32_encodes_in_every_order() {
        for (order, wire) in [
            ("ABCD", "42f6e979"),
            ("CDAB", "e97942f6"),
            ("BADC", "f64279e9"),
            ("DCBA", "79e9f642"),
        ] {
            let script = format!(r#"hex_encode(encode_float32(123.456, "{order}"))"#);
            assert_eq!(eval::<String>(&script), wire, "{order}");
            let script = format!(r#"decode_float32(hex_decode("{wire}"), "{order}")"#);
            assert_eq!(eval::<FLOAT>(&script), FLOAT::from(123.456_f32), "{order}");
        }
        assert_eq!(
            eval::<String>("hex_encode(encode_float32(123.456))"),
            "42f6e979"
        );
    }

    #[test]
    fn float32_decodes_from_modbus_registers() {
        let expected = FLOAT::from(123.456_f32);
        assert_eq!(eval::<FLOAT>("decode_float32([0x42F6, 0xE979])"), expected);
        assert_eq!(
            eval::<FLOAT>(r#"decode_float32([0x42F6, 0xE979], "ABCD")"#),
            expected
        );
        assert_eq!(
            eval::<FLOAT>(r#"decode_float32([0xE979, 0x42F6], "CDAB")"#),
            expected
        );
        assert_eq!(
            eval::<FLOAT>(r#"decode_float32([0xE979, 0x42F6], "cdab")"#),
            expected
        );
    }

    #[test]
    fn sixteen_bit_orders_are_big_or_little_endian() {
        for (order, expected) in [
            ("ABCD", 0x0102),
            ("CDAB", 0x0102),
            ("BADC", 0x0201),
            ("DCBA", 0x0201),
        ] {
            let script = format!(r#"decode_uint16(hex_decode("0102"), "{order}")"#);
            assert_eq!(eval::<INT>(&script), expected, "{order}");
        }
        assert_eq!(
            eval::<INT>(r#"decode_int16(from_registers([65535]), "ABCD")"#),
            -1
        );
        assert_eq!(
            eval::<INT>(r#"decode_int16(hex_decode("fffe"), "DCBA")"#),
            -257
        );
        assert_eq!(eval::<INT>("decode_uint16([65535])"), 65535);
    }

    #[test]
    fn thirty_two_bit_orders_permute_words_and_bytes() {
        for (order, wire) in [
            ("ABCD", "01020304"),
            ("CDAB", "03040102"),
            ("BADC", "02010403"),
            ("DCBA", "04030201"),
        ] {
            let script = format!(r#"decode_uint32(hex_decode("{wire}"), "{order}")"#);
            assert_eq!(eval::<INT>(&script), 0x0102_0304, "{order}");
        }
        assert_eq!(eval::<INT>("decode_int32([0xFFFF, 0xFFFE])"), -2);
        assert_eq!(eval::<INT>("decode_uint32([0xFFFF, 0xFFFE])"), 0xFFFF_FFFE);
    }

    #[test]
    fn sixty_four_bit_orders_follow_telegraf() {
        let expected = f64::from_be_bytes([1, 2, 3, 4, 5, 6, 7, 8]);
        for (order, wire) in [
            ("ABCD", "0102030405060708"),
            ("CDAB", "0708050603040102"),
            ("BADC", "0201040306050807"),
            ("DCBA", "0807060504030201"),
        ] {
            let script = format!(r#"decode_float64(hex_decode("{wire}"), "{order}")"#);
            assert_eq!(eval::<FLOAT>(&script), expected, "{order}");
            let script = format!(
                r#"hex_encode(encode_float64(decode_float64(hex_decode("0102030405060708")), "{order}"))"#
            );
            assert_eq!(eval::<String>(&script), wire, "{order}");
        }
    }

    #[test]
    fn every_type_round_trips_in_every_order_as_blob_and_registers() {
        let cases: [(&str, &[&str]); 6] = [
            ("int16", &["-32768", "-1", "0", "12345", "32767"]),
            ("uint16", &["0", "258", "65535"]),
            ("int32", &["-2147483648", "-70000", "0", "2147483647"]),
            ("uint32", &["0", "16909060", "4294967295"]),
            (
                "float32",
                &["-1.5", "0.0", "123.5", "3.4028234663852886e38"],
            ),
            ("float64", &["-1.0e300", "0.1", "123.456", "1.0e-300"]),
        ];
        for (ty, values) in cases {
            for value in values {
                for order in ORDERS {
                    let blob =
                        format!(r#"decode_{ty}(encode_{ty}({value}, "{order}"), "{order}")"#);
                    let regs = format!(
                        r#"decode_{ty}(to_registers(encode_{ty}({value}, "{order}")), "{order}")"#
                    );
                    for script in [blob, regs] {
                        let same = format!("{script} == {value}");
                        assert!(eval::<bool>(&same), "{same}");
                    }
                }
            }
        }
    }

    #[test]
    fn float_encoders_accept_ints() {
        assert_eq!(eval::<String>("hex_encode(encode_float32(1))"), "3f800000");
        assert_eq!(
            eval::<String>("hex_encode(encode_float64(-2))"),
            "c000000000000000"
        );
    }

    #[test]
    fn offset_counts_bytes_in_blobs_and_registers_in_arrays() {
        assert_eq!(
            eval::<INT>(r#"decode_uint16(hex_decode("00010203"), 1, "ABCD")"#),
            0x0102
        );
        assert_eq!(eval::<INT>(r#"decode_uint16([1, 2, 3], 1, "ABCD")"#), 2);
        assert_eq!(
            eval::<FLOAT>(r#"decode_float32([0, 0x42F6, 0xE979], 1, "ABCD")"#),
            FLOAT::from(123.456_f32)
        );
        assert_eq!(
            eval::<INT>(r#"decode_uint32(hex_decode("ff0102030405"), 2, "ABCD")"#),
            0x0203_0405
        );
    }

    #[test]
    fn decode_refuses_data_too_short_for_the_offset() {
        assert_eq!(
            err(r#"decode_float32(hex_decode("0102030405"), 2, "ABCD")"#),
            "decode_float32: needs 4 bytes at offset 2, data has 5"
        );
        assert_eq!(
            err(r#"decode_float32([1, 2], 1, "ABCD")"#),
            "decode_float32: needs 2 registers at offset 1, data has 2"
        );
        assert_eq!(
            err("decode_float64([1, 2, 3])"),
            "decode_float64: needs 4 registers at offset 0, data has 3"
        );
        assert_eq!(
            err(r#"decode_int16(hex_decode("0102"), -1, "ABCD")"#),
            "decode_int16: needs 2 bytes at offset -1, data has 2"
        );
        assert_eq!(
            err(r#"decode_uint32([1, 2], 9223372036854775807, "ABCD")"#),
            "decode_uint32: needs 2 registers at offset 9223372036854775807, data has 2"
        );
    }

    #[test]
    fn decode_refuses_bad_data_and_unknown_orders() {
        assert_eq!(
            err(r#"decode_int32("0102", "ABCD")"#),
            "decode_int32: data must be a blob or an array of registers, got string"
        );
        assert_eq!(
            err("decode_uint16([70000])"),
            "decode_uint16: register 0 is 70000, must be 0..=65535"
        );
        assert_eq!(
            err(r#"decode_int16([1], "ABDC")"#),
            r#"decode_int16: unknown byte order "ABDC"; use ABCD, CDAB, BADC or DCBA"#
        );
    }

    #[test]
    fn encode_refuses_out_of_range_values_and_unknown_orders() {
        assert_eq!(
            err("encode_uint16(70000)"),
            "encode_uint16: 70000 is out of range 0..=65535"
        );
        assert_eq!(
            err("encode_int16(-40000)"),
            "encode_int16: -40000 is out of range -32768..=32767"
        );
        assert_eq!(
            err(r#"encode_int32(2147483648, "CDAB")"#),
            "encode_int32: 2147483648 is out of range -2147483648..=2147483647"
        );
        assert_eq!(
            err("encode_uint32(-1)"),
            "encode_uint32: -1 is out of range 0..=4294967295"
        );
        assert_eq!(
            err("encode_float32(1.0e39)"),
            "encode_float32: 1000000000000000000000000000000000000000 is out of range for float32"
        );
        assert_eq!(
            err(r#"encode_float64(1.0, "XYZW")"#),
            r#"encode_float64: unknown byte order "XYZW"; use ABCD, CDAB, BADC or DCBA"#
        );
    }

    #[test]
    fn float32_keeps_infinity_and_nan() {
        assert_eq!(
            eval::<String>("hex_encode(encode_float32(1.0 / 0.0))"),
            "7f800000"
        );
        assert!(eval::<bool>(
            "decode_float32(encode_float32(0.0 / 0.0)).is_nan"
        ));
    }

    #[test]
    fn now_ms_is_the_current_unix_time_in_milliseconds() {
        let before = Utc::now().timestamp_millis();
        let now = eval::<INT>("now_ms()");
        let after = Utc::now().timestamp_millis();
        assert!(
            (before..=after).contains(&now),
            "{before} <= {now} <= {after}"
        );
    }

    #[test]
    fn now_iso_matches_javascript_to_iso_string() {
        let before = Utc::now();
        let iso = eval::<String>("now_iso()");
        let after = Utc::now();
        let shape: String = iso
            .chars()
            .map(|c| if c.is_ascii_digit() { 'd' } else { c })
            .collect();
        assert_eq!(shape, "dddd-dd-ddTdd:dd:dd.dddZ", "{iso}");
        let parsed = chrono::DateTime::parse_from_rfc3339(&iso).expect("valid RFC 3339");
        let floor = before.timestamp_millis();
        assert!((floor..=after.timestamp_millis()).contains(&parsed.timestamp_millis()));
    }
}
