//! HTTP client settings shared by scrape configs and remote_write endpoints:
//! authentication, TLS, proxy, redirects (Prometheus' `http_config`).
//!
//! In prometheus.yml these keys are written inline, next to the job's or the
//! endpoint's own keys. serde cannot combine `flatten` with
//! `deny_unknown_fields` (and `flatten` loses error positions), so the
//! [`inline_http_client!`] macro writes a private serde struct holding both
//! sets of keys and converts it into the public struct, whose
//! `http_client` field gathers them.

use super::de::unique_map;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A secret from the config (password, token, private key). It prints as
/// `<secret>` in `Debug` and `Display`; read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself: pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// How to reach one HTTP endpoint: authentication, TLS, proxy, redirects.
/// After loading, relative `*_file` paths are joined to the directory of the
/// file they were written in, and `bearer_token`/`bearer_token_file` have
/// been moved into `authorization` (type `Bearer`), as Prometheus does.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpClientConfig {
    /// HTTP basic authentication (`Authorization: Basic ...`).
    pub basic_auth: Option<BasicAuth>,
    /// An `Authorization` header with a type (default `Bearer`) and credentials.
    pub authorization: Option<Authorization>,
    /// OAuth 2.0 client credentials; the token is fetched from `token_url`.
    pub oauth2: Option<OAuth2>,
    /// Deprecated spelling of `authorization: {credentials: ...}`; empty after loading.
    pub bearer_token: Option<Secret>,
    /// Deprecated spelling of `authorization: {credentials_file: ...}`; empty after loading.
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings for `https` connections.
    pub tls_config: TlsConfig,
    /// Proxy URL (`http://proxy:3128`), used for every request unless `no_proxy` matches.
    pub proxy_url: Option<String>,
    /// Comma-separated hosts, domains and CIDRs that bypass `proxy_url`.
    pub no_proxy: Option<String>,
    /// Take the proxy from `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`.
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on `CONNECT`, name -> values.
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    /// Extra headers for every request, name -> values, secrets or files.
    pub http_headers: BTreeMap<String, HttpHeader>,
    /// Follow HTTP 3xx redirects (default true).
    pub follow_redirects: bool,
    /// Allow HTTP/2 (default true for scrapes, false for remote_write).
    pub enable_http2: bool,
}

/// `basic_auth`: a username and a password, each given inline or in a file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    /// The username.
    pub username: String,
    /// A file whose content is the username.
    pub username_file: Option<PathBuf>,
    /// The password.
    pub password: Option<Secret>,
    /// A file whose content is the password, re-read on every request.
    pub password_file: Option<PathBuf>,
}

/// `authorization`: sends `Authorization: <type> <credentials>`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    /// The authentication type (`type:` in YAML); `Bearer` when empty. `Basic`
    /// is refused: use `basic_auth`.
    #[serde(rename = "type")]
    pub auth_type: String,
    /// The credentials.
    pub credentials: Option<Secret>,
    /// A file whose content is the credentials, re-read on every request.
    pub credentials_file: Option<PathBuf>,
}

/// `oauth2`: OAuth 2.0 client-credentials flow. The token request uses its
/// own TLS and proxy settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2 {
    /// The client id (required).
    pub client_id: String,
    /// The client secret.
    pub client_secret: Option<Secret>,
    /// A file whose content is the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// Scopes for the token request.
    #[serde(deserialize_with = "super::de::null_as_empty")]
    pub scopes: Vec<String>,
    /// The token endpoint (required).
    pub token_url: String,
    /// Extra form parameters for the token request.
    #[serde(deserialize_with = "unique_map")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings for the token request.
    pub tls_config: TlsConfig,
    /// Proxy for the token request.
    pub proxy_url: Option<String>,
    /// Hosts that bypass `proxy_url` for the token request.
    pub no_proxy: Option<String>,
    /// Take the token request's proxy from the environment.
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on `CONNECT`.
    #[serde(deserialize_with = "unique_map")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// `tls_config`: CA, client certificate and verification settings. Each of
