//! `tern hostmetrics` against Debian's `prometheus-node-exporter` 1.5 on the
//! same machine, for every collector tern implements.
//!
//! node_exporter runs on 127.0.0.1 with exactly tern's collectors enabled
//! (`--collector.disable-defaults --collector.<name>...`), upstream 1.5.0's
//! filesystem mount-point and netdev device excludes (Debian's package
//! patches both) and the same textfile directory; it is scraped once before and once after `tern
//! hostmetrics` runs, so each moving value of tern's must lie between the two
//! readings, widened by a tolerance that fits the metric:
//!
//! | metrics | tolerance |
//! |---|---|
//! | static: `node_uname_info`, `node_os_*`, `node_boot_time_seconds`, memory totals (`*Total*`, `Hugepagesize`, `CommitLimit`), filesystem sizes, inode totals and flags, clock sources, time zone, info series, limits/maxima, textfile series and mtimes, collector success | exact |
//! | `node_time_seconds` | ±1 s around the bracket |
//! | `node_load1/5/15` | ±1.0 |
//! | `node_procs_running`, `node_procs_blocked`, `node_sockstat_*`, `node_filefd_allocated`, `node_nf_conntrack_entries`, `node_entropy_available_bits` | ±10 % + 64 |
//! | other gauges (memory, filesystem free/avail, ...) | ±10 % + 16 MiB |
//! | counters | −1 % … +1 % + 100 (they only grow between the readings) |
//! | `node_scrape_collector_duration_seconds` | presence only |
//!
//! Names, TYPE, HELP and label sets must match exactly: every node_exporter
//! series of these collectors is in tern's output and tern has none that
//! node_exporter lacks. Coverage per collector is printed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use support::{free_port, spawn_quiet, wait_for_200};
use tern::exposition::{group_families, Format, MetricType, Parser};

type Key = (String, Vec<(String, String)>);

struct Scrape {
    values: BTreeMap<Key, f64>,
    /// family name -> (type, help)
    meta: BTreeMap<String, (MetricType, String)>,
}

fn parse(body: &[u8]) -> Scrape {
    let families = group_families(Parser::new(Format::Text, body))
        .unwrap_or_else(|e| panic!("body does not parse: {e}"));
    let mut values = BTreeMap::new();
    let mut meta = BTreeMap::new();
    for f in families {
        if ignored(&f.name) {
            continue;
        }
        meta.insert(f.name.to_string(), (f.kind, f.help.as_deref().unwrap_or("").to_owned()));
        for s in &f.samples {
            let mut labels: Vec<(String, String)> =
                s.labels().map(|l| (l.name.into_owned(), l.value.into_owned())).collect();
            labels.sort();
            values.insert((s.name.to_string(), labels), s.value);
        }
    }
    Scrape { values, meta }
}

/// node_exporter's own process and HTTP metrics, not a collector's.
fn ignored(name: &str) -> bool {
    ["go_", "process_", "promhttp_", "node_exporter_build_info"].iter().any(|p| name.starts_with(p))
}

/// The collector a series belongs to.
fn collector_of(key: &Key) -> String {
    let name = key.0.as_str();
    if name.starts_with("node_scrape_collector_") {
        let c = key.1.iter().find(|(n, _)| n == "collector").map(|(_, v)| v.as_str());
        return c.unwrap_or("?").to_owned();
    }
    let table: &[(&str, &str)] = &[
        ("node_cpu_", "cpu"),
        ("node_boot_time_seconds", "stat"),
        ("node_context_switches_total", "stat"),
        ("node_forks_total", "stat"),
        ("node_intr_total", "stat"),
        ("node_procs_", "stat"),
        ("node_memory_", "meminfo"),
        ("node_load", "loadavg"),
        ("node_uname_", "uname"),
        ("node_os_", "os"),
        ("node_time_", "time"),
        ("node_textfile_", "textfile"),
        ("tern_test_", "textfile"),
        ("node_filesystem_", "filesystem"),
        ("node_disk_", "diskstats"),
        ("node_network_", "netdev"),
        ("node_netstat_", "netstat"),
        ("node_sockstat_", "sockstat"),
        ("node_vmstat_", "vmstat"),
        ("node_filefd_", "filefd"),
        ("node_pressure_", "pressure"),
        ("node_entropy_", "entropy"),
        ("node_nf_conntrack_", "conntrack"),
    ];
    table
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map(|(_, c)| (*c).to_owned())
        .unwrap_or_else(|| "?".into())
}

