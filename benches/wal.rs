//! WAL throughput in samples/s on the node_exporter workload
//! (`tests/wal_workload`): `append` of one scrape (507 samples) at a time,
//! and reading back 1,000 scrapes from a cursor at the start.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tern::scrape::SeriesSample;
use tern::wal::{FsyncPolicy, Wal, WalMetrics, WalOptions};

#[path = "../tests/wal_workload/mod.rs"]
mod wal_workload;

use wal_workload::Workload;

fn options(dir: &std::path::Path) -> WalOptions {
    WalOptions { max_size: 256 << 20, fsync: FsyncPolicy::Never, ..WalOptions::new(dir) }
}

/// `n` scrapes of `targets` node_exporters, interleaved as a scrape loop per
/// target would hand them on.
fn scrapes(targets: usize, n: usize) -> Vec<Vec<SeriesSample>> {
    let mut workloads: Vec<_> = (0..targets)
        .map(|t| Workload::new(&format!("10.0.{}.{}:9100", t / 256, t % 256)))
        .collect();
    let mut out = Vec::new();
    for _ in 0..n {
        for w in &mut workloads {
            let mut batch = Vec::new();
            w.scrape_into(&mut batch);
            out.push(batch);
        }
    }
    out
}

fn bench_append(c: &mut Criterion, targets: usize) {
    let batches = scrapes(targets, 50);
    let mut group = c.benchmark_group(format!("wal_append/{targets}_targets"));
    group.throughput(Throughput::Elements(batches[0].len() as u64));
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(options(dir.path()), WalMetrics::unregistered()).unwrap();
    let mut i = 0;
    group.bench_function("append_scrape", |b| {
        b.iter(|| {
            let p = wal.append(black_box(&batches[i % batches.len()])).unwrap();
            i += 1;
            p
        })
    });
    group.finish();
}

fn bench_read(c: &mut Criterion) {
    let batches = scrapes(1, 1000);
    let samples: usize = batches.iter().map(Vec::len).sum();
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(options(dir.path()), WalMetrics::unregistered()).unwrap();
    for b in &batches {
        wal.append(b).unwrap();
    }
    let cursor = wal.register_cursor("bench");
    let mut group = c.benchmark_group("wal_read");
    group.throughput(Throughput::Elements(samples as u64));
    let mut out = Vec::with_capacity(10_000);
    group.bench_function("read_1000_scrapes", |b| {
        b.iter(|| {
            let mut reader = wal.reader(&cursor);
            let mut n = 0;
            loop {
                out.clear();
                let got = reader.read_into(&mut out, 10_000).unwrap();
                if got == 0 {
                    break;
                }
                n += got;
            }
            assert_eq!(n, samples);
            n
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_append(c, 1);
    bench_append(c, 100);
    bench_read(c);
}

criterion_group!(wal, benches);
criterion_main!(wal);
