#!/usr/bin/env python3
"""Scrape intervals per target from the farm's nginx access log.

Each log line is `$msec $server_port $request_time $status` (bench/lib/farm.sh).
For every port in BASE..BASE+N-1 the script takes the scrapes whose time lies
in [--start, --end] and the intervals between consecutive ones, then reports
how many intervals lie within +-tolerance of the expected interval.

Prints a human summary on stderr and KEY=VALUE lines (numbers or single
words, safe to `source` from bash) on stdout. Exits 0 when every target was
scraped at least twice in the window, every interval is within tolerance and
every response was 200; 1 otherwise; 2 on bad input.
"""

import argparse
import statistics
import sys
from collections import defaultdict


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", help="nginx access log")
    ap.add_argument("--start", type=float, required=True, help="window start, unix seconds")
    ap.add_argument("--end", type=float, required=True, help="window end, unix seconds")
    ap.add_argument("--base-port", type=int, required=True)
    ap.add_argument("--targets", type=int, required=True)
    ap.add_argument("--interval", type=float, default=5.0, help="expected interval, seconds")
    ap.add_argument("--tolerance", type=float, default=0.05, help="allowed relative deviation")
    return ap.parse_args()


def read_log(path, start, end, ports):
    """Per-port sorted scrape times inside the window, and non-200 counts."""
    times = defaultdict(list)
    bad_status = defaultdict(int)
    skipped = 0
    with open(path, encoding="ascii", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4:
                skipped += 1
                continue
            try:
                t, port, status = float(parts[0]), int(parts[1]), parts[3]
            except ValueError:
                skipped += 1
                continue
            if port not in ports or not (start <= t <= end):
                continue
            times[port].append(t)
            if status != "200":
                bad_status[port] += 1
    for v in times.values():
        v.sort()
    return times, bad_status, skipped


def main():
    a = parse_args()
    ports = set(range(a.base_port, a.base_port + a.targets))
    try:
        times, bad_status, skipped = read_log(a.log, a.start, a.end, ports)
    except OSError as e:
        print(f"analyze_intervals: {e}", file=sys.stderr)
        return 2

    lo, hi = a.interval * (1 - a.tolerance), a.interval * (1 + a.tolerance)
    intervals = []
    worst = None  # (abs deviation, port, interval)
    per_target_worst = {}
    for port in sorted(times):
        ts = times[port]
        dev_max = 0.0
        for prev, cur in zip(ts, ts[1:]):
            d = cur - prev
            intervals.append(d)
            dev = abs(d - a.interval)
            dev_max = max(dev_max, dev)
            if worst is None or dev > worst[0]:
                worst = (dev, port, d)
        if len(ts) > 1:
            per_target_worst[port] = dev_max

    scraped = sum(1 for p in ports if times.get(p))
    under_two = sorted(p for p in ports if len(times.get(p, [])) < 2)
    within = sum(1 for d in intervals if lo <= d <= hi)
    total_scrapes = sum(len(v) for v in times.values())
    n_bad = sum(bad_status.values())
    targets_out = sum(1 for dev in per_target_worst.values() if dev > a.interval * a.tolerance)

    out = {
        "TARGETS_EXPECTED": a.targets,
        "TARGETS_SCRAPED": scraped,
        "TARGETS_UNDER_TWO_SCRAPES": len(under_two),
        "TARGETS_WITH_OUTLIER": targets_out,
        "SCRAPES": total_scrapes,
        "NON_200": n_bad,
        "INTERVALS": len(intervals),
        "INTERVALS_WITHIN": within,
        "WITHIN_PCT": f"{100.0 * within / len(intervals):.2f}" if intervals else "0.00",
        "INTERVAL_MIN": f"{min(intervals):.3f}" if intervals else "nan",
        "INTERVAL_MAX": f"{max(intervals):.3f}" if intervals else "nan",
        "INTERVAL_MEAN": f"{statistics.fmean(intervals):.4f}" if intervals else "nan",
        "INTERVAL_STDEV_MS": f"{1000 * statistics.pstdev(intervals):.2f}" if intervals else "nan",
        "WORST_PORT": worst[1] if worst else 0,
        "WORST_INTERVAL": f"{worst[2]:.3f}" if worst else "nan",
        "WORST_DEV_PCT": f"{100.0 * worst[0] / a.interval:.2f}" if worst else "nan",
        "LOG_LINES_SKIPPED": skipped,
    }
    if intervals:
        devs = sorted(abs(d - a.interval) for d in intervals)
        p99 = devs[min(len(devs) - 1, int(0.99 * len(devs)))]
        out["DEV_P99_MS"] = f"{1000 * p99:.1f}"
    else:
        out["DEV_P99_MS"] = "nan"

    e = sys.stderr
    print(f"intervals: window {a.end - a.start:.1f} s, expected {a.interval:g} s "
          f"+-{100 * a.tolerance:g}% [{lo:.3f}, {hi:.3f}]", file=e)
    print(f"  targets scraped {scraped}/{a.targets}, scrapes {total_scrapes}, "
          f"non-200 {n_bad}, intervals {len(intervals)}", file=e)
    if intervals:
        print(f"  interval min {out['INTERVAL_MIN']} s, max {out['INTERVAL_MAX']} s, "
              f"mean {out['INTERVAL_MEAN']} s, stdev {out['INTERVAL_STDEV_MS']} ms, "
              f"p99 |dev| {out['DEV_P99_MS']} ms", file=e)
        print(f"  within +-{100 * a.tolerance:g}%: {within}/{len(intervals)} "
              f"({out['WITHIN_PCT']}%); targets with an interval outside: {targets_out}", file=e)
        print(f"  worst: port {worst[1]}, interval {worst[2]:.3f} s "
              f"({out['WORST_DEV_PCT']}% off)", file=e)
    if under_two:
        shown = ", ".join(map(str, under_two[:10]))
        print(f"  {len(under_two)} targets scraped fewer than twice in the window: {shown}"
              f"{' ...' if len(under_two) > 10 else ''}", file=e)
    for k, v in out.items():
        print(f"{k}={v}")

    ok = (not under_two) and intervals and within == len(intervals) and n_bad == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
