#!/usr/bin/env bash
# CI smoke test of the portal pod as Kubernetes describes it, run by
# `podman kube play`: one pod with portal-model, portal-controller and
# MongoDB talking over localhost (k8s/portal, through the podman overlay
# k8s/overlays/podman-portal). Drives the pod through its published ports:
#   - the JSON API creates a tool and reads it back (model -> MongoDB over
#     the pod's localhost);
#   - the page (the View) loads and points at /controller/ on its own origin
#     (CONTROLLER_MODE=proxy);
#   - the Model serves the Controller's script and stylesheet there, fetched
#     from the Controller over the pod's localhost (identical bytes), and the
#     Controller still serves them itself on port 30100 (for the direct
#     mode).
# Tears the pod down afterwards, also on failure; prints the pod's container
# logs when a check fails.
#
# Needs: podman, kubectl (for kustomize), the images localhost/portal-model,
# localhost/portal-controller (scripts/build-images.sh) and
# docker.io/library/mongo:8.0 (real, or scripts/ci/make-standin-images.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
pod_yaml="$work/portal-pod.yaml"
MODEL=http://127.0.0.1:30000
CONTROLLER=http://127.0.0.1:30100

say() { printf '\n== portal-pod-smoke: %s\n' "$*"; }
dumped=""
dump() {
  dumped=1
  echo
  echo "################ portal-pod-smoke FAILED: $* ################"
  podman pod ps || true
  podman ps -a --filter "label=app=tool-portal" --format '{{.Names}}\t{{.Status}}' || true
  for c in $(podman ps -a -q --filter "label=app=tool-portal"); do
    echo "---------------- logs: $(podman inspect --format '{{.Name}}' "$c") (last 60 lines) ----------------"
    podman logs --tail 60 "$c" 2>&1 || true
  done
}
fail() { dump "$*"; exit 1; }
teardown() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -z "$dumped" ]; then dump "exit status $rc"; fi
  say "tearing down"
  podman kube play --down "$pod_yaml" >/dev/null 2>&1 || true
  rm -rf "$work"
}

say "rendering k8s/overlays/podman-portal"
kubectl kustomize k8s/overlays/podman-portal >"$pod_yaml"
trap teardown EXIT
podman kube play --down "$pod_yaml" >/dev/null 2>&1 || true
say "podman kube play"
podman kube play "$pod_yaml"

say "waiting for the model to be ready (MongoDB reached over localhost)"
ready=""
for _ in $(seq 1 90); do
  if curl -fsS -o /dev/null "$MODEL/readyz" 2>/dev/null && curl -fsS -o /dev/null "$CONTROLLER/readyz" 2>/dev/null; then
    ready=1; break
  fi
  sleep 1
done
[ -n "$ready" ] || fail "model or controller not ready within 90s"

say "API: create a tool, read it back"
name="pod-smoke-$$"
body=$(printf '{"name":"%s","url":"https://example.com/%s","description":"podman kube play smoke test","tags":["smoke","pod"]}' "$name" "$name")
created=$(curl -fsS -H 'content-type: application/json' -d "$body" "$MODEL/api/tools") || fail "POST /api/tools"
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$created") || fail "no id in: $created"
got=$(curl -fsS "$MODEL/api/tools/$id") || fail "GET /api/tools/$id"
echo "$got" | grep -q "\"name\":\"$name\"" || fail "read back: $got"
curl -fsS "$MODEL/api/tools?q=$name" | grep -q "$id" || fail "search ?q=$name"
echo "  ok: $got"

say "page and Controller"
page=$(curl -fsS "$MODEL/") || fail "GET /"
echo "$page" | grep -qi '<html' || fail "page is not HTML"
echo "$page" | grep -q '"controllerUrl":"/controller"' || fail "page does not load the Controller from /controller on its own origin"
for file in portal.js portal.css; do
  via_model=$(curl -fsS "$MODEL/controller/$file") || fail "GET $MODEL/controller/$file (through the pod's localhost)"
  direct=$(curl -fsS "$CONTROLLER/$file") || fail "GET $CONTROLLER/$file"
  [ "$via_model" = "$direct" ] || fail "$file through the Model differs from the Controller's"
done
echo "  ok: page loads; portal.js and portal.css served through the Model's origin and by the Controller"

say "PASSED"
