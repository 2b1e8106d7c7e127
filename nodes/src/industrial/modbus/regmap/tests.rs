//! Register map tests. Byte patterns are derived by hand from the definitions (IEEE 754,
//! two's complement, the ABCD letter names), not from this code.

use super::*;
use serde_json::json;

const HOLDING: Area = Area::HoldingRegisters;

fn map(area: Area, adr: &str, quantity: &str, points: Json, gap: u16) -> RegisterMap {
    RegisterMap::from_config(area, adr, quantity, Some(&points), gap).expect("valid map")
}

fn config_error(area: Area, adr: &str, quantity: &str, points: Json) -> String {
    RegisterMap::from_config(area, adr, quantity, Some(&points), 0)
        .expect_err("invalid map")
        .to_string()
}

/// A device whose item at each address is `memory(address)` (non-zero = true for bits),
/// answering every request of the plan.
fn answer(map: &RegisterMap, memory: impl Fn(u16) -> u16) -> Vec<Response> {
    map.requests()
        .iter()
        .map(|request| {
            let Request::Read {
                area,
                address,
                quantity,
            } = *request
            else {
                panic!("reads only");
            };
            let items = (address..address + quantity).map(&memory);
            if area.is_bits() {
                Response::Bits(items.map(|item| item != 0).collect())
            } else {
                Response::Registers(items.collect())
            }
        })
        .collect()
}

/// Decodes the registers `words` placed from address 0.
fn decode_words(map: &RegisterMap, words: &[u16]) -> Decoded {
    let responses = answer(map, |a| words.get(usize::from(a)).copied().unwrap_or(0));
    map.decode(&responses).expect("decodes")
}

fn field<'a>(decoded: &'a Decoded, name: &str) -> &'a Value {
    let Value::Object(object) = &decoded.payload else {
        panic!("object payload expected, got {:?}", decoded.payload);
    };
    &object[name]
}

/// Equal and of the same variant (Value's own equality treats 2 and 2.0 alike).
fn assert_exact(got: &Value, want: &Value, context: &str) {
    assert_eq!(got, want, "{context}");
    assert_eq!(
        std::mem::discriminant(got),
        std::mem::discriminant(want),
        "{context}: {got:?} vs {want:?}"
    );
}

fn read_request(area: Area, address: u16, quantity: u16) -> Request {
    Request::Read {
        area,
        address,
        quantity,
    }
}

fn eleven_blocks(gap: u16) -> RegisterMap {
    RegisterMap::from_config(
        HOLDING,
        "1;10;55;69;72;100;120;130;152;160;170",
        "1;3;2;2;9;10;5;4;3;7;1",
        None,
        gap,
    )
    .expect("valid map")
}

