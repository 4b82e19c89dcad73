//! A remote-write receiver on 127.0.0.1 for the tests: it decodes every
//! request with tern's own decoder (snappy block format, then protobuf),
//! records it (headers, series with labels and samples, the status it
//! answered) and answers what a [`Script`] the test controls says.
//!
//! The script is a closure from the decoded [`Request`] to an [`Answer`], so
//! a test can say "500 for the first 3 requests, then 200" ([`then_ok`]),
//! "413 above N samples" ([`when`]) or "401 always" ([`always`]), and swap
//! it while tern runs ([`Receiver::set_script`]). A body that does not
//! decode is answered 400 without asking the script and recorded with its
//! error, so a test can assert that every request decoded.
//!
//! [`ReservedPort`] holds a port on which nothing listens yet (bound, not
//! listening: connections are refused) and later starts a receiver on it:
//! the same URL is first down, then up.
//!
//! Every wait polls with a deadline; nothing blocks unbounded.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

/// The path tern is configured to POST to.
pub const WRITE_PATH: &str = "/api/v1/write";

/// One series of a request: labels in the order they came, samples as
/// `(timestamp_ms, value)` in the order they came.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

impl Series {
    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `__name__`, or "" without one.
    pub fn name(&self) -> &str {
        self.label("__name__").unwrap_or_default()
    }

    /// The label set as text, `{a="1", b="2"}` in the order received: a
    /// series' identity for comparisons.
    pub fn key(&self) -> String {
        let pairs: Vec<String> = self.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
        format!("{{{}}}", pairs.join(", "))
    }
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Position among the receiver's requests, from 0.
    pub index: usize,
    /// When it arrived (monotonic clock).
    pub received: Instant,
    /// When it arrived (wall clock, milliseconds since the epoch): compare
    /// with sample timestamps.
    pub received_ms: i64,
    pub path: String,
    pub headers: HeaderMap,
    /// The decoded `WriteRequest`'s series (empty if it did not decode).
    pub series: Vec<Series>,
    /// Why the body did not decode, if it did not.
    pub decode_error: Option<String>,
    /// The status answered. 0 while the script is deciding.
    pub status: u16,
}

impl Request {
    /// The header's value as text (`None` when absent or not ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the answer was 2xx.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Samples in the request.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }

    /// Whether a series named `name` is in the request.
    pub fn has(&self, name: &str) -> bool {
        self.series.iter().any(|s| s.name() == name)
    }

    /// Every sample as `(series key, timestamp_ms)`.
    pub fn sample_keys(&self) -> BTreeSet<(String, i64)> {
        let per_series = self.series.iter().map(|s| (s.key(), &s.samples));
        per_series
            .flat_map(|(k, samples)| samples.iter().map(move |(t, _)| (k.clone(), *t)))
            .collect()
    }

    /// Timestamps of the samples of series named `name`.
    pub fn timestamps_of(&self, name: &str) -> Vec<i64> {
        let series = self.series.iter().filter(|s| s.name() == name);
        series.flat_map(|s| s.samples.iter().map(|(t, _)| *t)).collect()
    }

    /// One line about the request, for failure messages.
    pub fn summary(&self) -> String {
        let mut names: Vec<&str> = self.series.iter().map(Series::name).collect();
        names.dedup();
        let ups = self.timestamps_of("up");
        let mut s = format!(
            "#{} {} at +{}ms: {} series, {} samples, up at {ups:?}",
            self.index,
            self.status,
            self.received_ms % 100_000,
            self.series.len(),
            self.sample_count()
        );
        if names.len() <= 4 {
            let _ = write!(s, ", names {names:?}");
        }
        if let Some(e) = &self.decode_error {
            let _ = write!(s, ", DECODE ERROR {e}");
        }
        s
    }
}

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Answer {
    /// 200 with an empty body.
    pub fn ok() -> Answer {
        Answer::status(200)
    }

    /// `status` with a short body naming it.
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: format!("status {status}\n"),
            delay: Duration::ZERO,
        }
    }

    /// The same answer with a header added.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same answer with `body`.
    pub fn body(self, body: &str) -> Answer {
        Answer { body: body.to_owned(), ..self }
    }

    /// The same answer, sent after `delay`.
    pub fn delayed(self, delay: Duration) -> Answer {
        Answer { delay, ..self }
    }
}

/// How the receiver decides its answers; called once per decoded request,
/// in arrival order, under a lock (it must not block).
pub type Script = Box<dyn FnMut(&Request) -> Answer + Send>;

