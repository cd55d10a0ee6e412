#!/usr/bin/env bash
# Upload (kernel → tapnet) A/B: Mbit/s and tapnet's CPU seconds per GB (utime+stime from /proc/PID/stat) for two
# source trees, alternating run by run so both see the same machine load.
#
#   bash bench/tcp-rx-ab.sh BEFORE_TREE AFTER_TREE [MTU] [MEGABYTES] [ROUNDS] [up|upsha]
#
# up: `nc -N` into the discard service (port 9); upsha: curl POST /sha256. Offload on (TAPNET_ARGS adds flags).
# Each round starts a fresh `tapnet up` per tree and does 3 uploads; prints one line per upload and the medians.
set -uo pipefail
A=${1:?before tree}; B=${2:?after tree}
MTU=${3:-1500}; MB=${4:-128}; ROUNDS=${5:-3}; DIR=${6:-up}
N=$((MB * 1024 * 1024))
RUN=$(mktemp -d); tp=; NS=
cleanup() { [ -n "$tp" ] && kill "$tp" 2>/dev/null && wait "$tp" 2>/dev/null; [ -n "$NS" ] && ip netns delete "$NS" 2>/dev/null; rm -rf "$RUN"; }
trap cleanup EXIT
head -c "$N" /dev/urandom > "$RUN/file.bin"
tick=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
sys() { awk '{ print $15 }' "/proc/$1/stat"; }
one() { # tree label
  local tree=$1 label=$2 id; id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
  local TAP=tr$id; NS=trns$id
  (cd "$tree" && TAPNET_RUN_DIR=$RUN exec node bin/tapnet.js up --tap "$TAP" --netns "$NS" --small-services discard \
    ${TAPNET_ARGS:-} --mtu "$MTU" --log-level warn 2>"$RUN/log-$label") & tp=$!
  for _ in $(seq 150); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
  sleep 0.3
  for _ in 1 2 3; do
    local c0 s e c1 k0 k1; c0=$(cpu "$tp"); k0=$(sys "$tp"); s=$(date +%s%N)
    case "$DIR" in
      up) ip netns exec "$NS" nc -N 10.77.0.1 9 < "$RUN/file.bin" ;;
      upsha) ip netns exec "$NS" curl -s -o /dev/null -H 'Expect:' --data-binary "@$RUN/file.bin" http://10.77.0.1/sha256 ;;
    esac
    e=$(date +%s%N); sleep 0.2; c1=$(cpu "$tp"); k1=$(sys "$tp")
    awk -v l="$label" -v b="$N" -v ns=$((e - s)) -v c=$((c1 - c0)) -v k=$((k1 - k0)) -v t="$tick" \
      'BEGIN { printf "%s %.0f Mbit/s %.3f cpu-s/GB (system %.3f)\n", l, b * 8 / (ns / 1e9) / 1e6, (c / t) / (b / 1e9), (k / t) / (b / 1e9) }' | tee -a "$RUN/results"
  done
  kill "$tp"; wait "$tp" 2>/dev/null; tp=; ip netns delete "$NS" 2>/dev/null; NS=
}
for _ in $(seq "$ROUNDS"); do one "$A" before; one "$B" after; done
echo "medians ($DIR, MTU $MTU, $MB MiB, $((ROUNDS * 3)) uploads each):"
for l in before after; do
  grep "^$l " "$RUN/results" | awk '{ print $2 }' | sort -n | awk -v l="$l" '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; printf "  %s %s Mbit/s", l, m }'
  grep "^$l " "$RUN/results" | awk '{ print $4 }' | sort -n | awk '{ a[NR] = $1 } END { printf ", %s cpu-s/GB", a[int((NR + 1) / 2)] }'
  grep "^$l " "$RUN/results" | awk '{ print $7 + 0 }' | sort -n | awk '{ a[NR] = $1 } END { printf " (system %s)\n", a[int((NR + 1) / 2)] }'
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
