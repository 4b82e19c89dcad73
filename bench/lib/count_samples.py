#!/usr/bin/env python3
"""Counts the samples a Prometheus receiver holds for one agent.

Usage: count_samples.py RECEIVER_URL AGENT START END QUIT AUTO_NAMES BODY_FILE

RECEIVER_URL  e.g. http://127.0.0.1:18590
AGENT         value of the `agent` label the agent's samples carry
START         unix seconds: before the agent's first scrape
END           unix seconds: after its last sample arrived
QUIT          unix seconds: when the targets were told to stop
AUTO_NAMES    comma-separated names of the automatic series (up, scrape_...)
BODY_FILE     the exposition body the targets served (its metric names are the
              body's series)

Prints shell assignments:
  BODY_DELIVERED      samples of the body's series (names in BODY_FILE)
  SERIES_BODY         distinct body series
  UP_OK               `up` samples with value 1 (successful scrapes)
  UP_FAILED           `up` samples with value 0 (failed scrapes)
  UP_FAILED_BEFORE_QUIT  of those, the ones with timestamps <= QUIT
  AUTO_OK             samples of the automatic series that belong to a
                      successful scrape (same target, same timestamp as an
                      `up` 1); a scrape's automatic samples share its timestamp
  AUTO_OK_<NAME>      the same per automatic series name
  EXTRA_NAMES         other names the agent sent (neither body nor AUTO_NAMES)
  EXTRA_SAMPLES       their samples

Counts use count_over_time, one metric name per query: PromQL drops the name
in range functions, so one query over several names can fail with "vector
cannot contain metrics with the same labelset". Stale markers are not counted
(PromQL skips them).
"""

import json
import math
import sys
import urllib.parse
import urllib.request


def query(base, expr, at):
    data = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"}).encode()
    with urllib.request.urlopen(f"{base}/api/v1/query", data=data, timeout=120) as resp:
        d = json.load(resp)
    if d.get("status") != "success":
        raise SystemExit(f"count_samples: query failed: {expr}: {d}")
    result = d["data"]["result"]
    if d["data"]["resultType"] == "scalar":
        return float(result[1])
    return sum(float(r["value"][1]) for r in result)


def raw(base, selector, range_s, at):
    """Raw samples of a range selector: {labels without __name__: [(ts, value)]}."""
    data = urllib.parse.urlencode({"query": f"{selector}[{range_s}s]", "time": f"{at:.3f}"}).encode()
    with urllib.request.urlopen(f"{base}/api/v1/query", data=data, timeout=120) as resp:
        d = json.load(resp)
    if d.get("status") != "success":
        raise SystemExit(f"count_samples: query failed: {selector}: {d}")
    out = {}
    for series in d["data"]["result"]:
        key = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
        out.setdefault(key, []).extend((float(t), float(v)) for t, v in series["values"])
    return out


def names(base, agent, start, end):
    params = urllib.parse.urlencode(
        {"match[]": f'{{agent="{agent}"}}', "start": f"{start:.3f}", "end": f"{end:.3f}"}
    )
    with urllib.request.urlopen(f"{base}/api/v1/label/__name__/values?{params}", timeout=60) as resp:
        d = json.load(resp)
    return sorted(d["data"])


def body_names(path):
    out = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            out.add(line.split("{", 1)[0].split(" ", 1)[0])
    return out


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    base, agent = sys.argv[1].rstrip("/"), sys.argv[2]
    start, end, quit_at = (float(x) for x in sys.argv[3:6])
    auto = [n for n in sys.argv[6].split(",") if n]
    in_body = body_names(sys.argv[7])
    range_all = math.ceil(end - start)
    sel = f'agent="{agent}"'

    body = series = extra = 0.0
    extra_names = []
    for name in names(base, agent, start, end):
        if name in auto:
            continue
        n = query(base, f'sum(count_over_time({name}{{{sel}}}[{range_all}s]))', end)
        if name not in in_body:
            extra_names.append(name)
            extra += n
            continue
        body += n
        series += query(base, f'count(last_over_time({name}{{{sel}}}[{range_all}s]))', end)
    out = {}
    ups = raw(base, f'up{{{sel}}}', range_all, end)
    ok = {key: {t for t, v in samples if v == 1} for key, samples in ups.items()}
    out["UP_OK"] = sum(len(ts) for ts in ok.values())
    out["UP_FAILED"] = sum(1 for samples in ups.values() for _, v in samples if v != 1)
    out["UP_FAILED_BEFORE_QUIT"] = sum(
        1 for samples in ups.values() for t, v in samples if v != 1 and t <= quit_at)
    auto_ok = 0
    for name in auto:
        series_samples = raw(base, f'{name}{{{sel}}}', range_all, end)
        n = sum(1 for key, samples in series_samples.items() for t, _ in samples if t in ok.get(key, ()))
        out[f"AUTO_OK_{name.upper()}"] = n
        auto_ok += n
    out["AUTO_OK"] = auto_ok
    out["BODY_DELIVERED"] = body
    out["SERIES_BODY"] = series
    out["EXTRA_SAMPLES"] = extra
    for k, v in out.items():
        print(f"{k}={int(round(v))}")
    print(f"EXTRA_NAMES='{','.join(extra_names) or '-'}'")


if __name__ == "__main__":
    main()
