//! AWS Signature Version 4 for remote write (Amazon Managed Service for
//! Prometheus), with credentials that rotate under a running agent.
//!
//! ```text
//! RemoteClient::send(body) ──► Signer::sign(url, body) ──► headers ──► POST
//!                                 │  region (once)      host, x-amz-date,
//!                                 │  CredentialCache    x-amz-content-sha256,
//!                                 ▼                     x-amz-security-token,
//!                   source: static keys | chain (env,   authorization
//!                   watched profile files, web identity,
//!                   container, IMDSv2) [+ AssumeRole]
//!
//! response ──► Signer::observe ──► Rejection? ──► SendOutcome::action
//!                 │ scrub secrets     Credentials: refresh, retry
//!                 │ from the body     AccessDenied: count, log, retry
//! ```
//!
//! - [`sign`]: the signature, a pure function of URL, body, credentials,
//!   region, service and time (a known-answer test pins it).
//! - [`source`]: where credentials and the region come from, as the AWS SDKs
//!   resolve them (`aws-config`'s providers).
//! - [`profile`]: the shared config/credentials files, re-read when they
//!   change (and at least every 60 s); a half-written file never replaces
//!   good credentials.
//! - [`cache`]: one endpoint's credentials; refreshed ahead of expiry, one
//!   refresh at a time; the last good ones kept while a refresh fails.
//! - [`rejection`]: what a 401/403 means (expired token, bad signature,
//!   unknown key: refresh and retry; access denied: an operator must grant
//!   `aps:RemoteWrite`), and scrubbing secrets from response text.
//! - [`metrics`]: the `tern_remote_sigv4_*` metrics.
//!
//! Every send signs anew, retries included: the time moves, and the
//! credentials may have been refreshed in between. The body is signed as
//! sent (snappy-compressed), its SHA-256 in `x-amz-content-sha256`.
//!
//! Both kinds of [`Rejection`] keep the batch: it is retried with the
//! queue's backoff, never dropped for that reason. For expired or invalid
//! credentials that is the whole point (the refresh fixes it). For
//! `AccessDeniedException` it deviates from the remote-write specification
//! ("Retries & Backoff": no retry of 4xx other than 429) on purpose: the
//! denial is about the endpoint's identity, not the batch, so every batch
//! would be dropped until an operator fixes IAM; retrying keeps the data in
//! the WAL (within its size bound) and delivers it once the permission is
//! granted, as vmagent does for every status but 400 and 409. The operator
//! sees an ERROR naming `aps:RemoteWrite` (at most once a minute),
//! `tern_remote_sigv4_access_denied_total`, and the queue falling behind.
//!
//! Secrets (secret keys, session tokens, web identity tokens) appear in no
//! log, error, metric or `Debug` output: errors name files and providers,
//! access key ids are shown masked (`ASIA…WXYZ`), the `authorization` and
//! `x-amz-security-token` headers are marked sensitive, and response bodies
//! are scrubbed before the queue logs them (AWS quotes the canonical request,
//! session token included, in signature errors).

pub mod cache;
pub mod metrics;
pub mod profile;
pub mod rejection;
pub mod sign;
pub mod source;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::SigV4Config;
use cache::{Clock, CredentialCache, Timing};
pub use metrics::SigV4Metrics;
pub use rejection::{Problem, Rejection};
use source::Settings;

/// The service signed for unless `service_name` says otherwise.
pub const DEFAULT_SERVICE: &str = "aps";

/// Internal: overrides [`Timing::reread_interval`] (a duration such as
/// `2s`), for tests that cannot wait the 60 s default.
pub const REREAD_INTERVAL_ENV: &str = "TERN_SIGV4_REREAD_INTERVAL";

/// How often the same kind of ERROR is logged, at most.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(60);

/// Why a request could not be signed. No variant holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    #[error("sigv4: no AWS region: set sigv4.region, AWS_REGION, or region in the AWS profile")]
    NoRegion,
    #[error("sigv4: no AWS credentials: {0}")]
    Credentials(String),
    #[error("sigv4: signing failed: {0}")]
    Signing(String),
}

