//! One remote-write endpoint's HTTP client.
//!
//! [`RemoteClient::send`] POSTs an encoded body as the specification's
//! "Protocol" section requires:
//!
//! ```text
//! POST <url>
//! Content-Encoding: snappy
//! Content-Type: application/x-protobuf
//! User-Agent: tern/<version>
//! X-Prometheus-Remote-Write-Version: 0.1.0
//! ```
//!
//! plus the configured `headers` and `http_headers` (which can never replace
//! the headers above: building the client refuses them) and authentication
//! (`basic_auth`, `authorization`, `bearer_token(_file)`, or `sigv4`:
//! [`super::sigv4`] signs each attempt after everything else is final, and
//! [`Signer::observe`] reads its 401/403 answers). The request
//! times out after `remote_timeout`. TLS and proxy settings come from the
//! endpoint's HTTP client config ([`crate::http_client`]).
//!
//! `send` decides nothing: it reports a [`SendOutcome`] (status, headers,
//! the start of the body) and [`SendOutcome::action`] hands that to the pure
//! [`retry::classify`]. It never logs; nothing it returns holds a secret or
//! the request body.
//!
//! Concurrency: a `RemoteClient` is `Send + Sync`; shards share one through
//! an `Arc`, and reqwest pools the connections.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT,
};

use crate::config::RemoteWriteConfig;
use crate::http_client::{build_client, Auth, USER_AGENT_VALUE};
use crate::remote::metrics::RemoteMetrics;
use crate::remote::retry::{self, RetryAction};
use crate::remote::sigv4::{Rejection, Signer};

/// `X-Prometheus-Remote-Write-Version`, sent with every request.
pub const REMOTE_WRITE_VERSION_HEADER: &str = "x-prometheus-remote-write-version";
/// The protocol version tern speaks.
pub const REMOTE_WRITE_VERSION: &str = "0.1.0";
/// How much of a response body [`SendOutcome::body_snippet`] keeps.
pub const BODY_SNIPPET_LEN: usize = 512;
/// How much of a response body is read (and thrown away) so the connection
/// can be reused; a longer body closes it instead.
const BODY_DRAIN_LIMIT: usize = 64 * 1024;

/// Headers the client or the transport sets: configuring them is refused
/// (the config's validation refuses them too, with Prometheus' messages).
const OWN_HEADERS: [&str; 9] = [
    "authorization",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    REMOTE_WRITE_VERSION_HEADER,
    "host",
    "connection",
    "transfer-encoding",
];

/// Why a client could not be built from its config.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("remote_write {endpoint}: invalid url: {message}")]
    Url { endpoint: String, message: String },
    #[error("remote_write {endpoint}: header {name:?}: {message}")]
    Header { endpoint: String, name: String, message: String },
    #[error("remote_write {endpoint}: {message}")]
    Http { endpoint: String, message: String },
}

/// What one send produced. Exactly one of `status` and `error` is set.
#[derive(Debug, Clone, Default)]
pub struct SendOutcome {
    /// The response status; `None` when there was no response.
    pub status: Option<u16>,
    /// The response headers (empty without a response).
    pub headers: HeaderMap,
    /// The first [`BODY_SNIPPET_LEN`] bytes of the response body, lossily
    /// decoded: a receiver's reason for a 4xx, to log as is (the
    /// specification's "Labels": "Senders MUST NOT try and interpret the
    /// error message").
    pub body_snippet: String,
    /// Why there was no response: connection, timeout, credentials.
    pub error: Option<String>,
    /// A 401/403 that SigV4 recognised (expired or invalid credentials,
    /// access denied): retried instead of dropped.
    pub sigv4_rejection: Option<Rejection>,
}

impl SendOutcome {
    /// What the queue does next, by [`retry::classify`]; no response is
    /// [`RetryAction::NETWORK_ERROR`].
    pub fn action(&self, retry_on_http_429: bool, now: SystemTime) -> RetryAction {
        match (self.status, self.sigv4_rejection) {
            // The batch is not at fault: see `remote::sigv4` on why both
            // kinds are retried.
            (Some(_), Some(_)) => {
                RetryAction::Retry { after: retry::retry_after(&self.headers, now) }
            }
            (Some(status), None) => retry::classify(status, &self.headers, retry_on_http_429, now),
            (None, _) => RetryAction::NETWORK_ERROR,
        }
    }

    fn failed(error: String) -> SendOutcome {
        SendOutcome { error: Some(error), ..SendOutcome::default() }
    }
}

/// `http_headers` entries whose value is a file's content.
type HeaderFiles = Vec<(HeaderName, PathBuf)>;

/// The client of one `remote_write` endpoint.
pub struct RemoteClient {
    /// `name`, or the URL with its password hidden: for logs and errors.
    endpoint: String,
    url: reqwest::Url,
    client: reqwest::Client,
    auth: Auth,
    /// Signs every attempt when `sigv4` is configured (then `auth` is `None`).
    sigv4: Option<Signer>,
    /// Every request's headers: configured ones, then the protocol's.
    headers: HeaderMap,
    /// `http_headers` values read from files at each request.
    header_files: HeaderFiles,
    timeout: Duration,
}

