//! WAL round trips: what is appended is read back bit-exactly, in order,
//! across segment rotations, reopen and cursor commits.

use std::time::Duration;

use tern::labels::{Labels, Series, SharedSeries};
use tern::scrape::SeriesSample;
use tern::wal::{Cursor, FsyncPolicy, Position, Wal, WalMetrics, WalOptions, WalReader, WalSample};

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn series(name: &str, instance: &str) -> SharedSeries {
    let labels = Labels::from_pairs([("__name__", name), ("instance", instance), ("job", "node")]);
    SharedSeries::new(Series::new(labels))
}

fn sample(series: &SharedSeries, timestamp_ms: i64, value: f64) -> SeriesSample {
    SeriesSample { series: series.clone(), timestamp_ms, value }
}

fn options(dir: &std::path::Path, segment_size: u64) -> WalOptions {
    WalOptions {
        segment_size: Some(segment_size),
        fsync: FsyncPolicy::Never,
        ..WalOptions::new(dir.join("wal"))
    }
}

fn read_all(reader: &mut WalReader) -> Vec<WalSample> {
    let mut out = Vec::new();
    while reader.read_into(&mut out, 1000).unwrap() > 0 {}
    out
}

#[track_caller]
fn assert_same(got: &[WalSample], want: &[SeriesSample]) {
    assert_eq!(got.len(), want.len(), "sample count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.series.labels(), w.series.labels(), "labels of sample {i}");
        assert_eq!(g.series.hash(), w.series.stable_hash(), "hash of sample {i}");
        assert_eq!(g.timestamp_ms, w.timestamp_ms, "timestamp of sample {i}");
        assert_eq!(g.value.to_bits(), w.value.to_bits(), "value bits of sample {i}");
    }
}

/// Batches with special values and differing timestamps over 20 series.
fn batches(n: usize) -> Vec<Vec<SeriesSample>> {
    let all: Vec<_> = (0..20).map(|i| series(&format!("m{}", i % 7), &format!("h{i}"))).collect();
    let specials =
        [f64::from_bits(STALE_NAN), f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0];
    (0..n)
        .map(|b| {
            (0..=(b % 20))
                .map(|i| {
                    let v = match (b + i) % 5 {
                        0 => specials[(b * 7 + i) % specials.len()],
                        1 => b as f64,
                        2 => (b as f64) * 0.1 + i as f64,
                        _ => 42.0,
                    };
                    let ts = 1_700_000_000_000 + b as i64 * 15_000 - (i % 3) as i64 * 7;
                    sample(&all[(b * 3 + i) % all.len()], ts, v)
                })
                .collect()
        })
        .collect()
}

#[test]
fn samples_round_trip_bit_exactly_across_segment_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, report) =
        Wal::open(options(dir.path(), 512), WalMetrics::unregistered()).unwrap();
    assert_eq!(report.head, Position { segment: 1, offset: 0 });
    let cursor = wal.register_cursor("remote");
    let batches = batches(200);
    let mut last = Position::default();
    for b in &batches {
        let p = wal.append(b).unwrap();
        assert!(p > last, "positions grow: {p} after {last}");
        last = p;
    }
    assert!(last.segment > 10, "rotated: head {last}");
    let got = read_all(&mut wal.reader(&cursor));
    assert_same(&got, &batches.concat());
    assert!(got.windows(2).all(|w| w[0].end <= w[1].end));
    assert_eq!(got.last().unwrap().end, last);
}

#[test]
fn reopen_keeps_every_sample_and_appends_to_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let batches = batches(60);
    let (first, second) = batches.split_at(30);
    {
        let (mut wal, _) =
            Wal::open(options(dir.path(), 4096), WalMetrics::unregistered()).unwrap();
        for b in first {
            wal.append(b).unwrap();
        }
    }
    let (mut wal, report) =
        Wal::open(options(dir.path(), 4096), WalMetrics::unregistered()).unwrap();
    assert!(report.damage.is_empty(), "{report:?}");
    assert_eq!(report.samples, first.iter().map(Vec::len).sum::<usize>() as u64);
    assert_eq!(report.head.segment as usize, report.segments, "a new, highest segment");
    assert_eq!(report.head.offset, 0);
    for b in second {
        wal.append(b).unwrap();
    }
    assert!(wal.head().segment >= report.head.segment);
    let cursor = wal.register_cursor("remote");
    assert_same(&read_all(&mut wal.reader(&cursor)), &batches.concat());
}

#[test]
fn a_reader_resumes_after_the_committed_position() {
    let dir = tempfile::tempdir().unwrap();
    let batches = batches(40);
    let (mut wal, _) = Wal::open(options(dir.path(), 1024), WalMetrics::unregistered()).unwrap();
    for b in &batches {
        wal.append(b).unwrap();
    }
    let cursor = wal.register_cursor("remote");
    let all = read_all(&mut wal.reader(&cursor));
    let cut = all.len() / 2;
    cursor.commit(all[cut].end).unwrap();
    let done = all.iter().take_while(|s| s.end <= all[cut].end).count();
    drop(wal);

    let (wal, _) = Wal::open(options(dir.path(), 1024), WalMetrics::unregistered()).unwrap();
    let cursor = wal.register_cursor("remote");
    assert_eq!(cursor.position(), all[cut].end);
    let rest = read_all(&mut wal.reader(&cursor));
    assert_same(&rest, &batches.concat()[done..]);
}

