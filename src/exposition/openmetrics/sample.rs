//! The sample line of OpenMetrics 1.0 text (section "ABNF"):
//!
//! ```text
//! sample   = metricname [labels] SP number [SP timestamp] [exemplar]
//! exemplar = SP HASH SP labels SP number [SP timestamp]
//! labels   = "{" [label *(COMMA label)] "}"
//! label    = label-name EQ DQUOTE escaped-string DQUOTE
//! ```
//!
//! Separators are exactly one space; there are no blanks inside the braces and
//! no trailing comma. Label values keep their escapes as written
//! ([`RawLabel`]); the whole label section is validated as UTF-8 once.

use super::super::lex;
use super::super::value::{parse_om_seconds, parse_om_value, seconds_to_ms, ValueError};
use super::super::ErrorKind;

/// A production's result: the rest of the line and what was recognised.
pub(super) type PResult<'a, T> = Result<(&'a [u8], T), ErrorKind>;

/// The most code points an exemplar's label names and values may hold
/// together (OpenMetrics 1.0, "Exemplars").
const EXEMPLAR_LABEL_CHARS: usize = 128;

/// A label as written: the name and the value between the quotes, escapes kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawLabel<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
}

impl RawLabel<'_> {
    /// Whether two values are equal once `\\`, `\"` and `\n` are undone.
    pub fn same_value(&self, other: &RawLabel<'_>) -> bool {
        self.value == other.value
            || ((self.value.contains(&b'\\') || other.value.contains(&b'\\'))
                && Unescaped::new(self.value).eq(Unescaped::new(other.value)))
    }
}

/// A timestamp: float seconds as written (to order samples) and Prometheus'
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Timestamp {
    pub secs: f64,
    pub ms: i64,
}

/// A sample line, recognised and its numbers parsed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SampleLine<'a> {
    pub name: &'a str,
    pub series: &'a str,
    pub label_text: &'a str,
    pub value: f64,
    pub timestamp: Option<Timestamp>,
    pub exemplar: Option<ExemplarLine<'a>>,
}

/// An exemplar, recognised and its numbers parsed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ExemplarLine<'a> {
    pub label_text: &'a str,
    pub value: f64,
    pub timestamp: Option<Timestamp>,
}

/// Buffers reused from line to line, so that a sample allocates nothing once
/// they have grown to the widest label set.
#[derive(Debug, Clone, Default)]
pub(super) struct Scratch<'a> {
    /// The labels of the current sample, in written order.
    pub labels: Vec<RawLabel<'a>>,
    exemplar: Vec<RawLabel<'a>>,
    names: Vec<&'a [u8]>,
}

/// `sample = metricname [labels] SP number [SP timestamp] [exemplar]`; fills
/// `scratch.labels` with the sample's labels.
pub(super) fn sample<'a>(
    line: &'a [u8],
    scratch: &mut Scratch<'a>,
) -> Result<SampleLine<'a>, ErrorKind> {
    let (rest, name) = lex::metric_name(line)
        .map_err(|_| ErrorKind::Expected("metric name at the start of a sample"))?;
    let (rest, label_text) = if rest.first() == Some(&b'{') {
        labels(rest, &mut scratch.labels)?
    } else {
        scratch.labels.clear();
        (rest, "")
    };
    unique_names(&scratch.labels, &mut scratch.names)?;
    let series = std::str::from_utf8(&line[..line.len() - rest.len()])
        .expect("BUG: the name is ASCII and the label set was validated");
    let rest = sp(rest, "' ' and a value after the series")?;
    let (rest, value) = number(rest)?;
    let (rest, timestamp) = after_value(rest)?;
    let exemplar = match rest {
        [] => None,
        _ => Some(exemplar(rest, scratch)?),
    };
    let name = std::str::from_utf8(name).expect("BUG: metric names are ASCII by grammar");
    Ok(SampleLine { name, series, label_text, value, timestamp, exemplar })
}

