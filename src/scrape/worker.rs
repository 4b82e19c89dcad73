//! One scrape loop per target: timing, fetch, append, hand-off.
//!
//! Timing: the first scrape happens at the next instant whose position inside
//! the interval equals `target.hash % interval`, so a target keeps its phase
//! across restarts and the targets of a job spread over the interval. Missed
//! ticks are skipped, never bunched.
//!
//! Memory: a scrape's body is needed only while it is fetched and parsed, so
//! loops borrow the body buffer from their job's [`BufferPool`] for that and
//! give it back; the buffers follow the scrapes in flight, not the targets.
//!
//! Contract: the loop returns its [`SeriesState`] when cancelled, so that the
//! manager can write the target's stale markers (target gone) or hand the
//! state to the loop that replaces it (target changed). A scrape in flight is
//! finished first; a hand-off blocked on a full channel is abandoned on
//! cancellation (the samples are from a scrape the caller no longer wants).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::direct::KeptConn;
use super::fetch::Fetcher;
use super::metrics::{FailureLabels, JobLabel, ScrapeMetrics};
use super::series::{AppendError, SeriesState};
use super::status::{self, Health, SharedStatus, TargetStatus};
use super::{ScrapeBatch, Target};

/// Everything a loop needs besides its state.
#[derive(Debug, Clone)]
pub struct LoopContext {
    pub job: Arc<str>,
    pub target: Arc<Target>,
    pub fetcher: Arc<Fetcher>,
    pub buffers: BufferPool,
    pub sink: mpsc::Sender<ScrapeBatch>,
    pub status: SharedStatus,
    pub metrics: ScrapeMetrics,
    /// Set when the job exceeds its target_limit: every scrape fails with it.
    pub forced_error: Option<String>,
}

pub use crate::clock::now_ms;

/// Body buffers lent to scrapes in flight (cheap to clone: one pool).
#[derive(Debug, Clone, Default)]
pub struct BufferPool(Arc<Mutex<Vec<Vec<u8>>>>);

/// Idle buffers kept for reuse; more are freed when given back.
const POOLED_BUFFERS: usize = 8;

impl BufferPool {
    /// An idle buffer (empty, with whatever capacity it had), or a new one.
    pub fn take(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default()
    }

    /// Returns a buffer for reuse.
    pub fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut idle = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOLED_BUFFERS {
            idle.push(buf);
        }
    }
}

/// Delay until the first scrape: the next instant whose offset inside the
/// interval is `hash % interval`.
pub fn first_delay(hash: u64, interval: Duration, now_ms: i64) -> Duration {
    let interval_ms = interval.as_millis().max(1) as u64;
    let offset = hash % interval_ms;
    let phase = (now_ms.max(0) as u64) % interval_ms;
    Duration::from_millis((offset + interval_ms - phase) % interval_ms)
}

/// Runs the loop until `cancel`; returns the series state.
pub async fn run(
    ctx: LoopContext,
    mut state: SeriesState,
    cancel: CancellationToken,
) -> SeriesState {
    let interval = ctx.target.interval;
    let start = tokio::time::Instant::now() + first_delay(ctx.target.hash, interval, now_ms());
    let mut ticker = tokio::time::interval_at(start, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last_len = 0;
    let mut conn = KeptConn::default();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return state,
            _ = ticker.tick() => {}
        }
        let mut buf = ctx.buffers.take();
        let mut batch = scrape_once(&ctx, &mut state, &mut buf, &mut last_len, &mut conn).await;
        ctx.buffers.give(buf);
        let (done, stored) = tokio::sync::oneshot::channel();
        batch.done = Some(done);
        // The scrape counts as done once the consumer has stored the batch. A
        // finished scrape is handed on even when cancellation came meanwhile,
        // unless the channel is full (then waiting would hold up shutdown).
        match ctx.sink.try_send(batch) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return state,
            Err(mpsc::error::TrySendError::Full(batch)) => tokio::select! {
                biased;
                _ = cancel.cancelled() => return state,
                sent = ctx.sink.send(batch) => if sent.is_err() { return state },
            },
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return state,
            samples = stored => drop(samples),
        }
    }
}

