//! One queue per `remote_write` endpoint: reads the WAL from the endpoint's
//! durable cursor, sends, and advances the cursor only after delivery.
//!
//! The loop works in chunks: it reads up to `max_samples_per_send x shards`
//! samples (waiting at most `batch_send_deadline` for a chunk to fill), splits
//! them over the shards by series hash (so a series always goes through the
//! same shard, in WAL order, one request at a time), sends every shard's part
//! concurrently, and when all are delivered (2xx) or deliberately dropped
//! (counted), commits the chunk's end as the endpoint's WAL position. A crash
//! therefore re-sends at most the chunks after the last commit (at least once,
//! never lost). The next chunk may use another shard count: when the chunk
//! filled at once with samples older than `batch_send_deadline` (a backlog)
//! the shards double up to `max_shards`; otherwise they shrink by one down to
//! `min_shards`. Fewer shards mean fewer, larger requests that compress better.
//!
//! Endpoints never wait for each other: each has its own reader and task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::{QueueConfig, RemoteWriteConfig};
use crate::labels::Labels;
use crate::relabel::Rule;
use crate::wal::{Cursor, Position, WalReader, WalSample};

use super::client::RemoteClient;
use super::metrics::{Endpoint, EndpointReason, RemoteMetrics};

mod series;
mod shard;

pub use series::SeriesLabels;
use shard::{ShardContext, ShardResult};

/// How long between durable cursor commits while data flows. A crash re-sends
/// at most this much; with scrape intervals of this or longer that is at most
/// the last sample of each series, which the receiver already has at the
/// same timestamp and takes as a duplicate (an older one would be refused as
/// out of order).
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// Everything one endpoint's queue needs.
pub struct EndpointQueue {
    pub name: String,
    pub url: String,
    pub queue: QueueConfig,
    pub client: Arc<RemoteClient>,
    pub series: SeriesLabels,
    pub reader: WalReader,
    pub cursor: Cursor,
    pub metrics: RemoteMetrics,
    /// How much of `reader.skipped_samples()` is already counted.
    pub skipped_counted: u64,
}

/// How the queue is asked to stop.
#[derive(Clone, Default)]
pub struct Stop {
    /// Send what is in the WAL up to its head, then stop.
    pub drain: CancellationToken,
    /// Stop now; what is in flight stays in the WAL for the next start.
    pub abort: CancellationToken,
}

