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
//!   textfile_directory: /var/lib/prometheus/node-exporter  # "" for none
//!   collectors: [cpu, meminfo] # default: every implemented collector
//!   # node_exporter's collector flags; defaults are Debian 1.5's (see
//!   # [`defaults`]); regexes unanchored, as node_exporter's.
//!   filesystem_mount_points_exclude: '^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)'
//!   filesystem_fs_types_exclude: '^(autofs|...|tracefs)$'
//!   netdev_device_exclude: '^lo$'
//!   netdev_device_include: ''  # only one of include/exclude may be non-empty
//!   diskstats_device_exclude: '^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$'
//!   diskstats_device_include: ''
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

/// The defaults of Debian's `prometheus-node-exporter` 1.5 (which patches
/// upstream's mount-points exclude, netdev device exclude and textfile
/// directory); the host metrics module checks that its own are these.
pub mod defaults {
    /// `--collector.filesystem.mount-points-exclude`.
    pub const FILESYSTEM_MOUNT_POINTS_EXCLUDE: &str =
        "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
    /// `--collector.filesystem.fs-types-exclude`.
    pub const FILESYSTEM_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
    /// `--collector.netdev.device-exclude`.
    pub const NETDEV_DEVICE_EXCLUDE: &str = "^lo$";
    /// `--collector.diskstats.device-exclude`.
    pub const DISKSTATS_DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
    /// `--collector.textfile.directory`.
    pub const TEXTFILE_DIRECTORY: &str = "/var/lib/prometheus/node-exporter";
}

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
    /// The textfile collector's directory of `*.prom` files (default
    /// Debian's; "" for none).
    #[serde(default = "default_textfile_directory")]
    pub textfile_directory: String,
    /// The collectors to run, by node_exporter name (default: all).
    #[serde(default)]
    pub collectors: Option<Vec<String>>,
    /// node_exporter's `--collector.filesystem.mount-points-exclude`.
    #[serde(default = "default_mount_points_exclude")]
    pub filesystem_mount_points_exclude: String,
    /// node_exporter's `--collector.filesystem.fs-types-exclude`.
    #[serde(default = "default_fs_types_exclude")]
    pub filesystem_fs_types_exclude: String,
    /// node_exporter's `--collector.netdev.device-exclude`.
    #[serde(default = "default_netdev_device_exclude")]
    pub netdev_device_exclude: String,
    /// node_exporter's `--collector.netdev.device-include`.
    #[serde(default)]
    pub netdev_device_include: String,
    /// node_exporter's `--collector.diskstats.device-exclude`.
    #[serde(default = "default_diskstats_device_exclude")]
    pub diskstats_device_exclude: String,
    /// node_exporter's `--collector.diskstats.device-include`.
    #[serde(default)]
    pub diskstats_device_include: String,
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
fn default_textfile_directory() -> String {
    defaults::TEXTFILE_DIRECTORY.to_owned()
}
fn default_mount_points_exclude() -> String {
    defaults::FILESYSTEM_MOUNT_POINTS_EXCLUDE.to_owned()
}
fn default_fs_types_exclude() -> String {
    defaults::FILESYSTEM_FS_TYPES_EXCLUDE.to_owned()
}
fn default_netdev_device_exclude() -> String {
    defaults::NETDEV_DEVICE_EXCLUDE.to_owned()
}
fn default_diskstats_device_exclude() -> String {
    defaults::DISKSTATS_DEVICE_EXCLUDE.to_owned()
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
    pub options: CollectorOptions,
}

