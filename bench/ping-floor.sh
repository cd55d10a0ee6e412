#!/usr/bin/env bash
# The flood-ping floor of a userspace TAP responder on this machine: `ping -f` against a 60-line C echo
# responder on a TAP (bench/tap-echo-floor.c: no JS, no event loop), against the kernel over a veth pair in
# the same run. tapnet's own rate (bench/ping.sh) can only approach this number.
#
#   bash bench/ping-floor.sh [FLOOD_SECONDS] [MODE]     (MODE: poll, the default, or spin)
set -euo pipefail
cd "$(dirname "$0")/.."
FLOOD=${1:-5}
MODE=${2:-poll}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=tf$id NS=tfns$id KA=tfka$id KB=tfkb$id RUN=$(mktemp -d)
ECHO_PID=
cleanup() {
  [ -n "$ECHO_PID" ] && kill "$ECHO_PID" 2>/dev/null && wait "$ECHO_PID" 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
cc -O2 -o "$RUN/tap-echo-floor" bench/tap-echo-floor.c

# The responder's TAP, moved into $NS (the fd keeps working), with a static neighbour: no ARP needed.
ip netns add "$NS"
"$RUN/tap-echo-floor" "$TAP" "$MODE" >"$RUN/out" &
ECHO_PID=$!
for _ in $(seq 50); do grep -q ready "$RUN/out" 2>/dev/null && break; sleep 0.1; done
ip link set "$TAP" netns "$NS"
ip -n "$NS" addr add 10.77.0.2/24 dev "$TAP"; ip -n "$NS" link set "$TAP" up
ip -n "$NS" neigh add 10.77.0.1 lladdr 02:00:00:00:00:01 dev "$TAP" nud permanent

# kernel baseline: two namespaces joined by a veth pair, same addresses (as bench/ping.sh)
ip netns add "$KA"; ip netns add "$KB"
ip link add va$id netns "$KA" type veth peer name vb$id netns "$KB"
ip -n "$KA" addr add 10.77.0.2/24 dev va$id; ip -n "$KA" link set va$id up
ip -n "$KB" addr add 10.77.0.1/24 dev vb$id; ip -n "$KB" link set vb$id up
ip netns exec "$NS" ping -c1 -W2 10.77.0.1 >/dev/null
ip netns exec "$KA" ping -c1 -W2 10.77.0.1 >/dev/null

flood() { # ns -> replies per second
  ip netns exec "$1" ping -n -f -w "$FLOOD" -q 10.77.0.1 |
    awk -F'[ ,]+' '/received/ {for (i=1;i<=NF;i++) { if ($(i+1)=="received") r=$i; if ($i ~ /^[0-9]+ms$/) t=$i } } END { sub("ms","",t); printf "%.0f\n", r/(t/1000) }'
}
ef=$(flood "$NS")
kf=$(flood "$KA")
echo "| metric | C echo on a TAP ($MODE) | kernel (veth) | C echo / kernel |"
echo "| --- | --- | --- | --- |"
echo "| flood ping replies/s (${FLOOD} s) | $ef | $kf | $(awk -v a="$ef" -v b="$kf" 'BEGIN { printf "%.2f", a/b }') |"
