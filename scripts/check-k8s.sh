#!/usr/bin/env bash
# Static checks of the Kubernetes manifests in k8s/. No cluster needed.
#
#   scripts/check-k8s.sh
#
# 1. Renders every entry point with `kubectl kustomize`: k8s/, each system,
#    each overlay, and every (system x component) combination: each opt-in
#    component on top of each system alone, and on top of all systems. The
#    systems are read from the `resources:` of k8s/kustomization.yaml, so a
#    new system directory listed there is covered without changing this
#    script. A component with per-system parts (components/<c>/<system>/) is
#    combined with the part for that system, and is "n/a" for a system it
#    has no part for; a component without parts is combined as it is, and is
#    "n/a" where it changes nothing in the render.
# 2. Validates every rendered object strictly (unknown fields are errors)
#    against the JSON schemas of the minimum Kubernetes version we support
#    ($K8S_MIN_VERSION, 1.30: the preStop `sleep` action) and of the newest
#    version kubernetes-validate knows. Anything that needs a newer API than
#    the minimum fails. Objects of Custom Resource kinds (the monitoring
#    component's PodMonitors) have no bundled schema: scripts/k8s_consistency.py
#    validates them against scripts/schemas/ instead; any other kind without
#    a schema fails. A self-test proves the gate refuses a field newer than
#    the minimum.
# 3. Runs yamllint (.yamllint) over the sources and the rendered output.
# 4. Runs checkov over every render: the hardening every container needs
#    (non-root, no privilege escalation, read-only root file system, all
#    capabilities dropped, seccomp, no host namespaces, no service account
#    token, requests and limits, probes, pinned image tags). The checks that
#    do not apply here are skipped in .checkov.yaml, each with its reason.
#    The same run applies this project's conventions, YAML policies in
#    scripts/checkov-policies/: runAsNonRoot, the recommended labels, images
#    with a registry, MySQL's subPath, and what the seeds fix.
# 5. Runs scripts/k8s_consistency.py over every render: what only this
#    project knows, across objects. URLs name existing Services and ports,
#    selectors match pods, CONTROLLER_PORT is the controller's nodePort,
#    grace periods cover preStop + drain, scrape annotations and PodMonitors
#    name real /metrics ports. When the binaries are built (target/debug, or
#    $K8S_CHECK_BINARIES), each is asked `describe` (its port and probe
#    paths), started on 127.0.0.1, and every path the manifests name is
#    requested for real.
# 6. Proves the checks still catch known mistakes: each mistake of
#    scripts/k8s-planted-mistakes.yaml, planted in a copy of a render, must
#    fail in the tool it names (k8s_consistency.py, or a checkov check or
#    policy).
#
# Python tools are installed into a virtualenv ($K8S_VENV, default .venv-k8s)
# on first use. Needs python3 (3.9+) and kubectl (any version with kustomize
# built in, 1.27+). Exits non-zero if anything fails; prints a summary.
#
# Environment:
#   K8S_MIN_VERSION     oldest Kubernetes version to validate against
#                       (default 1.30.0, the documented minimum)
#   K8S_NEWEST_VERSION  newest version to validate against (default: the
#                       newest schema kubernetes-validate bundles)
#   K8S_VENV            virtualenv for the Python tools (default .venv-k8s)
#   K8S_CHECK_BINARIES  directory of built service binaries to probe live
#                       (default target/debug if it exists; "none" to skip)
#   K8S_REQUIRE_BINARIES=1  a service binary missing from that directory is a
#                       failure (for CI, after `cargo build --workspace`)
#   K8S_RENDER_DIR      keep the rendered YAML here (default: a temp dir)
set -euo pipefail

K8S_MIN_VERSION="${K8S_MIN_VERSION:-1.30.0}"
# Custom Resource kinds kubernetes-validate has no schema for; validated by
# scripts/k8s_consistency.py against scripts/schemas/ instead.
CRD_KINDS="PodMonitor"
KUBERNETES_VALIDATE_VERSION="1.37.0"
YAMLLINT_VERSION="1.38.0"
CHECKOV_VERSION="3.3.30"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="${K8S_VENV:-.venv-k8s}"

declare -a results=()
failed=0
record() { # record STATUS STEP DETAIL
    results+=("$(printf '%-4s %-34s %s' "$1" "$2" "$3")")
    if [[ "$1" != "ok" ]]; then failed=1; fi
}
section() { printf '\n==== %s (at %ss)\n' "$*" "$SECONDS"; }

# --- tools ------------------------------------------------------------------
section "tools"
if ! command -v kubectl >/dev/null 2>&1; then
    echo "kubectl not found: install it (it ships kustomize as 'kubectl kustomize')" >&2
    exit 2
