#!/usr/bin/env bash
# CI smoke test of the application couplings through real containers:
#
#   1. the one-pod coupling as Kubernetes describes it, under `podman kube
#      play` (k8s/app-coupling/one-pod through k8s/overlays/podman-appcoup):
#      generator and echo share an emptyDir; echo's /data on 127.0.0.1:8000
#      grows with valid numbers and `/` lists the file;
#   2. the one-image coupling as a plain container: /data grows, and `podman
#      stop` (SIGTERM to the supervisor, forwarded to both programs) ends it
#      with exit code 0; killing the echo process inside makes the container
#      exit 1;
#   3. each compose profile (app-one-image, app-shared-volume, app-service):
#      /data on 127.0.0.1:8000 grows with valid numbers.
# Tears everything down, also on failure, and prints the containers' logs when
# a check fails. Prints how long each step took.
#
# Needs: podman, kubectl (kustomize), podman-compose (or COMPOSE). The images
# localhost/{generator,echo,appcoup}:$TAG (default 0.1.0) are built with
# scripts/build-images.sh when missing (BUILD=1: always).
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG=${TAG:-0.1.0}
export TAG
if [ -z "${COMPOSE:-}" ]; then
  if [ -x .venv-compose/bin/podman-compose ]; then COMPOSE=.venv-compose/bin/podman-compose; else COMPOSE=podman-compose; fi
fi
read -r -a compose <<<"$COMPOSE"
PROJECT=appcoup-smoke
URL=http://127.0.0.1:8000
work=$(mktemp -d)
pod_yaml="$work/appcoup-pod.yaml"
started=$(date +%s)

say() { printf '\n== appcoup-smoke: %s (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
dc() { "${compose[@]}" -p "$PROJECT" -f compose.yaml "$@"; }
dumped=""
dump() {
  dumped=1
  echo
  echo "################ appcoup-smoke FAILED: $* ################"
  podman ps -a --format '{{.Names}}\t{{.Status}}' | grep -E 'appcoup|generator|echo' || true
  for c in $(podman ps -a -q --filter name=appcoup --filter name=generator --filter name=echo); do
    echo "---------------- logs: $(podman inspect --format '{{.Name}}' "$c") (last 40 lines) ----------------"
    podman logs --tail 40 "$c" 2>&1 || true
  done
}
fail() { dump "$*"; exit 1; }
cleanup() {
  podman kube play --down "$pod_yaml" >/dev/null 2>&1 || true
  podman rm -f -t 2 appcoup-smoke-one-image >/dev/null 2>&1 || true
  for p in app-one-image app-shared-volume app-service; do
    dc --profile "$p" down -v -t 5 >/dev/null 2>&1 || true
  done
}
teardown() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -z "$dumped" ]; then dump "exit status $rc"; fi
  say "tearing down"
  cleanup
  rm -rf "$work"
}

# numbers_grow WHAT: /data must become non-empty, then grow, every line a
# number in 0..32767, and the earlier text must stay a prefix (appends only).
numbers_grow() {
  local what=$1 first="" now=""
  for _ in $(seq 1 60); do
    first=$(curl -fsS "$URL/data" 2>/dev/null) && [ -n "$first" ] && break
    first=""; sleep 1
  done
  [ -n "$first" ] || fail "$what: $URL/data stayed empty or unreachable for 60s"
  for _ in $(seq 1 30); do
    now=$(curl -fsS "$URL/data" 2>/dev/null) || now=""
    [ "$(printf '%s' "$now" | wc -l)" -gt "$(printf '%s' "$first" | wc -l)" ] && break
    sleep 1
  done
  python3 - "$what" "$first" "$now" <<'PY' || fail "$what: /data is not a growing list of numbers"
import sys
what, first, now = sys.argv[1:]
assert now.startswith(first), "earlier numbers changed"
lines = now.splitlines()
assert len(lines) > len(first.splitlines()), "no new number"
assert all(l.isdigit() and 0 <= int(l) <= 32767 for l in lines), lines
print(f"  ok: {what}: {len(first.splitlines())} -> {len(lines)} numbers, all in 0..32767")
PY
}

