//! Remote-write metrics under Prometheus' own names
//! (`prometheus_remote_storage_*`), with `remote_name` and `url` labels, so the
//! Prometheus mixin's remote-write dashboards and alerts work unchanged.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use std::sync::atomic::AtomicU64;

/// `remote_name` and `url` of an endpoint.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Endpoint {
    pub remote_name: String,
    pub url: String,
}

/// Endpoint plus a drop or failure reason.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointReason {
    pub remote_name: String,
    pub url: String,
    pub reason: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Clonable handles to the remote-write metrics.
#[derive(Debug, Clone, Default)]
pub struct RemoteMetrics {
    pub samples: Family<Endpoint, Counter>,
    pub samples_failed: Family<EndpointReason, Counter>,
    pub samples_dropped: Family<EndpointReason, Counter>,
    pub samples_retried: Family<Endpoint, Counter>,
    pub samples_pending: Family<Endpoint, Gauge>,
    pub bytes: Family<Endpoint, Counter>,
    pub sent_batches: Family<Endpoint, Counter>,
    pub shards: Family<Endpoint, Gauge>,
    pub shards_min: Family<Endpoint, Gauge>,
    pub shards_max: Family<Endpoint, Gauge>,
    pub highest_sent: Family<Endpoint, FloatGauge>,
    pub highest_appended: FloatGauge,
    pub cursor_commits: Family<Endpoint, Counter>,
    /// `tern_remote_sigv4_*`, registered by [`super::sigv4::SigV4Metrics`].
    pub sigv4: super::sigv4::SigV4Metrics,
}

impl RemoteMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = RemoteMetrics::default();
        let r = registry.sub_registry_with_prefix("prometheus_remote_storage");
        r.register("samples", "Samples sent to remote storage (2xx)", m.samples.clone());
        r.register(
            "samples_failed",
            "Samples that failed with a non-recoverable error, by reason",
            m.samples_failed.clone(),
        );
        r.register(
            "samples_dropped",
            "Samples read from the WAL and dropped before sending (write relabeling, sample_age_limit, WAL size bound)",
            m.samples_dropped.clone(),
        );
        r.register("samples_retried", "Samples whose send was retried", m.samples_retried.clone());
        // The older name of the same counter, still used by some dashboards.
        r.register(
            "retried_samples",
            "Samples whose send was retried (legacy name)",
            m.samples_retried.clone(),
        );
        r.register(
            "samples_pending",
            "Samples read from the WAL and not yet sent",
            m.samples_pending.clone(),
        );
        r.register("bytes", "Compressed bytes sent (2xx)", m.bytes.clone());
        r.register("sent_batches", "Requests that succeeded", m.sent_batches.clone());
        r.register("shards", "Shards in use", m.shards.clone());
        r.register("shards_min", "min_shards", m.shards_min.clone());
        r.register("shards_max", "max_shards", m.shards_max.clone());
        r.register(
            "queue_highest_sent_timestamp_seconds",
            "Highest sample timestamp successfully sent",
            m.highest_sent.clone(),
        );
        r.register(
            "highest_timestamp_in_seconds",
            "Highest sample timestamp appended to the WAL",
            m.highest_appended.clone(),
        );
        let t = registry.sub_registry_with_prefix("tern_remote");
        t.register(
            "cursor_commits",
            "Durable WAL read positions written",
            m.cursor_commits.clone(),
        );
        m.sigv4.register(registry);
        m
    }
}
