#!/usr/bin/env bash
# Quick start: build tern and run it on config/quickstart.yml.
# (Placeholder until the agent lands: see the status table in README.md.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin tern
exec ./target/release/tern run --config config/quickstart.yml --data-dir data --listen 127.0.0.1:9464
