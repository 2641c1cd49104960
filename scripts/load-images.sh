#!/usr/bin/env bash
# Load the images scripts/build-images.sh built into a local cluster, and
# point k8s/overlays/local at exactly those tags.
#
#   scripts/load-images.sh kind              # KIND_CLUSTER (default: kind)
#   scripts/load-images.sh minikube          # MINIKUBE_PROFILE (default: minikube)
#   scripts/load-images.sh k3s               # imports with `sudo k3s ctr` on this machine
#   scripts/load-images.sh docker-desktop    # its Kubernetes sees the docker engine's images
#   scripts/load-images.sh kind relay sink   # only some images
#
# then:  kubectl apply -k k8s/overlays/local
#
# Images: REGISTRY (default localhost)/<name>:<tag>, the tag from
# scripts/image-tag.sh (TAG overrides), as build-images.sh tagged them.
# Each image is saved to its own docker-archive (one image per archive:
# several in one archive can come back with the wrong names) and handed to
# the cluster's own loader, so this works whether podman or docker built
# them. Afterwards the newTag values in k8s/overlays/local/kustomization.yaml
# are set to the loaded tag: the pod templates change with every new build,
# so `kubectl apply` rolls it out (the overlay never pulls: imagePullPolicy
# Never).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/images.sh

usage() { echo "usage: $0 <kind|minikube|k3s|docker-desktop> [image...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
cluster=$1; shift
case $cluster in kind | minikube | k3s | docker-desktop) ;; *) usage ;; esac

need() { command -v "$1" >/dev/null 2>&1 || { echo "load-images: $1 not found (needed for $cluster)" >&2; exit 1; }; }
case $cluster in
  kind) need kind ;;
  minikube) need minikube ;;
  k3s) need k3s ;;
  docker-desktop) need docker ;;
esac

engine=$(pick_engine)
REGISTRY=${REGISTRY:-localhost}
REGISTRY=${REGISTRY%/}
tag=$(image_tag)
mapfile -t all < <(image_names)
images=("$@")
if [ "${#images[@]}" -eq 0 ]; then images=("${all[@]}"); fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for name in "${images[@]}"; do
  ref="$REGISTRY/$name:$tag"
  "$engine" image inspect "$ref" >/dev/null 2>&1 \
    || { echo "load-images: $ref not found; build it first: scripts/build-images.sh" >&2; exit 1; }
  echo "== load-images: $ref -> $cluster"
  if [ "$cluster" = docker-desktop ] && [[ $engine == *docker* ]]; then
    continue # already in the engine Docker Desktop's Kubernetes uses
  fi
  archive="$tmp/$name.tar"
  case $engine in
    *podman*) podman save -q --format docker-archive -o "$archive" "$ref" ;;
    *) docker save -o "$archive" "$ref" ;;
  esac
  case $cluster in
    kind) kind load image-archive "$archive" --name "${KIND_CLUSTER:-kind}" ;;
    minikube) minikube image load "$archive" --profile "${MINIKUBE_PROFILE:-minikube}" ;;
    k3s) $SUDO k3s ctr images import "$archive" ;;
    docker-desktop) docker load -i "$archive" ;;
  esac
  rm -f "$archive"
done

set_kustomize_tags k8s/overlays/local/kustomization.yaml "$tag" "$REGISTRY"
echo
echo "== load-images: k8s/overlays/local now uses $REGISTRY/<name>:$tag"
echo "   kubectl apply -k k8s/overlays/local"
