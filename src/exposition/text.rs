//! The Prometheus text format 0.0.4, parsed as Prometheus' own parser
//! (`model/textparse/promparse.go`) accepts it.
//!
//! Grammar, one production per line (`blank = [ \t]`):
//!
//! ```text
//! line      = blank* ( help | type | comment | sample )? blank*
//! help      = "#" blank+ "HELP" blank+ name ( any-char text )?
//! type      = "#" blank+ "TYPE" blank+ name blank ( "counter" | "gauge" | "histogram"
//!             | "summary" | "untyped" )
//! comment   = "#" any-text                       (any other "#" line)
//! sample    = ( metricname blank* labelset? | labelset ) blank* value
//!             ( blank+ timestamp )? blank*
//! labelset  = "{" blank* ( label blank* ","? blank* )* "}"
//! label     = ( labelname | quoted ) blank* "=" blank* quoted
//!           | quoted                             (the metric name, once, when
//!                                                 not given before the braces)
//! name      = metricname | quoted
//! value     = Go float: [+-]? decimal, [+-]?Inf(inity)?, NaN (any case)
//! timestamp = [0-9]+                             (int64 milliseconds)
//! ```
//!
//! Label values keep every backslash escape lexically; `\\`, `\"` and `\n` are
//! undone when labels are read, other sequences are kept as written. A trailing
//! comma inside the braces (Java clients) and a missing comma between labels
//! are accepted, as Prometheus accepts them.

use std::borrow::Cow;

use super::lex::{self, blanks};
use super::value::{parse_timestamp_ms, parse_value, ValueError};
use super::{Entry, ErrorKind, MetricType, ParseError, Sample};

type LineResult<T> = Result<T, ErrorKind>;

/// What `label_set` found: the rest after `}`, the text between the braces,
/// and the quoted metric name inside them, if any.
type LabelSetParts<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>);

/// Pull parser over a Prometheus text-format body.
#[derive(Debug, Clone)]
pub struct TextParser<'a> {
    body: &'a [u8],
    /// The longest valid UTF-8 prefix of `body` (all of it, almost always):
    /// validated once, so lines inside it need no check of their own.
    valid: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> TextParser<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        let valid = match std::str::from_utf8(body) {
            Ok(all) => all,
            Err(e) => std::str::from_utf8(&body[..e.valid_up_to()]).expect("BUG: valid prefix"),
        };
        TextParser { body, valid, pos: 0, line: 0 }
    }

    /// The 1-based number of the line the last entry came from.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The `&str` view of `line`, a slice of the body: free inside the
    /// validated prefix, checked otherwise. Every later slice is cut from it.
    #[inline]
    fn as_str(&self, line: &'a [u8]) -> Option<&'a str> {
        let start = line.as_ptr() as usize - self.body.as_ptr() as usize;
        match self.valid.get(start..start + line.len()) {
            Some(s) => Some(s),
            None => std::str::from_utf8(line).ok(),
        }
    }

    /// Returns the next line (without `\n`) and advances.
    fn next_line(&mut self) -> Option<&'a [u8]> {
        let rest = self.body.get(self.pos..).filter(|r| !r.is_empty())?;
        self.line += 1;
        let (line, advance) = match memchr::memchr(b'\n', rest) {
            Some(n) => (&rest[..n], n + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        Some(line)
    }
}

impl<'a> Iterator for TextParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(raw) = self.next_line() {
            let line = blanks(raw);
            let parsed = match line.first() {
                None => continue,
                Some(b'#') => match comment_line(line, self.as_str(line)) {
                    Ok(None) => continue,
                    Ok(Some(entry)) => Ok(entry),
                    Err(kind) => Err(kind),
                },
                Some(_) => match self.as_str(line) {
                    Some(line) => sample_line(line).map(Entry::Sample),
                    None => Err(ErrorKind::Invalid("sample line is not valid UTF-8")),
                },
            };
            return Some(parsed.map_err(|kind| {
                // Stop after the first error: the rest of the body is not trusted.
                self.pos = self.body.len();
                ParseError { line: self.line, kind }
            }));
        }
        None
    }
}

/// `help | type | comment`: `Ok(None)` for a plain comment. `text` is the
/// line as `&str`, `None` when it is not valid UTF-8 (fine for a comment).
fn comment_line<'a>(line: &'a [u8], text: Option<&'a str>) -> LineResult<Option<Entry<'a>>> {
    let after_hash = &line[1..];
    let Ok((rest, _)) = lex::blanks1(after_hash) else {
        return Ok(None);
    };
    let (keyword, after_kw) = lex::split_while(rest, |c| c.is_ascii_alphabetic());
    let is_help = keyword == b"HELP";
    if !(is_help || keyword == b"TYPE") {
        return Ok(None);
    }
    let Ok((after_kw, _)) = lex::blanks1(after_kw) else {
        // `# HELPER ...` or `# HELP` at the end of the line: a comment.
        return Ok(None);
    };
    let meta = text.map(|t| lex::sub(t, after_kw)).ok_or(ErrorKind::Invalid(if is_help {
        "help text is not valid UTF-8"
    } else {
        "TYPE line is not valid UTF-8"
    }))?;
    let (name, text) = metadata_name(meta, is_help)?;
    // The text starts after the one character that separates it from the name.
    let text = if text.is_empty() { text } else { &text[1..] };
    if is_help {
        let help = lex::sub(meta, text);
        return Ok(Some(Entry::Help { name, help: lex::unescape_help(help) }));
    }
    let kind = match text {
        b"counter" => MetricType::Counter,
        b"gauge" => MetricType::Gauge,
        b"histogram" => MetricType::Histogram,
        b"summary" => MetricType::Summary,
        b"untyped" => MetricType::Unknown,
        _ => return Err(ErrorKind::Invalid("invalid metric type in TYPE line")),
    };
    Ok(Some(Entry::Type { name, kind }))
}

