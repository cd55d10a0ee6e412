#!/usr/bin/env bash
# Ping benchmark: tapnet vs the Linux kernel, same machine, same run.
#
#   bash bench/ping.sh [COUNT] [FLOOD_SECONDS]      (env: TAPNET_ARGS="--busy-poll 0")
#
# 1. RTT median and p99 of COUNT pings (default 10000, 0.2 ms apart) from a namespace:
#    a) to tapnet through its TAP           b) to a kernel namespace over a veth pair (the baseline)
# 2. Flood-ping reply rate (`ping -f` for FLOOD_SECONDS, default 5 s) to each.
# 3. tapnet's CPU time during 10 s of idle after the floods (busy-polling must not spin when nothing arrives).
# Prints a Markdown table (append it to bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-10000}
FLOOD=${2:-5}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=tb$id NS=tbns$id KA=tbka$id KB=tbkb$id RUN=$(mktemp -d)
TAPNET_PID=

cleanup() {
  [ -n "$TAPNET_PID" ] && kill "$TAPNET_PID" 2>/dev/null && wait "$TAPNET_PID" 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

# tapnet, kernel end in $NS
# shellcheck disable=SC2086
TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" --log-level warn ${TAPNET_ARGS:-} 2>"$RUN/log" &
TAPNET_PID=$!
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
[ -S "$RUN/$TAP.sock" ] || { cat "$RUN/log"; exit 1; }

# kernel baseline: two namespaces joined by a veth pair, same addresses
ip netns add "$KA"; ip netns add "$KB"
ip link add va$id netns "$KA" type veth peer name vb$id netns "$KB"
ip -n "$KA" addr add 10.77.0.2/24 dev va$id; ip -n "$KA" link set va$id up
ip -n "$KB" addr add 10.77.0.1/24 dev vb$id; ip -n "$KB" link set vb$id up
ip netns exec "$KA" ping -c1 -W2 10.77.0.1 >/dev/null

rtt() { # ns -> "median p99" in ms
  ip netns exec "$1" ping -n -c "$COUNT" -i 0.0002 -W 1 10.77.0.1 |
    sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -g |
    awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; p=a[int(NR*0.99+0.5)]; printf "%.3f %.3f %d\n", m, p, NR}'
}
flood() { # ns -> replies per second
  ip netns exec "$1" ping -n -f -w "$FLOOD" -q 10.77.0.1 |
    awk -F'[ ,]+' '/received/ {for (i=1;i<=NF;i++) { if ($(i+1)=="received") r=$i; if ($i ~ /^[0-9]+ms$/) t=$i } } END { sub("ms","",t); printf "%.0f\n", r/(t/1000) }'
}

read -r tm tp tn < <(rtt "$NS")
read -r km kp kn < <(rtt "$KA")
tf=$(flood "$NS")
kf=$(flood "$KA")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$TAPNET_PID/stat"; }
sleep 1
idle0=$(cpu_ticks); sleep 10; idle1=$(cpu_ticks)
idle_pct=$(awk -v t=$((idle1 - idle0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * t / hz / 10 }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a/b }'; }
echo "| metric | tapnet | kernel (veth) | tapnet / kernel |"
echo "| --- | --- | --- | --- |"
echo "| RTT median (ms, $tn/$kn replies) | $tm | $km | $(ratio "$tm" "$km") |"
echo "| RTT p99 (ms) | $tp | $kp | $(ratio "$tp" "$kp") |"
echo "| flood ping replies/s (${FLOOD} s) | $tf | $kf | $(ratio "$tf" "$kf") |"
echo "| tapnet CPU at idle (10 s after the floods) | ${idle_pct}% | | |"
