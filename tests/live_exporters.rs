//! Real exporters running on 127.0.0.1, scraped over HTTP and parsed by tern:
//! Debian's `prometheus-node-exporter` and a `prometheus_client` Python app
//! (both installed by `scripts/test.sh`).

mod support;

use support::{free_port, spawn_quiet, wait_for_200};
use tern::exposition::{group_families, Format, MetricType, Parser};

const OPENMETRICS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0";
const TEXT_ACCEPT: &str = "text/plain;version=0.0.4";

#[test]
fn node_exporter_live_body_parses_into_families() {
    let port = free_port();
    let _exporter = spawn_quiet(
        "prometheus-node-exporter",
        &[format!("--web.listen-address=127.0.0.1:{port}")],
    );
    let (_, body) = wait_for_200(port, "/metrics", TEXT_ACCEPT, 20);
    let families = group_families(Parser::new(Format::Text, &body))
        .unwrap_or_else(|e| panic!("node_exporter body does not parse: {e}"));
    let samples: usize = families.iter().map(|f| f.samples.len()).sum();
    assert!(samples > 200, "only {samples} samples");
    let cpu = families
        .iter()
        .find(|f| f.name == "node_cpu_seconds_total")
        .expect("node_cpu_seconds_total family");
    assert_eq!(cpu.kind, MetricType::Counter);
    assert!(cpu.help.is_some());
    let idle = cpu
        .samples
        .iter()
        .find(|s| s.labels().any(|l| l.name == "mode" && l.value == "idle"))
        .expect("an idle CPU sample");
    assert!(idle.value > 0.0);
    let build = families
        .iter()
        .find(|f| f.name == "node_exporter_build_info")
        .expect("node_exporter_build_info family");
    assert!(build.samples[0].labels().any(|l| l.name == "version" && !l.value.is_empty()));
    println!("node_exporter: {} families, {samples} samples", families.len());
}

#[test]
fn python_client_live_bodies_parse_in_both_formats() {
    let port = free_port();
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/python_client_app.py");
    let _app = spawn_quiet("python3", &[app.to_owned(), "serve".to_owned(), port.to_string()]);

    let (head, text_body) = wait_for_200(port, "/metrics", TEXT_ACCEPT, 20);
    assert!(head.contains("text/plain"), "text content type: {head}");
    let text = group_families(Parser::new(Format::Text, &text_body))
        .unwrap_or_else(|e| panic!("text body does not parse: {e}"));

    let (head, om_body) = wait_for_200(port, "/metrics", OPENMETRICS_ACCEPT, 20);
    assert!(head.contains("application/openmetrics-text"), "OpenMetrics content type: {head}");
    let om = group_families(Parser::new(Format::OpenMetrics, &om_body))
        .unwrap_or_else(|e| panic!("OpenMetrics body does not parse: {e}"));

    // The text body is not OpenMetrics (no `# EOF`), and the parser says so.
    assert!(group_families(Parser::new(Format::OpenMetrics, &text_body)).is_err());

    let hist = om.iter().find(|f| f.kind == MetricType::Histogram).expect("a histogram family");
    let inf = hist
        .samples
        .iter()
        .find(|s| s.labels().any(|l| l.name == "le" && l.value == "+Inf"))
        .expect("+Inf bucket");
    let count = hist.samples.iter().find(|s| s.name.ends_with("_count")).expect("_count");
    assert_eq!(inf.value, count.value);
    let om_samples: usize = om.iter().map(|f| f.samples.len()).sum();
    let text_samples: usize = text.iter().map(|f| f.samples.len()).sum();
    assert!(om_samples > 50 && text_samples > 50, "{om_samples} / {text_samples}");
    println!("python client: text {text_samples} samples, OpenMetrics {om_samples} samples");
}
