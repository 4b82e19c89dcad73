//! The `sockstat` collector: `<proc>/net/sockstat` and `<proc>/net/sockstat6`,
//! as node_exporter 1.5's `sockstat_linux.go` (through procfs' `NetSockstat`)
//! reads them. Either file may be missing (no IPv6): it is then skipped.
//!
//! Grammar: sockstat = *( line NEWLINE ); line = "sockets: used" SP uint
//! | protocol ":" *( SP key SP int ). For each protocol node_exporter exports
//! `inuse` (always, 0 when absent) and whichever of `orphan`, `tw`, `alloc`,
//! `mem`, `memory` are present, plus `mem_bytes` = `mem` × the page size.

use std::io::ErrorKind;
use std::path::Path;

use super::procfile::LineError;
use super::{Collector, CollectorError, Context, Kind, MetricSet};

/// The `sockstat` collector.
#[derive(Debug, Default)]
pub struct Sockstat;

/// One protocol line, e.g. `TCP: inuse 4 orphan 0 tw 1 alloc 4 mem 370`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SockstatProtocol {
    pub protocol: String,
    pub inuse: i64,
    pub orphan: Option<i64>,
    pub tw: Option<i64>,
    pub alloc: Option<i64>,
    pub mem: Option<i64>,
    pub memory: Option<i64>,
}

/// One sockstat file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SockstatFile {
    /// `sockets: used N` (IPv4 file only).
    pub used: Option<i64>,
    pub protocols: Vec<SockstatProtocol>,
}

/// Parses a sockstat or sockstat6 file.
pub fn parse_sockstat(text: &str) -> Result<SockstatFile, LineError> {
    let mut file = SockstatFile::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some((first, rest)) = fields.split_first() else { continue };
        let Some(protocol) = first.strip_suffix(':') else {
            return Err(LineError::new(line_no, format!("malformed sockstat line {line:?}")));
        };
        if rest.len() % 2 != 0 {
            return Err(LineError::new(line_no, format!("odd number of fields in {line:?}")));
        }
        let mut pairs = Vec::with_capacity(rest.len() / 2);
        for kv in rest.chunks(2) {
            let value = kv[1].parse::<i64>().map_err(|e| {
                LineError::new(line_no, format!("invalid value {:?} for {}: {e}", kv[1], kv[0]))
            })?;
            pairs.push((kv[0], value));
        }
        if protocol == "sockets" {
            file.used = pairs.iter().find(|(k, _)| *k == "used").map(|(_, v)| *v);
            continue;
        }
        let mut p = SockstatProtocol { protocol: protocol.to_owned(), ..Default::default() };
        for (key, value) in pairs {
            match key {
                "inuse" => p.inuse = value,
                "orphan" => p.orphan = Some(value),
                "tw" => p.tw = Some(value),
                "alloc" => p.alloc = Some(value),
                "mem" => p.mem = Some(value),
                "memory" => p.memory = Some(value),
                _ => {}
            }
        }
        file.protocols.push(p);
    }
    Ok(file)
}

/// Reads and parses one file; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<SockstatFile>, CollectorError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_sockstat(&text).map(Some).map_err(|e| e.at(path)),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            tracing::debug!(path = %path.display(), "sockstat statistics not found, skipping");
            Ok(None)
        }
        Err(e) => Err(CollectorError::io(path, e)),
    }
}

fn push(out: &mut MetricSet, protocol: &str, state: &str, value: i64) {
    out.push(
        &format!("node_sockstat_{protocol}_{state}"),
        &format!("Number of {protocol} sockets in state {state}."),
        Kind::Gauge,
        &[],
        value as f64,
    );
}

/// Pushes one file's samples; `page_size` turns `mem` pages into bytes.
pub fn push_sockstat(out: &mut MetricSet, file: &SockstatFile, ipv6: bool, page_size: i64) {
    if let (false, Some(used)) = (ipv6, file.used) {
        out.push(
            "node_sockstat_sockets_used",
            "Number of IPv4 sockets in use.",
            Kind::Gauge,
            &[],
            used as f64,
        );
    }
    for p in &file.protocols {
        push(out, &p.protocol, "inuse", p.inuse);
        let optional = [
            ("orphan", p.orphan),
            ("tw", p.tw),
            ("alloc", p.alloc),
            ("mem", p.mem),
            ("memory", p.memory),
            ("mem_bytes", p.mem.map(|pages| pages * page_size)),
        ];
        for (state, value) in optional {
            if let Some(v) = value {
                push(out, &p.protocol, state, v);
            }
        }
    }
}

impl Collector for Sockstat {
    fn name(&self) -> &'static str {
        "sockstat"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let v4 = read(&ctx.roots.proc("net/sockstat"))?;
        let v6 = read(&ctx.roots.proc("net/sockstat6"))?;
        let page_size = rustix::param::page_size() as i64;
        if let Some(f) = v4 {
            push_sockstat(out, &f, false, page_size);
        }
        if let Some(f) = v6 {
            push_sockstat(out, &f, true, page_size);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture_roots, run, temp_roots, write};

    #[test]
    fn parses_protocol_lines() {
        let f = parse_sockstat("sockets: used 31\nTCP: inuse 4 orphan 0 tw 1 alloc 4 mem 370\nFRAG: inuse 0 memory 0\n").unwrap();
        assert_eq!(f.used, Some(31));
        assert_eq!(
            f.protocols[0],
            SockstatProtocol {
                protocol: "TCP".into(),
                inuse: 4,
                orphan: Some(0),
                tw: Some(1),
                alloc: Some(4),
                mem: Some(370),
                memory: None
            }
        );
        assert_eq!(f.protocols[1].memory, Some(0));
    }

    #[test]
    fn rejects_malformed_and_truncated_lines_with_their_line() {
        for (input, line, msg) in [
            ("sockets: used 31\nTCP: inuse 4 orphan\n", 2, "odd number"),
            ("TCP inuse 4\n", 1, "malformed"),
            ("sockets: used 31\nUDP: inuse x\n", 2, "invalid value \"x\" for inuse"),
        ] {
            let err = parse_sockstat(input).unwrap_err();
            assert_eq!(err.line, line, "{input:?}");
            assert!(err.message.contains(msg), "{err}");
        }
    }

    #[test]
    fn fixture_yields_node_exporter_names_and_mem_bytes() {
        let set = run(&Sockstat, &fixture_roots()).unwrap();
        let page = rustix::param::page_size() as f64;
        let mem = set.get("node_sockstat_TCP_mem", &[]).unwrap();
        assert_eq!(set.get("node_sockstat_TCP_mem_bytes", &[]), Some(mem * page));
        assert!(set.get("node_sockstat_FRAG6_memory", &[]).is_some());
        assert!(set.get("node_sockstat_FRAG_mem_bytes", &[]).is_none());
        assert!(set.get("node_sockstat_TCP6_inuse", &[]).is_some());
        assert!(set.to_text().contains(
            "# HELP node_sockstat_TCP_tw Number of TCP sockets in state tw.\n# TYPE node_sockstat_TCP_tw gauge\n"
        ));
        assert!(set.get("node_sockstat_sockets_used", &[]).is_some());
    }

    #[test]
    fn missing_ipv6_file_is_skipped() {
        let (_dir, roots) = temp_roots();
        write(roots.proc("net/sockstat"), "sockets: used 2\nUDP: inuse 1 mem 2\n");
        let set = run(&Sockstat, &roots).unwrap();
        assert_eq!(set.len(), 4);
    }
}
