//! tern's own `host_metrics:` block: built-in node_exporter-compatible host
//! metrics, scraped as one more target.
//!
//! ```yaml
//! host_metrics:
//!   enabled: true              # default true when the block is present; no block = off
//!   job_name: node             # default "node"
//!   scrape_interval: 15s       # default: global.scrape_interval
//!   scrape_timeout: 10s        # default: global.scrape_timeout (at most the interval)
//!   instance: ""               # default: the host name; $VAR / ${VAR} expanded
//!   procfs: /proc              # /host/proc in a DaemonSet
//!   sysfs: /sys                # /host/sys
//!   rootfs: /                  # /host/root
//!   textfile_directory: ""     # default unset: only node_textfile_scrape_error
//!   collectors: [cpu, meminfo] # default: every implemented collector
//!   metric_relabel_configs: []
//! ```
//!
//! Loading turns the block into a [`HostMetricsConfig`] whose `scrape` is an
//! effective [`ScrapeConfig`] (one static target, the instance), so that the
//! scrape stage runs it like any job.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::de::null_as_empty;
use super::duration;
use super::global::{expand_env, GlobalConfig};
use super::scrape::{ScrapeConfig, StaticConfig};
use super::validate::{self, KeyPath, Problems};
use crate::relabel::RelabelConfig;

/// The collectors tern implements, by node_exporter name (the host metrics
/// module checks that this list is its own).
pub const KNOWN_COLLECTORS: &[&str] = &[
    "conntrack",
    "cpu",
    "diskstats",
    "entropy",
    "filefd",
    "filesystem",
    "loadavg",
    "meminfo",
    "netdev",
    "netstat",
    "os",
    "pressure",
    "sockstat",
    "stat",
    "textfile",
    "time",
    "uname",
    "vmstat",
];

/// The `host_metrics:` block as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHostMetrics {
    /// Whether to collect (default true when the block is present).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The `job` label (default `node`); must not clash with a scrape job.
    #[serde(default = "default_job")]
    pub job_name: String,
    /// How often to collect (default: `global.scrape_interval`).
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub scrape_interval: Duration,
    /// Collection timeout (default: `global.scrape_timeout`, at most the interval).
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub scrape_timeout: Duration,
    /// The `instance` label (default: the host name); `$VAR`/`${VAR}` expanded.
    #[serde(default)]
    pub instance: String,
    /// Where procfs is mounted (default `/proc`).
    #[serde(default = "default_procfs")]
    pub procfs: PathBuf,
    /// Where sysfs is mounted (default `/sys`).
    #[serde(default = "default_sysfs")]
    pub sysfs: PathBuf,
    /// Where the host's root filesystem is mounted (default `/`).
    #[serde(default = "default_rootfs")]
    pub rootfs: PathBuf,
    /// The textfile collector's directory of `*.prom` files (default unset).
    #[serde(default)]
    pub textfile_directory: String,
    /// The collectors to run, by node_exporter name (default: all).
    #[serde(default)]
    pub collectors: Option<Vec<String>>,
    /// Rules applied to each collected sample before it is stored.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

fn yes() -> bool {
    true
}
fn default_job() -> String {
    "node".to_owned()
}
fn default_procfs() -> PathBuf {
    PathBuf::from("/proc")
}
fn default_sysfs() -> PathBuf {
    PathBuf::from("/sys")
}
fn default_rootfs() -> PathBuf {
    PathBuf::from("/")
}

/// A loaded, enabled `host_metrics:` block.
#[derive(Debug, Clone, PartialEq)]
pub struct HostMetricsConfig {
    /// The effective job: name, interval, timeout, the instance as its one
    /// static target, metric_relabel_configs; global defaults applied.
    pub scrape: ScrapeConfig,
    pub instance: String,
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub textfile_directory: Option<PathBuf>,
    /// `None`: every collector.
    pub collectors: Option<Vec<String>>,
}

/// The machine's host name, as Go's `os.Hostname` finds it.
pub fn hostname() -> String {
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(name) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => rustix::system::uname().nodename().to_string_lossy().into_owned(),
    }
}

