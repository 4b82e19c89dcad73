//! The `prometheus.yml` model: serde types, Prometheus' defaults, validation.
//!
//! A user's Prometheus configuration loads unchanged. Prometheus' keys that
//! an agent does not use (`rule_files`, `alerting`, `remote_read`, `storage`,
//! `tracing`, `otlp`, `runtime`) are accepted and reported as warnings; any
//! other unknown key is an error naming its path and position. Service
//! discovery other than `static_configs`, `file_sd_configs` and
//! `kubernetes_sd_configs` is refused as "not supported by tern".
//!
//! Invariants of a loaded [`Config`]: every value a job inherits from
//! `global` is filled in; `bearer_token*` are folded into `authorization`;
//! relative file paths are joined to the directory of the file they were
//! written in; jobs from `scrape_config_files` follow the main file's jobs.
//! Everything derives `PartialEq`, so a reload can compare a job's old and
//! new config to decide whether to restart it.
//!
//! This module is data: it reads files, but imports no runtime module (only
//! `labels` and `relabel`'s pure rule check), logs nothing (warnings are
//! returned) and never prints secrets ([`Secret`]).

mod de;
pub mod duration;
mod global;
mod host;
mod http;
pub mod kubernetes;
mod locate;
mod remote;
mod scrape;
pub mod size;
mod validate;
mod wal;

#[cfg(test)]
mod tests;

pub use duration::{format_duration, parse_duration, DurationError};
pub use global::GlobalConfig;
pub use host::{
    defaults as host_metrics_defaults, hostname, CollectorOptions, HostMetricsConfig,
    RawHostMetrics, KNOWN_COLLECTORS,
};
pub use http::{
    Authorization, BasicAuth, HttpClientConfig, HttpHeader, OAuth2, Secret, TlsConfig, TlsVersion,
};
pub use kubernetes::KubernetesSdConfig;
pub use remote::{MetadataConfig, ProtobufMessage, QueueConfig, RemoteWriteConfig, SigV4Config};
pub use scrape::{FileSdConfig, Scheme, ScrapeConfig, ScrapeProtocol, StaticConfig};
pub use size::{parse_size, ByteSize, SizeError};
pub use wal::{FsyncMode, WalConfig};

use de::{null_as_empty, present};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use validate::{KeyPath, Problems};

/// A loaded, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Defaults for all jobs, and external labels.
    pub global: GlobalConfig,
    /// Glob patterns of files holding more `scrape_configs` (joined to the
    /// config file's directory). Their jobs are already in `scrape_configs`.
    pub scrape_config_files: Vec<String>,
    /// The jobs: the main file's, then those of `scrape_config_files`.
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Where samples are sent.
    pub remote_write: Vec<RemoteWriteConfig>,
    /// tern's disk WAL (`wal:`).
    pub wal: WalConfig,
    /// Built-in host metrics (`host_metrics:`), when present and enabled.
    pub host_metrics: Option<HostMetricsConfig>,
}

/// The result of [`load`]: the config and the warnings to log.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The file the config was loaded from (as given).
    pub path: PathBuf,
    /// The configuration.
    pub config: Config,
    /// Things the caller should log at WARN, each `FILE:LINE:COL: message`.
    pub warnings: Vec<String>,
}

/// One problem in a config file. Lines and columns are 1-based; 0 means the
/// problem has no position (the file could not be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every problem found, in file order, then line order. Displays one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    /// The problems, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

/// The top-level keys of prometheus.yml, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping of prometheus.yml sections")]
struct RawConfig {
    #[serde(default)]
    global: GlobalConfig,
    #[serde(default, deserialize_with = "null_as_empty")]
    scrape_config_files: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    scrape_configs: Vec<ScrapeConfig>,
    #[serde(default, deserialize_with = "null_as_empty")]
    remote_write: Vec<RemoteWriteConfig>,
    // Prometheus keys an agent does not use: accepted, reported as warnings.
    #[serde(default, deserialize_with = "present")]
    rule_files: bool,
    #[serde(default, deserialize_with = "present")]
    alerting: bool,
    #[serde(default, deserialize_with = "present")]
    remote_read: bool,
    #[serde(default, deserialize_with = "present")]
    storage: bool,
    #[serde(default, deserialize_with = "present")]
    tracing: bool,
    #[serde(default, deserialize_with = "present")]
    otlp: bool,
    #[serde(default, deserialize_with = "present")]
    runtime: bool,
    // tern-only top-level blocks, each its own struct with `deny_unknown_fields`.
    #[serde(default)]
    wal: WalConfig,
    #[serde(default)]
    host_metrics: Option<RawHostMetrics>,
}