/// CA, certificate and key is given inline (PEM text) or as a file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM text of the CA certificate(s) that verify the server.
    pub ca: Option<String>,
    /// File with the CA certificate(s).
    pub ca_file: Option<PathBuf>,
    /// PEM text of the client certificate.
    pub cert: Option<String>,
    /// File with the client certificate.
    pub cert_file: Option<PathBuf>,
    /// PEM text of the client private key.
    pub key: Option<Secret>,
    /// File with the client private key.
    pub key_file: Option<PathBuf>,
    /// Server name for SNI and certificate verification.
    pub server_name: Option<String>,
    /// Do not verify the server certificate (unsafe).
    pub insecure_skip_verify: bool,
    /// Lowest TLS version allowed (`TLS10` .. `TLS13`).
    pub min_version: Option<TlsVersion>,
    /// Highest TLS version allowed (`TLS10` .. `TLS13`).
    pub max_version: Option<TlsVersion>,
}

/// A TLS protocol version, spelled `TLS10`, `TLS11`, `TLS12` or `TLS13`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS10",
            TlsVersion::Tls11 => "TLS11",
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
        }
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::de::parse_str(d, "a TLS version (TLS10 .. TLS13)", |s| {
            [TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12, TlsVersion::Tls13]
                .into_iter()
                .find(|v| v.as_str() == s)
                .ok_or_else(|| format!("unknown TLS version: {s}"))
        })
    }
}

/// One `http_headers` entry: the header's values, given inline, as secrets
/// or as files (one value per file).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpHeader {
    /// Plain values.
    #[serde(deserialize_with = "super::de::null_as_empty")]
    pub values: Vec<String>,
    /// Secret values (never printed).
    #[serde(deserialize_with = "super::de::null_as_empty")]
    pub secrets: Vec<Secret>,
    /// Files whose contents are values.
    #[serde(deserialize_with = "super::de::null_as_empty")]
    pub files: Vec<PathBuf>,
}

impl HttpClientConfig {
    /// Joins relative file paths with `dir`, as Prometheus' `SetDirectory`.
    pub(crate) fn join_dir(&mut self, dir: &Path) {
        if let Some(auth) = &mut self.basic_auth {
            join(dir, &mut auth.username_file);
            join(dir, &mut auth.password_file);
        }
        if let Some(auth) = &mut self.authorization {
            join(dir, &mut auth.credentials_file);
        }
        if let Some(oauth2) = &mut self.oauth2 {
            join(dir, &mut oauth2.client_secret_file);
            oauth2.tls_config.join_dir(dir);
        }
        join(dir, &mut self.bearer_token_file);
        self.tls_config.join_dir(dir);
        for header in self.http_headers.values_mut() {
            for file in &mut header.files {
                *file = dir.join(&*file);
            }
        }
    }
}

impl TlsConfig {
    fn join_dir(&mut self, dir: &Path) {
        join(dir, &mut self.ca_file);
        join(dir, &mut self.cert_file);
        join(dir, &mut self.key_file);
    }
}

fn join(dir: &Path, file: &mut Option<PathBuf>) {
    if let Some(file) = file.as_mut().filter(|f| !f.as_os_str().is_empty()) {
        *file = dir.join(&*file);
    }
}

pub(crate) fn default_true() -> bool {
    true
}

