//! HTTP client settings (auth, TLS, proxy) and remote_write endpoints.

use super::*;

#[test]
fn auth_conflicts_use_prometheus_messages() {
    let cases: &[(&str, &str)] = &[
        (
            "bearer_token: t\nbearer_token_file: f",
            "4:5: at most one of bearer_token & bearer_token_file must be configured",
        ),
        (
            "basic_auth: {username: u}\nbearer_token: t",
            "4:5: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        ),
        (
            "basic_auth: {username: u, password: p, password_file: f}",
            "3:44: at most one of basic_auth password & password_file must be configured",
        ),
        (
            "basic_auth: {username: u, username_file: f}",
            "3:31: at most one of basic_auth username & username_file must be configured",
        ),
        (
            "authorization: {type: Basic, credentials: c}",
            "3:21: authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
        ),
        (
            "authorization: {credentials: c, credentials_file: f}",
            "3:37: at most one of authorization credentials & credentials_file must be configured",
        ),
        (
            "authorization: {credentials: c}\nbasic_auth: {username: u}",
            "3:5: at most one of basic_auth, oauth2 & authorization must be configured",
        ),
        (
            "authorization: {credentials: c}\nbearer_token_file: f",
            "4:5: authorization is not compatible with bearer_token & bearer_token_file",
        ),
        (
            "oauth2: {client_id: i, client_secret: s, token_url: 'https://t'}",
            "3:5: oauth2 is not supported by tern",
        ),
    ];
    for (extra, want) in cases {
        check(&job(extra), Err(&[want]));
    }
    check(&job("basic_auth: {username: u, password_file: p}"), Ok(()));
    check(&job("authorization: {type: Token, credentials_file: f}"), Ok(()));
}

#[test]
fn bearer_token_becomes_authorization() {
    let c = config(&job("bearer_token: abc"));
    let h = &c.scrape_configs[0].http_client;
    assert_eq!((&h.bearer_token, &h.bearer_token_file), (&None, &None));
    let auth = h.authorization.as_ref().unwrap();
    assert_eq!(auth.auth_type, "Bearer");
    assert_eq!(auth.credentials.as_ref().map(Secret::expose), Some("abc"));
    let c = config(&job("authorization: {credentials_file: tok}"));
    let auth = c.scrape_configs[0].http_client.authorization.clone().unwrap();
    assert_eq!(auth.auth_type, "Bearer");
    assert_eq!(auth.credentials_file, Some(PathBuf::from("tok")));
}

#[test]
fn tls_and_proxy_are_checked() {
    let cases: &[(&str, &str)] = &[
        (
            "tls_config: {ca: x, ca_file: f}",
            "3:25: at most one of ca and ca_file must be configured",
        ),
        (
            "tls_config: {cert_file: c}",
            "3:5: exactly one of key or key_file must be configured when a client certificate is configured",
        ),
        (
            "tls_config: {key: k}",
            "3:5: exactly one of cert or cert_file must be configured when a client key is configured",
        ),
        (
            "tls_config: {min_version: TLS13, max_version: TLS12}",
            "3:38: tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified",
        ),
        (
            "tls_config: {min_version: TLS9}",
            "3:31: scrape_configs[0].tls_config.min_version: unknown TLS version: TLS9",
        ),
        (
            "no_proxy: localhost",
            "3:5: if no_proxy is configured, proxy_url must also be configured",
        ),
        (
            "proxy_from_environment: true\nproxy_url: http://p:3128",
            "4:5: if proxy_from_environment is configured, proxy_url must not be configured",
        ),
        (
            "proxy_connect_header: {X-A: [v]}",
            "3:5: if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
        ),
        (
            "http_headers: {User-Agent: {values: [x]}}",
            "3:20: setting header \"User-Agent\" is not allowed",
        ),
    ];
    for (extra, want) in cases {
        check(&job(extra), Err(&[want]));
    }
    check(
        &job("tls_config: {cert_file: c, key_file: k, min_version: TLS12, server_name: s}\n\
              proxy_url: http://p:3128\nno_proxy: localhost"),
        Ok(()),
    );
}

#[test]
fn remote_write_defaults_match_prometheus() {
    let c = config(RW);
    let r = &c.remote_write[0];
    assert_eq!(r.url, "https://aps.example/api/v1/remote_write");
    assert_eq!(r.remote_timeout, S(30));
    assert_eq!(r.queue_config, QueueConfig::default());
    assert_eq!(
        (r.queue_config.capacity, r.queue_config.max_shards, r.queue_config.min_shards),
        (10_000, 50, 1)
    );
    assert_eq!(r.queue_config.max_samples_per_send, 2000);
    assert_eq!(r.queue_config.batch_send_deadline, S(5));
    assert_eq!(r.queue_config.min_backoff, Duration::from_millis(30));
    assert_eq!(r.queue_config.max_backoff, S(5));
    assert!(r.queue_config.retry_on_http_429);
    assert_eq!(r.queue_config.sample_age_limit, Duration::ZERO);
    assert_eq!(r.metadata_config, MetadataConfig::default());
    assert!(r.metadata_config.send);
    assert!(!r.send_exemplars && !r.send_native_histograms);
    assert_eq!(r.protobuf_message, ProtobufMessage::PrometheusWriteRequest);
    assert!(r.http_client.follow_redirects && !r.http_client.enable_http2);
}

#[test]
fn remote_write_checks() {
    check("remote_write:\n  - name: a\n", Err(&["2:5: url for remote_write is empty"]));
    check("remote_write:\n  - url: http:///x\n", Err(&["2:5: remote_write url has no host"]));
    check(
        &rw("headers:\n  X-Scope-OrgID: t1\n  Content-Type: x\n  authorization: y"),
        Err(&[
            "5:7: Content-Type is a reserved header. It must not be changed",
            "6:7: authorization header must be changed via the basic_auth, authorization, oauth2, or sigv4 parameter",
        ]),
    );
    check(
        &rw("sigv4: {region: eu-west-1}\nbasic_auth: {username: u, password: p}"),
        Err(&["3:5: at most one of basic_auth, authorization, oauth2, & sigv4 must be configured"]),
    );
    check(
        &rw("bearer_token: t\nsigv4: {}"),
        Err(&["4:5: at most one of basic_auth, authorization, oauth2, & sigv4 must be configured"]),
    );
    check(
        &rw("sigv4: {access_key: AKIA}"),
        Err(&["3:5: must provide a AWS SigV4 Access key and Secret Key if credentials are \
               specified in the SigV4 config"]),
    );
    check(
        "remote_write:\n  - url: http://a\n    name: x\n  - url: http://b\n    name: x\n  \
         - url: http://c\n  - url: http://d\n",
        Err(&["5:5: found multiple remote write configs with name \"x\""]),
    );
    check(
        &rw("protobuf_message: io.prometheus.write.v2.Request"),
        Err(&["3:23: remote_write[0].protobuf_message: protobuf_message \
               io.prometheus.write.v2.Request (remote write 2.0) is not supported by tern; \
               use prometheus.WriteRequest"]),
    );
    check(
        &rw("azuread:\n  cloud: AzurePublic"),
        Err(&["4:7: remote_write[0].azuread: azuread is not supported by tern"]),
    );
    check(
        &rw("queue_config: {max_shard: 3}"),
        Err(&["3:20: remote_write[0].queue_config: unknown field `max_shard` (did you mean `max_shards`?), expected one of \
               `capacity`, `max_shards`, `min_shards`, `max_samples_per_send`, \
               `batch_send_deadline`, `min_backoff`, `max_backoff`, `retry_on_http_429`, \
               `sample_age_limit`"]),
    );
}
