//! The `vmstat` collector: `<proc>/vmstat`, as node_exporter 1.5's
//! `vmstat_linux.go` reads it, with its default `--collector.vmstat.fields`
//! regex `^(oom_kill|pgpg|pswp|pg.*fault).*`. Every selected line becomes an
//! untyped `node_vmstat_<name>`.
//!
//! Grammar: vmstat = *( name SP number NEWLINE ). As node_exporter, every
//! line's value is parsed (a bad value fails the collector) before the field
//! regex is applied.

use regex::Regex;

use super::procfile::{parse_f64, LineError};
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// node_exporter 1.5's default `--collector.vmstat.fields`.
pub const DEFAULT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

/// The `vmstat` collector.
#[derive(Debug)]
pub struct Vmstat {
    fields: Regex,
}

impl Default for Vmstat {
    fn default() -> Self {
        Vmstat { fields: Regex::new(DEFAULT_FIELDS).expect("BUG: default vmstat regex") }
    }
}

impl Vmstat {
    /// A collector exporting the fields that match `fields` (unanchored, as
    /// Go's `MatchString`).
    pub fn with_fields(fields: &str) -> Result<Self, regex::Error> {
        Ok(Vmstat { fields: Regex::new(fields)? })
    }
}

/// Parses `/proc/vmstat` into (name, value) pairs in file order.
pub fn parse_vmstat(text: &str) -> Result<Vec<(&str, f64)>, LineError> {
    let mut out = Vec::with_capacity(200);
    for (i, line) in text.lines().enumerate() {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            return Err(LineError::new(i + 1, format!("expected \"name value\", found {line:?}")));
        };
        out.push((name, parse_f64(value, i + 1, "vmstat")?));
    }
    Ok(out)
}

impl Collector for Vmstat {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let path = ctx.roots.proc("vmstat");
        let text = read_file(&path)?;
        for (name, value) in parse_vmstat(&text).map_err(|e| e.at(&path))? {
            if !self.fields.is_match(name) {
                continue;
            }
            out.push(
                &format!("node_vmstat_{name}"),
                &format!("/proc/vmstat information field {name}."),
                Kind::Untyped,
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
    fn parses_pairs_and_rejects_truncated_or_bad_lines() {
        assert_eq!(
            parse_vmstat("pgfault 10\noom_kill 0\n"),
            Ok(vec![("pgfault", 10.0), ("oom_kill", 0.0)])
        );
        let err = parse_vmstat("pgfault 10\npgmajfault\n").unwrap_err();
        assert_eq!((err.line, err.message.contains("expected")), (2, true), "{err}");
        let err = parse_vmstat("nr_free_pages 1\npgfault 1x\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("invalid value \"1x\""), "{err}");
    }

    #[test]
    fn fixture_exports_the_default_fields_only() {
        let captured = std::fs::read_to_string(fixture("proc/vmstat")).unwrap();
        assert!(parse_vmstat(&captured).unwrap().len() > 100);
        let set = run(&Vmstat::default(), &fixture_roots()).unwrap();
        let names: Vec<&str> = set.family_names().collect();
        assert_eq!(
            names,
            [
                "node_vmstat_oom_kill",
                "node_vmstat_pgfault",
                "node_vmstat_pgmajfault",
                "node_vmstat_pgpgin",
                "node_vmstat_pgpgout",
                "node_vmstat_pswpin",
                "node_vmstat_pswpout"
            ]
        );
        assert!(set.to_text().contains(
            "# HELP node_vmstat_pgfault /proc/vmstat information field pgfault.\n# TYPE node_vmstat_pgfault untyped\n"
        ));
    }

    #[test]
    fn custom_fields_regex_selects_other_lines() {
        let set = run(&Vmstat::with_fields("^nr_free_pages$").unwrap(), &fixture_roots()).unwrap();
        assert_eq!(set.family_names().collect::<Vec<_>>(), ["node_vmstat_nr_free_pages"]);
    }
}
