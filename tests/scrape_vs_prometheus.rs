//! Side by side with Debian's Prometheus 2.42: the same config, the same real
//! targets (prometheus-node-exporter, a prometheus_client Python app, a
//! Java-style body with trailing commas and clashing labels served on
//! 127.0.0.1). The set of label sets tern produces (automatic series and
//! `exported_` labels included) must equal the set Prometheus stores, read
//! from its `/api/v1/series`.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::prometheus::{Prometheus, Series};
use support::target_server::{Reply, TargetServer};
use support::{free_port, now_secs, spawn_quiet, wait_for_200};
use tern::exposition::STALE_NAN_BITS;

const JAVA_BODY: &str = concat!(
    "# HELP http_requests_total Total requests.\n",
    "# TYPE http_requests_total counter\n",
    "http_requests_total{job=\"recommender\",path=\"/user/product\",} 86.0\n",
    "http_requests_total{path=\"/search,q}\",job=\"recommender\",} 3.0\n",
    "# TYPE clash gauge\n",
    "clash{instance=\"inner\",exported_job=\"taken\",job=\"app\",} 1.0\n",
    "escapes{v=\"a\\\\b\\\"c\\nd\",} 2\n",
    "rpc_duration_seconds{quantile=\"0.5\",} 7.0E-6\n",
    "request_size_bytes_bucket{le=\"100.0\",} 2.0\n",
    "request_size_bytes_bucket{le=\"+Inf\",} 6.0\n",
    "dropped_by_metric_relabel 1\n",
);

fn config(node: u16, python: u16, java: std::net::SocketAddr) -> String {
    format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  external_labels: {{replica: a}}
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:{node}"]
        labels: {{env: test}}
  - job_name: python
    static_configs:
      - targets: ["127.0.0.1:{python}"]
  - job_name: java
    static_configs:
      - targets: ["{java}"]
    metric_relabel_configs:
      - {{source_labels: [__name__], regex: dropped_by_metric_relabel, action: drop}}
      - {{source_labels: [path], regex: '/(.*)/.*', target_label: area}}
  - job_name: java_honor
    honor_labels: true
    static_configs:
      - targets: ["{java}"]
    relabel_configs:
      - {{source_labels: [__address__], regex: '(.*):.*', target_label: host}}
"#
    )
}

fn to_series(labels: &tern::labels::Labels) -> Series {
    labels.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tern_produces_the_series_prometheus_stores() {
    let node_port = free_port();
    let _node = spawn_quiet(
        "prometheus-node-exporter",
        &[format!("--web.listen-address=127.0.0.1:{node_port}")],
    );
    let python_port = free_port();
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/python_client_app.py");
    let _python =
        spawn_quiet("python3", &[app.to_owned(), "serve".to_owned(), python_port.to_string()]);
    let java = TargetServer::start(Reply::text(JAVA_BODY)).await;
    wait_for_200(node_port, "/metrics", "*/*", 20);
    wait_for_200(python_port, "/metrics", "*/*", 20);

    let yaml = config(node_port, python_port, java.addr);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, &yaml).unwrap();

    let start = now_secs() - 1.0;
    let prometheus = Prometheus::start(&yaml).await;
    let (sink, mut batches) = tokio::sync::mpsc::channel(1024);
    let tern = tern::app::start(path, None, sink).await.expect("tern starts");
    let collector = tokio::spawn(async move {
        let mut seen = BTreeSet::new();
        while let Some(batch) = batches.recv().await {
            for s in batch.samples {
                if s.value.to_bits() != STALE_NAN_BITS {
                    seen.insert(to_series(s.series.labels()));
                }
            }
        }
        seen
    });
    tokio::time::sleep(Duration::from_secs(6)).await;
    tern.shutdown().await;
    let ours = tokio::time::timeout(Duration::from_secs(10), collector)
        .await
        .expect("collector ends")
        .unwrap();
    // Prometheus' last scrapes are in the head block: give it a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let theirs: BTreeSet<Series> =
        prometheus.series(r#"{__name__=~".+"}"#, start).await.into_iter().collect();
    // Samples with explicit timestamps from 2014 (`demo_timestamped_value`)
    // are outside a Prometheus server's head block and rejected as out of
    // bounds; an agent forwards them (Prometheus' agent mode does too).
    let ours: BTreeSet<Series> = ours
        .into_iter()
        .filter(|s| s.get("__name__").map(String::as_str) != Some("demo_timestamped_value"))
        .collect();

    let only_ours: Vec<_> = ours.difference(&theirs).take(20).collect();
    let only_theirs: Vec<_> = theirs.difference(&ours).take(20).collect();
    println!("tern: {} series, prometheus: {} series", ours.len(), theirs.len());
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "series differ\nonly tern: {only_ours:#?}\nonly prometheus: {only_theirs:#?}"
    );
    assert!(ours.len() > 300, "too few series: {}", ours.len());
    // The cases this test is about are in the common set.
    let has = |pairs: &[(&str, &str)]| {
        ours.iter().any(|s| pairs.iter().all(|(k, v)| s.get(*k).map(String::as_str) == Some(*v)))
    };
    assert!(has(&[
        ("__name__", "clash"),
        ("job", "java"),
        ("exported_instance", "inner"),
        ("exported_job", "taken"),
        ("exported_exported_job", "app")
    ]));
    assert!(has(&[
        ("__name__", "clash"),
        ("job", "app"),
        ("instance", "inner"),
        ("host", "127.0.0.1")
    ]));
    assert!(has(&[("__name__", "request_size_bytes_bucket"), ("le", "100.0")]));
    assert!(has(&[("__name__", "http_requests_total"), ("area", "user")]));
    assert!(has(&[("__name__", "escapes"), ("v", "a\\b\"c\nd")]));
    assert!(has(&[("__name__", "scrape_series_added"), ("job", "python")]));
    assert!(!has(&[("__name__", "dropped_by_metric_relabel"), ("job", "java")]));
}
