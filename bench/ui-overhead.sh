#!/usr/bin/env bash
# What the browser view costs: `tapnet up` without --ui, with --ui but no browser connected ("on, unwatched":
# every trace point tests walkWatch.on and moves on), and with a WebSocket client watching (every frame copied,
# decoded and walked). Alternating runs, ROUNDS of each; medians.
#
#   bash bench/ui-overhead.sh [ROUNDS] [SECONDS]
#
# Per run: flood-ping replies per second (`ping -f` for SECONDS) and TCP throughput (`iperf3 -R -t SECONDS` from
# the namespace against tapnet's iperf3 server). Prints a Markdown table (append it to bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=tu$id NS=tuns$id RUN=$(mktemp -d)
TAPNET_PID= WATCH_PID=

stop() {
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null || true
  [ -n "$TAPNET_PID" ] && kill "$TAPNET_PID" 2>/dev/null && wait "$TAPNET_PID" 2>/dev/null || true
  TAPNET_PID= WATCH_PID=
}
cleanup() { stop; ip netns delete "$NS" 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT

start() { # mode: off | unwatched | watched
  local args=()
  [ "$1" != off ] && args=(--ui 127.0.0.1:0)
  TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" --log-level info --log-format json "${args[@]}" 2>"$RUN/log" &
  TAPNET_PID=$!
  for _ in $(seq 100); do grep -q ready "$RUN/log" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$RUN/log" || { cat "$RUN/log"; exit 1; }
  ip netns exec "$NS" ping -c1 -W2 10.77.0.1 >/dev/null
  if [ "$1" = watched ]; then
    url=$(sed -n 's/.*browser view on \(http:[^"]*\)".*/\1/p' "$RUN/log" | head -1)
    node -e "const {WebSocket}=require('ws'); const ws=new WebSocket(process.argv[1].replace('http','ws')+'ws'); let n=0; ws.on('message',()=>n++); setInterval(()=>{},1000);" "$url" &
    WATCH_PID=$!
    sleep 1
  fi
}
flood() {
  ip netns exec "$NS" ping -n -f -w "$SECS" -q 10.77.0.1 |
    awk -F'[ ,]+' '/received/ {for (i=1;i<=NF;i++) { if ($(i+1)=="received") r=$i; if ($i ~ /^[0-9]+ms$/) t=$i } } END { sub("ms","",t); printf "%.0f\n", r/(t/1000) }'
}
tcp() { ip netns exec "$NS" iperf3 -c 10.77.0.1 -R -t "$SECS" -J | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A F T
for r in $(seq "$ROUNDS"); do
  for mode in off unwatched watched; do
    start "$mode"
    F[$mode]+="$(flood) "
    T[$mode]+="$(tcp) "
    stop
  done
done
fo=$(echo "${F[off]}" | tr ' ' '\n' | grep . | median); to=$(echo "${T[off]}" | tr ' ' '\n' | grep . | median)
echo "| mode | flood ping replies/s (median of $ROUNDS) | vs off | iperf3 -R Mbit/s (median of $ROUNDS) | vs off | runs (flood; Mbit/s) |"
echo "| --- | --- | --- | --- | --- | --- |"
for mode in off unwatched watched; do
  f=$(echo "${F[$mode]}" | tr ' ' '\n' | grep . | median); t=$(echo "${T[$mode]}" | tr ' ' '\n' | grep . | median)
  echo "| $mode | $f | $(awk -v a="$f" -v b="$fo" 'BEGIN{printf "%.2f", a/b}') | $t | $(awk -v a="$t" -v b="$to" 'BEGIN{printf "%.2f", a/b}') | ${F[$mode]}; ${T[$mode]} |"
done
