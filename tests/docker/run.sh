#!/usr/bin/env bash
# docker/Dockerfile, built and run against a real Docker daemon (issue 15). Run by .ci/run after `npm test`;
# by hand: `sudo bash tests/docker/run.sh` (needs docker.io, docker-compose, debootstrap, python3; 3-4 minutes clean,
# under a minute when the base image and the build cache are still there).
#
# - A private dockerd (its own socket, data root and exec root; no bridge, no iptables, no forwarding), so
#   the machine's network and any other Docker are not touched. Stopped by its PID at the end, always.
# - No image registry is needed: the base is a `debootstrap --variant=minbase bookworm` rootfs from the
#   mirror apt already uses (tests/docker/apt-mirror.py), imported as tapnet-ci-base and passed as BASE.
#   Kept in the data root between local runs; CI (CI=true) starts from an empty data root.
# - The build runs with --network host (the daemon has no bridge) for apt and npm; the host's npm registry
#   and its extra CA certificates (/usr/local/share/ca-certificates) are passed on as build arguments.
# - The containers run with --network none and the minimal flags docker/README.md gives (--privileged fails
#   on sandboxed hosts): `tapnet up` answers ping, ping -6 and curl, and `docker stop` ends it with exit 0;
#   `tapnet up --netns` removes its TAP, namespace and mount on SIGTERM; docker/README.md's nft rules publish
#   tapnet's HTTP and DNS on the container's eth0; docker/compose.yaml's `tapnet lab
#   up` (lab file mounted from the host) gives the traceroute 10.1.0.1, 10.2.0.10 and stops with exit 0; each missing flag gives
#   one line naming it, exit 1.
# Prints "docker: N passed, N failed" last; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

SOCK=/run/tapnet-ci-docker.sock
DATA_ROOT=/var/lib/tapnet-ci-docker
EXEC_ROOT=/run/tapnet-ci-docker-exec
PIDFILE=/run/tapnet-ci-docker.pid
BASE_IMAGE=tapnet-ci-base
IMAGE=tapnet:ci
PREFIX=tapnet-ci-
# Debian's client, the same version as its dockerd (another docker client may be first on PATH).
DOCKER=/usr/bin/docker
export DOCKER_HOST=unix://$SOCK
WORK=$(mktemp -d /tmp/tapnet-docker-test.XXXXXX)
pass=0
fail=0

say() { printf '[docker-test %s] %s\n' "$(date +%T)" "$*"; }
ok() { pass=$((pass + 1)); say "ok: $*"; }
not_ok() { fail=$((fail + 1)); say "FAIL: $*"; }
docker() { "$DOCKER" "$@"; }

