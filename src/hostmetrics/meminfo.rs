//! The `meminfo` collector, as node_exporter 1.5's `meminfo_linux.go`: every
//! line of `<proc>/meminfo` becomes a gauge `node_memory_<Key>` where
//! `Key(x)` is written `Key_x`, and a value with a unit (always `kB`) is
//! multiplied by 1024 and named `..._bytes`.

use super::procfile::LineError;
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// `/proc/meminfo`: `Key: value [kB]` lines, in file order, as
/// (node_exporter key, value). Empty lines are skipped (node_exporter's
/// workaround for some CentOS kernels).
pub fn parse_meminfo(text: &str) -> Result<Vec<(String, f64)>, LineError> {
    let mut out = Vec::with_capacity(64);
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        let Some(raw_key) = parts[0].strip_suffix(':') else {
            return Err(LineError::new(lineno, format!("invalid line in meminfo: {line}")));
        };
        let value: f64 = match parts.get(1).map(|v| v.parse()) {
            Some(Ok(v)) => v,
            _ => return Err(LineError::new(lineno, format!("invalid value in meminfo: {line}"))),
        };
        let mut key = match (raw_key.find('('), raw_key.rfind(')')) {
            (Some(open), Some(close)) if open < close => {
                format!(
                    "{}_{}{}",
                    &raw_key[..open],
                    &raw_key[open + 1..close],
                    &raw_key[close + 1..]
                )
            }
            _ => raw_key.to_owned(),
        };
        let value = match parts.len() {
            2 => value,
            3 => {
                key.push_str("_bytes");
                value * 1024.0
            }
            _ => return Err(LineError::new(lineno, format!("invalid line in meminfo: {line}"))),
        };
        out.push((key, value));
    }
    Ok(out)
}

/// The `meminfo` collector.
#[derive(Debug, Default)]
pub struct Meminfo;

impl Collector for Meminfo {
    fn name(&self) -> &'static str {
        "meminfo"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let path = ctx.roots.proc("meminfo");
        let fields = parse_meminfo(&read_file(&path)?).map_err(|e| e.at(&path))?;
        for (key, value) in fields {
            out.push(
                &format!("node_memory_{key}"),
                &format!("Memory information field {key}."),
                Kind::Gauge,
                &[],
                value,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture, fixture_roots, run};

    #[test]
    fn parses_keys_units_and_parentheses() {
        let got =
            parse_meminfo("MemTotal:  2 kB\nActive(anon): 1 kB\n\nHugePages_Total:   3\n").unwrap();
        let want = vec![
            ("MemTotal_bytes".to_owned(), 2048.0),
            ("Active_anon_bytes".to_owned(), 1024.0),
            ("HugePages_Total".to_owned(), 3.0),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn rejects_malformed_and_truncated_lines() {
        let err = parse_meminfo("MemTotal: 1 kB\nMemFree: x kB\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.starts_with("invalid value in meminfo"));
        assert!(parse_meminfo("MemTotal: 1 kB extra\n").is_err());
        assert!(parse_meminfo("MemTotal 1 kB\n").is_err());
        let full = std::fs::read_to_string(fixture("proc/meminfo")).unwrap();
        let cut = &full[..full.find("MemAvailable").unwrap() + 14];
        assert!(parse_meminfo(cut).is_err());
    }

    #[test]
    fn fixture_tree_yields_node_exporter_names() {
        let out = run(&Meminfo, &fixture_roots()).unwrap();
        let text = out.to_text();
        assert!(text.contains(
            "# HELP node_memory_Active_anon_bytes Memory information field Active_anon_bytes.\n\
             # TYPE node_memory_Active_anon_bytes gauge\n"
        ));
        assert!(out.get("node_memory_MemTotal_bytes", &[]).unwrap() > 1e8);
        assert!(out.get("node_memory_HugePages_Total", &[]).is_some());
    }
}
