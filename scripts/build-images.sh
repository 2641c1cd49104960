#!/usr/bin/env bash
# Build the service images from Containerfiles/ with podman or docker.
#
#   scripts/build-images.sh                     # all seven images
#   scripts/build-images.sh relay sink          # only these
#   REGISTRY=quay.io/you TAG=0.2.0 scripts/build-images.sh
#   ENGINE=docker scripts/build-images.sh       # default: podman if present, else docker
#
# Images are named $REGISTRY/<service>:$TAG. REGISTRY defaults to
# "localhost" (podman's name for local images) and TAG to the crate's version
# (0.1.0), the names k8s/ and compose.yaml use. Push them with
# scripts/push-images.sh.
#
# The first image builds the workspace (measured: 30 minutes on 2 busy cores,
# most of it the dependency tree); the Containerfiles share their build stages, so
# every further image reuses that build from the layer cache and takes
# seconds. Extra build flags: BUILD_ARGS="--pull=never" (split on spaces).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(sender relay sink portal-model portal-controller todo-backend todo-frontend)

if [ -n "${ENGINE:-}" ]; then
  engine=$ENGINE
elif command -v podman >/dev/null 2>&1; then
  engine=podman
elif command -v docker >/dev/null 2>&1; then
  engine=docker
else
  echo "build-images: neither podman nor docker found (set ENGINE)" >&2
  exit 1
fi
REGISTRY=${REGISTRY:-localhost}
REGISTRY=${REGISTRY%/}

images=("$@")
if [ "${#images[@]}" -eq 0 ]; then images=("${ALL[@]}"); fi
for name in "${images[@]}"; do
  if [ ! -f "Containerfiles/$name.Containerfile" ]; then
    echo "build-images: no Containerfiles/$name.Containerfile (known: ${ALL[*]})" >&2
    exit 2
  fi
done

# podman writes OCI images by default, which have no HEALTHCHECK; the docker
# format keeps it. docker needs BuildKit for COPY --chown in a stage.
format_args=()
case $engine in
  *podman*) format_args=(--format docker) ;;
  *docker*) export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-1} ;;
esac
read -r -a extra <<<"${BUILD_ARGS:-}"

crate_version() { sed -n 's/^version *= *"\(.*\)"/\1/p' "$1/Cargo.toml" | head -n 1; }

declare -A seconds
start_all=$(date +%s)
for name in "${images[@]}"; do
  version=$(crate_version "$name")
  tag=${TAG:-$version}
  ref="$REGISTRY/$name:$tag"
  echo "== build-images: $ref ($engine)"
  t0=$(date +%s)
  "$engine" build "${format_args[@]}" "${extra[@]}" \
    --build-arg "VERSION=$version" \
    -f "Containerfiles/$name.Containerfile" -t "$ref" .
  seconds[$name]=$(( $(date +%s) - t0 ))
done
total=$(( $(date +%s) - start_all ))

echo
echo "== build-images: summary ($engine)"
printf '%-52s %10s %8s\n' IMAGE SIZE "BUILD"
for name in "${images[@]}"; do
  ref="$REGISTRY/$name:${TAG:-$(crate_version "$name")}"
  bytes=$("$engine" image inspect --format '{{.Size}}' "$ref")
  printf '%-52s %7.1f MB %7ss\n' "$ref" "$(awk "BEGIN{print $bytes/1000000}")" "${seconds[$name]}"
done
printf 'total build time: %dm%02ds\n' $((total / 60)) $((total % 60))
