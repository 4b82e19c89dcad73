//! `ScrapeJob`: the validated runtime form of one `scrape_configs` entry
//! (compiled relabel rules, the HTTP client, the Accept header), built once per
//! config load and shared by the job's loops.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{HostMetricsConfig, ScrapeConfig};
use crate::discovery::{self, ProviderConfig};
use crate::hostmetrics::{HostCollector, Settings};
use crate::http_client::build_client_with;
use crate::labels::Labels;
use crate::relabel::{RelabelConfig, Rule};

use super::fetch::{accept_header, Auth, Fetcher};
use super::Limits;

/// Why a job could not be built.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("job {job:?}: relabel_configs[{index}]: {message}")]
    Relabel { job: String, index: usize, message: String },
    #[error("job {job:?}: metric_relabel_configs[{index}]: {message}")]
    MetricRelabel { job: String, index: usize, message: String },
    #[error("job {job:?}: {message}")]
    Http { job: String, message: String },
    #[error("host_metrics job {job:?}: {message}")]
    Host { job: String, message: String },
}

/// The scrape URL shown for the host metrics job: collection is in-process.
pub const HOST_SCRAPE_URL: &str = "host:///metrics";

/// One scrape job, ready to run.
#[derive(Debug)]
pub struct ScrapeJob {
    pub name: Arc<str>,
    /// The effective config (global defaults applied): reload compares it.
    pub config: ScrapeConfig,
    pub interval: Duration,
    pub timeout: Duration,
    pub metrics_path: String,
    pub scheme: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    pub relabel: Arc<[Rule]>,
    pub metric_relabel: Arc<[Rule]>,
    pub limits: Limits,
    pub target_limit: usize,
    pub keep_dropped_targets: usize,
    pub fetcher: Arc<Fetcher>,
    /// Body buffers shared by the job's loops.
    pub buffers: super::worker::BufferPool,
}

impl ScrapeJob {
    /// Builds a job from its effective config (as `config::load` returns it).
    pub fn try_new(config: &ScrapeConfig) -> Result<ScrapeJob, JobError> {
        let job = config.job_name.clone();
        let relabel = compile(&config.relabel_configs)
            .map_err(|(index, message)| JobError::Relabel { job: job.clone(), index, message })?;
        let metric_relabel =
            compile(&config.metric_relabel_configs).map_err(|(index, message)| {
                JobError::MetricRelabel { job: job.clone(), index, message }
            })?;
        let http = |message: String| JobError::Http { job: job.clone(), message };
        // Plain-HTTP targets without a proxy keep their own connection
        // (direct requests, which hold no buffer while idle); through reqwest
        // (redirects) they reconnect rather than keep an idle connection and
        // its body-sized read buffer per target.
        let plain = config.scheme == crate::config::Scheme::Http;
        let keep_idle = !plain;
        let h = &config.http_client;
        let direct = plain && h.proxy_url.is_none() && !h.proxy_from_environment;
        let client = build_client_with(&config.http_client, true, keep_idle).map_err(http)?;
        let auth = Auth::from_config(&config.http_client).map_err(http)?;
        let limits = Limits {
            sample_limit: config.sample_limit as usize,
            label_limit: config.label_limit as usize,
            label_name_length_limit: config.label_name_length_limit as usize,
            label_value_length_limit: config.label_value_length_limit as usize,
            body_size_limit: config.body_size_limit.bytes() as usize,
        };
        let fetcher = Fetcher {
            client,
            auth,
            accept: accept_header(&config.scrape_protocols),
            timeout: config.scrape_timeout,
            body_size_limit: limits.body_size_limit,
            compression: config.enable_compression,
            host: None,
            direct,
            follow_redirects: h.follow_redirects,
        };
        Ok(ScrapeJob {
            name: job.as_str().into(),
            config: config.clone(),
            interval: config.scrape_interval,
            timeout: config.scrape_timeout,
            metrics_path: config.metrics_path.clone(),
            scheme: config.scheme.as_str().to_owned(),
            params: config.params.clone(),
            honor_labels: config.honor_labels,
            honor_timestamps: config.honor_timestamps,
            track_timestamps_staleness: config.track_timestamps_staleness,
            relabel: relabel.into(),
            metric_relabel: metric_relabel.into(),
            limits,
            target_limit: config.target_limit as usize,
            keep_dropped_targets: config.keep_dropped_targets as usize,
            fetcher: Arc::new(fetcher),
            buffers: super::worker::BufferPool::default(),
        })
    }

    /// The `host_metrics:` job: its scrape config as any job's, its fetcher
    /// running the host collectors instead of an HTTP GET.
    pub fn host(config: &HostMetricsConfig) -> Result<ScrapeJob, JobError> {
        let mut job = ScrapeJob::try_new(&config.scrape)?;
        let collector = HostCollector::try_new(Settings::from_config(config)).map_err(|e| {
            JobError::Host { job: config.scrape.job_name.clone(), message: e.to_string() }
        })?;
        let mut fetcher = (*job.fetcher).clone();
        fetcher.host = Some(Arc::new(collector));
        job.fetcher = Arc::new(fetcher);
        Ok(job)
    }

    /// Whether `other` was built from the same effective config.
    pub fn same_config(&self, other: &ScrapeJob) -> bool {
        fn host(job: &ScrapeJob) -> Option<&Settings> {
            job.fetcher.host.as_deref().map(HostCollector::settings)
        }
        self.config == other.config && host(self) == host(other)
    }

    /// Whether this is the `host_metrics:` job (whose fetcher collects
    /// in-process and whose target URL is [`HOST_SCRAPE_URL`]).
    pub fn is_host(&self) -> bool {
        self.fetcher.host.is_some()
    }

    /// The discovery providers of this job: all `static_configs` as one, each
    /// `file_sd_configs` and `kubernetes_sd_configs` entry as its own.
    pub fn providers(&self) -> Vec<ProviderConfig> {
        let mut out = Vec::new();
        if !self.config.static_configs.is_empty() {
            let statics = self
                .config
                .static_configs
                .iter()
                .map(|s| discovery::StaticConfig {
                    targets: s.targets.clone(),
                    labels: Labels::from_pairs(
                        s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    ),
                })
                .collect();
            out.push(ProviderConfig::Static(statics));
        }
        for f in &self.config.file_sd_configs {
            let mut c = discovery::FileSdConfig::new(f.files.iter().cloned());
            c.refresh_interval = f.refresh_interval;
            out.push(ProviderConfig::File(c));
        }
        for k in &self.config.kubernetes_sd_configs {
            let c = discovery::kubernetes::KubernetesSdConfig::from_config(k);
            out.push(ProviderConfig::Kubernetes(c));
        }
        out
    }
}

fn compile(configs: &[RelabelConfig]) -> Result<Vec<Rule>, (usize, String)> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| Rule::try_new(c).map_err(|e| (i, e.to_string())))
        .collect()
}
