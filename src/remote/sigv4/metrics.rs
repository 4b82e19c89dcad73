//! SigV4's own metrics, under `tern_remote_sigv4_`, labelled by
//! `remote_name` (the endpoint's name as the queue metrics use it). None of
//! them carries a key, a token or any other part of the credentials.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The endpoint.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Remote {
    pub remote_name: String,
}

/// The endpoint and the outcome of a credential refresh (`success`, `failure`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RemoteResult {
    pub remote_name: String,
    pub result: String,
}

/// The endpoint and why the receiver refused the credentials.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RemoteReason {
    pub remote_name: String,
    pub reason: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Clonable handles to the SigV4 metrics (`Default` gives handles that are
/// registered nowhere, for tests and tools).
#[derive(Debug, Clone, Default)]
pub struct SigV4Metrics {
    /// `tern_remote_sigv4_credential_refreshes_total{remote_name,result}`.
    pub credential_refreshes: Family<RemoteResult, Counter>,
    /// `tern_remote_sigv4_credentials_expiry_timestamp_seconds{remote_name}`:
    /// when the credentials in use expire; 0 for credentials without an
    /// expiry (static keys, a shared credentials file).
    pub credentials_expiry: Family<Remote, FloatGauge>,
    /// `tern_remote_sigv4_credentials_rejected_total{remote_name,reason}`:
    /// 401/403 answers saying the token expired or the signature or key is
    /// invalid; each forces a refresh, and the batch is retried.
    pub credentials_rejected: Family<RemoteReason, Counter>,
    /// `tern_remote_sigv4_access_denied_total{remote_name}`: 403
    /// `AccessDeniedException` answers (the identity lacks `aps:RemoteWrite`).
    pub access_denied: Family<Remote, Counter>,
}

impl SigV4Metrics {
    /// Registers the handles in `registry` under `tern_remote_sigv4_`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("tern_remote_sigv4");
        r.register(
            "credential_refreshes",
            "AWS credential refreshes, by result",
            self.credential_refreshes.clone(),
        );
        r.register(
            "credentials_expiry_timestamp_seconds",
            "When the AWS credentials in use expire (0: they have no expiry)",
            self.credentials_expiry.clone(),
        );
        r.register(
            "credentials_rejected",
            "Requests the receiver refused for expired or invalid credentials or signature, by reason; each is retried after a credential refresh",
            self.credentials_rejected.clone(),
        );
        r.register(
            "access_denied",
            "Requests the receiver refused with AccessDeniedException (grant aps:RemoteWrite); each is retried",
            self.access_denied.clone(),
        );
    }

    pub(crate) fn refreshed(&self, remote_name: &str, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        let labels =
            RemoteResult { remote_name: remote_name.to_owned(), result: result.to_owned() };
        self.credential_refreshes.get_or_create(&labels).inc();
    }

    pub(crate) fn expiry(&self, remote_name: &str, seconds: f64) {
        self.credentials_expiry.get_or_create(&remote(remote_name)).set(seconds);
    }

    pub(crate) fn rejected(&self, remote_name: &str, reason: &str) {
        let labels =
            RemoteReason { remote_name: remote_name.to_owned(), reason: reason.to_owned() };
        self.credentials_rejected.get_or_create(&labels).inc();
    }

    pub(crate) fn denied(&self, remote_name: &str) {
        self.access_denied.get_or_create(&remote(remote_name)).inc();
    }
}

fn remote(remote_name: &str) -> Remote {
    Remote { remote_name: remote_name.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_house_scheme() {
        let mut registry = Registry::default();
        let m = SigV4Metrics::default();
        m.register(&mut registry);
        m.refreshed("amp", true);
        m.refreshed("amp", false);
        m.expiry("amp", 1_700_000_000.0);
        m.rejected("amp", "expired_token");
        m.denied("amp");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for want in [
            "tern_remote_sigv4_credential_refreshes_total{remote_name=\"amp\",result=\"success\"} 1",
            "tern_remote_sigv4_credential_refreshes_total{remote_name=\"amp\",result=\"failure\"} 1",
            "tern_remote_sigv4_credentials_expiry_timestamp_seconds{remote_name=\"amp\"} 1700000000",
            "tern_remote_sigv4_credentials_rejected_total{remote_name=\"amp\",reason=\"expired_token\"} 1",
            "tern_remote_sigv4_access_denied_total{remote_name=\"amp\"} 1",
        ] {
            assert!(text.contains(want), "{want} not in:\n{text}");
        }
    }
}
