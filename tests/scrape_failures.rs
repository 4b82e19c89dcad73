//! The scrape stage end to end (`tern::app::start`, real targets on
//! 127.0.0.1): what a successful scrape hands on, and what each way a scrape
//! can fail looks like in the batches (`up` 0, stale markers, no scraped
//! samples) and in `/api/v1/targets` (health, lastError). Also the request
//! tern sends (Accept, gzip, timeout header), OpenMetrics replies and file_sd.
//!
//! Scrapes run every second; every wait is bounded by `support::agent::WAIT`.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::agent::{config, dead_addr, job, write_atomic, Agent, BatchExt, AUTO_SERIES};
use support::target_server::{Reply, TargetServer};
use tern::scrape::ScrapeBatch;

const BODY: &str = support::agent::SMALL_BODY;

/// `n` samples, one series each.
fn body_of(n: usize) -> String {
    (0..n).map(|i| format!("series_{i} {i}\n")).collect()
}

/// The last scrape of `instance` before index `before` with `up` 1.
fn last_good(batches: &[ScrapeBatch], instance: &str, before: usize) -> ScrapeBatch {
    batches[..before]
        .iter()
        .rev()
        .find(|b| b.instance() == instance && b.up() == Some(1.0))
        .cloned()
        .unwrap_or_else(|| panic!("no good scrape of {instance} before batch {before}"))
}

/// The `instance` label tern gives a static target.
fn inst(addr: SocketAddr) -> String {
    addr.to_string()
}

fn last_error(target: &serde_json::Value) -> &str {
    target["lastError"].as_str().expect("lastError is a string")
}

/// The failed scrape `down` of a target whose previous good scrape was `good`:
/// one stale marker per series of `good`, at the failed scrape's time; no
/// scraped sample; the automatic series with up 0 and none of them stale.
#[track_caller]
fn assert_failed_after(good: &ScrapeBatch, down: &ScrapeBatch) {
    assert_eq!(down.up(), Some(0.0));
    assert!(down.scraped().is_empty(), "a failed scrape stores no scraped sample");
    assert!(!good.scraped_series().is_empty());
    assert_eq!(down.stale(), good.scraped_series(), "stale markers = series of the last scrape");
    let at = down.scrape_ms().expect("up has a timestamp");
    for s in down.samples.iter().filter(|s| support::agent::is_stale(s.value)) {
        assert_eq!(s.timestamp_ms, at, "stale marker {} not at the failed scrape's time", s.series);
    }
    let names: Vec<&str> =
        down.samples.iter().filter(|s| !support::agent::is_stale(s.value)).map(name).collect();
    assert_eq!(names, AUTO_SERIES, "only the automatic series besides stale markers");
}

