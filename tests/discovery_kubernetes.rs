//! Kubernetes discovery through the discovery manager, against a STAND-IN
//! Kubernetes API server (tests/support/k8s_standin.py, not a live cluster)
//! that speaks the real list/watch protocol on 127.0.0.1.
//!
//! Covered: each role's targets and meta labels against hand-written
//! expectations (Prometheus 2.42's documented labels for the same objects);
//! add, change and delete reaching the manager's output within 1 s; a
//! dropped watch resuming from the last resourceVersion without a relist; a
//! 410 Gone causing exactly one relist (with `resourceVersion=0`); one watch
//! shared by jobs with identical SD configs; DaemonSet mode (a field
//! selector from `$(NODE_NAME)`). Every wait is bounded.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use support::k8s_standin::K8sStandin;
use tern::discovery::kubernetes::KubernetesSdConfig;
use tern::discovery::{DiscoveredTargets, DiscoveryMetrics, Manager, ProviderConfig};
use tokio::sync::watch;
use tokio::time::Instant;

/// Long enough for three backoffs with full jitter (at most 11.2 s).
const WAIT: Duration = Duration::from_secs(20);
/// The brief's bound from a watch event to the discovery output.
const WITHIN: Duration = Duration::from_secs(1);

/// SD configs from YAML entries, loaded as a user's file would be.
fn sd_configs(
    entries: &[(&str, String)],
    env: &[(&str, &str)],
) -> Vec<(String, KubernetesSdConfig)> {
    let mut yaml = String::from("scrape_configs:\n");
    for (job, entry) in entries {
        yaml.push_str(&format!("  - job_name: {job}\n    kubernetes_sd_configs:\n"));
        for (i, line) in entry.lines().enumerate() {
            yaml.push_str(if i == 0 { "      - " } else { "        " });
            yaml.push_str(line);
            yaml.push('\n');
        }
    }
    let env: BTreeMap<String, String> =
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let loaded = tern::config::load_str_with_env(&yaml, "test.yml", &|n| env.get(n).cloned())
        .unwrap_or_else(|e| panic!("config loads: {e}\n{yaml}"));
    loaded
        .config
        .scrape_configs
        .iter()
        .map(|j| (j.job_name.clone(), KubernetesSdConfig::from_config(&j.kubernetes_sd_configs[0])))
        .collect()
}

fn entry(api: &K8sStandin, role: &str, extra: &str) -> String {
    format!("role: {role}\napi_server: {}\n{extra}", api.url())
}

struct Discovery {
    manager: Manager,
    rx: watch::Receiver<Arc<DiscoveredTargets>>,
    metrics: DiscoveryMetrics,
}

impl Discovery {
    async fn start(jobs: Vec<(String, KubernetesSdConfig)>) -> Discovery {
        let metrics = DiscoveryMetrics::default();
        let (mut manager, rx) = Manager::new(metrics.clone());
        let jobs =
            jobs.into_iter().map(|(j, c)| (j, vec![ProviderConfig::Kubernetes(c)])).collect();
        manager.apply(jobs).await;
        Discovery { manager, rx, metrics }
    }

    /// Waits until `want` holds for the published state; returns it and how
    /// long it took.
    async fn wait(
        &mut self,
        what: &str,
        want: impl Fn(&DiscoveredTargets) -> bool,
    ) -> (Arc<DiscoveredTargets>, Duration) {
        let start = Instant::now();
        let deadline = start + WAIT;
        loop {
            let state = self.rx.borrow_and_update().clone();
            if want(&state) {
                return (state, start.elapsed());
            }
            match tokio::time::timeout_at(deadline, self.rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => panic!("manager gone waiting for {what}"),
                Err(_) => panic!("timed out after {WAIT:?} waiting for {what}; state: {state:#?}"),
            }
        }
    }
}

