//! Target groups and `__meta_kubernetes_*` labels built from Kubernetes
//! objects, exactly as Prometheus 2.42 builds them (discovery/kubernetes/
//! {pod,node,service,ingress}.go; endpoints and endpointslice are in
//! `targets_endpoints`). Pure: objects in, groups out.
//!
//! Prometheus keeps empty label values in its label sets, but they behave as
//! absent labels everywhere after discovery; [`Labels`] drops them, so a
//! missing field and an empty one look the same here too.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Node, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::discovery::{TargetGroup, ADDRESS_LABEL};
use crate::labels::Labels;

/// Every meta label starts with this.
pub const META: &str = "__meta_kubernetes_";
pub(crate) const NAMESPACE: &str = "__meta_kubernetes_namespace";
pub(crate) const NODE_NAME: &str = "__meta_kubernetes_node_name";

/// A label set under construction (Prometheus' `model.LabelSet`).
pub type LabelMap = BTreeMap<String, String>;

/// Nodes by name, for `attach_metadata: {node: true}`.
pub type NodeIndex<'a> = HashMap<&'a str, &'a Node>;

/// Replaces every character outside `[a-zA-Z0-9_]` with `_` (Prometheus'
/// `strutil.SanitizeLabelName`).
pub fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

pub(crate) fn set(ls: &mut LabelMap, name: &str, value: impl Into<String>) {
    ls.insert(name.to_owned(), value.into());
}

pub(crate) fn meta(ls: &mut LabelMap, suffix: &str, value: impl Into<String>) {
    ls.insert(format!("{META}{suffix}"), value.into());
}

/// `<role>_label_<name>`, `<role>_labelpresent_<name>` and, when
/// `annotations`, `<role>_annotation_<name>`, `<role>_annotationpresent_<name>`.
pub(crate) fn object_labels(ls: &mut LabelMap, role: &str, m: &ObjectMeta, annotations: bool) {
    let mut add = |kind: &str, map: &Option<BTreeMap<String, String>>| {
        for (k, v) in map.iter().flatten() {
            let name = sanitize(k);
            ls.insert(format!("{META}{role}_{kind}_{name}"), v.clone());
            ls.insert(format!("{META}{role}_{kind}present_{name}"), "true".to_owned());
        }
    };
    add("label", &m.labels);
    if annotations {
        add("annotation", &m.annotations);
    }
}

pub(crate) fn name_of(m: &ObjectMeta) -> &str {
    m.name.as_deref().unwrap_or("")
}

pub(crate) fn namespace_of(m: &ObjectMeta) -> &str {
    m.namespace.as_deref().unwrap_or("")
}

/// Go's `net.JoinHostPort`: IPv6 addresses get brackets.
pub fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

pub(crate) fn group(source: String, labels: LabelMap, targets: Vec<LabelMap>) -> TargetGroup {
    TargetGroup {
        source,
        targets: targets.into_iter().map(Labels::from_pairs).collect(),
        labels: Labels::from_pairs(labels),
    }
}

// ---------------------------------------------------------------- node

/// Node address types in the order Prometheus picks `__address__` from.
const NODE_ADDRESS_ORDER: [&str; 6] =
    ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"];

/// The node role's group (source `node/<name>`); `None` when the node has no
/// usable address (Prometheus logs "Cannot get node address" and skips it).
pub fn node_group(node: &Node) -> Option<TargetGroup> {
    let name = name_of(&node.metadata);
    let mut labels = LabelMap::new();
    set(&mut labels, NODE_NAME, name);
    let provider_id = node.spec.as_ref().and_then(|s| s.provider_id.clone()).unwrap_or_default();
    meta(&mut labels, "node_provider_id", provider_id);
    object_labels(&mut labels, "node", &node.metadata, true);

    let status = node.status.as_ref();
    // First address of each type, as Prometheus' nodeAddresses map keeps.
    let mut by_type: BTreeMap<&str, &str> = BTreeMap::new();
    for a in status.and_then(|s| s.addresses.as_ref()).into_iter().flatten() {
        by_type.entry(a.type_.as_str()).or_insert(a.address.as_str());
    }
    let address = NODE_ADDRESS_ORDER.iter().find_map(|t| by_type.get(t))?;
    let port = status
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map_or(0, |e| e.port);
    let mut target = LabelMap::new();
    set(&mut target, ADDRESS_LABEL, join_host_port(address, port));
    set(&mut target, "instance", name);
    for (ty, addr) in &by_type {
        target.insert(sanitize(&format!("{META}node_address_{ty}")), (*addr).to_owned());
    }
    Some(group(format!("node/{name}"), labels, vec![target]))
}

