//! Wiring: config -> discovery -> scrape manager -> sink, plus tern's own
//! endpoints. Owns start-up, reload and shutdown order.
//!
//! One control task owns the scrape manager, the discovery manager and (in
//! agent mode) the storage: WAL appender and remote-write endpoints. It reacts
//! to discovery updates, reload requests (HTTP `POST /-/reload`, SIGHUP
//! through [`Handle::reload`]) and shutdown. A reload that fails to load or
//! build keeps the running config untouched.
//!
//! Shutdown order: scraping stops (no stale markers), the appender writes what
//! is still queued and syncs, then the endpoints send what the deadline allows;
//! the rest stays in the WAL for the next start.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

mod process;
mod storage;

pub use storage::Storage;

/// How long the endpoints may keep sending at shutdown.
pub const SHUTDOWN_SEND_DEADLINE: Duration = Duration::from_secs(10);

/// Why the agent could not start (or a reload was refused).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Job(#[from] scrape::job::JobError),
    #[error("WAL: {0}")]
    Wal(String),
    #[error("{0}")]
    Remote(String),
    #[error("serving on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

/// A running agent.
pub struct Handle {
    reload_tx: mpsc::Sender<ReloadRequest>,
    pub targets: SharedView,
    pub ready: Arc<AtomicBool>,
    cancel: CancellationToken,
    control: JoinHandle<Option<Storage>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Handle {
    /// Reloads the config file; the error says why the old one stays.
    pub async fn reload(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.reload_tx.send(tx).await.map_err(|_| "shutting down".to_owned())?;
        rx.await.map_err(|_| "shutting down".to_owned())?
    }

    /// Stops scraping (no stale markers: the next start goes on from here),
    /// stores what was scraped, lets the endpoints send for at most
    /// [`SHUTDOWN_SEND_DEADLINE`], stops the endpoints, and waits for all.
    pub async fn shutdown(self) {
        self.shutdown_with_deadline(SHUTDOWN_SEND_DEADLINE).await;
    }

    /// [`shutdown`](Self::shutdown) with another send deadline.
    pub async fn shutdown_with_deadline(self, deadline: Duration) {
        self.cancel.cancel();
        match self.control.await {
            Ok(Some(storage)) => storage.shutdown(deadline).await,
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "control task panicked"),
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
pub fn load(path: &Path) -> Result<(config::Config, Vec<ScrapeJob>), AppError> {
    let loaded = config::load(path).map_err(|e| AppError::Config(e.to_string()))?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let jobs =
        loaded.config.scrape_configs.iter().map(|c| ScrapeJob::try_new(c).map_err(AppError::from));
    let mut jobs = jobs.collect::<Result<Vec<_>, _>>()?;
    if let Some(host) = &loaded.config.host_metrics {
        jobs.push(ScrapeJob::host(host)?);
    }
    Ok((loaded.config, jobs))
}

/// Starts scraping only: batches go to `sink` (the scrape stage's tests).
pub async fn start(
    config_path: PathBuf,
    listener: Option<TcpListener>,
    sink: mpsc::Sender<ScrapeBatch>,
) -> Result<Handle, AppError> {
    let (config, jobs) = load(&config_path)?;
    start_with(config_path, config, jobs, listener, sink, None, Registry::default()).await
}

/// Starts the agent: scraping into the WAL under `data_dir`, and remote write.
pub async fn start_agent(
    config_path: PathBuf,
    data_dir: &Path,
    listener: Option<TcpListener>,
) -> Result<Handle, AppError> {
    let (config, jobs) = load(&config_path)?;
    let mut registry = Registry::default();
    let (mut storage, _report) = Storage::open(data_dir, &config.wal, &mut registry)?;
    storage.apply(&config).await.map_err(AppError::Remote)?;
    let sink = storage.sink();
    start_with(config_path, config, jobs, listener, sink, Some(storage), registry).await
}

async fn start_with(
    config_path: PathBuf,
    config: config::Config,
    jobs: Vec<ScrapeJob>,
    listener: Option<TcpListener>,
    sink: mpsc::Sender<ScrapeBatch>,
    storage: Option<Storage>,
    mut registry: Registry,
) -> Result<Handle, AppError> {
    registry.register_collector(Box::new(process::ProcessCollector));
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
    let control = Control {
        config_path,
        wal_config: config.wal,
        manager,
        discovery,
        discovered,
        storage,
        reload_rx,
        cancel: cancel.clone(),
    };
    let control = tokio::spawn(control.run());
    ready.store(true, Ordering::Release);
    Ok(Handle { reload_tx, targets, ready, cancel, control, server })
}

struct Control {
    config_path: PathBuf,
    wal_config: config::WalConfig,
    manager: scrape::Manager,
    discovery: discovery::Manager,
    discovered: watch::Receiver<Arc<DiscoveredTargets>>,
    storage: Option<Storage>,
    reload_rx: mpsc::Receiver<ReloadRequest>,
    cancel: CancellationToken,
}

impl Control {
    async fn run(mut self) -> Option<Storage> {
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
        self.storage
    }

    async fn reload(&mut self) -> Result<(), String> {
        let (config, jobs) = load(&self.config_path).map_err(|e| e.to_string())?;
        if config.wal != self.wal_config {
            tracing::warn!("changes to the wal: block take effect at the next start");
        }
        if let Some(storage) = &mut self.storage {
            storage.apply(&config).await?;
        }
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
