//! The scrape manager: one pool per job, one loop per target.
//!
//! - `set_jobs` (start and reload): a new job gets a pool; a job whose
//!   effective config is unchanged keeps its loops untouched; a changed job
//!   rebuilds its targets and restarts its loops, each new loop inheriting the
//!   series state of the old loop with the same labels (so no stale markers
//!   for series that go on); a removed job's targets get stale markers.
//! - `sync` (discovery update): targets that appear start, unchanged ones keep
//!   running, those that disappear get stale markers for every series of
//!   their last scrape and their automatic series.
//! - `shutdown`: loops stop without stale markers (the next start goes on where
//!   this one stopped, as in Prometheus).
//!
//! The manager is owned by one task; the targets API reads a snapshot of it
//! through [`TargetsView`], updated after every change.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::metrics::{ScrapeMetrics, TargetStateLabels};
use super::series::{SeriesSettings, SeriesState};
use super::status::SharedStatus;
use super::target::{populate_group, DroppedTarget, Populated};
use super::worker::{self, LoopContext};
use super::{ScrapeBatch, ScrapeJob, Target};
use crate::discovery::TargetGroup;
use crate::labels::Labels;

/// A running target as the targets API shows it.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    pub job: Arc<str>,
    pub target: Arc<Target>,
    pub status: SharedStatus,
}

/// A snapshot of every job's targets.
#[derive(Debug, Clone, Default)]
pub struct TargetsView {
    pub active: Vec<ActiveTarget>,
    pub dropped: Vec<(Arc<str>, DroppedTarget)>,
}

/// Shared, read-mostly handle to the snapshot.
pub type SharedView = Arc<RwLock<TargetsView>>;

struct RunningLoop {
    target: Arc<Target>,
    status: SharedStatus,
    cancel: CancellationToken,
    handle: JoinHandle<SeriesState>,
}

struct Pool {
    job: Arc<ScrapeJob>,
    groups: Vec<TargetGroup>,
    loops: HashMap<u64, RunningLoop>,
    dropped: Vec<DroppedTarget>,
    /// The target_limit error every loop of the pool runs with, if any.
    forced_error: Option<String>,
}

/// Owns every scrape loop.
pub struct Manager {
    sink: mpsc::Sender<ScrapeBatch>,
    metrics: ScrapeMetrics,
    /// Shares series label sets with the WAL readers (agent mode).
    pools: HashMap<String, Pool>,
    view: SharedView,
}

impl Manager {
    pub fn new(sink: mpsc::Sender<ScrapeBatch>, metrics: ScrapeMetrics) -> Self {
        Manager { sink, metrics, pools: HashMap::new(), view: SharedView::default() }
    }

    /// The snapshot the targets API reads.
    pub fn view(&self) -> SharedView {
        self.view.clone()
    }

    /// Applies the configured jobs (start-up and reload).
    pub async fn set_jobs(&mut self, jobs: Vec<ScrapeJob>) {
        let mut wanted: HashMap<String, ScrapeJob> =
            jobs.into_iter().map(|j| (j.name.to_string(), j)).collect();
        let names: Vec<String> = self.pools.keys().cloned().collect();
        for name in names {
            match wanted.remove(&name) {
                None => {
                    let pool = self.pools.remove(&name).expect("BUG: listed pool");
                    self.stop_loops(&pool.job.name, pool.loops.into_values(), true).await;
                    tracing::info!(job = %name, "scrape job removed");
                }
                Some(job) if job.same_config(&self.pools[&name].job) => {}
                Some(job) => {
                    tracing::info!(job = %name, "scrape job changed, restarting its targets");
                    let pool = self.pools.get_mut(&name).expect("BUG: listed pool");
                    pool.job = Arc::new(job);
                    let groups = pool.groups.clone();
                    self.rebuild(&name, groups, true).await;
                }
            }
        }
        for (name, job) in wanted {
            let pool = Pool {
                job: Arc::new(job),
                groups: Vec::new(),
                loops: HashMap::new(),
                dropped: Vec::new(),
                forced_error: None,
            };
            self.pools.insert(name, pool);
        }
        self.publish();
    }

    /// Applies a discovery update: the full list of target groups of `job`.
    pub async fn sync(&mut self, job: &str, groups: Vec<TargetGroup>) {
        match self.pools.get(job) {
            Some(pool) if pool.groups != groups => {}
            _ => return,
        }
        self.rebuild(job, groups, false).await;
        self.publish();
    }

    /// Stops every loop without stale markers.
    pub async fn shutdown(&mut self) {
        let pools: Vec<Pool> = self.pools.drain().map(|(_, p)| p).collect();
        for pool in pools {
            self.stop_loops(&pool.job.name, pool.loops.into_values(), false).await;
        }
        self.publish();
    }

