//! The `diskstats` collector: `<proc>/diskstats` as node_exporter 1.5's
//! `diskstats_linux.go` (through procfs' `ProcDiskstats`) reads it, with the
//! default `--collector.diskstats.device-exclude`
//! `^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`, plus the udev database
//! (`<root>/run/udev/data/b<major>:<minor>`, node_exporter's
//! `--path.udev.data`) for `node_disk_info` labels and the
//! `node_disk_{filesystem,device_mapper}_info` and `node_disk_ata_*` gauges.
//! Without a udev database `node_disk_info` is still exported, with empty
//! udev labels, as node_exporter does.
//!
//! Grammar of `diskstats`: per line `major minor name` and 11 (kernel < 4.18),
//! 15 (< 5.5) or 17 unsigned counters; node_exporter exports as many of its 17
//! families as the line has counters. Times are milliseconds (exported in
//! seconds); sectors are 512 bytes (exported in bytes), except discarded
//! sectors, which node_exporter exports as a sector count.
//!
//! Deviation: a line with fewer than 11 counters is an error naming the line;
//! procfs silently drops it. No kernel prints such lines.

use std::collections::HashMap;

use regex::Regex;

use super::netdev::DeviceFilter;
use super::procfile::{parse_u64, LineError};
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// node_exporter 1.5's default `--collector.diskstats.device-exclude`.
pub const DEFAULT_DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

const MS: f64 = 1.0 / 1000.0;
const SECTOR: f64 = 512.0;

/// The families, in diskstats column order: name, HELP, kind, scale.
const FAMILIES: [(&str, &str, Kind, f64); 17] = [
    (
        "reads_completed_total",
        "The total number of reads completed successfully.",
        Kind::Counter,
        1.0,
    ),
    ("reads_merged_total", "The total number of reads merged.", Kind::Counter, 1.0),
    ("read_bytes_total", "The total number of bytes read successfully.", Kind::Counter, SECTOR),
    (
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        Kind::Counter,
        MS,
    ),
    (
        "writes_completed_total",
        "The total number of writes completed successfully.",
        Kind::Counter,
        1.0,
    ),
    ("writes_merged_total", "The number of writes merged.", Kind::Counter, 1.0),
    (
        "written_bytes_total",
        "The total number of bytes written successfully.",
        Kind::Counter,
        SECTOR,
    ),
    (
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        Kind::Counter,
        MS,
    ),
    ("io_now", "The number of I/Os currently in progress.", Kind::Gauge, 1.0),
    ("io_time_seconds_total", "Total seconds spent doing I/Os.", Kind::Counter, MS),
    (
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        Kind::Counter,
        MS,
    ),
    (
        "discards_completed_total",
        "The total number of discards completed successfully.",
        Kind::Counter,
        1.0,
    ),
    ("discards_merged_total", "The total number of discards merged.", Kind::Counter, 1.0),
    (
        "discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        Kind::Counter,
        MS,
    ),
    (
        "flush_requests_total",
        "The total number of flush requests completed successfully",
        Kind::Counter,
        1.0,
    ),
    (
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        Kind::Counter,
        MS,
    ),
];

/// One line of `diskstats`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskStats<'a> {
    pub major: u32,
    pub minor: u32,
    pub device: &'a str,
    /// 11, 15 or 17 counters, in column order.
    pub counters: Vec<u64>,
}

/// Parses `<proc>/diskstats`.
pub fn parse_diskstats(text: &str) -> Result<Vec<DiskStats<'_>>, LineError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 14 {
            return Err(LineError::new(
                line_no,
                format!("{} fields, want at least 14", fields.len()),
            ));
        }
        let number = |s: &str| {
            s.parse::<u32>()
                .map_err(|e| LineError::new(line_no, format!("invalid device number {s:?}: {e}")))
        };
        let counters = fields[3..fields.len().min(20)]
            .iter()
            .map(|s| parse_u64(s, line_no, "diskstats"))
            .collect::<Result<Vec<u64>, _>>()?;
        out.push(DiskStats {
            major: number(fields[0])?,
            minor: number(fields[1])?,
            device: fields[2],
            counters,
        });
    }
    Ok(out)
}

/// The `E:` properties of one udev database file (`udevadm(8)`).
pub fn parse_udev_properties(text: &str) -> HashMap<&str, &str> {
    text.lines().filter_map(|l| l.strip_prefix("E:")).filter_map(|kv| kv.split_once('=')).collect()
}

