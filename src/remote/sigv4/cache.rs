//! The credential cache in front of a provider: one endpoint's credentials,
//! refreshed before they expire, when the shared files change, and when the
//! receiver refuses them.
//!
//! Contract:
//! - One refresh at a time: the `refresh` lock (a tokio mutex, held across
//!   the provider call; no `std` lock is ever held across an `.await`).
//! - Ahead of expiry, the first caller past the refresh time refreshes;
//!   callers that find a refresh running sign with the current credentials
//!   and do not wait.
//! - Callers wait for the refresh when there are no credentials yet, when
//!   they expired, when the shared config/credentials files changed, or when
//!   the receiver refused the ones in use ([`CredentialCache::reject`]).
//! - A failed refresh never replaces credentials: the last good ones keep
//!   being served (even past their expiry: the receiver decides, and the
//!   queue retries), and the next attempt waits a backoff (1 s doubling to
//!   60 s) so a broken source is not hammered; a change of the shared files
//!   ends the wait.
//! - A rejection names the credentials' generation: refusing credentials
//!   that were already replaced changes nothing, and forced refreshes happen
//!   at most once per [`Timing::min_forced_interval`].
//!
//! Time comes from the [`Clock`] given at construction; [`decide`] and
//! [`refresh_at`] are pure functions of the state and the time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;

use super::metrics::SigV4Metrics;
use super::profile::FileWatch;
use super::{error_chain, masked, SigV4Error};

/// The wall clock (tests pass a fake one).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// When credentials are refreshed and files re-read. The defaults are for
/// production; tests shorten some of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Refresh this long before the credentials expire, or at half their
    /// remaining lifetime when that is later (default 5 min).
    pub refresh_before: Duration,
    /// Fewest time between two refreshes ahead of expiry (default 1 s).
    pub min_refresh_interval: Duration,
    /// Fewest time between two refreshes forced by the receiver refusing
    /// the credentials (default 5 s).
    pub min_forced_interval: Duration,
    /// Wait after a failed refresh: doubles from the first value up to the
    /// second (default 1 s to 60 s).
    pub failure_backoff: (Duration, Duration),
    /// Longest a refresh may take before it counts as failed (default 30 s).
    pub refresh_timeout: Duration,
    /// Look at the shared files' size and modification time at most this
    /// often (default 1 s).
    pub poll_interval: Duration,
    /// Re-read the shared files' content at least this often, even when
    /// their size and modification time did not change (default 60 s).
    pub reread_interval: Duration,
    /// A changed file is read twice this far apart, and used only when
    /// both reads agree (default 100 ms).
    pub settle: Duration,
    /// How long a file that looks half-written (no credentials, or no
    /// session token where the previous one had one) must stay unchanged
    /// before it is taken as a deliberate change (default 2 min).
    pub incomplete_grace: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            refresh_before: Duration::from_secs(5 * 60),
            min_refresh_interval: Duration::from_secs(1),
            min_forced_interval: Duration::from_secs(5),
            failure_backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            refresh_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            reread_interval: Duration::from_secs(60),
            settle: Duration::from_millis(100),
            incomplete_grace: Duration::from_secs(2 * 60),
        }
    }
}

/// Why a refresh happens (a log field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// No credentials yet.
    Initial,
    /// The credentials expire soon, or did.
    Expiry,
    /// The shared config or credentials file changed.
    FilesChanged,
    /// The receiver refused the credentials in use.
    Rejected,
    /// The last refresh failed; trying again.
    Retry,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Initial => "initial",
            Trigger::Expiry => "expiry",
            Trigger::FilesChanged => "files_changed",
            Trigger::Rejected => "rejected",
            Trigger::Retry => "retry",
        }
    }
}

/// Credentials to sign with, and their generation (counts refreshes).
#[derive(Clone)]
pub struct Current {
    pub creds: Credentials,
    pub generation: u64,
    /// When to refresh ahead of expiry (`None`: no expiry).
    pub refresh_at: Option<SystemTime>,
}

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current")
            .field("access_key_id", &masked(self.creds.access_key_id()))
            .field("generation", &self.generation)
            .field("refresh_at", &self.refresh_at)
            .finish_non_exhaustive()
    }
}

/// The cache's state, behind a `std` mutex held only between awaits.
#[derive(Default)]
pub struct State {
    pub current: Option<Current>,
    /// A refresh is due whatever the expiry says.
    pub stale: Option<Trigger>,
    /// When the last refresh started.
    pub last_attempt: Option<SystemTime>,
    /// No refresh before this, after a failure.
    pub next_attempt: Option<SystemTime>,
    /// Failed refreshes in a row.
    pub failures: u32,
    /// Why the last refresh failed (no secret in it).
    pub last_error: Option<String>,
    generations: u64,
}

