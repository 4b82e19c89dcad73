//! The `loadavg` collector, as node_exporter 1.5's `loadavg_linux.go`: the
//! first three fields of `<proc>/loadavg` as `node_load1`, `node_load5`,
//! `node_load15`.

use super::procfile::{parse_f64, LineError};
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// `loadavg = load1 SP load5 SP load15 SP running/total SP last-pid`; only the
/// first three are read.
pub fn parse_loadavg(text: &str) -> Result<[f64; 3], LineError> {
    let parts: Vec<&str> = text.split_ascii_whitespace().collect();
    if parts.len() < 3 {
        return Err(LineError::new(1, format!("unexpected content in loadavg: {:?}", text.trim())));
    }
    Ok([
        parse_f64(parts[0], 1, "loadavg")?,
        parse_f64(parts[1], 1, "loadavg")?,
        parse_f64(parts[2], 1, "loadavg")?,
    ])
}

/// The `loadavg` collector.
#[derive(Debug, Default)]
pub struct Loadavg;

impl Collector for Loadavg {
    fn name(&self) -> &'static str {
        "loadavg"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let path = ctx.roots.proc("loadavg");
        let loads = parse_loadavg(&read_file(&path)?).map_err(|e| e.at(&path))?;
        for ((name, help), value) in [
            ("node_load1", "1m load average."),
            ("node_load5", "5m load average."),
            ("node_load15", "15m load average."),
        ]
        .into_iter()
        .zip(loads)
        {
            out.push(name, help, Kind::Gauge, &[], value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture_roots, run};

    #[test]
    fn parses_loadavg_and_rejects_bad_input() {
        assert_eq!(parse_loadavg("5.25 3.02 2.07 6/402 12345\n").unwrap(), [5.25, 3.02, 2.07]);
        assert!(parse_loadavg("5.25 3.02\n").unwrap_err().message.contains("unexpected content"));
        assert!(parse_loadavg("").is_err());
        assert!(parse_loadavg("a b c\n").unwrap_err().message.contains("invalid value \"a\""));
    }

    #[test]
    fn fixture_tree_yields_three_gauges() {
        let out = run(&Loadavg, &fixture_roots()).unwrap();
        assert!(out
            .to_text()
            .contains("# HELP node_load15 15m load average.\n# TYPE node_load15 gauge\n"));
        assert_eq!(out.len(), 3);
    }
}
