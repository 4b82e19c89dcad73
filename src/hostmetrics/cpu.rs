//! The `cpu` collector, as node_exporter 1.5's `cpu_linux.go` with its
//! default flags (`--collector.cpu.guest` on, `--collector.cpu.info` off):
//!
//! - `node_cpu_seconds_total{cpu,mode}` and `node_cpu_guest_seconds_total{cpu,mode}`
//!   from the per-CPU lines of `<proc>/stat`, in seconds (`USER_HZ` = 100).
//!   Each counter is kept monotonic per CPU as node_exporter does: a value
//!   lower than the last one reported is ignored, and an idle counter that
//!   jumps back by 3 s or more (CPU hot-plug) resets that CPU's cache.
//! - `node_cpu_isolated{cpu}` from `<sys>/devices/system/cpu/isolated`, when
//!   the file exists.
//! - `node_cpu_core_throttles_total{package,core}` and
//!   `node_cpu_package_throttles_total{package}` from each CPU's
//!   `thermal_throttle/` directory in sysfs, when the kernel has them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::procfile::LineError;
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// The kernel's `USER_HZ`: `/proc/stat` counts in 1/100 s on every Linux ABI.
const USER_HZ: f64 = 100.0;

/// node_exporter's idle jump-back limit in seconds.
const JUMP_BACK_SECONDS: f64 = 3.0;

/// One CPU's times in seconds, in `/proc/stat` column order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuStat {
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
    pub guest: f64,
    pub guest_nice: f64,
}

impl CpuStat {
    fn fields_mut(&mut self) -> [&mut f64; 10] {
        [
            &mut self.user,
            &mut self.nice,
            &mut self.system,
            &mut self.idle,
            &mut self.iowait,
            &mut self.irq,
            &mut self.softirq,
            &mut self.steal,
            &mut self.guest,
            &mut self.guest_nice,
        ]
    }
}

/// The per-CPU lines of `/proc/stat`:
/// `cpuN user nice system idle [iowait irq softirq steal guest guest_nice]`
/// (older kernels have fewer columns; missing ones are 0, as procfs reads them).
/// The aggregate `cpu` line and all other lines are skipped.
pub fn parse_cpu_lines(text: &str) -> Result<BTreeMap<u32, CpuStat>, LineError> {
    let mut cpus = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let mut parts = line.split_ascii_whitespace();
        let Some(id) = parts.next().and_then(|w| w.strip_prefix("cpu")) else { continue };
        if id.is_empty() {
            continue;
        }
        let id: u32 = id
            .parse()
            .map_err(|_| LineError::new(lineno, format!("invalid cpu id in {line:?}")))?;
        let mut stat = CpuStat::default();
        let mut n = 0;
        for (slot, word) in stat.fields_mut().into_iter().zip(&mut parts) {
            let ticks: u64 = word.parse().map_err(|_| {
                LineError::new(lineno, format!("invalid value {word:?} in {line:?}"))
            })?;
            *slot = ticks as f64 / USER_HZ;
            n += 1;
        }
        if n < 4 {
            return Err(LineError::new(
                lineno,
                format!("couldn't parse {line:?} (cpu): too few fields"),
            ));
        }
        cpus.insert(id, stat);
    }
    Ok(cpus)
}

/// A CPU list as sysfs writes it (`0-2,5`); empty for an empty file.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, LineError> {
    let mut cpus = Vec::new();
    let text = text.trim();
    if text.is_empty() {
        return Ok(cpus);
    }
    let bad = |part: &str| LineError::new(1, format!("invalid cpu range {part:?}"));
    for part in text.split(',') {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let lo: u32 = lo.parse().map_err(|_| bad(part))?;
                let hi: u32 = hi.parse().map_err(|_| bad(part))?;
                if hi < lo {
                    return Err(bad(part));
                }
                cpus.extend(lo..=hi);
            }
            None => cpus.push(part.parse().map_err(|_| bad(part))?),
        }
    }
    Ok(cpus)
}

