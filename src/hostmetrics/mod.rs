//! Built-in host metrics, compatible with node_exporter 1.5: one module per
//! collector, each reading files under configurable roots (`/proc`, `/sys`,
//! `/` on a host; `/host/proc`, `/host/sys`, `/host/root` in a DaemonSet).
//!
//! Invariants:
//! - Metric names, HELP strings, types, label names and label values are the
//!   ones node_exporter 1.5.0 prints, byte for byte, so dashboards keep working.
//! - Every collector separates its pure parser (`parse_*`, unit-tested on
//!   fixture files under `tests/data/hostmetrics/`) from the file reads.
//! - A collector that fails does not stop the others: [`collect`] reports it as
//!   `node_scrape_collector_success{collector} 0` and logs the error, as
//!   node_exporter does; [`CollectorError::NoData`] also reports 0 but is only
//!   logged at debug level (node_exporter's `ErrNoData`).
//! - No global state: roots and the textfile directory come in a [`Context`].
//!   Collection is synchronous file I/O; async callers run it on a blocking
//!   thread.

use std::path::{Path, PathBuf};
use std::time::Instant;

pub mod conntrack;
pub mod cpu;
pub mod diskstats;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod loadavg;
pub mod meminfo;
pub mod netdev;
pub mod netstat;
pub mod os;
pub mod pressure;
pub mod procfile;
pub mod registry;
pub mod sockstat;
pub mod stat;
pub mod textfile;
pub mod time;
pub mod uname;
pub mod vmstat;

pub use registry::{Kind, MetricSet};

/// Where the host's filesystems are mounted (node_exporter's
/// `--path.procfs`, `--path.sysfs`, `--path.rootfs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Roots {
    pub proc: PathBuf,
    pub sys: PathBuf,
    pub root: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots { proc: PathBuf::from("/proc"), sys: PathBuf::from("/sys"), root: PathBuf::from("/") }
    }
}

impl Roots {
    /// `rel` under the procfs root.
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.proc.join(rel)
    }

    /// `rel` under the sysfs root.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sys.join(rel)
    }

    /// `rel` under the root filesystem's mount point.
    pub fn root(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// Why a collector produced nothing or failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Parse { path: PathBuf, line: usize, message: String },
    /// node_exporter's `ErrNoData`: the source does not exist on this host;
    /// reported as `success 0` and logged at debug level only.
    #[error("no data: {0}")]
    NoData(String),
}

impl CollectorError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CollectorError::Io { path: path.to_path_buf(), source }
    }

    /// A parse error at `path:line`.
    pub fn parse(path: &Path, line: usize, message: impl Into<String>) -> Self {
        CollectorError::Parse { path: path.to_path_buf(), line, message: message.into() }
    }
}

/// Reads a whole file as a string, mapping the error to [`CollectorError::Io`].
pub fn read_file(path: &Path) -> Result<String, CollectorError> {
    std::fs::read_to_string(path).map_err(|e| CollectorError::io(path, e))
}

/// What a collector may look at during one collection.
pub struct Context<'a> {
    pub roots: &'a Roots,
    pub textfile_directory: Option<&'a Path>,
}

/// One collector, as node_exporter's `Collector`: reads files, pushes samples.
pub trait Collector: Send + Sync {
    /// node_exporter's collector name ("cpu", "meminfo", ...).
    fn name(&self) -> &'static str;
    /// Pushes this collector's samples for one collection into `out`.
    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError>;
}

/// Every implemented collector with Debian's default options, in
/// node_exporter's name order.
pub fn all() -> Vec<Box<dyn Collector>> {
    all_with(&Options::default()).expect("BUG: default collector options")
}

