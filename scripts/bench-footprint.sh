#!/usr/bin/env bash
# What every service costs a cluster operator: for each service binary of the
# workspace (one per Containerfiles/<name>.Containerfile), on 127.0.0.1:
#
#   ready     time from exec to the first 200 of its readiness probe (the path
#             comes from `<binary> describe`), polled every 10 ms;
#   idle      resident memory (VmRSS) SETTLE seconds after it became ready;
#   peak      peak resident memory (VmHWM: the high-water mark of the whole
#             life, start-up included) after a bounded load typical for it;
#   cpu       CPU time it used during that load, divided by the load's wall
#             time (1000m = one core busy the whole time);
#   image     the size of $REGISTRY/<name>:<tag> when that image is present
#             (scripts/lib/images.sh names it), "not built" otherwise.
#
# The load for each (wrk runs use the bench scripts' request shapes, from
# scripts/lib/wrk/):
#   relay, sink       wrk POST /relay.php, /sink.php (the chain's 62-byte message)
#   sender            restarted with SEND_INTERVAL=0s: it sends back to back to a sink
#   generator         restarted with INTERVAL=1ms, while wrk GETs its /data
#   echo, appcoup     wrk GET /data (a 4 KB file of numbers, as the generator writes)
#   portal-controller wrk GET /portal.js
#   portal-model      wrk GET /api/tools (20 tools) on a MongoDB wire server
#   todo-backend      wrk POST /graphql, the homepage query on a 10 x 50 board in MariaDB
#   todo-frontend     the same query through the frontend's /graphql proxy
#   vote              wrk POST / vote=a|b, a new voter per request (Redis)
#   worker            drains the votes a wrk run on vote queues meanwhile (Redis -> PostgreSQL)
#   result            wrk GET /api/results (PostgreSQL)
# Services run one at a time with their defaults (RUST_LOG=info, JSON logs
# to a file), each with its own fresh database, list or directory; what a
# service depends on (a sink behind the relay, the backend behind the
# frontend, ...) runs beside it and is not measured. appcoup's figures are
# the sum over the supervisor and its two children (peak: the sum of their
# peaks, an upper bound).
#
# Usage: scripts/bench-footprint.sh [SERVICE...]   (default: every service)
# Settings (environment):
#   DURATION=10s CONNECTIONS=16 THREADS=2   each load run (bounded by DURATION)
#   SETTLE=1                                seconds between ready and the idle reading
#   READY_TIMEOUT=30                        seconds a service may take to become ready
#   REGISTRY=localhost TAG=...  ENGINE=podman|docker   which images to size
#   MYSQL_HOST=127.0.0.1 MYSQL_PORT=3306 MYSQL_USER=root MYSQL_PWD=
#   PG_URL=postgres://postgres@127.0.0.1:5432   REDIS_HOST=127.0.0.1
# Needs: cargo, curl, wrk, python3 (and venv, for the MongoDB wire server it
# installs into .venv-mongo like scripts/test.sh), mysql, psql, redis-cli.
# Exits 1 if a service does not become ready (its log is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/images.sh
. scripts/lib/todo-board.sh

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
SETTLE=${SETTLE:-1}
READY_TIMEOUT=${READY_TIMEOUT:-30}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
export MYSQL_PWD=${MYSQL_PWD:-}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REGISTRY=${REGISTRY:-localhost}
REGISTRY=${REGISTRY%/}

for tool in cargo curl wrk python3 mysql psql redis-cli; do
  command -v "$tool" >/dev/null || { echo "bench-footprint: $tool is required" >&2; exit 1; }
done
duration_s=$(python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)(s|m)?", sys.argv[1]) or sys.exit("DURATION: say 10s or 1m"); print(int(m[1]) * (60 if m[2] == "m" else 1))' "$DURATION")

