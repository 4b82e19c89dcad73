//! Loading real prometheus.yml files from disk: a realistic production file,
//! Prometheus' own example, `scrape_config_files`, and a misspelled key.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tern::config::{self, ByteSize, Scheme, ScrapeProtocol, TlsVersion};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config").join(name)
}

#[test]
fn realistic_prometheus_yml_loads_with_warnings_for_unused_blocks() {
    let path = fixture("prometheus.yml");
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let file = path.display();
    assert_eq!(
        loaded.warnings,
        [
            format!("{file}:10:1: rule_files is not used by tern (an agent) and is ignored"),
            format!("{file}:13:1: alerting is not used by tern (an agent) and is ignored"),
        ]
    );
    let c = &loaded.config;
    assert_eq!(c.global.scrape_interval, Duration::from_secs(30));
    assert_eq!(c.global.external_labels["cluster"], "prod-eu-1");

    let [node, services, app] = &c.scrape_configs[..] else {
        panic!("three jobs, got {}", c.scrape_configs.len())
    };
    assert_eq!(node.job_name, "node");
    assert_eq!(
        (node.scrape_interval, node.scrape_timeout),
        (Duration::from_secs(15), Duration::from_secs(10))
    );
    assert_eq!(node.static_target_count(), 3);
    assert_eq!(node.static_configs[0].labels["team"], "platform");
    assert_eq!(node.relabel_configs.len(), 4);
    assert_eq!(node.metric_relabel_configs.len(), 2);
    assert_eq!(node.scrape_protocols, ScrapeProtocol::DEFAULT);

    let sd = &services.file_sd_configs[0];
    let dir = path.parent().unwrap();
    let joined = |p: &str| dir.join(p).to_string_lossy().into_owned();
    assert_eq!(sd.files, [joined("targets/*.json"), joined("targets/*.yml")]);
    assert_eq!(sd.refresh_interval, Duration::from_secs(60));

    assert_eq!(app.scheme, Scheme::Https);
    assert_eq!(app.metrics_path, "/internal/metrics");
    assert_eq!(app.params["format"], ["prometheus"]);
    assert!(app.honor_labels);
    assert_eq!((app.sample_limit, app.body_size_limit), (50_000, ByteSize(20 << 20)));
    let auth = app.http_client.basic_auth.as_ref().unwrap();
    assert_eq!(auth.username, "prometheus");
    assert_eq!(auth.password_file.as_deref(), Some(dir.join("secrets/app-password").as_path()));
    let tls = &app.http_client.tls_config;
    assert_eq!(tls.ca_file.as_deref(), Some(Path::new("/etc/prometheus/ca.pem")));
    assert_eq!(tls.server_name.as_deref(), Some("app.internal"));
    assert_eq!(tls.min_version, Some(TlsVersion::Tls12));

    let [amp] = &c.remote_write[..] else { panic!("one remote_write endpoint") };
    assert_eq!(amp.name.as_deref(), Some("amp"));
    let sigv4 = amp.sigv4.as_ref().unwrap();
    assert_eq!(sigv4.region.as_deref(), Some("eu-west-1"));
    assert!(sigv4.role_arn.is_some() && sigv4.access_key.is_none());
    let q = &amp.queue_config;
    assert_eq!(
        (q.capacity, q.max_shards, q.min_shards, q.max_samples_per_send),
        (20_000, 100, 1, 5_000)
    );
    assert_eq!(
        (q.batch_send_deadline, q.min_backoff),
        (Duration::from_secs(10), Duration::from_millis(100))
    );
    assert_eq!(amp.metadata_config.send_interval, Duration::from_secs(120));
    assert_eq!(amp.write_relabel_configs.len(), 1);

    assert_eq!(
        loaded.summary(),
        format!("{file}: OK: 3 scrape configs, 4 static targets, 1 file_sd config, 1 remote_write endpoint")
    );
}

#[test]
fn prometheus_documentation_example_loads_unchanged() {
    let loaded =
        config::load(fixture("prometheus-docs-example.yml")).unwrap_or_else(|e| panic!("{e}"));
    let c = &loaded.config;
    assert_eq!(c.global.scrape_interval, Duration::from_secs(15));
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
    let job = &c.scrape_configs[0];
    assert_eq!(job.job_name, "prometheus");
    assert_eq!(job.static_configs[0].targets, ["localhost:9090"]);
    assert_eq!(job.static_configs[0].labels["label_name"], "label value");
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings); // alerting, rule_files
}

#[test]
fn scrape_config_files_are_globbed_relative_to_the_config_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    };
    let main = write(
        "prometheus.yml",
        "global:\n  scrape_interval: 20s\nscrape_config_files:\n  - jobs/*.yml\n\
         scrape_configs:\n  - job_name: main\n",
    );
    write(
        "jobs/a.yml",
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password_file: pw}\n",
    );
    write("jobs/b.yml", "scrape_configs:\n  - job_name: b\n    scrape_interval: 5s\n");
    write("jobs/ignored.json", "not yaml at all: [");

    let loaded = config::load(&main).unwrap_or_else(|e| panic!("{e}"));
    let jobs: Vec<_> = loaded.config.scrape_configs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(jobs, ["main", "a", "b"]);
    let [_, a, b] = &loaded.config.scrape_configs[..] else { unreachable!() };
    // Globals apply to jobs from other files; their paths are relative to their own file.
    assert_eq!(a.scrape_interval, Duration::from_secs(20));
    assert_eq!(
        (b.scrape_interval, b.scrape_timeout),
        (Duration::from_secs(5), Duration::from_secs(5))
    );
    let pw = a.http_client.basic_auth.as_ref().unwrap().password_file.clone();
    assert_eq!(pw, Some(dir.path().join("jobs/pw")));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

    // Job names are unique across files, and errors name the file they are in.
    let b_path =
        write("jobs/b.yml", "scrape_configs:\n  - job_name: a\n  - job_name: c\n    bogus: 1\n");
    let errors = config::load(&main).unwrap_err().to_string();
    let b_file = b_path.display();
    assert!(
        errors.contains(&format!("{b_file}:4:5: scrape_configs[1]: unknown field `bogus`")),
        "{errors}"
    );
    write("jobs/b.yml", "scrape_configs:\n  - job_name: a\n");
    let errors = config::load(&main).unwrap_err().to_string();
    let a_file = dir.path().join("jobs/a.yml");
    assert_eq!(
        errors,
        format!(
            "{b_file}:2:5: found multiple scrape configs with job name \"a\", first found in {:?}",
            a_file.display().to_string()
        )
    );
}

#[test]
fn misspelled_key_is_reported_as_file_line_column() {
    let path = fixture("misspelled.yml");
    let errors = config::load(&path).unwrap_err();
    let text = errors.to_string();
    let want = format!(
        "{}:8:5: scrape_configs[0]: unknown field `scrape_intreval` (did you mean `scrape_interval`?), expected one of ",
        path.display()
    );
    assert!(text.starts_with(&want), "{text}");
    assert_eq!(errors.iter().count(), 1);
    let e = errors.iter().next().unwrap();
    assert_eq!((e.file.as_path(), e.line, e.column), (path.as_path(), 8, 5));
}
