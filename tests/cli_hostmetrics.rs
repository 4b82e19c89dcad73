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

    // node_exporter's rules for its collector flags: a bad regex, or an
    // include next to the (default) exclude, is refused naming the flag.
    let out = tern(&["--collectors", "netdev", "--collector.netdev.device-include", "^eth"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "--collector.netdev.device-*: device-exclude & device-include are mutually exclusive"
        ),
        "{stderr}"
    );
    let out =
        tern(&["--collectors", "filesystem", "--collector.filesystem.mount-points-exclude", "("]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--collector.filesystem.mount-points-exclude: regex parse error"),
        "{stderr}"
    );
    let out = tern(&[
        "--collectors",
        "netdev",
        "--collector.netdev.device-exclude=",
        "--collector.netdev.device-include=^lo$",
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("node_network_receive_bytes_total{device=\"lo\"}"), "{stdout}");
    assert_eq!(stdout.matches("node_network_receive_bytes_total{").count(), 1, "{stdout}");

    let out = tern(&[]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let families = stdout.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert!(families > 100, "{families} families");
    assert_eq!(stdout.matches("node_scrape_collector_success{").count(), 18);
}

fn tree_args(tree: &str) -> Vec<String> {
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hostmetrics");
    let dir = if tree.is_empty() { base.to_owned() } else { format!("{base}/{tree}") };
    ["procfs", "sysfs", "rootfs"]
        .iter()
        .zip(["proc", "sys", "root"])
        .map(|(flag, sub)| format!("--path.{flag}={dir}/{sub}"))
        .collect()
}

#[test]
fn the_captured_fixture_tree_as_roots_feeds_every_collector() {
    let args = tree_args("");
    let out = tern(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    for c in tern::hostmetrics::names() {
        let line = format!("node_scrape_collector_success{{collector=\"{c}\"}} 1\n");
        assert!(
            stdout.contains(&line),
            "{c} failed on the fixture tree:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meminfo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hostmetrics/proc/meminfo"
    ))
    .unwrap();
    let kb: f64 =
        meminfo.lines().next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let total = tern::exposition::format_value(kb * 1024.0);
    assert!(stdout.contains(&format!("\nnode_memory_MemTotal_bytes {total}\n")), "{stdout}");
    assert!(stdout.contains("version_codename=\"bookworm\""), "{stdout}");
}

#[test]
fn a_truncated_tree_fails_each_reading_collector_naming_file_and_line() {
    let args = tree_args("truncated");
    let out = tern(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    // Every captured file is cut mid-line; cpu's lines come before the cut in
    // proc/stat, uname reads no file and textfile has no directory.
    let file_and_line =
        regex::Regex::new(r"tests/data/hostmetrics/truncated/[^ :]+:[0-9]+: ").unwrap();
    for c in tern::hostmetrics::names() {
        let ok = matches!(c, "cpu" | "uname" | "textfile");
        let line = format!("node_scrape_collector_success{{collector=\"{c}\"}} {}\n", u8::from(ok));
        assert!(stdout.contains(&line), "want {line}");
        if !ok {
            let logged = stderr
                .lines()
                .find(|l| l.contains(&format!("collector=\"{c}\"")))
                .unwrap_or_else(|| panic!("no log line for {c}:\n{stderr}"));
            assert!(file_and_line.is_match(logged), "{logged}");
        }
    }
}
