//! Mustache templates with the semantics of mustache.js 4.2.0, the version Node-RED uses
//! (template node, trigger node's `{{payload}}` strings, ...).
//!
//! Parse once, at deploy, and render per message:
//!
//! ```
//! use ferrite_nodes::function::mustache::{Template, render};
//! use ferrite_runtime::Value;
//!
//! let template = Template::parse("Hello {{payload.name}}!").expect("valid template");
//! let msg = Value::from(serde_json::json!({"payload": {"name": "<world>"}}));
//! assert_eq!(render(&template, &msg), "Hello &lt;world&gt;!");
//! ```
//!
//! What a template may contain, as in mustache.js:
//! * `{{name}}` — the value, HTML-escaped (`& < > " ' / ` =`); numbers are not escaped;
//!   `null` and missing values give nothing. `{{{name}}}` and `{{& name}}` are not escaped.
//!   Values are written as JavaScript's `String(v)` writes them (arrays joined with `,`,
//!   objects as `[object Object]`, Buffers decoded as UTF-8).
//! * Names: `a` looks `a` up in the innermost view that has it, then outwards; `a.b.c`
//!   walks from the first view that has the whole path; `.` is the innermost view itself.
//!   Arrays, Buffers and strings have `length` and numeric indices (`items.0.name`,
//!   `payload.length`).
//! * `{{#name}}...{{/name}}` — nothing for a falsy value (`false`, `0`, `""`, null,
//!   missing) or an empty array; once per element of an array with the element as the
//!   innermost view; once with an object, string or number as the innermost view; once in
//!   the current view for `true`.
//! * `{{^name}}...{{/name}}` — once when the value is falsy, missing or an empty array.
//! * `{{! comment }}` and `{{> partial}}` give nothing (Node-RED passes no partials).
//! * `{{=<% %>=}}` changes the delimiters for the rest of the template.
//! * A line holding only white space and section, comment, partial or delimiter tags is
//!   left out entirely ("standalone" lines), as mustache.js does.
//!
//! Parse errors carry mustache.js's messages and positions (in UTF-16 units):
//! `Unclosed tag at 17`, `Unopened section "a" at 3`, `Unclosed section "a" at 12`,
//! `Invalid tags: <%`.
//!
//! [`Template::render_with`] takes a [`Resolver`] for what Node-RED's template node adds:
//! values for names no view has (`flow.x`, `global.x`, `env.X`) and a rewrite of strings
//! found outside any section (its JSON escaping).

use std::borrow::Cow;
use std::fmt;

// JavaScript's `\s` is the set `trim` removes.
use ferrite_runtime::Value;
use ferrite_runtime::value::is_js_whitespace as is_js_space;

/// A parsed template, ready to render any number of times.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Part>,
}

/// A template that mustache.js would refuse to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MustacheError {
    message: String,
}

impl MustacheError {
    fn new(message: String) -> Self {
        Self { message }
    }

    /// The message, as mustache.js words it (`Unclosed tag at 17`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for MustacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MustacheError {}

/// What [`Template::render_with`] asks of its caller.
pub trait Resolver {
    /// The value of a name that neither the view nor any enclosing section view has;
    /// `None` renders as a missing value. The default has none.
    fn missing(&self, _name: &str) -> Option<Cow<'_, Value>> {
        None
    }

    /// Rewrites a string value looked up while rendering outside every section; `None`
    /// keeps it. The default keeps every string.
    fn outer_string(&self, _value: &str) -> Option<String> {
        None
    }
}

/// A [`Resolver`] that adds nothing: plain mustache.js rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Resolver for Plain {}

