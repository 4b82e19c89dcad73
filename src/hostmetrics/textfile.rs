//! The `textfile` collector, as node_exporter 1.5's `textfile.go`: every
//! `*.prom` file of the directory (`--collector.textfile.directory`, a glob
//! pattern allowed), parsed with tern's own text-format parser.
//!
//! The default directory is Debian 1.5's [`DEFAULT_DIRECTORY`]; upstream has
//! none (an empty `--collector.textfile.directory`).
//!
//! Behaviour kept from node_exporter 1.5:
//! - Without a directory only `node_textfile_scrape_error 0` is reported.
//! - A directory that cannot be read, a file that does not parse, or a file
//!   with client-side timestamps sets `node_textfile_scrape_error 1` and is
//!   logged; the whole file is skipped, other files still count.
//! - Each file read successfully gets `node_textfile_mtime_seconds{file}`
//!   (the full path, whole seconds).
//! - A family without `# HELP` gets "Metric read from <path>".
//! - Within a family of one file, every series carries the union of the
//!   family's label names, missing ones as "".
//! - Families are merged by name across files; a family whose HELP or TYPE
//!   differs from the first file's, and a series already seen, are dropped
//!   and logged (client_golang's gatherer does the same at exposition time;
//!   neither sets the error gauge).
//!
//! Where tern's parser (Prometheus' scrape grammar) and node_exporter's
//! (`expfmt.TextParser`) differ on a malformed file, the file is still skipped
//! as a whole with the error gauge set; only the exact set of refused files
//! may differ.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::exposition::{group_families, text::TextParser, Family, MetricType};

use super::{Collector, CollectorError, Context, Kind, MetricSet};

/// Debian's node_exporter 1.5 default `--collector.textfile.directory`
/// (upstream's is empty: no directory).
pub const DEFAULT_DIRECTORY: &str = "/var/lib/prometheus/node-exporter";

/// The `textfile` collector.
#[derive(Debug, Default)]
pub struct Textfile;

/// Why one `.prom` file was skipped.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("failed to open textfile data file {path:?}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("failed to parse textfile data from {path:?}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("textfile {path:?} contains unsupported client-side timestamps, skipping entire file")]
    Timestamps { path: PathBuf },
}

/// One metric of a parsed file, ready to push.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    Value { labels: Vec<(String, String)>, value: f64 },
    Histogram { labels: Vec<(String, String)>, buckets: Vec<(f64, f64)>, sum: f64, count: f64 },
    Summary { labels: Vec<(String, String)>, quantiles: Vec<(f64, f64)>, sum: f64, count: f64 },
}

/// One family of a parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFamily {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub metrics: Vec<Metric>,
}

/// Parses one `.prom` file's text. `path` is only used for the default
/// HELP and in errors.
pub fn parse_prom_file(path: &Path, text: &str) -> Result<Vec<FileFamily>, FileError> {
    let parse_err = |message: String| FileError::Parse { path: path.to_path_buf(), message };
    let families = group_families(TextParser::new(text.as_bytes()))
        .map_err(|e| parse_err(format!("text format parsing error in {e}")))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(families.len());
    for family in &families {
        if family.samples.iter().any(|s| s.timestamp_ms.is_some()) {
            return Err(FileError::Timestamps { path: path.to_path_buf() });
        }
        if !seen.insert(family.name.as_ref()) {
            return Err(parse_err(format!(
                "second HELP or TYPE line or samples apart for metric name {:?}",
                family.name
            )));
        }
        let help = family
            .help
            .as_deref()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("Metric read from {}", path.display()));
        out.push(convert(family, help).map_err(parse_err)?);
    }
    Ok(out)
}

fn labels_of(sample: &crate::exposition::Sample<'_>, skip: &str) -> Vec<(String, String)> {
    sample
        .labels()
        .filter(|l| l.name != skip)
        .map(|l| (l.name.into_owned(), l.value.into_owned()))
        .collect()
}

/// Fills in the family's missing label names with "" (node_exporter's
/// `convertMetricFamily`).
fn fill_union(metrics: &mut [Metric]) {
    let label_set = |m: &Metric| match m {
        Metric::Value { labels, .. }
        | Metric::Histogram { labels, .. }
        | Metric::Summary { labels, .. } => {
            labels.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
        }
    };
    let all: BTreeSet<String> = metrics.iter().flat_map(label_set).collect();
    for m in metrics {
        let (Metric::Value { labels, .. }
        | Metric::Histogram { labels, .. }
        | Metric::Summary { labels, .. }) = m;
        for name in &all {
            if !labels.iter().any(|(n, _)| n == name) {
                labels.push((name.clone(), String::new()));
            }
        }
    }
}

