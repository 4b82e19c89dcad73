//! Target groups of the `endpoints` and `endpointslice` roles, as Prometheus
//! 2.42 builds them (discovery/kubernetes/endpoints.go, endpointslice.go):
//! one target per address and port, joined with the pod the address points
//! at and with the service of the same name; container ports of those pods
//! that no endpoint port covers become extra targets. Pure.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, Endpoints};
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort as SlicePort, EndpointSlice};

use super::targets::{
    add_node_labels, group, join_host_port, meta, name_of, namespace_of, object_labels, pod_labels,
    service_labels, set, LabelMap, NodeIndex, NAMESPACE,
};
use crate::discovery::{TargetGroup, ADDRESS_LABEL};

/// The objects the endpoints roles join with: pods and services by
/// `(namespace, name)`, and nodes when `attach_metadata.node` is set.
#[derive(Default)]
pub struct Joins<'a> {
    pub pods: HashMap<(&'a str, &'a str), &'a Pod>,
    pub services: HashMap<(&'a str, &'a str), &'a Service>,
    pub nodes: Option<NodeIndex<'a>>,
}

impl<'a> Joins<'a> {
    /// Indexes the given objects.
    pub fn new(
        pods: impl IntoIterator<Item = &'a Pod>,
        services: impl IntoIterator<Item = &'a Service>,
        nodes: Option<NodeIndex<'a>>,
    ) -> Self {
        let key = |m: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            (namespace_of(m), name_of(m))
        };
        Joins {
            pods: pods.into_iter().map(|p| (key(&p.metadata), p)).collect(),
            services: services.into_iter().map(|s| (key(&s.metadata), s)).collect(),
            nodes,
        }
    }

    fn pod(&self, r: Option<&ObjectReference>) -> Option<&'a Pod> {
        let r = r.filter(|r| r.kind.as_deref() == Some("Pod"))?;
        let key = (r.namespace.as_deref().unwrap_or(""), r.name.as_deref().unwrap_or(""));
        self.pods.get(&key).copied()
    }

    fn add_service_labels(&self, ls: &mut LabelMap, ns: &str, name: &str) {
        if let Some(svc) = self.services.get(&(ns, name)) {
            ls.extend(service_labels(svc));
        }
    }

    /// Node labels for the node `name`, if attaching node metadata.
    fn add_node(&self, t: &mut LabelMap, name: Option<&str>) {
        if let (Some(nodes), Some(name)) = (&self.nodes, name) {
            add_node_labels(t, nodes, name);
        }
    }
}

/// The name of a `Node` target reference.
fn node_ref(r: Option<&ObjectReference>) -> Option<&str> {
    r.filter(|r| r.kind.as_deref() == Some("Node")).and_then(|r| r.name.as_deref())
}

/// A pod seen behind an endpoint, and the endpoint ports that covered it.
struct SeenPod<'a> {
    pod: &'a Pod,
    ports: Vec<i32>,
}

/// Pods in first-seen order (Prometheus iterates a Go map: order is not
/// part of the result).
#[derive(Default)]
struct SeenPods<'a>(Vec<SeenPod<'a>>);

impl<'a> SeenPods<'a> {
    fn add(&mut self, pod: &'a Pod, port: Option<i32>) {
        let same = |s: &&mut SeenPod| std::ptr::eq(s.pod, pod);
        let entry = match self.0.iter_mut().find(same) {
            Some(e) => e,
            None => {
                self.0.push(SeenPod { pod, ports: Vec::new() });
                self.0.last_mut().expect("BUG: just pushed")
            }
        };
        entry.ports.extend(port);
    }

    /// Targets for container ports that no endpoint port covered.
    fn uncovered_targets(&self, out: &mut Vec<LabelMap>, skip_without_ip: bool) {
        for seen in &self.0 {
            let ip = seen.pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()).unwrap_or("");
            if skip_without_ip && ip.is_empty() {
                continue;
            }
            for c in seen.pod.spec.iter().flat_map(|s| &s.containers) {
                for cport in c.ports.iter().flatten() {
                    if seen.ports.contains(&cport.container_port) {
                        continue;
                    }
                    let mut t = pod_labels(seen.pod);
                    set(&mut t, ADDRESS_LABEL, join_host_port(ip, cport.container_port));
                    container_port_labels(&mut t, c, cport, cport.protocol.clone());
                    out.push(t);
                }
            }
        }
    }
}

fn container_port_labels(
    t: &mut LabelMap,
    c: &k8s_openapi::api::core::v1::Container,
    cport: &k8s_openapi::api::core::v1::ContainerPort,
    protocol: Option<String>,
) {
    meta(t, "pod_container_name", c.name.clone());
    meta(t, "pod_container_image", c.image.clone().unwrap_or_default());
    meta(t, "pod_container_port_name", cport.name.clone().unwrap_or_default());
    meta(t, "pod_container_port_number", cport.container_port.to_string());
    meta(t, "pod_container_port_protocol", protocol.unwrap_or_default());
}

/// Pod labels and the labels of the container port equal to `port`.
fn join_pod(t: &mut LabelMap, pod: &Pod, port: Option<i32>, protocol: Option<String>) {
    t.extend(pod_labels(pod));
    let Some(port) = port else { return };
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        if let Some(cport) = c.ports.iter().flatten().find(|p| p.container_port == port) {
            container_port_labels(t, c, cport, protocol.clone().or(cport.protocol.clone()));
            return;
        }
    }
}

// ---------------------------------------------------------------- endpoints

