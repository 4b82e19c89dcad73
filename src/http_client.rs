//! The HTTP client settings shared by scraping and remote write, turned into
//! reqwest values: the client (TLS, proxy, redirects, HTTP/2) and request
//! authentication (basic, `Authorization`).
//!
//! Contract: [`build_client`] reads the CA, certificate and key files once,
//! when the client is built; [`Auth`] re-reads `password_file` and
//! `credentials_file` on every request, so rotated credentials are picked up
//! as Prometheus does. Nothing here logs a secret; `Debug` of [`Auth`] and
//! [`SecretSource`] redacts them.
//!
//! This module knows neither scraping nor remote write: both stages import it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION};

use crate::config::{HttpClientConfig, Secret, TlsVersion};

/// `User-Agent` of every request tern makes (scrapes and remote write).
pub const USER_AGENT_VALUE: &str = concat!("tern/", env!("CARGO_PKG_VERSION"));

/// A client for `c`: TLS, proxy, redirects, HTTP/2, and gzip when `gzip`.
pub fn build_client(c: &HttpClientConfig, gzip: bool) -> Result<reqwest::Client, String> {
    build_client_with(c, gzip, true)
}

/// [`build_client`], keeping idle connections for reuse only when
/// `keep_idle`. An idle HTTP/1 connection keeps its read buffer, which grows
/// to about the size of the responses it read (hundreds of KiB for a large
/// `/metrics`), for as long as it is idle; without TLS a new connection per
/// request costs only a TCP handshake.
pub fn build_client_with(
    c: &HttpClientConfig,
    gzip: bool,
    keep_idle: bool,
) -> Result<reqwest::Client, String> {
    if c.oauth2.is_some() {
        return Err("oauth2 is not supported by tern".into());
    }
    let mut b = reqwest::Client::builder()
        .gzip(gzip)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(if keep_idle { usize::MAX } else { 0 })
        .tcp_nodelay(true)
        .redirect(if c.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        });
    if !c.enable_http2 {
        b = b.http1_only();
    }
    let tls = &c.tls_config;
    let ca_pem = match (&tls.ca, &tls.ca_file) {
        (Some(ca), _) => Some(ca.as_bytes().to_vec()),
        (None, Some(path)) => Some(
            std::fs::read(path).map_err(|e| format!("reading ca_file {}: {e}", path.display()))?,
        ),
        (None, None) => None,
    };
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("parsing CA certificates: {e}"))?;
        b = b.tls_built_in_root_certs(false);
        for cert in certs {
            b = b.add_root_certificate(cert);
        }
    }
    let cert = match (&tls.cert, &tls.cert_file) {
        (Some(c), _) => Some(c.as_bytes().to_vec()),
        (None, Some(p)) => {
            Some(std::fs::read(p).map_err(|e| format!("reading cert_file {}: {e}", p.display()))?)
        }
        (None, None) => None,
    };
    let key = match (&tls.key, &tls.key_file) {
        (Some(k), _) => Some(k.expose().as_bytes().to_vec()),
        (None, Some(p)) => {
            Some(std::fs::read(p).map_err(|e| format!("reading key_file {}: {e}", p.display()))?)
        }
        (None, None) => None,
    };
    if let (Some(mut cert), Some(key)) = (cert, key) {
        cert.push(b'\n');
        cert.extend_from_slice(&key);
        let identity =
            reqwest::Identity::from_pem(&cert).map_err(|e| format!("client certificate: {e}"))?;
        b = b.identity(identity);
    }
    if tls.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(v) = tls.min_version {
        b = b.min_tls_version(tls_version(v));
    }
    if let Some(v) = tls.max_version {
        b = b.max_tls_version(tls_version(v));
    }
    if tls.server_name.is_some() {
        tracing::warn!(
            "tls_config.server_name is not supported by tern's HTTP client and is ignored"
        );
    }
    match &c.proxy_url {
        Some(url) => {
            let mut proxy =
                reqwest::Proxy::all(url.as_str()).map_err(|e| format!("proxy_url: {e}"))?;
            if let Some(no_proxy) = &c.no_proxy {
                proxy = proxy.no_proxy(reqwest::NoProxy::from_string(no_proxy));
            }
            b = b.proxy(proxy);
        }
        None if c.proxy_from_environment => {}
        None => b = b.no_proxy(),
    }
    b.build().map_err(|e| format!("building HTTP client: {e}"))
}