/// Every implemented collector with `options`, in node_exporter's name order.
pub fn all_with(options: &Options) -> Result<Vec<Box<dyn Collector>>, SettingsError> {
    let o = options;
    let mount_points = "collector.filesystem.mount-points-exclude";
    regex::Regex::new(&o.filesystem_mount_points_exclude)
        .map_err(|e| SettingsError::option(mount_points, e))?;
    let filesystem = filesystem::Filesystem::new(
        &o.filesystem_mount_points_exclude,
        &o.filesystem_fs_types_exclude,
        filesystem::DEFAULT_MOUNT_TIMEOUT,
    )
    .map_err(|e| SettingsError::option("collector.filesystem.fs-types-exclude", e))?;
    let netdev = netdev::DeviceFilter::new(&o.netdev_device_exclude, &o.netdev_device_include)
        .map_err(|e| SettingsError::option("collector.netdev.device-*", e))?;
    let diskstats =
        netdev::DeviceFilter::new(&o.diskstats_device_exclude, &o.diskstats_device_include)
            .map_err(|e| SettingsError::option("collector.diskstats.device-*", e))?;
    Ok(vec![
        Box::new(conntrack::Conntrack),
        Box::new(cpu::Cpu::default()),
        Box::new(diskstats::Diskstats::with_filter(diskstats)),
        Box::new(entropy::Entropy),
        Box::new(filefd::Filefd),
        Box::new(filesystem),
        Box::new(loadavg::Loadavg),
        Box::new(meminfo::Meminfo),
        Box::new(netdev::Netdev::with_filter(netdev)),
        Box::new(netstat::Netstat::default()),
        Box::new(os::Os),
        Box::new(pressure::Pressure),
        Box::new(sockstat::Sockstat),
        Box::new(stat::Stat),
        Box::new(textfile::Textfile),
        Box::new(time::Time),
        Box::new(uname::Uname),
        Box::new(vmstat::Vmstat::default()),
    ])
}

/// The names of every implemented collector.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|c| c.name()).collect()
}

/// The collector options (defined with the config, which is data): the
/// defaults below are Debian's `prometheus-node-exporter` 1.5's.
pub use crate::config::CollectorOptions as Options;

impl Default for Options {
    fn default() -> Self {
        Options {
            filesystem_mount_points_exclude: filesystem::DEFAULT_MOUNT_POINTS_EXCLUDE.to_owned(),
            filesystem_fs_types_exclude: filesystem::DEFAULT_FS_TYPES_EXCLUDE.to_owned(),
            netdev_device_exclude: netdev::DEFAULT_DEVICE_EXCLUDE.to_owned(),
            netdev_device_include: String::new(),
            diskstats_device_exclude: diskstats::DEFAULT_DEVICE_EXCLUDE.to_owned(),
            diskstats_device_include: String::new(),
        }
    }
}

/// What one collection runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub roots: Roots,
    /// The textfile collector's directory; `None` as node_exporter with an
    /// empty `--collector.textfile.directory` (upstream's default).
    pub textfile_directory: Option<PathBuf>,
    /// The collectors to run, by name; `None` runs all of them.
    pub collectors: Option<Vec<String>>,
    pub options: Options,
}

impl Default for Settings {
    /// Debian's defaults, the textfile directory included.
    fn default() -> Self {
        Settings {
            roots: Roots::default(),
            textfile_directory: Some(PathBuf::from(textfile::DEFAULT_DIRECTORY)),
            collectors: None,
            options: Options::default(),
        }
    }
}

impl Settings {
    /// The settings of a loaded `host_metrics:` block.
    pub fn from_config(config: &crate::config::HostMetricsConfig) -> Self {
        Settings {
            roots: Roots {
                proc: config.procfs.clone(),
                sys: config.sysfs.clone(),
                root: config.rootfs.clone(),
            },
            textfile_directory: config.textfile_directory.clone(),
            collectors: config.collectors.clone(),
            options: config.options.clone(),
        }
    }
}

/// A set of collectors chosen once, run many times.
pub struct HostCollector {
    settings: Settings,
    collectors: Vec<Box<dyn Collector>>,
}

impl std::fmt::Debug for HostCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCollector")
            .field("settings", &self.settings)
            .field("collectors", &self.collector_names())
            .finish()
    }
}

/// Settings that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown collector {name:?} (known: {known})")]
    UnknownCollector { name: String, known: String },
    /// A bad regex or a device-include next to a device-exclude; `flag` is
    /// node_exporter's flag name.
    #[error("--{flag}: {message}")]
    Option { flag: &'static str, message: String },
}

impl SettingsError {
    fn option(flag: &'static str, e: impl std::fmt::Display) -> Self {
        SettingsError::Option { flag, message: e.to_string() }
    }
}

impl HostCollector {
    /// Picks the collectors named in `settings` (all when none are named).
    pub fn try_new(settings: Settings) -> Result<Self, SettingsError> {
        let mut available = all_with(&settings.options)?;
        let collectors = match &settings.collectors {
            None => available,
            Some(wanted) => {
                let mut chosen: Vec<Box<dyn Collector>> = Vec::with_capacity(wanted.len());
                for name in wanted {
                    let Some(i) = available.iter().position(|c| c.name() == name) else {
                        if chosen.iter().any(|c| c.name() == name) {
                            continue;
                        }
                        return Err(SettingsError::UnknownCollector {
                            name: name.clone(),
                            known: names().join(", "),
                        });
                    };
                    chosen.push(available.swap_remove(i));
                }
                chosen.sort_by_key(|c| c.name());
                chosen
            }
        };
        Ok(HostCollector { settings, collectors })
    }

