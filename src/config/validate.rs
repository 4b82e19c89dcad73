//! Checks that need more than one field, run after deserialising, with
//! Prometheus' messages; and the defaults that depend on `global`.
//!
//! Checks never stop at the first problem: each adds a [`Problem`] naming the
//! key path it is about, and the loader turns paths into line and column.

use super::global::GlobalConfig;
use super::http::{HttpClientConfig, TlsConfig};
use super::remote::{RemoteWriteConfig, SigV4Config, RESERVED_HEADERS};
use super::scrape::{is_valid_file_sd_path, ScrapeConfig};
use crate::relabel::{RelabelConfig, Rule};
use std::fmt;

/// One step of a key path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Where in the YAML document a problem is, e.g. `scrape_configs[0].basic_auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(Vec<Seg>);

impl KeyPath {
    pub(crate) fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        KeyPath(segs)
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    pub(crate) fn segs(&self) -> &[Seg] {
        &self.0
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A problem found by a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub at: KeyPath,
    pub message: String,
}

/// The problems found so far.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub Vec<Problem>);

impl Problems {
    pub(crate) fn add(&mut self, at: KeyPath, message: impl Into<String>) {
        self.0.push(Problem { at, message: message.into() });
    }
}

/// Fills a job's unset values from `global` and checks the job.
pub(crate) fn scrape_config(
    job: &mut ScrapeConfig,
    global: &GlobalConfig,
    at: &KeyPath,
    p: &mut Problems,
) {
    if job.job_name.is_empty() {
        p.add(at.key("job_name"), "job_name is empty");
    }
    inherit_from_global(job, global);
    if job.scrape_timeout > job.scrape_interval {
        p.add(
            at.key("scrape_timeout"),
            format!(
                "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                job.job_name
            ),
        );
    }
    if job.metrics_path.contains('?') {
        p.add(at.key("metrics_path"), "metrics_path must not contain a query string: use params");
    }
    http_client(&mut job.http_client, at, p);
    relabel_rules(&job.relabel_configs, &at.key("relabel_configs"), p);
    relabel_rules(&job.metric_relabel_configs, &at.key("metric_relabel_configs"), p);
    if job.relabel_configs.is_empty() {
        static_targets(job, at, p);
    }
    for (i, sd) in job.file_sd_configs.iter().enumerate() {
        let at = at.key("file_sd_configs").index(i);
        if sd.files.is_empty() {
            p.add(at.clone(), "file service discovery config must contain at least one path name");
        }
        for (j, file) in sd.files.iter().enumerate() {
            if !is_valid_file_sd_path(file) {
                p.add(
                    at.key("files").index(j),
                    format!("path name {file:?} is not valid for file discovery"),
                );
            }
        }
    }
}

/// Prometheus' `ScrapeConfig.Validate` defaults: a zero value means "as global".
fn inherit_from_global(job: &mut ScrapeConfig, global: &GlobalConfig) {
    if job.scrape_interval.is_zero() {
        job.scrape_interval = global.scrape_interval;
    }
    // An explicit timeout larger than the interval is an error (checked by the
    // caller); an inherited one is cut down to the interval.
    if job.scrape_timeout.is_zero() {
        job.scrape_timeout = global.scrape_timeout.min(job.scrape_interval);
    }
    if job.scrape_protocols.is_empty() {
        job.scrape_protocols = global.scrape_protocols.clone();
    }
    if job.body_size_limit.is_zero() {
        job.body_size_limit = global.body_size_limit;
    }
    let limits = [
        (&mut job.sample_limit, global.sample_limit),
        (&mut job.target_limit, global.target_limit),
        (&mut job.label_limit, global.label_limit),
        (&mut job.label_name_length_limit, global.label_name_length_limit),
        (&mut job.label_value_length_limit, global.label_value_length_limit),
        (&mut job.keep_dropped_targets, global.keep_dropped_targets),
    ];
    for (value, global) in limits {
        if *value == 0 {
            *value = global;
        }
    }
}

/// Each rule must be one Prometheus accepts (regex, action and fields), as
/// building it checks; the message is Prometheus' own.
fn relabel_rules(rules: &[RelabelConfig], at: &KeyPath, p: &mut Problems) {
    for (i, rule) in rules.iter().enumerate() {
        if let Err(e) = Rule::try_new(rule) {
            p.add(at.index(i), e.to_string());
        }
    }
}

/// Without relabeling, a static target must be a bare `host:port`; a URL
/// there is a common mistake that Prometheus refuses.
fn static_targets(job: &ScrapeConfig, at: &KeyPath, p: &mut Problems) {
    for (i, group) in job.static_configs.iter().enumerate() {
        for (j, target) in group.targets.iter().enumerate() {
            if target.contains('/') {
                p.add(
                    at.key("static_configs").index(i).key("targets").index(j),
                    format!("{target:?} is not a valid hostname"),
                );
            }
        }
    }
}

/// Checks a remote_write endpoint (its name is checked by the caller).
pub(crate) fn remote_write(rw: &mut RemoteWriteConfig, at: &KeyPath, p: &mut Problems) {
    if rw.url.is_empty() {
        p.add(at.key("url"), "url for remote_write is empty");
    } else {
        let rest = rw.url.strip_prefix("http://").or_else(|| rw.url.strip_prefix("https://"));
        match rest {
            None => p.add(at.key("url"), "remote_write url must start with http:// or https://"),
            Some(rest) if rest.is_empty() || rest.starts_with(['/', '?', '#']) => {
                p.add(at.key("url"), "remote_write url has no host")
            }
            Some(_) => {}
        }
    }
    for name in rw.headers.keys() {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" {
            p.add(
                at.key("headers").key(name),
                "authorization header must be changed via the basic_auth, authorization, \
                 oauth2, or sigv4 parameter",
            );
        } else if RESERVED_HEADERS.contains(&lower.as_str()) {
            p.add(
                at.key("headers").key(name),
                format!("{name} is a reserved header. It must not be changed"),
            );
        }
    }
    http_client(&mut rw.http_client, at, p);
    relabel_rules(&rw.write_relabel_configs, &at.key("write_relabel_configs"), p);
    if let Some(sigv4) = &rw.sigv4 {
        let h = &rw.http_client;
        if h.basic_auth.is_some() || h.authorization.is_some() || h.oauth2.is_some() {
            p.add(
                at.key("sigv4"),
                "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured",
            );
        }
        sigv4_config(sigv4, &at.key("sigv4"), p);
    }
}

