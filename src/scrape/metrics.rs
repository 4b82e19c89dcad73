//! The scrape stage's own metrics, registered in the registry the app passes
//! in (no global state).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    pub job: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub job: String,
    pub reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetStateLabels {
    pub job: String,
    pub state: String,
}

/// Clonable handles to the scrape metrics.
#[derive(Debug, Clone)]
pub struct ScrapeMetrics {
    pub scrapes: Family<JobLabel, Counter>,
    pub failures: Family<FailureLabels, Counter>,
    pub duration: Family<JobLabel, Histogram>,
    pub samples: Family<JobLabel, Counter>,
    pub stale_markers: Family<JobLabel, Counter>,
    pub targets: Family<TargetStateLabels, Gauge>,
}

fn duration_histogram() -> Histogram {
    Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

impl ScrapeMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = ScrapeMetrics {
            scrapes: Family::default(),
            failures: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            samples: Family::default(),
            stale_markers: Family::default(),
            targets: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("tern_scrape");
        r.register("scrapes", "Scrapes attempted", m.scrapes.clone());
        r.register("failures", "Failed scrapes by reason", m.failures.clone());
        r.register_with_unit(
            "duration",
            "Duration of scrapes (fetch)",
            prometheus_client::registry::Unit::Seconds,
            m.duration.clone(),
        );
        r.register(
            "samples",
            "Samples handed on, automatic series and stale markers included",
            m.samples.clone(),
        );
        r.register("stale_markers", "Staleness markers written", m.stale_markers.clone());
        r.register("targets", "Targets by state (active, dropped)", m.targets.clone());
        m
    }

    /// Metrics not registered anywhere, for tests.
    pub fn unregistered() -> Self {
        Self::register(&mut Registry::default())
    }
}
