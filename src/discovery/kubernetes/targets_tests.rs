//! Target groups from JSON fixtures, against hand-written expectations that
//! follow Prometheus 2.42's documentation and its own tests.

use serde_json::json;

use super::targets::*;
use super::targets_endpoints::*;
use crate::discovery::TargetGroup;
use crate::labels::Labels;

fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("fixture parses")
}

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[track_caller]
fn check(got: &TargetGroup, source: &str, labels: &[(&str, &str)], targets: &[&[(&str, &str)]]) {
    assert_eq!(got.source, source);
    assert_eq!(got.labels, ls(labels), "group labels of {source}");
    let mut want: Vec<Labels> = targets.iter().map(|t| ls(t)).collect();
    let mut got_targets = got.targets.clone();
    want.sort();
    got_targets.sort();
    assert_eq!(got_targets, want, "targets of {source}");
}

fn pod_json() -> serde_json::Value {
    json!({
        "metadata": {
            "name": "web-1", "namespace": "default", "uid": "abc-123",
            "labels": {"app.kubernetes.io/name": "web"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "1"},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4", "uid": "2", "controller": true}
            ]
        },
        "spec": {
            "nodeName": "node-a",
            "containers": [
                {"name": "app", "image": "web:1", "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"containerPort": 9090, "protocol": "UDP"}
                ]},
                {"name": "sidecar", "image": "side:2"}
            ],
            "initContainers": [{"name": "init", "image": "init:3"}]
        },
        "status": {
            "phase": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.1.10",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "app", "containerID": "containerd://aaa", "image": "web:1", "imageID": "", "ready": true, "restartCount": 0},
                {"name": "sidecar", "containerID": "containerd://bbb", "image": "side:2", "imageID": "", "ready": true, "restartCount": 0}
            ],
            "initContainerStatuses": [
                {"name": "init", "containerID": "containerd://ccc", "image": "init:3", "imageID": "", "ready": false, "restartCount": 0}
            ]
        }
    })
}

const POD_LABELS: &[(&str, &str)] = &[
    ("__meta_kubernetes_namespace", "default"),
    ("__meta_kubernetes_pod_name", "web-1"),
    ("__meta_kubernetes_pod_ip", "10.0.0.5"),
    ("__meta_kubernetes_pod_ready", "true"),
    ("__meta_kubernetes_pod_phase", "Running"),
    ("__meta_kubernetes_pod_node_name", "node-a"),
    ("__meta_kubernetes_pod_host_ip", "192.168.1.10"),
    ("__meta_kubernetes_pod_uid", "abc-123"),
    ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
    ("__meta_kubernetes_pod_controller_name", "web-5d4"),
    ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "web"),
    ("__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name", "true"),
    ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
    ("__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape", "true"),
];

#[test]
fn pod_one_target_per_port_and_per_portless_container_including_init() {
    let pod = obj(pod_json());
    let g = pod_group(&pod, None);
    check(
        &g,
        "pod/default/web-1",
        POD_LABELS,
        &[
            &[
                ("__address__", "10.0.0.5:8080"),
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_container_id", "containerd://aaa"),
                ("__meta_kubernetes_pod_container_image", "web:1"),
                ("__meta_kubernetes_pod_container_port_name", "http"),
                ("__meta_kubernetes_pod_container_port_number", "8080"),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
                ("__meta_kubernetes_pod_container_init", "false"),
            ],
            &[
                ("__address__", "10.0.0.5:9090"),
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_container_id", "containerd://aaa"),
                ("__meta_kubernetes_pod_container_image", "web:1"),
                ("__meta_kubernetes_pod_container_port_number", "9090"),
                ("__meta_kubernetes_pod_container_port_protocol", "UDP"),
                ("__meta_kubernetes_pod_container_init", "false"),
            ],
            &[
                ("__address__", "10.0.0.5"),
                ("__meta_kubernetes_pod_container_name", "sidecar"),
                ("__meta_kubernetes_pod_container_id", "containerd://bbb"),
                ("__meta_kubernetes_pod_container_image", "side:2"),
                ("__meta_kubernetes_pod_container_init", "false"),
            ],
            &[
                ("__address__", "10.0.0.5"),
                ("__meta_kubernetes_pod_container_name", "init"),
                ("__meta_kubernetes_pod_container_id", "containerd://ccc"),
                ("__meta_kubernetes_pod_container_image", "init:3"),
                ("__meta_kubernetes_pod_container_init", "true"),
            ],
        ],
    );
}