/// One scrape: fetch, append, status and metrics. Returns the batch to hand on.
async fn scrape_once(
    ctx: &LoopContext,
    state: &mut SeriesState,
    buf: &mut Vec<u8>,
    last_len: &mut usize,
    conn: &mut KeptConn,
) -> ScrapeBatch {
    let scrape_ms = now_ms();
    let started = Instant::now();
    let fetched = match &ctx.forced_error {
        Some(e) => Err(e.clone()),
        None => {
            ctx.fetcher.fetch(&ctx.target.url, ctx.target.timeout, buf, conn).await.map_err(|e| {
                let reason = e.reason().to_owned();
                ctx.metrics
                    .failures
                    .get_or_create(&FailureLabels { job: ctx.job.to_string(), reason })
                    .inc();
                e.to_string()
            })
        }
    };
    let duration = started.elapsed().as_secs_f64();
    let mut samples = Vec::with_capacity(*last_len + 8);
    let input = fetched.as_ref().map(|format| (&buf[..], *format)).map_err(Clone::clone);
    let (stats, error) = state.append(input, scrape_ms, duration, &mut samples);
    *last_len = samples.len();
    match &error {
        // Fetch failures were counted with the fetcher's reason.
        Some(AppendError::Fetch(_)) | None => {}
        Some(e) => {
            let reason = e.reason().to_owned();
            ctx.metrics
                .failures
                .get_or_create(&FailureLabels { job: ctx.job.to_string(), reason })
                .inc();
        }
    }
    if let Some(e) = &error {
        tracing::debug!(target_url = %ctx.target.url, job = %ctx.job, error = %e, "scrape failed");
    }
    let job = JobLabel { job: ctx.job.to_string() };
    ctx.metrics.scrapes.get_or_create(&job).inc();
    ctx.metrics.duration.get_or_create(&job).observe(duration);
    ctx.metrics.samples.get_or_create(&job).inc_by(samples.len() as u64);
    ctx.metrics.stale_markers.get_or_create(&job).inc_by(stats.stale_markers as u64);
    status::write(
        &ctx.status,
        TargetStatus {
            health: if error.is_none() { Health::Up } else { Health::Down },
            last_error: error.map(|e| e.to_string()).unwrap_or_default(),
            last_scrape: Some(UNIX_EPOCH + Duration::from_millis(scrape_ms.max(0) as u64)),
            last_scrape_duration_secs: duration,
            last_samples: stats.post_relabel,
        },
    );
    ScrapeBatch {
        job: ctx.job.clone(),
        target: Arc::new(ctx.target.labels.clone()),
        samples,
        done: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_delay_lands_on_the_targets_phase() {
        let i = Duration::from_secs(10);
        assert_eq!(first_delay(3_000, i, 1_000_000), Duration::from_millis(3_000));
        assert_eq!(first_delay(3_000, i, 1_004_000), Duration::from_millis(9_000));
        assert_eq!(first_delay(13_000, i, 1_003_000), Duration::ZERO);
        // Whatever the start time, scrapes of a target fall on the same phase.
        for now in [0i64, 1, 4_999, 123_456_789] {
            let d = first_delay(987_654_321, i, now);
            assert_eq!((now as u64 + d.as_millis() as u64) % 10_000, 987_654_321 % 10_000);
            assert!(d < i);
        }
    }

    #[test]
    fn the_buffer_pool_reuses_buffers_and_keeps_a_bounded_number_idle() {
        let pool = BufferPool::default();
        let mut b = pool.take();
        b.extend_from_slice(&[1; 1000]);
        pool.give(b);
        let b = pool.take();
        assert!(b.is_empty() && b.capacity() >= 1000, "reused, cleared");
        for _ in 0..POOLED_BUFFERS + 5 {
            pool.give(Vec::with_capacity(10));
        }
        let idle = std::iter::from_fn(|| Some(pool.take())).take_while(|b| b.capacity() > 0);
        assert_eq!(idle.count(), POOLED_BUFFERS);
    }
}