fi
kubectl version --client 2>/dev/null | sed 's/^/  /'
# The installed versions, read without starting the tools (checkov takes
# seconds to start).
versions() {
    "$venv/bin/python" -c 'from importlib.metadata import version as v
print(v("kubernetes-validate"), v("yamllint"), v("checkov"))' 2>/dev/null
}
if [[ "$(versions)" != "$KUBERNETES_VALIDATE_VERSION $YAMLLINT_VERSION $CHECKOV_VERSION" ]]; then
    echo "  installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION, yamllint $YAMLLINT_VERSION and checkov $CHECKOV_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "yamllint==$YAMLLINT_VERSION" "checkov==$CHECKOV_VERSION"
fi
read -r kv yl ck < <(versions)
echo "  kubernetes-validate $kv, yamllint $yl, checkov $ck"

# --- render -----------------------------------------------------------------
section "render (kubectl kustomize)"
if [[ -n "${K8S_RENDER_DIR:-}" ]]; then
    out="$K8S_RENDER_DIR"
    mkdir -p "$out"
    rm -rf "${out:?}"/*.yaml "${out:?}/overlays"
else
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi

# The systems: what k8s/kustomization.yaml lists as resources.
mapfile -t systems < <("$venv/bin/python" - <<'PY'
import os, yaml
with open("k8s/kustomization.yaml", encoding="utf-8") as f:
    doc = yaml.safe_load(f)
for r in doc.get("resources") or []:
    if os.path.isfile(os.path.join("k8s", r, "kustomization.yaml")):
        print(r)
PY
)
if [[ "${#systems[@]}" -eq 0 ]]; then
    echo "no systems found in k8s/kustomization.yaml" >&2
    exit 2
fi
echo "  systems (from k8s/kustomization.yaml): ${systems[*]}"

declare -a rendered=()
declare -A matrix=()
rfile=""
render() { # render LABEL DIR: sets $rfile to the output; records the result
    local label="$1" dir="$2" file n
    file="$out/$(echo "$label" | tr '/:+' '___').yaml"
    if kubectl kustomize "$dir" >"$file" 2>"$file.err"; then
        n="$(grep -c '^kind:' "$file" || true)"
        printf '  ok   %-44s %3s objects\n' "$label" "$n"
        record ok "render $label" "$n objects"
        rm -f "$file.err"
        rfile="$file"
    else
        printf '  FAIL %-44s\n' "$label"
        sed 's/^/       /' "$file.err"
        record FAIL "render $label" "$(head -c 200 "$file.err" | tr '\n' ' ')"
        rm -f "$file.err" "$file"
        return 1
    fi
}
# A throwaway kustomization outside the repository (kustomize wants
# relative paths): overlay DIR RESOURCE... -- COMPONENT...
overlay() {
    local dir="$1" rel item in_components=0
    shift
    mkdir -p "$dir"
    rel="$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$repo/k8s" "$dir")"
    {
        echo "apiVersion: kustomize.config.k8s.io/v1beta1"
        echo "kind: Kustomization"
        echo "resources:"
        for item in "$@"; do
            if [[ "$item" == "--" ]]; then
                in_components=1
                echo "components:"
            elif [[ "$in_components" -eq 0 ]]; then
                echo "  - $rel/$item"
            else
                echo "  - $rel/$item"
            fi
        done
    } >"$dir/kustomization.yaml"
}

# Entry points that exist in the repository: k8s/, each system, each overlay.
declare -A system_file=()
if render k8s k8s; then f="$rfile"; rendered+=("k8s=$f"); fi
for s in "${systems[@]}"; do
    if render "k8s/$s" "k8s/$s"; then f="$rfile";
        rendered+=("k8s/$s=$f")
        system_file[$s]="$f"
    fi
done
for d in k8s/overlays/*/; do
    d="${d%/}"
    [[ -f "$d/kustomization.yaml" ]] || continue
    if render "$d" "$d"; then f="$rfile"; rendered+=("$d=$f"); fi
done
# Demos deployed several ways, kept out of k8s/kustomization.yaml because
# their variants are alternatives (k8s/app-coupling: the same two programs,
# coupled four ways): the whole directory, and each variant on its own. The
# components target the systems' workloads, so they are not applied here.
for d in k8s/app-coupling; do
    [[ -f "$d/kustomization.yaml" ]] || continue
    if render "$d" "$d"; then f="$rfile"; rendered+=("$d=$f"); fi
    for v in "$d"/*/; do
        v="${v%/}"
        [[ -f "$v/kustomization.yaml" ]] || continue
        if render "$v" "$v"; then f="$rfile"; rendered+=("$v=$f"); fi
    done
done

# Every component on every system alone, and on all systems together.
scratch="$out/overlays"
declare -a components=()
for c in k8s/components/*/; do
    c="${c%/}"
    [[ -f "$c/kustomization.yaml" ]] && components+=("$(basename "$c")")