#[test]
fn pod_without_ip_is_an_empty_group_and_ready_defaults_to_unknown() {
    let mut j = pod_json();
    j["status"]["podIP"] = json!(null);
    let g = pod_group(&obj(j.clone()), None);
    assert_eq!(g, TargetGroup { source: "pod/default/web-1".into(), ..TargetGroup::default() });

    j["status"]["podIP"] = json!("fd00::5");
    j["status"]["conditions"] = json!([]);
    let g = pod_group(&obj(j), None);
    assert_eq!(g.labels.get("__meta_kubernetes_pod_ready"), Some("unknown"));
    assert!(g.targets.iter().any(|t| t.get("__address__") == Some("[fd00::5]:8080")));
}

fn node_json() -> serde_json::Value {
    json!({
        "metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a"},
                     "annotations": {"node.alpha/ttl": "0"}},
        "spec": {"providerID": "aws:///eu-west-1a/i-0123"},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": "ip-10-1-2-3"},
                {"type": "ExternalIP", "address": "54.1.2.3"},
                {"type": "InternalIP", "address": "10.1.2.3"},
                {"type": "InternalIP", "address": "10.9.9.9"}
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
        }
    })
}

#[test]
fn node_address_precedence_and_labels() {
    let g = node_group(&obj(node_json())).expect("has an address");
    check(
        &g,
        "node/node-a",
        &[
            ("__meta_kubernetes_node_name", "node-a"),
            ("__meta_kubernetes_node_provider_id", "aws:///eu-west-1a/i-0123"),
            ("__meta_kubernetes_node_label_kubernetes_io_hostname", "node-a"),
            ("__meta_kubernetes_node_labelpresent_kubernetes_io_hostname", "true"),
            ("__meta_kubernetes_node_annotation_node_alpha_ttl", "0"),
            ("__meta_kubernetes_node_annotationpresent_node_alpha_ttl", "true"),
        ],
        &[&[
            ("__address__", "10.1.2.3:10250"),
            ("instance", "node-a"),
            ("__meta_kubernetes_node_address_InternalIP", "10.1.2.3"),
            ("__meta_kubernetes_node_address_ExternalIP", "54.1.2.3"),
            ("__meta_kubernetes_node_address_Hostname", "ip-10-1-2-3"),
        ]],
    );
    let mut j = node_json();
    j["status"]["addresses"] = json!([{"type": "Hostname", "address": "h"}, {"type": "ExternalDNS", "address": "e.example"}]);
    let g = node_group(&obj(j.clone())).unwrap();
    assert_eq!(g.targets[0].get("__address__"), Some("e.example:10250"));
    j["status"]["addresses"] = json!([]);
    assert_eq!(node_group(&obj(j)), None, "no address: no group");
}

#[test]
fn pod_with_node_metadata_attached() {
    let node: k8s_openapi::api::core::v1::Node = obj(node_json());
    let nodes: NodeIndex = [("node-a", &node)].into_iter().collect();
    let g = pod_group(&obj(pod_json()), Some(&nodes));
    assert_eq!(g.labels.get("__meta_kubernetes_node_name"), Some("node-a"));
    assert_eq!(g.labels.get("__meta_kubernetes_node_label_kubernetes_io_hostname"), Some("node-a"));
    assert_eq!(g.labels.get("__meta_kubernetes_node_annotation_node_alpha_ttl"), None);
}

fn service_json() -> serde_json::Value {
    json!({
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}
    })
}

const SERVICE_LABELS: &[(&str, &str)] = &[
    ("__meta_kubernetes_namespace", "default"),
    ("__meta_kubernetes_service_name", "web"),
    ("__meta_kubernetes_service_label_app", "web"),
    ("__meta_kubernetes_service_labelpresent_app", "true"),
];

