#!/usr/bin/env bash
# CI: the Containerfiles build and run with docker too, not only podman.
#
#   1. installs Debian's docker.io (dockerd 20.10 and its own client) if
#      absent, and starts dockerd with the vfs storage driver and no
#      iptables/bridge (what a CI container allows), unless one is running;
#   2. copies the stand-in base images from podman into docker (one image
#      per archive: several in one archive come back with the wrong names);
#   3. builds one image (IMAGE, default relay) with BuildKit
#      (DOCKER_BUILDKIT=1: cache mounts, --platform) from the real
#      Containerfile, runs it with --network host, and waits until docker's
#      own health status (the image's HEALTHCHECK, scheduled by dockerd, no
#      systemd involved) is `healthy`;
#   4. removes its container and image, and stops the dockerd it started.
#      The build cache (cargo's registry and target directory in BuildKit's
#      cache mounts) and the base images stay, so the next run compiles only
#      what changed, as the podman builds do; DOCKER_SMOKE_PRUNE=1 removes
#      them too (`docker builder prune -af` frees the cache by hand).
#
# Debian's client is used on purpose (/usr/bin/docker): a newer docker CLI
# earlier on the PATH needs the buildx plugin for BuildKit builds.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/images.sh

IMAGE=${IMAGE:-relay}
PORT=${PORT:-18080}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-90}
RUST_IMAGE=docker.io/library/rust:1.89-slim-trixie
RUNTIME_IMAGE=gcr.io/distroless/cc-debian13:nonroot
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
say() { printf '\n== docker-smoke: %s\n' "$*"; }
started=$(date +%s)

# (dockerd is in /usr/sbin; the client the package installs is /usr/bin/docker)
if ! [ -x /usr/sbin/dockerd ] || ! [ -x /usr/bin/docker ]; then
  say "installing Debian's docker.io"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1

work=$(mktemp -d)
dockerd_pid=""
ctr=""
ref=""
cleanup() {
  [ -n "$ctr" ] && $DOCKER rm -f "$ctr" >/dev/null 2>&1 || true
  [ -n "$ref" ] && $DOCKER rmi -f "$ref" >/dev/null 2>&1 || true
  if [ "${DOCKER_SMOKE_PRUNE:-0}" = 1 ]; then
    $DOCKER builder prune -af >/dev/null 2>&1 || true
    $DOCKER rmi -f "$RUST_IMAGE" "$RUNTIME_IMAGE" >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ]; then
    $SUDO kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! $DOCKER info >/dev/null 2>&1; then
  say "starting dockerd (vfs, no iptables, no bridge)"
  $SUDO /usr/sbin/dockerd --storage-driver=vfs --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 0.5; done
  $DOCKER info >/dev/null 2>&1 || { tail -n 30 "$work/dockerd.log"; echo "docker-smoke: dockerd did not start" >&2; exit 1; }
fi
$DOCKER version --format '  client {{.Client.Version}}, server {{.Server.Version}}'

say "base images from podman"
# The runtime stand-in is a manifest list in podman; docker gets the amd64
# image under the public name.
for pair in "$RUST_IMAGE=$RUST_IMAGE" "$RUNTIME_IMAGE-amd64=$RUNTIME_IMAGE"; do
  src=${pair%%=*} dst=${pair#*=}
  if ! $DOCKER image inspect "$dst" >/dev/null 2>&1; then
    podman save --format docker-archive "$src" | $DOCKER load >/dev/null
    [ "$src" = "$dst" ] || $DOCKER tag "$src" "$dst"
  fi
done

tag=$(image_tag)
ref="localhost/$IMAGE:$tag-docker"
say "docker build $ref (BuildKit)"
t0=$(date +%s)
$DOCKER build --network host --build-arg "VERSION=$tag" --build-arg "REVISION=$(git_revision)" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -f "Containerfiles/$IMAGE.Containerfile" -t "$ref" .
say "built in $(( $(date +%s) - t0 ))s: $($DOCKER image inspect --format '{{.Architecture}}, {{.Size}} bytes, version {{index .Config.Labels "org.opencontainers.image.version"}}' "$ref")"

say "docker run, waiting for docker's health status (up to ${HEALTH_TIMEOUT}s)"
ctr=$($DOCKER run -d --read-only --network host -e PORT="$PORT" -e LOG_DIR=/tmp --tmpfs /tmp "$ref")
deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
while :; do
  health=$($DOCKER inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$ctr")
  [ "$health" = healthy ] && break
  [ "$health" != none ] || { echo "docker-smoke: image has no HEALTHCHECK" >&2; exit 1; }
  if [ "$(date +%s)" -ge "$deadline" ]; then
    $DOCKER logs "$ctr" 2>&1 | tail -n 30
    $DOCKER inspect --format '{{json .State.Health}}' "$ctr"
    echo "docker-smoke: not healthy within ${HEALTH_TIMEOUT}s (status: $health)" >&2
    exit 1
  fi
  sleep 2
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "docker-smoke: GET /healthz failed" >&2; exit 1; }
say "PASSED: $IMAGE built by docker is healthy by docker's own check ($(( $(date +%s) - started ))s)"
