//! The `netdev` collector: per-interface counters as node_exporter 1.5's
//! `netdev_linux.go` exports them by default (`--collector.netdev.netlink`,
//! legacy names, no detailed metrics): 17 `node_network_*_total` counters with
//! a `device` label. node_exporter reads the kernel's `rtnl_link_stats64` over
//! netlink and folds the detailed error counters into the legacy names; the
//! kernel folds them the same way when it prints `<proc>/net/dev`, so we read
//! that file, plus `receive_nohandler` (absent from it) from
//! `<sys>/class/net/<device>/statistics/rx_nohandler` (0 when the kernel has
//! no such counter, as netlink reports it).
//!
//! Grammar of `net/dev`: two header lines, then per device
//! `*WSP name ":" 16*( *WSP uint )`: receive bytes, packets, errs, drop, fifo,
//! frame, compressed, multicast; transmit bytes, packets, errs, drop, fifo,
//! colls, carrier, compressed.
//!
//! The default `--collector.netdev.device-exclude` is Debian 1.5's `^lo$`
//! ([`DEFAULT_DEVICE_EXCLUDE`]); upstream's is empty (no device excluded).
//! See [`DeviceFilter::new`] for how the two flags combine.

use std::io::ErrorKind;

use regex::Regex;

use super::procfile::{parse_u64, LineError};
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// Debian's node_exporter 1.5 default `--collector.netdev.device-exclude`
/// (upstream's is empty).
pub const DEFAULT_DEVICE_EXCLUDE: &str = "^lo$";

/// The counters of `net/dev`, in column order, by node_exporter's names.
pub const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// One interface's line of `net/dev`.
#[derive(Debug, Clone, PartialEq)]
pub struct DevStats<'a> {
    pub device: &'a str,
    pub values: [u64; 16],
}

/// Which devices to report (node_exporter's device-include / device-exclude).
#[derive(Debug, Clone, Default)]
pub enum DeviceFilter {
    #[default]
    All,
    Include(Regex),
    Exclude(Regex),
}

/// Why a device-include / device-exclude pair is refused.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{0}")]
    Regex(#[from] regex::Error),
    #[error("device-exclude & device-include are mutually exclusive")]
    MutuallyExclusive,
}

impl DeviceFilter {
    /// node_exporter's `newDeviceFilter`: an empty pattern filters nothing;
    /// patterns are unanchored (Go's `MatchString`); both non-empty is an
    /// error, as node_exporter refuses to start.
    pub fn new(exclude: &str, include: &str) -> Result<Self, FilterError> {
        match (exclude.is_empty(), include.is_empty()) {
            (true, true) => Ok(DeviceFilter::All),
            (false, true) => Ok(DeviceFilter::Exclude(Regex::new(exclude)?)),
            (true, false) => Ok(DeviceFilter::Include(Regex::new(include)?)),
            (false, false) => Err(FilterError::MutuallyExclusive),
        }
    }

    pub fn ignored(&self, device: &str) -> bool {
        match self {
            DeviceFilter::All => false,
            DeviceFilter::Include(re) => !re.is_match(device),
            DeviceFilter::Exclude(re) => re.is_match(device),
        }
    }
}

/// The `netdev` collector.
#[derive(Debug)]
pub struct Netdev {
    filter: DeviceFilter,
}

impl Default for Netdev {
    /// With Debian's default exclude (`^lo$`).
    fn default() -> Self {
        let exclude = Regex::new(DEFAULT_DEVICE_EXCLUDE).expect("BUG: default netdev regex");
        Netdev { filter: DeviceFilter::Exclude(exclude) }
    }
}

impl Netdev {
    /// A collector reporting the devices `filter` lets through.
    pub fn with_filter(filter: DeviceFilter) -> Self {
        Netdev { filter }
    }
}

/// Parses `<proc>/net/dev`.
pub fn parse_net_dev(text: &str) -> Result<Vec<DevStats<'_>>, LineError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(2) {
        let line_no = i + 1;
        let Some(colon) = line.rfind(':') else {
            return Err(LineError::new(line_no, format!("no \"device:\" in {line:?}")));
        };
        let device = line[..colon].trim();
        let mut values = [0u64; 16];
        let mut fields = line[colon + 1..].split_whitespace();
        for (slot, column) in values.iter_mut().zip(COLUMNS) {
            let Some(field) = fields.next() else {
                return Err(LineError::new(line_no, format!("{device}: missing {column}")));
            };
            *slot = parse_u64(field, line_no, column)?;
        }
        out.push(DevStats { device, values });
    }
    Ok(out)
}

