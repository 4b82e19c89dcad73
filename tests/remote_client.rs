//! The remote-write client against real HTTP servers on 127.0.0.1: a small
//! axum receiver that records every request, and Debian's Prometheus 2.42
//! with its remote-write receiver on.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use bytes::Bytes;
use tern::config::RemoteWriteConfig;
use tern::exposition::STALE_NAN_BITS;
use tern::labels::Labels;
use tern::remote::client::{RemoteClient, SendOutcome};
use tern::remote::encode::{self, Encoder, SampleValue};
use tern::remote::retry::{DropReason, RetryAction};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Captured {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// How the receiver answers.
#[derive(Debug, Clone)]
struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![],
            body: String::new(),
            delay: Duration::ZERO,
        }
    }
}

/// A receiver on 127.0.0.1:0 that records requests and answers `reply`.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<Captured>>>,
    reply: Arc<Mutex<Reply>>,
}

impl Receiver {
    async fn start(reply: Reply) -> Receiver {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new(reply));
        let (seen, answer) = (requests.clone(), reply.clone());
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (seen, answer) = (seen.clone(), answer.clone());
            async move {
                let path = uri.path().to_owned();
                seen.lock().unwrap().push(Captured { method, path, headers, body });
                let reply = answer.lock().unwrap().clone();
                tokio::time::sleep(reply.delay).await;
                let mut response =
                    axum::response::Response::new(axum::body::Body::from(reply.body));
                *response.status_mut() = reply.status;
                for (name, value) in reply.headers {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static(name), HeaderValue::from_static(value));
                }
                response
            }
        };
        let app = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url: format!("http://{addr}/api/v1/write"), requests, reply }
    }

    fn last(&self) -> Captured {
        self.requests.lock().unwrap().last().cloned().expect("a request arrived")
    }

    fn header(&self, name: &str) -> Option<String> {
        self.last().headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }
}

fn config(yaml: &str) -> RemoteWriteConfig {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

fn new_client(yaml: &str) -> RemoteClient {
    RemoteClient::try_new(&config(yaml)).unwrap()
}

type Batch = Vec<(Labels, Vec<SampleValue>)>;
/// Series as (labels, (timestamp, value bits)), for exact comparison.
type Flat = Vec<(Vec<(String, String)>, Vec<(i64, u64)>)>;

fn batch() -> Batch {
    let labels = |name: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![("__name__", name), ("instance", "10.0.0.1:9100"), ("job", "node")];
        pairs.extend_from_slice(extra);
        Labels::from_pairs(pairs)
    };
    let s = |timestamp_ms, value| SampleValue { timestamp_ms, value };
    vec![
        (
            labels("node_cpu_seconds_total", &[("cpu", "0"), ("mode", "idle")]),
            vec![s(1_700_000_000_000, 1234.5), s(1_700_000_015_000, 1249.25)],
        ),
        (
            labels("node_filesystem_avail_bytes", &[("mountpoint", "/")]),
            vec![s(1_700_000_000_000, f64::from_bits(STALE_NAN_BITS))],
        ),
    ]
}

fn body(batch: &Batch) -> Bytes {
    let mut encoder = Encoder::new();
    Bytes::copy_from_slice(encoder.encode(batch.iter().map(|(l, s)| (l, s.as_slice()))).unwrap())
}

/// The series of a decoded body.
fn series_of(body: &[u8]) -> Flat {
    encode::decode(body)
        .unwrap()
        .timeseries
        .iter()
        .map(|ts| {
            (
                ts.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect(),
                ts.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect(),
            )
        })
        .collect()
}

fn series_of_batch(batch: &Batch) -> Flat {
    batch
        .iter()
        .map(|(l, s)| {
            (
                l.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect(),
                s.iter().map(|s| (s.timestamp_ms, s.value.to_bits())).collect(),
            )
        })
        .collect()
}

fn action(outcome: &SendOutcome, retry_on_429: bool) -> RetryAction {
    outcome.action(retry_on_429, SystemTime::now())
}

#[tokio::test]
async fn sends_remote_write_1_0_headers_and_a_snappy_protobuf_body() {
    let rx = Receiver::start(Reply::status(204)).await;
    let client = new_client(&format!("url: {}\nremote_timeout: 5s", rx.url));
    let batch = batch();
    let body = body(&batch);
    let outcome = client.send(body.clone()).await;
    assert_eq!(outcome.status, Some(204), "{outcome:?}");
    assert_eq!(outcome.error, None);
    assert_eq!(action(&outcome, true), RetryAction::Done);

    let req = rx.last();
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.path, "/api/v1/write");
    let h = |name| rx.header(name);
    assert_eq!(h("content-encoding").as_deref(), Some("snappy"));
    assert_eq!(h("content-type").as_deref(), Some("application/x-protobuf"));
    assert_eq!(h("x-prometheus-remote-write-version").as_deref(), Some("0.1.0"));
    assert_eq!(h("user-agent"), Some(format!("tern/{}", env!("CARGO_PKG_VERSION"))));
    assert_eq!(h("content-length"), Some(body.len().to_string()));
    assert_eq!(h("authorization"), None);
    // One value each: nothing was sent twice.
    for name in ["content-encoding", "content-type", "user-agent"] {
        assert_eq!(req.headers.get_all(name).iter().count(), 1, "{name}");
    }
    assert_eq!(req.body, body);
    // Snappy block format (snap::raw), then prost: what was sent, StaleNaN included.
    let raw = snap::raw::Decoder::new().decompress_vec(&req.body).unwrap();
    assert!(!raw.is_empty());
    assert_eq!(series_of(&req.body), series_of_batch(&batch));
}

