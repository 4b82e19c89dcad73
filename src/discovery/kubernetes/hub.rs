//! Shared watches: one kube-runtime watcher (list, then watch) per identical
//! (API server, resource, namespace, label selector, field selector), shared
//! by every provider that needs it, across jobs and scrape configs.
//!
//! A [`SharedWatch`] owns a reflector store and a task that feeds it from
//! `kube_runtime::watcher` with the default backoff. The initial list and
//! every relist ask for `resourceVersion=0` (`any_semantic`), so the API
//! server answers from its watch cache rather than from etcd. A dropped
//! watch resumes from the last resourceVersion seen (events or bookmarks);
//! a 410 Gone makes the watcher relist, and the store swaps in the new list
//! only when it is complete, so targets do not blink.
//!
//! The hub keeps `Weak` references: the watch stops when its last provider
//! drops it. Clients are built once per distinct [`ApiServer`].

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, Weak};

use futures_util::{StreamExt, TryStreamExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client::{self, ApiServer, ClientError};

/// Identifies one watch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchKey {
    /// Index of the API server in the hub's client list.
    pub server: usize,
    /// The resource, e.g. `pods`.
    pub resource: &'static str,
    /// `None`: all namespaces (or a cluster-scoped resource).
    pub namespace: Option<String>,
    pub label: String,
    pub field: String,
}

/// The watches and clients shared by all Kubernetes providers of a
/// discovery manager. Cloning shares them.
#[derive(Clone, Default)]
pub struct KubeHub {
    inner: Arc<Mutex<HubState>>,
    metrics: KubeMetrics,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabel {
    resource: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    resource: String,
    event: String,
}

/// Kubernetes discovery's own metrics. `Default` gives unregistered ones.
#[derive(Debug, Clone, Default)]
pub struct KubeMetrics {
    watches: Gauge,
    lists: Family<ResourceLabel, Counter>,
    events: Family<EventLabels, Counter>,
    failures: Family<ResourceLabel, Counter>,
}

impl KubeMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "tern_discovery_kubernetes_watches",
            "Kubernetes watches running (each shared by every provider that needs it)",
            self.watches.clone(),
        );
        registry.register(
            "tern_discovery_kubernetes_lists",
            "Complete lists (initial and relists) received from the API server, per resource",
            self.lists.clone(),
        );
        registry.register(
            "tern_discovery_kubernetes_events",
            "Watch events applied (event=apply|delete), per resource",
            self.events.clone(),
        );
        registry.register(
            "tern_discovery_kubernetes_watch_failures",
            "Failed lists or watches (retried with backoff; an expired resourceVersion is not counted), per resource",
            self.failures.clone(),
        );
    }

    /// `tern_discovery_kubernetes_watches`.
    pub fn watches(&self) -> i64 {
        self.watches.get()
    }

    /// `tern_discovery_kubernetes_watch_failures_total{resource}`.
    pub fn watch_failures(&self, resource: &str) -> u64 {
        let label = ResourceLabel { resource: resource.to_owned() };
        self.failures.get(&label).map_or(0, |c| c.get())
    }

    /// `tern_discovery_kubernetes_lists_total{resource}`.
    pub fn lists(&self, resource: &str) -> u64 {
        self.lists.get(&ResourceLabel { resource: resource.to_owned() }).map_or(0, |c| c.get())
    }
}

#[derive(Default)]
struct HubState {
    clients: Vec<(ApiServer, kube::Client)>,
    watches: HashMap<WatchKey, Weak<dyn Any + Send + Sync>>,
    /// Watch tasks started so far (for tests and debugging).
    started: u64,
}

impl HubState {
    /// The client of `server` and its index, if built.
    fn client(&self, server: &ApiServer) -> Option<(usize, kube::Client)> {
        let i = self.clients.iter().position(|(s, _)| s == server)?;
        Some((i, self.clients[i].1.clone()))
    }
}

impl std::fmt::Debug for KubeHub {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("KubeHub")
    }
}

/// Bounds of the objects a watch can hold.
pub trait Object:
    kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

impl<K> Object for K where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// One running watch: its store and a counter bumped after each change.
pub struct SharedWatch<K: Object> {
    pub store: Store<K>,
    /// Changes applied to the store so far; 0 until the first list is in.
    changes: watch::Receiver<u64>,
    task: JoinHandle<()>,
    running: Gauge,
}

impl<K: Object> Drop for SharedWatch<K> {
    fn drop(&mut self) {
        self.task.abort();
        self.running.dec();
    }
}

impl<K: Object> SharedWatch<K> {
    /// A receiver that sees each change (after the store holds it).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Waits until the first list is in the store. (Not kube's
    /// `Store::wait_until_ready`: that wakes only one of several waiters.)
    pub async fn ready(&self) {
        let mut rx = self.changes.clone();
        // Err: the task ended, which it does not while the watch lives.
        let _ = rx.wait_for(|n| *n > 0).await;
    }
}