fn sigv4_config(c: &SigV4Config, at: &KeyPath, p: &mut Problems) {
    if c.access_key.is_some() != c.secret_key.is_some() {
        p.add(
            at.clone(),
            "must provide a AWS SigV4 Access key and Secret Key if credentials are specified \
             in the SigV4 config",
        );
    }
    if c.external_id.is_some() && c.role_arn.is_none() {
        p.add(at.key("external_id"), "external_id can only be used with role_arn");
    }
}

/// Prometheus' `HTTPClientConfig.Validate`, which also moves `bearer_token`
/// and `bearer_token_file` into `authorization` and defaults its type.
pub(crate) fn http_client(c: &mut HttpClientConfig, at: &KeyPath, p: &mut Problems) {
    let bearer = c.bearer_token.is_some() || c.bearer_token_file.is_some();
    let bearer_at = if c.bearer_token_file.is_some() {
        at.key("bearer_token_file")
    } else {
        at.key("bearer_token")
    };
    if c.bearer_token.is_some() && c.bearer_token_file.is_some() {
        p.add(
            bearer_at.clone(),
            "at most one of bearer_token & bearer_token_file must be configured",
        );
    }
    if (c.basic_auth.is_some() || c.oauth2.is_some()) && bearer {
        p.add(
            bearer_at.clone(),
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        );
    }
    if let Some(auth) = &c.basic_auth {
        let at = at.key("basic_auth");
        if !auth.username.is_empty() && auth.username_file.is_some() {
            p.add(
                at.key("username_file"),
                "at most one of basic_auth username & username_file must be configured",
            );
        }
        if auth.password.is_some() && auth.password_file.is_some() {
            p.add(
                at.key("password_file"),
                "at most one of basic_auth password & password_file must be configured",
            );
        }
    }
    match &mut c.authorization {
        Some(auth) => {
            let at = at.key("authorization");
            if bearer {
                p.add(
                    bearer_at,
                    "authorization is not compatible with bearer_token & bearer_token_file",
                );
            }
            if auth.credentials.is_some() && auth.credentials_file.is_some() {
                p.add(
                    at.key("credentials_file"),
                    "at most one of authorization credentials & credentials_file must be configured",
                );
            }
            auth.auth_type = auth.auth_type.trim().to_owned();
            if auth.auth_type.is_empty() {
                auth.auth_type = "Bearer".to_owned();
            }
            if auth.auth_type.eq_ignore_ascii_case("basic") {
                p.add(
                    at.key("type"),
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
                );
            }
            if c.basic_auth.is_some() || c.oauth2.is_some() {
                p.add(at, "at most one of basic_auth, oauth2 & authorization must be configured");
            }
        }
        None if bearer => {
            c.authorization = Some(super::http::Authorization {
                auth_type: "Bearer".to_owned(),
                credentials: c.bearer_token.take(),
                credentials_file: c.bearer_token_file.take(),
            });
        }
        None => {}
    }
    if let Some(oauth2) = &c.oauth2 {
        let at = at.key("oauth2");
        // Modelled and checked as Prometheus does, but tern's HTTP clients do
        // not run the OAuth 2.0 flow yet: refuse it at load time rather than
        // have every request fail.
        p.add(at.clone(), "oauth2 is not supported by tern");
        if c.basic_auth.is_some() {
            p.add(
                at.clone(),
                "at most one of basic_auth, oauth2 & authorization must be configured",
            );
        }
        if oauth2.client_id.is_empty() {
            p.add(at.clone(), "oauth2 client_id must be configured");
        }
        if oauth2.token_url.is_empty() {
            p.add(at.clone(), "oauth2 token_url must be configured");
        }
        if oauth2.client_secret.is_some() && oauth2.client_secret_file.is_some() {
            p.add(
                at.key("client_secret_file"),
                "at most one of oauth2 client_secret & client_secret_file must be configured",
            );
        }
        tls(&oauth2.tls_config, &at.key("tls_config"), p);
        proxy(
            (&oauth2.proxy_url, &oauth2.no_proxy),
            oauth2.proxy_from_environment,
            !oauth2.proxy_connect_header.is_empty(),
            &at,
            p,
        );
    }
    tls(&c.tls_config, &at.key("tls_config"), p);
    proxy(
        (&c.proxy_url, &c.no_proxy),
        c.proxy_from_environment,
        !c.proxy_connect_header.is_empty(),
        at,
        p,
    );
    for name in c.http_headers.keys() {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization"
            || lower == "x-prometheus-scrape-timeout-seconds"
            || RESERVED_HEADERS.contains(&lower.as_str())
        {
            p.add(
                at.key("http_headers").key(name),
                format!("setting header {name:?} is not allowed"),
            );
        }
    }
}

