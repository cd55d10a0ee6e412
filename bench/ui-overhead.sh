#!/usr/bin/env bash
# What the browser view costs: `tapnet up` without --ui, with --ui but no browser connected ("on, unwatched":
# every trace point tests walkWatch.on and moves on), and with a WebSocket client watching (every frame copied,
# decoded and walked). Alternating runs, ROUNDS of each; medians.
#
#   bash bench/ui-overhead.sh [ROUNDS] [SECONDS]
#
# With TAPNET_BEFORE=DIR (a checkout of the commit before the trace points existed, d3109e7, with node_modules and
# native/build linked in) a fourth mode "before" runs that checkout's `tapnet up` in the same rotation, so the trace
# points' cost is measured against code that does not have them, not only against the same code without --ui.
# MODES="before off unwatched" picks the modes (default: before if TAPNET_BEFORE is set, off, unwatched, watched).
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

start() { # mode: before | off | unwatched | watched
  local args=() dir=.
  [ "$1" = before ] && dir=$TAPNET_BEFORE
  [ "$1" != off ] && [ "$1" != before ] && args=(--ui 127.0.0.1:0)
  TAPNET_RUN_DIR=$RUN node "$dir/bin/tapnet.js" up --tap "$TAP" --netns "$NS" --log-level info --log-format json "${args[@]}" 2>"$RUN/log" &
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
cpu() { awk '{print $14 + $15}' "/proc/$TAPNET_PID/stat"; } # tapnet's user + system time, all threads, in ticks
TICK_US=$((1000000 / $(getconf CLK_TCK)))
# Each measurement also records tapnet's CPU time per unit of work (µs per echo reply, µs per MB sent): on a
# machine shared with other jobs the rates swing with the load, the CPU time the process spends per packet far less.
flood() {
  local c0 out; c0=$(cpu)
  out=$(ip netns exec "$NS" ping -n -f -w "$SECS" -q 10.77.0.1 |
    awk -F'[ ,]+' '/received/ {for (i=1;i<=NF;i++) { if ($(i+1)=="received") r=$i; if ($i ~ /^[0-9]+ms$/) t=$i } } END { sub("ms","",t); printf "%.0f %d\n", r/(t/1000), r }')
  set -- $out
  FC[$mode]+="$(awk -v c="$(( $(cpu) - c0 ))" -v r="$2" -v u="$TICK_US" 'BEGIN{printf "%.2f", c*u/r}') "
  F[$mode]+="$1 "
}
tcp() {
  local c0 out; c0=$(cpu)
  out=$(ip netns exec "$NS" iperf3 -c 10.77.0.1 -R -t "$SECS" -J | python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum_received"]; print(round(e["bits_per_second"]/1e6), e["bytes"])')
  set -- $out
  TC[$mode]+="$(awk -v c="$(( $(cpu) - c0 ))" -v b="$2" -v u="$TICK_US" 'BEGIN{printf "%.1f", c*u/(b/1e6)}') "
  T[$mode]+="$1 "
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

MODES=${MODES:-${TAPNET_BEFORE:+before }off unwatched watched}
declare -A F T FC TC
for r in $(seq "$ROUNDS"); do
  for mode in $MODES; do
    start "$mode"
    flood
    tcp
    stop
  done
done
med() { echo "$1" | tr ' ' '\n' | grep . | median; }
first=${MODES%% *}
fo=$(med "${F[$first]}"); to=$(med "${T[$first]}"); fco=$(med "${FC[$first]}"); tco=$(med "${TC[$first]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo "Medians of $ROUNDS alternating runs; ratios against the first mode ($first)."
echo
echo "| mode | flood replies/s | ratio | tapnet CPU µs per reply | ratio | iperf3 -R Mbit/s | ratio | tapnet CPU µs per MB | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for mode in $MODES; do
  f=$(med "${F[$mode]}"); t=$(med "${T[$mode]}"); fc=$(med "${FC[$mode]}"); tc=$(med "${TC[$mode]}")
  echo "| $mode | $f | $(ratio "$f" "$fo") | $fc | $(ratio "$fc" "$fco") | $t | $(ratio "$t" "$to") | $tc | $(ratio "$tc" "$tco") |"
done
echo
echo "Single runs (flood replies/s; µs/reply; Mbit/s; µs/MB):"
for mode in $MODES; do echo "- $mode: ${F[$mode]}; ${FC[$mode]}; ${T[$mode]}; ${TC[$mode]}"; done
