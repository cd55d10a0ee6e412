#!/usr/bin/env bash
# tapnet's congestion controllers on a loss-free download: `tapnet up --congestion CC` for each CC in
# TAPNET_CC (default "cubic bbr"), alternating CC run by run (a shared machine's load drifts), curl GET of
# /bytes/N from the kernel end. Prints the median time and tapnet's CPU seconds per GiB (utime + stime of the
# tapnet process from /proc, less sensitive to the machine's load than the time).
#
#   bash bench/tcp-cc.sh [MEGABYTES] [RUNS] [MTU]      (env: TAPNET_CC, TAPNET_ARGS)
set -uo pipefail
cd "$(dirname "$0")/.."
MB=${1:-128}
RUNS=${2:-3}
MTU=${3:-1500}
N=$((MB * 1024 * 1024))
TAPNET_CC=${TAPNET_CC:-cubic bbr}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
RUN=$(mktemp -d)
PIDS=()
declare -A tapns pid
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # tapnet removes the namespaces it made when it exits cleanly; a run cut short must not leave them behind.
  for ns in "${tapns[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

i=0
for cc in $TAPNET_CC; do
  i=$((i + 1))
  tap=tc$i$id ns=tcns$i$id
  tapns[$cc]=$ns
  # shellcheck disable=SC2086 # TAPNET_ARGS: extra flags, word-split on purpose
  TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$tap" --netns "$ns" --subnet "10.7$i.0.0/24" --subnet6 "fd7$i::/64" --mtu "$MTU" --congestion "$cc" ${TAPNET_ARGS:-} --log-level warn 2>"$RUN/log$i" &
  pid[$cc]=$!
  PIDS+=("$!")
  for _ in $(seq 100); do [ -S "$RUN/$tap.sock" ] && break; sleep 0.1; done
done
for _ in $(seq "$RUNS"); do
  i=0
  for cc in $TAPNET_CC; do
    i=$((i + 1))
    before=$(cpu "${pid[$cc]}")
    t=$(ip netns exec "${tapns[$cc]}" curl -s -m 600 -o /dev/null -w '%{size_download} %{time_total}\n' "http://10.7$i.0.1/bytes/$N" | awk -v n="$N" '$1 == n { print $2; next } { print "failed" }')
    after=$(cpu "${pid[$cc]}")
    echo "$cc $t $(awk -v a="$before" -v b="$after" -v t="$TICK" -v mb="$MB" 'BEGIN { printf "%.3f", (b - a) / t / (mb / 1024) }')" >> "$RUN/results"
  done
done
echo "| tapnet download, MTU $MTU, ${MB} MiB, median of $RUNS | seconds | Mbit/s | tapnet CPU s/GiB |"
echo "|---|---|---|---|"
for cc in $TAPNET_CC; do
  s=$(awk -v c="$cc" '$1 == c { print $2 }' "$RUN/results" | median)
  c=$(awk -v c="$cc" '$1 == c { print $3 }' "$RUN/results" | median)
  echo "| --congestion $cc | $s | $(awk -v s="$s" -v n="$N" 'BEGIN { if (s+0 > 0) printf "%.0f", n * 8 / s / 1e6; else print "n/a" }') | $c |"
done
