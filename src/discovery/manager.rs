//! The discovery manager: runs the providers of each job and publishes the
//! groups of all jobs.
//!
//! Output: a `watch::Receiver<Arc<DiscoveredTargets>>`. Each value is the FULL
//! state: every configured job (also those without targets yet) mapped to its
//! groups, the lists of its providers concatenated in config order. Consumers
//! compare with what they run; a job missing from the map is stopped. `watch`
//! may skip intermediate values, which is harmless for full states.
//!
//! Reload ([`Manager::apply`]): a job whose provider configs are equal to the
//! running ones is left untouched (its providers keep running and send
//! nothing); a changed job is restarted, and its previous groups stay published
//! until each new provider has sent its first list, so that a reload does not
//! make its targets blink; a removed job is stopped and leaves the map.
//!
//! Stale updates: each start of a job gets a new generation; a list from a
//! provider of an older generation (sent just before it saw its cancellation) is
//! dropped.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    AnyProvider, DiscoveryMetrics, FileSdError, FileSdStatus, JobLabel, KubeHub, Provider,
    ProviderConfig, TargetGroup,
};

/// Job name -> its groups. See the module docs.
pub type DiscoveredTargets = HashMap<String, Vec<TargetGroup>>;

/// How long the publisher gathers updates before publishing (bursts of file
/// writes, many providers starting at once).
pub const COALESCE: Duration = Duration::from_millis(100);

/// Runs providers per job; see the module docs. Create inside a tokio runtime.
/// Dropping it cancels everything; [`Manager::shutdown`] also waits.
pub struct Manager {
    shared: Arc<Shared>,
    metrics: DiscoveryMetrics,
    /// Kubernetes watches shared by all jobs.
    kube: KubeHub,
    root: CancellationToken,
    jobs: HashMap<String, RunningJob>,
    next_generation: u64,
    publisher: Option<JoinHandle<()>>,
}

struct RunningJob {
    configs: Vec<ProviderConfig>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    file_status: Vec<FileSdStatus>,
}

/// State shared by the provider tasks and the publisher.
struct Shared {
    jobs: Mutex<HashMap<String, JobState>>,
    dirty: Notify,
}

struct JobState {
    generation: u64,
    /// The last list of each provider; `None` until it sent one.
    lists: Vec<Option<Vec<TargetGroup>>>,
    /// The groups of the job's previous start, shown until every provider of
    /// this start has reported.
    previous: Option<Vec<TargetGroup>>,
}

impl JobState {
    fn groups(&self) -> Vec<TargetGroup> {
        if let Some(previous) = &self.previous {
            return previous.clone();
        }
        self.lists.iter().flatten().flatten().cloned().collect()
    }
}

/// Where a provider's lists go.
#[derive(Clone)]
struct Slot {
    job: Arc<str>,
    generation: u64,
    index: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, JobState>> {
        // The map stays valid if a holder panicked: keep using it.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a provider's list unless it comes from a stopped start.
    fn update(&self, slot: &Slot, groups: Vec<TargetGroup>, metrics: &DiscoveryMetrics) {
        {
            let mut jobs = self.lock();
            let Some(job) = jobs.get_mut(&*slot.job) else { return };
            if job.generation != slot.generation {
                return;
            }
            job.lists[slot.index] = Some(groups);
            if job.lists.iter().all(Option::is_some) {
                job.previous = None;
            }
            // Under the lock, so that a job being removed cannot get its series back.
            metrics.updates.get_or_create(&JobLabel::new(&slot.job)).inc();
        }
        self.dirty.notify_one();
    }

    fn snapshot(&self) -> DiscoveredTargets {
        self.lock().iter().map(|(job, state)| (job.clone(), state.groups())).collect()
    }
}

impl Manager {
    /// A manager with no jobs, and the receiver of its published state (the
    /// empty map until the first [`Manager::apply`]).
    pub fn new(metrics: DiscoveryMetrics) -> (Manager, watch::Receiver<Arc<DiscoveredTargets>>) {
        let (tx, rx) = watch::channel(Arc::new(DiscoveredTargets::new()));
        let shared = Arc::new(Shared { jobs: Mutex::default(), dirty: Notify::new() });
        let root = CancellationToken::new();
        let publisher =
            tokio::spawn(publish_loop(shared.clone(), tx, metrics.clone(), root.clone()));
        let kube = KubeHub::new(metrics.kube.clone());
        let manager = Manager {
            shared,
            metrics,
            kube,
            root,
            jobs: HashMap::new(),
            next_generation: 0,
            publisher: Some(publisher),
        };
        (manager, rx)
    }

