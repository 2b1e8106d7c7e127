//! RFC 4180 mode (`spec: "rfc"`): Node-RED's `parsers/lib/csv` parser and quoting, and the
//! node's RFC-mode input handling.
//!
//! Like Node-RED's parser it accepts any one-character separator, `\r`, `\n` and `\r\n` line
//! ends, and in relaxed (data) mode keeps stray quotes instead of failing; the column
//! template and a header row are parsed strictly.

use std::borrow::Cow;

use ferrite_runtime::{Map, Msg, NodeCtx, NodeError, Status, Value};

use super::{
    BAD_TEMPLATE, Csv, HeaderOut, NO_TEMPLATE_WARNING, NOT_CSV, Parts, PayloadKind, RowsOut,
    ensure_string, for_in_keys, is_object, js_trim, object_keys, property, type_error,
};

/// A parsed cell: `None` when it held no character at all (JavaScript `null`), else its text
/// (possibly empty, from `""`).
pub type Cell = Option<String>;

/// Why strict parsing failed; the texts are Node-RED's.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError(pub &'static str);

/// Rows of cells, and where parsing stopped (after the first line for a header).
pub struct Rows {
    pub rows: Vec<Vec<Cell>>,
    pub cursor: usize,
}

/// `csv.parse` down to rows of cells. `cursor` is a byte offset into `text`; a separator
/// of more than one character never matches, as in Node-RED.
pub fn parse_rows(
    text: &str,
    cursor: usize,
    sep: Option<char>,
    strict: bool,
    first_line_only: bool,
) -> Result<Rows, ParseError> {
    const QUOTE: char = '"';
    let bytes = text.as_bytes();
    let char_at = |i: usize| text.get(i..).and_then(|rest| rest.chars().next());
    let mut cursor = cursor.min(bytes.len());
    let mut cell = String::new();
    let mut row: Vec<Cell> = Vec::new();
    let mut rows = Vec::new();
    let (mut new_cell, mut in_quote, mut closed) = (true, false, false);

    // A cell with no characters is null; one that had quotes but nothing in them is "".
    let finish_cell = |cell: &mut String, row: &mut Vec<Cell>, new_cell: bool| {
        if cell.is_empty() {
            row.push((!new_cell).then(String::new));
        } else {
            row.push(Some(std::mem::take(cell)));
        }
    };

    while let Some(c) = char_at(cursor) {
        let width = c.len_utf8();
        if in_quote {
            if c == QUOTE && bytes.get(cursor + 1) == Some(&b'"') {
                cell.push(QUOTE);
                cursor += 2;
                closed = false;
            } else if c == QUOTE {
                in_quote = false;
                cursor += 1;
                closed = true;
            } else {
                cell.push(c);
                cursor += width;
                closed = false;
            }
            new_cell = false;
        } else if Some(c) == sep {
            finish_cell(&mut cell, &mut row, new_cell);
            cursor += width;
            new_cell = true;
            closed = false;
        } else if c == QUOTE {
            if new_cell {
                in_quote = true;
                cursor += 1;
                new_cell = false;
                closed = false;
            } else if strict {
                return Err(ParseError("Quote found in the middle of an unquoted field"));
            } else {
                // Relaxed: keep the quote unless a cell or record ends here; `""` counts once.
                cursor += 1;
                if let Some(next) = char_at(cursor)
                    && next != '\n'
                    && next != '\r'
                    && Some(next) != sep
                {
                    cell.push(QUOTE);
                    if next == QUOTE {
                        cursor += 1;
                    }
                }
            }
        } else if c == '\n' || c == '\r' {
            if !cell.is_empty() {
                finish_cell(&mut cell, &mut row, new_cell);
            }
            if !row.is_empty() {
                rows.push(std::mem::take(&mut row));
            }
            // Node-RED's parser skips one following '\n' (also after a '\n').
            cursor += if bytes.get(cursor + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            new_cell = true;
            closed = false;
            if first_line_only {
                break;
            }
        } else if closed {
            if strict {
                return Err(ParseError("Data found after closing quote"));
            }
            // Relaxed: go back to the closing quote and read it as a stray quote.
            cursor -= 1;
            closed = false;
        } else {
            cell.push(c);
            new_cell = false;
            cursor += width;
        }
    }
    if strict && in_quote {
        return Err(ParseError("Missing quote, unclosed cell"));
    }
    if !cell.is_empty() {
        finish_cell(&mut cell, &mut row, new_cell);
    }
    if !row.is_empty() {
        rows.push(row);
    }
    Ok(Rows { rows, cursor })
}

/// `csv.quoteCell`: quoted when it holds any of `quotables`, inner quotes doubled.
pub fn quote_cell(cell: &str, quotables: &[&str]) -> String {
    let needs_quotes = quotables.iter().any(|q| !q.is_empty() && cell.contains(q));
    let doubled = if cell.contains('"') {
        Cow::Owned(cell.replace('"', "\"\""))
    } else {
        Cow::Borrowed(cell)
    };
    if needs_quotes {
        format!("\"{doubled}\"")
    } else {
        doubled.into_owned()
    }
}

/// `columnStringToTemplateArray`: a column list parsed strictly; `None` unless it is
/// exactly one row.
pub fn columns_to_template(text: &str, sep: Option<char>) -> Result<Option<Vec<Cell>>, ParseError> {
    let mut parsed = parse_rows(text, 0, sep, true, false)?;
    Ok(if parsed.rows.len() == 1 {
        parsed.rows.pop()
    } else {
        None
    })
}

/// The "no template" value Node-RED uses: `['']`.
pub fn no_template() -> Vec<Cell> {
    vec![Some(String::new())]
}

/// `hasTemplate`: some column, and not just `''`.
pub fn has_template(template: &[Cell]) -> bool {
    match template {
        [] => false,
        [only] => only.as_deref() != Some(""),
        _ => true,
    }
}

/// `msg.columns` text: the named columns, quoted as needed, joined with commas.
pub fn columns_text(template: &[Cell]) -> String {
    let mut out = String::new();
    for name in template.iter().flatten().filter(|n| !n.is_empty()) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&quote_cell(name, &["\"", ",", "\r", "\n"]));
    }
    out
}

