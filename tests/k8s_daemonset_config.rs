//! The ConfigMap's `prometheus.yml` in `examples/kubernetes/`: `tern
//! check-config` accepts it with `NODE_NAME` set (and refuses it without),
//! each job watches only its own node, and its relabeling turns pods and the
//! node, described by the meta labels Prometheus documents, into the targets
//! the community Helm chart's jobs make (annotations honoured).

#[path = "support/k8s_manifests.rs"]
mod manifests;

use manifests::*;
use serde_yaml::Value;
use tern::labels::{Labels, LabelsBuilder};
use tern::scrape::target::{populate, Populated};
use tern::scrape::{ScrapeJob, Target};

// ---------------------------------------------------------- the config

/// Needs the Kubernetes discovery config (this branch) and the
/// `host_metrics:` block (host metrics branch) merged.
#[test]
fn the_configmap_passes_tern_check_config_with_node_name_set() {
    let out = check_config(&prometheus_yml(), Some("ip-10-0-1-23.us-east-1.compute.internal"));
    assert!(out.status.success(), "{}", text(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains(": OK: "), "{summary}");
    assert!(summary.contains("3 kubernetes_sd configs"), "{summary}");
    assert!(summary.contains("1 remote_write endpoint"), "{summary}");
}

/// The same config without `host_metrics:`, whose schema lives on the host
/// metrics branch: what this branch alone must accept. The test above is the
/// full check.
#[test]
fn the_configmap_without_host_metrics_passes_tern_check_config() {
    let out = check_config(&without_host_metrics(), Some("ip-10-0-1-23"));
    assert!(out.status.success(), "{}", text(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("3 kubernetes_sd configs"), "{summary}");
}

/// The selectors really depend on the downward API's NODE_NAME: without it
/// the config is refused, naming the variable (checked on the config
/// without `host_metrics:`, so that it holds on this branch alone).
#[test]
fn the_configmap_is_refused_without_node_name() {
    let out = check_config(&without_host_metrics(), None);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("environment variable NODE_NAME"), "{}", text(&out));
}

#[test]
fn the_config_scrapes_only_its_own_node() {
    let config: Value = serde_yaml::from_str(&prometheus_yml()).unwrap();
    let jobs = seq(&config["scrape_configs"], "scrape_configs");
    let names: Vec<&str> = jobs.iter().map(|j| str_at(&j["job_name"], "job_name")).collect();
    assert_eq!(names, ["kubernetes-pods", "kubelet", "cadvisor"]);
    for job in jobs {
        let name = str_at(&job["job_name"], "job_name");
        let sd = seq(&job["kubernetes_sd_configs"], name);
        assert_eq!(sd.len(), 1, "{name}");
        let role = str_at(&sd[0]["role"], name);
        let selectors = seq(&sd[0]["selectors"], name);
        let want = match role {
            "pod" => "spec.nodeName=$(NODE_NAME)",
            "node" => "metadata.name=$(NODE_NAME)",
            other => panic!("{name}: role {other}"),
        };
        assert_eq!(selectors.len(), 1, "{name}");
        assert_eq!(selectors[0]["role"], role, "{name}");
        assert_eq!(selectors[0]["field"], want, "{name}");
    }
    // kubelet and cAdvisor: HTTPS with the service account's token and CA.
    for job in &jobs[1..] {
        assert_eq!(job["scheme"], "https");
        assert_eq!(
            job["authorization"]["credentials_file"],
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        );
        assert_eq!(
            job["tls_config"]["ca_file"],
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
        );
    }
    assert_eq!(jobs[2]["metrics_path"], "/metrics/cadvisor");
    assert!(jobs[1]["metrics_path"].is_null(), "kubelet: the default /metrics");
}

/// The annotations the community chart honours, each read by a relabel rule
/// with the chart's target.
#[test]
fn the_pod_job_honours_the_prometheus_io_annotations() {
    let config: Value = serde_yaml::from_str(&prometheus_yml()).unwrap();
    let rules = seq(&config["scrape_configs"][0]["relabel_configs"], "relabel_configs");
    let reads = |annotation: &str| {
        let label = format!("__meta_kubernetes_pod_annotation_prometheus_io_{annotation}");
        rules
            .iter()
            .filter(|r| r["source_labels"].as_sequence().is_some_and(|s| s[0] == label.as_str()))
            .collect::<Vec<_>>()
    };
    let scrape = reads("scrape");
    assert_eq!(
        (scrape[0]["action"].as_str(), scrape[0]["regex"].as_bool()),
        (Some("keep"), Some(true))
    );
    assert_eq!(reads("scheme")[0]["target_label"], "__scheme__");
    assert_eq!(reads("path")[0]["target_label"], "__metrics_path__");
    let port = reads("port");
    assert_eq!(port.len(), 2, "IPv6 and IPv4 pod addresses");
    assert!(port.iter().all(|r| r["target_label"] == "__address__"));
}

#[test]
fn the_config_writes_to_amp_with_sigv4_and_bounds_the_wal_below_the_empty_dir() {
    let config: Value = serde_yaml::from_str(&prometheus_yml()).unwrap();
    let remote = seq(&config["remote_write"], "remote_write");
    assert_eq!(remote.len(), 1);
    let url = str_at(&remote[0]["url"], "url");
    assert!(url.starts_with("https://aps-workspaces.") && url.ends_with("/api/v1/remote_write"));
    let region = str_at(&remote[0]["sigv4"]["region"], "sigv4.region");
    assert!(url.contains(&format!(".{region}.amazonaws.com/")), "{url} vs {region}");
    let host = &config["host_metrics"];
    for (key, want) in [("procfs", "/host/proc"), ("sysfs", "/host/sys"), ("rootfs", "/host/root")]
    {
        assert_eq!(host[key], want, "host_metrics.{key}");
    }
    assert_eq!(host["instance"], "${NODE_NAME}");

    let wal_max = prometheus_size(str_at(&config["wal"]["max_size"], "wal.max_size"));
    let pod = &object("DaemonSet")["spec"]["template"]["spec"];
    let wal_volume = volume_at(pod, "/var/lib/tern");
    let limit = quantity(str_at(&wal_volume["emptyDir"]["sizeLimit"], "emptyDir.sizeLimit"));
    // tern's WAL may pass max_size by up to one segment (max_size / 8).
    assert!(wal_max + wal_max / 8 < limit, "wal.max_size {wal_max} vs sizeLimit {limit}");
}

// ------------------------------------------- from meta labels to targets

/// The ConfigMap's jobs, built as `tern run` builds them, with NODE_NAME
/// set. The kubelet jobs' CA (the service account's, only there in a pod)
/// is replaced by the system bundle: tern reads the CA when it builds a job.
fn jobs() -> Vec<ScrapeJob> {
    let ca = "/etc/ssl/certs/ca-certificates.crt";
    assert!(std::path::Path::new(ca).is_file(), "{ca}: the system CA bundle (ca-certificates)");
    let yaml =
        without_host_metrics().replace("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", ca);
    let env = |name: &str| (name == "NODE_NAME").then(|| "ip-10-0-1-23".to_owned());
    let loaded = tern::config::load_str_with_env(&yaml, "prometheus.yml", &env)
        .unwrap_or_else(|e| panic!("{e}"));
    loaded.config.scrape_configs.iter().map(|c| ScrapeJob::try_new(c).unwrap()).collect()
}

/// A pod role target as Prometheus' Kubernetes discovery describes a pod
/// `shop/web-0` (label `app=web`) on node `ip-10-0-1-23` with one container
/// port 9090, plus the given annotations and overrides.
fn pod_target(extra: &[(&str, &str)]) -> LabelsBuilder {
    let mut b = Labels::new().builder();
    for (name, value) in [
        ("__address__", "10.0.1.5:9090"),
        ("__meta_kubernetes_namespace", "shop"),
        ("__meta_kubernetes_pod_name", "web-0"),
        ("__meta_kubernetes_pod_ip", "10.0.1.5"),
        ("__meta_kubernetes_pod_label_app", "web"),
        ("__meta_kubernetes_pod_labelpresent_app", "true"),
        ("__meta_kubernetes_pod_node_name", "ip-10-0-1-23"),
        ("__meta_kubernetes_pod_host_ip", "10.0.1.23"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_ready", "true"),
        ("__meta_kubernetes_pod_uid", "0b7c9a57-9c0f-4e9b-9a3c-3f4d5e6f7a8b"),
        ("__meta_kubernetes_pod_container_name", "web"),
        ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ("__meta_kubernetes_pod_container_port_number", "9090"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_pod_container_init", "false"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        b.set(name, value);
    }
    b
}

/// `prometheus.io/NAME: value` as Prometheus turns a pod annotation into
/// meta labels.
fn annotation(name: &str, value: &'static str) -> [(String, &'static str); 2] {
    let name = format!("prometheus_io_{}", name.replace(['-', '.', '/'], "_"));
    [
        (format!("__meta_kubernetes_pod_annotation_{name}"), value),
        (format!("__meta_kubernetes_pod_annotationpresent_{name}"), "true"),
    ]
}

#[track_caller]
fn scrape(
    job: &ScrapeJob,
    annotations: &[(&str, &'static str)],
    extra: &[(&str, &str)],
) -> Populated {
    let mut labels: Vec<(String, &str)> =
        annotations.iter().flat_map(|(n, v)| annotation(n, v)).collect();
    labels.extend(extra.iter().map(|(n, v)| (n.to_string(), *v)));
    let borrowed: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    populate(job, pod_target(&borrowed))
}

#[track_caller]
fn active(p: Populated) -> Target {
    match p {
        Populated::Active(t) => t,
        other => panic!("not scraped: {other:?}"),
    }
}

fn public(t: &Target) -> Vec<(String, String)> {
    t.labels.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect()
}

#[test]
fn annotated_pods_are_scraped_as_the_annotations_say() {
    let jobs = jobs();
    let pods = &jobs[0];
    let all = [
        ("scrape", "true"),
        ("port", "8443"),
        ("path", "/stats/prometheus"),
        ("scheme", "https"),
        ("param_format", "prometheus"),
    ];
    let t = active(scrape(pods, &all, &[]));
    assert_eq!(t.url, "https://10.0.1.5:8443/stats/prometheus?format=prometheus");
    let want = [
        ("app", "web"),
        ("instance", "10.0.1.5:8443"),
        ("job", "kubernetes-pods"),
        ("namespace", "shop"),
        ("node", "ip-10-0-1-23"),
        ("pod", "web-0"),
    ];
    let want: Vec<(String, String)> =
        want.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    assert_eq!(public(&t), want);

    // Only prometheus.io/scrape: the container port, http, /metrics.
    let t = active(scrape(pods, &[("scrape", "true")], &[]));
    assert_eq!(t.url, "http://10.0.1.5:9090/metrics");
    // A scheme other than http(s) is ignored, as in the chart.
    let t = active(scrape(pods, &[("scrape", "true"), ("scheme", "ftp")], &[]));
    assert!(t.url.starts_with("http://"), "{}", t.url);
    // IPv6 pod addresses are bracketed.
    let v6 =
        [("__meta_kubernetes_pod_ip", "fd00:10:0:1::5"), ("__address__", "[fd00:10:0:1::5]:9090")];
    let t = active(scrape(pods, &[("scrape", "true"), ("port", "8080")], &v6));
    assert_eq!(t.url, "http://[fd00:10:0:1::5]:8080/metrics");
}

#[test]
fn unannotated_slow_and_finished_pods_are_not_scraped() {
    let jobs = jobs();
    let pods = &jobs[0];
    let dropped = |p: Populated| matches!(p, Populated::Dropped(_));
    assert!(dropped(scrape(pods, &[], &[])), "no annotation");
    assert!(dropped(scrape(pods, &[("scrape", "false")], &[])));
    assert!(dropped(scrape(pods, &[("scrape", "true"), ("scrape-slow", "true")], &[])));
    for phase in ["Pending", "Succeeded", "Failed"] {
        let p = scrape(pods, &[("scrape", "true")], &[("__meta_kubernetes_pod_phase", phase)]);
        assert!(dropped(p), "{phase}");
    }
}

/// The node role target Prometheus makes for this node: the InternalIP and
/// the kubelet port from `status.daemonEndpoints`.
#[test]
fn the_kubelet_and_cadvisor_jobs_scrape_the_node_over_https() {
    let jobs = jobs();
    let node = || {
        let mut b = Labels::new().builder();
        b.set("__address__", "10.0.1.23:10250");
        b.set("__meta_kubernetes_node_name", "ip-10-0-1-23");
        b.set("__meta_kubernetes_node_address_InternalIP", "10.0.1.23");
        b.set("__meta_kubernetes_node_label_kubernetes_io_os", "linux");
        b.set("instance", "ip-10-0-1-23");
        b
    };
    for (job, url) in [
        (&jobs[1], "https://10.0.1.23:10250/metrics"),
        (&jobs[2], "https://10.0.1.23:10250/metrics/cadvisor"),
    ] {
        let t = active(populate(job, node()));
        assert_eq!(t.url, url);
        assert_eq!(t.labels.get("node"), Some("ip-10-0-1-23"));
        assert_eq!(t.labels.get("instance"), Some("ip-10-0-1-23"));
        assert_eq!(t.labels.get("job"), Some(job.name.as_ref()));
    }
}
