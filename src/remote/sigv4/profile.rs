//! The shared AWS config and credentials files, watched.
//!
//! `aws-config` parses these files once per provider and never again, while
//! the SSM agent on hybrid-activated (on-premises) servers rewrites
//! `~/.aws/credentials` in place about every 30 minutes with credentials
//! valid for 60. Two pieces make tern follow it:
//!
//! - [`FileWatch`], polled by the credential cache: the files' size,
//!   modification time and inode at most every `poll_interval` (1 s), their
//!   content at least every `reread_interval` (60 s) and after every stat
//!   change. A changed content makes the cache reload.
//! - [`WatchedProfile`], the `Profile` step of the credential chain: it reads
//!   both files itself and hands their content to `aws-config`'s
//!   [`ProfileFileCredentialsProvider`] (so every profile feature works:
//!   static keys, `role_arn` + `source_profile`, `credential_process`, web
//!   identity), building a new one whenever the content changed.
//!
//! A half-written file never replaces good credentials. A changed file is
//! read twice, `settle` apart, and used only when both reads agree. Then, if
//! the previous content gave credentials, a new content that gives none (a
//! parse error, a missing key, a missing profile) or that lost the session
//! token the previous one had is taken for a write caught half-way: the
//! previous credentials stay (the step fails, which stops the chain, and the
//! cache keeps what it has) until the file changes again, or until the same
//! content has stayed for `incomplete_grace` (2 min), when it is taken as a
//! deliberate change.
//!
//! File locations are those of the AWS SDKs: `AWS_CONFIG_FILE` and
//! `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and
//! `~/.aws/credentials` (`~` is `HOME`). A missing file reads as empty.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, future, ProvideCredentials};
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};

use super::cache::{Clock, Timing};
use super::error_chain;

/// Where the shared config and credentials files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFiles {
    pub config: PathBuf,
    pub credentials: PathBuf,
}

/// Size, modification time and inode of one file (`None`: missing).
type FileStamp = Option<(u64, Option<SystemTime>, u64)>;

/// Both files' contents, as read at one moment. `Debug` shows no content.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    config: String,
    credentials: String,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snapshot({} + {} bytes)", self.config.len(), self.credentials.len())
    }
}

impl Snapshot {
    fn digest(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

impl Hash for Snapshot {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.config.hash(h);
        self.credentials.hash(h);
    }
}

impl ProfileFiles {
    /// The files the AWS SDKs read, given the environment `env`.
    pub fn locate(env: impl Fn(&str) -> Option<String>) -> ProfileFiles {
        let home = env("HOME").filter(|h| !h.is_empty());
        let path = |var: &str, default: &str| {
            let p = env(var).filter(|p| !p.is_empty()).unwrap_or_else(|| default.to_owned());
            match (p.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => Path::new(home).join(rest),
                _ => PathBuf::from(p),
            }
        };
        ProfileFiles {
            config: path("AWS_CONFIG_FILE", "~/.aws/config"),
            credentials: path("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        }
    }

    async fn stamp(&self) -> [FileStamp; 2] {
        async fn one(path: &Path) -> FileStamp {
            let m = tokio::fs::metadata(path).await.ok()?;
            #[cfg(unix)]
            let ino = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let ino = 0;
            Some((m.len(), m.modified().ok(), ino))
        }
        [one(&self.config).await, one(&self.credentials).await]
    }

    /// Both files' contents; a missing file is empty.
    pub async fn read(&self) -> io::Result<Snapshot> {
        async fn one(path: &Path) -> io::Result<String> {
            match tokio::fs::read(path).await {
                Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} is not UTF-8", path.display()),
                    )
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(io::Error::new(e.kind(), format!("reading {}: {e}", path.display()))),
            }
        }
        Ok(Snapshot {
            config: one(&self.config).await?,
            credentials: one(&self.credentials).await?,
        })
    }
}

/// Tells when the shared files changed. See the module doc.
#[derive(Debug)]
pub struct FileWatch {
    files: ProfileFiles,
    poll_interval: Duration,
    reread_interval: Duration,
    last_poll: Option<SystemTime>,
    stamp: Option<[FileStamp; 2]>,
    last_read: Option<SystemTime>,
    digest: Option<u64>,
}

impl FileWatch {
    pub fn new(files: ProfileFiles, timing: &Timing) -> FileWatch {
        FileWatch {
            files,
            poll_interval: timing.poll_interval,
            reread_interval: timing.reread_interval,
            last_poll: None,
            stamp: None,
            last_read: None,
            digest: None,
        }
    }

    /// Whether the files' content changed since the previous look. The first
    /// call only takes the baseline. Cheap between polls.
    pub async fn changed(&mut self, now: SystemTime) -> bool {
        if self.last_poll.is_some_and(|t| now < t + self.poll_interval) {
            return false;
        }
        self.last_poll = Some(now);
        let stamp = self.files.stamp().await;
        let first = self.stamp.is_none();
        let stamp_changed = self.stamp.is_some_and(|s| s != stamp);
        self.stamp = Some(stamp);
        let reread_due = self.last_read.is_none_or(|t| now >= t + self.reread_interval);
        if !(first || stamp_changed || reread_due) {
            return false;
        }
        self.last_read = Some(now);
        let digest = self.files.read().await.ok().map(|s| s.digest());
        let changed = !first && digest != self.digest;
        self.digest = digest;
        changed
    }
}

/// What a content of the files gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Yield {
    /// No credentials (or an error).
    Nothing,
    /// Credentials, with or without a session token.
    Keys { token: bool },
}

