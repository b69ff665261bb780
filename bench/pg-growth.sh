#!/usr/bin/env bash
# Does latency on PostgreSQL grow as history grows? For each given build:
# one node on a fresh PostgreSQL database + Redis, then RUNS open-loop runs
# back to back against that same node (the history grows run by run, and the
# node keeps its connections and their cached plans), one line per run.
#
#   bench/pg-growth.sh RUNS BUILD...
#   RATE=300 SECS=20 bench/pg-growth.sh 8 /tmp/confab-old target/release/confab
#
# Each run: `direct --pairs 150 --rate $RATE` (default 300) for $SECS seconds
# (default 20), new users every run. Needs PostgreSQL and Redis on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=$1; shift
rate="${RATE:-300}"; secs="${SECS:-20}"
bench="${BENCH:-target/release/confab-bench}"
export CONFAB_LIMITS__EVENTS_PER_SECOND=1000000 CONFAB_LIMITS__EVENTS_BURST=1000000 CONFAB_LOG=warn
export CONFAB_LIMITS__EVENTS_PER_SECOND_PER_USER=1000000 CONFAB_LIMITS__EVENTS_BURST_PER_USER=1000000
export CONFAB_LIMITS__CONNECTIONS_PER_USER=1000000 CONFAB_LIMITS__CONNECTIONS_PER_ADDRESS=0
work="$(mktemp -d)"
pid=""; db=""
drop() { [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; db=""; }
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.5; drop; rm -rf "$work"' EXIT

for build in "$@"; do
  db="confab_growth_$$"
  psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
  export CONFAB_CLUSTER__REDIS_PREFIX="$db"
  rm -rf "$work/node"; mkdir -p "$work/node"
  "$build" serve --listen 127.0.0.1:0 --data-dir "$work/node" \
    --database-url "postgres://postgres@127.0.0.1:5432/$db" --redis-url redis://127.0.0.1:6379 \
    > "$work/node.out" 2> "$work/node.err" &
  pid=$!
  addr=""
  for _ in $(seq 1 100); do
    addr="$(sed -n 's/^confab listening on http:\/\///p' "$work/node.out" 2>/dev/null || true)"
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "$build did not start:" >&2; cat "$work/node.err" >&2; exit 1; }
  for run in $(seq 1 "$runs"); do
    line="$("$bench" --url "$addr" --duration "$secs" direct --pairs 150 --rate "$rate" 2>/dev/null | tail -1)"
    stored="$(psql -h 127.0.0.1 -U postgres -d "$db" -tAc 'SELECT count(*) FROM messages')"
    printf '%s\n' "$line" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
e = d.get("e2e_ms", {})
print("%s run %s: %.0f msgs/s, e2e p50 / p99 %s / %s ms, lost %s; %s messages stored" % (
    sys.argv[1], sys.argv[2], d["msgs_per_sec"], e.get("p50"), e.get("p99"), d["lost"], sys.argv[3]))' \
      "$build" "$run" "$stored"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  drop
done