fn convert(family: &Family<'_>, help: String) -> Result<FileFamily, String> {
    let name = family.name.to_string();
    let (kind, mut metrics) = match family.kind {
        MetricType::Histogram => (Kind::Histogram, grouped(family, "le")?),
        MetricType::Summary => (Kind::Summary, grouped(family, "quantile")?),
        other => {
            let kind = match other {
                MetricType::Counter => Kind::Counter,
                MetricType::Gauge => Kind::Gauge,
                _ => Kind::Untyped,
            };
            let mut metrics = Vec::with_capacity(family.samples.len());
            for s in &family.samples {
                if s.name != family.name {
                    return Err(format!(
                        "sample {:?} does not belong to family {:?}",
                        s.name, family.name
                    ));
                }
                metrics.push(Metric::Value { labels: labels_of(s, ""), value: s.value });
            }
            (kind, metrics)
        }
    };
    fill_union(&mut metrics);
    Ok(FileFamily { name, help, kind, metrics })
}

/// Histogram or summary samples grouped by their labels without `le` or
/// `quantile`, in first-seen order.
fn grouped(family: &Family<'_>, bound_label: &str) -> Result<Vec<Metric>, String> {
    type Parts = (Vec<(f64, f64)>, f64, f64);
    let mut order: Vec<Vec<(String, String)>> = Vec::new();
    let mut parts: BTreeMap<Vec<(String, String)>, Parts> = BTreeMap::new();
    for s in &family.samples {
        let mut labels = labels_of(s, bound_label);
        labels.sort();
        let entry = parts.entry(labels.clone()).or_insert_with(|| {
            order.push(labels);
            (Vec::new(), 0.0, 0.0)
        });
        let suffix = &s.name[family.name.len()..];
        match suffix {
            "_sum" => entry.1 = s.value,
            "_count" => entry.2 = s.value,
            "_bucket" | "" => {
                let want_suffix = if bound_label == "le" { "_bucket" } else { "" };
                if suffix != want_suffix {
                    return Err(format!(
                        "unexpected sample {:?} in family {:?}",
                        s.name, family.name
                    ));
                }
                let bound = s
                    .labels()
                    .find(|l| l.name == bound_label)
                    .ok_or_else(|| format!("sample {:?} lacks label {bound_label:?}", s.name))?;
                let bound = bound
                    .value
                    .parse::<f64>()
                    .ok()
                    .ok_or_else(|| format!("invalid {bound_label} value {:?}", bound.value))?;
                entry.0.push((bound, s.value));
            }
            _ => return Err(format!("unexpected sample {:?} in family {:?}", s.name, family.name)),
        }
    }
    let histogram = bound_label == "le";
    Ok(order
        .into_iter()
        .map(|labels| {
            let (mut bounds, sum, count) = parts.remove(&labels).expect("BUG: grouped labels");
            bounds.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            if histogram {
                Metric::Histogram { labels, buckets: bounds, sum, count }
            } else {
                Metric::Summary { labels, quantiles: bounds, sum, count }
            }
        })
        .collect())
}

/// Pushes one file's families, dropping families whose metadata conflicts
/// with what earlier files gave and series already seen.
fn push_families(path: &Path, families: Vec<FileFamily>, out: &mut MetricSet) {
    for family in families {
        if let Some((help, kind)) = out.family_meta(&family.name) {
            if help != family.help || kind != family.kind {
                tracing::error!(
                    metric = %family.name, file = %path.display(), help = %family.help, first_help = %help,
                    "metric has a HELP or TYPE different from an earlier textfile; dropped"
                );
                continue;
            }
        }
        for metric in family.metrics {
            let (Metric::Value { labels, .. }
            | Metric::Histogram { labels, .. }
            | Metric::Summary { labels, .. }) = &metric;
            let labels: Vec<(&str, &str)> =
                labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            if out.contains(&family.name, &labels) {
                tracing::error!(metric = %family.name, file = %path.display(), "series was collected before with the same name and label values; dropped");
                continue;
            }
            match &metric {
                Metric::Value { value, .. } => {
                    out.push(&family.name, &family.help, family.kind, &labels, *value)
                }
                Metric::Histogram { buckets, sum, count, .. } => {
                    out.push_histogram(&family.name, &family.help, &labels, buckets, *sum, *count)
                }
                Metric::Summary { quantiles, sum, count, .. } => {
                    out.push_summary(&family.name, &family.help, &labels, quantiles, *sum, *count)
                }
            }
        }
    }
}

/// Reads, parses and stats one file; nothing is pushed on error.
fn process_file(path: &Path) -> Result<(Vec<FileFamily>, f64), FileError> {
    let open_err = |source| FileError::Open { path: path.to_path_buf(), source };
    let text = std::fs::read_to_string(path).map_err(open_err)?;
    let families = parse_prom_file(path, &text)?;
    // Stat after parsing, so that a failed file never looks fresh.
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(open_err)?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as f64)
        .unwrap_or(0.0);
    Ok((families, mtime))
}

