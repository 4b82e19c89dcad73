//! `kubernetes_sd_configs`: targets from the Kubernetes API, built on
//! `kube` and `kube-runtime` watchers.
//!
//! - [`targets`] and [`targets_endpoints`]: the pure part, objects in,
//!   target groups with Prometheus 2.42's `__meta_kubernetes_*` labels out.
//! - [`hub`]: watches shared across providers (one per identical API
//!   server, resource, namespace and selectors), each a reflector store fed
//!   by a watcher (list with `resourceVersion=0`, then watch from the last
//!   resourceVersion; relist on 410 Gone; backoff on errors; bookmarks).
//! - [`client`]: the API server connection (in-cluster, `api_server`,
//!   `kubeconfig_file`).
//!
//! A [`KubernetesProvider`] waits until every watch it needs has listed,
//! sends its full list of groups, then sends it again after every change any
//! of them reports. Groups are sorted by source. What a role watches:
//! node: nodes; pod: pods (+ nodes with `attach_metadata.node`); service:
//! services; endpoints: endpoints, services and pods of the same namespaces
//! (+ nodes); endpointslice: endpointslices, services, pods (+ nodes);
//! ingress: ingresses.

mod cache;
pub mod client;
pub mod hub;
pub mod targets;
pub mod targets_endpoints;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::NamespaceResourceScope;
use kube::Api;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use crate::config::kubernetes::Role;
pub use client::ApiServer;
pub use hub::{KubeHub, KubeMetrics};

use super::{Provider, TargetGroup};
use hub::{Object, SharedWatch, WatchKey};
use targets_endpoints::Joins;

/// How long to wait before building a client again after it failed.
const CLIENT_RETRY: Duration = Duration::from_secs(10);

/// How long a provider gathers watch events before rebuilding its groups
/// (the discovery manager then gathers for its own `COALESCE`): an event
/// reaches the scrape stage in about a quarter of a second.
const COALESCE: Duration = Duration::from_millis(50);

/// The runtime form of one `kubernetes_sd_configs` entry (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct KubernetesSdConfig {
    pub role: Role,
    pub server: ApiServer,
    /// Namespaces to watch; all when empty and not `own_namespace`.
    pub namespaces: Vec<String>,
    /// Also watch the namespace of the service account (in-cluster).
    pub own_namespace: bool,
    /// (label selector, field selector) per role.
    pub selectors: BTreeMap<Role, (String, String)>,
    /// `attach_metadata.node`.
    pub attach_node: bool,
}

impl KubernetesSdConfig {
    /// From a loaded (validated) config entry.
    pub fn from_config(c: &crate::config::KubernetesSdConfig) -> Self {
        let server = match (&c.api_server, &c.kubeconfig_file) {
            (Some(url), _) => {
                ApiServer::Url { url: url.clone(), http: Box::new(c.http_client.clone()) }
            }
            (None, Some(file)) if !file.as_os_str().is_empty() => {
                ApiServer::Kubeconfig(file.clone())
            }
            _ => ApiServer::InCluster,
        };
        KubernetesSdConfig {
            role: c.role.expect("BUG: role checked at load"),
            server,
            namespaces: c.namespaces.names.clone(),
            own_namespace: c.namespaces.own_namespace,
            selectors: (c.selectors.iter())
                .map(|s| (s.role, (s.label.clone(), s.field.clone())))
                .collect(),
            attach_node: c.attach_metadata.node,
        }
    }

    fn selector(&self, role: Role) -> (String, String) {
        self.selectors.get(&role).cloned().unwrap_or_default()
    }
}

/// Discovers the targets of one `kubernetes_sd_configs` entry.
#[derive(Debug)]
pub struct KubernetesProvider {
    config: KubernetesSdConfig,
    hub: KubeHub,
}

impl KubernetesProvider {
    pub fn new(config: KubernetesSdConfig, hub: KubeHub) -> Self {
        KubernetesProvider { config, hub }
    }
}

impl Provider for KubernetesProvider {
    async fn run(self, tx: mpsc::Sender<Vec<TargetGroup>>, cancel: CancellationToken) {
        let (server, client) = loop {
            match self.hub.client(&self.config.server).await {
                Ok(found) => break found,
                Err(e) => tracing::error!(error = %e, "kubernetes_sd: no API client, retrying"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(CLIENT_RETRY) => {}
            }
        };
        let watches = Watches::start(&self.hub, server, &client, &self.config);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = watches.ready() => {}
        }
        let mut changes = watches.changes();
        let mut cache = cache::GroupCache::default();
        loop {
            let groups = watches.groups(&self.config, &mut cache);
            tokio::select! {
                _ = cancel.cancelled() => return,
                sent = tx.send(groups) => if sent.is_err() { return },
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = any_changed(&mut changes) => {}
            }
            // Gather a burst of events into one rebuild.
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(COALESCE) => {}
            }
        }
    }
}