stop_daemon() {
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    local pid
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  # The daemon leaves its containers' network namespace files mounted under netns/ (and, killed, overlays).
  { grep -oE " ($EXEC_ROOT|$DATA_ROOT)/[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$EXEC_ROOT"
  rm -f "$SOCK" "$PIDFILE"
}

cleanup() {
  local rc=$?
  if [ -S "$SOCK" ]; then
    docker ps -aq --filter "name=^tapnet-ci" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
  fi
  stop_daemon
  if mountpoint -q "$WORK/rootfs/proc" 2>/dev/null; then umount -l "$WORK/rootfs/proc" || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in dockerd "$DOCKER" docker-compose debootstrap python3; do
  command -v "$tool" >/dev/null || { say "missing $tool (apt-get install docker.io docker-compose debootstrap python3)"; exit 1; }
done

# --- the private daemon ---
stop_daemon # one left over by an interrupted run
[ "${CI:-}" = true ] && rm -rf "$DATA_ROOT"
mkdir -p "$DATA_ROOT"
dockerd -H "unix://$SOCK" --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" \
  --bridge=none --iptables=false --ip-forward=false --ip-masq=false >"$WORK/dockerd.log" 2>&1 &
for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || { say "dockerd did not start:"; tail -20 "$WORK/dockerd.log"; exit 1; }
say "dockerd $(docker version -f '{{.Server.Version}}') ready, pid $(cat "$PIDFILE")"

# --- the base image, from the mirror apt uses ---
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  mirror=$(python3 tests/docker/apt-mirror.py bookworm) || { say "no bookworm mirror in /etc/apt/sources.list*"; exit 1; }
  say "debootstrap --variant=minbase bookworm from $mirror"
  t0=$SECONDS
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log"; exit 1; }
  rm -rf "$WORK/rootfs/var/cache/apt/"*.bin "$WORK/rootfs/var/lib/apt/lists/"*_Packages
  say "debootstrap took $((SECONDS - t0)) s"
  t0=$SECONDS
  tar -C "$WORK/rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
  say "import took $((SECONDS - t0)) s"
fi

# --- the image ---
build_args=(--build-arg "BASE=$BASE_IMAGE")
if command -v npm >/dev/null; then build_args+=(--build-arg "NPM_REGISTRY=$(npm config get registry)"); fi
shopt -s nullglob
certs=(/usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt)
shopt -u nullglob
if [ ${#certs[@]} -gt 0 ]; then build_args+=(--build-arg "EXTRA_CA_CERTS=$(cat "${certs[@]}")"); fi
say "docker build -f docker/Dockerfile (--network host: the daemon has no bridge)"
t0=$SECONDS
DOCKER_BUILDKIT=0 docker build --network host "${build_args[@]}" -f docker/Dockerfile -t "$IMAGE" . >"$WORK/build.log" 2>&1 ||
  { tail -40 "$WORK/build.log"; exit 1; }
say "build took $((SECONDS - t0)) s; image $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'), base $(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

TUN=(--device /dev/net/tun)
NET=(--cap-add NET_ADMIN)
SYS=(--cap-add SYS_ADMIN)
PROC=(--security-opt systempaths=unconfined)

# Waits until container $1's log (or file $2 inside it) says "ready".
wait_ready() {
  local c=$1 file=${2:-}
  for _ in $(seq 150); do
    if [ -n "$file" ]; then docker exec "$c" grep -q ready "$file" 2>/dev/null && return 0
    else docker logs "$c" 2>&1 | grep -q ready && return 0; fi
    [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || break
    sleep 0.2
  done
  say "$c never logged ready:"; docker logs "$c" 2>&1 | tail -20; return 1
}

# docker stop -t 2: SIGTERM, SIGKILL after 2 s (exit code 137). tapnet must be gone with 0 before that.
stop_check() {
  local c=$1 t0 t1 code
  t0=$(date +%s%N)
  docker stop -t 2 "$c" >/dev/null
  t1=$(date +%s%N)
  code=$(docker inspect -f '{{.State.ExitCode}}' "$c")
  if [ "$code" = 0 ]; then ok "$c: docker stop -> exit 0 in $(((t1 - t0) / 1000000)) ms"
  else not_ok "$c: docker stop -> exit $code after $(((t1 - t0) / 1000000)) ms"; docker logs "$c" 2>&1 | tail -10; fi
}

# --- bad input: one line naming the flag, exit 1 ---
bad_input() {
  local flag=$1; shift
  local out rc=0
  out=$(docker run --rm --network none "$@" 2>&1) || rc=$?
  if [ "$rc" = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ $out == tapnet:* ]] && [[ $out == *"add "*"$flag"*" to docker run" ]]; then
    ok "without $flag: $out"
  else
    not_ok "without $flag: exit $rc, output: $out"
  fi
}
bad_input "--device /dev/net/tun" "${NET[@]}" "${PROC[@]}" "$IMAGE" up
bad_input "--cap-add NET_ADMIN" "${TUN[@]}" "${PROC[@]}" "$IMAGE" up
bad_input "--cap-add SYS_ADMIN" "${TUN[@]}" "${NET[@]}" "${PROC[@]}" "$IMAGE" up --netns ci
bad_input "--security-opt systempaths=unconfined" "${TUN[@]}" "${NET[@]}" "$IMAGE" up
bad_input "--cap-add SYS_ADMIN" "${TUN[@]}" "${NET[@]}" "${PROC[@]}" "$IMAGE" lab up labs/two-lans.yaml

# --- tapnet up, tapnet as PID 1 (no --init): ping, ping -6, curl, docker stop ---
c=${PREFIX}up
docker run -d --name "$c" --network none "${TUN[@]}" "${NET[@]}" "${PROC[@]}" "$IMAGE" up >/dev/null
if wait_ready "$c"; then
  if docker exec "$c" ping -c 1 -W 2 10.77.0.1 >/dev/null; then ok "up: ping 10.77.0.1"; else not_ok "up: ping 10.77.0.1"; fi
  got6=no
  for _ in $(seq 50); do # the kernel end takes its address by SLAAC, after DAD
    if docker exec "$c" ping -6 -c 1 -W 1 fd77::1 >/dev/null 2>&1; then got6=yes; break; fi
    sleep 0.2
  done
  if [ $got6 = yes ]; then ok "up: ping -6 fd77::1"; else not_ok "up: ping -6 fd77::1"; fi
  if page=$(docker exec "$c" curl -sSf --max-time 5 http://10.77.0.1/) && [ -n "$page" ]; then ok "up: curl http://10.77.0.1/"; else not_ok "up: curl http://10.77.0.1/"; fi
else
  not_ok "up: ready"
fi
stop_check "$c"

# --- tapnet up --netns: SIGTERM leaves no TAP, namespace or mount in the container ---
c=${PREFIX}netns
docker run -d --init --name "$c" --network none "${TUN[@]}" "${NET[@]}" "${SYS[@]}" "${PROC[@]}" --entrypoint sleep "$IMAGE" infinity >/dev/null
docker exec -d "$c" sh -c 'tapnet up --netns ci >/tmp/up.log 2>&1; echo $? >/tmp/up.rc'
if wait_ready "$c" /tmp/up.log; then
  if docker exec "$c" ip netns exec ci ping -c 1 -W 2 10.77.0.1 >/dev/null; then ok "up --netns: ping from the namespace"; else not_ok "up --netns: ping from the namespace"; fi
  docker exec "$c" sh -c 'kill -TERM $(pgrep -x node)'
  rc=
  for _ in $(seq 50); do rc=$(docker exec "$c" cat /tmp/up.rc 2>/dev/null) && break; sleep 0.1; done
  left=$(docker exec "$c" sh -c 'ip netns list; ip -o link | grep -v " lo:"; grep " /run/netns/" /proc/self/mountinfo' || true)
  if [ "$rc" = 0 ] && [ -z "$left" ]; then ok "up --netns: SIGTERM -> exit 0, nothing left"
  else not_ok "up --netns: SIGTERM -> exit '$rc', left: $left"; docker exec "$c" tail -5 /tmp/up.log; fi
else
  not_ok "up --netns: ready"
fi
docker rm -f "$c" >/dev/null

# --- SIGKILL (docker kill) of a running lab: nothing of it is left on the host ---
# Its TAPs and namespaces (lan1-pc, lan2-pc: the shipped lab's names, which no test on the host uses) live in
# the container's network namespace and go with it: none may appear on the host, before or after the kill.
lab_on_host() { { ip -o link show; ip netns list; cat /proc/self/mountinfo; } | grep -E 'lan1-pc|lan2-pc' || true; }
c=${PREFIX}kill
docker run -d --name "$c" --network none "${TUN[@]}" "${NET[@]}" "${SYS[@]}" "${PROC[@]}" "$IMAGE" lab up labs/two-lans.yaml >/dev/null
if wait_ready "$c"; then
  inside=$(docker exec "$c" ip netns list | grep -c 'lan[12]-pc' || true)
  during=$(lab_on_host)
  docker kill -s KILL "$c" >/dev/null
  docker rm -f "$c" >/dev/null
  after=$(lab_on_host)
  if [ "$inside" = 2 ] && [ -z "$during$after" ]; then ok "lab up, then docker kill (SIGKILL): its namespaces were in the container, nothing of it on the host"
  else not_ok "lab up, docker kill: namespaces inside: $inside; on the host while running: '$during', after: '$after'"; fi
else
  not_ok "kill: ready"; docker rm -f "$c" >/dev/null
fi

# --- publishing tapnet's HTTP and DNS the way docker/README.md says (its nft rules, taken from there) ---
# Docker's own part of `-p` (the host's DNAT to the container's eth0) needs a bridge, which this daemon has
# not; a veth eth0 whose peer sits in a namespace "outside" plays it, and the packets take the same path in.
c=${PREFIX}publish
docker run -d --name "$c" --network none --sysctl net.ipv4.ip_forward=1 "${TUN[@]}" "${NET[@]}" "${SYS[@]}" "${PROC[@]}" "$IMAGE" up >/dev/null
rules=$(awk '/nft -f - <<.EOF.$/ { on = 1; next } on && /^EOF$/ { exit } on' docker/README.md)
if wait_ready "$c" && [ -n "$rules" ] &&
  docker exec "$c" sh -c 'ip netns add outside && ip link add eth0 type veth peer name out0 netns outside &&
    ip addr add 192.0.2.2/24 dev eth0 && ip link set eth0 up &&
    ip -n outside addr add 192.0.2.1/24 dev out0 && ip -n outside link set out0 up' &&
  printf '%s\n' "$rules" | docker exec -i "$c" nft -f -; then
  if docker exec "$c" ip netns exec outside curl -sSf --max-time 5 http://192.0.2.2/ >/dev/null; then ok "publish: HTTP through eth0's DNAT"; else not_ok "publish: HTTP through eth0's DNAT"; fi
  a=$(docker exec "$c" ip netns exec outside dig +short +time=2 +tries=1 @192.0.2.2 gateway.lab || true)
  if [ "$a" = 10.77.0.1 ]; then ok "publish: DNS through eth0's DNAT: gateway.lab $a"; else not_ok "publish: DNS through eth0's DNAT: '$a'"; fi
else
  not_ok "publish: set-up"
fi
docker rm -f "$c" >/dev/null

# --- tapnet lab up through docker/compose.yaml (the lab file mounted from the host, --init) ---
COMPOSE=(docker-compose -p tapnet-ci -f docker/compose.yaml)
export TAPNET_IMAGE=$IMAGE LAB_DIR=$PWD/labs LAB=two-lans.yaml
"${COMPOSE[@]}" up -d --no-build >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; exit 1; }
c=$("${COMPOSE[@]}" ps -q lab)
if wait_ready "$c"; then
  hops=$(docker exec "$c" ip netns exec lan1-pc traceroute -n -q 1 -w 2 10.2.0.10 | awk 'NR > 1 { print $2 }' | paste -sd ' ')
  if [ "$hops" = "10.1.0.1 10.2.0.10" ]; then ok "compose lab: traceroute 10.2.0.10 from lan1-pc: $hops"; else not_ok "compose lab: traceroute hops '$hops'"; fi
  if docker exec "$c" ip netns exec lan1-pc ping -6 -c 1 -W 2 fd00:2::10 >/dev/null; then ok "compose lab: ping -6 fd00:2::10"; else not_ok "compose lab: ping -6 fd00:2::10"; fi
else
  not_ok "compose lab: ready"
fi
stop_check "$c"
"${COMPOSE[@]}" down >/dev/null 2>&1

printf 'docker: %s passed, %s failed\n' "$pass" "$fail"
[ "$fail" = 0 ]
