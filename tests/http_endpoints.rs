//! tern's own HTTP endpoints, served by `tern::app::start` on a real
//! listener on 127.0.0.1:0, with real targets: health and readiness, own
//! metrics (parsed with tern's OpenMetrics parser), `/api/v1/targets` in
//! Prometheus' JSON shape, and which methods `/-/reload` takes.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use support::agent::{config, dead_addr, job, parse_openmetrics, Agent, WAIT};
use support::target_server::{Reply, TargetServer};

const BODY: &str = "requests_total 7\ntemperature_celsius 21.5\n";

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().expect("an object").keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_and_ready_answer_200_once_started() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let agent = Agent::start(&config(&[job("app", &[a.addr], "")])).await;
    assert!(agent.handle().ready.load(std::sync::atomic::Ordering::Acquire));
    let (status, _, body) = agent.get("/-/healthy").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = agent.get("/-/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(agent.get("/no/such/path").await.0, 404);
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_endpoint_takes_post_and_put_only() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let agent = Agent::start(&config(&[job("app", &[a.addr], "")])).await;
    assert_eq!(agent.post("/-/reload").await.0, 200);
    let client = reqwest::Client::builder().no_proxy().timeout(WAIT).build().unwrap();
    let put = client.put(agent.url("/-/reload")).send().await.unwrap();
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(agent.get("/-/reload").await.0, 405);
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_is_openmetrics_and_counts_scrapes_and_failures() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let dead = dead_addr();
    let yaml = config(&[job("good", &[a.addr], ""), job("bad", &[dead], "")]);
    let agent = Agent::start(&yaml).await;
    agent.batches.next_with_up(0, &dead.to_string(), 0.0).await;
    let (i, _) = agent.batches.next_with_up(0, &a.addr.to_string(), 1.0).await;

    let (status, content_type, body) = agent.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    assert!(body.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF");
    let samples = parse_openmetrics(&body);
    let value = |name: &str, labels: &[(&str, &str)]| {
        samples.iter().find(|s| s.is(name, labels)).map(|s| s.value)
    };
    let scrapes = value("tern_scrape_scrapes_total", &[("job", "good")]).expect("scrapes counted");
    assert!(scrapes >= 1.0);
    let failures = value("tern_scrape_failures_total", &[("job", "bad"), ("reason", "transport")]);
    assert!(failures.is_some_and(|f| f >= 1.0), "failures of the bad job: {failures:?}\n{body}");
    assert!(
        samples.iter().all(|s| !s.is("tern_scrape_failures_total", &[("job", "good")])),
        "no failures counted for the good job"
    );
    assert_eq!(value("tern_scrape_targets", &[("job", "good"), ("state", "active")]), Some(1.0));

    // The counter goes up with the next scrape.
    agent.batches.next_scrape(i + 1, &a.addr.to_string()).await;
    let later = agent.own_metric("tern_scrape_scrapes_total", &[("job", "good")]).await.unwrap();
    assert!(later > scrapes, "scrapes_total {scrapes} -> {later}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_counted_by_reason() {
    let status = TargetServer::start(Reply::status(503)).await;
    let slow = TargetServer::start(Reply::text(BODY).delayed(Duration::from_secs(3))).await;
    let big = TargetServer::start(Reply::text(&"x 1\n".repeat(1000))).await;
    let malformed = TargetServer::start(Reply::text("a{b=\"c\" 1\n")).await;
    let many = TargetServer::start(Reply::text(BODY)).await;
    let cases = [
        ("refused", dead_addr(), "", "transport"),
        ("status", status.addr, "", "http_status"),
        ("slow", slow.addr, "scrape_timeout: 300ms", "timeout"),
        ("big", big.addr, "body_size_limit: 1KB", "body_size_limit"),
        ("malformed", malformed.addr, "", "parse"),
        ("many", many.addr, "sample_limit: 1", "sample_limit"),
    ];
    let jobs: Vec<String> =
        cases.iter().map(|(name, addr, extra, _)| job(name, &[*addr], extra)).collect();
    let agent = Agent::start(&config(&jobs)).await;
    for (_, addr, _, _) in &cases {
        agent.batches.next_with_up(0, &addr.to_string(), 0.0).await;
    }
    let samples = agent.own_metrics().await;
    for (name, _, _, reason) in cases {
        let counted: Vec<String> = samples
            .iter()
            .filter(|s| s.is("tern_scrape_failures_total", &[("job", name)]) && s.value > 0.0)
            .map(|s| s.labels["reason"].clone())
            .collect();
        assert_eq!(counted, [reason], "failure reasons of job {name}");
    }
    agent.shutdown().await;
}

/// A job with one target scraped and one dropped by relabel_configs.
async fn agent_with_a_dropped_target() -> (Agent, TargetServer, std::net::SocketAddr) {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let dropped = dead_addr();
    let relabel = format!(
        "relabel_configs:\n  - {{source_labels: [__address__], regex: '{}', action: drop}}",
        dropped.to_string().replace('.', "\\.")
    );
    let agent = Agent::start(&config(&[job("app", &[a.addr, dropped], &relabel)])).await;
    agent.batches.next_with_up(0, &a.addr.to_string(), 1.0).await;
    (agent, a, dropped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_api_has_prometheus_shape() {
    let (agent, a, dropped) = agent_with_a_dropped_target().await;
    let t = agent.wait_for_target(&a.url(), |t| t["health"] == "up").await;
    let api = agent.targets_api("").await;
    assert_eq!(api["status"], "success");
    assert_eq!(keys(&api["data"]), BTreeSet::from(["activeTargets", "droppedTargets"]));

    let active = api["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(
        keys(&t),
        BTreeSet::from([
            "discoveredLabels",
            "labels",
            "scrapePool",
            "scrapeUrl",
            "globalUrl",
            "lastError",
            "lastScrape",
            "lastScrapeDuration",
            "health",
            "scrapeInterval",
            "scrapeTimeout",
        ])
    );
    let address = a.addr.to_string();
    assert_eq!(
        t["discoveredLabels"],
        json!({
            "__address__": address,
            "__metrics_path__": "/metrics",
            "__scheme__": "http",
            "__scrape_interval__": "1s",
            "__scrape_timeout__": "1s",
            "job": "app",
        })
    );
    assert_eq!(t["labels"], json!({"instance": address, "job": "app"}));
    assert_eq!(t["scrapePool"], "app");
    assert_eq!(t["scrapeUrl"], a.url());
    assert!(t["globalUrl"].as_str().is_some_and(|u| u.ends_with("/metrics")), "{}", t["globalUrl"]);
    assert_eq!(t["lastError"], "");
    assert_eq!(t["scrapeInterval"], "1s");
    assert_eq!(t["scrapeTimeout"], "1s");
    let duration = t["lastScrapeDuration"].as_f64().expect("lastScrapeDuration is a number");
    assert!((0.0..1.0).contains(&duration), "lastScrapeDuration {duration}");
    let last = t["lastScrape"].as_str().expect("lastScrape is a string");
    let at = humantime::parse_rfc3339(last).unwrap_or_else(|e| panic!("{last}: not RFC 3339: {e}"));
    let age = SystemTime::now().duration_since(at).expect("lastScrape is in the past");
    assert!(age < Duration::from_secs(5), "lastScrape {last} is {age:?} old");

    let dropped_targets = api["data"]["droppedTargets"].as_array().unwrap();
    assert_eq!(dropped_targets.len(), 1);
    assert_eq!(keys(&dropped_targets[0]), BTreeSet::from(["discoveredLabels"]));
    assert_eq!(
        dropped_targets[0]["discoveredLabels"],
        json!({
            "__address__": dropped.to_string(),
            "__metrics_path__": "/metrics",
            "__scheme__": "http",
            "__scrape_interval__": "1s",
            "__scrape_timeout__": "1s",
            "job": "app",
        })
    );

    // lastScrape moves on with each scrape.
    let later = agent.wait_for_target(&a.url(), |x| x["lastScrape"] != t["lastScrape"]).await;
    let next = humantime::parse_rfc3339(later["lastScrape"].as_str().unwrap()).unwrap();
    let gap = next.duration_since(at).expect("later scrape");
    assert!(gap >= Duration::from_millis(800), "scrapes {gap:?} apart");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_api_filters_by_state_and_pool() {
    let (agent, a, dropped) = agent_with_a_dropped_target().await;
    let count = |v: &Value, list: &str| v["data"][list].as_array().expect(list).len();

    let active = agent.targets_api("?state=active").await;
    assert_eq!((count(&active, "activeTargets"), count(&active, "droppedTargets")), (1, 0));
    assert_eq!(active["data"]["activeTargets"][0]["scrapeUrl"], a.url());
    let only_dropped = agent.targets_api("?state=dropped").await;
    assert_eq!(
        (count(&only_dropped, "activeTargets"), count(&only_dropped, "droppedTargets")),
        (0, 1)
    );
    assert_eq!(
        only_dropped["data"]["droppedTargets"][0]["discoveredLabels"]["__address__"],
        dropped.to_string()
    );
    let any = agent.targets_api("?state=any").await;
    assert_eq!((count(&any, "activeTargets"), count(&any, "droppedTargets")), (1, 1));
    let other_pool = agent.targets_api("?scrapePool=other").await;
    assert_eq!((count(&other_pool, "activeTargets"), count(&other_pool, "droppedTargets")), (0, 0));
    let this_pool = agent.targets_api("?scrapePool=app").await;
    assert_eq!((count(&this_pool, "activeTargets"), count(&this_pool, "droppedTargets")), (1, 1));
    agent.shutdown().await;
}
