//! Helpers for the tests of `examples/kubernetes/` and the `Dockerfile`
//! (`tests/k8s_manifests.rs`, `tests/k8s_daemonset_config.rs`), included
//! by each with `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_yaml::Value;

/// Kubernetes versions the manifests must validate against: the oldest and a
/// recent one of those EKS supports in standard or extended support.
pub const KUBERNETES_VERSIONS: [&str; 2] = ["1.30", "1.33"];

/// tern's `--listen` port in the DaemonSet, the Dockerfile's EXPOSE.
pub const LISTEN_PORT: u64 = 9464;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn manifests_dir() -> PathBuf {
    repo().join("examples/kubernetes")
}

/// The manifests, in the kustomization's (apply) order.
pub fn manifest_files() -> Vec<PathBuf> {
    let kustomization = read_yaml(&manifests_dir().join("kustomization.yaml"));
    let resources = kustomization["resources"].as_sequence().expect("resources: a list");
    resources.iter().map(|r| manifests_dir().join(r.as_str().expect("a file name"))).collect()
}

#[track_caller]
pub fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every object of every manifest.
pub fn objects() -> Vec<Value> {
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
pub fn object(kind: &str) -> Value {
    let mut found = objects().into_iter().filter(|o| o["kind"] == kind).collect::<Vec<_>>();
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found.remove(0)
}

#[track_caller]
pub fn str_at<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what}: not a string: {v:?}"))
}

#[track_caller]
pub fn seq<'a>(v: &'a Value, what: &str) -> &'a [Value] {
    v.as_sequence().map(Vec::as_slice).unwrap_or_else(|| panic!("{what}: not a list: {v:?}"))
}

pub fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A path of the Python interpreter's scripts directory (where pip puts
/// console scripts), for tools that may not be on PATH.
pub fn python_script(name: &str) -> Option<PathBuf> {
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

pub fn prometheus_yml() -> String {
    let config_map = object("ConfigMap");
    str_at(&config_map["data"]["prometheus.yml"], "data.prometheus.yml").to_owned()
}

pub fn without_host_metrics() -> String {
    let mut config: Value = serde_yaml::from_str(&prometheus_yml()).unwrap();
    config.as_mapping_mut().unwrap().remove("host_metrics").expect("a host_metrics block");
    serde_yaml::to_string(&config).unwrap()
}

#[track_caller]
pub fn check_config(config: &str, node_name: Option<&str>) -> Output {
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

/// A Prometheus size (`1536MB`, units of 1024 as Prometheus reads them).
pub fn prometheus_size(s: &str) -> u64 {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let shift = ["B", "KB", "MB", "GB", "TB"].iter().position(|u| *u == unit).expect(s);
    n.parse::<u64>().unwrap() << (10 * shift)
}

/// A Kubernetes quantity with a binary suffix (`2Gi`).
pub fn quantity(s: &str) -> u64 {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let shift = ["", "Ki", "Mi", "Gi", "Ti"].iter().position(|u| *u == unit).expect(s);
    n.parse::<u64>().unwrap() << (10 * shift)
}

/// The volume mounted at `path` in the tern container.
#[track_caller]
pub fn volume_at<'a>(pod: &'a Value, path: &str) -> &'a Value {
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
pub fn arg<'a>(args: &'a [Value], flag: &str) -> &'a str {
    let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("no {flag}"));
    str_at(&args[at + 1], flag)
}
