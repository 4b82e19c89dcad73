//! HTTP fetch of one scrape: the Accept negotiation Prometheus uses, gzip,
//! authentication, the timeout and `body_size_limit` (the body is never read
//! past the limit). The `host_metrics:` job's fetcher instead runs the host
//! collectors on a blocking thread and renders their text into the buffer,
//! so the rest of the scrape loop treats it as any body.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, USER_AGENT,
};

use super::direct::{self, DirectError, DirectUrl, KeptConn, Reply};

use crate::config::ScrapeProtocol;
use crate::exposition::Format;
use crate::hostmetrics::HostCollector;
pub use crate::http_client::{Auth, USER_AGENT_VALUE};

/// The Accept header for `protocols` in order of preference, weighted as
/// Prometheus weights them, with `*/*` last. `PrometheusProto` is left out:
/// tern does not parse protobuf, so it never asks for it.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    let mut weight = ScrapeProtocol::ALL.len() + 1; // as Prometheus counts
    let mut parts = Vec::new();
    for p in protocols.iter().filter(|p| **p != ScrapeProtocol::PrometheusProto) {
        parts.push(format!("{};q=0.{weight}", p.header_value()));
        weight -= 1;
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

/// The parser for a response's Content-Type (Prometheus falls back to text).
pub fn format_for(content_type: &str) -> Format {
    if content_type.trim_start().starts_with("application/openmetrics-text") {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Why a scrape's fetch failed; the text is the target's `lastError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("Get {url:?}: context deadline exceeded (timeout {timeout:?})")]
    Timeout { url: String, timeout: Duration },
    #[error("server returned HTTP status {0}")]
    Status(String),
    #[error("body size limit exceeded: {0}")]
    BodySizeLimit(usize),
    #[error("Get {url:?}: {message}")]
    Transport { url: String, message: String },
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("host metrics collection failed: {0}")]
    Host(String),
}

impl FetchError {
    /// A short reason for the failures counter.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Timeout { .. } => "timeout",
            FetchError::Status(_) => "http_status",
            FetchError::BodySizeLimit(_) => "body_size_limit",
            FetchError::Transport { .. } => "transport",
            FetchError::Credentials(_) => "credentials",
            FetchError::Host(_) => "host_metrics",
        }
    }
}

/// Fetches bodies for the targets of one job.
#[derive(Debug, Clone)]
pub struct Fetcher {
    pub client: reqwest::Client,
    pub auth: Auth,
    pub accept: String,
    pub timeout: Duration,
    /// 0: no limit.
    pub body_size_limit: usize,
    /// `enable_compression`: ask for gzip (a gzip reply is decoded either way).
    pub compression: bool,
    /// Set for the `host_metrics:` job: collect in-process instead of GET.
    pub host: Option<Arc<HostCollector>>,
    /// Plain-HTTP targets without a proxy are fetched over a connection
    /// each target keeps ([`super::direct`]) instead of through `client`.
    pub direct: bool,
    /// `follow_redirects`: a redirect of a direct request is then followed
    /// through `client`.
    pub follow_redirects: bool,
}

impl Fetcher {
    /// GETs `url` into `buf` (cleared first) and returns the body's format.
    /// `conn`: the target's kept connection, for direct requests.
    pub async fn fetch(
        &self,
        url: &str,
        timeout: Duration,
        buf: &mut Vec<u8>,
        conn: &mut KeptConn,
    ) -> Result<Format, FetchError> {
        buf.clear();
        if let Some(host) = &self.host {
            return collect_host(host, url, timeout, buf).await;
        }
        match tokio::time::timeout(timeout, self.fetch_inner(url, timeout, buf, conn)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout { url: url.to_owned(), timeout }),
        }
    }

    async fn fetch_inner(
        &self,
        url: &str,
        timeout: Duration,
        buf: &mut Vec<u8>,
        conn: &mut KeptConn,
    ) -> Result<Format, FetchError> {
        let headers = self.headers(timeout)?;
        if let Some(direct_url) = self.direct.then(|| DirectUrl::parse(url)).flatten() {
            let (gzip, limit) = (self.compression, self.body_size_limit);
            match direct::get(&direct_url, &headers, gzip, conn, limit, buf).await {
                Ok(Reply::Ok { content_type }) => return Ok(format_for(&content_type)),
                Ok(Reply::Status(status)) if self.follow_redirects && status.is_redirection() => {
                    buf.clear();
                }
                Ok(Reply::Status(status)) => return Err(FetchError::Status(status.to_string())),
                Err(DirectError::BodySizeLimit) => {
                    return Err(FetchError::BodySizeLimit(self.body_size_limit))
                }
                Err(e) => {
                    return Err(FetchError::Transport {
                        url: url.to_owned(),
                        message: e.to_string(),
                    })
                }
            }
        }
        let transport = |e: reqwest::Error| FetchError::Transport {
            url: url.to_owned(),
            message: error_chain(&e),
        };
        let request = self.client.get(url).headers(headers);
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status(status.to_string()));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if self.body_size_limit > 0 && buf.len() + chunk.len() > self.body_size_limit {
                return Err(FetchError::BodySizeLimit(self.body_size_limit));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(format_for(&content_type))
    }

    /// The request headers of a scrape: Accept, User-Agent, Accept-Encoding,
    /// the timeout, and the authentication (secret files read now).
    fn headers(&self, timeout: Duration) -> Result<HeaderMap, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_str(&self.accept).expect("BUG: accept header is ASCII"),
        );
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        // With compression reqwest asks for gzip itself (direct requests
        // add it).
        if !self.compression {
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }
        let secs = format!("{}", timeout.as_secs_f64());
        headers.insert(
            "X-Prometheus-Scrape-Timeout-Seconds",
            HeaderValue::from_str(&secs).expect("BUG: number"),
        );
        if let Some(value) = self.auth.header().map_err(|e| FetchError::Credentials(e.0))? {
            headers.insert(AUTHORIZATION, value);
        }
        Ok(headers)
    }
}

/// One host collection on a blocking thread (the collectors read files),
/// rendered in the text format into `buf`. On timeout the collection still
/// finishes in the background; its result is dropped.
async fn collect_host(
    host: &Arc<HostCollector>,
    url: &str,
    timeout: Duration,
    buf: &mut Vec<u8>,
) -> Result<Format, FetchError> {
    let host = host.clone();
    let mut out = std::mem::take(buf);
    let task = tokio::task::spawn_blocking(move || {
        out.clear();
        host.collect().render_text(&mut out);
        out
    });
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(out)) => {
            *buf = out;
            Ok(Format::Text)
        }
        Ok(Err(e)) => Err(FetchError::Host(e.to_string())),
        Err(_) => Err(FetchError::Timeout { url: url.to_owned(), timeout }),
    }
}

/// The root cause of a transport error (`Connection refused (os error 111)`),
/// which says more than reqwest's or hyper's wrappers around it.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut root = e;
    while let Some(s) = root.source() {
        root = s;
    }
    root.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_is_weighted_like_prometheus() {
        assert_eq!(
            accept_header(&ScrapeProtocol::DEFAULT),
            "application/openmetrics-text;version=1.0.0;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=0.0.4;q=0.4,*/*;q=0.3"
        );
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusText0_0_4]),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusProto, ScrapeProtocol::PrometheusText0_0_4]),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
    }

    #[test]
    fn content_type_selects_the_parser() {
        assert_eq!(
            format_for("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(format_for("text/plain; version=0.0.4"), Format::Text);
        assert_eq!(format_for(""), Format::Text);
        assert_eq!(format_for("application/json"), Format::Text);
    }
}
