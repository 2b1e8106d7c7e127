//! Node-RED property expressions such as `payload.items[0]["a b"]`.
//!
//! [`PropPath::parse`] follows `RED.util.normalisePropertyExpression`
//! exactly, so every expression Node-RED accepts parses to the same parts and
//! every one it rejects is rejected. Parsing happens once, at deploy; walking
//! a parsed path ([`Value::get_path`], [`Value::set_path`],
//! [`Value::delete_path`]) follows `getMessageProperty` and
//! `setMessageProperty` and does not allocate for plain keys and indices.

use std::borrow::Cow;
use std::fmt;

use crate::value::{Value, format_number};

/// Array indices above 2^53 cannot be told apart as JavaScript numbers, so
/// Node-RED's `parseInt` turns them into other property names.
const MAX_SAFE_INDEX: u64 = 1 << 53;

/// How far past an array's end a set may write. JavaScript leaves a sparse
/// hole; we must fill it with nulls, so an index taken from message data
/// (`a[msg.i]`) must not be able to demand gigabytes.
const MAX_ARRAY_GAP: usize = 1 << 16;

/// One step of a property expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// A property name: `.a`, `["a b"]`, or a trailing numeric `.0`.
    Key(String),
    /// A numeric index: `[0]`, or `.0` when more follows.
    Index(usize),
    /// A cross-reference `[msg.b]`, holding the path relative to `msg`;
    /// the value found there names the property.
    Nested(PropPath),
}

/// A parsed property expression.
#[derive(Debug, Clone, PartialEq)]
pub struct PropPath {
    segments: Vec<Segment>,
}

/// A property expression Node-RED would reject.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PathError {
    /// The expression is malformed; `pos` counts characters from its start.
    #[error("Invalid property expression: {reason} at position {pos} in '{expr}'")]
    Invalid {
        /// The whole expression.
        expr: String,
        /// Where the problem was found, in characters.
        pos: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Why a property could not be set.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SetError {
    /// A property would have to be created beneath a value that cannot hold
    /// one (a string, number, boolean, null or Buffer).
    #[error(
        "cannot set a property beneath {}: it is not an object or array",
        describe(at)
    )]
    NotAContainer {
        /// The path to the offending value; empty for the top level.
        at: String,
    },
    /// A named property was addressed on an array. JavaScript would attach
    /// it to the array object, where JSON and message cloning never see it.
    #[error(
        "cannot set property '{key}' of the array at {}: arrays only take numeric indices",
        describe(at)
    )]
    NotAnIndex {
        /// The path to the array; empty for the top level.
        at: String,
        /// The property name.
        key: String,
    },
    /// An index so far past the end of an array that filling the gap with
    /// nulls would be unreasonable.
    #[error(
        "cannot set index {index} of the array at {}: it has only {len} elements",
        describe(at)
    )]
    IndexTooLarge {
        /// The path to the array; empty for the top level.
        at: String,
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// A cross-reference such as `[msg.b]` names a property that is not set.
    #[error("cannot resolve the property reference '{reference}': it is not set")]
    UnresolvedKey {
        /// The reference, as written (`msg.b`).
        reference: String,
    },
}

/// Names a location for an error message.
fn describe(at: &str) -> String {
    if at.is_empty() {
        "the top level".to_owned()
    } else {
        format!("'{at}'")
    }
}

impl PropPath {
    /// Parses a property expression as `normalisePropertyExpression` does.
    ///
    /// Parts are separated by `.`; a dotted part of digits followed by more
    /// parts is an [`Segment::Index`], a trailing one a [`Segment::Key`]
    /// (Node-RED's quirk, which shows when a missing parent is created
    /// or an array element deleted). Brackets hold digits, a quoted name (`["a b"]`, `['a']`; no
    /// escapes, as in Node-RED) or a cross-reference `[msg...]`. The first
    /// part may be a quoted name but not a bracket.
    pub fn parse(expr: &str) -> Result<PropPath, PathError> {
        let chars: Vec<char> = expr.chars().collect();
        parse_segments(&chars)
            .map(|segments| PropPath { segments })
            .map_err(|(pos, reason)| PathError::Invalid {
                expr: expr.to_owned(),
                pos,
                reason,
            })
    }

    /// Parses an expression relative to a message, first stripping a
    /// leading `msg.` as `getMessageProperty` does. Only `msg.` is stripped:
    /// `msg` alone names the property `msg`, as in Node-RED.
    pub fn parse_msg(expr: &str) -> Result<PropPath, PathError> {
        match expr.strip_prefix("msg.") {
            Some(rest) => {
                Self::parse(rest).map_err(|PathError::Invalid { pos, reason, .. }| {
                    PathError::Invalid {
                        expr: expr.to_owned(),
                        pos: pos + 4,
                        reason,
                    }
                })
            }
            None => Self::parse(expr),
        }
    }

    /// The steps of the path.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the path has no steps (never true of a parsed path).
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The first step's name, if it is a [`Segment::Key`].
    pub fn first_key(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Replaces each [`Segment::Nested`] by the property it names in `root`
    /// (the whole message), as Node-RED does when it is given the message.
    ///
    /// A string names a key and a non-negative integer an index; any other
    /// value names the key its JavaScript `String()` gives. A path without
    /// cross-references is returned borrowed, without allocating.
    ///
    /// Resolve first when the value to be changed is the message itself:
    /// `let p = path.resolve(&msg)?; msg.set_path(&p, v, &Value::Null)`.
    pub fn resolve(&self, root: &Value) -> Result<Cow<'_, PropPath>, SetError> {
        if !self
            .segments
            .iter()
            .any(|s| matches!(s, Segment::Nested(_)))
        {
            return Ok(Cow::Borrowed(self));
        }
        let mut segments = Vec::with_capacity(self.segments.len());
        for segment in &self.segments {
            segments.push(match segment {
                Segment::Nested(inner) => {
                    let target =
                        root.get_path(inner, root)
                            .ok_or_else(|| SetError::UnresolvedKey {
                                reference: NestedDisplay(inner).to_string(),
                            })?;
                    match key_from_value(target) {
                        KeyRef::Name(name) => Segment::Key(name.to_owned()),
                        KeyRef::Index(i) => Segment::Index(i),
                        KeyRef::Owned(name) => Segment::Key(name),
                    }
                }
                other => other.clone(),
            });
        }
        Ok(Cow::Owned(PropPath { segments }))
    }
}

