//! tern's app (`tern::app::start`) on a config written to a temporary
//! directory, with its endpoints on 127.0.0.1:0 and its sink drained into a
//! shared list of batches that tests wait on.
//!
//! Every wait polls with a deadline ([`WAIT`]); nothing blocks unbounded.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tern::app::Handle;
use tern::exposition::{Entry, Format, Parser, STALE_NAN_BITS};
use tern::scrape::{ScrapeBatch, SeriesSample};
use tokio::time::Instant;

/// The longest any single wait may take. Scrapes run every second; on a
/// loaded two-core machine a step normally completes within two or three.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// The automatic series of every scrape, in the order tern writes them.
pub const AUTO_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// A config with a 1s interval and timeout and the given jobs.
pub fn config(jobs: &[String]) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}",
        jobs.concat()
    )
}

/// A `scrape_configs` entry with static targets; `extra` holds more keys of
/// the job, one per line, unindented.
pub fn job(name: &str, targets: &[SocketAddr], extra: &str) -> String {
    let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    let mut s = format!(
        "  - job_name: {name}\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    for line in extra.lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// An address on 127.0.0.1 where nothing listens (bound, then released).
pub fn dead_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap()
}

/// Whether `v` is a staleness marker.
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Writes `path` through a temporary file renamed over it, so that a reader
/// never sees half a file.
pub fn write_atomic(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap();
}

/// Reading a batch the way the tests look at it.
pub trait BatchExt {
    /// The target's `instance` label.
    fn instance(&self) -> &str;
    /// The value of the sample named `name`, stale markers left out.
    fn value(&self, name: &str) -> Option<f64>;
    /// `up`, when the batch is a scrape's (not a target's final stale markers).
    fn up(&self) -> Option<f64> {
        self.value("up")
    }
    /// The timestamp of `up`: the scrape's time.
    fn scrape_ms(&self) -> Option<i64>;
    /// Samples from the target's body: no automatic series, no stale markers.
    fn scraped(&self) -> Vec<&SeriesSample>;
    /// Label sets (as printed) of the stale markers in the batch.
    fn stale(&self) -> BTreeSet<String>;
    /// Label sets (as printed) of the samples from the target's body.
    fn scraped_series(&self) -> BTreeSet<String> {
        self.scraped().iter().map(|s| s.series.to_string()).collect()
    }
}

fn name_of(s: &SeriesSample) -> &str {
    s.series.get("__name__").unwrap_or_default()
}

impl BatchExt for ScrapeBatch {
    fn instance(&self) -> &str {
        self.target.get("instance").unwrap_or_default()
    }

    fn value(&self, name: &str) -> Option<f64> {
        self.samples.iter().find(|s| name_of(s) == name && !is_stale(s.value)).map(|s| s.value)
    }

    fn scrape_ms(&self) -> Option<i64> {
        self.samples
            .iter()
            .find(|s| name_of(s) == "up" && !is_stale(s.value))
            .map(|s| s.timestamp_ms)
    }

    fn scraped(&self) -> Vec<&SeriesSample> {
        self.samples
            .iter()
            .filter(|s| !is_stale(s.value) && !AUTO_SERIES.contains(&name_of(s)))
            .collect()
    }

    fn stale(&self) -> BTreeSet<String> {
        self.samples.iter().filter(|s| is_stale(s.value)).map(|s| s.series.to_string()).collect()
    }
}

/// Every batch the sink received, in order.
#[derive(Clone, Default)]
pub struct Batches {
    list: Arc<Mutex<Vec<ScrapeBatch>>>,
}

impl Batches {
    /// Drains `rx` into the list until the sender side closes. Each batch is
    /// acknowledged as stored at once, which lets its scrape loop go on.
    pub fn collect(mut rx: tokio::sync::mpsc::Receiver<ScrapeBatch>) -> Batches {
        let batches = Batches::default();
        let list = batches.list.clone();
        tokio::spawn(async move {
            while let Some(mut b) = rx.recv().await {
                if let Some(done) = b.done.take() {
                    let _ = done.send(Vec::new());
                }
                list.lock().unwrap().push(b);
            }
        });
        batches
    }

    /// How many batches arrived so far: a mark for [`Batches::since`].
    pub fn len(&self) -> usize {
        self.list.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batches from index `from` on.
    pub fn since(&self, from: usize) -> Vec<ScrapeBatch> {
        self.list.lock().unwrap()[from..].to_vec()
    }

    /// The batches of `instance` from index `from` on.
    pub fn of(&self, instance: &str, from: usize) -> Vec<ScrapeBatch> {
        self.since(from).into_iter().filter(|b| b.instance() == instance).collect()
    }

    /// Waits for a batch at index `from` or later that satisfies `want`;
    /// returns its index and the batch.
    pub async fn wait_for(
        &self,
        from: usize,
        what: &str,
        want: impl Fn(&ScrapeBatch) -> bool,
    ) -> (usize, ScrapeBatch) {
        let deadline = Instant::now() + WAIT;
        let mut next = from;
        loop {
            {
                let list = self.list.lock().unwrap();
                if let Some(i) = (next..list.len()).find(|&i| want(&list[i])) {
                    return (i, list[i].clone());
                }
                next = next.max(list.len());
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> =
                    self.since(from).iter().map(summary).rev().take(10).collect();
                panic!("timed out after {WAIT:?} waiting for {what}; last batches: {seen:#?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for the next scrape of `instance` (index `from` or later).
    pub async fn next_scrape(&self, from: usize, instance: &str) -> (usize, ScrapeBatch) {
        self.wait_for(from, &format!("a scrape of {instance}"), |b| {
            b.instance() == instance && b.up().is_some()
        })
        .await
    }

    /// Waits for the next scrape of `instance` with `up` equal to `up`.
    pub async fn next_with_up(&self, from: usize, instance: &str, up: f64) -> (usize, ScrapeBatch) {
        self.wait_for(from, &format!("a scrape of {instance} with up={up}"), |b| {
            b.instance() == instance && b.up() == Some(up)
        })
        .await
    }

    /// Waits for `n` consecutive scrapes of `instance` from index `from` on.
    pub async fn scrapes(&self, from: usize, instance: &str, n: usize) -> Vec<ScrapeBatch> {
        let mut out = Vec::new();
        let mut at = from;
        while out.len() < n {
            let (i, b) = self.next_scrape(at, instance).await;
            out.push(b);
            at = i + 1;
        }
        out
    }
}

/// One line about a batch, for failure messages.
pub fn summary(b: &ScrapeBatch) -> String {
    format!(
        "{} job={} up={:?} scraped={} stale={}",
        b.instance(),
        b.job,
        b.up(),
        b.scraped().len(),
        b.stale().len()
    )
}

/// One sample of tern's own metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl OwnSample {
    /// Named `name`, with (at least) `labels`.
    pub fn is(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.name == name
            && labels.iter().all(|(k, v)| self.labels.get(*k).map(String::as_str) == Some(*v))
    }
}

/// Parses an OpenMetrics body with tern's parser; panics with the line on error.
pub fn parse_openmetrics(body: &str) -> Vec<OwnSample> {
    let mut out = Vec::new();
    for entry in Parser::new(Format::OpenMetrics, body.as_bytes()) {
        let entry = entry.unwrap_or_else(|e| panic!("OpenMetrics parse error: {e}\n{body}"));
        if let Entry::Sample(s) = entry {
            let labels = s.labels().map(|l| (l.name.into_owned(), l.value.into_owned())).collect();
            out.push(OwnSample { name: s.name.into_owned(), labels, value: s.value });
        }
    }
    out
}

/// A running tern.
pub struct Agent {
    handle: Option<Handle>,
    pub batches: Batches,
    /// Where tern's own endpoints listen.
    pub http: SocketAddr,
    /// The config file; [`Agent::write_config`] rewrites it.
    pub config: PathBuf,
    pub dir: TempDir,
    client: reqwest::Client,
}

impl Agent {
    /// Starts tern on `yaml` (written to a new temporary directory) with its
    /// endpoints on 127.0.0.1:0.
    pub async fn start(yaml: &str) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, yaml).await
    }

    /// As [`Agent::start`], in a directory the test prepared (file_sd files).
    pub async fn start_in(dir: TempDir, yaml: &str) -> Agent {
        let config = dir.path().join("prometheus.yml");
        write_atomic(&config, yaml);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let http = listener.local_addr().unwrap();
        let (sink, rx) = tokio::sync::mpsc::channel(1024);
        let batches = Batches::collect(rx);
        let handle = tern::app::start(config.clone(), Some(listener), sink)
            .await
            .unwrap_or_else(|e| panic!("tern does not start: {e}\nconfig:\n{yaml}"));
        let client =
            reqwest::Client::builder().no_proxy().timeout(WAIT).build().expect("HTTP client");
        Agent { handle: Some(handle), batches, http, config, dir, client }
    }

    pub fn handle(&self) -> &Handle {
        self.handle.as_ref().expect("BUG: agent already shut down")
    }

    /// Rewrites the config file (atomically); a reload picks it up.
    pub fn write_config(&self, yaml: &str) {
        write_atomic(&self.config, yaml);
    }

    /// `http://{endpoints}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// `GET path` on tern's endpoints: status, Content-Type and body.
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        let r = self
            .client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, ct, r.text().await.expect("body"))
    }

    /// `POST path` on tern's endpoints: status and body.
    pub async fn post(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .post(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    /// `/api/v1/targets{query}` as JSON.
    pub async fn targets_api(&self, query: &str) -> Value {
        let (status, _, body) = self.get(&format!("/api/v1/targets{query}")).await;
        assert_eq!(status, 200, "/api/v1/targets{query}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("targets JSON: {e}: {body}"))
    }

    /// The active target whose `scrapeUrl` is `url`, if any.
    pub async fn active_target(&self, url: &str) -> Option<Value> {
        let v = self.targets_api("").await;
        v["data"]["activeTargets"].as_array()?.iter().find(|t| t["scrapeUrl"] == url).cloned()
    }

    /// Polls the targets API until the target with `url` satisfies `want`.
    pub async fn wait_for_target(&self, url: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let t = self.active_target(url).await;
            if let Some(t) = t.as_ref().filter(|t| want(t)) {
                return t.clone();
            }
            if Instant::now() >= deadline {
                panic!("timed out after {WAIT:?} waiting on target {url}; latest: {t:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `/metrics`, parsed with tern's own OpenMetrics parser (a parse error
    /// fails the test): each sample as (name, labels, value).
    pub async fn own_metrics(&self) -> Vec<OwnSample> {
        let (status, _, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "/metrics: {body}");
        parse_openmetrics(&body)
    }

    /// The value of the own metric `name` whose labels include `labels`.
    pub async fn own_metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.own_metrics().await.into_iter().find(|s| s.is(name, labels)).map(|s| s.value)
    }

    /// Reloads through the handle (as SIGHUP does).
    pub async fn reload(&self) -> Result<(), String> {
        tokio::time::timeout(WAIT, self.handle().reload()).await.expect("reload answers")
    }

    /// Stops tern and waits (bounded) for it.
    pub async fn shutdown(mut self) {
        let handle = self.handle.take().expect("BUG: agent already shut down");
        tokio::time::timeout(WAIT, handle.shutdown()).await.expect("tern shuts down in time");
    }
}

/// A small body: two counters and a gauge.
pub const SMALL_BODY: &str = "\
# TYPE http_requests_total counter
http_requests_total{code=\"200\"} 10
http_requests_total{code=\"500\"} 2
# TYPE temperature_celsius gauge
temperature_celsius 21.5
";