impl RemoteClient {
    /// The client for `config` (as `config::load` returns it: validated).
    /// Reads TLS files and `username_file` now; other credential files are
    /// read at each request.
    pub fn try_new(config: &RemoteWriteConfig) -> Result<RemoteClient, ClientError> {
        RemoteClient::try_new_with_metrics(config, &RemoteMetrics::default())
    }

    /// [`RemoteClient::try_new`], counting into `metrics` (SigV4's own).
    pub fn try_new_with_metrics(
        config: &RemoteWriteConfig,
        metrics: &RemoteMetrics,
    ) -> Result<RemoteClient, ClientError> {
        let url = reqwest::Url::parse(&config.url);
        let endpoint = match (&config.name, &url) {
            (Some(name), _) if !name.is_empty() => name.clone(),
            (_, Ok(url)) => redacted(url),
            (_, Err(_)) => "<invalid url>".to_owned(),
        };
        let url = url
            .map_err(|e| ClientError::Url { endpoint: endpoint.clone(), message: e.to_string() })?;
        let http = |message: String| ClientError::Http { endpoint: endpoint.clone(), message };
        let (auth, sigv4) = match &config.sigv4 {
            // Signs in `send`, after the body and every other header are final.
            Some(sigv4) => {
                let remote_name = crate::remote::manager::endpoint_name(config);
                (Auth::None, Some(Signer::new(sigv4, &remote_name, metrics.sigv4.clone())))
            }
            None => (Auth::from_config(&config.http_client).map_err(http)?, None),
        };
        let (headers, header_files) = request_headers(config, &endpoint)?;
        let client = build_client(&config.http_client, false).map_err(http)?;
        let timeout = config.remote_timeout;
        Ok(RemoteClient { endpoint, url, client, auth, sigv4, headers, header_files, timeout })
    }

    /// The endpoint's name, or its URL without password: for logs.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// POSTs `body`, an [`Encoder`](super::encode::Encoder) output. The
    /// body is `Bytes` so that retries share it without copying.
    pub async fn send(&self, body: Bytes) -> SendOutcome {
        let mut request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .timeout(self.timeout)
            .body(body.clone());
        for (name, path) in &self.header_files {
            match read_header_file(path) {
                Ok(value) => request = request.header(name, value),
                Err(e) => return SendOutcome::failed(e),
            }
        }
        let mut request = match self.auth.apply(request) {
            Ok(request) => request,
            Err(e) => return SendOutcome::failed(e.to_string()),
        };
        let mut signed = None;
        if let Some(signer) = &self.sigv4 {
            match signer.sign(&self.url, &body).await {
                Ok(s) => {
                    for (name, value) in &s.headers {
                        request = request.header(name, value.clone());
                    }
                    signed = Some(s);
                }
                Err(e) => return SendOutcome::failed(e.to_string()),
            }
        }
        let mut outcome = match request.send().await {
            Ok(response) => read_response(response).await,
            Err(e) => SendOutcome::failed(describe(&e, self.timeout)),
        };
        if let (Some(signer), Some(signed), Some(status)) = (&self.sigv4, &signed, outcome.status) {
            outcome.sigv4_rejection =
                signer.observe(signed, status, &outcome.headers, &mut outcome.body_snippet);
        }
        outcome
    }
}

/// Secrets stay out: the auth prints redacted, headers by name only.
impl fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteClient")
            .field("endpoint", &self.endpoint)
            .field("url", &redacted(&self.url))
            .field("auth", &self.auth)
            .field("sigv4", &self.sigv4)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("header_files", &self.header_files)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Every request's headers: the configured ones (`headers`, and the values
/// and secrets of `http_headers`), then the protocol's, which nothing
/// configured may name. `http_headers` files are returned, to be read at
/// each request.
fn request_headers(
    config: &RemoteWriteConfig,
    endpoint: &str,
) -> Result<(HeaderMap, HeaderFiles), ClientError> {
    let err = |name: &str, message: String| ClientError::Header {
        endpoint: endpoint.to_owned(),
        name: name.to_owned(),
        message,
    };
    let header = |name: &str, value: &str, sensitive: bool| {
        let lower = name.to_ascii_lowercase();
        if OWN_HEADERS.contains(&lower.as_str()) {
            return Err(err(name, "is set by remote write and cannot be configured".into()));
        }
        let name_ = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| err(name, "not a valid header name".into()))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| err(name, "value is not a valid header value".into()))?;
        value.set_sensitive(sensitive);
        Ok((name_, value))
    };
    let mut headers = HeaderMap::new();
    let mut files = Vec::new();
    for (name, value) in &config.headers {
        let (name, value) = header(name, value, false)?;
        headers.insert(name, value);
    }
    for (name, h) in &config.http_client.http_headers {
        let plain = h.values.iter().map(|v| (v.as_str(), false));
        let secret = h.secrets.iter().map(|s| (s.expose(), true));
        for (value, sensitive) in plain.chain(secret) {
            let (name, value) = header(name, value, sensitive)?;
            headers.append(name, value);
        }
        for path in &h.files {
            let (name, _) = header(name, "", true)?;
            files.push((name, path.clone()));
        }
    }
    // Last, so nothing configured could stand in their place.
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    headers.insert(REMOTE_WRITE_VERSION_HEADER, HeaderValue::from_static(REMOTE_WRITE_VERSION));
    Ok((headers, files))
}

