//! `tern check-config` as users call it: the real binary on real files.

use std::process::Command;

fn check(yaml: &str) -> (Option<i32>, String, String, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run tern");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (out.status.code(), stdout, stderr, path, dir)
}

#[test]
fn a_valid_config_prints_a_one_line_summary() {
    let (code, stdout, _, path, _dir) = check(
        "global: {scrape_interval: 15s}\nscrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['h:1', 'h:2']}]\n",
    );
    assert_eq!(code, Some(0));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!("{}: OK: 1 scrape config, 2 static targets", path.display())),
        "{stdout}"
    );
}

#[test]
fn a_misspelled_key_is_reported_with_file_line_and_column() {
    let (code, stdout, stderr, path, _dir) =
        check("scrape_configs:\n  - job_name: a\n    scrape_intervall: 15s\n    static_configs: [{targets: ['h:1']}]\n");
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    let prefix = format!("{}:3:", path.display());
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(stderr.contains("scrape_intervall"), "{stderr}");
}

#[test]
fn semantic_errors_point_at_the_offending_job() {
    let (code, _, stderr, path, _dir) = check(concat!(
        "scrape_configs:\n",
        "  - job_name: a\n",
        "    static_configs: [{targets: ['h:1']}]\n",
        "  - job_name: a\n",
        "    scrape_interval: 5s\n",
        "    scrape_timeout: 10s\n",
    ));
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&format!("{}:4:", path.display())), "{stderr}");
    assert!(stderr.contains(r#"found multiple scrape configs with job name "a""#), "{stderr}");
    assert!(stderr.contains("scrape timeout greater than scrape interval"), "{stderr}");
}

#[test]
fn keys_an_agent_does_not_use_are_accepted_with_a_warning() {
    let (code, stdout, stderr, _, _dir) =
        check("rule_files: ['rules.yml']\nalerting: {alertmanagers: []}\nscrape_configs: []\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(": OK: "), "{stdout}");
    assert!(stderr.contains("rule_files"), "{stderr}");
    assert!(stderr.contains("alerting"), "{stderr}");
}