/// Ports `normalisePropertyExpression`, position by position, so that
/// acceptance and results match Node-RED's; errors carry a character
/// position and a reason.
fn parse_segments(chars: &[char]) -> Result<Vec<Segment>, (usize, &'static str)> {
    let length = chars.len();
    if length == 0 {
        return Err((0, "zero-length expression"));
    }
    let text = |from: usize, to: usize| -> String {
        chars
            .get(from..to)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    };
    let mut parts = Vec::new();
    // Start of the part being read.
    let mut start = 0;
    // The quote character while inside a quoted name.
    let mut quote: Option<char> = None;
    // Inside `[...]` holding digits or a quoted name.
    let mut in_box = false;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if let Some(q) = quote {
            if c == q {
                if i == start {
                    return Err((start, "zero-length string"));
                }
                parts.push(Segment::Key(text(start, i)));
                let next = chars.get(i + 1).copied();
                if in_box {
                    if next != Some(']') {
                        return Err((start, "unexpected array expression"));
                    }
                } else if !matches!(next, None | Some('[' | '.')) {
                    return Err((i + 1, "unexpected character after quoted name"));
                }
                start = i + 1;
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' | '"' => {
                if i != start {
                    return Err((i, "unexpected quote"));
                }
                quote = Some(c);
                start = i + 1;
            }
            '.' => {
                if i == 0 {
                    return Err((0, "unexpected '.'"));
                }
                if start != i {
                    let part = text(start, i);
                    parts.push(if is_digits(&part) {
                        index_segment(&part)
                    } else {
                        Segment::Key(part)
                    });
                }
                let Some(&next) = chars.get(i + 1) else {
                    return Err((i, "unterminated expression"));
                };
                if !(next.is_ascii_alphanumeric() || next == '$' || next == '_') {
                    return Err((i + 1, "unexpected character"));
                }
                start = i + 1;
            }
            '[' => {
                if i == 0 {
                    return Err((0, "unexpected '['"));
                }
                if start != i {
                    parts.push(Segment::Key(text(start, i)));
                }
                let Some(&next) = chars.get(i + 1) else {
                    return Err((i, "unterminated expression"));
                };
                if starts_with(chars, i + 1, "msg.") || starts_with(chars, i + 1, "msg[") {
                    // A cross-reference runs to the matching bracket. Like
                    // Node-RED, brackets inside quotes count too.
                    let mut depth = 1usize;
                    let mut end = None;
                    for (j, &cj) in chars.iter().enumerate().skip(i + 1) {
                        if cj == '[' {
                            depth += 1;
                        } else if cj == ']' {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(j);
                                break;
                            }
                        }
                    }
                    let Some(end) = end else {
                        return Err((i, "unmatched '['"));
                    };
                    let inner = chars.get(i + 1..end).unwrap_or_default();
                    let nested = parse_segments(inner)
                        .ok()
                        .and_then(strip_msg)
                        .ok_or((i + 1, "invalid property reference"))?;
                    parts.push(Segment::Nested(nested));
                    in_box = false;
                    i = end + 1;
                    start = i;
                    continue;
                }
                if !(next == '\'' || next == '"' || next.is_ascii_digit()) {
                    return Err((i + 1, "unexpected character"));
                }
                start = i + 1;
                in_box = true;
            }
            ']' => {
                if !in_box {
                    return Err((i, "unexpected ']'"));
                }
                if start != i {
                    let part = text(start, i);
                    if !is_digits(&part) {
                        return Err((start, "unexpected array expression"));
                    }
                    parts.push(index_segment(&part));
                }
                start = i + 1;
                in_box = false;
            }
            ' ' => return Err((i, "unexpected space")),
            _ => {}
        }
        i += 1;
    }
    if in_box || quote.is_some() {
        return Err((length, "unterminated expression"));
    }
    if start < length {
        parts.push(Segment::Key(text(start, length)));
    }
    Ok(parts)
}

/// Drops the leading `msg` of a cross-reference's parts, leaving the path
/// relative to the message.
///
/// Node-RED, given the message, resolves `msg["b"]` as the property `msg`
/// of the message (only a `msg.` prefix is stripped there); this treats it
/// as `msg.b`, which is what the expression says.
fn strip_msg(mut parts: Vec<Segment>) -> Option<PropPath> {
    if parts.first() != Some(&Segment::Key("msg".to_owned())) || parts.len() < 2 {
        return None;
    }
    parts.remove(0);
    Some(PropPath { segments: parts })
}

fn starts_with(chars: &[char], at: usize, prefix: &str) -> bool {
    let mut rest = chars.get(at..).unwrap_or_default().iter();
    prefix.chars().all(|p| rest.next() == Some(&p))
}

/// JavaScript's `/^\d+$/`.
fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The segment for `parseInt(digits)`: an index, or for numbers beyond
/// exact integers the property name JavaScript would turn the float into.
fn index_segment(digits: &str) -> Segment {
    match digits.parse::<u64>() {
        Ok(n) if n <= MAX_SAFE_INDEX => match usize::try_from(n) {
            Ok(index) => Segment::Index(index),
            Err(_) => Segment::Key(n.to_string()),
        },
        // Digit strings always parse as f64 (huge ones as infinity).
        _ => Segment::Key(format_number(
            digits.parse::<f64>().unwrap_or(f64::INFINITY),
        )),
    }
}

impl fmt::Display for PropPath {
    /// Renders an expression that parses back to an equivalent path:
    /// `a.b[0]["x y"][msg.c]`. Names that are not plain identifiers are
    /// quoted, with `'` when they contain `"`; a name containing both quote
    /// characters cannot be written in Node-RED's syntax at all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            write_segment(f, segment, i == 0)?;
        }
        Ok(())
    }
}

/// Renders a cross-reference's path as written: `msg.b`, `msg[0]`.
struct NestedDisplay<'a>(&'a PropPath);

impl fmt::Display for NestedDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("msg")?;
        for segment in &self.0.segments {
            write_segment(f, segment, false)?;
        }
        Ok(())
    }
}

fn write_segment(f: &mut fmt::Formatter<'_>, segment: &Segment, first: bool) -> fmt::Result {
    match segment {
        Segment::Key(k) if is_plain_name(k) => {
            if !first {
                f.write_str(".")?;
            }
            f.write_str(k)
        }
        Segment::Key(k) => {
            let quote = if k.contains('"') && !k.contains('\'') {
                '\''
            } else {
                '"'
            };
            if first {
                write!(f, "{quote}{k}{quote}")
            } else {
                write!(f, "[{quote}{k}{quote}]")
            }
        }
        Segment::Index(i) if first => write!(f, "{i}"),
        Segment::Index(i) => write!(f, "[{i}]"),
        Segment::Nested(inner) => write!(f, "[{}]", NestedDisplay(inner)),
    }
}

/// Whether a name can be written unquoted after a `.` and mean the same:
/// identifier characters only, and not all digits (which would be an index).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !is_digits(name)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'$' || b == b'_')
}

/// A concrete property name, borrowed where possible so that walking a
/// path does not allocate.
enum KeyRef<'a> {
    Name(&'a str),
    Index(usize),
    /// The `String()` of a cross-referenced value that is not a string or
    /// an index.
    Owned(String),
}

impl KeyRef<'_> {
    fn as_borrowed(&self) -> KeyRef<'_> {
        match self {
            KeyRef::Name(name) => KeyRef::Name(name),
            KeyRef::Index(i) => KeyRef::Index(*i),
            KeyRef::Owned(name) => KeyRef::Name(name),
        }
    }

    fn to_key_string(&self) -> String {
        match self {
            KeyRef::Name(name) => (*name).to_owned(),
            KeyRef::Index(i) => i.to_string(),
            KeyRef::Owned(name) => name.clone(),
        }
    }
}