/// A remote queue's chunk may end inside a record: committing where the
/// reader says everything handed out is done must not skip the rest of it.
#[test]
fn committing_a_read_that_ends_inside_a_record_keeps_the_rest_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<_> = (0..10).map(|i| series("m", &format!("h{i}"))).collect();
    let first: Vec<_> = all.iter().map(|s| sample(s, 1000, 1.0)).collect();
    let second: Vec<_> = all.iter().map(|s| sample(s, 2000, 2.0)).collect();
    let (mut wal, _) = Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    wal.append(&first).unwrap();
    wal.append(&second).unwrap();
    let cursor = wal.register_cursor("remote");
    let mut reader = wal.reader(&cursor);
    let mut got = Vec::new();
    // The first record whole, then 4 of the second's 10 samples.
    assert_eq!(reader.read_into(&mut got, 14).unwrap(), 14);
    let done = reader.handed_out();
    assert_eq!(done, got[9].end, "the end of the first record, the last one read whole");
    assert!(done < got[13].end, "not the end of the record read in part");
    cursor.commit(done).unwrap();
    drop((reader, wal));

    let (wal, _) = Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    let cursor = wal.register_cursor("remote");
    let mut reader = wal.reader(&cursor);
    assert_same(&read_all(&mut reader), &second);
    assert_eq!(reader.handed_out(), wal.head(), "everything read: the head");
}

#[test]
fn next_batch_returns_at_most_max_and_nothing_past_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    let cursor = wal.register_cursor("remote");
    let mut reader = wal.reader(&cursor);
    assert!(reader.next_batch(10).unwrap().is_empty());
    let s = series("up", "a");
    let batch: Vec<_> = (0..25).map(|i| sample(&s, i, i as f64)).collect();
    wal.append(&batch).unwrap();
    let sizes: Vec<usize> = (0..4).map(|_| reader.next_batch(10).unwrap().len()).collect();
    assert_eq!(sizes, [10, 10, 5, 0]);
    wal.append(&batch[..3]).unwrap();
    assert_eq!(reader.next_batch(10).unwrap().len(), 3);
    assert_eq!(reader.position(), wal.head());
}

#[tokio::test]
async fn readers_wake_when_the_head_moves() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(options(dir.path(), 1 << 20), WalMetrics::unregistered()).unwrap();
    let cursor = wal.register_cursor("remote");
    let mut reader = wal.reader(&cursor);
    let mut head = wal.subscribe();
    assert!(reader.next_batch(10).unwrap().is_empty());
    let s = series("up", "a");
    let task = tokio::spawn(async move {
        assert!(reader.wait().await);
        reader.next_batch(10).unwrap().len()
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let p = wal.append(&[sample(&s, 1, 1.0)]).unwrap();
    assert_eq!(task.await.unwrap(), 1);
    head.changed().await.unwrap();
    assert_eq!(*head.borrow(), p);
}

#[test]
fn a_batch_larger_than_one_record_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) =
        Wal::open(options(dir.path(), 64 << 20), WalMetrics::unregistered()).unwrap();
    let all: Vec<_> = (0..70_000).map(|i| series("big", &format!("i{i}"))).collect();
    let batch: Vec<_> = all.iter().enumerate().map(|(i, s)| sample(s, 7, i as f64)).collect();
    wal.append(&batch).unwrap();
    wal.append(&batch).unwrap();
    let cursor = wal.register_cursor("remote");
    let got = read_all(&mut wal.reader(&cursor));
    assert_same(&got, &[batch.clone(), batch].concat());
    assert!(got[0].end < got[69_999].end, "split into two Samples records");
}