    /// Recomputes a pool's targets from `groups`; with `restart_all`, every
    /// loop restarts (the job's config changed).
    async fn rebuild(&mut self, name: &str, groups: Vec<TargetGroup>, restart_all: bool) {
        let pool = self.pools.get_mut(name).expect("BUG: rebuild of a known pool");
        let job = pool.job.clone();
        let mut wanted: HashMap<u64, Target> = HashMap::new();
        let mut dropped = Vec::new();
        for group in &groups {
            for populated in populate_group(&job, group) {
                match populated {
                    Populated::Active(t) => {
                        wanted.entry(t.hash).or_insert(t);
                    }
                    Populated::Dropped(d) => dropped.push(d),
                    Populated::Failed { discovered, error } => {
                        tracing::warn!(job = %name, target = %discovered, %error, "creating target failed");
                    }
                }
            }
        }
        if job.keep_dropped_targets > 0 {
            dropped.truncate(job.keep_dropped_targets);
        }
        pool.groups = groups;
        pool.dropped = dropped;
        let forced_error = (job.target_limit > 0 && wanted.len() > job.target_limit).then(|| {
            format!(
                "target_limit exceeded (number of targets: {}, limit: {})",
                wanted.len(),
                job.target_limit
            )
        });
        // A loop's forced error is fixed at its start: restart when it changes.
        let restart_all = restart_all || pool.forced_error != forced_error;
        pool.forced_error = forced_error.clone();

        let mut gone = Vec::new();
        let old: Vec<u64> = pool.loops.keys().copied().collect();
        for hash in old {
            if restart_all || !wanted.contains_key(&hash) {
                gone.push(pool.loops.remove(&hash).expect("BUG: listed loop"));
            }
        }
        // Stop what goes, all at once (each finishes its scrape in flight);
        // keep the states and statuses of targets that come back changed.
        for l in &gone {
            l.cancel.cancel();
        }
        let wanted_labels: HashSet<&Labels> = wanted.values().map(|t| &t.labels).collect();
        let mut inherited: HashMap<Labels, (SeriesState, SharedStatus)> = HashMap::new();
        let mut stale_for = Vec::new();
        let stopped = futures_util::future::join_all(gone.into_iter().map(|l| async move {
            let result = l.handle.await;
            (l.target, l.status, result)
        }))
        .await;
        for (target, status, result) in stopped {
            match result {
                Ok(state) if wanted_labels.contains(&target.labels) => {
                    inherited.insert(target.labels.clone(), (state, status));
                }
                Ok(state) => stale_for.push((target, state)),
                Err(e) => tracing::error!(job = %name, error = %e, "scrape loop panicked"),
            }
        }
        for (hash, target) in wanted {
            if pool.loops.contains_key(&hash) {
                continue;
            }
            let target = Arc::new(target);
            let prior = inherited.remove(&target.labels);
            let running =
                start_loop(&job, target, prior, &self.sink, &self.metrics, forced_error.clone());
            pool.loops.insert(hash, running);
        }
        let job_name = job.name.clone();
        for (target, mut state) in stale_for {
            send_stale(&self.sink, &job_name, &target, &mut state).await;
        }
        self.metrics
            .targets
            .get_or_create(&TargetStateLabels { job: name.to_owned(), state: "active".into() })
            .set(pool.loops.len() as i64);
        self.metrics
            .targets
            .get_or_create(&TargetStateLabels { job: name.to_owned(), state: "dropped".into() })
            .set(pool.dropped.len() as i64);
    }

    async fn stop_loops(
        &self,
        job: &Arc<str>,
        loops: impl IntoIterator<Item = RunningLoop>,
        stale: bool,
    ) {
        let loops: Vec<RunningLoop> = loops.into_iter().collect();
        for l in &loops {
            l.cancel.cancel();
        }
        for l in loops {
            match l.handle.await {
                Ok(mut state) if stale => {
                    send_stale(&self.sink, job, &l.target, &mut state).await;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scrape loop panicked"),
            }
        }
    }

    fn publish(&self) {
        let mut view = TargetsView::default();
        let mut names: Vec<&String> = self.pools.keys().collect();
        names.sort();
        for name in names {
            let pool = &self.pools[name];
            let mut active: Vec<ActiveTarget> = pool
                .loops
                .values()
                .map(|l| ActiveTarget {
                    job: pool.job.name.clone(),
                    target: l.target.clone(),
                    status: l.status.clone(),
                })
                .collect();
            active.sort_by(|a, b| a.target.labels.cmp(&b.target.labels));
            view.active.extend(active);
            view.dropped.extend(pool.dropped.iter().map(|d| (pool.job.name.clone(), d.clone())));
        }
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = view;
    }
}

fn start_loop(
    job: &Arc<ScrapeJob>,
    target: Arc<Target>,
    prior: Option<(SeriesState, SharedStatus)>,
    sink: &mpsc::Sender<ScrapeBatch>,
    metrics: &ScrapeMetrics,
    forced_error: Option<String>,
) -> RunningLoop {
    let settings = SeriesSettings {
        target_labels: target.labels.clone(),
        honor_labels: job.honor_labels,
        honor_timestamps: job.honor_timestamps,
        track_timestamps_staleness: job.track_timestamps_staleness,
        metric_relabel: job.metric_relabel.clone(),
        limits: job.limits,
    };
    let mut state = SeriesState::new(settings);
    // A restarted target keeps its staleness state and its status (health,
    // last scrape) across the restart.
    let status = match prior {
        Some((old, status)) => {
            state.inherit(old);
            status
        }
        None => SharedStatus::default(),
    };
    let ctx = LoopContext {
        job: job.name.clone(),
        target: target.clone(),
        fetcher: job.fetcher.clone(),
        buffers: job.buffers.clone(),
        sink: sink.clone(),
        status: status.clone(),
        metrics: metrics.clone(),
        forced_error,
    };
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(worker::run(ctx, state, cancel.clone()));
    RunningLoop { target, status, cancel, handle }
}

/// Writes the stale markers of a target that went away.
async fn send_stale(
    sink: &mpsc::Sender<ScrapeBatch>,
    job: &Arc<str>,
    target: &Arc<Target>,
    state: &mut SeriesState,
) {
    let mut samples = Vec::new();
    state.end(worker::now_ms(), &mut samples);
    let batch = ScrapeBatch {
        job: job.clone(),
        target: Arc::new(target.labels.clone()),
        samples,
        done: None,
    };
    if sink.send(batch).await.is_err() {
        tracing::warn!(job = %job, target = %target.labels, "stale markers not delivered: the sink is closed");
    }
}
