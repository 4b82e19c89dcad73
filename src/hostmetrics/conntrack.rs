//! The `conntrack` collector, as node_exporter 1.5's `conntrack_linux.go`:
//! `<proc>/sys/net/netfilter/nf_conntrack_{count,max}` and the per-CPU table
//! `<proc>/net/stat/nf_conntrack` (procfs' `ConntrackStat`), summed over CPUs.
//! Where conntrack is not loaded the files do not exist and the collector
//! returns `NoData`, as node_exporter's `ErrNoData`.
//!
//! `net/stat/nf_conntrack` grammar: one header line of column names, then one
//! line per CPU of at least 17 hexadecimal columns, read by position as procfs
//! does: entries, searched (clashres), found, new, invalid, ignore, delete,
//! delete_list (chainlength), insert, insert_failed, drop, early_drop,
//! icmp_error, expect_new, expect_create, expect_delete, search_restart.

use std::io::ErrorKind;
use std::path::Path;

use super::entropy::parse_uint_file;
use super::procfile::LineError;
use super::{Collector, CollectorError, Context, Kind, MetricSet};

/// The `conntrack` collector.
#[derive(Debug, Default)]
pub struct Conntrack;

/// The statistics node_exporter exports, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConntrackStats {
    pub found: u64,
    pub invalid: u64,
    pub ignore: u64,
    pub insert: u64,
    pub insert_failed: u64,
    pub drop: u64,
    pub early_drop: u64,
    pub search_restart: u64,
}

/// The column positions procfs reads, with node_exporter's HELP text.
const STAT_COLUMNS: usize = 17;

/// stat-file = header-line *( cpu-line ); cpu-line = 17*( hex-number ) [extra columns]
pub fn parse_conntrack_stat(text: &str) -> Result<ConntrackStats, LineError> {
    let mut sum = ConntrackStats::default();
    for (i, line) in text.lines().enumerate().skip(1) {
        let line_no = i + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < STAT_COLUMNS {
            return Err(LineError::new(
                line_no,
                format!(
                    "invalid conntrackstat entry, missing fields: {} of {STAT_COLUMNS}",
                    fields.len()
                ),
            ));
        }
        let hex = |pos: usize| {
            u64::from_str_radix(fields[pos], 16).map_err(|e| {
                LineError::new(line_no, format!("invalid hex value {:?}: {e}", fields[pos]))
            })
        };
        sum.found += hex(2)?;
        sum.invalid += hex(4)?;
        sum.ignore += hex(5)?;
        sum.insert += hex(8)?;
        sum.insert_failed += hex(9)?;
        sum.drop += hex(10)?;
        sum.early_drop += hex(11)?;
        sum.search_restart += hex(16)?;
    }
    Ok(sum)
}

/// Reads a file; a missing one becomes node_exporter's `ErrNoData`.
fn read_or_no_data(path: &Path) -> Result<String, CollectorError> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => {
            CollectorError::NoData(format!("{}: conntrack probably not loaded", path.display()))
        }
        _ => CollectorError::io(path, e),
    })
}

fn read_uint(path: &Path) -> Result<f64, CollectorError> {
    let text = read_or_no_data(path)?;
    parse_uint_file(&text).map(|v| v as f64).map_err(|e| e.at(path))
}

impl Collector for Conntrack {
    fn name(&self) -> &'static str {
        "conntrack"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let count = read_uint(&ctx.roots.proc("sys/net/netfilter/nf_conntrack_count"))?;
        out.push(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            Kind::Gauge,
            &[],
            count,
        );
        let max = read_uint(&ctx.roots.proc("sys/net/netfilter/nf_conntrack_max"))?;
        out.push(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            Kind::Gauge,
            &[],
            max,
        );
        let path = ctx.roots.proc("net/stat/nf_conntrack");
        let s = parse_conntrack_stat(&read_or_no_data(&path)?).map_err(|e| e.at(&path))?;
        let stats = [
            ("found", "Number of searched entries which were successful.", s.found),
            ("invalid", "Number of packets seen which can not be tracked.", s.invalid),
            ("ignore", "Number of packets seen which are already connected to a conntrack entry.", s.ignore),
            ("insert", "Number of entries inserted into the list.", s.insert),
            ("insert_failed", "Number of entries for which list insertion was attempted but failed.", s.insert_failed),
            ("drop", "Number of packets dropped due to conntrack failure.", s.drop),
            ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.", s.early_drop),
            ("search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes.", s.search_restart),
        ];
        for (name, help, value) in stats {
            out.push(
                &format!("node_nf_conntrack_stat_{name}"),
                help,
                Kind::Gauge,
                &[],
                value as f64,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture, fixture_roots, run, temp_roots, write};

    const HEADER: &str = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";

    #[test]
    fn sums_hex_columns_over_cpus() {
        let text = format!(
            "{HEADER}00000001 00000000 0000000a 00000000 00000002 00000003 00000000 00000000 00000004 00000005 00000006 00000007 00000000 00000000 00000000 00000000 00000008\n\
             00000001 00000000 00000001 00000000 00000001 00000001 00000000 00000000 00000001 00000001 00000001 00000001 00000000 00000000 00000000 00000000 000000ff\n"
        );
        let want = ConntrackStats {
            found: 11,
            invalid: 3,
            ignore: 4,
            insert: 5,
            insert_failed: 6,
            drop: 7,
            early_drop: 8,
            search_restart: 0x107,
        };
        assert_eq!(parse_conntrack_stat(&text), Ok(want));
    }

    #[test]
    fn rejects_truncated_and_malformed_rows_with_their_line() {
        let short = format!("{HEADER}00000000 00000000 00000000\n");
        let err = parse_conntrack_stat(&short).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("missing fields"), "{err}");
        let bad = format!("{HEADER}{}\n", ["0000000g"; 17].join(" "));
        let err = parse_conntrack_stat(&bad).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("invalid hex value"), "{err}");
    }

    #[test]
    fn fixture_yields_every_family() {
        let captured = std::fs::read_to_string(fixture("proc/net/stat/nf_conntrack")).unwrap();
        assert!(parse_conntrack_stat(&captured).is_ok());
        let set = run(&Conntrack, &fixture_roots()).unwrap();
        assert_eq!(set.get("node_nf_conntrack_entries", &[]), Some(0.0));
        assert_eq!(set.get("node_nf_conntrack_entries_limit", &[]), Some(262144.0));
        assert_eq!(set.family_names().count(), 10);
    }

    #[test]
    fn absent_conntrack_is_no_data() {
        let (_dir, roots) = temp_roots();
        assert!(matches!(run(&Conntrack, &roots), Err(CollectorError::NoData(_))));
        write(roots.proc("sys/net/netfilter/nf_conntrack_count"), "1\n");
        write(roots.proc("sys/net/netfilter/nf_conntrack_max"), "nope\n");
        let err = run(&Conntrack, &roots).unwrap_err();
        assert!(err.to_string().contains("nf_conntrack_max:1:"), "{err}");
    }
}
