//! file_sd and the discovery manager against real temporary directories.
//!
//! Every wait is bounded (`WAIT`); the provider polls every 500 ms, so each
//! step normally completes in well under a second.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tern::discovery::{
    DiscoveredTargets, DiscoveryMetrics, FileProvider, FileSdConfig, FileSdError, FileSdStatus,
    Manager, Provider, ProviderConfig, StaticConfig, TargetGroup,
};
use tern::labels::Labels;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(5);

/// `"{source} {address}"` per target, `"{source} -"` for an empty group.
fn summary(groups: &[TargetGroup]) -> Vec<String> {
    let mut out = Vec::new();
    for g in groups {
        if g.targets.is_empty() {
            out.push(format!("{} -", g.source));
        }
        for t in &g.targets {
            out.push(format!("{} {}", g.source, t.get("__address__").expect("address")));
        }
    }
    out
}

fn write(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Writes `path` as tools should: a temporary file renamed over it, so that a
/// scan never sees a half-written file (needed where a test counts reads).
fn write_atomic(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp");
    write(&tmp, content);
    std::fs::rename(&tmp, path).unwrap();
}

fn json_targets(targets: &[&str]) -> String {
    let quoted: Vec<String> = targets.iter().map(|t| format!("{t:?}")).collect();
    format!(r#"[{{"targets": [{}], "labels": {{"env": "test"}}}}]"#, quoted.join(", "))
}

/// A file_sd provider on a temporary directory, and what it sends.
struct FileSd {
    dir: TempDir,
    rx: mpsc::Receiver<Vec<TargetGroup>>,
    latest: Vec<TargetGroup>,
    sends: usize,
    metrics: DiscoveryMetrics,
    status: FileSdStatus,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl FileSd {
    /// Starts a provider on `patterns`, relative to a new temporary directory.
    async fn start(patterns: &[&str]) -> FileSd {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, patterns).await
    }

    async fn start_in(dir: TempDir, patterns: &[&str]) -> FileSd {
        let files = patterns.iter().map(|p| dir.path().join(p).to_string_lossy().into_owned());
        let metrics = DiscoveryMetrics::default();
        let provider = FileProvider::new(FileSdConfig::new(files), metrics.clone());
        let status = provider.status();
        let (tx, mut rx) = mpsc::channel(4);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(provider.run(tx, cancel.clone()));
        let latest = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("initial list within the deadline")
            .expect("provider running");
        FileSd { dir, rx, latest, sends: 1, metrics, status, cancel, task }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Receives lists until `want` holds for the latest one.
    async fn wait_for(&mut self, what: &str, want: impl Fn(&[TargetGroup]) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !want(&self.latest) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(groups)) => {
                    self.latest = groups;
                    self.sends += 1;
                }
                Ok(None) => panic!("provider stopped while waiting for {what}"),
                Err(_) => {
                    panic!("timed out waiting for {what}; latest {:?}", summary(&self.latest))
                }
            }
        }
    }

    async fn wait_for_summary(&mut self, want: &[String]) {
        self.wait_for(&format!("{want:?}"), |g| summary(g) == want).await;
    }

    /// Polls the status until `path` has an error.
    async fn wait_for_error(&self, path: &Path) -> FileSdError {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.status.error(path) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no error for {} within the deadline",
                path.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("provider returns when cancelled")
            .unwrap();
    }
}

fn line(path: &Path, index: usize, address: &str) -> String {
    format!("{}:{index} {address}", path.display())
}

#[tokio::test]
async fn written_file_targets_appear_with_meta_filepath() {
    let mut sd = FileSd::start(&["*.json"]).await;
    assert_eq!(summary(&sd.latest), Vec::<String>::new(), "initial list is sent even if empty");
    let a = sd.path("a.json");
    write(&a, &json_targets(&["a:1", "a:2"]));
    sd.wait_for_summary(&[line(&a, 0, "a:1"), line(&a, 0, "a:2")]).await;
    let labels = &sd.latest[0].labels;
    let want = a.to_string_lossy();
    assert_eq!(labels.get("__meta_filepath"), Some(&*want));
    assert_eq!(labels.get("env"), Some("test"));
    assert_eq!(sd.metrics.file_files(), 1);
    sd.stop().await;
}