/// The property a cross-referenced value names, as JavaScript's `obj[v]`
/// would use it.
fn key_from_value(value: &Value) -> KeyRef<'_> {
    match value {
        Value::String(s) => KeyRef::Name(s),
        Value::Int(i) => {
            usize::try_from(*i).map_or_else(|_| KeyRef::Owned(i.to_string()), KeyRef::Index)
        }
        Value::Float(f) => {
            let index = (f.fract() == 0.0 && (0.0..=MAX_SAFE_INDEX as f64).contains(f))
                .then(|| {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let n = *f as u64; // integral and in range: exact
                    usize::try_from(n).ok()
                })
                .flatten();
            index.map_or_else(|| KeyRef::Owned(format_number(*f)), KeyRef::Index)
        }
        other => KeyRef::Owned(other.to_js_string()),
    }
}

/// The key a concrete segment names; `None` for a cross-reference.
fn segment_key(segment: &Segment) -> Option<KeyRef<'_>> {
    match segment {
        Segment::Key(k) => Some(KeyRef::Name(k)),
        Segment::Index(i) => Some(KeyRef::Index(*i)),
        Segment::Nested(_) => None,
    }
}

/// The array element a key addresses: an index, or a name that is one
/// written canonically (JavaScript's `arr["1"]` is `arr[1]`).
fn element_index(key: &KeyRef<'_>) -> Option<usize> {
    match key {
        KeyRef::Index(i) => Some(*i),
        KeyRef::Name(name) => canonical_index(name),
        KeyRef::Owned(name) => canonical_index(name),
    }
}

fn canonical_index(name: &str) -> Option<usize> {
    match name.as_bytes() {
        [b'0'] => Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => name.parse().ok(),
        _ => None,
    }
}

/// Decimal digits of an index on the stack, for looking an index up as an
/// object key without allocating.
struct IndexName {
    buf: [u8; 20],
    start: usize,
}

impl IndexName {
    fn new(mut n: usize) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            if let Some(slot) = buf.get_mut(start) {
                // `n % 10` is below 10, so the cast cannot truncate.
                #[allow(clippy::cast_possible_truncation)]
                let digit = (n % 10) as u8;
                *slot = b'0' + digit;
            }
            n /= 10;
            if n == 0 || start == 0 {
                break;
            }
        }
        IndexName { buf, start }
    }

    fn as_str(&self) -> &str {
        self.buf
            .get(self.start..)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .unwrap_or_default()
    }
}

/// The child `key` addresses in `container`, if present.
fn child<'v>(container: &'v Value, key: &KeyRef<'_>) -> Option<&'v Value> {
    match container {
        Value::Object(map) => match key {
            KeyRef::Name(name) => map.get(*name),
            KeyRef::Owned(name) => map.get(name.as_str()),
            KeyRef::Index(i) => map.get(IndexName::new(*i).as_str()),
        },
        Value::Array(items) => element_index(key).and_then(|i| items.get(i)),
        _ => None,
    }
}

fn child_mut<'v>(container: &'v mut Value, key: &KeyRef<'_>) -> Option<&'v mut Value> {
    match container {
        Value::Object(map) => match key {
            KeyRef::Name(name) => map.get_mut(*name),
            KeyRef::Owned(name) => map.get_mut(name.as_str()),
            KeyRef::Index(i) => map.get_mut(IndexName::new(*i).as_str()),
        },
        Value::Array(items) => element_index(key).and_then(|i| items.get_mut(i)),
        _ => None,
    }
}

/// The rendered path of the first `len` segments, for error messages.
fn prefix(segments: &[Segment], len: usize) -> String {
    let segments = segments.get(..len).unwrap_or(segments).to_vec();
    PropPath { segments }.to_string()
}

/// The empty container Node-RED creates for a missing parent: an array when
/// the next step is an index, else an object.
fn new_container(next: Option<&Segment>) -> Value {
    if matches!(next, Some(Segment::Index(_))) {
        Value::Array(Vec::new())
    } else {
        Value::Object(Default::default())
    }
}

/// Checks that creating fresh parents from step `from` on cannot fail
/// halfway, so a failed set leaves the value untouched. Fresh arrays are
/// created only for index steps and start empty, so only the gap can fail.
fn check_fresh(segments: &[Segment], from: usize) -> Result<(), SetError> {
    for (pos, segment) in segments.iter().enumerate().skip(from) {
        if let Segment::Index(index) = segment
            && *index > MAX_ARRAY_GAP
        {
            return Err(SetError::IndexTooLarge {
                at: prefix(segments, pos),
                index: *index,
                len: 0,
            });
        }
    }
    Ok(())
}

fn unresolved(segment: &Segment) -> SetError {
    SetError::UnresolvedKey {
        reference: match segment {
            Segment::Nested(inner) => NestedDisplay(inner).to_string(),
            other => PropPath {
                segments: vec![other.clone()],
            }
            .to_string(),
        },
    }
}

/// Steps from `container` into the child step `depth` names, creating it
/// if missing. Fails, without changing anything, if the child exists but
/// cannot hold properties.
fn descend<'v>(
    container: &'v mut Value,
    segments: &[Segment],
    depth: usize,
) -> Result<&'v mut Value, SetError> {
    let segment = segments.get(depth).ok_or_else(|| SetError::NotAContainer {
        at: prefix(segments, depth),
    })?;
    let key = segment_key(segment).ok_or_else(|| unresolved(segment))?;
    let next = segments.get(depth + 1);
    let not_container = || SetError::NotAContainer {
        at: prefix(segments, depth + 1),
    };
    let child = match container {
        Value::Object(map) => {
            let found = match &key {
                KeyRef::Index(i) => map.get_index_of(IndexName::new(*i).as_str()),
                other => map.get_index_of(key_str(other)),
            };
            let slot = match found {
                Some(slot) => slot,
                None => {
                    check_fresh(segments, depth + 1)?;
                    map.insert_full(key.to_key_string(), new_container(next)).0
                }
            };
            map.get_index_mut(slot).map(|(_, child)| child)
        }
        Value::Array(items) => {
            let Some(index) = element_index(&key) else {
                return Err(SetError::NotAnIndex {
                    at: prefix(segments, depth),
                    key: key.to_key_string(),
                });
            };
            if index >= items.len() {
                check_gap(items.len(), index, segments, depth)?;
                check_fresh(segments, depth + 1)?;
                items.resize(index, Value::Null);
                items.push(new_container(next));
            }
            items.get_mut(index)
        }
        _ => {
            return Err(SetError::NotAContainer {
                at: prefix(segments, depth),
            });
        }
    };
    match child {
        Some(child @ (Value::Object(_) | Value::Array(_))) => Ok(child),
        _ => Err(not_container()),
    }
}

fn key_str<'k>(key: &'k KeyRef<'_>) -> &'k str {
    match key {
        KeyRef::Name(name) => name,
        KeyRef::Owned(name) => name,
        // Callers format indices themselves; an index never reaches here.
        KeyRef::Index(_) => "",
    }
}

