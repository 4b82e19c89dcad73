//! `kubernetes_sd_configs`: fields, Prometheus' checks, environment expansion.

use super::*;
use crate::config::kubernetes::Role;

fn k8s(entry: &str) -> String {
    let mut extra = String::from("kubernetes_sd_configs:\n");
    for (i, line) in entry.lines().enumerate() {
        extra.push_str(if i == 0 { "  - " } else { "    " });
        extra.push_str(line);
        extra.push('\n');
    }
    job(&extra)
}

#[test]
fn all_fields_load() {
    let c = config(&k8s("role: endpoints
api_server: https://api.example:6443
namespaces: {names: [a, b]}
selectors:
  - {role: pod, label: 'app=web', field: 'spec.nodeName=n1'}
  - {role: service, label: 'tier in (a, b)'}
attach_metadata: {node: true}
bearer_token_file: token
tls_config: {ca_file: ca.pem, insecure_skip_verify: false}
proxy_url: http://proxy:3128
follow_redirects: false
enable_http2: false"));
    let sd = &c.scrape_configs[0].kubernetes_sd_configs[0];
    assert_eq!(sd.role, Some(Role::Endpoints));
    assert_eq!(sd.api_server.as_deref(), Some("https://api.example:6443"));
    assert_eq!(sd.namespaces.names, ["a", "b"]);
    assert_eq!(sd.selectors[0].field, "spec.nodeName=n1");
    assert!(sd.attach_metadata.node);
    let auth = sd.http_client.authorization.as_ref().expect("bearer_token_file folded");
    assert_eq!(auth.credentials_file.as_deref(), Some(Path::new("token")));
    assert_eq!(sd.http_client.tls_config.ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert!(!sd.http_client.follow_redirects && !sd.http_client.enable_http2);
}

#[test]
fn prometheus_checks_with_positions() {
    check(
        &k8s("namespaces: {names: [a]}"),
        Err(&["4:9: role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"]),
    );
    check(&k8s("role: pods"), Err(&["4:15: scrape_configs[0].kubernetes_sd_configs[0].role: unknown Kubernetes SD role \"pods\""]));
    check(
        &k8s("role: pod\napi_server: http://a:1\nkubeconfig_file: kc.yml"),
        Err(&["6:9: cannot use 'kubeconfig_file' and 'api_server' simultaneously"]),
    );
    check(
        &k8s("role: pod\nkubeconfig_file: kc.yml\nbasic_auth: {username: u}"),
        Err(&[
            "5:9: cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
        ]),
    );
    check(
        &k8s("role: pod\nbearer_token: x"),
        Err(&["4:9: to use custom HTTP client configuration please provide the 'api_server' URL explicitly"]),
    );
    check(
        &k8s("role: pod\napi_server: http://a:1\nnamespaces: {own_namespace: true}"),
        Err(&["6:22: cannot use 'api_server' and 'namespaces.own_namespace' simultaneously"]),
    );
    check(
        &k8s("role: node\nselectors: [{role: pod, label: a=b}]"),
        Err(&["5:22: node role supports only node selectors"]),
    );
    check(
        &k8s("role: endpoints\nselectors: [{role: pod}, {role: node}, {role: pod}]"),
        Err(&[
            "5:35: endpoints role supports only pod, service, endpoints selectors",
            "5:49: duplicated selector role: pod",
        ]),
    );
    check(
        &k8s("role: pod\napi_server: ftp://x"),
        Err(&["5:9: invalid api_server URL \"ftp://x\""]),
    );
    check(
        &k8s("role: pod\noauth2: {client_id: a, token_url: 'http://t'}\napi_server: http://a:1"),
        Err(&["5:9: oauth2 is not supported by tern"]),
    );
    check(
        &k8s("role: pod\nselectors: [{role: pod, field: spec.nodeName}]"),
        Err(&["5:33: invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'"]),
    );
    check(
        &k8s("role: pod\nunknown_key: 1"),
        Err(&["5:9: scrape_configs[0].kubernetes_sd_configs[0]: unknown field `unknown_key`, expected one of `role`, `api_server`, `kubeconfig_file`, `namespaces`, `selectors`, `attach_metadata`, `basic_auth`, `authorization`, `oauth2`, `bearer_token`, `bearer_token_file`, `tls_config`, `proxy_url`, `no_proxy`, `proxy_from_environment`, `proxy_connect_header`, `http_headers`, `follow_redirects`, `enable_http2`"]),
    );
}

#[test]
fn selector_values_expand_environment_variables() {
    let yaml = k8s("role: pod\nselectors:\n  - role: pod\n    field: spec.nodeName=$(NODE_NAME)\n    label: 'env=${ENV}'");
    let env = |name: &str| match name {
        "NODE_NAME" => Some("ip-10-0-0-1".to_owned()),
        "ENV" => Some("prod".to_owned()),
        _ => None,
    };
    let loaded = load_str_with_env(&yaml, FILE, &env).expect("loads");
    let sd = &loaded.config.scrape_configs[0].kubernetes_sd_configs[0];
    assert_eq!(sd.selectors[0].field, "spec.nodeName=ip-10-0-0-1");
    assert_eq!(sd.selectors[0].label, "env=prod");
    check(
        &yaml,
        Err(&[
            "7:13: environment variable NODE_NAME is not set",
            "8:13: environment variable ENV is not set",
        ]),
    );
}

#[test]
fn settings_not_applied_to_the_api_server_are_warned_about() {
    let loaded = load_ok(&k8s(
        "role: pod\napi_server: http://a:1\nfollow_redirects: false\ntls_config: {min_version: TLS12}",
    ));
    assert_eq!(
        loaded.warnings,
        [
            "test.yml:6:9: follow_redirects is not applied to Kubernetes API connections",
            "test.yml:7:22: tls_config.min_version is not applied to Kubernetes API connections",
        ]
    );
    assert!(load_ok(&k8s("role: pod\napi_server: http://a:1")).warnings.is_empty());
}
