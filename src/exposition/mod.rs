//! Exposition-format parsers: the Prometheus text format 0.0.4 ([`text`]) and
//! OpenMetrics 1.0 text ([`openmetrics`]).
//!
//! Both parsers are pull iterators over [`Entry`] values that borrow from the
//! scraped body. Invariants:
//!
//! - Nothing is allocated per sample or per label in the steady state: a
//!   [`Sample`] keeps its label section as a validated `&str` slice of the body
//!   and [`Sample::labels`] re-lexes it lazily. Names and values are
//!   `Cow::Borrowed` unless an escape sequence has to be undone.
//! - [`Sample::series`] is the raw series text (metric name and label section as
//!   written), the key of the scrape stage's series cache: a cache hit skips
//!   label parsing altogether.
//! - Every error carries the 1-based line number and what was expected; error
//!   values do not allocate.
//! - Parsers are pure: no I/O, no clock, no global state.

use std::borrow::Cow;
use std::fmt;

mod family;
mod json;
mod lex;
pub mod openmetrics;
pub mod text;
mod value;

pub use family::{group_families, Family};
pub use json::json_lines;
pub use value::{format_value, STALE_NAN_BITS};

/// The type of a metric family, as declared by `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `untyped` in the text format, `unknown` in OpenMetrics, or no `# TYPE` line.
    Unknown,
}

impl MetricType {
    /// The name as OpenMetrics spells it (`unknown` for [`MetricType::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    /// The sample-name suffixes a family of this type may use, besides the bare
    /// family name (OpenMetrics 1.0, "Metric types"; the text format uses the
    /// same suffixes for histograms and summaries).
    pub fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
            MetricType::Summary => &["_count", "_sum", "_created"],
            MetricType::Info => &["_info"],
            MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[],
        }
    }
}

/// The exposition format of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

/// One line of meaning in an exposition: metadata or a sample. Comments and
/// blank lines are consumed by the parsers and not reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    Help { name: Cow<'a, str>, help: Cow<'a, str> },
    Type { name: Cow<'a, str>, kind: MetricType },
    Unit { name: Cow<'a, str>, unit: Cow<'a, str> },
    Sample(Sample<'a>),
}

/// One sample, borrowed from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The metric name, unescaped (only a quoted name can hold escapes).
    pub name: Cow<'a, str>,
    /// The raw series text: metric name and label section exactly as written.
    pub series: &'a str,
    /// The validated content between the braces (empty without braces).
    pub(crate) label_text: &'a str,
    pub value: f64,
    /// Milliseconds since the epoch, when the line carries a timestamp.
    pub timestamp_ms: Option<i64>,
    pub exemplar: Option<Exemplar<'a>>,
}

impl<'a> Sample<'a> {
    /// The sample's labels (without `__name__`) in the order they were written.
    pub fn labels(&self) -> Labels<'a> {
        Labels::new(self.label_text)
    }
}

/// An OpenMetrics exemplar: `# {trace_id="x"} 1.0 1.5`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    pub(crate) label_text: &'a str,
    pub value: f64,
    /// Milliseconds since the epoch, when the exemplar carries a timestamp.
    pub timestamp_ms: Option<i64>,
}

impl<'a> Exemplar<'a> {
    /// The exemplar's labels in the order they were written.
    pub fn labels(&self) -> Labels<'a> {
        Labels::new(self.label_text)
    }
}

/// One label, unescaped only when the source held an escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label<'a> {
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

/// Iterator over a label section that a parser has already validated.
///
/// It re-lexes the section: names bare or quoted, values quoted, separated by
/// commas and optional blanks. A quoted string that is not followed by `=` is
/// the metric name of the newer text format and is skipped.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a str,
}

impl<'a> Labels<'a> {
    fn new(label_text: &'a str) -> Self {
        Labels { rest: label_text }
    }
}

impl<'a> Iterator for Labels<'a> {
    type Item = Label<'a>;

    fn next(&mut self) -> Option<Label<'a>> {
        loop {
            let s = self.rest.trim_start_matches([' ', '\t', ',']);
            if s.is_empty() {
                self.rest = s;
                return None;
            }
            let (name, after) = lex::split_name_or_quoted(s)?;
            let after = after.trim_start_matches([' ', '\t']);
            let Some(after) = after.strip_prefix('=') else {
                // A quoted metric name inside the braces.
                self.rest = after;
                continue;
            };
            let after = after.trim_start_matches([' ', '\t']);
            let (value, after) = lex::split_quoted(after)?;
            self.rest = after;
            return Some(Label { name, value });
        }
    }
}

/// Why a body did not parse. Plain data: building one does not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub kind: ErrorKind,
}

/// What went wrong on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A grammar production was expected here.
    Expected(&'static str),
    /// The line is well-formed but breaks a rule of the format.
    Invalid(&'static str),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Expected(what) => write!(f, "expected {what}"),
            ErrorKind::Invalid(why) => f.write_str(why),
        }
    }
}

/// A parser of either format, chosen at run time.
pub enum Parser<'a> {
    Text(text::TextParser<'a>),
    OpenMetrics(openmetrics::OpenMetricsParser<'a>),
}

impl<'a> Parser<'a> {
    pub fn new(format: Format, body: &'a [u8]) -> Self {
        match format {
            Format::Text => Parser::Text(text::TextParser::new(body)),
            Format::OpenMetrics => Parser::OpenMetrics(openmetrics::OpenMetricsParser::new(body)),
        }
    }
}

impl Parser<'_> {
    /// The 1-based number of the line the last entry came from.
    pub fn line(&self) -> usize {
        match self {
            Parser::Text(p) => p.line(),
            Parser::OpenMetrics(p) => p.line(),
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Parser::Text(p) => p.next(),
            Parser::OpenMetrics(p) => p.next(),
        }
    }
}