/// What a caller does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sign with the current credentials.
    Use,
    /// Refresh first; `wait`: even if another caller is refreshing (the
    /// current credentials are unusable or known to be outdated).
    Refresh { trigger: Trigger, wait: bool },
    /// Nothing to sign with, and too early to try again.
    Unavailable,
}

/// What to do at `now`.
pub fn decide(s: &State, now: SystemTime, t: &Timing) -> Decision {
    let backing_off = s.next_attempt.is_some_and(|at| now < at);
    let Some(current) = &s.current else {
        if backing_off {
            return Decision::Unavailable;
        }
        let trigger = if s.failures == 0 { Trigger::Initial } else { Trigger::Retry };
        return Decision::Refresh { trigger, wait: true };
    };
    if backing_off {
        return Decision::Use;
    }
    match s.stale {
        Some(Trigger::Rejected) => {
            let forced_ok = s.last_attempt.is_none_or(|at| now >= at + t.min_forced_interval);
            if forced_ok {
                return Decision::Refresh { trigger: Trigger::Rejected, wait: true };
            }
        }
        Some(trigger) => return Decision::Refresh { trigger, wait: true },
        None => {}
    }
    if current.creds.expiry().is_some_and(|exp| now >= exp) {
        return Decision::Refresh { trigger: Trigger::Expiry, wait: true };
    }
    if current.refresh_at.is_some_and(|at| now >= at) {
        return Decision::Refresh { trigger: Trigger::Expiry, wait: false };
    }
    Decision::Use
}

/// When credentials obtained at `now` and expiring at `expiry` are
/// refreshed: `refresh_before` ahead of the expiry, or at half the remaining
/// lifetime when that is later, and not sooner than `min_refresh_interval`.
pub fn refresh_at(now: SystemTime, expiry: Option<SystemTime>, t: &Timing) -> Option<SystemTime> {
    let remaining = expiry?.duration_since(now).unwrap_or(Duration::ZERO);
    let wait = remaining.saturating_sub(t.refresh_before).max(remaining / 2);
    Some(now + wait.max(t.min_refresh_interval))
}

/// The wait after `failures` failed refreshes in a row.
fn failure_backoff(failures: u32, t: &Timing) -> Duration {
    let (first, most) = t.failure_backoff;
    let doublings = failures.saturating_sub(1).min(16);
    first.saturating_mul(1 << doublings).min(most)
}

/// Whether two credentials are the same keys and token.
fn same(a: &Credentials, b: &Credentials) -> bool {
    a.access_key_id() == b.access_key_id()
        && a.secret_access_key() == b.secret_access_key()
        && a.session_token() == b.session_token()
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// One endpoint's credentials.
pub struct CredentialCache {
    remote_name: String,
    source: SharedCredentialsProvider,
    /// The shared files, when the source reads them.
    watch: Option<tokio::sync::Mutex<FileWatch>>,
    timing: Timing,
    clock: Clock,
    metrics: SigV4Metrics,
    state: Mutex<State>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let generation = self.lock().current.as_ref().map(|c| c.generation);
        f.debug_struct("CredentialCache")
            .field("remote_name", &self.remote_name)
            .field("generation", &generation)
            .field("watch", &self.watch.is_some())
            .finish_non_exhaustive()
    }
}