/// `[SP timestamp]` after a value, stopping before an exemplar's `SP HASH`.
fn after_value(i: &[u8]) -> PResult<'_, Option<Timestamp>> {
    match i {
        [] | [b' ', b'#', ..] => Ok((i, None)),
        [b' ', rest @ ..] => {
            let (rest, ts) = timestamp(rest)?;
            Ok((rest, Some(ts)))
        }
        _ => Err(ErrorKind::Expected("' ' or end of line after the value")),
    }
}

/// `exemplar = SP HASH SP labels SP number [SP timestamp]`, at the end of the line.
fn exemplar<'a>(i: &'a [u8], scratch: &mut Scratch<'a>) -> Result<ExemplarLine<'a>, ErrorKind> {
    let i = i
        .strip_prefix(b" # ")
        .ok_or(ErrorKind::Expected("end of line or ' # ' and an exemplar"))?;
    if i.first() != Some(&b'{') {
        return Err(ErrorKind::Expected("'{' opening the exemplar's label set"));
    }
    let (i, label_text) = labels(i, &mut scratch.exemplar)?;
    unique_names(&scratch.exemplar, &mut scratch.names)?;
    let chars: usize = scratch
        .exemplar
        .iter()
        .map(|l| char_count(l.name.iter().copied()) + char_count(Unescaped::new(l.value)))
        .sum();
    if chars > EXEMPLAR_LABEL_CHARS {
        return Err(ErrorKind::Invalid(
            "exemplar label names and values exceed 128 characters together",
        ));
    }
    let i = sp(i, "' ' and a value after the exemplar's label set")?;
    let (i, value) = number(i)?;
    let (i, timestamp) = match i {
        [] => (i, None),
        [b' ', rest @ ..] => {
            let (rest, ts) = timestamp(rest)?;
            (rest, Some(ts))
        }
        _ => return Err(ErrorKind::Expected("' ' or end of line after the exemplar value")),
    };
    if !i.is_empty() {
        return Err(ErrorKind::Expected("end of line after the exemplar timestamp"));
    }
    Ok(ExemplarLine { label_text, value, timestamp })
}

/// `labels = "{" [label *(COMMA label)] "}"`: the rest after `}` and the
/// validated text between the braces; `out` receives the labels.
fn labels<'a>(i: &'a [u8], out: &mut Vec<RawLabel<'a>>) -> PResult<'a, &'a str> {
    out.clear();
    let start = i.strip_prefix(b"{").ok_or(ErrorKind::Expected("'{'"))?;
    if let Some(rest) = start.strip_prefix(b"}") {
        return Ok((rest, ""));
    }
    let mut i = start;
    loop {
        let (rest, l) = label(i)?;
        out.push(l);
        match rest.first() {
            Some(b',') => i = &rest[1..],
            Some(b'}') => {
                let inner = &start[..start.len() - rest.len()];
                let text =
                    lex::utf8(inner).ok_or(ErrorKind::Invalid("label set is not valid UTF-8"))?;
                return Ok((&rest[1..], text));
            }
            _ => return Err(ErrorKind::Expected("',' or '}' after a label value")),
        }
    }
}

/// `label = label-name EQ DQUOTE escaped-string DQUOTE`, where
/// `escaped-string` holds any character but `"` and newline, and a backslash
/// escapes the character after it.
fn label(i: &[u8]) -> PResult<'_, RawLabel<'_>> {
    let (i, name) = lex::label_name(i).map_err(|_| ErrorKind::Expected("label name"))?;
    let i = i.strip_prefix(b"=").ok_or(ErrorKind::Expected("'=' after the label name"))?;
    if i.first() != Some(&b'"') {
        return Err(ErrorKind::Expected("'\"' opening the label value"));
    }
    let (i, value) =
        lex::quoted(i).map_err(|_| ErrorKind::Expected("'\"' closing the label value"))?;
    Ok((i, RawLabel { name, value }))
}

