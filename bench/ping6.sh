#!/usr/bin/env bash
# Ping benchmark over IPv6: tapnet vs the Linux kernel, same machine, same run (bench/ping.sh's IPv6 twin).
#
#   bash bench/ping6.sh [COUNT] [FLOOD_SECONDS]
#
# 1. RTT median and p99 of COUNT `ping -6` (default 10000, 0.2 ms apart) from a namespace:
#    a) to tapnet (fd77::1) through its TAP, the namespace's address taken by SLAAC from tapnet's RA
#    b) to a kernel namespace over a veth pair, same addresses (the baseline)
# 2. The same with 4000-byte pings (COUNT/10 of them): fragmented and reassembled both ways.
# 3. Flood-ping reply rate (`ping -6 -f` for FLOOD_SECONDS, default 5 s) to each.
# Prints a Markdown table (append it to bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-10000}
FLOOD=${2:-5}
BIG=$(( COUNT / 10 > 0 ? COUNT / 10 : 1 ))
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=tb6$id NS=tb6ns$id KA=tb6ka$id KB=tb6kb$id RUN=$(mktemp -d)
TAPNET_PID=

cleanup() {
  [ -n "$TAPNET_PID" ] && kill "$TAPNET_PID" 2>/dev/null && wait "$TAPNET_PID" 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

# tapnet, kernel end in $NS; wait until SLAAC (and the kernel's DAD) finished there.
TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" --log-level warn 2>"$RUN/log" &
TAPNET_PID=$!
for _ in $(seq 200); do
  ip -n "$NS" -6 -o addr show dev "$TAP" scope global 2>/dev/null | grep -v tentative | grep -q 'inet6 fd77:' && break
  sleep 0.1
done
ip -n "$NS" -6 -o addr show dev "$TAP" scope global | grep -v tentative | grep -q 'inet6 fd77:' || { cat "$RUN/log"; exit 1; }

# kernel baseline: two namespaces joined by a veth pair, same addresses, no DAD wait
ip netns add "$KA"; ip netns add "$KB"
ip link add va$id netns "$KA" type veth peer name vb$id netns "$KB"
ip -n "$KA" addr add fd77::2/64 dev va$id nodad; ip -n "$KA" link set va$id up
ip -n "$KB" addr add fd77::1/64 dev vb$id nodad; ip -n "$KB" link set vb$id up
ip netns exec "$KA" ping -6 -c1 -W2 fd77::1 >/dev/null

rtt() { # ns count size -> "median p99 replies" in ms
  ip netns exec "$1" ping -6 -n -c "$2" -s "$3" -i 0.0002 -W 1 fd77::1 |
    sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -g |
    awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; p=a[int(NR*0.99+0.5)]; printf "%.3f %.3f %d\n", m, p, NR}'
}
flood() { # ns -> replies per second
  ip netns exec "$1" ping -6 -n -f -w "$FLOOD" -q fd77::1 |
    awk -F'[ ,]+' '/received/ {for (i=1;i<=NF;i++) { if ($(i+1)=="received") r=$i; if ($i ~ /^[0-9]+ms$/) t=$i } } END { sub("ms","",t); printf "%.0f\n", r/(t/1000) }'
}

read -r tm tp tn < <(rtt "$NS" "$COUNT" 56)
read -r km kp kn < <(rtt "$KA" "$COUNT" 56)
read -r tbm tbp tbn < <(rtt "$NS" "$BIG" 4000)
read -r kbm kbp kbn < <(rtt "$KA" "$BIG" 4000)
tf=$(flood "$NS")
kf=$(flood "$KA")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a/b }'; }
echo "| metric | tapnet | kernel (veth) | tapnet / kernel |"
echo "| --- | --- | --- | --- |"
echo "| ping -6 RTT median (ms, $tn/$kn replies) | $tm | $km | $(ratio "$tm" "$km") |"
echo "| ping -6 RTT p99 (ms) | $tp | $kp | $(ratio "$tp" "$kp") |"
echo "| ping -6 -s 4000 RTT median (ms, 3 fragments each way, $tbn/$kbn replies) | $tbm | $kbm | $(ratio "$tbm" "$kbm") |"
echo "| ping -6 -s 4000 RTT p99 (ms) | $tbp | $kbp | $(ratio "$tbp" "$kbp") |"
echo "| ping -6 flood replies/s (${FLOOD} s) | $tf | $kf | $(ratio "$tf" "$kf") |"
