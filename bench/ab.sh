#!/usr/bin/env bash
# A/B of server builds on this machine: alternates the given builds, ROUNDS
# times, each run on a fresh SQLite data dir with the bench/run.sh
# environment, and prints one line per run (msgs/s, ack and e2e p50).
#
#   bench/ab.sh ROUNDS SCENARIO BUILD...
#   bench/ab.sh 3 direct /tmp/confab-old target/release/confab
#   bench/ab.sh 2 offline target/release/confab target/release/confab:/tmp/drop-trigger.sql
#
# SCENARIO is direct or offline (--pairs 50 --window 8, 10 s; ARGS="..."
# replaces those options, e.g. ARGS="--pairs 500 --rate 1000" for an open
# loop). BUILD is a
# confab binary, optionally with ":FILE.sql": the data dir is migrated by a
# first start, then FILE.sql is applied with sqlite3 before the measured
# start (how to price one schema object, e.g. an index, without a build).
# The load tool is target/release/confab-bench unless BENCH says otherwise.
# PG=1: each run on a fresh PostgreSQL database (127.0.0.1, dropped after)
# and Redis, as a cluster node (no ":FILE.sql" then).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1; scenario=$2; shift 2
bench="${BENCH:-target/release/confab-bench}"
source bench/lib.sh
work="$(mktemp -d)"
pid=""; db=""
drop() { [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; db=""; }
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.5; drop; rm -rf "$work"' EXIT

stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; drop; }

for round in $(seq 1 "$rounds"); do
  for build in "$@"; do
    binary="${build%%:*}"; sql=""
    [ "$binary" != "$build" ] && sql="${build#*:}"
    dir="$work/run"; rm -rf "$dir" "$dir".*
    if [ -n "$sql" ]; then
      start_confab "$binary" "$dir"; stop
      sqlite3 "$(ls "$dir"/*.db | head -1)" < "$sql"
    fi
    cluster=()
    if [ -n "${PG:-}" ]; then
      db="confab_ab_$$"
      psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
      export CONFAB_CLUSTER__REDIS_PREFIX="$db"
      cluster=(--database-url "postgres://postgres@127.0.0.1:5432/$db" --redis-url redis://127.0.0.1:6379)
    fi
    start_confab "$binary" "$dir" "${cluster[@]}"
    # shellcheck disable=SC2086 # ARGS is a list of options
    line="$("$bench" --url "$addr" --duration 10 "$scenario" ${ARGS:---pairs 50 --window 8} 2>/dev/null | tail -1)"
    stop
    printf '%s\n' "$line" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
a, e = d.get("ack_ms", {}), d.get("e2e_ms", {})
fetch = ", fetched back in %.2f s (%.2f s connecting)" % (d["fetch_seconds"], d["fetch_connect_seconds"]) \
    if "fetch_seconds" in d else ""
print("round %s  %s: %.0f msgs/s, ack p50 %s ms, e2e p50 / p99 %s / %s ms%s, lost %s, duplicated %s" % (
    sys.argv[1], sys.argv[2], d["msgs_per_sec"], a.get("p50"), e.get("p50"), e.get("p99"), fetch, d["lost"],
    d["duplicated"]))' \
      "$round" "$build"
  done
done
