//! Drives `k8s_standin.py`: a stand-in for the Kubernetes API server (NOT a
//! live cluster) speaking the list/watch protocol on 127.0.0.1, with a
//! control interface to change objects, expire resourceVersions, drop watch
//! connections and count list and watch requests.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running stand-in; killed on drop.
pub struct K8sStandin {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    http: reqwest::Client,
}

/// One recorded list or watch request.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub path: String,
    pub query: serde_json::Map<String, Value>,
    /// The `Authorization` header sent, if any.
    pub authorization: Option<String>,
}

impl ApiRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).and_then(Value::as_str)
    }
}

/// What the stand-in has seen.
#[derive(Debug, Clone)]
pub struct Stats {
    pub lists: Vec<ApiRequest>,
    pub watches: Vec<ApiRequest>,
    pub open_watches: u64,
    /// API requests answered 500 by [`K8sStandin::fail_next`].
    pub failed: u64,
}

impl Stats {
    pub fn lists_of(&self, path: &str) -> Vec<&ApiRequest> {
        self.lists.iter().filter(|r| r.path == path).collect()
    }

    pub fn watches_of(&self, path: &str) -> Vec<&ApiRequest> {
        self.watches.iter().filter(|r| r.path == path).collect()
    }
}

fn requests(v: &Value) -> Vec<ApiRequest> {
    v.as_array()
        .expect("request list")
        .iter()
        .map(|r| ApiRequest {
            path: r["path"].as_str().expect("path").to_owned(),
            query: r["query"].as_object().cloned().unwrap_or_default(),
            authorization: r["authorization"].as_str().map(str::to_owned),
        })
        .collect()
}

impl K8sStandin {
    pub fn start() -> K8sStandin {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/k8s_standin.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the Kubernetes API stand-in");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("stand-in prints its port");
        let port = line.trim().strip_prefix("PORT ").expect("PORT line").parse().expect("port");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        K8sStandin { child, _stdin: stdin, port, http }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates or updates an object; returns it as stored.
    pub async fn apply(&self, resource: &str, object: Value) -> Value {
        let body = serde_json::json!({"resource": resource, "object": object});
        let r = self.http.post(format!("{}/_control/apply", self.url())).json(&body).send();
        r.await.expect("apply").json().await.expect("applied object")
    }

    /// Deletes an object (`namespace` "_" for cluster-scoped ones).
    pub async fn delete(&self, resource: &str, namespace: &str, name: &str) {
        let url = format!("{}/_control/objects/{resource}/{namespace}/{name}", self.url());
        let r = self.http.delete(url).send().await.expect("delete");
        assert!(r.status().is_success(), "delete {resource}/{namespace}/{name}: {}", r.status());
    }

    async fn control(&self, what: &str) {
        let r = self.http.post(format!("{}/_control/{what}", self.url())).send().await;
        assert!(r.expect(what).status().is_success(), "{what}");
    }

    /// Forgets every event so far: open watches get a 410 and close.
    pub async fn expire(&self) {
        self.control("expire").await
    }

    /// Closes every open watch connection.
    pub async fn drop_watches(&self) {
        self.control("drop").await
    }

    /// Answers the next `count` API requests with 500.
    pub async fn fail_next(&self, count: u32) {
        self.control(&format!("fail?count={count}")).await
    }

    /// Sends a BOOKMARK on every open watch.
    pub async fn bookmark(&self) {
        self.control("bookmark").await
    }

    pub async fn stats(&self) -> Stats {
        let r = self.http.get(format!("{}/_control/stats", self.url())).send().await;
        let v: Value = r.expect("stats").json().await.expect("stats JSON");
        Stats {
            lists: requests(&v["lists"]),
            watches: requests(&v["watches"]),
            open_watches: v["open_watches"].as_u64().unwrap_or(0),
            failed: v["failed"].as_u64().unwrap_or(0),
        }
    }

    /// Waits (up to 5 s) until `ok(stats)`; returns the last stats.
    pub async fn wait_stats(&self, what: &str, ok: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let stats = self.stats().await;
            if ok(&stats) {
                return stats;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {stats:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for K8sStandin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
