//! The `entropy` collector: `<proc>/sys/kernel/random/entropy_avail` and
//! `poolsize`, as node_exporter 1.5's `entropy_linux.go` (through procfs'
//! `KernelRandom`) reads them. Each file holds one unsigned integer.

use std::io::ErrorKind;

use super::procfile::{parse_u64, LineError};
use super::{Collector, CollectorError, Context, Kind, MetricSet};

/// The `entropy` collector.
#[derive(Debug, Default)]
pub struct Entropy;

/// A file holding one unsigned integer and a newline.
pub fn parse_uint_file(text: &str) -> Result<u64, LineError> {
    parse_u64(text.trim(), 1, "file")
}

/// Reads one integer file; `None` when it does not exist (procfs skips those).
fn read_optional(path: &std::path::Path) -> Result<Option<u64>, CollectorError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_uint_file(&text).map(Some).map_err(|e| e.at(path)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectorError::io(path, e)),
    }
}

impl Collector for Entropy {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let avail_path = ctx.roots.proc("sys/kernel/random/entropy_avail");
        let pool_path = ctx.roots.proc("sys/kernel/random/poolsize");
        let avail = read_optional(&avail_path)?;
        let pool = read_optional(&pool_path)?;
        let Some(avail) = avail else {
            return Err(CollectorError::io(
                &avail_path,
                std::io::Error::new(ErrorKind::NotFound, "couldn't get entropy_avail"),
            ));
        };
        out.push(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            Kind::Gauge,
            &[],
            avail as f64,
        );
        let Some(pool) = pool else {
            return Err(CollectorError::io(
                &pool_path,
                std::io::Error::new(ErrorKind::NotFound, "couldn't get entropy poolsize"),
            ));
        };
        out.push(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            Kind::Gauge,
            &[],
            pool as f64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture_roots, run, temp_roots, write};

    #[test]
    fn parses_one_integer_and_rejects_others() {
        assert_eq!(parse_uint_file("256\n"), Ok(256));
        assert_eq!(parse_uint_file("0"), Ok(0));
        for bad in ["", "\n", "-1\n", "25x\n", "1 2\n"] {
            let err = parse_uint_file(bad).unwrap_err();
            assert_eq!(err.line, 1, "{bad:?}");
            assert!(err.message.contains("invalid value"), "{err}");
        }
    }

    #[test]
    fn fixture_yields_both_gauges() {
        let set = run(&Entropy, &fixture_roots()).unwrap();
        assert_eq!(set.get("node_entropy_available_bits", &[]), Some(256.0));
        assert_eq!(set.get("node_entropy_pool_size_bits", &[]), Some(256.0));
        assert!(set
            .to_text()
            .contains("# HELP node_entropy_pool_size_bits Bits of entropy pool.\n"));
    }

    #[test]
    fn missing_poolsize_keeps_available_bits_but_fails() {
        let (_dir, roots) = temp_roots();
        write(roots.proc("sys/kernel/random/entropy_avail"), "3000\n");
        let mut out = MetricSet::default();
        let ctx = Context { roots: &roots, textfile_directory: None };
        let err = Entropy.update(&ctx, &mut out).unwrap_err();
        assert!(err.to_string().contains("poolsize"), "{err}");
        assert_eq!(out.get("node_entropy_available_bits", &[]), Some(3000.0));
    }

    #[test]
    fn truncated_file_is_a_parse_error_naming_the_file() {
        let (_dir, roots) = temp_roots();
        write(roots.proc("sys/kernel/random/entropy_avail"), "");
        write(roots.proc("sys/kernel/random/poolsize"), "256\n");
        let err = run(&Entropy, &roots).unwrap_err();
        assert!(err.to_string().contains("entropy_avail:1:"), "{err}");
    }
}