/// Renders `template` against `view` (usually the message), as `mustache.render` does.
pub fn render(template: &Template, view: &Value) -> String {
    template.render(view)
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Value {
        name: Name,
        escape: bool,
    },
    Section {
        name: Name,
        inverted: bool,
        children: Vec<Part>,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Name {
    text: String,
    kind: NameKind,
}

#[derive(Debug, Clone, PartialEq)]
enum NameKind {
    /// `.`: the innermost view.
    Dot,
    /// No dot after the first character: one lookup per view.
    Plain,
    /// `a.b.c`, split at the dots.
    Dotted(Vec<String>),
}

impl Name {
    fn new(text: &str) -> Self {
        let kind = if text == "." {
            NameKind::Dot
        } else if text.find('.').is_some_and(|i| i > 0) {
            NameKind::Dotted(text.split('.').map(str::to_owned).collect())
        } else {
            NameKind::Plain
        };
        Self {
            text: text.to_owned(),
            kind,
        }
    }
}

impl Template {
    /// Parses a template as mustache.js does.
    pub fn parse(source: &str) -> Result<Self, MustacheError> {
        Parser::new(source).parse()
    }

    /// Renders against `view`, as `mustache.render(template, view)` does.
    pub fn render(&self, view: &Value) -> String {
        self.render_with(view, &Plain)
    }

    /// Renders against `view`, asking `resolver` for names no view has and letting it
    /// rewrite strings found outside every section.
    pub fn render_with(&self, view: &Value, resolver: &dyn Resolver) -> String {
        let mut out = String::with_capacity(self.text_len() + 16);
        let frame = Frame { view, parent: None };
        render_parts(&self.nodes, &frame, resolver, &mut out);
        out
    }

    /// Every name the template looks up (values and sections, nested ones included), in
    /// template order, repeats included.
    pub fn names(&self) -> Vec<&str> {
        fn collect<'t>(parts: &'t [Part], out: &mut Vec<&'t str>) {
            for part in parts {
                match part {
                    Part::Text(_) => {}
                    Part::Value { name, .. } => out.push(&name.text),
                    Part::Section { name, children, .. } => {
                        out.push(&name.text);
                        collect(children, out);
                    }
                }
            }
        }
        let mut names = Vec::new();
        collect(&self.nodes, &mut names);
        names
    }

    /// Whether rendering can give anything other than fixed text.
    pub fn has_tags(&self) -> bool {
        self.nodes.iter().any(|p| !matches!(p, Part::Text(_)))
    }

    fn text_len(&self) -> usize {
        self.nodes
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                _ => 0,
            })
            .sum()
    }
}

// ---- parsing ---------------------------------------------------------------------------

/// One token before sections are nested. Text comes in pieces of at most one line, so a
/// standalone line's white space can be dropped whole.
enum Token {
    Text(String),
    Value {
        name: String,
        escape: bool,
    },
    Open {
        name: String,
        inverted: bool,
    },
    Close,
    /// Comments, partials and delimiter changes: they render nothing.
    Silent,
}

struct Parser<'s> {
    source: &'s str,
    /// Byte offset of the scanner.
    pos: usize,
    open: String,
    close: String,
    /// `None`: dropped white space of a standalone line.
    tokens: Vec<Option<Token>>,
    /// Text tokens of the current line.
    line_text: Vec<usize>,
    /// The current line has a tag.
    has_tag: bool,
    /// The current line has a non-space character or a value tag.
    non_space: bool,
}

/// The number of UTF-16 units before byte `pos`: JavaScript's string index.
fn js_index(source: &str, pos: usize) -> usize {
    source.get(..pos).map_or(0, |s| s.encode_utf16().count())
}

impl<'s> Parser<'s> {
    fn new(source: &'s str) -> Self {
        Self {
            source,
            pos: 0,
            open: "{{".to_owned(),
            close: "}}".to_owned(),
            tokens: Vec::new(),
            line_text: Vec::new(),
            has_tag: false,
            non_space: false,
        }
    }