#[tokio::test]
async fn rewritten_file_changes_targets_within_two_seconds() {
    let mut sd = FileSd::start(&["*.json"]).await;
    let a = sd.path("a.json");
    write(&a, &json_targets(&["a:1"]));
    sd.wait_for_summary(&[line(&a, 0, "a:1")]).await;
    let started = Instant::now();
    write(&a, &json_targets(&["b:1", "b:2"]));
    sd.wait_for_summary(&[line(&a, 0, "b:1"), line(&a, 0, "b:2")]).await;
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    sd.stop().await;
}

#[tokio::test]
async fn broken_file_keeps_last_good_targets_until_fixed() {
    let mut sd = FileSd::start(&["*.yml"]).await;
    let a = sd.path("a.yml");
    write(&a, "- targets: [a:1]\n");
    sd.wait_for_summary(&[line(&a, 0, "a:1")]).await;
    let sends = sd.sends;

    write_atomic(&a, "- targets: [a:1\n  labels: {}\n");
    let error = sd.wait_for_error(&a).await;
    let text = error.to_string();
    assert!(text.starts_with(&format!("{}: ", a.display())), "names the file: {text}");
    assert!(matches!(error, FileSdError::Parse { line: Some(_), .. }), "{error:?}");
    assert_eq!(sd.metrics.file_read_errors(), 1);
    // Nothing changed for the consumer: no new list, the last good one stands.
    tokio::time::sleep(Duration::from_millis(700)).await;
    while let Ok(groups) = sd.rx.try_recv() {
        sd.latest = groups;
        sd.sends += 1;
    }
    assert_eq!(sd.sends, sends, "a broken file sends nothing");
    assert_eq!(sd.metrics.file_read_errors(), 1, "an unchanged broken file is not re-read");

    write(&a, "- targets: [a:1, a:2]\n");
    sd.wait_for_summary(&[line(&a, 0, "a:1"), line(&a, 0, "a:2")]).await;
    assert!(sd.status.error(&a).is_none(), "error cleared once the file reads again");
    sd.stop().await;
}

#[tokio::test]
async fn deleted_file_removes_its_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    write(&a, &json_targets(&["a:1"]));
    write(&b, &json_targets(&["b:1"]));
    let mut sd = FileSd::start_in(dir, &["*.json"]).await;
    assert_eq!(summary(&sd.latest), [line(&a, 0, "a:1"), line(&b, 0, "b:1")]);
    assert_eq!(sd.metrics.file_files(), 2);
    std::fs::remove_file(&a).unwrap();
    sd.wait_for_summary(&[line(&b, 0, "b:1")]).await;
    assert_eq!(sd.metrics.file_files(), 1);
    sd.stop().await;
}

#[tokio::test]
async fn deleted_broken_file_drops_its_error_and_groups() {
    let mut sd = FileSd::start(&["*.json"]).await;
    let a = sd.path("a.json");
    write(&a, &json_targets(&["a:1"]));
    sd.wait_for_summary(&[line(&a, 0, "a:1")]).await;
    write(&a, "[{");
    sd.wait_for_error(&a).await;
    std::fs::remove_file(&a).unwrap();
    sd.wait_for_summary(&[]).await;
    assert!(sd.status.errors().is_empty());
    sd.stop().await;
}