/// The endpoints role's group (source `endpoints/<namespace>/<name>`).
pub fn endpoints_group(eps: &Endpoints, joins: &Joins) -> TargetGroup {
    let name = name_of(&eps.metadata);
    let ns = namespace_of(&eps.metadata);
    let mut labels = LabelMap::new();
    set(&mut labels, NAMESPACE, ns);
    meta(&mut labels, "endpoints_name", name);
    joins.add_service_labels(&mut labels, ns, name);
    object_labels(&mut labels, "endpoints", &eps.metadata, false);

    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    for subset in eps.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            for addr in subset.addresses.iter().flatten() {
                targets.push(endpoint_target(addr, port, "true", joins, &mut seen));
            }
            for addr in subset.not_ready_addresses.iter().flatten() {
                targets.push(endpoint_target(addr, port, "false", joins, &mut seen));
            }
        }
    }
    seen.uncovered_targets(&mut targets, false);
    group(format!("endpoints/{ns}/{name}"), labels, targets)
}

fn endpoint_target<'a>(
    addr: &EndpointAddress,
    port: &EndpointPort,
    ready: &str,
    joins: &Joins<'a>,
    seen: &mut SeenPods<'a>,
) -> LabelMap {
    let mut t = LabelMap::new();
    set(&mut t, ADDRESS_LABEL, join_host_port(&addr.ip, port.port));
    meta(&mut t, "endpoint_port_name", port.name.clone().unwrap_or_default());
    meta(&mut t, "endpoint_port_protocol", port.protocol.clone().unwrap_or_default());
    meta(&mut t, "endpoint_ready", ready);
    let target_ref = addr.target_ref.as_ref();
    if let Some(r) = target_ref {
        meta(&mut t, "endpoint_address_target_kind", r.kind.clone().unwrap_or_default());
        meta(&mut t, "endpoint_address_target_name", r.name.clone().unwrap_or_default());
    }
    if let Some(node) = &addr.node_name {
        meta(&mut t, "endpoint_node_name", node.clone());
    }
    if let Some(host) = addr.hostname.as_ref().filter(|h| !h.is_empty()) {
        meta(&mut t, "endpoint_hostname", host.clone());
    }
    // The address' node name first, then a Node target (endpoints.go).
    joins.add_node(&mut t, addr.node_name.as_deref().or(node_ref(target_ref)));
    if let Some(pod) = joins.pod(target_ref) {
        join_pod(&mut t, pod, Some(port.port), port.protocol.clone());
        seen.add(pod, Some(port.port));
    }
    t
}

// ---------------------------------------------------------------- endpointslice

/// The label naming an EndpointSlice's service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The endpointslice role's group (source `endpointslice/<namespace>/<name>`).
pub fn endpointslice_group(eps: &EndpointSlice, joins: &Joins) -> TargetGroup {
    let name = name_of(&eps.metadata);
    let ns = namespace_of(&eps.metadata);
    let mut labels = LabelMap::new();
    set(&mut labels, NAMESPACE, ns);
    meta(&mut labels, "endpointslice_name", name);
    meta(&mut labels, "endpointslice_address_type", eps.address_type.clone());
    let service = eps.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL));
    if let Some(service) = service {
        joins.add_service_labels(&mut labels, ns, service);
    }

    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    for ep in &eps.endpoints {
        for port in eps.ports.iter().flatten() {
            for addr in &ep.addresses {
                targets.push(slice_target(addr, ep, port, joins, &mut seen));
            }
        }
    }
    seen.uncovered_targets(&mut targets, true);
    group(format!("endpointslice/{ns}/{name}"), labels, targets)
}

fn slice_target<'a>(
    addr: &str,
    ep: &Endpoint,
    port: &SlicePort,
    joins: &Joins<'a>,
    seen: &mut SeenPods<'a>,
) -> LabelMap {
    let mut t = LabelMap::new();
    let address = match port.port {
        Some(p) => join_host_port(addr, p),
        None => addr.to_owned(),
    };
    set(&mut t, ADDRESS_LABEL, address);
    let opt = |t: &mut LabelMap, suffix: &str, v: &Option<String>| {
        if let Some(v) = v {
            meta(t, suffix, v.clone());
        }
    };
    opt(&mut t, "endpointslice_port_name", &port.name);
    opt(&mut t, "endpointslice_port_protocol", &port.protocol);
    opt(&mut t, "endpointslice_port", &port.port.map(|p| p.to_string()));
    opt(&mut t, "endpointslice_port_app_protocol", &port.app_protocol);
    let cond = ep.conditions.as_ref();
    let flag = |b: Option<bool>| b.map(|b| b.to_string());
    opt(&mut t, "endpointslice_endpoint_conditions_ready", &flag(cond.and_then(|c| c.ready)));
    opt(&mut t, "endpointslice_endpoint_conditions_serving", &flag(cond.and_then(|c| c.serving)));
    let terminating = flag(cond.and_then(|c| c.terminating));
    opt(&mut t, "endpointslice_endpoint_conditions_terminating", &terminating);
    opt(&mut t, "endpointslice_endpoint_hostname", &ep.hostname);
    let target_ref = ep.target_ref.as_ref();
    if let Some(r) = target_ref {
        meta(&mut t, "endpointslice_address_target_kind", r.kind.clone().unwrap_or_default());
        meta(&mut t, "endpointslice_address_target_name", r.name.clone().unwrap_or_default());
    }
    for (k, v) in ep.deprecated_topology.iter().flatten() {
        let name = super::targets::sanitize(k);
        meta(&mut t, &format!("endpointslice_endpoint_topology_{name}"), v.clone());
        meta(&mut t, &format!("endpointslice_endpoint_topology_present_{name}"), "true");
    }
    // A Node target first, then the endpoint's node name (endpointslice.go).
    joins.add_node(&mut t, node_ref(target_ref).or(ep.node_name.as_deref()));
    if let Some(pod) = joins.pod(target_ref) {
        join_pod(&mut t, pod, port.port, None);
        seen.add(pod, port.port);
    }
    t
}
