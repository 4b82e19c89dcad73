//! A node_exporter scrape workload for WAL size and speed measurements,
//! shared by `tests/wal_bytes_per_sample.rs` and `benches/wal.rs`.
//!
//! The series are those of the real body in `tests/data/node_exporter.prom`
//! (parsed with `tern::exposition`, plus `job` and `instance`). Each scrape
//! moves the values as a live exporter's do every 15 s: integer counters
//! grow by small steps (about half of them do not move), float counters
//! (CPU seconds, `_sum`) grow by centisecond-rounded amounts, gauges mostly
//! stay and sometimes move by a page or a fraction of a percent.

// Each user (test, bench) uses part of it.
#![allow(dead_code)]

use tern::exposition::{Entry, Format, MetricType, Parser};
use tern::labels::Labels;
use tern::labels::{Series as WalSeries, SharedSeries};
use tern::scrape::SeriesSample;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    IntCounter,
    FloatCounter,
    Gauge,
}

struct Series {
    series: SharedSeries,
    kind: Kind,
    value: f64,
}

pub struct Workload {
    series: Vec<Series>,
    rng: u64,
    pub timestamp_ms: i64,
    /// Share of integer counters that stay between scrapes (0.5).
    pub counter_stay: f64,
    /// Share of gauges that stay between scrapes (0.85).
    pub gauge_stay: f64,
}

pub fn node_exporter_body() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/node_exporter.prom");
    std::fs::read(path).expect("tests/data/node_exporter.prom")
}

fn kind_of(family: MetricType, name: &str, value: f64) -> Kind {
    let integral = value.fract() == 0.0;
    match family {
        MetricType::Counter | MetricType::Histogram | MetricType::Summary
            if name.ends_with("_sum") || !integral =>
        {
            Kind::FloatCounter
        }
        MetricType::Counter => Kind::IntCounter,
        MetricType::Histogram | MetricType::Summary
            if name.ends_with("_count") || name.ends_with("_bucket") =>
        {
            Kind::IntCounter
        }
        _ => Kind::Gauge,
    }
}

impl Workload {
    /// The node_exporter series for one target.
    pub fn new(instance: &str) -> Self {
        let body = node_exporter_body();
        let mut family = MetricType::Unknown;
        let mut series = Vec::new();
        for entry in Parser::new(Format::Text, &body) {
            match entry.expect("fixture parses") {
                Entry::Type { kind, .. } => family = kind,
                Entry::Sample(s) => {
                    let mut pairs: Vec<(String, String)> = vec![
                        ("__name__".into(), s.name.to_string()),
                        ("job".into(), "node".into()),
                        ("instance".into(), instance.into()),
                    ];
                    pairs.extend(s.labels().map(|l| (l.name.into_owned(), l.value.into_owned())));
                    let labels = SharedSeries::new(WalSeries::new(Labels::from_pairs(pairs)));
                    let kind = kind_of(family, &s.name, s.value);
                    series.push(Series { series: labels, kind, value: s.value });
                }
                _ => {}
            }
        }
        Workload {
            series,
            rng: 0x9e37_79b9_7f4a_7c15,
            timestamp_ms: 1_700_000_000_000,
            counter_stay: 0.5,
            gauge_stay: 0.85,
        }
    }

    pub fn series(&self) -> usize {
        self.series.len()
    }

    /// How many series are integer counters, float counters and gauges.
    pub fn kinds(&self) -> [usize; 3] {
        let count = |k| self.series.iter().filter(|s| s.kind == k).count();
        [count(Kind::IntCounter), count(Kind::FloatCounter), count(Kind::Gauge)]
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: deterministic, no dependency.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next scrape (15 s later) into `out` (cleared first).
    pub fn scrape_into(&mut self, out: &mut Vec<SeriesSample>) {
        out.clear();
        self.timestamp_ms += 15_000;
        for i in 0..self.series.len() {
            let (kind, v) = (self.series[i].kind, self.series[i].value);
            let moves = self.unit();
            let step = self.unit();
            let value = match kind {
                Kind::IntCounter if moves < self.counter_stay => v,
                Kind::IntCounter => v + 1.0 + (step * (v * 2e-4).max(8.0)).floor(),
                Kind::FloatCounter => ((v + step * 7.5) * 100.0).round() / 100.0,
                Kind::Gauge if moves < self.gauge_stay => v,
                Kind::Gauge if v.fract() == 0.0 && v.abs() >= 1e5 => {
                    v + 4096.0 * (step * 64.0 - 32.0).round()
                }
                Kind::Gauge if v.fract() == 0.0 => v + (step * 4.0 - 2.0).round(),
                Kind::Gauge => v * (1.0 + (step - 0.5) * 0.01),
            };
            let s = &mut self.series[i];
            s.value = value;
            out.push(SeriesSample {
                series: s.series.clone(),
                timestamp_ms: self.timestamp_ms,
                value,
            });
        }
    }
}
