//! Loading whole documents: defaults, inheritance, and every check with its
//! position. Expected errors are written `LINE:COL: message` (the file name,
//! `test.yml`, is checked once in `errors_display_file_line_column`).

use super::*;
use std::time::Duration;

mod clients;
mod jobs;
mod kubernetes;

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
fn unknown_keys_name_their_path_and_position() {
    check(
        "global:\n  scrape_interval: 15s\nscrape_config:\n  - job_name: a\n",
        Err(&["3:1: unknown field `scrape_config` (did you mean `scrape_configs`?), expected one of `global`, \
               `scrape_config_files`, `scrape_configs`, `remote_write`, `rule_files`, \
               `alerting`, `remote_read`, `storage`, `tracing`, `otlp`, `runtime`, `wal`, `host_metrics`"]),
    );
    check(
        &job("static_configs:\n  - target: ['a:1']"),
        Err(&["4:9: scrape_configs[0].static_configs[0]: unknown field `target` \
               (did you mean `targets`?), expected `targets` or `labels`"]),
    );
    check(
        &job("basic_auth:\n  user: u"),
        Err(&["4:7: scrape_configs[0].basic_auth: unknown field `user`, expected one of \
               `username`, `username_file`, `password`, `password_file`"]),
    );
    check(
        "global:\n  scrape_intervall: 1m\n",
        Err(&["2:3: global: unknown field `scrape_intervall` (did you mean `scrape_interval`?), expected one of \
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
    let a = config(&(job("scrape_interval: 10s") + "  - job_name: k\n"));
    let b = config(&(job("scrape_interval: 10s") + "  - job_name: k\n"));
    let c = config(&(job("scrape_interval: 20s") + "  - job_name: k\n"));
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
fn scrape_config_files_patterns_are_checked() {
    check(
        "scrape_config_files:\n  - jobs/*/x.yml\n",
        Err(&["2:5: invalid scrape config file path \"jobs/*/x.yml\""]),
    );
    let loaded =
        load_str_with_env("scrape_config_files:\n  - /nonexistent-tern-dir/*.yml\n", FILE, &no_env)
            .unwrap();
    assert_eq!(
        loaded.warnings,
        [format!(
            "{FILE}:2:5: scrape_config_files pattern \"/nonexistent-tern-dir/*.yml\" matches no files"
        )]
    );
    assert_eq!(loaded.config.scrape_config_files, ["/nonexistent-tern-dir/*.yml"]);
}

#[test]
fn null_and_misplaced_sections_say_what_was_expected() {
    check(
        "scrape_configs:\n  - job_name: a\n  - null\n",
        Err(&["3:5: scrape_configs[1]: invalid type: unit value, expected a scrape config \
               (a mapping with job_name)"]),
    );
    check(
        "remote_write:\n  - http://x\n",
        Err(&["2:5: remote_write[0]: invalid type: string \"http://x\", expected a \
               remote_write endpoint (a mapping with url)"]),
    );
    check(
        "- job_name: a\n",
        Err(&["1:1: invalid type: sequence, expected a mapping of prometheus.yml sections"]),
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
         `http_headers`, `follow_redirects`, `enable_http2`"
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