#[test]
fn fsync_policy_decides_when_appends_fsync() {
    let s = series("up", "a");
    for (policy, appends, want) in [
        (FsyncPolicy::Always, 5, 5),
        (FsyncPolicy::Interval(Duration::from_secs(3600)), 5, 0),
        (FsyncPolicy::Interval(Duration::ZERO), 5, 5),
        (FsyncPolicy::Never, 5, 0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let metrics = WalMetrics::unregistered();
        let opts = WalOptions { fsync: policy, ..options(dir.path(), 1 << 20) };
        let (mut wal, _) = Wal::open(opts, metrics.clone()).unwrap();
        let base = metrics.fsyncs.get();
        for i in 0..appends {
            wal.append(&[sample(&s, i, 1.0)]).unwrap();
        }
        assert_eq!(metrics.fsyncs.get() - base, want, "{policy:?}");
        wal.sync().unwrap();
        let after_sync = metrics.fsyncs.get() - base;
        let dirty = want == 0;
        assert_eq!(after_sync, want + u64::from(dirty), "{policy:?}: sync() fsyncs unsynced data");
        wal.sync().unwrap();
        assert_eq!(metrics.fsyncs.get() - base, after_sync, "{policy:?}: nothing left to sync");
    }
}

#[test]
fn metrics_count_appends_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = WalMetrics::register(&mut registry);
    let (mut wal, _) = Wal::open(options(dir.path(), 256), metrics.clone()).unwrap();
    let batches = batches(30);
    for b in &batches {
        wal.append(b).unwrap();
    }
    let samples = batches.iter().map(Vec::len).sum::<usize>() as u64;
    assert_eq!(metrics.appended_samples.get(), samples);
    let on_disk: u64 = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok().filter(|m| m.is_file()).map(|m| m.len()))
        .sum();
    assert_eq!(metrics.appended_bytes.get(), on_disk);
    assert_eq!(metrics.bytes.get() as u64, on_disk);
    assert_eq!(metrics.segments.get() as u64, wal.head().segment);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for name in [
        "tern_wal_segments ",
        "tern_wal_bytes ",
        "tern_wal_appended_samples_total ",
        "tern_wal_appended_bytes_total ",
        "tern_wal_replayed_records_total ",
        "tern_wal_corrupt_records_total ",
        "tern_wal_truncations_total ",
        "tern_wal_segments_dropped_total ",
        "tern_wal_samples_dropped_total ",
        "tern_wal_fsyncs_total ",
        "tern_wal_fsync_duration_seconds_count ",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
}

#[test]
fn handles_move_between_threads() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Wal>();
    check::<Cursor>();
    check::<WalReader>();
}

#[test]
fn a_reader_of_the_segment_being_written_shares_the_writers_series() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(options(dir.path(), 4096), WalMetrics::unregistered()).unwrap();
    let cursor = wal.register_cursor("remote");
    let (a, b) = (series("a", "h1"), series("b", "h1"));
    wal.append(&[sample(&a, 1000, 1.0), sample(&b, 1000, 2.0)]).unwrap();
    let mut reader = wal.reader(&cursor);
    let got = read_all(&mut reader);
    assert_eq!(got.len(), 2);
    assert!(
        SharedSeries::ptr_eq(&got[0].series, &a) && SharedSeries::ptr_eq(&got[1].series, &b),
        "not copied"
    );
    // A series dropped by every stage is built again from its record.
    let c = series("c", "h1");
    wal.append(&[sample(&c, 2000, 3.0)]).unwrap();
    let c_text = c.to_string();
    drop(c);
    let got = read_all(&mut reader);
    assert_eq!((got.len(), got[0].series.to_string(), got[0].value), (1, c_text, 3.0));
    // A new reader of a segment no longer being written builds its own.
    for i in 0..300 {
        let s = series(&format!("fill_{i}"), "h1");
        wal.append(&[sample(&s, 3000, 0.0)]).unwrap();
    }
    assert!(wal.head().segment > 1, "rotated");
    let mut fresh = wal.reader(&cursor);
    let mut first = Vec::new();
    fresh.read_into(&mut first, 2).unwrap();
    assert_eq!(first[0].series.labels(), a.labels());
    assert!(
        !SharedSeries::ptr_eq(&first[0].series, &a),
        "segment 1 is sealed: rebuilt, still right"
    );
}

#[test]
fn series_no_stage_holds_are_let_go_and_read_back_from_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = WalMetrics::unregistered();
    let (mut wal, _) = Wal::open(options(dir.path(), 1 << 20), metrics.clone()).unwrap();
    let cursor = wal.register_cursor("remote");
    let (a, b) = (series("a", "h1"), series("b", "h1"));
    wal.append(&[sample(&a, 1000, 1.0), sample(&b, 1000, 2.0)]).unwrap();
    assert_eq!(metrics.series.get(), 2);
    let b_text = b.to_string();
    drop(b);
    assert_eq!(wal.forget_unused_series(), 1, "b: only the writer held it");
    assert_eq!((wal.forget_unused_series(), metrics.series.get()), (0, 1), "a is held");
    // a keeps its ref: the next batch declares nothing (a Samples record of
    // one sample is under 20 bytes; a Series record would add its labels).
    let before = wal.head();
    wal.append(&[sample(&a, 2000, 3.0)]).unwrap();
    assert!(wal.head().offset - before.offset < 20, "{before} -> {}", wal.head());
    let got = read_all(&mut wal.reader(&cursor));
    let seen: Vec<_> = got.iter().map(|s| (s.series.to_string(), s.value)).collect();
    assert_eq!(seen, [(a.to_string(), 1.0), (b_text, 2.0), (a.to_string(), 3.0)]);
    assert!(SharedSeries::ptr_eq(&got[0].series, &a), "a is still shared");
}
