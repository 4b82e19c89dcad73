//! `scrape_configs` entries: what to scrape, how often, with which limits, and
//! where the targets come from (`static_configs`, `file_sd_configs`).
//!
//! Fields that a job may leave to `global` (interval, timeout, protocols,
//! limits) read as 0 / empty when not written; loading fills them in from
//! `global` exactly as Prometheus does, so after [`crate::config::load`] every
//! field holds the value in effect.

use super::de::{label_map, null_as_empty, parse_str, unique_map};
use super::duration;
use super::http::{default_true, inline_http_client};
use super::kubernetes::KubernetesSdConfig;
use super::size::ByteSize;
use crate::relabel::RelabelConfig;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

inline_http_client! {
    /// One `scrape_configs` entry: a job.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ScrapeConfig from RawScrapeConfig = "RawScrapeConfig", enable_http2 = true,
        expecting = "a scrape config (a mapping with job_name)";
    {
        /// The job name, also the default `job` label. Required, unique.
        #[serde(default)]
        pub job_name: String,
        /// How often to scrape this job's targets (default: `global.scrape_interval`).
        #[serde(default, deserialize_with = "duration::deserialize")]
        pub scrape_interval: Duration,
        /// Per-scrape timeout (default: `global.scrape_timeout`, or the job's
        /// interval when that is shorter). May not exceed the interval.
        #[serde(default, deserialize_with = "duration::deserialize")]
        pub scrape_timeout: Duration,
        /// Formats to ask for, most wanted first, sent as the `Accept` header
        /// (default: `global.scrape_protocols`).
        #[serde(default, deserialize_with = "protocols")]
        pub scrape_protocols: Vec<ScrapeProtocol>,
        /// Format to assume when a target's `Content-Type` is missing or unknown.
        #[serde(default)]
        pub fallback_scrape_protocol: Option<ScrapeProtocol>,
        /// HTTP path to fetch metrics from (default `/metrics`).
        #[serde(default = "default_metrics_path")]
        pub metrics_path: String,
        /// `http` (default) or `https`.
        #[serde(default)]
        pub scheme: Scheme,
        /// URL query parameters, name -> values.
        #[serde(default, deserialize_with = "unique_map")]
        pub params: BTreeMap<String, Vec<String>>,
        /// Keep the target's labels when they clash with target labels (default false).
        #[serde(default)]
        pub honor_labels: bool,
        /// Use the timestamps the target exposes (default true).
        #[serde(default = "default_true")]
        pub honor_timestamps: bool,
        /// Write stale markers for series with explicit timestamps too (default false).
        #[serde(default)]
        pub track_timestamps_staleness: bool,
        /// Ask targets for gzip-compressed responses (default true).
        #[serde(default = "default_true")]
        pub enable_compression: bool,
        /// Largest uncompressed response body; larger fails the scrape
        /// (default: `global.body_size_limit`; 0 = unlimited).
        #[serde(default)]
        pub body_size_limit: ByteSize,
        /// Most samples a scrape may keep after metric relabeling; more fails
        /// the scrape (default: global; 0 = unlimited).
        #[serde(default)]
        pub sample_limit: u64,
        /// Most labels per sample after metric relabeling (default: global; 0 = unlimited).
        #[serde(default)]
        pub label_limit: u64,
        /// Longest label name after metric relabeling (default: global; 0 = unlimited).
        #[serde(default)]
        pub label_name_length_limit: u64,
        /// Longest label value after metric relabeling (default: global; 0 = unlimited).
        #[serde(default)]
        pub label_value_length_limit: u64,
        /// Most targets after target relabeling; more fails every scrape of the
        /// job (default: global; 0 = unlimited).
        #[serde(default)]
        pub target_limit: u64,
        /// Most dropped targets kept for `/api/v1/targets` (default: global; 0 = all).
        #[serde(default)]
        pub keep_dropped_targets: u64,
        /// Accepted for compatibility; tern does not scrape native histograms.
        #[serde(default)]
        pub scrape_classic_histograms: bool,
        /// Accepted for compatibility; tern does not scrape native histograms.
        #[serde(default)]
        pub native_histogram_bucket_limit: u64,
        /// Accepted for compatibility; tern does not scrape native histograms.
        #[serde(default)]
        pub native_histogram_min_bucket_factor: f64,
        /// Targets listed in the config file.
        #[serde(default, deserialize_with = "null_as_empty")]
        pub static_configs: Vec<StaticConfig>,
        /// Targets read from JSON or YAML files.
        #[serde(default, deserialize_with = "null_as_empty")]
        pub file_sd_configs: Vec<FileSdConfig>,
        /// Targets discovered from the Kubernetes API.
        #[serde(default, deserialize_with = "null_as_empty")]
        pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
        /// Rules applied to each target's labels before scraping.
        #[serde(default, deserialize_with = "null_as_empty")]
        pub relabel_configs: Vec<RelabelConfig>,
        /// Rules applied to each scraped sample before it is stored.
        #[serde(default, deserialize_with = "null_as_empty")]
        pub metric_relabel_configs: Vec<RelabelConfig>,
    }
    rejected {
        azure_sd_configs, consul_sd_configs, digitalocean_sd_configs, docker_sd_configs,
        dockerswarm_sd_configs, dns_sd_configs, ec2_sd_configs, eureka_sd_configs,
        gce_sd_configs, hetzner_sd_configs, http_sd_configs, ionos_sd_configs,
        kuma_sd_configs, lightsail_sd_configs, linode_sd_configs, marathon_sd_configs,
        nerve_sd_configs, nomad_sd_configs, openstack_sd_configs, ovhcloud_sd_configs,
        puppetdb_sd_configs, scaleway_sd_configs, serverset_sd_configs,
        stackit_sd_configs, triton_sd_configs, uyuni_sd_configs, vultr_sd_configs,
    }
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

/// A `static_configs` entry: a target group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    /// `host:port` addresses (each becomes `__address__`).
    #[serde(deserialize_with = "null_as_empty")]
    pub targets: Vec<String>,
    /// Labels added to every target of the group.
    #[serde(deserialize_with = "label_map")]
    pub labels: BTreeMap<String, String>,
}

