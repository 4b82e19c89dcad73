//! Building a `kube::Client` for an [`ApiServer`]: in-cluster, an explicit
//! `api_server` URL with Prometheus' HTTP client settings, or a kubeconfig.
//!
//! For `api_server`, the HTTP client settings are written into an in-memory
//! kubeconfig (cluster + user), so that kube's own loader handles CA and
//! client certificates (inline PEM or files), the token file (re-read by
//! kube as it changes), basic auth and the proxy.

use std::path::{Path, PathBuf};

use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::config::HttpClientConfig;

/// Where the API server is and how to authenticate.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiServer {
    /// `KUBERNETES_SERVICE_HOST`/`_PORT`, the service account token and CA.
    InCluster,
    /// `api_server` and the HTTP client settings of the SD config.
    Url { url: String, http: Box<HttpClientConfig> },
    /// `kubeconfig_file` (its current context).
    Kubeconfig(PathBuf),
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("in-cluster configuration: {0}")]
    InCluster(#[from] kube::config::InClusterError),
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig { path: PathBuf, source: kube::config::KubeconfigError },
    #[error("api_server {url}: {message}")]
    Settings { url: String, message: String },
    #[error("reading {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("building the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

/// Builds a client for `server`.
pub async fn build(server: &ApiServer) -> Result<kube::Client, ClientError> {
    let config = match server {
        ApiServer::InCluster => kube::Config::incluster()?,
        ApiServer::Kubeconfig(path) => {
            let kc_err = |source| ClientError::Kubeconfig { path: path.clone(), source };
            let kc = Kubeconfig::read_from(path).map_err(kc_err)?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(kc_err)?
        }
        ApiServer::Url { url, http } => {
            let settings = |message: String| ClientError::Settings { url: url.clone(), message };
            let kc = url_kubeconfig(url, http)?;
            let kc: Kubeconfig = serde_json::from_value(kc).map_err(|e| settings(e.to_string()))?;
            let mut config =
                kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| settings(e.to_string()))?;
            if let Some(auth) = &http.authorization {
                if !auth.auth_type.eq_ignore_ascii_case("bearer") {
                    let value = format!("{} {}", auth.auth_type, credentials(auth)?);
                    let value = reqwest::header::HeaderValue::from_str(&value)
                        .map_err(|_| settings("invalid authorization credentials".into()))?;
                    config.headers.push((reqwest::header::AUTHORIZATION, value));
                }
            }
            config
        }
    };
    Ok(kube::Client::try_from(config)?)
}

fn read(path: &Path) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ClientError::ReadFile { path: path.to_owned(), source })?;
    Ok(text.trim().to_owned())
}

fn credentials(auth: &crate::config::Authorization) -> Result<String, ClientError> {
    match (&auth.credentials, &auth.credentials_file) {
        (Some(c), _) => Ok(c.expose().to_owned()),
        (None, Some(f)) => read(f),
        (None, None) => Ok(String::new()),
    }
}

