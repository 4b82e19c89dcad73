//! `tern hostmetrics`: flags as node_exporter's, `--config`, and a failing
//! collector reported as `success 0` with a log line while the others carry on.

use std::process::{Command, Output};

fn tern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("hostmetrics")
        .args(args)
        .env("TERN_LOG", "info")
        .output()
        .expect("run tern hostmetrics")
}

#[test]
fn a_failing_collector_reports_success_0_and_logs_while_the_others_carry_on() {
    let empty = tempfile::tempdir().unwrap();
    let procfs = empty.path().display().to_string();
    let out = tern(&["--path.procfs", &procfs, "--collectors", "meminfo,uname"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout.contains("node_scrape_collector_success{collector=\"meminfo\"} 0\n"),
        "{stdout}"
    );
    assert!(stdout.contains("node_scrape_collector_success{collector=\"uname\"} 1\n"), "{stdout}");
    assert!(stdout.contains("node_uname_info{"), "{stdout}");
    assert!(!stdout.contains("node_memory_"), "{stdout}");
    assert!(stderr.contains("collector failed"), "{stderr}");
    assert!(stderr.contains(&format!("{procfs}/meminfo")), "{stderr}");
}

#[test]
fn flags_and_config_choose_collectors_roots_and_textfiles() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tf")).unwrap();
    std::fs::write(dir.path().join("tf/a.prom"), "tern_cli_test 5\n").unwrap();
    let config = dir.path().join("tern.yml");
    std::fs::write(
        &config,
        "host_metrics:\n  collectors: [textfile, loadavg]\n  textfile_directory: tf\n",
    )
    .unwrap();
    let out = tern(&["--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("\ntern_cli_test 5\n"), "{stdout}");
    assert!(stdout.contains("node_load1 "), "{stdout}");
    assert!(stdout.contains("node_textfile_scrape_error 0\n"), "{stdout}");
    assert!(!stdout.contains("node_cpu_seconds_total"), "{stdout}");

    let out = tern(&["--collectors", "cpu,gpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown collector \"gpu\""));
    assert!(out.stdout.is_empty());

    let out = tern(&[]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let families = stdout.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert!(families > 100, "{families} families");
    assert_eq!(stdout.matches("node_scrape_collector_success{").count(), 18);
}
