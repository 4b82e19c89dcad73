//! The SigV4 tests' world: the AWS stand-ins of `aws_standin.py` (an AMP
//! remote-write endpoint that verifies signatures with botocore, STS, IMDSv2;
//! all on 127.0.0.1, speaking the real wire protocols), in front of the Rust
//! [`Receiver`] that decodes and records what they accept; a target to
//! scrape; and the real `tern run` as a child process with an environment of
//! its own (the AWS variables are process-global: every test's tern gets a
//! cleared environment, its own `HOME`, and IMDS disabled unless the test
//! points it at the stand-in, so nothing ever reaches a real AWS address).
//!
//! Included by the `sigv4_*` tests with `#[path]`. Every wait has a
//! deadline; the child processes are killed when their guards drop.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::support::receiver::{always, Receiver, Request};
use crate::support::target_server::{Reply, TargetServer};
use crate::support::tern_process::TernProcess;
use crate::support::ChildGuard;

/// The region every test signs for.
pub const REGION: &str = "us-east-1";
/// The scrape job of every test.
pub const JOB: &str = "sigv4";
/// The target's body: four series, plus tern's five automatic ones.
pub const TARGET_BODY: &str = "\
# TYPE sigv4_gauge gauge
sigv4_gauge{i=\"0\"} 0.5
sigv4_gauge{i=\"1\"} 1.5
# TYPE sigv4_requests_total counter
sigv4_requests_total{code=\"200\"} 1027
sigv4_requests_total{code=\"500\"} 3
";

/// Panics with the fix when botocore is missing.
pub fn require_botocore() {
    let ok = Command::new("python3")
        .args(["-c", "import botocore"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the SigV4 tests verify signatures with botocore: `python3 -m pip install botocore` \
         (scripts/test.sh installs it)"
    );
}

/// Credentials the receiver knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Key {
    pub access_key_id: String,
    pub secret: String,
    pub token: Option<String>,
    /// Unix seconds.
    pub expires: Option<f64>,
    #[serde(default)]
    pub state: Option<String>,
}

impl Key {
    /// A key with a session token and recognisable, unique values.
    pub fn session(tag: &str) -> Key {
        let nonce =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        Key {
            access_key_id: format!("ASIA{tag:0>8}{:08}", nonce % 100_000_000).to_uppercase(),
            secret: format!("secret-{tag}-{nonce}-wJalrXUtnFEMI/K7MDENG+bPxRfiCY"),
            token: Some(format!("IQoJb3JpZ2luX2VjE-token-{tag}-{nonce}-FwoGZXIvYXdzEA+/=")),
            expires: None,
            state: None,
        }
    }

    /// The shared credentials file's `[profile]` section for this key, as
    /// the SSM agent writes it.
    pub fn profile_section(&self, profile: &str) -> String {
        let mut s = format!(
            "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            self.access_key_id, self.secret
        );
        if let Some(t) = &self.token {
            s.push_str(&format!("aws_session_token = {t}\n"));
        }
        s
    }

    /// The values that must never show: the secret and the token.
    pub fn secrets(&self) -> Vec<String> {
        let mut s = vec![self.secret.clone()];
        s.extend(self.token.clone());
        s
    }
}

/// One request the receiver stand-in answered.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    pub time: f64,
    pub access_key_id: Option<String>,
    pub status: u16,
    pub error: Option<String>,
}

/// The stand-ins, and the Rust receiver behind them.
pub struct Standin {
    _child: ChildGuard,
    pub receiver_port: u16,
    pub sts_port: u16,
    pub imds_port: u16,
    /// What the stand-in accepted, decoded.
    pub upstream: Receiver,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Ports {
    receiver: u16,
    sts: u16,
    imds: u16,
}

impl Standin {
    pub async fn start() -> Standin {
        require_botocore();
        let upstream = Receiver::start(always(200)).await;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/aws_standin.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--upstream", &upstream.url(), "--region", REGION])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3 aws_standin.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let child = ChildGuard(child);
        let line = tokio::time::timeout(
            Duration::from_secs(20),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line)
            }),
        )
        .await
        .expect("aws_standin.py did not start within 20 s")
        .expect("join")
        .expect("read the stand-in's ports");
        let ports: Ports = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("aws_standin.py printed {line:?}: {e}"));
        Standin {
            _child: child,
            receiver_port: ports.receiver,
            sts_port: ports.sts,
            imds_port: ports.imds,
            upstream,
            http: reqwest::Client::new(),
        }
    }

    /// The AMP-shaped remote-write URL.
    pub fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/workspaces/ws-test/api/v1/remote_write", self.receiver_port)
    }

    /// For `AWS_ENDPOINT_URL_STS`.
    pub fn sts_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.sts_port)
    }

    /// For `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub fn imds_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.imds_port)
    }

    async fn control(&self, what: &str, body: serde_json::Value) {
        let url = format!("http://127.0.0.1:{}/_control/{what}", self.receiver_port);
        let r = self.http.post(url).json(&body).send().await.expect("control the stand-in");
        assert_eq!(r.status().as_u16(), 200, "control {what}: {:?}", r.text().await);
    }

    async fn fetch<T: serde::de::DeserializeOwned>(&self, what: &str) -> T {
        let url = format!("http://127.0.0.1:{}/_control/{what}", self.receiver_port);
        let r = self.http.get(url).send().await.expect("ask the stand-in");
        r.json().await.expect("stand-in JSON")
    }

    /// The receiver accepts `key` (until it expires).
    pub async fn add_key(&self, key: &Key) {
        self.control("key", serde_json::to_value(key).unwrap()).await;
    }

    /// `valid`, `expired` (403 ExpiredTokenException) or `denied` (403
    /// AccessDeniedException).
    pub async fn set_state(&self, access_key_id: &str, state: &str) {
        self.control("state", serde_json::json!({"access_key_id": access_key_id, "state": state}))
            .await;
    }

    /// Configures the STS stand-in.
    pub async fn sts(&self, role_arn: &str, web_identity_token: Option<&str>, lifetime_s: u64) {
        let body = serde_json::json!({
            "role_arn": role_arn, "token": web_identity_token, "lifetime": lifetime_s,
        });
        self.control("sts", body).await;
    }

    /// Configures the IMDS stand-in's credentials' lifetime and how long
    /// before their expiry it serves new ones.
    pub async fn imds(&self, lifetime_s: u64, rotate_before_s: u64) {
        let body = serde_json::json!({"lifetime": lifetime_s, "rotate_before": rotate_before_s});
        self.control("imds", body).await;
    }

    /// Every request the receiver stand-in answered.
    pub async fn log(&self) -> Vec<LogEntry> {
        self.fetch("log").await
    }

    /// Every key the stand-ins know (configured and minted).
    pub async fn keys(&self) -> Vec<Key> {
        self.fetch("keys").await
    }

    /// STS calls: `{"time", "action", "role_arn", "external_id"}`.
    pub async fn sts_calls(&self) -> Vec<serde_json::Value> {
        self.fetch("sts_calls").await
    }

    /// IMDS requests: `{"time", "path"}`.
    pub async fn imds_calls(&self) -> Vec<serde_json::Value> {
        self.fetch("imds_calls").await
    }

    /// Polls the receiver log until `want` holds (returned), at most `within`.
    pub async fn wait_log(
        &self,
        what: &str,
        within: Duration,
        want: impl Fn(&[LogEntry]) -> bool,
    ) -> Vec<LogEntry> {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log().await;
            if want(&log) {
                return log;
            }
            if Instant::now() >= deadline {
                let last: Vec<_> = log.iter().rev().take(10).collect();
                panic!("stand-in: {what}: not within {within:?}; last requests: {last:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Accepted requests signed with `access_key_id`.
pub fn accepted_with(log: &[LogEntry], access_key_id: &str) -> usize {
    log.iter()
        .filter(|e| e.status == 200 && e.access_key_id.as_deref() == Some(access_key_id))
        .count()
}

/// A target for tern to scrape every second.
pub async fn target() -> TargetServer {
    TargetServer::start(Reply::text(TARGET_BODY)).await
}

/// One job scraping `target` every second, one `remote_write` endpoint
/// (`amp`) to `url` with `sigv4` (YAML flow mapping, e.g. `{region: x}`).
pub fn config(target: &TargetServer, url: &str, sigv4: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [\"{}\"]\n\
         remote_write:\n  - url: {url}\n    name: amp\n\
         \x20   queue_config: {{batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s}}\n\
         \x20   sigv4: {sigv4}\n",
        target.addr
    )
}

/// `tern run` with an environment of its own.
pub type AwsTern = TernProcess;

/// The environment every tern here starts from: nothing inherited but
/// `PATH`; `HOME` is `home`; IMDS off (the IMDS test turns it back on with
/// its own endpoint).
pub fn base_env(home: &Path) -> Vec<(String, String)> {
    vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), home.display().to_string()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("TERN_LOG".into(), "info".into()),
    ]
}

/// Starts `tern run` in `dir` (its config written to `dir/tern.yml`, data in
/// `dir/data`) with exactly `env`; waits until `/-/ready`.
pub async fn start_tern(dir: &Path, config_yaml: &str, env: &[(String, String)]) -> AwsTern {
    let config = dir.join("tern.yml");
    std::fs::write(&config, config_yaml).expect("write tern.yml");
    TernProcess::launch(&config, &dir.join("data"), dir.join("tern.log"), |c| {
        c.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    })
    .await
}

/// Checks that every sample tern appended (by a moment when every scraped
/// sample was appended) reached the receiver behind the stand-in, and that
/// nothing was dropped; returns how many samples that was.
pub async fn assert_nothing_lost(tern: &AwsTern, standin: &Standin, within: Duration) -> usize {
    let m = tern
        .wait_metrics(Duration::from_secs(10), "scraped == appended", |m| {
            m.sum("tern_scrape_samples_total") == m.sum("tern_wal_appended_samples_total")
        })
        .await;
    let highest = m.highest_appended_ms();
    let appended = m.sum("tern_wal_appended_samples_total") as usize;
    assert!(appended > 0, "nothing appended yet; log:\n{}", tern.log());
    let requests = standin
        .upstream
        .wait_for(&format!("an up sample at {highest}"), within, |rs| {
            rs.iter().any(|r| r.accepted() && r.timestamps_of("up").iter().any(|t| *t >= highest))
        })
        .await;
    let delivered: BTreeSet<(String, i64)> = requests
        .iter()
        .filter(|r| r.accepted())
        .flat_map(Request::sample_keys)
        .filter(|(_, t)| *t <= highest)
        .collect();
    let now = tern.metrics().await;
    assert_eq!(
        now.sum("prometheus_remote_storage_samples_failed_total"),
        0.0,
        "samples were dropped:\n{}\nlog:\n{}",
        now.dump("prometheus_remote_storage_samples_failed"),
        tern.log()
    );
    assert_eq!(
        delivered.len(),
        appended,
        "delivered samples (distinct, up to {highest}) != appended; log:\n{}",
        tern.log()
    );
    appended
}

/// Panics naming the place when any of `secrets` occurs in `text`.
pub fn assert_no_secret(place: &str, text: &str, secrets: &[String]) {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !text.contains(s.as_str()),
            "a secret value ({}…) appears in {place}",
            &s[..4.min(s.len())]
        );
        // Also the longer halves: a secret cut in two is still a leak.
        let half = &s[..s.len() / 2];
        if half.len() >= 12 {
            assert!(!text.contains(half), "half of a secret ({}…) appears in {place}", &s[..4]);
        }
    }
}

/// Greps tern's log and its endpoints for `secrets`.
pub async fn assert_no_secret_anywhere(tern: &AwsTern, secrets: &[String]) {
    assert!(!secrets.is_empty());
    assert_no_secret("the log", &tern.log(), secrets);
    for path in ["/metrics", "/api/v1/targets", "/-/healthy", "/-/ready"] {
        assert_no_secret(path, &tern.get(path).await, secrets);
    }
}
