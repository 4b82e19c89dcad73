//! Debian's `prometheus` (2.42) run on 127.0.0.1 as the reference: same
//! config as tern, its query API tells what it stored.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, ChildGuard};

/// A label set as the series API returns it.
pub type Series = BTreeMap<String, String>;

pub struct Prometheus {
    pub port: u16,
    _dir: tempfile::TempDir,
    _child: ChildGuard,
}

impl Prometheus {
    /// Starts Prometheus on `config_yaml` (written to a temp dir) with the
    /// remote-write receiver enabled; waits until it is ready.
    pub async fn start(config_yaml: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config: PathBuf = dir.path().join("prometheus.yml");
        std::fs::write(&config, config_yaml).expect("write prometheus.yml");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus (scripts/test.sh installs it)");
        let p = Prometheus { port, _dir: dir, _child: ChildGuard(child) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(p.url("/-/ready")).await {
                if r.status().is_success() {
                    return p;
                }
            }
            assert!(Instant::now() < deadline, "prometheus not ready after 30s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every series matching `selector` between `start` and now (seconds).
    pub async fn series(&self, selector: &str, start: f64) -> Vec<Series> {
        let url = self.url("/api/v1/series");
        let end = format!("{}", super::now_secs() + 60.0);
        let start = format!("{start}");
        let resp: serde_json::Value = reqwest::Client::new()
            .get(url)
            .query(&[("match[]", selector), ("start", start.as_str()), ("end", end.as_str())])
            .send()
            .await
            .expect("series request")
            .json()
            .await
            .expect("series JSON");
        assert_eq!(resp["status"], "success", "{resp}");
        resp["data"]
            .as_array()
            .expect("data array")
            .iter()
            .map(|s| {
                s.as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect()
            })
            .collect()
    }

    /// An instant query's vector result as (labels, value).
    pub async fn query(&self, promql: &str) -> Vec<(Series, f64)> {
        let resp = query_api(&reqwest::Client::new(), &self.url("/api/v1/query"), promql).await;
        resp["data"]["result"]
            .as_array()
            .expect("result array")
            .iter()
            .map(|r| {
                let labels = r["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                let value = super::parse_json_value(r["value"][1].as_str().unwrap());
                (labels, value)
            })
            .collect()
    }
}

/// `GET` a Prometheus query endpoint (`query_url`) with `query`; the JSON
/// answer, asserted to have status "success".
pub async fn query_api(
    client: &reqwest::Client,
    query_url: &str,
    query: &str,
) -> serde_json::Value {
    let resp: serde_json::Value = client
        .get(query_url)
        .query(&[("query", query)])
        .send()
        .await
        .expect("query request")
        .json()
        .await
        .expect("query JSON");
    assert_eq!(resp["status"], "success", "{query}: {resp}");
    resp
}