/// The directories named by the setting: the glob's matches, or the setting
/// itself when it is no pattern or matches nothing.
fn directories(setting: &Path) -> Vec<PathBuf> {
    let pattern = setting.to_string_lossy();
    let matches: Vec<PathBuf> = glob::glob(&pattern)
        .map(|paths| paths.filter_map(Result::ok).collect())
        .unwrap_or_default();
    if matches.is_empty() {
        vec![setting.to_path_buf()]
    } else {
        matches
    }
}

impl Collector for Textfile {
    fn name(&self) -> &'static str {
        "textfile"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let mut errored = false;
        let mut mtimes: BTreeMap<String, f64> = BTreeMap::new();
        for dir in ctx.textfile_directory.map(directories).unwrap_or_default() {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
                Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
                Err(e) => {
                    errored = true;
                    tracing::error!(path = %dir.display(), error = %e, "failed to read textfile collector directory");
                    continue;
                }
            };
            files.retain(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".prom")));
            files.sort();
            for path in files {
                match process_file(&path) {
                    Ok((families, mtime)) => {
                        push_families(&path, families, out);
                        mtimes.insert(path.display().to_string(), mtime);
                    }
                    Err(e) => {
                        errored = true;
                        tracing::error!(error = %e, "failed to collect textfile data");
                    }
                }
            }
        }
        for (file, mtime) in &mtimes {
            out.push(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                Kind::Gauge,
                &[("file", file)],
                *mtime,
            );
        }
        out.push(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
            Kind::Gauge,
            &[],
            if errored { 1.0 } else { 0.0 },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::{Context, Roots};

    fn collect(dir: Option<&Path>) -> MetricSet {
        let roots = Roots::default();
        let mut out = MetricSet::default();
        Textfile.update(&Context { roots: &roots, textfile_directory: dir }, &mut out).unwrap();
        out
    }

    #[test]
    fn without_a_directory_only_the_error_gauge_is_reported() {
        let out = collect(None);
        assert_eq!(out.to_text(), "# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise\n# TYPE node_textfile_scrape_error gauge\nnode_textfile_scrape_error 0\n");
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let out = collect(Some(Path::new("/nonexistent/tern-textfile")));
        assert_eq!(out.get("node_textfile_scrape_error", &[]), Some(1.0));
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn good_files_are_merged_and_bad_ones_skipped_as_node_exporter_does() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let w = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
        w("a.prom", "# HELP foo_total Foo help.\n# TYPE foo_total counter\nfoo_total{a=\"1\"} 3\n");
        w(
            "b.prom",
            "# HELP foo_total Other help.\n# TYPE foo_total counter\nfoo_total{a=\"2\"} 4\nbar 1\n",
        );
        w("c.prom", "baz{x=\"1\"} 1\nbaz{y=\"2\"} 2\n# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n");
        w("d.prom", "bad line here\n");
        w("e.prom", "ts 1 1000\n");
        w("f.txt", "x 1\n");
        let out = collect(Some(d));
        let text = out.to_text();
        let p = |n: &str| d.join(n).display().to_string();
        let want_body = format!(
            "# HELP bar Metric read from {b}\n# TYPE bar untyped\nbar 1\n\
             # HELP baz Metric read from {c}\n# TYPE baz untyped\nbaz{{x=\"\",y=\"2\"}} 2\nbaz{{x=\"1\",y=\"\"}} 1\n\
             # HELP foo_total Foo help.\n# TYPE foo_total counter\nfoo_total{{a=\"1\"}} 3\n\
             # HELP h Metric read from {c}\n# TYPE h histogram\nh_bucket{{le=\"1\"}} 1\nh_bucket{{le=\"+Inf\"}} 2\nh_sum 3\nh_count 2\n",
            b = p("b.prom"),
            c = p("c.prom"),
        );
        assert!(text.starts_with(&want_body), "{text}");
        assert_eq!(out.get("node_textfile_scrape_error", &[]), Some(1.0));
        assert!(out.get("node_textfile_mtime_seconds", &[("file", &p("a.prom"))]).is_some());
        assert!(out.get("node_textfile_mtime_seconds", &[("file", &p("d.prom"))]).is_none());
        assert!(out.get("node_textfile_mtime_seconds", &[("file", &p("e.prom"))]).is_none());
    }

    #[test]
    fn parse_errors_name_the_file_and_truncated_files_fail() {
        let path = Path::new("/x/t.prom");
        let err = parse_prom_file(path, "a{b=\"c\" 1\n").unwrap_err();
        assert!(err.to_string().contains("/x/t.prom"), "{err}");
        assert!(parse_prom_file(path, "# TYPE h histogram\nh_bucket 1\n").is_err());
        assert!(parse_prom_file(path, "a 1\nb 2\na 3\n").is_err());
        assert!(matches!(parse_prom_file(path, "a 1 5\n"), Err(FileError::Timestamps { .. })));
        assert!(parse_prom_file(path, "a{b=\"c").is_err());
        assert_eq!(parse_prom_file(path, "").unwrap(), vec![]);
    }
}
