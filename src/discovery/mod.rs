//! Service discovery: providers that yield target groups, and the [`Manager`]
//! that runs them per job and publishes the result.
//!
//! # Model
//!
//! A [`TargetGroup`] is Prometheus' `targetgroup.Group`: a `source` that names
//! the group uniquely within its provider, a list of targets (each a label set
//! holding `__address__`) and labels common to all of them. Discovery knows
//! nothing of scraping: relabeling, `job`/`instance` and scrape parameters are
//! applied by the consumer.
//!
//! Providers:
//! - [`StaticProvider`] (`static_configs`): one group per entry, source `"0"`, `"1"`, ...
//! - [`FileProvider`] (`file_sd_configs`): one group per entry of each matched
//!   JSON/YAML file, source `"{path}:{index}"`, label `__meta_filepath`.
//! - [`kubernetes::KubernetesProvider`] (`kubernetes_sd_configs`): one group
//!   per Kubernetes object, sourced and labelled as Prometheus does (see
//!   [`kubernetes`]); watches are shared by all jobs through a [`KubeHub`].
//!
//! # Provider contract
//!
//! [`Provider::run`] sends the provider's FULL current list of groups on its
//! sender, once at start (even if empty) and again each time anything changes;
//! never a diff. It must return promptly once `cancel` fires; it may also return
//! earlier after its last send (static). It owns only the sender it is given and
//! must not close or use any other. A failing source keeps its last good groups.
//!
//! # Concurrency
//!
//! Every provider runs in its own tokio task with its own bounded channel; a
//! forwarder in the same task stores each list in the manager's shared state (a
//! `std::sync::Mutex`, never held across `.await`) and wakes one publisher task.
//! The publisher coalesces bursts for [`COALESCE`] and publishes the whole
//! state on a `tokio::sync::watch` channel (see [`Manager`]). Blocking file-system
//! calls of `file_sd` run on tokio's blocking pool.

mod file;
pub mod kubernetes;
mod manager;
mod static_config;

use std::future::Future;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::labels::Labels;

pub use file::{
    parse_target_groups, validate_pattern, FileProvider, FileSdConfig, FileSdError, FileSdStatus,
    DEFAULT_POLL_INTERVAL, DEFAULT_REFRESH_INTERVAL, FILEPATH_LABEL,
};
pub use kubernetes::KubeHub;
pub use manager::{DiscoveredTargets, Manager, COALESCE};
pub use static_config::{static_groups, StaticConfig, StaticProvider};

/// The label that holds a target's `host:port`.
pub const ADDRESS_LABEL: &str = "__address__";

/// A set of targets with common labels, as Prometheus' `targetgroup.Group`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its provider (`"0"`, `"path/x.json:2"`).
    pub source: String,
    /// One label set per target; each holds [`ADDRESS_LABEL`].
    pub targets: Vec<Labels>,
    /// Labels common to all targets of the group.
    pub labels: Labels,
}

impl TargetGroup {
    /// A group whose targets are the given addresses. Empty addresses are
    /// skipped, so that every target holds `__address__` (Prometheus would
    /// drop such a target later with "no address").
    pub fn from_addresses<'a>(
        source: String,
        addresses: impl IntoIterator<Item = &'a str>,
        labels: Labels,
    ) -> Self {
        let targets = addresses
            .into_iter()
            .filter(|a| !a.is_empty())
            .map(|a| Labels::from_pairs([(ADDRESS_LABEL, a)]))
            .collect();
        TargetGroup { source, targets, labels }
    }
}

/// The provider configurations of one job, as the app maps them from
/// prometheus.yml. All `static_configs` of a job form one provider; each
/// `file_sd_configs` and `kubernetes_sd_configs` entry is its own provider.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderConfig {
    Static(Vec<StaticConfig>),
    File(FileSdConfig),
    Kubernetes(kubernetes::KubernetesSdConfig),
}

/// A source of target groups. See the module docs for the full contract.
pub trait Provider: Send + 'static {
    /// Runs until `cancel` fires (or, for a provider with nothing more to say,
    /// until its last send). Sends the FULL current list of groups at start and
    /// after every change, never a diff. Must return promptly when cancelled;
    /// must not close or use any sender other than `tx`.
    fn run(
        self,
        tx: mpsc::Sender<Vec<TargetGroup>>,
        cancel: CancellationToken,
    ) -> impl Future<Output = ()> + Send;
}

/// A provider built from a [`ProviderConfig`].
#[derive(Debug)]
pub enum AnyProvider {
    Static(StaticProvider),
    File(FileProvider),
    Kubernetes(kubernetes::KubernetesProvider),
}

