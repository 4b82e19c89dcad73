//! The samples of one host collection, grouped into metric families and
//! rendered in the Prometheus text format 0.0.4 as node_exporter prints them
//! (client_golang's gatherer and `expfmt`): `# HELP` and `# TYPE` per family,
//! families sorted by name, labels sorted by name within a series, series
//! sorted by their label values in that order, values as Go's
//! `FormatFloat(v, 'g', -1, 64)`.

use std::collections::BTreeMap;

use crate::exposition::format_value;

/// A family's type as printed on its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Untyped,
    /// Only through [`MetricSet::push_histogram`].
    Histogram,
    /// Only through [`MetricSet::push_summary`].
    Summary,
}

impl Kind {
    /// The word on the `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
        }
    }
}

/// One family: metadata from its first sample, then its series.
#[derive(Debug, Clone)]
struct Family {
    help: String,
    kind: Kind,
    series: Vec<Series>,
}

#[derive(Debug, Clone)]
struct Series {
    /// Sorted by name when pushed (without `le` or `quantile`).
    labels: Vec<(String, String)>,
    part: Part,
    value: f64,
}

/// Which sample of a metric a series is: the plain value, or one part of a
/// histogram or summary (rendered in this order, as client_golang does).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Part {
    Value,
    Bucket(f64),
    Quantile(f64),
    Sum,
    Count,
}

impl Part {
    fn rank(self) -> (u8, f64) {
        match self {
            Part::Value => (0, 0.0),
            Part::Bucket(b) | Part::Quantile(b) => (1, b),
            Part::Sum => (2, 0.0),
            Part::Count => (3, 0.0),
        }
    }
}

/// The samples of one collection, grouped into families.
#[derive(Debug, Default, Clone)]
pub struct MetricSet {
    families: BTreeMap<String, Family>,
}

impl MetricSet {
    /// Adds one sample. `help` and `kind` are taken from the first sample of a
    /// family. Labels in any order (they are sorted here); values are escaped
    /// by the renderer.
    pub fn push(
        &mut self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.push_part(name, help, kind, labels, Part::Value, value);
    }

    /// Adds one histogram: cumulative `buckets` as (upper bound, count),
    /// rendered in bound order, then `_sum` and `_count`.
    pub fn push_histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        buckets: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        for &(le, n) in buckets {
            self.push_part(name, help, Kind::Histogram, labels, Part::Bucket(le), n);
        }
        self.push_part(name, help, Kind::Histogram, labels, Part::Sum, sum);
        self.push_part(name, help, Kind::Histogram, labels, Part::Count, count);
    }

    /// Adds one summary: `quantiles` as (quantile, value), then `_sum` and
    /// `_count`.
    pub fn push_summary(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        quantiles: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        for &(q, v) in quantiles {
            self.push_part(name, help, Kind::Summary, labels, Part::Quantile(q), v);
        }
        self.push_part(name, help, Kind::Summary, labels, Part::Sum, sum);
        self.push_part(name, help, Kind::Summary, labels, Part::Count, count);
    }

    /// The help and kind of family `name`, if any sample was pushed.
    pub fn family_meta(&self, name: &str) -> Option<(&str, Kind)> {
        self.families.get(name).map(|f| (f.help.as_str(), f.kind))
    }

    /// Whether family `name` already has a metric with exactly these labels.
    pub fn contains(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.families
            .get(name)
            .is_some_and(|f| f.series.iter().any(|s| same_labels(&s.labels, labels)))
    }

    fn push_part(
        &mut self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
        part: Part,
        value: f64,
    ) {
        let family = match self.families.get_mut(name) {
            Some(f) => f,
            None => self.families.entry(name.to_owned()).or_insert_with(|| Family {
                help: help.to_owned(),
                kind,
                series: Vec::new(),
            }),
        };
        let mut labels: Vec<(String, String)> =
            labels.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        family.series.push(Series { labels, part, value });
    }

    /// Whether no sample was pushed.
    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// The number of series over all families.
    pub fn len(&self) -> usize {
        self.families.values().map(|f| f.series.len()).sum()
    }

    /// The family names, sorted.
    pub fn family_names(&self) -> impl Iterator<Item = &str> {
        self.families.keys().map(String::as_str)
    }

    /// The value of the series `name{labels}` (labels in any order), if pushed.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let family = self.families.get(name)?;
        family.series.iter().find(|s| same_labels(&s.labels, labels)).map(|s| s.value)
    }

    /// Appends the text-format rendering to `out`.
    pub fn render_text(&self, out: &mut Vec<u8>) {
        let mut order: Vec<usize> = Vec::new();
        for (name, family) in &self.families {
            out.extend_from_slice(b"# HELP ");
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            escape_help(&family.help, out);
            out.extend_from_slice(b"\n# TYPE ");
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            out.extend_from_slice(family.kind.as_str().as_bytes());
            out.push(b'\n');
            order.clear();
            order.extend(0..family.series.len());
            order.sort_by(|&a, &b| {
                let (a, b) = (&family.series[a], &family.series[b]);
                let by_labels = a.labels.iter().map(|l| &l.1).cmp(b.labels.iter().map(|l| &l.1));
                by_labels.then_with(|| {
                    a.part.rank().partial_cmp(&b.part.rank()).unwrap_or(std::cmp::Ordering::Equal)
                })
            });
            for &i in &order {
                render_series(name, &family.series[i], out);
            }
        }
    }

    /// The text-format rendering as a string.
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        self.render_text(&mut out);
        String::from_utf8(out).expect("BUG: rendered from UTF-8 strings")
    }
}

