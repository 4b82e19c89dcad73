//! `kubernetes_sd_configs` entries: which objects to watch (role, namespaces,
//! selectors), on which API server (in-cluster, `api_server` or
//! `kubeconfig_file`) and with which HTTP client settings.
//!
//! Checks follow Prometheus' `SDConfig.Validate` (discovery/kubernetes), with
//! its messages. On top of Prometheus, selector `label` and `field` values
//! may name environment variables, `$(VAR)` (the Kubernetes downward-API
//! spelling) or `${VAR}`; they are expanded at load time and an unset
//! variable is an error naming it. That is how a DaemonSet pod watches only
//! its own node's pods: `field: spec.nodeName=$(NODE_NAME)`.

use super::de::{null_as_empty, parse_str};
use super::http::{inline_http_client, HttpClientConfig};
use super::validate::{http_client, KeyPath, Problems};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

inline_http_client! {
    /// One `kubernetes_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq)]
    pub struct KubernetesSdConfig from RawKubernetesSdConfig = "RawKubernetesSdConfig",
        enable_http2 = true,
        expecting = "a kubernetes_sd_configs entry (a mapping with role)";
    {
        /// Which objects become targets: `node`, `pod`, `service`,
        /// `endpoints`, `endpointslice` or `ingress`. Required.
        #[serde(default)]
        pub role: Option<Role>,
        /// URL of the API server. Without it (and without
        /// `kubeconfig_file`), tern runs in-cluster: it reads
        /// `KUBERNETES_SERVICE_HOST`/`_PORT` and the service account's token
        /// and CA under `/var/run/secrets/kubernetes.io/serviceaccount/`.
        #[serde(default)]
        pub api_server: Option<String>,
        /// A kubeconfig file (its current context) instead of `api_server`.
        #[serde(default)]
        pub kubeconfig_file: Option<PathBuf>,
        /// Namespaces to watch; all when empty.
        #[serde(default)]
        pub namespaces: NamespaceDiscovery,
        /// Label and field selectors per role, passed to the API server.
        #[serde(default, deserialize_with = "null_as_empty")]
        pub selectors: Vec<Selector>,
        /// Metadata of related objects to attach to targets.
        #[serde(default)]
        pub attach_metadata: AttachMetadata,
    }
    rejected {}
}

/// `namespaces`: which namespaces to watch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamespaceDiscovery {
    /// Also watch the namespace tern runs in (read from the service
    /// account's `namespace` file; in-cluster only).
    pub own_namespace: bool,
    /// Namespace names.
    #[serde(deserialize_with = "null_as_empty")]
    pub names: Vec<String>,
}

/// `selectors` entry: narrows the objects of one role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// The role whose objects are selected.
    pub role: Role,
    /// A label selector (`app=web,tier!=db`); `$(VAR)`/`${VAR}` expanded.
    #[serde(default)]
    pub label: String,
    /// A field selector (`spec.nodeName=$(NODE_NAME)`); `$(VAR)`/`${VAR}` expanded.
    #[serde(default)]
    pub field: String,
}

/// `attach_metadata`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachMetadata {
    /// Add the node's labels (`__meta_kubernetes_node_*`) to pod, endpoints
    /// and endpointslice targets.
    pub node: bool,
    /// Namespace metadata: not in Prometheus 2.42, refused.
    pub namespace: bool,
}

/// A Kubernetes SD role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Node,
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Ingress,
}

impl Role {
    /// Every role, as spelled in the config.
    pub const ALL: [Role; 6] =
        [Role::Pod, Role::Service, Role::Endpoints, Role::EndpointSlice, Role::Node, Role::Ingress];

    /// The spelling in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Pod => "pod",
            Role::Service => "service",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
            Role::Ingress => "ingress",
        }
    }

    /// The selector roles allowed for an SD role (Prometheus' `allowedSelectors`).
    pub fn allowed_selectors(self) -> &'static [Role] {
        match self {
            Role::Pod => &[Role::Pod],
            Role::Service => &[Role::Service],
            Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice],
            Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints],
            Role::Node => &[Role::Node],
            Role::Ingress => &[Role::Ingress],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a Kubernetes SD role", |s| {
            Role::ALL
                .into_iter()
                .find(|r| r.as_str() == s)
                .ok_or_else(|| format!("unknown Kubernetes SD role {s:?}"))
        })
    }
}

