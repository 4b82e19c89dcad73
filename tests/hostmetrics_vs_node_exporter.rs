//! `tern hostmetrics` against Debian's `prometheus-node-exporter` 1.5 on the
//! same machine, for every collector tern implements.
//!
//! node_exporter runs on 127.0.0.1 with exactly tern's collectors enabled
//! (`--collector.disable-defaults --collector.<name>...`), its own (Debian's)
//! defaults for every other flag, and the same textfile directory as tern;
//! it is scraped once before and once after `tern hostmetrics` runs, so each
//! moving value of tern's must lie between the two readings, widened by a
//! tolerance that fits the metric:
//!
//! | metrics | tolerance |
//! |---|---|
//! | static: `node_uname_info`, `node_os_*`, `node_boot_time_seconds`, memory totals (`*Total*`, `Hugepagesize`, `CommitLimit`), filesystem sizes, inode totals and flags, clock sources, time zone, info series, limits/maxima, textfile series and mtimes, collector success | exact |
//! | `node_time_seconds` | ±1 s around the bracket |
//! | `node_load1/5/15` | ±1.0 |
//! | `node_procs_running`, `node_procs_blocked`, `node_sockstat_*`, `node_filefd_allocated`, `node_nf_conntrack_entries`, `node_entropy_available_bits` | ±10 % + 64 |
//! | other gauges (memory, filesystem free/avail, ...) | ±10 % + 64 MiB (machine-wide; other processes move them) |
//! | counters | −1 % … +1 % + 100 (they only grow between the readings) |
//! | `node_scrape_collector_duration_seconds` | presence only |
//!
//! Names, TYPE, HELP and label sets must match exactly: every node_exporter
//! series of these collectors is in tern's output and tern has none that
//! node_exporter lacks. Coverage per collector is printed.
//!
//! Also: tern's defaults are the ones `prometheus-node-exporter --help`
//! prints, and with upstream's values for the flags Debian patches (given to
//! both sides, tern through its config file) the outputs still agree and
//! differ from the defaults' as they should (`lo` in netdev).

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
        _ => Tolerance::Gauge(0.10, 64.0 * 1024.0 * 1024.0),
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

/// Runs node_exporter with `ne_args` (tern's collectors enabled) and tern
/// with `tern_args`, compares them as the module documentation says, and
/// returns tern's output.
fn compare(ne_args: &[String], tern_args: &[String]) -> Scrape {
    // One comparison at a time: the processes of a concurrent one would move
    // the machine-wide gauges (memory, sockets) between the readings.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let collectors = tern::hostmetrics::names();
    let port = free_port();
    let mut args = vec![
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--collector.disable-defaults".to_owned(),
    ];
    args.extend(ne_args.iter().cloned());
    args.extend(collectors.iter().map(|c| format!("--collector.{c}")));
    let _exporter = spawn_quiet("prometheus-node-exporter", &args);
    let text = "text/plain;version=0.0.4";
    let (_, first) = wait_for_200(port, "/metrics", text, 20);

    let output = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("hostmetrics")
        .args(tern_args)
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
    tern
}

/// The `device` label values of `family` in `s`.
fn devices(s: &Scrape, family: &str, label: &str) -> BTreeSet<String> {
    s.values
        .keys()
        .filter(|(name, _)| name == family)
        .flat_map(|(_, labels)| labels.iter().filter(|(n, _)| n == label).map(|(_, v)| v.clone()))
        .collect()
}

#[test]
fn tern_hostmetrics_matches_node_exporter_for_every_implemented_collector() {
    let textfiles = textfile_dir();
    let dir_arg = format!("--collector.textfile.directory={}", textfiles.path().display());
    // Every other flag at its default on both sides: Debian's.
    let tern = compare(std::slice::from_ref(&dir_arg), std::slice::from_ref(&dir_arg));
    // The textfile collector saw the bad files as node_exporter did.
    let scrape_error = (String::from("node_textfile_scrape_error"), vec![]);
    assert_eq!(tern.values.get(&scrape_error), Some(&1.0));
    // Debian's netdev default excludes the loopback device.
    let netdevs = devices(&tern, "node_network_receive_bytes_total", "device");
    assert!(!netdevs.is_empty() && !netdevs.contains("lo"), "{netdevs:?}");
}

/// Upstream node_exporter 1.5's values of the defaults Debian patches.
const UPSTREAM_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

