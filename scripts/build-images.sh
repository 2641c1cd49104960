#!/usr/bin/env bash
# Build the service images from Containerfiles/ with podman or docker.
#
#   scripts/build-images.sh                        # every image, this machine's architecture
#   scripts/build-images.sh relay sink             # only these
#   scripts/build-images.sh --platform linux/amd64,linux/arm64
#   REGISTRY=registry.example.com/you TAG=0.2.0 scripts/build-images.sh
#   ENGINE=docker scripts/build-images.sh          # default: podman if present, else docker
#   SOURCE_URL=https://git.example.org/you/repo scripts/build-images.sh
#
# Every Containerfiles/<name>.Containerfile is an image; adding a file adds
# an image. Images are named $REGISTRY/<name>:<tag>: REGISTRY defaults to
# "localhost" (podman's name for local images), the tag to
# scripts/image-tag.sh (workspace version + git commit, e.g. 0.1.0-9797a8a;
# TAG overrides it), and also <version> alone (e.g. 0.1.0, the default of
# compose.yaml). push-images.sh and load-images.sh use the same tag. With several platforms every image is also tagged
# <tag>-<arch> per architecture, <tag> itself being this machine's
# architecture; scripts/push-images.sh joins them into one manifest list.
#
# Other architectures are cross-compiled: the builder stages run on this
# machine's architecture, never under emulation. Only the runtime stage is
# the target's, and it runs nothing at build time.
#
# Labels: org.opencontainers.image.version (the tag), .revision (git
# commit), .created (now), and .source only when SOURCE_URL is set.
# Extra build flags: BUILD_ARGS="--pull=never" (split on spaces).
#
# The first image compiles the workspace; the Containerfiles share their
# build stages, so every further image (and platform's runtime) reuses it
# from the layer cache. Per-image times and the total are printed at the
# end (BENCHMARKS.md, "Images").
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/images.sh

platforms=""
images=()
while [ $# -gt 0 ]; do
  case $1 in
    --platform) platforms=${2:?--platform needs a value, e.g. linux/amd64,linux/arm64}; shift 2 ;;
    --platform=*) platforms=${1#--platform=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-images: unknown option $1" >&2; exit 2 ;;
    *) images+=("$1"); shift ;;
  esac
done

mapfile -t all < <(image_names)
[ "${#all[@]}" -gt 0 ] || { echo "build-images: no Containerfiles/*.Containerfile" >&2; exit 1; }
if [ "${#images[@]}" -eq 0 ]; then images=("${all[@]}"); fi
for name in "${images[@]}"; do
  if [ ! -f "Containerfiles/$name.Containerfile" ]; then
    echo "build-images: no Containerfiles/$name.Containerfile (known: ${all[*]})" >&2
    exit 2
  fi
done

engine=$(pick_engine)
REGISTRY=${REGISTRY:-localhost}
REGISTRY=${REGISTRY%/}
tag=$(image_tag)
# The plain version is tagged too, as "the last build of this version on
# this machine": compose.yaml's default and k8s/overlays/podman-portal use
# it, where nothing pulls. Clusters get the unique tag (load-images.sh).
alias=$tag
if [ -z "${TAG:-}" ]; then alias=$(workspace_version); fi
revision=$(git_revision)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# podman writes OCI images by default, which have no HEALTHCHECK; the docker
# format keeps it. docker needs BuildKit for --platform, cache mounts and
# COPY --chown in a stage.
# podman 4.3 does not set BUILDPLATFORM for `FROM --platform=$BUILDPLATFORM`
# lines (BuildKit and newer podman do): pass this machine's platform.
format_args=()
case $engine in
  *podman*) format_args=(--format docker --build-arg "BUILDPLATFORM=linux/$(native_arch)") ;;
  *docker*) export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-1} ;;
esac
read -r -a extra <<<"${BUILD_ARGS:-}"
# The labels are passed twice: as build arguments, which the Containerfiles'
# LABEL lines use (so a plain `podman build` labels too), and as --label,
# which the engine sets on the finished image. buildah 1.28 reuses a cached
# LABEL step even when the build arguments in it changed, so without
# --label an image whose binary did not change kept an old revision and
# creation time.
label_args=(--label "org.opencontainers.image.version=$tag"
  --label "org.opencontainers.image.revision=$revision"
  --label "org.opencontainers.image.created=$created")
if [ -n "${SOURCE_URL:-}" ]; then label_args+=(--label "org.opencontainers.image.source=$SOURCE_URL"); fi

native=$(native_arch)
plats=()
if [ -n "$platforms" ]; then IFS=, read -r -a plats <<<"$platforms"; fi
multi=0
if [ "${#plats[@]}" -gt 1 ]; then multi=1; fi

declare -A seconds
plat_seconds=()
start_all=$(date +%s)
refs=()
# Platform by platform, every image of one platform before the next: the
# build stages' cache mount (cargo's target directory) is shared by both
# targets, and the build stage touches every source file that differs from
# the last build of its target. Alternating platforms image by image made
# each switch look like a change to every crate (about 1 min 20 s of
# recompiling per image); in this order the workspace compiles once per
# platform and every further image of it is a cache hit.
for plat in "${plats[@]:-}"; do
  arch=${plat#*/}; arch=${arch%%/*}
  plat_args=()
  if [ -n "$plat" ]; then plat_args=(--platform "$plat"); fi
  t_plat=$(date +%s)
  for name in "${images[@]}"; do
    ref="$REGISTRY/$name:$tag"
    out=$ref
    if [ "$multi" -eq 1 ]; then out="$ref-$arch"; fi
    echo "== build-images: $out ($engine${plat:+, $plat})"
    t0=$(date +%s)
    "$engine" build "${format_args[@]}" "${plat_args[@]}" "${extra[@]}" "${label_args[@]}" \
      --build-arg "VERSION=$tag" --build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
      -f "Containerfiles/$name.Containerfile" -t "$out" .
    seconds[$out]=$(( $(date +%s) - t0 ))
    refs+=("$out")
    if [ "$multi" -eq 1 ] && [ "$arch" = "$native" ]; then "$engine" tag "$out" "$ref"; fi
  done
  plat_seconds+=("${plat:-$native}=$(( $(date +%s) - t_plat ))")
done
for name in "${images[@]}"; do
  ref="$REGISTRY/$name:$tag"
  if [ "$alias" != "$tag" ] && "$engine" image inspect "$ref" >/dev/null 2>&1; then
    "$engine" tag "$ref" "$REGISTRY/$name:$alias"
  fi
done
total=$(( $(date +%s) - start_all ))

echo
echo "== build-images: summary ($engine, tag $tag)"
printf '%-56s %-6s %10s %8s\n' IMAGE ARCH SIZE BUILD
for ref in "${refs[@]}"; do
  read -r bytes arch < <("$engine" image inspect --format '{{.Size}} {{.Architecture}}' "$ref")
  printf '%-56s %-6s %7.1f MB %7ss\n' "$ref" "$arch" "$(awk "BEGIN{print $bytes/1000000}")" "${seconds[$ref]}"
done
for p in "${plat_seconds[@]}"; do
  s=${p#*=}
  printf 'build time %s: %dm%02ds\n' "${p%%=*}" $((s / 60)) $((s % 60))
done
printf 'total build time: %dm%02ds\n' $((total / 60)) $((total % 60))