/// The labels `attach_metadata: {node: true}` adds for node `name`: the node
/// name and its labels (not its annotations), as Prometheus' `addNodeLabels`.
/// Nothing when the node is unknown.
pub(crate) fn add_node_labels(ls: &mut LabelMap, nodes: &NodeIndex, name: &str) {
    let Some(node) = nodes.get(name) else { return };
    set(ls, NODE_NAME, name);
    object_labels(ls, "node", &node.metadata, false);
}

// ---------------------------------------------------------------- pod

/// The pod labels shared by the pod role and the endpoints joins
/// (Prometheus' `podLabels`).
pub(crate) fn pod_labels(pod: &Pod) -> LabelMap {
    let mut ls = LabelMap::new();
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    meta(&mut ls, "pod_name", name_of(&pod.metadata));
    meta(&mut ls, "pod_ip", status.and_then(|s| s.pod_ip.clone()).unwrap_or_default());
    meta(&mut ls, "pod_ready", pod_ready(pod));
    meta(&mut ls, "pod_phase", status.and_then(|s| s.phase.clone()).unwrap_or_default());
    meta(&mut ls, "pod_node_name", spec.and_then(|s| s.node_name.clone()).unwrap_or_default());
    meta(&mut ls, "pod_host_ip", status.and_then(|s| s.host_ip.clone()).unwrap_or_default());
    meta(&mut ls, "pod_uid", pod.metadata.uid.clone().unwrap_or_default());
    object_labels(&mut ls, "pod", &pod.metadata, true);
    let owners = pod.metadata.owner_references.iter().flatten();
    if let Some(controller) = owners.into_iter().find(|o| o.controller == Some(true)) {
        meta(&mut ls, "pod_controller_kind", controller.kind.clone());
        meta(&mut ls, "pod_controller_name", controller.name.clone());
    }
    ls
}

/// The Ready condition's status in lower case, `unknown` without one.
fn pod_ready(pod: &Pod) -> String {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map_or_else(|| "unknown".to_owned(), |c| c.status.to_lowercase())
}

/// The pod role's group (source `pod/<namespace>/<name>`): one target per
/// container port, one per container without ports (`__address__` = the
/// pod IP), init containers included. A pod without an IP yet gives a group
/// without targets or labels.
pub fn pod_group(pod: &Pod, nodes: Option<&NodeIndex>) -> TargetGroup {
    let ns = namespace_of(&pod.metadata);
    let source = format!("pod/{ns}/{}", name_of(&pod.metadata));
    let status = pod.status.as_ref();
    let ip = status.and_then(|s| s.pod_ip.as_deref()).unwrap_or("");
    if ip.is_empty() {
        return TargetGroup { source, ..TargetGroup::default() };
    }
    let mut labels = pod_labels(pod);
    set(&mut labels, NAMESPACE, ns);
    if let Some(nodes) = nodes {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("");
        add_node_labels(&mut labels, nodes, node);
    }
    let empty = Vec::new();
    let spec = pod.spec.as_ref();
    let containers = spec.map_or(&empty, |s| &s.containers);
    let init = spec.and_then(|s| s.init_containers.as_ref()).unwrap_or(&empty);
    let no_status = Vec::new();
    let statuses = status.and_then(|s| s.container_statuses.as_ref()).unwrap_or(&no_status);
    let init_statuses =
        status.and_then(|s| s.init_container_statuses.as_ref()).unwrap_or(&no_status);
    let mut targets = Vec::new();
    let all = containers.iter().map(|c| (c, false, statuses));
    for (c, is_init, statuses) in all.chain(init.iter().map(|c| (c, true, init_statuses))) {
        container_targets(&mut targets, ip, c, is_init, container_id(c, statuses));
    }
    group(source, labels, targets)
}

fn container_id<'a>(c: &Container, statuses: &'a [ContainerStatus]) -> &'a str {
    statuses.iter().find(|s| s.name == c.name).and_then(|s| s.container_id.as_deref()).unwrap_or("")
}

fn container_targets(out: &mut Vec<LabelMap>, ip: &str, c: &Container, is_init: bool, id: &str) {
    let mut base = LabelMap::new();
    meta(&mut base, "pod_container_name", c.name.clone());
    meta(&mut base, "pod_container_id", id);
    meta(&mut base, "pod_container_image", c.image.clone().unwrap_or_default());
    meta(&mut base, "pod_container_init", is_init.to_string());
    let ports = c.ports.as_deref().unwrap_or(&[]);
    if ports.is_empty() {
        set(&mut base, ADDRESS_LABEL, ip);
        out.push(base);
        return;
    }
    for port in ports {
        let mut t = base.clone();
        set(&mut t, ADDRESS_LABEL, join_host_port(ip, port.container_port));
        meta(&mut t, "pod_container_port_number", port.container_port.to_string());
        meta(&mut t, "pod_container_port_name", port.name.clone().unwrap_or_default());
        meta(&mut t, "pod_container_port_protocol", port.protocol.clone().unwrap_or_default());
        out.push(t);
    }
}

