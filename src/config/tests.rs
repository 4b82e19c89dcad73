//! Loading whole documents: defaults, inheritance, and every check with its
//! position. Expected errors are written `LINE:COL: message` (the file name,
//! `test.yml`, is checked once in `errors_display_file_line_column`).

use super::*;
use std::time::Duration;

const FILE: &str = "test.yml";

fn no_env(_: &str) -> Option<String> {
    None
}

/// Loads `yaml` or fails the test with its errors.
#[track_caller]
fn load_ok(yaml: &str) -> Loaded {
    match load_str_with_env(yaml, FILE, &no_env) {
        Ok(loaded) => loaded,
        Err(e) => panic!("config should load, got:\n{e}"),
    }
}

#[track_caller]
fn config(yaml: &str) -> Config {
    load_ok(yaml).config
}

/// `Ok(())`: `yaml` loads. `Err(want)`: loading fails with exactly these
/// problems, each `LINE:COL: message`.
#[track_caller]
fn check(yaml: &str, want: Result<(), &[&str]>) {
    let got = load_str_with_env(yaml, FILE, &no_env);
    match (got, want) {
        (Ok(_), Ok(())) => {}
        (Err(errors), Err(want)) => {
            let got: Vec<String> = errors
                .iter()
                .map(|e| {
                    assert_eq!(e.file, Path::new(FILE));
                    format!("{}:{}: {}", e.line, e.column, e.message)
                })
                .collect();
            assert_eq!(got, want, "errors for:\n{yaml}");
        }
        (Ok(_), Err(want)) => panic!("expected errors {want:?}, config loaded:\n{yaml}"),
        (Err(errors), Ok(())) => panic!("config should load, got:\n{errors}\nfor:\n{yaml}"),
    }
}

