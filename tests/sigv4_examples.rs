//! The AMP examples in `examples/aws/` are valid configs (`tern check-config`
//! accepts them), and the EKS manifest's ConfigMap holds the same config as
//! `eks-irsa/tern.yml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/aws")
}

#[track_caller]
fn check_config(path: &Path) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_tern")).arg("check-config").arg(path).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {text}", path.display());
    assert!(text.contains("1 remote_write endpoint"), "{text}");
}

#[test]
fn every_aws_example_config_is_valid() {
    let mut n = 0;
    for dir in std::fs::read_dir(examples()).unwrap() {
        let config = dir.unwrap().path().join("tern.yml");
        if config.exists() {
            check_config(&config);
            let text = std::fs::read_to_string(&config).unwrap();
            assert!(
                text.contains("sigv4:") && !text.contains("secret_key"),
                "{}",
                config.display()
            );
            n += 1;
        }
    }
    assert_eq!(n, 3, "EC2, on-premises, EKS");
}

#[test]
fn the_eks_manifest_carries_the_same_config() {
    let manifest = std::fs::read_to_string(examples().join("eks-irsa/kubernetes.yaml")).unwrap();
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&manifest)
        .map(|d| serde_yaml::Value::deserialize(d).unwrap())
        .collect();
    let config_map = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("a ConfigMap");
    let embedded = config_map["data"]["tern.yml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tern.yml");
    std::fs::write(&path, embedded).unwrap();
    check_config(&path);
    let file = std::fs::read_to_string(examples().join("eks-irsa/tern.yml")).unwrap();
    let parse = |s: &str| serde_yaml::from_str::<serde_yaml::Value>(s).unwrap();
    assert_eq!(parse(embedded), parse(&file));
    let sa = docs.iter().find(|d| d["kind"] == "ServiceAccount").expect("a ServiceAccount");
    assert!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].as_str().is_some());
}