impl RawConfig {
    fn ignored_keys(&self) -> impl Iterator<Item = &'static str> {
        [
            ("rule_files", self.rule_files),
            ("alerting", self.alerting),
            ("remote_read", self.remote_read),
            ("storage", self.storage),
            ("tracing", self.tracing),
            ("otlp", self.otlp),
            ("runtime", self.runtime),
        ]
        .into_iter()
        .filter_map(|(key, present)| present.then_some(key))
    }
}

/// A file listed by `scrape_config_files`: jobs only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with scrape_configs")]
struct ScrapeConfigFile {
    #[serde(default, deserialize_with = "null_as_empty")]
    scrape_configs: Vec<ScrapeConfig>,
}

/// Reads, parses and validates the config file at `path`, with the process
/// environment for `external_labels`. Files named by `scrape_config_files`
/// are read too.
pub fn load(path: impl AsRef<Path>) -> Result<Loaded, ConfigErrors> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("cannot read config file: {e}"),
        }])
    })?;
    load_str(&text, path)
}

/// Parses and validates `text` as if read from `path` (used in messages and
/// as the base of relative paths), with the process environment.
pub fn load_str(text: &str, path: impl AsRef<Path>) -> Result<Loaded, ConfigErrors> {
    load_str_with_env(text, path, &|name| std::env::var(name).ok())
}

/// [`load_str`] with `env` looking up environment variables.
pub fn load_str_with_env(
    text: &str,
    path: impl AsRef<Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigErrors> {
    let path = path.as_ref();
    let raw: RawConfig = parse(text, path).map_err(|e| ConfigErrors(vec![e]))?;
    let mut loader = Loader {
        sources: vec![Source {
            path: path.to_owned(),
            text: text.to_owned(),
            problems: Problems::default(),
        }],
        read_errors: Vec::new(),
        warnings: Vec::new(),
    };
    let config = loader.build(raw, env);
    let errors = loader.errors();
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Loaded { path: path.to_owned(), config, warnings: loader.warnings })
}

impl Config {
    /// Counts for `tern check-config`, e.g. `3 scrape configs, 5 static
    /// targets, 1 file_sd config, 1 remote_write endpoint`.
    pub fn summary(&self) -> String {
        let jobs = &self.scrape_configs;
        let static_targets: usize = jobs.iter().map(ScrapeConfig::static_target_count).sum();
        let file_sd: usize = jobs.iter().map(|j| j.file_sd_configs.len()).sum();
        let k8s_sd: usize = jobs.iter().map(|j| j.kubernetes_sd_configs.len()).sum();
        let mut parts = vec![
            count(jobs.len(), "scrape config"),
            count(static_targets, "static target"),
            count(file_sd, "file_sd config"),
        ];
        if k8s_sd > 0 {
            parts.push(count(k8s_sd, "kubernetes_sd config"));
        }
        parts.push(count(self.remote_write.len(), "remote_write endpoint"));
        if let Some(host) = &self.host_metrics {
            parts.push(format!("host metrics (job {:?})", host.scrape.job_name));
        }
        parts.join(", ")
    }
}

