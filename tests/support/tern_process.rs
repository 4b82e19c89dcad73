//! The real `tern run` binary as a child process, on a config file and a
//! data directory that outlive it: a test can SIGKILL the process and start
//! a new one on the same WAL, as after a crash.
//!
//! Each process listens on its own free port and logs (stderr) to its own
//! file in the temporary directory, which failure messages quote. Every wait
//! has a deadline; the child is killed when its [`TernProcess`] is dropped.
//! With `TERN_TEST_KEEP` set, the temporary directories are kept.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

use super::agent::{parse_openmetrics, OwnSample};
use super::{free_port, ChildGuard};

/// How long a new process may take to answer `/-/ready` with 200.
pub const READY_WITHIN: Duration = Duration::from_secs(15);

/// A config file and a data directory for `tern run`.
pub struct TernSetup {
    dir: TempDir,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    runs: usize,
}

impl TernSetup {
    /// Writes `config_yaml` to a new temporary directory; the data directory
    /// is `<tmp>/data` (created by tern).
    pub fn new(config_yaml: &str) -> TernSetup {
        let dir = keep_if_asked(tempfile::tempdir().expect("temp dir"));
        let config = dir.path().join("tern.yml");
        std::fs::write(&config, config_yaml).expect("write tern.yml");
        let data_dir = dir.path().join("data");
        TernSetup { dir, config, data_dir, runs: 0 }
    }

    /// Rewrites the config file (for the next start).
    pub fn write_config(&self, config_yaml: &str) {
        std::fs::write(&self.config, config_yaml).expect("write tern.yml");
    }

    /// `<data-dir>/wal`.
    pub fn wal_dir(&self) -> PathBuf {
        self.data_dir.join("wal")
    }

    /// Starts `tern run` and waits until `/-/ready` answers 200 (which
    /// also means the WAL was opened and replayed).
    pub async fn start(&mut self) -> TernProcess {
        self.runs += 1;
        let log = self.dir.path().join(format!("tern-{}.log", self.runs));
        TernProcess::launch(&self.config, &self.data_dir, log, |c| {
            c.env("TERN_LOG", "info");
        })
        .await
    }
}

/// A running `tern run`.
pub struct TernProcess {
    pub port: u16,
    /// When the process was spawned.
    pub spawned: SystemTime,
    /// When `/-/ready` first answered 200.
    pub ready: SystemTime,
    log: PathBuf,
    child: ChildGuard,
    client: reqwest::Client,
}

