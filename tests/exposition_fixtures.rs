//! Bodies captured from real exporters, parsed by tern and compared sample by
//! sample with an independent parse (prometheus_client's parsers, see
//! `tests/data/README.md`).

mod support;

use support::{data, read_json_lines, same_value, ExpectedSample};
use tern::exposition::{Entry, Format, Parser};

fn parse_fixture(name: &str, format: Format) -> Vec<ExpectedSample> {
    let body = std::fs::read(data(name)).unwrap();
    Parser::new(format, &body)
        .filter_map(|e| match e.unwrap_or_else(|e| panic!("{name}: {e}")) {
            Entry::Sample(s) => Some(ExpectedSample {
                labels: std::iter::once(("__name__".to_owned(), s.name.to_string()))
                    .chain(s.labels().map(|l| (l.name.into_owned(), l.value.into_owned())))
                    .collect(),
                value: s.value,
                timestamp_ms: s.timestamp_ms,
            }),
            _ => None,
        })
        .collect()
}

#[track_caller]
fn check(name: &str, format: Format, min_samples: usize) {
    let got = parse_fixture(name, format);
    let want_text = std::fs::read_to_string(data(&format!("{name}.expected.jsonl"))).unwrap();
    let want = read_json_lines(&want_text);
    assert!(want.len() >= min_samples, "{name}: only {} expected samples", want.len());
    assert_eq!(got.len(), want.len(), "{name}: sample count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        // A label set has no order; serde_json's map sorts the expected side.
        let (mut gl, mut wl) = (g.labels.clone(), w.labels.clone());
        gl.sort();
        wl.sort();
        assert_eq!(gl, wl, "{name}: labels of sample {i}");
        assert!(
            same_value(g.value, w.value),
            "{name}: value of sample {i} {:?}: got {}, want {}",
            g.labels,
            g.value,
            w.value
        );
        assert_eq!(g.timestamp_ms, w.timestamp_ms, "{name}: timestamp of sample {i}");
    }
    println!("{name}: {} samples agree", got.len());
}

#[test]
fn node_exporter_body_parses_to_the_expected_samples() {
    check("node_exporter.prom", Format::Text, 500);
}

#[test]
fn python_client_text_body_parses_to_the_expected_samples() {
    check("python_client.prom", Format::Text, 80);
}

#[test]
fn python_client_openmetrics_body_parses_to_the_expected_samples() {
    check("python_client.om", Format::OpenMetrics, 80);
}

#[test]
fn java_trailing_comma_body_parses_to_the_expected_samples() {
    check("java_trailing_comma.prom", Format::Text, 15);
}