/// `ASIA…WXYZ`: enough of an access key id to tell keys apart in logs.
pub fn masked(access_key_id: &str) -> String {
    let chars: Vec<char> = access_key_id.chars().collect();
    if chars.len() <= 8 {
        return "…".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// An error and its sources, `a: b: c` (the AWS crates put the cause in
/// the sources).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The timing, with the internal overrides `env` holds.
pub fn timing_from_env(env: impl Fn(&str) -> Option<String>) -> Timing {
    let mut timing = Timing::default();
    if let Some(d) = env(REREAD_INTERVAL_ENV).and_then(|v| humantime::parse_duration(&v).ok()) {
        timing.reread_interval = d;
    }
    timing
}

/// What one signature used: to scrub the response and to name the
/// credentials in a rejection.
pub struct Signed {
    /// Headers to add to the request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    generation: u64,
    creds: Credentials,
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("headers", &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("generation", &self.generation)
            .field("access_key_id", &masked(self.creds.access_key_id()))
            .finish()
    }
}

struct Ready {
    region: String,
    cache: CredentialCache,
}

/// Signs one endpoint's requests.
pub struct Signer {
    remote_name: String,
    service: String,
    settings: Settings,
    timing: Timing,
    http: SharedHttpClient,
    clock: Clock,
    metrics: SigV4Metrics,
    ready: tokio::sync::OnceCell<Ready>,
    /// Unix seconds of the last rate-limited ERROR, per kind.
    denied_logged: AtomicU64,
    setup_logged: AtomicU64,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("remote_name", &self.remote_name)
            .field("service", &self.service)
            .field("region", &self.ready.get().map(|r| &r.region).or(self.settings.region.as_ref()))
            .field("credentials", &self.settings.describe())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for the endpoint `remote_name` configured by `config`. Cheap
    /// and offline: the region and the credential source are set up at the
    /// first signature (they may need the network).
    pub fn new(config: &SigV4Config, remote_name: &str, metrics: SigV4Metrics) -> Signer {
        let timing = timing_from_env(|k| std::env::var(k).ok());
        Signer::with(config, remote_name, metrics, timing, cache::system_clock())
    }

    /// [`Signer::new`] with the timing and the clock given.
    pub fn with(
        config: &SigV4Config,
        remote_name: &str,
        metrics: SigV4Metrics,
        timing: Timing,
        clock: Clock,
    ) -> Signer {
        let service = config.service_name.clone().filter(|s| !s.is_empty());
        Signer {
            remote_name: remote_name.to_owned(),
            service: service.unwrap_or_else(|| DEFAULT_SERVICE.to_owned()),
            settings: Settings::from_config(config),
            timing,
            http: source::http_client(),
            clock,
            metrics,
            ready: tokio::sync::OnceCell::new(),
            denied_logged: AtomicU64::new(0),
            setup_logged: AtomicU64::new(0),
        }
    }

    async fn setup(&self) -> Result<Ready, SigV4Error> {
        let region = source::region(&self.settings, &self.http).await?;
        let (provider, watch) =
            source::credentials(&self.settings, &region, &self.http, &self.timing, &self.clock)
                .await;
        tracing::info!(
            remote_name = %self.remote_name,
            %region,
            service = %self.service,
            credentials = %self.settings.describe(),
            "sigv4: signing remote-write requests"
        );
        let cache = CredentialCache::new(
            &self.remote_name,
            provider,
            watch,
            self.timing.clone(),
            self.clock.clone(),
            self.metrics.clone(),
        );
        Ok(Ready { region, cache })
    }

    /// Signs a `POST` of `body` to `url` now.
    pub async fn sign(&self, url: &reqwest::Url, body: &[u8]) -> Result<Signed, SigV4Error> {
        let ready = match self.ready.get_or_try_init(|| self.setup()).await {
            Ok(ready) => ready,
            Err(e) => {
                if self.due(&self.setup_logged) {
                    tracing::error!(remote_name = %self.remote_name, error = %e, "sigv4: cannot sign");
                }
                return Err(e);
            }
        };
        let current = ready.cache.get().await?;
        let time = (self.clock)();
        let headers = sign::sign(url, body, &current.creds, &ready.region, &self.service, time)
            .map_err(SigV4Error::Signing)?;
        Ok(Signed { headers, generation: current.generation, creds: current.creds })
    }

    /// Looks at the response to a request signed as `signed`: removes
    /// secrets from `body_snippet` (to be logged), and for a 401/403 that
    /// [`rejection::classify`] recognises, counts it and acts (a credential
    /// refresh, or an ERROR for access denied). The caller retries on
    /// `Some`.
    pub fn observe(
        &self,
        signed: &Signed,
        status: u16,
        headers: &HeaderMap,
        body_snippet: &mut String,
    ) -> Option<Rejection> {
        let token = signed.creds.session_token().unwrap_or_default();
        rejection::scrub(body_snippet, &[signed.creds.secret_access_key(), token]);
        let rejection = rejection::classify(status, headers, body_snippet)?;
        match rejection {
            Rejection::Credentials(problem) => {
                self.metrics.rejected(&self.remote_name, problem.label());
                if let Some(ready) = self.ready.get() {
                    ready.cache.reject(signed.generation);
                }
            }
            Rejection::AccessDenied => {
                self.metrics.denied(&self.remote_name);
                if self.due(&self.denied_logged) {
                    tracing::error!(
                        remote_name = %self.remote_name,
                        status,
                        access_key_id = %masked(signed.creds.access_key_id()),
                        service = %self.service,
                        response = %body_snippet,
                        "sigv4: AWS denied access (AccessDeniedException): grant aps:RemoteWrite \
                         on the workspace to the identity tern signs with; samples stay in the \
                         WAL and are retried"
                    );
                }
            }
        }
        Some(rejection)
    }

    /// Whether a rate-limited ERROR may be logged now (and notes it).
    fn due(&self, last: &AtomicU64) -> bool {
        let now = (self.clock)().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let before = last.load(Ordering::Relaxed);
        let due = before == 0 || now >= before + ERROR_LOG_EVERY.as_secs();
        due && last
            .compare_exchange(before, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests;
