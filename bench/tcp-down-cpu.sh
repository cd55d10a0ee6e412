#!/usr/bin/env bash
# `tapnet up` sending bulk TCP (the kernel end downloads with curl GET /bytes/N): Mbit/s, and tapnet's CPU time per
# GiB sent (utime + stime of the tapnet process from /proc/PID/stat, around each transfer). The CPU figure moves
# far less with the machine's load than the throughput does, so it is the one to compare two trees by.
#
#   bash bench/tcp-down-cpu.sh MTU [MEGABYTES=256] [RUNS=3] [FAMILY=4]
#
# FAMILY 6: over IPv6 (curl -g http://[fd77::1]/..., after the kernel end's SLAAC address passed DAD).
# Prints one line per run and a median line. Offload on (the `tapnet up` default; TAPNET_ARGS adds flags).
set -uo pipefail
cd "$(dirname "$0")/.."
MTU=${1:?MTU}
MB=${2:-256}
RUNS=${3:-3}
FAMILY=${4:-4}
case "$FAMILY" in
  4) SERVER=10.77.0.1 ;;
  6) SERVER='[fd77::1]' ;;
  *) echo "FAMILY must be 4 or 6" >&2; exit 2 ;;
esac
N=$((MB * 1024 * 1024))
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=td$id NS=tdns$id RUN=$(mktemp -d)
tp=
cleanup() {
  [ -n "$tp" ] && kill "$tp" 2>/dev/null && wait "$tp" 2>/dev/null
  ip netns delete "$NS" 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" ${TAPNET_ARGS:-} --mtu "$MTU" --log-level warn 2>"$RUN/log" & tp=$!
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
[ -S "$RUN/$TAP.sock" ] || { echo "tapnet up did not start" >&2; cat "$RUN/log" >&2; exit 1; }
if [ "$FAMILY" = 6 ]; then
  for _ in $(seq 100); do
    ip netns exec "$NS" ip -6 -o addr show dev "$TAP" scope global | grep 'inet6 fd77:' | grep -qv tentative && break
    sleep 0.2
  done
fi
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$tp/stat"; }
ip netns exec "$NS" curl -s -g -o /dev/null "http://$SERVER/bytes/$((64 * 1024 * 1024))" # warm-up (JIT, buffers, ARP/NDP)
results=()
for _ in $(seq "$RUNS"); do
  c0=$(cpu); s=$(date +%s%N)
  ip netns exec "$NS" curl -s -g -o /dev/null "http://$SERVER/bytes/$N"
  e=$(date +%s%N); c1=$(cpu)
  line=$(awk -v b="$N" -v ns=$((e - s)) -v c=$((c1 - c0)) -v hz="$ticks" \
    'BEGIN { printf "%.0f %.2f", b * 8 / (ns / 1e9) / 1e6, (c / hz) / (b / 2^30) }')
  results+=("$line")
  echo "download IPv$FAMILY MTU $MTU: ${line% *} Mbit/s, tapnet CPU ${line#* } s/GiB"
done
med() { printf '%s\n' "${results[@]}" | awk -v k="$1" '{ print $k }' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "median IPv$FAMILY MTU $MTU: $(med 1) Mbit/s, tapnet CPU $(med 2) s/GiB ($RUNS runs of $MB MiB)"