/// JavaScript `+v` as the parser applies it: not to text starting (after spaces) with `+`,
/// `0<digit>` or `-0<digit>`, and only when the result is a number.
fn numeric(text: &str) -> Option<Value> {
    let t = text.trim_start_matches(' ').as_bytes();
    let leading_zero = |b: &[u8]| b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit();
    if t.first() == Some(&b'+')
        || leading_zero(t)
        || (t.first() == Some(&b'-') && leading_zero(&t[1..]))
    {
        return None;
    }
    // Plain integers are by far the most common numbers in CSV: read them without the
    // general conversion (which needs an owned string). "-0" is JavaScript's negative zero.
    let plain = js_trim(text);
    let digits = plain.strip_prefix('-').unwrap_or(plain);
    if !digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && plain != "-0"
        && let Ok(i) = plain.parse::<i64>()
    {
        return Some(Value::Int(i));
    }
    let n = Value::String(text.to_owned()).to_number();
    (!n.is_nan()).then(|| Value::js_number(n))
}

impl Csv {
    /// Column names: the template, or `col1..colN` after the first row's length.
    fn headers_for(&self, template: &[Cell], rows: &[Vec<Cell>]) -> Vec<Cell> {
        if has_template(template) {
            template.to_vec()
        } else {
            let width = rows.first().map_or(0, Vec::len);
            (1..=width).map(|i| Some(format!("col{i}"))).collect()
        }
    }