done
for name in "${components[@]}"; do
    c="k8s/components/$name"
    per_system=0
    for sub in "$c"/*/; do
        [[ -f "${sub}kustomization.yaml" ]] || continue
        per_system=1
        part="$(basename "$sub")"
        if [[ ! " ${systems[*]} " == *" $part "* ]]; then
            echo "  FAIL components/$name/$part names no system in k8s/kustomization.yaml" >&2
            record FAIL "component $name/$part" "no such system"
        fi
    done
    for s in "${systems[@]}"; do
        label="$s+$name"
        if [[ "$per_system" -eq 1 && ! -f "$c/$s/kustomization.yaml" ]]; then
            matrix[$label]="n/a"
            continue
        fi
        part="components/$name"
        [[ "$per_system" -eq 1 ]] && part="components/$name/$s"
        overlay "$scratch/$s+$name" "$s" -- "$part"
        if render "$label" "$scratch/$s+$name"; then f="$rfile";
            if [[ "$per_system" -eq 0 && -n "${system_file[$s]:-}" ]] && cmp -s "$f" "${system_file[$s]}"; then
                # Nothing in this component applies to this system.
                matrix[$label]="n/a"
                rm -f "$f"
                continue
            fi
            matrix[$label]="ok"
            rendered+=("$label=$f")
        else
            matrix[$label]="FAIL"
        fi
    done
    label="all+$name"
    overlay "$scratch/all+$name" "${systems[@]}" -- "components/$name"
    if render "$label" "$scratch/all+$name"; then f="$rfile";
        matrix[$label]="ok"
        rendered+=("$label=$f")
    else
        matrix[$label]="FAIL"
    fi
done

echo
echo "  component x system (ok: renders; n/a: the component has nothing for that system)"
printf '    %-18s' "component"
for s in "${systems[@]}" all; do printf ' %-14s' "$s"; done
echo
for name in "${components[@]}"; do
    printf '    %-18s' "$name"
    for s in "${systems[@]}" all; do printf ' %-14s' "${matrix[$s+$name]:-?}"; done
    echo
done

# --- schema validation ------------------------------------------------------
newest="${K8S_NEWEST_VERSION:-$("$venv/bin/python" -c 'import kubernetes_validate.utils as u; print(u.latest_version())')}"
files=()
for item in "${rendered[@]}"; do files+=("${item#*=}"); done
for version in "$K8S_MIN_VERSION" "$newest"; do
    section "schema validation (strict, Kubernetes $version, ${#files[@]} renders)"
    status=0
    log="$("$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "${files[@]}" 2>&1)" || status=$?
    # A kind without a schema is only a warning to kubernetes-validate; here
    # it is a failure unless it is one of the Custom Resources checked
    # elsewhere.
    missing="$(echo "$log" | grep "Couldn't find schema" | grep -vE "for kind ($(echo "$CRD_KINDS" | tr ' ' '|')) " || true)"
    errors="$(echo "$log" | grep '^ERROR' || true)"
    if [[ "$status" -eq 0 && -z "$errors" && -z "$missing" ]]; then
        crd="$(echo "$log" | grep -c "Couldn't find schema" || true)"
        echo "  ok   every object of every render${crd:+ ($crd Custom Resources left to k8s_consistency.py and scripts/schemas)}"
        record ok "schema $version" "strict, ${#files[@]} renders"
    else
        printf '%s\n%s\n' "$errors" "$missing" | sed '/^$/d; s/^/  /'
        record FAIL "schema $version" "$(echo "$errors" | grep -c . || true) errors, $(echo "$missing" | grep -c . || true) unknown kinds"
    fi
done

# The gate must refuse what the minimum version does not have: a container
# lifecycle.stopSignal (Kubernetes 1.33) must fail at the minimum and pass at
# the newest version, so the failure is the version and not a typo.
section "version gate self-test"
gate="$out/gate-stopsignal.yaml"
cat >"$gate" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: needs-1-33
spec:
  containers:
    - name: app
      image: example.invalid/app:1
      lifecycle:
        stopSignal: SIGTERM
YAML
if ! "$venv/bin/kubernetes-validate" --strict --quiet -k "$K8S_MIN_VERSION" "$gate" >/dev/null 2>&1 &&
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$newest" "$gate" >/dev/null 2>&1; then
    echo "  ok   a 1.33 field fails at $K8S_MIN_VERSION and passes at $newest"
    record ok "version gate self-test" "refuses a 1.33 field at $K8S_MIN_VERSION"
else
    echo "  FAIL the gate did not refuse lifecycle.stopSignal at $K8S_MIN_VERSION (or refused it at $newest)"
    record FAIL "version gate self-test" "see above"
fi
rm -f "$gate"

# --- yamllint ---------------------------------------------------------------
section "yamllint (.yamllint)"
if "$venv/bin/yamllint" --strict -c .yamllint .yamllint .checkov.yaml k8s scripts/checkov-policies \
    scripts/k8s-planted-mistakes.yaml "$out"; then
    echo "  ok   sources, policies and renders"
    record ok "yamllint" "k8s/, the checkov policies and every render"
else
    record FAIL "yamllint" "see above"
fi

# --- hardening --------------------------------------------------------------
# checkov reads its options and the skip list from .checkov.yaml. The renders
# share most objects, and checkov's start-up and its per-object checks are
# what cost here, so each distinct object is scanned once: a copy of each
# render keeps only the objects no earlier render had. The podman renders
# drop liveness probes and add hostPorts on purpose (podman runs a liveness
# probe as a command inside the container, whose image has no shell or curl,
# and publishes only hostPorts): their objects carry checkov's own
# suppression annotations for those two checks, in the scanned copy only.
# k8s_consistency.py requires the liveness probes gone there, and
# CONTROLLER_PORT to be the controller's hostPort.
section "hardening and conventions (checkov $CHECKOV_VERSION, .checkov.yaml, scripts/checkov-policies)"
checkov_args=(--config-file .checkov.yaml --quiet --compact)
mkdir -p "$out/checkov"
mapfile -t scan < <("$venv/bin/python" - "$out/checkov" "${rendered[@]}" <<'PY'
import json, os, sys, yaml
PODMAN_SKIPS = {
    "checkov.io/skip1": "CKV_K8S_8=podman kube play runs liveness probes as commands in the container",
    "checkov.io/skip2": "CKV_K8S_26=podman kube play publishes only hostPorts",
}
seen = set()
for item in sys.argv[2:]:
    name, _, path = item.partition("=")
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
    if "podman" in name:
        for d in docs:
            d["metadata"].setdefault("annotations", {}).update(PODMAN_SKIPS)
    fresh = [d for d in docs if json.dumps(d, sort_keys=True) not in seen]
    seen |= {json.dumps(d, sort_keys=True) for d in fresh}
    if fresh:
        target = os.path.join(sys.argv[1], os.path.basename(path))
        with open(target, "w", encoding="utf-8") as f:
            yaml.safe_dump_all(fresh, f, sort_keys=False)
        print(target)
PY
)
declare -a scan_args=()
for f in "${scan[@]}"; do scan_args+=(--file "$f"); done
if "$venv/bin/checkov" "${checkov_args[@]}" "${scan_args[@]}"; then
    echo "  ok   every object of every render (${#scan[@]} renders hold objects no earlier one had)"
    record ok "hardening, conventions (checkov)" "${#rendered[@]} renders"
else
    record FAIL "hardening, conventions (checkov)" "see the failed checks above"
fi

# --- consistency ------------------------------------------------------------
section "consistency (scripts/k8s_consistency.py)"
bins="${K8S_CHECK_BINARIES:-}"
if [[ -z "$bins" && -d target/debug ]]; then bins="target/debug"; fi
declare -a extra=()
if [[ -n "$bins" && "$bins" != "none" ]]; then extra+=(--binaries "$bins"); fi
if [[ "${K8S_REQUIRE_BINARIES:-0}" == "1" ]]; then extra+=(--require-binaries); fi
declare -a podman=()
for item in "${rendered[@]}"; do
    case "${item%%=*}" in *podman*) podman+=(--podman "${item%%=*}") ;; esac
done
if "$venv/bin/python" scripts/k8s_consistency.py "${extra[@]}" "${podman[@]}" "${rendered[@]}"; then
    record ok "consistency" "every render${bins:+, binaries from $bins}"
else
    record FAIL "consistency" "see FAIL lines above"
fi

# --- the checks catch what they claim to ------------------------------------
section "self-test: planted mistakes (k8s_consistency.py and checkov)"
all="$out/k8s_overlays_all-components.yaml"
if [[ -f "$all" ]] && "$venv/bin/python" scripts/k8s_consistency.py "${extra[@]}" --self-test "$all" \
    --checkov "$venv/bin/checkov" "${checkov_args[@]}"; then
    record ok "self-test" "every planted mistake caught"
else
    record FAIL "self-test" "a planted mistake went unnoticed (or no render)"
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
echo "check-k8s: all ${#results[@]} steps passed (${#rendered[@]} renders, Kubernetes $K8S_MIN_VERSION and $newest)"
