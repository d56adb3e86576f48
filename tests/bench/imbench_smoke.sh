#!/bin/sh
# imbench_smoke.sh - starts imserver on a free port with a fresh data dir, runs a tiny
# chat-1to1 (closed and open loop), a tiny group-fanout (closed and open loop, several
# devices per member), a tiny mixed run (idle devices, pairs, groups, reconnects) and a tiny
# open-loop history run, and checks each run was correct: exit 0 and lost=0 dup=0
# reordered=0 in the summary.
# Performance numbers are never asserted.
# Usage: imbench_smoke.sh IMSERVER IMBENCH
set -u
IMSERVER=$1
IMBENCH=$2
DIR=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT

# A free port: ask the kernel for one, then hand it to the server.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$IMSERVER" --data-dir "$DIR/data" --port "$PORT" --workers 2 --log-level warn \
  --durability nosync >"$DIR/server.log" 2>&1 &
SERVER_PID=$!
i=0
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then echo "imserver did not start"; cat "$DIR/server.log"; exit 1; fi
  sleep 0.1
done

check() {  # $1 = label, $2 = workload, $3 = its rate key, rest = imbench flags
  label=$1
  workload=$2
  rate_key=$3
  shift 3
  out=$(timeout 90 "$IMBENCH" "$workload" --server "127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
    --no-progress --timeout 60 --drain-timeout 5 --json "$DIR/$label.json" "$@")
  rc=$?
  echo "$label: $out"
  [ $rc -eq 0 ] || { echo "$label: imbench exited $rc"; exit 1; }
  for key in lost=0 dup=0 reordered=0 errors=0; do
    echo "$out" | grep -q " $key " || { echo "$label: expected $key"; exit 1; }
  done
  echo "$out" | grep -q "$rate_key=" || { echo "$label: no $rate_key"; exit 1; }
  # Every send -> deliver histogram (mixed has one per kind of message) has samples.
  python3 -c "import json,sys; h=[v for k,v in json.load(open(sys.argv[1]))['histograms'].items() if k.endswith('send_deliver')]; assert h and all(v['count'] > 0 for v in h)" \
    "$DIR/$label.json" || { echo "$label: bad --json"; exit 1; }
}

check closed chat-1to1 msgs_per_s --pairs 3 --messages 200 --window 8 --payload 64 --threads 2
check open chat-1to1 msgs_per_s --pairs 3 --messages 100 --rate 2000 --payload 32
# 2 groups of 4 members, 2 devices each: every connection must get all 2 x 2 x 50 entries.
check group-closed group-fanout deliveries_per_s --groups 2 --members 4 --member-devices 2 \
  --senders 2 --messages 50 --window 4 --threads 2
echo "$out" | grep -q " deliveries=1600 " || { echo "group-closed: expected deliveries=1600"; exit 1; }
check group-open group-fanout deliveries_per_s --groups 2 --members 4 --senders 1 \
  --messages 50 --rate 1000 --payload 32 --user-prefix gopen
# 40 users: 8 active (4 pairs, 2 groups of 5) and 32 idle devices of 4 accounts; users drop
# off for 200 ms and must get what they missed through Sync / GroupSync exactly once.
check mixed mixed chat_msgs_per_s --users 40 --pairs 4 --groups 2 --members 5 --senders 2 \
  --pair-rate 10 --group-rate 5 --reconnect-rate 5 --offline-ms 200 --duration 3 \
  --devices-per-user 8 --heartbeat 1 --threads 2
for key in " idle_held=32 " " reconnects=[1-9]" " synced=[1-9]"; do
  echo "$out" | grep -Eq "$key" || { echo "mixed: expected $key"; exit 1; }
done
# history, open loop: pages go out on a schedule (mode=open) and every one is answered.
out=$(timeout 90 "$IMBENCH" history --server "127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
  --no-progress --timeout 60 --pairs 2 --messages 50 --page 20 --rate 500 --duration 1 \
  --user-prefix hist)
rc=$?
echo "history-open: $out"
[ $rc -eq 0 ] || { echo "history-open: imbench exited $rc"; exit 1; }
for key in " mode=open " " errors=0 " " lost=0 " " pages=[1-9]"; do
  echo "$out" | grep -Eq "$key" || { echo "history-open: expected $key"; exit 1; }
done
echo "imbench smoke: ok"