impl CredentialCache {
    pub fn new(
        remote_name: &str,
        source: SharedCredentialsProvider,
        watch: Option<FileWatch>,
        timing: Timing,
        clock: Clock,
        metrics: SigV4Metrics,
    ) -> CredentialCache {
        CredentialCache {
            remote_name: remote_name.to_owned(),
            source,
            watch: watch.map(tokio::sync::Mutex::new),
            timing,
            clock,
            metrics,
            state: Mutex::new(State::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Credentials to sign with now.
    pub async fn get(&self) -> Result<Current, SigV4Error> {
        self.poll_files().await;
        let decision = decide(&self.lock(), (self.clock)(), &self.timing);
        if let Decision::Refresh { wait, .. } = decision {
            let guard =
                if wait { Some(self.refresh.lock().await) } else { self.refresh.try_lock().ok() };
            if let Some(_guard) = guard {
                // Decided again under the lock: the refresh this caller
                // waited for may have made this one unnecessary.
                let decision = decide(&self.lock(), (self.clock)(), &self.timing);
                if let Decision::Refresh { trigger, .. } = decision {
                    self.refresh_now(trigger).await;
                }
            }
        }
        let s = self.lock();
        match &s.current {
            Some(current) => Ok(current.clone()),
            None => Err(SigV4Error::Credentials(
                s.last_error.clone().unwrap_or_else(|| "not loaded yet".to_owned()),
            )),
        }
    }

    /// The receiver refused the credentials of `generation`: refresh before
    /// the next signature (at most once per `min_forced_interval`).
    pub fn reject(&self, generation: u64) {
        let mut s = self.lock();
        if s.current.as_ref().is_some_and(|c| c.generation == generation) && s.stale.is_none() {
            s.stale = Some(Trigger::Rejected);
        }
    }

    /// Marks the credentials stale when the shared files changed.
    async fn poll_files(&self) {
        let Some(watch) = &self.watch else { return };
        // Another caller is looking: it will mark the change.
        let Ok(mut watch) = watch.try_lock() else { return };
        if watch.changed((self.clock)()).await {
            tracing::info!(
                remote_name = %self.remote_name,
                "sigv4: the shared AWS config or credentials file changed; reloading credentials"
            );
            let mut s = self.lock();
            s.stale = Some(Trigger::FilesChanged);
            // New content is news: worth trying at once, even right after a
            // failed refresh (of a half-written file, say).
            s.next_attempt = None;
        }
    }

    /// Asks the source, and records the result. Called with the refresh
    /// lock held.
    async fn refresh_now(&self, trigger: Trigger) {
        self.lock().last_attempt = Some((self.clock)());
        let loaded =
            tokio::time::timeout(self.timing.refresh_timeout, self.source.provide_credentials())
                .await;
        let now = (self.clock)();
        let result = match loaded {
            Ok(Ok(creds)) => Ok(creds),
            Ok(Err(e)) => Err(error_chain(&e)),
            Err(_) => Err(format!("no answer within {:?}", self.timing.refresh_timeout)),
        };
        match result {
            Ok(creds) => self.refreshed(trigger, creds, now),
            Err(error) => self.failed(trigger, error, now),
        }
    }

    fn refreshed(&self, trigger: Trigger, creds: Credentials, now: SystemTime) {
        let mut s = self.lock();
        let unchanged = s.current.as_ref().is_some_and(|c| same(&c.creds, &creds));
        s.generations += 1;
        let expiry = creds.expiry();
        let key = masked(creds.access_key_id());
        s.current = Some(Current {
            creds,
            generation: s.generations,
            refresh_at: refresh_at(now, expiry, &self.timing),
        });
        s.stale = None;
        s.failures = 0;
        s.next_attempt = None;
        s.last_error = None;
        drop(s);
        self.metrics.refreshed(&self.remote_name, true);
        self.metrics.expiry(&self.remote_name, expiry.map_or(0.0, unix_secs));
        let expires = expiry.map(|e| humantime::format_rfc3339_seconds(e).to_string());
        let expires = expires.unwrap_or_else(|| "never".to_owned());
        if unchanged && trigger == Trigger::Rejected {
            tracing::warn!(
                remote_name = %self.remote_name,
                access_key_id = %key,
                %expires,
                "sigv4: the credential source still returns the credentials the receiver refused; \
                 retrying with them until it offers new ones"
            );
        } else if unchanged {
            tracing::debug!(remote_name = %self.remote_name, trigger = trigger.as_str(), "sigv4: credentials unchanged");
        } else {
            tracing::info!(
                remote_name = %self.remote_name,
                trigger = trigger.as_str(),
                access_key_id = %key,
                %expires,
                "sigv4: AWS credentials loaded"
            );
        }
    }

    fn failed(&self, trigger: Trigger, error: String, now: SystemTime) {
        let mut s = self.lock();
        s.failures += 1;
        let wait = failure_backoff(s.failures, &self.timing);
        s.next_attempt = Some(now + wait);
        s.last_error = Some(error.clone());
        // A pending reason to refresh stays: it is tried again after the wait.
        let valid_until = s.current.as_ref().map(|c| c.creds.expiry());
        drop(s);
        self.metrics.refreshed(&self.remote_name, false);
        let retry_in_ms = wait.as_millis() as u64;
        match valid_until {
            Some(expiry) if expiry.is_none_or(|e| e > now) => {
                let until = expiry.map(|e| humantime::format_rfc3339_seconds(e).to_string());
                tracing::warn!(
                    remote_name = %self.remote_name,
                    trigger = trigger.as_str(),
                    %error,
                    retry_in_ms,
                    valid_until = until.as_deref().unwrap_or("no expiry"),
                    "sigv4: refreshing AWS credentials failed; signing with the previous ones"
                );
            }
            _ => tracing::error!(
                remote_name = %self.remote_name,
                trigger = trigger.as_str(),
                %error,
                retry_in_ms,
                "sigv4: no valid AWS credentials; samples wait in the WAL until credentials load"
            ),
        }
    }
}

#[cfg(test)]
mod tests;
