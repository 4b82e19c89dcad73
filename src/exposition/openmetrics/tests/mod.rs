//! Unit tests of the OpenMetrics parser: tables of bodies and what they
//! parse to (entries rendered compactly) or the error they stop at.

use super::*;
use crate::exposition::format_value;

mod rules;
mod syntax;

/// Renders an entry compactly: `HELP name "text"`, `TYPE name kind`,
/// `UNIT name unit`, or `name{label="value",...} value [@ms] [# {...} value [@ms]]`
/// with label values unescaped and shown as Rust string literals.
fn render(entry: &Entry<'_>) -> String {
    match entry {
        Entry::Help { name, help } => format!("HELP {name} {help:?}"),
        Entry::Type { name, kind } => format!("TYPE {name} {}", kind.as_str()),
        Entry::Unit { name, unit } => format!("UNIT {name} {unit}"),
        Entry::Sample(s) => {
            let mut out = format!("{}{} {}", s.name, labels(s.labels()), format_value(s.value));
            if let Some(ts) = s.timestamp_ms {
                out += &format!(" @{ts}");
            }
            if let Some(e) = &s.exemplar {
                out += &format!(" # {} {}", labels(e.labels()), format_value(e.value));
                if let Some(ts) = e.timestamp_ms {
                    out += &format!(" @{ts}");
                }
            }
            out
        }
    }
}

fn labels(labels: crate::exposition::Labels<'_>) -> String {
    let parts: Vec<String> = labels.map(|l| format!("{}={:?}", l.name, l.value)).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

type Want = Result<&'static [&'static str], ParseError>;

fn ok(entries: &'static [&'static str]) -> Want {
    Ok(entries)
}

fn invalid(line: usize, why: &'static str) -> Want {
    Err(ParseError { line, kind: ErrorKind::Invalid(why) })
}

fn expected(line: usize, what: &'static str) -> Want {
    Err(ParseError { line, kind: ErrorKind::Expected(what) })
}

/// Parses `body` to the end: every entry rendered, or the first error.
fn parse_all(body: &str) -> Result<Vec<String>, ParseError> {
    parse_bytes(body.as_bytes())
}

fn parse_bytes(body: &[u8]) -> Result<Vec<String>, ParseError> {
    OpenMetricsParser::new(body).map(|e| e.map(|e| render(&e))).collect()
}

/// Checks a body exactly as given.
#[track_caller]
fn check_body(body: &str, want: Want) {
    let got = parse_all(body);
    let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(got, want, "body:\n{body}");
}

/// Checks `input` followed by the `# EOF` line every body needs.
#[track_caller]
fn check(input: &str, want: Want) {
    check_body(&format!("{input}# EOF\n"), want);
}

const MIXED: &str = "a metric mixes samples with and without timestamps";
const BACKWARDS: &str = "timestamps go backwards within a metric";
const CLASH: &str = "metric family clashes with an earlier one: a name used twice, \
                     families interleaved, or suffixes that overlap";
const EXEMPLAR_PLACE: &str =
    "exemplars are only allowed on counter _total and histogram _bucket samples";
const NOT_A_NUMBER: &str = "invalid value: not an OpenMetrics number";
const BAD_TS: &str = "invalid timestamp: not a real number of seconds";
const HASH_LINE: &str = "a line starting with '#' must be '# HELP', '# TYPE', '# UNIT' or '# EOF'";