fn check_gap(len: usize, index: usize, segments: &[Segment], depth: usize) -> Result<(), SetError> {
    if index - len > MAX_ARRAY_GAP {
        return Err(SetError::IndexTooLarge {
            at: prefix(segments, depth),
            index,
            len,
        });
    }
    Ok(())
}

impl Value {
    /// The value at `path`, as `getMessageProperty` finds it; `None` where
    /// JavaScript would give `undefined` or throw (a missing or null
    /// parent).
    ///
    /// Names look up object keys; indices look up array elements, or the
    /// key `"0"` etc. on an object; a name that is a canonical integer
    /// (`"1"`) indexes an array. Cross-references are resolved against
    /// `root`, the whole message. Characters of strings and bytes of
    /// Buffers cannot be addressed, since no `Value` holds them.
    pub fn get_path(&self, path: &PropPath, root: &Value) -> Option<&Value> {
        self.get_segments(&path.segments, root)
    }

    /// [`Value::get_path`] for a run of segments (the rest of a path below a key the caller
    /// already looked up).
    pub fn get_segments(&self, segments: &[Segment], root: &Value) -> Option<&Value> {
        let mut current = self;
        for segment in segments {
            current = match segment {
                Segment::Key(name) => child(current, &KeyRef::Name(name))?,
                Segment::Index(i) => child(current, &KeyRef::Index(*i))?,
                Segment::Nested(inner) => {
                    let key = key_from_value(root.get_path(inner, root)?);
                    child(current, &key.as_borrowed())?
                }
            };
        }
        Some(current)
    }

    /// Sets the value at `path`, as `setMessageProperty` does.
    ///
    /// Missing parents are created: an array when the next step is an index,
    /// else an object. Setting past an array's end fills the gap with nulls.
    /// Fails, changing nothing, when an existing parent is not an object or
    /// array, when a name addresses an array, when an index lies more than
    /// 65536 past an array's end, or when a cross-reference cannot be
    /// resolved against `root` (see [`PropPath::resolve`] for when `self`
    /// is the root). An empty path replaces `self`.
    pub fn set_path(
        &mut self,
        path: &PropPath,
        value: Value,
        root: &Value,
    ) -> Result<(), SetError> {
        let path = path.resolve(root)?;
        let segments = path.segments();
        let Some((last, parents)) = segments.split_last() else {
            *self = value;
            return Ok(());
        };
        let mut current = self;
        for depth in 0..parents.len() {
            current = descend(current, segments, depth)?;
        }
        let key = segment_key(last).ok_or_else(|| unresolved(last))?;
        let depth = parents.len();
        match current {
            Value::Object(map) => {
                let slot = match &key {
                    KeyRef::Index(i) => map.get_mut(IndexName::new(*i).as_str()),
                    other => map.get_mut(key_str(other)),
                };
                match slot {
                    Some(slot) => *slot = value,
                    None => {
                        map.insert(key.to_key_string(), value);
                    }
                }
                Ok(())
            }
            Value::Array(items) => {
                let Some(index) = element_index(&key) else {
                    return Err(SetError::NotAnIndex {
                        at: prefix(segments, depth),
                        key: key.to_key_string(),
                    });
                };
                if let Some(slot) = items.get_mut(index) {
                    *slot = value;
                } else {
                    check_gap(items.len(), index, segments, depth)?;
                    items.resize(index, Value::Null);
                    items.push(value);
                }
                Ok(())
            }
            _ => Err(SetError::NotAContainer {
                at: prefix(segments, depth),
            }),
        }
    }

    /// Removes and returns the value at `path`, as setting `undefined`
    /// with `setMessageProperty` does; `None` if it is not there (nothing is
    /// created) or a cross-reference cannot be resolved.
    ///
    /// An index removes an array element, shifting the rest down; an object
    /// key is removed keeping the other keys' order. A name that addresses
    /// an array element (`a["1"]`, or a trailing `a.1`) leaves a null in its
    /// place, as JavaScript's `delete` leaves a hole.
    pub fn delete_path(&mut self, path: &PropPath, root: &Value) -> Option<Value> {
        let path = path.resolve(root).ok()?;
        let (last, parents) = path.segments().split_last()?;
        let mut current = self;
        for segment in parents {
            current = child_mut(current, &segment_key(segment)?)?;
        }
        match (current, segment_key(last)?) {
            (Value::Object(map), KeyRef::Index(i)) => map.shift_remove(IndexName::new(i).as_str()),
            (Value::Object(map), key) => map.shift_remove(key_str(&key)),
            (Value::Array(items), KeyRef::Index(i)) => (i < items.len()).then(|| items.remove(i)),
            (Value::Array(items), key) => element_index(&key)
                .and_then(|i| items.get_mut(i))
                .map(std::mem::take),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("test JSON is valid")
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_owned())
    }

    fn nested(segments: Vec<Segment>) -> Segment {
        Segment::Nested(PropPath { segments })
    }

