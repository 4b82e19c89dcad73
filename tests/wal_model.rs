//! Model test of the WAL: random sequences of append, sync, crash (with or
//! without a torn tail), clean reopen, read + commit and
//! truncate_acknowledged, checked against a list of batches in memory.
//!
//! The property: whatever happened, a reader from the committed cursor
//! returns exactly the samples appended after the committed position that
//! survived (all of them after a process crash; those before the cut of a
//! torn tail), in order, each with the position after its batch.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use tern::labels::{Labels, Series, SharedSeries};
use tern::scrape::SeriesSample;
use tern::wal::{Cursor, FsyncPolicy, Position, Wal, WalMetrics, WalOptions, WalSample};

const SPECIALS: [u64; 6] = [
    0x7ff0_0000_0000_0002, // StaleNaN
    0x7ff8_0000_0000_0001, // a NaN with a payload
    0x7ff0_0000_0000_0000, // +Inf
    0xfff0_0000_0000_0000, // -Inf
    0x8000_0000_0000_0000, // -0.0
    0,
];

#[derive(Debug, Clone)]
enum Op {
    /// Samples as (series, timestamp jitter, value choice).
    Append(Vec<(u8, i8, u8)>),
    Sync,
    /// Drop the WAL without sync; optionally cut the last segment at
    /// `tear % (len + 1)` (a torn write), then reopen.
    Crash {
        tear: Option<u32>,
    },
    /// Sync, drop, reopen.
    Reopen,
    /// Read everything in chunks of `chunk`; commit the end of one sample.
    Read {
        chunk: usize,
        commit: Option<Index>,
    },
    TruncateAcknowledged,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((0u8..8, any::<i8>(), any::<u8>()), 0..7).prop_map(Op::Append),
        1 => Just(Op::Sync),
        2 => prop::option::of(any::<u32>()).prop_map(|tear| Op::Crash { tear }),
        1 => Just(Op::Reopen),
        3 => (1usize..9, prop::option::weighted(0.7, any::<Index>()))
            .prop_map(|(chunk, commit)| Op::Read { chunk, commit }),
        1 => Just(Op::TruncateAcknowledged),
    ]
}

struct Harness {
    dir: PathBuf,
    wal: Option<Wal>,
    cursor: Cursor,
    series: Vec<SharedSeries>,
    /// Surviving batches: position after each, and its samples.
    batches: Vec<(Position, Vec<SeriesSample>)>,
    committed: Position,
    clock: i64,
}

fn options(dir: &Path) -> WalOptions {
    WalOptions {
        max_size: 1 << 30,
        segment_size: Some(300),
        fsync: FsyncPolicy::Never,
        ..WalOptions::new(dir)
    }
}

impl Harness {
    fn new(dir: &Path) -> Self {
        let (wal, _) = Wal::open(options(dir), WalMetrics::unregistered()).unwrap();
        let cursor = wal.register_cursor("remote");
        let series = (0..8)
            .map(|i| Labels::from_pairs([("__name__", "m"), ("s", &i.to_string())]))
            .map(|l| SharedSeries::new(Series::new(l)))
            .collect();
        Harness {
            dir: dir.to_owned(),
            wal: Some(wal),
            cursor,
            series,
            batches: Vec::new(),
            committed: Position::default(),
            clock: 1_700_000_000_000,
        }
    }

    fn wal(&mut self) -> &mut Wal {
        self.wal.as_mut().expect("open")
    }

    fn reopen(&mut self) {
        let (wal, report) = Wal::open(options(&self.dir), WalMetrics::unregistered()).unwrap();
        assert!(report.damage.iter().all(|d| d.truncated), "only tails are damaged: {report:?}");
        self.cursor = wal.register_cursor("remote");
        self.wal = Some(wal);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Append(spec) => self.append(&spec),
            Op::Sync => self.wal().sync().unwrap(),
            Op::Crash { tear } => {
                self.wal = None;
                if let Some(tear) = tear {
                    self.tear(tear);
                }
                self.reopen();
            }
            Op::Reopen => {
                self.wal().sync().unwrap();
                self.wal = None;
                self.reopen();
            }
            Op::Read { chunk, commit } => self.read(chunk, commit),
            Op::TruncateAcknowledged => {
                self.wal().truncate_acknowledged().unwrap();
            }
        }
    }

    fn append(&mut self, spec: &[(u8, i8, u8)]) {
        self.clock += 15_000;
        let batch: Vec<_> = spec
            .iter()
            .map(|&(s, jitter, v)| {
                let labels = self.series[s as usize].clone();
                let value = match v % 4 {
                    0 => f64::from_bits(SPECIALS[v as usize / 4 % SPECIALS.len()]),
                    1 => f64::from(v),
                    2 => self.clock as f64 / 1e3 + f64::from(v) * 0.01,
                    _ => 1.0,
                };
                SeriesSample { series: labels, timestamp_ms: self.clock + i64::from(jitter), value }
            })
            .collect();
        let before = self.wal().head();
        let end = self.wal().append(&batch).unwrap();
        if batch.is_empty() {
            assert_eq!(end, before);
        } else {
            assert!(end > before);
            self.batches.push((end, batch));
        }
    }

    /// Cuts the highest segment, and forgets the batches that ended past the cut.
    fn tear(&mut self, tear: u32) {
        let wal_dir = &self.dir;
        let last: u64 = std::fs::read_dir(wal_dir)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
            .max()
            .unwrap();
        let path = wal_dir.join(format!("{last:08}"));
        let len = std::fs::metadata(&path).unwrap().len();
        let cut = u64::from(tear) % (len + 1);
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(cut).unwrap();
        self.batches.retain(|(end, _)| end.segment != last || end.offset <= cut);
    }

    fn expected(&self) -> Vec<(Position, &SeriesSample)> {
        self.batches
            .iter()
            .filter(|(end, _)| *end > self.committed)
            .flat_map(|(end, b)| b.iter().map(move |s| (*end, s)))
            .collect()
    }

    fn read(&mut self, chunk: usize, commit: Option<Index>) {
        let mut reader = self.wal.as_ref().unwrap().reader(&self.cursor);
        let mut got: Vec<WalSample> = Vec::new();
        loop {
            let batch = reader.next_batch(chunk).unwrap();
            assert!(batch.len() <= chunk);
            if batch.is_empty() {
                break;
            }
            got.extend(batch);
        }
        assert_eq!(reader.skipped_samples(), 0);
        let want = self.expected();
        let got_view: Vec<_> = got
            .iter()
            .map(|s| {
                let labels = s.series.labels().clone();
                (s.end, labels, s.series.hash(), s.timestamp_ms, s.value.to_bits())
            })
            .collect();
        let want_view: Vec<_> = want
            .iter()
            .map(|(end, s)| {
                (
                    *end,
                    s.series.labels().clone(),
                    s.series.stable_hash(),
                    s.timestamp_ms,
                    s.value.to_bits(),
                )
            })
            .collect();
        assert_eq!(got_view, want_view);
        if let (Some(i), false) = (commit, got.is_empty()) {
            let end = got[i.index(got.len())].end;
            self.cursor.commit(end).unwrap();
            self.committed = end;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn reads_after_any_history_match_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Harness::new(dir.path());
        for op in ops {
            h.apply(op);
        }
        h.apply(Op::Crash { tear: None });
        h.apply(Op::Read { chunk: 5, commit: None });
    }
}
