//! The `pressure` collector: pressure stall information from
//! `<proc>/pressure/{cpu,io,memory}`, as node_exporter 1.5's
//! `pressure_linux.go` (through procfs' `PSIStatsForResource`) reads it.
//! Without PSI (kernel < 4.20 or `CONFIG_PSI` off) the files are missing and
//! the collector returns `NoData`. Totals are microseconds; exported in seconds.
//!
//! Grammar: psi-file = *( psi-line NEWLINE );
//! psi-line = ("some" | "full") " avg10=" float " avg60=" float " avg300=" float " total=" uint.
//! Lines with other prefixes are ignored, as procfs does.

use std::io::ErrorKind;

use super::procfile::{parse_u64, LineError};
use super::{Collector, CollectorError, Context, Kind, MetricSet};

/// The `pressure` collector.
#[derive(Debug, Default)]
pub struct Pressure;

/// The `total=` of the `some` and `full` lines, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PsiTotals {
    pub some: Option<u64>,
    pub full: Option<u64>,
}

/// Parses one PSI file.
pub fn parse_psi(text: &str) -> Result<PsiTotals, LineError> {
    let mut totals = PsiTotals::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let mut fields = line.split(' ');
        let slot = match fields.next() {
            Some("some") => &mut totals.some,
            Some("full") => &mut totals.full,
            _ => continue,
        };
        let mut total = None;
        for (n, key) in ["avg10", "avg60", "avg300", "total"].into_iter().enumerate() {
            let field = fields.next().unwrap_or("");
            let value =
                field.strip_prefix(key).and_then(|v| v.strip_prefix('=')).ok_or_else(|| {
                    LineError::new(line_no, format!("expected {key}=..., found {field:?}"))
                })?;
            if n < 3 {
                value.parse::<f64>().map_err(|e| {
                    LineError::new(line_no, format!("invalid {key} value {value:?}: {e}"))
                })?;
            } else {
                total = Some(parse_u64(value, line_no, "total")?);
            }
        }
        *slot = total;
    }
    Ok(totals)
}

/// Microseconds to seconds in two steps, as node_exporter computes it
/// (`float64(total) / 1000.0 / 1000.0`), so the last bit agrees.
fn seconds(us: u64) -> f64 {
    us as f64 / 1000.0 / 1000.0
}

impl Collector for Pressure {
    fn name(&self) -> &'static str {
        "pressure"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        for resource in ["cpu", "io", "memory"] {
            let path = ctx.roots.proc(&format!("pressure/{resource}"));
            let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
                ErrorKind::NotFound => CollectorError::NoData(format!(
                    "{}: pressure information is unavailable, you need a Linux kernel >= 4.20 and/or CONFIG_PSI enabled for your kernel",
                    path.display()
                )),
                _ => CollectorError::io(&path, e),
            })?;
            let totals = parse_psi(&text).map_err(|e| e.at(&path))?;
            let need = |v: Option<u64>, which: &str| {
                v.map(seconds)
                    .ok_or_else(|| CollectorError::parse(&path, 0, format!("no \"{which}\" line")))
            };
            match resource {
                "cpu" => out.push(
                    "node_pressure_cpu_waiting_seconds_total",
                    "Total time in seconds that processes have waited for CPU time",
                    Kind::Counter,
                    &[],
                    need(totals.some, "some")?,
                ),
                "io" => {
                    out.push(
                        "node_pressure_io_waiting_seconds_total",
                        "Total time in seconds that processes have waited due to IO congestion",
                        Kind::Counter,
                        &[],
                        need(totals.some, "some")?,
                    );
                    out.push(
                        "node_pressure_io_stalled_seconds_total",
                        "Total time in seconds no process could make progress due to IO congestion",
                        Kind::Counter,
                        &[],
                        need(totals.full, "full")?,
                    );
                }
                _ => {
                    out.push(
                        "node_pressure_memory_waiting_seconds_total",
                        "Total time in seconds that processes have waited for memory",
                        Kind::Counter,
                        &[],
                        need(totals.some, "some")?,
                    );
                    out.push(
                        "node_pressure_memory_stalled_seconds_total",
                        "Total time in seconds no process could make progress due to memory congestion",
                        Kind::Counter,
                        &[],
                        need(totals.full, "full")?,
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture_roots, run, temp_roots, write};

    #[track_caller]
    fn check(input: &str, want: Result<PsiTotals, (usize, &str)>) {
        match (parse_psi(input), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err((line, msg))) => {
                assert_eq!(got.line, line, "{got}");
                assert!(got.message.contains(msg), "{got} lacks {msg:?}");
            }
            (got, want) => panic!("input {input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parses_some_and_full_and_rejects_malformed_lines() {
        check(
            "some avg10=94.72 avg60=53.91 avg300=21.83 total=2588329290\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            Ok(PsiTotals { some: Some(2588329290), full: Some(0) }),
        );
        check(
            "some avg10=1.00 avg60=2.00 avg300=3.00 total=7\n",
            Ok(PsiTotals { some: Some(7), full: None }),
        );
        check("later avg10=1\n", Ok(PsiTotals::default()));
        check("some avg10=1.00 avg60=2.00 avg300=3.00\n", Err((1, "expected total=")));
        check("some avg10=1.00 avg60=2.00 avg300=3.00 total=x\n", Err((1, "invalid value \"x\"")));
        check(
            "some avg10=1.00 avg60=2.00 avg300=3.00 total=1\nfull avg10=zz\n",
            Err((2, "invalid avg10")),
        );
        check("some avg10=1.00 avg60=2.00 avg300=3.00 total=-1\n", Err((1, "invalid value")));
    }

    #[test]
    fn converts_microseconds_as_node_exporter_does() {
        // One division by 1e6 gives 9e-06; node_exporter's two give this.
        assert_eq!(seconds(9), 8.999999999999999e-06);
    }

    #[test]
    fn fixture_yields_the_five_counters_in_seconds() {
        let set = run(&Pressure, &fixture_roots()).unwrap();
        assert_eq!(set.family_names().count(), 5);
        let cpu = set.get("node_pressure_cpu_waiting_seconds_total", &[]).unwrap();
        assert!(cpu > 0.0, "{cpu}");
        assert!(set.to_text().contains("# TYPE node_pressure_io_stalled_seconds_total counter\n"));
    }

    #[test]
    fn missing_psi_is_no_data_and_io_without_full_is_an_error() {
        let (_dir, roots) = temp_roots();
        assert!(matches!(run(&Pressure, &roots), Err(CollectorError::NoData(_))));
        write(roots.proc("pressure/cpu"), "some avg10=0.00 avg60=0.00 avg300=0.00 total=5000000\n");
        write(roots.proc("pressure/io"), "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n");
        write(roots.proc("pressure/memory"), "");
        let err = run(&Pressure, &roots).unwrap_err();
        assert!(err.to_string().contains("pressure/io"), "{err}");
    }
}
