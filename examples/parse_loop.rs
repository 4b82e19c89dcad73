//! Profiling aid: parses a body in a loop (`cargo run --release --example
//! parse_loop -- FILE [ITERATIONS]`), for `perf record` or callgrind.

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: parse_loop FILE [ITERATIONS]");
    let iterations: usize = args.next().map_or(1000, |n| n.parse().expect("iterations"));
    let body = std::fs::read(&path).expect("read body");
    let mut n = 0usize;
    for _ in 0..iterations {
        for entry in tern::exposition::Parser::new(tern::exposition::Format::Text, &body) {
            if let tern::exposition::Entry::Sample(s) = entry.expect("body parses") {
                n += s.series.len();
            }
        }
    }
    println!("{n}");
}
