# Multi-stage build: a cached dependency layer, then a small non-root runtime.
#   docker build -t tern .
#   docker run --rm -v "$PWD/config:/etc/tern:ro" tern run --config /etc/tern/quickstart.yml
FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so that source edits do not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
RUN mkdir -p src benches examples \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && for f in benches/parse.rs benches/encode.rs benches/wal.rs benches/hostmetrics.rs examples/parse_loop.rs; do echo 'fn main() {}' > "$f"; done \
 && cargo build --release --locked --bin tern \
 && rm -rf src
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin tern

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/tern --create-home tern
COPY --from=build /src/target/release/tern /usr/local/bin/tern
USER 10001:10001
WORKDIR /var/lib/tern
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/tern"]
CMD ["run", "--config", "/etc/tern/tern.yml", "--data-dir", "/var/lib/tern", "--listen", "0.0.0.0:9464"]
