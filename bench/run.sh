#!/usr/bin/env bash
# Runs the benchmark scenarios against a release build of Confab on this
# machine and prints one JSON line per scenario (the tables go to stderr).
#
#   bench/run.sh            # full run (single node: SQLite; then a 2-node cluster)
#   bench/run.sh smoke      # seconds-long correctness run (used by scripts/test)
#   bench/run.sh soak       # ten minutes of connection churn, watching for leaks
#
# The server runs with the per-socket event rate limit lifted (a benchmark
# client is a deliberate flood). Cluster runs need PostgreSQL and Redis on
# 127.0.0.1 (as the test suite does).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-full}"
profile=release
[ "$mode" = smoke ] && profile=debug
if [ "$profile" = release ]; then
  cargo build --release --locked -p confab --bin confab && cargo build --release --locked -p confab-bench
else
  cargo build --locked -p confab --bin confab && cargo build --locked -p confab-bench
fi
server="target/$profile/confab"
bench="target/$profile/confab-bench"
work="$(mktemp -d)"
pids=()
db=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

source bench/lib.sh

# start_node NAME [ARGS...]: starts a node, sets $addr to its address and $pid to its pid.
start_node() {
  local name="$1"; shift
  start_confab "$server" "$work/$name" "$@"
  pids+=($pid)
}

if [ "$mode" = smoke ]; then
  start_node single
  "$bench" --url "$addr" --duration 1 direct --pairs 4 --window 4
  "$bench" --url "$addr" --duration 1 direct --pairs 4 --rate 200
  "$bench" --url "$addr" --duration 1 offline --pairs 4 --window 4
  "$bench" --url "$addr" new-conversations --senders 3 --recipients 4 --messages 2 --window 4
  "$bench" --url "$addr" --duration 1 group --members 20 --window 2
  "$bench" --url "$addr" --duration 1 connections --sockets 200 --users 10 --server-pid "$pid"
  start_node soak
  "$bench" --url "$addr" --duration 3 soak --users 20 --lanes 10 --messages 3 --hold-ms 200 \
    --sample-secs 1 --settle-secs 3 --server-pid "$pid"
  exit 0
fi

# Each process may hold at most 20,000 files here (a hard limit).
ulimit -n "$(ulimit -Hn)"

if [ "$mode" = soak ]; then
  # Ten minutes of churn on a fresh node: up to 3,000 sockets open at once, a
  # fifth of them dropped without a close; fails on a lost message or a leaked fd.
  start_node soak
  "$bench" --url "$addr" --duration 600 soak --users 3000 --lanes 1500 --messages 4 --hold-ms 30000 \
    --sources 32 --sample-secs 5 --settle-secs 20 --server-pid "$pid"
  exit 0
fi
start_node single
single="$addr"
"$bench" --url "$single" --duration 10 connections --sockets 19000 --users 100 --concurrency 128 --server-pid "$pid"
"$bench" --url "$single" --duration 10 direct --pairs 50 --window 8
# Open loop: latency at a fixed 1,000 msgs/s and at about half the closed-loop maximum.
"$bench" --url "$single" --duration 10 direct --pairs 50 --rate 1000
"$bench" --url "$single" --duration 10 direct --pairs 50 --rate 3000
"$bench" --url "$single" --duration 10 offline --pairs 50 --window 8
# The first message of 10,000 new direct conversations (100 senders x 100 offline recipients).
"$bench" --url "$single" new-conversations --senders 100 --recipients 100 --messages 2 --window 16
"$bench" --url "$single" --duration 10 group --members 99 --window 4
"$bench" --url "$single" --duration 10 group --members 999 --window 4

db="confab_bench_$$"
psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
export CONFAB_CLUSTER__REDIS_PREFIX="$db"
start_node n1 --database-url "postgres://postgres@127.0.0.1:5432/$db" --redis-url redis://127.0.0.1:6379; a="$addr"
start_node n2 --database-url "postgres://postgres@127.0.0.1:5432/$db" --redis-url redis://127.0.0.1:6379; b="$addr"
"$bench" --url "$a" --url "$b" --duration 10 direct --pairs 50 --window 8
"$bench" --url "$a" --url "$b" --duration 10 offline --pairs 50 --window 8
"$bench" --url "$a" --url "$b" --duration 10 group --members 200 --window 4
"$bench" --url "$a" --url "$b" new-conversations --senders 100 --recipients 100 --messages 2 --window 16
# Latency on a database that already holds a large history: one node on PostgreSQL
# + Redis, 500 pairs at a steady 1,000 msgs/s, after 1,000,000 messages were written
# straight into the pairs' conversations (bench/confab-bench/src/prefill.rs).
"$bench" --url "$a" --database-url "postgres://postgres@127.0.0.1:5432/$db" --duration 10 \
  direct --pairs 500 --rate 1000 --history 1000000