/// Every type in every byte order reads and writes the hand-derived register pattern.
#[test]
fn every_type_decodes_and_encodes_in_every_byte_order() {
    let big = 0x0102_0304_0506_0708_i64;
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Value, Vec<u16>)> = vec![
        // -2 = 0xFFFE; 16-bit types only swap bytes (BADC, DCBA).
        ("int16", "ABCD", Value::Int(-2), vec![0xFFFE]),
        ("int16", "CDAB", Value::Int(-2), vec![0xFFFE]),
        ("int16", "BADC", Value::Int(-2), vec![0xFEFF]),
        ("int16", "DCBA", Value::Int(-2), vec![0xFEFF]),
        ("uint16", "ABCD", Value::Int(0x1234), vec![0x1234]),
        ("uint16", "CDAB", Value::Int(0x1234), vec![0x1234]),
        ("uint16", "BADC", Value::Int(0x1234), vec![0x3412]),
        ("uint16", "DCBA", Value::Int(0x1234), vec![0x3412]),
        // -123456789 = !0x075BCD15 + 1 = 0xF8A432EB.
        ("int32", "ABCD", Value::Int(-123_456_789), vec![0xF8A4, 0x32EB]),
        ("int32", "CDAB", Value::Int(-123_456_789), vec![0x32EB, 0xF8A4]),
        ("int32", "BADC", Value::Int(-123_456_789), vec![0xA4F8, 0xEB32]),
        ("int32", "DCBA", Value::Int(-123_456_789), vec![0xEB32, 0xA4F8]),
        ("uint32", "ABCD", Value::Int(0x1234_5678), vec![0x1234, 0x5678]),
        ("uint32", "CDAB", Value::Int(0x1234_5678), vec![0x5678, 0x1234]),
        ("uint32", "BADC", Value::Int(0x1234_5678), vec![0x3412, 0x7856]),
        ("uint32", "DCBA", Value::Int(0x1234_5678), vec![0x7856, 0x3412]),
        // 21.5 = 1.34375 * 2^4: sign 0, exponent 131 = 0x83, fraction .01011 -> 0x41AC0000.
        ("float32", "ABCD", Value::Float(21.5), vec![0x41AC, 0x0000]),
        ("float32", "CDAB", Value::Float(21.5), vec![0x0000, 0x41AC]),
        ("float32", "BADC", Value::Float(21.5), vec![0xAC41, 0x0000]),
        ("float32", "DCBA", Value::Float(21.5), vec![0x0000, 0xAC41]),
        // 64-bit, with both the 32-bit and Telegraf's 64-bit spellings.
        ("int64", "ABCDEFGH", Value::Int(big), vec![0x0102, 0x0304, 0x0506, 0x0708]),
        ("int64", "GHEFCDAB", Value::Int(big), vec![0x0708, 0x0506, 0x0304, 0x0102]),
        ("int64", "BADCFEHG", Value::Int(big), vec![0x0201, 0x0403, 0x0605, 0x0807]),
        ("int64", "HGFEDCBA", Value::Int(big), vec![0x0807, 0x0605, 0x0403, 0x0201]),
        ("int64", "ABCD", Value::Int(-2), vec![0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE]),
        ("int64", "DCBA", Value::Int(-2), vec![0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF]),
        ("uint64", "ABCD", Value::Int(big), vec![0x0102, 0x0304, 0x0506, 0x0708]),
        ("uint64", "CDAB", Value::Int(big), vec![0x0708, 0x0506, 0x0304, 0x0102]),
        ("uint64", "BADC", Value::Int(big), vec![0x0201, 0x0403, 0x0605, 0x0807]),
        ("uint64", "DCBA", Value::Int(big), vec![0x0807, 0x0605, 0x0403, 0x0201]),
        // 21.5: exponent 1027 = 0x403, fraction 0x5800000000000 -> 0x4035800000000000.
        ("float64", "ABCD", Value::Float(21.5), vec![0x4035, 0x8000, 0x0000, 0x0000]),
        ("float64", "CDAB", Value::Float(21.5), vec![0x0000, 0x0000, 0x8000, 0x4035]),
        ("float64", "BADC", Value::Float(21.5), vec![0x3540, 0x0080, 0x0000, 0x0000]),
        ("float64", "DCBA", Value::Float(21.5), vec![0x0000, 0x0000, 0x0080, 0x3540]),
        // Strings: "ABC" = 41 42 43, NUL padded; only the byte swap applies.
        ("string", "ABCD", Value::String("ABC".into()), vec![0x4142, 0x4300]),
        ("string", "CDAB", Value::String("ABC".into()), vec![0x4142, 0x4300]),
        ("string", "BADC", Value::String("ABC".into()), vec![0x4241, 0x0043]),
        ("string", "DCBA", Value::String("ABC".into()), vec![0x4241, 0x0043]),
    ];
    for (kind, order, value, words) in cases {
        let context = format!("{kind} {order}");
        let mut def = json!({"name": "p", "address": 0, "type": kind, "order": order});
        if kind == "string" {
            def["length"] = json!(2);
        }
        let map = map(HOLDING, "", "", json!([def]), 0);
        assert_eq!(
            map.requests(),
            [read_request(HOLDING, 0, len_u16(words.len()))],
            "{context}"
        );
        assert_exact(field(&decode_words(&map, &words), "p"), &value, &context);
        let point = map.point("p").expect("point");
        assert_eq!(encode_point(point, &value), Ok(words), "{context}");
    }
}

fn len_u16(len: usize) -> u16 {
    u16::try_from(len).expect("small")
}

/// Encoding then decoding gives the value back, for every type, order and edge value.
#[test]
fn values_round_trip_through_encode_and_decode() {
    let samples: [(&str, Vec<Value>); 9] = [
        (
            "int16",
            vec![Value::Int(-32768), Value::Int(0), Value::Int(32767)],
        ),
        ("uint16", vec![Value::Int(0), Value::Int(65535)]),
        (
            "int32",
            vec![
                Value::Int(i32::MIN.into()),
                Value::Int(-1),
                Value::Int(i32::MAX.into()),
            ],
        ),
        ("uint32", vec![Value::Int(0), Value::Int(u32::MAX.into())]),
        (
            "int64",
            vec![Value::Int(i64::MIN), Value::Int(-1), Value::Int(i64::MAX)],
        ),
        ("uint64", vec![Value::Int(0), Value::Int(i64::MAX)]),
        (
            "float32",
            vec![
                Value::Float(-0.5),
                Value::Float(3.25),
                Value::Float(2f64.powi(100)),
            ],
        ),
        (
            "float64",
            vec![
                Value::Float(-1.0e300),
                Value::Float(0.1),
                Value::Float(f64::MIN_POSITIVE),
            ],
        ),
        (
            "string",
            vec![Value::String(String::new()), Value::String("pump-7".into())],
        ),
    ];
    for (kind, values) in samples {
        for order in ["ABCD", "CDAB", "BADC", "DCBA"] {
            let map = map(
                HOLDING,
                "",
                "",
                json!([{"name": "p", "address": 3, "type": kind, "order": order, "length": (kind == "string").then_some(4)}]),
                0,
            );
            let point = map.point("p").expect("point");
            for value in &values {
                let words = encode_point(point, value).expect("encodes");
                let mut memory = vec![0u16; 3];
                memory.extend(words);
                let context = format!("{kind} {order} {value:?}");
                assert_exact(field(&decode_words(&map, &memory), "p"), value, &context);
            }
        }
    }
}

