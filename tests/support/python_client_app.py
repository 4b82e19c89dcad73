#!/usr/bin/env python3
"""Small prometheus_client app used to capture fixture bodies for tern's tests.

Usage:
    python3 tests/support/python_client_app.py serve PORT
        Serve /metrics on 127.0.0.1:PORT forever (text format by default,
        OpenMetrics when the scraper sends
        `Accept: application/openmetrics-text; version=1.0.0`).
    python3 tests/support/python_client_app.py dump text|openmetrics
        Print one exposition of the default registry and exit.

All observations are fixed values. Creation timestamps (`*_created`) and
exemplar timestamps are pinned to FIXED_TIME by patching time.time() while the
metrics are built, so only the default process/platform/gc collectors vary
between runs.
"""

import sys
import time
from contextlib import contextmanager

from prometheus_client import (
    REGISTRY,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

FIXED_TIME = 1700000000.123


@contextmanager
def fixed_clock(t):
    real = time.time
    time.time = lambda: t
    try:
        yield
    finally:
        time.time = real


class TimestampedCollector(Collector):
    """Custom collector whose samples carry explicit timestamps."""

    def collect(self):
        g = GaugeMetricFamily(
            "demo_timestamped_value",
            "A gauge whose samples carry explicit timestamps.",
            labels=["shard"],
        )
        g.add_metric(["a"], 1.5, timestamp=1395066363.0)
        g.add_metric(["b"], -0.25, timestamp=1395066363.5)
        yield g
        c = CounterMetricFamily(
            "demo_jobs",
            "A custom counter family without labels.",
        )
        c.add_metric([], 3.0)
        yield c
        # prometheus_client's Summary has no quantiles; build one by hand.
        s = Metric("demo_rpc_duration_seconds", "RPC latency with quantiles.", "summary")
        for q, v in (("0.5", 0.0123), ("0.9", 0.05), ("0.99", 0.25)):
            s.add_sample("demo_rpc_duration_seconds", {"service": "auth", "quantile": q}, v)
        s.add_sample("demo_rpc_duration_seconds_count", {"service": "auth"}, 1024)
        s.add_sample("demo_rpc_duration_seconds_sum", {"service": "auth"}, 17.5)
        yield s


def register_metrics():
    with fixed_clock(FIXED_TIME):
        requests = Counter(
            "demo_requests",
            "Requests handled.\nSecond help line with a backslash \\ in it.",
            ["method", "path"],
        )
        requests.labels(method="GET", path="/").inc(3)
        requests.labels(method="POST", path="/api/v1/items").inc(7.5)
        # Backslash, double quote and newline in one label value.
        requests.labels(method="GET", path='C:\\dir\\"quoted"\nline2').inc()
        # Non-ASCII UTF-8 label value.
        requests.labels(method="GET", path="/caf\u00e9/\u2603").inc(2)
        requests.labels(method="PUT", path="/with-exemplar").inc(
            4, exemplar={"trace_id": "abc123"}
        )

        Gauge("demo_gauge_nan", "A gauge set to NaN.").set(float("nan"))
        Gauge("demo_gauge_pos_inf", "A gauge set to +Inf.").set(float("inf"))
        Gauge("demo_gauge_neg_inf", "A gauge set to -Inf.").set(float("-inf"))
        Gauge("demo_gauge_negative", "A negative gauge.").set(-42.5)
        Gauge("demo_gauge_tiny", "A tiny gauge.").set(1e-7)
        Gauge("demo_gauge_large", "A large gauge.").set(123456789012)
        Gauge(
            "demo_room_temperature", "A gauge with a unit.", unit="celsius"
        ).set(21.25)

        latency = Histogram(
            "demo_request_latency_seconds",
            "Request latency with default buckets.",
            ["handler"],
        )
        for v in (0.003, 0.02, 0.02, 0.2, 0.7, 3.0, 12.0):
            latency.labels(handler="root").observe(v)
        latency.labels(handler="api").observe(0.04, exemplar={"trace_id": "def456"})

        size = Summary("demo_response_size_bytes", "Response size summary.")
        for v in (512, 1024, 2048.5):
            size.observe(v)

        Info("demo_build", "Build information.").info(
            {"version": "1.2.3", "revision": "deadbeef", "branch": "main"}
        )

        state = Enum(
            "demo_task_state",
            "Task state.",
            states=["starting", "running", "stopped"],
        )
        state.state("running")

        REGISTRY.register(TimestampedCollector())


def main(argv):
    if len(argv) != 3 or argv[1] not in ("serve", "dump"):
        sys.stderr.write(__doc__)
        return 2
    register_metrics()
    if argv[1] == "serve":
        port = int(argv[2])
        start_http_server(port, addr="127.0.0.1")
        while True:
            time.sleep(3600)
    fmt = argv[2]
    if fmt == "text":
        from prometheus_client.exposition import generate_latest
    elif fmt == "openmetrics":
        from prometheus_client.openmetrics.exposition import generate_latest
    else:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.buffer.write(generate_latest(REGISTRY))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
