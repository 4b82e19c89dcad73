#!/usr/bin/env bash
# Runs tern under heaptrack, for a heap profile of an e2e.sh run:
#
#   TERN_REAL=target/release/tern HEAPTRACK_OUT=/tmp/tern-heap \
#     TERN_BIN=bench/lib/tern-heaptrack.sh AGENTS=tern WINDOW_S=30 bench/e2e.sh
#   python3 bench/lib/heap_top.py /tmp/tern-heap.zst
#
# `tern run ...` goes through heaptrack (Debian package `heaptrack`); any
# other subcommand (check-config) runs tern directly. SIGTERM and SIGINT are
# passed to the tern process itself so that it shuts down normally and
# heaptrack writes a complete file. Under heaptrack tern is several times
# slower and e2e.sh's CPU and RSS figures describe this wrapper: use such a run
# for the heap profile only.
set -euo pipefail
REAL=${TERN_REAL:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target/release/tern}
OUT=${HEAPTRACK_OUT:-${TMPDIR:-/tmp}/tern-heap}
if [ "${1:-}" != run ]; then
    exec "$REAL" "$@"
fi
command -v heaptrack >/dev/null || { echo "tern-heaptrack.sh: heaptrack not installed (apt-get install heaptrack)" >&2; exit 2; }
heaptrack -o "$OUT" "$REAL" "$@" &
HT=$!
forward() {
    local p
    for p in $(pgrep -P "$HT" 2>/dev/null || true); do
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$(basename "$REAL" | cut -c1-15)" ]; then
            kill -"$1" "$p" 2>/dev/null || true
        fi
    done
}
trap 'forward TERM' TERM
trap 'forward INT' INT
while kill -0 "$HT" 2>/dev/null; do
    wait "$HT" || true
done