fn read_header_file(path: &PathBuf) -> Result<HeaderValue, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("http_headers: reading {}: {e}", path.display()))?;
    let mut value = HeaderValue::from_str(text.trim()).map_err(|_| {
        format!("http_headers: {} does not hold a valid header value", path.display())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Status, headers and the start of the body. The rest of a short body is
/// read and dropped so the connection goes back to the pool.
async fn read_response(mut response: reqwest::Response) -> SendOutcome {
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let mut snippet = Vec::new();
    let mut read = 0;
    // A failed body read changes nothing: the status has been decided.
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = BODY_SNIPPET_LEN.saturating_sub(snippet.len());
        snippet.extend_from_slice(&chunk[..room.min(chunk.len())]);
        read += chunk.len();
        if read >= BODY_DRAIN_LIMIT {
            break;
        }
    }
    let body_snippet = String::from_utf8_lossy(&snippet).into_owned();
    SendOutcome { status: Some(status), headers, body_snippet, ..SendOutcome::default() }
}

/// A transport error by its root cause (`Connection refused (os error
/// 111)`), which says more than reqwest's wrappers, and leaves out the URL
/// that reqwest's own text holds (with any password in it).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("request timed out after {timeout:?}");
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(source) = root.source() {
        root = source;
    }
    let kind = if e.is_connect() { "connect" } else { "request" };
    format!("{kind} error: {root}")
}

/// `url` with its password, if any, replaced (as Go's `URL.Redacted`).
fn redacted(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("xxxxx"));
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> RemoteWriteConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn sigv4_builds_a_signer_that_shows_no_secret() {
        let client = RemoteClient::try_new(&config(
            "url: https://aps-workspaces.eu-west-1.amazonaws.com/api/v1/remote_write\n\
             name: amp\nsigv4: {region: eu-west-1, access_key: AKIAEXAMPLE12345, secret_key: sk-9876}",
        ))
        .unwrap();
        let debug = format!("{client:?}");
        assert!(debug.contains("Signer") && debug.contains("AKIA…2345"), "{debug}");
        assert!(!debug.contains("sk-9876") && !debug.contains("AKIAEXAMPLE12345"), "{debug}");
    }

    #[test]
    fn sigv4_rejections_are_retried_other_403s_dropped() {
        let now = SystemTime::now();
        let mut outcome = SendOutcome { status: Some(403), ..SendOutcome::default() };
        assert!(matches!(outcome.action(true, now), RetryAction::Drop { .. }));
        outcome.sigv4_rejection = Some(Rejection::AccessDenied);
        assert_eq!(outcome.action(true, now), RetryAction::Retry { after: None });
        outcome.headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(
            outcome.action(true, now),
            RetryAction::Retry { after: Some(Duration::from_secs(3)) }
        );
    }

    #[test]
    fn protocol_headers_cannot_be_configured() {
        for name in ["Content-Type", "user-agent", "X-Prometheus-Remote-Write-Version"] {
            let err = RemoteClient::try_new(&config(&format!(
                "url: http://127.0.0.1:9/w\nheaders: {{{name}: x}}"
            )))
            .unwrap_err();
            assert!(err.to_string().contains("is set by remote write"), "{err}");
        }
        let err = RemoteClient::try_new(&config(
            "url: http://127.0.0.1:9/w\nhttp_headers: {Authorization: {values: [x]}}",
        ))
        .unwrap_err();
        assert!(matches!(err, ClientError::Header { .. }), "{err}");
    }

    #[test]
    fn invalid_url_is_an_error_naming_the_endpoint() {
        let err = RemoteClient::try_new(&config("url: not a url\nname: x")).unwrap_err();
        assert!(err.to_string().starts_with("remote_write x: invalid url"), "{err}");
    }

    #[test]
    fn debug_shows_no_secret() {
        let client = RemoteClient::try_new(&config(
            "url: https://user:urlpass@example.com/w\n\
             basic_auth: {username: u, password: hunter2}\n\
             http_headers: {X-Token: {secrets: [tok3n]}}",
        ))
        .unwrap();
        let debug = format!("{client:?}");
        for secret in ["hunter2", "urlpass", "tok3n"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert_eq!(client.endpoint(), "https://user:xxxxx@example.com/w");
        let client = RemoteClient::try_new(&config(
            "url: http://127.0.0.1:9/w\nauthorization: {credentials: s3cr3t}",
        ))
        .unwrap();
        assert!(!format!("{client:?}").contains("s3cr3t"));
    }

    #[test]
    fn no_response_is_retried() {
        let outcome = SendOutcome::failed("connect error".into());
        assert_eq!(outcome.action(false, SystemTime::now()), RetryAction::NETWORK_ERROR);
    }
}
