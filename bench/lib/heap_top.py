#!/usr/bin/env python3
"""Summarises a heaptrack file of tern: heap at its peak, by tern call site.

Usage: heap_top.py HEAPTRACK_FILE [--top 25] [--depth 3] [--src DIR]

Runs `heaptrack_print --print-peaks` and groups the peak memory of every
allocation backtrace by its innermost DEPTH frames that lie in tern's own
sources (files that exist under --src, default: this repository's src/), so
that label sets built by the scrape stage, the WAL reader and the remote queue
show up as separate lines. Prints MiB and the call site, largest first, and the
peak heap and RSS heaptrack measured.
"""

import argparse
import collections
import os
import re
import subprocess
import sys

UNITS = {"B": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def size(text):
    text = text.rstrip("B") or "0"
    unit = text[-1]
    if unit in UNITS:
        return float(text[:-1]) * UNITS[unit]
    return float(text)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--src", default=os.path.join(root, "src"))
    args = ap.parse_args()
    src_parent = os.path.dirname(os.path.abspath(args.src))

    out = subprocess.run(
        ["heaptrack_print", "-f", args.file, "--print-peaks", "1", "--print-allocators", "0",
         "--print-temporary", "0", "--print-leaks", "0", "--peak-limit", "100000", "--sub-peak-limit", "100000",
         "--print-histogram", os.devnull],
        capture_output=True, text=True, check=False,
    ).stdout

    blocks = []  # [bytes, innermost tern frames]
    summary = []
    current = None
    function = None
    for line in out.splitlines():
        s = line.strip()
        m = re.match(r"^(\S+) consumed over (\d+) calls from:$", s)
        if m:
            current = [size(m.group(1)), []]
            blocks.append(current)
            function = None
            continue
        if s.startswith(("peak heap memory", "peak RSS", "total runtime", "calls to allocation")):
            summary.append(s)
            continue
        if current is None or not s:
            continue
        m = re.match(r"^at (src/\S+):(\d+)$", s)
        if m:
            if len(current[1]) < args.depth and os.path.exists(os.path.join(src_parent, m.group(1))):
                current[1].append(f"{function} ({m.group(1)[4:]}:{m.group(2)})")
        elif not s.startswith(("in ", "at ")):
            function = s
    if not blocks:
        sys.exit("heap_top: no peak data (is heaptrack_print installed and the file complete?)")
    agg = collections.Counter()
    for b, frames in blocks:
        agg[" <- ".join(frames) or "(outside tern's sources)"] += b
    for s in summary:
        print(s)
    print(f"attributed at the peak: {sum(b for b, _ in blocks) / 2**20:.1f} MiB")
    for key, b in agg.most_common(args.top):
        print(f"{b / 2**20:8.1f} MiB  {key}")


if __name__ == "__main__":
    main()
