//! tern's own HTTP endpoints on `--listen`:
//!
//! - `GET /metrics`: tern's own metrics (text format 0.0.4... as
//!   prometheus-client encodes them, OpenMetrics text);
//! - `GET /-/healthy`: 200 while the process serves;
//! - `GET /-/ready`: 200 once the config is loaded (and, with the WAL, replayed),
//!   503 before;
//! - `POST /-/reload` (also `PUT`): reloads the config, 200 or 500 with the error;
//! - `GET /api/v1/targets`: Prometheus' JSON shape (`state=active|dropped|any`).
//!
//! The server owns nothing: it reads shared handles the app passes in.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::scrape::manager::SharedView;

mod targets;

/// A reload request: the reply says whether the new config was applied.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// Shared handles the endpoints read.
#[derive(Clone)]
pub struct ServerState {
    pub registry: Arc<Registry>,
    pub ready: Arc<AtomicBool>,
    pub reload: mpsc::Sender<ReloadRequest>,
    pub targets: SharedView,
}

/// The router, for tests and for `serve`.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { "tern is Healthy.\n" }))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/api/v1/targets", get(targets))
        .with_state(state)
}

/// Serves until `cancel`.
pub async fn serve(
    listener: TcpListener,
    state: ServerState,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, "serving tern's own endpoints");
    axum::serve(listener, router(state)).with_graceful_shutdown(cancel.cancelled_owned()).await
}

async fn metrics(State(state): State<ServerState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("encoding metrics: {e}\n")).into_response()
        }
    }
}

async fn ready(State(state): State<ServerState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "tern is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response()
    }
}

async fn reload(State(state): State<ServerState>) -> Response {
    let (tx, rx) = oneshot::channel();
    if state.reload.send(tx).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match rx.await {
        Ok(Ok(())) => (StatusCode::OK, "config reloaded\n").into_response(),
        Ok(Err(e)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}\n"))
                .into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

#[derive(Debug, serde::Deserialize)]
struct TargetsQuery {
    state: Option<String>,
    #[serde(rename = "scrapePool")]
    scrape_pool: Option<String>,
}

async fn targets(
    State(state): State<ServerState>,
    Query(q): Query<TargetsQuery>,
) -> Json<serde_json::Value> {
    let view = state.targets.read().unwrap_or_else(|p| p.into_inner()).clone();
    Json(targets::render(&view, q.state.as_deref().unwrap_or("any"), q.scrape_pool.as_deref()))
}