#[tokio::test]
async fn new_file_matching_the_glob_is_picked_up_and_others_ignored() {
    let mut sd = FileSd::start(&["tg_*.json", "*.yaml"]).await;
    write(&sd.path("other.json"), &json_targets(&["x:1"]));
    write(&sd.path("tg_1.txt"), &json_targets(&["x:2"]));
    let (j, y) = (sd.path("tg_1.json"), sd.path("b.yaml"));
    write(&j, &json_targets(&["j:1"]));
    write(&y, "- targets: [y:1]\n- targets: [y:2]\n");
    sd.wait_for_summary(&[line(&y, 0, "y:1"), line(&y, 1, "y:2"), line(&j, 0, "j:1")]).await;
    assert_eq!(sd.metrics.file_files(), 2);
    sd.stop().await;
}

#[tokio::test]
async fn atomic_rename_is_picked_up() {
    let mut sd = FileSd::start(&["*.json"]).await;
    let a = sd.path("a.json");
    write(&a, &json_targets(&["a:1"]));
    sd.wait_for_summary(&[line(&a, 0, "a:1")]).await;
    // Same size as before, so only the new inode tells the change.
    let tmp = sd.path(".a.json.tmp");
    write(&tmp, &json_targets(&["b:1"]));
    std::fs::rename(&tmp, &a).unwrap();
    sd.wait_for_summary(&[line(&a, 0, "b:1")]).await;
    sd.stop().await;
}

#[tokio::test]
async fn invalid_pattern_is_reported_and_the_others_still_work() {
    let mut sd = FileSd::start(&["*.txt", "*.json"]).await;
    let errors = sd.status.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(matches!(errors[0], FileSdError::Pattern { .. }), "{errors:?}");
    let a = sd.path("a.json");
    write(&a, &json_targets(&["a:1"]));
    sd.wait_for_summary(&[line(&a, 0, "a:1")]).await;
    sd.stop().await;
}

#[tokio::test]
async fn provider_returns_when_cancelled_and_its_files_no_longer_count() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.json"), &json_targets(&["a:1"]));
    let sd = FileSd::start_in(dir, &["*.json"]).await;
    let metrics = sd.metrics.clone();
    assert_eq!(metrics.file_files(), 1);
    sd.stop().await;
    assert_eq!(metrics.file_files(), 0);
}

// --- Manager ---------------------------------------------------------------

type Rx = watch::Receiver<Arc<DiscoveredTargets>>;

fn static_job(job: &str, targets: &[&str]) -> (String, Vec<ProviderConfig>) {
    let config = StaticConfig {
        targets: targets.iter().map(|t| t.to_string()).collect(),
        labels: Labels::new(),
    };
    (job.to_owned(), vec![ProviderConfig::Static(vec![config])])
}

fn file_job(job: &str, dir: &Path) -> (String, Vec<ProviderConfig>) {
    let pattern = dir.join("*.json").to_string_lossy().into_owned();
    (job.to_owned(), vec![ProviderConfig::File(FileSdConfig::new([pattern]))])
}

fn addresses(state: &DiscoveredTargets) -> Vec<String> {
    let mut out: Vec<String> = state
        .iter()
        .flat_map(|(job, groups)| {
            let targets = groups.iter().flat_map(|g| &g.targets);
            targets.map(move |t| format!("{job} {}", t.get("__address__").unwrap()))
        })
        .collect();
    out.sort();
    out
}

/// Waits until the published state, as `addresses` and job names, matches.
async fn wait_published(rx: &mut Rx, jobs: &[&str], want: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        {
            let state = rx.borrow_and_update();
            let mut names: Vec<&str> = state.keys().map(String::as_str).collect();
            names.sort();
            if names == jobs && addresses(&state) == want {
                return;
            }
        }
        let state = rx.borrow().clone();
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("manager stopped"),
            Err(_) => panic!("timed out waiting for {want:?}; published {:?}", addresses(&state)),
        }
    }
}

#[tokio::test]
async fn manager_publishes_file_changes_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let (mut m, mut rx) = Manager::new(DiscoveryMetrics::default());
    m.apply(vec![file_job("files", dir.path())]).await;
    wait_published(&mut rx, &["files"], &[]).await;
    let started = Instant::now();
    write(&dir.path().join("a.json"), &json_targets(&["a:1"]));
    wait_published(&mut rx, &["files"], &["files a:1"]).await;
    // Design bound: poll (500 ms) + coalescing (100 ms) + the scan; slack for loaded CI.
    assert!(started.elapsed() < Duration::from_millis(1200), "took {:?}", started.elapsed());
    m.shutdown().await;
}

