#!/usr/bin/env bash
# CI smoke test of the images and of compose.yaml, through the real containers.
#
#   1. builds every image (scripts/build-images.sh; PLATFORMS, default
#      linux/amd64,linux/arm64: both architectures, arm64 cross-compiled) and
#      checks each is <= MAX_IMAGE_MB (40) megabytes; compose.yaml then runs
#      with its default tag (the workspace version, which build-images.sh
#      also tags);
#   2. starts compose.yaml (all three systems) and waits until every
#      container's health check passes;
#   3. checks, from outside the containers:
#      - message chain: messages reach the sinks' log files (Sink_<ip>.txt)
#        through both relays (each relay's address appears as a sender in the
#        sinks' files, and both Relay_<ip>.txt files exist). podman's DNS
#        lists relay-svc's addresses in a fixed order, so all senders may
#        pick the same relay; then the test stops that relay (as deleting a
#        pod behind a Service would), checks that the senders fail over to
#        the other one, and starts it again;
#      - portal: the JSON API creates a tool and reads it back, also after
#        portal-model restarts (so it was in MongoDB, not in memory); the page
#        and the Controller's script load;
#      - to-do: GraphQL creates a list and an item and reads them back, also
#        after todo-backend restarts (so they were in MySQL); the board loads;
#      - voting: votes cast on vote reach result's tally through Redis, the
#        worker and PostgreSQL; a re-vote moves a vote without adding one;
#   4. tears everything down (containers, networks, volumes), also on failure.
# On failure it prints which check failed, the stack's state and the logs of
# the failing container(s), and exits non-zero.
#
# Base images: on CI machines without a registry, run
# scripts/ci/make-standin-images.sh first (see its header).
#
# Settings: ENGINE=podman|docker (default podman if present), COMPOSE (default
# podman-compose from .venv-compose/ or PATH, or "docker compose"),
# SKIP_BUILD=1 (use the images already built), PLATFORMS (for
# build-images.sh --platform; empty: this machine's only), KEEP=1 (leave the stack up),
# HEALTH_TIMEOUT (s, default 240), MAX_IMAGE_MB (default 40).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${ENGINE:-}" ]; then
  if command -v podman >/dev/null 2>&1; then ENGINE=podman; else ENGINE=docker; fi
fi
export ENGINE
if [ -z "${COMPOSE:-}" ]; then
  if [ "$ENGINE" = docker ]; then COMPOSE="docker compose"
  elif [ -x .venv-compose/bin/podman-compose ]; then COMPOSE=.venv-compose/bin/podman-compose
  else COMPOSE=podman-compose; fi
fi
read -r -a compose <<<"$COMPOSE"
PROJECT=${PROJECT:-k8s-smoke}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-240}
MAX_IMAGE_MB=${MAX_IMAGE_MB:-40}
# The compose services built from Containerfiles of ours.
SERVICES=(sender relay sink portal-model portal-controller todo-backend todo-frontend vote worker result)
PLATFORMS=${PLATFORMS-linux/amd64,linux/arm64}
. scripts/lib/images.sh
work=$(mktemp -d)
failed_ctr=""

say() { printf '\n== compose-smoke: %s\n' "$*"; }
dc() { "${compose[@]}" -p "$PROJECT" -f compose.yaml "$@"; }

# Container ids of this project, optionally of one service.
ctrs() {
  local filter=(--filter "label=com.docker.compose.project=$PROJECT")
  if [ -n "${1:-}" ]; then filter+=(--filter "label=com.docker.compose.service=$1"); fi
  "$ENGINE" ps -a -q "${filter[@]}"
}
ctr_name() { "$ENGINE" inspect --format '{{.Name}}' "$1" | sed 's#^/##'; }

dump() {
  echo
  echo "################ compose-smoke FAILED: $* ################"
  "$ENGINE" ps -a --filter "label=com.docker.compose.project=$PROJECT" \
    --format '{{.Names}}\t{{.Status}}' || true
  local ids
  if [ -n "$failed_ctr" ]; then ids=$failed_ctr; else ids=$(ctrs); fi
  for id in $ids; do
    echo "---------------- logs: $(ctr_name "$id") (last 60 lines) ----------------"
    "$ENGINE" logs --tail 60 "$id" 2>&1 || true
  done
}
fail() { dumped=1; dump "$*"; exit 1; }

teardown() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -z "${dumped:-}" ]; then dump "exit status $rc"; fi
  if [ -n "${KEEP:-}" ]; then
    say "KEEP set: stack left running (project $PROJECT)"
  else
    say "tearing down"
    dc down -v -t 5 >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}

