#!/usr/bin/env bash
# Benchmark the voting app on 127.0.0.1, against the Redis and PostgreSQL
# every development machine runs (a unique list and a fresh database, both
# removed at the end). Three figures:
#
#   1. votes/s accepted by vote: wrk POSTs `vote=a|b` with a fresh voter
#      cookie per request, for DURATION, with no worker running (so the
#      votes pile up in Redis, as in a burst);
#   2. the worker's throughput: the worker is started on that backlog and
#      timed until the list and its processing list are empty (votes/s);
#   3. vote-to-result latency: SAMPLES single votes, each timed from the
#      POST to the moment result's /api/results counts it (the worker idle
#      and waiting, result on its default 1 s tick, and again on a 100 ms tick).
#
# Usage: scripts/bench-voting.sh
# Settings (environment):
#   DURATION=10s CONNECTIONS=16 THREADS=2   wrk's load (bounded by DURATION)
#   SAMPLES=20                              latency samples per tick setting
#   REDIS_URL=redis://127.0.0.1:6379/0  PG_URL=postgres://postgres@127.0.0.1:5432
# Needs: cargo, wrk, redis-cli, psql, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
SAMPLES=${SAMPLES:-20}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
VOTE_PORT=${VOTE_PORT:-18510} WORKER_PORT=${WORKER_PORT:-18511} RESULT_PORT=${RESULT_PORT:-18512}

for tool in cargo wrk redis-cli psql python3; do
  command -v "$tool" >/dev/null || { echo "bench-voting: $tool is required" >&2; exit 1; }
done

suffix="$$_$(date +%s)"
list="bench_votes_$suffix"
db="bench_voting_$suffix"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  redis-cli DEL "$list" "$list:processing" >/dev/null 2>&1 || true
  psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building vote, worker, result (release)"
cargo build --release --locked --quiet -p vote -p worker -p result
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/release"

psql -q "$PG_URL/postgres" -c "CREATE DATABASE $db" >/dev/null
common=(BIND_ADDR=127.0.0.1 LOG_FORMAT=json RUST_LOG=warn REDIS_HOST=127.0.0.1 VOTES_LIST="$list")
start() { # name port env...
  local name=$1 port=$2; shift 2
  env "${common[@]}" PORT="$port" "$@" "$bin/$name" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 1 50); do
    env PORT="$port" BIND_ADDR=127.0.0.1 "$bin/$name" healthcheck 2>/dev/null && return 0
    sleep 0.2
  done
  echo "bench-voting: $name did not become ready; its log:" >&2; cat "$work/$name.log" >&2; exit 1
}
llen() { redis-cli LLEN "$1"; }

# --- 1. vote ------------------------------------------------------------
start vote "$VOTE_PORT"
echo
echo "== 1. vote: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, POST / vote=a|b, a new voter each"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/lib/wrk/vote.lua \
  "http://127.0.0.1:$VOTE_PORT/" | tee "$work/wrk.txt"
queued=$(llen "$list")
non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$work/wrk.txt")
echo "   votes queued in Redis: $queued; non-2xx answers: ${non2xx:-0}"

# --- 2. worker -----------------------------------------------------------
echo
echo "== 2. worker: draining $queued votes into PostgreSQL (BATCH_SIZE default)"
t0=$(date +%s.%N)
start worker "$WORKER_PORT" DATABASE_URL="$PG_URL/$db"
while [ "$(llen "$list")" != 0 ] || [ "$(llen "$list:processing")" != 0 ]; do sleep 0.05; done
t1=$(date +%s.%N)
rows=$(psql -tA "$PG_URL/$db" -c "SELECT count(*) FROM votes")
python3 - "$queued" "$t0" "$t1" "$rows" <<'PY'
import sys
queued, t0, t1, rows = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
secs = t1 - t0
print(f"   {queued} votes in {secs:.2f} s (including the worker's start): {queued / secs:,.0f} votes/s; rows: {rows}")
PY
[ "$rows" = "$queued" ] || { echo "bench-voting: expected $queued rows, found $rows" >&2; exit 1; }

# --- 3. latency ----------------------------------------------------------
latency() { # label
  python3 - "$VOTE_PORT" "$RESULT_PORT" "$SAMPLES" "$1" <<'PY'
import json, random, sys, time, urllib.request, uuid
vote_port, result_port, samples, label = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def total():
    with urllib.request.urlopen(f"http://127.0.0.1:{result_port}/api/results") as r:
        return json.load(r)["total"]
times = []
for i in range(samples):
    before = total()
    req = urllib.request.Request(f"http://127.0.0.1:{vote_port}/", data=b"vote=a",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"voter_id=lat{uuid.uuid4().hex[:12]}"})
    t0 = time.monotonic()
    urllib.request.urlopen(req).read()
    deadline = t0 + 10
    while total() == before:
        if time.monotonic() > deadline:
            sys.exit(f"bench-voting: a vote did not reach result within 10 s")
        time.sleep(0.005)
    times.append((time.monotonic() - t0) * 1000)
    # The last sample was seen just after a tick: wait a random part of a
    # second so the next vote lands anywhere in the (default 1 s) tick.
    time.sleep(random.uniform(0, 1))
times.sort()
p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"   {label}: {samples} votes, median {p(0.5):.0f} ms, p90 {p(0.9):.0f} ms, max {times[-1]:.0f} ms")
PY
}
echo
echo "== 3. vote-to-result latency (POST on vote until result's /api/results counts it)"
start result "$RESULT_PORT" DATABASE_URL="$PG_URL/$db"
latency "REFRESH_INTERVAL=1s (default)"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
start result "$RESULT_PORT" DATABASE_URL="$PG_URL/$db" REFRESH_INTERVAL=100ms
latency "REFRESH_INTERVAL=100ms"
