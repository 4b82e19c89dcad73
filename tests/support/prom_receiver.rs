//! Debian's Prometheus 2.42 as a remote-write receiver that a test can take
//! down and bring back: the port and the storage directory are chosen once,
//! so tern's `remote_write` URL stays valid while nothing listens there, and
//! a restart keeps what was stored (the TSDB replays its own WAL).
//!
//! While it is down the port stays bound but not listening, so connections
//! are refused (as with nothing there) and no other process of a parallel
//! test can take the port; the binding is released just before Prometheus
//! starts.
//!
//! The receiver scrapes nothing; its query API tells what tern delivered.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::net::TcpSocket;

use super::prometheus::query_api;

use super::tern_process::{keep_if_asked, read_log};
use super::ChildGuard;

/// A label set as the query API returns it.
pub type Series = BTreeMap<String, String>;

/// One series of a range-vector result: labels and `(timestamp_ms, value)`.
pub type RangeSeries = (Series, Vec<(i64, f64)>);

pub struct PromReceiver {
    pub port: u16,
    dir: TempDir,
    child: Option<ChildGuard>,
    /// Holds the port while Prometheus is not running.
    reserved: Option<TcpSocket>,
    starts: usize,
    client: reqwest::Client,
}

impl PromReceiver {
    /// Picks the port and the directory; starts nothing.
    pub fn new() -> PromReceiver {
        let dir = keep_if_asked(tempfile::tempdir().expect("temp dir"));
        std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").expect("write config");
        let socket = reserve("127.0.0.1:0");
        let port = socket.local_addr().expect("local address").port();
        PromReceiver {
            port,
            dir,
            child: None,
            reserved: Some(socket),
            starts: 0,
            client: reqwest::Client::new(),
        }
    }

    /// What tern's `remote_write` URL is.
    pub fn write_url(&self) -> String {
        self.url("/api/v1/write")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    /// Starts Prometheus on the port and data directory; waits (at most 30 s)
    /// until it is ready.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "receiver already running");
        self.starts += 1;
        let log = std::fs::File::create(self.log_path()).expect("create receiver log");
        drop(self.reserved.take());
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", self.dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", self.dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--web.enable-remote-write-receiver")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus (scripts/test.sh installs it)");
        self.child = Some(ChildGuard(child));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.client.get(self.url("/-/ready")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            let child = &mut self.child.as_mut().expect("BUG: just started").0;
            if let Ok(Some(status)) = child.try_wait() {
                panic!("prometheus exited with {status}; log:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "prometheus not ready after 30s:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM (a clean shutdown, as an operator's restart), at most 15 s,
    /// then SIGKILL.
    pub async fn stop(&mut self) {
        let mut guard = self.child.take().expect("receiver not running");
        let pid = guard.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = guard.0.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(guard); // SIGKILL (if still running) and wait
        self.reserved = Some(reserve(&format!("127.0.0.1:{}", self.port)));
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("prometheus-{}.log", self.starts))
    }

    /// The log (stderr) of every start so far.
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| read_log(&self.dir.path().join(format!("prometheus-{n}.log"))))
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    /// An instant query of a range selector (`up{job="x"}[10m]`): the raw
    /// samples stored, per series, in time order.
    pub async fn range(&self, selector: &str) -> Vec<RangeSeries> {
        let resp = query_api(&self.client, &self.url("/api/v1/query"), selector).await;
        assert_eq!(resp["data"]["resultType"], "matrix", "{selector}: {resp}");
        let result = resp["data"]["result"].as_array().expect("result array");
        result.iter().map(range_series).collect()
    }

    /// The receiver's own metrics whose name starts with `prefix` (TSDB
    /// rejections: `prometheus_tsdb_out_of_order_samples_total`, ...).
    pub async fn own_metrics(&self, prefix: &str) -> Vec<String> {
        let Ok(r) = self.client.get(self.url("/metrics")).send().await else { return Vec::new() };
        let body = r.text().await.unwrap_or_default();
        body.lines().filter(|l| l.starts_with(prefix)).map(str::to_owned).collect()
    }
}

impl Default for PromReceiver {
    fn default() -> Self {
        PromReceiver::new()
    }
}

/// A socket bound to `addr` and not listening: connections are refused.
fn reserve(addr: &str) -> TcpSocket {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    let at = addr.parse().expect("socket address");
    socket.bind(at).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    socket
}

fn range_series(r: &serde_json::Value) -> RangeSeries {
    let labels = r["metric"]
        .as_object()
        .expect("metric object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned()))
        .collect();
    let values = r["values"]
        .as_array()
        .expect("values array")
        .iter()
        .map(|p| {
            let t = p[0].as_f64().expect("timestamp");
            let v = super::parse_json_value(p[1].as_str().expect("value string"));
            ((t * 1000.0).round() as i64, v)
        })
        .collect();
    (labels, values)
}
