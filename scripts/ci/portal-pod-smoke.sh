#!/usr/bin/env bash
# CI smoke test of the portal pod as Kubernetes describes it, run by
# `podman kube play`: one pod with portal-model, portal-controller and
# MongoDB talking over localhost (k8s/portal, through the podman overlay
# k8s/overlays/podman-portal). Drives the pod through its published ports:
#   - the JSON API creates a tool and reads it back (model -> MongoDB over
#     the pod's localhost);
#   - the page (the View) loads and points at the Controller on port 30100;
#   - the Controller serves the page's script and stylesheet.
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
echo "$page" | grep -q '30100' || fail "page does not point at the Controller's port 30100"
curl -fsS -o /dev/null "$CONTROLLER/portal.js" || fail "GET $CONTROLLER/portal.js"
curl -fsS -o /dev/null "$CONTROLLER/portal.css" || fail "GET $CONTROLLER/portal.css"
echo "  ok: page loads, portal.js and portal.css served"

say "PASSED"
