//! The `stat` collector, as node_exporter 1.5's `stat_linux.go` with its
//! default flags (`--collector.stat.softirq` off): the system-wide lines of
//! `<proc>/stat` (interrupts, context switches, boot time, forks, running and
//! blocked processes).

use super::procfile::LineError;
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// The system-wide counters of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SystemStat {
    pub intr_total: f64,
    pub context_switches: f64,
    pub boot_time: f64,
    pub forks: f64,
    pub procs_running: f64,
    pub procs_blocked: f64,
}

/// `/proc/stat`: `key value...` lines; the keys `intr` (first number is the
/// total), `ctxt`, `btime`, `processes`, `procs_running`, `procs_blocked` are
/// read, other lines skipped. A line with one of these keys but no number is
/// an error, as procfs reports it.
pub fn parse_system_stat(text: &str) -> Result<SystemStat, LineError> {
    let mut stat = SystemStat::default();
    for (i, line) in text.lines().enumerate() {
        let mut parts = line.split_ascii_whitespace();
        let Some(key) = parts.next() else { continue };
        let slot = match key {
            "intr" => &mut stat.intr_total,
            "ctxt" => &mut stat.context_switches,
            "btime" => &mut stat.boot_time,
            "processes" => &mut stat.forks,
            "procs_running" => &mut stat.procs_running,
            "procs_blocked" => &mut stat.procs_blocked,
            _ => continue,
        };
        let word = parts.next().unwrap_or("");
        *slot = word
            .parse::<u64>()
            .map_err(|_| LineError::new(i + 1, format!("couldn't parse {key} {word:?}")))?
            as f64;
    }
    Ok(stat)
}

/// The `stat` collector.
#[derive(Debug, Default)]
pub struct Stat;

impl Collector for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let path = ctx.roots.proc("stat");
        let text = read_file(&path)?;
        let s = parse_system_stat(&text).map_err(|e| e.at(&path))?;
        let rows = [
            (
                "node_intr_total",
                "Total number of interrupts serviced.",
                Kind::Counter,
                s.intr_total,
            ),
            (
                "node_context_switches_total",
                "Total number of context switches.",
                Kind::Counter,
                s.context_switches,
            ),
            ("node_forks_total", "Total number of forks.", Kind::Counter, s.forks),
            ("node_boot_time_seconds", "Node boot time, in unixtime.", Kind::Gauge, s.boot_time),
            (
                "node_procs_running",
                "Number of processes in runnable state.",
                Kind::Gauge,
                s.procs_running,
            ),
            (
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                Kind::Gauge,
                s.procs_blocked,
            ),
        ];
        for (name, help, kind, value) in rows {
            out.push(name, help, kind, &[], value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture, fixture_roots, run};

    #[test]
    fn parses_the_system_lines() {
        let text = "cpu 1 2 3 4\nintr 9446931 0 1\nctxt 13510312\nbtime 1795304126\n\
                    processes 311672\nprocs_running 6\nprocs_blocked 1\nsoftirq 5 1 2\n";
        let want = SystemStat {
            intr_total: 9446931.0,
            context_switches: 13510312.0,
            boot_time: 1795304126.0,
            forks: 311672.0,
            procs_running: 6.0,
            procs_blocked: 1.0,
        };
        assert_eq!(parse_system_stat(text).unwrap(), want);
    }

    #[test]
    fn rejects_malformed_and_truncated_lines() {
        let err = parse_system_stat("cpu 1\nctxt x\n").unwrap_err();
        assert_eq!((err.line, err.message.as_str()), (2, "couldn't parse ctxt \"x\""));
        let err = parse_system_stat("btime\n").unwrap_err();
        assert_eq!(err.line, 1);
        let full = std::fs::read_to_string(fixture("proc/stat")).unwrap();
        let cut = &full[..full.find("btime").unwrap() + 5];
        assert!(parse_system_stat(cut).is_err());
    }

    #[test]
    fn fixture_tree_yields_node_exporter_families() {
        let out = run(&Stat, &fixture_roots()).unwrap();
        let text = out.to_text();
        assert!(text.contains("# HELP node_boot_time_seconds Node boot time, in unixtime.\n"));
        assert!(text.contains("# TYPE node_forks_total counter\n"));
        assert!(out.get("node_boot_time_seconds", &[]).unwrap() > 1.7e9);
        assert_eq!(out.len(), 6);
    }
}
