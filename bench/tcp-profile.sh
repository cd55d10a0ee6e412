#!/usr/bin/env bash
# Where `tapnet up`'s time goes during bulk TCP: a CPU profile (node --cpu-prof) of tapnet while the kernel end
# downloads from it or uploads to it, then the top functions by self time (bench/cpuprofile-top.mjs).
#
#   bash bench/tcp-profile.sh MTU DIRECTION [MEGABYTES] [RUNS]     DIRECTION: down | up | upsha
#
# down: curl GET /bytes/N; up: `nc -N` into tapnet's discard service (port 9: TCP receive only, no hashing);
# upsha: curl POST /sha256 (what bench/tcp-more.sh's tapnet upload row measures). Offload on (TAPNET_ARGS adds flags).
# The profile is left in $PROFILE_DIR (default /tmp/tapnet-prof) as tcp-MTU-DIRECTION.cpuprofile.
set -uo pipefail
cd "$(dirname "$0")/.."
MTU=${1:?MTU}
DIR=${2:?down|up|upsha}
MB=${3:-128}
RUNS=${4:-3}
N=$((MB * 1024 * 1024))
OUT=${PROFILE_DIR:-/tmp/tapnet-prof}
mkdir -p "$OUT"
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=tp$id NS=tpns$id RUN=$(mktemp -d)
tp=
cleanup() {
  [ -n "$tp" ] && kill "$tp" 2>/dev/null && wait "$tp" 2>/dev/null
  ip netns delete "$NS" 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
head -c "$N" /dev/urandom > "$RUN/file.bin"
TAPNET_RUN_DIR=$RUN node --cpu-prof --cpu-prof-dir="$RUN/prof" bin/tapnet.js up --tap "$TAP" --netns "$NS" --small-services discard \
  ${TAPNET_ARGS:-} --mtu "$MTU" --log-level warn 2>"$RUN/log" & tp=$!
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
for _ in $(seq "$RUNS"); do
  s=$(date +%s%N)
  case "$DIR" in
    down) ip netns exec "$NS" curl -s -o /dev/null "http://10.77.0.1/bytes/$N" ;;
    up) ip netns exec "$NS" nc -N 10.77.0.1 9 < "$RUN/file.bin" ;;
    upsha) ip netns exec "$NS" curl -s -o /dev/null -H 'Expect:' --data-binary "@$RUN/file.bin" http://10.77.0.1/sha256 ;;
    *) echo "DIRECTION: down, up or upsha" >&2; exit 2 ;;
  esac
  e=$(date +%s%N)
  awk -v b="$N" -v ns=$((e - s)) 'BEGIN { printf "%s MTU %s: %.0f Mbit/s\n", "'"$DIR"'", "'"$MTU"'", b * 8 / (ns / 1e9) / 1e6 }'
done
kill "$tp"; wait "$tp" 2>/dev/null; tp=
f=$(ls "$RUN"/prof/*.cpuprofile 2>/dev/null | head -1)
[ -n "$f" ] || { echo "no profile written" >&2; cat "$RUN/log" >&2; exit 1; }
cp "$f" "$OUT/tcp-$MTU-$DIR.cpuprofile"
node bench/cpuprofile-top.mjs "$OUT/tcp-$MTU-$DIR.cpuprofile" 30