/// The `cpu` collector; holds the last reported counters per CPU.
#[derive(Debug, Default)]
pub struct Cpu {
    last: Mutex<HashMap<u32, CpuStat>>,
}

impl Cpu {
    /// Folds a new reading into the monotonic cache (node_exporter's
    /// `updateCPUStats`) and returns what to report.
    fn monotonic(&self, fresh: BTreeMap<u32, CpuStat>) -> BTreeMap<u32, CpuStat> {
        let mut last = self.last.lock().expect("BUG: cpu cache lock poisoned");
        let mut report = BTreeMap::new();
        for (id, mut new) in fresh {
            let mut kept = last.get(&id).copied().unwrap_or_default();
            if kept.idle - new.idle >= JUMP_BACK_SECONDS {
                tracing::debug!(cpu = id, "CPU idle counter jumped backwards, resetting CPU stats");
                kept = CpuStat::default();
            }
            for (k, n) in kept.fields_mut().into_iter().zip(new.fields_mut()) {
                if *n >= *k {
                    *k = *n;
                }
            }
            last.insert(id, kept);
            report.insert(id, kept);
        }
        report
    }
}

impl Collector for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let path = ctx.roots.proc("stat");
        let text = read_file(&path)?;
        let cpus = self.monotonic(parse_cpu_lines(&text).map_err(|e| e.at(&path))?);
        push_seconds(&cpus, out);
        push_isolated(ctx, out)?;
        push_throttles(ctx, out);
        Ok(())
    }
}

fn push_seconds(cpus: &BTreeMap<u32, CpuStat>, out: &mut MetricSet) {
    const HELP: &str = "Seconds the CPUs spent in each mode.";
    const GUEST_HELP: &str = "Seconds the CPUs spent in guests (VMs) for each mode.";
    for (id, s) in cpus {
        let cpu = id.to_string();
        for (mode, v) in [
            ("user", s.user),
            ("nice", s.nice),
            ("system", s.system),
            ("idle", s.idle),
            ("iowait", s.iowait),
            ("irq", s.irq),
            ("softirq", s.softirq),
            ("steal", s.steal),
        ] {
            out.push(
                "node_cpu_seconds_total",
                HELP,
                Kind::Counter,
                &[("cpu", &cpu), ("mode", mode)],
                v,
            );
        }
        for (mode, v) in [("user", s.guest), ("nice", s.guest_nice)] {
            out.push(
                "node_cpu_guest_seconds_total",
                GUEST_HELP,
                Kind::Counter,
                &[("cpu", &cpu), ("mode", mode)],
                v,
            );
        }
    }
}

/// `node_cpu_isolated`: nothing when the file is absent (node_exporter logs
/// that at debug level), an error when it is unreadable or malformed.
fn push_isolated(ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
    let path = ctx.roots.sys("devices/system/cpu/isolated");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CollectorError::io(&path, e)),
    };
    for cpu in parse_cpu_list(&text).map_err(|e| e.at(&path))? {
        out.push(
            "node_cpu_isolated",
            "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
            Kind::Gauge,
            &[("cpu", &cpu.to_string())],
            1.0,
        );
    }
    Ok(())
}

