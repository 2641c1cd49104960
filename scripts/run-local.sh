#!/usr/bin/env bash
# Run the workloads on this machine, no cluster and no database needed:
# - the message chain as the seed deploys it (3 senders, 2 relays, 3 sinks);
# - the tool portal (model + controller) with its in-memory store instead of
#   MongoDB, on the NodePort numbers the cluster uses (30000, 30100);
# - the to-do app (backend + frontend) with an embedded SQLite file instead
#   of MySQL, kept in .run/data/ between runs;
# - the application coupling's generator + echo, as one image (the appcoup
#   supervisor, on the article's port 8000) and loosely coupled over HTTP.
# - the voting app (vote, worker, result) on the Redis and PostgreSQL every
#   development machine runs on 127.0.0.1 (database `voting`, created if
#   missing; psql must be installed), at the NodePorts 31000 and 31001.
#
#   scripts/run-local.sh            # debug build, starts everything; Ctrl-C or
#                                   # `kill <pid>` of this script stops it all
#   PROFILE=release scripts/run-local.sh
#   SEND_INTERVAL=1s scripts/run-local.sh
#
# Each instance gets its own port and its own directory under .run/local/ (its log
# file, its stdout and its structured logs). On Linux each instance also gets
# its own loopback address (127.0.0.11, 127.0.0.21, ...), so the relays and
# sinks see distinct caller addresses, as they see pod IPs in a cluster; on
# other systems everything shares 127.0.0.1.
#
# There is no kube-proxy here, so the "Services" are the lists of replica
# URLs given in RELAY_URL and SINK_URL, used in turn.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-debug}
run_dir=${RUN_DIR:-.run/local}
data_dir=${DATA_DIR:-.run/data}
interval=${SEND_INTERVAL:-5s}

cargo_flags=()
[ "$profile" = release ] && cargo_flags+=(--release)
echo "==> building ($profile)"
cargo build "${cargo_flags[@]}" --bins --workspace
bin=${CARGO_TARGET_DIR:-target}/$profile

if [ "$(uname -s)" = Linux ]; then addr() { echo "127.0.0.$1"; }; else addr() { echo 127.0.0.1; }; fi

rm -rf "$run_dir"
mkdir -p "$run_dir"
pids=()
# Stopping: SIGTERM to every instance (each drains its in-flight requests
# within its SHUTDOWN_GRACE), then up to 30 s for all of them to exit before
# SIGKILL, so the script itself always ends. The traps run as soon as a
# signal arrives only because the script never waits on a foreground child
# for long: the transcript `tail` at the end runs in the background and the
# script sits in `wait`, which a trapped signal interrupts (bash delays a
# trap until a foreground command returns, and `tail -F` never returns).
stop_all() {
  trap - INT TERM EXIT
  [ "${#pids[@]}" -gt 0 ] || return 0
  echo
  echo "==> stopping (SIGTERM, each drains its in-flight requests)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local alive
  for _ in $(seq 1 150); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ "${#alive[@]}" -eq 0 ] && break
    sleep 0.2
  done
  if [ "${#alive[@]}" -gt 0 ]; then
    echo "!! still running after 30 s, killing: ${alive[*]}" >&2
    kill -KILL "${alive[@]}" 2>/dev/null || true
  fi
  wait "${pids[@]}" 2>/dev/null || true
  echo "==> stopped; files are still in $run_dir/"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# start NAME BINARY VAR=VALUE...: run one instance in the background.
start() {
  local name=$1 binary=$2
  shift 2
  mkdir -p "$run_dir/$name"
  env LOG_FORMAT=text "$@" "$bin/$binary" >"$run_dir/$name/stdout.txt" 2>"$run_dir/$name/service.log" &
  pids+=($!)
}

# wait_ready BINARY VAR=VALUE...: poll the instance's /readyz via its own
# healthcheck subcommand, for up to 10 seconds.
wait_ready() {
  local binary=$1
  shift
  for _ in $(seq 1 50); do
    if env "$@" "$bin/$binary" healthcheck 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "!! $binary ($*) did not become ready; see $run_dir/*/service.log" >&2
  return 1
}

sinks=() relays=()
for i in 1 2 3; do
  a=$(addr "3$i") port=$((8300 + i))
  start "sink-$i" sink PORT=$port BIND_ADDR="$a" LOG_DIR="$run_dir/sink-$i"
  sinks+=("$a:$port/sink.php")
done
for i in 1 2 3; do wait_ready sink PORT=$((8300 + i)) BIND_ADDR="$(addr "3$i")"; done

# Each relay starts its rotation at a different sink, as kube-proxy would
# spread them.
for i in 1 2; do
  a=$(addr "2$i") port=$((8200 + i))
  rotated=("${sinks[@]:i-1}" "${sinks[@]:0:i-1}")
  start "relay-$i" relay PORT=$port BIND_ADDR="$a" LOG_DIR="$run_dir/relay-$i" \
    SINK_URL="$(IFS=,; echo "${rotated[*]}")"
  relays+=("$a:$port/relay.php")