#[tokio::test]
async fn manager_reload_keeps_unchanged_jobs_restarts_changed_and_stops_removed() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.json"), &json_targets(&["f:1"]));
    let metrics = DiscoveryMetrics::default();
    let (mut m, mut rx) = Manager::new(metrics.clone());
    m.apply(vec![
        file_job("files", dir.path()),
        static_job("keep", &["k:1"]),
        static_job("gone", &["g:1"]),
        static_job("change", &["c:1"]),
    ])
    .await;
    let jobs = ["change", "files", "gone", "keep"];
    wait_published(&mut rx, &jobs, &["change c:1", "files f:1", "gone g:1", "keep k:1"]).await;
    assert_eq!(metrics.updates("files"), Some(1));
    assert_eq!(metrics.updates("keep"), Some(1));
    assert_eq!(metrics.targets("gone"), Some(1));

    m.apply(vec![
        static_job("change", &["c:2"]),
        static_job("keep", &["k:1"]),
        file_job("files", dir.path()),
    ])
    .await;
    wait_published(&mut rx, &["change", "files", "keep"], &["change c:2", "files f:1", "keep k:1"])
        .await;
    // Unchanged jobs were not restarted: their providers sent nothing new.
    assert_eq!(metrics.updates("files"), Some(1));
    assert_eq!(metrics.updates("keep"), Some(1));
    assert_eq!(metrics.updates("change"), Some(2));
    assert_eq!(metrics.targets("gone"), None, "a removed job's series go");
    assert_eq!(metrics.updates("gone"), None);
    assert_eq!(metrics.file_files(), 1, "one file_sd provider, not two");

    // The untouched file provider still runs.
    write(&dir.path().join("b.json"), &json_targets(&["f:2"]));
    wait_published(
        &mut rx,
        &["change", "files", "keep"],
        &["change c:2", "files f:1", "files f:2", "keep k:1"],
    )
    .await;
    m.shutdown().await;
}

#[tokio::test]
async fn manager_exposes_the_last_file_sd_error_per_job() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    write(&a, &json_targets(&["a:1"]));
    let metrics = DiscoveryMetrics::default();
    let (mut m, mut rx) = Manager::new(metrics.clone());
    m.apply(vec![file_job("files", dir.path())]).await;
    wait_published(&mut rx, &["files"], &["files a:1"]).await;
    write_atomic(&a, "[{\"targets\": 1}]");
    let deadline = Instant::now() + WAIT;
    while m.file_sd_error("files", &a).is_none() {
        assert!(Instant::now() < deadline, "no error within the deadline");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let errors = m.file_sd_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "files");
    assert_eq!(errors[0].1.path(), a);
    assert_eq!(metrics.file_read_errors(), 1);
    assert_eq!(addresses(&rx.borrow()), ["files a:1"], "last good targets kept");
    m.shutdown().await;
}

#[tokio::test]
async fn manager_shutdown_stops_providers_and_closes_the_channel() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.json"), &json_targets(&["a:1"]));
    let metrics = DiscoveryMetrics::default();
    let (mut m, mut rx) = Manager::new(metrics.clone());
    m.apply(vec![file_job("files", dir.path()), static_job("s", &["s:1"])]).await;
    wait_published(&mut rx, &["files", "s"], &["files a:1", "s s:1"]).await;
    tokio::time::timeout(WAIT, m.shutdown()).await.expect("shutdown within the deadline");
    assert_eq!(metrics.file_files(), 0);
    let closed = tokio::time::timeout(WAIT, rx.changed()).await.expect("no hang");
    assert!(closed.is_err(), "channel closed after shutdown");
}