    /// Rows to objects, leaving out unnamed columns, nulls and empty strings unless asked.
    fn objects(&self, headers: &[Cell], rows: Vec<Vec<Cell>>) -> Vec<Value> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut object = Map::new();
            let mut cells = row.into_iter();
            for header in headers {
                let cell = cells.next().flatten();
                let Some(name) = header.as_deref().filter(|n| !n.is_empty()) else {
                    continue;
                };
                let value = match cell {
                    None if !self.settings.include_null => continue,
                    None => Value::Null,
                    Some(text) if text.is_empty() => {
                        if !self.settings.include_empty {
                            continue;
                        }
                        Value::String(text)
                    }
                    Some(text) => match self.settings.parse_numbers.then(|| numeric(&text)) {
                        Some(Some(number)) => number,
                        _ => Value::String(text),
                    },
                };
                object.insert(name.to_owned(), value);
            }
            if !object.is_empty() {
                out.push(Value::Object(object));
            }
        }
        out
    }

    fn quote(&self, cell: &str) -> String {
        quote_cell(cell, &[&self.settings.sep, "\"", "\n", "\r"])
    }

    pub(super) async fn rfc_input(
        &mut self,
        mut msg: Msg,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        if self.rfc.status_shown {
            self.rfc.status_shown = false;
            cx.status(Status::clear()).await;
        }
        if msg.get("reset").is_some() {
            self.hdr_sent = false;
        }
        let result = match PayloadKind::of(&msg) {
            PayloadKind::Missing => {
                if msg.get("reset").is_none() {
                    cx.send(msg).await;
                }
                return Ok(());
            }
            PayloadKind::Text => self.rfc_from_csv(&mut msg, cx).await,
            PayloadKind::Object => self.rfc_to_csv(&msg, cx),
            PayloadKind::Other => {
                self.rfc.status_shown = true;
                cx.status(Status::dot("red", NOT_CSV)).await;
                Err(NOT_CSV.to_owned())
            }
        };
        match result {
            Ok(Some(csv)) => {
                let empty = matches!(&csv.0, Value::String(text) if text.is_empty());
                msg.insert("payload", csv.0);
                msg.insert("columns", csv.1);
                if empty {
                    // Node-RED sends no empty text; the message is still done.
                    cx.defer_done();
                    cx.done(&msg).await;
                } else {
                    cx.send(msg).await;
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(NodeError::new(e).for_msg(msg)),
        }
    }

    /// Objects or arrays to CSV text; returns the new payload and `msg.columns`.
    fn rfc_to_csv(&mut self, msg: &Msg, cx: &NodeCtx) -> Result<Option<(Value, Value)>, String> {
        let payload = msg.payload().unwrap_or(&Value::Null);
        // An object, or an array of plain values, is one row.
        let rows: &[Value] = match payload {
            Value::Array(items) if items.first().is_none_or(is_object) => items,
            other => std::slice::from_ref(other),
        };
        let arrays = rows.first().is_some_and(|r| matches!(r, Value::Array(_)));
        let parts = Parts::read(msg)?;
        if !(self.rfc.no_template && parts.index > 0.0) {
            self.rfc.template = self.rfc.configured.clone().unwrap_or_else(no_template);
        }
        let columns_given = msg.get("columns");
        let given_template = |columns: &Value| -> Result<Vec<Cell>, String> {
            let text = if columns.is_truthy() {
                columns.to_js_string()
            } else {
                String::new()
            };
            columns_to_template(&text, Some(','))
                .map(|t| t.unwrap_or_else(no_template))
                .map_err(|e| e.0.to_owned())
        };

        let mut lines: Vec<String> = Vec::with_capacity(rows.len() + 1);
        let send_headers = matches!(self.settings.hdrout, HeaderOut::All | HeaderOut::Once);
        if send_headers && !self.hdr_sent {
            if !has_template(&self.rfc.template) {
                self.rfc.template = match columns_given {
                    Some(columns) => given_template(columns)?,
                    None => object_keys(rows.first())?.into_iter().map(Some).collect(),
                };
            }
            let header: Vec<String> = self
                .rfc
                .template
                .iter()
                .map(|name| self.quote(name.as_deref().unwrap_or("")))
                .collect();
            lines.push(header.join(&self.settings.sep));
            if self.settings.hdrout == HeaderOut::Once {
                self.hdr_sent = true;
            }
        }

        for row in rows {
            if arrays {
                lines.push(self.rfc_array_row(row)?);
                continue;
            }
            if !has_template(&self.rfc.template)
                && let Some(columns) = columns_given
            {
                self.rfc.template = given_template(columns)?;
            }
            if has_template(&self.rfc.template) {
                let mut cells = Vec::with_capacity(self.rfc.template.len());
                for name in &self.rfc.template {
                    match name.as_deref().filter(|n| !n.is_empty()) {
                        None => cells.push(String::new()),
                        Some(name) => {
                            let text = property(row, name)?
                                .map_or_else(String::new, |v| ensure_string(&v));
                            cells.push(self.quote(&text));
                        }
                    }
                }
                lines.push(cells.join(&self.settings.sep));
            } else {
                if self.warn_once {
                    self.warn_once = false;
                    cx.warn(NO_TEMPLATE_WARNING);
                }
                self.rfc.template = object_keys(Some(row))?.into_iter().map(Some).collect();
                let mut cells = Vec::new();
                for key in for_in_keys(rows.first()) {
                    let Some(cell) = property(row, &key)? else {
                        continue;
                    };
                    if !is_object(&cell) {
                        cells.push(self.quote(&cell.to_js_string()));
                    }
                }
                lines.push(cells.join(&self.settings.sep));
            }
        }
        let mut text = lines.join(&self.settings.ret);
        text.push_str(&self.settings.ret);
        Ok(Some((
            Value::String(text),
            Value::String(columns_text(&self.rfc.template)),
        )))
    }

    /// One row given as an array: as many cells as the template has columns (unnamed
    /// columns empty, trailing ones dropped), else all of them.
    fn rfc_array_row(&self, row: &Value) -> Result<String, String> {
        let template = &self.rfc.template;
        let templated = has_template(template);
        let len = if templated {
            template.len()
        } else {
            js_length(row)?
        };
        let named = |t: usize| {
            template
                .get(t)
                .and_then(Option::as_deref)
                .is_some_and(|n| !n.is_empty())
        };
        let mut cells: Vec<Option<String>> = Vec::with_capacity(len);
        for t in 0..len {
            if templated && !named(t) {
                cells.push(None);
                continue;
            }
            let cell = match row {
                Value::Array(items) => items.get(t).map(Cow::Borrowed),
                other => property(other, &t.to_string())?,
            };
            let text = cell.map_or_else(String::new, |v| ensure_string(&v));
            cells.push(Some(self.quote(&text)));
        }
        // A JavaScript array ends at its last assigned element.
        while cells.last().is_some_and(Option::is_none) {
            cells.pop();
        }
        let cells: Vec<String> = cells.into_iter().map(Option::unwrap_or_default).collect();
        Ok(cells.join(&self.settings.sep))
    }

    /// CSV text to objects, sent as configured. `Ok(None)`: sending is done.
    async fn rfc_from_csv(
        &mut self,
        msg: &mut Msg,
        cx: &mut NodeCtx,
    ) -> Result<Option<(Value, Value)>, String> {
        let parts = Parts::read(msg)?;
        let skip = self.settings.skip;
        let mut first_line = !(parts.present && parts.index > skip);
        let mut line_count = if parts.present { parts.index } else { 0.0 };
        let text = msg.payload().and_then(Value::as_str).unwrap_or_default();
        let mut cursor = 0;
        if skip > 0.0 && line_count < skip {
            for c in text.chars() {
                if !(first_line && line_count < skip) {
                    break;
                }
                if c == '\r' || c == '\n' {
                    line_count += 1.0;
                }
                cursor += c.len_utf8();
            }
            if cursor >= text.len() {
                // All skipped: Node-RED returns without a word and never calls done().
                cx.defer_done();
                return Ok(None);
            }
        }
        let line_breaks = text[cursor..]
            .bytes()
            .filter(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if parts.present && self.settings.multi_mult && line_breaks > 1 {
            first_line = true;
        }
        if first_line && self.settings.hdrin {
            match parse_rows(text, cursor, self.settings.sep_char, true, true) {
                Ok(mut header) => {
                    self.rfc.template = if header.rows.is_empty() {
                        Vec::new()
                    } else {
                        header.rows.swap_remove(0)
                    };
                    cursor = header.cursor;
                }
                Err(e) => {
                    self.rfc.status_shown = true;
                    cx.status(Status::dot("red", BAD_TEMPLATE)).await;
                    return Err(e.0.to_owned());
                }
            }
        }
        let rows = parse_rows(text, cursor, self.settings.sep_char, false, false)
            .map_err(|e| e.0.to_owned())?
            .rows;
        let headers = self.headers_for(&self.rfc.template, &rows);
        let data = self.objects(&headers, rows);
        let columns = columns_text(&headers);
        let out = RowsOut {
            rows: data,
            columns,
            store_last_only: None,
            line_breaks,
        };
        self.emit_rows(std::mem::take(msg), out, &parts, cx).await;
        Ok(None)
    }
}

/// `row.length` as a loop bound.
fn js_length(row: &Value) -> Result<usize, String> {
    match row {
        Value::Array(items) => Ok(items.len()),
        Value::String(s) => Ok(s.encode_utf16().count()),
        Value::Bytes(b) => Ok(b.len()),
        Value::Null => Err(type_error("length")),
        _ => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, strict: bool) -> Result<Vec<Vec<Cell>>, ParseError> {
        parse_rows(text, 0, Some(','), strict, false).map(|r| r.rows)
    }

    fn cells(items: &[Option<&str>]) -> Vec<Cell> {
        items.iter().map(|c| c.map(str::to_owned)).collect()
    }

    #[test]
    fn parses_like_node_red() {
        assert_eq!(
            rows("a,,\"\",\"b\"\"c\"\r\n\n1,\"x\ny\"", false).expect("parses"),
            vec![
                cells(&[Some("a"), None, Some(""), Some("b\"c")]),
                cells(&[Some("1"), Some("x\ny")])
            ]
        );
        // A trailing empty cell is dropped, a lone separator gives one null.
        assert_eq!(
            rows("1,2,\n,", false).expect("parses"),
            vec![cells(&[Some("1"), Some("2")]), cells(&[None])]
        );
        // Relaxed quotes.
        assert_eq!(
            rows("\"with,a\"n,odd\",\"num\"ber\"", false).expect("parses"),
            vec![cells(&[Some("with,a\"n"), Some("odd"), Some("num\"ber")])]
        );
        assert_eq!(
            rows("a\"b", true),
            Err(ParseError("Quote found in the middle of an unquoted field"))
        );
        assert_eq!(
            rows("\"a\"b", true),
            Err(ParseError("Data found after closing quote"))
        );
        assert_eq!(
            rows("\"a", true),
            Err(ParseError("Missing quote, unclosed cell"))
        );
    }

    #[test]
    fn header_rows_stop_after_the_first_line() {
        let parsed = parse_rows("a;b\r\n1;2", 0, Some(';'), true, true).expect("parses");
        assert_eq!(parsed.rows, vec![cells(&[Some("a"), Some("b")])]);
        assert_eq!(parsed.cursor, 5);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_cell("a\"b", &[",", "\""]), "\"a\"\"b\"");
        assert_eq!(quote_cell("a b", &[","]), "a b");
        assert_eq!(quote_cell("a\"b", &[","]), "a\"\"b");
        assert_eq!(
            columns_text(&cells(&[Some("a"), None, Some("b,c"), Some("")])),
            "a,\"b,c\""
        );
    }

    #[test]
    fn numbers_as_javascript_reads_them() {
        assert_eq!(numeric(" 1.5 "), Some(Value::Float(1.5)));
        assert_eq!(numeric("0x1F"), Some(Value::Int(31)));
        assert_eq!(numeric("1e3"), Some(Value::Int(1000)));
        assert_eq!(numeric("0"), Some(Value::Int(0)));
        assert_eq!(numeric(" -42\t"), Some(Value::Int(-42)));
        assert!(matches!(numeric("-0"), Some(Value::Float(f)) if f.is_sign_negative()));
        assert_eq!(numeric("Infinity"), Some(Value::Float(f64::INFINITY)));
        for text in ["+1", "01", "-05", "abc", "127.0.0.1"] {
            assert_eq!(numeric(text), None, "{text}");
        }
    }
}