/// kube re-reads a `tokenFile` as it changes, but sends its content
/// untrimmed; Prometheus trims credentials files. A file with surrounding
/// whitespace (a trailing newline) is therefore read once and trimmed.
fn token_entry(file: &Path) -> Result<(String, serde_json::Value), ClientError> {
    let raw = std::fs::read_to_string(file)
        .map_err(|source| ClientError::ReadFile { path: file.to_owned(), source })?;
    if raw.trim() == raw {
        return Ok(("tokenFile".into(), serde_json::json!(file.display().to_string())));
    }
    tracing::warn!(
        file = %file.display(),
        "kubernetes_sd: the token file ends in whitespace; it is read once, not re-read"
    );
    Ok(("token".into(), serde_json::json!(raw.trim())))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The HTTP client settings as a one-context kubeconfig (JSON).
fn url_kubeconfig(url: &str, http: &HttpClientConfig) -> Result<serde_json::Value, ClientError> {
    use serde_json::{json, Map, Value};
    let tls = &http.tls_config;
    let mut cluster = Map::new();
    cluster.insert("server".into(), json!(url));
    let path = |p: &PathBuf| json!(p.display().to_string());
    if tls.insecure_skip_verify {
        cluster.insert("insecure-skip-tls-verify".into(), json!(true));
    }
    if let Some(ca) = &tls.ca {
        cluster.insert("certificate-authority-data".into(), json!(b64(ca)));
    }
    if let Some(ca) = &tls.ca_file {
        cluster.insert("certificate-authority".into(), path(ca));
    }
    if let Some(name) = &tls.server_name {
        cluster.insert("tls-server-name".into(), json!(name));
    }
    if let Some(proxy) = http.proxy_url.as_ref().filter(|p| !p.is_empty()) {
        cluster.insert("proxy-url".into(), json!(proxy));
    }
    let mut user = Map::new();
    if let Some(cert) = &tls.cert {
        user.insert("client-certificate-data".into(), json!(b64(cert)));
    }
    if let Some(cert) = &tls.cert_file {
        user.insert("client-certificate".into(), path(cert));
    }
    if let Some(key) = &tls.key {
        user.insert("client-key-data".into(), json!(b64(key.expose())));
    }
    if let Some(key) = &tls.key_file {
        user.insert("client-key".into(), path(key));
    }
    if let Some(basic) = &http.basic_auth {
        let username = match &basic.username_file {
            Some(f) => read(f)?,
            None => basic.username.clone(),
        };
        let password = match (&basic.password, &basic.password_file) {
            (Some(p), _) => p.expose().to_owned(),
            (None, Some(f)) => read(f)?,
            (None, None) => String::new(),
        };
        user.insert("username".into(), json!(username));
        user.insert("password".into(), json!(password));
    }
    if let Some(auth) = http.authorization.as_ref() {
        if auth.auth_type.eq_ignore_ascii_case("bearer") {
            match (&auth.credentials, &auth.credentials_file) {
                (Some(c), _) => drop(user.insert("token".into(), json!(c.expose()))),
                (None, Some(f)) => {
                    let (key, value) = token_entry(f)?;
                    user.insert(key, value);
                }
                (None, None) => {}
            }
        }
    }
    Ok(json!({
        "clusters": [{"name": "tern", "cluster": Value::Object(cluster)}],
        "users": [{"name": "tern", "user": Value::Object(user)}],
        "contexts": [{"name": "tern", "context": {"cluster": "tern", "user": "tern"}}],
        "current-context": "tern",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Authorization, Secret};

    #[tokio::test]
    async fn api_server_settings_reach_the_kube_config() {
        let mut http = crate::config::load_str(
            "scrape_configs:\n- job_name: x\n  kubernetes_sd_configs:\n  - role: pod\n    api_server: http://127.0.0.1:1\n    authorization: {credentials: tok}\n    tls_config: {insecure_skip_verify: true, server_name: api.local}\n",
            "p.yml",
        )
        .unwrap()
        .config
        .scrape_configs[0]
            .kubernetes_sd_configs[0]
            .http_client
            .clone();
        let kc = url_kubeconfig("http://127.0.0.1:1", &http).unwrap();
        assert_eq!(kc["users"][0]["user"]["token"], "tok");
        assert_eq!(kc["clusters"][0]["cluster"]["insecure-skip-tls-verify"], true);
        assert_eq!(kc["clusters"][0]["cluster"]["tls-server-name"], "api.local");
        let server =
            ApiServer::Url { url: "http://127.0.0.1:1".into(), http: Box::new(http.clone()) };
        build(&server).await.expect("client");
        http.authorization = Some(Authorization {
            auth_type: "Bearer".into(),
            credentials: Some(Secret::new("t")),
            credentials_file: None,
        });
        assert!(url_kubeconfig("http://x", &http).is_ok());
    }
}
