//! Wiring: config -> discovery -> scrape manager -> sink, plus tern's own
//! endpoints. Owns start-up, reload and shutdown order.
//!
//! One control task owns the scrape manager and the discovery manager; it
//! reacts to discovery updates, reload requests (HTTP `POST /-/reload`,
//! SIGHUP through [`Handle::reload`]) and shutdown. A reload that fails to load
//! or build keeps the running config untouched.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config;
use crate::discovery::{self, DiscoveredTargets, DiscoveryMetrics};
use crate::scrape::manager::SharedView;
use crate::scrape::metrics::ScrapeMetrics;
use crate::scrape::{self, ScrapeBatch, ScrapeJob};
use crate::server::{self, ReloadRequest, ServerState};

/// Why the agent could not start (or a reload was refused).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Job(#[from] scrape::job::JobError),
    #[error("serving on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

/// A running agent.
pub struct Handle {
    reload_tx: mpsc::Sender<ReloadRequest>,
    pub targets: SharedView,
    pub ready: Arc<AtomicBool>,
    cancel: CancellationToken,
    control: JoinHandle<()>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Handle {
    /// Reloads the config file; the error says why the old one stays.
    pub async fn reload(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.reload_tx.send(tx).await.map_err(|_| "shutting down".to_owned())?;
        rx.await.map_err(|_| "shutting down".to_owned())?
    }

    /// Stops scraping (no stale markers: the next start goes on from here) and
    /// the endpoints, and waits for both.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        if let Err(e) = self.control.await {
            tracing::error!(error = %e, "control task panicked");
        }
        if let Some(server) = self.server {
            match server.await {
                Ok(Err(e)) => tracing::error!(error = %e, "HTTP server failed"),
                Err(e) => tracing::error!(error = %e, "HTTP server panicked"),
                Ok(Ok(())) => {}
            }
        }
    }
}

/// Loads the config and builds its jobs; logs the config's warnings.
pub fn load_jobs(path: &Path) -> Result<Vec<ScrapeJob>, AppError> {
    let loaded = config::load(path).map_err(|e| AppError::Config(e.to_string()))?;
    for w in &loaded.warnings {
        tracing::warn!(config = %path.display(), "{w}");
    }
    loaded
        .config
        .scrape_configs
        .iter()
        .map(|c| ScrapeJob::try_new(c).map_err(AppError::from))
        .collect()
}

/// Starts the agent on `config_path`: scraped batches go to `sink`; tern's
/// endpoints are served on `listener` when given.
pub async fn start(
    config_path: PathBuf,
    listener: Option<TcpListener>,
    sink: mpsc::Sender<ScrapeBatch>,
) -> Result<Handle, AppError> {
    let jobs = load_jobs(&config_path)?;
    let mut registry = Registry::default();
    let scrape_metrics = ScrapeMetrics::register(&mut registry);
    let discovery_metrics = DiscoveryMetrics::register(&mut registry);
    let (mut discovery, discovered) = discovery::Manager::new(discovery_metrics);
    let mut manager = scrape::Manager::new(sink, scrape_metrics);
    let providers = jobs.iter().map(|j| (j.name.to_string(), j.providers())).collect();
    manager.set_jobs(jobs).await;
    discovery.apply(providers).await;

    let ready = Arc::new(AtomicBool::new(false));
    let cancel = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel(4);
    let targets = manager.view();
    let server = listener.map(|l| {
        let state = ServerState {
            registry: Arc::new(registry),
            ready: ready.clone(),
            reload: reload_tx.clone(),
            targets: targets.clone(),
        };
        tokio::spawn(server::serve(l, state, cancel.clone()))
    });
    let control =
        Control { config_path, manager, discovery, discovered, reload_rx, cancel: cancel.clone() };
    let control = tokio::spawn(control.run());
    ready.store(true, Ordering::Release);
    Ok(Handle { reload_tx, targets, ready, cancel, control, server })
}

struct Control {
    config_path: PathBuf,
    manager: scrape::Manager,
    discovery: discovery::Manager,
    discovered: watch::Receiver<Arc<DiscoveredTargets>>,
    reload_rx: mpsc::Receiver<ReloadRequest>,
    cancel: CancellationToken,
}

impl Control {
    async fn run(mut self) {
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                changed = self.discovered.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let state = self.discovered.borrow_and_update().clone();
                    for (job, groups) in state.iter() {
                        self.manager.sync(job, groups.clone()).await;
                    }
                }
                Some(reply) = self.reload_rx.recv() => {
                    let result = self.reload().await;
                    match &result {
                        Ok(()) => tracing::info!(config = %self.config_path.display(), "config reloaded"),
                        Err(e) => tracing::error!(config = %self.config_path.display(), error = %e, "config reload failed; the running config stays"),
                    }
                    let _ = reply.send(result);
                }
            }
        }
        self.manager.shutdown().await;
        self.discovery.shutdown().await;
    }

    async fn reload(&mut self) -> Result<(), String> {
        let jobs = load_jobs(&self.config_path).map_err(|e| e.to_string())?;
        let providers = jobs.iter().map(|j| (j.name.to_string(), j.providers())).collect();
        self.manager.set_jobs(jobs).await;
        self.discovery.apply(providers).await;
        // Jobs whose providers did not change publish nothing new: give the
        // rebuilt pools the current groups.
        let state = self.discovered.borrow().clone();
        for (job, groups) in state.iter() {
            self.manager.sync(job, groups.clone()).await;
        }
        Ok(())
    }
}