impl RawHostMetrics {
    /// Checks the block and builds its effective config; `None` when
    /// disabled. `dir` is the config file's directory.
    pub(crate) fn resolve(
        self,
        global: &GlobalConfig,
        env: &dyn Fn(&str) -> Option<String>,
        dir: &Path,
        p: &mut Problems,
    ) -> Option<HostMetricsConfig> {
        if !self.enabled {
            return None;
        }
        let at = KeyPath::root().key("host_metrics");
        if let Some(names) = &self.collectors {
            for (i, name) in names.iter().enumerate() {
                if !KNOWN_COLLECTORS.contains(&name.as_str()) {
                    let known = KNOWN_COLLECTORS.join(", ");
                    p.add(
                        at.key("collectors").index(i),
                        format!("unknown collector {name:?} (known: {known})"),
                    );
                }
            }
        }
        let mut instance = expand_env(&self.instance, &mut |var| env(var).unwrap_or_default());
        if instance.is_empty() {
            instance = hostname();
        }
        let mut scrape: ScrapeConfig =
            serde_yaml::from_str("job_name: x\n").expect("BUG: a minimal scrape config parses");
        scrape.job_name = self.job_name;
        scrape.scrape_interval = self.scrape_interval;
        scrape.scrape_timeout = self.scrape_timeout;
        scrape.metric_relabel_configs = self.metric_relabel_configs;
        // `instance` as a group label, so that no default port is added to it.
        scrape.static_configs = vec![StaticConfig {
            targets: vec![instance.clone()],
            labels: [("instance".to_owned(), instance.clone())].into(),
        }];
        validate::scrape_config(&mut scrape, global, &at, p);
        let textfile_directory = (!self.textfile_directory.is_empty())
            .then(|| PathBuf::from(super::join_dir_str(dir, &self.textfile_directory)));
        Some(HostMetricsConfig {
            scrape,
            instance,
            procfs: self.procfs,
            sysfs: self.sysfs,
            rootfs: self.rootfs,
            textfile_directory,
            collectors: self.collectors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str_with_env;

    #[track_caller]
    fn load(yaml: &str) -> Result<Option<HostMetricsConfig>, String> {
        let env = |name: &str| (name == "NODE").then(|| "node-7".to_owned());
        load_str_with_env(yaml, "/etc/tern/t.yml", &env)
            .map(|l| l.config.host_metrics)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_block_is_off_and_an_empty_block_takes_the_defaults() {
        assert_eq!(load("scrape_configs: []\n").unwrap(), None);
        assert_eq!(load("host_metrics: {enabled: false}\n").unwrap(), None);
        let host = load("global: {scrape_interval: 30s}\nhost_metrics: {}\n").unwrap().unwrap();
        assert_eq!(host.scrape.job_name, "node");
        assert_eq!(host.scrape.scrape_interval, Duration::from_secs(30));
        assert_eq!(host.scrape.scrape_timeout, Duration::from_secs(10));
        assert_eq!(host.instance, hostname());
        assert_eq!(host.scrape.static_configs[0].targets, vec![hostname()]);
        assert_eq!(host.procfs, PathBuf::from("/proc"));
        assert_eq!(host.rootfs, PathBuf::from("/"));
        assert_eq!(host.textfile_directory, None);
        assert_eq!(host.collectors, None);
    }

    #[test]
    fn values_are_taken_and_expanded() {
        let yaml = "host_metrics:\n  job_name: host\n  scrape_interval: 5s\n  scrape_timeout: 2s\n  \
                    instance: ${NODE}\n  procfs: /host/proc\n  sysfs: /host/sys\n  rootfs: /host/root\n  \
                    textfile_directory: textfiles\n  collectors: [cpu, meminfo]\n  \
                    metric_relabel_configs:\n  - {source_labels: [__name__], regex: node_cpu.*, action: drop}\n";
        let host = load(yaml).unwrap().unwrap();
        assert_eq!(host.scrape.job_name, "host");
        assert_eq!(host.scrape.scrape_timeout, Duration::from_secs(2));
        assert_eq!(host.instance, "node-7");
        assert_eq!(host.sysfs, PathBuf::from("/host/sys"));
        assert_eq!(host.textfile_directory, Some(PathBuf::from("/etc/tern/textfiles")));
        assert_eq!(host.collectors, Some(vec!["cpu".to_owned(), "meminfo".to_owned()]));
        assert_eq!(host.scrape.metric_relabel_configs.len(), 1);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let err = load("host_metrics:\n  collectors: [cpu, gpu]\n").unwrap_err();
        assert!(err.starts_with("/etc/tern/t.yml:2:"), "{err}");
        assert!(err.contains("unknown collector \"gpu\""), "{err}");
        let err = load("host_metrics:\n  procfss: /x\n").unwrap_err();
        assert!(err.starts_with("/etc/tern/t.yml:2:3:"), "{err}");
        let err = load("scrape_configs:\n- job_name: node\nhost_metrics: {}\n").unwrap_err();
        assert!(err.contains("job name \"node\""), "{err}");
        let err = load("host_metrics: {scrape_interval: 5s, scrape_timeout: 6s}\n").unwrap_err();
        assert!(err.contains("scrape timeout greater than scrape interval"), "{err}");
        let err = load("host_metrics:\n  metric_relabel_configs: [{action: nope}]\n").unwrap_err();
        assert!(err.starts_with("/etc/tern/t.yml:2:"), "{err}");
    }
}
