#!/usr/bin/env bash
# docker/Dockerfile, built and run against a real Docker daemon (issue 15). Run by .ci/run after `npm test`;
# by hand: `sudo bash tests/docker/run.sh` (needs docker.io, docker-compose, debootstrap, python3; 3-4 minutes clean,
# under a minute when the base image and the build cache are still there).
#
# - The private dockerd and the debootstrapped base image: tests/docker/lib.sh (shared with tests/docker/bare.sh).
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

IMAGE=tapnet:ci
PREFIX=tapnet-ci-
WORK=$(mktemp -d /tmp/tapnet-docker-test.XXXXXX)
SAY_TAG=docker-test
. tests/docker/lib.sh

cleanup() {
  local rc=$?
  docker_cleanup tapnet-ci # also compose's tapnet-ci_lab_1
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

docker_need docker-compose
docker_start_daemon
docker_base_image

# --- the image ---
docker_host_build_args
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