# `podman kube play` builds its pause image around catatonit, which Debian
# only recommends (tini or dumb-init satisfy the recommendation instead).
if ! command -v catatonit >/dev/null 2>&1 && [ ! -x /usr/libexec/podman/catatonit ]; then
  say "installing catatonit (podman's pause process)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq catatonit >/dev/null
fi

# Compose services find each other by name (echo fetches
# http://generator/data). With podman's CNI network backend (Debian 12's
# podman 4.3) that takes the dnsname plugin, which podman does not pull in.
if [ "$(podman info --format '{{.Host.NetworkBackend}}')" = cni ] \
  && [ ! -e /usr/lib/cni/dnsname ] && [ ! -e /usr/libexec/cni/dnsname ]; then
  say "installing the CNI dnsname plugin (container names in DNS)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-github-containernetworking-plugin-dnsname >/dev/null
fi

# Build what is missing (after the CI image build, the shared build stages
# come from the layer cache and this takes seconds); BUILD=1 rebuilds all.
missing=()
for i in generator echo appcoup; do
  if [ -n "${BUILD:-}" ] || ! podman image exists "localhost/$i:$TAG"; then missing+=("$i"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "building ${missing[*]}"
  scripts/build-images.sh "${missing[@]}"
fi
trap teardown EXIT
cleanup

# --- 1. one pod ---------------------------------------------------------------
say "one pod: podman kube play k8s/overlays/podman-appcoup"
kubectl kustomize k8s/overlays/podman-appcoup >"$pod_yaml"
podman kube play "$pod_yaml" >/dev/null
numbers_grow "one pod (shared emptyDir)"
curl -fsS "$URL/" | grep -q '<a href="data">data</a>' || fail "one pod: / does not list data"
podman kube play --down "$pod_yaml" >/dev/null

# --- 2. one image -------------------------------------------------------------
say "one image: the supervisor in a read-only container"
podman run -d --name appcoup-smoke-one-image --read-only -e INTERVAL=500ms \
  -p 127.0.0.1:8000:8000 "localhost/appcoup:$TAG" >/dev/null
numbers_grow "one image"
podman healthcheck run appcoup-smoke-one-image >/dev/null || fail "one image: HEALTHCHECK (appcoup healthcheck) failed"
podman stop -t 20 appcoup-smoke-one-image >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' appcoup-smoke-one-image)
podman logs appcoup-smoke-one-image 2>&1 | grep -c 'SIGTERM received' | grep -qx 2 \
  || fail "one image: the children did not both log SIGTERM"
[ "$code" = 0 ] || fail "one image: exit code $code after SIGTERM (want 0)"
echo "  ok: SIGTERM forwarded to both programs, exit code 0"
podman start appcoup-smoke-one-image >/dev/null
for _ in $(seq 1 30); do curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null && break; sleep 1; done
# The images have no shell or kill: signal echo's process from the host.
echo_pid=$(podman top appcoup-smoke-one-image hpid args | awk '$2 ~ /\/echo$/ {print $1}' | head -n 1)
[ -n "$echo_pid" ] || fail "one image: no echo process in the container"
kill -KILL "$echo_pid"
for _ in $(seq 1 20); do
  [ "$(podman inspect --format '{{.State.Status}}' appcoup-smoke-one-image)" = exited ] && break
  sleep 1
done
code=$(podman inspect --format '{{.State.ExitCode}}' appcoup-smoke-one-image)
[ "$code" = 1 ] || fail "one image: exit code $code after echo died (want 1)"
echo "  ok: echo killed -> the container exited 1 (the kubelet would restart it)"
podman rm -f appcoup-smoke-one-image >/dev/null

# --- 3. compose profiles ------------------------------------------------------
# Services without a profile (the three systems) would start too: name the
# profile's services.
declare -A profile_services=(
  [app-one-image]="appcoup"
  [app-shared-volume]="generator-shared echo-shared"
  [app-service]="generator echo"
)
for p in app-one-image app-shared-volume app-service; do
  say "compose --profile $p"
  read -r -a svcs <<<"${profile_services[$p]}"
  INTERVAL=500ms dc --profile "$p" up -d "${svcs[@]}" >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose $p up"; }
  numbers_grow "compose $p"
  dc --profile "$p" down -v -t 5 >/dev/null 2>&1
done

say "PASSED"