// ---------------------------------------------------------------- service

/// The service labels shared by the service role and the endpoints joins
/// (Prometheus' `serviceLabels`).
pub(crate) fn service_labels(svc: &Service) -> LabelMap {
    let mut ls = LabelMap::new();
    meta(&mut ls, "service_name", name_of(&svc.metadata));
    set(&mut ls, NAMESPACE, namespace_of(&svc.metadata));
    object_labels(&mut ls, "service", &svc.metadata, true);
    ls
}

/// The service role's group (source `svc/<namespace>/<name>`): one target
/// per service port, addressed `<name>.<namespace>.svc:<port>`.
pub fn service_group(svc: &Service) -> TargetGroup {
    let name = name_of(&svc.metadata);
    let ns = namespace_of(&svc.metadata);
    let spec = svc.spec.as_ref();
    let ty = spec.and_then(|s| s.type_.clone()).unwrap_or_default();
    let mut targets = Vec::new();
    for port in spec.and_then(|s| s.ports.as_ref()).into_iter().flatten() {
        let mut t = LabelMap::new();
        set(&mut t, ADDRESS_LABEL, join_host_port(&format!("{name}.{ns}.svc"), port.port));
        meta(&mut t, "service_port_name", port.name.clone().unwrap_or_default());
        meta(&mut t, "service_port_number", port.port.to_string());
        meta(&mut t, "service_port_protocol", port.protocol.clone().unwrap_or_default());
        meta(&mut t, "service_type", ty.clone());
        if ty == "ExternalName" {
            let external = spec.and_then(|s| s.external_name.clone()).unwrap_or_default();
            meta(&mut t, "service_external_name", external);
        } else {
            let cluster_ip = spec.and_then(|s| s.cluster_ip.clone()).unwrap_or_default();
            meta(&mut t, "service_cluster_ip", cluster_ip);
        }
        targets.push(t);
    }
    group(format!("svc/{ns}/{name}"), service_labels(svc), targets)
}

// ---------------------------------------------------------------- ingress

/// The ingress role's group (source `ingress/<namespace>/<name>`): one
/// target per rule and path; `__address__` is the rule's host, the scheme
/// `https` when a TLS entry covers the host.
pub fn ingress_group(ing: &Ingress) -> TargetGroup {
    let name = name_of(&ing.metadata);
    let ns = namespace_of(&ing.metadata);
    let mut labels = LabelMap::new();
    meta(&mut labels, "ingress_name", name);
    set(&mut labels, NAMESPACE, ns);
    object_labels(&mut labels, "ingress", &ing.metadata, true);
    let spec = ing.spec.as_ref();
    if let Some(class) = spec.and_then(|s| s.ingress_class_name.clone()) {
        meta(&mut labels, "ingress_class_name", class);
    }
    let tls_hosts: Vec<&str> = (spec.and_then(|s| s.tls.as_ref()).into_iter().flatten())
        .flat_map(|t| t.hosts.iter().flatten().map(String::as_str))
        .collect();
    let mut targets = Vec::new();
    for rule in spec.and_then(|s| s.rules.as_ref()).into_iter().flatten() {
        let host = rule.host.as_deref().unwrap_or("");
        let scheme = if matches_hostname_list(&tls_hosts, host) { "https" } else { "http" };
        // No `http` at all means "/"; an empty path list means no target.
        let paths: Vec<String> = match rule.http.as_ref().map(|h| &h.paths) {
            Some(paths) => paths
                .iter()
                .map(|p| p.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into()))
                .collect(),
            None => vec!["/".to_owned()],
        };
        for path in paths {
            let mut t = LabelMap::new();
            set(&mut t, ADDRESS_LABEL, host);
            meta(&mut t, "ingress_scheme", scheme);
            meta(&mut t, "ingress_host", host);
            meta(&mut t, "ingress_path", path);
            targets.push(t);
        }
    }
    group(format!("ingress/{ns}/{name}"), labels, targets)
}

/// Prometheus' `matchesHostnameList`: exact match, or a `*.` wildcard that
/// covers exactly one more leading label.
fn matches_hostname_list(list: &[&str], host: &str) -> bool {
    list.iter().any(|&h| {
        if h == host {
            return true;
        }
        let Some(suffix) = h.strip_prefix("*.") else { return false };
        match host.split_once('.') {
            Some((first, rest)) => !first.is_empty() && rest == suffix,
            None => false,
        }
    })
}