impl Collector for Netdev {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let path = ctx.roots.proc("net/dev");
        let text = read_file(&path)?;
        for dev in parse_net_dev(&text).map_err(|e| e.at(&path))? {
            if self.filter.ignored(dev.device) {
                continue;
            }
            let labels = [("device", dev.device)];
            for (column, value) in COLUMNS.iter().zip(dev.values) {
                push(out, column, &labels, value as f64);
            }
            let nohandler = read_nohandler(ctx, dev.device)?;
            push(out, "receive_nohandler", &labels, nohandler as f64);
        }
        Ok(())
    }
}

fn push(out: &mut MetricSet, stat: &str, labels: &[(&str, &str)], value: f64) {
    out.push(
        &format!("node_network_{stat}_total"),
        &format!("Network device statistic {stat}."),
        Kind::Counter,
        labels,
        value,
    );
}

/// `rx_nohandler` of one device; 0 when sysfs has no such file.
fn read_nohandler(ctx: &Context<'_>, device: &str) -> Result<u64, CollectorError> {
    let path = ctx.roots.sys(&format!("class/net/{device}/statistics/rx_nohandler"));
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_u64(text.trim(), 1, "rx_nohandler").map_err(|e| e.at(&path)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) => Err(CollectorError::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture_roots, run, temp_roots, write};

    const HEADER: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    #[test]
    fn parses_devices_in_column_order() {
        let text = format!("{HEADER}  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
        let devs = parse_net_dev(&text).unwrap();
        assert_eq!(
            devs,
            vec![DevStats { device: "eth0", values: std::array::from_fn(|i| i as u64 + 1) }]
        );
    }

    #[test]
    fn rejects_truncated_and_malformed_lines_with_their_line() {
        for (body, msg) in [
            ("  eth0: 1 2 3\n", "eth0: missing receive_drop"),
            ("  eth0 1 2 3\n", "no \"device:\""),
            (
                "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n",
                "invalid value \"x\" in transmit_compressed",
            ),
        ] {
            let err = parse_net_dev(&format!("{HEADER}{body}")).unwrap_err();
            assert_eq!(err.line, 3);
            assert!(err.message.contains(msg), "{err}");
        }
        assert_eq!(parse_net_dev(HEADER).unwrap(), vec![]);
    }

    #[test]
    fn fixture_yields_seventeen_counters_per_device() {
        let upstream = Netdev::with_filter(DeviceFilter::new("", "").unwrap());
        let set = run(&upstream, &fixture_roots()).unwrap();
        assert_eq!(set.family_names().count(), 17);
        assert_eq!(set.len(), 17 * 4);
        assert!(set.get("node_network_receive_nohandler_total", &[("device", "lo")]).is_some());
        assert!(set.to_text().contains(
            "# HELP node_network_receive_bytes_total Network device statistic receive_bytes.\n# TYPE node_network_receive_bytes_total counter\n"
        ));
        let set = run(&Netdev::default(), &fixture_roots()).unwrap();
        assert_eq!(set.len(), 17 * 3);
        assert!(set.get("node_network_receive_bytes_total", &[("device", "lo")]).is_none());
    }

    #[test]
    fn device_filters_combine_as_node_exporters() {
        let f = DeviceFilter::new("", "^eth").unwrap();
        assert!(!f.ignored("eth0") && f.ignored("lo"));
        // Unanchored, as Go's MatchString.
        let f = DeviceFilter::new("lo", "").unwrap();
        assert!(f.ignored("lo") && f.ignored("veth_lo1") && !f.ignored("eth0"));
        assert!(!DeviceFilter::new("", "").unwrap().ignored("lo"));
        assert!(matches!(DeviceFilter::new("^lo$", "^eth"), Err(FilterError::MutuallyExclusive)));
        assert!(matches!(DeviceFilter::new("(", ""), Err(FilterError::Regex(_))));
    }

    #[test]
    fn missing_nohandler_is_zero() {
        let (_dir, roots) = temp_roots();
        write(
            roots.proc("net/dev"),
            &format!("{HEADER}  eth9: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
        );
        let set = run(&Netdev::default(), &roots).unwrap();
        assert_eq!(
            set.get("node_network_receive_nohandler_total", &[("device", "eth9")]),
            Some(0.0)
        );
        assert_eq!(
            set.get("node_network_transmit_compressed_total", &[("device", "eth9")]),
            Some(16.0)
        );
    }
}