/// Prometheus' `ProxyConfig.Validate`.
fn proxy(
    (url, no_proxy): (&Option<String>, &Option<String>),
    from_env: bool,
    connect_headers: bool,
    at: &KeyPath,
    p: &mut Problems,
) {
    let has_url = url.as_deref().is_some_and(|u| !u.is_empty());
    let has_no_proxy = no_proxy.as_deref().is_some_and(|n| !n.is_empty());
    if connect_headers && !from_env && !has_url {
        p.add(
            at.key("proxy_connect_header"),
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must \
             also be configured",
        );
    }
    if from_env && has_url {
        p.add(
            at.key("proxy_url"),
            "if proxy_from_environment is configured, proxy_url must not be configured",
        );
    }
    if from_env && has_no_proxy {
        p.add(
            at.key("no_proxy"),
            "if proxy_from_environment is configured, no_proxy must not be configured",
        );
    }
    if !has_url && has_no_proxy {
        p.add(at.key("no_proxy"), "if no_proxy is configured, proxy_url must also be configured");
    }
}

/// Prometheus' `TLSConfig.Validate` plus its version-order check.
fn tls(t: &TlsConfig, at: &KeyPath, p: &mut Problems) {
    if t.ca.is_some() && t.ca_file.is_some() {
        p.add(at.key("ca_file"), "at most one of ca and ca_file must be configured");
    }
    if t.cert.is_some() && t.cert_file.is_some() {
        p.add(at.key("cert_file"), "at most one of cert and cert_file must be configured");
    }
    if t.key.is_some() && t.key_file.is_some() {
        p.add(at.key("key_file"), "at most one of key and key_file must be configured");
    }
    let has_cert = t.cert.is_some() || t.cert_file.is_some();
    let has_key = t.key.is_some() || t.key_file.is_some();
    if has_cert && !has_key {
        p.add(
            at.clone(),
            "exactly one of key or key_file must be configured when a client certificate is \
             configured",
        );
    } else if has_key && !has_cert {
        p.add(
            at.clone(),
            "exactly one of cert or cert_file must be configured when a client key is configured",
        );
    }
    if let (Some(min), Some(max)) = (t.min_version, t.max_version) {
        if max < min {
            p.add(
                at.key("max_version"),
                "tls_config.max_version must be greater than or equal to tls_config.min_version \
                 if both are specified",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_print_like_serde_yaml() {
        let at = KeyPath::root()
            .key("scrape_configs")
            .index(2)
            .key("static_configs")
            .index(0)
            .key("targets");
        assert_eq!(at.to_string(), "scrape_configs[2].static_configs[0].targets");
    }
}