/// `name` of a HELP or TYPE line: a metric name or a quoted UTF-8 name.
fn metadata_name(meta: &str, is_help: bool) -> LineResult<(Cow<'_, str>, &[u8])> {
    let missing = if is_help {
        ErrorKind::Expected("metric name after HELP")
    } else {
        ErrorKind::Expected("metric name after TYPE")
    };
    let i = meta.as_bytes();
    let (rest, name) = if i.first() == Some(&b'"') {
        let (rest, inner) = lex::quoted(i).map_err(|_| missing)?;
        (rest, lex::unescape_label(lex::sub(meta, inner)))
    } else {
        let (rest, name) = lex::metric_name(i).map_err(|_| missing)?;
        (rest, Cow::Borrowed(lex::sub(meta, name)))
    };
    Ok((name, rest))
}

/// `sample`: a series, its value and an optional timestamp.
fn sample_line(line: &str) -> LineResult<Sample<'_>> {
    let bytes = line.as_bytes();
    let (mut rest, mut name) = match lex::metric_name(bytes) {
        Ok((rest, name)) => (rest, Some(Cow::Borrowed(lex::sub(line, name)))),
        Err(_) if bytes[0] == b'{' => (bytes, None),
        Err(_) => return Err(ErrorKind::Expected("metric name or '{' at the start of a sample")),
    };
    let mut label_text = "";
    let after_name = blanks(rest);
    if after_name.first() == Some(&b'{') {
        let (after, inner, quoted_name) = label_set(after_name)?;
        if let Some(q) = quoted_name {
            if name.is_some() {
                return Err(ErrorKind::Invalid("metric name given twice"));
            }
            name = Some(lex::unescape_label(lex::sub(line, q)));
        }
        label_text = lex::sub(line, inner);
        rest = after;
    }
    let name = name.ok_or(ErrorKind::Expected("a metric name before or inside the braces"))?;
    let series = &line[..line.len() - rest.len()];
    let (value, timestamp_ms) = value_and_timestamp(rest)?;
    Ok(Sample { name, series, label_text, value, timestamp_ms, exemplar: None })
}

/// `blank* value ( blank+ timestamp )? blank*`
fn value_and_timestamp(i: &[u8]) -> LineResult<(f64, Option<i64>)> {
    let i = blanks(i);
    let (rest, token) = lex::token(i).map_err(|_| ErrorKind::Expected("value after metric"))?;
    let value = parse_value(token).map_err(|e| match e {
        ValueError::Syntax => ErrorKind::Invalid("invalid value: not a float"),
        ValueError::OutOfRange => ErrorKind::Invalid("invalid value: out of float64 range"),
    })?;
    let rest = blanks(rest);
    if rest.is_empty() {
        return Ok((value, None));
    }
    let (ts, after) = lex::split_while(rest, |c| c != b' ' && c != b'\t');
    let ts = parse_timestamp_ms(ts)
        .ok_or(ErrorKind::Expected("integer millisecond timestamp or end of line after value"))?;
    if !blanks(after).is_empty() {
        return Err(ErrorKind::Expected("end of line after timestamp"));
    }
    Ok((value, Some(ts)))
}

/// `labelset`, starting at `{`. Returns the rest after `}`, the text between
/// the braces, and the quoted metric name (escapes as written) if one stood
/// inside.
fn label_set(i: &[u8]) -> LineResult<LabelSetParts<'_>> {
    let start = &i[1..];
    let mut i = start;
    let mut quoted_name = None;
    loop {
        i = blanks(i);
        match i.first() {
            Some(b'}') => break,
            Some(b'"') => {
                let (rest, inner) =
                    lex::quoted(i).map_err(|_| ErrorKind::Expected("closing '\"'"))?;
                let after = blanks(rest);
                if matches!(after.first(), Some(b',') | Some(b'}')) {
                    if quoted_name.is_some() {
                        return Err(ErrorKind::Invalid("metric name given twice"));
                    }
                    quoted_name = Some(inner);
                    i = after.strip_prefix(b",").unwrap_or(after);
                    continue;
                }
                i = rest;
            }
            Some(&c) if lex::is_label_name_start(c) => {
                (i, _) = lex::label_name(i).expect("BUG: checked first byte");
            }
            _ => return Err(ErrorKind::Expected("label name or '}'")),
        }
        i = blanks(i);
        i = i.strip_prefix(b"=").ok_or(ErrorKind::Expected("'=' after label name"))?;
        i = blanks(i);
        (i, _) = lex::quoted(i).map_err(|_| ErrorKind::Expected("quoted label value"))?;
        i = blanks(i);
        if let Some(after_comma) = i.strip_prefix(b",") {
            i = after_comma;
        }
    }
    let inner = &start[..start.len() - i.len()];
    Ok((&i[1..], inner, quoted_name))
}

#[cfg(test)]
mod tests;
