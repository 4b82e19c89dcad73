//! The `netstat` collector: `<proc>/net/netstat`, `<proc>/net/snmp` and
//! `<proc>/net/snmp6`, as node_exporter 1.5's `netstat_linux.go` reads them,
//! with its default `--collector.netstat.fields` regex. Each selected
//! statistic becomes an untyped `node_netstat_<Protocol>_<Name>`.
//!
//! Grammars:
//! - netstat, snmp = *( header-line value-line ); header-line = protocol ":"
//!   *( SP name ); value-line = protocol ":" *( SP number ) with as many
//!   numbers as names.
//! - snmp6 = *( protocol-and-name *WSP number NEWLINE ), the protocol being
//!   the name up to and including its first "6" (`Icmp6InMsgs` is `Icmp6`,
//!   `InMsgs`); lines without a "6" or a value are skipped.
//!
//! A missing `snmp6` (IPv6 disabled) is skipped, as node_exporter does.

use std::io::ErrorKind;

use regex::Regex;

use super::procfile::{parse_f64, LineError};
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// node_exporter 1.5's default `--collector.netstat.fields`.
pub const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// The `netstat` collector.
#[derive(Debug)]
pub struct Netstat {
    fields: Regex,
}

impl Default for Netstat {
    fn default() -> Self {
        Netstat { fields: Regex::new(DEFAULT_FIELDS).expect("BUG: default netstat regex") }
    }
}

impl Netstat {
    /// A collector exporting the `Protocol_Name` keys that match `fields`.
    pub fn with_fields(fields: &str) -> Result<Self, regex::Error> {
        Ok(Netstat { fields: Regex::new(fields)? })
    }
}

/// One statistic: protocol, name, value.
pub type Stat<'a> = (&'a str, &'a str, f64);

/// Parses `net/netstat` or `net/snmp` (pairs of header and value lines).
pub fn parse_netstat(text: &str) -> Result<Vec<Stat<'_>>, LineError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, names)) = lines.next() {
        let names: Vec<&str> = names.split_whitespace().collect();
        let Some(first) = names.first() else { continue };
        let Some(protocol) = first.strip_suffix(':') else {
            return Err(LineError::new(i + 1, format!("expected \"Protocol:\", found {first:?}")));
        };
        let Some((_, values)) = lines.next() else {
            return Err(LineError::new(
                i + 1,
                format!("no value line after the {protocol} header"),
            ));
        };
        let values: Vec<&str> = values.split_whitespace().collect();
        if values.len() != names.len() || values.first() != names.first() {
            return Err(LineError::new(
                i + 2,
                format!(
                    "field count mismatch for {protocol}: {} names, {} values",
                    names.len().saturating_sub(1),
                    values.len().saturating_sub(1)
                ),
            ));
        }
        for (name, value) in names[1..].iter().zip(&values[1..]) {
            out.push((protocol, *name, parse_f64(value, i + 2, "netstats")?));
        }
    }
    Ok(out)
}

/// Parses `net/snmp6` (one `Protocol6Name value` per line).
pub fn parse_snmp6(text: &str) -> Result<Vec<Stat<'_>>, LineError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else { continue };
        if let Some(six) = key.find('6') {
            out.push((&key[..=six], &key[six + 1..], parse_f64(value, i + 1, "netstats")?));
        }
    }
    Ok(out)
}

impl Netstat {
    fn push_all(&self, stats: &[Stat<'_>], out: &mut MetricSet) {
        let mut key = String::new();
        for &(protocol, name, v) in stats {
            key.clear();
            key.push_str(protocol);
            key.push('_');
            key.push_str(name);
            if !self.fields.is_match(&key) {
                continue;
            }
            out.push(
                &format!("node_netstat_{key}"),
                &format!("Statistic {protocol}{name}."),
                Kind::Untyped,
                &[],
                v,
            );
        }
    }
}

impl Collector for Netstat {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let netstat_path = ctx.roots.proc("net/netstat");
        let snmp_path = ctx.roots.proc("net/snmp");
        let snmp6_path = ctx.roots.proc("net/snmp6");
        let netstat = read_file(&netstat_path)?;
        let snmp = read_file(&snmp_path)?;
        let snmp6 = match std::fs::read_to_string(&snmp6_path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
            Err(e) => return Err(CollectorError::io(&snmp6_path, e)),
        };
        let netstat_stats = parse_netstat(&netstat).map_err(|e| e.at(&netstat_path))?;
        let snmp_stats = parse_netstat(&snmp).map_err(|e| e.at(&snmp_path))?;
        let snmp6_stats = parse_snmp6(&snmp6).map_err(|e| e.at(&snmp6_path))?;
        self.push_all(&netstat_stats, out);
        self.push_all(&snmp_stats, out);
        self.push_all(&snmp6_stats, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture, fixture_roots, run, temp_roots, write};

