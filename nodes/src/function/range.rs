//! `range` — mirrors Node-RED `@node-red/nodes/core/function/16-range.js`.
//!
//! Config:
//! * `minin`, `maxin` — the input range; `minout`, `maxout` — the target range (numbers or
//!   their text, read with JavaScript's `Number()`). When `minin > maxin` both ranges are
//!   swapped end for end, so the mapping stays the same.
//! * `action` — `scale` (default: linear map, also outside the range), `clamp` (limit the
//!   input to the input range first), `roll` (wrap the input into the input range first),
//!   `drop` (drop messages whose input is outside the input range).
//! * `round` — round the result to the nearest integer (halves up, as `Math.round`); the
//!   target range is then narrowed to whole numbers (`ceil(minout)`, `floor(maxout)`).
//! * `property` — the message property read and written (default `payload`).
//! * `name`.
//!
//! Reads and writes `msg.<property>`. A value `Number()` turns into a number is scaled and
//! written back as a number; any other value logs "Not a number: <value>" (info) and the
//! message is dropped. A message without the property passes on unchanged. No status.

use ferrite_runtime::path::PropPath;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Value, async_trait,
};
use serde_json::Value as Json;

pub const DEF: NodeDef = NodeDef {
    type_name: "range",
    category: "function",
    set_id: "node-red/range",
    role: Role::Plain,
    build: Build::Flow(build),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Scale,
    Clamp,
    Roll,
    Drop,
}

struct Range {
    action: Action,
    round: bool,
    min_in: f64,
    max_in: f64,
    min_out: f64,
    max_out: f64,
    property: PropPath,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let config = cx.raw();
    // `Number(n.minin)`: a missing value is NaN, an empty string 0.
    let number = |key: &str| {
        config
            .get(key)
            .map_or(f64::NAN, |v| Value::from(v.clone()).to_number())
    };
    let (mut min_in, mut max_in, mut min_out, mut max_out) = (
        number("minin"),
        number("maxin"),
        number("minout"),
        number("maxout"),
    );
    if min_in > max_in {
        std::mem::swap(&mut min_in, &mut max_in);
        std::mem::swap(&mut min_out, &mut max_out);
    }
    // `n.round || false`: JavaScript truthiness.
    let round = config
        .get("round")
        .is_some_and(|v| Value::from(v.clone()).is_truthy());
    if round {
        max_out = max_out.floor();
        min_out = min_out.ceil();
    }
    let action = match config.get("action").and_then(Json::as_str) {
        Some("clamp") => Action::Clamp,
        Some("roll") => Action::Roll,
        Some("drop") => Action::Drop,
        _ => Action::Scale,
    };
    let property = match config.get("property").and_then(Json::as_str) {
        Some(p) if !p.is_empty() => p,
        _ => "payload",
    };
    let property = PropPath::parse_msg(property).map_err(|e| ConfigError::field("property", e))?;
    Ok(Box::new(Range {
        action,
        round,
        min_in,
        max_in,
        min_out,
        max_out,
        property,
    }))
}

impl Range {
    /// The mapped value, or `None` when `drop` discards it.
    fn map(&self, mut n: f64) -> Option<f64> {
        match self.action {
            Action::Drop if n < self.min_in || n > self.max_in => return None,
            Action::Clamp => n = n.max(self.min_in).min(self.max_in),
            Action::Roll => {
                let divisor = self.max_in - self.min_in;
                // JavaScript's `%` is Rust's: the sign follows the dividend.
                n = ((n - self.min_in) % divisor + divisor) % divisor + self.min_in;
            }
            _ => {}
        }
        let value = (n - self.min_in) / (self.max_in - self.min_in) * (self.max_out - self.min_out)
            + self.min_out;
        Some(if self.round { js_round(value) } else { value })
    }
}

/// The error JavaScript raises reading `path` when a parent of it is undefined or null.
fn missing_parent(msg: &Msg, path: &PropPath) -> Option<String> {
    let root = msg.as_value();
    let segments = path.segments();
    for depth in 1..segments.len() {
        let (parents, rest) = segments.split_at(depth);
        let holder = match root.get_segments(parents, root) {
            None => "undefined",
            Some(Value::Null) => "null",
            Some(_) => continue,
        };
        let key = match rest.first() {
            Some(ferrite_runtime::path::Segment::Key(k)) => k.clone(),
            Some(ferrite_runtime::path::Segment::Index(i)) => i.to_string(),
            _ => String::new(),
        };
        return Some(format!(
            "Cannot read properties of {holder} (reading '{key}')"
        ));
    }
    None
}

/// `Math.round`: halves go up, towards +∞ (Rust's `round` goes away from zero).
fn js_round(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    // Math.round(-0.4) is -0.
    if rounded == 0.0 && x.is_sign_negative() {
        -0.0
    } else {
        rounded
    }
}

#[async_trait]
impl Node for Range {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Some(value) = msg.get_path(&self.property) else {
            // Node-RED's getMessageProperty throws when a parent is missing.
            if let Some(error) = missing_parent(&msg, &self.property) {
                return Err(NodeError::new(error).for_msg(msg));
            }
            // No such property: passed on untouched.
            cx.send(msg).await;
            return Ok(());
        };
        let n = value.to_number();
        if n.is_nan() {
            cx.log(&format!("Not a number: {}", value.to_js_string()));
            return Ok(());
        }
        let Some(mapped) = self.map(n) else {
            return Ok(());
        };
        // Only a parent that is not an object fails here, and then the value was missing.
        let _ = msg.set_path(&self.property, Value::js_number(mapped));
        cx.send(msg).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_round_rounds_halves_up() {
        assert_eq!(js_round(2.5), 3.0);
        assert_eq!(js_round(-2.5), -2.0);
        assert_eq!(js_round(-2.6), -3.0);
        assert_eq!(js_round(0.499_999_999_999_999_94), 0.0);
        assert!(js_round(-0.4).is_sign_negative());
        assert!(js_round(f64::NAN).is_nan());
    }
}
