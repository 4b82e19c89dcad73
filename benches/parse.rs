//! Parser throughput: MB/s and ns/sample on a real node_exporter body and on a
//! generated histogram-heavy body of 10,000 series.
//!
//! `parse` walks every entry and reads each value (what a scrape-cache hit
//! costs); `parse+labels` also reads every label of every sample (a cache miss).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tern::exposition::{Entry, Format, Parser};

fn node_exporter_body() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/node_exporter.prom");
    std::fs::read(path).expect("tests/data/node_exporter.prom")
}

/// 10,000 series: histograms of 11 buckets with 4 labels each, as an HTTP
/// server instrumented per route, method and status would expose.
pub fn histogram_body(series: usize) -> Vec<u8> {
    let bounds =
        ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
    let mut out = String::new();
    let mut n = 0;
    'families: for fam in 0.. {
        let name = format!("http_server_request_duration_seconds_{fam}");
        out += &format!("# HELP {name} Duration of HTTP requests.\n# TYPE {name} histogram\n");
        for combo in 0..16 {
            let labels = format!(
                "method=\"{}\",route=\"/api/v1/items/{combo}\",status=\"{}\",instance=\"10.0.0.{}:8080\"",
                ["GET", "POST"][combo % 2],
                200 + (combo % 3),
                combo
            );
            let mut cumulative = 0u64;
            for (i, le) in bounds.iter().enumerate() {
                cumulative += (i as u64 * 37 + combo as u64) % 101;
                out += &format!("{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}\n");
            }
            out += &format!("{name}_sum{{{labels}}} {}.{}\n", cumulative * 3, combo);
            out += &format!("{name}_count{{{labels}}} {cumulative}\n");
            n += bounds.len() + 2;
            if n >= series {
                break 'families;
            }
        }
    }
    out.into_bytes()
}

fn count_samples(format: Format, body: &[u8]) -> u64 {
    Parser::new(format, body).filter(|e| matches!(e, Ok(Entry::Sample(_)))).count() as u64
}

fn parse_values(format: Format, body: &[u8]) -> f64 {
    let mut sum = 0.0;
    for entry in Parser::new(format, body) {
        if let Entry::Sample(s) = entry.expect("bench body parses") {
            sum += s.value;
        }
    }
    sum
}

fn parse_with_labels(format: Format, body: &[u8]) -> usize {
    let mut n = 0;
    for entry in Parser::new(format, body) {
        if let Entry::Sample(s) = entry.expect("bench body parses") {
            n += s.series.len();
            for l in s.labels() {
                n += l.name.len() + l.value.len();
            }
        }
    }
    n
}

fn bench_body(c: &mut Criterion, name: &str, format: Format, body: &[u8]) {
    let samples = count_samples(format, body);
    for (unit, throughput) in [
        ("bytes", Throughput::Bytes(body.len() as u64)),
        ("samples", Throughput::Elements(samples)),
    ] {
        let mut group = c.benchmark_group(format!("{name}/{unit}"));
        group.throughput(throughput);
        group.bench_function("parse", |b| b.iter(|| parse_values(format, black_box(body))));
        group.bench_function("parse+labels", |b| {
            b.iter(|| parse_with_labels(format, black_box(body)))
        });
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    bench_body(c, "node_exporter", Format::Text, &node_exporter_body());
    let histograms = histogram_body(10_000);
    bench_body(c, "histograms_10k", Format::Text, &histograms);
    let mut om = histograms;
    om.extend_from_slice(b"# EOF\n");
    bench_body(c, "histograms_10k_openmetrics", Format::OpenMetrics, &om);
}

criterion_group!(parse, benches);
criterion_main!(parse);
