#!/usr/bin/env python3
"""Writes a deterministic Prometheus text-format (0.0.4) body with exactly
SERIES samples, shaped like a real web service's /metrics: Go runtime and
process metrics, HTTP server counters and latency/size histograms per handler,
database and cache metrics, a job queue, an outbound HTTP client, and (to make
up the exact count) per-tenant gauges.

Usage: gen_body.py [--series 2000] [--seed 42] [OUTPUT]   (stdout when no OUTPUT)

The same arguments always give the same bytes. No sample carries a timestamp,
every value is finite, and no metric name starts with `scrape_` or is `up`, so a
benchmark can tell the body's series from an agent's automatic ones.
"""

import argparse
import random
import sys

LATENCY_BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"]
SIZE_BUCKETS = ["100", "1000", "10000", "100000", "1e+06"]
DB_BUCKETS = ["0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1"]

HANDLERS = [
    "/", "/login", "/logout", "/api/v1/users", "/api/v1/users/:id", "/api/v1/orders",
    "/api/v1/orders/:id", "/api/v1/orders/:id/items", "/api/v1/products",
    "/api/v1/products/:id", "/api/v1/search", "/api/v1/cart", "/api/v1/checkout",
    "/api/v1/payments", "/api/v1/invoices", "/api/v1/reviews", "/api/v1/reviews/:id",
    "/api/v1/wishlist", "/api/v1/shipping/quote", "/api/v1/coupons", "/api/v1/account",
    "/static/*", "/healthz", "/metrics",
]
METHODS = ["GET", "POST"]
CODES = ["200", "201", "304", "400", "404", "500"]
TABLES = ["users", "orders", "order_items", "products", "payments", "sessions"]
OPERATIONS = ["select", "insert", "update", "delete"]
CACHES = ["sessions", "products", "prices", "users", "templates"]
QUEUES = ["email", "invoices", "webhooks", "thumbnails"]
UPSTREAMS = ["payments.example.internal", "search.example.internal", "mail.example.internal"]


class Body:
    def __init__(self, rng):
        self.rng = rng
        self.lines = []
        self.samples = 0

    def family(self, name, kind, help_text):
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name, labels, value):
        if labels:
            inner = ",".join(f'{k}="{v}"' for k, v in labels)
            self.lines.append(f"{name}{{{inner}}} {value}")
        else:
            self.lines.append(f"{name} {value}")
        self.samples += 1

    def count(self, lo, hi):
        return str(self.rng.randint(lo, hi))

    def gauge(self, lo, hi):
        v = self.rng.uniform(lo, hi)
        return f"{v:.6g}"

    def histogram(self, name, labels, buckets):
        total = self.rng.randint(1_000, 5_000_000)
        # Cumulative counts that rise to the total.
        cuts = sorted(self.rng.random() for _ in buckets)
        for le, cut in zip(buckets, cuts):
            self.sample(f"{name}_bucket", labels + [("le", le)], int(total * cut))
        self.sample(f"{name}_bucket", labels + [("le", "+Inf")], total)
        self.sample(f"{name}_sum", labels, f"{total * self.rng.uniform(0.01, 0.4):.6g}")
        self.sample(f"{name}_count", labels, total)


def runtime(b):
    b.family("go_gc_duration_seconds", "summary", "A summary of the pause duration of garbage collection cycles.")
    pauses = sorted(b.rng.uniform(1e-5, 1e-3) for _ in range(5))
    for q, v in zip(["0", "0.25", "0.5", "0.75", "1"], pauses):
        b.sample("go_gc_duration_seconds", [("quantile", q)], f"{v:.6g}")
    b.sample("go_gc_duration_seconds_sum", [], b.gauge(1, 20))
    b.sample("go_gc_duration_seconds_count", [], b.count(1000, 90000))
    gauges = [
        ("go_goroutines", "Number of goroutines that currently exist.", 50, 900),
        ("go_threads", "Number of OS threads created.", 10, 40),
        ("go_memstats_alloc_bytes", "Number of bytes allocated and still in use.", 1e7, 4e8),
        ("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", 1e7, 4e8),
        ("go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used.", 1e6, 1e8),
        ("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", 1e7, 4e8),
        ("go_memstats_heap_objects", "Number of allocated objects.", 1e5, 5e6),
        ("go_memstats_heap_released_bytes", "Number of heap bytes released to OS.", 1e6, 5e7),
        ("go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", 1e7, 5e8),
        ("go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", 1e7, 5e8),
        ("go_memstats_stack_inuse_bytes", "Number of bytes in use by the stack allocator.", 1e5, 1e7),
        ("go_memstats_sys_bytes", "Number of bytes obtained from system.", 1e7, 6e8),
        ("process_resident_memory_bytes", "Resident memory size in bytes.", 5e7, 8e8),
        ("process_virtual_memory_bytes", "Virtual memory size in bytes.", 1e9, 3e9),
        ("process_open_fds", "Number of open file descriptors.", 20, 2000),
    ]
    for name, help_text, lo, hi in gauges:
        b.family(name, "gauge", help_text)
        value = b.gauge(lo, hi) if hi > 1e6 else b.count(int(lo), int(hi))
        b.sample(name, [], value)
    counters = [
        ("go_memstats_alloc_bytes_total", "Total number of bytes allocated, even if freed."),
        ("go_memstats_mallocs_total", "Total number of mallocs."),
        ("go_memstats_frees_total", "Total number of frees."),
        ("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."),
    ]
    for name, help_text in counters:
        b.family(name, "counter", help_text)
        b.sample(name, [], b.gauge(1e3, 1e11))
    b.family("process_max_fds", "gauge", "Maximum number of open file descriptors.")
    b.sample("process_max_fds", [], 1048576)
    b.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
    b.sample("process_start_time_seconds", [], "1.70001234567e+09")
    b.family("go_info", "gauge", "Information about the Go environment.")
    b.sample("go_info", [("version", "go1.21.5")], 1)
    b.family("shop_build_info", "gauge", "Build information of the service.")
    b.sample("shop_build_info", [("branch", "main"), ("revision", "4f2c9e1"), ("version", "3.14.2")], 1)