impl EndpointQueue {
    /// Builds the series-label part from the endpoint config.
    pub fn series_labels(
        external: &Labels,
        config: &RemoteWriteConfig,
    ) -> Result<SeriesLabels, String> {
        let rules: Vec<Rule> = config
            .write_relabel_configs
            .iter()
            .enumerate()
            .map(|(i, c)| Rule::try_new(c).map_err(|e| format!("write_relabel_configs[{i}]: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(SeriesLabels::new(external.clone(), rules.into()))
    }

    /// Runs until stopped.
    pub async fn run(mut self, stop: Stop) {
        let endpoint = Endpoint { remote_name: self.name.clone(), url: self.url.clone() };
        let min = self.queue.min_shards.max(1) as usize;
        let max = (self.queue.max_shards as usize).max(min);
        self.metrics.shards_min.get_or_create(&endpoint).set(min as i64);
        self.metrics.shards_max.get_or_create(&endpoint).set(max as i64);
        let mut shards = min;
        let mut ctx = ShardContext::new(
            self.client.clone(),
            &self.queue,
            self.metrics.clone(),
            endpoint.clone(),
            self.series.external().clone(),
        );
        let mut committed: Option<Position> = None;
        let mut last_commit = Instant::now();
        loop {
            let cap = self.queue.max_samples_per_send.max(1) as usize * shards;
            let (chunk, filled_at_once) = match self.read_chunk(cap, &stop).await {
                Some(c) => c,
                None => break,
            };
            self.count_skipped(&endpoint);
            if chunk.is_empty() {
                break;
            }
            // Not the last sample's record end: the chunk may end inside it.
            let end = self.reader.handed_out();
            self.metrics.samples_pending.get_or_create(&endpoint).set(chunk.len() as i64);
            // A backlog holds several samples of each series: grouped by
            // series, each one's labels are sent once.
            let deadline_ms = self.queue.batch_send_deadline.as_millis() as i64;
            let backlog = chunk
                .first()
                .is_some_and(|s| crate::clock::now_ms() - s.timestamp_ms >= deadline_ms);
            let parts = self.split(chunk, shards, &endpoint);
            let result = ctx.send_all(parts, backlog, &stop.abort).await;
            self.metrics.samples_pending.get_or_create(&endpoint).set(0);
            if result == ShardResult::Aborted {
                break;
            }
            committed = Some(end);
            if last_commit.elapsed() >= COMMIT_EVERY {
                self.commit(end, &endpoint);
                last_commit = Instant::now();
            }
            shards = if filled_at_once {
                (shards * 2).min(max)
            } else {
                shards.saturating_sub(1).max(min)
            };
            self.metrics.shards.get_or_create(&endpoint).set(shards as i64);
        }
        if let Some(end) = committed {
            self.commit(end, &endpoint);
        }
    }

    /// Samples the WAL's size bound deleted before this endpoint read them.
    fn count_skipped(&mut self, endpoint: &Endpoint) {
        let skipped = self.reader.skipped_samples();
        if skipped > self.skipped_counted {
            let labels = EndpointReason {
                remote_name: endpoint.remote_name.clone(),
                url: endpoint.url.clone(),
                reason: "wal_size_bound".into(),
            };
            self.metrics
                .samples_dropped
                .get_or_create(&labels)
                .inc_by(skipped - self.skipped_counted);
            self.skipped_counted = skipped;
        }
    }

    fn commit(&self, end: Position, endpoint: &Endpoint) {
        match self.cursor.commit(end) {
            Ok(()) => {
                self.metrics.cursor_commits.get_or_create(endpoint).inc();
            }
            Err(e) => {
                let msg =
                    "cannot persist the WAL read position; data may be re-sent after a restart";
                tracing::error!(remote_name = %self.name, error = %e, "{msg}");
            }
        }
    }

    /// Reads the next chunk: up to `cap` samples, waiting for more while the
    /// chunk is not full and `batch_send_deadline` has not passed since its
    /// first sample. Returns whether it filled without waiting (a backlog), or
    /// `None` when stopped (drain: at the head with nothing read).
    async fn read_chunk(&mut self, cap: usize, stop: &Stop) -> Option<(Vec<WalSample>, bool)> {
        let mut chunk: Vec<WalSample> = Vec::new();
        let mut first_at: Option<Instant> = None;
        let mut waited = false;
        loop {
            if stop.abort.is_cancelled() {
                return None;
            }
            // Straight into the chunk: what was read before an error stays.
            let room = cap - chunk.len();
            let result = self.reader.read_into(&mut chunk, room);
            if !chunk.is_empty() && first_at.is_none() {
                first_at = Some(Instant::now());
            }
            if let Err(e) = result {
                tracing::error!(remote_name = %self.name, error = %e, "reading the WAL failed; retrying");
                waited = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // Samples already older than the deadline are a backlog: they go
            // at once, and a full chunk of them lets the shards grow (a burst
            // of fresh samples does not).
            let deadline = self.queue.batch_send_deadline;
            let behind = chunk.first().is_some_and(|s| {
                crate::clock::now_ms() - s.timestamp_ms >= deadline.as_millis() as i64
            });
            if chunk.len() >= cap {
                return Some((chunk, !waited && behind));
            }
            let remaining = first_at.map(|t| deadline.saturating_sub(t.elapsed()));
            if remaining == Some(Duration::ZERO) || behind {
                return Some((chunk, false));
            }
            if stop.drain.is_cancelled() {
                // Draining: whatever is there now is the last chunk.
                return (!chunk.is_empty()).then_some((chunk, false));
            }
            waited = true;
            tokio::select! {
                _ = stop.abort.cancelled() => return None,
                _ = stop.drain.cancelled() => {}
                open = self.reader.wait() => if !open && chunk.is_empty() { return None },
                _ = sleep_opt(remaining) => {}
            }
        }
    }

    /// Final labels, age limit, then one part per shard (by series hash).
    fn split(
        &mut self,
        chunk: Vec<WalSample>,
        shards: usize,
        endpoint: &Endpoint,
    ) -> Vec<Vec<shard::Item>> {
        // Sized once: the hash spreads series about evenly over the shards.
        let per_shard = if shards == 1 { chunk.len() } else { chunk.len() / shards * 5 / 4 + 16 };
        let mut parts: Vec<Vec<shard::Item>> =
            (0..shards).map(|_| Vec::with_capacity(per_shard)).collect();
        let age_limit = self.queue.sample_age_limit;
        let now_ms = crate::clock::now_ms();
        let (mut relabeled, mut too_old) = (0u64, 0u64);
        for s in chunk {
            if !age_limit.is_zero() && now_ms - s.timestamp_ms > age_limit.as_millis() as i64 {
                too_old += 1;
                continue;
            }
            let hash = s.series.hash();
            let Some(series) = self.series.get(s.series) else {
                relabeled += 1;
                continue;
            };
            let shard = (hash % shards as u64) as usize;
            parts[shard].push(shard::Item {
                series,
                hash,
                timestamp_ms: s.timestamp_ms,
                value: s.value,
            });
        }
        for (reason, n) in [("write_relabel", relabeled), ("too_old", too_old)] {
            if n > 0 {
                let labels = EndpointReason {
                    remote_name: endpoint.remote_name.clone(),
                    url: endpoint.url.clone(),
                    reason: reason.into(),
                };
                self.metrics.samples_dropped.get_or_create(&labels).inc_by(n);
            }
        }
        parts
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