done
for i in 1 2; do wait_ready relay PORT=$((8200 + i)) BIND_ADDR="$(addr "2$i")"; done

for i in 1 2 3; do
  a=$(addr "1$i") port=$((8100 + i))
  if [ $((i % 2)) = 1 ]; then order="${relays[0]},${relays[1]}"; else order="${relays[1]},${relays[0]}"; fi
  start "sender-$i" sender PORT=$port BIND_ADDR="$a" RELAY_URL="$order" SEND_INTERVAL="$interval"
done

# The portal: the page loads the controller's script from /controller/ on
# the model, which fetches it from the controller (CONTROLLER_UPSTREAM), as
# in the cluster's pod. CONTROLLER_PORT is for CONTROLLER_MODE=direct.
start portal-model portal-model PORT=30000 BIND_ADDR=127.0.0.1 STORE=memory CONTROLLER_UPSTREAM=http://127.0.0.1:30100 CONTROLLER_PORT=30100
start portal-controller portal-controller PORT=30100 BIND_ADDR=127.0.0.1

# The to-do app: the frontend tells the browser where the backend is.
mkdir -p "$data_dir"
start todo-backend todo-backend PORT=30301 BIND_ADDR=127.0.0.1 SQLITE_FILE="$data_dir/todo.db"
start todo-frontend todo-frontend PORT=30300 BIND_ADDR=127.0.0.1 SERVER_URI=127.0.0.1:30301

# App coupling, one image: the supervisor runs generator and echo with one
# directory between them; echo on the article's port 8000.
start appcoup appcoup PORT=8000 GENERATOR_PORT=8090 BIND_ADDR=127.0.0.1 DATA_DIR="$run_dir/appcoup/out"
# App coupling, loose over a "Service": echo fetches the generator's /data.
start appcoup-generator generator PORT=8091 BIND_ADDR=127.0.0.1 DATA_DIR="$run_dir/appcoup-generator/out"
start appcoup-echo echo PORT=8001 BIND_ADDR=127.0.0.1 SERVE_DIR="$run_dir/appcoup-echo/in" \
  SOURCE_URL=http://127.0.0.1:8091/data
# The voting app: Redis and PostgreSQL on 127.0.0.1 stand in for the
# Services `redis` and `db`.
voting_db=${VOTING_DB_URL:-postgres://postgres@127.0.0.1:5432/voting}
if ! psql "$voting_db" -c 'select 1' >/dev/null 2>&1; then
  echo "==> creating database ${voting_db##*/}"
  psql "${voting_db%/*}/postgres" -c "CREATE DATABASE ${voting_db##*/}" >/dev/null
fi
start vote vote PORT=31000 BIND_ADDR=127.0.0.1 REDIS_HOST=127.0.0.1 HOSTNAME=vote-local
start worker worker PORT=8401 BIND_ADDR=127.0.0.1 REDIS_HOST=127.0.0.1 DATABASE_URL="$voting_db"
start result result PORT=31001 BIND_ADDR=127.0.0.1 DATABASE_URL="$voting_db"

wait_ready portal-model PORT=30000 BIND_ADDR=127.0.0.1
wait_ready portal-controller PORT=30100 BIND_ADDR=127.0.0.1
wait_ready todo-backend PORT=30301 BIND_ADDR=127.0.0.1
wait_ready todo-frontend PORT=30300 BIND_ADDR=127.0.0.1 SERVER_URI=127.0.0.1:30301
wait_ready appcoup PORT=8000 GENERATOR_PORT=8090
wait_ready echo PORT=8001 BIND_ADDR=127.0.0.1
wait_ready vote PORT=31000 BIND_ADDR=127.0.0.1
wait_ready worker PORT=8401 BIND_ADDR=127.0.0.1
wait_ready result PORT=31001 BIND_ADDR=127.0.0.1

cat <<INFO

==> the message chain is running: 3 senders -> 2 relays -> 3 sinks
    sink pages (latest messages, count per relay):
      http://$(addr 31):8301/   http://$(addr 32):8302/   http://$(addr 33):8303/
    log files:   $run_dir/relay-*/Relay_*.txt   $run_dir/sink-*/Sink_*.txt
    service logs: $run_dir/*/service.log    metrics: http://$(addr 21):8201/metrics

==> the tool portal:  http://127.0.0.1:30000/   (it passes on the controller's http://127.0.0.1:30100/portal.js)
==> the to-do board:  http://127.0.0.1:30300/   (GraphQL explorer: http://127.0.0.1:30301/graphql)
==> app coupling:     curl http://127.0.0.1:8000/data   (one image: appcoup runs generator + echo)
                      curl http://127.0.0.1:8001/data   (loose: echo mirrors http://127.0.0.1:8091/data)
==> the voting app:   vote http://127.0.0.1:31000/   result http://127.0.0.1:31001/
                      (worker metrics: http://127.0.0.1:8401/metrics)

    Ctrl-C (or kill $$) stops everything. The senders' transcripts follow:

INFO
tail -n +1 -F "$run_dir"/sender-*/stdout.txt &
pids+=($!)
wait
