# shellcheck shell=bash
# Shared by scripts/build-images.sh, push-images.sh, load-images.sh,
# image-tag.sh and check-versions.sh: the ONE place where image names and
# tags are decided. Source it from the repository root.
#
#   image_names        every image: one per Containerfiles/<name>.Containerfile
#                      (a new Containerfile is a new image, no list to edit)
#   workspace_version  [workspace.package] version in Cargo.toml
#   image_tag          $TAG if set, else <workspace version>-<git short sha>
#                      (plain version outside a git checkout)
#   pick_engine        $ENGINE, else podman, else docker

image_names() {
  local f
  for f in Containerfiles/*.Containerfile; do
    [ -e "$f" ] || continue
    f=${f##*/}
    echo "${f%.Containerfile}"
  done
}

workspace_version() {
  # The `version = "..."` line inside [workspace.package].
  awk '/^\[/{section=$0} section=="[workspace.package]" && /^version *=/ {
         gsub(/.*= *"|".*/, ""); print; exit }' Cargo.toml
}

git_revision() { # full commit id, or "unknown"
  git rev-parse HEAD 2>/dev/null || echo unknown
}

# Why version + commit: with a tag that only says the version, an image
# rebuilt and pushed under the same tag is never pulled again by nodes
# that already have it (imagePullPolicy IfNotPresent), and
# `kubectl apply` changes nothing, so old code keeps running. A tag that
# changes with every commit makes every rebuild a rollout.
image_tag() {
  if [ -n "${TAG:-}" ]; then echo "$TAG"; return; fi
  local v sha
  v=$(workspace_version)
  [ -n "$v" ] || { echo "image_tag: no version in [workspace.package] of Cargo.toml" >&2; return 1; }
  if sha=$(git rev-parse --short=7 HEAD 2>/dev/null); then echo "$v-$sha"; else echo "$v"; fi
}

native_arch() { # this machine's architecture, in the images' words
  case $(uname -m) in
    x86_64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) uname -m ;;
  esac
}

pick_engine() {
  if [ -n "${ENGINE:-}" ]; then echo "$ENGINE"
  elif command -v podman >/dev/null 2>&1; then echo podman
  elif command -v docker >/dev/null 2>&1; then echo docker
  else echo "neither podman nor docker found (set ENGINE)" >&2; return 1; fi
}

# Rewrite the newTag of every `name: [.../]<image>` entry of a kustomization's
# images: list (and its newName, when given) in place: what
# `kustomize edit set image` does, without needing kustomize.
#   set_kustomize_tags FILE TAG [REGISTRY]
set_kustomize_tags() {
  local file=$1 tag=$2 registry=${3:-} names
  names=$(image_names | paste -sd' ')
  awk -v tag="$tag" -v reg="$registry" -v names=" $names " '
    /^ *- name: / { n=$0; sub(/.*- name: */, "", n); gsub(/"/, "", n); sub(/.*\//, "", n)
                  ours = index(names, " " n " ") > 0 }
    ours && /^ *newTag:/ { sub(/newTag:.*/, "newTag: \"" tag "\"") }
    ours && reg != "" && /^ *newName:/ { sub(/newName:.*/, "newName: " reg "/" n) }
    { print }' "$file" >"$file.tmp" && mv "$file.tmp" "$file"
}
