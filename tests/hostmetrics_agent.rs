//! The `host_metrics:` block in `tern run`: the host job is a target in
//! `/api/v1/targets`, its samples go through metric_relabel_configs, get the
//! automatic series, and arrive at a real Prometheus 2.42 remote-write
//! receiver; a reload picks up a changed block.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::prom_receiver::PromReceiver;
use support::tern_process::{TernProcess, TernSetup};

fn config(receiver: &PromReceiver, instance: &str, relabel_drop: &str) -> String {
    format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n\
         host_metrics:\n  instance: '{instance}'\n  collectors: [cpu, meminfo, loadavg, uname]\n  \
         metric_relabel_configs:\n  - {{source_labels: [__name__], regex: '{relabel_drop}', action: drop}}\n\
         remote_write:\n- url: {}\n  queue_config: {{batch_send_deadline: 100ms}}\n",
        receiver.write_url()
    )
}

/// The host job's active target, once it has been scraped with `health`.
async fn host_target(tern: &TernProcess, instance: &str) -> Value {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value =
            client.get(tern.url("/api/v1/targets")).send().await.unwrap().json().await.unwrap();
        let found = body["data"]["activeTargets"].as_array().and_then(|ts| {
            ts.iter()
                .find(|t| t["labels"]["job"] == "node" && t["labels"]["instance"] == instance)
                .cloned()
        });
        if let Some(t) = found.filter(|t| t["health"] == "up") {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "no healthy host target {instance:?}: {body}\n{}",
            tern.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (at most 30 s) until the receiver holds a sample for `selector`.
async fn wait_series(
    receiver: &PromReceiver,
    selector: &str,
) -> Vec<support::prom_receiver::RangeSeries> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = receiver.range(&format!("{selector}[10m]")).await;
        if !got.is_empty() {
            return got;
        }
        assert!(Instant::now() < deadline, "receiver has no {selector}:\n{}", receiver.log());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn mem_total_bytes() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() * 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_job_is_a_target_relabeled_and_remote_written_and_reloads() {
    let mut receiver = PromReceiver::new();
    receiver.start().await;
    let mut setup = TernSetup::new(&config(&receiver, "box-1", "node_cpu_guest_seconds_total"));
    let tern = setup.start().await;

    let target = host_target(&tern, "box-1").await;
    assert_eq!(target["scrapePool"], "node", "{target}");
    assert_eq!(target["scrapeUrl"], "host:///metrics", "{target}");
    assert_eq!(target["lastError"], "", "{target}");

    let sel = |name: &str| format!("{name}{{job=\"node\",instance=\"box-1\"}}");
    let up = wait_series(&receiver, &sel("up")).await;
    assert!(up[0].1.iter().all(|&(_, v)| v == 1.0), "up: {up:?}");
    let mem = wait_series(&receiver, &sel("node_memory_MemTotal_bytes")).await;
    assert_eq!(mem[0].1[0].1, mem_total_bytes());
    let cpu = wait_series(&receiver, &sel("node_cpu_seconds_total")).await;
    assert!(cpu.iter().any(|(l, _)| l.get("mode").map(String::as_str) == Some("idle")), "{cpu:?}");
    wait_series(&receiver, &sel("node_uname_info")).await;
    let success = wait_series(&receiver, &sel("node_scrape_collector_success")).await;
    assert_eq!(success.len(), 4, "one per configured collector: {success:?}");
    wait_series(&receiver, &sel("scrape_samples_post_metric_relabeling")).await;
    // metric_relabel_configs dropped the guest family; no other collector ran.
    assert!(receiver
        .range(&format!("{}[10m]", sel("node_cpu_guest_seconds_total")))
        .await
        .is_empty());
    assert!(receiver.range(&format!("{}[10m]", sel("node_time_seconds"))).await.is_empty());

    // Reload with a changed block: new instance, memory dropped instead.
    setup.write_config(&config(&receiver, "box-2", "node_memory_.*"));
    let resp = reqwest::Client::new().post(tern.url("/-/reload")).send().await.unwrap();
    assert!(resp.status().is_success(), "reload: {}", resp.text().await.unwrap());
    host_target(&tern, "box-2").await;
    let sel2 = |name: &str| format!("{name}{{job=\"node\",instance=\"box-2\"}}");
    wait_series(&receiver, &sel2("node_cpu_guest_seconds_total")).await;
    wait_series(&receiver, &sel2("node_load1")).await;
    assert!(receiver
        .range(&format!("{}[10m]", sel2("node_memory_MemTotal_bytes")))
        .await
        .is_empty());
    // The old instance is no longer collected (Prometheus' range queries
    // hide the stale markers, so check that its samples stopped).
    let last = |r: Vec<support::prom_receiver::RangeSeries>| r[0].1.last().map(|p| p.0);
    let before = last(receiver.range(&format!("{}[10m]", sel("up"))).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = last(receiver.range(&format!("{}[10m]", sel("up"))).await);
    assert_eq!(before, after, "box-1 still collected after the reload");
}