/// Scale and offset give engineering values, and writes undo them (rounding to the register).
#[test]
fn scale_and_offset_apply_on_read_and_are_undone_on_write() {
    let map = map(
        HOLDING,
        "",
        "",
        json!([
            {"name": "temp", "address": 0, "type": "uint16", "scale": 0.1, "offset": -10},
            {"name": "flow", "address": 1, "type": "int16", "scale": 10, "offset": 5},
            {"name": "level", "address": 2, "type": "float32", "scale": "2", "offset": "1"},
        ]),
        0,
    );
    let decoded = decode_words(&map, &[215, 0xFFFD, 0x41AC, 0]);
    let Value::Float(temp) = field(&decoded, "temp") else {
        panic!("a fractional scale gives a float");
    };
    assert!((temp - 11.5).abs() < 1e-9, "215 * 0.1 - 10 = {temp}");
    assert_exact(field(&decoded, "flow"), &Value::Int(-25), "-3 * 10 + 5");
    assert_exact(
        field(&decoded, "level"),
        &Value::Float(44.0),
        "21.5 * 2 + 1",
    );

    let point = |name| map.point(name).expect("point");
    assert_eq!(
        encode_point(point("temp"), &Value::Float(11.5)),
        Ok(vec![215])
    );
    assert_eq!(
        encode_point(point("flow"), &Value::Int(-25)),
        Ok(vec![0xFFFD])
    );
    // (26 - 5) / 10 = 2.1, the nearest register value is 2.
    assert_eq!(encode_point(point("flow"), &Value::Int(26)), Ok(vec![2]));
    assert_eq!(
        encode_point(point("level"), &Value::Int(44)),
        Ok(vec![0x41AC, 0])
    );
}

/// Integer types give integers with whole scale and offset, floats otherwise.
#[test]
fn integers_stay_integers_only_with_whole_scale_and_offset() {
    let map = map(
        HOLDING,
        "",
        "",
        json!([
            {"name": "plain", "address": 0},
            {"name": "whole", "address": 0, "scale": 2.0, "offset": -1},
            {"name": "half", "address": 0, "scale": 0.5},
        ]),
        0,
    );
    let decoded = decode_words(&map, &[4]);
    assert_exact(
        field(&decoded, "plain"),
        &Value::Int(4),
        "uint16 is the default type",
    );
    assert_exact(field(&decoded, "whole"), &Value::Int(7), "4 * 2 - 1");
    assert_exact(field(&decoded, "half"), &Value::Float(2.0), "4 * 0.5");
}

/// int64 keeps every bit; uint64 beyond i64::MAX becomes the nearest float.
#[test]
fn sixty_four_bit_integers_keep_full_precision_within_i64() {
    let map = map(
        HOLDING,
        "",
        "",
        json!([
            {"name": "i", "address": 0, "type": "int64"},
            {"name": "u", "address": 4, "type": "uint64"},
        ]),
        0,
    );
    // 2^53 + 1 is not a float; i64::MAX - 1 neither.
    let decoded = decode_words(&map, &[0x20, 0, 0, 1, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]);
    assert_exact(field(&decoded, "i"), &Value::Int((1 << 53) + 1), "2^53 + 1");
    assert_exact(
        field(&decoded, "u"),
        &Value::Float(u64::MAX as f64),
        "u64::MAX",
    );
    let decoded = decode_words(&map, &[0x7FFF, 0xFFFF, 0xFFFF, 0xFFFE, 0x8000, 0, 0, 0]);
    assert_exact(
        field(&decoded, "i"),
        &Value::Int(i64::MAX - 1),
        "i64::MAX - 1",
    );
    assert_exact(
        field(&decoded, "u"),
        &Value::Float(9_223_372_036_854_775_808.0),
        "2^63",
    );
    let u = map.point("u").expect("point");
    assert_eq!(
        encode_point(u, &Value::Float(9_223_372_036_854_775_808.0)),
        Ok(vec![0x8000, 0, 0, 0]),
        "a uint64 above i64::MAX is written from its float"
    );
}

/// A NaN or infinite float reads as null (JSON has no NaN) and cannot be written.
#[test]
fn nan_and_infinite_floats_decode_to_null() {
    let map = map(
        HOLDING,
        "",
        "",
        json!([
            {"name": "nan32", "address": 0, "type": "float32"},
            {"name": "inf64", "address": 2, "type": "float64"},
            {"name": "huge", "address": 6, "type": "float32", "scale": 1e300, "offset": 0},
        ]),
        0,
    );
    // 0x7FC00000 is a quiet NaN, 0x7FF0... +infinity; 3.4e38 * 1e300 overflows.
    let decoded = decode_words(&map, &[0x7FC0, 0, 0x7FF0, 0, 0, 0, 0x7F7F, 0xFFFF]);
    assert_exact(field(&decoded, "nan32"), &Value::Null, "NaN");
    assert_exact(field(&decoded, "inf64"), &Value::Null, "infinity");
    assert_exact(field(&decoded, "huge"), &Value::Null, "overflow by scale");
    let point = map.point("inf64").expect("point");
    let error = encode_point(point, &Value::Float(f64::NAN)).expect_err("NaN refused");
    assert!(error.to_string().contains("not a finite number"), "{error}");
}

