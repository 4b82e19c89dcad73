//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

pub mod agent;
pub mod durability;
pub mod k8s_standin;
pub mod prom_receiver;
pub mod prometheus;
pub mod receiver;
pub mod target_server;
pub mod tern_process;

/// Seconds since the epoch, as a float.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Path of a file under `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// One expected sample: labels in order (`__name__` first), value, timestamp.
#[derive(Debug, Clone)]
pub struct ExpectedSample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// Reads JSON lines of the `tern parse` shape.
pub fn read_json_lines(text: &str) -> Vec<ExpectedSample> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
            let labels = v["labels"]
                .as_object()
                .expect("labels object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("label value string").to_owned()))
                .collect();
            let value = parse_json_value(v["value"].as_str().expect("value is a string"));
            ExpectedSample { labels, value, timestamp_ms: v["timestamp_ms"].as_i64() }
        })
        .collect()
}

/// `NaN`, `+Inf`, `-Inf` or a decimal number.
pub fn parse_json_value(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|e| panic!("bad value {s:?}: {e}")),
    }
}

/// Equal as sample values: bit-equal, or both NaN.
pub fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

/// A child process that is killed when the guard is dropped.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program` with its output discarded, killed when the guard drops.
pub fn spawn_quiet(program: &str, args: &[String]) -> ChildGuard {
    let child = std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} (scripts/test.sh installs it): {e}"));
    ChildGuard(child)
}

/// A free TCP port on 127.0.0.1 (bound, then released for a child to take).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// `GET path` over HTTP/1.0 (no chunking, connection closed by the server);
/// returns the status code, the headers block and the body.
pub fn http_get(port: u16, path: &str, accept: &str) -> std::io::Result<(u16, String, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    Ok((status, head, raw[split + 4..].to_vec()))
}

/// Polls `GET path` until it answers 200, for at most `secs` seconds.
pub fn wait_for_200(port: u16, path: &str, accept: &str, secs: u64) -> (String, Vec<u8>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match http_get(port, path, accept) {
            Ok((200, head, body)) => return (head, body),
            other if std::time::Instant::now() >= deadline => {
                panic!("127.0.0.1:{port}{path} not ready after {secs}s: {other:?}")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}
