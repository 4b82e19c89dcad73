//! Small helpers shared by the procfs parsers: a parse error that knows its
//! line (the caller adds the file), and number parsing with node_exporter's
//! messages.

use std::path::Path;

use super::CollectorError;

/// A parse failure at a 1-based line of the file being parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl LineError {
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        LineError { line, message: message.into() }
    }

    /// The same error, naming the file it came from.
    pub fn at(self, path: &Path) -> CollectorError {
        CollectorError::parse(path, self.line, self.message)
    }
}

/// Parses a float as Go's `strconv.ParseFloat` accepts the kernel's numbers.
pub fn parse_f64(s: &str, line: usize, what: &str) -> Result<f64, LineError> {
    s.parse::<f64>()
        .map_err(|e| LineError::new(line, format!("invalid value {s:?} in {what}: {e}")))
}

/// Parses an unsigned integer (decimal).
pub fn parse_u64(s: &str, line: usize, what: &str) -> Result<u64, LineError> {
    s.parse::<u64>()
        .map_err(|e| LineError::new(line, format!("invalid value {s:?} in {what}: {e}")))
}

/// Test helpers: the committed fixture tree and a one-collector run.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    use crate::hostmetrics::{Collector, CollectorError, Context, MetricSet, Roots};

    /// `tests/data/hostmetrics/<rel>`.
    pub fn fixture(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostmetrics").join(rel)
    }

    /// The fixture tree captured from the development machine, as `Roots`.
    pub fn fixture_roots() -> Roots {
        Roots { proc: fixture("proc"), sys: fixture("sys"), root: fixture("root") }
    }

    /// Runs one collector once against `roots`.
    pub fn run(c: &dyn Collector, roots: &Roots) -> Result<MetricSet, CollectorError> {
        let mut out = MetricSet::default();
        c.update(&Context { roots, textfile_directory: None }, &mut out)?;
        Ok(out)
    }

    /// A fresh temp dir laid out as a `Roots` (proc/, sys/, root/).
    pub fn temp_roots() -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().expect("BUG: temp dir");
        let roots = Roots {
            proc: dir.path().join("proc"),
            sys: dir.path().join("sys"),
            root: dir.path().join("root"),
        };
        (dir, roots)
    }

    /// Writes `text` at `path`, creating parent directories.
    pub fn write(path: PathBuf, text: &str) {
        std::fs::create_dir_all(path.parent().expect("BUG: no parent")).expect("BUG: mkdir");
        std::fs::write(path, text).expect("BUG: write");
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{fixture, run};
    use crate::hostmetrics::{
        conntrack, diskstats, entropy, filefd, filesystem, netdev, netstat, pressure, sockstat,
        vmstat, Collector, CollectorError, Roots,
    };

    /// Every collector of engineer B on `tests/data/hostmetrics/truncated`, a
    /// copy of the captured tree with each file cut short mid-line: a parse
    /// error naming the file and line, never a panic or a silent success.
    #[test]
    fn every_collector_names_the_file_and_line_of_a_truncated_file() {
        let roots =
            Roots { proc: fixture("truncated/proc"), sys: fixture("sys"), root: fixture("root") };
        let cases: Vec<(Box<dyn Collector>, &str, usize)> = vec![
            (Box::new(conntrack::Conntrack), "net/stat/nf_conntrack", 2),
            (Box::new(diskstats::Diskstats::default()), "diskstats", 9),
            (Box::new(entropy::Entropy), "sys/kernel/random/entropy_avail", 1),
            (Box::new(filefd::Filefd), "sys/fs/file-nr", 1),
            (Box::new(filesystem::Filesystem::default()), "1/mounts", 6),
            (Box::new(netdev::Netdev::default()), "net/dev", 6),
            (Box::new(netstat::Netstat::default()), "net/netstat", 3),
            (Box::new(pressure::Pressure), "pressure/cpu", 1),
            (Box::new(sockstat::Sockstat), "net/sockstat", 2),
            (Box::new(vmstat::Vmstat::default()), "vmstat", 96),
        ];
        for (collector, file, want_line) in cases {
            match run(collector.as_ref(), &roots) {
                Err(CollectorError::Parse { path, line, message }) => {
                    assert_eq!(path, roots.proc(file), "{}", collector.name());
                    assert_eq!(line, want_line, "{}: {message}", collector.name());
                }
                other => panic!("{}: want a parse error, got {other:?}", collector.name()),
            }
        }
    }

    /// Every captured file B's parsers read.
    const CAPTURED: [&str; 16] = [
        "proc/1/mounts",
        "proc/diskstats",
        "proc/net/dev",
        "proc/net/netstat",
        "proc/net/snmp",
        "proc/net/snmp6",
        "proc/net/sockstat",
        "proc/net/sockstat6",
        "proc/net/stat/nf_conntrack",
        "proc/pressure/cpu",
        "proc/pressure/io",
        "proc/sys/fs/file-nr",
        "proc/sys/kernel/random/entropy_avail",
        "proc/vmstat",
        "root-udev/run/udev/data/b254:0",
        "proc/sys/net/netfilter/nf_conntrack_max",
    ];

    /// Runs every parser on `text`; each error must name a line of it.
    fn parse_everything(text: &str) {
        let last = text.lines().count() + 1;
        let mut lines = vec![
            filefd::parse_file_nr(text).err(),
            entropy::parse_uint_file(text).err(),
            conntrack::parse_conntrack_stat(text).err(),
            pressure::parse_psi(text).err(),
            vmstat::parse_vmstat(text).err(),
            sockstat::parse_sockstat(text).err(),
            netstat::parse_netstat(text).err(),
            netstat::parse_snmp6(text).err(),
            netdev::parse_net_dev(text).err(),
            diskstats::parse_diskstats(text).err(),
            filesystem::parse_mounts(text, "/host/root").err(),
        ];
        diskstats::parse_udev_properties(text);
        for err in lines.drain(..).flatten() {
            assert!((1..=last).contains(&err.line), "{err} outside 1..={last} of {text:?}");
        }
    }

    proptest::proptest! {
        /// Captured files cut anywhere and with one character replaced: every
        /// parser returns a value or an error on a line of the input, and
        /// never panics.
        #[test]
        fn parsers_never_panic_on_cut_or_damaged_files(
            file in 0..CAPTURED.len(),
            cut in 0.0..=1.0f64,
            damage in proptest::option::of((0.0..1.0f64, proptest::sample::select(vec!['x', ' ', '\n', ':', '-', '\t', '=', '\u{e9}', '6']))),
        ) {
            let text = std::fs::read_to_string(fixture(CAPTURED[file])).unwrap();
            let mut chars: Vec<char> = text.chars().collect();
            chars.truncate((chars.len() as f64 * cut) as usize);
            if let Some((at, c)) = damage {
                if !chars.is_empty() {
                    let i = ((chars.len() as f64 * at) as usize).min(chars.len() - 1);
                    chars[i] = c;
                }
            }
            parse_everything(&chars.into_iter().collect::<String>());
        }
    }
}