    /// Makes the running jobs those of `configs` (job name, its providers):
    /// starts new jobs, restarts changed ones, stops removed ones and leaves
    /// unchanged ones alone. Returns once the stopped providers have returned;
    /// the new state is in place before the first `.await`, so dropping the
    /// future early is harmless. A job name given twice: the last entry wins.
    pub async fn apply(&mut self, configs: Vec<(String, Vec<ProviderConfig>)>) {
        let mut wanted: HashMap<String, Vec<ProviderConfig>> = HashMap::new();
        for (job, providers) in configs {
            if wanted.insert(job.clone(), providers).is_some() {
                tracing::warn!(job, "discovery: job configured twice, the last one wins");
            }
        }
        let mut stopped = Vec::new();
        let removed: Vec<String> =
            self.jobs.keys().filter(|j| !wanted.contains_key(*j)).cloned().collect();
        for job in removed {
            stopped.push(self.stop(&job));
            self.shared.lock().remove(&job);
            self.metrics.forget_job(&job);
            tracing::info!(job, "discovery: job stopped");
        }
        for (job, providers) in wanted {
            match self.jobs.get(&job) {
                Some(running) if running.configs == providers => continue,
                Some(_) => {
                    stopped.push(self.stop(&job));
                    tracing::info!(job, "discovery: job restarted (providers changed)");
                }
                None => tracing::info!(job, "discovery: job started"),
            }
            self.start(job, providers);
        }
        self.shared.dirty.notify_one();
        for task in stopped.into_iter().flatten() {
            // A panicking provider has already been reported by tokio.
            let _ = task.await;
        }
    }

    /// The current file_sd errors of every job: (job, last error of a file or pattern).
    pub fn file_sd_errors(&self) -> Vec<(String, FileSdError)> {
        let mut out = Vec::new();
        for (job, running) in &self.jobs {
            for status in &running.file_status {
                out.extend(status.errors().into_iter().map(|e| (job.clone(), e)));
            }
        }
        out.sort_by(|a, b| (&a.0, a.1.path()).cmp(&(&b.0, b.1.path())));
        out
    }

    /// The Kubernetes watches shared by this manager's jobs.
    pub fn kube(&self) -> &KubeHub {
        &self.kube
    }

    /// The last error of `path` in `job`'s file_sd providers, if its last read failed.
    pub fn file_sd_error(&self, job: &str, path: &Path) -> Option<FileSdError> {
        self.jobs.get(job)?.file_status.iter().find_map(|s| s.error(path))
    }

    /// Cancels every provider and the publisher, and waits for them. The
    /// receivers then see the channel closed (an update still being coalesced
    /// is not published).
    pub async fn shutdown(mut self) {
        self.root.cancel();
        let jobs: Vec<String> = self.jobs.keys().cloned().collect();
        for job in jobs {
            for task in self.stop(&job) {
                let _ = task.await;
            }
        }
        if let Some(publisher) = self.publisher.take() {
            let _ = publisher.await;
        }
    }

    /// Cancels a running job; returns its tasks to wait for. The job's
    /// published state is left to the caller.
    fn stop(&mut self, job: &str) -> Vec<JoinHandle<()>> {
        let Some(running) = self.jobs.remove(job) else { return Vec::new() };
        running.cancel.cancel();
        running.tasks
    }