    fn rest(&self) -> &'s str {
        self.source.get(self.pos..).unwrap_or_default()
    }

    fn error_at(&self, message: &str, pos: usize) -> MustacheError {
        MustacheError::new(format!("{message} at {}", js_index(self.source, pos)))
    }

    /// Skips JavaScript white space.
    fn skip_space(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches(is_js_space);
        self.pos += rest.len() - trimmed.len();
    }

    /// mustache.js `scanUntil(/\s*<marker>/)`: the text before the marker and the white
    /// space in front of it; the whole rest when the marker does not occur.
    fn scan_until_marker(&mut self, marker: &str) -> &'s str {
        let rest = self.rest();
        let end = match rest.find(marker) {
            Some(at) => rest[..at].trim_end_matches(is_js_space).len(),
            None => rest.len(),
        };
        self.pos += end;
        &rest[..end]
    }

    /// mustache.js `scan(/\s*<marker>/)`: consumes white space and the marker if the
    /// marker follows; reports whether it did.
    fn scan_marker(&mut self, marker: &str) -> bool {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches(is_js_space);
        if trimmed.starts_with(marker) {
            self.pos += rest.len() - trimmed.len() + marker.len();
            true
        } else {
            false
        }
    }

    /// Drops the current line's text if it holds only white space and tags that print
    /// nothing (mustache.js `stripSpace`).
    fn end_line(&mut self) {
        if self.has_tag && !self.non_space {
            for index in self.line_text.drain(..) {
                if let Some(slot) = self.tokens.get_mut(index) {
                    *slot = None;
                }
            }
        } else {
            self.line_text.clear();
        }
        self.has_tag = false;
        self.non_space = false;
    }

    fn push_text(&mut self, text: &str) {
        if !text.is_empty() {
            self.line_text.push(self.tokens.len());
            self.tokens.push(Some(Token::Text(text.to_owned())));
        }
    }

    fn text(&mut self, text: &str) {
        let mut line_start = 0;
        for (i, c) in text.char_indices() {
            if !is_js_space(c) {
                self.non_space = true;
            }
            if c == '\n' {
                self.push_text(&text[line_start..=i]);
                self.end_line();
                line_start = i + 1;
            }
        }
        self.push_text(&text[line_start..]);
    }

    fn parse(mut self) -> Result<Template, MustacheError> {
        // Names of the open sections.
        let mut sections: Vec<String> = Vec::new();
        while self.pos < self.source.len() {
            let rest = self.rest();
            let text_len = rest.find(self.open.as_str()).unwrap_or(rest.len());
            self.text(&rest[..text_len]);
            self.pos += text_len;
            let start = self.pos;
            if self.pos >= self.source.len() {
                break;
            }
            self.pos += self.open.len();
            self.skip_space();
            self.has_tag = true;
            let kind = match self.rest().chars().next() {
                Some(c @ ('#' | '^' | '/' | '>' | '{' | '&' | '=' | '!')) => {
                    self.pos += 1;
                    c
                }
                _ => ' ',
            };
            self.skip_space();
            let close = self.close.clone();
            let value = match kind {
                '=' => {
                    let value = self.scan_until_marker("=");
                    self.scan_marker("=");
                    self.scan_until_marker(&close);
                    value
                }
                '{' => {
                    let value = self.scan_until_marker(&format!("}}{close}"));
                    self.scan_marker("}");
                    self.scan_until_marker(&close);
                    value
                }
                _ => self.scan_until_marker(&close),
            };
            if !self.scan_marker(&close) {
                return Err(self.error_at("Unclosed tag", self.pos));
            }
            let token = match kind {
                '#' | '^' => {
                    sections.push(value.to_owned());
                    Token::Open {
                        name: value.to_owned(),
                        inverted: kind == '^',
                    }
                }
                '/' => match sections.pop() {
                    None => {
                        return Err(self.error_at(&format!("Unopened section \"{value}\""), start));
                    }
                    Some(open) if open != value => {
                        return Err(self.error_at(&format!("Unclosed section \"{open}\""), start));
                    }
                    Some(_) => Token::Close,
                },
                ' ' | '{' | '&' => {
                    self.non_space = true;
                    Token::Value {
                        name: value.to_owned(),
                        escape: kind == ' ',
                    }
                }
                '=' => {
                    let mut tags = value.split(is_js_space).filter(|t| !t.is_empty());
                    match (tags.next(), tags.next()) {
                        (Some(open), Some(close)) => {
                            self.open = open.to_owned();
                            self.close = close.to_owned();
                        }
                        _ => return Err(MustacheError::new(format!("Invalid tags: {value}"))),
                    }
                    Token::Silent
                }
                _ => Token::Silent,
            };
            self.tokens.push(Some(token));
        }
        self.end_line();
        if let Some(open) = sections.pop() {
            return Err(self.error_at(&format!("Unclosed section \"{open}\""), self.pos));
        }
        Ok(Template {
            nodes: nest(self.tokens.into_iter().flatten()),
        })
    }
}

