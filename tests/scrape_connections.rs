//! How tern uses connections to plain-HTTP targets: one kept connection per
//! target across scrapes (as Prometheus keeps them), and every way a server
//! may end or shape a reply still scraped correctly: a server that closes
//! idle connections without saying so, `Connection: close`, HTTP/1.0,
//! chunked bodies, redirects.
//!
//! The targets are real HTTP/1.1 servers on 127.0.0.1, written over raw TCP
//! here so that each test controls exactly what the server does with its
//! connections and counts them. Scrapes run every second; every wait is
//! bounded by `support::agent::WAIT`.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::agent::{config, job, Agent, BatchExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const BODY: &str = "a_metric 1\nb_metric{x=\"y\"} 2\n";

/// How the raw server answers and treats its connections.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// HTTP/1.1 with Content-Length, connection kept open.
    KeepAlive,
    /// HTTP/1.1 with Content-Length, then the socket closed without any
    /// `Connection: close` (as a server's idle timeout does).
    SilentClose,
    /// `Connection: close`, then the socket closed.
    CloseHeader,
    /// HTTP/1.0 without keep-alive, then the socket closed.
    Http10,
    /// HTTP/1.1 chunked body in several chunks, connection kept open.
    Chunked,
}

struct RawServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl RawServer {
    /// Serves `/metrics` answering `mode`; any other path gets a 302 to
    /// `redirect` when set, else 404.
    async fn start(mode: Mode, redirect: Option<String>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (r, redirect) = (r.clone(), redirect.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut read = BufReader::new(read);
                    loop {
                        let mut request_line = String::new();
                        if read.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        // The rest of the head, up to the blank line.
                        loop {
                            let mut line = String::new();
                            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        r.fetch_add(1, Ordering::SeqCst);
                        let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                        let reply = reply(mode, &path, redirect.as_deref());
                        if write.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                        if matches!(mode, Mode::SilentClose | Mode::CloseHeader | Mode::Http10) {
                            return;
                        }
                    }
                });
            }
        });
        RawServer { addr, connections, requests }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn reply(mode: Mode, path: &str, redirect: Option<&str>) -> String {
    let ct = "Content-Type: text/plain; version=0.0.4\r\n";
    if path != "/metrics" {
        return match redirect {
            Some(to) => {
                format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
            }
            None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
        };
    }
    let len = BODY.len();
    match mode {
        Mode::KeepAlive | Mode::SilentClose => {
            format!("HTTP/1.1 200 OK\r\n{ct}Content-Length: {len}\r\n\r\n{BODY}")
        }
        Mode::CloseHeader => format!(
            "HTTP/1.1 200 OK\r\n{ct}Connection: close\r\nContent-Length: {len}\r\n\r\n{BODY}"
        ),
        Mode::Http10 => format!("HTTP/1.0 200 OK\r\n{ct}Content-Length: {len}\r\n\r\n{BODY}"),
        Mode::Chunked => {
            let (a, b) = BODY.split_at(7);
            format!(
                "HTTP/1.1 200 OK\r\n{ct}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                a.len(),
                b.len()
            )
        }
    }
}

/// Scrapes `server` (a job named `raw`, path `path`) until `n` scrapes are
/// in; asserts every one was up with the body's two samples.
async fn scrape_n(server: &RawServer, path: &str, n: usize) {
    let extra = format!("metrics_path: {path}");
    let agent = Agent::start(&config(&[job("raw", &[server.addr], &extra)])).await;
    let instance = server.addr.to_string();
    for b in agent.batches.scrapes(0, &instance, n).await {
        assert_eq!(b.up(), Some(1.0), "scrape not up: {}", support::agent::summary(&b));
        let mut names: Vec<&str> =
            b.scraped().iter().map(|s| s.series.get("__name__").unwrap_or_default()).collect();
        names.sort_unstable();
        assert_eq!(names, ["a_metric", "b_metric"]);
        let b_value = b.scraped().iter().find(|s| s.series.get("x") == Some("y")).unwrap().value;
        assert_eq!(b_value, 2.0);
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_keeps_one_connection_across_scrapes() {
    let server = RawServer::start(Mode::KeepAlive, None).await;
    scrape_n(&server, "/metrics", 3).await;
    assert!(server.requests() >= 3, "requests: {}", server.requests());
    assert_eq!(server.connections(), 1, "{} requests", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closed_while_idle_is_replaced_without_a_failed_scrape() {
    let server = RawServer::start(Mode::SilentClose, None).await;
    scrape_n(&server, "/metrics", 3).await;
    assert!(server.connections() >= 3, "connections: {}", server.connections());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_and_http_1_0_replies_are_read_and_not_reused() {
    for mode in [Mode::CloseHeader, Mode::Http10] {
        let server = RawServer::start(mode, None).await;
        scrape_n(&server, "/metrics", 3).await;
        assert_eq!(server.connections(), server.requests(), "one connection per request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_are_read_whole_on_a_kept_connection() {
    let server = RawServer::start(Mode::Chunked, None).await;
    scrape_n(&server, "/metrics", 3).await;
    assert_eq!(server.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_to_the_metrics() {
    let target = RawServer::start(Mode::KeepAlive, None).await;
    let to = format!("http://{}/metrics", target.addr);
    let front = RawServer::start(Mode::KeepAlive, Some(to)).await;
    scrape_n(&front, "/old", 2).await;
    assert!(front.requests() >= 2);
    assert!(target.requests() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_refused_with_follow_redirects_off() {
    let target = RawServer::start(Mode::KeepAlive, None).await;
    let front =
        RawServer::start(Mode::KeepAlive, Some(format!("http://{}/metrics", target.addr))).await;
    let extra = "metrics_path: /old\nfollow_redirects: false";
    let agent = Agent::start(&config(&[job("raw", &[front.addr], extra)])).await;
    let (_, b) = agent.batches.next_scrape(0, &front.addr.to_string()).await;
    assert_eq!(b.up(), Some(0.0));
    let t = agent
        .wait_for_target(&format!("http://{}/old", front.addr), |t| t["health"] == "down")
        .await;
    assert_eq!(t["lastError"], "server returned HTTP status 302 Found");
    assert_eq!(target.requests(), 0);
    agent.shutdown().await;
}
