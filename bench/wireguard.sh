#!/usr/bin/env bash
# WireGuard throughput: tapnet ↔ wireguard-go against wireguard-go ↔ wireguard-go, in one topology, one run.
#
#   bash bench/wireguard.sh [SECONDS]          (run it under: flock /tmp/tapnet-heavy.lock bash bench/wireguard.sh)
#
# TAPNET_BENCH_NODE_ARGS: extra node flags for the tapnet process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
# TAPNET_BENCH_CASES: which measurements to run (default "t_up t_down g_up g_down"; t_ = tapnet wg0, g_ =
# wireguard-go at both ends; up = lan → peer, down = peer → lan, iperf3 -R), e.g. "t_up" to profile one direction.
# TAPNET_BENCH_STATS=1: after each case, the drops that matter on stderr: r's counters (tapnet show stats),
# the kernel's TAP drops (ip -s link) and UDP buffer errors (nstat) in lan and peer.
#
#   lan 10.60.0.10 ── lan [r: tapnet router] eth0 10.50.0.1 ── 10.50.0.2 peer
#       wireguard-go wl (10.98.0.1)      wg0 10.99.0.1 (tapnet)          wireguard-go wp: 10.99.0.2 (↔ tapnet), 10.98.0.2 (↔ wl)
#
# Both paths cross the tapnet router once. "tapnet ↔ wireguard-go": iperf3 from lan to 10.99.0.2, tapnet seals
# (and opens the ACKs) in r's wg0, wireguard-go opens at peer. "wireguard-go ↔ wireguard-go": iperf3 from lan
# to 10.98.0.2, wireguard-go at both ends, r only forwards the UDP. Prints a Markdown table (Mbit/s, iperf3
# TCP, both directions) to append to bench/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
RUN=$(mktemp -d) LAN=wbl$id PEER=wbp$id WL=wbl$id WP=wbp$id
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  TAPNET_RUN_DIR=$RUN node bin/tapnet.js lab down "$RUN/wg.yaml" >/dev/null 2>&1
  wait 2>/dev/null || true
  for ns in "$LAN" "$PEER"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -f "/var/run/wireguard/$WL.sock" "/var/run/wireguard/$WP.sock" "/var/run/wireguard/${WP}b.sock"
  rm -rf "$RUN"
}
trap cleanup EXIT
key() { wg genkey; }
pub() { echo "$1" | wg pubkey; }
RK=$(key) PK=$(key) LK=$(key) PK2=$(key)
cat > "$RUN/wg.yaml" <<YAML
name: wgbench-$id
nodes:
  $LAN:
    kind: host
    interfaces:
      eth0: { address: 10.60.0.10/24 }
      $WL:
        kind: wireguard
        privateKey: $LK
        address: 10.98.0.1/24
        peers:
          - { publicKey: $(pub "$PK2"), endpoint: "10.50.0.2:51821", allowedIPs: [10.98.0.2/32] }
    routes: [default via 10.60.0.1]
  $PEER:
    kind: host
    interfaces:
      eth0: { address: 10.50.0.2/24 }
      $WP:
        kind: wireguard
        privateKey: $PK
        listenPort: 51820
        address: 10.99.0.2/24
        peers:
          - { publicKey: $(pub "$RK"), endpoint: "10.50.0.1:51820", allowedIPs: [10.99.0.1/32, 10.60.0.0/24] }
    routes: [default via 10.50.0.1]
  r:
    kind: router
    interfaces:
      lan: { address: 10.60.0.1/24 }
      eth0: { address: 10.50.0.1/24 }
      wg0:
        kind: wireguard
        privateKey: $RK
        listenPort: 51820
        address: 10.99.0.1/24
        peers:
          - { publicKey: $(pub "$PK"), endpoint: "10.50.0.2:51820", allowedIPs: [10.99.0.2/32] }
links:
  - [$LAN:eth0, r:lan]
  - [r:eth0, $PEER:eth0]
