# Confab's container image: a release build on the Rust image, run on a slim
# Debian as an unprivileged user. Data (the SQLite database, uploads, the
# VAPID key) lives in the /data volume.
#
#   docker build -t confab .
#   docker run -p 8080:8080 -v confab-data:/data confab
#
# For a cluster (PostgreSQL + Redis + two nodes + HAProxy) see deploy/compose.yaml.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The web client is embedded into the release binary (rust-embed).
RUN cargo build --release --locked --bin confab \
    && install -m 0755 target/release/confab /usr/local/bin/confab

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin confab \
    && mkdir -p /data \
    && chown confab:confab /data
COPY --from=build /usr/local/bin/confab /usr/local/bin/confab
USER confab
WORKDIR /data
# Listen on every interface inside the container; metrics on their own port
# (publish 9090 only to your Prometheus network).
ENV CONFAB_LISTEN=0.0.0.0:8080 \
    CONFAB_DATA_DIR=/data \
    CONFAB_METRICS_LISTEN=0.0.0.0:9090 \
    CONFAB_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080 9090
# Liveness only: /readyz is for load balancers (a node waiting for its
# database is alive and must not be restarted for it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["confab"]
CMD ["serve"]
