//! The JSON-lines rendering of `tern parse`: one object per sample,
//! `{"labels":{"__name__":"up","job":"x"},"value":"1","timestamp_ms":null}`,
//! with `__name__` first and the other labels in exposition order.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::{format_value, Entry, ErrorKind, Format, ParseError, Parser, Sample};

/// Parses `body` and renders every sample as a JSON line. A label name that
/// appears twice in one sample (or `__name__` among the labels) is an error,
/// as it is when Prometheus ingests the sample.
pub fn json_lines(format: Format, body: &[u8]) -> Result<String, ParseError> {
    let mut parser = Parser::new(format, body);
    let mut out = String::new();
    while let Some(entry) = parser.next() {
        let Entry::Sample(sample) = entry? else { continue };
        if has_duplicate_label(&sample) {
            let kind = ErrorKind::Invalid("duplicate label name in sample");
            return Err(ParseError { line: parser.line(), kind });
        }
        let line = JsonSample {
            labels: JsonLabels(&sample),
            value: format_value(sample.value),
            timestamp_ms: sample.timestamp_ms,
        };
        out.push_str(&serde_json::to_string(&line).expect("BUG: strings always serialise"));
        out.push('\n');
    }
    Ok(out)
}

fn has_duplicate_label(sample: &Sample<'_>) -> bool {
    let names: Vec<_> = std::iter::once(std::borrow::Cow::Borrowed("__name__"))
        .chain(sample.labels().map(|l| l.name))
        .collect();
    names.iter().enumerate().any(|(i, n)| names[..i].contains(n))
}

#[derive(Serialize)]
struct JsonSample<'s, 'a> {
    labels: JsonLabels<'s, 'a>,
    value: String,
    timestamp_ms: Option<i64>,
}

struct JsonLabels<'s, 'a>(&'s Sample<'a>);

impl Serialize for JsonLabels<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("__name__", self.0.name.as_ref())?;
        for label in self.0.labels() {
            map.serialize_entry(label.name.as_ref(), label.value.as_ref())?;
        }
        map.end()
    }
}
