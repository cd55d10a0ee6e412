#!/usr/bin/env bash
# The rest of issue 4's TCP benchmark, same machine, same run (bench/tcp.sh did MTU 1500 downloads):
#   1. curl download / upload at MTU 1500 and 65520: tapnet, kernel <-> kernel over veth (the ceiling),
#      slirp4netns and pasta (userspace stacks reaching a server on the host's loopback);
#   2. connections per second: wrk with "Connection: close" (one request per connection);
#   3. memory per idle connection with 10 000 open.
#
#   bash bench/tcp-more.sh [MEGABYTES] [RUNS]      (env: CONNS=10000, TAPNET_ARGS="--no-offload",
#                                                   TAPNET_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR")
#
# Download: curl GET of MEGABYTES (tapnet: /bytes/N; others: python3 -m http.server serving a file).
# Upload: tapnet: curl POST to /sha256, and `nc -N` into its discard service (port 9, the row "nc into
# discard": the same client and no hashing, like the others); others: `nc -N` into a python sink (recv_into, discards).
# pasta refuses to run as root (it drops to nobody, which may not write uid_map), so it runs as an
# unprivileged user `benchpasta` (created if absent); /dev/net/tun is 0600 here, so it is made 0666
# only while pasta starts and put back afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
MB=${1:-128}
RUNS=${2:-3}
N=$((MB * 1024 * 1024))
CONNS=${CONNS:-10000}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=tm$id NS=tmns$id KA=tmka$id KB=tmkb$id RUN=$(mktemp -d)
chmod 755 "$RUN"
PIDS=()
TUNMODE=$(stat -c %a /dev/net/tun)
cleanup() {
  chmod "$TUNMODE" /dev/net/tun
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "$NS" "$KA" "$KB"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
head -c "$N" /dev/urandom > "$RUN/file.bin"; chmod 644 "$RUN/file.bin"
printf '0123456789' > "$RUN/10"; chmod 644 "$RUN/10"

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
mbps() { awk -v b="$1" '{ if ($1 + 0 > 0) printf "%.0f\n", b * 8 / $1 / 1e6; else print "n/a" } END { if (NR == 0) print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
# The sink: accepts connections one after another and discards what they send.
cat > "$RUN/sink.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
buf = memoryview(bytearray(1 << 20))
while True:
    c, _ = s.accept()
    while c.recv_into(buf): pass
    c.close()
PY
# One timed upload (seconds): nc -N HOST PORT < file. Run inside whatever namespace the caller enters.
cat > "$RUN/up.sh" <<'SH'
s=$(date +%s%N); nc -N "$1" "$2" < "$3"; e=$(date +%s%N); echo "scale=6; ($e - $s) / 1000000000" | bc
SH
cat > "$RUN/down.sh" <<'SH'
curl -s -o /dev/null -w '%{time_total}\n' "$1"
SH
# Host-side servers for slirp4netns and pasta (they reach the host's 127.0.0.1 as their gateway).
(cd "$RUN" && exec python3 -m http.server 18081 --bind 127.0.0.1 >/dev/null 2>&1) & PIDS+=($!)
python3 "$RUN/sink.py" 127.0.0.1 19001 & PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18081/ && break; sleep 0.2; done
id -u benchpasta >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin benchpasta

declare -A R
for MTU in 1500 65520; do
  # tapnet
  TAPNET_RUN_DIR=$RUN node ${TAPNET_NODE_ARGS:-} bin/tapnet.js up --tap "$TAP" --netns "$NS" --small-services discard ${TAPNET_ARGS:-} --mtu "$MTU" --log-level warn 2>"$RUN/log" & tp=$!
  for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
  R[tap,$MTU,down]=$(for _ in $(seq "$RUNS"); do ip netns exec "$NS" sh "$RUN/down.sh" "http://10.77.0.1/bytes/$N"; done | median | mbps "$N")
  R[tap,$MTU,up]=$(for _ in $(seq "$RUNS"); do ip netns exec "$NS" curl -s -o /dev/null -H 'Expect:' --data-binary "@$RUN/file.bin" -w '%{time_total}\n' http://10.77.0.1/sha256; done | median | mbps "$N")
  # The same upload as the other peers': nc into a sink (tapnet's discard service, RFC 863, port 9), no hashing.
  R[tapd,$MTU,down]=n/a
  R[tapd,$MTU,up]=$(for _ in $(seq "$RUNS"); do ip netns exec "$NS" sh "$RUN/up.sh" 10.77.0.1 9 "$RUN/file.bin"; done | median | mbps "$N")
  kill "$tp"; wait "$tp" 2>/dev/null

  # kernel <-> kernel over veth
  ip netns add "$KA"; ip netns add "$KB"
  ip link add "va$id" netns "$KA" mtu "$MTU" type veth peer name "vb$id" netns "$KB" mtu "$MTU"
  ip -n "$KA" addr add 10.78.0.1/24 dev "va$id"; ip -n "$KB" addr add 10.78.0.2/24 dev "vb$id"
  ip -n "$KA" link set "va$id" up; ip -n "$KB" link set "vb$id" up; ip -n "$KA" link set lo up
  (cd "$RUN" && exec ip netns exec "$KA" python3 -m http.server 8080 --bind 10.78.0.1 >/dev/null 2>&1) & hp=$!
  ip netns exec "$KA" python3 "$RUN/sink.py" 10.78.0.1 9000 & sp=$!
  for _ in $(seq 50); do ip netns exec "$KB" curl -s -o /dev/null http://10.78.0.1:8080/ && break; sleep 0.2; done
  R[k,$MTU,down]=$(for _ in $(seq "$RUNS"); do ip netns exec "$KB" sh "$RUN/down.sh" "http://10.78.0.1:8080/file.bin"; done | median | mbps "$N")
  R[k,$MTU,up]=$(for _ in $(seq "$RUNS"); do ip netns exec "$KB" sh "$RUN/up.sh" 10.78.0.1 9000 "$RUN/file.bin"; done | median | mbps "$N")
  kill "$hp" "$sp"; wait "$hp" "$sp" 2>/dev/null
  ip netns delete "$KA"; ip netns delete "$KB"

  # slirp4netns (--mtu at most 65520)
  unshare --user --map-root-user --net --mount sh -c "exec sleep 600" & up=$!; sleep 0.3
  slirp4netns --configure --mtu="$MTU" "$up" tap0 >/dev/null 2>&1 & sl=$!; sleep 1.5
  R[sl,$MTU,down]=$(for _ in $(seq "$RUNS"); do nsenter -t "$up" -U -n --preserve-credentials sh "$RUN/down.sh" "http://10.0.2.2:18081/file.bin"; done | median | mbps "$N")
  R[sl,$MTU,up]=$(for _ in $(seq "$RUNS"); do nsenter -t "$up" -U -n --preserve-credentials sh "$RUN/up.sh" 10.0.2.2 19001 "$RUN/file.bin"; done | median | mbps "$N")
  kill "$sl" "$up"; wait "$sl" "$up" 2>/dev/null

  # pasta, as benchpasta; all runs inside one pasta namespace (the default gateway maps to the host's loopback)
  chmod 666 /dev/net/tun
  timeout 300 su -s /bin/sh benchpasta -c "pasta -f --config-net -m $MTU -- sh -c 'gw=\$(ip route | awk \"/default/ {print \\\$3}\"); for i in \$(seq $RUNS); do echo down \$(sh $RUN/down.sh http://\$gw:18081/file.bin); echo up \$(sh $RUN/up.sh \$gw 19001 $RUN/file.bin); done'" </dev/null >"$RUN/pasta.$MTU" 2>"$RUN/pasta.$MTU.err" & pp=$!
  sleep 2; chmod "$TUNMODE" /dev/net/tun; wait "$pp"
  R[pa,$MTU,down]=$(awk '$1 == "down" {print $2}' "$RUN/pasta.$MTU" | median | mbps "$N")
  R[pa,$MTU,up]=$(awk '$1 == "up" {print $2}' "$RUN/pasta.$MTU" | median | mbps "$N")
  [ -n "${R[pa,$MTU,down]}" ] || { R[pa,$MTU,down]=n/a; R[pa,$MTU,up]=n/a; grep -v syslog "$RUN/pasta.$MTU.err" >&2; }
done

echo "### Throughput (${MB} MiB, median of ${RUNS})"
echo
echo "| peer | MTU | download Mbit/s | upload Mbit/s | download vs kernel | upload vs kernel |"
echo "| --- | --- | --- | --- | --- | --- |"
for MTU in 1500 65520; do
  for p in k:"kernel ↔ kernel (veth)" tap:tapnet tapd:"tapnet (upload: nc into discard)" sl:slirp4netns pa:pasta; do
    k=${p%%:*}; name=${p#*:}
    echo "| $name | $MTU | ${R[$k,$MTU,down]} | ${R[$k,$MTU,up]} | $(ratio "${R[$k,$MTU,down]}" "${R[k,$MTU,down]}") | $(ratio "${R[$k,$MTU,up]}" "${R[k,$MTU,up]}") |"
  done
done

# Connections per second and idle-connection memory: tapnet at MTU 1500.
slab() { awk 'NR > 2 { s += $3 * $4 } END { print s }' /proc/slabinfo; }
TAPNET_RUN_DIR=$RUN node bin/tapnet.js up --tap "$TAP" --netns "$NS" ${TAPNET_ARGS:-} --log-level warn 2>"$RUN/log" & tp=$!
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
# wrk closes first, so its namespace holds the TIME-WAITs: without reuse, 28 k ephemeral ports / 60 s caps it near 470/s.
ip netns exec "$NS" sysctl -qw net.ipv4.tcp_tw_reuse=1
ip netns exec "$NS" curl -s -o /dev/null http://10.77.0.1/bytes/10
cps_runs() { for _ in $(seq "$RUNS"); do ip netns exec "$1" wrk -t1 -c16 -d5s -H 'Connection: close' "$2" | awk '/Requests\/sec/ {print $2}'; done | median; }
tap_cps=$(cps_runs "$NS" http://10.77.0.1/bytes/10)
sleep 2
rss0=$(awk '/VmRSS/ {print $2}' /proc/$tp/status); slab0=$(slab)
coproc IDLE { ip netns exec "$NS" python3 bench/idle-conns.py 10.77.0.1 80 "$CONNS"; }
read -r ready open secs <&"${IDLE[0]}"
sleep 1
rss1=$(awk '/VmRSS/ {print $2}' /proc/$tp/status); slab1=$(slab)
estab=$(ip netns exec "$NS" ss -Htn state established '( dport = :80 )' | wc -l)
exec {IDLE[1]}>&-; wait "$IDLE_PID" 2>/dev/null
kill "$tp"; wait "$tp" 2>/dev/null

# Kernel: python http.server over veth for connections/s; a python listener holding accepted sockets for memory.
ip netns add "$KA"; ip netns add "$KB"
ip link add "va$id" netns "$KA" type veth peer name "vb$id" netns "$KB"
ip -n "$KA" addr add 10.78.0.1/24 dev "va$id"; ip -n "$KB" addr add 10.78.0.2/24 dev "vb$id"
ip -n "$KA" link set "va$id" up; ip -n "$KB" link set "vb$id" up; ip -n "$KA" link set lo up
(cd "$RUN" && exec ip netns exec "$KA" python3 -m http.server 8080 --bind 10.78.0.1 >/dev/null 2>&1) & hp=$!
for _ in $(seq 50); do ip netns exec "$KB" curl -s -o /dev/null http://10.78.0.1:8080/10 && break; sleep 0.2; done
ip netns exec "$KB" sysctl -qw net.ipv4.tcp_tw_reuse=1
k_cps=$(cps_runs "$KB" http://10.78.0.1:8080/10)
kill "$hp"; wait "$hp" 2>/dev/null
cat > "$RUN/hold.py" <<'PY'
import resource, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]) + 1024,) * 2)
s = socket.socket(); s.bind((sys.argv[1], 80)); s.listen(4096); held = []
while True: held.append(s.accept()[0])
PY
ip netns exec "$KA" python3 "$RUN/hold.py" 10.78.0.1 "$CONNS" & hp=$!; sleep 0.5
kslab0=$(slab)
coproc KIDLE { ip netns exec "$KB" python3 bench/idle-conns.py 10.78.0.1 80 "$CONNS"; }
read -r kready kopen ksecs <&"${KIDLE[0]}"
sleep 1; kslab1=$(slab)
exec {KIDLE[1]}>&-; wait "$KIDLE_PID" 2>/dev/null
kill "$hp"; wait "$hp" 2>/dev/null

echo
echo "### Connections per second (wrk -t1 -c16 -d5s -H 'Connection: close', GET of 10 bytes, median of ${RUNS})"
echo
echo "| server | connections/s | vs kernel |"
echo "| --- | --- | --- |"
echo "| python3 -m http.server over veth (kernel TCP) | $k_cps | 1.00 |"
echo "| tapnet HTTP (GET /bytes/10) | $tap_cps | $(ratio "$tap_cps" "$k_cps") |"
echo
echo "### Memory per idle connection ($open of $CONNS open to tapnet in ${secs} s; $kopen to the kernel in ${ksecs} s)"
echo
echo "| measure | total | per connection |"
echo "| --- | --- | --- |"
echo "| tapnet VmRSS delta (tapnet end only; RSS $rss0 → $rss1 kB; $estab established in the kernel end) | $((rss1 - rss0)) kB | $(awk -v a=$((rss1 - rss0)) -v n="$open" 'BEGIN {printf "%.0f B", a * 1024 / n}') |"
echo "| kernel slab delta, its client ends of the tapnet run | $(((slab1 - slab0) / 1024)) kB | $(awk -v a=$((slab1 - slab0)) -v n="$open" 'BEGIN {printf "%.0f B", a / n}') |"
echo "| kernel slab delta, kernel ↔ kernel (both ends, per end) | $(((kslab1 - kslab0) / 1024)) kB | $(awk -v a=$((kslab1 - kslab0)) -v n="$kopen" 'BEGIN {printf "%.0f B", a / n / 2}') |"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
