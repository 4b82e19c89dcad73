//! Sending one chunk: every shard's samples grouped by series, cut into
//! requests of at most `max_samples_per_send`, each sent until it is delivered
//! or deliberately dropped:
//!
//! - 2xx: delivered;
//! - network error, 5xx: retried with exponential backoff and jitter;
//! - 429: retried after `Retry-After` (or the backoff), for at most
//!   [`RETRY_429_FOR`] per request, then dropped and counted;
//! - 413 and 400: split in halves and the halves retried, down to a single
//!   series (400) or a single sample (413), which is then dropped and counted,
//!   so every valid sample of the batch is still delivered;
//! - other 4xx: dropped, counted by status.
//!
//! Requests of one shard go one at a time, in order, so each series stays in
//! timestamp order at the receiver.

use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smallvec::{smallvec, SmallVec};
use tokio_util::sync::CancellationToken;

use crate::config::QueueConfig;
use crate::labels::{Labels, SharedSeries};
use crate::remote::client::RemoteClient;
use crate::remote::encode::{Encoder, SampleValue};
use crate::remote::metrics::{Endpoint, EndpointReason, RemoteMetrics};
use crate::remote::retry::{Backoff, DropReason, Jitter, RetryAction};

/// How many groups ahead of the one being encoded a series is prefetched.
const PREFETCH_AHEAD: usize = 4;

/// How long a request keeps being retried on 429 before it is dropped.
pub const RETRY_429_FOR: Duration = Duration::from_secs(10 * 60);

/// One sample on its way to a shard.
#[derive(Debug, Clone)]
pub struct Item {
    /// The endpoint's series (after write relabeling).
    pub series: SharedSeries,
    /// The WAL series' hash (before write relabeling): picks the shard and
    /// the group, so each source series stays in timestamp order.
    pub hash: u64,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// A series and some of its samples, in order. In the steady state a series
/// has one sample per chunk: it is held inline, so grouping allocates nothing
/// per series.
#[derive(Debug, Clone)]
struct Group {
    series: SharedSeries,
    samples: SmallVec<[SampleValue; 1]>,
}

/// The samples of `v` from `at` on, removed from it.
fn split_samples(v: &mut SmallVec<[SampleValue; 1]>, at: usize) -> SmallVec<[SampleValue; 1]> {
    let rest = SmallVec::from_slice(&v[at..]);
    v.truncate(at);
    rest
}

fn sample_count(groups: &[Group]) -> usize {
    groups.iter().map(|g| g.samples.len()).sum()
}

/// Whether a chunk went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardResult {
    /// Every sample delivered or deliberately dropped.
    Done,
    /// Stopped before that: nothing may be committed.
    Aborted,
}

/// Per-endpoint sending state kept across chunks.
pub struct ShardContext {
    client: Arc<RemoteClient>,
    /// Merged into every series by the encoder.
    external: Labels,
    /// One for all shards: encoding is synchronous and each body is copied
    /// out before it is sent, so the shards never need the buffers at once.
    encoder: Mutex<Encoder>,
    max_per_send: usize,
    min_backoff: Duration,
    max_backoff: Duration,
    retry_on_429: bool,
    metrics: RemoteMetrics,
    endpoint: Endpoint,
}

impl ShardContext {
    pub fn new(
        client: Arc<RemoteClient>,
        q: &QueueConfig,
        metrics: RemoteMetrics,
        endpoint: Endpoint,
        external: Labels,
    ) -> Self {
        ShardContext {
            client,
            external,
            encoder: Mutex::new(Encoder::default()),
            max_per_send: q.max_samples_per_send.max(1) as usize,
            min_backoff: q.min_backoff,
            max_backoff: q.max_backoff,
            retry_on_429: q.retry_on_http_429,
            metrics,
            endpoint,
        }
    }

    /// Sends every shard's part concurrently; `by_series`: see [`requests`].
    pub async fn send_all(
        &mut self,
        parts: Vec<Vec<Item>>,
        by_series: bool,
        abort: &CancellationToken,
    ) -> ShardResult {
        let shared = SendShared {
            client: &self.client,
            external: &self.external,
            encoder: &self.encoder,
            max_per_send: self.max_per_send,
            min_backoff: self.min_backoff,
            max_backoff: self.max_backoff,
            retry_on_429: self.retry_on_429,
            metrics: &self.metrics,
            endpoint: &self.endpoint,
            abort,
        };
        let shared = &shared;
        let sends = parts.into_iter().map(|items| shared.send_shard(items, by_series));
        let results = futures_util::future::join_all(sends).await;
        if results.contains(&ShardResult::Aborted) {
            ShardResult::Aborted
        } else {
            ShardResult::Done
        }
    }
}