enum Tolerance {
    Exact,
    PresenceOnly,
    Absolute(f64),
    /// relative, absolute
    Gauge(f64, f64),
    Counter,
}

fn tolerance(name: &str, kind: MetricType) -> Tolerance {
    let exact_prefixes = [
        "node_uname_info",
        "node_os_",
        "node_boot_time_seconds",
        "node_time_clocksource",
        "node_time_zone_offset_seconds",
        "node_filesystem_size_bytes",
        "node_filesystem_files",
        "node_filesystem_readonly",
        "node_filesystem_device_error",
        "node_textfile_",
        "tern_test_",
        "node_scrape_collector_success",
        "node_disk_info",
        "node_entropy_pool_size_bits",
        "node_filefd_maximum",
        "node_nf_conntrack_entries_limit",
        "node_cpu_isolated",
    ];
    if name == "node_filesystem_files_free" {
        return Tolerance::Gauge(0.10, 64.0);
    }
    if exact_prefixes.iter().any(|p| name.starts_with(p))
        || (name.starts_with("node_memory_")
            && (name.contains("Total")
                || name.contains("Hugepagesize")
                || name.contains("CommitLimit")))
    {
        return Tolerance::Exact;
    }
    match name {
        "node_scrape_collector_duration_seconds" => Tolerance::PresenceOnly,
        "node_time_seconds" => Tolerance::Absolute(1.0),
        "node_load1" | "node_load5" | "node_load15" => Tolerance::Absolute(1.0),
        _ if name.starts_with("node_procs_")
            || name.starts_with("node_sockstat_")
            || name == "node_filefd_allocated"
            || name == "node_nf_conntrack_entries"
            || name == "node_entropy_available_bits" =>
        {
            Tolerance::Gauge(0.10, 64.0)
        }
        _ if kind == MetricType::Counter => Tolerance::Counter,
        _ => Tolerance::Gauge(0.10, 16.0 * 1024.0 * 1024.0),
    }
}

/// Whether tern's `v` fits between node_exporter's readings `a` and `b`.
fn fits(tol: &Tolerance, a: f64, b: f64, v: f64) -> bool {
    let (lo, hi) = (a.min(b), a.max(b));
    match *tol {
        Tolerance::PresenceOnly => true,
        Tolerance::Exact => v == a && v == b || (v.is_nan() && a.is_nan()),
        Tolerance::Absolute(d) => v >= lo - d && v <= hi + d,
        Tolerance::Gauge(rel, abs) => {
            let d = rel * hi.abs() + abs;
            v >= lo - d && v <= hi + d
        }
        Tolerance::Counter => v >= lo - 0.01 * lo.abs() && v <= hi + 0.01 * hi.abs() + 100.0,
    }
}

fn textfile_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    w(
        "good.prom",
        "# HELP tern_test_jobs_total Jobs run.\n# TYPE tern_test_jobs_total counter\n\
         tern_test_jobs_total{kind=\"a\"} 3\ntern_test_jobs_total{kind=\"b\",extra=\"x\"} 4\n\
         # TYPE tern_test_latency_seconds histogram\n\
         tern_test_latency_seconds_bucket{le=\"0.5\"} 1\ntern_test_latency_seconds_bucket{le=\"+Inf\"} 2\n\
         tern_test_latency_seconds_sum 1.5\ntern_test_latency_seconds_count 2\n\
         tern_test_untyped 7\n",
    );
    // Same family, another HELP: node_exporter's gatherer drops these series.
    w(
        "help_conflict.prom",
        "# HELP tern_test_jobs_total Other help.\n# TYPE tern_test_jobs_total counter\n\
         tern_test_jobs_total{kind=\"c\"} 5\n",
    );
    w("bad.prom", "tern_test_broken{ 1\n");
    w("stamped.prom", "tern_test_stamped 1 1700000000000\n");
    w("ignored.txt", "tern_test_ignored 1\n");
    dir
}