fn yield_of(result: &provider::Result) -> Yield {
    match result {
        Ok(c) => Yield::Keys { token: c.session_token().is_some_and(|t| !t.is_empty()) },
        Err(_) => Yield::Nothing,
    }
}

/// Why a new content looks half-written after `before`; `None` when it
/// does not (see the module doc).
fn looks_incomplete(before: Yield, now: Yield) -> Option<&'static str> {
    match (before, now) {
        (Yield::Keys { .. }, Yield::Nothing) => {
            Some("the shared AWS files no longer give credentials for the profile")
        }
        (Yield::Keys { token: true }, Yield::Keys { token: false }) => {
            Some("the shared AWS credentials lost their aws_session_token")
        }
        _ => None,
    }
}

struct Accepted {
    digest: u64,
    provider: Arc<ProfileFileCredentialsProvider>,
    gave: Yield,
}

#[derive(Default)]
struct ProfileState {
    accepted: Option<Accepted>,
    /// A content judged half-written, and when it was first seen.
    pending: Option<(u64, SystemTime)>,
}

/// The `Profile` step of the credential chain, re-reading the shared files.
pub struct WatchedProfile {
    files: ProfileFiles,
    profile_name: Option<String>,
    conf: ProviderConfig,
    settle: Duration,
    grace: Duration,
    clock: Clock,
    state: tokio::sync::Mutex<ProfileState>,
}

impl fmt::Debug for WatchedProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedProfile")
            .field("files", &self.files)
            .field("profile_name", &self.profile_name)
            .finish_non_exhaustive()
    }
}

impl WatchedProfile {
    /// `conf` supplies the HTTP client, region and environment for what a
    /// profile may need (STS for `role_arn`, SSO is not built in).
    pub fn new(
        files: ProfileFiles,
        profile_name: Option<String>,
        conf: ProviderConfig,
        timing: &Timing,
        clock: Clock,
    ) -> WatchedProfile {
        WatchedProfile {
            files,
            profile_name,
            conf,
            settle: timing.settle,
            grace: timing.incomplete_grace,
            clock,
            state: tokio::sync::Mutex::default(),
        }
    }

    fn provider_for(&self, snapshot: &Snapshot) -> ProfileFileCredentialsProvider {
        let files = EnvConfigFiles::builder()
            .with_contents(EnvConfigFileKind::Config, snapshot.config.clone())
            .with_contents(EnvConfigFileKind::Credentials, snapshot.credentials.clone())
            .build();
        let mut b = ProfileFileCredentialsProvider::builder().configure(&self.conf);
        b = b.profile_files(files);
        if let Some(name) = &self.profile_name {
            b = b.profile_name(name);
        }
        b.build()
    }

    async fn load(&self) -> provider::Result {
        // Held across the reads and the provider call: one load at a time
        // (the cache calls one at a time anyway).
        let mut state = self.state.lock().await;
        let had_keys = state.accepted.as_ref().is_some_and(|a| a.gave != Yield::Nothing);
        // With credentials in hand, a failure keeps them (the chain stops);
        // without, the chain goes on to the next source.
        let fail = |message: String| {
            if had_keys {
                CredentialsError::provider_error(message)
            } else {
                CredentialsError::not_loaded(message)
            }
        };
        let snapshot = self.files.read().await.map_err(|e| fail(e.to_string()))?;
        let digest = snapshot.digest();
        if let Some(a) = state.accepted.as_ref().filter(|a| a.digest == digest) {
            let provider = a.provider.clone();
            return provider.provide_credentials().await;
        }
        tokio::time::sleep(self.settle).await;
        let again = self.files.read().await.map_err(|e| fail(e.to_string()))?;
        if again.digest() != digest {
            return Err(fail("the shared AWS files changed while being read".to_owned()));
        }
        let provider = Arc::new(self.provider_for(&snapshot));
        let result = provider.provide_credentials().await;
        let gave = yield_of(&result);
        let before = state.accepted.as_ref().map_or(Yield::Nothing, |a| a.gave);
        if let Some(reason) = looks_incomplete(before, gave) {
            let now = (self.clock)();
            let since = match state.pending {
                Some((d, since)) if d == digest => since,
                _ => now,
            };
            if now < since + self.grace {
                state.pending = Some((digest, since));
                let detail = result.err().map(|e| format!(": {}", error_chain(&e)));
                return Err(CredentialsError::provider_error(format!(
                    "{reason}{}; keeping the previous credentials (a file caught half-written), \
                     unless it stays so for {:?}",
                    detail.unwrap_or_default(),
                    self.grace
                )));
            }
            tracing::warn!(
                files = ?self.files,
                "sigv4: {reason}, unchanged for {:?}: taken as a deliberate change",
                self.grace
            );
        }
        state.pending = None;
        state.accepted = Some(Accepted { digest, provider, gave });
        result
    }
}

impl ProvideCredentials for WatchedProfile {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.load())
    }
}

#[cfg(test)]
mod tests;