impl KubernetesSdConfig {
    /// Joins relative file paths with `dir`.
    pub(crate) fn join_dir(&mut self, dir: &Path) {
        self.http_client.join_dir(dir);
        if let Some(file) = self.kubeconfig_file.as_mut().filter(|f| !f.as_os_str().is_empty()) {
            *file = dir.join(&*file);
        }
    }
}

/// Prometheus' `SDConfig.Validate` for each entry, plus environment expansion
/// of selector values (with `env`). Returns warnings: HTTP client settings
/// that are accepted but not applied to API server connections.
pub(crate) fn validate(
    configs: &mut [KubernetesSdConfig],
    env: &dyn Fn(&str) -> Option<String>,
    at: &KeyPath,
    p: &mut Problems,
) -> Vec<(KeyPath, String)> {
    let mut warnings = Vec::new();
    for (i, c) in configs.iter_mut().enumerate() {
        let at = at.index(i);
        check(c, env, &at, p);
        let h = &c.http_client;
        let ignored = [
            ("no_proxy", h.no_proxy.is_some()),
            ("proxy_from_environment", h.proxy_from_environment),
            ("proxy_connect_header", !h.proxy_connect_header.is_empty()),
            ("http_headers", !h.http_headers.is_empty()),
            ("follow_redirects", !h.follow_redirects),
            ("enable_http2", !h.enable_http2),
        ];
        for (key, set) in ignored {
            if set {
                let message = format!("{key} is not applied to Kubernetes API connections");
                warnings.push((at.key(key), message));
            }
        }
        let tls = &h.tls_config;
        for (key, set) in [("min_version", tls.min_version), ("max_version", tls.max_version)] {
            if set.is_some() {
                let message =
                    format!("tls_config.{key} is not applied to Kubernetes API connections");
                warnings.push((at.key("tls_config").key(key), message));
            }
        }
    }
    warnings
}

fn check(
    c: &mut KubernetesSdConfig,
    env: &dyn Fn(&str) -> Option<String>,
    at: &KeyPath,
    p: &mut Problems,
) {
    let default_http = is_default_http_client(&c.http_client);
    http_client(&mut c.http_client, at, p);
    let Some(role) = c.role else {
        p.add(
            at.clone(),
            "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
        );
        return;
    };
    if let Some(url) = &c.api_server {
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with(['/', '?', '#'])) {
            p.add(at.key("api_server"), format!("invalid api_server URL {url:?}"));
        }
    }
    let has_kubeconfig = c.kubeconfig_file.as_ref().is_some_and(|f| !f.as_os_str().is_empty());
    if c.api_server.is_some() && has_kubeconfig {
        p.add(
            at.key("kubeconfig_file"),
            "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
        );
    }
    if has_kubeconfig && !default_http {
        p.add(
            at.key("kubeconfig_file"),
            "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
        );
    }
    if c.api_server.is_none() && !has_kubeconfig && !default_http {
        p.add(
            at.clone(),
            "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
        );
    }
    if c.api_server.is_some() && c.namespaces.own_namespace {
        p.add(
            at.key("namespaces").key("own_namespace"),
            "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
        );
    }
    if has_kubeconfig && c.namespaces.own_namespace {
        p.add(
            at.key("namespaces").key("own_namespace"),
            "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
        );
    }
    if c.attach_metadata.namespace {
        p.add(
            at.key("attach_metadata").key("namespace"),
            "attach_metadata.namespace is not supported by tern (Prometheus 2.42 has no such field)",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, selector) in c.selectors.iter_mut().enumerate() {
        let at = at.key("selectors").index(i);
        if !seen.insert(selector.role) {
            p.add(at.key("role"), format!("duplicated selector role: {}", selector.role));
            continue;
        }
        let allowed = role.allowed_selectors();
        if !allowed.contains(&selector.role) {
            let names: Vec<_> = allowed.iter().map(|r| r.as_str()).collect();
            p.add(
                at.key("role"),
                format!("{role} role supports only {} selectors", names.join(", ")),
            );
        }
        for (key, value) in [("label", &mut selector.label), ("field", &mut selector.field)] {
            match expand_env(value, env) {
                Ok(expanded) => *value = expanded,
                Err(name) => {
                    p.add(at.key(key), format!("environment variable {name} is not set"));
                    continue;
                }
            }
            let check = if key == "field" { check_field_selector } else { check_label_selector };
            if let Err(message) = check(value) {
                p.add(at.key(key), message);
            }
        }
    }
}