#[test]
fn upstreams_values_set_in_terns_config_change_the_output_as_node_exporters_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tern.yml");
    std::fs::write(
        &config,
        format!(
            "host_metrics:\n  textfile_directory: ''\n  netdev_device_exclude: ''\n  \
             filesystem_mount_points_exclude: '{UPSTREAM_MOUNT_POINTS_EXCLUDE}'\n"
        ),
    )
    .unwrap();
    let ne_args = [
        "--collector.textfile.directory=".to_owned(),
        "--collector.netdev.device-exclude=".to_owned(),
        format!("--collector.filesystem.mount-points-exclude={UPSTREAM_MOUNT_POINTS_EXCLUDE}"),
    ];
    let tern = compare(&ne_args, &["--config".to_owned(), config.display().to_string()]);
    let netdevs = devices(&tern, "node_network_receive_bytes_total", "device");
    assert!(netdevs.contains("lo"), "{netdevs:?}");

    // The same through the CLI flags, and against Debian's defaults: only the
    // loopback device and the mounts under /run, /mnt and /media differ.
    let flags = |upstream: bool| {
        let mut args = vec!["hostmetrics", "--collectors", "netdev,filesystem"];
        if upstream {
            args.extend(["--collector.netdev.device-exclude", ""]);
            args.extend([
                "--collector.filesystem.mount-points-exclude",
                UPSTREAM_MOUNT_POINTS_EXCLUDE,
            ]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_tern")).args(&args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        parse(&out.stdout)
    };
    let (upstream, debian) = (flags(true), flags(false));
    let up = devices(&upstream, "node_network_receive_bytes_total", "device");
    let deb = devices(&debian, "node_network_receive_bytes_total", "device");
    assert_eq!(up, netdevs);
    assert_eq!(up.difference(&deb).collect::<Vec<_>>(), ["lo"]);
    let up = devices(&upstream, "node_filesystem_device_error", "mountpoint");
    let deb = devices(&debian, "node_filesystem_device_error", "mountpoint");
    assert!(deb.is_subset(&up), "{deb:?} / {up:?}");
    let patched = regex::Regex::new("^/(run|mnt|media)($|/)").unwrap();
    for extra in up.difference(&deb) {
        assert!(patched.is_match(extra), "{extra}");
    }
    println!(
        "upstream's excludes add netdev lo and mounts {:?}",
        up.difference(&deb).collect::<Vec<_>>()
    );
}

#[test]
fn terns_defaults_are_the_installed_node_exporters() {
    let out = Command::new("prometheus-node-exporter").arg("--help").output().unwrap();
    let help =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // `--flag="value"`, the value Go-quoted.
    let default = |flag: &str| -> String {
        let start = format!("--{flag}=\"");
        let at = help.find(&start).unwrap_or_else(|| panic!("no default for {flag} in:\n{help}"));
        let rest = &help[at + start.len()..];
        let end =
            rest.find("\"  ").or_else(|| rest.find("\" ")).or_else(|| rest.find("\"\n")).unwrap();
        rest[..end].replace("\\\\", "\\")
    };
    let o = tern::hostmetrics::Options::default();
    use tern::hostmetrics::{netstat, textfile, vmstat};
    for (flag, ours) in [
        ("collector.filesystem.mount-points-exclude", o.filesystem_mount_points_exclude.as_str()),
        ("collector.filesystem.fs-types-exclude", &o.filesystem_fs_types_exclude),
        ("collector.netdev.device-exclude", &o.netdev_device_exclude),
        ("collector.diskstats.device-exclude", &o.diskstats_device_exclude),
        ("collector.textfile.directory", textfile::DEFAULT_DIRECTORY),
        ("collector.netstat.fields", netstat::DEFAULT_FIELDS),
        ("collector.vmstat.fields", vmstat::DEFAULT_FIELDS),
        ("path.procfs", "/proc"),
        ("path.sysfs", "/sys"),
        ("path.rootfs", "/"),
    ] {
        assert_eq!(default(flag), ours, "--{flag}");
    }
    // Flags without a default there have none here either.
    for flag in ["collector.netdev.device-include=", "collector.diskstats.device-include="] {
        assert!(help.contains(&format!("--{flag}COLLECTOR")), "{flag}");
    }
    assert_eq!((o.netdev_device_include.as_str(), o.diskstats_device_include.as_str()), ("", ""));
    // tern's own --help shows the same defaults.
    let ours =
        Command::new(env!("CARGO_BIN_EXE_tern")).args(["hostmetrics", "--help"]).output().unwrap();
    let ours = String::from_utf8_lossy(&ours.stdout);
    for v in [o.filesystem_mount_points_exclude.as_str(), "^lo$", textfile::DEFAULT_DIRECTORY] {
        assert!(ours.contains(&format!("[default: {v}]")), "{v} in:\n{ours}");
    }
}

/// The family of a histogram or summary sample (`x_bucket` belongs to `x`).
fn family_of<'a>(s: &'a Scrape, sample: &str) -> Option<&'a (MetricType, String)> {
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| s.meta.get(sample.strip_suffix(suffix)?))
}
