//! `tern parse` as users and scripts call it: the real binary, real files and
//! standard input.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::{data, read_json_lines, same_value};

fn tern(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tern");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or_default()).expect("write stdin");
    drop(pipe);
    child.wait_with_output().expect("wait for tern")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

#[test]
fn prints_one_json_object_per_sample_in_the_documented_shape() {
    let body = b"# TYPE up gauge\nup{job=\"x\"} 1 1700000000000\nm{le=\"1\"} NaN\nn +Inf\no -Inf\np 0.25\n";
    let out = tern(&["parse"], Some(body));
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout(&out),
        concat!(
            r#"{"labels":{"__name__":"up","job":"x"},"value":"1","timestamp_ms":1700000000000}"#,
            "\n",
            r#"{"labels":{"__name__":"m","le":"1"},"value":"NaN","timestamp_ms":null}"#,
            "\n",
            r#"{"labels":{"__name__":"n"},"value":"+Inf","timestamp_ms":null}"#,
            "\n",
            r#"{"labels":{"__name__":"o"},"value":"-Inf","timestamp_ms":null}"#,
            "\n",
            r#"{"labels":{"__name__":"p"},"value":"0.25","timestamp_ms":null}"#,
            "\n",
        )
    );
}

#[test]
fn reads_a_file_argument_and_agrees_with_the_independent_parse() {
    let path = data("node_exporter.prom");
    let out = tern(&["parse", "--format", "text", path.to_str().unwrap()], None);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let got = read_json_lines(&stdout(&out));
    let want = read_json_lines(
        &std::fs::read_to_string(data("node_exporter.prom.expected.jsonl")).unwrap(),
    );
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.labels, w.labels);
        assert!(same_value(g.value, w.value), "{:?}: {} vs {}", g.labels, g.value, w.value);
        assert_eq!(g.timestamp_ms, w.timestamp_ms);
    }
}

#[test]
fn openmetrics_format_is_selected_by_flag() {
    let body = b"# TYPE a counter\na_total 1 1.5\n# EOF\n";
    let out = tern(&["parse", "--format", "openmetrics"], Some(body));
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout(&out),
        "{\"labels\":{\"__name__\":\"a_total\"},\"value\":\"1\",\"timestamp_ms\":1500}\n"
    );
    // The same body without `# EOF` is not OpenMetrics.
    let out = tern(&["parse", "--format", "openmetrics"], Some(b"# TYPE a counter\na_total 1\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn invalid_input_exits_1_with_the_line_and_prints_no_samples() {
    let out = tern(&["parse"], Some(b"good 1\nalso_good 2\nbad{x=\"1\" 3\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("line 3: "), "stderr: {err}");
    assert!(err.contains("expected"), "stderr: {err}");
}

#[test]
fn duplicate_label_names_are_an_error() {
    let out = tern(&["parse"], Some(b"ok 1\nm{a=\"1\",a=\"2\"} 1\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("line 2: duplicate label name"), "stderr: {err}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = tern(&["parse", "/nonexistent/metrics.prom"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/metrics.prom"), "stderr: {err}");
}