fn read_u64(path: &std::path::Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Thermal throttle counters per core and per package, each read once (the
/// first CPU of a core or package that has the file), as node_exporter's
/// `updateThermalThrottle`. CPUs without topology or counters are skipped.
fn push_throttles(ctx: &Context<'_>, out: &mut MetricSet) {
    let dir = ctx.roots.sys("devices/system/cpu");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let mut cpus: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix("cpu").is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(|e| e.path())
        .collect();
    cpus.sort();
    let mut packages: BTreeMap<u64, Option<u64>> = BTreeMap::new();
    let mut cores: BTreeMap<(u64, u64), Option<u64>> = BTreeMap::new();
    for cpu in cpus {
        let Some(package) = read_u64(&cpu.join("topology/physical_package_id")) else { continue };
        let Some(core) = read_u64(&cpu.join("topology/core_id")) else { continue };
        cores
            .entry((package, core))
            .or_insert_with(|| read_u64(&cpu.join("thermal_throttle/core_throttle_count")));
        if packages.get(&package).is_none_or(|v| v.is_none()) {
            packages
                .insert(package, read_u64(&cpu.join("thermal_throttle/package_throttle_count")));
        }
    }
    for (package, count) in packages {
        let Some(count) = count else { continue };
        out.push(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
            Kind::Counter,
            &[("package", &package.to_string())],
            count as f64,
        );
    }
    for ((package, core), count) in cores {
        let Some(count) = count else { continue };
        out.push(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
            Kind::Counter,
            &[("package", &package.to_string()), ("core", &core.to_string())],
            count as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture, fixture_roots, run};

    #[test]
    fn parses_cpu_lines_in_seconds_and_skips_the_aggregate() {
        let text =
            "cpu  10 0 0 0 0 0 0 0 0 0\ncpu0 150 2 3 400 5 6 7 8 9 10\ncpu1 1 2 3 4\nintr 5 0\n";
        let cpus = parse_cpu_lines(text).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[&0].user, 1.5);
        assert_eq!(cpus[&0].guest_nice, 0.1);
        assert_eq!(
            cpus[&1],
            CpuStat { user: 0.01, nice: 0.02, system: 0.03, idle: 0.04, ..Default::default() }
        );
    }

    #[test]
    fn rejects_malformed_and_truncated_cpu_lines() {
        let err = parse_cpu_lines("cpu 1 2 3 4\ncpu0 1 2 x 4\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("\"x\""), "{err}");
        assert!(parse_cpu_lines("cpu0 1 2\n").unwrap_err().message.contains("too few fields"));
        assert!(parse_cpu_lines("cpuX 1 2 3 4\n").unwrap_err().message.contains("invalid cpu id"));
        let truncated = std::fs::read_to_string(fixture("proc/stat")).unwrap();
        let cut = &truncated[..truncated.find("cpu1").unwrap() + 8];
        assert!(parse_cpu_lines(cut).is_err());
    }

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("1-2,5\n").unwrap(), vec![1, 2, 5]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
    }

    #[test]
    fn counters_never_go_backwards_unless_idle_jumps_back() {
        let cpu = Cpu::default();
        let stat = |user, idle| BTreeMap::from([(0, CpuStat { user, idle, ..Default::default() })]);
        assert_eq!(cpu.monotonic(stat(10.0, 100.0))[&0].user, 10.0);
        assert_eq!(cpu.monotonic(stat(9.0, 101.0))[&0].user, 10.0);
        let reset = cpu.monotonic(stat(1.0, 50.0))[&0];
        assert_eq!((reset.user, reset.idle), (1.0, 50.0));
    }

    #[test]
    fn fixture_tree_yields_node_exporter_families() {
        let out = run(&Cpu::default(), &fixture_roots()).unwrap();
        let text = out.to_text();
        assert!(text.contains("# TYPE node_cpu_seconds_total counter\n"), "{text}");
        assert!(out.get("node_cpu_seconds_total", &[("cpu", "1"), ("mode", "steal")]).is_some());
        assert_eq!(
            out.get("node_cpu_guest_seconds_total", &[("cpu", "0"), ("mode", "nice")]),
            Some(0.0)
        );
        assert_eq!(out.get("node_cpu_isolated", &[("cpu", "5")]), Some(1.0));
        assert_eq!(
            out.get("node_cpu_core_throttles_total", &[("package", "0"), ("core", "0")]),
            Some(7.0)
        );
        assert_eq!(
            out.get("node_cpu_core_throttles_total", &[("package", "0"), ("core", "1")]),
            None
        );
        assert_eq!(out.get("node_cpu_package_throttles_total", &[("package", "0")]), Some(3.0));
    }
}