/// Strings drop trailing NULs on read and are NUL-padded on write; too long is refused.
#[test]
fn strings_trim_trailing_nuls_and_are_padded_on_write() {
    let map = map(
        HOLDING,
        "",
        "",
        json!([{"name": "tag", "address": 0, "type": "string", "length": 3}]),
        0,
    );
    // "PU" then "M\0" then "\0\0".
    let decoded = decode_words(&map, &[0x5055, 0x4D00, 0x0000]);
    assert_exact(
        field(&decoded, "tag"),
        &Value::String("PUM".into()),
        "trimmed",
    );
    let point = map.point("tag").expect("point");
    assert_eq!(
        encode_point(point, &Value::String("PUM".into())),
        Ok(vec![0x5055, 0x4D00, 0x0000])
    );
    let error = encode_point(point, &Value::String("1234567".into())).expect_err("too long");
    assert_eq!(
        error.to_string(),
        "point \"tag\": \"1234567\" is 7 bytes; the point holds 6 (length 3)"
    );
    assert!(
        encode_point(point, &Value::Int(1)).is_err(),
        "a number is no string"
    );
}

/// Bits: coils are bool points; a bool in a register reads its bit.
#[test]
fn bool_points_read_coils_and_bits_of_registers() {
    let coils = map(
        Area::Coils,
        "",
        "",
        json!([{"name": "run", "address": 3}, {"name": "fault", "address": 4, "type": "bool"}]),
        0,
    );
    assert_eq!(coils.requests(), [read_request(Area::Coils, 3, 2)]);
    let decoded = coils
        .decode(&[Response::Bits(vec![true, false])])
        .expect("decodes");
    assert_exact(field(&decoded, "run"), &Value::Bool(true), "coil 3");
    assert_exact(field(&decoded, "fault"), &Value::Bool(false), "coil 4");

    let registers = map(
        HOLDING,
        "",
        "",
        json!([
            {"name": "b0", "address": 0, "type": "bool", "bit": 0},
            {"name": "b1", "address": 0, "type": "bool", "bit": 1},
            {"name": "b15", "address": 0, "type": "bool", "bit": "15"},
        ]),
        0,
    );
    assert_eq!(registers.requests(), [read_request(HOLDING, 0, 1)]);
    let decoded = decode_words(&registers, &[0x8001]);
    assert_exact(field(&decoded, "b0"), &Value::Bool(true), "bit 0");
    assert_exact(field(&decoded, "b1"), &Value::Bool(false), "bit 1");
    assert_exact(field(&decoded, "b15"), &Value::Bool(true), "bit 15");
}

/// Without points one block gives the contrib node's array: numbers, or booleans for bits.
#[test]
fn one_block_without_points_gives_the_contrib_array() {
    let registers = map(HOLDING, "10", "3", Json::Null, 0);
    let decoded = registers
        .decode(&answer(&registers, |a| a * 2))
        .expect("decodes");
    assert_eq!(decoded.payload.to_json(), json!([20, 22, 24]));
    assert_eq!(
        decoded.blocks.to_json(),
        json!([{"start": 10, "count": 3, "values": [20, 22, 24]}])
    );
    let inputs = map(Area::DiscreteInputs, "0", "3", Json::Null, 0);
    assert_eq!(
        inputs.requests(),
        [read_request(Area::DiscreteInputs, 0, 3)]
    );
    let decoded = inputs.decode(&answer(&inputs, |a| a % 2)).expect("decodes");
    assert_eq!(decoded.payload.to_json(), json!([false, true, false]));
}

/// Several blocks give one flat array in the order the blocks are listed, not address order.
#[test]
fn several_blocks_give_one_flat_array_in_block_order() {
    let map = map(HOLDING, "20;0", "2;3", Json::Null, 0);
    assert_eq!(
        map.requests(),
        [read_request(HOLDING, 0, 3), read_request(HOLDING, 20, 2)]
    );
    let decoded = map.decode(&answer(&map, |a| a + 100)).expect("decodes");
    assert_eq!(decoded.payload.to_json(), json!([120, 121, 100, 101, 102]));
    assert_eq!(
        decoded.blocks.to_json(),
        json!([
            {"start": 20, "count": 2, "values": [120, 121]},
            {"start": 0, "count": 3, "values": [100, 101, 102]},
        ])
    );
}

/// The 11-block map: 11 requests with maxGap 0, 5 with maxGap 10, same output.
#[test]
fn the_eleven_block_map_plans_eleven_reads_or_five_with_max_gap_10() {
    let exact = eleven_blocks(0);
    let starts_counts: Vec<(u16, u16)> = exact
        .requests()
        .iter()
        .map(|r| match r {
            Request::Read {
                address, quantity, ..
            } => (*address, *quantity),
            _ => panic!("reads only"),
        })
        .collect();
    assert_eq!(
        starts_counts,
        [
            (1, 1),
            (10, 3),
            (55, 2),
            (69, 2),
            (72, 9),
            (100, 10),
            (120, 5),
            (130, 4),
            (152, 3),
            (160, 7),
            (170, 1)
        ],
        "no two blocks touch (69+2 = 71 < 72), so every block is its own read"
    );
    // Holes: 8, 42, 12, 1, 19, 10, 5, 18, 5, 3; those up to 10 are read through.
    let gapped = eleven_blocks(10);
    assert_eq!(
        gapped.requests(),
        [
            read_request(HOLDING, 1, 12),
            read_request(HOLDING, 55, 2),
            read_request(HOLDING, 69, 12),
            read_request(HOLDING, 100, 34),
            read_request(HOLDING, 152, 19),
        ]
    );
    let memory = |a: u16| a * 7 + 1;
    let a = exact.decode(&answer(&exact, memory)).expect("decodes");
    let b = gapped.decode(&answer(&gapped, memory)).expect("decodes");
    assert_eq!(a, b, "merging changes the reads, not the result");
    let Value::Array(values) = &a.payload else {
        panic!("flat array expected");
    };
    assert_eq!(values.len(), 47);
    assert_eq!(values[0], Value::Int(8), "register 1");
    assert_eq!(values[46], Value::Int(1191), "register 170");
    let Value::Array(blocks) = &a.blocks else {
        panic!("blocks array expected");
    };
    assert_eq!(blocks.len(), 11);
    assert_eq!(
        blocks[4].to_json(),
        json!({"start": 72, "count": 9, "values": [505, 512, 519, 526, 533, 540, 547, 554, 561]})
    );
}

