//! The `filefd` collector: `<proc>/sys/fs/file-nr` as node_exporter 1.5's
//! `filefd_linux.go` reads it. The file is one line of three tab-separated
//! numbers (allocated, allocated-but-unused, maximum); node_exporter exports
//! the first and the third as gauges.

use super::procfile::{parse_f64, LineError};
use super::{read_file, Collector, CollectorError, Context, Kind, MetricSet};

/// The `filefd` collector.
#[derive(Debug, Default)]
pub struct Filefd;

/// The two numbers node_exporter exports from `file-nr`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileNr {
    pub allocated: f64,
    pub maximum: f64,
}

/// file-nr = allocated TAB unused TAB maximum NEWLINE
///
pub fn parse_file_nr(text: &str) -> Result<FileNr, LineError> {
    let trimmed = text.trim();
    let parts: Vec<&str> = trimmed.split('\t').collect();
    if parts.len() < 3 {
        return Err(LineError::new(1, format!("unexpected number of file stats in {trimmed:?}")));
    }
    Ok(FileNr {
        allocated: parse_f64(parts[0], 1, "file-nr")?,
        maximum: parse_f64(parts[2], 1, "file-nr")?,
    })
}

impl Collector for Filefd {
    fn name(&self) -> &'static str {
        "filefd"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let path = ctx.roots.proc("sys/fs/file-nr");
        let text = read_file(&path)?;
        let nr = parse_file_nr(&text).map_err(|e| e.at(&path))?;
        for (name, value) in [("allocated", nr.allocated), ("maximum", nr.maximum)] {
            out.push(
                &format!("node_filefd_{name}"),
                &format!("File descriptor statistics: {name}."),
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
    use crate::hostmetrics::procfile::testing::{fixture_roots, run};

    #[track_caller]
    fn check(input: &str, want: Result<FileNr, &str>) {
        match (parse_file_nr(input), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => assert!(got.message.contains(want), "{got:?} lacks {want:?}"),
            (got, want) => panic!("input {input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parses_file_nr_and_rejects_bad_input() {
        check("627\t0\t2466177\n", Ok(FileNr { allocated: 627.0, maximum: 2466177.0 }));
        check("627\t0\n", Err("unexpected number of file stats"));
        check("", Err("unexpected number of file stats"));
        check("627 0 2466177\n", Err("unexpected number of file stats"));
        check("x\t0\t5\n", Err("invalid value \"x\""));
    }

    #[test]
    fn fixture_yields_node_exporter_families() {
        let set = run(&Filefd, &fixture_roots()).unwrap();
        assert_eq!(set.get("node_filefd_allocated", &[]), Some(1131.0));
        assert_eq!(set.get("node_filefd_maximum", &[]), Some(2466177.0));
        let text = set.to_text();
        assert!(text.contains(
            "# HELP node_filefd_allocated File descriptor statistics: allocated.\n\
             # TYPE node_filefd_allocated gauge\n"
        ));
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let roots = crate::hostmetrics::Roots {
            proc: "/nonexistent/proc".into(),
            ..crate::hostmetrics::Roots::default()
        };
        let err = run(&Filefd, &roots).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/proc/sys/fs/file-nr"), "{err}");
    }
}