    #[test]
    fn parses_header_and_value_pairs() {
        let text = "TcpExt: SyncookiesSent ListenDrops\nTcpExt: 1 5\nIpExt: InOctets\nIpExt: 42\n";
        assert_eq!(
            parse_netstat(text),
            Ok(vec![
                ("TcpExt", "SyncookiesSent", 1.0),
                ("TcpExt", "ListenDrops", 5.0),
                ("IpExt", "InOctets", 42.0)
            ])
        );
    }

    #[test]
    fn rejects_truncated_and_mismatched_files_with_their_line() {
        for (input, line, msg) in [
            ("TcpExt: A B\nTcpExt: 1\n", 2, "field count mismatch for TcpExt: 2 names, 1 values"),
            ("TcpExt: A B\n", 1, "no value line after the TcpExt header"),
            ("Ip: A\nIp: 1\nTcp: A\nUdp: 1\n", 4, "field count mismatch"),
            ("Ip A\nIp 1\n", 1, "expected \"Protocol:\""),
            ("Tcp: A MaxConn\nTcp: 1 x\n", 2, "invalid value \"x\""),
        ] {
            let err = parse_netstat(input).unwrap_err();
            assert_eq!(err.line, line, "{input:?}: {err}");
            assert!(err.message.contains(msg), "{err}");
        }
    }

    #[test]
    fn splits_snmp6_names_at_the_first_six() {
        let text = "Ip6InReceives                   \t2\nIcmp6InMsgs 3\nUdpLite6InErrors 0\nNoSix 1\nIp6Lonely\n";
        assert_eq!(
            parse_snmp6(text),
            Ok(vec![
                ("Ip6", "InReceives", 2.0),
                ("Icmp6", "InMsgs", 3.0),
                ("UdpLite6", "InErrors", 0.0)
            ])
        );
        assert_eq!(parse_snmp6("Ip6A 1\nIp6B -\n").unwrap_err().line, 2);
    }

    #[test]
    fn fixture_exports_node_exporters_default_fields() {
        for f in ["proc/net/netstat", "proc/net/snmp"] {
            assert!(parse_netstat(&std::fs::read_to_string(fixture(f)).unwrap()).is_ok(), "{f}");
        }
        let set = run(&Netstat::default(), &fixture_roots()).unwrap();
        for name in [
            "node_netstat_Tcp_CurrEstab",
            "node_netstat_TcpExt_ListenDrops",
            "node_netstat_Icmp6_InMsgs",
            "node_netstat_Ip6_InOctets",
            "node_netstat_IpExt_InOctets",
            "node_netstat_Ip_Forwarding",
            "node_netstat_UdpLite6_InErrors",
        ] {
            assert!(set.get(name, &[]).is_some(), "{name} missing");
        }
        assert!(set.get("node_netstat_Tcp_MaxConn", &[]).is_none());
        assert!(set.to_text().contains(
            "# HELP node_netstat_Tcp_InSegs Statistic TcpInSegs.\n# TYPE node_netstat_Tcp_InSegs untyped\n"
        ));
    }

    #[test]
    fn bad_value_fails_and_missing_snmp6_is_skipped() {
        let (_dir, roots) = temp_roots();
        write(roots.proc("net/netstat"), "TcpExt: ListenDrops\nTcpExt: 3\n");
        write(roots.proc("net/snmp"), "Tcp: CurrEstab\nTcp: 2\n");
        let set = run(&Netstat::default(), &roots).unwrap();
        assert_eq!(set.len(), 2);
        write(roots.proc("net/snmp"), "Tcp: CurrEstab\nTcp: two\n");
        let err = run(&Netstat::default(), &roots).unwrap_err();
        assert!(err.to_string().contains("net/snmp"), "{err}");
        assert!(err.to_string().contains("invalid value \"two\""), "{err}");
    }
}