/// Builds the section tree, joining adjacent text.
fn nest(tokens: impl Iterator<Item = Token>) -> Vec<Part> {
    let mut stack: Vec<(Name, bool, Vec<Part>)> = Vec::new();
    let mut top: Vec<Part> = Vec::new();
    for token in tokens {
        let current = match stack.last_mut() {
            Some((_, _, children)) => children,
            None => &mut top,
        };
        match token {
            Token::Text(text) => match current.last_mut() {
                Some(Part::Text(previous)) => previous.push_str(&text),
                _ => current.push(Part::Text(text)),
            },
            Token::Value { name, escape } => current.push(Part::Value {
                name: Name::new(&name),
                escape,
            }),
            Token::Open { name, inverted } => stack.push((Name::new(&name), inverted, Vec::new())),
            Token::Close => {
                if let Some((name, inverted, children)) = stack.pop() {
                    let parent = match stack.last_mut() {
                        Some((_, _, children)) => children,
                        None => &mut top,
                    };
                    parent.push(Part::Section {
                        name,
                        inverted,
                        children,
                    });
                }
            }
            Token::Silent => {}
        }
    }
    top
}

// ---- rendering -------------------------------------------------------------------------

/// A view and the views of the sections around it (mustache.js `Context`).
struct Frame<'a> {
    view: &'a Value,
    parent: Option<&'a Frame<'a>>,
}

fn render_parts<'a>(
    parts: &[Part],
    frame: &Frame<'a>,
    resolver: &'a dyn Resolver,
    out: &mut String,
) {
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Value { name, escape } => {
                if let Some(value) = lookup(name, frame, resolver) {
                    write_value(out, &value, *escape);
                }
            }
            Part::Section {
                name,
                inverted: false,
                children,
            } => {
                let Some(value) = lookup(name, frame, resolver) else {
                    continue;
                };
                if !value.is_truthy() {
                    continue;
                }
                match &*value {
                    Value::Array(items) => {
                        for item in items {
                            let child = Frame {
                                view: item,
                                parent: Some(frame),
                            };
                            render_parts(children, &child, resolver, out);
                        }
                    }
                    // `true`: the section renders in the current view.
                    Value::Bool(_) => render_parts(children, frame, resolver, out),
                    view => {
                        let child = Frame {
                            view,
                            parent: Some(frame),
                        };
                        render_parts(children, &child, resolver, out);
                    }
                }
            }
            Part::Section {
                name,
                inverted: true,
                children,
            } => {
                let show = lookup(name, frame, resolver).is_none_or(|v| {
                    !v.is_truthy() || matches!(&*v, Value::Array(items) if items.is_empty())
                });
                if show {
                    render_parts(children, frame, resolver, out);
                }
            }
        }
    }
}

/// mustache.js `Context.lookup`, then the resolver's additions.
fn lookup<'a>(
    name: &Name,
    frame: &Frame<'a>,
    resolver: &'a dyn Resolver,
) -> Option<Cow<'a, Value>> {
    let found = match &name.kind {
        NameKind::Dot => Some(Cow::Borrowed(frame.view)),
        _ => {
            let mut current = Some(frame);
            loop {
                let Some(f) = current else { break None };
                if let Some(value) = lookup_in(f.view, name) {
                    break Some(value);
                }
                current = f.parent;
            }
        }
    };
    match found {
        Some(value) => {
            if frame.parent.is_none()
                && let Value::String(s) = &*value
                && let Some(rewritten) = resolver.outer_string(s)
            {
                return Some(Cow::Owned(Value::String(rewritten)));
            }
            Some(value)
        }
        None => resolver.missing(&name.text),
    }
}

/// A name in one view: `None` when the view does not have it (the lookup moves outwards).
fn lookup_in<'a>(view: &'a Value, name: &Name) -> Option<Cow<'a, Value>> {
    match &name.kind {
        NameKind::Dot => Some(Cow::Borrowed(view)),
        // Only objects (arrays and Buffers included) are searched for a plain name.
        NameKind::Plain => match view {
            Value::Object(_) | Value::Array(_) | Value::Bytes(_) => {
                property(Cow::Borrowed(view), &name.text)
            }
            _ => None,
        },
        // A path is found when every step exists; strings have their own properties too.
        NameKind::Dotted(parts) => {
            let mut current = Cow::Borrowed(view);
            for part in parts {
                if current.is_null() {
                    return None;
                }
                current = property(current, part)?;
            }
            Some(current)
        }
    }
}

/// `value[key]` for a key the value has (JavaScript's `in`, or a string's own property).
fn property<'a>(value: Cow<'a, Value>, key: &str) -> Option<Cow<'a, Value>> {
    match value {
        Cow::Borrowed(v) => child(v, key),
        Cow::Owned(v) => child(&v, key).map(|c| Cow::Owned(c.into_owned())),
    }
}

