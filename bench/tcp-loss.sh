#!/usr/bin/env bash
# TCP under 3% loss: tapnet against the kernel, and the same transfer between
# two kernel namespaces over veth, same machine, same run (issue 10's target:
# tapnet within 2x of kernel-to-kernel).
#
#   bash bench/tcp-loss.sh [MEGABYTES] [RUNS]
#
# Loss: nft `numgen random mod 100 < 3 drop` on TCP. tapnet: in the kernel end's
# namespace, input and output hooks (as tests/integration/tcp.test.ts does: the
# input hook drops tapnet's data on download, the output hook the kernel's data
# on upload, since tapnet's own side has no nft). Kernel to kernel: the input hook
# of both namespaces, so each receiver drops 3% of the data and each sender 3% of
# the ACKs. Download: curl GET (tapnet /bytes/N, the kernel python3 -m
# http.server); upload: curl POST to tapnet's /sha256, nc into /dev/null for the
# kernel. Prints a Markdown table of median seconds.
#
# The kernel pair uses the machine's net.ipv4.tcp_congestion_control (printed
# in the table; BBR on the bench machine, and BBR does not reduce its window on
# random loss). tapnet runs once per congestion control in TAPNET_CC (default
# "cubic bbr", `tapnet up --congestion`; TAPNET_ARGS adds flags), and the
# download is also measured between the kernel namespaces with the kernel's
# sender on CUBIC (TCP_CONGESTION on the server socket; a namespace may only pick
# from net.ipv4.tcp_allowed_congestion_control, a socket of root may pick any),
# so like is compared with like. KERNEL_CUBIC=0 skips that row (it takes 20-30 s
# per 256 MiB).
set -uo pipefail
cd "$(dirname "$0")/.."
MB=${1:-256}
RUNS=${2:-3}
N=$((MB * 1024 * 1024))
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=tl$id NS=tlns$id KA=tlka$id KB=tlkb$id RUN=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
head -c "$N" /dev/urandom > "$RUN/file.bin"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
lossy() { # namespace, hooks...
  local ns=$1; shift
  { echo 'table inet benchloss {'
    for hook in "$@"; do echo "  chain $hook { type filter hook $hook priority 0; meta l4proto tcp numgen random mod 100 < 3 drop; }"; done
    echo '}'; } > "$RUN/$ns.nft"
  ip netns exec "$ns" nft -f "$RUN/$ns.nft"
}

