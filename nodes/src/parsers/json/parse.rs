//! `JSON.parse` as V8 (Node.js 20+) does it: the same grammar, the same values and the same
//! error messages, so a flow's catch node sees the text Node-RED users know
//! (`Unexpected token 'o', "foo" is not valid JSON`).
//!
//! Values follow Ferrite's rules for JavaScript numbers: an integer literal that fits an
//! `i64` stays exact ([`Value::Int`]), every other number is the `f64` JavaScript reads
//! (`1e400` is Infinity, `-0` is negative zero). Object keys keep their first position and
//! their last value, as in JavaScript. Two differences remain: a lone surrogate escape
//! (`"\ud800"`), which a Rust string cannot hold, becomes U+FFFD; and nesting deeper than
//! [`MAX_DEPTH`] is an error where V8 has no limit.

use ferrite_runtime::{Map, Value};

/// Deepest nesting of arrays and objects accepted; keeps recursion (here and in every
/// later walk of the value) well inside a task's stack.
pub const MAX_DEPTH: usize = 512;

/// V8 shows the whole text in "Unexpected token" messages up to this length (UTF-16 units)...
const FULL_CONTEXT_LEN: usize = 21;
/// ...and otherwise this many units either side of the offending character.
const CONTEXT_CHARS: usize = 10;

/// Parses `text` like `JSON.parse(text)`; the error is V8's message.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let result = parser.value().and_then(|value| {
        parser.skip_ws();
        if parser.pos < parser.bytes.len() {
            Err(Fault::Trailing(parser.pos))
        } else {
            Ok(value)
        }
    });
    result.map_err(|fault| fault.message(text))
}

/// Where and why parsing stopped; turned into text only on failure.
enum Fault {
    /// The input ended early.
    End,
    /// The character at this byte offset cannot start or continue what was expected.
    Unexpected(usize),
    /// A specific complaint at a byte offset.
    At(&'static str, usize),
    /// More than white space follows the value, from this byte offset.
    Trailing(usize),
}

impl Fault {
    fn message(self, text: &str) -> String {
        match self {
            Fault::End => "Unexpected end of JSON input".to_owned(),
            Fault::At(what, pos) => format!("{what} in JSON at position {}", utf16_pos(text, pos)),
            Fault::Unexpected(pos) => unexpected_message(text, pos),
            Fault::Trailing(pos) => format!(
                "Unexpected non-whitespace character after JSON at position {}",
                utf16_pos(text, pos)
            ),
        }
    }
}

fn utf16_pos(text: &str, byte_pos: usize) -> usize {
    text.get(..byte_pos)
        .map_or(0, |prefix| prefix.encode_utf16().count())
}

/// V8's wording for an unexpected character: digits, `-` and `"` name the token kind,
/// anything else is quoted with some context.
fn unexpected_message(text: &str, byte_pos: usize) -> String {
    let Some(c) = text.get(byte_pos..).and_then(|rest| rest.chars().next()) else {
        return "Unexpected end of JSON input".to_owned();
    };
    let pos = utf16_pos(text, byte_pos);
    match c {
        '0'..='9' | '-' => return format!("Unexpected number in JSON at position {pos}"),
        '"' => return format!("Unexpected string in JSON at position {pos}"),
        _ => {}
    }
    if matches!(text, "undefined" | "NaN" | "Infinity" | "[object Object]") {
        return format!("\"{text}\" is not valid JSON");
    }
    let units: Vec<u16> = text.encode_utf16().collect();
    let len = units.len();
    let slice = |from: usize, to: usize| String::from_utf16_lossy(&units[from..to.min(len)]);
    let context = if len <= FULL_CONTEXT_LEN {
        format!("\"{text}\"")
    } else if pos < CONTEXT_CHARS {
        format!("\"{}\"...", slice(0, pos + CONTEXT_CHARS))
    } else if pos < len - CONTEXT_CHARS {
        format!(
            "...\"{}\"...",
            slice(pos - CONTEXT_CHARS, pos + CONTEXT_CHARS)
        )
    } else {
        format!("...\"{}\"", slice(pos - CONTEXT_CHARS, len))
    };
    format!("Unexpected token '{c}', {context} is not valid JSON")
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value, Fault> {
        self.skip_ws();
        match self.peek() {
            None => Err(Fault::End),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(_) => Err(Fault::Unexpected(self.pos)),
        }
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Value, Fault>) -> Result<Value, Fault> {
        if self.depth >= MAX_DEPTH {
            return Err(Fault::At("Maximum nesting depth exceeded", self.pos));
        }
        self.depth += 1;
        let value = parse(self);
        self.depth -= 1;
        value
    }

    /// `true`, `false` or `null`; V8 reports the first character that differs.
    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, Fault> {
        for &expected in word {
            match self.peek() {
                None => return Err(Fault::End),
                Some(b) if b == expected => self.pos += 1,
                Some(_) => return Err(Fault::Unexpected(self.pos)),
            }
        }
        Ok(value)
    }

    fn object(&mut self) -> Result<Value, Fault> {
        self.pos += 1; // '{'
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        let mut first = true;
        loop {
            if self.peek() != Some(b'"') {
                return Err(Fault::At(
                    if first {
                        "Expected property name or '}'"
                    } else {
                        "Expected double-quoted property name"
                    },
                    self.pos,
                ));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                // V8 words this only for the first property; later ones get the generic
                // message for whatever stands there.
                return Err(if first {
                    Fault::At("Expected ':' after property name", self.pos)
                } else {
                    Fault::Unexpected(self.pos)
                });
            }
            self.pos += 1;
            let value = self.value()?;
            // A repeated key keeps its first position and takes the last value.
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                    first = false;
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                _ => {
                    return Err(Fault::At(
                        "Expected ',' or '}' after property value",
                        self.pos,
                    ));
                }
            }
        }
    }

