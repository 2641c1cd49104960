#!/usr/bin/env bash
# Tag the locally built images for a registry and push them.
#
#   podman login registry.example.com          # once; or: docker login ...
#   REGISTRY=registry.example.com/k8s-rust-workloads scripts/push-images.sh
#   REGISTRY=quay.io/you TAG=0.2.0 scripts/push-images.sh relay sink
#
# Log in first, as the seed does with `podman login` for its Harbor registry:
# the login stores a token in ${XDG_RUNTIME_DIR}/containers/auth.json
# (podman) or ~/.docker/config.json (docker), which push then uses. In CI use
# `podman login --username "$USER" --password-stdin REGISTRY <<<"$TOKEN"`
# with the token from the CI system's secret store; never put it in the repo.
# Kubernetes then needs the same registry in k8s/images/kustomization.yaml
# and, for a private registry, the regcred Secret (k8s/README.md).
#
# Source images are what scripts/build-images.sh made: SOURCE_REGISTRY
# (default localhost) /<service>:TAG (default: the crate's version).
# ENGINE=podman|docker as in build-images.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(sender relay sink portal-model portal-controller todo-backend todo-frontend)

if [ -z "${REGISTRY:-}" ] || [ "${REGISTRY%/}" = localhost ]; then
  echo "push-images: set REGISTRY to the registry (and path) to push to, e.g." >&2
  echo "  REGISTRY=registry.example.com/k8s-rust-workloads $0" >&2
  exit 2
fi
REGISTRY=${REGISTRY%/}
SOURCE_REGISTRY=${SOURCE_REGISTRY:-localhost}
SOURCE_REGISTRY=${SOURCE_REGISTRY%/}
if [ -n "${ENGINE:-}" ]; then engine=$ENGINE
elif command -v podman >/dev/null 2>&1; then engine=podman
elif command -v docker >/dev/null 2>&1; then engine=docker
else echo "push-images: neither podman nor docker found (set ENGINE)" >&2; exit 1; fi

images=("$@")
if [ "${#images[@]}" -eq 0 ]; then images=("${ALL[@]}"); fi

crate_version() { sed -n 's/^version *= *"\(.*\)"/\1/p' "$1/Cargo.toml" | head -n 1; }

pushed=()
for name in "${images[@]}"; do
  [ -f "$name/Cargo.toml" ] || { echo "push-images: unknown image '$name' (known: ${ALL[*]})" >&2; exit 2; }
  tag=${TAG:-$(crate_version "$name")}
  src="$SOURCE_REGISTRY/$name:$tag"
  dst="$REGISTRY/$name:$tag"
  if ! "$engine" image inspect "$src" >/dev/null 2>&1; then
    echo "push-images: $src not found; build it with scripts/build-images.sh $name" >&2
    exit 1
  fi
  echo "== push-images: $src -> $dst"
  if [ "$src" != "$dst" ]; then "$engine" tag "$src" "$dst"; fi
  "$engine" push "$dst"
  pushed+=("$dst")
done

echo
echo "== push-images: pushed"
printf '  %s\n' "${pushed[@]}"
