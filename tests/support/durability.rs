//! What the durability tests (`tests/remote_durability.rs`) share: the
//! config and the small target body, reading the receiver's `up` samples,
//! the checks on scrape timestamps and series, and the WAL files on disk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::agent::AUTO_SERIES;
use super::prom_receiver::{PromReceiver, RangeSeries};
use super::target_server::TargetServer;
use super::tern_process::{Metrics, TernProcess};

pub const JOB: &str = "durability";
/// `scrape_interval` of every config here.
pub const INTERVAL_MS: i64 = 1000;
/// The longest wait for the receiver to hold an expected sample.
pub const DELIVERY_WITHIN: Duration = Duration::from_secs(40);
/// Wide enough for every sample of any test here.
pub const RANGE: &str = "15m";

/// Ten series with fixed values.
pub const SMALL_BODY: &str = "\
# HELP durability_gauge A gauge per i.
# TYPE durability_gauge gauge
durability_gauge{i=\"0\"} 0.5
durability_gauge{i=\"1\"} 1.5
durability_gauge{i=\"2\"} 2.5
durability_gauge{i=\"3\"} 3.5
durability_gauge{i=\"4\"} 4.5
durability_gauge{i=\"5\"} 5.5
durability_gauge{i=\"6\"} 6.5
durability_gauge{i=\"7\"} 7.5
# HELP durability_requests_total Requests by code.
# TYPE durability_requests_total counter
durability_requests_total{code=\"200\"} 1027
durability_requests_total{code=\"500\"} 3
";

/// `SMALL_BODY`'s series plus the automatic ones.
pub const SMALL_SERIES: usize = 10 + AUTO_SERIES.len();

/// One job scraping `target`, one `remote_write` endpoint; `extra` holds
/// more top-level YAML.
pub fn config(target: &TargetServer, receiver: &PromReceiver, extra: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [\"{}\"]\n\
         remote_write:\n  - url: {}\n    name: receiver\n{extra}",
        target.addr,
        receiver.write_url(),
    )
}

/// The receiver's `up` timestamps of the job, in order.
pub async fn up_timestamps(receiver: &PromReceiver) -> Vec<i64> {
    let series = receiver.range(&format!("up{{job=\"{JOB}\"}}[{RANGE}]")).await;
    match series.as_slice() {
        [] => Vec::new(),
        [(_, samples)] => {
            assert!(samples.iter().all(|(_, v)| *v == 1.0), "up != 1: {samples:?}");
            samples.iter().map(|(t, _)| *t).collect()
        }
        more => {
            panic!("one up series expected: {:?}", more.iter().map(|s| &s.0).collect::<Vec<_>>())
        }
    }
}

/// Waits until the receiver holds an `up` sample at or after `ts_ms`;
/// returns every `up` timestamp.
pub async fn wait_for_up_at(receiver: &PromReceiver, ts_ms: i64, tern: &TernProcess) -> Vec<i64> {
    let deadline = Instant::now() + DELIVERY_WITHIN;
    loop {
        let up = up_timestamps(receiver).await;
        if up.last().is_some_and(|t| *t >= ts_ms) {
            return up;
        }
        assert!(
            Instant::now() < deadline,
            "receiver has no up sample at or after {ts_ms} within {DELIVERY_WITHIN:?} \
             (newest: {:?}); tern metrics:\n{}\ntern log:\n{}",
            up.last(),
            tern.metrics().await.dump("prometheus_remote_storage"),
            tern.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `count` series of `selector` each hold a sample at `ts_ms`,
/// then returns them all. `up` travels in one shard and a scrape's other
/// series may be spread over several, so `up` having arrived does not mean
/// every shard's batch has; each series arrives in timestamp order, so one
/// holding `ts_ms` holds everything before it that was sent.
pub async fn wait_for_series_at(
    receiver: &PromReceiver,
    selector: &str,
    ts_ms: i64,
    count: usize,
) -> Vec<RangeSeries> {
    let deadline = Instant::now() + DELIVERY_WITHIN;
    loop {
        let all = receiver.range(selector).await;
        let at = all.iter().filter(|(_, s)| s.iter().any(|(t, _)| *t == ts_ms)).count();
        if at >= count || Instant::now() >= deadline {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A span during which no tern ran: killed, then the next one spawned and
/// ready.
#[derive(Debug, Clone, Copy)]
pub struct Downtime {
    pub killed_ms: i64,
    pub spawned_ms: i64,
    pub ready_ms: i64,
}

/// Consecutive timestamps are about one interval apart: never closer than
/// half of it, never further than 1.5x, except across downtimes, where the
/// last scrape before the first of them is at most 1.5 intervals before its
/// kill and the first scrape after the last of them at most 1.5 intervals
/// after that process was ready. (A gap spans several downtimes when a run
/// between them made no scrape; the callers check each run's count.)
#[track_caller]
pub fn assert_regular(ts: &[i64], downtimes: &[Downtime]) {
    let max_gap = INTERVAL_MS * 3 / 2;
    for w in ts.windows(2) {
        let (a, b) = (w[0], w[1]);
        assert!(b - a >= INTERVAL_MS / 2, "scrapes {a} and {b} are {} ms apart", b - a);
        if b - a <= max_gap {
            continue;
        }
        let within: Vec<&Downtime> =
            downtimes.iter().filter(|d| a <= d.killed_ms && d.spawned_ms <= b).collect();
        let (Some(first), Some(last)) = (within.first(), within.last()) else {
            panic!("gap of {} ms between scrapes {a} and {b} while tern was running", b - a);
        };
        let killed = first.killed_ms;
        assert!(a >= killed - max_gap, "scrapes missing before the kill at {killed}: last {a}");
        let ready = last.ready_ms;
        assert!(b <= ready + max_gap, "scrapes missing after the start at {ready}: first {b}");
    }
    for d in downtimes {
        let inside: Vec<_> =
            ts.iter().filter(|t| **t > d.killed_ms && **t < d.spawned_ms).collect();
        assert!(inside.is_empty(), "samples while no tern ran ({d:?}): {inside:?}");
    }
}

/// Every series of the small body (and the automatic ones) holds exactly the
/// scrape timestamps `want` within `[from, to]`, with the body's values.
#[track_caller]
pub fn assert_small_series_complete(all: &[RangeSeries], want: &[i64], from: i64, to: i64) {
    let names: BTreeSet<String> = all.iter().map(|(l, _)| l["__name__"].clone()).collect();
    assert_eq!(all.len(), SMALL_SERIES, "series at the receiver: {names:?}");
    for (labels, samples) in all {
        let got: Vec<i64> =
            samples.iter().map(|(t, _)| *t).filter(|t| (from..=to).contains(t)).collect();
        assert_eq!(got, want, "timestamps of {labels:?}");
        let name = labels["__name__"].as_str();
        let want_value = match name {
            "durability_gauge" => Some(labels["i"].parse::<f64>().unwrap() + 0.5),
            "durability_requests_total" if labels["code"] == "200" => Some(1027.0),
            "durability_requests_total" => Some(3.0),
            "up" | "scrape_samples_scraped" | "scrape_samples_post_metric_relabeling" => {
                Some(if name == "up" { 1.0 } else { 10.0 })
            }
            _ => None,
        };
        if let Some(v) = want_value {
            assert!(samples.iter().all(|(_, got)| *got == v), "values of {labels:?}: {samples:?}");
        }
    }
}

/// Waits until the receiver holds the newest scrape of `want` for every
/// small series, then checks them all (see [`assert_small_series_complete`]).
pub async fn assert_small_series_delivered(
    receiver: &PromReceiver,
    want: &[i64],
    from: i64,
    to: i64,
) {
    let newest = *want.last().expect("BUG: no scrapes to check");
    let selector = format!("{{job=\"{JOB}\"}}[{RANGE}]");
    let all = wait_for_series_at(receiver, &selector, newest, SMALL_SERIES).await;
    assert_small_series_complete(&all, want, from, to);
}

/// The counters that say what was retried, failed or dropped, one per line.
pub fn send_report(m: &Metrics) -> String {
    [
        "prometheus_remote_storage_samples_total",
        "prometheus_remote_storage_samples_retried_total",
        "prometheus_remote_storage_samples_failed_total",
        "prometheus_remote_storage_samples_dropped_total",
        "tern_wal_segments_dropped_total",
        "tern_wal_samples_dropped_total",
    ]
    .iter()
    .map(|n| {
        let reasons: Vec<String> =
            m.0.iter()
                .filter(|s| s.name == *n && s.value > 0.0)
                .filter_map(|s| Some(format!("{}: {}", s.labels.get("reason")?, s.value)))
                .collect();
        match reasons.is_empty() {
            true => format!("  {n} = {}", m.sum(n)),
            false => format!("  {n} = {} ({})", m.sum(n), reasons.join(", ")),
        }
    })
    .collect::<Vec<_>>()
    .join("\n")
}

pub async fn receiver_rejections(receiver: &PromReceiver) -> String {
    let mut lines = receiver.own_metrics("prometheus_tsdb_out_of_").await;
    lines.extend(receiver.own_metrics("prometheus_tsdb_too_old").await);
    lines.iter().map(|l| format!("  receiver: {l}")).collect::<Vec<_>>().join("\n")
}

/// SIGKILLs `tern`; returns when it was spawned, ready and killed.
pub fn tern_kill(tern: TernProcess) -> (SystemTime, SystemTime, SystemTime) {
    let (spawned, ready) = (tern.spawned, tern.ready);
    (spawned, ready, tern.kill9())
}

/// The newest segment file under `wal_dir` (names are numbers).
pub fn last_segment(wal_dir: &Path) -> PathBuf {
    let mut segments: Vec<(u64, PathBuf)> = std::fs::read_dir(wal_dir)
        .expect("read WAL dir")
        .filter_map(|e| {
            let e = e.ok()?;
            let n = e.file_name().to_str()?.parse::<u64>().ok()?;
            e.file_type().ok()?.is_file().then(|| (n, e.path()))
        })
        .collect();
    segments.sort();
    segments.pop().expect("a segment file").1
}

/// The bytes of every segment file under `wal_dir` (cursors excluded).
pub fn segment_bytes(wal_dir: &Path) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(wal_dir) else { return (0, 0) };
    let sizes: Vec<u64> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_name().to_str()?.parse::<u64>().ok()?;
            Some(e.metadata().ok()?.len())
        })
        .collect();
    (sizes.iter().sum(), sizes.iter().copied().max().unwrap_or(0))
}
