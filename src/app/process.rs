//! tern's own process metrics on `/metrics`: the standard `process_*` set
//! (named as Prometheus' client libraries name them, so the usual dashboards
//! and alerts work) and the label symbol table. Read from `/proc/self` on
//! every scrape of `/metrics`; a value that cannot be read is left out.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// The fields of `/proc/self/stat` reported.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    cpu_seconds: f64,
    /// Seconds after boot.
    start_seconds: f64,
    virtual_bytes: u64,
    resident_pages: u64,
}

/// Parses `/proc/<pid>/stat` (the command name may hold spaces and
/// parentheses: fields are counted after its last `)`).
fn parse_stat(text: &str, ticks_per_second: u64) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // Field 3 (state) is index 0.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let ticks = ticks_per_second.max(1) as f64;
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        start_seconds: field(22)? as f64 / ticks,
        virtual_bytes: field(23)?,
        resident_pages: field(24)?,
    })
}

/// `btime` of `/proc/stat`: boot time in seconds since the epoch.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

#[derive(Debug, Default)]
pub struct ProcessCollector;

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let ticks = rustix::param::clock_ticks_per_second();
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        if let Some(s) = stat.as_deref().and_then(|t| parse_stat(t, ticks)) {
            let c = ConstCounter::new(s.cpu_seconds);
            c.encode(e.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                c.metric_type(),
            )?)?;
            let page = rustix::param::page_size() as f64;
            let rss = s.resident_pages as f64 * page;
            gauge(&mut e, "process_resident_memory_bytes", "Resident memory size in bytes.", rss)?;
            let vsz = s.virtual_bytes as f64;
            gauge(&mut e, "process_virtual_memory_bytes", "Virtual memory size in bytes.", vsz)?;
            let boot = std::fs::read_to_string("/proc/stat").ok();
            if let Some(btime) = boot.as_deref().and_then(parse_boot_time) {
                let start = btime as f64 + s.start_seconds;
                let help = "Start time of the process since unix epoch in seconds.";
                gauge(&mut e, "process_start_time_seconds", help, start)?;
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            let n = fds.count() as f64;
            gauge(&mut e, "process_open_fds", "Number of open file descriptors.", n)?;
        }
        if let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
            let help = "Maximum number of open file descriptors.";
            gauge(&mut e, "process_max_fds", help, limit as f64)?;
        }
        let (symbols, bytes) = crate::labels::symbol_stats();
        let help = "Distinct label names and values held (each stored once).";
        gauge(&mut e, "tern_label_symbols", help, symbols as f64)?;
        let help = "Bytes of the distinct label names and values held.";
        gauge(&mut e, "tern_label_symbol_bytes", help, bytes as f64)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (tern (worker) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    250 150 0 0 20 0 9 0 123456 1048576000 20480 18446744073709551615";
        let s = parse_stat(line, 100).unwrap();
        assert_eq!(
            s,
            Stat {
                cpu_seconds: 4.0,
                start_seconds: 1234.56,
                virtual_bytes: 1_048_576_000,
                resident_pages: 20480,
            }
        );
        assert_eq!(parse_stat("4242 (tern) S 1 2", 100), None, "truncated");
        assert_eq!(parse_boot_time("cpu 1 2 3\nbtime 1764979200\nprocesses 9\n"), Some(1764979200));
    }

    #[test]
    fn this_process_reports_its_memory_and_symbols() {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(ProcessCollector));
        let _held = crate::labels::Labels::from_pairs([("process_test", "symbol")]);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let value = |name: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap();
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1e6, "{text}");
        assert!(value("process_cpu_seconds_total") >= 0.0, "{text}");
        assert!(value("process_open_fds") >= 3.0, "{text}");
        assert!(value("tern_label_symbols") >= 2.0, "{text}");
        assert!(value("process_start_time_seconds") > 1.5e9, "{text}");
    }
}