YAML
TAPNET_RUN_DIR=$RUN node ${TAPNET_BENCH_NODE_ARGS:-} bin/tapnet.js lab up "$RUN/wg.yaml" --log-level warn >"$RUN/log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do grep -q ready "$RUN/log" 2>/dev/null && break; [ -S "$RUN/lab-wgbench-$id.sock" ] && break; sleep 0.1; done
# The peer's second wireguard-go interface (for the wireguard-go ↔ wireguard-go path): a second device, port 51821.
WP2=${WP}b
ip netns exec "$PEER" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f "$WP2" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "/var/run/wireguard/$WP2.sock" ] && break; sleep 0.05; done
printf '[Interface]\nPrivateKey = %s\nListenPort = 51821\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.98.0.1/32\n' "$PK2" "$(pub "$LK")" > "$RUN/wp2.conf"
ip netns exec "$PEER" wg setconf "$WP2" "$RUN/wp2.conf"
ip -n "$PEER" addr add 10.98.0.2/24 dev "$WP2"; ip -n "$PEER" link set "$WP2" mtu 1420 up
ip netns exec "$PEER" iperf3 -s -p 5202 >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
ip netns exec "$LAN" ping -c 2 -W 3 10.99.0.2 >/dev/null; ip netns exec "$LAN" ping -c 2 -W 3 10.98.0.2 >/dev/null
stats() {
  [ -n "${TAPNET_BENCH_STATS:-}" ] || return 0
  {
    echo "== after $1: r (tapnet show stats, nonzero drops and wg counters)"
    TAPNET_RUN_DIR=$RUN node bin/tapnet.js show stats --lab "$RUN/wg.yaml" --node r 2>&1 | grep -Ei 'drop|err|full|wg|Udp|retrans|fail|discard' | grep -v ' 0$'
    for ns in "$LAN" "$PEER"; do
      echo "== $ns: ip -s link (TAP/wg drops), nstat UDP"
      ip netns exec "$ns" sh -c 'cd /sys/class/net && for d in *; do s=$d/statistics; echo "$d rx_packets=$(cat $s/rx_packets) rx_dropped=$(cat $s/rx_dropped) tx_packets=$(cat $s/tx_packets) tx_dropped=$(cat $s/tx_dropped)"; done'
      ip netns exec "$ns" nstat -az 2>/dev/null | grep -E 'UdpRcvbufErrors|UdpSndbufErrors|UdpInErrors|TcpRetransSegs' | tr -s ' '
    done
  } >&2
}
rate() { ip netns exec "$LAN" iperf3 -J -t "$SECS" -p "$2" -c "$1" ${3:-} | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))' 2>/dev/null || echo n/a; }
CASES=" ${TAPNET_BENCH_CASES:-t_up t_down g_up g_down} "
t_up=n/a t_down=n/a g_up=n/a g_down=n/a
[[ $CASES == *" t_up "* ]] && { t_up=$(rate 10.99.0.2 5202); stats t_up; }
[[ $CASES == *" t_down "* ]] && { t_down=$(rate 10.99.0.2 5202 -R); stats t_down; }
[[ $CASES == *" g_up "* ]] && { g_up=$(rate 10.98.0.2 5202); stats g_up; }
[[ $CASES == *" g_down "* ]] && { g_down=$(rate 10.98.0.2 5202 -R); stats g_down; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "| path (iperf3 TCP, ${SECS} s, one run) | lan → peer Mbit/s | peer → lan Mbit/s |"
echo "|---|---|---|"
echo "| wireguard-go ↔ wireguard-go (tapnet router forwards the UDP) | $g_up | $g_down |"
echo "| tapnet wg0 ↔ wireguard-go | $t_up | $t_down |"
echo "| ratio tapnet / wireguard-go | $(ratio "$t_up" "$g_up") | $(ratio "$t_down" "$g_down") |"