    /// The settings the collectors were chosen with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The names of the chosen collectors.
    pub fn collector_names(&self) -> Vec<&'static str> {
        self.collectors.iter().map(|c| c.name()).collect()
    }

    /// Runs every chosen collector once, then adds
    /// `node_scrape_collector_{duration_seconds,success}` for each.
    pub fn collect(&self) -> MetricSet {
        let mut out = MetricSet::default();
        let ctx = Context {
            roots: &self.settings.roots,
            textfile_directory: self.settings.textfile_directory.as_deref(),
        };
        for collector in &self.collectors {
            let name = collector.name();
            let start = Instant::now();
            let result = collector.update(&ctx, &mut out);
            let elapsed = start.elapsed().as_secs_f64();
            let success = match result {
                Ok(()) => 1.0,
                Err(CollectorError::NoData(why)) => {
                    tracing::debug!(collector = name, reason = %why, "collector returned no data");
                    0.0
                }
                Err(e) => {
                    tracing::error!(collector = name, error = %e, "collector failed");
                    0.0
                }
            };
            out.push(
                "node_scrape_collector_duration_seconds",
                "node_exporter: Duration of a collector scrape.",
                Kind::Gauge,
                &[("collector", name)],
                elapsed,
            );
            out.push(
                "node_scrape_collector_success",
                "node_exporter: Whether a collector succeeded.",
                Kind::Gauge,
                &[("collector", name)],
                success,
            );
        }
        out
    }
}

/// One collection with `settings`: the entry point for one-off use (`tern
/// hostmetrics`). Fails only on an unknown collector name or a bad option.
pub fn collect(settings: Settings) -> Result<MetricSet, SettingsError> {
    Ok(HostCollector::try_new(settings)?.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_knows_every_collector_and_only_those() {
        assert_eq!(names(), crate::config::KNOWN_COLLECTORS);
    }

    #[test]
    fn the_config_defaults_are_the_collectors_defaults() {
        use crate::config::host_metrics_defaults as config;
        let o = Options::default();
        assert_eq!(o.filesystem_mount_points_exclude, config::FILESYSTEM_MOUNT_POINTS_EXCLUDE);
        assert_eq!(o.filesystem_fs_types_exclude, config::FILESYSTEM_FS_TYPES_EXCLUDE);
        assert_eq!(o.netdev_device_exclude, config::NETDEV_DEVICE_EXCLUDE);
        assert_eq!(o.diskstats_device_exclude, config::DISKSTATS_DEVICE_EXCLUDE);
        assert_eq!(textfile::DEFAULT_DIRECTORY, config::TEXTFILE_DIRECTORY);
    }

    #[test]
    fn bad_options_are_refused_naming_the_flag() {
        let mut s = Settings::default();
        s.options.netdev_device_include = "^eth".into();
        let err = HostCollector::try_new(s.clone()).unwrap_err().to_string();
        assert!(err.contains("--collector.netdev.device-*: device-exclude & device-include are mutually exclusive"), "{err}");
        s.options.netdev_device_exclude = String::new();
        assert!(HostCollector::try_new(s.clone()).is_ok());
        s.options.filesystem_fs_types_exclude = "(".into();
        let err = HostCollector::try_new(s).unwrap_err().to_string();
        assert!(
            err.contains("--collector.filesystem.fs-types-exclude: regex parse error"),
            "{err}"
        );
    }

    #[test]
    fn unknown_collectors_are_refused_and_failures_reported_per_collector() {
        let settings = |names: &[&str]| Settings {
            collectors: Some(names.iter().map(|n| n.to_string()).collect()),
            ..Settings::default()
        };
        let err = HostCollector::try_new(settings(&["cpu", "gpu"])).unwrap_err();
        assert!(matches!(&err, SettingsError::UnknownCollector { name, .. } if name == "gpu"));
        let (_dir, roots) = procfile::testing::temp_roots();
        let mut s = settings(&["meminfo", "uname"]);
        s.roots = roots;
        let out = collect(s).unwrap();
        assert_eq!(
            out.get("node_scrape_collector_success", &[("collector", "meminfo")]),
            Some(0.0)
        );
        assert_eq!(out.get("node_scrape_collector_success", &[("collector", "uname")]), Some(1.0));
        assert!(out
            .get("node_scrape_collector_duration_seconds", &[("collector", "meminfo")])
            .is_some());
        assert!(out.get("node_uname_info", &[]).is_none()); // has labels
        assert!(out.to_text().contains("node_uname_info{"));
    }
}
