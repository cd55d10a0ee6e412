#!/usr/bin/env bash
# DHCP benchmark: tapnet's DHCP server vs dnsmasq, same machine, same run.
#
#   bash bench/dhcp.sh [SECONDS] [RUNS] [CLIENTS] [RATE]
#
# perfdhcp (Debian package kea-admin) runs full DISCOVER/OFFER/REQUEST/ACK exchanges from CLIENTS simulated
# clients (default 90, inside the 100-address pool, so every exchange is served) for SECONDS (default 5):
#   1. as fast as it can (throughput: completed 4-way exchanges/s), 2. at RATE exchanges/s (default 500: latency).
# RUNS times (default 3) per server, alternating; the table shows medians.
# perfdhcp acts as a relay (giaddr = its address), so both servers answer by unicast to port 67.
#   a) tapnet up (pool .100-.199, lease file written atomically before each ACK batch), perfdhcp in the kernel end's netns
#   b) dnsmasq (--no-ping, lease file) in a namespace joined to perfdhcp's by a veth pair, same addresses
# Prints a Markdown table (append it to bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
RUNS=${2:-3}
CLIENTS=${3:-90}
RATE=${4:-500}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=td$id NS=tdns$id KA=tdka$id KB=tdkb$id RUN=$(mktemp -d)
TAPNET_PID= DNSMASQ_PID=

cleanup() {
  [ -n "$TAPNET_PID" ] && kill "$TAPNET_PID" 2>/dev/null && wait "$TAPNET_PID" 2>/dev/null || true
  [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

command -v perfdhcp >/dev/null || { echo "perfdhcp not found: apt-get install kea-admin" >&2; exit 1; }

# a) tapnet, kernel end (10.77.0.2) in $NS
TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" --lease-file "$RUN/tapnet.leases" --log-level warn 2>"$RUN/tapnet.log" &
TAPNET_PID=$!
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
[ -S "$RUN/$TAP.sock" ] || { cat "$RUN/tapnet.log"; exit 1; }

# b) dnsmasq in $KB (10.77.0.1), perfdhcp in $KA (10.77.0.2), over a veth pair
ip netns add "$KA"; ip netns add "$KB"
ip link add va$id netns "$KA" type veth peer name vb$id netns "$KB"
ip -n "$KA" addr add 10.77.0.2/24 dev va$id; ip -n "$KA" link set va$id up
ip -n "$KB" addr add 10.77.0.1/24 dev vb$id; ip -n "$KB" link set vb$id up
ip netns exec "$KB" dnsmasq -k --conf-file=/dev/null --port=0 --interface=vb$id --bind-interfaces --no-ping \
  --dhcp-range=10.77.0.100,10.77.0.199,1h --dhcp-leasefile="$RUN/dnsmasq.leases" --user=root 2>"$RUN/dnsmasq.log" &
DNSMASQ_PID=$!
ip netns exec "$KA" ping -c1 -W2 10.77.0.1 >/dev/null
ip netns exec "$NS" ping -c1 -W2 10.77.0.1 >/dev/null

perf() { # ns [perfdhcp args] -> "rate drops%(discover) drops%(request) avg-delay-ms(discover) avg-delay-ms(request)"
  local ns=$1; shift
  # perfdhcp exits non-zero when anything was dropped, which under full load is always.
  { ip netns exec "$ns" perfdhcp -4 -l 10.77.0.2 -R "$CLIENTS" -p "$SECONDS_PER_RUN" "$@" 10.77.0.1 2>&1 || true; } | awk '
    /^Rate:/ { rate = $2 }
    /drops ratio:/ { d[++n] = $3 }
    /avg delay:/ { a[++m] = $3 }
    END { printf "%.0f %s %s %s %s\n", rate, d[1], d[2], a[1], a[2] }'
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for _ in $(seq "$RUNS"); do
  perf "$NS" >>"$RUN/tapnet.runs"
  perf "$KA" >>"$RUN/dnsmasq.runs"
  perf "$NS" -r "$RATE" >>"$RUN/tapnet.rate"
  perf "$KA" -r "$RATE" >>"$RUN/dnsmasq.rate"
done

col() { awk -v c="$2" '{print $c}' "$1" | median; }
tr_=$(col "$RUN/tapnet.runs" 1); kr=$(col "$RUN/dnsmasq.runs" 1)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a/b }'; }
row() { # label file column
  local a b; a=$(col "$RUN/tapnet.$2" "$3"); b=$(col "$RUN/dnsmasq.$2" "$3")
  echo "| $1 | $a | $b | $(ratio "$a" "$b") |"
}
echo "| metric (perfdhcp, $CLIENTS clients, ${SECONDS_PER_RUN} s, median of $RUNS) | tapnet | dnsmasq | tapnet / dnsmasq |"
echo "| --- | --- | --- | --- |"
echo "| full speed: 4-way exchanges/s | $tr_ | $kr | $(ratio "$tr_" "$kr") |"
row "full speed: DISCOVER drops %" runs 2
row "full speed: REQUEST drops %" runs 3
row "at $RATE/s: DISCOVER→OFFER avg (ms)" rate 4
row "at $RATE/s: REQUEST→ACK avg (ms)" rate 5
row "at $RATE/s: REQUEST drops %" rate 3