# tapnet, once per congestion control in TAPNET_CC (its sender is tapnet on download; on upload the kernel sends,
# so the upload is measured with the first one only).
tapnet_run() { # cc, measure-upload
  local cc=$1 pid
  rm -f "$RUN/$TAP.sock"
  # shellcheck disable=SC2086 # TAPNET_ARGS: extra `tapnet up` flags, word-split on purpose
  TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" --congestion "$cc" ${TAPNET_ARGS:-} --log-level warn 2>"$RUN/log" &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
  lossy "$NS" input output
  # A run counts only when the transfer was complete (download size, upload hash); otherwise it prints "failed".
  tap_down[$cc]=$(for _ in $(seq "$RUNS"); do
    ip netns exec "$NS" curl -s -m 600 -o /dev/null -w '%{size_download} %{time_total}\n' "http://10.77.0.1/bytes/$N" | awk -v n="$N" '$1 == n { print $2; next } { print "failed" }'
  done | median)
  tap_up[$cc]=
  if [ "$2" = 1 ]; then
    tap_up[$cc]=$(for _ in $(seq "$RUNS"); do
      s=$(date +%s.%N); h=$(ip netns exec "$NS" curl -s -m 600 -H 'Expect:' --data-binary "@$RUN/file.bin" http://10.77.0.1/sha256); e=$(date +%s.%N)
      if [ "$h" = "$sum" ]; then echo "$e - $s" | bc; else echo failed; fi
    done | median)
  fi
  kill "$pid"; wait "$pid" 2>/dev/null
  ip netns delete "$NS" 2>/dev/null || true
}
sum=$(sha256sum "$RUN/file.bin" | cut -d' ' -f1)
declare -A tap_down tap_up
TAPNET_CC=${TAPNET_CC:-cubic bbr}
first=1
for cc in $TAPNET_CC; do tapnet_run "$cc" "$first"; first=0; done

# kernel to kernel over veth
ip netns add "$KA"; ip netns add "$KB"
ip link add "va$id" netns "$KA" type veth peer name "vb$id" netns "$KB"
ip -n "$KA" addr add 10.78.0.1/24 dev "va$id"; ip -n "$KB" addr add 10.78.0.2/24 dev "vb$id"
ip -n "$KA" link set "va$id" up; ip -n "$KB" link set "vb$id" up; ip -n "$KA" link set lo up
(cd "$RUN" && exec ip netns exec "$KA" python3 -m http.server 8080 --bind 10.78.0.1 >/dev/null 2>&1) &
PIDS+=($!)
for _ in $(seq 50); do ip netns exec "$KB" curl -s -o /dev/null http://10.78.0.1:8080/ && break; sleep 0.2; done
lossy "$KA" input
lossy "$KB" input
k_down=$(for _ in $(seq "$RUNS"); do ip netns exec "$KB" curl -s -m 600 -o /dev/null -w '%{time_total}\n' "http://10.78.0.1:8080/file.bin"; done | median)
k_cc=$(ip netns exec "$KA" sysctl -n net.ipv4.tcp_congestion_control)
k_cubic=n/a
if [ "${KERNEL_CUBIC:-1}" != 0 ]; then
  # A one-file HTTP/1.0 server whose sending socket is CUBIC (python3 -m http.server cannot set TCP_CONGESTION).
  (exec ip netns exec "$KA" python3 -c '
import os, socket, sys
path = sys.argv[1]; size = os.path.getsize(path)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.78.0.1", 8081)); s.listen(8)
while True:
    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic"); c.recv(65536)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    with open(path, "rb") as f: c.sendfile(f)
    c.close()
' "$RUN/file.bin" >/dev/null 2>&1) &
  PIDS+=($!)
  sleep 0.5
  k_cubic=$(for _ in $(seq "$RUNS"); do ip netns exec "$KB" curl -s -m 600 -o /dev/null -w '%{size_download} %{time_total}\n' "http://10.78.0.1:8081/" | awk -v n="$N" '$1 == n { print $2; next } { print "failed" }'; done | median)
fi
k_up=$(for _ in $(seq "$RUNS"); do
  ip netns exec "$KA" sh -c 'nc -l -N 10.78.0.1 9000 > /dev/null' & l=$!; sleep 0.3
  s=$(date +%s.%N); ip netns exec "$KB" nc -N 10.78.0.1 9000 < "$RUN/file.bin"; e=$(date +%s.%N); wait $l
  echo "$e - $s" | bc; done | median)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b+0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "| 3% loss, ${MB} MiB, median of ${RUNS} (s) | download | upload |"
echo "|---|---|---|"
echo "| kernel ↔ kernel (veth, $k_cc) | $k_down | $k_up |"
echo "| kernel ↔ kernel (veth, sender on cubic) | $k_cubic | |"
first=1
for cc in $TAPNET_CC; do
  up=${tap_up[$cc]}; [ "$first" = 1 ] || up="(kernel sends)"
  echo "| tapnet ($cc) | ${tap_down[$cc]} | $up |"
  first=0
done
for cc in $TAPNET_CC; do
  up=; [ -n "${tap_up[$cc]}" ] && up=$(ratio "${tap_up[$cc]}" "$k_up")
  echo "| tapnet ($cc) / kernel ($k_cc) | $(ratio "${tap_down[$cc]}" "$k_down") | $up |"
  [ "$cc" = cubic ] && echo "| tapnet (cubic) / kernel (cubic) | $(ratio "${tap_down[$cc]}" "$k_cubic") | |"
done