/// The `diskstats` collector.
#[derive(Debug)]
pub struct Diskstats {
    filter: DeviceFilter,
}

impl Default for Diskstats {
    fn default() -> Self {
        let exclude = Regex::new(DEFAULT_DEVICE_EXCLUDE).expect("BUG: default diskstats regex");
        Diskstats { filter: DeviceFilter::Exclude(exclude) }
    }
}

impl Diskstats {
    /// A collector reporting the devices `filter` lets through.
    pub fn with_filter(filter: DeviceFilter) -> Self {
        Diskstats { filter }
    }
}

impl Collector for Diskstats {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let path = ctx.roots.proc("diskstats");
        let text = read_file(&path)?;
        let udev_dir = ctx.roots.root("run/udev/data");
        let udev_enabled = udev_dir.is_dir();
        for disk in parse_diskstats(&text).map_err(|e| e.at(&path))? {
            if self.filter.ignored(disk.device) {
                continue;
            }
            let udev_text = if udev_enabled {
                std::fs::read_to_string(udev_dir.join(format!("b{}:{}", disk.major, disk.minor)))
                    .unwrap_or_else(|e| {
                        tracing::debug!(device = disk.device, error = %e, "failed to read udev info");
                        String::new()
                    })
            } else {
                String::new()
            };
            push_disk(out, &disk, &parse_udev_properties(&udev_text));
        }
        Ok(())
    }
}

/// Pushes every family of one disk.
pub fn push_disk(out: &mut MetricSet, disk: &DiskStats<'_>, udev: &HashMap<&str, &str>) {
    let dev = disk.device;
    let prop = |k: &str| udev.get(k).copied().unwrap_or("");
    let (major, minor) = (disk.major.to_string(), disk.minor.to_string());
    out.push(
        "node_disk_info",
        "Info of /sys/block/<block_device>.",
        Kind::Gauge,
        &[
            ("device", dev),
            ("major", &major),
            ("minor", &minor),
            ("path", prop("ID_PATH")),
            ("wwn", prop("ID_WWN")),
            ("model", prop("ID_MODEL")),
            ("serial", prop("ID_SERIAL_SHORT")),
            ("revision", prop("ID_REVISION")),
        ],
        1.0,
    );
    for ((name, help, kind, scale), value) in FAMILIES.iter().zip(&disk.counters) {
        out.push(
            &format!("node_disk_{name}"),
            help,
            *kind,
            &[("device", dev)],
            *value as f64 * scale,
        );
    }
    if !prop("ID_FS_TYPE").is_empty() {
        out.push(
            "node_disk_filesystem_info",
            "Info about disk filesystem.",
            Kind::Gauge,
            &[
                ("device", dev),
                ("type", prop("ID_FS_TYPE")),
                ("usage", prop("ID_FS_USAGE")),
                ("uuid", prop("ID_FS_UUID")),
                ("version", prop("ID_FS_VERSION")),
            ],
            1.0,
        );
    }
    if !prop("DM_NAME").is_empty() {
        out.push(
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
            Kind::Gauge,
            &[
                ("device", dev),
                ("name", prop("DM_NAME")),
                ("uuid", prop("DM_UUID")),
                ("vg_name", prop("DM_VG_NAME")),
                ("lv_name", prop("DM_LV_NAME")),
                ("lv_layer", prop("DM_LV_LAYER")),
            ],
            1.0,
        );
    }
    if !prop("ID_ATA").is_empty() {
        push_ata(out, dev, udev);
    }
}

