//! The right half of the pipeline: the appender task that writes every
//! scraped batch to the WAL (answering the batch only once it is appended),
//! syncs it on a timer and deletes what every endpoint has passed; and the
//! remote-write endpoints reading from it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Config, FsyncMode, WalConfig};
use crate::labels::Labels;
use crate::remote::manager::{Manager as RemoteManager, SharedWal};
use crate::remote::metrics::RemoteMetrics;
use crate::scrape::ScrapeBatch;
use crate::wal::{FsyncPolicy, OpenReport, Wal, WalMetrics, WalOptions};

use super::AppError;

/// How often segments that every endpoint has passed are deleted.
const TRUNCATE_EVERY: u32 = 10;

/// The WAL, its appender and the remote endpoints.
pub struct Storage {
    /// Label sets shared by the scrape stage and the WAL readers.
    /// Held (locked) while the WAL is open: two processes on one data dir
    /// would corrupt it.
    _lock: std::fs::File,
    sink: mpsc::Sender<ScrapeBatch>,
    appender: JoinHandle<()>,
    remote: RemoteManager,
}

impl Storage {
    /// Opens (and repairs) the WAL under `data_dir` and starts the appender.
    pub fn open(
        data_dir: &Path,
        config: &WalConfig,
        registry: &mut Registry,
    ) -> Result<(Storage, OpenReport), AppError> {
        let fsync = match config.fsync {
            FsyncMode::Interval => FsyncPolicy::Interval(config.fsync_interval),
            FsyncMode::Always => FsyncPolicy::Always,
            FsyncMode::Never => FsyncPolicy::Never,
        };
        let lock = lock_data_dir(data_dir)?;
        let options = WalOptions {
            max_size: config.max_size.bytes(),
            fsync,
            ..WalOptions::new(data_dir.join("wal"))
        };
        let wal_metrics = WalMetrics::register(registry);
        let remote_metrics = RemoteMetrics::register(registry);
        let (wal, report) =
            Wal::open(options, wal_metrics).map_err(|e| AppError::Wal(e.to_string()))?;
        for d in &report.damage {
            tracing::warn!(file = %d.path.display(), offset = d.offset, kind = ?d.kind, truncated = d.truncated, "WAL damage repaired; everything before it is kept");
        }
        for f in &report.ignored_files {
            tracing::warn!(file = %f.display(), "file in the WAL directory is not the WAL's; ignored");
        }
        tracing::info!(segments = report.segments, samples = report.samples, head = %report.head, "WAL opened");
        let wal: SharedWal = Arc::new(Mutex::new(wal));
        let (sink, batches) = mpsc::channel(256);
        let appender = tokio::spawn(append_loop(wal.clone(), batches, remote_metrics.clone()));
        let remote = RemoteManager::new(wal, remote_metrics);
        Ok((Storage { _lock: lock, sink, appender, remote }, report))
    }

    /// Where the scrape stage sends its batches.
    pub fn sink(&self) -> mpsc::Sender<ScrapeBatch> {
        self.sink.clone()
    }

    /// Applies the config's `remote_write` endpoints and external labels.
    pub async fn apply(&mut self, config: &Config) -> Result<(), String> {
        let external = Labels::from_pairs(
            config.global.external_labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        self.remote.apply(&config.remote_write, &external).await
    }

    /// Call after the scrape stage has stopped: appends what is still queued,
    /// syncs, then lets the endpoints send for at most `deadline`.
    pub async fn shutdown(self, deadline: Duration) {
        drop(self.sink);
        if let Err(e) = self.appender.await {
            tracing::error!(error = %e, "WAL appender panicked");
        }
        self.remote.shutdown(deadline).await;
    }
}

/// Creates `data_dir` and takes an exclusive lock on `data_dir/lock`.
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, AppError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        AppError::Wal(format!("{what} {}: {e}", data_dir.display()))
    };
    std::fs::create_dir_all(data_dir).map_err(|e| fail("creating", &e))?;
    let path = data_dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| fail("opening the lock file in", &e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(AppError::Wal(format!(
            "{} is in use by another tern process (lock held on {})",
            data_dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(fail("locking", &e)),
    }
}

/// Appends every batch, answering it once appended; syncs every second.
async fn append_loop(
    wal: SharedWal,
    mut batches: mpsc::Receiver<ScrapeBatch>,
    metrics: RemoteMetrics,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            batch = batches.recv() => {
                let Some(mut batch) = batch else { break };
                append(&wal, &batch, &metrics);
                if let Some(done) = batch.done.take() {
                    let _ = done.send(std::mem::take(&mut batch.samples));
                }
            }
            _ = tick.tick() => {
                ticks += 1;
                let mut w = wal.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = w.sync() {
                    tracing::error!(error = %e, "WAL fsync failed");
                }
                if ticks.is_multiple_of(TRUNCATE_EVERY) {
                    if let Err(e) = w.truncate_acknowledged() {
                        tracing::warn!(error = %e, "deleting sent WAL segments failed");
                    }
                }
            }
        }
    }
    let mut w = wal.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = w.sync() {
        tracing::error!(error = %e, "final WAL fsync failed");
    }
}

fn append(wal: &SharedWal, batch: &ScrapeBatch, metrics: &RemoteMetrics) {
    if batch.samples.is_empty() {
        return;
    }
    let result = wal.lock().unwrap_or_else(|p| p.into_inner()).append(&batch.samples);
    match result {
        Ok(_) => {
            let highest =
                batch.samples.iter().map(|s| s.timestamp_ms).max().unwrap_or(0) as f64 / 1000.0;
            if highest > metrics.highest_appended.get() {
                metrics.highest_appended.set(highest);
            }
        }
        Err(e) => tracing::error!(
            job = %batch.job,
            target = %batch.target,
            samples = batch.samples.len(),
            error = %e,
            "cannot append to the WAL: these samples are lost"
        ),
    }
}
