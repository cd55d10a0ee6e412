# Shared by tests/docker/run.sh (the image) and tests/docker/bare.sh (the README on a bare machine): sourced,
# not run. The private Docker daemon and the debootstrapped base image.
#
# - A private dockerd (its own socket, data root and exec root; no bridge, no iptables, no forwarding), so
#   the machine's network and any other Docker are not touched. Stopped by its PID at the end, always
#   (docker_stop_daemon, from the caller's EXIT trap), and what it leaves mounted is unmounted.
# - No image registry is needed: the base is a `debootstrap --variant=minbase bookworm` rootfs from the
#   mirror apt already uses (tests/docker/apt-mirror.py), imported as tapnet-ci-base.
#   Kept in the data root between local runs; CI (CI=true) starts from an empty data root, unless
#   TAPNET_DOCKER_FRESH=false (.ci/run's second script reuses the base image the first one made).
# The caller sets SAY_TAG and WORK (a scratch directory) and cds to the repository's root first.

SOCK=/run/tapnet-ci-docker.sock
DATA_ROOT=/var/lib/tapnet-ci-docker
EXEC_ROOT=/run/tapnet-ci-docker-exec
PIDFILE=/run/tapnet-ci-docker.pid
BASE_IMAGE=tapnet-ci-base
# Debian's client, the same version as its dockerd (another docker client may be first on PATH).
DOCKER=/usr/bin/docker
export DOCKER_HOST=unix://$SOCK
pass=0
fail=0

say() { printf '[%s %s] %s\n' "${SAY_TAG:-docker-test}" "$(date +%T)" "$*"; }
ok() { pass=$((pass + 1)); say "ok: $*"; }
not_ok() { fail=$((fail + 1)); say "FAIL: $*"; }
docker() { "$DOCKER" "$@"; }

docker_stop_daemon() {
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

# Removes the containers named ^$1 (when the daemon is up), stops the daemon, unmounts the debootstrap's /proc.
docker_cleanup() {
  local prefix=$1
  if [ -S "$SOCK" ]; then
    docker ps -aq --filter "name=^$prefix" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
  fi
  docker_stop_daemon
  if mountpoint -q "$WORK/rootfs/proc" 2>/dev/null; then umount -l "$WORK/rootfs/proc" || true; fi
}

docker_need() {
  for tool in dockerd "$DOCKER" debootstrap python3 "$@"; do
    command -v "$tool" >/dev/null || { say "missing $tool (apt-get install docker.io docker-compose debootstrap python3)"; exit 1; }
  done
}

docker_start_daemon() {
  docker_stop_daemon # one left over by an interrupted run
  [ "${TAPNET_DOCKER_FRESH:-${CI:-}}" = true ] && rm -rf "$DATA_ROOT"
  mkdir -p "$DATA_ROOT"
  dockerd -H "unix://$SOCK" --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" \
    --bridge=none --iptables=false --ip-forward=false --ip-masq=false >"$WORK/dockerd.log" 2>&1 &
  for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
  docker version >/dev/null 2>&1 || { say "dockerd did not start:"; tail -20 "$WORK/dockerd.log"; exit 1; }
  say "dockerd $(docker version -f '{{.Server.Version}}') ready, pid $(cat "$PIDFILE")"
}

# The base image, from the mirror apt uses (no lists in it: apt-get update first).
docker_base_image() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  local mirror t0
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
}

# Build arguments for the host's npm registry and extra CA certificates (a proxy that re-signs HTTPS).
docker_host_build_args() {
  build_args=(--build-arg "BASE=$BASE_IMAGE")
  if command -v npm >/dev/null; then build_args+=(--build-arg "NPM_REGISTRY=$(npm config get registry)"); fi
  local certs
  shopt -s nullglob
  certs=(/usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt)
  shopt -u nullglob
  if [ ${#certs[@]} -gt 0 ]; then build_args+=(--build-arg "EXTRA_CA_CERTS=$(cat "${certs[@]}")"); fi
}
