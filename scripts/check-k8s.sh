#!/usr/bin/env bash
# Static checks of the Kubernetes manifests in k8s/. No cluster needed.
#
#   scripts/check-k8s.sh
#
# 1. Renders every entry point with `kubectl kustomize`: k8s/, each system,
#    each overlay, and every opt-in component switched on alone on top of all
#    three systems (all components together: k8s/overlays/all-components).
# 2. Validates every rendered object strictly (unknown fields are errors)
#    against the JSON schemas of Kubernetes $K8S_VERSION (kubernetes-validate,
#    schemas bundled, works offline).
# 3. Runs yamllint (.yamllint) over the sources and the rendered output.
# 4. Runs scripts/k8s_consistency.py over every render: URLs name existing
#    Services and ports, selectors match pods, ports and probe paths match
#    the binaries, NodePorts are unique, every container is hardened. When
#    the binaries are built (target/debug, or $K8S_CHECK_BINARIES), each is
#    started on 127.0.0.1 and its probe paths are requested for real.
# 5. Proves the consistency checker still catches known mistakes (it is run
#    on deliberately broken copies of a render and must fail each one).
#
# Python tools are installed into a virtualenv ($K8S_VENV, default .venv-k8s)
# on first use. Needs python3 (3.9+) and kubectl (any version with kustomize
# built in, 1.27+). Exits non-zero if anything fails; prints a summary.
#
# Environment:
#   K8S_VERSION         Kubernetes version to validate against (default 1.34.0)
#   K8S_VENV            virtualenv for the Python tools (default .venv-k8s)
#   K8S_CHECK_BINARIES  directory of built service binaries to probe live
#                       (default target/debug if it exists; "none" to skip)
#   K8S_REQUIRE_BINARIES=1  a service binary missing from that directory is a
#                       failure (for CI, after `cargo build --workspace`)
#   K8S_RENDER_DIR      keep the rendered YAML here (default: a temp dir)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.34.0}"
KUBERNETES_VALIDATE_VERSION="1.37.0"
YAMLLINT_VERSION="1.38.0"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="${K8S_VENV:-.venv-k8s}"

declare -a results=()
failed=0
record() { # record STATUS STEP DETAIL
    results+=("$(printf '%-4s %-34s %s' "$1" "$2" "$3")")
    if [[ "$1" != "ok" ]]; then failed=1; fi
}
section() { printf '\n==== %s\n' "$*"; }

# --- tools ------------------------------------------------------------------
section "tools"
if ! command -v kubectl >/dev/null 2>&1; then
    echo "kubectl not found: install it (it ships kustomize as 'kubectl kustomize')" >&2
    exit 2
fi
kubectl version --client 2>/dev/null | sed 's/^/  /'
if ! "$venv/bin/python" -c 'import kubernetes_validate, yamllint, yaml' >/dev/null 2>&1; then
    echo "  installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and yamllint $YAMLLINT_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "yamllint==$YAMLLINT_VERSION"
fi
echo "  kubernetes-validate $("$venv/bin/pip" show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p'), $("$venv/bin/yamllint" --version)"

# --- render -----------------------------------------------------------------
section "render (kubectl kustomize)"
if [[ -n "${K8S_RENDER_DIR:-}" ]]; then
    out="$K8S_RENDER_DIR"
    mkdir -p "$out"
    rm -f "$out"/*.yaml
else
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi

# Entry points that exist in the repository.
declare -a entries=(k8s)
for d in k8s/*/; do
    d="${d%/}"
    case "$(basename "$d")" in components | overlays | images) continue ;; esac
    [[ -f "$d/kustomization.yaml" ]] && entries+=("$d")
done
for d in k8s/overlays/*/; do
    [[ -f "${d}kustomization.yaml" ]] && entries+=("${d%/}")
done
# Each application coupling on its own too (k8s/app-coupling renders all four).
for d in k8s/app-coupling/*/; do
    [[ -f "${d}kustomization.yaml" ]] && entries+=("${d%/}")
done