/// Declares a config struct whose YAML mapping also holds the HTTP client
/// keys inline (see the module doc). Given
///
/// ```ignore
/// inline_http_client! {
///     /// docs
///     pub struct Job from RawJob = "RawJob", enable_http2 = true,
///         expecting = "a job";
///     { /// doc
///       #[serde(default)] pub name: String, }
///     rejected { consul_sd_configs }
/// }
/// ```
///
/// it defines `RawJob` (serde, `deny_unknown_fields`: the listed fields, the
/// HTTP client keys, and keys rejected by name through
/// `de::unsupported`), the public `Job` (the listed fields plus
/// `http_client: HttpClientConfig`, deserialized through `RawJob`), and the
/// conversion between them.
macro_rules! inline_http_client {
    (
        $(#[$meta:meta])*
        pub struct $name:ident from $raw:ident = $raw_name:literal, enable_http2 = $h2:expr,
            expecting = $expecting:literal;
        { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )* }
        rejected { $( $rkey:ident ),* $(,)? }
    ) => {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields, expecting = $expecting)]
        struct $raw {
            $( $(#[$fmeta])* $field: $ty, )*
            #[serde(default)]
            basic_auth: Option<$crate::config::http::BasicAuth>,
            #[serde(default)]
            authorization: Option<$crate::config::http::Authorization>,
            #[serde(default)]
            oauth2: Option<$crate::config::http::OAuth2>,
            #[serde(default)]
            bearer_token: Option<$crate::config::http::Secret>,
            #[serde(default)]
            bearer_token_file: Option<std::path::PathBuf>,
            #[serde(default)]
            tls_config: $crate::config::http::TlsConfig,
            #[serde(default)]
            proxy_url: Option<String>,
            #[serde(default)]
            no_proxy: Option<String>,
            #[serde(default)]
            proxy_from_environment: bool,
            #[serde(default, deserialize_with = "crate::config::de::unique_map")]
            proxy_connect_header:
                std::collections::BTreeMap<String, Vec<$crate::config::http::Secret>>,
            #[serde(default, deserialize_with = "crate::config::de::unique_map")]
            http_headers: std::collections::BTreeMap<String, $crate::config::http::HttpHeader>,
            #[serde(default = "crate::config::http::default_true")]
            follow_redirects: bool,
            #[serde(default)]
            enable_http2: Option<bool>,
            $(
                #[serde(default)]
                #[allow(dead_code)]
                $rkey: $crate::config::de::unsupported::$rkey,
            )*
        }

        $(#[$meta])*
        #[derive(serde::Deserialize)]
        #[serde(from = $raw_name)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// HTTP client settings, written inline in the YAML mapping
            /// (`basic_auth`, `authorization`, `oauth2`, `bearer_token`,
            /// `bearer_token_file`, `tls_config`, `proxy_url`, `no_proxy`,
            /// `proxy_from_environment`, `proxy_connect_header`,
            /// `http_headers`, `follow_redirects`, `enable_http2`).
            pub http_client: $crate::config::http::HttpClientConfig,
        }

        impl From<$raw> for $name {
            fn from(raw: $raw) -> Self {
                $name {
                    $( $field: raw.$field, )*
                    http_client: $crate::config::http::HttpClientConfig {
                        basic_auth: raw.basic_auth,
                        authorization: raw.authorization,
                        oauth2: raw.oauth2,
                        bearer_token: raw.bearer_token,
                        bearer_token_file: raw.bearer_token_file,
                        tls_config: raw.tls_config,
                        proxy_url: raw.proxy_url,
                        no_proxy: raw.no_proxy,
                        proxy_from_environment: raw.proxy_from_environment,
                        proxy_connect_header: raw.proxy_connect_header,
                        http_headers: raw.http_headers,
                        follow_redirects: raw.follow_redirects,
                        enable_http2: raw.enable_http2.unwrap_or($h2),
                    },
                }
            }
        }
    };
}
pub(crate) use inline_http_client;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let auth = BasicAuth {
            username: "u".into(),
            password: Some(Secret::new("hunter2")),
            ..BasicAuth::default()
        };
        let debug = format!("{auth:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<secret>"), "{debug}");
        assert_eq!(Secret::new("hunter2").to_string(), "<secret>");
        assert_eq!(Secret::new("hunter2").expose(), "hunter2");
    }

    #[test]
    fn tls_versions_parse_by_name() {
        let v: TlsVersion = serde_yaml::from_str("TLS12").unwrap();
        assert_eq!(v, TlsVersion::Tls12);
        assert!(TlsVersion::Tls10 < TlsVersion::Tls13);
        let err = serde_yaml::from_str::<TlsVersion>("TLS14").unwrap_err();
        assert!(err.to_string().contains("unknown TLS version: TLS14"), "{err}");
    }
}
