//! What the WAL deletes: segments every cursor has passed, and the oldest
//! segments when the size bound is exceeded (counted, and reported by the
//! readers that skip them).

use std::path::Path;

use tern::labels::{Labels, Series, SharedSeries};
use tern::scrape::SeriesSample;
use tern::wal::{FsyncPolicy, Position, Wal, WalMetrics, WalOptions, WalReader, WalSample};

fn options(dir: &Path, max_size: u64) -> WalOptions {
    WalOptions {
        max_size,
        segment_size: Some(1024),
        fsync: FsyncPolicy::Never,
        ..WalOptions::new(dir.join("wal"))
    }
}

/// Batch `b`: 8 series, values that change every time.
fn batch(b: i64) -> Vec<SeriesSample> {
    (0..8)
        .map(|i| {
            let labels = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
            SeriesSample {
                series: SharedSeries::new(Series::new(labels)),
                timestamp_ms: b * 1000,
                value: (b * 31 + i) as f64 * 1.25,
            }
        })
        .collect()
}

fn append(wal: &mut Wal, batches: std::ops::Range<i64>) -> Vec<SeriesSample> {
    batches
        .flat_map(|b| {
            let s = batch(b);
            wal.append(&s).unwrap();
            s
        })
        .collect()
}

fn read_all(reader: &mut WalReader) -> Vec<WalSample> {
    let mut out = Vec::new();
    while reader.read_into(&mut out, 100).unwrap() > 0 {}
    out
}

fn key(s: &WalSample) -> (i64, u64) {
    (s.timestamp_ms, s.value.to_bits())
}

fn keys(s: &[SeriesSample]) -> Vec<(i64, u64)> {
    s.iter().map(|s| (s.timestamp_ms, s.value.to_bits())).collect()
}

fn segment_files(dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
        .collect();
    out.sort_unstable();
    out
}

fn wal_bytes(dir: &Path) -> u64 {
    segment_files(dir)
        .iter()
        .map(|n| std::fs::metadata(dir.join("wal").join(format!("{n:08}"))).unwrap().len())
        .sum()
}

#[test]
fn size_bound_drops_the_oldest_segments_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = WalMetrics::unregistered();
    let (mut wal, _) = Wal::open(options(dir.path(), 8192), metrics.clone()).unwrap();
    let cursor = wal.register_cursor("remote");
    let mut reader = wal.reader(&cursor);
    let appended = append(&mut wal, 0..400);
    assert!(wal_bytes(dir.path()) <= 8192, "{} bytes", wal_bytes(dir.path()));
    let dropped_segments = metrics.segments_dropped.get();
    assert!(dropped_segments > 5, "{dropped_segments}");
    assert_eq!(segment_files(dir.path())[0], dropped_segments + 1, "oldest ones went first");

    let got = read_all(&mut reader);
    let lost = appended.len() - got.len();
    assert_eq!(metrics.samples_dropped.get(), lost as u64);
    assert_eq!(reader.skipped_samples(), lost as u64);
    assert_eq!(got.iter().map(key).collect::<Vec<_>>(), keys(&appended[lost..]), "the newest kept");
    assert_eq!(metrics.segments.get() as usize, segment_files(dir.path()).len());
    assert_eq!(metrics.bytes.get() as u64, wal_bytes(dir.path()));
}