    fn start(&mut self, job: String, configs: Vec<ProviderConfig>) {
        let generation = self.next_generation;
        self.next_generation += 1;
        {
            let mut jobs = self.shared.lock();
            let previous = jobs.get(&job).map(JobState::groups);
            let lists = vec![None; configs.len()];
            let previous = previous.filter(|_| !configs.is_empty());
            jobs.insert(job.clone(), JobState { generation, lists, previous });
        }
        let cancel = self.root.child_token();
        let mut tasks = Vec::with_capacity(configs.len());
        let mut file_status = Vec::new();
        let name: Arc<str> = Arc::from(job.as_str());
        for (index, config) in configs.iter().enumerate() {
            let provider = AnyProvider::new(config.clone(), &self.metrics, &self.kube);
            if let AnyProvider::File(p) = &provider {
                file_status.push(p.status());
            }
            let slot = Slot { job: name.clone(), generation, index };
            tasks.push(tokio::spawn(drive(
                provider,
                slot,
                self.shared.clone(),
                self.metrics.clone(),
                cancel.clone(),
            )));
        }
        self.jobs.insert(job, RunningJob { configs, cancel, tasks, file_status });
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.root.cancel();
    }
}

/// Runs one provider and stores what it sends, until it returns.
async fn drive(
    provider: AnyProvider,
    slot: Slot,
    shared: Arc<Shared>,
    metrics: DiscoveryMetrics,
    cancel: CancellationToken,
) {
    let (tx, mut rx) = mpsc::channel(1);
    let forward = async {
        // Ends when the provider returns and drops its sender.
        while let Some(groups) = rx.recv().await {
            shared.update(&slot, groups, &metrics);
        }
    };
    // Logs of the provider carry the job.
    let span = tracing::info_span!("discovery", job = %slot.job);
    tokio::join!(provider.run(tx, cancel).instrument(span), forward);
}

/// Publishes the shared state after each burst of updates.
async fn publish_loop(
    shared: Arc<Shared>,
    tx: watch::Sender<Arc<DiscoveredTargets>>,
    metrics: DiscoveryMetrics,
    cancel: CancellationToken,
) {
    let mut published_jobs: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.dirty.notified() => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(COALESCE) => {}
        }
        let snapshot = shared.snapshot();
        for job in published_jobs.iter().filter(|j| !snapshot.contains_key(*j)) {
            metrics.targets.remove(&JobLabel::new(job));
        }
        for (job, groups) in &snapshot {
            let n: usize = groups.iter().map(|g| g.targets.len()).sum();
            metrics.targets.get_or_create(&JobLabel::new(job)).set(n as i64);
        }
        published_jobs = snapshot.keys().cloned().collect();
        tx.send_if_modified(|current| {
            if **current == snapshot {
                return false;
            }
            *current = Arc::new(snapshot);
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::StaticConfig;
    use crate::labels::Labels;

    fn static_job(job: &str, targets: &[&str]) -> (String, Vec<ProviderConfig>) {
        let config = StaticConfig {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            labels: Labels::new(),
        };
        (job.to_owned(), vec![ProviderConfig::Static(vec![config])])
    }

    fn addresses(state: &DiscoveredTargets, job: &str) -> Option<Vec<String>> {
        let groups = state.get(job)?;
        let targets = groups.iter().flat_map(|g| &g.targets);
        Some(targets.map(|t| t.get("__address__").unwrap().to_owned()).collect())
    }

    async fn next(rx: &mut watch::Receiver<Arc<DiscoveredTargets>>) -> Arc<DiscoveredTargets> {
        tokio::time::timeout(Duration::from_secs(5), rx.changed())
            .await
            .expect("a publish within 5s")
            .expect("manager alive");
        rx.borrow_and_update().clone()
    }

    #[tokio::test]
    async fn publishes_static_jobs_and_counts_targets() {
        let metrics = DiscoveryMetrics::default();
        let (mut m, mut rx) = Manager::new(metrics.clone());
        m.apply(vec![static_job("a", &["a:1", "a:2"]), static_job("b", &[])]).await;
        let state = next(&mut rx).await;
        assert_eq!(addresses(&state, "a").unwrap(), ["a:1", "a:2"]);
        assert_eq!(addresses(&state, "b").unwrap(), Vec::<String>::new());
        assert_eq!(metrics.targets("a"), Some(2));
        assert_eq!(metrics.targets("b"), Some(0));
        m.shutdown().await;
        assert!(rx.changed().await.is_err(), "closed after shutdown");
    }

    #[tokio::test]
    async fn restarted_job_keeps_previous_groups_until_its_new_providers_report() {
        let shared = Shared { jobs: Mutex::default(), dirty: Notify::new() };
        let old = vec![TargetGroup::from_addresses("0".into(), ["old:1"], Labels::new())];
        let slot = |generation, index| Slot { job: "j".into(), generation, index };
        shared.lock().insert(
            "j".into(),
            JobState { generation: 7, lists: vec![None, None], previous: Some(old.clone()) },
        );
        let metrics = DiscoveryMetrics::default();
        let new = vec![TargetGroup::from_addresses("0".into(), ["new:1"], Labels::new())];
        shared.update(&slot(7, 0), new.clone(), &metrics);
        assert_eq!(shared.snapshot()["j"], old, "one of two providers reported");
        shared.update(&slot(6, 1), Vec::new(), &metrics);
        assert_eq!(shared.snapshot()["j"], old, "stale generation ignored");
        shared.update(&slot(7, 1), Vec::new(), &metrics);
        assert_eq!(shared.snapshot()["j"], new);
        assert_eq!(metrics.updates("j"), Some(2));
    }
}
