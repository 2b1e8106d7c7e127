//! The register part of the cellular loggers' Modbus format (`layout: "modb"`):
//! `ST`, `N`, `V`, `P` for one block of consecutive registers, or `STX`, `NX`, `V`, `PX`
//! for several blocks.

use ferrite_runtime::Value;

/// The register fields in output order: `(key, value)` for start, count, values, type.
pub(super) type RegisterFields = [(&'static str, Value); 4];

/// Shapes the evaluated `start`, `count` (`None` when not configured), `registers` and
/// `fc` into the register fields. A `start` array means non-consecutive blocks.
pub(super) fn register_fields(
    start: Value,
    count: Option<Value>,
    registers: Value,
    fc: Value,
) -> Result<RegisterFields, String> {
    let Value::Array(values) = registers else {
        return Err(format!(
            "registers (V) must be an array, got {}",
            registers.type_name()
        ));
    };
    let blocks = values
        .iter()
        .filter(|v| matches!(v, Value::Array(_)))
        .count();
    let nested = match blocks {
        0 => false,
        n if n == values.len() => true,
        _ => return Err("registers (V) mixes blocks (arrays) and single values".to_owned()),
    };
    let Value::Array(starts) = start else {
        if nested {
            return Err(
                "registers (V) holds blocks, but start (ST) is a single address: give start an array of block addresses"
                    .to_owned(),
            );
        }
        let count = count.unwrap_or(Value::from(values.len()));
        return Ok([
            ("ST", start),
            ("N", count),
            ("V", Value::Array(values)),
            ("P", fc),
        ]);
    };
    let (values, block_lengths) = if nested {
        let lengths = values
            .iter()
            .map(|b| Value::from(b.as_array().map_or(0, Vec::len)))
            .collect();
        let flat = values
            .into_iter()
            .flat_map(|b| match b {
                Value::Array(items) => items,
                other => vec![other],
            })
            .collect::<Vec<_>>();
        (flat, Some(lengths))
    } else {
        (values, None)
    };
    let counts = match (count, block_lengths) {
        (Some(Value::Array(counts)), _) => counts,
        (Some(other), _) => {
            return Err(format!(
                "count (NX) must be an array when start (STX) is, got {}",
                other.type_name()
            ));
        }
        (None, Some(lengths)) => lengths,
        (None, None) => {
            return Err(
                "count (NX) is not configured and registers (V) is not an array of blocks"
                    .to_owned(),
            );
        }
    };
    let types = match fc {
        Value::Array(types) => types,
        one => vec![one; starts.len()],
    };
    if counts.len() != starts.len() {
        return Err(format!(
            "STX has {} blocks but NX has {}",
            starts.len(),
            counts.len()
        ));
    }
    if types.len() != starts.len() {
        return Err(format!(
            "STX has {} blocks but PX has {}",
            starts.len(),
            types.len()
        ));
    }
    let mut total = 0.0;
    for n in &counts {
        match n.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 => total += f,
            _ => {
                return Err(format!(
                    "NX must hold whole register counts, got {}",
                    n.to_json_string()
                ));
            }
        }
    }
    if total != values.len() as f64 {
        return Err(format!(
            "NX adds up to {total} registers but V has {}",
            values.len()
        ));
    }
    Ok([
        ("STX", Value::Array(starts)),
        ("NX", Value::Array(counts)),
        ("V", Value::Array(values)),
        ("PX", Value::Array(types)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(json: serde_json::Value) -> Value {
        Value::from(json)
    }

    fn fields(start: Value, count: Option<Value>, regs: Value, fc: Value) -> serde_json::Value {
        let fields = register_fields(start, count, regs, fc).expect("valid");
        serde_json::Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_json()))
                .collect(),
        )
    }

    #[test]
    fn one_block_counts_its_values_unless_told() {
        assert_eq!(
            fields(v(json!(100)), None, v(json!([1, 2, 3])), v(json!(3))),
            json!({"ST": 100, "N": 3, "V": [1, 2, 3], "P": 3})
        );
        assert_eq!(
            fields(
                v(json!(100)),
                Some(v(json!(6))),
                v(json!([1.5, 2.5, 3.5])),
                v(json!(4))
            ),
            json!({"ST": 100, "N": 6, "V": [1.5, 2.5, 3.5], "P": 4})
        );
    }

    #[test]
    fn blocks_derive_nx_from_nested_values_and_repeat_a_scalar_type() {
        assert_eq!(
            fields(
                v(json!([0, 10])),
                None,
                v(json!([[1, 2], [3, 4, 5]])),
                v(json!(3))
            ),
            json!({"STX": [0, 10], "NX": [2, 3], "V": [1, 2, 3, 4, 5], "PX": [3, 3]})
        );
        assert_eq!(
            fields(
                v(json!([0, 10])),
                Some(v(json!([1, 2]))),
                v(json!([1, 2, 3])),
                v(json!([3, 4]))
            ),
            json!({"STX": [0, 10], "NX": [1, 2], "V": [1, 2, 3], "PX": [3, 4]})
        );
    }

    #[test]
    fn inconsistent_blocks_are_errors() {
        let err = |start: serde_json::Value,
                   count: Option<serde_json::Value>,
                   regs: serde_json::Value,
                   fc: serde_json::Value| {
            register_fields(v(start), count.map(v), v(regs), v(fc)).expect_err("invalid")
        };
        assert_eq!(
            err(json!([0, 10]), Some(json!([1, 2])), json!([1, 2]), json!(3)),
            "NX adds up to 3 registers but V has 2"
        );
        assert_eq!(
            err(json!([0, 10]), Some(json!([1])), json!([1]), json!(3)),
            "STX has 2 blocks but NX has 1"
        );
        assert_eq!(
            err(json!([0, 10]), None, json!([[1], [2]]), json!([3])),
            "STX has 2 blocks but PX has 1"
        );
        assert_eq!(
            err(json!([0]), Some(json!([1.5])), json!([1]), json!(3)),
            "NX must hold whole register counts, got 1.5"
        );
        assert!(err(json!([0]), None, json!([1]), json!(3)).starts_with("count (NX) is not"));
        assert!(
            err(json!([0]), Some(json!(1)), json!([1]), json!(3)).starts_with("count (NX) must")
        );
        assert!(err(json!(0), None, json!([[1]]), json!(3)).contains("single address"));
        assert!(err(json!(0), None, json!([[1], 2]), json!(3)).contains("mixes"));
        assert!(err(json!(0), None, json!(7), json!(3)).contains("must be an array, got number"));
    }
}
