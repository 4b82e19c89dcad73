//! Where credentials and the region come from, as the AWS SDKs resolve
//! them, built with `aws-config`.
//!
//! Credentials, first that answers:
//!
//! 1. `access_key` + `secret_key` of the `sigv4` block (then nothing else);
//! 2. the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!    `AWS_SESSION_TOKEN`);
//! 3. the shared config and credentials files, profile `profile` (else
//!    `AWS_PROFILE`, else `default`), re-read when they change
//!    ([`super::profile`]);
//! 4. web identity (EKS IRSA): `AWS_WEB_IDENTITY_TOKEN_FILE` +
//!    `AWS_ROLE_ARN`, exchanged at STS (`AssumeRoleWithWebIdentity`);
//! 5. container credentials (ECS task roles, EKS Pod Identity):
//!    `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `..._FULL_URI`;
//! 6. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED`.
//!
//! This is `aws-config`'s default chain, in its order, with its own
//! providers, except step 3. With `role_arn`, the result is only the base:
//! STS `AssumeRole` (with `external_id`, on the FIPS endpoint when
//! `use_fips_sts_endpoint`) gives the credentials tern signs with.
//!
//! The region: `region` of the block, else `AWS_REGION` /
//! `AWS_DEFAULT_REGION`, the profile's `region`, then instance metadata
//! (`aws-config`'s default region chain). Endpoint overrides the SDKs know
//! (`AWS_ENDPOINT_URL_STS`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`) apply.
//!
//! The HTTP client for STS, IMDS and container credentials is
//! `aws-smithy-http-client` over rustls with the ring provider, the TLS
//! stack reqwest uses here; trusted roots are the system's.

use std::time::SystemTime;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::region::Region;

use super::cache::{Clock, Timing};
use super::profile::{FileWatch, ProfileFiles, WatchedProfile};
use super::SigV4Error;
use crate::config::{Secret, SigV4Config};

/// The `sigv4` block, as the source needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    pub region: Option<String>,
    pub static_keys: Option<(String, Secret)>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub use_fips_sts_endpoint: bool,
}

impl Settings {
    pub fn from_config(c: &SigV4Config) -> Settings {
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        let static_keys = match (nonempty(&c.access_key), &c.secret_key) {
            (Some(ak), Some(sk)) if !sk.expose().is_empty() => Some((ak, sk.clone())),
            _ => None,
        };
        Settings {
            region: nonempty(&c.region),
            static_keys,
            profile: nonempty(&c.profile),
            role_arn: nonempty(&c.role_arn),
            external_id: nonempty(&c.external_id),
            use_fips_sts_endpoint: c.use_fips_sts_endpoint,
        }
    }

    /// Where the base credentials come from, for logs.
    pub fn describe(&self) -> String {
        let base = match (&self.static_keys, &self.profile) {
            (Some((ak, _)), _) => format!("static keys ({})", super::masked(ak)),
            (None, Some(p)) => format!("default chain, profile {p:?}"),
            (None, None) => "default chain".to_owned(),
        };
        match &self.role_arn {
            Some(arn) => format!("{base}, then AssumeRole {arn}"),
            None => base,
        }
    }
}

/// The HTTP client `aws-config` uses (STS, IMDS, container credentials).
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The provider configuration every `aws-config` provider gets.
pub fn provider_config(http: &SharedHttpClient, region: Option<String>) -> ProviderConfig {
    ProviderConfig::without_region()
        .with_http_client(http.clone())
        .with_region(region.map(Region::new))
}

/// The region to sign for.
pub async fn region(s: &Settings, http: &SharedHttpClient) -> Result<String, SigV4Error> {
    if let Some(r) = &s.region {
        return Ok(r.clone());
    }
    // `aws-config`'s default region chain, with the HTTP client given.
    let conf = provider_config(http, None);
    let mut profile = ProfileFileRegionProvider::builder().configure(&conf);
    if let Some(p) = &s.profile {
        profile = profile.profile_name(p);
    }
    let chain = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(profile.build())
        .or_else(ImdsRegionProvider::builder().configure(&conf).build());
    match chain.region().await {
        Some(r) => Ok(r.to_string()),
        None => Err(SigV4Error::NoRegion),
    }
}

/// The credentials source for `s` in `region`, and the watch on the shared
/// files when the source reads them.
pub async fn credentials(
    s: &Settings,
    region: &str,
    http: &SharedHttpClient,
    timing: &Timing,
    clock: &Clock,
) -> (SharedCredentialsProvider, Option<FileWatch>) {
    let conf = provider_config(http, Some(region.to_owned()));
    let (base, watch) = match &s.static_keys {
        Some((ak, sk)) => {
            let creds = Credentials::new(ak, sk.expose(), None, None, "tern sigv4 config");
            (SharedCredentialsProvider::new(creds), None)
        }
        None => {
            let files = ProfileFiles::locate(|k| std::env::var(k).ok());
            let profile = WatchedProfile::new(
                files.clone(),
                s.profile.clone(),
                conf.clone(),
                timing,
                clock.clone(),
            );
            let chain = CredentialsProviderChain::first_try(
                "Environment",
                EnvironmentVariableCredentialsProvider::new(),
            )
            .or_else("Profile", profile)
            .or_else(
                "WebIdentityToken",
                WebIdentityTokenCredentialsProvider::builder().configure(&conf).build(),
            )
            .or_else("EcsContainer", EcsCredentialsProvider::builder().configure(&conf).build())
            .or_else(
                "Ec2InstanceMetadata",
                ImdsCredentialsProvider::builder().configure(&conf).build(),
            );
            (SharedCredentialsProvider::new(chain), Some(FileWatch::new(files, timing)))
        }
    };
    let Some(role_arn) = &s.role_arn else { return (base, watch) };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http.clone())
        .region(Region::new(region.to_owned()))
        .use_fips(s.use_fips_sts_endpoint)
        .credentials_provider(base);
    if let Some(p) = &s.profile {
        loader = loader.profile_name(p);
    }
    let sdk = loader.load().await;
    let started = clock().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut assume = AssumeRoleProvider::builder(role_arn)
        .session_name(format!("tern-{started}"))
        .configure(&sdk);
    if let Some(id) = &s.external_id {
        assume = assume.external_id(id);
    }
    (SharedCredentialsProvider::new(assume.build().await), watch)
}
