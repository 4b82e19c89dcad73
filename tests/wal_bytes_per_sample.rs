//! The WAL's size on disk for the node_exporter workload: at most 6 bytes per
//! sample in steady state (series declared once per segment, then compact
//! sample records).

mod wal_workload;

use tern::wal::{FsyncPolicy, Wal, WalMetrics, WalOptions};
use wal_workload::Workload;

const SCRAPES: u64 = 100;

/// Appends `SCRAPES` scrapes; returns the bytes of the first scrape and the
/// bytes per sample of the others.
fn measure(mut workload: Workload) -> (u64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { fsync: FsyncPolicy::Never, ..WalOptions::new(dir.path()) };
    let metrics = WalMetrics::unregistered();
    let (mut wal, _) = Wal::open(options, metrics.clone()).unwrap();
    let mut batch = Vec::new();
    workload.scrape_into(&mut batch);
    wal.append(&batch).unwrap();
    let first = metrics.appended_bytes.get();
    for _ in 1..SCRAPES {
        workload.scrape_into(&mut batch);
        wal.append(&batch).unwrap();
    }
    let series = workload.series() as u64;
    assert_eq!(metrics.appended_samples.get(), series * SCRAPES);
    let steady = (metrics.appended_bytes.get() - first) as f64 / (series * (SCRAPES - 1)) as f64;
    (first, steady)
}

#[test]
fn node_exporter_scrapes_cost_at_most_six_bytes_per_sample() {
    let workload = Workload::new("10.0.0.1:9100");
    assert_eq!(workload.series(), 507);
    let [ints, floats, gauges] = workload.kinds();
    let (first, steady) = measure(workload);
    println!(
        "node_exporter ({ints} integer counters, {floats} float counters, {gauges} gauges), \
         {SCRAPES} scrapes: first scrape {first} B (series + values), \
         then {steady:.2} B/sample"
    );
    assert!(steady <= 6.0, "steady state {steady:.2} bytes per sample");

    // Churn well above a real host's: every counter moves, half the gauges.
    let mut churn = Workload::new("10.0.0.1:9100");
    (churn.counter_stay, churn.gauge_stay) = (0.0, 0.5);
    let (_, steady) = measure(churn);
    println!("high churn: {steady:.2} B/sample");
    assert!(steady <= 6.0, "high churn {steady:.2} bytes per sample");
}
