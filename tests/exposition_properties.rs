//! Property tests: random families rendered to the text format parse back to
//! the same samples and metadata; arbitrary bytes never panic either parser.

use proptest::prelude::*;
use tern::exposition::{format_value, group_families, Entry, Format, MetricType, Parser};

#[derive(Debug, Clone)]
struct GenSample {
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone)]
struct GenFamily {
    name: String,
    kind: MetricType,
    help: Option<String>,
    samples: Vec<GenSample>,
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
    ]
}

fn label_set() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map(
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        "\\PC{0,12}|[\\\\\"\n{},= ]{0,6}",
        0..5,
    )
    .prop_map(|m| m.into_iter().filter(|(k, _)| !k.starts_with("__")).collect())
}

fn sample() -> impl Strategy<Value = GenSample> {
    (label_set(), value(), proptest::option::of(0i64..i64::MAX))
        .prop_map(|(labels, value, timestamp_ms)| GenSample { labels, value, timestamp_ms })
}

fn family() -> impl Strategy<Value = GenFamily> {
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,16}",
        prop_oneof![Just(MetricType::Counter), Just(MetricType::Gauge), Just(MetricType::Unknown)],
        proptest::option::of("\\PC{0,20}|[\\\\\n a]{0,5}"),
        proptest::collection::vec(sample(), 1..4),
    )
        .prop_map(|(name, kind, help, samples)| GenFamily { name, kind, help, samples })
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Renders families as the text format, with the liberties real clients take
/// (trailing commas, blanks around tokens) chosen by `style`.
fn render(families: &[GenFamily], style: u8) -> String {
    let mut out = String::new();
    for (i, f) in families.iter().enumerate() {
        if let Some(help) = &f.help {
            out +=
                &format!("# HELP {} {}\n", f.name, help.replace('\\', "\\\\").replace('\n', "\\n"));
        }
        let kind = match f.kind {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            _ => "untyped",
        };
        out += &format!("# TYPE {} {kind}\n", f.name);
        if style & 1 == 1 {
            out += &format!("# a comment for family {i}\n\n");
        }
        for s in &f.samples {
            let sep = if style & 2 == 2 { " , " } else { "," };
            let labels: Vec<String> =
                s.labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let mut set = labels.join(sep);
            if style & 4 == 4 && !labels.is_empty() {
                set.push(',');
            }
            let braces = if labels.is_empty() && style & 8 == 0 {
                String::new()
            } else {
                format!("{{{set}}}")
            };
            let ts = s.timestamp_ms.map(|t| format!(" {t}")).unwrap_or_default();
            let blank = if style & 16 == 16 { " \t" } else { " " };
            out += &format!("{}{braces}{blank}{}{ts}\n", f.name, format_value(s.value));
        }
    }
    out
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn rendered_families_parse_back_to_the_same_samples(
        families in proptest::collection::vec(family(), 1..5),
        style in 0u8..32,
    ) {
        // Distinct family names, so that grouping is unambiguous.
        let mut seen = std::collections::HashSet::new();
        let families: Vec<_> = families.into_iter().filter(|f| seen.insert(f.name.clone())).collect();
        let body = render(&families, style);
        let parsed = group_families(Parser::new(Format::Text, body.as_bytes()))
            .map_err(|e| TestCaseError::fail(format!("{e} in body:\n{body}")))?;
        prop_assert_eq!(parsed.len(), families.len(), "families in body:\n{}", body);
        for (p, f) in parsed.iter().zip(&families) {
            prop_assert_eq!(p.name.as_ref(), f.name.as_str());
            prop_assert_eq!(p.kind, f.kind);
            prop_assert_eq!(p.help.as_deref(), f.help.as_deref());
            prop_assert_eq!(p.samples.len(), f.samples.len());
            for (ps, fs) in p.samples.iter().zip(&f.samples) {
                let labels: Vec<(String, String)> =
                    ps.labels().map(|l| (l.name.into_owned(), l.value.into_owned())).collect();
                prop_assert_eq!(&labels, &fs.labels);
                prop_assert!(same_value(ps.value, fs.value), "{} vs {}", ps.value, fs.value);
                prop_assert_eq!(ps.timestamp_ms, fs.timestamp_ms);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        for format in [Format::Text, Format::OpenMetrics] {
            for entry in Parser::new(format, &body) {
                if let Ok(Entry::Sample(s)) = entry {
                    let _ = s.labels().count();
                }
            }
        }
    }

    #[test]
    fn exposition_like_noise_never_panics(body in "[a-z_{}=\",# \n\\\\0-9.+-]{0,200}") {
        for format in [Format::Text, Format::OpenMetrics] {
            for entry in Parser::new(format, body.as_bytes()) {
                if let Ok(Entry::Sample(s)) = entry {
                    let _ = s.labels().count();
                }
            }
        }
    }
}
