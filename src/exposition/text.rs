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

/// Pull parser over a Prometheus text-format body.
#[derive(Debug, Clone)]
pub struct TextParser<'a> {
    body: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> TextParser<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        TextParser { body, pos: 0, line: 0 }
    }

    /// The 1-based number of the line the last entry came from.
    pub fn line(&self) -> usize {
        self.line
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
                Some(b'#') => match comment_line(line) {
                    Ok(None) => continue,
                    Ok(Some(entry)) => Ok(entry),
                    Err(kind) => Err(kind),
                },
                Some(_) => sample_line(line).map(Entry::Sample),
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

/// `help | type | comment`: `Ok(None)` for a plain comment.
fn comment_line(line: &[u8]) -> LineResult<Option<Entry<'_>>> {
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
    let (name, text) = metadata_name(after_kw, is_help)?;
    // The text starts after the one character that separates it from the name.
    let text = text.get(1..).unwrap_or_default();
    if is_help {
        let help = lex::utf8(text).ok_or(ErrorKind::Invalid("help text is not valid UTF-8"))?;
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
fn metadata_name(i: &[u8], is_help: bool) -> LineResult<(Cow<'_, str>, &[u8])> {
    let missing = if is_help {
        ErrorKind::Expected("metric name after HELP")
    } else {
        ErrorKind::Expected("metric name after TYPE")
    };
    if i.first() == Some(&b'"') {
        let (rest, inner) = lex::quoted(i).map_err(|_| missing)?;
        return Ok((quoted_text(inner)?, rest));
    }
    let (rest, name) = lex::metric_name(i).map_err(|_| missing)?;
    Ok((Cow::Borrowed(ascii(name)), rest))
}

/// `sample`: a series, its value and an optional timestamp.
fn sample_line(line: &[u8]) -> LineResult<Sample<'_>> {
    let (mut rest, mut name) = match lex::metric_name(line) {
        Ok((rest, name)) => (rest, Some(Cow::Borrowed(ascii(name)))),
        Err(_) if line[0] == b'{' => (line, None),
        Err(_) => return Err(ErrorKind::Expected("metric name or '{' at the start of a sample")),
    };
    let mut label_text = "";
    let after_name = blanks(rest);
    if after_name.first() == Some(&b'{') {
        let (after, text, quoted_name) = label_set(after_name)?;
        if let Some(q) = quoted_name {
            if name.is_some() {
                return Err(ErrorKind::Invalid("metric name given twice"));
            }
            name = Some(q);
        }
        label_text = text;
        rest = after;
    }
    let name = name.ok_or(ErrorKind::Expected("a metric name before or inside the braces"))?;
    let series = ascii_or_utf8(&line[..line.len() - rest.len()]);
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

/// `labelset`, starting at `{`. Returns the rest after `}`, the validated text
/// between the braces, and the quoted metric name if one stood inside.
fn label_set(i: &[u8]) -> LineResult<(&[u8], &str, Option<Cow<'_, str>>)> {
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
                    quoted_name = Some(quoted_text(inner)?);
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
    let text = lex::utf8(inner).ok_or(ErrorKind::Invalid("label set is not valid UTF-8"))?;
    Ok((&i[1..], text, quoted_name))
}

/// The content of a quoted name: valid UTF-8, escapes undone.
fn quoted_text(inner: &[u8]) -> LineResult<Cow<'_, str>> {
    let s = lex::utf8(inner).ok_or(ErrorKind::Invalid("quoted name is not valid UTF-8"))?;
    Ok(lex::unescape_label(s))
}

/// A slice that the grammar has restricted to ASCII.
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("BUG: names are ASCII by grammar")
}

/// The series text: the name is ASCII and the label set was validated.
fn ascii_or_utf8(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("BUG: series text was validated as UTF-8")
}

#[cfg(test)]
mod tests;