/// Waits until one of the receivers sees a change.
async fn any_changed(changes: &mut [watch::Receiver<u64>]) {
    let waits = changes.iter_mut().map(|rx| Box::pin(rx.changed()));
    let (result, _, _) = futures_util::future::select_all(waits).await;
    if result.is_err() {
        // A watch task ended (it does not, while we hold it): avoid spinning.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The node a pod field selector pins (`spec.nodeName=NAME`), if any.
fn own_node(field_selector: &str) -> Option<&str> {
    field_selector.split(',').find_map(|term| {
        let (key, value) = term.split_once("==").or_else(|| term.split_once('='))?;
        (key.trim() == "spec.nodeName" && !key.ends_with('!')).then_some(value.trim())
    })
}

/// The watches one provider reads.
#[derive(Default)]
struct Watches {
    nodes: Vec<Arc<SharedWatch<Node>>>,
    pods: Vec<Arc<SharedWatch<Pod>>>,
    services: Vec<Arc<SharedWatch<Service>>>,
    endpoints: Vec<Arc<SharedWatch<Endpoints>>>,
    slices: Vec<Arc<SharedWatch<EndpointSlice>>>,
    ingresses: Vec<Arc<SharedWatch<Ingress>>>,
}

/// Watches of one resource in each namespace (`None`: all).
fn per_namespace<K>(
    hub: &KubeHub,
    server: usize,
    client: &kube::Client,
    namespaces: &[Option<String>],
    (resource, (label, field)): (&'static str, (String, String)),
) -> Vec<Arc<SharedWatch<K>>>
where
    K: Object + kube::Resource<Scope = NamespaceResourceScope>,
{
    let watch = |ns: &Option<String>| {
        let key = WatchKey {
            server,
            resource,
            namespace: ns.clone(),
            label: label.clone(),
            field: field.clone(),
        };
        hub.watch(key, || match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        })
    };
    namespaces.iter().map(watch).collect()
}

impl Watches {
    fn start(hub: &KubeHub, server: usize, client: &kube::Client, c: &KubernetesSdConfig) -> Self {
        let mut names: Vec<Option<String>> = c.namespaces.iter().cloned().map(Some).collect();
        if c.own_namespace {
            names.push(Some(client.default_namespace().to_owned()));
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            names.push(None);
        }
        let ns = &names;
        let mut w = Watches::default();
        let node_selector = match c.role {
            Role::Node => c.selector(Role::Node),
            // Node metadata for pods of one node (DaemonSet mode) needs only
            // that node: watch it alone rather than every node.
            _ => match own_node(&c.selector(Role::Pod).1) {
                Some(node) => (String::new(), format!("metadata.name={node}")),
                None => Default::default(),
            },
        };
        if c.role == Role::Node
            || c.attach_node && c.role != Role::Service && c.role != Role::Ingress
        {
            let (label, field) = node_selector;
            let key = WatchKey { server, resource: "nodes", namespace: None, label, field };
            w.nodes.push(hub.watch(key, || Api::<Node>::all(client.clone())));
        }
        let sel = |role: Role, resource| (resource, c.selector(role));
        match c.role {
            Role::Node => {}
            Role::Pod => w.pods = per_namespace(hub, server, client, ns, sel(Role::Pod, "pods")),
            Role::Service => {
                w.services = per_namespace(hub, server, client, ns, sel(Role::Service, "services"))
            }
            Role::Ingress => {
                w.ingresses =
                    per_namespace(hub, server, client, ns, sel(Role::Ingress, "ingresses"))
            }
            Role::Endpoints | Role::EndpointSlice => {
                w.pods = per_namespace(hub, server, client, ns, sel(Role::Pod, "pods"));
                w.services = per_namespace(hub, server, client, ns, sel(Role::Service, "services"));
                if c.role == Role::Endpoints {
                    let s = sel(Role::Endpoints, "endpoints");
                    w.endpoints = per_namespace(hub, server, client, ns, s);
                } else {
                    let s = sel(Role::EndpointSlice, "endpointslices");
                    w.slices = per_namespace(hub, server, client, ns, s);
                }
            }
        }
        w
    }

    async fn ready(&self) {
        async fn all<K: Object>(ws: &[Arc<SharedWatch<K>>]) {
            for w in ws {
                w.ready().await;
            }
        }
        tokio::join!(
            all(&self.nodes),
            all(&self.pods),
            all(&self.services),
            all(&self.endpoints),
            all(&self.slices),
            all(&self.ingresses),
        );
    }

    fn changes(&self) -> Vec<watch::Receiver<u64>> {
        fn of<K: Object>(
            ws: &[Arc<SharedWatch<K>>],
        ) -> impl Iterator<Item = watch::Receiver<u64>> + '_ {
            ws.iter().map(|w| {
                let mut rx = w.changes();
                rx.mark_unchanged();
                rx
            })
        }
        of(&self.nodes)
            .chain(of(&self.pods))
            .chain(of(&self.services))
            .chain(of(&self.endpoints))
            .chain(of(&self.slices))
            .chain(of(&self.ingresses))
            .collect()
    }

    /// The provider's full list of groups from the stores' current state.
    fn groups(&self, c: &KubernetesSdConfig, cache: &mut cache::GroupCache) -> Vec<TargetGroup> {
        fn state<K: Object>(ws: &[Arc<SharedWatch<K>>]) -> Vec<Arc<K>> {
            ws.iter().flat_map(|w| w.store.state()).collect()
        }
        let nodes = state(&self.nodes);
        let node_index = || -> targets::NodeIndex {
            nodes.iter().map(|n| (targets::name_of(&n.metadata), &**n)).collect()
        };
        let attach = (c.attach_node && c.role != Role::Node).then(node_index);
        let mut groups: Vec<TargetGroup> = match c.role {
            Role::Node => (nodes.iter())
                .filter_map(|n| cache.group(&n.metadata, &[], || targets::node_group(n)))
                .collect(),
            Role::Pod => (state(&self.pods).iter())
                .filter_map(|p| {
                    let node = attach.as_ref().map(|nodes| {
                        let name = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
                        let node = name.and_then(|n| nodes.get(n));
                        node.and_then(|n| n.metadata.resource_version.as_deref())
                    });
                    let build = || Some(targets::pod_group(p, attach.as_ref()));
                    cache.group(&p.metadata, &[node.flatten()], build)
                })
                .collect(),
            Role::Service => (state(&self.services).iter())
                .filter_map(|s| cache.group(&s.metadata, &[], || Some(targets::service_group(s))))
                .collect(),
            Role::Ingress => (state(&self.ingresses).iter())
                .filter_map(|i| cache.group(&i.metadata, &[], || Some(targets::ingress_group(i))))
                .collect(),
            Role::Endpoints | Role::EndpointSlice => {
                let pods = state(&self.pods);
                let services = state(&self.services);
                let joins =
                    Joins::new(pods.iter().map(|p| &**p), services.iter().map(|s| &**s), attach);
                if c.role == Role::Endpoints {
                    let eps = state(&self.endpoints);
                    eps.iter().map(|e| targets_endpoints::endpoints_group(e, &joins)).collect()
                } else {
                    let eps = state(&self.slices);
                    eps.iter().map(|e| targets_endpoints::endpointslice_group(e, &joins)).collect()
                }
            }
        };
        cache.finish();
        groups.sort_by(|a, b| a.source.cmp(&b.source));
        groups
    }
}

#[cfg(test)]
mod targets_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_field_selector_on_spec_node_name_pins_the_node() {
        assert_eq!(own_node("spec.nodeName=node-a"), Some("node-a"));
        assert_eq!(own_node("status.phase=Running,spec.nodeName==n2"), Some("n2"));
        assert_eq!(own_node("spec.nodeName!=node-a"), None);
        assert_eq!(own_node("metadata.name=x"), None);
        assert_eq!(own_node(""), None);
    }

    #[test]
    fn the_api_server_follows_the_config() {
        let load = |entry: &str| {
            let yaml =
                format!("scrape_configs:\n- job_name: j\n  kubernetes_sd_configs:\n  - {entry}\n");
            let loaded = crate::config::load_str(&yaml, "/etc/tern/p.yml").expect("loads");
            KubernetesSdConfig::from_config(
                &loaded.config.scrape_configs[0].kubernetes_sd_configs[0],
            )
        };
        assert_eq!(load("{role: pod}").server, ApiServer::InCluster);
        let kc = load("{role: node, kubeconfig_file: kc.yml}");
        assert_eq!(
            kc.server,
            ApiServer::Kubeconfig("/etc/tern/kc.yml".into()),
            "relative to the config"
        );
        let url = load("{role: service, api_server: 'http://a:1', namespaces: {names: [x]}, selectors: [{role: service, label: a=b}]}");
        assert!(matches!(url.server, ApiServer::Url { ref url, .. } if url == "http://a:1"));
        assert_eq!(url.namespaces, ["x"]);
        assert_eq!(url.selectors[&Role::Service], ("a=b".to_owned(), String::new()));
        assert!(!url.attach_node);
    }
}
