#!/usr/bin/env bash
# CI: the arm64 images are real arm64 images whose binaries serve HTTP.
#
# For every image (one per Containerfile), localhost/<name>:<tag>-arm64 as
# `scripts/build-images.sh --platform linux/amd64,linux/arm64` built it:
#   1. the image config says arm64 (and the <tag>-amd64 one amd64);
#   2. its root filesystem is exported (the container is created, never
#      started), and the binary runs on this amd64 machine under
#      qemu-aarch64-static with that filesystem as its sysroot (its own
#      glibc and loader), on a free loopback port;
#   3. one real request, GET /healthz, must answer 200 within 20 s; then the
#      process gets SIGTERM and must exit.
# Needs: podman, curl, Debian's qemu-user-static (installed if absent).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/images.sh

ENGINE=${ENGINE:-podman}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
say() { printf '\n== arm64-smoke: %s\n' "$*"; }

if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  say "installing qemu-user-static"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi

REGISTRY=${REGISTRY:-localhost}
tag=$(image_tag)
mapfile -t names < <(image_names)
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

failures=0
for name in "${names[@]}"; do
  for arch in amd64 arm64; do
    got=$("$ENGINE" image inspect --format '{{.Architecture}}' "$REGISTRY/$name:$tag-$arch" 2>/dev/null) \
      || { echo "arm64-smoke: $REGISTRY/$name:$tag-$arch not found (build-images.sh --platform linux/amd64,linux/arm64)" >&2; exit 1; }
    [ "$got" = "$arch" ] || { echo "arm64-smoke: $name:$tag-$arch says architecture '$got'" >&2; failures=$((failures + 1)); }
  done

  ref="$REGISTRY/$name:$tag-arm64"
  root="$work/$name"
  mkdir -p "$root"
  cid=$("$ENGINE" create --platform linux/arm64 "$ref")
  "$ENGINE" export "$cid" | tar -x -C "$root" 2>/dev/null
  "$ENGINE" rm "$cid" >/dev/null
  bin="$root/usr/local/bin/$name"
  # The runtime layer must be the arm64 variant of the base image too: an
  # amd64 base under an arm64 config has no arm64 loader to run anything.
  if [ ! -e "$root/lib/ld-linux-aarch64.so.1" ]; then
    echo "arm64-smoke: $ref has no /lib/ld-linux-aarch64.so.1 (an amd64 runtime base?)" >&2
    failures=$((failures + 1)); continue
  fi
  if command -v file >/dev/null && ! file -b "$bin" | grep -q "ARM aarch64"; then
    echo "arm64-smoke: $bin is not an aarch64 executable" >&2; failures=$((failures + 1)); continue
  fi

  port=$(free_port)
  mkdir -p "$work/$name-data"
  say "$name (arm64, qemu) on 127.0.0.1:$port"
  # Only what every service needs to start without its peers; the request
  # is the liveness probe, which depends on nothing outside the process.
  # (todo-frontend requires its back end's address, SERVER_URI, at start;
  # nothing listens there, and liveness does not ask it.)
  # appcoup starts its two programs from BIN_DIR: under qemu-user, an
  # emulated process cannot exec another arm64 binary directly (there is no
  # binfmt_misc handler here), so it gets one-line wrappers that start each
  # program from the image under qemu too. The request then goes through
  # appcoup's echo, as in the one-image container.
  extra=()
  if [ "$name" = appcoup ]; then
    mkdir -p "$work/appcoup-bin"
    for prog in generator echo; do
      printf '#!/bin/sh\nexec qemu-aarch64-static -L "%s" "%s/usr/local/bin/%s" "$@"\n' "$root" "$root" "$prog" \
        >"$work/appcoup-bin/$prog"
      chmod +x "$work/appcoup-bin/$prog"
    done
    extra=(BIN_DIR="$work/appcoup-bin" DATA_DIR="$work/$name-data" GENERATOR_PORT="$(free_port)")
  fi
  env -i PATH=/usr/bin:/bin HOME="$work" PORT="$port" BIND_ADDR=127.0.0.1 \
    LOG_DIR="$work/$name-data" SQLITE_FILE="$work/$name-data/todo.db" SERVER_URI=127.0.0.1:9 \
    "${extra[@]}" qemu-aarch64-static -L "$root" "$bin" >"$work/$name.log" 2>&1 &
  pid=$!
  code=""
  for _ in $(seq 1 40); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/healthz" || true)
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ "$code" = 200 ]; then
    echo "  ok: GET /healthz -> 200 from the arm64 binary"
  else
    echo "arm64-smoke: $name did not answer GET /healthz with 200 (last: ${code:-none})" >&2
    tail -n 20 "$work/$name.log" >&2
    failures=$((failures + 1))
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "arm64-smoke: $name did not exit on SIGTERM" >&2; kill -KILL "$pid"; failures=$((failures + 1))
  fi
  wait "$pid" 2>/dev/null || true
  pid=""
  rm -rf "$root"
done

[ "$failures" -eq 0 ] || { echo "arm64-smoke: $failures failure(s)" >&2; exit 1; }
say "PASSED: ${#names[@]} arm64 images, each binary answered under qemu"
