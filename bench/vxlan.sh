#!/usr/bin/env bash
# VXLAN benchmark: TCP throughput (iperf3) across a tapnet VXLAN link vs the same across a pair of Linux vxlan
# devices, same machine, same run.
#
#   bash bench/vxlan.sh [SECONDS]
#
#   kernel:  ns KA (vxlan id 42, 10.88.0.1) ── veth 192.0.2.1 ═ 192.0.2.2 ── ns KB (vxlan id 42, 10.88.0.2)
#   tapnet:  host pa ── switch (part a) ═ VXLAN over the underlay namespaces UA (192.0.2.1) ═ UB (192.0.2.2) ═
#            switch (part b) ── host pb: two `tapnet lab up --part` processes, iperf3 between the two hosts
# Both inner links have MTU 1450 (1500 - 50). iperf3 -c runs SECONDS (default 5), one run each.
# Prints a Markdown table (append it to bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-5}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
KA=bxka$id KB=bxkb$id UA=bxua$id UB=bxub$id PA=bxpa$id PB=bxpb$id RUN=$(mktemp -d)
PIDS=()

cleanup() {
  for f in a b; do TAPNET_RUN_DIR=$RUN node bin/tapnet.js lab down "$RUN/lab.yaml" --part $f >/dev/null 2>&1 || true; done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for ns in "$KA" "$KB" "$UA" "$UB" "$PA" "$PB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

underlay() { # nsA nsB: a veth between them, 192.0.2.1 and .2, tx checksum offload off (see labs/README.md)
  ip netns add "$1"; ip netns add "$2"
  ip link add u1$id netns "$1" type veth peer name u2$id netns "$2"
  ip -n "$1" addr add 192.0.2.1/24 dev u1$id; ip -n "$1" link set u1$id up
  ip -n "$2" addr add 192.0.2.2/24 dev u2$id; ip -n "$2" link set u2$id up
  ip netns exec "$1" ethtool -K u1$id tx off >/dev/null
  ip netns exec "$2" ethtool -K u2$id tx off >/dev/null
}

iperf() { # server-ns client-ns server-address -> "Mbit/s retransmits"
  ip netns exec "$1" iperf3 -s -1 -D -p 5288 >/dev/null
  sleep 0.3
  ip netns exec "$2" iperf3 -c "$3" -p 5288 -t "$T" -J | python3 -c '
import json, sys; r = json.load(sys.stdin)["end"]["sum_sent"]; print(round(r["bits_per_second"] / 1e6), r.get("retransmits", 0))'
}

# Kernel pair.
underlay "$KA" "$KB"
ip -n "$KA" link add vx0 type vxlan id 42 dstport 4789 local 192.0.2.1 remote 192.0.2.2 dev u1$id
ip -n "$KB" link add vx0 type vxlan id 42 dstport 4789 local 192.0.2.2 remote 192.0.2.1 dev u2$id
ip -n "$KA" addr add 10.88.0.1/24 dev vx0; ip -n "$KA" link set vx0 up
ip -n "$KB" addr add 10.88.0.2/24 dev vx0; ip -n "$KB" link set vx0 up
ip netns exec "$KA" ping -c1 -W2 10.88.0.2 >/dev/null
read -r kernel kernel_retr < <(iperf "$KB" "$KA" 10.88.0.2)

# tapnet pair: two parts of one lab file, each its own process.
underlay "$UA" "$UB"
cat >"$RUN/lab.yaml" <<EOF
name: bx$id
nodes:
  $PA: { kind: host, part: a, interfaces: { eth0: { address: 10.89.0.1/24 } } }
  bxsa$id: { kind: switch, part: a, ports: { p1: {}, wan: {} } }
  $PB: { kind: host, part: b, interfaces: { eth0: { address: 10.89.0.2/24 } } }
  bxsb$id: { kind: switch, part: b, ports: { p1: {}, wan: {} } }
links:
  - { endpoints: [$PA:eth0, bxsa$id:p1], mtu: 1450 }
  - { endpoints: [$PB:eth0, bxsb$id:p1], mtu: 1450 }
  - [bxsa$id:wan, { vxlan: { vni: 42, remote: 192.0.2.2, local: 192.0.2.1, netns: $UA } }]
  - [bxsb$id:wan, { vxlan: { vni: 42, remote: 192.0.2.1, local: 192.0.2.2, netns: $UB } }]
EOF
for f in a b; do
  TAPNET_RUN_DIR=$RUN node bin/tapnet.js lab up "$RUN/lab.yaml" --part $f --log-level warn >"$RUN/$f.log" 2>&1 &
  PIDS+=($!)
done
for f in a b; do
  for _ in $(seq 150); do [ -S "$RUN/lab-bx$id-$f.sock" ] && break; sleep 0.1; done
  [ -S "$RUN/lab-bx$id-$f.sock" ] || { cat "$RUN/$f.log"; exit 1; }
done
ip netns exec "$PA" ping -c1 -W2 10.89.0.2 >/dev/null
read -r tapnet tapnet_retr < <(iperf "$PB" "$PA" 10.89.0.2)
# Where segments were lost: the tunnels' drop counters, and the underlay sockets' receive-buffer overflows.
drops=$(for f in a b; do TAPNET_RUN_DIR=$RUN node bin/tapnet.js show stats --json --lab "$RUN/lab.yaml" --part $f --node bxs$f$id; done |
  python3 -c 'import json, sys
d = json.JSONDecoder(); t = sys.stdin.read(); i = 0; out = {}
while i < len(t):
    if t[i].isspace(): i += 1; continue
    o, i = d.raw_decode(t, i)
    for k, v in o.items():
        if k.startswith("vxlanOut") and k != "vxlanOutDatagrams" and v: out[k] = out.get(k, 0) + v
print(", ".join(f"{k} {v}" for k, v in out.items()) or "none")')
rcvbuf=$(for ns in "$UA" "$UB"; do ip netns exec "$ns" nstat -az UdpRcvbufErrors Udp6RcvbufErrors | awk '/RcvbufErrors/ { s += $2 } END { print s + 0 }'; done | paste -sd+ | bc)

echo "| path (iperf3 -t $T, one run each) | Mbit/s | retransmits |"
echo "| --- | --- | --- |"
echo "| kernel vxlan ↔ kernel vxlan | $kernel | $kernel_retr |"
echo "| tapnet vxlan ↔ tapnet vxlan (two lab parts) | $tapnet | $tapnet_retr |"
echo
echo "tapnet / kernel: $(python3 -c "print(round($tapnet / $kernel, 3))")"
echo "tapnet tunnel send drops: $drops; underlay UDP receive-buffer overflows (UdpRcvbufErrors): $rcvbuf"
