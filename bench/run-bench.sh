#!/bin/bash
# run-bench.sh - the standard benchmark suite (`make bench`): every workload RUNS times
# (default 3), each on a fresh data dir with a fresh imserver (2 workers), imbench and the
# server sharing this machine's cores. Then the microbenchmarks and a callgrind profile of
# the server under a small chat load. Writes OUT (default docs/performance.md) with the
# medians, the commands and the machine.
# Usage: bench/run-bench.sh [BUILD_DIR] [OUT]     env: RUNS=3 PROFILE=1 QUICK=0
set -euo pipefail
BUILD=${1:-build/release}
OUT=${2:-docs/performance.md}
RUNS=${RUNS:-3}
PROFILE=${PROFILE:-1}
QUICK=${QUICK:-0}  # 1: tiny numbers, to check the script itself
IMSERVER=$BUILD/tools/imserver
IMBENCH=$BUILD/bench/imbench
WORK=$(mktemp -d /tmp/imbench-suite-XXXXXX)
RESULTS=$WORK/results.tsv
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"/data-*' EXIT
: >"$RESULTS"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server [imserver flags...]: sets SERVER_PID and PORT.
start_server() {
  PORT=$(free_port)
  local dir
  dir=$(mktemp -d "$WORK/data-XXXXXX")
  "$@" "$IMSERVER" --data-dir "$dir" --port "$PORT" --workers 2 --log-level warn \
    >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null &&
      return 0
    sleep 0.1
  done
  echo "imserver did not start" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  rm -rf "$WORK"/data-*
}

# run_case NAME "SERVER FLAGS" IMBENCH ARGS...: RUNS runs, one line each in $RESULTS.
run_case() {
  local name=$1 server_flags=$2
  shift 2
  for i in $(seq "$RUNS"); do
    # shellcheck disable=SC2086
    start_server env -- ; kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    PORT=$(free_port)
    local dir
    dir=$(mktemp -d "$WORK/data-XXXXXX")
    # shellcheck disable=SC2086
    "$IMSERVER" --data-dir "$dir" --port "$PORT" --workers 2 --log-level warn $server_flags \
      >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
      python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" \
        2>/dev/null && break
      sleep 0.1
    done
    echo "== $name run $i: imbench $* (server: $server_flags)" >&2
    local line rc=0
    line=$("$IMBENCH" "$@" --server "127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
      --no-progress --json "$WORK/$name-$i.json") || rc=$?
    echo "$line" >&2
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$i" "imbench $* --server 127.0.0.1:PORT --server-pid PID" \
      "$server_flags" "$line rc=$rc" >>"$RESULTS"
    stop_server
  done
}

if [ "$QUICK" = 1 ]; then
  CHAT="--pairs 5 --messages 200"; CONNS="--connections 300 --duration 2"
  STORM="--users 5 --duration 2"; HIST="--pairs 3 --messages 300 --duration 2"
  OPEN="--pairs 5 --messages 200 --rate 2000"
else
  CHAT="--pairs 100 --messages 2000 --window 16 --payload 100"
  CONNS="--connections 10000 --procs 2 --duration 10 --heartbeat 5"
  STORM="--users 50 --concurrency 64 --duration 5"
  HIST="--pairs 20 --messages 2000 --page 50 --window 4 --duration 5"
  OPEN="--pairs 100 --messages 500 --rate 10000 --payload 100"
fi

# shellcheck disable=SC2086
{
  run_case chat-sync "" chat-1to1 $CHAT
  run_case chat-nosync "--durability nosync" chat-1to1 $CHAT
  run_case chat-open-nosync "--durability nosync" chat-1to1 $OPEN
  run_case connections "" connections $CONNS
  run_case login-storm "" login-storm $STORM
  run_case history "--durability nosync" history $HIST
}

# Microbenchmarks.
MICRO=$WORK/micro.txt
: >"$MICRO"
for m in micro_codec micro_storage; do
  if [ -x "$BUILD/bench/$m" ]; then
    "$BUILD/bench/$m" --benchmark_min_time=0.3 2>/dev/null | grep -E '^BM_' >>"$MICRO" || true
  fi
done

# Profile: callgrind on the server under a small chat load (perf counters are not available
# on this VM: `perf stat -e instructions true` reports <not supported>).
PROF=$WORK/profile.txt
: >"$PROF"
if [ "$PROFILE" = 1 ] && command -v valgrind >/dev/null; then
  PORT=$(free_port)
  dir=$(mktemp -d "$WORK/data-XXXXXX")
  valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$IMSERVER" \
    --data-dir "$dir" --port "$PORT" --workers 2 --log-level warn --durability nosync \
    >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null &&
      break
    sleep 0.2
  done
  "$IMBENCH" chat-1to1 --server "127.0.0.1:$PORT" --pairs 10 --messages 500 --window 16 \
    --no-progress --timeout 240 >"$WORK/profile-run.txt" 2>&1 || true
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  callgrind_annotate --inclusive=no "$WORK/callgrind.out" 2>/dev/null | head -60 >"$PROF" || true
fi

python3 "$(dirname "$0")/write_performance_md.py" "$RESULTS" "$MICRO" "$PROF" "$OUT" "$RUNS"
echo "wrote $OUT (raw results in $WORK)" >&2