# --- 0. the Containerfiles share their build stages --------------------------
# Stages 1-3 must stay identical in all Containerfiles, or the layer cache
# stops sharing them and the workspace compiles once per image.
# (That the Containerfiles' build stages are identical, and that every tag
# agrees with the workspace version, is checked by scripts/check-versions.sh
# in scripts/test.sh.)
HADOLINT=${HADOLINT:-$(command -v .venv-compose/bin/hadolint hadolint 2>/dev/null | head -n 1 || true)}
if [ -n "$HADOLINT" ]; then
  say "hadolint"
  "$HADOLINT" --no-color Containerfiles/*.Containerfile
  echo "  ok"
fi

# --- 1. images -----------------------------------------------------------
if [ -z "${SKIP_BUILD:-}" ]; then
  say "building every image"
  t0=$(date +%s)
  scripts/build-images.sh ${PLATFORMS:+--platform "$PLATFORMS"}
  say "image build took $(( $(date +%s) - t0 ))s"
fi
say "image sizes (limit ${MAX_IMAGE_MB} MB)"
too_big=0
for s in "${SERVICES[@]}"; do
  ref="${REGISTRY:-localhost}/$s:${TAG:-$(workspace_version)}"
  bytes=$("$ENGINE" image inspect --format '{{.Size}}' "$ref") || { echo "missing image $ref" >&2; exit 1; }
  mb=$(awk "BEGIN{printf \"%.1f\", $bytes/1000000}")
  printf '  %-40s %6s MB\n' "$ref" "$mb"
  if [ "$bytes" -gt $(( MAX_IMAGE_MB * 1000000 )) ]; then too_big=1; fi
done
[ "$too_big" -eq 0 ] || { echo "compose-smoke: an image is larger than ${MAX_IMAGE_MB} MB" >&2; exit 1; }

# --- 2. start the stack --------------------------------------------------
trap teardown EXIT
say "starting compose.yaml as project $PROJECT ($COMPOSE)"
dc down -v -t 5 >/dev/null 2>&1 || true
SEND_INTERVAL=1s dc up -d >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose up"; }

say "waiting for every container to be healthy (up to ${HEALTH_TIMEOUT}s)"
# podman runs health checks from systemd timers; where there is no systemd
# (CI containers) nothing schedules them, so this loop runs them itself.
# Either way the check that decides is the image's own health check command.
deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
while :; do
  pending=()
  for id in $(ctrs); do
    state=$("$ENGINE" inspect --format '{{.State.Status}}' "$id")
    health=$("$ENGINE" inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id" 2>/dev/null || echo none)
    if [ "$health" != healthy ] && [ "$state" = running ] && [ "$ENGINE" = podman ]; then
      podman healthcheck run "$id" >/dev/null 2>&1 || true
      health=$(podman inspect --format '{{.State.Health.Status}}' "$id" 2>/dev/null || echo none)
    fi
    [ "$health" = healthy ] || pending+=("$id")
  done
  [ "${#pending[@]}" -eq 0 ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    failed_ctr="${pending[*]}"
    fail "not healthy within ${HEALTH_TIMEOUT}s: $(for i in "${pending[@]}"; do ctr_name "$i"; done | tr '\n' ' ')"
  fi
  sleep 2
done
"$ENGINE" ps --filter "label=com.docker.compose.project=$PROJECT" --format '  {{.Names}}\t{{.Status}}'

# --- 3a. message chain -----------------------------------------------------
say "message chain: messages in the sinks' log files via both relays"
sink1=$(ctrs sink-1 | head -n 1)
ctr_ip() { "$ENGINE" inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$1" | awk '{print $1}'; }
# Relay addresses that appear as the sender of lines in the sinks' log files.
read_logs() {
  rm -rf "$work/logs"; mkdir -p "$work/logs"
  # The images have no shell: copy the shared log volume out through a container.
  "$ENGINE" cp "$sink1:/var/local/container/." "$work/logs/" >/dev/null 2>&1 || true
  cat "$work"/logs/Sink_*.txt 2>/dev/null \
    | sed -n 's/^From \([0-9a-f.:]*\) at .* : Message sent from .*/\1/p' | sort -u
}
wait_relays() { # N: wait until N distinct relays delivered into the sinks' files
  for _ in $(seq 1 45); do
    [ "$(read_logs | wc -l)" -ge "$1" ] && return 0
    sleep 2
  done
  return 1
}
wait_relays 1 || { failed_ctr="$(ctrs relay-1) $(ctrs relay-2) $sink1"; fail "chain: no message reached a sink's log file"; }
if [ "$(read_logs | wc -l)" -lt 2 ]; then
  # Senders keep their connection to the relay they first reached, and
  # podman's DNS answers relay-svc with the same address first every time, so
  # all senders may use one relay. Take that relay away, as deleting a pod
  # behind a Service would: the senders must fail over to the other one.
  busy=$(read_logs | head -n 1)
  for r in relay-1 relay-2; do
    id=$(ctrs "$r"); [ "$(ctr_ip "$id")" = "$busy" ] && busy_ctr=$id && busy_name=$r
  done
  [ -n "${busy_ctr:-}" ] || fail "chain: no relay container has address $busy"
  say "only $busy_name ($busy) carries traffic: stopping it to see the senders fail over"
  "$ENGINE" stop -t 15 "$busy_ctr" >/dev/null
  wait_relays 2 || { failed_ctr="$(ctrs relay-1) $(ctrs relay-2) $(ctrs sender-1)"; fail "chain: senders did not fail over to the other relay"; }
  "$ENGINE" start "$busy_ctr" >/dev/null
  for _ in $(seq 1 30); do
    [ "$ENGINE" = podman ] && podman healthcheck run "$busy_ctr" >/dev/null 2>&1 || true
    [ "$("$ENGINE" inspect --format '{{.State.Health.Status}}' "$busy_ctr")" = healthy ] && break
    sleep 1
  done
  [ "$("$ENGINE" inspect --format '{{.State.Health.Status}}' "$busy_ctr")" = healthy ] \
    || { failed_ctr=$busy_ctr; fail "chain: $busy_name not healthy again after its restart"; }
