#!/usr/bin/env bash
# Runs every scenario against Confab (bench/run.sh) and then the Node.js
# baseline (bench/baseline-node/run.sh) on this machine, one after the
# other, and writes the side-by-side table with ratios into BENCHMARKS.md
# (between the "compare" markers). Needs PostgreSQL and Redis, like the tests.
#
#   bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
bench/run.sh > "$out/confab.jsonl"
BENCH=target/release/confab-bench bench/baseline-node/run.sh > "$out/node.jsonl"
node bench/compare.mjs "$out/confab.jsonl" "$out/node.jsonl" BENCHMARKS.md
echo "raw results: $out" >&2
