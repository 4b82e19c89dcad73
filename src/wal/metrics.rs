//! The WAL's own metrics, registered in the registry the app passes in.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Clonable handles to the WAL metrics (`tern_wal_*`).
#[derive(Debug, Clone)]
pub struct WalMetrics {
    pub segments: Gauge,
    pub bytes: Gauge,
    pub series: Gauge,
    pub appended_samples: Counter,
    pub appended_bytes: Counter,
    pub replayed_records: Counter,
    pub corrupt_records: Counter,
    pub truncations: Counter,
    pub segments_dropped: Counter,
    pub samples_dropped: Counter,
    pub fsyncs: Counter,
    pub fsync_duration: Histogram,
}

impl WalMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = WalMetrics {
            segments: Gauge::default(),
            bytes: Gauge::default(),
            series: Gauge::default(),
            appended_samples: Counter::default(),
            appended_bytes: Counter::default(),
            replayed_records: Counter::default(),
            corrupt_records: Counter::default(),
            truncations: Counter::default(),
            segments_dropped: Counter::default(),
            samples_dropped: Counter::default(),
            fsyncs: Counter::default(),
            fsync_duration: Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        };
        let r = registry.sub_registry_with_prefix("tern_wal");
        r.register("segments", "Segment files in the WAL directory", m.segments.clone());
        r.register("bytes", "Total size of the WAL's segment files", m.bytes.clone());
        r.register(
            "series",
            "Series of the segment being written that the writer holds (those no other stage holds are let go about once a minute)",
            m.series.clone(),
        );
        r.register("appended_samples", "Samples appended", m.appended_samples.clone());
        r.register("appended_bytes", "Bytes appended to segments", m.appended_bytes.clone());
        r.register(
            "replayed_records",
            "Records checked when the WAL was opened",
            m.replayed_records.clone(),
        );
        r.register(
            "corrupt_records",
            "Damaged records found (torn, bad checksum, bad length, malformed)",
            m.corrupt_records.clone(),
        );
        r.register(
            "truncations",
            "Segments cut back to their last good record at open",
            m.truncations.clone(),
        );
        r.register(
            "segments_dropped",
            "Segments deleted to keep the WAL under its size bound",
            m.segments_dropped.clone(),
        );
        r.register(
            "samples_dropped",
            "Samples in segments deleted by the size bound that the slowest cursor had not passed",
            m.samples_dropped.clone(),
        );
        r.register(
            "fsyncs",
            "fsync calls on segments, cursors and the directory",
            m.fsyncs.clone(),
        );
        r.register_with_unit(
            "fsync_duration",
            "Duration of fsync calls",
            Unit::Seconds,
            m.fsync_duration.clone(),
        );
        m
    }

    /// Metrics not registered anywhere, for tests.
    pub fn unregistered() -> Self {
        Self::register(&mut Registry::default())
    }

    /// Runs `f` (an fsync) and records it.
    pub(crate) fn timed_fsync<T>(&self, f: impl FnOnce() -> T) -> T {
        let start = std::time::Instant::now();
        let out = f();
        self.fsyncs.inc();
        self.fsync_duration.observe(start.elapsed().as_secs_f64());
        out
    }
}
