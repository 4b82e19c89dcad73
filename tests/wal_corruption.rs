//! The WAL corruption table: each kind of damage opens, is reported and
//! counted, and everything before the damage is still delivered.

use std::path::{Path, PathBuf};

use tern::labels::{Labels, Series, SharedSeries};
use tern::scrape::SeriesSample;
use tern::wal::{Corruption, FsyncPolicy, Position, Wal, WalMetrics, WalOptions, WalSample};

fn options(dir: &Path) -> WalOptions {
    WalOptions { segment_size: Some(512), fsync: FsyncPolicy::Never, ..WalOptions::new(dir) }
}

/// A WAL of three or more segments; each batch with the position after it.
struct Built {
    dir: PathBuf,
    batches: Vec<(Vec<SeriesSample>, Position)>,
}

impl Built {
    fn new(dir: &Path) -> Self {
        let (mut wal, _) = Wal::open(options(dir), WalMetrics::unregistered()).unwrap();
        let series: Vec<_> = (0..12)
            .map(|i| {
                let labels = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
                SharedSeries::new(Series::new(labels))
            })
            .collect();
        let mut batches = Vec::new();
        for b in 0..60i64 {
            let batch: Vec<_> = series
                .iter()
                .map(|l| SeriesSample {
                    series: l.clone(),
                    timestamp_ms: b * 1000,
                    value: (b * b) as f64 + 0.5,
                })
                .collect();
            let end = wal.append(&batch).unwrap();
            batches.push((batch, end));
        }
        assert!(wal.head().segment >= 3, "{}", wal.head());
        Built { dir: dir.to_owned(), batches }
    }

    fn last_segment(&self) -> u64 {
        self.batches.last().unwrap().1.segment
    }

    fn segment(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n:08}"))
    }

    fn samples_where(&self, keep: impl Fn(Position) -> bool) -> Vec<SeriesSample> {
        self.batches.iter().filter(|(_, end)| keep(*end)).flat_map(|(b, _)| b.clone()).collect()
    }
}

/// `(start, end)` of every record in a segment file.
fn records(path: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push((at as u64, (at + 9 + len) as u64));
        at += 9 + len;
    }
    out
}