/// Touching or overlapping blocks are read by one request.
#[test]
fn touching_blocks_merge_into_one_read() {
    let map = map(HOLDING, "0; 10 ;12", "10;5;1", Json::Null, 0);
    assert_eq!(map.requests(), [read_request(HOLDING, 0, 15)]);
    let decoded = map.decode(&answer(&map, |a| a)).expect("decodes");
    let Value::Array(values) = decoded.payload else {
        panic!("array");
    };
    assert_eq!(
        values.len(),
        16,
        "the overlapping register 12 is listed twice"
    );
}

/// Long ranges are split at 125 registers and 2000 bits per read.
#[test]
fn long_ranges_split_at_125_registers_and_2000_bits() {
    let registers = map(HOLDING, "0", "300", Json::Null, 0);
    assert_eq!(
        registers.requests(),
        [
            read_request(HOLDING, 0, 125),
            read_request(HOLDING, 125, 125),
            read_request(HOLDING, 250, 50),
        ]
    );
    let decoded = registers
        .decode(&answer(&registers, |a| a))
        .expect("decodes");
    let expected: Vec<Json> = (0..300).map(|a| json!(a)).collect();
    assert_eq!(decoded.payload.to_json(), Json::Array(expected));

    let coils = map(Area::Coils, "0", "4500", Json::Null, 0);
    assert_eq!(
        coils.requests(),
        [
            read_request(Area::Coils, 0, 2000),
            read_request(Area::Coils, 2000, 2000),
            read_request(Area::Coils, 4000, 500),
        ]
    );
}

/// A split never reads a multi-register point half in one request and half in the next.
#[test]
fn a_split_never_cuts_a_point_in_two() {
    let map = map(
        HOLDING,
        "0",
        "201",
        json!([
            {"name": "first", "address": 0},
            {"name": "across", "address": 124, "type": "float32"},
            {"name": "last", "address": 200},
        ]),
        0,
    );
    assert_eq!(
        map.requests(),
        [
            read_request(HOLDING, 0, 124),
            read_request(HOLDING, 124, 77)
        ]
    );
    let decoded = decode_words(&map, &{
        let mut memory = vec![0u16; 201];
        memory[124] = 0x41AC;
        memory[200] = 9;
        memory
    });
    assert_exact(
        field(&decoded, "across"),
        &Value::Float(21.5),
        "float at 124",
    );
    assert_exact(field(&decoded, "last"), &Value::Int(9), "register 200");
}

/// Points without blocks read just their own ranges; maxGap joins them.
#[test]
fn points_without_blocks_are_read_from_their_own_ranges() {
    let points = json!([
        {"name": "speed", "address": 100, "type": "int16"},
        {"name": "power", "address": 0, "type": "float32"},
        {"name": "state", "address": 2},
    ]);
    let tight = map(HOLDING, "", "", points.clone(), 0);
    assert_eq!(
        tight.requests(),
        [read_request(HOLDING, 0, 3), read_request(HOLDING, 100, 1)]
    );
    assert_eq!(
        tight.blocks(),
        [
            Block { start: 0, count: 3 },
            Block {
                start: 100,
                count: 1
            }
        ]
    );
    let loose = map(HOLDING, "", "", points, 97);
    assert_eq!(loose.requests(), [read_request(HOLDING, 0, 101)]);
    let words = |a: u16| match a {
        0 => 0x41AC,
        2 => 3,
        100 => 0xFFFF,
        _ => 0,
    };
    for map in [tight, loose] {
        let decoded = map.decode(&answer(&map, words)).expect("decodes");
        assert_eq!(
            decoded.payload.to_json(),
            json!({"speed": -1, "power": 21.5, "state": 3})
        );
        let Value::Object(object) = &decoded.payload else {
            panic!("object");
        };
        let names: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(names, ["speed", "power", "state"], "points in listed order");
    }
}

/// Explicit blocks and points: only the blocks are read, the points must lie in them.
#[test]
fn points_are_read_from_the_listed_blocks() {
    let map = map(
        HOLDING,
        "10;12",
        "2;2",
        json!([{"name": "spanning", "address": 11, "type": "uint32"}]),
        0,
    );
    assert_eq!(map.requests(), [read_request(HOLDING, 10, 4)]);
    let decoded = map.decode(&answer(&map, |a| a)).expect("decodes");
    assert_eq!(field(&decoded, "spanning"), &Value::Int((11 << 16) + 12));
    assert_eq!(
        decoded.blocks.to_json(),
        json!([
            {"start": 10, "count": 2, "values": [10, 11]},
            {"start": 12, "count": 2, "values": [12, 13]},
        ])
    );
}

