//! Remote-write encoding: samples/s and bytes/sample on the wire for batches
//! of 2,000 samples (`max_samples_per_send`'s default) of node_exporter-like
//! series (6 labels on average, `job` and `instance` on every series).
//!
//! - `1 sample/series`: 2,000 series from one scrape (the steady state);
//! - `5 samples/series`: 400 series over five scrapes (catching up after
//!   an outage);
//! - `1 sample/series, 1 external label`: the first, with a
//!   `global.external_labels` entry merged into every series.
//!
//! Bytes per sample (protobuf and snappy) are printed once per case, before
//! the timings.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tern::labels::Labels;
use tern::remote::encode::{Encoder, SampleValue};

const BATCH: usize = 2_000;

/// `n` label sets shaped like node_exporter's: per-CPU, per-device and
/// per-filesystem families and plain gauges, each with `instance` and `job`.
fn node_series(n: usize) -> Vec<Labels> {
    let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"];
    let devices = ["eth0", "eth1", "lo", "nvme0n1", "nvme1n1", "sda", "sdb", "docker0"];
    let mounts =
        [("/", "ext4"), ("/boot", "vfat"), ("/var/lib/docker", "overlay"), ("/run", "tmpfs")];
    let mut sets: Vec<Vec<(&str, String)>> = Vec::new();
    for round in 0.. {
        for cpu in 0..16 {
            for mode in modes {
                let cpu = (cpu + 16 * round).to_string();
                sets.push(vec![
                    ("__name__", "node_cpu_seconds_total".into()),
                    ("cpu", cpu),
                    ("mode", mode.into()),
                ]);
            }
        }
        for dev in devices {
            for m in ["receive_bytes", "transmit_bytes", "receive_packets", "transmit_packets"] {
                let name = format!("node_network_{m}_total");
                sets.push(vec![("__name__", name), ("device", format!("{dev}{round}"))]);
            }
            for m in ["reads_completed", "writes_completed", "read_bytes", "written_bytes"] {
                let name = format!("node_disk_{m}_total");
                sets.push(vec![("__name__", name), ("device", format!("{dev}{round}"))]);
            }
        }
        for (mount, fstype) in mounts {
            for m in ["avail_bytes", "free_bytes", "size_bytes", "files", "files_free"] {
                sets.push(vec![
                    ("__name__", format!("node_filesystem_{m}")),
                    ("device", format!("/dev/disk{round}")),
                    ("fstype", fstype.into()),
                    ("mountpoint", mount.into()),
                ]);
            }
        }
        for g in ["node_load1", "node_load5", "node_load15", "node_memory_MemAvailable_bytes"] {
            sets.push(vec![("__name__", g.into()), ("shard", round.to_string())]);
        }
        if sets.len() >= n {
            break;
        }
    }
    let instance = "ip-10-0-3-17.eu-west-1.compute.internal:9100";
    sets.into_iter()
        .take(n)
        .map(|mut pairs| {
            pairs.extend([("instance", instance.to_owned()), ("job", "node".to_owned())]);
            Labels::from_pairs(pairs)
        })
        .collect()
}

/// `per_series` samples 15s apart for each series: counters with fractions,
/// byte gauges, small gauges.
fn batch(series: usize, per_series: usize) -> Vec<(Labels, Vec<SampleValue>)> {
    node_series(series)
        .into_iter()
        .enumerate()
        .map(|(i, labels)| {
            let samples = (0..per_series)
                .map(|k| SampleValue {
                    timestamp_ms: 1_700_000_000_123 + 15_000 * k as i64,
                    value: match i % 3 {
                        0 => 183_245.67 + i as f64 * 13.1 + k as f64 * 14.9,
                        1 => 4.2e10 + (i * 4096 + k * 512) as f64,
                        _ => 0.25 * (i % 7) as f64 + k as f64 * 0.01,
                    },
                })
                .collect();
            (labels, samples)
        })
        .collect()
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_write_encode");
    group.throughput(Throughput::Elements(BATCH as u64));
    for per_series in [1, 5] {
        let batch = batch(BATCH / per_series, per_series);
        let mut encoder = Encoder::new();
        let wire = encoder.encode(batch.iter().map(|(l, s)| (l, s.as_slice()))).unwrap().len();
        eprintln!(
            "{per_series} sample(s)/series: {:.2} protobuf bytes/sample, {:.2} wire (snappy) bytes/sample",
            encoder.uncompressed_len() as f64 / BATCH as f64,
            wire as f64 / BATCH as f64,
        );
        group.bench_function(format!("{per_series} sample(s)/series"), |b| {
            b.iter(|| {
                let body = encoder
                    .encode(black_box(&batch).iter().map(|(l, s)| (l, s.as_slice())))
                    .unwrap();
                black_box(body.len())
            })
        });
    }
    // The same steady-state batch with one external label (as
    // `global.external_labels` adds to every series): merged while writing.
    let batch = batch(BATCH, 1);
    let external = Labels::from_pairs([("cluster", "eu-west-1a")]);
    let mut encoder = Encoder::new();
    group.bench_function("1 sample/series, 1 external label", |b| {
        b.iter(|| {
            let body = encoder
                .encode_with_external(
                    black_box(&batch).iter().map(|(l, s)| (l, s.as_slice())),
                    &external,
                )
                .unwrap();
            black_box(body.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_encode);
criterion_main!(benches);
