//! OpenMetrics 1.0 text, parsed with the strictness the specification asks
//! of it (section "Text format"): a body that breaks a rule is refused as a
//! whole ("Partial or invalid expositions MUST be considered erroneous in
//! their entirety").
//!
//! Grammar (RFC 5234 ABNF as the specification states it; `SP` is exactly
//! one space, `LF` ends every line, no other blanks anywhere):
//!
//! ```text
//! exposition        = metricset HASH SP eof [ LF ]
//! metricset         = *metricfamily
//! metricfamily      = *metric-descriptor *metric
//! metric-descriptor = HASH SP type SP metricname SP metric-type LF
//!                   / HASH SP help SP metricname SP escaped-string LF
//!                   / HASH SP unit SP metricname SP *metricname-char LF
//! metric-type       = counter / gauge / histogram / gaugehistogram / stateset
//!                   / info / summary / unknown
//! metric            = *sample
//! sample            = metricname [labels] SP number [SP timestamp] [exemplar] LF
//! exemplar          = SP HASH SP labels SP number [SP timestamp]
//! labels            = "{" [label *(COMMA label)] "}"
//! label             = label-name EQ DQUOTE escaped-string DQUOTE
//! number            = realnumber / [SIGN] ("inf" / "infinity") / "nan"
//! timestamp         = realnumber                    (float seconds)
//! realnumber        = [SIGN] 1*DIGIT ["." *DIGIT] ["e" [SIGN] 1*DIGIT]
//!                   / [SIGN] *DIGIT "." 1*DIGIT ["e" [SIGN] 1*DIGIT]
//! metricname        = [a-zA-Z_:] [a-zA-Z0-9_:]*
//! label-name        = [a-zA-Z_] [a-zA-Z0-9_]*
//! escaped-string    = *( normal-char / BS ("n" / DQUOTE / BS) / BS normal-char )
//! ```
//!
//! The productions live in `sample.rs` and in this file; the semantic rules
//! (metadata once and before samples, type suffixes, values by type, clashing
//! names, contiguous metrics, timestamps, histogram points) in `validate.rs`
//! and `metrics.rs`.
//!
//! Entries are built as the text parser builds them: a sample's `series` is
//! the name and label set as written, its label text is re-lexed by
//! [`super::Labels`]; timestamps are converted as Prometheus does
//! (`int64(seconds * 1000)`, truncating, saturating beyond int64). Label values
//! and HELP text keep escapes lexically; `\\`, `\"` and `\n` are undone when
//! read, any other backslash pair (`BS normal-char` in the ABNF) is kept as
//! written. Empty HELP and UNIT lines are reported like any other (they still
//! count as the family's one HELP or UNIT line).
//!
//! Deliberate choices, each where the specification, Prometheus and the
//! conformance suite's reference parser (prometheus_client) differ:
//!
//! - A raw `"` or a trailing backslash in HELP text is accepted, as by both
//!   parsers, although `escaped-string` excludes them.
//! - The rules Prometheus' parser does not check (histogram points, values by
//!   type, clashing names, metrics contiguous, timestamps not going backwards
//!   within a metric) are the specification's and prometheus_client's; the
//!   conformance suite checks them.
//! - A sample repeated with the same timestamp is reported each time
//!   (prometheus_client drops the repeats); the exemplar value is not checked
//!   against its bucket's range ("Ingestors MAY discard exemplars"; neither
//!   parser checks it); label and family names starting with `_` (RESERVED)
//!   are accepted, as by both parsers.
//! - OpenMetrics 1.0 has no quoted metric names, so none are accepted.

use std::borrow::Cow;

use super::lex;
use super::{Entry, ErrorKind, MetricType, ParseError, Sample};

mod metrics;
mod sample;
mod validate;

#[cfg(test)]
mod tests;

use sample::Scratch;
use validate::{Descriptor, Rules};

type LineResult<T> = Result<T, ErrorKind>;

/// Pull parser over an OpenMetrics body. After the first error it yields that
/// error once and then `None`.
#[derive(Debug, Clone)]
pub struct OpenMetricsParser<'a> {
    body: &'a [u8],
    pos: usize,
    line: usize,
    done: bool,
    /// Boxed: one allocation per body keeps the parser small to move around.
    state: Box<State<'a>>,
}

/// Buffers and rule state, kept for the whole body.
#[derive(Debug, Clone, Default)]
struct State<'a> {
    scratch: Scratch<'a>,
    rules: Rules<'a>,
}

