//! The `time` collector, as node_exporter 1.5's `time.go` and
//! `time_linux.go`: the system clock (`node_time_seconds`), the local time
//! zone's abbreviation and offset (`node_time_zone_offset_seconds{time_zone}`,
//! from `TZ` or `/etc/localtime` as the C library resolves them, as Go does),
//! and the clock sources of `<sys>/devices/system/clocksource/clocksource*`.

use super::procfile::LineError;
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// One clock-source device of sysfs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockSource {
    /// The number after `clocksource` in the directory name.
    pub device: String,
    pub available: Vec<String>,
    pub current: String,
}

/// `available_clocksource` is a blank-separated list; `current_clocksource`
/// one name. Both must be non-empty.
pub fn parse_clocksource(
    device: &str,
    available: &str,
    current: &str,
) -> Result<ClockSource, LineError> {
    let current = current.trim();
    if current.is_empty() {
        return Err(LineError::new(1, "empty current_clocksource"));
    }
    Ok(ClockSource {
        device: device.to_owned(),
        available: available.split_ascii_whitespace().map(str::to_owned).collect(),
        current: current.to_owned(),
    })
}

/// The local time zone's abbreviation and UTC offset in seconds at `unix_secs`.
pub fn local_zone(unix_secs: i64) -> (String, i64) {
    let t: libc::time_t = unix_secs as libc::time_t;
    // SAFETY: `localtime_r` (which reads TZ or /etc/localtime once, as glibc's
    // does on first use) writes only into the
    // zeroed `tm` we own and returns null on failure, and `tm_zone`, when not
    // null, points to a NUL-terminated string in the C library's static time
    // zone data, which lives as long as the process.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return ("UTC".to_owned(), 0);
        }
        let name = if tm.tm_zone.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone).to_string_lossy().into_owned()
        };
        (name, tm.tm_gmtoff as i64)
    }
}

/// The `time` collector.
#[derive(Debug, Default)]
pub struct Time;

impl Collector for Time {
    fn name(&self) -> &'static str {
        "time"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as f64 / 1e9)
            .unwrap_or(0.0);
        out.push(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            Kind::Gauge,
            &[],
            now,
        );
        let (zone, offset) = local_zone(now as i64);
        out.push(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            Kind::Gauge,
            &[("time_zone", &zone)],
            offset as f64,
        );
        for source in clock_sources(ctx)? {
            for name in &source.available {
                out.push(
                    "node_time_clocksource_available_info",
                    "Available clocksources read from '/sys/devices/system/clocksource'.",
                    Kind::Gauge,
                    &[("device", &source.device), ("clocksource", name)],
                    1.0,
                );
            }
            out.push(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                Kind::Gauge,
                &[("device", &source.device), ("clocksource", &source.current)],
                1.0,
            );
        }
        Ok(())
    }
}

/// Every `clocksource[0-9]*` directory; an unreadable sysfs is an error
/// ("couldn't get clocksources"), as in node_exporter.
fn clock_sources(ctx: &Context<'_>) -> Result<Vec<ClockSource>, CollectorError> {
    let dir = ctx.roots.sys("devices/system/clocksource");
    let entries = std::fs::read_dir(&dir).map_err(|e| CollectorError::io(&dir, e))?;
    let mut devices: Vec<(String, std::path::PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let device = name.strip_prefix("clocksource")?;
            device.starts_with(|c: char| c.is_ascii_digit()).then(|| (device.to_owned(), e.path()))
        })
        .collect();
    devices.sort();
    let mut sources = Vec::with_capacity(devices.len());
    for (device, path) in devices {
        let available = read_file(&path.join("available_clocksource"))?;
        let current_path = path.join("current_clocksource");
        let current = read_file(&current_path)?;
        sources.push(
            parse_clocksource(&device, &available, &current).map_err(|e| e.at(&current_path))?,
        );
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture_roots, run, temp_roots, write};

    #[test]
    fn parses_clock_sources() {
        let got = parse_clocksource("0", "tsc kvm-clock acpi_pm \n", "tsc\n").unwrap();
        assert_eq!(got.available, ["tsc", "kvm-clock", "acpi_pm"]);
        assert_eq!(got.current, "tsc");
        assert!(parse_clocksource("0", "tsc\n", "").is_err());
    }

    #[test]
    fn fixture_tree_yields_time_and_clock_sources() {
        let out = run(&Time, &fixture_roots()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((out.get("node_time_seconds", &[]).unwrap() - now).abs() < 5.0);
        let text = out.to_text();
        assert!(
            text.contains(
                "node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE node_time_zone_offset_seconds gauge\n"));
    }

    #[test]
    fn missing_or_truncated_clocksource_files_fail_the_collector() {
        let (_dir, roots) = temp_roots();
        assert!(matches!(run(&Time, &roots), Err(CollectorError::Io { .. })));
        write(roots.sys("devices/system/clocksource/clocksource0/available_clocksource"), "tsc\n");
        write(roots.sys("devices/system/clocksource/clocksource0/current_clocksource"), "");
        assert!(matches!(run(&Time, &roots), Err(CollectorError::Parse { .. })));
    }
}
