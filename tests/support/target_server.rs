//! A real HTTP server on 127.0.0.1 that serves `/metrics` bodies the test
//! controls: status, content type, delay, gzip or not. Used as a target for
//! the normal and the failure cases.
//!
//! [`TargetServer::stop`] (and drop) shut the server down gracefully, which
//! also closes the keep-alive connections a scraper holds: afterwards nothing
//! answers on the port, as when a real target goes down.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

/// Content type of an OpenMetrics 1.0 reply.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What `/metrics` answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub delay: Duration,
    /// Gzip the body (`Content-Encoding: gzip`) when the request's
    /// `Accept-Encoding` names gzip.
    pub gzip: bool,
}

impl Reply {
    pub fn text(body: &str) -> Self {
        Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8".into(),
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            gzip: false,
        }
    }

    /// An OpenMetrics reply (the body is served as given: `# EOF` or not).
    pub fn openmetrics(body: &str) -> Self {
        Reply { content_type: OPENMETRICS.into(), ..Reply::text(body) }
    }

    /// An error reply with a short text body.
    pub fn status(status: u16) -> Self {
        Reply { status, ..Reply::text("error\n") }
    }

    /// The same reply, sent after `delay`.
    pub fn delayed(self, delay: Duration) -> Self {
        Reply { delay, ..self }
    }

    /// The same reply, gzipped for clients that accept gzip.
    pub fn gzipped(self) -> Self {
        Reply { gzip: true, ..self }
    }
}

#[derive(Clone)]
struct Shared {
    reply: Arc<Mutex<Reply>>,
    requests: Arc<Mutex<Vec<HeaderMap>>>,
    gzipped: Arc<AtomicUsize>,
}

/// A running target server; stops when dropped.
pub struct TargetServer {
    pub addr: SocketAddr,
    shared: Shared,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TargetServer {
    pub async fn start(reply: Reply) -> Self {
        let shared = Shared {
            reply: Arc::new(Mutex::new(reply)),
            requests: Arc::default(),
            gzipped: Arc::default(),
        };
        let app = Router::new().route("/metrics", get(serve)).with_state(shared.clone());
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let shutdown = cancel.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .expect("target server");
        });
        TargetServer { addr, shared, cancel, task: Some(task) }
    }

    pub fn set(&self, reply: Reply) {
        *self.shared.reply.lock().unwrap() = reply;
    }

    /// `http://{addr}/metrics`, the URL a scraper of this server uses.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Headers of every request received so far.
    pub fn requests(&self) -> Vec<HeaderMap> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many replies were sent gzip-encoded.
    pub fn gzipped_replies(&self) -> usize {
        self.shared.gzipped.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes every connection (idle keep-alive ones at
    /// once, busy ones after their reply) and waits, at most 5 s, until the
    /// server is gone.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        let task = self.task.take().expect("BUG: running server has its task");
        if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
            panic!("target server {} did not stop within 5s", self.addr);
        }
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        // The signal closes the connections; the abort drops the listener now.
        self.cancel.cancel();
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn serve(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let accepts_gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|c| c.split(';').next().unwrap_or("").trim() == "gzip"));
    shared.requests.lock().unwrap().push(headers);
    let reply = shared.reply.lock().unwrap().clone();
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap();
    if reply.gzip && accepts_gzip {
        shared.gzipped.fetch_add(1, Ordering::SeqCst);
        let headers =
            [(header::CONTENT_TYPE, reply.content_type), (header::CONTENT_ENCODING, "gzip".into())];
        return (status, headers, gzip(&reply.body)).into_response();
    }
    (status, [(header::CONTENT_TYPE, reply.content_type)], reply.body).into_response()
}

/// `data` as a gzip member (RFC 1952) holding stored DEFLATE blocks (RFC 1951
/// section 3.2.4): a valid stream that any gzip decoder must inflate, with
/// no compression library needed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(0xffff).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = u8::from(chunks.peek().is_none());
        let len = chunk.len() as u16;
        out.push(last); // BFINAL, BTYPE=00 (stored)
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as gzip uses it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