fi
relays=$(read_logs | tr '\n' ' ')
nrelay_files=$(find "$work/logs" -name 'Relay_*.txt' -size +0 | wc -l)
ls -l "$work/logs" | sed 's/^/  /'
for f in "$work"/logs/*.txt; do
  [ -e "$f" ] && printf '  %-24s %5s lines, last: %s\n' "$(basename "$f")" "$(wc -l <"$f")" "$(tail -n 1 "$f" | cut -c1-100)"
done
[ "$nrelay_files" -ge 2 ] || { failed_ctr="$(ctrs relay-1) $(ctrs relay-2)"; fail "chain: expected log files from 2 relays, found $nrelay_files"; }
echo "  ok: messages reached the sinks' log files via relays $relays"

# --- 3b. portal ------------------------------------------------------------
say "portal: a tool round-trips through MongoDB"
PORTAL=http://127.0.0.1:30000
name="smoke-tool-$$"
body=$(printf '{"name":"%s","url":"https://example.com/%s","description":"compose smoke test","tags":["smoke"]}' "$name" "$name")
curl -fsS -o "$work/created.json" -H 'content-type: application/json' -d "$body" "$PORTAL/api/tools" \
  || { failed_ctr="$(ctrs portal-model) $(ctrs mongo)"; fail "portal: POST /api/tools"; }
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/created.json")
echo "  created tool $id"
say "portal: restarting portal-model, then reading the tool back"
"$ENGINE" restart "$(ctrs portal-model)" >/dev/null
got=""
for _ in $(seq 1 30); do
  if got=$(curl -fsS "$PORTAL/api/tools/$id" 2>/dev/null) && [ -n "$got" ]; then break; fi
  got=""; sleep 1
done
echo "$got" | grep -q "\"name\":\"$name\"" \
  || { failed_ctr="$(ctrs portal-model) $(ctrs mongo)"; fail "portal: tool $id not read back after restart (got: ${got:-nothing})"; }
curl -fsS "$PORTAL/api/tools" | grep -q "$name" || { failed_ctr=$(ctrs portal-model); fail "portal: tool missing from the list"; }
curl -fsS "$PORTAL/" | grep -qi '<html' || { failed_ctr=$(ctrs portal-model); fail "portal: page"; }
curl -fsS -o /dev/null http://127.0.0.1:30100/portal.js || { failed_ctr=$(ctrs portal-controller); fail "portal: controller script"; }
# The page's one origin: the Model forwards the Controller's files.
curl -fsS -o /dev/null "$PORTAL/controller/portal.js" || { failed_ctr="$(ctrs portal-model) $(ctrs portal-controller)"; fail "portal: controller script through the Model"; }
echo "  ok: $got"

# --- 3c. to-do -------------------------------------------------------------
say "to-do: GraphQL creates a list and an item in MySQL and reads them back"
GQL=http://127.0.0.1:30301/graphql
gql() { # query -> response on stdout; fails on transport errors or GraphQL errors
  local payload
  payload=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1")
  local out
  out=$(curl -fsS -H 'content-type: application/json' -d "$payload" "$GQL") || return 1
  echo "$out"
  python3 -c 'import json,sys; sys.exit(1 if json.loads(sys.argv[1]).get("errors") else 0)' "$out"
}
list="smoke-list-$$"
out=$(gql "mutation { createList(name: \"$list\") { id name } }") \
  || { failed_ctr="$(ctrs todo-backend) $(ctrs mysql)"; fail "to-do: createList: $out"; }
list_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["createList"]["id"])' "$out")
out=$(gql "mutation { createItem(input: {listId: $list_id, name: \"smoke-item\"}) { id name } }") \
  || { failed_ctr="$(ctrs todo-backend) $(ctrs mysql)"; fail "to-do: createItem: $out"; }
echo "  created list $list_id with an item"
say "to-do: restarting todo-backend, then reading the list back"
"$ENGINE" restart "$(ctrs todo-backend)" >/dev/null
out=""
for _ in $(seq 1 30); do
  if out=$(gql '{ lists { id name items { name } } }' 2>/dev/null); then break; fi
  out=""; sleep 1
done
python3 - "$out" "$list" <<'PY' || { failed_ctr="$(ctrs todo-backend) $(ctrs mysql)"; fail "to-do: list not read back after restart (got: ${out:-nothing})"; }
import json, sys
lists = json.loads(sys.argv[1])["data"]["lists"]
hit = [l for l in lists if l and l["name"] == sys.argv[2]]
assert hit and [i["name"] for i in hit[0]["items"]] == ["smoke-item"], lists
print("  ok:", json.dumps(hit[0]))
PY
curl -fsS -o /dev/null http://127.0.0.1:30300/ || { failed_ctr=$(ctrs todo-frontend); fail "to-do: board page"; }
# The page's one origin: the frontend forwards /graphql to the back end.
GQL=http://127.0.0.1:30300/graphql
out=$(gql '{ lists { name } }') && echo "$out" | grep -q "$list" \
  || { failed_ctr="$(ctrs todo-frontend) $(ctrs todo-backend)"; fail "to-do: GraphQL through the frontend (got: ${out:-nothing})"; }
echo "  ok: the frontend's /graphql reaches the back end"

# --- 3d. voting app --------------------------------------------------------
say "voting: votes on vote (31000) reach result (31001) through redis, worker and db"
voting_ctrs() { echo "$(ctrs vote) $(ctrs worker) $(ctrs result) $(ctrs redis) $(ctrs db)"; }
cast() { # voter choice
  curl -fsS -o /dev/null -b "voter_id=$1" --data "vote=$2" http://127.0.0.1:31000/
}
tally_is() { # a b: wait until result reports exactly these counts
  local got=""
  for _ in $(seq 1 30); do
    got=$(curl -fsS http://127.0.0.1:31001/api/results 2>/dev/null || true)
    if python3 -c 'import json,sys; t=json.loads(sys.argv[1]); sys.exit(0 if (t["a"],t["b"])==(int(sys.argv[2]),int(sys.argv[3])) else 1)' \
        "$got" "$1" "$2" 2>/dev/null; then echo "  ok: $got"; return 0; fi
    sleep 1
  done
  echo "  last tally: ${got:-nothing}"
  return 1
}
curl -fsS http://127.0.0.1:31000/ | grep -q 'Processed by container ID' || { failed_ctr=$(ctrs vote); fail "voting: vote page"; }
cast smoke-a a && cast smoke-b a && cast smoke-c b || { failed_ctr=$(voting_ctrs); fail "voting: POST a vote"; }
tally_is 2 1 || { failed_ctr=$(voting_ctrs); fail "voting: the votes did not reach result"; }
cast smoke-a b || { failed_ctr=$(voting_ctrs); fail "voting: re-vote"; }
tally_is 1 2 || { failed_ctr=$(voting_ctrs); fail "voting: a re-vote did not move the vote"; }
curl -fsS http://127.0.0.1:31001/ | grep -q 'id="percent-a"' || { failed_ctr=$(ctrs result); fail "voting: result page"; }

say "PASSED"
