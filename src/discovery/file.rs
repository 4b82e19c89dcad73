//! `file_sd_configs`: target groups read from JSON or YAML files.
//!
//! Behaviour (Prometheus' `discovery/file`, with polling instead of inotify):
//! - `files` are globs; only the last path element may hold a pattern and each
//!   must end in `.json`, `.yml` or `.yaml` ([`validate_pattern`]). Config
//!   validation rejects others; at runtime an invalid pattern is skipped with a
//!   WARN and shown in [`FileSdStatus`], and the other patterns keep working.
//! - Entry `i` of file `path` becomes the group with source `"{path}:{i}"` and
//!   the label `__meta_filepath="{path}"` ([`parse_target_groups`]).
//! - Every [`DEFAULT_POLL_INTERVAL`] the globs are expanded and each file is
//!   `stat`ed; a file is re-read when its size, mtime, ctime or inode changed
//!   (an atomic rename changes the inode). Every `refresh_interval` all files
//!   are re-read regardless.
//! - A file that fails to read or parse keeps its last good groups (none if it
//!   never parsed): the error is counted in `tern_discovery_file_read_errors_total`,
//!   logged at WARN once per distinct error, and kept in [`FileSdStatus`] until
//!   the file reads again or disappears. A file that disappears drops its groups.
//! - The provider sends its full list at start and whenever it changed.
//!
//! Why polling and not `notify`: two `stat`s per file per second are cheap for the
//! handful of files file_sd is used with, work the same on every file system
//! (NFS, ConfigMap symlink swaps, overlayfs), and needs no extra dependency;
//! Prometheus itself pairs its watches with a periodic full refresh because
//! watches miss events.
//!
//! Concurrency: one task per provider; globbing, `stat` and reading run on
//! tokio's blocking pool, one scan at a time.

mod parse;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{DiscoveryMetrics, Provider, TargetGroup};

pub use parse::parse_target_groups;

/// Prometheus' default `refresh_interval` for file_sd.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// How often the globs are expanded and the files `stat`ed: with the manager's
/// [`COALESCE`](super::COALESCE), a change is published well within a second.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// The label that holds the path of the file a group came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// One `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSdConfig {
    /// Glob patterns of the target files.
    pub files: Vec<String>,
    /// Period of the full re-read (default 5m).
    pub refresh_interval: Duration,
}

impl FileSdConfig {
    /// A config with the default refresh interval.
    pub fn new<S: Into<String>>(files: impl IntoIterator<Item = S>) -> Self {
        FileSdConfig {
            files: files.into_iter().map(Into::into).collect(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
        }
    }
}

/// Why a pattern or a file yields no (new) groups. Cloneable so that the last
/// error per file can be handed out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FileSdError {
    #[error("file_sd pattern {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("{}: must end in .json, .yml or .yaml", path.display())]
    Extension { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: Arc<io::Error> },
    /// `message` is the parser's, position included when it gives one.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, line: Option<usize>, column: Option<usize>, message: String },
}

impl FileSdError {
    /// The file (or, for [`FileSdError::Pattern`], the pattern) it is about.
    pub fn path(&self) -> &Path {
        match self {
            FileSdError::Pattern { pattern, .. } => Path::new(pattern),
            FileSdError::Extension { path }
            | FileSdError::Read { path, .. }
            | FileSdError::Parse { path, .. } => path,
        }
    }
}

/// Checks a `files` pattern as Prometheus does
/// (`^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`): a pattern may appear
/// only in the last path element, and the pattern must end in an extension.
pub fn validate_pattern(pattern: &str) -> Result<(), FileSdError> {
    let fail = |reason: &str| {
        Err(FileSdError::Pattern { pattern: pattern.to_owned(), reason: reason.to_owned() })
    };
    let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    if dir.contains(['*', '?', '[']) {
        return fail("only the last path element may hold a pattern");
    }
    let ext = name.rsplit_once('.').map(|(_, ext)| ext);
    if !matches!(ext, Some("json" | "yml" | "yaml" | "JSON" | "YML" | "YAML")) {
        return fail("must end in .json, .yml or .yaml");
    }
    if let Err(e) = glob::Pattern::new(pattern) {
        return fail(&e.to_string());
    }
    Ok(())
}

/// The last error of each file (and of each invalid pattern) of one provider.
/// Cloning shares the state.
#[derive(Debug, Clone, Default)]
pub struct FileSdStatus(Arc<Mutex<BTreeMap<PathBuf, FileSdError>>>);

impl FileSdStatus {
    /// The current errors, by path.
    pub fn errors(&self) -> Vec<FileSdError> {
        self.lock().values().cloned().collect()
    }

    /// The last error of `path`, if its last read failed.
    pub fn error(&self, path: &Path) -> Option<FileSdError> {
        self.lock().get(path).cloned()
    }

    fn set(&self, error: FileSdError) {
        self.lock().insert(error.path().to_owned(), error);
    }