    fn parse(expr: &str) -> PropPath {
        PropPath::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn parse_msg(expr: &str) -> PropPath {
        PropPath::parse_msg(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// `testABC` of util_spec.js.
    fn test_abc(input: &str, expected: &[Segment]) {
        assert_eq!(parse(input).segments(), expected, "{input}");
    }

    /// `testInvalid` of util_spec.js.
    fn test_invalid(input: &str) {
        assert!(PropPath::parse(input).is_err(), "{input} should be invalid");
    }

    /// `getMessageProperty(msg, expr)`.
    fn get(msg: &Value, expr: &str) -> Option<Value> {
        msg.get_path(&parse_msg(expr), msg).cloned()
    }

    /// `setMessageProperty(msg, expr, value)`, resolving references first
    /// since the message is both target and root.
    fn set(msg: &mut Value, expr: &str, value: Value) -> Result<(), SetError> {
        let path = parse_msg(expr).resolve(msg)?.into_owned();
        msg.set_path(&path, value, &Value::Null)
    }

    /// `setMessageProperty(msg, expr, undefined)`.
    fn delete(msg: &mut Value, expr: &str) -> Option<Value> {
        let path = parse_msg(expr).resolve(msg).ok()?.into_owned();
        msg.delete_path(&path, &Value::Null)
    }

    // describe('normalisePropertyExpression')

    /// it('pass a.b.c')
    #[test]
    fn pass_a_b_c() {
        test_abc("a.b.c", &[key("a"), key("b"), key("c")]);
    }

    /// it('pass a["b"]["c"]')
    #[test]
    fn pass_a_b_c_double_quoted() {
        test_abc(r#"a["b"]["c"]"#, &[key("a"), key("b"), key("c")]);
    }

    /// it('pass a["b"].c')
    #[test]
    fn pass_a_quoted_b_dot_c() {
        test_abc(r#"a["b"].c"#, &[key("a"), key("b"), key("c")]);
    }

    /// it("pass a['b'].c")
    #[test]
    fn pass_a_single_quoted_b_dot_c() {
        test_abc("a['b'].c", &[key("a"), key("b"), key("c")]);
    }

    /// it("pass a[0].c")
    #[test]
    fn pass_a_index_c() {
        test_abc("a[0].c", &[key("a"), Segment::Index(0), key("c")]);
    }

    /// it("pass a.0.c")
    #[test]
    fn pass_a_dot_0_c() {
        test_abc("a.0.c", &[key("a"), Segment::Index(0), key("c")]);
    }

    /// it("pass a['a.b[0]'].c")
    #[test]
    fn pass_quoted_name_with_syntax() {
        test_abc("a['a.b[0]'].c", &[key("a"), key("a.b[0]"), key("c")]);
    }

    /// it("pass a[0][0][0]")
    #[test]
    fn pass_repeated_index() {
        use Segment::Index;
        test_abc("a[0][0][0]", &[key("a"), Index(0), Index(0), Index(0)]);
    }

    /// it("pass '1.2.3.4'")
    #[test]
    fn pass_leading_quoted_name() {
        test_abc("'1.2.3.4'", &[key("1.2.3.4")]);
    }

    /// it("pass 'a.b'[1]")
    #[test]
    fn pass_leading_quoted_name_then_index() {
        test_abc("'a.b'[1]", &[key("a.b"), Segment::Index(1)]);
    }

    /// it("pass 'a.b'.c")
    #[test]
    fn pass_leading_quoted_name_then_dot() {
        test_abc("'a.b'.c", &[key("a.b"), key("c")]);
    }

    /// it("pass a[msg.b]")
    #[test]
    fn pass_reference() {
        test_abc("a[msg.b]", &[key("a"), nested(vec![key("b")])]);
    }

    /// it("pass a[msg[msg.b]]")
    #[test]
    fn pass_reference_within_reference() {
        test_abc(
            "a[msg[msg.b]]",
            &[key("a"), nested(vec![nested(vec![key("b")])])],
        );
    }

    /// it("pass a[msg['b]\"[']]")
    #[test]
    fn pass_reference_with_brackets_and_quote_in_name() {
        test_abc("a[msg['b]\"[']]", &[key("a"), nested(vec![key("b]\"[")])]);
    }

    /// it("pass a[msg['b][']]")
    #[test]
    fn pass_reference_with_brackets_in_name() {
        test_abc("a[msg['b][']]", &[key("a"), nested(vec![key("b][")])]);
    }

    /// it("pass b[msg.a][2]")
    #[test]
    fn pass_reference_then_index() {
        test_abc(
            "b[msg.a][2]",
            &[key("b"), nested(vec![key("a")]), Segment::Index(2)],
        );
    }

    /// it("pass b[msg.a][2] (with message)")
    #[test]
    fn pass_reference_resolved_with_message() {
        let path = parse("b[msg.a][2]");
        let resolved = path.resolve(&json(r#"{"a":"foo"}"#));
        assert_eq!(
            resolved.as_deref().map(PropPath::segments),
            Ok(&[key("b"), key("foo"), Segment::Index(2)][..])
        );
    }

    /// it('pass a.$b.c')
    #[test]
    fn pass_dollar_name() {
        test_abc("a.$b.c", &[key("a"), key("$b"), key("c")]);
    }

    /// it('pass a["$b"].c')
    #[test]
    fn pass_quoted_dollar_name() {
        test_abc(r#"a["$b"].c"#, &[key("a"), key("$b"), key("c")]);
    }

    /// it('pass a._b.c')
    #[test]
    fn pass_underscore_name() {
        test_abc("a._b.c", &[key("a"), key("_b"), key("c")]);
    }

    /// it('pass a["_b"].c')
    #[test]
    fn pass_quoted_underscore_name() {
        test_abc(r#"a["_b"].c"#, &[key("a"), key("_b"), key("c")]);
    }

    /// it("pass a['a.b[0]'].c") (toString form: ours renders its own
    /// canonical form, which must parse back to the same path)
    #[test]
    fn display_quotes_names_with_syntax() {
        let path = parse("a['a.b[0]'].c");
        assert_eq!(path.to_string(), r#"a["a.b[0]"].c"#);
        assert_eq!(parse(&path.to_string()), path);
    }

    /// it("pass a.b.c") (toString form)
    #[test]
    fn display_plain_names() {
        let path = parse("a.b.c");
        assert_eq!(path.to_string(), "a.b.c");
        assert_eq!(parse(r#"a["b"]["c"]"#).to_string(), "a.b.c");
    }

    /// it('pass a[msg.c][0]["fred"]') (toString form, with message)
    #[test]
    fn display_resolved_reference() {
        let path = parse(r#"a[msg.c][0]["fred"]"#);
        assert_eq!(path.to_string(), "a[msg.c][0].fred");
        let resolved = path.resolve(&json(r#"{"c":"123"}"#));
        assert_eq!(
            resolved.map(|p| p.to_string()),
            Ok(r#"a["123"][0].fred"#.to_owned())
        );
    }

    /// it("fail a'b'.c")
    #[test]
    fn fail_quote_inside_name() {
        test_invalid("a'b'.c");
    }

    /// it("fail a['b'.c")
    #[test]
    fn fail_unclosed_box_after_string() {
        test_invalid("a['b'.c");
    }

    /// it("fail a[]")
    #[test]
    fn fail_empty_box() {
        test_invalid("a[]");
    }

    /// it("fail a]")
    #[test]
    fn fail_unopened_box() {
        test_invalid("a]");
    }

    /// it("fail a[")
    #[test]
    fn fail_trailing_open_box() {
        test_invalid("a[");
    }

    /// it("fail a[0d]")
    #[test]
    fn fail_non_numeric_index() {
        test_invalid("a[0d]");
    }

    /// it("fail a['")
    #[test]
    fn fail_unterminated_string() {
        test_invalid("a['");
    }

    /// it("fail a[']")
    #[test]
    fn fail_unterminated_string_in_box() {
        test_invalid("a[']");
    }

    /// it("fail a[0']")
    #[test]
    fn fail_quote_after_digit() {
        test_invalid("a[0']");
    }

    /// it("fail a.[0]")
    #[test]
    fn fail_dot_then_box() {
        test_invalid("a.[0]");
    }

    /// it("fail [0]")
    #[test]
    fn fail_leading_box() {
        test_invalid("[0]");
    }

    /// it("fail a[0")
    #[test]
    fn fail_unterminated_index() {
        test_invalid("a[0");
    }

    /// it("fail a.")
    #[test]
    fn fail_trailing_dot() {
        test_invalid("a.");
    }

    /// it("fail .a")
    #[test]
    fn fail_leading_dot() {
        test_invalid(".a");
    }

    /// it("fail a. b")
    #[test]
    fn fail_space_after_dot() {
        test_invalid("a. b");
    }

    /// it("fail  a.b")
    #[test]
    fn fail_leading_space() {
        test_invalid(" a.b");
    }

    /// it("fail a[0].[1]")
    #[test]
    fn fail_dot_box_after_index() {
        test_invalid("a[0].[1]");
    }

    /// it("fail a['']")
    #[test]
    fn fail_empty_string() {
        test_invalid("a['']");
    }

    /// it("fail 'a.b'c")
    #[test]
    fn fail_name_after_leading_string() {
        test_invalid("'a.b'c");
    }

    /// it("fail <blank>")
    #[test]
    fn fail_blank() {
        test_invalid("");
    }

    #[test]
    fn errors_report_position_and_reason() {
        assert_eq!(
            PropPath::parse("a. b"),
            Err(PathError::Invalid {
                expr: "a. b".to_owned(),
                pos: 2,
                reason: "unexpected character",
            })
        );
        let err = PropPath::parse_msg("msg.a..b").err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some(
                "Invalid property expression: unexpected character at position 6 in 'msg.a..b'"
                    .to_owned()
            )
        );
        assert!(matches!(
            PropPath::parse("a[msg.b"),
            Err(PathError::Invalid {
                pos: 1,
                reason: "unmatched '['",
                ..
            })
        ));
        assert!(matches!(
            PropPath::parse("a[msg.]"),
            Err(PathError::Invalid {
                pos: 2,
                reason: "invalid property reference",
                ..
            })
        ));
    }

    #[test]
    fn parse_follows_node_red_quirks() {
        // A trailing numeric part stays a name; only parts followed by a
        // dot become indices, as in Node-RED.
        test_abc("a.0", &[key("a"), key("0")]);
        test_abc("0.a", &[Segment::Index(0), key("a")]);
        // Node-RED accepts a name straight after a closing bracket.
        test_abc(r#"a["b"]c"#, &[key("a"), key("b"), key("c")]);
        test_abc("a[0.1]", &[key("a"), Segment::Index(0), Segment::Index(1)]);
        // After a dot only [A-Za-z0-9$_] may start a part; later characters
        // and a first part are free.
        test_abc("a.b-c.dé", &[key("a"), key("b-c"), key("dé")]);
        test_abc("éa.b", &[key("éa"), key("b")]);
        test_invalid("a.é");
        // No escapes inside quotes: a backslash is an ordinary character.
        test_abc(r#"a["b\"]"#, &[key("a"), key("b\\")]);
        test_invalid(r#"a["b\"c"]"#);
        // parseInt turns digits beyond 2^53 into a float, hence a name.
        test_abc(
            "a[123456789012345678901]",
            &[key("a"), key("123456789012345680000")],
        );
        test_abc(
            &format!("a[{}]", "9".repeat(400)),
            &[key("a"), key("Infinity")],
        );
    }

    #[test]
    fn parse_msg_strips_only_msg_dot() {
        assert_eq!(parse_msg("msg.payload"), parse("payload"));
        assert_eq!(parse_msg("payload"), parse("payload"));
        assert_eq!(parse_msg("msg").segments(), &[key("msg")]);
        assert_eq!(parse_msg("msg.msg.a").segments(), &[key("msg"), key("a")]);
        assert!(PropPath::parse_msg("msg.").is_err());
    }

    #[test]
    fn accessors_and_display() {
        let path = parse("payload.a[0]");
        assert_eq!(path.first_key(), Some("payload"));
        assert!(!path.is_empty());
        assert_eq!(path.segments().len(), 3);
        assert_eq!(parse("0.a").first_key(), None);
        for expr in [
            r#"a.b[0]["x y"]"#,
            r#"a['say "hi"']"#,
            r#""a b".c"#,
            r#"a["0"].b"#,
            "a[msg.b].c",
            r#"a[msg["x y"]][msg[0]]"#,
            "$a._b",
        ] {
            let path = parse(expr);
            assert_eq!(path.to_string(), expr);
            assert_eq!(parse(&path.to_string()), path);
        }
    }

    // describe('getObjectProperty')

    /// it('gets a property beginning with "msg."')
    #[test]
    fn get_object_property_keeps_msg_prefix() {
        let obj = json(r#"{"msg":{"a":"foo"},"a":"bar"}"#);
        assert_eq!(
            obj.get_path(&parse("msg.a"), &obj),
            Some(&Value::from("foo"))
        );
    }

    // describe('getMessageProperty')

    /// it('retrieves a simple property')
    #[test]
    fn get_simple_property() {
        let msg = json(r#"{"a":"foo"}"#);
        assert_eq!(get(&msg, "msg.a"), Some(Value::from("foo")));
        assert_eq!(get(&msg, "a"), Some(Value::from("foo")));
    }

    /// it('retrieves a nested property')
    #[test]
    fn get_nested_property() {
        let msg = json(r#"{"a":"foo","b":{"foo":1,"bar":2}}"#);
        assert_eq!(get(&msg, "msg.b[msg.a]"), Some(Value::Int(1)));
        let msg = json(r#"{"a":"bar","b":{"foo":1,"bar":2}}"#);
        assert_eq!(get(&msg, "b[msg.a]"), Some(Value::Int(2)));
    }

    /// it('should return undefined if property does not exist')
    #[test]
    fn get_missing_property() {
        assert_eq!(get(&json(r#"{"a":"foo"}"#), "msg.b"), None);
    }

    /// it('should throw error if property parent does not exist')
    #[test]
    fn get_missing_parent() {
        assert_eq!(get(&json(r#"{"a":"foo"}"#), "msg.a.b.c"), None);
    }

    /// it('retrieves a property with array syntax')
    #[test]
    fn get_with_array_syntax() {
        assert_eq!(
            get(&json(r#"{"a":["foo","bar"]}"#), "msg.a[0]"),
            Some(Value::from("foo"))
        );
        assert_eq!(
            get(&json(r#"{"a":[null,{"b":"foo"}]}"#), "a[1].b"),
            Some(Value::from("foo"))
        );
        assert_eq!(
            get(&json(r#"{"a":[[["foo"]]]}"#), "a[0][0][0]"),
            Some(Value::from("foo"))
        );
    }

    #[test]
    fn get_follows_javascript_property_lookup() {
        let msg = json(
            r#"{"o":{"0":"zero","1.5":"x","true":"t"},"arr":[10,20],"n":null,"i":1,"f":1.5,"t":true}"#,
        );
        // An index on an object is the key "0"; a canonical numeric name on
        // an array is an index; non-canonical ones are not.
        assert_eq!(get(&msg, "o[0]"), Some(Value::from("zero")));
        assert_eq!(get(&msg, "arr.1"), Some(Value::Int(20)));
        assert_eq!(get(&msg, r#"arr["1"]"#), Some(Value::Int(20)));
        assert_eq!(get(&msg, r#"arr["01"]"#), None);
        assert_eq!(get(&msg, "arr[5]"), None);
        assert_eq!(get(&msg, "n"), Some(Value::Null));
        assert_eq!(get(&msg, "n.x"), None);
        assert_eq!(get(&msg, "i.x"), None);
        // Cross-referenced numbers index; other values name their String().
        assert_eq!(get(&msg, "arr[msg.i]"), Some(Value::Int(20)));
        assert_eq!(get(&msg, "o[msg.f]"), Some(Value::from("x")));
        assert_eq!(get(&msg, "o[msg.t]"), Some(Value::from("t")));
        assert_eq!(get(&msg, "o[msg.missing]"), None);
        // A reference is resolved against the root, not the current value.
        let inner = json(r#"{"x":{"k":"v"}}"#);
        let root = json(r#"{"name":"k"}"#);
        assert_eq!(
            inner.get_path(&parse("x[msg.name]"), &root),
            Some(&Value::from("v"))
        );
    }

    // describe('setObjectProperty')

    /// it('set a property beginning with "msg."')
    #[test]
    fn set_object_property_keeps_msg_prefix() {
        let mut obj = json("{}");
        assert_eq!(
            obj.set_path(&parse("msg.a"), Value::from("bar"), &Value::Null),
            Ok(())
        );
        assert_eq!(obj, json(r#"{"msg":{"a":"bar"}}"#));
    }

    // describe('setMessageProperty')

    /// it('sets a property')
    #[test]
    fn set_property() {
        let mut msg = json(r#"{"a":"foo"}"#);
        assert_eq!(set(&mut msg, "msg.a", Value::from("bar")), Ok(()));
        assert_eq!(msg, json(r#"{"a":"bar"}"#));
    }

    /// it('sets a deep level property')
    #[test]
    fn set_deep_property() {
        let mut msg = json(r#"{"a":{"b":{"c":"foo"}}}"#);
        assert_eq!(set(&mut msg, "msg.a.b.c", Value::from("bar")), Ok(()));
        assert_eq!(msg, json(r#"{"a":{"b":{"c":"bar"}}}"#));
    }

    /// it('creates missing parent properties by default')
    #[test]
    fn set_creates_missing_parents() {
        let mut msg = json(r#"{"a":{}}"#);
        assert_eq!(set(&mut msg, "msg.a.b.c", Value::from("bar")), Ok(()));
        assert_eq!(msg, json(r#"{"a":{"b":{"c":"bar"}}}"#));
    }

    /// it('does not create missing parent properties of string')
    #[test]
    fn set_beneath_string_fails() {
        let mut msg = json(r#"{"a":"foo"}"#);
        assert_eq!(
            set(&mut msg, "msg.a.b.c", Value::from("bar")),
            Err(SetError::NotAContainer { at: "a".to_owned() })
        );
        assert_eq!(msg, json(r#"{"a":"foo"}"#));
    }

    /// it('does not set property of existing string property')
    #[test]
    fn set_on_string_fails() {
        let mut msg = json(r#"{"a":"foo"}"#);
        assert!(set(&mut msg, "msg.a.b", Value::from("bar")).is_err());
        assert_eq!(msg, json(r#"{"a":"foo"}"#));
    }

    /// it('does not set property of existing number property')
    #[test]
    fn set_on_number_fails() {
        let mut msg = json(r#"{"a":123}"#);
        assert!(set(&mut msg, "msg.a.b", Value::from("bar")).is_err());
        assert_eq!(msg, json(r#"{"a":123}"#));
    }

    /// it('does not create missing parent properties of number')
    #[test]
    fn set_beneath_number_fails() {
        let mut msg = json(r#"{"a":123}"#);
        assert!(set(&mut msg, "msg.a.b.c", Value::from("bar")).is_err());
        assert_eq!(msg, json(r#"{"a":123}"#));
    }

    /// it('does not set property of existing boolean property')
    #[test]
    fn set_on_boolean_fails() {
        let mut msg = json(r#"{"a":true}"#);
        assert!(set(&mut msg, "msg.a.b", Value::from("bar")).is_err());
        assert_eq!(msg, json(r#"{"a":true}"#));
    }

    /// it('does not create missing parent properties of boolean')
    #[test]
    fn set_beneath_boolean_fails() {
        let mut msg = json(r#"{"a":true}"#);
        assert!(set(&mut msg, "msg.a.b.c", Value::from("bar")).is_err());
        assert_eq!(msg, json(r#"{"a":true}"#));
    }

    /// it('deletes property if value is undefined')
    #[test]
    fn delete_property() {
        let mut msg = json(r#"{"a":{"b":{"c":"foo"}}}"#);
        assert_eq!(delete(&mut msg, "msg.a.b.c"), Some(Value::from("foo")));
        assert_eq!(msg, json(r#"{"a":{"b":{}}}"#));
    }

    /// it('does not create missing parent properties if value is undefined')
    #[test]
    fn delete_does_not_create_parents() {
        let mut msg = json(r#"{"a":{}}"#);
        assert_eq!(delete(&mut msg, "msg.a.b.c"), None);
        assert_eq!(msg, json(r#"{"a":{}}"#));
    }

    /// it('sets a property with array syntax')
    #[test]
    fn set_with_array_syntax() {
        let mut msg = json(r#"{"a":{"b":["foo",{"c":["",""]}]}}"#);
        assert_eq!(set(&mut msg, "msg.a.b[1].c[1]", Value::from("bar")), Ok(()));
        assert_eq!(msg, json(r#"{"a":{"b":["foo",{"c":["","bar"]}]}}"#));
    }

    /// it('creates missing array elements - final property')
    #[test]
    fn set_creates_missing_elements_final() {
        let mut msg = json(r#"{"a":[]}"#);
        assert_eq!(set(&mut msg, "msg.a[2]", Value::from("bar")), Ok(()));
        assert_eq!(msg, json(r#"{"a":[null,null,"bar"]}"#));
    }

    /// it('creates missing array elements - mid property')
    #[test]
    fn set_creates_missing_elements_mid() {
        let mut msg = json("{}");
        assert_eq!(set(&mut msg, "msg.a[2].b", Value::from("bar")), Ok(()));
        assert_eq!(msg, json(r#"{"a":[null,null,{"b":"bar"}]}"#));
    }

    /// it('creates missing array elements - multi-arrays')
    #[test]
    fn set_creates_missing_elements_multi_arrays() {
        let mut msg = json("{}");
        assert_eq!(set(&mut msg, "msg.a[2][2]", Value::from("bar")), Ok(()));
        assert_eq!(msg, json(r#"{"a":[null,null,[null,null,"bar"]]}"#));
    }

    /// it('deletes property inside array if value is undefined')
    #[test]
    fn delete_array_element() {
        let mut msg = json(r#"{"a":[1,2,3]}"#);
        assert_eq!(delete(&mut msg, "msg.a[1]"), Some(Value::Int(2)));
        assert_eq!(msg, json(r#"{"a":[1,3]}"#));
    }

    /// it('handles nested message property references')
    #[test]
    fn set_with_reference() {
        let mut obj = json(r#"{"a":"foo","b":{}}"#);
        assert_eq!(set(&mut obj, "b[msg.a]", Value::from("bar")), Ok(()));
        assert_eq!(obj, json(r#"{"a":"foo","b":{"foo":"bar"}}"#));
    }

    /// it('handles nested message property references') (the second one)
    #[test]
    fn set_with_reference_then_index() {
        let mut obj = json(r#"{"a":"foo","b":{"foo":[0,0,0]}}"#);
        assert_eq!(set(&mut obj, "b[msg.a][2]", Value::from("bar")), Ok(()));
        assert_eq!(obj, json(r#"{"a":"foo","b":{"foo":[0,0,"bar"]}}"#));
    }

    #[test]
    fn set_resolves_references_against_root() {
        let root = json(r#"{"k":"name","i":1}"#);
        let mut target = json(r#"{"x":[0,0]}"#);
        assert_eq!(
            target.set_path(&parse("y[msg.k]"), Value::Int(1), &root),
            Ok(())
        );
        assert_eq!(
            target.set_path(&parse("x[msg.i]"), Value::Int(5), &root),
            Ok(())
        );
        assert_eq!(target, json(r#"{"x":[0,5],"y":{"name":1}}"#));
        assert_eq!(
            target.set_path(&parse("x[msg.nope]"), Value::Int(1), &root),
            Err(SetError::UnresolvedKey {
                reference: "msg.nope".to_owned()
            })
        );
        assert_eq!(target, json(r#"{"x":[0,5],"y":{"name":1}}"#));
    }

    #[test]
    fn set_creates_containers_by_next_step() {
        let mut msg = json("{}");
        // A trailing numeric dotted part is a name, so its parent is an object.
        assert_eq!(set(&mut msg, "a.0", Value::Int(1)), Ok(()));
        assert_eq!(set(&mut msg, "b[0]", Value::Int(1)), Ok(()));
        assert_eq!(set(&mut msg, "c.0.d", Value::Int(1)), Ok(()));
        assert_eq!(msg, json(r#"{"a":{"0":1},"b":[1],"c":[{"d":1}]}"#));
        // Existing keys keep their position.
        assert_eq!(set(&mut msg, "a", Value::Null), Ok(()));
        assert_eq!(msg.to_json_string(), r#"{"a":null,"b":[1],"c":[{"d":1}]}"#);
    }

    #[test]
    fn set_index_and_names_across_containers() {
        let mut msg = json(r#"{"o":{},"arr":[1]}"#);
        assert_eq!(set(&mut msg, "o[3]", Value::Int(1)), Ok(()));
        assert_eq!(set(&mut msg, r#"arr["2"]"#, Value::Int(3)), Ok(()));
        assert_eq!(set(&mut msg, "arr.0", Value::Int(0)), Ok(()));
        assert_eq!(msg, json(r#"{"o":{"3":1},"arr":[0,null,3]}"#));
        assert_eq!(
            set(&mut msg, "arr.x", Value::Int(1)),
            Err(SetError::NotAnIndex {
                at: "arr".to_owned(),
                key: "x".to_owned()
            })
        );
        assert_eq!(
            set(&mut msg, "arr.x.y", Value::Int(1)),
            Err(SetError::NotAnIndex {
                at: "arr".to_owned(),
                key: "x".to_owned()
            })
        );
        assert_eq!(msg, json(r#"{"o":{"3":1},"arr":[0,null,3]}"#));
    }

    #[test]
    fn set_refuses_null_and_buffer_parents() {
        let mut msg = json(r#"{"n":null,"arr":[null]}"#);
        if let Some(map) = msg.as_object_mut() {
            map.insert(
                "buf".to_owned(),
                Value::Bytes(bytes::Bytes::from_static(b"x")),
            );
        }
        let before = msg.clone();
        for (expr, at) in [("n.a", "n"), ("arr[0].a", "arr[0]"), ("buf[0]", "buf")] {
            assert_eq!(
                set(&mut msg, expr, Value::Int(1)),
                Err(SetError::NotAContainer { at: at.to_owned() }),
                "{expr}"
            );
        }
        assert_eq!(msg, before);
        let mut scalar = Value::Int(1);
        let err = scalar.set_path(&parse("a"), Value::Int(2), &Value::Null);
        assert_eq!(err, Err(SetError::NotAContainer { at: String::new() }));
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err(
                "cannot set a property beneath the top level: it is not an object or array"
                    .to_owned()
            )
        );
    }

    #[test]
    fn set_limits_array_gaps_without_partial_changes() {
        let mut msg = json(r#"{"arr":[]}"#);
        let far = MAX_ARRAY_GAP + 1;
        assert_eq!(
            set(&mut msg, &format!("arr[{far}]"), Value::Int(1)),
            Err(SetError::IndexTooLarge {
                at: "arr".to_owned(),
                index: far,
                len: 0
            })
        );
        // The failure is found before `a` and `b` would have been created.
        assert_eq!(
            set(&mut msg, &format!("a.b[{far}]"), Value::Int(1)),
            Err(SetError::IndexTooLarge {
                at: "a.b".to_owned(),
                index: far,
                len: 0
            })
        );
        assert_eq!(msg, json(r#"{"arr":[]}"#));
        assert_eq!(
            set(&mut msg, &format!("arr[{MAX_ARRAY_GAP}]"), Value::Int(1)),
            Ok(())
        );
        assert_eq!(
            msg.get_path(&parse("arr"), &Value::Null)
                .and_then(Value::as_array)
                .map(Vec::len),
            Some(MAX_ARRAY_GAP + 1)
        );
    }

    #[test]
    fn set_with_empty_path_replaces_value() {
        let mut v = Value::Int(1);
        let empty = PropPath {
            segments: Vec::new(),
        };
        assert_eq!(v.set_path(&empty, Value::from("x"), &Value::Null), Ok(()));
        assert_eq!(v, Value::from("x"));
        assert_eq!(v.get_path(&empty, &Value::Null), Some(&Value::from("x")));
        assert_eq!(v.delete_path(&empty, &Value::Null), None);
    }

    #[test]
    fn delete_follows_javascript() {
        let mut msg = json(r#"{"a":1,"b":[1,2,3],"c":2,"o":{"1":"x"}}"#);
        // Removing a key keeps the others in order.
        assert_eq!(delete(&mut msg, "a"), Some(Value::Int(1)));
        // A name addressing an element leaves a hole, as `delete` does.
        assert_eq!(delete(&mut msg, r#"b["0"]"#), Some(Value::Int(1)));
        assert_eq!(delete(&mut msg, "o[1]"), Some(Value::from("x")));
        assert_eq!(delete(&mut msg, "b[7]"), None);
        assert_eq!(delete(&mut msg, "c.x"), None);
        assert_eq!(delete(&mut msg, "b[msg.nope]"), None);
        assert_eq!(msg.to_json_string(), r#"{"b":[null,2,3],"c":2,"o":{}}"#);
        // A reference is resolved against the root.
        let root = json(r#"{"i":2}"#);
        let mut target = json("[1,2,3]");
        let by_reference = PropPath {
            segments: vec![nested(vec![key("i")])],
        };
        assert_eq!(
            target.delete_path(&by_reference, &root),
            Some(Value::Int(3))
        );
        assert_eq!(target, json("[1,2]"));
    }

    #[test]
    fn index_name_formats_without_allocating() {
        for n in [0, 7, 10, 12345, usize::MAX] {
            assert_eq!(IndexName::new(n).as_str(), n.to_string());
        }
    }
}