impl KubeHub {
    /// A hub counting into `metrics`.
    pub fn new(metrics: KubeMetrics) -> Self {
        KubeHub { inner: Arc::default(), metrics }
    }

    /// The client of `server` and its index, built on first use.
    pub async fn client(&self, server: &ApiServer) -> Result<(usize, kube::Client), ClientError> {
        if let Some(found) = self.lock().client(server) {
            return Ok(found);
        }
        let client = client::build(server).await?;
        let mut state = self.lock();
        // Another provider may have built one meanwhile: keep the first.
        if let Some(found) = state.client(server) {
            return Ok(found);
        }
        state.clients.push((server.clone(), client.clone()));
        Ok((state.clients.len() - 1, client))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watch tasks started since the hub was created.
    pub fn watches_started(&self) -> u64 {
        self.lock().started
    }

    /// The shared watch for `key`, started with `api` if none runs.
    pub fn watch<K: Object>(
        &self,
        key: WatchKey,
        api: impl FnOnce() -> Api<K>,
    ) -> Arc<SharedWatch<K>> {
        let mut state = self.lock();
        if let Some(existing) = state.watches.get(&key).and_then(Weak::upgrade) {
            if let Ok(w) = existing.downcast::<SharedWatch<K>>() {
                return w;
            }
        }
        let mut config = watcher::Config::default().any_semantic();
        // Without a page size the list is sent with resourceVersion=0 (kube
        // drops it from paginated lists), so the API server answers from its
        // watch cache, as Prometheus' informers ask.
        config.page_size = None;
        if !key.label.is_empty() {
            config = config.labels(&key.label);
        }
        if !key.field.is_empty() {
            config = config.fields(&key.field);
        }
        let (store, writer) = reflector::store();
        let (tx, rx) = watch::channel(0);
        let what = format!(
            "{}{}",
            key.resource,
            key.namespace.as_deref().map(|n| format!(" in {n}")).unwrap_or_default()
        );
        let metrics = (self.metrics.clone(), key.resource);
        let task = tokio::spawn(feed(api(), config, writer, tx, what, metrics));
        let running = self.metrics.watches.clone();
        running.inc();
        let shared = Arc::new(SharedWatch { store, changes: rx, task, running });
        let erased: Arc<dyn Any + Send + Sync> = shared.clone();
        state.watches.retain(|_, w| w.strong_count() > 0);
        state.watches.insert(key, Arc::downgrade(&erased));
        state.started += 1;
        shared
    }
}

/// Logs a failed list or watch by its consequence: an expired
/// resourceVersion is routine (a relist follows), refused access needs an
/// operator, anything else is retried. Returns false for the routine case.
fn log_failure(what: &str, e: &watcher::Error) -> bool {
    let status = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    };
    match status {
        Some(410) => {
            tracing::info!(watch = %what, "kubernetes resourceVersion expired, relisting");
            return false;
        }
        Some(401 | 403) => tracing::error!(
            watch = %what,
            error = %e,
            "kubernetes API refused access (check the credentials and RBAC: list and watch), retrying"
        ),
        _ => tracing::warn!(watch = %what, error = %e, "kubernetes watch failed, retrying"),
    }
    true
}

/// Runs the watcher into the store; bumps the counter after each change
/// that the store has applied (a complete relist counts as one).
async fn feed<K: Object>(
    api: Api<K>,
    config: watcher::Config,
    writer: reflector::store::Writer<K>,
    tx: watch::Sender<u64>,
    what: String,
    (metrics, resource): (KubeMetrics, &'static str),
) {
    let res = ResourceLabel { resource: resource.to_owned() };
    let event =
        |event: &str| EventLabels { resource: resource.to_owned(), event: event.to_owned() };
    let (applied, deleted) = (event("apply"), event("delete"));
    // The backoff sits after the store, past a filter that drops `Init` and
    // `InitApply`: kube's backoff resets on any event, and the watcher
    // emits `Init` before every list attempt, so failing lists would be
    // retried every second for ever instead of backing off to 30 s.
    let events = reflector::reflector(writer, watcher::watcher(api, config));
    let progress =
        |e: &Event<K>| std::future::ready(!matches!(e, Event::Init | Event::InitApply(_)));
    let stream = events.try_filter(progress).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(e @ (Event::Apply(_) | Event::Delete(_) | Event::InitDone)) => {
                let counter = match e {
                    Event::Apply(_) => metrics.events.get_or_create(&applied),
                    Event::Delete(_) => metrics.events.get_or_create(&deleted),
                    _ => metrics.lists.get_or_create(&res),
                };
                counter.inc();
                tx.send_modify(|n| *n += 1);
            }
            Ok(Event::Init | Event::InitApply(_)) => {}
            // Retried by the backoff; the store keeps its objects meanwhile.
            Err(e) => {
                if log_failure(&what, &e) {
                    metrics.failures.get_or_create(&res).inc();
                }
            }
        }
    }
}
