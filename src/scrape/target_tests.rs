use super::*;
use crate::config;

fn job(extra: &str) -> ScrapeJob {
    let yaml = format!(
        "global: {{scrape_interval: 15s, scrape_timeout: 10s}}\nscrape_configs:\n  - job_name: node\n{extra}"
    );
    let loaded = config::load_str(&yaml, std::path::Path::new("test.yml")).expect("config loads");
    ScrapeJob::try_new(&loaded.config.scrape_configs[0]).expect("job builds")
}

fn one(job: &ScrapeJob, pairs: &[(&str, &str)]) -> Populated {
    populate(job, Labels::from_pairs(pairs.iter().copied()).builder())
}

#[track_caller]
fn active(p: Populated) -> Target {
    match p {
        Populated::Active(t) => t,
        other => panic!("not active: {other:?}"),
    }
}

#[test]
fn defaults_give_job_instance_and_url() {
    let t = active(one(&job(""), &[("__address__", "h:9100"), ("__meta_x", "m"), ("team", "a")]));
    assert_eq!(t.labels.to_string(), r#"{instance="h:9100", job="node", team="a"}"#);
    assert_eq!(t.url, "http://h:9100/metrics");
    assert_eq!((t.interval, t.timeout), (Duration::from_secs(15), Duration::from_secs(10)));
    assert_eq!(t.discovered.get("__meta_x"), Some("m"));
    assert_eq!(t.discovered.get("__scrape_interval__"), Some("15s"));
    assert_eq!(t.full_labels.get("__meta_x"), None);
    assert_eq!(t.full_labels.get("__metrics_path__"), Some("/metrics"));
}

#[test]
fn a_missing_port_is_added_from_the_scheme() {
    let t = active(one(&job(""), &[("__address__", "host")]));
    assert_eq!(
        (t.labels.get("instance"), t.url.as_str()),
        (Some("host:80"), "http://host:80/metrics")
    );
    let t = active(one(&job("    scheme: https\n"), &[("__address__", "host")]));
    assert_eq!(t.labels.get("instance"), Some("host:443"));
    let t = active(one(&job(""), &[("__address__", "[::1]")]));
    assert_eq!(t.labels.get("instance"), Some("[::1]:80"));
}

#[test]
fn params_and_param_labels_build_the_query() {
    let j =
        job("    metrics_path: /probe\n    params:\n      module: [http_2xx]\n      x: [a, b]\n");
    let t = active(one(&j, &[("__address__", "h:1")]));
    assert_eq!(t.url, "http://h:1/probe?module=http_2xx&x=a&x=b");
    // Discovered `__param_*` labels are overwritten by `params`, relabeling wins.
    let j = job(concat!(
        "    metrics_path: /probe\n    params:\n      module: [http_2xx]\n      x: [a, b]\n",
        "    relabel_configs:\n      - {target_label: __param_module, replacement: icmp}\n",
    ));
    let t = active(one(
        &j,
        &[("__address__", "h:1"), ("__param_module", "tcp"), ("__param_target", "e.com")],
    ));
    assert_eq!(t.url, "http://h:1/probe?module=icmp&target=e.com&x=a&x=b");
}

#[test]
fn relabeling_can_drop_a_target_which_keeps_its_discovered_labels() {
    let j = job(
        "    relabel_configs:\n      - {source_labels: [__meta_keep], regex: 'no', action: drop}\n",
    );
    match one(&j, &[("__address__", "h:1"), ("__meta_keep", "no")]) {
        Populated::Dropped(d) => {
            assert_eq!(d.discovered.get("__meta_keep"), Some("no"));
            assert_eq!(d.discovered.get("job"), Some("node"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn relabeled_instance_interval_and_address_are_used() {
    let j = job(concat!(
        "    relabel_configs:\n",
        "      - {target_label: instance, replacement: my-host}\n",
        "      - {target_label: __scrape_interval__, replacement: 1m}\n",
        "      - {source_labels: [__address__], target_label: __address__, replacement: '${1}0'}\n",
    ));
    let t = active(one(&j, &[("__address__", "h:1")]));
    assert_eq!(t.labels.get("instance"), Some("my-host"));
    assert_eq!(t.interval, Duration::from_secs(60));
    assert_eq!(t.url, "http://h:10/metrics");
}

#[test]
fn invalid_targets_fail_with_prometheus_errors() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], TargetError);
    let cases: [Case; 5] = [
        ("", &[("x", "y")], TargetError::NoAddress),
        ("", &[("__address__", "h:1/path")], TargetError::InvalidAddress("h:1/path".into())),
        (
            "    relabel_configs: [{target_label: __scrape_interval__, replacement: '0s'}]\n",
            &[("__address__", "h:1")],
            TargetError::ZeroInterval,
        ),
        (
            "    relabel_configs: [{target_label: __scrape_timeout__, replacement: '1m'}]\n",
            &[("__address__", "h:1")],
            TargetError::TimeoutOverInterval("1m".into(), "15s".into()),
        ),
        (
            "    relabel_configs: [{target_label: __scheme__, replacement: 'ftp'}]\n",
            &[("__address__", "h")],
            TargetError::InvalidScheme("ftp".into()),
        ),
    ];
    for (extra, labels, want) in cases {
        match one(&job(extra), labels) {
            Populated::Failed { error, .. } => assert_eq!(error, want),
            other => panic!("{labels:?}: {other:?}"),
        }
    }
}

#[test]
fn group_labels_sit_under_target_labels() {
    let group = TargetGroup {
        source: "0".into(),
        targets: vec![Labels::from_pairs([("__address__", "a:1"), ("env", "t")])],
        labels: Labels::from_pairs([("env", "g"), ("dc", "x")]),
    };
    let t = active(populate_group(&job(""), &group).remove(0));
    assert_eq!(t.labels.to_string(), r#"{dc="x", env="t", instance="a:1", job="node"}"#);
}

#[test]
fn the_hash_is_stable_and_depends_on_labels_and_url() {
    let j = job("");
    let a = active(one(&j, &[("__address__", "h:1")]));
    let b = active(one(&j, &[("__address__", "h:1")]));
    let c = active(one(&j, &[("__address__", "h:2")]));
    assert_eq!(a.hash, b.hash);
    assert_ne!(a.hash, c.hash);
}
