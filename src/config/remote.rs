//! `remote_write` entries: where samples go, how they are queued and signed.
//! This module is data only; the remote-write stage interprets it.

use super::de::{null_as_empty, unique_map};
use super::duration;
use super::http::{default_true, inline_http_client, Secret};
use crate::relabel::RelabelConfig;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

inline_http_client! {
    /// One `remote_write` endpoint.
    #[derive(Debug, Clone, PartialEq)]
    pub struct RemoteWriteConfig from RawRemoteWriteConfig = "RawRemoteWriteConfig",
        enable_http2 = false, expecting = "a remote_write endpoint (a mapping with url)";
    {
        /// The endpoint URL, `http://` or `https://` (required).
        #[serde(default)]
        pub url: String,
        /// A name for logs and metrics; unique among endpoints when given.
        #[serde(default)]
        pub name: Option<String>,
        /// Timeout of one request (default 30s).
        #[serde(default = "default_remote_timeout", deserialize_with = "duration::deserialize")]
        pub remote_timeout: Duration,
        /// Extra HTTP headers for every request. Headers that remote write or
        /// authentication set themselves are refused.
        #[serde(default, deserialize_with = "unique_map")]
        pub headers: BTreeMap<String, String>,
        /// Relabel rules applied to each sample before it is sent here.
        #[serde(default, deserialize_with = "null_as_empty")]
        pub write_relabel_configs: Vec<RelabelConfig>,
        /// Send exemplars (default false).
        #[serde(default)]
        pub send_exemplars: bool,
        /// Send native histograms (default false).
        #[serde(default)]
        pub send_native_histograms: bool,
        /// Accepted for compatibility (Prometheus 3): resolve the URL's host
        /// anew and spread connections over its addresses.
        #[serde(default)]
        pub round_robin_dns: bool,
        /// The protobuf message sent. tern speaks remote write 1.0 only:
        /// `prometheus.WriteRequest` (the default).
        #[serde(default)]
        pub protobuf_message: ProtobufMessage,
        /// Sharding, batching and retry settings.
        #[serde(default)]
        pub queue_config: QueueConfig,
        /// Metric metadata sending.
        #[serde(default)]
        pub metadata_config: MetadataConfig,
        /// AWS Signature Version 4 request signing (e.g. for Amazon Managed
        /// Service for Prometheus). Excludes the other authentication methods.
        #[serde(default)]
        pub sigv4: Option<SigV4Config>,
    }
    rejected { azuread, google_iam }
}

fn default_remote_timeout() -> Duration {
    Duration::from_secs(30)
}

/// `protobuf_message`: which remote-write message to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ProtobufMessage {
    /// `prometheus.WriteRequest`: remote write 1.0.
    #[default]
    PrometheusWriteRequest,
}

impl<'de> Deserialize<'de> for ProtobufMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::de::parse_str(d, "a protobuf message name", |s| match s {
            "prometheus.WriteRequest" => Ok(ProtobufMessage::PrometheusWriteRequest),
            "io.prometheus.write.v2.Request" => Err("protobuf_message \
                 io.prometheus.write.v2.Request (remote write 2.0) is not supported by tern; \
                 use prometheus.WriteRequest"
                .to_owned()),
            other => Err(format!(
                "unknown protobuf_message {other:?}, supported: prometheus.WriteRequest"
            )),
        })
    }
}

/// `queue_config`: how samples are buffered, batched, sharded and retried.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples buffered per shard before reading from the WAL pauses (default 10000).
    pub capacity: u64,
    /// Most concurrent shards (default 50).
    pub max_shards: u64,
    /// Fewest shards, also the starting number (default 1).
    pub min_shards: u64,
    /// Most samples per request (default 2000).
    pub max_samples_per_send: u64,
    /// Longest a sample waits in a shard before a partial batch is sent (default 5s).
    #[serde(deserialize_with = "duration::deserialize")]
    pub batch_send_deadline: Duration,
    /// First retry delay, doubled on each retry (default 30ms).
    #[serde(deserialize_with = "duration::deserialize")]
    pub min_backoff: Duration,
    /// Longest retry delay (default 5s).
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_backoff: Duration,
    /// Retry requests answered with HTTP 429 (default true in tern; the
    /// remote write 1.0 specification lets senders retry 429 with backoff).
    pub retry_on_http_429: bool,
    /// Drop samples older than this instead of sending them (default 0: never).
    #[serde(deserialize_with = "duration::deserialize")]
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: true,
            sample_age_limit: Duration::ZERO,
        }
    }
}

/// `metadata_config`: sending metric metadata (type, help, unit).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataConfig {
    /// Send metadata (default true).
    pub send: bool,
    /// How often to send it (default 1m).
    #[serde(deserialize_with = "duration::deserialize")]
    pub send_interval: Duration,
    /// Most metadata entries per request (default 500).
    pub max_samples_per_send: u64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: default_true(),
            send_interval: Duration::from_secs(60),
            max_samples_per_send: 500,
        }
    }
}

/// `sigv4`: AWS Signature Version 4 signing. Fields left empty come from the
/// AWS default credential chain (environment, profile, IRSA, instance role).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigV4Config {
    /// AWS region (default: from the environment or instance metadata).
    pub region: Option<String>,
    /// Static access key id; requires `secret_key`.
    pub access_key: Option<String>,
    /// Static secret access key; requires `access_key`.
    pub secret_key: Option<Secret>,
    /// Named profile from the AWS config files.
    pub profile: Option<String>,
    /// Role to assume before signing.
    pub role_arn: Option<String>,
    /// External id for assuming `role_arn`.
    pub external_id: Option<String>,
    /// Use the FIPS endpoint of STS when assuming a role.
    pub use_fips_sts_endpoint: bool,
    /// Service name to sign for (default `aps`); `service` is accepted too.
    #[serde(alias = "service")]
    pub service_name: Option<String>,
}

/// Headers that remote write sets itself; configuring them is refused, as in
/// Prometheus (`authorization` is refused with its own message).
pub(crate) const RESERVED_HEADERS: [&str; 16] = [
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

impl RemoteWriteConfig {
    /// Joins relative file paths with `dir`, the config file's directory.
    pub(crate) fn join_dir(&mut self, dir: &Path) {
        self.http_client.join_dir(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_and_metadata_defaults_match_prometheus() {
        let q: QueueConfig = serde_yaml::from_str("max_shards: 10").unwrap();
        assert_eq!(q, QueueConfig { max_shards: 10, ..QueueConfig::default() });
        let m: MetadataConfig = serde_yaml::from_str("send: false").unwrap();
        assert!(!m.send);
        assert_eq!(m.send_interval, Duration::from_secs(60));
        assert_eq!(m.max_samples_per_send, 500);
    }

    #[test]
    fn sigv4_accepts_service_spellings_and_redacts_secret() {
        let s: SigV4Config =
            serde_yaml::from_str("region: eu-west-1\nservice: aps\nsecret_key: sk\naccess_key: ak")
                .unwrap();
        assert_eq!(s.service_name.as_deref(), Some("aps"));
        let s: SigV4Config = serde_yaml::from_str("service_name: aps").unwrap();
        assert_eq!(s.service_name.as_deref(), Some("aps"));
        let debug = format!(
            "{:?}",
            SigV4Config { secret_key: Some(Secret::new("sk-123")), ..SigV4Config::default() }
        );
        assert!(!debug.contains("sk-123"), "{debug}");
    }
}