/// A `file_sd_configs` entry: target groups read from files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Paths of `.json`, `.yml` or `.yaml` files; the last path element may
    /// hold one `*` (`targets/*.json`). Relative paths are relative to the
    /// config file's directory.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub files: Vec<String>,
    /// How often to re-read the files besides watching them (default 5m).
    #[serde(default = "default_refresh_interval", deserialize_with = "duration::deserialize")]
    pub refresh_interval: Duration,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(300)
}

/// URL scheme for scraping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl<'de> Deserialize<'de> for Scheme {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "http or https", |s| match s {
            "http" => Ok(Scheme::Http),
            "https" => Ok(Scheme::Https),
            other => Err(format!("invalid scheme {other:?}: must be \"http\" or \"https\"")),
        })
    }
}

/// An exposition format a scrape can negotiate, named as in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScrapeProtocol {
    /// `PrometheusProto`: delimited protobuf `MetricFamily` messages.
    PrometheusProto,
    /// `PrometheusText0.0.4`: the classic text format.
    PrometheusText0_0_4,
    /// `PrometheusText1.0.0`.
    PrometheusText1_0_0,
    /// `OpenMetricsText0.0.1`.
    OpenMetricsText0_0_1,
    /// `OpenMetricsText1.0.0`.
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// Every protocol, in the order Prometheus lists them in errors (sorted).
    pub const ALL: [ScrapeProtocol; 5] = [
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::PrometheusText0_0_4,
        ScrapeProtocol::PrometheusText1_0_0,
    ];

    /// The default negotiation order of Prometheus 2.x.
    pub const DEFAULT: [ScrapeProtocol; 3] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
        }
    }

    /// The media type with its parameters, as sent in `Accept`.
    pub fn header_value(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }
}