/// The node config's keys may be numbers or text, with spaces; points may be JSON text.
#[test]
fn node_config_accepts_numbers_and_text() {
    let config = json!({
        "dataType": "InputRegister",
        "adr": " 1 ; 5 ",
        "quantity": "2;2",
        "maxGap": "2",
        "points": "[{\"name\": \"a\", \"address\": \"5\", \"type\": \"INT32\", \"order\": \"cdab\"}]",
    });
    let Json::Object(config) = config else {
        unreachable!()
    };
    let map = RegisterMap::from_node_config(&config).expect("valid");
    assert_eq!(map.area(), Area::InputRegisters);
    assert_eq!(map.requests(), [read_request(Area::InputRegisters, 1, 6)]);
    let Json::Object(numbers) = json!({"dataType": "Coil", "adr": 7, "quantity": 3}) else {
        unreachable!()
    };
    let map = RegisterMap::from_node_config(&numbers).expect("valid");
    assert_eq!(map.requests(), [read_request(Area::Coils, 7, 3)]);
    let Json::Object(default) = json!({"dataType": "HoldingRegister", "adr": "4", "quantity": ""})
    else {
        unreachable!()
    };
    let map = RegisterMap::from_node_config(&default).expect("valid");
    assert_eq!(
        map.requests(),
        [read_request(HOLDING, 4, 1)],
        "no quantity reads one, as the contrib node does"
    );
}

/// Bad map-level config names the key and says what to fix.
#[test]
fn config_errors_name_the_key_and_what_to_fix() {
    let cases = [
        (
            "5;6",
            "1",
            "quantity: adr lists 2 start addresses but quantity lists 1 counts; give one count per start",
        ),
        (
            "5",
            "0",
            "quantity: \"0\" is not a count; use a whole number of at least 1",
        ),
        (
            "65536",
            "1",
            "adr: \"65536\" is not a start address; use a whole number from 0 to 65535",
        ),
        (
            "abc",
            "1",
            "adr: \"abc\" is not a start address; use a whole number from 0 to 65535",
        ),
        (
            "65530",
            "10",
            "quantity: the block at 65530 with 10 registers runs past address 65535",
        ),
        (
            "",
            "",
            "adr: give a start address (and quantity), or points",
        ),
    ];
    for (adr, quantity, message) in cases {
        assert_eq!(config_error(HOLDING, adr, quantity, Json::Null), message);
    }
    assert_eq!(
        config_error(HOLDING, "", "", json!("[{")),
        "points: not valid JSON: EOF while parsing an object at line 1 column 2"
    );
    assert_eq!(
        config_error(HOLDING, "", "", json!({"name": "a"})),
        "points: expected an array of {name, address, type, ...}"
    );
    assert_eq!(
        parse_area("Holding").expect_err("unknown").to_string(),
        "dataType: unknown data type \"Holding\"; use Coil, Input, HoldingRegister or InputRegister"
    );
    let Json::Object(bad_gap) = json!({"dataType": "Coil", "adr": 0, "maxGap": -1}) else {
        unreachable!()
    };
    let error = RegisterMap::from_node_config(&bad_gap).expect_err("negative gap");
    assert_eq!(error.key(), "maxGap");
    assert_eq!(
        ConfigError::from(error),
        ConfigError::field("maxGap", "expected a whole number of items, 0 to 65535")
    );
}