/// A document with one job named `j` whose mapping ends with `extra`
/// (indented under the job), so positions start at line 3 column 5.
fn job(extra: &str) -> String {
    let mut yaml = String::from("scrape_configs:\n  - job_name: j\n");
    for line in extra.lines() {
        yaml.push_str("    ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn empty_document_has_prometheus_defaults() {
    for yaml in ["", "# nothing\n", "global:\n", "global: {}\nscrape_configs:\n"] {
        let c = config(yaml);
        assert_eq!(c.global, GlobalConfig::default(), "{yaml:?}");
        assert_eq!(c.global.scrape_interval, S(60));
        assert_eq!(c.global.scrape_timeout, S(10));
        assert_eq!(c.global.evaluation_interval, S(60));
        assert_eq!(c.global.scrape_protocols, ScrapeProtocol::DEFAULT);
        assert!(c.scrape_configs.is_empty() && c.remote_write.is_empty());
    }
}

#[test]
fn job_defaults_match_prometheus() {
    let c = config(&job("static_configs: [{targets: ['a:9100']}]"));
    let j = &c.scrape_configs[0];
    assert_eq!(j.job_name, "j");
    assert_eq!((j.scrape_interval, j.scrape_timeout), (S(60), S(10)));
    assert_eq!(j.metrics_path, "/metrics");
    assert_eq!(j.scheme, Scheme::Http);
    assert!(!j.honor_labels && j.honor_timestamps && !j.track_timestamps_staleness);
    assert!(j.enable_compression);
    assert_eq!(
        j.scrape_protocols,
        [
            ScrapeProtocol::OpenMetricsText1_0_0,
            ScrapeProtocol::OpenMetricsText0_0_1,
            ScrapeProtocol::PrometheusText0_0_4
        ]
    );
    assert_eq!(j.fallback_scrape_protocol, None);
    assert_eq!((j.sample_limit, j.target_limit, j.body_size_limit), (0, 0, ByteSize(0)));
    assert!(j.http_client.follow_redirects && j.http_client.enable_http2);
    assert_eq!(j.http_client.tls_config, TlsConfig::default());
    assert_eq!(j.static_configs[0].targets, ["a:9100"]);
}

#[test]
fn jobs_inherit_global_values() {
    let c = config(
        "global:
  scrape_interval: 15s
  scrape_timeout: 12s
  scrape_protocols: [PrometheusText0.0.4]
  body_size_limit: 10MB
  sample_limit: 1000
  label_limit: 30
  label_name_length_limit: 200
  label_value_length_limit: 2000
  target_limit: 5
  keep_dropped_targets: 100
scrape_configs:
  - job_name: inherits
  - job_name: short
    scrape_interval: 5s
  - job_name: own
    scrape_interval: 1m
    scrape_timeout: 30s
    sample_limit: 7
    body_size_limit: 1KB
    scrape_protocols: [OpenMetricsText1.0.0]
",
    );
    let [inherits, short, own] = &c.scrape_configs[..] else { panic!("three jobs") };
    assert_eq!((inherits.scrape_interval, inherits.scrape_timeout), (S(15), S(12)));
    // The global timeout exceeds this job's interval: the interval wins.
    assert_eq!((short.scrape_interval, short.scrape_timeout), (S(5), S(5)));
    assert_eq!((own.scrape_interval, own.scrape_timeout), (S(60), S(30)));
    assert_eq!(inherits.scrape_protocols, [ScrapeProtocol::PrometheusText0_0_4]);
    assert_eq!(own.scrape_protocols, [ScrapeProtocol::OpenMetricsText1_0_0]);
    assert_eq!(inherits.body_size_limit, ByteSize(10 << 20));
    assert_eq!(own.body_size_limit, ByteSize(1024));
    assert_eq!((inherits.sample_limit, own.sample_limit), (1000, 7));
    assert_eq!(
        (
            inherits.label_limit,
            inherits.label_name_length_limit,
            inherits.label_value_length_limit,
            inherits.target_limit,
            inherits.keep_dropped_targets,
        ),
        (30, 200, 2000, 5, 100)
    );
}

#[test]
fn global_timeout_defaults_to_interval_when_shorter() {
    let c = config("global:\n  scrape_interval: 5s\n");
    assert_eq!((c.global.scrape_interval, c.global.scrape_timeout), (S(5), S(5)));
}

#[test]
fn timeout_longer_than_interval_is_refused() {
    check(
        "global:\n  scrape_interval: 10s\n  scrape_timeout: 11s\n",
        Err(&["3:3: global scrape timeout greater than scrape interval"]),
    );
    check(&job("scrape_interval: 10s\nscrape_timeout: 10s"), Ok(()));
    check(
        &job("scrape_interval: 10s\nscrape_timeout: 11s"),
        Err(&[
            "4:5: scrape timeout greater than scrape interval for scrape config with job name \"j\"",
        ]),
    );
    // Against the inherited interval too.
    check(
        "global:\n  scrape_interval: 10s\n  scrape_timeout: 5s\n".to_owned()
            .add(&job("scrape_timeout: 20s"))
            .as_str(),
        Err(&[
            "6:5: scrape timeout greater than scrape interval for scrape config with job name \"j\"",
        ]),
    );
}

trait Add {
    fn add(self, more: &str) -> String;
}

impl Add for String {
    fn add(mut self, more: &str) -> String {
        self.push_str(more);
        self
    }
}

#[test]
fn job_names_are_required_and_unique() {
    check(
        "scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n",
        Err(&["4:5: found multiple scrape configs with job name \"a\""]),
    );
    check(
        "scrape_configs:\n  - job_name: ''\n  - metrics_path: /m\n",
        Err(&["2:5: job_name is empty", "3:5: job_name is empty"]),
    );
}

#[test]
fn unknown_keys_name_their_path_and_position() {
    check(
        "global:\n  scrape_interval: 15s\nscrape_config:\n  - job_name: a\n",
        Err(&["3:1: unknown field `scrape_config`, expected one of `global`, \
               `scrape_config_files`, `scrape_configs`, `remote_write`, `rule_files`, \
               `alerting`, `remote_read`, `storage`, `tracing`, `otlp`, `runtime`"]),
    );
    check(
        &job("static_configs:\n  - target: ['a:1']"),
        Err(&["4:9: scrape_configs[0].static_configs[0]: unknown field `target`, \
               expected `targets` or `labels`"]),
    );
    check(
        &job("basic_auth:\n  user: u"),
        Err(&["4:7: scrape_configs[0].basic_auth: unknown field `user`, expected one of \
               `username`, `username_file`, `password`, `password_file`"]),
    );
    check(
        "global:\n  scrape_intervall: 1m\n",
        Err(&["2:3: global: unknown field `scrape_intervall`, expected one of \
               `scrape_interval`, `scrape_timeout`, `scrape_protocols`, `evaluation_interval`, \
               `rule_query_offset`, `query_log_file`, `scrape_failure_log_file`, \
               `external_labels`, `body_size_limit`, `sample_limit`, `target_limit`, \
               `label_limit`, `label_name_length_limit`, `label_value_length_limit`, \
               `keep_dropped_targets`"]),
    );
}

#[test]
fn agent_unused_prometheus_keys_are_warnings() {
    let loaded = load_ok(
        "global:\n  evaluation_interval: 30s\nrule_files:\n  - a.yml\nalerting:\n  \
         alertmanagers: []\nremote_read:\n  - url: http://x\nstorage: {}\ntracing: {}\n\
         otlp: {}\nruntime: {gogc: 50}\n",
    );
    let key = |k: &str, line: usize| {
        format!("{FILE}:{line}:1: {k} is not used by tern (an agent) and is ignored")
    };
    assert_eq!(
        loaded.warnings,
        [
            key("rule_files", 3),
            key("alerting", 5),
            key("remote_read", 7),
            key("storage", 9),
            key("tracing", 10),
            key("otlp", 11),
            key("runtime", 12),
        ]
    );
    assert_eq!(loaded.config.global.evaluation_interval, S(30));
    // Written but empty still warns: the user may expect it to do something.
    assert_eq!(load_ok("rule_files:\n").warnings.len(), 1);
    assert!(load_ok("scrape_configs: []\n").warnings.is_empty());
}

#[test]
fn service_discovery_other_than_static_file_kubernetes_is_refused() {
    check(
        &job("consul_sd_configs:\n  - server: localhost:8500"),
        Err(&[
            "4:7: scrape_configs[0].consul_sd_configs: consul_sd_configs is not supported by tern",
        ]),
    );
    check(
        &job("ec2_sd_configs: []"),
        Err(&["3:21: scrape_configs[0].ec2_sd_configs: ec2_sd_configs is not supported by tern"]),
    );
    let c = config(&job("kubernetes_sd_configs:\n  - role: pod\n    namespaces: {names: [a]}"));
    assert_eq!(c.scrape_configs[0].kubernetes_sd_configs.len(), 1);
}

#[test]
fn label_names_are_checked() {
    check(
        &job("static_configs:\n  - targets: [a]\n    labels: {env: prod, 0bad: x}"),
        Err(&[
            "5:29: scrape_configs[0].static_configs[0].labels: \"0bad\" is not a valid label name",
        ]),
    );
    check(
        "global:\n  external_labels:\n    region: eu\n    cluster-name: c\n",
        Err(&["4:5: global.external_labels: \"cluster-name\" is not a valid label name"]),
    );
    check(
        "global:\n  external_labels:\n    a: x\n    a: y\n",
        Err(&["4:5: global.external_labels: mapping key \"a\" already defined"]),
    );
}

#[test]
fn static_targets_must_be_host_port_unless_relabeled() {
    check(
        &job("static_configs:\n  - targets: ['a:1', 'http://b:2/metrics']"),
        Err(&["4:26: \"http://b:2/metrics\" is not a valid hostname"]),
    );
    check(
        &job("static_configs:\n  - targets: ['http://b:2/metrics']\nrelabel_configs:\n  \
             - {source_labels: [__address__], target_label: __param_target}"),
        Ok(()),
    );
}

#[test]
fn scheme_metrics_path_and_protocols_are_checked() {
    check(&job("scheme: https"), Ok(()));
    check(
        &job("scheme: ftp"),
        Err(&[
            "3:13: scrape_configs[0].scheme: invalid scheme \"ftp\": must be \"http\" or \"https\"",
        ]),
    );
    check(
        &job("metrics_path: /probe?module=x"),
        Err(&["3:5: metrics_path must not contain a query string: use params"]),
    );
    check(
        &job("scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]"),
        Err(&["3:23: scrape_configs[0].scrape_protocols: duplicated protocol in \
               scrape_protocols, got [PrometheusText0.0.4 PrometheusText0.0.4]"]),
    );
    check(
        &job("fallback_scrape_protocol: PrometheusText1.0.0\nparams: {module: [http_2xx]}"),
        Ok(()),
    );
}

#[test]
fn durations_and_sizes_report_their_position() {
    check(
        &job("scrape_interval: 10"),
        Err(&["3:22: scrape_configs[0].scrape_interval: not a valid duration string: \"10\""]),
    );
    check(
        &job("body_size_limit: 10 MB"),
        Err(&["3:22: scrape_configs[0].body_size_limit: invalid size \"10 MB\": unknown \
               unit \" MB\" (use B, KB, MB, GB, TB, PB or EB)"]),
    );
}

#[test]
fn file_sd_paths_are_checked_and_joined_to_the_config_dir() {
    check(
        &job("file_sd_configs:\n  - files: [targets/*.json, 'b.txt']\n  - files: []"),
        Err(&[
            "4:33: path name \"b.txt\" is not valid for file discovery",
            "5:9: file service discovery config must contain at least one path name",
        ]),
    );
    let yaml = job("file_sd_configs:\n  - files: [targets/*.json, /abs/x.yml]");
    let loaded = load_str_with_env(&yaml, "/etc/tern/tern.yml", &no_env).unwrap();
    let sd = &loaded.config.scrape_configs[0].file_sd_configs[0];
    assert_eq!(sd.files, ["/etc/tern/targets/*.json", "/abs/x.yml"]);
    assert_eq!(sd.refresh_interval, S(300));
}

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
fn all_problems_are_reported_in_position_order() {
    check(
        "scrape_configs:
  - job_name: a
    scrape_interval: 5s
    scrape_timeout: 6s
  - job_name: a
    bearer_token: t
    bearer_token_file: f
remote_write:
  - url: ftp://x
",
        Err(&[
            "4:5: scrape timeout greater than scrape interval for scrape config with job name \"a\"",
            "5:5: found multiple scrape configs with job name \"a\"",
            "7:5: at most one of bearer_token & bearer_token_file must be configured",
            "9:5: remote_write url must start with http:// or https://",
        ]),
    );
}

const RW: &str = "remote_write:\n  - url: https://aps.example/api/v1/remote_write\n";

fn rw(extra: &str) -> String {
    let mut yaml = RW.to_owned();
    for line in extra.lines() {
        yaml.push_str("    ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
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
        Err(&["3:20: remote_write[0].queue_config: unknown field `max_shard`, expected one of \
               `capacity`, `max_shards`, `min_shards`, `max_samples_per_send`, \
               `batch_send_deadline`, `min_backoff`, `max_backoff`, `retry_on_http_429`, \
               `sample_age_limit`"]),
    );
}

#[test]
fn external_labels_expand_environment_variables() {
    let env = |name: &str| (name == "REGION").then(|| "eu-west-1".to_owned());
    let yaml = "global:\n  external_labels:\n    region: $REGION\n    az: ${AZ}\n    cost: $$5\n";
    let loaded = load_str_with_env(yaml, FILE, &env).unwrap();
    let labels = &loaded.config.global.external_labels;
    assert_eq!(labels["region"], "eu-west-1");
    assert_eq!(labels["az"], "");
    assert_eq!(labels["cost"], "$5");
    assert_eq!(
        loaded.warnings,
        [format!(
            "{FILE}:4:5: external label \"az\": environment variable \"AZ\" is empty or unset"
        )]
    );
}

#[test]
fn relative_file_paths_are_joined_to_the_config_dir() {
    let yaml = job("basic_auth: {username: u, password_file: secrets/pw}\n\
         tls_config: {ca_file: /etc/ca.pem, cert_file: c.pem, key_file: k.pem}")
        + "remote_write:\n  - url: http://r\n    bearer_token_file: tok\n";
    let loaded = load_str_with_env(&yaml, "/etc/tern/tern.yml", &no_env).unwrap();
    let h = &loaded.config.scrape_configs[0].http_client;
    let pw = h.basic_auth.as_ref().unwrap().password_file.as_deref();
    assert_eq!(pw, Some(Path::new("/etc/tern/secrets/pw")));
    assert_eq!(h.tls_config.ca_file.as_deref(), Some(Path::new("/etc/ca.pem")));
    assert_eq!(h.tls_config.key_file.as_deref(), Some(Path::new("/etc/tern/k.pem")));
    let auth = loaded.config.remote_write[0].http_client.authorization.as_ref().unwrap();
    assert_eq!(auth.credentials_file.as_deref(), Some(Path::new("/etc/tern/tok")));
}

#[test]
fn secrets_never_show_in_debug_output() {
    let yaml =
        job("basic_auth: {username: u, password: pw-1}\ntls_config: {cert: c, key: key-2}\n\
         proxy_url: http://p\nproxy_connect_header: {X-T: [hdr-3]}")
            + "remote_write:\n  - url: http://r\n    authorization: {credentials: cred-4}\n    \
         sigv4: {access_key: a, secret_key: sk-5}\n";
    // sigv4 together with authorization is an error, so check the two halves.
    let (scrape, remote) = yaml.split_at(yaml.find("remote_write").unwrap());
    let remote_a = remote.replace("    sigv4: {access_key: a, secret_key: sk-5}\n", "");
    let remote_b = remote.replace("    authorization: {credentials: cred-4}\n", "");
    for text in [scrape.to_owned() + &remote_a, remote_b] {
        let debug = format!("{:?}", config(&text));
        for secret in ["pw-1", "key-2", "hdr-3", "cred-4", "sk-5"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }
}

#[test]
fn equal_configs_compare_equal_job_by_job() {
    let a = config(&job("scrape_interval: 10s").add("  - job_name: k\n"));
    let b = config(&job("scrape_interval: 10s").add("  - job_name: k\n"));
    let c = config(&job("scrape_interval: 20s").add("  - job_name: k\n"));
    assert_eq!(a, b);
    assert_ne!(a.scrape_configs[0], c.scrape_configs[0]);
    assert_eq!(a.scrape_configs[1], c.scrape_configs[1]);
}

#[test]
fn summary_counts_jobs_targets_and_endpoints() {
    let yaml = "scrape_configs:
  - job_name: a
    static_configs: [{targets: [x, y]}, {targets: [z]}]
  - job_name: b
    file_sd_configs: [{files: [t.json]}]
remote_write:
  - url: http://r
";
    assert_eq!(
        load_ok(yaml).summary(),
        "test.yml: OK: 2 scrape configs, 3 static targets, 1 file_sd config, 1 remote_write endpoint"
    );
    assert_eq!(
        config("").summary(),
        "0 scrape configs, 0 static targets, 0 file_sd configs, 0 remote_write endpoints"
    );
}

#[test]
fn errors_display_file_line_column() {
    let err =
        load_str_with_env("scrape_configs:\n  - job_name: a\n    bogus: 1\n", "cfg/p.yml", &no_env)
            .unwrap_err();
    assert_eq!(
        err.to_string().lines().next().unwrap(),
        "cfg/p.yml:3:5: scrape_configs[0]: unknown field `bogus`, expected one of `job_name`, \
         `scrape_interval`, `scrape_timeout`, `scrape_protocols`, `fallback_scrape_protocol`, \
         `metrics_path`, `scheme`, `params`, `honor_labels`, `honor_timestamps`, \
         `track_timestamps_staleness`, `enable_compression`, `body_size_limit`, `sample_limit`, \
         `label_limit`, `label_name_length_limit`, `label_value_length_limit`, `target_limit`, \
         `keep_dropped_targets`, `scrape_classic_histograms`, `native_histogram_bucket_limit`, \
         `native_histogram_min_bucket_factor`, `static_configs`, `file_sd_configs`, \
         `kubernetes_sd_configs`, `relabel_configs`, `metric_relabel_configs`, `basic_auth`, \
         `authorization`, `oauth2`, `bearer_token`, `bearer_token_file`, `tls_config`, \
         `proxy_url`, `no_proxy`, `proxy_from_environment`, `proxy_connect_header`, \
         `http_headers`, `follow_redirects`, `enable_http2`, `azure_sd_configs`, \
         `consul_sd_configs`, `digitalocean_sd_configs`, `docker_sd_configs`, \
         `dockerswarm_sd_configs`, `dns_sd_configs`, `ec2_sd_configs`, `eureka_sd_configs`, \
         `gce_sd_configs`, `hetzner_sd_configs`, `http_sd_configs`, `ionos_sd_configs`, \
         `kuma_sd_configs`, `lightsail_sd_configs`, `linode_sd_configs`, `marathon_sd_configs`, \
         `nerve_sd_configs`, `nomad_sd_configs`, `openstack_sd_configs`, `ovhcloud_sd_configs`, \
         `puppetdb_sd_configs`, `scaleway_sd_configs`, `serverset_sd_configs`, \
         `stackit_sd_configs`, `triton_sd_configs`, `uyuni_sd_configs`, `vultr_sd_configs`"
    );
    let err = load("/nonexistent/tern.yml").unwrap_err();
    assert!(
        err.to_string().starts_with("/nonexistent/tern.yml:0:0: cannot read config file:"),
        "{err}"
    );
    let err = load_str_with_env("scrape_configs: [\n", FILE, &no_env).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(err.to_string().starts_with("test.yml:2:1: "), "{err}");
}