#[tokio::test]
async fn basic_auth_is_sent_and_its_password_file_reread() {
    let rx = Receiver::start(Reply::status(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "p1\n").unwrap();
    let client = new_client(&format!(
        "url: {}\nbasic_auth: {{username: u, password_file: {}}}",
        rx.url,
        password.display()
    ));
    assert_eq!(client.send(body(&batch())).await.status, Some(200));
    assert_eq!(rx.header("authorization").as_deref(), Some("Basic dTpwMQ=="));
    std::fs::write(&password, "p2").unwrap();
    client.send(body(&batch())).await;
    assert_eq!(rx.header("authorization").as_deref(), Some("Basic dTpwMg=="));

    let client =
        new_client(&format!("url: {}\nbasic_auth: {{username: alice, password: s3cret}}", rx.url));
    client.send(body(&batch())).await;
    assert_eq!(rx.header("authorization").as_deref(), Some("Basic YWxpY2U6czNjcmV0"));
}

#[tokio::test]
async fn authorization_and_bearer_token_are_sent() {
    let rx = Receiver::start(Reply::status(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "from-file\n").unwrap();
    let cases = [
        ("authorization: {credentials: tok1}".to_owned(), "Bearer tok1"),
        ("authorization: {type: Token, credentials: tok2}".to_owned(), "Token tok2"),
        ("bearer_token: tok3".to_owned(), "Bearer tok3"),
        (format!("bearer_token_file: {}", token.display()), "Bearer from-file"),
        (format!("authorization: {{credentials_file: {}}}", token.display()), "Bearer from-file"),
    ];
    for (auth, want) in cases {
        let client = new_client(&format!("url: {}\n{auth}", rx.url));
        assert_eq!(client.send(body(&batch())).await.status, Some(200), "{auth}");
        assert_eq!(rx.header("authorization").as_deref(), Some(want), "{auth}");
    }
}

#[tokio::test]
async fn custom_headers_are_sent_beside_the_protocol_headers() {
    let rx = Receiver::start(Reply::status(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant");
    std::fs::write(&file, "tenant-from-file\n").unwrap();
    let client = new_client(&format!(
        "url: {}\n\
         headers: {{X-Scope-OrgID: tenant-1, X-Extra: extra}}\n\
         http_headers:\n  \
           X-Multi: {{values: [a, b]}}\n  \
           X-Secret: {{secrets: [s3cret]}}\n  \
           X-File: {{files: [{}]}}",
        rx.url,
        file.display()
    ));
    assert_eq!(client.send(body(&batch())).await.status, Some(200));
    let req = rx.last();
    let all = |name| -> Vec<_> {
        req.headers.get_all(name).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    };
    assert_eq!(all("x-scope-orgid"), ["tenant-1"]);
    assert_eq!(all("x-extra"), ["extra"]);
    assert_eq!(all("x-multi"), ["a", "b"]);
    assert_eq!(all("x-secret"), ["s3cret"]);
    assert_eq!(all("x-file"), ["tenant-from-file"]);
    assert_eq!(all("content-type"), ["application/x-protobuf"]);
    assert_eq!(all("content-encoding"), ["snappy"]);
    assert_eq!(all("x-prometheus-remote-write-version"), ["0.1.0"]);
    assert!(!format!("{client:?}").contains("s3cret"));

    // A configured protocol header is refused, never sent in place of ours.
    let err = RemoteClient::try_new(&config(&format!(
        "url: {}\nheaders: {{Content-Encoding: gzip}}",
        rx.url
    )))
    .unwrap_err();
    assert!(err.to_string().contains("Content-Encoding"), "{err}");
}

#[tokio::test]
async fn timeout_is_a_network_error_and_is_retried() {
    let rx = Receiver::start(Reply { delay: Duration::from_secs(5), ..Reply::status(200) }).await;
    let client = new_client(&format!("url: {}\nremote_timeout: 300ms", rx.url));
    let started = Instant::now();
    let outcome = client.send(body(&batch())).await;
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(outcome.status, None, "{outcome:?}");
    let error = outcome.error.clone().expect("an error");
    assert!(error.contains("timed out after 300ms"), "{error}");
    assert_eq!(action(&outcome, true), RetryAction::Retry { after: None });
}

#[tokio::test]
async fn connection_refused_is_a_network_error_and_is_retried() {
    let port = support::free_port();
    let client =
        new_client(&format!("url: http://127.0.0.1:{port}/api/v1/write\nremote_timeout: 5s"));
    let outcome = client.send(body(&batch())).await;
    assert_eq!(outcome.status, None);
    let error = outcome.error.clone().expect("an error");
    assert!(error.starts_with("connect error"), "{error}");
    assert!(!error.contains("127.0.0.1"), "the URL stays out: {error}");
    assert_eq!(action(&outcome, true), RetryAction::NETWORK_ERROR);
}

#[tokio::test]
async fn error_responses_carry_what_classify_needs() {
    let long_reason = "x".repeat(2_000);
    let rx = Receiver::start(Reply {
        headers: vec![("retry-after", "3")],
        body: long_reason,
        ..Reply::status(429)
    })
    .await;
    let client = new_client(&format!("url: {}", rx.url));
    let outcome = client.send(body(&batch())).await;
    assert_eq!(outcome.status, Some(429));
    assert_eq!(outcome.body_snippet.len(), 512);
    assert_eq!(action(&outcome, true), RetryAction::Retry { after: Some(Duration::from_secs(3)) });
    assert_eq!(action(&outcome, false), RetryAction::Drop { reason: DropReason::TooManyRequests });

    *rx.reply.lock().unwrap() = Reply {
        body: "out of order sample for series {__name__=\"up\"}".into(),
        ..Reply::status(400)
    };
    let outcome = client.send(body(&batch())).await;
    assert_eq!(outcome.body_snippet, "out of order sample for series {__name__=\"up\"}");
    assert_eq!(action(&outcome, true), RetryAction::Split);

    *rx.reply.lock().unwrap() = Reply::status(503);
    assert_eq!(
        action(&client.send(body(&batch())).await, true),
        RetryAction::Retry { after: None }
    );
    *rx.reply.lock().unwrap() = Reply::status(401);
    assert_eq!(
        action(&client.send(body(&batch())).await, true),
        RetryAction::Drop { reason: DropReason::Unauthorized }
    );
    // One request per send: the client itself never retries.
    assert_eq!(rx.requests.lock().unwrap().len(), 4);
}

/// A range query's matrix as (labels, [(timestamp seconds, value text)]).
async fn range(
    prom: &support::prometheus::Prometheus,
    selector: &str,
) -> Vec<(support::prometheus::Series, Vec<(f64, String)>)> {
    let resp: serde_json::Value = reqwest::Client::new()
        .get(prom.url("/api/v1/query"))
        .query(&[("query", selector)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["status"], "success", "{resp}");
    assert_eq!(resp["data"]["resultType"], "matrix", "{resp}");
    resp["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            let values = r["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().to_owned()))
                .collect();
            (labels, values)
        })
        .collect()
}

#[tokio::test]
async fn prometheus_2_42_stores_what_tern_sends() {
    let prom = support::prometheus::Prometheus::start("global:\n  scrape_interval: 1m\n").await;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    // Whole seconds, so that Prometheus' float seconds compare exactly.
    let t = |ago_s: i64| (now_ms / 1000 - ago_s) * 1000;
    let s = |timestamp_ms, value| SampleValue { timestamp_ms, value };
    let live = Labels::from_pairs([
        ("__name__", "tern_remote_test_seconds_total"),
        ("instance", "10.0.0.1:9100"),
        ("job", "tern_test"),
        ("mode", "idle"),
    ]);
    let stale = Labels::from_pairs([("__name__", "tern_remote_test_gone"), ("job", "tern_test")]);
    let batch: Batch = vec![
        (live.clone(), vec![s(t(90), 1.5), s(t(60), 2.5), s(t(30), 4.25)]),
        (stale, vec![s(t(60), 7.0), s(t(30), f64::from_bits(STALE_NAN_BITS))]),
    ];
    let client = new_client(&format!("url: {}", prom.url("/api/v1/write")));
    let outcome = client.send(body(&batch)).await;
    let status = outcome.status.unwrap_or_else(|| panic!("{outcome:?}"));
    assert!((200..300).contains(&status), "{outcome:?}");
    assert_eq!(action(&outcome, true), RetryAction::Done);

    let want_labels: support::prometheus::Series =
        live.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect();
    let got = range(&prom, "tern_remote_test_seconds_total[5m]").await;
    let want_values: Vec<(f64, String)> = [(90, "1.5"), (60, "2.5"), (30, "4.25")]
        .iter()
        .map(|(ago, v)| (t(*ago) as f64 / 1000.0, v.to_string()))
        .collect();
    assert_eq!(got, vec![(want_labels.clone(), want_values)]);
    assert_eq!(prom.query("tern_remote_test_seconds_total").await, vec![(want_labels, 4.25)]);

    // The stale marker arrived as one: the series is gone from instant
    // queries (a plain NaN would show as NaN) and range queries skip it.
    assert_eq!(prom.query("tern_remote_test_gone").await, vec![]);
    let got = range(&prom, "tern_remote_test_gone[5m]").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, vec![(t(60) as f64 / 1000.0, "7".to_owned())]);
}
