//! Config reload (through the handle, as SIGHUP does, and `POST /-/reload`),
//! restarts and scrape timing, end to end against real targets on 127.0.0.1.
//!
//! What a reload must do, as Prometheus' scrape manager does: targets that go
//! away get stale markers for every series of their last scrape and their
//! automatic series; targets that stay keep being scraped with no stale
//! marker; a changed job restarts its targets, and only series that end get
//! stale markers; an invalid config is refused and the running one stays.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use support::agent::{config, job, Agent, BatchExt};
use support::target_server::{Reply, TargetServer};
use tern::scrape::ScrapeBatch;

const BODY: &str = support::agent::SMALL_BODY;

fn inst(addr: SocketAddr) -> String {
    addr.to_string()
}

/// Every series a scrape batch names: scraped ones and automatic ones.
fn all_series(b: &ScrapeBatch) -> BTreeSet<String> {
    b.samples.iter().map(|s| s.series.to_string()).collect()
}

/// Asserts that no batch of `instance` holds a stale marker.
#[track_caller]
fn assert_never_stale(batches: &[ScrapeBatch], instance: &str) {
    for b in batches.iter().filter(|b| b.instance() == instance) {
        assert!(b.stale().is_empty(), "{instance} got stale markers: {:?}", b.stale());
    }
}