impl Loaded {
    /// The line `tern check-config` prints, e.g. `config.yml: OK: 3 scrape
    /// configs, 5 static targets, 1 file_sd config, 1 remote_write endpoint`.
    pub fn summary(&self) -> String {
        format!("{}: OK: {}", self.path.display(), self.config.summary())
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A file taking part in the load, and the problems found in it.
struct Source {
    path: PathBuf,
    text: String,
    problems: Problems,
}

struct Loader {
    /// The main file first, then each file of `scrape_config_files`.
    sources: Vec<Source>,
    /// Files that could not be read or parsed.
    read_errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

/// A job and where it was written.
struct Job {
    source: usize,
    at: KeyPath,
    config: ScrapeConfig,
}

impl Loader {
    fn build(&mut self, raw: RawConfig, env: &dyn Fn(&str) -> Option<String>) -> Config {
        let root = KeyPath::root();
        for key in raw.ignored_keys() {
            let message = format!("{key} is not used by tern (an agent) and is ignored");
            self.warn(root.key(key), message);
        }
        let mut global = raw.global;
        let mut warnings = Vec::new();
        global.resolve(env, &mut self.sources[0].problems, &mut warnings);
        for (at, message) in warnings {
            self.warn(at, message);
        }
        let mut jobs: Vec<Job> = (raw.scrape_configs.into_iter().enumerate())
            .map(|(i, config)| Job { source: 0, at: root.key("scrape_configs").index(i), config })
            .collect();
        let patterns = self.read_scrape_config_files(&raw.scrape_config_files, &mut jobs);
        self.check_jobs(&mut jobs, &global, env);
        let host_metrics = raw.host_metrics.and_then(|h| {
            let dir = self.dir(0);
            h.resolve(&global, env, &dir, &mut self.sources[0].problems)
        });
        if let Some(host) = &host_metrics {
            let name = host.scrape.job_name.as_str();
            if jobs.iter().any(|j| j.config.job_name == name) {
                let at = KeyPath::root().key("host_metrics").key("job_name");
                let message = format!(
                    "host_metrics job name {name:?} is also the job name of a scrape config"
                );
                self.sources[0].problems.add(at, message);
            }
        }
        let remote_write = self.check_remote_write(raw.remote_write);

        let dir = self.dir(0);
        join_opt(&dir, &mut global.query_log_file);
        join_opt(&dir, &mut global.scrape_failure_log_file);
        for job in &mut jobs {
            job.config.join_dir(&self.dir(job.source));
        }
        Config {
            global,
            scrape_config_files: patterns,
            scrape_configs: jobs.into_iter().map(|j| j.config).collect(),
            remote_write,
            wal: raw.wal,
            host_metrics,
        }
    }

    /// Reads the files `scrape_config_files` matches (in glob order) and adds
    /// their jobs; returns the patterns joined to the config's directory.
    fn read_scrape_config_files(
        &mut self,
        patterns: &[String],
        jobs: &mut Vec<Job>,
    ) -> Vec<String> {
        let dir = self.dir(0);
        let mut joined = Vec::new();
        for (i, pattern) in patterns.iter().enumerate() {
            let at = KeyPath::root().key("scrape_config_files").index(i);
            let full = join_dir_str(&dir, pattern);
            joined.push(full.clone());
            if !is_valid_files_pattern(pattern) {
                let message = format!("invalid scrape config file path {pattern:?}");
                self.sources[0].problems.add(at, message);
                continue;
            }
            let paths = match glob::glob(&full) {
                Ok(paths) => paths,
                Err(e) => {
                    let message = format!("invalid scrape config file path {pattern:?}: {e}");
                    self.sources[0].problems.add(at, message);
                    continue;
                }
            };
            let mut matched = 0;
            for entry in paths {
                matched += 1;
                match entry {
                    Ok(file) => self.read_jobs_file(file, jobs),
                    Err(e) => self.read_errors.push(unreadable(e.path(), e.error())),
                }
            }
            if matched == 0 {
                self.warn(at, format!("scrape_config_files pattern {pattern:?} matches no files"));
            }
        }
        joined
    }

    fn read_jobs_file(&mut self, file: PathBuf, jobs: &mut Vec<Job>) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => return self.read_errors.push(unreadable(&file, &e)),
        };
        match parse::<ScrapeConfigFile>(&text, &file) {
            Ok(parsed) => {
                let source = self.sources.len();
                let at = KeyPath::root().key("scrape_configs");
                jobs.extend(parsed.scrape_configs.into_iter().enumerate().map(|(i, config)| Job {
                    source,
                    at: at.index(i),
                    config,
                }));
                self.sources.push(Source { path: file, text, problems: Problems::default() });
            }
            Err(e) => self.read_errors.push(e),
        }
    }

    /// Per-job checks and defaults, then unique job names across all files.
    fn check_jobs(
        &mut self,
        jobs: &mut [Job],
        global: &GlobalConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) {
        let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
        for job in jobs.iter_mut() {
            let problems = &mut self.sources[job.source].problems;
            validate::scrape_config(&mut job.config, global, &job.at, problems);
            let at = job.at.key("kubernetes_sd_configs");
            let sd = &mut job.config.kubernetes_sd_configs;
            let warnings = kubernetes::validate(sd, env, &at, problems);
            if job.source == 0 {
                for (at, message) in warnings {
                    self.warn(at, message);
                }
            }
        }
        for job in jobs.iter() {
            let name = job.config.job_name.as_str();
            if name.is_empty() {
                continue; // reported as "job_name is empty"
            }
            match first_seen.get(name) {
                None => {
                    first_seen.insert(name, job.source);
                }
                Some(&first) => {
                    let mut message =
                        format!("found multiple scrape configs with job name {name:?}");
                    if job.source != 0 || first != 0 {
                        let where_ = match first {
                            0 => "main config file".to_owned(),
                            n => format!("{:?}", self.sources[n].path.display().to_string()),
                        };
                        message.push_str(&format!(", first found in {where_}"));
                    }
                    let at = job.at.key("job_name");
                    self.sources[job.source].problems.add(at, message);
                }
            }
        }
    }

    fn check_remote_write(
        &mut self,
        mut endpoints: Vec<RemoteWriteConfig>,
    ) -> Vec<RemoteWriteConfig> {
        let dir = self.dir(0);
        let problems = &mut self.sources[0].problems;
        let mut names = std::collections::BTreeSet::new();
        for (i, rw) in endpoints.iter_mut().enumerate() {
            let at = KeyPath::root().key("remote_write").index(i);
            validate::remote_write(rw, &at, problems);
            if let Some(name) = rw.name.as_deref().filter(|n| !n.is_empty()) {
                if !names.insert(name.to_owned()) {
                    problems.add(
                        at.key("name"),
                        format!("found multiple remote write configs with name {name:?}"),
                    );
                }
            }
            rw.join_dir(&dir);
        }
        endpoints
    }

    /// Directory of source `i`, the base of its relative paths.
    fn dir(&self, i: usize) -> PathBuf {
        let path = &self.sources[i].path;
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// Records a warning about the main file.
    fn warn(&mut self, at: KeyPath, message: String) {
        let main = &self.sources[0];
        let (line, column) = locate::locate(&main.text, &at);
        let warning = ConfigError { file: main.path.clone(), line, column, message };
        self.warnings.push(warning.to_string());
    }

    /// All problems as positioned errors: by file, then by position.
    fn errors(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for source in &self.sources {
            let mut found: Vec<ConfigError> = (source.problems.0.iter())
                .map(|problem| {
                    let (line, column) = locate::locate(&source.text, &problem.at);
                    ConfigError {
                        file: source.path.clone(),
                        line,
                        column,
                        message: problem.message.clone(),
                    }
                })
                .collect();
            found.sort_by_key(|e| (e.line, e.column));
            errors.extend(found);
        }
        errors.extend(self.read_errors.iter().cloned());
        errors
    }
}

/// Deserialises `text`, turning a serde_yaml error into a positioned error.
fn parse<T: serde::de::DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
    serde_yaml::from_str(text).map_err(|err| {
        let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        // serde_yaml appends the position to its message; it is ours to print.
        let full = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = de::tidy_unknown_field(full.strip_suffix(&suffix).unwrap_or(&full));
        ConfigError { file: file.to_owned(), line, column, message }
    })
}

fn unreadable(file: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError {
        file: file.to_owned(),
        line: 0,
        column: 0,
        message: format!("cannot read file: {e}"),
    }
}

/// Prometheus' check on `scrape_config_files` (and `rule_files`) patterns:
/// `^[^*]*(\*[^/]*)?$`, i.e. wildcards only in the last path element.
fn is_valid_files_pattern(pattern: &str) -> bool {
    match pattern.find('*') {
        None => true,
        Some(star) => !pattern[star + 1..].contains('/'),
    }
}

/// Joins a relative path with `dir`; empty and absolute paths stay as they are.
pub(crate) fn join_dir_str(dir: &Path, path: &str) -> String {
    if path.is_empty() || Path::new(path).is_absolute() {
        return path.to_owned();
    }
    dir.join(path).to_string_lossy().into_owned()
}

fn join_opt(dir: &Path, path: &mut Option<PathBuf>) {
    if let Some(p) = path.as_mut().filter(|p| !p.as_os_str().is_empty()) {
        *p = dir.join(&*p);
    }
}