mapfile -t all_services < <(image_names)
if [ $# -gt 0 ]; then services=("$@"); else services=("${all_services[@]}"); fi
for s in "${services[@]}"; do
  [ -e "Containerfiles/$s.Containerfile" ] || { echo "bench-footprint: no service $s (Containerfiles/$s.Containerfile)" >&2; exit 2; }
done

if [ ! -x .venv-mongo/bin/nx-27017 ] && [[ " ${services[*]} " == *" portal-model "* ]]; then
  echo "==> installing the MongoDB wire-protocol server into .venv-mongo"
  python3 -m venv .venv-mongo
  .venv-mongo/bin/pip install --quiet nx-27017
fi

echo "==> building release binaries"
cargo build --release --locked --quiet --workspace --bins
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release"

# --- processes, databases, clean-up -------------------------------------------
work=$(mktemp -d)
suffix="$$_$(date +%s)"
all_pids=()      # every process started, for the trap
svc_pids=()      # the current service's processes (the service and its helpers)
mysql_dbs=() pg_dbs=() redis_keys=()

stop_pids() { # PID...: SIGTERM (each drains), then SIGKILL what is left after 15 s
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local p
  for _ in $(seq 1 150); do
    local alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
cleanup() {
  trap - EXIT INT TERM
  stop_pids "${all_pids[@]}"
  local d
  for d in "${mysql_dbs[@]}"; do
    mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -e "DROP DATABASE IF EXISTS \`$d\`" >/dev/null 2>&1 || true
  done
  for d in "${pg_dbs[@]}"; do
    psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  [ "${#redis_keys[@]}" -eq 0 ] || redis-cli -h "$REDIS_HOST" DEL "${redis_keys[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
die_with_log() { # LOGFILE MESSAGE
  echo "!! $2; its log:" >&2
  tail -n 30 "$1" >&2 || true
  exit 1
}

# spawn NAME LOGNAME VAR=VALUE...: start a binary of the workspace in the
# background on 127.0.0.1; its pid is in $spawned.
spawn() {
  local name=$1 log=$2
  shift 2
  env BIND_ADDR=127.0.0.1 "$@" "$bin/$name" >"$work/$log.out" 2>"$work/$log.log" &
  spawned=$!
  all_pids+=("$spawned")
  svc_pids+=("$spawned")
}
# await_ready PID PORT PATH LOGNAME: poll http://127.0.0.1:PORT/PATH until it
# answers 200; fail if the process dies or READY_TIMEOUT passes.
await_ready() {
  local pid=$1 url="http://127.0.0.1:$2$3" log=$4 deadline
  deadline=$(($(now_ms) + READY_TIMEOUT * 1000))
  until curl -fso /dev/null --max-time 1 "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die_with_log "$work/$log.log" "$log exited before it was ready"
    [ "$(now_ms)" -lt "$deadline" ] || die_with_log "$work/$log.log" "$log not ready within ${READY_TIMEOUT}s ($url)"
    sleep 0.01
  done
}
readiness_path() { # NAME VAR=VALUE...: the readiness path the binary itself names
  # (with the settings it runs with: clap wants the required ones here too)
  env "${@:2}" "$bin/$1" describe | python3 -c 'import json,sys; print(json.load(sys.stdin)["probes"]["readiness"])'
}
# helper NAME VAR=VALUE...: a dependency of the service under test, started
# and awaited (not measured); its port is in $helper_port.
helper() {
  local name=$1
  shift
  helper_port=$(free_port)
  spawn "$name" "helper-$name" PORT="$helper_port" "$@"
  await_ready "$spawned" "$helper_port" "$(readiness_path "$name" "$@")" "helper-$name"
}

# The service under test: `subject NAME VAR=VALUE...` starts it on $port and
# times it to ready; `relaunch VAR=VALUE...` stops it and starts it again with
# the same settings plus these (for the services that make their own load),
# so that the peak and the CPU are those of the loaded instance.
subject() {
  subject_name=$1
  shift
  subject_env=("$@")
  port=$(free_port)
  local path t0
  path=$(readiness_path "$subject_name" "${subject_env[@]}")
  t0=$(now_ms)
  spawn "$subject_name" "$subject_name" PORT="$port" "${subject_env[@]}"
  pid=$spawned
  await_ready "$pid" "$port" "$path" "$subject_name"
  ready_ms=$(($(now_ms) - t0))
  sleep "$SETTLE"
  idle_kib=$(tree_sum "$pid" rss)
  cpu0=$(tree_sum "$pid" cpu)
  t_load0=$(now_ms)
}
relaunch() {
  stop_pids "$pid"
  spawn "$subject_name" "$subject_name-loaded" PORT="$port" "${subject_env[@]}" "$@"
  pid=$spawned
  await_ready "$pid" "$port" "$(readiness_path "$subject_name" "${subject_env[@]}" "$@")" "$subject_name-loaded"
  cpu0=$(tree_sum "$pid" cpu)
  t_load0=$(now_ms)
}

# tree_sum PID rss|hwm|cpu: VmRSS or VmHWM (KiB), or utime+stime (clock
# ticks), summed over PID and its children (appcoup supervises two).
clk_tck=$(getconf CLK_TCK)
tree_sum() {
  local pids=("$1") p total=0
  mapfile -t -O 1 pids < <(ps -o pid= --ppid "$1" | tr -d ' ')
  for p in "${pids[@]}"; do
    [ -r "/proc/$p/status" ] || continue
    case $2 in
      rss) total=$((total + $(awk '$1 == "VmRSS:" {print $2}' "/proc/$p/status"))) ;;
      hwm) total=$((total + $(awk '$1 == "VmHWM:" {print $2}' "/proc/$p/status"))) ;;
      cpu) total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}'))) ;;
    esac
  done
  echo "$total"
}

