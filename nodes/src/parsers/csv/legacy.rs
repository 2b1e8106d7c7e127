//! Legacy mode (no `spec`, Node-RED's default): the character-by-character parser and the
//! writer of Node-RED's original CSV node, quirks included, since existing flows rely on
//! them: the template is trimmed and unquoted, numbers are recognised by a pattern and read
//! with `parseFloat`, unbalanced quotes only warn, and a primitive in an array makes the
//! whole array one row.

use ferrite_runtime::{Map, Msg, NodeCtx, NodeError, Value};

use super::{
    BAD_CSV, Csv, HeaderOut, NO_TEMPLATE_WARNING, NOT_CSV, Parts, PayloadKind, RowsOut,
    ensure_string, for_in_keys, is_object, js_trim, object_keys, property, type_error,
};

/// The template Node-RED treats as "none": `[""]`.
fn is_blank(template: &[String]) -> bool {
    template.len() == 1 && template[0].is_empty()
}

/// Splits `text` at `sep` where an even number of `"` follows (that is, outside quotes), as
/// the node's regular expression `sep(?=(?:(?:[^"]*"){2})*[^"]*$)` does.
fn split_outside_quotes<'t>(text: &'t str, sep: &str) -> Vec<&'t str> {
    if sep.is_empty() {
        return vec![text];
    }
    let mut quotes_after = text.bytes().filter(|&b| b == b'"').count();
    let mut pieces = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < text.len() {
        if text[i..].starts_with(sep) {
            let after = quotes_after
                - text[i..i + sep.len()]
                    .bytes()
                    .filter(|&b| b == b'"')
                    .count();
            if after % 2 == 0 {
                pieces.push(&text[start..i]);
                quotes_after = after;
                i += sep.len();
                start = i;
                continue;
            }
        }
        if text.as_bytes()[i] == b'"' {
            quotes_after -= 1;
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    pieces.push(&text[start..]);
    pieces
}

/// The legacy number pattern `^[-]?(?!E)(?!0\d)\d*\.?\d*(E-?\+?)?\d+$` (case-insensitive).
fn looks_numeric(text: &str) -> bool {
    let b = text.as_bytes();
    let rest = b.strip_prefix(b"-").unwrap_or(b);
    if matches!(rest.first(), Some(b'e' | b'E'))
        || (rest.len() >= 2 && rest[0] == b'0' && rest[1].is_ascii_digit())
    {
        return false;
    }
    let digits_dot_digits = |part: &[u8]| {
        part.iter().all(|c| c.is_ascii_digit() || *c == b'.')
            && part.iter().filter(|&&c| c == b'.').count() <= 1
    };
    match rest.iter().position(|c| matches!(c, b'e' | b'E')) {
        Some(at) => {
            let exponent = &rest[at + 1..];
            let exponent = exponent.strip_prefix(b"-").unwrap_or(exponent);
            let exponent = exponent.strip_prefix(b"+").unwrap_or(exponent);
            digits_dot_digits(&rest[..at])
                && !exponent.is_empty()
                && exponent.iter().all(u8::is_ascii_digit)
        }
        // Without an exponent the text must end in a digit.
        None => digits_dot_digits(rest) && rest.last().is_some_and(u8::is_ascii_digit),
    }
}

/// Quotes a value for legacy output: inner quotes doubled, or quoted when it holds the
/// separator or (`newline_too`) a line feed.
fn quote(text: String, sep: &str, newline_too: bool) -> String {
    if text.contains('"') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else if (!sep.is_empty() && text.contains(sep)) || (newline_too && text.contains('\n')) {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// What the parser made of one message.
struct Parsed {
    rows: Vec<Value>,
    /// The last row was still open when the text ended (no final line break).
    last_open: bool,
}

impl Csv {
    /// Node-RED's `clean`: trims the column list, splits it at the separator outside
    /// quotes, drops quotes and trims each name. Giving `sep` also makes it the separator
    /// for later calls without one (the node's shared regular expression).
    pub(super) fn clean(&mut self, columns: &str, sep: Option<&str>) -> Vec<String> {
        if let Some(sep) = sep {
            sep.clone_into(&mut self.legacy.split_sep);
        }
        let names: Vec<String> = split_outside_quotes(js_trim(columns), &self.legacy.split_sep)
            .into_iter()
            .map(|name| js_trim(&name.replace('"', "")).to_owned())
            .collect();
        self.legacy.good_template = !is_blank(&names);
        names
    }

    pub(super) async fn legacy_input(
        &mut self,
        mut msg: Msg,
        cx: &mut NodeCtx,
    ) -> Result<(), NodeError> {
        if msg.get("reset").is_some() {
            self.hdr_sent = false;
        }
        match PayloadKind::of(&msg) {
            PayloadKind::Missing => {
                if msg.get("reset").is_none() {
                    cx.send(msg).await;
                }
            }
            PayloadKind::Object => match self.legacy_to_csv(&msg, cx) {
                Ok((payload, columns)) => {
                    msg.insert("payload", payload);
                    msg.insert("columns", columns);
                    cx.send(msg).await;
                }
                Err(e) => return Err(NodeError::new(e).for_msg(msg)),
            },
            PayloadKind::Text => {
                let parts = match Parts::read(&msg) {
                    Ok(parts) => parts,
                    Err(e) => return Err(NodeError::new(e).for_msg(msg)),
                };
                let text = msg.payload().and_then(Value::as_str).unwrap_or_default();
                let line_breaks = text.bytes().filter(|b| matches!(b, b'\r' | b'\n')).count();
                let parsed = self.legacy_parse(text, &parts, line_breaks, cx);
                let columns = self.legacy_columns();
                let out = RowsOut {
                    rows: parsed.rows,
                    columns,
                    store_last_only: Some(parsed.last_open),
                    line_breaks,
                };
                self.emit_rows(msg, out, &parts, cx).await;
            }
            PayloadKind::Other => cx.warn(NOT_CSV),
        }
        Ok(())
    }

    /// `msg.columns` after parsing: the named columns, quoted when they hold a comma.
    fn legacy_columns(&self) -> String {
        let names: Vec<String> = self
            .legacy
            .template
            .iter()
            .filter(|name| !name.is_empty())
            .map(|name| {
                if name.contains(',') {
                    format!("\"{name}\"")
                } else {
                    name.clone()
                }
            })
            .collect();
        names.join(",")
    }

    /// Names column `j` `colN` when there is no usable template.
    fn name_column(&mut self, j: usize) {
        if self.legacy.good_template {
            return;
        }
        let name = format!("col{}", j + 1);
        match self.legacy.template.get_mut(j) {
            Some(slot) => *slot = name,
            None => self.legacy.template.push(name),
        }
    }

    /// Puts cell `j` into `row` under its column name, if it has one.
    fn store_cell(&self, row: &mut Map, j: usize, cell: Option<String>) {
        let Some(name) = self.legacy.template.get(j).filter(|n| !n.is_empty()) else {
            return;
        };
        let value = match cell {
            None if self.settings.include_null => Value::Null,
            None => return,
            Some(text) => {
                let trimmed = js_trim(&text);
                if self.settings.parse_numbers && looks_numeric(trimmed) {
                    Value::js_number(ferrite_runtime::value::js_parse_float(trimmed))
                } else if text.is_empty() {
                    if !self.settings.include_empty {
                        return;
                    }
                    Value::String(text)
                } else {
                    Value::String(text)
                }
            }
        };
        row.insert(name.clone(), value);
    }

    fn legacy_parse(
        &mut self,
        text: &str,
        parts: &Parts,
        line_breaks: usize,
        cx: &NodeCtx,
    ) -> Parsed {
        let sep = self.settings.sep_char;
        let skip = self.settings.skip;
        let mut first = !(parts.present && parts.index > skip);
        let mut line_count = if parts.present { parts.index } else { 0.0 };
        if parts.present && self.settings.multi_mult && line_breaks > 1 {
            first = true;
        }
        let mut header = String::new();
        let mut outside_quotes = true;
        let mut j = 0;
        let mut cells: Vec<Option<String>> = vec![Some(String::new())];
        let mut row = Map::new();
        let mut rows = Vec::new();
        let mut prev: Option<char> = None;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let is_last = chars.peek().is_none();
            if first && line_count < skip {
                if c == '\n' {
                    line_count += 1.0;
                }
            } else if self.settings.hdrin && first {
                if c == '\n' || c == '\r' || is_last {
                    if is_last {
                        header.push(c);
                    }
                    let sep = self.settings.sep.clone();
                    self.legacy.template = self.clean(&header, Some(&sep));
                    first = false;
                } else {
                    header.push(c);
                }
            } else if c == '"' {
                outside_quotes = !outside_quotes;
                // A doubled quote inside quotes is a quote.
                if prev == Some('"')
                    && !outside_quotes
                    && let Some(Some(cell)) = cells.get_mut(j)
                {
                    cell.push('"');
                }
            } else if Some(c) == sep && outside_quotes {
                self.name_column(j);
                // Nothing since the previous separator or line start is a missing value.
                // (Node-RED throws a TypeError when the text starts with a separator; this
                // follows its stated intent instead.)
                let missing = prev.is_none() || prev == sep || prev == Some('\n');
                let cell = if missing { None } else { cells[j].take() };
                self.store_cell(&mut row, j, cell);
                j += 1;
                // A separator ending the text leaves a missing last value.
                cells.push((!is_last).then(String::new));
            } else if (c == '\n' || c == '\r') && outside_quotes {
                self.name_column(j);
                let cell = if prev.is_some() && prev == sep {
                    None
                } else {
                    cells[j].take()
                };
                self.store_cell(&mut row, j, cell);
                if !row.is_empty() {
                    rows.push(Value::Object(std::mem::take(&mut row)));
                }
                j = 0;
                cells.clear();
                cells.push(Some(String::new()));
                outside_quotes = true;
            } else {
                match &mut cells[j] {
                    Some(cell) => cell.push(c),
                    // JavaScript's `null + c`.
                    slot @ None => *slot = Some(format!("null{c}")),
                }
            }
            prev = Some(c);
        }
        if !outside_quotes {
            cx.warn(BAD_CSV);
        }
        self.name_column(j);
        let cell = cells[j].take();
        self.store_cell(&mut row, j, cell);
        let last_open = !row.is_empty();
        if last_open {
            rows.push(Value::Object(row));
        }
        Parsed { rows, last_open }
    }

    /// Objects or arrays to CSV text; returns the new payload and `msg.columns`.
    fn legacy_to_csv(&mut self, msg: &Msg, cx: &NodeCtx) -> Result<(Value, Value), String> {
        let parts = Parts::read(msg)?;
        if !(self.legacy.no_template && parts.index > 0.0) {
            let template = self.settings.template_text.clone();
            self.legacy.template = self.clean(&template, None);
        }
        let payload = msg.payload().unwrap_or(&Value::Null);
        let rows: &[Value] = match payload {
            Value::Array(items) => items,
            other => std::slice::from_ref(other),
        };
        let columns_given = msg.get("columns").map(|c| {
            if c.is_truthy() {
                c.to_js_string()
            } else {
                String::new()
            }
        });
        let sep = self.settings.sep.clone();
        let mut lines = Vec::with_capacity(rows.len() + 1);

        if self.settings.hdrout != HeaderOut::None && !self.hdr_sent {
            if is_blank(&self.legacy.template) {
                self.legacy.template = match &columns_given {
                    Some(columns) => self.clean(columns, Some(",")),
                    None => object_keys(rows.first())?,
                };
            }
            let header: Vec<String> = self
                .legacy
                .template
                .iter()
                .map(|name| {
                    if !sep.is_empty() && name.contains(&sep) {
                        format!("\"{name}\"")
                    } else {
                        name.clone()
                    }
                })
                .collect();
            lines.push(header.join(&sep));
            if self.settings.hdrout == HeaderOut::Once {
                self.hdr_sent = true;
            }
        }

        for (s, row) in rows.iter().enumerate() {
            if !is_object(row) || matches!(row, Value::Array(_)) {
                let cells: &[Value] = match row {
                    Value::Array(cells) => cells,
                    // A plain value makes Node-RED wrap the whole payload: it is one row.
                    _ if s == 0 => rows,
                    _ => {
                        return Err(
                            "Cannot read properties of undefined (reading 'length')".to_owned()
                        );
                    }
                };
                let mut out = Vec::with_capacity(cells.len());
                for cell in cells {
                    if cell.is_null() {
                        return Err(type_error("toString"));
                    }
                    out.push(quote(cell.to_js_string(), &sep, true));
                }
                lines.push(out.join(&sep));
                if !matches!(row, Value::Array(_)) {
                    break;
                }
                continue;
            }
            if is_blank(&self.legacy.template)
                && let Some(columns) = &columns_given
            {
                self.legacy.template = self.clean(columns, Some(","));
            }
            let mut out = Vec::new();
            if is_blank(&self.legacy.template) {
                if self.warn_once {
                    self.warn_once = false;
                    cx.warn(NO_TEMPLATE_WARNING);
                }
                for key in for_in_keys(rows.first()) {
                    let Some(cell) = property(row, &key)? else {
                        continue;
                    };
                    if !is_object(&cell) {
                        let text = cell.to_js_string();
                        // Node-RED looks for a line feed in the key here, not the value.
                        out.push(quote(text, &sep, key.contains('\n')));
                    }
                }
            } else {
                for name in &self.legacy.template {
                    if name.is_empty() {
                        out.push(String::new());
                        continue;
                    }
                    let text = property(row, name)?.map_or_else(String::new, |v| ensure_string(&v));
                    out.push(quote(text, &sep, true));
                }
            }
            lines.push(out.join(&sep));
        }

        let mut text = lines.join(&self.settings.ret);
        text.push_str(&self.settings.ret);
        let columns: Vec<String> = self
            .legacy
            .template
            .iter()
            .map(|name| {
                if name.contains(',') {
                    format!("\"{name}\"")
                } else {
                    name.clone()
                }
            })
            .collect();
        Ok((Value::String(text), Value::String(columns.join(","))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes() {
        assert_eq!(
            split_outside_quotes(r#"a,b b,"c,c"," d, d ""#, ","),
            vec!["a", "b b", r#""c,c""#, r#"" d, d ""#]
        );
        assert_eq!(split_outside_quotes("a\\\\b", "\\\\"), vec!["a", "b"]);
        assert_eq!(split_outside_quotes("", ","), vec![""]);
        assert_eq!(split_outside_quotes("a,", ","), vec!["a", ""]);
    }

    #[test]
    fn numbers_by_the_legacy_pattern() {
        for yes in [
            "1", "-1", "1.5", ".5", "0", "0.5", "12E3", "12e-3", "-12E-3", "1.e5", "1e+5",
        ] {
            assert!(looks_numeric(yes), "{yes}");
        }
        for no in [
            "",
            "+1",
            "01",
            "-05",
            "e1",
            "1.",
            "1e",
            "127.0.0.1",
            "1a",
            "-",
        ] {
            assert!(!looks_numeric(no), "{no}");
        }
    }
}