#[test]
fn service_one_target_per_port() {
    check(
        &service_group(&obj(service_json())),
        "svc/default/web",
        SERVICE_LABELS,
        &[
            &[
                ("__address__", "web.default.svc:80"),
                ("__meta_kubernetes_service_port_name", "http"),
                ("__meta_kubernetes_service_port_number", "80"),
                ("__meta_kubernetes_service_port_protocol", "TCP"),
                ("__meta_kubernetes_service_type", "ClusterIP"),
                ("__meta_kubernetes_service_cluster_ip", "10.96.0.10"),
            ],
            &[
                ("__address__", "web.default.svc:443"),
                ("__meta_kubernetes_service_port_number", "443"),
                ("__meta_kubernetes_service_port_protocol", "TCP"),
                ("__meta_kubernetes_service_type", "ClusterIP"),
                ("__meta_kubernetes_service_cluster_ip", "10.96.0.10"),
            ],
        ],
    );
    let ext = json!({"metadata": {"name": "db", "namespace": "x"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com", "ports": [{"port": 5432}]}});
    let g = service_group(&obj(ext));
    assert_eq!(g.targets[0].get("__meta_kubernetes_service_external_name"), Some("db.example.com"));
    assert_eq!(g.targets[0].get("__meta_kubernetes_service_cluster_ip"), None);
}

#[test]
fn ingress_targets_per_rule_and_path_with_tls_scheme() {
    let ing = json!({
        "metadata": {"name": "site", "namespace": "web", "labels": {"team": "a"}},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["secure.example.com", "*.wild.example.com"]}],
            "rules": [
                {"host": "secure.example.com", "http": {"paths": [
                    {"path": "/api", "pathType": "Prefix", "backend": {}},
                    {"pathType": "Prefix", "backend": {}}]}},
                {"host": "a.wild.example.com"},
                {"host": "plain.example.com", "http": {"paths": []}}
            ]
        }
    });
    let t = |addr, scheme, path| {
        vec![
            ("__address__", addr),
            ("__meta_kubernetes_ingress_scheme", scheme),
            ("__meta_kubernetes_ingress_host", addr),
            ("__meta_kubernetes_ingress_path", path),
        ]
    };
    check(
        &ingress_group(&obj(ing)),
        "ingress/web/site",
        &[
            ("__meta_kubernetes_namespace", "web"),
            ("__meta_kubernetes_ingress_name", "site"),
            ("__meta_kubernetes_ingress_class_name", "nginx"),
            ("__meta_kubernetes_ingress_label_team", "a"),
            ("__meta_kubernetes_ingress_labelpresent_team", "true"),
        ],
        &[
            &t("secure.example.com", "https", "/api"),
            &t("secure.example.com", "https", "/"),
            &t("a.wild.example.com", "https", "/"),
        ],
    );
}

fn endpoint_pod() -> serde_json::Value {
    let mut p = pod_json();
    p["spec"]["initContainers"] = json!(null);
    p
}