impl fmt::Display for ScrapeProtocol {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ScrapeProtocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a scrape protocol name", |name| {
            ScrapeProtocol::ALL.into_iter().find(|p| p.as_str() == name).ok_or_else(|| {
                let supported: Vec<_> = ScrapeProtocol::ALL.iter().map(|p| p.as_str()).collect();
                format!("unknown scrape protocol {name}, supported: [{}]", supported.join(" "))
            })
        })
    }
}

/// `deserialize_with` for `scrape_protocols`: a non-empty list without repeats.
pub(crate) fn protocols<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ScrapeProtocol>, D::Error> {
    // Checked inside the visitor, so that errors point at the list.
    struct ProtocolList;

    impl<'de> Visitor<'de> for ProtocolList {
        type Value = Vec<ScrapeProtocol>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of scrape protocols")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut list = Vec::new();
            while let Some(protocol) = seq.next_element()? {
                list.push(protocol);
            }
            if list.is_empty() {
                return Err(de::Error::custom("scrape_protocols cannot be empty"));
            }
            let mut seen = BTreeSet::new();
            if list.iter().any(|p| !seen.insert(*p)) {
                let names: Vec<_> = list.iter().map(|p: &ScrapeProtocol| p.as_str()).collect();
                return Err(de::Error::custom(format!(
                    "duplicated protocol in scrape_protocols, got [{}]",
                    names.join(" ")
                )));
            }
            Ok(list)
        }
    }

    d.deserialize_seq(ProtocolList)
}

impl ScrapeConfig {
    /// Number of targets listed in `static_configs`.
    pub fn static_target_count(&self) -> usize {
        self.static_configs.iter().map(|g| g.targets.len()).sum()
    }

    /// Joins relative file paths with `dir`, the directory of the file the
    /// job was written in.
    pub(crate) fn join_dir(&mut self, dir: &Path) {
        self.http_client.join_dir(dir);
        for sd in &mut self.file_sd_configs {
            for file in &mut sd.files {
                *file = super::join_dir_str(dir, file);
            }
        }
        for sd in &mut self.kubernetes_sd_configs {
            sd.join_dir(dir);
        }
    }
}

/// True when a `file_sd_configs` path is acceptable to Prometheus (its check
/// is `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`): a `.json`, `.yml`
/// or `.yaml` file whose wildcards, if any, are all in the last path element.
pub(crate) fn is_valid_file_sd_path(path: &str) -> bool {
    let Some((stem, ext)) = path.rsplit_once('.') else {
        return false;
    };
    if !["json", "yml", "yaml", "JSON", "YML", "YAML"].contains(&ext) {
        return false;
    }
    match stem.find('*') {
        None => true,
        Some(star) => !stem[star + 1..].contains('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_paths_follow_prometheus_pattern() {
        for ok in
            ["targets.json", "a/b/c.yml", "a/*.yaml", "a/tg_*.json", "a/*_x.JSON", "a/**.json"]
        {
            assert!(is_valid_file_sd_path(ok), "{ok}");
        }
        for bad in ["targets.txt", "a/*/b.json", "json", "a.Json", "*.json/x"] {
            assert!(!is_valid_file_sd_path(bad), "{bad}");
        }
    }

    #[test]
    fn protocols_parse_by_name_and_reject_repeats() {
        #[derive(Deserialize, Debug)]
        struct T {
            #[serde(deserialize_with = "protocols")]
            p: Vec<ScrapeProtocol>,
        }
        let t: T = serde_yaml::from_str("p: [PrometheusText1.0.0, PrometheusProto]").unwrap();
        assert_eq!(t.p, [ScrapeProtocol::PrometheusText1_0_0, ScrapeProtocol::PrometheusProto]);
        let err = |y: &str| serde_yaml::from_str::<T>(y).unwrap_err().to_string();
        assert!(err("p: []").contains("scrape_protocols cannot be empty"));
        assert!(err("p: [PrometheusProto, PrometheusProto]").contains(
            "duplicated protocol in scrape_protocols, got [PrometheusProto PrometheusProto]"
        ));
        assert!(err("p: [Text]").contains(
            "unknown scrape protocol Text, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 \
             PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]"
        ));
    }
}