# Each component alone on top of the three systems, from a throwaway overlay
# outside the repository (kustomize wants relative paths).
declare -a systems=()
for s in "${entries[@]}"; do
    # (the app couplings are alternatives of one demo, not a system: the
    # components target the systems' workloads)
    case "$s" in k8s | k8s/overlays/* | k8s/app-coupling*) ;; *) systems+=("${s#k8s/}") ;; esac
done
scratch="$out/overlays"
for c in k8s/components/*/; do
    c="${c%/}"
    name="$(basename "$c")"
    dir="$scratch/component-$name"
    mkdir -p "$dir"
    rel="$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$repo/k8s" "$dir")"
    {
        echo "apiVersion: kustomize.config.k8s.io/v1beta1"
        echo "kind: Kustomization"
        echo "resources:"
        for s in "${systems[@]}"; do echo "  - $rel/$s"; done
        echo "components:"
        echo "  - $rel/components/$name"
    } >"$dir/kustomization.yaml"
    entries+=("$dir")
done

declare -a rendered=()
for e in "${entries[@]}"; do
    case "$e" in
        "$scratch"/*) label="component:${e##*/component-}" ;;
        *) label="$e" ;;
    esac
    file="$out/$(echo "$label" | tr '/:' '__').yaml"
    if kubectl kustomize "$e" >"$file" 2>"$file.err"; then
        n="$(grep -c '^kind:' "$file" || true)"
        printf '  ok   %-40s %3s objects\n' "$label" "$n"
        rendered+=("$label=$file")
        record ok "render $label" "$n objects"
    else
        printf '  FAIL %-40s\n' "$label"
        sed 's/^/       /' "$file.err"
        record FAIL "render $label" "$(head -c 200 "$file.err" | tr '\n' ' ')"
    fi
    rm -f "$file.err"
done

# --- schema validation ------------------------------------------------------
section "schema validation (strict, Kubernetes $K8S_VERSION)"
for item in "${rendered[@]}"; do
    label="${item%%=*}"
    file="${item#*=}"
    if log="$("$venv/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$file" 2>&1)"; then
        printf '  ok   %s\n' "$label"
        record ok "schema $label" "strict, $K8S_VERSION"
    else
        printf '  FAIL %s\n' "$label"
        echo "$log" | grep -v '^INFO' | sed 's/^/       /'
        record FAIL "schema $label" "$(echo "$log" | grep -c '^ERROR' || true) errors"
    fi
done

# --- yamllint ---------------------------------------------------------------
section "yamllint (.yamllint)"
if "$venv/bin/yamllint" --strict -c .yamllint .yamllint k8s "$out"; then
    echo "  ok   sources and renders"
    record ok "yamllint" "k8s/ and every render"
else
    record FAIL "yamllint" "see above"
fi

# --- consistency ------------------------------------------------------------
section "consistency (scripts/k8s_consistency.py)"
bins="${K8S_CHECK_BINARIES:-}"
if [[ -z "$bins" && -d target/debug ]]; then bins="target/debug"; fi
declare -a extra=(--repo .)
if [[ -n "$bins" && "$bins" != "none" ]]; then extra+=(--binaries "$bins"); fi
if [[ "${K8S_REQUIRE_BINARIES:-0}" == "1" ]]; then extra+=(--require-binaries); fi
for item in "${rendered[@]}"; do
    case "${item%%=*}" in *podman*) extra+=(--podman "${item%%=*}") ;; esac
done
if "$venv/bin/python" scripts/k8s_consistency.py "${extra[@]}" "${rendered[@]}"; then
    record ok "consistency" "every render${bins:+, live probes from $bins}"
else
    record FAIL "consistency" "see FAIL lines above"
fi

# --- the checker catches what it claims to ----------------------------------
section "consistency checker self-test"
all="$out/k8s_overlays_all-components.yaml"
if [[ -f "$all" ]] && "$venv/bin/python" scripts/k8s_consistency.py --self-test "$all"; then
    record ok "checker self-test" "every planted mistake caught"
else
    record FAIL "checker self-test" "a planted mistake went unnoticed (or no render)"
fi

# --- summary ----------------------------------------------------------------
section "summary"
printf '%s\n' "${results[@]}"
if [[ "$failed" -ne 0 ]]; then
    echo
    echo "check-k8s: FAILED"
    exit 1
fi
echo
echo "check-k8s: all ${#results[@]} steps passed (${#rendered[@]} renders, Kubernetes $K8S_VERSION)"
