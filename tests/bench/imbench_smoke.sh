#!/bin/sh
# imbench_smoke.sh - starts imserver on a free port with a fresh data dir, runs a tiny
# chat-1to1 (closed and open loop) and checks the run was correct: exit 0 and
# lost=0 dup=0 reordered=0 in the summary. Performance numbers are never asserted.
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

check() {  # $1 = label, rest = imbench flags
  label=$1
  shift
  out=$(timeout 90 "$IMBENCH" chat-1to1 --server "127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
    --no-progress --timeout 60 --drain-timeout 5 --json "$DIR/$label.json" "$@")
  rc=$?
  echo "$label: $out"
  [ $rc -eq 0 ] || { echo "$label: imbench exited $rc"; exit 1; }
  for key in lost=0 dup=0 reordered=0 errors=0; do
    echo "$out" | grep -q " $key " || { echo "$label: expected $key"; exit 1; }
  done
  echo "$out" | grep -q "msgs_per_s=" || { echo "$label: no msgs_per_s"; exit 1; }
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['histograms']['send_deliver']['count'] > 0" \
    "$DIR/$label.json" || { echo "$label: bad --json"; exit 1; }
}

check closed --pairs 3 --messages 200 --window 8 --payload 64 --threads 2
check open --pairs 3 --messages 100 --rate 2000 --payload 32
echo "imbench smoke: ok"