/// `SP`: exactly one space.
fn sp<'a>(i: &'a [u8], what: &'static str) -> Result<&'a [u8], ErrorKind> {
    i.strip_prefix(b" ").ok_or(ErrorKind::Expected(what))
}

/// The bytes up to the next space or the end of the line.
fn word(i: &[u8]) -> (&[u8], &[u8]) {
    let n = memchr::memchr(b' ', i).unwrap_or(i.len());
    (&i[n..], &i[..n])
}

/// `number`: a sample or exemplar value.
fn number(i: &[u8]) -> PResult<'_, f64> {
    let (rest, w) = word(i);
    if w.is_empty() {
        return Err(ErrorKind::Expected("a value"));
    }
    let v = parse_om_value(w).map_err(|e| match e {
        ValueError::Syntax => ErrorKind::Invalid("invalid value: not an OpenMetrics number"),
        ValueError::OutOfRange => ErrorKind::Invalid("invalid value: out of float64 range"),
    })?;
    Ok((rest, v))
}

/// `timestamp = realnumber`, seconds since the epoch.
fn timestamp(i: &[u8]) -> PResult<'_, Timestamp> {
    let (rest, w) = word(i);
    if w.is_empty() {
        return Err(ErrorKind::Expected("a timestamp or '#' after ' '"));
    }
    let secs = parse_om_seconds(w).map_err(|e| match e {
        ValueError::Syntax => ErrorKind::Invalid("invalid timestamp: not a real number of seconds"),
        ValueError::OutOfRange => ErrorKind::Invalid("invalid timestamp: out of float64 range"),
    })?;
    Ok((rest, Timestamp { secs, ms: seconds_to_ms(secs) }))
}

/// "Label names MUST be unique within a LabelSet" (OpenMetrics 1.0, "LabelSet").
fn unique_names<'a>(labels: &[RawLabel<'a>], names: &mut Vec<&'a [u8]>) -> Result<(), ErrorKind> {
    const DUPLICATE: ErrorKind = ErrorKind::Invalid("label name repeated in one label set");
    if labels.len() <= 16 {
        for (i, l) in labels.iter().enumerate() {
            if labels[..i].iter().any(|m| m.name == l.name) {
                return Err(DUPLICATE);
            }
        }
        return Ok(());
    }
    names.clear();
    names.extend(labels.iter().map(|l| l.name));
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(DUPLICATE);
    }
    Ok(())
}

/// Re-lexes a label section that [`labels`] validated into `out`.
pub(super) fn split_labels<'a>(text: &'a str, out: &mut Vec<RawLabel<'a>>) {
    out.clear();
    let mut i = text.as_bytes();
    while !i.is_empty() {
        let (rest, l) = label(i).expect("BUG: the label section was validated");
        out.push(l);
        i = rest.strip_prefix(b",").unwrap_or(rest);
    }
}

/// Code points in UTF-8 bytes that are known to be valid.
fn char_count(bytes: impl Iterator<Item = u8>) -> usize {
    bytes.filter(|b| b & 0xC0 != 0x80).count()
}

/// The bytes of a label value with `\\`, `\"` and `\n` undone and any other
/// backslash kept, as [`lex::unescape_label`] does, without allocating.
#[derive(Debug, Clone)]
pub(super) struct Unescaped<'a> {
    rest: &'a [u8],
}

impl<'a> Unescaped<'a> {
    pub fn new(raw: &'a [u8]) -> Self {
        Unescaped { rest: raw }
    }
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        let (out, skip) = match (b, rest.first()) {
            (b'\\', Some(b'\\')) => (b'\\', 2),
            (b'\\', Some(b'"')) => (b'"', 2),
            (b'\\', Some(b'n')) => (b'\n', 2),
            _ => (b, 1),
        };
        self.rest = &self.rest[skip..];
        Some(out)
    }
}