#[test]
fn a_reader_in_a_dropped_segment_continues_at_the_oldest_remaining_data() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = WalMetrics::unregistered();
    let (mut wal, _) = Wal::open(options(dir.path(), 8192), metrics.clone()).unwrap();
    let cursor = wal.register_cursor("remote");
    let first = append(&mut wal, 0..10);
    let done = read_all(&mut wal.reader(&cursor));
    assert_eq!(done.len(), first.len());
    // Halfway through segment 1.
    let commit = done.iter().find(|s| s.end.segment == 1 && s.end.offset > 400).unwrap().end;
    cursor.commit(commit).unwrap();
    let done = done.iter().filter(|s| s.end <= commit).count();
    let mut early_reader = wal.reader(&cursor);

    let all = [first, append(&mut wal, 10..400)].concat();
    assert!(segment_files(dir.path())[0] > 1, "segment 1 dropped");
    let mut late_reader = wal.reader(&cursor);
    for reader in [&mut early_reader, &mut late_reader] {
        let got = read_all(reader);
        let skipped = reader.skipped_samples() as usize;
        assert_eq!(done + skipped + got.len(), all.len());
        assert_eq!(got.iter().map(key).collect::<Vec<_>>(), keys(&all[done + skipped..]));
    }
    assert_eq!(
        metrics.samples_dropped.get() as usize,
        all.len() - done - read_all(&mut wal.reader(&cursor)).len()
    );
}

#[test]
fn segments_are_deleted_only_when_both_cursors_have_passed_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    let (a, b) = (wal.register_cursor("a"), wal.register_cursor("b"));
    append(&mut wal, 0..100);
    let segments = segment_files(dir.path());
    assert!(segments.len() > 5);

    let all = read_all(&mut wal.reader(&a));
    a.commit(all.last().unwrap().end).unwrap();
    assert_eq!(wal.truncate_acknowledged().unwrap(), 0, "b has read nothing");

    let middle = all[all.len() / 2].end;
    b.commit(middle).unwrap();
    let deleted = wal.truncate_acknowledged().unwrap();
    assert_eq!(deleted as u64, middle.segment - segments[0]);
    assert_eq!(segment_files(dir.path())[0], middle.segment);

    b.commit(all.last().unwrap().end).unwrap();
    wal.truncate_acknowledged().unwrap();
    assert_eq!(segment_files(dir.path()), [wal.head().segment], "only the head remains");
    // Nothing is lost for either cursor.
    assert!(read_all(&mut wal.reader(&a)).is_empty());
    let more = append(&mut wal, 100..101);
    assert_eq!(read_all(&mut wal.reader(&b)).len(), more.len());
}

#[test]
fn without_cursors_nothing_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    append(&mut wal, 0..50);
    let before = segment_files(dir.path());
    assert_eq!(wal.truncate_acknowledged().unwrap(), 0);
    assert_eq!(segment_files(dir.path()), before);
}

#[test]
fn cursor_files_pin_segments_until_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut wal, _) =
            Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
        let (a, old) = (wal.register_cursor("a"), wal.register_cursor("old endpoint"));
        append(&mut wal, 0..100);
        let all = read_all(&mut wal.reader(&a));
        a.commit(all.last().unwrap().end).unwrap();
        old.commit(all[3].end).unwrap();
    }
    // After a restart, "old endpoint" is no longer configured but its file
    // still pins what it has not read.
    let (mut wal, report) =
        Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    assert!(report.bad_cursors.is_empty() && report.ignored_files.is_empty(), "{report:?}");
    let _a = wal.register_cursor("a");
    assert_eq!(wal.truncate_acknowledged().unwrap(), 0);
    let cursor_file = dir.path().join("wal/cursors/old%20endpoint");
    assert!(cursor_file.exists());

    assert_eq!(wal.forget_cursors_except(&["a"]).unwrap(), ["old endpoint"]);
    assert!(!cursor_file.exists());
    assert!(wal.truncate_acknowledged().unwrap() > 5);
    assert_eq!(segment_files(dir.path()), [wal.head().segment]);
}

#[test]
fn a_new_cursor_starts_at_the_oldest_data_and_positions_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    let all = append(&mut wal, 0..30);
    let late = wal.register_cursor("late");
    assert_eq!(late.position(), Position { segment: 1, offset: 0 });
    let got = read_all(&mut wal.reader(&late));
    assert_eq!(got.len(), all.len());
    late.commit(got[100].end).unwrap();
    drop(wal);
    let (wal, _) = Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    assert_eq!(wal.register_cursor("late").position(), got[100].end);
}
