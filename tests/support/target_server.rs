//! A real HTTP server on 127.0.0.1 that serves `/metrics` bodies the test
//! controls: status, content type, delay, gzip or not. Used as a target for
//! the normal and the failure cases.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// What `/metrics` answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn text(body: &str) -> Self {
        Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8".into(),
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }
}

#[derive(Clone)]
struct Shared {
    reply: Arc<Mutex<Reply>>,
    requests: Arc<Mutex<Vec<HeaderMap>>>,
}

/// A running target server; stops when dropped.
pub struct TargetServer {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl TargetServer {
    pub async fn start(reply: Reply) -> Self {
        let shared = Shared { reply: Arc::new(Mutex::new(reply)), requests: Arc::default() };
        let app = Router::new().route("/metrics", get(serve)).with_state(shared.clone());
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("target server");
        });
        TargetServer { addr, shared, task }
    }

    pub fn set(&self, reply: Reply) {
        *self.shared.reply.lock().unwrap() = reply;
    }

    /// Headers of every request received so far.
    pub fn requests(&self) -> Vec<HeaderMap> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    shared.requests.lock().unwrap().push(headers);
    let reply = shared.reply.lock().unwrap().clone();
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap();
    (status, [(header::CONTENT_TYPE, reply.content_type)], reply.body).into_response()
}