/// Bad points are named by index and name, with the field and what to fix.
#[test]
fn point_errors_name_the_point_and_what_to_fix() {
    let regs = |points: Json| config_error(HOLDING, "", "", points);
    let cases = [
        (
            json!([{"name": "a", "address": 0, "type": "int8"}]),
            "point #0 \"a\", type: unknown type \"int8\"; use one of bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, string",
        ),
        (
            json!([{"name": "a", "address": 0, "order": "ADCB"}]),
            "point #0 \"a\", order: unknown byte order \"ADCB\"; use ABCD, CDAB, BADC or DCBA",
        ),
        (
            json!([{"name": "a", "address": 0}, {"name": "b", "address": 1}, {"name": "a", "address": 2}]),
            "point #2 \"a\", name: point #0 has the same name; names must be unique",
        ),
        (
            json!([{"name": "s", "address": 0, "type": "string"}]),
            "point #0 \"s\", length: a string needs its length in registers",
        ),
        (
            json!([{"name": "s", "address": 0, "type": "string", "length": 126}]),
            "point #0 \"s\", length: 126 registers do not fit one read; use 1 to 125",
        ),
        (
            json!([{"name": "f", "address": 65535, "type": "float32"}]),
            "point #0 \"f\", address: a float32 at 65535 takes 2 registers and runs past address 65535",
        ),
        (
            json!([{"name": "b", "address": 0, "type": "bool", "bit": 16}]),
            "point #0 \"b\", bit: 16 is not a bit number 0 to 15",
        ),
        (
            json!([{"name": "b", "address": 0, "type": "bool"}]),
            "point #0 \"b\", bit: a bool in a register area needs the bit to read, 0 to 15",
        ),
        (
            json!([{"name": "n", "address": 0, "bit": 3}]),
            "point #0 \"n\", bit: applies to type bool only, not to uint16",
        ),
        (
            json!([{"name": "n", "address": 0, "length": 2}]),
            "point #0 \"n\", length: applies to type string only; uint16 has a fixed size",
        ),
        (
            json!([{"name": "n", "address": 0, "scale": 0}]),
            "point #0 \"n\", scale: must not be 0",
        ),
        (
            json!([{"name": "n", "address": 0, "offset": "x"}]),
            "point #0 \"n\", offset: \"x\" is not a number",
        ),
        (
            json!([{"name": "b", "address": 0, "type": "bool", "bit": 1, "scale": 2}]),
            "point #0 \"b\", scale: applies to numbers only, not to type bool",
        ),
        (
            json!([{"address": 0}]),
            "point #0, name: give each point a non-empty name",
        ),
        (
            json!([{"name": "a", "address": 0}, {"name": "n"}]),
            "point #1 \"n\", address: give a whole number from 0 to 65535",
        ),
        (
            json!([7]),
            "point #0, point: expected an object {name, address, type, ...}",
        ),
    ];
    for (points, message) in cases {
        assert_eq!(regs(points), message);
    }
    assert_eq!(
        config_error(
            Area::Coils,
            "",
            "",
            json!([{"name": "c", "address": 0, "bit": 0}])
        ),
        "point #0 \"c\", bit: a coil or discrete input is one bit already; remove bit"
    );
    assert_eq!(
        config_error(
            Area::Coils,
            "",
            "",
            json!([{"name": "c", "address": 0, "type": "int16"}])
        ),
        "point #0 \"c\", type: int16 needs a register area; coils and discrete inputs hold bits, use type bool"
    );
    assert_eq!(
        config_error(
            HOLDING,
            "10;14",
            "2;2",
            json!([{"name": "gap", "address": 12}])
        ),
        "point #0 \"gap\", address: 12..13 is outside the blocks listed in adr/quantity; extend a block or fix the address"
    );
    let error = RegisterMap::from_config(HOLDING, "", "", Some(&json!([{"name": "x"}])), 0)
        .expect_err("no address");
    assert_eq!(error.key(), "points");
    assert!(
        matches!(ConfigError::from(error), ConfigError::Field { field, .. } if field == "points")
    );
}

/// Responses that do not fit the plan are errors, never panics.
#[test]
fn responses_that_do_not_fit_the_plan_are_errors() {
    let map = eleven_blocks(0);
    let mut responses = answer(&map, |a| a);
    let error = map.decode(&responses[..10]).expect_err("one short");
    assert_eq!(
        error.to_string(),
        "response 10: 10 responses for 11 requests"
    );
    responses[3] = Response::Registers(vec![1]);
    let error = map.decode(&responses).expect_err("short response");
    assert_eq!(error.to_string(), "response 3: 1 items for a read of 2");
    responses[3] = Response::Bits(vec![true, true]);
    let error = map.decode(&responses).expect_err("wrong kind");
    assert_eq!(
        error.to_string(),
        "response 3: expected registers, got bits"
    );
    responses[3] = Response::WroteOne {
        address: 69,
        value: 1,
    };
    assert!(map.decode(&responses).is_err());
    assert!(map.decode(&[]).is_err());
}

/// Writes merge adjacent points: FC 16 for several registers, FC 6 for one; coils FC 15 / 5.
#[test]
fn writes_merge_adjacent_points_into_as_few_requests_as_possible() {
    let registers = map(
        HOLDING,
        "",
        "",
        json!([
            {"name": "mode", "address": 0},
            {"name": "setpoint", "address": 1, "type": "float32"},
            {"name": "alarm", "address": 10, "type": "int16"},
        ]),
        0,
    );
    let values = Value::from_json(json!({"alarm": -1, "setpoint": 21.5, "mode": 2}));
    assert_eq!(
        registers.write_requests(&values),
        Ok(vec![
            Request::WriteRegisters {
                address: 0,
                values: vec![2, 0x41AC, 0]
            },
            Request::WriteRegister {
                address: 10,
                value: 0xFFFF
            },
        ])
    );
    let coils = map(
        Area::Coils,
        "",
        "",
        json!([{"name": "a", "address": 0}, {"name": "b", "address": 1}, {"name": "c", "address": 5}]),
        0,
    );
    let values = Value::from_json(json!({"a": true, "b": false, "c": 1}));
    assert_eq!(
        coils.write_requests(&values),
        Ok(vec![
            Request::WriteCoils {
                address: 0,
                values: vec![true, false]
            },
            Request::WriteCoil {
                address: 5,
                value: true
            },
        ])
    );
}

/// A long run of writes is split at 123 registers, between points.
#[test]
fn writes_split_at_123_registers() {
    let points: Vec<Json> = (0..130)
        .map(|a| json!({"name": format!("r{a}"), "address": a}))
        .collect();
    let map = map(HOLDING, "", "", Json::Array(points), 0);
    let values = Value::Object((0..130).map(|a| (format!("r{a}"), Value::Int(a))).collect());
    let requests = map.write_requests(&values).expect("plans");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1],
        Request::WriteRegisters {
            address: 123,
            values: (123..130).collect()
        }
    );
    assert!(requests.iter().all(|r| r.validate().is_ok()));
}

