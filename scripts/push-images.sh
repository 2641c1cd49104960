#!/usr/bin/env bash
# Push the images scripts/build-images.sh made to a registry: one manifest
# list per image when it was built for several platforms.
#
#   podman login registry.example.com          # once; or: docker login ...
#   REGISTRY=registry.example.com/k8s-rust-workloads scripts/push-images.sh
#   REGISTRY=registry.example.com/you scripts/push-images.sh relay sink
#
# Log in first, as the seed does with `podman login` for its Harbor registry:
# the login stores a token in ${XDG_RUNTIME_DIR}/containers/auth.json
# (podman) or ~/.docker/config.json (docker), which push then uses. In CI use
# `podman login --username "$USER" --password-stdin REGISTRY <<<"$TOKEN"`
# with the token from the CI system's secret store; never put it in the repo.
#
# Source images: SOURCE_REGISTRY (default localhost)/<name>:<tag>, the tag
# from scripts/image-tag.sh (TAG overrides), as build-images.sh made them.
# If build-images.sh --platform made per-architecture images
# (<tag>-amd64, <tag>-arm64), each is pushed and then one manifest list
# <tag> naming them all: `podman manifest` with podman, `docker manifest`
# with docker (no buildx needed). Otherwise the single image is pushed.
#
# Kubernetes then needs the registry and tag in k8s/images: the script
# ends by printing the newName/newTag lines to put there (or run it with
# SET_K8S=1 to rewrite k8s/images/kustomization.yaml in place, as
# `kustomize edit set image` would). For a private registry, see the regcred
# component in k8s/README.md. ENGINE=podman|docker as in build-images.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/images.sh

if [ -z "${REGISTRY:-}" ] || [ "${REGISTRY%/}" = localhost ]; then
  echo "push-images: set REGISTRY to the registry (and path) to push to, e.g." >&2
  echo "  REGISTRY=registry.example.com/k8s-rust-workloads $0" >&2
  exit 2
fi
REGISTRY=${REGISTRY%/}
SOURCE_REGISTRY=${SOURCE_REGISTRY:-localhost}
SOURCE_REGISTRY=${SOURCE_REGISTRY%/}
engine=$(pick_engine)
tag=$(image_tag)

mapfile -t all < <(image_names)
images=("$@")
if [ "${#images[@]}" -eq 0 ]; then images=("${all[@]}"); fi

exists() { "$engine" image inspect "$1" >/dev/null 2>&1; }

pushed=()
for name in "${images[@]}"; do
  [ -f "Containerfiles/$name.Containerfile" ] || { echo "push-images: unknown image '$name' (known: ${all[*]})" >&2; exit 2; }
  src="$SOURCE_REGISTRY/$name:$tag"
  dst="$REGISTRY/$name:$tag"
  arches=()
  for a in amd64 arm64; do exists "$src-$a" && arches+=("$a"); done
  if [ "${#arches[@]}" -eq 0 ]; then
    exists "$src" || { echo "push-images: $src not found; build it with scripts/build-images.sh $name" >&2; exit 1; }
    echo "== push-images: $src -> $dst"
    [ "$src" = "$dst" ] || "$engine" tag "$src" "$dst"
    "$engine" push "$dst"
  else
    for a in "${arches[@]}"; do
      echo "== push-images: $src-$a -> $dst-$a"
      [ "$src" = "$dst" ] || "$engine" tag "$src-$a" "$dst-$a"
      "$engine" push "$dst-$a"
    done
    echo "== push-images: manifest list $dst (${arches[*]})"
    case $engine in
      *podman*)
        list="$dst-list"
        podman manifest rm "$list" >/dev/null 2>&1 || true
        podman manifest create "$list" >/dev/null
        for a in "${arches[@]}"; do podman manifest add "$list" "docker://$dst-$a" >/dev/null; done
        podman manifest push --all "$list" "docker://$dst"
        podman manifest rm "$list" >/dev/null
        ;;
      *)
        refs=(); for a in "${arches[@]}"; do refs+=("$dst-$a"); done
        docker manifest rm "$dst" >/dev/null 2>&1 || true
        docker manifest create "$dst" "${refs[@]}"
        docker manifest push "$dst"
        ;;
    esac
  fi
  pushed+=("$dst")
done

echo
echo "== push-images: pushed"
printf '  %s\n' "${pushed[@]}"
if [ -n "${SET_K8S:-}" ]; then
  set_kustomize_tags k8s/images/kustomization.yaml "$tag" "$REGISTRY"
  echo "== push-images: k8s/images/kustomization.yaml now names $REGISTRY/<name>:$tag"
else
  echo "Kubernetes: in k8s/images/kustomization.yaml set newName: $REGISTRY/<name> and newTag: \"$tag\""
  echo "  (or rerun with SET_K8S=1 to rewrite it)"
fi
