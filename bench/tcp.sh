#!/usr/bin/env bash
# TCP throughput benchmark: curl against tapnet, against the Linux kernel over a
# veth pair (the ceiling), and against slirp4netns and pasta when installed,
# same machine, same run. MTU 1500.
#
#   bash bench/tcp.sh [MEGABYTES] [RUNS]
#
# Download: curl GET of MEGABYTES (tapnet: /bytes/N; the others: python3 -m
# http.server serving a file of that size). Upload (tapnet and kernel): curl
# POST to tapnet's /sha256, nc into /dev/null for the kernel. Prints a Markdown
# table of medians in Mbit/s; append it to bench/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
MB=${1:-256}
RUNS=${2:-3}
N=$((MB * 1024 * 1024))
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=tt$id NS=ttns$id KA=ttka$id KB=ttkb$id SL=ttsl$id RUN=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB" "$SL"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
head -c "$N" /dev/urandom > "$RUN/file.bin"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mbps() { awk -v b="$1" '{ if ($1 + 0 > 0) printf "%.0f\n", b * 8 / $1 / 1e6; else print "n/a" } END { if (NR == 0) print "n/a" }'; }
# curl's time_total for RUNS downloads of URL inside namespace $1 -> median Mbit/s
down() { local ns=$1 url=$2; for _ in $(seq "$RUNS"); do ip netns exec "$ns" curl -s -o /dev/null -w '%{time_total}\n' "$url"; done | median | mbps "$N"; }

# tapnet
TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" --log-level warn 2>"$RUN/log" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
tap_down=$(down "$NS" "http://10.77.0.1/bytes/$N")
tap_up=$(for _ in $(seq "$RUNS"); do ip netns exec "$NS" curl -s -o /dev/null -H 'Expect:' --data-binary "@$RUN/file.bin" -w '%{time_total}\n' http://10.77.0.1/sha256; done | median | mbps "$N")

# kernel to kernel over veth
ip netns add "$KA"; ip netns add "$KB"
ip link add "va$id" netns "$KA" type veth peer name "vb$id" netns "$KB"
ip -n "$KA" addr add 10.78.0.1/24 dev "va$id"; ip -n "$KB" addr add 10.78.0.2/24 dev "vb$id"
ip -n "$KA" link set "va$id" up; ip -n "$KB" link set "vb$id" up; ip -n "$KA" link set lo up
(cd "$RUN" && exec ip netns exec "$KA" python3 -m http.server 8080 --bind 10.78.0.1 >/dev/null 2>&1) &
PIDS+=($!)
for _ in $(seq 50); do ip netns exec "$KB" curl -s -o /dev/null http://10.78.0.1:8080/ && break; sleep 0.2; done
k_down=$(down "$KB" "http://10.78.0.1:8080/file.bin")
k_up=$(for _ in $(seq "$RUNS"); do
  ip netns exec "$KA" sh -c 'nc -l -N 10.78.0.1 9000 > /dev/null' & l=$!; sleep 0.3
  s=$(date +%s.%N); ip netns exec "$KB" nc -N 10.78.0.1 9000 < "$RUN/file.bin"; e=$(date +%s.%N); wait $l
  echo "$e - $s" | bc; done | median | mbps "$N")

# slirp4netns and pasta: a namespace whose only way out is the userspace stack, to a server in the host namespace.
sl_down=n/a; pa_down=n/a
(cd "$RUN" && exec python3 -m http.server 8081 --bind 127.0.0.1 >/dev/null 2>&1) &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8081/ && break; sleep 0.2; done
if command -v slirp4netns >/dev/null; then
  unshare --user --map-root-user --net --mount sh -c "sleep 60" & up=$!; PIDS+=($up); sleep 0.3
  slirp4netns --configure --mtu=1500 "$up" tap0 >/dev/null 2>&1 & PIDS+=($!); sleep 1.5
  sl_down=$(for _ in $(seq "$RUNS"); do nsenter -t "$up" -U -n --preserve-credentials curl -s -o /dev/null -w '%{time_total}\n' "http://10.0.2.2:8081/file.bin"; done | median | mbps "$N")
fi
# pasta refuses to run as root without user mappings in this environment; it is reported when it works.
if command -v pasta >/dev/null; then
  pa_down=$( (for _ in $(seq "$RUNS"); do timeout 60 pasta --config-net -m 1500 -- sh -c 'curl -s -o /dev/null -w "%{time_total}\n" "http://$(ip route | awk "/default/ {print \$3}"):8081/file.bin"' 2>/dev/null; done) | grep -E '^[0-9.]+$' | median | mbps "$N")
  [ -n "$pa_down" ] || pa_down=n/a
fi

echo "| peer (MTU 1500, ${MB} MiB, median of ${RUNS}) | download Mbit/s | upload Mbit/s | download vs kernel |"
echo "|---|---|---|---|"
ratio() { awk -v a="$1" -v b="$k_down" 'BEGIN { if (a+0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "| kernel ↔ kernel (veth) | $k_down | $k_up | 1.00 |"
echo "| tapnet | $tap_down | $tap_up | $(ratio "$tap_down") |"
echo "| slirp4netns | $sl_down | n/a | $(ratio "$sl_down") |"
echo "| pasta | $pa_down | n/a | $(ratio "$pa_down") |"