# wrk_load URL [SCRIPT]: one bounded wrk run against the service; its
# summary goes to $load_result.
wrk_load() {
  local url=$1 script=${2:-} args=()
  [ -n "$script" ] && args=(-s "$script")
  timeout $((duration_s + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "${args[@]}" "$url" >"$work/wrk.txt"
  local rps non2xx
  rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")
  load_result="$rps req/s"
  [ -z "$non2xx" ] || load_result="$load_result, $non2xx non-2xx"
}
metric() { # PORT NAME: the value of the first sample of metric NAME
  curl -fsS "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($0, m) == 1 {print $NF; exit}'
}

# --- one function per service: start what it needs, `subject`, then load --------
bench_sink() {
  mkdir -p "$work/sink-logs"
  subject sink LOG_DIR="$work/sink-logs"
  load_desc="wrk POST /sink.php"
  wrk_load "http://127.0.0.1:$port/sink.php" scripts/lib/wrk/chain-post.lua
}
bench_relay() {
  mkdir -p "$work/relay-sink-logs" "$work/relay-logs"
  helper sink LOG_DIR="$work/relay-sink-logs"
  subject relay LOG_DIR="$work/relay-logs" SINK_URL="127.0.0.1:$helper_port/sink.php"
  load_desc="wrk POST /relay.php (-> a sink)"
  wrk_load "http://127.0.0.1:$port/relay.php" scripts/lib/wrk/chain-post.lua
}
bench_sender() {
  mkdir -p "$work/sender-sink-logs"
  helper sink LOG_DIR="$work/sender-sink-logs"
  local sink_port=$helper_port before after
  subject sender RELAY_URL="127.0.0.1:$sink_port/sink.php"
  before=$(metric "$sink_port" sink_messages_logged_total)
  relaunch SEND_INTERVAL=0s
  sleep "$duration_s"
  after=$(metric "$sink_port" sink_messages_logged_total)
  load_desc="SEND_INTERVAL=0s to a sink, ${DURATION}"
  load_result="$(((after - before) / duration_s)) msg/s"
}
bench_generator() {
  subject generator DATA_DIR="$work/generator-out"
  relaunch INTERVAL=1ms
  load_desc="INTERVAL=1ms + wrk GET /data"
  wrk_load "http://127.0.0.1:$port/data"
}
# A 4 KB file of numbers, as the generator writes (one per line).
data_file() { mkdir -p "$1" && seq 1 1000 >"$1/data"; }
bench_echo() {
  data_file "$work/echo-in"
  subject echo SERVE_DIR="$work/echo-in"
  load_desc="wrk GET /data (4 KB)"
  wrk_load "http://127.0.0.1:$port/data"
}
bench_appcoup() {
  data_file "$work/appcoup-out"
  subject appcoup GENERATOR_PORT="$(free_port)" DATA_DIR="$work/appcoup-out"
  load_desc="wrk GET /data (3 processes)"
  wrk_load "http://127.0.0.1:$port/data"
}
bench_portal-controller() {
  subject portal-controller
  load_desc="wrk GET /portal.js"
  wrk_load "http://127.0.0.1:$port/portal.js"
}
bench_portal-model() {
  local mongo_port i
  mongo_port=$(free_port)
  .venv-mongo/bin/nx-27017 --db memory --host 127.0.0.1 -p "$mongo_port" \
    --log-file "$work/mongo.log" --pid-file "$work/mongo.pid" >"$work/mongo.out" 2>&1 &
  all_pids+=($!)
  svc_pids+=($!)
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mongo_port") 2>/dev/null && break; sleep 0.1; done
  helper portal-controller
  subject portal-model MONGO_URL="mongodb://127.0.0.1:$mongo_port" MONGO_DB="footprint_$suffix" \
    CONTROLLER_UPSTREAM="http://127.0.0.1:$helper_port"
  for i in $(seq 1 20); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/api/tools" -H 'Content-Type: application/json' \
      --data "{\"name\":\"tool $i\",\"url\":\"https://tool-$i.example.test/\",\"description\":\"footprint tool $i\",\"tags\":[\"bench\"]}"
  done
  load_desc="wrk GET /api/tools (20 tools, MongoDB wire server)"
  wrk_load "http://127.0.0.1:$port/api/tools"
}
# A fresh MariaDB database holding the 10 x 50 board of scripts/bench-todo.sh,
# behind a todo-backend; its URL in $todo_db_url.
todo_database() {
  local db="footprint_todo_${suffix}_${#mysql_dbs[@]}"
  mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -e "CREATE DATABASE \`$db\`"
  mysql_dbs+=("$db")
  local auth=$MYSQL_USER
  [ -z "$MYSQL_PWD" ] || auth="$MYSQL_USER:$MYSQL_PWD"
  todo_db_url="mysql://$auth@$MYSQL_HOST:$MYSQL_PORT/$db"
}
todo_board() { # BASE
  local n
  for n in $(seq 1 10); do todo_add_list "$1" "$n" 50; done
}
bench_todo-backend() {
  todo_database
  subject todo-backend DATABASE_URL="$todo_db_url"
  todo_board "http://127.0.0.1:$port"
  load_desc="wrk POST /graphql homepage query, 10x50 board, MariaDB"
  wrk_load "http://127.0.0.1:$port/graphql" scripts/lib/wrk/todo-home.lua
}
bench_todo-frontend() {
  todo_database
  helper todo-backend DATABASE_URL="$todo_db_url"
  todo_board "http://127.0.0.1:$helper_port"
  subject todo-frontend SERVER_URI="127.0.0.1:$helper_port"
  load_desc="the same through its /graphql proxy"
  wrk_load "http://127.0.0.1:$port/graphql" scripts/lib/wrk/todo-home.lua
}
voting_list() { # a fresh votes list, in $list
  list="footprint_votes_${suffix}_${#redis_keys[@]}"
  redis_keys+=("$list" "$list:processing")
}
voting_database() { # a fresh PostgreSQL database, its URL in $voting_db_url
  local db="footprint_voting_${suffix}_${#pg_dbs[@]}"
  psql -q "$PG_URL/postgres" -c "CREATE DATABASE $db" >/dev/null
  pg_dbs+=("$db")
  voting_db_url="$PG_URL/$db"
}
bench_vote() {
  voting_list
  subject vote REDIS_HOST="$REDIS_HOST" VOTES_LIST="$list"
  load_desc="wrk POST / vote=a/b, a new voter each"
  wrk_load "http://127.0.0.1:$port/" scripts/lib/wrk/vote.lua
}
bench_worker() {
  voting_list
  voting_database
  subject worker REDIS_HOST="$REDIS_HOST" VOTES_LIST="$list" DATABASE_URL="$voting_db_url"
  helper vote REDIS_HOST="$REDIS_HOST" VOTES_LIST="$list"
  wrk_load "http://127.0.0.1:$helper_port/" scripts/lib/wrk/vote.lua
  # Then until the worker has drained what is left (bounded).
  local deadline rows
  deadline=$(($(now_ms) + 120000))
  while [ "$(redis-cli -h "$REDIS_HOST" LLEN "$list")" != 0 ] || [ "$(redis-cli -h "$REDIS_HOST" LLEN "$list:processing")" != 0 ]; do
    [ "$(now_ms)" -lt "$deadline" ] || { echo "!! worker did not drain its list within 120 s" >&2; exit 1; }
    sleep 0.05
  done
  rows=$(psql -tA "$voting_db_url" -c "SELECT count(*) FROM votes")
  load_desc="drains the votes a wrk POST run on vote queues meanwhile"
  load_result="$rows votes in $(awk -v ms=$(($(now_ms) - t_load0)) 'BEGIN { printf "%.1f", ms / 1000 }') s"
}
bench_result() {
  voting_list
  voting_database
  # The worker creates the votes table before it is ready.
  helper worker REDIS_HOST="$REDIS_HOST" VOTES_LIST="$list" DATABASE_URL="$voting_db_url"
  psql -q "$voting_db_url" -c "INSERT INTO votes SELECT 'voter' || i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 1000) i" >/dev/null
  subject result DATABASE_URL="$voting_db_url"
  load_desc="wrk GET /api/results (1000 votes)"
  wrk_load "http://127.0.0.1:$port/api/results"
}

image_size() { # NAME: "22.5 MB" or "not built"
  local engine ref bytes
  engine=$(pick_engine 2>/dev/null) || { echo "not built"; return; }
  ref="$REGISTRY/$1:$(image_tag)"
  if bytes=$("$engine" image inspect --format '{{.Size}}' "$ref" 2>/dev/null); then
    awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1000000 }'
  else
    echo "not built"
  fi
}

# --- run ----------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rows=()
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for s in "${services[@]}"; do
  svc_pids=()
  echo "==> $s"
  "bench_$s"
  t_load1=$(now_ms)
  cpu1=$(tree_sum "$pid" cpu)
  peak_kib=$(tree_sum "$pid" hwm)
  cpu_m=$(((cpu1 - cpu0) * 1000 * 1000 / clk_tck / (t_load1 - t_load0)))
  rows+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$s" "$ready_ms" "$(mib "$idle_kib")" "$(mib "$peak_kib")" \
    "${cpu_m}m" "$load_desc" "$load_result" "$(image_size "$s")")")
  echo "    ready ${ready_ms} ms, idle $(mib "$idle_kib") MiB, peak $(mib "$peak_kib") MiB, ${cpu_m}m CPU under load ($load_result)"
  stop_pids "${svc_pids[@]}"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== footprint ($started; $(nproc) cores; load average $load_before before, $load_after after;"
echo "   each load: $DURATION, wrk -t$THREADS -c$CONNECTIONS; images $REGISTRY/<name>:$(image_tag))"
echo
echo "| service | exec to ready | idle RSS | peak RSS under load | CPU under load | load | throughput | image |"
echo "|---|---:|---:|---:|---:|---|---:|---:|"
for r in "${rows[@]}"; do
  IFS=$'\t' read -r name ready idle peak cpu desc result size <<<"$r"
  echo "| $name | $ready ms | $idle MiB | $peak MiB | $cpu | $desc | $result | $size |"
done

# The Kubernetes resources these figures give, by the rule k8s/README.md
# ("Resource sizing") states: memory request = idle x 1.5 rounded up to
# 8 Mi; memory limit = peak x 3 rounded up to 16 Mi; CPU limit = CPU under
# load rounded up to 100m, at least 250m; CPU request = a tenth of the CPU
# under load rounded up to 5m.
echo
echo "| service | memory request / limit | CPU request / limit |"
echo "|---|---|---|"
for r in "${rows[@]}"; do
  IFS=$'\t' read -r name _ idle peak cpu _ <<<"$r"
  awk -v n="$name" -v idle="$idle" -v peak="$peak" -v cpu="${cpu%m}" '
    function up(x, step) { return step * int((x + step - 0.001) / step) }
    BEGIN {
      climit = up(cpu, 100); if (climit < 250) climit = 250
      creq = up(cpu / 10, 5); if (creq < 5) creq = 5
      printf "| %s | %dMi / %dMi | %dm / %dm |\n", n, up(idle * 1.5, 8), up(peak * 3, 16), creq, climit
    }'
done