    fn array(&mut self) -> Result<Value, Fault> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => {
                    return Err(Fault::At(
                        "Expected ',' or ']' after array element",
                        self.pos,
                    ));
                }
            }
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn number(&mut self) -> Result<Value, Fault> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Fault::At("No number after minus sign", self.pos));
            }
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
            if matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Fault::Unexpected(self.pos));
            }
        } else {
            self.digits();
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Fault::At("Unterminated fractional number", self.pos));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Fault::At("Exponent part is missing a number", self.pos));
            }
            self.digits();
        }
        // The scanned bytes are ASCII digits, signs, '.' and 'e'.
        let literal = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("0");
        if integral && let Ok(i) = literal.parse::<i64>() {
            // "-0" is negative zero in JavaScript.
            return Ok(if i == 0 && literal.starts_with('-') {
                Value::Float(-0.0)
            } else {
                Value::Int(i)
            });
        }
        let f = literal.parse::<f64>().unwrap_or(f64::NAN);
        Ok(Value::js_number(f))
    }

    /// A string literal; `pos` is at its opening quote.
    fn string(&mut self) -> Result<String, Fault> {
        self.pos += 1;
        // Most strings have no escapes: copy them in one exact allocation.
        let start = self.pos;
        let end = self.bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .map_or(self.bytes.len(), |n| start + n);
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            return Ok(std::str::from_utf8(&self.bytes[start..end])
                .unwrap_or_default()
                .to_owned());
        }
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Runs end at ASCII bytes, so they are whole UTF-8 sequences.
            out.push_str(std::str::from_utf8(&self.bytes[run_start..self.pos]).unwrap_or(""));
            match self.peek() {
                None => return Err(Fault::At("Unterminated string", self.pos)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => {
                    return Err(Fault::At(
                        "Bad control character in string literal",
                        self.pos,
                    ));
                }
            }
        }
    }

    /// An escape sequence; `pos` is at the backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), Fault> {
        self.pos += 1;
        let Some(b) = self.peek() else {
            return Err(Fault::End);
        };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => self.low_surrogate(unit),
                    _ => char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}'),
                }
            }
            _ => return Err(Fault::At("Bad escaped character", self.pos - 1)),
        };
        out.push(c);
        Ok(())
    }

    /// The character a high surrogate starts: paired with a following `\uDC00`-`\uDFFF`
    /// escape, else U+FFFD (JavaScript would keep the lone surrogate).
    fn low_surrogate(&mut self, high: u16) -> char {
        let rest = &self.bytes[self.pos..];
        if rest.len() >= 6 && rest[0] == b'\\' && rest[1] == b'u' {
            let saved = self.pos;
            self.pos += 2;
            if let Ok(low @ 0xDC00..=0xDFFF) = self.hex4() {
                let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                return char::from_u32(code).unwrap_or('\u{fffd}');
            }
            self.pos = saved;
        }
        '\u{fffd}'
    }

    fn hex4(&mut self) -> Result<u16, Fault> {
        let mut unit: u16 = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(Fault::At("Bad Unicode escape", self.pos)),
            };
            unit = unit * 16 + u16::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).expect_err(text)
    }

    #[test]
    fn values_follow_javascript() {
        let v = parse(r#" {"a":[1,-2.5,true,false,null,"x\u00e9\n"],"b":{}} "#).expect("valid");
        assert_eq!(
            v.to_json_string(),
            r#"{"a":[1,-2.5,true,false,null,"xé\n"],"b":{}}"#
        );
        assert!(matches!(
            parse("9223372036854775807"),
            Ok(Value::Int(i64::MAX))
        ));
        assert!(matches!(parse("9223372036854775808"), Ok(Value::Float(_))));
        assert!(matches!(parse("1E2"), Ok(Value::Int(100))));
        assert!(matches!(parse("1e400"), Ok(Value::Float(f)) if f == f64::INFINITY));
        assert!(matches!(parse("-0"), Ok(Value::Float(f)) if f == 0.0 && f.is_sign_negative()));
        assert!(matches!(parse("0.1e-2"), Ok(Value::Float(f)) if f == 0.001));
        assert_eq!(
            parse(r#""\ud83d\ude00\ud800x""#).expect("valid"),
            Value::from("😀\u{fffd}x")
        );
        let dup = parse(r#"{"a":1,"b":2,"a":3}"#).expect("valid");
        assert_eq!(dup.to_json_string(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn errors_match_v8() {
        let cases = [
            ("foo", r#"Unexpected token 'o', "foo" is not valid JSON"#),
            (
                r#"{"name":foo}"#,
                r#"Unexpected token 'o', "{"name":foo}" is not valid JSON"#,
            ),
            ("", "Unexpected end of JSON input"),
            ("  ", "Unexpected end of JSON input"),
            (
                r#"{"a":1}x"#,
                "Unexpected non-whitespace character after JSON at position 7",
            ),
            (
                "{a:1}",
                "Expected property name or '}' in JSON at position 1",
            ),
            ("[1,]", r#"Unexpected token ']', "[1,]" is not valid JSON"#),
            (r#""abc"#, "Unterminated string in JSON at position 4"),
            (
                r#"{"a":1,}"#,
                "Expected double-quoted property name in JSON at position 7",
            ),
            (
                "[1 2]",
                "Expected ',' or ']' after array element in JSON at position 3",
            ),
            ("tru", "Unexpected end of JSON input"),
            (
                r#"{"a" 1}"#,
                "Expected ':' after property name in JSON at position 5",
            ),
            (
                "\"a\u{1}\"",
                "Bad control character in string literal in JSON at position 2",
            ),
            ("01", "Unexpected number in JSON at position 1"),
            ("-", "No number after minus sign in JSON at position 1"),
            ("1.", "Unterminated fractional number in JSON at position 2"),
            (
                "1e",
                "Exponent part is missing a number in JSON at position 2",
            ),
            (
                r#"{"a":1"#,
                "Expected ',' or '}' after property value in JSON at position 6",
            ),
            (r#""\x""#, "Bad escaped character in JSON at position 2"),
            (r#""\u12G4""#, "Bad Unicode escape in JSON at position 5"),
            (r#""\"#, "Unexpected end of JSON input"),
            ("t\"", "Unexpected string in JSON at position 1"),
            ("undefined", r#""undefined" is not valid JSON"#),
            (
                r#"{"employees":[{"firstName":"John", "lastName":Smith}]}"#,
                r#"Unexpected token 'S', ..."lastName":Smith}]}" is not valid JSON"#,
            ),
            (
                "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijkl",
                r#"Unexpected token 'a', "abcdefghij"... is not valid JSON"#,
            ),
            (
                r#""é" x"#,
                "Unexpected non-whitespace character after JSON at position 4",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(err(&deep).starts_with("Maximum nesting depth exceeded"));
    }
}