/// Writes refuse read-only areas, unknown names, overlaps and values out of range.
#[test]
fn writes_refuse_what_cannot_be_written() {
    let inputs = map(
        Area::InputRegisters,
        "",
        "",
        json!([{"name": "a", "address": 0}]),
        0,
    );
    let error = inputs
        .write_requests(&Value::from_json(json!({"a": 1})))
        .expect_err("read-only");
    assert_eq!(error.key(), "dataType");

    let map = map(
        HOLDING,
        "",
        "",
        json!([
            {"name": "word", "address": 0},
            {"name": "low", "address": 1, "type": "int16"},
            {"name": "both", "address": 0, "type": "uint32"},
            {"name": "flag", "address": 2, "type": "bool", "bit": 3},
            {"name": "small", "address": 3, "type": "int16", "scale": 0.1},
            {"name": "f", "address": 4, "type": "float32"},
        ]),
        0,
    );
    let write = |json: Json| {
        map.write_requests(&Value::from_json(json))
            .expect_err("refused")
            .to_string()
    };
    assert_eq!(
        write(json!({"nope": 1})),
        "point \"nope\": no such point; the map has word, low, both, flag, small, f"
    );
    assert_eq!(
        write(json!({"word": 1, "both": 2})),
        "point \"both\": overlaps point \"word\"; write one of them at a time"
    );
    assert_eq!(
        write(json!({"word": 70000})),
        "point \"word\": 70000 is out of range for uint16: 0..=65535"
    );
    assert_eq!(
        write(json!({"low": -32769})),
        "point \"low\": -32769 is out of range for int16: -32768..=32767"
    );
    assert_eq!(
        write(json!({"small": 4000})),
        "point \"small\": 4000 is out of range for int16 (raw 40000 after scale and offset): -32768..=32767"
    );
    assert_eq!(
        write(json!({"flag": true})),
        "point \"flag\": a bit inside a register cannot be written alone; write the whole register"
    );
    assert_eq!(
        write(json!({"f": 1e39})),
        "point \"f\": 1000000000000000000000000000000000000000 is out of range for float32"
    );
    assert_eq!(
        write(json!({"word": "ten"})),
        "point \"word\": \"ten\" is not a number"
    );
    assert_eq!(
        write(json!({"word": true})),
        "point \"word\": expected a number, got boolean"
    );
    assert_eq!(
        write(json!([1])),
        "payload: expected an object {name: value}, got array"
    );
    // Numeric text is a number, and halves round away from zero.
    assert_eq!(
        map.write_requests(&Value::from_json(json!({"word": " 42 ", "low": -2.5}))),
        Ok(vec![Request::WriteRegisters {
            address: 0,
            values: vec![42, 0xFFFD]
        }])
    );
}

/// Reads cut from a gap-joined run start and end on wanted items, never in a hole.
#[test]
fn split_reads_are_trimmed_to_wanted_items() {
    // maxGap 100 joins 0..120 and 200..210 into 0..210, cut at 125: the second read would
    // start in the hole 120..200, so both are trimmed to what the blocks want.
    let trimmed = map(HOLDING, "0;200", "120;10", Json::Null, 100);
    assert_eq!(
        trimmed.requests(),
        [
            read_request(HOLDING, 0, 120),
            read_request(HOLDING, 200, 10)
        ]
    );
    let decoded = trimmed.decode(&answer(&trimmed, |a| a)).expect("decodes");
    let Value::Array(values) = &decoded.payload else {
        panic!("array");
    };
    assert_eq!(values.len(), 130);
    assert_eq!(values[120], Value::Int(200));
    // A 125-register piece that is all hole is not read at all.
    let sparse = map(HOLDING, "0;300", "1;1", Json::Null, 400);
    assert_eq!(
        sparse.requests(),
        [read_request(HOLDING, 0, 1), read_request(HOLDING, 300, 1)]
    );
    let decoded = sparse.decode(&answer(&sparse, |a| a + 1)).expect("decodes");
    assert_eq!(decoded.payload.to_json(), json!([1, 301]));
}

/// A value longer than one write (a long string, a long run of coils) is cut at the limit.
#[test]
fn writes_longer_than_one_request_are_cut_at_the_protocol_limit() {
    let strings = map(
        HOLDING,
        "",
        "",
        json!([{"name": "text", "address": 10, "type": "string", "length": 125}]),
        0,
    );
    let requests = strings
        .write_requests(&Value::from_json(json!({"text": "hi"})))
        .expect("plans");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0],
        Request::WriteRegisters {
            address: 10,
            values: [vec![0x6869], vec![0; 122]].concat()
        }
    );
    assert_eq!(
        requests[1],
        Request::WriteRegisters {
            address: 133,
            values: vec![0, 0]
        }
    );
    let points: Vec<Json> = (0..1970)
        .map(|a| json!({"name": format!("c{a}"), "address": a}))
        .collect();
    let coils = map(Area::Coils, "", "", Json::Array(points), 0);
    let values = Value::Object(
        (0..1970)
            .map(|a| (format!("c{a}"), Value::Bool(true)))
            .collect(),
    );
    let requests = coils.write_requests(&values).expect("plans");
    assert!(matches!(&requests[..], [
        Request::WriteCoils { address: 0, values: first },
        Request::WriteCoils { address: 1968, values: rest },
    ] if first.len() == 1968 && rest.len() == 2));
    assert!(requests.iter().all(|r| r.validate().is_ok()));
}