fn active_urls(api: &serde_json::Value) -> BTreeSet<String> {
    api["data"]["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .map(|t| t["scrapeUrl"].as_str().unwrap().to_owned())
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Handle,
    Http,
}

/// Targets A and B, then a config with A and C, applied `via`.
async fn reload_replaces_b_with_c(via: Via) {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let b = TargetServer::start(Reply::text(BODY)).await;
    let c = TargetServer::start(Reply::text(BODY)).await;
    let (ia, ib, ic) = (inst(a.addr), inst(b.addr), inst(c.addr));
    let agent = Agent::start(&config(&[job("app", &[a.addr, b.addr], "")])).await;
    agent.batches.next_with_up(0, &ia, 1.0).await;
    agent.batches.next_with_up(0, &ib, 1.0).await;

    agent.write_config(&config(&[job("app", &[a.addr, c.addr], "")]));
    let mark = agent.batches.len();
    match via {
        Via::Handle => agent.reload().await.expect("reload succeeds"),
        Via::Http => assert_eq!(agent.post("/-/reload").await, (200, "config reloaded\n".into())),
    }

    // B: one batch of stale markers for its last scrape's series and its
    // automatic series, then nothing.
    let (gone_at, gone) = agent
        .batches
        .wait_for(mark, "stale markers of B", |x| x.instance() == ib && !x.stale().is_empty())
        .await;
    assert_eq!(gone.up(), None, "B's final batch holds only stale markers");
    let last_b = agent.batches.since(0)[..gone_at]
        .iter()
        .rev()
        .find(|x| x.instance() == ib && x.up().is_some())
        .cloned()
        .expect("B was scraped");
    assert_eq!(gone.stale(), all_series(&last_b));
    assert_eq!(gone.samples.len(), all_series(&last_b).len());
    let at = gone.samples[0].timestamp_ms;
    assert!(gone.samples.iter().all(|s| s.timestamp_ms == at), "one timestamp for the markers");
    assert!(at >= last_b.scrape_ms().unwrap());

    // C starts; A goes on.
    let (c_at, c_first) = agent.batches.next_with_up(mark, &ic, 1.0).await;
    assert_eq!(c_first.value("scrape_series_added"), Some(3.0));
    for x in agent.batches.scrapes(c_at, &ia, 2).await {
        assert_eq!(x.up(), Some(1.0));
        assert_eq!(x.scraped().len(), 3);
    }
    let all = agent.batches.since(0);
    assert_never_stale(&all, &ia);
    assert_never_stale(&all, &ic);
    assert!(all[gone_at + 1..].iter().all(|x| x.instance() != ib), "B scraped after removal");
    let urls = active_urls(&agent.targets_api("").await);
    assert_eq!(urls, BTreeSet::from([a.url(), c.url()]));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_through_the_handle_ends_removed_targets_only() {
    reload_replaces_b_with_c(Via::Handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_over_http_ends_removed_targets_only() {
    reload_replaces_b_with_c(Via::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_reload_is_refused_and_scraping_goes_on() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let ia = inst(a.addr);
    let good = config(&[job("app", &[a.addr], "")]);
    let agent = Agent::start(&good).await;
    agent.batches.next_with_up(0, &ia, 1.0).await;

    // A YAML syntax error, then a config that parses but is invalid.
    agent.write_config("scrape_configs: [\n");
    let err = agent.reload().await.expect_err("a broken config is refused");
    assert!(!err.is_empty());
    agent.write_config(&config(&[job("app", &[a.addr], "scrape_timeout: 5s")]));
    let err = agent.reload().await.expect_err("timeout over interval is refused");
    assert!(err.contains("prometheus.yml:"), "the error names the file: {err}");
    assert!(err.contains("scrape timeout greater than scrape interval"), "{err}");
    let (status, body) = agent.post("/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("failed to reload config: "), "{body}");

    let mark = agent.batches.len();
    for x in agent.batches.scrapes(mark, &ia, 2).await {
        assert_eq!(x.up(), Some(1.0));
    }
    assert_never_stale(&agent.batches.since(0), &ia);
    let t = agent.active_target(&a.url()).await.expect("A still listed");
    assert_eq!(t["health"], "up");

    // The fixed file is taken.
    agent.write_config(&good);
    agent.reload().await.expect("a good config reloads");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_job_restarts_its_targets_without_stale_markers_for_continuing_series() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let ia = inst(a.addr);
    let agent = Agent::start(&config(&[job("app", &[a.addr], "")])).await;
    let (_, before) = agent.batches.next_with_up(0, &ia, 1.0).await;
    assert!(before.value("temperature_celsius").is_some());

    let drop_rule = "metric_relabel_configs:\n  - {source_labels: [__name__], regex: temperature_celsius, action: drop}";
    agent.write_config(&config(&[job("app", &[a.addr], drop_rule)]));
    let mark = agent.batches.len();
    agent.reload().await.expect("reload succeeds");

    // The first scrape under the new rule marks the dropped series stale,
    // and only that one.
    let (i, first) = agent
        .batches
        .wait_for(mark, "a scrape of A without temperature_celsius", |x| {
            x.instance() == ia && x.up().is_some() && x.value("temperature_celsius").is_none()
        })
        .await;
    let temperature: BTreeSet<String> = before
        .samples
        .iter()
        .filter(|s| s.series.get("__name__") == Some("temperature_celsius"))
        .map(|s| s.series.to_string())
        .collect();
    assert_eq!(first.stale(), temperature);
    assert_eq!(first.up(), Some(1.0));
    assert_eq!(first.scraped().len(), 2);
    assert_eq!(first.value("scrape_samples_post_metric_relabeling"), Some(2.0));
    assert_eq!(first.value("scrape_series_added"), Some(0.0), "continuing series are not new");
    for x in agent.batches.scrapes(i + 1, &ia, 2).await {
        assert_eq!(x.up(), Some(1.0));
        assert!(x.stale().is_empty());
        assert_eq!(x.scraped().len(), 2);
    }
    // No batch of A besides `first` has a stale marker.
    let all = agent.batches.since(0);
    let stale: Vec<&ScrapeBatch> =
        all.iter().filter(|x| x.instance() == ia && !x.stale().is_empty()).collect();
    assert_eq!(
        stale.len(),
        1,
        "stale batches of A: {:?}",
        stale.iter().map(|x| x.stale()).collect::<Vec<_>>()
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_config_reload_leaves_scraping_alone() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let ia = inst(a.addr);
    let yaml = config(&[job("app", &[a.addr], "")]);
    let agent = Agent::start(&yaml).await;
    let (i, _) = agent.batches.next_with_up(0, &ia, 1.0).await;
    for _ in 0..3 {
        agent.write_config(&yaml);
        agent.reload().await.expect("reload succeeds");
    }
    let scrapes = agent.batches.scrapes(i, &ia, 3).await;
    // The loop is not restarted: scrapes stay one interval apart.
    for pair in scrapes.windows(2) {
        let gap = pair[1].scrape_ms().unwrap() - pair[0].scrape_ms().unwrap();
        assert!((500..=1500).contains(&gap), "scrapes {gap} ms apart: missed or doubled");
    }
    assert!(scrapes.iter().skip(1).all(|x| x.value("scrape_series_added") == Some(0.0)));
    assert_never_stale(&agent.batches.since(0), &ia);
    agent.shutdown().await;
}

/// Every batch of a job says which job it is from, the job's name; the final
/// stale markers of a removed job too, even when relabeling gave its targets
/// another `job` label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_markers_of_a_removed_job_carry_its_job_name() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let k = TargetServer::start(Reply::text(BODY)).await;
    let ia = inst(a.addr);
    let relabel = "relabel_configs:\n  - {target_label: job, replacement: custom}";
    let keep = job("keep", &[k.addr], "");
    let agent = Agent::start(&config(&[job("app", &[a.addr], relabel), keep.clone()])).await;
    let (_, scrape) = agent.batches.next_with_up(0, &ia, 1.0).await;
    assert_eq!(&*scrape.job, "app");
    assert_eq!(scrape.target.get("job"), Some("custom"));

    agent.write_config(&config(&[keep]));
    let mark = agent.batches.len();
    agent.reload().await.expect("reload succeeds");
    let (_, gone) = agent
        .batches
        .wait_for(mark, "stale markers of the removed job", |x| {
            x.instance() == ia && !x.stale().is_empty()
        })
        .await;
    assert_eq!(&*gone.job, "app");
    agent.shutdown().await;
}

/// The offset of `t` inside a 1s interval relative to `reference`, in
/// (-500, 500] ms.
fn phase(t: i64, reference: i64) -> i64 {
    let d = (t - reference).rem_euclid(1000);
    if d > 500 {
        d - 1000
    } else {
        d
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_phase_is_the_same_across_restarts() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let ia = inst(a.addr);
    let yaml = config(&[job("app", &[a.addr], "")]);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let agent = Agent::start(&yaml).await;
        let times: Vec<i64> =
            agent.batches.scrapes(0, &ia, 3).await.iter().map(|x| x.scrape_ms().unwrap()).collect();
        let batches = agent.batches.clone();
        agent.shutdown().await;
        // Shutting down writes no stale markers: the next start goes on.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_never_stale(&batches.since(0), &ia);
        runs.push(times);
    }
    // A scrape can be late, never early: the earliest offset is the phase.
    let reference = runs[0][0];
    let phases: Vec<i64> = runs
        .iter()
        .map(|times| times.iter().map(|&t| phase(t, reference)).min().unwrap())
        .collect();
    assert!(
        (phases[0] - phases[1]).abs() <= 50,
        "phases {phases:?} ms (scrape times {runs:?}) differ by more than 50 ms"
    );
    assert!(runs[1][0] > *runs[0].last().unwrap(), "the second run scrapes after the first");
}

/// A changed job restarts all its loops; a loop in the middle of a scrape
/// finishes it first. Prometheus stops the old loops of a pool in parallel
/// (`scrapePool.reload`: one goroutine per loop, then `wg.Wait()`), so a
/// reload waits for at most one scrape timeout, not one per target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_of_a_changed_job_stops_its_loops_together() {
    // Every scrape runs into the 1s timeout: at any moment most loops are
    // mid-scrape, and a reload has to wait for each of those.
    let mut servers = Vec::new();
    for _ in 0..8 {
        servers.push(TargetServer::start(Reply::text(BODY).delayed(Duration::from_secs(5))).await);
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let agent = Agent::start(&config(&[job("slow", &addrs, "")])).await;
    for addr in &addrs {
        agent.batches.next_with_up(0, &inst(*addr), 0.0).await;
    }

    agent.write_config(&config(&[job("slow", &addrs, "sample_limit: 1000")]));
    let started = std::time::Instant::now();
    agent.reload().await.expect("reload succeeds");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "reload took {took:?} with a 1s scrape timeout");
    agent.shutdown().await;
}
