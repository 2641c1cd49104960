#!/usr/bin/env bash
# Run every test of the workspace: unit tests, black-box HTTP tests against
# in-process services, binary-level tests (signals, exit codes), database
# tests (MariaDB on 127.0.0.1:3306, a MongoDB wire-protocol server, Redis on
# 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 for the voting app), browser
# tests (headless Chromium), and the Kubernetes manifest checks.
#
# Prerequisites it cannot install without root (scripts/ci/install-deps.sh
# does, on Debian): chromium and chromium-driver, a MariaDB server, Redis and
# PostgreSQL (trusting local TCP logins). A missing
# prerequisite makes the tests that need it fail with a message; nothing is
# skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

# The portal's tests start their own MongoDB wire-protocol server (nx-27017,
# SQLite-backed, from PyPI) on a free loopback port; it lives in a venv here.
if [ ! -x .venv-mongo/bin/nx-27017 ]; then
  echo "==> installing the MongoDB wire-protocol test server into .venv-mongo"
  python3 -m venv .venv-mongo
  .venv-mongo/bin/pip install --quiet nx-27017
fi

echo "==> cargo test --workspace"
cargo test --workspace

# Image tags, compose.yaml, k8s/images, the local overlay and the
# Containerfiles agree on one version (reads files, builds nothing).
scripts/check-versions.sh

# The manifest checks also start every binary that cargo test just built
# (target/debug) to probe the paths the manifests name; all must be there.
echo "==> Kubernetes manifests"
K8S_REQUIRE_BINARIES=1 scripts/check-k8s.sh

# The diagrams in README.md and k8s/README.md are drawn from the manifests;
# this fails when they drift or when Mermaid cannot draw them.
echo "==> diagrams"
scripts/check-diagrams.sh
