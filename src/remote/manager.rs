//! The remote-write endpoints of the running config: one [`EndpointQueue`]
//! task each, started, kept, restarted or stopped as the config changes.
//!
//! An endpoint is identified by its name: the `name` of its `remote_write`
//! entry, else a hash of its URL. The name also names its durable WAL cursor,
//! so a restart (or a reload that changes, say, `queue_config`) goes on from
//! where that endpoint stopped, and a renamed endpoint starts from the oldest
//! data kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::config::RemoteWriteConfig;
use crate::labels::Labels;
use crate::wal::Wal;

use super::client::RemoteClient;
use super::metrics::RemoteMetrics;
use super::queue::{EndpointQueue, Stop};

/// The WAL, shared by the appender (writes) and the remote side (readers,
/// cursors). The lock is held for one append or one reader creation, never
/// across an `.await`.
pub type SharedWal = Arc<Mutex<Wal>>;

struct Running {
    config: RemoteWriteConfig,
    external: Labels,
    stop: Stop,
    task: JoinHandle<()>,
}

/// Owns the endpoint queues.
pub struct Manager {
    wal: SharedWal,
    metrics: RemoteMetrics,
    running: HashMap<String, Running>,
}

/// The endpoint's name: `name`, else `url-<hash of the URL>`.
pub fn endpoint_name(config: &RemoteWriteConfig) -> String {
    match config.name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => n.to_owned(),
        None => {
            format!("url-{:016x}", Labels::from_pairs([("url", config.url.as_str())]).stable_hash())
        }
    }
}

impl Manager {
    pub fn new(wal: SharedWal, metrics: RemoteMetrics) -> Self {
        Manager { wal, metrics, running: HashMap::new() }
    }

    /// Applies the configured endpoints: every new queue is built first, so a
    /// bad entry changes nothing. Unchanged endpoints keep running; changed
    /// ones restart from their cursor; removed ones stop and their cursors
    /// are forgotten (they no longer pin WAL segments).
    pub async fn apply(
        &mut self,
        configs: &[RemoteWriteConfig],
        external: &Labels,
    ) -> Result<(), String> {
        let mut wanted: HashMap<String, &RemoteWriteConfig> = HashMap::new();
        for c in configs {
            wanted.insert(endpoint_name(c), c);
        }
        let mut builds = Vec::new();
        for (name, config) in &wanted {
            let unchanged = self
                .running
                .get(name)
                .is_some_and(|r| r.config == **config && r.external == *external);
            if !unchanged {
                let client = RemoteClient::try_new_with_metrics(config, &self.metrics)
                    .map_err(|e| format!("remote_write {name:?}: {e}"))?;
                let series = EndpointQueue::series_labels(external, config)
                    .map_err(|e| format!("remote_write {name:?}: {e}"))?;
                builds.push((name.clone(), (*config).clone(), client, series));
            }
        }
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|n| !wanted.contains_key(*n) || builds.iter().any(|b| &b.0 == *n))
            .cloned()
            .collect();
        for name in gone {
            let r = self.running.remove(&name).expect("BUG: listed endpoint");
            r.stop.abort.cancel();
            let _ = r.task.await;
        }
        for (name, config, client, series) in builds {
            let (reader, cursor) = {
                let wal = self.wal.lock().unwrap_or_else(|p| p.into_inner());
                let cursor = wal.register_cursor(&name);
                (wal.reader(&cursor), cursor)
            };
            let queue = EndpointQueue {
                name: name.clone(),
                url: config.url.clone(),
                queue: config.queue_config.clone(),
                client: Arc::new(client),
                series,
                reader,
                cursor,
                metrics: self.metrics.clone(),
                skipped_counted: 0,
            };
            let stop = Stop::default();
            let task = tokio::spawn(queue.run(stop.clone()));
            tracing::info!(remote_name = %name, url = %config.url, "remote write endpoint started");
            self.running.insert(name, Running { config, external: external.clone(), stop, task });
        }
        let keep: Vec<&String> = self.running.keys().collect();
        let wal = self.wal.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = wal.forget_cursors_except(&keep) {
            tracing::warn!(error = %e, "cannot remove the cursors of removed endpoints");
        }
        Ok(())
    }

    /// Sends what the WAL holds, for at most `deadline`, then stops; what is
    /// left stays in the WAL for the next start.
    pub async fn shutdown(self, deadline: Duration) {
        for r in self.running.values() {
            r.stop.drain.cancel();
        }
        let all = futures_util::future::join_all(self.running.into_values().map(|r| async move {
            let abort = r.stop.abort.clone();
            let mut task = r.task;
            tokio::select! {
                _ = &mut task => {}
                _ = tokio::time::sleep(deadline) => {
                    abort.cancel();
                    let _ = task.await;
                }
            }
        }));
        all.await;
    }
}
