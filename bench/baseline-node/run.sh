#!/usr/bin/env bash
# Runs bench/run.sh's scenarios against the Node.js baseline and prints one JSON
# line per scenario on stdout (the bench's tables go to stderr).
#
#   bench/baseline-node/run.sh          # full: one node, then a 2-node cluster (as bench/run.sh)
#   bench/baseline-node/run.sh smoke    # seconds-long correctness run (small sizes, both phases)
#
# Env: BENCH (the load tool, default target/release/confab-bench), DURATION (seconds
# per scenario; default 10, smoke 1), PG_URL (default postgres://postgres@127.0.0.1:5432),
# REDIS_URL (default redis://127.0.0.1:6379). Needs PostgreSQL and Redis running; each
# phase gets a fresh database and Redis key prefix, dropped on exit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
mode="${1:-full}"
bench="${BENCH:-target/release/confab-bench}"
pg="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
redis="${REDIS_URL:-redis://127.0.0.1:6379}"
duration="${DURATION:-10}"
[ "$mode" = smoke ] && duration="${DURATION:-1}"
[ -x "$bench" ] || { echo "no load tool at $bench (cargo build --release -p confab-bench, or set BENCH)" >&2; exit 1; }
command -v node > /dev/null || { echo "node (20+) is needed" >&2; exit 1; }

# Install exactly the locked dependencies when they are missing or stale.
if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

work="$(mktemp -d)"
pids=()
dbs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${dbs[@]}"; do
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" > /dev/null 2>&1 || true
    if command -v redis-cli > /dev/null; then
      redis-cli -u "$redis" --scan --pattern "$d:*" | xargs -r redis-cli -u "$redis" del > /dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# fresh_db NAME: creates a database (its name is also the Redis key prefix).
fresh_db() {
  psql "$pg/postgres" -qc "CREATE DATABASE $1"
  dbs+=("$1")
}

# start_node NAME DB: starts a node on a random port, sets $addr to its address.
start_node() {
  local name="$1" db="$2"
  PORT=0 DATABASE_URL="$pg/$db" REDIS_URL="$redis" REDIS_PREFIX="$db" \
    node "$here/server.js" > "$work/$name.out" 2> "$work/$name.err" &
  pids+=($!)
  for _ in $(seq 1 100); do
    # The node may not have created its output file yet (and set -e would stop here).
    addr="$(sed -n 's/^baseline listening on http:\/\///p' "$work/$name.out" 2>/dev/null || true)"
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "node $name did not start:" >&2; cat "$work/$name.err" >&2; exit 1
}

# Sizes as in bench/run.sh; smoke is smaller and also tries the cluster.
if [ "$mode" = smoke ]; then
  pairs=4 window=4 members=20 gwindow=2 cmembers=20 senders=3
else
  pairs=50 window=8 members=999 gwindow=4 cmembers=200 senders=100
fi

single_db="baseline_bench_$$_single"
fresh_db "$single_db"
start_node single "$single_db"
single="$addr"
"$bench" --url "$single" --duration "$duration" direct --pairs "$pairs" --window "$window"
if [ "$mode" != smoke ]; then
  # The same open-loop rates as bench/run.sh. Past its capacity a server falls
  # behind and messages arrive after the run: the tool counts them as lost and
  # fails; that is the result, so it does not stop the rest.
  "$bench" --url "$single" --duration "$duration" direct --pairs "$pairs" --rate 1000 || true
  "$bench" --url "$single" --duration "$duration" direct --pairs "$pairs" --rate 3000 || true
  "$bench" --url "$single" --duration "$duration" group --members 99 --window "$gwindow"
fi
"$bench" --url "$single" --duration "$duration" offline --pairs "$pairs" --window "$window"
"$bench" --url "$single" new-conversations --senders "$senders" --recipients "$senders" --messages 2 --window 16
"$bench" --url "$single" --duration "$duration" group --members "$members" --window "$gwindow"

cluster_db="baseline_bench_$$_cluster"
fresh_db "$cluster_db"
start_node n1 "$cluster_db"; a="$addr"
start_node n2 "$cluster_db"; b="$addr"
"$bench" --url "$a" --url "$b" --duration "$duration" direct --pairs "$pairs" --window "$window"
"$bench" --url "$a" --url "$b" --duration "$duration" offline --pairs "$pairs" --window "$window"
"$bench" --url "$a" --url "$b" new-conversations --senders "$senders" --recipients "$senders" --messages 2 --window 16
"$bench" --url "$a" --url "$b" --duration "$duration" group --members "$cmembers" --window "$gwindow"