/// `status` for every request.
pub fn always(status: u16) -> Script {
    Box::new(move |_| Answer::status(status))
}

/// `first` in order, one per request, then 200 for ever.
pub fn then_ok(first: Vec<Answer>) -> Script {
    let mut first = std::collections::VecDeque::from(first);
    Box::new(move |_| first.pop_front().unwrap_or_else(Answer::ok))
}

/// `answer` for the requests that satisfy `pred`, 200 for the others.
pub fn when(pred: impl Fn(&Request) -> bool + Send + 'static, answer: Answer) -> Script {
    Box::new(move |r| if pred(r) { answer.clone() } else { Answer::ok() })
}

struct Shared {
    script: Mutex<Script>,
    requests: Mutex<Vec<Request>>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// A receiver on a new port of 127.0.0.1.
    pub async fn start(script: Script) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        Receiver::serve(listener, script)
    }

    fn serve(listener: TcpListener, script: Script) -> Receiver {
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared { script: Mutex::new(script), requests: Mutex::default() });
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let cancel = CancellationToken::new();
        let shutdown = cancel.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await.expect("receiver");
        });
        Receiver { addr, shared, cancel, task: Some(task) }
    }

    /// The URL to configure as `remote_write` `url`.
    pub fn url(&self) -> String {
        format!("http://{}{WRITE_PATH}", self.addr)
    }

    /// Answers by `script` from the next request on.
    pub fn set_script(&self, script: Script) {
        *self.shared.script.lock().unwrap() = script;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Polls until `want` holds for the requests so far (returned), for at
    /// most `within`; panics naming `what` and the last requests otherwise.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        want: impl Fn(&[Request]) -> bool,
    ) -> Vec<Request> {
        let deadline = Instant::now() + within;
        loop {
            let requests = self.requests();
            if want(&requests) {
                return requests;
            }
            if Instant::now() >= deadline {
                let last: Vec<String> =
                    requests.iter().rev().take(12).map(Request::summary).collect();
                let addr = self.addr;
                panic!(
                    "receiver {addr}: timed out after {within:?} waiting for {what}; \
                     last requests, newest first: {last:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops accepting, and waits (at most 2 s) for the requests being
    /// answered; connections still busy then are left to the runtime.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A port of 127.0.0.1 held without listening: connections to it are
/// refused (a receiver that is down) until [`ReservedPort::start`].
pub struct ReservedPort {
    socket: TcpSocket,
    pub addr: SocketAddr,
}

impl ReservedPort {
    pub fn new() -> ReservedPort {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind 127.0.0.1:0");
        let addr = socket.local_addr().expect("local address");
        ReservedPort { socket, addr }
    }

    /// The URL a receiver on this port will have.
    pub fn url(&self) -> String {
        format!("http://{}{WRITE_PATH}", self.addr)
    }

    /// Starts listening: a receiver on this port from now on.
    pub fn start(self, script: Script) -> Receiver {
        let listener = self.socket.listen(1024).expect("listen");
        Receiver::serve(listener, script)
    }
}

impl Default for ReservedPort {
    fn default() -> Self {
        ReservedPort::new()
    }
}

/// Records the request, decodes it, asks the script, answers.
async fn receive(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    let received_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let (series, decode_error) = match tern::remote::encode::decode(&body) {
        Ok(write) => (write.timeseries.into_iter().map(series).collect(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let mut request = Request {
        index: 0,
        received,
        received_ms,
        path: uri.path().to_owned(),
        headers,
        series,
        decode_error,
        status: 0,
    };
    // The list stays locked while the script decides, so that indexes follow
    // the order in which the script saw the requests.
    let answer = {
        let mut requests = shared.requests.lock().unwrap();
        request.index = requests.len();
        let answer = match &request.decode_error {
            Some(e) => Answer::status(400).body(&format!("cannot decode the body: {e}\n")),
            None => (shared.script.lock().unwrap())(&request),
        };
        request.status = answer.status;
        requests.push(request);
        answer
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    response(answer)
}

fn series(ts: tern::remote::prompb::TimeSeries) -> Series {
    Series {
        labels: ts.labels.into_iter().map(|l| (l.name, l.value)).collect(),
        samples: ts.samples.into_iter().map(|s| (s.timestamp, s.value)).collect(),
    }
}

fn response(answer: Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).expect("valid status");
    for (name, value) in answer.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
        let value = HeaderValue::from_str(&value).expect("header value");
        response.headers_mut().append(name, value);
    }
    response
}