#[test]
fn tern_hostmetrics_matches_node_exporter_for_every_implemented_collector() {
    let collectors = tern::hostmetrics::names();
    let textfiles = textfile_dir();
    let dir_arg = textfiles.path().display().to_string();
    let port = free_port();
    let mut args = vec![
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--collector.disable-defaults".to_owned(),
        format!("--collector.textfile.directory={dir_arg}"),
        // Debian patches these two defaults (its log says so); tern keeps
        // upstream 1.5.0's, so the reference runs with upstream's values.
        "--collector.filesystem.mount-points-exclude=^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)".to_owned(),
        "--collector.netdev.device-exclude=".to_owned(),
    ];
    args.extend(collectors.iter().map(|c| format!("--collector.{c}")));
    let _exporter = spawn_quiet("prometheus-node-exporter", &args);
    let text = "text/plain;version=0.0.4";
    let (_, first) = wait_for_200(port, "/metrics", text, 20);

    let output = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["hostmetrics", "--collector.textfile.directory", &dir_arg])
        .output()
        .expect("run tern hostmetrics");
    assert!(
        output.status.success(),
        "tern hostmetrics failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (_, second) = wait_for_200(port, "/metrics", text, 20);

    let ne1 = parse(&first);
    let ne2 = parse(&second);
    let tern = parse(&output.stdout);

    let mut problems = Vec::new();
    // Metadata: same TYPE and HELP for every family either side has.
    let families: BTreeSet<&String> = ne1.meta.keys().chain(tern.meta.keys()).collect();
    for name in families {
        match (ne1.meta.get(name), tern.meta.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => problems.push(format!("family {name}: node_exporter {a:?}, tern {b:?}")),
        }
    }
    // Series: the same set (node_exporter's first reading; a series that
    // appeared or went away between its two readings is not held against tern).
    let mut coverage: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (key, &a) in &ne1.values {
        let entry = coverage.entry(collector_of(key)).or_default();
        entry.1 += 1;
        let Some(&b) = ne2.values.get(key) else { continue };
        let Some(&v) = tern.values.get(key) else {
            problems.push(format!("missing in tern: {key:?} (node_exporter {a})"));
            continue;
        };
        let kind = ne1
            .meta
            .get(&key.0)
            .or_else(|| family_of(&ne1, &key.0))
            .map(|m| m.0)
            .unwrap_or(MetricType::Unknown);
        let tol = tolerance(&key.0, kind);
        if fits(&tol, a, b, v) {
            entry.0 += 1;
        } else {
            problems.push(format!("value of {key:?}: tern {v}, node_exporter {a} then {b}"));
        }
    }
    for key in tern.values.keys() {
        if !ne1.values.contains_key(key) && !ne2.values.contains_key(key) {
            problems.push(format!("tern has a series node_exporter lacks: {key:?}"));
        }
    }
    println!("coverage per collector (series matched / node_exporter series):");
    for (collector, (matched, total)) in &coverage {
        println!("  {collector:<12} {matched:>4} / {total:<4}");
    }
    let unknown = coverage.get("?").map(|c| c.1).unwrap_or(0);
    assert_eq!(unknown, 0, "series of no known collector");
    for c in &collectors {
        if *c != "conntrack" && *c != "pressure" {
            assert!(coverage.get(*c).is_some_and(|x| x.1 > 0), "no node_exporter series for {c}");
        }
    }
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
    // The textfile collector saw the bad files as node_exporter did.
    let scrape_error = (String::from("node_textfile_scrape_error"), vec![]);
    assert_eq!(tern.values.get(&scrape_error), Some(&1.0));
}

/// The family of a histogram or summary sample (`x_bucket` belongs to `x`).
fn family_of<'a>(s: &'a Scrape, sample: &str) -> Option<&'a (MetricType, String)> {
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| s.meta.get(sample.strip_suffix(suffix)?))
}