impl<'a> OpenMetricsParser<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        OpenMetricsParser { body, pos: 0, line: 0, done: false, state: Box::default() }
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

    /// The next entry, `Ok(None)` after `# EOF`.
    fn advance(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let at = |line, kind| ParseError { line, kind };
        let Some(line) = self.next_line() else {
            self.state.rules.finish(self.line)?;
            return Err(at(self.line + 1, ErrorKind::Expected("'# EOF' as the last line")));
        };
        match line {
            [] => Err(at(self.line, ErrorKind::Invalid("blank line"))),
            b"# EOF" => {
                self.state.rules.finish(self.line)?;
                if self.pos < self.body.len() {
                    return Err(at(self.line + 1, ErrorKind::Invalid("text after '# EOF'")));
                }
                Ok(None)
            }
            [b'#', ..] => {
                let (name, d, entry) = metric_descriptor(line).map_err(|k| at(self.line, k))?;
                self.state.rules.descriptor(name, d, self.line)?;
                Ok(Some(entry))
            }
            _ => {
                let State { scratch, rules } = &mut *self.state;
                let s = sample::sample(line, scratch).map_err(|k| at(self.line, k))?;
                rules.sample(&s, &scratch.labels, self.line)?;
                let exemplar = s.exemplar.map(|e| super::Exemplar {
                    label_text: e.label_text,
                    value: e.value,
                    timestamp_ms: e.timestamp.map(|t| t.ms),
                });
                Ok(Some(Entry::Sample(Sample {
                    name: Cow::Borrowed(s.name),
                    series: s.series,
                    label_text: s.label_text,
                    value: s.value,
                    timestamp_ms: s.timestamp.map(|t| t.ms),
                    exemplar,
                })))
            }
        }
    }
}

impl<'a> Iterator for OpenMetricsParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.advance();
        // Stop after `# EOF` or the first error: the rest is not trusted.
        self.done = !matches!(result, Ok(Some(_)));
        result.transpose()
    }
}

/// `metric-descriptor`: the family name, what the line says, and its entry.
fn metric_descriptor(line: &[u8]) -> LineResult<(&str, Descriptor<'_>, Entry<'_>)> {
    const NOT_METADATA: ErrorKind = ErrorKind::Invalid(
        "a line starting with '#' must be '# HELP', '# TYPE', '# UNIT' or '# EOF'",
    );
    let rest = line.strip_prefix(b"# ").ok_or(NOT_METADATA)?;
    let (keyword, rest) = lex::split_while(rest, |c| c != b' ');
    let keyword = match keyword {
        b"HELP" | b"TYPE" | b"UNIT" => keyword,
        _ if keyword.starts_with(b"EOF") => {
            return Err(ErrorKind::Invalid("'# EOF' must stand alone on the last line"))
        }
        _ => return Err(NOT_METADATA),
    };
    let rest = rest.strip_prefix(b" ").ok_or(ErrorKind::Expected("' ' and a metric name"))?;
    let (rest, name) = lex::metric_name(rest).map_err(|_| ErrorKind::Expected("a metric name"))?;
    let text = rest.strip_prefix(b" ").ok_or(ErrorKind::Expected("' ' after the metric name"))?;
    let name = std::str::from_utf8(name).expect("BUG: metric names are ASCII by grammar");
    let named = Cow::Borrowed(name);
    match keyword {
        b"HELP" => {
            let help = lex::utf8(text).ok_or(ErrorKind::Invalid("HELP text is not valid UTF-8"))?;
            let entry = Entry::Help { name: named, help: lex::unescape_label(help) };
            Ok((name, Descriptor::Help, entry))
        }
        b"TYPE" => {
            let kind = metric_type(text)?;
            Ok((name, Descriptor::Type(kind), Entry::Type { name: named, kind }))
        }
        _ => {
            let unit = unit(text)?;
            Ok((
                name,
                Descriptor::Unit(unit),
                Entry::Unit { name: named, unit: Cow::Borrowed(unit) },
            ))
        }
    }
}

/// `metric-type`, lowercase and alone on the rest of the line.
fn metric_type(text: &[u8]) -> LineResult<MetricType> {
    Ok(match text {
        b"counter" => MetricType::Counter,
        b"gauge" => MetricType::Gauge,
        b"histogram" => MetricType::Histogram,
        b"gaugehistogram" => MetricType::GaugeHistogram,
        b"summary" => MetricType::Summary,
        b"info" => MetricType::Info,
        b"stateset" => MetricType::StateSet,
        b"unknown" => MetricType::Unknown,
        _ => {
            return Err(ErrorKind::Invalid(
                "TYPE must be counter, gauge, histogram, gaugehistogram, summary, info, \
                 stateset or unknown",
            ))
        }
    })
}

/// `*metricname-char`: the unit of a UNIT line, possibly empty.
fn unit(text: &[u8]) -> LineResult<&str> {
    if !text.iter().all(|&c| lex::is_metric_name_char(c)) {
        return Err(ErrorKind::Invalid("a unit may only hold [a-zA-Z0-9_:]"));
    }
    Ok(std::str::from_utf8(text).expect("BUG: checked ASCII"))
}