#[test]
fn endpoints_join_pods_and_services_and_add_uncovered_container_ports() {
    let eps = json!({
        "metadata": {"name": "web", "namespace": "default", "labels": {"svc": "web"}},
        "subsets": [{
            "addresses": [{"ip": "10.0.0.5", "nodeName": "node-a",
                           "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}}],
            "notReadyAddresses": [{"ip": "10.0.0.7", "hostname": "h7"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }]
    });
    let pod: k8s_openapi::api::core::v1::Pod = obj(endpoint_pod());
    let svc: k8s_openapi::api::core::v1::Service = obj(service_json());
    let joins = Joins::new([&pod], [&svc], None);
    let g = endpoints_group(&obj(eps), &joins);
    let mut group_labels = SERVICE_LABELS.to_vec();
    group_labels.extend([
        ("__meta_kubernetes_endpoints_name", "web"),
        ("__meta_kubernetes_endpoints_label_svc", "web"),
        ("__meta_kubernetes_endpoints_labelpresent_svc", "true"),
    ]);
    let pod_labels: Vec<_> =
        POD_LABELS.iter().filter(|(k, _)| *k != "__meta_kubernetes_namespace").copied().collect();
    let with_pod = |extra: &[(&'static str, &'static str)]| {
        let mut v = pod_labels.clone();
        v.extend_from_slice(extra);
        v
    };
    check(
        &g,
        "endpoints/default/web",
        &group_labels,
        &[
            &with_pod(&[
                ("__address__", "10.0.0.5:8080"),
                ("__meta_kubernetes_endpoint_port_name", "http"),
                ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                ("__meta_kubernetes_endpoint_ready", "true"),
                ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
                ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
                ("__meta_kubernetes_endpoint_node_name", "node-a"),
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_container_image", "web:1"),
                ("__meta_kubernetes_pod_container_port_name", "http"),
                ("__meta_kubernetes_pod_container_port_number", "8080"),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ]),
            &[
                ("__address__", "10.0.0.7:8080"),
                ("__meta_kubernetes_endpoint_port_name", "http"),
                ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                ("__meta_kubernetes_endpoint_ready", "false"),
                ("__meta_kubernetes_endpoint_hostname", "h7"),
            ],
            &with_pod(&[
                ("__address__", "10.0.0.5:9090"),
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_container_image", "web:1"),
                ("__meta_kubernetes_pod_container_port_number", "9090"),
                ("__meta_kubernetes_pod_container_port_protocol", "UDP"),
            ]),
        ],
    );
}

#[test]
fn endpointslice_targets_conditions_and_service_join() {
    let slice = json!({
        "metadata": {"name": "web-abc", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.0.0.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
             "nodeName": "node-a", "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}},
            {"addresses": ["10.0.0.8"], "hostname": "h8", "deprecatedTopology": {"topology.kubernetes.io/zone": "z1"}}
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
    });
    let pod: k8s_openapi::api::core::v1::Pod = obj(endpoint_pod());
    let svc: k8s_openapi::api::core::v1::Service = obj(service_json());
    let node: k8s_openapi::api::core::v1::Node = obj(node_json());
    let nodes: NodeIndex = [("node-a", &node)].into_iter().collect();
    let joins = Joins::new([&pod], [&svc], Some(nodes));
    let g = endpointslice_group(&obj(slice), &joins);
    let mut group_labels = SERVICE_LABELS.to_vec();
    group_labels.extend([
        ("__meta_kubernetes_endpointslice_name", "web-abc"),
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
    ]);
    assert_eq!(g.source, "endpointslice/default/web-abc");
    assert_eq!(g.labels, ls(&group_labels));
    assert_eq!(g.targets.len(), 3, "{:#?}", g.targets);
    let first = &g.targets[0];
    for (k, v) in [
        ("__address__", "10.0.0.5:8080"),
        ("__meta_kubernetes_endpointslice_port_name", "http"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ("__meta_kubernetes_endpointslice_port", "8080"),
        ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_ready", "true"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_serving", "true"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_terminating", "false"),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpointslice_address_target_name", "web-1"),
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_container_port_name", "http"),
        ("__meta_kubernetes_node_name", "node-a"),
        ("__meta_kubernetes_node_label_kubernetes_io_hostname", "node-a"),
    ] {
        assert_eq!(first.get(k), Some(v), "{k} in {first}");
    }
    let second = &g.targets[1];
    assert_eq!(second.get("__address__"), Some("10.0.0.8:8080"));
    assert_eq!(second.get("__meta_kubernetes_endpointslice_endpoint_hostname"), Some("h8"));
    assert_eq!(
        second.get("__meta_kubernetes_endpointslice_endpoint_topology_topology_kubernetes_io_zone"),
        Some("z1")
    );
    assert_eq!(
        second.get(
            "__meta_kubernetes_endpointslice_endpoint_topology_present_topology_kubernetes_io_zone"
        ),
        Some("true")
    );
    assert_eq!(second.get("__meta_kubernetes_endpointslice_endpoint_conditions_ready"), None);
    assert_eq!(g.targets[2].get("__address__"), Some("10.0.0.5:9090"), "uncovered container port");
}

#[test]
fn label_names_are_sanitised() {
    assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
    assert_eq!(sanitize("a-b_c9"), "a_b_c9");
    assert_eq!(join_host_port("::1", 80), "[::1]:80");
}
