//! Jobs: defaults, inheritance from `global`, targets and their checks.

use super::*;

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
        &("global:\n  scrape_interval: 10s\n  scrape_timeout: 5s\n".to_owned()
            + &job("scrape_timeout: 20s")),
        Err(&[
            "6:5: scrape timeout greater than scrape interval for scrape config with job name \"j\"",
        ]),
    );
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
fn relabel_rules_are_checked_where_written() {
    check(
        &job("relabel_configs:\n  - {action: hashmod, target_label: t}\n  - regex: '(a'\n\
              metric_relabel_configs:\n  - {action: keep, regex: 'go_.*'}"),
        Err(&[
            "4:9: relabel configuration for hashmod requires non-zero modulus",
            "5:9: error parsing regexp \"(a\": unclosed group",
        ]),
    );
    check(
        &rw("write_relabel_configs:\n  - {action: labeldrop, regex: x, target_label: y}"),
        Err(&["4:9: labeldrop action requires only 'regex', and no other fields"]),
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
