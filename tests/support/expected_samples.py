#!/usr/bin/env python3
"""Independent expected samples for a Prometheus exposition fixture.

Usage:
    python3 tests/support/expected_samples.py PATH text|openmetrics > PATH.expected.jsonl

Parses PATH with prometheus_client's own parsers
(prometheus_client.parser for `text`, prometheus_client.openmetrics.parser for
`openmetrics`) and prints one JSON object per sample, in file order:

    {"labels":{"__name__":"...", <labels in line order>},"value":"1.5","timestamp_ms":null}

value is repr(float(v)) for finite values and exactly NaN, +Inf or -Inf
otherwise; timestamp_ms is integer milliseconds or null.

Every parsed sample is cross-checked against a small, separate scan of the
raw sample lines (metric name, label names and order, unescaped label values,
value and timestamp tokens). The cross-check does not silently override the
parser, with one exception that mirrors a known prometheus_client behaviour:
its text parser renames the samples of a `counter` family whose name does not
end in `_total` to NAME_total. The sample name as written in the file is
emitted instead, and each such rename is reported on stderr. Any other
disagreement between the parser and the raw scan aborts with an error.
"""

import json
import math
import re
import sys
from fractions import Fraction

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)', re.S)


def fail(msg):
    sys.stderr.write("expected_samples.py: error: " + msg + "\n")
    sys.exit(1)


def unescape_label_value(s):
    # Prometheus text/OpenMetrics label value escapes: \\ \" \n. Any other
    # backslash sequence is kept verbatim.
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in '\\"n':
            out.append({"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def raw_sample_lines(text, fmt):
    """Yield (lineno, line) for each sample line in the raw body."""
    for lineno, line in enumerate(text.split("\n"), 1):
        if fmt == "text":
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            yield lineno, stripped
        else:
            if not line or line.startswith("#"):
                continue
            yield lineno, line


def scan_raw(lineno, line, fmt):
    """Minimal independent tokenisation of one sample line."""
    m = NAME_RE.match(line)
    if not m:
        fail(f"line {lineno}: cannot find metric name: {line!r}")
    name = m.group(0)
    rest = line[m.end():]
    labels = []
    if rest.startswith("{"):
        # Find the closing brace outside quotes.
        i, in_q = 1, False
        while i < len(rest):
            c = rest[i]
            if in_q and c == "\\":
                i += 2
                continue
            if c == '"':
                in_q = not in_q
            elif c == "}" and not in_q:
                break
            i += 1
        else:
            fail(f"line {lineno}: unterminated label set")
        body = rest[1:i]
        rest = rest[i + 1:]
        pos = 0
        while pos < len(body):
            lm = LABEL_RE.match(body, pos)
            if not lm:
                if body[pos:].strip() == "":
                    break
                fail(f"line {lineno}: cannot scan labels at {body[pos:]!r}")
            labels.append((lm.group(1), unescape_label_value(lm.group(2))))
            pos = lm.end()
    if fmt == "openmetrics" and " # " in rest:
        rest = rest[: rest.index(" # ")]  # drop exemplar
    tokens = rest.split()
    if len(tokens) not in (1, 2):
        fail(f"line {lineno}: expected value [timestamp], got {tokens!r}")
    value = tokens[0]
    ts = tokens[1] if len(tokens) == 2 else None
    return name, labels, value, ts


def fmt_value(v):
    f = float(v)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return repr(f)


def ts_to_ms(ts, fmt):
    if ts is None:
        return None
    if fmt == "openmetrics":
        from prometheus_client.samples import Timestamp

        if isinstance(ts, Timestamp):
            return ts.sec * 1000 + ts.nsec // 1_000_000
    # Text parser: milliseconds / 1000 as a float (exact for an integer
    # token up to 2**53); OpenMetrics float form: seconds as float.
    return int(round(Fraction(ts) * 1000))


def raw_ts_to_ms(tok, fmt):
    if tok is None:
        return None
    if fmt == "text":
        if not re.fullmatch(r"-?[0-9]+", tok):
            fail(f"text timestamp is not an integer: {tok!r}")
        return int(tok)
    # OpenMetrics: seconds, possibly fractional.
    return math.floor(Fraction(tok) * 1000)


def main(argv):
    if len(argv) != 3 or argv[2] not in ("text", "openmetrics"):
        sys.stderr.write(__doc__)
        return 2
    path, fmt = argv[1], argv[2]
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")

    if fmt == "text":
        from prometheus_client.parser import text_string_to_metric_families
    else:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families

    parsed = []
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            parsed.append((fam, s))

    raw = list(raw_sample_lines(text, fmt))
    if len(parsed) != len(raw):
        fail(f"parser gave {len(parsed)} samples but the file has {len(raw)} sample lines")

    renamed = 0
    out = sys.stdout.buffer
    for (fam, s), (lineno, line) in zip(parsed, raw):
        rname, rlabels, rvalue, rts = scan_raw(lineno, line, fmt)
        name = s.name
        if name != rname:
            if fmt == "text" and fam.type == "counter" and name == rname + "_total":
                sys.stderr.write(
                    f"note: line {lineno}: prometheus_client renamed counter sample "
                    f"{rname!r} to {name!r}; emitting the name as written\n"
                )
                renamed += 1
                name = rname
            else:
                fail(f"line {lineno}: parser name {name!r} != raw name {rname!r}")
        plabels = list(s.labels.items())
        if plabels != rlabels:
            fail(f"line {lineno}: parser labels {plabels!r} != raw labels {rlabels!r}")
        value = fmt_value(s.value)
        if value != fmt_value(rvalue):
            fail(f"line {lineno}: parser value {value!r} != raw value {rvalue!r}")
        ts_ms = ts_to_ms(s.timestamp, fmt)
        if ts_ms != raw_ts_to_ms(rts, fmt):
            fail(f"line {lineno}: parser timestamp {ts_ms!r} != raw timestamp {rts!r}")
        labels = {"__name__": name}
        for k, v in plabels:
            if k == "__name__":
                fail(f"line {lineno}: unexpected __name__ label")
            labels[k] = v
        obj = {"labels": labels, "value": value, "timestamp_ms": ts_ms}
        out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        out.write(b"\n")
    sys.stderr.write(
        f"{path}: {len(parsed)} samples ({fmt}); counter renames undone: {renamed}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