/// True when no HTTP client setting differs from Prometheus' default.
fn is_default_http_client(h: &HttpClientConfig) -> bool {
    h.basic_auth.is_none()
        && h.authorization.is_none()
        && h.oauth2.is_none()
        && h.bearer_token.is_none()
        && h.bearer_token_file.is_none()
        && h.tls_config == Default::default()
        && h.proxy_url.is_none()
        && h.no_proxy.is_none()
        && !h.proxy_from_environment
        && h.proxy_connect_header.is_empty()
        && h.http_headers.is_empty()
        && h.follow_redirects
        && h.enable_http2
}

/// Expands `$(VAR)` and `${VAR}` (VAR: letters, digits, `_`, not starting with
/// a digit) with `env`. Any other `$` stays as written. Returns the name of
/// the first unset variable as the error.
pub fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let close = match after.chars().next() {
            Some('(') => ')',
            Some('{') => '}',
            _ => {
                out.push('$');
                rest = after;
                continue;
            }
        };
        let name_end = after[1..].find(close).map(|e| e + 1);
        let name = name_end.map(|e| &after[1..e]).filter(|n| is_env_name(n));
        match (name, name_end) {
            (Some(name), Some(end)) => {
                out.push_str(&env(name).ok_or_else(|| name.to_owned())?);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A field selector: comma-separated `key=value`, `key==value` or `key!=value`.
fn check_field_selector(s: &str) -> Result<(), String> {
    for term in s.split(',').filter(|t| !t.trim().is_empty()) {
        let key = term.split("!=").next().unwrap_or("").split('=').next().unwrap_or("");
        if !term.contains('=') || key.trim().is_empty() {
            return Err(format!("invalid selector: '{s}'; can't understand '{term}'"));
        }
    }
    Ok(())
}

/// A label selector, checked loosely: balanced parentheses and no empty key.
fn check_label_selector(s: &str) -> Result<(), String> {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    let starts_bad = s.trim_start().starts_with(['=', '!', ',']) && s.trim() != "";
    if depth != 0 || starts_bad {
        return Err(format!("unable to parse label selector {s:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn expand(s: &str, want: Result<&str, &str>) {
        let env = |name: &str| match name {
            "NODE_NAME" => Some("node-a".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand_env(s, &env), want.map(str::to_owned).map_err(str::to_owned), "{s}");
    }

    #[test]
    fn env_expansion_of_both_forms() {
        expand("spec.nodeName=$(NODE_NAME)", Ok("spec.nodeName=node-a"));
        expand("spec.nodeName=${NODE_NAME}", Ok("spec.nodeName=node-a"));
        expand("a=$(NODE_NAME),b=${EMPTY}x", Ok("a=node-a,b=x"));
        expand("no variables", Ok("no variables"));
        expand("price=$5 and $ alone $", Ok("price=$5 and $ alone $"));
        expand("$(not closed", Ok("$(not closed"));
        expand("$(1BAD)", Ok("$(1BAD)"));
        expand("spec.nodeName=$(UNSET_VAR)", Err("UNSET_VAR"));
        expand("${UNSET_VAR}", Err("UNSET_VAR"));
    }

    #[test]
    fn selector_roles_allowed_per_sd_role() {
        assert_eq!(Role::Pod.allowed_selectors(), [Role::Pod]);
        assert!(Role::Endpoints.allowed_selectors().contains(&Role::Service));
        assert!(!Role::Node.allowed_selectors().contains(&Role::Pod));
    }

    #[test]
    fn field_selectors_are_checked() {
        assert!(check_field_selector("spec.nodeName=a,metadata.name!=b").is_ok());
        assert!(check_field_selector("").is_ok());
        assert!(check_field_selector("spec.nodeName").is_err());
        assert!(check_field_selector("=x").is_err());
        assert!(check_label_selector("app in (a, b),!x").is_ok());
        assert!(check_label_selector("app in (a").is_err());
    }
}
