#!/usr/bin/env bash
# One version everywhere: fails when the places that name an image version or
# an image tag disagree with the workspace version (Cargo.toml
# [workspace.package]) or with what scripts/build-images.sh produces. Fast:
# reads files and renders one overlay, builds nothing. Run by scripts/test.sh.
#
# Checks:
#   - every crate takes its version from the workspace (version.workspace = true);
#   - scripts/image-tag.sh gives <version>-<commit> (or $TAG);
#   - compose.yaml: every image of ours defaults to the workspace version
#     (the alias build-images.sh tags) and names an existing Containerfile;
#   - k8s/images and k8s/overlays/podman-portal: tags are the version, or the
#     version plus a commit (as push-images.sh SET_K8S=1 writes them);
#   - k8s/overlays/local: names exactly the images build-images.sh builds
#     (localhost/<name>, one per Containerfile), tagged like k8s/images,
#     and every one of them renders with imagePullPolicy: Never;
#   - k8s/kind/cluster.yaml maps every Service nodePort in k8s/ to the host;
#   - the Containerfiles' build stages are identical, and every runtime stage
#     labels version, revision and created from the build arguments
#     build-images.sh passes;
#   - no placeholder source URL (github.com/example) is left anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/images.sh

failures=0
fail() { echo "check-versions: FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }

version=$(workspace_version)
[ -n "$version" ] || { echo "check-versions: no version in [workspace.package] of Cargo.toml" >&2; exit 1; }
mapfile -t names < <(image_names)
[ "${#names[@]}" -gt 0 ] || { echo "check-versions: no Containerfiles/*.Containerfile" >&2; exit 1; }
echo "==> one version: workspace $version, images: ${names[*]}"

# --- crates ---------------------------------------------------------------
for m in */Cargo.toml; do
  grep -q '^\[package\]' "$m" || continue
  if grep -qE '^version *= *"' "$m"; then fail "$m sets its own version; use version.workspace = true"
  elif ! grep -q '^version.workspace = true' "$m"; then fail "$m: no version.workspace = true"; fi
done
ok "every crate uses the workspace version"

# --- the tag --------------------------------------------------------------
tag=$(env -u TAG bash -c '. scripts/lib/images.sh; image_tag')
if git rev-parse HEAD >/dev/null 2>&1; then
  [[ $tag == "$version-"$(git rev-parse --short=7 HEAD) ]] || fail "image_tag gave '$tag', expected $version-<short commit>"
fi
[ "$(TAG=x-1 bash -c '. scripts/lib/images.sh; image_tag')" = x-1 ] || fail "TAG does not override image_tag"
ok "image tag $tag"

tag_ok() { [ "$1" = "$version" ] || [[ $1 == "$version-"* ]]; }

# --- compose.yaml ----------------------------------------------------------
n=0
while read -r img; do
  name=${img#*\}/}; name=${name%%:*}
  default=${img##*:-}; default=${default%\}}
  [ -f "Containerfiles/$name.Containerfile" ] || fail "compose.yaml: image $img has no Containerfiles/$name.Containerfile"
  [ "$default" = "$version" ] || fail "compose.yaml: $img defaults to '$default', not the workspace version $version"
  n=$((n + 1))
done < <(grep -oE 'image: *\$\{REGISTRY:-localhost\}/[a-z0-9-]+:\$\{TAG:-[^}]*\}' compose.yaml | sed 's/^image: *//')
[ "$n" -gt 0 ] || fail "compose.yaml: no image of the form \${REGISTRY:-localhost}/<name>:\${TAG:-<version>}"
ok "compose.yaml: $n images default to $version"

# --- kustomize images: lists ------------------------------------------------
# Prints "short-name newName newTag" for each entry of a kustomization.
kimages() {
  awk '/^images:/ {on=1; next} /^[a-z]/ {on=0}
       on && /- name:/ {if (n) print n, nn, t; n=$0; sub(/.*name: */, "", n); gsub(/"/, "", n); sub(/.*\//, "", n); nn="-"; t="-"}
       on && /newName:/ {nn=$0; sub(/.*newName: */, "", nn)}
       on && /newTag:/ {t=$0; sub(/.*newTag: */, "", t); gsub(/"/, "", t)}
       END {if (n) print n, nn, t}' "$1"
}
is_ours() { [ -f "Containerfiles/$1.Containerfile" ]; }
for k in k8s/images/kustomization.yaml k8s/overlays/podman-portal/kustomization.yaml; do
  [ -f "$k" ] || continue
  while read -r n _ t; do
    is_ours "$n" || continue
    tag_ok "$t" || fail "$k: $n has tag '$t', not $version or $version-<commit>"
  done < <(kimages "$k")
  ok "$k: tags follow $version"
done

local_k=k8s/overlays/local/kustomization.yaml
if [ -f "$local_k" ]; then
  listed=()
  while read -r n nn t; do
    is_ours "$n" || { fail "$local_k: $n is not an image build-images.sh builds"; continue; }
    [ "$nn" = "localhost/$n" ] || fail "$local_k: $n is renamed to '$nn', build-images.sh tags localhost/$n"
    tag_ok "$t" || fail "$local_k: $n has tag '$t', not $version or $version-<commit>"
    listed+=("$n")
  done < <(kimages "$local_k")
  for n in "${names[@]}"; do
    [[ " ${listed[*]} " == *" $n "* ]] || fail "$local_k: no entry for $n (Containerfiles/$n.Containerfile)"
  done
  # Every image of ours in the render must never be pulled.
  rendered=$(kubectl kustomize k8s/overlays/local) || { fail "kubectl kustomize k8s/overlays/local"; rendered=""; }
  bad=$(awk '/^ *(- )?image: localhost\// {img=$NF; want=1; next}
             want && /imagePullPolicy:/ {if ($NF != "Never") print img; want=0; next}
             want && /^ *- / {print img; want=0}' <<<"$rendered")
  [ -z "$bad" ] || fail "$local_k: not imagePullPolicy Never: $bad"
  nrendered=$(grep -cE '^ *(- )?image: localhost/' <<<"$rendered" || true)
  [ "$nrendered" -gt 0 ] || fail "$local_k: renders no localhost/ image"
  ok "$local_k: ${#listed[@]} images, $nrendered containers, all imagePullPolicy Never"
else
  fail "$local_k missing"
fi

# --- kind ---------------------------------------------------------------------
kind_cfg=k8s/kind/cluster.yaml
ports=$(grep -rhoE 'nodePort: *[0-9]+' k8s --include='*.yaml' | grep -oE '[0-9]+' | sort -u)
for p in $ports; do
  grep -qE "containerPort: *$p\b" "$kind_cfg" || fail "$kind_cfg: nodePort $p is not mapped to the host"
done
ok "$kind_cfg maps nodePorts $(echo $ports)"

# --- Containerfiles -----------------------------------------------------------
shared() { sed -n '/^ARG RUST_IMAGE=/,/^# 4\. runtime/p' "$1"; }
ref_file=Containerfiles/${names[0]}.Containerfile
[ "$(shared "$ref_file" | wc -l)" -gt 20 ] || fail "$ref_file: no shared build stages (ARG RUST_IMAGE= ... # 4. runtime)"
for n in "${names[@]}"; do
  f=Containerfiles/$n.Containerfile
  cmp -s <(shared "$ref_file") <(shared "$f") || fail "$f: build stages differ from $ref_file (they must be identical)"
  for l in 'version="${VERSION}"' 'revision="${REVISION}"' 'created="${CREATED}"'; do
    grep -qF "org.opencontainers.image.$l" "$f" || fail "$f: no label org.opencontainers.image.$l"
  done
done
for a in 'VERSION=$tag' 'REVISION=$revision' 'CREATED=$created'; do
  grep -qF -- "--build-arg \"$a\"" scripts/build-images.sh || fail "scripts/build-images.sh does not pass --build-arg $a"
done
ok "${#names[@]} Containerfiles: one shared build, version/revision/created labels"

# --- placeholder URL ----------------------------------------------------------
if git rev-parse HEAD >/dev/null 2>&1; then
  hits=$(git grep -l 'github.com/example' -- . ':!scripts/check-versions.sh' || true)
  [ -z "$hits" ] || fail "placeholder URL github.com/example in: $hits"
  ok "no placeholder source URL"
fi

if [ "$failures" -gt 0 ]; then
  echo "check-versions: $failures failure(s)" >&2
  exit 1
fi
echo "==> one version: all agree"