impl AnyProvider {
    /// Builds the provider; file_sd patterns that are invalid are reported by
    /// the provider's status, not here (see [`FileProvider::new`]).
    /// Kubernetes providers share their watches through `kube`.
    pub fn new(config: ProviderConfig, metrics: &DiscoveryMetrics, kube: &KubeHub) -> Self {
        match config {
            ProviderConfig::Static(c) => AnyProvider::Static(StaticProvider::new(&c)),
            ProviderConfig::File(c) => AnyProvider::File(FileProvider::new(c, metrics.clone())),
            ProviderConfig::Kubernetes(c) => {
                AnyProvider::Kubernetes(kubernetes::KubernetesProvider::new(c, kube.clone()))
            }
        }
    }
}

impl Provider for AnyProvider {
    async fn run(self, tx: mpsc::Sender<Vec<TargetGroup>>, cancel: CancellationToken) {
        match self {
            AnyProvider::Static(p) => p.run(tx, cancel).await,
            AnyProvider::File(p) => p.run(tx, cancel).await,
            AnyProvider::Kubernetes(p) => p.run(tx, cancel).await,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: String,
}

impl JobLabel {
    fn new(job: &str) -> Self {
        JobLabel { job: job.to_owned() }
    }
}

/// Discovery's own metrics. Cloning shares the handles; `Default` gives
/// unregistered metrics (tests, tools).
#[derive(Debug, Clone, Default)]
pub struct DiscoveryMetrics {
    file_read_errors: Counter,
    file_files: Gauge,
    targets: Family<JobLabel, Gauge>,
    updates: Family<JobLabel, Counter>,
    kube: kubernetes::KubeMetrics,
}

impl DiscoveryMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = DiscoveryMetrics::default();
        registry.register(
            "tern_discovery_file_read_errors",
            "Failed reads or parses of file_sd target files",
            m.file_read_errors.clone(),
        );
        registry.register(
            "tern_discovery_file_files",
            "Files matched by the file_sd patterns, summed over file_sd providers",
            m.file_files.clone(),
        );
        registry.register(
            "tern_discovery_targets",
            "Targets currently discovered, per job, before relabeling",
            m.targets.clone(),
        );
        registry.register(
            "tern_discovery_updates",
            "Target group lists received from the providers, per job",
            m.updates.clone(),
        );
        m.kube.register(registry);
        m
    }

    /// `tern_discovery_file_read_errors_total`.
    pub fn file_read_errors(&self) -> u64 {
        self.file_read_errors.get()
    }

    /// `tern_discovery_file_files`.
    pub fn file_files(&self) -> i64 {
        self.file_files.get()
    }

    /// `tern_discovery_targets{job}`, if the job is published.
    pub fn targets(&self, job: &str) -> Option<i64> {
        self.targets.get(&JobLabel::new(job)).map(|g| g.get())
    }

    /// Kubernetes discovery's metrics.
    pub fn kube(&self) -> &kubernetes::KubeMetrics {
        &self.kube
    }

    /// `tern_discovery_updates_total{job}`, if the job has received any.
    pub fn updates(&self, job: &str) -> Option<u64> {
        self.updates.get(&JobLabel::new(job)).map(|c| c.get())
    }

    fn forget_job(&self, job: &str) {
        let label = JobLabel::new(job);
        self.targets.remove(&label);
        self.updates.remove(&label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_registered_under_their_names() {
        let mut registry = Registry::default();
        let m = DiscoveryMetrics::register(&mut registry);
        m.file_read_errors.inc();
        m.targets.get_or_create(&JobLabel::new("node")).set(3);
        m.updates.get_or_create(&JobLabel::new("node")).inc();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "tern_discovery_file_read_errors_total 1",
            "tern_discovery_file_files 0",
            "tern_discovery_targets{job=\"node\"} 3",
            "tern_discovery_updates_total{job=\"node\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing in\n{text}");
        }
        m.forget_job("node");
        assert_eq!(m.targets("node"), None);
        assert_eq!(m.updates("node"), None);
    }

    #[test]
    fn from_addresses_skips_empty_addresses() {
        let g = TargetGroup::from_addresses("0".into(), ["a:1", "", "b:2"], Labels::new());
        let addrs: Vec<_> = g.targets.iter().map(|t| t.get(ADDRESS_LABEL).unwrap()).collect();
        assert_eq!(addrs, ["a:1", "b:2"]);
    }
}
