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
source bench/lib.sh
work="$(mktemp -d)"
pid=""; db=""
drop() { [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; db=""; }
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.5; drop; rm -rf "$work"' EXIT

for build in "$@"; do
  db="confab_growth_$$"
  psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
  export CONFAB_CLUSTER__REDIS_PREFIX="$db"
  rm -rf "$work/node" "$work"/node.*
  start_confab "$build" "$work/node" \
    --database-url "postgres://postgres@127.0.0.1:5432/$db" --redis-url redis://127.0.0.1:6379
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
