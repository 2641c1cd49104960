#!/usr/bin/env bash
# Benchmark todo-backend's homepage query, the request the to-do frontend
# repeats after every change:
#   query homePageQuery{ lists { id name position items{ id name position listId } } }
#
# It builds the backend (release), starts it on 127.0.0.1 against a fresh
# MariaDB/MySQL database (or an SQLite file with BENCH_DB=sqlite), loads a
# board of 10 lists x 50 items, drives the query with wrk for a bounded
# time, and prints requests/s, p99 latency, SQL queries per request, and
# the CPU time per request of the backend, the MariaDB server (when it runs
# on this machine) and wrk: on a machine with few cores these three share
# them, and req/s depends on all three.
# Queries are counted by the backend itself (todo_sql_queries_total on
# /metrics), so the figure is exact and unaffected by other database users.
#
# With CALLGRIND=N it measures instructions instead of time: the backend
# runs under valgrind's callgrind, the board is loaded, the counters are
# zeroed, N homepage requests are sent one after another on one
# connection, and it prints the backend's instructions per request and the
# functions with the most inclusive instructions. Unlike req/s, these
# figures repeat on a loaded machine. (Only the backend's own process is
# counted: the MariaDB server's work is not; SQLite's is, as it runs inside
# the backend.)
#
# Usage: scripts/bench-todo.sh
# Settings (environment):
#   DURATION=10s CONNECTIONS=16 THREADS=2   wrk's load (bounded by DURATION)
#   CALLGRIND=N                             count instructions over N requests instead
#   CALLGRIND_OUT=file                      keep callgrind's profile there (for callgrind_annotate)
#   BIN=path                                a todo-backend binary built elsewhere (for
#                                           example from the commit before a change), to
#                                           compare two builds in one run; default:
#                                           build this checkout (release)
#   PORT=18480                              where the backend listens (127.0.0.1)
#   BENCH_DB=mysql|sqlite                   store under test (default mysql)
#   MYSQL_HOST=127.0.0.1 MYSQL_PORT=3306 MYSQL_USER=root MYSQL_PWD=  (mysql only)
# Needs: cargo, curl, wrk, and for mysql the `mysql` client; valgrind for CALLGRIND.
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/lib/todo-board.sh
# shellcheck source=scripts/lib/cpu.sh
. scripts/lib/cpu.sh

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
PORT=${PORT:-18480}
BENCH_DB=${BENCH_DB:-mysql}
CALLGRIND=${CALLGRIND:-}
BIN=${BIN:-}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
export MYSQL_PWD=${MYSQL_PWD:-}
LISTS=10
ITEMS=50

for tool in cargo curl wrk; do
    command -v "$tool" >/dev/null || { echo "bench-todo: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d)
backend_pid=""
db_name=""
cleanup() {
    if [[ -n "$backend_pid" ]]; then
        kill "$backend_pid" 2>/dev/null || true
        wait "$backend_pid" 2>/dev/null || true
    fi
    if [[ -n "$db_name" ]]; then
        mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -e "DROP DATABASE IF EXISTS \`$db_name\`" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -n "$BIN" ]]; then
    bin=$BIN
else
    echo "== building todo-backend (release)"
    cargo build --release --quiet -p todo-backend
    target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    bin="$target_dir/release/todo-backend"
fi
launcher=()
acquire_timeout=3s
if [[ -n "$CALLGRIND" ]]; then
    # Everything runs tens of times slower under valgrind: give the loading
    # requests time to get a database connection.
    acquire_timeout=60s
    command -v valgrind >/dev/null || { echo "bench-todo: valgrind is required for CALLGRIND" >&2; exit 1; }
    launcher=(valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out")
fi

case "$BENCH_DB" in
    mysql)
        command -v mysql >/dev/null || { echo "bench-todo: the mysql client is required (or BENCH_DB=sqlite)" >&2; exit 1; }
        db_name="todo_bench_$$_$RANDOM"
        mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -e "CREATE DATABASE \`$db_name\`"
        if [[ -n "$MYSQL_PWD" ]]; then auth="$MYSQL_USER:$MYSQL_PWD"; else auth="$MYSQL_USER"; fi
        database_url="mysql://$auth@$MYSQL_HOST:$MYSQL_PORT/$db_name"
        ;;
    sqlite)
        database_url="sqlite://$work/todo.db?mode=rwc"
        ;;
    *)
        echo "bench-todo: BENCH_DB must be mysql or sqlite" >&2
        exit 1
        ;;
esac

base="http://127.0.0.1:$PORT"
echo "== starting todo-backend on $base ($BENCH_DB)"
DATABASE_URL="$database_url" DB_ACQUIRE_TIMEOUT=$acquire_timeout BIND_ADDR=127.0.0.1 PORT="$PORT" LOG_FORMAT=text RUST_LOG=warn \
    "${launcher[@]}" "$bin" >"$work/backend.log" 2>&1 &
backend_pid=$!
# Under valgrind the start takes many times longer.
for _ in $(seq 1 600); do
    curl -fs "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$backend_pid" 2>/dev/null || { cat "$work/backend.log" >&2; exit 1; }
    sleep 0.2
done
curl -fs "$base/readyz" >/dev/null || { echo "bench-todo: backend not ready" >&2; cat "$work/backend.log" >&2; exit 1; }

gql() { curl -fsS "$base/graphql" -H 'Content-Type: application/json' --data-binary @-; }
queries_total() { curl -fsS "$base/metrics" | awk '/^todo_sql_queries_total/ {print $2}'; }
home='{"query":"query homePageQuery{ lists { id name position items{ id name position listId } } }"}'