impl TernProcess {
    /// Spawns `tern run` with `config` and `data_dir` on a free port, its
    /// stderr in `log`, the environment as `env` sets it on the command, and
    /// waits until `/-/ready` answers 200.
    pub async fn launch(
        config: &Path,
        data_dir: &Path,
        log: PathBuf,
        env: impl FnOnce(&mut Command),
    ) -> TernProcess {
        let port = free_port();
        let stderr = std::fs::File::create(&log).expect("create tern log");
        let spawned = SystemTime::now();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tern"));
        command
            .arg("run")
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        env(&mut command);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn tern run");
        let mut p = TernProcess {
            port,
            spawned,
            ready: spawned,
            log,
            child: ChildGuard(child),
            client: reqwest::Client::new(),
        };
        p.ready = p.wait_ready().await;
        p
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_ready(&mut self) -> SystemTime {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = self.child.0.try_wait() {
                panic!("tern exited with {status} before it was ready; log:\n{}", self.log());
            }
            if let Ok(r) = self.client.get(self.url("/-/ready")).send().await {
                if r.status().as_u16() == 200 {
                    return SystemTime::now();
                }
            }
            assert!(
                Instant::now() < deadline,
                "tern not ready after {READY_WITHIN:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process's log (stderr) so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// Panics (with the log) unless the process is still running.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.0.try_wait() {
            panic!("tern exited with {status}; log:\n{}", self.log());
        }
    }

    /// `GET path`'s body.
    pub async fn get(&self, path: &str) -> String {
        let r = self.client.get(self.url(path)).send().await.expect("GET tern");
        r.text().await.expect("body")
    }

    /// `GET /metrics`, parsed.
    pub async fn metrics(&self) -> Metrics {
        let r = self.client.get(self.url("/metrics")).send().await;
        let r = r.unwrap_or_else(|e| panic!("GET /metrics: {e}; log:\n{}", self.log()));
        assert_eq!(r.status().as_u16(), 200, "GET /metrics");
        Metrics(parse_openmetrics(&r.text().await.expect("metrics body")))
    }

    /// Metrics read while no scrape is between "counted" and "appended to
    /// the WAL" (every sample the scrape stage handed on is appended), so
    /// that the scrape counters and the highest appended timestamp describe
    /// the same scrapes.
    pub async fn settled_metrics(&self) -> Metrics {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.metrics().await;
            if m.sum("tern_scrape_samples_total") == m.sum("tern_wal_appended_samples_total") {
                return m;
            }
            assert!(Instant::now() < deadline, "scraped and appended samples never agree");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls the metrics until `want` holds, for at most `within`.
    pub async fn wait_metrics(
        &self,
        within: Duration,
        what: &str,
        want: impl Fn(&Metrics) -> bool,
    ) -> Metrics {
        let deadline = Instant::now() + within;
        loop {
            let m = self.metrics().await;
            if want(&m) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the next scrape to be appended, then for `after` more, and
    /// returns the settled metrics: with `after` well inside the scrape
    /// interval, no scrape happens between this and a kill that follows.
    pub async fn settle_after_next_append(&self, after: Duration) -> Metrics {
        let before = self.metrics().await.highest_appended_ms();
        self.wait_metrics(Duration::from_secs(5), "next scrape appended", |m| {
            m.highest_appended_ms() > before
        })
        .await;
        tokio::time::sleep(after).await;
        self.settled_metrics().await
    }

    /// SIGKILL (no shutdown of any kind), then waits for the exit. Returns
    /// when the signal was sent.
    pub fn kill9(mut self) -> SystemTime {
        self.assert_running();
        let at = SystemTime::now();
        // `Child::kill` is SIGKILL on Unix.
        self.child.0.kill().expect("SIGKILL tern");
        let status = self.child.0.wait().expect("wait for tern");
        assert!(!status.success(), "tern exited normally after SIGKILL: {status}");
        at
    }
}

/// With `TERN_TEST_KEEP` set, `dir` (logs, data) is kept after the test and
/// its path printed.
pub fn keep_if_asked(mut dir: TempDir) -> TempDir {
    if std::env::var_os("TERN_TEST_KEEP").is_some() {
        dir.disable_cleanup(true);
        println!("TERN_TEST_KEEP: keeping {}", dir.path().display());
    }
    dir
}

/// The lines of a log file, or a note that it is unreadable.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()))
}

/// tern's own metrics at one moment.
#[derive(Debug, Clone)]
pub struct Metrics(pub Vec<OwnSample>);

impl Metrics {
    /// The sum over every sample named `name` (0 when there is none).
    pub fn sum(&self, name: &str) -> f64 {
        // `+ 0.0`: an empty float sum is -0.0.
        self.0.iter().filter(|s| s.name == name).map(|s| s.value).sum::<f64>() + 0.0
    }

    /// `prometheus_remote_storage_highest_timestamp_in_seconds` in ms: the
    /// newest sample appended to the WAL by this process (0 before any).
    pub fn highest_appended_ms(&self) -> i64 {
        secs_to_ms(self.sum("prometheus_remote_storage_highest_timestamp_in_seconds"))
    }

    /// `prometheus_remote_storage_queue_highest_sent_timestamp_seconds` in
    /// ms: the newest sample delivered by this process (0 before any).
    pub fn highest_sent_ms(&self) -> i64 {
        let sent = self
            .0
            .iter()
            .filter(|s| s.name == "prometheus_remote_storage_queue_highest_sent_timestamp_seconds");
        secs_to_ms(sent.map(|s| s.value).fold(0.0, f64::max))
    }

    /// Every sample whose name starts with `prefix`, one per line.
    pub fn dump(&self, prefix: &str) -> String {
        let mut out = String::new();
        for s in self.0.iter().filter(|s| s.name.starts_with(prefix)) {
            out.push_str(&format!("{}{:?} {}\n", s.name, s.labels, s.value));
        }
        out
    }
}

/// Float seconds (a millisecond timestamp divided by 1000) back to ms.
pub fn secs_to_ms(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

/// Milliseconds since the epoch.
pub fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_millis() as i64
}
