//! Serde helpers for Node-RED's loosely typed config: the same field arrives as `2` or `"2"`,
//! `true` or `"true"`, and `""` where a number is optional.
//!
//! Use with `#[serde(default, deserialize_with = "ferrite_runtime::loose::f64")]`.

use serde::de::{Deserialize, Deserializer};
use serde_json::Value as Json;

/// `true`, `"true"` (any case), non-zero numbers → true; everything else false.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(json_bool(&Json::deserialize(d)?))
}

/// Numbers or numeric strings; `""`, `null` and text → NaN is avoided: they give 0.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(json_f64(&Json::deserialize(d)?).unwrap_or(0.0))
}

/// Numbers or numeric strings; `""`, `null` or text give `None`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(json_f64(&Json::deserialize(d)?))
}

/// Non-negative integers or their text; anything else gives 0.
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(json_f64(&Json::deserialize(d)?)
        .filter(|f| f.is_finite() && *f >= 0.0)
        .map_or(0, |f| f as u64))
}

/// Strings as they are; numbers and booleans as their text; null as "".
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::String(s) => s,
        Json::Null => String::new(),
        other => other.to_string(),
    })
}

pub fn json_bool(v: &Json) -> bool {
    match v {
        Json::Bool(b) => *b,
        Json::String(s) => s.trim().eq_ignore_ascii_case("true"),
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// JavaScript truthiness of a config value (`""`, `0`, `NaN`, `null`, `false` are false).
pub fn json_truthy(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Json::String(s) => !s.is_empty(),
        Json::Array(_) | Json::Object(_) => true,
    }
}

pub fn json_f64(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        Json::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Sample {
        #[serde(default, deserialize_with = "super::bool")]
        flag: bool,
        #[serde(default, deserialize_with = "super::opt_f64")]
        num: Option<f64>,
        #[serde(default, deserialize_with = "super::string")]
        text: String,
    }

    #[test]
    fn strings_and_native_values_read_alike() {
        for json in [
            serde_json::json!({"flag": "true", "num": "2", "text": 5}),
            serde_json::json!({"flag": true, "num": 2, "text": "5"}),
        ] {
            let s: Sample = serde_json::from_value(json).expect("loose");
            assert!(s.flag);
            assert_eq!(s.num, Some(2.0));
            assert_eq!(s.text, "5");
        }
        let s: Sample = serde_json::from_value(serde_json::json!({"num": ""})).expect("loose");
        assert_eq!(s.num, None);
        assert!(!s.flag);
    }
}
