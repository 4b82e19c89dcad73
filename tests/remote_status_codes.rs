//! Remote-write delivery per HTTP status, end to end: tern (`start_agent`)
//! scrapes a real target on 127.0.0.1 every second, stores the samples in
//! its WAL and sends them to real receivers (`support::receiver`) that answer
//! what each test scripts. Each test checks what arrived, and tern's own
//! `prometheus_remote_storage_*` counters on `/metrics`, against the
//! remote-write 1.0 specification and the rules of
//! `src/remote/queue/shard.rs`.
//!
//! "Every scrape" is counted at the target: a scrape is one request to it.
//! Shutdown may abandon the scrape in flight (its hand-off to the WAL is
//! cancelled, `src/scrape/worker.rs`), so a run delivers either every scrape
//! the target served or all but the last one.
//!
//! Counters are compared with what the receivers recorded by polling until
//! both agree: a receiver records a request before tern has read the answer.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::agent::{parse_openmetrics, OwnSample};
use support::receiver::{
    always, then_ok, when, Answer, Receiver, Request, ReservedPort, Script, Series,
};
use support::target_server::{Reply, TargetServer};
use tern::app::Handle;

/// The longest any single wait may take.
const WAIT: Duration = Duration::from_secs(10);
/// Series of every scrape of [`body`] without extras: ten gauges and the
/// five automatic series (`up`, `scrape_duration_seconds`, ...).
const SERIES_PER_SCRAPE: usize = 15;

const SENT: &str = "prometheus_remote_storage_samples_total";
const FAILED: &str = "prometheus_remote_storage_samples_failed_total";
const DROPPED: &str = "prometheus_remote_storage_samples_dropped_total";
const RETRIED: &str = "prometheus_remote_storage_samples_retried_total";

/// The target's body: gauges `tern_test_gauge{n="0"}` to `{n="9"}`, then one
/// sample named after each of `extra`.
fn body(extra: &[&str]) -> String {
    let mut s = String::from("# TYPE tern_test_gauge gauge\n");
    for n in 0..10 {
        writeln!(s, "tern_test_gauge{{n=\"{n}\"}} {n}").unwrap();
    }
    for name in extra {
        writeln!(s, "{name} 1").unwrap();
    }
    s
}

/// A `remote_write` entry with the tests' short queue settings. `queue` holds
/// more `queue_config` keys and `extra` more keys of the entry, one per line,
/// unindented.
fn remote(name: &str, url: &str, queue: &str, extra: &str) -> String {
    let mut s = format!(
        "  - name: {name}\n    url: {url}\n    queue_config:\n      \
         batch_send_deadline: 200ms\n      min_backoff: 50ms\n      max_backoff: 500ms\n"
    );
    for line in queue.lines() {
        writeln!(s, "      {line}").unwrap();
    }
    for line in extra.lines() {
        writeln!(s, "    {line}").unwrap();
    }
    s
}

/// A config scraping `target` every second (job `app`) and writing to
/// `remotes`; `global` holds more `global` keys, one per line, unindented.
fn config(target: SocketAddr, global: &str, remotes: &[String]) -> String {
    let mut s = String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n");
    for line in global.lines() {
        writeln!(s, "  {line}").unwrap();
    }
    let job = format!("  - job_name: app\n    static_configs:\n      - targets: [\"{target}\"]\n");
    write!(s, "scrape_configs:\n{job}remote_write:\n{}", remotes.concat()).unwrap();
    s
}

/// tern in agent mode, with its endpoints on 127.0.0.1:0.
struct Agent {
    handle: Option<Handle>,
    http: SocketAddr,
    client: reqwest::Client,
}