fn same_labels(have: &[(String, String)], want: &[(&str, &str)]) -> bool {
    have.len() == want.len()
        && want.iter().all(|(n, v)| have.iter().any(|(hn, hv)| hn == n && hv == v))
}

fn render_series(name: &str, series: &Series, out: &mut Vec<u8>) {
    out.extend_from_slice(name.as_bytes());
    let (suffix, extra) = match series.part {
        Part::Value => ("", None),
        Part::Bucket(le) => ("_bucket", Some(("le", le))),
        Part::Quantile(q) => ("", Some(("quantile", q))),
        Part::Sum => ("_sum", None),
        Part::Count => ("_count", None),
    };
    out.extend_from_slice(suffix.as_bytes());
    if !series.labels.is_empty() || extra.is_some() {
        out.push(b'{');
        for (i, (n, v)) in series.labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b"=\"");
            escape_label_value(v, out);
            out.push(b'"');
        }
        // client_golang appends `le` and `quantile` after the sorted labels.
        if let Some((n, v)) = extra {
            if !series.labels.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b"=\"");
            out.extend_from_slice(format_value(v).as_bytes());
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b' ');
    out.extend_from_slice(format_value(series.value).as_bytes());
    out.push(b'\n');
}

/// HELP text: `\` and newline escaped (text format 0.0.4).
fn escape_help(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Label values: `\`, `"` and newline escaped (text format 0.0.4).
fn escape_label_value(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_sorted_with_help_type_and_sorted_series() {
        let mut set = MetricSet::default();
        set.push("node_b", "B help.", Kind::Counter, &[("mode", "user"), ("cpu", "1")], 2.5);
        set.push("node_b", "ignored", Kind::Gauge, &[("cpu", "0"), ("mode", "idle")], 1e6);
        set.push("node_a", "A \\ help\nline.", Kind::Gauge, &[("v", "a\"b\\c\nd")], f64::NAN);
        set.push("node_c", "C.", Kind::Untyped, &[], f64::INFINITY);
        let want = "# HELP node_a A \\\\ help\\nline.\n# TYPE node_a gauge\n\
                    node_a{v=\"a\\\"b\\\\c\\nd\"} NaN\n\
                    # HELP node_b B help.\n# TYPE node_b counter\n\
                    node_b{cpu=\"0\",mode=\"idle\"} 1e+06\n\
                    node_b{cpu=\"1\",mode=\"user\"} 2.5\n\
                    # HELP node_c C.\n# TYPE node_c untyped\nnode_c +Inf\n";
        assert_eq!(set.to_text(), want);
        assert_eq!(set.len(), 4);
        assert_eq!(set.get("node_b", &[("mode", "idle"), ("cpu", "0")]), Some(1e6));
        assert_eq!(set.get("node_b", &[("cpu", "0")]), None);
    }

    #[test]
    fn renders_histograms_and_summaries_in_client_golang_order() {
        let mut set = MetricSet::default();
        set.push_histogram("h", "H.", &[("b", "2")], &[(f64::INFINITY, 3.0), (0.5, 1.0)], 2.0, 3.0);
        set.push_histogram("h", "H.", &[("b", "1")], &[(1.0, 1.0)], 1.0, 1.0);
        set.push_summary("s", "S.", &[], &[(0.9, 4.0)], 5.0, 6.0);
        let want = "# HELP h H.\n# TYPE h histogram\n\
                    h_bucket{b=\"1\",le=\"1\"} 1\nh_sum{b=\"1\"} 1\nh_count{b=\"1\"} 1\n\
                    h_bucket{b=\"2\",le=\"0.5\"} 1\nh_bucket{b=\"2\",le=\"+Inf\"} 3\n\
                    h_sum{b=\"2\"} 2\nh_count{b=\"2\"} 3\n\
                    # HELP s S.\n# TYPE s summary\ns{quantile=\"0.9\"} 4\ns_sum 5\ns_count 6\n";
        assert_eq!(set.to_text(), want);
    }

    #[test]
    fn rendering_parses_back_with_the_text_parser() {
        let mut set = MetricSet::default();
        set.push("node_x_total", "X.", Kind::Counter, &[("a", "\\\"")], 0.000_012_5);
        let text = set.to_text();
        let entries: Vec<_> = crate::exposition::text::TextParser::new(text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(entries.len(), 3);
    }
}
