//! One full host collection (every collector, this machine's /proc and /sys,
//! no textfile directory), rendered in the text format.
//!
//! Besides criterion's wall-clock figure, the bench prints the CPU time per
//! collection (user + system of this process over many collections, from
//! `/proc/self/stat`) and, measured in the same run, node_exporter 1.5's CPU
//! time per scrape with the same collectors (`/proc/<pid>/stat` of a
//! `prometheus-node-exporter` started on 127.0.0.1, scraped over HTTP without
//! gzip), and their ratio. The goal: at most 5 ms CPU per collection.

use std::hint::black_box;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tern::hostmetrics::{HostCollector, Settings};

/// Collections (and node_exporter scrapes) per CPU-time figure.
const ROUNDS: usize = 300;

fn collector() -> HostCollector {
    HostCollector::try_new(Settings::default()).expect("every collector exists")
}

/// utime + stime of `pid` in seconds (`/proc/<pid>/stat` fields 14 and 15,
/// in clock ticks of 1/100 s).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after_comm = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_comm.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn tern_cpu_per_collection(c: &HostCollector) -> f64 {
    let mut buf = Vec::with_capacity(256 * 1024);
    let start = cpu_seconds("self");
    for _ in 0..ROUNDS {
        buf.clear();
        c.collect().render_text(&mut buf);
        black_box(&buf);
    }
    (cpu_seconds("self") - start) / ROUNDS as f64
}

fn get(port: u16) -> Option<usize> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\nAccept: text/plain;version=0.0.4\r\n\r\n")
        .ok()?;
    let mut body = Vec::new();
    s.read_to_end(&mut body).ok()?;
    body.starts_with(b"HTTP/1.0 200").then_some(body.len())
}

/// node_exporter's CPU seconds per scrape, or None when it is not installed.
fn node_exporter_cpu_per_scrape() -> Option<f64> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let mut args = vec![
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--collector.disable-defaults".to_owned(),
    ];
    args.extend(tern::hostmetrics::names().iter().map(|c| format!("--collector.{c}")));
    let mut child = Command::new("prometheus-node-exporter")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(port).is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..20 {
        get(port); // warm-up
    }
    let start = cpu_seconds(&pid);
    for _ in 0..ROUNDS {
        get(port).expect("node_exporter scrape");
    }
    let per_scrape = (cpu_seconds(&pid) - start) / ROUNDS as f64;
    let _ = child.kill();
    let _ = child.wait();
    Some(per_scrape)
}

fn bench_collection(c: &mut Criterion) {
    let host = collector();
    let mut buf = Vec::with_capacity(256 * 1024);
    c.bench_function("hostmetrics/full_collection", |b| {
        b.iter(|| {
            buf.clear();
            host.collect().render_text(&mut buf);
            black_box(buf.len())
        })
    });
    // `cargo test` runs this bench once, unoptimized: the figures then only
    // show that the measurement works.
    if cfg!(debug_assertions) {
        println!("hostmetrics: unoptimized test build: the figures below are not a measurement (cargo bench --bench hostmetrics gives them)");
    }
    let tern = tern_cpu_per_collection(&host);
    println!("hostmetrics: tern CPU per collection: {:.3} ms ({ROUNDS} collections)", tern * 1e3);
    match node_exporter_cpu_per_scrape() {
        Some(ne) => println!(
            "hostmetrics: node_exporter 1.5 CPU per scrape: {:.3} ms ({ROUNDS} scrapes); tern / node_exporter = {:.2}",
            ne * 1e3,
            tern / ne
        ),
        None => println!("hostmetrics: prometheus-node-exporter not available: no ratio"),
    }
}

criterion_group!(benches, bench_collection);
criterion_main!(benches);
