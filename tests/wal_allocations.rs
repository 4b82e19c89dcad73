//! The WAL's hot paths do not allocate in steady state: appending a scrape
//! of known series, and reading it back, make no heap allocation per sample.

mod wal_workload;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tern::wal::{FsyncPolicy, Wal, WalMetrics, WalOptions};
use wal_workload::Workload;

/// Counts allocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn steady_state_append_and_read_do_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { fsync: FsyncPolicy::Never, ..WalOptions::new(dir.path()) };
    let (mut wal, _) = Wal::open(options, WalMetrics::unregistered()).unwrap();
    let cursor = wal.register_cursor("remote");
    let mut reader = wal.reader(&cursor);
    let mut workload = Workload::new("10.0.0.1:9100");
    let scrapes: Vec<Vec<_>> = (0..20)
        .map(|_| {
            let mut b = Vec::new();
            workload.scrape_into(&mut b);
            b
        })
        .collect();
    let mut out = Vec::with_capacity(1024);
    // Warm up: series declared, buffers grown.
    for s in &scrapes[..2] {
        wal.append(s).unwrap();
        out.clear();
        reader.read_into(&mut out, 1024).unwrap();
    }
    let before = allocations();
    for s in &scrapes[2..] {
        wal.append(s).unwrap();
    }
    let appended = allocations() - before;
    let before = allocations();
    let mut read = 0;
    loop {
        out.clear();
        let n = reader.read_into(&mut out, 1024).unwrap();
        if n == 0 {
            break;
        }
        read += n;
    }
    let reading = allocations() - before;
    assert_eq!(read, 18 * 507);
    println!("18 scrapes of 507 samples: {appended} allocations appending, {reading} reading");
    assert_eq!(appended, 0);
    assert!(reading <= 4, "{reading} allocations for {read} samples");
}