fn tls_version(v: TlsVersion) -> reqwest::tls::Version {
    match v {
        TlsVersion::Tls10 => reqwest::tls::Version::TLS_1_0,
        TlsVersion::Tls11 => reqwest::tls::Version::TLS_1_1,
        TlsVersion::Tls12 => reqwest::tls::Version::TLS_1_2,
        TlsVersion::Tls13 => reqwest::tls::Version::TLS_1_3,
    }
}

/// Where a secret comes from: the config, or a file read at every request.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    Inline(Secret),
    File(PathBuf),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(<secret>)"),
            SecretSource::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

/// A credential could not be read or used; the text names the file, never
/// the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credentials: {0}")]
pub struct CredentialsError(pub String);

impl SecretSource {
    /// The secret (a file's content with surrounding whitespace trimmed).
    pub fn read(&self) -> Result<String, CredentialsError> {
        match self {
            SecretSource::Inline(s) => Ok(s.expose().to_owned()),
            SecretSource::File(p) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .map_err(|e| CredentialsError(format!("reading {}: {e}", p.display()))),
        }
    }
}

/// Request authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic {
        username: String,
        password: Option<SecretSource>,
    },
    /// `Authorization: <kind> <credentials>` (bearer_token is kind `Bearer`).
    Authorization {
        kind: String,
        credentials: SecretSource,
    },
}

impl Auth {
    /// The authentication `c` configures (validated there: at most one).
    pub fn from_config(c: &HttpClientConfig) -> Result<Auth, String> {
        if let Some(basic) = &c.basic_auth {
            let username = match &basic.username_file {
                Some(p) => std::fs::read_to_string(p)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| format!("reading username_file {}: {e}", p.display()))?,
                None => basic.username.clone(),
            };
            let password = match (&basic.password, &basic.password_file) {
                (Some(p), _) => Some(SecretSource::Inline(p.clone())),
                (None, Some(f)) => Some(SecretSource::File(f.clone())),
                (None, None) => None,
            };
            return Ok(Auth::Basic { username, password });
        }
        if let Some(a) = &c.authorization {
            let credentials = match (&a.credentials, &a.credentials_file) {
                (Some(s), _) => SecretSource::Inline(s.clone()),
                (None, Some(f)) => SecretSource::File(f.clone()),
                (None, None) => SecretSource::Inline(Secret::default()),
            };
            let kind =
                if a.auth_type.is_empty() { "Bearer".to_owned() } else { a.auth_type.clone() };
            return Ok(Auth::Authorization { kind, credentials });
        }
        // Deprecated spellings, normally moved into `authorization` by validation.
        let bearer = |credentials| Ok(Auth::Authorization { kind: "Bearer".into(), credentials });
        match (&c.bearer_token, &c.bearer_token_file) {
            (Some(t), _) => bearer(SecretSource::Inline(t.clone())),
            (None, Some(f)) => bearer(SecretSource::File(f.clone())),
            (None, None) => Ok(Auth::None),
        }
    }

    /// Adds the `Authorization` header to `request` (marked sensitive, so
    /// reqwest never prints it), reading secret files now.
    pub fn apply(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, CredentialsError> {
        Ok(match self.header()? {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        })
    }

    /// The `Authorization` header's value (marked sensitive), reading secret
    /// files now; `None` without authentication.
    pub fn header(&self) -> Result<Option<HeaderValue>, CredentialsError> {
        let text = match self {
            Auth::None => return Ok(None),
            Auth::Basic { username, password } => {
                use base64::Engine;
                let password = password.as_ref().map(SecretSource::read).transpose()?;
                let pair = format!("{username}:{}", password.unwrap_or_default());
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
            }
            Auth::Authorization { kind, credentials } => format!("{kind} {}", credentials.read()?),
        };
        let mut value = HeaderValue::from_str(&text)
            .map_err(|_| CredentialsError("credentials are not a valid header value".into()))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_inline_secrets() {
        let auth = Auth::Authorization {
            kind: "Bearer".into(),
            credentials: SecretSource::Inline(Secret::new("s3cr3t")),
        };
        let basic = Auth::Basic {
            username: "u".into(),
            password: Some(SecretSource::Inline(Secret::new("hunter2"))),
        };
        assert!(!format!("{auth:?}{basic:?}").contains("s3cr3t"));
        assert!(!format!("{auth:?}{basic:?}").contains("hunter2"));
    }

    #[test]
    fn secret_files_are_read_trimmed_at_each_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "one\n").unwrap();
        let source = SecretSource::File(path.clone());
        assert_eq!(source.read().unwrap(), "one");
        std::fs::write(&path, "two").unwrap();
        assert_eq!(source.read().unwrap(), "two");
        std::fs::remove_file(&path).unwrap();
        let err = source.read().unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
    }
}
