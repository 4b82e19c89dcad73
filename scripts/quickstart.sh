#!/usr/bin/env bash
# Quick start on a fresh machine, no AWS account needed: starts a local
# Prometheus as the remote-write receiver (installed with apt-get when
# missing), then tern on config/quickstart.yml, which scrapes tern itself and
# writes to that receiver. Prints a query that shows the data arriving.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

RECEIVER_PORT="${RECEIVER_PORT:-9090}"
TERN_LISTEN="${TERN_LISTEN:-127.0.0.1:9464}"
STATE_DIR="${STATE_DIR:-data/quickstart}"

if ! command -v prometheus >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq prometheus >/dev/null
fi

mkdir -p "$STATE_DIR"
printf 'global:\n  scrape_interval: 15s\n' > "$STATE_DIR/receiver.yml"
prometheus --config.file="$STATE_DIR/receiver.yml" \
    --storage.tsdb.path="$STATE_DIR/receiver-data" \
    --web.listen-address="127.0.0.1:$RECEIVER_PORT" \
    --web.enable-remote-write-receiver >"$STATE_DIR/receiver.log" 2>&1 &
RECEIVER_PID=$!
trap 'kill "$RECEIVER_PID" 2>/dev/null || true' EXIT

cargo build --release --bin tern
cat <<MSG

Receiver: Prometheus on http://127.0.0.1:$RECEIVER_PORT (log: $STATE_DIR/receiver.log)
tern:     http://$TERN_LISTEN/metrics, /api/v1/targets

In another terminal, after ~10 s, this shows tern's own series arriving:
  curl -s 'http://127.0.0.1:$RECEIVER_PORT/api/v1/query?query=up%7Bjob%3D%22tern%22%7D'
  curl -s 'http://127.0.0.1:$RECEIVER_PORT/api/v1/query?query=rate(tern_scrape_scrapes_total%5B1m%5D)'

MSG
./target/release/tern run --config config/quickstart.yml --data-dir "$STATE_DIR/tern" --listen "$TERN_LISTEN"