fn child<'a>(value: &'a Value, key: &str) -> Option<Cow<'a, Value>> {
    match value {
        Value::Object(map) => map.get(key).map(Cow::Borrowed),
        Value::Array(items) => match key {
            "length" => Some(Cow::Owned(Value::from(items.len()))),
            _ => array_index(key)
                .and_then(|i| items.get(i))
                .map(Cow::Borrowed),
        },
        Value::Bytes(bytes) => match key {
            "length" => Some(Cow::Owned(Value::from(bytes.len()))),
            _ => array_index(key)
                .and_then(|i| bytes.get(i))
                .map(|b| Cow::Owned(Value::Int(i64::from(*b)))),
        },
        Value::String(s) => match key {
            "length" => Some(Cow::Owned(Value::from(s.encode_utf16().count()))),
            _ => array_index(key)
                .and_then(|i| s.encode_utf16().nth(i))
                .map(|unit| {
                    let c = char::decode_utf16([unit])
                        .next()
                        .and_then(Result::ok)
                        .unwrap_or(char::REPLACEMENT_CHARACTER);
                    Cow::Owned(Value::String(c.to_string()))
                }),
        },
        _ => None,
    }
}

/// A canonical array index (`0`, `12`; not `01` or `+1`).
fn array_index(key: &str) -> Option<usize> {
    let canonical = key == "0"
        || (!key.starts_with('0') && !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()));
    if canonical { key.parse().ok() } else { None }
}

/// Writes a looked-up value as mustache.js does: nothing for null, numbers unescaped.
fn write_value(out: &mut String, value: &Value, escape: bool) {
    match value {
        Value::Null => {}
        Value::String(s) if escape => escape_html(out, s),
        Value::String(s) => out.push_str(s),
        Value::Int(_) | Value::Float(_) => out.push_str(&value.to_js_string()),
        other if escape => escape_html(out, &other.to_js_string()),
        other => out.push_str(&other.to_js_string()),
    }
}