fn modify(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

fn read_all(wal: &Wal) -> Vec<WalSample> {
    let mut reader = wal.reader(&wal.register_cursor("remote"));
    let mut out = Vec::new();
    while reader.read_into(&mut out, 500).unwrap() > 0 {}
    out
}

#[track_caller]
fn assert_same(got: &[WalSample], want: &[SeriesSample]) {
    let got: Vec<_> = got.iter().map(|s| (s.series.clone(), s.timestamp_ms, s.value)).collect();
    let want: Vec<_> = want.iter().map(|s| (s.series.clone(), s.timestamp_ms, s.value)).collect();
    assert_eq!(got, want);
}

/// What a case expects from `open`.
struct Want {
    damage: Option<(Corruption, bool)>,
    ignored_files: usize,
    bad_cursors: usize,
}

const CLEAN: Want = Want { damage: None, ignored_files: 0, bad_cursors: 0 };

/// Builds a WAL, damages it, reopens it and checks the report, the metrics
/// and that exactly the samples `keep` selects are delivered; then checks
/// that appends after the repair read back after them.
#[track_caller]
fn check(damage: impl FnOnce(&Built) -> Box<dyn Fn(Position) -> bool>, want: Want) {
    let dir = tempfile::tempdir().unwrap();
    let built = Built::new(dir.path());
    let keep = damage(&built);
    let metrics = WalMetrics::unregistered();
    let (mut wal, report) = Wal::open(options(dir.path()), metrics.clone()).unwrap();
    let got_damage = report.damage.first().map(|d| (d.kind, d.truncated));
    assert_eq!(got_damage, want.damage, "{report:#?}");
    assert!(report.damage.len() <= 1, "{report:#?}");
    assert_eq!(report.ignored_files.len(), want.ignored_files, "{report:#?}");
    assert_eq!(report.bad_cursors.len(), want.bad_cursors, "{report:#?}");
    assert_eq!(metrics.corrupt_records.get(), u64::from(want.damage.is_some()));
    let truncated = want.damage.is_some_and(|(_, t)| t);
    assert_eq!(metrics.truncations.get(), u64::from(truncated));
    let mut expected = built.samples_where(&keep);
    assert_same(&read_all(&wal), &expected);

    let extra = built.batches[0].0.clone();
    wal.append(&extra).unwrap();
    drop(wal);
    let (wal, report) = Wal::open(options(dir.path()), WalMetrics::unregistered()).unwrap();
    assert!(report.damage.iter().all(|d| !d.truncated), "repaired for good: {report:#?}");
    expected.extend(extra);
    assert_same(&read_all(&wal), &expected);
}

#[test]
fn torn_tail_is_truncated_at_the_last_whole_record() {
    check(
        |b| {
            let path = b.segment(b.last_segment());
            let len = std::fs::metadata(&path).unwrap().len();
            modify(&path, |bytes| bytes.truncate(bytes.len() - 3));
            let last = b.last_segment();
            Box::new(move |p| p.segment < last || p.offset <= len - 3)
        },
        Want { damage: Some((Corruption::Torn, true)), ..CLEAN },
    );
}

#[test]
fn bad_crc_in_the_last_record_loses_that_record_only() {
    check(
        |b| {
            let path = b.segment(b.last_segment());
            let (start, end) = *records(&path).last().unwrap();
            modify(&path, |bytes| bytes[(start + 12) as usize] ^= 0x40);
            let last = b.last_segment();
            assert_eq!(b.batches.last().unwrap().1.offset, end);
            Box::new(move |p| p.segment < last || p.offset <= start)
        },
        Want { damage: Some((Corruption::BadCrc, true)), ..CLEAN },
    );
}

#[test]
fn huge_length_field_is_damage_not_an_allocation() {
    check(
        |b| {
            let path = b.segment(b.last_segment());
            let (start, _) = *records(&path).last().unwrap();
            let s = start as usize;
            modify(&path, |bytes| bytes[s..s + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes()));
            let last = b.last_segment();
            Box::new(move |p| p.segment < last || p.offset <= start)
        },
        Want { damage: Some((Corruption::BadLength(0xffff_fff0), true)), ..CLEAN },
    );
}

#[test]
fn zero_filled_tail_is_cut_and_nothing_is_lost() {
    check(
        |b| {
            modify(&b.segment(b.last_segment()), |bytes| bytes.extend([0u8; 4096]));
            Box::new(|_| true)
        },
        Want { damage: Some((Corruption::BadCrc, true)), ..CLEAN },
    );
}

#[test]
fn junk_files_are_ignored_and_reported() {
    check(
        |b| {
            std::fs::write(b.dir.join("notes.txt"), "hello").unwrap();
            std::fs::write(b.dir.join("00000002.tmp"), "partial").unwrap();
            std::fs::create_dir(b.dir.join("00000099")).unwrap();
            std::fs::write(b.dir.join("2"), "not the name of segment 2").unwrap();
            std::fs::write(b.dir.join("cursors").join("50%zz"), "x").unwrap();
            std::fs::write(b.dir.join("cursors").join(".tmp-remote"), "v1").unwrap();
            Box::new(|_| true)
        },
        Want { ignored_files: 5, ..CLEAN },
    );
}

#[test]
fn corrupt_record_in_an_older_segment_skips_the_rest_of_that_segment() {
    check(
        |b| {
            let path = b.segment(1);
            let recs = records(&path);
            let (start, _) = recs[recs.len() / 2];
            modify(&path, |bytes| bytes[(start + 10) as usize] ^= 0xff);
            Box::new(move |p| p.segment > 1 || p.offset <= start)
        },
        Want { damage: Some((Corruption::BadCrc, false)), ..CLEAN },
    );
}

#[test]
fn empty_segment_files_are_fine() {
    check(
        |b| {
            std::fs::write(b.segment(0), "").unwrap();
            std::fs::write(b.segment(b.last_segment() + 1), "").unwrap();
            Box::new(|_| true)
        },
        CLEAN,
    );
}

#[test]
fn garbage_cursor_file_starts_at_the_oldest_data() {
    check(
        |b| {
            std::fs::write(b.dir.join("cursors").join("remote"), "\x00\x7fgarbage").unwrap();
            Box::new(|_| true)
        },
        Want { bad_cursors: 1, ..CLEAN },
    );
}

#[test]
fn cursor_past_a_truncated_tail_moves_to_the_new_end() {
    let dir = tempfile::tempdir().unwrap();
    let built = Built::new(dir.path());
    let (wal, _) = Wal::open(options(dir.path()), WalMetrics::unregistered()).unwrap();
    let cursor = wal.register_cursor("remote");
    let end = built.batches.last().unwrap().1;
    cursor.commit(end).unwrap();
    drop(wal);
    let path = built.segment(end.segment);
    let (start, _) = *records(&path).last().unwrap();
    modify(&path, |bytes| bytes.truncate(bytes.len() - 1));
    let (wal, _) = Wal::open(options(dir.path()), WalMetrics::unregistered()).unwrap();
    let cursor = wal.register_cursor("remote");
    assert_eq!(cursor.position(), Position { segment: end.segment, offset: start });
    assert!(read_all(&wal).is_empty());
}

mod random_damage {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Damage {
        Overwrite { segment: u8, at: u32, bytes: Vec<u8> },
        Append { segment: u8, bytes: Vec<u8> },
        Truncate { segment: u8, at: u32 },
        Cursor(Vec<u8>),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        let bytes = prop::collection::vec(any::<u8>(), 1..64);
        prop_oneof![
            (any::<u8>(), any::<u32>(), bytes.clone())
                .prop_map(|(segment, at, bytes)| Damage::Overwrite { segment, at, bytes }),
            (any::<u8>(), bytes.clone())
                .prop_map(|(segment, bytes)| Damage::Append { segment, bytes }),
            (any::<u8>(), any::<u32>()).prop_map(|(segment, at)| Damage::Truncate { segment, at }),
            bytes.prop_map(Damage::Cursor),
        ]
    }

    fn apply(b: &Built, d: &Damage) {
        let pick = |s: &u8| b.segment(1 + u64::from(*s) % b.last_segment());
        match d {
            Damage::Overwrite { segment, at, bytes } => modify(&pick(segment), |f| {
                let at = *at as usize % (f.len() + 1);
                for (i, &x) in bytes.iter().enumerate() {
                    match f.get_mut(at + i) {
                        Some(y) => *y = x,
                        None => f.push(x),
                    }
                }
            }),
            Damage::Append { segment, bytes } => modify(&pick(segment), |f| f.extend(bytes)),
            Damage::Truncate { segment, at } => {
                modify(&pick(segment), |f| f.truncate(*at as usize % (f.len() + 1)))
            }
            Damage::Cursor(bytes) => std::fs::write(b.dir.join("cursors/remote"), bytes).unwrap(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Random bytes over, after or instead of any part of any segment (or
        /// a cursor) never panic `open` or a reader, and never make them fail.
        #[test]
        fn random_damage_never_panics(damages in prop::collection::vec(damage(), 1..4)) {
            let dir = tempfile::tempdir().unwrap();
            let built = Built::new(dir.path());
            {
                let (wal, _) = Wal::open(options(dir.path()), WalMetrics::unregistered()).unwrap();
                let cursor = wal.register_cursor("remote");
                cursor.commit(built.batches[20].1).unwrap();
            }
            for d in &damages {
                apply(&built, d);
            }
            let (mut wal, _) = Wal::open(options(dir.path()), WalMetrics::unregistered()).unwrap();
            let got = read_all(&wal);
            prop_assert!(got.len() <= built.batches.len() * 12);
            wal.append(&built.batches[0].0).unwrap();
            drop(wal);
            let (wal, _) = Wal::open(options(dir.path()), WalMetrics::unregistered()).unwrap();
            let again = read_all(&wal);
            prop_assert!(again.len() >= 12, "the batch appended after the damage is read");
        }
    }
}