/// The collector options tern takes from node_exporter's flags (regexes,
/// unanchored as Go's `MatchString`): what the `host_metrics:` block and
/// `tern hostmetrics` set, and what the collectors run with
/// (`hostmetrics::Options`, whose `Default` is Debian's
/// `prometheus-node-exporter` 1.5, which patches some of upstream's).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorOptions {
    /// `--collector.filesystem.mount-points-exclude`; empty excludes every mount.
    pub filesystem_mount_points_exclude: String,
    /// `--collector.filesystem.fs-types-exclude`; empty excludes every mount.
    pub filesystem_fs_types_exclude: String,
    /// `--collector.netdev.device-exclude`; empty excludes nothing.
    pub netdev_device_exclude: String,
    /// `--collector.netdev.device-include`; empty includes all. Only one of
    /// include and exclude may be non-empty.
    pub netdev_device_include: String,
    /// `--collector.diskstats.device-exclude`; empty excludes nothing.
    pub diskstats_device_exclude: String,
    /// `--collector.diskstats.device-include`; as netdev's.
    pub diskstats_device_include: String,
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
        for (key, value) in [
            ("filesystem_mount_points_exclude", &self.filesystem_mount_points_exclude),
            ("filesystem_fs_types_exclude", &self.filesystem_fs_types_exclude),
            ("netdev_device_exclude", &self.netdev_device_exclude),
            ("netdev_device_include", &self.netdev_device_include),
            ("diskstats_device_exclude", &self.diskstats_device_exclude),
            ("diskstats_device_include", &self.diskstats_device_include),
        ] {
            if let Err(e) = regex::Regex::new(value) {
                p.add(at.key(key), format!("invalid regex {value:?}: {e}"));
            }
        }
        // node_exporter refuses to start with both set (its default exclude
        // counts as set).
        for (name, exclude, include) in [
            ("netdev_device", &self.netdev_device_exclude, &self.netdev_device_include),
            ("diskstats_device", &self.diskstats_device_exclude, &self.diskstats_device_include),
        ] {
            if !exclude.is_empty() && !include.is_empty() {
                p.add(
                    at.key(&format!("{name}_include")),
                    format!(
                        "{name}_include and {name}_exclude are mutually exclusive, as node_exporter's flags \
                         (set {name}_exclude: \"\" to use an include list)"
                    ),
                );
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
            options: CollectorOptions {
                filesystem_mount_points_exclude: self.filesystem_mount_points_exclude,
                filesystem_fs_types_exclude: self.filesystem_fs_types_exclude,
                netdev_device_exclude: self.netdev_device_exclude,
                netdev_device_include: self.netdev_device_include,
                diskstats_device_exclude: self.diskstats_device_exclude,
                diskstats_device_include: self.diskstats_device_include,
            },
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
        assert_eq!(
            host.textfile_directory,
            Some(PathBuf::from("/var/lib/prometheus/node-exporter"))
        );
        assert_eq!(host.collectors, None);
        assert_eq!(
            host.options.filesystem_mount_points_exclude,
            defaults::FILESYSTEM_MOUNT_POINTS_EXCLUDE
        );
        assert_eq!(host.options.filesystem_fs_types_exclude, defaults::FILESYSTEM_FS_TYPES_EXCLUDE);
        assert_eq!(host.options.netdev_device_exclude, "^lo$");
        assert_eq!(host.options.netdev_device_include, "");
        assert_eq!(host.options.diskstats_device_exclude, defaults::DISKSTATS_DEVICE_EXCLUDE);
        assert_eq!(host.options.diskstats_device_include, "");
        let host = load("host_metrics: {textfile_directory: ''}\n").unwrap().unwrap();
        assert_eq!(host.textfile_directory, None);
    }

    #[test]
    fn collector_options_are_taken_as_written() {
        let yaml = "host_metrics:\n  filesystem_mount_points_exclude: '^/(dev|proc|sys)($|/)'\n  \
                    filesystem_fs_types_exclude: '^tmpfs$'\n  netdev_device_exclude: ''\n  \
                    netdev_device_include: '^eth'\n  diskstats_device_exclude: '^loop'\n";
        let host = load(yaml).unwrap().unwrap();
        assert_eq!(host.options.filesystem_mount_points_exclude, "^/(dev|proc|sys)($|/)");
        assert_eq!(host.options.filesystem_fs_types_exclude, "^tmpfs$");
        assert_eq!(host.options.netdev_device_exclude, "");
        assert_eq!(host.options.netdev_device_include, "^eth");
        assert_eq!(host.options.diskstats_device_exclude, "^loop");
        assert_eq!(host.options.diskstats_device_include, "");
    }

    #[test]
    fn bad_collector_options_name_file_line_and_column() {
        let err =
            load("host_metrics:\n  job_name: n\n  netdev_device_exclude: '(lo'\n").unwrap_err();
        assert!(err.starts_with("/etc/tern/t.yml:3:"), "{err}");
        assert!(err.contains("invalid regex \"(lo\""), "{err}");
        let err = load("host_metrics:\n  filesystem_fs_types_exclude: '[z-a]'\n").unwrap_err();
        assert!(err.starts_with("/etc/tern/t.yml:2:"), "{err}");
        // node_exporter's rule: include needs the (default) exclude emptied.
        let err = load("host_metrics:\n  diskstats_device_include: '^sd'\n").unwrap_err();
        assert!(err.starts_with("/etc/tern/t.yml:2:"), "{err}");
        assert!(err.contains("mutually exclusive"), "{err}");
        let err = load("host_metrics:\n  netdev_device_include: '^eth'\n").unwrap_err();
        assert!(err.contains("set netdev_device_exclude: \"\""), "{err}");
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
