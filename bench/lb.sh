#!/usr/bin/env bash
# Load balancer benchmark: the same client (wrk, 50 keep-alive connections), the same three nginx backends
# (each answers its own name), the same tapnet switches in between; only the balancer changes:
#
#   tapnet nat    IPVS-style DNAT on tapnet's conntrack (src/services/lb/nat-mode.ts)
#   tapnet proxy  tapnet's TCP full proxy (src/services/lb/proxy-mode.ts)
#   tapnet http   tapnet's reverse proxy (src/services/lb/http-mode.ts), for information
#   nginx         nginx as an HTTP reverse proxy (upstream keepalive 32) in a kernel namespace
#   haproxy       haproxy in mode http in the same namespace
#
#   flock /tmp/tapnet-heavy.lock bash bench/lb.sh [SECONDS] [CONNECTIONS]
#
#   client 10.20.0.10 ── sw1 ─┬─ [tapnet lb] 10.20.0.1 ─── 10.30.0.1 ─┐
#                             └─ kbal 10.20.0.2 ──────────── 10.30.0.2 ┴─ sw2 ── web1..3 10.30.0.11-13 (nginx)
#
#   PROFILE=/tmp/prof ONLY='tapnet http' bash bench/lb.sh   # a CPU profile of tapnet while it balances
#
# Prints requests/s, p99 latency, the balancer's CPU seconds per 10k requests, and ratios to nginx;
# append the table to bench/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-50}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
P=lbb$id
RUN=$(mktemp -d)
LAB=$RUN/lab.yaml
export TAPNET_RUN_DIR=$RUN
PIDS=()
cleanup() {
  node bin/tapnet.js lab down "$LAB" >/dev/null 2>&1 || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "$P-c" "$P-k" "$P-w1" "$P-w2" "$P-w3"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  done
  rm -rf "$RUN"
}
trap cleanup EXIT

# Backends: nginx, one worker each, "webN\n" on every path.
for i in 1 2 3; do
  mkdir -p "$RUN/w$i"
  cat > "$RUN/w$i/nginx.conf" <<CONF
worker_processes 1;
pid $RUN/w$i/nginx.pid;
error_log $RUN/w$i/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $RUN/w$i; proxy_temp_path $RUN/w$i; fastcgi_temp_path $RUN/w$i; uwsgi_temp_path $RUN/w$i; scgi_temp_path $RUN/w$i;
  keepalive_requests 1000000;
  server { listen 80; location / { default_type text/plain; return 200 "web$i\n"; } }
}
CONF
done
pool='{ web1: 10.30.0.11:80, web2: 10.30.0.12:80, web3: 10.30.0.13:80 }'
web() { cat <<Y
  $P-w$1:
    kind: host
    interfaces: { eth0: { address: 10.30.0.1$1/24 } }
    routes: [default via 10.30.0.1]
    run: exec nginx -c $RUN/w$1/nginx.conf -g 'daemon off;'
Y
}
cat > "$LAB" <<Y
name: $P
nodes:
  $P-c:
    kind: host
    interfaces: { eth0: { address: 10.20.0.10/24 } }
    routes: [default via 10.20.0.1]
  $P-k:
    kind: host
    interfaces: { eth0: { address: 10.20.0.2/24 }, eth1: { address: 10.30.0.2/24 } }
$(web 1)
$(web 2)
$(web 3)
  sw1: { kind: switch, ports: { c: , lb: , k: } }
  sw2: { kind: switch, ports: { p1: , p2: , p3: , lb: , k: } }
  lb:
    kind: lb
    interfaces: { front: { address: 10.20.0.1/24 }, back: { address: 10.30.0.1/24 } }
    lb:
      nat: { listen: 10.20.0.1:82, mode: nat, backends: $pool }
      proxy: { listen: 10.20.0.1:80, mode: proxy, backends: $pool }
      http: { listen: 10.20.0.1:81, mode: http, backends: $pool }
links:
  - [$P-c:eth0, sw1:c]
  - [lb:front, sw1:lb]
  - [$P-k:eth0, sw1:k]
  - [$P-w1:eth0, sw2:p1]
  - [$P-w2:eth0, sw2:p2]
  - [$P-w3:eth0, sw2:p3]
  - [lb:back, sw2:lb]
  - [$P-k:eth1, sw2:k]
Y

# PROFILE=DIR: V8 CPU profile of the tapnet process into DIR (written at lab down).
node ${PROFILE:+--cpu-prof --cpu-prof-dir="$PROFILE"} bin/tapnet.js lab up "$LAB" --log-level warn 2>"$RUN/lab.log" &
LABPID=$!
PIDS+=($LABPID)
for _ in $(seq 150); do [ -S "$RUN/lab-$P.sock" ] && break; sleep 0.2; done
[ -S "$RUN/lab-$P.sock" ] || { echo "lab did not start"; cat "$RUN/lab.log"; exit 1; }
TAPNET=$(pgrep -P "$LABPID" -f 'tapnet' | head -1); TAPNET=${TAPNET:-$LABPID}
for i in 1 2 3; do
  for _ in $(seq 50); do ip netns exec "$P-c" curl -s -o /dev/null "http://10.30.0.1$i/" 2>/dev/null && break; ip netns exec "$P-k" curl -s -o /dev/null "http://10.30.0.1$i/" && break; sleep 0.2; done