/// Every target of `job` as its full label set (group labels, then target
/// labels on top), sorted by address.
fn targets(state: &DiscoveredTargets, job: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    for g in state.get(job).map(Vec::as_slice).unwrap_or_default() {
        for t in &g.targets {
            let mut all: BTreeMap<String, String> =
                g.labels.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect();
            all.extend(t.iter().map(|l| (l.name.to_owned(), l.value.to_owned())));
            out.push(all);
        }
    }
    out.sort_by(|a, b| a["__address__"].cmp(&b["__address__"]));
    out
}

fn addresses(state: &DiscoveredTargets, job: &str) -> Vec<String> {
    targets(state, job).into_iter().map(|t| t["__address__"].clone()).collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

// ------------------------------------------------------------ fixtures

fn node(name: &str, ip: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"providerID": format!("aws:///eu-west-1a/{name}")},
        "status": {
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
        }
    })
}

fn pod(ns: &str, name: &str, node: &str, ip: &str, port: Option<u16>) -> Value {
    let ports = match port {
        Some(p) => json!([{"name": "metrics", "containerPort": p, "protocol": "TCP"}]),
        None => json!(null),
    };
    json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"),
                     "labels": {"app": "web"}, "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1", "ports": ports}]},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "192.168.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

fn pod_meta(ns: &str, name: &str, node: &str, ip: &str) -> Vec<(String, String)> {
    [
        ("__meta_kubernetes_pod_name", name),
        ("__meta_kubernetes_pod_ip", ip),
        ("__meta_kubernetes_pod_ready", "true"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_node_name", node),
        ("__meta_kubernetes_pod_host_ip", "192.168.0.1"),
        ("__meta_kubernetes_pod_uid", &format!("uid-{name}")),
        ("__meta_kubernetes_pod_label_app", "web"),
        ("__meta_kubernetes_pod_labelpresent_app", "true"),
        ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
        ("__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape", "true"),
        ("__meta_kubernetes_namespace", ns),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn cluster(api: &K8sStandin) {
    api.apply("nodes", node("node-a", "10.1.0.1")).await;
    api.apply("pods", pod("default", "web-1", "node-a", "10.0.0.5", Some(8080))).await;
    api.apply("pods", pod("default", "idle", "node-a", "10.0.0.6", None)).await;
    api.apply(
        "services",
        json!({
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        }),
    )
    .await;
    api.apply("endpoints", json!({
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{
            "addresses": [{"ip": "10.0.0.5", "nodeName": "node-a",
                           "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }]
    }))
    .await;
    api.apply(
        "endpointslices",
        json!({
            "metadata": {"name": "web-abc", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true},
                           "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }),
    )
    .await;
    api.apply("ingresses", json!({
        "metadata": {"name": "site", "namespace": "default"},
        "spec": {"tls": [{"hosts": ["web.example.com"]}],
                 "rules": [{"host": "web.example.com", "http": {"paths": [
                     {"path": "/app", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_yields_prometheus_targets_and_meta_labels() {
    let api = K8sStandin::start();
    cluster(&api).await;
    let roles = ["node", "pod", "service", "endpoints", "endpointslice", "ingress"];
    let entries: Vec<(&str, String)> = roles.iter().map(|r| (*r, entry(&api, r, ""))).collect();
    let mut d = Discovery::start(sd_configs(&entries, &[])).await;
    let (state, _) =
        d.wait("every role's targets", |s| roles.iter().all(|r| !targets(s, r).is_empty())).await;

    assert_eq!(
        targets(&state, "node"),
        [labels(&[
            ("__address__", "10.1.0.1:10250"),
            ("instance", "node-a"),
            ("__meta_kubernetes_node_name", "node-a"),
            ("__meta_kubernetes_node_provider_id", "aws:///eu-west-1a/node-a"),
            ("__meta_kubernetes_node_label_kubernetes_io_hostname", "node-a"),
            ("__meta_kubernetes_node_labelpresent_kubernetes_io_hostname", "true"),
            ("__meta_kubernetes_node_address_InternalIP", "10.1.0.1"),
            ("__meta_kubernetes_node_address_Hostname", "node-a"),
        ])]
    );

    let mut web = pod_meta("default", "web-1", "node-a", "10.0.0.5");
    web.extend(
        [
            ("__address__", "10.0.0.5:8080"),
            ("__meta_kubernetes_pod_container_name", "app"),
            ("__meta_kubernetes_pod_container_image", "app:1"),
            ("__meta_kubernetes_pod_container_init", "false"),
            ("__meta_kubernetes_pod_container_port_name", "metrics"),
            ("__meta_kubernetes_pod_container_port_number", "8080"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut idle = pod_meta("default", "idle", "node-a", "10.0.0.6");
    idle.extend(
        [
            ("__address__", "10.0.0.6"),
            ("__meta_kubernetes_pod_container_name", "app"),
            ("__meta_kubernetes_pod_container_image", "app:1"),
            ("__meta_kubernetes_pod_container_init", "false"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    assert_eq!(
        targets(&state, "pod"),
        [web.into_iter().collect(), idle.into_iter().collect::<BTreeMap<_, _>>()]
    );

    let service_meta = [
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_service_label_app", "web"),
        ("__meta_kubernetes_service_labelpresent_app", "true"),
    ];
    let mut svc = service_meta.to_vec();
    svc.extend([
        ("__address__", "web.default.svc:80"),
        ("__meta_kubernetes_service_port_name", "http"),
        ("__meta_kubernetes_service_port_number", "80"),
        ("__meta_kubernetes_service_port_protocol", "TCP"),
        ("__meta_kubernetes_service_type", "ClusterIP"),
        ("__meta_kubernetes_service_cluster_ip", "10.96.0.10"),
    ]);
    assert_eq!(targets(&state, "service"), [labels(&svc)]);

    // Endpoints: the address joined with its pod (and the matching container
    // port) and the group with the service of the same name.
    let pod_join: Vec<(String, String)> = pod_meta("default", "web-1", "node-a", "10.0.0.5")
        .into_iter()
        .chain(
            [
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_container_image", "app:1"),
                ("__meta_kubernetes_pod_container_port_name", "metrics"),
                ("__meta_kubernetes_pod_container_port_number", "8080"),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
        .collect();
    let mut eps: BTreeMap<String, String> = pod_join.clone().into_iter().collect();
    eps.extend(labels(&service_meta));
    eps.extend(labels(&[
        ("__address__", "10.0.0.5:8080"),
        ("__meta_kubernetes_endpoints_name", "web"),
        ("__meta_kubernetes_endpoint_port_name", "http"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "true"),
        ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
        ("__meta_kubernetes_endpoint_node_name", "node-a"),
    ]));
    assert_eq!(targets(&state, "endpoints"), [eps]);

    let mut slice: BTreeMap<String, String> = pod_join.into_iter().collect();
    slice.extend(labels(&service_meta));
    slice.extend(labels(&[
        ("__address__", "10.0.0.5:8080"),
        ("__meta_kubernetes_endpointslice_name", "web-abc"),
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        ("__meta_kubernetes_endpointslice_port", "8080"),
        ("__meta_kubernetes_endpointslice_port_name", "http"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_ready", "true"),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpointslice_address_target_name", "web-1"),
    ]));
    assert_eq!(targets(&state, "endpointslice"), [slice]);

    assert_eq!(
        targets(&state, "ingress"),
        [labels(&[
            ("__address__", "web.example.com"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_ingress_name", "site"),
            ("__meta_kubernetes_ingress_scheme", "https"),
            ("__meta_kubernetes_ingress_host", "web.example.com"),
            ("__meta_kubernetes_ingress_path", "/app"),
        ])]
    );
    // The groups' sources, as Prometheus names them.
    let sources: Vec<&str> =
        roles.iter().flat_map(|r| state[*r].iter().map(|g| g.source.as_str())).collect();
    assert_eq!(
        sources,
        [
            "node/node-a",
            "pod/default/idle",
            "pod/default/web-1",
            "svc/default/web",
            "endpoints/default/web",
            "endpointslice/default/web-abc",
            "ingress/default/site",
        ]
    );
    d.manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_changed_and_deleted_pods_reach_the_targets_within_one_second() {
    let api = K8sStandin::start();
    api.apply("pods", pod("default", "a", "n", "10.0.0.1", Some(80))).await;
    let mut d = Discovery::start(sd_configs(&[("pods", entry(&api, "pod", ""))], &[])).await;
    d.wait("pod a", |s| addresses(s, "pods") == ["10.0.0.1:80"]).await;

    api.apply("pods", pod("default", "b", "n", "10.0.0.2", Some(80))).await;
    let (_, took) =
        d.wait("pod b added", |s| addresses(s, "pods") == ["10.0.0.1:80", "10.0.0.2:80"]).await;
    eprintln!("add reached the targets in {took:?}");
    assert!(took < WITHIN, "add took {took:?}");

    let mut changed = pod("default", "b", "n", "10.0.0.2", Some(80));
    changed["metadata"]["labels"]["app"] = json!("api");
    api.apply("pods", changed).await;
    let (_, took) = d
        .wait("pod b relabelled", |s| {
            targets(s, "pods").iter().any(|t| {
                t.get("__meta_kubernetes_pod_label_app").map(String::as_str) == Some("api")
            })
        })
        .await;
    eprintln!("change reached the targets in {took:?}");
    assert!(took < WITHIN, "change took {took:?}");

    api.delete("pods", "default", "a").await;
    let (_, took) = d.wait("pod a deleted", |s| addresses(s, "pods") == ["10.0.0.2:80"]).await;
    eprintln!("delete reached the targets in {took:?}");
    assert!(took < WITHIN, "delete took {took:?}");
    d.manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_watch_resumes_from_the_last_resource_version_without_relisting() {
    let api = K8sStandin::start();
    api.apply("pods", pod("default", "a", "n", "10.0.0.1", Some(80))).await;
    let mut d = Discovery::start(sd_configs(&[("pods", entry(&api, "pod", ""))], &[])).await;
    d.wait("pod a", |s| addresses(s, "pods") == ["10.0.0.1:80"]).await;
    let stats = api.wait_stats("one watch", |s| s.open_watches == 1).await;
    assert_eq!(stats.lists.len(), 1);
    // The initial list asks the watch cache; the watch allows bookmarks.
    let list = &stats.lists[0];
    assert_eq!(list.path, "/api/v1/pods");
    assert_eq!(list.param("resourceVersion"), Some("0"));
    assert_eq!(list.param("resourceVersionMatch"), Some("NotOlderThan"));
    assert_eq!(stats.watches[0].param("allowWatchBookmarks"), Some("true"));

    let b = api.apply("pods", pod("default", "b", "n", "10.0.0.2", Some(80))).await;
    d.wait("pod b", |s| addresses(s, "pods").len() == 2).await;
    let last_rv = b["metadata"]["resourceVersion"].as_str().unwrap().to_owned();

    api.drop_watches().await;
    let stats =
        api.wait_stats("a second watch", |s| s.watches.len() == 2 && s.open_watches == 1).await;
    assert_eq!(
        stats.watches[1].param("resourceVersion"),
        Some(last_rv.as_str()),
        "resumes where it was"
    );
    assert_eq!(stats.lists.len(), 1, "no relist after a dropped connection");
    assert_eq!(d.metrics.kube().lists("pods"), 1);

    // A bookmark moves the resume point without any object changing.
    api.apply("services", json!({"metadata": {"name": "x", "namespace": "default"}})).await;
    api.bookmark().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    api.drop_watches().await;
    let stats =
        api.wait_stats("a third watch", |s| s.watches.len() == 3 && s.open_watches == 1).await;
    let resumed: u64 = stats.watches[2].param("resourceVersion").unwrap().parse().unwrap();
    assert!(resumed > last_rv.parse().unwrap(), "bookmark rv {resumed} after {last_rv}");
    assert_eq!(stats.lists.len(), 1);

    api.apply("pods", pod("default", "c", "n", "10.0.0.3", Some(80))).await;
    d.wait("pod c through the resumed watch", |s| addresses(s, "pods").len() == 3).await;
    d.manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_410_relists_once_and_keeps_targets_meanwhile() {
    let api = K8sStandin::start();
    api.apply("pods", pod("default", "a", "n", "10.0.0.1", Some(80))).await;
    let mut d = Discovery::start(sd_configs(&[("pods", entry(&api, "pod", ""))], &[])).await;
    d.wait("pod a", |s| addresses(s, "pods") == ["10.0.0.1:80"]).await;
    api.wait_stats("one watch", |s| s.open_watches == 1).await;

    // Record every published state from here on.
    let mut rx = d.rx.clone();
    let seen = tokio::spawn(async move {
        let mut counts = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(())) = tokio::time::timeout_at(deadline, rx.changed()).await {
            counts.push(addresses(&rx.borrow_and_update(), "pods").len());
        }
        counts
    });
    api.expire().await;
    let stats = api.wait_stats("a relist", |s| s.lists.len() == 2 && s.open_watches == 1).await;
    assert_eq!(stats.lists[1].param("resourceVersion"), Some("0"), "relist from the watch cache");
    api.apply("pods", pod("default", "b", "n", "10.0.0.2", Some(80))).await;
    d.wait("pod b after the relist", |s| addresses(s, "pods").len() == 2).await;
    let counts = seen.await.unwrap();
    assert!(counts.iter().all(|&n| n >= 1), "targets blinked during the relist: {counts:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.stats().await.lists.len(), 2, "exactly one relist");
    assert_eq!(d.metrics.kube().lists("pods"), 2);
    assert_eq!(d.metrics.kube().watch_failures("pods"), 0, "a 410 is routine");
    d.manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_sd_configs_share_one_watch() {
    let api = K8sStandin::start();
    api.apply("pods", pod("default", "a", "n", "10.0.0.1", Some(80))).await;
    let same = entry(&api, "pod", "namespaces: {names: [default]}");
    let other = entry(
        &api,
        "pod",
        "namespaces: {names: [default]}\nselectors: [{role: pod, label: app=web}]",
    );
    let jobs = sd_configs(&[("one", same.clone()), ("two", same), ("three", other)], &[]);
    let mut d = Discovery::start(jobs).await;
    d.wait("three jobs", |s| ["one", "two", "three"].iter().all(|j| addresses(s, j).len() == 1))
        .await;
    let stats = api.wait_stats("watches", |s| s.open_watches == 2).await;
    let path = "/api/v1/namespaces/default/pods";
    assert_eq!(stats.lists_of(path).len(), 2, "one list per distinct selector set");
    assert_eq!(stats.watches_of(path).len(), 2, "jobs one and two share a watch");
    assert_eq!(d.manager.kube().watches_started(), 2);
    assert_eq!(d.metrics.kube().watches(), 2, "tern_discovery_kubernetes_watches");
    d.manager.shutdown().await;
    assert_eq!(d.metrics.kube().watches(), 0, "watches end with their last provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_mode_sees_only_its_own_nodes_pods() {
    let api = K8sStandin::start();
    api.apply("pods", pod("default", "a1", "node-a", "10.0.0.1", Some(80))).await;
    api.apply("pods", pod("kube-system", "b1", "node-b", "10.0.0.2", Some(80))).await;
    api.apply("nodes", node("node-a", "10.1.0.1")).await;
    api.apply("nodes", node("node-b", "10.1.0.2")).await;
    let sd = entry(
        &api,
        "pod",
        "selectors:\n  - role: pod\n    field: spec.nodeName=$(NODE_NAME)\nattach_metadata: {node: true}",
    );
    let mut d = Discovery::start(sd_configs(&[("local", sd)], &[("NODE_NAME", "node-a")])).await;
    let (state, _) = d.wait("node-a's pod", |s| addresses(s, "local") == ["10.0.0.1:80"]).await;
    let stats = api.wait_stats("two watches", |s| s.open_watches == 2).await;
    assert_eq!(
        stats.lists_of("/api/v1/pods")[0].param("fieldSelector"),
        Some("spec.nodeName=node-a")
    );
    assert_eq!(
        stats.watches_of("/api/v1/pods")[0].param("fieldSelector"),
        Some("spec.nodeName=node-a")
    );
    // Node metadata comes from a watch of this node only.
    assert_eq!(
        stats.watches_of("/api/v1/nodes")[0].param("fieldSelector"),
        Some("metadata.name=node-a")
    );
    let t = &targets(&state, "local")[0];
    assert_eq!(t["__meta_kubernetes_node_name"], "node-a");
    assert_eq!(t["__meta_kubernetes_node_label_kubernetes_io_hostname"], "node-a");

    api.apply("pods", pod("default", "b2", "node-b", "10.0.0.3", Some(80))).await;
    api.apply("pods", pod("default", "a2", "node-a", "10.0.0.4", Some(80))).await;
    let (state, _) = d.wait("the second pod of node-a", |s| addresses(s, "local").len() == 2).await;
    assert_eq!(addresses(&state, "local"), ["10.0.0.1:80", "10.0.0.4:80"]);
    // A pod that moves off the node leaves (the watch says DELETED).
    api.apply("pods", pod("default", "a2", "node-b", "10.0.0.4", Some(80))).await;
    d.wait("a2 gone", |s| addresses(s, "local") == ["10.0.0.1:80"]).await;
    d.manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_the_sd_config_and_from_a_kubeconfig_reach_the_api_server() {
    let api = K8sStandin::start();
    api.apply("nodes", node("node-a", "10.1.0.1")).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "file-token\n").unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yml");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: '{}'}}\n\
             users:\n- name: u\n  user: {{token: kubeconfig-token}}\ncontexts:\n- name: x\n  \
             context: {{cluster: c, user: u}}\ncurrent-context: x\n",
            api.url()
        ),
    )
    .unwrap();
    let jobs = sd_configs(
        &[
            ("bearer", entry(&api, "node", "authorization: {credentials: inline-token}")),
            (
                "bearer_file",
                entry(&api, "node", &format!("bearer_token_file: {}", token.display())),
            ),
            ("basic", entry(&api, "node", "basic_auth: {username: user, password: pass}")),
            ("kubeconfig", format!("role: node\nkubeconfig_file: {}", kubeconfig.display())),
        ],
        &[],
    );
    let mut d = Discovery::start(jobs).await;
    let jobs = ["bearer", "bearer_file", "basic", "kubeconfig"];
    d.wait("four jobs", |s| jobs.iter().all(|j| addresses(s, j).len() == 1)).await;
    let stats = api.wait_stats("four watches", |s| s.open_watches == 4).await;
    let mut seen: Vec<String> =
        stats.lists.iter().map(|r| r.authorization.clone().unwrap_or_default()).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "Basic dXNlcjpwYXNz",
            "Bearer file-token",
            "Bearer inline-token",
            "Bearer kubeconfig-token"
        ]
    );
    d.manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_api_requests_are_retried_with_backoff() {
    let api = K8sStandin::start();
    api.apply("pods", pod("default", "a", "n", "10.0.0.1", Some(80))).await;
    api.fail_next(3).await;
    let started = Instant::now();
    let mut d = Discovery::start(sd_configs(&[("pods", entry(&api, "pod", ""))], &[])).await;
    d.wait("pod a after three failed lists", |s| addresses(s, "pods") == ["10.0.0.1:80"]).await;
    let took = started.elapsed();
    let stats = api.stats().await;
    assert_eq!(stats.failed, 3);
    assert_eq!(stats.lists.len(), 1, "one list succeeded");
    assert_eq!(d.metrics.kube().watch_failures("pods"), 3);
    // kube-runtime's default backoff waits 0.8 s, 1.6 s, then 3.2 s, plus
    // jitter (which only adds); without growth it would be 2.4 s to 4.8 s.
    eprintln!("three failed lists, then targets after {took:?}");
    assert!(
        took >= Duration::from_millis(5600),
        "retried after {took:?}: the backoff does not grow"
    );
    d.manager.shutdown().await;
}
