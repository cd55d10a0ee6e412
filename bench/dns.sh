#!/usr/bin/env bash
# DNS benchmark: tapnet's authoritative server vs dnsmasq serving the same records, same machine, same run.
#
#   bash bench/dns.sh [SECONDS] [RUNS] [OUTSTANDING]
#
# dnsperf (Debian package dnsperf) sends a fixed mix of queries for SECONDS (default 5) with at most
# OUTSTANDING queries in flight (default 100, dnsperf's default), RUNS times (default 3) per server,
# alternating; the table shows medians of queries/s and of dnsperf's average latency.
#   a) tapnet up (lab zone + --dns-record), dnsperf in the kernel end's namespace, through the TAP
#   b) dnsmasq in a namespace joined to dnsperf's by a veth pair, same addresses, same records
# The query mix: A, CNAME-then-A, MX, TXT, PTR, NODATA (AAAA of a v4-only name) and NXDOMAIN.
# Prints a Markdown table (append it to bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
RUNS=${2:-3}
OUTSTANDING=${3:-100}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=dnq$id NS=dnqns$id KA=dnqka$id KB=dnqkb$id RUN=$(mktemp -d)
TAPNET_PID= DNSMASQ_PID=

cleanup() {
  [ -n "$TAPNET_PID" ] && kill "$TAPNET_PID" 2>/dev/null && wait "$TAPNET_PID" 2>/dev/null || true
  [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

command -v dnsperf >/dev/null || { echo "dnsperf not found: apt-get install dnsperf" >&2; exit 1; }
command -v dnsmasq >/dev/null || { echo "dnsmasq not found: apt-get install dnsmasq" >&2; exit 1; }

cat >"$RUN/queries" <<'EOF'
gateway.lab A
host.lab A
www.lab A
lab MX
txt.lab TXT
2.0.77.10.in-addr.arpa PTR
host.lab AAAA
nothere.lab A
EOF

# a) tapnet, kernel end (10.77.0.2) in $NS
TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" --log-level warn \
  --dns-record 'www CNAME gateway' --dns-record '@ MX 10 gateway' --dns-record 'txt TXT "hello world" "two"' \
  2>"$RUN/tapnet.log" &
TAPNET_PID=$!
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
[ -S "$RUN/$TAP.sock" ] || { cat "$RUN/tapnet.log"; exit 1; }

# b) dnsmasq in $KB (10.77.0.1), dnsperf in $KA (10.77.0.2), over a veth pair; the same records, TTL 300
ip netns add "$KA"; ip netns add "$KB"
ip link add va$id netns "$KA" type veth peer name vb$id netns "$KB"
ip -n "$KA" addr add 10.77.0.2/24 dev va$id; ip -n "$KA" link set va$id up
ip -n "$KB" addr add 10.77.0.1/24 dev vb$id; ip -n "$KB" link set vb$id up
ip netns exec "$KB" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts -u root \
  --pid-file="$RUN/dnsmasq.pid" --port=53 --listen-address=10.77.0.1 --bind-interfaces --local-ttl=300 \
  --local=/lab/ --local=/0.77.10.in-addr.arpa/ \
  --host-record=gateway.lab,10.77.0.1 --host-record=host.lab,10.77.0.2 --cname=www.lab,gateway.lab \
  --mx-host=lab,gateway.lab,10 --txt-record=txt.lab,"hello world","two" 2>"$RUN/dnsmasq.log" &
DNSMASQ_PID=$!
for _ in $(seq 50); do ip netns exec "$KA" dig @10.77.0.1 +time=1 +tries=1 +short gateway.lab | grep -q 10.77.0.1 && break; sleep 0.1; done

# Both must give the same answers before their speed means anything.
for q in "gateway.lab A" "www.lab A" "lab MX" "txt.lab TXT" "2.0.77.10.in-addr.arpa PTR" "host.lab AAAA"; do
  # shellcheck disable=SC2086
  a=$(ip netns exec "$NS" dig @10.77.0.1 +short $q | sort); b=$(ip netns exec "$KA" dig @10.77.0.1 +short $q | sort)
  [ "$a" = "$b" ] || { echo "answers differ for $q: tapnet [$a] dnsmasq [$b]" >&2; exit 1; }
done
ip netns exec "$NS" dig @10.77.0.1 nothere.lab | grep -q NXDOMAIN && ip netns exec "$KA" dig @10.77.0.1 nothere.lab | grep -q NXDOMAIN

perf() { # ns -> "qps latency_ms lost"
  ip netns exec "$1" dnsperf -s 10.77.0.1 -d "$RUN/queries" -l "$SECONDS_PER_RUN" -q "$OUTSTANDING" 2>&1 |
    awk '/Queries per second/ {q=$4} /Average Latency/ {l=$4*1000} /Queries lost/ {lost=$3} END {printf "%.0f %.3f %d\n", q, l, lost}'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$RUN/t"; : >"$RUN/k"
for _ in $(seq "$RUNS"); do
  perf "$NS" >>"$RUN/t"
  perf "$KA" >>"$RUN/k"
done
tq=$(cut -d' ' -f1 "$RUN/t" | median); tl=$(cut -d' ' -f2 "$RUN/t" | median); tlost=$(cut -d' ' -f3 "$RUN/t" | median)
kq=$(cut -d' ' -f1 "$RUN/k" | median); kl=$(cut -d' ' -f2 "$RUN/k" | median); klost=$(cut -d' ' -f3 "$RUN/k" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a/b }'; }
echo "| metric (median of $RUNS × ${SECONDS_PER_RUN} s, $OUTSTANDING in flight) | tapnet | dnsmasq (veth) | tapnet / dnsmasq |"
echo "| --- | --- | --- | --- |"
echo "| queries/s | $tq | $kq | $(ratio "$tq" "$kq") |"
echo "| average latency (ms) | $tl | $kl | $(ratio "$tl" "$kl") |"
echo "| queries lost (median run) | $tlost | $klost | |"
echo
echo "runs (qps latency_ms lost): tapnet $(tr '\n' ';' <"$RUN/t") dnsmasq $(tr '\n' ';' <"$RUN/k")"
