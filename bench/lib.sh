# Sourced by the bench scripts (run.sh, ab.sh, pg-growth.sh): the environment
# a benchmark node runs with, and how one is started.

# A benchmark client is a deliberate flood: the per-socket and per-user event
# rates are lifted, and `connections` opens hundreds of sockets per user.
export CONFAB_LIMITS__EVENTS_PER_SECOND=1000000 CONFAB_LIMITS__EVENTS_BURST=1000000 CONFAB_LOG=warn
export CONFAB_LIMITS__EVENTS_PER_SECOND_PER_USER=1000000 CONFAB_LIMITS__EVENTS_BURST_PER_USER=1000000
export CONFAB_LIMITS__CONNECTIONS_PER_USER=1000000 CONFAB_LIMITS__CONNECTIONS_PER_ADDRESS=0

# start_confab BINARY DIR [ARGS...]: starts a node on a free port with data
# dir DIR (its output in DIR.out and DIR.err); sets $addr and $pid.
start_confab() {
  local binary="$1" dir="$2"; shift 2
  mkdir -p "$dir"
  "$binary" serve --listen 127.0.0.1:0 --data-dir "$dir" "$@" > "$dir.out" 2> "$dir.err" &
  pid=$!
  for _ in $(seq 1 100); do
    # The node may not have created its output file yet (and set -e would stop here).
    addr="$(sed -n 's/^confab listening on http:\/\///p' "$dir.out" 2>/dev/null || true)"
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "$binary did not start:" >&2; cat "$dir.err" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
}