    fn clear(&self, path: &Path) {
        self.lock().remove(path);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, FileSdError>> {
        // A panic while holding this lock leaves a valid map: keep using it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads target groups from files; see the module docs.
#[derive(Debug)]
pub struct FileProvider {
    patterns: Arc<[String]>,
    refresh_interval: Duration,
    poll_interval: Duration,
    metrics: DiscoveryMetrics,
    status: FileSdStatus,
}

impl FileProvider {
    /// Invalid patterns are dropped here and reported in [`Self::status`] (and
    /// logged at WARN when the provider runs).
    pub fn new(config: FileSdConfig, metrics: DiscoveryMetrics) -> Self {
        let status = FileSdStatus::default();
        let mut patterns = Vec::new();
        for p in config.files {
            match validate_pattern(&p) {
                Ok(()) => patterns.push(p),
                Err(e) => status.set(e),
            }
        }
        FileProvider {
            patterns: patterns.into(),
            // A zero interval would spin; Prometheus' config forbids it too.
            refresh_interval: config.refresh_interval.max(Duration::from_secs(1)),
            poll_interval: DEFAULT_POLL_INTERVAL,
            metrics,
            status,
        }
    }

    /// Overrides [`DEFAULT_POLL_INTERVAL`] (tests, very large directories).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// A handle on the last error per file, usable while the provider runs.
    pub fn status(&self) -> FileSdStatus {
        self.status.clone()
    }
}

impl Provider for FileProvider {
    async fn run(self, tx: mpsc::Sender<Vec<TargetGroup>>, cancel: CancellationToken) {
        for e in self.status.errors() {
            tracing::warn!(error = %e, "file_sd pattern skipped");
        }
        let mut files = Files::new(self.metrics.clone(), self.status.clone());
        let mut next_full = Instant::now();
        let mut first = true;
        loop {
            let full = Instant::now() >= next_full;
            if full {
                next_full = Instant::now() + self.refresh_interval;
            }
            let scan = tokio::task::spawn_blocking({
                let patterns = Arc::clone(&self.patterns);
                let known = files.stamps();
                move || scan(&patterns, &known, full)
            });
            let scanned = tokio::select! {
                _ = cancel.cancelled() => return,
                r = scan => r,
            };
            match scanned {
                Ok(observations) => {
                    if files.apply(observations) || first {
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            r = tx.send(files.groups()) => if r.is_err() { return },
                        }
                        first = false;
                    }
                }
                // Keep every file as it was; the next poll scans again.
                Err(e) => tracing::error!(error = %e, "BUG: file_sd scan panicked"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
        }
    }
}

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// (inode, ctime seconds, ctime nanoseconds) on Unix; zero elsewhere.
    unix: (u64, i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        let unix = {
            use std::os::unix::fs::MetadataExt;
            (meta.ino(), meta.ctime(), meta.ctime_nsec())
        };
        #[cfg(not(unix))]
        let unix = (0, 0, 0);
        Stamp { len: meta.len(), modified: meta.modified().ok(), unix }
    }
}

/// One matched file, as seen by a scan.
#[derive(Debug)]
struct Observation {
    path: PathBuf,
    /// `None`: stamp unchanged, not read.
    read: Option<Read>,
}

/// A read attempt: the stamp it was made at (`None`: `stat` failed) and its result.
#[derive(Debug)]
struct Read {
    stamp: Option<Stamp>,
    result: Result<Vec<TargetGroup>, FileSdError>,
}

/// Expands the patterns and reads the files that are new or changed (all of
/// them when `full`). Files that are not in the result are gone. Blocking.
fn scan(patterns: &[String], known: &HashMap<PathBuf, Stamp>, full: bool) -> Vec<Observation> {
    let mut out = Vec::new();
    for path in expand(patterns) {
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => continue, // a directory named like a target file
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // vanished since the glob
            Err(e) => {
                let err = FileSdError::Read { path: path.clone(), source: Arc::new(e) };
                out.push(Observation { path, read: Some(Read { stamp: None, result: Err(err) }) });
                continue;
            }
        };
        let stamp = Stamp::of(&meta);
        if !full && known.get(&path) == Some(&stamp) {
            out.push(Observation { path, read: None });
            continue;
        }
        // The stamp is taken before reading: a write in between is seen as a
        // change by the next scan, never missed.
        let result = match std::fs::read(&path) {
            Ok(content) => parse_target_groups(&path, &content),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => Err(FileSdError::Read { path: path.clone(), source: Arc::new(e) }),
        };
        out.push(Observation { path, read: Some(Read { stamp: Some(stamp), result }) });
    }
    out
}

/// The files matched by the patterns, sorted, each once.
fn expand(patterns: &[String]) -> BTreeSet<PathBuf> {
    // As Go's filepath.Glob: `*` stops at `/` but matches a leading dot.
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut paths = BTreeSet::new();
    for pattern in patterns {
        let Ok(entries) = glob::glob_with(pattern, options) else {
            continue; // validated in FileProvider::new
        };
        for entry in entries {
            match entry {
                Ok(path) => {
                    paths.insert(path);
                }
                Err(e) => tracing::debug!(pattern, error = %e, "file_sd: unreadable path skipped"),
            }
        }
    }
    paths
}

/// The provider's view of its files.
struct Files {
    files: BTreeMap<PathBuf, FileState>,
    metrics: DiscoveryMetrics,
    status: FileSdStatus,
}

#[derive(Default)]
struct FileState {
    /// Of the last read attempt; `None` when `stat` failed (retried every poll).
    stamp: Option<Stamp>,
    /// The last good groups.
    groups: Vec<TargetGroup>,
    /// The last error's text, to log each distinct error once.
    last_error: Option<String>,
}

impl Files {
    fn new(metrics: DiscoveryMetrics, status: FileSdStatus) -> Self {
        Files { files: BTreeMap::new(), metrics, status }
    }

    fn stamps(&self) -> HashMap<PathBuf, Stamp> {
        self.files.iter().filter_map(|(p, f)| Some((p.clone(), f.stamp?))).collect()
    }

    /// The full list: each file's groups, files in path order.
    fn groups(&self) -> Vec<TargetGroup> {
        self.files.values().flat_map(|f| f.groups.iter().cloned()).collect()
    }

    /// Takes in a scan's result; returns whether the list of groups changed.
    fn apply(&mut self, observations: Vec<Observation>) -> bool {
        let before = self.files.len();
        let mut changed = false;
        let mut seen = BTreeSet::new();
        for Observation { path, read } in observations {
            seen.insert(path.clone());
            let state = self.files.entry(path.clone()).or_default();
            let Some(Read { stamp, result }) = read else { continue };
            state.stamp = stamp;
            match result {
                Ok(groups) => {
                    if state.last_error.take().is_some() {
                        tracing::info!(path = %path.display(), "file_sd: file reads again");
                        self.status.clear(&path);
                    }
                    if state.groups != groups {
                        state.groups = groups;
                        changed = true;
                    }
                }
                Err(e) => {
                    self.metrics.file_read_errors.inc();
                    let text = e.to_string();
                    if state.last_error.as_deref() != Some(text.as_str()) {
                        tracing::warn!(
                            path = %path.display(),
                            error = %text,
                            "file_sd: keeping the file's last good targets"
                        );
                        state.last_error = Some(text);
                    }
                    self.status.set(e);
                }
            }
        }
        let gone: Vec<PathBuf> =
            self.files.keys().filter(|p| !seen.contains(*p)).cloned().collect();
        for path in gone {
            let state = self.files.remove(&path).expect("BUG: key just listed");
            changed |= !state.groups.is_empty();
            if state.last_error.is_some() {
                self.status.clear(&path);
            }
            tracing::debug!(path = %path.display(), "file_sd: file gone");
        }
        self.adjust_files_gauge(before);
        changed
    }

    fn adjust_files_gauge(&self, before: usize) {
        let delta = self.files.len() as i64 - before as i64;
        self.metrics.file_files.inc_by(delta);
    }
}

impl Drop for Files {
    /// Whatever way the provider ends, its files no longer count.
    fn drop(&mut self) {
        self.metrics.file_files.dec_by(self.files.len() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(pattern: &str, want: Result<(), &str>) {
        match (validate_pattern(pattern), want) {
            (Ok(()), Ok(())) => {}
            (Err(e), Err(msg)) => {
                let text = e.to_string();
                assert!(text.contains(msg), "{text:?} should contain {msg:?}");
            }
            (got, want) => panic!("{pattern:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn patterns() {
        check("targets.json", Ok(()));
        check("/etc/tern/sd/*.yml", Ok(()));
        check("sd/tg_*.yaml", Ok(()));
        check("sd/*.JSON", Ok(()));
        check("sd/node-?.json", Ok(()));
        check("sd/*/x.json", Err("only the last path element"));
        check("sd*/x.json", Err("only the last path element"));
        check("sd/*", Err("must end in .json, .yml or .yaml"));
        check("sd/x.txt", Err("must end in .json, .yml or .yaml"));
        check("sd/x.json.bak", Err("must end in .json, .yml or .yaml"));
        check("sd/[.json", Err("file_sd pattern \"sd/[.json\""));
    }

    #[test]
    fn invalid_patterns_are_reported_by_the_status() {
        let p = FileProvider::new(
            FileSdConfig::new(["ok/*.json", "bad/*.txt"]),
            DiscoveryMetrics::default(),
        );
        assert_eq!(&*p.patterns, ["ok/*.json".to_owned()]);
        let errors = p.status().errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path(), Path::new("bad/*.txt"));
    }
}