# SQL statements one homepage request costs, measured around one request.
cost_of_one() {
    local before after
    before=$(queries_total)
    echo "$home" | gql >/dev/null
    after=$(queries_total)
    echo $((after - before))
}

load_list() { todo_add_list "$base" "$1" "$ITEMS"; }

echo "== loading $LISTS lists x $ITEMS items"
load_list 1
cost_1=$(cost_of_one)
for n in $(seq 2 "$LISTS"); do load_list "$n"; done
cost_10=$(cost_of_one)
items=$(echo "$home" | gql | grep -o '"listId"' | wc -l)
if [[ "$items" -ne $((LISTS * ITEMS)) ]]; then
    echo "bench-todo: the board holds $items items, not $((LISTS * ITEMS)): loading failed" >&2
    cat "$work/backend.log" >&2
    exit 1
fi
echo "   board holds $items items; one homepage request: $cost_1 SQL queries with 1 list, $cost_10 with $LISTS lists"

if [[ -n "$CALLGRIND" ]]; then
    echo "== callgrind: $CALLGRIND homepage requests on one connection"
    callgrind_control --zero "$backend_pid" >/dev/null
    urls=()
    for _ in $(seq 1 "$CALLGRIND"); do urls+=("$base/graphql"); done
    curl -sS -H 'Content-Type: application/json' --data-binary "$home" \
        -w '\nHTTP %{http_code}\n' "${urls[@]}" >"$work/responses.txt"
    ok=$(grep -c '^HTTP 200$' "$work/responses.txt" || true)
    callgrind_control --dump=homepage "$backend_pid" >/dev/null
    # The dump is written asynchronously, at the backend's next event.
    for _ in $(seq 1 100); do
        dump=$(ls "$work"/callgrind.out.* 2>/dev/null | head -1)
        [[ -n "$dump" ]] && break
        curl -fs "$base/healthz" >/dev/null || true
        sleep 0.2
    done
    [[ -n "$dump" ]] || { echo "bench-todo: no callgrind dump" >&2; exit 1; }
    sleep 1
    if [[ -n "${CALLGRIND_OUT:-}" ]]; then cp "$dump" "$CALLGRIND_OUT"; fi
    total=$(awk '/^summary:/ {print $2}' "$dump")
    echo
    echo "== result ($BENCH_DB, $LISTS lists x $ITEMS items, callgrind)"
    echo "requests:              $CALLGRIND ($ok answered 200)"
    echo "instructions:          $total"
    echo "instructions/request:  $((total / CALLGRIND))"
    echo
    echo "== functions by inclusive instructions (percent of the total)"
    callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null \
        | awk '/^-+$/ {n++} n >= 3' | grep -v '^-' | sed -n '1,60p' | cut -c1-200
    exit 0
fi

# CPU ticks used so far, user and system together.
total_ticks() { cpu_ticks "$@" | awk '{print $1 + $2}'; }
db_pid=""
if [[ "$BENCH_DB" == mysql && "$MYSQL_HOST" =~ ^(127\.0\.0\.1|localhost)$ ]]; then
    db_pid=$(pgrep -x mariadbd || pgrep -x mysqld || true)
fi
db_questions() { mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -N -e "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}'; }

echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION (homepage query)"
backend_cpu_0=$(total_ticks "$backend_pid")
if [[ -n "$db_pid" ]]; then db_cpu_0=$(total_ticks "$db_pid"); db_questions_0=$(db_questions); fi
before=$(queries_total)
with_cpu_ticks "$work/wrk.cpu" timeout 300 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/lib/wrk/todo-home.lua "$base/graphql" | tee "$work/wrk.txt"
after=$(queries_total)
backend_cpu=$(($(total_ticks "$backend_pid") - backend_cpu_0))
if [[ -n "$db_pid" ]]; then db_cpu=$(($(total_ticks "$db_pid") - db_cpu_0)); db_statements=$(($(db_questions) - db_questions_0)); fi

requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")
per_request=$(awk -v q=$((after - before)) -v r="$requests" 'BEGIN { if (r > 0) printf "%.2f", q / r; else print "n/a" }')

echo
echo "== result ($BENCH_DB, $LISTS lists x $ITEMS items, $DURATION, $CONNECTIONS connections)"
echo "requests/s:            $rps"
echo "p99 latency:           $p99"
echo "requests:              $requests (non-2xx: ${non2xx:-0})"
echo "SQL queries/request:   $per_request over the run (health checks included); exactly $cost_10 for one request"
echo "                       ($cost_1 with 1 list, $cost_10 with $LISTS lists: does not grow with the number of lists)"
# CPU milliseconds per completed request: ticks over requests.
ticks=$(getconf CLK_TCK)
per_request_ms() { awk -v s="$1" -v r="$requests" 'BEGIN { if (r > 0) printf "%.3f", s * 1000 / r; else print "n/a" }'; }
backend_ms=$(per_request_ms "$(awk -v t="$backend_cpu" -v hz="$ticks" 'BEGIN { print t / hz }')")
wrk_ms=$(per_request_ms "$(awk -v hz="$ticks" '{ print ($1 + $2) / hz }' "$work/wrk.cpu")")
if [[ -n "$db_pid" ]]; then
    db_ms=$(per_request_ms "$(awk -v t="$db_cpu" -v hz="$ticks" 'BEGIN { print t / hz }')")
    # The server is shared: if it answered many more statements than the
    # backend sent, someone else was using it and its CPU is not all ours.
    db_line="MariaDB server $db_ms ms (it answered $db_statements statements, the backend sent $((after - before)))"
else
    db_line="database server: n/a (SQLite runs inside the backend)"
fi
echo "CPU per request:       backend $backend_ms ms, wrk $wrk_ms ms"
echo "                       $db_line"