def http_server(b):
    b.family("http_requests_total", "counter", "HTTP requests served, by handler, method and status code.")
    for h in HANDLERS:
        for m in METHODS:
            for c in CODES:
                b.sample("http_requests_total", [("code", c), ("handler", h), ("method", m)], b.count(0, 9_000_000))
    b.family("http_requests_in_flight", "gauge", "HTTP requests being served, by handler.")
    for h in HANDLERS:
        b.sample("http_requests_in_flight", [("handler", h)], b.count(0, 40))
    b.family("http_request_duration_seconds", "histogram", "HTTP request latency, by handler and method.")
    for h in HANDLERS:
        for m in METHODS:
            b.histogram("http_request_duration_seconds", [("handler", h), ("method", m)], LATENCY_BUCKETS)
    b.family("http_response_size_bytes", "histogram", "HTTP response size, by handler.")
    for h in HANDLERS:
        b.histogram("http_response_size_bytes", [("handler", h)], SIZE_BUCKETS)


def database(b):
    b.family("db_query_duration_seconds", "histogram", "Database query latency, by table and operation.")
    for t in TABLES:
        for op in OPERATIONS:
            b.histogram("db_query_duration_seconds", [("operation", op), ("table", t)], DB_BUCKETS)
    b.family("db_query_errors_total", "counter", "Database queries that failed, by table and operation.")
    for t in TABLES:
        for op in OPERATIONS:
            b.sample("db_query_errors_total", [("operation", op), ("table", t)], b.count(0, 500))
    b.family("db_pool_connections", "gauge", "Database pool connections, by state.")
    for pool in ["primary", "replica"]:
        for state in ["idle", "in_use", "max"]:
            b.sample("db_pool_connections", [("pool", pool), ("state", state)], b.count(0, 100))


def cache_and_queue(b):
    for name, help_text in [
        ("cache_hits_total", "Cache hits, by cache."),
        ("cache_misses_total", "Cache misses, by cache."),
        ("cache_evictions_total", "Cache evictions, by cache."),
    ]:
        b.family(name, "counter", help_text)
        for c in CACHES:
            b.sample(name, [("cache", c)], b.count(0, 50_000_000))
    b.family("cache_entries", "gauge", "Entries in the cache.")
    for c in CACHES:
        b.sample("cache_entries", [("cache", c)], b.count(100, 1_000_000))
    b.family("jobs_processed_total", "counter", "Background jobs processed, by queue and result.")
    for q in QUEUES:
        for r in ["success", "retry", "failure"]:
            b.sample("jobs_processed_total", [("queue", q), ("result", r)], b.count(0, 2_000_000))
    b.family("jobs_queued", "gauge", "Background jobs waiting, by queue.")
    for q in QUEUES:
        b.sample("jobs_queued", [("queue", q)], b.count(0, 5000))
    b.family("job_duration_seconds", "histogram", "Background job run time, by queue.")
    for q in QUEUES:
        b.histogram("job_duration_seconds", [("queue", q)], LATENCY_BUCKETS)
    b.family("http_client_request_duration_seconds", "histogram", "Outbound HTTP request latency, by upstream.")
    for u in UPSTREAMS:
        b.histogram("http_client_request_duration_seconds", [("upstream", u)], LATENCY_BUCKETS)


def tenants(b, series):
    """Per-tenant gauges that bring the body to exactly `series` samples."""
    left = series - b.samples
    if left < 0:
        sys.exit(f"gen_body: the fixed families already have {b.samples} samples (> {series})")
    if left == 0:
        return
    b.family("shop_tenant_active_sessions", "gauge", "Active sessions, by tenant and region.")
    regions = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-2"]
    for i in range(left):
        labels = [("region", regions[i % len(regions)]), ("tenant", f"tenant-{i:04d}")]
        b.sample("shop_tenant_active_sessions", labels, b.count(0, 20_000))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("output", nargs="?")
    args = ap.parse_args()
    b = Body(random.Random(args.seed))
    runtime(b)
    http_server(b)
    database(b)
    cache_and_queue(b)
    tenants(b, args.series)
    assert b.samples == args.series, (b.samples, args.series)
    text = "\n".join(b.lines) + "\n"
    if args.output:
        with open(args.output, "w", encoding="ascii") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