fn push_ata(out: &mut MetricSet, dev: &str, udev: &HashMap<&str, &str>) {
    let ata = [
        ("ID_ATA_WRITE_CACHE", "ata_write_cache", "ATA disk has a write cache."),
        (
            "ID_ATA_WRITE_CACHE_ENABLED",
            "ata_write_cache_enabled",
            "ATA disk has its write cache enabled.",
        ),
        (
            "ID_ATA_ROTATION_RATE_RPM",
            "ata_rotation_rate_rpm",
            "ATA disk rotation rate in RPMs (0 for SSDs).",
        ),
    ];
    for (attr, name, help) in ata {
        let Some(text) = udev.get(attr) else {
            tracing::debug!(attribute = attr, "udev attribute does not exist");
            continue;
        };
        match text.parse::<f64>() {
            Ok(v) => {
                out.push(&format!("node_disk_{name}"), help, Kind::Gauge, &[("device", dev)], v)
            }
            Err(e) => {
                tracing::error!(device = dev, attribute = attr, error = %e, "failed to parse ATA value")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture, fixture_roots, run, temp_roots, write};

    #[test]
    fn parses_all_kernel_line_lengths() {
        let text = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n 8 1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n 254 0 vda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n";
        let disks = parse_diskstats(text).unwrap();
        assert_eq!(disks.iter().map(|d| d.counters.len()).collect::<Vec<_>>(), [11, 15, 17]);
        assert_eq!((disks[2].major, disks[2].minor, disks[2].device), (254, 0, "vda"));
    }

    #[test]
    fn rejects_truncated_and_malformed_lines_with_their_line() {
        for (input, line, msg) in [
            (
                " 8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n 8 1 sda1 1 2 3\n",
                2,
                "6 fields, want at least 14",
            ),
            (" 8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n", 1, "invalid value \"x\""),
            (" 8 z sda 1 2 3 4 5 6 7 8 9 10 11\n", 1, "invalid device number \"z\""),
        ] {
            let err = parse_diskstats(input).unwrap_err();
            assert_eq!(err.line, line, "{input:?}: {err}");
            assert!(err.message.contains(msg), "{err}");
        }
    }

    #[test]
    fn fixture_applies_the_default_exclude_and_units() {
        assert!(
            parse_diskstats(&std::fs::read_to_string(fixture("proc/diskstats")).unwrap()).is_ok()
        );
        let set = run(&Diskstats::default(), &fixture_roots()).unwrap();
        let devices: Vec<f64> = ["vda", "zram0", "loop0"]
            .iter()
            .filter_map(|d| set.get("node_disk_reads_completed_total", &[("device", d)]))
            .collect();
        assert_eq!(devices.len(), 2, "vda and zram0 only");
        assert_eq!(set.family_names().count(), 18);
        let info = [
            ("device", "vda"),
            ("major", "254"),
            ("minor", "0"),
            ("path", ""),
            ("wwn", ""),
            ("model", ""),
            ("serial", ""),
            ("revision", ""),
        ];
        assert_eq!(set.get("node_disk_info", &info), Some(1.0));
    }

    #[test]
    fn scales_sectors_and_milliseconds() {
        let (_dir, roots) = temp_roots();
        write(roots.proc("diskstats"), " 8 0 sda 1 2 3 4000 5 6 7 8 9 10 11 12 13 14 15 16 17\n");
        let set = run(&Diskstats::default(), &roots).unwrap();
        let sda = [("device", "sda")];
        assert_eq!(set.get("node_disk_read_bytes_total", &sda), Some(3.0 * 512.0));
        assert_eq!(set.get("node_disk_read_time_seconds_total", &sda), Some(4.0));
        assert_eq!(set.get("node_disk_discarded_sectors_total", &sda), Some(14.0));
        assert_eq!(set.get("node_disk_flush_requests_time_seconds_total", &sda), Some(0.017));
    }

    #[test]
    fn udev_database_fills_labels_and_info_families() {
        // root-udev/run/udev/data/b254:0 is written by hand in udev's database
        // format (`udevadm info --export-db`): this machine runs no udev.
        let roots = fixture_roots();
        let set =
            run(&Diskstats::default(), &Roots { root: fixture("root-udev"), ..roots }).unwrap();
        let info = [
            ("device", "vda"),
            ("major", "254"),
            ("minor", "0"),
            ("path", "pci-0000:00:05.0"),
            ("wwn", ""),
            ("model", ""),
            ("serial", "vol0123"),
            ("revision", ""),
        ];
        assert_eq!(set.get("node_disk_info", &info), Some(1.0));
        let fs = [
            ("device", "vda"),
            ("type", "ext4"),
            ("usage", "filesystem"),
            ("uuid", "4b1f0e55-0c5f-4d5e-9e0b-0a3c1f0e7d21"),
            ("version", "1.0"),
        ];
        assert_eq!(set.get("node_disk_filesystem_info", &fs), Some(1.0));
        assert_eq!(set.get("node_disk_ata_rotation_rate_rpm", &[("device", "vda")]), Some(0.0));
        assert_eq!(set.get("node_disk_ata_write_cache", &[("device", "vda")]), Some(1.0));
        assert!(set.get("node_disk_ata_write_cache_enabled", &[("device", "vda")]).is_none());
    }

    use crate::hostmetrics::Roots;
}
