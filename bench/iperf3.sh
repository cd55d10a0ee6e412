#!/usr/bin/env bash
# iperf3 benchmark: Debian's iperf3 client against tapnet's iperf3 server vs against `iperf3 -s` in a kernel
# namespace over a veth pair, same machine, same run.
#
#   flock /tmp/tapnet-heavy.lock bash bench/iperf3.sh [SECONDS]
#
# One run of SECONDS (default 5) per case: upload (client sends) and download (-R), with 1 and 4 streams (-P).
#   a) tapnet up: the client in the kernel end's namespace, through the TAP, to tapnet's server on 10.77.0.1
#   b) iperf3 -s in one namespace, the client in another, joined by a veth pair (10.78.0.1 / 10.78.0.2)
# Figures are the receiver's bits/s from iperf3 -J (end.sum_received), and the sender's retransmits.
# Prints a Markdown table (append it to bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=ipq$id NS=ipqns$id KA=ipqka$id KB=ipqkb$id RUN=$(mktemp -d)
TAPNET_PID= SERVER_PID=

cleanup() {
  [ -n "$TAPNET_PID" ] && kill "$TAPNET_PID" 2>/dev/null && wait "$TAPNET_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
command -v iperf3 >/dev/null || { echo "iperf3 not found: apt-get install iperf3" >&2; exit 1; }

# a) tapnet, kernel end (10.77.0.2) in $NS
TAPNET_RUN_DIR=$RUN TAPNET_STATE_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" --log-level warn 2>"$RUN/tapnet.log" &
TAPNET_PID=$!
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
[ -S "$RUN/$TAP.sock" ] || { cat "$RUN/tapnet.log"; exit 1; }

# b) iperf3 -s in $KB (10.78.0.1), the client in $KA (10.78.0.2), over a veth pair
ip netns add "$KA"; ip netns add "$KB"
ip link add va$id netns "$KA" type veth peer name vb$id netns "$KB"
ip -n "$KA" addr add 10.78.0.2/24 dev va$id; ip -n "$KA" link set va$id up
ip -n "$KB" addr add 10.78.0.1/24 dev vb$id; ip -n "$KB" link set vb$id up
ip netns exec "$KB" iperf3 -s >"$RUN/server.log" 2>&1 &
SERVER_PID=$!
sleep 1

run() { # ns server args... -> "bits_per_second retransmits"
  local ns=$1 server=$2; shift 2
  ip netns exec "$ns" iperf3 -c "$server" -t "$SECONDS_PER_RUN" -J "$@" >"$RUN/out.json" || true
  python3 - "$RUN/out.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
if 'error' in j: print('0 -', file=sys.stdout); sys.exit()
e = j['end']
print(f"{e['sum_received']['bits_per_second']:.0f} {e['sum_sent'].get('retransmits', '-')}")
PY
}
mbit() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "| case (${SECONDS_PER_RUN} s, one run each) | tapnet Mbit/s (retr) | kernel veth Mbit/s (retr) | tapnet / kernel |"
echo "| --- | --- | --- | --- |"
for streams in 1 4; do
  for dir in upload download; do
    args=(-P "$streams"); [ "$dir" = download ] && args+=(-R)
    read -r tb tr < <(run "$NS" 10.77.0.1 "${args[@]}")
    read -r kb kr < <(run "$KA" 10.78.0.1 "${args[@]}")
    echo "| $dir (client $( [ "$dir" = download ] && echo receives, -R || echo sends)), -P $streams | $(mbit "$tb") ($tr) | $(mbit "$kb") ($kr) | $(ratio "$tb" "$kb") |"
  done
done