/// mustache.js `escapeHtml`.
fn escape_html(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let entity = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            '/' => "&#x2F;",
            '`' => "&#x60;",
            '=' => "&#x3D;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(entity);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(template: &str, view: serde_json::Value) -> String {
        Template::parse(template)
            .unwrap_or_else(|e| panic!("{template}: {e}"))
            .render(&Value::from(view))
    }

    fn err(template: &str) -> String {
        Template::parse(template).expect_err("invalid").to_string()
    }

    #[test]
    fn values_are_escaped_unless_triple_or_ampersand() {
        let view = json!({"x": "<b>&\"'/`=</b>", "n": 1.5, "t": true});
        assert_eq!(
            r("{{x}}", view.clone()),
            "&lt;b&gt;&amp;&quot;&#39;&#x2F;&#x60;&#x3D;&lt;&#x2F;b&gt;"
        );
        assert_eq!(r("{{{x}}}", view.clone()), "<b>&\"'/`=</b>");
        assert_eq!(r("{{& x}}", view.clone()), "<b>&\"'/`=</b>");
        assert_eq!(r("{{ n }}|{{t}}", view), "1.5|true");
    }

    #[test]
    fn missing_and_null_values_render_nothing() {
        assert_eq!(r("[{{a}}][{{b}}][{{c.d}}]", json!({"b": null})), "[][][]");
    }

    #[test]
    fn values_render_as_javascript_strings() {
        let view = json!({"a": [1, "x", null, [2, 3]], "o": {"k": 1}, "f": 0.1, "big": 1e21});
        assert_eq!(
            r("{{a}}|{{o}}|{{f}}|{{big}}", view),
            "1,x,,2,3|[object Object]|0.1|1e+21"
        );
        let Ok(ferrite_runtime::typed::TypedValue::Bin(hi)) =
            ferrite_runtime::typed::TypedValue::compile("bin", &json!("[104,105]"))
        else {
            panic!("a buffer")
        };
        let bytes = Value::Object([("b".to_owned(), Value::Bytes(hi))].into_iter().collect());
        let t = Template::parse("{{b}}:{{b.length}}:{{b.0}}").expect("valid");
        assert_eq!(t.render(&bytes), "hi:2:104");
    }

    #[test]
    fn dotted_names_walk_objects_arrays_and_strings() {
        let view = json!({"a": {"b": {"c": "deep"}}, "items": [{"n": "first"}], "s": "héllo"});
        assert_eq!(r("{{a.b.c}}", view.clone()), "deep");
        assert_eq!(r("{{items.0.n}}|{{items.length}}", view.clone()), "first|1");
        assert_eq!(r("{{s.length}}|{{s.1}}", view.clone()), "5|é");
        assert_eq!(r("{{a.x.c}}|{{items.01.n}}", view), "|");
    }

    #[test]
    fn sections_iterate_push_or_test() {
        let view = json!({
            "list": [{"n": 1}, {"n": 2}], "empty": [], "obj": {"n": "o"}, "yes": true,
            "no": false, "zero": 0, "str": "s", "n": "outer"
        });
        assert_eq!(r("{{#list}}<{{n}}>{{/list}}", view.clone()), "<1><2>");
        assert_eq!(
            r(
                "{{#empty}}x{{/empty}}{{^empty}}none{{/empty}}",
                view.clone()
            ),
            "none"
        );
        assert_eq!(r("{{#obj}}{{n}}{{/obj}}", view.clone()), "o");
        assert_eq!(r("{{#yes}}{{n}}{{/yes}}", view.clone()), "outer");
        assert_eq!(
            r(
                "{{#no}}x{{/no}}{{#zero}}x{{/zero}}{{#missing}}x{{/missing}}",
                view.clone()
            ),
            ""
        );
        assert_eq!(
            r(
                "{{^no}}a{{/no}}{{^zero}}b{{/zero}}{{^missing}}c{{/missing}}{{^yes}}d{{/yes}}",
                view.clone()
            ),
            "abc"
        );
        // A string section pushes the string: `.` is it, other names come from outside.
        assert_eq!(r("{{#str}}{{.}}{{n}}{{/str}}", view), "souter");
    }

    #[test]
    fn names_fall_back_to_enclosing_views() {
        let view = json!({"payload": {"A": "abc"}, "x": "top", "list": [{"x": "in"}, {}]});
        assert_eq!(
            r(
                "A{{#payload.A}}{{payload.A}}{{.}}{{/payload.A}}B",
                view.clone()
            ),
            "AabcabcB"
        );
        assert_eq!(r("{{#list}}{{x}},{{/list}}", view), "in,top,");
    }

    #[test]
    fn comments_partials_and_delimiters() {
        assert_eq!(r("a{{! note }}b{{> part}}c", json!({})), "abc");
        assert_eq!(
            r("{{=<% %>=}}<% x %>{{x}}<%={{ }}=%>{{x}}", json!({"x": 1})),
            "1{{x}}1"
        );
        assert_eq!(r("{{=| |=}}|#a||.||/a|", json!({"a": [1, 2]})), "12");
        assert_eq!(r("{{=<% %>=}}<%{x}%>", json!({"x": "<"})), "<");
    }

    #[test]
    fn standalone_lines_are_removed() {
        let view = json!({"a": [1, 2]});
        assert_eq!(
            r("start\n  {{#a}}\n  - {{.}}\n  {{/a}}\nend\n", view.clone()),
            "start\n  - 1\n  - 2\nend\n"
        );
        assert_eq!(r("x\n{{! comment }}\ny", view.clone()), "x\ny");
        assert_eq!(r("x\r\n  {{#a}}  \r\ny{{/a}}", view.clone()), "x\r\nyy");
        // A line with a value tag, or other text, stays as it is.
        assert_eq!(r(" {{#a}}{{.}}{{/a}} \n", view.clone()), " 12 \n");
        assert_eq!(r("a {{#a}}\n{{/a}}", view.clone()), "a \n\n");
        assert_eq!(r("  {{! c }}  ", view), "");
    }

    #[test]
    fn parse_errors_match_mustache_js() {
        assert_eq!(err("payload={{payload"), "Unclosed tag at 17");
        assert_eq!(err("é{{x"), "Unclosed tag at 4");
        assert_eq!(err("ab{{/a}}"), "Unopened section \"a\" at 2");
        assert_eq!(err("{{#a}}{{/b}}"), "Unclosed section \"a\" at 6");
        assert_eq!(err("{{#a}}xyz"), "Unclosed section \"a\" at 9");
        assert_eq!(err("{{=<%=}}"), "Invalid tags: <%");
        assert_eq!(err("{{{x}}"), "Unclosed tag at 6");
    }

    #[test]
    fn resolver_supplies_missing_names_and_rewrites_outer_strings() {
        struct R(Value);
        impl Resolver for R {
            fn missing(&self, name: &str) -> Option<Cow<'_, Value>> {
                (name == "flow.x").then(|| Cow::Borrowed(&self.0))
            }
            fn outer_string(&self, value: &str) -> Option<String> {
                Some(value.replace('\n', "\\n"))
            }
        }
        let t = Template::parse("{{flow.x}}|{{s}}|{{#o}}{{s}}{{/o}}|{{#flow.x}}{{.}}{{/flow.x}}")
            .expect("valid");
        let view = Value::from(json!({"s": "a\nb", "o": {"k": 1}}));
        assert_eq!(
            t.render_with(&view, &R(Value::from("ctx"))),
            "ctx|a\\nb|a\nb|ctx"
        );
        // The view wins over the resolver.
        let view = Value::from(json!({"flow": {"x": "msg"}}));
        assert_eq!(t.render_with(&view, &R(Value::from("ctx"))), "msg|||msg");
    }

    #[test]
    fn names_lists_every_tag() {
        let t = Template::parse("{{a}}{{#b}}{{c.d}}{{^e}}{{/e}}{{/b}}{{! x}}").expect("valid");
        assert_eq!(t.names(), ["a", "b", "c.d", "e"]);
        assert!(t.has_tags());
        assert!(!Template::parse("plain").expect("valid").has_tags());
        assert_eq!(Template::parse("").expect("valid").render(&Value::Null), "");
    }

    /// Outputs of mustache.js 4.2.0 (`mustache.render(template, view)` under Node.js) for
    /// templates exercising standalone lines, delimiters, lookups and sections.
    #[test]
    fn matches_mustache_js_outputs() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "start\n  {{#a}}\n  - {{.}}\n  {{/a}}\nend\n",
                r#"{"a":[1,2]}"#,
                "start\n  - 1\n  - 2\nend\n",
            ),
            ("x\n{{! comment }}\ny", r#"{}"#, "x\ny"),
            ("x\r\n  {{#a}}  \r\ny{{/a}}", r#"{"a":[1,2]}"#, "x\r\nyy"),
            (" {{#a}}{{.}}{{/a}} \n", r#"{"a":[1,2]}"#, " 12 \n"),
            ("a {{#a}}\n{{/a}}", r#"{"a":[1,2]}"#, "a \n\n"),
            ("  {{! c }}  ", r#"{}"#, ""),
            (
                "{{=<% %>=}}<% x %>{{x}}<%={{ }}=%>{{x}}",
                r#"{"x":1}"#,
                "1{{x}}1",
            ),
            ("{{=| |=}}|#a||.||/a|", r#"{"a":[1,2]}"#, "12"),
            ("{{=<% %>=}}<%{x}%>", r#"{"x":"<"}"#, "<"),
            ("{{s.length}}|{{s.1}}", r#"{"s":"héllo"}"#, "5|é"),
            (
                "{{a.x.c}}|{{items.01.n}}",
                r#"{"a":{"b":1},"items":[{"n":1}]}"#,
                "|",
            ),
            (
                "{{#str}}{{.}}{{n}}{{/str}}",
                r#"{"str":"s","n":"outer"}"#,
                "souter",
            ),
            (
                "{{#list}}{{x}},{{/list}}",
                r#"{"x":"top","list":[{"x":"in"},{}]}"#,
                "in,top,",
            ),
            (
                "{{a}}|{{o}}|{{f}}|{{big}}",
                r#"{"a":[1,"x",null,[2,3]],"o":{"k":1},"f":0.1,"big":1e+21}"#,
                "1,x,,2,3|[object Object]|0.1|1e+21",
            ),
            ("{{#n}}[{{.}}]{{/n}}", r#"{"n":5}"#, "[5]"),
            ("{{#n}}[{{length}}]{{/n}}", r#"{"n":"abc"}"#, "[]"),
            (
                "{{#a}}\n{{#b}}\n x\n{{/b}}\n{{/a}}\n",
                r#"{"a":true,"b":true}"#,
                " x\n",
            ),
            ("|{{# a }}x{{/ a }}|", r#"{"a":1}"#, "|x|"),
            ("{{ a.b }}", r#"{"a":{"b":"<"}}"#, "&lt;"),
            ("{{#a}}{{a.b}}{{/a}}", r#"{"a":{"b":"y"}}"#, "y"),
            (
                "{{#items}}{{length}}{{/items}}",
                r#"{"items":[[1,2],[3]]}"#,
                "21",
            ),
            ("{{{ x }}}", r#"{"x":"&"}"#, "&"),
            ("{{& x }}", r#"{"x":"&"}"#, "&"),
            ("\t{{#a}}\n\tx\n\t{{/a}}", r#"{"a":[1]}"#, "\tx\n"),
            ("{{>p}}\n", r#"{}"#, ""),
            ("  {{>p}}  \nz", r#"{}"#, "z"),
            ("{{=<% %>=}}\n<%a%>", r#"{"a":1}"#, "1"),
            ("{{#a}}{{/a}}{{^a}}{{/a}}", r#"{}"#, ""),
            (
                "{{#a.b}}{{c}}{{/a.b}}",
                r#"{"a":{"b":{"c":"d"}},"c":"no"}"#,
                "d",
            ),
            ("{{x.0}}", r#"{"x":[true]}"#, "true"),
            ("{{#a}}{{.}}{{/a}}", r#"{"a":{}}"#, "[object Object]"),
            (
                "{{#a}}{{#.}}{{.}}{{/.}}{{/a}}",
                r#"{"a":[[1,2],[3]]}"#,
                "123",
            ),
            ("{{^a}}empty{{/a}}", r#"{"a":""}"#, "empty"),
            ("{{a.length}}", r#"{"a":[1,2,3]}"#, "3"),
            ("{{#a}}x{{/a}}", r#"{"a":""}"#, ""),
            ("{{#a}}x{{/a}}", r#"{"a":0}"#, ""),
            ("é{{#a}}\n{{/a}}ü", r#"{"a":true}"#, "é\nü"),
            ("{{^a}}\n  x\n{{/a}}\n", r#"{}"#, "  x\n"),
            ("{{ . }}", r#"[1,2]"#, "1,2"),
            ("  {{#a}}{{/a}}  \nz", r#"{"a":1}"#, "z"),
            ("{{#a}}{{b}}{{/a}}", r#"{"a":[{"b":null}],"b":"outer"}"#, ""),
            (
                "{{#a}}{{b.c}}{{/a}}",
                r#"{"a":[{"b":{}}],"b":{"c":"outer"}}"#,
                "outer",
            ),
            (
                "{{#a}}{{b.c}}{{/a}}",
                r#"{"a":[{"b":null}],"b":{"c":"outer"}}"#,
                "outer",
            ),
            ("{{a.b.length}}", r#"{"a":{"b":"xyz"}}"#, "3"),
            ("{{a.length.x}}", r#"{"a":"xyz"}"#, ""),
            (
                "{{#a}}{{#b}}{{c}}{{/b}}{{/a}}",
                r#"{"a":{"c":"ac"},"b":[1],"c":"top"}"#,
                "ac",
            ),
            ("{{x}}", r#"{"x":0}"#, "0"),
            ("{{x}}", r#"{"x":1e-7}"#, "1e-7"),
            ("{{x}}", r#"{"x":"a=b"}"#, "a&#x3D;b"),
            (
                "line1\r\n{{#a}}\r\nline2\r\n{{/a}}\r\n",
                r#"{"a":true}"#,
                "line1\r\nline2\r\n",
            ),
        ];
        for (template, view, expected) in cases {
            let view: serde_json::Value = serde_json::from_str(view).expect("view JSON");
            assert_eq!(&r(template, view), expected, "{template:?}");
        }
    }

    /// mustache.js 4.2.0's parse errors for the same templates.
    #[test]
    fn matches_mustache_js_errors() {
        let cases: &[(&str, &str)] = &[
            ("payload={{payload", "Unclosed tag at 17"),
            ("é{{x", "Unclosed tag at 4"),
            ("ab{{/a}}", "Unopened section \"a\" at 2"),
            ("{{#a}}{{/b}}", "Unclosed section \"a\" at 6"),
            ("{{#a}}xyz", "Unclosed section \"a\" at 9"),
            ("{{=<%=}}", "Invalid tags: <%"),
            ("{{{x}}", "Unclosed tag at 6"),
            ("{{= a =}}{{x}}", "Invalid tags: a"),
            ("{{x", "Unclosed tag at 3"),
            ("{{#a}}\n{{/a}}{{/b}}", "Unopened section \"b\" at 13"),
        ];
        for (template, expected) in cases {
            assert_eq!(&err(template), expected, "{template:?}");
        }
    }
}