impl Agent {
    /// Starts tern on `yaml`, written to `dir/prometheus.yml`, with its data
    /// (the WAL) under `dir/data`: a second start on the same `dir` goes on
    /// from what the first one left.
    async fn start(dir: &Path, yaml: &str) -> Agent {
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, yaml).expect("write prometheus.yml");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let http = listener.local_addr().unwrap();
        let handle = tern::app::start_agent(config, &dir.join("data"), Some(listener))
            .await
            .unwrap_or_else(|e| panic!("tern does not start: {e}\nconfig:\n{yaml}"));
        let client = reqwest::Client::builder().no_proxy().timeout(WAIT).build().unwrap();
        Agent { handle: Some(handle), http, client }
    }

    /// `/metrics`, parsed with tern's OpenMetrics parser.
    async fn metrics(&self) -> Vec<OwnSample> {
        let url = format!("http://{}/metrics", self.http);
        let r = self.client.get(url).send().await.expect("GET /metrics");
        assert_eq!(r.status().as_u16(), 200, "/metrics");
        parse_openmetrics(&r.text().await.expect("/metrics body"))
    }

    /// Polls `/metrics` until `check` passes, for at most [`WAIT`]; panics
    /// with `what` and the last complaint otherwise.
    async fn wait_for_metrics(
        &self,
        what: &str,
        check: impl Fn(&[OwnSample]) -> Result<(), String>,
    ) -> Vec<OwnSample> {
        let deadline = Instant::now() + WAIT;
        loop {
            let metrics = self.metrics().await;
            match check(&metrics) {
                Ok(()) => return metrics,
                Err(e) if Instant::now() >= deadline => {
                    panic!("timed out after {WAIT:?} waiting for {what}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// `shutdown_with_deadline(deadline)`, bounded; returns how long it took.
    async fn shutdown(mut self, deadline: Duration) -> Duration {
        let handle = self.handle.take().expect("BUG: agent already shut down");
        let started = Instant::now();
        tokio::time::timeout(WAIT + deadline, handle.shutdown_with_deadline(deadline))
            .await
            .expect("tern shuts down in time");
        started.elapsed()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // A failed test: stop scraping and sending without waiting.
        if let (Some(handle), Ok(rt)) = (self.handle.take(), tokio::runtime::Handle::try_current())
        {
            rt.spawn(handle.shutdown_with_deadline(Duration::ZERO));
        }
    }
}

/// The sum of `name` over the samples whose labels include `labels` (0 when
/// there is none: a counter family shows only label sets it has seen).
fn total(metrics: &[OwnSample], name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics.iter().filter(|s| s.is(name, labels)).map(|s| s.value).sum()
}

fn expect_eq(what: &str, got: f64, want: f64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: tern counts {got}, the receiver saw {want}"))
    }
}

/// Checks endpoint `remote`'s counters against what its receiver saw:
/// samples sent are those of the accepted `requests`, samples retried are
/// `retried`, and samples failed are `failed` by reason (none otherwise).
fn check_counters(
    m: &[OwnSample],
    remote: &str,
    requests: &[Request],
    retried: f64,
    failed: &[(&str, f64)],
) -> Result<(), String> {
    let endpoint = [("remote_name", remote)];
    let sent = samples_in(&accepted(requests));
    expect_eq(&format!("{remote}: samples sent"), total(m, SENT, &endpoint), sent)?;
    expect_eq(&format!("{remote}: samples retried"), total(m, RETRIED, &endpoint), retried)?;
    let reasons = m.iter().filter(|s| s.is(FAILED, &endpoint) && s.value != 0.0);
    let got: BTreeMap<String, f64> =
        reasons.map(|s| (s.labels.get("reason").cloned().unwrap_or_default(), s.value)).collect();
    let want: BTreeMap<String, f64> =
        failed.iter().filter(|(_, n)| *n != 0.0).map(|(r, n)| (r.to_string(), *n)).collect();
    if got != want {
        return Err(format!("{remote}: samples failed by reason: {got:?}, want {want:?}"));
    }
    Ok(())
}

fn accepted(requests: &[Request]) -> Vec<Request> {
    requests.iter().filter(|r| r.accepted()).cloned().collect()
}

fn samples_in(requests: &[Request]) -> f64 {
    requests.iter().map(Request::sample_count).sum::<usize>() as f64
}

/// Distinct timestamps of the series `name` in `requests`.
fn timestamps(requests: &[Request], name: &str) -> BTreeSet<i64> {
    requests.iter().flat_map(|r| r.timestamps_of(name)).collect()
}

/// Distinct scrapes (timestamps of `up`) in `requests`.
fn scrapes_in(requests: &[Request]) -> usize {
    timestamps(requests, "up").len()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Asserts that `requests` hold every scrape the target served (`scrapes`,
/// of which the last `may_miss` may be missing, see the module doc) exactly
/// once, each with its [`SERIES_PER_SCRAPE`] series: nothing lost, nothing
/// twice.
#[track_caller]
fn assert_each_scrape_once(requests: &[Request], scrapes: usize, may_miss: usize, what: &str) {
    let mut by_scrape: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for r in requests {
        for s in &r.series {
            for (t, _) in &s.samples {
                by_scrape.entry(*t).or_default().push(s.key());
            }
        }
    }
    for (t, keys) in &by_scrape {
        let distinct: BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{what}: samples at {t} came twice: {keys:#?}");
        assert_eq!(keys.len(), SERIES_PER_SCRAPE, "{what}: scrape at {t} incomplete: {keys:#?}");
    }
    let ups = scrapes_in(requests);
    assert_eq!(ups, by_scrape.len(), "{what}: samples at times of no scrape: {by_scrape:#?}");
    assert!(
        ups <= scrapes && ups + may_miss >= scrapes,
        "{what}: {ups} scrapes arrived, the target served {scrapes}: {:?}",
        by_scrape.keys().collect::<Vec<_>>()
    );
}

/// What tests start with: a target serving `body(extra)` and a temp dir.
async fn target(extra: &[&str]) -> (TargetServer, tempfile::TempDir) {
    let target = TargetServer::start(Reply::text(&body(extra))).await;
    (target, tempfile::tempdir().expect("temp dir"))
}

/// A config with the target and one endpoint, `primary`, writing to `url`.
fn primary(target: &TargetServer, url: &str) -> String {
    config(target.addr, "", &[remote("primary", url, "", "")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_follow_remote_write_1_0_with_external_labels_and_write_relabeling() {
    let (target, dir) = target(&["dropped_series"]).await;
    let rx = Receiver::start(always(200)).await;
    let relabel = "write_relabel_configs:\n  - source_labels: [__name__]\n    \
                   regex: dropped_series\n    action: drop";
    let yaml = config(
        target.addr,
        "external_labels: {cluster: test, replica: a}",
        &[remote("primary", &rx.url(), "", relabel)],
    );
    let agent = Agent::start(dir.path(), &yaml).await;
    rx.wait_for("3 scrapes accepted", WAIT, |r| scrapes_in(&accepted(r)) >= 3).await;
    agent
        .wait_for_metrics("counters matching the receiver", |m| {
            let requests = rx.requests();
            check_counters(m, "primary", &requests, 0.0, &[])?;
            // One dropped_series sample per scrape read from the WAL.
            let scrapes = scrapes_in(&requests) as f64;
            let relabeled = [("remote_name", "primary"), ("reason", "write_relabel")];
            expect_eq("dropped by write relabeling", total(m, DROPPED, &relabeled), scrapes)?;
            expect_eq("dropped", total(m, DROPPED, &[("remote_name", "primary")]), scrapes)
        })
        .await;
    agent.shutdown(Duration::from_secs(5)).await;

    let requests = rx.requests();
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for r in &requests {
        let at = r.summary();
        assert_eq!(r.decode_error, None, "{at}");
        assert_eq!(r.status, 200, "{at}");
        assert_eq!(r.path, "/api/v1/write", "{at}");
        assert_eq!(r.header("content-encoding"), Some("snappy"), "{at}");
        assert_eq!(r.header("content-type"), Some("application/x-protobuf"), "{at}");
        assert_eq!(r.header("x-prometheus-remote-write-version"), Some("0.1.0"), "{at}");
        let agent = r.header("user-agent").unwrap_or_default();
        assert!(agent.starts_with("tern/"), "{at}: User-Agent {agent:?}");
        for s in &r.series {
            let key = s.key();
            let sorted = s.labels.windows(2).all(|w| w[0].0 < w[1].0);
            assert!(sorted, "{at}: labels not sorted by name: {key}");
            let empty = s.labels.iter().any(|(n, v)| n.is_empty() || v.is_empty());
            assert!(!empty, "{at}: empty label: {key}");
            assert_eq!(s.label("cluster"), Some("test"), "{at}: no external label: {key}");
            assert_eq!(s.label("replica"), Some("a"), "{at}: no external label: {key}");
            assert_eq!(s.label("job"), Some("app"), "{at}: {key}");
            assert_ne!(s.name(), "dropped_series", "{at}: write relabeling dropped it");
            assert!(!s.samples.is_empty(), "{at}: series without samples: {key}");
            for (t, _) in &s.samples {
                let before = last.insert(key.clone(), *t);
                assert!(before.is_none_or(|b| b < *t), "{at}: {key} at {t} after {before:?}");
            }
        }
    }
    assert_each_scrape_once(&requests, target.requests().len(), 1, "accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_the_same_samples_until_accepted() {
    let (target, dir) = target(&[]).await;
    let boom = Answer::status(500).body("internal error\n");
    let rx = Receiver::start(then_ok(vec![boom.clone(), boom.clone(), boom])).await;
    let agent = Agent::start(dir.path(), &primary(&target, &rx.url())).await;
    let three = |r: &[Request]| scrapes_in(&accepted(r)) >= 3;
    rx.wait_for("3 scrapes accepted after 3 failures", WAIT, three).await;
    agent
        .wait_for_metrics("counters matching the receiver", |m| {
            let requests = rx.requests();
            let failed: Vec<Request> =
                requests.iter().filter(|r| r.status == 500).cloned().collect();
            check_counters(m, "primary", &requests, samples_in(&failed), &[])
        })
        .await;
    agent.shutdown(Duration::from_secs(5)).await;

    let requests = rx.requests();
    let statuses: Vec<u16> = requests.iter().take(4).map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    for failed in &requests[..3] {
        let same = failed.sample_keys() == requests[3].sample_keys();
        assert!(same, "#{} holds other samples than the accepted #3", failed.index);
    }
    for pair in requests[..4].windows(2) {
        let gap = pair[1].received - pair[0].received;
        // Equal jitter: at least half of min_backoff; at most max_backoff.
        assert!(gap >= Duration::from_millis(25), "retried after {gap:?}: no backoff");
        assert!(gap <= Duration::from_millis(1500), "retried after {gap:?} (max_backoff 500ms)");
    }
    assert_each_scrape_once(&accepted(&requests), target.requests().len(), 1, "accepted");
}

/// Answers 429 once with the `Retry-After` that `retry_after(now)` gives,
/// then 200; checks that the retry comes after `min_wait` (and not much
/// later) with the same samples, and that nothing is lost.
async fn check_retry_after(retry_after: fn(SystemTime) -> String, min_wait: Duration) {
    let (target, dir) = target(&[]).await;
    let mut first = true;
    let script: Script = Box::new(move |_| {
        if !std::mem::take(&mut first) {
            return Answer::ok();
        }
        Answer::status(429).header("Retry-After", &retry_after(SystemTime::now()))
    });
    let rx = Receiver::start(script).await;
    let agent = Agent::start(dir.path(), &primary(&target, &rx.url())).await;
    rx.wait_for("2 accepted requests after a 429", WAIT, |r| accepted(r).len() >= 2).await;
    agent
        .wait_for_metrics("counters matching the receiver", |m| {
            let requests = rx.requests();
            check_counters(m, "primary", &requests, requests[0].sample_count() as f64, &[])
        })
        .await;
    agent.shutdown(Duration::from_secs(5)).await;

    let requests = rx.requests();
    assert_eq!((requests[0].status, requests[1].status), (429, 200));
    let same = requests[1].sample_keys() == requests[0].sample_keys();
    assert!(same, "the retry holds other samples than the request answered 429");
    let gap = requests[1].received - requests[0].received;
    // 50 ms for the clocks of receiver and sender; the backoff (at most
    // 500 ms) is below Retry-After, so the wait is Retry-After itself.
    assert!(gap + Duration::from_millis(50) >= min_wait, "retried after {gap:?}, too early");
    assert!(gap <= min_wait + Duration::from_millis(2000), "retried only after {gap:?}");
    assert_each_scrape_once(&accepted(&requests), target.requests().len(), 1, "accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after_in_seconds() {
    check_retry_after(|_| "2".to_owned(), Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after_as_http_date() {
    // A whole second at least 2 s ahead: an HTTP-date has no fractions.
    fn at_least_2s_ahead(now: SystemTime) -> String {
        let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs() + 3;
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }
    check_retry_after(at_least_2s_ahead, Duration::from_secs(2)).await;
}

/// What `src/remote/queue/shard.rs` sends first after a split of `r`: its
/// first half of series, or of samples when it holds one series.
fn first_half(r: &Request) -> Vec<Series> {
    if r.series.len() > 1 {
        return r.series[..r.series.len() / 2].to_vec();
    }
    let mut s = r.series[0].clone();
    s.samples.truncate(s.samples.len() / 2);
    vec![s]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_too_large_is_split_in_halves_until_every_sample_fits() {
    const LIMIT: usize = 4;
    let (target, dir) = target(&[]).await;
    let rx = Receiver::start(when(|r| r.sample_count() > LIMIT, Answer::status(413))).await;
    let remotes = [remote("primary", &rx.url(), "max_samples_per_send: 100", "")];
    let agent = Agent::start(dir.path(), &config(target.addr, "", &remotes)).await;
    rx.wait_for("3 scrapes accepted", WAIT, |r| scrapes_in(&accepted(r)) >= 3).await;
    agent
        .wait_for_metrics("counters matching the receiver", |m| {
            check_counters(m, "primary", &rx.requests(), 0.0, &[])
        })
        .await;
    agent.shutdown(Duration::from_secs(5)).await;

    let requests = rx.requests();
    assert!(requests.iter().any(|r| r.status == 413), "no request was too large");
    for (i, r) in requests.iter().enumerate() {
        let at = r.summary();
        assert_eq!(r.accepted(), r.sample_count() <= LIMIT, "{at}");
        if r.status == 413 {
            let next = requests.get(i + 1).unwrap_or_else(|| panic!("{at}: never split"));
            assert_eq!(next.series, first_half(r), "{at}: not followed by its first half");
        }
    }
    let delivered: BTreeSet<(String, i64)> =
        accepted(&requests).iter().flat_map(Request::sample_keys).collect();
    for r in requests.iter().filter(|r| r.status == 413) {
        let lost: Vec<_> = r.sample_keys().difference(&delivered).cloned().collect();
        assert!(lost.is_empty(), "{}: samples never delivered: {lost:?}", r.summary());
    }
    assert_each_scrape_once(&accepted(&requests), target.requests().len(), 1, "accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_series_still_too_large_is_dropped_as_payload_too_large() {
    let (target, dir) = target(&["huge_series"]).await;
    let rx = Receiver::start(when(|r| r.has("huge_series"), Answer::status(413))).await;
    let agent = Agent::start(dir.path(), &primary(&target, &rx.url())).await;
    rx.wait_for("3 scrapes accepted", WAIT, |r| scrapes_in(&accepted(r)) >= 3).await;
    agent
        .wait_for_metrics("counters matching the receiver", |m| {
            let requests = rx.requests();
            let huge = timestamps(&requests, "huge_series").len() as f64;
            check_counters(m, "primary", &requests, 0.0, &[("payload_too_large", huge)])
        })
        .await;
    agent.shutdown(Duration::from_secs(5)).await;

    let requests = rx.requests();
    assert!(accepted(&requests).iter().all(|r| !r.has("huge_series")));
    assert_each_scrape_once(&accepted(&requests), target.requests().len(), 1, "accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_drops_only_the_series_the_receiver_rejects() {
    let (target, dir) = target(&["bad_series"]).await;
    let reject = Answer::status(400).body("series bad_series: invalid sample\n");
    let rx = Receiver::start(when(|r| r.has("bad_series"), reject)).await;
    let agent = Agent::start(dir.path(), &primary(&target, &rx.url())).await;
    rx.wait_for("3 scrapes accepted", WAIT, |r| scrapes_in(&accepted(r)) >= 3).await;
    agent
        .wait_for_metrics("counters matching the receiver", |m| {
            let requests = rx.requests();
            let bad = timestamps(&requests, "bad_series").len() as f64;
            check_counters(m, "primary", &requests, 0.0, &[("bad_request", bad)])
        })
        .await;
    agent.shutdown(Duration::from_secs(5)).await;

    let requests = rx.requests();
    for r in &requests {
        assert_eq!(r.accepted(), !r.has("bad_series"), "{}", r.summary());
    }
    // Bisection went down to bad_series alone, for each sample of it.
    let alone: Vec<Request> =
        requests.iter().filter(|r| r.series.len() == 1 && r.has("bad_series")).cloned().collect();
    let bad = timestamps(&requests, "bad_series");
    assert_eq!(timestamps(&alone, "bad_series"), bad, "bad_series never sent alone");
    // Every other series of every scrape was delivered, once.
    assert_each_scrape_once(&accepted(&requests), target.requests().len(), 1, "accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_is_dropped_without_retry_and_new_data_flows_once_accepted() {
    let (target, dir) = target(&[]).await;
    let rx = Receiver::start(always(401)).await;
    let agent = Agent::start(dir.path(), &primary(&target, &rx.url())).await;
    rx.wait_for("3 requests refused", WAIT, |r| r.len() >= 3).await;
    agent
        .wait_for_metrics("counters matching the receiver", |m| {
            let requests = rx.requests();
            check_counters(m, "primary", &requests, 0.0, &[("unauthorized", samples_in(&requests))])
        })
        .await;
    let refused = rx.requests().len();
    rx.set_script(always(200));
    rx.wait_for("2 scrapes accepted", WAIT, |r| scrapes_in(&accepted(r)) >= 2).await;
    agent.shutdown(Duration::from_secs(5)).await;

    let requests = rx.requests();
    assert!(requests[..refused].iter().all(|r| r.status == 401));
    // Each scrape went out once: either refused (and dropped) or accepted.
    assert_each_scrape_once(&requests, target.requests().len(), 1, "all requests");
    let last_refused = timestamps(&requests[..refused], "up").last().copied();
    let first_accepted = timestamps(&accepted(&requests), "up").first().copied();
    assert!(last_refused < first_accepted, "refused samples were sent again once accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_client_errors_are_dropped_and_counted_by_status() {
    let (target, dir) = target(&[]).await;
    let not_found = Receiver::start(always(404)).await;
    let unprocessable = Receiver::start(always(422)).await;
    let throttled = Receiver::start(always(429)).await;
    let remotes = [
        remote("not_found", &not_found.url(), "", ""),
        remote("unprocessable", &unprocessable.url(), "", ""),
        remote("throttled", &throttled.url(), "retry_on_http_429: false", ""),
    ];
    let endpoints = [
        ("not_found", &not_found, "http_status_404"),
        ("unprocessable", &unprocessable, "http_status_422"),
        ("throttled", &throttled, "too_many_requests"),
    ];
    let agent = Agent::start(dir.path(), &config(target.addr, "", &remotes)).await;
    for (_, rx, _) in endpoints {
        rx.wait_for("3 requests", WAIT, |r| r.len() >= 3).await;
    }
    agent
        .wait_for_metrics("counters matching the receivers", |m| {
            for (name, rx, reason) in endpoints {
                let requests = rx.requests();
                check_counters(m, name, &requests, 0.0, &[(reason, samples_in(&requests))])?;
            }
            Ok(())
        })
        .await;
    agent.shutdown(Duration::from_secs(5)).await;

    let scrapes = target.requests().len();
    for (name, rx, _) in endpoints {
        // Not retried: each scrape was sent once, and dropped.
        assert_each_scrape_once(&rx.requests(), scrapes, 1, name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_hanging_endpoint_never_holds_back_a_healthy_one() {
    let (target, dir) = target(&[]).await;
    let healthy = Receiver::start(always(200)).await;
    let failing = Receiver::start(always(500)).await;
    let hang: Script = Box::new(|_| Answer::ok().delayed(Duration::from_secs(30)));
    let hanging = Receiver::start(hang).await;
    let remotes = [
        remote("failing", &failing.url(), "", ""),
        remote("hanging", &hanging.url(), "", "remote_timeout: 1s"),
        remote("healthy", &healthy.url(), "", ""),
    ];
    let agent = Agent::start(dir.path(), &config(target.addr, "", &remotes)).await;
    healthy.wait_for("5 scrapes accepted", WAIT, |r| scrapes_in(&accepted(r)) >= 5).await;
    agent
        .wait_for_metrics("counters matching the receivers", |m| {
            check_counters(m, "healthy", &healthy.requests(), 0.0, &[])?;
            let failing = [("remote_name", "failing")];
            expect_eq("failing: samples sent", total(m, SENT, &failing), 0.0)?;
            match total(m, RETRIED, &failing) {
                0.0 => Err("failing: nothing retried yet".into()),
                _ => Ok(()),
            }
        })
        .await;
    let elapsed = agent.shutdown(Duration::from_secs(1)).await;
    assert!(elapsed < Duration::from_secs(4), "shutdown took {elapsed:?} with a 1s deadline");

    let requests = healthy.requests();
    assert!(failing.requests().len() >= 2, "the failing endpoint was not retried");
    assert!(!hanging.requests().is_empty(), "the hanging endpoint got no request");
    for r in &requests {
        let newest = r.series.iter().flat_map(|s| s.samples.iter().map(|(t, _)| *t)).max();
        let lag = r.received_ms - newest.unwrap_or(0);
        assert!(lag <= 2000, "{}: arrived {lag} ms after its newest sample", r.summary());
    }
    assert_each_scrape_once(&requests, target.requests().len(), 1, "healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_the_receiver_down_keeps_unsent_samples_for_the_next_start() {
    let (target, dir) = target(&[]).await;
    let port = ReservedPort::new();
    let yaml = primary(&target, &port.url());
    let agent = Agent::start(dir.path(), &yaml).await;
    let deadline = Instant::now() + WAIT;
    while target.requests().len() < 3 {
        assert!(Instant::now() < deadline, "the target was not scraped 3 times");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent
        .wait_for_metrics("retries against the receiver that is down", |m| {
            match total(m, RETRIED, &[("remote_name", "primary")]) {
                0.0 => Err("nothing retried yet".into()),
                _ => Ok(()),
            }
        })
        .await;
    let elapsed = agent.shutdown(Duration::from_secs(1)).await;
    assert!(elapsed < Duration::from_millis(2500), "shutdown took {elapsed:?} with a 1s deadline");
    let before = target.requests().len();
    let restarted_ms = now_ms();

    let rx = port.start(always(200));
    let agent = Agent::start(dir.path(), &yaml).await;
    rx.wait_for("the scrapes from before the restart and one after", WAIT, |r| {
        let ups = timestamps(&accepted(r), "up");
        let old = ups.iter().filter(|t| **t < restarted_ms).count();
        old + 1 >= before && ups.last().is_some_and(|t| *t >= restarted_ms)
    })
    .await;
    agent.shutdown(Duration::from_secs(5)).await;

    let requests = accepted(&rx.requests());
    let ups = timestamps(&requests, "up");
    let old = ups.iter().filter(|t| **t < restarted_ms).count();
    assert!(
        old <= before && old + 1 >= before,
        "{old} scrapes from before the restart arrived, the target served {before}: {ups:?}"
    );
    // Two shutdowns: each may have abandoned the scrape in flight.
    assert_each_scrape_once(&requests, target.requests().len(), 2, "all");
}