done

# Kernel balancers in $P-k: nginx (L7, upstream keep-alive) and haproxy (mode http).
mkdir -p "$RUN/ng"
cat > "$RUN/ng/nginx.conf" <<CONF
worker_processes 1;
pid $RUN/ng/nginx.pid;
error_log $RUN/ng/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $RUN/ng; proxy_temp_path $RUN/ng; fastcgi_temp_path $RUN/ng; uwsgi_temp_path $RUN/ng; scgi_temp_path $RUN/ng;
  keepalive_requests 1000000;
  upstream web { server 10.30.0.11:80; server 10.30.0.12:80; server 10.30.0.13:80; keepalive 32; }
  server { listen 10.20.0.2:80; location / { proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
CONF
cat > "$RUN/haproxy.cfg" <<CONF
global
  maxconn 4096
  nbthread 1
defaults
  mode http
  timeout connect 3s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend web
  bind 10.20.0.2:8000
  default_backend pool
listen tcp
  mode tcp
  bind 10.20.0.2:8001
  balance roundrobin
  server web1 10.30.0.11:80
  server web2 10.30.0.12:80
  server web3 10.30.0.13:80
backend pool
  balance roundrobin
  http-reuse always
  server web1 10.30.0.11:80
  server web2 10.30.0.12:80
  server web3 10.30.0.13:80
CONF
ip netns exec "$P-k" nginx -c "$RUN/ng/nginx.conf" -g 'daemon off;' &
NGINX=$!; PIDS+=($NGINX)
ip netns exec "$P-k" haproxy -f "$RUN/haproxy.cfg" -db >/dev/null 2>&1 &
HAPROXY=$!; PIDS+=($HAPROXY)
sleep 1

cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }   # utime + stime, clock ticks
# Every process of a balancer (nginx master + worker; haproxy; the tapnet lab process).
cpu_of() { local total=0; for p in $(pgrep -f "$1"); do for q in $p $(pgrep -P "$p"); do total=$((total + $(cpu "$q"))); done; done; echo $total; }
HZ=$(getconf CLK_TCK)

row() {
  local name=$1 url=$2 pattern=$3
  ip netns exec "$P-c" curl -s --max-time 3 "$url" >/dev/null || { echo "| $name | (no answer from $url) | | | |"; return; }
  local opens_before; opens_before=$(node bin/tapnet.js show stats --json --lab "$LAB" --node lb | awk -F'[:,]' '/"TcpActiveOpens"/ {gsub(/ /, "", $2); print $2}')
  local before; before=$(cpu_of "$pattern")
  local out; out=$(ip netns exec "$P-c" wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$url" 2>&1)
  local after; after=$(cpu_of "$pattern")
  local opens_after; opens_after=$(node bin/tapnet.js show stats --json --lab "$LAB" --node lb | awk -F'[:,]' '/"TcpActiveOpens"/ {gsub(/ /, "", $2); print $2}')
  echo "$name: tapnet lb opened $((opens_after - opens_before)) TCP connections (health checks included)" >&2
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | paste -sd ';' -)
  local total; total=$(awk '/requests in/ {print $1}' <<<"$out")
  local cpu10k; cpu10k=$(awk -v t="$total" -v c=$((after - before)) -v hz="$HZ" 'BEGIN { if (t > 0) printf "%.2f", c / hz / t * 10000; else print "n/a" }')
  echo "$name|$rps|$p99|$cpu10k|${errors:-}"
}

results=()
want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
want 'tapnet nat' && results+=("$(row 'tapnet nat' http://10.20.0.1:82/ "lab up $LAB")")
want 'tapnet proxy' && results+=("$(row 'tapnet proxy' http://10.20.0.1:80/ "lab up $LAB")")
want 'tapnet http' && results+=("$(row 'tapnet http' http://10.20.0.1:81/ "lab up $LAB")")
want 'nginx' && results+=("$(row 'nginx' http://10.20.0.2:80/ "nginx -c $RUN/ng/")")
want 'haproxy' && results+=("$(row 'haproxy' http://10.20.0.2:8000/ "haproxy -f $RUN/")")
want 'haproxy mode tcp' && results+=("$(row 'haproxy mode tcp' http://10.20.0.2:8001/ "haproxy -f $RUN/")")

nginx_rps=$(printf '%s\n' "${results[@]}" | awk -F'|' '$1 == "nginx" {print $2}')
echo "wrk -t2 -c$CONNS -d${SECS}s --latency, 3 nginx backends (1 worker each), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| balancer | requests/s | vs nginx | p99 | balancer CPU s per 10k requests | errors |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in "${results[@]}"; do
  IFS='|' read -r name rps p99 cpu10k errors <<<"$r"
  ratio=$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN { if (b > 0 && a > 0) printf "%.2f", a / b; else print "n/a" }')
  echo "| $name | $rps | $ratio | $p99 | $cpu10k | $errors |"
done