struct SendShared<'a> {
    client: &'a RemoteClient,
    external: &'a Labels,
    encoder: &'a Mutex<Encoder>,
    max_per_send: usize,
    min_backoff: Duration,
    max_backoff: Duration,
    retry_on_429: bool,
    metrics: &'a RemoteMetrics,
    endpoint: &'a Endpoint,
    abort: &'a CancellationToken,
}

impl SendShared<'_> {
    async fn send_shard(&self, items: Vec<Item>, by_series: bool) -> ShardResult {
        for request in requests(items, self.max_per_send, by_series) {
            if self.send_request(request).await == ShardResult::Aborted {
                return ShardResult::Aborted;
            }
        }
        ShardResult::Done
    }

    /// Sends one request, splitting it on 400/413, until all of it is
    /// delivered or dropped.
    async fn send_request(&self, request: Vec<Group>) -> ShardResult {
        let mut work: VecDeque<Vec<Group>> = VecDeque::from([request]);
        while let Some(groups) = work.pop_front() {
            match self.send_until_decided(&groups).await {
                Outcome::Aborted => return ShardResult::Aborted,
                Outcome::Delivered => {}
                Outcome::Dropped(reason) => self.dropped(&groups, reason),
                Outcome::Split(status) => match split(groups, status) {
                    Ok((a, b)) => {
                        work.push_front(b);
                        work.push_front(a);
                    }
                    Err(single) => {
                        let reason = DropReason::from_status(status);
                        tracing::error!(
                            remote_name = %self.endpoint.remote_name,
                            url = %self.endpoint.url,
                            series = %single.first().map(|g| g.series.to_string()).unwrap_or_default(),
                            %reason,
                            "remote write rejected a single series; its samples are dropped"
                        );
                        self.dropped(&single, reason);
                    }
                },
            }
        }
        ShardResult::Done
    }

    async fn send_until_decided(&self, groups: &[Group]) -> Outcome {
        let n = sample_count(groups) as u64;
        let mut backoff = Backoff::new(self.min_backoff, self.max_backoff, Jitter::Equal);
        let mut first_429: Option<Instant> = None;
        // Encoded once; every retry sends the same bytes.
        // Each series' memory is loaded a few groups ahead of its encoding.
        let series = groups.iter().enumerate().map(|(i, g)| {
            if let Some(ahead) = groups.get(i + PREFETCH_AHEAD) {
                crate::labels::prefetch(&ahead.series);
            }
            (g.series.labels(), &g.samples[..])
        });
        let encoded = {
            let mut encoder = self.encoder.lock().unwrap_or_else(|e| e.into_inner());
            encoder.encode_with_external(series, self.external).map(bytes::Bytes::copy_from_slice)
        };
        let body = match encoded {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(remote_name = %self.endpoint.remote_name, error = %e, "cannot encode a batch");
                return Outcome::Split(413);
            }
        };
        let bytes = body.len() as u64;
        loop {
            let sent = tokio::select! {
                biased;
                _ = self.abort.cancelled() => return Outcome::Aborted,
                sent = self.client.send(body.clone()) => sent,
            };
            let action = sent.action(self.retry_on_429, std::time::SystemTime::now());
            match action {
                RetryAction::Done => {
                    self.metrics.samples.get_or_create(self.endpoint).inc_by(n);
                    self.metrics.bytes.get_or_create(self.endpoint).inc_by(bytes);
                    self.metrics.sent_batches.get_or_create(self.endpoint).inc();
                    if let Some(ts) =
                        groups.iter().filter_map(|g| g.samples.last()).map(|s| s.timestamp_ms).max()
                    {
                        let g = self.metrics.highest_sent.get_or_create(self.endpoint);
                        if (ts as f64 / 1000.0) > g.get() {
                            g.set(ts as f64 / 1000.0);
                        }
                    }
                    return Outcome::Delivered;
                }
                RetryAction::Split => return Outcome::Split(sent.status.unwrap_or(400)),
                RetryAction::Drop { reason } => {
                    tracing::error!(
                        remote_name = %self.endpoint.remote_name,
                        url = %self.endpoint.url,
                        samples = n,
                        %reason,
                        status = ?sent.status,
                        response = %sent.body_snippet,
                        "remote write rejected samples; they are dropped"
                    );
                    return Outcome::Dropped(reason);
                }
                RetryAction::Retry { after } => {
                    if sent.status == Some(429) {
                        let since = *first_429.get_or_insert_with(Instant::now);
                        if since.elapsed() >= RETRY_429_FOR {
                            return Outcome::Dropped(DropReason::from_status(429));
                        }
                    }
                    self.metrics.samples_retried.get_or_create(self.endpoint).inc_by(n);
                    let wait = backoff.next_after(after.map(|a| a.min(RETRY_429_FOR)));
                    tracing::warn!(
                        remote_name = %self.endpoint.remote_name,
                        url = %self.endpoint.url,
                        samples = n,
                        wait_ms = wait.as_millis() as u64,
                        status = ?sent.status,
                        error = sent.error.as_deref().unwrap_or(""),
                        response = %sent.body_snippet,
                        "remote write failed; retrying"
                    );
                    tokio::select! {
                        biased;
                        _ = self.abort.cancelled() => return Outcome::Aborted,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    fn dropped(&self, groups: &[Group], reason: DropReason) {
        let labels = EndpointReason {
            remote_name: self.endpoint.remote_name.clone(),
            url: self.endpoint.url.clone(),
            reason: reason.to_string(),
        };
        self.metrics.samples_failed.get_or_create(&labels).inc_by(sample_count(groups) as u64);
    }
}

/// Groups items by series and cuts the groups into requests of at most
/// `max_per_send` samples. With `by_series` (a backlog, where a chunk holds
/// several samples of each series) every series' samples go into one group,
/// in first-seen order, so its labels are sent once; otherwise (the steady
/// state, about one sample per series) only consecutive samples of a series
/// share a group, as Prometheus sends them, without a lookup per sample.
/// Either way a series' samples stay in order across the groups and requests.
fn requests(items: Vec<Item>, max_per_send: usize, by_series: bool) -> Vec<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::with_capacity(items.len());
    if by_series {
        // Sized for one sample per series: no rehashing.
        let mut index: HashMap<(u64, usize), usize> = HashMap::with_capacity(items.len());
        // Label sets are moved, not cloned: a clone is an atomic increment
        // on the set's (rarely cached) memory, per sample.
        for Item { series, hash, timestamp_ms, value } in items {
            let sample = SampleValue { timestamp_ms, value };
            // Keyed by the series itself too: two series whose hashes
            // collide stay apart. (One series read as two `Arc`s, across a
            // segment change, makes two groups, in order.)
            match index.entry((hash, SharedSeries::as_ptr(&series) as usize)) {
                std::collections::hash_map::Entry::Occupied(o) => {
                    groups[*o.get()].samples.push(sample)
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(groups.len());
                    groups.push(Group { series, samples: smallvec![sample] });
                }
            }
        }
    } else {
        for Item { series, timestamp_ms, value, .. } in items {
            let sample = SampleValue { timestamp_ms, value };
            match groups.last_mut() {
                Some(last) if SharedSeries::ptr_eq(&last.series, &series) => {
                    last.samples.push(sample)
                }
                _ => groups.push(Group { series, samples: smallvec![sample] }),
            }
        }
    }
    cut(groups, max_per_send)
}

/// Cuts groups into requests of at most `max_per_send` samples, splitting a
/// group across two requests where it must.
fn cut(groups: Vec<Group>, max_per_send: usize) -> Vec<Vec<Group>> {
    let mut requests = Vec::new();
    // Each request's vector sized once (at most one group per sample).
    let per_request = max_per_send.min(groups.len());
    let mut current: Vec<Group> = Vec::with_capacity(per_request);
    let mut n = 0;
    for mut g in groups {
        loop {
            let room = max_per_send - n;
            if g.samples.len() <= room {
                n += g.samples.len();
                current.push(g);
                if n == max_per_send {
                    requests.push(std::mem::replace(&mut current, Vec::with_capacity(per_request)));
                    n = 0;
                }
                break;
            }
            let rest = split_samples(&mut g.samples, room);
            current.push(Group {
                series: g.series.clone(),
                samples: std::mem::replace(&mut g.samples, rest),
            });
            requests.push(std::mem::replace(&mut current, Vec::with_capacity(per_request)));
            n = 0;
        }
    }
    if !current.is_empty() {
        requests.push(current);
    }
    requests
}

enum Outcome {
    Delivered,
    Dropped(DropReason),
    /// Split on this status (400 or 413).
    Split(u16),
    Aborted,
}

/// Halves a request: by series when it has several, then by samples, down to
/// the one sample a receiver refuses. On 400 the samples of one series matter
/// too: after a crash a request may hold a re-sent sample the receiver
/// already has older data for ("out of order") ahead of new samples, and only
/// the refused ones may be dropped. `Err` gives back a request that cannot be
/// split further.
fn split(mut groups: Vec<Group>, status: u16) -> Result<(Vec<Group>, Vec<Group>), Vec<Group>> {
    if groups.len() > 1 {
        let b = groups.split_off(groups.len() / 2);
        return Ok((groups, b));
    }
    match groups.pop() {
        Some(mut g) if g.samples.len() > 1 && (status == 413 || status == 400) => {
            let half = g.samples.len() / 2;
            let rest = split_samples(&mut g.samples, half);
            let b = Group { series: g.series.clone(), samples: rest };
            Ok((vec![g], vec![b]))
        }
        Some(g) => Err(vec![g]),
        None => Err(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Series;

    /// Each request as (series, sample timestamps) per group.
    fn rendered(requests: Vec<Vec<Group>>) -> Vec<Vec<(String, Vec<i64>)>> {
        let group =
            |g: Group| (g.series.to_string(), g.samples.iter().map(|s| s.timestamp_ms).collect());
        requests.into_iter().map(|r| r.into_iter().map(group).collect()).collect()
    }

    #[test]
    fn requests_group_by_series_in_order_and_cut_at_max_per_send() {
        let a = SharedSeries::new(Series::new(Labels::from_pairs([("__name__", "a")])));
        let b = SharedSeries::new(Series::new(Labels::from_pairs([("__name__", "b")])));
        let item = |l: &SharedSeries, hash: u64, t: i64| Item {
            series: l.clone(),
            hash,
            timestamp_ms: t,
            value: t as f64,
        };
        let items = vec![item(&a, 1, 1), item(&b, 2, 2), item(&a, 1, 3), item(&a, 1, 4)];
        let got = rendered(requests(items, 2, true));
        let s = |l: &str, t: &[i64]| (format!("{{__name__=\"{l}\"}}"), t.to_vec());
        assert_eq!(got, vec![vec![s("a", &[1, 3])], vec![s("a", &[4]), s("b", &[2])]]);
    }

    #[test]
    fn series_whose_hashes_collide_are_not_grouped_together() {
        let a = SharedSeries::new(Series::new(Labels::from_pairs([("__name__", "a")])));
        let b = SharedSeries::new(Series::new(Labels::from_pairs([("__name__", "b")])));
        let item = |l: &SharedSeries, t: i64| Item {
            series: l.clone(),
            hash: 7,
            timestamp_ms: t,
            value: t as f64,
        };
        let items = vec![item(&a, 1), item(&b, 2), item(&a, 3), item(&b, 4)];
        let got: Vec<(String, Vec<i64>)> = requests(items, 10, true)
            .concat()
            .into_iter()
            .map(|g| (g.series.to_string(), g.samples.iter().map(|s| s.timestamp_ms).collect()))
            .collect();
        let want = [("{__name__=\"a\"}", vec![1, 3]), ("{__name__=\"b\"}", vec![2, 4])];
        assert_eq!(got, want.map(|(l, t)| (l.to_string(), t)));
    }

    #[test]
    fn requests_without_grouping_keep_wal_order_and_merge_only_neighbours() {
        let a = SharedSeries::new(Series::new(Labels::from_pairs([("__name__", "a")])));
        let b = SharedSeries::new(Series::new(Labels::from_pairs([("__name__", "b")])));
        let item = |l: &SharedSeries, t: i64| Item {
            series: l.clone(),
            hash: 1,
            timestamp_ms: t,
            value: t as f64,
        };
        let items = vec![item(&a, 1), item(&b, 2), item(&a, 3), item(&a, 4), item(&b, 5)];
        let got = rendered(requests(items, 3, false));
        let s = |l: &str, t: &[i64]| (format!("{{__name__=\"{l}\"}}"), t.to_vec());
        assert_eq!(
            got,
            vec![vec![s("a", &[1]), s("b", &[2]), s("a", &[3])], vec![s("a", &[4]), s("b", &[5])]]
        );
    }
}
