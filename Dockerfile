# tern's container image: a release build in a Rust stage, then a small
# Debian runtime with CA certificates (tern verifies TLS against the system
# roots), running as a non-root user (uid/gid 10001, the DaemonSet's runAsUser).
#
#   docker build -t tern .
#   docker run --rm -p 9464:9464 -v "$PWD/prometheus.yml:/etc/tern/prometheus.yml:ro" \
#       -v tern-wal:/var/lib/tern tern
#
# Build and runtime share Debian 13 (trixie), so the binary's glibc matches.
# Rust 1.95: the toolchain the project is built and tested with (some
# dependencies need at least 1.94.1).

FROM rust:1.95-trixie AS build
WORKDIR /src

# 1. The dependency graph alone, in its own layer: a dummy crate with the real
#    manifest, lock file, build script and protos (build.rs compiles them), and
#    stub files for every target the manifest names. Source edits do not
#    invalidate this layer, so a rebuild compiles only tern itself.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
RUN mkdir -p src benches examples \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && for f in benches/parse.rs benches/encode.rs benches/wal.rs benches/hostmetrics.rs examples/parse_loop.rs; do echo 'fn main() {}' > "$f"; done \
 && cargo build --release --locked --bin tern \
 && rm -rf src

# 2. tern's sources. COPY keeps the files' own modification times, which may be
#    older than the dummy build's: touch them so that cargo rebuilds the crate.
COPY src src
RUN find src -type f -exec touch {} + \
 && cargo build --release --locked --bin tern \
 && ./target/release/tern --version

FROM debian:trixie-slim
# ca-certificates is not pinned: the security archive replaces its version.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tern \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tern --create-home --shell /usr/sbin/nologin tern
COPY --from=build /src/target/release/tern /usr/local/bin/tern
USER 10001:10001
# The WAL (--data-dir); mount a volume here to keep it across containers.
WORKDIR /var/lib/tern
# tern's own endpoints: /metrics, /-/healthy, /-/ready, /-/reload, /api/v1/targets.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/tern"]
CMD ["run", "--config", "/etc/tern/prometheus.yml", "--data-dir", "/var/lib/tern", "--listen", "0.0.0.0:9464"]
