//! `tern run` with `kubernetes_sd_configs` against a STAND-IN Kubernetes API
//! server (tests/support/k8s_standin.py, not a live cluster): a pod whose
//! IP and container port point at a real target on 127.0.0.1 is scraped and
//! shown by `/api/v1/targets` with its discovered labels; once the pod is
//! deleted it leaves `/api/v1/targets`, its series get stale markers at a
//! real remote-write receiver, and it is not scraped any more.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::agent::{is_stale, SMALL_BODY};
use support::k8s_standin::K8sStandin;
use support::receiver::{then_ok, Receiver, Request};
use support::target_server::{Reply, TargetServer};
use support::tern_process::TernSetup;

const WAIT: Duration = Duration::from_secs(15);

fn pod(name: &str, port: u16) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "apps", "uid": format!("uid-{name}"),
                     "labels": {"app": "web"}, "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "app:1",
                 "ports": [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

fn config(api: &K8sStandin, receiver: &Receiver) -> String {
    format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        api_server: {}
        namespaces: {{names: [apps]}}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        action: keep
        regex: 'true'
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
remote_write:
  - url: {}
    queue_config:
      batch_send_deadline: 100ms
",
        api.url(),
        receiver.url()
    )
}

async fn targets_api(url: &str) -> Value {
    let r = reqwest::get(url).await.expect("GET /api/v1/targets");
    r.json().await.expect("targets JSON")
}

/// Polls `/api/v1/targets` until `want` holds for the active targets.
async fn wait_targets(url: &str, what: &str, want: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = targets_api(url).await;
        let active = v["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        if want(&active) {
            return active;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {v:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Samples of series with `pod="web-1"`: (series key, timestamp, value).
fn pod_samples(requests: &[Request]) -> Vec<(String, i64, f64)> {
    let mut out = Vec::new();
    for r in requests {
        for s in r.series.iter().filter(|s| s.label("pod") == Some("web-1")) {
            out.extend(s.samples.iter().map(|(t, v)| (s.key(), *t, *v)));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_pod_leaves_the_targets_and_its_series_go_stale() {
    let target = TargetServer::start(Reply::text(SMALL_BODY)).await;
    let receiver = Receiver::start(then_ok(vec![])).await;
    let api = K8sStandin::start();
    api.apply("pods", pod("web-1", target.addr.port())).await;
    let mut setup = TernSetup::new(&config(&api, &receiver));
    let tern = setup.start().await;
    let url = tern.url("/api/v1/targets");
    let scrape_url = format!("http://127.0.0.1:{}/metrics", target.addr.port());

    let active = wait_targets(&url, "the pod's target up", |a| {
        a.iter().any(|t| t["scrapeUrl"] == scrape_url.as_str() && t["health"] == "up")
    })
    .await;
    let t = &active[0];
    assert_eq!(t["labels"]["pod"], "web-1");
    assert_eq!(t["labels"]["job"], "pods");
    let discovered = &t["discoveredLabels"];
    assert_eq!(discovered["__meta_kubernetes_pod_name"], "web-1");
    assert_eq!(discovered["__meta_kubernetes_namespace"], "apps");
    assert_eq!(discovered["__meta_kubernetes_pod_container_port_name"], "metrics");
    assert_eq!(discovered["__meta_kubernetes_pod_ready"], "true");

    // A second pod becomes a target within a second of its watch event.
    let second = TargetServer::start(Reply::text(SMALL_BODY)).await;
    let second_url = format!("http://127.0.0.1:{}/metrics", second.addr.port());
    api.apply("pods", pod("web-2", second.addr.port())).await;
    let added = Instant::now();
    wait_targets(&url, "the second pod's target", |a| {
        a.iter().any(|t| t["scrapeUrl"] == second_url.as_str())
    })
    .await;
    let added_after = added.elapsed();
    eprintln!("the added pod reached /api/v1/targets after {added_after:?}");
    assert!(added_after < Duration::from_secs(1), "took {added_after:?}");

    // Samples of the pod arrive; then it is deleted.
    receiver.wait_for("samples of the pod", WAIT, |r| !pod_samples(r).is_empty()).await;
    api.delete("pods", "apps", "web-1").await;
    let deleted = Instant::now();
    wait_targets(&url, "only the second pod", |a| {
        a.len() == 1 && a[0]["scrapeUrl"] == second_url.as_str()
    })
    .await;
    let gone_after = deleted.elapsed();
    eprintln!("the deleted pod left /api/v1/targets after {gone_after:?}");
    assert!(gone_after < Duration::from_secs(1), "took {gone_after:?}");

    // Every series of the pod ends with a stale marker.
    let requests = receiver
        .wait_for("stale markers of the pod", WAIT, |r| {
            pod_samples(r).iter().any(|(_, _, v)| is_stale(*v))
        })
        .await;
    let samples = pod_samples(&requests);
    let mut series: Vec<&String> = samples.iter().map(|(k, _, _)| k).collect();
    series.sort();
    series.dedup();
    assert!(series.iter().any(|k| k.contains("\"up\"")), "{series:?}");
    for key in &series {
        let last = samples.iter().filter(|(k, _, _)| k == *key).max_by_key(|(_, t, _)| *t).unwrap();
        assert!(is_stale(last.2), "series {key} does not end stale: {last:?}");
    }
    // And the target is no longer scraped.
    let scrapes = target.requests().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(target.requests().len(), scrapes, "the deleted pod is still scraped");
}