fn name(s: &tern::scrape::SeriesSample) -> &str {
    s.series.get("__name__").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_scrape_reports_the_automatic_series() {
    let server = TargetServer::start(Reply::text(&format!("{BODY}dropped_metric 1\n"))).await;
    let extra = "metric_relabel_configs:\n  - {source_labels: [__name__], regex: dropped_metric, action: drop}";
    let agent = Agent::start(&config(&[job("app", &[server.addr], extra)])).await;
    let instance = inst(server.addr);

    let scrapes = agent.batches.scrapes(0, &instance, 2).await;
    for (i, b) in scrapes.iter().enumerate() {
        assert_eq!(b.up(), Some(1.0));
        assert_eq!(&*b.job, "app");
        let at = b.scrape_ms().unwrap();
        for auto in AUTO_SERIES {
            let s = b.samples.iter().find(|s| name(s) == auto).unwrap_or_else(|| panic!("{auto}"));
            assert_eq!(
                s.series.to_string(),
                format!("{{__name__=\"{auto}\", instance=\"{instance}\", job=\"app\"}}")
            );
            assert_eq!(s.timestamp_ms, at, "{auto} at the scrape's time");
        }
        let duration = b.value("scrape_duration_seconds").unwrap();
        assert!(duration > 0.0 && duration < 1.0, "scrape_duration_seconds {duration}");
        assert_eq!(b.value("scrape_samples_scraped"), Some(4.0), "scrape {i}");
        assert_eq!(b.value("scrape_samples_post_metric_relabeling"), Some(3.0), "scrape {i}");
        assert_eq!(
            b.value("scrape_series_added"),
            Some(if i == 0 { 3.0 } else { 0.0 }),
            "scrape {i}"
        );
        assert_eq!(b.scraped().len(), 3);
        for s in b.scraped() {
            assert_eq!(s.series.get("job"), Some("app"));
            assert_eq!(s.series.get("instance"), Some(instance.as_str()));
            assert_eq!(s.timestamp_ms, at);
        }
        assert!(b.stale().is_empty());
    }
    assert_eq!(scrapes[0].value("temperature_celsius"), Some(21.5));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_is_down_with_connection_refused() {
    let dead = dead_addr();
    let agent = Agent::start(&config(&[job("dead", &[dead], "")])).await;
    let instance = inst(dead);

    for b in agent.batches.scrapes(0, &instance, 2).await {
        assert_eq!(b.up(), Some(0.0));
        assert!(b.scraped().is_empty());
        assert!(b.stale().is_empty(), "never scraped: nothing to mark stale");
        assert_eq!(b.value("scrape_samples_scraped"), Some(0.0));
    }
    let url = format!("http://{dead}/metrics");
    let t = agent.wait_for_target(&url, |t| t["health"] == "down").await;
    let err = last_error(&t);
    assert!(err.contains(&url), "lastError names the URL: {err}");
    assert!(err.to_lowercase().contains("connection refused"), "lastError: {err}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_that_goes_away_gets_stale_markers_for_its_last_series() {
    let server = TargetServer::start(Reply::text(BODY)).await;
    let (instance, url) = (inst(server.addr), server.url());
    let agent = Agent::start(&config(&[job("app", &[server.addr], "")])).await;
    agent.batches.next_with_up(0, &instance, 1.0).await;
    server.stop().await;

    let (i, down) = agent.batches.next_with_up(0, &instance, 0.0).await;
    let good = last_good(&agent.batches.since(0), &instance, i);
    assert_eq!(good.scraped_series().len(), 3);
    assert_failed_after(&good, &down);
    // The markers are written once: the next failed scrape has none.
    let (_, again) = agent.batches.next_scrape(i + 1, &instance).await;
    assert_eq!(again.up(), Some(0.0));
    assert!(again.stale().is_empty(), "stale markers repeated: {:?}", again.stale());

    let t = agent.wait_for_target(&url, |t| t["health"] == "down").await;
    assert!(last_error(&t).contains(&url), "lastError: {}", last_error(&t));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_answering_500_is_down_with_the_status_as_last_error() {
    let server = TargetServer::start(Reply::text(BODY)).await;
    let instance = inst(server.addr);
    let agent = Agent::start(&config(&[job("app", &[server.addr], "")])).await;
    let (i, _) = agent.batches.next_with_up(0, &instance, 1.0).await;
    server.set(Reply::status(500));

    let (j, down) = agent.batches.next_with_up(i + 1, &instance, 0.0).await;
    assert_failed_after(&last_good(&agent.batches.since(0), &instance, j), &down);
    let t = agent.wait_for_target(&server.url(), |t| t["health"] == "down").await;
    assert_eq!(last_error(&t), "server returned HTTP status 500 Internal Server Error");

    // Recovery: the series come back, without stale markers.
    server.set(Reply::text(BODY));
    let (_, up) = agent.batches.next_with_up(j + 1, &instance, 1.0).await;
    assert_eq!(up.scraped().len(), 3);
    assert!(up.stale().is_empty());
    agent.wait_for_target(&server.url(), |t| t["health"] == "up" && t["lastError"] == "").await;
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_slower_than_the_scrape_timeout_is_down_with_a_deadline_error() {
    let server = TargetServer::start(Reply::text(BODY).delayed(Duration::from_secs(3))).await;
    let instance = inst(server.addr);
    let agent =
        Agent::start(&config(&[job("slow", &[server.addr], "scrape_timeout: 400ms")])).await;

    let (_, down) = agent.batches.next_with_up(0, &instance, 0.0).await;
    assert!(down.scraped().is_empty());
    let duration = down.value("scrape_duration_seconds").unwrap();
    assert!((0.4..0.9).contains(&duration), "scrape_duration_seconds {duration}, timeout 0.4");

    let t = agent.wait_for_target(&server.url(), |t| t["health"] == "down").await;
    let err = last_error(&t);
    assert!(err.contains(&server.url()), "lastError names the URL: {err}");
    assert!(err.contains("deadline exceeded"), "lastError: {err}");
    assert_eq!(t["scrapeTimeout"], "400ms");
    let lasted = t["lastScrapeDuration"].as_f64().unwrap();
    assert!((0.4..0.9).contains(&lasted), "lastScrapeDuration {lasted}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_body_size_limit_fails_the_scrape() {
    let big_body = body_of(1000);
    assert!(big_body.len() > 10 * 1024);
    let big = TargetServer::start(Reply::text(&big_body)).await;
    let small = TargetServer::start(Reply::text(BODY)).await;
    let yaml = config(&[job("limited", &[big.addr, small.addr], "body_size_limit: 1KB")]);
    let agent = Agent::start(&yaml).await;

    let (_, down) = agent.batches.next_with_up(0, &inst(big.addr), 0.0).await;
    assert!(down.scraped().is_empty());
    let (_, up) = agent.batches.next_with_up(0, &inst(small.addr), 1.0).await;
    assert_eq!(up.scraped().len(), 3, "a body under the limit is scraped");
    let t = agent.wait_for_target(&big.url(), |t| t["health"] == "down").await;
    assert!(last_error(&t).contains("body size limit exceeded"), "lastError: {}", last_error(&t));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_limit_exceeded_fails_the_scrape_and_stores_no_scraped_sample() {
    let server = TargetServer::start(Reply::text(BODY)).await;
    let instance = inst(server.addr);
    let agent = Agent::start(&config(&[job("app", &[server.addr], "sample_limit: 5")])).await;
    let (i, _) = agent.batches.next_with_up(0, &instance, 1.0).await;
    server.set(Reply::text(&body_of(10)));

    let (j, down) = agent.batches.next_with_up(i + 1, &instance, 0.0).await;
    assert_failed_after(&last_good(&agent.batches.since(0), &instance, j), &down);
    let seen = down.value("scrape_samples_scraped").unwrap();
    assert!(seen > 5.0, "scrape_samples_scraped reports the samples seen: {seen}");
    let t = agent.wait_for_target(&server.url(), |t| t["health"] == "down").await;
    assert!(last_error(&t).contains("sample_limit exceeded"), "lastError: {}", last_error(&t));
    agent.shutdown().await;
}

/// Prometheus goes on parsing after the limit "so we report the correct total
/// number of samples scraped" (`scrape/scrape.go`, `checkAddError`), and
/// counts `added` even for samples over the limit: a 10-sample body over a
/// limit of 5 reports 10 and 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_limit_failure_reports_the_whole_bodys_counts_as_prometheus_does() {
    let server = TargetServer::start(Reply::text(&body_of(10))).await;
    let instance = inst(server.addr);
    let agent = Agent::start(&config(&[job("app", &[server.addr], "sample_limit: 5")])).await;

    let (_, down) = agent.batches.next_with_up(0, &instance, 0.0).await;
    assert_eq!(down.value("scrape_samples_scraped"), Some(10.0));
    assert_eq!(down.value("scrape_samples_post_metric_relabeling"), Some(10.0));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_body_fails_only_its_own_target() {
    let bad = TargetServer::start(Reply::text("fine_metric 1\na{b=\"c\" 1\n")).await;
    let good = TargetServer::start(Reply::text(BODY)).await;
    let other = TargetServer::start(Reply::text(BODY)).await;
    let yaml = config(&[job("mixed", &[bad.addr, good.addr], ""), job("other", &[other.addr], "")]);
    let agent = Agent::start(&yaml).await;

    let (i, down) = agent.batches.next_with_up(0, &inst(bad.addr), 0.0).await;
    assert!(down.scraped().is_empty(), "the sample before the bad line is not stored either");
    let t = agent.wait_for_target(&bad.url(), |t| t["health"] == "down").await;
    assert!(last_error(&t).starts_with("line 2: "), "lastError: {}", last_error(&t));
    for target in [&good, &other] {
        for b in agent.batches.scrapes(i, &inst(target.addr), 2).await {
            assert_eq!(b.up(), Some(1.0), "{}", inst(target.addr));
            assert_eq!(b.scraped().len(), 3);
        }
        let t = agent.active_target(&target.url()).await.expect("listed");
        assert_eq!((t["health"].as_str(), last_error(&t)), (Some("up"), ""));
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_encoded_reply_is_decoded() {
    let server = TargetServer::start(Reply::text(BODY).gzipped()).await;
    let agent = Agent::start(&config(&[job("app", &[server.addr], "")])).await;

    let (_, b) = agent.batches.next_with_up(0, &inst(server.addr), 1.0).await;
    assert_eq!(b.value("temperature_celsius"), Some(21.5));
    assert_eq!(b.scraped().len(), 3);
    assert!(server.gzipped_replies() >= 1, "the reply was not gzipped");
    let req = &server.requests()[0];
    let accept_encoding = req.get("accept-encoding").and_then(|v| v.to_str().ok());
    assert!(accept_encoding.unwrap_or_default().contains("gzip"), "{accept_encoding:?}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_compression_does_not_ask_for_gzip() {
    let server = TargetServer::start(Reply::text(BODY).gzipped()).await;
    let yaml = config(&[job("app", &[server.addr], "enable_compression: false")]);
    let agent = Agent::start(&yaml).await;

    let (_, b) = agent.batches.next_with_up(0, &inst(server.addr), 1.0).await;
    assert_eq!(b.scraped().len(), 3);
    assert_eq!(server.gzipped_replies(), 0);
    for req in server.requests() {
        let ae = req.get("accept-encoding").map(|v| v.to_str().unwrap().to_owned());
        assert!(!ae.clone().unwrap_or_default().contains("gzip"), "Accept-Encoding: {ae:?}");
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_request_carries_prometheus_headers() {
    let server = TargetServer::start(Reply::text(BODY)).await;
    let yaml = config(&[job("app", &[server.addr], "scrape_timeout: 500ms")]);
    let agent = Agent::start(&yaml).await;
    agent.batches.next_with_up(0, &inst(server.addr), 1.0).await;

    let req = &server.requests()[0];
    let header = |name: &str| req.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        header("accept").as_deref(),
        Some(
            "application/openmetrics-text;version=1.0.0;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=0.0.4;q=0.4,*/*;q=0.3"
        )
    );
    assert_eq!(header("x-prometheus-scrape-timeout-seconds").as_deref(), Some("0.5"));
    let ua = header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("tern/"), "User-Agent: {ua}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_reply_is_parsed_with_the_openmetrics_parser() {
    let without_eof = "# TYPE requests counter\nrequests_total 5\n";
    let om = TargetServer::start(Reply::openmetrics(&format!("{without_eof}# EOF\n"))).await;
    let om_no_eof = TargetServer::start(Reply::openmetrics(without_eof)).await;
    let text_no_eof = TargetServer::start(Reply::text(without_eof)).await;
    let yaml = config(&[job("om", &[om.addr, om_no_eof.addr, text_no_eof.addr], "")]);
    let agent = Agent::start(&yaml).await;

    let (_, b) = agent.batches.next_with_up(0, &inst(om.addr), 1.0).await;
    assert_eq!(b.value("requests_total"), Some(5.0));
    agent.batches.next_with_up(0, &inst(om_no_eof.addr), 0.0).await;
    let t = agent.wait_for_target(&om_no_eof.url(), |t| t["health"] == "down").await;
    assert!(last_error(&t).starts_with("line "), "lastError: {}", last_error(&t));
    // The same body as text format 0.0.4 needs no `# EOF`.
    let (_, b) = agent.batches.next_with_up(0, &inst(text_no_eof.addr), 1.0).await;
    assert_eq!(b.value("requests_total"), Some(5.0));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_targets_survive_a_broken_file_and_follow_a_fixed_one() {
    let a = TargetServer::start(Reply::text(BODY)).await;
    let b = TargetServer::start(Reply::text(BODY)).await;
    let (ia, ib) = (inst(a.addr), inst(b.addr));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    let targets =
        |addr: SocketAddr| format!(r#"[{{"targets": ["{addr}"], "labels": {{"env": "test"}}}}]"#);
    write_atomic(&file, &targets(a.addr));
    let yaml = config(&[format!(
        "  - job_name: files\n    file_sd_configs:\n      - files: [{:?}]\n",
        file.display().to_string()
    )]);
    let agent = Agent::start_in(dir, &yaml).await;

    let (_, first) = agent.batches.next_with_up(0, &ia, 1.0).await;
    assert_eq!(first.target.get("env"), Some("test"));

    // A syntax error: the file's last good targets stay and are scraped.
    write_atomic(&file, r#"[{"targets": ["#);
    let deadline = tokio::time::Instant::now() + support::agent::WAIT;
    while agent.own_metric("tern_discovery_file_read_errors_total", &[]).await.unwrap_or(0.0) < 1.0
    {
        assert!(tokio::time::Instant::now() < deadline, "the broken file was never read");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mark = agent.batches.len();
    for s in agent.batches.scrapes(mark, &ia, 2).await {
        assert_eq!(s.up(), Some(1.0));
    }
    assert!(agent.batches.of(&ia, 0).iter().all(|s| s.stale().is_empty()), "{ia} went stale");
    assert_eq!(agent.get("/-/healthy").await.0, 200);

    // Fixed, with another target: the old one ends with stale markers.
    write_atomic(&file, &targets(b.addr));
    let (_, gone) = agent
        .batches
        .wait_for(mark, "stale markers of the old target", |s| {
            s.instance() == ia && s.up().is_none()
        })
        .await;
    let mut want = first.scraped_series();
    want.extend(
        first
            .samples
            .iter()
            .filter(|s| AUTO_SERIES.contains(&name(s)))
            .map(|s| s.series.to_string()),
    );
    assert_eq!(gone.stale(), want, "every series of the old target and its automatic series");
    agent.batches.next_with_up(0, &ib, 1.0).await;
    let api = agent.targets_api("").await;
    let urls: Vec<&str> = api["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scrapeUrl"].as_str().unwrap())
        .collect();
    assert_eq!(urls, [b.url()]);
    agent.shutdown().await;
}
